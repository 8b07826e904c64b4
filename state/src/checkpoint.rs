//! WAL checkpoints off the commit path, with a WAL that stays bounded.
//!
//! SQLite's automatic checkpoint runs inside the commit that takes the WAL
//! past 1,000 pages: that one write of the engine pays for syncing the WAL,
//! copying it into the database file and syncing that file. Here the store's
//! connection runs no automatic checkpoint (its WAL hook is [`record_frames`],
//! which replaces SQLite's). After each commit, [`Checkpointer::committed`]
//! looks at the WAL's length in pages and:
//!
//! 1. from [`WAKE_PAGES`] on, asks a second connection on a thread of its own
//!    for a `PASSIVE` checkpoint, which takes no lock the writer waits for:
//!    it copies everything committed before it started, with both syncs,
//!    while commits go on. The thread has one request at a time; when its
//!    answer leaves more than [`FINISH_PAGES`] to copy (the writer outran
//!    it), it is asked again, for what came in meanwhile;
//! 2. once such a checkpoint has left at most [`FINISH_PAGES`] pages to copy,
//!    runs a `PASSIVE` checkpoint itself, between two of its transactions, so
//!    that it copies the rest (a few pages). Only a checkpoint that copies the
//!    whole WAL lets the next write start the WAL over from its beginning, and
//!    while commits keep coming only the writer can run one that does: a
//!    checkpoint from the other connection always finds newer frames behind
//!    it (the reason a version with only step 1 let a 2,000-task run grow the
//!    WAL to 75 MB);
//! 3. past [`CEILING_PAGES`], or when the thread cannot be started or has
//!    ended, runs the whole checkpoint itself, as SQLite would have: that
//!    bounds the WAL whatever the thread does. At the ceiling it first waits
//!    for a checkpoint of the thread's that is still running (which holds
//!    the checkpoint lock), up to the busy timeout.
//!
//! A reader that keeps a snapshot open (another process reading the file)
//! stops every checkpoint at its snapshot, as it does SQLite's own; the WAL
//! then grows until it lets go, and `journal_size_limit` (set to the
//! ceiling's size) gives the space back at the next start-over.
//!
//! Durability does not change: a commit is in the WAL when it returns, and a
//! checkpoint only copies committed frames into the database file, syncing the
//! WAL before and the database file after, so a process killed during one
//! leaves a WAL that SQLite replays in full on the next open. On a clean close
//! the thread's connection closes first; the store's, the last one, then
//! checkpoints what is left and deletes the WAL.

use std::{
    cell::Cell,
    os::raw::c_int,
    path::{Path, PathBuf},
    sync::{
        Arc, Condvar, Mutex, PoisonError,
        mpsc::{Receiver, SyncSender, TrySendError, sync_channel},
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use rusqlite::{Connection, OpenFlags, hooks::Wal};

/// The WAL length, in pages, from which the thread is asked to checkpoint:
/// SQLite's own threshold for its automatic checkpoint.
pub(crate) const WAKE_PAGES: u32 = 1_000;

/// The pages a checkpoint of the thread may leave for the writer to copy. The
/// engine's commits write about 8 pages each and a checkpoint of 1,000 pages
/// takes a few milliseconds, during which a busy run commits a few dozen
/// times; the writer's own checkpoint of what is left then copies few distinct
/// pages.
pub(crate) const FINISH_PAGES: u32 = 512;

/// The WAL length, in pages, past which the writer checkpoints whatever the
/// thread is doing: with 4 KiB pages, about 16 MiB.
pub(crate) const CEILING_PAGES: u32 = 4 * WAKE_PAGES;

/// The longest the writer waits at the ceiling for a checkpoint of the
/// thread's to end: the store's busy timeout.
const CEILING_WAIT: Duration = crate::open::BUSY_TIMEOUT;

thread_local! {
    /// The WAL's length in pages after the last commit on this thread, as
    /// SQLite's WAL hook reports it; taken by [`Checkpointer::committed`].
    static COMMITTED_FRAMES: Cell<Option<u32>> = const { Cell::new(None) };
}

/// The WAL hook of the store's connection: remembers the WAL's length, on the
/// committing thread, for the [`Checkpointer`] to read right after the commit.
/// Registering it replaces SQLite's automatic checkpoint.
#[expect(
    clippy::unnecessary_wraps,
    reason = "the signature rusqlite requires of a WAL hook"
)]
fn record_frames(_wal: &Wal, pages: c_int) -> rusqlite::Result<()> {
    COMMITTED_FRAMES.with(|frames| frames.set(u32::try_from(pages).ok()));
    Ok(())
}

/// Turns off SQLite's automatic checkpoint on `connection`, the store's, and
/// has its commits report the WAL's length instead.
pub(crate) fn install(connection: &Connection) {
    connection.wal_hook(Some(record_frames));
}

/// Forgets a length reported earlier on this thread, so that a commit that
/// wrote nothing (and so ran no hook) is not taken for one that did.
pub(crate) fn before_commit() {
    COMMITTED_FRAMES.with(|frames| frames.set(None));
}

/// The length of a WAL file of `frames` frames of `page_size` bytes: its
/// 32-byte header, then each frame's 24-byte header and page.
pub(crate) fn wal_bytes(frames: u32, page_size: i64) -> i64 {
    32 + i64::from(frames) * (24 + page_size)
}

/// What one `PRAGMA wal_checkpoint(PASSIVE)` found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Checkpointed {
    /// The WAL's length in pages (frames).
    pub(crate) frames: u32,
    /// How many of them are now in the database file.
    pub(crate) copied: u32,
}

#[cfg(test)]
impl Checkpointed {
    /// Whether the whole WAL is in the database file, so that the next write
    /// starts it over.
    fn complete(self) -> bool {
        self.copied >= self.frames
    }
}

/// Runs one `PASSIVE` checkpoint on `connection`, which must not be in a
/// transaction; `SQLITE_BUSY` (another checkpoint is running) is an error.
pub(crate) fn passive(connection: &Connection) -> rusqlite::Result<Checkpointed> {
    let (busy, frames, copied) =
        connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, i64>(2)?,
            ))
        })?;
    if busy != 0 {
        return Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            Some(String::from("another checkpoint is running")),
        ));
    }
    // -1 means the file is not in WAL mode: nothing to copy.
    let count = |value: i64| u32::try_from(value.max(0)).unwrap_or(u32::MAX);
    Ok(Checkpointed {
        frames: count(frames),
        copied: count(copied),
    })
}

/// The thread's answer to its last request, shared with the writer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Report {
    /// The request it answers (see [`Checkpointer::ask`]); 0 before any.
    request: u32,
    /// How many pages of the WAL were in the database file after it.
    copied: u32,
}

/// Where the thread publishes its [`Report`]s, and where the writer waits
/// for one at the ceiling.
#[derive(Debug)]
struct Progress {
    last: Mutex<Report>,
    answered: Condvar,
}

impl Default for Progress {
    fn default() -> Self {
        Self {
            last: Mutex::new(Report {
                request: 0,
                copied: 0,
            }),
            answered: Condvar::new(),
        }
    }
}

impl Progress {
    fn publish(&self, report: Report) {
        *self.last.lock().unwrap_or_else(PoisonError::into_inner) = report;
        self.answered.notify_all();
    }

    fn last(&self) -> Report {
        *self.last.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits up to `slice` for the answer to `request`; whether it came.
    fn wait_for(&self, request: u32, slice: Duration) -> bool {
        let last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        let (last, _) = self
            .answered
            .wait_timeout_while(last, slice, |last| last.request < request)
            .unwrap_or_else(PoisonError::into_inner);
        last.request >= request
    }
}

/// The checkpoint thread, once asked for.
#[derive(Debug)]
enum Helper {
    /// Not needed yet: a store that writes less than [`WAKE_PAGES`] pages
    /// between two start-overs never starts it.
    NotStarted,
    /// Running: its wake-up channel (carrying the request) and its handle.
    Running {
        wake: SyncSender<u32>,
        thread: JoinHandle<()>,
    },
    /// It could not be started or has stopped: the writer checkpoints from
    /// [`WAKE_PAGES`] on, as SQLite would.
    Unavailable,
    /// In unit tests: requests are answered by the test itself.
    #[cfg(test)]
    Manual,
}

/// The checkpoint policy of one store's connection (see the module docs).
#[derive(Debug)]
pub(crate) struct Checkpointer {
    path: PathBuf,
    /// `PRAGMA synchronous` of the store, for the thread's connection: a
    /// checkpoint syncs as its connection is configured to.
    synchronous: &'static str,
    /// The WAL's length in pages after the last commit seen.
    frames: u32,
    /// How many times the WAL was seen to start over.
    cycle: u32,
    /// The number the next request to the thread gets (from 1).
    next_request: u32,
    /// The first request made in this cycle: an answer to an earlier one is
    /// about an earlier WAL, and says nothing of this one.
    first_request: u32,
    /// The last request made, answered or not. The thread gets one request
    /// at a time: were it asked again before it answers, its checkpoints
    /// would follow one another and hold the checkpoint lock when the
    /// writer needs it.
    pending: Option<u32>,
    progress: Arc<Progress>,
    helper: Helper,
    /// Checkpoints the writer ran itself, for the tests.
    #[cfg(test)]
    pub(crate) inline_checkpoints: u32,
}

impl Checkpointer {
    /// The policy for the store at `path`; starts nothing yet.
    pub(crate) fn new(path: &Path, synchronous: &'static str) -> Self {
        Self {
            path: path.to_owned(),
            synchronous,
            frames: 0,
            cycle: 0,
            next_request: 1,
            first_request: 1,
            pending: None,
            progress: Arc::new(Progress::default()),
            helper: Helper::NotStarted,
            #[cfg(test)]
            inline_checkpoints: 0,
        }
    }

    /// Called right after each commit of `connection`, the store's own, on the
    /// thread that committed.
    pub(crate) fn committed(&mut self, connection: &Connection) {
        let Some(frames) = COMMITTED_FRAMES.with(Cell::take) else {
            return;
        };
        if frames < self.frames {
            self.cycle = self.cycle.wrapping_add(1);
            self.first_request = self.next_request;
        }
        self.frames = frames;
        if frames < WAKE_PAGES {
            return;
        }
        let last = self.progress.last();
        let nearly_done = last.request >= self.first_request
            && frames.saturating_sub(last.copied) <= FINISH_PAGES;
        let answered = self.pending.is_none_or(|pending| last.request >= pending);
        let inline = if frames >= CEILING_PAGES || nearly_done {
            true
        } else if answered {
            !self.ask()
        } else {
            // A thread that ended without answering (a panic) answers
            // nothing more: from now on the writer checkpoints.
            if self.helper_ended() {
                self.helper = Helper::Unavailable;
            }
            matches!(self.helper, Helper::Unavailable)
        };
        if inline {
            if frames >= CEILING_PAGES && !answered {
                self.wait_for_the_thread();
            }
            #[cfg(test)]
            {
                self.inline_checkpoints += 1;
            }
            // A checkpoint that fails or finds another running is tried
            // again after the next commit; the commits are safe in the WAL.
            let _ = passive(connection);
        }
    }

    /// At the ceiling, with a request of the thread's still running: waits
    /// for its checkpoint to end (at most [`CEILING_WAIT`]), so that the
    /// writer's own is not refused for the checkpoint lock and the WAL stays
    /// bounded. The writer pays what SQLite's automatic checkpoint costs;
    /// it happens only when the thread falls far behind.
    fn wait_for_the_thread(&mut self) {
        let Some(pending) = self.pending else {
            return;
        };
        let deadline = Instant::now() + CEILING_WAIT;
        while matches!(self.helper, Helper::Running { .. }) {
            // Short slices: a thread that dies never answers.
            if self.progress.wait_for(pending, Duration::from_millis(10)) {
                return;
            }
            if self.helper_ended() {
                self.helper = Helper::Unavailable;
            } else if Instant::now() >= deadline {
                return;
            }
        }
    }

    /// Whether the thread was started and has ended.
    fn helper_ended(&self) -> bool {
        match &self.helper {
            Helper::Running { thread, .. } => thread.is_finished(),
            _ => false,
        }
    }

    /// Sends the thread a new request, starting the thread if needed; false
    /// when it is unavailable.
    fn ask(&mut self) -> bool {
        if matches!(self.helper, Helper::NotStarted) {
            self.helper = match self.start() {
                Ok((wake, thread)) => Helper::Running { wake, thread },
                Err(_) => Helper::Unavailable,
            };
        }
        let request = self.next_request;
        let sent = match &self.helper {
            // The thread has answered every earlier request, so the channel
            // (of one) is empty: it is never full here.
            Helper::Running { wake, .. } => match wake.try_send(request) {
                Ok(()) | Err(TrySendError::Full(_)) => true,
                Err(TrySendError::Disconnected(_)) => {
                    self.helper = Helper::Unavailable;
                    false
                }
            },
            #[cfg(test)]
            Helper::Manual => true,
            Helper::NotStarted | Helper::Unavailable => false,
        };
        if sent {
            self.pending = Some(request);
            self.next_request = request.wrapping_add(1);
        }
        sent
    }

    /// Opens the thread's connection and starts the thread.
    fn start(&self) -> std::io::Result<(SyncSender<u32>, JoinHandle<()>)> {
        let connection =
            helper_connection(&self.path, self.synchronous).map_err(std::io::Error::other)?;
        let (wake, woken) = sync_channel(1);
        let progress = Arc::clone(&self.progress);
        let thread = std::thread::Builder::new()
            .name(String::from("plangate-checkpoint"))
            .spawn(move || serve(&connection, &woken, &progress))?;
        Ok((wake, thread))
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        if let Helper::Running { wake, thread } =
            std::mem::replace(&mut self.helper, Helper::Unavailable)
        {
            drop(wake);
            // The thread only copies committed pages: a panic there cannot
            // have lost a commit, and a drop has no one to report it to.
            let _ = thread.join();
        }
    }
}

/// The thread's connection to the store's file, which exists: never created
/// here, and synced as the store's (`--state-sync full` stays full).
fn helper_connection(path: &Path, synchronous: &'static str) -> rusqlite::Result<Connection> {
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    connection.pragma_update(None, "synchronous", synchronous)?;
    Ok(connection)
}

/// The thread: one checkpoint per wake-up, until the store closes.
fn serve(connection: &Connection, woken: &Receiver<u32>, progress: &Progress) {
    while let Ok(request) = woken.recv() {
        let copied = passive(connection).map_or(0, |checkpointed| checkpointed.copied);
        progress.publish(Report { request, copied });
    }
}

#[cfg(test)]
mod tests {
    use std::{
        io::{BufRead, Write},
        path::Path,
    };

    use super::*;
    use crate::{
        NewEvent, RunId, Store,
        open::companion,
        test_support::{self, create_run, temp_store},
    };

    /// The commits of [`checkpoint_crash_child`].
    const CHILD_COMMITS: i64 = 400;

    /// An event of about 3 KB: with the index and the run's row, a commit of
    /// a few pages.
    fn commit(store: &mut Store, run: &RunId, at: i64) {
        let message = "x".repeat(3_000);
        store
            .append_event(
                run,
                NewEvent {
                    at,
                    kind: "test",
                    task_id: None,
                    message: &message,
                    data: None,
                },
            )
            .expect("recorded");
    }

    fn wal_length(path: &Path) -> u64 {
        std::fs::metadata(companion(path, "-wal")).map_or(0, |metadata| metadata.len())
    }

    fn bound(store: &Store, frames: u32) -> u64 {
        let page_size: i64 = store
            .connection
            .query_row("PRAGMA page_size", [], |row| row.get(0))
            .expect("the page size is readable");
        u64::try_from(wal_bytes(frames, page_size)).expect("a length is positive")
    }

    /// The WAL's length in pages after the last commit, as the writer saw it.
    fn frames(store: &Store) -> u32 {
        store.checkpointer.frames
    }

    /// A store whose checkpoint thread is played by the test.
    fn manual_store() -> (tempfile::TempDir, Store, RunId) {
        let (dir, mut store) = temp_store();
        store.checkpointer.helper = Helper::Manual;
        let run = create_run(&mut store, 1);
        (dir, store, run)
    }

    #[test]
    fn the_store_connection_runs_no_automatic_checkpoint() {
        let (dir, mut store, run) = manual_store();
        let mut at = 0;
        while frames(&store) < WAKE_PAGES + 100 {
            commit(&mut store, &run, at);
            at += 1;
        }
        // SQLite would have checkpointed at 1,000 pages, and the WAL would
        // have started over.
        assert_eq!(store.checkpointer.inline_checkpoints, 0);
        assert_eq!(store.checkpointer.cycle, 0);
        let checkpointed = passive(&store.connection).expect("a checkpoint runs");
        assert_eq!(checkpointed.frames, frames(&store));
        assert!(wal_length(&dir.path().join("state.db")) >= bound(&store, WAKE_PAGES + 100));
    }

    /// Step 2 of the module docs, with the thread's part played by the test:
    /// the writer finishes the thread's checkpoint, and the WAL starts over.
    #[test]
    fn the_writer_finishes_the_thread_s_checkpoint_and_the_wal_starts_over() {
        let (dir, mut store, run) = manual_store();
        let path = dir.path().join("state.db");
        let mut at = 0;
        while frames(&store) < WAKE_PAGES {
            commit(&mut store, &run, at);
            at += 1;
        }
        assert_eq!(store.checkpointer.pending, Some(1), "the thread is asked");
        // The thread's checkpoint runs while the writer goes on: here a
        // reader's snapshot stands for the commits that came in meanwhile,
        // which it cannot copy.
        let reader = Connection::open(&path).expect("a reader opens");
        reader
            .execute_batch("BEGIN; SELECT count(*) FROM events;")
            .expect("the reader takes its snapshot");
        for _ in 0..10 {
            commit(&mut store, &run, at);
            at += 1;
        }
        let second = Connection::open(&path).expect("a second connection opens");
        let checkpointed = passive(&second).expect("the thread's checkpoint runs");
        assert!(!checkpointed.complete(), "{checkpointed:?}");
        reader.execute_batch("COMMIT").expect("the reader ends");
        assert_eq!(store.checkpointer.inline_checkpoints, 0);
        store.checkpointer.progress.publish(Report {
            request: 1,
            copied: checkpointed.copied,
        });
        commit(&mut store, &run, at);
        assert_eq!(store.checkpointer.inline_checkpoints, 1);
        let length = wal_length(&path);
        commit(&mut store, &run, at + 1);
        assert_eq!(store.checkpointer.cycle, 1, "the WAL started over");
        assert!(frames(&store) < 10, "{} pages", frames(&store));
        assert_eq!(wal_length(&path), length, "and did not grow");
    }

    /// An answer that leaves more than [`FINISH_PAGES`] to copy (the thread
    /// fell behind the writer) is followed by a new request, not by the
    /// writer's own checkpoint; one request at a time.
    #[test]
    fn a_thread_that_fell_behind_is_asked_again() {
        let (_dir, mut store, run) = manual_store();
        let mut at = 0;
        while frames(&store) < WAKE_PAGES {
            commit(&mut store, &run, at);
            at += 1;
        }
        assert_eq!(store.checkpointer.pending, Some(1));
        commit(&mut store, &run, at);
        at += 1;
        assert_eq!(store.checkpointer.pending, Some(1), "not asked twice");
        store.checkpointer.progress.publish(Report {
            request: 1,
            copied: frames(&store) - FINISH_PAGES - 100,
        });
        commit(&mut store, &run, at);
        assert_eq!(store.checkpointer.pending, Some(2), "asked again");
        assert_eq!(store.checkpointer.inline_checkpoints, 0);
    }

    /// An answer about an earlier WAL is not taken for one about this one.
    #[test]
    fn an_answer_about_an_earlier_wal_is_ignored() {
        let (_dir, mut store, run) = manual_store();
        let mut at = 0;
        while store.checkpointer.cycle < 1 {
            commit(&mut store, &run, at);
            at += 1;
        }
        assert_eq!(
            store.checkpointer.pending,
            Some(1),
            "asked in the first WAL"
        );
        let before = store.checkpointer.inline_checkpoints;
        while frames(&store) < WAKE_PAGES {
            commit(&mut store, &run, at);
            at += 1;
        }
        // The request of the first WAL, answered late as if it had copied
        // the whole of this one.
        store.checkpointer.progress.publish(Report {
            request: 1,
            copied: frames(&store),
        });
        commit(&mut store, &run, at);
        assert_eq!(store.checkpointer.inline_checkpoints, before);
        assert_eq!(store.checkpointer.pending, Some(2), "this WAL's request");
    }

    /// Step 3: when the thread never answers, the writer still keeps the WAL
    /// under the ceiling.
    #[test]
    fn the_wal_stays_under_the_ceiling_when_the_thread_never_answers() {
        let (dir, mut store, run) = manual_store();
        let mut largest = 0;
        for at in 0..3_000 {
            commit(&mut store, &run, at);
            largest = largest.max(frames(&store));
        }
        assert!(store.checkpointer.cycle >= 2, "the WAL started over twice");
        // At most one commit's pages past the ceiling.
        assert!(largest < CEILING_PAGES + 16, "{largest} pages");
        assert!(wal_length(&dir.path().join("state.db")) <= bound(&store, CEILING_PAGES + 16));
    }

    /// The whole policy with its real thread, over a long run: the WAL never
    /// passes the ceiling by more than a few commits, however the thread's
    /// checkpoints fall between the writer's commits.
    #[test]
    fn with_the_thread_the_wal_stays_bounded_over_a_long_run() {
        let (dir, mut store) = temp_store();
        let path = dir.path().join("state.db");
        let run = create_run(&mut store, 1);
        let mut largest = 0;
        for at in 0..6_000 {
            commit(&mut store, &run, at);
            largest = largest.max(frames(&store));
        }
        assert!(matches!(store.checkpointer.helper, Helper::Running { .. }));
        assert!(store.checkpointer.cycle >= 3, "the WAL started over");
        assert!(largest < CEILING_PAGES + 64, "{largest} pages");
        assert!(wal_length(&path) <= bound(&store, CEILING_PAGES + 64));
        drop(store);
        assert_eq!(wal_length(&path), 0, "a clean close removes the WAL");
        let store = Store::open(&path).expect("the file reopens");
        assert!(store.integrity_check().expect("the check runs"));
        let events = store.events(&run).expect("readable");
        assert_eq!(
            events.iter().filter(|event| event.kind == "test").count(),
            6_000
        );
    }

    /// Commits past the thread's threshold, then dies in the middle of a
    /// checkpoint: a reader's snapshot stops it part way, so the database file
    /// holds some of the WAL's pages and not others.
    #[cfg(unix)]
    #[test]
    #[ignore = "run as a child process by `a_kill_during_a_checkpoint_loses_no_commit`"]
    fn checkpoint_crash_child() {
        let Some(path) = test_support::crash_child_path() else {
            return;
        };
        let mut store = Store::open(&path).expect("opens");
        store.checkpointer.helper = Helper::Manual;
        let run = create_run(&mut store, 1);
        for at in 0..CHILD_COMMITS / 2 {
            commit(&mut store, &run, at);
        }
        let reader = Connection::open(&path).expect("a reader opens");
        reader
            .execute_batch("BEGIN; SELECT count(*) FROM events;")
            .expect("the reader takes its snapshot");
        for at in CHILD_COMMITS / 2..CHILD_COMMITS {
            commit(&mut store, &run, at);
        }
        assert!(
            (WAKE_PAGES..CEILING_PAGES).contains(&frames(&store)),
            "the thread is asked, and the writer has not checkpointed: {} pages",
            frames(&store)
        );
        let second = Connection::open(&path).expect("a second connection opens");
        let checkpointed = passive(&second).expect("the checkpoint runs");
        assert!(
            checkpointed.copied > 0 && !checkpointed.complete(),
            "{checkpointed:?}"
        );
        test_support::kill_self();
    }

    #[cfg(unix)]
    #[test]
    fn a_kill_during_a_checkpoint_loses_no_commit() {
        let dir = tempfile::tempdir().expect("temporary folders can be created");
        let path = dir.path().join("state.db");
        test_support::run_crash_child("checkpoint::tests::checkpoint_crash_child", &path);
        assert!(wal_length(&path) > 0, "the crash leaves the WAL");
        let store = Store::open(&path).expect("the file reopens");
        assert!(store.integrity_check().expect("the check runs"));
        let runs = store.runs().expect("readable");
        let [run] = runs.as_slice() else {
            panic!("one run, not {runs:?}");
        };
        let ats: Vec<i64> = store
            .events(&run.id)
            .expect("readable")
            .iter()
            .filter(|event| event.kind == "test")
            .map(|event| event.at)
            .collect();
        assert_eq!(
            ats,
            (0..CHILD_COMMITS).collect::<Vec<_>>(),
            "every commit is there"
        );
    }

    /// Commits until the WAL has started over `cycles` times, and returns the
    /// largest length it had, in pages.
    fn commit_through(store: &mut Store, run: &RunId, cycles: u32) -> u32 {
        let mut largest = 0;
        let mut at = 0;
        while store.checkpointer.cycle < cycles {
            commit(store, run, at);
            largest = largest.max(frames(store));
            at += 1;
            assert!(at < 20_000, "the WAL never started over: {largest} pages");
        }
        largest
    }

    /// A thread whose connection cannot open (here: its file is not where the
    /// store's is) is never retried: the writer checkpoints from
    /// [`WAKE_PAGES`] on, as SQLite's automatic checkpoint would.
    #[test]
    fn a_thread_that_cannot_start_leaves_the_checkpoints_to_the_writer() {
        let (dir, mut store) = temp_store();
        store.checkpointer.path = dir.path().join("absent").join("state.db");
        let run = create_run(&mut store, 1);
        let largest = commit_through(&mut store, &run, 3);
        assert!(matches!(store.checkpointer.helper, Helper::Unavailable));
        assert!(store.checkpointer.inline_checkpoints >= 3);
        assert!(largest < WAKE_PAGES + 16, "{largest} pages");
        assert!(wal_length(&dir.path().join("state.db")) <= bound(&store, WAKE_PAGES + 16));
    }

    /// A thread that died (its end of the channel dropped, as a panic in it
    /// leaves it) is seen at the next wake-up: the writer checkpoints from
    /// then on.
    #[test]
    fn a_thread_that_died_leaves_the_checkpoints_to_the_writer() {
        let (dir, mut store) = temp_store();
        let (wake, woken) = sync_channel(1);
        let died = std::thread::spawn(move || {
            let _woken = woken;
            std::panic::resume_unwind(Box::new("the checkpoint thread dies"));
        })
        .join();
        assert!(died.is_err(), "the thread panicked");
        store.checkpointer.helper = Helper::Running {
            wake,
            thread: std::thread::spawn(|| {}),
        };
        let run = create_run(&mut store, 1);
        let largest = commit_through(&mut store, &run, 3);
        assert!(matches!(store.checkpointer.helper, Helper::Unavailable));
        assert!(largest < WAKE_PAGES + 16, "{largest} pages");
        assert!(wal_length(&dir.path().join("state.db")) <= bound(&store, WAKE_PAGES + 16));
    }

    /// A thread that ends without answering the request it took (a panic in
    /// its checkpoint) is seen as ended: the writer checkpoints from then on.
    #[test]
    fn a_thread_that_died_on_a_request_leaves_the_checkpoints_to_the_writer() {
        let (dir, mut store) = temp_store();
        let (wake, woken) = sync_channel::<u32>(1);
        let thread = std::thread::spawn(move || {
            let _request = woken.recv();
            std::panic::resume_unwind(Box::new("the checkpoint dies"));
        });
        store.checkpointer.helper = Helper::Running { wake, thread };
        let run = create_run(&mut store, 1);
        let largest = commit_through(&mut store, &run, 3);
        assert_eq!(store.checkpointer.pending, Some(1), "one request was taken");
        assert!(matches!(store.checkpointer.helper, Helper::Unavailable));
        assert!(largest < CEILING_PAGES + 16, "{largest} pages");
        assert!(wal_length(&dir.path().join("state.db")) <= bound(&store, CEILING_PAGES + 16));
    }

    /// A reader that keeps its snapshot (another process's `plangate status`
    /// in the middle of a read) stops every checkpoint at it: commits go on,
    /// the reader sees its snapshot, and once it lets go the WAL starts over
    /// and is cut back to the ceiling's size.
    #[test]
    fn a_reader_holding_a_snapshot_holds_the_wal_back_and_breaks_nothing() {
        let (dir, mut store) = temp_store();
        let path = dir.path().join("state.db");
        let run = create_run(&mut store, 1);
        let mut at = 0;
        for _ in 0..100 {
            commit(&mut store, &run, at);
            at += 1;
        }
        let reader = Connection::open(&path).expect("a reader opens");
        let count = |reader: &Connection| -> i64 {
            reader
                .query_row(
                    "SELECT count(*) FROM events WHERE kind = 'test'",
                    [],
                    |row| row.get(0),
                )
                .expect("the reader reads")
        };
        reader.execute_batch("BEGIN").expect("a read transaction");
        assert_eq!(count(&reader), 100);
        while frames(&store) < CEILING_PAGES + 500 {
            commit(&mut store, &run, at);
            at += 1;
        }
        assert_eq!(store.checkpointer.cycle, 0, "nothing could start it over");
        assert!(matches!(store.checkpointer.helper, Helper::Running { .. }));
        assert_eq!(count(&reader), 100, "the snapshot stands");
        reader.execute_batch("COMMIT").expect("the reader lets go");
        for _ in 0..10 {
            commit(&mut store, &run, at);
            at += 1;
            if store.checkpointer.cycle > 0 {
                break;
            }
        }
        assert_eq!(store.checkpointer.cycle, 1, "the WAL started over");
        assert!(
            wal_length(&path) <= bound(&store, CEILING_PAGES),
            "journal_size_limit cuts the WAL back: {} bytes",
            wal_length(&path)
        );
        assert_eq!(count(&reader), at);
        drop(store);
        let store = Store::open(&path).expect("the file reopens");
        assert!(store.integrity_check().expect("the check runs"));
    }

    /// `--state-sync full` keeps its meaning: the store's connection and the
    /// thread's sync as asked, so a checkpoint is as durable as a commit.
    #[test]
    fn the_thread_syncs_as_the_store_does() {
        let dir = tempfile::tempdir().expect("temporary folders can be created");
        let path = dir.path().join("state.db");
        for (full, expected) in [(true, 2), (false, 1)] {
            let options = crate::OpenOptions {
                synchronous_full: full,
                ..crate::OpenOptions::default()
            };
            let mut store = Store::open_with(&path, options).expect("opens");
            let synchronous: i64 = store
                .connection
                .query_row("PRAGMA synchronous", [], |row| row.get(0))
                .expect("readable");
            assert_eq!(synchronous, expected);
            let helper = helper_connection(&path, store.checkpointer.synchronous)
                .expect("the thread's connection opens");
            let synchronous: i64 = helper
                .query_row("PRAGMA synchronous", [], |row| row.get(0))
                .expect("readable");
            assert_eq!(synchronous, expected, "the thread's connection");
            drop(helper);
            let run = create_run(&mut store, 1);
            commit_through(&mut store, &run, 1);
            assert!(matches!(store.checkpointer.helper, Helper::Running { .. }));
        }
    }

    /// The commits of one [`checkpoint_heavy_child`], at most: its parent kills
    /// it long before.
    const HEAVY_LIMIT: i64 = 200_000;

    /// Commits with the real thread, reporting each commit on stdout after it
    /// returns, until its parent kills it; continues the file's one run.
    #[cfg(unix)]
    #[test]
    #[ignore = "run as a child process by `kills_in_checkpoint_heavy_runs_lose_no_commit`"]
    fn checkpoint_heavy_child() {
        let Some(path) = test_support::crash_child_path() else {
            return;
        };
        let mut store = Store::open(&path).expect("opens");
        let run = match store.runs().expect("readable").first() {
            Some(run) => run.id.clone(),
            None => create_run(&mut store, 1),
        };
        let start = store
            .events(&run)
            .expect("readable")
            .iter()
            .filter(|event| event.kind == "test")
            .count();
        let start = i64::try_from(start).expect("a count fits");
        let mut out = std::io::stdout().lock();
        for at in start..start + HEAVY_LIMIT {
            commit(&mut store, &run, at);
            writeln!(out, "committed {at} cycle {}", store.checkpointer.cycle)
                .and_then(|()| out.flush())
                .expect("the parent reads");
        }
        test_support::kill_self();
    }

    /// kill -9, four times, of a process committing as fast as it can while
    /// the thread and the writer checkpoint (the WAL starts over every few
    /// hundred commits, so most kills land during one): every commit the
    /// child saw return is in the file, in order, and the file is sound.
    #[cfg(unix)]
    #[test]
    fn kills_in_checkpoint_heavy_runs_lose_no_commit() {
        use std::os::unix::process::ExitStatusExt;

        let dir = tempfile::tempdir().expect("temporary folders can be created");
        let path = dir.path().join("state.db");
        let mut last = -1;
        for round in 0..4 {
            let mut child = std::process::Command::new(
                std::env::current_exe().expect("the test binary is known"),
            )
            .args([
                "--exact",
                "checkpoint::tests::checkpoint_heavy_child",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(test_support::CRASH_DB_VAR, &path)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("the child starts");
            let stdout = child.stdout.take().expect("piped");
            // Different points of the WAL's cycle in each round.
            let commits = 1_500 + 170 * round;
            let mut seen = 0;
            let mut reported = None;
            for line in std::io::BufReader::new(stdout).lines() {
                let line = line.expect("the child writes lines");
                let Some(rest) = line.strip_prefix("committed ") else {
                    continue;
                };
                let (at, cycle) = rest.split_once(" cycle ").expect("the child's format");
                reported = Some((
                    at.parse::<i64>().expect("a number"),
                    cycle.parse::<u32>().expect("a number"),
                ));
                seen += 1;
                if seen == commits {
                    break;
                }
            }
            child.kill().expect("the child is killed");
            let status = child.wait().expect("the child is reaped");
            assert_eq!(status.signal(), Some(9), "round {round}: killed");
            let (at, cycle) = reported.expect("the child committed");
            assert!(
                cycle >= 1,
                "round {round}: the WAL started over in the child"
            );
            assert!(at > last, "round {round}: the child went on");
            last = at;
            assert!(
                wal_length(&path) > 0,
                "round {round}: the kill leaves the WAL"
            );
            let store = Store::open(&path).expect("the file reopens");
            assert!(
                store.integrity_check().expect("the check runs"),
                "round {round}"
            );
            let runs = store.runs().expect("readable");
            let [run] = runs.as_slice() else {
                panic!("one run, not {runs:?}");
            };
            let ats: Vec<i64> = store
                .events(&run.id)
                .expect("readable")
                .iter()
                .filter(|event| event.kind == "test")
                .map(|event| event.at)
                .collect();
            assert!(
                ats.len() > usize::try_from(at).expect("positive"),
                "round {round}: commit {at} returned in the child, the file holds {}",
                ats.len()
            );
            assert_eq!(
                ats,
                (0..i64::try_from(ats.len()).expect("a count fits")).collect::<Vec<_>>(),
                "round {round}: every commit, in order"
            );
        }
    }
}
