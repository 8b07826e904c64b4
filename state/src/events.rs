//! The events journal: an append-only, ordered record of everything that
//! happened in a run, for reports and `status`.
//!
//! Store operations write their own events (their kinds are the `*` consts of
//! this crate and [`crate::RunStatus::event_kind`] /
//! [`crate::TaskState::event_kind`]); the engine adds its own with
//! [`Store::append_event`].

use plangate_plans::TaskId;
use rusqlite::Row;
use serde::Serialize;
use serde_json::Value;

use crate::{
    error::{StoreError, sqlite},
    ids::RunId,
    store::{EventRow, Store, insert_event, json_column, optional_id_column, touch_run},
};

pub(crate) const SELECT_EVENTS: &str = "SELECT seq, run_id, at, kind, task_id, message, data \
    FROM events WHERE run_id = ?1 ORDER BY seq";

/// An event to append with [`Store::append_event`].
#[derive(Clone, Debug)]
pub struct NewEvent<'a> {
    /// When it happened, unix milliseconds.
    pub at: i64,
    /// What happened, kebab-case, e.g. `budget-exceeded`.
    pub kind: &'a str,
    /// The task it is about, if any.
    pub task_id: Option<&'a TaskId>,
    /// A human-readable sentence.
    pub message: &'a str,
    /// Structured details.
    pub data: Option<Value>,
}

/// One event, as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EventRecord {
    /// Position in the journal; increases with every event of the store.
    pub seq: i64,
    /// The run.
    pub run_id: RunId,
    /// When it happened, unix milliseconds.
    pub at: i64,
    /// What happened.
    pub kind: String,
    /// The task it is about, if any.
    pub task_id: Option<TaskId>,
    /// A human-readable sentence.
    pub message: String,
    /// Structured details.
    pub data: Option<Value>,
}

impl Store {
    /// Appends an event to the run's journal; returns its `seq`.
    pub fn append_event(&mut self, run: &RunId, event: NewEvent<'_>) -> Result<i64, StoreError> {
        let operation = "append an event";
        let NewEvent {
            at,
            kind,
            task_id,
            message,
            data,
        } = event;
        self.write(operation, |transaction| {
            touch_run(transaction, run, at, operation)?;
            insert_event(
                transaction,
                run,
                &EventRow {
                    at,
                    kind,
                    task_id,
                    message,
                    data: data.as_ref(),
                },
                operation,
            )
        })
    }

    /// The run's events, in the order they were written.
    pub fn events(&self, run: &RunId) -> Result<Vec<EventRecord>, StoreError> {
        self.connection
            .prepare_cached(SELECT_EVENTS)
            .and_then(|mut statement| statement.query_map([run], event_from_row)?.collect())
            .map_err(sqlite("read the events of a run"))
    }
}

/// Decodes a row selected with [`SELECT_EVENTS`].
fn event_from_row(row: &Row<'_>) -> rusqlite::Result<EventRecord> {
    Ok(EventRecord {
        seq: row.get(0)?,
        run_id: row.get(1)?,
        at: row.get(2)?,
        kind: row.get(3)?,
        task_id: optional_id_column(row, 4, TaskId::new)?,
        message: row.get(5)?,
        data: json_column(row, 6)?,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{
        TaskState,
        test_support::{create_run, task_id, temp_store},
    };

    #[test]
    fn events_come_back_in_write_order() {
        let (_dir, mut store) = temp_store();
        let run = create_run(&mut store, 1);
        let other = create_run(&mut store, 1);
        let seq = store
            .append_event(
                &run,
                NewEvent {
                    at: 5_000,
                    kind: "budget-exceeded",
                    task_id: None,
                    message: "phase `phase-0` used its budget",
                    data: Some(json!({ "budget_s": 60 })),
                },
            )
            .expect("appended");
        store
            .set_task_state(
                &run,
                &task_id("task-0"),
                TaskState::Deferred,
                Some("budget"),
                4_000,
            )
            .expect("recorded");
        store
            .append_event(
                &other,
                NewEvent {
                    at: 6_000,
                    kind: "note",
                    task_id: Some(&task_id("task-0")),
                    message: "elsewhere",
                    data: None,
                },
            )
            .expect("appended");
        let events = store.events(&run).expect("readable");
        let kinds: Vec<&str> = events.iter().map(|event| event.kind.as_str()).collect();
        assert_eq!(kinds, ["run-started", "budget-exceeded", "task-deferred"]);
        assert!(events.windows(2).all(|pair| pair[0].seq < pair[1].seq));
        assert_eq!(events[1].seq, seq);
        assert_eq!(events[1].data, Some(json!({ "budget_s": 60 })));
        assert_eq!(
            events[2].data,
            Some(json!({ "state": "deferred", "reason": "budget", "completed_seq": null }))
        );
        // Events keep the time they were given, even out of order.
        assert_eq!((events[1].at, events[2].at), (5_000, 4_000));
        let other_events = store.events(&other).expect("readable");
        assert_eq!(
            other_events[1].task_id.as_ref().map(TaskId::as_str),
            Some("task-0")
        );
    }

    #[test]
    fn events_need_a_known_run() {
        let (_dir, mut store) = temp_store();
        let run = create_run(&mut store, 1);
        let event = |task_id| NewEvent {
            at: 1,
            kind: "note",
            task_id,
            message: "",
            data: None,
        };
        assert!(matches!(
            store.append_event(&RunId::generate(1), event(None)),
            Err(StoreError::UnknownRun { .. })
        ));
        assert_eq!(store.events(&run).expect("readable").len(), 1);
    }
}
