//! [`Batch`]: several writes in one transaction.
//!
//! The engine's hot path records a task's start with its first attempt, and an
//! attempt's outcome with the task's verification and final state. Each pair
//! belongs together: in one transaction a crash can never separate them, and
//! one commit costs less than two.

use plangate_plans::TaskId;
use rusqlite::{Transaction, TransactionBehavior};

use serde_json::Value;

use crate::{
    attempts::{
        AttemptResult, begin_attempt_in, finish_attempt_in, record_attempt_evidence_in,
        record_attempt_process_in,
    },
    checkpoint,
    error::{StoreError, sqlite},
    ids::{AttemptId, RunId},
    open::BUSY_TIMEOUT,
    states::{AttemptRole, TaskState},
    store::{Journal, Store, write_merged},
    tasks::{set_task_state_in, set_task_verified_in},
};

/// The writes of one transaction; see [`Store::batch`]. Each method does what
/// the [`Store`] method of the same name does, without committing.
pub struct Batch<'a> {
    transaction: &'a Transaction<'a>,
    operation: &'static str,
}

impl<'a> Batch<'a> {
    /// The same transaction, with writes named `operation` in errors: for a
    /// commit that groups the writes of several callers.
    #[must_use]
    pub fn with_operation(&self, operation: &'static str) -> Batch<'a> {
        Batch {
            transaction: self.transaction,
            operation,
        }
    }

    /// What the writes are named in errors.
    pub fn operation(&self) -> &'static str {
        self.operation
    }

    /// As [`Store::record_attempt_evidence`].
    pub fn record_attempt_evidence(
        &self,
        attempt: AttemptId,
        evidence: Value,
    ) -> Result<(), StoreError> {
        record_attempt_evidence_in(self.transaction, attempt, evidence, self.operation)
    }

    /// As [`Store::record_attempt_process`].
    pub fn record_attempt_process(
        &self,
        attempt: AttemptId,
        process_group: u32,
        process_started: Option<u64>,
    ) -> Result<(), StoreError> {
        record_attempt_process_in(
            self.transaction,
            attempt,
            process_group,
            process_started,
            self.operation,
        )
    }

    /// As [`Store::set_task_state`].
    pub fn set_task_state(
        &self,
        run: &RunId,
        task: &TaskId,
        state: TaskState,
        reason: Option<&str>,
        at: i64,
    ) -> Result<(), StoreError> {
        set_task_state_in(
            self.transaction,
            run,
            task,
            state,
            reason,
            at,
            self.operation,
            &mut Journal::Rows,
        )
    }

    /// As [`Store::begin_numbered_attempt`].
    pub fn begin_attempt(
        &self,
        run: &RunId,
        task: &TaskId,
        role: AttemptRole,
        command: &str,
        at: i64,
    ) -> Result<(AttemptId, u32), StoreError> {
        begin_attempt_in(
            self.transaction,
            run,
            task,
            role,
            command,
            at,
            self.operation,
            &mut Journal::Rows,
        )
    }

    /// As [`Store::finish_attempt`].
    pub fn finish_attempt(
        &self,
        attempt: AttemptId,
        result: AttemptResult,
    ) -> Result<(), StoreError> {
        finish_attempt_in(
            self.transaction,
            attempt,
            result,
            None,
            self.operation,
            &mut Journal::Rows,
        )
        .map(|_| ())
    }

    /// As [`Store::set_task_verified`].
    pub fn set_task_verified(
        &self,
        run: &RunId,
        task: &TaskId,
        verified: bool,
        at: i64,
    ) -> Result<(), StoreError> {
        set_task_verified_in(
            self.transaction,
            run,
            task,
            verified,
            at,
            self.operation,
            &mut Journal::Rows,
        )
    }

    /// As [`Batch::set_task_state`] to [`TaskState::Running`] when
    /// `enter_running`, then [`Batch::begin_attempt`], in one event row
    /// (expanded again by [`Store::events`]) and one touch of the run.
    pub fn start_task_attempt(
        &self,
        run: &RunId,
        task: &TaskId,
        enter_running: bool,
        role: AttemptRole,
        command: &str,
        at: i64,
    ) -> Result<(AttemptId, u32), StoreError> {
        let mut journal = Journal::Collect(Vec::new());
        if enter_running {
            set_task_state_in(
                self.transaction,
                run,
                task,
                TaskState::Running,
                None,
                at,
                self.operation,
                &mut journal,
            )?;
        }
        let started = begin_attempt_in(
            self.transaction,
            run,
            task,
            role,
            command,
            at,
            self.operation,
            &mut journal,
        )?;
        self.write_collected(run, task, journal)?;
        Ok(started)
    }

    /// As [`Batch::finish_attempt`], then [`Batch::set_task_verified`] when
    /// `verified` is given, then [`Batch::set_task_state`] when `settled` is
    /// given (all at the result's time), in one event row (expanded again by
    /// [`Store::events`]) and one touch of the run.
    pub fn finish_and_settle(
        &self,
        run: &RunId,
        task: &TaskId,
        attempt: AttemptId,
        result: AttemptResult,
        verified: Option<bool>,
        settled: Option<(TaskState, Option<&str>)>,
    ) -> Result<(), StoreError> {
        let at = result.at;
        let mut journal = Journal::Collect(Vec::new());
        let current = finish_attempt_in(
            self.transaction,
            attempt,
            result,
            None,
            self.operation,
            &mut journal,
        )?;
        if current.run != *run || current.task != *task {
            return Err(StoreError::UnknownTask {
                run: run.clone(),
                task: task.clone(),
            });
        }
        if let Some(verified) = verified {
            set_task_verified_in(
                self.transaction,
                run,
                task,
                verified,
                at,
                self.operation,
                &mut journal,
            )?;
        }
        if let Some((state, reason)) = settled {
            set_task_state_in(
                self.transaction,
                run,
                task,
                state,
                reason,
                at,
                self.operation,
                &mut journal,
            )?;
        }
        self.write_collected(run, task, journal)
    }

    /// Stores what a [`Journal::Collect`] gathered as one row.
    fn write_collected(
        &self,
        run: &RunId,
        task: &TaskId,
        journal: Journal,
    ) -> Result<(), StoreError> {
        match journal {
            Journal::Collect(events) => {
                write_merged(self.transaction, run, task, events, self.operation)
            }
            Journal::Rows => Ok(()),
        }
    }
}

/// What [`Store::try_batch`] did.
#[derive(Debug)]
pub enum TryBatch<T, F> {
    /// The batch ran: committed when `Ok`, rolled back when `Err`.
    Done(Result<T, StoreError>),
    /// Another connection holds the write lock, so nothing ran: here is the
    /// body back, to run with [`Store::batch`] where waiting is allowed.
    Busy(F),
}

impl Store {
    /// As [`Store::batch`], but never waits for the write lock: when another
    /// connection holds it, returns [`TryBatch::Busy`] at once, for a caller
    /// that must not block (an async runtime thread) to run the body
    /// elsewhere. Once the lock is taken, the body and the commit run as in
    /// [`Store::batch`].
    pub fn try_batch<T, F>(&mut self, operation: &'static str, body: F) -> TryBatch<T, F>
    where
        F: FnOnce(&Batch<'_>) -> Result<T, StoreError>,
    {
        if let Err(source) = self.connection.busy_timeout(std::time::Duration::ZERO) {
            return TryBatch::Done(Err(StoreError::Sqlite { operation, source }));
        }
        // `&mut self` rules out a nested transaction; the shared borrow
        // lets the error path reset the timeout.
        let began = Transaction::new_unchecked(&self.connection, TransactionBehavior::Immediate);
        let error = match began {
            Ok(transaction) => {
                let done = run_batch(transaction, operation, body);
                if done.is_ok() {
                    self.checkpointer.committed(&self.connection);
                }
                return TryBatch::Done(done);
            }
            Err(source) => StoreError::Sqlite { operation, source },
        };
        if let Err(source) = self.connection.busy_timeout(BUSY_TIMEOUT) {
            return TryBatch::Done(Err(StoreError::Sqlite { operation, source }));
        }
        if error.is_busy() {
            TryBatch::Busy(body)
        } else {
            TryBatch::Done(Err(error))
        }
    }

    /// Runs `body` in one `BEGIN IMMEDIATE` transaction and commits it when
    /// `body` succeeds; when it fails, nothing it wrote is kept. `operation`
    /// names the whole batch in errors.
    pub fn batch<T>(
        &mut self,
        operation: &'static str,
        body: impl FnOnce(&Batch<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.write(operation, |transaction| {
            body(&Batch {
                transaction,
                operation,
            })
        })
    }
}

/// Runs `body` in `transaction`, which holds the write lock, and commits.
fn run_batch<T>(
    transaction: Transaction<'_>,
    operation: &'static str,
    body: impl FnOnce(&Batch<'_>) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    // With the write lock held, nothing else waits on other connections.
    transaction
        .busy_timeout(BUSY_TIMEOUT)
        .map_err(sqlite(operation))?;
    let value = body(&Batch {
        transaction: &transaction,
        operation,
    })?;
    checkpoint::before_commit();
    transaction.commit().map_err(sqlite(operation))?;
    crate::failpoint::committed();
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        AttemptOutcome,
        test_support::{create_run, task_id, temp_store},
    };

    #[test]
    fn a_batch_commits_all_or_nothing() {
        let (_dir, mut store) = temp_store();
        let run = create_run(&mut store, 1);
        let (attempt, number) = store
            .batch("start a task", |batch| {
                batch.set_task_state(&run, &task_id("task-0"), TaskState::Running, None, 10)?;
                batch.begin_attempt(&run, &task_id("task-0"), AttemptRole::Run, "true", 10)
            })
            .expect("committed");
        assert_eq!(number, 1);
        assert_eq!(
            store
                .task(&run, &task_id("task-0"))
                .expect("readable")
                .state,
            TaskState::Running
        );

        // The second write fails (no such task): the first is not kept.
        let failed = store.batch("finish a task", |batch| {
            batch.finish_attempt(attempt, AttemptResult::new(AttemptOutcome::Succeeded, 20))?;
            batch.set_task_state(
                &run,
                &task_id("no-such-task"),
                TaskState::Succeeded,
                None,
                20,
            )
        });
        assert!(matches!(failed, Err(StoreError::UnknownTask { .. })));
        assert_eq!(store.open_attempts(&run).expect("readable").len(), 1);

        store
            .batch("finish a task", |batch| {
                batch.finish_attempt(attempt, AttemptResult::new(AttemptOutcome::Succeeded, 20))?;
                batch.set_task_verified(&run, &task_id("task-0"), true, 20)?;
                batch.set_task_state(&run, &task_id("task-0"), TaskState::Succeeded, None, 20)
            })
            .expect("committed");
        let task = store.task(&run, &task_id("task-0")).expect("readable");
        assert_eq!(
            (task.state, task.verified, task.completed_seq),
            (TaskState::Succeeded, Some(true), Some(1))
        );
        assert!(store.open_attempts(&run).expect("readable").is_empty());
    }

    #[test]
    fn try_batch_hands_the_body_back_when_another_connection_writes() {
        let (_dir, mut store) = temp_store();
        let run = create_run(&mut store, 1);
        let other = rusqlite::Connection::open(store.path()).expect("a second connection");
        other
            .execute_batch("BEGIN IMMEDIATE")
            .expect("the second connection takes the write lock");
        let started = std::time::Instant::now();
        let body = |batch: &Batch<'_>| {
            batch.set_task_state(&run, &task_id("task-0"), TaskState::Running, None, 10)
        };
        let body = match store.try_batch("start a task", body) {
            TryBatch::Busy(body) => body,
            TryBatch::Done(result) => panic!("ran under another writer: {result:?}"),
        };
        assert!(
            started.elapsed() < BUSY_TIMEOUT,
            "try_batch does not wait for the busy timeout"
        );
        other.execute_batch("COMMIT").expect("released");
        assert!(matches!(
            store.try_batch("start a task", body),
            TryBatch::Done(Ok(()))
        ));
        assert_eq!(
            store
                .task(&run, &task_id("task-0"))
                .expect("readable")
                .state,
            TaskState::Running
        );
        // The busy timeout is back for ordinary writes.
        let timeout: i64 = store
            .connection
            .query_row("PRAGMA busy_timeout", [], |row| row.get(0))
            .expect("readable");
        assert_eq!(timeout, 5_000);
    }

    /// `at`, kind, task, message and data of an event.
    type LogicalEvent = (i64, String, Option<String>, String, Option<Value>);

    /// The logical events of `run` without their `seq`, which a merged row
    /// shares among its events.
    fn logical_events(store: &Store, run: &RunId) -> Vec<LogicalEvent> {
        store
            .events(run)
            .expect("readable")
            .into_iter()
            .map(|event| {
                (
                    event.at,
                    event.kind,
                    event.task_id.map(|task| task.to_string()),
                    event.message,
                    event.data,
                )
            })
            .collect()
    }

    fn event_rows(store: &Store) -> i64 {
        store
            .connection
            .query_row("SELECT count(*) FROM events", [], |row| row.get(0))
            .expect("readable")
    }

    #[test]
    fn combined_writes_read_back_as_the_separate_writes() {
        let (_old_dir, mut old) = temp_store();
        let (_new_dir, mut new) = temp_store();
        let old_run = create_run(&mut old, 2);
        let new_run = create_run(&mut new, 2);
        let rows_before = (event_rows(&old), event_rows(&new));
        assert_eq!(rows_before.0, rows_before.1);
        let task0 = task_id("task-0");
        let task1 = task_id("task-1");

        // The old way: one row per fact.
        old.batch("start", |batch| {
            batch.set_task_state(&old_run, &task0, TaskState::Running, None, 10)?;
            let (attempt, _) =
                batch.begin_attempt(&old_run, &task0, AttemptRole::Run, "true", 10)?;
            batch.finish_attempt(attempt, AttemptResult::new(AttemptOutcome::Succeeded, 20))?;
            batch.set_task_verified(&old_run, &task0, true, 20)?;
            batch.set_task_state(&old_run, &task0, TaskState::Succeeded, None, 20)?;
            batch.set_task_state(&old_run, &task1, TaskState::Running, None, 30)?;
            let (attempt, _) =
                batch.begin_attempt(&old_run, &task1, AttemptRole::Run, "false", 30)?;
            batch.finish_attempt(attempt, AttemptResult::new(AttemptOutcome::Failed, 40))?;
            batch.set_task_state(&old_run, &task1, TaskState::Failed, Some("exit 1"), 40)
        })
        .expect("committed");

        // The new way: one row per transition.
        new.batch("start", |batch| {
            let (attempt, number) =
                batch.start_task_attempt(&new_run, &task0, true, AttemptRole::Run, "true", 10)?;
            assert_eq!(number, 1);
            batch.finish_and_settle(
                &new_run,
                &task0,
                attempt,
                AttemptResult::new(AttemptOutcome::Succeeded, 20),
                Some(true),
                Some((TaskState::Succeeded, None)),
            )?;
            let (attempt, _) =
                batch.start_task_attempt(&new_run, &task1, true, AttemptRole::Run, "false", 30)?;
            batch.finish_and_settle(
                &new_run,
                &task1,
                attempt,
                AttemptResult::new(AttemptOutcome::Failed, 40),
                None,
                Some((TaskState::Failed, Some("exit 1"))),
            )
        })
        .expect("committed");

        assert_eq!(event_rows(&old) - rows_before.0, 9);
        assert_eq!(event_rows(&new) - rows_before.1, 4);
        assert_eq!(
            logical_events(&old, &old_run),
            logical_events(&new, &new_run)
        );
        let old_task = old.task(&old_run, &task0).expect("readable");
        let new_task = new.task(&new_run, &task0).expect("readable");
        assert_eq!(
            (
                old_task.state,
                old_task.verified,
                old_task.completed_seq,
                old_task.started_at,
                old_task.finished_at
            ),
            (
                new_task.state,
                new_task.verified,
                new_task.completed_seq,
                new_task.started_at,
                new_task.finished_at
            )
        );
        let seqs: Vec<i64> = new
            .events(&new_run)
            .expect("readable")
            .iter()
            .map(|event| event.seq)
            .collect();
        assert!(seqs.windows(2).all(|pair| pair[0] <= pair[1]), "in order");
        assert!(new.open_attempts(&new_run).expect("readable").is_empty());
    }

    #[test]
    fn a_combined_write_of_another_tasks_attempt_is_refused() {
        let (_dir, mut store) = temp_store();
        let run = create_run(&mut store, 2);
        let (attempt, _) = store
            .batch("start", |batch| {
                batch.start_task_attempt(
                    &run,
                    &task_id("task-0"),
                    true,
                    AttemptRole::Run,
                    "true",
                    10,
                )
            })
            .expect("committed");
        let refused = store.batch("finish", |batch| {
            batch.finish_and_settle(
                &run,
                &task_id("task-1"),
                attempt,
                AttemptResult::new(AttemptOutcome::Succeeded, 20),
                None,
                Some((TaskState::Succeeded, None)),
            )
        });
        assert!(matches!(refused, Err(StoreError::UnknownTask { .. })));
        assert_eq!(store.open_attempts(&run).expect("readable").len(), 1);
    }
}
