//! Secrets never leave the process: a plan's `secrets:` and every variable
//! with a secret-looking name are planted in the environment, printed by
//! actions, verifies and rollbacks on stdout and stderr, and carried into a
//! failure; then every output plangate makes is searched for them.

use std::os::unix::fs::PermissionsExt as _;

use crate::common::Workspace;

/// The planted values; none may appear anywhere plangate writes.
const SECRETS: [(&str, &str); 3] = [
    // Named by the plan's `secrets:`.
    ("DEPLOY_KEY", "hunter2-deploy-key"),
    // Secret-looking names, not listed by the plan.
    ("API_TOKEN", "tok-0123456789abcdef"),
    ("DB_PASSWORD", "correct horse battery staple"),
];

const PLAN: &str = r#"version: 1
name: secrets
secrets: [DEPLOY_KEY]
policy: {require_rollback: low, on_failure: rollback-phase, concurrency: 1}
defaults: {retries: 1, retry_backoff: 10ms}
phases:
  - id: one
    tasks:
      - id: print
        risk: low
        run: {shell: [sh, -c, 'echo "key=$DEPLOY_KEY token=$API_TOKEN"; echo "password=$DB_PASSWORD" >&2']}
        verify: {shell: [sh, -c, 'echo "verified with $DEPLOY_KEY"']}
        rollback: {shell: [sh, -c, 'echo "undo with $API_TOKEN" >&2']}
      - id: fail
        risk: low
        needs: [print]
        run: {shell: [sh, -c, 'echo "cannot log in with $DB_PASSWORD / $DEPLOY_KEY" >&2; exit 3']}
        rollback: {shell: [sh, -c, 'echo "nothing to undo for $DEPLOY_KEY"']}
"#;

/// Runs `args` with the secrets in the environment; returns stdout + stderr.
fn output(workspace: &Workspace, args: &[&str]) -> (Option<i32>, String) {
    let mut command = workspace.command(args);
    for (name, value) in SECRETS {
        command.env(name, value);
    }
    let output = command.output().expect("plangate runs");
    (
        output.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

#[track_caller]
fn assert_no_secret(what: &str, bytes: &[u8]) {
    for (name, value) in SECRETS {
        assert!(
            !bytes
                .windows(value.len())
                .any(|window| window == value.as_bytes()),
            "the value of ${name} is in {what}:\n{}",
            String::from_utf8_lossy(bytes)
        );
    }
}

#[test]
fn a_planted_secret_appears_in_no_output_report_log_or_state_file() {
    let workspace = Workspace::new();
    workspace.write("plan.yaml", PLAN);
    let mut seen = Vec::new();
    for args in [
        &["run", "plan.yaml", "--verbose"][..],
        &[
            "run",
            "plan.yaml",
            "--new-run",
            "--log-format",
            "json",
            "--verbose",
        ],
    ] {
        let (code, text) = output(&workspace, args);
        assert_eq!(code, Some(1), "the run fails at `fail`\n{text}");
        assert_no_secret(&args.join(" "), text.as_bytes());
        seen.push(text);
    }
    for args in [
        &["status"][..],
        &["status", "--format", "json"],
        &["runs"],
        &["report"],
        &["report", "--format", "json"],
        &["report", "--format", "html"],
        &["plan", "plan.yaml"],
        &["plan", "plan.yaml", "--format", "json"],
        &["plan", "plan.yaml", "--format", "html"],
        &["run", "plan.yaml", "--dry-run", "--preview"],
        &["graph", "plan.yaml"],
        &["doctor"],
    ] {
        let (code, text) = output(&workspace, args);
        assert_eq!(code, Some(0), "{}\n{text}", args.join(" "));
        assert_no_secret(&args.join(" "), text.as_bytes());
        seen.push(text);
    }
    // The actions did print them: the redaction is what kept them out.
    let all = seen.concat();
    assert!(all.contains("key=[REDACTED] token=[REDACTED]"), "{all}");
    assert!(all.contains("password=[REDACTED]"), "{all}");
    assert!(
        all.contains("cannot log in with [REDACTED] / [REDACTED]"),
        "{all}"
    );

    let state = workspace.path().join(".plangate");
    for entry in std::fs::read_dir(&state).expect("the state folder exists") {
        let path = entry.expect("an entry").path();
        let bytes = std::fs::read(&path).expect("the file can be read");
        assert_no_secret(&path.display().to_string(), &bytes);
    }
    let mode = std::fs::metadata(state.join("state.db"))
        .expect("the state file exists")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "the state file is private: {mode:o}");
}
