//! The `github-emulator` binary: flag parsing, seeding, startup line, signal handling.
//!
//! `github-emulator [--port N] [--root DIR] [--token T] [--ci-check NAME]
//! [--mergeable-delay N] [--seed-gitops]` starts the emulator with one token (default
//! `emulator-token`, user `plangate-bot`, every repository), seeds `platform/gitops` when asked,
//! prints exactly one line, `github-emulator listening on http://127.0.0.1:PORT`, to stdout
//! (tests read it to learn the port), and runs until SIGTERM or Ctrl-C. Logs go to stderr,
//! filtered by `GITHUB_EMULATOR_LOG`.

use crate::{
    AdminError, GithubEmulator, GithubEmulatorConfig, Protection, ReviewState, TokenScope,
};
use std::{io::Write, path::PathBuf, process::ExitCode};

const USAGE: &str = "usage: github-emulator [--port N] [--root DIR] [--token TOKEN] [--ci-check NAME] [--mergeable-delay N] [--seed-gitops]";

/// The login of the binary's token.
const LOGIN: &str = "plangate-bot";

#[derive(Debug)]
struct Arguments {
    config: GithubEmulatorConfig,
    token: String,
    seed_gitops: bool,
}

fn parse(arguments: impl IntoIterator<Item = String>) -> Result<Option<Arguments>, String> {
    let mut parsed = Arguments {
        config: GithubEmulatorConfig::default(),
        token: "emulator-token".into(),
        seed_gitops: false,
    };
    let mut arguments = arguments.into_iter();
    while let Some(argument) = arguments.next() {
        let (flag, inline) = match argument.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                (flag.to_owned(), Some(value.to_owned()))
            }
            _ => (argument.clone(), None),
        };
        if flag == "--help" || flag == "-h" {
            return Ok(None);
        }
        let mut value = || {
            inline
                .clone()
                .or_else(|| arguments.next())
                .ok_or_else(|| format!("`{flag}` needs a value"))
        };
        match flag.as_str() {
            "--port" => {
                let text = value()?;
                parsed.config.port = text
                    .parse()
                    .map_err(|_| format!("invalid `--port` value `{text}`"))?;
            }
            "--root" => parsed.config.root = Some(PathBuf::from(value()?)),
            "--token" => {
                parsed.token = value()?;
                if parsed.token.is_empty() {
                    return Err("`--token` must not be empty".into());
                }
            }
            "--ci-check" => parsed.config.ci_check = Some(value()?),
            "--mergeable-delay" => {
                let text = value()?;
                parsed.config.mergeable_delay = text
                    .parse()
                    .map_err(|_| format!("invalid `--mergeable-delay` value `{text}`"))?;
            }
            "--seed-gitops" if inline.is_none() => parsed.seed_gitops = true,
            other => return Err(format!("unexpected argument `{other}`")),
        }
    }
    Ok(Some(parsed))
}

/// Seeds `platform/gitops`: a README and `clusters/dev/` on `main`, branch `release/next`
/// with one commit, pull request #1 `release/next` into `main` titled "Release next", an
/// approval from `reviewer`, and protection on `main` requiring check `ci` and one approval.
pub(crate) fn seed_gitops(emulator: &GithubEmulator) -> Result<(), AdminError> {
    const REPO: &str = "platform/gitops";
    emulator.create_repo(REPO, "main")?;
    emulator.commit(
        REPO,
        "main",
        &[
            ("README.md", Some("# gitops\n\nDesired state of the platform's clusters.\n")),
            (
                "clusters/dev/kustomization.yaml",
                Some("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: []\n"),
            ),
        ],
        "Add the dev cluster",
    )?;
    emulator.commit(
        REPO,
        "release/next",
        &[("CHANGES.md", Some("# Changes\n\n- Next release.\n"))],
        "Describe the next release",
    )?;
    let number = emulator.create_pull(REPO, "release/next", "main", "Release next", false)?;
    emulator.add_review(REPO, number, "reviewer", ReviewState::Approved)?;
    emulator.set_protection(
        REPO,
        "main",
        Protection {
            required_checks: vec!["ci".into()],
            required_approvals: 1,
            strict: false,
        },
    )
}

fn report(message: &str) -> ExitCode {
    let _ = writeln!(std::io::stderr(), "error: {message}\n\n{USAGE}");
    ExitCode::from(2)
}

fn report_error(error: &dyn std::error::Error) -> ExitCode {
    let _ = writeln!(std::io::stderr(), "error: {error}");
    let mut source = error.source();
    while let Some(cause) = source {
        let _ = writeln!(std::io::stderr(), "  caused by: {cause}");
        source = cause.source();
    }
    ExitCode::FAILURE
}

async fn terminated() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = terminate.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Runs the binary; returns its exit code (0 after a signal, 1 on startup failure, 2 on
/// usage errors).
pub fn main_impl() -> ExitCode {
    let arguments = match parse(std::env::args().skip(1)) {
        Ok(Some(arguments)) => arguments,
        Ok(None) => {
            let _ = writeln!(std::io::stdout(), "{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => return report(&message),
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("GITHUB_EMULATOR_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            let _ = writeln!(
                std::io::stderr(),
                "error: failed to start the tokio runtime"
            );
            return report_error(&error);
        }
    };
    let code = runtime.block_on(async move {
        let emulator = match GithubEmulator::start(arguments.config).await {
            Ok(emulator) => emulator,
            Err(error) => {
                let _ = writeln!(std::io::stderr(), "error: failed to start the emulator");
                return report_error(&error);
            }
        };
        emulator.add_token(&arguments.token, LOGIN, TokenScope::All);
        if arguments.seed_gitops
            && let Err(error) = seed_gitops(&emulator)
        {
            return report_error(&error);
        }
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(
            stdout,
            "github-emulator listening on {}",
            emulator.api_url()
        );
        let _ = stdout.flush();
        drop(stdout);
        terminated().await;
        emulator.shutdown().await;
        ExitCode::SUCCESS
    });
    runtime.shutdown_background();
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn parses_flags() {
        let parsed = parse(args(&[
            "--port",
            "8080",
            "--root=/tmp/r",
            "--token",
            "t",
            "--ci-check",
            "ci",
            "--mergeable-delay",
            "2",
            "--seed-gitops",
        ]))
        .expect("valid")
        .expect("not help");
        assert_eq!(parsed.config.port, 8080);
        assert_eq!(parsed.config.root, Some(PathBuf::from("/tmp/r")));
        assert_eq!(parsed.token, "t");
        assert_eq!(parsed.config.ci_check.as_deref(), Some("ci"));
        assert_eq!(parsed.config.mergeable_delay, 2);
        assert!(parsed.seed_gitops);
        assert!(parse(args(&["--bogus"])).is_err());
        assert!(parse(args(&["--port"])).is_err());
        assert!(parse(args(&["--mergeable-delay", "x"])).is_err());
        assert!(parse(args(&["--help"])).expect("valid").is_none());
    }
}
