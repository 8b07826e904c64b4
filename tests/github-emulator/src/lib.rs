//! A small GitHub emulator for plangate's end-to-end tests.
//!
//! GitHub cannot be reached where plangate's tests run, yet the `github_merge` and `git`
//! executors must be tested with the real octocrab client and the real libgit2 and `git`
//! clients. This crate serves an honest emulation on `127.0.0.1`: the REST API at the root, as
//! on `api.github.com` (repositories, branches and protection, pull requests and their merge,
//! reviews, check runs, statuses, refs, commits and comparisons), and git's smart HTTP protocol
//! at `/{owner}/{repo}.git`, served by git's own `git http-backend` over bare repositories on
//! disk. Its state is real: mergeability is computed by git, merges write real commits, and a
//! push moves a pull request's head.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use plangate_github_emulator::{GithubEmulator, GithubEmulatorConfig, TokenScope};
//!
//! let emulator = GithubEmulator::start(GithubEmulatorConfig::default()).await?;
//! emulator.add_token("t0ken", "plangate-bot", TokenScope::All);
//! emulator.create_repo("platform/gitops", "main")?;
//! emulator.commit("platform/gitops", "feature", &[("a.txt", Some("a\n"))], "add a")?;
//! let number = emulator.create_pull("platform/gitops", "feature", "main", "Add a", false)?;
//! // Point octocrab at `emulator.api_url()` and git at `emulator.git_url("platform/gitops")`.
//! assert_eq!(emulator.pull("platform/gitops", number).map(|pull| pull["state"].clone()),
//!     Some("open".into()));
//! emulator.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! The same administration is served over HTTP under `/_emulator/` (see `README.md`), which
//! also lists what is emulated and what is not.
#![warn(missing_docs)]
#![recursion_limit = "256"]

mod admin;
mod api;
mod cli;
mod errors;
mod gitops;
mod hooks;
mod render;
mod server;
mod smart_http;
mod state;

#[doc(hidden)]
pub use cli::main_impl;

use serde_json::Value;
use state::Shared;
use std::{
    io,
    net::{Ipv4Addr, SocketAddr},
    path::PathBuf,
    sync::Arc,
    time::Duration,
};
use tokio::{sync::watch, task::JoinHandle};

/// How the emulator behaves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GithubEmulatorConfig {
    /// Where the bare repositories live (`ROOT/{owner}/{repo}.git`); `None` uses a fresh
    /// temporary directory that is removed when the emulator is dropped.
    pub root: Option<PathBuf>,
    /// The port to bind on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// When set, a tiny CI: after every push, and when a pull request is opened, each open
    /// pull request's new head sha gets a completed, successful check run of this name.
    pub ci_check: Option<String>,
    /// After a pull request's head or base moves (and when it is opened), this many REST `GET`s
    /// of it answer `mergeable: null` and `mergeable_state: "unknown"` before the computed
    /// value, as GitHub computes mergeability asynchronously.
    pub mergeable_delay: u32,
}

/// Which repositories a token may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenScope {
    /// Every repository.
    All,
    /// Only these repositories, by full name (`owner/name`).
    Repos(Vec<String>),
}

/// The state of a check run: a conclusion of a completed run, or [`CheckConclusion::Pending`]
/// for a run that is still `in_progress`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckConclusion {
    /// Completed with `success`.
    Success,
    /// Completed with `failure`.
    Failure,
    /// Completed with `neutral`.
    Neutral,
    /// Completed with `cancelled`.
    Cancelled,
    /// Completed with `skipped`.
    Skipped,
    /// Completed with `timed_out`.
    TimedOut,
    /// Completed with `action_required`.
    ActionRequired,
    /// Not completed: status `in_progress`, no conclusion.
    Pending,
}

impl CheckConclusion {
    /// GitHub's `conclusion` string, `None` for a pending run.
    pub fn as_conclusion(self) -> Option<&'static str> {
        Some(match self {
            Self::Success => "success",
            Self::Failure => "failure",
            Self::Neutral => "neutral",
            Self::Cancelled => "cancelled",
            Self::Skipped => "skipped",
            Self::TimedOut => "timed_out",
            Self::ActionRequired => "action_required",
            Self::Pending => return None,
        })
    }

    /// Parses GitHub's `conclusion` string.
    pub fn from_conclusion(conclusion: &str) -> Option<Self> {
        Some(match conclusion {
            "success" => Self::Success,
            "failure" => Self::Failure,
            "neutral" => Self::Neutral,
            "cancelled" => Self::Cancelled,
            "skipped" => Self::Skipped,
            "timed_out" => Self::TimedOut,
            "action_required" => Self::ActionRequired,
            _ => return None,
        })
    }
}

/// The state a pull request review leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewState {
    /// `APPROVED`.
    Approved,
    /// `CHANGES_REQUESTED`.
    ChangesRequested,
    /// `COMMENTED`.
    Commented,
}

impl ReviewState {
    /// GitHub's review `state` string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approved => "APPROVED",
            Self::ChangesRequested => "CHANGES_REQUESTED",
            Self::Commented => "COMMENTED",
        }
    }
}

/// Branch protection, the part of it the emulator enforces.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Protection {
    /// Check-run names or status contexts that must succeed on the head sha.
    pub required_checks: Vec<String>,
    /// How many distinct users' latest review must be an approval.
    pub required_approvals: u32,
    /// Whether the head must contain the base tip (`strict` required status checks).
    pub strict: bool,
}

/// Fault switches: the next API requests (never git, never `/_emulator`) fail on purpose, in
/// the order of the fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Faults {
    /// How many requests answer 403 with `x-ratelimit-remaining: 0` (primary rate limit).
    pub primary_rate_limit: u32,
    /// How many requests answer a secondary rate limit with `retry-after`.
    pub secondary_rate_limit: u32,
    /// The status of a secondary rate limit: 403 (GitHub's usual) or 429.
    pub secondary_status: u16,
    /// How many requests answer 502.
    pub bad_gateway: u32,
    /// How many requests answer 503.
    pub service_unavailable: u32,
    /// A primary rate limit's `x-ratelimit-reset` is now plus this (rounded up to seconds).
    pub reset_after: Duration,
    /// A secondary rate limit's `retry-after` (rounded up to seconds).
    pub retry_after: Duration,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            primary_rate_limit: 0,
            secondary_rate_limit: 0,
            secondary_status: 403,
            bad_gateway: 0,
            service_unavailable: 0,
            reset_after: Duration::from_secs(1),
            retry_after: Duration::from_secs(1),
        }
    }
}

/// How many faults of each kind have been served.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultCounts {
    /// Primary rate limits served.
    pub primary_rate_limit: u32,
    /// Secondary rate limits served.
    pub secondary_rate_limit: u32,
    /// 502s served.
    pub bad_gateway: u32,
    /// 503s served.
    pub service_unavailable: u32,
}

/// One REST response the emulator served.
#[derive(Debug, Clone, PartialEq)]
pub struct Exchange {
    /// The request method, e.g. `PUT`.
    pub method: String,
    /// The request path with its query, e.g. `/repos/o/r/pulls?state=all`.
    pub path: String,
    /// The response status.
    pub status: u16,
    /// The JSON response body; `None` for an empty body (e.g. 204).
    pub body: Option<Value>,
    /// Whether the answer came from the fault switches or the authentication layer (401)
    /// rather than from the operation: GitHub sends those on every path, but its description
    /// documents them only on some operations, so [`GithubEmulator::assert_conformant`] skips
    /// them.
    pub injected: bool,
}

/// Why an administrative call failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The repository does not exist.
    #[error("repository `{0}` does not exist")]
    UnknownRepo(String),
    /// The repository exists already.
    #[error("repository `{0}` exists already")]
    RepoExists(String),
    /// The name is not `owner/name` with safe characters.
    #[error("invalid repository name `{0}`")]
    InvalidName(String),
    /// The branch (or sha) does not exist.
    #[error("branch or commit `{reference}` does not exist in `{repo}`")]
    UnknownRef {
        /// The repository.
        repo: String,
        /// The branch, ref or sha.
        reference: String,
    },
    /// The branch exists already.
    #[error("branch `{0}` exists already")]
    BranchExists(String),
    /// The pull request does not exist.
    #[error("pull request #{number} does not exist in `{repo}`")]
    UnknownPull {
        /// The repository.
        repo: String,
        /// The pull request number.
        number: u64,
    },
    /// The head has no commits the base lacks.
    #[error("no commits between `{base}` and `{head}`")]
    NoCommits {
        /// The base branch.
        base: String,
        /// The head branch.
        head: String,
    },
    /// A file path is empty, absolute or contains `..`.
    #[error("invalid file path `{0}`")]
    InvalidPath(String),
    /// A git operation failed.
    #[error("git operation failed")]
    Git(#[from] git2::Error),
    /// Creating a directory on disk failed.
    #[error("failed to create `{}`", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

/// A running emulator. Dropping it stops the server (and removes a temporary root).
#[derive(Debug)]
pub struct GithubEmulator {
    url: String,
    port: u16,
    shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
    server: Option<JoinHandle<()>>,
    runtime: Option<tokio::runtime::Runtime>,
    _temporary_root: Option<tempfile::TempDir>,
}

impl GithubEmulator {
    /// Binds 127.0.0.1 and starts serving on the current tokio runtime (which needs the I/O
    /// driver; git is served through `git http-backend` child processes).
    ///
    /// # Errors
    ///
    /// Binding fails, or the repository root cannot be created.
    pub async fn start(config: GithubEmulatorConfig) -> io::Result<Self> {
        let (root, temporary_root) = match &config.root {
            Some(root) => {
                std::fs::create_dir_all(root)?;
                (root.clone(), None)
            }
            None => {
                let directory = tempfile::Builder::new()
                    .prefix("github-emulator-")
                    .tempdir()?;
                (directory.path().to_owned(), Some(directory))
            }
        };
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, config.port));
        let listener = tokio::net::TcpListener::bind(address).await?;
        let local = listener.local_addr()?;
        let url = format!("http://{local}");
        let shared = Arc::new(Shared::new(config, root, url.clone()));
        let (shutdown, mut graceful) = watch::channel(false);
        let router = server::router(Arc::clone(&shared));
        let server = tokio::spawn(async move {
            let served = axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    // Either a shutdown request or a dropped sender ends the server.
                    let _ = graceful.wait_for(|stop| *stop).await;
                })
                .await;
            if let Err(error) = served {
                tracing::error!(%error, "the emulator's server failed");
            }
        });
        Ok(Self {
            url,
            port: local.port(),
            shared,
            shutdown,
            server: Some(server),
            runtime: None,
            _temporary_root: temporary_root,
        })
    }

    /// Starts the emulator on its own background runtime, for synchronous callers (tests that
    /// run `git` with `std::process::Command` outside any runtime). Dropping the handle stops
    /// it.
    ///
    /// # Errors
    ///
    /// The runtime cannot be created, or [`GithubEmulator::start`] fails.
    pub fn spawn(config: GithubEmulatorConfig) -> io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("github-emulator")
            .enable_all()
            .build()?;
        let mut emulator = runtime.block_on(Self::start(config))?;
        emulator.runtime = Some(runtime);
        Ok(emulator)
    }

    /// The REST API's base URL, `http://127.0.0.1:PORT` (give it to octocrab's `base_uri`).
    pub fn api_url(&self) -> String {
        self.url.clone()
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The clone URL of a repository, `http://127.0.0.1:PORT/owner/name.git`.
    pub fn git_url(&self, full_name: &str) -> String {
        format!("{}/{full_name}.git", self.url)
    }

    /// Registers a token for `login` (creating the user). Tokens authenticate the API
    /// (`Authorization: Bearer T` or `token T`) and git (HTTP Basic, the token as password).
    pub fn add_token(&self, token: &str, login: &str, scope: TokenScope) {
        self.shared.lock().add_token(token, login, scope);
    }

    /// Creates a repository with one commit (a `README.md`) on `default_branch`; returns that
    /// commit's sha. The owner becomes a user if it is not one yet.
    pub fn create_repo(&self, full_name: &str, default_branch: &str) -> Result<String, AdminError> {
        self.shared.create_repo(full_name, default_branch)
    }

    /// Commits files on `branch` (created from the default branch if missing): `Some(text)`
    /// writes a file, `None` deletes it. Returns the new commit's sha.
    pub fn commit(
        &self,
        full_name: &str,
        branch: &str,
        files: &[(&str, Option<&str>)],
        message: &str,
    ) -> Result<String, AdminError> {
        self.shared.commit(full_name, branch, files, message)
    }

    /// Creates `branch` at `from` (a branch name or a sha); returns its sha.
    pub fn create_branch(
        &self,
        full_name: &str,
        branch: &str,
        from: &str,
    ) -> Result<String, AdminError> {
        self.shared.create_branch(full_name, branch, from)
    }

    /// Opens a pull request from `head` into `base` (branch names of the same repository),
    /// authored by the repository's owner; returns its number.
    pub fn create_pull(
        &self,
        full_name: &str,
        head: &str,
        base: &str,
        title: &str,
        draft: bool,
    ) -> Result<u64, AdminError> {
        self.shared.create_pull(full_name, head, base, title, draft)
    }

    /// Adds a check run `name` on a sha (or a branch's tip), by the `github-actions` app.
    pub fn add_check_run(
        &self,
        full_name: &str,
        sha_or_branch: &str,
        name: &str,
        conclusion: CheckConclusion,
    ) -> Result<(), AdminError> {
        self.shared
            .add_check_run(full_name, sha_or_branch, name, conclusion)
    }

    /// Adds a commit status (`state`: `error`, `failure`, `pending` or `success`).
    pub fn add_status(
        &self,
        full_name: &str,
        sha_or_branch: &str,
        context: &str,
        state: &str,
    ) -> Result<(), AdminError> {
        self.shared
            .add_status(full_name, sha_or_branch, context, state)
    }

    /// Adds a review by `login` (creating the user) on the pull request's current head.
    pub fn add_review(
        &self,
        full_name: &str,
        number: u64,
        login: &str,
        state: ReviewState,
    ) -> Result<(), AdminError> {
        self.shared.add_review(full_name, number, login, state)
    }

    /// Protects `branch` (replacing any earlier protection).
    pub fn set_protection(
        &self,
        full_name: &str,
        branch: &str,
        protection: Protection,
    ) -> Result<(), AdminError> {
        self.shared.set_protection(full_name, branch, protection)
    }

    /// Seeds what the binary's `--seed-gitops` seeds: repository `platform/gitops` (a README
    /// and `clusters/dev/` on `main`), branch `release/next` with one commit, pull request #1
    /// `release/next` into `main` titled "Release next", an approval from `reviewer`, and
    /// protection on `main` requiring check `ci` and one approval.
    pub fn seed_gitops(&self) -> Result<(), AdminError> {
        cli::seed_gitops(self)
    }

    /// Test hook: the next merge request of a pull request of `full_name` first gets a commit
    /// pushed onto `branch`, as if someone pushed between the client's check and its merge.
    pub fn push_before_next_merge(&self, full_name: &str, branch: &str) {
        self.shared.hooks.push_before_next_merge(full_name, branch);
    }

    /// Test hook: the next successful merge is done, then its answer is held until
    /// [`GithubEmulator::release_merge`], so a test can kill the client after GitHub merged
    /// and before it heard so ([`GithubEmulator::merge_held`] tells when).
    pub fn hold_next_merge(&self) {
        self.shared.hooks.hold_next_merge();
    }

    /// Whether a merge is done and its answer held by [`GithubEmulator::hold_next_merge`].
    pub fn merge_held(&self) -> bool {
        self.shared.hooks.holding()
    }

    /// Sends a held merge answer (to a client that may be gone).
    pub fn release_merge(&self) {
        self.shared.hooks.release();
    }

    /// Arms the fault switches (replacing the earlier ones; counts of served faults stay).
    pub fn set_faults(&self, faults: Faults) {
        self.shared.lock().faults = faults;
    }

    /// How many faults have been served so far.
    pub fn faults_served(&self) -> FaultCounts {
        self.shared.lock().faults_served
    }

    /// A branch's tip sha.
    pub fn branch_sha(&self, full_name: &str, branch: &str) -> Option<String> {
        self.shared.branch_sha(full_name, branch)
    }

    /// A pull request as the REST API shows it (without using up `mergeable_delay`).
    pub fn pull(&self, full_name: &str, number: u64) -> Option<Value> {
        self.shared.pull_json(full_name, number)
    }

    /// The paths that conflict when merging the pull request (empty when it merges cleanly).
    pub fn conflicting_files(&self, full_name: &str, number: u64) -> Vec<String> {
        self.shared.conflicting_files(full_name, number)
    }

    /// How many merge calls on the pull request succeeded.
    pub fn merges(&self, full_name: &str, number: u64) -> u32 {
        self.shared.merges(full_name, number)
    }

    /// The bare repository on disk.
    pub fn repo_path(&self, full_name: &str) -> PathBuf {
        self.shared.repo_path(full_name)
    }

    /// Every REST response served so far, in order.
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.shared.lock().exchanges.clone()
    }

    /// Checks every REST response served so far (except [`Exchange::injected`] ones) against
    /// GitHub's OpenAPI description, found by `plangate_openapi_check::Spec::from_env`
    /// (`PLANGATE_GITHUB_OPENAPI`, else `<workspace>/.tools/openapi/api.github.com.json`).
    ///
    /// # Panics
    ///
    /// This is a test assertion: it panics listing every violation, or when the description
    /// cannot be loaded.
    #[track_caller]
    pub fn assert_conformant(&self) {
        let spec = match plangate_openapi_check::Spec::from_env() {
            Ok(spec) => spec,
            Err(error) => panic!("GitHub's OpenAPI description cannot be loaded: {error}"),
        };
        let exchanges = self.exchanges();
        let mut violations = Vec::new();
        for exchange in exchanges.iter().filter(|exchange| !exchange.injected) {
            let path = exchange
                .path
                .split_once('?')
                .map_or(exchange.path.as_str(), |(path, _)| path);
            for violation in spec.check_response(
                &exchange.method,
                path,
                exchange.status,
                exchange.body.as_ref(),
            ) {
                violations.push(format!(
                    "{} {}: {violation}",
                    exchange.method, exchange.path
                ));
            }
        }
        assert!(
            violations.is_empty(),
            "{} of {} responses depart from GitHub's OpenAPI description:\n{}",
            violations.len(),
            exchanges.len(),
            violations.join("\n")
        );
    }

    /// The whole state, for debugging: tokens (logins and scopes only), repositories with
    /// branches, pull requests (with conflicting files), reviews, check runs, statuses and
    /// protection, the fault switches and the served faults. `GET /_emulator/state` returns
    /// the same document.
    pub fn dump(&self) -> Value {
        self.shared.dump()
    }

    /// Stops serving and waits for the server to stop.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(server) = self.server.take() {
            // A panicked server has already stopped, which is all shutdown needs.
            let _ = server.await;
        }
    }
}

impl Drop for GithubEmulator {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        if let Some(server) = &self.server {
            server.abort();
        }
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
