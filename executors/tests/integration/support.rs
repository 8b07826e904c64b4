use std::{
    collections::BTreeMap,
    future::Future,
    path::{Path, PathBuf},
    sync::mpsc,
    time::Duration,
};

use nix::{
    errno::Errno,
    sys::{signal::kill, stat::Mode},
    unistd::{Pid, mkfifo},
};
use plangate_executors::ActionContext;
use plangate_plans::{Action, ActionSpec, TaskId, action::ShellAction};
use tokio::sync::oneshot;

/// How long a test waits for something that should happen at once before
/// failing instead of hanging.
pub(crate) const GUARD: Duration = Duration::from_secs(30);

/// A `shell` action running `argv`.
pub(crate) fn shell(argv: &[&str]) -> Action {
    Action {
        instance: None,
        spec: ActionSpec::Shell(ShellAction {
            argv: argv.iter().map(|arg| (*arg).to_owned()).collect(),
            env: BTreeMap::new(),
            cwd: None,
        }),
    }
}

/// A `shell` action running `sh -c script sh args...`, so the script sees
/// `parameters` as `$1`, `$2`, ...
pub(crate) fn sh(script: &str, parameters: &[&Path]) -> Action {
    let mut argv = vec!["sh", "-c", script, "sh"];
    argv.extend(
        parameters
            .iter()
            .map(|arg| arg.to_str().expect("temp paths are UTF-8")),
    );
    shell(&argv)
}

/// `action` with `env` added to its environment.
pub(crate) fn with_env(mut action: Action, env: &[(&str, &str)]) -> Action {
    let ActionSpec::Shell(shell) = &mut action.spec else {
        panic!("not a shell action");
    };
    shell.env.extend(
        env.iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned())),
    );
    action
}

/// `action` with its `cwd` set.
pub(crate) fn with_cwd(mut action: Action, cwd: &str) -> Action {
    let ActionSpec::Shell(shell) = &mut action.spec else {
        panic!("not a shell action");
    };
    shell.cwd = Some(cwd.to_owned());
    action
}

/// A context for attempt 1 of task `task-1` of run `run-1`, based in `dir`.
pub(crate) fn ctx(dir: &Path) -> ActionContext {
    ActionContext::new("run-1", TaskId::new("task-1").expect("valid id"), dir)
}

/// Awaits `future`, failing the test if it takes longer than [`GUARD`].
pub(crate) async fn guarded<F: Future>(what: &str, future: F) -> F::Output {
    tokio::time::timeout(GUARD, future)
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish within {GUARD:?}"))
}

/// Aborts the whole test binary unless dropped within [`GUARD`]: the
/// failure guard of tests that cannot use a tokio timeout because their
/// clock is paused.
pub(crate) struct Watchdog {
    _disarm: mpsc::Sender<()>,
}

pub(crate) fn watchdog(what: &'static str) -> Watchdog {
    let (disarm, disarmed) = mpsc::channel::<()>();
    std::thread::spawn(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) = disarmed.recv_timeout(GUARD) {
            report_hang(what);
            std::process::abort();
        }
    });
    Watchdog { _disarm: disarm }
}

#[expect(
    clippy::print_stderr,
    reason = "the test binary is about to abort; stderr is the only channel left"
)]
fn report_hang(what: &str) {
    eprintln!("{what} did not finish within {GUARD:?}; aborting the test binary");
}

/// A named pipe in a test's temporary folder.
pub(crate) struct Fifo {
    path: PathBuf,
}

impl Fifo {
    pub(crate) fn new(dir: &Path, name: &str) -> Self {
        let path = dir.join(name);
        mkfifo(&path, Mode::S_IRUSR | Mode::S_IWUSR).expect("mkfifo");
        Self { path }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Starts reading the pipe to its end: opening blocks until a writer
    /// opens it, and the end comes when every writer has closed it (or
    /// exited). The read runs on its own thread, so a test that fails never
    /// leaves the runtime waiting for it, and so it does not count as a
    /// blocking task for a paused clock.
    pub(crate) fn read_to_end(&self) -> oneshot::Receiver<String> {
        let (sender, receiver) = oneshot::channel();
        let path = self.path.clone();
        std::thread::spawn(move || {
            let text = std::fs::read_to_string(path).expect("read fifo");
            // The test may have stopped listening; nothing to do then.
            let _ = sender.send(text);
        });
        receiver
    }
}

/// The pid a script wrote.
#[track_caller]
pub(crate) fn parse_pid(text: &str) -> Pid {
    Pid::from_raw(
        text.trim()
            .parse()
            .unwrap_or_else(|_| panic!("`{text}` is not a pid")),
    )
}

/// Asserts that `pid` no longer runs: it does not exist, or it is a zombie
/// (killed, and not yet reaped by pid 1 because its parent is gone).
///
/// Callers first wait for a causal sign of death (a pipe the process held
/// reaching its end). The kernel marks the process dead a moment after it
/// closes its files, so this confirms with a short bounded poll.
#[track_caller]
pub(crate) fn assert_gone(pid: Pid) {
    let start = std::time::Instant::now();
    loop {
        let state = match kill(pid, None) {
            Err(Errno::ESRCH) => return,
            Ok(()) => process_state(pid),
            Err(error) => panic!("kill({pid}, 0) failed: {error}"),
        };
        if matches!(state, Some('Z' | 'X')) || (cfg!(target_os = "linux") && state.is_none()) {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "process {pid} still runs (state {state:?})"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The state letter of `/proc/PID/stat` (`R`, `S`, `Z`, ...), where there is
/// a `/proc`.
fn process_state(pid: Pid) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}
