//! `plangate schema` and the committed `docs/plan.schema.json`: the file is
//! the command's output, the bundled plans and `plangate init`'s starter
//! validate against it, and broken plans are refused by both the schema and
//! `plangate validate`. (That the schema allows exactly the loader's keys at
//! every level is tested in `plans/src/schema.rs`, next to the loader.)
//!
//! Validation uses the `jsonschema` crate (draft-07, the dialect the schema
//! declares), on the plan's YAML read by serde_yaml into JSON, as an editor
//! would see it.

use serde_json::{Value, json};

use crate::common::{PlangateCli, Workspace, repo_root};

fn committed_schema() -> Value {
    let text = std::fs::read_to_string(repo_root().join("docs/plan.schema.json"))
        .expect("docs/plan.schema.json is committed");
    serde_json::from_str(&text).expect("docs/plan.schema.json is JSON")
}

fn validator() -> jsonschema::Validator {
    let schema = committed_schema();
    jsonschema::draft7::meta::validate(&schema).expect("the schema is a valid draft-07 schema");
    jsonschema::draft7::new(&schema).expect("the schema compiles")
}

fn yaml_to_json(text: &str) -> Value {
    let yaml: serde_yaml::Value = serde_yaml::from_str(text).expect("the plan is YAML");
    serde_json::to_value(yaml).expect("the plan has string keys")
}

/// The schema's complaints about `text`, each as `instance path: message`.
fn schema_errors(validator: &jsonschema::Validator, text: &str) -> Vec<String> {
    let instance = yaml_to_json(text);
    validator
        .iter_errors(&instance)
        .map(|error| format!("{}: {error}", error.instance_path()))
        .collect()
}

#[test]
fn the_committed_schema_is_what_plangate_schema_prints() {
    let printed = PlangateCli::new().args(["schema"]).run();
    printed.assert_code(0);
    assert!(printed.stderr.is_empty(), "{}", printed.stderr);
    let committed = std::fs::read_to_string(repo_root().join("docs/plan.schema.json"))
        .expect("docs/plan.schema.json is committed");
    assert!(
        printed.stdout == committed,
        "docs/plan.schema.json is stale: regenerate it with `cargo run -- schema > docs/plan.schema.json`"
    );
    assert_eq!(
        printed.json()["$schema"],
        "http://json-schema.org/draft-07/schema#"
    );
}

#[test]
fn every_bundled_plan_and_the_starter_validate_against_the_schema() {
    let validator = validator();
    let mut plans: Vec<_> = std::fs::read_dir(repo_root().join("examples"))
        .expect("examples/ is readable")
        .map(|entry| entry.expect("an entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .collect();
    plans.sort();
    assert!(plans.len() >= 4, "{plans:?}");
    for plan in &plans {
        let text = std::fs::read_to_string(plan).expect("the plan is readable");
        let errors = schema_errors(&validator, &text);
        assert!(errors.is_empty(), "{}: {errors:#?}", plan.display());
    }

    let workspace = Workspace::new();
    workspace.run(["init"]).assert_code(0);
    let starter = workspace.read("plan.yaml");
    let errors = schema_errors(&validator, &starter);
    assert!(errors.is_empty(), "the starter: {errors:#?}");
}

/// Each broken plan: what is changed, and where the schema says it is wrong.
const BROKEN: &[(&str, &str, &str, &str)] = &[
    (
        "an unknown task key",
        "    risk: low\n",
        "    risk: low\n    retires: 2\n",
        "/phases/0/tasks/0",
    ),
    (
        "a bad risk",
        "    risk: low\n",
        "    risk: severe\n",
        "/phases/0/tasks/0/risk",
    ),
    (
        "a bad duration",
        "  timeout: 5m\n",
        "  timeout: 5 minutes and a bit\n",
        "/defaults/timeout",
    ),
    (
        "a number for a duration",
        "  timeout: 5m\n",
        "  timeout: 300\n",
        "/defaults/timeout",
    ),
    (
        "an unknown top-level key",
        "name: broken\n",
        "name: broken\nowner: me\n",
        "",
    ),
    (
        "a bad on_failure",
        "  on_failure: stop\n",
        "  on_failure: panic\n",
        "/policy/on_failure",
    ),
    (
        "two executor keys",
        "    run: {shell: [\"true\"]}\n",
        "    run: {shell: [\"true\"], helm: {op: test, release: web}}\n",
        "/phases/0/tasks/0/run",
    ),
    (
        "a field its operation does not use",
        "    verify: {kubectl: {op: rollout_status, resource: deployment/web}}\n",
        "    verify: {kubectl: {op: rollout_status, resource: deployment/web, replicas: 2}}\n",
        "/phases/0/tasks/0/verify/kubectl",
    ),
    (
        "a key of another executor kind",
        "  sh: {kind: shell}\n",
        "  sh: {kind: shell, namespace: web}\n",
        "/executors/sh",
    ),
];

const VALID: &str = "\
version: 1
name: broken
policy:
  on_failure: stop
defaults:
  timeout: 5m
executors:
  sh: {kind: shell}
phases:
- id: only
  tasks:
  - id: task
    risk: low
    run: {shell: [\"true\"]}
    verify: {kubectl: {op: rollout_status, resource: deployment/web}}
";

#[test]
fn broken_plans_are_refused_by_the_schema_and_by_validate() {
    let validator = validator();
    assert_eq!(schema_errors(&validator, VALID), [""; 0]);
    PlangateCli::new()
        .plan(VALID)
        .args(["validate", "plan.yaml"])
        .run()
        .assert_code(0);
    for (what, valid, broken, at) in BROKEN {
        assert!(
            VALID.contains(valid),
            "{what}: the valid plan has {valid:?}"
        );
        let text = VALID.replacen(valid, broken, 1);
        let errors = schema_errors(&validator, &text);
        assert!(
            errors
                .iter()
                .any(|error| error.starts_with(&format!("{at}:"))),
            "{what}: the schema does not refuse it at `{at}`: {errors:#?}"
        );
        PlangateCli::new()
            .plan(&text)
            .args(["validate", "plan.yaml"])
            .run()
            .assert_code(2);
    }
}

#[test]
fn the_duration_pattern_accepts_what_plangate_accepts() {
    let schema = committed_schema();
    let duration = &schema["definitions"]["duration"];
    let pattern = jsonschema::draft7::new(duration).expect("the duration schema compiles");
    for text in [
        "90s", "10m", "1h30m", "2h 15m", "1.5h", "250ms", "1d", "3 days", "1w", " 5m ", "2hrs",
    ] {
        assert!(
            plangate_plans::parse_duration(text).is_ok(),
            "{text:?} parses"
        );
        assert!(pattern.is_valid(&json!(text)), "{text:?} matches");
    }
    for text in [
        "",
        "10",
        "ten minutes",
        "5x",
        "m5",
        "1h-30m",
        "1.h",
        "5 m s",
    ] {
        assert!(
            plangate_plans::parse_duration(text).is_err(),
            "{text:?} does not parse"
        );
        assert!(!pattern.is_valid(&json!(text)), "{text:?} does not match");
    }
}

#[test]
fn placeholders_stand_for_templated_action_fields() {
    let validator = validator();
    let text = VALID.replace(
        "    verify: {kubectl: {op: rollout_status, resource: deployment/web}}\n",
        "    verify: {kubectl: {op: rollout_status, resource: deployment/web, timeout: \"{{ vars.wait }}\"}}\n",
    );
    assert_eq!(schema_errors(&validator, &text), [""; 0]);
}
