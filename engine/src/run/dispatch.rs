//! The dispatcher: one owner of the run's task states, driving phases in
//! order and the tasks of a phase in dependency order under
//! `policy.concurrency`.
//!
//! It selects over three things: a task settling (reported over a channel by
//! the task's own future), a signal (the cancellation token), and the next
//! budget deadline. Task futures never touch the dispatcher's state; they only
//! write their own rows to the state file.

use std::{
    cmp::Reverse,
    collections::{BinaryHeap, HashSet},
    time::Duration,
};

use plangate_plans::{
    Approvals, OnFailure, format_duration, policy::risk_decision, text::and_ticked,
};
use plangate_state::{RunStatus, TaskState, now_millis};
use tokio::{sync::mpsc, time::Instant};

use super::{
    RunOutcome,
    progress::Progress,
    task::{Slot, StartAt, TaskEnvironment, TaskEvent},
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
}

enum PhaseEnd {
    Settled,
    Failed(usize),
    Interrupted,
}

impl Dispatcher {
    fn plan(&self) -> &plangate_plans::Plan {
        &self.env.plan
    }

    async fn set(
        &mut self,
        index: usize,
        state: TaskState,
        reason: String,
    ) -> Result<(), RunError> {
        self.states[index] = state;
        let run = self.env.run_id.clone();
        let id = self.plan().tasks[index].id.to_string();
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

    /// Drives the run from its current task states to the end of this invocation.
    pub(crate) async fn drive(mut self) -> Result<RunOutcome, RunError> {
        let invocation_start = Instant::now();
        let plan_deadline = self
            .plan()
            .policy
            .budget
            .map(|budget| invocation_start + budget);
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
            if phase.approval && !self.approvals.phase(phase.id.as_str()) {
                for &task in &open {
                    if self.states[task] == TaskState::Pending {
                        self.set(
                            task,
                            TaskState::NeedsApproval,
                            format!(
                                "phase `{}` has `approval: true` and no approval is recorded",
                                phase.id
                            ),
                        )
                        .await?;
                    }
                }
                return self
                    .pause(format!("phase `{}` waits for an approval", phase.id))
                    .await;
            }
            (self.env.progress)(&Progress::PhaseStarted {
                phase: phase.id.to_string(),
                name: phase.display_name().to_owned(),
            });
            let phase_deadline = phase.budget.map(|budget| Instant::now() + budget);
            let deadline = match (phase_deadline, plan_deadline) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            match self.run_phase(phase_index, deadline, plan_deadline).await? {
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
                        let state = self.env.roll_back(task).await?;
                        self.states[task] = state;
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
                    "{} {} for a decision after an interruption (approve, or resume with `--retry-interrupted`)",
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
        if self.failures.is_empty() {
            let deferred = self
                .states
                .iter()
                .filter(|s| **s == TaskState::Deferred)
                .count();
            let reason = (deferred > 0).then(|| {
                format!(
                    "{} deferred by a budget or `policy.max_tasks`; `plangate resume` continues them",
                    plangate_plans::text::plural(deferred, "task", "tasks")
                )
            });
            self.finish(RunStatus::Succeeded, reason).await
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
        format!("task `{}` failed ({mode})", self.plan().tasks[task].id)
    }

    async fn pause(&self, reason: String) -> Result<RunOutcome, RunError> {
        self.finish(RunStatus::Paused, Some(reason)).await
    }

    async fn interrupted(&self) -> Result<RunOutcome, RunError> {
        self.finish(
            RunStatus::Interrupted,
            Some("interrupted by a signal".to_owned()),
        )
        .await
    }

    async fn finish(
        &self,
        status: RunStatus,
        reason: Option<String>,
    ) -> Result<RunOutcome, RunError> {
        self.run_status(status, reason.clone()).await?;
        (self.env.progress)(&Progress::RunFinished {
            run: self.env.run_id.to_string(),
            status,
        });
        Ok(RunOutcome {
            run: self.env.run_id.clone(),
            status,
            reason,
        })
    }

    /// Why a pending task cannot start, if one of its needs will not succeed.
    fn blocker(&self, task: usize) -> Option<(TaskState, String)> {
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

    fn succeeded(&self) -> usize {
        self.states
            .iter()
            .filter(|s| **s == TaskState::Succeeded)
            .count()
    }

    /// Runs the tasks of one phase. Work per event is proportional to the
    /// tasks it concerns, not to the phase: a count of unmet needs per task
    /// and a queue of ready tasks in phase order replace rescans of the
    /// phase, and a task that will not succeed has its waiting dependents
    /// settled through a worklist.
    async fn run_phase(
        &mut self,
        phase_index: usize,
        deadline: Option<Instant>,
        plan_deadline: Option<Instant>,
    ) -> Result<PhaseEnd, RunError> {
        let members =
            plangate_plans::dag::phase_order(self.plan(), &self.plan().phases[phase_index].tasks);
        let concurrency = self.plan().policy.concurrency.max(1) as usize;
        let max_tasks = self.plan().policy.max_tasks.map(|m| m as usize);
        let (sender, mut receiver) = mpsc::unbounded_channel::<TaskEvent>();
        // Tasks holding a concurrency slot (their actions may be running),
        // and tasks not settled yet (a task whose last action ended frees its
        // slot before its outcome is recorded, so the next task can start
        // meanwhile; its dependents wait until it is settled).
        let mut running = 0_usize;
        let mut in_flight = 0_usize;
        let mut holds_slot = vec![false; self.states.len()];
        let mut stop_starting: Option<String> = None;
        let mut failed = None;
        let mut interrupted = false;
        let mut succeeded = self.succeeded();

        // Re-check risk for tasks still waiting on an approval that may now exist.
        for &task in &members {
            if self.states[task] == TaskState::NeedsApproval
                && risk_decision(self.plan(), task, &self.approvals).is_none()
            {
                self.states[task] = TaskState::Pending;
            }
        }

        // Phase order positions, dependents inside the phase, unmet needs.
        let mut position = vec![usize::MAX; self.states.len()];
        for (at, &task) in members.iter().enumerate() {
            position[task] = at;
        }
        let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); self.states.len()];
        for &task in &members {
            for &need in &self.plan().tasks[task].needs {
                if position[need] != usize::MAX {
                    dependents[need].push(task);
                }
            }
        }
        // Settle what cannot run (in phase order, so a blocked task blocks
        // its dependents in the same pass), then queue what is ready.
        for &task in &members {
            if self.states[task] == TaskState::Pending
                && let Some((state, reason)) = self.blocker(task)
            {
                self.set(task, state, reason).await?;
            }
        }
        let mut unmet = vec![0_usize; self.states.len()];
        let mut ready: BinaryHeap<Reverse<usize>> = BinaryHeap::new();
        for &task in &members {
            if self.states[task] == TaskState::Pending {
                unmet[task] = self.plan().tasks[task]
                    .needs
                    .iter()
                    .filter(|&&need| self.states[need] != TaskState::Succeeded)
                    .count();
                if unmet[task] == 0 {
                    ready.push(Reverse(position[task]));
                }
            }
        }

        loop {
            if stop_starting.is_none()
                && let Some(deadline) = deadline
                && Instant::now() >= deadline
            {
                let which = if plan_deadline == Some(deadline) {
                    format!(
                        "`policy.budget` {}",
                        self.plan()
                            .policy
                            .budget
                            .map(format_duration)
                            .unwrap_or_default()
                    )
                } else {
                    format!(
                        "phase `{}` budget {}",
                        self.plan().phases[phase_index].id,
                        self.plan().phases[phase_index]
                            .budget
                            .map(format_duration)
                            .unwrap_or_default()
                    )
                };
                stop_starting = Some(format!("{which} is used up"));
                if failed.is_none() && !interrupted {
                    let reason = stop_starting.clone().unwrap_or_default();
                    for &task in &members {
                        if self.states[task] == TaskState::Pending {
                            self.set(task, TaskState::Deferred, reason.clone()).await?;
                        }
                    }
                    ready.clear();
                }
            }
            // Start what is ready.
            if stop_starting.is_none() && failed.is_none() && !interrupted {
                while running < concurrency {
                    let Some(&Reverse(at)) = ready.peek() else {
                        break;
                    };
                    let task = members[at];
                    if self.states[task] != TaskState::Pending {
                        ready.pop();
                        continue;
                    }
                    if let Some(max) = max_tasks
                        && succeeded + in_flight >= max
                    {
                        if in_flight > 0 {
                            // Wait: a task in flight may still fail.
                            break;
                        }
                        ready.pop();
                        self.set(
                            task,
                            TaskState::Deferred,
                            format!("`policy.max_tasks` ({max}) is reached"),
                        )
                        .await?;
                        self.settle_dependents(task, &dependents).await?;
                        continue;
                    }
                    ready.pop();
                    self.states[task] = TaskState::Running;
                    running += 1;
                    in_flight += 1;
                    holds_slot[task] = true;
                    let env = self.env.clone();
                    let start_at = if self.verify_only.remove(&task) {
                        StartAt::Verify
                    } else {
                        StartAt::Run
                    };
                    let sender = sender.clone();
                    tokio::spawn(async move {
                        let mut slot = Slot::new(task, sender.clone());
                        let finished = env.execute(task, start_at, &mut slot).await;
                        let _ = sender.send(TaskEvent::Finished(finished));
                    });
                }
            }
            if in_flight == 0 {
                // Nothing runs and nothing more can start: tasks still pending
                // wait on a stop (failure, signal, budget) or on needs that
                // will not succeed, which `settle_dependents` settled.
                break;
            }
            let sleep_until = deadline
                .filter(|_| stop_starting.is_none())
                .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
            tokio::select! {
                Some(event) = receiver.recv() => match event {
                    TaskEvent::SlotFreed(task) => {
                        if std::mem::take(&mut holds_slot[task]) {
                            running -= 1;
                        }
                    }
                    TaskEvent::Finished(finished) => {
                        let task = finished.index;
                        if std::mem::take(&mut holds_slot[task]) {
                            running -= 1;
                        }
                        in_flight -= 1;
                        self.states[task] = finished.state;
                        match finished.state {
                            TaskState::Succeeded => {
                                self.completed.push(task);
                                succeeded += 1;
                                for &dependent in &dependents[task] {
                                    if self.states[dependent] == TaskState::Pending {
                                        unmet[dependent] -= 1;
                                        if unmet[dependent] == 0 {
                                            ready.push(Reverse(position[dependent]));
                                        }
                                    }
                                }
                            }
                            TaskState::Interrupted => interrupted = true,
                            TaskState::Failed | TaskState::TimedOut => {
                                if self.plan().policy.on_failure == OnFailure::Continue {
                                    self.failures.push(task);
                                } else if failed.is_none() {
                                    failed = Some(task);
                                }
                            }
                            _ => {}
                        }
                        if finished.state != TaskState::Succeeded {
                            self.settle_dependents(task, &dependents).await?;
                        }
                    }
                },
                () = self.env.cancel.cancelled(), if !interrupted => {
                    interrupted = true;
                }
                () = tokio::time::sleep_until(sleep_until), if deadline.is_some() && stop_starting.is_none() => {}
            }
        }
        if interrupted || self.env.cancel.is_cancelled() {
            return Ok(PhaseEnd::Interrupted);
        }
        if let Some(task) = failed {
            // Pending tasks of the phase stay pending: a resume may retry them.
            return Ok(PhaseEnd::Failed(task));
        }
        Ok(PhaseEnd::Settled)
    }

    /// `task` will not succeed: settles its pending dependents in the phase
    /// (blocked or deferred, as `blocker` says), and theirs, transitively.
    async fn settle_dependents(
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
            let state = self.env.roll_back(task).await?;
            all_ok &= state == TaskState::RolledBack;
            self.states[task] = state;
        }
        Ok(all_ok)
    }
}
