//! The impact report as Markdown: the default of `plangate plan`.

use std::fmt::Write as _;

use plangate_plans::format_duration;

use super::schema::{ImpactReport, PhaseReport, TaskReport};

fn duration(seconds: u64) -> String {
    format_duration(std::time::Duration::from_secs(seconds))
}

fn optional_duration(seconds: Option<u64>) -> String {
    seconds.map_or_else(|| "none".to_owned(), duration)
}

/// `` `a`, `b` ``, or `-` for none.
fn ticked(ids: &[String]) -> String {
    if ids.is_empty() {
        return "-".to_owned();
    }
    ids.iter()
        .map(|id| format!("`{id}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Escapes text for a Markdown table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// Renders the report as Markdown.
pub fn render_impact_markdown(report: &ImpactReport) -> String {
    let mut out = String::new();
    let s = &report.summary;
    let _ = writeln!(out, "# Impact report: `{}`\n", report.plan);
    let _ = writeln!(
        out,
        "Dry run: nothing was executed. Environment `{}`, plan hash `{}`.\n",
        report.environment, report.plan_hash
    );
    if let Some(description) = &report.description {
        let _ = writeln!(out, "{}\n", description.trim());
    }
    let p = &report.policy;
    let _ = writeln!(
        out,
        "Policy: max risk `{}` (above it: `{}`), rollback required from `{}`, on failure `{}`, budget {}, max tasks {}, concurrency {}.\n",
        p.max_risk,
        p.above_max,
        p.require_rollback,
        p.on_failure,
        optional_duration(p.budget_s),
        p.max_tasks
            .map_or_else(|| "none".to_owned(), |m| m.to_string()),
        p.concurrency
    );
    if let Some(promotion) = super::impact::promotion_policy_sentence(p) {
        let _ = writeln!(out, "Promotion: {promotion}.\n");
    }

    let _ = writeln!(out, "## Summary\n");
    let _ = writeln!(out, "| risk | tasks |\n| --- | ---: |");
    let _ = writeln!(out, "| low | {} |", s.by_risk.low);
    let _ = writeln!(out, "| medium | {} |", s.by_risk.medium);
    let _ = writeln!(out, "| high | {} |", s.by_risk.high);
    let _ = writeln!(out, "| **total** | **{}** |\n", s.tasks);
    let d = &s.decisions;
    let _ = writeln!(out, "| decision | tasks |\n| --- | ---: |");
    for (name, count) in [
        ("run", d.run),
        ("excluded", d.excluded),
        ("needs-approval", d.needs_approval),
        ("blocked", d.blocked),
        ("deferred", d.deferred),
    ] {
        let _ = writeln!(out, "| {name} | {count} |");
    }
    let _ = writeln!(
        out,
        "\nForecast: {} for the tasks that run (critical path {}), against a plan budget of {}.\n",
        duration(report.forecast_s),
        duration(report.critical_path_s),
        optional_duration(report.budget_s)
    );

    let _ = writeln!(out, "## Phases\n");
    let _ = writeln!(
        out,
        "| # | phase | approval | run / tasks | budget | forecast | critical path | estimates | starts at |\n| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for (i, phase) in report.phases.iter().enumerate() {
        let running = phase.tasks.iter().filter(|t| t.decision == "run").count();
        let _ = writeln!(
            out,
            "| {} | {} (`{}`) | {} | {running} / {} | {} | {} | {} | {} | {} |",
            i + 1,
            cell(phase.name.as_deref().unwrap_or(&phase.id)),
            phase.id,
            if phase.approval { "yes" } else { "no" },
            phase.tasks.len(),
            optional_duration(phase.budget_s),
            duration(phase.forecast_s),
            duration(phase.critical_path_s),
            duration(phase.estimate_s),
            duration(phase.start_s),
        );
    }
    out.push('\n');
    for (i, phase) in report.phases.iter().enumerate() {
        render_phase(&mut out, i + 1, phase);
    }

    let _ = writeln!(out, "## Warnings\n");
    if report.warnings.is_empty() {
        let _ = writeln!(out, "None.");
    }
    for warning in &report.warnings {
        let _ = writeln!(out, "- {warning}");
    }
    let _ = writeln!(
        out,
        "\n---\n\nThe same facts as `--format json` (format version {}) and `--format html`.",
        report.format_version
    );
    out
}

fn render_phase(out: &mut String, number: usize, phase: &PhaseReport) {
    let _ = writeln!(
        out,
        "### Phase {number}: {} (`{}`)\n",
        phase.name.as_deref().unwrap_or(&phase.id),
        phase.id
    );
    let _ = writeln!(
        out,
        "| task | risk | decision | reason | needs | estimate | forecast | timeout | executor | action | verify | rollback |\n| --- | --- | --- | --- | --- | ---: | ---: | ---: | --- | --- | --- | --- |"
    );
    for task in &phase.tasks {
        render_task(out, task);
    }
    out.push('\n');
    render_groups(out, phase);
    for task in &phase.tasks {
        if let Some(promotion) = super::impact::promotion_sentence(task) {
            let _ = writeln!(out, "- `{}`: {promotion}", task.id);
        }
    }
    if phase.tasks.iter().any(|task| task.promotion.is_some()) {
        out.push('\n');
    }
    for task in &phase.tasks {
        let Some(preview) = &task.preview else {
            continue;
        };
        let _ = writeln!(out, "Preview of `{}`: {}\n", task.id, preview.summary);
        if let Some(error) = &preview.error {
            let _ = writeln!(out, "- preview failed: {error}\n");
        }
        if let Some(blocked) = &preview.blocked {
            let _ = writeln!(out, "- **would be refused**: {blocked}");
        }
        for detail in &preview.details {
            let _ = writeln!(out, "- {}: {}", detail.label, detail.value);
        }
        for change in &preview.changes {
            let _ = writeln!(out, "- {} `{}`", change.change, change.object);
            if let Some(diff) = change.diff.as_deref().filter(|d| !d.trim().is_empty()) {
                let _ = writeln!(
                    out,
                    "\n  ```diff\n  {}\n  ```",
                    diff.trim_end().replace('\n', "\n  ")
                );
            }
        }
        out.push('\n');
    }
}

/// The tasks' resource groups, and the groups that serialise tasks.
fn render_groups(out: &mut String, phase: &PhaseReport) {
    let grouped: Vec<String> = phase
        .tasks
        .iter()
        .filter(|task| !task.exclusive.is_empty())
        .map(|task| format!("`{}` in {}", task.id, ticked(&task.exclusive)))
        .collect();
    if grouped.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "Resource groups (`exclusive`): {}.\n",
        grouped.join("; ")
    );
    for group in &phase.serialised {
        let _ = writeln!(
            out,
            "- Serialised by `{}`: {} run one at a time, whatever the concurrency ({} of estimates in a row)",
            group.group,
            ticked(&group.tasks),
            duration(group.estimate_s)
        );
    }
    if !phase.serialised.is_empty() {
        out.push('\n');
    }
}

fn render_task(out: &mut String, task: &TaskReport) {
    let name = match (&task.name, &task.source) {
        (Some(name), Some(source)) => format!("`{}` {} ({})", task.id, cell(name), cell(source)),
        (Some(name), None) => format!("`{}` {}", task.id, cell(name)),
        (None, Some(source)) => format!("`{}` ({})", task.id, cell(source)),
        (None, None) => format!("`{}`", task.id),
    };
    let _ = writeln!(
        out,
        "| {name} | {} | **{}** | {} | {} | {} | {} | {} | `{}` | `{}` | {} | {} |",
        task.risk,
        task.decision,
        task.reason.as_deref().map(cell).unwrap_or_default(),
        ticked(&task.needs),
        task.estimate_s.map_or_else(|| "-".to_owned(), duration),
        match (task.forecast_start_s, task.forecast_finish_s) {
            (Some(start), Some(finish)) => format!("{} – {}", duration(start), duration(finish)),
            (Some(start), None) => format!("from {}", duration(start)),
            _ => "-".to_owned(),
        },
        duration(task.timeout_s),
        task.executor,
        cell(&task.action),
        task.verify
            .as_deref()
            .map_or_else(|| "-".to_owned(), |v| format!("`{}`", cell(v))),
        task.rollback
            .as_deref()
            .map_or_else(|| "**none**".to_owned(), |r| format!("`{}`", cell(r))),
    );
}
