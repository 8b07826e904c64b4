//! Actions: what a task's `run`, `verify` and `rollback` do, one schema per executor kind.
//!
//! An action is a YAML mapping with exactly one executor key: a kind
//! (`shell`, `kubectl`, `helm`, `github_merge`, `git`) whose value holds that
//! kind's fields, or `executor: NAME` naming a configured instance, whose
//! fields then go under `with:`. `docs/plan-reference.md` documents every field.

use std::{collections::BTreeMap, fmt};

use serde::{Deserialize, Deserializer, Serialize, de};

use crate::{
    duration::PlanDuration,
    op_fields::{FieldProblem, FieldState, OpFields},
};

/// The executor kinds plangate knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecutorKind {
    /// Spawns an argv directly.
    Shell,
    /// Runs the `kubectl` binary.
    Kubectl,
    /// Runs the `helm` binary.
    Helm,
    /// Merges a GitHub pull request through the REST API.
    GithubMerge,
    /// Operates on a local git repository.
    Git,
}

impl ExecutorKind {
    /// Every kind, in the order documentation lists them.
    pub const ALL: [ExecutorKind; 5] = [
        ExecutorKind::Shell,
        ExecutorKind::Kubectl,
        ExecutorKind::Helm,
        ExecutorKind::GithubMerge,
        ExecutorKind::Git,
    ];

    /// The YAML key of the kind.
    pub fn as_str(self) -> &'static str {
        match self {
            ExecutorKind::Shell => "shell",
            ExecutorKind::Kubectl => "kubectl",
            ExecutorKind::Helm => "helm",
            ExecutorKind::GithubMerge => "github_merge",
            ExecutorKind::Git => "git",
        }
    }

    /// The kind named by a YAML key.
    pub fn from_key(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == key)
    }
}

impl fmt::Display for ExecutorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A resolved action: its kind's fields, and the instance it came from, if any.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Action {
    /// The configured instance named by `executor: NAME`, if the action used one.
    pub instance: Option<String>,
    /// What to do.
    pub spec: ActionSpec,
}

impl Action {
    /// The executor kind that runs this action.
    pub fn kind(&self) -> ExecutorKind {
        self.spec.kind()
    }

    /// A one-line human summary, e.g. `shell: ./render.sh docs/arch.md`.
    pub fn summary(&self) -> String {
        let body = match &self.spec {
            ActionSpec::Shell(shell) => crate::text::shell_join(&shell.argv),
            ActionSpec::Kubectl(k) => {
                let mut parts = vec![k.op.as_str().to_owned()];
                parts.extend(k.resource.iter().cloned());
                parts.extend(k.files.iter().cloned());
                parts.extend(k.kustomize.iter().map(|d| format!("-k {d}")));
                parts.join(" ")
            }
            ActionSpec::Helm(h) => {
                let mut parts = vec![h.op.as_str().to_owned(), h.release.clone()];
                parts.extend(h.chart.iter().cloned());
                parts.join(" ")
            }
            ActionSpec::GithubMerge(g) => format!("{}#{} ({})", g.repo, g.pr, g.method.as_str()),
            ActionSpec::Git(g) => format!("{} in {}", g.op.as_str(), g.repo),
        };
        format!("{}: {body}", self.kind())
    }
}

/// The kind-specific fields of an action.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionSpec {
    /// `shell:` an argv, spawned directly.
    Shell(ShellAction),
    /// `kubectl:` one kubectl operation. (The larger kinds are boxed so that
    /// an action, and a task holding three, stays small: a plan of 100,000
    /// shell tasks is mostly tasks.)
    Kubectl(Box<KubectlAction>),
    /// `helm:` one helm operation.
    Helm(Box<HelmAction>),
    /// `github_merge:` merge one pull request.
    GithubMerge(Box<GithubMergeAction>),
    /// `git:` one operation on a local repository.
    Git(Box<GitAction>),
}

impl ActionSpec {
    /// The executor kind of these fields.
    pub fn kind(&self) -> ExecutorKind {
        match self {
            ActionSpec::Shell(_) => ExecutorKind::Shell,
            ActionSpec::Kubectl(_) => ExecutorKind::Kubectl,
            ActionSpec::Helm(_) => ExecutorKind::Helm,
            ActionSpec::GithubMerge(_) => ExecutorKind::GithubMerge,
            ActionSpec::Git(_) => ExecutorKind::Git,
        }
    }

    /// The operation's name and the table of the fields it takes, for the
    /// kinds that have operations (`kubectl`, `helm`, `git`).
    pub fn op_fields(&self) -> Option<(&'static str, OpFields)> {
        match self {
            ActionSpec::Kubectl(k) => Some((k.op.as_str(), k.op.fields())),
            ActionSpec::Helm(h) => Some((h.op.as_str(), h.op.fields())),
            ActionSpec::Git(g) => Some((g.op.as_str(), g.op.fields())),
            ActionSpec::Shell(_) | ActionSpec::GithubMerge(_) => None,
        }
    }

    /// Every way the fields break the rules of the operation (see
    /// [`OpFields`]); empty when the action is well formed. The loader and
    /// the executors' `validate` both use this.
    pub fn field_problems(&self) -> Vec<FieldProblem> {
        match self {
            ActionSpec::Kubectl(k) => k.field_problems(),
            ActionSpec::Helm(h) => h.field_problems(),
            ActionSpec::Git(g) => g.field_problems(),
            ActionSpec::Shell(_) | ActionSpec::GithubMerge(_) => Vec::new(),
        }
    }
}

fn text_state(text: Option<&str>) -> FieldState {
    match text {
        None => FieldState::Absent,
        Some("") => FieldState::Empty,
        Some(_) => FieldState::Present,
    }
}

fn flag_state(given: bool) -> FieldState {
    if given {
        FieldState::Present
    } else {
        FieldState::Absent
    }
}

/// `shell`: an argv list, or `{argv, env, cwd}`. Never passed through a shell:
/// write `["sh", "-c", "..."]` to get one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ShellAction {
    /// Program and arguments; the program is looked up on `PATH` when it has no slash.
    pub argv: Vec<String>,
    /// Extra environment variables for the child.
    pub env: BTreeMap<String, String>,
    /// Working directory, relative to the plan file's folder.
    pub cwd: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ShellActionFields {
    argv: Vec<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    #[serde(default)]
    cwd: Option<String>,
}

impl<'de> Deserialize<'de> for ShellAction {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> de::Visitor<'de> for Visitor {
            type Value = ShellAction;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an argv list such as `[\"make\", \"docs\"]`, or a map with `argv`, `env` and `cwd`")
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<ShellAction, A::Error> {
                let argv = Vec::<String>::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
                Ok(ShellAction {
                    argv,
                    env: BTreeMap::new(),
                    cwd: None,
                })
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<ShellAction, A::Error> {
                let fields =
                    ShellActionFields::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(ShellAction {
                    argv: fields.argv,
                    env: fields.env,
                    cwd: fields.cwd,
                })
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// The operation of a `kubectl` action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KubectlOp {
    /// `kubectl apply -f FILES` or `-k DIR`.
    Apply,
    /// `kubectl delete -f FILES`, or `RESOURCE`.
    Delete,
    /// `kubectl rollout status RESOURCE --timeout`.
    RolloutStatus,
    /// `kubectl rollout undo RESOURCE`.
    RolloutUndo,
    /// `kubectl wait RESOURCE --for=condition=CONDITION`.
    Wait,
    /// `kubectl scale RESOURCE --replicas=N`.
    Scale,
    /// `kubectl patch RESOURCE --type TYPE -p PATCH`.
    Patch,
    /// `kubectl set image RESOURCE CONTAINER=IMAGE...`.
    SetImage,
}

/// The fields of a `kubectl` action, in declaration order.
pub const KUBECTL_FIELDS: &[&str] = &[
    "op",
    "files",
    "kustomize",
    "resource",
    "selector",
    "namespace",
    "context",
    "kubeconfig",
    "server_side",
    "force_conflicts",
    "field_manager",
    "prune",
    "condition",
    "replicas",
    "patch",
    "patch_type",
    "images",
    "timeout",
];

impl KubectlOp {
    /// Which fields the operation takes; see [`OpFields`].
    pub const fn fields(self) -> OpFields {
        const BASE: OpFields = OpFields::new(
            KUBECTL_FIELDS,
            &["op", "namespace", "context", "kubeconfig"],
        );
        match self {
            KubectlOp::Apply => BASE
                .one_of(&["files", "kustomize"])
                .optional(&[
                    "selector",
                    "server_side",
                    "force_conflicts",
                    "field_manager",
                    "prune",
                ])
                .exclusive(&[("files", "kustomize"), ("prune", "selector")])
                .needs(&[("force_conflicts", "server_side")]),
            KubectlOp::Delete => BASE
                .one_of(&["files", "kustomize", "resource"])
                .optional(&["selector"])
                .exclusive(&[
                    ("files", "kustomize"),
                    ("files", "resource"),
                    ("kustomize", "resource"),
                ]),
            KubectlOp::RolloutStatus => BASE
                .required(&["resource"])
                .optional(&["selector", "timeout"]),
            KubectlOp::RolloutUndo => BASE.required(&["resource"]).optional(&["selector"]),
            KubectlOp::Wait => BASE
                .required(&["resource", "condition"])
                .optional(&["selector", "timeout"]),
            KubectlOp::Scale => BASE
                .required(&["resource", "replicas"])
                .optional(&["selector"]),
            KubectlOp::Patch => BASE
                .required(&["resource", "patch"])
                .optional(&["patch_type", "field_manager"]),
            KubectlOp::SetImage => BASE
                .required(&["resource", "images"])
                .optional(&["selector"]),
        }
    }

    /// The YAML spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            KubectlOp::Apply => "apply",
            KubectlOp::Delete => "delete",
            KubectlOp::RolloutStatus => "rollout_status",
            KubectlOp::RolloutUndo => "rollout_undo",
            KubectlOp::Wait => "wait",
            KubectlOp::Scale => "scale",
            KubectlOp::Patch => "patch",
            KubectlOp::SetImage => "set_image",
        }
    }
}

/// The patch format of a `kubectl` `patch` operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PatchType {
    /// Strategic merge patch (lists merged by their keys).
    #[default]
    Strategic,
    /// RFC 7386 JSON merge patch.
    Merge,
    /// RFC 6902 JSON patch.
    Json,
}

/// `kubectl`: one kubectl operation against a cluster.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubectlAction {
    /// The operation.
    pub op: KubectlOp,
    /// Manifest files or folders (`-f`), relative to the plan's folder.
    #[serde(default)]
    pub files: Vec<String>,
    /// A kustomization folder (`-k`).
    #[serde(default)]
    pub kustomize: Option<String>,
    /// The object operated on, `KIND/NAME` (e.g. `deployment/api`).
    #[serde(default)]
    pub resource: Option<String>,
    /// A label selector (`-l`).
    #[serde(default)]
    pub selector: Option<String>,
    /// Namespace (`-n`); defaults to the instance's, then `vars.namespace`.
    #[serde(default)]
    pub namespace: Option<String>,
    /// kube context (`--context`); defaults to the instance's, then `vars.kube_context`.
    #[serde(default)]
    pub context: Option<String>,
    /// kubeconfig file (`--kubeconfig`); defaults to the instance's, then `$KUBECONFIG`.
    #[serde(default)]
    pub kubeconfig: Option<String>,
    /// `apply --server-side`.
    #[serde(default)]
    pub server_side: bool,
    /// `apply --server-side --force-conflicts`.
    #[serde(default)]
    pub force_conflicts: bool,
    /// `--field-manager`.
    #[serde(default)]
    pub field_manager: Option<String>,
    /// `apply --prune -l SELECTOR`.
    #[serde(default)]
    pub prune: Option<String>,
    /// `wait --for=condition=CONDITION` (e.g. `Available`).
    #[serde(default)]
    pub condition: Option<String>,
    /// `scale --replicas`.
    #[serde(default)]
    pub replicas: Option<u32>,
    /// The patch document of a `patch` operation.
    #[serde(default)]
    pub patch: Option<serde_json::Value>,
    /// The patch format.
    #[serde(default)]
    pub patch_type: PatchType,
    /// `set_image`: container name to image.
    #[serde(default)]
    pub images: BTreeMap<String, String>,
    /// `--timeout` of `rollout_status` and `wait`.
    #[serde(default)]
    pub timeout: Option<PlanDuration>,
}

impl KubectlAction {
    /// Whether the action gives `field` (one of [`KUBECTL_FIELDS`]), as the
    /// executor sees it.
    pub fn field_state(&self, field: &str) -> FieldState {
        match field {
            "op" => FieldState::Present,
            "files" => flag_state(!self.files.is_empty()),
            "kustomize" => text_state(self.kustomize.as_deref()),
            "resource" => text_state(self.resource.as_deref()),
            "selector" => text_state(self.selector.as_deref()),
            "namespace" => text_state(self.namespace.as_deref()),
            "context" => text_state(self.context.as_deref()),
            "kubeconfig" => text_state(self.kubeconfig.as_deref()),
            "server_side" => flag_state(self.server_side),
            "force_conflicts" => flag_state(self.force_conflicts),
            "field_manager" => text_state(self.field_manager.as_deref()),
            "prune" => text_state(self.prune.as_deref()),
            "condition" => text_state(self.condition.as_deref()),
            "replicas" => flag_state(self.replicas.is_some()),
            "patch" => flag_state(self.patch.is_some()),
            "patch_type" => flag_state(self.patch_type != PatchType::default()),
            "images" => flag_state(!self.images.is_empty()),
            "timeout" => flag_state(self.timeout.is_some()),
            _ => FieldState::Absent,
        }
    }

    /// The table's problems (see [`KubectlOp::fields`]), then kubectl's own
    /// rules on how `resource` and `selector` go together: a selector only
    /// with a kind (`pods`), and a kind alone only where kubectl acts on
    /// every object of it (`rollout_status`, `rollout_undo`).
    pub fn field_problems(&self) -> Vec<FieldProblem> {
        let fields = self.op.fields();
        let mut problems = fields.check(|field| self.field_state(field));
        if !problems.is_empty() {
            return problems;
        }
        let Some(resource) = self.resource.as_deref() else {
            return problems;
        };
        let named = resource.contains('/');
        let selector_allowed = fields.accepts("selector");
        let selector = self.selector.is_some();
        let kind_alone_is_enough =
            matches!(self.op, KubectlOp::RolloutStatus | KubectlOp::RolloutUndo);
        if named && selector {
            problems.push(FieldProblem::SelectorWithNamedResource);
        } else if !named && !selector && !kind_alone_is_enough {
            problems.push(FieldProblem::ResourceWithoutName { selector_allowed });
        }
        problems
    }
}

/// The fields of a `helm` action, in declaration order.
pub const HELM_FIELDS: &[&str] = &[
    "op",
    "release",
    "chart",
    "version",
    "values",
    "set",
    "revision",
    "namespace",
    "create_namespace",
    "context",
    "kubeconfig",
    "wait",
    "atomic",
    "timeout",
];

/// The operation of a `helm` action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HelmOp {
    /// `helm upgrade --install RELEASE CHART`.
    Upgrade,
    /// `helm uninstall RELEASE`.
    Uninstall,
    /// `helm test RELEASE`.
    Test,
    /// `helm rollback RELEASE [REVISION]`.
    Rollback,
}

impl HelmOp {
    /// Which fields the operation takes; see [`OpFields`].
    pub const fn fields(self) -> OpFields {
        const BASE: OpFields = OpFields::new(
            HELM_FIELDS,
            &["op", "namespace", "context", "kubeconfig", "timeout"],
        )
        .required(&["release"]);
        match self {
            HelmOp::Upgrade => BASE.required(&["release", "chart"]).optional(&[
                "version",
                "values",
                "set",
                "create_namespace",
                "wait",
                "atomic",
            ]),
            HelmOp::Uninstall => BASE.optional(&["wait"]),
            HelmOp::Test => BASE,
            HelmOp::Rollback => BASE.optional(&["revision", "wait"]),
        }
    }

    /// The YAML spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            HelmOp::Upgrade => "upgrade",
            HelmOp::Uninstall => "uninstall",
            HelmOp::Test => "test",
            HelmOp::Rollback => "rollback",
        }
    }
}

/// `helm`: one helm operation on a release.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HelmAction {
    /// The operation.
    pub op: HelmOp,
    /// The release name.
    pub release: String,
    /// Chart: a local folder or packaged `.tgz`, relative to the plan's folder.
    #[serde(default)]
    pub chart: Option<String>,
    /// Chart version constraint (`--version`).
    #[serde(default)]
    pub version: Option<String>,
    /// Values files (`-f`), relative to the plan's folder.
    #[serde(default)]
    pub values: Vec<String>,
    /// `--set KEY=VALUE` pairs.
    #[serde(default)]
    pub set: BTreeMap<String, String>,
    /// `rollback` target revision; default: the previous one.
    #[serde(default)]
    pub revision: Option<u32>,
    /// Namespace; defaults to the instance's, then `vars.namespace`.
    #[serde(default)]
    pub namespace: Option<String>,
    /// `--create-namespace`.
    #[serde(default)]
    pub create_namespace: bool,
    /// kube context; defaults to the instance's, then `vars.kube_context`.
    #[serde(default)]
    pub context: Option<String>,
    /// kubeconfig file.
    #[serde(default)]
    pub kubeconfig: Option<String>,
    /// `--wait`.
    #[serde(default)]
    pub wait: bool,
    /// `--atomic` (off by default: plangate's own rollback is the usual path).
    #[serde(default)]
    pub atomic: bool,
    /// `--timeout`.
    #[serde(default)]
    pub timeout: Option<PlanDuration>,
}

impl HelmAction {
    /// Whether the action gives `field` (one of [`HELM_FIELDS`]), as the
    /// executor sees it.
    pub fn field_state(&self, field: &str) -> FieldState {
        match field {
            "op" => FieldState::Present,
            "release" => text_state(Some(&self.release)),
            "chart" => text_state(self.chart.as_deref()),
            "version" => text_state(self.version.as_deref()),
            "values" => flag_state(!self.values.is_empty()),
            "set" => flag_state(!self.set.is_empty()),
            "revision" => flag_state(self.revision.is_some()),
            "namespace" => text_state(self.namespace.as_deref()),
            "create_namespace" => flag_state(self.create_namespace),
            "context" => text_state(self.context.as_deref()),
            "kubeconfig" => text_state(self.kubeconfig.as_deref()),
            "wait" => flag_state(self.wait),
            "atomic" => flag_state(self.atomic),
            "timeout" => flag_state(self.timeout.is_some()),
            _ => FieldState::Absent,
        }
    }

    /// The problems its operation's table finds (see [`HelmOp::fields`]).
    pub fn field_problems(&self) -> Vec<FieldProblem> {
        self.op.fields().check(|field| self.field_state(field))
    }
}

/// How a pull request is merged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MergeMethod {
    /// A merge commit.
    #[default]
    Merge,
    /// One squashed commit.
    Squash,
    /// Rebased commits.
    Rebase,
}

impl MergeMethod {
    /// The YAML spelling, also GitHub's.
    pub fn as_str(self) -> &'static str {
        match self {
            MergeMethod::Merge => "merge",
            MergeMethod::Squash => "squash",
            MergeMethod::Rebase => "rebase",
        }
    }
}

/// `github_merge`: merge one pull request after checking it is mergeable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GithubMergeAction {
    /// `OWNER/NAME`.
    pub repo: String,
    /// The pull request number.
    pub pr: u64,
    /// Merge method.
    #[serde(default)]
    pub method: MergeMethod,
    /// Only merge if the head is still this commit.
    #[serde(default)]
    pub sha: Option<String>,
    /// Delete the head branch after merging.
    #[serde(default)]
    pub delete_branch: bool,
    /// Refuse to merge unless GitHub reports the pull request mergeable and clean.
    #[serde(default = "default_true")]
    pub require_clean: bool,
    /// API base URL; defaults to the instance's, then `https://api.github.com`.
    #[serde(default)]
    pub api_url: Option<String>,
    /// Name of the environment variable holding the token; default `GITHUB_TOKEN`.
    #[serde(default)]
    pub token_env: Option<String>,
    /// Checks that must have passed on the head commit, besides those the
    /// base branch's protection requires.
    #[serde(default)]
    pub require_checks: Option<RequireChecks>,
    /// Approving reviews needed, besides what the base branch's protection
    /// requires (the larger count wins).
    #[serde(default)]
    pub require_approvals: Option<u32>,
    /// `rollback: auto` merges the revert pull request it opens (under the
    /// same checks), rather than leaving it open for review.
    #[serde(default)]
    pub rollback_merge: bool,
}

/// `require_checks` of a `github_merge` action: every check reported on the
/// head commit, or the named ones.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RequireChecks {
    /// `all`: every check run and commit status on the head must have passed.
    All(AllChecks),
    /// These checks (check-run names or status contexts) must have passed.
    Named(Vec<String>),
}

/// The word `all` of [`RequireChecks::All`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AllChecks {
    /// `all`.
    All,
}

fn default_true() -> bool {
    true
}

/// The operation of a `git` action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GitOp {
    /// Stage `paths` (all changes when empty) and commit with `message`.
    Commit,
    /// Create `branch` at `from` (default `HEAD`).
    Branch,
    /// Create tag `tag` at `from` (annotated when `message` is set).
    Tag,
    /// Merge `from` into the checked-out branch.
    Merge,
    /// Push `refspec` to `remote`.
    Push,
    /// Check out `branch`.
    Checkout,
    /// Clone `url` into `repo`.
    Clone,
    /// Fetch from `remote` (`refspec`, default: the remote's configured ones).
    Fetch,
}

/// The fields of a `git` action, in declaration order.
pub const GIT_FIELDS: &[&str] = &[
    "op",
    "repo",
    "message",
    "paths",
    "branch",
    "tag",
    "from",
    "remote",
    "refspec",
    "url",
    "token_env",
    "force_rollback",
];

impl GitOp {
    /// Which fields the operation takes; see [`OpFields`].
    pub const fn fields(self) -> OpFields {
        const BASE: OpFields = OpFields::new(GIT_FIELDS, &["op", "repo", "token_env"]);
        match self {
            GitOp::Commit => BASE.required(&["message"]).optional(&["paths"]),
            GitOp::Branch => BASE.required(&["branch"]).optional(&["from"]),
            GitOp::Checkout => BASE.required(&["branch"]),
            GitOp::Tag => BASE.required(&["tag"]).optional(&["message", "from"]),
            GitOp::Merge => BASE.required(&["from"]).optional(&["message"]),
            GitOp::Push => BASE.optional(&["remote", "refspec", "force_rollback"]),
            GitOp::Clone => BASE.required(&["url"]).optional(&["branch"]),
            GitOp::Fetch => BASE.optional(&["remote", "refspec"]),
        }
    }

    /// The YAML spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            GitOp::Commit => "commit",
            GitOp::Branch => "branch",
            GitOp::Tag => "tag",
            GitOp::Merge => "merge",
            GitOp::Push => "push",
            GitOp::Checkout => "checkout",
            GitOp::Clone => "clone",
            GitOp::Fetch => "fetch",
        }
    }
}

/// `git`: one operation on a local repository.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GitAction {
    /// The operation.
    pub op: GitOp,
    /// Repository folder, relative to the plan's folder.
    #[serde(default = "default_repo")]
    pub repo: String,
    /// Commit or tag message.
    #[serde(default)]
    pub message: Option<String>,
    /// Paths to stage for `commit`.
    #[serde(default)]
    pub paths: Vec<String>,
    /// Branch for `branch` and `checkout`.
    #[serde(default)]
    pub branch: Option<String>,
    /// Tag for `tag`.
    #[serde(default)]
    pub tag: Option<String>,
    /// Start point or merge source.
    #[serde(default)]
    pub from: Option<String>,
    /// Remote for `push`; default `origin`.
    #[serde(default)]
    pub remote: Option<String>,
    /// Refspec for `push` and `fetch`.
    #[serde(default)]
    pub refspec: Option<String>,
    /// The URL `clone` clones.
    #[serde(default)]
    pub url: Option<String>,
    /// The environment variable holding the token for HTTPS remotes; default
    /// `GITHUB_TOKEN` (when it is set). Its value is always redacted.
    #[serde(default)]
    pub token_env: Option<String>,
    /// `push`: lets `rollback: auto` move a pushed branch back (a forced push,
    /// refused unless the remote is still at what was pushed).
    #[serde(default)]
    pub force_rollback: bool,
}

impl GitAction {
    /// Whether the action gives `field` (one of [`GIT_FIELDS`]).
    pub fn field_state(&self, field: &str) -> FieldState {
        match field {
            "op" | "repo" => FieldState::Present,
            "message" => text_state(self.message.as_deref()),
            "paths" => flag_state(!self.paths.is_empty()),
            "branch" => text_state(self.branch.as_deref()),
            "tag" => text_state(self.tag.as_deref()),
            "from" => text_state(self.from.as_deref()),
            "remote" => text_state(self.remote.as_deref()),
            "refspec" => text_state(self.refspec.as_deref()),
            "url" => text_state(self.url.as_deref()),
            "token_env" => text_state(self.token_env.as_deref()),
            "force_rollback" => flag_state(self.force_rollback),
            _ => FieldState::Absent,
        }
    }

    /// The problems its operation's table finds (see [`GitOp::fields`]).
    pub fn field_problems(&self) -> Vec<FieldProblem> {
        self.op.fields().check(|field| self.field_state(field))
    }
}

fn default_repo() -> String {
    ".".to_owned()
}

/// A configured executor instance from the plan's `executors:` map.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecutorInstance {
    /// Which kind of executor this configures.
    pub kind: ExecutorKind,
    /// kubectl/helm: kube context.
    #[serde(default)]
    pub context: Option<String>,
    /// kubectl/helm: namespace.
    #[serde(default)]
    pub namespace: Option<String>,
    /// kubectl/helm: kubeconfig file.
    #[serde(default)]
    pub kubeconfig: Option<String>,
    /// kubectl/helm: path of the tool binary; default: looked up on `PATH`.
    /// (git runs in-process through libgit2, so git instances take none.)
    #[serde(default)]
    pub binary: Option<String>,
    /// kubectl/helm: allow a context whose name does not mention the plan's
    /// environment (see the wrong-cluster guard in `docs/plan-reference.md`).
    #[serde(default)]
    pub allow_context_mismatch: bool,
    /// shell: extra environment for every action of this instance.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// shell: working directory.
    #[serde(default)]
    pub cwd: Option<String>,
    /// github_merge: API base URL.
    #[serde(default)]
    pub api_url: Option<String>,
    /// github_merge, git: name of the variable holding the token.
    #[serde(default)]
    pub token_env: Option<String>,
    /// github_merge: default `OWNER/NAME`; git: default repository folder.
    #[serde(default)]
    pub repo: Option<String>,
    /// Every kind: one task at a time through this instance. A task whose
    /// `run`, `verify` or `rollback` names the instance is in the instance's
    /// resource group (see [`crate::Plan::exclusive_groups`]).
    #[serde(default)]
    pub exclusive: bool,
}

/// What `rollback:` holds.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rollback {
    /// `rollback: auto`: the executor's own inverse of the `run` action.
    Auto,
    /// An explicit action.
    Action(Box<Action>),
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The keys serde writes for an action, in declaration order.
    fn serialized_keys<T: Serialize>(action: &T) -> Vec<String> {
        let value = serde_json::to_value(action).expect("an action serialises");
        let serde_json::Value::Object(map) = value else {
            panic!("an action serialises to a map");
        };
        let mut keys: Vec<String> = map.keys().cloned().collect();
        keys.sort();
        keys
    }

    fn sorted(fields: &[&str]) -> Vec<String> {
        let mut fields: Vec<String> = fields.iter().map(|&field| field.to_owned()).collect();
        fields.sort();
        fields
    }

    #[test]
    fn the_field_lists_name_every_field_of_their_struct() {
        let kubectl: KubectlAction = serde_yaml::from_str("op: apply").expect("valid");
        assert_eq!(serialized_keys(&kubectl), sorted(KUBECTL_FIELDS));
        let helm: HelmAction = serde_yaml::from_str("{op: test, release: r}").expect("valid");
        assert_eq!(serialized_keys(&helm), sorted(HELM_FIELDS));
        let git: GitAction = serde_yaml::from_str("op: push").expect("valid");
        assert_eq!(serialized_keys(&git), sorted(GIT_FIELDS));
    }

    #[test]
    fn every_table_names_only_fields_of_its_kind() {
        let kubectl = [
            KubectlOp::Apply,
            KubectlOp::Delete,
            KubectlOp::RolloutStatus,
            KubectlOp::RolloutUndo,
            KubectlOp::Wait,
            KubectlOp::Scale,
            KubectlOp::Patch,
            KubectlOp::SetImage,
        ]
        .map(KubectlOp::fields);
        let helm = [
            HelmOp::Upgrade,
            HelmOp::Uninstall,
            HelmOp::Test,
            HelmOp::Rollback,
        ]
        .map(HelmOp::fields);
        let git = [
            GitOp::Commit,
            GitOp::Branch,
            GitOp::Tag,
            GitOp::Merge,
            GitOp::Push,
            GitOp::Checkout,
            GitOp::Clone,
            GitOp::Fetch,
        ]
        .map(GitOp::fields);
        for fields in kubectl.iter().chain(&helm).chain(&git) {
            let pairs = fields.exclusive.iter().chain(fields.needs);
            let named = [
                fields.common,
                fields.required,
                fields.one_of,
                fields.optional,
            ]
            .concat()
            .into_iter()
            .chain(pairs.flat_map(|&(a, b)| [a, b]));
            for field in named {
                assert!(fields.all.contains(&field), "`{field}` in {fields:?}");
                assert!(fields.accepts(field), "`{field}` is named but not taken");
            }
        }
    }

    fn kubectl(yaml: &str) -> Vec<String> {
        let action: KubectlAction = serde_yaml::from_str(yaml).expect("a kubectl action");
        action
            .field_problems()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn kubectl_rules_follow_kubectl() {
        assert_eq!(
            kubectl("{op: apply, files: [a.yaml], selector: app=web}"),
            [""; 0]
        );
        assert_eq!(
            kubectl("{op: apply, files: [a.yaml], prune: app=web, selector: app=web}"),
            ["takes `prune` or `selector`, not both"]
        );
        assert_eq!(
            kubectl("{op: apply, files: [a.yaml], force_conflicts: true}"),
            ["takes `force_conflicts` only together with `server_side`"]
        );
        assert_eq!(kubectl("{op: apply}"), ["needs `files` or `kustomize`"]);
        assert_eq!(
            kubectl("{op: delete, selector: app=web}"),
            ["needs `files`, `kustomize` or `resource`"]
        );
        assert_eq!(
            kubectl("{op: delete, resource: pods, selector: app=web}"),
            [""; 0]
        );
        assert_eq!(
            kubectl("{op: delete, files: [a.yaml], selector: app=web}"),
            [""; 0]
        );
        assert_eq!(
            kubectl("{op: delete, files: [a.yaml], resource: deployment/web}"),
            ["takes `files` or `resource`, not both"]
        );
        assert_eq!(
            kubectl("{op: delete, resource: pods}"),
            ["needs a `resource` with a name (`KIND/NAME`), or a `selector`"]
        );
        assert_eq!(
            kubectl("{op: wait, selector: app=web, condition: Ready}"),
            ["needs `resource`"]
        );
        assert_eq!(
            kubectl("{op: wait, resource: deployment/web, selector: app=web, condition: Ready}"),
            [
                "takes `selector` only with a kind as `resource` (such as `pods`), not with a named object"
            ]
        );
        assert_eq!(
            kubectl("{op: rollout_status, resource: deployment}"),
            [""; 0]
        );
        assert_eq!(
            kubectl("{op: rollout_undo, resource: deployment/web, timeout: 1m}"),
            ["does not use `timeout`"]
        );
        assert_eq!(
            kubectl("{op: patch, resource: deployment, selector: app=web, patch: {}}"),
            ["does not use `selector`"]
        );
        assert_eq!(
            kubectl("{op: patch, resource: deployment, patch: {}}"),
            ["needs a `resource` with a name (`KIND/NAME`)"]
        );
    }

    #[test]
    fn helm_test_does_not_wait() {
        let action: HelmAction =
            serde_yaml::from_str("{op: test, release: web, wait: true}").expect("valid");
        assert_eq!(
            ActionSpec::Helm(Box::new(action)).field_problems(),
            [FieldProblem::NotUsed { field: "wait" }]
        );
        let action: HelmAction =
            serde_yaml::from_str("{op: upgrade, release: web, chart: ''}").expect("valid");
        assert_eq!(
            ActionSpec::Helm(Box::new(action)).field_problems(),
            [FieldProblem::Missing { field: "chart" }]
        );
    }
}
