//! Reviews, check runs, statuses, branch protection and the mergeable states.

use crate::support::{REPO, TOKEN, client, emulator, github_error};
use octocrab::{
    models::{StatusState, pulls::MergeableState},
    params::{
        checks::{CheckRunConclusion, CheckRunStatus},
        repos::Reference,
    },
};
use plangate_github_emulator::{CheckConclusion, GithubEmulatorConfig, TokenScope};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protection_blocks_until_checks_and_approvals_pass() {
    let emulator = emulator(GithubEmulatorConfig::default()).await;
    emulator.add_token("reviewer-token", "reviewer", TokenScope::All);
    let github = client(&emulator, Some(TOKEN));
    let reviewer = client(&emulator, Some("reviewer-token"));
    let head = emulator
        .commit(REPO, "feature", &[("a.txt", Some("a\n"))], "add a")
        .expect("committed");
    let pull = github
        .pulls("platform", "gitops")
        .create("Add a", "feature", "main")
        .send()
        .await
        .expect("opened");

    let error = github_error(
        github
            .get::<Value, _, _>(
                "/repos/platform/gitops/branches/main/protection",
                None::<&()>,
            )
            .await,
    );
    assert_eq!(error.status_code.as_u16(), 404);
    assert_eq!(error.message, "Branch not protected");
    let _: Value = github
        .put(
            "/repos/platform/gitops/branches/main/protection",
            Some(&json!({
                "required_status_checks": {"strict": false, "contexts": ["ci"]},
                "enforce_admins": null,
                "required_pull_request_reviews": {"required_approving_review_count": 1},
                "restrictions": null,
            })),
        )
        .await
        .expect("protected");
    let protection: Value = github
        .get(
            "/repos/platform/gitops/branches/main/protection",
            None::<&()>,
        )
        .await
        .expect("read");
    assert_eq!(
        protection["required_status_checks"]["contexts"],
        json!(["ci"])
    );
    assert_eq!(
        protection["required_pull_request_reviews"]["required_approving_review_count"],
        1
    );
    let branch: Value = github
        .get("/repos/platform/gitops/branches/main", None::<&()>)
        .await
        .expect("read");
    assert_eq!(branch["protected"], true);

    let read = github
        .pulls("platform", "gitops")
        .get(pull.number)
        .await
        .expect("read");
    assert_eq!(read.mergeable_state, Some(MergeableState::Blocked));
    let error = github_error(
        github
            .pulls("platform", "gitops")
            .merge(pull.number)
            .send()
            .await,
    );
    assert_eq!(error.status_code.as_u16(), 405);
    assert_eq!(
        error.message,
        "At least 1 approving review is required by reviewers with write access. Required status check \"ci\" is expected."
    );

    let own: octocrab::Result<Value> = github
        .post(
            format!("/repos/platform/gitops/pulls/{}/reviews", pull.number),
            Some(&json!({"event": "APPROVE"})),
        )
        .await;
    assert_eq!(
        github_error(own).status_code.as_u16(),
        422,
        "no self-approval"
    );
    let review: Value = reviewer
        .post(
            format!("/repos/platform/gitops/pulls/{}/reviews", pull.number),
            Some(&json!({"event": "APPROVE", "body": "ship it"})),
        )
        .await
        .expect("approved");
    assert_eq!(review["state"], "APPROVED");
    assert_eq!(review["commit_id"], head.as_str());
    let reviews = github
        .pulls("platform", "gitops")
        .list_reviews(pull.number)
        .send()
        .await
        .expect("listed");
    assert_eq!(reviews.items.len(), 1);

    let checks = github.checks("platform", "gitops");
    let failed = checks
        .create_check_run("ci", head.clone())
        .status(CheckRunStatus::Completed)
        .conclusion(CheckRunConclusion::Failure)
        .send()
        .await
        .expect("created");
    assert_eq!(failed.head_sha, head);
    let error = github_error(
        github
            .pulls("platform", "gitops")
            .merge(pull.number)
            .send()
            .await,
    );
    assert_eq!(error.message, "Required status check \"ci\" is failing.");
    checks
        .create_check_run("ci", head.clone())
        .status(CheckRunStatus::Completed)
        .conclusion(CheckRunConclusion::Success)
        .send()
        .await
        .expect("created");
    let runs = checks
        .list_check_runs_for_git_ref(octocrab::params::repos::Commitish("feature".into()))
        .send()
        .await
        .expect("listed");
    assert_eq!(runs.total_count, 1, "only the latest run of each name");

    github
        .repos("platform", "gitops")
        .create_status(head.clone(), StatusState::Failure)
        .context("lint".to_owned())
        .send()
        .await
        .expect("a status");
    let combined = github
        .repos("platform", "gitops")
        .combined_status_for_ref(&Reference::Branch("feature".into()))
        .await
        .expect("combined");
    assert_eq!(combined.state, StatusState::Failure);
    assert_eq!(combined.total_count, 1);
    let read = github
        .pulls("platform", "gitops")
        .get(pull.number)
        .await
        .expect("read");
    assert_eq!(
        read.mergeable_state,
        Some(MergeableState::Unstable),
        "a failing check that is not required"
    );
    emulator
        .add_status(REPO, "feature", "lint", "success")
        .expect("a status");
    let read = github
        .pulls("platform", "gitops")
        .get(pull.number)
        .await
        .expect("read");
    assert_eq!(read.mergeable_state, Some(MergeableState::Clean));
    github
        .pulls("platform", "gitops")
        .merge(pull.number)
        .sha(head)
        .send()
        .await
        .expect("merged");
    emulator.assert_conformant();
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_protection_needs_the_base_tip_and_drafts_do_not_merge() {
    let emulator = emulator(GithubEmulatorConfig::default()).await;
    let github = client(&emulator, Some(TOKEN));
    emulator
        .commit(REPO, "feature", &[("a.txt", Some("a\n"))], "add a")
        .expect("committed");
    emulator
        .commit(REPO, "main", &[("b.txt", Some("b\n"))], "move main")
        .expect("committed");
    let number = emulator
        .create_pull(REPO, "feature", "main", "Add a", false)
        .expect("opened");
    emulator
        .set_protection(
            REPO,
            "main",
            plangate_github_emulator::Protection {
                required_checks: vec!["ci".into()],
                required_approvals: 1,
                strict: true,
            },
        )
        .expect("protected");
    emulator
        .add_check_run(REPO, "feature", "ci", CheckConclusion::Success)
        .expect("a check");
    emulator
        .add_review(
            REPO,
            number,
            "reviewer",
            plangate_github_emulator::ReviewState::Approved,
        )
        .expect("a review");
    let read = github
        .pulls("platform", "gitops")
        .get(number)
        .await
        .expect("read");
    assert_eq!(read.mergeable_state, Some(MergeableState::Behind));
    let error = github_error(
        github
            .pulls("platform", "gitops")
            .merge(number)
            .send()
            .await,
    );
    assert_eq!(error.status_code.as_u16(), 405);
    assert_eq!(
        error.message,
        "Head branch is out of date. Review and try the merge again."
    );

    emulator
        .commit(REPO, "draft", &[("c.txt", Some("c\n"))], "add c")
        .expect("committed");
    let draft = emulator
        .create_pull(REPO, "draft", "main", "Draft", true)
        .expect("opened");
    let read = github
        .pulls("platform", "gitops")
        .get(draft)
        .await
        .expect("read");
    assert_eq!(read.mergeable_state, Some(MergeableState::Draft));
    let error = github_error(github.pulls("platform", "gitops").merge(draft).send().await);
    assert_eq!(error.message, "Pull Request is not mergeable");
    emulator
        .add_check_run(REPO, "draft", "ci", CheckConclusion::Pending)
        .expect("a check");
    let runs = github
        .checks("platform", "gitops")
        .list_check_runs_for_git_ref(octocrab::params::repos::Commitish("draft".into()))
        .send()
        .await
        .expect("listed");
    assert_eq!(runs.check_runs[0].conclusion, None);
    emulator.assert_conformant();
    emulator.shutdown().await;
}
