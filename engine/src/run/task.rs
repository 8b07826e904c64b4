//! Running one task: attempts of `run`, then `verify`, with retries and
//! backoff, each attempt announced in the state file before it starts and
//! completed after; and rolling one task back.

use std::sync::Arc;

use plangate_executors::{
    ActionContext, ActionOutcome, ExecutorError, Executors, LeftChanges, Observation,
    OutcomeStatus, Redactor,
};
use plangate_plans::{Action, Plan, Rollback, Task, TaskId};
use plangate_state::{
    AttemptId, AttemptOutcome, AttemptResult, AttemptRole, RunId, StoreError, TaskState, now_millis,
};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{
    context::ContextFactory,
    progress::{Progress, ProgressSink},
    shared_store::{OUTCOME, START, SharedStore, Urgency},
};

/// What every task of one invocation shares.
#[derive(Clone)]
pub(crate) struct TaskEnvironment {
    pub(crate) plan: Arc<Plan>,
    pub(crate) run_id: RunId,
    /// The run's short id, for what the terminal shows.
    pub(crate) short_run: String,
    pub(crate) store: SharedStore,
    pub(crate) executors: Arc<Executors>,
    pub(crate) redactor: Arc<Redactor>,
    pub(crate) cancel: CancellationToken,
    pub(crate) contexts: ContextFactory,
    pub(crate) progress: ProgressSink,
}

/// How a task settled.
#[derive(Debug)]
pub(crate) struct TaskFinished {
    pub(crate) index: usize,
    pub(crate) state: TaskState,
}

/// What a task tells the dispatcher.
#[derive(Debug)]
pub(crate) enum TaskEvent {
    /// Its last action ended; what remains is recording the outcome, so
    /// its concurrency slot is free. Dependents still wait for `Finished`.
    SlotFreed(usize),
    /// It settled; its outcome is committed with the next commit, before
    /// anything that depends on it starts.
    Finished(TaskFinished),
}

/// A task's concurrency slot, released when its last action has ended.
pub(crate) struct Slot {
    index: usize,
    events: Option<tokio::sync::mpsc::UnboundedSender<TaskEvent>>,
}

impl Slot {
    pub(crate) fn new(index: usize, events: tokio::sync::mpsc::UnboundedSender<TaskEvent>) -> Self {
        Self {
            index,
            events: Some(events),
        }
    }

    /// Frees the slot (once).
    fn release(&mut self) {
        if let Some(events) = self.events.take() {
            let _ = events.send(TaskEvent::SlotFreed(self.index));
        }
    }
}

/// How a task's checks ended, when they did not settle it: which failed and
/// whether another attempt of the task could help.
enum Checked {
    /// The task settled: every check passed, or one was interrupted.
    Settled((TaskState, Option<String>)),
    /// A check failed or timed out.
    Failed { reason: String, retryable: bool },
}

/// An action that ran as an attempt whose outcome is not recorded yet.
struct Attempted {
    id: AttemptId,
    outcome: ActionOutcome,
    retryable: bool,
    /// Why the executor could not carry out the request, when it could not
    /// (redacted, one line); `outcome` is then a synthesized failure.
    error: Option<String>,
}

impl Attempted {
    /// The one-line reason of a failed attempt.
    fn failure(&self) -> String {
        self.error
            .clone()
            .unwrap_or_else(|| describe(&self.outcome))
    }
}

/// Where a task starts: from scratch, or (after a crash) with its `run`
/// already known to have taken effect, so only `verify` remains.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StartAt {
    Run,
    Verify,
}

impl TaskEnvironment {
    /// The context of one attempt of `action` (the task's run, verify or
    /// rollback action), with that action's executor instance.
    fn context_for(&self, task: &Task, action: &Action, attempt: u32) -> ActionContext {
        self.contexts.build(&self.plan, task, action, attempt)
    }

    fn command(&self, action: &Action) -> String {
        self.redactor.redact(&action.summary()).into_owned()
    }

    /// Queues a change of the task's state: it is committed with the next
    /// commit, which comes before anything that depends on it.
    fn set_state(
        &self,
        task: &TaskId,
        state: TaskState,
        reason: Option<String>,
    ) -> Result<(), StoreError> {
        let run = self.run_id.clone();
        let task = task.clone();
        let at = now_millis();
        self.store
            .queue("record the state of a task", Urgency::Soon, move |batch| {
                batch.set_task_state(&run, &task, state, reason.as_deref(), at)
            })
    }

    /// Announces an attempt (and, for a task's first attempt, its `running`
    /// state) in one transaction; returns its id and number.
    async fn begin(
        &self,
        task: &TaskId,
        role: AttemptRole,
        command: String,
        enter_running: bool,
    ) -> Result<(AttemptId, u32), StoreError> {
        let run = self.run_id.clone();
        let task = task.clone();
        let at = now_millis();
        self.store
            .commit(START, move |batch| {
                batch.start_task_attempt(&run, &task, enter_running, role, &command, at)
            })
            .await
    }

    /// Queues an attempt's outcome and, in the same transaction, what it
    /// settles: the task's verification and its new state. It is committed
    /// with the next commit (typically the next task's start), which comes
    /// before anything that depends on it.
    fn finish(
        &self,
        task: &TaskId,
        attempt: AttemptId,
        result: AttemptResult,
        verified: Option<bool>,
        settled: Option<(TaskState, Option<String>)>,
    ) -> Result<(), StoreError> {
        let run = self.run_id.clone();
        let task = task.clone();
        self.store.queue(OUTCOME, Urgency::Soon, move |batch| {
            let settled = settled
                .as_ref()
                .map(|(state, reason)| (*state, reason.as_deref()));
            batch.finish_and_settle(&run, &task, attempt, result, verified, settled)
        })
    }

    /// A checkpoint that commits evidence to `attempt` before the side effect.
    /// Also commits to `attempt` the process group of each process the
    /// action spawns, right after the spawn (see `ARCHITECTURE.md`).
    fn checkpointed(&self, context: ActionContext, attempt: AttemptId) -> ActionContext {
        let store = self.store.clone();
        let spawn_store = self.store.clone();
        context
            .with_checkpoint(move |evidence| {
                let store = store.clone();
                async move {
                    store
                        .commit("record the evidence of an attempt", move |batch| {
                            batch.record_attempt_evidence(attempt, evidence)
                        })
                        .await
                }
            })
            .with_on_spawn(move |group| {
                // Only a crash needs it: it shares the next commit, or is
                // committed within `LAZY_DELAY` (see `ARCHITECTURE.md`).
                std::future::ready(
                    spawn_store
                        .queue(
                            "record the process group of an attempt",
                            Urgency::Lazy,
                            move |batch| {
                                batch.record_attempt_process(
                                    attempt,
                                    group.process_group,
                                    group.started,
                                )
                            },
                        )
                        .map_err(|error| error_chain(&error)),
                )
            })
    }

    /// Announces and runs one action as an attempt, without recording its
    /// outcome (the caller does, with what it settles). The flag says whether
    /// trying again can help (an executor error such as a missing executor or
    /// an invalid action cannot).
    async fn attempt(
        &self,
        task: &Task,
        role: AttemptRole,
        action: &Action,
        rollback: Option<(&Rollback, Option<serde_json::Value>)>,
        enter_running: bool,
    ) -> Result<Attempted, StoreError> {
        self.attempt_labelled(task, role, action, rollback, enter_running, None)
            .await
    }

    /// [`Self::attempt`]; a check of a verify list (`Some((number, count))`)
    /// is recorded as `check N of M: COMMAND`, so each check's attempt says
    /// which it is in the state file and every report.
    async fn attempt_labelled(
        &self,
        task: &Task,
        role: AttemptRole,
        action: &Action,
        rollback: Option<(&Rollback, Option<serde_json::Value>)>,
        enter_running: bool,
        check: Option<(usize, usize)>,
    ) -> Result<Attempted, StoreError> {
        let command = match (&rollback, check) {
            (Some((Rollback::Auto, _)), _) => {
                format!("auto rollback of {}", self.command(action))
            }
            (_, Some((number, count))) => {
                format!("check {number} of {count}: {}", self.command(action))
            }
            _ => self.command(action),
        };
        let (id, number) = self
            .begin(&task.id, role, command.clone(), enter_running)
            .await?;
        match role {
            AttemptRole::Run => (self.progress)(&Progress::TaskStarted {
                task: task.id.to_string(),
                attempt: number,
                timeout: task.timeout,
            }),
            AttemptRole::Verify => (self.progress)(&Progress::VerifyStarted {
                task: task.id.to_string(),
                attempt: number,
                timeout: task.timeout,
            }),
            AttemptRole::Rollback => {}
        }
        let acting = match rollback {
            Some((Rollback::Action(explicit), _)) => explicit.as_ref(),
            _ => action,
        };
        let context = self.checkpointed(self.context_for(task, acting, number), id);
        let outcome = match self.executors.for_action(acting) {
            None => Err(ExecutorError::Unavailable {
                kind: acting.kind(),
            }),
            Some(executor) => match (role, rollback) {
                (AttemptRole::Run, _) | (AttemptRole::Rollback, None) => {
                    executor.apply(action, &context).await
                }
                (AttemptRole::Verify, _) => executor.verify(action, &context).await,
                (AttemptRole::Rollback, Some((rollback, evidence))) => {
                    executor
                        .rollback(rollback, action, evidence.as_ref(), &context)
                        .await
                }
            },
        };
        let mut retryable = true;
        let mut failure = None;
        let outcome = outcome.unwrap_or_else(|error| {
            retryable = error.is_retryable();
            let mut failed = ActionOutcome::new(OutcomeStatus::Failed, command.clone());
            // The attempt's stderr is what the tool printed, when a tool the
            // executor ran failed (its reason says which); else plangate's
            // own line.
            let message = error_chain(&error);
            let stderr = match &error {
                ExecutorError::Tool { stderr_tail, .. } if !stderr_tail.trim().is_empty() => {
                    stderr_tail.trim_end().to_owned()
                }
                _ => message.clone(),
            };
            failed.stderr_tail = self.redactor.redact(&stderr).into_owned();
            failure = Some(self.redactor.redact(&message).into_owned());
            failed
        });
        Ok(Attempted {
            id,
            outcome,
            retryable,
            error: failure,
        })
    }

    /// Runs a task to a settled state: attempts of `run` (and `verify`), with
    /// retries. Store errors end the task as failed: without a record, the
    /// engine must not claim anything.
    pub(crate) async fn execute(
        &self,
        index: usize,
        start_at: StartAt,
        slot: &mut Slot,
    ) -> TaskFinished {
        let task = &self.plan.tasks[index];
        let started = Instant::now();
        match self.execute_inner(task, start_at, slot).await {
            Ok((state, _)) => TaskFinished { index, state },
            Err(error) => {
                (self.progress)(&Progress::Warning(format!(
                    "task `{}` failed on a state store error: {}",
                    task.id,
                    error_chain(&error)
                )));
                // The dispatcher counts it as failed; a live display must
                // not keep showing it as running.
                (self.progress)(&Progress::TaskFinished {
                    task: task.id.to_string(),
                    state: TaskState::Failed,
                    reason: Some("the state store failed".to_owned()),
                    duration: started.elapsed(),
                });
                TaskFinished {
                    index,
                    state: TaskState::Failed,
                }
            }
        }
    }

    async fn execute_inner(
        &self,
        task: &Task,
        mut start_at: StartAt,
        slot: &mut Slot,
    ) -> Result<(TaskState, Option<String>), StoreError> {
        let started = Instant::now();
        let attempts = task.retries + 1;
        let mut last_failure = (TaskState::Failed, None);
        let mut made = 0_usize;
        // The task enters `running` with its first attempt, in one transaction.
        let mut first = true;
        for try_number in 1..=attempts {
            made += 1;
            if self.cancel.is_cancelled() {
                return self.settle(
                    task,
                    TaskState::Interrupted,
                    Some("interrupted before the attempt started".to_owned()),
                    started,
                );
            }
            if start_at == StartAt::Run {
                let run = self
                    .attempt(task, AttemptRole::Run, &task.run, None, first)
                    .await?;
                first = false;
                let settled = match run.outcome.status {
                    OutcomeStatus::Succeeded if task.verify.is_empty() => {
                        Some((TaskState::Succeeded, None))
                    }
                    OutcomeStatus::Cancelled => Some((
                        TaskState::Interrupted,
                        Some("interrupted while running".to_owned()),
                    )),
                    _ => None,
                };
                if let Some((state, reason)) = &settled {
                    self.announce(task, *state, reason.clone(), started);
                    slot.release();
                }
                self.finish(
                    &task.id,
                    run.id,
                    attempt_result(&run.outcome),
                    None,
                    settled.clone(),
                )?;
                if let Some(settled) = settled {
                    return Ok(settled);
                }
                match run.outcome.status {
                    OutcomeStatus::Succeeded | OutcomeStatus::Cancelled => {}
                    OutcomeStatus::TimedOut => {
                        last_failure = (
                            TaskState::TimedOut,
                            Some(format!(
                                "timed out after {}",
                                plangate_plans::format_duration(task.timeout)
                            )),
                        );
                        self.backoff(task, try_number, attempts).await;
                        continue;
                    }
                    OutcomeStatus::Failed => {
                        last_failure = (
                            TaskState::Failed,
                            Some(format!("`run` failed: {}", run.failure())),
                        );
                        if !run.retryable {
                            break;
                        }
                        self.backoff(task, try_number, attempts).await;
                        continue;
                    }
                }
            }
            if task.verify.is_empty() {
                return self.settle(task, TaskState::Succeeded, None, started);
            }
            match self.verify_checks(task, &mut first, started, slot).await? {
                Checked::Settled(settled) => return Ok(settled),
                Checked::Failed { reason, retryable } => {
                    last_failure = (TaskState::Failed, Some(reason));
                    if !retryable {
                        break;
                    }
                }
            }
            start_at = StartAt::Run;
            self.backoff(task, try_number, attempts).await;
        }
        let (state, reason) = last_failure;
        let reason = reason.map(|r| {
            format!(
                "{r} (after {})",
                plangate_plans::text::plural(made, "attempt", "attempts")
            )
        });
        self.settle(task, state, reason, started)
    }

    /// Runs the task's checks in order, each as its own verify attempt with
    /// its own outcome and evidence. The first check that fails (or times
    /// out) fails the verify and the checks after it do not run: they would
    /// check a change already known to be bad, and a waiting check (a
    /// rollout) could hold the task until its own timeout. The last check's
    /// pass settles the task as succeeded.
    async fn verify_checks(
        &self,
        task: &Task,
        first: &mut bool,
        started: Instant,
        slot: &mut Slot,
    ) -> Result<Checked, StoreError> {
        let count = task.verify.len();
        for (position, check) in task.verify.iter().enumerate() {
            let label = (count > 1).then_some((position + 1, count));
            let attempted = self
                .attempt_labelled(task, AttemptRole::Verify, check, None, *first, label)
                .await?;
            *first = false;
            let last = position + 1 == count;
            let settled = match attempted.outcome.status {
                OutcomeStatus::Succeeded if last => Some((TaskState::Succeeded, None)),
                OutcomeStatus::Cancelled => Some((
                    TaskState::Interrupted,
                    Some("interrupted while verifying".to_owned()),
                )),
                OutcomeStatus::Succeeded | OutcomeStatus::TimedOut | OutcomeStatus::Failed => None,
            };
            if let Some((state, reason)) = &settled {
                self.announce(task, *state, reason.clone(), started);
                slot.release();
            }
            let passed = attempted.outcome.succeeded();
            // Whether the task verified is known at its last check, or at
            // the first that fails.
            let verified = (last || !passed).then_some(passed);
            self.finish(
                &task.id,
                attempted.id,
                attempt_result(&attempted.outcome),
                verified,
                settled.clone(),
            )?;
            if let Some(settled) = settled {
                return Ok(Checked::Settled(settled));
            }
            if !passed {
                let which = match label {
                    Some((number, count)) => format!(
                        "`verify` check {number} of {count} ({}) failed",
                        self.command(check)
                    ),
                    None => "`verify` failed".to_owned(),
                };
                return Ok(Checked::Failed {
                    reason: format!("{which}: {}", attempted.failure()),
                    retryable: attempted.retryable,
                });
            }
        }
        unreachable!(
            "a task's checks end with a settled last check or a failed one, since the list is not empty"
        )
    }

    async fn backoff(&self, task: &Task, try_number: u32, attempts: u32) {
        if try_number < attempts {
            (self.progress)(&Progress::RetryWaiting {
                task: task.id.to_string(),
                backoff: task.retry_backoff,
            });
            tokio::select! {
                () = tokio::time::sleep(task.retry_backoff) => {}
                () = self.cancel.cancelled() => {}
            }
        }
    }

    fn settle(
        &self,
        task: &Task,
        state: TaskState,
        reason: Option<String>,
        started: Instant,
    ) -> Result<(TaskState, Option<String>), StoreError> {
        self.set_state(&task.id, state, reason.clone())?;
        Ok(self.announce(task, state, reason, started))
    }

    /// Reports a task's end. When its last action ends, this comes before
    /// the slot is freed (and so before the next task can start), so the
    /// console shows events in the order they happened; the record follows
    /// at once.
    fn announce(
        &self,
        task: &Task,
        state: TaskState,
        reason: Option<String>,
        started: Instant,
    ) -> (TaskState, Option<String>) {
        (self.progress)(&Progress::TaskFinished {
            task: task.id.to_string(),
            state,
            reason: reason.clone(),
            duration: started.elapsed(),
        });
        (state, reason)
    }

    /// Rolls back one task; returns its new state. A task without a rollback
    /// keeps its state, and the skip is recorded as an event.
    pub(crate) async fn roll_back(&self, index: usize) -> Result<RolledBack, StoreError> {
        let task = &self.plan.tasks[index];
        let id = task.id.to_string();
        if let Some(reason) = self.nothing_to_undo(task).await? {
            return self.record_nothing_to_undo(task, reason).await;
        }
        let Some(rollback) = &task.rollback else {
            let run = self.run_id.clone();
            let task_id = task.id.clone();
            let message =
                format!("task `{id}` declares no rollback; its changes are left in place");
            let state = self
                .store
                .call(move |store| {
                    store.append_event(
                        &run,
                        plangate_state::NewEvent {
                            at: now_millis(),
                            kind: "rollback-skipped",
                            task_id: Some(&task_id),
                            message: &message,
                            data: None,
                        },
                    )?;
                    Ok(store.task(&run, &task_id)?.state)
                })
                .await?;
            (self.progress)(&Progress::LeftInPlace { task: id, state });
            return Ok(RolledBack {
                state,
                undone: false,
            });
        };
        (self.progress)(&Progress::RollbackStarted {
            task: id.clone(),
            timeout: task.timeout,
        });
        let evidence = {
            let run = self.run_id.clone();
            let task_id = task.id.clone();
            self.store
                .call(move |store| {
                    Ok(store
                        .attempts(&run, Some(&task_id))?
                        .into_iter()
                        .rev()
                        .find(|attempt| {
                            attempt.role == AttemptRole::Run && attempt.evidence.is_some()
                        })
                        .and_then(|attempt| attempt.evidence))
                })
                .await?
        };
        let undo = self
            .attempt(
                task,
                AttemptRole::Rollback,
                &task.run,
                Some((rollback, evidence)),
                false,
            )
            .await?;
        let (state, reason) = if undo.outcome.succeeded() {
            (TaskState::RolledBack, None)
        } else {
            (
                TaskState::RollbackFailed,
                Some(format!("rollback failed: {}", undo.failure())),
            )
        };
        self.finish(
            &task.id,
            undo.id,
            attempt_result(&undo.outcome),
            None,
            Some((state, reason.clone())),
        )?;
        (self.progress)(&Progress::RollbackFinished {
            task: id,
            state,
            reason,
        });
        Ok(RolledBack {
            state,
            undone: state == TaskState::RolledBack,
        })
    }

    /// Why a failed task left nothing to undo, if it did: its executor
    /// judges from the last `run` attempt's evidence and outcome
    /// ([`Executor::left_changes`](plangate_executors::Executor::left_changes)),
    /// and when it cannot tell, `observe` may find the action not applied.
    /// `None` for a task that did not fail, or that may have changed something.
    async fn nothing_to_undo(&self, task: &Task) -> Result<Option<String>, StoreError> {
        let run = self.run_id.clone();
        let task_id = task.id.clone();
        let (state, last_run) = self
            .store
            .call(move |store| {
                let state = store.task(&run, &task_id)?.state;
                let last_run = store
                    .attempts(&run, Some(&task_id))?
                    .into_iter()
                    .rev()
                    .find(|attempt| attempt.role == AttemptRole::Run);
                Ok((state, last_run))
            })
            .await?;
        let Some(last_run) =
            last_run.filter(|_| matches!(state, TaskState::Failed | TaskState::TimedOut))
        else {
            return Ok(None);
        };
        let status = match last_run.outcome {
            Some(AttemptOutcome::Failed) => OutcomeStatus::Failed,
            Some(AttemptOutcome::TimedOut) => OutcomeStatus::TimedOut,
            _ => return Ok(None),
        };
        let Some(executor) = self.executors.for_action(&task.run) else {
            return Ok(None);
        };
        let mut outcome = ActionOutcome::new(status, last_run.command.clone());
        outcome.exit_code = last_run.exit_code;
        outcome.signal = last_run.signal;
        outcome.stdout_tail = last_run.stdout_tail.clone().unwrap_or_default();
        outcome.stderr_tail = last_run.stderr_tail.clone().unwrap_or_default();
        outcome.evidence.clone_from(&last_run.evidence);
        let evidence = last_run.evidence.as_ref();
        match executor.left_changes(&task.run, evidence, &outcome) {
            LeftChanges::None { reason } => Ok(Some(reason)),
            LeftChanges::Some => Ok(None),
            LeftChanges::Unknown => {
                let context = self.context_for(task, &task.run, last_run.number);
                let observed = executor.observe(&task.run, evidence, &context).await;
                Ok(matches!(observed, Ok(Observation::NotApplied))
                    .then(|| "observe found that its action had not taken effect".to_owned()))
            }
        }
    }

    /// Records that a failed task has nothing to undo: it stays failed, its
    /// reason says so, and an event of kind `rollback-not-needed` is written.
    async fn record_nothing_to_undo(
        &self,
        task: &Task,
        reason: String,
    ) -> Result<RolledBack, StoreError> {
        let run = self.run_id.clone();
        let task_id = task.id.clone();
        let note = format!("nothing to undo: {reason}");
        let stored_note = note.clone();
        let state = self
            .store
            .call(move |store| {
                let record = store.task(&run, &task_id)?;
                let at = now_millis();
                let reason = match &record.state_reason {
                    Some(failure) => format!("{failure}; {stored_note}"),
                    None => stored_note.clone(),
                };
                store.set_task_state(&run, &task_id, record.state, Some(&reason), at)?;
                store.append_event(
                    &run,
                    plangate_state::NewEvent {
                        at,
                        kind: "rollback-not-needed",
                        task_id: Some(&task_id),
                        message: &format!("task `{task_id}`: {stored_note}"),
                        data: None,
                    },
                )?;
                Ok(record.state)
            })
            .await?;
        (self.progress)(&Progress::NothingToUndo {
            task: task.id.to_string(),
            reason: note,
        });
        Ok(RolledBack {
            state,
            undone: true,
        })
    }
}

/// How a task's rollback ended.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RolledBack {
    /// The task's state now.
    pub(crate) state: TaskState,
    /// Whether nothing of the task is left in place: it was rolled back, or
    /// it failed having changed nothing.
    pub(crate) undone: bool,
}

fn attempt_result(outcome: &ActionOutcome) -> AttemptResult {
    let status = match outcome.status {
        OutcomeStatus::Succeeded => AttemptOutcome::Succeeded,
        OutcomeStatus::Failed => AttemptOutcome::Failed,
        OutcomeStatus::TimedOut => AttemptOutcome::TimedOut,
        OutcomeStatus::Cancelled => AttemptOutcome::Cancelled,
    };
    let mut result = AttemptResult::new(status, now_millis());
    result.exit_code = outcome.exit_code;
    result.signal = outcome.signal;
    result.duration_ms = Some(u64::try_from(outcome.duration.as_millis()).unwrap_or(u64::MAX));
    result.stdout_tail = Some(outcome.stdout_tail.clone());
    result.stderr_tail = Some(outcome.stderr());
    result.evidence.clone_from(&outcome.evidence);
    result
}

/// `exit code 3`, `killed by signal 9`, plus the tool's own words: its
/// error line (see [`ActionOutcome::error_line`]).
pub(crate) fn describe(outcome: &ActionOutcome) -> String {
    let status = match (outcome.exit_code, outcome.signal) {
        (Some(code), _) => Some(format!("exit code {code}")),
        (None, Some(signal)) => Some(format!("killed by signal {signal}")),
        (None, None) => None,
    };
    match (status, outcome.error_line()) {
        (Some(status), Some(line)) => format!("{status}: {line}"),
        (Some(status), None) => status,
        (None, Some(line)) => line,
        (None, None) => outcome.status.as_str().to_owned(),
    }
}

/// An error and its sources, joined with `: `.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_attempt_is_described_with_the_tools_error_line() {
        let error = ExecutorError::Tool {
            command: "kubectl apply -f app.yaml --dry-run=client".to_owned(),
            exit_code: Some(1),
            signal: None,
            stderr_tail: "error: context \"dev\" does not exist\n".to_owned(),
        };
        assert_eq!(
            error_chain(&error),
            "`kubectl apply -f app.yaml --dry-run=client` exited with code 1: error: context \"dev\" does not exist"
        );
        let mut outcome = ActionOutcome::new(OutcomeStatus::Failed, "kubectl apply");
        outcome.exit_code = Some(1);
        outcome.stderr_tail =
            "Warning: deprecated\nerror: context \"dev\" does not exist\nsee the docs\n".to_owned();
        assert_eq!(
            describe(&outcome),
            "exit code 1: error: context \"dev\" does not exist"
        );
    }
}
