//! The `github-emulator` binary with `--seed-gitops`, and the admin API over HTTP.

use crate::support::{github_error, raw};
use octocrab::{Octocrab, models::pulls::MergeableState};
use serde_json::{Value, json};
use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
};

struct Running {
    child: Child,
    port: u16,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(arguments: &[&str]) -> Running {
    let mut child = Command::new(env!("CARGO_BIN_EXE_github-emulator"))
        .args(arguments)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the binary starts");
    let stdout = child.stdout.take().expect("a stdout pipe");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("the startup line");
    let port = line
        .trim()
        .strip_prefix("github-emulator listening on http://127.0.0.1:")
        .and_then(|port| port.parse().ok())
        .unwrap_or_else(|| panic!("unexpected startup line {line:?}"));
    Running { child, port }
}

async fn admin(port: u16, method: &str, path: &str, body: &Value) -> (u16, Value) {
    let (status, _, body) = raw(
        port,
        method,
        &format!("/_emulator/{path}"),
        &[("Content-Type", "application/json")],
        &body.to_string(),
    )
    .await;
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seeded_binary_serves_a_protected_release_pull_request() {
    let root = tempfile::tempdir().expect("a temporary directory");
    let root_arg = root.path().to_string_lossy().into_owned();
    let running = start(&["--seed-gitops", "--root", &root_arg, "--token", "seeded"]);
    let port = running.port;
    assert!(root.path().join("platform/gitops.git").is_dir());
    let github = Octocrab::builder()
        .base_uri(format!("http://127.0.0.1:{port}"))
        .expect("a base URI")
        .personal_token("seeded".to_owned())
        .build()
        .expect("a client");

    let pull = github
        .pulls("platform", "gitops")
        .get(1)
        .await
        .expect("PR #1");
    assert_eq!(pull.title.as_deref(), Some("Release next"));
    assert_eq!(pull.head.ref_field, "release/next");
    assert_eq!(pull.mergeable_state, Some(MergeableState::Blocked));
    let error = github_error(github.pulls("platform", "gitops").merge(1).send().await);
    assert_eq!(error.message, "Required status check \"ci\" is expected.");

    let (status, _) = admin(
        port,
        "POST",
        "check-runs",
        &json!({"full_name": "platform/gitops", "ref": "release/next", "name": "ci", "conclusion": "success"}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, body) = admin(
        port,
        "POST",
        "pulls",
        &json!({"full_name": "platform/nope", "head": "a", "base": "b", "title": "t"}),
    )
    .await;
    assert_eq!(status, 404, "{body}");
    let (status, _) = admin(
        port,
        "POST",
        "tokens",
        &json!({"token": "other", "login": "other-bot", "repos": ["platform/elsewhere"]}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = admin(port, "PUT", "faults", &json!({"bad_gateway": 1})).await;
    assert_eq!(status, 200);
    let error = github_error(github.pulls("platform", "gitops").get(1).await);
    assert_eq!(error.status_code.as_u16(), 502);
    let (_, served) = admin(port, "GET", "faults", &json!({})).await;
    assert_eq!(served["bad_gateway"], 1);

    github
        .pulls("platform", "gitops")
        .merge(1)
        .send()
        .await
        .expect("merged");
    let (status, state) = admin(port, "GET", "state", &json!({})).await;
    assert_eq!(status, 200);
    let repo = &state["repos"]["platform/gitops"];
    assert_eq!(repo["pulls"][0]["merged"], true);
    assert_eq!(repo["protection"]["main"]["required_checks"], json!(["ci"]));
    assert_eq!(
        repo["branches"]["main"],
        repo["pulls"][0]["merge_commit_sha"]
    );
    let (_, exchanges) = admin(port, "GET", "exchanges", &json!({})).await;
    assert!(exchanges.as_array().is_some_and(|list| list.len() >= 4));

    let pid = running.child.id().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let mut running = running;
    let status = running.child.wait().expect("the binary exits");
    assert!(status.success(), "SIGTERM ends it cleanly: {status:?}");
}

#[test]
fn a_bad_flag_is_a_usage_error() {
    let output = Command::new(env!("CARGO_BIN_EXE_github-emulator"))
        .arg("--bogus")
        .output()
        .expect("the binary runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("error: unexpected argument `--bogus`"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_endpoints_mirror_the_rust_api() {
    let emulator = plangate_github_emulator::GithubEmulator::start(
        plangate_github_emulator::GithubEmulatorConfig::default(),
    )
    .await
    .expect("starts");
    let port = emulator.port();
    let repo = "team/app";
    let (status, created) = admin(port, "POST", "repos", &json!({"full_name": repo})).await;
    assert_eq!(status, 200, "{created}");
    let (status, _) = admin(port, "POST", "repos", &json!({"full_name": repo})).await;
    assert_eq!(status, 422, "the repository exists");
    let (status, _) = admin(port, "POST", "repos", &json!({"full_name": "no-slash"})).await;
    assert_eq!(status, 422);
    let (status, commit) = admin(
        port,
        "POST",
        "commits",
        &json!({"full_name": repo, "branch": "feature", "files": {"a.txt": "a\n", "README.md": null}, "message": "add a"}),
    )
    .await;
    assert_eq!(status, 200, "{commit}");
    assert_eq!(
        emulator.branch_sha(repo, "feature").as_deref(),
        commit["sha"].as_str()
    );
    let (status, branch) = admin(
        port,
        "POST",
        "branches",
        &json!({"full_name": repo, "branch": "copy", "from": "feature"}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(branch["sha"], commit["sha"]);
    let (status, pull) = admin(
        port,
        "POST",
        "pulls",
        &json!({"full_name": repo, "head": "feature", "base": "main", "title": "Add a", "draft": true}),
    )
    .await;
    assert_eq!(status, 200, "{pull}");
    assert_eq!(pull["number"], 1);
    let (status, _) = admin(
        port,
        "POST",
        "pulls",
        &json!({"full_name": repo, "head": "main", "base": "main", "title": "Nothing"}),
    )
    .await;
    assert_eq!(status, 422, "no commits between main and main");
    for (path, body) in [
        (
            "reviews",
            json!({"full_name": repo, "number": 1, "login": "alice", "state": "APPROVED"}),
        ),
        (
            "check-runs",
            json!({"full_name": repo, "ref": "feature", "name": "ci", "conclusion": "pending"}),
        ),
        (
            "statuses",
            json!({"full_name": repo, "ref": "feature", "context": "lint", "state": "success"}),
        ),
        ("tokens", json!({"token": "t", "login": "bot"})),
    ] {
        let (status, answer) = admin(port, "POST", path, &body).await;
        assert_eq!(status, 200, "{path}: {answer}");
    }
    let (status, _) = admin(
        port,
        "PUT",
        "protection",
        &json!({"full_name": repo, "branch": "main", "required_checks": ["ci"], "required_approvals": 2, "strict": true}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, answer) = admin(port, "PUT", "faults", &json!({"secondary_status": 500})).await;
    assert_eq!(status, 400, "{answer}");
    let (status, _) = admin(port, "GET", "nothing-here", &json!({})).await;
    assert_eq!(status, 404);
    let (status, answer) = admin(port, "POST", "reviews", &json!({"full_name": repo})).await;
    assert_eq!(status, 400, "{answer}");

    let state = emulator.dump();
    let dumped = &state["repos"][repo];
    assert_eq!(dumped["pulls"][0]["draft"], true);
    assert_eq!(dumped["pulls"][0]["reviews"][0]["login"], "alice");
    assert_eq!(dumped["check_runs"][0]["status"], "in_progress");
    assert_eq!(dumped["statuses"][0]["context"], "lint");
    assert_eq!(dumped["protection"]["main"]["required_approvals"], 2);
    assert_eq!(
        emulator
            .pull(repo, 1)
            .map(|pull| pull["mergeable_state"].clone()),
        Some(json!("draft"))
    );
    emulator.assert_conformant();
    assert!(
        state["tokens"]
            .as_array()
            .is_some_and(|tokens| tokens.iter().any(|token| token["login"] == "bot"))
    );
    emulator.shutdown().await;
}
