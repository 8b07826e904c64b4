//! What an action run produced: [`ActionOutcome`], and what `observe` found
//! after a crash: [`Observation`].

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How an action run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutcomeStatus {
    /// It completed and reported success (exit code 0 for a process).
    Succeeded,
    /// It completed and reported failure, or was killed by a signal it was
    /// not sent by plangate.
    Failed,
    /// It passed the context's deadline and was stopped.
    TimedOut,
    /// The context's cancellation token fired and it was stopped (or never
    /// started).
    Cancelled,
}

impl OutcomeStatus {
    /// The spelling used in reports, matching the task states of the plan
    /// format (`succeeded`, `failed`, `timed-out`, `cancelled`).
    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeStatus::Succeeded => "succeeded",
            OutcomeStatus::Failed => "failed",
            OutcomeStatus::TimedOut => "timed-out",
            OutcomeStatus::Cancelled => "cancelled",
        }
    }
}

/// The evidence of one action run: how it ended and what it printed.
///
/// Everything textual is already redacted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActionOutcome {
    /// How it ended.
    pub status: OutcomeStatus,
    /// The exit code, when a process exited on its own.
    pub exit_code: Option<i32>,
    /// The signal that ended the process, when one did (SIGTERM or SIGKILL
    /// after a timeout or cancellation).
    pub signal: Option<i32>,
    /// Wall-clock time from start to end.
    pub duration: Duration,
    /// What ran, as a shell-quoted line with secrets redacted (for example
    /// `./scripts/render.sh 'docs/arch v2.md'`).
    pub command: String,
    /// The last bytes of stdout (see `ActionContext::output_limit`).
    pub stdout_tail: String,
    /// Whether earlier stdout was dropped from `stdout_tail`.
    pub stdout_truncated: bool,
    /// The last bytes of stderr.
    pub stderr_tail: String,
    /// Whether earlier stderr was dropped from `stderr_tail`.
    pub stderr_truncated: bool,
    /// What the executor recorded to undo or observe the action later (also
    /// handed to the checkpoint before the side effect). `None` for shell.
    pub evidence: Option<serde_json::Value>,
    /// Whether processes started by the action outlived it while holding its
    /// output; they were killed.
    pub leaked_processes: bool,
}

impl ActionOutcome {
    /// An outcome with `status` and `command` and nothing else recorded; for
    /// executors that do not run a process, and for test fakes.
    pub fn new(status: OutcomeStatus, command: impl Into<String>) -> Self {
        Self {
            status,
            exit_code: None,
            signal: None,
            duration: Duration::ZERO,
            command: command.into(),
            stdout_tail: String::new(),
            stdout_truncated: false,
            stderr_tail: String::new(),
            stderr_truncated: false,
            evidence: None,
            leaked_processes: false,
        }
    }

    /// Whether the action succeeded.
    pub fn succeeded(&self) -> bool {
        self.status == OutcomeStatus::Succeeded
    }
}

/// What an executor's `observe` found about an action that was started
/// before a crash and whose end was never recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "observation")]
pub enum Observation {
    /// The action's effect is in place.
    Applied,
    /// The action left no effect.
    NotApplied,
    /// Some of the effect is in place.
    Partial {
        /// What is and is not in place.
        detail: String,
    },
    /// The executor cannot tell (always so for shell). The engine then re-runs
    /// the task if it is idempotent and marks it `interrupted` otherwise.
    Unknown,
}
