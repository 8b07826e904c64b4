use plangate_executors::{Executor, GitExecutor, Observation, OutcomeStatus, REDACTED};

use crate::support::{
    Sandbox, apply, assert_failed_with, assert_succeeded, commit_all, ctx, git, open, read,
    rollback, sha, write,
};

/// Pushes `main` of a second clone of `bare` with one more commit: someone
/// else's push.
fn push_from_elsewhere(sandbox: &Sandbox, bare: &str, name: &str) -> git2::Oid {
    let url = sandbox.path(bare);
    let other =
        git2::Repository::clone(url.to_str().expect("UTF-8"), sandbox.path(name)).expect("clone");
    write(&other, "elsewhere.txt", "theirs\n");
    let pushed = commit_all(&other, "someone else");
    other
        .find_remote("origin")
        .expect("origin")
        .push(&["refs/heads/main:refs/heads/main"], None)
        .expect("their push");
    pushed
}

#[tokio::test]
async fn push_and_rollback_with_force_rollback() {
    let sandbox = Sandbox::new();
    let repo = sandbox.repo("work");
    let bare = sandbox.bare_remote(&repo, "remote.git");
    let before = sha(&bare, "refs/heads/main").expect("remote main");
    write(&repo, "a.txt", "two\n");
    let local = commit_all(&repo, "second");
    let (ctx, recorded) = ctx(&sandbox);
    let action = git("op: push\nrepo: work\nforce_rollback: true");

    let preview = GitExecutor::new()
        .preview(&action, &ctx)
        .await
        .expect("preview");
    assert!(preview.blocked.is_none(), "{preview:#?}");
    assert_eq!(
        sha(&bare, "refs/heads/main"),
        Some(before),
        "a preview pushes nothing"
    );

    let outcome = apply(&action, &ctx).await;
    assert_succeeded(&outcome);
    assert_eq!(sha(&bare, "refs/heads/main"), Some(local));
    let recorded = recorded.lock().expect("not poisoned").clone();
    assert_eq!(recorded.len(), 1);
    let push = &recorded[0]["push"];
    assert_eq!(push["remote"], "origin");
    assert_eq!(push["remote_ref"], "refs/heads/main");
    assert_eq!(push["remote_before"], before.to_string());
    assert_eq!(push["pushed"], local.to_string());
    assert_eq!(
        GitExecutor::new()
            .observe(&action, outcome.evidence.as_ref(), &ctx)
            .await
            .expect("observe"),
        Observation::Applied
    );

    let undone = rollback(&action, &outcome, &ctx).await;
    assert_succeeded(&undone);
    assert_eq!(sha(&bare, "refs/heads/main"), Some(before), "{undone:#?}");
    assert_eq!(
        GitExecutor::new()
            .observe(&action, outcome.evidence.as_ref(), &ctx)
            .await
            .expect("observe"),
        Observation::NotApplied
    );
}

#[tokio::test]
async fn push_of_a_new_branch_rolls_back_by_deleting_it() {
    let sandbox = Sandbox::new();
    let repo = sandbox.repo("work");
    let bare = sandbox.bare_remote(&repo, "remote.git");
    let (ctx, _) = ctx(&sandbox);
    let action = git("op: push\nrepo: work\nrefspec: main:release\nforce_rollback: true");
    let outcome = apply(&action, &ctx).await;
    assert_succeeded(&outcome);
    assert_eq!(
        sha(&bare, "refs/heads/release"),
        sha(&repo, "refs/heads/main")
    );
    let undone = rollback(&action, &outcome, &ctx).await;
    assert_succeeded(&undone);
    assert_eq!(sha(&bare, "refs/heads/release"), None);
}

#[tokio::test]
async fn force_with_lease_refuses_when_the_remote_moved() {
    let sandbox = Sandbox::new();
    let repo = sandbox.repo("work");
    let bare = sandbox.bare_remote(&repo, "remote.git");
    write(&repo, "a.txt", "two\n");
    let ours = commit_all(&repo, "second");
    let (ctx, _) = ctx(&sandbox);
    let action = git("op: push\nrepo: work\nforce_rollback: true");
    let outcome = apply(&action, &ctx).await;
    assert_succeeded(&outcome);
    assert_eq!(sha(&bare, "refs/heads/main"), Some(ours));

    let theirs = push_from_elsewhere(&sandbox, "remote.git", "other");
    let refused = rollback(&action, &outcome, &ctx).await;
    assert_failed_with(&refused, "refusing to move origin refs/heads/main back");
    let line = refused.error_line().expect("a line");
    assert!(line.contains(&theirs.to_string()[..7]), "{line}");
    assert!(line.contains(&ours.to_string()), "{line}");
    assert_eq!(
        sha(&bare, "refs/heads/main"),
        Some(theirs),
        "remote untouched"
    );
}

#[tokio::test]
async fn a_non_fast_forward_push_fails_with_the_message() {
    let sandbox = Sandbox::new();
    let repo = sandbox.repo("work");
    let bare = sandbox.bare_remote(&repo, "remote.git");
    let theirs = push_from_elsewhere(&sandbox, "remote.git", "other");
    // Fetch theirs so the local repository knows the commit: then libgit2's
    // own check refuses it, not only ours.
    write(&repo, "a.txt", "mine\n");
    commit_all(&repo, "mine");
    let (ctx, _) = ctx(&sandbox);
    let action = git("op: push\nrepo: work");
    let preview = GitExecutor::new()
        .preview(&action, &ctx)
        .await
        .expect("preview");
    assert!(
        preview
            .blocked
            .as_deref()
            .is_some_and(|reason| reason.contains("non-fast-forward")),
        "{preview:#?}"
    );
    let outcome = apply(&action, &ctx).await;
    assert_failed_with(&outcome, "non-fast-forward");
    assert_eq!(sha(&bare, "refs/heads/main"), Some(theirs));

    repo.find_remote("origin")
        .expect("origin")
        .fetch(&["refs/heads/main:refs/remotes/origin/main"], None, None)
        .expect("fetch");
    let outcome = apply(&action, &ctx).await;
    assert_failed_with(&outcome, "non-fast-forward");
    assert_eq!(sha(&bare, "refs/heads/main"), Some(theirs));
}

#[tokio::test]
async fn fetch_and_rollback_restores_the_tracking_refs() {
    let sandbox = Sandbox::new();
    let repo = sandbox.repo("work");
    sandbox.bare_remote(&repo, "remote.git");
    let tracking = sha(&repo, "refs/remotes/origin/main");
    let theirs = push_from_elsewhere(&sandbox, "remote.git", "other");
    let (ctx, _) = ctx(&sandbox);
    let action = git("op: fetch\nrepo: work");
    let outcome = apply(&action, &ctx).await;
    assert_succeeded(&outcome);
    assert_eq!(sha(&repo, "refs/remotes/origin/main"), Some(theirs));
    assert_eq!(
        outcome.evidence.as_ref().expect("evidence")["refs"][0]["name"],
        "refs/remotes/origin/main"
    );
    let undone = rollback(&action, &outcome, &ctx).await;
    assert_succeeded(&undone);
    assert_eq!(sha(&repo, "refs/remotes/origin/main"), tracking);
}

#[tokio::test]
async fn clone_refuses_a_non_empty_folder_and_rollback_removes_its_own() {
    let sandbox = Sandbox::new();
    let repo = sandbox.repo("work");
    sandbox.bare_remote(&repo, "remote.git");
    let url = sandbox.path("remote.git");
    let (ctx, _) = ctx(&sandbox);
    let action = git(&format!("op: clone\nrepo: copy\nurl: {}", url.display()));
    let outcome = apply(&action, &ctx).await;
    assert_succeeded(&outcome);
    let copy = open(&sandbox.path("copy"));
    assert_eq!(read(&copy, "a.txt").as_deref(), Some("one\n"));
    assert_eq!(
        outcome.evidence.as_ref().expect("evidence")["clone"]["created_folder"],
        true
    );
    assert_eq!(
        GitExecutor::new()
            .observe(&action, outcome.evidence.as_ref(), &ctx)
            .await
            .expect("observe"),
        Observation::Applied
    );
    let again = apply(&action, &ctx).await;
    assert_failed_with(&again, "not empty");
    let undone = rollback(&action, &outcome, &ctx).await;
    assert_succeeded(&undone);
    assert!(!sandbox.path("copy").exists());
}

#[tokio::test]
async fn the_token_never_appears() {
    const TOKEN: &str = "ghp_plangateTestTokenValue123";
    let executor = GitExecutor::new().with_env("PLANGATE_TEST_GIT_TOKEN", TOKEN);
    let sandbox = Sandbox::new();
    let repo = sandbox.repo("work");
    sandbox.bare_remote(&repo, "remote.git");
    let url = format!(
        "file://x-access-token:{TOKEN}@localhost{}",
        sandbox.path("missing.git").display()
    );
    repo.remote("leaky", &url).expect("remote");
    let (ctx, recorded) = ctx(&sandbox);
    let mut texts = Vec::new();
    for yaml in [
        format!("op: clone\nrepo: copy\nurl: '{url}'\ntoken_env: PLANGATE_TEST_GIT_TOKEN"),
        "op: push\nrepo: work\nremote: leaky\ntoken_env: PLANGATE_TEST_GIT_TOKEN".to_owned(),
        "op: fetch\nrepo: work\nremote: leaky\ntoken_env: PLANGATE_TEST_GIT_TOKEN".to_owned(),
    ] {
        let action = git(&yaml);
        match executor.apply(&action, &ctx).await {
            Ok(outcome) => {
                assert_ne!(outcome.status, OutcomeStatus::Succeeded, "{outcome:#?}");
                texts.push(format!("{outcome:?}"));
            }
            Err(error) => texts.push(format!("{error} {error:?}")),
        }
        if let Ok(preview) = executor.preview(&action, &ctx).await {
            texts.push(format!("{preview:?}"));
        }
    }
    texts.extend(
        recorded
            .lock()
            .expect("not poisoned")
            .iter()
            .map(ToString::to_string),
    );
    let all = texts.join("\n");
    assert!(!all.contains(TOKEN), "the token leaked: {all}");
    assert!(all.contains(REDACTED), "{all}");
}

#[tokio::test]
async fn clone_of_a_branch_into_an_empty_folder_and_rollback_empties_it() {
    let sandbox = Sandbox::new();
    let repo = sandbox.repo("work");
    let bare = sandbox.bare_remote(&repo, "remote.git");
    let head = repo.head().expect("head").peel_to_commit().expect("c");
    repo.branch("release", &head, false).expect("branch");
    repo.find_remote("origin")
        .expect("origin")
        .push(&["refs/heads/release:refs/heads/release"], None)
        .expect("push");
    assert!(sha(&bare, "refs/heads/release").is_some());
    std::fs::create_dir(sandbox.path("copy")).expect("an empty folder");
    let (ctx, _) = ctx(&sandbox);
    let action = git(&format!(
        "op: clone\nrepo: copy\nbranch: release\nurl: {}",
        sandbox.path("remote.git").display()
    ));
    let outcome = apply(&action, &ctx).await;
    assert_succeeded(&outcome);
    let copy = open(&sandbox.path("copy"));
    assert_eq!(copy.head().expect("head").name(), Ok("refs/heads/release"));
    assert_eq!(
        outcome.evidence.as_ref().expect("evidence")["clone"]["created_folder"],
        false
    );
    let undone = rollback(&action, &outcome, &ctx).await;
    assert_succeeded(&undone);
    assert!(
        sandbox.path("copy").is_dir(),
        "the folder it did not create stays"
    );
    assert_eq!(
        std::fs::read_dir(sandbox.path("copy"))
            .expect("read")
            .count(),
        0
    );
}

#[tokio::test]
async fn a_cancellation_after_the_checkpoint_pushes_nothing() {
    let sandbox = Sandbox::new();
    let repo = sandbox.repo("work");
    let bare = sandbox.bare_remote(&repo, "remote.git");
    let before = sha(&bare, "refs/heads/main");
    write(&repo, "a.txt", "two\n");
    commit_all(&repo, "second");
    let (ctx, _) = ctx(&sandbox);
    let cancel = ctx.cancel.clone();
    let ctx = ctx.with_checkpoint(move |_| {
        cancel.cancel();
        async { Ok::<(), String>(()) }
    });
    let action = git("op: push\nrepo: work");
    let outcome = apply(&action, &ctx).await;
    assert_eq!(outcome.status, OutcomeStatus::Cancelled, "{outcome:#?}");
    assert_eq!(sha(&bare, "refs/heads/main"), before);
    let evidence = outcome.evidence.as_ref().expect("the recorded evidence");
    assert_eq!(evidence["applied"], false);
    assert_eq!(
        GitExecutor::new()
            .observe(&action, Some(evidence), &crate::support::ctx(&sandbox).0)
            .await
            .expect("observe"),
        Observation::NotApplied
    );
}
