use std::sync::{Arc, Mutex};

use plangate_executors::{Executor, GitExecutor, LeftChanges, Observation};
use serde_json::json;

use crate::support::{
    Sandbox, apply, assert_failed_with, assert_succeeded, commit_all, ctx, git, is_clean, read,
    rollback, sha, write,
};

#[tokio::test]
async fn commit_stages_everything_and_rollback_reverts_it() {
    let sandbox = Sandbox::new();
    let repo = sandbox.repo("work");
    let before = sha(&repo, "refs/heads/main").expect("main");
    write(&repo, "a.txt", "two\n");
    write(&repo, "dir/b.txt", "new\n");
    let (ctx, recorded) = ctx(&sandbox);
    let action = git("op: commit\nrepo: work\nmessage: render manifests");

    let outcome = apply(&action, &ctx).await;
    assert_succeeded(&outcome);
    let after = sha(&repo, "refs/heads/main").expect("main");
    assert_ne!(after, before);
    let short = &after.to_string()[..7];
    assert_eq!(
        outcome.stdout_tail,
        format!("committed {short} on main: 2 files\n")
    );
    assert_eq!(
        outcome.command,
        "git commit -m 'render manifests' (libgit2, repo work)"
    );
    assert!(is_clean(&repo), "the index holds the commit");
    let commit = repo.find_commit(after).expect("the commit");
    assert_eq!(commit.author().name().ok(), Some("Test"));
    assert_eq!(commit.message().ok(), Some("render manifests"));

    let evidence = outcome.evidence.clone().expect("evidence");
    assert_eq!(evidence["op"], "commit");
    assert_eq!(evidence["head_before"], before.to_string());
    assert_eq!(evidence["branch_before"], "refs/heads/main");
    assert_eq!(evidence["head_after"], after.to_string());
    assert_eq!(evidence["applied"], true);
    assert_eq!(
        evidence["refs"],
        json!([{"name": "refs/heads/main", "before": before.to_string(), "after": after.to_string()}])
    );
    let recorded = recorded.lock().expect("not poisoned").clone();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0]["applied"], false);
    assert_eq!(
        recorded[0]["refs"], evidence["refs"],
        "the planned commit is recorded"
    );

    let undone = rollback(&action, &outcome, &ctx).await;
    assert_succeeded(&undone);
    let revert = sha(&repo, "refs/heads/main").expect("main");
    let revert_commit = repo.find_commit(revert).expect("revert");
    assert_eq!(revert_commit.parent_id(0).expect("parent"), after);
    assert!(
        revert_commit
            .message()
            .expect("message")
            .starts_with("Revert \"render manifests\"")
    );
    assert_eq!(
        revert_commit.tree_id(),
        repo.find_commit(before).expect("first").tree_id(),
        "the tree is back to before"
    );
    assert_eq!(read(&repo, "a.txt").as_deref(), Some("one\n"));
    assert_eq!(read(&repo, "dir/b.txt"), None);
    assert!(is_clean(&repo));
}

#[tokio::test]
async fn commit_of_some_paths_and_deletions() {
    let sandbox = Sandbox::new();
    let repo = sandbox.repo("work");
    write(&repo, "keep.txt", "k\n");
    commit_all(&repo, "second");
    std::fs::remove_file(sandbox.path("work/keep.txt")).expect("delete");
    write(&repo, "other.txt", "not staged\n");
    let (ctx, _) = ctx(&sandbox);
    let outcome = apply(
        &git("op: commit\nrepo: work\nmessage: drop keep\npaths: [keep.txt]"),
        &ctx,
    )
    .await;
    assert_succeeded(&outcome);
    assert!(outcome.stdout_tail.ends_with(": 1 file\n"), "{outcome:#?}");
    let head = repo.head().expect("head").peel_to_tree().expect("tree");
    assert!(head.get_name("keep.txt").is_none());
    assert!(head.get_name("other.txt").is_none());
}

#[tokio::test]
async fn nothing_to_commit_succeeds_with_no_change() {
    let sandbox = Sandbox::new();
    let repo = sandbox.repo("work");
    let before = sha(&repo, "refs/heads/main");
    let (ctx, _) = ctx(&sandbox);
    let action = git("op: commit\nrepo: work\nmessage: again");
    let outcome = apply(&action, &ctx).await;
    assert_succeeded(&outcome);
    assert_eq!(outcome.stdout_tail, "nothing to commit on main\n");
    assert_eq!(sha(&repo, "refs/heads/main"), before);
    let evidence = outcome.evidence.clone().expect("evidence");
    assert_eq!(evidence["no_change"], "nothing to commit");
    let undone = rollback(&action, &outcome, &ctx).await;
    assert_succeeded(&undone);
    assert!(undone.stdout_tail.starts_with("nothing to undo"));
    assert_eq!(sha(&repo, "refs/heads/main"), before);
}

#[tokio::test]
async fn evidence_is_recorded_before_the_ref_moves() {
    let sandbox = Sandbox::new();
    let repo = sandbox.repo("work");
    let before = sha(&repo, "refs/heads/main").expect("main");
    write(&repo, "a.txt", "two\n");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    let path = sandbox.path("work");
    let (ctx, _) = ctx(&sandbox);
    let ctx = ctx.with_checkpoint(move |evidence| {
        let at_checkpoint = git2::Repository::open(&path)
            .expect("repo")
            .refname_to_id("refs/heads/main")
            .expect("main");
        sink.lock()
            .expect("not poisoned")
            .push((evidence, at_checkpoint));
        async { Ok::<(), String>(()) }
    });
    let outcome = apply(&git("op: commit\nrepo: work\nmessage: m"), &ctx).await;
    assert_succeeded(&outcome);
    let seen = seen.lock().expect("not poisoned");
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].1, before, "main had not moved at the checkpoint");
    assert_eq!(seen[0].0["head_before"], before.to_string());
}

#[tokio::test]
async fn a_failing_checkpoint_stops_the_change() {
    let sandbox = Sandbox::new();
    let repo = sandbox.repo("work");
    let before = sha(&repo, "refs/heads/main");
    write(&repo, "a.txt", "two\n");
    let (ctx, _) = ctx(&sandbox);
    let ctx = ctx.with_checkpoint(|_| async { Err("disk full".to_owned()) });
    let error = GitExecutor::new()
        .apply(&git("op: commit\nrepo: work\nmessage: m"), &ctx)
        .await
        .expect_err("the checkpoint fails");
    assert_eq!(error.to_string(), "failed to checkpoint rollback evidence");
    assert_eq!(sha(&repo, "refs/heads/main"), before);
}

#[tokio::test]
async fn tag_and_rollback_deletes_it() {
    let sandbox = Sandbox::new();
    let repo = sandbox.repo("work");
    let head = sha(&repo, "refs/heads/main").expect("main");
    let (ctx, _) = ctx(&sandbox);
    for (yaml, annotated) in [
        ("op: tag\nrepo: work\ntag: v1", false),
        ("op: tag\nrepo: work\ntag: v2\nmessage: release two", true),
    ] {
        let action = git(yaml);
        let outcome = apply(&action, &ctx).await;
        assert_succeeded(&outcome);
        let name = if annotated {
            "refs/tags/v2"
        } else {
            "refs/tags/v1"
        };
        let reference = repo.find_reference(name).expect("the tag");
        assert_eq!(reference.peel_to_commit().expect("commit").id(), head);
        assert_eq!(reference.target() != Some(head), annotated);
        let evidence = outcome.evidence.clone().expect("evidence");
        assert_eq!(evidence["created"], true);
        let undone = rollback(&action, &outcome, &ctx).await;
        assert_succeeded(&undone);
        assert!(repo.find_reference(name).is_err(), "deleted: {undone:#?}");
    }
}

#[tokio::test]
async fn an_existing_tag_at_the_same_commit_is_kept_and_elsewhere_refused() {
    let sandbox = Sandbox::new();
    let repo = sandbox.repo("work");
    let first = sha(&repo, "refs/heads/main").expect("main");
    repo.tag_lightweight("v1", &repo.find_object(first, None).expect("obj"), false)
        .expect("tag");
    let (ctx, _) = ctx(&sandbox);
    let action = git("op: tag\nrepo: work\ntag: v1");
    let outcome = apply(&action, &ctx).await;
    assert_succeeded(&outcome);
    let evidence = outcome.evidence.clone().expect("evidence");
    assert_eq!(evidence["created"], false);
    assert!(
        evidence["no_change"]
            .as_str()
            .expect("text")
            .contains("not created by plangate")
    );
    let undone = rollback(&action, &outcome, &ctx).await;
    assert_succeeded(&undone);
    assert_eq!(sha(&repo, "refs/tags/v1"), Some(first), "left in place");

    write(&repo, "a.txt", "two\n");
    commit_all(&repo, "second");
    let outcome = apply(&action, &ctx).await;
    assert_failed_with(&outcome, "tag `v1` already exists at");
    assert_eq!(sha(&repo, "refs/tags/v1"), Some(first));
    assert!(matches!(
        GitExecutor::new().left_changes(&action, None, &outcome),
        LeftChanges::None { .. }
    ));
}

#[tokio::test]
async fn branch_and_rollback() {
    let sandbox = Sandbox::new();
    let repo = sandbox.repo("work");
    let first = sha(&repo, "refs/heads/main").expect("main");
    write(&repo, "a.txt", "two\n");
    commit_all(&repo, "second");
    let (ctx, _) = ctx(&sandbox);
    let action = git(&format!(
        "op: branch\nrepo: work\nbranch: release/next\nfrom: {first}"
    ));
    let preview = GitExecutor::new()
        .preview(&action, &ctx)
        .await
        .expect("preview");
    assert!(preview.blocked.is_none(), "{preview:#?}");
    assert!(
        sha(&repo, "refs/heads/release/next").is_none(),
        "a preview changes nothing"
    );
    let outcome = apply(&action, &ctx).await;
    assert_succeeded(&outcome);
    assert_eq!(sha(&repo, "refs/heads/release/next"), Some(first));
    assert_eq!(
        GitExecutor::new()
            .observe(&action, outcome.evidence.as_ref(), &ctx)
            .await
            .expect("observe"),
        Observation::Applied
    );

    // Moved by someone else: the rollback refuses to delete it.
    repo.reference(
        "refs/heads/release/next",
        sha(&repo, "refs/heads/main").expect("main"),
        true,
        "moved",
    )
    .expect("move");
    let refused = rollback(&action, &outcome, &ctx).await;
    assert_failed_with(&refused, "not at");
    assert!(sha(&repo, "refs/heads/release/next").is_some());

    repo.reference("refs/heads/release/next", first, true, "back")
        .expect("back");
    let undone = rollback(&action, &outcome, &ctx).await;
    assert_succeeded(&undone);
    assert!(sha(&repo, "refs/heads/release/next").is_none());

    let blocked = GitExecutor::new()
        .preview(
            &git("op: branch\nrepo: work\nbranch: main\nfrom: HEAD~1"),
            &ctx,
        )
        .await
        .expect("preview");
    assert!(
        blocked
            .blocked
            .as_deref()
            .is_some_and(|reason| reason.contains("already exists")),
        "{blocked:#?}"
    );
}

#[tokio::test]
async fn checkout_refuses_a_dirty_tree_and_rolls_back() {
    let sandbox = Sandbox::new();
    let repo = sandbox.repo("work");
    repo.branch(
        "other",
        &repo.head().expect("head").peel_to_commit().expect("c"),
        false,
    )
    .expect("branch");
    repo.set_head("refs/heads/other").expect("switch");
    write(&repo, "a.txt", "on other\n");
    commit_all(&repo, "other change");
    repo.set_head("refs/heads/main").expect("switch");
    repo.checkout_head(Some(git2::build::CheckoutBuilder::new().force()))
        .expect("checkout");
    let (ctx, _) = ctx(&sandbox);
    let action = git("op: checkout\nrepo: work\nbranch: other");

    write(&repo, "a.txt", "local edit\n");
    let outcome = apply(&action, &ctx).await;
    assert_failed_with(&outcome, "would overwrite local changes: a.txt");
    assert_eq!(read(&repo, "a.txt").as_deref(), Some("local edit\n"));
    assert!(!is_clean(&repo), "the local edit is still a change");
    let blocked = GitExecutor::new()
        .preview(&action, &ctx)
        .await
        .expect("preview");
    assert!(blocked.blocked.is_some(), "{blocked:#?}");

    write(&repo, "a.txt", "one\n");
    let outcome = apply(&action, &ctx).await;
    assert_succeeded(&outcome);
    assert_eq!(repo.head().expect("head").name(), Ok("refs/heads/other"));
    assert_eq!(read(&repo, "a.txt").as_deref(), Some("on other\n"));
    let undone = rollback(&action, &outcome, &ctx).await;
    assert_succeeded(&undone);
    assert_eq!(repo.head().expect("head").name(), Ok("refs/heads/main"));
    assert_eq!(read(&repo, "a.txt").as_deref(), Some("one\n"));

    let missing = apply(&git("op: checkout\nrepo: work\nbranch: nope"), &ctx).await;
    assert_failed_with(&missing, "no branch `nope`");
}

/// `main` with `a.txt` changed, and `feature` from the first commit with
/// `path` changed to `content`.
fn diverge(repo: &git2::Repository, path: &str, content: &str) {
    let first = repo.head().expect("head").peel_to_commit().expect("first");
    repo.branch("feature", &first, false).expect("branch");
    write(repo, "a.txt", "main\n");
    commit_all(repo, "on main");
    repo.set_head("refs/heads/feature").expect("switch");
    repo.checkout_head(Some(git2::build::CheckoutBuilder::new().force()))
        .expect("checkout");
    write(repo, path, content);
    commit_all(repo, "on feature");
    repo.set_head("refs/heads/main").expect("switch");
    repo.checkout_head(Some(git2::build::CheckoutBuilder::new().force()))
        .expect("checkout");
}

#[tokio::test]
async fn merge_fast_forward_and_rollback() {
    let sandbox = Sandbox::new();
    let repo = sandbox.repo("work");
    let first = sha(&repo, "refs/heads/main").expect("main");
    let head = repo.head().expect("head").peel_to_commit().expect("c");
    repo.branch("feature", &head, false).expect("branch");
    repo.set_head("refs/heads/feature").expect("switch");
    write(&repo, "f.txt", "feature\n");
    let feature = commit_all(&repo, "feature");
    repo.set_head("refs/heads/main").expect("switch");
    repo.checkout_head(Some(git2::build::CheckoutBuilder::new().force()))
        .expect("checkout");
    let (ctx, _) = ctx(&sandbox);
    let action = git("op: merge\nrepo: work\nfrom: feature");
    let outcome = apply(&action, &ctx).await;
    assert_succeeded(&outcome);
    assert_eq!(sha(&repo, "refs/heads/main"), Some(feature));
    assert_eq!(read(&repo, "f.txt").as_deref(), Some("feature\n"));
    assert_eq!(
        outcome.evidence.as_ref().expect("evidence")["merge"],
        "fast-forward"
    );
    let undone = rollback(&action, &outcome, &ctx).await;
    assert_succeeded(&undone);
    assert_eq!(sha(&repo, "refs/heads/main"), Some(first));
    assert_eq!(read(&repo, "f.txt"), None);
    assert!(is_clean(&repo));
}

#[tokio::test]
async fn merge_commit_and_rollback_reverts_with_mainline_one() {
    let sandbox = Sandbox::new();
    let repo = sandbox.repo("work");
    diverge(&repo, "f.txt", "feature\n");
    let before = sha(&repo, "refs/heads/main").expect("main");
    let before_tree = repo.find_commit(before).expect("c").tree_id();
    let (ctx, _) = ctx(&sandbox);
    let action = git("op: merge\nrepo: work\nfrom: feature");
    let outcome = apply(&action, &ctx).await;
    assert_succeeded(&outcome);
    let merged = repo
        .find_commit(sha(&repo, "refs/heads/main").expect("main"))
        .expect("merge");
    assert_eq!(merged.parent_count(), 2);
    assert_eq!(read(&repo, "f.txt").as_deref(), Some("feature\n"));
    assert!(is_clean(&repo));
    let undone = rollback(&action, &outcome, &ctx).await;
    assert_succeeded(&undone);
    let revert = repo
        .find_commit(sha(&repo, "refs/heads/main").expect("main"))
        .expect("revert");
    assert_eq!(revert.parent_id(0).expect("parent"), merged.id());
    assert_eq!(revert.tree_id(), before_tree);
    assert_eq!(read(&repo, "f.txt"), None);
    assert!(is_clean(&repo));
}

#[tokio::test]
async fn a_conflicting_merge_fails_naming_the_paths_and_leaves_the_tree_clean() {
    let sandbox = Sandbox::new();
    let repo = sandbox.repo("work");
    diverge(&repo, "a.txt", "feature\n");
    let before = sha(&repo, "refs/heads/main");
    let (ctx, _) = ctx(&sandbox);
    let action = git("op: merge\nrepo: work\nfrom: feature");
    let preview = GitExecutor::new()
        .preview(&action, &ctx)
        .await
        .expect("preview");
    assert!(
        preview
            .blocked
            .as_deref()
            .is_some_and(|reason| reason.contains("a.txt")),
        "{preview:#?}"
    );
    let outcome = apply(&action, &ctx).await;
    assert_failed_with(&outcome, "conflicts in 1 path: a.txt");
    assert_eq!(sha(&repo, "refs/heads/main"), before);
    assert!(is_clean(&repo));
    assert_eq!(read(&repo, "a.txt").as_deref(), Some("main\n"));
    assert_eq!(repo.state(), git2::RepositoryState::Clean);
}

#[tokio::test]
async fn commit_preview_counts_the_files() {
    let sandbox = Sandbox::new();
    let repo = sandbox.repo("work");
    write(&repo, "a.txt", "two\n");
    write(&repo, "new.txt", "n\n");
    let (ctx, recorded) = ctx(&sandbox);
    let preview = GitExecutor::new()
        .preview(&git("op: commit\nrepo: work\nmessage: m"), &ctx)
        .await
        .expect("preview");
    assert_eq!(
        preview.summary,
        "git commit on main: 2 files (1 added, 1 modified, 0 deleted)"
    );
    assert_eq!(preview.changes.len(), 2);
    assert!(recorded.lock().expect("not poisoned").is_empty());
    assert!(!is_clean(&repo), "nothing staged by the preview");
    let index = repo.index().expect("index");
    assert!(index.get_path(std::path::Path::new("new.txt"), 0).is_none());
}

#[tokio::test]
async fn a_commit_is_reverted_even_after_the_branch_moved_and_a_conflict_fails() {
    let sandbox = Sandbox::new();
    let repo = sandbox.repo("work");
    write(&repo, "b.txt", "b\n");
    let (ctx, _) = ctx(&sandbox);
    let action = git("op: commit\nrepo: work\nmessage: add b");
    let outcome = apply(&action, &ctx).await;
    assert_succeeded(&outcome);

    // Someone commits on top, touching another file: the revert still works.
    write(&repo, "c.txt", "c\n");
    let later = commit_all(&repo, "add c");
    let undone = rollback(&action, &outcome, &ctx).await;
    assert_succeeded(&undone);
    let revert = repo
        .find_commit(sha(&repo, "refs/heads/main").expect("main"))
        .expect("revert");
    assert_eq!(revert.parent_id(0).expect("parent"), later);
    assert_eq!(read(&repo, "b.txt"), None);
    assert_eq!(read(&repo, "c.txt").as_deref(), Some("c\n"));

    // A commit whose file is changed again afterwards: its revert conflicts.
    write(&repo, "a.txt", "two\n");
    let outcome = apply(&git("op: commit\nrepo: work\nmessage: a two"), &ctx).await;
    assert_succeeded(&outcome);
    write(&repo, "a.txt", "three\n");
    let moved = commit_all(&repo, "a three");
    let refused = rollback(
        &git("op: commit\nrepo: work\nmessage: a two"),
        &outcome,
        &ctx,
    )
    .await;
    assert_failed_with(&refused, "conflicts: a.txt");
    assert_eq!(sha(&repo, "refs/heads/main"), Some(moved));
    assert!(is_clean(&repo));
}

#[tokio::test]
async fn checkout_creates_a_branch_from_origin_and_its_rollback_deletes_it() {
    let sandbox = Sandbox::new();
    let repo = sandbox.repo("work");
    let head = sha(&repo, "refs/heads/main").expect("main");
    repo.remote("origin", "/nonexistent/remote.git")
        .expect("origin");
    repo.reference("refs/remotes/origin/topic", head, false, "test")
        .expect("tracking ref");
    let (ctx, _) = ctx(&sandbox);
    let action = git("op: checkout\nrepo: work\nbranch: topic");
    let outcome = apply(&action, &ctx).await;
    assert_succeeded(&outcome);
    assert!(
        outcome.stdout_tail.contains("tracking origin/topic"),
        "{outcome:#?}"
    );
    assert_eq!(repo.head().expect("head").name(), Ok("refs/heads/topic"));
    assert_eq!(
        repo.find_branch("topic", git2::BranchType::Local)
            .expect("branch")
            .upstream()
            .expect("upstream")
            .name()
            .ok()
            .flatten(),
        Some("origin/topic")
    );
    let undone = rollback(&action, &outcome, &ctx).await;
    assert_succeeded(&undone);
    assert_eq!(repo.head().expect("head").name(), Ok("refs/heads/main"));
    assert_eq!(sha(&repo, "refs/heads/topic"), None);
}

#[tokio::test]
async fn a_passed_deadline_times_out_before_any_change() {
    let sandbox = Sandbox::new();
    let repo = sandbox.repo("work");
    let before = sha(&repo, "refs/heads/main");
    let (ctx, _) = ctx(&sandbox);
    let ctx = ctx.with_deadline(tokio::time::Instant::now());
    let outcome = apply(&git("op: tag\nrepo: work\ntag: late"), &ctx).await;
    assert_eq!(
        outcome.status,
        plangate_executors::OutcomeStatus::TimedOut,
        "{outcome:#?}"
    );
    assert_eq!(sha(&repo, "refs/tags/late"), None);
    assert_eq!(sha(&repo, "refs/heads/main"), before);
}
