//! `plangate diff RUN_A RUN_B`: what changed from one run to another.
//!
//! The text form is a header (plan, status, duration, counts) and a table
//! with one row per task, marked like a unified diff: `+` only in the second
//! run, `-` only in the first, `~` changed (phase, decision, state or
//! attempts), blank when alike but for its duration. A changed field reads
//! `a -> b`. Durations always show, with their delta and percentage.
//!
//! Runs of different plans are compared too, with a warning: tasks are
//! matched by id. Like `git diff`, the command exits 0 whatever the
//! difference unless `--exit-code` asks for 1 when the runs differ in
//! anything but durations.

use std::fmt::Write as _;

use plangate_engine::run::{Delta, RunDiff, TaskChange, TaskDiff, TaskSide};

use crate::{
    CliError,
    args::{DiffArgs, StatusFormat},
    commands::{
        Settings, emit, emit_json,
        state::{current_folder, millis, shown_path, started, table},
    },
    exit,
    printer::Printer,
};

/// The exit code of `diff --exit-code` for runs that differ: 1, as `git diff
/// --exit-code` exits (the code a failed task exits with elsewhere).
const RUNS_DIFFER: u8 = exit::FAILED;

/// How many hex digits of a plan hash the text shows, as the reports do.
const SHORT_HASH: usize = 12;

pub(crate) fn diff(
    args: &DiffArgs,
    settings: &Settings,
    printer: &Printer,
) -> Result<u8, CliError> {
    let diff = settings.engine(printer)?.diff(&args.run_a, &args.run_b)?;
    if !diff.same_plan {
        printer.warning(&format!(
            "runs `{}` and `{}` are of different plans (`{}` and `{}`): their tasks are matched by id",
            diff.a.short_id, diff.b.short_id, diff.a.plan, diff.b.plan
        ));
    }
    match args.format {
        StatusFormat::Text => {
            let here = current_folder();
            let now = plangate_engine::state::now_millis();
            emit(&render(&diff, here.as_deref(), now), None, printer)?;
        }
        StatusFormat::Json => emit_json(&diff, None, printer)?,
    }
    Ok(if args.exit_code && diff.differs() {
        RUNS_DIFFER
    } else {
        exit::SUCCESS
    })
}

/// The diff as text.
fn render(diff: &RunDiff, here: Option<&std::path::Path>, now: i64) -> String {
    let (a, b) = (&diff.a, &diff.b);
    let mut out = if diff.same_plan {
        format!(
            "diff of runs {} and {} of plan `{}`\n",
            a.short_id, b.short_id, b.plan
        )
    } else {
        format!(
            "diff of run {} (plan `{}`) and run {} (plan `{}`)\n",
            a.short_id, a.plan, b.short_id, b.plan
        )
    };
    for (label, run) in [("a", a), ("b", b)] {
        let _ = writeln!(
            out,
            "{label}: {}  started {}  {}  {}",
            run.short_id,
            started(run.created_at, now),
            run.status,
            millis(run.duration_ms)
        );
    }
    let (path_a, path_b) = (
        shown_path(&a.plan_path, here),
        shown_path(&b.plan_path, here),
    );
    let _ = writeln!(out, "plan file: {}", change(&path_a, &path_b));
    let short = |hash: &str| hash.chars().take(SHORT_HASH).collect::<String>();
    let _ = writeln!(
        out,
        "plan hash: {}",
        if diff.plan_changed {
            format!(
                "changed, {} -> {}",
                short(&a.plan_hash),
                short(&b.plan_hash)
            )
        } else {
            format!("unchanged, {}", short(&b.plan_hash))
        }
    );
    let _ = writeln!(
        out,
        "status: {}",
        change(a.status.as_str(), b.status.as_str())
    );
    let _ = writeln!(out, "duration: {}", delta(&diff.duration));
    let summary = &diff.summary;
    let _ = writeln!(
        out,
        "tasks: {} added, {} removed, {} changed, {} unchanged",
        summary.added, summary.removed, summary.changed, summary.unchanged
    );
    if diff.tasks.is_empty() {
        return out;
    }
    out.push('\n');
    let mut rows = vec![
        [
            "", "TASK", "PHASE", "DECISION", "STATE", "ATTEMPTS", "DURATION",
        ]
        .map(str::to_owned)
        .to_vec(),
    ];
    rows.extend(diff.tasks.iter().map(task_row));
    out.push_str(&table(&rows));
    out
}

/// One row of the task table.
fn task_row(task: &TaskDiff) -> Vec<String> {
    let marker = match task.change {
        TaskChange::Added => "+",
        TaskChange::Removed => "-",
        TaskChange::Changed => "~",
        TaskChange::Unchanged => "",
    };
    let field = |get: fn(&TaskSide) -> String| match (&task.a, &task.b) {
        (Some(a), Some(b)) => change(&get(a), &get(b)),
        (Some(side), None) | (None, Some(side)) => get(side),
        (None, None) => String::new(),
    };
    let duration = match (&task.duration, &task.a, &task.b) {
        (Some(duration), _, _) => delta(duration),
        (None, a, b) => {
            let shown = |side: &Option<TaskSide>| {
                side.as_ref()
                    .and_then(|side| side.duration_ms)
                    .map_or_else(|| "-".to_owned(), millis)
            };
            match (a, b) {
                (Some(_), Some(_)) => change(&shown(a), &shown(b)),
                (Some(_), None) => shown(a),
                _ => shown(b),
            }
        }
    };
    vec![
        marker.to_owned(),
        task.id.clone(),
        field(|side| side.phase.clone()),
        field(|side| side.decision.as_str().to_owned()),
        field(|side| side.state.as_str().to_owned()),
        field(|side| side.attempts.to_string()),
        duration,
    ]
}

/// `a` when both are equal, else `a -> b`.
fn change(a: &str, b: &str) -> String {
    if a == b {
        a.to_owned()
    } else {
        format!("{a} -> {b}")
    }
}

/// `1.2s -> 0.9s (-0.3s, -25%)`, or `1.2s (no change)`.
fn delta(delta: &Delta) -> String {
    if delta.delta_ms == 0 {
        return format!("{} (no change)", millis(delta.a_ms));
    }
    let sign = if delta.delta_ms < 0 { "-" } else { "+" };
    let amount = millis(delta.delta_ms.unsigned_abs());
    let percent = delta
        .percent
        .map(|percent| format!(", {percent:+}%"))
        .unwrap_or_default();
    format!(
        "{} -> {} ({sign}{amount}{percent})",
        millis(delta.a_ms),
        millis(delta.b_ms)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deltas_show_sign_amount_and_percentage() {
        assert_eq!(delta(&Delta::new(1200, 900)), "1.2s -> 0.9s (-0.3s, -25%)");
        assert_eq!(
            delta(&Delta::new(12, 14)),
            "0.012s -> 0.014s (+0.002s, +16.7%)"
        );
        assert_eq!(delta(&Delta::new(0, 5)), "0s -> 0.005s (+0.005s)");
        assert_eq!(delta(&Delta::new(40, 40)), "0.04s (no change)");
    }

    #[test]
    fn unchanged_fields_show_once() {
        assert_eq!(change("run", "run"), "run");
        assert_eq!(change("succeeded", "failed"), "succeeded -> failed");
    }
}
