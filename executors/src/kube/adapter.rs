//! The [`Executor`] implementation kubectl and helm share: each takes its
//! own action kind, stops early with [`Halt`], and has the same five
//! operations; this turns them into the executor's contract once, and holds
//! what both do the same way (preparing a request, running a verify or an
//! explicit rollback, reading and writing evidence).

use std::{future::Future, path::Path};

use plangate_plans::{Action, ActionSpec, ExecutorKind, Rollback};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;
use tokio::time::Instant;

use super::{Halt, Invocation, Request, TargetFields, Tool, prepare};
use crate::{
    ActionContext, ActionOutcome, BoxFuture, Executor, ExecutorError, LeftChanges, Observation,
    Preview,
};

/// An executor for one kind of cluster action.
pub(crate) trait KubeTool: Send + Sync {
    /// Its action's fields.
    type Spec: Sync;

    /// The kind it runs.
    const KIND: ExecutorKind;

    /// The arguments that print the tool's version.
    const VERSION_ARGS: &'static [&'static str];

    /// The version in the output of [`VERSION_ARGS`](Self::VERSION_ARGS).
    fn parse_version(stdout: &str) -> Option<String>;

    /// The fields of an action of this kind; `None` for another kind.
    fn spec_of(spec: &ActionSpec) -> Option<&Self::Spec>;

    /// The binary setting it runs.
    fn tool(&self) -> &Tool;

    /// The action's own context, namespace and kubeconfig.
    fn target_fields(spec: &Self::Spec) -> TargetFields<'_>;

    /// Checks the fields its operation needs; plan validation should have
    /// caught every case.
    fn validate(spec: &Self::Spec) -> Result<(), ExecutorError>;

    /// The kubeconfig's current context, when none is configured.
    fn current_context<'a>(
        &'a self,
        invocation: &'a Invocation<'a>,
        kubeconfig: Option<&'a Path>,
    ) -> impl Future<Output = Result<String, Halt>> + Send + 'a;

    /// The action's own command line (after the binary).
    fn command_args(request: &Request<'_, Self::Spec>) -> Vec<String>;

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

    /// Undoes `run` from the evidence its attempt recorded.
    fn auto_rollback<'a>(
        &'a self,
        run: &'a Self::Spec,
        evidence: Option<&'a Value>,
        ctx: &'a ActionContext,
    ) -> impl Future<Output = Result<ActionOutcome, Halt>> + Send + 'a;

    /// Whether a failed `apply` left anything to undo (see
    /// [`Executor::left_changes`]); `Unknown` unless the executor can tell.
    fn left_changes_of(
        &self,
        _spec: &Self::Spec,
        _evidence: Option<&Value>,
        _outcome: &ActionOutcome,
    ) -> LeftChanges {
        LeftChanges::Unknown
    }

    /// Whether a cut-off action had taken effect.
    fn observe_action<'a>(
        &'a self,
        spec: &'a Self::Spec,
        evidence: Option<&'a Value>,
        ctx: &'a ActionContext,
    ) -> impl Future<Output = Result<Observation, Halt>> + Send + 'a;
}

/// The fields of `action`, or [`ExecutorError::WrongKind`].
fn spec<T: KubeTool>(action: &Action) -> Result<&T::Spec, ExecutorError> {
    T::spec_of(&action.spec).ok_or_else(|| ExecutorError::WrongKind {
        executor: T::KIND,
        action: action.spec.kind(),
    })
}

/// Runs the action without snapshots: a verify, or an explicit rollback.
async fn run_plain<'a, T: KubeTool>(
    executor: &'a T,
    action: &'a T::Spec,
    ctx: &'a ActionContext,
) -> Result<ActionOutcome, Halt> {
    let started = Instant::now();
    let request = prepare(executor, action, ctx, None).await?;
    let mut outcome = request.invocation.run(&T::command_args(&request)).await?;
    outcome.evidence = Some(serde_json::json!({ "tool_version": request.version }));
    outcome.duration = started.elapsed();
    Ok(outcome)
}

/// Evidence as recorded in the state file.
pub(crate) fn evidence_json<E: Serialize>(evidence: &E) -> Value {
    serde_json::to_value(evidence)
        .expect("evidence always serialises: it holds only strings, numbers and JSON values")
}

/// The evidence an attempt recorded, read back.
pub(crate) fn parse_evidence<E: DeserializeOwned>(
    kind: ExecutorKind,
    evidence: Option<&Value>,
) -> Result<E, Halt> {
    let evidence = evidence.ok_or(ExecutorError::MissingEvidence { kind })?;
    serde_json::from_value(evidence.clone())
        .map_err(|source| Halt::Failed(ExecutorError::InvalidEvidence { kind, source }))
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
            self.preview_action(spec::<T>(action)?, ctx)
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
            self.apply_action(spec::<T>(action)?, ctx)
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
            run_plain(self, spec::<T>(action)?, ctx)
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
                Rollback::Auto => self.auto_rollback(spec::<T>(run)?, evidence, ctx).await,
                Rollback::Action(explicit) => run_plain(self, spec::<T>(explicit)?, ctx).await,
            }
            .or_else(Halt::into_outcome)
        })
    }

    fn left_changes(
        &self,
        action: &Action,
        evidence: Option<&Value>,
        outcome: &ActionOutcome,
    ) -> LeftChanges {
        match spec::<T>(action) {
            Ok(spec) => self.left_changes_of(spec, evidence, outcome),
            Err(_) => LeftChanges::Unknown,
        }
    }

    fn observe<'a>(
        &'a self,
        action: &'a Action,
        evidence: Option<&'a Value>,
        ctx: &'a ActionContext,
    ) -> BoxFuture<'a, Result<Observation, ExecutorError>> {
        Box::pin(async move {
            self.observe_action(spec::<T>(action)?, evidence, ctx)
                .await
                .map_err(Halt::into_error)
        })
    }
}
