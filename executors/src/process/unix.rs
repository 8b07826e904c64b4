//! Unix process groups and signals, and the parent-death signal that makes
//! an action die with the engine.

use std::{os::unix::process::ExitStatusExt, process::ExitStatus};

use nix::{
    errno::Errno,
    sys::signal::{Signal, killpg},
    unistd::Pid,
};
use tokio::process::Command;

/// Makes the child the leader of a new process group, so that signals can
/// reach it and everything it starts, and so that a Ctrl-C at the terminal
/// reaches plangate alone, which then stops its children in order.
pub(super) fn set_own_process_group(command: &mut Command) {
    command.process_group(0);
    die_with_engine(command);
}

/// Set (to any value) to spawn actions without the parent-death signal: an
/// internal hook for the tests that show what `resume` does with an action
/// that outlived a killed engine. Not for users.
pub(crate) const NO_PARENT_DEATH_SIGNAL: &str = "PLANGATE_INTERNAL_NO_PDEATHSIG";

/// Asks the kernel to SIGKILL the child when its parent dies
/// (`PR_SET_PDEATHSIG`), so that no action outlives a killed engine unnoticed.
///
/// # Caveats
///
/// The signal fires when the *thread* that spawned the child exits, not the
/// process. plangate spawns every action from the thread that drives its
/// current-thread runtime, the main thread, which lives as long as the
/// engine; spawning from a short-lived thread (`spawn_blocking`, a
/// multi-thread runtime's worker) would kill actions at random. Only the
/// direct child gets the signal: its own children die when the engine kills
/// the group, or are waited for by `resume`.
#[cfg(target_os = "linux")]
#[expect(
    unsafe_code,
    reason = "pre_exec is unsafe; PR_SET_PDEATHSIG can only be set in the child"
)]
fn die_with_engine(command: &mut Command) {
    // Read once per process, not on every spawn.
    static DISABLED: std::sync::LazyLock<bool> =
        std::sync::LazyLock::new(|| std::env::var_os(NO_PARENT_DEATH_SIGNAL).is_some());
    if *DISABLED {
        return;
    }
    let engine = nix::unistd::getpid();
    // SAFETY: the closure runs in the child between fork and exec, where only
    // async-signal-safe calls are allowed: prctl(2) and getppid(2) are, and
    // the closure allocates nothing and takes no lock (the error path builds
    // an `io::Error` from an errno, which does not allocate).
    unsafe {
        command.pre_exec(move || {
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(std::io::Error::from)?;
            // The engine may have died between fork and prctl: the signal
            // would then never come.
            if nix::unistd::getppid() != engine {
                return Err(std::io::Error::from(Errno::ESRCH));
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn die_with_engine(_command: &mut Command) {}

/// The start time of process `pid` in clock ticks since boot: field 22 of
/// `/proc/PID/stat`. `None` where there is no `/proc` or no such process.
pub(super) fn start_time(pid: u32) -> Option<u64> {
    process_stat(pid).map(|stat| stat.start_time)
}

/// Whether the group recorded as led by `leader`, started at `started`, is
/// still running: its leader lives with the same start time (a pid reused by
/// another process has another), or the leader is gone and live members
/// remain (a group id is not reused while the group has members). A leader
/// that lives but whose start time is unknown is not claimed. Zombies do not
/// count: an orphan's zombie lingers until the reaper of its new parent gets
/// to it.
pub(super) fn recorded_group_is_running(leader: u32, started: Option<u64>) -> bool {
    match process_stat(leader) {
        Some(stat) if stat.state != 'Z' => started == Some(stat.start_time),
        None if std::path::Path::new(&format!("/proc/{leader}")).exists() => false,
        // A zombie leader, or none: the members may live on.
        _ => has_live_members(leader),
    }
}

/// Whether a process that is not a zombie is in process group `group`.
pub(super) fn has_live_members(group: u32) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return ProcessGroup::of_leader(group).has_members();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(process_stat)
        .any(|stat| stat.process_group == group && stat.state != 'Z')
}

/// The fields of `/proc/PID/stat` that plangate reads.
struct ProcessStat {
    /// Field 3.
    state: char,
    /// Field 5.
    process_group: u32,
    /// Field 22, clock ticks since boot.
    start_time: u64,
}

fn process_stat(pid: u32) -> Option<ProcessStat> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Field 2 (the command name, in parentheses) may hold spaces and
    // parentheses itself: the fields after it follow the last `)`.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // `fields[0]` is field 3.
    Some(ProcessStat {
        state: fields.first()?.chars().next()?,
        process_group: fields.get(2)?.parse().ok()?,
        start_time: fields.get(19)?.parse().ok()?,
    })
}

/// The signal of the termination ladder to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum GroupSignal {
    /// SIGTERM: the polite request to stop.
    Terminate,
    /// SIGKILL: cannot be caught or ignored.
    Kill,
}

/// A process group, identified by its leader's pid.
#[derive(Clone, Copy, Debug)]
pub(super) struct ProcessGroup(Pid);

impl ProcessGroup {
    /// The group led by the child with this pid (spawned with
    /// [`set_own_process_group`]).
    pub(super) fn of_leader(pid: u32) -> Self {
        let pid = i32::try_from(pid).expect("pids fit in an i32 because pid_t is an i32");
        Self(Pid::from_raw(pid))
    }

    /// Sends `signal` to every process of the group. A group that has no
    /// process left is not an error.
    pub(super) fn signal(self, signal: GroupSignal) {
        let signal = match signal {
            GroupSignal::Terminate => Signal::SIGTERM,
            GroupSignal::Kill => Signal::SIGKILL,
        };
        match killpg(self.0, signal) {
            Ok(()) | Err(Errno::ESRCH) => {}
            Err(error) => {
                tracing::warn!(pgid = self.0.as_raw(), %signal, %error, "failed to signal process group");
            }
        }
    }

    /// Whether any process is left in the group (zombies included).
    pub(super) fn has_members(self) -> bool {
        !matches!(killpg(self.0, None), Err(Errno::ESRCH))
    }

    /// The group id, for logs.
    pub(super) fn id(self) -> i32 {
        self.0.as_raw()
    }
}

/// The signal that ended the process, if one did.
pub(super) fn exit_signal(status: ExitStatus) -> Option<i32> {
    status.signal()
}
