//! Runs: creating one with its tasks, reading, resolving id prefixes, status
//! changes and accepting a changed plan on resume.

use std::{
    collections::HashSet,
    path::{Path, PathBuf},
};

use plangate_plans::{Decision, PhaseId, PlanName, Risk, TaskId, text::plural};
use rusqlite::{OptionalExtension, Row, Transaction};
use serde::Serialize;
use serde_json::json;

use crate::{
    error::{StoreError, sqlite},
    ids::{RESOLVE_RUN_SUFFIX, RUN_ID_LEN, RunId, is_run_id_prefix, is_run_id_suffix},
    locks::{LockHolder, LockRecord},
    states::{RunStatus, TaskState},
    store::{EventRow, Store, id_column, insert_event},
};

/// Event kind written by [`Store::create_run`].
pub const RUN_STARTED: &str = "run-started";
/// Event kind written by [`Store::accept_plan_change`].
pub const PLAN_CHANGED: &str = "plan-changed";

/// How many candidates [`StoreError::AmbiguousRun`] lists.
const MAX_CANDIDATES: usize = 10;

/// Selects the columns [`run_from_row`] reads, in order.
const SELECT_RUN: &str = "SELECT runs.id, plan_name, plan_path, plan_hash, run_plans.plan_text, \
                           environment, status, created_at, updated_at, finished_at, exit_reason, \
                           used_ms \
                           FROM runs JOIN run_plans ON run_plans.run_id = runs.id";

pub(crate) const RESOLVE_RUN: &str =
    "SELECT id FROM runs WHERE id >= ?1 AND id < ?2 ORDER BY id LIMIT ?3";
pub(crate) const INSERT_TASK: &str = "INSERT INTO tasks \
    (run_id, task_id, phase_id, position, risk, decision, reason, state, environment, \
    content_hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";

/// A run to record, with every task of its plan.
#[derive(Clone, Debug)]
pub struct NewRun {
    /// The plan's `name`.
    pub plan_name: PlanName,
    /// The plan file, as given on the command line; must be UTF-8.
    pub plan_path: PathBuf,
    /// SHA-256 of the plan file, lowercase hex.
    pub plan_hash: String,
    /// The whole plan file, so that `resume` can tell whether it changed.
    pub plan_text: String,
    /// The plan's `environment`.
    pub environment: String,
    /// Creation time, unix milliseconds; also the time part of the run id.
    pub at: i64,
    /// Every task of the plan.
    pub tasks: Vec<NewTask>,
}

/// A task of a new run (or one added by a plan change), with its dry-run
/// decision.
#[derive(Clone, Debug)]
pub struct NewTask {
    /// The task id.
    pub task_id: TaskId,
    /// The phase it belongs to.
    pub phase_id: PhaseId,
    /// Its index in run order.
    pub position: usize,
    /// Its risk.
    pub risk: Risk,
    /// The dry run's decision.
    pub decision: Decision,
    /// Why, for every decision but `run`.
    pub reason: Option<String>,
    /// Its initial state: `pending` for tasks that will run, else the state
    /// matching the decision (`excluded`, `needs-approval`, ...).
    pub state: TaskState,
    /// The environment the task targets (its own, else the plan's).
    pub environment: String,
    /// SHA-256 of the task's content (`plangate_plans::task_content_hash`),
    /// what environment promotion matches evidence by.
    pub content_hash: String,
}

/// A plan that changed since the run started, accepted on resume.
#[derive(Clone, Debug)]
pub struct PlanChange {
    /// The plan file now; must be UTF-8.
    pub plan_path: PathBuf,
    /// SHA-256 of the new plan file, lowercase hex.
    pub plan_hash: String,
    /// The new plan file.
    pub plan_text: String,
    /// When the change was accepted, unix milliseconds.
    pub at: i64,
    /// Every task of the new plan, with fresh decisions.
    pub tasks: Vec<NewTask>,
}

/// What [`Store::accept_plan_change`] did to the task rows.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PlanChangeSummary {
    /// Tasks new in the plan, inserted with their given state.
    pub added: Vec<TaskId>,
    /// Tasks of the run that the new plan no longer has; their rows are kept
    /// unchanged, for the engine to settle.
    pub missing: Vec<TaskId>,
}

/// One run, as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RunRecord {
    /// The run id.
    pub id: RunId,
    /// The plan's `name`.
    pub plan_name: PlanName,
    /// The plan file.
    pub plan_path: PathBuf,
    /// SHA-256 of the plan file, lowercase hex.
    pub plan_hash: String,
    /// The whole plan file.
    pub plan_text: String,
    /// The plan's `environment`.
    pub environment: String,
    /// The run's status.
    pub status: RunStatus,
    /// Creation time, unix milliseconds.
    pub created_at: i64,
    /// Time of the latest write about the run.
    pub updated_at: i64,
    /// When the run reached a terminal status; `None` while it can continue.
    pub finished_at: Option<i64>,
    /// Why the run has its status (the reason given with it).
    pub exit_reason: Option<String>,
    /// Milliseconds the engine spent driving the run, summed over `run` and
    /// every `resume` (time paused between them does not count); what
    /// `policy.budget` measures.
    pub used_ms: u64,
}

impl Store {
    /// Records a new run, all its tasks and a `run-started` event in one
    /// transaction, and returns the new run id.
    pub fn create_run(&mut self, new_run: NewRun) -> Result<RunId, StoreError> {
        let operation = "create a run";
        check_unique(&new_run.tasks)?;
        self.write(operation, |transaction| {
            insert_run_in(transaction, new_run, operation)
        })
    }

    /// Creates a run as [`Store::create_run`] does, unless `decide` refuses,
    /// and takes its lock for `holder`, in one `BEGIN IMMEDIATE` transaction:
    /// two processes cannot both pass the check. `decide` sees the
    /// unfinished runs of the same plan name and environment (`running`,
    /// `paused`, `interrupted`, `incomplete`), newest first, with their
    /// locks; with [`CreateRun::Supersede`] they all become `superseded`,
    /// naming the new run.
    pub fn create_run_exclusive<E>(
        &mut self,
        new_run: NewRun,
        holder: &LockHolder,
        decide: impl FnOnce(&[UnfinishedRun]) -> CreateRun<E>,
    ) -> Result<Result<RunId, E>, StoreError> {
        let operation = "create a run";
        check_unique(&new_run.tasks)?;
        self.write(operation, |transaction| {
            let unfinished: Vec<UnfinishedRun> = transaction
                .prepare_cached(
                    "SELECT runs.id, runs.status, locks.pid, locks.host, locks.acquired_at, \
                     locks.heartbeat_at FROM runs LEFT JOIN locks ON locks.run_id = runs.id \
                     WHERE plan_name = ?1 AND environment = ?2 AND status IN \
                     ('running', 'paused', 'interrupted', 'incomplete') \
                     ORDER BY created_at DESC, runs.rowid DESC",
                )
                .and_then(|mut statement| {
                    statement
                        .query_map((new_run.plan_name.as_str(), &new_run.environment), |row| {
                            let id: RunId = row.get(0)?;
                            let pid: Option<u32> = row.get(2)?;
                            let lock = match pid {
                                Some(pid) => Some(LockRecord {
                                    run_id: id.clone(),
                                    pid,
                                    host: row.get(3)?,
                                    acquired_at: row.get(4)?,
                                    heartbeat_at: row.get(5)?,
                                }),
                                None => None,
                            };
                            Ok(UnfinishedRun {
                                id,
                                status: row.get(1)?,
                                lock,
                            })
                        })?
                        .collect()
                })
                .map_err(sqlite(operation))?;
            let supersede = match decide(&unfinished) {
                CreateRun::Refuse(refusal) => return Ok(Err(refusal)),
                CreateRun::Create => false,
                CreateRun::Supersede => true,
            };
            let at = new_run.at;
            let id = insert_run_in(transaction, new_run, operation)?;
            if supersede {
                for old in &unfinished {
                    supersede_in(transaction, old, &id, at, operation)?;
                }
            }
            transaction
                .prepare_cached(
                    "INSERT INTO locks (run_id, pid, host, acquired_at, heartbeat_at) \
                     VALUES (?1, ?2, ?3, ?4, ?4)",
                )
                .and_then(|mut statement| statement.execute((&id, holder.pid, &holder.host, at)))
                .map_err(sqlite(operation))?;
            Ok(Ok(id))
        })
    }

    /// The run with this exact id.
    pub fn run(&self, run: &RunId) -> Result<RunRecord, StoreError> {
        let operation = "read a run";
        self.connection
            .prepare_cached(&format!("{SELECT_RUN} WHERE runs.id = ?1"))
            .and_then(|mut statement| statement.query_row([run], run_from_row).optional())
            .map_err(sqlite(operation))?
            .ok_or_else(|| StoreError::UnknownRun {
                run: run.to_string(),
            })
    }

    /// The most recently created run, if any.
    pub fn latest_run(&self) -> Result<Option<RunRecord>, StoreError> {
        self.connection
            .prepare_cached(&format!(
                "{SELECT_RUN} ORDER BY created_at DESC, runs.rowid DESC LIMIT 1"
            ))
            .and_then(|mut statement| statement.query_row([], run_from_row).optional())
            .map_err(sqlite("read the latest run"))
    }

    /// Every run, newest first.
    pub fn runs(&self) -> Result<Vec<RunRecord>, StoreError> {
        self.connection
            .prepare_cached(&format!(
                "{SELECT_RUN} ORDER BY created_at DESC, runs.rowid DESC"
            ))
            .and_then(|mut statement| statement.query_map([], run_from_row)?.collect())
            .map_err(sqlite("list runs"))
    }

    /// The run named by `text` (case-insensitive): its full id, a unique
    /// prefix of it (like a git hash prefix), or a unique end of it of at
    /// least four characters (its short form, [`crate::ShortRunIds`]).
    ///
    /// # Errors
    ///
    /// [`StoreError::UnknownRun`] when no run matches (or `text` is empty or
    /// cannot be part of a run id), [`StoreError::AmbiguousRun`] when several do.
    pub fn resolve_run(&self, text: &str) -> Result<RunId, StoreError> {
        let normalized = text.trim().to_ascii_uppercase();
        let as_prefix = !normalized.is_empty() && is_run_id_prefix(&normalized);
        let as_suffix = is_run_id_suffix(&normalized);
        if !as_prefix && !as_suffix {
            return Err(StoreError::UnknownRun {
                run: text.to_owned(),
            });
        }
        let operation = "resolve a run id";
        let mut candidates: Vec<RunId> = Vec::new();
        if as_prefix {
            // Run ids use only digits and capitals, which all sort before `~`.
            let upper_bound = format!("{normalized}~");
            candidates = self
                .connection
                .prepare_cached(RESOLVE_RUN)
                .and_then(|mut statement| {
                    statement
                        .query_map((&normalized, &upper_bound, MAX_CANDIDATES + 1), |row| {
                            row.get(0)
                        })?
                        .collect()
                })
                .map_err(sqlite(operation))?;
        }
        if as_suffix && normalized.len() < RUN_ID_LEN {
            let start = -i64::try_from(normalized.len()).expect("at most 26 characters");
            let by_end: Vec<RunId> = self
                .connection
                .prepare_cached(RESOLVE_RUN_SUFFIX)
                .and_then(|mut statement| {
                    statement
                        .query_map((start, &normalized, MAX_CANDIDATES + 1), |row| row.get(0))?
                        .collect()
                })
                .map_err(sqlite(operation))?;
            candidates.extend(by_end);
            candidates.sort_unstable();
            candidates.dedup();
        }
        match candidates.len() {
            0 => Err(StoreError::UnknownRun {
                run: text.to_owned(),
            }),
            1 => Ok(candidates.remove(0)),
            _ => {
                candidates.truncate(MAX_CANDIDATES);
                Err(StoreError::AmbiguousRun {
                    prefix: text.to_owned(),
                    candidates,
                })
            }
        }
    }

    /// Sets the run's status and `exit_reason` (cleared when `reason` is
    /// `None`) and writes an event of kind [`RunStatus::event_kind`].
    /// `finished_at` is set to `at` for terminal statuses and cleared for the
    /// others, so a resumed run is unfinished again.
    pub fn set_run_status(
        &mut self,
        run: &RunId,
        status: RunStatus,
        reason: Option<&str>,
        at: i64,
    ) -> Result<(), StoreError> {
        let operation = "record the status of a run";
        self.write(operation, |transaction| {
            let changed = transaction
                .prepare_cached(
                    "UPDATE runs SET status = ?2, exit_reason = ?3, \
                     updated_at = max(updated_at, ?4), \
                     finished_at = CASE WHEN ?5 THEN ?4 END \
                     WHERE id = ?1",
                )
                .and_then(|mut statement| {
                    statement.execute((run, status, reason, at, status.is_terminal()))
                })
                .map_err(sqlite(operation))?;
            if changed == 0 {
                return Err(StoreError::UnknownRun {
                    run: run.to_string(),
                });
            }
            let message = match reason {
                Some(reason) => format!("run is now {status}: {reason}"),
                None => format!("run is now {status}"),
            };
            let data = json!({ "status": status, "reason": reason });
            insert_event(
                transaction,
                run,
                &EventRow {
                    at,
                    kind: status.event_kind(),
                    task_id: None,
                    message: &message,
                    data: Some(&data),
                },
                operation,
            )?;
            Ok(())
        })
    }

    /// Adds the time an invocation spent driving the run, and its phases, to
    /// their totals (`used_ms`), in one transaction.
    pub fn add_used_time(
        &mut self,
        run: &RunId,
        run_ms: u64,
        phases: &[(&PhaseId, u64)],
    ) -> Result<(), StoreError> {
        let operation = "record the time used by a run";
        let to_sql = |ms: u64| i64::try_from(ms).unwrap_or(i64::MAX);
        self.write(operation, |transaction| {
            let changed = transaction
                .prepare_cached("UPDATE runs SET used_ms = used_ms + ?2 WHERE id = ?1")
                .and_then(|mut statement| statement.execute((run, to_sql(run_ms))))
                .map_err(sqlite(operation))?;
            if changed == 0 {
                return Err(StoreError::UnknownRun {
                    run: run.to_string(),
                });
            }
            for &(phase, ms) in phases {
                transaction
                    .prepare_cached(
                        "INSERT INTO phase_usage (run_id, phase_id, used_ms) VALUES (?1, ?2, ?3) \
                         ON CONFLICT (run_id, phase_id) DO UPDATE SET used_ms = used_ms + ?3",
                    )
                    .and_then(|mut statement| statement.execute((run, phase.as_str(), to_sql(ms))))
                    .map_err(sqlite(operation))?;
            }
            Ok(())
        })
    }

    /// How many tasks the run has, and how many of them are `succeeded`: the
    /// `done / total` of `plangate runs`, counted in SQL so that listing runs
    /// does not read every task row into memory.
    ///
    /// An unknown run has no tasks: this returns zero counts rather than
    /// [`StoreError::UnknownRun`], as [`Store::tasks`] does.
    pub fn task_counts(&self, run: &RunId) -> Result<TaskCounts, StoreError> {
        self.connection
            .prepare_cached(
                "SELECT count(*), count(*) FILTER (WHERE state = 'succeeded') \
                 FROM tasks WHERE run_id = ?1",
            )
            .and_then(|mut statement| {
                statement.query_row([run], |row| {
                    Ok(TaskCounts {
                        total: row.get(0)?,
                        succeeded: row.get(1)?,
                    })
                })
            })
            .map_err(sqlite("count the tasks of a run"))
    }

    /// For each task of the run with at least one attempt of known duration,
    /// the milliseconds its attempts ran (run, verify and rollback), summed
    /// in SQL: `status` and `diff` show them without reading the attempts'
    /// output tails.
    pub fn task_durations(&self, run: &RunId) -> Result<Vec<(TaskId, u64)>, StoreError> {
        self.connection
            .prepare_cached(
                "SELECT task_id, sum(duration_ms) FROM attempts \
                 WHERE run_id = ?1 AND duration_ms IS NOT NULL GROUP BY task_id",
            )
            .and_then(|mut statement| {
                statement
                    .query_map([run], |row| {
                        Ok((id_column(row, 0, TaskId::new)?, row.get(1)?))
                    })?
                    .collect()
            })
            .map_err(sqlite("sum the attempt durations of a run"))
    }

    /// The time used by each phase of the run so far (phases never started
    /// are absent), in milliseconds.
    pub fn phase_usage(&self, run: &RunId) -> Result<Vec<(PhaseId, u64)>, StoreError> {
        let operation = "read the time used by the phases of a run";
        self.connection
            .prepare_cached(
                "SELECT phase_id, used_ms FROM phase_usage WHERE run_id = ?1 ORDER BY rowid",
            )
            .and_then(|mut statement| {
                statement
                    .query_map([run], |row| {
                        Ok((id_column(row, 0, PhaseId::new)?, row.get(1)?))
                    })?
                    .collect()
            })
            .map_err(sqlite(operation))
    }

    /// Records that the run continues with a changed plan (resume with
    /// `--accept-plan-change`): stores the new plan text and hash, updates the
    /// phase, position, risk, decision and reason of the tasks both plans have
    /// (their state, attempts and timestamps stay), inserts the new tasks, and
    /// writes a `plan-changed` event.
    pub fn accept_plan_change(
        &mut self,
        run: &RunId,
        change: PlanChange,
    ) -> Result<PlanChangeSummary, StoreError> {
        let operation = "record a plan change";
        let PlanChange {
            plan_path,
            plan_hash,
            plan_text,
            at,
            tasks,
        } = change;
        let plan_path = utf8_path(&plan_path)?;
        check_unique(&tasks)?;
        self.write(operation, |transaction| {
            let previous_hash: String = transaction
                .prepare_cached("SELECT plan_hash FROM runs WHERE id = ?1")
                .and_then(|mut statement| statement.query_row([run], |row| row.get(0)).optional())
                .map_err(sqlite(operation))?
                .ok_or_else(|| StoreError::UnknownRun {
                    run: run.to_string(),
                })?;
            transaction
                .prepare_cached(
                    "UPDATE runs SET plan_path = ?2, plan_hash = ?3, \
                     updated_at = max(updated_at, ?4) WHERE id = ?1",
                )
                .and_then(|mut statement| statement.execute((run, plan_path, &plan_hash, at)))
                .map_err(sqlite(operation))?;
            transaction
                .prepare_cached("UPDATE run_plans SET plan_text = ?2 WHERE run_id = ?1")
                .and_then(|mut statement| statement.execute((run, &plan_text)))
                .map_err(sqlite(operation))?;
            let existing = task_ids(transaction, run).map_err(sqlite(operation))?;
            let mut summary = PlanChangeSummary::default();
            let mut update = transaction
                .prepare_cached(
                    "UPDATE tasks SET phase_id = ?3, position = ?4, risk = ?5, decision = ?6, \
                     reason = ?7, \
                     environment = CASE WHEN state = 'succeeded' THEN environment ELSE ?8 END, \
                     content_hash = CASE WHEN state = 'succeeded' THEN content_hash ELSE ?9 END \
                     WHERE run_id = ?1 AND task_id = ?2",
                )
                .map_err(sqlite(operation))?;
            let mut insert = transaction
                .prepare_cached(INSERT_TASK)
                .map_err(sqlite(operation))?;
            for task in &tasks {
                if existing.contains(task.task_id.as_str()) {
                    update
                        .execute((
                            run,
                            task.task_id.as_str(),
                            task.phase_id.as_str(),
                            task.position,
                            task.risk.as_str(),
                            task.decision.as_str(),
                            task.reason.as_deref(),
                            task.environment.as_str(),
                            task.content_hash.as_str(),
                        ))
                        .map_err(sqlite(operation))?;
                } else {
                    insert_task(&mut insert, run, task).map_err(sqlite(operation))?;
                    summary.added.push(task.task_id.clone());
                }
            }
            let kept: HashSet<&str> = tasks.iter().map(|task| task.task_id.as_str()).collect();
            summary.missing = existing
                .iter()
                .filter(|task| !kept.contains(task.as_str()))
                .cloned()
                .collect();
            summary.missing.sort();
            let message = format!(
                "plan changed: {} added, {} no longer in the plan",
                plural(summary.added.len(), "task", "tasks"),
                plural(summary.missing.len(), "task", "tasks"),
            );
            let data = json!({
                "previous_hash": previous_hash,
                "plan_hash": plan_hash,
                "added": summary.added,
                "missing": summary.missing,
            });
            insert_event(
                transaction,
                run,
                &EventRow {
                    at,
                    kind: PLAN_CHANGED,
                    task_id: None,
                    message: &message,
                    data: Some(&data),
                },
                operation,
            )?;
            Ok(summary)
        })
    }
}

/// Inserts a run, its plan text, its tasks and its `run-started` event.
fn insert_run_in(
    transaction: &Transaction<'_>,
    new_run: NewRun,
    operation: &'static str,
) -> Result<RunId, StoreError> {
    let NewRun {
        plan_name,
        plan_path,
        plan_hash,
        plan_text,
        environment,
        at,
        tasks,
    } = new_run;
    let plan_path = utf8_path(&plan_path)?;
    let id = RunId::generate(at);
    transaction
        .prepare_cached(
            "INSERT INTO runs (id, plan_name, plan_path, plan_hash, \
                 environment, status, created_at, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
        )
        .and_then(|mut statement| {
            statement.execute((
                &id,
                plan_name.as_str(),
                plan_path,
                &plan_hash,
                &environment,
                RunStatus::Running,
                at,
            ))
        })
        .map_err(sqlite(operation))?;
    transaction
        .prepare_cached("INSERT INTO run_plans (run_id, plan_text) VALUES (?1, ?2)")
        .and_then(|mut statement| statement.execute((&id, &plan_text)))
        .map_err(sqlite(operation))?;
    let mut insert = transaction
        .prepare_cached(INSERT_TASK)
        .map_err(sqlite(operation))?;
    for task in &tasks {
        insert_task(&mut insert, &id, task).map_err(sqlite(operation))?;
    }
    let message = format!(
        "run of plan `{}` started with {}",
        plan_name,
        plural(tasks.len(), "task", "tasks")
    );
    let data = json!({
        "plan": plan_name,
        "plan_hash": plan_hash,
        "environment": environment,
        "tasks": tasks.len(),
    });
    insert_event(
        transaction,
        &id,
        &EventRow {
            at,
            kind: RUN_STARTED,
            task_id: None,
            message: &message,
            data: Some(&data),
        },
        operation,
    )?;
    Ok(id)
}

/// Marks `old` as superseded by `new`: final, with a reason and an event.
fn supersede_in(
    transaction: &Transaction<'_>,
    old: &UnfinishedRun,
    new: &RunId,
    at: i64,
    operation: &'static str,
) -> Result<(), StoreError> {
    let reason = format!("superseded by run `{new}` (`plangate run --new-run`)");
    transaction
        .prepare_cached(
            "UPDATE runs SET status = ?2, exit_reason = ?3, updated_at = max(updated_at, ?4), \
             finished_at = ?4 WHERE id = ?1",
        )
        .and_then(|mut statement| statement.execute((&old.id, RunStatus::Superseded, &reason, at)))
        .map_err(sqlite(operation))?;
    transaction
        .prepare_cached("DELETE FROM locks WHERE run_id = ?1")
        .and_then(|mut statement| statement.execute([&old.id]))
        .map_err(sqlite(operation))?;
    let message = format!("run is now {}: {reason}", RunStatus::Superseded);
    let data = json!({ "status": RunStatus::Superseded, "reason": reason, "by": new });
    insert_event(
        transaction,
        &old.id,
        &EventRow {
            at,
            kind: RunStatus::Superseded.event_kind(),
            task_id: None,
            message: &message,
            data: Some(&data),
        },
        operation,
    )?;
    Ok(())
}

/// The task counts of one run, from [`Store::task_counts`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TaskCounts {
    /// Every task row of the run, whatever its state (excluded and deferred
    /// tasks included).
    pub total: u64,
    /// The tasks in state `succeeded`.
    pub succeeded: u64,
}

/// An unfinished run of the same plan, as [`Store::create_run_exclusive`]
/// shows it to its `decide`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnfinishedRun {
    /// The run.
    pub id: RunId,
    /// Its status (`running`, `paused`, `interrupted` or `incomplete`).
    pub status: RunStatus,
    /// Its lock, when a process holds (or held, and died holding) one.
    pub lock: Option<LockRecord>,
}

/// What [`Store::create_run_exclusive`] does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CreateRun<E> {
    /// Create the run; the unfinished ones stay as they are.
    Create,
    /// Create the run; the unfinished ones become `superseded`.
    Supersede,
    /// Create nothing.
    Refuse(E),
}

/// Decodes a row selected with [`SELECT_RUN`].
fn run_from_row(row: &Row<'_>) -> rusqlite::Result<RunRecord> {
    Ok(RunRecord {
        id: row.get(0)?,
        plan_name: id_column(row, 1, PlanName::new)?,
        plan_path: PathBuf::from(row.get::<_, String>(2)?),
        plan_hash: row.get(3)?,
        plan_text: row.get(4)?,
        environment: row.get(5)?,
        status: row.get(6)?,
        created_at: row.get(7)?,
        updated_at: row.get(8)?,
        finished_at: row.get(9)?,
        exit_reason: row.get(10)?,
        used_ms: row.get(11)?,
    })
}

/// Inserts one task row with the prepared [`INSERT_TASK`].
fn insert_task(
    insert: &mut rusqlite::CachedStatement<'_>,
    run: &RunId,
    task: &NewTask,
) -> rusqlite::Result<usize> {
    insert.execute((
        run,
        task.task_id.as_str(),
        task.phase_id.as_str(),
        task.position,
        task.risk.as_str(),
        task.decision.as_str(),
        task.reason.as_deref(),
        task.state,
        task.environment.as_str(),
        task.content_hash.as_str(),
    ))
}

/// The ids of the run's task rows.
fn task_ids(transaction: &Transaction<'_>, run: &RunId) -> rusqlite::Result<HashSet<TaskId>> {
    transaction
        .prepare_cached("SELECT task_id FROM tasks WHERE run_id = ?1")?
        .query_map([run], |row| id_column(row, 0, TaskId::new))?
        .collect()
}

/// The plan path as text, which is how the schema stores it.
fn utf8_path(path: &Path) -> Result<&str, StoreError> {
    path.to_str().ok_or_else(|| StoreError::NonUtf8PlanPath {
        path: path.to_owned(),
    })
}

/// Rejects a task list that names a task twice.
fn check_unique(tasks: &[NewTask]) -> Result<(), StoreError> {
    let mut seen = HashSet::with_capacity(tasks.len());
    match tasks
        .iter()
        .find(|task| !seen.insert(task.task_id.as_str()))
    {
        Some(task) => Err(StoreError::DuplicateTask {
            task: task.task_id.clone(),
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{create_run, new_run, new_tasks, phase_id, task_id, temp_store};

    #[test]
    fn created_run_is_readable_with_its_tasks_and_event() {
        let (_dir, mut store) = temp_store();
        let run = create_run(&mut store, 3);
        let record = store.run(&run).expect("the run exists");
        assert_eq!(record.id, run);
        assert_eq!(record.plan_name.as_str(), "demo");
        assert_eq!(record.plan_path, PathBuf::from("plans/demo.yaml"));
        assert_eq!(record.plan_text, "version: 1\nname: demo\n");
        assert_eq!(record.status, RunStatus::Running);
        assert_eq!((record.created_at, record.updated_at), (1_000, 1_000));
        assert_eq!(record.finished_at, None);
        assert_eq!(run.timestamp_millis(), 1_000);
        let tasks = store.tasks(&run).expect("tasks are readable");
        let ids: Vec<&str> = tasks.iter().map(|task| task.task_id.as_str()).collect();
        assert_eq!(ids, ["task-0", "task-1", "task-2"]);
        let events = store.events(&run).expect("events are readable");
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].kind, RUN_STARTED);
        assert_eq!(events[0].message, "run of plan `demo` started with 3 tasks");
    }

    #[test]
    fn task_counts_count_every_row_and_the_succeeded_ones() {
        let (_dir, mut store) = temp_store();
        let run = create_run(&mut store, 3);
        let counts = |store: &Store| store.task_counts(&run).expect("countable");
        assert_eq!(
            counts(&store),
            TaskCounts {
                total: 3,
                succeeded: 0
            }
        );
        store
            .set_task_state(&run, &task_id("task-1"), TaskState::Succeeded, None, 2_000)
            .expect("recorded");
        assert_eq!(
            counts(&store),
            TaskCounts {
                total: 3,
                succeeded: 1
            }
        );
        let unknown = RunId::generate(5_000);
        assert_eq!(
            store.task_counts(&unknown).expect("countable"),
            TaskCounts::default()
        );
    }

    #[test]
    fn task_durations_sum_the_attempts_of_known_duration() {
        let (_dir, mut store) = temp_store();
        let run = create_run(&mut store, 3);
        let finish = |store: &mut Store, task: &str, role, duration_ms| {
            let attempt = store
                .begin_attempt(&run, &task_id(task), role, "true", 2_000)
                .expect("begun");
            let mut result = crate::AttemptResult::new(crate::AttemptOutcome::Succeeded, 3_000);
            result.duration_ms = duration_ms;
            store.finish_attempt(attempt, result).expect("finished");
        };
        finish(&mut store, "task-0", crate::AttemptRole::Run, Some(40));
        finish(&mut store, "task-0", crate::AttemptRole::Verify, Some(2));
        finish(&mut store, "task-1", crate::AttemptRole::Run, None);
        let durations = store.task_durations(&run).expect("readable");
        assert_eq!(durations, [(task_id("task-0"), 42)]);
    }

    #[test]
    fn runs_are_listed_newest_first() {
        let (_dir, mut store) = temp_store();
        assert_eq!(store.latest_run().expect("readable"), None);
        let first = store
            .create_run(new_run(1_000, new_tasks(1)))
            .expect("created");
        let second = store
            .create_run(new_run(2_000, new_tasks(1)))
            .expect("created");
        // Same time as the second: insertion order breaks the tie.
        let third = store
            .create_run(new_run(2_000, new_tasks(1)))
            .expect("created");
        let listed: Vec<RunId> = store
            .runs()
            .expect("readable")
            .into_iter()
            .map(|run| run.id)
            .collect();
        assert_eq!(listed, [third.clone(), second, first]);
        assert_eq!(
            store.latest_run().expect("readable").map(|run| run.id),
            Some(third)
        );
    }

    #[test]
    fn run_ids_resolve_from_unique_prefixes() {
        let (_dir, mut store) = temp_store();
        let first = create_run(&mut store, 1);
        let second = create_run(&mut store, 1);
        // Both were created at the same millisecond, so they share ten
        // characters; find where they differ.
        let common = first
            .as_str()
            .bytes()
            .zip(second.as_str().bytes())
            .take_while(|(a, b)| a == b)
            .count();
        let unique = &first.as_str()[..=common];
        assert_eq!(store.resolve_run(unique).expect("unique"), first);
        assert_eq!(
            store
                .resolve_run(&unique.to_ascii_lowercase())
                .expect("case-insensitive"),
            first
        );
        assert_eq!(store.resolve_run(first.as_str()).expect("full id"), first);
        match store.resolve_run(&first.as_str()[..common]) {
            Err(StoreError::AmbiguousRun { candidates, .. }) => {
                let mut expected = vec![first.clone(), second.clone()];
                expected.sort();
                assert_eq!(candidates, expected);
            }
            other => panic!("expected an ambiguous prefix, got {other:?}"),
        }
        for unknown in ["", "Z", "7ZZZ", "not-a-run", "01!"] {
            assert!(
                matches!(
                    store.resolve_run(unknown),
                    Err(StoreError::UnknownRun { .. })
                ),
                "{unknown}"
            );
        }
        let error = store.resolve_run("7ZZZ").expect_err("unknown");
        assert_eq!(error.to_string(), "no run `7ZZZ` in the state file");
    }

    #[test]
    fn create_run_exclusive_sees_unfinished_runs_and_supersedes_them() {
        let (_dir, mut store) = temp_store();
        let holder = LockHolder {
            pid: 7,
            host: "here".to_owned(),
        };
        let first = store
            .create_run_exclusive(new_run(1_000, new_tasks(1)), &holder, |unfinished| {
                assert!(unfinished.is_empty());
                CreateRun::<()>::Create
            })
            .expect("the store works")
            .expect("created");
        assert_eq!(
            store.lock(&first).expect("readable").map(|lock| lock.pid),
            Some(7),
            "the new run is locked by its creator"
        );
        store
            .set_run_status(&first, RunStatus::Paused, Some("waits"), 1_500)
            .expect("recorded");

        let refused = store
            .create_run_exclusive(new_run(2_000, new_tasks(1)), &holder, |unfinished| {
                assert_eq!(unfinished.len(), 1);
                assert_eq!(unfinished[0].id, first);
                assert_eq!(unfinished[0].status, RunStatus::Paused);
                CreateRun::Refuse("refused")
            })
            .expect("the store works");
        assert_eq!(refused, Err("refused"));
        assert_eq!(
            store.latest_run().expect("readable").map(|r| r.id),
            Some(first.clone())
        );

        let second = store
            .create_run_exclusive(new_run(3_000, new_tasks(1)), &holder, |_| {
                CreateRun::<()>::Supersede
            })
            .expect("the store works")
            .expect("created");
        let old = store.run(&first).expect("readable");
        assert_eq!(old.status, RunStatus::Superseded);
        assert_eq!(old.finished_at, Some(3_000));
        assert_eq!(
            old.exit_reason,
            Some(format!(
                "superseded by run `{second}` (`plangate run --new-run`)"
            ))
        );
        assert_eq!(store.lock(&first).expect("readable"), None);
    }

    #[test]
    fn every_status_is_accepted() {
        let (_dir, mut store) = temp_store();
        let run = create_run(&mut store, 1);
        for (at, status) in (2..).zip(RunStatus::ALL) {
            store
                .set_run_status(&run, *status, None, at)
                .expect("the schema accepts every status");
            assert_eq!(store.run(&run).expect("readable").status, *status);
        }
    }

    #[test]
    fn run_ids_resolve_from_their_short_forms() {
        let (_dir, mut store) = temp_store();
        let first = create_run(&mut store, 1);
        let second = create_run(&mut store, 1);
        let short = store.short_run_ids().expect("readable");
        for run in [&first, &second] {
            let form = short.get(run);
            assert!(form.len() >= crate::SHORT_RUN_ID_MIN_LEN, "{form}");
            assert_eq!(store.resolve_run(form).expect("unique"), *run);
            assert_eq!(
                store
                    .resolve_run(&form.to_ascii_lowercase())
                    .expect("case-insensitive"),
                *run
            );
            assert_eq!(store.short_run_id(run).expect("readable"), form);
        }
        // Three characters are too few to be read as the end of an id.
        let end = &first.as_str()[RUN_ID_LEN - 3..];
        if !first.as_str().starts_with(end) && !second.as_str().starts_with(end) {
            assert!(matches!(
                store.resolve_run(end),
                Err(StoreError::UnknownRun { .. })
            ));
        }
    }

    #[test]
    fn used_time_adds_up_per_run_and_phase() {
        let (_dir, mut store) = temp_store();
        let run = create_run(&mut store, 1);
        store
            .add_used_time(
                &run,
                1_000,
                &[(&phase_id("build"), 600), (&phase_id("deploy"), 400)],
            )
            .expect("recorded");
        store
            .add_used_time(&run, 250, &[(&phase_id("deploy"), 250)])
            .expect("recorded");
        assert_eq!(store.run(&run).expect("readable").used_ms, 1_250);
        assert_eq!(
            store.phase_usage(&run).expect("readable"),
            [(phase_id("build"), 600), (phase_id("deploy"), 650)]
        );
    }

    #[test]
    fn status_changes_set_finished_at_for_terminal_statuses() {
        let (_dir, mut store) = temp_store();
        let run = create_run(&mut store, 1);
        store
            .set_run_status(
                &run,
                RunStatus::Paused,
                Some("task `x` needs approval"),
                2_000,
            )
            .expect("recorded");
        let record = store.run(&run).expect("readable");
        assert_eq!(record.status, RunStatus::Paused);
        assert_eq!(record.finished_at, None);
        assert_eq!(
            record.exit_reason.as_deref(),
            Some("task `x` needs approval")
        );
        store
            .set_run_status(&run, RunStatus::Failed, Some("task `y` failed"), 3_000)
            .expect("recorded");
        let record = store.run(&run).expect("readable");
        assert_eq!(
            (record.finished_at, record.updated_at),
            (Some(3_000), 3_000)
        );
        store
            .set_run_status(&run, RunStatus::Running, None, 4_000)
            .expect("recorded");
        let record = store.run(&run).expect("readable");
        assert_eq!((record.finished_at, record.exit_reason), (None, None));
        let kinds: Vec<String> = store
            .events(&run)
            .expect("readable")
            .into_iter()
            .map(|event| event.kind)
            .collect();
        assert_eq!(
            kinds,
            ["run-started", "run-paused", "run-failed", "run-resumed"]
        );
        let unknown = RunId::generate(1);
        assert!(matches!(
            store.set_run_status(&unknown, RunStatus::Failed, None, 1),
            Err(StoreError::UnknownRun { .. })
        ));
    }

    #[test]
    fn duplicate_tasks_and_unknown_runs_are_errors() {
        let (_dir, mut store) = temp_store();
        let mut tasks = new_tasks(2);
        tasks.push(tasks[0].clone());
        let error = store
            .create_run(new_run(1, tasks))
            .expect_err("duplicate task");
        assert_eq!(error.to_string(), "task `task-0` is listed twice");
        assert!(store.runs().expect("readable").is_empty());
        assert!(matches!(
            store.run(&RunId::generate(1)),
            Err(StoreError::UnknownRun { .. })
        ));
    }

    #[test]
    fn plan_change_updates_known_tasks_and_adds_new_ones() {
        let (_dir, mut store) = temp_store();
        let run = create_run(&mut store, 3);
        store
            .set_task_state(&run, &task_id("task-0"), TaskState::Succeeded, None, 1_500)
            .expect("recorded");
        // task-1 is gone, task-3 is new, task-0 moves last and becomes risky.
        let mut tasks = new_tasks(4);
        tasks.remove(1);
        tasks[0].position = 9;
        tasks[0].risk = Risk::High;
        let summary = store
            .accept_plan_change(
                &run,
                PlanChange {
                    plan_path: PathBuf::from("plans/demo.yaml"),
                    plan_hash: "1".repeat(64),
                    plan_text: String::from("version: 1\nname: demo\n# changed\n"),
                    at: 2_000,
                    tasks,
                },
            )
            .expect("accepted");
        assert_eq!(summary.added, [TaskId::new("task-3").expect("valid")]);
        assert_eq!(summary.missing, [TaskId::new("task-1").expect("valid")]);
        let record = store.run(&run).expect("readable");
        assert_eq!(record.plan_hash, "1".repeat(64));
        let tasks = store.tasks(&run).expect("readable");
        let order: Vec<(&str, usize)> = tasks
            .iter()
            .map(|task| (task.task_id.as_str(), task.position))
            .collect();
        assert_eq!(
            order,
            [("task-1", 1), ("task-2", 2), ("task-3", 3), ("task-0", 9)]
        );
        let moved = &tasks[3];
        assert_eq!(moved.risk, Risk::High);
        assert_eq!(moved.state, TaskState::Succeeded, "state is kept");
        assert_eq!(moved.completed_seq, Some(1));
        let event = store
            .events(&run)
            .expect("readable")
            .pop()
            .expect("an event");
        assert_eq!(event.kind, PLAN_CHANGED);
        assert_eq!(
            event.message,
            "plan changed: 1 task added, 1 task no longer in the plan"
        );
    }
}
