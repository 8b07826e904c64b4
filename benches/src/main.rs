//! `plangate-bench`: wall time and peak memory of the real `plangate` binary.
//!
//! Every measurement spawns the release binary on a generated plan in a
//! temporary folder, exactly as a user would, and prints Markdown tables:
//!
//! 1. `plangate run` of no-op `shell` tasks (`true`), independent and chained,
//!    every task state change committed to SQLite (the default), next to
//!    `make -r -s -j2` running the same tasks from a generated Makefile, and
//!    next to `plangate validate` of the same plan, which isolates the cost of
//!    loading the plan from the cost of executing it;
//! 2. the time from spawning `plangate run` (and `make`) to the first task's
//!    process starting, on a 100-task plan;
//! 3. `plangate plan PLAN --format json`, the dry run, and `plangate
//!    validate` on large plans, in block YAML and in flow style (JSON);
//! 4. `plangate resume` of a run stopped halfway by a failing gate task;
//! 5. a 10,000-task run on a state file that already holds 50 earlier runs,
//!    against the same run on a fresh state file.
//!
//! Commands that are compared run interleaved, one pair (or round) after the
//! other (make, plangate, make, plangate, ...), so that a drift in the speed
//! of the shared machine hits both sides alike; a ratio is taken pair by pair
//! and reported as its minimum, median and maximum, as is every time. The load
//! average is printed before and after each table. Wall time is `Instant`
//! around the spawned process; peak memory is the `ru_maxrss` that `wait4(2)`
//! returns for the reaped child (the largest of it and its reaped
//! descendants). A measurement that exceeds `--timeout` has its process group
//! killed and is reported as over the limit.
//!
//! The workloads are fixed by the benchmark's brief and are not tuned to
//! flatter the engine: see `benches/README.md`.

use std::{
    cell::Cell,
    env,
    error::Error,
    fmt::Write as _,
    fs,
    io::{self, Write as _},
    os::unix::process::{CommandExt as _, ExitStatusExt as _},
    path::{Path, PathBuf},
    process::{Command, ExitCode, ExitStatus, Stdio},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
        mpsc,
    },
    thread,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

type Result<T, E = Box<dyn Error>> = std::result::Result<T, E>;

/// The policy of every generated plan: no task limit, no budget, no rollback
/// requirement, and the concurrency `make -j2` gets.
const POLICY: &str =
    "policy: {max_tasks: none, budget: none, require_rollback: none, concurrency: 2}";

/// Issue 11's targets.
const RUN_RATIO_TARGET: f64 = 1.5;
const CHAIN_RATIO_TARGET: f64 = 1.3;
const HISTORY_RATIO_TARGET: f64 = 1.05;
const FIRST_TASK_TARGET: f64 = 0.020;
const PLAN_TARGET: f64 = 0.5;
const PLAN_MEMORY_TARGET_KIB: u64 = 250 * 1024;
const RESUME_TARGET: f64 = 0.1;

/// The hidden first argument with which the bench is its own first task in
/// the time-to-first-task workload: it writes the real-time clock to a file.
const STAMP: &str = "--stamp";

const USAGE: &str = "\
usage: plangate-bench [--plangate PATH] [--quick] [--out FILE] [--timeout SECONDS]
                      [--pairs N] [--history-runs N]

  --plangate PATH     the plangate binary (default: `plangate` next to this
                      executable, else target/release/plangate)
  --quick             smaller workloads (1,000-task runs, 10,000-task dry
                      runs) and one pair each unless --pairs is given
  --out FILE          also write the Markdown tables to FILE
  --timeout SECONDS   kill a measurement after this long and report it as over
                      the limit (default: 120, or 20 with --quick)
  --pairs N           interleaved pairs (or rounds) per comparison (default: 5,
                      or 1 with --quick)
  --history-runs N    earlier runs in the state file of the history workload
                      (default: 50)
";

fn main() -> ExitCode {
    let mut args = env::args().skip(1).peekable();
    if args.peek().map(String::as_str) == Some(STAMP) {
        return stamp(args.nth(1));
    }
    let options = match Options::parse(args) {
        Ok(Some(options)) => options,
        Ok(None) => {
            let _ = io::stdout().lock().write_all(USAGE.as_bytes());
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            let _ = write!(io::stderr().lock(), "error: {error}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let _ = writeln!(io::stderr().lock(), "error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// `plangate-bench --stamp FILE`: writes the nanoseconds since the epoch to
/// `FILE`, as the first task of the time-to-first-task workload.
fn stamp(file: Option<String>) -> ExitCode {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos());
    match file {
        Some(file) if fs::write(&file, nanos.to_string()).is_ok() => ExitCode::SUCCESS,
        _ => ExitCode::FAILURE,
    }
}

/// Command-line options.
struct Options {
    plangate: PathBuf,
    quick: bool,
    out: Option<PathBuf>,
    timeout: Duration,
    pairs: usize,
    history_runs: u32,
}

impl Options {
    /// `Ok(None)` for `--help`.
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Option<Self>> {
        let mut plangate = None;
        let mut quick = false;
        let mut out = None;
        let mut timeout = None;
        let mut pairs = None;
        let mut history_runs = 50;
        while let Some(arg) = args.next() {
            let mut value =
                |name: &str| args.next().ok_or_else(|| format!("`{name}` needs a value"));
            match arg.as_str() {
                "--plangate" => plangate = Some(PathBuf::from(value("--plangate")?)),
                "--quick" => quick = true,
                "--out" => out = Some(PathBuf::from(value("--out")?)),
                "--timeout" => {
                    let seconds: u64 = whole_number("--timeout", &value("--timeout")?)?;
                    timeout = Some(Duration::from_secs(seconds.max(1)));
                }
                "--pairs" => {
                    let n: usize = whole_number("--pairs", &value("--pairs")?)?;
                    pairs = Some(n.max(1));
                }
                "--history-runs" => {
                    history_runs = whole_number("--history-runs", &value("--history-runs")?)?;
                }
                "-h" | "--help" => return Ok(None),
                other => return Err(format!("unexpected argument `{other}`").into()),
            }
        }
        let plangate = match plangate {
            Some(path) => path,
            None => default_plangate(),
        };
        if !plangate.is_file() {
            return Err(format!(
                "no plangate binary at `{}`; build it with `cargo build --release -p plangate` \
                 or pass `--plangate PATH`",
                plangate.display()
            )
            .into());
        }
        let plangate = std::path::absolute(&plangate)?;
        let timeout = timeout.unwrap_or(Duration::from_secs(if quick { 20 } else { 120 }));
        Ok(Some(Self {
            plangate,
            quick,
            out,
            timeout,
            pairs: pairs.unwrap_or(if quick { 1 } else { 5 }),
            history_runs,
        }))
    }
}

fn whole_number<T: std::str::FromStr>(name: &str, text: &str) -> Result<T> {
    text.parse()
        .map_err(|_| format!("`{name}` takes a whole number, not `{text}`").into())
}

/// `plangate` next to this executable (both live in `target/release/`), else
/// `target/release/plangate` under the current folder.
fn default_plangate() -> PathBuf {
    env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|folder| folder.join("plangate")))
        .filter(|sibling| sibling.is_file())
        .unwrap_or_else(|| PathBuf::from("target/release/plangate"))
}

fn run(options: &Options) -> Result<()> {
    let scratch = Scratch::create()?;
    let bench = Bench {
        options,
        meter: Meter {
            timeout: options.timeout,
        },
        scratch: scratch.path().to_owned(),
        make: make_available(),
        myself: env::current_exe()?,
        failures: Cell::new(0),
    };
    let load_before = load_average();
    // Each table is printed (and written to `--out`) as soon as it is
    // measured, so that an interrupted benchmark still leaves its tables.
    let mut out = match &options.out {
        Some(path) => Some(
            fs::File::create(path)
                .map_err(|error| format!("cannot write `{}`: {error}", path.display()))?,
        ),
        None => None,
    };
    let mut emit = |text: &str| -> Result<()> {
        let mut stdout = io::stdout().lock();
        stdout.write_all(text.as_bytes())?;
        stdout.flush()?;
        if let Some(file) = &mut out {
            file.write_all(text.as_bytes())?;
            file.flush()?;
        }
        Ok(())
    };
    emit(&bench.header()?)?;
    emit(&bench.run_table()?)?;
    emit(&bench.first_task_table()?)?;
    emit(&bench.plan_table()?)?;
    emit(&bench.resume_table()?)?;
    emit(&bench.history_table()?)?;
    emit(&format!(
        "Load average over the whole benchmark: {load_before} before, {} after.\n",
        load_average()
    ))?;
    match bench.failures.get() {
        0 => Ok(()),
        failed => Err(format!(
            "{failed} measurement(s) failed: their commands exited with an unexpected code (see \
             above); their cells say `failed`"
        )
        .into()),
    }
}

/// The temporary folder of one benchmark invocation, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn create() -> Result<Self> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.subsec_nanos());
        let path = env::temp_dir().join(format!("plangate-bench-{}-{nanos}", std::process::id()));
        fs::create_dir_all(&path)?;
        Ok(Self(path))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn make_available() -> bool {
    Command::new("make")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// The 1, 5 and 15 minute load averages of `/proc/loadavg`, as `0.47 1.67 1.51`.
fn load_average() -> String {
    fs::read_to_string("/proc/loadavg").map_or_else(
        |_| "unknown".to_owned(),
        |text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        },
    )
}

/// Progress of the benchmark itself, on stderr.
fn note(message: &str) {
    let _ = writeln!(io::stderr().lock(), "plangate-bench: {message}");
}

// ---------------------------------------------------------------------------
// Measuring one process.

/// One completed measurement.
#[derive(Clone, Copy)]
struct Sample {
    wall: Duration,
    /// `ru_maxrss` of the reaped child, in KiB.
    peak_kib: u64,
    /// From spawning the command to the moment its first task recorded, for
    /// workloads whose first task records it.
    to_first_task: Option<Duration>,
}

/// What a measurement came to.
enum Outcome {
    Finished(Sample),
    TimedOut,
    /// Another exit code than expected (the reason names the status); the
    /// details went to stderr.
    Failed(String),
}

/// Reads what a finished process left behind, given the time it was spawned:
/// the time to its first task.
type Probe<'a> = &'a dyn Fn(SystemTime) -> Option<Duration>;

/// Restores the files a command works on before each measurement of it.
type Prepare<'a> = &'a dyn Fn() -> Result<()>;

/// A command to measure, run in `cwd` with stdout and stderr to files there.
struct Job<'a> {
    label: String,
    program: &'a Path,
    args: Vec<String>,
    cwd: &'a Path,
    expected_exit: i32,
    prepare: Option<Prepare<'a>>,
    probe: Option<Probe<'a>>,
}

impl<'a> Job<'a> {
    fn new(label: String, program: &'a Path, args: &[&str], cwd: &'a Path) -> Self {
        Self {
            label,
            program,
            args: args.iter().map(|&arg| arg.to_owned()).collect(),
            cwd,
            expected_exit: 0,
            prepare: None,
            probe: None,
        }
    }

    fn expect_exit(mut self, code: i32) -> Self {
        self.expected_exit = code;
        self
    }

    fn prepare(mut self, prepare: Prepare<'a>) -> Self {
        self.prepare = Some(prepare);
        self
    }

    fn probe(mut self, probe: Probe<'a>) -> Self {
        self.probe = Some(probe);
        self
    }
}

struct Meter {
    timeout: Duration,
}

impl Meter {
    /// Runs `job` once (after its `prepare`). A wrong exit code is a failure,
    /// with the tail of the process's stderr: a benchmark of a failing command
    /// measures nothing.
    fn measure(&self, job: &Job<'_>) -> Result<Outcome> {
        if let Some(prepare) = job.prepare {
            prepare()?;
        }
        let stdout = job.cwd.join("stdout.txt");
        let stderr = job.cwd.join("stderr.txt");
        let mut command = Command::new(job.program);
        command
            .args(&job.args)
            .current_dir(job.cwd)
            .stdin(Stdio::null())
            .stdout(fs::File::create(&stdout)?)
            .stderr(fs::File::create(&stderr)?)
            // Its own process group, so that a timeout kills plangate and
            // its children together.
            .process_group(0);

        let started_at = SystemTime::now();
        let start = Instant::now();
        let child = command
            .spawn()
            .map_err(|error| format!("cannot start `{}`: {error}", job.program.display()))?;
        let pid = child.id();
        let (done, finished) = mpsc::channel::<()>();
        let timed_out = Arc::new(AtomicBool::new(false));
        let watchdog = {
            let timed_out = Arc::clone(&timed_out);
            let timeout = self.timeout;
            thread::spawn(move || {
                if finished.recv_timeout(timeout) == Err(mpsc::RecvTimeoutError::Timeout) {
                    timed_out.store(true, Ordering::SeqCst);
                    let _ = Command::new("kill")
                        .args(["-KILL", "--", &format!("-{pid}")])
                        .stderr(Stdio::null())
                        .status();
                }
            })
        };
        let reaped = wait_with_peak_rss(pid);
        let wall = start.elapsed();
        let _ = done.send(());
        let _ = watchdog.join();
        let (status, peak_kib) = reaped?;
        if timed_out.load(Ordering::SeqCst) {
            return Ok(Outcome::TimedOut);
        }
        let code = status.code().unwrap_or(-1);
        if code != job.expected_exit {
            let tail = tail(&fs::read_to_string(&stderr).unwrap_or_default(), 15);
            note(&format!(
                "{}: `{} {}` exited with {status}, expected code {}; its stderr ends with:\n{tail}",
                job.label,
                job.program.display(),
                job.args.join(" "),
                job.expected_exit,
            ));
            return Ok(Outcome::Failed(status.to_string()));
        }
        Ok(Outcome::Finished(Sample {
            wall,
            peak_kib,
            to_first_task: job.probe.and_then(|probe| probe(started_at)),
        }))
    }
}

/// Waits for the child `pid` with `wait4(2)`: its exit status and its
/// `ru_maxrss` in KiB (the largest resident set of it and of the descendants
/// it reaped), which `std::process::Child::wait` does not return.
#[expect(
    unsafe_code,
    reason = "wait4(2) is the one call that returns a child's rusage as it is reaped"
)]
fn wait_with_peak_rss(pid: u32) -> io::Result<(ExitStatus, u64)> {
    let pid = libc::pid_t::try_from(pid).map_err(io::Error::other)?;
    let mut status: libc::c_int = 0;
    // SAFETY: `rusage` is a plain C struct of integers, for which all zero
    // bytes are a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: both pointers point to live, writable locals of the types
        // wait4 expects, for the duration of the call.
        let reaped = unsafe { libc::wait4(pid, &raw mut status, 0, &raw mut usage) };
        if reaped == pid {
            break;
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
    Ok((
        ExitStatus::from_raw(status),
        u64::try_from(usage.ru_maxrss).unwrap_or(0),
    ))
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// The measurements of one command over the rounds, or why they stopped:
/// the first measurement over the limit or failed ends the command's series.
enum Series {
    Of(Vec<Sample>),
    OverLimit(Duration),
    Failed(String),
}

impl Series {
    fn samples(&self) -> &[Sample] {
        match self {
            Self::Of(samples) => samples,
            Self::OverLimit(_) | Self::Failed(_) => &[],
        }
    }

    fn walls(&self) -> Vec<f64> {
        self.samples()
            .iter()
            .map(|sample| sample.wall.as_secs_f64())
            .collect()
    }

    fn median_wall(&self) -> Option<f64> {
        Spread::of(&self.walls()).map(|spread| spread.median)
    }

    /// `min / median / max s` of the wall times (one time for one measurement).
    fn time(&self) -> String {
        match self {
            Self::Of(samples) if samples.len() == 1 => seconds(samples[0].wall.as_secs_f64()),
            Self::Of(_) => {
                Spread::of(&self.walls()).map_or_else(|| "n/a".to_owned(), Spread::seconds)
            }
            Self::OverLimit(limit) => format!("> {} (killed)", seconds(limit.as_secs_f64())),
            Self::Failed(reason) => format!("failed ({reason})"),
        }
    }

    /// The median wall time per task.
    fn per_task(&self, tasks: u32) -> String {
        match self {
            Self::Of(_) => self.median_wall().map_or_else(
                || "n/a".to_owned(),
                |median| format!("{:.3} ms", median * 1000.0 / f64::from(tasks)),
            ),
            Self::OverLimit(limit) => format!(
                "> {:.3} ms",
                limit.as_secs_f64() * 1000.0 / f64::from(tasks)
            ),
            Self::Failed(_) => "n/a".to_owned(),
        }
    }

    /// The median peak memory.
    fn peak(&self) -> String {
        self.median_peak_kib()
            .map_or_else(|| "n/a".to_owned(), mebibytes)
    }

    fn median_peak_kib(&self) -> Option<u64> {
        let mut peaks: Vec<u64> = self
            .samples()
            .iter()
            .map(|sample| sample.peak_kib)
            .collect();
        peaks.sort_unstable();
        peaks.get(peaks.len() / 2).copied()
    }

    fn first_task(&self) -> Vec<f64> {
        self.samples()
            .iter()
            .filter_map(|sample| sample.to_first_task)
            .map(|duration| duration.as_secs_f64())
            .collect()
    }

    /// `min / median / max s` of the times to the first task.
    fn to_first_task(&self) -> String {
        Spread::of(&self.first_task()).map_or_else(|| "n/a".to_owned(), Spread::seconds)
    }

    /// `yes` when every measurement met `target` seconds, `median only` when
    /// the median did, `no` otherwise.
    fn meets(&self, target: f64) -> &'static str {
        match self {
            Self::Of(_) => verdict(&self.walls(), target),
            Self::OverLimit(_) => "no",
            Self::Failed(_) => "n/a",
        }
    }
}

/// The ratios `measured / baseline`, pair by pair (the pairs both finished).
fn ratios(measured: &Series, baseline: &Series) -> Vec<f64> {
    measured
        .samples()
        .iter()
        .zip(baseline.samples())
        .map(|(measured, baseline)| measured.wall.as_secs_f64() / baseline.wall.as_secs_f64())
        .collect()
}

/// `min / median / max` of the pairwise ratios, as `1.81x / 1.88x / 1.95x`.
fn ratio_cell(ratios: &[f64]) -> String {
    Spread::of(ratios).map_or_else(
        || "n/a".to_owned(),
        |s| format!("{:.2}x / {:.2}x / {:.2}x", s.min, s.median, s.max),
    )
}

/// `yes` when every value is within `target`, `median only` when the median
/// is, `no` otherwise; `n/a` without values.
fn verdict(values: &[f64], target: f64) -> &'static str {
    match Spread::of(values) {
        None => "n/a",
        Some(spread) if spread.max <= target => "yes",
        Some(spread) if spread.median <= target => "median only",
        Some(_) => "no",
    }
}

/// The minimum, median and maximum of some measurements.
#[derive(Clone, Copy)]
struct Spread {
    min: f64,
    median: f64,
    max: f64,
}

impl Spread {
    /// `None` for no values. The median of an even count is the mean of the
    /// middle two.
    fn of(values: &[f64]) -> Option<Self> {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let (&min, &max) = (sorted.first()?, sorted.last()?);
        let middle = sorted.len() / 2;
        let median = if sorted.len() % 2 == 1 {
            sorted[middle]
        } else {
            f64::midpoint(sorted[middle - 1], sorted[middle])
        };
        Some(Self { min, median, max })
    }

    /// `0.871 / 0.879 / 0.902 s`.
    fn seconds(self) -> String {
        format!("{:.3} / {:.3} / {:.3} s", self.min, self.median, self.max)
    }
}

fn seconds(value: f64) -> String {
    format!("{value:.3} s")
}

fn file_size(bytes: usize) -> String {
    let kib = u64::try_from(bytes / 1024).unwrap_or(u64::MAX);
    if kib < 1024 {
        format!("{kib} KiB")
    } else {
        mebibytes(kib)
    }
}

fn mebibytes(kib: u64) -> String {
    let tenths = kib * 10 / 1024;
    format!("{}.{} MiB", tenths / 10, tenths % 10)
}

/// `1,000` for 1000.
fn thousands(n: u32) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

// ---------------------------------------------------------------------------
// Workloads.

/// How the tasks of a run workload depend on each other.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// No task needs another.
    Independent,
    /// Each task needs the one before it, across the whole plan.
    Chain,
}

struct RunWorkload {
    tasks: u32,
    phases: u32,
    shape: Shape,
    /// Run with `--state-sync full` (an fsync per commit).
    sync_full: bool,
}

impl RunWorkload {
    fn name(&self) -> String {
        let shape = match self.shape {
            Shape::Independent => "independent",
            Shape::Chain => "chain",
        };
        let sync = if self.sync_full {
            ", `--state-sync full`"
        } else {
            ""
        };
        if self.phases == 1 {
            format!("{shape}, 1 phase{sync}")
        } else {
            format!(
                "{shape}, {} phases × {}{sync}",
                self.phases,
                thousands(self.tasks / self.phases)
            )
        }
    }

    fn slug(&self) -> String {
        let shape = match self.shape {
            Shape::Independent => "independent",
            Shape::Chain => "chain",
        };
        let sync = if self.sync_full { "-full" } else { "" };
        format!(
            "run-{shape}-{}x{}{sync}",
            self.phases,
            self.tasks / self.phases
        )
    }

    /// The plan: `phases` phases of `tasks / phases` tasks, each `run: true`.
    fn plan(&self) -> String {
        let per_phase = self.tasks / self.phases;
        let mut yaml = format!("version: 1\nname: bench\n{POLICY}\nphases:\n");
        for phase in 0..self.phases {
            let _ = write!(yaml, "  - id: p{phase}\n    tasks:\n");
            for i in phase * per_phase..(phase + 1) * per_phase {
                let needs = if self.shape == Shape::Chain && i > 0 {
                    format!(", needs: [t{}]", i - 1)
                } else {
                    String::new()
                };
                let _ = writeln!(
                    yaml,
                    "      - {{id: t{i}, risk: low{needs}, run: {{shell: [\"true\"]}}}}"
                );
            }
        }
        yaml
    }

    /// The same workload for make: one phony target per task running `true`,
    /// a chain as prerequisites, and phases as barrier targets (every task of
    /// a phase needs all tasks of the phase before, as plangate runs phases
    /// strictly in order).
    fn makefile(&self) -> String {
        let per_phase = self.tasks / self.phases;
        let all: Vec<String> = (0..self.tasks).map(|i| format!("t{i}")).collect();
        let barriers: Vec<String> = (0..self.phases).map(|p| format!("phase{p}")).collect();
        let mut makefile = format!(
            ".PHONY: all {} {}\nall: {}\n",
            all.join(" "),
            barriers.join(" "),
            all.join(" ")
        );
        for phase in 0..self.phases {
            let members = &all[(phase * per_phase) as usize..((phase + 1) * per_phase) as usize];
            let _ = writeln!(makefile, "phase{phase}: {}", members.join(" "));
            for i in phase * per_phase..(phase + 1) * per_phase {
                let mut prerequisites = Vec::new();
                if phase > 0 {
                    prerequisites.push(format!("phase{}", phase - 1));
                }
                if self.shape == Shape::Chain && i > 0 {
                    prerequisites.push(format!("t{}", i - 1));
                }
                let _ = write!(makefile, "t{i}: {}\n\ttrue\n", prerequisites.join(" "));
            }
        }
        makefile
    }
}

/// A dry-run plan of the realistic shape: phases of 1,000 tasks, each task
/// after the first of its phase needing the task before it and every other
/// one also an earlier task of its phase chosen by a fixed pseudo-random
/// sequence, with estimates and a mix of risks.
fn dry_run_plan(tasks: u32) -> String {
    const PER_PHASE: u32 = 1_000;
    let mut yaml = format!("version: 1\nname: bench-dry-run\n{POLICY}\nphases:\n");
    let mut random: u64 = 0x2545_f491_4f6c_dd1d;
    for phase in 0..tasks.div_ceil(PER_PHASE) {
        let _ = write!(yaml, "  - id: p{phase}\n    budget: 10h\n    tasks:\n");
        let first = phase * PER_PHASE;
        for i in first..tasks.min(first + PER_PHASE) {
            random ^= random << 13;
            random ^= random >> 7;
            random ^= random << 17;
            let mut needs = Vec::new();
            if i > first {
                needs.push(format!("t{}", i - 1));
            }
            if i > first + 1 && i % 2 == 0 {
                let earlier = first + u32::try_from(random % u64::from(i - 1 - first)).unwrap_or(0);
                needs.push(format!("t{earlier}"));
            }
            let risk = if i % 10 == 0 { "medium" } else { "low" };
            let _ = writeln!(
                yaml,
                "      - {{id: t{i}, risk: {risk}, estimate: {}s, needs: [{}], run: {{shell: [\"true\"]}}}}",
                1 + random % 60,
                needs.join(", ")
            );
        }
    }
    yaml
}

/// A plan of two phases of `tasks / 2` no-op tasks where the last task of
/// the first phase is a gate: it writes the time it started (nanoseconds
/// since the epoch) to `gate-started`, then fails unless `gate-open` exists.
/// With `on_failure: stop`, a run of it stops with the first half done.
fn resume_plan(tasks: u32) -> String {
    let half = tasks / 2;
    let policy = POLICY.replace('}', ", on_failure: stop}");
    let mut yaml = format!("version: 1\nname: bench-resume\n{policy}\nphases:\n");
    for phase in 0..2 {
        let _ = write!(yaml, "  - id: p{phase}\n    tasks:\n");
        for i in phase * half..(phase + 1) * half {
            if i == half - 1 {
                let _ = writeln!(
                    yaml,
                    "      - {{id: gate, risk: low, run: {{shell: [sh, -c, 'date +%s%N > gate-started && test -e gate-open']}}}}"
                );
            } else {
                let _ = writeln!(
                    yaml,
                    "      - {{id: t{i}, risk: low, run: {{shell: [\"true\"]}}}}"
                );
            }
        }
    }
    yaml
}

/// A dry-run plan of issue 11's shape: phases of 1,000 tasks, each after the
/// first of its phase needing the one before it, every one `estimate: 30s`,
/// written in flow style as JSON (which is also YAML) when `json`, else in
/// block YAML. Both spell the same plan.
fn chained_plan(tasks: u32, json: bool) -> String {
    const PER_PHASE: u32 = 1_000;
    let phases = tasks.div_ceil(PER_PHASE);
    let mut text = if json {
        String::from(
            "{\"version\": 1, \"name\": \"bench-chained\", \"policy\": {\"max_tasks\": \"none\", \
             \"budget\": \"none\", \"require_rollback\": \"none\", \"concurrency\": 2},\n \"phases\": [\n",
        )
    } else {
        String::from(
            "version: 1\nname: bench-chained\npolicy:\n  max_tasks: none\n  budget: none\n  \
             require_rollback: none\n  concurrency: 2\nphases:\n",
        )
    };
    for phase in 0..phases {
        let first = phase * PER_PHASE;
        let last = tasks.min(first + PER_PHASE);
        if json {
            let _ = writeln!(text, "  {{\"id\": \"p{phase}\", \"tasks\": [");
        } else {
            let _ = write!(text, "  - id: p{phase}\n    tasks:\n");
        }
        for i in first..last {
            if json {
                let needs = if i > first {
                    format!("\"needs\": [\"t{}\"], ", i - 1)
                } else {
                    String::new()
                };
                let comma = if i + 1 < last { "," } else { "" };
                let _ = writeln!(
                    text,
                    "    {{\"id\": \"t{i}\", \"risk\": \"low\", \"estimate\": \"30s\", {needs}\"run\": {{\"shell\": [\"true\"]}}}}{comma}"
                );
            } else {
                let _ = write!(
                    text,
                    "      - id: t{i}\n        risk: low\n        estimate: 30s\n"
                );
                if i > first {
                    let _ = write!(text, "        needs:\n          - t{}\n", i - 1);
                }
                text.push_str("        run:\n          shell:\n            - \"true\"\n");
            }
        }
        if json {
            let comma = if phase + 1 < phases { "," } else { "" };
            let _ = writeln!(text, "  ]}}{comma}");
        }
    }
    if json {
        text.push_str(" ]}\n");
    }
    text
}

/// The time-to-first-task workload: `tasks` tasks where `t0` runs
/// `stamper --stamp stamp_file` and every other task, `true`, needs `t0`,
/// so that `t0` is the first process either plangate or make starts.
fn first_task_plan(tasks: u32, stamper: &Path, stamp_file: &Path) -> String {
    let mut yaml = format!(
        "version: 1\nname: bench-first-task\n{POLICY}\nphases:\n  - id: p0\n    tasks:\n      \
         - {{id: t0, risk: low, run: {{shell: [{:?}, {STAMP:?}, {:?}]}}}}\n",
        stamper.display().to_string(),
        stamp_file.display().to_string(),
    );
    for i in 1..tasks {
        let _ = writeln!(
            yaml,
            "      - {{id: t{i}, risk: low, needs: [t0], run: {{shell: [\"true\"]}}}}"
        );
    }
    yaml
}

/// The same for make: `t0`'s recipe runs the stamp (a command without shell
/// metacharacters, which make executes directly), every other target needs it.
fn first_task_makefile(tasks: u32, stamper: &Path, stamp_file: &Path) -> String {
    let all: Vec<String> = (0..tasks).map(|i| format!("t{i}")).collect();
    let mut makefile = format!(
        ".PHONY: all {all}\nall: {all}\nt0:\n\t{} {STAMP} {}\n",
        stamper.display(),
        stamp_file.display(),
        all = all.join(" "),
    );
    for i in 1..tasks {
        let _ = write!(makefile, "t{i}: t0\n\ttrue\n");
    }
    makefile
}

// ---------------------------------------------------------------------------
// The tables.

struct Bench<'a> {
    options: &'a Options,
    meter: Meter,
    scratch: PathBuf,
    make: bool,
    /// This executable, the stamping first task of the time-to-first-task
    /// workload.
    myself: PathBuf,
    /// Measurements whose command exited with an unexpected code.
    failures: Cell<usize>,
}

const MAKE: &str = "make";
const MAKE_ARGS: [&str; 3] = ["-r", "-s", "-j2"];

impl Bench<'_> {
    fn folder(&self, name: &str) -> Result<PathBuf> {
        let folder = self.scratch.join(name);
        fs::create_dir_all(&folder)?;
        Ok(folder)
    }

    fn plangate(&self) -> &Path {
        &self.options.plangate
    }

    /// Runs `jobs` one after the other, `rounds` times (A B A B ... for two),
    /// so that a drift of the machine's speed hits each alike. A job over the
    /// limit or failed is dropped from the later rounds; the others go on.
    fn interleave(&self, jobs: &[&Job<'_>], rounds: usize) -> Result<Vec<Series>> {
        let mut series: Vec<Series> = jobs.iter().map(|_| Series::Of(Vec::new())).collect();
        for round in 1..=rounds {
            for (job, series) in jobs.iter().zip(series.iter_mut()) {
                let Series::Of(samples) = series else {
                    continue;
                };
                note(&format!("{} ({round}/{rounds})", job.label));
                match self.meter.measure(job)? {
                    Outcome::Finished(sample) => samples.push(sample),
                    Outcome::TimedOut => {
                        note(&format!(
                            "{}: over the {} limit, killed",
                            job.label,
                            seconds(self.meter.timeout.as_secs_f64())
                        ));
                        *series = Series::OverLimit(self.meter.timeout);
                    }
                    Outcome::Failed(reason) => {
                        self.failures.set(self.failures.get() + 1);
                        *series = Series::Failed(reason);
                    }
                }
            }
        }
        Ok(series)
    }

    /// [`Self::interleave`] for `options.pairs` rounds, with the load average
    /// before and after, as a sentence for the table's introduction.
    fn rounds(&self, jobs: &[&Job<'_>]) -> Result<(Vec<Series>, String)> {
        let before = load_average();
        let series = self.interleave(jobs, self.options.pairs)?;
        Ok((series, format!("{before} before, {} after", load_average())))
    }

    /// `plangate validate FILE` in `folder`.
    fn validate_job<'b>(&'b self, folder: &'b Path, file: &str, what: &str) -> Job<'b> {
        Job::new(
            format!("validate {what}"),
            self.plangate(),
            &["validate", file],
            folder,
        )
    }

    fn header(&self) -> Result<String> {
        let cpu = fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|info| {
                info.lines()
                    .find_map(|line| line.strip_prefix("model name"))
                    .map(|rest| rest.trim_start_matches([' ', '\t', ':']).to_owned())
            })
            .unwrap_or_else(|| "unknown".to_owned());
        let kernel = fs::read_to_string("/proc/sys/kernel/osrelease")
            .map_or_else(|_| "unknown".to_owned(), |text| text.trim().to_owned());
        let cores = thread::available_parallelism().map_or(0, std::num::NonZero::get);
        let version = Command::new(self.plangate())
            .arg("--version")
            .output()
            .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())?;
        let make = if self.make {
            Command::new(MAKE).arg("--version").output().map(|output| {
                String::from_utf8_lossy(&output.stdout)
                    .lines()
                    .next()
                    .unwrap_or(MAKE)
                    .to_owned()
            })?
        } else {
            "not found (make columns are n/a)".to_owned()
        };
        let mut text = String::from("# plangate benchmark\n\n");
        let _ = writeln!(text, "- machine: {cores} cores, {cpu}, Linux {kernel}");
        let _ = writeln!(
            text,
            "- binary: `{}` ({version})",
            self.plangate().display()
        );
        let _ = writeln!(text, "- baseline: {make}");
        let _ = writeln!(
            text,
            "- each cell: min / median / max of {} interleaved pair(s) or round(s), unless it \
             says median; ratios are taken pair by pair; *plan load* is measured once; a \
             measurement is killed after {}",
            self.options.pairs,
            seconds(self.meter.timeout.as_secs_f64())
        );
        let _ = writeln!(
            text,
            "- peak memory: `ru_maxrss` from `wait4(2)` of the measured process (the largest \
             single process among it and the children it reaped, in practice plangate or make \
             itself), median over the rounds"
        );
        let _ = writeln!(
            text,
            "- *met*: `yes` when every pair (or round) met the target, `median only` when the \
             median did but not every pair, `no` otherwise"
        );
        let _ = writeln!(
            text,
            "- load average (1, 5, 15 min) at the start: {}\n",
            load_average()
        );
        Ok(text)
    }

    fn run_table(&self) -> Result<String> {
        let workload = |tasks, phases, shape, sync_full| RunWorkload {
            tasks,
            phases,
            shape,
            sync_full,
        };
        let mut workloads = vec![
            workload(1_000, 1, Shape::Independent, false),
            workload(1_000, 1, Shape::Chain, false),
            workload(1_000, 1, Shape::Independent, true),
            workload(2_000, 1, Shape::Independent, false),
        ];
        if !self.options.quick {
            workloads.extend([
                workload(10_000, 1, Shape::Independent, false),
                workload(10_000, 1, Shape::Chain, false),
                workload(10_000, 10, Shape::Independent, false),
            ]);
        }
        let mut rows = String::new();
        let mut loads = String::new();
        for workload in &workloads {
            let folder = self.folder(&workload.slug())?;
            fs::write(folder.join("plan.yaml"), workload.plan())?;
            fs::write(folder.join("Makefile"), workload.makefile())?;
            let name = workload.name();
            let tasks = workload.tasks;
            let what = format!("{name}, {} tasks", thousands(tasks));

            let state = folder.join("state.db");
            let remove = || remove_state(&state);
            let sync = if workload.sync_full { "full" } else { "normal" };
            let run_job = Job::new(
                format!("run {what}"),
                self.plangate(),
                &[
                    "run",
                    "plan.yaml",
                    "--state",
                    "state.db",
                    "--state-sync",
                    sync,
                ],
                &folder,
            )
            .prepare(&remove);
            let make_program = PathBuf::from(MAKE);
            let make_job = Job::new(
                format!("make -j2 {what}"),
                &make_program,
                &MAKE_ARGS,
                &folder,
            );
            let (series, load) = if self.make {
                self.rounds(&[&make_job, &run_job])?
            } else {
                self.rounds(&[&run_job])?
            };
            let (make, run) = match <[Series; 2]>::try_from(series) {
                Ok([make, run]) => (Some(make), run),
                Err(mut only) => (None, only.remove(0)),
            };
            let load_once =
                self.interleave(&[&self.validate_job(&folder, "plan.yaml", &what)], 1)?;
            let validate = load_once[0].time();
            let target = match (workload.shape, workload.sync_full, tasks) {
                (Shape::Independent, false, _) => Some(RUN_RATIO_TARGET),
                (Shape::Chain, false, 1_000) => Some(CHAIN_RATIO_TARGET),
                _ => None,
            };
            let (make_time, make_per_task, ratio, met) = match &make {
                None => ("n/a".to_owned(), "n/a".to_owned(), "n/a".to_owned(), "n/a"),
                Some(make) => {
                    let ratios = ratios(&run, make);
                    (
                        make.time(),
                        make.per_task(tasks),
                        ratio_cell(&ratios),
                        target.map_or("-", |target| verdict(&ratios, target)),
                    )
                }
            };
            let target = target.map_or_else(|| "-".to_owned(), |target| format!("<= {target}x"));
            let _ = writeln!(
                rows,
                "| {name} | {} | {} | {} | {} | {validate} | {make_time} | {make_per_task} | {ratio} | {target} | {met} |",
                thousands(tasks),
                run.time(),
                run.per_task(tasks),
                run.peak(),
            );
            let _ = writeln!(loads, "- {what}: {load}");
        }
        Ok(format!(
            "## `plangate run` against `make -r -s -j2`\n\n\
             No-op tasks (`run: {{shell: [\"true\"]}}`), concurrency 2, every task state change \
             committed to the SQLite state file (a fresh one for each run). make and plangate \
             run in turn, make first: {pairs} pair(s) per row; the ratio is plangate over make, \
             pair by pair. *Per task* is the median over the task count. *Plan load* is \
             `plangate validate` of the same plan, measured once: parsing and checking it, no \
             state file, nothing run.\n\n\
             | workload | tasks | plangate run | per task | peak RSS | plan load | make -j2 | per task | ratio to make | target | met |\n\
             | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |\n\
             {rows}\nLoad average (1, 5, 15 min) before and after each row's pairs:\n\n{loads}\n",
            pairs = self.options.pairs,
        ))
    }

    fn history_table(&self) -> Result<String> {
        let tasks: u32 = if self.options.quick { 1_000 } else { 10_000 };
        let earlier = self.options.history_runs;
        let workload = RunWorkload {
            tasks,
            phases: 1,
            shape: Shape::Independent,
            sync_full: false,
        };
        let folder = self.folder("history")?;
        fs::write(folder.join("plan.yaml"), workload.plan())?;
        let state = folder.join("state.db");
        let kept = self.folder("history-kept")?;
        let heading = format!(
            "## A {}-task run on a state file holding {earlier} earlier runs\n\n",
            thousands(tasks)
        );

        // The state file with the earlier runs, made once and copied before
        // every measurement.
        remove_state(&state)?;
        for run in 1..=earlier {
            let setup = Job::new(
                format!(
                    "setup: earlier run {run}/{earlier}, {} tasks",
                    thousands(tasks)
                ),
                self.plangate(),
                &["run", "plan.yaml", "--state", "state.db"],
                &folder,
            );
            note(&setup.label);
            let why_not = match self.meter.measure(&setup)? {
                Outcome::Finished(_) => continue,
                Outcome::TimedOut => format!(
                    "it was over the {} limit (raise `--timeout`)",
                    seconds(self.meter.timeout.as_secs_f64())
                ),
                Outcome::Failed(reason) => format!("it failed ({reason})"),
            };
            self.failures.set(self.failures.get() + 1);
            return Ok(format!(
                "{heading}Not measured: earlier run {run} of {earlier}, which fills the state \
                 file, did not finish: {why_not}.\n\n"
            ));
        }
        copy_state(&folder, &kept)?;
        let size = ["state.db", "state.db-wal"]
            .iter()
            .filter_map(|name| fs::metadata(kept.join(name)).ok())
            .map(|metadata| usize::try_from(metadata.len()).unwrap_or(usize::MAX))
            .sum::<usize>();

        let fresh = || remove_state(&state);
        let filled = || {
            remove_state(&state)?;
            copy_state(&kept, &folder)
        };
        let args = ["run", "plan.yaml", "--state", "state.db"];
        let fresh_job = Job::new(
            format!("run {} tasks, fresh state file", thousands(tasks)),
            self.plangate(),
            &args,
            &folder,
        )
        .prepare(&fresh);
        let filled_job = Job::new(
            format!("run {} tasks, {earlier} earlier runs", thousands(tasks)),
            self.plangate(),
            &args,
            &folder,
        )
        .prepare(&filled);
        let (series, load) = self.rounds(&[&fresh_job, &filled_job])?;
        let [fresh, filled] = <[Series; 2]>::try_from(series)
            .map_err(|_| "two series for two jobs, as interleave returns one per job")?;
        let ratios = ratios(&filled, &fresh);
        Ok(format!(
            "{heading}The plan of the independent {total}-task row of the first table. The state file of \
             {earlier} earlier complete runs of it ({size}) is made once and copied before each \
             measurement; a fresh state file is removed before each. The two runs take turns, \
             fresh first: {pairs} pair(s); the ratio is the filled file over the fresh one, pair \
             by pair. Load average (1, 5, 15 min): {load}.\n\n\
             | state file | plangate run | per task | peak RSS | ratio to fresh | target | met |\n\
             | --- | ---: | ---: | ---: | ---: | --- | --- |\n\
             | fresh | {} | {} | {} | - | - | - |\n\
             | {earlier} earlier runs | {} | {} | {} | {} | <= {HISTORY_RATIO_TARGET}x | {} |\n\n",
            fresh.time(),
            fresh.per_task(tasks),
            fresh.peak(),
            filled.time(),
            filled.per_task(tasks),
            filled.peak(),
            ratio_cell(&ratios),
            verdict(&ratios, HISTORY_RATIO_TARGET),
            total = thousands(tasks),
            size = file_size(size),
            pairs = self.options.pairs,
        ))
    }

    fn first_task_table(&self) -> Result<String> {
        const TASKS: u32 = 100;
        let folder = self.folder("first-task")?;
        let stamp_file = folder.join("first-task-started");
        fs::write(
            folder.join("plan.yaml"),
            first_task_plan(TASKS, &self.myself, &stamp_file),
        )?;
        fs::write(
            folder.join("Makefile"),
            first_task_makefile(TASKS, &self.myself, &stamp_file),
        )?;
        let state = folder.join("state.db");
        let fresh = || {
            remove_state(&state)?;
            remove_file(&stamp_file)
        };
        let unstamped = || remove_file(&stamp_file);
        let probe = |started_at| time_to_stamp(&stamp_file, started_at);
        let run_job = Job::new(
            format!("run {TASKS} tasks, time to first task"),
            self.plangate(),
            &["run", "plan.yaml", "--state", "state.db"],
            &folder,
        )
        .prepare(&fresh)
        .probe(&probe);
        let make_program = PathBuf::from(MAKE);
        let make_job = Job::new(
            format!("make -j2 {TASKS} tasks, time to first task"),
            &make_program,
            &MAKE_ARGS,
            &folder,
        )
        .prepare(&unstamped)
        .probe(&probe);
        let (series, load) = if self.make {
            self.rounds(&[&make_job, &run_job])?
        } else {
            self.rounds(&[&run_job])?
        };
        let (make, run) = match <[Series; 2]>::try_from(series) {
            Ok([make, run]) => (Some(make), run),
            Err(mut only) => (None, only.remove(0)),
        };
        let mut text = format!(
            "## Time to first task\n\n\
             A {TASKS}-task plan on a fresh state file: the first task runs this benchmark's \
             own executable as `plangate-bench {STAMP} FILE`, which writes the real-time clock \
             to `FILE` as it starts; the {others} others, `true`, need it, so it is the first \
             process either tool starts. *To first task* is from just before spawning the \
             command to that timestamp (both read the system's real-time clock), so it includes \
             the stamp's own exec and dynamic loading, which make pays alike. make and plangate \
             take turns, make first: {pairs} pair(s). Load average (1, 5, 15 min): {load}.\n\n\
             | command | to first task | whole run | peak RSS | target | met |\n\
             | --- | ---: | ---: | ---: | --- | --- |\n\
             | `plangate run` | {} | {} | {} | <= {target_ms} ms to first task | {} |\n",
            run.to_first_task(),
            run.time(),
            run.peak(),
            verdict(&run.first_task(), FIRST_TASK_TARGET),
            others = TASKS - 1,
            pairs = self.options.pairs,
            target_ms = FIRST_TASK_TARGET * 1000.0,
        );
        if let Some(make) = make {
            let _ = writeln!(
                text,
                "| `make -r -s -j2` | {} | {} | {} | - | - |",
                make.to_first_task(),
                make.time(),
                make.peak(),
            );
        }
        text.push('\n');
        Ok(text)
    }

    fn plan_table(&self) -> Result<String> {
        struct DryRun {
            shape: &'static str,
            tasks: u32,
            file: &'static str,
            text: String,
        }
        let large: u32 = if self.options.quick { 10_000 } else { 100_000 };
        let mut plans = Vec::new();
        let random_sizes: &[u32] = if self.options.quick {
            &[10_000]
        } else {
            &[1_000, 10_000, 100_000]
        };
        for &tasks in random_sizes {
            plans.push(DryRun {
                shape: "random needs, block YAML of flow tasks",
                tasks,
                file: "plan.yaml",
                text: dry_run_plan(tasks),
            });
        }
        plans.push(DryRun {
            shape: "chained, flow style (JSON)",
            tasks: large,
            file: "plan.json",
            text: chained_plan(large, true),
        });
        plans.push(DryRun {
            shape: "chained, block YAML",
            tasks: large,
            file: "plan.yaml",
            text: chained_plan(large, false),
        });

        let mut rows = String::new();
        let mut loads = String::new();
        for (index, plan) in plans.iter().enumerate() {
            let folder = self.folder(&format!("plan-{index}-{}", plan.tasks))?;
            fs::write(folder.join(plan.file), &plan.text)?;
            let what = format!("{}, {} tasks", plan.shape, thousands(plan.tasks));
            let plan_job = Job::new(
                format!("plan --format json {what}"),
                self.plangate(),
                &[
                    "plan",
                    plan.file,
                    "--format",
                    "json",
                    "--output",
                    "report.json",
                ],
                &folder,
            );
            let validate_job = self.validate_job(&folder, plan.file, &what);
            let (series, load) = self.rounds(&[&plan_job, &validate_job])?;
            let [dry_run, validate] = <[Series; 2]>::try_from(series)
                .map_err(|_| "two series for two jobs, as interleave returns one per job")?;
            // The targets are for 100,000 tasks; smaller sizes show how it scales.
            let (target, met) = if plan.tasks == 100_000 {
                let memory = match dry_run.median_peak_kib() {
                    Some(kib) if kib <= PLAN_MEMORY_TARGET_KIB => "memory yes",
                    Some(_) => "memory no",
                    None => "memory n/a",
                };
                (
                    format!("<= {PLAN_TARGET} s, <= 250 MiB"),
                    format!("time {}, {memory}", dry_run.meets(PLAN_TARGET)),
                )
            } else {
                ("at 100,000 tasks".to_owned(), "-".to_owned())
            };
            let _ = writeln!(
                rows,
                "| {} | {} | {} | {} | {} | {} | {} | {target} | {met} |",
                plan.shape,
                thousands(plan.tasks),
                file_size(plan.text.len()),
                dry_run.time(),
                dry_run.peak(),
                validate.time(),
                validate.peak(),
            );
            let _ = writeln!(loads, "- {what}: {load}");
        }
        Ok(format!(
            "## `plangate plan PLAN --format json` (dry run) and `plangate validate`\n\n\
             Phases of 1,000 tasks. *Random needs*: each task needs the one before it in its \
             phase and every other task also a pseudo-random earlier task of its phase \
             (a fixed sequence), estimates of 1-60 s, one task in ten of medium risk, each task \
             a flow mapping on one line of a block-YAML document. *Chained*: each task needs the \
             one before it in its phase, `estimate: 30s`, the same plan written once as JSON and \
             once in block YAML. The report goes to a file (`--output`). The dry run and \
             `validate` of the same plan take turns: {pairs} round(s) each.\n\n\
             | plan | tasks | plan file | `plan` | peak RSS | `validate` | peak RSS | target | met |\n\
             | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |\n\
             {rows}\nLoad average (1, 5, 15 min) before and after each row's rounds:\n\n{loads}\n",
            pairs = self.options.pairs,
        ))
    }

    fn resume_table(&self) -> Result<String> {
        let tasks: u32 = if self.options.quick { 1_000 } else { 10_000 };
        let half = tasks / 2;
        let folder = self.folder("resume")?;
        fs::write(folder.join("plan.yaml"), resume_plan(tasks))?;
        let state = folder.join("state.db");
        let gate_open = folder.join("gate-open");
        let gate_started = folder.join("gate-started");
        let stopped = self.folder("resume-stopped-run")?;

        // The half-done run, made once and copied before every measurement.
        let setup = Job::new(
            format!("setup: run stopped at the gate, {} tasks", thousands(tasks)),
            self.plangate(),
            &["run", "plan.yaml", "--state", "state.db"],
            &folder,
        )
        .expect_exit(1);
        remove_file(&gate_open)?;
        remove_state(&state)?;
        note(&setup.label);
        let why_not = match self.meter.measure(&setup)? {
            Outcome::Finished(_) => None,
            Outcome::TimedOut => Some(format!(
                "it was over the {} limit (raise `--timeout`)",
                seconds(self.meter.timeout.as_secs_f64())
            )),
            Outcome::Failed(reason) => Some(format!("it failed ({reason})")),
        };
        if let Some(why_not) = why_not {
            self.failures.set(self.failures.get() + 1);
            return Ok(format!(
                "## `plangate resume` of a half-done run\n\n\
                 Not measured: the run that should stop at the gate did not, {why_not}.\n\n"
            ));
        }
        copy_state(&folder, &stopped)?;

        let restore = |open: bool| -> Result<()> {
            remove_state(&state)?;
            copy_state(&stopped, &folder)?;
            remove_file(&gate_started)?;
            if open {
                fs::write(&gate_open, "")?;
            } else {
                remove_file(&gate_open)?;
            }
            Ok(())
        };
        let closed_gate = || restore(false);
        let open_gate = || restore(true);
        let probe = |started_at| time_to_stamp(&gate_started, started_at);
        let resume_args = ["resume", "--state", "state.db"];
        let closed_job = Job::new(
            format!("resume, gate still closed, {} tasks", thousands(tasks)),
            self.plangate(),
            &resume_args,
            &folder,
        )
        .expect_exit(1)
        .prepare(&closed_gate)
        .probe(&probe);
        let open_job = Job::new(
            format!("resume, gate open, {} tasks", thousands(tasks)),
            self.plangate(),
            &resume_args,
            &folder,
        )
        .prepare(&open_gate)
        .probe(&probe);
        let what = format!("resume plan, {} tasks", thousands(tasks));
        let validate_job = self.validate_job(&folder, "plan.yaml", &what);
        let (series, load) = self.rounds(&[&closed_job, &open_job, &validate_job])?;
        let [closed, open, validate] = <[Series; 3]>::try_from(series)
            .map_err(|_| "three series for three jobs, as interleave returns one per job")?;

        let mut text = format!(
            "## `plangate resume` of a half-done run\n\n\
             A {total}-task plan in two phases of {half}; the last task of the first phase is a \
             gate (`sh -c 'date +%s%N > gate-started && test -e gate-open'`) and \
             `on_failure: stop`. `plangate run` stops there with {done} tasks succeeded, the gate \
             failed and {half} pending; that state file is copied before each measurement. \
             *Gate closed*: `resume` loads the run, reconciles it, runs the gate again, which \
             fails, and stops: the cost of resuming a {total}-task run plus one process. *Gate \
             open*: `resume` runs the gate and the {half} remaining tasks to the end. *To first \
             task* is from spawning `plangate resume` to the gate's `date` (so it includes the \
             start of `sh` and `date`). The last row is `plangate validate` of the same plan. \
             The three take turns: {pairs} round(s). Load average (1, 5, 15 min): {load}.\n\n\
             | resume | time | to first task | peak RSS | target | met |\n\
             | --- | ---: | ---: | ---: | --- | --- |\n",
            total = thousands(tasks),
            half = thousands(half),
            done = thousands(half - 1),
            pairs = self.options.pairs,
        );
        // The target is for a 10,000-task run; `--quick` resumes a smaller one.
        let (target, met) = if tasks == 10_000 {
            (format!("<= {RESUME_TARGET} s"), closed.meets(RESUME_TARGET))
        } else {
            (format!("<= {RESUME_TARGET} s at 10,000 tasks"), "-")
        };
        let _ = writeln!(
            text,
            "| gate closed (load, reconcile, 1 task, stop) | {} | {} | {} | {target} | {met} |",
            closed.time(),
            closed.to_first_task(),
            closed.peak(),
        );
        let _ = writeln!(
            text,
            "| gate open ({} tasks to the end) | {} | {} | {} | - | - |",
            thousands(half),
            open.time(),
            open.to_first_task(),
            open.peak(),
        );
        let _ = writeln!(
            text,
            "| for comparison: plan load alone (`plangate validate`) | {} | - | {} | - | - |",
            validate.time(),
            validate.peak(),
        );
        text.push('\n');
        Ok(text)
    }
}

fn remove_file(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error.into()),
        _ => Ok(()),
    }
}

fn remove_state(state: &Path) -> Result<()> {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut path = state.as_os_str().to_owned();
        path.push(suffix);
        remove_file(Path::new(&path))?;
    }
    Ok(())
}

/// Copies `state.db` and its WAL files, if any, from one folder to another.
fn copy_state(from: &Path, to: &Path) -> Result<()> {
    for name in ["state.db", "state.db-wal", "state.db-shm"] {
        let source = from.join(name);
        if source.exists() {
            fs::copy(&source, to.join(name))?;
        }
    }
    Ok(())
}

/// The time from `started_at` to the nanoseconds since the epoch written in
/// `file`.
fn time_to_stamp(file: &Path, started_at: SystemTime) -> Option<Duration> {
    let nanos: u64 = fs::read_to_string(file).ok()?.trim().parse().ok()?;
    let stamped = UNIX_EPOCH + Duration::from_nanos(nanos);
    stamped.duration_since(started_at).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_of_odd_and_even_counts() {
        let odd = Spread::of(&[3.0, 1.0, 2.0]).expect("three values have a spread");
        assert_eq!((odd.min, odd.median, odd.max), (1.0, 2.0, 3.0));
        let even = Spread::of(&[4.0, 1.0, 2.0, 3.0]).expect("four values have a spread");
        assert_eq!((even.min, even.median, even.max), (1.0, 2.5, 4.0));
        assert!(Spread::of(&[]).is_none());
    }

    #[test]
    fn verdict_needs_every_pair_for_yes() {
        assert_eq!(verdict(&[1.1, 1.2, 1.4], 1.5), "yes");
        assert_eq!(verdict(&[1.1, 1.2, 1.6], 1.5), "median only");
        assert_eq!(verdict(&[1.6, 1.7, 1.1], 1.5), "no");
        assert_eq!(verdict(&[], 1.5), "n/a");
    }

    #[test]
    fn ratios_are_pair_by_pair() {
        let sample = |millis| Sample {
            wall: Duration::from_millis(millis),
            peak_kib: 0,
            to_first_task: None,
        };
        let measured = Series::Of(vec![sample(3_000), sample(1_000)]);
        let baseline = Series::Of(vec![sample(1_000), sample(1_000)]);
        assert_eq!(ratios(&measured, &baseline), vec![3.0, 1.0]);
    }

    #[test]
    fn chained_plan_in_json_is_json() {
        let text = chained_plan(2_001, true);
        let plan: serde_json::Value = serde_json::from_str(&text).expect("the plan is JSON");
        let phases = plan["phases"].as_array().expect("phases is an array");
        assert_eq!(phases.len(), 3);
        assert_eq!(phases[2]["tasks"].as_array().map(Vec::len), Some(1));
        assert_eq!(phases[1]["tasks"][1]["needs"][0], "t1000");
    }

    #[test]
    fn thousands_separates_groups() {
        assert_eq!(thousands(100_000), "100,000");
        assert_eq!(thousands(999), "999");
    }
}
