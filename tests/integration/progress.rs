//! A run's progress on stderr, against the real binary: plain lines when
//! stderr is not a terminal, JSON lines with the documented fields under
//! `--log-format json`, and the live display on a real pseudo-terminal
//! (util-linux `script`), including its end on SIGINT.

use std::{
    collections::{BTreeMap, BTreeSet},
    io::Read as _,
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::Duration,
};

use nix::{
    sys::signal::{Signal, kill},
    unistd::Pid,
};

use crate::common::{Workspace, binary, redact_console, repo_root};

/// Phase `build`: `a`, then `b` (with a verify); `c` fails its first
/// attempt (one retry) and is rolled back; `wait` runs until the file `go`
/// exists, so a test can look at the display while it runs.
const PLAN: &str = r"version: 1
name: progress
policy: {budget: 1h, max_tasks: 30, concurrency: 2, on_failure: continue}
phases:
  - id: build
    budget: 10m
    tasks:
      - id: a
        risk: low
        timeout: 5m
        run: {shell: [sh, -c, 'echo a']}
      - id: b
        risk: low
        needs: [a]
        run: {shell: [sh, -c, 'echo b']}
        verify: {shell: [sh, -c, 'true']}
      - id: c
        risk: low
        needs: [b]
        retries: 1
        retry_backoff: 0s
        run: {shell: [sh, -c, 'test -e c-ran && exit 0; touch c-ran; exit 1']}
  - id: hold
    tasks:
      - id: wait
        risk: low
        timeout: 7m
        run: {shell: [sh, -c, 'while [ ! -e go ]; do sleep 0.02; done']}
";

#[test]
fn stderr_that_is_not_a_terminal_gets_plain_lines() {
    let workspace = Workspace::new();
    workspace.write("plan.yaml", PLAN);
    workspace.write("go", "");
    let finished = workspace.run(["run", "plan.yaml"]);
    finished.assert_code(0);
    assert!(
        !finished.stderr.contains('\x1b'),
        "no escape codes off a terminal:\n{}",
        finished.stderr
    );
    let stderr = redact_console(&finished.stderr);
    let lines: Vec<&str> = stderr
        .lines()
        .map(|line| line.split(" in ").next().unwrap_or(line))
        .collect();
    assert_eq!(
        lines,
        [
            "run [RUN] started",
            "phase `build`: build",
            "  start   `a` (attempt 1)",
            "  ok      `a`",
            "  start   `b` (attempt 1)",
            "  ok      `b`",
            "  start   `c` (attempt 1)",
            "  start   `c` (attempt 2)",
            "  ok      `c`",
            "phase `hold`: hold",
            "  start   `wait` (attempt 1)",
            "  ok      `wait`",
            "run [RUN] succeeded",
        ],
        "{stderr}"
    );
}

/// The documented fields of each event, from `docs/json/progress.md`: the
/// first column of the table under each `### `event`` heading.
fn documented_fields() -> BTreeMap<String, BTreeSet<String>> {
    let text = std::fs::read_to_string(repo_root().join("docs/json/progress.md"))
        .expect("docs/json/progress.md is readable");
    let mut events = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("### `") {
            let name = name.trim_end_matches('`').to_owned();
            events.insert(name.clone(), BTreeSet::new());
            current = Some(name);
        } else if let (Some(name), Some(row)) = (&current, line.strip_prefix("| `")) {
            let field = row.split('`').next().expect("a field name");
            events
                .get_mut(name)
                .expect("the event was inserted")
                .insert(field.to_owned());
        }
    }
    events
}

#[test]
fn json_progress_lines_carry_the_documented_fields() {
    let documented = documented_fields();
    assert!(documented.len() >= 14, "{documented:?}");
    let workspace = Workspace::new();
    workspace.write("plan.yaml", PLAN);
    workspace.write("go", "");
    let finished = workspace.run(["run", "plan.yaml", "--log-format", "json"]);
    finished.assert_code(0);
    let mut seen = Vec::new();
    for line in finished.stderr.lines() {
        let value: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|error| panic!("not JSON ({error}): {line}"));
        assert_eq!(value["target"], "plangate::progress", "{line}");
        assert!(value["message"].is_string(), "{line}");
        let fields = value["fields"].as_object().expect("fields is an object");
        let event = fields["event"].as_str().expect("event is a string");
        let mut keys: BTreeSet<String> = fields.keys().cloned().collect();
        keys.remove("event");
        assert_eq!(
            Some(&keys),
            documented.get(event),
            "fields of `{event}` as documented: {line}"
        );
        seen.push((event.to_owned(), value));
    }
    let names: Vec<&str> = seen.iter().map(|(event, _)| event.as_str()).collect();
    for expected in [
        "run-started",
        "phase-started",
        "task-started",
        "verify-started",
        "retry-waiting",
        "task-finished",
        "run-finished",
    ] {
        assert!(names.contains(&expected), "no `{expected}` in {names:?}");
    }
    let (_, started) = &seen[0];
    assert_eq!(started["fields"]["tasks"], 4);
    assert_eq!(started["fields"]["max_tasks"], 30);
    assert_eq!(started["fields"]["budget_ms"], 3_600_000);
    let wait = seen
        .iter()
        .find(|(event, value)| event == "task-started" && value["fields"]["task"] == "wait")
        .expect("`wait` started");
    assert_eq!(wait.1["fields"]["timeout_ms"], 420_000);
    let (_, last) = seen.last().expect("events");
    assert_eq!(last["fields"]["status"], "succeeded");
}

/// `plangate ARGS` on a pseudo-terminal (util-linux `script`), with its
/// output read as it comes.
struct OnTerminal {
    child: Child,
    output: mpsc::Receiver<Vec<u8>>,
    seen: Vec<u8>,
}

impl OnTerminal {
    fn start(workspace: &Workspace, args: &str, env: &[(&str, &str)]) -> Self {
        assert!(
            Command::new("script").arg("--version").output().is_ok(),
            "`script` (util-linux) is missing: scripts/install-test-tools.sh installs it"
        );
        let command = format!("exec {} {args}", binary().display());
        let mut script = Command::new("script");
        script
            .args(["-qefc", &command, "/dev/null"])
            .current_dir(workspace.path())
            .env_remove("PLANGATE_STATE")
            .env_remove("NO_COLOR")
            .env_remove("PLANGATE_NO_PROGRESS")
            .env("TERM", "xterm-256color")
            .env("SHELL", "/bin/sh")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (name, value) in env {
            script.env(name, value);
        }
        let mut child = script.spawn().expect("script starts");
        let mut stdout = child.stdout.take().expect("stdout is piped");
        let (sender, output) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buffer = [0_u8; 4096];
            while let Ok(read) = stdout.read(&mut buffer) {
                if read == 0 || sender.send(buffer[..read].to_vec()).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            output,
            seen: Vec::new(),
        }
    }

    /// Reads until the output holds every one of `needles`.
    #[track_caller]
    fn read_until(&mut self, needles: &[&str]) {
        while !needles
            .iter()
            .all(|needle| String::from_utf8_lossy(&self.seen).contains(needle))
        {
            match self.output.recv_timeout(Duration::from_secs(60)) {
                Ok(chunk) => self.seen.extend(chunk),
                Err(error) => panic!(
                    "no {needles:?} on the terminal ({error}):\n{}",
                    String::from_utf8_lossy(&self.seen)
                ),
            }
        }
    }

    /// The pid of plangate (script's child, which `exec` made it).
    fn plangate_pid(&self) -> i32 {
        let children =
            std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", self.child.id()))
                .expect("script's children are listed");
        children
            .split_whitespace()
            .next()
            .expect("script has a child")
            .parse()
            .expect("a pid")
    }

    /// Waits for the end; the exit code and all the output.
    fn finish(mut self) -> (i32, String) {
        let status = self.child.wait().expect("script ends");
        while let Ok(chunk) = self.output.recv_timeout(Duration::from_secs(60)) {
            self.seen.extend(chunk);
        }
        (
            status.code().unwrap_or(-1),
            String::from_utf8(self.seen).expect("UTF-8 output"),
        )
    }
}

/// What stays on the screen after the last erase of the display.
fn after_last_erase(output: &str) -> &str {
    output.rsplit("\x1b[J").next().unwrap_or(output)
}

#[test]
fn a_terminal_gets_a_live_display_that_ends_in_a_summary() {
    let workspace = Workspace::new();
    workspace.write("plan.yaml", PLAN);
    let mut terminal = OnTerminal::start(&workspace, "run plan.yaml", &[]);
    // The running task's line, with its elapsed time against its timeout,
    // the phase and the plan's limits.
    terminal.read_until(&["`wait`", "/ 7m timeout", "phase `hold`", "limits: "]);
    workspace.write("go", "");
    let (code, output) = terminal.finish();
    assert_eq!(code, 0, "{output}");
    let task_line =
        regex::Regex::new(r"run\s*(\x1b\[0m)? `wait`\s+\d+s / 7m timeout  \(attempt 1\)")
            .expect("a regex");
    assert!(task_line.is_match(&output), "{output}");
    assert!(output.contains("3/4 succeeded · limits: "), "{output}");
    assert!(output.contains("/ 1h, 3/30 tasks"), "{output}");
    assert!(
        output.contains("\x1b[1;36m"),
        "colour on a terminal: {output:?}"
    );
    // Finished tasks scroll above as plain lines; starts are in the display only.
    assert!(output.contains("  ok      `a` in "), "{output}");
    assert!(!output.contains("  start   `a`"), "{output}");
    let end = after_last_erase(&output);
    assert!(
        !end.contains('\x1b'),
        "nothing drawn after the end: {end:?}"
    );
    let end = redact_console(end);
    let end = end.trim_end();
    assert!(
        end.starts_with("run [RUN] succeeded: 4 succeeded in "),
        "a clean final summary: {end:?}"
    );
    assert_eq!(end.lines().count(), 1, "{end:?}");
}

#[test]
fn no_color_keeps_the_display_without_colour() {
    let workspace = Workspace::new();
    workspace.write("plan.yaml", PLAN);
    let mut terminal = OnTerminal::start(&workspace, "run plan.yaml", &[("NO_COLOR", "1")]);
    terminal.read_until(&["`wait`", "/ 7m timeout"]);
    workspace.write("go", "");
    let (code, output) = terminal.finish();
    assert_eq!(code, 0, "{output}");
    assert!(
        output.contains("\x1b[J"),
        "the display is drawn: {output:?}"
    );
    let colour = regex::Regex::new(r"\x1b\[[0-9;]*m").expect("a regex");
    assert!(!colour.is_match(&output), "no colour: {output:?}");
    assert!(
        output.contains("  run    `wait`  "),
        "same layout: {output}"
    );
}

#[test]
fn quiet_on_a_terminal_shows_no_display() {
    let workspace = Workspace::new();
    workspace.write("plan.yaml", PLAN);
    workspace.write("go", "");
    let terminal = OnTerminal::start(&workspace, "run plan.yaml --quiet", &[]);
    let (code, output) = terminal.finish();
    assert_eq!(code, 0, "{output}");
    assert_eq!(output, "", "errors only");
}

#[test]
fn sigint_clears_the_display_and_prints_the_final_lines() {
    let workspace = Workspace::new();
    workspace.write("plan.yaml", PLAN);
    let mut terminal = OnTerminal::start(&workspace, "run plan.yaml --color never", &[]);
    terminal.read_until(&["`wait`", "/ 7m timeout"]);
    kill(Pid::from_raw(terminal.plangate_pid()), Signal::SIGINT).expect("signal sent");
    let (code, output) = terminal.finish();
    assert_eq!(code, 130, "{output}");
    assert!(output.contains("warning: SIGINT received"), "{output}");
    let end = redact_console(after_last_erase(&output));
    let lines: Vec<&str> = end.lines().map(str::trim_end).collect();
    assert!(
        lines[0].starts_with("run [RUN] interrupted: 1 interrupted, 3 succeeded in "),
        "{lines:?}"
    );
    assert_eq!(
        lines[1..],
        ["hint: continue with `plangate resume [RUN]`"],
        "{lines:?}"
    );
}

#[test]
fn verbose_debug_lines_scroll_above_the_display() {
    let workspace = Workspace::new();
    workspace.write("plan.yaml", PLAN);
    workspace.write("go", "");
    let terminal = OnTerminal::start(&workspace, "run plan.yaml --verbose --color never", &[]);
    let (code, output) = terminal.finish();
    assert_eq!(code, 0, "{output}");
    // Each debug line is written after the display is erased, then the
    // display is drawn again below it.
    let above = regex::Regex::new(
        r"\x1b\[J[^\x1b]*debug plangate_executors[^\n]*\n[^\x1b]*run [0-9A-Z]+ \d+/4 succeeded",
    )
    .expect("a regex");
    assert!(above.is_match(&output), "{output:?}");
}

#[test]
fn approval_waits_are_shown_and_summed_up() {
    let workspace = Workspace::new();
    workspace.write(
        "plan.yaml",
        r"version: 1
name: approvals
policy: {max_risk: low, above_max: approve}
phases:
  - id: p
    tasks:
      - id: safe
        risk: low
        run: {shell: [sh, -c, 'true']}
      - id: risky
        risk: high
        run: {shell: [sh, -c, 'true']}
        rollback: {shell: [sh, -c, 'true']}
",
    );
    let terminal = OnTerminal::start(&workspace, "run plan.yaml --color never", &[]);
    let (code, output) = terminal.finish();
    assert_eq!(code, 3, "{output}");
    assert!(
        output.contains("phase `p` 0/2 settled, 1 waiting for approval"),
        "{output}"
    );
    let end = redact_console(after_last_erase(&output));
    let lines: Vec<&str> = end.lines().map(str::trim_end).collect();
    assert!(
        lines[0].starts_with("run [RUN] paused: 1 needs-approval, 1 succeeded in "),
        "{end}"
    );
    assert_eq!(
        lines[1], "paused: in phase `p`, `risky` waits for an approval",
        "{end}"
    );
}
