use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use plangate_executors::{
    ChangeKind, Executor, ExecutorError, Executors, Observation, OutcomeStatus, ShellExecutor,
};
use plangate_plans::{
    Action, ActionSpec, ExecutorKind, Rollback,
    action::{GitAction, GitOp},
};

use crate::support::{ctx, guarded, sh, shell, with_cwd, with_env};

#[tokio::test]
async fn exit_zero_succeeds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let outcome = ShellExecutor::new()
        .apply(&shell(&["true"]), &ctx(dir.path()))
        .await
        .expect("runs");
    assert_eq!(outcome.status, OutcomeStatus::Succeeded);
    assert_eq!(outcome.exit_code, Some(0));
    assert_eq!(outcome.signal, None);
    assert_eq!(outcome.command, "true");
    assert_eq!(outcome.evidence, None);
    assert!(!outcome.leaked_processes);
}

#[tokio::test]
async fn nonzero_exit_fails_with_its_code() {
    let dir = tempfile::tempdir().expect("tempdir");
    let outcome = ShellExecutor::new()
        .apply(&sh("exit 7", &[]), &ctx(dir.path()))
        .await
        .expect("runs");
    assert_eq!(outcome.status, OutcomeStatus::Failed);
    assert_eq!(outcome.exit_code, Some(7));
    assert_eq!(outcome.command, "sh -c 'exit 7' sh");
}

#[tokio::test]
async fn stdout_and_stderr_are_captured_separately() {
    let dir = tempfile::tempdir().expect("tempdir");
    let outcome = ShellExecutor::new()
        .verify(
            &sh("echo to-out; echo to-err >&2; echo more-out", &[]),
            &ctx(dir.path()),
        )
        .await
        .expect("runs");
    assert_eq!(outcome.stdout_tail, "to-out\nmore-out\n");
    assert_eq!(outcome.stderr_tail, "to-err\n");
    assert!(!outcome.stdout_truncated);
    assert!(!outcome.stderr_truncated);
}

/// Ten megabytes on each stream at once: the child would block on a full
/// pipe if either stream were not drained concurrently, and only the tails
/// are kept.
#[tokio::test]
async fn chatty_child_keeps_only_the_tails() {
    let dir = tempfile::tempdir().expect("tempdir");
    let script = "(yes err | head -c 10000000 >&2) & yes | head -c 10000000; wait";
    let outcome = guarded(
        "the chatty child",
        ShellExecutor::new().apply(&sh(script, &[]), &ctx(dir.path()).with_output_limit(4096)),
    )
    .await
    .expect("runs");
    assert_eq!(outcome.status, OutcomeStatus::Succeeded);
    assert!(outcome.stdout_truncated);
    assert!(outcome.stderr_truncated);
    assert_eq!(outcome.stdout_tail, "y\n".repeat(2048));
    assert_eq!(outcome.stderr_tail, "err\n".repeat(1024));
}

#[tokio::test]
async fn default_output_limit_is_64_kib() {
    let dir = tempfile::tempdir().expect("tempdir");
    let outcome = ShellExecutor::new()
        .apply(&sh("yes | head -c 1000000", &[]), &ctx(dir.path()))
        .await
        .expect("runs");
    assert!(outcome.stdout_truncated);
    assert_eq!(outcome.stdout_tail.len(), 64 * 1024);
}

#[tokio::test]
async fn env_cwd_and_plangate_variables_reach_the_child() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("sub dir")).expect("mkdir");
    let action = with_cwd(
        with_env(
            sh(
                r#"pwd -P; printf '%s\n' "$GREETING" "$PLANGATE_RUN_ID" "$PLANGATE_TASK_ID" "$PLANGATE_ATTEMPT""#,
                &[],
            ),
            &[("GREETING", "hello world"), ("PLANGATE_ATTEMPT", "spoofed")],
        ),
        "sub dir",
    );
    let outcome = ShellExecutor::new()
        .apply(&action, &ctx(dir.path()).with_attempt(3))
        .await
        .expect("runs");
    let cwd = dir
        .path()
        .join("sub dir")
        .canonicalize()
        .expect("canonical path");
    assert_eq!(
        outcome.stdout_tail,
        format!("{}\nhello world\nrun-1\ntask-1\n3\n", cwd.display())
    );
}

#[tokio::test]
async fn the_environment_is_inherited() {
    let dir = tempfile::tempdir().expect("tempdir");
    let outcome = ShellExecutor::new()
        .apply(&sh(r#"printf %s "$PATH""#, &[]), &ctx(dir.path()))
        .await
        .expect("runs");
    assert_eq!(
        outcome.stdout_tail,
        std::env::var("PATH").expect("PATH is set for tests")
    );
}

/// Arguments reach the program byte for byte: nothing is split, expanded or
/// unquoted, because no shell is involved.
#[tokio::test]
async fn argv_is_passed_verbatim() {
    let dir = tempfile::tempdir().expect("tempdir");
    let arguments = [
        "two words",
        "it's",
        r#""double""#,
        "$HOME",
        "*",
        "",
        "back\\slash",
        "semi;colon && true",
    ];
    let mut argv = vec!["printf", "[%s]\n"];
    argv.extend(arguments);
    let outcome = ShellExecutor::new()
        .apply(&shell(&argv), &ctx(dir.path()))
        .await
        .expect("runs");
    let expected: String = arguments
        .iter()
        .map(|arg| ["[", arg, "]\n"].concat())
        .collect();
    assert_eq!(outcome.stdout_tail, expected);
    assert_eq!(
        outcome.command,
        r#"printf '[%s]
' 'two words' 'it'\''s' '"double"' '$HOME' '*' '' 'back\slash' 'semi;colon && true'"#
    );
}

#[tokio::test]
async fn missing_program_is_a_spawn_error_naming_the_command() {
    let dir = tempfile::tempdir().expect("tempdir");
    let error = ShellExecutor::new()
        .apply(
            &shell(&["plangate-no-such-program", "--flag"]),
            &ctx(dir.path()),
        )
        .await
        .expect_err("nothing to run");
    let ExecutorError::Spawn {
        command, source, ..
    } = &error
    else {
        panic!("expected a spawn error, got {error:?}");
    };
    assert_eq!(command, "plangate-no-such-program --flag");
    assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
    assert_eq!(
        error.to_string(),
        format!(
            "failed to spawn `plangate-no-such-program --flag` in `{}`",
            dir.path().display()
        )
    );
    assert!(!error.is_retryable());
}

#[tokio::test]
async fn missing_working_directory_is_a_spawn_error_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let error = ShellExecutor::new()
        .apply(&with_cwd(shell(&["true"]), "absent"), &ctx(dir.path()))
        .await
        .expect_err("no such folder");
    let ExecutorError::Spawn { cwd, .. } = &error else {
        panic!("expected a spawn error, got {error:?}");
    };
    assert_eq!(cwd, &dir.path().join("absent"));
}

#[tokio::test]
async fn preview_describes_without_running() {
    let dir = tempfile::tempdir().expect("tempdir");
    let preview = ShellExecutor::new()
        .preview(&shell(&["touch", "made by preview"]), &ctx(dir.path()))
        .await
        .expect("previews");
    assert_eq!(preview.summary, "would run `touch 'made by preview'`");
    assert_eq!(preview.changes.len(), 1);
    assert_eq!(preview.changes[0].change, ChangeKind::Unknown);
    assert_eq!(preview.changes[0].object, "touch 'made by preview'");
    assert!(!dir.path().join("made by preview").exists());
}

#[tokio::test]
async fn explicit_rollback_runs_its_action() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("made"), "").expect("write");
    let run = shell(&["touch", "made"]);
    let rollback = Rollback::Action(Box::new(shell(&["rm", "made"])));
    let outcome = ShellExecutor::new()
        .rollback(&rollback, &run, None, &ctx(dir.path()))
        .await
        .expect("runs");
    assert_eq!(outcome.status, OutcomeStatus::Succeeded);
    assert!(!dir.path().join("made").exists());
}

#[tokio::test]
async fn auto_rollback_is_unsupported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let error = ShellExecutor::new()
        .rollback(&Rollback::Auto, &shell(&["true"]), None, &ctx(dir.path()))
        .await
        .expect_err("shell has no inverse");
    assert!(matches!(
        error,
        ExecutorError::UnsupportedRollback {
            kind: ExecutorKind::Shell
        }
    ));
}

#[tokio::test]
async fn observe_cannot_know() {
    let dir = tempfile::tempdir().expect("tempdir");
    let observation = ShellExecutor::new()
        .observe(&shell(&["true"]), None, &ctx(dir.path()))
        .await
        .expect("observes");
    assert_eq!(observation, Observation::Unknown);
}

#[tokio::test]
async fn actions_of_other_kinds_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let git = Action {
        instance: None,
        spec: ActionSpec::Git(Box::new(GitAction {
            op: GitOp::Commit,
            repo: ".".to_owned(),
            message: Some("m".to_owned()),
            paths: Vec::new(),
            branch: None,
            tag: None,
            from: None,
            remote: None,
            refspec: None,
            url: None,
            token_env: None,
            force_rollback: false,
        })),
    };
    let error = ShellExecutor::new()
        .apply(&git, &ctx(dir.path()))
        .await
        .expect_err("not a shell action");
    assert_eq!(
        error.to_string(),
        "the `shell` executor cannot run a `git` action"
    );
}

/// Shell actions have nothing to undo automatically, so they never call the
/// checkpoint.
#[tokio::test]
async fn shell_records_no_evidence() {
    let dir = tempfile::tempdir().expect("tempdir");
    let called = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&called);
    let ctx = ctx(dir.path()).with_checkpoint(move |_| {
        flag.store(true, Ordering::SeqCst);
        async { Ok::<(), String>(()) }
    });
    let outcome = ShellExecutor::new()
        .apply(&shell(&["true"]), &ctx)
        .await
        .expect("runs");
    assert_eq!(outcome.evidence, None);
    assert!(!called.load(Ordering::SeqCst));
}

#[tokio::test]
async fn the_registry_dispatches_by_kind() {
    let dir = tempfile::tempdir().expect("tempdir");
    let action = shell(&["true"]);
    let executor = Executors::with_defaults()
        .for_action(&action)
        .expect("shell is built in");
    let outcome = executor
        .apply(&action, &ctx(dir.path()))
        .await
        .expect("runs");
    assert!(outcome.succeeded());
}
