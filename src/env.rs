//! Environment variables plangate reads, in one place: every other module
//! asks these functions (or clap, for the variables named in `args.rs` with
//! the consts below) and never reads the environment itself.
//!
//! The executors read `PLANGATE_KUBECTL` and `PLANGATE_HELM` (the default
//! `kubectl` and `helm` binaries) in their own crate, in one function
//! (`KubeTool::from_env`), because they are settings of those executors.

use std::{ffi::OsString, path::PathBuf};

/// Path of the state database, used when `--state` is not given.
pub const PLANGATE_STATE: &str = "PLANGATE_STATE";
/// `normal` or `full`: the default of `--state-sync`.
pub const PLANGATE_STATE_SYNC: &str = "PLANGATE_STATE_SYNC";
/// Which log events reach stderr, as a `tracing` filter (e.g.
/// `plangate_executors=debug`); overrides `--verbose` and the default.
pub const PLANGATE_LOG: &str = "PLANGATE_LOG";
/// Any non-empty value turns colour off (<https://no-color.org>).
pub const NO_COLOR: &str = "NO_COLOR";
/// Any non-empty value turns colour on, even when not writing to a terminal.
pub const FORCE_COLOR: &str = "FORCE_COLOR";
/// `dumb` turns colour off.
pub const TERM: &str = "TERM";
/// Any non-empty value turns the live display of a run off: plain lines
/// only, as when stderr is not a terminal.
pub const PLANGATE_NO_PROGRESS: &str = "PLANGATE_NO_PROGRESS";
/// The user approvals are recorded as when `--as` is not given.
pub const USER: &str = "USER";

/// The variable's value, when it is set and not empty.
fn non_empty(name: &str) -> Option<OsString> {
    std::env::var_os(name).filter(|value| !value.is_empty())
}

/// `$PLANGATE_STATE`, when set and not empty.
pub(crate) fn state_path() -> Option<PathBuf> {
    non_empty(PLANGATE_STATE).map(PathBuf::from)
}

/// `$PLANGATE_LOG`, when set and not empty.
pub(crate) fn log_filter() -> Option<String> {
    non_empty(PLANGATE_LOG).map(|value| value.to_string_lossy().into_owned())
}

/// Whether `NO_COLOR` asks for no colour.
pub(crate) fn no_color() -> bool {
    non_empty(NO_COLOR).is_some()
}

/// Whether `FORCE_COLOR` asks for colour.
pub(crate) fn force_color() -> bool {
    non_empty(FORCE_COLOR).is_some()
}

/// Whether `$PLANGATE_NO_PROGRESS` asks for plain progress lines.
pub(crate) fn no_progress() -> bool {
    non_empty(PLANGATE_NO_PROGRESS).is_some()
}

/// Whether the terminal says it cannot show colour (`TERM=dumb`).
pub(crate) fn dumb_terminal() -> bool {
    std::env::var_os(TERM).is_some_and(|term| term == "dumb")
}

/// `$USER`, when set, not empty and valid UTF-8.
pub(crate) fn user() -> Option<String> {
    non_empty(USER).and_then(|user| user.into_string().ok())
}
