//! Reading the status and the report of a run from the state file.

use std::collections::HashMap;

use plangate_executors::error_line;
use plangate_plans::{PhaseId, Plan, decide, load_plan_text};
use plangate_state::{
    ApprovalRecord, ApprovalTarget, AttemptOutcome, AttemptRecord, AttemptRole, Store, TaskState,
};

use super::schema::{
    ApprovalReport, AttemptReport, NotDone, PhaseOutcome, RunReport, RunSummary, StatusReport,
    TaskOutcome, TaskStatus,
};
use crate::{report::schema::FORMAT_VERSION, run::RunError};

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
        .collect::<Vec<_>>();
    let deferred = tasks
        .iter()
        .filter(|t| t.state == TaskState::Deferred)
        .map(|t| NotDone {
            id: t.id.clone(),
            state: t.state,
            reason: t.reason.clone(),
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
        deferred,
        tasks,
        approvals: store
            .approvals(&record.id)?
            .into_iter()
            .map(|approval| approval_report(approval, &record.plan_hash))
            .collect(),
    })
}

fn approval_report(approval: ApprovalRecord, plan_hash: &str) -> ApprovalReport {
    let not_counted = crate::run::stale_approval(&approval, plan_hash);
    let (kind, target) = match approval.target {
        ApprovalTarget::Task(id) => ("task", id.to_string()),
        ApprovalTarget::Phase(id) => ("phase", id.to_string()),
    };
    let revoked = approval.revoked;
    ApprovalReport {
        kind: kind.to_owned(),
        target,
        approved_by: approval.approved_by,
        reason: approval.reason,
        at: approval.at,
        plan_hash: approval.plan_hash,
        counts: not_counted.is_none(),
        not_counted,
        used_at: approval.used_at,
        revoked_by: revoked.as_ref().map(|revocation| revocation.by.clone()),
        revoked_at: revoked.as_ref().map(|revocation| revocation.at),
        revoke_reason: revoked.and_then(|revocation| revocation.reason),
    }
}

const TAIL_LINES: usize = 10;

fn tail(text: Option<String>) -> Option<String> {
    let text = text?;
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(TAIL_LINES);
    let out = lines[start..].join("\n");
    (!out.is_empty()).then_some(out)
}

/// Whether the attempts prove the task complete, and how. `checks` is how
/// many checks the task's `verify` lists (0: none); every one of them must
/// have passed after the last `run` attempt.
fn evidence(attempts: &[AttemptRecord], checks: usize) -> (bool, String) {
    let has_verify = checks > 0;
    let last_run = attempts.iter().rposition(|a| a.role == AttemptRole::Run);
    let Some(run_at) = last_run else {
        return (false, "no `run` attempt recorded".to_owned());
    };
    let run = &attempts[run_at];
    let verifies: Vec<&AttemptRecord> = attempts[run_at..]
        .iter()
        .filter(|a| a.role == AttemptRole::Verify)
        .collect();
    // A resume may run the checks again from the first: the last `checks`
    // verify attempts are the latest pass over them.
    let latest = &verifies[verifies.len().saturating_sub(checks)..];
    let failed = latest
        .iter()
        .find(|a| a.outcome != Some(AttemptOutcome::Succeeded));
    let verify = failed.or(latest.last()).copied();
    let run_ok = run.outcome == Some(AttemptOutcome::Succeeded);
    match (has_verify, verify) {
        (true, Some(_)) if checks > 1 && failed.is_none() && latest.len() == checks => (
            true,
            format!(
                "verified: all {checks} checks passed ({})",
                latest
                    .iter()
                    .map(|v| format!("`{}` {}", v.command, passed(v)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
        (true, Some(v)) if checks > 1 && failed.is_none() => (
            false,
            format!(
                "only {} of {checks} `verify` checks were recorded, the last `{}`",
                latest.len(),
                v.command
            ),
        ),
        (true, Some(v)) if v.outcome == Some(AttemptOutcome::Succeeded) => {
            (true, format!("verified: `{}` {}", v.command, passed(v)))
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
            format!(
                "`run` {} (no `verify` declared): `{}`",
                passed(run),
                run.command
            ),
        ),
        (true | false, _) => (
            false,
            format!("`run` did not succeed ({})", outcome_text(run)),
        ),
    }
}

/// How a successful attempt ended: `exited 0` for a process, `succeeded`
/// for an action run in process (git, GitHub), which has no exit code.
fn passed(attempt: &AttemptRecord) -> &'static str {
    if attempt.exit_code == Some(0) {
        "exited 0"
    } else {
        "succeeded"
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
    let plan: Option<Plan> = load_plan_text(&record.plan_path, record.plan_text.clone())
        .ok()
        .map(|loaded| loaded.plan);
    let approvals = store.approvals(&record.id)?;
    let granted = store.policy_approvals(&record.id, &record.plan_hash)?;
    let forecast = plan.as_ref().map(|plan| decide(plan, &granted));
    let tasks = store.tasks(&record.id)?;
    // A rollback that found no rollback action leaves the task's changes in
    // place; the journal says so, and so must the report.
    let events = store.events(&record.id)?;
    let left_in_place: std::collections::HashSet<String> = events
        .iter()
        .filter(|event| event.kind == "rollback-skipped")
        .filter_map(|event| event.task_id.as_ref().map(ToString::to_string))
        .collect();
    // What `resume` found still running of a killed engine's actions.
    let waited_for = events
        .iter()
        .filter(|event| event.kind == "process-group-waited")
        .map(|event| event.message.clone())
        .collect();
    let mut attempts_by_task: HashMap<String, Vec<AttemptRecord>> = HashMap::new();
    for attempt in store.attempts(&record.id, None)? {
        attempts_by_task
            .entry(attempt.task_id.to_string())
            .or_default()
            .push(attempt);
    }
    let mut phases: Vec<(PhaseOutcome, Option<(i64, i64)>)> = Vec::new();
    let mut by_state = std::collections::BTreeMap::new();
    let mut completed = 0;
    let mut not_done = Vec::new();
    for task in &tasks {
        let planned = plan.as_ref().and_then(|p| p.task(task.task_id.as_str()));
        let attempts = attempts_by_task
            .remove(task.task_id.as_str())
            .unwrap_or_default();
        let (complete, evidence) = if task.state == TaskState::Succeeded {
            evidence(&attempts, planned.map_or(1, |t| t.verify.len()))
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
                    .or_else(|| decided(task.state).then(|| task.reason.clone()).flatten())
                    .or_else(|| (task.state == TaskState::Succeeded).then(|| evidence.clone())),
            });
        }
        let outcome = TaskOutcome {
            id: task.task_id.to_string(),
            name: planned.and_then(|t| t.name.clone()),
            risk: task.risk.to_string(),
            needs: plan
                .as_ref()
                .zip(planned)
                .map(|(plan, planned)| {
                    planned
                        .needs
                        .iter()
                        .filter_map(|&need| plan.tasks.get(need))
                        .map(|need| need.id.to_string())
                        .collect()
                })
                .unwrap_or_default(),
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
                    error_line: a
                        .outcome
                        .filter(|o| *o != AttemptOutcome::Succeeded)
                        .and_then(|_| error_line(a.stderr_tail.as_deref().unwrap_or(""))),
                })
                .collect(),
        };
        let span = attempts
            .iter()
            .map(|a| (a.started_at, a.finished_at.unwrap_or(a.started_at)))
            .reduce(|(s1, e1), (s2, e2)| (s1.min(s2), e1.max(e2)));
        match phases.last_mut() {
            Some((phase, phase_span)) if phase.id == task.phase_id.as_str() => {
                phase.tasks.push(outcome);
                *phase_span = widen(*phase_span, span);
            }
            _ => {
                let phase_plan = plan
                    .as_ref()
                    .and_then(|p| p.phase_index(task.phase_id.as_str()).map(|i| (p, i)));
                let phase = PhaseOutcome {
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
                    wall_s: 0,
                    tasks: vec![outcome],
                };
                phases.push((phase, span));
            }
        }
    }
    let usage: HashMap<PhaseId, u64> = store.phase_usage(&record.id)?.into_iter().collect();
    let phases: Vec<PhaseOutcome> = phases
        .into_iter()
        .map(|(mut phase, span)| {
            phase.wall_s = span.map_or(0, |(start, end)| whole_seconds(end - start));
            phase.used_s = usage.get(phase.id.as_str()).map_or(0, |ms| ms / 1000);
            phase
        })
        .collect();
    let deferred = deferred(&not_done);
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
        budget_s: plan
            .as_ref()
            .and_then(|p| p.policy.budget)
            .map(|b| b.as_secs()),
        used_s: record.used_ms / 1000,
        wall_s: whole_seconds(record.finished_at.unwrap_or(record.updated_at) - record.created_at),
        summary: RunSummary {
            tasks: tasks.len(),
            completed,
            by_state,
        },
        phases,
        approvals: approvals
            .into_iter()
            .map(|approval| approval_report(approval, &record.plan_hash))
            .collect(),
        waited_for,
        deferred,
        not_done,
    })
}

/// Whether the dry run's reason is why a task is in `state`: the states a
/// decision puts a task in. A task that ran (and then failed or was rolled
/// back) is past its decision, whose reason ("no approval is recorded") may
/// no longer hold.
fn decided(state: TaskState) -> bool {
    matches!(
        state,
        TaskState::Excluded | TaskState::Blocked | TaskState::Deferred | TaskState::NeedsApproval
    )
}

/// The span from the first start to the last end of two sets of attempts.
fn widen(a: Option<(i64, i64)>, b: Option<(i64, i64)>) -> Option<(i64, i64)> {
    match (a, b) {
        (Some((s1, e1)), Some((s2, e2))) => Some((s1.min(s2), e1.max(e2))),
        (a, b) => a.or(b),
    }
}

/// Whole seconds of a span in milliseconds (0 for a negative one, which only
/// a clock set back can record).
fn whole_seconds(ms: i64) -> u64 {
    u64::try_from(ms / 1000).unwrap_or(0)
}

/// The deferred tasks among those not done, in run order.
fn deferred(not_done: &[NotDone]) -> Vec<NotDone> {
    not_done
        .iter()
        .filter(|task| task.state == TaskState::Deferred)
        .cloned()
        .collect()
}
