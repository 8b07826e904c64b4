//! The `kube-emulator` binary: flag parsing, startup line, signal handling.
//!
//! `kube-emulator [--port N] [--kubeconfig PATH] [--context NAME] [--rollout-delay 1s]
//! [--progress-deadline 5s]` starts the emulator, writes the kubeconfig when asked, prints
//! exactly one line, `kube-emulator listening on http://127.0.0.1:PORT`, to stdout (tests read
//! it to learn the port), and runs until SIGTERM or Ctrl-C. Logs go to stderr, filtered by
//! `KUBE_EMULATOR_LOG` (e.g. `debug` to see every request).

use crate::{Emulator, EmulatorConfig};
use std::{io::Write, path::PathBuf, process::ExitCode, time::Duration};

const USAGE: &str = "usage: kube-emulator [--port N] [--kubeconfig PATH] [--context NAME] [--rollout-delay DURATION] [--progress-deadline DURATION]";

#[derive(Debug)]
struct Arguments {
    config: EmulatorConfig,
    kubeconfig: Option<PathBuf>,
    context: String,
}

fn duration(flag: &str, value: &str) -> Result<Duration, String> {
    humantime::parse_duration(value)
        .map_err(|error| format!("invalid `{flag}` value `{value}`: {error}"))
}

fn parse(arguments: impl IntoIterator<Item = String>) -> Result<Option<Arguments>, String> {
    let mut parsed = Arguments {
        config: EmulatorConfig::default(),
        kubeconfig: None,
        context: "kube-emulator".into(),
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
            "--kubeconfig" => parsed.kubeconfig = Some(PathBuf::from(value()?)),
            "--context" => parsed.context = value()?,
            "--rollout-delay" => {
                parsed.config.rollout_delay = duration("--rollout-delay", &value()?)?;
            }
            "--progress-deadline" => {
                parsed.config.progress_deadline = duration("--progress-deadline", &value()?)?;
            }
            other => return Err(format!("unexpected argument `{other}`")),
        }
    }
    Ok(Some(parsed))
}

fn report(message: &str) -> ExitCode {
    let _ = writeln!(std::io::stderr(), "error: {message}\n\n{USAGE}");
    ExitCode::from(2)
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
    let filter = tracing_subscriber::EnvFilter::try_from_env("KUBE_EMULATOR_LOG")
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
                "error: failed to start the tokio runtime\n  caused by: {error}"
            );
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(async move {
        let emulator = match Emulator::start(arguments.config).await {
            Ok(emulator) => emulator,
            Err(error) => {
                let _ = writeln!(std::io::stderr(), "error: {error}");
                let mut source = std::error::Error::source(&error);
                while let Some(cause) = source {
                    let _ = writeln!(std::io::stderr(), "  caused by: {cause}");
                    source = cause.source();
                }
                return ExitCode::FAILURE;
            }
        };
        if let Some(path) = &arguments.kubeconfig
            && let Err(error) = emulator.write_kubeconfig(path, &arguments.context)
        {
            let _ = writeln!(std::io::stderr(), "error: {error}");
            return ExitCode::FAILURE;
        }
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "kube-emulator listening on {}", emulator.url());
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
            "--kubeconfig=/tmp/k",
            "--context",
            "dev",
            "--rollout-delay",
            "1s",
        ]))
        .expect("valid")
        .expect("not help");
        assert_eq!(parsed.config.port, 8080);
        assert_eq!(parsed.kubeconfig, Some(PathBuf::from("/tmp/k")));
        assert_eq!(parsed.context, "dev");
        assert_eq!(parsed.config.rollout_delay, Duration::from_secs(1));
        assert!(parse(args(&["--bogus"])).is_err());
        assert!(parse(args(&["--port"])).is_err());
        assert!(parse(args(&["--help"])).expect("valid").is_none());
    }
}
