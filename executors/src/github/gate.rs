//! [`Gate`]: everything that decides whether a pull request may be merged
//! now, read from GitHub (the pull request, its reviews, the checks and
//! statuses of its head, the base branch's protection), and the reasons it
//! may not.

use std::collections::BTreeMap;

use http::Method;
use octocrab::models::{
    CombinedStatus, IssueState, StatusState,
    checks::ListCheckRuns,
    commits::CommitComparison,
    pulls::{MergeableState, PullRequest, Review, ReviewState},
    repos::{DiffEntry, RepoCommit, branches::BranchProtection},
};
use plangate_plans::action::{GithubMergeAction, RequireChecks};
use serde::Serialize;
use tokio::time::Instant;

pub(crate) use crate::git::short;

use super::api::{Api, ApiError, backoff, humanize};

/// How long `mergeable: null` is asked again at most, within the deadline.
const MERGEABLE_BOUND: std::time::Duration = std::time::Duration::from_secs(60);
/// Commits and files listed in a preview at most (the counts are exact).
pub(crate) const LISTED: usize = 20;

/// One required check and what the head has of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct CheckState {
    /// The check run's name or the status's context.
    pub(crate) name: String,
    /// `success`, `failure`, `neutral`, `skipped`, `pending`, `missing`, ...
    pub(crate) state: String,
    /// Who requires it: `plan`, `branch protection`, or both.
    pub(crate) required_by: String,
}

impl CheckState {
    fn passed(&self) -> bool {
        matches!(self.state.as_str(), "success" | "neutral" | "skipped")
    }
}

/// What GitHub says of a pull request, and why it may not be merged now.
#[derive(Debug)]
pub(crate) struct Gate {
    pub(crate) pr: PullRequest,
    pub(crate) head_sha: String,
    pub(crate) head_ref: String,
    pub(crate) base_ref: String,
    pub(crate) merged: bool,
    pub(crate) mergeable: Option<bool>,
    pub(crate) mergeable_state: String,
    /// The paths that conflict, when `mergeable` is false (found with libgit2).
    pub(crate) conflicts: Vec<String>,
    /// Why the conflicting files could not be listed, if they could not.
    pub(crate) conflicts_note: Option<String>,
    pub(crate) checks: Vec<CheckState>,
    pub(crate) approvers: Vec<String>,
    pub(crate) changes_requested: Vec<String>,
    pub(crate) required_approvals: u32,
    /// The base branch requires branches to be up to date.
    pub(crate) strict: bool,
    /// Commits the base has that the head lacks.
    pub(crate) behind_by: Option<u64>,
    /// What could not be read of the protection, if anything.
    pub(crate) protection_note: Option<String>,
    /// `sha first-line` of the commits the merge brings (at most [`LISTED`]).
    pub(crate) commits: Vec<String>,
    pub(crate) commit_count: u64,
    /// `status path (+a -d)` of the files it changes (at most [`LISTED`]).
    pub(crate) files: Vec<String>,
    pub(crate) file_count: u64,
    /// Why it may not be merged now; empty when it may.
    pub(crate) blockers: Vec<String>,
}

/// Reads the gate of `action`'s pull request. `conflicts` lists the files
/// of a conflicting pull request (it clones; `None` when not wanted).
/// `listing` also reads the commits and files the merge would bring, which
/// only a preview shows; without it those lists stay empty, and the base is
/// compared only when the protection requires an up-to-date head.
pub(crate) async fn read(
    api: &Api,
    action: &GithubMergeAction,
    conflicts: Option<&dyn ConflictFinder>,
    listing: bool,
) -> Result<Gate, ApiError> {
    let repo = &action.repo;
    let number = action.pr;
    let pr = poll_pull(api, repo, number).await?;
    let head_sha = pr.head.sha.clone();
    let head_ref = pr.head.ref_field.clone();
    let base_ref = pr.base.ref_field.clone();
    let merged = pr.merged_at.is_some() || pr.merged == Some(true);
    let mergeable = pr.mergeable;
    let mergeable_state = pr
        .mergeable_state
        .as_ref()
        .map_or_else(|| "unknown".to_owned(), mergeable_state_name);

    let reviews: Vec<Review> = api
        .get(&format!(
            "/repos/{repo}/pulls/{number}/reviews?per_page=100"
        ))
        .await?;
    let (approvers, changes_requested) = tally_reviews(&reviews);

    let (protection, protection_note) = read_protection(api, repo, &base_ref).await?;
    let protected_checks: Vec<String> = protection
        .as_ref()
        .and_then(|p| p.required_status_checks.as_ref())
        .map(|checks| {
            let mut names = checks.contexts.clone();
            for check in &checks.checks {
                if !names.contains(&check.context) {
                    names.push(check.context.clone());
                }
            }
            names
        })
        .unwrap_or_default();
    let strict = protection
        .as_ref()
        .and_then(|p| p.required_status_checks.as_ref())
        .is_some_and(|checks| checks.strict);
    let protected_approvals = protection
        .as_ref()
        .and_then(|p| p.required_pull_request_reviews.as_ref())
        .and_then(|reviews| reviews.required_approving_review_count)
        .unwrap_or(0);
    let required_approvals = protected_approvals.max(action.require_approvals.unwrap_or(0));

    let reported = read_checks(api, repo, &head_sha).await?;
    let checks = required_checks(action.require_checks.as_ref(), &protected_checks, &reported);

    let behind_by = if listing || strict {
        let comparison: CommitComparison = api
            .get(&format!("/repos/{repo}/compare/{base_ref}...{head_sha}"))
            .await?;
        u64::try_from(comparison.behind_by).ok()
    } else {
        None
    };

    let (commits_list, files_list): (Vec<RepoCommit>, Vec<DiffEntry>) = if listing {
        (
            api.get(&format!(
                "/repos/{repo}/pulls/{number}/commits?per_page=100"
            ))
            .await?,
            api.get(&format!("/repos/{repo}/pulls/{number}/files?per_page=100"))
                .await?,
        )
    } else {
        (Vec::new(), Vec::new())
    };
    let commit_count = pr
        .commits
        .unwrap_or(commits_list.len() as u64)
        .max(commits_list.len() as u64);
    let file_count = pr
        .changed_files
        .unwrap_or(files_list.len() as u64)
        .max(files_list.len() as u64);
    let commits = commits_list
        .iter()
        .take(LISTED)
        .map(|commit| {
            let line = commit.commit.message.lines().next().unwrap_or_default();
            format!("{} {line}", short(&commit.sha))
        })
        .collect();
    let files = files_list
        .iter()
        .take(LISTED)
        .map(|file| {
            format!(
                "{} {} (+{} -{})",
                diff_status(file),
                file.filename,
                file.additions,
                file.deletions
            )
        })
        .collect();

    let (conflict_files, conflicts_note) = match (mergeable, conflicts) {
        (Some(false), Some(finder)) if !merged => {
            match finder.conflicts(&pr, &base_ref, &head_sha).await {
                Ok(files) => (files, None),
                Err(note) => (Vec::new(), Some(note)),
            }
        }
        _ => (Vec::new(), None),
    };

    let mut gate = Gate {
        pr,
        head_sha,
        head_ref,
        base_ref,
        merged,
        mergeable,
        mergeable_state,
        conflicts: conflict_files,
        conflicts_note,
        checks,
        approvers,
        changes_requested,
        required_approvals,
        strict,
        behind_by,
        protection_note,
        commits,
        commit_count,
        files,
        file_count,
        blockers: Vec::new(),
    };
    gate.blockers = blockers(&gate, action);
    Ok(gate)
}

/// Lists the files that conflict when the head is merged into the base.
pub(crate) trait ConflictFinder: Send + Sync {
    /// The conflicting paths, or why they could not be found.
    fn conflicts<'a>(
        &'a self,
        pr: &'a PullRequest,
        base_ref: &'a str,
        head_sha: &'a str,
    ) -> crate::executor::BoxFuture<'a, Result<Vec<String>, String>>;
}

/// The pull request, asked again with backoff while GitHub is still
/// computing its mergeability (`mergeable: null` on an open one).
async fn poll_pull(api: &Api, repo: &str, number: u64) -> Result<PullRequest, ApiError> {
    let path = format!("/repos/{repo}/pulls/{number}");
    let bound = (Instant::now() + MERGEABLE_BOUND).min(api.deadline());
    let mut tries = 0;
    loop {
        let pr: PullRequest = api.get(&path).await?;
        let open = pr.state == Some(IssueState::Open);
        if pr.mergeable.is_some() || !open {
            return Ok(pr);
        }
        let wait = backoff(tries);
        if Instant::now() + wait > bound {
            return Ok(pr);
        }
        tracing::info!(
            pull_request = %format!("{repo}#{number}"),
            wait = %humanize(wait),
            "GitHub is still computing mergeability; asking again"
        );
        tokio::time::sleep(wait).await;
        tries += 1;
    }
}

/// The protection of `branch`: `None` when it has none. A token that may
/// not read it (GitHub answers 403 or 404 to non-admins) gives the summary
/// from the branch itself, without review requirements, and a note.
async fn read_protection(
    api: &Api,
    repo: &str,
    branch: &str,
) -> Result<(Option<BranchProtection>, Option<String>), ApiError> {
    let path = format!("/repos/{repo}/branches/{branch}/protection");
    let answer = api.send(Method::GET, &path, None).await?;
    if answer.ok() {
        return Ok((Some(api.expect(&Method::GET, &path, answer)?), None));
    }
    if answer.status == 404 && answer.message() == "Branch not protected" {
        return Ok((None, None));
    }
    if answer.status == 403 || answer.status == 404 {
        let branch_path = format!("/repos/{repo}/branches/{branch}");
        let summary: serde_json::Value = api.get(&branch_path).await?;
        let note = format!(
            "the branch protection of `{branch}` could not be read ({}: {}); its required checks are taken from the branch summary and its review requirements are unknown",
            answer.status,
            answer.message()
        );
        let checks = summary
            .pointer("/protection/required_status_checks")
            .cloned()
            .map(|mut checks| {
                if let Some(object) = checks.as_object_mut() {
                    object
                        .entry("strict")
                        .or_insert(serde_json::Value::Bool(false));
                }
                checks
            });
        let protection = checks.map(|checks| {
            serde_json::from_value::<BranchProtection>(serde_json::json!({
                "required_status_checks": checks
            }))
        });
        return Ok((protection.and_then(Result::ok), Some(note)));
    }
    let _: serde_json::Value = api.expect(&Method::GET, &path, answer)?;
    Ok((None, None))
}

/// Every check run and commit status of `sha`, by name: the latest of each.
async fn read_checks(
    api: &Api,
    repo: &str,
    sha: &str,
) -> Result<BTreeMap<String, String>, ApiError> {
    let runs: ListCheckRuns = api
        .get(&format!(
            "/repos/{repo}/commits/{sha}/check-runs?per_page=100"
        ))
        .await?;
    let mut found = BTreeMap::new();
    let mut runs = runs.check_runs;
    // The latest run of a name wins.
    runs.sort_by_key(|run| run.id.0);
    for run in runs {
        let state = run
            .conclusion
            .clone()
            .unwrap_or_else(|| "pending".to_owned());
        found.insert(run.name.clone(), state);
    }
    let combined: CombinedStatus = api
        .get(&format!("/repos/{repo}/commits/{sha}/status"))
        .await?;
    for status in combined.statuses {
        let Some(context) = status.context else {
            continue;
        };
        let state = match status.state {
            StatusState::Success => "success",
            StatusState::Failure => "failure",
            StatusState::Error => "error",
            _ => "pending",
        };
        found.entry(context).or_insert_with(|| state.to_owned());
    }
    Ok(found)
}

/// The checks that must pass: the plan's (`all`: every one reported) and
/// the protection's, each with its state on the head.
fn required_checks(
    plan: Option<&RequireChecks>,
    protection: &[String],
    reported: &BTreeMap<String, String>,
) -> Vec<CheckState> {
    let mut required: BTreeMap<String, Vec<&'static str>> = BTreeMap::new();
    match plan {
        Some(RequireChecks::All(_)) => {
            for name in reported.keys() {
                required.entry(name.clone()).or_default().push("plan");
            }
        }
        Some(RequireChecks::Named(names)) => {
            for name in names {
                required.entry(name.clone()).or_default().push("plan");
            }
        }
        None => {}
    }
    for name in protection {
        required
            .entry(name.clone())
            .or_default()
            .push("branch protection");
    }
    required
        .into_iter()
        .map(|(name, by)| CheckState {
            state: reported
                .get(&name)
                .cloned()
                .unwrap_or_else(|| "missing".to_owned()),
            name,
            required_by: by.join(", "),
        })
        .collect()
}

/// The logins whose latest review approves, and those whose latest asks for
/// changes.
fn tally_reviews(reviews: &[Review]) -> (Vec<String>, Vec<String>) {
    let mut latest: BTreeMap<String, ReviewState> = BTreeMap::new();
    for review in reviews {
        let (Some(user), Some(state)) = (&review.user, review.state) else {
            continue;
        };
        match state {
            ReviewState::Approved | ReviewState::ChangesRequested | ReviewState::Dismissed => {
                latest.insert(user.login.clone(), state);
            }
            _ => {}
        }
    }
    let approvers = latest
        .iter()
        .filter(|(_, state)| **state == ReviewState::Approved)
        .map(|(login, _)| login.clone())
        .collect();
    let changes = latest
        .iter()
        .filter(|(_, state)| **state == ReviewState::ChangesRequested)
        .map(|(login, _)| login.clone())
        .collect();
    (approvers, changes)
}

/// Why the pull request may not be merged now, in the order a reviewer
/// would check.
fn blockers(gate: &Gate, action: &GithubMergeAction) -> Vec<String> {
    let number = action.pr;
    let mut reasons = Vec::new();
    if gate.merged {
        return reasons;
    }
    if gate.pr.state == Some(IssueState::Closed) {
        reasons.push(format!("pull request #{number} is closed"));
        return reasons;
    }
    if gate.pr.draft == Some(true) {
        reasons.push(format!("pull request #{number} is a draft"));
    }
    match gate.mergeable {
        Some(false) => {
            let files = if gate.conflicts.is_empty() {
                gate.conflicts_note
                    .as_ref()
                    .map_or_else(String::new, |note| format!(" ({note})"))
            } else {
                format!(": {}", gate.conflicts.join(", "))
            };
            reasons.push(format!(
                "pull request #{number} conflicts with `{}`{files}",
                gate.base_ref
            ));
        }
        None => reasons.push(format!(
            "GitHub had not computed whether pull request #{number} is mergeable (mergeable: null) after asking for {}",
            humanize(MERGEABLE_BOUND)
        )),
        Some(true) => {}
    }
    for check in &gate.checks {
        if !check.passed() {
            let what = match check.state.as_str() {
                "missing" => format!("has not reported on {}", short(&gate.head_sha)),
                "pending" | "queued" | "in_progress" => "is still pending".to_owned(),
                state => format!("concluded `{state}`"),
            };
            reasons.push(format!(
                "required check `{}` {what} (required by {})",
                check.name, check.required_by
            ));
        }
    }
    if matches!(action.require_checks, Some(RequireChecks::All(_))) && gate.checks.is_empty() {
        reasons.push(format!(
            "`require_checks: all`, but no check has reported on {}",
            short(&gate.head_sha)
        ));
    }
    let approvals = u32::try_from(gate.approvers.len()).unwrap_or(u32::MAX);
    if approvals < gate.required_approvals {
        reasons.push(format!(
            "{approvals} approving review{} of {} required{}",
            if approvals == 1 { "" } else { "s" },
            gate.required_approvals,
            if gate.approvers.is_empty() {
                String::new()
            } else {
                format!(" (approved by {})", gate.approvers.join(", "))
            }
        ));
    }
    if gate.required_approvals > 0 && !gate.changes_requested.is_empty() {
        reasons.push(format!(
            "changes requested by {}",
            gate.changes_requested.join(", ")
        ));
    }
    if gate.strict && gate.behind_by.unwrap_or(0) > 0 {
        reasons.push(format!(
            "the head is {} commit(s) behind `{}`, and the branch protection requires branches to be up to date",
            gate.behind_by.unwrap_or(0),
            gate.base_ref
        ));
    }
    if action.require_clean
        && reasons.is_empty()
        && !matches!(gate.mergeable_state.as_str(), "clean" | "has_hooks")
    {
        reasons.push(format!(
            "GitHub reports mergeable_state `{}` and `require_clean` is on{}",
            gate.mergeable_state,
            if gate.mergeable_state == "unstable" {
                ": a check that is not required did not pass"
            } else {
                ""
            }
        ));
    }
    reasons
}

fn mergeable_state_name(state: &MergeableState) -> String {
    match state {
        MergeableState::Behind => "behind",
        MergeableState::Blocked => "blocked",
        MergeableState::Clean => "clean",
        MergeableState::Dirty => "dirty",
        MergeableState::Draft => "draft",
        MergeableState::HasHooks => "has_hooks",
        MergeableState::Unstable => "unstable",
        _ => "unknown",
    }
    .to_owned()
}

fn diff_status(file: &DiffEntry) -> String {
    serde_json::to_value(&file.status)
        .ok()
        .and_then(|value| value.as_str().map(str::to_owned))
        .unwrap_or_else(|| "changed".to_owned())
}
