//! Environment variables plangate reads, in one place.

/// Path of the state database, used when `--state` is not given.
pub const PLANGATE_STATE: &str = "PLANGATE_STATE";
/// Any non-empty value turns colour off (<https://no-color.org>).
pub const NO_COLOR: &str = "NO_COLOR";
/// Any non-empty value turns colour on, even when not writing to a terminal.
pub const FORCE_COLOR: &str = "FORCE_COLOR";
