//! Environment promotion and approvals that cannot be replayed: a task in a
//! later environment of `policy.environments` runs only with evidence (the
//! same task content succeeded and verified in the environment before,
//! recently enough) and the approvals its environment and risk ask for;
//! approvals are bound to the plan they approved, counted by distinct
//! approver, and revocable until used.

use crate::common::Workspace;

/// A plan of one task in `environment`, writing `version` to `deployed.txt`
/// and verifying it there (`verify` may be replaced).
fn plan(name: &str, environment: &str, risk: &str, version: &str, verify: &str) -> String {
    format!(
        "version: 1
name: {name}
environment: {environment}
policy:
  require_rollback: none
  on_failure: stop
  max_risk: high
  environments: [staging, prod]
  promotion: {{max_age: 7d}}
  approvers: {{high: 2}}
phases:
  - id: deploy
    tasks:
      - id: release
        risk: {risk}
        run: {{shell: [sh, -c, \"echo {version} >> deployed.txt\"]}}
{verify}"
    )
}

fn verify(version: &str) -> String {
    format!("        verify: {{shell: [grep, -q, {version}, deployed.txt]}}\n")
}

/// A workspace with `staging/plan.yaml` and `prod/plan.yaml` sharing
/// `shared.db`.
fn two_environments(staging: &str, prod: &str) -> Workspace {
    let workspace = Workspace::new();
    workspace.write("staging/plan.yaml", staging);
    workspace.write("prod/plan.yaml", prod);
    workspace
}

fn task_json(report: &serde_json::Value) -> &serde_json::Value {
    &report["phases"][0]["tasks"][0]
}

fn run_id(workspace: &Workspace) -> String {
    let status = workspace.run(["--state", "shared.db", "status", "--format", "json"]);
    status.assert_code(0);
    status.json()["run"].as_str().expect("a run id").to_owned()
}

#[test]
fn a_prod_run_relies_on_staging_evidence_and_two_distinct_approvers() {
    let workspace = two_environments(
        &plan("web-staging", "staging", "low", "v1", &verify("v1")),
        &plan("web-prod", "prod", "high", "v1", &verify("v1")),
    );
    let state = ["--state", "shared.db"];

    // No state file yet: blocked, and the dry run does not create one.
    let dry = workspace.run([&state[..], &["plan", "prod/plan.yaml", "--format", "json"]].concat());
    dry.assert_code(0);
    let report = dry.json();
    let task = task_json(&report);
    assert_eq!(task["decision"], "blocked", "{task}");
    assert_eq!(task["promotion"]["from"], "staging");
    assert_eq!(task["promotion"]["missing"], "there is no state file yet");
    assert!(
        task["reason"]
            .as_str()
            .is_some_and(|reason| reason.starts_with("promotion to `prod` needs")),
        "{task}"
    );
    assert!(!workspace.path().join("shared.db").exists());

    workspace
        .run([&state[..], &["run", "staging/plan.yaml"]].concat())
        .assert_code(0);
    let staging_run = run_id(&workspace);

    // The evidence is shown in every format, with the run it comes from.
    let dry = workspace.run([&state[..], &["plan", "prod/plan.yaml", "--format", "json"]].concat());
    let report = dry.json();
    let task = task_json(&report);
    assert_eq!(task["decision"], "needs-approval", "{task}");
    assert_eq!(task["promotion"]["evidence"]["run"], staging_run.as_str());
    assert_eq!(task["promotion"]["evidence"]["plan"], "web-staging");
    assert_eq!(task["promotion"]["missing"], serde_json::Value::Null);
    assert!(
        task["reason"].as_str().is_some_and(|reason| reason
            .contains("`policy.promotion.require_approval`")
            && reason.contains("2 distinct approvers")),
        "{task}"
    );
    let hash = task["promotion"]["content_hash"].as_str().expect("a hash");
    for format in ["markdown", "html"] {
        let page =
            workspace.run([&state[..], &["plan", "prod/plan.yaml", "--format", format]].concat());
        page.assert_code(0);
        assert!(page.stdout.contains(hash), "{format}: {}", page.stdout);
        assert!(page.stdout.contains(&staging_run), "{format}");
    }
    let explain = workspace.run(
        [
            &state[..],
            &["explain", "prod/plan.yaml", "release", "--format", "json"],
        ]
        .concat(),
    );
    explain.assert_code(0);
    let explain = explain.json();
    assert_eq!(explain["content"]["content_hash"], hash);
    assert_eq!(explain["content"]["promoted_from"], "staging");
    assert_eq!(explain["decision"]["decision"], "needs-approval");
    assert_eq!(
        explain["decision"]["rule"],
        "policy.promotion.require_approval"
    );

    // The run pauses for approvals; the same approver twice counts once.
    workspace
        .run([&state[..], &["run", "prod/plan.yaml"]].concat())
        .assert_code(3);
    let prod_run = run_id(&workspace);
    let approve = |who: &str| {
        workspace.run(
            [
                &state[..],
                &[
                    "approve", &prod_run, "release", "--as", who, "--reason", "CHG-1",
                ],
            ]
            .concat(),
        )
    };
    approve("alice@example.com")
        .assert_code(0)
        .assert_stderr_contains("1 of the 2 distinct approvers");
    approve("Alice@example.com ")
        .assert_code(0)
        .assert_stderr_contains("1 of the 2 distinct approvers");
    workspace
        .run([&state[..], &["resume", &prod_run]].concat())
        .assert_code(3);
    approve("bob@example.com").assert_code(0);
    workspace
        .run([&state[..], &["resume", &prod_run]].concat())
        .assert_code(0);
    assert_eq!(workspace.read("prod/deployed.txt"), "v1\n");

    // The approvals were used, and a used approval cannot be revoked.
    let report = workspace.run([&state[..], &["report", &prod_run, "--format", "json"]].concat());
    let approvals = report.json()["approvals"].clone();
    assert_eq!(approvals.as_array().map(Vec::len), Some(3));
    for approval in approvals.as_array().expect("a list") {
        assert!(approval["used_at"].is_i64(), "{approval}");
        assert_eq!(approval["counts"], true);
    }
    workspace
        .run([&state[..], &["revoke", &prod_run, "release"]].concat())
        .assert_code(2)
        .assert_stderr_contains("a used approval cannot be revoked");
    let status = workspace.run([&state[..], &["status", &prod_run]].concat());
    status.assert_code(0);
    assert!(
        status.stdout.contains("approved by bob@example.com") && status.stdout.contains("used at"),
        "{}",
        status.stdout
    );
}

#[test]
fn a_changed_action_in_prod_has_no_evidence_and_the_run_fails_as_the_dry_run_says() {
    let workspace = two_environments(
        &plan("web-staging", "staging", "low", "v1", &verify("v1")),
        &plan("web-prod", "prod", "high", "v2", &verify("v2")),
    );
    workspace
        .run(["--state", "shared.db", "run", "staging/plan.yaml"])
        .assert_code(0);
    let dry = workspace.run([
        "--state",
        "shared.db",
        "plan",
        "prod/plan.yaml",
        "--format",
        "json",
    ]);
    let report = dry.json();
    let task = task_json(&report);
    assert_eq!(task["decision"], "blocked");
    assert!(
        task["promotion"]["missing"].as_str().is_some_and(
            |missing| missing.contains("no task with this content has run in `staging`")
        ),
        "{task}"
    );
    let explain = workspace
        .run([
            "--state",
            "shared.db",
            "explain",
            "prod/plan.yaml",
            "release",
            "--format",
            "json",
        ])
        .json();
    assert_eq!(explain["decision"]["rule"], "policy.environments");
    let run = workspace.run(["--state", "shared.db", "run", "prod/plan.yaml"]);
    run.assert_code(1);
    let status = workspace
        .run(["--state", "shared.db", "status", "--format", "json"])
        .json();
    assert_eq!(status["status"], "failed");
    assert_eq!(status["tasks"][0]["state"], "blocked");
    assert!(!workspace.path().join("prod/deployed.txt").exists());
}

#[test]
fn a_run_blocked_for_evidence_resumes_once_the_evidence_exists_and_still_waits_for_approval() {
    let workspace = two_environments(
        &plan("web-staging", "staging", "low", "v1", &verify("v1")),
        &plan("web-prod", "prod", "high", "v1", &verify("v1")),
    );
    let state = ["--state", "shared.db"];
    workspace
        .run([&state[..], &["run", "prod/plan.yaml"]].concat())
        .assert_code(1);
    let prod_run = run_id(&workspace);
    workspace
        .run([&state[..], &["run", "staging/plan.yaml"]].concat())
        .assert_code(0);
    // The evidence is there now, and the approvals are still asked for.
    workspace
        .run([&state[..], &["resume", &prod_run]].concat())
        .assert_code(3);
    assert!(!workspace.path().join("prod/deployed.txt").exists());
    for who in ["alice", "bob"] {
        workspace
            .run([&state[..], &["approve", &prod_run, "release", "--as", who]].concat())
            .assert_code(0);
    }
    workspace
        .run([&state[..], &["resume", &prod_run]].concat())
        .assert_code(0);
    assert_eq!(workspace.read("prod/deployed.txt"), "v1\n");
}

#[test]
fn evidence_older_than_max_age_does_not_count() {
    let workspace = two_environments(
        &plan("web-staging", "staging", "low", "v1", &verify("v1")),
        &plan("web-prod", "prod", "high", "v1", &verify("v1")),
    );
    workspace
        .run(["--state", "shared.db", "run", "staging/plan.yaml"])
        .assert_code(0);
    // Eight days ago: the evidence's own timestamp, written back.
    let connection =
        rusqlite::Connection::open(workspace.path().join("shared.db")).expect("the state opens");
    connection
        .execute(
            "UPDATE tasks SET finished_at = finished_at - 8 * 24 * 3600 * 1000",
            [],
        )
        .expect("the task row is updated");
    drop(connection);
    let dry = workspace.run([
        "--state",
        "shared.db",
        "plan",
        "prod/plan.yaml",
        "--format",
        "json",
    ]);
    let report = dry.json();
    let task = task_json(&report);
    assert_eq!(task["decision"], "blocked");
    assert!(
        task["promotion"]["missing"]
            .as_str()
            .is_some_and(|missing| missing.contains("finished 192h")),
        "{task}"
    );
    workspace
        .run(["--state", "shared.db", "run", "prod/plan.yaml"])
        .assert_code(1);
}

#[test]
fn a_failed_or_unverified_staging_run_is_not_evidence() {
    // The verify fails: the task fails.
    let workspace = two_environments(
        &plan(
            "web-staging",
            "staging",
            "low",
            "v1",
            "        verify: {shell: [\"false\"]}\n",
        ),
        &plan(
            "web-prod",
            "prod",
            "high",
            "v1",
            "        verify: {shell: [\"false\"]}\n",
        ),
    );
    workspace
        .run(["--state", "shared.db", "run", "staging/plan.yaml"])
        .assert_code(1);
    let report = workspace
        .run([
            "--state",
            "shared.db",
            "plan",
            "prod/plan.yaml",
            "--format",
            "json",
        ])
        .json();
    let task = task_json(&report);
    assert_eq!(task["decision"], "blocked");
    assert!(
        task["promotion"]["missing"]
            .as_str()
            .is_some_and(|missing| missing.contains("`failed` with a failed verify")),
        "{task}"
    );

    // No verify at all: it succeeds, and proves nothing.
    let workspace = two_environments(
        &plan("web-staging", "staging", "low", "v1", ""),
        &plan("web-prod", "prod", "high", "v1", ""),
    );
    workspace
        .run(["--state", "shared.db", "run", "staging/plan.yaml"])
        .assert_code(0);
    let report = workspace
        .run([
            "--state",
            "shared.db",
            "plan",
            "prod/plan.yaml",
            "--format",
            "json",
        ])
        .json();
    let task = task_json(&report);
    assert_eq!(task["decision"], "blocked");
    assert!(
        task["promotion"]["missing"]
            .as_str()
            .is_some_and(|missing| missing.contains("without a verify, which proves nothing")),
        "{task}"
    );
}

/// A plan whose one task waits for an approval (`above_max: approve`).
const APPROVAL_PLAN: &str = "version: 1
name: gated
description: first
policy: {require_rollback: none, max_risk: low, above_max: approve}
phases:
  - id: one
    tasks:
      - {id: gated, risk: medium, run: {shell: [touch, done.txt]}}
";

#[test]
fn an_approval_does_not_carry_over_to_a_changed_plan() {
    let workspace = Workspace::new();
    workspace.write("plan.yaml", APPROVAL_PLAN);
    workspace.run(["run", "plan.yaml"]).assert_code(3);
    let run = workspace.status()["run"].as_str().expect("run").to_owned();
    workspace
        .run([
            "approve",
            &run,
            "gated",
            "--as",
            "alice",
            "--reason",
            "looks right",
        ])
        .assert_code(0)
        .assert_stderr_contains("for plan ");
    // The plan changes after the approval.
    workspace.write(
        "plan.yaml",
        &APPROVAL_PLAN.replace("description: first", "description: second"),
    );
    workspace.run(["resume", &run]).assert_code(2);
    let resumed = workspace.run(["resume", &run, "--accept-plan-change"]);
    resumed.assert_code(3);
    resumed.assert_stderr_contains(
        "the approval of task `gated` by alice does not count: it approved plan",
    );
    assert!(!workspace.path().join("done.txt").exists());
    let status = workspace.run(["status", &run]);
    assert!(
        status.stdout.contains("does not count"),
        "{}",
        status.stdout
    );
    let report = workspace.run(["report", &run, "--format", "json"]).json();
    assert_eq!(report["approvals"][0]["counts"], false);

    // Approved again, for the plan as it is now.
    workspace
        .run(["approve", &run, "gated", "--as", "alice"])
        .assert_code(0);
    workspace.run(["resume", &run]).assert_code(0);
    assert!(workspace.path().join("done.txt").exists());
}

#[test]
fn an_approval_is_revoked_before_use() {
    let workspace = Workspace::new();
    workspace.write("plan.yaml", APPROVAL_PLAN);
    workspace.run(["run", "plan.yaml"]).assert_code(3);
    let run = workspace.status()["run"].as_str().expect("run").to_owned();
    workspace
        .run(["revoke", &run, "gated"])
        .assert_code(2)
        .assert_stderr_contains("has no approval to revoke");
    workspace
        .run(["approve", &run, "gated", "--as", "alice"])
        .assert_code(0);
    workspace
        .run([
            "revoke",
            &run,
            "gated",
            "--as",
            "eve",
            "--reason",
            "wrong ticket",
        ])
        .assert_code(0)
        .assert_stderr_contains("revoked the approval of task `gated`");
    workspace.run(["resume", &run]).assert_code(3);
    assert!(!workspace.path().join("done.txt").exists());
    let report = workspace.run(["report", &run, "--format", "json"]).json();
    let approval = &report["approvals"][0];
    assert_eq!(approval["revoked_by"], "eve");
    assert_eq!(approval["revoke_reason"], "wrong ticket");
    assert_eq!(approval["counts"], false);
    for format in ["markdown", "html"] {
        let page = workspace.run(["report", &run, "--format", format]);
        assert!(page.stdout.contains("revoked by eve"), "{format}");
    }
}

#[test]
fn promotion_keys_are_validated_with_their_line() {
    let workspace = Workspace::new();
    workspace.write(
        "plan.yaml",
        "version: 1
name: p
environment: production
policy:
  environments: [dev, prod]
  promotion: {max_age: 0s, require_approval: [qa]}
  approvers: {high: 0}
phases:
  - id: one
    tasks:
      - {id: a, risk: low, environment: stagin, run: {shell: [\"true\"]}}
",
    );
    let finished = workspace.run(["validate", "plan.yaml"]);
    finished.assert_code(2);
    for expected in [
        "environment `production` is not one of `policy.environments`",
        "plan.yaml:3:",
        "invalid `max_age`: 0 would accept no evidence at all",
        "plan.yaml:6:",
        "`require_approval` names environment `qa`",
        "invalid `approvers.high`",
        "plan.yaml:7:",
        "environment `stagin` is not one of `policy.environments`",
        "plan.yaml:11:",
    ] {
        finished.assert_stderr_contains(expected);
    }
    workspace.write(
        "other.yaml",
        "version: 1
name: p
policy:
  promotion: {max_age: 1d}
phases:
  - id: one
    tasks:
      - {id: a, risk: low, run: {shell: [\"true\"]}}
",
    );
    workspace
        .run(["validate", "other.yaml"])
        .assert_code(2)
        .assert_stderr_contains("`policy.promotion` needs `policy.environments`");
}

#[test]
fn the_bundled_promotion_examples_run_as_their_comments_say() {
    let workspace = Workspace::new();
    let examples = crate::common::repo_root().join("examples");
    for name in ["promote-staging.yaml", "promote-prod.yaml"] {
        std::fs::copy(examples.join(name), workspace.path().join(name))
            .expect("the example exists");
    }
    let state = ["--state", "promote.db"];
    let dry = workspace.run(
        [
            &state[..],
            &["plan", "promote-prod.yaml", "--format", "json"],
        ]
        .concat(),
    );
    assert_eq!(task_json(&dry.json())["decision"], "blocked");
    workspace
        .run([&state[..], &["run", "promote-staging.yaml"]].concat())
        .assert_code(0);
    let dry = workspace.run(
        [
            &state[..],
            &["plan", "promote-prod.yaml", "--format", "json"],
        ]
        .concat(),
    );
    let report = dry.json();
    assert_eq!(task_json(&report)["decision"], "needs-approval");
    assert_eq!(
        task_json(&report)["promotion"]["evidence"]["plan"],
        "promote-staging"
    );
    workspace
        .run([&state[..], &["run", "promote-prod.yaml"]].concat())
        .assert_code(3);
    let run = workspace
        .run([&state[..], &["status", "--format", "json"]].concat())
        .json()["run"]
        .as_str()
        .expect("a run id")
        .to_owned();
    for who in ["alice", "bob"] {
        workspace
            .run(
                [
                    &state[..],
                    &["approve", &run, "release", "--as", who, "--reason", "CHG-1"],
                ]
                .concat(),
            )
            .assert_code(0);
    }
    workspace
        .run([&state[..], &["resume", &run]].concat())
        .assert_code(0);
    assert_eq!(workspace.read("work/promote/release.txt"), "v1.4.2\n");
}
