//! Git smart HTTP with libgit2 and the real `git` CLI.

use crate::support::{REPO, TOKEN, client, clone, commit_file, emulator, push};
use octocrab::models::pulls::MergeableState;
use plangate_github_emulator::GithubEmulatorConfig;
use std::process::Command;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn libgit2_clones_and_pushes_with_a_token() {
    let emulator = emulator(GithubEmulatorConfig {
        ci_check: Some("ci".into()),
        ..GithubEmulatorConfig::default()
    })
    .await;
    let github = client(&emulator, Some(TOKEN));
    let first = emulator
        .commit(REPO, "feature", &[("a.txt", Some("a\n"))], "add a")
        .expect("committed");
    let number = emulator
        .create_pull(REPO, "feature", "main", "Add a", false)
        .expect("opened");
    let url = emulator.git_url(REPO);
    let directory = tempfile::tempdir().expect("a temporary directory");
    let work = directory.path().join("work");

    let pushed = tokio::task::spawn_blocking(move || {
        let wrong = clone(&url, &directory.path().join("denied"), "wrong-token");
        assert!(wrong.is_err(), "a wrong token is refused");
        let repository = clone(&url, &work, TOKEN).expect("the clone works");
        let branch = repository
            .find_branch("origin/feature", git2::BranchType::Remote)
            .expect("the remote branch");
        let target = branch.get().peel_to_commit().expect("a commit");
        repository
            .branch("feature", &target, false)
            .expect("the local branch");
        repository
            .set_head("refs/heads/feature")
            .expect("checked out");
        repository
            .checkout_head(Some(git2::build::CheckoutBuilder::new().force()))
            .expect("checked out");
        let pushed = commit_file(&repository, "b.txt", "b\n", "add b");
        push(&repository, "refs/heads/feature:refs/heads/feature", TOKEN).expect("the push works");
        let _ = directory;
        pushed
    })
    .await
    .expect("the git thread");

    assert_ne!(pushed.to_string(), first);
    assert_eq!(
        emulator.branch_sha(REPO, "feature"),
        Some(pushed.to_string())
    );
    let pull = github
        .pulls("platform", "gitops")
        .get(number)
        .await
        .expect("read");
    assert_eq!(pull.head.sha, pushed.to_string(), "the push moved the head");
    assert_eq!(pull.mergeable_state, Some(MergeableState::Clean));
    let runs = github
        .checks("platform", "gitops")
        .list_check_runs_for_git_ref(octocrab::params::repos::Commitish(pushed.to_string()))
        .send()
        .await
        .expect("check runs");
    assert_eq!(runs.total_count, 1);
    assert_eq!(runs.check_runs[0].name, "ci");

    let url = emulator.git_url(REPO);
    let work = tempfile::tempdir().expect("a temporary directory");
    let main_before = emulator.branch_sha(REPO, "main").expect("main");
    tokio::task::spawn_blocking(move || {
        let repository = clone(&url, &work.path().join("again"), TOKEN).expect("the clone works");
        push(
            &repository,
            "refs/remotes/origin/feature:refs/heads/main",
            TOKEN,
        )
        .expect("a fast-forward push of main");
    })
    .await
    .expect("the git thread");
    let pull = github
        .pulls("platform", "gitops")
        .get(number)
        .await
        .expect("read");
    assert!(
        pull.merged_at.is_some(),
        "pushing the head into main merges it"
    );
    assert_eq!(pull.merge_commit_sha, Some(pushed.to_string()));
    assert_eq!(pull.base.sha, main_before);
    emulator.assert_conformant();
    emulator.shutdown().await;
}

fn git(directory: &std::path::Path, arguments: &[&str]) -> String {
    let output = Command::new("git")
        .args(arguments)
        .current_dir(directory)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", directory)
        .env("GIT_AUTHOR_NAME", "Tester")
        .env("GIT_AUTHOR_EMAIL", "tester@example.invalid")
        .env("GIT_COMMITTER_NAME", "Tester")
        .env("GIT_COMMITTER_EMAIL", "tester@example.invalid")
        .output()
        .expect("git runs");
    assert!(
        output.status.success(),
        "git {arguments:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_git_cli_clones_and_pushes_with_a_token_in_the_url() {
    let emulator = emulator(GithubEmulatorConfig::default()).await;
    let url = emulator
        .git_url(REPO)
        .replace("http://", &format!("http://x:{TOKEN}@"));
    let directory = tempfile::tempdir().expect("a temporary directory");
    let root = directory.path().to_owned();
    let pushed = tokio::task::spawn_blocking(move || {
        git(&root, &["clone", "--quiet", &url, "work"]);
        let work = root.join("work");
        std::fs::write(work.join("c.txt"), "c\n").expect("written");
        git(&work, &["add", "c.txt"]);
        git(&work, &["commit", "--quiet", "-m", "add c"]);
        git(
            &work,
            &["push", "--quiet", "origin", "HEAD:refs/heads/from-cli"],
        );
        git(&work, &["rev-parse", "HEAD"])
    })
    .await
    .expect("the git thread");
    assert_eq!(emulator.branch_sha(REPO, "from-cli"), Some(pushed));
    emulator.assert_conformant();
    emulator.shutdown().await;
}

#[test]
fn a_spawned_emulator_serves_synchronous_callers() {
    let emulator = plangate_github_emulator::GithubEmulator::spawn(GithubEmulatorConfig::default())
        .expect("the emulator starts");
    emulator.add_token(
        TOKEN,
        "plangate-bot",
        plangate_github_emulator::TokenScope::All,
    );
    emulator.create_repo(REPO, "main").expect("created");
    let url = emulator
        .git_url(REPO)
        .replace("http://", &format!("http://x:{TOKEN}@"));
    let directory = tempfile::tempdir().expect("a temporary directory");
    git(directory.path(), &["clone", "--quiet", &url, "work"]);
    let readme = std::fs::read_to_string(directory.path().join("work/README.md")).expect("cloned");
    assert_eq!(readme, "# gitops\n");
    emulator.assert_conformant();
}
