//! WAL checkpoints off the commit path.
//!
//! SQLite's automatic checkpoint runs inside the commit that takes the WAL
//! past 1,000 pages, so that one write of the engine pays for copying the
//! whole WAL into the database file (and its fsyncs). The store's connection
//! runs with `wal_autocheckpoint=0` instead, and [`Checkpointer`] runs
//! `PRAGMA wal_checkpoint(PASSIVE)` from a second connection on its own
//! thread, every [`COMMITS_PER_CHECKPOINT`] commits. A passive checkpoint
//! takes no lock a writer waits for: commits go on while it copies.
//!
//! Durability does not change: a commit is in the WAL when it returns
//! (fsynced with `synchronous=FULL`), and a checkpoint only copies committed
//! frames, fsyncing the WAL first. Once a checkpoint has copied the whole WAL,
//! the next write starts the WAL over from its beginning, so the file stays
//! bounded. Should the thread fall behind for [`COMMITS_BEFORE_INLINE`]
//! commits, the committing connection runs one passive checkpoint itself.
//!
//! On a clean close the thread runs a last passive checkpoint and closes its
//! connection before the store's: SQLite then checkpoints the rest and
//! deletes the WAL when the store's connection, the last one, closes.

use std::{
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicU32, Ordering},
        mpsc::{Receiver, SyncSender, TrySendError, sync_channel},
    },
    thread::JoinHandle,
};

use rusqlite::{Connection, OpenFlags};

/// Commits between two background checkpoints. The engine's commits write
/// about 8 WAL pages each, so this is about SQLite's default of 1,000 pages.
pub(crate) const COMMITS_PER_CHECKPOINT: u32 = 128;

/// Commits after which, if no checkpoint has copied the whole WAL meanwhile,
/// the committing connection checkpoints itself.
pub(crate) const COMMITS_BEFORE_INLINE: u32 = 16 * COMMITS_PER_CHECKPOINT;

/// How many passes one wake-up makes at most: each pass copies what was
/// committed before it started, and the WAL starts over only after a pass
/// that found nothing newer.
const PASSES: usize = 4;

/// The background checkpoints of one store; started on the first wake-up, so
/// that a store that writes little never starts a thread.
#[derive(Debug)]
pub(crate) struct Checkpointer {
    path: PathBuf,
    /// Commits since the last wake-up.
    commits: u32,
    /// Commits since a checkpoint last copied the whole WAL; the thread
    /// resets it.
    behind: Arc<AtomicU32>,
    /// The thread and its wake-up channel, once started; `None` also when it
    /// could not be started (checkpoints then run inline).
    thread: Option<(SyncSender<()>, JoinHandle<()>)>,
    /// Whether starting the thread failed, so that it is not retried.
    failed: bool,
}

impl Checkpointer {
    /// The checkpointer of the store at `path`; starts nothing yet.
    pub(crate) fn new(path: &Path) -> Self {
        Self {
            path: path.to_owned(),
            commits: 0,
            behind: Arc::new(AtomicU32::new(0)),
            thread: None,
            failed: false,
        }
    }

    /// Called after each commit of `connection`, the store's own.
    pub(crate) fn committed(&mut self, connection: &Connection) {
        self.commits += 1;
        let behind = self.behind.fetch_add(1, Ordering::Relaxed) + 1;
        if behind >= COMMITS_BEFORE_INLINE || (self.failed && behind >= COMMITS_PER_CHECKPOINT) {
            // A failed checkpoint is retried on the next commit; the
            // commits themselves are safe in the WAL.
            if checkpoint(connection).is_ok_and(|copied_all| copied_all) {
                self.behind.store(0, Ordering::Relaxed);
            }
            return;
        }
        if self.commits < COMMITS_PER_CHECKPOINT {
            return;
        }
        self.commits = 0;
        if self.thread.is_none() && !self.failed {
            match self.start() {
                Ok(thread) => self.thread = Some(thread),
                Err(_) => self.failed = true,
            }
        }
        if let Some((wake, _)) = &self.thread {
            match wake.try_send(()) {
                // A full channel means a wake-up is already pending.
                Ok(()) | Err(TrySendError::Full(())) => {}
                Err(TrySendError::Disconnected(())) => {
                    self.thread = None;
                    self.failed = true;
                }
            }
        }
    }

    /// Opens the second connection and starts the thread.
    fn start(&self) -> std::io::Result<(SyncSender<()>, JoinHandle<()>)> {
        let connection = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(std::io::Error::other)?;
        let (wake, woken) = sync_channel(1);
        let behind = Arc::clone(&self.behind);
        let thread = std::thread::Builder::new()
            .name(String::from("plangate-checkpoint"))
            .spawn(move || run(&connection, &woken, &behind))?;
        Ok((wake, thread))
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        if let Some((wake, thread)) = self.thread.take() {
            drop(wake);
            // A panic on the thread cannot have lost a commit; there is
            // nothing to report it to from a drop.
            let _ = thread.join();
        }
    }
}

/// The thread: a checkpoint per wake-up, a last one when the store closes.
fn run(connection: &Connection, woken: &Receiver<()>, behind: &AtomicU32) {
    loop {
        let closing = woken.recv().is_err();
        for _ in 0..PASSES {
            match checkpoint(connection) {
                Ok(true) => {
                    behind.store(0, Ordering::Relaxed);
                    break;
                }
                Ok(false) => {}
                // Busy (another checkpoint is running) or failed: the next
                // wake-up tries again.
                Err(_) => break,
            }
        }
        if closing {
            return;
        }
    }
}

/// One `PRAGMA wal_checkpoint(PASSIVE)`; whether it copied the whole WAL.
pub(crate) fn checkpoint(connection: &Connection) -> rusqlite::Result<bool> {
    let (busy, frames, copied) =
        connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, i64>(2)?,
            ))
        })?;
    Ok(busy == 0 && copied >= frames)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use plangate_plans::TaskId;

    use super::*;
    use crate::{
        Store, TaskState,
        test_support::{create_run, temp_store},
    };

    /// `count` commits, each a task state change.
    fn commit(store: &mut Store, run: &crate::RunId, count: u32) {
        let task = TaskId::new("task-0").expect("a valid task id");
        for at in 0..count {
            store
                .set_task_state(run, &task, TaskState::Running, None, i64::from(at))
                .expect("recorded");
        }
    }

    fn wal_length(path: &Path) -> u64 {
        std::fs::metadata(crate::open::companion(path, "-wal")).map_or(0, |metadata| metadata.len())
    }

    #[test]
    fn the_store_connection_never_checkpoints_itself() {
        let (_dir, store) = temp_store();
        let pages: i64 = store
            .connection
            .query_row("PRAGMA wal_autocheckpoint", [], |row| row.get(0))
            .expect("the pragma is readable");
        assert_eq!(pages, 0);
    }

    #[test]
    fn few_commits_start_no_thread() {
        let (_dir, mut store) = temp_store();
        let run = create_run(&mut store, 1);
        commit(&mut store, &run, COMMITS_PER_CHECKPOINT - 2);
        assert!(store.checkpointer.thread.is_none());
    }

    #[test]
    fn the_thread_checkpoints_so_that_the_wal_starts_over() {
        let (dir, mut store) = temp_store();
        let path = dir.path().join("state.db");
        let run = create_run(&mut store, 1);
        commit(&mut store, &run, 2 * COMMITS_PER_CHECKPOINT);
        assert!(store.checkpointer.thread.is_some());
        // Nothing is written now, so a checkpoint copies the whole WAL.
        let deadline = Instant::now() + Duration::from_secs(30);
        while store.checkpointer.behind.load(Ordering::Relaxed) != 0 {
            assert!(Instant::now() < deadline, "no checkpoint copied the WAL");
            std::thread::sleep(Duration::from_millis(5));
        }
        let length = wal_length(&path);
        assert!(length > 0);
        // The next writes start the WAL over instead of growing it.
        commit(&mut store, &run, COMMITS_PER_CHECKPOINT / 2);
        assert_eq!(wal_length(&path), length);
        drop(store);
        assert_eq!(wal_length(&path), 0, "a clean close removes the WAL");
        let store = Store::open(&path).expect("the store reopens");
        assert!(store.integrity_check().expect("the check runs"));
    }
}
