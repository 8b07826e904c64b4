//! [`GithubMergeExecutor`]: merges a GitHub pull request only when that is
//! safe, pinned to the head it checked, records the merge commit, and undoes
//! a merge by opening (and, if asked, merging) a revert pull request.
//!
//! The contract is `docs/plan-reference.md`, section `github_merge`. GitHub
//! is reached through octocrab ([`api`]), the merge gate is read in
//! [`gate`], and what GitHub's REST API cannot do (list conflicting files,
//! revert a commit) is done with libgit2 in [`gitwork`].

mod api;
mod gate;
mod gitwork;

use std::{borrow::Cow, sync::Arc};

use http::Method;
use octocrab::models::{commits::CommitComparison, pulls::PullRequest};
use plangate_plans::{
    Action, ActionSpec, ExecutorKind, Rollback,
    action::{GithubMergeAction, MergeMethod},
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::{
    context::ActionContext,
    env_overrides::EnvOverrides,
    error::ExecutorError,
    executor::{BoxFuture, Executor},
    kube::ScratchDir,
    outcome::{ActionOutcome, LeftChanges, Observation, OutcomeStatus},
    preview::{ChangeKind, Preview, PreviewChange},
    redact::Redactor,
};
use api::{Api, ApiError, Retry};
use gate::{ConflictFinder, Gate, LISTED, short};

/// The API when neither the action nor its instance names one.
const DEFAULT_API_URL: &str = "https://api.github.com";
/// The token variable when neither the action nor its instance names one.
const DEFAULT_TOKEN_ENV: &str = "GITHUB_TOKEN";
/// The variable naming the API when neither the action nor its instance
/// does (GitHub Actions sets it; so can a user of GitHub Enterprise Server).
const API_URL_ENV: &str = "GITHUB_API_URL";

/// Runs `github_merge:` actions against GitHub's REST API (octocrab), with
/// libgit2 for conflicting files and reverts.
///
/// The token is read from the variable the action names (`token_env`,
/// default `GITHUB_TOKEN`) when the action runs, and redacted from
/// everything the executor returns or logs.
///
/// ```
/// use plangate_executors::{Executor, GithubMergeExecutor};
///
/// let executor = GithubMergeExecutor::new().with_env("GITHUB_TOKEN", "ghp_example");
/// assert_eq!(executor.kind(), plangate_plans::ExecutorKind::GithubMerge);
/// ```
#[derive(Clone, Debug, Default)]
pub struct GithubMergeExecutor {
    /// Variables read before the process environment.
    env: EnvOverrides,
}

impl GithubMergeExecutor {
    /// The executor, reading tokens and `GITHUB_API_URL` from the process
    /// environment.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets a variable this executor reads before the process environment
    /// (a token, `GITHUB_API_URL`): for embedding plangate, and for tests.
    #[must_use]
    pub fn with_env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.set(name, value);
        self
    }

    fn var(&self, name: &str) -> Option<String> {
        self.env.get(name)
    }
}

/// What `apply` records: before the merge request (with `merge_sha: None`)
/// and, completed, in the outcome.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct MergeEvidence {
    repo: String,
    pr: u64,
    api_url: String,
    base: String,
    head_ref: String,
    /// The head the merge was pinned to.
    head_sha: String,
    method: String,
    /// Whether the merge request was sent (so a crash after it may have merged).
    merge_requested: bool,
    /// The merge commit GitHub reported.
    merge_sha: Option<String>,
    /// The pull request was already merged, not by this action.
    already_merged: bool,
    /// The head branch was deleted after the merge.
    deleted_branch: bool,
    /// Every retry of a GitHub request.
    retries: Vec<Retry>,
}

/// What an automatic rollback records.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct RevertEvidence {
    reverted_pr: u64,
    merge_sha: String,
    revert_branch: String,
    revert_sha: Option<String>,
    revert_pr: Option<u64>,
    revert_merge_sha: Option<String>,
    retries: Vec<Retry>,
}

/// One request's settings: the action, its API, its token.
struct Call<'a> {
    action: &'a GithubMergeAction,
    api: Api,
    token: String,
    redactor: Arc<Redactor>,
}

impl Call<'_> {
    fn command(&self, verb: &str) -> String {
        format!(
            "github_merge {verb} {}#{} ({}, via {})",
            self.action.repo,
            self.action.pr,
            method_name(self.action.method),
            self.api.base()
        )
    }

    fn error(&self, message: impl Into<String>, transient: bool) -> ExecutorError {
        ExecutorError::Github {
            repo: self.action.repo.clone(),
            pr: self.action.pr,
            message: self.redactor.redact(&message.into()).into_owned(),
            transient,
        }
    }

    /// An outcome of `status` with `stdout` and `stderr`, redacted.
    fn outcome(
        &self,
        status: OutcomeStatus,
        verb: &str,
        stdout: &str,
        stderr: &str,
        evidence: Option<Value>,
        started: Instant,
    ) -> ActionOutcome {
        let mut outcome = ActionOutcome::new(status, self.command(verb));
        outcome.stdout_tail = self.redactor.redact(stdout).into_owned();
        outcome.stderr_tail = self.redactor.redact(stderr).into_owned();
        outcome.evidence = evidence.map(|value| redact_json(&self.redactor, value));
        outcome.duration = started.elapsed();
        outcome
    }

    /// The outcome of a request that got no usable answer: timed out,
    /// cancelled, or an error.
    fn api_failure(
        &self,
        error: &ApiError,
        verb: &str,
        evidence: Option<Value>,
        started: Instant,
    ) -> Result<ActionOutcome, ExecutorError> {
        let line = format!("error: {error}");
        let status = if error.is_timeout() {
            OutcomeStatus::TimedOut
        } else if error.is_cancelled() {
            OutcomeStatus::Cancelled
        } else if let ApiError::Status { .. } = error {
            OutcomeStatus::Failed
        } else {
            return Err(self.error(error.to_string(), error.is_transient()));
        };
        Ok(self.outcome(status, verb, "", &line, evidence, started))
    }
}

fn spec(action: &Action) -> Result<&GithubMergeAction, ExecutorError> {
    match &action.spec {
        ActionSpec::GithubMerge(merge) => Ok(merge),
        _ => Err(ExecutorError::WrongKind {
            executor: ExecutorKind::GithubMerge,
            action: action.kind(),
        }),
    }
}

/// Builds the client of `action`: its API URL and token, from the action,
/// else its instance, else the defaults.
fn call<'a>(
    executor: &GithubMergeExecutor,
    action: &'a GithubMergeAction,
    ctx: &ActionContext,
) -> Result<Call<'a>, ExecutorError> {
    let instance = ctx.instance.as_ref();
    if let Some(instance) = instance
        && instance.kind != ExecutorKind::GithubMerge
    {
        return Err(ExecutorError::InstanceKind {
            kind: ExecutorKind::GithubMerge,
            instance: instance.kind,
        });
    }
    let api_url = action
        .api_url
        .clone()
        .or_else(|| instance.and_then(|instance| instance.api_url.clone()))
        .or_else(|| {
            executor
                .var(API_URL_ENV)
                .filter(|url| !url.trim().is_empty())
        })
        .unwrap_or_else(|| DEFAULT_API_URL.to_owned());
    let token_env = action
        .token_env
        .clone()
        .or_else(|| instance.and_then(|instance| instance.token_env.clone()))
        .unwrap_or_else(|| DEFAULT_TOKEN_ENV.to_owned());
    let failure = |message: String| ExecutorError::Github {
        repo: action.repo.clone(),
        pr: action.pr,
        message,
        transient: false,
    };
    let token = match executor.var(&token_env) {
        Some(token) if !token.trim().is_empty() => token,
        Some(_) => {
            return Err(failure(format!(
                "the token variable `{token_env}` is empty"
            )));
        }
        None => {
            return Err(failure(format!(
                "the token variable `{token_env}` is not set (or empty); export it (or name another with `token_env`)"
            )));
        }
    };
    let redactor = match ctx.redactor.with_value(&token) {
        Cow::Borrowed(redactor) => Arc::new(redactor.clone()),
        Cow::Owned(redactor) => Arc::new(redactor),
    };
    let api = Api::new(
        &api_url,
        &token,
        ctx.deadline,
        ctx.cancel.clone(),
        Arc::clone(&redactor),
    )
    .map_err(failure)?;
    Ok(Call {
        action,
        api,
        token,
        redactor,
    })
}

/// Lists conflicting files by merging in a scratch repository.
struct GitConflicts<'a> {
    token: &'a str,
}

impl ConflictFinder for GitConflicts<'_> {
    fn conflicts<'a>(
        &'a self,
        pr: &'a PullRequest,
        base_ref: &'a str,
        head_sha: &'a str,
    ) -> BoxFuture<'a, Result<Vec<String>, String>> {
        Box::pin(async move {
            let base_url = clone_url(pr.base.repo.as_ref())
                .ok_or("GitHub gave no clone URL for the base repository")?;
            let head_url = clone_url(pr.head.repo.as_ref()).unwrap_or_else(|| base_url.clone());
            let scratch = ScratchDir::new(ExecutorKind::GithubMerge)
                .await
                .map_err(|error| error.to_string())?;
            let dir = scratch.path().to_path_buf();
            let token = self.token.to_owned();
            let base_ref = base_ref.to_owned();
            let head_ref = pr.head.ref_field.clone();
            let head_sha = head_sha.to_owned();
            let found = tokio::task::spawn_blocking(move || {
                gitwork::conflicting_files(
                    &dir, &token, &base_url, &base_ref, &head_url, &head_ref, &head_sha,
                )
            })
            .await
            .map_err(|error| format!("the libgit2 task failed: {error}"))?;
            drop(scratch);
            found
        })
    }
}

fn clone_url(repo: Option<&octocrab::models::Repository>) -> Option<String> {
    repo.and_then(|repo| repo.clone_url.as_ref())
        .map(ToString::to_string)
}

fn method_name(method: MergeMethod) -> &'static str {
    match method {
        MergeMethod::Merge => "merge",
        MergeMethod::Squash => "squash",
        MergeMethod::Rebase => "rebase",
    }
}

/// `value` with every string redacted.
fn redact_json(redactor: &Redactor, value: Value) -> Value {
    crate::redact::redact_json_strings(value, &|text| redactor.redact(text).into_owned())
}

fn to_json<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// The preview of a gate.
fn preview_of(call: &Call<'_>, gate: &Gate) -> Preview {
    let action = call.action;
    let number = action.pr;
    let title = gate.pr.title.clone().unwrap_or_default();
    let summary = if gate.merged {
        format!(
            "pull request {}#{number} `{title}` is already merged (merge commit {}); nothing to merge",
            action.repo,
            gate.pr.merge_commit_sha.as_deref().map_or("unknown", short)
        )
    } else {
        format!(
            "would {} pull request {}#{number} `{title}` ({} into {}, head {}): {} commit(s), {} file(s)",
            method_name(action.method),
            action.repo,
            gate.head_ref,
            gate.base_ref,
            short(&gate.head_sha),
            gate.commit_count,
            gate.file_count
        )
    };
    let changes = gate
        .files
        .iter()
        .map(|line| {
            let (status, file) = line.split_once(' ').unwrap_or(("modified", line));
            let change = match status {
                "added" => ChangeKind::Create,
                "removed" => ChangeKind::Delete,
                _ => ChangeKind::Update,
            };
            PreviewChange {
                object: format!("{}:{file}", gate.base_ref),
                change,
                diff: None,
            }
        })
        .collect();
    let state = match (gate.merged, &gate.pr.state) {
        (true, _) => "merged",
        (false, Some(octocrab::models::IssueState::Closed)) => "closed",
        _ => "open",
    };
    let mut preview = Preview::new(summary, changes)
        .with_detail("state", state)
        .with_detail(
            "draft",
            if gate.pr.draft == Some(true) {
                "yes"
            } else {
                "no"
            },
        )
        .with_detail(
            "mergeable",
            gate.mergeable
                .map_or("null (GitHub still computing)".to_owned(), |m| {
                    m.to_string()
                }),
        )
        .with_detail("mergeable_state", gate.mergeable_state.clone());
    if !gate.conflicts.is_empty() {
        preview = preview.with_detail("conflicting files", gate.conflicts.join(", "));
    }
    if let Some(note) = &gate.conflicts_note {
        preview = preview.with_detail("conflicting files", format!("unknown: {note}"));
    }
    for check in &gate.checks {
        preview = preview.with_detail(
            format!("check {}", check.name),
            format!("{} (required by {})", check.state, check.required_by),
        );
    }
    let approvals = if gate.approvers.is_empty() {
        format!("0 of {} required", gate.required_approvals)
    } else {
        format!(
            "{} of {} required ({})",
            gate.approvers.len(),
            gate.required_approvals,
            gate.approvers.join(", ")
        )
    };
    preview = preview.with_detail("approvals", approvals);
    if !gate.changes_requested.is_empty() {
        preview = preview.with_detail("changes requested by", gate.changes_requested.join(", "));
    }
    preview = preview
        .with_detail("head", format!("{} ({})", gate.head_sha, gate.head_ref))
        .with_detail("base", gate.base_ref.clone());
    if gate.strict {
        preview = preview.with_detail(
            "up to date with base",
            match gate.behind_by {
                Some(0) => "yes (required)".to_owned(),
                Some(n) => format!("no: {n} commit(s) behind (required)"),
                None => "unknown (required)".to_owned(),
            },
        );
    }
    if let Some(note) = &gate.protection_note {
        preview = preview.with_detail("branch protection", note.clone());
    }
    let more = |count: u64, listed: usize| {
        if count > listed as u64 {
            format!("; and {} more", count - listed as u64)
        } else {
            String::new()
        }
    };
    preview = preview
        .with_detail(
            "commits",
            format!(
                "{}: {}{}",
                gate.commit_count,
                gate.commits.join("; "),
                more(gate.commit_count, gate.commits.len().min(LISTED))
            ),
        )
        .with_detail(
            "files",
            format!(
                "{}: {}{}",
                gate.file_count,
                gate.files.join("; "),
                more(gate.file_count, gate.files.len().min(LISTED))
            ),
        );
    let retries = call.api.retries();
    if !retries.is_empty() {
        preview = preview.with_detail("retries", retries.len().to_string());
    }
    if !gate.blockers.is_empty() {
        preview = preview.blocked_by(gate.blockers.join("; "));
    }
    preview
}

impl GithubMergeExecutor {
    async fn preview_action(
        &self,
        action: &GithubMergeAction,
        ctx: &ActionContext,
    ) -> Result<Preview, ExecutorError> {
        let call = call(self, action, ctx)?;
        let finder = GitConflicts { token: &call.token };
        let gate = gate::read(&call.api, action, Some(&finder), true)
            .await
            .map_err(|error| call.error(error.to_string(), error.is_transient()))?;
        Ok(preview_of(&call, &gate))
    }

    async fn apply_action(
        &self,
        action: &GithubMergeAction,
        ctx: &ActionContext,
    ) -> Result<ActionOutcome, ExecutorError> {
        let started = Instant::now();
        let call = call(self, action, ctx)?;
        let verb = "merge";
        let finder = GitConflicts { token: &call.token };
        let gate = match gate::read(&call.api, action, Some(&finder), false).await {
            Ok(gate) => gate,
            Err(error) => return call.api_failure(&error, verb, None, started),
        };
        let mut evidence = MergeEvidence {
            repo: action.repo.clone(),
            pr: action.pr,
            api_url: call.api.base().to_owned(),
            base: gate.base_ref.clone(),
            head_ref: gate.head_ref.clone(),
            head_sha: gate.head_sha.clone(),
            method: method_name(action.method).to_owned(),
            ..MergeEvidence::default()
        };
        if gate.merged {
            evidence.already_merged = true;
            evidence.merge_sha.clone_from(&gate.pr.merge_commit_sha);
            evidence.retries = call.api.retries();
            let stdout = format!(
                "pull request {}#{} is already merged (merge commit {}); plangate did not merge it again\n",
                action.repo,
                action.pr,
                evidence.merge_sha.as_deref().unwrap_or("unknown")
            );
            return Ok(call.outcome(
                OutcomeStatus::Succeeded,
                verb,
                &stdout,
                "",
                Some(to_json(&evidence)),
                started,
            ));
        }
        if let Some(pinned) = &action.sha
            && !gate.head_sha.starts_with(pinned.as_str())
        {
            let line = format!(
                "error: refusing to merge {}#{}: its head is {}, not {pinned}, the sha the plan pins",
                action.repo, action.pr, gate.head_sha
            );
            return Ok(call.outcome(OutcomeStatus::Failed, verb, "", &line, None, started));
        }
        if !gate.blockers.is_empty() {
            let line = format!(
                "error: refusing to merge {}#{}: {}",
                action.repo,
                action.pr,
                gate.blockers.join("; ")
            );
            return Ok(call.outcome(OutcomeStatus::Failed, verb, "", &line, None, started));
        }

        // The merge: pinned to the head just checked; recorded before it is asked.
        evidence.merge_requested = true;
        ctx.record_evidence(redact_json(&call.redactor, to_json(&evidence)))
            .await?;
        let path = format!("/repos/{}/pulls/{}/merge", action.repo, action.pr);
        let body = json!({
            "sha": gate.head_sha,
            "merge_method": method_name(action.method),
        });
        let answer = match call.api.send(Method::PUT, &path, Some(&body)).await {
            Ok(answer) => answer,
            Err(error) => {
                evidence.retries = call.api.retries();
                return call.api_failure(&error, verb, Some(to_json(&evidence)), started);
            }
        };
        let merge_sha = if answer.ok() {
            answer
                .body
                .get("sha")
                .and_then(Value::as_str)
                .map(str::to_owned)
        } else {
            // A retried request may have merged before its answer was lost:
            // then GitHub refuses this one, and the pull request shows it.
            let now = match pull(&call.api, action).await {
                Ok(now) => now,
                Err(error) => {
                    evidence.retries = call.api.retries();
                    return call.api_failure(&error, verb, Some(to_json(&evidence)), started);
                }
            };
            if now.merged_at.is_some() && now.head.sha == gate.head_sha {
                now.merge_commit_sha.clone()
            } else {
                evidence.retries = call.api.retries();
                let line = if answer.status == 409 {
                    format!(
                        "error: GitHub refused to merge {}#{}: the head moved after plangate checked it: checked {}, now {} ({})",
                        action.repo,
                        action.pr,
                        gate.head_sha,
                        now.head.sha,
                        answer.message()
                    )
                } else {
                    format!(
                        "error: GitHub refused to merge {}#{} ({}): {}",
                        action.repo,
                        action.pr,
                        answer.status,
                        answer.message()
                    )
                };
                return Ok(call.outcome(
                    OutcomeStatus::Failed,
                    verb,
                    "",
                    &line,
                    Some(to_json(&evidence)),
                    started,
                ));
            }
        };
        evidence.merge_sha.clone_from(&merge_sha);
        let mut stdout = format!(
            "merged {}#{} ({}) at head {}: merge commit {} on {}\n",
            action.repo,
            action.pr,
            method_name(action.method),
            gate.head_sha,
            merge_sha.as_deref().unwrap_or("unknown"),
            gate.base_ref
        );
        if action.delete_branch {
            let same_repo = gate
                .pr
                .head
                .repo
                .as_ref()
                .and_then(|r| r.full_name.as_deref())
                == Some(action.repo.as_str());
            if same_repo {
                let path = format!("/repos/{}/git/refs/heads/{}", action.repo, gate.head_ref);
                match call.api.send(Method::DELETE, &path, None).await {
                    Ok(answer) if answer.ok() => {
                        evidence.deleted_branch = true;
                        stdout.push_str(&format!("deleted branch {}\n", gate.head_ref));
                    }
                    Ok(answer) => stdout.push_str(&format!(
                        "warning: branch {} was not deleted: {}\n",
                        gate.head_ref,
                        answer.message()
                    )),
                    Err(error) => stdout.push_str(&format!(
                        "warning: branch {} was not deleted: {error}\n",
                        gate.head_ref
                    )),
                }
            } else {
                stdout.push_str("the head branch is in another repository; it was not deleted\n");
            }
        }
        evidence.retries = call.api.retries();
        if !evidence.retries.is_empty() {
            stdout.push_str(&format!(
                "{} GitHub request(s) retried (rate limits or server errors)\n",
                evidence.retries.len()
            ));
        }
        Ok(call.outcome(
            OutcomeStatus::Succeeded,
            verb,
            &stdout,
            "",
            Some(to_json(&evidence)),
            started,
        ))
    }

    async fn verify_action(
        &self,
        action: &GithubMergeAction,
        ctx: &ActionContext,
    ) -> Result<ActionOutcome, ExecutorError> {
        let started = Instant::now();
        let call = call(self, action, ctx)?;
        let verb = "verify";
        let pr = match pull(&call.api, action).await {
            Ok(pr) => pr,
            Err(error) => return call.api_failure(&error, verb, None, started),
        };
        let base = pr.base.ref_field.clone();
        let Some(merge_sha) = pr
            .merge_commit_sha
            .clone()
            .filter(|_| pr.merged_at.is_some())
        else {
            let line = format!("error: {}#{} is not merged", action.repo, action.pr);
            return Ok(call.outcome(OutcomeStatus::Failed, verb, "", &line, None, started));
        };
        let path = format!("/repos/{}/compare/{merge_sha}...{base}", action.repo);
        let comparison: CommitComparison = match call.api.get(&path).await {
            Ok(comparison) => comparison,
            Err(error) => return call.api_failure(&error, verb, None, started),
        };
        let status = serde_json::to_value(&comparison.status)
            .ok()
            .and_then(|value| value.as_str().map(str::to_owned))
            .unwrap_or_default();
        if comparison.behind_by == 0 && matches!(status.as_str(), "ahead" | "identical") {
            let stdout = format!(
                "{base} of {} contains merge commit {merge_sha} of #{} ({status}, {} commit(s) since)\n",
                action.repo, action.pr, comparison.ahead_by
            );
            Ok(call.outcome(OutcomeStatus::Succeeded, verb, &stdout, "", None, started))
        } else {
            let line = format!(
                "error: {base} of {} does not contain merge commit {merge_sha} of #{} (compare: {status}, {} behind)",
                action.repo, action.pr, comparison.behind_by
            );
            Ok(call.outcome(OutcomeStatus::Failed, verb, "", &line, None, started))
        }
    }

    async fn rollback_auto(
        &self,
        action: &GithubMergeAction,
        evidence: Option<&Value>,
        ctx: &ActionContext,
    ) -> Result<ActionOutcome, ExecutorError> {
        let started = Instant::now();
        let verb = "revert";
        let evidence: MergeEvidence = evidence
            .and_then(|value| serde_json::from_value(value.clone()).ok())
            .ok_or(ExecutorError::MissingEvidence {
                kind: ExecutorKind::GithubMerge,
            })?;
        let call = call(self, action, ctx)?;
        if evidence.already_merged {
            let stdout = format!(
                "{}#{} was already merged when the task ran; plangate did not merge it, so it does not revert it\n",
                action.repo, action.pr
            );
            return Ok(call.outcome(OutcomeStatus::Succeeded, verb, &stdout, "", None, started));
        }
        let pr = match pull(&call.api, action).await {
            Ok(pr) => pr,
            Err(error) => return call.api_failure(&error, verb, None, started),
        };
        // The merge this task made: the recorded one, else (a crash right
        // after the merge request) the pull request's, if it merged the
        // head this task pinned.
        let merge_sha = match evidence.merge_sha.clone() {
            Some(sha) => sha,
            None if pr.merged_at.is_some() && pr.head.sha == evidence.head_sha => {
                match pr.merge_commit_sha.clone() {
                    Some(sha) => sha,
                    None => {
                        return Err(call.error(
                            "the pull request is merged but GitHub gives no merge commit",
                            false,
                        ));
                    }
                }
            }
            None => {
                let stdout = format!(
                    "{}#{} was not merged by this task; nothing to revert\n",
                    action.repo, action.pr
                );
                return Ok(call.outcome(
                    OutcomeStatus::Succeeded,
                    verb,
                    &stdout,
                    "",
                    None,
                    started,
                ));
            }
        };
        let branch = format!("plangate/revert-pr-{}-{}", action.pr, short(&merge_sha));
        let mut revert = RevertEvidence {
            reverted_pr: action.pr,
            merge_sha: merge_sha.clone(),
            revert_branch: branch.clone(),
            ..RevertEvidence::default()
        };
        let owner = action.repo.split('/').next().unwrap_or_default();
        let mut stdout = String::new();

        // A crashed earlier rollback may have pushed the branch or opened the
        // pull request already: reuse them.
        let existing: Vec<PullRequest> = match call
            .api
            .get(&format!(
                "/repos/{}/pulls?state=all&head={owner}:{branch}",
                action.repo
            ))
            .await
        {
            Ok(list) => list,
            Err(error) => return call.api_failure(&error, verb, None, started),
        };
        let ref_path = format!("/repos/{}/git/ref/heads/{branch}", action.repo);
        let branch_answer = match call.api.send(Method::GET, &ref_path, None).await {
            Ok(answer) => answer,
            Err(error) => return call.api_failure(&error, verb, None, started),
        };
        if branch_answer.ok() {
            revert.revert_sha = branch_answer
                .body
                .pointer("/object/sha")
                .and_then(Value::as_str)
                .map(str::to_owned);
            stdout.push_str(&format!("branch {branch} already exists; reusing it\n"));
        } else {
            ctx.record_evidence(to_json(&revert)).await?;
            let url = clone_url(pr.base.repo.as_ref())
                .ok_or_else(|| call.error("GitHub gave no clone URL for the repository", false))?;
            let scratch = ScratchDir::new(ExecutorKind::GithubMerge).await?;
            let dir = scratch.path().to_path_buf();
            let token = call.token.clone();
            let base = pr.base.ref_field.clone();
            let (sha, branch_name) = (merge_sha.clone(), branch.clone());
            let pushed = tokio::task::spawn_blocking(move || {
                gitwork::push_revert(&dir, &token, &url, &base, &sha, &branch_name)
            })
            .await
            .map_err(|error| call.error(format!("the libgit2 task failed: {error}"), false))?;
            drop(scratch);
            match pushed {
                Ok(done) => {
                    stdout.push_str(&format!(
                        "pushed revert commit {} of {merge_sha} on {} to branch {branch}\n",
                        done.sha,
                        short(&done.parent)
                    ));
                    revert.revert_sha = Some(done.sha);
                }
                Err(message) => {
                    let line = format!("error: {message}");
                    return Ok(call.outcome(
                        OutcomeStatus::Failed,
                        verb,
                        &stdout,
                        &line,
                        Some(to_json(&revert)),
                        started,
                    ));
                }
            }
        }
        let revert_pr = if let Some(open) = existing.first() {
            stdout.push_str(&format!(
                "revert pull request #{} already exists\n",
                open.number
            ));
            open.number
        } else {
            let title = format!("Revert \"{}\"", pr.title.clone().unwrap_or_default());
            let body = json!({
                "title": title,
                "head": branch,
                "base": pr.base.ref_field,
                "body": format!(
                    "Reverts #{} (merge commit {merge_sha}).\n\nOpened by plangate's automatic rollback of task `{}` in run `{}`.",
                    action.pr, ctx.task_id, ctx.run_id
                ),
            });
            let path = format!("/repos/{}/pulls", action.repo);
            let answer = match call.api.send(Method::POST, &path, Some(&body)).await {
                Ok(answer) => answer,
                Err(error) => {
                    return call.api_failure(&error, verb, Some(to_json(&revert)), started);
                }
            };
            let created: PullRequest = match call.api.expect(&Method::POST, &path, answer) {
                Ok(created) => created,
                Err(error) => {
                    return call.api_failure(&error, verb, Some(to_json(&revert)), started);
                }
            };
            stdout.push_str(&format!(
                "opened revert pull request #{} ({branch} into {})\n",
                created.number, pr.base.ref_field
            ));
            created.number
        };
        revert.revert_pr = Some(revert_pr);
        if action.rollback_merge {
            let revert_action = GithubMergeAction {
                pr: revert_pr,
                sha: None,
                delete_branch: true,
                ..action.clone()
            };
            let merged = Box::pin(self.apply_action(&revert_action, ctx)).await?;
            let merged_evidence: Option<MergeEvidence> = merged
                .evidence
                .as_ref()
                .and_then(|value| serde_json::from_value(value.clone()).ok());
            revert.revert_merge_sha = merged_evidence.and_then(|e| e.merge_sha);
            stdout.push_str(&merged.stdout_tail);
            if !merged.succeeded() {
                revert.retries = call.api.retries();
                let line = format!(
                    "error: revert pull request #{revert_pr} is open but was not merged: {}",
                    merged.error_line().unwrap_or_default()
                );
                return Ok(call.outcome(
                    merged.status,
                    verb,
                    &stdout,
                    &line,
                    Some(to_json(&revert)),
                    started,
                ));
            }
        }
        revert.retries = call.api.retries();
        Ok(call.outcome(
            OutcomeStatus::Succeeded,
            verb,
            &stdout,
            "",
            Some(to_json(&revert)),
            started,
        ))
    }

    async fn observe_action(
        &self,
        action: &GithubMergeAction,
        evidence: Option<&Value>,
        ctx: &ActionContext,
    ) -> Result<Observation, ExecutorError> {
        let Some(evidence) =
            evidence.and_then(|value| serde_json::from_value::<MergeEvidence>(value.clone()).ok())
        else {
            // Nothing recorded: the merge was never asked for.
            return Ok(Observation::NotApplied);
        };
        let call = call(self, action, ctx)?;
        let pr = pull(&call.api, action)
            .await
            .map_err(|error| call.error(error.to_string(), error.is_transient()))?;
        tracing::info!(
            pull_request = %format!("{}#{}", evidence.repo, evidence.pr),
            merged = pr.merged_at.is_some(),
            merge_commit = pr.merge_commit_sha.as_deref().unwrap_or(""),
            "observed the pull request after a crash"
        );
        Ok(if pr.merged_at.is_some() {
            Observation::Applied
        } else {
            Observation::NotApplied
        })
    }
}

async fn pull(api: &Api, action: &GithubMergeAction) -> Result<PullRequest, ApiError> {
    api.get(&format!("/repos/{}/pulls/{}", action.repo, action.pr))
        .await
}

impl Executor for GithubMergeExecutor {
    fn kind(&self) -> ExecutorKind {
        ExecutorKind::GithubMerge
    }

    fn preview<'a>(
        &'a self,
        action: &'a Action,
        ctx: &'a ActionContext,
    ) -> BoxFuture<'a, Result<Preview, ExecutorError>> {
        Box::pin(async move { self.preview_action(spec(action)?, ctx).await })
    }

    fn apply<'a>(
        &'a self,
        action: &'a Action,
        ctx: &'a ActionContext,
    ) -> BoxFuture<'a, Result<ActionOutcome, ExecutorError>> {
        Box::pin(async move { self.apply_action(spec(action)?, ctx).await })
    }

    fn verify<'a>(
        &'a self,
        action: &'a Action,
        ctx: &'a ActionContext,
    ) -> BoxFuture<'a, Result<ActionOutcome, ExecutorError>> {
        Box::pin(async move { self.verify_action(spec(action)?, ctx).await })
    }

    fn rollback<'a>(
        &'a self,
        rollback: &'a Rollback,
        run: &'a Action,
        evidence: Option<&'a Value>,
        ctx: &'a ActionContext,
    ) -> BoxFuture<'a, Result<ActionOutcome, ExecutorError>> {
        Box::pin(async move {
            match rollback {
                Rollback::Auto => self.rollback_auto(spec(run)?, evidence, ctx).await,
                Rollback::Action(explicit) => self.apply_action(spec(explicit)?, ctx).await,
            }
        })
    }

    fn observe<'a>(
        &'a self,
        action: &'a Action,
        evidence: Option<&'a Value>,
        ctx: &'a ActionContext,
    ) -> BoxFuture<'a, Result<Observation, ExecutorError>> {
        Box::pin(async move { self.observe_action(spec(action)?, evidence, ctx).await })
    }

    fn left_changes(
        &self,
        _action: &Action,
        evidence: Option<&Value>,
        outcome: &ActionOutcome,
    ) -> LeftChanges {
        let recorded = outcome
            .evidence
            .as_ref()
            .or(evidence)
            .and_then(|value| serde_json::from_value::<MergeEvidence>(value.clone()).ok());
        match recorded {
            None => LeftChanges::None {
                reason: "the pull request was not merged".to_owned(),
            },
            Some(evidence) if evidence.merge_sha.is_some() && !evidence.already_merged => {
                LeftChanges::Some
            }
            Some(evidence) if evidence.already_merged => LeftChanges::None {
                reason: "the pull request was merged before this task ran".to_owned(),
            },
            Some(_) if outcome.status == OutcomeStatus::Failed => LeftChanges::None {
                reason: "GitHub refused the merge".to_owned(),
            },
            Some(_) => LeftChanges::Unknown,
        }
    }
}
