//! The `github_merge` executor, through the real octocrab client and
//! libgit2, against a fresh in-repo GitHub emulator per test (on 127.0.0.1;
//! real bare repositories on disk, served over smart HTTP by git's own
//! `http-backend`). Every REST answer the executor received is checked
//! against GitHub's OpenAPI description at the end of each test.

#![cfg(unix)]

use std::{path::Path, sync::Arc, time::Duration};

use plangate_executors::{
    ActionContext, Executor, GithubMergeExecutor, Observation, OutcomeStatus, Redactor,
};
use plangate_github_emulator::{
    CheckConclusion, Faults, GithubEmulator, GithubEmulatorConfig, Protection, ReviewState,
    TokenScope,
};
use plangate_plans::{Action, ActionSpec, Rollback, TaskId};
use serde_json::Value;

const TOKEN: &str = "ghp_test_token_0123456789abcdef";
const REPO: &str = "acme/gitops";

struct Fixture {
    emulator: GithubEmulator,
    executor: GithubMergeExecutor,
    _root: tempfile::TempDir,
}

async fn fixture(config: GithubEmulatorConfig) -> Fixture {
    let root = tempfile::tempdir().expect("a temp dir");
    let emulator = GithubEmulator::start(GithubEmulatorConfig {
        root: Some(root.path().to_path_buf()),
        ..config
    })
    .await
    .expect("the emulator starts");
    emulator.add_token(TOKEN, "plangate-bot", TokenScope::All);
    emulator
        .create_repo(REPO, "main")
        .expect("the repository is created");
    emulator
        .commit(
            REPO,
            "main",
            &[("clusters/dev/app.yaml", Some("replicas: 1\n"))],
            "base layout",
        )
        .expect("a commit on main");
    let executor = GithubMergeExecutor::new().with_env("PLANGATE_TEST_GITHUB_TOKEN", TOKEN);
    Fixture {
        emulator,
        executor,
        _root: root,
    }
}

/// A pull request `feature` -> `main` changing `clusters/dev/app.yaml`.
fn open_pull(emulator: &GithubEmulator, branch: &str, content: &str) -> u64 {
    emulator
        .create_branch(REPO, branch, "main")
        .expect("the branch is created");
    emulator
        .commit(
            REPO,
            branch,
            &[("clusters/dev/app.yaml", Some(content))],
            "scale the app",
        )
        .expect("a commit on the branch");
    emulator
        .create_pull(REPO, branch, "main", "Scale the app", false)
        .expect("the pull request is opened")
}

fn green(emulator: &GithubEmulator, branch: &str, pr: u64) {
    emulator
        .add_check_run(REPO, branch, "ci", CheckConclusion::Success)
        .expect("a check run");
    emulator
        .add_review(REPO, pr, "reviewer", ReviewState::Approved)
        .expect("a review");
}

/// A merge of `pr` requiring check `ci` and one approval, with `extra` fields.
fn action(emulator: &GithubEmulator, pr: u64, extra: &str) -> Action {
    raw_action(
        emulator,
        pr,
        &format!("require_checks: [ci]\nrequire_approvals: 1\n{extra}"),
    )
}

/// A merge of `pr` with only `fields` besides the repository and the API.
fn raw_action(emulator: &GithubEmulator, pr: u64, fields: &str) -> Action {
    let yaml = format!(
        "repo: {REPO}\npr: {pr}\napi_url: {}\ntoken_env: PLANGATE_TEST_GITHUB_TOKEN\n{fields}",
        emulator.api_url()
    );
    Action {
        instance: None,
        spec: ActionSpec::GithubMerge(serde_yaml::from_str(&yaml).expect("a valid action")),
    }
}

fn context(timeout: Duration) -> ActionContext {
    ActionContext::new(
        "01TESTRUN",
        TaskId::new("merge-release").expect("a valid id"),
        Path::new(env!("CARGO_MANIFEST_DIR")),
    )
    .with_redactor(Arc::new(Redactor::default()))
    .with_timeout(timeout)
}

fn no_token(text: &str) {
    assert!(!text.contains(TOKEN), "the token leaked into: {text}");
}

#[tokio::test]
async fn a_green_pull_request_is_merged_at_the_checked_head_and_verified() {
    let f = fixture(GithubEmulatorConfig::default()).await;
    let pr = open_pull(&f.emulator, "feature", "replicas: 3\n");
    green(&f.emulator, "feature", pr);
    let head = f.emulator.branch_sha(REPO, "feature").expect("the head");
    let action = action(&f.emulator, pr, "delete_branch: true\n");
    let ctx = context(Duration::from_secs(60));

    let preview = f.executor.preview(&action, &ctx).await.expect("a preview");
    assert_eq!(preview.blocked, None, "{preview:#?}");
    let detail = |label: &str| {
        preview
            .details
            .iter()
            .find(|detail| detail.label == label)
            .map(|detail| detail.value.clone())
            .unwrap_or_default()
    };
    assert_eq!(detail("state"), "open");
    assert_eq!(detail("mergeable"), "true");
    assert_eq!(detail("mergeable_state"), "clean");
    assert!(detail("check ci").starts_with("success"), "{preview:#?}");
    assert!(
        detail("approvals").starts_with("1 of 1 required"),
        "{preview:#?}"
    );
    assert!(detail("head").starts_with(&head), "{preview:#?}");
    assert!(
        detail("files").contains("clusters/dev/app.yaml"),
        "{preview:#?}"
    );

    let outcome = f.executor.apply(&action, &ctx).await.expect("an outcome");
    assert_eq!(outcome.status, OutcomeStatus::Succeeded, "{outcome:#?}");
    let evidence = outcome.evidence.clone().expect("evidence");
    let main = f.emulator.branch_sha(REPO, "main").expect("main");
    assert_eq!(evidence["merge_sha"], Value::String(main.clone()));
    assert_eq!(evidence["head_sha"], Value::String(head));
    assert_eq!(evidence["deleted_branch"], Value::Bool(true));
    assert_eq!(f.emulator.branch_sha(REPO, "feature"), None);
    assert_eq!(f.emulator.merges(REPO, pr), 1);

    let verified = f.executor.verify(&action, &ctx).await.expect("an outcome");
    assert_eq!(verified.status, OutcomeStatus::Succeeded, "{verified:#?}");
    assert!(verified.stdout_tail.contains(&main));

    // Merged: observe says so, and a second apply does not merge again.
    let observed = f
        .executor
        .observe(&action, Some(&evidence), &ctx)
        .await
        .expect("an observation");
    assert_eq!(observed, Observation::Applied);
    let again = f.executor.apply(&action, &ctx).await.expect("an outcome");
    assert_eq!(again.status, OutcomeStatus::Succeeded);
    assert!(again.stdout_tail.contains("already merged"), "{again:#?}");
    assert_eq!(f.emulator.merges(REPO, pr), 1);

    no_token(&format!("{preview:?}{outcome:?}{verified:?}{again:?}"));
    f.emulator.assert_conformant();
}

#[tokio::test]
async fn a_failing_check_blocks_the_preview_and_the_merge() {
    let f = fixture(GithubEmulatorConfig::default()).await;
    let pr = open_pull(&f.emulator, "feature", "replicas: 3\n");
    f.emulator
        .add_check_run(REPO, "feature", "ci", CheckConclusion::Failure)
        .expect("a check run");
    f.emulator
        .add_review(REPO, pr, "reviewer", ReviewState::Approved)
        .expect("a review");
    let action = action(&f.emulator, pr, "");
    let ctx = context(Duration::from_secs(60));

    let preview = f.executor.preview(&action, &ctx).await.expect("a preview");
    let blocked = preview.blocked.clone().expect("blocked");
    assert!(
        blocked.contains("required check `ci` concluded `failure`"),
        "{blocked}"
    );

    let outcome = f.executor.apply(&action, &ctx).await.expect("an outcome");
    assert_eq!(outcome.status, OutcomeStatus::Failed);
    assert!(
        outcome
            .error_line()
            .is_some_and(|line| line.contains("required check `ci`")),
        "{outcome:#?}"
    );
    assert_eq!(f.emulator.merges(REPO, pr), 0);
    f.emulator.assert_conformant();
}

#[tokio::test]
async fn approvals_short_of_the_protection_block_with_the_count() {
    let f = fixture(GithubEmulatorConfig::default()).await;
    let pr = open_pull(&f.emulator, "feature", "replicas: 3\n");
    green(&f.emulator, "feature", pr);
    f.emulator
        .set_protection(
            REPO,
            "main",
            Protection {
                required_checks: vec!["ci".to_owned(), "lint".to_owned()],
                required_approvals: 2,
                strict: false,
            },
        )
        .expect("protection");
    let action = action(&f.emulator, pr, "");
    let preview = f
        .executor
        .preview(&action, &context(Duration::from_secs(60)))
        .await
        .expect("a preview");
    let blocked = preview.blocked.clone().expect("blocked");
    assert!(
        blocked.contains("1 approving review of 2 required"),
        "{blocked}"
    );
    assert!(
        blocked.contains("required check `lint` has not reported"),
        "{blocked}"
    );
    f.emulator.assert_conformant();
}

#[tokio::test]
async fn a_conflicting_pull_request_names_its_conflicting_files() {
    let f = fixture(GithubEmulatorConfig::default()).await;
    let pr = open_pull(&f.emulator, "feature", "replicas: 3\n");
    green(&f.emulator, "feature", pr);
    f.emulator
        .commit(
            REPO,
            "main",
            &[("clusters/dev/app.yaml", Some("replicas: 5\n"))],
            "someone else scaled it",
        )
        .expect("a conflicting commit on main");
    let action = action(&f.emulator, pr, "");
    let ctx = context(Duration::from_secs(60));
    let preview = f.executor.preview(&action, &ctx).await.expect("a preview");
    let blocked = preview.blocked.clone().expect("blocked");
    assert!(
        blocked.contains("conflicts with `main`: clusters/dev/app.yaml"),
        "{blocked}"
    );
    assert!(
        preview
            .details
            .iter()
            .any(|d| d.label == "conflicting files" && d.value == "clusters/dev/app.yaml"),
        "{preview:#?}"
    );
    let outcome = f.executor.apply(&action, &ctx).await.expect("an outcome");
    assert_eq!(outcome.status, OutcomeStatus::Failed);
    assert_eq!(f.emulator.merges(REPO, pr), 0);
    f.emulator.assert_conformant();
}

#[tokio::test]
async fn a_head_other_than_the_pinned_sha_is_refused_with_both_shas() {
    let f = fixture(GithubEmulatorConfig::default()).await;
    let pr = open_pull(&f.emulator, "feature", "replicas: 3\n");
    let seen = f.emulator.branch_sha(REPO, "feature").expect("the head");
    f.emulator
        .commit(
            REPO,
            "feature",
            &[("clusters/dev/extra.yaml", Some("x: 1\n"))],
            "pushed after the review",
        )
        .expect("a later push");
    green(&f.emulator, "feature", pr);
    let now = f.emulator.branch_sha(REPO, "feature").expect("the head");
    let action = action(&f.emulator, pr, &format!("sha: {seen}\n"));
    let outcome = f
        .executor
        .apply(&action, &context(Duration::from_secs(60)))
        .await
        .expect("an outcome");
    assert_eq!(outcome.status, OutcomeStatus::Failed);
    let line = outcome.error_line().expect("an error line");
    assert!(line.contains(&seen) && line.contains(&now), "{line}");
    assert_eq!(f.emulator.merges(REPO, pr), 0);
    f.emulator.assert_conformant();
}

#[tokio::test]
async fn a_head_pushed_between_the_check_and_the_merge_is_refused_by_github() {
    let f = fixture(GithubEmulatorConfig::default()).await;
    let pr = open_pull(&f.emulator, "feature", "replicas: 3\n");
    green(&f.emulator, "feature", pr);
    let checked = f.emulator.branch_sha(REPO, "feature").expect("the head");
    f.emulator.push_before_next_merge(REPO, "feature");
    let outcome = f
        .executor
        .apply(
            &action(&f.emulator, pr, ""),
            &context(Duration::from_secs(60)),
        )
        .await
        .expect("an outcome");
    assert_eq!(outcome.status, OutcomeStatus::Failed, "{outcome:#?}");
    let now = f.emulator.branch_sha(REPO, "feature").expect("the head");
    assert_ne!(now, checked);
    let line = outcome.error_line().expect("an error line");
    assert!(line.contains(&checked) && line.contains(&now), "{line}");
    assert!(line.contains("Head branch was modified"), "{line}");
    assert_eq!(f.emulator.merges(REPO, pr), 0);
    f.emulator.assert_conformant();
}

#[tokio::test]
async fn rate_limits_and_bad_gateways_are_retried_and_counted() {
    let f = fixture(GithubEmulatorConfig::default()).await;
    let pr = open_pull(&f.emulator, "feature", "replicas: 3\n");
    green(&f.emulator, "feature", pr);
    f.emulator.set_faults(Faults {
        primary_rate_limit: 1,
        secondary_rate_limit: 1,
        bad_gateway: 2,
        service_unavailable: 1,
        reset_after: Duration::from_secs(1),
        retry_after: Duration::from_secs(1),
        ..Faults::default()
    });
    let outcome = f
        .executor
        .apply(
            &action(&f.emulator, pr, ""),
            &context(Duration::from_secs(60)),
        )
        .await
        .expect("an outcome");
    assert_eq!(outcome.status, OutcomeStatus::Succeeded, "{outcome:#?}");
    let retries = outcome.evidence.as_ref().expect("evidence")["retries"]
        .as_array()
        .expect("a list")
        .clone();
    let reasons: Vec<&str> = retries
        .iter()
        .filter_map(|retry| retry["reason"].as_str())
        .collect();
    assert_eq!(retries.len(), 5, "{retries:#?}");
    assert!(reasons.contains(&"primary-rate-limit"), "{reasons:?}");
    assert!(reasons.contains(&"secondary-rate-limit"), "{reasons:?}");
    assert_eq!(reasons.iter().filter(|r| **r == "server-error").count(), 3);
    assert!(outcome.stdout_tail.contains("5 GitHub request(s) retried"));
    assert_eq!(f.emulator.merges(REPO, pr), 1);
    f.emulator.assert_conformant();
}

#[tokio::test]
async fn a_rate_limit_that_resets_after_the_timeout_ends_the_action_at_once() {
    let f = fixture(GithubEmulatorConfig::default()).await;
    let pr = open_pull(&f.emulator, "feature", "replicas: 3\n");
    green(&f.emulator, "feature", pr);
    f.emulator.set_faults(Faults {
        primary_rate_limit: 1,
        reset_after: Duration::from_secs(3600),
        ..Faults::default()
    });
    let outcome = f
        .executor
        .apply(
            &action(&f.emulator, pr, ""),
            &context(Duration::from_secs(20)),
        )
        .await
        .expect("an outcome");
    assert_eq!(outcome.status, OutcomeStatus::TimedOut, "{outcome:#?}");
    let line = outcome.error_line().expect("an error line");
    assert!(line.contains("primary-rate-limit"), "{line}");
    assert!(line.contains("past the task's timeout"), "{line}");
    assert_eq!(f.emulator.merges(REPO, pr), 0);
}

#[tokio::test]
async fn mergeability_still_being_computed_is_asked_again() {
    let f = fixture(GithubEmulatorConfig {
        mergeable_delay: 2,
        ..GithubEmulatorConfig::default()
    })
    .await;
    let pr = open_pull(&f.emulator, "feature", "replicas: 3\n");
    green(&f.emulator, "feature", pr);
    let preview = f
        .executor
        .preview(
            &action(&f.emulator, pr, ""),
            &context(Duration::from_secs(60)),
        )
        .await
        .expect("a preview");
    assert_eq!(preview.blocked, None, "{preview:#?}");
    assert!(
        preview
            .details
            .iter()
            .any(|d| d.label == "mergeable" && d.value == "true")
    );
    f.emulator.assert_conformant();
}

/// The tree of `sha` in the emulator's bare repository.
fn tree(emulator: &GithubEmulator, sha: &str) -> git2::Oid {
    let repo = git2::Repository::open_bare(emulator.repo_path(REPO)).expect("the bare repo");
    repo.find_commit(git2::Oid::from_str(sha).expect("a sha"))
        .expect("a commit")
        .tree_id()
}

#[tokio::test]
async fn rollback_opens_a_revert_pull_request_whose_diff_undoes_the_merge() {
    let f = fixture(GithubEmulatorConfig::default()).await;
    let before = f.emulator.branch_sha(REPO, "main").expect("main");
    let pr = open_pull(&f.emulator, "feature", "replicas: 3\n");
    green(&f.emulator, "feature", pr);
    let action = action(&f.emulator, pr, "");
    let ctx = context(Duration::from_secs(60));
    let outcome = f.executor.apply(&action, &ctx).await.expect("an outcome");
    assert_eq!(outcome.status, OutcomeStatus::Succeeded, "{outcome:#?}");
    let merged = f.emulator.branch_sha(REPO, "main").expect("main");

    let undone = f
        .executor
        .rollback(&Rollback::Auto, &action, outcome.evidence.as_ref(), &ctx)
        .await
        .expect("an outcome");
    assert_eq!(undone.status, OutcomeStatus::Succeeded, "{undone:#?}");
    let evidence = undone.evidence.clone().expect("evidence");
    let revert_pr = evidence["revert_pr"]
        .as_u64()
        .expect("a revert pull request");
    assert_ne!(revert_pr, pr);
    let branch = evidence["revert_branch"].as_str().expect("a branch");
    assert_eq!(branch, format!("plangate/revert-pr-{pr}-{}", &merged[..7]));
    let revert = f
        .emulator
        .pull(REPO, revert_pr)
        .expect("the revert pull request");
    assert_eq!(revert["state"], "open", "{revert:#}");
    assert_eq!(revert["base"]["ref"], "main");
    // Left open for review: main still has the merge, the branch undoes it.
    assert_eq!(
        f.emulator.branch_sha(REPO, "main").as_deref(),
        Some(merged.as_str())
    );
    let revert_head = f
        .emulator
        .branch_sha(REPO, branch)
        .expect("the revert branch");
    assert_eq!(tree(&f.emulator, &revert_head), tree(&f.emulator, &before));

    // A second rollback (after a crash, say) reuses what the first made.
    let again = f
        .executor
        .rollback(&Rollback::Auto, &action, outcome.evidence.as_ref(), &ctx)
        .await
        .expect("an outcome");
    assert_eq!(again.status, OutcomeStatus::Succeeded, "{again:#?}");
    assert_eq!(again.evidence.expect("evidence")["revert_pr"], revert_pr);
    no_token(&format!("{undone:?}"));
    f.emulator.assert_conformant();
}

#[tokio::test]
async fn rollback_merge_merges_the_revert_under_the_same_checks() {
    let f = fixture(GithubEmulatorConfig {
        ci_check: Some("ci".to_owned()),
        ..GithubEmulatorConfig::default()
    })
    .await;
    let before = f.emulator.branch_sha(REPO, "main").expect("main");
    let pr = open_pull(&f.emulator, "feature", "replicas: 3\n");
    f.emulator
        .add_check_run(REPO, "feature", "ci", CheckConclusion::Success)
        .expect("a check run");
    let action = raw_action(
        &f.emulator,
        pr,
        "require_checks: [ci]\nrollback_merge: true\n",
    );
    let ctx = context(Duration::from_secs(60));
    let outcome = f.executor.apply(&action, &ctx).await.expect("an outcome");
    assert_eq!(outcome.status, OutcomeStatus::Succeeded, "{outcome:#?}");
    let merged = f.emulator.branch_sha(REPO, "main").expect("main");
    assert_ne!(tree(&f.emulator, &merged), tree(&f.emulator, &before));

    let undone = f
        .executor
        .rollback(&Rollback::Auto, &action, outcome.evidence.as_ref(), &ctx)
        .await
        .expect("an outcome");
    assert_eq!(undone.status, OutcomeStatus::Succeeded, "{undone:#?}");
    let evidence = undone.evidence.clone().expect("evidence");
    let revert_pr = evidence["revert_pr"]
        .as_u64()
        .expect("a revert pull request");
    let revert = f
        .emulator
        .pull(REPO, revert_pr)
        .expect("the revert pull request");
    assert_eq!(revert["merged"], Value::Bool(true), "{revert:#}");
    let after = f.emulator.branch_sha(REPO, "main").expect("main");
    assert_eq!(evidence["revert_merge_sha"], Value::String(after.clone()));
    assert_eq!(tree(&f.emulator, &after), tree(&f.emulator, &before));
    f.emulator.assert_conformant();
}

#[tokio::test]
async fn a_missing_token_or_a_bad_one_is_a_clear_error() {
    let f = fixture(GithubEmulatorConfig::default()).await;
    let pr = open_pull(&f.emulator, "feature", "replicas: 3\n");
    let ctx = context(Duration::from_secs(60));
    let missing = GithubMergeExecutor::new()
        .apply(&action(&f.emulator, pr, ""), &ctx)
        .await;
    let error = missing.expect_err("no token").to_string();
    assert!(
        error.contains("the token variable `PLANGATE_TEST_GITHUB_TOKEN` is not set"),
        "{error}"
    );
    let wrong = GithubMergeExecutor::new()
        .with_env("PLANGATE_TEST_GITHUB_TOKEN", "ghp_not_a_known_token_0000")
        .apply(&action(&f.emulator, pr, ""), &ctx)
        .await
        .expect("an outcome");
    assert_eq!(wrong.status, OutcomeStatus::Failed);
    let line = wrong.error_line().expect("an error line");
    assert!(
        line.contains("401") && line.contains("Bad credentials"),
        "{line}"
    );
    assert!(!line.contains("ghp_not_a_known_token_0000"), "{line}");
}
