//! Attempts: one row per started action, written as an intent before the side
//! effect and completed with its outcome after it.
//!
//! [`Store::begin_attempt`] commits a row with `finished_at` null before the
//! engine starts the action; [`Store::finish_attempt`] fills in the outcome.
//! A row still open when a run is resumed is an action a crash cut off:
//! [`Store::open_attempts`] lists them, and its evidence (recorded before the
//! side effect with [`Store::record_attempt_evidence`]) is what `observe` and
//! rollback work from.

use plangate_plans::TaskId;
use rusqlite::{OptionalExtension, Row, Transaction};
use serde::Serialize;
use serde_json::{Value, json};

use crate::{
    error::{StoreError, sqlite},
    ids::{AttemptId, RunId},
    states::{AttemptOutcome, AttemptRole, ObservedEffect, TaskState},
    store::{EventRow, Journal, Store, id_column, json_column, touch_run},
    tasks::{count_run_attempt, ensure_task_changed, set_task_state_in},
};

/// Event kind written by [`Store::begin_attempt`].
pub const ATTEMPT_STARTED: &str = "attempt-started";
/// Event kind written by [`Store::finish_attempt`].
pub const ATTEMPT_FINISHED: &str = "attempt-finished";

/// The columns [`attempt_from_row`] reads, in order.
macro_rules! attempt_columns {
    () => {
        "id, run_id, task_id, role, number, command, started_at, finished_at, outcome, \
         exit_code, signal, duration_ms, stdout_tail, stderr_tail, evidence, observed, \
         process_group, process_started"
    };
}

/// Statements on the hot path, named so the query-plan test can check them.
pub(crate) const SELECT_OPEN_ATTEMPTS: &str = concat!(
    "SELECT ",
    attempt_columns!(),
    " FROM attempts WHERE run_id = ?1 AND finished_at IS NULL ORDER BY id"
);
pub(crate) const SELECT_TASK_ATTEMPTS: &str = concat!(
    "SELECT ",
    attempt_columns!(),
    " FROM attempts WHERE run_id = ?1 AND task_id = ?2 ORDER BY id"
);
pub(crate) const SELECT_RUN_ATTEMPTS: &str = concat!(
    "SELECT ",
    attempt_columns!(),
    " FROM attempts WHERE run_id = ?1 ORDER BY id"
);
pub(crate) const TASK_EXISTS: &str =
    "SELECT count(*) FROM tasks WHERE run_id = ?1 AND task_id = ?2";
pub(crate) const NEXT_ATTEMPT_NUMBER: &str = "SELECT coalesce(max(number), 0) + 1 FROM attempts \
    WHERE run_id = ?1 AND task_id = ?2 AND role = ?3";
pub(crate) const INSERT_ATTEMPT: &str = "INSERT INTO attempts \
    (run_id, task_id, role, number, command, started_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
    RETURNING id";
pub(crate) const SELECT_ATTEMPT_FOR_UPDATE: &str =
    "SELECT run_id, task_id, role, number, finished_at, evidence FROM attempts WHERE id = ?1";
pub(crate) const FINISH_ATTEMPT: &str = "UPDATE attempts SET finished_at = ?2, outcome = ?3, \
    exit_code = ?4, signal = ?5, duration_ms = ?6, stdout_tail = ?7, stderr_tail = ?8, \
    evidence = ?9, observed = ?10 WHERE id = ?1";

/// How an attempt ended, for [`Store::finish_attempt`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttemptResult {
    /// The outcome.
    pub outcome: AttemptOutcome,
    /// The process exit code, for process-backed actions that exited.
    pub exit_code: Option<i32>,
    /// The signal that ended the process, if one did.
    pub signal: Option<i32>,
    /// How long the action ran; `None` when unknown (a crash cut it off).
    pub duration_ms: Option<u64>,
    /// The end of standard output, bounded and redacted by the caller.
    pub stdout_tail: Option<String>,
    /// The end of standard error, bounded and redacted by the caller.
    pub stderr_tail: Option<String>,
    /// Executor data to keep (merged into evidence recorded earlier, see
    /// [`Store::record_attempt_evidence`]).
    pub evidence: Option<Value>,
    /// When the attempt finished, unix milliseconds.
    pub at: i64,
}

impl AttemptResult {
    /// A result with only an outcome and a time, e.g. `interrupted` for an
    /// attempt found open on resume.
    pub fn new(outcome: AttemptOutcome, at: i64) -> Self {
        Self {
            outcome,
            exit_code: None,
            signal: None,
            duration_ms: None,
            stdout_tail: None,
            stderr_tail: None,
            evidence: None,
            at,
        }
    }
}

/// One attempt, as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AttemptRecord {
    /// The attempt id.
    pub id: AttemptId,
    /// The run.
    pub run_id: RunId,
    /// The task.
    pub task_id: TaskId,
    /// Which action.
    pub role: AttemptRole,
    /// 1-based, per task and role.
    pub number: u32,
    /// The command, for display (redacted by the caller).
    pub command: String,
    /// When the action was about to start.
    pub started_at: i64,
    /// When it finished; `None` while in flight, or if a crash cut it off.
    pub finished_at: Option<i64>,
    /// How it ended; `None` exactly when `finished_at` is.
    pub outcome: Option<AttemptOutcome>,
    /// The process exit code.
    pub exit_code: Option<i32>,
    /// The signal that ended the process.
    pub signal: Option<i32>,
    /// How long it ran.
    pub duration_ms: Option<u64>,
    /// The end of standard output.
    pub stdout_tail: Option<String>,
    /// The end of standard error.
    pub stderr_tail: Option<String>,
    /// Executor data: snapshots, revisions, ...
    pub evidence: Option<Value>,
    /// For an attempt a crash cut off: what `observe` found of its effect
    /// when the run was resumed.
    pub observed: Option<ObservedEffect>,
    /// The process group the attempt's latest process leads, committed
    /// right after its spawn ([`Store::record_attempt_process`]).
    pub process_group: Option<u32>,
    /// That leader's start time, in clock ticks since boot (field 22 of
    /// `/proc/PID/stat`), so that a reused pid is not mistaken for it.
    pub process_started: Option<u64>,
}

/// How [`Store::settle_open_attempt`] closes an attempt a crash left open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenAttemptSettlement {
    /// The attempt's result (normally `interrupted`).
    pub result: AttemptResult,
    /// What `observe` found of the action's effect; `None` when nothing was
    /// asked (verify and rollback attempts).
    pub observed: Option<ObservedEffect>,
    /// The task's new state, if the finding changes it.
    pub task_state: Option<TaskState>,
    /// The reason stored with that state.
    pub reason: Option<String>,
}

impl AttemptRecord {
    /// Whether the attempt has no outcome yet.
    pub fn is_open(&self) -> bool {
        self.finished_at.is_none()
    }
}

impl Store {
    /// Records the intent to start an action: an attempt row without an
    /// outcome, numbered after the task's previous attempts of the same role,
    /// and an `attempt-started` event. For [`AttemptRole::Run`] the task's
    /// `attempts` counter goes up in the same transaction.
    ///
    /// Call it, and let it return, before the side effect starts.
    pub fn begin_attempt(
        &mut self,
        run: &RunId,
        task: &TaskId,
        role: AttemptRole,
        command: &str,
        at: i64,
    ) -> Result<AttemptId, StoreError> {
        self.begin_numbered_attempt(run, task, role, command, at)
            .map(|(id, _)| id)
    }

    /// [`Store::begin_attempt`], also returning the attempt's number (1-based,
    /// per task and role), which the same transaction computed.
    pub fn begin_numbered_attempt(
        &mut self,
        run: &RunId,
        task: &TaskId,
        role: AttemptRole,
        command: &str,
        at: i64,
    ) -> Result<(AttemptId, u32), StoreError> {
        let operation = "record the start of an attempt";
        self.write(operation, |transaction| {
            begin_attempt_in(
                transaction,
                run,
                task,
                role,
                command,
                at,
                operation,
                &mut Journal::Rows,
            )
        })
    }

    /// Records how an attempt ended, and an `attempt-finished` event.
    ///
    /// # Errors
    ///
    /// [`StoreError::UnknownAttempt`], or
    /// [`StoreError::AttemptAlreadyFinished`]: an outcome is recorded once.
    pub fn finish_attempt(
        &mut self,
        attempt: AttemptId,
        result: AttemptResult,
    ) -> Result<(), StoreError> {
        let operation = "record the outcome of an attempt";
        self.write(operation, |transaction| {
            finish_attempt_in(
                transaction,
                attempt,
                result,
                None,
                operation,
                &mut Journal::Rows,
            )
            .map(|_| ())
        })
    }

    /// Closes an attempt a crash left open, on resume: records its result and
    /// what `observe` found of its effect and, in the same transaction, the
    /// state this puts its task in. Either both are recorded or neither, so a
    /// crash during reconciliation never leaves a closed attempt whose
    /// conclusion is lost.
    ///
    /// # Errors
    ///
    /// As [`Store::finish_attempt`], and [`StoreError::UnknownTask`].
    pub fn settle_open_attempt(
        &mut self,
        attempt: AttemptId,
        settlement: OpenAttemptSettlement,
    ) -> Result<(), StoreError> {
        let operation = "settle an attempt cut off by a crash";
        self.write(operation, |transaction| {
            let at = settlement.result.at;
            let current = finish_attempt_in(
                transaction,
                attempt,
                settlement.result,
                settlement.observed,
                operation,
                &mut Journal::Rows,
            )?;
            if let Some(state) = settlement.task_state {
                set_task_state_in(
                    transaction,
                    &current.run,
                    &current.task,
                    state,
                    settlement.reason.as_deref(),
                    at,
                    operation,
                    &mut Journal::Rows,
                )?;
            }
            Ok(())
        })
    }

    /// Stores executor data about an attempt, typically captured before its
    /// side effect (the object a `kubectl apply` is about to replace, the helm
    /// revision before an upgrade). Committed when this returns, so call it
    /// before starting the side effect.
    ///
    /// Evidence accumulates: when both the stored and the new evidence are
    /// JSON objects, their keys are merged (new values win); otherwise the new
    /// value replaces the old one.
    pub fn record_attempt_evidence(
        &mut self,
        attempt: AttemptId,
        evidence: Value,
    ) -> Result<(), StoreError> {
        let operation = "record the evidence of an attempt";
        self.write(operation, |transaction| {
            record_attempt_evidence_in(transaction, attempt, evidence, operation)
        })
    }

    /// Records the process group an open attempt's process leads, and its
    /// leader's start time: committed right after the spawn, before the
    /// engine waits for the process, so that a `resume` after a crash can
    /// find the group if it outlived the engine. A finished attempt is left
    /// unchanged.
    pub fn record_attempt_process(
        &mut self,
        attempt: AttemptId,
        process_group: u32,
        process_started: Option<u64>,
    ) -> Result<(), StoreError> {
        let operation = "record the process group of an attempt";
        self.write(operation, |transaction| {
            record_attempt_process_in(
                transaction,
                attempt,
                process_group,
                process_started,
                operation,
            )
        })
    }

    /// The run's attempts (of one task, if given), in the order they started.
    pub fn attempts(
        &self,
        run: &RunId,
        task: Option<&TaskId>,
    ) -> Result<Vec<AttemptRecord>, StoreError> {
        let operation = "read the attempts of a run";
        match task {
            Some(task) => self
                .connection
                .prepare_cached(SELECT_TASK_ATTEMPTS)
                .and_then(|mut statement| {
                    statement
                        .query_map((run, task.as_str()), attempt_from_row)?
                        .collect()
                }),
            None => self
                .connection
                .prepare_cached(SELECT_RUN_ATTEMPTS)
                .and_then(|mut statement| statement.query_map([run], attempt_from_row)?.collect()),
        }
        .map_err(sqlite(operation))
    }

    /// The run's attempts without an outcome, in the order they started: on
    /// resume, the actions a crash or a kill cut off.
    pub fn open_attempts(&self, run: &RunId) -> Result<Vec<AttemptRecord>, StoreError> {
        self.connection
            .prepare_cached(SELECT_OPEN_ATTEMPTS)
            .and_then(|mut statement| statement.query_map([run], attempt_from_row)?.collect())
            .map_err(sqlite("read the open attempts of a run"))
    }
}

/// What the writes need to know about an existing attempt.
pub(crate) struct CurrentAttempt {
    pub(crate) run: RunId,
    pub(crate) task: TaskId,
    role: AttemptRole,
    number: u32,
    finished: bool,
    evidence: Option<Value>,
}

/// [`Store::record_attempt_evidence`] inside a transaction of the caller's.
pub(crate) fn record_attempt_evidence_in(
    transaction: &Transaction<'_>,
    attempt: AttemptId,
    evidence: Value,
    operation: &'static str,
) -> Result<(), StoreError> {
    let current = attempt_for_update(transaction, attempt, operation)?;
    let evidence = merge_evidence(current.evidence, Some(evidence));
    transaction
        .prepare_cached("UPDATE attempts SET evidence = ?2 WHERE id = ?1")
        .and_then(|mut statement| {
            statement.execute((attempt, evidence.as_ref().map(Value::to_string)))
        })
        .map_err(sqlite(operation))?;
    Ok(())
}

/// [`Store::record_attempt_process`] inside a transaction of the caller's.
pub(crate) fn record_attempt_process_in(
    transaction: &Transaction<'_>,
    attempt: AttemptId,
    process_group: u32,
    process_started: Option<u64>,
    operation: &'static str,
) -> Result<(), StoreError> {
    let started = process_started.map(|ticks| i64::try_from(ticks).unwrap_or(i64::MAX));
    let changed = transaction
        .prepare_cached(
            "UPDATE attempts SET process_group = ?2, process_started = ?3 \
             WHERE id = ?1 AND finished_at IS NULL",
        )
        .and_then(|mut statement| statement.execute((attempt, process_group, started)))
        .map_err(sqlite(operation))?;
    if changed == 0 {
        attempt_for_update(transaction, attempt, operation)?;
    }
    Ok(())
}

/// [`Store::begin_numbered_attempt`] inside a transaction of the caller's,
/// its event written or collected by `journal`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn begin_attempt_in(
    transaction: &Transaction<'_>,
    run: &RunId,
    task: &TaskId,
    role: AttemptRole,
    command: &str,
    at: i64,
    operation: &'static str,
    journal: &mut Journal,
) -> Result<(AttemptId, u32), StoreError> {
    if journal.touches() {
        touch_run(transaction, run, at, operation)?;
    }
    let known = if role == AttemptRole::Run {
        count_run_attempt(transaction, run, task)
    } else {
        task_exists(transaction, run, task)
    }
    .map_err(sqlite(operation))?;
    ensure_task_changed(known, run, task)?;
    let number: u32 = transaction
        .prepare_cached(NEXT_ATTEMPT_NUMBER)
        .and_then(|mut statement| statement.query_row((run, task.as_str(), role), |row| row.get(0)))
        .map_err(sqlite(operation))?;
    let id: AttemptId = transaction
        .prepare_cached(INSERT_ATTEMPT)
        .and_then(|mut statement| {
            statement.query_row((run, task.as_str(), role, number, command, at), |row| {
                row.get(0)
            })
        })
        .map_err(sqlite(operation))?;
    let message = format!("{role} attempt {number} of task `{task}` started: {command}");
    let data = json!({
        "attempt": id,
        "role": role,
        "number": number,
        "command": command,
    });
    journal.emit(
        transaction,
        run,
        &EventRow {
            at,
            kind: ATTEMPT_STARTED,
            task_id: Some(task),
            message: &message,
            data: Some(&data),
        },
        operation,
    )?;
    Ok((id, number))
}

/// Records an attempt's outcome (and, for an attempt settled on resume, what
/// `observe` found) inside a transaction of the caller's, with its event.
pub(crate) fn finish_attempt_in(
    transaction: &Transaction<'_>,
    attempt: AttemptId,
    result: AttemptResult,
    observed: Option<ObservedEffect>,
    operation: &'static str,
    journal: &mut Journal,
) -> Result<CurrentAttempt, StoreError> {
    let mut current = attempt_for_update(transaction, attempt, operation)?;
    if current.finished {
        return Err(StoreError::AttemptAlreadyFinished { attempt });
    }
    let evidence = merge_evidence(current.evidence.take(), result.evidence);
    transaction
        .prepare_cached(FINISH_ATTEMPT)
        .and_then(|mut statement| {
            statement.execute((
                attempt,
                result.at,
                result.outcome,
                result.exit_code,
                result.signal,
                result.duration_ms,
                result.stdout_tail.as_deref(),
                result.stderr_tail.as_deref(),
                evidence.as_ref().map(Value::to_string),
                observed,
            ))
        })
        .map_err(sqlite(operation))?;
    if journal.touches() {
        touch_run(transaction, &current.run, result.at, operation)?;
    }
    let message = match observed {
        None => format!(
            "{} attempt {} of task `{}` {}",
            current.role, current.number, current.task, result.outcome
        ),
        Some(observed) => format!(
            "{} attempt {} of task `{}` {}; observed: {}",
            current.role,
            current.number,
            current.task,
            result.outcome,
            observed.phrase()
        ),
    };
    let data = json!({
        "attempt": attempt,
        "role": current.role,
        "number": current.number,
        "outcome": result.outcome,
        "exit_code": result.exit_code,
        "signal": result.signal,
        "duration_ms": result.duration_ms,
        "observed": observed,
    });
    journal.emit(
        transaction,
        &current.run,
        &EventRow {
            at: result.at,
            kind: ATTEMPT_FINISHED,
            task_id: Some(&current.task),
            message: &message,
            data: Some(&data),
        },
        operation,
    )?;
    Ok(current)
}

/// Reads the attempt about to be updated; `UnknownAttempt` if there is none.
fn attempt_for_update(
    transaction: &Transaction<'_>,
    attempt: AttemptId,
    operation: &'static str,
) -> Result<CurrentAttempt, StoreError> {
    transaction
        .prepare_cached(SELECT_ATTEMPT_FOR_UPDATE)
        .and_then(|mut statement| {
            statement
                .query_row([attempt], |row| {
                    Ok(CurrentAttempt {
                        run: row.get(0)?,
                        task: id_column(row, 1, TaskId::new)?,
                        role: row.get(2)?,
                        number: row.get(3)?,
                        finished: row.get::<_, Option<i64>>(4)?.is_some(),
                        evidence: json_column(row, 5)?,
                    })
                })
                .optional()
        })
        .map_err(sqlite(operation))?
        .ok_or(StoreError::UnknownAttempt { attempt })
}

/// Whether the run has the task: 1 if so, 0 if not (like an `UPDATE` count).
fn task_exists(
    transaction: &Transaction<'_>,
    run: &RunId,
    task: &TaskId,
) -> rusqlite::Result<usize> {
    transaction
        .prepare_cached(TASK_EXISTS)?
        .query_row((run, task.as_str()), |row| row.get(0))
}

/// Combines stored evidence with new evidence: objects merge key by key (new
/// values win); anything else is replaced.
fn merge_evidence(stored: Option<Value>, new: Option<Value>) -> Option<Value> {
    match (stored, new) {
        (Some(Value::Object(mut stored)), Some(Value::Object(new))) => {
            stored.extend(new);
            Some(Value::Object(stored))
        }
        (stored, None) => stored,
        (_, new) => new,
    }
}

/// Decodes a row selected with `attempt_columns!()`.
fn attempt_from_row(row: &Row<'_>) -> rusqlite::Result<AttemptRecord> {
    Ok(AttemptRecord {
        id: row.get(0)?,
        run_id: row.get(1)?,
        task_id: id_column(row, 2, TaskId::new)?,
        role: row.get(3)?,
        number: row.get(4)?,
        command: row.get(5)?,
        started_at: row.get(6)?,
        finished_at: row.get(7)?,
        outcome: row.get(8)?,
        exit_code: row.get(9)?,
        signal: row.get(10)?,
        duration_ms: row.get(11)?,
        stdout_tail: row.get(12)?,
        stderr_tail: row.get(13)?,
        evidence: json_column(row, 14)?,
        observed: row.get(15)?,
        process_group: row.get(16)?,
        process_started: row.get(17)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        TaskState,
        test_support::{self, create_run, task_id, temp_store},
    };

    #[test]
    fn settling_an_open_attempt_records_finding_and_task_state_together() {
        let (_dir, mut store) = temp_store();
        let run = create_run(&mut store, 1);
        let (attempt, number) = store
            .begin_numbered_attempt(&run, &task_id("task-0"), AttemptRole::Run, "true", 10)
            .expect("recorded");
        assert_eq!(number, 1);
        store
            .set_task_state(&run, &task_id("task-0"), TaskState::Running, None, 10)
            .expect("recorded");
        let settlement = OpenAttemptSettlement {
            result: AttemptResult::new(AttemptOutcome::Interrupted, 20),
            observed: Some(ObservedEffect::Partial),
            task_state: Some(TaskState::Interrupted),
            reason: Some("half of it".to_owned()),
        };
        store
            .settle_open_attempt(attempt, settlement.clone())
            .expect("settled");
        let attempts = store.attempts(&run, None).expect("readable");
        assert_eq!(attempts[0].outcome, Some(AttemptOutcome::Interrupted));
        assert_eq!(attempts[0].observed, Some(ObservedEffect::Partial));
        let task = store.task(&run, &task_id("task-0")).expect("readable");
        assert_eq!(task.state, TaskState::Interrupted);
        assert_eq!(task.state_reason.as_deref(), Some("half of it"));

        // Settling twice fails and changes nothing, the task state included.
        let again = OpenAttemptSettlement {
            task_state: Some(TaskState::Pending),
            ..settlement
        };
        assert!(matches!(
            store.settle_open_attempt(attempt, again),
            Err(StoreError::AttemptAlreadyFinished { .. })
        ));
        assert_eq!(
            store
                .task(&run, &task_id("task-0"))
                .expect("readable")
                .state,
            TaskState::Interrupted
        );
    }

    #[test]
    fn attempts_record_intent_then_outcome() {
        let (_dir, mut store) = temp_store();
        let run = create_run(&mut store, 2);
        let attempt = store
            .begin_attempt(
                &run,
                &task_id("task-0"),
                AttemptRole::Run,
                "kubectl apply -f x.yaml",
                2_000,
            )
            .expect("recorded");
        let open = store.open_attempts(&run).expect("readable");
        assert_eq!(open.len(), 1);
        assert_eq!(open[0].id, attempt);
        assert!(open[0].is_open());
        assert_eq!((open[0].number, open[0].started_at), (1, 2_000));
        assert_eq!(
            store
                .task(&run, &task_id("task-0"))
                .expect("readable")
                .attempts,
            1
        );
        store
            .finish_attempt(
                attempt,
                AttemptResult {
                    exit_code: Some(0),
                    duration_ms: Some(1_500),
                    stdout_tail: Some(String::from("configured\n")),
                    evidence: Some(json!({ "revision": 3 })),
                    ..AttemptResult::new(AttemptOutcome::Succeeded, 3_500)
                },
            )
            .expect("recorded");
        assert!(store.open_attempts(&run).expect("readable").is_empty());
        let record = store
            .attempts(&run, Some(&task_id("task-0")))
            .expect("readable")
            .pop()
            .expect("one attempt");
        assert_eq!(record.outcome, Some(AttemptOutcome::Succeeded));
        assert_eq!(
            (record.finished_at, record.exit_code, record.duration_ms),
            (Some(3_500), Some(0), Some(1_500))
        );
        assert_eq!(record.stdout_tail.as_deref(), Some("configured\n"));
        assert_eq!(record.evidence, Some(json!({ "revision": 3 })));
        let events: Vec<(String, String)> = store
            .events(&run)
            .expect("readable")
            .into_iter()
            .skip(1)
            .map(|event| (event.kind, event.message))
            .collect();
        assert_eq!(
            events,
            [
                (
                    String::from(ATTEMPT_STARTED),
                    String::from("run attempt 1 of task `task-0` started: kubectl apply -f x.yaml")
                ),
                (
                    String::from(ATTEMPT_FINISHED),
                    String::from("run attempt 1 of task `task-0` succeeded")
                ),
            ]
        );
        let error = store
            .finish_attempt(attempt, AttemptResult::new(AttemptOutcome::Failed, 4_000))
            .expect_err("finished once");
        assert!(matches!(error, StoreError::AttemptAlreadyFinished { .. }));
    }

    #[test]
    fn attempts_are_numbered_per_task_and_role() {
        let (_dir, mut store) = temp_store();
        let run = create_run(&mut store, 2);
        let mut begin = |task, role| {
            let id = store
                .begin_attempt(&run, &task_id(task), role, "true", 10)
                .expect("recorded");
            store
                .finish_attempt(id, AttemptResult::new(AttemptOutcome::Failed, 11))
                .expect("recorded");
        };
        begin("task-0", AttemptRole::Run);
        begin("task-0", AttemptRole::Verify);
        begin("task-0", AttemptRole::Run);
        begin("task-1", AttemptRole::Run);
        begin("task-0", AttemptRole::Rollback);
        let numbers: Vec<(String, AttemptRole, u32)> = store
            .attempts(&run, None)
            .expect("readable")
            .into_iter()
            .map(|attempt| (attempt.task_id.to_string(), attempt.role, attempt.number))
            .collect();
        let task = String::from;
        assert_eq!(
            numbers,
            [
                (task("task-0"), AttemptRole::Run, 1),
                (task("task-0"), AttemptRole::Verify, 1),
                (task("task-0"), AttemptRole::Run, 2),
                (task("task-1"), AttemptRole::Run, 1),
                (task("task-0"), AttemptRole::Rollback, 1),
            ]
        );
        let tasks = store.tasks(&run).expect("readable");
        assert_eq!((tasks[0].attempts, tasks[1].attempts), (2, 1), "runs only");
        assert_eq!(
            store
                .attempts(&run, Some(&task_id("task-1")))
                .expect("readable")
                .len(),
            1
        );
        assert!(matches!(
            store.begin_attempt(&run, &task_id("nope"), AttemptRole::Verify, "true", 12),
            Err(StoreError::UnknownTask { .. })
        ));
        assert!(matches!(
            store.finish_attempt(
                AttemptId(9_999),
                AttemptResult::new(AttemptOutcome::Failed, 13)
            ),
            Err(StoreError::UnknownAttempt { .. })
        ));
    }

    #[test]
    fn evidence_accumulates() {
        let (_dir, mut store) = temp_store();
        let run = create_run(&mut store, 1);
        let attempt = store
            .begin_attempt(
                &run,
                &task_id("task-0"),
                AttemptRole::Run,
                "helm upgrade",
                10,
            )
            .expect("recorded");
        store
            .record_attempt_evidence(attempt, json!({ "before": { "revision": 4 } }))
            .expect("recorded");
        store
            .finish_attempt(
                attempt,
                AttemptResult {
                    evidence: Some(json!({ "after": { "revision": 5 } })),
                    ..AttemptResult::new(AttemptOutcome::Succeeded, 20)
                },
            )
            .expect("recorded");
        let evidence = store
            .attempts(&run, None)
            .expect("readable")
            .pop()
            .and_then(|attempt| attempt.evidence);
        assert_eq!(
            evidence,
            Some(json!({ "before": { "revision": 4 }, "after": { "revision": 5 } }))
        );
        store
            .record_attempt_evidence(attempt, json!("replaced"))
            .expect("recorded");
        assert_eq!(
            store.attempts(&run, None).expect("readable")[0].evidence,
            Some(json!("replaced"))
        );
    }

    #[test]
    fn open_attempts_survive_reopening() {
        let (dir, mut store) = temp_store();
        let run = create_run(&mut store, 2);
        let done = store
            .begin_attempt(&run, &task_id("task-0"), AttemptRole::Run, "true", 10)
            .expect("recorded");
        store
            .finish_attempt(done, AttemptResult::new(AttemptOutcome::Succeeded, 11))
            .expect("recorded");
        let cut_off = store
            .begin_attempt(&run, &task_id("task-1"), AttemptRole::Run, "sleep 100", 12)
            .expect("recorded");
        drop(store);
        let store = crate::Store::open(dir.path().join("state.db")).expect("reopens");
        let open = store.open_attempts(&run).expect("readable");
        assert_eq!(open.len(), 1);
        assert_eq!(open[0].id, cut_off);
        assert_eq!(open[0].command, "sleep 100");
    }

    /// Writes a run, one finished and one open attempt, then kills its own
    /// process with SIGKILL. Only does anything when run as a child by
    /// `killed_writer_leaves_a_resumable_file`.
    #[cfg(unix)]
    #[test]
    #[ignore = "run as a child process by `killed_writer_leaves_a_resumable_file`"]
    fn crash_child() {
        let Some(path) = test_support::crash_child_path() else {
            return;
        };
        let mut store = crate::Store::open(path).expect("opens");
        let run = create_run(&mut store, 2);
        let done = store
            .begin_attempt(&run, &task_id("task-0"), AttemptRole::Run, "true", 10)
            .expect("recorded");
        store
            .finish_attempt(done, AttemptResult::new(AttemptOutcome::Succeeded, 11))
            .expect("recorded");
        store
            .set_task_state(&run, &task_id("task-0"), TaskState::Succeeded, None, 11)
            .expect("recorded");
        store
            .set_task_state(&run, &task_id("task-1"), TaskState::Running, None, 12)
            .expect("recorded");
        let cut_off = store
            .begin_attempt(
                &run,
                &task_id("task-1"),
                AttemptRole::Run,
                "kubectl apply",
                12,
            )
            .expect("recorded");
        store
            .record_attempt_evidence(cut_off, json!({ "snapshot": "before" }))
            .expect("recorded");
        test_support::kill_self();
    }

    #[cfg(unix)]
    #[test]
    fn killed_writer_leaves_a_resumable_file() {
        let dir = tempfile::tempdir().expect("temporary folders can be created");
        let path = dir.path().join("state.db");
        test_support::run_crash_child("attempts::tests::crash_child", &path);
        let wal = dir.path().join("state.db-wal");
        assert!(
            std::fs::metadata(&wal).is_ok_and(|metadata| metadata.len() > 0),
            "the commits must still be in the WAL"
        );

        let store = crate::Store::open(&path).expect("a killed writer's file opens");
        assert!(store.integrity_check().expect("the check runs"));
        let run = store
            .latest_run()
            .expect("readable")
            .expect("the child created a run")
            .id;
        let open = store.open_attempts(&run).expect("readable");
        assert_eq!(open.len(), 1);
        assert_eq!(open[0].task_id.as_str(), "task-1");
        assert_eq!(open[0].evidence, Some(json!({ "snapshot": "before" })));
        let tasks = store.tasks(&run).expect("readable");
        assert_eq!(tasks[0].state, TaskState::Succeeded);
        assert_eq!((tasks[1].state, tasks[1].attempts), (TaskState::Running, 1));
    }
}
