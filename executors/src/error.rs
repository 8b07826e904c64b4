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

    /// No executor of the action's kind is available in this build (the
    /// engine has none registered for it). Not retryable.
    #[error("no `{kind}` executor is available in this build")]
    Unavailable {
        /// The action's kind.
        kind: ExecutorKind,
    },

    /// The action's fields do not fit its operation's table
    /// (`plangate_plans::OpFields`): one it needs is missing, one it does
    /// not use is given, or two exclude each other. Plan validation reports
    /// the same problems with positions, so this refuses only actions built
    /// some other way; not retryable.
    #[error("invalid `{kind}` action: `{op}` {}", joined(problems))]
    InvalidFields {
        /// The action's kind.
        kind: ExecutorKind,
        /// The operation (`apply`, `upgrade`, ...).
        op: &'static str,
        /// Every problem the table finds, in its order (never empty).
        problems: Vec<FieldProblem>,
    },

    /// A shell action with an empty `argv`. Plan validation should have
    /// caught it; not retryable.
    #[error("invalid `{kind}` action: the argv is empty")]
    EmptyArgv {
        /// The action's kind.
        kind: ExecutorKind,
    },

    /// The action names an executor instance (`executor: NAME`) of another
    /// kind. Plan validation should have caught it; not retryable.
    #[error("invalid `{kind}` action: its executor instance is of kind `{instance}`")]
    InstanceKind {
        /// The action's kind.
        kind: ExecutorKind,
        /// The instance's kind.
        instance: ExecutorKind,
    },

    /// The wrong-cluster guard refused the kube context: a production plan
    /// with a context whose name lacks `prod`, or another plan with one whose
    /// name has it. Nothing ran. Not retryable without a change to the plan,
    /// its vars or the executor instance (`allow_context_mismatch: true`).
    #[error(
        "the wrong-cluster guard refuses kube context `{context}` for environment `{environment}`: {}; set `allow_context_mismatch: true` on the executor instance if this context is right",
        if *production {
            "a production plan needs a context whose name contains `prod`"
        } else {
            "its name contains `prod` and the plan is not a production one"
        }
    )]
    WrongCluster {
        /// The action's kind.
        kind: ExecutorKind,
        /// The resolved kube context.
        context: String,
        /// The plan's `environment`.
        environment: String,
        /// Whether the plan's environment is a production one.
        production: bool,
    },

    /// No kube context is configured (action, executor instance,
    /// `vars.kube_context`) and the kubeconfig has no current context.
    /// Nothing ran. Not retryable without a change to the plan or the
    /// kubeconfig.
    #[error(
        "no kube context is configured for this `{kind}` action (action `context`, the executor instance's `context` or `vars.kube_context`) and the kubeconfig has no current context"
    )]
    NoContext {
        /// The action's kind.
        kind: ExecutorKind,
    },

    /// The kubeconfig could not be read to find its current context.
    /// Nothing ran. Not retryable without a fix to the file.
    #[error("failed to read the kubeconfig of this `{kind}` action for its current context")]
    Kubeconfig {
        /// The action's kind.
        kind: ExecutorKind,
        /// Why it could not be read.
        #[source]
        source: io::Error,
    },

    /// The evidence recorded for the attempt is not this executor's (the
    /// state file was written by another version, or edited). Not
    /// retryable: a person has to decide.
    #[error("the recorded evidence of this `{kind}` action cannot be read")]
    InvalidEvidence {
        /// The executor kind.
        kind: ExecutorKind,
        /// What did not match.
        #[source]
        source: serde_json::Error,
    },

    /// `rollback: auto` would restore a snapshot holding a redacted secret
    /// value (secrets never reach the state file), which would write the
    /// placeholder into the cluster. Nothing was restored. Not retryable:
    /// restore the object by hand.
    #[error(
        "the snapshot of {object} holds a redacted secret value, and restoring it would write the placeholder into the cluster; restore it by hand"
    )]
    RedactedSnapshot {
        /// The object, as `Kind namespace/name`.
        object: String,
    },

    /// `rollback: auto` would re-create or replace an object whose kind the
    /// server no longer serves (a CRD was removed). Not retryable.
    #[error("the server does not serve the kind of {object} any more, so it cannot be restored")]
    KindNotServed {
        /// The object, as `Kind namespace/name`.
        object: String,
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
    #[error("`{command}` {}{}", describe_exit(*exit_code, *signal), quoted_error_line(stderr_tail))]
    Tool {
        /// The shell-quoted, redacted command line.
        command: String,
        /// Its exit code, when it exited.
        exit_code: Option<i32>,
        /// The signal that ended it, when one did.
        signal: Option<i32>,
        /// Its redacted stderr (head and tail, see
        /// [`ActionOutcome::stderr`](crate::ActionOutcome::stderr)); the
        /// message quotes its [`error_line`](crate::error_line).
        stderr_tail: String,
    },

    /// A `github_merge` request could not be carried out: no token, an
    /// unusable `api_url`, GitHub unreachable after the retries, or an answer
    /// that is not GitHub's. (GitHub refusing the merge is a failed outcome,
    /// not this.) Retryable when `transient` (no answer at all).
    #[error("github_merge of {repo}#{pr}: {message}")]
    Github {
        /// `OWNER/NAME`.
        repo: String,
        /// The pull request number.
        pr: u64,
        /// What went wrong, redacted.
        message: String,
        /// Whether trying again later may succeed.
        transient: bool,
    },

    /// libgit2 could not carry out a `git` action's request: the repository
    /// cannot be opened, an object cannot be read or written, the remote
    /// cannot be reached. (What the action itself refuses, such as a
    /// conflict or a rejected push, is a failed outcome instead.) The
    /// message is libgit2's, redacted. Retryable when `transient` (a
    /// network, HTTP or TLS failure, a locked ref).
    #[error("libgit2 could not carry out git `{op}` in `{}`: {message}", repo.display())]
    Git {
        /// The operation (`commit`, `push`, ...).
        op: &'static str,
        /// The repository's path.
        repo: PathBuf,
        /// libgit2's message, redacted.
        message: String,
        /// Whether the cause may pass (network, HTTP, TLS, a locked ref).
        transient: bool,
    },

    /// The engine's checkpoint callback refused the evidence (the state
    /// store failed). The side effect was not started. Retryable once the
    /// store works again.
    #[error("failed to checkpoint rollback evidence")]
    Checkpoint {
        /// The store's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl ExecutorError {
    /// Whether trying the same request again may succeed without a change
    /// to the plan or the machine.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ExecutorError::Tool { .. }
                | ExecutorError::Checkpoint { .. }
                | ExecutorError::Github {
                    transient: true,
                    ..
                }
                | ExecutorError::Git {
                    transient: true,
                    ..
                }
        )
    }
}

/// `a; b`: the problems of one action, as its error message lists them.
fn joined(problems: &[FieldProblem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// `: <the tool's error line>`, or nothing for an empty stderr.
fn quoted_error_line(stderr: &str) -> String {
    crate::outcome::error_line(stderr).map_or_else(String::new, |line| format!(": {line}"))
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
    /// [`ExecutorError::InvalidFields`] naming every problem.
    pub(crate) fn check_fields(
        kind: ExecutorKind,
        op: &'static str,
        problems: Vec<FieldProblem>,
    ) -> Result<(), Self> {
        if problems.is_empty() {
            return Ok(());
        }
        Err(ExecutorError::InvalidFields { kind, op, problems })
    }

    /// The error of running a process for an action of `kind`.
    pub(crate) fn from_spawn(error: SpawnError, kind: ExecutorKind) -> Self {
        match error {
            SpawnError::EmptyArgv => ExecutorError::EmptyArgv { kind },
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
        let error = ExecutorError::Tool {
            command: "kubectl apply -f app.yaml --dry-run=client".to_owned(),
            exit_code: Some(1),
            signal: None,
            stderr_tail: "W1202 warning\nerror: context \"dev\" does not exist\n".to_owned(),
        };
        assert_eq!(
            error.to_string(),
            "`kubectl apply -f app.yaml --dry-run=client` exited with code 1: error: context \"dev\" does not exist"
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

    #[test]
    fn each_failure_has_its_own_message_and_retryability() {
        let kubectl = ExecutorKind::Kubectl;
        let json_error = serde_json::from_str::<u8>("x").expect_err("not a number");
        for (error, message, retryable) in [
            (
                ExecutorError::Unavailable { kind: kubectl },
                "no `kubectl` executor is available in this build",
                false,
            ),
            (
                ExecutorError::InvalidFields {
                    kind: kubectl,
                    op: "delete",
                    problems: vec![FieldProblem::MissingOneOf {
                        fields: &["files", "kustomize", "resource"],
                    }],
                },
                "invalid `kubectl` action: `delete` needs `files`, `kustomize` or `resource`",
                false,
            ),
            (
                ExecutorError::InvalidFields {
                    kind: kubectl,
                    op: "apply",
                    problems: vec![
                        FieldProblem::Together {
                            first: "prune",
                            second: "selector",
                        },
                        FieldProblem::Missing { field: "files" },
                    ],
                },
                "invalid `kubectl` action: `apply` takes `prune` or `selector`, not both; needs `files`",
                false,
            ),
            (
                ExecutorError::EmptyArgv {
                    kind: ExecutorKind::Shell,
                },
                "invalid `shell` action: the argv is empty",
                false,
            ),
            (
                ExecutorError::InstanceKind {
                    kind: kubectl,
                    instance: ExecutorKind::Helm,
                },
                "invalid `kubectl` action: its executor instance is of kind `helm`",
                false,
            ),
            (
                ExecutorError::WrongCluster {
                    kind: kubectl,
                    context: "prod-eu".to_owned(),
                    environment: "dev".to_owned(),
                    production: false,
                },
                "the wrong-cluster guard refuses kube context `prod-eu` for environment `dev`: its name contains `prod` and the plan is not a production one; set `allow_context_mismatch: true` on the executor instance if this context is right",
                false,
            ),
            (
                ExecutorError::NoContext { kind: kubectl },
                "no kube context is configured for this `kubectl` action (action `context`, the executor instance's `context` or `vars.kube_context`) and the kubeconfig has no current context",
                false,
            ),
            (
                ExecutorError::Kubeconfig {
                    kind: ExecutorKind::Helm,
                    source: io::Error::other("permission denied"),
                },
                "failed to read the kubeconfig of this `helm` action for its current context",
                false,
            ),
            (
                ExecutorError::InvalidEvidence {
                    kind: kubectl,
                    source: json_error,
                },
                "the recorded evidence of this `kubectl` action cannot be read",
                false,
            ),
            (
                ExecutorError::RedactedSnapshot {
                    object: "Secret demo/db".to_owned(),
                },
                "the snapshot of Secret demo/db holds a redacted secret value, and restoring it would write the placeholder into the cluster; restore it by hand",
                false,
            ),
            (
                ExecutorError::KindNotServed {
                    object: "Widget demo/w".to_owned(),
                },
                "the server does not serve the kind of Widget demo/w any more, so it cannot be restored",
                false,
            ),
            (
                ExecutorError::Git {
                    op: "push",
                    repo: PathBuf::from("/srv/gitops"),
                    message: "failed to connect to 127.0.0.1: connection refused".to_owned(),
                    transient: true,
                },
                "libgit2 could not carry out git `push` in `/srv/gitops`: failed to connect to 127.0.0.1: connection refused",
                true,
            ),
            (
                ExecutorError::Git {
                    op: "commit",
                    repo: PathBuf::from("/srv/gitops"),
                    message: "could not find repository at '/srv/gitops'".to_owned(),
                    transient: false,
                },
                "libgit2 could not carry out git `commit` in `/srv/gitops`: could not find repository at '/srv/gitops'",
                false,
            ),
            (
                ExecutorError::Checkpoint {
                    source: "disk full".into(),
                },
                "failed to checkpoint rollback evidence",
                true,
            ),
        ] {
            assert_eq!(error.to_string(), message);
            assert_eq!(error.is_retryable(), retryable, "{message}");
        }
    }

    #[test]
    fn sources_are_kept() {
        let error = ExecutorError::Checkpoint {
            source: "disk full".into(),
        };
        let source = std::error::Error::source(&error).expect("a source");
        assert_eq!(source.to_string(), "disk full");
    }
}
