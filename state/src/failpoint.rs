//! An internal hook for the fault-injection tests: with
//! `PLANGATE_INTERNAL_KILL_AFTER_COMMIT=N` in its environment, the process
//! kills itself with SIGKILL right after its Nth commit to a state file is
//! durable, before it acts on it. A test walks N over every commit of a
//! run and checks what `resume` makes of each cut.
//!
//! Unset (always, outside those tests), a commit costs one load of a
//! once-initialised value.

use std::sync::{
    OnceLock,
    atomic::{AtomicU64, Ordering},
};

/// The variable that arms the hook.
pub const KILL_AFTER_COMMIT: &str = "PLANGATE_INTERNAL_KILL_AFTER_COMMIT";

/// The commits made so far by this process, on every connection.
static COMMITS: AtomicU64 = AtomicU64::new(0);

/// The commit after which to die, read once.
fn armed() -> Option<u64> {
    static AT: OnceLock<Option<u64>> = OnceLock::new();
    *AT.get_or_init(|| {
        std::env::var(KILL_AFTER_COMMIT)
            .ok()
            .and_then(|text| text.parse().ok())
    })
}

/// Called after every successful commit.
pub(crate) fn committed() {
    if let Some(at) = armed()
        && COMMITS.fetch_add(1, Ordering::SeqCst) + 1 == at
    {
        #[cfg(unix)]
        let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
        std::process::abort();
    }
}
