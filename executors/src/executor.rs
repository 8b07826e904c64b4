//! The [`Executor`] trait: how the engine drives every kind of action.

use std::{future::Future, pin::Pin};

use plangate_plans::{Action, ExecutorKind, Rollback};

use crate::{
    context::ActionContext,
    error::ExecutorError,
    outcome::{ActionOutcome, LeftChanges, Observation},
    preview::Preview,
};

/// A boxed, sendable future: what [`Executor`] methods return, so the trait
/// stays object-safe without `async-trait`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Runs the actions of one executor kind (shell, kubectl, helm, GitHub
/// merge, git).
///
/// The engine owns the policy (retries, timeouts, rollback order); an
/// executor only carries out one request. A request the action itself fails
/// is `Ok` with a failed [`ActionOutcome`]; `Err` means it could not be
/// carried out (see [`ExecutorError`]).
///
/// Every process an executor starts goes through the crate's process module,
/// so it gets its own process group, bounded output capture, the `PLANGATE_*`
/// variables and the termination ladder on cancellation or deadline.
pub trait Executor: Send + Sync {
    /// The kind of action this executor runs.
    fn kind(&self) -> ExecutorKind;

    /// What would change; used by the dry run. Never changes anything.
    fn preview<'a>(
        &'a self,
        action: &'a Action,
        ctx: &'a ActionContext,
    ) -> BoxFuture<'a, Result<Preview, ExecutorError>>;

    /// Runs the action. Evidence needed to undo it later (snapshots,
    /// revisions) is handed to [`ActionContext::record_evidence`] BEFORE the
    /// side effect, so the engine can commit it, and is returned in
    /// [`ActionOutcome::evidence`].
    fn apply<'a>(
        &'a self,
        action: &'a Action,
        ctx: &'a ActionContext,
    ) -> BoxFuture<'a, Result<ActionOutcome, ExecutorError>>;

    /// Runs a `verify` action: the same as [`apply`](Self::apply), but it
    /// never records rollback evidence.
    fn verify<'a>(
        &'a self,
        action: &'a Action,
        ctx: &'a ActionContext,
    ) -> BoxFuture<'a, Result<ActionOutcome, ExecutorError>>;

    /// Undoes `run`: by running the explicit `Rollback::Action`, or for
    /// `Rollback::Auto` by the executor's own inverse of `run`, using the
    /// `evidence` its `apply` recorded.
    ///
    /// The engine calls the executor of `run`'s kind. An explicit rollback
    /// action of another kind belongs to that kind's executor (call its
    /// `apply`); passing it here is [`ExecutorError::WrongKind`].
    fn rollback<'a>(
        &'a self,
        rollback: &'a Rollback,
        run: &'a Action,
        evidence: Option<&'a serde_json::Value>,
        ctx: &'a ActionContext,
    ) -> BoxFuture<'a, Result<ActionOutcome, ExecutorError>>;

    /// After a crash: did an action that was started take effect?
    fn observe<'a>(
        &'a self,
        action: &'a Action,
        evidence: Option<&'a serde_json::Value>,
        ctx: &'a ActionContext,
    ) -> BoxFuture<'a, Result<Observation, ExecutorError>>;

    /// Whether a failed `apply` left anything to undo, judged from the evidence it recorded
    /// and the outcome it returned. The engine asks this before rolling back a failed task.
    fn left_changes(
        &self,
        _action: &Action,
        _evidence: Option<&serde_json::Value>,
        _outcome: &ActionOutcome,
    ) -> LeftChanges {
        LeftChanges::Unknown
    }
}
