//! The test harness: a builder that runs the real binary in a fresh tempdir.

use std::{
    path::{Path, PathBuf},
    process::Output,
};

use assert_cmd::Command;
use tempfile::TempDir;

/// The repository root (where `examples/` lives).
pub(crate) fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A `plangate` invocation in its own temporary directory.
#[must_use]
pub(crate) struct PlangateCli {
    dir: TempDir,
    args: Vec<String>,
}

/// What a finished invocation printed.
pub(crate) struct Finished {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
    pub(crate) dir: TempDir,
}

impl PlangateCli {
    pub(crate) fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("a temp dir can be created"),
            args: Vec::new(),
        }
    }

    /// Writes `text` to `plan.yaml` in the temp dir.
    pub(crate) fn plan(self, text: &str) -> Self {
        self.file("plan.yaml", text)
    }

    /// Writes a file relative to the temp dir.
    pub(crate) fn file(self, name: &str, text: &str) -> Self {
        let path = self.dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("parent folders can be created");
        }
        std::fs::write(path, text).expect("the file can be written");
        self
    }

    pub(crate) fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    pub(crate) fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub(crate) fn run(self) -> Finished {
        let mut command = Command::cargo_bin("plangate").expect("the plangate binary is built");
        command
            .current_dir(self.dir.path())
            .args(&self.args)
            .env_remove("PLANGATE_STATE")
            .env("NO_COLOR", "1");
        let Output {
            status,
            stdout,
            stderr,
        } = command.output().expect("plangate runs");
        Finished {
            code: status.code().unwrap_or(-1),
            stdout: String::from_utf8(stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8(stderr).expect("stderr is UTF-8"),
            dir: self.dir,
        }
    }
}

impl Finished {
    #[track_caller]
    pub(crate) fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "unexpected exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }

    #[track_caller]
    pub(crate) fn assert_stderr_contains(&self, needle: &str) -> &Self {
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}\n--- stderr\n{}",
            self.stderr
        );
        self
    }

    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).expect("stdout is JSON")
    }
}

/// Replaces the parts of an output that change from run to run or machine to machine.
pub(crate) fn redact(text: &str, dir: &Path) -> String {
    let mut out = text.replace(&dir.display().to_string(), "[TEMP_DIR]");
    // Plan hashes are 64 hex characters; the Markdown report shows the first 12.
    let mut redacted = String::with_capacity(out.len());
    let mut rest = out.as_str();
    while let Some(at) = rest.find("plan hash `") {
        let start = at + "plan hash `".len();
        redacted.push_str(&rest[..start]);
        let end = rest[start..].find('`').map_or(rest.len(), |e| start + e);
        redacted.push_str("[HASH]");
        rest = &rest[end..];
    }
    redacted.push_str(rest);
    out = redacted;
    out
}

/// The path of the built binary.
pub(crate) fn binary() -> PathBuf {
    assert_cmd::cargo::cargo_bin("plangate")
}

/// A fresh directory to run plans in, with helpers for repeated invocations.
pub(crate) struct Workspace {
    pub(crate) dir: TempDir,
}

impl Workspace {
    pub(crate) fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("a temp dir can be created"),
        }
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    pub(crate) fn write(&self, name: &str, text: &str) {
        let path = self.dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("parent folders can be created");
        }
        std::fs::write(path, text).expect("the file can be written");
    }

    pub(crate) fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default()
    }

    /// A `std::process::Command` for the binary in this workspace.
    pub(crate) fn command<I, S>(&self, args: I) -> std::process::Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut command = std::process::Command::new(binary());
        command
            .current_dir(self.dir.path())
            .args(args)
            .env_remove("PLANGATE_STATE")
            .env("NO_COLOR", "1")
            .stdin(std::process::Stdio::null());
        command
    }

    /// Runs the binary to completion.
    pub(crate) fn run<I, S>(&self, args: I) -> Finished
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let Output {
            status,
            stdout,
            stderr,
        } = self.command(args).output().expect("plangate runs");
        Finished {
            code: status.code().unwrap_or(-1),
            stdout: String::from_utf8(stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8(stderr).expect("stderr is UTF-8"),
            dir: tempfile::tempdir().expect("a temp dir can be created"),
        }
    }

    /// `plangate status --format json` of the latest run.
    pub(crate) fn status(&self) -> serde_json::Value {
        let finished = self.run(["status", "--format", "json"]);
        finished.assert_code(0);
        finished.json()
    }

    /// Task id to state, from the latest run.
    pub(crate) fn states(&self) -> std::collections::BTreeMap<String, String> {
        self.status()["tasks"]
            .as_array()
            .expect("tasks is a list")
            .iter()
            .map(|t| {
                (
                    t["id"].as_str().expect("id").to_owned(),
                    t["state"].as_str().expect("state").to_owned(),
                )
            })
            .collect()
    }
}

/// Waits (bounded) until `condition` holds, polling. Used to synchronise on
/// files and state written by other processes, never as a delay.
#[track_caller]
pub(crate) fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !condition() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::yield_now();
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

/// Pids of live processes whose environment has `PLANGATE_RUN_ID=run`:
/// the actions of a run, including orphans of a killed engine.
pub(crate) fn processes_of_run(run: &str) -> Vec<u32> {
    let needle = format!("PLANGATE_RUN_ID={run}");
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else {
                return false;
            };
            let zombie = is_zombie(*pid);
            !zombie
                && environ
                    .split(|b| *b == 0)
                    .any(|var| var == needle.as_bytes())
        })
        .collect()
}

/// Pids of live processes whose working directory is `dir` or below it: a
/// test's engine, its actions (which run in the plan's folder), and children
/// caught between fork and exec (which do not show their new environment
/// yet, so [`processes_of_run`] cannot see them).
pub(crate) fn processes_in(dir: &Path) -> Vec<u32> {
    let Ok(dir) = dir.canonicalize() else {
        return Vec::new();
    };
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| cwd.starts_with(&dir))
                && !is_zombie(*pid)
        })
        .collect()
}

/// Whether a process exists.
pub(crate) fn alive(pid: i32) -> bool {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
        && u32::try_from(pid).is_ok_and(|pid| !is_zombie(pid))
}

/// Whether `/proc` shows the process as a zombie (or it is already gone).
fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |stat| {
        stat.rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z'))
    })
}

/// The console output of a run with its run ids (`[RUN]`: 26 characters
/// of `0-9A-Z`) and task durations (`in [TIME]`) redacted.
pub(crate) fn redact_console(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    // Full run ids anywhere; short ones (6 characters or more) where a run
    // is named: after `run ` and the commands that take one.
    let names_a_run = |out: &str| {
        [
            "run ",
            "resume ",
            "approve ",
            "report ",
            "rollback ",
            "status ",
        ]
        .iter()
        .any(|before| out.ends_with(before))
    };
    let flush = |word: &mut String, out: &mut String| {
        if word.len() == 26 || (word.len() >= 6 && names_a_run(out)) {
            out.push_str("[RUN]");
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in text.chars() {
        if c.is_ascii_digit() || c.is_ascii_uppercase() {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out.lines()
        .map(|line| match line.rfind("` in ") {
            Some(at) if line[at + 5..].ends_with('s') && !line[at + 5..].contains(' ') => {
                format!("{}` in [TIME]", &line[..at])
            }
            _ => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}
