//! Executing plans: the scheduler, budgets, retries, rollback, resume,
//! approvals and signals. See `ARCHITECTURE.md` for the run lifecycle.

mod context;
mod dispatch;
mod engine;
mod errors;
mod phase;
mod preview;
mod progress;
mod promotion;
mod queries;
mod resume;
mod shared_store;
pub(crate) mod task;

pub use engine::{
    Engine, EngineSettings, ResumeOptions, RunOptions, approval_targets, stale_approval,
};
pub use errors::RunError;
pub use preview::Previewer;
pub use progress::{Progress, ProgressSink};
pub use promotion::{PromotionCheck, dry_run_promotion, unpromoted};
pub use queries::{
    Delta, DiffRun, DiffSummary, PhaseTree, PlanLimits, RecordedApproval, RevokedApprovals,
    RunDiff, RunEntry, RunFilter, RunListing, RunTree, RunsDocument, TaskChange, TaskDiff,
    TaskLeaf, TaskSide, approver, find_run as find_run_record,
};

use plangate_state::{RunId, RunStatus};

/// Where an invocation left a run.
#[derive(Clone, Debug)]
pub struct RunOutcome {
    /// The run.
    pub run: RunId,
    /// Its short id, unique in the state file.
    pub short_run: String,
    /// Its status now.
    pub status: RunStatus,
    /// Why, when it did not succeed.
    pub reason: Option<String>,
    /// Whether tasks wait for a decision after an interruption (approve them,
    /// or resume with a retry of interrupted tasks).
    pub interrupted_tasks: bool,
}
