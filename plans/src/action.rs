//! Actions: what a task's `run`, `verify` and `rollback` do, one schema per executor kind.
//!
//! An action is a YAML mapping with exactly one executor key: a kind
//! (`shell`, `kubectl`, `helm`, `github_merge`, `git`) whose value holds that
//! kind's fields, or `executor: NAME` naming a configured instance, whose
//! fields then go under `with:`. `docs/plan-reference.md` documents every field.

use std::{collections::BTreeMap, fmt};

use serde::{Deserialize, Deserializer, Serialize, de};

use crate::duration::PlanDuration;

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

impl KubectlOp {
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
}

impl GitOp {
    /// The YAML spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            GitOp::Commit => "commit",
            GitOp::Branch => "branch",
            GitOp::Tag => "tag",
            GitOp::Merge => "merge",
            GitOp::Push => "push",
            GitOp::Checkout => "checkout",
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
    /// Refspec for `push`.
    #[serde(default)]
    pub refspec: Option<String>,
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
    /// Path of the tool binary (kubectl, helm, git); default: looked up on `PATH`.
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
    /// github_merge: token variable name.
    #[serde(default)]
    pub token_env: Option<String>,
    /// github_merge: default `OWNER/NAME`; git: default repository folder.
    #[serde(default)]
    pub repo: Option<String>,
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
