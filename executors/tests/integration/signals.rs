use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use plangate_executors::{Executor, OutcomeStatus, ShellExecutor};
use tokio_util::sync::CancellationToken;

use crate::support::{Fifo, assert_gone, ctx, guarded, parse_pid, sh, shell, watchdog};

/// Starts a grandchild that holds the output pipes, reports its pid through
/// `$1`, and waits.
const GRANDCHILD: &str = r#"sleep 1000 & echo $! > "$1"; wait"#;

/// The deadline passes while a grandchild runs: the whole group dies.
///
/// The clock is paused, and the test reads the grandchild's pid on a
/// blocking task, during which tokio does not advance a paused clock. So the
/// deadline can only pass once the grandchild exists, however slow the
/// machine. The script also holds a FIFO open (fd 3, inherited by the
/// grandchild) whose end tells the test that both have exited.
#[tokio::test(start_paused = true)]
async fn timeout_kills_the_grandchild() {
    let _watchdog = watchdog("timeout_kills_the_grandchild");
    let dir = tempfile::tempdir().expect("tempdir");
    let pid_fifo = Fifo::new(dir.path(), "pid");
    let death = Fifo::new(dir.path(), "death");
    let died = death.read_to_end();
    let pid_path = pid_fifo.path().to_owned();
    let pid = tokio::task::spawn_blocking(move || std::fs::read_to_string(pid_path));
    let action = sh(
        r#"exec 3>"$2"; sleep 1000 & echo $! > "$1"; wait"#,
        &[pid_fifo.path(), death.path()],
    );
    let ctx = ctx(dir.path()).with_timeout(Duration::from_secs(60));
    let executor = ShellExecutor::new();
    let (outcome, pid) = tokio::join!(executor.apply(&action, &ctx), pid);
    let outcome = outcome.expect("runs");
    let pid = parse_pid(&pid.expect("no panic").expect("read pid"));

    assert_eq!(outcome.status, OutcomeStatus::TimedOut);
    assert_eq!(outcome.exit_code, None);
    assert!(outcome.signal.is_some());
    died.await.expect("the death FIFO reached its end");
    assert_gone(pid);
}

/// Timing out sends SIGTERM first, and a child that obeys it is not killed.
#[tokio::test]
async fn timeout_stops_with_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let timeout = Duration::from_millis(100);
    let outcome = guarded(
        "the timed-out run",
        ShellExecutor::new().apply(
            &shell(&["sleep", "1000"]),
            &ctx(dir.path()).with_timeout(timeout),
        ),
    )
    .await
    .expect("runs");
    assert_eq!(outcome.status, OutcomeStatus::TimedOut);
    assert_eq!(outcome.exit_code, None);
    assert_eq!(outcome.signal, Some(Signal::SIGTERM as i32));
    assert!(outcome.duration >= timeout, "{:?}", outcome.duration);
    assert!(!outcome.leaked_processes);
}

#[tokio::test]
async fn cancellation_kills_the_grandchild() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pid_fifo = Fifo::new(dir.path(), "pid");
    let pid = pid_fifo.read_to_end();
    let cancel = CancellationToken::new();
    let action = sh(GRANDCHILD, &[pid_fifo.path()]);
    let ctx = ctx(dir.path()).with_cancel(cancel.clone());
    let run = tokio::spawn(async move { ShellExecutor::new().apply(&action, &ctx).await });

    let pid = parse_pid(&guarded("the pid", pid).await.expect("pid sent"));
    cancel.cancel();
    let outcome = guarded("the cancelled run", run)
        .await
        .expect("no panic")
        .expect("runs");

    assert_eq!(outcome.status, OutcomeStatus::Cancelled);
    assert_eq!(outcome.signal, Some(Signal::SIGTERM as i32));
    assert!(!outcome.leaked_processes);
    // The grandchild held the output pipes, which the run waited to close.
    assert_gone(pid);
}

/// A group that ignores SIGTERM gets SIGKILL once the grace period is over.
#[tokio::test]
async fn sigterm_ignoring_child_is_killed_after_the_grace_period() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pid_fifo = Fifo::new(dir.path(), "pid");
    let pid = pid_fifo.read_to_end();
    let cancel = CancellationToken::new();
    let grace = Duration::from_millis(300);
    // An ignored signal stays ignored across fork and exec, so the
    // grandchild ignores SIGTERM too.
    let action = sh(
        r#"trap '' TERM; sleep 1000 & echo $! > "$1"; wait"#,
        &[pid_fifo.path()],
    );
    let ctx = ctx(dir.path())
        .with_cancel(cancel.clone())
        .with_grace_period(grace);
    let run = tokio::spawn(async move { ShellExecutor::new().apply(&action, &ctx).await });

    let pid = parse_pid(&guarded("the pid", pid).await.expect("pid sent"));
    cancel.cancel();
    let outcome = guarded("the cancelled run", run)
        .await
        .expect("no panic")
        .expect("runs");

    assert_eq!(outcome.status, OutcomeStatus::Cancelled);
    assert_eq!(outcome.signal, Some(Signal::SIGKILL as i32));
    assert!(outcome.duration >= grace, "{:?}", outcome.duration);
    assert_gone(pid);
}

/// `force_kill` (a second Ctrl-C) skips the rest of the grace period.
#[tokio::test]
async fn force_kill_cuts_the_grace_period_short() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pid_fifo = Fifo::new(dir.path(), "pid");
    let pid = pid_fifo.read_to_end();
    let cancel = CancellationToken::new();
    let force_kill = CancellationToken::new();
    let action = sh(
        r#"trap '' TERM; sleep 1000 & echo $! > "$1"; wait"#,
        &[pid_fifo.path()],
    );
    let ctx = ctx(dir.path())
        .with_cancel(cancel.clone())
        .with_force_kill(force_kill.clone())
        .with_grace_period(Duration::from_secs(3600));
    let run = tokio::spawn(async move { ShellExecutor::new().apply(&action, &ctx).await });

    let pid = parse_pid(&guarded("the pid", pid).await.expect("pid sent"));
    cancel.cancel();
    force_kill.cancel();
    let outcome = guarded("the force-killed run", run)
        .await
        .expect("no panic")
        .expect("runs");

    assert_eq!(outcome.status, OutcomeStatus::Cancelled);
    assert_eq!(outcome.signal, Some(Signal::SIGKILL as i32));
    assert_gone(pid);
}

/// The child exits but leaves a grandchild holding its output pipes: the
/// run reports the leak and kills the group.
#[tokio::test]
async fn leaked_grandchild_is_reported_and_killed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pid_file = dir.path().join("pid");
    let outcome = guarded(
        "the leaking run",
        ShellExecutor::new().apply(
            &sh(r#"sleep 1000 & echo $! > "$1""#, &[&pid_file]),
            &ctx(dir.path()),
        ),
    )
    .await
    .expect("runs");

    assert_eq!(outcome.status, OutcomeStatus::Succeeded);
    assert_eq!(outcome.exit_code, Some(0));
    assert!(outcome.leaked_processes);
    assert!(
        outcome.duration >= plangate_executors::ActionContext::DEFAULT_LEAK_TIMEOUT,
        "{:?}",
        outcome.duration
    );
    assert_gone(parse_pid(
        &std::fs::read_to_string(&pid_file).expect("pid file"),
    ));
}

/// A grandchild that left the process group cannot be killed through it;
/// the run still ends, reports the leak and abandons the pipes.
#[tokio::test]
async fn escaped_grandchild_does_not_hang_the_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pid_file = dir.path().join("pid");
    let outcome = guarded(
        "the leaking run",
        ShellExecutor::new().apply(
            &sh(r#"setsid sleep 1000 & echo $! > "$1""#, &[&pid_file]),
            &ctx(dir.path()),
        ),
    )
    .await
    .expect("runs");
    let pid = parse_pid(&std::fs::read_to_string(&pid_file).expect("pid file"));
    kill(pid, Signal::SIGKILL).expect("the escaped grandchild is still alive");

    assert_eq!(outcome.status, OutcomeStatus::Succeeded);
    assert!(outcome.leaked_processes);
}

/// Dropping a run mid-flight (an engine-side timeout, a shutdown) kills its
/// whole group, not just the direct child.
#[tokio::test]
async fn dropping_a_run_kills_its_group() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pid_fifo = Fifo::new(dir.path(), "pid");
    let death = Fifo::new(dir.path(), "death");
    let died = death.read_to_end();
    let pid = pid_fifo.read_to_end();
    let action = sh(
        r#"exec 3>"$2"; sleep 1000 & echo $! > "$1"; wait"#,
        &[pid_fifo.path(), death.path()],
    );
    let ctx = ctx(dir.path());
    let run = tokio::spawn(async move { ShellExecutor::new().apply(&action, &ctx).await });

    let pid = parse_pid(&guarded("the pid", pid).await.expect("pid sent"));
    run.abort();
    let aborted = guarded("the aborted run", run)
        .await
        .expect_err("the run was aborted");
    assert!(aborted.is_cancelled());
    guarded("the group's death", died)
        .await
        .expect("the death FIFO reached its end");
    assert_gone(pid);
}
