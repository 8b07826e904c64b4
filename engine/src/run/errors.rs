//! Errors of running, resuming, rolling back and approving.

use std::path::PathBuf;

use plangate_plans::LoadPlanError;
use plangate_state::{ApprovalTarget, LockError, OpenStoreError, RunStatus, StoreError};

/// Why a run, resume, rollback or approval could not proceed. Task failures
/// are not errors: they are outcomes, reported through [`super::RunOutcome`].
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The plan file could not be loaded or is invalid.
    #[error(transparent)]
    LoadPlan(#[from] LoadPlanError),
    /// The state file could not be opened (missing, foreign, newer, corrupt).
    #[error(transparent)]
    OpenStore(#[from] OpenStoreError),
    /// A state-store operation failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Another live process drives this run.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// The tokio runtime could not be built.
    #[error("failed to start the async runtime")]
    Runtime(#[source] std::io::Error),
    /// Signal handlers could not be installed.
    #[error("failed to install signal handlers")]
    Signals(#[source] std::io::Error),
    /// The plan file changed since the run started and the change was not accepted.
    #[error("plan `{}` changed since run `{run}` started: {summary}", path.display())]
    PlanChanged {
        /// The run.
        run: String,
        /// The plan file.
        path: PathBuf,
        /// What changed, in words.
        summary: String,
    },
    /// The plan file of a run is gone.
    #[error("plan file `{}` of run `{run}` is missing", path.display())]
    PlanMissing {
        /// The run.
        run: String,
        /// Where the plan was.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The run has already ended and cannot be resumed.
    #[error("run `{run}` has ended (`{status}`) and cannot be resumed")]
    NotResumable {
        /// The run.
        run: String,
        /// Its status.
        status: RunStatus,
    },
    /// The run stopped while it was rolling back: going forward again would
    /// re-run what the rollback had started to undo.
    #[error("run `{run}` was rolling back when it stopped and cannot be resumed")]
    RollingBack {
        /// The run.
        run: String,
    },
    /// A live process drives a run of the same plan (name and environment):
    /// a second run of it would interleave with the first.
    #[error(
        "plan `{plan}` (environment `{environment}`) is being run: run `{run}` is driven by process {pid} on `{host}`"
    )]
    RunInProgress {
        /// The plan.
        plan: String,
        /// Its environment.
        environment: String,
        /// The live run.
        run: String,
        /// The process driving it.
        pid: u32,
        /// That process's host.
        host: String,
    },
    /// An earlier run of the same plan (name and environment) is unfinished
    /// (paused, interrupted, incomplete, or left running by a dead process).
    #[error("plan `{plan}` (environment `{environment}`) has an unfinished run `{run}` ({status})")]
    UnfinishedRun {
        /// The plan.
        plan: String,
        /// Its environment.
        environment: String,
        /// The unfinished run.
        run: String,
        /// Its status.
        status: RunStatus,
    },
    /// No run exists yet in the state file.
    #[error("no runs in `{}`", path.display())]
    NoRuns {
        /// The state file.
        path: PathBuf,
    },
    /// `approve` named neither a task nor a phase of the run.
    #[error("run `{run}` has no task or phase `{target}`")]
    UnknownApprovalTarget {
        /// The run.
        run: String,
        /// What was named.
        target: String,
    },
    /// `approve` named a task or phase that no approval is asked for: a task
    /// whose decision is not `needs-approval` (and that was not interrupted),
    /// or a phase without `approval: true`.
    #[error("{} `{}` of run `{run}` needs no approval ({why})", target.kind(), target.id())]
    NoApprovalNeeded {
        /// The run (its short id).
        run: String,
        /// What was named.
        target: ApprovalTarget,
        /// Why no approval is needed, in words.
        why: String,
    },
    /// `revoke` named a task or phase with no approval in force (none was
    /// recorded, or all were revoked already).
    #[error("{} `{}` of run `{run}` has no approval to revoke", target.kind(), target.id())]
    NothingToRevoke {
        /// The run (its short id).
        run: String,
        /// What was named.
        target: ApprovalTarget,
    },
    /// `revoke` named a task or phase whose approvals in force were all used:
    /// the engine started work on their strength, which a revocation cannot
    /// undo.
    #[error(
        "the approval of {} `{}` of run `{run}` by {} was used at {} when the work it allowed started; a used approval cannot be revoked",
        target.kind(),
        target.id(),
        plangate_plans::text::and_ticked(by),
        crate::report::rfc3339(*used_at)
    )]
    ApprovalUsed {
        /// The run (its short id).
        run: String,
        /// What was named.
        target: ApprovalTarget,
        /// Who had given the used approvals.
        by: Vec<String>,
        /// When the first was used, unix milliseconds.
        used_at: i64,
    },
    /// `--approve` named neither a task nor a phase of the plan.
    #[error("plan `{plan}` has no task or phase `{target}` to approve")]
    UnknownPlanTarget {
        /// The plan.
        plan: String,
        /// What was named.
        target: String,
        /// The closest id of the plan, when `target` looks like a typo of it.
        suggestion: Option<String>,
    },
}

impl RunError {
    /// Whether the error is the caller's to fix (a usage error, an invalid
    /// plan, a state file that cannot be used, a run in the wrong state for
    /// the request) rather than a failure while working on the run.
    pub fn is_usage(&self) -> bool {
        match self {
            RunError::LoadPlan(_)
            | RunError::OpenStore(_)
            | RunError::Lock(_)
            | RunError::PlanChanged { .. }
            | RunError::PlanMissing { .. }
            | RunError::NotResumable { .. }
            | RunError::RollingBack { .. }
            | RunError::NoRuns { .. }
            | RunError::UnknownApprovalTarget { .. }
            | RunError::NoApprovalNeeded { .. }
            | RunError::NothingToRevoke { .. }
            | RunError::ApprovalUsed { .. }
            | RunError::UnknownPlanTarget { .. }
            | RunError::RunInProgress { .. }
            | RunError::UnfinishedRun { .. }
            | RunError::Store(StoreError::UnknownRun { .. } | StoreError::AmbiguousRun { .. }) => {
                true
            }
            RunError::Store(_) | RunError::Runtime(_) | RunError::Signals(_) => false,
        }
    }
}
