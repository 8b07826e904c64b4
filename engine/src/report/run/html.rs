//! The run report as one self-contained HTML page: status, budget gauges
//! (used against budget), the task graph with each task's final state, the
//! timeline of every attempt, and per task its evidence (attempts, output
//! tails, the tool's error line) in a collapsible block, then approvals with
//! who, when and why. The facts are those of the JSON document and the
//! Markdown rendering, nothing more.

use std::{collections::HashMap, fmt::Write as _};

use plangate_state::TaskState;

use super::{
    format::{TIME_LEGEND, attempt_status, deferred_heading, millis, phase_time, run_time},
    gantt,
    schema::{PhaseOutcome, RunReport, TaskOutcome},
};
use crate::report::{
    dag::{self, Graph, Node},
    page::{self, Gauge, escape, pill, prose, risk},
    rfc3339,
};

/// The run report as HTML.
pub fn render_run_html(report: &RunReport) -> String {
    let mut out = String::new();
    let mut lines = vec![format!(
        "Run <code>{}</code> · status {}{} · environment <code>{}</code>",
        escape(&report.run),
        pill(report.status.as_str()),
        report
            .reason
            .as_deref()
            .map(|r| format!(" ({})", prose(r)))
            .unwrap_or_default(),
        escape(&report.environment),
    )];
    lines.push(format!(
        "Plan file <code>{}</code> · created {}{}",
        escape(&report.plan_path.display().to_string()),
        time(report.created_at),
        report.finished_at.map_or_else(
            || " · not finished".to_owned(),
            |at| format!(" · finished {}", time(at))
        ),
    ));
    page::open(&mut out, &format!("Run report: {}", report.plan), &lines);
    if !report.deferred.is_empty() {
        let _ = writeln!(
            out,
            "<section id=\"deferred\"><h2>Deferred</h2>\n<p>{}:</p>\n<ul>",
            prose(&deferred_heading(&report.deferred))
        );
        for task in &report.deferred {
            let _ = writeln!(
                out,
                "<li><code>{}</code>{}</li>",
                escape(&task.id),
                task.reason
                    .as_deref()
                    .map(|r| format!(": {}", prose(r)))
                    .unwrap_or_default()
            );
        }
        let _ = writeln!(out, "</ul></section>");
    }
    render_summary(&mut out, report);
    render_budgets(&mut out, report);
    render_graph(&mut out, report);
    render_timeline(&mut out, report);
    for phase in &report.phases {
        render_phase(&mut out, phase);
    }
    if !report.waited_for.is_empty() {
        let _ = writeln!(
            out,
            "<section id=\"waited-for\"><h2>Actions that outlived the engine</h2>\n<ul>"
        );
        for line in &report.waited_for {
            let _ = writeln!(out, "<li>{}</li>", prose(line));
        }
        let _ = writeln!(out, "</ul></section>");
    }
    render_approvals(&mut out, report);
    let _ = writeln!(out, "<section id=\"not-done\"><h2>Not done</h2>");
    if report.not_done.is_empty() {
        let _ = writeln!(out, "<p>Nothing: every task completed with evidence.</p>");
    } else {
        let _ = writeln!(out, "<ul>");
        for task in &report.not_done {
            let _ = writeln!(
                out,
                "<li><code>{}</code>: {}{}</li>",
                escape(&task.id),
                pill(task.state.as_str()),
                task.reason
                    .as_deref()
                    .map(|r| format!(": {}", prose(r)))
                    .unwrap_or_default()
            );
        }
        let _ = writeln!(out, "</ul>");
    }
    let _ = writeln!(out, "</section>");
    page::close(
        &mut out,
        &format!("Run report of `{}`, run {}", report.plan, report.run),
    );
    out
}

fn time(at: i64) -> String {
    let at = rfc3339(at);
    format!("<time datetime=\"{at}\">{at}</time>")
}

fn render_summary(out: &mut String, report: &RunReport) {
    let _ = writeln!(
        out,
        "<section id=\"summary\"><h2>Summary</h2>\n<p>Time: {}. {}</p>",
        run_time(report),
        prose(TIME_LEGEND)
    );
    let _ = writeln!(
        out,
        "<p>Complete, with evidence: <strong>{} of {}</strong> tasks.</p>\n<div class=\"cards\"><div class=\"card\"><b>{}</b><span>tasks</span></div>",
        report.summary.completed, report.summary.tasks, report.summary.tasks
    );
    for (state, count) in &report.summary.by_state {
        let _ = write!(
            out,
            "<div class=\"card\"><b class=\"s-{}\">{count}</b><span>{}</span></div>",
            escape(state),
            escape(state)
        );
    }
    let _ = writeln!(out, "</div></section>");
}

fn render_budgets(out: &mut String, report: &RunReport) {
    let _ = writeln!(
        out,
        "<section id=\"budgets\"><h2>Budgets</h2><p class=\"muted\">Time used (what budgets count) against each budget; on a phase the tick is the dry run's forecast.</p><div class=\"gauges\">"
    );
    page::gauge(
        out,
        &Gauge {
            title: "Plan",
            measure: "used",
            value_s: report.used_s,
            budget_s: report.budget_s,
            mark: None,
        },
    );
    for phase in &report.phases {
        page::gauge(
            out,
            &Gauge {
                title: phase.name.as_deref().unwrap_or(&phase.id),
                measure: "used",
                value_s: phase.used_s,
                budget_s: phase.budget_s,
                mark: Some(("forecast", phase.forecast_s)),
            },
        );
    }
    let _ = writeln!(out, "</div></section>");
}

/// Whether a task in this state did no work in the run.
fn inactive(state: TaskState) -> bool {
    matches!(
        state,
        TaskState::Pending
            | TaskState::Excluded
            | TaskState::Blocked
            | TaskState::Deferred
            | TaskState::NeedsApproval
    )
}

fn render_graph(out: &mut String, report: &RunReport) {
    let tasks: Vec<(usize, &TaskOutcome)> = report
        .phases
        .iter()
        .enumerate()
        .flat_map(|(phase, p)| p.tasks.iter().map(move |t| (phase, t)))
        .collect();
    let index: HashMap<&str, usize> = tasks
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
                badge: task.state.as_str(),
                inactive: inactive(task.state),
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
                "<div class=\"legend\"><span><i class=\"low\"></i>low risk</span><span><i class=\"medium\"></i>medium risk</span><span><i class=\"high\"></i>high risk</span><span>dashed and faded: did no work (the badge says why)</span><span>red border: failed · purple border: rolled back</span></div>\n<div class=\"scroll\">{svg}</div>"
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

fn render_timeline(out: &mut String, report: &RunReport) {
    let _ = writeln!(out, "<section id=\"timeline\"><h2>Timeline</h2>");
    match gantt::render(report) {
        Some(svg) => {
            let _ = writeln!(
                out,
                "<div class=\"legend\"><span><i class=\"run\"></i>run</span><span><i class=\"verify\"></i>verify</span><span><i class=\"rollback\"></i>rollback</span><span><i class=\"failed\"></i>did not succeed</span><span><i class=\"wait\"></i>waiting for an approval</span><span><i class=\"approval\"></i>approved</span><span>shaded band: the phase budget from its first attempt (budgets count used time, so pauses move the real limit later)</span></div>\n<div class=\"scroll\">{svg}</div>"
            );
        }
        None => {
            let _ = writeln!(out, "<p>No attempt was recorded.</p>");
        }
    }
    let _ = writeln!(out, "</section>");
}

fn render_phase(out: &mut String, phase: &PhaseOutcome) {
    let _ = writeln!(
        out,
        "<section class=\"phase\" id=\"phase-{}\"><h2>{} <code>{}</code></h2>\n<p>Time: {}.</p>",
        escape(&phase.id),
        escape(phase.name.as_deref().unwrap_or(&phase.id)),
        escape(&phase.id),
        phase_time(phase)
    );
    let _ = writeln!(
        out,
        "<table><tr><th>task</th><th>risk</th><th>needs</th><th>state</th><th>complete</th><th>evidence</th><th class=\"num\">attempts</th></tr>"
    );
    for task in &phase.tasks {
        let class = if task.complete { "yes" } else { "no" };
        let _ = writeln!(
            out,
            "<tr><td><code>{}</code>{}</td><td>{}</td><td>{}</td><td>{}{}</td><td class=\"s-{class}\">{class}</td><td>{}</td><td class=\"num\">{}</td></tr>",
            escape(&task.id),
            task.name
                .as_deref()
                .map(|n| format!(" {}", escape(n)))
                .unwrap_or_default(),
            risk(&task.risk),
            ids(&task.needs),
            pill(task.state.as_str()),
            task.reason
                .as_deref()
                .map(|r| format!("<br><span class=\"muted\">{}</span>", prose(r)))
                .unwrap_or_default(),
            prose(&task.evidence),
            task.attempts
        );
    }
    let _ = writeln!(out, "</table>");
    for task in phase.tasks.iter().filter(|t| !t.history.is_empty()) {
        render_history(out, task);
    }
    let _ = writeln!(out, "</section>");
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

/// A task's attempts, with the tool's error line and its output, collapsed.
fn render_history(out: &mut String, task: &TaskOutcome) {
    let _ = writeln!(
        out,
        "<details class=\"evidence\" data-task=\"{}\"><summary><code>{}</code> {} · {}</summary><div><ul>",
        escape(&task.id),
        escape(&task.id),
        pill(task.state.as_str()),
        plangate_plans::text::plural(task.history.len(), "attempt", "attempts"),
    );
    for attempt in &task.history {
        let _ = write!(
            out,
            "<li>{} #{}: <code>{}</code>: {} in {}, started {}",
            attempt.role,
            attempt.number,
            escape(&attempt.command),
            attempt_status(attempt),
            millis(attempt.duration_ms),
            time(attempt.started_at),
        );
        if let Some(line) = &attempt.error_line {
            let _ = write!(out, ": <span class=\"error\">{}</span>", escape(line));
        }
        for (label, text) in [
            ("stdout", &attempt.stdout_tail),
            ("stderr", &attempt.stderr_tail),
        ] {
            if let Some(text) = text {
                let _ = write!(out, "\n<pre>{label}:\n{}</pre>", escape(text));
            }
        }
        let _ = writeln!(out, "</li>");
    }
    let _ = writeln!(out, "</ul></div></details>");
}

fn render_approvals(out: &mut String, report: &RunReport) {
    let _ = writeln!(out, "<section id=\"approvals\"><h2>Approvals</h2>");
    if report.approvals.is_empty() {
        let _ = writeln!(out, "<p>None.</p></section>");
        return;
    }
    let _ = writeln!(
        out,
        "<table><tr><th>approved</th><th>by</th><th>at</th><th>why</th><th>standing</th></tr>"
    );
    for approval in &report.approvals {
        let _ = writeln!(
            out,
            "<tr><td>{} <code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&approval.kind),
            escape(&approval.target),
            escape(&approval.approved_by),
            time(approval.at),
            escape(approval.reason.as_deref().unwrap_or("no reason given")),
            escape(super::format::approval_standing(approval).trim_start_matches("; "))
        );
    }
    let _ = writeln!(out, "</table></section>");
}
