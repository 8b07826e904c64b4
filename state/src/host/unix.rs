//! Unix: `kill(pid, 0)` and `gethostname(2)`, through `nix`.

use nix::{errno::Errno, sys::signal::kill, unistd::Pid};

/// Whether a process with this id exists.
///
/// `kill(pid, 0)` delivers nothing and only checks: success, or `EPERM` (the
/// process exists but belongs to another user), means alive. Pid 0 and pids
/// beyond `i32::MAX` name no single process, so they count as dead.
///
/// # Caveats
///
/// Pids are reused: a dead holder's pid may belong to an unrelated process by
/// now, which keeps its lock held (the safe direction). A zombie counts as
/// alive until its parent reaps it.
pub fn pid_is_alive(pid: u32) -> bool {
    match i32::try_from(pid) {
        Ok(0) | Err(_) => false,
        Ok(pid) => !matches!(kill(Pid::from_raw(pid), None), Err(Errno::ESRCH)),
    }
}

/// This machine's host name, or `localhost` if it cannot be read.
pub fn hostname() -> String {
    nix::unistd::gethostname().map_or_else(
        |_| String::from("localhost"),
        |name| name.to_string_lossy().into_owned(),
    )
}
