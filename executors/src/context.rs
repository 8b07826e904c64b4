//! [`ActionContext`]: everything an executor needs besides the action itself.

use std::{
    collections::BTreeMap, error::Error, fmt, future::Future, path::PathBuf, sync::Arc,
    time::Duration,
};

use plangate_plans::{ExecutorInstance, TaskId};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::{child_env, error::ExecutorError, executor::BoxFuture, redact::Redactor};

/// The engine's callback that durably records rollback evidence before an
/// executor makes its change. An `Err` carries the store's error, which
/// becomes the source of [`ExecutorError::Checkpoint`].
pub type CheckpointFn = Arc<
    dyn Fn(serde_json::Value) -> BoxFuture<'static, Result<(), Box<dyn Error + Send + Sync>>>
        + Send
        + Sync,
>;

/// The engine's callback told of each process an action spawns, right after
/// the spawn and before the process is waited for: it commits the process
/// group to the attempt, so that a `resume` after a crash can find it. An
/// `Err` carries the store's message; the action goes on regardless.
pub type SpawnFn =
    Arc<dyn Fn(SpawnedGroup) -> BoxFuture<'static, Result<(), String>> + Send + Sync>;

/// A process group an action spawned: its leader's pid (which is the group
/// id) and start time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpawnedGroup {
    /// The process group id (the leader's pid).
    pub process_group: u32,
    /// The leader's start time in clock ticks since boot (field 22 of
    /// `/proc/PID/stat`), when it can be read: a reused pid has another.
    pub started: Option<u64>,
}

/// The context of one executor call: which run, task and attempt it belongs
/// to, where it runs, and how it may be stopped.
///
/// Build one with [`ActionContext::new`] and the `with_*` methods; the fields
/// are public for reading.
///
/// ```
/// use std::time::Duration;
///
/// use plangate_executors::ActionContext;
/// use plangate_plans::TaskId;
///
/// let task = TaskId::new("render-docs").expect("valid id");
/// let ctx = ActionContext::new("01J9Z", task, "/srv/plans")
///     .with_attempt(2)
///     .with_timeout(Duration::from_secs(600));
/// assert_eq!(ctx.grace_period, Duration::from_secs(5));
/// ```
#[derive(Clone)]
pub struct ActionContext {
    /// The run's id; children see it as `PLANGATE_RUN_ID`.
    pub run_id: String,
    /// The task's id; children see it as `PLANGATE_TASK_ID`.
    pub task_id: TaskId,
    /// The attempt number of the task's `run`, from 1; children see it as
    /// `PLANGATE_ATTEMPT`.
    pub attempt: u32,
    /// The plan's folder: actions run there, and relative paths resolve
    /// against it.
    pub base_dir: PathBuf,
    /// The configured instance the action names with `executor: NAME`.
    pub instance: Option<ExecutorInstance>,
    /// The plan's `environment` label (`dev` by default).
    pub environment: String,
    /// The plan's `vars`.
    pub vars: BTreeMap<String, String>,
    /// Stops the action: SIGTERM to its process group, then SIGKILL after
    /// `grace_period`. The outcome is `cancelled`.
    pub cancel: CancellationToken,
    /// Cuts the grace period short: SIGKILL now (a second Ctrl-C). Also
    /// stops an action that `cancel` has not.
    pub force_kill: CancellationToken,
    /// When the action is stopped as by `cancel`, with outcome `timed-out`.
    /// The engine sets it from the task's `timeout`; prefer it to wrapping
    /// the call in `tokio::time::timeout`, which drops the call and so
    /// skips the grace period.
    pub deadline: Option<Instant>,
    /// Time between SIGTERM and SIGKILL.
    pub grace_period: Duration,
    /// How long to wait, after the action's process exits, for its output
    /// pipes to close before reporting leaked processes.
    pub leak_timeout: Duration,
    /// Bytes of stdout and of stderr kept in the outcome (the tail).
    pub output_limit: usize,
    /// Redacts secrets from command lines and output.
    pub redactor: Arc<Redactor>,
    /// Records rollback evidence before a change; `None` records nothing.
    pub checkpoint: Option<CheckpointFn>,
    /// Told of each process group the action spawns; `None` tells no one.
    pub on_spawn: Option<SpawnFn>,
}

impl ActionContext {
    /// The default [`grace_period`](Self::grace_period).
    pub const DEFAULT_GRACE_PERIOD: Duration = Duration::from_secs(5);
    /// The default [`leak_timeout`](Self::leak_timeout).
    pub const DEFAULT_LEAK_TIMEOUT: Duration = Duration::from_millis(100);
    /// The default [`output_limit`](Self::output_limit): 64 KiB per stream.
    pub const DEFAULT_OUTPUT_LIMIT: usize = 64 * 1024;

    /// A context for attempt 1 of `task_id` in `run_id`, with no deadline,
    /// fresh cancellation tokens, an empty redactor, no checkpoint and the
    /// default limits.
    pub fn new(run_id: impl Into<String>, task_id: TaskId, base_dir: impl Into<PathBuf>) -> Self {
        Self {
            run_id: run_id.into(),
            task_id,
            attempt: 1,
            base_dir: base_dir.into(),
            instance: None,
            environment: "dev".to_owned(),
            vars: BTreeMap::new(),
            cancel: CancellationToken::new(),
            force_kill: CancellationToken::new(),
            deadline: None,
            grace_period: Self::DEFAULT_GRACE_PERIOD,
            leak_timeout: Self::DEFAULT_LEAK_TIMEOUT,
            output_limit: Self::DEFAULT_OUTPUT_LIMIT,
            redactor: Arc::new(Redactor::default()),
            checkpoint: None,
            on_spawn: None,
        }
    }

    /// Sets [`attempt`](Self::attempt).
    #[must_use]
    pub fn with_attempt(mut self, attempt: u32) -> Self {
        self.attempt = attempt;
        self
    }

    /// Sets [`instance`](Self::instance).
    #[must_use]
    pub fn with_instance(mut self, instance: ExecutorInstance) -> Self {
        self.instance = Some(instance);
        self
    }

    /// Sets [`environment`](Self::environment).
    #[must_use]
    pub fn with_environment(mut self, environment: impl Into<String>) -> Self {
        self.environment = environment.into();
        self
    }

    /// Sets [`vars`](Self::vars).
    #[must_use]
    pub fn with_vars(mut self, vars: BTreeMap<String, String>) -> Self {
        self.vars = vars;
        self
    }

    /// Sets [`cancel`](Self::cancel).
    #[must_use]
    pub fn with_cancel(mut self, cancel: CancellationToken) -> Self {
        self.cancel = cancel;
        self
    }

    /// Sets [`force_kill`](Self::force_kill).
    #[must_use]
    pub fn with_force_kill(mut self, force_kill: CancellationToken) -> Self {
        self.force_kill = force_kill;
        self
    }

    /// Sets [`deadline`](Self::deadline).
    #[must_use]
    pub fn with_deadline(mut self, deadline: Instant) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// Sets [`deadline`](Self::deadline) to `timeout` from now.
    #[must_use]
    pub fn with_timeout(self, timeout: Duration) -> Self {
        self.with_deadline(Instant::now() + timeout)
    }

    /// Sets [`grace_period`](Self::grace_period).
    #[must_use]
    pub fn with_grace_period(mut self, grace_period: Duration) -> Self {
        self.grace_period = grace_period;
        self
    }

    /// Sets [`leak_timeout`](Self::leak_timeout).
    #[must_use]
    pub fn with_leak_timeout(mut self, leak_timeout: Duration) -> Self {
        self.leak_timeout = leak_timeout;
        self
    }

    /// Sets [`output_limit`](Self::output_limit).
    #[must_use]
    pub fn with_output_limit(mut self, output_limit: usize) -> Self {
        self.output_limit = output_limit;
        self
    }

    /// Sets [`redactor`](Self::redactor).
    #[must_use]
    pub fn with_redactor(mut self, redactor: Arc<Redactor>) -> Self {
        self.redactor = redactor;
        self
    }

    /// Sets [`checkpoint`](Self::checkpoint) from an async closure; its
    /// error (the store's, or a message) is kept as the source of
    /// [`ExecutorError::Checkpoint`].
    #[must_use]
    pub fn with_checkpoint<F, Fut, E>(mut self, checkpoint: F) -> Self
    where
        F: Fn(serde_json::Value) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<Box<dyn Error + Send + Sync>>,
    {
        self.checkpoint = Some(Arc::new(move |evidence| {
            let recorded = checkpoint(evidence);
            Box::pin(async move { recorded.await.map_err(Into::into) })
        }));
        self
    }

    /// Sets [`on_spawn`](Self::on_spawn) from an async closure.
    #[must_use]
    pub fn with_on_spawn<F, Fut>(mut self, on_spawn: F) -> Self
    where
        F: Fn(SpawnedGroup) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        self.on_spawn = Some(Arc::new(move |group| Box::pin(on_spawn(group))));
        self
    }

    /// Hands rollback evidence to the checkpoint, if there is one. Executors
    /// call it before their side effect and must not start the side effect
    /// when it fails.
    pub async fn record_evidence(&self, evidence: serde_json::Value) -> Result<(), ExecutorError> {
        match &self.checkpoint {
            Some(checkpoint) => checkpoint(evidence)
                .await
                .map_err(|source| ExecutorError::Checkpoint { source }),
            None => Ok(()),
        }
    }

    /// The `PLANGATE_*` variables every child gets.
    pub fn child_env(&self) -> [(&'static str, String); 3] {
        [
            (child_env::RUN_ID, self.run_id.clone()),
            (child_env::TASK_ID, self.task_id.to_string()),
            (child_env::ATTEMPT, self.attempt.to_string()),
        ]
    }
}

impl fmt::Debug for ActionContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActionContext")
            .field("run_id", &self.run_id)
            .field("task_id", &self.task_id)
            .field("attempt", &self.attempt)
            .field("base_dir", &self.base_dir)
            .field("instance", &self.instance)
            .field("environment", &self.environment)
            .field("vars", &self.vars)
            .field("cancel", &self.cancel)
            .field("force_kill", &self.force_kill)
            .field("deadline", &self.deadline)
            .field("grace_period", &self.grace_period)
            .field("leak_timeout", &self.leak_timeout)
            .field("output_limit", &self.output_limit)
            .field("redactor", &self.redactor)
            .field(
                "checkpoint",
                &self.checkpoint.as_ref().map(|_| "<callback>"),
            )
            .field("on_spawn", &self.on_spawn.as_ref().map(|_| "<callback>"))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    fn ctx() -> ActionContext {
        ActionContext::new("run-1", TaskId::new("task").expect("valid id"), "/tmp")
    }

    #[tokio::test]
    async fn record_evidence_without_checkpoint_is_a_no_op() {
        ctx()
            .record_evidence(serde_json::json!({"revision": 3}))
            .await
            .expect("nothing to record");
    }

    #[tokio::test]
    async fn record_evidence_calls_the_checkpoint() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&seen);
        let ctx = ctx().with_checkpoint(move |evidence| {
            let sink = Arc::clone(&sink);
            async move {
                sink.lock().expect("not poisoned").push(evidence);
                Ok::<(), String>(())
            }
        });
        ctx.record_evidence(serde_json::json!({"revision": 3}))
            .await
            .expect("recorded");
        assert_eq!(
            *seen.lock().expect("not poisoned"),
            [serde_json::json!({"revision": 3})]
        );
    }

    #[tokio::test]
    async fn a_failing_checkpoint_is_an_error() {
        let ctx = ctx().with_checkpoint(|_| async { Err("disk full".to_owned()) });
        let error = ctx
            .record_evidence(serde_json::Value::Null)
            .await
            .expect_err("the checkpoint fails");
        let ExecutorError::Checkpoint { source } = &error else {
            panic!("not a checkpoint error: {error}");
        };
        assert_eq!(source.to_string(), "disk full");
        assert!(error.is_retryable());
    }

    #[test]
    fn child_env_names_run_task_and_attempt() {
        let env = ctx().with_attempt(3).child_env();
        assert_eq!(
            env,
            [
                ("PLANGATE_RUN_ID", "run-1".to_owned()),
                ("PLANGATE_TASK_ID", "task".to_owned()),
                ("PLANGATE_ATTEMPT", "3".to_owned()),
            ]
        );
    }
}
