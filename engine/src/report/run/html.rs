//! The run report as a self-contained HTML page (no scripts, no external
//! assets), with the same facts as the Markdown rendering.

use std::fmt::Write as _;

use super::{
    format::{TIME_LEGEND, attempt_status, deferred_heading, millis, phase_time, run_time},
    schema::{RunReport, TaskOutcome},
};
use crate::report::{escape_html, rfc3339};

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2rem;color:#222}table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:left;vertical-align:top}th{background:#f3f3f3}pre{background:#f5f5f5;padding:.5rem;white-space:pre-wrap}code{background:#f5f5f5;padding:0 .2rem}.no{color:#b71c1c}.yes{color:#1b5e20}.error{color:#b71c1c}";

/// The run report as HTML.
pub fn render_run_html(report: &RunReport) -> String {
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Run {}</title><style>{STYLE}</style></head><body>\n",
        escape_html(&report.run)
    );
    let _ = writeln!(
        out,
        "<h1>Run {} of <code>{}</code></h1>\n<p>Status <strong>{}</strong>{}. Environment <code>{}</code>.</p>",
        escape_html(&report.run),
        escape_html(&report.plan),
        report.status,
        report
            .reason
            .as_deref()
            .map(|r| format!(" ({})", prose(r)))
            .unwrap_or_default(),
        escape_html(&report.environment),
    );
    if !report.deferred.is_empty() {
        let _ = writeln!(
            out,
            "<h2>Deferred</h2>\n<p>{}:</p>\n<ul>",
            prose(&deferred_heading(&report.deferred))
        );
        for task in &report.deferred {
            let _ = writeln!(
                out,
                "<li><code>{}</code>{}</li>",
                escape_html(&task.id),
                task.reason
                    .as_deref()
                    .map(|r| format!(": {}", prose(r)))
                    .unwrap_or_default()
            );
        }
        let _ = writeln!(out, "</ul>");
    }
    let _ = writeln!(
        out,
        "<p>Time: {}. {}</p>",
        run_time(report),
        prose(TIME_LEGEND)
    );
    let _ = writeln!(
        out,
        "<p>Complete, with evidence: <strong>{} of {}</strong> tasks.</p>",
        report.summary.completed, report.summary.tasks
    );
    let _ = writeln!(out, "<table><tr><th>state</th><th>tasks</th></tr>");
    for (state, count) in &report.summary.by_state {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{count}</td></tr>",
            escape_html(state)
        );
    }
    let _ = writeln!(out, "</table>");
    for phase in &report.phases {
        let _ = writeln!(
            out,
            "<h2>{} <code>{}</code></h2>\n<p>Time: {}.</p>",
            escape_html(phase.name.as_deref().unwrap_or(&phase.id)),
            escape_html(&phase.id),
            phase_time(phase)
        );
        let _ = writeln!(
            out,
            "<table><tr><th>task</th><th>risk</th><th>state</th><th>complete</th><th>evidence</th><th>attempts</th></tr>"
        );
        for task in &phase.tasks {
            let class = if task.complete { "yes" } else { "no" };
            let _ = writeln!(
                out,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td class=\"{class}\">{class}</td><td>{}</td><td>{}</td></tr>",
                escape_html(&task.id),
                escape_html(&task.risk),
                task.state,
                prose(&task.evidence),
                task.attempts
            );
        }
        let _ = writeln!(out, "</table>");
        for task in phase.tasks.iter().filter(|t| !t.history.is_empty()) {
            render_history(&mut out, task);
        }
    }
    if !report.waited_for.is_empty() {
        let _ = writeln!(out, "<h2>Actions that outlived the engine</h2>\n<ul>");
        for line in &report.waited_for {
            let _ = writeln!(out, "<li>{}</li>", prose(line));
        }
        let _ = writeln!(out, "</ul>");
    }
    let _ = writeln!(out, "<h2>Approvals</h2>");
    if report.approvals.is_empty() {
        let _ = writeln!(out, "<p>None.</p>");
    } else {
        let _ = writeln!(out, "<ul>");
        for approval in &report.approvals {
            let at = rfc3339(approval.at);
            let _ = writeln!(
                out,
                "<li>{} <code>{}</code> approved by {} at <time datetime=\"{at}\">{at}</time>: {}</li>",
                escape_html(&approval.kind),
                escape_html(&approval.target),
                escape_html(&approval.approved_by),
                escape_html(approval.reason.as_deref().unwrap_or("no reason given"))
            );
        }
        let _ = writeln!(out, "</ul>");
    }
    let _ = writeln!(out, "<h2>Not done</h2>");
    if report.not_done.is_empty() {
        let _ = writeln!(out, "<p>Nothing: every task completed with evidence.</p>");
    } else {
        let _ = writeln!(out, "<ul>");
        for task in &report.not_done {
            let _ = writeln!(
                out,
                "<li><code>{}</code>: {}{}</li>",
                escape_html(&task.id),
                task.state,
                task.reason
                    .as_deref()
                    .map(|r| format!(": {}", prose(r)))
                    .unwrap_or_default()
            );
        }
        let _ = writeln!(out, "</ul>");
    }
    let _ = writeln!(out, "</body></html>");
    out
}

/// A task's attempts, with the tool's error line and its output.
fn render_history(out: &mut String, task: &TaskOutcome) {
    let _ = writeln!(out, "<h3><code>{}</code></h3>\n<ul>", escape_html(&task.id));
    for attempt in &task.history {
        let _ = write!(
            out,
            "<li>{} #{}: <code>{}</code>: {} in {}",
            attempt.role,
            attempt.number,
            escape_html(&attempt.command),
            attempt_status(attempt),
            millis(attempt.duration_ms)
        );
        if let Some(line) = &attempt.error_line {
            let _ = write!(out, ": <span class=\"error\">{}</span>", escape_html(line));
        }
        for (label, text) in [
            ("stdout", &attempt.stdout_tail),
            ("stderr", &attempt.stderr_tail),
        ] {
            if let Some(text) = text {
                let _ = write!(out, "\n<pre>{label}:\n{}</pre>", escape_html(text));
            }
        }
        let _ = writeln!(out, "</li>");
    }
    let _ = writeln!(out, "</ul>");
}

/// plangate's own sentences in HTML: escaped, with each `code` span (the
/// Markdown convention of every message) in a `<code>` element. An unpaired
/// backtick stays as it is.
fn prose(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('`') {
        let Some(length) = rest[start + 1..].find('`') else {
            break;
        };
        out.push_str(&escape_html(&rest[..start]));
        out.push_str("<code>");
        out.push_str(&escape_html(&rest[start + 1..start + 1 + length]));
        out.push_str("</code>");
        rest = &rest[start + length + 2..];
    }
    out.push_str(&escape_html(rest));
    out
}

#[cfg(test)]
mod tests {
    use super::prose;

    #[test]
    fn code_spans_become_code_elements() {
        assert_eq!(
            prose("task `a<b>` needs `c` & more"),
            "task <code>a&lt;b&gt;</code> needs <code>c</code> &amp; more"
        );
        assert_eq!(prose("one ` alone"), "one ` alone");
        assert_eq!(prose("``"), "<code></code>");
    }
}
