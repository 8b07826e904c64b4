//! [`PhaseRun`]: the scheduling state of one phase while the dispatcher runs
//! it, and its three transitions: [`PhaseRun::start_ready`] (start what is
//! ready, under `policy.concurrency` and `policy.max_tasks`),
//! [`PhaseRun::on_event`] (a task freed its slot or settled) and
//! [`PhaseRun::on_deadline`] (a budget ran out).
//!
//! A task whose resource group (`exclusive:`, or an instance with
//! `exclusive: true`) is held by a task in flight waits, parked on that
//! group, and is ready again when the holder frees its slot: tasks of one
//! group never run together, whatever the concurrency, while the tasks
//! behind it in the ready queue still start.
//!
//! Work per event is proportional to the tasks it concerns, not to the
//! phase: a count of unmet needs per task and a queue of ready tasks in phase
//! order replace rescans of the phase, and a task that will not succeed has
//! its waiting dependents settled through a worklist.

use std::{
    cmp::Reverse,
    collections::{BinaryHeap, HashMap},
    sync::Arc,
};

use plangate_plans::{
    Decision, OnFailure, format_duration,
    policy::{risk_decision, task_needs_approval},
};
use plangate_state::{ApprovalTarget, TaskState, now_millis};
use tokio::{sync::mpsc, time::Instant};

use super::{
    dispatch::{Dispatcher, PhaseEnd, note_limit},
    promotion::{PromotionCheck, promotion_checks},
    task::{Slot, StartAt, TaskEvent},
};
use crate::run::RunError;

/// One phase being run.
pub(crate) struct PhaseRun {
    phase_index: usize,
    /// The phase's tasks in phase order (topological, declaration order on ties).
    members: Vec<usize>,
    /// Position of each task of the plan in `members` (`usize::MAX` outside).
    position: Vec<usize>,
    /// Dependents of each task inside the phase.
    dependents: Vec<Vec<usize>>,
    /// Needs of each pending task that have not succeeded yet.
    unmet: Vec<usize>,
    /// Positions of the tasks whose needs are all met, earliest first.
    ready: BinaryHeap<Reverse<usize>>,
    concurrency: usize,
    max_tasks: Option<usize>,
    /// The earlier of the phase's and the plan's deadline.
    deadline: Option<Instant>,
    plan_deadline: Option<Instant>,
    /// Tasks holding a concurrency slot (their actions may be running).
    running: usize,
    /// Tasks not settled yet: a task whose last action ended frees its slot
    /// before its outcome is recorded, so the next task can start meanwhile;
    /// its dependents wait until it is settled.
    in_flight: usize,
    holds_slot: Vec<bool>,
    /// The resource groups of each task of the phase (indexes into `held`).
    groups: Vec<Vec<usize>>,
    /// Whether a task holding a slot is in each resource group.
    held: Vec<bool>,
    /// Positions of ready tasks waiting for each resource group to be free.
    parked: Vec<Vec<usize>>,
    /// Why no new task starts (a budget ran out).
    stop_starting: Option<String>,
    /// The first task that failed (under a failure policy that stops).
    failed: Option<usize>,
    /// A task was interrupted, or a signal arrived.
    interrupted: bool,
    /// Tasks of the run that succeeded (for `max_tasks`).
    succeeded: usize,
    events: mpsc::UnboundedSender<TaskEvent>,
}

impl PhaseRun {
    /// Prepares phase `phase_index`: tasks whose approval now exists become
    /// pending again, what cannot run is settled (in phase order, so that a
    /// blocked task blocks its dependents in the same pass), and what is
    /// ready is queued.
    pub(crate) async fn new(
        dispatcher: &mut Dispatcher,
        phase_index: usize,
        deadline: Option<Instant>,
        plan_deadline: Option<Instant>,
        events: mpsc::UnboundedSender<TaskEvent>,
    ) -> Result<Self, RunError> {
        let plan = dispatcher.plan_arc();
        let members = plangate_plans::dag::phase_order(&plan, &plan.phases[phase_index].tasks);
        let task_count = dispatcher.states.len();

        for &task in &members {
            if dispatcher.states[task] == TaskState::NeedsApproval
                && risk_decision(&plan, task, &dispatcher.approvals).is_none()
            {
                dispatcher.states[task] = TaskState::Pending;
            }
        }
        // Promotion evidence is looked up again now: it may have come, gone
        // or grown too old since the run was created.
        if !plan.policy.environments.is_empty() {
            let pending: Vec<usize> = members
                .iter()
                .copied()
                .filter(|&task| dispatcher.states[task] == TaskState::Pending)
                .collect();
            let checked = Arc::clone(&plan);
            let checks = dispatcher
                .env
                .store
                .call(move |store| {
                    promotion_checks(&checked, Some(store), now_millis(), Some(&pending))
                })
                .await?;
            for (task, check) in checks.iter().enumerate() {
                if let Some(reason) = check.as_ref().and_then(PromotionCheck::blocked_reason) {
                    dispatcher.set(task, TaskState::Blocked, reason).await?;
                    dispatcher.promotion_blocked.insert(task);
                } else if check.is_some() {
                    dispatcher.promotion_blocked.remove(&task);
                }
            }
        }
        // A pending task the policy keeps from running on its own merits
        // (one blocked for evidence when the run was created, pending again
        // on resume, may need an approval now) waits here, not in a slot.
        for &task in &members {
            if dispatcher.states[task] == TaskState::Pending
                && let Some(decision) = risk_decision(&plan, task, &dispatcher.approvals)
            {
                let state = if decision.decision == Decision::Excluded {
                    TaskState::Excluded
                } else {
                    TaskState::NeedsApproval
                };
                dispatcher
                    .set(task, state, decision.reason.unwrap_or_default())
                    .await?;
            }
        }

        let mut position = vec![usize::MAX; task_count];
        for (at, &task) in members.iter().enumerate() {
            position[task] = at;
        }
        let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); task_count];
        for &task in &members {
            for &need in &plan.tasks[task].needs {
                if position[need] != usize::MAX {
                    dependents[need].push(task);
                }
            }
        }
        for &task in &members {
            if dispatcher.states[task] == TaskState::Pending
                && let Some((state, reason)) = dispatcher.blocker(task)
            {
                dispatcher.set(task, state, reason).await?;
            }
        }
        let mut unmet = vec![0_usize; task_count];
        let mut ready = BinaryHeap::new();
        for &task in &members {
            if dispatcher.states[task] == TaskState::Pending {
                unmet[task] = plan.tasks[task]
                    .needs
                    .iter()
                    .filter(|&&need| dispatcher.states[need] != TaskState::Succeeded)
                    .count();
                if unmet[task] == 0 {
                    ready.push(Reverse(position[task]));
                }
            }
        }
        let mut group_index: HashMap<String, usize> = HashMap::new();
        let mut groups: Vec<Vec<usize>> = vec![Vec::new(); task_count];
        for &task in &members {
            groups[task] = plan
                .exclusive_groups(task)
                .into_iter()
                .map(|group| {
                    let next = group_index.len();
                    *group_index.entry(group).or_insert(next)
                })
                .collect();
        }
        Ok(Self {
            phase_index,
            members,
            position,
            dependents,
            unmet,
            ready,
            concurrency: plan.policy.concurrency.max(1) as usize,
            max_tasks: plan.policy.max_tasks.map(|max| max as usize),
            deadline,
            plan_deadline,
            running: 0,
            in_flight: 0,
            holds_slot: vec![false; task_count],
            groups,
            held: vec![false; group_index.len()],
            parked: vec![Vec::new(); group_index.len()],
            stop_starting: None,
            failed: None,
            interrupted: false,
            succeeded: dispatcher.succeeded(),
            events,
        })
    }

    /// Whether a task is still in flight (so an event will come).
    pub(crate) fn has_work_in_flight(&self) -> bool {
        self.in_flight > 0
    }

    /// The budget deadline to wake up at, while it has not passed.
    pub(crate) fn pending_deadline(&self) -> Option<Instant> {
        self.deadline.filter(|_| self.stop_starting.is_none())
    }

    /// A signal arrived: nothing more starts.
    pub(crate) fn interrupt(&mut self) {
        self.interrupted = true;
    }

    pub(crate) fn is_interrupted(&self) -> bool {
        self.interrupted
    }

    /// If the budget deadline has passed: no new task starts, and the
    /// pending tasks of the phase become `deferred` (unless a failure or a
    /// signal already stops the phase: a resume retries those).
    pub(crate) async fn on_deadline(
        &mut self,
        dispatcher: &mut Dispatcher,
    ) -> Result<(), RunError> {
        if self.stop_starting.is_some() {
            return Ok(());
        }
        let Some(deadline) = self.deadline else {
            return Ok(());
        };
        if Instant::now() < deadline {
            return Ok(());
        }
        let plan = dispatcher.plan_arc();
        let reason = if self.plan_deadline == Some(deadline) {
            format!(
                "plan budget {} used",
                plan.policy.budget.map(format_duration).unwrap_or_default()
            )
        } else {
            let phase = &plan.phases[self.phase_index];
            format!(
                "phase `{}` budget {} used",
                phase.id,
                phase.budget.map(format_duration).unwrap_or_default()
            )
        };
        self.stop_starting = Some(reason.clone());
        if self.failed.is_none() && !self.interrupted {
            let mut deferred_any = false;
            for &task in &self.members {
                if dispatcher.states[task] == TaskState::Pending {
                    dispatcher
                        .set(task, TaskState::Deferred, reason.clone())
                        .await?;
                    deferred_any = true;
                }
            }
            if deferred_any {
                note_limit(&mut dispatcher.limits, &reason);
            }
            self.ready.clear();
        }
        Ok(())
    }

    /// Starts ready tasks while slots are free, unless the phase stops
    /// starting (budget, failure, signal). Under `max_tasks`, a task that
    /// would pass it waits while others are in flight (one may still fail)
    /// and is deferred otherwise.
    pub(crate) async fn start_ready(
        &mut self,
        dispatcher: &mut Dispatcher,
    ) -> Result<(), RunError> {
        if self.stop_starting.is_some() || self.failed.is_some() || self.interrupted {
            return Ok(());
        }
        while self.running < self.concurrency {
            let Some(&Reverse(at)) = self.ready.peek() else {
                break;
            };
            let task = self.members[at];
            if dispatcher.states[task] != TaskState::Pending {
                self.ready.pop();
                continue;
            }
            if let Some(max) = self.max_tasks
                && self.succeeded + self.in_flight >= max
            {
                if self.in_flight > 0 {
                    break;
                }
                self.ready.pop();
                let limit = format!("`max_tasks` {max} reached");
                note_limit(&mut dispatcher.limits, &limit);
                dispatcher.set(task, TaskState::Deferred, limit).await?;
                dispatcher.settle_dependents(task, &self.dependents).await?;
                continue;
            }
            self.ready.pop();
            if let Some(&busy) = self.groups[task].iter().find(|&&group| self.held[group]) {
                // Woken again when the task in that group frees its slot.
                self.parked[busy].push(at);
                continue;
            }
            if task_needs_approval(dispatcher.plan(), task) {
                dispatcher
                    .use_approvals(ApprovalTarget::Task(
                        dispatcher.plan().tasks[task].id.clone(),
                    ))
                    .await?;
            }
            dispatcher.states[task] = TaskState::Running;
            self.running += 1;
            self.in_flight += 1;
            self.holds_slot[task] = true;
            for &group in &self.groups[task] {
                self.held[group] = true;
            }
            let env = dispatcher.env.clone();
            let start_at = if dispatcher.verify_only.remove(&task) {
                StartAt::Verify
            } else {
                StartAt::Run
            };
            let events = self.events.clone();
            tokio::spawn(async move {
                let mut slot = Slot::new(task, events.clone());
                let finished = env.execute(task, start_at, &mut slot).await;
                let _ = events.send(TaskEvent::Finished(finished));
            });
        }
        Ok(())
    }

    /// A task freed its slot, or settled: its dependents become ready, or
    /// are settled when it will not succeed.
    pub(crate) async fn on_event(
        &mut self,
        dispatcher: &mut Dispatcher,
        event: TaskEvent,
    ) -> Result<(), RunError> {
        match event {
            TaskEvent::SlotFreed(task) => self.free_slot(task),
            TaskEvent::Finished(finished) => {
                let task = finished.index;
                self.free_slot(task);
                self.in_flight -= 1;
                dispatcher.states[task] = finished.state;
                match finished.state {
                    TaskState::Succeeded => {
                        dispatcher.completed.push(task);
                        self.succeeded += 1;
                        for &dependent in &self.dependents[task] {
                            if dispatcher.states[dependent] == TaskState::Pending {
                                self.unmet[dependent] -= 1;
                                if self.unmet[dependent] == 0 {
                                    self.ready.push(Reverse(self.position[dependent]));
                                }
                            }
                        }
                    }
                    TaskState::Interrupted => self.interrupted = true,
                    TaskState::Failed | TaskState::TimedOut => {
                        if dispatcher.plan().policy.on_failure == OnFailure::Continue {
                            dispatcher.failures.push(task);
                        } else if self.failed.is_none() {
                            self.failed = Some(task);
                        }
                    }
                    _ => {}
                }
                if finished.state != TaskState::Succeeded {
                    dispatcher.settle_dependents(task, &self.dependents).await?;
                }
            }
        }
        Ok(())
    }

    /// `task`'s last action ended: its concurrency slot and its resource
    /// groups are free (once), and the tasks waiting for those groups are
    /// ready again.
    fn free_slot(&mut self, task: usize) {
        if !std::mem::take(&mut self.holds_slot[task]) {
            return;
        }
        self.running -= 1;
        for &group in &self.groups[task] {
            self.held[group] = false;
            self.ready.extend(self.parked[group].drain(..).map(Reverse));
        }
    }

    /// How the phase ended, once nothing is in flight.
    pub(crate) fn end(&self, dispatcher: &Dispatcher) -> PhaseEnd {
        if self.interrupted || dispatcher.env.cancel.is_cancelled() {
            PhaseEnd::Interrupted
        } else if let Some(task) = self.failed {
            // Pending tasks of the phase stay pending: a resume may retry them.
            PhaseEnd::Failed(task)
        } else {
            PhaseEnd::Settled
        }
    }
}
