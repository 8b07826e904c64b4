//! Commands that read or annotate the state file: `approve`, `status`, `runs`,
//! `report`. They ask the engine; none opens the store itself.
//!
//! `runs` prints an aligned table like `kubectl get`: upper-case headers,
//! columns two spaces apart, times as an age (`5m`, `3h12m`, `2d`, kubectl's
//! AGE rounding). `status` prints the run as a tree of phases and tasks, like
//! `tree`. Single-run views give the RFC 3339 time in UTC and the age; the
//! table gives the age alone.

use std::{
    fmt::Write as _,
    path::{Path, PathBuf},
    time::Duration,
};

use plangate_engine::{
    report::{render_run_html, render_run_markdown, rfc3339},
    run::{PhaseTree, RunFilter, RunListing, RunTree, RunsDocument, TaskLeaf, stale_approval},
    state::{ApprovalRecord, ApprovalTarget, RunStatus, TaskState, now_millis},
};
use plangate_plans::{format_duration, text::plural};

use crate::{
    CliError,
    args::{ApproveArgs, ReportArgs, ReportFormat, RunsArgs, StatusArgs, StatusFormat},
    commands::{Settings, emit, emit_json},
    exit,
    printer::Printer,
};

pub(crate) fn approve(
    args: &ApproveArgs,
    settings: &Settings,
    printer: &Printer,
) -> Result<u8, CliError> {
    let by = args.approved_by.as_deref().unwrap_or(&settings.approver);
    let approval =
        settings
            .engine(printer)?
            .approve(&args.run, &args.target, by, args.reason.as_deref())?;
    let what = match &approval.target {
        ApprovalTarget::Task(id) => format!("task `{id}`"),
        ApprovalTarget::Phase(id) => format!("phase `{id}`"),
    };
    printer.status(&format!(
        "approved {what} of run {} as {} at {}",
        approval.short_run,
        approval.approved_by,
        rfc3339(approval.at)
    ));
    printer.status(&format!(
        "the approval is for plan {}: it counts while the run's plan is that plan",
        approval.plan_hash
    ));
    if approval.approvers < approval.needed as usize {
        printer.hint(&format!(
            "{} of the {} distinct approvers `policy.approvers` asks for have approved; another approver runs `plangate approve {} {}`",
            approval.approvers,
            approval.needed,
            approval.short_run,
            approval.target.id()
        ));
    } else {
        printer.hint(&format!(
            "continue with `plangate resume {}`",
            approval.short_run
        ));
    }
    Ok(exit::SUCCESS)
}

/// `plangate revoke RUN TASK|PHASE`: a verb of its own rather than an
/// `approve --revoke` flag, as kubectl pairs `cordon`/`uncordon` and
/// `certificate approve`/`deny` and terraform `taint`/`untaint`: the opposite
/// act reads as its own command in a shell history and an audit log.
pub(crate) fn revoke(
    args: &ApproveArgs,
    settings: &Settings,
    printer: &Printer,
) -> Result<u8, CliError> {
    let by = args.approved_by.as_deref().unwrap_or(&settings.approver);
    let revoked =
        settings
            .engine(printer)?
            .revoke(&args.run, &args.target, by, args.reason.as_deref())?;
    let approvers: Vec<&str> = revoked
        .revoked
        .iter()
        .map(|approval| approval.approved_by.as_str())
        .collect();
    printer.status(&format!(
        "revoked the approval of {} `{}` of run {} by {} (as {by})",
        revoked.target.kind(),
        revoked.target.id(),
        revoked.short_run,
        plangate_plans::text::and_ticked(&approvers)
    ));
    Ok(exit::SUCCESS)
}

pub(crate) fn status(
    args: &StatusArgs,
    settings: &Settings,
    printer: &Printer,
) -> Result<u8, CliError> {
    let engine = settings.engine(printer)?;
    match args.format {
        StatusFormat::Text => {
            let tree = engine.status_tree(args.run.as_deref())?;
            let glyphs = if args.ascii { &ASCII } else { &BOX };
            let here = current_folder();
            let text = render_tree(&tree, glyphs, now_millis(), here.as_deref());
            emit(&text, None, printer)?;
        }
        StatusFormat::Json => emit_json(&engine.status(args.run.as_deref())?, None, printer)?,
    }
    Ok(exit::SUCCESS)
}

pub(crate) fn runs(
    args: &RunsArgs,
    settings: &Settings,
    printer: &Printer,
) -> Result<u8, CliError> {
    let mut filter = RunFilter::default();
    filter.limit = args
        .limit
        .map(|limit| usize::try_from(limit).unwrap_or(usize::MAX));
    filter.statuses = args
        .status
        .iter()
        .map(|text| {
            text.parse::<RunStatus>()
                .expect("clap accepts only the spellings of RunStatus::ALL")
        })
        .collect();
    filter.plan_path = args.plan.as_deref().map(plan_path);
    let runs = settings.engine(printer)?.runs(&filter)?;
    if args.format == StatusFormat::Json {
        emit_json(&RunsDocument::new(&runs), None, printer)?;
        return Ok(exit::SUCCESS);
    }
    if runs.is_empty() {
        let filtered = args.limit.is_some() || !args.status.is_empty() || args.plan.is_some();
        printer.status(if filtered {
            "no runs match"
        } else {
            "no runs yet"
        });
        return Ok(exit::SUCCESS);
    }
    let now = now_millis();
    let here = current_folder();
    let mut rows: Vec<Vec<String>> = Vec::with_capacity(runs.len() + 1);
    if !args.no_headers {
        rows.push(
            [
                "ID", "PLAN", "FILE", "STATUS", "STARTED", "DURATION", "TASKS",
            ]
            .map(str::to_owned)
            .to_vec(),
        );
    }
    rows.extend(runs.iter().map(|run| run_row(run, here.as_deref(), now)));
    emit(&table(&rows), None, printer)?;
    Ok(exit::SUCCESS)
}

/// One row of the `runs` table.
fn run_row(run: &RunListing, here: Option<&Path>, now: i64) -> Vec<String> {
    vec![
        run.short_id.clone(),
        run.record.plan_name.to_string(),
        shown_path(&run.record.plan_path, here),
        run.record.status.as_str().to_owned(),
        age(now - run.record.created_at),
        millis(run.duration_ms()),
        format!("{}/{}", run.tasks.succeeded, run.tasks.total),
    ]
}

/// The plan file as `--plan` names it, in the form runs store it: absolute
/// and canonical when it exists (a plan file deleted since its runs is
/// still matched by its absolute path).
fn plan_path(path: &Path) -> PathBuf {
    path.canonicalize()
        .or_else(|_| std::path::absolute(path))
        .unwrap_or_else(|_| path.to_owned())
}

/// The current folder, canonical like the stored plan paths (so that a
/// folder reached through a symbolic link still shows them relative).
pub(super) fn current_folder() -> Option<PathBuf> {
    std::env::current_dir()
        .and_then(|folder| folder.canonicalize())
        .ok()
}

/// A stored (absolute) plan path relative to the current directory when it
/// lies below it, else as stored.
pub(super) fn shown_path(path: &Path, here: Option<&Path>) -> String {
    here.and_then(|here| path.strip_prefix(here).ok())
        .filter(|relative| !relative.as_os_str().is_empty())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Rows as columns two spaces apart, each as wide as its widest cell, with
/// no trailing spaces.
pub(super) fn table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|column| {
            rows.iter()
                .filter_map(|row| row.get(column))
                .map(|cell| cell.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (cell, width) in row.iter().zip(&widths) {
            let _ = write!(line, "{cell:<width$}  ");
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Milliseconds as `0.139s`, `1m30s`: the reports' spelling of a duration.
pub(super) fn millis(ms: u64) -> String {
    format_duration(Duration::from_millis(ms))
}

/// How long ago, from milliseconds elapsed, rounded as kubectl's AGE column
/// rounds (`kubectl get`'s `HumanDuration`): `42s`, `3m12s` under ten
/// minutes, `45m`, `5h3m` under eight hours, `30h`, `3d4h` under eight days,
/// `200d`, `3y20d` under eight years, `9y`. A time in the future, which
/// only a clock set back records, is `<invalid>` beyond a second of skew,
/// as in kubectl.
pub(super) fn age(elapsed_ms: i64) -> String {
    // kubectl forgives a second of clock skew.
    let Ok(ms) = u64::try_from(elapsed_ms) else {
        return if elapsed_ms > -2000 {
            "0s".to_owned()
        } else {
            "<invalid>".to_owned()
        };
    };
    let seconds = ms / 1000;
    let (minutes, hours) = (seconds / 60, seconds / 3600);
    let days = hours / 24;
    if seconds < 120 {
        format!("{seconds}s")
    } else if minutes < 10 {
        match seconds % 60 {
            0 => format!("{minutes}m"),
            rest => format!("{minutes}m{rest}s"),
        }
    } else if minutes < 3 * 60 {
        format!("{minutes}m")
    } else if hours < 8 {
        match minutes % 60 {
            0 => format!("{hours}h"),
            rest => format!("{hours}h{rest}m"),
        }
    } else if hours < 48 {
        format!("{hours}h")
    } else if hours < 8 * 24 {
        match hours % 24 {
            0 => format!("{days}d"),
            rest => format!("{days}d{rest}h"),
        }
    } else if days < 2 * 365 {
        format!("{days}d")
    } else if days < 8 * 365 {
        match days % 365 {
            0 => format!("{}y", days / 365),
            rest => format!("{}y{rest}d", days / 365),
        }
    } else {
        format!("{}y", days / 365)
    }
}

/// `2026-12-03T12:50:01Z (5m ago)`: a time in a single-run view.
pub(super) fn started(at: i64, now: i64) -> String {
    format!("{} ({} ago)", rfc3339(at), age(now - at))
}

/// The characters a tree is drawn with.
struct Glyphs {
    branch: &'static str,
    last: &'static str,
    pipe: &'static str,
    space: &'static str,
}

/// `tree`'s box-drawing characters.
const BOX: Glyphs = Glyphs {
    branch: "├── ",
    last: "└── ",
    pipe: "│   ",
    space: "    ",
};

/// `tree --charset ascii`.
const ASCII: Glyphs = Glyphs {
    branch: "|-- ",
    last: "`-- ",
    pipe: "|   ",
    space: "    ",
};

/// `plangate status` as text: a header, the deferred tasks (first, as in
/// every rendering), the tree of phases and tasks, then the approvals.
fn render_tree(tree: &RunTree, glyphs: &Glyphs, now: i64, here: Option<&Path>) -> String {
    let record = &tree.record;
    let mut out = format!(
        "run {} of plan `{}`: {}",
        record.id, record.plan_name, record.status
    );
    if let Some(reason) = &record.exit_reason {
        let _ = write!(out, " ({reason})");
    }
    out.push('\n');
    let _ = writeln!(
        out,
        "started {}, {} {}; {} of {} succeeded",
        started(record.created_at, now),
        if record.finished_at.is_some() {
            "took"
        } else {
            "so far"
        },
        millis(tree.duration_ms()),
        tree.tasks.succeeded,
        plural(
            usize::try_from(tree.tasks.total).unwrap_or(usize::MAX),
            "task",
            "tasks"
        ),
    );
    let deferred: Vec<&TaskLeaf> = tree.deferred().collect();
    if !deferred.is_empty() {
        let _ = writeln!(
            out,
            "{} (raise the used-up limit in the plan, then resume):",
            plural(deferred.len(), "task deferred", "tasks deferred")
        );
        let rows: Vec<Vec<String>> = deferred
            .iter()
            .map(|task| {
                vec![
                    format!("  {}", task.id),
                    task.reason.clone().unwrap_or_default(),
                ]
            })
            .collect();
        out.push_str(&table(&rows));
    }
    let _ = writeln!(
        out,
        "plan `{}` ({}){}",
        record.plan_name,
        shown_path(&record.plan_path, here),
        limits_text(tree)
    );
    let rows = task_rows(&tree.phases);
    let mut row = rows.iter();
    for (index, phase) in tree.phases.iter().enumerate() {
        let last_phase = index + 1 == tree.phases.len();
        let _ = writeln!(
            out,
            "{}{}",
            if last_phase {
                glyphs.last
            } else {
                glyphs.branch
            },
            phase_text(phase)
        );
        let indent = if last_phase {
            glyphs.space
        } else {
            glyphs.pipe
        };
        for (task_index, _) in phase.tasks.iter().enumerate() {
            let last_task = task_index + 1 == phase.tasks.len();
            let line = format!(
                "{indent}{}{}",
                if last_task {
                    glyphs.last
                } else {
                    glyphs.branch
                },
                row.next().expect("one row per task")
            );
            out.push_str(line.trim_end());
            out.push('\n');
        }
    }
    if !tree.approvals.is_empty() {
        out.push_str("approvals:\n");
        for approval in &tree.approvals {
            let _ = writeln!(out, "  {}", approval_line(approval, &tree.record.plan_hash));
        }
    }
    out
}

/// `: used 1.2s of its 10m budget, max_tasks 20, concurrency 2`.
fn limits_text(tree: &RunTree) -> String {
    let used = millis(tree.record.used_ms);
    let Some(limits) = tree.limits else {
        return format!(": used {used} (its limits are unknown: the plan as run no longer loads)");
    };
    let mut parts = vec![match limits.budget_ms {
        Some(budget) => format!("used {used} of its {} budget", millis(budget)),
        None => format!("used {used}, no budget"),
    }];
    if let Some(max_tasks) = limits.max_tasks {
        parts.push(format!("max_tasks {max_tasks}"));
    }
    parts.push(format!("concurrency {}", limits.concurrency));
    format!(": {}", parts.join(", "))
}

/// `build (Build): 3/3 succeeded, used 0.2s of its 2m budget`.
fn phase_text(phase: &PhaseTree) -> String {
    let succeeded = phase
        .tasks
        .iter()
        .filter(|task| task.state == TaskState::Succeeded)
        .count();
    let name = phase
        .name
        .as_ref()
        .map(|name| format!(" ({name})"))
        .unwrap_or_default();
    let budget = match phase.budget_ms {
        Some(budget) => format!(
            "used {} of its {} budget",
            millis(phase.used_ms),
            millis(budget)
        ),
        None => format!("used {}, no budget", millis(phase.used_ms)),
    };
    format!(
        "{}{name}: {succeeded}/{} succeeded, {budget}",
        phase.id,
        phase.tasks.len()
    )
}

/// The task lines of every phase, aligned as one table across the tree:
/// id, state, attempts, duration, reason.
fn task_rows(phases: &[PhaseTree]) -> Vec<String> {
    let rows: Vec<Vec<String>> = phases
        .iter()
        .flat_map(|phase| &phase.tasks)
        .map(|task| {
            vec![
                task.id.clone(),
                task.state.as_str().to_owned(),
                plural(
                    usize::try_from(task.attempts).unwrap_or(usize::MAX),
                    "attempt",
                    "attempts",
                ),
                task.duration_ms.map_or_else(|| "-".to_owned(), millis),
                task.reason.clone().unwrap_or_default(),
            ]
        })
        .collect();
    table(&rows).lines().map(str::to_owned).collect()
}

/// `task `publish` approved by alice at 2026-12-02T02:44:30Z: looks right`,
/// as the reports word it.
fn approval_line(approval: &ApprovalRecord, plan_hash: &str) -> String {
    let (kind, target) = match &approval.target {
        ApprovalTarget::Task(id) => ("task", id.as_str()),
        ApprovalTarget::Phase(id) => ("phase", id.as_str()),
    };
    let mut line = format!(
        "{kind} `{target}` approved by {} at {}: {}",
        approval.approved_by,
        rfc3339(approval.at),
        approval.reason.as_deref().unwrap_or("no reason given")
    );
    if let Some(at) = approval.used_at {
        let _ = write!(line, "; used at {}", rfc3339(at));
    }
    if let Some(revocation) = &approval.revoked {
        let _ = write!(
            line,
            "; revoked by {} at {}: {}",
            revocation.by,
            rfc3339(revocation.at),
            revocation.reason.as_deref().unwrap_or("no reason given")
        );
    } else if let Some(why) = stale_approval(approval, plan_hash) {
        let _ = write!(line, "; does not count: {why}");
    }
    line
}

pub(crate) fn report(
    args: &ReportArgs,
    settings: &Settings,
    printer: &Printer,
) -> Result<u8, CliError> {
    let report = settings.engine(printer)?.report(args.run.as_deref())?;
    let output = args.output.as_deref();
    match args.format {
        ReportFormat::Markdown => emit(&render_run_markdown(&report), output, printer)?,
        ReportFormat::Json => emit_json(&report, output, printer)?,
        ReportFormat::Html => emit(&render_run_html(&report), output, printer)?,
    }
    Ok(exit::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_round_as_kubectl_does() {
        let second = 1000;
        let minute = 60 * second;
        let hour = 60 * minute;
        let day = 24 * hour;
        let cases = [
            (0, "0s"),
            (119 * second, "119s"),
            (2 * minute, "2m"),
            (3 * minute + 12 * second, "3m12s"),
            (45 * minute + 30 * second, "45m"),
            (5 * hour + 3 * minute, "5h3m"),
            (30 * hour, "30h"),
            (3 * day + 4 * hour, "3d4h"),
            (200 * day, "200d"),
            (3 * 365 * day + 20 * day, "3y20d"),
            (9 * 365 * day, "9y"),
            (-1999, "0s"),
            (-2000, "<invalid>"),
        ];
        for (elapsed, expected) in cases {
            assert_eq!(age(elapsed), expected, "{elapsed} ms");
        }
    }

    #[test]
    fn tables_align_columns_without_trailing_spaces() {
        let rows = [
            vec!["ID".to_owned(), "PLAN".to_owned(), "X".to_owned()],
            vec!["abc123".to_owned(), "q".to_owned(), String::new()],
        ];
        assert_eq!(table(&rows), "ID      PLAN  X\nabc123  q\n");
    }

    #[test]
    fn plan_paths_are_shown_relative_below_the_current_folder() {
        let here = Path::new("/work/site");
        let shown = |path: &str| shown_path(Path::new(path), Some(here));
        assert_eq!(shown("/work/site/plan.yaml"), "plan.yaml");
        assert_eq!(shown("/work/site/ops/a.yaml"), "ops/a.yaml");
        assert_eq!(shown("/elsewhere/plan.yaml"), "/elsewhere/plan.yaml");
        assert_eq!(shown_path(Path::new("/a.yaml"), None), "/a.yaml");
    }
}
