//! The REST API through the real octocrab client.

use crate::support::{LOGIN, REPO, TOKEN, bare, client, emulator, github_error, raw};
use octocrab::{models::pulls::MergeableState, params};
use plangate_github_emulator::{GithubEmulatorConfig, TokenScope};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authentication_and_visibility() {
    let emulator = emulator(GithubEmulatorConfig::default()).await;
    emulator
        .create_repo("platform/secret", "main")
        .expect("created");
    emulator.add_token("scoped", "scoped-bot", TokenScope::Repos(vec![REPO.into()]));

    let anonymous = client(&emulator, None);
    let error = github_error(anonymous.repos("platform", "gitops").get().await);
    assert_eq!(error.status_code.as_u16(), 401);
    assert_eq!(error.message, "Requires authentication");

    let wrong = client(&emulator, Some("nope"));
    let error = github_error(wrong.repos("platform", "gitops").get().await);
    assert_eq!(error.status_code.as_u16(), 401);
    assert_eq!(error.message, "Bad credentials");

    let scoped = client(&emulator, Some("scoped"));
    let repository = scoped
        .repos("platform", "gitops")
        .get()
        .await
        .expect("visible");
    assert_eq!(repository.full_name.as_deref(), Some(REPO));
    assert_eq!(repository.default_branch.as_deref(), Some("main"));
    let error = github_error(scoped.repos("platform", "secret").get().await);
    assert_eq!(error.status_code.as_u16(), 404);
    assert_eq!(error.message, "Not Found");

    let bot = client(&emulator, Some(TOKEN));
    let user: Value = bot.get("/user", None::<&()>).await.expect("the user");
    assert_eq!(user["login"], LOGIN);
    bot.repos("platform", "secret")
        .get()
        .await
        .expect("all repositories");

    let (status, head, body) = raw(
        emulator.port(),
        "GET",
        "/repos/platform/gitops",
        &[
            ("Authorization", "token t0ken-bot"),
            ("X-GitHub-Api-Version", "2022-11-28"),
        ],
        "",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    for header in [
        "content-type: application/json; charset=utf-8",
        "x-github-request-id: ",
        "x-ratelimit-limit: 5000",
        "x-ratelimit-remaining: ",
        "x-ratelimit-reset: ",
        "x-ratelimit-used: ",
        "x-ratelimit-resource: core",
        "x-github-api-version-selected: 2022-11-28",
    ] {
        assert!(head.contains(header), "{header} missing in {head}");
    }
    let body: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(body["owner"]["login"], "platform");

    let (status, head, _) = raw(
        emulator.port(),
        "GET",
        "/platform/gitops.git/info/refs?service=git-upload-pack",
        &[],
        "",
    )
    .await;
    assert_eq!(status, 401);
    assert!(
        head.contains("www-authenticate: basic realm=\"github\""),
        "{head}"
    );
    let (status, _, _) = raw(
        emulator.port(),
        "GET",
        "/platform/secret.git/info/refs?service=git-upload-pack",
        &[("Authorization", "Basic eDpzY29wZWQ=")],
        "",
    )
    .await;
    assert_eq!(
        status, 404,
        "the scoped token (x:scoped) cannot see platform/secret"
    );
    emulator.assert_conformant();
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_requests_are_created_listed_and_read() {
    let emulator = emulator(GithubEmulatorConfig::default()).await;
    let github = client(&emulator, Some(TOKEN));
    let head = emulator
        .commit(
            REPO,
            "feature",
            &[("apps/api.yaml", Some("replicas: 2\n"))],
            "scale the api",
        )
        .expect("committed");
    emulator
        .create_branch(REPO, "empty", "main")
        .expect("branched");

    let created = github
        .pulls("platform", "gitops")
        .create("Scale the API", "platform:feature", "main")
        .body("Two replicas.")
        .send()
        .await
        .expect("created");
    assert_eq!(created.number, 1);
    assert_eq!(created.head.sha, head);
    assert_eq!(created.head.ref_field, "feature");
    assert_eq!(created.base.ref_field, "main");

    let error = github_error(
        github
            .pulls("platform", "gitops")
            .create("Nothing", "empty", "main")
            .send()
            .await,
    );
    assert_eq!(error.status_code.as_u16(), 422);
    assert_eq!(
        error
            .errors
            .as_ref()
            .and_then(|errors| errors[0]["message"].as_str()),
        Some("No commits between main and empty")
    );
    let error = github_error(
        github
            .pulls("platform", "gitops")
            .create("Missing", "gone", "main")
            .send()
            .await,
    );
    assert_eq!(error.status_code.as_u16(), 422);
    let error = github_error(
        github
            .pulls("platform", "gitops")
            .create("Again", "feature", "main")
            .send()
            .await,
    );
    assert_eq!(error.status_code.as_u16(), 422, "a duplicate is refused");

    let pull = github
        .pulls("platform", "gitops")
        .get(1)
        .await
        .expect("the pull request");
    assert_eq!(pull.title.as_deref(), Some("Scale the API"));
    assert_eq!(pull.mergeable, Some(true));
    assert_eq!(pull.mergeable_state, Some(MergeableState::Clean));
    assert_eq!(pull.commits, Some(1));
    assert_eq!(pull.additions, Some(1));
    assert_eq!(pull.changed_files, Some(1));
    assert_eq!(
        pull.user.as_ref().map(|user| user.login.as_str()),
        Some(LOGIN)
    );
    let error = github_error(github.pulls("platform", "gitops").get(99).await);
    assert_eq!(error.status_code.as_u16(), 404);

    let open = github
        .pulls("platform", "gitops")
        .list()
        .send()
        .await
        .expect("listed");
    assert_eq!(open.items.len(), 1);
    let by_head = github
        .pulls("platform", "gitops")
        .list()
        .state(params::State::All)
        .head("platform:feature")
        .base("main")
        .send()
        .await
        .expect("listed");
    assert_eq!(by_head.items.len(), 1);
    let other = github
        .pulls("platform", "gitops")
        .list()
        .head("platform:other")
        .send()
        .await
        .expect("listed");
    assert!(other.items.is_empty());
    let closed = github
        .pulls("platform", "gitops")
        .list()
        .state(params::State::Closed)
        .send()
        .await
        .expect("listed");
    assert!(closed.items.is_empty());

    let commits = github
        .pulls("platform", "gitops")
        .pr_commits(1)
        .send()
        .await
        .expect("commits");
    assert_eq!(commits.items.len(), 1);
    assert_eq!(commits.items[0].sha, head);
    let files = github
        .pulls("platform", "gitops")
        .list_files(1)
        .await
        .expect("files");
    assert_eq!(files.items.len(), 1);
    assert_eq!(files.items[0].filename, "apps/api.yaml");
    assert!(
        !github
            .pulls("platform", "gitops")
            .is_merged(1)
            .await
            .expect("answered")
    );
    emulator.assert_conformant();
    emulator.shutdown().await;
}

fn parents(repository: &git2::Repository, sha: &str) -> Vec<String> {
    let commit = repository
        .find_commit(git2::Oid::from_str(sha).expect("a sha"))
        .expect("the commit exists");
    commit.parent_ids().map(|oid| oid.to_string()).collect()
}

fn file(repository: &git2::Repository, sha: &str, path: &str) -> Option<String> {
    let commit = repository
        .find_commit(git2::Oid::from_str(sha).ok()?)
        .ok()?;
    let entry = commit
        .tree()
        .ok()?
        .get_path(std::path::Path::new(path))
        .ok()?;
    let blob = repository.find_blob(entry.id()).ok()?;
    Some(String::from_utf8_lossy(blob.content()).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merges_write_merge_squash_and_rebase_commits() {
    let emulator = emulator(GithubEmulatorConfig::default()).await;
    let github = client(&emulator, Some(TOKEN));
    let pulls = github.pulls("platform", "gitops");

    let merge_head = emulator
        .commit(REPO, "merge-me", &[("a.txt", Some("a\n"))], "add a")
        .expect("committed");
    emulator
        .commit(REPO, "squash-me", &[("b.txt", Some("b\n"))], "add b")
        .expect("committed");
    emulator
        .commit(REPO, "squash-me", &[("b2.txt", Some("b2\n"))], "add b2")
        .expect("committed");
    emulator
        .commit(REPO, "rebase-me", &[("c.txt", Some("c\n"))], "add c")
        .expect("committed");
    let rebase_head = emulator
        .commit(REPO, "rebase-me", &[("d.txt", Some("d\n"))], "add d")
        .expect("committed");
    for head in ["merge-me", "squash-me", "rebase-me"] {
        emulator
            .create_pull(REPO, head, "main", &format!("Land {head}"), false)
            .expect("opened");
    }

    let error = github_error(pulls.merge(1).sha("0".repeat(40)).send().await);
    assert_eq!(error.status_code.as_u16(), 409);
    assert_eq!(
        error.message,
        "Head branch was modified. Review and try the merge again."
    );
    let invalid: octocrab::Result<Value> = github
        .put(
            "/repos/platform/gitops/pulls/1/merge",
            Some(&json!({"merge_method": "octopus"})),
        )
        .await;
    assert_eq!(github_error(invalid).status_code.as_u16(), 422);

    let base_before = emulator.branch_sha(REPO, "main").expect("main");
    let base_before_copy = base_before.clone();
    let merged = pulls
        .merge(1)
        .sha(merge_head.clone())
        .method(params::pulls::MergeMethod::Merge)
        .send()
        .await
        .expect("merged");
    assert!(merged.merged);
    assert_eq!(
        merged.message.as_deref(),
        Some("Pull Request successfully merged")
    );
    let merge_sha = merged.sha.expect("a sha");
    assert_eq!(
        emulator.branch_sha(REPO, "main").as_deref(),
        Some(merge_sha.as_str())
    );
    let repository = bare(&emulator);
    assert_eq!(
        parents(&repository, &merge_sha),
        vec![base_before_copy, merge_head]
    );
    let message = repository
        .find_commit(git2::Oid::from_str(&merge_sha).expect("sha"))
        .expect("commit")
        .message()
        .map(str::to_owned)
        .expect("message");
    assert_eq!(
        message,
        "Merge pull request #1 from platform/merge-me\n\nLand merge-me"
    );
    assert_eq!(emulator.merges(REPO, 1), 1);
    let pull = pulls.get(1).await.expect("the pull request");
    assert!(pull.merged_at.is_some());
    assert_eq!(pull.merge_commit_sha.as_deref(), Some(merge_sha.as_str()));
    assert_eq!(
        pull.merged_by.as_ref().map(|user| user.login.as_str()),
        Some(LOGIN)
    );
    assert!(pulls.is_merged(1).await.expect("answered"));
    let files = pulls.list_files(1).await.expect("files");
    assert_eq!(
        files.items.len(),
        1,
        "a merged pull request keeps its files"
    );
    assert_eq!(
        pull.base.sha, base_before,
        "the base as it was before the merge"
    );
    let error = github_error(pulls.merge(1).send().await);
    assert_eq!(error.status_code.as_u16(), 405);
    assert_eq!(error.message, "Pull Request is not mergeable");

    let squashed = pulls
        .merge(2)
        .method(params::pulls::MergeMethod::Squash)
        .title("Squash b")
        .send()
        .await
        .expect("squashed")
        .sha
        .expect("a sha");
    assert_eq!(parents(&repository, &squashed), vec![merge_sha.clone()]);
    assert_eq!(
        file(&repository, &squashed, "b2.txt").as_deref(),
        Some("b2\n")
    );
    assert_eq!(
        file(&repository, &squashed, "a.txt").as_deref(),
        Some("a\n")
    );

    let rebased = pulls
        .merge(3)
        .method(params::pulls::MergeMethod::Rebase)
        .send()
        .await
        .expect("rebased")
        .sha
        .expect("a sha");
    assert_ne!(
        rebased, rebase_head,
        "the commits are replayed, not fast-forwarded"
    );
    let replayed_parent = parents(&repository, &rebased);
    assert_eq!(replayed_parent.len(), 1);
    assert_eq!(
        parents(&repository, &replayed_parent[0]),
        vec![squashed.clone()]
    );
    let tip = repository
        .find_commit(git2::Oid::from_str(&rebased).expect("sha"))
        .expect("commit");
    assert_eq!(tip.message().ok(), Some("add d"));
    for path in ["a.txt", "b.txt", "c.txt", "d.txt"] {
        assert!(
            file(&repository, &rebased, path).is_some(),
            "{path} is on main"
        );
    }
    assert_eq!(
        emulator.branch_sha(REPO, "main").as_deref(),
        Some(rebased.as_str())
    );
    emulator.assert_conformant();
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflicts_make_a_pull_request_dirty() {
    let emulator = emulator(GithubEmulatorConfig::default()).await;
    let github = client(&emulator, Some(TOKEN));
    emulator
        .commit(
            REPO,
            "main",
            &[
                ("values.yaml", Some("replicas: 1\n")),
                ("other.txt", Some("x\n")),
            ],
            "base values",
        )
        .expect("committed");
    emulator
        .commit(
            REPO,
            "left",
            &[("values.yaml", Some("replicas: 2\n"))],
            "two",
        )
        .expect("committed");
    emulator
        .commit(
            REPO,
            "right",
            &[("values.yaml", Some("replicas: 3\n"))],
            "three",
        )
        .expect("committed");
    let left = emulator
        .create_pull(REPO, "left", "main", "Two", false)
        .expect("opened");
    let right = emulator
        .create_pull(REPO, "right", "main", "Three", false)
        .expect("opened");
    github
        .pulls("platform", "gitops")
        .merge(left)
        .send()
        .await
        .expect("the first merges");

    let pull = github
        .pulls("platform", "gitops")
        .get(right)
        .await
        .expect("the pull request");
    assert_eq!(pull.mergeable, Some(false));
    assert_eq!(pull.mergeable_state, Some(MergeableState::Dirty));
    assert_eq!(
        emulator.conflicting_files(REPO, right),
        vec!["values.yaml".to_owned()]
    );
    let error = github_error(github.pulls("platform", "gitops").merge(right).send().await);
    assert_eq!(error.status_code.as_u16(), 405);
    assert_eq!(emulator.merges(REPO, right), 0);
    assert_eq!(
        emulator.dump()["repos"][REPO]["pulls"][1]["conflicting_files"],
        json!(["values.yaml"])
    );
    emulator.assert_conformant();
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mergeability_is_unknown_for_the_configured_reads() {
    let emulator = emulator(GithubEmulatorConfig {
        mergeable_delay: 2,
        ..GithubEmulatorConfig::default()
    })
    .await;
    let github = client(&emulator, Some(TOKEN));
    emulator
        .commit(REPO, "feature", &[("a.txt", Some("a\n"))], "add a")
        .expect("committed");
    let number = emulator
        .create_pull(REPO, "feature", "main", "Add a", false)
        .expect("opened");
    let states = |pull: &octocrab::models::pulls::PullRequest| {
        (pull.mergeable, pull.mergeable_state.clone())
    };
    for _ in 0..2 {
        let pull = github
            .pulls("platform", "gitops")
            .get(number)
            .await
            .expect("read");
        assert_eq!(states(&pull), (None, Some(MergeableState::Unknown)));
    }
    let pull = github
        .pulls("platform", "gitops")
        .get(number)
        .await
        .expect("read");
    assert_eq!(states(&pull), (Some(true), Some(MergeableState::Clean)));
    emulator
        .commit(REPO, "main", &[("b.txt", Some("b\n"))], "move the base")
        .expect("committed");
    let pull = github
        .pulls("platform", "gitops")
        .get(number)
        .await
        .expect("read");
    assert_eq!(
        states(&pull),
        (None, Some(MergeableState::Unknown)),
        "the base moved"
    );
    let pull = github
        .pulls("platform", "gitops")
        .get(number)
        .await
        .expect("read");
    assert_eq!(pull.mergeable_state, Some(MergeableState::Unknown));
    let pull = github
        .pulls("platform", "gitops")
        .get(number)
        .await
        .expect("read");
    assert_eq!(states(&pull), (Some(true), Some(MergeableState::Clean)));
    emulator.assert_conformant();
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_requests_close_reopen_page_and_close_with_their_head() {
    let emulator = emulator(GithubEmulatorConfig::default()).await;
    let github = client(&emulator, Some(TOKEN));
    for branch in ["one", "two", "three"] {
        emulator
            .commit(
                REPO,
                branch,
                &[(&format!("{branch}.txt"), Some("x\n"))],
                branch,
            )
            .expect("committed");
        emulator
            .create_pull(REPO, branch, "main", branch, false)
            .expect("opened");
    }
    let closed: Value = github
        .patch(
            "/repos/platform/gitops/pulls/1",
            Some(&json!({"state": "closed", "title": "One"})),
        )
        .await
        .expect("closed");
    assert_eq!(closed["state"], "closed");
    assert_eq!(closed["title"], "One");
    assert_eq!(closed["merged"], false);
    let error = github_error(github.pulls("platform", "gitops").merge(1).send().await);
    assert_eq!(error.status_code.as_u16(), 405);
    let reopened: Value = github
        .patch(
            "/repos/platform/gitops/pulls/1",
            Some(&json!({"state": "open"})),
        )
        .await
        .expect("reopened");
    assert_eq!(reopened["state"], "open");

    let (status, head, body) = raw(
        emulator.port(),
        "GET",
        "/repos/platform/gitops/pulls?per_page=2",
        &[("Authorization", "Bearer t0ken-bot")],
        "",
    )
    .await;
    assert_eq!(status, 200);
    let page: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(page.as_array().map(Vec::len), Some(2));
    assert_eq!(page[0]["number"], 3, "newest first");
    assert!(head.contains("rel=\"next\""), "{head}");
    let first = github
        .pulls("platform", "gitops")
        .list()
        .per_page(2)
        .send()
        .await
        .expect("a page");
    let all = github.all_pages(first).await.expect("every page");
    assert_eq!(all.len(), 3);

    github
        .repos("platform", "gitops")
        .delete_ref(&octocrab::params::repos::Reference::Branch("two".into()))
        .await
        .expect("deleted");
    let pull = github
        .pulls("platform", "gitops")
        .get(2)
        .await
        .expect("read");
    assert_eq!(pull.state, Some(octocrab::models::IssueState::Closed));
    assert!(!pull.head.sha.is_empty(), "the head sha at closing stays");
    emulator.assert_conformant();
    emulator.shutdown().await;
}
