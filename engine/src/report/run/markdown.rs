//! The run report as Markdown: the default of `plangate report`.

use std::fmt::Write as _;

use super::{
    format::{
        TIME_LEGEND, approval_line, attempt_status, deferred_heading, millis, phase_time, run_time,
    },
    schema::RunReport,
};
use crate::report::rfc3339;

/// The run report as Markdown.
pub fn render_run_markdown(report: &RunReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Run report: `{}` ({})\n", report.plan, report.run);
    let _ = write!(out, "Status: **{}**", report.status);
    if let Some(reason) = &report.reason {
        let _ = write!(out, " ({reason})");
    }
    let _ = writeln!(out, ". Environment `{}`.\n", report.environment);
    let _ = writeln!(
        out,
        "Plan file `{}`, created {}, {}.\n",
        report.plan_path.display(),
        rfc3339(report.created_at),
        report.finished_at.map_or_else(
            || "not finished".to_owned(),
            |at| format!("finished {}", rfc3339(at))
        )
    );
    if !report.deferred.is_empty() {
        let _ = writeln!(
            out,
            "## Deferred\n\n{}:\n",
            deferred_heading(&report.deferred)
        );
        for task in &report.deferred {
            let _ = writeln!(
                out,
                "- `{}`{}",
                task.id,
                reason_suffix(task.reason.as_deref())
            );
        }
        out.push('\n');
    }
    let _ = writeln!(out, "Time: {}. {TIME_LEGEND}\n", run_time(report));
    let _ = writeln!(
        out,
        "Complete, with evidence: **{} of {}** tasks.\n",
        report.summary.completed, report.summary.tasks
    );
    let _ = writeln!(out, "| state | tasks |\n| --- | ---: |");
    for (state, count) in &report.summary.by_state {
        let _ = writeln!(out, "| {state} | {count} |");
    }
    out.push('\n');
    for phase in &report.phases {
        let _ = writeln!(
            out,
            "## {} (`{}`)\n\nTime: {}.\n",
            phase.name.as_deref().unwrap_or(&phase.id),
            phase.id,
            phase_time(phase)
        );
        let _ = writeln!(
            out,
            "| task | risk | needs | state | complete | evidence | attempts |\n| --- | --- | --- | --- | --- | --- | ---: |"
        );
        for task in &phase.tasks {
            let _ = writeln!(
                out,
                "| `{}`{} | {} | {} | {}{} | {} | {} | {} |",
                task.id,
                task.name
                    .as_deref()
                    .map(|n| format!(" {}", n.replace('|', "\\|")))
                    .unwrap_or_default(),
                task.risk,
                if task.needs.is_empty() {
                    "-".to_owned()
                } else {
                    task.needs
                        .iter()
                        .map(|id| format!("`{id}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                },
                task.state,
                task.reason
                    .as_deref()
                    .map(|r| format!(": {}", r.replace('|', "\\|")))
                    .unwrap_or_default(),
                if task.complete { "yes" } else { "no" },
                task.evidence.replace('|', "\\|"),
                task.attempts
            );
        }
        out.push('\n');
        for task in phase.tasks.iter().filter(|t| !t.history.is_empty()) {
            let _ = writeln!(out, "### `{}`\n", task.id);
            for attempt in &task.history {
                let _ = write!(
                    out,
                    "- {} #{}: `{}`: {} in {}, started {}",
                    attempt.role,
                    attempt.number,
                    attempt.command,
                    attempt_status(attempt),
                    millis(attempt.duration_ms),
                    rfc3339(attempt.started_at)
                );
                match &attempt.error_line {
                    Some(line) => {
                        let _ = writeln!(out, ": {line}");
                    }
                    None => out.push('\n'),
                }
                for (label, text) in [
                    ("stdout", &attempt.stdout_tail),
                    ("stderr", &attempt.stderr_tail),
                ] {
                    if let Some(text) = text {
                        let _ = writeln!(
                            out,
                            "\n  ```text\n  {label}:\n  {}\n  ```\n",
                            text.replace('\n', "\n  ")
                        );
                    }
                }
            }
            out.push('\n');
        }
    }
    if !report.waited_for.is_empty() {
        let _ = writeln!(out, "## Actions that outlived the engine\n");
        for line in &report.waited_for {
            let _ = writeln!(out, "- {line}");
        }
        out.push('\n');
    }
    let _ = writeln!(out, "## Approvals\n");
    if report.approvals.is_empty() {
        let _ = writeln!(out, "None.\n");
    }
    for approval in &report.approvals {
        let _ = writeln!(out, "- {}", approval_line(approval));
    }
    let _ = writeln!(out, "\n## Not done\n");
    if report.not_done.is_empty() {
        let _ = writeln!(out, "Nothing: every task completed with evidence.");
    }
    for task in &report.not_done {
        let _ = writeln!(
            out,
            "- `{}`: {}{}",
            task.id,
            task.state,
            reason_suffix(task.reason.as_deref())
        );
    }
    let _ = writeln!(
        out,
        "\n---\n\nThe same facts as `--format json` (format version {}) and `--format html`.",
        report.format_version
    );
    out
}

/// `: why`, or nothing.
fn reason_suffix(reason: Option<&str>) -> String {
    reason.map(|r| format!(": {r}")).unwrap_or_default()
}
