//! The SQLite store of plangate runs: runs, their tasks, the attempts of
//! every action, an events journal, approvals and run locks, in one file
//! (`.plangate/state.db` unless the CLI is told otherwise).
//!
//! ```no_run
//! use plangate_plans::TaskId;
//! use plangate_state::{AttemptOutcome, AttemptResult, AttemptRole, Store, TaskState, now_millis};
//!
//! let mut store = Store::open(".plangate/state.db")?;
//! let run = store.resolve_run("01J9Z")?;
//! let task = TaskId::new("deploy-api")?;
//! let attempt = store.begin_attempt(&run, &task, AttemptRole::Run, "kubectl apply", now_millis())?;
//! // ... the side effect runs here ...
//! store.finish_attempt(attempt, AttemptResult::new(AttemptOutcome::Succeeded, now_millis()))?;
//! store.set_task_state(&run, &task, TaskState::Succeeded, None, now_millis())?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Durability
//!
//! Every write method is one transaction, committed when it returns. The
//! engine records an *intent* before each side effect
//! ([`Store::begin_attempt`], and [`Store::record_attempt_evidence`] for a
//! snapshot of what the action will change) and the *outcome* after it
//! ([`Store::finish_attempt`]). So whenever the process dies, the file tells
//! `resume` which actions completed, and which were cut off mid-way: the
//! attempts without an outcome, [`Store::open_attempts`].
//!
//! The file is in WAL mode with `synchronous=NORMAL`: a commit is in the
//! operating system's hands when the method returns, so it survives the
//! process being killed at any instant (SIGKILL, a panic, an OOM kill).
//! A power loss or kernel crash may lose the last commits (never corrupt the
//! file) unless the store is opened with [`OpenOptions::synchronous_full`],
//! which fsyncs every commit. Commits run no WAL checkpoint of their own
//! size: a second connection on a thread of the store's copies the WAL into
//! the database file, the writer copies only the few pages it left, and a
//! ceiling past which the writer checkpoints itself keeps the WAL bounded
//! (see `checkpoint.rs`).
//!
//! # Opening
//!
//! [`Store::open`] first inspects the file without writing, and writes nothing
//! to a file that is not SQLite ([`OpenStoreError::NotADatabase`]), belongs to
//! another application ([`OpenStoreError::Foreign`], told by
//! `PRAGMA application_id` = [`APPLICATION_ID`]), was written by a newer
//! plangate ([`OpenStoreError::NewerSchema`]) or is found damaged
//! ([`OpenStoreError::Corrupt`]): by cheap checks whose cost does not grow
//! with the file (header, tables and columns, the first page of each table),
//! or by `PRAGMA quick_check` for small files, files about to be migrated and
//! with [`OpenOptions::full_check`]. Then it migrates the schema to
//! [`SCHEMA_VERSION`] (`PRAGMA user_version`): a new file gets the whole
//! schema in one transaction, an older file one transaction per migration.
//!
//! # Schema (version 4)
//!
//! All tables are `STRICT`; enum columns carry `CHECK` constraints with the
//! spellings of `plan-format.md`; times are unix milliseconds chosen by the
//! caller; JSON columns are checked with `json_valid`.
//!
//! | table | key | columns |
//! | --- | --- | --- |
//! | `runs` | `id` (26-char [`RunId`]) | `plan_name`, `plan_path`, `plan_hash` (SHA-256 hex), `environment`, `status` ([`RunStatus`]), `created_at`, `updated_at` (latest write about the run), `finished_at` (terminal statuses only), `exit_reason`, `completed_count` (counter behind `tasks.completed_seq`), `used_ms` (time the engine spent driving the run, summed over invocations) |
//! | `phase_usage` | (`run_id`, `phase_id`) | `used_ms`: the same per phase, for phase budgets |
//! | `run_plans` | `run_id` | `plan_text`: the whole plan file (its own table so that the many writes to `runs` never rewrite it) |
//! | `tasks` | (`run_id`, `task_id`) | `phase_id`, `position` (run order), `risk`, `decision` and `reason` (from the dry run), `state` ([`TaskState`]), `state_reason`, `attempts` (started `run` actions), `started_at`, `finished_at`, `verified` (0/1, null until a verify result), `completed_seq` (1, 2, ... in completion order: rollback goes in reverse), `environment` and `content_hash` (the task's target environment and content hash: promotion evidence, looked up by `tasks_by_content_hash`; null in rows recorded before schema 5) |
//! | `attempts` | `id` ([`AttemptId`]) | `run_id`, `task_id`, `role` ([`AttemptRole`]), `number` (1-based per task and role), `command` (redacted display text), `started_at`, `finished_at` and `outcome` ([`AttemptOutcome`]; both null while in flight: the intent row), `exit_code`, `signal`, `duration_ms`, `stdout_tail`, `stderr_tail`, `evidence` (JSON), `observed` (what `observe` found on resume of an attempt a crash cut off: [`ObservedEffect`]), `process_group` and `process_started` (the group the action's process leads and its start time in clock ticks since boot, field 22 of `/proc/PID/stat`, committed right after the spawn) |
//! | `events` | `seq` (autoincrement) | `run_id`, `at`, `kind`, `task_id`, `message`, `data` (JSON); append-only |
//! | `approvals` | `id` | `run_id`, `target_kind` (`task` or `phase`), `target_id`, `approved_by`, `reason`, `at`, `plan_hash` (the run's plan hash when recorded: the plan approved; null before schema 5), `used_at` (the engine started work on it), `revoked_at`, `revoked_by`, `revoke_reason` |
//! | `locks` | `run_id` | `pid`, `host`, `acquired_at`, `heartbeat_at` |
//!
//! Indexes serve every lookup the engine makes on its hot path: tasks by
//! (`run_id`, `position`), attempts by (`run_id`, `task_id`, `role`,
//! `number`) and, partially, the open attempts of a run; events and approvals
//! by run. Statements are prepared once per connection and cached.

#![warn(missing_docs)]

mod approvals;
mod attempts;
mod batch;
mod checkpoint;
mod error;
mod events;
mod evidence;
pub mod failpoint;
mod host;
mod ids;
mod locks;
mod open;
mod runs;
mod schema;
mod states;
mod store;
mod tasks;

#[cfg(test)]
mod test_support;

pub use approvals::{
    APPROVAL_RECORDED, APPROVAL_REVOKED, APPROVAL_USED, ApprovalRecord, ApprovalTarget,
    ApprovalValidity, Revocation, RevokeOutcome,
};
pub use attempts::{
    ATTEMPT_FINISHED, ATTEMPT_STARTED, AttemptRecord, AttemptResult, OpenAttemptSettlement,
};
pub use batch::{Batch, TryBatch};
pub use error::StoreError;
pub use events::{EventRecord, NewEvent};
pub use evidence::{EvidenceRecord, NoEvidence};
pub use host::{hostname, pid_is_alive};
pub use ids::{AttemptId, InvalidRunId, RUN_ID_LEN, RunId, SHORT_RUN_ID_MIN_LEN, ShortRunIds};
pub use locks::{LOCK_TAKEN_OVER, LockAcquired, LockError, LockHolder, LockRecord};
pub use open::{OpenOptions, OpenStoreError};
pub use runs::{
    CreateRun, NewRun, NewTask, PLAN_CHANGED, PlanChange, PlanChangeSummary, RUN_STARTED,
    RunRecord, TaskCounts, UnfinishedRun,
};
pub use schema::{APPLICATION_ID, SCHEMA_VERSION};
pub use states::{
    AttemptOutcome, AttemptRole, ObservedEffect, ParseStateError, RunStatus, TaskState,
};
pub use store::{Store, now_millis};
pub use tasks::{TASK_VERIFIED, TaskRecord};
