//! [`KubectlExecutor`] and its [`KubeTool`] implementation: what each of
//! the executor's operations does, in terms of the request's steps.

use std::path::Path;

use plangate_plans::{
    ActionSpec, ExecutorKind,
    action::{KubectlAction, KubectlOp},
};
use serde_json::Value;
use tokio::time::Instant;

use super::{evidence::KubectlEvidence, left_changes::left_changes, validate::validate};
use crate::{
    context::ActionContext,
    error::ExecutorError,
    kube::{
        Halt, Invocation, KubeTool, Snapshot, TargetFields, Tool,
        builder::tool_executor_constructors, evidence_json, no_context, parse_evidence, prepare,
        tool_error,
    },
    outcome::{ActionOutcome, LeftChanges, Observation, OutcomeStatus},
    preview::{ChangeKind, Preview, PreviewChange},
};

/// A request of the kubectl executor.
pub(super) type Request<'a> = crate::kube::Request<'a, KubectlAction>;

/// Runs `kubectl:` actions with the real `kubectl` binary.
///
/// ```no_run
/// use plangate_executors::{Executor, KubectlExecutor};
///
/// let executor = KubectlExecutor::new()
///     .with_binary("/opt/bin/kubectl")
///     .with_env("KUBECONFIG", "/etc/plangate/kubeconfig");
/// assert_eq!(executor.kind(), plangate_plans::ExecutorKind::Kubectl);
/// ```
#[derive(Debug)]
pub struct KubectlExecutor {
    tool: Tool,
}

tool_executor_constructors!(
    KubectlExecutor,
    kind: ExecutorKind::Kubectl,
    binary: "kubectl",
    env: "PLANGATE_KUBECTL",
    /// Sets a variable in the environment of every `kubectl` this executor
    /// starts (`KUBECONFIG`, `HOME` for its cache, a proxy).
);

impl KubeTool for KubectlExecutor {
    type Spec = KubectlAction;

    const KIND: ExecutorKind = ExecutorKind::Kubectl;

    const VERSION_ARGS: &'static [&'static str] = &["version", "--client", "-o", "json"];

    /// `clientVersion.gitVersion` of `kubectl version --client -o json`.
    fn parse_version(stdout: &str) -> Option<String> {
        let value: Value = serde_json::from_str(stdout).ok()?;
        value["clientVersion"]["gitVersion"]
            .as_str()
            .map(str::to_owned)
    }

    fn spec_of(spec: &ActionSpec) -> Option<&KubectlAction> {
        match spec {
            ActionSpec::Kubectl(kubectl) => Some(kubectl),
            _ => None,
        }
    }

    fn tool(&self) -> &Tool {
        &self.tool
    }

    fn target_fields(action: &KubectlAction) -> TargetFields<'_> {
        TargetFields {
            context: action.context.as_deref(),
            namespace: action.namespace.as_deref(),
            kubeconfig: action.kubeconfig.as_deref(),
        }
    }

    fn validate(action: &KubectlAction) -> Result<(), ExecutorError> {
        validate(action)
    }

    /// Through `kubectl config current-context`.
    async fn current_context(
        &self,
        invocation: &Invocation<'_>,
        kubeconfig: Option<&Path>,
    ) -> Result<String, Halt> {
        let mut args = vec!["config".to_owned(), "current-context".to_owned()];
        if let Some(kubeconfig) = kubeconfig {
            args.extend([
                "--kubeconfig".to_owned(),
                kubeconfig.to_string_lossy().into_owned(),
            ]);
        }
        let outcome = invocation.probe(&args, &[]).await?;
        let context = outcome.stdout_tail.trim();
        if outcome.succeeded() && !context.is_empty() {
            Ok(context.to_owned())
        } else if outcome.stderr_tail.contains("current-context is not set") {
            Err(Halt::Failed(no_context(ExecutorKind::Kubectl)))
        } else {
            Err(Halt::Failed(tool_error(outcome)))
        }
    }

    fn command_args(request: &Request<'_>) -> Vec<String> {
        request.command_args()
    }

    /// `apply`: snapshot, checkpoint, change, and the new versions.
    async fn apply_action(
        &self,
        action: &KubectlAction,
        ctx: &ActionContext,
    ) -> Result<ActionOutcome, Halt> {
        let started = Instant::now();
        let request = prepare(self, action, ctx, None).await?;
        let mut evidence = request.evidence();
        if changes_objects(action.op) {
            evidence.objects = request.snapshot().await?;
            if action.op == KubectlOp::Apply && action.prune.is_some() {
                evidence.prune_candidates = request.prune_candidates(&evidence.objects).await?;
            }
        }
        ctx.record_evidence(evidence_json(&evidence)).await?;
        let mut outcome = request.invocation.run(&request.command_args()).await?;
        if action.op == KubectlOp::Apply && outcome.exit_code.is_some() {
            match request.applied(&evidence.objects).await {
                Ok(applied) => evidence.applied = applied,
                Err(halt) => tracing::warn!(
                    error = %halt.into_error(),
                    "failed to read the applied objects' versions"
                ),
            }
        }
        outcome.evidence = Some(evidence_json(&evidence));
        outcome.duration = started.elapsed();
        Ok(outcome)
    }

    /// `rollback: auto`.
    async fn auto_rollback(
        &self,
        run: &KubectlAction,
        evidence: Option<&Value>,
        ctx: &ActionContext,
    ) -> Result<ActionOutcome, Halt> {
        if !changes_objects(run.op) {
            let mut outcome = ActionOutcome::new(
                OutcomeStatus::Succeeded,
                format!("auto rollback of kubectl {}", run.op.as_str()),
            );
            outcome.stdout_tail = format!(
                "nothing to undo: `{}` changes nothing in the cluster\n",
                run.op.as_str()
            );
            return Ok(outcome);
        }
        let evidence = parse_evidence::<KubectlEvidence>(ExecutorKind::Kubectl, evidence)?;
        let request = prepare(self, run, ctx, Some(&evidence.target)).await?;
        let mut order: Vec<&Snapshot> = if run.op == KubectlOp::Delete {
            evidence.objects.iter().collect()
        } else {
            evidence.objects.iter().rev().collect()
        };
        order.extend(&evidence.prune_candidates);
        request.restore(&order).await
    }

    async fn preview_action(
        &self,
        action: &KubectlAction,
        ctx: &ActionContext,
    ) -> Result<Preview, Halt> {
        let request = prepare(self, action, ctx, None).await?;
        let context = &request.target.context;
        let preview = match action.op {
            KubectlOp::Apply => request.preview_apply().await?,
            KubectlOp::Delete => {
                let objects = request.snapshot().await?;
                Preview::new(
                    format!(
                        "kubectl delete in context `{context}`: {} to delete",
                        objects.len()
                    ),
                    objects
                        .into_iter()
                        .map(|snapshot| PreviewChange {
                            object: snapshot.object.preview_name(None),
                            change: ChangeKind::Delete,
                            diff: None,
                        })
                        .collect(),
                )
            }
            KubectlOp::Scale | KubectlOp::Patch | KubectlOp::SetImage => {
                request.preview_dry_run().await?
            }
            KubectlOp::RolloutUndo => Preview::new(
                format!(
                    "kubectl rollout undo in context `{context}`: the previous revision of `{}`",
                    request.resource_label()
                ),
                vec![PreviewChange {
                    object: request.preview_label().await,
                    change: ChangeKind::Update,
                    diff: None,
                }],
            ),
            KubectlOp::RolloutStatus | KubectlOp::Wait => Preview::new(
                format!(
                    "kubectl {} in context `{context}`: waits, changes nothing",
                    action.op.as_str()
                ),
                vec![PreviewChange {
                    object: request.preview_label().await,
                    change: ChangeKind::Unchanged,
                    diff: None,
                }],
            ),
        };
        Ok(preview)
    }

    fn left_changes_of(
        &self,
        action: &KubectlAction,
        evidence: Option<&Value>,
        outcome: &ActionOutcome,
    ) -> LeftChanges {
        left_changes(action, evidence, outcome)
    }

    async fn observe_action(
        &self,
        action: &KubectlAction,
        evidence: Option<&Value>,
        ctx: &ActionContext,
    ) -> Result<Observation, Halt> {
        validate(action)?;
        if !changes_objects(action.op) || evidence.is_none() {
            return Ok(Observation::NotApplied);
        }
        let evidence = parse_evidence::<KubectlEvidence>(ExecutorKind::Kubectl, evidence)?;
        let request = prepare(self, action, ctx, Some(&evidence.target)).await?;
        match action.op {
            KubectlOp::Apply => request.observe_apply(&evidence).await,
            _ => request.observe_objects(&evidence.objects).await,
        }
    }
}

/// Whether an operation changes objects (and so has evidence to record).
pub(super) fn changes_objects(op: KubectlOp) -> bool {
    !matches!(op, KubectlOp::RolloutStatus | KubectlOp::Wait)
}
