//! [`Job`]: one git request, resolved from the action and its context (the
//! repository's path, the token, the redaction, cancellation), and what all
//! the operations share: running libgit2 off the runtime, the ways a step
//! ends early ([`Fail`]), and building outcomes.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::Instant,
};

use plangate_plans::{ExecutorKind, action::GitAction};
use tokio_util::sync::CancellationToken;

use super::evidence::GitEvidence;
use crate::{
    context::ActionContext,
    env_overrides::EnvOverrides,
    error::ExecutorError,
    outcome::{ActionOutcome, OutcomeStatus},
    process::quote_command,
    redact::{REDACTED, Redactor},
};

/// The variable the token is read from when neither the action nor the
/// instance names one (and only when it is set).
pub(super) const DEFAULT_TOKEN_ENV: &str = "GITHUB_TOKEN";

/// The author and committer when the repository configures none.
pub(super) const FALLBACK_NAME: &str = "plangate";
/// The e-mail address of [`FALLBACK_NAME`].
pub(super) const FALLBACK_EMAIL: &str = "plangate@localhost";

/// The token for HTTPS remotes: the variable it comes from and its value
/// (when set).
#[derive(Clone)]
pub(super) struct Token {
    /// The variable's name (shown in messages; the value never is).
    pub(super) variable: String,
    /// Its value, when set and not empty.
    pub(super) value: Option<String>,
}

/// One git request, resolved.
pub(super) struct Job {
    /// The action's fields.
    pub(super) action: GitAction,
    /// The repository (for `clone`, the folder cloned into), absolute or
    /// relative to the process's folder as the plan's folder is.
    pub(super) repo: PathBuf,
    /// The repository as the plan names it, for command lines.
    pub(super) repo_label: String,
    /// The token for HTTPS remotes, if a variable is named or the default
    /// one is set.
    pub(super) token: Option<Token>,
    /// A preview: the first step writes no object (no tag object, no merged
    /// tree).
    pub(super) dry_run: bool,
    redactor: Arc<Redactor>,
    cancel: CancellationToken,
    force_kill: CancellationToken,
    deadline: Option<Instant>,
}

/// Why a step of a request did not complete.
#[derive(Debug)]
pub(super) enum Fail {
    /// The action failed (a conflict, a rejected push, a branch that exists
    /// elsewhere): a failed outcome with this line (redacted) as its error.
    Action(String),
    /// The request could not be carried out.
    Error(ExecutorError),
    /// Cancellation or the deadline stopped it: an outcome with this status.
    Stopped(OutcomeStatus),
}

impl From<ExecutorError> for Fail {
    fn from(error: ExecutorError) -> Self {
        Fail::Error(error)
    }
}

/// The result of a step.
pub(super) type Step<T> = Result<T, Fail>;

impl Job {
    /// The request for `action` in `ctx`: the repository is the action's
    /// `repo`, else the instance's (when the action leaves the default `.`),
    /// joined to the plan's folder.
    pub(super) fn new(
        action: &GitAction,
        ctx: &ActionContext,
        env: &EnvOverrides,
    ) -> Result<Self, ExecutorError> {
        let lookup = |name: &str| env.get(name);
        let instance = match &ctx.instance {
            Some(instance) if instance.kind != ExecutorKind::Git => {
                return Err(ExecutorError::InstanceKind {
                    kind: ExecutorKind::Git,
                    instance: instance.kind,
                });
            }
            instance => instance.as_ref(),
        };
        ExecutorError::check_fields(
            ExecutorKind::Git,
            action.op.as_str(),
            action.field_problems(),
        )?;
        let repo_label = match instance.and_then(|instance| instance.repo.as_deref()) {
            Some(repo) if action.repo == "." => repo.to_owned(),
            _ => action.repo.clone(),
        };
        let variable = action
            .token_env
            .clone()
            .or_else(|| instance.and_then(|instance| instance.token_env.clone()));
        let token = match variable {
            Some(variable) => Some(Token {
                value: lookup(&variable),
                variable,
            }),
            None => lookup(DEFAULT_TOKEN_ENV).map(|value| Token {
                variable: DEFAULT_TOKEN_ENV.to_owned(),
                value: Some(value),
            }),
        };
        Ok(Self {
            action: action.clone(),
            repo: ctx.base_dir.join(&repo_label),
            repo_label,
            token,
            dry_run: false,
            redactor: Arc::clone(&ctx.redactor),
            cancel: ctx.cancel.clone(),
            force_kill: ctx.force_kill.clone(),
            deadline: ctx.deadline.map(tokio::time::Instant::into_std),
        })
    }

    /// Whether the request must stop now, and with which status.
    pub(super) fn stopped(&self) -> Option<OutcomeStatus> {
        if self.cancel.is_cancelled() || self.force_kill.is_cancelled() {
            Some(OutcomeStatus::Cancelled)
        } else if self
            .deadline
            .is_some_and(|deadline| Instant::now() >= deadline)
        {
            Some(OutcomeStatus::TimedOut)
        } else {
            None
        }
    }

    /// `Err(Fail::Stopped)` when the request must stop now.
    pub(super) fn check_stop(&self) -> Step<()> {
        match self.stopped() {
            Some(status) => Err(Fail::Stopped(status)),
            None => Ok(()),
        }
    }

    /// `text` with every secret replaced: the run's secrets, the token's
    /// value, and the user information of URLs.
    pub(super) fn redact(&self, text: &str) -> String {
        let mut text = self.redactor.redact(text).into_owned();
        if let Some(value) = self.token.as_ref().and_then(|token| token.value.as_deref()) {
            text = text.replace(value, REDACTED);
        }
        redact_userinfo(&text)
    }

    /// The error of a libgit2 call that should have worked.
    pub(super) fn git_error(&self, error: &git2::Error) -> Fail {
        Fail::Error(ExecutorError::Git {
            op: self.action.op.as_str(),
            repo: self.repo.clone(),
            message: self.redact(error.message()),
            transient: matches!(
                error.class(),
                git2::ErrorClass::Net | git2::ErrorClass::Http | git2::ErrorClass::Ssl
            ) || error.code() == git2::ErrorCode::Locked,
        })
    }

    /// A closure mapping a libgit2 error to [`Job::git_error`].
    pub(super) fn git(&self) -> impl Fn(git2::Error) -> Fail + '_ {
        move |error| self.git_error(&error)
    }

    /// The repository, opened.
    pub(super) fn open(&self) -> Step<git2::Repository> {
        git2::Repository::open(&self.repo).map_err(self.git())
    }

    /// A command line: `argv`, shell-quoted and redacted, then
    /// `(libgit2, repo LABEL)`.
    pub(super) fn command(&self, argv: &[&str]) -> String {
        let argv: Vec<String> = argv.iter().map(|arg| self.redact(arg)).collect();
        format!(
            "{} (libgit2, repo {})",
            quote_command(&argv, &Redactor::default()),
            self.redact(&self.repo_label)
        )
    }

    /// An outcome of `command` with `status`, stdout `said`, stderr
    /// `error`, the evidence and the time since `started`, all redacted.
    pub(super) fn outcome(
        &self,
        status: OutcomeStatus,
        command: &str,
        said: &str,
        error: &str,
        evidence: Option<&GitEvidence>,
        started: Instant,
    ) -> ActionOutcome {
        let mut outcome = ActionOutcome::new(status, self.redact(command));
        outcome.stdout_tail = line(&self.redact(said));
        outcome.stderr_tail = line(&self.redact(error));
        outcome.evidence = evidence.map(|evidence| evidence.to_json(self));
        outcome.duration = started.elapsed();
        outcome
    }

    /// The outcome of a step that ended with `fail`, or the error.
    pub(super) fn failed_outcome(
        &self,
        fail: Fail,
        command: &str,
        evidence: Option<&GitEvidence>,
        started: Instant,
    ) -> Result<ActionOutcome, ExecutorError> {
        match fail {
            Fail::Action(message) => Ok(self.outcome(
                OutcomeStatus::Failed,
                command,
                "",
                &format!("error: {message}"),
                evidence,
                started,
            )),
            Fail::Stopped(status) => Ok(self.outcome(
                status,
                command,
                "",
                &format!("stopped: {}", status.as_str()),
                evidence,
                started,
            )),
            Fail::Error(error) => Err(error),
        }
    }
}

/// `text` ending in one newline, or empty.
fn line(text: &str) -> String {
    let text = text.trim_end();
    if text.is_empty() {
        String::new()
    } else {
        format!("{text}\n")
    }
}

/// Runs libgit2 work on the blocking pool: git2 calls block.
pub(super) async fn blocking<T, F>(job: &Arc<Job>, work: F) -> Result<T, ExecutorError>
where
    F: FnOnce(&Job) -> T + Send + 'static,
    T: Send + 'static,
{
    let owned = Arc::clone(job);
    tokio::task::spawn_blocking(move || work(&owned))
        .await
        .map_err(|error| ExecutorError::Git {
            op: job.action.op.as_str(),
            repo: job.repo.clone(),
            message: format!("the libgit2 task ended abnormally: {error}"),
            transient: false,
        })
}

/// `text` with the user information of every URL in it (`https://user:pass@host`)
/// replaced by [`REDACTED`].
pub(super) fn redact_userinfo(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(found) = rest.find("://") {
        let authority_start = found + 3;
        out.push_str(&rest[..authority_start]);
        let after = &rest[authority_start..];
        let authority_len = after
            .find(|c: char| c == '/' || c == '?' || c == '#' || c.is_whitespace())
            .unwrap_or(after.len());
        let authority = &after[..authority_len];
        match authority.rfind('@') {
            Some(at) => {
                out.push_str(REDACTED);
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        rest = &after[authority_len..];
    }
    out.push_str(rest);
    out
}

/// The first seven hex digits of a sha.
pub(crate) fn short(sha: &str) -> &str {
    sha.get(..7).unwrap_or(sha)
}

/// `a, b and 3 more`: at most ten paths.
pub(super) fn list_paths(paths: &[String]) -> String {
    const SHOWN: usize = 10;
    let mut text = paths
        .iter()
        .take(SHOWN)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if paths.len() > SHOWN {
        text.push_str(&format!(" and {} more", paths.len() - SHOWN));
    }
    text
}

/// `1 file`, `3 files`.
pub(super) fn count(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// The path of `repo` as evidence records it.
pub(super) fn path_text(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_is_redacted() {
        assert_eq!(
            redact_userinfo("fetch https://x-access-token:abc@github.com/o/r.git failed"),
            "fetch https://[REDACTED]@github.com/o/r.git failed"
        );
        assert_eq!(
            redact_userinfo("https://github.com/o/r and http://u@h:80"),
            "https://github.com/o/r and http://[REDACTED]@h:80"
        );
        assert_eq!(redact_userinfo("/srv/git/r.git"), "/srv/git/r.git");
    }

    #[test]
    fn the_token_is_redacted_wherever_it_appears() {
        let action: GitAction =
            serde_yaml::from_str("op: push\ntoken_env: DEPLOY_GH").expect("valid");
        let ctx = ActionContext::new(
            "run",
            plangate_plans::TaskId::new("t").expect("valid id"),
            "/plans",
        );
        let mut env = EnvOverrides::default();
        env.set("DEPLOY_GH", "abc123-secret");
        let job = Job::new(&action, &ctx, &env).expect("a job");
        assert_eq!(
            job.redact("said abc123-secret to https://u:abc123-secret@h/r.git"),
            "said [REDACTED] to https://[REDACTED]@h/r.git"
        );
        assert_eq!(job.repo, Path::new("/plans/."));
        let token = job.token.as_ref().expect("a token");
        assert_eq!(token.variable, "DEPLOY_GH");
    }

    #[test]
    fn counts_and_lists() {
        assert_eq!(count(1, "file"), "1 file");
        assert_eq!(count(3, "file"), "3 files");
        let paths: Vec<String> = (0..12).map(|i| format!("f{i}")).collect();
        assert_eq!(
            list_paths(&paths),
            "f0, f1, f2, f3, f4, f5, f6, f7, f8, f9 and 2 more"
        );
        assert_eq!(short("1a2b3c4d5e"), "1a2b3c4");
    }
}
