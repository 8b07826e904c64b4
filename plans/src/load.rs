//! Loading a plan file: YAML parsing, typed decoding and validation, with every
//! problem of the file collected as a positioned [`Diagnostic`].
//!
//! The pipeline:
//!
//! 1. text checks that YAML parsers report badly (tabs in indentation, empty file);
//! 2. serde_yaml parses the document into a `Value` (syntax errors, with positions);
//! 3. [`crate::marked`] parses it again, keeping the span of every key and
//!    value, but only when a position is needed (a diagnostic, or a field
//!    check the typed pass cannot make): a valid plan is usually parsed once;
//! 4. each section, phase, task and action is decoded on its own, so one bad
//!    task does not hide the errors of the next; unknown keys are all reported;
//! 5. semantic checks (ids, `needs`, cycles, rollbacks, templates) run on the
//!    decoded pieces and look their spans up in the marked tree.

use std::{
    cell::OnceCell,
    collections::{BTreeMap, HashMap, HashSet},
    path::{Path as FsPath, PathBuf},
    time::Duration,
};

use serde::de::DeserializeOwned;
use serde_yaml::{Mapping, Value};
use sha2::{Digest, Sha256};

use crate::{
    action::{
        Action, ActionSpec, ExecutorInstance, ExecutorKind, GitAction, GithubMergeAction,
        HelmAction, KubectlAction, Rollback, ShellAction,
    },
    dag,
    diagnostic::{Diagnostic, Diagnostics},
    duration::{Limit, PlanDuration},
    ids::{PhaseId, PlanName, TaskId, is_valid_id},
    marked::{self, Node, Path},
    model::{AboveMax, OnFailure, PLAN_FORMAT_VERSION, Phase, Plan, Policy, Risk, Task},
    op_fields::FieldProblem,
    source::{SourceFile, Span},
    template,
    text::{and_ticked, did_you_mean},
    yaml_value,
};

/// The error of [`load_plan`].
#[derive(Debug, thiserror::Error)]
pub enum LoadPlanError {
    /// The file could not be read (missing, permissions, not UTF-8). Not retryable
    /// without user action.
    #[error("failed to read plan file `{path}`")]
    Read {
        /// The path as given.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file was read but is not a valid plan; every problem is listed.
    #[error("plan file `{}` has {}", .0.source().path().display(), crate::text::plural(.0.len(), "error", "errors"))]
    Invalid(Diagnostics),
}

/// A validated plan and the text it was read from: a command loads its plan
/// once and keeps what it needs (a run stores the text; its hash is
/// [`Plan::content_hash`]).
#[derive(Clone, Debug)]
pub struct LoadedPlan {
    /// The validated plan.
    pub plan: Plan,
    /// The path as given and the text read from it.
    pub source: SourceFile,
}

impl LoadedPlan {
    /// The plan file's text, as read.
    pub fn text(&self) -> &str {
        self.source.text()
    }

    /// The SHA-256 of the text, hex.
    pub fn hash(&self) -> &str {
        &self.plan.content_hash
    }
}

/// Reads and validates the plan at `path`.
pub fn load_plan(path: &FsPath) -> Result<LoadedPlan, LoadPlanError> {
    let bytes = std::fs::read(path).map_err(|source| LoadPlanError::Read {
        path: path.to_owned(),
        source,
    })?;
    let text = String::from_utf8(bytes).map_err(|error| LoadPlanError::Read {
        path: path.to_owned(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, error.utf8_error()),
    })?;
    load_plan_text(path, text)
}

/// Validates `text` as the plan file at `path` held it (the copy a run
/// stored): relative paths resolve against `path`'s folder, as for
/// [`load_plan`], and diagnostics name `path`.
pub fn load_plan_text(path: &FsPath, text: String) -> Result<LoadedPlan, LoadPlanError> {
    let base_dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        _ => PathBuf::from("."),
    };
    let source = SourceFile::new(path, text);
    match parse_inner(&source, base_dir) {
        Ok(plan) => Ok(LoadedPlan { plan, source }),
        Err(items) => Err(LoadPlanError::Invalid(Diagnostics::new(source, items))),
    }
}

/// Validates plan text; `base_dir` is the folder relative paths resolve against.
pub fn parse_plan(source: SourceFile, base_dir: PathBuf) -> Result<Plan, Diagnostics> {
    match parse_inner(&source, base_dir) {
        Ok(plan) => Ok(plan),
        Err(items) => Err(Diagnostics::new(source, items)),
    }
}

fn parse_inner(source: &SourceFile, base_dir: PathBuf) -> Result<Plan, Vec<Diagnostic>> {
    let tabs = tab_diagnostics(source);
    if !tabs.is_empty() {
        return Err(tabs);
    }
    // The marked pass (positions) runs only when a position is needed: for
    // a diagnostic, or to check fields the typed pass cannot see. A valid
    // plan is usually parsed once, which halves the time and the memory of
    // loading a large plan.
    let value = match yaml_value::parse(source.text()) {
        Some(value) => value,
        None => serde_yaml::from_str::<Value>(source.text())
            .map_err(|e| vec![yaml_error(source, &e)])?,
    };
    if value.is_null() {
        return Err(vec![empty_file()]);
    }
    let context = Context {
        source,
        tree: OnceCell::new(),
        diagnostics: Vec::new(),
    };
    let Value::Mapping(mut root) = value else {
        let (span, found) = context.tree().map_or_else(
            || (None, "a scalar or a sequence".to_owned()),
            |tree| (Some(tree.span), tree.describe().to_owned()),
        );
        return Err(vec![
            Diagnostic::new(span, format!("a plan must be a mapping, found {found}"))
                .with_help("a plan is a mapping with `version: 1`, `name:` and `phases:`"),
        ]);
    };
    let mut context = context;
    let plan = context.plan(&mut root, source, base_dir);
    match plan {
        Some(plan) if context.diagnostics.is_empty() => Ok(plan),
        _ => Err(context.diagnostics),
    }
}

fn empty_file() -> Diagnostic {
    Diagnostic::new(None, "plan file is empty")
        .with_help("a plan is a mapping with `version: 1`, `name:` and `phases:`")
}

fn tab_diagnostics(source: &SourceFile) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (index, line) in source.text().split('\n').enumerate() {
        let indent: String = line
            .chars()
            .take_while(|c| *c == ' ' || *c == '\t')
            .collect();
        if let Some(column) = indent.chars().position(|c| c == '\t') {
            out.push(
                Diagnostic::new(
                    Some(Span::new(index + 1, column + 1, 1)),
                    "tab character in indentation",
                )
                .with_label("tab")
                .with_help("YAML indents with spaces only; replace the tab with spaces"),
            );
        }
    }
    out
}

fn yaml_error(source: &SourceFile, error: &serde_yaml::Error) -> Diagnostic {
    let message = error.to_string();
    // serde_yaml appends " at line L column C"; the span carries that already.
    let message = message
        .split(" at line ")
        .next()
        .unwrap_or(&message)
        .to_owned();
    let span = error.location().map(|location| {
        let (line, column) = source.position_of_byte(location.index());
        Span::new(line, column, 1)
    });
    if message.contains("more than one document") {
        return Diagnostic::new(span, "plan file holds more than one YAML document")
            .with_help("remove the `---` separators; a plan is one document");
    }
    Diagnostic::new(span, format!("invalid YAML: {message}"))
}

const ROOT_KEYS: &[&str] = &[
    "version",
    "name",
    "description",
    "environment",
    "policy",
    "defaults",
    "vars",
    "secrets",
    "executors",
    "phases",
];
const PHASE_KEYS: &[&str] = &["id", "name", "budget", "approval", "tasks"];
const TASK_KEYS: &[&str] = &[
    "id",
    "name",
    "source",
    "risk",
    "needs",
    "estimate",
    "timeout",
    "retries",
    "retry_backoff",
    "idempotent",
    "run",
    "verify",
    "rollback",
];
const ACTION_KEYS: &[&str] = &[
    "shell",
    "kubectl",
    "helm",
    "github_merge",
    "git",
    "executor",
    "with",
];

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    #[serde(default)]
    max_risk: Option<Risk>,
    #[serde(default)]
    above_max: Option<AboveMax>,
    #[serde(default)]
    require_rollback: Option<RequireRollback>,
    #[serde(default)]
    on_failure: Option<OnFailure>,
    #[serde(default)]
    budget: Option<Limit<PlanDuration>>,
    #[serde(default)]
    max_tasks: Option<Limit<u32>>,
    #[serde(default)]
    concurrency: Option<u32>,
}

#[derive(serde::Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum RequireRollback {
    None,
    Low,
    Medium,
    High,
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDefaults {
    #[serde(default)]
    timeout: Option<PlanDuration>,
    #[serde(default)]
    retries: Option<u32>,
    #[serde(default)]
    retry_backoff: Option<PlanDuration>,
    #[serde(default)]
    estimate: Option<PlanDuration>,
}

struct Defaults {
    timeout: Duration,
    retries: u32,
    retry_backoff: Duration,
    estimate: Option<Duration>,
}

/// A task as decoded, before `needs` are resolved to indexes. A draft exists
/// for every task with a valid, unique id, even when other fields are invalid,
/// so that graph checks still run over the whole plan.
struct DraftTask {
    id: TaskId,
    phase: usize,
    path: Path,
    needs: Vec<(String, Path)>,
    risk: Option<Risk>,
    has_rollback: bool,
    /// The fully decoded task (with `needs` still empty), if every field was valid.
    task: Option<Task>,
}

struct Context<'a> {
    source: &'a SourceFile,
    /// The marked tree, parsed on first use; `None` if yaml-rust2 cannot
    /// parse what serde_yaml could (then diagnostics have no position).
    tree: OnceCell<Option<Node>>,
    diagnostics: Vec<Diagnostic>,
}

impl Context<'_> {
    fn tree(&self) -> Option<&Node> {
        self.tree
            .get_or_init(|| marked::parse(self.source).ok().flatten())
            .as_ref()
    }

    /// The span of the node at `path`, or of its nearest ancestor that exists.
    fn span(&self, path: &Path) -> Option<Span> {
        let tree = self.tree()?;
        let mut path = path.clone();
        loop {
            if let Some(node) = tree.lookup(&path) {
                return Some(node.span);
            }
            path.0.pop()?;
        }
    }

    /// The span of the key `key` of the mapping at `path`, else of the mapping.
    fn key_span(&self, path: &Path, key: &str) -> Option<Span> {
        self.tree()
            .and_then(|tree| tree.key_span(path, key))
            .or_else(|| self.span(path))
    }

    fn error(&mut self, span: Option<Span>, message: impl Into<String>) -> &mut Diagnostic {
        self.diagnostics.push(Diagnostic::new(span, message));
        self.diagnostics
            .last_mut()
            .expect("a diagnostic was pushed on the line above")
    }

    /// Reports every key of `map` not in `known`, with a suggestion.
    fn unknown_keys(&mut self, map: &Mapping, path: &Path, known: &[&str], what: &str) {
        let noun = what
            .trim_start_matches("the ")
            .trim_start_matches("an ")
            .trim_start_matches("a ");
        for key in map.keys() {
            let name = key_text(key);
            if known.contains(&name.as_str()) {
                continue;
            }
            let span = self.key_span(path, &name);
            let help = match did_you_mean(&name, known.iter().copied()) {
                Some(suggestion) => format!(
                    "did you mean `{suggestion}`? {noun} keys are {}",
                    and_ticked(known)
                ),
                None => format!("{noun} keys are {}", and_ticked(known)),
            };
            self.error(span, format!("unknown key `{name}` in {what}"))
                .help = Some(help);
        }
    }

    /// Decodes `value` (found at `path`) into `T`, recording a diagnostic on failure.
    fn decode<T: DeserializeOwned>(&mut self, value: &Value, path: &Path) -> Option<T> {
        match serde_path_to_error::deserialize::<_, T>(value) {
            Ok(decoded) => Some(decoded),
            Err(error) => {
                let inner_path = convert_path(error.path());
                let full = path.join(&inner_path);
                let message = error.inner().to_string();
                self.decode_error(&full, &message);
                None
            }
        }
    }

    fn decode_error(&mut self, path: &Path, message: &str) {
        if let Some(field) = message
            .strip_prefix("unknown field `")
            .and_then(|rest| rest.split('`').next())
        {
            // serde_path_to_error may or may not include the unknown key itself.
            let mut parent = path.clone();
            if last_key(&parent) == Some(field) {
                parent.0.pop();
            }
            let span = self.key_span(&parent, field);
            let expected = message.split(", expected ").nth(1).unwrap_or("no fields");
            let known: Vec<&str> = expected
                .split(['`', ',', ' '])
                .filter(|word| !word.is_empty() && *word != "one" && *word != "of" && *word != "or")
                .collect();
            let help = match did_you_mean(field, known.iter().copied()) {
                Some(suggestion) => format!("did you mean `{suggestion}`? expected {expected}"),
                None => format!("expected {expected}"),
            };
            self.error(span, format!("unknown key `{field}`")).help = Some(help);
            return;
        }
        if let Some(field) = message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next())
        {
            let span = self.span(path);
            self.error(span, format!("missing key `{field}` in `{path}`"));
            return;
        }
        let span = self.span(path);
        let (what, expected) = match message.split_once(", expected ") {
            Some((what, expected)) => (what, Some(expected)),
            None => (message, None),
        };
        let name = last_key(path).map_or_else(|| path.to_string(), |key| format!("`{key}`"));
        let diagnostic = self.error(span, format!("invalid {name}: {what}"));
        if let Some(expected) = expected {
            diagnostic.help = Some(format!("expected {expected}"));
        }
    }

    /// The value of `key` in `map`, decoded; `Err(())` when it is present but invalid.
    fn optional<T: DeserializeOwned>(
        &mut self,
        map: &Mapping,
        path: &Path,
        key: &str,
    ) -> Result<Option<T>, ()> {
        match map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => self.decode(value, &path.key(key)).map(Some).ok_or(()),
        }
    }

    fn required<T: DeserializeOwned>(
        &mut self,
        map: &Mapping,
        path: &Path,
        key: &str,
        what: &str,
    ) -> Option<T> {
        if matches!(map.get(key), None | Some(Value::Null)) {
            let span = self.span(path);
            self.error(span, format!("{what} has no `{key}`"));
            return None;
        }
        self.optional(map, path, key).ok().flatten()
    }

    /// The sequence under `key`, moved out of the document when it is a
    /// plain sequence (so the phases and tasks of a large plan are neither
    /// copied nor kept once decoded), else decoded as [`Context::required`]
    /// does, with its diagnostics.
    fn take_sequence(
        &mut self,
        map: &mut Mapping,
        path: &Path,
        key: &str,
        what: &str,
    ) -> Option<Vec<Value>> {
        if let Some(Value::Sequence(_)) = map.get(key)
            && let Some(Value::Sequence(items)) = map.shift_remove(key)
        {
            return Some(items);
        }
        self.required::<Vec<Value>>(map, path, key, what)
    }

    fn id_text(&mut self, text: &str, path: &Path, what: &str) -> bool {
        if is_valid_id(text) {
            return true;
        }
        let span = self.span(path);
        let diagnostic = self.error(span, format!("invalid {what} `{text}`"));
        diagnostic.label = Some("not a valid id".to_owned());
        diagnostic.help = Some(
            "ids use lowercase letters, digits and `-`, starting with a letter or digit (`[a-z0-9][a-z0-9-]*`)"
                .to_owned(),
        );
        false
    }

    fn plan(&mut self, root: &mut Mapping, source: &SourceFile, base_dir: PathBuf) -> Option<Plan> {
        let path = Path::root();
        self.unknown_keys(root, &path, ROOT_KEYS, "the plan");

        let version = self.version(root);
        let name: Option<String> = self.required(root, &path, "name", "the plan");
        let name = name.and_then(|name| {
            self.id_text(&name, &path.key("name"), "plan name")
                .then(|| PlanName::new(name).ok())
                .flatten()
        });
        let description: Option<String> = self.optional(root, &path, "description").ok().flatten();
        let environment: Option<String> = self.optional(root, &path, "environment").ok().flatten();
        let policy = self.policy(root);
        let defaults = self.defaults(root);
        let vars = self.vars(root);
        let secrets: Vec<String> = self
            .optional(root, &path, "secrets")
            .ok()
            .flatten()
            .unwrap_or_default();
        let executors = self.executors(root);
        let (phases, drafts) = self.phases(root, &defaults, &vars, &executors);

        let tasks = self.resolve_tasks(&phases, drafts, &policy);
        let plan = Plan {
            version: version?,
            name: name?,
            description,
            environment: environment.unwrap_or_else(|| "dev".to_owned()),
            policy,
            vars,
            secrets,
            executors,
            phases,
            tasks: tasks?,
            base_dir,
            content_hash: hex_sha256(source.text().as_bytes()),
        };
        Some(plan)
    }

    fn version(&mut self, root: &Mapping) -> Option<u32> {
        let path = Path::root();
        let version: u32 = self.required(root, &path, "version", "the plan")?;
        if version != PLAN_FORMAT_VERSION {
            let span = self.span(&path.key("version"));
            self.error(span, format!("unsupported plan version `{version}`"))
                .help = Some(format!(
                "this plangate reads `version: {PLAN_FORMAT_VERSION}`"
            ));
            return None;
        }
        Some(version)
    }

    fn policy(&mut self, root: &Mapping) -> Policy {
        let mut policy = Policy::default();
        let path = Path::root().key("policy");
        let Ok(Some(raw)) = self.optional::<RawPolicy>(root, &Path::root(), "policy") else {
            return policy;
        };
        if let Some(max_risk) = raw.max_risk {
            policy.max_risk = max_risk;
        }
        if let Some(above_max) = raw.above_max {
            policy.above_max = above_max;
        }
        if let Some(require) = raw.require_rollback {
            policy.require_rollback = match require {
                RequireRollback::None => None,
                RequireRollback::Low => Some(Risk::Low),
                RequireRollback::Medium => Some(Risk::Medium),
                RequireRollback::High => Some(Risk::High),
            };
        }
        if let Some(on_failure) = raw.on_failure {
            policy.on_failure = on_failure;
        }
        if let Some(budget) = raw.budget {
            policy.budget = budget.get().map(PlanDuration::get);
        }
        if let Some(max_tasks) = raw.max_tasks {
            policy.max_tasks = max_tasks.get();
        }
        match raw.concurrency {
            Some(0) => {
                let span = self.span(&path.key("concurrency"));
                self.error(span, "invalid `concurrency`: 0 would never run a task")
                    .help = Some("expected a whole number of at least 1".to_owned());
            }
            Some(concurrency) => policy.concurrency = concurrency,
            None => {}
        }
        policy
    }

    fn defaults(&mut self, root: &Mapping) -> Defaults {
        let raw: RawDefaults = self
            .optional(root, &Path::root(), "defaults")
            .ok()
            .flatten()
            .unwrap_or_default();
        Defaults {
            timeout: raw
                .timeout
                .map_or(Duration::from_secs(15 * 60), PlanDuration::get),
            retries: raw.retries.unwrap_or(0),
            retry_backoff: raw
                .retry_backoff
                .map_or(Duration::from_secs(10), PlanDuration::get),
            estimate: raw.estimate.map(PlanDuration::get),
        }
    }

    /// A top-level mapping section (`vars`, `executors`) as name to value;
    /// empty when absent or invalid (invalid is reported).
    fn named_section(&mut self, root: &Mapping, key: &str) -> BTreeMap<String, Value> {
        self.optional(root, &Path::root(), key)
            .ok()
            .flatten()
            .unwrap_or_default()
    }

    fn vars(&mut self, root: &Mapping) -> BTreeMap<String, String> {
        let path = Path::root().key("vars");
        let raw = self.named_section(root, "vars");
        let mut vars = BTreeMap::new();
        for (name, value) in raw {
            let text = match value {
                Value::String(text) => text,
                Value::Number(number) => number.to_string(),
                Value::Bool(flag) => flag.to_string(),
                _ => {
                    let span = self.span(&path.key(&name));
                    self.error(span, format!("var `{name}` is not a plain value"))
                        .help = Some("vars hold strings, numbers or booleans".to_owned());
                    continue;
                }
            };
            if !template::is_var_name(&name) {
                let span = self.key_span(&path, &name);
                self.error(span, format!("invalid var name `{name}`")).help =
                    Some("var names use letters, digits, `_` and `-`".to_owned());
                continue;
            }
            vars.insert(name, text);
        }
        vars
    }

    fn executors(&mut self, root: &Mapping) -> BTreeMap<String, ExecutorInstance> {
        let path = Path::root().key("executors");
        let raw = self.named_section(root, "executors");
        let mut executors = BTreeMap::new();
        for (name, value) in raw {
            let instance_path = path.key(&name);
            if !is_valid_id(&name) {
                let span = self.key_span(&path, &name);
                self.error(span, format!("invalid executor name `{name}`"))
                    .help =
                    Some("executor names follow the id syntax `[a-z0-9][a-z0-9-]*`".to_owned());
            }
            let Some(instance) = self.decode::<ExecutorInstance>(&value, &instance_path) else {
                continue;
            };
            self.instance_fields(&value, &instance_path, &instance);
            executors.insert(name, instance);
        }
        executors
    }

    /// Reports instance fields that mean nothing for the instance's kind.
    fn instance_fields(&mut self, value: &Value, path: &Path, instance: &ExecutorInstance) {
        let allowed: &[&str] = match instance.kind {
            ExecutorKind::Shell => &["kind", "env", "cwd"],
            ExecutorKind::Kubectl | ExecutorKind::Helm => &[
                "kind",
                "context",
                "namespace",
                "kubeconfig",
                "binary",
                "allow_context_mismatch",
            ],
            ExecutorKind::GithubMerge => &["kind", "api_url", "token_env", "repo"],
            ExecutorKind::Git => &["kind", "repo", "binary"],
        };
        let Value::Mapping(map) = value else { return };
        for key in map.keys() {
            let key = key_text(key);
            if !allowed.contains(&key.as_str()) {
                let span = self.key_span(path, &key);
                self.error(
                    span,
                    format!(
                        "key `{key}` does not apply to a `{}` executor",
                        instance.kind
                    ),
                )
                .help = Some(format!(
                    "`{}` executors take {}",
                    instance.kind,
                    and_ticked(allowed)
                ));
            }
        }
    }

    fn phases(
        &mut self,
        root: &mut Mapping,
        defaults: &Defaults,
        vars: &BTreeMap<String, String>,
        executors: &BTreeMap<String, ExecutorInstance>,
    ) -> (Vec<Phase>, Vec<DraftTask>) {
        let root_path = Path::root();
        let Some(raw_phases) = self.take_sequence(root, &root_path, "phases", "the plan") else {
            return (Vec::new(), Vec::new());
        };
        if raw_phases.is_empty() {
            let span = self.span(&root_path.key("phases"));
            self.error(span, "the plan has no phases").help =
                Some("add at least one phase with `id:` and `tasks:`".to_owned());
        }
        let mut phases = Vec::new();
        let mut drafts = Vec::new();
        let mut seen_phases: HashMap<String, Path> = HashMap::new();
        let mut seen_tasks: HashMap<String, Path> = HashMap::new();
        for (phase_index, raw) in raw_phases.into_iter().enumerate() {
            let path = root_path.key("phases").index(phase_index);
            let Value::Mapping(mut map) = raw else {
                let span = self.span(&path);
                self.error(span, "a phase must be a mapping").help = Some(
                    "a phase has `id:`, optional `name:`, `budget:`, `approval:`, and `tasks:`"
                        .to_owned(),
                );
                continue;
            };
            self.unknown_keys(&map, &path, PHASE_KEYS, "a phase");
            let id: Option<String> = self.required(&map, &path, "id", "a phase");
            let name = self.optional::<String>(&map, &path, "name").ok().flatten();
            let budget = self
                .optional::<PlanDuration>(&map, &path, "budget")
                .ok()
                .flatten();
            let approval = self
                .optional::<bool>(&map, &path, "approval")
                .ok()
                .flatten();
            let raw_tasks = self
                .take_sequence(&mut map, &path, "tasks", "a phase")
                .unwrap_or_default();
            let phase_id = id.and_then(|id| {
                if !self.id_text(&id, &path.key("id"), "phase id") {
                    return None;
                }
                if let Some(first) = seen_phases.get(&id) {
                    let first_line = self.span(first).unwrap_or_default().line;
                    let id_span = self.span(&path.key("id"));
                    self.error(id_span, format!("duplicate phase id `{id}`"))
                        .help = Some(format!(
                        "phase `{id}` is first defined on line {first_line}; phase ids are unique"
                    ));
                    return None;
                }
                seen_phases.insert(id.clone(), path.key("id"));
                PhaseId::new(id).ok()
            });
            let mut phase_tasks = Vec::new();
            for (task_index, raw_task) in raw_tasks.into_iter().enumerate() {
                let task_path = path.key("tasks").index(task_index);
                let context = TaskContext {
                    phase: phases.len(),
                    defaults,
                    vars,
                    executors,
                };
                if let Some(draft) = self.task(&raw_task, &task_path, &context, &mut seen_tasks) {
                    phase_tasks.push(drafts.len());
                    drafts.push(draft);
                }
            }
            if let Some(id) = phase_id {
                phases.push(Phase {
                    id,
                    name,
                    budget: budget.map(PlanDuration::get),
                    approval: approval.unwrap_or(false),
                    tasks: phase_tasks,
                });
            }
        }
        (phases, drafts)
    }

    fn task(
        &mut self,
        raw: &Value,
        path: &Path,
        context: &TaskContext<'_>,
        seen: &mut HashMap<String, Path>,
    ) -> Option<DraftTask> {
        let Value::Mapping(map) = raw else {
            let span = self.span(path);
            self.error(span, "a task must be a mapping").help =
                Some("a task has at least `id:`, `risk:` and `run:`".to_owned());
            return None;
        };
        self.unknown_keys(map, path, TASK_KEYS, "a task");
        let id: Option<String> = self.required(map, path, "id", "a task");
        let name = self.optional::<String>(map, path, "name").ok().flatten();
        let source = self.optional::<String>(map, path, "source").ok().flatten();
        let risk: Option<Risk> = self.required(map, path, "risk", "a task");
        let needs: Vec<String> = self
            .optional(map, path, "needs")
            .ok()
            .flatten()
            .unwrap_or_default();
        let estimate = self.optional::<PlanDuration>(map, path, "estimate");
        let timeout = self.optional::<PlanDuration>(map, path, "timeout");
        let retries = self.optional::<u32>(map, path, "retries");
        let retry_backoff = self.optional::<PlanDuration>(map, path, "retry_backoff");
        let idempotent = self.optional::<bool>(map, path, "idempotent");

        let run = match map.get("run") {
            None | Some(Value::Null) => {
                let span = self.span(path);
                self.error(span, "a task has no `run`").help =
                    Some("add `run:` with one action, e.g. `run: {shell: [\"make\"]}`".to_owned());
                None
            }
            Some(value) => self.action(value, &path.key("run"), context),
        };
        let verify = match map.get("verify") {
            None | Some(Value::Null) => Ok(None),
            Some(value) => self
                .action(value, &path.key("verify"), context)
                .map(Some)
                .ok_or(()),
        };
        let rollback = match map.get("rollback") {
            None | Some(Value::Null) => Ok(None),
            Some(value) => self
                .rollback(value, &path.key("rollback"), context)
                .map(Some)
                .ok_or(()),
        };

        let id = id.and_then(|id| {
            if !self.id_text(&id, &path.key("id"), "task id") {
                return None;
            }
            if let Some(first) = seen.get(&id) {
                let first_line = self.span(first).unwrap_or_default().line;
                let id_span = self.span(&path.key("id"));
                self.error(id_span, format!("duplicate task id `{id}`"))
                    .help = Some(format!("task `{id}` is first defined on line {first_line}; task ids are unique in the whole plan"));
                return None;
            }
            seen.insert(id.clone(), path.key("id"));
            TaskId::new(id).ok()
        })?;

        if let (Some(Action { spec, .. }), Ok(Some(Rollback::Auto))) = (&run, &rollback)
            && matches!(spec.kind(), ExecutorKind::Shell | ExecutorKind::GithubMerge)
        {
            let span = self.span(&path.key("rollback"));
            self.error(
                span,
                format!("`rollback: auto` is not available for `{}` actions", spec.kind()),
            )
            .help = Some("write the rollback as an action; only kubectl, helm and git know their own inverse".to_owned());
        }

        let needs = needs
            .into_iter()
            .enumerate()
            .map(|(i, need)| (need, path.key("needs").index(i)))
            .collect();
        let has_rollback = map.get("rollback").is_some_and(|v| !v.is_null());
        let task = (|| {
            Some(Task {
                id: id.clone(),
                name,
                source,
                risk: risk?,
                phase: context.phase,
                needs: Vec::new(),
                estimate: estimate
                    .ok()?
                    .map(PlanDuration::get)
                    .or(context.defaults.estimate),
                timeout: timeout
                    .ok()?
                    .map_or(context.defaults.timeout, PlanDuration::get),
                retries: retries.ok()?.unwrap_or(context.defaults.retries),
                retry_backoff: retry_backoff
                    .ok()?
                    .map_or(context.defaults.retry_backoff, PlanDuration::get),
                idempotent: idempotent.ok()?.unwrap_or(false),
                run: run?,
                verify: verify.ok()?,
                rollback: rollback.ok()?,
            })
        })();
        Some(DraftTask {
            id,
            phase: context.phase,
            path: path.clone(),
            needs,
            risk,
            has_rollback,
            task,
        })
    }

    fn rollback(
        &mut self,
        value: &Value,
        path: &Path,
        context: &TaskContext<'_>,
    ) -> Option<Rollback> {
        match value {
            Value::String(word) if word == "auto" => Some(Rollback::Auto),
            Value::String(word) => {
                let span = self.span(path);
                self.error(span, format!("invalid `rollback`: `{word}`"))
                    .help = Some(
                    "expected `auto` or an action such as `{shell: [\"rm\", \"-f\", \"out.txt\"]}`"
                        .to_owned(),
                );
                None
            }
            _ => self
                .action(value, path, context)
                .map(|action| Rollback::Action(Box::new(action))),
        }
    }

    fn action(&mut self, value: &Value, path: &Path, context: &TaskContext<'_>) -> Option<Action> {
        let Value::Mapping(map) = value else {
            let span = self.span(path);
            self.error(span, "an action must be a mapping with one executor key")
                .help = Some(action_help());
            return None;
        };
        self.unknown_keys(map, path, ACTION_KEYS, "an action");
        let present: Vec<&str> = ACTION_KEYS
            .iter()
            .copied()
            .filter(|key| *key != "with" && map.contains_key(*key))
            .collect();
        match present.len() {
            0 => {
                let span = self.span(path);
                self.error(span, "action has no executor key").help = Some(action_help());
                return None;
            }
            1 => {}
            n => {
                let span = self.key_span(path, present[1]);
                self.error(
                    span,
                    format!("action has {n} executor keys: {}", and_ticked(&present)),
                )
                .help = Some(action_help());
                return None;
            }
        }
        // Substitution copies the action; most actions have no placeholder.
        let substituted;
        let value = if template::has_placeholder(value) {
            self.check_templates(path, context.vars);
            substituted = template::substitute_value(value, context.vars);
            &substituted
        } else {
            value
        };
        let Value::Mapping(map) = &value else {
            return None;
        };
        let key = present[0];
        if key == "executor" {
            return self.instance_action(map, path, context);
        }
        if map.contains_key("with") {
            let span = self.key_span(path, "with");
            self.error(span, "`with` is only used together with `executor: NAME`")
                .help = Some(format!("put the fields under `{key}:` instead"));
            return None;
        }
        let kind = ExecutorKind::from_key(key).expect("the key was found in ACTION_KEYS");
        let spec = self.spec(kind, &map[key], &path.key(key))?;
        Some(Action {
            instance: None,
            spec,
        })
    }

    fn instance_action(
        &mut self,
        map: &Mapping,
        path: &Path,
        context: &TaskContext<'_>,
    ) -> Option<Action> {
        let name: String = self.optional(map, path, "executor").ok().flatten()?;
        let Some(instance) = context.executors.get(&name) else {
            let span = self.span(&path.key("executor"));
            let known: Vec<&str> = context.executors.keys().map(String::as_str).collect();
            let help = if known.is_empty() {
                "the plan configures no `executors:`".to_owned()
            } else {
                match did_you_mean(&name, known.iter().copied()) {
                    Some(suggestion) => format!(
                        "did you mean `{suggestion}`? configured executors: {}",
                        and_ticked(&known)
                    ),
                    None => format!("configured executors: {}", and_ticked(&known)),
                }
            };
            self.error(span, format!("unknown executor `{name}`")).help = Some(help);
            return None;
        };
        let fields = match map.get("with") {
            Some(fields) => fields.clone(),
            None if instance.kind == ExecutorKind::Shell => {
                let span = self.span(path);
                self.error(
                    span,
                    format!("action using executor `{name}` has no `with:`"),
                )
                .help = Some("a shell instance needs `with: {argv: [...]}`".to_owned());
                return None;
            }
            None => Value::Mapping(Mapping::new()),
        };
        let spec = self.spec(instance.kind, &fields, &path.key("with"))?;
        Some(Action {
            instance: Some(name),
            spec,
        })
    }

    fn spec(&mut self, kind: ExecutorKind, value: &Value, path: &Path) -> Option<ActionSpec> {
        let spec = match kind {
            ExecutorKind::Shell => ActionSpec::Shell(self.decode::<ShellAction>(value, path)?),
            ExecutorKind::Kubectl => {
                ActionSpec::Kubectl(Box::new(self.decode::<KubectlAction>(value, path)?))
            }
            ExecutorKind::Helm => {
                ActionSpec::Helm(Box::new(self.decode::<HelmAction>(value, path)?))
            }
            ExecutorKind::GithubMerge => {
                ActionSpec::GithubMerge(Box::new(self.decode::<GithubMergeAction>(value, path)?))
            }
            ExecutorKind::Git => ActionSpec::Git(Box::new(self.decode::<GitAction>(value, path)?)),
        };
        self.check_spec(&spec, path).then_some(spec)
    }

    /// Checks that an operation has the fields it needs and none it ignores.
    fn check_spec(&mut self, spec: &ActionSpec, path: &Path) -> bool {
        let before = self.diagnostics.len();
        match spec {
            ActionSpec::Shell(shell) => {
                if shell.argv.is_empty() || shell.argv[0].is_empty() {
                    let span = self.span(path);
                    self.error(span, "`shell` argv is empty").help = Some(
                        "give the program and its arguments, e.g. `[\"make\", \"docs\"]`"
                            .to_owned(),
                    );
                }
            }
            ActionSpec::Kubectl(_) | ActionSpec::Helm(_) | ActionSpec::Git(_) => {
                self.op_fields(spec, path);
            }
            ActionSpec::GithubMerge(g) => {
                let valid = g.repo.split_once('/').is_some_and(|(owner, name)| {
                    !owner.is_empty() && !name.is_empty() && !name.contains('/')
                });
                if !valid {
                    let span = self.span(&path.key("repo"));
                    self.error(span, format!("invalid `repo` `{}`", g.repo))
                        .help = Some("expected `OWNER/NAME`, e.g. `acme/platform`".to_owned());
                }
            }
        }
        self.diagnostics.len() == before
    }

    /// Reports what [`ActionSpec::field_problems`] finds (the table the
    /// executors' `validate` read too), each at its key, and every key of the
    /// document the operation does not use, even one set to its default
    /// (`server_side: false` on a `delete`).
    fn op_fields(&mut self, spec: &ActionSpec, path: &Path) {
        let Some((op, fields)) = spec.op_fields() else {
            return;
        };
        let kind = spec.kind();
        let mut problems = spec.field_problems();
        let keys: Vec<String> = self
            .tree()
            .and_then(|tree| tree.lookup(path))
            .map(|node| {
                node.entries()
                    .iter()
                    .filter_map(|(key, _)| key.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        for key in &keys {
            if let Some(&field) = fields.all.iter().find(|field| **field == key.as_str())
                && !fields.accepts(field)
                && !problems.contains(&FieldProblem::NotUsed { field })
            {
                problems.push(FieldProblem::NotUsed { field });
            }
        }
        for problem in problems {
            let span = match problem.field() {
                Some(field) => self.key_span(path, field),
                None => self.span(path),
            };
            let help = fields.help(problem);
            self.error(span, format!("`{kind}` `{op}` {problem}")).help = Some(help);
        }
    }

    fn check_templates(&mut self, path: &Path, vars: &BTreeMap<String, String>) {
        let mut problems = Vec::new();
        if let Some(node) = self.tree().and_then(|tree| tree.lookup(path)) {
            template::check_node(node, vars, &mut problems);
        }
        self.diagnostics.extend(problems);
    }

    /// Resolves `needs` to indexes, checks their phases, rollback requirements and cycles.
    fn resolve_tasks(
        &mut self,
        phases: &[Phase],
        drafts: Vec<DraftTask>,
        policy: &Policy,
    ) -> Option<Vec<Task>> {
        let index_of: HashMap<&str, usize> = drafts
            .iter()
            .enumerate()
            .map(|(i, draft)| (draft.id.as_str(), i))
            .collect();
        let mut needs: Vec<Vec<usize>> = vec![Vec::new(); drafts.len()];
        let phase_name = |i: usize| {
            phases
                .get(i)
                .map_or_else(|| "?".to_owned(), |p| p.id.to_string())
        };
        for (index, draft) in drafts.iter().enumerate() {
            let id = &draft.id;
            let mut listed = HashSet::new();
            for (need, need_path) in &draft.needs {
                // Spans are looked up only for diagnostics: the marked pass
                // runs only when one is needed.
                if !listed.insert(need.as_str()) {
                    let span = self.span(need_path);
                    self.error(span, format!("task `{id}` needs `{need}` twice"))
                        .help = Some("list each task once in `needs`".to_owned());
                    continue;
                }
                let Some(&target) = index_of.get(need.as_str()) else {
                    let help = match did_you_mean(need, index_of.keys().copied()) {
                        Some(suggestion) => format!(
                            "did you mean `{suggestion}`? `needs` lists task ids of this phase or an earlier one"
                        ),
                        None => "`needs` lists task ids of this phase or an earlier one".to_owned(),
                    };
                    let span = self.span(need_path);
                    self.error(span, format!("task `{id}` needs unknown task `{need}`"))
                        .help = Some(help);
                    continue;
                };
                let target_phase = drafts[target].phase;
                if target_phase > draft.phase {
                    let span = self.span(need_path);
                    self.error(
                        span,
                        format!(
                            "task `{id}` in phase `{}` needs `{need}`, which is in the later phase `{}`",
                            phase_name(draft.phase),
                            phase_name(target_phase)
                        ),
                    )
                    .help = Some("phases run in order: move the needed task to this phase or an earlier one".to_owned());
                    continue;
                }
                needs[index].push(target);
            }
            if let (Some(level), Some(risk)) = (policy.require_rollback, draft.risk)
                && risk >= level
                && !draft.has_rollback
            {
                let span = self.key_span(&draft.path, "risk");
                self.error(
                    span,
                    format!("task `{id}` has risk `{risk}` but no `rollback`"),
                )
                .help = Some(format!(
                    "`policy.require_rollback` is `{level}`: add `rollback:` with an action, or `rollback: auto` for kubectl, helm and git"
                ));
            }
        }
        for cycle in dag::find_cycles(&needs) {
            let names: Vec<String> = cycle
                .iter()
                .map(|&i| format!("`{}`", drafts[i].id))
                .collect();
            let first = cycle[0];
            let next = cycle.get(1).copied().unwrap_or(first);
            let span = drafts[first]
                .needs
                .iter()
                .find(|(need, _)| need.as_str() == drafts[next].id.as_str())
                .and_then(|(_, path)| self.span(path));
            self.error(
                span,
                format!(
                    "task `{}` has a circular dependency: {} -> `{}`",
                    drafts[first].id,
                    names.join(" -> "),
                    drafts[first].id
                ),
            )
            .help = Some("`a -> b` reads \"`a` needs `b`\"; remove one of these needs".to_owned());
        }
        drafts
            .into_iter()
            .zip(needs)
            .map(|(draft, needs)| draft.task.map(|task| Task { needs, ..task }))
            .collect()
    }
}

struct TaskContext<'a> {
    phase: usize,
    defaults: &'a Defaults,
    vars: &'a BTreeMap<String, String>,
    executors: &'a BTreeMap<String, ExecutorInstance>,
}

fn action_help() -> String {
    "an action has exactly one of `shell`, `kubectl`, `helm`, `github_merge`, `git`, or `executor: NAME` (with its fields under `with:`)".to_owned()
}

fn key_text(key: &Value) -> String {
    match key {
        Value::String(text) => text.clone(),
        Value::Number(number) => number.to_string(),
        Value::Bool(flag) => flag.to_string(),
        Value::Null => "~".to_owned(),
        _ => "<complex key>".to_owned(),
    }
}

fn last_key(path: &Path) -> Option<&str> {
    path.0.iter().rev().find_map(|segment| match segment {
        marked::Segment::Key(key) => Some(key.as_str()),
        marked::Segment::Index(_) => None,
    })
}

fn convert_path(path: &serde_path_to_error::Path) -> Path {
    let mut out = Path::root();
    for segment in path {
        match segment {
            serde_path_to_error::Segment::Seq { index } => out = out.index(*index),
            serde_path_to_error::Segment::Map { key } => out = out.key(key),
            serde_path_to_error::Segment::Enum { .. } | serde_path_to_error::Segment::Unknown => {}
        }
    }
    out
}

fn hex_sha256(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(64);
    for byte in digest {
        let _ = write!(out, "{byte:02x}");
    }
    out
}
