//! Resuming: reloading the plan of a run (refusing a changed one unless
//! accepted) and reconciling what a crash or a signal left in flight.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
    time::Duration,
};

use plangate_executors::{
    Observation, RecordedGroupEnd, Redactor, SpawnedGroup, wait_for_recorded_group,
};
use plangate_plans::{LoadPlanError, LoadedPlan, Plan, decide, load_plan, load_plan_text};
use plangate_state::{
    ApprovalRecord, ApprovalTarget, ApprovalValidity, AttemptOutcome, AttemptRecord, AttemptResult,
    AttemptRole, NewEvent, ObservedEffect, OpenAttemptSettlement, PlanChange, RunId, RunRecord,
    Store, TaskRecord, TaskState, now_millis,
};

use super::{
    RunError,
    engine::{Engine, initial_tasks},
    progress::Progress,
};

impl Engine {
    /// Loads the plan of a run, refusing a changed plan unless accepted.
    pub(super) fn reload_plan(
        &self,
        store: &mut Store,
        record: &RunRecord,
        accept: bool,
    ) -> Result<Plan, RunError> {
        let path = &record.plan_path;
        let short_run = store.short_run_id(&record.id)?;
        let LoadedPlan { plan, source } = load_plan(path).map_err(|error| match error {
            LoadPlanError::Read { source, .. } => RunError::PlanMissing {
                run: short_run.clone(),
                path: path.clone(),
                source,
            },
            invalid @ LoadPlanError::Invalid(_) => RunError::LoadPlan(invalid),
        })?;
        if plan.content_hash == record.plan_hash {
            return Ok(plan);
        }
        let old = load_plan_text(path, record.plan_text.clone())
            .ok()
            .map(|loaded| loaded.plan);
        let summary = plan_diff(old.as_ref(), &plan);
        if !accept {
            return Err(RunError::PlanChanged {
                run: short_run,
                path: path.clone(),
                summary,
            });
        }
        // Approvals were given for the plan as it was: none of them counts
        // for the changed one (`stored_approvals` says so for each later).
        let dry_run = decide(
            &plan,
            &store.policy_approvals(&record.id, &plan.content_hash)?,
        );
        store.accept_plan_change(
            &record.id,
            PlanChange {
                plan_path: path.clone(),
                plan_hash: plan.content_hash.clone(),
                plan_text: source.into_text(),
                at: now_millis(),
                tasks: initial_tasks(&plan, &dry_run),
            },
        )?;
        (self.settings.progress)(&Progress::Warning(format!(
            "continuing with the changed plan: {summary}"
        )));
        Ok(plan)
    }

    /// Settles what a crash or signal left open, in two steps that are each
    /// safe to cut off (a crash during reconciliation leaves a state the next
    /// reconciliation reads the same way):
    ///
    /// 1. Every attempt still open is closed as `interrupted`. For a `run`
    ///    attempt the executor's `observe` says whether the action had taken
    ///    effect; the finding is stored with the attempt, together with the
    ///    task's new state, in one transaction.
    /// 2. Every task that is not settled is decided from its attempts: a
    ///    `run` known to have taken effect (it succeeded, or `observe` found
    ///    it applied) and not followed by a failed verify leaves only the
    ///    `verify`; a `run` that ended, did not take effect or never started
    ///    runs again; a `run` whose effect is unknown is checked with the
    ///    task's `verify` if it has one (passing settles the task as
    ///    succeeded), and otherwise runs again only if the task is idempotent,
    ///    `--retry-interrupted` is given, or the task was approved after that
    ///    attempt started; else the task stays `interrupted`. A partly applied
    ///    `run` is never settled by `verify` alone.
    ///
    /// Returns every task's state and the tasks whose `verify` alone remains.
    pub(super) fn reconcile(
        &self,
        store: &mut Store,
        plan: &Plan,
        run: &RunId,
        retry_interrupted: bool,
    ) -> Result<(Vec<TaskState>, HashSet<usize>), RunError> {
        let redactor = Redactor::for_plan(plan);
        for attempt in store.open_attempts(run)? {
            self.wait_for_cut_off_group(store, plan, &attempt)?;
            let task = plan
                .task_index(attempt.task_id.as_str())
                .map(|i| &plan.tasks[i]);
            let settlement = match (attempt.role, task) {
                (AttemptRole::Run, Some(task)) => {
                    let observation =
                        self.observe(plan, task, run, attempt.evidence.as_ref(), &redactor);
                    settle_run(&observation)
                }
                _ => cut_off(),
            };
            store.settle_open_attempt(attempt.id, settlement)?;
        }

        let records: HashMap<String, TaskRecord> = store
            .tasks(run)?
            .into_iter()
            .map(|t| (t.task_id.to_string(), t))
            .collect();
        let mut attempts: HashMap<String, Vec<AttemptRecord>> = HashMap::new();
        for attempt in store.attempts(run, None)? {
            attempts
                .entry(attempt.task_id.to_string())
                .or_default()
                .push(attempt);
        }
        let approvals: Vec<ApprovalRecord> = store
            .approvals(run)?
            .into_iter()
            .filter(|approval| approval.validity(&plan.content_hash) == ApprovalValidity::Valid)
            .collect();
        let mut states = Vec::with_capacity(plan.tasks.len());
        let mut verify_only = HashSet::new();
        for (index, task) in plan.tasks.iter().enumerate() {
            let Some(record) = records.get(task.id.as_str()) else {
                states.push(TaskState::Pending);
                continue;
            };
            if !matches!(
                record.state,
                TaskState::Pending
                    | TaskState::Running
                    | TaskState::Failed
                    | TaskState::TimedOut
                    | TaskState::Deferred
                    | TaskState::Blocked
                    | TaskState::Interrupted
            ) {
                states.push(record.state);
                continue;
            }
            let history = attempts
                .get(task.id.as_str())
                .map_or(&[][..], Vec::as_slice);
            let effect = last_run_effect(history);
            let permitted = || {
                task.idempotent
                    || retry_interrupted
                    || approved_since(&approvals, task.id.as_str(), effect.started_at)
            };
            let (next, reason) = match effect.kind {
                EffectKind::Applied => {
                    verify_only.insert(index);
                    (TaskState::Pending, None)
                }
                EffectKind::Ended | EffectKind::NotApplied | EffectKind::NotRun => {
                    (TaskState::Pending, None)
                }
                EffectKind::Unknown
                    if !task.verify.is_empty()
                        && self.verify_now(store, plan, task, run, &redactor)? =>
                {
                    (TaskState::Succeeded, None)
                }
                EffectKind::Partial | EffectKind::Unknown if permitted() => {
                    (TaskState::Pending, None)
                }
                EffectKind::Partial => (
                    TaskState::Interrupted,
                    Some(
                        "its action had partly taken effect when the run stopped; it is not idempotent, so it runs again only when interrupted tasks are retried or the task is approved"
                            .to_owned(),
                    ),
                ),
                EffectKind::Unknown => (
                    TaskState::Interrupted,
                    Some(format!(
                        "was running when the run stopped and whether it took effect cannot be known{}; it is not idempotent, so it runs again only when interrupted tasks are retried or the task is approved",
                        if task.verify.is_empty() {
                            ""
                        } else {
                            " (its `verify` does not pass)"
                        }
                    )),
                ),
            };
            if next != record.state
                || (next == TaskState::Interrupted && reason != record.state_reason)
            {
                store.set_task_state(run, &task.id, next, reason.as_deref(), now_millis())?;
            }
            states.push(next);
        }
        Ok((states, verify_only))
    }

    /// Before an attempt a crash cut off is reconciled: if the process group
    /// it recorded still runs (the same leader, by its start time), waits
    /// for it up to the end of the task's timeout (counted from the
    /// attempt's start), then terminates it (SIGTERM, the grace period,
    /// SIGKILL to the group). The wait is recorded as a
    /// `process-group-waited` event and shown as a warning. So an action is
    /// never started again while the first still runs.
    pub(super) fn wait_for_cut_off_group(
        &self,
        store: &mut Store,
        plan: &Plan,
        attempt: &AttemptRecord,
    ) -> Result<(), RunError> {
        let Some(process_group) = attempt.process_group else {
            return Ok(());
        };
        let timeout = plan
            .task(attempt.task_id.as_str())
            .map_or(Duration::ZERO, |task| task.timeout);
        let ends_at = attempt
            .started_at
            .saturating_add(i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX));
        let remaining =
            Duration::from_millis(u64::try_from(ends_at - now_millis()).unwrap_or_default());
        let group = SpawnedGroup {
            process_group,
            started: attempt.process_started,
        };
        let end = self.runtime.block_on(wait_for_recorded_group(
            group,
            tokio::time::Instant::now() + remaining,
            self.settings.grace_period,
        ));
        let how = match end {
            RecordedGroupEnd::NotRunning => return Ok(()),
            RecordedGroupEnd::Exited => "it exited",
            RecordedGroupEnd::Killed => "it was killed at the end of the task's timeout",
        };
        let message = format!(
            "waited for the live process group {process_group} of attempt {} ({}) of task `{}`, {how}",
            attempt.number, attempt.role, attempt.task_id
        );
        store.append_event(
            &attempt.run_id,
            NewEvent {
                at: now_millis(),
                kind: "process-group-waited",
                task_id: Some(&attempt.task_id),
                message: &message,
                data: Some(serde_json::json!({
                    "process_group": process_group,
                    "attempt": attempt.id,
                    "killed": end == RecordedGroupEnd::Killed,
                })),
            },
        )?;
        (self.settings.progress)(&Progress::Warning(message));
        Ok(())
    }

    /// Runs a task's checks during reconciliation, each recorded as a
    /// verify attempt, in order; the first that does not pass ends it (as in
    /// a run), and the task counts as verified only when every check passed.
    fn verify_now(
        &self,
        store: &mut Store,
        plan: &Plan,
        task: &plangate_plans::Task,
        run: &RunId,
        redactor: &Redactor,
    ) -> Result<bool, RunError> {
        let count = task.verify.len();
        if count == 0 {
            return Ok(false);
        }
        for (position, check) in task.verify.iter().enumerate() {
            let Some(executor) = self.executors.for_action(check) else {
                return Ok(false);
            };
            let summary = redactor.redact(&check.summary()).into_owned();
            let command = if count > 1 {
                format!("check {} of {count}: {summary}", position + 1)
            } else {
                summary
            };
            let attempt =
                store.begin_attempt(run, &task.id, AttemptRole::Verify, &command, now_millis())?;
            let context = self.context(plan, task, check, run.as_str(), redactor);
            let outcome = self.runtime.block_on(executor.verify(check, &context));
            let passed = outcome
                .as_ref()
                .is_ok_and(plangate_executors::ActionOutcome::succeeded);
            let mut result = AttemptResult::new(
                if passed {
                    AttemptOutcome::Succeeded
                } else {
                    AttemptOutcome::Failed
                },
                now_millis(),
            );
            if let Ok(outcome) = &outcome {
                result.exit_code = outcome.exit_code;
                result.signal = outcome.signal;
                result.stdout_tail = Some(outcome.stdout_tail.clone());
                result.stderr_tail = Some(outcome.stderr_tail.clone());
                result.duration_ms =
                    Some(u64::try_from(outcome.duration.as_millis()).unwrap_or(u64::MAX));
                result.evidence.clone_from(&outcome.evidence);
            }
            store.finish_attempt(attempt, result)?;
            if !passed || position + 1 == count {
                store.set_task_verified(run, &task.id, passed, now_millis())?;
                return Ok(passed);
            }
        }
        Ok(false)
    }

    fn observe(
        &self,
        plan: &Plan,
        task: &plangate_plans::Task,
        run: &RunId,
        evidence: Option<&serde_json::Value>,
        redactor: &Redactor,
    ) -> Observation {
        let Some(executor) = self.executors.for_action(&task.run) else {
            return Observation::Unknown;
        };
        let context = self.context(plan, task, &task.run, run.as_str(), redactor);
        self.runtime
            .block_on(executor.observe(&task.run, evidence, &context))
            .unwrap_or(Observation::Unknown)
    }

    /// A context for one action outside a run's dispatcher (observe, verify
    /// during reconciliation, previews), with the action's executor instance.
    pub(super) fn context(
        &self,
        plan: &Plan,
        task: &plangate_plans::Task,
        action: &plangate_plans::Action,
        run: &str,
        redactor: &Redactor,
    ) -> plangate_executors::ActionContext {
        self.contexts(run, Arc::new(redactor.clone()))
            .build(plan, task, action, 1)
    }
}

/// How an open `run` attempt is closed on resume, given what `observe` found.
fn settle_run(observation: &Observation) -> OpenAttemptSettlement {
    let (observed, task_state, reason, found) = match observation {
        Observation::Applied => (
            ObservedEffect::Applied,
            TaskState::Pending,
            Some("its `run` had taken effect when the run stopped; its verify remains".to_owned()),
            "its action had taken effect".to_owned(),
        ),
        Observation::NotApplied => (
            ObservedEffect::NotApplied,
            TaskState::Pending,
            None,
            "its action had not taken effect".to_owned(),
        ),
        Observation::Partial { detail } => (
            ObservedEffect::Partial,
            TaskState::Interrupted,
            Some(format!(
                "its action had partly taken effect when the run stopped ({detail})"
            )),
            format!("its action had partly taken effect ({detail})"),
        ),
        Observation::Unknown => (
            ObservedEffect::Unknown,
            TaskState::Interrupted,
            Some("was running when the run stopped".to_owned()),
            "whether its action took effect cannot be known".to_owned(),
        ),
    };
    OpenAttemptSettlement {
        result: interrupted(format!(
            "the process driving this attempt stopped; on resume, observe found that {found}"
        )),
        observed: Some(observed),
        task_state: Some(task_state),
        reason,
    }
}

/// How an attempt a crash cut off is closed when nothing is observed of it
/// (a verify or a rollback): `interrupted`, the task's state unchanged.
pub(super) fn cut_off() -> OpenAttemptSettlement {
    OpenAttemptSettlement {
        result: interrupted(
            "the process driving this attempt stopped before it finished".to_owned(),
        ),
        observed: None,
        task_state: None,
        reason: None,
    }
}

fn interrupted(note: String) -> AttemptResult {
    let mut result = AttemptResult::new(AttemptOutcome::Interrupted, now_millis());
    result.stderr_tail = Some(note);
    result
}

/// What a task's attempts say of the effect of its last `run`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum EffectKind {
    /// No `run` attempt yet.
    NotRun,
    /// It succeeded, or was found applied, and no verify failed since.
    Applied,
    /// It ended (failed, timed out, or succeeded and then failed its verify).
    Ended,
    /// It was cut off, and found not applied.
    NotApplied,
    /// It was cut off, and found partly applied.
    Partial,
    /// It was cut off, and whether it took effect is unknown.
    Unknown,
}

#[derive(Clone, Copy, Debug)]
struct RunEffect {
    kind: EffectKind,
    /// When the last `run` attempt started.
    started_at: i64,
}

/// Reads a task's attempts (in the order they started) for the effect of its
/// last `run`.
fn last_run_effect(attempts: &[AttemptRecord]) -> RunEffect {
    let Some(last) = attempts.iter().rposition(|a| a.role == AttemptRole::Run) else {
        return RunEffect {
            kind: EffectKind::NotRun,
            started_at: i64::MIN,
        };
    };
    let run = &attempts[last];
    let verify_failed = attempts[last + 1..].iter().any(|a| {
        a.role == AttemptRole::Verify
            && matches!(
                a.outcome,
                Some(AttemptOutcome::Failed | AttemptOutcome::TimedOut)
            )
    });
    let applied = if verify_failed {
        EffectKind::Ended
    } else {
        EffectKind::Applied
    };
    let kind = match run.outcome {
        Some(AttemptOutcome::Succeeded) => applied,
        Some(AttemptOutcome::Failed | AttemptOutcome::TimedOut) => EffectKind::Ended,
        Some(AttemptOutcome::Interrupted | AttemptOutcome::Cancelled) | None => {
            match run.observed {
                Some(ObservedEffect::Applied) => applied,
                Some(ObservedEffect::NotApplied) => EffectKind::NotApplied,
                Some(ObservedEffect::Partial) => EffectKind::Partial,
                Some(ObservedEffect::Unknown) | None => EffectKind::Unknown,
            }
        }
    };
    RunEffect {
        kind,
        started_at: run.started_at,
    }
}

/// Whether the task was approved at or after `since`: an approval given
/// before an action was cut off does not allow running it again.
fn approved_since(approvals: &[ApprovalRecord], task: &str, since: i64) -> bool {
    approvals.iter().any(|approval| {
        matches!(&approval.target, ApprovalTarget::Task(id) if id.as_str() == task)
            && approval.at >= since
    })
}

/// `added `a`; removed `b`; changed `c``.
fn plan_diff(old: Option<&Plan>, new: &Plan) -> String {
    let Some(old) = old else {
        return "the stored plan text no longer parses; cannot list the differences".to_owned();
    };
    let describe = |plan: &Plan, id: &str| {
        plan.task(id)
            .map(|t| serde_json::to_string(t).unwrap_or_default())
    };
    let old_ids: Vec<&str> = old.tasks.iter().map(|t| t.id.as_str()).collect();
    let new_ids: Vec<&str> = new.tasks.iter().map(|t| t.id.as_str()).collect();
    let added: Vec<&str> = new_ids
        .iter()
        .copied()
        .filter(|id| !old_ids.contains(id))
        .collect();
    let removed: Vec<&str> = old_ids
        .iter()
        .copied()
        .filter(|id| !new_ids.contains(id))
        .collect();
    let changed: Vec<&str> = new_ids
        .iter()
        .copied()
        .filter(|id| old_ids.contains(id) && describe(old, id) != describe(new, id))
        .collect();
    let mut parts = Vec::new();
    for (label, ids) in [
        ("added", &added),
        ("removed", &removed),
        ("changed", &changed),
    ] {
        if !ids.is_empty() {
            parts.push(format!(
                "{label} {}",
                plangate_plans::text::and_ticked(ids.iter())
            ));
        }
    }
    if old.policy != new.policy {
        parts.push("changed `policy`".to_owned());
    }
    if parts.is_empty() {
        "the file changed, but no task or policy did".to_owned()
    } else {
        parts.join("; ")
    }
}
