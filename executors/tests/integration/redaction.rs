use std::sync::Arc;

use plangate_executors::{Executor, Redactor, ShellExecutor};

use crate::support::{ctx, sh, shell, with_env};

const SECRET: &str = "tok-12345-secret";

#[tokio::test]
async fn secret_env_value_is_redacted_from_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    let action = with_env(
        sh(
            r#"echo "token=$DEPLOY_TOKEN"; echo "$DEPLOY_TOKEN" >&2"#,
            &[],
        ),
        &[("DEPLOY_TOKEN", SECRET)],
    );
    let outcome = ShellExecutor::new()
        .apply(&action, &ctx(dir.path()))
        .await
        .expect("runs");
    assert_eq!(outcome.stdout_tail, "token=[REDACTED]\n");
    assert_eq!(outcome.stderr_tail, "[REDACTED]\n");
}

#[tokio::test]
async fn secret_is_redacted_from_the_command_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let action = with_env(
        shell(&[
            "echo",
            "--header",
            &format!("Authorization: Bearer {SECRET}"),
        ]),
        &[("API_TOKEN", SECRET)],
    );
    let outcome = ShellExecutor::new()
        .apply(&action, &ctx(dir.path()))
        .await
        .expect("runs");
    assert_eq!(
        outcome.command,
        "echo --header 'Authorization: Bearer [REDACTED]'"
    );
    assert_eq!(
        outcome.stdout_tail,
        "--header Authorization: Bearer [REDACTED]\n"
    );
    let preview = ShellExecutor::new()
        .preview(&action, &ctx(dir.path()))
        .await
        .expect("previews");
    assert!(!preview.summary.contains(SECRET), "{}", preview.summary);
}

/// A variable listed in the plan's `secrets:` is redacted whatever its name.
#[tokio::test]
async fn listed_secret_is_redacted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let redactor = Redactor::builder().secret_names(["DB_URL"]).build();
    let action = with_env(
        sh(r#"echo "connecting to $DB_URL""#, &[]),
        &[("DB_URL", "postgres://app:pw@db/app")],
    );
    let outcome = ShellExecutor::new()
        .apply(&action, &ctx(dir.path()).with_redactor(Arc::new(redactor)))
        .await
        .expect("runs");
    assert_eq!(outcome.stdout_tail, "connecting to [REDACTED]\n");
}
