//! Unix process groups and signals.

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

    /// The group id, for logs.
    pub(super) fn id(self) -> i32 {
        self.0.as_raw()
    }
}

/// The signal that ended the process, if one did.
pub(super) fn exit_signal(status: ExitStatus) -> Option<i32> {
    status.signal()
}
