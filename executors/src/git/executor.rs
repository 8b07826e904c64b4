//! [`GitExecutor`]: the [`Executor`] contract for `git:` actions, in terms of
//! the two steps of each operation (`ops.rs`), its rollback, observation and
//! preview.

use std::{sync::Arc, time::Instant};

use plangate_plans::{Action, ActionSpec, ExecutorKind, Rollback, action::GitAction};
use serde_json::Value;

use super::{
    evidence::GitEvidence,
    job::{Fail, Job, blocking},
    observe::observe,
    ops,
    preview::preview,
    rollback::rollback,
};
use crate::{
    context::ActionContext,
    env_overrides::EnvOverrides,
    error::ExecutorError,
    executor::{BoxFuture, Executor},
    outcome::{ActionOutcome, LeftChanges, Observation, OutcomeStatus},
    preview::Preview,
};

/// Runs `git:` actions in process, through libgit2 (no `git` binary).
///
/// Each operation reads the repository and builds what it needs first (a
/// commit or tag object, unreferenced), records the evidence (the refs it
/// will move, with their values before and after; for a push, the remote
/// ref as the remote advertises it), and only then moves refs, updates the
/// working tree or talks to the remote. libgit2 calls run on the blocking
/// pool; cancellation and the deadline are honoured between the steps and,
/// during transfers, in libgit2's progress callbacks.
///
/// # Choices
///
/// - A `commit` with nothing to commit **succeeds** with no change; its
///   evidence says `no_change: "nothing to commit"`, so a resumed re-run is
///   idempotent and its rollback does nothing.
/// - A `branch` or `tag` that already exists at the same commit succeeds with
///   no change, and its evidence says plangate did not create it
///   (`created: false`), so rollback leaves it; one that exists at another
///   commit is a failed outcome.
/// - A `verify` runs the operation like `apply` but records no evidence, as
///   the kubectl and helm executors do; the useful ones are idempotent (a
///   `branch` or `tag` that must exist at `from`, a `fetch`).
/// - What the action itself refuses (a conflict, a rejected or
///   non-fast-forward push, a missing branch, a refused token) is a failed
///   outcome whose error line is libgit2's or the remote's message;
///   [`ExecutorError::Git`] means libgit2 could not carry out the request.
/// - `rollback: auto` of a push is force-with-lease by check-then-push:
///   libgit2 has no atomic lease (see the `rollback` module).
///
/// The token (from `token_env`, the instance's, else `GITHUB_TOKEN` when set)
/// is sent as the HTTP Basic password of user `x-access-token`; a refused
/// token is given up after the second request for the same URL. Its value,
/// and the user information of any URL, never appear in outcomes, evidence
/// or errors.
#[derive(Clone, Debug, Default)]
pub struct GitExecutor {
    env: EnvOverrides,
}

impl GitExecutor {
    /// The git executor, reading tokens from the process's environment.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets a variable the executor reads before the process's environment
    /// (for the token named by `token_env`): for embedding and tests, which
    /// should not change the process's environment.
    ///
    /// ```
    /// use plangate_executors::{Executor, GitExecutor};
    ///
    /// let executor = GitExecutor::new().with_env("DEPLOY_TOKEN", "s3cr3t-value");
    /// assert_eq!(executor.kind(), plangate_plans::ExecutorKind::Git);
    /// ```
    #[must_use]
    pub fn with_env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.set(name, value);
        self
    }

    async fn run(
        &self,
        git: &GitAction,
        ctx: &ActionContext,
        record: bool,
    ) -> Result<ActionOutcome, ExecutorError> {
        let started = Instant::now();
        let job = Arc::new(Job::new(git, ctx, &self.env)?);
        let command = ops::command(&job);
        let prepared = match blocking(&job, ops::prepare).await? {
            Ok(prepared) => prepared,
            Err(fail) => return job.failed_outcome(fail, &command, None, started),
        };
        let evidence = prepared.evidence.clone();
        if record {
            ctx.record_evidence(evidence.to_json(&job)).await?;
        }
        match blocking(&job, move |job| ops::finish(job, prepared)).await? {
            Ok((evidence, said)) => Ok(job.outcome(
                OutcomeStatus::Succeeded,
                &command,
                &said,
                "",
                Some(&evidence),
                started,
            )),
            Err(fail) => job.failed_outcome(fail, &command, Some(&evidence), started),
        }
    }

    async fn auto_rollback(
        &self,
        run: &GitAction,
        evidence: Option<&Value>,
        ctx: &ActionContext,
    ) -> Result<ActionOutcome, ExecutorError> {
        let started = Instant::now();
        let evidence = GitEvidence::parse(evidence)?;
        let job = Arc::new(Job::new(run, ctx, &self.env)?);
        let command = format!("auto rollback of {}", ops::command(&job));
        match blocking(&job, move |job| rollback(job, &evidence)).await? {
            Ok((said, done)) => Ok(job.outcome(
                OutcomeStatus::Succeeded,
                &command,
                &said,
                "",
                Some(&done),
                started,
            )),
            Err(fail) => job.failed_outcome(fail, &command, None, started),
        }
    }
}

/// The error of a preview or an observation that could not complete.
fn into_error(job: &Job, fail: Fail) -> ExecutorError {
    match fail {
        Fail::Error(error) => error,
        Fail::Action(message) => ExecutorError::Git {
            op: job.action.op.as_str(),
            repo: job.repo.clone(),
            message: job.redact(&message),
            transient: false,
        },
        Fail::Stopped(status) => ExecutorError::Git {
            op: job.action.op.as_str(),
            repo: job.repo.clone(),
            message: format!("stopped: {}", status.as_str()),
            transient: true,
        },
    }
}

fn git_action(action: &Action) -> Result<&GitAction, ExecutorError> {
    match &action.spec {
        ActionSpec::Git(git) => Ok(git),
        other => Err(ExecutorError::WrongKind {
            executor: ExecutorKind::Git,
            action: other.kind(),
        }),
    }
}

impl Executor for GitExecutor {
    fn kind(&self) -> ExecutorKind {
        ExecutorKind::Git
    }

    fn preview<'a>(
        &'a self,
        action: &'a Action,
        ctx: &'a ActionContext,
    ) -> BoxFuture<'a, Result<Preview, ExecutorError>> {
        Box::pin(async move {
            let mut job = Job::new(git_action(action)?, ctx, &self.env)?;
            job.dry_run = true;
            let job = Arc::new(job);
            blocking(&job, |job| {
                preview(job).map_err(|fail| into_error(job, fail))
            })
            .await?
        })
    }

    fn apply<'a>(
        &'a self,
        action: &'a Action,
        ctx: &'a ActionContext,
    ) -> BoxFuture<'a, Result<ActionOutcome, ExecutorError>> {
        Box::pin(async move { self.run(git_action(action)?, ctx, true).await })
    }

    fn verify<'a>(
        &'a self,
        action: &'a Action,
        ctx: &'a ActionContext,
    ) -> BoxFuture<'a, Result<ActionOutcome, ExecutorError>> {
        Box::pin(async move { self.run(git_action(action)?, ctx, false).await })
    }

    fn rollback<'a>(
        &'a self,
        rollback: &'a Rollback,
        run: &'a Action,
        evidence: Option<&'a Value>,
        ctx: &'a ActionContext,
    ) -> BoxFuture<'a, Result<ActionOutcome, ExecutorError>> {
        Box::pin(async move {
            let run = git_action(run)?;
            match rollback {
                Rollback::Auto => self.auto_rollback(run, evidence, ctx).await,
                Rollback::Action(explicit) => self.run(git_action(explicit)?, ctx, false).await,
            }
        })
    }

    fn observe<'a>(
        &'a self,
        action: &'a Action,
        evidence: Option<&'a Value>,
        ctx: &'a ActionContext,
    ) -> BoxFuture<'a, Result<Observation, ExecutorError>> {
        Box::pin(async move {
            let git = git_action(action)?;
            let job = Arc::new(Job::new(git, ctx, &self.env)?);
            if evidence.is_none() {
                // The evidence is recorded before the side effect: without
                // it, the side effect never started.
                return Ok(Observation::NotApplied);
            }
            let evidence = GitEvidence::parse(evidence)?;
            blocking(&job, move |job| {
                observe(job, &evidence).map_err(|fail| into_error(job, fail))
            })
            .await?
        })
    }

    fn left_changes(
        &self,
        action: &Action,
        evidence: Option<&Value>,
        outcome: &ActionOutcome,
    ) -> LeftChanges {
        if git_action(action).is_err() {
            return LeftChanges::Unknown;
        }
        let Some(value) = outcome.evidence.as_ref().or(evidence) else {
            return LeftChanges::None {
                reason: "it failed before it recorded its evidence, so before it changed anything"
                    .to_owned(),
            };
        };
        let Ok(evidence) = GitEvidence::parse(Some(value)) else {
            return LeftChanges::Unknown;
        };
        if evidence.applied {
            return LeftChanges::Some;
        }
        match outcome.status {
            OutcomeStatus::Failed => LeftChanges::None {
                reason: format!(
                    "libgit2 refused the `{}` before it changed anything",
                    evidence.op
                ),
            },
            OutcomeStatus::Succeeded => LeftChanges::None {
                reason: "it changed nothing".to_owned(),
            },
            OutcomeStatus::TimedOut | OutcomeStatus::Cancelled => LeftChanges::Unknown,
        }
    }
}
