//! Who holds a lock: the host name, and whether a process id is still alive.
//! The platform code is in `unix.rs` and `windows.rs`.

#[cfg(unix)]
mod unix;
#[cfg(windows)]
mod windows;

#[cfg(unix)]
use unix as os;
#[cfg(windows)]
use windows as os;

pub use os::{hostname, pid_is_alive};
