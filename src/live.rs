//! The live display of a run on a terminal: a board at the bottom of stderr
//! with a line per running task (elapsed time against its timeout), the
//! phase's progress and budget, and the run's limits, while the plain lines
//! of finished tasks scroll above it.
//!
//! # Why a global
//!
//! Everything that writes to stderr while the board is drawn (the engine's
//! progress callback on its threads, `tracing` events from any crate, the
//! printer's warnings) has to clear the board first and draw it again after,
//! or the terminal ends up with stale task lines in the middle of the log.
//! So stderr has one owner here, [`SCREEN`], and every writer goes through
//! [`write_stderr`]; when no board is drawn that is a plain write.
//!
//! # Never lie
//!
//! A task line appears on a task's start event and goes with its settling
//! event, which the engine sends before the task frees its slot. The board
//! is cleared on the run's end (a signal ends a run too) and by [`Guard`] on
//! any other way out of a command, before the final lines are printed.

use std::{
    collections::{HashMap, HashSet},
    fmt::Write as _,
    io::{self, Write as _},
    sync::{Mutex, MutexGuard, PoisonError},
    time::{Duration, Instant},
};

use plangate_engine::{run::Progress, state::TaskState};
use plangate_plans::format_duration;

/// How often the board is redrawn while no event comes (its times move).
const TICK: Duration = Duration::from_millis(200);

/// The least time between two redraws caused by events that print no line
/// (starts of attempts), so that a run of many short tasks does not spend
/// its time drawing.
const EVENT_REDRAW: Duration = Duration::from_millis(50);

/// The most task lines drawn; the rest are counted in one line.
const MAX_TASK_LINES: usize = 12;

/// The terminal width used when the terminal does not say.
const DEFAULT_WIDTH: usize = 80;

/// The one owner of stderr while a board may be drawn (see the module docs).
static SCREEN: Mutex<Screen> = Mutex::new(Screen {
    board: None,
    drawn: 0,
    last_draw: None,
    generation: 0,
});

/// What is on the terminal.
struct Screen {
    /// The board, while a run is live.
    board: Option<Board>,
    /// Lines of the board now drawn, just above the cursor.
    drawn: usize,
    last_draw: Option<Instant>,
    /// Counts boards, so that a ticker stops with its own.
    generation: u64,
}

/// What the board shows.
struct Board {
    color: bool,
    run: String,
    rolling_back: bool,
    started: Instant,
    tasks: usize,
    /// Succeeded tasks of the run, earlier invocations included.
    succeeded: usize,
    max_tasks: Option<u32>,
    budget: Option<Duration>,
    /// What the run used of its budget before this invocation.
    budget_used: Duration,
    phase: Option<PhaseBoard>,
    /// In the order they started.
    running: Vec<Running>,
    /// Tasks undone by this rollback.
    undone: usize,
    /// The last state of each task this invocation settled, for the summary.
    outcomes: HashMap<String, TaskState>,
}

struct PhaseBoard {
    id: String,
    tasks: usize,
    settled_before: usize,
    settled: HashSet<String>,
    /// Tasks waiting for an approval when the phase started.
    waiting_before: usize,
    waiting_for_approval: HashSet<String>,
    budget: Option<Duration>,
    budget_used: Duration,
    started: Instant,
}

impl PhaseBoard {
    /// Tasks of the phase waiting for an approval.
    fn waiting(&self) -> usize {
        self.waiting_before + self.waiting_for_approval.len()
    }
}

struct Running {
    task: String,
    activity: Activity,
    since: Instant,
    /// The timeout of the action, or the length of the wait.
    limit: Duration,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Activity {
    Run { attempt: u32 },
    Verify { attempt: u32 },
    RetryWait,
    Rollback,
}

fn screen() -> MutexGuard<'static, Screen> {
    SCREEN.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Writes `text` to stderr, above the board when one is drawn.
pub(crate) fn write_stderr(text: &[u8]) {
    let mut screen = screen();
    if screen.board.is_none() {
        let _ = io::stderr().lock().write_all(text);
        return;
    }
    let mut out = screen.clear();
    out.extend_from_slice(text);
    screen.draw(&mut out);
    let _ = io::stderr().lock().write_all(&out);
}

/// Handles one progress event on a terminal: `line` (its plain line, if it
/// has one) scrolls above the board, and the board follows the event.
pub(crate) fn on_progress(event: &Progress, line: Option<&str>, color: bool) {
    let mut screen = screen();
    let starts_board = matches!(
        event,
        Progress::RunStarted { .. } | Progress::RunRollingBack { .. }
    );
    if starts_board {
        let mut out = screen.clear();
        screen.board = Some(Board::new(event, color));
        screen.generation += 1;
        if let Some(line) = line {
            out.extend_from_slice(line.as_bytes());
            out.push(b'\n');
        }
        screen.draw(&mut out);
        let _ = io::stderr().lock().write_all(&out);
        start_ticker(screen.generation);
        return;
    }
    if matches!(event, Progress::RunFinished { .. }) {
        let mut out = screen.clear();
        let board = screen.board.take();
        if let Some(line) = line {
            let line = board
                .as_ref()
                .map_or_else(|| line.to_owned(), |board| board.summary(line));
            out.extend_from_slice(line.as_bytes());
            out.push(b'\n');
        }
        let _ = io::stderr().lock().write_all(&out);
        return;
    }
    let Some(board) = screen.board.as_mut() else {
        if let Some(line) = line {
            let _ = writeln!(io::stderr().lock(), "{line}");
        }
        return;
    };
    board.apply(event);
    // An attempt's start has a line in the board, not in the log.
    let scrolls = line.filter(|_| {
        !matches!(
            event,
            Progress::TaskStarted { .. }
                | Progress::VerifyStarted { .. }
                | Progress::RetryWaiting { .. }
                | Progress::RollbackStarted { .. }
        )
    });
    let due = screen
        .last_draw
        .is_none_or(|at| at.elapsed() >= EVENT_REDRAW);
    if scrolls.is_none() && !due {
        return;
    }
    let mut out = screen.clear();
    if let Some(line) = scrolls {
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    screen.draw(&mut out);
    let _ = io::stderr().lock().write_all(&out);
}

/// Clears the board, if one is drawn, and stops drawing it.
pub(crate) fn finish() {
    let mut screen = screen();
    if screen.board.is_some() {
        let out = screen.clear();
        screen.board = None;
        let _ = io::stderr().lock().write_all(&out);
    }
}

/// Clears the board when dropped: held by the commands that run, so that
/// an error ends the display before it is printed.
pub(crate) struct Guard;

impl Drop for Guard {
    fn drop(&mut self) {
        finish();
    }
}

/// Redraws the board every [`TICK`] while board `generation` is up.
fn start_ticker(generation: u64) {
    // Without the thread the board is still drawn on every event.
    let _ = std::thread::Builder::new()
        .name("plangate-live".to_owned())
        .spawn(move || {
            loop {
                std::thread::sleep(TICK);
                let mut screen = screen();
                if screen.generation != generation || screen.board.is_none() {
                    return;
                }
                let mut out = screen.clear();
                screen.draw(&mut out);
                let _ = io::stderr().lock().write_all(&out);
            }
        });
}

impl Screen {
    /// The bytes that erase the board (the cursor is just below it).
    fn clear(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        if self.drawn > 0 {
            out.extend_from_slice(format!("\r\x1b[{}A\x1b[J", self.drawn).as_bytes());
            self.drawn = 0;
        }
        out
    }

    /// Appends the board to `out` and notes its height.
    fn draw(&mut self, out: &mut Vec<u8>) {
        let Some(board) = &self.board else {
            return;
        };
        let (width, height) = terminal_size();
        let max_tasks = MAX_TASK_LINES.min(height.saturating_sub(4)).max(1);
        let lines = board.lines(Instant::now(), max_tasks);
        for line in &lines {
            out.extend_from_slice(fit(line, width).as_bytes());
            // A cut line may have lost the end of its style.
            if board.color {
                out.extend_from_slice(b"\x1b[0m");
            }
            out.push(b'\n');
        }
        self.drawn = lines.len();
        self.last_draw = Some(Instant::now());
    }
}

/// The terminal's width and height, with defaults when it does not say.
fn terminal_size() -> (usize, usize) {
    match terminal_size::terminal_size_of(io::stderr()) {
        Some((terminal_size::Width(width), terminal_size::Height(height)))
            if width > 0 && height > 0 =>
        {
            (usize::from(width), usize::from(height))
        }
        _ => (DEFAULT_WIDTH, 24),
    }
}

/// `line` cut to fit in `width` columns (one left free, so the terminal
/// never wraps it and the board's height stays what was counted). Escape
/// sequences take no columns.
fn fit(line: &str, width: usize) -> String {
    let room = width.saturating_sub(1);
    let mut out = String::with_capacity(line.len());
    let mut columns = 0;
    let mut in_escape = false;
    for c in line.chars() {
        if in_escape {
            out.push(c);
            in_escape = !c.is_ascii_alphabetic();
        } else if c == '\x1b' {
            out.push(c);
            in_escape = true;
        } else if columns < room {
            out.push(c);
            columns += 1;
        }
    }
    out
}

/// Whole seconds of `duration`, as plan durations are written (`1m30s`).
fn seconds(duration: Duration) -> String {
    format_duration(Duration::from_secs(duration.as_secs()))
}

impl Board {
    fn new(event: &Progress, color: bool) -> Self {
        let mut board = Self {
            color,
            run: String::new(),
            rolling_back: false,
            started: Instant::now(),
            tasks: 0,
            succeeded: 0,
            max_tasks: None,
            budget: None,
            budget_used: Duration::ZERO,
            phase: None,
            running: Vec::new(),
            undone: 0,
            outcomes: HashMap::new(),
        };
        match event {
            Progress::RunStarted {
                run,
                tasks,
                succeeded,
                max_tasks,
                budget,
                budget_used,
                ..
            } => {
                board.run.clone_from(run);
                board.tasks = *tasks;
                board.succeeded = *succeeded;
                board.max_tasks = *max_tasks;
                board.budget = *budget;
                board.budget_used = *budget_used;
            }
            Progress::RunRollingBack { run } => {
                board.run.clone_from(run);
                board.rolling_back = true;
            }
            _ => {}
        }
        board
    }

    fn start(&mut self, task: &str, activity: Activity, limit: Duration) {
        let running = Running {
            task: task.to_owned(),
            activity,
            since: Instant::now(),
            limit,
        };
        match self.running.iter_mut().find(|known| known.task == task) {
            Some(known) => *known = running,
            None => self.running.push(running),
        }
    }

    fn stop(&mut self, task: &str) {
        self.running.retain(|known| known.task != task);
    }

    fn settle(&mut self, task: &str, state: TaskState) {
        self.stop(task);
        self.outcomes.insert(task.to_owned(), state);
        if let Some(phase) = &mut self.phase {
            if state == TaskState::NeedsApproval {
                phase.waiting_for_approval.insert(task.to_owned());
            } else {
                phase.settled.insert(task.to_owned());
            }
        }
    }

    fn apply(&mut self, event: &Progress) {
        match event {
            Progress::PhaseStarted {
                phase,
                tasks,
                settled,
                waiting_for_approval,
                budget,
                budget_used,
                ..
            } => {
                self.phase = Some(PhaseBoard {
                    id: phase.clone(),
                    tasks: *tasks,
                    settled_before: *settled,
                    settled: HashSet::new(),
                    waiting_before: *waiting_for_approval,
                    waiting_for_approval: HashSet::new(),
                    budget: *budget,
                    budget_used: *budget_used,
                    started: Instant::now(),
                });
            }
            Progress::TaskStarted {
                task,
                attempt,
                timeout,
                ..
            } => self.start(task, Activity::Run { attempt: *attempt }, *timeout),
            Progress::VerifyStarted {
                task,
                attempt,
                timeout,
                ..
            } => self.start(task, Activity::Verify { attempt: *attempt }, *timeout),
            Progress::RetryWaiting { task, backoff, .. } => {
                self.start(task, Activity::RetryWait, *backoff);
            }
            Progress::RollbackStarted { task, timeout, .. } => {
                self.start(task, Activity::Rollback, *timeout);
            }
            Progress::TaskFinished { task, state, .. } => {
                if *state == TaskState::Succeeded {
                    self.succeeded += 1;
                }
                self.settle(task, *state);
            }
            Progress::TaskSkipped { task, state, .. } => self.settle(task, *state),
            Progress::RollbackFinished { task, state, .. } => {
                if *state == TaskState::RolledBack {
                    self.undone += 1;
                }
                self.stop(task);
                self.outcomes.insert(task.clone(), *state);
            }
            Progress::NothingToUndo { task, .. } | Progress::LeftInPlace { task, .. } => {
                self.stop(task);
            }
            _ => {}
        }
    }

    fn paint(&self, text: &str, style: &str) -> String {
        if self.color {
            format!("\x1b[{style}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    /// The board's lines at `now`: at most `max_tasks` task lines, the
    /// phase and the run.
    fn lines(&self, now: Instant, max_tasks: usize) -> Vec<String> {
        let mut lines = Vec::new();
        let shown = if self.running.len() > max_tasks {
            max_tasks.saturating_sub(1)
        } else {
            self.running.len()
        };
        let width = self.running[..shown]
            .iter()
            .map(|running| running.task.len())
            .max()
            .unwrap_or(0);
        for running in &self.running[..shown] {
            lines.push(self.task_line(running, now, width));
        }
        if shown < self.running.len() {
            lines.push(format!(
                "  ... and {} more running",
                self.running.len() - shown
            ));
        }
        if !self.rolling_back
            && let Some(phase) = &self.phase
        {
            lines.push(self.phase_line(phase, now));
        }
        lines.push(self.run_line(now));
        lines
    }

    fn task_line(&self, running: &Running, now: Instant, width: usize) -> String {
        let elapsed = now.saturating_duration_since(running.since);
        let (verb, style, note) = match running.activity {
            Activity::Run { attempt } => ("run", "1;36", format!("attempt {attempt}")),
            Activity::Verify { attempt } => ("verify", "1;36", format!("attempt {attempt}")),
            Activity::RetryWait => ("wait", "1;33", "before the next attempt".to_owned()),
            Activity::Rollback => ("undo", "1;35", "rollback".to_owned()),
        };
        let limit_word = if running.activity == Activity::RetryWait {
            "backoff"
        } else {
            "timeout"
        };
        // Past four fifths of its timeout, a task's time is shown in yellow.
        let late = elapsed.as_millis() * 5 >= running.limit.as_millis() * 4;
        let time = format!(
            "{} / {} {limit_word}",
            seconds(elapsed),
            format_duration(running.limit)
        );
        let time = if late && running.activity != Activity::RetryWait {
            self.paint(&time, "33")
        } else {
            time
        };
        format!(
            "  {} {:<width$}  {time}  ({note})",
            self.paint(&format!("{verb:<6}"), style),
            format!("`{}`", running.task),
            width = width + 2
        )
    }

    fn phase_line(&self, phase: &PhaseBoard, now: Instant) -> String {
        let settled = (phase.settled_before + phase.settled.len()).min(phase.tasks);
        let mut line = format!(
            "{} {settled}/{} settled",
            self.paint(&format!("phase `{}`", phase.id), "1"),
            phase.tasks
        );
        let waiting = phase.waiting();
        if waiting > 0 {
            let _ = write!(line, ", {waiting} waiting for approval");
        }
        let used = phase.budget_used + now.saturating_duration_since(phase.started);
        match phase.budget {
            Some(budget) => {
                let _ = write!(
                    line,
                    " · budget {} / {}",
                    seconds(used),
                    format_duration(budget)
                );
            }
            None => {
                let _ = write!(line, " · {} (no budget)", seconds(used));
            }
        }
        line
    }

    fn run_line(&self, now: Instant) -> String {
        let run = self.paint(&format!("run {}", self.run), "1");
        if self.rolling_back {
            return format!(
                "{run} rolling back · {} undone · {}",
                self.undone,
                seconds(now.saturating_duration_since(self.started))
            );
        }
        let used = seconds(self.budget_used + now.saturating_duration_since(self.started));
        let mut limits = Vec::new();
        match self.budget {
            Some(budget) => limits.push(format!("{used} / {}", format_duration(budget))),
            None => limits.push(used),
        }
        if let Some(max) = self.max_tasks {
            limits.push(format!("{}/{max} tasks", self.succeeded));
        }
        let label = if self.budget.is_none() && self.max_tasks.is_none() {
            "no limits"
        } else {
            "limits"
        };
        format!(
            "{run} {}/{} succeeded · {label}: {}",
            self.succeeded,
            self.tasks,
            limits.join(", ")
        )
    }

    /// The run's last line: `line` (the plain `run ... STATUS`) with how
    /// the tasks this invocation settled ended, and how long it took.
    fn summary(&self, line: &str) -> String {
        let mut counts: Vec<(&'static str, usize)> = Vec::new();
        for state in self.outcomes.values() {
            match counts
                .iter_mut()
                .find(|(known, _)| *known == state.as_str())
            {
                Some((_, count)) => *count += 1,
                None => counts.push((state.as_str(), 1)),
            }
        }
        if let Some(phase) = &self.phase
            && phase.waiting_before > 0
        {
            let state = TaskState::NeedsApproval.as_str();
            match counts.iter_mut().find(|(known, _)| *known == state) {
                Some((_, count)) => *count += phase.waiting_before,
                None => counts.push((state, phase.waiting_before)),
            }
        }
        counts.sort_unstable();
        let mut summary = line.to_owned();
        if !counts.is_empty() {
            let counts: Vec<String> = counts
                .iter()
                .map(|(state, count)| format!("{count} {state}"))
                .collect();
            let _ = write!(summary, ": {}", counts.join(", "));
        }
        let _ = write!(summary, " in {}", seconds(self.started.elapsed()));
        summary
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn board() -> Board {
        Board::new(
            &Progress::RunStarted {
                run: "3f2a9c1".to_owned(),
                resumed: false,
                tasks: 42,
                succeeded: 4,
                max_tasks: Some(30),
                budget: Some(Duration::from_secs(4 * 3600)),
                budget_used: Duration::from_secs(63),
            },
            false,
        )
    }

    #[test]
    fn the_board_shows_tasks_phase_and_limits() {
        let mut board = board();
        board.apply(&Progress::PhaseStarted {
            phase: "deploy".to_owned(),
            name: "Deploy".to_owned(),
            tasks: 10,
            settled: 3,
            waiting_for_approval: 0,
            budget: Some(Duration::from_secs(600)),
            budget_used: Duration::from_secs(72),
        });
        board.apply(&Progress::TaskStarted {
            task: "api".to_owned(),
            attempt: 2,
            timeout: Duration::from_secs(300),
        });
        let now = board.started;
        let lines = board.lines(now, 12);
        assert_eq!(
            lines,
            [
                "  run    `api`  0s / 5m timeout  (attempt 2)",
                "phase `deploy` 3/10 settled · budget 1m12s / 10m",
                "run 3f2a9c1 4/42 succeeded · limits: 1m3s / 4h, 4/30 tasks",
            ]
        );
        board.apply(&Progress::TaskFinished {
            task: "api".to_owned(),
            state: TaskState::Succeeded,
            reason: None,
            duration: Duration::from_secs(1),
        });
        let lines = board.lines(now, 12);
        assert_eq!(lines.len(), 2, "a settled task leaves the board: {lines:?}");
        assert!(lines[0].contains("4/10 settled"), "{lines:?}");
        assert!(lines[1].contains("5/42 succeeded"), "{lines:?}");
        assert!(
            board
                .summary("run 3f2a9c1 succeeded")
                .starts_with("run 3f2a9c1 succeeded: 1 succeeded in "),
            "{}",
            board.summary("run 3f2a9c1 succeeded")
        );
    }

    #[test]
    fn many_running_tasks_are_counted_in_one_line() {
        let mut board = board();
        for index in 0..5 {
            board.apply(&Progress::TaskStarted {
                task: format!("t{index}"),
                attempt: 1,
                timeout: Duration::from_secs(60),
            });
        }
        let lines = board.lines(board.started, 3);
        assert_eq!(lines.len(), 4, "{lines:?}");
        assert_eq!(lines[2], "  ... and 3 more running");
    }

    #[test]
    fn fitting_keeps_escapes_and_cuts_text() {
        assert_eq!(fit("\x1b[1mabcdef\x1b[0m", 4), "\x1b[1mabc\x1b[0m");
        assert_eq!(fit("abc", 80), "abc");
    }
}
