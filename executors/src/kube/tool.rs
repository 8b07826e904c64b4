//! Running `kubectl` or `helm` for an action: the binary to use, its version
//! (asked once per binary and cached), and the three ways a command's result
//! is used.
//!
//! - [`Invocation::run`]: the action's own command; its exit code becomes the
//!   outcome, so a non-zero exit is a failed outcome, not an error.
//! - [`Invocation::query`]: a command the executor runs for itself (a
//!   snapshot, a status); a non-zero exit is [`ExecutorError::Tool`].
//! - [`Invocation::probe`]: a command whose exit code is an answer
//!   (`kubectl diff` exits 1 when there are differences).
//!
//! All of them go through the process module, so they honour the context's
//! cancellation, deadline, grace period and redaction. A query stopped by
//! cancellation or the deadline ends the whole request with that outcome:
//! [`Halt::Stopped`].

use std::{borrow::Cow, collections::BTreeMap, path::Path, time::Duration};

use plangate_plans::ExecutorKind;
use tokio::{sync::Mutex, time::Instant};

use crate::{
    context::ActionContext,
    error::ExecutorError,
    outcome::HEAD_LIMIT,
    outcome::{ActionOutcome, OutcomeStatus},
    process::{ProcessSpec, quote_command, run_process},
    redact::Redactor,
};

/// Bytes of stdout kept for a query: snapshots and rendered manifests are
/// parsed, so they must arrive whole. A larger answer is an error rather
/// than a silently cut snapshot.
const QUERY_OUTPUT_LIMIT: usize = 64 * 1024 * 1024;

/// Why a request ended before its outcome was complete.
#[derive(Debug)]
pub(crate) enum Halt {
    /// A command was cancelled or passed the deadline: this is the request's
    /// outcome (status `cancelled` or `timed-out`).
    Stopped(Box<ActionOutcome>),
    /// The request could not be carried out.
    Failed(ExecutorError),
}

impl From<ExecutorError> for Halt {
    fn from(error: ExecutorError) -> Self {
        Halt::Failed(error)
    }
}

impl Halt {
    /// The result of an `apply`, `verify` or `rollback`: a stop is an outcome.
    pub(crate) fn into_outcome(self) -> Result<ActionOutcome, ExecutorError> {
        match self {
            Halt::Stopped(outcome) => Ok(*outcome),
            Halt::Failed(error) => Err(error),
        }
    }

    /// The result of a `preview` or `observe`, which have no outcome: a stop
    /// is the stopped command's error.
    pub(crate) fn into_error(self) -> ExecutorError {
        match self {
            Halt::Stopped(outcome) => ExecutorError::Tool {
                stderr_tail: format!("stopped: {}", outcome.status.as_str()),
                command: outcome.command,
                exit_code: outcome.exit_code,
                signal: outcome.signal,
            },
            Halt::Failed(error) => error,
        }
    }
}

/// One tool binary setting: `kubectl` or `helm`, with the environment its
/// children get and a cache of the versions of the binaries used.
#[derive(Debug)]
pub(crate) struct Tool {
    kind: ExecutorKind,
    default_binary: String,
    env: BTreeMap<String, String>,
    versions: Mutex<BTreeMap<String, String>>,
}

impl Tool {
    /// A tool run as `default_binary` unless an executor instance names
    /// another.
    pub(crate) fn new(kind: ExecutorKind, default_binary: String) -> Self {
        Self {
            kind,
            default_binary,
            env: BTreeMap::new(),
            versions: Mutex::new(BTreeMap::new()),
        }
    }

    /// A tool whose default binary is named by the environment variable
    /// `variable` when it is set and not empty, else `fallback` (on `PATH`).
    pub(crate) fn from_env(kind: ExecutorKind, variable: &str, fallback: &str) -> Self {
        let binary = std::env::var(variable)
            .ok()
            .filter(|binary| !binary.is_empty())
            .unwrap_or_else(|| fallback.to_owned());
        Self::new(kind, binary)
    }

    /// Replaces the default binary.
    pub(crate) fn set_default_binary(&mut self, binary: String) {
        self.default_binary = binary;
    }

    /// Adds a variable to every child's environment.
    pub(crate) fn set_env(&mut self, name: String, value: String) {
        self.env.insert(name, value);
    }

    /// The environment added to every child (before the `PLANGATE_*` ones).
    pub(crate) fn env(&self) -> &BTreeMap<String, String> {
        &self.env
    }

    /// The binary for an action: the instance's `binary` (a path with a
    /// slash is relative to the plan's folder), else the default.
    pub(crate) fn binary(&self, ctx: &ActionContext) -> String {
        match ctx
            .instance
            .as_ref()
            .and_then(|instance| instance.binary.as_deref())
        {
            Some(binary) if binary.contains('/') => {
                ctx.base_dir.join(binary).to_string_lossy().into_owned()
            }
            Some(binary) => binary.to_owned(),
            None => self.default_binary.clone(),
        }
    }

    /// A way to run this tool for one request.
    pub(crate) fn invocation<'a>(&'a self, ctx: &'a ActionContext) -> Invocation<'a> {
        let binary = self.binary(ctx);
        let inherited: Vec<(String, String)> = std::env::vars_os()
            .filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)))
            .collect();
        let vars = inherited
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .chain(
                self.env
                    .iter()
                    .map(|(name, value)| (name.as_str(), value.as_str())),
            );
        let redactor = match ctx.redactor.with_env(vars) {
            Cow::Borrowed(_) => Cow::Borrowed(&*ctx.redactor),
            Cow::Owned(redactor) => Cow::Owned(redactor),
        };
        Invocation {
            tool: self,
            ctx,
            binary,
            redactor,
        }
    }

    /// The version of the invocation's binary, asked with `args` and read
    /// from stdout by `parse` the first time, then cached.
    pub(crate) async fn version(
        &self,
        invocation: &Invocation<'_>,
        args: &[&str],
        parse: fn(&str) -> Option<String>,
    ) -> Result<String, Halt> {
        let mut versions = self.versions.lock().await;
        if let Some(version) = versions.get(&invocation.binary) {
            return Ok(version.clone());
        }
        let args: Vec<String> = args.iter().map(|arg| (*arg).to_owned()).collect();
        let stdout = invocation.query(&args).await?;
        let version = parse(&stdout).ok_or_else(|| ExecutorError::Tool {
            command: invocation.command_line(&args),
            exit_code: Some(0),
            signal: None,
            stderr_tail: format!("unrecognised version output: {}", stdout.trim()),
        })?;
        versions.insert(invocation.binary.clone(), version.clone());
        Ok(version)
    }
}

/// The tool, bound to one request's context.
pub(crate) struct Invocation<'a> {
    tool: &'a Tool,
    ctx: &'a ActionContext,
    binary: String,
    redactor: Cow<'a, Redactor>,
}

impl Invocation<'_> {
    /// The context of the request.
    pub(crate) fn ctx(&self) -> &ActionContext {
        self.ctx
    }

    /// The environment the tool's children get from the executor
    /// (`KUBECONFIG`, `HOME`, ...).
    pub(crate) fn tool_env(&self) -> &BTreeMap<String, String> {
        self.tool.env()
    }

    /// The redactor for this request's commands and output.
    pub(crate) fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    /// The error of a query whose answer is not the JSON expected.
    pub(crate) fn not_json(&self, args: &[String], error: &serde_json::Error) -> Halt {
        Halt::Failed(ExecutorError::Tool {
            command: self.command_line(args),
            exit_code: Some(0),
            signal: None,
            stderr_tail: format!("its output is not the JSON expected: {error}"),
        })
    }

    /// The shell-quoted, redacted command line of `args`.
    pub(crate) fn command_line(&self, args: &[String]) -> String {
        quote_command(&self.argv(args), &self.redactor)
    }

    fn argv(&self, args: &[String]) -> Vec<String> {
        std::iter::once(self.binary.clone())
            .chain(args.iter().cloned())
            .collect()
    }

    fn spec(&self, args: &[String], env: &[(&str, &str)], output_limit: usize) -> ProcessSpec {
        let mut vars = self.tool.env.clone();
        vars.extend(
            env.iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned())),
        );
        vars.extend(
            self.ctx
                .child_env()
                .map(|(name, value)| (name.to_owned(), value)),
        );
        ProcessSpec {
            argv: self.argv(args),
            env: vars,
            cwd: self.ctx.base_dir.clone(),
            grace_period: self.ctx.grace_period,
            leak_timeout: self.ctx.leak_timeout,
            output_limit,
            on_spawn: self.ctx.on_spawn.clone(),
        }
    }

    async fn execute(
        &self,
        args: &[String],
        env: &[(&str, &str)],
        output_limit: usize,
    ) -> Result<ActionOutcome, ExecutorError> {
        let spec = self.spec(args, env, output_limit);
        let outcome = run_process(
            &spec,
            &self.ctx.cancel,
            &self.ctx.force_kill,
            self.ctx.deadline,
            &self.redactor,
        )
        .await
        .map_err(|error| ExecutorError::from_spawn(error, self.tool.kind))?;
        Ok(outcome.into_action_outcome(None))
    }

    /// Runs the action's own command: any exit is an outcome.
    pub(crate) async fn run(&self, args: &[String]) -> Result<ActionOutcome, ExecutorError> {
        self.execute(args, &[], self.ctx.output_limit).await
    }

    /// Runs a command whose exit code is an answer; stops halt the request.
    /// Its stdout is kept whole (up to a large limit).
    pub(crate) async fn probe(
        &self,
        args: &[String],
        env: &[(&str, &str)],
    ) -> Result<ActionOutcome, Halt> {
        let outcome = self.execute(args, env, QUERY_OUTPUT_LIMIT).await?;
        match outcome.status {
            OutcomeStatus::Cancelled | OutcomeStatus::TimedOut => {
                Err(Halt::Stopped(Box::new(outcome)))
            }
            OutcomeStatus::Succeeded | OutcomeStatus::Failed if outcome.stdout_truncated => {
                Err(Halt::Failed(ExecutorError::Tool {
                    command: outcome.command,
                    exit_code: outcome.exit_code,
                    signal: outcome.signal,
                    stderr_tail: format!(
                        "its output exceeds {QUERY_OUTPUT_LIMIT} bytes, too large to read whole"
                    ),
                }))
            }
            OutcomeStatus::Succeeded | OutcomeStatus::Failed => Ok(outcome),
        }
    }

    /// Runs a command the executor needs the stdout of; anything but
    /// success is an error.
    pub(crate) async fn query(&self, args: &[String]) -> Result<String, Halt> {
        let outcome = self.probe(args, &[]).await?;
        if outcome.succeeded() {
            Ok(outcome.stdout_tail)
        } else {
            Err(Halt::Failed(tool_error(outcome)))
        }
    }
}

/// The error of a query that exited unsuccessfully.
pub(crate) fn tool_error(outcome: ActionOutcome) -> ExecutorError {
    ExecutorError::Tool {
        stderr_tail: outcome.stderr(),
        command: outcome.command,
        exit_code: outcome.exit_code,
        signal: outcome.signal,
    }
}

/// A Go duration (`30s`, `1500ms`), as kubectl's and helm's `--timeout` take.
pub(crate) fn format_go_duration(duration: Duration) -> String {
    let millis = duration.as_millis().max(1);
    if millis % 1000 == 0 {
        format!("{}s", millis / 1000)
    } else {
        format!("{millis}ms")
    }
}

/// Several commands reported as one outcome (a rollback restores object
/// after object): the commands joined with `&&`, the output of each in
/// turn, and the status of the last, which is the first that did not
/// succeed if one did not.
#[derive(Debug)]
pub(crate) struct Steps {
    started: Instant,
    limit: usize,
    commands: Vec<String>,
    stdout: String,
    stderr: String,
    last: Option<ActionOutcome>,
    leaked: bool,
}

impl Steps {
    /// No step yet; output tails keep `limit` bytes.
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            started: Instant::now(),
            limit,
            commands: Vec::new(),
            stdout: String::new(),
            stderr: String::new(),
            last: None,
            leaked: false,
        }
    }

    /// Adds a step's outcome; `false` when it did not succeed, and the
    /// following steps must not run.
    pub(crate) fn push(&mut self, outcome: ActionOutcome) -> bool {
        self.commands.push(outcome.command.clone());
        self.stdout.push_str(&outcome.stdout_tail);
        self.stderr.push_str(&outcome.stderr());
        self.leaked |= outcome.leaked_processes;
        let succeeded = outcome.succeeded();
        self.last = Some(outcome);
        succeeded
    }

    /// Adds a line of explanation to stdout.
    pub(crate) fn note(&mut self, line: &str) {
        self.stdout.push_str(line);
        self.stdout.push('\n');
    }

    /// The combined outcome; `nothing` is the command shown when no step ran.
    pub(crate) fn finish(
        self,
        nothing: &str,
        evidence: Option<serde_json::Value>,
    ) -> ActionOutcome {
        let (stdout_tail, stdout_truncated) = tail(self.stdout, self.limit);
        let (stderr_head, stderr_omitted) = head(&self.stderr, self.limit);
        let (stderr_tail, stderr_truncated) = tail(self.stderr, self.limit);
        let mut outcome = match self.last {
            Some(last) => {
                let mut outcome = ActionOutcome::new(last.status, self.commands.join(" && "));
                outcome.exit_code = last.exit_code;
                outcome.signal = last.signal;
                outcome
            }
            None => ActionOutcome::new(OutcomeStatus::Succeeded, nothing),
        };
        outcome.duration = self.started.elapsed();
        outcome.stdout_tail = stdout_tail;
        outcome.stdout_truncated = stdout_truncated;
        outcome.stderr_head = stderr_head;
        outcome.stderr_omitted = stderr_omitted;
        outcome.stderr_tail = stderr_tail;
        outcome.stderr_truncated = stderr_truncated;
        outcome.leaked_processes = self.leaked;
        outcome.evidence = evidence;
        outcome
    }
}

/// The last `limit` bytes of `text` (moved forward to a character boundary).
fn tail(text: String, limit: usize) -> (String, bool) {
    if text.len() <= limit {
        return (text, false);
    }
    let mut cut = text.len() - limit;
    while !text.is_char_boundary(cut) {
        cut += 1;
    }
    (text[cut..].to_owned(), true)
}

/// The first bytes of `text` (up to [`HEAD_LIMIT`], whole lines where there
/// is a line end) when its last `limit` bytes are not all of it, with the
/// count of bytes between them; else nothing.
fn head(text: &str, limit: usize) -> (String, u64) {
    if text.len() <= limit {
        return (String::new(), 0);
    }
    let mut end = HEAD_LIMIT.min(text.len() - limit);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    if let Some(newline) = text[..end].rfind('\n') {
        end = newline + 1;
    }
    let omitted = text.len() - limit - end;
    (
        text[..end].to_owned(),
        u64::try_from(omitted).unwrap_or(u64::MAX),
    )
}

/// Whether a path names a folder (kubectl needs `-R` to recurse into one).
pub(crate) fn is_folder(base_dir: &Path, path: &str) -> bool {
    base_dir.join(path).is_dir()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(format_go_duration(Duration::from_secs(30)), "30s");
        assert_eq!(format_go_duration(Duration::from_millis(1500)), "1500ms");
        assert_eq!(format_go_duration(Duration::ZERO), "1ms");
    }

    #[test]
    fn tails_cut_at_character_boundaries() {
        assert_eq!(tail("abc".to_owned(), 5), ("abc".to_owned(), false));
        assert_eq!(tail("aébc".to_owned(), 3), ("bc".to_owned(), true));
    }

    #[test]
    fn steps_report_the_first_failure() {
        let mut steps = Steps::new(1024);
        let mut ok = ActionOutcome::new(OutcomeStatus::Succeeded, "kubectl delete a");
        ok.stdout_tail = "deleted a\n".to_owned();
        assert!(steps.push(ok));
        let mut failed = ActionOutcome::new(OutcomeStatus::Failed, "kubectl replace b");
        failed.exit_code = Some(1);
        failed.stderr_tail = "conflict\n".to_owned();
        assert!(!steps.push(failed));
        let outcome = steps.finish("nothing", None);
        assert_eq!(outcome.status, OutcomeStatus::Failed);
        assert_eq!(outcome.exit_code, Some(1));
        assert_eq!(outcome.command, "kubectl delete a && kubectl replace b");
        assert_eq!(outcome.stdout_tail, "deleted a\n");
        assert_eq!(outcome.stderr_tail, "conflict\n");
    }

    #[test]
    fn steps_keep_the_head_of_a_long_stderr() {
        let mut steps = Steps::new(16);
        let mut first = ActionOutcome::new(OutcomeStatus::Failed, "kubectl replace a");
        first.stderr_tail = format!("error: conflict on a\n{}\nthe end\n", "x".repeat(100));
        assert!(!steps.push(first));
        let outcome = steps.finish("nothing", None);
        assert_eq!(outcome.stderr_head, "error: conflict on a\n");
        assert_eq!(outcome.stderr_tail.len(), 16);
        assert_eq!(
            outcome.error_line().as_deref(),
            Some("error: conflict on a")
        );
    }

    #[test]
    fn no_steps_is_a_success_named_by_its_note() {
        let mut steps = Steps::new(1024);
        steps.note("every object matches its snapshot");
        let outcome = steps.finish("kubectl: nothing to restore", None);
        assert!(outcome.succeeded());
        assert_eq!(outcome.command, "kubectl: nothing to restore");
        assert_eq!(outcome.stdout_tail, "every object matches its snapshot\n");
    }
}
