//! [`KubectlExecutor`]: runs `kubectl:` actions with the real `kubectl`.
//!
//! # Which binary and which cluster
//!
//! The binary is the executor instance's `binary`, else
//! [`KubectlExecutor::BINARY_ENV`] (`PLANGATE_KUBECTL`), else `kubectl` on
//! `PATH`. Its version (`kubectl version --client -o json`) is asked once per
//! binary and recorded in every action's evidence as `tool_version`.
//!
//! Context, namespace and kubeconfig come from the action, else the executor
//! instance, else the plan's `vars.kube_context` and `vars.namespace`, else
//! kubectl's own defaults: the context is then the kubeconfig's current one
//! (`kubectl config current-context`), resolved before anything else runs and
//! passed as `--context` to every command. The namespace is passed as `-n`
//! only when configured, since kubectl refuses `-n` for manifests whose objects
//! name another namespace; without it, objects without a namespace go to the
//! context's namespace (`default` unless the kubeconfig says otherwise).
//! Relative paths are relative to the plan's folder, where kubectl runs.
//!
//! # The wrong-cluster guard
//!
//! Before anything runs, the resolved context name is checked against the
//! plan's `environment`: a plan whose environment is `prod` or `production`
//! refuses a context whose name does not contain `prod`, and any other plan
//! refuses a context whose name does contain `prod` (case is ignored). The
//! refusal is [`ExecutorError::InvalidAction`]; nothing is run. An executor
//! instance with `allow_context_mismatch: true` lifts the guard.
//!
//! # Evidence, rollback and observation
//!
//! Before an operation that changes objects, the executor snapshots every
//! object it will touch and hands the snapshot to
//! [`ActionContext::record_evidence`] (so the engine commits it before the
//! change):
//!
//! - `apply` renders the manifests client-side (`kubectl apply --dry-run=client
//!   -o json`) to learn each object's identity, then reads the live objects
//!   (`kubectl get -f` on stubs naming them, `--ignore-not-found`). With
//!   `prune`, the objects the prune may delete are snapshotted too.
//! - `delete` reads the objects it will delete; `scale`, `patch`, `set_image`
//!   and `rollout_undo` read their resource.
//!
//! The evidence is `{"tool_version", "op", "target": {"context", "namespace",
//! "kubeconfig"}, "objects": [{"apiVersion", "kind", "name", "namespace",
//! "before": <object or null>}]}`; after an `apply`, the outcome's evidence
//! adds `applied` (each object's new `resourceVersion` and `generation`).
//!
//! `rollback: auto` restores the snapshot, newest change first: an object that
//! did not exist is deleted, one that did is put back with `kubectl replace
//! --raw` (a PUT conditional on the live `resourceVersion`, so a concurrent
//! change fails rather than being overwritten) or re-created with `kubectl
//! create --raw` if it is gone; one that already matches its snapshot is left
//! alone. `--raw` sends the snapshot byte for byte: without it, kubectl
//! rewrites the client-side apply annotation from the object it sends, and
//! the restored object would differ from the snapshot. The rollback
//! talks to the context recorded in the evidence (which passed the guard
//! when the change was made, so it is not checked again). A snapshot holding a
//! redacted secret (secrets never reach the state file) is refused rather
//! than written back with the placeholder. `rollout_status` and `wait` change
//! nothing, so their rollback succeeds without doing anything.
//!
//! `observe` (after a crash) compares the live objects with the manifests
//! (`kubectl diff`) and with the snapshot: all in place is `Applied`, none
//! changed is `NotApplied`, anything else `Partial`. No evidence means the
//! crash came before the checkpoint, hence before the change: `NotApplied`.
//!
//! # Preview
//!
//! `apply` is previewed with `kubectl diff` (a server-side dry run, per object
//! diffs in `diff -u` format) plus the snapshot: an absent object is a
//! create, one with a diff an update, the rest unchanged. `delete` lists the
//! objects that exist; `scale`, `patch` and `set_image` compare a server-side
//! dry run with the live object. A preview never writes to the cluster.

use std::collections::BTreeMap;

use plangate_plans::{
    Action, ActionSpec, ExecutorKind,
    action::{KubectlAction, KubectlOp, PatchType},
    duration::PlanDuration,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::time::Instant;

use crate::{
    context::ActionContext,
    error::ExecutorError,
    kube::{
        ChangeCounts, Halt, Invocation, KubeTool, ObjectRef, ScratchDir, Snapshot, Steps, Target,
        TargetFields, Tool, check_context, configured, format_go_duration, holds_redacted,
        is_folder, last_line, no_context, object_diff, parse_items, parse_kubectl_diff, restorable,
        same_content, tool_error,
    },
    outcome::{ActionOutcome, Observation, OutcomeStatus},
    preview::{ChangeKind, Preview, PreviewChange},
};

/// The annotation client-side apply keeps; prune only deletes objects that
/// carry it.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// The resources `kubectl apply --prune` considers by default (kubectl's
/// built-in allowlist).
const PRUNE_ALLOWLIST: [&str; 16] = [
    "configmaps",
    "endpoints",
    "namespaces",
    "persistentvolumeclaims",
    "persistentvolumes",
    "pods",
    "replicationcontrollers",
    "secrets",
    "services",
    "jobs.batch",
    "cronjobs.batch",
    "ingresses.networking.k8s.io",
    "daemonsets.apps",
    "deployments.apps",
    "replicasets.apps",
    "statefulsets.apps",
];

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

impl Default for KubectlExecutor {
    fn default() -> Self {
        Self::new()
    }
}

impl KubectlExecutor {
    /// The environment variable naming the default binary.
    pub const BINARY_ENV: &'static str = "PLANGATE_KUBECTL";

    /// The executor, running [`BINARY_ENV`](Self::BINARY_ENV) if set, else
    /// `kubectl` on `PATH` (an executor instance's `binary` wins over both).
    pub fn new() -> Self {
        Self {
            tool: Tool::from_env(ExecutorKind::Kubectl, Self::BINARY_ENV, "kubectl"),
        }
    }

    /// Runs `binary` unless an executor instance names another.
    #[must_use]
    pub fn with_binary(mut self, binary: impl Into<String>) -> Self {
        self.tool.set_default_binary(binary.into());
        self
    }

    /// Sets a variable in the environment of every `kubectl` this executor
    /// starts (`KUBECONFIG`, `HOME` for its cache, a proxy).
    #[must_use]
    pub fn with_env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.tool.set_env(name.into(), value.into());
        self
    }

    /// Resolves the target (or takes the recorded one), applies the guard,
    /// and learns the tool's version.
    async fn prepare<'a>(
        &'a self,
        action: &'a KubectlAction,
        ctx: &'a ActionContext,
        recorded: Option<&Target>,
    ) -> Result<Request<'a>, Halt> {
        validate(action)?;
        let configured = configured(
            ExecutorKind::Kubectl,
            TargetFields {
                context: action.context.as_deref(),
                namespace: action.namespace.as_deref(),
                kubeconfig: action.kubeconfig.as_deref(),
            },
            ctx,
        )?;
        let invocation = self.tool.invocation(ctx);
        // A recorded target passed the guard when the change was made there;
        // undoing or observing the change must reach the same cluster.
        let target = match recorded {
            Some(recorded) => recorded.clone(),
            None => {
                let context = match configured.context {
                    Some(context) => context,
                    None => current_context(&invocation, configured.kubeconfig.as_deref()).await?,
                };
                check_context(
                    ExecutorKind::Kubectl,
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
        let version = self
            .tool
            .version(
                &invocation,
                &["version", "--client", "-o", "json"],
                parse_version,
            )
            .await?;
        Ok(Request {
            action,
            invocation,
            target,
            version,
        })
    }
}

impl KubeTool for KubectlExecutor {
    type Spec = KubectlAction;

    const KIND: ExecutorKind = ExecutorKind::Kubectl;

    fn spec(action: &Action) -> Result<&KubectlAction, ExecutorError> {
        kubectl_action(action)
    }

    /// `apply`: snapshot, checkpoint, change, and the new versions.
    async fn apply_action(
        &self,
        action: &KubectlAction,
        ctx: &ActionContext,
    ) -> Result<ActionOutcome, Halt> {
        let started = Instant::now();
        let request = self.prepare(action, ctx, None).await?;
        let mut evidence = request.evidence();
        if changes_objects(action.op) {
            evidence.objects = request.snapshot().await?;
            if action.op == KubectlOp::Apply && action.prune.is_some() {
                evidence.prune_candidates = request.prune_candidates(&evidence.objects).await?;
            }
        }
        ctx.record_evidence(to_json(&evidence)).await?;
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
        outcome.evidence = Some(to_json(&evidence));
        outcome.duration = started.elapsed();
        Ok(outcome)
    }
    /// `verify`, and explicit rollback actions: the command alone.
    async fn run_plain(
        &self,
        action: &KubectlAction,
        ctx: &ActionContext,
    ) -> Result<ActionOutcome, Halt> {
        let started = Instant::now();
        let request = self.prepare(action, ctx, None).await?;
        let mut outcome = request.invocation.run(&request.command_args()).await?;
        outcome.evidence = Some(serde_json::json!({ "tool_version": request.version }));
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
        let evidence = parse_evidence(evidence)?;
        let request = self.prepare(run, ctx, Some(&evidence.target)).await?;
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
        let request = self.prepare(action, ctx, None).await?;
        let context = &request.target.context;
        let preview = match action.op {
            KubectlOp::Apply => request.preview_apply().await?,
            KubectlOp::Delete => {
                let objects = request.snapshot().await?;
                Preview {
                    summary: format!(
                        "kubectl delete in context `{context}`: {} to delete",
                        objects.len()
                    ),
                    changes: objects
                        .into_iter()
                        .map(|snapshot| PreviewChange {
                            object: snapshot.object.to_string(),
                            change: ChangeKind::Delete,
                            diff: None,
                        })
                        .collect(),
                }
            }
            KubectlOp::Scale | KubectlOp::Patch | KubectlOp::SetImage => {
                request.preview_dry_run().await?
            }
            KubectlOp::RolloutUndo => Preview {
                summary: format!(
                    "kubectl rollout undo in context `{context}`: the previous revision of `{}`",
                    request.resource_label()
                ),
                changes: vec![PreviewChange {
                    object: request.resource_label(),
                    change: ChangeKind::Update,
                    diff: None,
                }],
            },
            KubectlOp::RolloutStatus | KubectlOp::Wait => Preview {
                summary: format!(
                    "kubectl {} in context `{context}`: waits, changes nothing",
                    action.op.as_str()
                ),
                changes: vec![PreviewChange {
                    object: request.resource_label(),
                    change: ChangeKind::Unchanged,
                    diff: None,
                }],
            },
        };
        Ok(preview)
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
        let evidence = parse_evidence(evidence)?;
        let request = self.prepare(action, ctx, Some(&evidence.target)).await?;
        match action.op {
            KubectlOp::Apply => request.observe_apply(&evidence).await,
            _ => request.observe_objects(&evidence.objects).await,
        }
    }
}

/// What the executor records for an action.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct KubectlEvidence {
    tool_version: String,
    op: KubectlOp,
    target: Target,
    #[serde(default)]
    objects: Vec<Snapshot>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    prune_candidates: Vec<Snapshot>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    applied: Vec<AppliedObject>,
}

/// An object as an `apply` left it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct AppliedObject {
    #[serde(flatten)]
    object: ObjectRef,
    #[serde(rename = "resourceVersion")]
    resource_version: Option<String>,
    generation: Option<i64>,
}

/// One request: the action, its resolved target and the tool.
struct Request<'a> {
    action: &'a KubectlAction,
    invocation: Invocation<'a>,
    target: Target,
    version: String,
}

impl Request<'_> {
    fn ctx(&self) -> &ActionContext {
        self.invocation.ctx()
    }

    fn evidence(&self) -> KubectlEvidence {
        KubectlEvidence {
            tool_version: self.version.clone(),
            op: self.action.op,
            target: self.target.clone(),
            objects: Vec::new(),
            prune_candidates: Vec::new(),
            applied: Vec::new(),
        }
    }

    /// `-f FILE... [-R]` or `-k DIR`.
    fn source_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        for file in &self.action.files {
            args.extend(["-f".to_owned(), file.clone()]);
        }
        if self
            .action
            .files
            .iter()
            .any(|file| is_folder(&self.ctx().base_dir, file))
        {
            args.push("-R".to_owned());
        }
        if let Some(kustomize) = &self.action.kustomize {
            args.extend(["-k".to_owned(), kustomize.clone()]);
        }
        args
    }

    /// `RESOURCE [-l SELECTOR]`.
    fn resource_args(&self) -> Vec<String> {
        let mut args: Vec<String> = self.action.resource.iter().cloned().collect();
        if let Some(selector) = &self.action.selector {
            args.extend(["-l".to_owned(), selector.clone()]);
        }
        args
    }

    /// What the action names, for previews: `deployment/web`, or the
    /// selector.
    fn resource_label(&self) -> String {
        match (&self.action.resource, &self.action.selector) {
            (Some(resource), Some(selector)) => format!("{resource} -l {selector}"),
            (Some(resource), None) => resource.clone(),
            (None, Some(selector)) => format!("-l {selector}"),
            (None, None) => "(nothing)".to_owned(),
        }
    }

    /// Whether the action names its objects by files or a kustomization.
    fn uses_manifests(&self) -> bool {
        !self.action.files.is_empty() || self.action.kustomize.is_some()
    }

    /// `--timeout` of waiting operations: the action's, else the time left
    /// before the context's deadline, else kubectl's default.
    fn timeout_arg(&self) -> Option<String> {
        let timeout = self.action.timeout.map(PlanDuration::get).or_else(|| {
            self.ctx()
                .deadline
                .map(|deadline| deadline.saturating_duration_since(Instant::now()))
        })?;
        Some(format!("--timeout={}", format_go_duration(timeout)))
    }

    /// The action's own command line (after the binary).
    fn command_args(&self) -> Vec<String> {
        let action = self.action;
        let mut args: Vec<String> = Vec::new();
        match action.op {
            KubectlOp::Apply => {
                args.push("apply".to_owned());
                args.extend(self.source_args());
                if action.server_side {
                    args.push("--server-side".to_owned());
                }
                if action.force_conflicts {
                    args.push("--force-conflicts".to_owned());
                }
                if let Some(manager) = &action.field_manager {
                    args.push(format!("--field-manager={manager}"));
                }
                match (&action.prune, &action.selector) {
                    (Some(prune), _) => {
                        args.extend(["--prune".to_owned(), "-l".to_owned(), prune.clone()]);
                    }
                    (None, Some(selector)) => args.extend(["-l".to_owned(), selector.clone()]),
                    (None, None) => {}
                }
            }
            KubectlOp::Delete => {
                args.push("delete".to_owned());
                if self.uses_manifests() {
                    args.extend(self.source_args());
                    if let Some(selector) = &action.selector {
                        args.extend(["-l".to_owned(), selector.clone()]);
                    }
                } else {
                    args.extend(self.resource_args());
                }
            }
            KubectlOp::RolloutStatus => {
                args.extend(["rollout".to_owned(), "status".to_owned()]);
                args.extend(self.resource_args());
                args.extend(self.timeout_arg());
            }
            KubectlOp::RolloutUndo => {
                args.extend(["rollout".to_owned(), "undo".to_owned()]);
                args.extend(self.resource_args());
            }
            KubectlOp::Wait => {
                args.push("wait".to_owned());
                args.extend(self.resource_args());
                if let Some(condition) = &action.condition {
                    args.push(format!("--for=condition={condition}"));
                }
                args.extend(self.timeout_arg());
            }
            KubectlOp::Scale => {
                args.push("scale".to_owned());
                args.extend(self.resource_args());
                if let Some(replicas) = action.replicas {
                    args.push(format!("--replicas={replicas}"));
                }
            }
            KubectlOp::Patch => {
                args.push("patch".to_owned());
                args.extend(self.resource_args());
                let patch_type = match action.patch_type {
                    PatchType::Strategic => "strategic",
                    PatchType::Merge => "merge",
                    PatchType::Json => "json",
                };
                args.extend(["--type".to_owned(), patch_type.to_owned()]);
                let patch = action
                    .patch
                    .as_ref()
                    .map_or_else(String::new, Value::to_string);
                args.extend(["-p".to_owned(), patch]);
                if let Some(manager) = &action.field_manager {
                    args.push(format!("--field-manager={manager}"));
                }
            }
            KubectlOp::SetImage => {
                args.extend(["set".to_owned(), "image".to_owned()]);
                args.extend(self.resource_args());
                args.extend(
                    action
                        .images
                        .iter()
                        .map(|(container, image)| format!("{container}={image}")),
                );
            }
        }
        args.extend(self.target.kubectl_args());
        args
    }

    /// The objects the action will touch, as they are now.
    async fn snapshot(&self) -> Result<Vec<Snapshot>, Halt> {
        match self.action.op {
            KubectlOp::Apply => {
                let objects = self.render().await?;
                self.live(&objects).await
            }
            KubectlOp::Delete if self.uses_manifests() => {
                let mut args = vec!["get".to_owned()];
                args.extend(self.source_args());
                if let Some(selector) = &self.action.selector {
                    args.extend(["-l".to_owned(), selector.clone()]);
                }
                self.existing(args).await
            }
            _ => {
                let mut args = vec!["get".to_owned()];
                args.extend(self.resource_args());
                self.existing(args).await
            }
        }
    }

    /// The existing objects a `get` lists, as snapshots.
    async fn existing(&self, mut args: Vec<String>) -> Result<Vec<Snapshot>, Halt> {
        args.extend([
            "-o".to_owned(),
            "json".to_owned(),
            "--ignore-not-found".to_owned(),
        ]);
        args.extend(self.target.kubectl_args());
        let stdout = self.invocation.query(&args).await?;
        let items = parse_json_items(&self.invocation, &args, &stdout)?;
        Ok(items
            .into_iter()
            .filter_map(|object| {
                Some(Snapshot {
                    object: ObjectRef::of(&object)?,
                    before: Some(object),
                })
            })
            .collect())
    }

    /// The identities of the objects the manifests hold, rendered client-side.
    async fn render(&self) -> Result<Vec<ObjectRef>, Halt> {
        let mut args = vec!["apply".to_owned()];
        args.extend(self.source_args());
        if let Some(selector) = &self.action.selector {
            args.extend(["-l".to_owned(), selector.clone()]);
        }
        args.extend([
            "--dry-run=client".to_owned(),
            "-o".to_owned(),
            "json".to_owned(),
        ]);
        args.extend(self.target.kubectl_args());
        let stdout = self.invocation.query(&args).await?;
        let mut objects: Vec<ObjectRef> = Vec::new();
        for object in parse_json_items(&self.invocation, &args, &stdout)? {
            if let Some(object) = ObjectRef::of(&object)
                && !objects.iter().any(|known| known.same_object(&object))
            {
                objects.push(object);
            }
        }
        Ok(objects)
    }

    /// The live version of each object (`None` when absent).
    async fn live(&self, objects: &[ObjectRef]) -> Result<Vec<Snapshot>, Halt> {
        let mut snapshots: Vec<Snapshot> = objects
            .iter()
            .map(|object| Snapshot {
                object: object.clone(),
                before: None,
            })
            .collect();
        if objects.is_empty() {
            return Ok(snapshots);
        }
        let scratch = ScratchDir::new(ExecutorKind::Kubectl).await?;
        let stubs = serde_json::json!({
            "apiVersion": "v1",
            "kind": "List",
            "items": objects.iter().map(ObjectRef::stub).collect::<Vec<_>>(),
        });
        let file = scratch
            .write_json(ExecutorKind::Kubectl, "objects.json", &stubs)
            .await?;
        let mut args = vec![
            "get".to_owned(),
            "-f".to_owned(),
            file.to_string_lossy().into_owned(),
            "-o".to_owned(),
            "json".to_owned(),
            "--ignore-not-found".to_owned(),
        ];
        args.extend(self.target.kubectl_cluster_args());
        let stdout = self.invocation.query(&args).await?;
        for live in parse_json_items(&self.invocation, &args, &stdout)? {
            let Some(identity) = ObjectRef::of(&live) else {
                continue;
            };
            if let Some(snapshot) = snapshots
                .iter_mut()
                .find(|snapshot| snapshot.object.same_object(&identity))
            {
                snapshot.before = Some(live);
            }
        }
        Ok(snapshots)
    }

    /// The objects `--prune` may delete: those of the allowlisted kinds the
    /// server serves, matching the selector, applied client-side, and not in
    /// the manifests.
    async fn prune_candidates(&self, objects: &[Snapshot]) -> Result<Vec<Snapshot>, Halt> {
        let Some(selector) = &self.action.prune else {
            return Ok(Vec::new());
        };
        let mut args = vec![
            "api-resources".to_owned(),
            "-o".to_owned(),
            "name".to_owned(),
        ];
        args.extend(self.target.kubectl_cluster_args());
        let served = self.invocation.query(&args).await?;
        let kinds: Vec<&str> = PRUNE_ALLOWLIST
            .into_iter()
            .filter(|kind| served.lines().any(|line| line.trim() == *kind))
            .collect();
        if kinds.is_empty() {
            return Ok(Vec::new());
        }
        let args = vec![
            "get".to_owned(),
            kinds.join(","),
            "-l".to_owned(),
            selector.clone(),
        ];
        let candidates = self.existing(args).await?;
        Ok(candidates
            .into_iter()
            .filter(|candidate| {
                candidate.before.as_ref().is_some_and(|object| {
                    object["metadata"]["annotations"][LAST_APPLIED].is_string()
                }) && !objects
                    .iter()
                    .any(|object| object.object.same_object(&candidate.object))
            })
            .collect())
    }

    /// The versions the applied objects have now.
    async fn applied(&self, objects: &[Snapshot]) -> Result<Vec<AppliedObject>, Halt> {
        let identities: Vec<ObjectRef> = objects.iter().map(|s| s.object.clone()).collect();
        Ok(self
            .live(&identities)
            .await?
            .into_iter()
            .filter_map(|snapshot| {
                let live = snapshot.before?;
                Some(AppliedObject {
                    object: snapshot.object,
                    resource_version: live["metadata"]["resourceVersion"]
                        .as_str()
                        .map(str::to_owned),
                    generation: live["metadata"]["generation"].as_i64(),
                })
            })
            .collect())
    }

    /// `kubectl diff` of the manifests against the cluster (a server-side
    /// dry run): the per-object diffs, or `None` when kubectl could not diff
    /// (with its last error line).
    async fn diff(&self) -> Result<Result<BTreeMap<String, String>, String>, Halt> {
        let action = self.action;
        let mut args = vec!["diff".to_owned()];
        args.extend(self.source_args());
        if action.server_side {
            args.push("--server-side".to_owned());
        }
        if action.force_conflicts {
            args.push("--force-conflicts".to_owned());
        }
        if let Some(manager) = &action.field_manager {
            args.push(format!("--field-manager={manager}"));
        }
        if let Some(selector) = &action.selector {
            args.extend(["-l".to_owned(), selector.clone()]);
        }
        args.extend(self.target.kubectl_args());
        let outcome = self
            .invocation
            .probe(&args, &[("KUBECTL_EXTERNAL_DIFF", "diff -u -N")])
            .await?;
        Ok(match outcome.exit_code {
            Some(0) => Ok(BTreeMap::new()),
            Some(1) => Ok(parse_kubectl_diff(&outcome.stdout_tail)),
            _ => Err(last_line(&outcome.stderr_tail)),
        })
    }

    async fn preview_apply(&self) -> Result<Preview, Halt> {
        let snapshots = self.snapshot().await?;
        let diffs = self.diff().await?;
        let mut counts = ChangeCounts::default();
        let mut changes = Vec::new();
        for snapshot in snapshots {
            let diff = diffs
                .as_ref()
                .ok()
                .and_then(|diffs| diffs.get(&snapshot.object.diff_file_name()))
                .map(|diff| self.invocation.redactor().redact(diff).into_owned());
            let change = match (&snapshot.before, &diffs, &diff) {
                (None, _, _) => ChangeKind::Create,
                (Some(_), _, Some(_)) => ChangeKind::Update,
                (Some(_), Ok(_), None) => ChangeKind::Unchanged,
                (Some(_), Err(_), None) => ChangeKind::Unknown,
            };
            counts.add(change);
            changes.push(PreviewChange {
                object: snapshot.object.to_string(),
                change,
                diff,
            });
        }
        let mut summary = format!(
            "kubectl apply in context `{}`: {}",
            self.target.context,
            counts.describe()
        );
        if let Err(error) = &diffs {
            summary.push_str(&format!(" (kubectl diff failed: {error})"));
        }
        Ok(Preview { summary, changes })
    }

    /// The command run as a server-side dry run printing the result.
    fn dry_run_args(&self) -> Vec<String> {
        let mut args = self.command_args();
        args.extend([
            "--dry-run=server".to_owned(),
            "-o".to_owned(),
            "json".to_owned(),
        ]);
        args
    }

    /// `scale`, `patch`, `set_image`: a server-side dry run against the
    /// live objects.
    async fn preview_dry_run(&self) -> Result<Preview, Halt> {
        let live = self.snapshot().await?;
        let args = self.dry_run_args();
        let outcome = self.invocation.probe(&args, &[]).await?;
        if !outcome.succeeded() {
            return Ok(Preview {
                summary: format!(
                    "kubectl {} in context `{}`: the server-side dry run failed: {}",
                    self.action.op.as_str(),
                    self.target.context,
                    last_line(&outcome.stderr_tail)
                ),
                changes: vec![PreviewChange {
                    object: self.resource_label(),
                    change: ChangeKind::Unknown,
                    diff: None,
                }],
            });
        }
        let mut counts = ChangeCounts::default();
        let mut changes = Vec::new();
        for result in parse_json_items(&self.invocation, &args, &outcome.stdout_tail)? {
            let Some(identity) = ObjectRef::of(&result) else {
                continue;
            };
            let before = live
                .iter()
                .find(|snapshot| snapshot.object.same_object(&identity))
                .and_then(|snapshot| snapshot.before.as_ref());
            let (change, diff) = match before {
                None => (ChangeKind::Unknown, None),
                Some(before) => match object_diff(
                    before,
                    &result,
                    &format!("live/{}", identity.diff_file_name()),
                    &format!("merged/{}", identity.diff_file_name()),
                ) {
                    Some(diff) => (
                        ChangeKind::Update,
                        Some(self.invocation.redactor().redact(&diff).into_owned()),
                    ),
                    None => (ChangeKind::Unchanged, None),
                },
            };
            counts.add(change);
            changes.push(PreviewChange {
                object: identity.to_string(),
                change,
                diff,
            });
        }
        Ok(Preview {
            summary: format!(
                "kubectl {} in context `{}`: {}",
                self.action.op.as_str(),
                self.target.context,
                counts.describe()
            ),
            changes,
        })
    }

    /// Puts every snapshot back, in the given order.
    async fn restore(&self, order: &[&Snapshot]) -> Result<ActionOutcome, Halt> {
        for snapshot in order {
            if snapshot.before.as_ref().is_some_and(holds_redacted) {
                return Err(Halt::Failed(ExecutorError::InvalidAction {
                    kind: ExecutorKind::Kubectl,
                    reason: format!(
                        "the snapshot of {} holds a redacted secret value, and restoring it would write the placeholder into the cluster; restore it by hand",
                        snapshot.object
                    ),
                }));
            }
        }
        let identities: Vec<ObjectRef> = order.iter().map(|s| s.object.clone()).collect();
        let current = self.live(&identities).await?;
        let scratch = ScratchDir::new(ExecutorKind::Kubectl).await?;
        let mut discovery = Discovery::default();
        let mut steps = Steps::new(self.ctx().output_limit);
        for (index, snapshot) in order.iter().enumerate() {
            let live = current
                .iter()
                .find(|live| live.object.same_object(&snapshot.object))
                .and_then(|live| live.before.as_ref());
            // `kubectl replace` and `create` rewrite the client-side apply
            // annotation from the object they send; `--raw` sends the
            // snapshot exactly as it was.
            let (args, document) = match (&snapshot.before, live) {
                (None, None) => {
                    steps.note(&format!("{}: absent, as before", snapshot.object));
                    continue;
                }
                (Some(before), Some(live)) if same_content(before, live) => {
                    steps.note(&format!("{}: matches its snapshot", snapshot.object));
                    continue;
                }
                (None, Some(_)) => (
                    vec!["delete".to_owned(), "--ignore-not-found".to_owned()],
                    snapshot.object.stub(),
                ),
                (Some(before), Some(live)) => {
                    let mut document = restorable(before);
                    document["metadata"]["resourceVersion"] =
                        live["metadata"]["resourceVersion"].clone();
                    let path = self
                        .api_path(&mut discovery, &snapshot.object, true)
                        .await?;
                    (
                        vec!["replace".to_owned(), "--raw".to_owned(), path],
                        document,
                    )
                }
                (Some(before), None) => {
                    let path = self
                        .api_path(&mut discovery, &snapshot.object, false)
                        .await?;
                    (
                        vec!["create".to_owned(), "--raw".to_owned(), path],
                        restorable(before),
                    )
                }
            };
            let file = scratch
                .write_json(
                    ExecutorKind::Kubectl,
                    &format!("{index}-{}.json", args[0]),
                    &document,
                )
                .await?;
            let mut args = args;
            args.extend(["-f".to_owned(), file.to_string_lossy().into_owned()]);
            args.extend(self.target.kubectl_cluster_args());
            steps.note(&format!("{}: {}", snapshot.object, restore_word(&args[0])));
            let mut outcome = self.invocation.run(&args).await?;
            if outcome.succeeded() && args[1] == "--raw" {
                // The server's answer echoes the whole object back.
                outcome.stdout_tail.clear();
            }
            if !steps.push(outcome) {
                break;
            }
        }
        let evidence = serde_json::json!({ "tool_version": self.version });
        Ok(steps.finish(
            "kubectl: nothing to restore, every object matches its snapshot",
            Some(evidence),
        ))
    }

    /// The API path of an object (`item`) or of its collection, from the
    /// server's discovery of the object's group version.
    async fn api_path(
        &self,
        discovery: &mut Discovery,
        object: &ObjectRef,
        item: bool,
    ) -> Result<String, Halt> {
        let base = match object.group() {
            "" => format!("/api/{}", object.version()),
            group => format!("/apis/{group}/{}", object.version()),
        };
        if !discovery.0.contains_key(&base) {
            let mut args = vec!["get".to_owned(), "--raw".to_owned(), base.clone()];
            args.extend(self.target.kubectl_cluster_args());
            let stdout = self.invocation.query(&args).await?;
            let list: Value = serde_json::from_str(&stdout).map_err(|error| {
                Halt::Failed(ExecutorError::Tool {
                    command: self.invocation.command_line(&args),
                    exit_code: Some(0),
                    signal: None,
                    stderr_tail: format!("its output is not the JSON expected: {error}"),
                })
            })?;
            discovery.0.insert(base.clone(), list);
        }
        let resource = discovery.0[&base]["resources"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|resource| {
                resource["kind"] == object.kind.as_str()
                    && resource["name"]
                        .as_str()
                        .is_some_and(|name| !name.contains('/'))
            })
            .ok_or_else(|| ExecutorError::InvalidAction {
                kind: ExecutorKind::Kubectl,
                reason: format!(
                    "the server does not serve the kind of {object} any more, so it cannot be restored"
                ),
            })?;
        let plural = resource["name"].as_str().unwrap_or_default();
        let mut path = base;
        if resource["namespaced"] == true {
            let namespace = object.namespace.as_deref().unwrap_or("default");
            path.push_str(&format!("/namespaces/{namespace}"));
        }
        path.push_str(&format!("/{plural}"));
        if item {
            path.push_str(&format!("/{}", object.name));
        }
        Ok(path)
    }

    /// `observe` of an `apply`.
    async fn observe_apply(&self, evidence: &KubectlEvidence) -> Result<Observation, Halt> {
        let identities: Vec<ObjectRef> = if evidence.objects.is_empty() {
            self.render().await?
        } else {
            evidence.objects.iter().map(|s| s.object.clone()).collect()
        };
        let live = self.live(&identities).await?;
        let diffs = self.diff().await?;
        let mut in_place = Vec::new();
        let mut not_in_place = Vec::new();
        let mut changed = false;
        for current in &live {
            let before = evidence
                .objects
                .iter()
                .find(|snapshot| snapshot.object.same_object(&current.object))
                .and_then(|snapshot| snapshot.before.as_ref());
            changed |= differs(before, current.before.as_ref());
            let matches = current.before.is_some()
                && diffs
                    .as_ref()
                    .is_ok_and(|diffs| !diffs.contains_key(&current.object.diff_file_name()));
            if matches {
                in_place.push(current.object.to_string());
            } else {
                not_in_place.push(current.object.to_string());
            }
        }
        if !evidence.prune_candidates.is_empty() {
            let identities: Vec<ObjectRef> = evidence
                .prune_candidates
                .iter()
                .map(|s| s.object.clone())
                .collect();
            for current in self.live(&identities).await? {
                let before = evidence
                    .prune_candidates
                    .iter()
                    .find(|snapshot| snapshot.object.same_object(&current.object))
                    .and_then(|snapshot| snapshot.before.as_ref());
                changed |= differs(before, current.before.as_ref());
            }
        }
        Ok(settle(&in_place, &not_in_place, changed, diffs.map(|_| ())))
    }

    /// `observe` of `delete`, `scale`, `patch`, `set_image` and
    /// `rollout_undo`: each snapshotted object, live.
    async fn observe_objects(&self, objects: &[Snapshot]) -> Result<Observation, Halt> {
        if objects.is_empty() {
            return Ok(Observation::NotApplied);
        }
        let identities: Vec<ObjectRef> = objects.iter().map(|s| s.object.clone()).collect();
        let live = self.live(&identities).await?;
        let patched = if self.action.op == KubectlOp::Patch {
            let args = self.dry_run_args();
            let outcome = self.invocation.probe(&args, &[]).await?;
            if outcome.succeeded() {
                Some(parse_json_items(
                    &self.invocation,
                    &args,
                    &outcome.stdout_tail,
                )?)
            } else {
                None
            }
        } else {
            None
        };
        let mut in_place = Vec::new();
        let mut not_in_place = Vec::new();
        let mut changed = false;
        for snapshot in objects {
            let current = live
                .iter()
                .find(|live| live.object.same_object(&snapshot.object))
                .and_then(|live| live.before.as_ref());
            changed |= differs(snapshot.before.as_ref(), current);
            let applied = match (self.action.op, current) {
                (KubectlOp::Delete, None) => true,
                (KubectlOp::Delete, Some(current)) => snapshot
                    .before
                    .as_ref()
                    .is_some_and(|before| before["metadata"]["uid"] != current["metadata"]["uid"]),
                (_, None) => false,
                (KubectlOp::Scale, Some(current)) => {
                    current["spec"]["replicas"].as_u64() == self.action.replicas.map(u64::from)
                }
                (KubectlOp::SetImage, Some(current)) => has_images(current, &self.action.images),
                (KubectlOp::Patch, Some(current)) => patched.as_ref().is_some_and(|patched| {
                    patched.iter().any(|result| {
                        ObjectRef::of(result).is_some_and(|id| id.same_object(&snapshot.object))
                            && same_content(result, current)
                    })
                }),
                (_, Some(current)) => snapshot.before.as_ref().is_some_and(|before| {
                    before["spec"]["template"] != current["spec"]["template"]
                }),
            };
            if applied {
                in_place.push(snapshot.object.to_string());
            } else {
                not_in_place.push(snapshot.object.to_string());
            }
        }
        Ok(settle(
            &in_place,
            &not_in_place,
            changed,
            Ok::<(), String>(()),
        ))
    }
}

/// API discovery documents already read, by group-version path.
#[derive(Debug, Default)]
struct Discovery(BTreeMap<String, Value>);

/// What a restore step does, for the outcome's output.
fn restore_word(verb: &str) -> &'static str {
    match verb {
        "delete" => "did not exist before, deleting",
        "replace" => "changed, restoring its snapshot",
        _ => "gone, re-creating it from its snapshot",
    }
}

/// Whether an object differs from its snapshot (appeared, vanished, or
/// changed in content).
fn differs(before: Option<&Value>, now: Option<&Value>) -> bool {
    match (before, now) {
        (None, None) => false,
        (Some(before), Some(now)) => !same_content(before, now),
        _ => true,
    }
}

/// The observation from which objects are in place, and whether anything
/// changed since the snapshot.
fn settle<E: std::fmt::Display>(
    in_place: &[String],
    not_in_place: &[String],
    changed: bool,
    check: Result<(), E>,
) -> Observation {
    let check = check.err();
    if not_in_place.is_empty() && check.is_none() {
        return Observation::Applied;
    }
    if !changed {
        return Observation::NotApplied;
    }
    let mut detail = match (in_place.is_empty(), not_in_place.is_empty()) {
        (false, false) => format!(
            "in place: {}; not in place: {}",
            in_place.join(", "),
            not_in_place.join(", ")
        ),
        (true, _) => format!(
            "objects changed since the snapshot, but none matches the action: {}",
            not_in_place.join(", ")
        ),
        (false, true) => format!("in place: {}", in_place.join(", ")),
    };
    if let Some(error) = check {
        detail.push_str(&format!(" (kubectl diff failed: {error})"));
    }
    Observation::Partial { detail }
}

/// Whether every container named in `images` runs that image.
fn has_images(object: &Value, images: &BTreeMap<String, String>) -> bool {
    let spec = &object["spec"]["template"]["spec"];
    let containers: Vec<&Value> = ["containers", "initContainers"]
        .iter()
        .filter_map(|field| spec[*field].as_array())
        .flatten()
        .collect();
    images.iter().all(|(name, image)| {
        name == "*"
            && containers
                .iter()
                .all(|container| container["image"] == image.as_str())
            || containers.iter().any(|container| {
                container["name"] == name.as_str() && container["image"] == image.as_str()
            })
    })
}

/// The objects of a query's JSON answer; unreadable JSON is the query's error.
fn parse_json_items(
    invocation: &Invocation<'_>,
    args: &[String],
    stdout: &str,
) -> Result<Vec<Value>, Halt> {
    parse_items(stdout).map_err(|error| {
        Halt::Failed(ExecutorError::Tool {
            command: invocation.command_line(args),
            exit_code: Some(0),
            signal: None,
            stderr_tail: format!("its output is not the JSON expected: {error}"),
        })
    })
}

/// The kubeconfig's current context, through `kubectl config current-context`.
async fn current_context(
    invocation: &Invocation<'_>,
    kubeconfig: Option<&std::path::Path>,
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

/// `clientVersion.gitVersion` of `kubectl version --client -o json`.
fn parse_version(stdout: &str) -> Option<String> {
    let value: Value = serde_json::from_str(stdout).ok()?;
    value["clientVersion"]["gitVersion"]
        .as_str()
        .map(str::to_owned)
}

fn to_json(evidence: &KubectlEvidence) -> Value {
    serde_json::to_value(evidence).expect(
        "kubectl evidence always serialises: it holds only strings, numbers and JSON values",
    )
}

fn parse_evidence(evidence: Option<&Value>) -> Result<KubectlEvidence, Halt> {
    let evidence = evidence.ok_or(ExecutorError::MissingEvidence {
        kind: ExecutorKind::Kubectl,
    })?;
    serde_json::from_value(evidence.clone()).map_err(|error| {
        Halt::Failed(ExecutorError::InvalidAction {
            kind: ExecutorKind::Kubectl,
            reason: format!("its recorded evidence is not kubectl evidence: {error}"),
        })
    })
}

/// Whether an operation changes objects (and so has evidence to record).
fn changes_objects(op: KubectlOp) -> bool {
    !matches!(op, KubectlOp::RolloutStatus | KubectlOp::Wait)
}

fn kubectl_action(action: &Action) -> Result<&KubectlAction, ExecutorError> {
    match &action.spec {
        ActionSpec::Kubectl(kubectl) => Ok(kubectl),
        other => Err(ExecutorError::WrongKind {
            executor: ExecutorKind::Kubectl,
            action: other.kind(),
        }),
    }
}

/// Checks the fields an operation needs; plan validation should have caught
/// every case.
fn validate(action: &KubectlAction) -> Result<(), ExecutorError> {
    let invalid = |reason: &str| {
        Err(ExecutorError::InvalidAction {
            kind: ExecutorKind::Kubectl,
            reason: format!("`{}` {reason}", action.op.as_str()),
        })
    };
    let manifests = !action.files.is_empty() || action.kustomize.is_some();
    if !action.files.is_empty() && action.kustomize.is_some() {
        return invalid("takes `files` or `kustomize`, not both");
    }
    match action.op {
        KubectlOp::Apply => {
            if !manifests {
                return invalid("needs `files` or `kustomize`");
            }
            if action.force_conflicts && !action.server_side {
                return invalid("needs `server_side` for `force_conflicts`");
            }
            if action.prune.is_some() && action.selector.is_some() {
                return invalid("takes `prune` or `selector`, not both: both are `-l`");
            }
        }
        KubectlOp::Delete => {
            if !manifests && action.resource.is_none() && action.selector.is_none() {
                return invalid("needs `files`, `kustomize`, `resource` or `selector`");
            }
        }
        KubectlOp::RolloutStatus | KubectlOp::RolloutUndo => {
            if action.resource.is_none() {
                return invalid("needs `resource`");
            }
        }
        KubectlOp::Wait => {
            if action.resource.is_none() && action.selector.is_none() {
                return invalid("needs `resource` or `selector`");
            }
            if action.condition.is_none() {
                return invalid("needs `condition`");
            }
        }
        KubectlOp::Scale => {
            if action.resource.is_none() {
                return invalid("needs `resource`");
            }
            if action.replicas.is_none() {
                return invalid("needs `replicas`");
            }
        }
        KubectlOp::Patch => {
            if action.resource.is_none() {
                return invalid("needs `resource`");
            }
            if action.patch.is_none() {
                return invalid("needs `patch`");
            }
        }
        KubectlOp::SetImage => {
            if action.resource.is_none() {
                return invalid("needs `resource`");
            }
            if action.images.is_empty() {
                return invalid("needs `images`");
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use plangate_plans::TaskId;

    use super::*;

    fn action(yaml: &str) -> KubectlAction {
        serde_yaml::from_str(yaml).expect("a valid kubectl action")
    }

    /// The command line of `yaml` in a plan folder holding a `k8s/` folder.
    fn command(yaml: &str, namespace: Option<&str>, deadline: Option<Duration>) -> Vec<String> {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("k8s")).expect("a folder");
        let mut ctx = ActionContext::new("run", TaskId::new("task").expect("valid id"), dir.path());
        if let Some(deadline) = deadline {
            ctx = ctx.with_timeout(deadline);
        }
        let tool = Tool::new(ExecutorKind::Kubectl, "kubectl".to_owned());
        let action = action(yaml);
        let request = Request {
            action: &action,
            invocation: tool.invocation(&ctx),
            target: Target {
                context: "dev".to_owned(),
                namespace: namespace.map(str::to_owned),
                kubeconfig: None,
            },
            version: "v1.33.9".to_owned(),
        };
        request.command_args()
    }

    #[test]
    fn apply_command_lines() {
        assert_eq!(
            command(
                "op: apply\nfiles: [app.yaml, k8s]\nserver_side: true\nforce_conflicts: true\nfield_manager: plangate",
                Some("demo"),
                None
            ),
            [
                "apply",
                "-f",
                "app.yaml",
                "-f",
                "k8s",
                "-R",
                "--server-side",
                "--force-conflicts",
                "--field-manager=plangate",
                "--context",
                "dev",
                "-n",
                "demo"
            ]
        );
        assert_eq!(
            command("op: apply\nkustomize: overlay\nprune: app=web", None, None),
            [
                "apply",
                "-k",
                "overlay",
                "--prune",
                "-l",
                "app=web",
                "--context",
                "dev"
            ]
        );
    }

    #[test]
    fn resource_command_lines() {
        assert_eq!(
            command(
                "op: patch\nresource: deployment/web\npatch_type: json\npatch: [{op: remove, path: /spec/paused}]",
                None,
                None
            ),
            [
                "patch",
                "deployment/web",
                "--type",
                "json",
                "-p",
                r#"[{"op":"remove","path":"/spec/paused"}]"#,
                "--context",
                "dev"
            ]
        );
        assert_eq!(
            command(
                "op: set_image\nresource: deployment/web\nimages: {web: 'nginx:1.28', sidecar: 'envoy:1'}",
                None,
                None
            ),
            [
                "set",
                "image",
                "deployment/web",
                "sidecar=envoy:1",
                "web=nginx:1.28",
                "--context",
                "dev"
            ]
        );
        assert_eq!(
            command(
                "op: wait\nresource: pods\nselector: app=web\ncondition: Ready\ntimeout: 90s",
                Some("demo"),
                None
            ),
            [
                "wait",
                "pods",
                "-l",
                "app=web",
                "--for=condition=Ready",
                "--timeout=90s",
                "--context",
                "dev",
                "-n",
                "demo"
            ]
        );
        assert_eq!(
            command(
                "op: scale\nresource: statefulset/db\nreplicas: 0",
                None,
                None
            ),
            [
                "scale",
                "statefulset/db",
                "--replicas=0",
                "--context",
                "dev"
            ]
        );
        assert_eq!(
            command("op: delete\nresource: configmap/old", None, None),
            ["delete", "configmap/old", "--context", "dev"]
        );
    }

    #[test]
    fn rollout_status_waits_until_the_deadline_by_default() {
        let status = "op: rollout_status\nresource: deployment/web";
        assert_eq!(
            command(status, None, None),
            ["rollout", "status", "deployment/web", "--context", "dev"]
        );
        let bounded = command(status, None, Some(Duration::from_secs(600)));
        let timeout = bounded
            .iter()
            .find_map(|arg| arg.strip_prefix("--timeout="))
            .expect("a timeout");
        let millis: u64 = match timeout.strip_suffix("ms") {
            Some(millis) => millis.parse().expect("milliseconds"),
            None => {
                let seconds: u64 = timeout
                    .strip_suffix('s')
                    .and_then(|seconds| seconds.parse().ok())
                    .expect("seconds");
                seconds * 1000
            }
        };
        assert!((590_000..=600_000).contains(&millis), "{timeout}");
        assert!(
            command(
                &format!("{status}\ntimeout: 2m"),
                None,
                Some(Duration::from_secs(600))
            )
            .contains(&"--timeout=120s".to_owned())
        );
    }

    #[test]
    fn missing_fields_are_invalid() {
        for (yaml, reason) in [
            ("op: apply", "`apply` needs `files` or `kustomize`"),
            (
                "op: apply\nfiles: [a.yaml]\nkustomize: k",
                "`apply` takes `files` or `kustomize`, not both",
            ),
            (
                "op: apply\nfiles: [a.yaml]\nforce_conflicts: true",
                "`apply` needs `server_side` for `force_conflicts`",
            ),
            (
                "op: scale\nresource: deployment/web",
                "`scale` needs `replicas`",
            ),
            ("op: wait\nresource: pods", "`wait` needs `condition`"),
            (
                "op: set_image\nresource: deployment/web",
                "`set_image` needs `images`",
            ),
            ("op: rollout_undo", "`rollout_undo` needs `resource`"),
        ] {
            let error = validate(&action(yaml)).expect_err(yaml);
            assert_eq!(
                error.to_string(),
                format!("invalid `kubectl` action: {reason}"),
                "{yaml}"
            );
        }
    }

    #[test]
    fn evidence_round_trips() {
        let evidence = KubectlEvidence {
            tool_version: "v1.33.9".to_owned(),
            op: KubectlOp::Apply,
            target: Target {
                context: "dev".to_owned(),
                namespace: Some("demo".to_owned()),
                kubeconfig: None,
            },
            objects: vec![Snapshot {
                object: ObjectRef {
                    api_version: "v1".to_owned(),
                    kind: "ConfigMap".to_owned(),
                    name: "c".to_owned(),
                    namespace: Some("demo".to_owned()),
                },
                before: None,
            }],
            prune_candidates: Vec::new(),
            applied: Vec::new(),
        };
        let json = to_json(&evidence);
        assert_eq!(json["op"], "apply");
        assert_eq!(json["objects"][0]["before"], Value::Null);
        assert!(json.get("applied").is_none());
        assert_eq!(parse_evidence(Some(&json)).expect("parses"), evidence);
        assert!(matches!(
            parse_evidence(None),
            Err(Halt::Failed(ExecutorError::MissingEvidence { .. }))
        ));
    }

    #[test]
    fn settled_observations() {
        let names = |names: &[&str]| names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            settle(&names(&["a"]), &[], true, Ok::<(), String>(())),
            Observation::Applied
        );
        assert_eq!(
            settle(&[], &names(&["a"]), false, Ok::<(), String>(())),
            Observation::NotApplied
        );
        assert_eq!(
            settle(&names(&["a"]), &names(&["b"]), true, Ok::<(), String>(())),
            Observation::Partial {
                detail: "in place: a; not in place: b".to_owned()
            }
        );
        assert_eq!(
            settle(&names(&["a"]), &[], true, Err("boom")),
            Observation::Partial {
                detail: "in place: a (kubectl diff failed: boom)".to_owned()
            }
        );
    }
}
