//! `plangate-bench`: wall time and peak memory of the real `plangate` binary.
//!
//! Every measurement spawns the release binary on a generated plan in a
//! temporary folder, exactly as a user would, and prints Markdown tables:
//!
//! 1. `plangate run` of no-op `shell` tasks (`true`), independent and chained,
//!    every task state change checkpointed to SQLite (the default), next to
//!    `make -j2` running the same tasks from a generated Makefile, and next to
//!    `plangate validate` of the same plan, which isolates the cost of loading
//!    the plan from the cost of executing it;
//! 2. `plangate plan PLAN --format json`, the dry run, on a large plan;
//! 3. `plangate resume` of a run stopped halfway by a failing gate task.
//!
//! Wall time is `Instant` around the spawned process. Peak memory is the
//! child's maximum resident set size as GNU `time -f %M` reports it (the
//! kernel's `ru_maxrss` of the waited child and its reaped descendants), or,
//! without GNU time, the largest `VmHWM` read from `/proc/PID/status` while
//! polling. Each measurement is repeated (three times, once with `--quick`)
//! and the median is reported; a measurement that exceeds `--timeout` has its
//! process group killed and is reported as over the limit.
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
    path::{Path, PathBuf},
    process::{Command, ExitCode, Stdio},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
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

/// The brief's targets.
const MAKE_RATIO_TARGET: f64 = 2.0;
const PLAN_TARGET: Duration = Duration::from_secs(1);
const RESUME_TARGET: Duration = Duration::from_millis(500);

const USAGE: &str = "\
usage: plangate-bench [--plangate PATH] [--quick] [--out FILE] [--timeout SECONDS]

  --plangate PATH    the plangate binary (default: `plangate` next to this
                     executable, else target/release/plangate)
  --quick            one repetition and only the 1,000-task workloads (plus a
                     10,000-task dry run), to finish in about a minute
  --out FILE         also write the Markdown tables to FILE
  --timeout SECONDS  kill a measurement after this long and report it as over
                     the limit (default: 120, or 20 with --quick)
";

fn main() -> ExitCode {
    let options = match Options::parse(env::args().skip(1)) {
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

/// Command-line options.
struct Options {
    plangate: PathBuf,
    quick: bool,
    out: Option<PathBuf>,
    timeout: Duration,
}

impl Options {
    /// `Ok(None)` for `--help`.
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Option<Self>> {
        let mut plangate = None;
        let mut quick = false;
        let mut out = None;
        let mut timeout = None;
        while let Some(arg) = args.next() {
            let mut value =
                |name: &str| args.next().ok_or_else(|| format!("`{name}` needs a value"));
            match arg.as_str() {
                "--plangate" => plangate = Some(PathBuf::from(value("--plangate")?)),
                "--quick" => quick = true,
                "--out" => out = Some(PathBuf::from(value("--out")?)),
                "--timeout" => {
                    let text = value("--timeout")?;
                    let seconds: u64 = text
                        .parse()
                        .map_err(|_| format!("`--timeout` takes whole seconds, not `{text}`"))?;
                    timeout = Some(Duration::from_secs(seconds.max(1)));
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
        }))
    }

    fn repetitions(&self) -> usize {
        if self.quick { 1 } else { 3 }
    }
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
    let meter = Meter::new(options.timeout, scratch.path());
    let make = make_available();
    let bench = Bench {
        options,
        meter,
        scratch: scratch.path().to_owned(),
        make,
        failures: Cell::new(0),
    };
    let mut markdown = bench.header()?;
    markdown.push_str(&bench.run_table()?);
    markdown.push_str(&bench.plan_table()?);
    markdown.push_str(&bench.resume_table()?);
    io::stdout().lock().write_all(markdown.as_bytes())?;
    if let Some(out) = &options.out {
        fs::write(out, &markdown)
            .map_err(|error| format!("cannot write `{}`: {error}", out.display()))?;
    }
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

/// Progress of the benchmark itself, on stderr.
fn note(message: &str) {
    let _ = writeln!(io::stderr().lock(), "plangate-bench: {message}");
}

// ---------------------------------------------------------------------------
// Measuring one process.

/// How peak memory is read.
#[derive(Clone, Copy, PartialEq, Eq)]
enum MemoryMethod {
    /// `/usr/bin/time -f %M -o FILE`: the kernel's `ru_maxrss` of the child.
    GnuTime,
    /// `VmHWM` of `/proc/PID/status`, polled every [`POLL_INTERVAL`].
    PolledHighWaterMark,
}

const GNU_TIME: &str = "/usr/bin/time";
const POLL_INTERVAL: Duration = Duration::from_millis(5);

impl MemoryMethod {
    fn detect(scratch: &Path) -> Self {
        let probe = scratch.join("time-probe");
        let works = Command::new(GNU_TIME)
            .args(["-f", "%M", "-o"])
            .arg(&probe)
            .arg("true")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
            && read_kib(&probe).is_some();
        if works {
            Self::GnuTime
        } else {
            Self::PolledHighWaterMark
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Self::GnuTime => {
                "`/usr/bin/time -f %M`: the kernel's `ru_maxrss` of the measured process and \
                 its reaped children (the largest single process, in practice plangate or make \
                 itself)"
            }
            Self::PolledHighWaterMark => {
                "the largest `VmHWM` of `/proc/PID/status`, polled every 5 ms (a lower bound: \
                 growth in the last interval before exit is missed; children are not counted)"
            }
        }
    }
}

fn read_kib(path: &Path) -> Option<u64> {
    fs::read_to_string(path)
        .ok()?
        .lines()
        .rev()
        .find_map(|line| line.trim().parse().ok())
}

/// One completed measurement.
#[derive(Clone, Copy)]
struct Sample {
    wall: Duration,
    peak_kib: Option<u64>,
    /// For `resume`: from spawning plangate to the gate task's start, as the
    /// gate recorded it.
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

/// A command to measure, run in `cwd` with stdout and stderr to files there.
struct Job<'a> {
    label: &'a str,
    program: &'a Path,
    args: Vec<String>,
    cwd: &'a Path,
    expected_exit: i32,
}

struct Meter {
    method: MemoryMethod,
    timeout: Duration,
    rss_file: PathBuf,
}

impl Meter {
    fn new(timeout: Duration, scratch: &Path) -> Self {
        Self {
            method: MemoryMethod::detect(scratch),
            timeout,
            rss_file: scratch.join("peak-rss"),
        }
    }

    /// Runs `job` once. A wrong exit code is an error, with the tail of the
    /// process's stderr: a benchmark of a failing command measures nothing.
    ///
    /// `probe` is given the time the process was spawned, once it has exited,
    /// and may read what the process left behind.
    fn measure(
        &self,
        job: &Job<'_>,
        probe: impl FnOnce(SystemTime) -> Option<Duration>,
    ) -> Result<Outcome> {
        let stdout = job.cwd.join("stdout.txt");
        let stderr = job.cwd.join("stderr.txt");
        let mut command = match self.method {
            MemoryMethod::GnuTime => {
                let _ = fs::remove_file(&self.rss_file);
                let mut command = Command::new(GNU_TIME);
                command
                    .args(["-f", "%M", "-o"])
                    .arg(&self.rss_file)
                    .arg(job.program);
                command
            }
            MemoryMethod::PolledHighWaterMark => Command::new(job.program),
        };
        command
            .args(&job.args)
            .current_dir(job.cwd)
            .stdin(Stdio::null())
            .stdout(fs::File::create(&stdout)?)
            .stderr(fs::File::create(&stderr)?);
        // Its own process group, so that a timeout kills plangate and its
        // children, not only the `time` wrapper.
        std::os::unix::process::CommandExt::process_group(&mut command, 0);

        let started_at = SystemTime::now();
        let start = Instant::now();
        let mut child = command
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
        let polled_peak = Arc::new(AtomicU64::new(0));
        let exited = Arc::new(AtomicBool::new(false));
        let poller = (self.method == MemoryMethod::PolledHighWaterMark).then(|| {
            let polled_peak = Arc::clone(&polled_peak);
            let stop = Arc::clone(&exited);
            let status = PathBuf::from(format!("/proc/{pid}/status"));
            thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let Ok(text) = fs::read_to_string(&status) else {
                        break;
                    };
                    // A zombie has no `VmHWM` line: the process has exited.
                    let Some(kib) = high_water_mark(&text) else {
                        break;
                    };
                    polled_peak.fetch_max(kib, Ordering::SeqCst);
                    thread::sleep(POLL_INTERVAL);
                }
            })
        });
        let status = child.wait()?;
        let wall = start.elapsed();
        // The pid is reaped and may be reused: stop polling it.
        exited.store(true, Ordering::SeqCst);
        let _ = done.send(());
        let _ = watchdog.join();
        if let Some(poller) = poller {
            let _ = poller.join();
        }
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
        let peak_kib = match self.method {
            MemoryMethod::GnuTime => read_kib(&self.rss_file),
            MemoryMethod::PolledHighWaterMark => {
                Some(polled_peak.load(Ordering::SeqCst)).filter(|&kib| kib > 0)
            }
        };
        Ok(Outcome::Finished(Sample {
            wall,
            peak_kib,
            to_first_task: probe(started_at),
        }))
    }
}

fn high_water_mark(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// The median of repeated measurements, or why there is none: the first
/// repetition over the limit or failed ends the series.
#[derive(Clone)]
enum Median {
    Of(Sample),
    OverLimit(Duration),
    Failed(String),
}

impl Median {
    fn wall(&self) -> Option<Duration> {
        match self {
            Self::Of(sample) => Some(sample.wall),
            Self::OverLimit(_) | Self::Failed(_) => None,
        }
    }

    fn time(&self) -> String {
        match self {
            Self::Of(sample) => seconds(sample.wall),
            Self::OverLimit(limit) => format!("> {} (killed)", seconds(*limit)),
            Self::Failed(reason) => format!("failed ({reason})"),
        }
    }

    fn per_task(&self, tasks: u32) -> String {
        match self {
            Self::Of(sample) => per_task(sample.wall, tasks),
            Self::OverLimit(limit) => format!("> {}", per_task(*limit, tasks)),
            Self::Failed(_) => "n/a".to_owned(),
        }
    }

    fn peak(&self) -> String {
        match self {
            Self::Of(Sample {
                peak_kib: Some(kib),
                ..
            }) => mebibytes(*kib),
            _ => "n/a".to_owned(),
        }
    }

    /// The median sample's time to its first task (see [`Sample::to_first_task`]).
    fn to_first_task(&self) -> String {
        match self {
            Self::Of(Sample {
                to_first_task: Some(duration),
                ..
            }) => seconds(*duration),
            _ => "n/a".to_owned(),
        }
    }

    /// `yes` or `no` against a time target; `n/a` when the command failed.
    fn meets(&self, target: Duration) -> &'static str {
        match self {
            Self::Of(sample) if sample.wall <= target => "yes",
            Self::Of(_) | Self::OverLimit(_) => "no",
            Self::Failed(_) => "n/a",
        }
    }
}

fn median(mut samples: Vec<Sample>) -> Sample {
    samples.sort_by_key(|sample| sample.wall);
    samples[samples.len() / 2]
}

fn seconds(duration: Duration) -> String {
    format!("{:.3} s", duration.as_secs_f64())
}

fn per_task(duration: Duration, tasks: u32) -> String {
    format!(
        "{:.3} ms",
        duration.as_secs_f64() * 1000.0 / f64::from(tasks)
    )
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

// ---------------------------------------------------------------------------
// The tables.

struct Bench<'a> {
    options: &'a Options,
    meter: Meter,
    scratch: PathBuf,
    make: bool,
    /// Measurements whose command exited with an unexpected code.
    failures: Cell<usize>,
}

impl Bench<'_> {
    fn folder(&self, name: &str) -> Result<PathBuf> {
        let folder = self.scratch.join(name);
        fs::create_dir_all(&folder)?;
        Ok(folder)
    }

    fn plangate(&self) -> &Path {
        &self.options.plangate
    }

    /// `plangate validate plan.yaml` in `folder`: the cost of loading the plan
    /// alone, which every other command pays first. Measured once: it explains
    /// the other numbers and is not a result of its own.
    fn plan_load(&self, folder: &Path, what: &str) -> Result<Median> {
        let label = format!("validate {what}");
        let job = Job {
            label: &label,
            program: self.plangate(),
            args: vec!["validate".to_owned(), "plan.yaml".to_owned()],
            cwd: folder,
            expected_exit: 0,
        };
        self.repeat_probed(&job, 1, || Ok(()), |_| None)
    }

    /// Measures 3 times (once with `--quick`), after `prepare` each time, and
    /// takes the median; stops at the first repetition over the limit or failed.
    fn repeat(&self, job: &Job<'_>, prepare: impl FnMut() -> Result<()>) -> Result<Median> {
        self.repeat_probed(job, self.options.repetitions(), prepare, |_| None)
    }

    /// [`Self::repeat`], `repetitions` times, with a [`Meter::measure`] probe.
    fn repeat_probed(
        &self,
        job: &Job<'_>,
        repetitions: usize,
        mut prepare: impl FnMut() -> Result<()>,
        probe: impl Fn(SystemTime) -> Option<Duration>,
    ) -> Result<Median> {
        let mut samples = Vec::new();
        for repetition in 1..=repetitions {
            prepare()?;
            note(&format!("{} ({repetition}/{repetitions})", job.label));
            match self.meter.measure(job, &probe)? {
                Outcome::Finished(sample) => samples.push(sample),
                Outcome::TimedOut => {
                    note(&format!(
                        "{}: over the {} limit, killed",
                        job.label,
                        seconds(self.meter.timeout)
                    ));
                    return Ok(Median::OverLimit(self.meter.timeout));
                }
                Outcome::Failed(reason) => {
                    self.failures.set(self.failures.get() + 1);
                    return Ok(Median::Failed(reason));
                }
            }
        }
        Ok(Median::Of(median(samples)))
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
            Command::new("make")
                .arg("--version")
                .output()
                .map(|output| {
                    String::from_utf8_lossy(&output.stdout)
                        .lines()
                        .next()
                        .unwrap_or("make")
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
        let repetitions = match self.options.repetitions() {
            1 => "one measurement (`--quick`)".to_owned(),
            n => format!("median of {n} measurements (*plan load*: one)"),
        };
        let _ = writeln!(
            text,
            "- each cell: {repetitions}; a measurement is killed after {}",
            seconds(self.meter.timeout)
        );
        let _ = writeln!(text, "- peak memory: {}\n", self.meter.method.describe());
        Ok(text)
    }

    fn run_table(&self) -> Result<String> {
        let mut workloads = vec![
            RunWorkload {
                tasks: 1_000,
                phases: 1,
                shape: Shape::Independent,
                sync_full: false,
            },
            RunWorkload {
                tasks: 1_000,
                phases: 1,
                shape: Shape::Chain,
                sync_full: false,
            },
            RunWorkload {
                tasks: 1_000,
                phases: 1,
                shape: Shape::Independent,
                sync_full: true,
            },
        ];
        if !self.options.quick {
            workloads.extend([
                RunWorkload {
                    tasks: 10_000,
                    phases: 1,
                    shape: Shape::Independent,
                    sync_full: false,
                },
                RunWorkload {
                    tasks: 10_000,
                    phases: 1,
                    shape: Shape::Chain,
                    sync_full: false,
                },
                RunWorkload {
                    tasks: 10_000,
                    phases: 10,
                    shape: Shape::Independent,
                    sync_full: false,
                },
            ]);
        }
        let mut text = String::from(
            "## `plangate run` against `make -j2`\n\n\
             No-op tasks (`run: {shell: [\"true\"]}`), concurrency 2, every task state change \
             committed to the SQLite state file. *Plan load* is `plangate validate` of the same \
             plan, measured once: parsing and checking it, no state file, nothing run.\n\n\
             | workload | tasks | plangate run | per task | peak RSS | plan load | make -j2 | per task | ratio to make | within 2x |\n\
             | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n",
        );
        for workload in &workloads {
            let folder = self.folder(&workload.slug())?;
            let plan_path = folder.join("plan.yaml");
            fs::write(&plan_path, workload.plan())?;
            fs::write(folder.join("Makefile"), workload.makefile())?;
            let name = workload.name();
            let tasks = workload.tasks;

            let state = folder.join("state.db");
            let run_label = format!("run {}, {} tasks", name, thousands(tasks));
            let run_job = Job {
                label: &run_label,
                program: self.plangate(),
                args: [
                    "run",
                    "plan.yaml",
                    "--state",
                    "state.db",
                    "--state-sync",
                    if workload.sync_full { "full" } else { "normal" },
                ]
                .map(str::to_owned)
                .to_vec(),
                cwd: &folder,
                expected_exit: 0,
            };
            let run = self.repeat(&run_job, || remove_state(&state))?;

            let validate =
                self.plan_load(&folder, &format!("{}, {} tasks", name, thousands(tasks)))?;

            let make = if self.make {
                let make_label = format!("make -j2 {}, {} tasks", name, thousands(tasks));
                let make_program = PathBuf::from("make");
                let make_job = Job {
                    label: &make_label,
                    program: &make_program,
                    args: vec!["-r".to_owned(), "-s".to_owned(), "-j2".to_owned()],
                    cwd: &folder,
                    expected_exit: 0,
                };
                Some(self.repeat(&make_job, || Ok(()))?)
            } else {
                None
            };
            let (make_time, make_per_task, ratio, within) = match make {
                None => ("n/a".to_owned(), "n/a".to_owned(), "n/a".to_owned(), "n/a"),
                Some(make) => {
                    let (ratio, within) = match (run.wall(), make.wall()) {
                        (Some(run), Some(make)) => {
                            let ratio = run.as_secs_f64() / make.as_secs_f64();
                            (
                                format!("{ratio:.2}x"),
                                if ratio <= MAKE_RATIO_TARGET {
                                    "yes"
                                } else {
                                    "no"
                                },
                            )
                        }
                        (None, Some(_)) => ("n/a (run over limit)".to_owned(), "no"),
                        (_, None) => ("n/a (make over limit)".to_owned(), "n/a"),
                    };
                    (make.time(), make.per_task(tasks), ratio, within)
                }
            };
            let _ = writeln!(
                text,
                "| {name} | {} | {} | {} | {} | {} | {make_time} | {make_per_task} | {ratio} | {within} |",
                thousands(tasks),
                run.time(),
                run.per_task(tasks),
                run.peak(),
                validate.time(),
            );
        }
        text.push('\n');
        Ok(text)
    }

    fn plan_table(&self) -> Result<String> {
        let sizes: &[u32] = if self.options.quick {
            &[10_000]
        } else {
            &[1_000, 10_000, 100_000]
        };
        let mut text = String::from(
            "## `plangate plan PLAN --format json` (dry run)\n\n\
             Phases of 1,000 tasks; each task needs the one before it in its phase and every \
             other task also a pseudo-random earlier task of its phase; estimates of 1-60 s; one \
             task in ten of medium risk. The JSON goes to a file. *Plan load* is `plangate \
             validate` of the same plan, measured once (not at all when the dry run is over the limit).\n\n\
             | tasks | plan file | time | peak RSS | plan load | target | met |\n\
             | ---: | ---: | ---: | ---: | ---: | --- | --- |\n",
        );
        for &tasks in sizes {
            let folder = self.folder(&format!("plan-{tasks}"))?;
            let yaml = dry_run_plan(tasks);
            fs::write(folder.join("plan.yaml"), &yaml)?;
            let label = format!("plan --format json, {} tasks", thousands(tasks));
            let job = Job {
                label: &label,
                program: self.plangate(),
                args: vec![
                    "plan".to_owned(),
                    "plan.yaml".to_owned(),
                    "--format".to_owned(),
                    "json".to_owned(),
                ],
                cwd: &folder,
                expected_exit: 0,
            };
            let plan = self.repeat(&job, || Ok(()))?;
            let load = match &plan {
                Median::Of(_) => self
                    .plan_load(
                        &folder,
                        &format!("dry-run plan, {} tasks", thousands(tasks)),
                    )?
                    .time(),
                Median::OverLimit(_) | Median::Failed(_) => "not measured".to_owned(),
            };
            // The target is for 100,000 tasks; smaller sizes show how it scales.
            let (target, met) = if tasks == 100_000 {
                ("< 1 s", plan.meets(PLAN_TARGET))
            } else {
                ("< 1 s at 100,000 tasks", "-")
            };
            let _ = writeln!(
                text,
                "| {} | {} | {} | {} | {load} | {target} | {met} |",
                thousands(tasks),
                file_size(yaml.len()),
                plan.time(),
                plan.peak(),
            );
        }
        text.push('\n');
        Ok(text)
    }

    fn resume_table(&self) -> Result<String> {
        let tasks: u32 = if self.options.quick { 1_000 } else { 10_000 };
        let half = tasks / 2;
        let folder = self.folder("resume")?;
        fs::write(folder.join("plan.yaml"), resume_plan(tasks))?;
        let state = folder.join("state.db");
        let gate_open = folder.join("gate-open");
        let gate_started = folder.join("gate-started");
        let stopped = self.scratch.join("resume-stopped-run");
        fs::create_dir_all(&stopped)?;

        // The half-done run, made once and copied before every measurement.
        let setup_label = format!("setup: run stopped at the gate, {} tasks", thousands(tasks));
        let setup = Job {
            label: &setup_label,
            program: self.plangate(),
            args: vec![
                "run".to_owned(),
                "plan.yaml".to_owned(),
                "--state".to_owned(),
                "state.db".to_owned(),
            ],
            cwd: &folder,
            expected_exit: 1,
        };
        let _ = fs::remove_file(&gate_open);
        remove_state(&state)?;
        note(&setup_label);
        let why_not = match self.meter.measure(&setup, |_| None)? {
            Outcome::Finished(_) => None,
            Outcome::TimedOut => Some(format!(
                "it was over the {} limit (raise `--timeout`)",
                seconds(self.meter.timeout)
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

        let resume_args = vec![
            "resume".to_owned(),
            "--state".to_owned(),
            "state.db".to_owned(),
        ];
        let restore = |open: bool| {
            remove_state(&state)?;
            copy_state(&stopped, &folder)?;
            let _ = fs::remove_file(&gate_started);
            if open {
                fs::write(&gate_open, "")?;
            } else {
                let _ = fs::remove_file(&gate_open);
            }
            Ok(())
        };

        let closed_label = format!("resume, gate still closed, {} tasks", thousands(tasks));
        let closed_job = Job {
            label: &closed_label,
            program: self.plangate(),
            args: resume_args.clone(),
            cwd: &folder,
            expected_exit: 1,
        };
        let probe = |started_at| time_to_gate(&gate_started, started_at);
        let closed = self.repeat_probed(
            &closed_job,
            self.options.repetitions(),
            || restore(false),
            probe,
        )?;

        let open_label = format!("resume, gate open, {} tasks", thousands(tasks));
        let open_job = Job {
            label: &open_label,
            program: self.plangate(),
            args: resume_args,
            cwd: &folder,
            expected_exit: 0,
        };
        let open = self.repeat_probed(
            &open_job,
            self.options.repetitions(),
            || restore(true),
            probe,
        )?;
        let load = self.plan_load(&folder, &format!("resume plan, {} tasks", thousands(tasks)))?;

        let mut text = format!(
            "## `plangate resume` of a half-done run\n\n\
             A {total}-task plan in two phases of {half}; the last task of the first phase is a \
             gate (`sh -c 'date +%s%N > gate-started && test -e gate-open'`) and \
             `on_failure: stop`. `plangate run` stops there with {done} tasks succeeded, the gate \
             failed and {half} pending; that state file is copied before each measurement. \
             *Gate closed*: `resume` loads the run, reconciles it, runs the gate again, which \
             fails, and stops: the cost of resuming a {total}-task run plus one process. *Gate \
             open*: `resume` runs the gate and the {half} remaining tasks to the end. *To first \
             task* is from spawning `plangate resume` to the gate's `date`. The last row is \
             `plangate validate` of the same plan, measured once, for comparison.\n\n\
             | resume | time | to first task | peak RSS | target | met |\n\
             | --- | ---: | ---: | ---: | --- | --- |\n",
            total = thousands(tasks),
            half = thousands(half),
            done = thousands(half - 1),
        );
        // The target is for a 10,000-task run; `--quick` resumes a smaller one.
        let (target, met) = if tasks == 10_000 {
            ("< 0.5 s", closed.meets(RESUME_TARGET))
        } else {
            ("< 0.5 s at 10,000 tasks", "-")
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
            load.time(),
            load.peak(),
        );
        text.push('\n');
        Ok(text)
    }
}

fn remove_state(state: &Path) -> Result<()> {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut path = state.as_os_str().to_owned();
        path.push(suffix);
        match fs::remove_file(PathBuf::from(path)) {
            Err(error) if error.kind() != io::ErrorKind::NotFound => return Err(error.into()),
            _ => {}
        }
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

/// The time from `started_at` to the timestamp the gate wrote.
fn time_to_gate(gate_started: &Path, started_at: SystemTime) -> Option<Duration> {
    let nanos: u64 = fs::read_to_string(gate_started).ok()?.trim().parse().ok()?;
    let gate = UNIX_EPOCH + Duration::from_nanos(nanos);
    gate.duration_since(started_at).ok()
}
