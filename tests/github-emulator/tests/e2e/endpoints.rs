//! Refs, commits, branches and comparisons.

use crate::support::{REPO, TOKEN, client, emulator, github_error};
use octocrab::params::repos::Reference;
use plangate_github_emulator::GithubEmulatorConfig;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refs_are_read_created_and_deleted() {
    let emulator = emulator(GithubEmulatorConfig::default()).await;
    let github = client(&emulator, Some(TOKEN));
    let repos = github.repos("platform", "gitops");
    let main = emulator.branch_sha(REPO, "main").expect("main");

    let found = repos
        .get_ref(&Reference::Branch("main".into()))
        .await
        .expect("read");
    assert_eq!(found.ref_field, "refs/heads/main");
    let created = repos
        .create_ref(&Reference::Branch("release/next".into()), main.clone())
        .await
        .expect("created");
    assert_eq!(created.ref_field, "refs/heads/release/next");
    assert_eq!(
        emulator.branch_sha(REPO, "release/next"),
        Some(main.clone())
    );
    let error = github_error(
        repos
            .create_ref(&Reference::Branch("release/next".into()), main.clone())
            .await,
    );
    assert_eq!(error.status_code.as_u16(), 422);
    assert_eq!(error.message, "Reference already exists");
    repos
        .delete_ref(&Reference::Branch("release/next".into()))
        .await
        .expect("deleted");
    assert_eq!(emulator.branch_sha(REPO, "release/next"), None);
    // GitHub's description documents this 422 without a body, so octocrab reports it
    // without a message.
    assert!(
        repos
            .delete_ref(&Reference::Branch("release/next".into()))
            .await
            .is_err()
    );
    let last = emulator.exchanges().pop().expect("an exchange");
    assert_eq!((last.method.as_str(), last.status), ("DELETE", 422));
    let error = github_error(repos.get_ref(&Reference::Branch("gone".into())).await);
    assert_eq!(error.status_code.as_u16(), 404);
    emulator.assert_conformant();
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_and_comparisons_carry_files() {
    let emulator = emulator(GithubEmulatorConfig::default()).await;
    let github = client(&emulator, Some(TOKEN));
    let feature = emulator
        .commit(
            REPO,
            "feature",
            &[("a.txt", Some("one\ntwo\n")), ("README.md", None)],
            "add a, drop the readme",
        )
        .expect("committed");
    let commit: Value = github
        .get(
            format!("/repos/platform/gitops/commits/{feature}"),
            None::<&()>,
        )
        .await
        .expect("read");
    assert_eq!(commit["sha"], feature.as_str());
    assert_eq!(commit["stats"]["additions"], 2);
    let statuses: Vec<(&str, &str)> = commit["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|file| {
            (
                file["filename"].as_str().unwrap_or_default(),
                file["status"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(statuses, vec![("README.md", "removed"), ("a.txt", "added")]);
    let error = github_error(
        github
            .get::<Value, _, _>("/repos/platform/gitops/commits/nope", None::<&()>)
            .await,
    );
    assert_eq!(error.status_code.as_u16(), 422);

    let comparison = github
        .repos("platform", "gitops")
        .compare_commits("main", "feature")
        .send()
        .await
        .expect("compared");
    assert_eq!(comparison.ahead_by, 1);
    assert_eq!(comparison.behind_by, 0);
    assert_eq!(comparison.total_commits, 1);
    emulator
        .commit(REPO, "main", &[("b.txt", Some("b\n"))], "move main")
        .expect("committed");
    let comparison: Value = github
        .get("/repos/platform/gitops/compare/main...feature", None::<&()>)
        .await
        .expect("compared");
    assert_eq!(comparison["status"], "diverged");
    assert_eq!(comparison["behind_by"], 1);
    let identical: Value = github
        .get("/repos/platform/gitops/compare/main...main", None::<&()>)
        .await
        .expect("compared");
    assert_eq!(identical["status"], "identical");
    let branch: Value = github
        .get("/repos/platform/gitops/branches/feature", None::<&()>)
        .await
        .expect("read");
    assert_eq!(branch["commit"]["sha"], feature.as_str());
    assert_eq!(branch["protected"], false);
    emulator.assert_conformant();
    emulator.shutdown().await;
}
