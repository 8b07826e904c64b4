//! Spawning and supervising child processes: the only place plangate starts one.
//!
//! Every action runs in its own process group, with its output drained
//! concurrently into bounded tail buffers, and is stopped by a termination
//! ladder (SIGTERM to the group, a grace period, then SIGKILL) on cancellation
//! or deadline. See `imp.rs` for the lifecycle.

mod imp;
mod quote;
mod tail;
#[cfg(unix)]
mod unix;

#[cfg(unix)]
use unix as os;

// A `windows.rs` behind the same `os` alias (job objects instead of process
// groups) is the way to add Windows.
#[cfg(not(unix))]
compile_error!("plangate-executors supports unix only: process groups and signals are unix");

pub(crate) use imp::{ProcessSpec, SpawnError, run_process};
pub use imp::{RecordedGroupEnd, wait_for_recorded_group};
pub(crate) use quote::quote_command;
