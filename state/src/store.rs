//! [`Store`], the handle on one state file, and the helpers its operations
//! share: the write transaction, run touching, event rows and column decoding.
//!
//! The operations themselves live next to their record types: `runs.rs`,
//! `tasks.rs`, `attempts.rs`, `events.rs`, `approvals.rs` and `locks.rs`.

use std::{
    path::{Path, PathBuf},
    time::{SystemTime, UNIX_EPOCH},
};

use plangate_plans::{Decision, Risk, TaskId, ids::InvalidId};
use rusqlite::{Connection, Row, Transaction, TransactionBehavior, types::Type};

use crate::{
    checkpoint::{self, Checkpointer},
    error::{StoreError, sqlite},
    ids::RunId,
    open::{OpenOptions, OpenStoreError, open_connection},
    states::ParseStateError,
};

/// The current time in unix milliseconds, for the `at` arguments.
pub fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
        })
}

/// An open state file.
///
/// Reads take `&self`; writes take `&mut self` and are each one `BEGIN
/// IMMEDIATE` transaction, committed before the method returns. `Store` is
/// `Send` but not `Sync`: share it behind a `Mutex`, and call it from
/// `spawn_blocking` in async code, except [`Store::try_batch`], which never
/// waits for another connection and so may run on an async runtime thread.
#[derive(Debug)]
pub struct Store {
    /// Declared before `connection`, so that it is dropped first: its thread
    /// ends and closes its connection, and the store's connection, closing
    /// last, checkpoints the rest of the WAL and deletes it.
    pub(crate) checkpointer: Checkpointer,
    pub(crate) connection: Connection,
    path: PathBuf,
}

impl Store {
    /// Opens `path` with the default [`OpenOptions`]: creates the file and its
    /// folder when missing, `synchronous=NORMAL`.
    pub fn open(path: impl AsRef<Path>) -> Result<Store, OpenStoreError> {
        Self::open_with(path, OpenOptions::default())
    }

    /// Opens `path`: checks it read-only, then configures and migrates it.
    ///
    /// # Errors
    ///
    /// See [`OpenStoreError`]; on every error the file is left unmodified.
    ///
    /// # Caveats
    ///
    /// The check reads a file that no process has open (no `-wal`, `-shm` or
    /// `-journal` beside it) with SQLite's `immutable` flag, which creates
    /// nothing. A file that is open elsewhere, or that a crash left with its
    /// companions, is read through an ordinary read-only connection, which
    /// recovers the WAL into `-shm` and may create the missing companion;
    /// the database file itself is never written before the check passes,
    /// except that a transaction a crash cut off in rollback-journal mode is
    /// rolled back first (SQLite's crash recovery, which any reader performs).
    /// The check reads a bounded part of the file (its header, schema and the
    /// first page of every table), so damage elsewhere in a large file shows
    /// up only when that page is read; [`OpenOptions::full_check`] adds a
    /// `PRAGMA quick_check`, which reads the whole file.
    pub fn open_with(
        path: impl AsRef<Path>,
        options: OpenOptions,
    ) -> Result<Store, OpenStoreError> {
        let path = path.as_ref();
        let connection = open_connection(path, options)?;
        Ok(Store {
            checkpointer: Checkpointer::new(path, options.synchronous()),
            connection,
            path: path.to_owned(),
        })
    }

    /// The path the store was opened with.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `PRAGMA integrity_check`: whether SQLite finds the file sound.
    pub fn integrity_check(&self) -> Result<bool, StoreError> {
        let operation = "check the integrity of the state file";
        let mut statement = self
            .connection
            .prepare("PRAGMA integrity_check(1)")
            .map_err(sqlite(operation))?;
        let verdict: Vec<String> = statement
            .query_map([], |row| row.get(0))
            .and_then(Iterator::collect)
            .map_err(sqlite(operation))?;
        Ok(verdict == ["ok"])
    }

    /// Runs `body` in one `BEGIN IMMEDIATE` transaction and commits it; an
    /// error from `body` rolls everything back.
    pub(crate) fn write<T, E: From<StoreError>>(
        &mut self,
        operation: &'static str,
        body: impl FnOnce(&Transaction<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let transaction = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sqlite(operation))?;
        let value = body(&transaction)?;
        checkpoint::before_commit();
        transaction.commit().map_err(sqlite(operation))?;
        crate::failpoint::committed();
        self.checkpointer.committed(&self.connection);
        Ok(value)
    }
}

pub(crate) const TOUCH_RUN: &str = "UPDATE runs SET updated_at = max(updated_at, ?2) WHERE id = ?1";
pub(crate) const INSERT_EVENT: &str = "INSERT INTO events (run_id, at, kind, task_id, message, \
    data) VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING seq";

/// Moves the run's `updated_at` forward to `at`; fails with `UnknownRun` when
/// there is no such run, which is how writes check the run exists.
pub(crate) fn touch_run(
    transaction: &Transaction<'_>,
    run: &RunId,
    at: i64,
    operation: &'static str,
) -> Result<(), StoreError> {
    let changed = transaction
        .prepare_cached(TOUCH_RUN)
        .and_then(|mut statement| statement.execute((run, at)))
        .map_err(sqlite(operation))?;
    if changed == 0 {
        return Err(StoreError::UnknownRun {
            run: run.to_string(),
        });
    }
    Ok(())
}

/// One row of the `events` table about to be written.
pub(crate) struct EventRow<'a> {
    pub(crate) at: i64,
    pub(crate) kind: &'a str,
    pub(crate) task_id: Option<&'a TaskId>,
    pub(crate) message: &'a str,
    pub(crate) data: Option<&'a serde_json::Value>,
}

/// Where the events of a write go: each into its own row, or collected so a
/// combined write ([`crate::Batch::start_task_attempt`],
/// [`crate::Batch::finish_and_settle`]) stores them as one row and touches
/// the run once.
pub(crate) enum Journal {
    /// Each event is its own row; each write touches the run.
    Rows,
    /// Events are collected for [`write_merged`]; writes leave the run's
    /// `updated_at` to the combined write.
    Collect(Vec<OwnedEvent>),
}

/// An event collected by [`Journal::Collect`].
pub(crate) struct OwnedEvent {
    pub(crate) at: i64,
    pub(crate) kind: String,
    pub(crate) message: String,
    pub(crate) data: Option<serde_json::Value>,
}

/// The key of a stored event's `data` that holds the events merged into its
/// row, in order; [`crate::Store::events`] expands them.
pub(crate) const MERGED_KEY: &str = "merged";

impl Journal {
    /// Whether each write touches the run itself.
    pub(crate) fn touches(&self) -> bool {
        matches!(self, Journal::Rows)
    }

    /// Writes or collects `event`.
    pub(crate) fn emit(
        &mut self,
        transaction: &Transaction<'_>,
        run: &RunId,
        event: &EventRow<'_>,
        operation: &'static str,
    ) -> Result<(), StoreError> {
        match self {
            Journal::Rows => insert_event(transaction, run, event, operation).map(|_| ()),
            Journal::Collect(events) => {
                events.push(OwnedEvent {
                    at: event.at,
                    kind: event.kind.to_owned(),
                    message: event.message.to_owned(),
                    data: event.data.cloned(),
                });
                Ok(())
            }
        }
    }
}

/// Touches the run once at the latest `at` of `events` and stores them as
/// one row about `task`: the first event, with the others under
/// [`MERGED_KEY`] of its data. A first event whose data is not a JSON object
/// has nowhere to hold the others: then each keeps a row of its own.
pub(crate) fn write_merged(
    transaction: &Transaction<'_>,
    run: &RunId,
    task: &TaskId,
    events: Vec<OwnedEvent>,
    operation: &'static str,
) -> Result<(), StoreError> {
    let Some(latest) = events.iter().map(|event| event.at).max() else {
        return Ok(());
    };
    touch_run(transaction, run, latest, operation)?;
    let mut events = events.into_iter();
    let mut first = events
        .next()
        .expect("`events` is not empty: it has a latest");
    let rest: Vec<OwnedEvent> = events.collect();
    if let Some(serde_json::Value::Object(map)) = &mut first.data
        && !rest.is_empty()
    {
        let merged = rest.into_iter().map(OwnedEvent::into_json).collect();
        map.insert(MERGED_KEY.to_owned(), serde_json::Value::Array(merged));
        return first.insert(transaction, run, task, operation);
    }
    first.insert(transaction, run, task, operation)?;
    rest.into_iter()
        .try_for_each(|event| event.insert(transaction, run, task, operation))
}

impl OwnedEvent {
    /// The event as an entry of [`MERGED_KEY`].
    fn into_json(self) -> serde_json::Value {
        serde_json::json!({
            "at": self.at,
            "kind": self.kind,
            "message": self.message,
            "data": self.data,
        })
    }

    /// Stores the event as a row about `task`.
    fn insert(
        &self,
        transaction: &Transaction<'_>,
        run: &RunId,
        task: &TaskId,
        operation: &'static str,
    ) -> Result<(), StoreError> {
        let row = EventRow {
            at: self.at,
            kind: &self.kind,
            task_id: Some(task),
            message: &self.message,
            data: self.data.as_ref(),
        };
        insert_event(transaction, run, &row, operation).map(|_| ())
    }
}

/// Appends an event; returns its `seq`.
pub(crate) fn insert_event(
    transaction: &Transaction<'_>,
    run: &RunId,
    event: &EventRow<'_>,
    operation: &'static str,
) -> Result<i64, StoreError> {
    let data = event.data.map(serde_json::Value::to_string);
    transaction
        .prepare_cached(INSERT_EVENT)
        .and_then(|mut statement| {
            statement.query_row(
                (
                    run,
                    event.at,
                    event.kind,
                    event.task_id.map(TaskId::as_str),
                    event.message,
                    data,
                ),
                |row| row.get(0),
            )
        })
        .map_err(sqlite(operation))
}

/// Wraps a decoding failure of column `index` the way rusqlite's own are.
fn conversion_error(
    index: usize,
    error: impl std::error::Error + Send + Sync + 'static,
) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(index, Type::Text, Box::new(error))
}

/// Reads an identifier newtype of `plangate-plans` from a text column.
pub(crate) fn id_column<T>(
    row: &Row<'_>,
    index: usize,
    parse: fn(String) -> Result<T, InvalidId>,
) -> rusqlite::Result<T> {
    parse(row.get(index)?).map_err(|error| conversion_error(index, error))
}

/// Reads an optional identifier newtype of `plangate-plans`.
pub(crate) fn optional_id_column<T>(
    row: &Row<'_>,
    index: usize,
    parse: fn(String) -> Result<T, InvalidId>,
) -> rusqlite::Result<Option<T>> {
    row.get::<_, Option<String>>(index)?
        .map(parse)
        .transpose()
        .map_err(|error| conversion_error(index, error))
}

/// Reads a JSON text column.
pub(crate) fn json_column(
    row: &Row<'_>,
    index: usize,
) -> rusqlite::Result<Option<serde_json::Value>> {
    row.get_ref(index)?
        .as_str_or_null()?
        .map(serde_json::from_str)
        .transpose()
        .map_err(|error| conversion_error(index, error))
}

/// Reads a [`Risk`] from its YAML spelling.
pub(crate) fn risk_column(row: &Row<'_>, index: usize) -> rusqlite::Result<Risk> {
    let text = row.get_ref(index)?.as_str()?;
    Risk::ALL
        .into_iter()
        .find(|risk| risk.as_str() == text)
        .ok_or_else(|| {
            conversion_error(
                index,
                ParseStateError {
                    what: "risk",
                    text: text.to_owned(),
                },
            )
        })
}

/// Reads a [`Decision`] from its contract spelling.
pub(crate) fn decision_column(row: &Row<'_>, index: usize) -> rusqlite::Result<Decision> {
    let text = row.get_ref(index)?.as_str()?;
    Decision::ALL
        .into_iter()
        .find(|decision| decision.as_str() == text)
        .ok_or_else(|| {
            conversion_error(
                index,
                ParseStateError {
                    what: "decision",
                    text: text.to_owned(),
                },
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{create_run, read_bytes, temp_store};

    #[test]
    fn store_is_send() {
        fn assert_send<T: Send>() {}
        assert_send::<Store>();
    }

    #[test]
    fn integrity_check_finds_an_index_out_of_step_with_its_table() {
        let (dir, mut store) = temp_store();
        create_run(&mut store, 50);
        assert!(store.integrity_check().expect("the check runs"));
        let root: usize = store
            .connection
            .query_row(
                "SELECT rootpage FROM sqlite_schema WHERE name = 'tasks_by_position'",
                [],
                |row| row.get(0),
            )
            .expect("the index exists");
        drop(store);
        // The index fits one page, whose last byte ends the first entry's
        // `task_id`, "task-0": make it "task-1". The b-tree stays well formed,
        // so the quick check on open passes, but the index no longer matches
        // the table, which only the full integrity check notices.
        let path = dir.path().join("state.db");
        let mut bytes = read_bytes(&path);
        let last = root * 4096 - 1;
        assert_eq!(bytes[last], b'0', "the layout this test relies on changed");
        bytes[last] = b'1';
        std::fs::write(&path, &bytes).expect("the file can be written");
        let store = Store::open(&path).expect("the quick check passes");
        assert!(!store.integrity_check().expect("the check runs"));
    }

    /// Every statement the engine runs per task, per attempt, or on resume.
    const HOT_STATEMENTS: &[&str] = &[
        TOUCH_RUN,
        INSERT_EVENT,
        crate::runs::INSERT_TASK,
        crate::runs::RESOLVE_RUN,
        crate::tasks::SELECT_TASKS,
        crate::tasks::SELECT_TASK,
        crate::tasks::UPDATE_TASK_STATE,
        crate::tasks::COUNT_RUN_ATTEMPT,
        crate::tasks::NEXT_COMPLETED_SEQ,
        crate::attempts::SELECT_OPEN_ATTEMPTS,
        crate::attempts::SELECT_TASK_ATTEMPTS,
        crate::attempts::TASK_EXISTS,
        crate::attempts::NEXT_ATTEMPT_NUMBER,
        crate::attempts::INSERT_ATTEMPT,
        crate::attempts::SELECT_ATTEMPT_FOR_UPDATE,
        crate::attempts::FINISH_ATTEMPT,
        crate::events::SELECT_EVENTS,
        crate::locks::SELECT_LOCK,
    ];

    #[test]
    fn hot_statements_use_indexes() {
        let (_dir, mut store) = temp_store();
        create_run(&mut store, 100);
        for sql in HOT_STATEMENTS {
            let mut statement = store
                .connection
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .expect("hot statements are valid SQL");
            let nulls = std::iter::repeat_n(rusqlite::types::Null, statement.parameter_count());
            let plan: Vec<String> = statement
                .query_map(rusqlite::params_from_iter(nulls), |row| {
                    row.get::<_, String>(3)
                })
                .and_then(Iterator::collect)
                .expect("plans are readable");
            // The attempts of one task are few: sorting them is cheaper than
            // another index to maintain on every insert.
            let may_sort = *sql == crate::attempts::SELECT_TASK_ATTEMPTS;
            for step in &plan {
                assert!(!step.starts_with("SCAN"), "`{sql}` scans: {plan:?}");
                assert!(
                    may_sort || !step.contains("TEMP B-TREE"),
                    "`{sql}` sorts: {plan:?}"
                );
            }
        }
    }

    /// The engine benchmark's load: 10,000 tasks, four writes each, then the
    /// reads of a resume. Timing only, so not part of the normal run:
    /// `cargo test --release -p plangate-state -- --ignored --nocapture`.
    #[test]
    #[ignore = "timing measurement, run by hand"]
    #[expect(clippy::print_stderr, reason = "reports the measured times")]
    fn ten_thousand_tasks() {
        use std::time::Instant;

        use crate::{AttemptOutcome, AttemptResult, AttemptRole, TaskState};

        const TASKS: usize = 10_000;
        let (dir, mut store) = temp_store();
        let started = Instant::now();
        let run = create_run(&mut store, TASKS);
        eprintln!("create_run: {:?}", started.elapsed());
        let started = Instant::now();
        for index in 0..TASKS {
            let task = TaskId::new(format!("task-{index}")).expect("a valid task id");
            let at = i64::try_from(index).expect("small");
            store
                .set_task_state(&run, &task, TaskState::Running, None, at)
                .expect("recorded");
            let attempt = store
                .begin_attempt(&run, &task, AttemptRole::Run, "true", at)
                .expect("recorded");
            // Leave every tenth attempt open, as a crash would.
            if index % 10 != 0 {
                store
                    .finish_attempt(attempt, AttemptResult::new(AttemptOutcome::Succeeded, at))
                    .expect("recorded");
                store
                    .set_task_state(&run, &task, TaskState::Succeeded, None, at)
                    .expect("recorded");
            }
        }
        let writes = started.elapsed();
        eprintln!("~{} writes: {writes:?}", TASKS * 4);
        drop(store);
        let started = Instant::now();
        let store = Store::open(dir.path().join("state.db")).expect("reopens");
        eprintln!("open (with quick_check): {:?}", started.elapsed());
        let started = Instant::now();
        let tasks = store.tasks(&run).expect("readable");
        let open = store.open_attempts(&run).expect("readable");
        eprintln!("tasks() + open_attempts(): {:?}", started.elapsed());
        assert_eq!((tasks.len(), open.len()), (TASKS, TASKS / 10));
    }
}
