//! The run report as a self-contained HTML page.

use std::fmt::Write as _;

use super::schema::RunReport;
use crate::report::escape_html;

/// The run report as HTML.
pub fn render_run_html(report: &RunReport) -> String {
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Run {}</title><style>body{{font-family:system-ui,sans-serif;margin:2rem}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.3rem .6rem;vertical-align:top}}pre{{background:#f5f5f5;padding:.5rem}}.no{{color:#b71c1c}}.yes{{color:#1b5e20}}</style></head><body>\n",
        escape_html(&report.run)
    );
    let _ = writeln!(
        out,
        "<h1>Run {} of <code>{}</code></h1><p>Status <strong>{}</strong>{}. Complete with evidence: {} of {}.</p>",
        escape_html(&report.run),
        escape_html(&report.plan),
        report.status,
        report
            .reason
            .as_deref()
            .map(|r| format!(" ({})", escape_html(r)))
            .unwrap_or_default(),
        report.summary.completed,
        report.summary.tasks
    );
    for phase in &report.phases {
        let _ = writeln!(
            out,
            "<h2>{}</h2><table><tr><th>task</th><th>state</th><th>complete</th><th>evidence</th><th>attempts</th></tr>",
            escape_html(phase.name.as_deref().unwrap_or(&phase.id))
        );
        for task in &phase.tasks {
            let class = if task.complete { "yes" } else { "no" };
            let _ = writeln!(
                out,
                "<tr><td><code>{}</code></td><td>{}</td><td class=\"{class}\">{class}</td><td>{}</td><td>{}</td></tr>",
                escape_html(&task.id),
                task.state,
                escape_html(&task.evidence),
                task.attempts
            );
        }
        let _ = writeln!(out, "</table>");
    }
    let _ = writeln!(out, "<h2>Not done</h2><ul>");
    for task in &report.not_done {
        let _ = writeln!(
            out,
            "<li><code>{}</code>: {} {}</li>",
            escape_html(&task.id),
            task.state,
            escape_html(task.reason.as_deref().unwrap_or(""))
        );
    }
    let _ = writeln!(out, "</ul></body></html>");
    out
}
