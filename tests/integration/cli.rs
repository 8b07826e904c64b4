//! What the command line itself prints and accepts: short run ids, log
//! events on stderr, approvals that change nothing, state-file locations,
//! and the exit code of each.

use crate::common::{Finished, Workspace, repo_root};

/// A workspace with the quickstart plan copied in.
fn quickstart() -> Workspace {
    let workspace = Workspace::new();
    std::fs::copy(
        repo_root().join("examples/quickstart.yaml"),
        workspace.path().join("quickstart.yaml"),
    )
    .expect("the example exists");
    workspace
}

/// The full id of the latest run, from `status --format json`.
fn full_id(workspace: &Workspace) -> String {
    let status = workspace.run(["status", "--format", "json"]);
    status.assert_code(0);
    status.json()["run"].as_str().expect("a run id").to_owned()
}

/// The short ids `plangate runs` lists, newest first.
fn short_ids(workspace: &Workspace) -> Vec<String> {
    let runs = workspace.run(["runs", "--no-headers"]);
    runs.assert_code(0);
    runs.stdout
        .lines()
        .map(|line| line.split_whitespace().next().expect("an id").to_owned())
        .collect()
}

/// `2026-12-02T03:04:05Z`: RFC 3339 in UTC, to the second.
#[track_caller]
fn assert_rfc3339(text: &str) {
    let shape: String = text
        .chars()
        .map(|c| if c.is_ascii_digit() { 'D' } else { c })
        .collect();
    assert_eq!(shape, "DDDD-DD-DDTDD:DD:DDZ", "{text}");
}

#[track_caller]
fn assert_stderr(finished: &Finished, code: i32, expected: &str) {
    finished.assert_code(code);
    assert_eq!(finished.stderr, expected, "stdout:\n{}", finished.stdout);
}

#[test]
fn runs_are_named_by_short_ids_that_every_command_accepts() {
    let workspace = quickstart();
    let paused = workspace.run(["run", "quickstart.yaml"]);
    paused.assert_code(3);
    let full = full_id(&workspace);
    let short = &full[full.len() - 6..];
    assert_eq!(short_ids(&workspace), [short]);
    assert!(
        paused.stderr.starts_with(&format!("run {short} started\n")),
        "{}",
        paused.stderr
    );
    assert!(
        paused.stderr.contains(&format!("\nrun {short} paused\n")),
        "{}",
        paused.stderr
    );
    assert!(
        paused.stderr.ends_with(&format!(
            "\nhint: approve with `plangate approve {short} TASK|PHASE --reason ...`, then `plangate resume {short}`\n"
        )),
        "{}",
        paused.stderr
    );
    let runs = workspace.run(["runs"]);
    let row = runs.stdout.lines().nth(1).expect("a row under the header");
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        (cells[0], cells[1], cells[2], cells[3], cells[6]),
        (short, "quickstart", "quickstart.yaml", "paused", "5/7"),
        "{}",
        runs.stdout
    );

    // The README's approval, as written there, with the short id in any case.
    let approved = workspace.run([
        "approve",
        &short.to_ascii_lowercase(),
        "publish-site",
        "--as",
        "alice",
        "--reason",
        "staging reviewed",
    ]);
    approved.assert_code(0);
    let at = approved
        .stderr
        .lines()
        .next()
        .and_then(|line| {
            line.strip_prefix(&format!(
                "approved task `publish-site` of run {short} as alice at "
            ))
        })
        .unwrap_or_else(|| panic!("{}", approved.stderr));
    assert_rfc3339(at);
    assert!(
        approved
            .stderr
            .ends_with(&format!("hint: continue with `plangate resume {short}`\n")),
        "{}",
        approved.stderr
    );

    // The full id and a unique prefix name the same run.
    for name in [full.as_str(), &full[..12]] {
        let status = workspace.run(["status", name, "--format", "json"]);
        status.assert_code(0);
        assert_eq!(status.json()["run"], full.as_str());
    }

    let resumed = workspace.run(["resume", short]);
    resumed.assert_code(0);
    assert!(
        resumed
            .stderr
            .starts_with(&format!("run {short} resumed\n")),
        "{}",
        resumed.stderr
    );
    assert!(
        resumed
            .stderr
            .ends_with(&format!("run {short} succeeded\n")),
        "{}",
        resumed.stderr
    );

    // (`smoke-test` has no rollback, so how the rollback ends is not this
    // test's business: only how it is announced.)
    let rolled_back = workspace.run(["rollback", short]);
    assert!(
        rolled_back
            .stderr
            .starts_with(&format!("run {short} rolling back\n")),
        "{}",
        rolled_back.stderr
    );
    assert!(
        !rolled_back.stderr.contains("resumed"),
        "{}",
        rolled_back.stderr
    );
    workspace.run(["report", short]).assert_code(0);
}

#[test]
fn an_ambiguous_or_unknown_run_is_a_usage_error_with_a_hint() {
    let workspace = quickstart();
    workspace.run(["run", "quickstart.yaml"]).assert_code(3);
    workspace.write("plan.yaml", LEAKY);
    workspace.run(["run", "plan.yaml"]).assert_code(0);
    let shorts = short_ids(&workspace);
    assert_eq!(shorts.len(), 2);
    // Every run id of this century starts with `0`.
    let ambiguous = workspace.run(["status", "0"]);
    ambiguous.assert_code(2);
    assert!(
        ambiguous
            .stderr
            .starts_with("error: run `0` is ambiguous: it matches `"),
        "{}",
        ambiguous.stderr
    );
    assert!(
        ambiguous
            .stderr
            .ends_with("\n\nhint: give more characters, or the short id `plangate runs` shows\n"),
        "{}",
        ambiguous.stderr
    );
    for short in &shorts {
        workspace.run(["status", short]).assert_code(0);
    }
    assert_stderr(
        &workspace.run(["status", "ZZZZZZ"]),
        2,
        "error: no run `ZZZZZZ` in the state file\n\nhint: `plangate runs` lists the runs of this state file\n",
    );
}

#[test]
fn approving_what_needs_no_approval_is_refused() {
    let workspace = quickstart();
    workspace.run(["run", "quickstart.yaml"]).assert_code(3);
    let short = short_ids(&workspace).remove(0);
    assert_stderr(
        &workspace.run(["approve", &short, "render-config", "--as", "alice"]),
        2,
        &format!(
            "error: task `render-config` of run `{short}` needs no approval (its decision is `run`)\n\n\
             hint: `plangate status {short}` shows what waits for an approval; nothing was recorded\n"
        ),
    );
    assert_stderr(
        &workspace.run(["approve", &short, "build", "--as", "alice"]),
        2,
        &format!(
            "error: phase `build` of run `{short}` needs no approval (it does not have `approval: true`)\n\n\
             hint: `plangate status {short}` shows what waits for an approval; nothing was recorded\n"
        ),
    );
    assert_stderr(
        &workspace.run(["approve", &short, "nothing-like-it", "--as", "alice"]),
        2,
        &format!(
            "error: run `{short}` has no task or phase `nothing-like-it`\n\n\
             hint: `plangate status {short}` lists its tasks and phases\n"
        ),
    );
    let report = workspace.run(["report", "--format", "json"]);
    assert_eq!(report.json()["approvals"], serde_json::json!([]));
}

#[test]
fn the_approver_defaults_to_the_user() {
    let workspace = quickstart();
    workspace.run(["run", "quickstart.yaml"]).assert_code(3);
    let short = short_ids(&workspace).remove(0);
    let approved = workspace
        .command(["approve", &short, "publish-site"])
        .env("USER", "grace")
        .output()
        .expect("plangate runs");
    assert!(approved.status.success());
    let without_user = workspace
        .command(["approve", &short, "publish-site"])
        .env_remove("USER")
        .output()
        .expect("plangate runs");
    assert!(without_user.status.success());
    let report = workspace.run(["report", "--format", "json"]);
    let approvals = report.json()["approvals"].clone();
    let host = approvals[0]["approved_by"]
        .as_str()
        .expect("an approver")
        .strip_prefix("grace@")
        .expect("`$USER` first")
        .to_owned();
    let account = approvals[1]["approved_by"].as_str().expect("an approver");
    assert!(
        account.ends_with(&format!("@{host}")) && !account.starts_with("unknown@"),
        "{account}"
    );
}

/// A task whose background child outlives it, holding its output pipes.
const LEAKY: &str = "version: 1\nname: leaky\npolicy: {require_rollback: none}\nphases:\n  - id: one\n    tasks:\n      - id: leak\n        risk: low\n        run: {shell: [sh, -c, 'sleep 60 & echo started']}\n";

#[test]
fn warnings_of_the_executors_reach_stderr() {
    let workspace = Workspace::new();
    workspace.write("plan.yaml", LEAKY);
    let shown = workspace.run(["run", "plan.yaml"]);
    shown.assert_code(0);
    let warning = shown
        .stderr
        .lines()
        .find(|line| line.starts_with("warning: "))
        .expect("a warning");
    let pgid = warning
        .strip_prefix(
            "warning: descendants still hold the output pipes after the process exited; killing its group (pgid=",
        )
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("{warning}"));
    assert!(pgid.parse::<u32>().is_ok(), "{warning}");

    let quiet = workspace.run(["run", "plan.yaml", "--quiet"]);
    quiet.assert_code(0);
    assert_eq!(quiet.stderr, "");

    let filtered = workspace
        .command(["run", "plan.yaml"])
        .env("PLANGATE_LOG", "plangate_executors=error")
        .output()
        .expect("plangate runs");
    assert!(filtered.status.success());
    assert!(!String::from_utf8_lossy(&filtered.stderr).contains("warning:"));

    let json = workspace.run(["--log-format", "json", "run", "plan.yaml"]);
    json.assert_code(0);
    let events: Vec<serde_json::Value> = json
        .stderr
        .lines()
        .filter(|line| line.starts_with('{'))
        .map(|line| {
            serde_json::from_str::<serde_json::Value>(line).expect("one JSON object per line")
        })
        // The run's progress events are JSON lines too (tests/integration/progress.rs).
        .filter(|event| event["target"] != "plangate::progress")
        .collect();
    assert_eq!(events.len(), 1, "{}", json.stderr);
    assert_eq!(events[0]["level"], "warn");
    assert_eq!(events[0]["target"], "plangate_executors::process::imp");
    assert_eq!(
        events[0]["message"],
        "descendants still hold the output pipes after the process exited; killing its group"
    );
    assert!(events[0]["fields"]["pgid"].is_u64(), "{}", events[0]);

    let verbose = workspace.run(["run", "plan.yaml", "-v"]);
    verbose.assert_code(0);
    assert!(
        verbose
            .stderr
            .lines()
            .any(|line| line.starts_with("debug plangate_executors::process::imp: spawned (")),
        "{}",
        verbose.stderr
    );
}

#[test]
fn a_state_file_in_a_missing_folder_is_refused() {
    let workspace = Workspace::new();
    workspace.write("plan.yaml", LEAKY);
    let expected = "error: the folder `nowhere/deeper` of the state file does not exist\n\n\
                    hint: create the folder first, or leave out `--state` (and `$PLANGATE_STATE`) to use `.plangate/state.db`, which is created when missing\n";
    assert_stderr(
        &workspace.run(["run", "plan.yaml", "--state", "nowhere/deeper/state.db"]),
        2,
        expected,
    );
    assert_stderr(
        &workspace.run(["runs", "--state", "nowhere/deeper/state.db"]),
        2,
        expected,
    );
    let from_env = workspace
        .command(["run", "plan.yaml"])
        .env("PLANGATE_STATE", "nowhere/deeper/state.db")
        .output()
        .expect("plangate runs");
    assert_eq!(from_env.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&from_env.stderr), expected);
    assert!(!workspace.path().join("nowhere").exists());

    // The default folder is created; an existing folder is used.
    workspace.run(["run", "plan.yaml"]).assert_code(0);
    assert!(workspace.path().join(".plangate/state.db").is_file());
    std::fs::create_dir(workspace.path().join("elsewhere")).expect("a folder");
    workspace
        .run(["run", "plan.yaml", "--state", "elsewhere/state.db"])
        .assert_code(0);
    workspace
        .run(["run", "plan.yaml", "--state", "here.db"])
        .assert_code(0);
}
