//! [`Engine`]: the entry points the CLI calls. The engine owns its tokio
//! runtime; callers stay synchronous.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap, HashSet},
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use plangate_executors::{Executors, Redactor};
use plangate_plans::{
    Approvals, Decision, LoadedPlan, OnFailure, Plan, decide_promoted, load_plan, load_plan_text,
    task_content_hash,
};
use plangate_state::{
    ApprovalRecord, ApprovalTarget, ApprovalValidity, AttemptRole, CreateRun, LockAcquired,
    LockHolder, NewRun, NewTask, OpenOptions, RunId, RunRecord, RunStatus, ShortRunIds, Store,
    TaskState, UnfinishedRun, now_millis,
};
use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;

use super::{
    RunError, RunOutcome,
    context::ContextFactory,
    dispatch::{Dispatcher, FAILURE_ROLLBACK, FailureRollback, UsedTime, failure_reason},
    progress::{Progress, ProgressSink},
    promotion::{promotion_checks, unpromoted},
    queries::find_run,
    resume::cut_off,
    shared_store::SharedStore,
    task::TaskEnvironment,
};

/// Settings shared by every operation.
#[derive(Clone)]
pub struct EngineSettings {
    /// The state file.
    pub state_path: PathBuf,
    /// Time between SIGTERM and SIGKILL when an action is stopped.
    pub grace_period: Duration,
    /// Bytes of stdout and stderr kept per attempt.
    pub output_limit: usize,
    /// Who approvals given with `--approve` are recorded as.
    pub approver: String,
    /// Where progress goes.
    pub progress: ProgressSink,
    /// `PRAGMA synchronous=FULL`: every commit is fsynced, so the state also
    /// survives power loss; `NORMAL` (the default) survives the process being
    /// killed at any instant.
    pub synchronous_full: bool,
}

impl EngineSettings {
    /// Defaults for a state file, with progress discarded.
    pub fn new(state_path: impl Into<PathBuf>) -> Self {
        Self {
            state_path: state_path.into(),
            grace_period: Duration::from_secs(5),
            output_limit: 64 * 1024,
            approver: super::queries::approver(None),
            progress: Arc::new(|_| {}),
            synchronous_full: false,
        }
    }
}

/// Options of `plangate run`.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Task or phase ids approved up front (`--approve`).
    pub approve: Vec<String>,
    /// Start a new run although an earlier run of the plan (same name and
    /// environment) is unfinished; that run becomes `superseded`.
    pub new_run: bool,
}

/// Options of `plangate resume`.
#[derive(Clone, Debug, Default)]
pub struct ResumeOptions {
    /// The run (a unique prefix); the latest when `None`.
    pub run: Option<String>,
    /// Re-run non-idempotent tasks a crash or signal cut off mid-action.
    pub retry_interrupted: bool,
    /// Continue even though the plan file changed since the run started.
    pub accept_plan_change: bool,
}

/// The engine.
pub struct Engine {
    pub(super) runtime: tokio::runtime::Runtime,
    pub(super) executors: Arc<Executors>,
    pub(super) settings: EngineSettings,
}

impl Engine {
    /// Builds the runtime; registers the built-in executors.
    pub fn new(settings: EngineSettings) -> Result<Self, RunError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(RunError::Runtime)?;
        Ok(Self {
            runtime,
            executors: Arc::new(Executors::with_defaults()),
            settings,
        })
    }

    /// Replaces the executor registry (tests register extra executors).
    #[must_use]
    pub fn with_executors(mut self, executors: Executors) -> Self {
        self.executors = Arc::new(executors);
        self
    }

    pub(super) fn open_store(&self, create: bool) -> Result<Store, RunError> {
        Ok(Store::open_with(
            &self.settings.state_path,
            OpenOptions {
                create,
                synchronous_full: self.settings.synchronous_full,
                full_check: false,
            },
        )?)
    }

    /// `plangate run PLAN`: starts a new run and drives it as far as it goes.
    pub fn run(self, plan_path: &Path, options: &RunOptions) -> Result<RunOutcome, RunError> {
        let LoadedPlan { plan, source } = load_plan(plan_path)?;
        let targets = approval_targets(&plan, &options.approve)?;
        let mut store = self.open_store(true)?;
        let approver = self.settings.approver.clone();
        let mut approvals = Approvals::default();
        for target in &targets {
            match target {
                ApprovalTarget::Task(id) => approvals.add_task_approver(id.as_str(), &approver),
                ApprovalTarget::Phase(id) => approvals.add_phase_approver(id.as_str(), &approver),
            }
        }
        let checks = if plan.policy.environments.is_empty() {
            Vec::new()
        } else {
            promotion_checks(&plan, Some(&store), now_millis(), None)?
        };
        let missing_evidence = unpromoted(&checks);
        let dry_run = decide_promoted(&plan, &approvals, &BTreeMap::new(), &missing_evidence);
        let absolute = std::path::absolute(plan_path).unwrap_or_else(|_| plan_path.to_owned());
        let tasks = initial_tasks(&plan, &dry_run);
        let at = now_millis();
        let holder = lock_holder();
        let plan_name = plan.name.to_string();
        let environment = plan.environment.clone();
        let new_run = options.new_run;
        let short = store.short_run_ids()?;
        let run = store.create_run_exclusive(
            NewRun {
                plan_name: plan.name.clone(),
                plan_path: absolute,
                plan_hash: plan.content_hash.clone(),
                plan_text: source.into_text(),
                environment: plan.environment.clone(),
                at,
                tasks,
            },
            &holder,
            |unfinished| {
                earlier_runs(
                    unfinished,
                    &holder,
                    &short,
                    &plan_name,
                    &environment,
                    new_run,
                )
            },
        )??;
        for target in &targets {
            store.record_approval(
                &run,
                target,
                &approver,
                Some("approved up front, when the run started"),
                at,
            )?;
        }
        let stored: HashMap<String, TaskState> = store
            .tasks(&run)?
            .into_iter()
            .map(|t| (t.task_id.to_string(), t.state))
            .collect();
        let states = plan
            .tasks
            .iter()
            .map(|t| {
                stored
                    .get(t.id.as_str())
                    .copied()
                    .unwrap_or(TaskState::Pending)
            })
            .collect();
        self.drive(Drive {
            store,
            plan,
            run,
            states,
            verify_only: HashSet::new(),
            completed: Vec::new(),
            approvals,
            resumed: false,
            promotion_blocked: missing_evidence.into_keys().collect(),
        })
    }

    /// `plangate resume [RUN]`.
    pub fn resume(self, options: &ResumeOptions) -> Result<RunOutcome, RunError> {
        let mut store = self.open_store(false)?;
        let record = find_run(&store, options.run.as_deref(), &self.settings.state_path)?;
        let run = record.id.clone();
        let short_run = store.short_run_id(&run)?;
        let rolled_back = store
            .tasks(&run)?
            .iter()
            .any(|t| matches!(t.state, TaskState::RolledBack | TaskState::RollbackFailed));
        let deferred = store
            .tasks(&run)?
            .iter()
            .any(|t| t.state == TaskState::Deferred);
        let finished = match record.status {
            // Runs recorded before `incomplete` existed ended `succeeded`
            // with work deferred.
            RunStatus::Succeeded => !deferred,
            RunStatus::RolledBack | RunStatus::Superseded => true,
            _ => false,
        };
        // A rollback that started (by the failure policy) and did not end
        // must be finished, not undone by going forward.
        let stopped_mid_way = matches!(record.status, RunStatus::Running | RunStatus::Interrupted);
        // The failure policy had decided to roll back (its event is durable
        // before the first undo), or an undo had started: going forward
        // would redo what the rollback was undoing. `plangate rollback`
        // finishes it.
        if !finished
            && stopped_mid_way
            && (rolled_back
                || store.last_event(&run, FAILURE_ROLLBACK)?.is_some()
                || store
                    .attempts(&run, None)?
                    .iter()
                    .any(|a| a.role == AttemptRole::Rollback))
        {
            return Err(RunError::RollingBack { run: short_run });
        }
        if finished || rolled_back {
            return Err(RunError::NotResumable {
                run: short_run,
                status: record.status,
            });
        }
        // Everything from here changes the run: take its lock first, so that
        // a second `resume` cannot settle the attempts of a live engine.
        let holder = lock_holder();
        lock_now(&mut store, &run, &holder, &self.settings.progress)?;
        let prepared = self
            .reload_plan(&mut store, &record, options.accept_plan_change)
            .and_then(|plan| {
                let (states, verify_only) =
                    self.reconcile(&mut store, &plan, &run, options.retry_interrupted)?;
                let approvals = stored_approvals(&store, &run, &plan, &self.settings.progress)?;
                Ok((plan, states, verify_only, approvals))
            });
        let (plan, states, verify_only, approvals) = match prepared {
            Ok(prepared) => prepared,
            Err(error) => {
                // The lock protects nothing any more; a failure to release it
                // only means the next process takes over a stale lock.
                let _ = store.release_lock(&run, &holder);
                return Err(error);
            }
        };
        let by_id: HashMap<String, plangate_state::TaskRecord> = store
            .tasks(&run)?
            .into_iter()
            .map(|t| (t.task_id.to_string(), t))
            .collect();
        let mut completed: Vec<(i64, usize)> = plan
            .tasks
            .iter()
            .enumerate()
            .filter_map(|(i, t)| {
                by_id
                    .get(t.id.as_str())
                    .and_then(|r| r.completed_seq)
                    .map(|seq| (seq, i))
            })
            .filter(|&(_, i)| states[i] == TaskState::Succeeded)
            .collect();
        completed.sort_unstable();
        let completed: Vec<usize> = completed.into_iter().map(|(_, i)| i).collect();

        self.drive(Drive {
            store,
            plan,
            run,
            states,
            verify_only,
            completed,
            approvals,
            resumed: true,
            promotion_blocked: BTreeSet::new(),
        })
    }

    /// `plangate rollback RUN`: rolls back every completed task, newest first.
    /// A rollback a crash cut off (by the failure policy or an earlier
    /// `plangate rollback`) is run again first.
    pub fn rollback(self, run: Option<&str>) -> Result<RunOutcome, RunError> {
        let mut store = self.open_store(false)?;
        let record = find_run(&store, run, &self.settings.state_path)?;
        let holder = lock_holder();
        lock_now(&mut store, &record.id, &holder, &self.settings.progress)?;
        // A run stopped while its failure policy was rolling it back: finish
        // that rollback, in its scope, and end the run as it would have ended.
        let stopped_mid_way = matches!(record.status, RunStatus::Running | RunStatus::Interrupted);
        let failure = if stopped_mid_way {
            match store.last_event(&record.id, FAILURE_ROLLBACK) {
                Ok(event) => event
                    .and_then(|event| event.data)
                    .and_then(|data| serde_json::from_value::<FailureRollback>(data).ok()),
                Err(error) => {
                    let _ = store.release_lock(&record.id, &holder);
                    return Err(error.into());
                }
            }
        } else {
            None
        };
        let prepared = match &failure {
            Some(failure) => self.prepare_failure_rollback(&mut store, &record, failure),
            None => self
                .prepare_rollback(&mut store, &record)
                .map(|(plan, order)| (plan, order, Ending::OnRequest)),
        };
        match prepared {
            Ok((plan, order, ending)) => {
                self.roll_back_in_order(store, plan, &record.id, order, ending)
            }
            Err(error) => {
                let _ = store.release_lock(&record.id, &holder);
                Err(error)
            }
        }
    }

    /// The plan as it was run, and the tasks to undo in order: any whose
    /// rollback was cut off, then the completed ones, newest first.
    fn prepare_rollback(
        &self,
        store: &mut Store,
        record: &RunRecord,
    ) -> Result<(Plan, Vec<usize>), RunError> {
        // The plan as it was run is the one to undo.
        let plan = load_plan_text(&record.plan_path, record.plan_text.clone())?.plan;
        let mut order = Vec::new();
        for attempt in store.open_attempts(&record.id)? {
            self.wait_for_cut_off_group(store, &plan, &attempt)?;
            store.settle_open_attempt(attempt.id, cut_off())?;
            if attempt.role == AttemptRole::Rollback
                && let Some(index) = plan.task_index(attempt.task_id.as_str())
                && !order.contains(&index)
            {
                order.push(index);
            }
        }
        let tasks = store.tasks(&record.id)?;
        let mut completed: Vec<(i64, usize)> = tasks
            .iter()
            .filter(|t| t.state == TaskState::Succeeded)
            .filter_map(|t| Some((t.completed_seq?, plan.task_index(t.task_id.as_str())?)))
            .collect();
        completed.sort_unstable();
        for &(_, index) in completed.iter().rev() {
            if !order.contains(&index) {
                order.push(index);
            }
        }
        Ok((plan, order))
    }

    /// The plan as it was run, the tasks the failure policy's rollback had
    /// still to undo (in the order it undoes them: the failed task, then the
    /// completed tasks of its scope, newest first), and how the run ends.
    fn prepare_failure_rollback(
        &self,
        store: &mut Store,
        record: &RunRecord,
        failure: &FailureRollback,
    ) -> Result<(Plan, Vec<usize>, Ending), RunError> {
        let plan = load_plan_text(&record.plan_path, record.plan_text.clone())?.plan;
        for attempt in store.open_attempts(&record.id)? {
            self.wait_for_cut_off_group(store, &plan, &attempt)?;
            store.settle_open_attempt(attempt.id, cut_off())?;
        }
        let tasks = store.tasks(&record.id)?;
        let scope_phase = failure
            .phase
            .as_deref()
            .and_then(|phase| plan.phase_index(phase));
        let only_the_failed = failure.mode == OnFailure::RollbackTask.as_str();
        let mut completed: Vec<(i64, usize)> = tasks
            .iter()
            .filter(|_| !only_the_failed)
            .filter(|t| t.task_id.as_str() != failure.task)
            .filter_map(|t| Some((t.completed_seq?, plan.task_index(t.task_id.as_str())?)))
            .filter(|&(_, index)| scope_phase.is_none_or(|p| plan.tasks[index].phase == p))
            .collect();
        completed.sort_unstable();
        let scope = plan
            .task_index(&failure.task)
            .into_iter()
            .chain(completed.iter().rev().map(|&(_, index)| index));
        let mut order = Vec::new();
        let mut all_ok = true;
        for index in scope {
            match tasks
                .iter()
                .find(|t| t.task_id == plan.tasks[index].id)
                .map(|t| t.state)
            {
                Some(TaskState::RolledBack) => {}
                Some(TaskState::RollbackFailed) => all_ok = false,
                _ => order.push(index),
            }
        }
        let ending = Ending::FailurePolicy {
            reason: failure_reason(&failure.task, &format!("`on_failure: {}`", failure.mode)),
            always_failed: only_the_failed,
            all_ok,
        };
        Ok((plan, order, ending))
    }

    fn roll_back_in_order(
        self,
        store: Store,
        plan: Plan,
        run_id: &RunId,
        order: Vec<usize>,
        ending: Ending,
    ) -> Result<RunOutcome, RunError> {
        let run_id = run_id.clone();
        let short_run = store.short_run_id(&run_id)?;
        let shared = SharedStore::new(store);
        let env = self.environment(Arc::new(plan), &run_id, &short_run, &shared);
        let progress = Arc::clone(&self.settings.progress);
        self.runtime.block_on(async move {
            let holder = lock_holder();
            lock(&shared, &run_id, &holder, &progress).await?;
            (progress)(&Progress::RunRollingBack {
                run: short_run.clone(),
            });
            let mut all_ok = true;
            for index in order {
                all_ok &= env.roll_back(index).await?.undone;
            }
            let (status, reason) = ending.settle(all_ok);
            let run = run_id.clone();
            let stored_reason = reason.clone();
            shared
                .call(move |store| {
                    store.set_run_status(&run, status, Some(&stored_reason), now_millis())
                })
                .await?;
            unlock(&shared, &run_id, holder).await?;
            (progress)(&Progress::RunFinished {
                run: short_run.clone(),
                status,
            });
            Ok(RunOutcome {
                run: run_id,
                short_run,
                status,
                reason: Some(reason),
                interrupted_tasks: false,
            })
        })
    }

    fn environment(
        &self,
        plan: Arc<Plan>,
        run: &RunId,
        short_run: &str,
        store: &SharedStore,
    ) -> TaskEnvironment {
        let contexts = self.contexts(run.as_str(), Arc::new(Redactor::for_plan(&plan)));
        TaskEnvironment {
            plan,
            run_id: run.clone(),
            short_run: short_run.to_owned(),
            store: store.clone(),
            executors: Arc::clone(&self.executors),
            redactor: Arc::clone(&contexts.redactor),
            cancel: contexts.cancel.clone(),
            contexts,
            progress: Arc::clone(&self.settings.progress),
        }
    }

    /// The context factory of `run`, with fresh cancellation tokens (the
    /// dispatcher's signal watcher cancels them).
    pub(super) fn contexts(&self, run: &str, redactor: Arc<Redactor>) -> ContextFactory {
        ContextFactory {
            run_id: run.to_owned(),
            redactor,
            grace_period: self.settings.grace_period,
            output_limit: self.settings.output_limit,
            cancel: CancellationToken::new(),
            force_kill: CancellationToken::new(),
        }
    }

    /// Drives a prepared run (see [`Drive`]) under its lock, with signals
    /// watched, to the end of this invocation.
    fn drive(self, drive: Drive) -> Result<RunOutcome, RunError> {
        let Drive {
            store,
            plan,
            run,
            states,
            verify_only,
            completed,
            approvals,
            resumed,
            promotion_blocked,
        } = drive;
        let used = UsedTime {
            run_before: Duration::from_millis(store.run(&run)?.used_ms),
            phases_before: store
                .phase_usage(&run)?
                .into_iter()
                .map(|(phase, ms)| (phase, Duration::from_millis(ms)))
                .collect(),
            recorded_until: tokio::time::Instant::now(),
        };
        let short_run = store.short_run_id(&run)?;
        let shared = SharedStore::new(store);
        let env = self.environment(Arc::new(plan), &run, &short_run, &shared);
        let progress = Arc::clone(&self.settings.progress);
        let runtime = self.runtime;
        let outcome = runtime.block_on(async move {
            let holder = lock_holder();
            lock(&shared, &run, &holder, &progress).await?;
            watch_signals(
                env.cancel.clone(),
                env.contexts.force_kill.clone(),
                Arc::clone(&progress),
            )?;
            if resumed {
                let run_id = run.clone();
                shared
                    .call(move |store| {
                        store.set_run_status(
                            &run_id,
                            RunStatus::Running,
                            Some("resumed"),
                            now_millis(),
                        )
                    })
                    .await?;
            }
            let dispatcher = Dispatcher {
                env,
                states,
                verify_only,
                completed,
                approvals,
                failures: Vec::new(),
                used,
                limits: Vec::new(),
                promotion_blocked,
            };
            (progress)(&Progress::RunStarted {
                run: short_run,
                resumed,
                tasks: dispatcher.states.len(),
                succeeded: dispatcher.succeeded(),
                max_tasks: dispatcher.plan().policy.max_tasks,
                budget: dispatcher.plan().policy.budget,
                budget_used: dispatcher.used.run_before,
            });
            let outcome = dispatcher.drive().await;
            let flushed = unlock(&shared, &run, holder).await;
            let outcome = outcome?;
            flushed?;
            Ok(outcome)
        });
        // Actions that ignore every signal must not keep the process alive.
        runtime.shutdown_background();
        outcome
    }
}

/// The pieces of a run that `run` and `resume` assemble differently, for
/// [`Engine::drive`].
struct Drive {
    store: Store,
    plan: Plan,
    run: RunId,
    /// The state of every task, indexed like `plan.tasks`.
    states: Vec<TaskState>,
    /// Tasks whose `run` is known to have taken effect: only `verify` remains.
    verify_only: HashSet<usize>,
    /// Tasks that succeeded, in completion order (for rollback).
    completed: Vec<usize>,
    approvals: Approvals,
    /// Whether this invocation is a `resume`.
    resumed: bool,
    /// Tasks blocked for want of promotion evidence when the run was created.
    promotion_blocked: BTreeSet<usize>,
}

/// Whether a new run of plan `plan` in `environment` may start, given its
/// unfinished runs: never while a live process drives one (a lock of another
/// host counts as live: its pid means nothing here); and, unless `new_run`
/// (which supersedes them), not while one waits for a `resume`.
fn earlier_runs(
    unfinished: &[UnfinishedRun],
    holder: &LockHolder,
    short: &ShortRunIds,
    plan: &str,
    environment: &str,
    new_run: bool,
) -> CreateRun<RunError> {
    let live = unfinished.iter().find_map(|earlier| {
        earlier
            .lock
            .as_ref()
            .filter(|lock| lock.host != holder.host || plangate_state::pid_is_alive(lock.pid))
    });
    if let Some(lock) = live {
        return CreateRun::Refuse(RunError::RunInProgress {
            plan: plan.to_owned(),
            environment: environment.to_owned(),
            run: short.get(&lock.run_id).to_owned(),
            pid: lock.pid,
            host: lock.host.clone(),
        });
    }
    match unfinished.first() {
        None => CreateRun::Create,
        Some(_) if new_run => CreateRun::Supersede,
        Some(earlier) => CreateRun::Refuse(RunError::UnfinishedRun {
            plan: plan.to_owned(),
            environment: environment.to_owned(),
            run: short.get(&earlier.id).to_owned(),
            status: earlier.status,
        }),
    }
}

/// Takes the run's lock before the runtime is involved (resume reconciles
/// under it).
fn lock_now(
    store: &mut Store,
    run: &RunId,
    holder: &LockHolder,
    progress: &ProgressSink,
) -> Result<(), RunError> {
    let acquired = store.acquire_lock(run, holder, now_millis(), |record| {
        plangate_state::pid_is_alive(record.pid)
    })?;
    if let LockAcquired::TookOver { previous } = acquired {
        (progress)(&Progress::Warning(format!(
            "took over the lock of process {} on `{}`, which is no longer running",
            previous.pid, previous.host
        )));
    }
    Ok(())
}

fn lock_holder() -> LockHolder {
    LockHolder {
        pid: std::process::id(),
        host: plangate_state::hostname(),
    }
}

async fn lock(
    store: &SharedStore,
    run: &RunId,
    holder: &LockHolder,
    progress: &ProgressSink,
) -> Result<(), RunError> {
    let run = run.clone();
    let holder = holder.clone();
    let acquired = store
        .call(move |store| {
            Ok(store.acquire_lock(&run, &holder, now_millis(), |record| {
                plangate_state::pid_is_alive(record.pid)
            }))
        })
        .await??;
    if let LockAcquired::TookOver { previous } = acquired {
        (progress)(&Progress::Warning(format!(
            "took over the lock of process {} on `{}`, which is no longer running",
            previous.pid, previous.host
        )));
    }
    Ok(())
}

/// Commits the queued writes, then releases the lock; fails if a write was
/// lost, which the run's outcome must not hide.
async fn unlock(
    store: &SharedStore,
    run: &RunId,
    holder: LockHolder,
) -> Result<(), plangate_state::StoreError> {
    let flushed = store.flush().await;
    let run = run.clone();
    // A lock left behind is taken over by the next process, so a failure here
    // is not worth failing the run for.
    let _ = store
        .call(move |store| store.release_lock(&run, &holder))
        .await;
    flushed
}

/// First SIGINT/SIGTERM: stop starting tasks and cancel running actions
/// (their process groups get SIGTERM, then SIGKILL after the grace period).
/// Second: SIGKILL at once.
fn watch_signals(
    cancel: CancellationToken,
    force_kill: CancellationToken,
    progress: ProgressSink,
) -> Result<(), RunError> {
    let mut interrupt = signal(SignalKind::interrupt()).map_err(RunError::Signals)?;
    let mut terminate = signal(SignalKind::terminate()).map_err(RunError::Signals)?;
    tokio::spawn(async move {
        let mut count = 0;
        loop {
            let name = tokio::select! {
                Some(()) = interrupt.recv() => "SIGINT",
                Some(()) = terminate.recv() => "SIGTERM",
                else => return,
            };
            count += 1;
            if count == 1 {
                (progress)(&Progress::Warning(format!(
                    "{name} received: stopping running actions and checkpointing; send it again to kill them at once"
                )));
                cancel.cancel();
            } else {
                (progress)(&Progress::Warning(format!(
                    "{name} received again: killing running actions"
                )));
                force_kill.cancel();
            }
        }
    });
    Ok(())
}

/// The run's approvals that count for `plan` (its hash is the run's plan
/// now), by distinct approver; each approval that no longer counts for a
/// task or phase still waiting for one is reported as a warning, so a
/// changed plan never silently keeps or silently drops an approval.
pub(super) fn stored_approvals(
    store: &Store,
    run: &RunId,
    plan: &Plan,
    progress: &ProgressSink,
) -> Result<Approvals, RunError> {
    let records = store.approvals(run)?;
    let waiting: HashSet<String> = store
        .tasks(run)?
        .into_iter()
        .filter(|task| task.state == TaskState::NeedsApproval)
        .flat_map(|task| [task.task_id.to_string(), task.phase_id.to_string()])
        .collect();
    for record in &records {
        if let Some(why) = stale_approval(record, &plan.content_hash)
            && waiting.contains(record.target.id())
        {
            (progress)(&Progress::Warning(format!(
                "the approval of {} `{}` by {} does not count: {why}; approve again with `plangate approve`",
                record.target.kind(),
                record.target.id(),
                record.approved_by
            )));
        }
    }
    Ok(store.policy_approvals(run, &plan.content_hash)?)
}

/// Why an approval no longer counts for a run whose plan hash is
/// `plan_hash`, in words; `None` while it counts.
pub fn stale_approval(record: &ApprovalRecord, plan_hash: &str) -> Option<String> {
    match record.validity(plan_hash) {
        ApprovalValidity::Valid => None,
        ApprovalValidity::Revoked => Some(match &record.revoked {
            Some(revocation) => format!("it was revoked by {}", revocation.by),
            None => "it was revoked".to_owned(),
        }),
        ApprovalValidity::OtherPlan => Some(format!(
            "it approved plan {}, and the run's plan is now {}",
            super::promotion::short_hash(record.plan_hash.as_deref().unwrap_or_default()),
            super::promotion::short_hash(plan_hash)
        )),
        ApprovalValidity::Unbound => {
            Some("it was recorded before approvals were bound to the plan they approve".to_owned())
        }
    }
}

/// Task rows for a new run: the dry run's risk decisions become initial
/// states; forecast deferrals do not (at run time, real clocks and counts decide).
pub(super) fn initial_tasks(plan: &Plan, dry_run: &plangate_plans::DryRun) -> Vec<NewTask> {
    dry_run
        .order
        .iter()
        .enumerate()
        .map(|(position, &index)| {
            let task = &plan.tasks[index];
            let decision = &dry_run.decisions[index];
            let state = match decision.decision {
                Decision::Run | Decision::Deferred => TaskState::Pending,
                Decision::Excluded => TaskState::Excluded,
                Decision::NeedsApproval => TaskState::NeedsApproval,
                Decision::Blocked => TaskState::Blocked,
            };
            NewTask {
                task_id: task.id.clone(),
                phase_id: plan.phases[task.phase].id.clone(),
                position,
                risk: task.risk,
                decision: decision.decision,
                reason: decision.reason.clone(),
                state,
                environment: plan.environment_of(task).to_owned(),
                content_hash: task_content_hash(task),
            }
        })
        .collect()
}

/// What each `--approve` value names in `plan`: a task, else a phase. A
/// value that names neither is an error (with the closest id when it looks
/// like a typo), never silently ignored; `plangate plan --approve` checks
/// the same way.
pub fn approval_targets(plan: &Plan, approve: &[String]) -> Result<Vec<ApprovalTarget>, RunError> {
    approve
        .iter()
        .map(
            |target| match (plan.task(target), plan.phase_index(target)) {
                (Some(task), _) => Ok(ApprovalTarget::Task(task.id.clone())),
                (None, Some(phase)) => Ok(ApprovalTarget::Phase(plan.phases[phase].id.clone())),
                (None, None) => {
                    let ids = plan
                        .tasks
                        .iter()
                        .map(|task| task.id.as_str())
                        .chain(plan.phases.iter().map(|phase| phase.id.as_str()));
                    Err(RunError::UnknownPlanTarget {
                        plan: plan.name.to_string(),
                        target: target.clone(),
                        suggestion: plangate_plans::text::did_you_mean(target, ids)
                            .map(str::to_owned),
                    })
                }
            },
        )
        .collect()
}

/// How a rollback ends the run.
enum Ending {
    /// `plangate rollback`.
    OnRequest,
    /// The failure policy's rollback, finished by `resume` after a crash:
    /// the run ends as the uninterrupted rollback would have ended it.
    FailurePolicy {
        /// The run's reason.
        reason: String,
        /// `rollback-task`: the run ends `failed` whatever the undo did.
        always_failed: bool,
        /// Whether the undos done before the crash all succeeded.
        all_ok: bool,
    },
}

impl Ending {
    /// The run's status and reason, given whether the undos of this
    /// invocation all succeeded.
    fn settle(self, undone: bool) -> (RunStatus, String) {
        match self {
            Ending::OnRequest if undone => {
                (RunStatus::RolledBack, "rolled back on request".to_owned())
            }
            Ending::OnRequest => (
                RunStatus::Failed,
                "rollback on request did not undo every task".to_owned(),
            ),
            Ending::FailurePolicy {
                reason,
                always_failed,
                all_ok,
            } => {
                let status = if !always_failed && all_ok && undone {
                    RunStatus::RolledBack
                } else {
                    RunStatus::Failed
                };
                (status, reason)
            }
        }
    }
}
