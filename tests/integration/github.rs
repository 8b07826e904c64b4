//! GitOps plans end to end: the `git` executor (libgit2) and the
//! `github_merge` executor (octocrab) driven by the `plangate` binary
//! against the in-repo GitHub emulator on 127.0.0.1, which keeps real bare
//! repositories and serves them through git's own `http-backend`. Every
//! REST answer the binary received is checked against GitHub's OpenAPI
//! description at the end of each test.

use std::{path::Path, process::Stdio};

use git2::{Oid, Repository};
use nix::{
    sys::signal::{Signal, kill},
    unistd::Pid,
};
use plangate_github_emulator::{CheckConclusion, GithubEmulator, GithubEmulatorConfig, TokenScope};
use serde_json::Value;

use crate::common::{Finished, Workspace, repo_root, wait_until};

/// The token the tests plant: it must appear nowhere plangate writes.
const TOKEN: &str = "ghp_e2eSecretToken0123456789abcdefXYZ";
const REPO: &str = "platform/gitops";

/// A workspace wired to a fresh emulator seeded as `--seed-gitops` seeds it,
/// with the tiny CI giving every pushed head a green `ci`.
struct Github {
    workspace: Workspace,
    emulator: GithubEmulator,
}

impl Github {
    fn new() -> Self {
        let emulator = GithubEmulator::spawn(GithubEmulatorConfig {
            ci_check: Some("ci".to_owned()),
            ..GithubEmulatorConfig::default()
        })
        .expect("the emulator starts");
        emulator.add_token(TOKEN, "plangate-bot", TokenScope::All);
        emulator
            .seed_gitops()
            .expect("the GitOps repository is seeded");
        Self {
            workspace: Workspace::new(),
            emulator,
        }
    }

    /// Writes a bundled example into the workspace, pointed at this emulator.
    fn example(&self, name: &str) {
        let text = std::fs::read_to_string(repo_root().join("examples").join(name))
            .expect("the example reads");
        self.plan(name, &text);
    }

    /// Writes `text` as plan `name`, with the README's emulator address replaced by this one's.
    fn plan(&self, name: &str, text: &str) {
        self.workspace.write(
            name,
            &text.replace("http://127.0.0.1:8787", &self.emulator.api_url()),
        );
    }

    fn command<I, S>(&self, args: I) -> std::process::Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut command = self.workspace.command(args);
        command
            .env("GITHUB_TOKEN", TOKEN)
            .env_remove("GITHUB_API_URL")
            .env("HOME", self.workspace.path().join("home"));
        command
    }

    fn run<I, S>(&self, args: I) -> Finished
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let output = self.command(args).output().expect("plangate runs");
        Finished {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8(output.stdout).expect("UTF-8"),
            stderr: String::from_utf8(output.stderr).expect("UTF-8"),
            dir: tempfile::tempdir().expect("a temp dir"),
        }
    }

    fn repository(&self) -> Repository {
        Repository::open_bare(self.emulator.repo_path(REPO)).expect("the bare repository opens")
    }

    fn main_sha(&self) -> String {
        self.emulator.branch_sha(REPO, "main").expect("main exists")
    }

    /// Whether `path` exists in the tree of `sha`.
    fn has_file(&self, sha: &str, path: &str) -> bool {
        let repository = self.repository();
        let commit = repository
            .find_commit(Oid::from_str(sha).expect("a sha"))
            .expect("the commit exists");
        commit
            .tree()
            .expect("a tree")
            .get_path(Path::new(path))
            .is_ok()
    }

    /// Every byte plangate wrote: the state file (with its WAL), every
    /// report format, `status`, and the given console outputs.
    fn everything_written(&self, consoles: &[&Finished]) -> Vec<u8> {
        let mut all = Vec::new();
        for finished in consoles {
            all.extend_from_slice(finished.stdout.as_bytes());
            all.extend_from_slice(finished.stderr.as_bytes());
        }
        for format in ["markdown", "json", "html"] {
            let report = self.run(["report", "--format", format]);
            report.assert_code(0);
            all.extend_from_slice(report.stdout.as_bytes());
        }
        all.extend_from_slice(self.run(["status", "--format", "json"]).stdout.as_bytes());
        for entry in std::fs::read_dir(self.workspace.path().join(".plangate"))
            .expect("the state folder exists")
        {
            let path = entry.expect("an entry").path();
            all.extend(std::fs::read(path).unwrap_or_default());
        }
        all
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

fn task<'a>(status: &'a Value, id: &str) -> &'a Value {
    status["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .find(|task| task["id"] == id)
        .unwrap_or_else(|| panic!("no task `{id}` in {status:#}"))
}

/// The README's walk-through: clone, render, commit, push the release
/// branch, merge PR #1 once `ci` is green and it is approved, verify.
#[test]
fn the_gitops_example_commits_pushes_and_merges_its_release() {
    let github = Github::new();
    github.example("gitops.yaml");
    let k8s = repo_root().join("examples/k8s/app");
    for file in ["configmap.yaml", "deployment.yaml", "service.yaml"] {
        github.workspace.write(
            &format!("k8s/app/{file}"),
            &std::fs::read_to_string(k8s.join(file)).expect("the manifest reads"),
        );
    }
    let before = github.main_sha();

    let preview = github.run(["plan", "gitops.yaml", "--preview"]);
    preview.assert_code(0);
    assert!(
        preview.stdout.contains("- mergeable_state: clean"),
        "{}",
        preview.stdout
    );
    assert!(
        preview.stdout.contains("- check ci: success"),
        "{}",
        preview.stdout
    );
    assert!(
        preview
            .stdout
            .contains("- approvals: 1 of 1 required (reviewer)"),
        "{}",
        preview.stdout
    );

    let run = github.run(["run", "gitops.yaml"]);
    run.assert_code(0);
    let status = github.workspace.status();
    assert_eq!(status["status"], "succeeded", "{status:#}");
    for id in ["clone", "render", "commit", "push", "merge-release"] {
        assert_eq!(task(&status, id)["state"], "succeeded", "{status:#}");
    }

    // main has the merge commit, with the rendered manifests and the seeded change.
    let main = github.main_sha();
    assert_ne!(main, before);
    assert!(github.has_file(&main, "clusters/dev/web/deployment.yaml"));
    assert!(github.has_file(&main, "CHANGES.md"));
    let repository = github.repository();
    let merge = repository
        .find_commit(Oid::from_str(&main).expect("a sha"))
        .expect("the merge commit");
    assert_eq!(merge.parent_count(), 2, "a merge commit");
    assert_eq!(merge.parent_id(0).expect("a parent").to_string(), before);
    let pull = github.emulator.pull(REPO, 1).expect("PR #1");
    assert_eq!(pull["merged"], Value::Bool(true));
    assert_eq!(pull["merge_commit_sha"], Value::String(main.clone()));
    assert_eq!(github.emulator.merges(REPO, 1), 1);

    // In-process actions have no exit code: the report says they succeeded.
    let markdown = github.run(["report"]);
    assert!(
        markdown
            .stdout
            .contains("`run` succeeded (no `verify` declared): `git: clone in work/gitops`"),
        "{}",
        markdown.stdout
    );
    assert!(
        markdown
            .stdout
            .contains("verified: `github_merge: platform/gitops#1 (merge)` succeeded"),
        "{}",
        markdown.stdout
    );
    // The evidence names the merge commit; the token is nowhere.
    let report = github.run(["report", "--format", "json"]);
    assert!(report.stdout.contains(&main), "{}", report.stdout);
    let written = github.everything_written(&[&preview, &run]);
    assert!(!contains(&written, TOKEN), "the token leaked");
    github.emulator.assert_conformant();
}

/// One merge task, with its verify and auto rollback, for the tests below.
fn merge_plan(extra_task: &str) -> String {
    format!(
        "version: 1\nname: merge-one\npolicy: {{max_risk: medium, require_rollback: medium, on_failure: rollback-phase, concurrency: 1}}\ndefaults: {{timeout: 1m}}\nphases:\n  - id: merge\n    tasks:\n      - id: merge-release\n        risk: medium\n        run: {{github_merge: {{repo: {REPO}, pr: 1, api_url: \"http://127.0.0.1:8787\", require_checks: [ci], require_approvals: 1}}}}\n        verify: {{github_merge: {{repo: {REPO}, pr: 1, api_url: \"http://127.0.0.1:8787\"}}}}\n        rollback: auto\n{extra_task}"
    )
}

#[test]
fn a_failing_check_is_blocked_in_the_dry_run_and_never_merged() {
    let github = Github::new();
    github
        .emulator
        .add_check_run(REPO, "release/next", "ci", CheckConclusion::Failure)
        .expect("a failing check run");
    github.plan("merge.yaml", &merge_plan(""));

    let dry = github.run(["plan", "merge.yaml", "--preview", "--format", "json"]);
    dry.assert_code(0);
    let report = dry.json();
    let tasks = report["phases"][0]["tasks"].as_array().expect("tasks");
    assert_eq!(tasks[0]["decision"], "blocked", "{report:#}");
    let reason = tasks[0]["reason"].as_str().expect("a reason");
    assert!(
        reason.contains("required check `ci` concluded `failure`"),
        "{reason}"
    );

    let run = github.run(["run", "merge.yaml"]);
    assert_ne!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("required check `ci` concluded `failure`"),
        "{}",
        run.stderr
    );
    assert_eq!(github.emulator.merges(REPO, 1), 0);
    assert_eq!(
        github.emulator.pull(REPO, 1).expect("PR #1")["merged"],
        Value::Bool(false)
    );
    github.emulator.assert_conformant();
}

#[test]
fn a_conflicting_pull_request_is_reported_with_its_conflicting_files() {
    let github = Github::new();
    github
        .emulator
        .commit(
            REPO,
            "release/next",
            &[(
                "clusters/dev/kustomization.yaml",
                Some("resources: [web]\n"),
            )],
            "point dev at the web app",
        )
        .expect("a commit on the release branch");
    github
        .emulator
        .commit(
            REPO,
            "main",
            &[(
                "clusters/dev/kustomization.yaml",
                Some("resources: [cache]\n"),
            )],
            "point dev at the cache",
        )
        .expect("a conflicting commit on main");
    github.plan("merge.yaml", &merge_plan(""));
    let dry = github.run(["plan", "merge.yaml", "--preview"]);
    dry.assert_code(0);
    assert!(
        dry.stdout
            .contains("- conflicting files: clusters/dev/kustomization.yaml"),
        "{}",
        dry.stdout
    );
    assert!(
        dry.stdout
            .contains("conflicts with `main`: clusters/dev/kustomization.yaml"),
        "{}",
        dry.stdout
    );
    github.emulator.assert_conformant();
}

/// The merge succeeds, a later task of its phase fails, and the phase's
/// rollback opens a revert pull request whose branch undoes the merge.
#[test]
fn a_failed_phase_rolls_the_merge_back_with_a_revert_pull_request() {
    let github = Github::new();
    let before = github.main_sha();
    let failing = "      - id: smoke-test\n        risk: low\n        needs: [merge-release]\n        run: {shell: [sh, -c, 'echo smoke test failed >&2; exit 1']}\n";
    github.plan("merge.yaml", &merge_plan(failing));
    let run = github.run(["run", "merge.yaml"]);
    assert_ne!(run.code, 0);
    let status = github.workspace.status();
    assert_eq!(
        task(&status, "merge-release")["state"],
        "rolled-back",
        "{status:#}"
    );
    assert_eq!(github.emulator.merges(REPO, 1), 1);
    let merged = github.emulator.pull(REPO, 1).expect("PR #1");
    let merge_sha = merged["merge_commit_sha"]
        .as_str()
        .expect("a merge sha")
        .to_owned();

    let revert = github
        .emulator
        .pull(REPO, 2)
        .expect("the revert pull request #2");
    assert_eq!(revert["state"], "open");
    let branch = format!("plangate/revert-pr-1-{}", &merge_sha[..7]);
    assert_eq!(revert["head"]["ref"], Value::String(branch.clone()));
    let revert_head = github
        .emulator
        .branch_sha(REPO, &branch)
        .expect("the branch");
    let repository = github.repository();
    let tree = |sha: &str| {
        repository
            .find_commit(Oid::from_str(sha).expect("a sha"))
            .expect("a commit")
            .tree_id()
    };
    assert_eq!(
        tree(&revert_head),
        tree(&before),
        "the revert undoes the merge"
    );
    let report = github.run(["report"]);
    assert!(
        report.stdout.contains("opened revert pull request #2"),
        "{}",
        report.stdout
    );
    github.emulator.assert_conformant();
}

/// kill -9 after GitHub merged and before plangate heard of it: `resume`
/// asks GitHub (`observe`), finds the merge, verifies it, and merges nothing twice.
#[test]
fn a_kill_after_the_merge_call_resumes_without_merging_twice() {
    let github = Github::new();
    github.plan("merge.yaml", &merge_plan(""));
    github.emulator.hold_next_merge();
    let child = github
        .command(["run", "merge.yaml"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("plangate starts");
    wait_until("GitHub to merge and hold its answer", || {
        github.emulator.merge_held()
    });
    assert_eq!(github.emulator.merges(REPO, 1), 1);
    let pid = Pid::from_raw(i32::try_from(child.id()).expect("pid fits"));
    kill(pid, Signal::SIGKILL).expect("kill works");
    let mut child = child;
    child.wait().expect("wait works");
    github.emulator.release_merge();

    let resumed = github.run(["resume"]);
    resumed.assert_code(0);
    let status = github.workspace.status();
    assert_eq!(status["status"], "succeeded", "{status:#}");
    assert_eq!(
        task(&status, "merge-release")["state"],
        "succeeded",
        "{status:#}"
    );
    assert_eq!(github.emulator.merges(REPO, 1), 1, "merged once");
    let report = github.run(["report"]);
    assert!(
        report.stdout.contains("had taken effect"),
        "{}",
        report.stdout
    );
    github.emulator.assert_conformant();
}

/// Rate limits (primary and secondary) and 502/503 answers on the way: the
/// merge waits them out inside its timeout, each retry is a warning on
/// stderr, and the evidence counts them.
#[test]
fn rate_limits_and_bad_gateways_are_retried_logged_and_counted() {
    let github = Github::new();
    github.plan("merge.yaml", &merge_plan(""));
    github
        .emulator
        .set_faults(plangate_github_emulator::Faults {
            primary_rate_limit: 1,
            secondary_rate_limit: 1,
            bad_gateway: 1,
            service_unavailable: 1,
            ..plangate_github_emulator::Faults::default()
        });
    let run = github.run(["run", "merge.yaml"]);
    run.assert_code(0);
    let warnings: Vec<&str> = run
        .stderr
        .lines()
        .filter(|line| {
            line.starts_with("warning: GitHub answered ") && line.contains("; retrying in ")
        })
        .collect();
    assert_eq!(warnings.len(), 4, "{}", run.stderr);
    for reason in [
        "403 (primary-rate-limit: API rate limit exceeded",
        "403 (secondary-rate-limit: You have exceeded a secondary rate limit",
        "502 (server-error",
        "503 (server-error",
    ] {
        assert!(run.stderr.contains(reason), "{reason}: {}", run.stderr);
    }
    assert!(
        !run.stderr.lines().any(|line| line.starts_with("error:")),
        "no false alarm: {}",
        run.stderr
    );
    let report = github.run(["report"]);
    assert!(
        report.stdout.contains("4 GitHub request(s) retried"),
        "{}",
        report.stdout
    );
    assert_eq!(github.emulator.merges(REPO, 1), 1);
    github.emulator.assert_conformant();
}

/// A local clone of the GitOps repository in the workspace, with an identity.
fn clone_into(github: &Github, folder: &str) -> Repository {
    let path = github.workspace.path().join(folder);
    let mut callbacks = git2::RemoteCallbacks::new();
    callbacks.credentials(|_, _, _| git2::Cred::userpass_plaintext("x-access-token", TOKEN));
    let mut fetch = git2::FetchOptions::new();
    fetch.remote_callbacks(callbacks);
    let repository = git2::build::RepoBuilder::new()
        .fetch_options(fetch)
        .branch("release/next")
        .clone(&github.emulator.git_url(REPO), &path)
        .expect("the clone works");
    let mut config = repository.config().expect("a config");
    config.set_str("user.name", "Dev").expect("a name");
    config
        .set_str("user.email", "dev@example.com")
        .expect("an email");
    repository
}

/// Commit, tag and push with the git executor, then a failing task: the
/// run's rollback reverts the commit, deletes the tag and moves the pushed
/// branch back on the remote.
#[test]
fn git_commit_tag_and_push_are_rolled_back_automatically() {
    let github = Github::new();
    let _clone = clone_into(&github, "gitops");
    github
        .workspace
        .write("gitops/clusters/dev/web.yaml", "replicas: 2\n");
    let remote_before = github
        .emulator
        .branch_sha(REPO, "release/next")
        .expect("the release branch");
    github.plan(
        "git.yaml",
        "version: 1\nname: git-ops\npolicy: {max_risk: medium, require_rollback: medium, on_failure: rollback-run, concurrency: 1}\ndefaults: {timeout: 1m}\nphases:\n  - id: publish\n    tasks:\n      - id: commit\n        risk: medium\n        run: {git: {op: commit, repo: gitops, message: 'Scale web to 2'}}\n        rollback: auto\n      - id: tag\n        risk: medium\n        needs: [commit]\n        run: {git: {op: tag, repo: gitops, tag: v1.2.0, message: 'Release 1.2.0'}}\n        rollback: auto\n      - id: push\n        risk: medium\n        needs: [tag]\n        run: {git: {op: push, repo: gitops, force_rollback: true}}\n        rollback: auto\n      - id: smoke-test\n        risk: low\n        needs: [push]\n        run: {shell: [sh, -c, 'echo smoke test failed >&2; exit 1']}\n",
    );
    let run = github.run(["run", "git.yaml"]);
    assert_ne!(run.code, 0, "{}", run.stderr);
    let status = github.workspace.status();
    for id in ["commit", "tag", "push"] {
        assert_eq!(task(&status, id)["state"], "rolled-back", "{status:#}");
    }
    // The remote is back where it was; the tag is gone; the commit is reverted.
    assert_eq!(
        github.emulator.branch_sha(REPO, "release/next").as_deref(),
        Some(remote_before.as_str())
    );
    let local = Repository::open(github.workspace.path().join("gitops")).expect("the clone");
    assert!(
        local.find_reference("refs/tags/v1.2.0").is_err(),
        "the tag is deleted"
    );
    let head = local
        .head()
        .expect("a head")
        .peel_to_commit()
        .expect("a commit");
    assert!(
        head.message()
            .unwrap_or_default()
            .starts_with("Revert \"Scale web to 2\""),
        "{:?}",
        head.message()
    );
    assert!(
        !github
            .workspace
            .path()
            .join("gitops/clusters/dev/web.yaml")
            .exists()
    );
    let written = github.everything_written(&[&run]);
    assert!(!contains(&written, TOKEN), "the token leaked");
}

/// A push whose remote branch moved since (someone else pushed): the
/// rollback refuses to move it back, names both shas, and leaves it alone.
#[test]
fn a_push_rollback_refuses_when_the_remote_moved_since() {
    let github = Github::new();
    let _clone = clone_into(&github, "gitops");
    github
        .workspace
        .write("gitops/clusters/dev/web.yaml", "replicas: 2\n");
    github.plan(
        "git.yaml",
        "version: 1\nname: git-push\npolicy: {max_risk: medium, require_rollback: medium, concurrency: 1}\ndefaults: {timeout: 1m}\nphases:\n  - id: publish\n    tasks:\n      - id: commit\n        risk: medium\n        run: {git: {op: commit, repo: gitops, message: 'Scale web to 2'}}\n        rollback: auto\n      - id: push\n        risk: medium\n        needs: [commit]\n        run: {git: {op: push, repo: gitops, force_rollback: true}}\n        rollback: auto\n",
    );
    github.run(["run", "git.yaml"]).assert_code(0);
    let pushed = github
        .emulator
        .branch_sha(REPO, "release/next")
        .expect("the release branch");
    let moved = github
        .emulator
        .commit(
            REPO,
            "release/next",
            &[(
                "CHANGES.md",
                Some("# Changes\n\n- Someone else's change.\n"),
            )],
            "someone else pushed",
        )
        .expect("another push");
    assert_ne!(moved, pushed);
    let rollback = github.run([
        "rollback",
        github.workspace.status()["run"].as_str().expect("a run"),
    ]);
    assert_ne!(rollback.code, 0, "{}", rollback.stderr);
    let report = github.run(["report"]);
    assert!(
        report.stdout.contains(&pushed[..7]) && report.stdout.contains(&moved[..7]),
        "{}",
        report.stdout
    );
    assert_eq!(
        github.emulator.branch_sha(REPO, "release/next").as_deref(),
        Some(moved.as_str()),
        "the remote is untouched"
    );
}
