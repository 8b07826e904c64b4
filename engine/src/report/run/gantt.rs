//! The timeline of a run as an inline SVG: one row per task that has
//! attempts, one bar per attempt (coloured by role, red when it did not
//! succeed), approvals as diamonds with the wait before them, and each
//! phase's budget as a shaded band from the phase's first attempt.
//!
//! Budgets count the time the engine drives the work (`used`), not clock
//! time, so a band is where the budget would end without pauses; the legend
//! says so rather than pretending otherwise.

use std::fmt::Write as _;

use plangate_plans::format_duration;
use plangate_state::AttemptOutcome;

use super::{
    format::{attempt_status, millis},
    schema::{ApprovalReport, RunReport, TaskOutcome},
};
use crate::report::{
    escape_html as escape,
    page::{float, float_usize},
    rfc3339,
};

const LABEL_WIDTH: f64 = 210.0;
const PLOT_WIDTH: f64 = 860.0;
const ROW_HEIGHT: f64 = 24.0;
const BAR_HEIGHT: f64 = 14.0;
const PHASE_HEADER: f64 = 22.0;
const AXIS: f64 = 26.0;

/// Tick steps in milliseconds, smallest first.
const STEPS_MS: [u64; 22] = [
    1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 15_000, 30_000, 60_000,
    120_000, 300_000, 600_000, 1_800_000, 3_600_000, 21_600_000,
];

fn end_of(started_at: i64, duration_ms: Option<u64>) -> i64 {
    started_at.saturating_add(duration_ms.map_or(0, |ms| i64::try_from(ms).unwrap_or(i64::MAX)))
}

/// The timeline, or `None` when no attempt was recorded.
pub(super) fn render(report: &RunReport) -> Option<String> {
    let attempts = report
        .phases
        .iter()
        .flat_map(|p| &p.tasks)
        .flat_map(|t| &t.history);
    let origin = attempts
        .clone()
        .map(|a| a.started_at)
        .chain([report.created_at])
        .min()?;
    attempts.clone().next()?;
    let end = attempts
        .map(|a| end_of(a.started_at, a.duration_ms))
        .chain(report.approvals.iter().map(|a| a.at))
        .chain(report.finished_at)
        .max()
        .unwrap_or(origin);
    let span_ms = u64::try_from(end - origin).unwrap_or(0).max(1);
    let x = |at: i64| {
        let offset = u64::try_from(at - origin).unwrap_or(0);
        LABEL_WIDTH + PLOT_WIDTH * float(offset) / float(span_ms)
    };
    let step = STEPS_MS
        .iter()
        .copied()
        .find(|step| span_ms / step <= 10)
        .unwrap_or(43_200_000);

    // Where each approval's wait began: the end of the last attempt before
    // it, which is when the run paused (the run's start when none ran yet).
    let ends: Vec<i64> = report
        .phases
        .iter()
        .flat_map(|p| &p.tasks)
        .flat_map(|t| &t.history)
        .map(|a| end_of(a.started_at, a.duration_ms))
        .collect();
    let waits: Vec<(&ApprovalReport, i64)> = report
        .approvals
        .iter()
        .map(|approval| {
            let since = ends
                .iter()
                .copied()
                .filter(|&e| e <= approval.at)
                .max()
                .unwrap_or(report.created_at);
            (approval, since)
        })
        .collect();
    let mut rows = String::new();
    let mut top = AXIS;
    for phase in &report.phases {
        let tasks: Vec<&TaskOutcome> = phase
            .tasks
            .iter()
            .filter(|t| !t.history.is_empty())
            .collect();
        if tasks.is_empty() {
            continue;
        }
        let phase_height = PHASE_HEADER + ROW_HEIGHT * float_usize(tasks.len());
        let _ = writeln!(
            rows,
            "<g class=\"phase\" data-phase=\"{}\"><text class=\"phase-label\" x=\"4\" y=\"{:.1}\">{}</text>",
            escape(&phase.id),
            top + 15.0,
            escape(phase.name.as_deref().unwrap_or(&phase.id))
        );
        let first = tasks
            .iter()
            .flat_map(|t| &t.history)
            .map(|a| a.started_at)
            .min()
            .unwrap_or(origin);
        if let Some(budget) = phase.budget_s {
            let budget_end = first.saturating_add(i64::try_from(budget * 1000).unwrap_or(i64::MAX));
            let right = x(budget_end.min(end));
            let _ = writeln!(
                rows,
                "<rect class=\"budget\" x=\"{:.1}\" y=\"{top:.1}\" width=\"{:.1}\" height=\"{phase_height:.1}\"/>",
                x(first),
                (right - x(first)).max(1.0)
            );
            if budget_end <= end {
                let _ = writeln!(
                    rows,
                    "<line class=\"budget-end\" x1=\"{right:.1}\" x2=\"{right:.1}\" y1=\"{top:.1}\" y2=\"{:.1}\"/>",
                    top + phase_height
                );
            }
            let _ = writeln!(
                rows,
                "<text class=\"budget-label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">budget {}{}</text>",
                (right - 4.0).max(LABEL_WIDTH + 60.0),
                top + 15.0,
                format_duration(std::time::Duration::from_secs(budget)),
                if budget_end > end {
                    " (ends later)"
                } else {
                    ""
                }
            );
        }
        top += PHASE_HEADER;
        for task in tasks {
            render_row(&mut rows, task, top, &x, &waits, phase.id.as_str());
            top += ROW_HEIGHT;
        }
        let _ = writeln!(rows, "</g>");
    }
    let height = top + 8.0;
    let width = LABEL_WIDTH + PLOT_WIDTH + 16.0;
    let mut out = format!(
        "<svg class=\"gantt\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{height:.0}\" viewBox=\"0 0 {width:.0} {height:.0}\" role=\"img\" aria-label=\"timeline of the run\">\n<g class=\"grid\">"
    );
    let mut tick = 0u64;
    while tick <= span_ms {
        let at = x(origin.saturating_add(i64::try_from(tick).unwrap_or(i64::MAX)));
        let _ = writeln!(
            out,
            "<line x1=\"{at:.1}\" x2=\"{at:.1}\" y1=\"{:.1}\" y2=\"{height:.1}\"/><text x=\"{at:.1}\" y=\"14\" text-anchor=\"middle\">+{}</text>",
            AXIS - 6.0,
            format_duration(std::time::Duration::from_millis(tick))
        );
        tick += step;
    }
    let _ = writeln!(out, "</g>\n{rows}</svg>");
    Some(out)
}

fn render_row(
    out: &mut String,
    task: &TaskOutcome,
    top: f64,
    x: &impl Fn(i64) -> f64,
    waits: &[(&ApprovalReport, i64)],
    phase: &str,
) {
    let middle = top + ROW_HEIGHT / 2.0;
    let _ = writeln!(
        out,
        "<g class=\"row\" data-task=\"{}\"><text class=\"row-label\" x=\"12\" y=\"{:.1}\">{}</text>",
        escape(&task.id),
        middle + 4.0,
        escape(&shorten(&task.id, 26))
    );
    // The approval this task waited for: its own, or its phase's when it is
    // the phase's first task with attempts.
    let first_start = task.history.iter().map(|a| a.started_at).min();
    for &(approval, since) in waits.iter().filter(|(a, _)| {
        (a.kind == "task" && a.target == task.id) || (a.kind == "phase" && a.target == phase)
    }) {
        // The wait runs from the last thing that ended before the approval
        // (the pause) to the approval; drawn only when the task started
        // after it, which is when it waited.
        if first_start.is_none_or(|start| start >= approval.at) {
            let at = x(approval.at);
            let _ = writeln!(
                out,
                "<rect class=\"wait\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{BAR_HEIGHT}\"><title>waited for an approval from {} to {}</title></rect>",
                x(since),
                middle - BAR_HEIGHT / 2.0,
                (at - x(since)).max(0.0),
                rfc3339(since),
                rfc3339(approval.at),
            );
            let _ = writeln!(
                out,
                "<g class=\"approval\"><title>{} {} approved by {} at {}: {}</title><line class=\"approval-line\" x1=\"{at:.1}\" x2=\"{at:.1}\" y1=\"{top:.1}\" y2=\"{:.1}\"/><path class=\"approval\" d=\"M{at:.1},{:.1} l6,6 l-6,6 l-6,-6 z\"/></g>",
                escape(&approval.kind),
                escape(&approval.target),
                escape(&approval.approved_by),
                rfc3339(approval.at),
                escape(approval.reason.as_deref().unwrap_or("no reason given")),
                top + ROW_HEIGHT,
                middle - 6.0,
            );
        }
    }
    for attempt in &task.history {
        let left = x(attempt.started_at);
        let right = x(end_of(attempt.started_at, attempt.duration_ms));
        let outcome = attempt.outcome.map_or("in-flight", AttemptOutcome::as_str);
        let failed = !matches!(attempt.outcome, Some(AttemptOutcome::Succeeded) | None);
        let _ = writeln!(
            out,
            "<rect class=\"bar role-{role}{failed}\" x=\"{left:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{BAR_HEIGHT}\"><title>{role} #{number} of {id}: {status} in {took}, started {started}</title></rect>",
            middle - BAR_HEIGHT / 2.0,
            (right - left).max(2.5),
            role = attempt.role.as_str(),
            failed = if failed {
                format!(" outcome-{outcome}")
            } else {
                String::new()
            },
            number = attempt.number,
            id = escape(&task.id),
            status = escape(&attempt_status(attempt)),
            took = millis(attempt.duration_ms),
            started = rfc3339(attempt.started_at),
        );
    }
    let _ = writeln!(out, "</g>");
}

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max - 1).collect();
    out.push('…');
    out
}
