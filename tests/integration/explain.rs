//! `plangate explain PLAN TASK`: the bundled plans explained task by task and
//! checked against their own impact report (decisions, reasons, needs,
//! estimates and the transitive counts of a graph walk made here), where each
//! setting comes from, actions after templating with their executor
//! instance, and unknown ids.

use std::{
    collections::{BTreeMap, BTreeSet},
    process::Command,
};

use serde_json::Value;

use crate::common::{PlangateCli, binary, repo_root};

/// `plangate ARGS` from the repository root: (exit code, stdout, stderr).
fn plangate(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(binary())
        .current_dir(repo_root())
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("plangate runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8(output.stdout).expect("stdout is UTF-8"),
        String::from_utf8(output.stderr).expect("stderr is UTF-8"),
    )
}

#[track_caller]
fn json(args: &[&str]) -> Value {
    let (code, stdout, stderr) = plangate(args);
    assert_eq!(code, 0, "plangate {args:?}: {stderr}");
    serde_json::from_str(&stdout).expect("stdout is JSON")
}

fn setting<'a>(list: &'a Value, key: &str) -> (&'a Value, &'a str) {
    let found = list
        .as_array()
        .expect("a list of settings")
        .iter()
        .find(|setting| setting["key"] == key)
        .unwrap_or_else(|| panic!("no setting `{key}` in {list}"));
    (&found["value"], found["from"].as_str().expect("from"))
}

/// Every task `transitive` counts: the tasks reached from `start` by `edges`.
fn reached(edges: &BTreeMap<String, Vec<String>>, start: &str) -> usize {
    let mut seen = BTreeSet::new();
    let mut stack: Vec<&str> = edges[start].iter().map(String::as_str).collect();
    while let Some(next) = stack.pop() {
        if seen.insert(next) {
            stack.extend(edges[next].iter().map(String::as_str));
        }
    }
    seen.len()
}

#[test]
fn every_task_of_the_bundled_plans_agrees_with_the_impact_report() {
    for plan in ["examples/marathon-42.yaml", "examples/quickstart.yaml"] {
        let report = json(&["plan", plan, "--format", "json"]);
        let tasks: Vec<&Value> = report["phases"]
            .as_array()
            .expect("phases")
            .iter()
            .flat_map(|phase| phase["tasks"].as_array().expect("tasks"))
            .collect();
        let mut needs: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut dependents: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for task in &tasks {
            let id = task["id"].as_str().expect("id").to_owned();
            let list: Vec<String> = task["needs"]
                .as_array()
                .expect("needs")
                .iter()
                .map(|need| need.as_str().expect("an id").to_owned())
                .collect();
            for need in &list {
                dependents.entry(need.clone()).or_default().push(id.clone());
            }
            dependents.entry(id.clone()).or_default();
            needs.insert(id, list);
        }
        for task in &tasks {
            let id = task["id"].as_str().expect("id");
            let explained = json(&["explain", plan, id, "--format", "json"]);
            assert_eq!(explained["format_version"], 2);
            assert_eq!(explained["task"]["id"], id);
            assert_eq!(explained["plan"]["plan_hash"], report["plan_hash"], "{id}");
            let decision = &explained["decision"];
            assert_eq!(decision["decision"], task["decision"], "{id}");
            if !task["reason"].is_null() {
                assert_eq!(decision["reason"], task["reason"], "{id}");
            }
            assert_eq!(
                decision["forecast_start"].is_null(),
                task["decision"] != "run",
                "{id}: a forecast only for a task that runs"
            );
            assert_eq!(explained["needs"]["direct"], task["needs"], "{id}");
            assert_eq!(
                explained["needs"]["transitive"],
                reached(&needs, id),
                "{id}: transitive needs"
            );
            assert_eq!(
                explained["dependents"]["direct"],
                serde_json::json!(dependents[id]),
                "{id}: direct dependents"
            );
            assert_eq!(
                explained["dependents"]["transitive"],
                reached(&dependents, id),
                "{id}: transitive dependents"
            );
            let (risk, from) = setting(&explained["settings"], "risk");
            assert_eq!((risk, from), (&task["risk"], "task"), "{id}");
            assert_eq!(explained["run"]["summary"], task["action"], "{id}");
            let checks: Vec<&str> = explained["verify"]
                .as_array()
                .expect("`verify` is a list")
                .iter()
                .map(|check| check["summary"].as_str().expect("a summary"))
                .collect();
            match task["verify"].as_str() {
                Some(verify) => assert_eq!(checks.join("; "), verify, "{id}"),
                None => assert!(checks.is_empty(), "{id}"),
            }
        }
    }
}

#[test]
fn the_rule_behind_each_kind_of_decision() {
    let cases = [
        (
            vec!["examples/marathon-42.yaml", "service-mesh-production"],
            "excluded",
            "policy.max_risk",
        ),
        (
            vec!["examples/marathon-42.yaml", "helm-charts-implementation"],
            "deferred",
            "policy.max_tasks",
        ),
        (
            vec!["examples/marathon-42.yaml", "k8s-architecture"],
            "run",
            "policy",
        ),
        (
            vec!["examples/quickstart.yaml", "publish-site"],
            "needs-approval",
            "policy.above_max",
        ),
        (
            vec!["examples/quickstart.yaml", "announce"],
            "blocked",
            "needs",
        ),
        (
            vec![
                "examples/quickstart.yaml",
                "publish-site",
                "--approve",
                "publish-site",
            ],
            "run",
            "policy",
        ),
    ];
    for (args, decision, rule) in cases {
        let mut all = vec!["explain"];
        all.extend(&args);
        all.extend(["--format", "json"]);
        let explained = json(&all);
        assert_eq!(explained["decision"]["decision"], decision, "{args:?}");
        assert_eq!(explained["decision"]["rule"], rule, "{args:?}");
    }
}

#[test]
fn the_text_form_of_a_waiting_task() {
    let (code, stdout, stderr) = plangate(&["explain", "examples/quickstart.yaml", "publish-site"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
    insta::assert_snapshot!(stdout);
}

#[test]
fn executor_instances_and_where_the_cluster_comes_from() {
    let explained = json(&[
        "explain",
        "examples/marathon-42.yaml",
        "helm-charts-implementation",
        "--format",
        "json",
    ]);
    let run = &explained["run"];
    assert_eq!(run["kind"], "helm");
    assert_eq!(run["executor"]["name"], "dev-helm");
    assert_eq!(run["executor"]["settings"]["namespace"], "platform-dev");
    assert_eq!(
        setting(&run["target"], "context"),
        (&Value::from("dev"), "executor `dev-helm`")
    );
    assert_eq!(
        setting(&run["target"], "kubeconfig"),
        (&Value::Null, "`$KUBECONFIG`, else the tool's default")
    );
    assert_eq!(explained["rollback"]["auto"], true);
    assert!(explained["rollback"]["action"].is_null());
    assert_eq!(explained["verify"][0]["kind"], "kubectl");
    assert_eq!(explained["verify"][0]["executor"]["name"], "dev-cluster");
}

const ORIGINS: &str = r#"
version: 1
name: origins
policy: {max_risk: high, concurrency: 2}
defaults: {retries: 3, estimate: 1m}
vars: {namespace: web, dir: out, kube_context: dev-east}
phases:
  - id: only
    approval: true
    tasks:
      - id: own
        risk: low
        timeout: 2m
        idempotent: true
        run: {shell: [mkdir, -p, "{{ vars.dir }}/a"]}
        rollback: {shell: [rm, -rf, "{{ vars.dir }}/a", "{{vars.namespace}}.log"]}
      - id: apply
        risk: high
        needs: [own]
        run: {kubectl: {op: apply, files: ["{{ vars.dir }}/k8s"], context: kind-dev}}
        rollback: auto
"#;

#[test]
fn each_setting_names_where_it_comes_from() {
    let cli = PlangateCli::new().plan(ORIGINS);
    let finished = cli
        .args(["explain", "plan.yaml", "own", "--format", "json"])
        .run();
    finished.assert_code(0);
    let own = finished.json();
    let settings = &own["settings"];
    assert_eq!(setting(settings, "timeout"), (&Value::from("2m"), "task"));
    assert_eq!(
        setting(settings, "retries"),
        (&Value::from("3"), "defaults")
    );
    assert_eq!(
        setting(settings, "retry_backoff"),
        (&Value::from("10s"), "built-in default")
    );
    assert_eq!(
        setting(settings, "estimate"),
        (&Value::from("1m"), "defaults")
    );
    assert_eq!(
        setting(settings, "idempotent"),
        (&Value::from("true"), "task")
    );
    let policy = &own["policy"];
    assert_eq!(
        setting(policy, "max_risk"),
        (&Value::from("high"), "policy")
    );
    assert_eq!(
        setting(policy, "on_failure"),
        (&Value::from("rollback-phase"), "built-in default")
    );
    assert_eq!(
        setting(policy, "max_tasks"),
        (&Value::from("none"), "built-in default")
    );
    assert_eq!(own["decision"]["decision"], "needs-approval");
    assert_eq!(own["decision"]["rule"], "phases[].approval");
    assert_eq!(
        own["run"]["fields"]["argv"],
        serde_json::json!(["mkdir", "-p", "out/a"])
    );
    assert_eq!(
        own["run"]["vars"],
        serde_json::json!([{"name": "dir", "value": "out"}])
    );
    assert_eq!(
        own["rollback"]["action"]["vars"],
        serde_json::json!([{"name": "dir", "value": "out"}, {"name": "namespace", "value": "web"}])
    );
    assert_eq!(own["dependents"]["direct"], serde_json::json!(["apply"]));

    let finished = PlangateCli::new()
        .plan(ORIGINS)
        .args(["explain", "plan.yaml", "apply", "--format", "json"])
        .run();
    finished.assert_code(0);
    let apply = finished.json();
    let target = &apply["run"]["target"];
    assert_eq!(
        setting(target, "context"),
        (&Value::from("kind-dev"), "action")
    );
    assert_eq!(
        setting(target, "namespace"),
        (&Value::from("web"), "vars.namespace")
    );
    assert!(apply["run"]["executor"].is_null());
    assert_eq!(apply["rollback"]["auto"], true);
    assert_eq!(
        setting(&apply["settings"], "timeout"),
        (&Value::from("15m"), "built-in default")
    );
}

#[test]
fn an_unknown_task_is_a_usage_error_with_the_nearest_ids() {
    let (code, stdout, stderr) = plangate(&["explain", "examples/quickstart.yaml", "publsh-site"]);
    assert_eq!(code, 2);
    assert_eq!(stdout, "");
    assert_eq!(
        stderr,
        "error: plan `quickstart` has no task `publsh-site`\n\nhint: did you mean `publish-site`? task ids are listed by `plangate plan PLAN`\n"
    );

    let (code, _, stderr) = plangate(&[
        "explain",
        "examples/marathon-42.yaml",
        "helm-charts-implementaton",
    ]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("hint: did you mean `helm-charts-implementation`"),
        "{stderr}"
    );

    let (code, stdout, stderr) = plangate(&["explain", "examples/quickstart.yaml", "zzzz"]);
    assert_eq!((code, stdout.as_str()), (2, ""));
    assert!(
        stderr.ends_with(
            "hint: give the id of one of the plan's tasks (`plangate plan PLAN` lists them)\n"
        ),
        "{stderr}"
    );

    let (code, _, stderr) = plangate(&[
        "explain",
        "examples/quickstart.yaml",
        "publish-site",
        "--approve",
        "publsh-site",
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("did you mean `publish-site`?"), "{stderr}");
}

const LIMITS: &str = r#"
version: 1
name: limits
policy: {concurrency: 1, budget: 3m, require_rollback: none}
phases:
  - id: first
    budget: 1m
    tasks:
      - {id: fits, risk: low, estimate: 40s, run: {shell: ["true"]}}
      - {id: too-late, risk: low, estimate: 40s, run: {shell: ["true"]}}
      - {id: after-it, risk: low, estimate: 1s, needs: [too-late], run: {shell: ["true"]}}
  - id: second
    tasks:
      - {id: long, risk: low, estimate: 3m, run: {shell: ["true"]}}
"#;

#[test]
fn deferrals_name_the_limit_that_deferred_them() {
    for (task, rule) in [
        ("fits", "policy"),
        ("too-late", "phases[].budget"),
        ("after-it", "needs"),
        ("long", "policy.budget"),
    ] {
        let finished = PlangateCli::new()
            .plan(LIMITS)
            .args(["explain", "plan.yaml", task, "--format", "json"])
            .run();
        finished.assert_code(0);
        let decision = &finished.json()["decision"];
        assert_eq!(decision["rule"], rule, "{task}: {decision}");
        let expected = if rule == "policy" { "run" } else { "deferred" };
        assert_eq!(decision["decision"], expected, "{task}: {decision}");
    }
}

#[test]
fn a_plan_written_as_json_explains_the_same() {
    let yaml: serde_yaml::Value = serde_yaml::from_str(ORIGINS).expect("YAML");
    let text = serde_json::to_string(&yaml).expect("JSON");
    let explain = |plan: &str| {
        let finished = PlangateCli::new()
            .plan(plan)
            .args(["explain", "plan.yaml", "own", "--format", "json"])
            .run();
        finished.assert_code(0);
        let mut explained = finished.json();
        explained["plan"]["plan_hash"] = Value::Null;
        explained
    };
    assert_eq!(explain(&text), explain(ORIGINS));
}
