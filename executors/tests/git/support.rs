use std::{
    fs,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

use git2::{Oid, Repository, Signature};
use plangate_executors::{ActionContext, ActionOutcome, Executor, GitExecutor};
use plangate_plans::{Action, ActionSpec, Rollback, TaskId, action::GitAction};
use serde_json::Value;
use tempfile::TempDir;

/// A folder holding the test's repositories; the plan's folder.
pub(crate) struct Sandbox {
    pub(crate) dir: TempDir,
}

impl Sandbox {
    pub(crate) fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("a temporary folder"),
        }
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A repository `name` with one commit on `main` holding `a.txt`.
    pub(crate) fn repo(&self, name: &str) -> Repository {
        let path = self.path(name);
        let mut options = git2::RepositoryInitOptions::new();
        options.initial_head("main");
        let repo = Repository::init_opts(&path, &options).expect("init");
        {
            let mut config = repo.config().expect("config");
            config.set_str("user.name", "Test").expect("name");
            config
                .set_str("user.email", "test@example.invalid")
                .expect("email");
        }
        write(&repo, "a.txt", "one\n");
        commit_all(&repo, "first");
        repo
    }

    /// A bare repository `name` that `repo` pushes to as `origin`, holding
    /// `repo`'s `main`.
    pub(crate) fn bare_remote(&self, repo: &Repository, name: &str) -> Repository {
        let path = self.path(name);
        let bare = Repository::init_bare(&path).expect("init bare");
        bare.set_head("refs/heads/main").expect("HEAD names main");
        repo.remote("origin", path.to_str().expect("UTF-8 path"))
            .expect("add remote");
        let mut remote = repo.find_remote("origin").expect("origin");
        remote
            .push(&["refs/heads/main:refs/heads/main"], None)
            .expect("initial push");
        remote
            .fetch(&["refs/heads/main:refs/remotes/origin/main"], None, None)
            .expect("fetch");
        bare
    }
}

/// Writes `content` to `path` in `repo`'s working tree.
pub(crate) fn write(repo: &Repository, path: &str, content: &str) {
    let path = repo.workdir().expect("a working tree").join(path);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).expect("folders");
    }
    fs::write(path, content).expect("write");
}

/// Reads `path` of `repo`'s working tree (`None`: absent).
pub(crate) fn read(repo: &Repository, path: &str) -> Option<String> {
    fs::read_to_string(repo.workdir().expect("a working tree").join(path)).ok()
}

/// Stages everything and commits on `HEAD` (the test's own doing, not the
/// executor's).
pub(crate) fn commit_all(repo: &Repository, message: &str) -> Oid {
    let mut index = repo.index().expect("index");
    index
        .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
        .expect("add");
    index.update_all(["*"], None).expect("update");
    index.write().expect("write index");
    let tree = repo
        .find_tree(index.write_tree().expect("tree"))
        .expect("tree");
    let signature = Signature::now("Test", "test@example.invalid").expect("signature");
    let parent = repo.head().ok().and_then(|head| head.peel_to_commit().ok());
    let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
    repo.commit(
        Some("HEAD"),
        &signature,
        &signature,
        message,
        &tree,
        &parents,
    )
    .expect("commit")
}

/// The sha `name` holds in `repo`, if it exists.
pub(crate) fn sha(repo: &Repository, name: &str) -> Option<Oid> {
    repo.refname_to_id(name).ok()
}

/// Whether the working tree and index match `HEAD` (no untracked files either).
pub(crate) fn is_clean(repo: &Repository) -> bool {
    let mut options = git2::StatusOptions::new();
    options.include_untracked(true);
    repo.statuses(Some(&mut options))
        .expect("status")
        .is_empty()
}

/// A `git` action from its YAML fields.
pub(crate) fn git(yaml: &str) -> Action {
    let git: GitAction = serde_yaml::from_str(yaml).expect("a valid git action");
    Action {
        instance: None,
        spec: ActionSpec::Git(Box::new(git)),
    }
}

/// What the checkpoint was handed, in order.
pub(crate) type Recorded = Arc<Mutex<Vec<Value>>>;

/// A context in the sandbox whose checkpoint keeps the evidence.
pub(crate) fn ctx(sandbox: &Sandbox) -> (ActionContext, Recorded) {
    let recorded: Recorded = Arc::default();
    let sink = Arc::clone(&recorded);
    let ctx = ActionContext::new(
        "run-1",
        TaskId::new("git-task").expect("valid id"),
        sandbox.dir.path(),
    )
    .with_checkpoint(move |evidence| {
        sink.lock().expect("not poisoned").push(evidence);
        async { Ok::<(), String>(()) }
    });
    (ctx, recorded)
}

pub(crate) async fn apply(action: &Action, ctx: &ActionContext) -> ActionOutcome {
    GitExecutor::new()
        .apply(action, ctx)
        .await
        .expect("the executor carries out the request")
}

pub(crate) async fn rollback(
    action: &Action,
    outcome: &ActionOutcome,
    ctx: &ActionContext,
) -> ActionOutcome {
    GitExecutor::new()
        .rollback(&Rollback::Auto, action, outcome.evidence.as_ref(), ctx)
        .await
        .expect("the executor carries out the rollback")
}

/// Asserts the outcome succeeded, showing it otherwise.
#[track_caller]
pub(crate) fn assert_succeeded(outcome: &ActionOutcome) {
    assert!(outcome.succeeded(), "not succeeded: {outcome:#?}");
}

/// Asserts the outcome failed with an error line containing `text`.
#[track_caller]
pub(crate) fn assert_failed_with(outcome: &ActionOutcome, text: &str) {
    assert_eq!(
        outcome.status,
        plangate_executors::OutcomeStatus::Failed,
        "not failed: {outcome:#?}"
    );
    let line = outcome.error_line().unwrap_or_default();
    assert!(line.contains(text), "error line {line:?} lacks {text:?}");
}

/// The repository at `path`.
pub(crate) fn open(path: &Path) -> Repository {
    Repository::open(path).expect("a repository")
}
