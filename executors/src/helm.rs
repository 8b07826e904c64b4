//! [`HelmExecutor`]: runs `helm:` actions with the real `helm`.
//!
//! The binary is the executor instance's `binary`, else
//! [`HelmExecutor::BINARY_ENV`] (`PLANGATE_HELM`), else `helm` on `PATH`; its
//! version (`helm version --short`) is asked once per binary and recorded in
//! every action's evidence as `tool_version`.
//!
//! Context, namespace and kubeconfig are resolved as for kubectl (see the
//! `kubectl` module): the action's, the executor instance's, the plan's
//! `vars.kube_context` and `vars.namespace`, then the kubeconfig's current
//! context, which this executor reads from the kubeconfig files itself
//! (`--kubeconfig`, else `$KUBECONFIG`, else `~/.kube/config`) so Helm works
//! without kubectl. The context is always passed as `--kube-context`, and
//! the same wrong-cluster guard applies: a `prod`/`production` plan refuses
//! a context whose name lacks `prod`, any other plan one whose name has it,
//! unless the instance sets `allow_context_mismatch: true`.
//!
//! # Evidence, rollback and observation
//!
//! Before `upgrade`, `rollback` and `uninstall`, the release's current
//! revision is recorded (`helm history RELEASE --max 1 -o json`):
//! `{"tool_version", "op", "release", "target", "previous_revision",
//! "previous_status"}`, with `previous_revision: null` when the release does
//! not exist. The outcome adds the `revision` and `status` the release has
//! afterwards.
//!
//! `rollback: auto` of an `upgrade` (or of a `rollback`) is `helm rollback
//! RELEASE PREVIOUS_REVISION`, or `helm uninstall` when the release did not
//! exist. An `uninstall` has no automatic rollback: reinstalling needs the
//! chart and values, which the release no longer holds once uninstalled
//! without `--keep-history`. `test` changes nothing to undo.
//!
//! `observe` reads the release's history: a revision newer than the recorded
//! one that is `deployed` means applied, one that `failed` (or is still
//! pending) partly applied, none not applied.
//!
//! # Preview
//!
//! An `upgrade` renders the chart with `helm upgrade --install --dry-run=server`
//! and compares it, object by object (kind, namespace, name), with the
//! release's current manifest (`helm get manifest`): created, changed (with a
//! diff), deleted or unchanged. A `rollback` compares the target revision's
//! manifest with the current one; an `uninstall` deletes every object of the
//! current manifest. Secret values are masked in diffs.

use plangate_plans::{
    Action, ActionSpec, ExecutorKind,
    action::{HelmAction, HelmOp},
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::time::Instant;

use crate::{
    context::ActionContext,
    error::ExecutorError,
    kube::{
        ChangeCounts, Halt, Invocation, KubeTool, ObjectRef, Steps, Target, TargetFields, Tool,
        check_context, configured, format_go_duration, kubeconfig_current_context, no_context,
        object_diff, tool_error,
    },
    outcome::{ActionOutcome, Observation, OutcomeStatus},
    preview::{ChangeKind, Preview, PreviewChange},
};

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

impl Default for HelmExecutor {
    fn default() -> Self {
        Self::new()
    }
}

impl HelmExecutor {
    /// The environment variable naming the default binary.
    pub const BINARY_ENV: &'static str = "PLANGATE_HELM";

    /// The executor, running [`BINARY_ENV`](Self::BINARY_ENV) if set, else
    /// `helm` on `PATH` (an executor instance's `binary` wins over both).
    pub fn new() -> Self {
        Self {
            tool: Tool::from_env(ExecutorKind::Helm, Self::BINARY_ENV, "helm"),
        }
    }

    /// Runs `binary` unless an executor instance names another.
    #[must_use]
    pub fn with_binary(mut self, binary: impl Into<String>) -> Self {
        self.tool.set_default_binary(binary.into());
        self
    }

    /// Sets a variable in the environment of every `helm` this executor
    /// starts (`KUBECONFIG`, `HELM_CACHE_HOME`, ...). `KUBECONFIG` and `HOME`
    /// set here also decide where the current context is read from.
    #[must_use]
    pub fn with_env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.tool.set_env(name.into(), value.into());
        self
    }

    async fn prepare<'a>(
        &'a self,
        action: &'a HelmAction,
        ctx: &'a ActionContext,
        recorded: Option<&Target>,
    ) -> Result<Request<'a>, Halt> {
        validate(action)?;
        let configured = configured(
            ExecutorKind::Helm,
            TargetFields {
                context: action.context.as_deref(),
                namespace: action.namespace.as_deref(),
                kubeconfig: action.kubeconfig.as_deref(),
            },
            ctx,
        )?;
        // A recorded target passed the guard when the change was made there;
        // undoing or observing the change must reach the same cluster.
        let target = match recorded {
            Some(recorded) => recorded.clone(),
            None => {
                let context = match configured.context {
                    Some(context) => context,
                    None => kubeconfig_current_context(
                        configured.kubeconfig.as_deref(),
                        self.tool.env(),
                    )
                    .await
                    .map_err(|error| ExecutorError::InvalidAction {
                        kind: ExecutorKind::Helm,
                        reason: format!(
                            "its kubeconfig cannot be read for its current context: {error}"
                        ),
                    })?
                    .ok_or_else(|| no_context(ExecutorKind::Helm))?,
                };
                check_context(
                    ExecutorKind::Helm,
                    &ctx.environment,
                    &context,
                    configured.allow_context_mismatch,
                )?;
                Target {
                    context,
                    namespace: configured.namespace,
                    kubeconfig: configured.kubeconfig,
                }
            }
        };
        let invocation = self.tool.invocation(ctx);
        let version = self
            .tool
            .version(&invocation, &["version", "--short"], parse_version)
            .await?;
        Ok(Request {
            action,
            invocation,
            target,
            version,
        })
    }
}

impl KubeTool for HelmExecutor {
    type Spec = HelmAction;

    const KIND: ExecutorKind = ExecutorKind::Helm;

    fn spec(action: &Action) -> Result<&HelmAction, ExecutorError> {
        helm_action(action)
    }

    async fn apply_action(
        &self,
        action: &HelmAction,
        ctx: &ActionContext,
    ) -> Result<ActionOutcome, Halt> {
        let started = Instant::now();
        let request = self.prepare(action, ctx, None).await?;
        let mut evidence = HelmEvidence {
            tool_version: request.version.clone(),
            op: action.op,
            release: action.release.clone(),
            target: request.target.clone(),
            previous_revision: None,
            previous_status: None,
            revision: None,
            status: None,
        };
        if action.op != HelmOp::Test
            && let Some(current) = request.latest().await?
        {
            evidence.previous_revision = Some(current.revision);
            evidence.previous_status = Some(current.status);
        }
        ctx.record_evidence(to_json(&evidence)).await?;
        let mut outcome = request.invocation.run(&request.command_args()).await?;
        if matches!(action.op, HelmOp::Upgrade | HelmOp::Rollback) && outcome.exit_code.is_some() {
            match request.latest().await {
                Ok(latest) => {
                    evidence.revision = latest.as_ref().map(|latest| latest.revision);
                    evidence.status = latest.map(|latest| latest.status);
                }
                Err(halt) => tracing::warn!(
                    error = %halt.into_error(),
                    "failed to read the release's new revision"
                ),
            }
        }
        outcome.evidence = Some(to_json(&evidence));
        outcome.duration = started.elapsed();
        Ok(outcome)
    }
    async fn run_plain(
        &self,
        action: &HelmAction,
        ctx: &ActionContext,
    ) -> Result<ActionOutcome, Halt> {
        let started = Instant::now();
        let request = self.prepare(action, ctx, None).await?;
        let mut outcome = request.invocation.run(&request.command_args()).await?;
        outcome.evidence = Some(serde_json::json!({ "tool_version": request.version }));
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
        let evidence = parse_evidence(evidence)?;
        let request = self.prepare(run, ctx, Some(&evidence.target)).await?;
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
        let request = self.prepare(action, ctx, None).await?;
        let release = &action.release;
        let context = &request.target.context;
        match action.op {
            HelmOp::Upgrade => {
                let current = request.latest().await?;
                let old = match &current {
                    Some(_) => request.manifest(None).await?,
                    None => String::new(),
                };
                let new = request.rendered().await?;
                let (changes, counts) = compare(&old, &new)?;
                let state = match &current {
                    Some(current) => format!(
                        "revision {} ({}) would be upgraded",
                        current.revision, current.status
                    ),
                    None => "it would be installed".to_owned(),
                };
                Ok(Preview {
                    summary: format!(
                        "helm release `{release}` in context `{context}`: {state}: {}",
                        counts.describe()
                    ),
                    changes,
                })
            }
            HelmOp::Rollback => {
                let Some(current) = request.latest().await? else {
                    return Ok(Preview {
                        summary: format!(
                            "helm release `{release}` in context `{context}` does not exist: the rollback would fail"
                        ),
                        changes: Vec::new(),
                    });
                };
                let target = action
                    .revision
                    .unwrap_or_else(|| current.revision.saturating_sub(1));
                let old = request.manifest(None).await?;
                let new = request.manifest(Some(target)).await?;
                let (changes, counts) = compare(&old, &new)?;
                Ok(Preview {
                    summary: format!(
                        "helm release `{release}` in context `{context}`: revision {} would roll back to revision {target}: {}",
                        current.revision,
                        counts.describe()
                    ),
                    changes,
                })
            }
            HelmOp::Uninstall => {
                let old = match request.latest().await? {
                    Some(_) => request.manifest(None).await?,
                    None => String::new(),
                };
                let (changes, counts) = compare(&old, "")?;
                Ok(Preview {
                    summary: format!(
                        "helm release `{release}` in context `{context}` would be uninstalled: {}",
                        counts.describe()
                    ),
                    changes,
                })
            }
            HelmOp::Test => Ok(Preview {
                summary: format!(
                    "helm release `{release}` in context `{context}`: its tests would run"
                ),
                changes: vec![PreviewChange {
                    object: format!("release {release}"),
                    change: ChangeKind::Unknown,
                    diff: None,
                }],
            }),
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
        let evidence = parse_evidence(evidence)?;
        let request = self.prepare(action, ctx, Some(&evidence.target)).await?;
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

/// What the executor records for an action.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct HelmEvidence {
    tool_version: String,
    op: HelmOp,
    release: String,
    target: Target,
    previous_revision: Option<u32>,
    #[serde(default)]
    previous_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    revision: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status: Option<String>,
}

/// One entry of `helm history -o json`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
struct Revision {
    revision: u32,
    status: String,
}

struct Request<'a> {
    action: &'a HelmAction,
    invocation: Invocation<'a>,
    target: Target,
    version: String,
}

impl Request<'_> {
    /// `--timeout` from the action.
    fn timeout_arg(&self) -> Option<String> {
        self.action
            .timeout
            .map(|timeout| format!("--timeout={}", format_go_duration(timeout.get())))
    }

    /// `upgrade --install RELEASE CHART` with the chart's inputs, but without
    /// waiting: shared by the action and its dry run.
    fn upgrade_args(&self) -> Vec<String> {
        let action = self.action;
        let mut args = vec![
            "upgrade".to_owned(),
            "--install".to_owned(),
            action.release.clone(),
            action.chart.clone().unwrap_or_default(),
        ];
        for values in &action.values {
            args.extend(["-f".to_owned(), values.clone()]);
        }
        for (key, value) in &action.set {
            args.extend(["--set".to_owned(), format!("{key}={value}")]);
        }
        if let Some(version) = &action.version {
            args.extend(["--version".to_owned(), version.clone()]);
        }
        if action.create_namespace {
            args.push("--create-namespace".to_owned());
        }
        args
    }

    fn command_args(&self) -> Vec<String> {
        let action = self.action;
        let mut args = match action.op {
            HelmOp::Upgrade => {
                let mut args = self.upgrade_args();
                if action.wait {
                    args.push("--wait".to_owned());
                }
                if action.atomic {
                    // Helm 4 renamed `--atomic`, which it still accepts with a warning.
                    let flag = if self.version.starts_with("v3.") {
                        "--atomic"
                    } else {
                        "--rollback-on-failure"
                    };
                    args.push(flag.to_owned());
                }
                args
            }
            HelmOp::Uninstall => {
                let mut args = vec!["uninstall".to_owned(), action.release.clone()];
                if action.wait {
                    args.push("--wait".to_owned());
                }
                args
            }
            HelmOp::Test => vec!["test".to_owned(), action.release.clone()],
            HelmOp::Rollback => {
                let mut args = vec!["rollback".to_owned(), action.release.clone()];
                args.extend(action.revision.map(|revision| revision.to_string()));
                if action.wait {
                    args.push("--wait".to_owned());
                }
                args
            }
        };
        args.extend(self.timeout_arg());
        args.extend(self.target.helm_args());
        args
    }

    /// The release's latest revision, `None` when it does not exist.
    async fn latest(&self) -> Result<Option<Revision>, Halt> {
        let mut args = vec![
            "history".to_owned(),
            self.action.release.clone(),
            "--max".to_owned(),
            "1".to_owned(),
            "-o".to_owned(),
            "json".to_owned(),
        ];
        args.extend(self.target.helm_args());
        let outcome = self.invocation.probe(&args, &[]).await?;
        if !outcome.succeeded() {
            // Only this message means the release is absent: a missing
            // context or namespace must not read as "no release", or a
            // rollback would uninstall what it should restore.
            if outcome.stderr_tail.contains("release: not found") {
                return Ok(None);
            }
            return Err(Halt::Failed(tool_error(outcome)));
        }
        let history: Vec<Revision> = serde_json::from_str(outcome.stdout_tail.trim())
            .map_err(|error| not_json(&self.invocation, &args, &error))?;
        Ok(history.into_iter().max_by_key(|revision| revision.revision))
    }

    /// The release's manifest: the current one, or that of `revision`.
    async fn manifest(&self, revision: Option<u32>) -> Result<String, Halt> {
        let mut args = vec![
            "get".to_owned(),
            "manifest".to_owned(),
            self.action.release.clone(),
        ];
        if let Some(revision) = revision {
            args.push(format!("--revision={revision}"));
        }
        args.extend(self.target.helm_args());
        self.invocation.query(&args).await
    }

    /// The manifest the upgrade would install, rendered by a server-side
    /// dry run.
    async fn rendered(&self) -> Result<String, Halt> {
        let mut args = self.upgrade_args();
        args.extend([
            "--dry-run=server".to_owned(),
            "-o".to_owned(),
            "json".to_owned(),
        ]);
        args.extend(self.target.helm_args());
        let stdout = self.invocation.query(&args).await?;
        let release: Value = serde_json::from_str(&stdout)
            .map_err(|error| not_json(&self.invocation, &args, &error))?;
        Ok(release["manifest"].as_str().unwrap_or_default().to_owned())
    }
}

/// The per-object changes from manifest `old` to manifest `new`.
fn compare(old: &str, new: &str) -> Result<(Vec<PreviewChange>, ChangeCounts), Halt> {
    let old = manifest_objects(old)?;
    let new = manifest_objects(new)?;
    let mut changes = Vec::new();
    let mut counts = ChangeCounts::default();
    for (identity, object) in &new {
        let before = old
            .iter()
            .find(|(known, _)| known.same_kind_and_name(identity))
            .map(|(_, before)| before);
        let name = identity.to_string();
        let (change, diff) = match before {
            None => (
                ChangeKind::Create,
                object_diff(&Value::Null, object, "/dev/null", &format!("new/{name}")),
            ),
            Some(before) => match object_diff(
                before,
                object,
                &format!("current/{name}"),
                &format!("new/{name}"),
            ) {
                Some(diff) => (ChangeKind::Update, Some(diff)),
                None => (ChangeKind::Unchanged, None),
            },
        };
        counts.add(change);
        changes.push(PreviewChange {
            object: name,
            change,
            diff,
        });
    }
    for (identity, object) in &old {
        if !new
            .iter()
            .any(|(known, _)| known.same_kind_and_name(identity))
        {
            let name = identity.to_string();
            counts.add(ChangeKind::Delete);
            changes.push(PreviewChange {
                diff: object_diff(
                    object,
                    &Value::Null,
                    &format!("current/{name}"),
                    "/dev/null",
                ),
                object: name,
                change: ChangeKind::Delete,
            });
        }
    }
    Ok((changes, counts))
}

/// The objects of a multi-document YAML manifest, with their identities.
fn manifest_objects(manifest: &str) -> Result<Vec<(ObjectRef, Value)>, Halt> {
    let mut objects = Vec::new();
    for document in serde_yaml::Deserializer::from_str(manifest) {
        let object = Value::deserialize(document).map_err(|error| {
            Halt::Failed(ExecutorError::Tool {
                command: "helm (reading a release manifest)".to_owned(),
                exit_code: Some(0),
                signal: None,
                stderr_tail: format!("the manifest is not valid YAML: {error}"),
            })
        })?;
        if let Some(identity) = ObjectRef::of(&object) {
            objects.push((identity, object));
        }
    }
    Ok(objects)
}

fn not_json(invocation: &Invocation<'_>, args: &[String], error: &serde_json::Error) -> Halt {
    Halt::Failed(ExecutorError::Tool {
        command: invocation.command_line(args),
        exit_code: Some(0),
        signal: None,
        stderr_tail: format!("its output is not the JSON expected: {error}"),
    })
}

/// The first line of `helm version --short` (`v4.1.4+g05fa379`).
fn parse_version(stdout: &str) -> Option<String> {
    stdout
        .lines()
        .map(str::trim)
        .find(|line| line.starts_with('v'))
        .map(str::to_owned)
}

fn to_json(evidence: &HelmEvidence) -> Value {
    serde_json::to_value(evidence)
        .expect("helm evidence always serialises: it holds only strings and numbers")
}

fn parse_evidence(evidence: Option<&Value>) -> Result<HelmEvidence, Halt> {
    let evidence = evidence.ok_or(ExecutorError::MissingEvidence {
        kind: ExecutorKind::Helm,
    })?;
    serde_json::from_value(evidence.clone()).map_err(|error| {
        Halt::Failed(ExecutorError::InvalidAction {
            kind: ExecutorKind::Helm,
            reason: format!("its recorded evidence is not helm evidence: {error}"),
        })
    })
}

fn helm_action(action: &Action) -> Result<&HelmAction, ExecutorError> {
    match &action.spec {
        ActionSpec::Helm(helm) => Ok(helm),
        other => Err(ExecutorError::WrongKind {
            executor: ExecutorKind::Helm,
            action: other.kind(),
        }),
    }
}

fn validate(action: &HelmAction) -> Result<(), ExecutorError> {
    let invalid = |reason: &str| {
        Err(ExecutorError::InvalidAction {
            kind: ExecutorKind::Helm,
            reason: format!("`{}` {reason}", action.op.as_str()),
        })
    };
    if action.release.is_empty() {
        return invalid("needs a `release`");
    }
    if action.op == HelmOp::Upgrade && action.chart.as_deref().is_none_or(str::is_empty) {
        return invalid("needs a `chart`");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use plangate_plans::TaskId;

    use super::*;

    #[test]
    fn versions() {
        assert_eq!(
            parse_version("v4.1.4+g05fa379\n"),
            Some("v4.1.4+g05fa379".to_owned())
        );
        assert_eq!(parse_version(""), None);
    }

    #[test]
    fn manifests_compare_object_by_object() {
        let old = "---\n# Source: c/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: v}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: s}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: gone}\n";
        let new = "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: w}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: s}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n";
        let (changes, counts) = compare(old, new).expect("valid manifests");
        let summary: Vec<(&str, ChangeKind)> = changes
            .iter()
            .map(|change| (change.object.as_str(), change.change))
            .collect();
        assert_eq!(
            summary,
            [
                ("ConfigMap a", ChangeKind::Update),
                ("Service s", ChangeKind::Unchanged),
                ("Deployment d", ChangeKind::Create),
                ("Secret gone", ChangeKind::Delete),
            ]
        );
        assert_eq!(
            counts.describe(),
            "1 to create, 1 to update, 1 to delete, 1 unchanged"
        );
        let diff = changes[0].diff.as_deref().expect("a diff");
        assert!(diff.contains("-  k: v\n+  k: w\n"), "{diff}");
        assert!(compare("", "").expect("empty").0.is_empty());
    }

    fn command(yaml: &str, version: &str) -> Vec<String> {
        let ctx = ActionContext::new("run", TaskId::new("task").expect("valid id"), "/plans");
        let tool = Tool::new(ExecutorKind::Helm, "helm".to_owned());
        let action: HelmAction = serde_yaml::from_str(yaml).expect("a valid helm action");
        let request = Request {
            action: &action,
            invocation: tool.invocation(&ctx),
            target: Target {
                context: "dev".to_owned(),
                namespace: Some("demo".to_owned()),
                kubeconfig: Some("/k".into()),
            },
            version: version.to_owned(),
        };
        request.command_args()
    }

    #[test]
    fn upgrade_command_lines() {
        let upgrade = "op: upgrade\nrelease: api\nchart: charts/api\nversion: 1.2.x\nvalues: [prod.yaml]\nset: {replicas: '3', image.tag: v2}\ncreate_namespace: true\nwait: true\natomic: true\ntimeout: 5m";
        assert_eq!(
            command(upgrade, "v4.1.4+g05fa379"),
            [
                "upgrade",
                "--install",
                "api",
                "charts/api",
                "-f",
                "prod.yaml",
                "--set",
                "image.tag=v2",
                "--set",
                "replicas=3",
                "--version",
                "1.2.x",
                "--create-namespace",
                "--wait",
                "--rollback-on-failure",
                "--timeout=300s",
                "-n",
                "demo",
                "--kube-context",
                "dev",
                "--kubeconfig",
                "/k"
            ]
        );
        assert!(command(upgrade, "v3.17.0+gabc").contains(&"--atomic".to_owned()));
    }

    #[test]
    fn other_command_lines() {
        assert_eq!(
            command(
                "op: rollback\nrelease: api\nrevision: 3\nwait: true",
                "v4.1.4"
            ),
            [
                "rollback",
                "api",
                "3",
                "--wait",
                "-n",
                "demo",
                "--kube-context",
                "dev",
                "--kubeconfig",
                "/k"
            ]
        );
        assert_eq!(
            command("op: test\nrelease: api", "v4.1.4")[..2],
            ["test", "api"]
        );
        assert_eq!(
            command("op: uninstall\nrelease: api", "v4.1.4")[..2],
            ["uninstall", "api"]
        );
        let error = validate(
            &serde_yaml::from_str::<HelmAction>("op: upgrade\nrelease: api").expect("valid"),
        )
        .expect_err("no chart");
        assert_eq!(
            error.to_string(),
            "invalid `helm` action: `upgrade` needs a `chart`"
        );
    }
}
