//! The [`Executor`] implementation kubectl and helm share: each takes its
//! own action kind, stops early with [`Halt`], and has the same five
//! operations; this turns them into the executor's contract once.

use std::future::Future;

use plangate_plans::{Action, ExecutorKind, Rollback};
use serde_json::Value;

use super::Halt;
use crate::{
    ActionContext, ActionOutcome, BoxFuture, Executor, ExecutorError, Observation, Preview,
};

/// An executor for one kind of cluster action.
pub(crate) trait KubeTool: Send + Sync {
    /// Its action's fields.
    type Spec: Sync;

    /// The kind it runs.
    const KIND: ExecutorKind;

    /// The fields of `action`, or [`ExecutorError::WrongKind`].
    fn spec(action: &Action) -> Result<&Self::Spec, ExecutorError>;

    /// What the action would change.
    fn preview_action<'a>(
        &'a self,
        spec: &'a Self::Spec,
        ctx: &'a ActionContext,
    ) -> impl Future<Output = Result<Preview, Halt>> + Send + 'a;

    /// Runs the action, recording what undoing it needs first.
    fn apply_action<'a>(
        &'a self,
        spec: &'a Self::Spec,
        ctx: &'a ActionContext,
    ) -> impl Future<Output = Result<ActionOutcome, Halt>> + Send + 'a;

    /// Runs the action without snapshots: a verify, or an explicit rollback.
    fn run_plain<'a>(
        &'a self,
        spec: &'a Self::Spec,
        ctx: &'a ActionContext,
    ) -> impl Future<Output = Result<ActionOutcome, Halt>> + Send + 'a;

    /// Undoes `run` from the evidence its attempt recorded.
    fn auto_rollback<'a>(
        &'a self,
        run: &'a Self::Spec,
        evidence: Option<&'a Value>,
        ctx: &'a ActionContext,
    ) -> impl Future<Output = Result<ActionOutcome, Halt>> + Send + 'a;

    /// Whether a cut-off action had taken effect.
    fn observe_action<'a>(
        &'a self,
        spec: &'a Self::Spec,
        evidence: Option<&'a Value>,
        ctx: &'a ActionContext,
    ) -> impl Future<Output = Result<Observation, Halt>> + Send + 'a;
}

impl<T: KubeTool> Executor for T {
    fn kind(&self) -> ExecutorKind {
        T::KIND
    }

    fn preview<'a>(
        &'a self,
        action: &'a Action,
        ctx: &'a ActionContext,
    ) -> BoxFuture<'a, Result<Preview, ExecutorError>> {
        Box::pin(async move {
            self.preview_action(T::spec(action)?, ctx)
                .await
                .map_err(Halt::into_error)
        })
    }

    fn apply<'a>(
        &'a self,
        action: &'a Action,
        ctx: &'a ActionContext,
    ) -> BoxFuture<'a, Result<ActionOutcome, ExecutorError>> {
        Box::pin(async move {
            self.apply_action(T::spec(action)?, ctx)
                .await
                .or_else(Halt::into_outcome)
        })
    }

    fn verify<'a>(
        &'a self,
        action: &'a Action,
        ctx: &'a ActionContext,
    ) -> BoxFuture<'a, Result<ActionOutcome, ExecutorError>> {
        Box::pin(async move {
            self.run_plain(T::spec(action)?, ctx)
                .await
                .or_else(Halt::into_outcome)
        })
    }

    fn rollback<'a>(
        &'a self,
        rollback: &'a Rollback,
        run: &'a Action,
        evidence: Option<&'a Value>,
        ctx: &'a ActionContext,
    ) -> BoxFuture<'a, Result<ActionOutcome, ExecutorError>> {
        Box::pin(async move {
            match rollback {
                Rollback::Auto => self.auto_rollback(T::spec(run)?, evidence, ctx).await,
                Rollback::Action(explicit) => self.run_plain(T::spec(explicit)?, ctx).await,
            }
            .or_else(Halt::into_outcome)
        })
    }

    fn observe<'a>(
        &'a self,
        action: &'a Action,
        evidence: Option<&'a Value>,
        ctx: &'a ActionContext,
    ) -> BoxFuture<'a, Result<Observation, ExecutorError>> {
        Box::pin(async move {
            self.observe_action(T::spec(action)?, evidence, ctx)
                .await
                .map_err(Halt::into_error)
        })
    }
}
