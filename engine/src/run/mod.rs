//! Executing plans: the scheduler, budgets, retries, rollback, resume,
//! approvals and signals. See `ARCHITECTURE.md` for the run lifecycle.

mod context;
mod dispatch;
mod engine;
mod errors;
mod phase;
mod preview;
mod progress;
mod resume;
mod shared_store;
pub(crate) mod task;

pub use engine::{
    Engine, EngineSettings, ResumeOptions, RunOptions, approve, default_approver,
    find_run as find_run_record,
};
pub use errors::RunError;
pub use progress::{Progress, ProgressSink};

use plangate_state::{RunId, RunStatus};

/// Where an invocation left a run.
#[derive(Clone, Debug)]
pub struct RunOutcome {
    /// The run.
    pub run: RunId,
    /// Its status now.
    pub status: RunStatus,
    /// Why, when it did not succeed.
    pub reason: Option<String>,
}
