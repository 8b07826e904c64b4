//! [`Batch`]: several writes in one transaction.
//!
//! The engine's hot path records a task's start with its first attempt, and an
//! attempt's outcome with the task's verification and final state. Each pair
//! belongs together: in one transaction a crash can never separate them, and
//! one commit costs less than two.

use plangate_plans::TaskId;
use rusqlite::Transaction;

use crate::{
    attempts::{AttemptResult, begin_attempt_in, finish_attempt_in},
    error::StoreError,
    ids::{AttemptId, RunId},
    states::{AttemptRole, TaskState},
    store::Store,
    tasks::{set_task_state_in, set_task_verified_in},
};

/// The writes of one transaction; see [`Store::batch`]. Each method does what
/// the [`Store`] method of the same name does, without committing.
pub struct Batch<'a> {
    transaction: &'a Transaction<'a>,
    operation: &'static str,
}

impl Batch<'_> {
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
        )
    }

    /// As [`Store::finish_attempt`].
    pub fn finish_attempt(
        &self,
        attempt: AttemptId,
        result: AttemptResult,
    ) -> Result<(), StoreError> {
        finish_attempt_in(self.transaction, attempt, result, None, self.operation).map(|_| ())
    }

    /// As [`Store::set_task_verified`].
    pub fn set_task_verified(
        &self,
        run: &RunId,
        task: &TaskId,
        verified: bool,
        at: i64,
    ) -> Result<(), StoreError> {
        set_task_verified_in(self.transaction, run, task, verified, at, self.operation)
    }
}

impl Store {
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
}
