//! Run locks: at most one process executes a run at a time.
//!
//! A lock names its holder by pid and host. A lock left by a process that
//! died (SIGKILL, power loss) is taken over, but only when the holder was on
//! this host and the caller's liveness check says the pid is gone: a lock of
//! another host is never stolen, since its pid means nothing here.

use rusqlite::{OptionalExtension, Row};
use serde::Serialize;
use serde_json::json;

use crate::{
    error::{StoreError, sqlite},
    ids::RunId,
    store::{EventRow, Store, insert_event, touch_run},
};

/// Event kind written by [`Store::acquire_lock`] when it takes over a stale lock.
pub const LOCK_TAKEN_OVER: &str = "lock-taken-over";

/// The process asking for, or holding, a lock.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct LockHolder {
    /// Its process id.
    pub pid: u32,
    /// Its host name (see [`crate::hostname`]).
    pub host: String,
}

impl LockHolder {
    /// This process on this host.
    pub fn current() -> Self {
        Self {
            pid: std::process::id(),
            host: crate::hostname(),
        }
    }
}

/// A lock, as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LockRecord {
    /// The locked run.
    pub run_id: RunId,
    /// The holder's process id.
    pub pid: u32,
    /// The holder's host name.
    pub host: String,
    /// When the holder took the lock, unix milliseconds.
    pub acquired_at: i64,
    /// When the holder last confirmed it (taking it again, or
    /// [`Store::heartbeat_lock`]).
    pub heartbeat_at: i64,
}

/// How [`Store::acquire_lock`] got the lock.
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use]
pub enum LockAcquired {
    /// Nobody held it.
    Taken,
    /// The same holder already held it; its heartbeat was renewed.
    Retaken,
    /// A dead process of this host held it; a `lock-taken-over` event records
    /// the previous holder.
    TookOver {
        /// The lock as it was.
        previous: LockRecord,
    },
}

/// The error of [`Store::acquire_lock`].
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another holder has the lock: a live process of this host, or any process
    /// of another host. Retry once it is gone.
    #[error(
        "run `{}` is locked by process {} on host `{}`",
        holder.run_id,
        holder.pid,
        holder.host
    )]
    Held {
        /// The lock as it is.
        holder: LockRecord,
    },

    /// The store failed (unknown run, SQLite error).
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub(crate) const SELECT_LOCK: &str =
    "SELECT run_id, pid, host, acquired_at, heartbeat_at FROM locks WHERE run_id = ?1";

impl Store {
    /// Takes the run's lock for `holder`, in one `BEGIN IMMEDIATE`
    /// transaction so two processes cannot both win.
    ///
    /// No lock: taken. A lock of the same pid and host: retaken (heartbeat
    /// renewed). A lock of another holder on `holder.host` for which
    /// `is_alive` returns false: taken over, with a `lock-taken-over` event.
    /// Otherwise [`LockError::Held`]; `is_alive` is never asked about a holder
    /// on another host. Pass [`crate::pid_is_alive`] (of the record's `pid`)
    /// as `is_alive` outside tests.
    pub fn acquire_lock(
        &mut self,
        run: &RunId,
        holder: &LockHolder,
        at: i64,
        is_alive: impl Fn(&LockRecord) -> bool,
    ) -> Result<LockAcquired, LockError> {
        let operation = "take the lock of a run";
        self.write(operation, |transaction| {
            touch_run(transaction, run, at, operation)?;
            let current = transaction
                .prepare_cached(SELECT_LOCK)
                .and_then(|mut statement| statement.query_row([run], lock_from_row).optional())
                .map_err(sqlite(operation))?;
            let acquired = match current {
                None => LockAcquired::Taken,
                Some(current) if current.pid == holder.pid && current.host == holder.host => {
                    transaction
                        .prepare_cached(
                            "UPDATE locks SET heartbeat_at = max(heartbeat_at, ?2) \
                             WHERE run_id = ?1",
                        )
                        .and_then(|mut statement| statement.execute((run, at)))
                        .map_err(sqlite(operation))?;
                    return Ok(LockAcquired::Retaken);
                }
                Some(current) if current.host == holder.host && !is_alive(&current) => {
                    LockAcquired::TookOver { previous: current }
                }
                Some(current) => return Err(LockError::Held { holder: current }),
            };
            transaction
                .prepare_cached(
                    "INSERT INTO locks (run_id, pid, host, acquired_at, heartbeat_at) \
                     VALUES (?1, ?2, ?3, ?4, ?4) \
                     ON CONFLICT (run_id) DO UPDATE SET pid = excluded.pid, \
                     host = excluded.host, acquired_at = excluded.acquired_at, \
                     heartbeat_at = excluded.heartbeat_at",
                )
                .and_then(|mut statement| statement.execute((run, holder.pid, &holder.host, at)))
                .map_err(sqlite(operation))?;
            if let LockAcquired::TookOver { previous } = &acquired {
                let message = format!(
                    "took over the lock of process {} on host `{}`, which is no longer running",
                    previous.pid, previous.host
                );
                let data = json!({
                    "previous": previous,
                    "holder": holder,
                });
                insert_event(
                    transaction,
                    run,
                    &EventRow {
                        at,
                        kind: LOCK_TAKEN_OVER,
                        task_id: None,
                        message: &message,
                        data: Some(&data),
                    },
                    operation,
                )?;
            }
            Ok(acquired)
        })
    }

    /// Renews the heartbeat of the lock `holder` holds; returns whether it
    /// still holds it.
    pub fn heartbeat_lock(
        &mut self,
        run: &RunId,
        holder: &LockHolder,
        at: i64,
    ) -> Result<bool, StoreError> {
        let operation = "renew the lock of a run";
        self.write(operation, |transaction| {
            transaction
                .prepare_cached(
                    "UPDATE locks SET heartbeat_at = max(heartbeat_at, ?4) \
                     WHERE run_id = ?1 AND pid = ?2 AND host = ?3",
                )
                .and_then(|mut statement| statement.execute((run, holder.pid, &holder.host, at)))
                .map(|changed| changed > 0)
                .map_err(sqlite(operation))
        })
    }

    /// Releases the lock if `holder` holds it; returns whether it did.
    pub fn release_lock(&mut self, run: &RunId, holder: &LockHolder) -> Result<bool, StoreError> {
        let operation = "release the lock of a run";
        self.write(operation, |transaction| {
            transaction
                .prepare_cached("DELETE FROM locks WHERE run_id = ?1 AND pid = ?2 AND host = ?3")
                .and_then(|mut statement| statement.execute((run, holder.pid, &holder.host)))
                .map(|changed| changed > 0)
                .map_err(sqlite(operation))
        })
    }

    /// The run's lock, if someone holds it.
    pub fn lock(&self, run: &RunId) -> Result<Option<LockRecord>, StoreError> {
        self.connection
            .prepare_cached(SELECT_LOCK)
            .and_then(|mut statement| statement.query_row([run], lock_from_row).optional())
            .map_err(sqlite("read the lock of a run"))
    }
}

/// Decodes a row selected with [`SELECT_LOCK`].
fn lock_from_row(row: &Row<'_>) -> rusqlite::Result<LockRecord> {
    Ok(LockRecord {
        run_id: row.get(0)?,
        pid: row.get(1)?,
        host: row.get(2)?,
        acquired_at: row.get(3)?,
        heartbeat_at: row.get(4)?,
    })
}

// Unix only: the tests spawn `true` to get the pid of a dead process.
#[cfg(all(test, unix))]
mod tests {
    use std::cell::Cell;

    use super::*;
    use crate::{
        pid_is_alive,
        test_support::{create_run, temp_store},
    };

    fn holder(pid: u32, host: &str) -> LockHolder {
        LockHolder {
            pid,
            host: host.to_owned(),
        }
    }

    /// The pid of a process that has exited and been reaped.
    fn dead_pid() -> u32 {
        let mut child = std::process::Command::new("true")
            .spawn()
            .expect("`true` runs");
        let pid = child.id();
        child.wait().expect("the child is reaped");
        pid
    }

    #[test]
    fn free_lock_is_taken_and_retaken_by_its_holder() {
        let (_dir, mut store) = temp_store();
        let run = create_run(&mut store, 1);
        let me = LockHolder::current();
        let never_asked = |_: &LockRecord| -> bool { panic!("no liveness check needed") };
        assert_eq!(
            store
                .acquire_lock(&run, &me, 10, never_asked)
                .expect("free"),
            LockAcquired::Taken
        );
        assert_eq!(
            store
                .acquire_lock(&run, &me, 20, never_asked)
                .expect("mine"),
            LockAcquired::Retaken
        );
        let lock = store.lock(&run).expect("readable").expect("held");
        assert_eq!(
            (lock.pid, lock.acquired_at, lock.heartbeat_at),
            (me.pid, 10, 20)
        );
        assert!(store.heartbeat_lock(&run, &me, 30).expect("renewed"));
        assert!(
            !store
                .release_lock(&run, &holder(me.pid, "elsewhere"))
                .expect("runs")
        );
        assert!(store.release_lock(&run, &me).expect("released"));
        assert_eq!(store.lock(&run).expect("readable"), None);
        assert!(!store.heartbeat_lock(&run, &me, 40).expect("runs"));
    }

    #[test]
    fn lock_of_a_live_process_is_refused() {
        let (_dir, mut store) = temp_store();
        let run = create_run(&mut store, 1);
        let host = crate::hostname();
        // This test process is alive; another pid asks for its lock.
        let live = holder(std::process::id(), &host);
        let _ = store.acquire_lock(&run, &live, 10, |_| true).expect("free");
        let error = store
            .acquire_lock(&run, &holder(dead_pid(), &host), 20, |lock| {
                pid_is_alive(lock.pid)
            })
            .expect_err("held by a live process");
        match &error {
            LockError::Held { holder } => assert_eq!(holder.pid, live.pid),
            LockError::Store(error) => panic!("unexpected store error {error:?}"),
        }
        assert_eq!(
            error.to_string(),
            format!(
                "run `{run}` is locked by process {} on host `{host}`",
                live.pid
            )
        );
    }

    #[test]
    fn stale_lock_of_this_host_is_taken_over() {
        let (_dir, mut store) = temp_store();
        let run = create_run(&mut store, 1);
        let host = crate::hostname();
        let dead = holder(dead_pid(), &host);
        assert!(!pid_is_alive(dead.pid));
        let _ = store.acquire_lock(&run, &dead, 10, |_| true).expect("free");
        let me = LockHolder::current();
        let acquired = store
            .acquire_lock(&run, &me, 20, |lock| pid_is_alive(lock.pid))
            .expect("the holder is dead");
        match acquired {
            LockAcquired::TookOver { previous } => assert_eq!(previous.pid, dead.pid),
            other => panic!("expected a take-over, got {other:?}"),
        }
        let lock = store.lock(&run).expect("readable").expect("held");
        assert_eq!((lock.pid, lock.acquired_at), (me.pid, 20));
        let event = store
            .events(&run)
            .expect("readable")
            .pop()
            .expect("an event");
        assert_eq!(event.kind, LOCK_TAKEN_OVER);
    }

    #[test]
    fn lock_of_another_host_is_never_taken_over() {
        let (_dir, mut store) = temp_store();
        let run = create_run(&mut store, 1);
        let remote = holder(dead_pid(), "build-agent-7.invalid");
        let _ = store
            .acquire_lock(&run, &remote, 10, |_| true)
            .expect("free");
        let asked = Cell::new(false);
        let error = store
            .acquire_lock(&run, &LockHolder::current(), 20, |_| {
                asked.set(true);
                false
            })
            .expect_err("another host's lock");
        assert!(matches!(error, LockError::Held { .. }));
        assert!(!asked.get(), "another host's pid means nothing here");
    }

    #[test]
    fn locks_need_a_known_run() {
        let (_dir, mut store) = temp_store();
        let error = store
            .acquire_lock(&RunId::generate(1), &LockHolder::current(), 1, |_| true)
            .expect_err("no such run");
        assert!(matches!(
            error,
            LockError::Store(StoreError::UnknownRun { .. })
        ));
    }

    #[test]
    fn liveness_of_pids() {
        assert!(pid_is_alive(std::process::id()));
        assert!(!pid_is_alive(dead_pid()));
        assert!(!pid_is_alive(0));
        assert!(!pid_is_alive(u32::MAX));
        assert!(!crate::hostname().is_empty());
    }
}
