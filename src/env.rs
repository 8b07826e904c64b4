//! Environment variables plangate reads, in one place.

/// Path of the state database, used when `--state` is not given.
pub const PLANGATE_STATE: &str = "PLANGATE_STATE";
/// Log filter for `tracing` (e.g. `debug`, `plangate_engine=trace`).
pub const PLANGATE_LOG: &str = "PLANGATE_LOG";
/// Any non-empty value turns off progress output.
pub const PLANGATE_NO_PROGRESS: &str = "PLANGATE_NO_PROGRESS";
/// Any non-empty value turns colour off (<https://no-color.org>).
pub const NO_COLOR: &str = "NO_COLOR";
/// Any non-empty value turns colour on, even when not writing to a terminal.
pub const FORCE_COLOR: &str = "FORCE_COLOR";
