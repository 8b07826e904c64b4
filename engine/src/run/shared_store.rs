//! The state store as seen from async code: group commits inline on the
//! runtime thread.
//!
//! Writes form one queue, committed in order. [`SharedStore::commit`] adds a
//! write that must be durable before the caller goes on (an attempt's start,
//! before its side effect) and commits the whole queue with it, inline: a
//! small SQLite commit costs less than the hop to a blocking thread and back.
//! [`SharedStore::queue`] adds a write nothing waits for yet (an attempt's
//! outcome, a process group): it rides with the next commit, or a flusher
//! task commits it shortly, so the outcome of a finished task usually shares
//! the commit of the next task's start. Whatever reads or waits on the store
//! ([`SharedStore::call`], [`SharedStore::flush`]) commits the queue first, so
//! nothing ever sees the state file without a write that was queued before.
//!
//! The runtime thread never waits on the database: the inline commit takes
//! the write lock without waiting ([`Store::try_batch`]), and when another
//! connection holds it (`SQLITE_BUSY`) or a blocking call holds the store,
//! the queue is committed on a blocking thread instead.
//!
//! A failed commit loses every write in it; the writes queued after it are
//! then refused too ([`StoreError::Batched`]), so none lands after a write
//! that was lost before it.

use std::{
    any::Any,
    collections::VecDeque,
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use plangate_state::{Batch, Store, StoreError, TryBatch};

use super::task::error_chain;
use tokio::sync::oneshot;

/// The name of the write of an attempt's outcome.
pub(crate) const OUTCOME: &str = "record the outcome of an attempt";
/// The name of the write of an attempt's start.
pub(crate) const START: &str = "record the start of an attempt";

/// An internal hook for the crash tests: with this variable set to
/// [`KILL_BEFORE_OUTCOME_COMMIT`], the engine kills itself with SIGKILL just
/// before a commit that would carry an attempt's outcome together with the
/// next attempt's start, so a test can check what `resume` makes of an
/// outcome that was never committed.
const FAILPOINT: &str = "PLANGATE_INTERNAL_FAILPOINT";
const KILL_BEFORE_OUTCOME_COMMIT: &str = "kill-before-outcome-commit";

/// Whether the hook is armed, read once.
fn kill_before_outcome_commit() -> bool {
    static ARMED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ARMED.get_or_init(|| {
        std::env::var_os(FAILPOINT).is_some_and(|value| value == KILL_BEFORE_OUTCOME_COMMIT)
    })
}

/// How long a [`Urgency::Lazy`] write may wait for a commit to share.
pub(crate) const LAZY_DELAY: Duration = Duration::from_millis(10);

/// How soon a queued write is committed when no other commit takes it along.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Urgency {
    /// As soon as the tasks that are ready have had their turn: an outcome,
    /// which the next start's commit usually takes along.
    Soon,
    /// Within [`LAZY_DELAY`]: a record that only a crash would need.
    Lazy,
}

type Value = Box<dyn Any + Send>;
type Write = Box<dyn FnOnce(&Batch<'_>) -> Result<Value, StoreError> + Send>;
type Reply = oneshot::Sender<Result<Value, StoreError>>;

/// One queued write.
struct Pending {
    operation: &'static str,
    /// Taken when the commit runs it.
    write: Option<Write>,
    /// Who waits for it; a queued write has no one, and its failure makes
    /// the queue fail.
    reply: Option<Reply>,
}

#[derive(Default)]
struct Queue {
    writes: VecDeque<Pending>,
    /// The most urgent flusher that is scheduled and has not run yet.
    flusher: Option<Urgency>,
    /// Why an earlier commit failed: every later write fails too.
    failed: Option<String>,
    #[cfg(test)]
    commits: CommitCounts,
}

/// Where commits ran, for the tests.
#[cfg(test)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct CommitCounts {
    pub(crate) inline: usize,
    pub(crate) blocking: usize,
}

struct Inner {
    store: Mutex<Store>,
    queue: Mutex<Queue>,
}

/// A cloneable handle to the store.
#[derive(Clone)]
pub(crate) struct SharedStore(Arc<Inner>);

impl SharedStore {
    pub(crate) fn new(store: Store) -> Self {
        Self(Arc::new(Inner {
            store: Mutex::new(store),
            queue: Mutex::new(Queue::default()),
        }))
    }

    /// Runs `f` on the store on a blocking thread and waits for it, after
    /// committing the queued writes.
    pub(crate) async fn call<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = Arc::clone(&self.0);
        tokio::task::spawn_blocking(move || {
            let mut store = inner.lock_store();
            inner.commit_queue(&mut store, Wait::Block);
            if let Some(cause) = inner.lock_queue().failed.clone() {
                return Err(StoreError::Batched {
                    operation: "use the state file",
                    cause,
                });
            }
            f(&mut store)
        })
        .await
        .expect("store calls do not panic, so their blocking task always completes")
    }

    /// Commits `write` with every write queued before it, and returns its
    /// value once it is durable. The commit runs inline unless the database
    /// is busy.
    pub(crate) async fn commit<T, F>(
        &self,
        operation: &'static str,
        write: F,
    ) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Batch<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        self.0.push(Pending {
            operation,
            write: Some(Box::new(move |batch| {
                write(batch).map(|value| Box::new(value) as Value)
            })),
            reply: Some(reply),
        });
        self.0.commit_now();
        match answer.await {
            Ok(Ok(value)) => Ok(*value
                .downcast::<T>()
                .expect("a write's reply carries the type its caller gave")),
            Ok(Err(error)) => Err(error),
            Err(_) => Err(StoreError::Batched {
                operation,
                cause: String::from("the commit was abandoned"),
            }),
        }
    }

    /// Queues `write` to be committed with the next commit, or by a flusher
    /// as `urgency` says; fails at once if an earlier write was lost.
    pub(crate) fn queue<F>(
        &self,
        operation: &'static str,
        urgency: Urgency,
        write: F,
    ) -> Result<(), StoreError>
    where
        F: FnOnce(&Batch<'_>) -> Result<(), StoreError> + Send + 'static,
    {
        let schedule = {
            let mut queue = self.0.lock_queue();
            if let Some(cause) = &queue.failed {
                return Err(StoreError::Batched {
                    operation,
                    cause: cause.clone(),
                });
            }
            queue.writes.push_back(Pending {
                operation,
                write: Some(Box::new(move |batch| {
                    write(batch).map(|()| Box::new(()) as Value)
                })),
                reply: None,
            });
            let schedule = match queue.flusher {
                None => true,
                Some(scheduled) => urgency == Urgency::Soon && scheduled == Urgency::Lazy,
            };
            if schedule {
                queue.flusher = Some(urgency);
            }
            schedule
        };
        if schedule {
            let inner = Arc::clone(&self.0);
            tokio::spawn(async move {
                match urgency {
                    // Two turns: the task that queued the write ends, then the
                    // dispatcher starts what it made ready, whose commit
                    // takes the write along.
                    Urgency::Soon => {
                        tokio::task::yield_now().await;
                        tokio::task::yield_now().await;
                    }
                    Urgency::Lazy => tokio::time::sleep(LAZY_DELAY).await,
                }
                {
                    let mut queue = inner.lock_queue();
                    if queue.flusher == Some(urgency) {
                        queue.flusher = None;
                    }
                }
                inner.commit_now();
            });
        }
        Ok(())
    }

    /// Commits every queued write and waits for it; fails if one was lost.
    pub(crate) async fn flush(&self) -> Result<(), StoreError> {
        self.commit("commit the queued writes", |_| Ok(())).await
    }

    #[cfg(test)]
    pub(crate) fn commit_counts(&self) -> CommitCounts {
        self.0.lock_queue().commits
    }
}

/// Whether a commit may wait for the write lock.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Wait {
    /// On a runtime thread: hand the writes to a blocking thread instead.
    Never,
    /// On a blocking thread.
    Block,
}

impl Inner {
    fn lock_store(&self) -> MutexGuard<'_, Store> {
        self.store
            .lock()
            .expect("the store mutex is poisoned only if a store call panicked, which is a bug")
    }

    fn lock_queue(&self) -> MutexGuard<'_, Queue> {
        self.queue
            .lock()
            .expect("the queue mutex is poisoned only if a store call panicked, which is a bug")
    }

    fn push(&self, pending: Pending) {
        let mut queue = self.lock_queue();
        match &queue.failed {
            Some(cause) => {
                let error = StoreError::Batched {
                    operation: pending.operation,
                    cause: cause.clone(),
                };
                if let Some(reply) = pending.reply {
                    let _ = reply.send(Err(error));
                }
            }
            None => queue.writes.push_back(pending),
        }
    }

    /// Commits the queue from a runtime thread: inline when the store is
    /// free and the database is not busy, else on a blocking thread.
    fn commit_now(self: &Arc<Self>) {
        let busy = match self.store.try_lock() {
            Ok(mut store) => !self.commit_queue(&mut store, Wait::Never),
            // A blocking call holds the store; it may have taken the queue
            // before the last write joined it.
            Err(std::sync::TryLockError::WouldBlock) => true,
            Err(std::sync::TryLockError::Poisoned(_)) => {
                panic!("the store mutex is poisoned only if a store call panicked, which is a bug")
            }
        };
        if busy {
            let inner = Arc::clone(self);
            tokio::task::spawn_blocking(move || {
                let mut store = inner.lock_store();
                inner.commit_queue(&mut store, Wait::Block);
            });
        }
    }

    /// Commits every queued write in one transaction and answers their
    /// callers; returns false, with the queue untouched, when `wait` is
    /// `Never` and the database is busy.
    fn commit_queue(&self, store: &mut Store, wait: Wait) -> bool {
        let mut pending: Vec<Pending> = {
            let mut queue = self.lock_queue();
            if queue.writes.is_empty() {
                return true;
            }
            queue.writes.drain(..).collect()
        };
        if kill_before_outcome_commit() {
            let carries = |name| pending.iter().any(|write| write.operation == name);
            if carries(OUTCOME) && carries(START) {
                let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
            }
        }
        let mut failed_at = None;
        let body = |batch: &Batch<'_>| {
            let mut values = Vec::with_capacity(pending.len());
            for (index, write) in pending.iter_mut().enumerate() {
                let run = write.write.take().expect("a write runs once");
                match run(&batch.with_operation(write.operation)) {
                    Ok(value) => values.push(value),
                    Err(error) => {
                        failed_at = Some(index);
                        return Err(error);
                    }
                }
            }
            Ok(values)
        };
        let result = match wait {
            Wait::Block => store.batch(COMMIT, body),
            Wait::Never => match store.try_batch(COMMIT, body) {
                TryBatch::Done(result) => result,
                TryBatch::Busy(_) => {
                    // Nothing ran: the writes go back, in order, ahead of
                    // any that joined since.
                    let mut queue = self.lock_queue();
                    for write in pending.into_iter().rev() {
                        queue.writes.push_front(write);
                    }
                    return false;
                }
            },
        };
        #[cfg(test)]
        {
            let mut queue = self.lock_queue();
            match wait {
                Wait::Never => queue.commits.inline += 1,
                Wait::Block => queue.commits.blocking += 1,
            }
        }
        match result {
            Ok(values) => {
                for (write, value) in pending.into_iter().zip(values) {
                    if let Some(reply) = write.reply {
                        let _ = reply.send(Ok(value));
                    }
                }
            }
            Err(error) => {
                let cause = error_chain(&error);
                self.lock_queue().failed = Some(format!("an earlier write was lost: {cause}"));
                let mut error = Some(error);
                for (index, write) in pending.into_iter().enumerate() {
                    let Some(reply) = write.reply else { continue };
                    let answer = if Some(index) == failed_at {
                        error.take().expect("one write fails")
                    } else {
                        StoreError::Batched {
                            operation: write.operation,
                            cause: format!("it shared a commit that failed: {cause}"),
                        }
                    };
                    let _ = reply.send(Err(answer));
                }
            }
        }
        true
    }
}

/// What a group commit is called in errors that are not one write's.
const COMMIT: &str = "commit the queued writes";

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use plangate_plans::{Decision, PhaseId, PlanName, Risk, TaskId};
    use plangate_state::{NewRun, NewTask, RunId, StoreError, TaskState};

    use super::*;

    fn task_id(n: usize) -> TaskId {
        TaskId::new(format!("t{n}")).expect("a valid id")
    }

    /// A store with one run of `tasks` pending tasks.
    fn store_with_run(tasks: usize) -> (tempfile::TempDir, SharedStore, RunId) {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let mut store = Store::open(dir.path().join("state.db")).expect("a new store opens");
        let run = store
            .create_run(NewRun {
                plan_name: PlanName::new("demo").expect("a valid name"),
                plan_path: PathBuf::from("plan.yaml"),
                plan_hash: "0".repeat(64),
                plan_text: String::from("version: 1\nname: demo\n"),
                environment: String::from("dev"),
                at: 1_000,
                tasks: (0..tasks)
                    .map(|position| NewTask {
                        task_id: task_id(position),
                        phase_id: PhaseId::new("p").expect("a valid id"),
                        position,
                        risk: Risk::Low,
                        decision: Decision::Run,
                        reason: None,
                        state: TaskState::Pending,
                        environment: String::from("dev"),
                        content_hash: "0".repeat(64),
                    })
                    .collect(),
            })
            .expect("a run is created");
        (dir, SharedStore::new(store), run)
    }

    fn set(
        run: &RunId,
        n: usize,
        state: TaskState,
    ) -> impl FnOnce(&Batch<'_>) -> Result<(), StoreError> + Send + 'static {
        let run = run.clone();
        move |batch| batch.set_task_state(&run, &task_id(n), state, None, 2_000)
    }

    async fn state_of(store: &SharedStore, run: &RunId, n: usize) -> TaskState {
        let run = run.clone();
        store
            .call(move |store| Ok(store.task(&run, &task_id(n))?.state))
            .await
            .expect("readable")
    }

    #[tokio::test(flavor = "current_thread")]
    async fn queued_writes_ride_with_the_next_commit_in_order() {
        let (_dir, store, run) = store_with_run(2);
        store
            .queue("finish t0", Urgency::Soon, set(&run, 0, TaskState::Running))
            .expect("queued");
        store
            .queue(
                "finish t0",
                Urgency::Soon,
                set(&run, 0, TaskState::Succeeded),
            )
            .expect("queued");
        store
            .commit("start t1", set(&run, 1, TaskState::Running))
            .await
            .expect("committed");
        assert_eq!(
            store.commit_counts(),
            CommitCounts {
                inline: 1,
                blocking: 0
            },
            "one inline commit carries all three writes"
        );
        assert_eq!(state_of(&store, &run, 0).await, TaskState::Succeeded);
        assert_eq!(state_of(&store, &run, 1).await, TaskState::Running);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn the_flusher_commits_what_no_commit_took_along() {
        let (dir, store, run) = store_with_run(1);
        store
            .queue("finish t0", Urgency::Lazy, set(&run, 0, TaskState::Running))
            .expect("queued");
        tokio::time::sleep(LAZY_DELAY * 3).await;
        // Read through another connection: the write is in the file.
        let connection =
            rusqlite::Connection::open(dir.path().join("state.db")).expect("a second connection");
        let state: String = connection
            .query_row("SELECT state FROM tasks WHERE task_id = 't0'", [], |row| {
                row.get(0)
            })
            .expect("readable");
        assert_eq!(state, "running");
        assert_eq!(store.commit_counts().inline, 1);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_busy_database_moves_the_commit_off_the_runtime_thread() {
        let (dir, store, run) = store_with_run(1);
        let other =
            rusqlite::Connection::open(dir.path().join("state.db")).expect("a second connection");
        other
            .execute_batch("BEGIN IMMEDIATE")
            .expect("the other connection takes the write lock");
        let commit = tokio::spawn({
            let store = store.clone();
            let write = set(&run, 0, TaskState::Running);
            async move { store.commit("start t0", write).await }
        });
        // The runtime thread is free while the database is busy: this task
        // runs, and the commit is still waiting.
        tokio::task::yield_now().await;
        assert!(!commit.is_finished());
        other.execute_batch("COMMIT").expect("released");
        commit.await.expect("joined").expect("committed");
        assert_eq!(
            store.commit_counts(),
            CommitCounts {
                inline: 0,
                blocking: 1
            }
        );
        assert_eq!(state_of(&store, &run, 0).await, TaskState::Running);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_lost_write_fails_every_later_write() {
        let (_dir, store, run) = store_with_run(1);
        let missing = TaskId::new("missing").expect("a valid id");
        let run_for_missing = run.clone();
        store
            .queue("finish missing", Urgency::Soon, move |batch| {
                batch.set_task_state(&run_for_missing, &missing, TaskState::Succeeded, None, 1)
            })
            .expect("queued");
        let error = store
            .commit("start t0", set(&run, 0, TaskState::Running))
            .await
            .expect_err("the commit shared with a failing write fails");
        assert!(
            error.to_string().starts_with(
                "state store failed to start t0: it shared a commit that failed: run `"
            ),
            "{error}"
        );
        assert_eq!(state_of_any(&store).await, "the store refuses");
        let later = store
            .queue(
                "finish t0",
                Urgency::Soon,
                set(&run, 0, TaskState::Succeeded),
            )
            .expect_err("refused");
        assert!(
            later.to_string().contains("an earlier write was lost"),
            "{later}"
        );
        assert!(store.flush().await.is_err());
    }

    async fn state_of_any(store: &SharedStore) -> &'static str {
        match store.call(|_| Ok(())).await {
            Ok(()) => "the store answers",
            Err(_) => "the store refuses",
        }
    }
}
