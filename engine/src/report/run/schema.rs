//! The JSON documents of `plangate status --format json` and `plangate report --format json`.
//!
//! Like the impact report's `schema.rs`, these types are an API: they are
//! `#[non_exhaustive]` and carry `format_version`.

use std::path::PathBuf;

use plangate_state::{AttemptOutcome, AttemptRole, RunStatus, TaskState};
use serde::Serialize;

#[cfg(doc)]
use crate::report::schema::FORMAT_VERSION;

/// `plangate status --format json`.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct StatusReport {
    /// [`FORMAT_VERSION`].
    pub format_version: u32,
    /// Run id.
    pub run: String,
    /// Plan name.
    pub plan: String,
    /// Run status.
    pub status: RunStatus,
    /// Why the run is in this status.
    pub reason: Option<String>,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds, when the run ended.
    pub finished_at: Option<i64>,
    /// The tasks a limit (a budget, `policy.max_tasks`) deferred, in run
    /// order; `resume` continues them. The run's `reason` names the limit.
    pub deferred: Vec<NotDone>,
    /// Tasks in run order.
    pub tasks: Vec<TaskStatus>,
    /// Approvals, oldest first.
    pub approvals: Vec<ApprovalReport>,
}

/// One task of [`StatusReport`].
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct TaskStatus {
    /// Task id.
    pub id: String,
    /// Phase id.
    pub phase: String,
    /// Task state.
    pub state: TaskState,
    /// How many times its `run` action was started, across resumes.
    pub attempts: u32,
    /// Why it is in this state.
    pub reason: Option<String>,
    /// Whether a `verify` passed (`null` when none ran).
    pub verified: Option<bool>,
}

/// `plangate report --format json`.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct RunReport {
    /// [`FORMAT_VERSION`].
    pub format_version: u32,
    /// Run id.
    pub run: String,
    /// Plan name.
    pub plan: String,
    /// The plan file.
    pub plan_path: PathBuf,
    /// Environment label.
    pub environment: String,
    /// Run status.
    pub status: RunStatus,
    /// Why the run is in this status.
    pub reason: Option<String>,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds.
    pub finished_at: Option<i64>,
    /// `policy.budget` in seconds.
    pub budget_s: Option<u64>,
    /// Seconds the engine spent driving the run, summed over `run` and every
    /// `resume` (what `policy.budget` measures; time paused between them
    /// does not count).
    pub used_s: u64,
    /// Seconds from the run's creation to its end (or its latest write).
    pub wall_s: u64,
    /// Tasks by outcome.
    pub summary: RunSummary,
    /// Phases in run order.
    pub phases: Vec<PhaseOutcome>,
    /// Approvals, oldest first.
    pub approvals: Vec<ApprovalReport>,
    /// Actions a killed engine left running that a `resume` (or `rollback`)
    /// waited for, or terminated at the end of their task's timeout, before
    /// reconciling them: one sentence each, oldest first.
    pub waited_for: Vec<String>,
    /// The tasks a limit (a budget, `policy.max_tasks`) deferred, in run
    /// order; `resume` continues them. The run's `reason` names the limit.
    pub deferred: Vec<NotDone>,
    /// Tasks that did not complete, with why (the deferred ones included).
    pub not_done: Vec<NotDone>,
}

/// Counts of [`RunReport`].
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct RunSummary {
    /// Number of tasks.
    pub tasks: usize,
    /// Tasks whose completion is proven by recorded attempts.
    pub completed: usize,
    /// Tasks per state.
    pub by_state: std::collections::BTreeMap<String, usize>,
}

/// A phase of [`RunReport`].
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct PhaseOutcome {
    /// Phase id.
    pub id: String,
    /// Display name.
    pub name: Option<String>,
    /// Budget in seconds.
    pub budget_s: Option<u64>,
    /// The dry run's forecast for the phase, in seconds.
    pub forecast_s: u64,
    /// Seconds the engine spent driving the phase, summed over `run` and
    /// every `resume` (what the phase budget measures).
    pub used_s: u64,
    /// Wall time from the first attempt's start to the last attempt's end,
    /// across resumes (time paused between them included).
    pub wall_s: u64,
    /// Tasks in run order.
    pub tasks: Vec<TaskOutcome>,
}

/// A task of [`RunReport`].
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct TaskOutcome {
    /// Task id.
    pub id: String,
    /// Display name.
    pub name: Option<String>,
    /// Risk.
    pub risk: String,
    /// Ids of the tasks it needs (empty when the stored plan cannot be read).
    pub needs: Vec<String>,
    /// State.
    pub state: TaskState,
    /// Why it is in this state.
    pub reason: Option<String>,
    /// Proven complete by its attempts.
    pub complete: bool,
    /// What proves it, or why it is not proven.
    pub evidence: String,
    /// Started `run` actions.
    pub attempts: u32,
    /// Every attempt (run, verify, rollback), oldest first.
    pub history: Vec<AttemptReport>,
}

/// An attempt of [`TaskOutcome`].
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct AttemptReport {
    /// `run`, `verify` or `rollback`.
    pub role: AttemptRole,
    /// 1-based per role.
    pub number: u32,
    /// The command, redacted.
    pub command: String,
    /// Outcome; `null` while in flight.
    pub outcome: Option<AttemptOutcome>,
    /// Exit code.
    pub exit_code: Option<i32>,
    /// Signal that ended it.
    pub signal: Option<i32>,
    /// Duration in milliseconds.
    pub duration_ms: Option<u64>,
    /// Unix milliseconds.
    pub started_at: i64,
    /// The last lines of stdout.
    pub stdout_tail: Option<String>,
    /// The last lines of stderr.
    pub stderr_tail: Option<String>,
    /// What the tool said went wrong, for an attempt that did not succeed:
    /// the first `error:` line of its stderr (kept even when the tail has
    /// cut it off), else the last line.
    pub error_line: Option<String>,
}

/// An approval of [`RunReport`].
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct ApprovalReport {
    /// `task` or `phase`.
    pub kind: String,
    /// Task or phase id.
    pub target: String,
    /// Who.
    pub approved_by: String,
    /// Why.
    pub reason: Option<String>,
    /// Unix milliseconds.
    pub at: i64,
    /// SHA-256 of the plan it approved (the run's plan when it was
    /// recorded); `null` for an approval recorded before approvals were
    /// bound to a plan.
    pub plan_hash: Option<String>,
    /// Whether it counts for the run's plan now: bound to it and not revoked.
    pub counts: bool,
    /// Why it does not count, when it does not.
    pub not_counted: Option<String>,
    /// When the engine started work on its strength, unix milliseconds.
    pub used_at: Option<i64>,
    /// Who revoked it.
    pub revoked_by: Option<String>,
    /// When it was revoked, unix milliseconds.
    pub revoked_at: Option<i64>,
    /// Why it was revoked.
    pub revoke_reason: Option<String>,
}

/// A task that did not complete.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct NotDone {
    /// Task id.
    pub id: String,
    /// State.
    pub state: TaskState,
    /// Why.
    pub reason: Option<String>,
}
