//! Resuming: reloading the plan of a run (refusing a changed one unless
//! accepted) and reconciling what a crash or a signal left in flight.

use std::{collections::HashSet, sync::Arc};

use plangate_executors::{Observation, Redactor};
use plangate_plans::{Approvals, Plan, SourceFile, decide, load_plan, parse_plan};
use plangate_state::{
    AttemptOutcome, AttemptResult, AttemptRole, PlanChange, RunId, RunRecord, Store, TaskState,
    now_millis,
};

use super::{
    RunError,
    engine::{Engine, initial_tasks, stored_approvals},
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
        let text = std::fs::read_to_string(path).map_err(|source| RunError::PlanMissing {
            run: record.id.to_string(),
            path: path.clone(),
            source,
        })?;
        let plan = load_plan(path)?;
        if plan.content_hash == record.plan_hash {
            return Ok(plan);
        }
        let old = parse_plan(
            SourceFile::new(path, record.plan_text.clone()),
            plan.base_dir.clone(),
        )
        .ok();
        let summary = plan_diff(old.as_ref(), &plan);
        if !accept {
            return Err(RunError::PlanChanged {
                run: record.id.to_string(),
                path: path.clone(),
                summary,
            });
        }
        let dry_run = decide(&plan, &stored_approvals(store, &record.id)?);
        store.accept_plan_change(
            &record.id,
            PlanChange {
                plan_path: path.clone(),
                plan_hash: plan.content_hash.clone(),
                plan_text: text,
                at: now_millis(),
                tasks: initial_tasks(&plan, &dry_run),
            },
        )?;
        (self.settings.progress)(&Progress::Warning(format!(
            "continuing with the changed plan: {summary}"
        )));
        Ok(plan)
    }

    /// Settles what a crash or signal left open. For an action that was
    /// running, the executor's `observe` decides: applied (only `verify`
    /// remains), not applied (run again), or unknown. When it is unknown and
    /// the task declares a `verify`, the verify runs now: if it passes, the
    /// task's effect is there and it is settled as succeeded without running
    /// it again. Otherwise only idempotent tasks (or `--retry-interrupted`, or
    /// an approval of the task) run again; the rest stay `interrupted`.
    /// Returns the tasks whose `run` took effect, so only their `verify` remains.
    pub(super) fn reconcile(
        &self,
        store: &mut Store,
        plan: &Plan,
        run: &RunId,
        states: &mut [TaskState],
        approvals: &Approvals,
        retry_interrupted: bool,
    ) -> Result<HashSet<usize>, RunError> {
        let mut verify_only = HashSet::new();
        // Known to be partly applied: a passing verify proves less than the
        // whole action, so these are never settled by verify alone.
        let mut partial = HashSet::new();
        let redactor = Redactor::for_plan(plan);
        for attempt in store.open_attempts(run)? {
            let Some(index) = plan.task_index(attempt.task_id.as_str()) else {
                continue;
            };
            let task = &plan.tasks[index];
            let observation = match attempt.role {
                AttemptRole::Run => {
                    self.observe(plan, task, run, attempt.evidence.as_ref(), &redactor)
                }
                AttemptRole::Verify => Observation::Applied,
                AttemptRole::Rollback => Observation::Unknown,
            };
            let mut result = AttemptResult::new(AttemptOutcome::Interrupted, now_millis());
            result.stderr_tail = Some(format!(
                "the process driving this attempt stopped; on resume, observe found that {}",
                describe_observation(&observation)
            ));
            store.finish_attempt(attempt.id, result)?;
            if attempt.role == AttemptRole::Rollback {
                continue;
            }
            states[index] = match observation {
                Observation::Applied => {
                    verify_only.insert(index);
                    TaskState::Pending
                }
                Observation::NotApplied => TaskState::Pending,
                Observation::Partial { .. } => {
                    partial.insert(index);
                    TaskState::Interrupted
                }
                Observation::Unknown => TaskState::Interrupted,
            };
        }
        for (index, task) in plan.tasks.iter().enumerate() {
            let (next, reason) = match states[index] {
                // A `run` that finished successfully is never run again: the
                // stop came between its outcome and the task's completion.
                TaskState::Running | TaskState::Interrupted
                    if last_run_succeeded(store, run, task.id.as_str())? =>
                {
                    verify_only.insert(index);
                    (TaskState::Pending, None)
                }
                TaskState::Running
                | TaskState::Failed
                | TaskState::TimedOut
                | TaskState::Deferred
                | TaskState::Blocked => (TaskState::Pending, None),
                TaskState::Pending if verify_only.contains(&index) => (TaskState::Pending, None),
                TaskState::Interrupted
                    if task.verify.is_some()
                        && !partial.contains(&index)
                        && self.verify_now(store, plan, task, run, &redactor)? =>
                {
                    (TaskState::Succeeded, None)
                }
                TaskState::Interrupted
                    if task.idempotent || retry_interrupted || approvals.task(task.id.as_str()) =>
                {
                    (TaskState::Pending, None)
                }
                TaskState::Interrupted => (
                    TaskState::Interrupted,
                    Some(format!(
                        "was running when the run stopped and whether it took effect cannot be known{}; it is not idempotent: resume with `--retry-interrupted`, or approve the task, to run it again",
                        if task.verify.is_some() {
                            " (its `verify` does not pass)"
                        } else {
                            ""
                        }
                    )),
                ),
                _ => continue,
            };
            states[index] = next;
            store.set_task_state(run, task.id.as_str(), next, reason.as_deref(), now_millis())?;
        }
        Ok(verify_only)
    }

    /// Runs a task's `verify` during reconciliation, recording it as an attempt.
    fn verify_now(
        &self,
        store: &mut Store,
        plan: &Plan,
        task: &plangate_plans::Task,
        run: &RunId,
        redactor: &Redactor,
    ) -> Result<bool, RunError> {
        let Some(verify) = &task.verify else {
            return Ok(false);
        };
        let Some(executor) = self.executors.for_action(verify) else {
            return Ok(false);
        };
        let command = redactor.redact(&verify.summary()).into_owned();
        let attempt = store.begin_attempt(
            run,
            task.id.as_str(),
            AttemptRole::Verify,
            &command,
            now_millis(),
        )?;
        let context = self.context(plan, task, verify, run.as_str(), redactor);
        let outcome = self.runtime.block_on(executor.verify(verify, &context));
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
        }
        store.finish_attempt(attempt, result)?;
        store.set_task_verified(run, task.id.as_str(), passed, now_millis())?;
        Ok(passed)
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
        let mut context =
            plangate_executors::ActionContext::new(run, task.id.clone(), plan.base_dir.clone())
                .with_environment(plan.environment.clone())
                .with_vars(plan.vars.clone())
                .with_redactor(Arc::new(redactor.clone()))
                .with_grace_period(self.settings.grace_period)
                .with_timeout(task.timeout);
        context.instance = plan.instance_of(action).cloned();
        context
    }
}

fn describe_observation(observation: &Observation) -> String {
    match observation {
        Observation::Applied => "its action had taken effect".to_owned(),
        Observation::NotApplied => "its action had not taken effect".to_owned(),
        Observation::Partial { detail } => format!("its action had partly taken effect ({detail})"),
        Observation::Unknown => "whether its action took effect cannot be known".to_owned(),
    }
}

fn last_run_succeeded(store: &Store, run: &RunId, task: &str) -> Result<bool, RunError> {
    let attempts = store.attempts(run, Some(task))?;
    let last_run = attempts.iter().rposition(|a| a.role == AttemptRole::Run);
    Ok(last_run.is_some_and(|i| attempts[i].outcome == Some(AttemptOutcome::Succeeded)))
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
