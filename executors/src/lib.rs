//! plangate's executors: the [`Executor`] trait the engine drives, and its
//! implementations, one per action kind: [`ShellExecutor`], [`KubectlExecutor`],
//! [`HelmExecutor`], [`GithubMergeExecutor`] and [`GitExecutor`] (which runs in
//! process through libgit2, with no `git` binary).
//!
//! Every process an executor starts goes through one module, which puts it
//! in its own process group, drains its output into bounded tails, redacts
//! secrets, and stops it with SIGTERM, a grace period and SIGKILL on
//! cancellation or deadline. Only this crate and the engine are async.
//!
//! ```no_run
//! use plangate_executors::{ActionContext, Executors, Redactor};
//! use std::sync::Arc;
//!
//! # async fn example(plan: plangate_plans::Plan) -> Result<(), plangate_executors::ExecutorError> {
//! let executors = Executors::with_defaults();
//! let task = &plan.tasks[0];
//! let ctx = ActionContext::new("01J9Z", task.id.clone(), plan.base_dir.clone())
//!     .with_redactor(Arc::new(Redactor::for_plan(&plan)))
//!     .with_timeout(task.timeout);
//! let executor = executors.for_action(&task.run).expect("shell is built in");
//! let outcome = executor.apply(&task.run, &ctx).await?;
//! println!("{}: {}", outcome.command, outcome.status.as_str());
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

pub mod child_env;
mod context;
mod env_overrides;
mod error;
mod executor;
mod git;
mod github;
mod kube;
mod outcome;
mod preview;
mod process;
mod redact;
mod registry;
mod shell;

pub use context::{ActionContext, CheckpointFn, SpawnFn, SpawnedGroup};
pub use error::ExecutorError;
pub use executor::{BoxFuture, Executor};
pub use git::GitExecutor;
pub use github::GithubMergeExecutor;
pub use kube::{HelmExecutor, KubectlExecutor};
pub use outcome::{
    ActionOutcome, ERROR_LINE_LIMIT, LeftChanges, Observation, OutcomeStatus, error_line,
};
pub use preview::{ChangeKind, Preview, PreviewChange, PreviewDetail};
pub use process::{RecordedGroupEnd, wait_for_recorded_group};
pub use redact::{MIN_SECRET_LEN, REDACTED, Redactor, RedactorBuilder};
pub use registry::Executors;
pub use shell::ShellExecutor;
