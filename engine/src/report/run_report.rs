//! What happened in a run, with evidence: `plangate status` and `plangate report`.
//!
//! Everything comes from the state file: the stored plan text (for names,
//! budgets and forecasts), task rows, attempts with exit codes and output
//! tails, and approvals. A task is reported complete only when the attempts
//! prove it: its last `run` succeeded and, when it declares a `verify`, a
//! `verify` succeeded after that run.

use std::{collections::HashMap, fmt::Write as _, path::PathBuf};

use plangate_plans::{Approvals, Plan, SourceFile, decide, format_duration, parse_plan};
use plangate_state::{
    ApprovalTarget, AttemptOutcome, AttemptRecord, AttemptRole, RunStatus, Store, TaskState,
};
use serde::Serialize;

use super::{escape_html, schema::FORMAT_VERSION};
use crate::run::RunError;

/// `plangate status --format json`.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct StatusReport {
    /// [`FORMAT_VERSION`].
    pub format_version: u32,
    /// Run id.
    pub run: String,
    /// Plan name.
    pub plan: String,
    /// Run status.
    pub status: RunStatus,
    /// Why the run is in this status.
    pub reason: Option<String>,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds, when the run ended.
    pub finished_at: Option<i64>,
    /// Tasks in run order.
    pub tasks: Vec<TaskStatus>,
}

/// One task of [`StatusReport`].
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct TaskStatus {
    /// Task id.
    pub id: String,
    /// Phase id.
    pub phase: String,
    /// Task state.
    pub state: TaskState,
    /// How many times its `run` action was started, across resumes.
    pub attempts: u32,
    /// Why it is in this state.
    pub reason: Option<String>,
    /// Whether a `verify` passed (`null` when none ran).
    pub verified: Option<bool>,
}

/// Reads the status of a run (the latest when `run` is `None`).
pub fn status_report(
    store: &Store,
    run: Option<&str>,
    path: &std::path::Path,
) -> Result<StatusReport, RunError> {
    let record = crate::run::find_run_record(store, run, path)?;
    let tasks = store
        .tasks(&record.id)?
        .into_iter()
        .map(|t| TaskStatus {
            id: t.task_id.to_string(),
            phase: t.phase_id.to_string(),
            state: t.state,
            attempts: t.attempts,
            reason: t.state_reason.or(match t.state {
                TaskState::Excluded
                | TaskState::Blocked
                | TaskState::Deferred
                | TaskState::NeedsApproval => t.reason,
                _ => None,
            }),
            verified: t.verified,
        })
        .collect();
    Ok(StatusReport {
        format_version: FORMAT_VERSION,
        run: record.id.to_string(),
        plan: record.plan_name.to_string(),
        status: record.status,
        reason: record.exit_reason,
        created_at: record.created_at,
        finished_at: record.finished_at,
        tasks,
    })
}

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
        let _ = writeln!(
            out,
            "{:<width$}  {:<phase_width$}  {:<15}  {:>8}  {}",
            task.id,
            task.phase,
            task.state.as_str(),
            task.attempts,
            task.reason.as_deref().unwrap_or("")
        );
    }
    out
}

/// `plangate report --format json`.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct RunReport {
    /// [`FORMAT_VERSION`].
    pub format_version: u32,
    /// Run id.
    pub run: String,
    /// Plan name.
    pub plan: String,
    /// The plan file.
    pub plan_path: PathBuf,
    /// Environment label.
    pub environment: String,
    /// Run status.
    pub status: RunStatus,
    /// Why the run is in this status.
    pub reason: Option<String>,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds.
    pub finished_at: Option<i64>,
    /// Tasks by outcome.
    pub summary: RunSummary,
    /// Phases in run order.
    pub phases: Vec<PhaseOutcome>,
    /// Approvals, oldest first.
    pub approvals: Vec<ApprovalReport>,
    /// Tasks that did not complete, with why.
    pub not_done: Vec<NotDone>,
}

/// Counts of [`RunReport`].
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct RunSummary {
    /// Number of tasks.
    pub tasks: usize,
    /// Tasks whose completion is proven by recorded attempts.
    pub completed: usize,
    /// Tasks per state.
    pub by_state: std::collections::BTreeMap<String, usize>,
}

/// A phase of [`RunReport`].
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct PhaseOutcome {
    /// Phase id.
    pub id: String,
    /// Display name.
    pub name: Option<String>,
    /// Budget in seconds.
    pub budget_s: Option<u64>,
    /// The dry run's forecast for the phase, in seconds.
    pub forecast_s: u64,
    /// Wall time from the first attempt's start to the last attempt's end.
    pub used_s: u64,
    /// Tasks in run order.
    pub tasks: Vec<TaskOutcome>,
}

/// A task of [`RunReport`].
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct TaskOutcome {
    /// Task id.
    pub id: String,
    /// Display name.
    pub name: Option<String>,
    /// Risk.
    pub risk: String,
    /// State.
    pub state: TaskState,
    /// Why it is in this state.
    pub reason: Option<String>,
    /// Proven complete by its attempts.
    pub complete: bool,
    /// What proves it, or why it is not proven.
    pub evidence: String,
    /// Started `run` actions.
    pub attempts: u32,
    /// Every attempt (run, verify, rollback), oldest first.
    pub history: Vec<AttemptReport>,
}

/// An attempt of [`TaskOutcome`].
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct AttemptReport {
    /// `run`, `verify` or `rollback`.
    pub role: AttemptRole,
    /// 1-based per role.
    pub number: u32,
    /// The command, redacted.
    pub command: String,
    /// Outcome; `null` while in flight.
    pub outcome: Option<AttemptOutcome>,
    /// Exit code.
    pub exit_code: Option<i32>,
    /// Signal that ended it.
    pub signal: Option<i32>,
    /// Duration in milliseconds.
    pub duration_ms: Option<u64>,
    /// Unix milliseconds.
    pub started_at: i64,
    /// The last lines of stdout.
    pub stdout_tail: Option<String>,
    /// The last lines of stderr.
    pub stderr_tail: Option<String>,
}

/// An approval of [`RunReport`].
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct ApprovalReport {
    /// `task` or `phase`.
    pub kind: String,
    /// Task or phase id.
    pub target: String,
    /// Who.
    pub approved_by: String,
    /// Why.
    pub reason: Option<String>,
    /// Unix milliseconds.
    pub at: i64,
}

/// A task that did not complete.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct NotDone {
    /// Task id.
    pub id: String,
    /// State.
    pub state: TaskState,
    /// Why.
    pub reason: Option<String>,
}

const TAIL_LINES: usize = 10;

fn tail(text: Option<String>) -> Option<String> {
    let text = text?;
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(TAIL_LINES);
    let out = lines[start..].join("\n");
    (!out.is_empty()).then_some(out)
}

/// Whether the attempts prove the task complete, and how.
fn evidence(attempts: &[AttemptRecord], has_verify: bool) -> (bool, String) {
    let last_run = attempts.iter().rposition(|a| a.role == AttemptRole::Run);
    let Some(run_at) = last_run else {
        return (false, "no `run` attempt recorded".to_owned());
    };
    let run = &attempts[run_at];
    let verify = attempts[run_at..]
        .iter()
        .rev()
        .find(|a| a.role == AttemptRole::Verify);
    let run_ok = run.outcome == Some(AttemptOutcome::Succeeded);
    match (has_verify, verify) {
        (true, Some(v)) if v.outcome == Some(AttemptOutcome::Succeeded) => {
            (true, format!("verified: `{}` exited 0", v.command))
        }
        (true, Some(v)) => (
            false,
            format!("verify `{}` did not pass ({})", v.command, outcome_text(v)),
        ),
        (true, None) if run_ok => (
            false,
            "`run` succeeded but `verify` was not recorded".to_owned(),
        ),
        (false, _) if run_ok => (
            true,
            format!("`run` exited 0 (no `verify` declared): `{}`", run.command),
        ),
        (true | false, _) => (
            false,
            format!("`run` did not succeed ({})", outcome_text(run)),
        ),
    }
}

fn outcome_text(attempt: &AttemptRecord) -> String {
    let outcome = attempt.outcome.map_or("in flight", AttemptOutcome::as_str);
    match (attempt.exit_code, attempt.signal) {
        (Some(code), _) => format!("{outcome}, exit code {code}"),
        (None, Some(signal)) => format!("{outcome}, signal {signal}"),
        _ => outcome.to_owned(),
    }
}

/// Builds the report of a run from the state file.
pub fn run_report(
    store: &Store,
    run: Option<&str>,
    path: &std::path::Path,
) -> Result<RunReport, RunError> {
    let record = crate::run::find_run_record(store, run, path)?;
    let base_dir = record
        .plan_path
        .parent()
        .map_or_else(|| PathBuf::from("."), std::path::Path::to_path_buf);
    let plan: Option<Plan> = parse_plan(
        SourceFile::new(&record.plan_path, record.plan_text.clone()),
        base_dir,
    )
    .ok();
    let approvals = store.approvals(&record.id)?;
    let forecast = plan.as_ref().map(|plan| {
        let mut granted = Approvals::default();
        for approval in &approvals {
            match &approval.target {
                ApprovalTarget::Task(id) => granted.tasks.insert(id.clone()),
                ApprovalTarget::Phase(id) => granted.phases.insert(id.clone()),
            };
        }
        decide(plan, &granted)
    });
    let tasks = store.tasks(&record.id)?;
    // A rollback that found no rollback action leaves the task's changes in
    // place; the journal says so, and so must the report.
    let left_in_place: std::collections::HashSet<String> = store
        .events(&record.id)?
        .into_iter()
        .filter(|event| event.kind == "rollback-skipped")
        .filter_map(|event| event.task_id.map(|id| id.to_string()))
        .collect();
    let mut attempts_by_task: HashMap<String, Vec<AttemptRecord>> = HashMap::new();
    for attempt in store.attempts(&record.id, None)? {
        attempts_by_task
            .entry(attempt.task_id.to_string())
            .or_default()
            .push(attempt);
    }
    let mut phases: Vec<PhaseOutcome> = Vec::new();
    let mut by_state = std::collections::BTreeMap::new();
    let mut completed = 0;
    let mut not_done = Vec::new();
    for task in &tasks {
        let planned = plan.as_ref().and_then(|p| p.task(task.task_id.as_str()));
        let attempts = attempts_by_task
            .remove(task.task_id.as_str())
            .unwrap_or_default();
        let (complete, evidence) = if task.state == TaskState::Succeeded {
            evidence(&attempts, planned.is_none_or(|t| t.verify.is_some()))
        } else {
            (false, format!("not complete: {}", task.state))
        };
        *by_state.entry(task.state.as_str().to_owned()).or_insert(0) += 1;
        if complete {
            completed += 1;
        } else {
            not_done.push(NotDone {
                id: task.task_id.to_string(),
                state: task.state,
                reason: task
                    .state_reason
                    .clone()
                    .or_else(|| task.reason.clone())
                    .or_else(|| (task.state == TaskState::Succeeded).then(|| evidence.clone())),
            });
        }
        let outcome = TaskOutcome {
            id: task.task_id.to_string(),
            name: planned.and_then(|t| t.name.clone()),
            risk: task.risk.to_string(),
            state: task.state,
            reason: task.state_reason.clone().or_else(|| {
                left_in_place.contains(task.task_id.as_str()).then(|| {
                    "a rollback was requested but the task declares none: its changes are left in place"
                        .to_owned()
                })
            }),
            complete,
            evidence,
            attempts: task.attempts,
            history: attempts
                .iter()
                .map(|a| AttemptReport {
                    role: a.role,
                    number: a.number,
                    command: a.command.clone(),
                    outcome: a.outcome,
                    exit_code: a.exit_code,
                    signal: a.signal,
                    duration_ms: a.duration_ms,
                    started_at: a.started_at,
                    stdout_tail: tail(a.stdout_tail.clone()),
                    stderr_tail: tail(a.stderr_tail.clone()),
                })
                .collect(),
        };
        let span = attempts
            .iter()
            .map(|a| (a.started_at, a.finished_at.unwrap_or(a.started_at)))
            .fold(None, |acc: Option<(i64, i64)>, (s, e)| {
                Some(acc.map_or((s, e), |(a, b)| (a.min(s), b.max(e))))
            });
        match phases.last_mut() {
            Some(phase) if phase.id == task.phase_id.as_str() => {
                phase.tasks.push(outcome);
                extend_used(phase, span);
            }
            _ => {
                let phase_plan = plan
                    .as_ref()
                    .and_then(|p| p.phase_index(task.phase_id.as_str()).map(|i| (p, i)));
                let mut phase = PhaseOutcome {
                    id: task.phase_id.to_string(),
                    name: phase_plan.and_then(|(p, i)| p.phases[i].name.clone()),
                    budget_s: phase_plan
                        .and_then(|(p, i)| p.phases[i].budget)
                        .map(|b| b.as_secs()),
                    forecast_s: phase_plan
                        .and_then(|(_, i)| {
                            forecast.as_ref().map(|f| f.phases[i].forecast.as_secs())
                        })
                        .unwrap_or(0),
                    used_s: 0,
                    tasks: vec![outcome],
                };
                extend_used(&mut phase, span);
                phases.push(phase);
            }
        }
    }
    let _ = &mut phases;
    Ok(RunReport {
        format_version: FORMAT_VERSION,
        run: record.id.to_string(),
        plan: record.plan_name.to_string(),
        plan_path: record.plan_path.clone(),
        environment: record.environment.clone(),
        status: record.status,
        reason: record.exit_reason.clone(),
        created_at: record.created_at,
        finished_at: record.finished_at,
        summary: RunSummary {
            tasks: tasks.len(),
            completed,
            by_state,
        },
        phases,
        approvals: approvals
            .into_iter()
            .map(|a| {
                let (kind, target) = match a.target {
                    ApprovalTarget::Task(id) => ("task", id),
                    ApprovalTarget::Phase(id) => ("phase", id),
                };
                ApprovalReport {
                    kind: kind.to_owned(),
                    target,
                    approved_by: a.approved_by,
                    reason: a.reason,
                    at: a.at,
                }
            })
            .collect(),
        not_done,
    })
}

/// Phase wall time is tracked as the span of its attempts; the span is kept
/// in `used_s` as seconds, widened task by task.
fn extend_used(phase: &mut PhaseOutcome, span: Option<(i64, i64)>) {
    if let Some((start, end)) = span {
        let seconds = u64::try_from((end - start).max(0) / 1000).unwrap_or(0);
        phase.used_s = phase.used_s.max(seconds);
    }
}

fn seconds(s: u64) -> String {
    format_duration(std::time::Duration::from_secs(s))
}

fn millis(ms: Option<u64>) -> String {
    ms.map_or_else(
        || "-".to_owned(),
        |ms| format_duration(std::time::Duration::from_millis(ms)),
    )
}

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
            "## {} (`{}`)\n\nBudget {}, forecast {}, used {}.\n",
            phase.name.as_deref().unwrap_or(&phase.id),
            phase.id,
            phase.budget_s.map_or_else(|| "none".to_owned(), seconds),
            seconds(phase.forecast_s),
            seconds(phase.used_s)
        );
        let _ = writeln!(
            out,
            "| task | risk | state | complete | evidence | attempts |\n| --- | --- | --- | --- | --- | ---: |"
        );
        for task in &phase.tasks {
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} | {} | {} |",
                task.id,
                task.risk,
                task.state,
                if task.complete { "yes" } else { "no" },
                task.evidence.replace('|', "\\|"),
                task.attempts
            );
        }
        out.push('\n');
        for task in phase.tasks.iter().filter(|t| !t.history.is_empty()) {
            let _ = writeln!(out, "### `{}`\n", task.id);
            for attempt in &task.history {
                let _ = writeln!(
                    out,
                    "- {} #{}: `{}`: {} in {}",
                    attempt.role,
                    attempt.number,
                    attempt.command,
                    attempt_status(attempt),
                    millis(attempt.duration_ms)
                );
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
    let _ = writeln!(out, "## Approvals\n");
    if report.approvals.is_empty() {
        let _ = writeln!(out, "None.\n");
    }
    for approval in &report.approvals {
        let _ = writeln!(
            out,
            "- {} `{}` approved by {} at {} ms: {}",
            approval.kind,
            approval.target,
            approval.approved_by,
            approval.at,
            approval.reason.as_deref().unwrap_or("no reason given")
        );
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
            task.reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        );
    }
    out
}

fn attempt_status(attempt: &AttemptReport) -> String {
    let outcome = attempt.outcome.map_or("in flight", AttemptOutcome::as_str);
    match (attempt.exit_code, attempt.signal) {
        (Some(code), _) => format!("{outcome} (exit {code})"),
        (None, Some(signal)) => format!("{outcome} (signal {signal})"),
        _ => outcome.to_owned(),
    }
}

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
