//! The dispatcher: one owner of the run's task states, driving phases in
//! order and the tasks of a phase in dependency order under
//! `policy.concurrency`.
//!
//! It selects over three things: a task settling (reported over a channel by
//! the task's own future), a signal (the cancellation token), and the next
//! budget deadline. Task futures never touch the dispatcher's state; they only
//! write their own rows to the state file.

use std::{
    collections::{BTreeSet, HashMap, HashSet},
    time::Duration,
};

use plangate_plans::{
    Approvals, OnFailure, PhaseId,
    policy::{phase_approval_missing, risk_decision},
    text::and_ticked,
};
use plangate_state::{ApprovalTarget, RunStatus, TaskState, now_millis};
use tokio::{sync::mpsc, time::Instant};

use super::{
    RunOutcome,
    phase::PhaseRun,
    progress::Progress,
    task::{TaskEnvironment, TaskEvent},
};
use crate::run::RunError;

/// `waits` or `wait`.
fn verb(count: usize) -> &'static str {
    if count == 1 { "waits" } else { "wait" }
}

/// Where the dispatcher starts each task from.
pub(crate) struct Dispatcher {
    pub(crate) env: TaskEnvironment,
    /// The state of every task, indexed like `plan.tasks`.
    pub(crate) states: Vec<TaskState>,
    /// Tasks whose `run` is known to have taken effect (reconciled after a crash).
    pub(crate) verify_only: HashSet<usize>,
    /// Tasks that succeeded, in completion order (for rollback).
    pub(crate) completed: Vec<usize>,
    pub(crate) approvals: Approvals,
    /// Tasks that failed under `on_failure: continue`.
    pub(crate) failures: Vec<usize>,
    /// The time this run and its phases used before this invocation.
    pub(crate) used: UsedTime,
    /// The limits (`max_tasks`, budgets) that deferred tasks in this
    /// invocation, in the words of the run's reason.
    pub(crate) limits: Vec<String>,
    /// Tasks blocked for want of promotion evidence: the run fails for them.
    pub(crate) promotion_blocked: BTreeSet<usize>,
}

/// The time the engine spends driving a run, which budgets measure: summed
/// over `run` and every `resume`, so time between invocations (paused for an
/// approval, stopped) does not count.
pub(crate) struct UsedTime {
    /// The run's total before this invocation.
    pub(crate) run_before: Duration,
    /// Each phase's total before this invocation.
    pub(crate) phases_before: HashMap<PhaseId, Duration>,
    /// Up to when this invocation's time is recorded.
    pub(crate) recorded_until: Instant,
}

impl UsedTime {
    /// What is left of `budget` for the run, from now.
    fn run_deadline(&self, budget: Duration) -> Instant {
        let used = self.run_before + self.recorded_until.elapsed();
        Instant::now() + budget.saturating_sub(used)
    }

    /// What is left of `budget` for `phase`, from now (when the phase starts).
    fn phase_deadline(&self, phase: &PhaseId, budget: Duration) -> Instant {
        let used = self.phases_before.get(phase).copied().unwrap_or_default();
        Instant::now() + budget.saturating_sub(used)
    }
}

pub(crate) enum PhaseEnd {
    Settled,
    Failed(usize),
    Interrupted,
}

impl Dispatcher {
    pub(crate) fn plan(&self) -> &plangate_plans::Plan {
        &self.env.plan
    }

    /// The plan, shared: for code that mutates the dispatcher while it reads the plan.
    pub(crate) fn plan_arc(&self) -> std::sync::Arc<plangate_plans::Plan> {
        std::sync::Arc::clone(&self.env.plan)
    }

    pub(crate) async fn set(
        &mut self,
        index: usize,
        state: TaskState,
        reason: String,
    ) -> Result<(), RunError> {
        self.states[index] = state;
        let run = self.env.run_id.clone();
        let id = self.plan().tasks[index].id.clone();
        let stored_reason = reason.clone();
        self.env
            .store
            .call(move |store| {
                store.set_task_state(&run, &id, state, Some(&stored_reason), now_millis())
            })
            .await?;
        (self.env.progress)(&Progress::TaskSkipped {
            task: self.plan().tasks[index].id.to_string(),
            state,
            reason,
        });
        Ok(())
    }

    async fn run_status(&self, status: RunStatus, reason: Option<String>) -> Result<(), RunError> {
        let run = self.env.run_id.clone();
        self.env
            .store
            .call(move |store| store.set_run_status(&run, status, reason.as_deref(), now_millis()))
            .await?;
        Ok(())
    }

    /// Adds the time used since the last record to the run's total, and
    /// `phase`'s time in this invocation to the phase's, in one transaction.
    /// Recorded at the end of each phase and of the invocation, so a crash
    /// loses at most the current phase's time.
    async fn record_used_time(
        &mut self,
        phase: Option<(PhaseId, Duration)>,
    ) -> Result<(), RunError> {
        let now = Instant::now();
        let run_ms = millis(now - self.used.recorded_until);
        self.used.recorded_until = now;
        let run = self.env.run_id.clone();
        self.env
            .store
            .call(move |store| {
                let phases: Vec<(&PhaseId, u64)> =
                    phase.iter().map(|(id, used)| (id, millis(*used))).collect();
                store.add_used_time(&run, run_ms, &phases)
            })
            .await?;
        Ok(())
    }

    /// Drives the run from its current task states to the end of this invocation.
    pub(crate) async fn drive(mut self) -> Result<RunOutcome, RunError> {
        let plan_deadline = self
            .plan()
            .policy
            .budget
            .map(|budget| self.used.run_deadline(budget));
        for phase_index in 0..self.plan().phases.len() {
            let phase = self.plan().phases[phase_index].clone();
            // Interrupted tasks keep their phase open: the run pauses there
            // until they are approved or retried, and later phases wait.
            let open = self.in_states(
                &phase,
                &[
                    TaskState::Pending,
                    TaskState::NeedsApproval,
                    TaskState::Interrupted,
                ],
            );
            if open.is_empty() {
                continue;
            }
            if let Some(reason) = phase_approval_missing(self.plan(), phase_index, &self.approvals)
            {
                for &task in &open {
                    if self.states[task] == TaskState::Pending {
                        self.set(task, TaskState::NeedsApproval, reason.clone())
                            .await?;
                    }
                }
                return self
                    .pause(format!("phase `{}` waits for an approval", phase.id))
                    .await;
            }
            if phase.approval {
                self.use_approvals(ApprovalTarget::Phase(phase.id.clone()))
                    .await?;
            }
            let waiting_for_approval = open
                .iter()
                .filter(|&&task| {
                    self.states[task] == TaskState::NeedsApproval
                        && risk_decision(self.plan(), task, &self.approvals).is_some()
                })
                .count();
            (self.env.progress)(&Progress::PhaseStarted {
                phase: phase.id.to_string(),
                name: phase.display_name().to_owned(),
                tasks: phase.tasks.len(),
                settled: phase.tasks.len() - open.len(),
                waiting_for_approval,
                budget: phase.budget,
                budget_used: self
                    .used
                    .phases_before
                    .get(&phase.id)
                    .copied()
                    .unwrap_or_default(),
            });
            let phase_start = Instant::now();
            let phase_deadline = phase
                .budget
                .map(|budget| self.used.phase_deadline(&phase.id, budget));
            let deadline = match (phase_deadline, plan_deadline) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let end = self.run_phase(phase_index, deadline, plan_deadline).await?;
            self.record_used_time(Some((phase.id.clone(), phase_start.elapsed())))
                .await?;
            match end {
                PhaseEnd::Interrupted => return self.interrupted().await,
                PhaseEnd::Failed(task) => match self.plan().policy.on_failure {
                    OnFailure::Continue => {}
                    OnFailure::Stop => {
                        return self
                            .finish(
                                RunStatus::Failed,
                                Some(self.failure_reason(task, "`on_failure: stop`")),
                            )
                            .await;
                    }
                    OnFailure::RollbackTask => {
                        self.record_failure_rollback(task, None).await?;
                        self.states[task] = self.env.roll_back(task).await?.state;
                        return self
                            .finish(
                                RunStatus::Failed,
                                Some(self.failure_reason(task, "`on_failure: rollback-task`")),
                            )
                            .await;
                    }
                    OnFailure::RollbackPhase | OnFailure::RollbackRun => {
                        let scope_phase = (self.plan().policy.on_failure
                            == OnFailure::RollbackPhase)
                            .then_some(phase_index);
                        self.record_failure_rollback(task, scope_phase).await?;
                        let all_rolled_back =
                            self.roll_back_completed(Some(task), scope_phase).await?;
                        let mode = self.plan().policy.on_failure.as_str();
                        let status = if all_rolled_back {
                            RunStatus::RolledBack
                        } else {
                            RunStatus::Failed
                        };
                        return self
                            .finish(
                                status,
                                Some(self.failure_reason(task, &format!("`on_failure: {mode}`"))),
                            )
                            .await;
                    }
                },
                PhaseEnd::Settled => {}
            }
            let approval = self.names(&self.in_states(&phase, &[TaskState::NeedsApproval]));
            let interrupted = self.names(&self.in_states(&phase, &[TaskState::Interrupted]));
            let mut waiting = Vec::new();
            if !approval.is_empty() {
                waiting.push(format!(
                    "{} {} for an approval",
                    and_ticked(&approval),
                    verb(approval.len())
                ));
            }
            if !interrupted.is_empty() {
                waiting.push(format!(
                    "{} {} for a decision after an interruption (approve it, or retry the interrupted tasks)",
                    and_ticked(&interrupted),
                    verb(interrupted.len())
                ));
            }
            if !waiting.is_empty() {
                return self
                    .pause(format!("in phase `{}`, {}", phase.id, waiting.join("; ")))
                    .await;
            }
        }
        let unsettled: Vec<usize> = (0..self.states.len())
            .filter(|&t| {
                matches!(
                    self.states[t],
                    TaskState::Pending
                        | TaskState::Running
                        | TaskState::Interrupted
                        | TaskState::NeedsApproval
                )
            })
            .collect();
        if !unsettled.is_empty() {
            // Never reached when the phases above are right; a run with
            // unsettled tasks must not be called succeeded.
            return self
                .pause(format!(
                    "{} not settled",
                    and_ticked(self.names(&unsettled))
                ))
                .await;
        }
        if self.failures.is_empty() && !self.promotion_blocked.is_empty() {
            let names = self.names(&self.promotion_blocked.iter().copied().collect::<Vec<_>>());
            return self
                .finish(
                    RunStatus::Failed,
                    Some(format!(
                        "promotion evidence is missing for {} (see `plangate status` for why); run {} in the environment before, then `plangate resume`",
                        and_ticked(&names),
                        if names.len() == 1 { "it" } else { "them" }
                    )),
                )
                .await;
        }
        if self.failures.is_empty() {
            let deferred = self
                .states
                .iter()
                .filter(|s| **s == TaskState::Deferred)
                .count();
            if deferred == 0 {
                self.finish(RunStatus::Succeeded, None).await
            } else {
                let limits = if self.limits.is_empty() {
                    // Deferred by an earlier invocation and not reached since.
                    "a budget or `policy.max_tasks`".to_owned()
                } else {
                    self.limits.join("; ")
                };
                let reason = format!(
                    "{limits}: {} deferred",
                    plangate_plans::text::plural(deferred, "task", "tasks")
                );
                self.finish(RunStatus::Incomplete, Some(reason)).await
            }
        } else {
            let names: Vec<String> = self
                .failures
                .iter()
                .map(|&t| self.plan().tasks[t].id.to_string())
                .collect();
            self.finish(
                RunStatus::Failed,
                Some(format!(
                    "{} failed (`on_failure: continue`)",
                    plangate_plans::text::and_ticked(&names)
                )),
            )
            .await
        }
    }

    /// Marks the approvals of `target` that count as used, committed before
    /// the work they allow starts (a used approval cannot be revoked).
    pub(crate) async fn use_approvals(&self, target: ApprovalTarget) -> Result<(), RunError> {
        let run = self.env.run_id.clone();
        let plan_hash = self.plan().content_hash.clone();
        self.env
            .store
            .call(move |store| store.use_approvals(&run, &target, &plan_hash, now_millis()))
            .await?;
        Ok(())
    }

    fn names(&self, tasks: &[usize]) -> Vec<String> {
        tasks
            .iter()
            .map(|&t| self.plan().tasks[t].id.to_string())
            .collect()
    }

    /// The tasks of `phase` whose state is one of `states`.
    fn in_states(&self, phase: &plangate_plans::Phase, states: &[TaskState]) -> Vec<usize> {
        phase
            .tasks
            .iter()
            .copied()
            .filter(|&t| states.contains(&self.states[t]))
            .collect()
    }

    fn failure_reason(&self, task: usize, mode: &str) -> String {
        failure_reason(self.plan().tasks[task].id.as_str(), mode)
    }

    /// Records, durably and before its first undo, that the failure policy
    /// rolls back after `task` failed (the tasks of `phase` only, when
    /// given), so that a resume after a crash finishes this rollback and
    /// ends the run as it would have ended.
    async fn record_failure_rollback(
        &self,
        task: usize,
        phase: Option<usize>,
    ) -> Result<(), RunError> {
        let plan = self.plan();
        let event = FailureRollback {
            task: plan.tasks[task].id.to_string(),
            phase: phase.map(|p| plan.phases[p].id.to_string()),
            mode: plan.policy.on_failure.as_str().to_owned(),
        };
        let task_id = plan.tasks[task].id.clone();
        let run = self.env.run_id.clone();
        self.env
            .store
            .call(move |store| {
                let message = format!(
                    "`on_failure: {}` rolls back after `{}` failed",
                    event.mode, event.task
                );
                store.append_event(
                    &run,
                    plangate_state::NewEvent {
                        at: now_millis(),
                        kind: FAILURE_ROLLBACK,
                        task_id: Some(&task_id),
                        message: &message,
                        data: serde_json::to_value(&event).ok(),
                    },
                )
            })
            .await?;
        Ok(())
    }

    async fn pause(&mut self, reason: String) -> Result<RunOutcome, RunError> {
        self.finish(RunStatus::Paused, Some(reason)).await
    }

    async fn interrupted(&mut self) -> Result<RunOutcome, RunError> {
        self.finish(
            RunStatus::Interrupted,
            Some("interrupted by a signal".to_owned()),
        )
        .await
    }

    async fn finish(
        &mut self,
        status: RunStatus,
        reason: Option<String>,
    ) -> Result<RunOutcome, RunError> {
        self.record_used_time(None).await?;
        self.run_status(status, reason.clone()).await?;
        (self.env.progress)(&Progress::RunFinished {
            run: self.env.short_run.clone(),
            status,
        });
        Ok(RunOutcome {
            run: self.env.run_id.clone(),
            short_run: self.env.short_run.clone(),
            status,
            reason,
            interrupted_tasks: self.states.contains(&TaskState::Interrupted),
        })
    }

    /// Why a pending task cannot start, if one of its needs will not succeed.
    pub(crate) fn blocker(&self, task: usize) -> Option<(TaskState, String)> {
        self.plan().tasks[task].needs.iter().find_map(|&need| {
            let id = &self.plan().tasks[need].id;
            match self.states[need] {
                TaskState::Succeeded | TaskState::Pending | TaskState::Running => None,
                TaskState::Deferred => Some((
                    TaskState::Deferred,
                    format!("needs `{id}`, which is deferred"),
                )),
                TaskState::NeedsApproval => Some((
                    TaskState::Blocked,
                    format!("needs `{id}`, which is waiting for approval"),
                )),
                other => Some((
                    TaskState::Blocked,
                    format!("needs `{id}`, which is {other}"),
                )),
            }
        })
    }

    pub(crate) fn succeeded(&self) -> usize {
        self.states
            .iter()
            .filter(|s| **s == TaskState::Succeeded)
            .count()
    }

    /// Runs the tasks of one phase (see [`PhaseRun`]): starts what is
    /// ready, then waits for a task event, a signal or the budget deadline,
    /// until nothing is in flight.
    async fn run_phase(
        &mut self,
        phase_index: usize,
        deadline: Option<Instant>,
        plan_deadline: Option<Instant>,
    ) -> Result<PhaseEnd, RunError> {
        let (sender, mut receiver) = mpsc::unbounded_channel::<TaskEvent>();
        let mut phase = PhaseRun::new(self, phase_index, deadline, plan_deadline, sender).await?;
        loop {
            phase.on_deadline(self).await?;
            phase.start_ready(self).await?;
            if !phase.has_work_in_flight() {
                // Nothing runs and nothing more can start: tasks still pending
                // wait on a stop (failure, signal, budget) or on needs that
                // will not succeed, which `settle_dependents` settled.
                break;
            }
            let wake_at = phase.pending_deadline();
            tokio::select! {
                Some(event) = receiver.recv() => phase.on_event(self, event).await?,
                () = self.env.cancel.cancelled(), if !phase.is_interrupted() => phase.interrupt(),
                () = sleep_until_some(wake_at), if wake_at.is_some() => {}
            }
        }
        Ok(phase.end(self))
    }

    /// `task` will not succeed: settles its pending dependents in the phase
    /// (blocked or deferred, as `blocker` says), and theirs, transitively.
    pub(crate) async fn settle_dependents(
        &mut self,
        task: usize,
        dependents: &[Vec<usize>],
    ) -> Result<(), RunError> {
        let mut work = vec![task];
        while let Some(settled) = work.pop() {
            for &dependent in &dependents[settled] {
                if self.states[dependent] == TaskState::Pending
                    && let Some((state, reason)) = self.blocker(dependent)
                {
                    self.set(dependent, state, reason).await?;
                    work.push(dependent);
                }
            }
        }
        Ok(())
    }

    /// Rolls back succeeded tasks in reverse completion order (only those of
    /// `phase` when given), the failed task first. Returns whether every
    /// rollback succeeded and no completed task was left without one.
    async fn roll_back_completed(
        &mut self,
        failed: Option<usize>,
        phase: Option<usize>,
    ) -> Result<bool, RunError> {
        let mut order: Vec<usize> = failed.into_iter().collect();
        order.extend(
            self.completed
                .iter()
                .rev()
                .copied()
                .filter(|&t| phase.is_none_or(|p| self.plan().tasks[t].phase == p)),
        );
        let mut all_ok = true;
        for task in order {
            let rolled_back = self.env.roll_back(task).await?;
            all_ok &= rolled_back.undone;
            self.states[task] = rolled_back.state;
        }
        Ok(all_ok)
    }
}

/// The event kind that records the start of the failure policy's rollback.
pub(crate) const FAILURE_ROLLBACK: &str = "failure-rollback";

/// What a [`FAILURE_ROLLBACK`] event holds.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct FailureRollback {
    /// The task whose failure started it.
    pub(crate) task: String,
    /// The phase whose tasks are undone (`rollback-phase`), else `None`.
    pub(crate) phase: Option<String>,
    /// The `on_failure` mode.
    pub(crate) mode: String,
}

/// The run's reason when the failure policy ended it.
pub(crate) fn failure_reason(task: &str, mode: &str) -> String {
    format!("task `{task}` failed ({mode})")
}

/// Sleeps until `at`; never wakes when `None`.
async fn sleep_until_some(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Whole milliseconds of `duration`.
fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Notes `limit` among the limits that deferred tasks (once).
pub(crate) fn note_limit(limits: &mut Vec<String>, limit: &str) {
    if !limits.iter().any(|known| known == limit) {
        limits.push(limit.to_owned());
    }
}
