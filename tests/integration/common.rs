//! The test harness: a builder that runs the real binary in a fresh tempdir.

use std::{
    path::{Path, PathBuf},
    process::Output,
};

use assert_cmd::Command;
use tempfile::TempDir;

/// The repository root (where `examples/` lives).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A `plangate` invocation in its own temporary directory.
#[must_use]
pub struct PlangateCli {
    dir: TempDir,
    args: Vec<String>,
    env: Vec<(String, String)>,
}

/// What a finished invocation printed.
pub struct Finished {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub dir: TempDir,
}

impl PlangateCli {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("a temp dir can be created"),
            args: Vec::new(),
            env: Vec::new(),
        }
    }

    /// Writes `text` to `plan.yaml` in the temp dir.
    pub fn plan(self, text: &str) -> Self {
        self.file("plan.yaml", text)
    }

    /// Writes a file relative to the temp dir.
    pub fn file(self, name: &str, text: &str) -> Self {
        let path = self.dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("parent folders can be created");
        }
        std::fs::write(path, text).expect("the file can be written");
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn run(self) -> Finished {
        let mut command = Command::cargo_bin("plangate").expect("the plangate binary is built");
        command
            .current_dir(self.dir.path())
            .args(&self.args)
            .env_remove("PLANGATE_STATE")
            .env("NO_COLOR", "1");
        for (key, value) in &self.env {
            command.env(key, value);
        }
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
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "unexpected exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }

    #[track_caller]
    pub fn assert_stderr_contains(&self, needle: &str) -> &Self {
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}\n--- stderr\n{}",
            self.stderr
        );
        self
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).expect("stdout is JSON")
    }
}

/// Replaces the parts of an output that change from run to run or machine to machine.
pub fn redact(text: &str, dir: &Path) -> String {
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
