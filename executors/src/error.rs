//! [`ExecutorError`]: why an executor could not carry out a request.
//!
//! An action that runs and fails is not an error: it is an
//! [`ActionOutcome`](crate::ActionOutcome) with status `failed`, `timed-out`
//! or `cancelled`. An `ExecutorError` means the action could not be run, or
//! its result could not be established.

use std::{io, path::PathBuf};

use plangate_plans::{ExecutorKind, FieldProblem};

use crate::process::SpawnError;

/// Why an executor could not carry out a preview, apply, verify, rollback or
/// observe.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExecutorError {
    /// The action is for another executor kind: the engine dispatched it to
    /// the wrong executor. A bug; not retryable.
    #[error("the `{executor}` executor cannot run a `{action}` action")]
    WrongKind {
        /// The executor that was asked.
        executor: ExecutorKind,
        /// The kind of the action.
        action: ExecutorKind,
    },

    /// The action's fields cannot be run as given (an empty argv, a
    /// configured instance of another kind). Plan validation should have
    /// caught it; not retryable.
    #[error("invalid `{kind}` action: {reason}")]
    InvalidAction {
        /// The action's kind.
        kind: ExecutorKind,
        /// What is wrong, as a lowercase fragment.
        reason: String,
    },

    /// The program could not be started: it is missing or not executable, or
    /// the working directory does not exist. Nothing ran. Not retryable
    /// without a fix to the plan or the machine.
    #[error("failed to spawn `{command}` in `{}`", cwd.display())]
    Spawn {
        /// The shell-quoted, redacted command line.
        command: String,
        /// The working directory it was to run in.
        cwd: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },

    /// The program started but waiting for it failed, so whether it finished
    /// is unknown (its process group was killed). Treat as an interrupted
    /// action: retryable only if the task is idempotent.
    #[error("failed to wait for `{command}`")]
    Wait {
        /// The shell-quoted, redacted command line.
        command: String,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },

    /// `rollback: auto` for an executor that knows no inverse of its actions
    /// (shell). Plan validation should reject it; not retryable.
    #[error("`{kind}` actions have no automatic rollback")]
    UnsupportedRollback {
        /// The executor kind.
        kind: ExecutorKind,
    },

    /// An automatic rollback or an observation needs the evidence `apply`
    /// records, and none was recorded (the run crashed before its
    /// checkpoint). Not retryable: a person has to decide.
    #[error("no rollback evidence was recorded for this `{kind}` action")]
    MissingEvidence {
        /// The executor kind.
        kind: ExecutorKind,
    },

    /// A tool run by the executor for its own purposes (a snapshot, a status
    /// query) failed, so the request could not be carried out. Retryable
    /// when the cause is transient (an unreachable cluster).
    #[error("`{command}` {}", describe_exit(*exit_code, *signal))]
    Tool {
        /// The shell-quoted, redacted command line.
        command: String,
        /// Its exit code, when it exited.
        exit_code: Option<i32>,
        /// The signal that ended it, when one did.
        signal: Option<i32>,
        /// The redacted tail of its stderr.
        stderr_tail: String,
    },

    /// The engine's checkpoint callback refused the evidence (the state
    /// store failed). The side effect was not started. Retryable once the
    /// store works again.
    #[error("failed to checkpoint rollback evidence: {0}")]
    Checkpoint(String),
}

impl ExecutorError {
    /// Whether trying the same request again may succeed without a change
    /// to the plan or the machine.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ExecutorError::Tool { .. } | ExecutorError::Checkpoint(_)
        )
    }
}

fn describe_exit(exit_code: Option<i32>, signal: Option<i32>) -> String {
    match (exit_code, signal) {
        (Some(code), _) => format!("exited with code {code}"),
        (None, Some(signal)) => format!("was killed by signal {signal}"),
        (None, None) => "failed".to_owned(),
    }
}

impl ExecutorError {
    /// `Ok` when an operation's fields break none of the rules of its table
    /// (`plangate_plans::OpFields`, the one plan validation reads), else
    /// [`ExecutorError::InvalidAction`] naming every problem.
    pub(crate) fn check_fields(
        kind: ExecutorKind,
        op: &str,
        problems: &[FieldProblem],
    ) -> Result<(), Self> {
        if problems.is_empty() {
            return Ok(());
        }
        let problems: Vec<String> = problems.iter().map(ToString::to_string).collect();
        Err(ExecutorError::InvalidAction {
            kind,
            reason: format!("`{op}` {}", problems.join("; ")),
        })
    }

    /// The error of running a process for an action of `kind`.
    pub(crate) fn from_spawn(error: SpawnError, kind: ExecutorKind) -> Self {
        match error {
            SpawnError::EmptyArgv => ExecutorError::InvalidAction {
                kind,
                reason: "the argv is empty".to_owned(),
            },
            SpawnError::Spawn {
                command,
                cwd,
                source,
            } => ExecutorError::Spawn {
                command,
                cwd,
                source,
            },
            SpawnError::Wait { command, source } => ExecutorError::Wait { command, source },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_lowercase_fragments() {
        let error = ExecutorError::Tool {
            command: "kubectl get deployment/api".to_owned(),
            exit_code: Some(1),
            signal: None,
            stderr_tail: String::new(),
        };
        assert_eq!(
            error.to_string(),
            "`kubectl get deployment/api` exited with code 1"
        );
        let error = ExecutorError::UnsupportedRollback {
            kind: ExecutorKind::Shell,
        };
        assert_eq!(
            error.to_string(),
            "`shell` actions have no automatic rollback"
        );
        assert!(!error.is_retryable());
    }
}
