//! The impact report as a self-contained HTML page (no scripts, no external assets).

use std::fmt::Write as _;

use plangate_plans::format_duration;

use super::schema::{ImpactReport, PreviewReport};

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn duration(seconds: u64) -> String {
    format_duration(std::time::Duration::from_secs(seconds))
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2rem;color:#222}table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:left;vertical-align:top}th{background:#f3f3f3}.risk-low{background:#e8f5e9}.risk-medium{background:#fff8e1}.risk-high{background:#ffebee}.decision-run{font-weight:bold;color:#1b5e20}.decision-excluded,.decision-blocked{color:#b71c1c}.decision-deferred,.decision-needs-approval{color:#e65100}code{background:#f5f5f5;padding:0 .2rem}.warning{color:#e65100}";

/// Renders the report as HTML.
pub fn render_impact_html(report: &ImpactReport) -> String {
    let mut out = String::new();
    let title = format!("Impact report: {}", report.plan);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style></head><body>\n",
        escape(&title)
    );
    let _ = writeln!(out, "<h1>{}</h1>", escape(&title));
    let _ = writeln!(
        out,
        "<p>Dry run: nothing was executed. Environment <code>{}</code>.</p>",
        escape(&report.environment)
    );
    let s = &report.summary;
    let d = &s.decisions;
    let _ = writeln!(
        out,
        "<h2>Summary</h2><table><tr><th>tasks</th><th>low</th><th>medium</th><th>high</th></tr><tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr></table>",
        s.tasks, s.by_risk.low, s.by_risk.medium, s.by_risk.high
    );
    let _ = writeln!(
        out,
        "<table><tr><th>run</th><th>excluded</th><th>needs-approval</th><th>blocked</th><th>deferred</th></tr><tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr></table>",
        d.run, d.excluded, d.needs_approval, d.blocked, d.deferred
    );
    let _ = writeln!(
        out,
        "<p>Forecast {} (critical path {}), plan budget {}.</p>",
        duration(report.forecast_s),
        duration(report.critical_path_s),
        report.budget_s.map_or_else(|| "none".to_owned(), duration)
    );
    for phase in &report.phases {
        let _ = writeln!(
            out,
            "<h2>{} <code>{}</code></h2><p>budget {}, forecast {}, critical path {}</p>",
            escape(phase.name.as_deref().unwrap_or(&phase.id)),
            escape(&phase.id),
            phase.budget_s.map_or_else(|| "none".to_owned(), duration),
            duration(phase.forecast_s),
            duration(phase.critical_path_s)
        );
        let _ = writeln!(
            out,
            "<table><tr><th>task</th><th>risk</th><th>decision</th><th>reason</th><th>action</th><th>rollback</th></tr>"
        );
        for task in &phase.tasks {
            let _ = writeln!(
                out,
                "<tr class=\"risk-{}\"><td><code>{}</code> {}</td><td>{}</td><td class=\"decision-{}\">{}</td><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
                escape(&task.risk),
                escape(&task.id),
                escape(task.name.as_deref().unwrap_or("")),
                escape(&task.risk),
                escape(&task.decision),
                escape(&task.decision),
                escape(task.reason.as_deref().unwrap_or("")),
                escape(&task.action),
                escape(task.rollback.as_deref().unwrap_or("none")),
            );
        }
        let _ = writeln!(out, "</table>");
        for task in &phase.tasks {
            if let Some(preview) = &task.preview {
                render_preview(&mut out, &task.id, preview);
            }
        }
    }
    let _ = writeln!(out, "<h2>Warnings</h2><ul>");
    for warning in &report.warnings {
        let _ = writeln!(out, "<li class=\"warning\">{}</li>", escape(warning));
    }
    let _ = writeln!(out, "</ul></body></html>");
    out
}

/// What an executor said `task`'s action would change (`plan --preview`).
fn render_preview(out: &mut String, task: &str, preview: &PreviewReport) {
    let _ = writeln!(
        out,
        "<section class=\"preview\"><h3>Preview of <code>{}</code></h3><p>{}</p><ul>",
        escape(task),
        escape(&preview.summary)
    );
    if let Some(error) = &preview.error {
        let _ = writeln!(
            out,
            "<li class=\"warning\">preview failed: {}</li>",
            escape(error)
        );
    }
    if let Some(blocked) = &preview.blocked {
        let _ = writeln!(
            out,
            "<li class=\"decision-blocked\"><strong>would be refused</strong>: {}</li>",
            escape(blocked)
        );
    }
    for detail in &preview.details {
        let _ = writeln!(
            out,
            "<li>{}: <code>{}</code></li>",
            escape(&detail.label),
            escape(&detail.value)
        );
    }
    for change in &preview.changes {
        let _ = write!(
            out,
            "<li>{} <code>{}</code>",
            escape(&change.change),
            escape(&change.object)
        );
        if let Some(diff) = change.diff.as_deref().filter(|d| !d.trim().is_empty()) {
            let _ = write!(out, "<pre>{}</pre>", escape(diff.trim_end()));
        }
        let _ = writeln!(out, "</li>");
    }
    let _ = writeln!(out, "</ul></section>");
}
