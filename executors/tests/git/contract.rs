use std::collections::BTreeMap;

use plangate_executors::{
    Executor, ExecutorError, GitExecutor, LeftChanges, Observation, OutcomeStatus,
};
use plangate_plans::{ExecutorInstance, ExecutorKind, Rollback};

use crate::support::{Sandbox, apply, assert_failed_with, assert_succeeded, ctx, git, sha, write};

#[tokio::test]
async fn a_cancelled_request_changes_nothing() {
    let sandbox = Sandbox::new();
    let repo = sandbox.repo("work");
    let before = sha(&repo, "refs/heads/main");
    write(&repo, "a.txt", "two\n");
    let (ctx, recorded) = ctx(&sandbox);
    ctx.cancel.cancel();
    let outcome = apply(&git("op: commit\nrepo: work\nmessage: m"), &ctx).await;
    assert_eq!(outcome.status, OutcomeStatus::Cancelled, "{outcome:#?}");
    assert_eq!(sha(&repo, "refs/heads/main"), before);
    assert!(recorded.lock().expect("not poisoned").is_empty());
}

#[tokio::test]
async fn observe_compares_the_refs_with_the_recorded_evidence() {
    let sandbox = Sandbox::new();
    let repo = sandbox.repo("work");
    write(&repo, "a.txt", "two\n");
    let action = git("op: commit\nrepo: work\nmessage: m");
    let executor = GitExecutor::new();
    let (ctx, recorded) = ctx(&sandbox);
    assert_eq!(
        executor
            .observe(&action, None, &ctx)
            .await
            .expect("observe"),
        Observation::NotApplied,
        "no evidence: the side effect never started"
    );
    let outcome = apply(&action, &ctx).await;
    assert_succeeded(&outcome);
    let before_the_change = recorded.lock().expect("not poisoned")[0].clone();
    assert_eq!(
        executor
            .observe(&action, Some(&before_the_change), &ctx)
            .await
            .expect("observe"),
        Observation::Applied,
        "the planned commit is on main"
    );
    // As if the engine died between the checkpoint and the ref update.
    let main = repo.find_reference("refs/heads/main").expect("main");
    let planned = main.target().expect("a sha");
    let parent = repo
        .find_commit(planned)
        .expect("commit")
        .parent_id(0)
        .expect("parent");
    repo.reference("refs/heads/main", parent, true, "undo")
        .expect("reset");
    assert_eq!(
        executor
            .observe(&action, Some(&before_the_change), &ctx)
            .await
            .expect("observe"),
        Observation::NotApplied
    );
    repo.reference("refs/heads/main", planned, true, "redo")
        .expect("redo");
    write(&repo, "a.txt", "three\n");
    crate::support::commit_all(&repo, "later");
    assert!(matches!(
        executor
            .observe(&action, Some(&before_the_change), &ctx)
            .await
            .expect("observe"),
        Observation::Partial { .. }
    ));
}

#[tokio::test]
async fn auto_rollback_without_evidence_is_refused() {
    let sandbox = Sandbox::new();
    sandbox.repo("work");
    let (ctx, _) = ctx(&sandbox);
    let error = GitExecutor::new()
        .rollback(
            &Rollback::Auto,
            &git("op: tag\nrepo: work\ntag: v1"),
            None,
            &ctx,
        )
        .await
        .expect_err("no evidence");
    assert!(
        matches!(
            error,
            ExecutorError::MissingEvidence {
                kind: ExecutorKind::Git
            }
        ),
        "{error}"
    );
    assert_eq!(
        error.to_string(),
        "no rollback evidence was recorded for this `git` action"
    );
}

#[tokio::test]
async fn a_push_is_not_rolled_back_without_force_rollback() {
    let sandbox = Sandbox::new();
    let repo = sandbox.repo("work");
    let bare = sandbox.bare_remote(&repo, "remote.git");
    write(&repo, "a.txt", "two\n");
    let pushed = crate::support::commit_all(&repo, "second");
    let (ctx, _) = ctx(&sandbox);
    let action = git("op: push\nrepo: work");
    let outcome = apply(&action, &ctx).await;
    assert_succeeded(&outcome);
    let refused = crate::support::rollback(&action, &outcome, &ctx).await;
    assert_failed_with(&refused, "force_rollback: true");
    assert_eq!(sha(&bare, "refs/heads/main"), Some(pushed));
}

#[tokio::test]
async fn verify_records_no_evidence_and_is_idempotent_for_an_existing_branch() {
    let sandbox = Sandbox::new();
    let repo = sandbox.repo("work");
    repo.branch(
        "release",
        &repo.head().expect("head").peel_to_commit().expect("commit"),
        false,
    )
    .expect("branch");
    let (ctx, recorded) = ctx(&sandbox);
    let outcome = GitExecutor::new()
        .verify(&git("op: branch\nrepo: work\nbranch: release"), &ctx)
        .await
        .expect("verify");
    assert_succeeded(&outcome);
    assert!(
        outcome.stdout_tail.contains("already exists"),
        "{outcome:#?}"
    );
    assert!(recorded.lock().expect("not poisoned").is_empty());
}

#[tokio::test]
async fn the_instance_names_the_repository_and_left_changes_reads_the_evidence() {
    let sandbox = Sandbox::new();
    let repo = sandbox.repo("work");
    write(&repo, "a.txt", "two\n");
    let instance = ExecutorInstance {
        kind: ExecutorKind::Git,
        context: None,
        namespace: None,
        kubeconfig: None,
        binary: None,
        allow_context_mismatch: false,
        env: BTreeMap::new(),
        cwd: None,
        api_url: None,
        token_env: None,
        repo: Some("work".to_owned()),
        exclusive: false,
    };
    let (ctx, _) = ctx(&sandbox);
    let ctx = ctx.with_instance(instance);
    let action = git("op: commit\nmessage: through the instance");
    let outcome = apply(&action, &ctx).await;
    assert_succeeded(&outcome);
    assert!(
        outcome.command.ends_with("(libgit2, repo work)"),
        "{}",
        outcome.command
    );
    assert_eq!(
        GitExecutor::new().left_changes(&action, None, &outcome),
        LeftChanges::Some
    );
}
