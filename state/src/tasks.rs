//! Tasks of a run: reading them in run order and recording state changes.

use plangate_plans::{Decision, PhaseId, Risk, TaskId};
use rusqlite::{OptionalExtension, Row, Transaction};
use serde::Serialize;
use serde_json::json;

use crate::{
    error::{StoreError, sqlite},
    ids::RunId,
    states::TaskState,
    store::{EventRow, Journal, Store, decision_column, id_column, risk_column, touch_run},
};

/// Event kind written by [`Store::set_task_verified`].
pub const TASK_VERIFIED: &str = "task-verified";

/// The columns [`task_from_row`] reads, in order.
macro_rules! task_columns {
    () => {
        "task_id, phase_id, position, risk, decision, reason, state, state_reason, attempts, \
         started_at, finished_at, verified, completed_seq"
    };
}

/// Statements on the hot path, named so the query-plan test can check them.
pub(crate) const SELECT_TASKS: &str = concat!(
    "SELECT ",
    task_columns!(),
    " FROM tasks WHERE run_id = ?1 ORDER BY position, task_id"
);
pub(crate) const SELECT_TASK: &str = concat!(
    "SELECT ",
    task_columns!(),
    " FROM tasks WHERE run_id = ?1 AND task_id = ?2"
);
pub(crate) const UPDATE_TASK_STATE: &str = "UPDATE tasks SET state = ?3, state_reason = ?4, \
    started_at = coalesce(started_at, ?5), \
    finished_at = CASE ?6 WHEN 'keep' THEN finished_at WHEN 'set' THEN ?7 END, \
    completed_seq = coalesce(?8, completed_seq) \
    WHERE run_id = ?1 AND task_id = ?2";
pub(crate) const COUNT_RUN_ATTEMPT: &str =
    "UPDATE tasks SET attempts = attempts + 1 WHERE run_id = ?1 AND task_id = ?2";
pub(crate) const NEXT_COMPLETED_SEQ: &str = "UPDATE runs SET updated_at = max(updated_at, ?2), \
    completed_count = completed_count + 1 WHERE id = ?1 RETURNING completed_count";

/// One task of a run, as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TaskRecord {
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
    /// Its state.
    pub state: TaskState,
    /// Why it has its state (the reason given with it).
    pub state_reason: Option<String>,
    /// How many times its `run` action was started, across resumes.
    pub attempts: u32,
    /// When it first started running.
    pub started_at: Option<i64>,
    /// When its `run` last ended (entering `succeeded`, `failed`, `timed-out`
    /// or `interrupted`); cleared when it runs again.
    pub finished_at: Option<i64>,
    /// Whether its verify passed; `None` until a verify result is recorded
    /// (and always for tasks without a verify).
    pub verified: Option<bool>,
    /// Its place in the run's order of completion (1, 2, ...), set each time
    /// it enters `succeeded`: rollback goes by decreasing `completed_seq`.
    pub completed_seq: Option<i64>,
}

/// What a state change does to `finished_at`, as the SQL `CASE` spells it.
fn finished_at_effect(state: TaskState) -> &'static str {
    match state {
        TaskState::Running => "clear",
        state if state.ends_run() => "set",
        _ => "keep",
    }
}

impl Store {
    /// The run's tasks, in run order.
    ///
    /// An unknown run has no tasks: this returns an empty list rather than
    /// [`StoreError::UnknownRun`].
    pub fn tasks(&self, run: &RunId) -> Result<Vec<TaskRecord>, StoreError> {
        self.connection
            .prepare_cached(SELECT_TASKS)
            .and_then(|mut statement| statement.query_map([run], task_from_row)?.collect())
            .map_err(sqlite("read the tasks of a run"))
    }

    /// One task of the run.
    pub fn task(&self, run: &RunId, task: &TaskId) -> Result<TaskRecord, StoreError> {
        self.connection
            .prepare_cached(SELECT_TASK)
            .and_then(|mut statement| {
                statement
                    .query_row((run, task.as_str()), task_from_row)
                    .optional()
            })
            .map_err(sqlite("read a task"))?
            .ok_or_else(|| StoreError::UnknownTask {
                run: run.clone(),
                task: task.clone(),
            })
    }

    /// Sets a task's state and `state_reason` (cleared when `reason` is
    /// `None`), and writes an event of kind [`TaskState::event_kind`].
    ///
    /// Timestamps: entering `running` sets `started_at` the first time and
    /// clears `finished_at`; entering `succeeded`, `failed`, `timed-out` or
    /// `interrupted` sets `finished_at`; other states leave both. Entering
    /// `succeeded` also gives the task the run's next `completed_seq`.
    /// Transitions are not validated: that is the engine's policy.
    pub fn set_task_state(
        &mut self,
        run: &RunId,
        task: &TaskId,
        state: TaskState,
        reason: Option<&str>,
        at: i64,
    ) -> Result<(), StoreError> {
        let operation = "record the state of a task";
        self.write(operation, |transaction| {
            set_task_state_in(
                transaction,
                run,
                task,
                state,
                reason,
                at,
                operation,
                &mut Journal::Rows,
            )
        })
    }

    /// Records whether the task's verify passed, with a `task-verified` event.
    pub fn set_task_verified(
        &mut self,
        run: &RunId,
        task: &TaskId,
        verified: bool,
        at: i64,
    ) -> Result<(), StoreError> {
        let operation = "record the verification of a task";
        self.write(operation, |transaction| {
            set_task_verified_in(
                transaction,
                run,
                task,
                verified,
                at,
                operation,
                &mut Journal::Rows,
            )
        })
    }
}

/// [`Store::set_task_verified`] inside a transaction of the caller's, its
/// event written or collected by `journal`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn set_task_verified_in(
    transaction: &Transaction<'_>,
    run: &RunId,
    task: &TaskId,
    verified: bool,
    at: i64,
    operation: &'static str,
    journal: &mut Journal,
) -> Result<(), StoreError> {
    if journal.touches() {
        touch_run(transaction, run, at, operation)?;
    }
    let changed = transaction
        .prepare_cached("UPDATE tasks SET verified = ?3 WHERE run_id = ?1 AND task_id = ?2")
        .and_then(|mut statement| statement.execute((run, task.as_str(), verified)))
        .map_err(sqlite(operation))?;
    ensure_task_changed(changed, run, task)?;
    let message = if verified {
        format!("task `{task}` passed its verify")
    } else {
        format!("task `{task}` failed its verify")
    };
    journal.emit(
        transaction,
        run,
        &EventRow {
            at,
            kind: TASK_VERIFIED,
            task_id: Some(task),
            message: &message,
            data: Some(&json!({ "verified": verified })),
        },
        operation,
    )?;
    Ok(())
}

/// [`Store::set_task_state`] inside a transaction of the caller's, its
/// event written or collected by `journal`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn set_task_state_in(
    transaction: &Transaction<'_>,
    run: &RunId,
    task: &TaskId,
    state: TaskState,
    reason: Option<&str>,
    at: i64,
    operation: &'static str,
    journal: &mut Journal,
) -> Result<(), StoreError> {
    let completed_seq = if state == TaskState::Succeeded {
        let seq: Option<i64> = transaction
            .prepare_cached(NEXT_COMPLETED_SEQ)
            .and_then(|mut statement| statement.query_row((run, at), |row| row.get(0)).optional())
            .map_err(sqlite(operation))?;
        Some(seq.ok_or_else(|| StoreError::UnknownRun {
            run: run.to_string(),
        })?)
    } else {
        if journal.touches() {
            touch_run(transaction, run, at, operation)?;
        }
        None
    };
    let started_at = (state == TaskState::Running).then_some(at);
    let changed = transaction
        .prepare_cached(UPDATE_TASK_STATE)
        .and_then(|mut statement| {
            statement.execute((
                run,
                task.as_str(),
                state,
                reason,
                started_at,
                finished_at_effect(state),
                at,
                completed_seq,
            ))
        })
        .map_err(sqlite(operation))?;
    ensure_task_changed(changed, run, task)?;
    let message = match reason {
        Some(reason) => format!("task `{task}` {}: {reason}", state.phrase()),
        None => format!("task `{task}` {}", state.phrase()),
    };
    let data = json!({
        "state": state,
        "reason": reason,
        "completed_seq": completed_seq,
    });
    journal.emit(
        transaction,
        run,
        &EventRow {
            at,
            kind: state.event_kind(),
            task_id: Some(task),
            message: &message,
            data: Some(&data),
        },
        operation,
    )?;
    Ok(())
}

/// Turns "no row updated" into [`StoreError::UnknownTask`].
pub(crate) fn ensure_task_changed(
    changed: usize,
    run: &RunId,
    task: &TaskId,
) -> Result<(), StoreError> {
    if changed == 0 {
        return Err(StoreError::UnknownTask {
            run: run.clone(),
            task: task.clone(),
        });
    }
    Ok(())
}

/// Increments the task's `attempts` counter (a `run` action starts).
pub(crate) fn count_run_attempt(
    transaction: &Transaction<'_>,
    run: &RunId,
    task: &TaskId,
) -> rusqlite::Result<usize> {
    transaction
        .prepare_cached(COUNT_RUN_ATTEMPT)?
        .execute((run, task.as_str()))
}

/// Decodes a row selected with `task_columns!()`.
fn task_from_row(row: &Row<'_>) -> rusqlite::Result<TaskRecord> {
    Ok(TaskRecord {
        task_id: id_column(row, 0, TaskId::new)?,
        phase_id: id_column(row, 1, PhaseId::new)?,
        position: row.get(2)?,
        risk: risk_column(row, 3)?,
        decision: decision_column(row, 4)?,
        reason: row.get(5)?,
        state: row.get(6)?,
        state_reason: row.get(7)?,
        attempts: row.get(8)?,
        started_at: row.get(9)?,
        finished_at: row.get(10)?,
        verified: row.get(11)?,
        completed_seq: row.get(12)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{create_run, task_id, temp_store};

    #[test]
    fn state_changes_stamp_times_and_completion_order() {
        let (_dir, mut store) = temp_store();
        let run = create_run(&mut store, 3);
        for (task, at) in [("task-2", 2010), ("task-0", 2011), ("task-1", 2012)] {
            store
                .set_task_state(&run, &task_id(task), TaskState::Running, None, at)
                .expect("recorded");
        }
        for (task, at) in [("task-1", 2020), ("task-2", 2021), ("task-0", 2022)] {
            store
                .set_task_state(&run, &task_id(task), TaskState::Succeeded, None, at)
                .expect("recorded");
        }
        let tasks = store.tasks(&run).expect("readable");
        let seen: Vec<_> = tasks
            .iter()
            .map(|task| {
                (
                    task.task_id.as_str(),
                    task.started_at,
                    task.finished_at,
                    task.completed_seq,
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                ("task-0", Some(2011), Some(2022), Some(3)),
                ("task-1", Some(2012), Some(2020), Some(1)),
                ("task-2", Some(2010), Some(2021), Some(2)),
            ]
        );
        // Rollback order: reverse completion.
        let mut rollback: Vec<&TaskRecord> = tasks.iter().collect();
        rollback.sort_by_key(|task| std::cmp::Reverse(task.completed_seq));
        let rollback: Vec<&str> = rollback.iter().map(|task| task.task_id.as_str()).collect();
        assert_eq!(rollback, ["task-0", "task-2", "task-1"]);
        assert_eq!(store.run(&run).expect("readable").updated_at, 2022);
    }

    #[test]
    fn running_again_keeps_started_at_and_clears_finished_at() {
        let (_dir, mut store) = temp_store();
        let run = create_run(&mut store, 1);
        let state = |store: &Store| store.task(&run, &task_id("task-0")).expect("readable");
        store
            .set_task_state(&run, &task_id("task-0"), TaskState::Running, None, 10)
            .expect("recorded");
        store
            .set_task_state(
                &run,
                &task_id("task-0"),
                TaskState::Interrupted,
                Some("SIGINT"),
                15,
            )
            .expect("recorded");
        let task = state(&store);
        assert_eq!((task.started_at, task.finished_at), (Some(10), Some(15)));
        assert_eq!(task.state_reason.as_deref(), Some("SIGINT"));
        store
            .set_task_state(&run, &task_id("task-0"), TaskState::Running, None, 30)
            .expect("recorded");
        let task = state(&store);
        assert_eq!((task.started_at, task.finished_at), (Some(10), None));
        assert_eq!(task.state_reason, None);
        store
            .set_task_state(&run, &task_id("task-0"), TaskState::Succeeded, None, 40)
            .expect("recorded");
        store
            .set_task_state(&run, &task_id("task-0"), TaskState::RolledBack, None, 50)
            .expect("recorded");
        let task = state(&store);
        assert_eq!(task.state, TaskState::RolledBack);
        assert_eq!(task.finished_at, Some(40), "rollback keeps the run's end");
        assert_eq!(task.completed_seq, Some(1), "rollback keeps the order");
        let messages: Vec<String> = store
            .events(&run)
            .expect("readable")
            .into_iter()
            .skip(1)
            .map(|event| format!("{}: {}", event.kind, event.message))
            .collect();
        assert_eq!(
            messages,
            [
                "task-started: task `task-0` started",
                "task-interrupted: task `task-0` was interrupted: SIGINT",
                "task-started: task `task-0` started",
                "task-succeeded: task `task-0` succeeded",
                "task-rolled-back: task `task-0` was rolled back",
            ]
        );
    }

    #[test]
    fn every_state_is_accepted_by_the_schema() {
        let (_dir, mut store) = temp_store();
        let run = create_run(&mut store, 1);
        for (at, state) in (1..).zip(TaskState::ALL) {
            store
                .set_task_state(&run, &task_id("task-0"), *state, None, at)
                .expect("every state is storable");
            assert_eq!(
                store
                    .task(&run, &task_id("task-0"))
                    .expect("readable")
                    .state,
                *state
            );
        }
        for (at, status) in (1..).zip(crate::RunStatus::ALL) {
            store
                .set_run_status(&run, *status, None, at)
                .expect("every status is storable");
            assert_eq!(store.run(&run).expect("readable").status, *status);
        }
    }

    #[test]
    fn verification_is_recorded() {
        let (_dir, mut store) = temp_store();
        let run = create_run(&mut store, 2);
        store
            .set_task_verified(&run, &task_id("task-1"), true, 5)
            .expect("recorded");
        let tasks = store.tasks(&run).expect("readable");
        assert_eq!(tasks[0].verified, None);
        assert_eq!(tasks[1].verified, Some(true));
        let event = store
            .events(&run)
            .expect("readable")
            .pop()
            .expect("an event");
        assert_eq!(event.kind, TASK_VERIFIED);
        assert_eq!(event.task_id, Some(task_id("task-1")));
    }

    #[test]
    fn unknown_task_changes_nothing() {
        let (_dir, mut store) = temp_store();
        let run = create_run(&mut store, 1);
        let error = store
            .set_task_state(&run, &task_id("nope"), TaskState::Succeeded, None, 5)
            .expect_err("unknown task");
        assert_eq!(error.to_string(), format!("run `{run}` has no task `nope`"));
        // The completion counter was rolled back with the transaction.
        store
            .set_task_state(&run, &task_id("task-0"), TaskState::Succeeded, None, 6)
            .expect("recorded");
        assert_eq!(
            store
                .task(&run, &task_id("task-0"))
                .expect("readable")
                .completed_seq,
            Some(1)
        );
        assert_eq!(store.events(&run).expect("readable").len(), 2);
        assert!(matches!(
            store.set_task_verified(&run, &task_id("nope"), true, 7),
            Err(StoreError::UnknownTask { .. })
        ));
        assert!(matches!(
            store.task(&run, &task_id("nope")),
            Err(StoreError::UnknownTask { .. })
        ));
    }
}
