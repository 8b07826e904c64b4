//! The plangate engine: runs plans phase by phase with checkpoints in the
//! state file, resumes them, rolls them back, and renders dry-run and run
//! reports.

#![warn(missing_docs)]

pub mod graph;
pub mod report;
pub mod run;

/// The state store, re-exported so the CLI needs no direct dependency on it.
pub use plangate_state as state;
