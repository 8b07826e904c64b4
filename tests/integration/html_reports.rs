//! The HTML reports against the JSON and Markdown ones, and in a real browser.
//!
//! - every fact (every leaf value) of the JSON document appears in the HTML
//!   and in the Markdown rendering, in the form people read it (durations as
//!   `1m30s`, times in RFC 3339), on the marathon dry run, on a finished run
//!   of the quickstart and on a run with a failure, a retry, a rollback and
//!   an approval;
//! - markup in a plan (a task name with `<script>`) is shown as text;
//! - the page needs nothing from the network;
//! - headless Chromium loads each page without a console message, its DOM
//!   has a graph node per task, the timeline's bars and the gauges, and it
//!   takes a screenshot. The browser test skips, loudly, only when Chromium
//!   cannot be found (`scripts/install-test-tools.sh` installs it).

use std::path::{Path, PathBuf};

use plangate_engine::report::rfc3339;
use plangate_plans::format_duration;
use serde_json::Value;

use crate::common::{Workspace, repo_root};

/// A run that pauses for an approval, then fails after a retry and rolls
/// its phase back; a task name carries markup.
const FAILING_PLAN: &str = r#"version: 1
name: failing-release
description: A release whose migration fails <b>after</b> an approval.
environment: staging
policy: {max_risk: medium, above_max: approve, require_rollback: none, on_failure: rollback-phase, concurrency: 1, budget: 1h}
defaults: {retries: 1, retry_backoff: 1s}
phases:
  - id: prepare
    name: Prepare
    budget: 1m
    tasks:
      - id: fetch
        name: "<script>alert('x')</script> & fetch"
        risk: low
        estimate: 1s
        run: {shell: [sh, -c, 'echo fetched; echo "note: cache warm" >&2']}
        verify: {shell: ['true']}
  - id: release
    name: Release
    budget: 2m
    tasks:
      - id: publish
        risk: high
        estimate: 2s
        needs: [fetch]
        run: {shell: [echo, published]}
        rollback: {shell: [echo, unpublished]}
      - id: migrate
        risk: medium
        estimate: 2s
        needs: [publish]
        run: {shell: [sh, -c, 'echo "error: migration 42 refused: lock held" >&2; exit 3']}
        rollback: {shell: [echo, nothing to undo]}
"#;

/// The HTML elements whose text runs on into the text around them.
const INLINE: [&str; 8] = ["code", "strong", "span", "b", "a", "time", "i", "em"];

/// Text as a reader sees it: tags dropped (style sheet included), entities
/// decoded, and the Markdown marks (backticks, bold, escaped pipes) and runs
/// of whitespace folded, so that facts compare as text.
fn visible_text(page: &str, html: bool) -> String {
    let mut text = String::with_capacity(page.len());
    if html {
        let page = match (page.find("<style>"), page.find("</style>")) {
            (Some(start), Some(end)) => format!("{}{}", &page[..start], &page[end + 8..]),
            _ => page.to_owned(),
        };
        // Inline elements join their text to what is around them; the
        // others separate it.
        let mut rest = page.as_str();
        while let Some(start) = rest.find('<') {
            text.push_str(&rest[..start]);
            let end = rest[start..]
                .find('>')
                .map_or(rest.len(), |e| start + e + 1);
            let name: String = rest[start + 1..end]
                .trim_start_matches('/')
                .chars()
                .take_while(char::is_ascii_alphanumeric)
                .collect();
            if !INLINE.contains(&name.as_str()) {
                text.push(' ');
            }
            rest = &rest[end..];
        }
        text.push_str(rest);
        text = text
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&amp;", "&");
    } else {
        text = page.replace("\\|", "|");
    }
    fold(&text)
}

fn fold(text: &str) -> String {
    text.replace(['`', '*'], "")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Every leaf of `value` with its path and the forms it may be shown in.
fn facts(value: &Value, path: &str, out: &mut Vec<(String, Vec<String>)>) {
    let key = path.rsplit(['.', '[']).next().unwrap_or("");
    match value {
        Value::Null => {}
        Value::Object(map) => {
            for (k, v) in map {
                // A map's keys are facts too (`summary.by_state`).
                if path.ends_with("by_state") {
                    out.push((format!("{path}.{k} (key)"), vec![k.clone()]));
                }
                facts(v, &format!("{path}.{k}"), out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                facts(v, &format!("{path}[{i}]"), out);
            }
        }
        Value::Bool(b) => out.push((
            path.to_owned(),
            vec![if *b { "yes" } else { "no" }.to_owned()],
        )),
        Value::Number(n) => {
            let n = n.as_i64().expect("the reports hold integers");
            let shown = if key.ends_with("_s") {
                format_duration(std::time::Duration::from_secs(n.unsigned_abs()))
            } else if key.ends_with("_ms") {
                format_duration(std::time::Duration::from_millis(n.unsigned_abs()))
            } else if key == "at" || key.ends_with("_at") {
                rfc3339(n)
            } else {
                n.to_string()
            };
            out.push((path.to_owned(), vec![shown]));
        }
        Value::String(s) => {
            // Multi-line text (diffs, output tails) line by line.
            for (i, line) in s.lines().filter(|l| !l.trim().is_empty()).enumerate() {
                out.push((format!("{path} line {}", i + 1), vec![fold(line)]));
            }
        }
    }
}

/// Asserts that every fact of `json` is in `page`.
#[track_caller]
fn assert_every_fact(json: &Value, page: &str, html: bool, what: &str) {
    let text = visible_text(page, html);
    let mut all = Vec::new();
    facts(json, "", &mut all);
    assert!(all.len() > 20, "{what}: only {} facts", all.len());
    let missing: Vec<String> = all
        .iter()
        .filter(|(_, forms)| !forms.iter().any(|form| text.contains(form.as_str())))
        .map(|(path, forms)| format!("{path}: {forms:?}"))
        .collect();
    assert!(
        missing.is_empty(),
        "{what} lacks {} of {} facts of the JSON:\n{}",
        missing.len(),
        all.len(),
        missing.join("\n")
    );
}

/// Nothing loaded from outside the page: every `src`, `href` and `url()` is
/// a fragment, and there are no scripts or linked resources.
#[track_caller]
fn assert_self_contained(page: &str) {
    for attribute in ["src=\"", "href=\"", "url("] {
        for (at, _) in page.match_indices(attribute) {
            let rest = &page[at + attribute.len()..];
            assert!(
                rest.starts_with('#'),
                "an external reference: {}",
                &page[at..(at + 80).min(page.len())]
            );
        }
    }
    assert!(!page.contains("<script"), "no scripts");
    assert!(!page.contains("<link"), "no linked resources");
}

struct Reports {
    json: Value,
    markdown: String,
    html: String,
}

fn marathon() -> Reports {
    let plan = repo_root().join("examples/marathon-42.yaml");
    let workspace = Workspace::new();
    let render = |format: &str| {
        let finished = workspace.run([
            "plan".as_ref(),
            plan.as_os_str(),
            "--format".as_ref(),
            format.as_ref(),
        ]);
        finished.assert_code(0);
        finished.stdout
    };
    Reports {
        json: serde_json::from_str(&render("json")).expect("JSON"),
        markdown: render("markdown"),
        html: render("html"),
    }
}

fn run_reports(workspace: &Workspace) -> Reports {
    let render = |format: &str| {
        let finished = workspace.run(["report", "--format", format]);
        finished.assert_code(0);
        finished.stdout
    };
    Reports {
        json: serde_json::from_str(&render("json")).expect("JSON"),
        markdown: render("markdown"),
        html: render("html"),
    }
}

/// Runs `plan.yaml` in `workspace` to its approval, approves `task` as
/// alice and resumes, expecting `code`.
fn run_with_approval(workspace: &Workspace, task: &str, code: i32) {
    workspace.run(["run", "plan.yaml"]).assert_code(3);
    let run = workspace.status()["run"]
        .as_str()
        .expect("a run id")
        .to_owned();
    workspace
        .run([
            "approve",
            run.as_str(),
            task,
            "--as",
            "alice",
            "--reason",
            "staging <looks> right",
        ])
        .assert_code(0);
    workspace.run(["resume"]).assert_code(code);
}

fn quickstart() -> (Workspace, Reports) {
    let workspace = Workspace::new();
    let plan = std::fs::read_to_string(repo_root().join("examples/quickstart.yaml"))
        .expect("the quickstart plan");
    workspace.write("plan.yaml", &plan);
    run_with_approval(&workspace, "publish-site", 0);
    let reports = run_reports(&workspace);
    (workspace, reports)
}

fn failing() -> (Workspace, Reports) {
    let workspace = Workspace::new();
    workspace.write("plan.yaml", FAILING_PLAN);
    run_with_approval(&workspace, "publish", 1);
    let reports = run_reports(&workspace);
    (workspace, reports)
}

#[test]
fn the_marathon_impact_report_has_every_json_fact_in_html_and_markdown() {
    let reports = marathon();
    assert_every_fact(&reports.json, &reports.html, true, "the HTML");
    assert_every_fact(&reports.json, &reports.markdown, false, "the Markdown");
    assert_self_contained(&reports.html);
    let tasks = reports.json["summary"]["tasks"].as_u64().expect("a count");
    assert_eq!(
        reports.html.matches("<g class=\"node ").count() as u64,
        tasks,
        "a graph node per task"
    );
    assert_eq!(
        reports.html.matches("<details class=\"evidence\"").count() as u64,
        tasks,
        "evidence per task"
    );
    // No Markdown code span leaks into the HTML as literal backticks.
    let text = reports.html.split("</style>").nth(1).expect("a body");
    assert_eq!(text.matches('`').count(), 0, "literal backticks");
}

#[test]
fn a_finished_quickstart_run_report_has_every_json_fact_in_html_and_markdown() {
    let (_workspace, reports) = quickstart();
    assert_eq!(reports.json["status"], "succeeded");
    assert_every_fact(&reports.json, &reports.html, true, "the HTML");
    assert_every_fact(&reports.json, &reports.markdown, false, "the Markdown");
    assert_self_contained(&reports.html);
    let text = reports.html.split("</style>").nth(1).expect("a body");
    assert_eq!(text.matches('`').count(), 0, "literal backticks");
}

#[test]
fn a_failed_rolled_back_run_report_has_every_json_fact_and_shows_markup_as_text() {
    let (_workspace, reports) = failing();
    let json = &reports.json;
    let tasks: Vec<&Value> = json["phases"]
        .as_array()
        .expect("phases")
        .iter()
        .flat_map(|p| p["tasks"].as_array().expect("tasks"))
        .collect();
    let task = |id: &str| {
        *tasks
            .iter()
            .find(|t| t["id"] == id)
            .unwrap_or_else(|| panic!("task {id} in {json}"))
    };
    // The run this test is about: a retry, a rollback, an approval.
    assert_eq!(task("migrate")["attempts"], 2, "{json}");
    assert_eq!(task("migrate")["history"][1]["outcome"], "failed", "{json}");
    assert_eq!(task("migrate")["state"], "rolled-back", "{json}");
    assert_eq!(task("publish")["state"], "rolled-back", "{json}");
    assert_eq!(json["status"], "rolled-back", "{json}");
    assert_eq!(json["approvals"][0]["approved_by"], "alice");
    assert_every_fact(json, &reports.html, true, "the HTML");
    assert_every_fact(json, &reports.markdown, false, "the Markdown");
    assert_self_contained(&reports.html);
    assert!(
        reports
            .html
            .contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; fetch"),
        "the name is escaped"
    );
    assert!(
        reports.html.contains("staging &lt;looks&gt; right"),
        "the reason is escaped"
    );
    assert!(!reports.html.contains("<script"), "no script element");
    let attempts = tasks
        .iter()
        .map(|t| t["history"].as_array().expect("history").len())
        .sum::<usize>();
    assert_eq!(
        reports.html.matches("<rect class=\"bar ").count(),
        attempts,
        "a timeline bar per attempt"
    );
    assert!(reports.html.contains("<rect class=\"bar role-rollback"));
    assert!(reports.html.contains("outcome-failed"));
    assert!(
        reports.html.contains("<rect class=\"wait\""),
        "the approval wait"
    );
}

#[test]
fn markup_in_a_plan_is_text_in_the_impact_report() {
    let workspace = Workspace::new();
    workspace.write("plan.yaml", FAILING_PLAN);
    let finished = workspace.run(["plan", "plan.yaml", "--format", "html"]);
    finished.assert_code(0);
    let html = &finished.stdout;
    assert!(!html.contains("<script"), "{html}");
    assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
    assert!(html.contains("fails &lt;b&gt;after&lt;/b&gt; an approval"));
}

/// Chromium: `$PLANGATE_TOOLS_DIR/chromium`, else `/usr/bin/chromium`.
fn chromium() -> Option<PathBuf> {
    std::env::var_os("PLANGATE_TOOLS_DIR")
        .map(|dir| PathBuf::from(dir).join("chromium"))
        .into_iter()
        .chain([PathBuf::from("/usr/bin/chromium")])
        .find(|path| path.is_file())
}

/// Runs headless Chromium on `page` with `args`; returns stdout and stderr.
fn headless(chromium: &Path, page: &Path, args: &[&str]) -> (String, String) {
    let profile = tempfile::tempdir().expect("a profile dir");
    let output = std::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .stdin(std::process::Stdio::null())
        .output()
        .expect("chromium starts");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "chromium failed:\n{stderr}");
    (String::from_utf8_lossy(&output.stdout).into_owned(), stderr)
}

/// Loads `html` in Chromium: no console message, the DOM has `expected`
/// (a needle and how many times), and a screenshot is taken.
#[track_caller]
fn check_in_browser(chromium: &Path, html: &str, expected: &[(&str, usize)]) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let page = dir.path().join("report.html");
    std::fs::write(&page, html).expect("the page is written");
    let (dom, stderr) = headless(chromium, &page, &["--dump-dom"]);
    let console: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught"))
        .collect();
    assert!(
        console.is_empty(),
        "console messages:\n{}",
        console.join("\n")
    );
    assert!(dom.contains("</main>"), "the whole page loaded:\n{dom}");
    for &(needle, count) in expected {
        assert_eq!(
            dom.matches(needle).count(),
            count,
            "{needle:?} in the rendered DOM"
        );
    }
    let shot = dir.path().join("report.png");
    headless(
        chromium,
        &page,
        &[
            "--window-size=1400,1800",
            &format!("--screenshot={}", shot.display()),
        ],
    );
    let png = std::fs::read(&shot).expect("a screenshot");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    assert!(png.len() > 20_000, "a screenshot with content");
}

#[test]
#[expect(
    clippy::print_stderr,
    reason = "a machine without Chromium says loudly that the browser test was skipped"
)]
fn chromium_renders_the_html_reports() {
    let Some(chromium) = chromium() else {
        eprintln!(
            "\n\n*** SKIPPED: the browser test of the HTML reports: no Chromium at $PLANGATE_TOOLS_DIR/chromium or /usr/bin/chromium (scripts/install-test-tools.sh installs it as root) ***\n\n"
        );
        return;
    };
    let reports = marathon();
    let tasks = reports.json["phases"]
        .as_array()
        .expect("phases")
        .iter()
        .map(|p| p["tasks"].as_array().expect("tasks").len())
        .sum();
    let phases = reports.json["phases"].as_array().expect("phases").len();
    check_in_browser(
        &chromium,
        &reports.html,
        &[
            ("<svg class=\"dag\"", 1),
            ("<g class=\"node ", tasks),
            ("<div class=\"gauge ", phases + 1),
            ("<details class=\"evidence\"", tasks),
        ],
    );
    let (_workspace, reports) = failing();
    let phases = reports.json["phases"].as_array().expect("phases").len();
    let attempts: usize = reports.json["phases"]
        .as_array()
        .expect("phases")
        .iter()
        .flat_map(|p| p["tasks"].as_array().expect("tasks"))
        .map(|t| t["history"].as_array().expect("history").len())
        .sum();
    check_in_browser(
        &chromium,
        &reports.html,
        &[
            ("<svg class=\"dag\"", 1),
            ("<g class=\"node ", 3),
            ("<svg class=\"gantt\"", 1),
            ("<rect class=\"bar ", attempts),
            ("<div class=\"gauge ", phases + 1),
            ("<script", 0),
        ],
    );
}

#[test]
fn a_promotion_dry_run_and_its_approvals_have_every_json_fact_in_html_and_markdown() {
    let workspace = Workspace::new();
    let examples = repo_root().join("examples");
    for name in ["promote-staging.yaml", "promote-prod.yaml"] {
        std::fs::copy(examples.join(name), workspace.path().join(name))
            .expect("the example exists");
    }
    workspace
        .run(["run", "promote-staging.yaml"])
        .assert_code(0);
    let render = |args: &[&str], format: &str| {
        let finished = workspace.run([args, &["--format", format]].concat());
        finished.assert_code(0);
        finished.stdout
    };
    // The dry run, with its evidence.
    let plan = ["plan", "promote-prod.yaml"];
    let reports = Reports {
        json: serde_json::from_str(&render(&plan, "json")).expect("JSON"),
        markdown: render(&plan, "markdown"),
        html: render(&plan, "html"),
    };
    assert!(
        reports.json["phases"][0]["tasks"][0]["promotion"]["evidence"].is_object(),
        "{}",
        reports.json
    );
    assert_every_fact(&reports.json, &reports.html, true, "the HTML");
    assert_every_fact(&reports.json, &reports.markdown, false, "the Markdown");

    // A run with a revoked approval and a counted one.
    workspace.run(["run", "promote-prod.yaml"]).assert_code(3);
    let run = workspace.status()["run"].as_str().expect("run").to_owned();
    for (verb, who) in [("approve", "alice"), ("revoke", "eve"), ("approve", "bob")] {
        workspace
            .run([
                verb,
                run.as_str(),
                "release",
                "--as",
                who,
                "--reason",
                "CHG-1",
            ])
            .assert_code(0);
    }
    let reports = run_reports(&workspace);
    assert_eq!(reports.json["approvals"].as_array().map(Vec::len), Some(2));
    assert_every_fact(&reports.json, &reports.html, true, "the HTML");
    assert_every_fact(&reports.json, &reports.markdown, false, "the Markdown");
}
