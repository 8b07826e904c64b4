//! Unix process groups and signals, and the guard process that makes an
//! action die with the engine.

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
///
/// Nothing runs in the child between fork and exec, so the standard library
/// spawns it through `posix_spawn` (vfork): no copy of the engine's page
/// tables per action. That an action dies with a killed engine is the
/// [`EngineGuard`]'s work, after the spawn.
pub(super) fn set_own_process_group(command: &mut Command) {
    command.process_group(0);
}

/// Set (to any value) to spawn actions without the engine guard, so that
/// they outlive a killed engine: an internal hook for the tests that show
/// what `resume` does with such an action. Not for users.
pub(crate) const NO_PARENT_DEATH_SIGNAL: &str = "PLANGATE_INTERNAL_NO_PDEATHSIG";

/// The guard's program (awk, which reads its input in blocks, where a
/// shell's `read` takes a system call per byte): it reads `+ PGID` when the
/// engine spawned an action leading group PGID and `- PGID` once the engine
/// has reaped that leader; at end of input (the engine has exited, however
/// it died: the write end of the pipe closes with its last holder, and the
/// engine's pipes are close-on-exec, so no action holds it) it sends
/// SIGKILL to every group still listed.
const GUARD_SCRIPT: &str = r#"$1 == "+" { groups[$2] = 1 }
$1 == "-" { delete groups[$2] }
END { for (group in groups) system("kill -KILL -" group " 2>/dev/null") }
"#;

/// The process that kills the engine's actions when the engine dies, and
/// the pipe the engine tells it about them through.
///
/// # Caveats
///
/// An engine killed in the instant between a spawn and the `+` line leaves
/// that action running, as it leaves any action whose group it had not
/// recorded (the group-waiting of `resume` covers those it recorded). A
/// group is removed once its leader is reaped, so a group id the system
/// reuses later is never killed; descendants that outlive their leader are
/// the engine's to kill ([`ProcessGroup::signal`] on timeout or leak), not
/// the guard's. The guard itself runs `awk` in its own process group, with
/// only `PATH=/usr/bin:/bin`, in `/`.
pub(super) struct EngineGuard;

/// Where the guard is.
enum GuardPipe {
    /// Not started: no action was spawned yet.
    NotStarted,
    /// Running, listening on this pipe.
    Running(std::process::ChildStdin),
    /// Off: disabled, or it could not be started, or it has gone.
    Off,
}

static GUARD: std::sync::Mutex<GuardPipe> = std::sync::Mutex::new(GuardPipe::NotStarted);

impl EngineGuard {
    /// Tells the guard that the engine leads group `pid`; the group is
    /// forgotten when the returned value is dropped, which must be after the
    /// leader was reaped.
    pub(super) fn watch(pid: u32) -> WatchedGroup {
        let watched = Self::send(&format!("+ {pid}\n"));
        WatchedGroup { pid, watched }
    }

    /// Writes `line` to the guard, starting it first when needed; whether
    /// the guard took it.
    fn send(line: &str) -> bool {
        use std::io::Write;
        let mut guard = GUARD
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if matches!(*guard, GuardPipe::NotStarted) {
            *guard = start_guard();
        }
        let GuardPipe::Running(stdin) = &mut *guard else {
            return false;
        };
        // One small write to a pipe its reader drains line by line: it
        // does not block, and it is atomic (shorter than `PIPE_BUF`).
        match stdin.write_all(line.as_bytes()) {
            Ok(()) => true,
            Err(error) => {
                tracing::warn!(%error, "the engine guard has gone: actions will outlive a killed engine");
                *guard = GuardPipe::Off;
                false
            }
        }
    }
}

/// Starts the guard, unless disabled.
fn start_guard() -> GuardPipe {
    use std::os::unix::process::CommandExt as _;
    if std::env::var_os(NO_PARENT_DEATH_SIGNAL).is_some() {
        return GuardPipe::Off;
    }
    let spawned = std::process::Command::new("awk")
        .arg(GUARD_SCRIPT)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .current_dir("/")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .spawn();
    match spawned {
        // The child is reaped by no one until the engine exits: it lives as
        // long as the engine, and then it is the init process's.
        Ok(mut child) => child
            .stdin
            .take()
            .map_or(GuardPipe::Off, GuardPipe::Running),
        Err(error) => {
            tracing::warn!(%error, "could not start the engine guard: actions will outlive a killed engine");
            GuardPipe::Off
        }
    }
}

/// A group the guard knows of; see [`EngineGuard::watch`].
pub(super) struct WatchedGroup {
    pid: u32,
    watched: bool,
}

impl Drop for WatchedGroup {
    fn drop(&mut self) {
        if self.watched {
            EngineGuard::send(&format!("- {}\n", self.pid));
        }
    }
}

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

#[cfg(test)]
mod tests {
    use std::{
        io::Write,
        os::unix::process::CommandExt,
        process::{Command, Stdio},
    };

    use super::*;

    fn sleeper() -> std::process::Child {
        Command::new("sleep")
            .arg("30")
            .process_group(0)
            .spawn()
            .expect("sleep starts")
    }

    /// At end of input the guard kills the groups still listed, and spares
    /// those whose leader the engine reaped (and whose id may be reused).
    #[test]
    fn the_guard_kills_the_listed_groups_at_end_of_input() {
        let mut listed = sleeper();
        let mut forgotten = sleeper();
        let mut guard = Command::new("awk")
            .arg(GUARD_SCRIPT)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .stdin(Stdio::piped())
            .spawn()
            .expect("awk starts");
        let mut input = guard.stdin.take().expect("piped");
        write!(
            input,
            "+ {}\n+ {}\n- {}\n",
            listed.id(),
            forgotten.id(),
            forgotten.id()
        )
        .expect("the guard reads");
        drop(input);
        assert!(guard.wait().expect("the guard ends").success());
        let status = listed.wait().expect("reaped");
        assert_eq!(status.signal(), Some(9), "killed by the guard");
        assert_eq!(forgotten.try_wait().expect("waitable"), None, "spared");
        forgotten.kill().expect("killed");
        forgotten.wait().expect("reaped");
    }
}
