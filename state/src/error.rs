//! [`StoreError`], the error of every store operation after opening.

use std::path::PathBuf;

use plangate_plans::{TaskId, text::and_ticked};

use crate::ids::{AttemptId, RunId};

/// The error of a store operation. A failed write leaves the store unchanged:
/// every write is one transaction.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No run has this id, or no run id starts with this prefix.
    #[error("no run `{run}` in the state file")]
    UnknownRun {
        /// The id or prefix asked for.
        run: String,
    },

    /// Several run ids start (or end) with this text; a longer one is needed.
    #[error("run `{prefix}` is ambiguous: it matches {}", and_ticked(candidates))]
    AmbiguousRun {
        /// The prefix asked for.
        prefix: String,
        /// Some of the runs it matches (at most ten), oldest first.
        candidates: Vec<RunId>,
    },

    /// The run has no task with this id.
    #[error("run `{run}` has no task `{task}`")]
    UnknownTask {
        /// The run.
        run: RunId,
        /// The task id asked for.
        task: TaskId,
    },

    /// A new run or a plan change lists the same task twice.
    #[error("task `{task}` is listed twice")]
    DuplicateTask {
        /// The repeated task id.
        task: TaskId,
    },

    /// No attempt has this id.
    #[error("no attempt {attempt} in the state file")]
    UnknownAttempt {
        /// The attempt id asked for.
        attempt: AttemptId,
    },

    /// The attempt already has an outcome; an outcome is recorded once.
    #[error("attempt {attempt} is already finished")]
    AttemptAlreadyFinished {
        /// The attempt.
        attempt: AttemptId,
    },

    /// The plan path is not UTF-8, which the state file cannot store.
    #[error("plan path `{}` is not valid UTF-8", path.display())]
    NonUtf8PlanPath {
        /// The path.
        path: PathBuf,
    },

    /// SQLite failed: a busy database past the busy timeout (retryable), a full
    /// disk, an I/O error, or a row this build cannot decode.
    #[error("state store failed to {operation}")]
    Sqlite {
        /// What was being done, e.g. "record the start of an attempt".
        operation: &'static str,
        /// The SQLite error.
        #[source]
        source: rusqlite::Error,
    },

    /// A write that shared its transaction with others was not kept: another
    /// write of the same commit failed, or an earlier commit failed and the
    /// writes after it are refused so that none lands out of order.
    #[error("state store failed to {operation}: {cause}")]
    Batched {
        /// What this write was doing.
        operation: &'static str,
        /// The failure that lost it, one line.
        cause: String,
    },
}

impl StoreError {
    /// Whether SQLite reported the database busy (locked by another
    /// connection): the write was not made and may be tried again.
    pub fn is_busy(&self) -> bool {
        matches!(
            self,
            StoreError::Sqlite {
                source: rusqlite::Error::SqliteFailure(failure, _),
                ..
            } if failure.code == rusqlite::ErrorCode::DatabaseBusy
        )
    }
}

/// Builds the `map_err` closure of an SQLite failure during `operation`.
pub(crate) fn sqlite(operation: &'static str) -> impl Fn(rusqlite::Error) -> StoreError {
    move |source| StoreError::Sqlite { operation, source }
}
