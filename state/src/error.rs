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
}

/// Builds the `map_err` closure of an SQLite failure during `operation`.
pub(crate) fn sqlite(operation: &'static str) -> impl Fn(rusqlite::Error) -> StoreError {
    move |source| StoreError::Sqlite { operation, source }
}
