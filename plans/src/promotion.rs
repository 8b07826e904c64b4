//! The content hash of a task: what environment promotion compares between
//! a task in one environment and its evidence in the one before.
//!
//! The hash covers what a successful, verified run in the earlier
//! environment exercised, and nothing that must differ per environment:
//!
//! - **in:** the version of this recipe ([`CONTENT_HASH_VERSION`]), the
//!   executor kind and every field of the `run` action and of the `verify`
//!   action after templating (`{{ vars.X }}` substituted), argv, `env` and
//!   `cwd` of shell actions included;
//! - **out, on purpose:** the `environment` label; the kube target of
//!   kubectl and helm actions (`context`, `namespace`, `kubeconfig`) and the
//!   executor instance an action names (its name and its configuration:
//!   `executor: dev-cluster` and `executor: prod-cluster` are the same
//!   action on two clusters), since those are how one action is pointed at
//!   each environment; the `rollback` (it did not run in a successful run,
//!   so the evidence says nothing of it); the task's id, name, risk,
//!   timeout, retries and needs, which do not change what the action does.
//!
//! Fields that are null are left out, so a field added to an action kind
//! with no value does not change the hash of existing tasks. Object keys are
//! written sorted, so the hash does not depend on serde_json's map order.
//! Files an action names (manifests, values files) are hashed by their path,
//! not their content: pin what they contain in the action itself (an image
//! tag, a chart `version`, a git commit) when that must be promoted too.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::{
    action::{Action, ActionSpec},
    model::Task,
};

/// The version of the recipe; a change to what goes into the hash bumps
/// it, so old evidence stops matching instead of matching wrongly.
pub const CONTENT_HASH_VERSION: u32 = 1;

/// Fields of kubectl and helm actions that point the action at an
/// environment's cluster, left out of the hash.
const TARGET_FIELDS: &[&str] = &["context", "namespace", "kubeconfig"];

/// What goes into the content hash of `task`, as a JSON document (shown by
/// `plangate explain`).
pub fn task_content(task: &Task) -> Value {
    json!({
        "version": CONTENT_HASH_VERSION,
        "run": action_content(&task.run),
        // One check hashes as the single action it was before `verify`
        // lists, so existing evidence keeps matching.
        "verify": match task.verify.as_slice() {
            [] => serde_json::Value::Null,
            [check] => action_content(check),
            checks => checks.iter().map(action_content).collect(),
        },
    })
}

/// SHA-256, lowercase hex, of [`task_content`] written as canonical JSON
/// (sorted keys, no whitespace, nulls left out).
pub fn task_content_hash(task: &Task) -> String {
    let mut text = String::new();
    write_canonical(&task_content(task), &mut text);
    let digest = Sha256::digest(text.as_bytes());
    let mut out = String::with_capacity(64);
    for byte in digest {
        use std::fmt::Write as _;
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// The action's kind and fields, without the environment's target.
fn action_content(action: &Action) -> Value {
    let mut value = serde_json::to_value(&action.spec)
        .expect("an action serializes, since every field of it is plain data");
    if matches!(action.spec, ActionSpec::Kubectl(_) | ActionSpec::Helm(_))
        && let Some(fields) = value
            .as_object_mut()
            .and_then(|kind| kind.values_mut().next())
            .and_then(Value::as_object_mut)
    {
        for field in TARGET_FIELDS {
            fields.remove(*field);
        }
    }
    value
}

/// `value` as JSON with sorted keys, without whitespace, nulls in objects
/// left out.
fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map
                .iter()
                .filter(|(_, value)| !value.is_null())
                .map(|(key, _)| key)
                .collect();
            keys.sort();
            out.push('{');
            for (index, key) in keys.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String((*key).clone()).to_string());
                out.push(':');
                write_canonical(&map[key.as_str()], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Map;

    use super::*;
    use crate::{load::parse_plan, source::SourceFile};

    fn object(pairs: &[(&str, Value)]) -> Value {
        let mut map = Map::new();
        for (key, value) in pairs {
            map.insert((*key).to_owned(), value.clone());
        }
        Value::Object(map)
    }

    fn hash(environment: &str, task: &str) -> String {
        let text = format!(
            "version: 1\nname: p\nenvironment: {environment}\npolicy: {{require_rollback: none}}\nvars: {{ns: {environment}-ns}}\nexecutors:\n  cluster: {{kind: kubectl, context: kind-{environment}}}\nphases:\n  - id: one\n    tasks:\n      - {task}\n"
        );
        let plan = parse_plan(SourceFile::new("t.yaml", text), ".".into()).expect("valid");
        task_content_hash(&plan.tasks[0])
    }

    #[test]
    fn the_environment_and_the_kube_target_are_left_out() {
        let task = "{id: a, risk: low, run: {kubectl: {op: apply, files: [app.yaml], namespace: \"{{ vars.ns }}\"}}, verify: {kubectl: {op: rollout_status, resource: deploy/app, namespace: \"{{ vars.ns }}\"}}}";
        assert_eq!(hash("dev", task), hash("prod", task));
        let named =
            "{id: a, risk: low, run: {executor: cluster, with: {op: apply, files: [app.yaml]}}}";
        assert_eq!(hash("dev", named), hash("prod", named));
    }

    #[test]
    fn the_action_and_the_verify_are_in() {
        let base = hash("dev", "{id: a, risk: low, run: {shell: [make, v1]}}");
        assert_eq!(
            base,
            hash(
                "dev",
                "{id: b, risk: high, timeout: 1m, run: {shell: [make, v1]}}"
            )
        );
        assert_ne!(
            base,
            hash("dev", "{id: a, risk: low, run: {shell: [make, v2]}}")
        );
        assert_ne!(
            base,
            hash(
                "dev",
                "{id: a, risk: low, run: {shell: [make, v1]}, verify: {shell: [test, -f, x]}}"
            )
        );
        // A var that differs per environment in an argv is content.
        assert_ne!(
            hash(
                "dev",
                "{id: a, risk: low, run: {shell: [echo, \"{{ vars.ns }}\"]}}"
            ),
            hash(
                "prod",
                "{id: a, risk: low, run: {shell: [echo, \"{{ vars.ns }}\"]}}"
            )
        );
        // The rollback is not.
        assert_eq!(
            base,
            hash(
                "dev",
                "{id: a, risk: low, run: {shell: [make, v1]}, rollback: {shell: [undo]}}"
            )
        );
    }

    #[test]
    fn canonical_json_sorts_keys_and_drops_nulls() {
        let mut out = String::new();
        write_canonical(
            &object(&[
                ("b", json!(1)),
                ("a", json!([null, "x"])),
                ("c", Value::Null),
            ]),
            &mut out,
        );
        assert_eq!(out, r#"{"a":[null,"x"],"b":1}"#);
    }
}
