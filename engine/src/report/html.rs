//! The impact report as one self-contained HTML page: the policy, counts,
//! budget gauges (forecast against budget), the task graph drawn as SVG,
//! the phases and, per task, its evidence in a collapsible block. The facts
//! are those of the JSON document and the Markdown rendering, nothing more.

use std::fmt::Write as _;

use super::{
    dag::{self, Graph, Node},
    page::{self, Gauge, duration, escape, optional_duration, pill, prose, risk},
    schema::{ImpactReport, PhaseReport, PreviewReport, TaskReport},
};

/// Renders the report as HTML.
pub fn render_impact_html(report: &ImpactReport) -> String {
    let mut out = String::new();
    let mut lines = vec![format!(
        "Dry run: nothing was executed. Environment <code>{}</code> · plan hash <code>{}</code>",
        escape(&report.environment),
        escape(&report.plan_hash)
    )];
    if let Some(description) = &report.description {
        lines.push(prose(description.trim()));
    }
    page::open(&mut out, &format!("Impact report: {}", report.plan), &lines);
    render_policy(&mut out, report);
    render_summary(&mut out, report);
    render_budgets(&mut out, report);
    render_phase_table(&mut out, report);
    render_graph(&mut out, report);
    for (number, phase) in report.phases.iter().enumerate() {
        render_phase(&mut out, number + 1, phase);
    }
    let _ = writeln!(out, "<section id=\"warnings\"><h2>Warnings</h2>");
    if report.warnings.is_empty() {
        let _ = writeln!(out, "<p>None.</p>");
    } else {
        let _ = writeln!(out, "<ul>");
        for warning in &report.warnings {
            let _ = writeln!(out, "<li class=\"warning\">{}</li>", prose(warning));
        }
        let _ = writeln!(out, "</ul>");
    }
    let _ = writeln!(out, "</section>");
    page::close(&mut out, &format!("Impact report of `{}`", report.plan));
    out
}

fn render_policy(out: &mut String, report: &ImpactReport) {
    let p = &report.policy;
    let _ = writeln!(
        out,
        "<section id=\"policy\"><h2>Policy</h2><dl class=\"facts\"><dt>max risk</dt><dd>{} (above it: <code>{}</code>)</dd><dt>rollback required from</dt><dd><code>{}</code></dd><dt>on failure</dt><dd><code>{}</code></dd><dt>budget</dt><dd>{}</dd><dt>max tasks</dt><dd>{}</dd><dt>concurrency</dt><dd>{}</dd></dl></section>",
        risk(&p.max_risk),
        escape(&p.above_max),
        escape(&p.require_rollback),
        escape(&p.on_failure),
        optional_duration(p.budget_s),
        p.max_tasks
            .map_or_else(|| "none".to_owned(), |m| m.to_string()),
        p.concurrency
    );
    if let Some(promotion) = super::impact::promotion_policy_sentence(p) {
        let _ = writeln!(
            out,
            "<p class=\"promotion\">Promotion: {}.</p>",
            escape(&promotion)
        );
    }
}

fn render_summary(out: &mut String, report: &ImpactReport) {
    let s = &report.summary;
    let d = &s.decisions;
    let _ = writeln!(
        out,
        "<section id=\"summary\"><h2>Summary</h2><div class=\"cards\"><div class=\"card\"><b>{}</b><span>tasks</span></div><div class=\"card low\"><b>{}</b><span>low risk</span></div><div class=\"card medium\"><b>{}</b><span>medium risk</span></div><div class=\"card high\"><b>{}</b><span>high risk</span></div></div>",
        s.tasks, s.by_risk.low, s.by_risk.medium, s.by_risk.high
    );
    let _ = write!(out, "<div class=\"cards decisions\">");
    for (name, count) in [
        ("run", d.run),
        ("excluded", d.excluded),
        ("needs-approval", d.needs_approval),
        ("blocked", d.blocked),
        ("deferred", d.deferred),
    ] {
        let _ = write!(
            out,
            "<div class=\"card\"><b class=\"s-{name}\">{count}</b><span>{name}</span></div>"
        );
    }
    let _ = writeln!(
        out,
        "</div><p>Forecast: {} for the tasks that run (critical path {}), against a plan budget of {}.</p></section>",
        duration(report.forecast_s),
        duration(report.critical_path_s),
        optional_duration(report.budget_s)
    );
}

fn render_budgets(out: &mut String, report: &ImpactReport) {
    let _ = writeln!(
        out,
        "<section id=\"budgets\"><h2>Budgets</h2><p class=\"muted\">Forecast wall time against each budget; the tick is the critical path (the bound with unlimited concurrency).</p><div class=\"gauges\">"
    );
    page::gauge(
        out,
        &Gauge {
            title: "Plan",
            measure: "forecast",
            value_s: report.forecast_s,
            budget_s: report.budget_s,
            mark: Some(("critical path", report.critical_path_s)),
        },
    );
    for phase in &report.phases {
        page::gauge(
            out,
            &Gauge {
                title: phase.name.as_deref().unwrap_or(&phase.id),
                measure: "forecast",
                value_s: phase.forecast_s,
                budget_s: phase.budget_s,
                mark: Some(("critical path", phase.critical_path_s)),
            },
        );
    }
    let _ = writeln!(out, "</div></section>");
}

fn render_phase_table(out: &mut String, report: &ImpactReport) {
    let _ = writeln!(
        out,
        "<section id=\"phases\"><h2>Phases</h2><table><tr><th class=\"num\">#</th><th>phase</th><th>approval</th><th class=\"num\">run / tasks</th><th class=\"num\">budget</th><th class=\"num\">forecast</th><th class=\"num\">critical path</th><th class=\"num\">estimates</th><th class=\"num\">starts at</th></tr>"
    );
    for (i, phase) in report.phases.iter().enumerate() {
        let running = phase.tasks.iter().filter(|t| t.decision == "run").count();
        let _ = writeln!(
            out,
            "<tr><td class=\"num\">{}</td><td><a href=\"#phase-{}\">{}</a> <code>{}</code></td><td>{}</td><td class=\"num\">{running} / {}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            i + 1,
            escape(&phase.id),
            escape(phase.name.as_deref().unwrap_or(&phase.id)),
            escape(&phase.id),
            if phase.approval { "yes" } else { "no" },
            phase.tasks.len(),
            optional_duration(phase.budget_s),
            duration(phase.forecast_s),
            duration(phase.critical_path_s),
            duration(phase.estimate_s),
            duration(phase.start_s),
        );
    }
    let _ = writeln!(out, "</table></section>");
}

fn render_graph(out: &mut String, report: &ImpactReport) {
    let tasks: Vec<(usize, &TaskReport)> = report
        .phases
        .iter()
        .enumerate()
        .flat_map(|(phase, p)| p.tasks.iter().map(move |t| (phase, t)))
        .collect();
    let index: std::collections::HashMap<&str, usize> = tasks
        .iter()
        .enumerate()
        .map(|(i, (_, t))| (t.id.as_str(), i))
        .collect();
    let graph = Graph {
        phases: report
            .phases
            .iter()
            .map(|p| p.name.clone().unwrap_or_else(|| p.id.clone()))
            .collect(),
        nodes: tasks
            .iter()
            .map(|&(phase, task)| Node {
                id: &task.id,
                name: task.name.as_deref(),
                phase,
                risk: &task.risk,
                badge: &task.decision,
                inactive: task.decision != "run",
                needs: task
                    .needs
                    .iter()
                    .filter_map(|n| index.get(n.as_str()).copied())
                    .collect(),
            })
            .collect(),
    };
    let _ = writeln!(out, "<section id=\"graph\"><h2>Task graph</h2>");
    match dag::render(&graph) {
        Some(svg) => {
            let _ = writeln!(
                out,
                "<div class=\"legend\"><span><i class=\"low\"></i>low risk</span><span><i class=\"medium\"></i>medium risk</span><span><i class=\"high\"></i>high risk</span><span>dashed and faded: does not run (the badge says why)</span><span>thick border: waits for an approval or is blocked</span></div>\n<div class=\"scroll\">{svg}</div>"
            );
        }
        None => {
            let _ = writeln!(
                out,
                "<p class=\"muted\">The graph of {} tasks is not drawn here (more than {}); <code>plangate graph</code> draws it.</p>",
                graph.nodes.len(),
                dag::MAX_NODES
            );
        }
    }
    let _ = writeln!(out, "</section>");
}

fn render_phase(out: &mut String, number: usize, phase: &PhaseReport) {
    let _ = writeln!(
        out,
        "<section class=\"phase\" id=\"phase-{}\"><h2>Phase {number}: {} <code>{}</code></h2><p>Budget {}, forecast {}, critical path {}, estimates {}, starts at {}{}.</p>",
        escape(&phase.id),
        escape(phase.name.as_deref().unwrap_or(&phase.id)),
        escape(&phase.id),
        optional_duration(phase.budget_s),
        duration(phase.forecast_s),
        duration(phase.critical_path_s),
        duration(phase.estimate_s),
        duration(phase.start_s),
        if phase.approval {
            "; waits for an approval"
        } else {
            ""
        },
    );
    for group in &phase.serialised {
        let _ = writeln!(
            out,
            "<p class=\"serialised\">Serialised by <code>{}</code>: {} run one at a time, whatever the concurrency ({} of estimates in a row).</p>",
            escape(&group.group),
            group
                .tasks
                .iter()
                .map(|t| format!("<code>{}</code>", escape(t)))
                .collect::<Vec<_>>()
                .join(", "),
            duration(group.estimate_s)
        );
    }
    let _ = writeln!(
        out,
        "<table><tr><th>task</th><th>risk</th><th>decision</th><th>reason</th><th>needs</th><th class=\"num\">estimate</th><th class=\"num\">forecast</th></tr>"
    );
    for task in &phase.tasks {
        let name = match (&task.name, &task.source) {
            (Some(name), Some(source)) => {
                format!(
                    " {} <span class=\"muted\">({})</span>",
                    escape(name),
                    escape(source)
                )
            }
            (Some(name), None) => format!(" {}", escape(name)),
            (None, Some(source)) => format!(" <span class=\"muted\">({})</span>", escape(source)),
            (None, None) => String::new(),
        };
        let _ = writeln!(
            out,
            "<tr><td><code>{}</code>{name}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            escape(&task.id),
            risk(&task.risk),
            pill(&task.decision),
            task.reason.as_deref().map(prose).unwrap_or_default(),
            ids(&task.needs),
            task.estimate_s.map_or_else(|| "-".to_owned(), duration),
            window(task),
        );
    }
    let _ = writeln!(out, "</table>");
    for task in &phase.tasks {
        render_evidence(out, task);
    }
    let _ = writeln!(out, "</section>");
}

/// `0s – 6m`, from the start of the run, or `-` for a task that does not run.
fn window(task: &TaskReport) -> String {
    match (task.forecast_start_s, task.forecast_finish_s) {
        (Some(start), Some(finish)) => format!("{} – {}", duration(start), duration(finish)),
        (Some(start), None) => format!("from {}", duration(start)),
        _ => "-".to_owned(),
    }
}

fn ids(ids: &[String]) -> String {
    if ids.is_empty() {
        return "-".to_owned();
    }
    ids.iter()
        .map(|id| format!("<code>{}</code>", escape(id)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A task's details: what it runs, verifies and rolls back with, and what
/// the executor's preview found.
fn render_evidence(out: &mut String, task: &TaskReport) {
    let _ = writeln!(
        out,
        "<details class=\"evidence\" data-task=\"{}\"><summary><code>{}</code> {} {}{}</summary><div><dl class=\"facts\"><dt>executor</dt><dd><code>{}</code></dd><dt>action</dt><dd><code>{}</code></dd><dt>verify</dt><dd>{}</dd><dt>rollback</dt><dd>{}</dd><dt>timeout</dt><dd>{}</dd>{}</dl>",
        escape(&task.id),
        escape(&task.id),
        pill(&task.decision),
        risk(&task.risk),
        task.preview
            .as_ref()
            .map(|p| format!(" · preview: {}", escape(&p.summary)))
            .unwrap_or_default(),
        escape(&task.executor),
        escape(&task.action),
        task.verify
            .as_deref()
            .map_or_else(|| "-".to_owned(), |v| format!("<code>{}</code>", escape(v))),
        task.rollback.as_deref().map_or_else(
            || "<strong>none</strong>".to_owned(),
            |r| format!("<code>{}</code>", escape(r))
        ),
        duration(task.timeout_s),
        if task.exclusive.is_empty() {
            String::new()
        } else {
            format!(
                "<dt>resource groups</dt><dd>{}</dd>",
                task.exclusive
                    .iter()
                    .map(|g| format!("<code>{}</code>", escape(g)))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        },
    );
    if let Some(promotion) = super::impact::promotion_sentence(task) {
        let _ = writeln!(out, "<p class=\"promotion\">{}</p>", escape(&promotion));
    }
    if let Some(preview) = &task.preview {
        render_preview(out, preview);
    }
    let _ = writeln!(out, "</div></details>");
}

/// What an executor said the task's action would change (`plan --preview`).
fn render_preview(out: &mut String, preview: &PreviewReport) {
    let _ = writeln!(
        out,
        "<div class=\"preview\"><h3>Preview</h3><p>{}</p><ul>",
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
            "<li class=\"s-blocked\"><strong>would be refused</strong>: {}</li>",
            prose(blocked)
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
            let _ = write!(out, "<pre class=\"diff\">{}</pre>", escape(diff.trim_end()));
        }
        let _ = writeln!(out, "</li>");
    }
    let _ = writeln!(out, "</ul></div>");
}
