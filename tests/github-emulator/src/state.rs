//! The emulator's state: tokens, users, repositories and what hangs off them (pull requests,
//! reviews, check runs, statuses, branch protection), plus the fault switches and the log of
//! served exchanges.
//!
//! Git data is not copied here: branches are the bare repositories' refs, read each time, so
//! a push through `git http-backend` is seen at once. Everything sits behind one mutex, held
//! only for short synchronous operations (libgit2 calls on small repositories included); the
//! `git http-backend` child processes run without it.

use crate::{
    AdminError, CheckConclusion, Exchange, FaultCounts, Faults, GithubEmulatorConfig, Protection,
    ReviewState, TokenScope, gitops, render,
};
use git2::{Oid, Repository};
use serde_json::{Value, json};
use std::{
    collections::{BTreeMap, HashMap},
    path::PathBuf,
    sync::{Mutex, MutexGuard},
};

/// A registered token.
#[derive(Debug, Clone)]
pub(crate) struct Token {
    /// The user it authenticates.
    pub(crate) login: String,
    /// What it may see.
    pub(crate) scope: TokenScope,
}

impl Token {
    /// Whether the token may see the repository.
    pub(crate) fn can_see(&self, full_name: &str) -> bool {
        match &self.scope {
            TokenScope::All => true,
            TokenScope::Repos(names) => names
                .iter()
                .any(|name| name.eq_ignore_ascii_case(full_name)),
        }
    }
}

/// A review of a pull request.
#[derive(Debug, Clone)]
pub(crate) struct Review {
    pub(crate) id: u64,
    pub(crate) login: String,
    pub(crate) state: &'static str,
    pub(crate) body: String,
    pub(crate) commit_id: String,
    pub(crate) submitted_at: String,
}

/// A check run on a commit.
#[derive(Debug, Clone)]
pub(crate) struct CheckRun {
    pub(crate) id: u64,
    pub(crate) head_sha: String,
    pub(crate) name: String,
    /// `queued`, `in_progress` or `completed`.
    pub(crate) status: String,
    pub(crate) conclusion: Option<String>,
    pub(crate) started_at: String,
    pub(crate) completed_at: Option<String>,
    pub(crate) external_id: Option<String>,
    pub(crate) details_url: Option<String>,
    pub(crate) title: Option<String>,
    pub(crate) summary: Option<String>,
}

/// A commit status.
#[derive(Debug, Clone)]
pub(crate) struct CommitStatus {
    pub(crate) id: u64,
    pub(crate) sha: String,
    pub(crate) context: String,
    pub(crate) state: String,
    pub(crate) description: Option<String>,
    pub(crate) target_url: Option<String>,
    pub(crate) creator: String,
    pub(crate) created_at: String,
}

/// How a pull request was merged.
#[derive(Debug, Clone)]
pub(crate) struct Merged {
    pub(crate) sha: String,
    pub(crate) at: String,
    pub(crate) by: String,
}

/// A pull request.
#[derive(Debug, Clone)]
pub(crate) struct Pull {
    pub(crate) number: u64,
    pub(crate) id: u64,
    pub(crate) title: String,
    pub(crate) body: Option<String>,
    pub(crate) head: String,
    pub(crate) base: String,
    pub(crate) draft: bool,
    pub(crate) open: bool,
    pub(crate) user: String,
    pub(crate) created_at: String,
    pub(crate) updated_at: String,
    pub(crate) closed_at: Option<String>,
    pub(crate) merged: Option<Merged>,
    /// The head and base tips when the pull request was closed, the base as it was before a
    /// merge (so its commits and files stay what they were; the head branch may go).
    pub(crate) closed_tips: Option<(String, String)>,
    pub(crate) reviews: Vec<Review>,
    /// Successful merge calls.
    pub(crate) merges: u32,
    /// The head and base tips mergeability was last computed for.
    pub(crate) seen_tips: Option<(String, String)>,
    /// How many more REST reads answer `mergeable: null`.
    pub(crate) unknown_reads: u32,
    /// The conflicting paths at `seen_tips`.
    pub(crate) conflicts: Vec<String>,
}

/// A repository.
#[derive(Debug, Clone)]
pub(crate) struct Repo {
    pub(crate) id: u64,
    pub(crate) owner: String,
    pub(crate) name: String,
    pub(crate) default_branch: String,
    pub(crate) created_at: String,
    pub(crate) pushed_at: String,
    pub(crate) pulls: Vec<Pull>,
    pub(crate) check_runs: Vec<CheckRun>,
    pub(crate) statuses: Vec<CommitStatus>,
    pub(crate) protection: BTreeMap<String, Protection>,
}

impl Repo {
    /// `owner/name`.
    pub(crate) fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }

    /// A pull request by number.
    pub(crate) fn pull(&self, number: u64) -> Option<&Pull> {
        self.pulls.iter().find(|pull| pull.number == number)
    }

    /// A pull request by number, mutably.
    pub(crate) fn pull_mut(&mut self, number: u64) -> Option<&mut Pull> {
        self.pulls.iter_mut().find(|pull| pull.number == number)
    }

    /// The latest check run of each name on `sha`.
    pub(crate) fn latest_checks(&self, sha: &str) -> Vec<&CheckRun> {
        let mut latest: BTreeMap<&str, &CheckRun> = BTreeMap::new();
        for run in self.check_runs.iter().filter(|run| run.head_sha == sha) {
            latest.insert(&run.name, run);
        }
        latest.into_values().collect()
    }

    /// The latest status of each context on `sha`.
    pub(crate) fn latest_statuses(&self, sha: &str) -> Vec<&CommitStatus> {
        let mut latest: BTreeMap<&str, &CommitStatus> = BTreeMap::new();
        for status in self.statuses.iter().filter(|status| status.sha == sha) {
            latest.insert(&status.context, status);
        }
        latest.into_values().collect()
    }

    /// What a required check `name` looks like on `sha`.
    pub(crate) fn check_outcome(&self, sha: &str, name: &str) -> CheckOutcome {
        let run = self
            .latest_checks(sha)
            .into_iter()
            .find(|run| run.name == name)
            .map(|run| match run.conclusion.as_deref() {
                None => CheckOutcome::Pending,
                Some("success" | "neutral" | "skipped") => CheckOutcome::Passed,
                Some(_) => CheckOutcome::Failed,
            });
        let status = self
            .latest_statuses(sha)
            .into_iter()
            .find(|status| status.context == name)
            .map(|status| match status.state.as_str() {
                "success" => CheckOutcome::Passed,
                "pending" => CheckOutcome::Pending,
                _ => CheckOutcome::Failed,
            });
        match (run, status) {
            (Some(CheckOutcome::Passed), _) | (_, Some(CheckOutcome::Passed)) => {
                CheckOutcome::Passed
            }
            (Some(CheckOutcome::Failed), _) | (_, Some(CheckOutcome::Failed)) => {
                CheckOutcome::Failed
            }
            (Some(_), _) | (_, Some(_)) => CheckOutcome::Pending,
            (None, None) => CheckOutcome::Missing,
        }
    }
}

/// A required check's state on a commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CheckOutcome {
    /// No run and no status.
    Missing,
    /// Queued, in progress, or a pending status.
    Pending,
    /// Completed successfully (success, neutral, skipped).
    Passed,
    /// Completed otherwise.
    Failed,
}

/// Everything behind the mutex.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) tokens: HashMap<String, Token>,
    /// Users by login, with their ids.
    pub(crate) users: BTreeMap<String, u64>,
    /// Repositories by lowercased full name.
    pub(crate) repos: BTreeMap<String, Repo>,
    next_id: u64,
    pub(crate) faults: Faults,
    pub(crate) faults_served: FaultCounts,
    pub(crate) exchanges: Vec<Exchange>,
    /// API requests served in the current rate-limit window, for the rate-limit headers.
    pub(crate) requests: u64,
    /// The current rate-limit window: the unix hour the counted requests fall in.
    pub(crate) window: u64,
}

impl State {
    /// A fresh id for any object.
    pub(crate) fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// The user's id, creating the user.
    pub(crate) fn user_id(&mut self, login: &str) -> u64 {
        if let Some(id) = self.users.get(login) {
            return *id;
        }
        let id = self.next_id();
        self.users.insert(login.to_owned(), id);
        id
    }

    /// Registers a token.
    pub(crate) fn add_token(&mut self, token: &str, login: &str, scope: TokenScope) {
        self.user_id(login);
        self.tokens.insert(
            token.to_owned(),
            Token {
                login: login.to_owned(),
                scope,
            },
        );
    }

    /// A repository by full name (case-insensitive, as on GitHub).
    pub(crate) fn repo(&self, full_name: &str) -> Option<&Repo> {
        self.repos.get(&full_name.to_ascii_lowercase())
    }

    /// A repository by full name, mutably.
    pub(crate) fn repo_mut(&mut self, full_name: &str) -> Option<&mut Repo> {
        self.repos.get_mut(&full_name.to_ascii_lowercase())
    }
}

/// The current time as GitHub writes it, e.g. `2026-12-02T15:57:00Z`.
pub(crate) fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn valid_segment(segment: &str) -> bool {
    !segment.is_empty()
        && segment != "."
        && segment != ".."
        && !segment.to_ascii_lowercase().ends_with(".git")
        && segment
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Splits `owner/name`, checking both halves.
pub(crate) fn split_full_name(full_name: &str) -> Option<(&str, &str)> {
    let (owner, name) = full_name.split_once('/')?;
    (valid_segment(owner) && valid_segment(name)).then_some((owner, name))
}

fn valid_file_path(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && path
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != ".." && part != ".git")
}

/// The computed merge state of an open pull request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mergeability {
    /// `mergeable`.
    pub(crate) mergeable: Option<bool>,
    /// `mergeable_state`.
    pub(crate) state: &'static str,
}

/// What blocks a merge under branch protection, as GitHub words it.
pub(crate) fn protection_violations(
    repo: &Repo,
    protection: &Protection,
    pull: &Pull,
    head_sha: &str,
) -> Vec<String> {
    let mut messages = Vec::new();
    let approvals = approvals(pull);
    if approvals < protection.required_approvals {
        messages.push(if protection.required_approvals == 1 {
            "At least 1 approving review is required by reviewers with write access.".to_owned()
        } else {
            format!(
                "At least {} approving reviews are required by reviewers with write access.",
                protection.required_approvals
            )
        });
    }
    let outcomes: Vec<(&String, CheckOutcome)> = protection
        .required_checks
        .iter()
        .map(|name| (name, repo.check_outcome(head_sha, name)))
        .collect();
    let unmet: Vec<&(&String, CheckOutcome)> = outcomes
        .iter()
        .filter(|(_, outcome)| *outcome != CheckOutcome::Passed)
        .collect();
    if let [(name, outcome)] = unmet.as_slice() {
        let verb = match outcome {
            CheckOutcome::Missing => "is expected",
            CheckOutcome::Pending => "is in progress",
            _ => "is failing",
        };
        messages.push(format!("Required status check \"{name}\" {verb}."));
    } else if !unmet.is_empty() {
        let expected = unmet
            .iter()
            .filter(|(_, outcome)| *outcome != CheckOutcome::Failed)
            .count();
        let verb = if expected == unmet.len() {
            "are expected"
        } else {
            "have not succeeded"
        };
        messages.push(format!(
            "{} of {} required status checks {verb}.",
            unmet.len(),
            outcomes.len()
        ));
    }
    messages
}

/// Distinct users whose latest approving-or-rejecting review approves.
pub(crate) fn approvals(pull: &Pull) -> u32 {
    let mut latest: BTreeMap<&str, &str> = BTreeMap::new();
    for review in &pull.reviews {
        if review.state != "COMMENTED" {
            latest.insert(&review.login, review.state);
        }
    }
    let count = latest
        .values()
        .filter(|state| **state == "APPROVED")
        .count();
    u32::try_from(count).unwrap_or(u32::MAX)
}

/// Shared by the handlers and the [`crate::GithubEmulator`] handle.
#[derive(Debug)]
pub(crate) struct Shared {
    /// Where the bare repositories live.
    pub(crate) root: PathBuf,
    /// `http://127.0.0.1:PORT`.
    pub(crate) base_url: String,
    /// The configuration.
    pub(crate) config: GithubEmulatorConfig,
    state: Mutex<State>,
    /// Test hooks around merges.
    pub(crate) hooks: crate::hooks::Hooks,
}

impl Shared {
    /// Creates the shared state.
    pub(crate) fn new(config: GithubEmulatorConfig, root: PathBuf, base_url: String) -> Self {
        Self {
            root,
            base_url,
            config,
            state: Mutex::new(State::default()),
            hooks: crate::hooks::Hooks::default(),
        }
    }

    /// Locks the state. Every operation checks before it writes, so a panic while holding the
    /// lock leaves the state consistent and a poisoned lock is recovered.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The bare repository of `owner/name` on disk (whether or not it exists).
    pub(crate) fn repo_path(&self, full_name: &str) -> PathBuf {
        self.root
            .join(format!("{}.git", full_name.to_ascii_lowercase()))
    }

    /// Opens a repository's git data.
    pub(crate) fn open(&self, full_name: &str) -> Result<Repository, git2::Error> {
        Repository::open_bare(self.repo_path(full_name))
    }

    fn open_known(&self, state: &State, full_name: &str) -> Result<Repository, AdminError> {
        if state.repo(full_name).is_none() {
            return Err(AdminError::UnknownRepo(full_name.to_owned()));
        }
        Ok(self.open(full_name)?)
    }

    /// See [`crate::GithubEmulator::create_repo`].
    pub(crate) fn create_repo(
        &self,
        full_name: &str,
        default_branch: &str,
    ) -> Result<String, AdminError> {
        let (owner, name) = split_full_name(full_name)
            .ok_or_else(|| AdminError::InvalidName(full_name.to_owned()))?;
        if !git2::Reference::is_valid_name(&format!("refs/heads/{default_branch}")) {
            return Err(AdminError::InvalidName(default_branch.to_owned()));
        }
        let mut state = self.lock();
        if state.repo(full_name).is_some() {
            return Err(AdminError::RepoExists(full_name.to_owned()));
        }
        let path = self.repo_path(full_name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| AdminError::Io {
                path: parent.to_owned(),
                source,
            })?;
        }
        let initial = gitops::init_bare(&path, name, default_branch)?;
        state.user_id(owner);
        let id = state.next_id();
        let created = now();
        state.repos.insert(
            full_name.to_ascii_lowercase(),
            Repo {
                id,
                owner: owner.to_owned(),
                name: name.to_owned(),
                default_branch: default_branch.to_owned(),
                created_at: created.clone(),
                pushed_at: created,
                pulls: Vec::new(),
                check_runs: Vec::new(),
                statuses: Vec::new(),
                protection: BTreeMap::new(),
            },
        );
        Ok(initial.to_string())
    }

    /// See [`crate::GithubEmulator::commit`].
    pub(crate) fn commit(
        &self,
        full_name: &str,
        branch: &str,
        files: &[(&str, Option<&str>)],
        message: &str,
    ) -> Result<String, AdminError> {
        if let Some((path, _)) = files.iter().find(|(path, _)| !valid_file_path(path)) {
            return Err(AdminError::InvalidPath((*path).to_owned()));
        }
        let mut state = self.lock();
        let repository = self.open_known(&state, full_name)?;
        let repo = state
            .repo(full_name)
            .ok_or_else(|| AdminError::UnknownRepo(full_name.to_owned()))?;
        let parent = match gitops::branch_tip(&repository, branch) {
            Some(tip) => tip,
            None => gitops::branch_tip(&repository, &repo.default_branch).ok_or_else(|| {
                AdminError::UnknownRef {
                    repo: full_name.to_owned(),
                    reference: repo.default_branch.clone(),
                }
            })?,
        };
        let author = gitops::user_signature(&repo.owner)?;
        let sha = gitops::commit_files(
            &repository,
            &format!("refs/heads/{branch}"),
            Some(parent),
            files,
            message,
            &author,
        )?;
        drop(repository);
        self.after_refs_moved(&mut state, full_name);
        Ok(sha.to_string())
    }

    /// See [`crate::GithubEmulator::create_branch`].
    pub(crate) fn create_branch(
        &self,
        full_name: &str,
        branch: &str,
        from: &str,
    ) -> Result<String, AdminError> {
        let state = self.lock();
        let repository = self.open_known(&state, full_name)?;
        if gitops::branch_tip(&repository, branch).is_some() {
            return Err(AdminError::BranchExists(branch.to_owned()));
        }
        let target =
            gitops::resolve_commit(&repository, from).ok_or_else(|| AdminError::UnknownRef {
                repo: full_name.to_owned(),
                reference: from.to_owned(),
            })?;
        repository.reference(
            &format!("refs/heads/{branch}"),
            target,
            false,
            "create branch",
        )?;
        Ok(target.to_string())
    }

    /// Opens a pull request after the caller checked the branches; returns its number.
    pub(crate) fn open_pull(
        &self,
        state: &mut State,
        full_name: &str,
        new: NewPull,
    ) -> Result<u64, AdminError> {
        let id = state.next_id();
        state.user_id(&new.user);
        let repo = state
            .repo_mut(full_name)
            .ok_or_else(|| AdminError::UnknownRepo(full_name.to_owned()))?;
        let number = repo.pulls.iter().map(|pull| pull.number).max().unwrap_or(0) + 1;
        let created = now();
        repo.pulls.push(Pull {
            number,
            id,
            title: new.title,
            body: new.body,
            head: new.head,
            base: new.base,
            draft: new.draft,
            open: true,
            user: new.user,
            created_at: created.clone(),
            updated_at: created,
            closed_at: None,
            merged: None,
            closed_tips: None,
            reviews: Vec::new(),
            merges: 0,
            seen_tips: None,
            unknown_reads: 0,
            conflicts: Vec::new(),
        });
        self.after_refs_moved(state, full_name);
        Ok(number)
    }

    /// Checks that a pull request from `head` into `base` can be opened.
    pub(crate) fn check_new_pull(
        &self,
        state: &State,
        full_name: &str,
        head: &str,
        base: &str,
    ) -> Result<(), AdminError> {
        let repository = self.open_known(state, full_name)?;
        let unknown = |reference: &str| AdminError::UnknownRef {
            repo: full_name.to_owned(),
            reference: reference.to_owned(),
        };
        let head_tip = gitops::branch_tip(&repository, head).ok_or_else(|| unknown(head))?;
        let base_tip = gitops::branch_tip(&repository, base).ok_or_else(|| unknown(base))?;
        if gitops::contains(&repository, base_tip, head_tip) {
            return Err(AdminError::NoCommits {
                base: base.to_owned(),
                head: head.to_owned(),
            });
        }
        Ok(())
    }

    /// See [`crate::GithubEmulator::create_pull`].
    pub(crate) fn create_pull(
        &self,
        full_name: &str,
        head: &str,
        base: &str,
        title: &str,
        draft: bool,
    ) -> Result<u64, AdminError> {
        let mut state = self.lock();
        self.check_new_pull(&state, full_name, head, base)?;
        let owner = state
            .repo(full_name)
            .map(|repo| repo.owner.clone())
            .ok_or_else(|| AdminError::UnknownRepo(full_name.to_owned()))?;
        self.open_pull(
            &mut state,
            full_name,
            NewPull {
                head: head.to_owned(),
                base: base.to_owned(),
                title: title.to_owned(),
                body: None,
                draft,
                user: owner,
            },
        )
    }

    fn resolve(
        &self,
        state: &State,
        full_name: &str,
        sha_or_branch: &str,
    ) -> Result<String, AdminError> {
        let repository = self.open_known(state, full_name)?;
        gitops::resolve_commit(&repository, sha_or_branch)
            .map(|oid| oid.to_string())
            .ok_or_else(|| AdminError::UnknownRef {
                repo: full_name.to_owned(),
                reference: sha_or_branch.to_owned(),
            })
    }

    /// See [`crate::GithubEmulator::add_check_run`].
    pub(crate) fn add_check_run(
        &self,
        full_name: &str,
        sha_or_branch: &str,
        name: &str,
        conclusion: CheckConclusion,
    ) -> Result<(), AdminError> {
        let mut state = self.lock();
        let sha = self.resolve(&state, full_name, sha_or_branch)?;
        let id = state.next_id();
        let time = now();
        let completed = conclusion.as_conclusion();
        let repo = state
            .repo_mut(full_name)
            .ok_or_else(|| AdminError::UnknownRepo(full_name.to_owned()))?;
        repo.check_runs.push(CheckRun {
            id,
            head_sha: sha,
            name: name.to_owned(),
            status: if completed.is_some() {
                "completed"
            } else {
                "in_progress"
            }
            .to_owned(),
            conclusion: completed.map(str::to_owned),
            started_at: time.clone(),
            completed_at: completed.map(|_| time),
            external_id: None,
            details_url: None,
            title: None,
            summary: None,
        });
        Ok(())
    }

    /// See [`crate::GithubEmulator::add_status`].
    pub(crate) fn add_status(
        &self,
        full_name: &str,
        sha_or_branch: &str,
        context: &str,
        status_state: &str,
    ) -> Result<(), AdminError> {
        let mut state = self.lock();
        let sha = self.resolve(&state, full_name, sha_or_branch)?;
        let id = state.next_id();
        let repo = state
            .repo_mut(full_name)
            .ok_or_else(|| AdminError::UnknownRepo(full_name.to_owned()))?;
        let creator = repo.owner.clone();
        repo.statuses.push(CommitStatus {
            id,
            sha,
            context: context.to_owned(),
            state: status_state.to_owned(),
            description: None,
            target_url: None,
            creator,
            created_at: now(),
        });
        Ok(())
    }

    /// Adds a review on the pull request's current head; returns its id.
    pub(crate) fn review(
        &self,
        state: &mut State,
        full_name: &str,
        number: u64,
        login: &str,
        review_state: &'static str,
        body: String,
    ) -> Result<u64, AdminError> {
        let head_sha = self
            .pull_tips(state, full_name, number)?
            .map(|(head, _)| head)
            .unwrap_or_default();
        state.user_id(login);
        let id = state.next_id();
        let pull = state
            .repo_mut(full_name)
            .and_then(|repo| repo.pull_mut(number))
            .ok_or_else(|| AdminError::UnknownPull {
                repo: full_name.to_owned(),
                number,
            })?;
        pull.reviews.push(Review {
            id,
            login: login.to_owned(),
            state: review_state,
            body,
            commit_id: head_sha,
            submitted_at: now(),
        });
        Ok(id)
    }

    /// See [`crate::GithubEmulator::add_review`].
    pub(crate) fn add_review(
        &self,
        full_name: &str,
        number: u64,
        login: &str,
        review_state: ReviewState,
    ) -> Result<(), AdminError> {
        let mut state = self.lock();
        self.review(
            &mut state,
            full_name,
            number,
            login,
            review_state.as_str(),
            String::new(),
        )
        .map(|_| ())
    }

    /// See [`crate::GithubEmulator::set_protection`].
    pub(crate) fn set_protection(
        &self,
        full_name: &str,
        branch: &str,
        protection: Protection,
    ) -> Result<(), AdminError> {
        let mut state = self.lock();
        let repository = self.open_known(&state, full_name)?;
        if gitops::branch_tip(&repository, branch).is_none() {
            return Err(AdminError::UnknownRef {
                repo: full_name.to_owned(),
                reference: branch.to_owned(),
            });
        }
        if let Some(repo) = state.repo_mut(full_name) {
            repo.protection.insert(branch.to_owned(), protection);
        }
        Ok(())
    }

    /// See [`crate::GithubEmulator::branch_sha`].
    pub(crate) fn branch_sha(&self, full_name: &str, branch: &str) -> Option<String> {
        let state = self.lock();
        let repository = self.open_known(&state, full_name).ok()?;
        gitops::branch_tip(&repository, branch).map(|oid| oid.to_string())
    }

    /// The head and base shas of a pull request: the branches' tips while it is open, the
    /// tips at closing afterwards. `Ok(None)` when a branch is gone.
    pub(crate) fn pull_tips(
        &self,
        state: &State,
        full_name: &str,
        number: u64,
    ) -> Result<Option<(String, String)>, AdminError> {
        let pull = state
            .repo(full_name)
            .and_then(|repo| repo.pull(number))
            .ok_or_else(|| AdminError::UnknownPull {
                repo: full_name.to_owned(),
                number,
            })?;
        if let Some(tips) = &pull.closed_tips {
            return Ok(Some(tips.clone()));
        }
        let repository = self.open(full_name)?;
        let head = gitops::branch_tip(&repository, &pull.head);
        let base = gitops::branch_tip(&repository, &pull.base);
        Ok(head
            .zip(base)
            .map(|(head, base)| (head.to_string(), base.to_string())))
    }

    /// Recomputes the conflicts of every open pull request whose tips moved (arming
    /// `mergeable_delay`), runs the tiny CI on new head shas, and closes (as GitHub does) the
    /// open pull requests whose head or base branch was deleted.
    pub(crate) fn after_refs_moved(&self, state: &mut State, full_name: &str) {
        let Ok(repository) = self.open(full_name) else {
            return;
        };
        let numbers: Vec<u64> = state
            .repo(full_name)
            .map(|repo| {
                repo.pulls
                    .iter()
                    .filter(|pull| pull.open)
                    .map(|pull| pull.number)
                    .collect()
            })
            .unwrap_or_default();
        for number in numbers {
            if matches!(self.pull_tips(state, full_name, number), Ok(None)) {
                let time = now();
                if let Some(pull) = state
                    .repo_mut(full_name)
                    .and_then(|repo| repo.pull_mut(number))
                {
                    pull.open = false;
                    pull.closed_at = Some(time.clone());
                    pull.updated_at = time;
                    pull.closed_tips.clone_from(&pull.seen_tips);
                }
                continue;
            }
            self.observe(state, &repository, full_name, number);
        }
    }

    /// Marks as merged (by `login`, with the head as merge commit) every open pull request whose
    /// base branch now contains its head, as GitHub does when the merge is pushed by hand.
    pub(crate) fn merge_pushed_heads(&self, state: &mut State, full_name: &str, login: &str) {
        let Ok(repository) = self.open(full_name) else {
            return;
        };
        let numbers: Vec<u64> = state
            .repo(full_name)
            .map(|repo| {
                repo.pulls
                    .iter()
                    .filter(|pull| pull.open)
                    .map(|pull| pull.number)
                    .collect()
            })
            .unwrap_or_default();
        for number in numbers {
            let Ok(Some((head, base))) = self.pull_tips(state, full_name, number) else {
                continue;
            };
            let (Ok(head_oid), Ok(base_oid)) = (Oid::from_str(&head), Oid::from_str(&base)) else {
                continue;
            };
            if !gitops::contains(&repository, base_oid, head_oid) {
                continue;
            }
            let before = state
                .repo(full_name)
                .and_then(|repo| repo.pull(number))
                .and_then(|pull| pull.seen_tips.as_ref().map(|(_, base)| base.clone()))
                .unwrap_or_else(|| base.clone());
            state.user_id(login);
            let time = now();
            if let Some(pull) = state
                .repo_mut(full_name)
                .and_then(|repo| repo.pull_mut(number))
            {
                pull.open = false;
                pull.closed_at = Some(time.clone());
                pull.updated_at.clone_from(&time);
                pull.closed_tips = Some((head.clone(), before));
                pull.merged = Some(Merged {
                    sha: head,
                    at: time,
                    by: login.to_owned(),
                });
            }
        }
    }

    /// Notes the pull request's current tips: when they moved, recomputes its conflicts, arms
    /// `mergeable_delay` and runs the tiny CI on a new head.
    fn observe(&self, state: &mut State, repository: &Repository, full_name: &str, number: u64) {
        let Ok(Some((head, base))) = self.pull_tips(state, full_name, number) else {
            return;
        };
        let check_id = state.next_id();
        let Some(repo) = state.repo_mut(full_name) else {
            return;
        };
        let ci_needed = self.config.ci_check.as_ref().filter(|name| {
            !repo
                .check_runs
                .iter()
                .any(|run| run.head_sha == head && &run.name == *name)
        });
        if let Some(name) = ci_needed
            && repo.pull(number).is_some_and(|pull| pull.open)
        {
            let time = now();
            repo.check_runs.push(CheckRun {
                id: check_id,
                head_sha: head.clone(),
                name: name.clone(),
                status: "completed".into(),
                conclusion: Some("success".into()),
                started_at: time.clone(),
                completed_at: Some(time),
                external_id: None,
                details_url: None,
                title: None,
                summary: None,
            });
        }
        let Some(pull) = repo.pull_mut(number) else {
            return;
        };
        let tips = (head.clone(), base.clone());
        if pull.seen_tips.as_ref() == Some(&tips) {
            return;
        }
        let conflicts = match (Oid::from_str(&base), Oid::from_str(&head)) {
            (Ok(base), Ok(head)) => {
                gitops::merge_conflicts(repository, base, head).unwrap_or_default()
            }
            _ => Vec::new(),
        };
        pull.conflicts = conflicts;
        pull.seen_tips = Some(tips);
        pull.unknown_reads = self.config.mergeable_delay;
    }

    /// The computed mergeability of an open pull request (ignoring `mergeable_delay`).
    pub(crate) fn mergeability(
        &self,
        state: &mut State,
        full_name: &str,
        number: u64,
    ) -> Mergeability {
        let unknown = Mergeability {
            mergeable: None,
            state: "unknown",
        };
        let Ok(repository) = self.open(full_name) else {
            return unknown;
        };
        self.observe(state, &repository, full_name, number);
        let Ok(Some((head, base))) = self.pull_tips(state, full_name, number) else {
            return unknown;
        };
        let Some(repo) = state.repo(full_name) else {
            return unknown;
        };
        let Some(pull) = repo.pull(number) else {
            return unknown;
        };
        if !pull.open {
            return unknown;
        }
        if !pull.conflicts.is_empty() {
            return Mergeability {
                mergeable: Some(false),
                state: "dirty",
            };
        }
        if pull.draft {
            return Mergeability {
                mergeable: Some(true),
                state: "draft",
            };
        }
        if let Some(protection) = repo.protection.get(&pull.base) {
            if !protection_violations(repo, protection, pull, &head).is_empty() {
                return Mergeability {
                    mergeable: Some(true),
                    state: "blocked",
                };
            }
            let behind = match (Oid::from_str(&head), Oid::from_str(&base)) {
                (Ok(head), Ok(base)) => !gitops::contains(&repository, head, base),
                _ => false,
            };
            if protection.strict && behind {
                return Mergeability {
                    mergeable: Some(true),
                    state: "behind",
                };
            }
        }
        let failing = repo.latest_checks(&head).into_iter().any(|run| {
            matches!(
                run.conclusion.as_deref(),
                Some("failure" | "cancelled" | "timed_out" | "action_required")
            )
        }) || repo
            .latest_statuses(&head)
            .into_iter()
            .any(|status| matches!(status.state.as_str(), "failure" | "error"));
        Mergeability {
            mergeable: Some(true),
            state: if failing { "unstable" } else { "clean" },
        }
    }

    /// The REST JSON of a pull request; `read` uses up one `mergeable_delay` read.
    pub(crate) fn pull_view(
        &self,
        state: &mut State,
        full_name: &str,
        number: u64,
        read: bool,
    ) -> Option<Value> {
        let computed = self.mergeability(state, full_name, number);
        let pull = state.repo_mut(full_name)?.pull_mut(number)?;
        let shown = if pull.open && pull.unknown_reads > 0 {
            if read {
                pull.unknown_reads -= 1;
            }
            Mergeability {
                mergeable: None,
                state: "unknown",
            }
        } else {
            computed
        };
        let tips = self.pull_tips(state, full_name, number).ok()?;
        let repository = self.open(full_name).ok()?;
        let repo = state.repo(full_name)?;
        let pull = repo.pull(number)?;
        let counts = tips
            .as_ref()
            .and_then(|(head, base)| {
                let head = Oid::from_str(head).ok()?;
                let base = Oid::from_str(base).ok()?;
                let merge_base = repository.merge_base(base, head).ok();
                let commits = gitops::commits_between(&repository, base, head).ok()?.len();
                let files = gitops::diff(&repository, merge_base, head).ok()?;
                Some(render::PullCounts {
                    commits,
                    additions: files.iter().map(|file| file.additions).sum(),
                    deletions: files.iter().map(|file| file.deletions).sum(),
                    changed_files: files.len(),
                })
            })
            .unwrap_or_default();
        let (head_sha, base_sha) = tips.unwrap_or_default();
        Some(render::pull(
            &render::Context::new(&self.base_url, state),
            repo,
            pull,
            &render::PullDetail {
                head_sha,
                base_sha,
                mergeable: shown.mergeable,
                mergeable_state: shown.state,
                counts,
            },
        ))
    }

    /// See [`crate::GithubEmulator::pull`].
    pub(crate) fn pull_json(&self, full_name: &str, number: u64) -> Option<Value> {
        let mut state = self.lock();
        self.pull_view(&mut state, full_name, number, false)
    }

    /// See [`crate::GithubEmulator::conflicting_files`].
    pub(crate) fn conflicting_files(&self, full_name: &str, number: u64) -> Vec<String> {
        let mut state = self.lock();
        if let Ok(repository) = self.open(full_name) {
            self.observe(&mut state, &repository, full_name, number);
        }
        state
            .repo(full_name)
            .and_then(|repo| repo.pull(number))
            .map(|pull| pull.conflicts.clone())
            .unwrap_or_default()
    }

    /// See [`crate::GithubEmulator::merges`].
    pub(crate) fn merges(&self, full_name: &str, number: u64) -> u32 {
        self.lock()
            .repo(full_name)
            .and_then(|repo| repo.pull(number))
            .map_or(0, |pull| pull.merges)
    }

    /// See [`crate::GithubEmulator::dump`].
    pub(crate) fn dump(&self) -> Value {
        let mut state = self.lock();
        let names: Vec<String> = state.repos.values().map(Repo::full_name).collect();
        let mut repos = serde_json::Map::new();
        for full_name in names {
            let numbers: Vec<u64> = state
                .repo(&full_name)
                .map(|repo| repo.pulls.iter().map(|pull| pull.number).collect())
                .unwrap_or_default();
            let pulls: Vec<Value> = numbers
                .iter()
                .filter_map(|number| {
                    let mut view = self.pull_view(&mut state, &full_name, *number, false)?;
                    let pull = state.repo(&full_name)?.pull(*number)?;
                    view["conflicting_files"] = json!(pull.conflicts);
                    view["merge_calls"] = json!(pull.merges);
                    view["reviews"] = pull
                        .reviews
                        .iter()
                        .map(|review| json!({"login": review.login, "state": review.state, "commit_id": review.commit_id}))
                        .collect();
                    Some(view)
                })
                .collect();
            let Some(repo) = state.repo(&full_name) else {
                continue;
            };
            let branches: serde_json::Map<String, Value> = self
                .open(&full_name)
                .map(|repository| {
                    gitops::branches(&repository)
                        .into_iter()
                        .map(|(name, oid)| (name, json!(oid.to_string())))
                        .collect()
                })
                .unwrap_or_default();
            repos.insert(
                full_name.clone(),
                json!({
                    "default_branch": repo.default_branch,
                    "path": self.repo_path(&full_name),
                    "branches": branches,
                    "pulls": pulls,
                    "check_runs": repo.check_runs.iter().map(|run| json!({
                        "id": run.id, "head_sha": run.head_sha, "name": run.name,
                        "status": run.status, "conclusion": run.conclusion,
                    })).collect::<Vec<_>>(),
                    "statuses": repo.statuses.iter().map(|status| json!({
                        "id": status.id, "sha": status.sha, "context": status.context,
                        "state": status.state,
                    })).collect::<Vec<_>>(),
                    "protection": repo.protection.iter().map(|(branch, protection)| (branch.clone(), json!({
                        "required_checks": protection.required_checks,
                        "required_approvals": protection.required_approvals,
                        "strict": protection.strict,
                    }))).collect::<serde_json::Map<_, _>>(),
                }),
            );
        }
        let mut tokens: Vec<Value> = state
            .tokens
            .values()
            .map(|token| {
                json!({
                    "login": token.login,
                    "repos": match &token.scope {
                        TokenScope::All => Value::String("all".into()),
                        TokenScope::Repos(names) => json!(names),
                    },
                })
            })
            .collect();
        tokens.sort_by_key(ToString::to_string);
        let faults = &state.faults;
        let served = state.faults_served;
        json!({
            "repos": repos,
            "users": state.users,
            "tokens": tokens,
            "faults": {
                "primary_rate_limit": faults.primary_rate_limit,
                "secondary_rate_limit": faults.secondary_rate_limit,
                "secondary_status": faults.secondary_status,
                "bad_gateway": faults.bad_gateway,
                "service_unavailable": faults.service_unavailable,
                "reset_after_secs": faults.reset_after.as_secs_f64(),
                "retry_after_secs": faults.retry_after.as_secs_f64(),
            },
            "faults_served": {
                "primary_rate_limit": served.primary_rate_limit,
                "secondary_rate_limit": served.secondary_rate_limit,
                "bad_gateway": served.bad_gateway,
                "service_unavailable": served.service_unavailable,
            },
            "exchanges": state.exchanges.len(),
        })
    }
}

/// A pull request about to be opened.
#[derive(Debug, Clone)]
pub(crate) struct NewPull {
    pub(crate) head: String,
    pub(crate) base: String,
    pub(crate) title: String,
    pub(crate) body: Option<String>,
    pub(crate) draft: bool,
    pub(crate) user: String,
}
