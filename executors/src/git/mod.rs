//! [`GitExecutor`]: `git:` actions, in process through libgit2.
//!
//! - `executor.rs`: the [`Executor`](crate::Executor) implementation.
//! - `job.rs`: one request resolved from the action and its context, and
//!   what every operation shares (redaction, outcomes, the blocking pool).
//! - `ops.rs`: each operation's two steps: decide and record, then change.
//! - `remote.rs`: `push`, `fetch`, `clone`, `ls-remote` and the credentials.
//! - `evidence.rs`: what is recorded before the side effect.
//! - `rollback.rs`, `observe.rs`, `preview.rs`: undo, look after a crash,
//!   look before a run.

mod evidence;
mod executor;
mod job;
mod observe;
mod ops;
mod preview;
mod remote;
mod rollback;

pub use executor::GitExecutor;
pub(crate) use job::short;
pub(crate) use remote::TOKEN_USER;
