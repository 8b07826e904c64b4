//! What `status`, `report` and `plan --preview` show: the tool's own error
//! line in every format, approvals in RFC 3339, and full renderings of one
//! run (snapshots, with run ids, times and durations redacted).

use std::sync::LazyLock;

use regex::Regex;

use crate::{common::Workspace, kube::tool};

/// A kubeconfig that names no context: kubectl refuses `--context dev`
/// before it contacts anything.
const NO_CONTEXTS: &str = "apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n";

const CONFIG_MAP: &str =
    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web-config}\ndata: {GREETING: hello}\n";

const KUBECTL_PLAN: &str = "version: 1
name: app
environment: dev
policy: {on_failure: stop}
vars: {namespace: demo, kube_context: dev}
phases:
  - id: deploy
    tasks:
      - id: deploy
        risk: low
        run: {kubectl: {op: apply, files: [app.yaml]}}
        rollback: auto
";

/// What kubectl prints for a context the kubeconfig does not have.
const KUBECTL_ERROR: &str = "error: context \"dev\" does not exist";

/// A workspace whose plan applies a manifest with the real kubectl, through
/// a kubeconfig without the plan's context.
fn kubectl_workspace() -> Workspace {
    let workspace = Workspace::new();
    workspace.write("kubeconfig", NO_CONTEXTS);
    workspace.write("app.yaml", CONFIG_MAP);
    workspace.write("plan.yaml", KUBECTL_PLAN);
    workspace
}

fn kubectl_run(workspace: &Workspace, args: &[&str]) -> crate::common::Finished {
    let output = workspace
        .command(args)
        .env("KUBECONFIG", workspace.path().join("kubeconfig"))
        .env("HOME", workspace.path().join("home"))
        .env("PLANGATE_KUBECTL", tool("kubectl"))
        .output()
        .expect("plangate runs");
    crate::common::Finished {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8(output.stdout).expect("UTF-8"),
        stderr: String::from_utf8(output.stderr).expect("UTF-8"),
        dir: tempfile::tempdir().expect("a temp dir"),
    }
}

/// The one line of `text` that contains `needle`.
#[track_caller]
fn line_with<'a>(text: &'a str, needle: &str) -> &'a str {
    let lines: Vec<&str> = text.lines().filter(|l| l.contains(needle)).collect();
    assert_eq!(lines.len(), 1, "one line with {needle:?} in\n{text}");
    lines[0]
}

#[test]
fn a_kubectl_failure_shows_the_tools_error_line_in_the_console_status_and_reports() {
    let workspace = kubectl_workspace();
    let finished = kubectl_run(&workspace, &["run", "plan.yaml"]);
    finished.assert_code(1);

    // The console line names what failed and what kubectl said.
    let console = line_with(&finished.stderr, "FAILED");
    assert!(console.starts_with("  FAILED  `deploy` in "), "{console}");
    assert!(
        console.ends_with(&format!(
            "exited with code 1: {KUBECTL_ERROR} (after 1 attempt)"
        )),
        "{console}"
    );

    let status = kubectl_run(&workspace, &["status"]);
    status.assert_code(0);
    assert!(
        line_with(&status.stdout, "deploy  failed").ends_with(&format!(
            "exited with code 1: {KUBECTL_ERROR} (after 1 attempt)"
        )),
        "{}",
        status.stdout
    );
    let status = workspace.status();
    let reason = status["tasks"][0]["reason"].as_str().expect("a reason");
    assert!(reason.contains(KUBECTL_ERROR), "{reason}");

    let json = kubectl_run(&workspace, &["report", "--format", "json"]);
    json.assert_code(0);
    let report = json.json();
    let attempt = &report["phases"][0]["tasks"][0]["history"][0];
    assert_eq!(attempt["error_line"], KUBECTL_ERROR, "{attempt}");
    assert!(
        attempt["stderr_tail"]
            .as_str()
            .expect("stderr")
            .ends_with(KUBECTL_ERROR),
        "{attempt}"
    );
    assert!(
        report["not_done"][0]["reason"]
            .as_str()
            .expect("a reason")
            .contains(KUBECTL_ERROR)
    );

    let markdown = kubectl_run(&workspace, &["report"]);
    markdown.assert_code(0);
    assert!(
        line_with(&markdown.stdout, "- run #1: `kubectl: apply app.yaml`")
            .ends_with(&format!(": {KUBECTL_ERROR}")),
        "{}",
        markdown.stdout
    );
    assert!(
        line_with(&markdown.stdout, "- `deploy`: failed: ").contains(KUBECTL_ERROR),
        "{}",
        markdown.stdout
    );

    let html = kubectl_run(&workspace, &["report", "--format", "html"]);
    html.assert_code(0);
    assert!(
        html.stdout
            .contains("<span class=\"error\">error: context &quot;dev&quot; does not exist</span>"),
        "{}",
        html.stdout
    );
}

#[test]
fn a_failed_preview_is_a_warning_with_the_tools_error_line() {
    let workspace = kubectl_workspace();
    let json = kubectl_run(
        &workspace,
        &["plan", "plan.yaml", "--preview", "--format", "json"],
    );
    json.assert_code(0);
    let report = json.json();
    let warnings: Vec<&str> = report["warnings"]
        .as_array()
        .expect("warnings")
        .iter()
        .filter_map(|w| w.as_str())
        .filter(|w| w.starts_with("preview of `deploy` failed: "))
        .collect();
    assert_eq!(warnings.len(), 1, "{report}");
    assert!(
        warnings[0].ends_with(&format!("exited with code 1: {KUBECTL_ERROR}")),
        "{}",
        warnings[0]
    );
    let preview = &report["phases"][0]["tasks"][0]["preview"];
    assert!(
        preview["error"]
            .as_str()
            .expect("a preview error")
            .ends_with(KUBECTL_ERROR),
        "{preview}"
    );

    let markdown = kubectl_run(&workspace, &["plan", "plan.yaml", "--preview"]);
    markdown.assert_code(0);
    let warnings = markdown
        .stdout
        .split("## Warnings\n")
        .nth(1)
        .expect("a warnings section");
    assert!(!warnings.contains("None."), "{warnings}");
    assert!(
        line_with(warnings, "- preview of `deploy` failed: ").ends_with(KUBECTL_ERROR),
        "{warnings}"
    );

    let html = kubectl_run(
        &workspace,
        &["plan", "plan.yaml", "--preview", "--format", "html"],
    );
    html.assert_code(0);
    assert!(
        html.stdout
            .contains("error: context &quot;dev&quot; does not exist</li>"),
        "{}",
        html.stdout
    );
}

#[test]
fn the_reason_quotes_the_first_error_line_not_the_last_line() {
    let workspace = Workspace::new();
    workspace.write(
        "plan.yaml",
        "version: 1\nname: words\npolicy: {require_rollback: none, on_failure: stop}\nphases:\n  - id: one\n    tasks:\n      - id: broken\n        risk: low\n        run: {shell: [sh, -c, 'echo \"warning: slow disk\" >&2; echo \"Error: the cause\" >&2; echo \"see https://example.invalid/help\" >&2; exit 2']}\n",
    );
    let finished = workspace.run(["run", "plan.yaml"]);
    finished.assert_code(1);
    assert!(
        line_with(&finished.stderr, "FAILED")
            .ends_with(": `run` failed: exit code 2: Error: the cause (after 1 attempt)"),
        "{}",
        finished.stderr
    );
    let report = workspace.run(["report", "--format", "json"]).json();
    let attempt = &report["phases"][0]["tasks"][0]["history"][0];
    assert_eq!(attempt["error_line"], "Error: the cause");
    assert_eq!(
        attempt["stderr_tail"],
        "warning: slow disk\nError: the cause\nsee https://example.invalid/help"
    );
}

/// A plan whose run shows each part of a report: a task with output, a
/// failing task with several stderr lines, and a phase that waits for an
/// approval.
const REPORT_PLAN: &str = "version: 1
name: report
environment: dev
policy: {max_risk: medium, above_max: approve, require_rollback: none, on_failure: continue, concurrency: 1, budget: 1h}
phases:
  - id: build
    name: Build
    budget: 1m
    tasks:
      - {id: hello, risk: low, estimate: 1s, run: {shell: [echo, hello]}, verify: {shell: ['true']}}
      - id: broken
        risk: low
        estimate: 1s
        run: {shell: [sh, -c, 'echo \"warning: slow disk\" >&2; echo \"error: the cause\" >&2; echo \"see https://example.invalid/help\" >&2; exit 2']}
  - id: publish
    name: Publish
    tasks:
      - {id: publish, risk: high, estimate: 2s, run: {shell: ['true']}}
";

/// A workspace with `REPORT_PLAN` run, paused, approved by `alice` and resumed.
fn reported_run() -> Workspace {
    let workspace = Workspace::new();
    workspace.write("plan.yaml", REPORT_PLAN);
    workspace.run(["run", "plan.yaml"]).assert_code(3);
    let run = workspace.status()["run"]
        .as_str()
        .expect("a run id")
        .to_owned();
    workspace
        .run([
            "approve",
            run.as_str(),
            "publish",
            "--as",
            "alice",
            "--reason",
            "looks right",
        ])
        .assert_code(0);
    workspace.run(["resume"]).assert_code(1);
    workspace
}

/// Replaces what changes from run to run: run ids, times, durations.
fn redact(text: &str) -> String {
    static PATTERNS: LazyLock<Vec<(Regex, &str)>> = LazyLock::new(|| {
        [
            (r"\b[0-9A-HJKMNP-TV-Z]{26}\b", "[RUN]"),
            (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "[TIME]"),
            (r" in \d+(\.\d+)?(ms|s)\b", " in [DURATION]"),
            (r"(used|wall) \d+[hms]( \d+[ms])*", "$1 [DURATION]"),
            (r"Plan file (`|<code>)[^`<]*", "Plan file $1[PLAN]"),
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

#[test]
fn approvals_show_rfc_3339_times_and_the_approver_as_recorded() {
    let workspace = reported_run();
    let time = Regex::new(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$").expect("valid");
    let status = workspace.run(["status"]);
    status.assert_code(0);
    let line = line_with(&status.stdout, "approved by");
    let at = line
        .strip_prefix("  task `publish` approved by alice at ")
        .and_then(|rest| rest.split_once(": looks right; used at "))
        .map_or_else(|| panic!("{line}"), |(at, _)| at);
    assert!(time.is_match(at), "{line}");

    let markdown = workspace.run(["report"]).stdout;
    assert!(
        markdown.contains(&format!(
            "- task `publish` approved by alice at {at}: looks right"
        )),
        "{markdown}"
    );
    let html = workspace.run(["report", "--format", "html"]).stdout;
    assert!(
        html.contains(&format!(
            "<td>alice</td><td><time datetime=\"{at}\">{at}</time></td><td>looks right</td>"
        )),
        "{html}"
    );
    // JSON keeps the machine form: Unix milliseconds.
    let json = workspace.run(["status", "--format", "json"]).json();
    assert!(json["approvals"][0]["at"].is_i64(), "{json}");
    assert_eq!(json["approvals"][0]["approved_by"], "alice");
}

#[test]
fn run_report_renderings() {
    let workspace = reported_run();
    insta::assert_snapshot!(
        "run_status_text",
        crate::runs::redact_times(&workspace.run(["status"]).stdout)
    );
    insta::assert_snapshot!(
        "run_report_markdown",
        redact(&workspace.run(["report"]).stdout)
    );
    insta::assert_snapshot!(
        "run_report_html",
        redact_html(&redact(
            &workspace.run(["report", "--format", "html"]).stdout
        ))
    );
}

/// The parts of the HTML page drawn from times: the timeline and the gauges
/// (their widths are the time used); the style sheet is left out as well.
/// `html_reports` checks those against the JSON.
fn redact_html(text: &str) -> String {
    static PATTERNS: LazyLock<Vec<(Regex, &str)>> = LazyLock::new(|| {
        [
            (r"(?s)<style>.*?</style>", "<style>[STYLE]</style>"),
            (r#"(?s)<svg class="gantt".*?</svg>"#, "[TIMELINE]"),
            (r#"<div class="gauge [^"]*">.*?</svg></div>"#, "[GAUGE]"),
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

#[test]
fn deferred_tasks_come_first_in_status_and_reports() {
    let workspace = Workspace::new();
    workspace.write(
        "plan.yaml",
        "version: 1\nname: cap\npolicy: {require_rollback: none, concurrency: 1, max_tasks: 2}\nphases:\n  - id: one\n    tasks:\n      - {id: a, risk: low, run: {shell: [\"true\"]}}\n      - {id: b, risk: low, run: {shell: [\"true\"]}}\n  - id: two\n    tasks:\n      - {id: c, risk: low, run: {shell: [\"true\"]}}\n      - {id: d, risk: low, run: {shell: [\"true\"]}}\n",
    );
    workspace.run(["run", "plan.yaml"]).assert_code(4);

    let status = workspace.run(["status"]);
    status.assert_code(0);
    let (header, body) = status.stdout.split_once('\n').expect("a header line");
    assert!(
        header.ends_with(": incomplete (`max_tasks` 2 reached: 2 tasks deferred)"),
        "{header}"
    );
    // After the line of times, the deferred tasks come before the tree.
    let (_, body) = body.split_once('\n').expect("a line of times");
    assert!(
        body.starts_with(
            "2 tasks deferred (raise the used-up limit in the plan, then resume):
  c  `max_tasks` 2 reached
  d  `max_tasks` 2 reached
plan `cap` (plan.yaml): used "
        ),
        "{body}"
    );
    assert!(
        body.contains("\n    \u{2514}\u{2500}\u{2500} d  deferred   0 attempts  -"),
        "{body}"
    );
    let json = workspace.status();
    assert_eq!(json["deferred"][0]["id"], "c");
    assert_eq!(json["deferred"][1]["id"], "d");

    let markdown = workspace.run(["report"]).stdout;
    let deferred = "## Deferred\n\n2 tasks deferred (raise the used-up limit in the plan, then resume):\n\n- `c`: `max_tasks` 2 reached\n- `d`: `max_tasks` 2 reached\n\n";
    let at = markdown
        .find(deferred)
        .unwrap_or_else(|| panic!("{markdown}"));
    assert!(
        at < markdown.find("Complete, with evidence").expect("a summary"),
        "{markdown}"
    );
    let report = workspace.run(["report", "--format", "json"]).json();
    assert_eq!(report["deferred"][0]["id"], "c");
    assert_eq!(report["deferred"][1]["reason"], "`max_tasks` 2 reached");
    let html = workspace.run(["report", "--format", "html"]).stdout;
    let at = html
        .find("<h2>Deferred</h2>\n<p>2 tasks deferred (raise the used-up limit in the plan, then resume):</p>\n<ul>\n<li><code>c</code>: <code>max_tasks</code> 2 reached</li>")
        .unwrap_or_else(|| panic!("{html}"));
    assert!(at < html.find("Complete, with evidence").expect("a summary"));
}

/// `format_duration` of whole seconds, as the renderings print them.
fn seconds(value: &serde_json::Value) -> String {
    plangate_plans::format_duration(std::time::Duration::from_secs(
        value
            .as_u64()
            .unwrap_or_else(|| panic!("seconds, not {value}")),
    ))
}

#[test]
fn budget_used_and_wall_time_are_the_same_facts_in_every_format() {
    let workspace = reported_run();
    let report = workspace.run(["report", "--format", "json"]).json();
    let budget = |value: &serde_json::Value| {
        if value.is_null() {
            "none".to_owned()
        } else {
            seconds(value)
        }
    };
    let run_line = format!(
        "budget {}, used {}, wall {}",
        budget(&report["budget_s"]),
        seconds(&report["used_s"]),
        seconds(&report["wall_s"])
    );
    let phase_lines: Vec<String> = report["phases"]
        .as_array()
        .expect("phases")
        .iter()
        .map(|phase| {
            format!(
                "budget {}, forecast {}, used {}, wall {}",
                budget(&phase["budget_s"]),
                seconds(&phase["forecast_s"]),
                seconds(&phase["used_s"]),
                seconds(&phase["wall_s"])
            )
        })
        .collect();
    assert!(phase_lines[0].starts_with("budget 1m, forecast 2s, used "));
    assert!(phase_lines[1].starts_with("budget none, forecast 2s, used "));
    // The wait for the approval is wall time, not used time.
    assert!(report["used_s"].as_u64() <= report["wall_s"].as_u64());

    let markdown = workspace.run(["report"]).stdout;
    assert!(
        markdown.contains(&format!("\nTime: {run_line}. Used is ")),
        "{markdown}"
    );
    let html = workspace.run(["report", "--format", "html"]).stdout;
    assert!(
        html.contains(&format!("<p>Time: {run_line}. Used is ")),
        "{html}"
    );
    for line in &phase_lines {
        assert!(
            markdown.contains(&format!("\nTime: {line}.\n")),
            "{markdown}"
        );
        assert!(html.contains(&format!("<p>Time: {line}.</p>")), "{html}");
    }
}
