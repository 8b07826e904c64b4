//! [`HelmExecutor`] and its [`KubeTool`] implementation.

use std::path::Path;

use plangate_plans::{
    ActionSpec, ExecutorKind,
    action::{HelmAction, HelmOp},
};
use serde_json::Value;
use tokio::time::Instant;

use super::{evidence::HelmEvidence, preview::compare, validate::validate};
use crate::{
    context::ActionContext,
    error::ExecutorError,
    kube::{
        Halt, Invocation, KubeTool, Steps, TargetFields, Tool, builder::tool_executor_constructors,
        evidence_json, format_go_duration, kubeconfig_current_context, no_context, parse_evidence,
        prepare,
    },
    outcome::{ActionOutcome, LeftChanges, Observation, OutcomeStatus},
    preview::{ChangeKind, Preview, PreviewChange},
};

/// A request of the helm executor.
pub(super) type Request<'a> = crate::kube::Request<'a, HelmAction>;

/// Runs `helm:` actions with the real `helm` binary.
///
/// ```no_run
/// use plangate_executors::{Executor, HelmExecutor};
///
/// let executor = HelmExecutor::new()
///     .with_binary("/opt/bin/helm")
///     .with_env("HELM_CACHE_HOME", "/var/cache/plangate/helm");
/// assert_eq!(executor.kind(), plangate_plans::ExecutorKind::Helm);
/// ```
#[derive(Debug)]
pub struct HelmExecutor {
    tool: Tool,
}

tool_executor_constructors!(
    HelmExecutor,
    kind: ExecutorKind::Helm,
    binary: "helm",
    env: "PLANGATE_HELM",
    /// Sets a variable in the environment of every `helm` this executor
    /// starts (`KUBECONFIG`, `HELM_CACHE_HOME`, ...). `KUBECONFIG` and `HOME`
    /// set here also decide where the current context is read from.
);

impl KubeTool for HelmExecutor {
    type Spec = HelmAction;

    const KIND: ExecutorKind = ExecutorKind::Helm;

    const VERSION_ARGS: &'static [&'static str] = &["version", "--short"];

    /// The first line of `helm version --short` (`v4.1.4+g05fa379`).
    fn parse_version(stdout: &str) -> Option<String> {
        stdout
            .lines()
            .map(str::trim)
            .find(|line| line.starts_with('v'))
            .map(str::to_owned)
    }

    fn spec_of(spec: &ActionSpec) -> Option<&HelmAction> {
        match spec {
            ActionSpec::Helm(helm) => Some(helm),
            _ => None,
        }
    }

    fn tool(&self) -> &Tool {
        &self.tool
    }

    fn target_fields(action: &HelmAction) -> TargetFields<'_> {
        TargetFields {
            context: action.context.as_deref(),
            namespace: action.namespace.as_deref(),
            kubeconfig: action.kubeconfig.as_deref(),
        }
    }

    fn validate(action: &HelmAction) -> Result<(), ExecutorError> {
        validate(action)
    }

    /// Read from the kubeconfig files themselves, so Helm works without
    /// kubectl.
    async fn current_context(
        &self,
        _invocation: &Invocation<'_>,
        kubeconfig: Option<&Path>,
    ) -> Result<String, Halt> {
        let context = kubeconfig_current_context(kubeconfig, self.tool.env())
            .await
            .map_err(|source| ExecutorError::Kubeconfig {
                kind: ExecutorKind::Helm,
                source,
            })?
            .ok_or_else(|| no_context(ExecutorKind::Helm))?;
        Ok(context)
    }

    fn command_args(request: &Request<'_>) -> Vec<String> {
        request.command_args()
    }

    async fn apply_action(
        &self,
        action: &HelmAction,
        ctx: &ActionContext,
    ) -> Result<ActionOutcome, Halt> {
        let started = Instant::now();
        let request = prepare(self, action, ctx, None).await?;
        let mut evidence = HelmEvidence {
            tool_version: request.version.clone(),
            op: action.op,
            release: action.release.clone(),
            target: request.target.clone(),
            previous_revision: None,
            previous_status: None,
            revision: None,
            status: None,
            read_after: false,
        };
        if action.op != HelmOp::Test
            && let Some(current) = request.latest().await?
        {
            evidence.previous_revision = Some(current.revision);
            evidence.previous_status = Some(current.status);
        }
        ctx.record_evidence(evidence_json(&evidence)).await?;
        let mut outcome = request.invocation.run(&request.command_args()).await?;
        if matches!(action.op, HelmOp::Upgrade | HelmOp::Rollback) && outcome.exit_code.is_some() {
            match request.latest().await {
                Ok(latest) => {
                    evidence.read_after = true;
                    evidence.revision = latest.as_ref().map(|latest| latest.revision);
                    evidence.status = latest.map(|latest| latest.status);
                }
                Err(halt) => tracing::warn!(
                    error = %halt.into_error(),
                    "failed to read the release's new revision"
                ),
            }
        }
        outcome.evidence = Some(evidence_json(&evidence));
        outcome.duration = started.elapsed();
        Ok(outcome)
    }

    async fn auto_rollback(
        &self,
        run: &HelmAction,
        evidence: Option<&Value>,
        ctx: &ActionContext,
    ) -> Result<ActionOutcome, Halt> {
        match run.op {
            HelmOp::Uninstall => {
                return Err(Halt::Failed(ExecutorError::UnsupportedRollback {
                    kind: ExecutorKind::Helm,
                }));
            }
            HelmOp::Test => {
                let mut outcome = ActionOutcome::new(
                    OutcomeStatus::Succeeded,
                    format!("auto rollback of helm test {}", run.release),
                );
                "nothing to undo: `test` changes no release\n".clone_into(&mut outcome.stdout_tail);
                return Ok(outcome);
            }
            HelmOp::Upgrade | HelmOp::Rollback => {}
        }
        let evidence = parse_evidence::<HelmEvidence>(ExecutorKind::Helm, evidence)?;
        let request = prepare(self, run, ctx, Some(&evidence.target)).await?;
        let mut args = match (run.op, evidence.previous_revision) {
            (_, Some(revision)) => vec![
                "rollback".to_owned(),
                run.release.clone(),
                revision.to_string(),
            ],
            (HelmOp::Upgrade, None) => vec![
                "uninstall".to_owned(),
                run.release.clone(),
                "--ignore-not-found".to_owned(),
            ],
            _ => {
                let mut steps = Steps::new(ctx.output_limit);
                steps.note("nothing to undo: the release did not exist before the rollback");
                return Ok(steps.finish(
                    &format!("auto rollback of helm rollback {}", run.release),
                    Some(serde_json::json!({ "tool_version": request.version })),
                ));
            }
        };
        if run.wait {
            args.push("--wait".to_owned());
        }
        if let Some(timeout) = run.timeout {
            args.push(format!("--timeout={}", format_go_duration(timeout.get())));
        }
        args.extend(request.target.helm_args());
        let mut outcome = request.invocation.run(&args).await?;
        outcome.evidence = Some(serde_json::json!({ "tool_version": request.version }));
        Ok(outcome)
    }

    async fn preview_action(
        &self,
        action: &HelmAction,
        ctx: &ActionContext,
    ) -> Result<Preview, Halt> {
        let request = prepare(self, action, ctx, None).await?;
        let release = &action.release;
        let context = &request.target.context;
        let namespace = request.namespace().await;
        match action.op {
            HelmOp::Upgrade => {
                let current = request.latest().await?;
                let old = match &current {
                    Some(_) => request.manifest(None).await?,
                    None => String::new(),
                };
                let new = request.rendered().await?;
                let (changes, counts) = compare(&old, &new, &namespace)?;
                let state = match &current {
                    Some(current) => format!(
                        "revision {} ({}) would be upgraded",
                        current.revision, current.status
                    ),
                    None => "it would be installed".to_owned(),
                };
                Ok(Preview::new(
                    format!(
                        "helm release `{release}` in context `{context}`: {state}: {}",
                        counts.describe()
                    ),
                    changes,
                ))
            }
            HelmOp::Rollback => {
                let Some(current) = request.latest().await? else {
                    return Ok(Preview::new(
                        format!(
                            "helm release `{release}` in context `{context}` does not exist: the rollback would fail"
                        ),
                        Vec::new(),
                    ));
                };
                let target = action
                    .revision
                    .unwrap_or_else(|| current.revision.saturating_sub(1));
                let old = request.manifest(None).await?;
                let new = request.manifest(Some(target)).await?;
                let (changes, counts) = compare(&old, &new, &namespace)?;
                Ok(Preview::new(
                    format!(
                        "helm release `{release}` in context `{context}`: revision {} would roll back to revision {target}: {}",
                        current.revision,
                        counts.describe()
                    ),
                    changes,
                ))
            }
            HelmOp::Uninstall => {
                let old = match request.latest().await? {
                    Some(_) => request.manifest(None).await?,
                    None => String::new(),
                };
                let (changes, counts) = compare(&old, "", &namespace)?;
                Ok(Preview::new(
                    format!(
                        "helm release `{release}` in context `{context}` would be uninstalled: {}",
                        counts.describe()
                    ),
                    changes,
                ))
            }
            HelmOp::Test => Ok(Preview::new(
                format!("helm release `{release}` in context `{context}`: its tests would run"),
                vec![PreviewChange {
                    object: format!("release {release}"),
                    change: ChangeKind::Unknown,
                    diff: None,
                }],
            )),
        }
    }

    /// A `test` changes no release; an `upgrade` or `rollback` that failed
    /// without creating a revision (the release's latest revision is the one
    /// recorded before, or it still does not exist) changed nothing. When the
    /// revision after it could not be read, it is unknown.
    fn left_changes_of(
        &self,
        action: &HelmAction,
        evidence: Option<&Value>,
        outcome: &ActionOutcome,
    ) -> LeftChanges {
        let release = &action.release;
        if action.op == HelmOp::Test {
            return LeftChanges::None {
                reason: "`test` changes no release".to_owned(),
            };
        }
        let Some(evidence) = outcome.evidence.as_ref().or(evidence) else {
            return LeftChanges::None {
                reason: format!(
                    "it failed before it recorded the revision of release `{release}`, so before it changed anything"
                ),
            };
        };
        let Ok(evidence) = parse_evidence::<HelmEvidence>(ExecutorKind::Helm, Some(evidence))
        else {
            return LeftChanges::Unknown;
        };
        if action.op == HelmOp::Uninstall || outcome.exit_code.is_none() {
            return LeftChanges::Unknown;
        }
        if !evidence.read_after {
            return LeftChanges::Unknown;
        }
        let unchanged = match (evidence.previous_revision, evidence.revision) {
            (Some(previous), Some(now)) => previous == now,
            (None, None) => true,
            _ => false,
        };
        if !unchanged {
            return LeftChanges::Some;
        }
        LeftChanges::None {
            reason: match evidence.previous_revision {
                Some(revision) => {
                    format!(
                        "release `{release}` is still at revision {revision}: no revision was created"
                    )
                }
                None => format!("release `{release}` still does not exist"),
            },
        }
    }

    async fn observe_action(
        &self,
        action: &HelmAction,
        evidence: Option<&Value>,
        ctx: &ActionContext,
    ) -> Result<Observation, Halt> {
        validate(action)?;
        if action.op == HelmOp::Test || evidence.is_none() {
            return Ok(Observation::NotApplied);
        }
        let evidence = parse_evidence::<HelmEvidence>(ExecutorKind::Helm, evidence)?;
        let request = prepare(self, action, ctx, Some(&evidence.target)).await?;
        let latest = request.latest().await?;
        let previous = evidence.previous_revision.unwrap_or(0);
        let release = &action.release;
        Ok(match (action.op, latest) {
            (HelmOp::Uninstall, None) => Observation::Applied,
            (HelmOp::Uninstall, Some(latest)) if latest.status == "uninstalled" => {
                Observation::Applied
            }
            (HelmOp::Uninstall, Some(latest))
                if latest.revision == previous
                    && Some(&latest.status) == evidence.previous_status.as_ref() =>
            {
                Observation::NotApplied
            }
            (HelmOp::Uninstall, Some(latest)) => Observation::Partial {
                detail: format!(
                    "release `{release}` is still there, at revision {} ({})",
                    latest.revision, latest.status
                ),
            },
            (_, None) => Observation::NotApplied,
            (_, Some(latest)) if latest.revision <= previous => Observation::NotApplied,
            (_, Some(latest)) if latest.status == "deployed" => Observation::Applied,
            (_, Some(latest)) => Observation::Partial {
                detail: format!(
                    "release `{release}` has a new revision {}, but it is {}",
                    latest.revision, latest.status
                ),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn upgrade() -> HelmAction {
        serde_yaml::from_str("op: upgrade\nrelease: api\nchart: charts/api").expect("valid")
    }

    fn failed(previous: Option<u32>, revision: Option<u32>) -> ActionOutcome {
        let mut outcome = ActionOutcome::new(OutcomeStatus::Failed, "helm upgrade");
        outcome.exit_code = Some(1);
        outcome.evidence = Some(json!({
            "tool_version": "v4.1.4", "op": "upgrade", "release": "api",
            "target": {"context": "dev", "namespace": "demo", "kubeconfig": null},
            "previous_revision": previous, "previous_status": previous.map(|_| "deployed"),
            "revision": revision, "status": revision.map(|_| "failed"),
            "read_after": revision.is_some() || previous.is_none(),
        }));
        outcome
    }

    #[test]
    fn a_failed_upgrade_without_a_new_revision_left_nothing() {
        let executor = HelmExecutor::new();
        assert_eq!(
            executor.left_changes_of(&upgrade(), None, &failed(Some(3), Some(3))),
            LeftChanges::None {
                reason: "release `api` is still at revision 3: no revision was created".to_owned()
            }
        );
        assert_eq!(
            executor.left_changes_of(&upgrade(), None, &failed(None, None)),
            LeftChanges::None {
                reason: "release `api` still does not exist".to_owned()
            }
        );
        assert_eq!(
            executor.left_changes_of(&upgrade(), None, &failed(Some(3), Some(4))),
            LeftChanges::Some
        );
        assert_eq!(
            executor.left_changes_of(&upgrade(), None, &failed(Some(3), None)),
            LeftChanges::Unknown,
            "the revision after it was not read"
        );
        let mut no_evidence = failed(None, None);
        no_evidence.evidence = None;
        assert!(matches!(
            executor.left_changes_of(&upgrade(), None, &no_evidence),
            LeftChanges::None { reason } if reason.contains("before it recorded the revision")
        ));
        let test: HelmAction = serde_yaml::from_str("op: test\nrelease: api").expect("valid");
        assert!(matches!(
            executor.left_changes_of(&test, None, &no_evidence),
            LeftChanges::None { .. }
        ));
    }

    #[test]
    fn versions() {
        assert_eq!(
            HelmExecutor::parse_version("v4.1.4+g05fa379\n"),
            Some("v4.1.4+g05fa379".to_owned())
        );
        assert_eq!(HelmExecutor::parse_version(""), None);
    }
}
