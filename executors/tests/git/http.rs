use plangate_executors::{Executor, GitExecutor, OutcomeStatus};
use plangate_github_emulator::{GithubEmulator, GithubEmulatorConfig, TokenScope};

use crate::support::{
    Sandbox, assert_failed_with, assert_succeeded, commit_all, ctx, git, open, write,
};

const TOKEN: &str = "ghp_emulatorTokenForTheGitExecutor42";
const WRONG: &str = "ghp_notARegisteredTokenAtAll0000";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clone_commit_and_push_over_http_with_the_token() {
    let emulator = GithubEmulator::start(GithubEmulatorConfig::default())
        .await
        .expect("the emulator starts");
    emulator.add_token(TOKEN, "plangate-bot", TokenScope::All);
    emulator
        .create_repo("platform/gitops", "main")
        .expect("repo");
    let url = emulator.git_url("platform/gitops");
    let sandbox = Sandbox::new();
    let (ctx, recorded) = ctx(&sandbox);
    let executor = GitExecutor::new()
        .with_env("GH_TEST_TOKEN", TOKEN)
        .with_env("GH_WRONG_TOKEN", WRONG);
    let mut texts = Vec::new();

    let clone = git(&format!(
        "op: clone\nrepo: gitops\nurl: {url}\ntoken_env: GH_TEST_TOKEN"
    ));
    let outcome = executor.apply(&clone, &ctx).await.expect("clone");
    assert_succeeded(&outcome);
    texts.push(format!("{outcome:?}"));
    let repo = open(&sandbox.path("gitops"));
    write(&repo, "deploy.yaml", "replicas: 2\n");
    let local = commit_all(&repo, "scale");

    let push = git("op: push\nrepo: gitops\ntoken_env: GH_TEST_TOKEN\nforce_rollback: true");
    let preview = executor.preview(&push, &ctx).await.expect("preview");
    assert!(preview.blocked.is_none(), "{preview:#?}");
    let outcome = executor.apply(&push, &ctx).await.expect("push");
    assert_succeeded(&outcome);
    texts.push(format!("{outcome:?}"));
    assert_eq!(
        emulator.branch_sha("platform/gitops", "main"),
        Some(local.to_string())
    );

    let wrong = git("op: push\nrepo: gitops\ntoken_env: GH_WRONG_TOKEN");
    write(&repo, "deploy.yaml", "replicas: 3\n");
    commit_all(&repo, "scale again");
    let refused = executor.apply(&wrong, &ctx).await;
    let text = match refused {
        Ok(outcome) => {
            assert_eq!(outcome.status, OutcomeStatus::Failed, "{outcome:#?}");
            assert_failed_with(
                &outcome,
                &format!("authentication failed for {url} (token from $GH_WRONG_TOKEN)"),
            );
            format!("{outcome:?}")
        }
        Err(error) => panic!("a refused token is a failed outcome, not {error}"),
    };
    texts.push(text);
    assert_eq!(
        emulator.branch_sha("platform/gitops", "main"),
        Some(local.to_string()),
        "nothing pushed with the wrong token"
    );

    let anonymous = git(&format!(
        "op: clone\nrepo: other\nurl: {url}\ntoken_env: GH_UNSET_TOKEN"
    ));
    let outcome = executor.apply(&anonymous, &ctx).await.expect("clone");
    assert_failed_with(&outcome, "`$GH_UNSET_TOKEN` is not set");
    assert!(
        !sandbox.path("other").exists(),
        "a failed clone leaves no folder"
    );
    texts.push(format!("{outcome:?}"));

    texts.extend(
        recorded
            .lock()
            .expect("not poisoned")
            .iter()
            .map(ToString::to_string),
    );
    let all = texts.join("\n");
    assert!(!all.contains(TOKEN), "the token leaked: {all}");
    assert!(!all.contains(WRONG), "the wrong token leaked: {all}");
    emulator.shutdown().await;
}
