//! Progress events: what the engine tells its caller as a run goes.
//!
//! They carry what a live display needs besides the plain lines: each
//! attempt's timeout, each phase's task count and budget, and the plan's
//! limits with what the run used of them before this invocation (budgets
//! count the time the engine drove the run, summed over `run` and every
//! `resume`). A caller adds the time since the event itself.

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
        /// Tasks in the plan.
        tasks: usize,
        /// Tasks of the run that succeeded before this invocation (what
        /// `policy.max_tasks` counts).
        succeeded: usize,
        /// `policy.max_tasks`, when set.
        max_tasks: Option<u32>,
        /// `policy.budget`, when set.
        budget: Option<Duration>,
        /// The time the run used before this invocation.
        budget_used: Duration,
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
        /// Tasks in the phase.
        tasks: usize,
        /// Tasks of the phase settled before it started in this invocation
        /// (succeeded in an earlier one, excluded, blocked, deferred...).
        settled: usize,
        /// Tasks of the phase that wait for an approval not recorded yet
        /// (decided when the run was created, so no event announces them).
        waiting_for_approval: usize,
        /// The phase's `budget`, when set.
        budget: Option<Duration>,
        /// The time the phase used before this invocation.
        budget_used: Duration,
    },
    /// An attempt of a task's `run` starts.
    TaskStarted {
        /// Task id.
        task: String,
        /// Attempt number (across resumes).
        attempt: u32,
        /// The task's `timeout`, which this attempt has from now.
        timeout: Duration,
    },
    /// An attempt of a task's `verify` starts (after its `run` succeeded, or
    /// alone when a resume reconciled the `run` as done).
    VerifyStarted {
        /// Task id.
        task: String,
        /// Attempt number (across resumes).
        attempt: u32,
        /// The task's `timeout`, which this check has from now.
        timeout: Duration,
    },
    /// An attempt failed and the task waits `backoff` before the next one.
    RetryWaiting {
        /// Task id.
        task: String,
        /// How long the task waits (`retry_backoff`).
        backoff: Duration,
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
        /// The task's `timeout`, which the rollback has from now.
        timeout: Duration,
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
