//! `plangate validate`: every validation error names file:line:column, shows
//! the source line with a caret, and says what would be valid.

use crate::common::{PlangateCli, redact};

/// A valid plan; tests break one thing in it.
const VALID: &str = "\
version: 1
name: demo
policy: {max_risk: medium, require_rollback: medium}
vars: {namespace: platform}
executors:
  dev: {kind: kubectl, context: dev-cluster}
phases:
  - id: build
    tasks:
      - id: compile
        risk: low
        run: {shell: [make, all]}
      - id: deploy
        risk: medium
        needs: [compile]
        run: {shell: [./deploy.sh, '{{ vars.namespace }}']}
        rollback: {shell: [./undeploy.sh]}
  - id: ship
    tasks:
      - id: announce
        risk: low
        needs: [deploy]
        run: {executor: dev, with: {op: apply, files: [k8s/]}}
";

fn with(from: &str, to: &str) -> String {
    assert!(VALID.contains(from), "the base plan contains {from:?}");
    VALID.replacen(from, to, 1)
}

/// Asserts `validate` exits 2 and reports `message` at `line:column`.
macro_rules! validation_error {
    ($name:ident, $plan:expr, $position:literal, $message:literal) => {
        #[test]
        fn $name() {
            let plan: String = $plan;
            PlangateCli::new()
                .plan(&plan)
                .args(["validate", "plan.yaml"])
                .run()
                .assert_code(2)
                .assert_stderr_contains(concat!("--> plan.yaml:", $position, "\n"))
                .assert_stderr_contains($message);
        }
    };
}

#[test]
fn valid_plan_passes() {
    let finished = PlangateCli::new()
        .plan(VALID)
        .args(["validate", "plan.yaml"])
        .run();
    finished.assert_code(0);
    assert_eq!(
        finished.stdout,
        "plan `demo` is valid: 3 tasks in 2 phases\n"
    );
}

validation_error!(
    yaml_syntax,
    with("name: demo", "name: [demo"),
    "3:7",
    "invalid YAML"
);
validation_error!(
    tab_in_indentation,
    with(
        "        risk: low\n        run: {shell: [make",
        "        risk: low\n\t       run: {shell: [make"
    ),
    "12:1",
    "tab character in indentation"
);
validation_error!(
    not_a_mapping,
    "- a\n- b\n".to_owned(),
    "1:1",
    "a plan must be a mapping, found a sequence"
);
validation_error!(
    wrong_version,
    with("version: 1", "version: 2"),
    "1:10",
    "unsupported plan version `2`"
);
validation_error!(
    bad_plan_name,
    with("name: demo", "name: Demo_Plan"),
    "2:7",
    "invalid plan name `Demo_Plan`"
);
validation_error!(
    bad_task_id,
    with("id: compile", "id: Compile"),
    "10:13",
    "invalid task id `Compile`"
);
validation_error!(
    bad_phase_id,
    with("id: ship", "id: ship it"),
    "18:9",
    "invalid phase id `ship it`"
);
validation_error!(
    duplicate_task_id,
    with("id: announce", "id: compile"),
    "20:13",
    "duplicate task id `compile`"
);
validation_error!(
    duplicate_phase_id,
    with("id: ship", "id: build"),
    "18:9",
    "duplicate phase id `build`"
);
validation_error!(
    unknown_needs,
    with("needs: [compile]", "needs: [compil]"),
    "15:17",
    "task `deploy` needs unknown task `compil`"
);
validation_error!(
    needs_later_phase,
    with(
        "        risk: low\n        run: {shell: [make",
        "        risk: low\n        needs: [announce]\n        run: {shell: [make"
    ),
    "12:17",
    "needs `announce`, which is in the later phase `ship`"
);
validation_error!(
    dependency_cycle,
    with(
        "        risk: low\n        run: {shell: [make",
        "        risk: low\n        needs: [deploy]\n        run: {shell: [make"
    ),
    "12:17",
    "task `compile` has a circular dependency: `compile` -> `deploy` -> `compile`"
);
validation_error!(
    bad_risk,
    with("risk: medium\n        needs", "risk: severe\n        needs"),
    "14:15",
    "invalid `risk`: unknown variant `severe`"
);
validation_error!(
    bad_duration,
    with(
        "        risk: low\n        run: {shell: [make",
        "        risk: low\n        timeout: 10 mins please\n        run: {shell: [make"
    ),
    "12:18",
    "invalid duration `10 mins please`"
);
validation_error!(
    bad_policy_duration,
    with(
        "policy: {max_risk: medium,",
        "policy: {budget: soon, max_risk: medium,"
    ),
    "3:18",
    "invalid duration `soon`"
);
validation_error!(
    action_without_executor,
    with("run: {shell: [make, all]}", "run: {}"),
    "12:14",
    "action has no executor key"
);
validation_error!(
    action_with_two_executors,
    with(
        "run: {shell: [make, all]}",
        "run: {shell: [make, all], helm: {op: test, release: x}}"
    ),
    "12:35",
    "action has 2 executor keys: `shell` and `helm`"
);
validation_error!(
    unknown_executor_instance,
    with("executor: dev,", "executor: prod,"),
    "23:25",
    "unknown executor `prod`"
);
validation_error!(
    missing_rollback,
    with("        rollback: {shell: [./undeploy.sh]}\n", ""),
    "14:9",
    "task `deploy` has risk `medium` but no `rollback`"
);
validation_error!(
    undefined_var,
    with("{{ vars.namespace }}", "{{ vars.namespce }}"),
    "16:37",
    "undefined variable `vars.namespce`"
);
validation_error!(
    unknown_task_key,
    with(
        "        risk: low\n        run: {shell: [make",
        "        risk: low\n        retires: 3\n        run: {shell: [make"
    ),
    "12:9",
    "unknown key `retires` in a task"
);
validation_error!(
    unknown_plan_key,
    with("vars:", "polcy: {}\nvars:"),
    "4:1",
    "unknown key `polcy` in the plan"
);
validation_error!(
    unknown_action_field,
    with("files: [k8s/]", "files: [k8s/], namspace: x"),
    "23:63",
    "unknown key `namspace`"
);
validation_error!(
    wrong_type,
    with(
        "        risk: low\n        run: {shell: [make",
        "        risk: low\n        retries: many\n        run: {shell: [make"
    ),
    "12:18",
    "invalid `retries`"
);

// The fields of each kubectl, helm and git operation come from one table
// (`plans::op_fields`), which the executors' `validate` read too.
validation_error!(
    kubectl_delete_with_only_a_selector,
    with(
        "{op: apply, files: [k8s/]}",
        "{op: delete, selector: app=web}"
    ),
    "23:36",
    "`kubectl` `delete` needs `files`, `kustomize` or `resource`"
);
validation_error!(
    kubectl_prune_with_a_selector,
    with(
        "{op: apply, files: [k8s/]}",
        "{op: apply, files: [k8s/], prune: app=web, selector: app=web}"
    ),
    "23:79",
    "`kubectl` `apply` takes `prune` or `selector`, not both"
);
validation_error!(
    kubectl_selector_with_a_named_resource,
    with(
        "{op: apply, files: [k8s/]}",
        "{op: wait, resource: deployment/web, selector: app=web, condition: Available}"
    ),
    "23:73",
    "`kubectl` `wait` takes `selector` only with a kind as `resource`"
);
validation_error!(
    kubectl_field_the_operation_does_not_use,
    with(
        "{op: apply, files: [k8s/]}",
        "{op: rollout_undo, resource: deployment/web, timeout: 1m}"
    ),
    "23:81",
    "`kubectl` `rollout_undo` does not use `timeout`"
);
validation_error!(
    helm_test_does_not_wait,
    with(
        "run: {shell: [make, all]}",
        "run: {helm: {op: test, release: web, wait: true}}"
    ),
    "12:46",
    "`helm` `test` does not use `wait`"
);

#[test]
fn kubectl_delete_of_a_kind_with_a_selector_is_valid() {
    PlangateCli::new()
        .plan(&with(
            "{op: apply, files: [k8s/]}",
            "{op: delete, resource: pods, selector: app=web}",
        ))
        .args(["validate", "plan.yaml"])
        .run()
        .assert_code(0);
}

#[test]
fn a_duration_error_is_plangate_s_own_message_with_examples() {
    let finished = PlangateCli::new()
        .plan(&with(
            "        risk: low\n        run: {shell: [make",
            "        risk: low\n        timeout: 10 mins please\n        run: {shell: [make",
        ))
        .args(["validate", "plan.yaml"])
        .run();
    finished.assert_code(2);
    assert_eq!(
        finished.stderr,
        "\
error: invalid duration `10 mins please`: expected a number and a unit, such as `90s`, `10m` or `1h30m`
  --> plan.yaml:12:18
   |
12 |         timeout: 10 mins please
   |                  ^^^^^^^^^^^^^^
   = help: the units are `ms`, `s`, `m`, `h` and `d`, combined as in `1h30m`

error: plan file `plan.yaml` has 1 error
"
    );
}

validation_error!(
    a_number_without_a_unit_is_not_a_duration,
    with("  - id: ship\n", "  - id: ship\n    budget: 90\n"),
    "19:13",
    "error: invalid duration `90`: expected a number and a unit, such as `90s`, `10m` or `1h30m`\n"
);
validation_error!(
    a_budget_may_also_be_none,
    with(
        "policy: {max_risk: medium,",
        "policy: {budget: soon, max_risk: medium,"
    ),
    "3:18",
    "error: invalid duration `soon`: expected a number and a unit, such as `90s`, `10m` or `1h30m`, or `none`\n"
);

#[test]
fn empty_file() {
    let finished = PlangateCli::new()
        .plan("# nothing yet\n")
        .args(["validate", "plan.yaml"])
        .run();
    finished
        .assert_code(2)
        .assert_stderr_contains("error: plan file is empty");
}

#[test]
fn missing_file_names_the_path() {
    PlangateCli::new()
        .args(["validate", "nope.yaml"])
        .run()
        .assert_code(2)
        .assert_stderr_contains("error: failed to read plan file `nope.yaml`")
        .assert_stderr_contains("caused by:");
}

#[test]
fn every_error_of_a_file_is_reported_in_one_go_sorted_by_line() {
    let plan = "\
version: 1
name: demo
phases:
  - id: one
    tasks:
      - id: a
        risk: extreme
        run: {shell: [\"true\"]}
      - id: b
        risk: low
        needs: [nobody]
        timeout: 3 fortnights
        run: {}
      - id: a
        risk: low
        run: {shell: [\"echo\", \"{{ vars.missing }}\"]}
";
    let finished = PlangateCli::new()
        .plan(plan)
        .args(["validate", "plan.yaml"])
        .run();
    finished.assert_code(2);
    let positions: Vec<&str> = finished
        .stderr
        .lines()
        .filter_map(|line| line.trim_start().strip_prefix("--> plan.yaml:"))
        .collect();
    assert_eq!(
        positions,
        ["7:15", "11:17", "12:18", "13:14", "14:13", "16:32"]
    );
    insta::assert_snapshot!(
        "multi_error_rendering",
        redact(&finished.stderr, finished.dir.path())
    );
}

/// `validate --format json`: the document of `plan`, its exit code checked.
fn validate_json(plan: &str, code: i32) -> serde_json::Value {
    let finished = PlangateCli::new()
        .plan(plan)
        .args(["validate", "plan.yaml", "--format", "json"])
        .run();
    finished.assert_code(code);
    assert_eq!(finished.stderr, "", "nothing but the document is printed");
    finished.json()
}

/// The byte offset of 1-based `line` and `column` in an ASCII `text`.
fn byte_of(text: &str, line: usize, column: usize) -> usize {
    text.split_inclusive('\n')
        .take(line - 1)
        .map(str::len)
        .sum::<usize>()
        + column
        - 1
}

#[test]
fn json_of_a_valid_plan() {
    assert_eq!(
        validate_json(VALID, 0),
        serde_json::json!({
            "format_version": 1,
            "valid": true,
            "error_count": 0,
            "warning_count": 1,
            "diagnostics": [{
                "severity": "warning",
                "summary": "3 tasks have no `estimate`; forecasts count them as 0s",
                "detail": "",
                "path": null,
                "suggestion": null,
            }],
        })
    );
}

#[test]
fn json_diagnostics_carry_range_path_and_suggestion() {
    let plan = with("needs: [compile]", "needs: [compil]");
    let plan = plan.replacen(
        "        risk: low\n",
        "        risk: low\n        timeout: 5x\n",
        1,
    );
    let document = validate_json(&plan, 2);
    let timeout_line = 12;
    assert_eq!(
        document,
        serde_json::json!({
            "format_version": 1,
            "valid": false,
            "error_count": 2,
            "warning_count": 0,
            "diagnostics": [
                {
                    "severity": "error",
                    "summary": "invalid duration `5x`: expected a number and a unit, such as `90s`, `10m` or `1h30m`",
                    "detail": "",
                    "range": {
                        "filename": "plan.yaml",
                        "start": {"line": timeout_line, "column": 18, "byte": byte_of(&plan, timeout_line, 18)},
                        "end": {"line": timeout_line, "column": 20, "byte": byte_of(&plan, timeout_line, 20)},
                    },
                    "path": "phases[0].tasks[0].timeout",
                    "suggestion": "the units are `ms`, `s`, `m`, `h` and `d`, combined as in `1h30m`",
                },
                {
                    "severity": "error",
                    "summary": "task `deploy` needs unknown task `compil`",
                    "detail": "",
                    "range": {
                        "filename": "plan.yaml",
                        "start": {"line": 16, "column": 17, "byte": byte_of(&plan, 16, 17)},
                        "end": {"line": 16, "column": 23, "byte": byte_of(&plan, 16, 23)},
                    },
                    "path": "phases[0].tasks[1].needs[0]",
                    "suggestion": "did you mean `compile`? `needs` lists task ids of this phase or an earlier one",
                },
            ],
        })
    );
}

#[test]
fn json_paths_of_unknown_and_missing_keys() {
    let plan = with(
        "        risk: low\n        run: {shell: [make, all]}",
        "        risk: low\n        timout: 5m\n        run: {shell: [make, all]}",
    )
    .replacen("        risk: medium\n", "", 1);
    let document = validate_json(&plan, 2);
    let found: Vec<(String, String, String)> = document["diagnostics"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|diagnostic| {
            (
                diagnostic["summary"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                diagnostic["path"].as_str().unwrap_or_default().to_owned(),
                diagnostic["suggestion"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect();
    assert_eq!(found[0].0, "unknown key `timout` in a task");
    assert_eq!(found[0].1, "phases[0].tasks[0].timout");
    assert!(
        found[0].2.starts_with("did you mean `timeout`?"),
        "{found:?}"
    );
    assert_eq!(found[1].0, "a task has no `risk`");
    assert_eq!(found[1].1, "phases[0].tasks[1].risk");
}

#[test]
fn json_columns_count_characters_and_bytes_count_bytes() {
    let plan = with("id: compile", "id: Compilé");
    let document = validate_json(&plan, 2);
    let diagnostic = &document["diagnostics"][0];
    assert_eq!(diagnostic["summary"], "invalid task id `Compilé`");
    assert_eq!(diagnostic["detail"], "not a valid id");
    let start = byte_of(&plan, 10, 13);
    assert_eq!(
        diagnostic["range"],
        serde_json::json!({
            "filename": "plan.yaml",
            "start": {"line": 10, "column": 13, "byte": start},
            "end": {"line": 10, "column": 20, "byte": start + "Compilé".len()},
        })
    );
}

#[test]
fn json_of_a_syntax_error_has_a_range_and_no_path() {
    let document = validate_json(&with("name: demo", "name: [demo"), 2);
    let diagnostic = &document["diagnostics"][0];
    assert!(
        diagnostic["summary"]
            .as_str()
            .is_some_and(|summary| summary.starts_with("invalid YAML")),
        "{diagnostic}"
    );
    assert_eq!(diagnostic["range"]["start"]["line"], 3);
    assert_eq!(diagnostic["path"], serde_json::Value::Null);
}

#[test]
fn json_warnings_leave_the_plan_valid() {
    let plan = with(
        "        risk: low\n",
        "        risk: low\n        estimate: 2h\n        timeout: 1m\n",
    );
    let document = validate_json(&plan, 0);
    assert_eq!(document["valid"], true);
    assert_eq!(document["error_count"], 0);
    assert_eq!(document["warning_count"], 2);
    let warning = &document["diagnostics"][0];
    assert_eq!(warning["severity"], "warning");
    assert!(
        warning["summary"].as_str().is_some_and(
            |summary| summary.starts_with("task `compile` estimate 2h exceeds its timeout 1m")
        ),
        "{warning}"
    );
    assert!(warning.get("range").is_none(), "{warning}");
}

#[test]
fn json_of_a_missing_file_is_a_diagnostic_without_range() {
    let finished = PlangateCli::new()
        .args(["validate", "missing.yaml", "--format", "json"])
        .run();
    finished.assert_code(2);
    assert_eq!(
        finished.json(),
        serde_json::json!({
            "format_version": 1,
            "valid": false,
            "error_count": 1,
            "warning_count": 0,
            "diagnostics": [{
                "severity": "error",
                "summary": "failed to read plan file `missing.yaml`",
                "detail": "No such file or directory (os error 2)",
                "path": null,
                "suggestion": null,
            }],
        })
    );
}
