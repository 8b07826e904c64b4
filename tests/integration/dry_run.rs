//! `plangate plan`: the impact report of the bundled marathon plan.

use crate::common::{PlangateCli, redact, repo_root};

fn marathon() -> String {
    repo_root()
        .join("examples/marathon-42.yaml")
        .display()
        .to_string()
}

#[test]
fn marathon_json_counts_match_the_assessment() {
    let finished = PlangateCli::new()
        .args(["plan", &marathon(), "--format", "json"])
        .run();
    finished.assert_code(0);
    let report = finished.json();
    let summary = &report["summary"];
    assert_eq!(report["plan"], "cc03-ultra-marathon");
    assert_eq!(report["format_version"], 1);
    assert_eq!(summary["tasks"], 44);
    assert_eq!(summary["by_risk"]["low"], 24);
    assert_eq!(summary["by_risk"]["medium"], 15);
    assert_eq!(summary["by_risk"]["high"], 5);
    assert_eq!(summary["decisions"]["run"], 30);
    assert_eq!(summary["decisions"]["excluded"], 5);
    assert_eq!(summary["decisions"]["needs-approval"], 0);
    assert_eq!(summary["decisions"]["blocked"], 0);
    assert_eq!(summary["decisions"]["deferred"], 9);
    let warnings: Vec<&str> = report["warnings"]
        .as_array()
        .expect("warnings is a list")
        .iter()
        .filter_map(|w| w.as_str())
        .collect();
    assert!(
        warnings.contains(&"phase budgets add up to 4h30m, more than the plan budget 4h"),
        "{warnings:?}"
    );

    let phases = report["phases"].as_array().expect("phases is a list");
    let shape: Vec<(String, Option<u64>, usize)> = phases
        .iter()
        .map(|p| {
            (
                p["id"].as_str().expect("id").to_owned(),
                p["budget_s"].as_u64(),
                p["tasks"].as_array().expect("tasks").len(),
            )
        })
        .collect();
    assert_eq!(
        shape,
        [
            ("design".to_owned(), Some(3600), 8),
            ("dev-implementation".to_owned(), Some(7200), 10),
            ("advanced-implementation".to_owned(), Some(3600), 6),
            ("integration".to_owned(), Some(1800), 6),
            ("backlog".to_owned(), None, 14),
        ]
    );
    for phase in &phases[..4] {
        assert!(
            phase["forecast_s"].as_u64() <= phase["budget_s"].as_u64(),
            "{phase}"
        );
        for key in ["estimate_s", "critical_path_s", "forecast_s"] {
            assert!(phase[key].is_u64(), "{key} is whole seconds");
        }
    }
    // Every non-run decision names its cause.
    for task in phases
        .iter()
        .flat_map(|p| p["tasks"].as_array().expect("tasks"))
    {
        let decision = task["decision"].as_str().expect("decision");
        match decision {
            "run" => assert!(task["reason"].is_null()),
            "excluded" => assert!(
                task["reason"]
                    .as_str()
                    .expect("reason")
                    .contains("policy.max_risk")
            ),
            "deferred" => assert!(
                task["reason"]
                    .as_str()
                    .expect("reason")
                    .contains("policy.max_tasks")
            ),
            other => panic!("unexpected decision {other} for {task}"),
        }
        if task["risk"] == "high" {
            assert_eq!(decision, "excluded");
        }
    }
}

#[test]
fn marathon_markdown_report() {
    let finished = PlangateCli::new().args(["plan", &marathon()]).run();
    finished.assert_code(0);
    insta::assert_snapshot!(
        "marathon_markdown",
        redact(&finished.stdout, finished.dir.path())
    );
}

#[test]
fn output_file_and_html() {
    let cli = PlangateCli::new();
    let out = cli.dir().join("report.html");
    let out_arg = out.display().to_string();
    let finished = cli
        .args(["plan", &marathon(), "--format", "html", "-o", &out_arg])
        .run();
    finished.assert_code(0);
    assert!(
        finished.stdout.is_empty(),
        "the report goes to the file, not stdout"
    );
    let html = std::fs::read_to_string(&out).expect("the report file exists");
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("cc03-ultra-marathon"));
    assert!(html.contains("class=\"pill s-excluded\""));
}

#[test]
fn approve_flag_changes_needs_approval_to_run() {
    let plan = "\
version: 1
name: gated
policy: {max_risk: low, above_max: approve, require_rollback: none}
phases:
  - id: one
    tasks:
      - {id: risky, risk: high, estimate: 1m, run: {shell: [\"true\"]}}
      - {id: after, risk: low, needs: [risky], estimate: 1m, run: {shell: [\"true\"]}}
";
    let before = PlangateCli::new()
        .plan(plan)
        .args(["plan", "plan.yaml", "--format", "json"])
        .run();
    let decisions = |r: &serde_json::Value| -> Vec<String> {
        r["phases"][0]["tasks"]
            .as_array()
            .expect("tasks")
            .iter()
            .map(|t| t["decision"].as_str().expect("decision").to_owned())
            .collect()
    };
    assert_eq!(decisions(&before.json()), ["needs-approval", "blocked"]);
    let after = PlangateCli::new()
        .plan(plan)
        .args([
            "plan",
            "plan.yaml",
            "--format",
            "json",
            "--approve",
            "risky",
        ])
        .run();
    assert_eq!(decisions(&after.json()), ["run", "run"]);
}

#[test]
fn invalid_plan_exits_2() {
    PlangateCli::new()
        .plan("version: 1\n")
        .args(["plan", "plan.yaml"])
        .run()
        .assert_code(2);
}

#[test]
fn preview_asks_executors_and_changes_nothing() {
    let workspace = crate::common::Workspace::new();
    std::fs::copy(
        repo_root().join("examples/quickstart.yaml"),
        workspace.path().join("quickstart.yaml"),
    )
    .expect("the example exists");
    let finished = workspace.run(["plan", "quickstart.yaml", "--preview", "--format", "json"]);
    finished.assert_code(0);
    let report = finished.json();
    let render = &report["phases"][0]["tasks"][0];
    assert_eq!(render["id"], "render-config");
    assert!(
        render["preview"]["summary"]
            .as_str()
            .expect("summary")
            .starts_with("would run")
    );
    // Tasks waiting for approval are previewed too; nothing ran.
    assert!(report["phases"][2]["tasks"][0]["preview"].is_object());
    assert!(
        !workspace.path().join("work").exists(),
        "a preview executes nothing"
    );
    assert!(
        !workspace.path().join(".plangate").exists(),
        "a preview writes no state"
    );
}

#[test]
fn a_plan_without_budget_or_max_tasks_has_no_limit() {
    // 35 tasks of 10m one at a time: past the 30 tasks and 4h that were once
    // defaults. The contract says both default to no limit.
    let tasks = (0..35).fold(String::new(), |tasks, i| {
        tasks
            + &format!(
                "      - {{id: t{i}, risk: low, estimate: 10m, run: {{shell: [\"true\"]}}}}\n"
            )
    });
    let plan = format!(
        "version: 1\nname: unlimited\npolicy: {{concurrency: 1}}\nphases:\n  - id: one\n    tasks:\n{tasks}"
    );
    let finished = PlangateCli::new()
        .plan(&plan)
        .args(["plan", "plan.yaml", "--format", "json"])
        .run();
    finished.assert_code(0);
    let report = finished.json();
    assert_eq!(report["summary"]["decisions"]["run"], 35);
    assert_eq!(report["summary"]["decisions"]["deferred"], 0);
    let policy = report["policy"]
        .as_object()
        .expect("the report has its policy");
    assert_eq!(policy["budget_s"], serde_json::Value::Null);
    assert_eq!(policy["max_tasks"], serde_json::Value::Null);
}
