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
    store::{
        EventRow, MERGED_KEY, Store, insert_event, json_column, optional_id_column, touch_run,
    },
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
    ///
    /// A row written by a combined write ([`crate::Batch::start_task_attempt`],
    /// [`crate::Batch::finish_and_settle`]) holds several events; they come
    /// back one by one, in the order they happened, sharing the row's `seq`.
    pub fn events(&self, run: &RunId) -> Result<Vec<EventRecord>, StoreError> {
        let rows: Vec<EventRecord> = self
            .connection
            .prepare_cached(SELECT_EVENTS)
            .and_then(|mut statement| statement.query_map([run], event_from_row)?.collect())
            .map_err(sqlite("read the events of a run"))?;
        let mut events = Vec::with_capacity(rows.len());
        for row in rows {
            expand_row(row, &mut events)?;
        }
        Ok(events)
    }
}

impl Store {
    /// The run's latest event of `kind` that was written on its own (with
    /// [`Store::append_event`]), if any: events merged into a combined write
    /// are not searched.
    pub fn last_event(&self, run: &RunId, kind: &str) -> Result<Option<EventRecord>, StoreError> {
        self.connection
            .prepare_cached(
                "SELECT seq, run_id, at, kind, task_id, message, data FROM events \
                 WHERE run_id = ?1 AND kind = ?2 ORDER BY seq DESC LIMIT 1",
            )
            .and_then(|mut statement| {
                statement
                    .query_map(rusqlite::params![run, kind], event_from_row)?
                    .next()
                    .transpose()
            })
            .map_err(sqlite("read an event of a run"))
    }
}

/// Appends the events stored in `row` to `events`: the row itself, then any
/// merged into it under [`MERGED_KEY`].
fn expand_row(mut row: EventRecord, events: &mut Vec<EventRecord>) -> Result<(), StoreError> {
    let merged = match row.data.as_mut() {
        Some(Value::Object(map)) => map.remove(MERGED_KEY),
        _ => None,
    };
    let Some(merged) = merged else {
        events.push(row);
        return Ok(());
    };
    let Value::Array(merged) = merged else {
        return Err(malformed(row.seq));
    };
    let mut expanded = Vec::with_capacity(merged.len());
    for event in merged {
        let Value::Object(mut event) = event else {
            return Err(malformed(row.seq));
        };
        let at = event.get("at").and_then(Value::as_i64);
        let kind = event.get("kind").and_then(Value::as_str).map(str::to_owned);
        let message = event
            .get("message")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let (Some(at), Some(kind), Some(message)) = (at, kind, message) else {
            return Err(malformed(row.seq));
        };
        let data = event.remove("data").filter(|data| !data.is_null());
        expanded.push(EventRecord {
            seq: row.seq,
            run_id: row.run_id.clone(),
            at,
            kind,
            task_id: row.task_id.clone(),
            message,
            data,
        });
    }
    events.push(row);
    events.extend(expanded);
    Ok(())
}

/// The error for a merged event row that does not decode.
fn malformed(seq: i64) -> StoreError {
    StoreError::Sqlite {
        operation: "read the events of a run",
        source: rusqlite::Error::FromSqlConversionFailure(
            6,
            rusqlite::types::Type::Text,
            format!("event {seq}: `{MERGED_KEY}` is not a list of events").into(),
        ),
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
