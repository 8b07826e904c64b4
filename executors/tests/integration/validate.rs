//! The plan loader and the executors read one table of the fields each
//! kubectl and helm operation takes (`plangate_plans::OpFields`): every
//! action the loader accepts must pass the executor's own `validate`, or a
//! valid plan would fail at run time with `invalid ... action`.
//!
//! The executors run a binary that does not exist, so a request that gets
//! past `validate` stops at spawning it; nothing talks to a cluster.

use std::path::PathBuf;

use plangate_executors::{ActionContext, Executor, ExecutorError, HelmExecutor, KubectlExecutor};
use plangate_plans::{
    ActionSpec, SourceFile, TaskId,
    action::{HELM_FIELDS, HelmOp, KUBECTL_FIELDS, KubectlOp},
    parse_plan,
};
use proptest::prelude::*;
use serde_json::{Value, json};

const KUBECTL_OPS: [(&str, KubectlOp); 8] = [
    ("apply", KubectlOp::Apply),
    ("delete", KubectlOp::Delete),
    ("rollout_status", KubectlOp::RolloutStatus),
    ("rollout_undo", KubectlOp::RolloutUndo),
    ("wait", KubectlOp::Wait),
    ("scale", KubectlOp::Scale),
    ("patch", KubectlOp::Patch),
    ("set_image", KubectlOp::SetImage),
];

const HELM_OPS: [(&str, HelmOp); 4] = [
    ("upgrade", HelmOp::Upgrade),
    ("uninstall", HelmOp::Uninstall),
    ("test", HelmOp::Test),
    ("rollback", HelmOp::Rollback),
];

/// A value of the right type for a kubectl field; `variant` picks among a
/// few (a kind alone or a named resource, `json` or `merge` patches, ...).
fn kubectl_value(field: &str, variant: usize) -> Value {
    match field {
        "files" => json!(["app.yaml"]),
        "kustomize" => json!("overlay"),
        "resource" => json!(["deployment/web", "deployment", "pods"][variant % 3]),
        "selector" | "prune" => json!("app=web"),
        "namespace" => json!("demo"),
        "context" => json!("dev"),
        "kubeconfig" => json!("kubeconfig"),
        "server_side" | "force_conflicts" => json!(variant % 2 == 0),
        "field_manager" => json!("deploy"),
        "condition" => json!("Available"),
        "replicas" => json!(variant % 4),
        "patch" => match variant % 2 {
            0 => json!({"spec": {"replicas": 1}}),
            _ => json!([{"op": "remove", "path": "/spec/paused"}]),
        },
        "patch_type" => json!(["strategic", "merge", "json"][variant % 3]),
        "images" => json!({"web": "nginx:1.27"}),
        "timeout" => json!("30s"),
        other => panic!("no value for kubectl field `{other}`"),
    }
}

/// A value of the right type for a helm field.
fn helm_value(field: &str, variant: usize) -> Value {
    match field {
        "release" => json!("api"),
        "chart" => json!("charts/api"),
        "version" => json!("1.2.3"),
        "values" => json!(["values.yaml"]),
        "set" => json!({"replicas": "3"}),
        "revision" => json!(1 + variant % 3),
        "namespace" => json!("demo"),
        "create_namespace" | "wait" | "atomic" => json!(variant % 2 == 0),
        "context" => json!("dev"),
        "kubeconfig" => json!("kubeconfig"),
        "timeout" => json!("5m"),
        other => panic!("no value for helm field `{other}`"),
    }
}

/// The action's fields: of those the operation accepts, the ones `chosen`
/// picks, plus now and then one it does not accept.
fn action_fields(
    fields: &[&str],
    accepts: impl Fn(&str) -> bool,
    value: fn(&str, usize) -> Value,
    chosen: &[bool],
    variants: &[usize],
) -> serde_json::Map<String, Value> {
    fields
        .iter()
        .skip(1)
        .enumerate()
        .filter(|(index, field)| chosen[*index] && (accepts(field) || variants[*index] % 8 == 0))
        .map(|(index, field)| ((*field).to_owned(), value(field, variants[index])))
        .collect()
}

/// A plan of one task running `action`, as YAML (JSON is YAML).
fn plan(kind: &str, action: &serde_json::Map<String, Value>) -> String {
    format!(
        "version: 1\nname: fields\nenvironment: dev\nvars: {{kube_context: dev}}\nphases:\n  - id: only\n    tasks:\n      - id: task\n        risk: low\n        run: {{{kind}: {}}}\n",
        Value::Object(action.clone())
    )
}

/// Runs the executor's `preview` of the plan's action, or `None` when the
/// loader rejects the plan.
fn preview_error(yaml: &str) -> Option<ExecutorError> {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("plan.yaml");
    let plan = parse_plan(
        SourceFile::new(&path, yaml.to_owned()),
        dir.path().to_owned(),
    )
    .ok()?;
    let action = plan.tasks[0].run.clone();
    let missing = PathBuf::from("/nonexistent/plangate-test-tool");
    let executor: Box<dyn Executor> = match &action.spec {
        ActionSpec::Kubectl(_) => {
            Box::new(KubectlExecutor::new().with_binary(missing.to_string_lossy()))
        }
        ActionSpec::Helm(_) => Box::new(HelmExecutor::new().with_binary(missing.to_string_lossy())),
        other => panic!("not a cluster action: {other:?}"),
    };
    let ctx = ActionContext::new("run", TaskId::new("task").expect("valid id"), dir.path())
        .with_vars(plan.vars.clone());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let result = runtime.block_on(executor.preview(&action, &ctx));
    Some(result.expect_err("the tool does not exist, so the preview cannot succeed"))
}

/// Whether the request got past `validate` (and the target's resolution)
/// to spawning the tool.
fn passed_validate(error: &ExecutorError) -> bool {
    matches!(error, ExecutorError::Spawn { .. })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn kubectl_actions_the_loader_accepts_pass_validate(
        op in 0..KUBECTL_OPS.len(),
        chosen in proptest::collection::vec(any::<bool>(), KUBECTL_FIELDS.len()),
        variants in proptest::collection::vec(0..24usize, KUBECTL_FIELDS.len()),
    ) {
        let (name, op) = KUBECTL_OPS[op];
        let mut action = action_fields(
            KUBECTL_FIELDS,
            |field| op.fields().accepts(field),
            kubectl_value,
            &chosen,
            &variants,
        );
        action.insert("op".to_owned(), json!(name));
        let yaml = plan("kubectl", &action);
        if let Some(error) = preview_error(&yaml) {
            prop_assert!(passed_validate(&error), "{error}\n{yaml}");
        }
    }

    #[test]
    fn helm_actions_the_loader_accepts_pass_validate(
        op in 0..HELM_OPS.len(),
        chosen in proptest::collection::vec(any::<bool>(), HELM_FIELDS.len()),
        variants in proptest::collection::vec(0..24usize, HELM_FIELDS.len()),
    ) {
        let (name, op) = HELM_OPS[op];
        let mut action = action_fields(
            HELM_FIELDS,
            |field| op.fields().accepts(field),
            helm_value,
            &chosen,
            &variants,
        );
        action.insert("op".to_owned(), json!(name));
        let yaml = plan("helm", &action);
        if let Some(error) = preview_error(&yaml) {
            prop_assert!(passed_validate(&error), "{error}\n{yaml}");
        }
    }
}

/// A minimal action of every operation passes both, so the properties above
/// are not vacuous for any operation.
#[test]
fn every_operation_has_an_accepted_plan() {
    for (kind, action) in [
        ("kubectl", json!({"op": "apply", "files": ["app.yaml"]})),
        (
            "kubectl",
            json!({"op": "delete", "resource": "deployment/web"}),
        ),
        (
            "kubectl",
            json!({"op": "rollout_status", "resource": "deployment/web"}),
        ),
        (
            "kubectl",
            json!({"op": "rollout_undo", "resource": "deployment/web"}),
        ),
        (
            "kubectl",
            json!({"op": "wait", "resource": "deployment/web", "condition": "Available"}),
        ),
        (
            "kubectl",
            json!({"op": "scale", "resource": "deployment/web", "replicas": 2}),
        ),
        (
            "kubectl",
            json!({"op": "patch", "resource": "deployment/web", "patch": {"spec": {}}}),
        ),
        (
            "kubectl",
            json!({"op": "set_image", "resource": "deployment/web", "images": {"web": "nginx:1.27"}}),
        ),
        (
            "helm",
            json!({"op": "upgrade", "release": "api", "chart": "charts/api"}),
        ),
        ("helm", json!({"op": "uninstall", "release": "api"})),
        ("helm", json!({"op": "test", "release": "api"})),
        ("helm", json!({"op": "rollback", "release": "api"})),
    ] {
        let Value::Object(action) = action else {
            unreachable!("every action above is an object");
        };
        let yaml = plan(kind, &action);
        let error = preview_error(&yaml).unwrap_or_else(|| panic!("rejected:\n{yaml}"));
        assert!(passed_validate(&error), "{error}\n{yaml}");
    }
}
