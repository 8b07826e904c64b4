//! `plangate runs`, `plangate status` as a tree and `plangate diff`, on real
//! state files: the bundled quickstart run to its end, then a variant of it
//! whose smoke test fails, run from the same plan file.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use crate::common::{Finished, Workspace, repo_root};

/// The smoke test of the quickstart, and the failing variant's.
const SMOKE_TEST: &str = r#"grep, -q, "<h1>index</h1>""#;
const FAILING_SMOKE_TEST: &str = r#"grep, -q, "<h1>missing</h1>""#;

/// A workspace where the quickstart ran to its end (paused for its approval,
/// approved, resumed), then its failing variant ran from the same file.
/// Returns the workspace and the short ids: succeeded run, failed run.
fn two_runs() -> (Workspace, String, String) {
    let workspace = Workspace::new();
    let plan = std::fs::read_to_string(repo_root().join("examples/quickstart.yaml"))
        .expect("the example exists");
    assert!(
        plan.contains(SMOKE_TEST),
        "the quickstart has its smoke test"
    );
    workspace.write("quickstart.yaml", &plan);
    workspace.run(["run", "quickstart.yaml"]).assert_code(3);
    let first = short_id(&workspace);
    workspace
        .run([
            "approve",
            &first,
            "publish-site",
            "--as",
            "alice",
            "--reason",
            "staging looks right",
        ])
        .assert_code(0);
    workspace.run(["resume", &first]).assert_code(0);
    workspace.write(
        "quickstart.yaml",
        &plan.replace(SMOKE_TEST, FAILING_SMOKE_TEST),
    );
    workspace.run(["run", "quickstart.yaml"]).assert_code(1);
    let second = short_id(&workspace);
    assert_ne!(first, second);
    (workspace, first, second)
}

/// The short id of the latest run, from `runs --format json`.
fn short_id(workspace: &Workspace) -> String {
    let runs = workspace.run(["runs", "--format", "json", "--limit", "1"]);
    runs.assert_code(0);
    runs.json()["runs"][0]["short_id"]
        .as_str()
        .expect("a short id")
        .to_owned()
}

/// Measured times replaced: run ids, RFC 3339 times, durations (`0.012s`,
/// `1m3s`), ages, short plan hashes and percentages; then the padding
/// between columns made two spaces, since column widths follow the widths
/// of the durations.
pub(crate) fn redact_times(text: &str) -> String {
    static PATTERNS: LazyLock<Vec<(Regex, &str)>> = LazyLock::new(|| {
        [
            (r"\b[0-9A-HJKMNP-TV-Z]{26}\b", "[RUN]"),
            (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "[TIME]"),
            (r"\b(\d+h)?(\d+m)?\d+(\.\d+)?s\b", "[D]"),
            (r"\b[0-9a-f]{12}\b", "[HASH]"),
            (r"[+-]\d+(\.\d+)?%", "[PERCENT]"),
            // Two measured durations may be equal, or either the larger.
            (
                r"\[D\] -> \[D\] \([+-]\[D\](, \[PERCENT\])?\)",
                "[D] -> [D] ([DELTA])",
            ),
            (r"\[D\] \(no change\)", "[D] -> [D] ([DELTA])"),
            // Not the indentation of the tree, whose width is fixed.
            (r"([^ \n│|]) {2,}", "${1}  "),
        ]
        .into_iter()
        .map(|(pattern, replacement)| {
            (
                Regex::new(pattern).expect("the pattern is valid"),
                replacement,
            )
        })
        .collect()
    });
    PATTERNS
        .iter()
        .fold(text.to_owned(), |text, (pattern, replacement)| {
            pattern.replace_all(&text, *replacement).into_owned()
        })
}

/// The cells of each line, split at runs of two or more spaces.
fn cells(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .map(|line| {
            line.split("  ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .collect()
}

#[track_caller]
fn assert_usage_error(finished: &Finished, needle: &str) {
    finished.assert_code(2);
    finished.assert_stderr_contains(needle);
    assert_eq!(finished.stdout, "", "nothing on stdout");
}

#[test]
fn runs_is_a_table_newest_first_with_filters() {
    let (workspace, first, second) = two_runs();

    let runs = workspace.run(["runs"]);
    runs.assert_code(0);
    let rows = cells(&runs.stdout);
    assert_eq!(
        rows[0],
        [
            "ID", "PLAN", "FILE", "STATUS", "STARTED", "DURATION", "TASKS"
        ],
        "{}",
        runs.stdout
    );
    assert_eq!(rows.len(), 3, "{}", runs.stdout);
    let summary = |row: &[String]| {
        (
            row[0].clone(),
            row[1].clone(),
            row[2].clone(),
            row[3].clone(),
            row[6].clone(),
        )
    };
    // The failed run undid `deploy-staging` (rollback-phase) and kept the
    // three tasks of `build`.
    assert_eq!(
        summary(&rows[1]),
        (
            second.clone(),
            "quickstart".into(),
            "quickstart.yaml".into(),
            "failed".into(),
            "3/7".into()
        )
    );
    assert_eq!(
        summary(&rows[2]),
        (
            first.clone(),
            "quickstart".into(),
            "quickstart.yaml".into(),
            "succeeded".into(),
            "7/7".into()
        )
    );
    let age = Regex::new(r"^\d+s$").expect("valid");
    assert!(age.is_match(&rows[1][4]), "an age: {}", runs.stdout);
    // Columns line up: every row's cells start where the header's do.
    let lines: Vec<&str> = runs.stdout.lines().collect();
    for header in ["PLAN", "FILE", "STATUS", "STARTED", "DURATION", "TASKS"] {
        let at = lines[0].find(header).expect("a header");
        for line in &lines[1..] {
            assert_eq!(&line[at - 2..at], "  ", "column {header} of {line:?}");
        }
    }

    let no_headers = workspace.run(["runs", "--no-headers"]);
    // The same rows, the ages aside (a second may have passed).
    let without_age = |rows: &[Vec<String>]| -> Vec<Vec<String>> {
        rows.iter()
            .map(|row| [&row[..4], &row[5..]].concat())
            .collect()
    };
    assert_eq!(
        without_age(&cells(&no_headers.stdout)),
        without_age(&rows[1..])
    );

    let limited = workspace.run(["runs", "--limit", "1", "--no-headers"]);
    assert_eq!(cells(&limited.stdout).len(), 1);
    assert_eq!(cells(&limited.stdout)[0][0], second);

    let failed = workspace.run(["runs", "--status", "failed", "--no-headers"]);
    assert_eq!(cells(&failed.stdout).len(), 1, "{}", failed.stdout);
    assert_eq!(cells(&failed.stdout)[0][0], second);
    let either = workspace.run([
        "runs",
        "--status",
        "failed",
        "--status",
        "succeeded",
        "--no-headers",
    ]);
    assert_eq!(cells(&either.stdout).len(), 2, "{}", either.stdout);

    let by_plan = workspace.run(["runs", "--plan", "quickstart.yaml", "--no-headers"]);
    assert_eq!(cells(&by_plan.stdout).len(), 2, "{}", by_plan.stdout);
    let absolute = workspace.path().join("quickstart.yaml");
    let by_absolute = workspace.run(["runs".as_ref(), "--plan".as_ref(), absolute.as_os_str()]);
    let ids =
        |text: &str| -> Vec<String> { cells(text).into_iter().map(|row| row[0].clone()).collect() };
    assert_eq!(ids(&by_absolute.stdout), ids(&runs.stdout));

    let none = workspace.run(["runs", "--plan", "other.yaml"]);
    none.assert_code(0);
    assert_eq!(none.stdout, "");
    assert_eq!(none.stderr, "no runs match\n");

    assert_usage_error(
        &workspace.run(["runs", "--status", "done"]),
        "invalid value 'done' for '--status <STATUS>'",
    );
    assert_usage_error(
        &workspace.run(["runs", "--limit", "0"]),
        "invalid value '0' for '--limit <N>': 0 is not in 1..",
    );
    assert_usage_error(
        &workspace.run(["runs", "--limit", "many"]),
        "invalid value 'many' for '--limit <N>'",
    );
}

#[test]
fn runs_json_has_every_field_of_its_documentation() {
    let (workspace, first, second) = two_runs();
    let runs = workspace.run(["runs", "--format", "json"]);
    runs.assert_code(0);
    let json = runs.json();
    assert_eq!(json["format_version"], 1);
    let listed = json["runs"].as_array().expect("a list");
    assert_eq!(listed.len(), 2);
    let (failed, succeeded) = (&listed[0], &listed[1]);
    assert_eq!(failed["short_id"], second.as_str());
    assert_eq!(succeeded["short_id"], first.as_str());
    let full = failed["id"].as_str().expect("an id");
    assert_eq!(full.len(), 26);
    assert!(full.ends_with(&second));
    assert_eq!(failed["plan"], "quickstart");
    assert_eq!(
        failed["plan_path"],
        workspace
            .path()
            .canonicalize()
            .expect("exists")
            .join("quickstart.yaml")
            .display()
            .to_string()
    );
    assert_eq!(failed["environment"], "dev");
    assert_eq!(failed["status"], "failed");
    assert_eq!(
        failed["reason"],
        "task `smoke-test` failed (`on_failure: rollback-phase`)"
    );
    assert_eq!(succeeded["reason"], Value::Null);
    assert_eq!(
        failed["tasks"],
        serde_json::json!({"total": 7, "succeeded": 3})
    );
    assert_eq!(
        succeeded["tasks"],
        serde_json::json!({"total": 7, "succeeded": 7})
    );
    assert_ne!(failed["plan_hash"], succeeded["plan_hash"]);
    assert_eq!(failed["plan_hash"].as_str().map(str::len), Some(64));
    for run in listed {
        let created = run["created_at"].as_i64().expect("ms");
        let finished = run["finished_at"].as_i64().expect("finished");
        assert_eq!(
            run["duration_ms"].as_i64(),
            Some(finished - created),
            "{run}"
        );
        assert!(run["used_ms"].as_u64().expect("ms") <= run["duration_ms"].as_u64().expect("ms"));
    }
    // The document names exactly the fields docs/json/runs.md describes.
    let documented = std::fs::read_to_string(repo_root().join("docs/json/runs.md"))
        .expect("the documentation exists");
    for key in listed[0].as_object().expect("an object").keys() {
        assert!(
            documented.contains(&format!("`runs[].{key}`")),
            "`{key}` is documented"
        );
    }
    // No run matches: an empty list, not an error.
    let none = workspace.run(["runs", "--format", "json", "--plan", "other.yaml"]);
    none.assert_code(0);
    assert_eq!(
        none.json(),
        serde_json::json!({"format_version": 1, "runs": []})
    );
}

#[test]
fn status_is_a_tree_of_phases_and_tasks_with_budgets() {
    let (workspace, first, _) = two_runs();
    let status = workspace.run(["status", &first]);
    status.assert_code(0);
    insta::assert_snapshot!("status_tree", redact_times(&status.stdout));
    let ascii = workspace.run(["status", &first, "--ascii"]);
    ascii.assert_code(0);
    assert!(ascii.stdout.is_ascii(), "{}", ascii.stdout);
    assert_eq!(
        status
            .stdout
            .replace("├── ", "|-- ")
            .replace("└── ", "`-- ")
            .replace("│   ", "|   "),
        ascii.stdout
    );

    // The failed run: the rollback of its phase, the failed task's two
    // attempts and its reason, the tasks it never reached.
    let failed = workspace.run(["status"]);
    failed.assert_code(0);
    insta::assert_snapshot!("status_tree_failed", redact_times(&failed.stdout));

    // JSON stays the document of docs/json/status.md.
    let json = workspace.status();
    let documented = std::fs::read_to_string(repo_root().join("docs/json/status.md"))
        .expect("the documentation exists");
    for key in json.as_object().expect("an object").keys() {
        assert!(
            documented.contains(&format!("`{key}`")),
            "`{key}` is documented"
        );
    }
    for key in json["tasks"][0].as_object().expect("an object").keys() {
        assert!(
            documented.contains(&format!("`tasks[].{key}`")),
            "`tasks[].{key}` is documented"
        );
    }
}

#[test]
fn diff_shows_plan_outcomes_attempts_and_durations() {
    let (workspace, first, second) = two_runs();
    let diff = workspace.run(["diff", &first, &second]);
    diff.assert_code(0);
    assert_eq!(diff.stderr, "");
    let named = diff.stdout.replace(&first, "[A]").replace(&second, "[B]");
    insta::assert_snapshot!("diff_text", redact_times(&named));

    let json = workspace.run(["diff", &first, &second, "--format", "json"]);
    json.assert_code(0);
    let json = json.json();
    assert_eq!(json["format_version"], 1);
    assert_eq!(json["a"]["short_id"], first.as_str());
    assert_eq!(json["b"]["short_id"], second.as_str());
    assert_eq!(json["same_plan"], true);
    assert_eq!(json["plan_changed"], true);
    assert_eq!(json["status_changed"], true);
    assert_eq!(
        (json["a"]["status"].clone(), json["b"]["status"].clone()),
        ("succeeded".into(), "failed".into())
    );
    assert_eq!(
        json["summary"],
        serde_json::json!({"added": 0, "removed": 0, "changed": 4, "unchanged": 3})
    );
    let task = |id: &str| -> Value {
        json["tasks"]
            .as_array()
            .expect("a list")
            .iter()
            .find(|task| task["id"] == id)
            .unwrap_or_else(|| panic!("task `{id}` in {json:#}"))
            .clone()
    };
    let smoke = task("smoke-test");
    assert_eq!(smoke["change"], "changed");
    assert_eq!(smoke["changed"], serde_json::json!(["state", "attempts"]));
    assert_eq!(
        (smoke["a"]["state"].clone(), smoke["b"]["state"].clone()),
        ("succeeded".into(), "failed".into())
    );
    assert_eq!(
        (
            smoke["a"]["attempts"].clone(),
            smoke["b"]["attempts"].clone()
        ),
        (1.into(), 2.into())
    );
    let duration = &smoke["duration"];
    let (a, b) = (
        duration["a_ms"].as_i64().expect("ms"),
        duration["b_ms"].as_i64().expect("ms"),
    );
    assert_eq!(duration["delta_ms"].as_i64(), Some(b - a));
    assert_eq!(task("deploy-staging")["b"]["state"], "rolled-back");
    let announce = task("announce");
    assert_eq!(announce["b"]["decision"], "blocked");
    assert_eq!(announce["b"]["duration_ms"], Value::Null);
    assert_eq!(announce["duration"], Value::Null);
    assert_eq!(task("package")["change"], "unchanged");
    assert_eq!(task("package")["changed"], serde_json::json!([]));
    let order: Vec<&str> = json["tasks"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|t| t["id"].as_str().expect("id"))
        .collect();
    assert_eq!(
        order,
        [
            "render-config",
            "build-pages",
            "package",
            "deploy-staging",
            "smoke-test",
            "publish-site",
            "announce"
        ]
    );
    let documented = std::fs::read_to_string(repo_root().join("docs/json/diff.md"))
        .expect("the documentation exists");
    for key in json.as_object().expect("an object").keys() {
        assert!(
            documented.contains(&format!("`{key}`")),
            "`{key}` is documented"
        );
    }
    for key in smoke
        .as_object()
        .expect("an object")
        .keys()
        .chain(smoke["a"].as_object().expect("a side").keys())
        .chain(duration.as_object().expect("a delta").keys())
    {
        assert!(
            documented.contains(&format!(".{key}`")),
            "`{key}` is documented"
        );
    }

    // --exit-code: 1 when the runs differ, 0 for a run against itself.
    workspace
        .run(["diff", &first, &second, "--exit-code"])
        .assert_code(1);
    let same = workspace.run(["diff", &first, &first, "--exit-code"]);
    same.assert_code(0);
    assert!(
        same.stdout
            .contains("tasks: 0 added, 0 removed, 0 changed, 7 unchanged\n"),
        "{}",
        same.stdout
    );
    assert!(
        same.stdout.contains("status: succeeded\n"),
        "{}",
        same.stdout
    );
    assert!(
        same.stdout.contains("plan hash: unchanged, "),
        "{}",
        same.stdout
    );

    let unknown = workspace.run(["diff", &first, "ZZZZZZ"]);
    unknown.assert_code(2);
    unknown.assert_stderr_contains("error: ");
    unknown.assert_stderr_contains("ZZZZZZ");
    assert_eq!(unknown.stdout, "");
}

#[test]
fn diff_of_runs_of_different_plans_warns_and_matches_tasks_by_id() {
    let (workspace, first, _) = two_runs();
    workspace.write(
        "other.yaml",
        "version: 1\nname: other\npolicy: {require_rollback: none}\nphases:\n  - id: build\n    tasks:\n      - {id: package, risk: low, run: {shell: [\"true\"]}}\n      - {id: lint, risk: low, run: {shell: [\"true\"]}}\n",
    );
    workspace.run(["run", "other.yaml"]).assert_code(0);
    let other = short_id(&workspace);
    let diff = workspace.run(["diff", &first, &other, "--format", "json"]);
    diff.assert_code(0);
    assert_eq!(
        diff.stderr,
        format!(
            "warning: runs `{first}` and `{other}` are of different plans (`quickstart` and `other`): their tasks are matched by id\n"
        )
    );
    let json = diff.json();
    assert_eq!(json["same_plan"], false);
    assert_eq!(
        json["summary"],
        serde_json::json!({"added": 1, "removed": 6, "changed": 0, "unchanged": 1})
    );
    let text = workspace.run(["diff", &first, &other]);
    assert!(
        text.stdout.starts_with(&format!(
            "diff of run {first} (plan `quickstart`) and run {other} (plan `other`)\n"
        )),
        "{}",
        text.stdout
    );
    let rows = cells(&text.stdout);
    let lint = rows
        .iter()
        .find(|row| row.get(1).is_some_and(|c| c == "lint"))
        .expect("a lint row");
    assert_eq!(lint[0], "+");
    let publish = rows
        .iter()
        .find(|row| row.get(1).is_some_and(|c| c == "publish-site"))
        .expect("a row");
    assert_eq!(publish[0], "-");
}
