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
///
/// # The tool's own words
///
/// [`error_line`](Self::error_line) is the one line that says why a failed
/// run failed, in the tool's words (`error: context "dev" does not exist`,
/// `Error: UPGRADE FAILED: ...`): what a task's reason, the console,
/// `status` and the reports quote. [`stderr`](Self::stderr) is the whole
/// stderr kept: its head, a marked gap, and its tail.
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
    /// The first bytes of stderr (up to 4 KiB, whole lines) when
    /// `stderr_tail` does not hold all of it, else empty: the first error
    /// line is never cut off by a long output. Empty in outcomes recorded
    /// before it existed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub stderr_head: String,
    /// How many bytes of stderr between `stderr_head` and `stderr_tail`
    /// were not kept.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub stderr_omitted: u64,
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
            stderr_head: String::new(),
            stderr_omitted: 0,
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

    /// The line of stderr that says what went wrong, in the tool's own
    /// words: the first line starting with `error:` or `Error:` in the head
    /// or the tail, else the last non-empty line. One line, at most
    /// [`ERROR_LINE_LIMIT`] characters (then ending in `...`); redacted like
    /// all of the outcome. `None` when stderr is empty.
    ///
    /// ```
    /// use plangate_executors::{ActionOutcome, OutcomeStatus};
    ///
    /// let mut outcome = ActionOutcome::new(OutcomeStatus::Failed, "kubectl apply -f app.yaml");
    /// outcome.stderr_tail = "error: Apply failed with 1 conflict: conflict with \"kubectl\"\n\
    ///     Please review the fields above.\n\
    ///     https://kubernetes.io/docs/reference/using-api/server-side-apply/#conflicts\n"
    ///     .to_owned();
    /// assert_eq!(
    ///     outcome.error_line().as_deref(),
    ///     Some("error: Apply failed with 1 conflict: conflict with \"kubectl\"")
    /// );
    /// ```
    pub fn error_line(&self) -> Option<String> {
        first_error_line(&self.stderr_head)
            .or_else(|| first_error_line(&self.stderr_tail))
            .or_else(|| last_line(&self.stderr_tail))
            .or_else(|| last_line(&self.stderr_head))
            .map(bounded)
    }

    /// All of stderr that was kept: the head, a line marking the bytes not
    /// kept, and the tail; just the tail when it holds everything.
    pub fn stderr(&self) -> String {
        if self.stderr_head.is_empty() {
            return self.stderr_tail.clone();
        }
        let mut text = self.stderr_head.clone();
        if !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&format!(
            "[... {} bytes of stderr not kept ...]\n",
            self.stderr_omitted
        ));
        text.push_str(&self.stderr_tail);
        text
    }
}

/// Bytes of a stream's beginning kept when its tail does not hold all of it
/// ([`ActionOutcome::stderr_head`]).
pub(crate) const HEAD_LIMIT: usize = 4 * 1024;

/// The longest [`error_line`] returns, in characters (before its `...`).
pub const ERROR_LINE_LIMIT: usize = 300;

/// The line of a tool's `stderr` that says what went wrong: the first line
/// starting with `error:` or `Error:` (kubectl, helm and most Go tools print
/// one; the lines after it are often help or a URL), else the last
/// non-empty line; trimmed and bounded to [`ERROR_LINE_LIMIT`] characters.
/// [`ActionOutcome::error_line`] applies it to an outcome's head and tail.
pub fn error_line(stderr: &str) -> Option<String> {
    first_error_line(stderr)
        .or_else(|| last_line(stderr))
        .map(bounded)
}

fn first_error_line(stderr: &str) -> Option<&str> {
    stderr
        .lines()
        .map(str::trim)
        .find(|line| line.starts_with("error:") || line.starts_with("Error:"))
}

fn last_line(stderr: &str) -> Option<&str> {
    stderr.lines().map(str::trim).rfind(|line| !line.is_empty())
}

fn bounded(line: &str) -> String {
    match line.char_indices().nth(ERROR_LINE_LIMIT) {
        Some((end, _)) => format!("{}...", &line[..end]),
        None => line.to_owned(),
    }
}

#[expect(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's skip_serializing_if passes a reference"
)]
fn is_zero(value: &u64) -> bool {
    *value == 0
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

/// What a failed `apply` left behind, as its executor judges from the
/// evidence it recorded and the outcome it returned
/// ([`crate::Executor::left_changes`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeftChanges {
    /// Nothing was changed (for example the tool failed before it touched
    /// any object): there is nothing to undo.
    None {
        /// Why nothing was changed, in words (`the context `dev` does not
        /// exist`).
        reason: String,
    },
    /// Something may have been changed: roll back.
    Some,
    /// The executor cannot tell; the engine asks `observe`.
    Unknown,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(head: &str, tail: &str) -> ActionOutcome {
        let mut outcome = ActionOutcome::new(OutcomeStatus::Failed, "helm upgrade");
        head.clone_into(&mut outcome.stderr_head);
        tail.clone_into(&mut outcome.stderr_tail);
        outcome
    }

    #[test]
    fn the_error_line_is_the_first_error_line_else_the_last_line() {
        let helm = failed(
            "",
            "client.go:486: [debug] Starting delete\nError: UPGRADE FAILED: pre-upgrade hooks failed: resource Job/demo/migrate not ready\ncontext deadline exceeded\n",
        );
        assert_eq!(
            helm.error_line().as_deref(),
            Some(
                "Error: UPGRADE FAILED: pre-upgrade hooks failed: resource Job/demo/migrate not ready"
            )
        );
        assert_eq!(
            failed("", "compiling\n  no such file  \n\n")
                .error_line()
                .as_deref(),
            Some("no such file")
        );
        assert_eq!(failed("", " \n").error_line(), None);
    }

    #[test]
    fn the_head_comes_first() {
        let outcome = failed(
            "error: context \"dev\" does not exist\n",
            "error: a later one\nthe last line\n",
        );
        assert_eq!(
            outcome.error_line().as_deref(),
            Some("error: context \"dev\" does not exist")
        );
        let outcome = failed("noise\n", "more noise\nthe last line\n");
        assert_eq!(outcome.error_line().as_deref(), Some("the last line"));
    }

    #[test]
    fn the_error_line_is_bounded() {
        let line = error_line(&format!("error: {}", "é".repeat(400))).expect("a line");
        assert_eq!(line.chars().count(), ERROR_LINE_LIMIT + 3);
        assert!(line.ends_with("..."));
    }

    #[test]
    fn stderr_marks_the_gap() {
        let mut outcome = failed("error: first\n", "last\n");
        outcome.stderr_omitted = 1234;
        assert_eq!(
            outcome.stderr(),
            "error: first\n[... 1234 bytes of stderr not kept ...]\nlast\n"
        );
        assert_eq!(failed("", "all of it\n").stderr(), "all of it\n");
    }

    #[test]
    fn outcomes_recorded_before_the_head_still_read() {
        let old = serde_json::json!({
            "status": "failed", "exit_code": 1, "signal": null,
            "duration": {"secs": 1, "nanos": 0}, "command": "kubectl apply",
            "stdout_tail": "", "stdout_truncated": false,
            "stderr_tail": "error: boom\n", "stderr_truncated": false,
            "evidence": null, "leaked_processes": false
        });
        let outcome: ActionOutcome = serde_json::from_value(old).expect("reads");
        assert_eq!(outcome.stderr_head, "");
        assert_eq!(outcome.stderr_omitted, 0);
        let json = serde_json::to_value(&outcome).expect("writes");
        assert!(json.get("stderr_head").is_none());
    }
}
