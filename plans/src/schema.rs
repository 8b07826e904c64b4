//! The JSON Schema of the plan format, for editors (`plangate schema`,
//! committed as `docs/plan.schema.json`).
//!
//! The loader does not decode a plan through one serde type, so no derive
//! can describe it: it walks the document section by section and checks
//! keys against its own lists. This module builds the schema from the same
//! pieces the loader uses wherever they are public: the model's enums
//! ([`Risk::ALL`], [`ExecutorKind::ALL`] and the operation enums), the field
//! lists of the actions ([`KUBECTL_FIELDS`], [`HELM_FIELDS`], [`GIT_FIELDS`])
//! and the table of which fields each operation takes ([`OpFields`]). The
//! keys of the plan's sections are written out here with their types and
//! descriptions (taken from `docs/plan-reference.md`); the tests below load
//! a probe plan with an unknown key at every level and check that the keys
//! the loader names are exactly the keys the schema allows, so the two
//! cannot drift apart silently.
//!
//! The schema is draft-07: yaml-language-server (and so VS Code's YAML
//! extension) has read draft-07 for years, and reads 2019-09 and 2020-12
//! only since its 1.20 release.
//!
//! # Caveats
//!
//! A schema checks shapes, not meaning: `needs` pointing at an unknown task,
//! cycles, a `{{ vars.NAME }}` without its var, the fields of `with:` under
//! `executor: NAME` (which depend on the instance's kind) and kubectl's
//! `resource`/`selector` rules are left to `plangate validate`. The schema
//! also refuses `null` where the loader reads a null key as absent.

use serde_json::{Map, Value, json};

use crate::{
    action::{
        ExecutorKind, GIT_FIELDS, GitOp, HELM_FIELDS, HelmOp, KUBECTL_FIELDS, KubectlOp,
        MergeMethod, PatchType,
    },
    model::{AboveMax, OnFailure, PLAN_FORMAT_VERSION, Policy, Risk},
    op_fields::OpFields,
};

/// The JSON Schema dialect of [`plan_schema`].
pub const SCHEMA_DIALECT: &str = "http://json-schema.org/draft-07/schema#";

/// The id pattern of plan names, phase ids, task ids and executor names.
const ID_PATTERN: &str = "^[a-z0-9][a-z0-9-]*$";

/// The units humantime reads, longest spelling first.
const DURATION_UNITS: &str = "nanos|nsec|ns|usec|us|µs|millis|msec|ms|seconds|second|secs|sec|s|minutes|minute|mins|min|m|hours|hour|hrs|hr|h|days|day|d|weeks|week|wks|wk|w|months|month|M|years|year|yrs|yr|y";

/// The loader's `defaults.timeout` when a plan sets none (a test checks it).
const DEFAULT_TIMEOUT: &str = "15m";

/// The loader's `defaults.retry_backoff` when a plan sets none.
const DEFAULT_RETRY_BACKOFF: &str = "10s";

/// The operations of a `kubectl` action, in the order of the reference.
const KUBECTL_OPS: [KubectlOp; 8] = [
    KubectlOp::Apply,
    KubectlOp::Delete,
    KubectlOp::RolloutStatus,
    KubectlOp::RolloutUndo,
    KubectlOp::Wait,
    KubectlOp::Scale,
    KubectlOp::Patch,
    KubectlOp::SetImage,
];

/// The operations of a `helm` action.
const HELM_OPS: [HelmOp; 4] = [
    HelmOp::Upgrade,
    HelmOp::Uninstall,
    HelmOp::Test,
    HelmOp::Rollback,
];

/// The operations of a `git` action.
const GIT_OPS: [GitOp; 8] = [
    GitOp::Commit,
    GitOp::Branch,
    GitOp::Tag,
    GitOp::Merge,
    GitOp::Push,
    GitOp::Checkout,
    GitOp::Clone,
    GitOp::Fetch,
];

const ON_FAILURE: [OnFailure; 5] = [
    OnFailure::Stop,
    OnFailure::RollbackTask,
    OnFailure::RollbackPhase,
    OnFailure::RollbackRun,
    OnFailure::Continue,
];

const ABOVE_MAX: [AboveMax; 2] = [AboveMax::Exclude, AboveMax::Approve];

const PATCH_TYPES: [(PatchType, &str); 3] = [
    (PatchType::Strategic, "strategic"),
    (PatchType::Merge, "merge"),
    (PatchType::Json, "json"),
];

const MERGE_METHODS: [MergeMethod; 3] =
    [MergeMethod::Merge, MergeMethod::Squash, MergeMethod::Rebase];

/// The keys an executor instance of each kind takes (the loader refuses the
/// others, naming these).
pub fn instance_keys(kind: ExecutorKind) -> &'static [&'static str] {
    match kind {
        ExecutorKind::Shell => &["kind", "env", "cwd", "exclusive"],
        ExecutorKind::Kubectl | ExecutorKind::Helm => &[
            "kind",
            "context",
            "namespace",
            "kubeconfig",
            "binary",
            "allow_context_mismatch",
            "exclusive",
        ],
        ExecutorKind::GithubMerge => &["kind", "api_url", "token_env", "repo", "exclusive"],
        ExecutorKind::Git => &["kind", "repo", "token_env", "exclusive"],
    }
}

/// The JSON Schema (draft-07) of a plan file.
///
/// The result is the same on every call (maps are sorted), so it can be
/// committed and compared.
pub fn plan_schema() -> Value {
    let mut definitions = Map::new();
    definitions.insert("id".to_owned(), id_schema("an id"));
    definitions.insert("duration".to_owned(), duration_schema());
    definitions.insert("policy".to_owned(), policy_schema());
    definitions.insert("defaults".to_owned(), defaults_schema());
    definitions.insert("executor_instance".to_owned(), instance_schema());
    definitions.insert("phase".to_owned(), phase_schema());
    definitions.insert("task".to_owned(), task_schema());
    definitions.insert("action".to_owned(), action_schema());
    definitions.insert("shell".to_owned(), shell_schema());
    definitions.insert("kubectl".to_owned(), kubectl_schema());
    definitions.insert("helm".to_owned(), helm_schema());
    definitions.insert("github_merge".to_owned(), github_merge_schema());
    definitions.insert("git".to_owned(), git_schema());

    let mut root = object(
        &[
            (
                "version",
                json!({
                    "description": "The plan format version; must be 1.",
                    "const": PLAN_FORMAT_VERSION,
                }),
            ),
            ("name", described(reference("id"), "The plan's name.")),
            ("description", string("Free text, shown in reports.")),
            (
                "environment",
                json!({
                    "type": "string",
                    "default": "dev",
                    "description": "Label of the target environment (default `dev`). A plan for `prod` or `production` refuses a kube context whose name does not contain `prod`; any other refuses one that does.",
                }),
            ),
            ("policy", reference("policy")),
            ("defaults", reference("defaults")),
            (
                "vars",
                json!({
                    "type": "object",
                    "description": "Plain values substituted into `{{ vars.NAME }}` in action fields.",
                    "propertyNames": {"pattern": "^[A-Za-z0-9_-]+$"},
                    "additionalProperties": {"type": ["string", "number", "boolean"]},
                }),
            ),
            (
                "secrets",
                json!({
                    "type": "array",
                    "description": "Environment variables whose values are redacted from logs, reports and the state file.",
                    "items": {"type": "string"},
                }),
            ),
            (
                "executors",
                json!({
                    "type": "object",
                    "description": "Named executor instances, used by actions as `executor: NAME`.",
                    "propertyNames": {"pattern": ID_PATTERN},
                    "additionalProperties": reference("executor_instance"),
                }),
            ),
            (
                "phases",
                json!({
                    "type": "array",
                    "description": "The phases, run strictly in order.",
                    "minItems": 1,
                    "items": reference("phase"),
                }),
            ),
        ],
        &["version", "name", "phases"],
    );
    let fields = root.as_object_mut().expect("object() builds a JSON object");
    fields.insert("$schema".to_owned(), json!(SCHEMA_DIALECT));
    fields.insert("title".to_owned(), json!("plangate plan"));
    fields.insert(
        "description".to_owned(),
        json!("A plangate plan: phases of tasks run in dependency order under a risk policy. See docs/plan-format.md and docs/plan-reference.md."),
    );
    fields.insert("definitions".to_owned(), Value::Object(definitions));
    root
}

fn reference(name: &str) -> Value {
    json!({"$ref": format!("#/definitions/{name}")})
}

fn described(mut schema: Value, description: &str) -> Value {
    if let Value::Object(fields) = &mut schema {
        fields.insert("description".to_owned(), json!(description));
    }
    schema
}

fn string(description: &str) -> Value {
    json!({"type": "string", "description": description})
}

fn boolean(description: &str) -> Value {
    json!({"type": "boolean", "description": description})
}

fn whole(minimum: u32, description: &str) -> Value {
    json!({"type": "integer", "minimum": minimum, "description": description})
}

fn strings(description: &str) -> Value {
    json!({"type": "array", "items": {"type": "string"}, "description": description})
}

fn string_map(description: &str) -> Value {
    json!({
        "type": "object",
        "additionalProperties": {"type": "string"},
        "description": description,
    })
}

fn duration(description: &str) -> Value {
    described(reference("duration"), description)
}

/// `schema`, or a string with a `{{ vars.NAME }}` placeholder: action
/// fields are substituted before they are read, so a placeholder stands for
/// any value of the field.
fn templated(schema: Value) -> Value {
    let description = schema.get("description").cloned();
    let placeholder = json!({
        "type": "string",
        "pattern": "\\{\\{\\s*vars\\.[A-Za-z0-9_-]+\\s*\\}\\}",
    });
    let mut templated = Map::new();
    templated.insert("anyOf".to_owned(), Value::Array(vec![schema, placeholder]));
    if let Some(description) = description {
        templated.insert("description".to_owned(), description);
    }
    Value::Object(templated)
}

fn one_of_words(words: &[&str], description: &str) -> Value {
    json!({"type": "string", "enum": words, "description": description})
}

/// A closed object: exactly `properties`, with `required`.
fn object(properties: &[(&str, Value)], required: &[&str]) -> Value {
    let properties: Map<String, Value> = properties
        .iter()
        .map(|(key, schema)| ((*key).to_owned(), schema.clone()))
        .collect();
    let mut schema = json!({
        "type": "object",
        "additionalProperties": false,
        "properties": properties,
    });
    if !required.is_empty() {
        schema["required"] = json!(required);
    }
    schema
}

fn id_schema(description: &str) -> Value {
    json!({
        "type": "string",
        "pattern": ID_PATTERN,
        "description": format!("{description}: lowercase letters, digits and `-`, starting with a letter or digit"),
    })
}

fn duration_schema() -> Value {
    json!({
        "type": "string",
        "description": "A duration: a number and a unit, such as `90s`, `10m`, `1h30m` or `2h 15m`.",
        "pattern": format!("^\\s*([0-9]+(\\.[0-9]+)?\\s*({DURATION_UNITS})\\s*)+$"),
    })
}

fn risk_words() -> Vec<&'static str> {
    Risk::ALL.iter().map(|risk| risk.as_str()).collect()
}

fn policy_schema() -> Value {
    let mut require_rollback = vec!["none"];
    require_rollback.extend(risk_words());
    let on_failure: Vec<&str> = ON_FAILURE.iter().map(|value| value.as_str()).collect();
    let above_max: Vec<&str> = ABOVE_MAX.iter().map(|value| value.as_str()).collect();
    let mut schema = object(
        &[
            (
                "max_risk",
                one_of_words(
                    &risk_words(),
                    "The highest risk that runs without approval (default `medium`).",
                ),
            ),
            (
                "above_max",
                one_of_words(
                    &above_max,
                    "What happens to a task above `max_risk`: left out (`exclude`, the default) or waiting for `plangate approve` (`approve`).",
                ),
            ),
            (
                "require_rollback",
                one_of_words(
                    &require_rollback,
                    "Tasks at or above this risk must declare a rollback (default `medium`; `none` disables).",
                ),
            ),
            (
                "on_failure",
                one_of_words(
                    &on_failure,
                    "What the engine does when a task fails (default `rollback-phase`).",
                ),
            ),
            (
                "budget",
                json!({
                    "description": "The run's budget: time the engine spends driving the run, over `run` and every `resume`; `none` for no limit.",
                    "anyOf": [reference("duration"), {"const": "none"}],
                }),
            ),
            (
                "max_tasks",
                json!({
                    "description": "Stop starting tasks after this many succeeded, across resumes; `none` for no limit.",
                    "anyOf": [{"type": "integer", "minimum": 1}, {"const": "none"}],
                }),
            ),
            (
                "concurrency",
                whole(1, "Tasks running at once, across the plan (default 4)."),
            ),
            (
                "environments",
                json!({
                    "type": "array",
                    "items": {"type": "string", "minLength": 1},
                    "minItems": 1,
                    "uniqueItems": true,
                    "description": "The promotion order, first to last (e.g. `[dev, staging, prod]`). A task in any but the first runs only with evidence: a succeeded, verified run of the same task content in the environment before, in the state file.",
                }),
            ),
            (
                "promotion",
                described(
                    object(
                        &[
                            (
                                "max_age",
                                duration("Evidence older than this does not count (default `7d`)."),
                            ),
                            (
                                "require_approval",
                                strings(
                                    "Environments whose tasks also wait for a recorded approval (default: the last of `environments`).",
                                ),
                            ),
                        ],
                        &[],
                    ),
                    "What a task in a later environment needs; requires `environments`.",
                ),
            ),
            (
                "approvers",
                described(
                    object(
                        &[
                            (
                                "low",
                                whole(
                                    1,
                                    "Distinct approvers an approval needs from risk `low` up.",
                                ),
                            ),
                            (
                                "medium",
                                whole(
                                    1,
                                    "Distinct approvers an approval needs from risk `medium` up.",
                                ),
                            ),
                            (
                                "high",
                                whole(1, "Distinct approvers an approval of a `high` task needs."),
                            ),
                        ],
                        &[],
                    ),
                    "Distinct approvers an approval needs, by the task's risk (the highest listed level at or below it; default 1). A phase approval counts by the highest risk in the phase.",
                ),
            ),
        ],
        &[],
    );
    // The defaults the loader applies are the model's `Policy::default()`.
    let defaults = Policy::default();
    let properties = &mut schema["properties"];
    properties["max_risk"]["default"] = json!(defaults.max_risk.as_str());
    properties["above_max"]["default"] = json!(defaults.above_max.as_str());
    properties["require_rollback"]["default"] =
        json!(defaults.require_rollback.map_or("none", Risk::as_str));
    properties["on_failure"]["default"] = json!(defaults.on_failure.as_str());
    properties["concurrency"]["default"] = json!(defaults.concurrency);
    schema["description"] = json!("Risk and execution policy.");
    schema
}

fn defaults_schema() -> Value {
    let mut schema = object(
        &[
            (
                "timeout",
                duration(
                    "Limit on one attempt of a task's `run` (and of its `verify`); default `15m`.",
                ),
            ),
            (
                "retries",
                whole(0, "Extra attempts after a failure; default 0."),
            ),
            (
                "retry_backoff",
                duration("Wait between attempts; default `10s`."),
            ),
            (
                "estimate",
                duration(
                    "Expected duration of a task, for forecasts; no default (a task without one counts as 0s).",
                ),
            ),
        ],
        &[],
    );
    let properties = &mut schema["properties"];
    properties["timeout"]["default"] = json!(DEFAULT_TIMEOUT);
    properties["retries"]["default"] = json!(0);
    properties["retry_backoff"]["default"] = json!(DEFAULT_RETRY_BACKOFF);
    schema["description"] =
        json!("Defaults for every task's timeout, retries, retry_backoff and estimate.");
    schema
}

fn instance_schema() -> Value {
    let kinds: Vec<&str> = ExecutorKind::ALL.iter().map(|kind| kind.as_str()).collect();
    let mut properties = vec![(
        "kind",
        one_of_words(&kinds, "The executor kind of the instance."),
    )];
    let every: &[(&str, Value)] = &[
        (
            "context",
            string("kube context (`--context`) for the instance's actions."),
        ),
        (
            "namespace",
            string("Namespace (`-n`) for the instance's actions."),
        ),
        (
            "kubeconfig",
            string("kubeconfig file for the instance's actions."),
        ),
        (
            "binary",
            string(
                "The tool binary (default `$PLANGATE_KUBECTL` / `$PLANGATE_HELM`, else on `PATH`).",
            ),
        ),
        (
            "allow_context_mismatch",
            boolean(
                "Allow a kube context whose name does not match the plan's environment (the wrong-cluster guard).",
            ),
        ),
        (
            "env",
            string_map("Extra environment variables for the instance's shell actions."),
        ),
        (
            "cwd",
            string(
                "Working directory of the instance's shell actions, relative to the plan's folder.",
            ),
        ),
        (
            "api_url",
            string("GitHub API URL (default `$GITHUB_API_URL`, then `https://api.github.com`)."),
        ),
        (
            "token_env",
            string("The environment variable holding the token (default `GITHUB_TOKEN`)."),
        ),
        (
            "repo",
            string("`OWNER/NAME` for github_merge; the repository folder for git."),
        ),
        (
            "exclusive",
            boolean(
                "One task at a time through this instance: tasks whose `run`, `verify` or `rollback` name it never run together, whatever the concurrency.",
            ),
        ),
    ];
    properties.extend(every.iter().cloned());
    let mut schema = object(&properties, &["kind"]);
    let by_kind: Vec<Value> = ExecutorKind::ALL
        .iter()
        .map(|kind| {
            json!({
                "if": {"properties": {"kind": {"const": kind.as_str()}}, "required": ["kind"]},
                "then": {"propertyNames": {"enum": instance_keys(*kind)}},
            })
        })
        .collect();
    schema["allOf"] = json!(by_kind);
    schema["description"] = json!(
        "A configured executor instance; its settings apply where an action using it does not set them."
    );
    schema
}

fn phase_schema() -> Value {
    let mut schema = object(
        &[
            ("id", described(reference("id"), "Unique among phases.")),
            ("name", string("Display name.")),
            (
                "budget",
                duration(
                    "The phase's budget: time the engine spends in it; tasks that would finish after it are deferred.",
                ),
            ),
            (
                "approval",
                boolean("The phase waits for `plangate approve RUN PHASE` before it starts."),
            ),
            (
                "tasks",
                json!({"type": "array", "items": reference("task"), "description": "The phase's tasks."}),
            ),
        ],
        &["id", "tasks"],
    );
    schema["description"] = json!("A phase: its tasks settle before the next phase starts.");
    schema
}

fn task_schema() -> Value {
    let mut schema = object(
        &[
            (
                "id",
                described(reference("id"), "Unique in the whole plan."),
            ),
            ("name", string("Display name.")),
            (
                "source",
                string("Free-text provenance, e.g. `#384 task 1`."),
            ),
            (
                "risk",
                one_of_words(&risk_words(), "Production risk of the task."),
            ),
            (
                "needs",
                json!({
                    "type": "array",
                    "items": {"type": "string", "pattern": ID_PATTERN},
                    "description": "Ids of tasks of the same phase or an earlier one that must succeed first.",
                }),
            ),
            (
                "estimate",
                duration("Expected duration, for forecasts (default: `defaults.estimate`)."),
            ),
            (
                "timeout",
                duration(
                    "Limit on one attempt of `run` and of `verify` (default: `defaults.timeout`).",
                ),
            ),
            (
                "retries",
                whole(
                    0,
                    "Extra attempts after a failure (default: `defaults.retries`).",
                ),
            ),
            (
                "retry_backoff",
                duration("Wait between attempts (default: `defaults.retry_backoff`)."),
            ),
            (
                "idempotent",
                boolean(
                    "Running the task twice is harmless: after a crash cut its action off, `resume` may run it again.",
                ),
            ),
            (
                "exclusive",
                json!({
                    "type": "array",
                    "items": {"type": "string", "pattern": ID_PATTERN},
                    "uniqueItems": true,
                    "description": "Resource groups the task touches: tasks sharing a group never run together, whatever the concurrency.",
                }),
            ),
            ("run", described(reference("action"), "The task's action.")),
            (
                "environment",
                string(
                    "The environment this task targets, instead of the plan's `environment` (one of `policy.environments` when that is set).",
                ),
            ),
            (
                "verify",
                json!({
                    "description": "What must pass after `run`: one check (an action), or a list of checks that all must pass, run in order; the first that fails fails the verify, and the checks after it do not run.",
                    "anyOf": [
                        reference("action"),
                        {"type": "array", "minItems": 1, "items": reference("action")},
                    ],
                }),
            ),
            (
                "rollback",
                json!({
                    "description": "How to undo `run`: an action, or `auto` for kubectl, helm, git and github_merge actions.",
                    "anyOf": [{"const": "auto"}, reference("action")],
                }),
            ),
        ],
        &["id", "risk", "run"],
    );
    schema["description"] = json!("A task: one action, with its risk, verify and rollback.");
    schema
}

fn action_schema() -> Value {
    let executor_keys: Vec<&str> = ExecutorKind::ALL
        .iter()
        .map(|kind| kind.as_str())
        .chain(["executor"])
        .collect();
    let mut schema = object(
        &[
            ("shell", reference("shell")),
            ("kubectl", reference("kubectl")),
            ("helm", reference("helm")),
            ("github_merge", reference("github_merge")),
            ("git", reference("git")),
            (
                "executor",
                json!({
                    "type": "string",
                    "pattern": ID_PATTERN,
                    "description": "A configured instance of `executors:`; the action's fields go under `with:`.",
                }),
            ),
            (
                "with",
                json!({
                    "type": ["object", "array"],
                    "description": "The fields of an `executor: NAME` action, read as the instance's kind reads them.",
                }),
            ),
        ],
        &[],
    );
    let one_key: Vec<Value> = executor_keys
        .iter()
        .map(|key| json!({"required": [key]}))
        .collect();
    schema["oneOf"] = json!(one_key);
    schema["dependencies"] = json!({"with": ["executor"]});
    schema["description"] = json!(
        "An action: exactly one of `shell`, `kubectl`, `helm`, `github_merge`, `git`, or `executor: NAME` with `with:`. Every string field may contain `{{ vars.NAME }}`."
    );
    schema
}

fn shell_schema() -> Value {
    let argv = json!({
        "type": "array",
        "items": {"type": "string"},
        "minItems": 1,
        "description": "Program and arguments; never passed through a shell (write `[\"sh\", \"-c\", \"...\"]` to get one).",
    });
    let map = object(
        &[
            ("argv", argv.clone()),
            ("env", string_map("Extra environment variables.")),
            (
                "cwd",
                string(
                    "Working directory, relative to the plan's folder (default: the plan's folder).",
                ),
            ),
        ],
        &["argv"],
    );
    json!({
        "description": "An argv list, or a map with `argv`, `env` and `cwd`.",
        "anyOf": [argv, map],
    })
}

/// The `if op is X then` rules of one operation table.
fn op_rules(op: &str, fields: OpFields) -> Value {
    let mut then = json!({"propertyNames": {"enum": fields.accepted()}});
    if !fields.required.is_empty() {
        then["required"] = json!(fields.required);
    }
    let mut all_of = Vec::new();
    if !fields.one_of.is_empty() {
        let any: Vec<Value> = fields
            .one_of
            .iter()
            .map(|field| json!({"required": [field]}))
            .collect();
        all_of.push(json!({"anyOf": any}));
    }
    for (first, second) in fields.exclusive {
        all_of.push(json!({"not": {"required": [first, second]}}));
    }
    if !all_of.is_empty() {
        then["allOf"] = json!(all_of);
    }
    if !fields.needs.is_empty() {
        let needs: Map<String, Value> = fields
            .needs
            .iter()
            .map(|(field, other)| ((*field).to_owned(), json!([other])))
            .collect();
        then["dependencies"] = Value::Object(needs);
    }
    json!({
        "if": {"properties": {"op": {"const": op}}, "required": ["op"]},
        "then": then,
    })
}

/// A closed object over `names` (a kind's field list), each typed by `field`.
fn kind_object(
    names: &[&str],
    field: impl Fn(&str) -> Value,
    rules: Vec<Value>,
    description: &str,
) -> Value {
    let properties: Vec<(&str, Value)> = names.iter().map(|name| (*name, field(name))).collect();
    let mut schema = object(&properties, &["op"]);
    schema["allOf"] = Value::Array(rules);
    schema["description"] = json!(description);
    schema
}

fn kubectl_schema() -> Value {
    let ops: Vec<&str> = KUBECTL_OPS.iter().map(|op| op.as_str()).collect();
    let patch_types: Vec<&str> = PATCH_TYPES.iter().map(|(_, word)| *word).collect();
    let field = |name: &str| match name {
        "op" => one_of_words(&ops, "The operation."),
        "files" => strings("Manifests or folders (`-f`), relative to the plan's folder."),
        "kustomize" => string("A kustomization folder (`-k`)."),
        "resource" => string("The object, `KIND/NAME`, or `KIND` with `selector`."),
        "selector" => string("A label selector (`-l`)."),
        "namespace" => string("Namespace (`-n`); default: the instance's, then `vars.namespace`."),
        "context" => string("kube context; default: the instance's, then `vars.kube_context`."),
        "kubeconfig" => string("kubeconfig file; default: the instance's, then `$KUBECONFIG`."),
        "server_side" => boolean("`apply --server-side`."),
        "force_conflicts" => boolean("`--force-conflicts` (needs `server_side`)."),
        "field_manager" => string("`--field-manager`."),
        "prune" => string("`apply --prune -l SELECTOR`: the selector of what to prune."),
        "condition" => string("`wait --for=condition=CONDITION` (e.g. `Available`)."),
        "replicas" => whole(0, "`scale --replicas`."),
        "patch" => json!({"type": ["object", "array"], "description": "The patch document."}),
        "patch_type" => one_of_words(&patch_types, "The patch format (default `strategic`)."),
        "images" => string_map("`set_image`: container name to image."),
        "timeout" => templated(duration("`--timeout` of `rollout_status` and `wait`.")),
        _ => json!({}),
    };
    let rules = KUBECTL_OPS
        .iter()
        .map(|op| op_rules(op.as_str(), op.fields()))
        .collect();
    kind_object(
        KUBECTL_FIELDS,
        field,
        rules,
        "One kubectl operation against a cluster.",
    )
}

fn helm_schema() -> Value {
    let ops: Vec<&str> = HELM_OPS.iter().map(|op| op.as_str()).collect();
    let field = |name: &str| match name {
        "op" => one_of_words(
            &ops,
            "The operation; `upgrade` is `helm upgrade --install`.",
        ),
        "release" => string("Release name."),
        "chart" => string("Local chart folder or packaged `.tgz`."),
        "version" => string("Chart version constraint."),
        "values" => strings("Values files (`-f`)."),
        "set" => string_map("`--set KEY=VALUE`."),
        "revision" => whole(
            0,
            "Target revision of a rollback (default: the previous one).",
        ),
        "namespace" => string("Namespace; default: the instance's, then `vars.namespace`."),
        "create_namespace" => boolean("`--create-namespace`."),
        "context" => string("kube context, as for kubectl."),
        "kubeconfig" => string("kubeconfig file, as for kubectl."),
        "wait" => boolean("`--wait`."),
        "atomic" => boolean("`--atomic`; off by default, since plangate rolls back itself."),
        "timeout" => templated(duration("`--timeout`.")),
        _ => json!({}),
    };
    let rules = HELM_OPS
        .iter()
        .map(|op| op_rules(op.as_str(), op.fields()))
        .collect();
    kind_object(HELM_FIELDS, field, rules, "One helm operation.")
}

fn git_schema() -> Value {
    let ops: Vec<&str> = GIT_OPS.iter().map(|op| op.as_str()).collect();
    let field = |name: &str| match name {
        "op" => one_of_words(&ops, "The operation."),
        "repo" => string(
            "Repository folder (default: the instance's, then the plan's folder); for `clone`, the folder to clone into.",
        ),
        "message" => string("Commit, tag or merge message."),
        "paths" => strings("Paths to stage (default: all changes)."),
        "branch" => string("Branch to create or check out; for clone, the branch to check out."),
        "tag" => string("The tag."),
        "from" => string("Start point or merge source."),
        "remote" => string("Remote (default `origin`)."),
        "refspec" => string("Refspec to push or fetch."),
        "url" => string("URL or path to clone."),
        "token_env" => string("Variable holding a token for HTTPS remotes."),
        "force_rollback" => boolean("Lets `rollback: auto` move a pushed branch back."),
        _ => json!({}),
    };
    let rules = GIT_OPS
        .iter()
        .map(|op| op_rules(op.as_str(), op.fields()))
        .collect();
    kind_object(
        GIT_FIELDS,
        field,
        rules,
        "One operation on a local git repository, through libgit2.",
    )
}

fn github_merge_schema() -> Value {
    let methods: Vec<&str> = MERGE_METHODS.iter().map(|method| method.as_str()).collect();
    let mut schema = object(
        &[
            (
                "repo",
                templated(
                    json!({"type": "string", "pattern": "^[^/]+/[^/]+$", "description": "`OWNER/NAME`."}),
                ),
            ),
            ("pr", whole(0, "Pull request number.")),
            (
                "method",
                one_of_words(&methods, "Merge method (default `merge`)."),
            ),
            (
                "sha",
                string("Merge only if the head is still this commit."),
            ),
            (
                "delete_branch",
                boolean("Delete the head branch after merging."),
            ),
            (
                "require_clean",
                boolean(
                    "Refuse unless GitHub reports the pull request mergeable and `clean` (default true).",
                ),
            ),
            (
                "require_checks",
                json!({
                    "description": "Checks that must have passed on the head: `all`, or a list of names.",
                    "anyOf": [{"const": "all"}, {"type": "array", "items": {"type": "string"}}],
                }),
            ),
            ("require_approvals", whole(0, "Approving reviews needed.")),
            (
                "rollback_merge",
                boolean("`rollback: auto` also merges the revert pull request."),
            ),
            (
                "api_url",
                string(
                    "GitHub API URL (default: the instance's, then `$GITHUB_API_URL`, then `https://api.github.com`).",
                ),
            ),
            (
                "token_env",
                string("Variable holding the token (default `GITHUB_TOKEN`)."),
            ),
        ],
        &["repo", "pr"],
    );
    schema["description"] =
        json!("Merge one GitHub pull request, after checking it can be merged.");
    schema
}

#[cfg(test)]
mod tests {
    use std::{collections::BTreeSet, path::Path};

    use serde_json::json;

    use super::*;
    use crate::load_plan_text;

    /// Fails to compile when an enum gains a variant the lists above miss.
    #[test]
    fn the_enum_lists_are_complete_and_spelled_as_the_loader_reads_them() {
        for op in KUBECTL_OPS {
            match op {
                KubectlOp::Apply
                | KubectlOp::Delete
                | KubectlOp::RolloutStatus
                | KubectlOp::RolloutUndo
                | KubectlOp::Wait
                | KubectlOp::Scale
                | KubectlOp::Patch
                | KubectlOp::SetImage => {}
            }
            assert_eq!(
                serde_json::from_value::<KubectlOp>(json!(op.as_str())).ok(),
                Some(op)
            );
        }
        for op in HELM_OPS {
            match op {
                HelmOp::Upgrade | HelmOp::Uninstall | HelmOp::Test | HelmOp::Rollback => {}
            }
            assert_eq!(
                serde_json::from_value::<HelmOp>(json!(op.as_str())).ok(),
                Some(op)
            );
        }
        for op in GIT_OPS {
            match op {
                GitOp::Commit
                | GitOp::Branch
                | GitOp::Tag
                | GitOp::Merge
                | GitOp::Push
                | GitOp::Checkout
                | GitOp::Clone
                | GitOp::Fetch => {}
            }
            assert_eq!(
                serde_json::from_value::<GitOp>(json!(op.as_str())).ok(),
                Some(op)
            );
        }
        for value in ON_FAILURE {
            match value {
                OnFailure::Stop
                | OnFailure::RollbackTask
                | OnFailure::RollbackPhase
                | OnFailure::RollbackRun
                | OnFailure::Continue => {}
            }
            assert_eq!(
                serde_json::from_value::<OnFailure>(json!(value.as_str())).ok(),
                Some(value)
            );
        }
        for value in ABOVE_MAX {
            match value {
                AboveMax::Exclude | AboveMax::Approve => {}
            }
            assert_eq!(
                serde_json::from_value::<AboveMax>(json!(value.as_str())).ok(),
                Some(value)
            );
        }
        for (value, word) in PATCH_TYPES {
            match value {
                PatchType::Strategic | PatchType::Merge | PatchType::Json => {}
            }
            assert_eq!(
                serde_json::from_value::<PatchType>(json!(word)).ok(),
                Some(value)
            );
        }
        for value in MERGE_METHODS {
            match value {
                MergeMethod::Merge | MergeMethod::Squash | MergeMethod::Rebase => {}
            }
            assert_eq!(
                serde_json::from_value::<MergeMethod>(json!(value.as_str())).ok(),
                Some(value)
            );
        }
    }

    /// A valid plan with every section present, as JSON (which is YAML).
    fn probe_plan() -> Value {
        json!({
            "version": 1,
            "name": "probe",
            "policy": {},
            "defaults": {},
            "executors": {
                "sh": {"kind": "shell"},
                "kube": {"kind": "kubectl"},
                "charts": {"kind": "helm"},
                "hub": {"kind": "github_merge"},
                "repo": {"kind": "git"},
            },
            "phases": [{
                "id": "only",
                "tasks": [{
                    "id": "task",
                    "risk": "low",
                    "run": {"shell": {"argv": ["true"]}},
                    "verify": {"kubectl": {"op": "rollout_status", "resource": "deployment/web"}},
                    "rollback": {"helm": {"op": "uninstall", "release": "web"}},
                }, {
                    "id": "merge",
                    "risk": "low",
                    "run": {"github_merge": {"repo": "acme/web", "pr": 1}},
                    "rollback": {"git": {"op": "push"}},
                }],
            }],
        })
    }

    /// The keys the loader names when `probe` (a JSON pointer into the
    /// probe plan) holds the unknown key `key` with `value`.
    fn loader_keys(pointer: &str, key: &str, value: Value) -> BTreeSet<String> {
        let mut plan = probe_plan();
        plan.pointer_mut(pointer)
            .and_then(Value::as_object_mut)
            .unwrap_or_else(|| panic!("{pointer} is a mapping of the probe plan"))
            .insert(key.to_owned(), value);
        let text = serde_json::to_string_pretty(&plan).expect("the probe serialises");
        let error = load_plan_text(Path::new("probe.yaml"), text)
            .expect_err("a plan with an unknown key is refused");
        let crate::LoadPlanError::Invalid(diagnostics) = error else {
            panic!("the probe is read from text, so only invalid");
        };
        let diagnostic = diagnostics
            .items()
            .iter()
            .find(|diagnostic| diagnostic.message.contains(&format!("`{key}`")))
            .unwrap_or_else(|| {
                panic!(
                    "no diagnostic names `{key}` at {pointer}: {:?}",
                    diagnostics.items()
                )
            });
        let help = diagnostic.help.as_deref().expect("an unknown key has help");
        let list = ["keys are ", "expected ", " take "]
            .iter()
            .find_map(|marker| help.split_once(marker).map(|(_, list)| list))
            .unwrap_or_else(|| panic!("no key list in {help:?}"));
        assert!(!list.contains(" more"), "a shortened list in {help:?}");
        list.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect()
    }

    fn schema_keys(schema: &Value, pointer: &str) -> BTreeSet<String> {
        schema
            .pointer(pointer)
            .and_then(Value::as_object)
            .unwrap_or_else(|| panic!("the schema has {pointer}"))
            .keys()
            .cloned()
            .collect()
    }

    #[test]
    fn the_schema_allows_exactly_the_keys_the_loader_accepts_at_every_level() {
        let schema = plan_schema();
        let levels = [
            ("", "/properties"),
            ("/policy", "/definitions/policy/properties"),
            ("/defaults", "/definitions/defaults/properties"),
            ("/phases/0", "/definitions/phase/properties"),
            ("/phases/0/tasks/0", "/definitions/task/properties"),
            ("/phases/0/tasks/0/run", "/definitions/action/properties"),
            (
                "/phases/0/tasks/0/run/shell",
                "/definitions/shell/anyOf/1/properties",
            ),
            (
                "/phases/0/tasks/0/verify/kubectl",
                "/definitions/kubectl/properties",
            ),
            (
                "/phases/0/tasks/0/rollback/helm",
                "/definitions/helm/properties",
            ),
            (
                "/phases/0/tasks/1/run/github_merge",
                "/definitions/github_merge/properties",
            ),
            (
                "/phases/0/tasks/1/rollback/git",
                "/definitions/git/properties",
            ),
            ("/executors/sh", "/definitions/executor_instance/properties"),
        ];
        for (plan_pointer, schema_pointer) in levels {
            assert_eq!(
                loader_keys(plan_pointer, "zz-probe", json!(1)),
                schema_keys(&schema, schema_pointer),
                "keys at `{plan_pointer}`"
            );
        }
        // Each kind's instance keys: a key of another kind is refused, and
        // the refusal names the kind's keys.
        for (name, kind, foreign) in [
            ("sh", ExecutorKind::Shell, "context"),
            ("kube", ExecutorKind::Kubectl, "cwd"),
            ("charts", ExecutorKind::Helm, "api_url"),
            ("hub", ExecutorKind::GithubMerge, "cwd"),
            ("repo", ExecutorKind::Git, "cwd"),
        ] {
            let expected: BTreeSet<String> = instance_keys(kind)
                .iter()
                .map(|key| (*key).to_owned())
                .collect();
            assert_eq!(
                loader_keys(&format!("/executors/{name}"), foreign, json!("x")),
                expected,
                "keys of a `{kind}` instance"
            );
        }
    }

    #[test]
    fn every_kind_and_operation_has_its_rules() {
        let schema = plan_schema();
        let instance_rules = schema["definitions"]["executor_instance"]["allOf"]
            .as_array()
            .expect("rules");
        assert_eq!(instance_rules.len(), ExecutorKind::ALL.len());
        for (kind, count) in [
            ("kubectl", KUBECTL_OPS.len()),
            ("helm", HELM_OPS.len()),
            ("git", GIT_OPS.len()),
        ] {
            let rules = schema["definitions"][kind]["allOf"]
                .as_array()
                .expect("rules");
            assert_eq!(rules.len(), count, "{kind}");
            let ops = schema["definitions"][kind]["properties"]["op"]["enum"]
                .as_array()
                .expect("ops");
            assert_eq!(ops.len(), count, "{kind}");
        }
    }

    #[test]
    fn the_defaults_the_schema_states_are_the_loaders() {
        let text = "{version: 1, name: p, phases: [{id: a, tasks: [{id: t, risk: low, run: {shell: [\"true\"]}}]}]}";
        let plan = load_plan_text(Path::new("p.yaml"), text.to_owned())
            .expect("a minimal plan")
            .plan;
        let schema = plan_schema();
        let defaults = &schema["definitions"]["defaults"]["properties"];
        let task = &plan.tasks[0];
        let duration = |value: &Value| {
            crate::parse_duration(value.as_str().expect("a duration")).expect("parses")
        };
        assert_eq!(duration(&defaults["timeout"]["default"]), task.timeout);
        assert_eq!(
            duration(&defaults["retry_backoff"]["default"]),
            task.retry_backoff
        );
        assert_eq!(defaults["retries"]["default"], task.retries);
        let policy = &schema["definitions"]["policy"]["properties"];
        assert_eq!(policy["max_risk"]["default"], plan.policy.max_risk.as_str());
        assert_eq!(
            policy["above_max"]["default"],
            plan.policy.above_max.as_str()
        );
        assert_eq!(
            policy["require_rollback"]["default"],
            plan.policy.require_rollback.map_or("none", Risk::as_str)
        );
        assert_eq!(
            policy["on_failure"]["default"],
            plan.policy.on_failure.as_str()
        );
        assert_eq!(policy["concurrency"]["default"], plan.policy.concurrency);
        assert_eq!(
            schema["properties"]["environment"]["default"],
            plan.environment
        );
    }

    #[test]
    fn the_schema_is_the_same_on_every_call() {
        assert_eq!(
            serde_json::to_string(&plan_schema()).expect("serialises"),
            serde_json::to_string(&plan_schema()).expect("serialises")
        );
    }
}
