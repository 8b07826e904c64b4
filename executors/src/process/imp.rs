//! Running one child process to completion under plangate's process policy.
//!
//! Lifecycle of [`run_process`]:
//!
//! ```text
//!  spawn (own process group, stdin null, stdout/stderr piped)
//!    │
//!    ├── drain stdout and stderr concurrently into tail buffers (whole run)
//!    │
//!    ├── child exits ─────────────► wait `leak_timeout` for the pipes to close
//!    │                                 └─ still open: leaked; SIGKILL the group
//!    │
//!    └── cancel / deadline ───────► SIGTERM the group
//!                                    └─ wait `grace_period` (or `force_kill`)
//!                                        └─ anything left: SIGKILL the group
//! ```
//!
//! A [`GroupGuard`] sends SIGKILL to the group if the future is dropped
//! before it finishes: tokio's `kill_on_drop` reaches only the direct child.

use std::{
    collections::BTreeMap,
    future::Future,
    io,
    path::PathBuf,
    pin::pin,
    process::{ExitStatus, Stdio},
    time::Duration,
};

use tokio::{
    io::{AsyncRead, AsyncReadExt},
    process::{Child, Command},
    time::{Instant, sleep, sleep_until, timeout},
};
use tokio_util::sync::CancellationToken;

use super::{
    os::{self, GroupSignal, ProcessGroup},
    quote::quote_command,
    tail::{CapturedOutput, TailBuffer},
};
use crate::{
    context::{SpawnFn, SpawnedGroup},
    outcome::{ActionOutcome, OutcomeStatus},
    redact::Redactor,
};

/// Bytes read from a pipe at a time.
const READ_CHUNK: usize = 8 * 1024;

/// What to run and how to treat it.
#[derive(Clone)]
pub(crate) struct ProcessSpec {
    /// Program and arguments; the program is looked up on `PATH` when it has
    /// no slash. Never passed through a shell.
    pub(crate) argv: Vec<String>,
    /// Variables set on top of the inherited environment.
    pub(crate) env: BTreeMap<String, String>,
    /// Working directory.
    pub(crate) cwd: PathBuf,
    /// Time between SIGTERM and SIGKILL when the process is stopped.
    pub(crate) grace_period: Duration,
    /// How long to wait, once the direct child has exited, for the output
    /// pipes to close before deciding that a leaked descendant holds them.
    pub(crate) leak_timeout: Duration,
    /// Bytes of each stream kept for the outcome (the tail).
    pub(crate) output_limit: usize,
    /// Told of the process group right after the spawn (the action
    /// context's [`on_spawn`](crate::ActionContext::on_spawn)).
    pub(crate) on_spawn: Option<SpawnFn>,
}

impl std::fmt::Debug for ProcessSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessSpec")
            .field("argv", &self.argv)
            .field("cwd", &self.cwd)
            .field("grace_period", &self.grace_period)
            .field("leak_timeout", &self.leak_timeout)
            .field("output_limit", &self.output_limit)
            .field("on_spawn", &self.on_spawn.as_ref().map(|_| "<callback>"))
            .finish_non_exhaustive()
    }
}

/// Why a process could not be run. Neither is retryable as such: a missing
/// program or working directory needs a fix in the plan or on the machine.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SpawnError {
    /// The argv is empty.
    #[error("the argv is empty")]
    EmptyArgv,
    /// The operating system refused to start the program.
    #[error("failed to spawn `{command}` in `{}`", cwd.display())]
    Spawn {
        command: String,
        cwd: PathBuf,
        #[source]
        source: io::Error,
    },
    /// Waiting for the child failed; whether it ran is unknown.
    #[error("failed to wait for `{command}`")]
    Wait {
        command: String,
        #[source]
        source: io::Error,
    },
}

/// How a process ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ProcessOutcome {
    /// Succeeded or failed by exit code, or timed out or cancelled.
    pub(crate) status: OutcomeStatus,
    /// The exit code, when the process exited rather than being killed.
    pub(crate) exit_code: Option<i32>,
    /// The signal that ended the process, when one did.
    pub(crate) signal: Option<i32>,
    /// From spawn to the end of supervision.
    pub(crate) duration: Duration,
    /// The shell-quoted, redacted command line.
    pub(crate) command: String,
    /// The redacted tail of stdout.
    pub(crate) stdout: CapturedOutput,
    /// The redacted tail of stderr.
    pub(crate) stderr: CapturedOutput,
    /// Whether descendants outlived the direct child while holding its
    /// output pipes (they were killed, or abandoned if they escaped the
    /// process group).
    pub(crate) leaked_processes: bool,
}

impl ProcessOutcome {
    /// The outcome as executors report it.
    pub(crate) fn into_action_outcome(self, evidence: Option<serde_json::Value>) -> ActionOutcome {
        ActionOutcome {
            status: self.status,
            exit_code: self.exit_code,
            signal: self.signal,
            duration: self.duration,
            command: self.command,
            stdout_tail: self.stdout.tail,
            stdout_truncated: self.stdout.truncated,
            stderr_head: self.stderr.head,
            stderr_omitted: self.stderr.omitted,
            stderr_tail: self.stderr.tail,
            stderr_truncated: self.stderr.truncated,
            evidence,
            leaked_processes: self.leaked_processes,
        }
    }
}

/// Why supervision stopped the process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StopReason {
    Cancelled,
    TimedOut,
}

impl StopReason {
    fn status(self) -> OutcomeStatus {
        match self {
            StopReason::Cancelled => OutcomeStatus::Cancelled,
            StopReason::TimedOut => OutcomeStatus::TimedOut,
        }
    }
}

/// When supervision stops the process early.
#[derive(Clone, Copy, Debug)]
struct Stops<'a> {
    /// Cancellation: SIGTERM, then SIGKILL after the grace period.
    cancel: &'a CancellationToken,
    /// Skips (or cuts short) the grace period.
    force_kill: &'a CancellationToken,
    /// Deadline: as cancellation, with status timed out.
    deadline: Option<Instant>,
}

impl Stops<'_> {
    fn already(&self) -> Option<StopReason> {
        if self.cancel.is_cancelled() || self.force_kill.is_cancelled() {
            Some(StopReason::Cancelled)
        } else if self
            .deadline
            .is_some_and(|deadline| deadline <= Instant::now())
        {
            Some(StopReason::TimedOut)
        } else {
            None
        }
    }

    async fn deadline(&self) {
        match self.deadline {
            Some(deadline) => sleep_until(deadline).await,
            None => std::future::pending().await,
        }
    }
}

/// Runs `spec` to completion: until it exits, or until `cancel` is
/// cancelled or `deadline` passes, in which case its process group is
/// terminated (SIGTERM, `grace_period`, SIGKILL). Cancelling `force_kill`
/// skips the rest of the grace period.
///
/// Nothing is spawned when the run is already cancelled or past its
/// deadline; the outcome then says so.
///
/// # Caveats
///
/// Descendants that close or redirect their stdout and stderr (daemons,
/// `nohup cmd >log 2>&1 &`) cannot be told apart from finished ones and
/// survive a successful run, as they do under nextest.
pub(crate) async fn run_process(
    spec: &ProcessSpec,
    cancel: &CancellationToken,
    force_kill: &CancellationToken,
    deadline: Option<Instant>,
    redactor: &Redactor,
) -> Result<ProcessOutcome, SpawnError> {
    let command = quote_command(&spec.argv, redactor);
    let Some((program, args)) = spec.argv.split_first() else {
        return Err(SpawnError::EmptyArgv);
    };
    let stops = Stops {
        cancel,
        force_kill,
        deadline,
    };
    if let Some(reason) = stops.already() {
        tracing::debug!(%command, ?reason, "not spawning: already stopped");
        return Ok(ProcessOutcome {
            status: reason.status(),
            exit_code: None,
            signal: None,
            duration: Duration::ZERO,
            command,
            stdout: CapturedOutput::default(),
            stderr: CapturedOutput::default(),
            leaked_processes: false,
        });
    }

    let mut builder = Command::new(program);
    builder
        .args(args)
        .envs(&spec.env)
        .current_dir(&spec.cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    os::set_own_process_group(&mut builder);

    let started = Instant::now();
    let mut child = builder.spawn().map_err(|source| SpawnError::Spawn {
        command: command.clone(),
        cwd: spec.cwd.clone(),
        source,
    })?;
    let pid = child
        .id()
        .expect("a child that has not been waited for has a pid");
    // Dropped when this function returns: on the normal path after the
    // leader was reaped; on an error path `child` is killed on drop right
    // after.
    let _watched = os::EngineGuard::watch(pid);
    let mut guard = GroupGuard::new(ProcessGroup::of_leader(pid));
    tracing::debug!(%command, pid, "spawned");
    if let Some(on_spawn) = &spec.on_spawn {
        // Committed before the child is waited for: an engine killed from
        // here on leaves a record of the group for `resume` to find.
        let spawned = SpawnedGroup {
            process_group: pid,
            started: os::start_time(pid),
        };
        if let Err(error) = on_spawn(spawned).await {
            tracing::warn!(pid, %error, "failed to record the process group of an action");
        }
    }

    let stdout = child.stdout.take().expect("stdout is piped");
    let stderr = child.stderr.take().expect("stderr is piped");
    let capacity = spec.output_limit.saturating_add(redactor.longest_len());
    let mut stdout_tail = TailBuffer::new(capacity);
    let mut stderr_tail = TailBuffer::new(capacity);
    let supervised = {
        let pipes = async {
            tokio::join!(
                drain(stdout, &mut stdout_tail),
                drain(stderr, &mut stderr_tail)
            );
        };
        supervise(&mut child, guard.group, pipes, spec, stops).await
    };
    let supervised = supervised.map_err(|source| SpawnError::Wait {
        command: command.clone(),
        source,
    })?;
    guard.disarm();

    let exit = supervised.exit;
    let status = match supervised.stop {
        Some(reason) => reason.status(),
        None if exit.success() => OutcomeStatus::Succeeded,
        None => OutcomeStatus::Failed,
    };
    let outcome = ProcessOutcome {
        status,
        exit_code: exit.code(),
        signal: os::exit_signal(exit),
        duration: started.elapsed(),
        command,
        stdout: stdout_tail.finish(spec.output_limit, redactor),
        stderr: stderr_tail.finish(spec.output_limit, redactor),
        leaked_processes: supervised.leaked,
    };
    tracing::debug!(
        command = %outcome.command,
        status = ?outcome.status,
        exit_code = outcome.exit_code,
        signal = outcome.signal,
        leaked = outcome.leaked_processes,
        "process finished",
    );
    Ok(outcome)
}

/// How [`wait_for_recorded_group`] left a process group recorded by an
/// earlier engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordedGroupEnd {
    /// It was not running (any more): nothing was waited for.
    NotRunning,
    /// It was running, and exited on its own before the deadline.
    Exited,
    /// It was still running at the deadline and was terminated (SIGTERM to
    /// the group, the grace period, then SIGKILL).
    Killed,
}

/// How often [`wait_for_recorded_group`] looks at the group.
const RECORDED_GROUP_POLL: Duration = Duration::from_millis(20);

/// Waits for a process group that an earlier, killed engine spawned (as its
/// attempt recorded it) to end, up to `deadline`; then terminates it:
/// SIGTERM to the group, `grace_period`, SIGKILL. Used by `resume` before it
/// reconciles the attempt, so that an action never runs twice at once.
///
/// The group is not a child of this process, so it is polled. A leader whose
/// start time differs from the recorded one is another process that reused
/// the pid, and is left alone.
pub async fn wait_for_recorded_group(
    group: SpawnedGroup,
    deadline: Instant,
    grace_period: Duration,
) -> RecordedGroupEnd {
    let running = || os::recorded_group_is_running(group.process_group, group.started);
    if !running() {
        return RecordedGroupEnd::NotRunning;
    }
    while Instant::now() < deadline {
        sleep(RECORDED_GROUP_POLL.min(deadline - Instant::now())).await;
        if !running() {
            return RecordedGroupEnd::Exited;
        }
    }
    let leader = ProcessGroup::of_leader(group.process_group);
    leader.signal(GroupSignal::Terminate);
    let grace_end = Instant::now() + grace_period;
    let group_id = group.process_group;
    while Instant::now() < grace_end && os::has_live_members(group_id) {
        sleep(RECORDED_GROUP_POLL).await;
    }
    if os::has_live_members(group_id) {
        leader.signal(GroupSignal::Kill);
        while os::has_live_members(group_id) {
            sleep(RECORDED_GROUP_POLL).await;
        }
    }
    RecordedGroupEnd::Killed
}

/// What [`supervise`] observed.
struct Supervised {
    exit: ExitStatus,
    stop: Option<StopReason>,
    leaked: bool,
}

/// Waits for the child and its pipes, stopping the group when asked.
///
/// `pipes` completes once both output pipes are closed, that is once every
/// process holding them has exited. It is dropped (abandoning the reads)
/// only if processes outside the group still hold them after SIGKILL.
async fn supervise(
    child: &mut Child,
    group: ProcessGroup,
    pipes: impl Future<Output = ()>,
    spec: &ProcessSpec,
    stops: Stops<'_>,
) -> io::Result<Supervised> {
    let mut pipes = pin!(pipes);
    let mut pipes_closed = false;
    let mut deadline = pin!(stops.deadline());

    let stop = loop {
        tokio::select! {
            biased;
            status = child.wait() => {
                let exit = status?;
                if !pipes_closed {
                    pipes_closed = timeout(spec.leak_timeout, pipes.as_mut()).await.is_ok();
                }
                let leaked = !pipes_closed;
                if leaked {
                    tracing::warn!(pgid = group.id(), "descendants still hold the output pipes after the process exited; killing its group");
                    group.signal(GroupSignal::Kill);
                    finish_pipes(pipes.as_mut(), spec.leak_timeout).await;
                } else if group.has_members()
                    && u32::try_from(group.id()).is_ok_and(os::has_live_members)
                {
                    // Processes that let go of the pipes (output sent
                    // elsewhere) would outlive the action: an action's
                    // processes end with it. One `kill(-pgid, 0)` when the
                    // group is empty, as it nearly always is.
                    tracing::warn!(pgid = group.id(), "the process exited and left processes running in its group; killing its group");
                    group.signal(GroupSignal::Kill);
                }
                return Ok(Supervised { exit, stop: None, leaked });
            }
            () = pipes.as_mut(), if !pipes_closed => pipes_closed = true,
            () = stops.cancel.cancelled() => break StopReason::Cancelled,
            () = stops.force_kill.cancelled() => break StopReason::Cancelled,
            () = &mut deadline => break StopReason::TimedOut,
        }
    };

    tracing::debug!(pgid = group.id(), ?stop, "terminating process group");
    group.signal(GroupSignal::Terminate);
    let mut exit = None;
    let mut grace = pin!(sleep(spec.grace_period));
    while exit.is_none() || !pipes_closed {
        tokio::select! {
            biased;
            status = child.wait(), if exit.is_none() => exit = Some(status?),
            () = pipes.as_mut(), if !pipes_closed => pipes_closed = true,
            () = stops.force_kill.cancelled() => break,
            () = &mut grace => break,
        }
    }
    let (exit, leaked) = match exit {
        Some(exit) if pipes_closed => (exit, false),
        exit => {
            // The grace period is over, or was cut short, and something is
            // left. If the child itself is gone, what is left leaked.
            let exited_early = exit.is_some();
            tracing::debug!(pgid = group.id(), "killing process group");
            group.signal(GroupSignal::Kill);
            let exit = match exit {
                Some(exit) => exit,
                None => child.wait().await?,
            };
            let closed = pipes_closed || finish_pipes(pipes.as_mut(), spec.leak_timeout).await;
            (exit, exited_early || !closed)
        }
    };
    Ok(Supervised {
        exit,
        stop: Some(stop),
        leaked,
    })
}

/// Waits up to `limit` for the pipes to close after the group was killed;
/// `false` means processes that escaped the group still hold them, and their
/// further output is abandoned.
async fn finish_pipes(pipes: impl Future<Output = ()>, limit: Duration) -> bool {
    let closed = timeout(limit, pipes).await.is_ok();
    if !closed {
        tracing::warn!("output pipes still open after killing the process group; abandoning them");
    }
    closed
}

/// Reads `pipe` to its end into `buffer`. A read error ends the capture
/// early (and is logged); it does not fail the action.
async fn drain(mut pipe: impl AsyncRead + Unpin, buffer: &mut TailBuffer) {
    let mut chunk = vec![0; READ_CHUNK];
    loop {
        match pipe.read(&mut chunk).await {
            Ok(0) => break,
            Ok(read) => buffer.push(&chunk[..read]),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => {
                tracing::warn!(%error, "failed to read child output; capture ends here");
                break;
            }
        }
    }
}

/// Kills the process group on drop unless disarmed: the last line of
/// defence when a run is dropped mid-flight (an engine-side timeout, a
/// panic, a shutdown), because tokio's `kill_on_drop` reaches only the
/// direct child.
#[derive(Debug)]
struct GroupGuard {
    group: ProcessGroup,
    armed: bool,
}

impl GroupGuard {
    fn new(group: ProcessGroup) -> Self {
        Self { group, armed: true }
    }

    /// Called once the child has been waited for and its pipes settled.
    fn disarm(&mut self) {
        self.armed = false;
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if self.armed {
            tracing::debug!(
                pgid = self.group.id(),
                "run dropped mid-flight; killing its process group"
            );
            self.group.signal(GroupSignal::Kill);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(argv: &[&str]) -> ProcessSpec {
        ProcessSpec {
            argv: argv.iter().map(|arg| (*arg).to_owned()).collect(),
            env: BTreeMap::new(),
            cwd: std::env::temp_dir(),
            grace_period: Duration::from_secs(5),
            leak_timeout: Duration::from_millis(100),
            output_limit: 64 * 1024,
            on_spawn: None,
        }
    }

    async fn run(spec: &ProcessSpec) -> ProcessOutcome {
        run_process(
            spec,
            &CancellationToken::new(),
            &CancellationToken::new(),
            None,
            &Redactor::default(),
        )
        .await
        .expect("the process starts")
    }

    #[tokio::test]
    async fn empty_argv_is_an_error() {
        let error = run_process(
            &spec(&[]),
            &CancellationToken::new(),
            &CancellationToken::new(),
            None,
            &Redactor::default(),
        )
        .await
        .expect_err("nothing to run");
        assert!(matches!(error, SpawnError::EmptyArgv));
    }

    #[tokio::test]
    async fn already_cancelled_spawns_nothing() {
        let cancel = CancellationToken::new();
        cancel.cancel();
        let marker = tempfile::tempdir().expect("tempdir");
        let file = marker.path().join("ran");
        let file = file.to_str().expect("utf-8 temp path");
        let outcome = run_process(
            &spec(&["touch", file]),
            &cancel,
            &CancellationToken::new(),
            None,
            &Redactor::default(),
        )
        .await
        .expect("no spawn error");
        assert_eq!(outcome.status, OutcomeStatus::Cancelled);
        assert_eq!(outcome.duration, Duration::ZERO);
        assert!(!std::path::Path::new(file).exists());
    }

    #[tokio::test]
    async fn past_deadline_spawns_nothing() {
        let outcome = run_process(
            &spec(&["true"]),
            &CancellationToken::new(),
            &CancellationToken::new(),
            Some(Instant::now()),
            &Redactor::default(),
        )
        .await
        .expect("no spawn error");
        assert_eq!(outcome.status, OutcomeStatus::TimedOut);
        assert_eq!(outcome.duration, Duration::ZERO);
    }

    #[tokio::test]
    async fn stdout_and_stderr_are_separate() {
        let outcome = run(&spec(&["sh", "-c", "echo out; echo err >&2; exit 3"])).await;
        assert_eq!(outcome.status, OutcomeStatus::Failed);
        assert_eq!(outcome.exit_code, Some(3));
        assert_eq!(outcome.signal, None);
        assert_eq!(outcome.stdout.tail, "out\n");
        assert_eq!(outcome.stderr.tail, "err\n");
        assert!(!outcome.leaked_processes);
    }

    /// Whether the process `pid` is alive (zombies count as dead).
    fn alive(pid: u32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|stat| {
                let state = stat
                    .rsplit_once(')')?
                    .1
                    .split_whitespace()
                    .next()?
                    .to_owned();
                Some(state != "Z")
            })
            .unwrap_or(false)
    }

    #[tokio::test]
    async fn a_killed_leader_leaves_no_process_of_its_group_behind() {
        // The grandchild sends its output elsewhere, so nothing holds the
        // pipes once the leader is SIGKILLed.
        let dir = tempfile::tempdir().expect("tempdir");
        let pid_file = dir.path().join("pid");
        let script = format!(
            "sleep 300 >/dev/null 2>&1 & echo $! > {}; kill -9 $$",
            pid_file.display()
        );
        let outcome = run(&spec(&["sh", "-c", &script])).await;
        assert_eq!(outcome.status, OutcomeStatus::Failed);
        assert_eq!(outcome.signal, Some(9));
        let grandchild: u32 = std::fs::read_to_string(&pid_file)
            .expect("the pid was written")
            .trim()
            .parse()
            .expect("a pid");
        // SIGKILL was sent before `run` returned; the kernel ends the
        // process before it can be scheduled again, so poll its state.
        let mut tries = 0;
        while alive(grandchild) {
            tries += 1;
            assert!(tries < 500, "process {grandchild} outlived its action");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[tokio::test]
    async fn a_signal_death_is_reported() {
        let outcome = run(&spec(&["sh", "-c", "kill -USR1 $$"])).await;
        assert_eq!(outcome.status, OutcomeStatus::Failed);
        assert_eq!(outcome.exit_code, None);
        assert_eq!(
            outcome.signal,
            Some(nix::sys::signal::Signal::SIGUSR1 as i32)
        );
    }

    #[tokio::test]
    async fn the_child_leads_its_own_process_group() {
        let outcome = run(&spec(&["sh", "-c", "echo $$; ps -o pgid= -p $$"])).await;
        let mut lines = outcome.stdout.tail.lines().map(str::trim);
        let leader = lines.next().expect("pid line");
        let group = lines.next().expect("pgid line");
        assert_eq!(leader, group);
    }
}
