//! `plangate run`, `resume`, `approve`, `status`, `report` and `rollback`
//! with the shell executor: failure policies and their rollback order,
//! approvals, changed plans, and state files that are not ours.

use test_case::test_case;

use crate::common::{Workspace, redact_console, repo_root};

/// Phase `one`: a -> b -> c; phase `two`: d (needs c), e (needs d) which
/// fails when the file `fail-e` exists. Every action and rollback appends to
/// `journal`, so tests can read what ran and in which order.
fn failure_plan(on_failure: &str) -> String {
    let task = |id: &str, needs: &str, phase_fails: bool| {
        let run = if phase_fails {
            format!(r"[sh, -c, 'echo run {id} >> journal; test ! -e fail-{id}']")
        } else {
            format!(r"[sh, -c, 'echo run {id} >> journal']")
        };
        format!(
            "      - id: {id}\n        risk: low\n        needs: [{needs}]\n        run: {{shell: {run}}}\n        rollback: {{shell: [sh, -c, 'echo undo {id} >> journal']}}\n"
        )
    };
    format!(
        "version: 1\nname: failures\npolicy: {{on_failure: {on_failure}, concurrency: 1}}\nphases:\n  - id: one\n    tasks:\n{}{}{}  - id: two\n    tasks:\n{}{}{}",
        task("a", "", false),
        task("b", "a", false),
        task("c", "b", false),
        task("d", "c", false),
        task("e", "d", true),
        task("f", "d", false),
    )
}

fn journal(workspace: &Workspace) -> Vec<String> {
    workspace
        .read("journal")
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test_case("stop", &["run a", "run b", "run c", "run d", "run e"], "failed" ; "stop leaves completed work")]
#[test_case("rollback-task", &["run a", "run b", "run c", "run d", "run e", "undo e"], "failed" ; "rollback task undoes the failed task only")]
#[test_case("rollback-phase", &["run a", "run b", "run c", "run d", "run e", "undo e", "undo d"], "rolled-back" ; "rollback phase undoes the phase newest first")]
#[test_case("rollback-run", &["run a", "run b", "run c", "run d", "run e", "undo e", "undo d", "undo c", "undo b", "undo a"], "rolled-back" ; "rollback run undoes everything newest first")]
#[test_case("continue", &["run a", "run b", "run c", "run d", "run e", "run f"], "failed" ; "continue runs the rest")]
fn on_failure_modes(mode: &str, expected: &[&str], run_status: &str) {
    let workspace = Workspace::new();
    workspace.write("plan.yaml", &failure_plan(mode));
    workspace.write("fail-e", "");
    let finished = workspace.run(["run", "plan.yaml"]);
    finished.assert_code(1);
    assert_eq!(journal(&workspace), expected, "{}", finished.stderr);
    assert_eq!(workspace.status()["status"], run_status);
    let states = workspace.states();
    assert_eq!(
        states["e"],
        if mode.starts_with("rollback") {
            "rolled-back"
        } else {
            "failed"
        }
    );
    if mode == "continue" {
        assert_eq!(states["f"], "succeeded");
    }
    if mode == "stop" {
        assert_eq!(
            states["f"], "pending",
            "a stopped run keeps the rest for a resume"
        );
    }
}

#[test]
fn a_stopped_run_resumes_after_the_cause_is_fixed() {
    let workspace = Workspace::new();
    workspace.write("plan.yaml", &failure_plan("stop"));
    workspace.write("fail-e", "");
    workspace.run(["run", "plan.yaml"]).assert_code(1);
    std::fs::remove_file(workspace.path().join("fail-e")).expect("the marker exists");
    let finished = workspace.run(["resume"]);
    finished.assert_code(0);
    // Succeeded tasks never run again; e runs a second time, f for the first.
    assert_eq!(
        journal(&workspace),
        [
            "run a", "run b", "run c", "run d", "run e", "run e", "run f"
        ]
    );
    let status = workspace.status();
    let e = status["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .find(|t| t["id"] == "e")
        .expect("task e");
    assert_eq!(e["attempts"], 2);
}

#[test]
fn failing_rollback_is_recorded_and_the_rest_continue() {
    let workspace = Workspace::new();
    let plan = failure_plan("rollback-run")
        .replace("echo undo b >> journal", "echo undo b >> journal; exit 4");
    workspace.write("plan.yaml", &plan);
    workspace.write("fail-e", "");
    workspace.run(["run", "plan.yaml"]).assert_code(1);
    assert_eq!(
        journal(&workspace).last().map(String::as_str),
        Some("undo a")
    );
    let states = workspace.states();
    assert_eq!(states["b"], "rollback-failed");
    assert_eq!(states["a"], "rolled-back");
    assert_eq!(workspace.status()["status"], "failed");
}

#[test]
fn rollback_command_undoes_a_finished_run_newest_first() {
    let workspace = Workspace::new();
    workspace.write("plan.yaml", &failure_plan("stop"));
    workspace.run(["run", "plan.yaml"]).assert_code(0);
    let run = workspace.status()["run"]
        .as_str()
        .expect("run id")
        .to_owned();
    let finished = workspace.run(["rollback", &run]);
    finished.assert_code(0);
    let undo: Vec<String> = journal(&workspace)
        .into_iter()
        .filter(|l| l.starts_with("undo"))
        .collect();
    assert_eq!(
        undo,
        ["undo f", "undo e", "undo d", "undo c", "undo b", "undo a"]
    );
    assert_eq!(workspace.status()["status"], "rolled-back");
    workspace.run(["resume", &run]).assert_code(2);
}

#[test]
fn quickstart_pauses_for_approval_then_resumes() {
    let workspace = Workspace::new();
    let examples = repo_root().join("examples");
    std::fs::copy(
        examples.join("quickstart.yaml"),
        workspace.path().join("quickstart.yaml"),
    )
    .expect("the example exists");
    let first = workspace.run(["run", "quickstart.yaml"]);
    first.assert_code(3);
    first.assert_stderr_contains("plangate approve");
    let states = workspace.states();
    assert_eq!(states["deploy-staging"], "succeeded");
    assert_eq!(states["publish-site"], "needs-approval");
    assert_eq!(states["announce"], "blocked");
    assert_eq!(workspace.status()["status"], "paused");
    assert!(
        !workspace.path().join("work/quickstart/public").exists(),
        "nothing is published before approval"
    );

    // Resuming without an approval pauses again and changes nothing.
    workspace.run(["resume"]).assert_code(3);

    let run = workspace.status()["run"]
        .as_str()
        .expect("run id")
        .to_owned();
    workspace
        .run([
            "approve",
            &run[..8],
            "publish-site",
            "--as",
            "alice",
            "--reason",
            "staging looks right",
        ])
        .assert_code(0);
    workspace.run(["resume"]).assert_code(0);
    assert!(
        workspace
            .path()
            .join("work/quickstart/public/index.html")
            .exists()
    );
    let states = workspace.states();
    assert!(states.values().all(|s| s == "succeeded"), "{states:?}");

    let report = workspace.run(["report", "--format", "json"]);
    report.assert_code(0);
    let report = report.json();
    assert_eq!(report["summary"]["completed"], 7);
    assert_eq!(report["approvals"][0]["approved_by"], "alice");
    assert_eq!(report["approvals"][0]["reason"], "staging looks right");
    let smoke = report["phases"][1]["tasks"][1].clone();
    assert_eq!(smoke["id"], "smoke-test");
    assert!(
        smoke["evidence"]
            .as_str()
            .expect("evidence")
            .contains("no `verify` declared")
    );
    let publish = report["phases"][2]["tasks"][0].clone();
    assert!(
        publish["evidence"]
            .as_str()
            .expect("evidence")
            .starts_with("verified")
    );

    let markdown = workspace.run(["report"]);
    markdown.assert_code(0);
    assert!(
        markdown
            .stdout
            .contains("Complete, with evidence: **7 of 7** tasks."),
        "{}",
        markdown.stdout
    );
}

#[test]
fn report_never_calls_an_unverified_task_complete() {
    let workspace = Workspace::new();
    workspace.write(
        "plan.yaml",
        "version: 1\nname: v\npolicy: {require_rollback: none, on_failure: continue}\nphases:\n  - id: one\n    tasks:\n      - {id: ok, risk: low, run: {shell: [\"true\"]}, verify: {shell: [\"true\"]}}\n      - {id: bad-verify, risk: low, retries: 1, retry_backoff: 0s, run: {shell: [\"true\"]}, verify: {shell: [\"false\"]}}\n",
    );
    workspace.run(["run", "plan.yaml"]).assert_code(1);
    let report = workspace.run(["report", "--format", "json"]).json();
    let tasks = report["phases"][0]["tasks"]
        .as_array()
        .expect("tasks")
        .clone();
    assert_eq!(tasks[0]["complete"], true);
    assert_eq!(tasks[1]["complete"], false);
    assert_eq!(tasks[1]["state"], "failed");
    assert_eq!(tasks[1]["attempts"], 2, "one retry");
    assert_eq!(report["summary"]["completed"], 1);
    assert_eq!(report["not_done"][0]["id"], "bad-verify");
}

#[test]
fn changed_plan_is_refused_unless_accepted() {
    let workspace = Workspace::new();
    workspace.write("plan.yaml", &failure_plan("stop"));
    workspace.write("fail-e", "");
    workspace.run(["run", "plan.yaml"]).assert_code(1);
    workspace.write(
        "plan.yaml",
        &failure_plan("stop").replace("echo run f >> journal", "echo run f2 >> journal"),
    );
    let refused = workspace.run(["resume"]);
    refused.assert_code(2);
    refused.assert_stderr_contains("changed since run");
    refused.assert_stderr_contains("changed `f`");
    refused.assert_stderr_contains("--accept-plan-change");
    assert_eq!(journal(&workspace).len(), 5, "nothing ran");
    std::fs::remove_file(workspace.path().join("fail-e")).expect("the marker exists");
    workspace
        .run(["resume", "--accept-plan-change"])
        .assert_code(0);
    assert_eq!(
        journal(&workspace).last().map(String::as_str),
        Some("run f2")
    );
}

#[test_case("text" ; "a text file")]
#[test_case("foreign" ; "another application's database")]
#[test_case("newer" ; "a newer plangate schema")]
#[test_case("corrupt" ; "a corrupt database")]
fn unusable_state_file_is_reported_and_left_untouched(kind: &str) {
    let workspace = Workspace::new();
    workspace.write("plan.yaml", &failure_plan("stop"));
    let db = workspace.path().join("state.db");
    match kind {
        "text" => std::fs::write(&db, "these are my notes, not a database\n").expect("write"),
        "foreign" => {
            let connection = rusqlite_connection(&db);
            connection.execute_batch("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL); INSERT INTO invoices VALUES (1, 9.5);").expect("sql");
        }
        "newer" => {
            workspace
                .run(["run", "plan.yaml", "--state", "state.db"])
                .assert_code(0);
            let connection = rusqlite_connection(&db);
            connection
                .execute_batch("PRAGMA user_version = 999;")
                .expect("sql");
        }
        _ => {
            workspace
                .run(["run", "plan.yaml", "--state", "state.db"])
                .assert_code(0);
            let mut bytes = std::fs::read(&db).expect("the db exists");
            let middle = bytes.len() / 2;
            let end = middle + 2048.min(bytes.len() - middle);
            for byte in &mut bytes[middle..end] {
                *byte = 0xA5;
            }
            std::fs::write(&db, bytes).expect("write");
        }
    }
    let _ = std::fs::remove_file(workspace.path().join("state.db-wal"));
    let before = std::fs::read(&db).expect("the file exists");
    for args in [
        vec!["run", "plan.yaml", "--state", "state.db"],
        vec!["status", "--state", "state.db"],
    ] {
        let finished = workspace.run(&args);
        finished.assert_code(2);
        assert!(
            finished.stderr.starts_with("error: "),
            "{}",
            finished.stderr
        );
        assert!(
            finished.stderr.contains("state.db"),
            "the error names the file: {}",
            finished.stderr
        );
    }
    assert_eq!(
        std::fs::read(&db).expect("the file exists"),
        before,
        "the file is unchanged"
    );
}

#[test]
fn doctor_prints_ok_or_the_problems() {
    let workspace = Workspace::new();
    workspace.write("plan.yaml", &failure_plan("stop"));
    workspace
        .run(["run", "plan.yaml", "--state", "state.db"])
        .assert_code(0);
    let sound = workspace.run(["doctor", "--state", "state.db"]);
    sound.assert_code(0);
    assert_eq!(sound.stdout, "ok\n");

    let db = workspace.path().join("state.db");
    let mut bytes = std::fs::read(&db).expect("the db exists");
    let middle = bytes.len() / 2 / 4096 * 4096;
    bytes[middle..middle + 4096].fill(0xA5);
    std::fs::write(&db, &bytes).expect("write");
    let damaged = workspace.run(["doctor", "--state", "state.db"]);
    damaged.assert_code(1);
    assert!(
        !damaged.stdout.is_empty() && damaged.stdout != "ok\n",
        "{}",
        damaged.stdout
    );
    assert!(
        damaged.stderr.starts_with("error: state file `"),
        "{}",
        damaged.stderr
    );
    assert_eq!(std::fs::read(&db).expect("the file exists"), bytes);

    std::fs::write(&db, "these are my notes, not a database\n").expect("write");
    workspace
        .run(["doctor", "--state", "state.db"])
        .assert_code(2);
    workspace
        .run(["doctor", "--state", "absent.db"])
        .assert_code(2);
    assert!(!workspace.path().join("absent.db").exists());
}

/// A run long enough for its WAL to be checkpointed several times (about 8
/// pages a task, checkpoints from 1,000 pages on, by the store's thread and
/// its writer) leaves the state file whole on a clean exit: no `-wal` beside
/// it, `doctor` finds it sound, every task recorded; with `--state-sync
/// full` too.
#[test_case("normal" ; "state sync normal")]
#[test_case("full" ; "state sync full")]
fn a_long_run_leaves_a_whole_state_file_and_no_wal(sync: &str) {
    use std::fmt::Write as _;

    const TASKS: usize = 400;
    let workspace = Workspace::new();
    let mut plan = String::from(
        "version: 1\nname: long\npolicy: {max_tasks: none, budget: none, \
         require_rollback: none, concurrency: 2}\nphases:\n  - id: only\n    tasks:\n",
    );
    for i in 0..TASKS {
        let _ = writeln!(
            plan,
            "      - {{id: t{i}, risk: low, run: {{shell: [\"true\"]}}}}"
        );
    }
    workspace.write("plan.yaml", &plan);
    workspace
        .run(["run", "plan.yaml", "--state-sync", sync])
        .assert_code(0);
    let folder = workspace.path().join(".plangate");
    assert!(folder.join("state.db").exists());
    assert!(
        !folder.join("state.db-wal").exists(),
        "a clean exit leaves no WAL"
    );
    let doctor = workspace.run(["doctor"]);
    doctor.assert_code(0);
    assert_eq!(doctor.stdout, "ok\n");
    let states = workspace.states();
    assert_eq!(states.len(), TASKS);
    assert!(
        states.values().all(|state| state == "succeeded"),
        "{states:?}"
    );
}

fn rusqlite_connection(path: &std::path::Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).expect("sqlite opens the file")
}

#[test]
fn state_path_comes_from_flag_env_or_default() {
    let workspace = Workspace::new();
    workspace.write("plan.yaml", &failure_plan("stop"));
    workspace.run(["run", "plan.yaml"]).assert_code(0);
    assert!(workspace.path().join(".plangate/state.db").exists());
    let mut command = workspace.command(["run", "plan.yaml"]);
    let status = command
        .env("PLANGATE_STATE", "from-env.db")
        .output()
        .expect("runs")
        .status;
    assert_eq!(status.code(), Some(0));
    assert!(workspace.path().join("from-env.db").exists());
    let runs = workspace.run(["runs", "--no-headers", "--state", "from-env.db"]);
    assert_eq!(runs.stdout.lines().count(), 1);
}

#[test]
fn secrets_are_redacted_in_output_and_state() {
    let workspace = Workspace::new();
    workspace.write(
        "plan.yaml",
        "version: 1\nname: s\nsecrets: [DEPLOY_KEY]\npolicy: {require_rollback: none}\nphases:\n  - id: one\n    tasks:\n      - {id: leak, risk: low, run: {shell: [sh, -c, 'echo key=$DEPLOY_KEY token=$API_TOKEN']}}\n",
    );
    let mut command = workspace.command(["run", "plan.yaml"]);
    let output = command
        .env("DEPLOY_KEY", "hunter2-deploy")
        .env("API_TOKEN", "tok-0123456789")
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(0));
    let report = workspace.run(["report", "--format", "json"]).stdout;
    assert!(report.contains("[REDACTED]"), "{report}");
    for secret in ["hunter2-deploy", "tok-0123456789"] {
        assert!(!report.contains(secret));
        let db = std::fs::read(workspace.path().join(".plangate/state.db")).expect("db");
        let wal =
            std::fs::read(workspace.path().join(".plangate/state.db-wal")).unwrap_or_default();
        for bytes in [db, wal] {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{secret} is in the state file"
            );
        }
    }
}

#[test]
fn a_used_up_phase_budget_ends_the_run_incomplete_and_counts_across_resumes() {
    let workspace = Workspace::new();
    let plan = |budget: &str| {
        format!(
            "version: 1\nname: budget\npolicy: {{require_rollback: none, concurrency: 1}}\nphases:\n  - id: one\n    budget: {budget}\n    tasks:\n      - {{id: slow, risk: low, run: {{shell: [sleep, '0.05']}}}}\n      - {{id: next, risk: low, run: {{shell: [sh, -c, 'echo next >> out']}}}}\n      - {{id: last, risk: low, needs: [next], run: {{shell: [sh, -c, 'echo last >> out']}}}}\n"
        )
    };
    workspace.write("plan.yaml", &plan("10ms"));
    let finished = workspace.run(["run", "plan.yaml"]);
    finished.assert_code(4);
    finished.assert_stderr_contains("incomplete: phase `one` budget 0.01s used: 2 tasks deferred");
    let status = workspace.status();
    assert_eq!(status["status"], "incomplete");
    assert_eq!(
        status["reason"],
        "phase `one` budget 0.01s used: 2 tasks deferred"
    );
    let tasks = status["tasks"].as_array().expect("tasks").clone();
    assert_eq!(tasks[0]["state"], "succeeded");
    assert_eq!(tasks[1]["state"], "deferred");
    assert_eq!(tasks[1]["reason"], "phase `one` budget 0.01s used");
    assert_eq!(tasks[2]["state"], "deferred");
    assert!(workspace.read("out").is_empty(), "no deferred task ran");

    // The budget counts the whole run: a resume finds it used up and starts nothing.
    let resumed = workspace.run(["resume"]);
    resumed.assert_code(4);
    assert!(workspace.read("out").is_empty(), "{}", resumed.stderr);
    assert_eq!(workspace.status()["status"], "incomplete");

    // With the budget raised, the resume continues the deferred tasks.
    workspace.write("plan.yaml", &plan("1h"));
    workspace
        .run(["resume", "--accept-plan-change"])
        .assert_code(0);
    assert_eq!(workspace.read("out"), "next\nlast\n");
    assert_eq!(workspace.status()["status"], "succeeded");
}

#[test]
fn max_tasks_ends_the_run_incomplete() {
    let workspace = Workspace::new();
    workspace.write(
        "plan.yaml",
        "version: 1\nname: cap\npolicy: {require_rollback: none, concurrency: 1, max_tasks: 2}\nphases:\n  - id: one\n    tasks:\n      - {id: a, risk: low, run: {shell: [\"true\"]}}\n      - {id: b, risk: low, run: {shell: [\"true\"]}}\n  - id: two\n    tasks:\n      - {id: c, risk: low, run: {shell: [\"true\"]}}\n      - {id: d, risk: low, run: {shell: [\"true\"]}}\n",
    );
    let finished = workspace.run(["run", "plan.yaml"]);
    finished.assert_code(4);
    assert_eq!(
        redact_console(&finished.stderr),
        "run [RUN] started
phase `one`: one
  start   `a` (attempt 1)
  ok      `a` in [TIME]
  start   `b` (attempt 1)
  ok      `b` in [TIME]
phase `two`: two
  defer   `c`: `max_tasks` 2 reached
  defer   `d`: `max_tasks` 2 reached
run [RUN] incomplete
incomplete: `max_tasks` 2 reached: 2 tasks deferred
hint: continue with `plangate resume [RUN]`; the limits count the whole run, so raise a used-up one in the plan first (and resume with `--accept-plan-change`)"
    );
    let states = workspace.states();
    assert_eq!(states["a"], "succeeded");
    assert_eq!(states["b"], "succeeded");
    assert_eq!(states["c"], "deferred");
    assert_eq!(states["d"], "deferred");
    let report = workspace.status();
    assert_eq!(report["status"], "incomplete");
    assert_eq!(report["tasks"][2]["reason"], "`max_tasks` 2 reached");
}

/// `count` independent tasks under `policy`, each logging `+` when its
/// action starts and `-` when it ends, with a verify.
fn parallel_plan(policy: &str, count: usize) -> String {
    let mut plan = format!(
        "version: 1\nname: parallel\npolicy: {{{policy}}}\nphases:\n  - id: one\n    tasks:\n"
    );
    for i in 0..count {
        plan.push_str(&format!(
            "      - id: t{i}\n        risk: low\n        run: {{shell: [sh, -c, 'echo + >> log; sleep 0.01; echo - >> log']}}\n        verify: {{shell: [\"true\"]}}\n"
        ));
    }
    plan
}

#[test]
fn state_sync_full_runs_and_a_bad_mode_is_refused() {
    let workspace = Workspace::new();
    workspace.write(
        "plan.yaml",
        &parallel_plan("require_rollback: none, concurrency: 2", 3),
    );
    workspace
        .run(["--state-sync", "full", "run", "plan.yaml"])
        .assert_code(0);
    assert!(workspace.states().values().all(|s| s == "succeeded"));

    let refused = workspace.run(["--state-sync", "sometimes", "status"]);
    refused.assert_code(2);
    refused.assert_stderr_contains("invalid value 'sometimes' for '--state-sync <MODE>'");
    let from_env = workspace
        .command(["status"])
        .env("PLANGATE_STATE_SYNC", "often")
        .output()
        .expect("plangate runs");
    assert_eq!(from_env.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&from_env.stderr).contains("invalid value 'often'"),
        "{}",
        String::from_utf8_lossy(&from_env.stderr)
    );
}

#[test]
fn actions_never_exceed_the_concurrency() {
    let workspace = Workspace::new();
    workspace.write(
        "plan.yaml",
        &parallel_plan(
            "require_rollback: none, concurrency: 3, max_tasks: none",
            24,
        ),
    );
    workspace.run(["run", "plan.yaml"]).assert_code(0);
    let mut now = 0_i32;
    let mut most = 0;
    for line in workspace.read("log").lines() {
        now += if line == "+" { 1 } else { -1 };
        most = most.max(now);
    }
    assert_eq!(now, 0);
    assert!(most <= 3, "{most} actions ran at once");
    assert!(workspace.states().values().all(|s| s == "succeeded"));
}

#[test]
fn max_tasks_holds_with_several_tasks_at_once() {
    let workspace = Workspace::new();
    workspace.write(
        "plan.yaml",
        &parallel_plan("require_rollback: none, concurrency: 3, max_tasks: 5", 12),
    );
    workspace.run(["run", "plan.yaml"]).assert_code(4);
    let states = workspace.states();
    let count = |state: &str| states.values().filter(|s| *s == state).count();
    assert_eq!(
        (count("succeeded"), count("deferred")),
        (5, 7),
        "{states:?}"
    );
    assert_eq!(workspace.read("log").lines().count(), 10);
}

#[test]
fn a_task_without_rollback_is_reported_as_left_in_place() {
    let workspace = Workspace::new();
    let plan = failure_plan("rollback-run").replace(
        "        rollback: {shell: [sh, -c, 'echo undo b >> journal']}\n",
        "",
    );
    workspace.write(
        "plan.yaml",
        &plan.replace("policy: {", "policy: {require_rollback: none, "),
    );
    workspace.write("fail-e", "");
    let finished = workspace.run(["run", "plan.yaml"]);
    finished.assert_code(1);
    finished
        .assert_stderr_contains("  kept    `b` (succeeded): no rollback declared; left in place");
    assert!(!journal(&workspace).contains(&"undo b".to_owned()));
    assert_eq!(
        workspace.status()["status"],
        "failed",
        "not everything was undone"
    );
    let report = workspace.run(["report", "--format", "json"]).json();
    let b = report["phases"][0]["tasks"][1].clone();
    assert_eq!(b["id"], "b");
    assert!(
        b["reason"]
            .as_str()
            .expect("a reason")
            .contains("left in place"),
        "{b}"
    );
}

/// With one slot, a task's end is printed before the next task starts: the
/// console never shows an overlap that did not happen.
#[test]
fn the_console_prints_a_task_end_before_the_next_start() {
    let workspace = Workspace::new();
    workspace.write(
        "plan.yaml",
        "version: 1\nname: order\npolicy: {concurrency: 1}\nphases:\n  - id: one\n    tasks:\n      - {id: a, risk: low, run: {shell: [sh, -c, 'exit 0']}}\n      - {id: b, risk: low, run: {shell: [sh, -c, 'exit 0']}}\n      - {id: c, risk: low, run: {shell: [sh, -c, 'exit 0']}}\n",
    );
    let finished = workspace.run(["run", "plan.yaml"]);
    finished.assert_code(0);
    assert_eq!(
        redact_console(&finished.stderr),
        "run [RUN] started
phase `one`: one
  start   `a` (attempt 1)
  ok      `a` in [TIME]
  start   `b` (attempt 1)
  ok      `b` in [TIME]
  start   `c` (attempt 1)
  ok      `c` in [TIME]
run [RUN] succeeded"
    );
}

/// Budgets measure the time the engine drives the run: a run paused for an
/// approval for longer than its budget still has its budget when resumed,
/// and the report tells the used time from the wall time.
#[test]
fn time_paused_for_an_approval_does_not_count_against_the_budget() {
    let workspace = Workspace::new();
    workspace.write(
        "plan.yaml",
        "version: 1\nname: paused\npolicy: {require_rollback: none, budget: 3s}\nphases:\n  - id: one\n    tasks:\n      - {id: a, risk: low, run: {shell: [sh, -c, 'echo a >> out']}}\n  - id: two\n    approval: true\n    tasks:\n      - {id: b, risk: low, run: {shell: [sh, -c, 'echo b >> out']}}\n",
    );
    let started = std::time::Instant::now();
    workspace.run(["run", "plan.yaml"]).assert_code(3);
    let run = workspace.status()["run"]
        .as_str()
        .expect("run id")
        .to_owned();
    // The pause lasts longer than the whole budget.
    let pause = std::time::Duration::from_millis(3_500);
    std::thread::sleep(pause.saturating_sub(started.elapsed()));
    workspace.run(["approve", &run, "two"]).assert_code(0);
    let resumed = workspace.run(["resume"]);
    resumed.assert_code(0);
    assert_eq!(workspace.read("out"), "a\nb\n", "{}", resumed.stderr);
    let report = workspace.run(["report", "--format", "json"]).json();
    assert_eq!(report["status"], "succeeded");
    assert_eq!(report["budget_s"], 3);
    assert!(
        report["used_s"].as_u64().expect("used_s") < 3,
        "the driving time is well under the budget: {report}"
    );
    assert!(
        report["wall_s"].as_u64().expect("wall_s") >= 3,
        "the wall time includes the pause: {report}"
    );
}

/// `verify:` as a list: each check is its own verify attempt, named `check N
/// of M`, in the state and every report; the first failing check fails the
/// verify (the checks after it do not run) and the task's rollback runs.
#[test]
fn a_verify_list_stops_at_its_first_failing_check_and_the_rollback_runs() {
    let workspace = Workspace::new();
    workspace.write(
        "plan.yaml",
        "version: 1\nname: checks\npolicy: {on_failure: rollback-task}\nphases:\n  - id: one\n    tasks:\n      - id: good\n        risk: low\n        run: {shell: [sh, -c, 'echo run good >> journal']}\n        verify:\n          - {shell: [sh, -c, 'echo check good 1 >> journal']}\n          - {shell: [sh, -c, 'echo check good 2 >> journal']}\n        rollback: {shell: [sh, -c, 'echo undo good >> journal']}\n      - id: bad\n        risk: low\n        needs: [good]\n        run: {shell: [sh, -c, 'echo run bad >> journal']}\n        verify:\n          - {shell: [sh, -c, 'echo check bad 1 >> journal']}\n          - {shell: [sh, -c, 'echo check bad 2 >> journal; echo the second check saw no pods >&2; exit 3']}\n          - {shell: [sh, -c, 'echo check bad 3 >> journal']}\n        rollback: {shell: [sh, -c, 'echo undo bad >> journal']}\n",
    );
    let finished = workspace.run(["run", "plan.yaml"]);
    finished.assert_code(1);
    assert_eq!(
        journal(&workspace),
        [
            "run good",
            "check good 1",
            "check good 2",
            "run bad",
            "check bad 1",
            "check bad 2",
            "undo bad"
        ],
        "{}",
        finished.stderr
    );
    let states = workspace.states();
    assert_eq!(states["good"], "succeeded");
    assert_eq!(states["bad"], "rolled-back");

    let report = workspace.run(["report", "--format", "json"]).json();
    let tasks = report["phases"][0]["tasks"].as_array().expect("tasks");
    assert_eq!(tasks[0]["complete"], true);
    let good = serde_json::to_string(&tasks[0]).expect("json");
    assert!(good.contains("verified: all 2 checks passed"), "{good}");
    let bad = &tasks[1];
    assert_eq!(bad["complete"], false);
    let text = serde_json::to_string(bad).expect("json");
    assert!(text.contains("check 1 of 3: shell: sh -c"), "{text}");
    assert!(text.contains("check 2 of 3: shell: sh -c"), "{text}");
    assert!(!text.contains("check 3 of 3"), "{text}");
    assert!(text.contains("the second check saw no pods"), "{text}");
    assert!(
        finished
            .stderr
            .contains("`verify` check 2 of 3 (shell: sh -c 'echo check bad 2"),
        "the reason names the failing check: {}",
        finished.stderr
    );
    for format in ["markdown", "html"] {
        let rendered = workspace.run(["report", "--format", format]).stdout;
        assert!(
            rendered.contains("check 2 of 3: shell: sh -c"),
            "{format}: {rendered}"
        );
    }
    let reported = workspace.status();
    assert_eq!(reported["tasks"][0]["verified"], true);
    assert_eq!(reported["tasks"][1]["verified"], false);
}
