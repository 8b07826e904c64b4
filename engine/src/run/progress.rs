//! Progress events: what the engine tells its caller as a run goes.

use std::time::Duration;

use plangate_state::{RunStatus, TaskState};

/// One thing that happened, for display. The durable record is the state
/// file's event journal; these are for the terminal.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Progress {
    /// A run started or resumed.
    RunStarted {
        /// The run's short id.
        run: String,
        /// Whether this is a resume.
        resumed: bool,
    },
    /// `plangate rollback` starts undoing a run.
    RunRollingBack {
        /// The run's short id.
        run: String,
    },
    /// A phase starts.
    PhaseStarted {
        /// Phase id.
        phase: String,
        /// Display name.
        name: String,
    },
    /// An attempt of a task's `run` starts.
    TaskStarted {
        /// Task id.
        task: String,
        /// Attempt number (across resumes).
        attempt: u32,
    },
    /// A task settled.
    TaskFinished {
        /// Task id.
        task: String,
        /// Its state.
        state: TaskState,
        /// Why, if it did not succeed.
        reason: Option<String>,
        /// How long it took.
        duration: Duration,
    },
    /// A task will not run in this invocation.
    TaskSkipped {
        /// Task id.
        task: String,
        /// Its state (excluded, blocked, deferred, needs-approval, interrupted).
        state: TaskState,
        /// Why.
        reason: String,
    },
    /// A rollback of a task starts.
    RollbackStarted {
        /// Task id.
        task: String,
    },
    /// A rollback settled (or was skipped for lack of a rollback).
    RollbackFinished {
        /// Task id.
        task: String,
        /// `rolled-back`, `rollback-failed`, or the unchanged state when skipped.
        state: TaskState,
        /// Detail.
        reason: Option<String>,
    },
    /// A failed task is not rolled back: its action changed nothing.
    NothingToUndo {
        /// Task id.
        task: String,
        /// `nothing to undo: ...`, with why.
        reason: String,
    },
    /// A completed task is left in place by a rollback: it declares no
    /// rollback, so its changes stay.
    LeftInPlace {
        /// Task id.
        task: String,
        /// Its state, which the rollback does not change.
        state: TaskState,
    },
    /// A warning (lock taken over, signal received...).
    Warning(String),
    /// The invocation ends with the run in this status.
    RunFinished {
        /// The run's short id.
        run: String,
        /// Its status.
        status: RunStatus,
    },
}

/// Receives progress events; must not block.
pub type ProgressSink = std::sync::Arc<dyn Fn(&Progress) + Send + Sync>;
