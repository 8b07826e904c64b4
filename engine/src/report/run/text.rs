//! `plangate status` as a text table.

use std::fmt::Write as _;

use super::{
    format::{approval_line, deferred_heading},
    schema::StatusReport,
};

/// The status as a text table.
pub fn render_status_text(report: &StatusReport) -> String {
    let mut out = format!(
        "run {} of plan `{}`: {}",
        report.run, report.plan, report.status
    );
    if let Some(reason) = &report.reason {
        let _ = write!(out, " ({reason})");
    }
    out.push('\n');
    if !report.deferred.is_empty() {
        let _ = writeln!(out, "{}:", deferred_heading(&report.deferred));
        let width = report
            .deferred
            .iter()
            .map(|t| t.id.len())
            .max()
            .unwrap_or(0);
        for task in &report.deferred {
            let row = format!(
                "  {:<width$}  {}",
                task.id,
                task.reason.as_deref().unwrap_or("")
            );
            out.push_str(row.trim_end());
            out.push('\n');
        }
    }
    let width = report
        .tasks
        .iter()
        .map(|t| t.id.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let phase_width = report
        .tasks
        .iter()
        .map(|t| t.phase.len())
        .max()
        .unwrap_or(5)
        .max(5);
    let _ = writeln!(
        out,
        "{:<width$}  {:<phase_width$}  {:<15}  {:>8}  reason",
        "task", "phase", "state", "attempts"
    );
    for task in &report.tasks {
        let row = format!(
            "{:<width$}  {:<phase_width$}  {:<15}  {:>8}  {}",
            task.id,
            task.phase,
            task.state.as_str(),
            task.attempts,
            task.reason.as_deref().unwrap_or("")
        );
        out.push_str(row.trim_end());
        out.push('\n');
    }
    if !report.approvals.is_empty() {
        out.push_str("approvals:\n");
        for approval in &report.approvals {
            let _ = writeln!(out, "  {}", approval_line(approval));
        }
    }
    out
}
