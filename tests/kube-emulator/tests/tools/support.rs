//! The per-test cluster: an in-process emulator, a temp directory holding HOME, the kubeconfig
//! and helm's directories, and `#[must_use]` command builders for the real tools.

use plangate_kube_emulator::{Emulator, EmulatorConfig, RunningEmulator};
use serde_json::Value;
use std::{
    ffi::OsStr,
    io::Write,
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
    time::{Duration, Instant},
};
use tempfile::TempDir;

/// Where the real tools live.
pub(crate) fn tools_dir() -> PathBuf {
    std::env::var_os("PLANGATE_TOOLS_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.tools/bin"),
        PathBuf::from,
    )
}

fn tool(name: &str) -> PathBuf {
    let path = tools_dir().join(name);
    assert!(
        path.is_file(),
        "`{}` is missing: run scripts/install-test-tools.sh",
        path.display()
    );
    path
}

/// The path of a fixture below `tests/fixtures/`.
pub(crate) fn fixture(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(relative)
}

/// A fresh emulator with private tool state.
pub(crate) struct Cluster {
    pub(crate) emulator: RunningEmulator,
    dir: TempDir,
}

impl Cluster {
    /// Starts an emulator whose pods become ready after 50ms and whose stuck rollouts hit
    /// their progress deadline after 2s.
    pub(crate) fn start() -> Self {
        Self::with_config(EmulatorConfig {
            rollout_delay: Duration::from_millis(50),
            progress_deadline: Duration::from_secs(2),
            ..EmulatorConfig::default()
        })
    }

    pub(crate) fn with_config(config: EmulatorConfig) -> Self {
        let emulator = Emulator::spawn(config).expect("the emulator starts");
        let dir = tempfile::tempdir().expect("a temp dir");
        emulator
            .write_kubeconfig(dir.path().join("kubeconfig"), "dev")
            .expect("the kubeconfig is written");
        Self { emulator, dir }
    }

    /// The temp directory, for test files.
    pub(crate) fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a file into the temp directory and returns its path.
    pub(crate) fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.dir().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("the parent is created");
        }
        std::fs::write(&path, contents).expect("the file is written");
        path
    }

    fn command(&self, program: &str) -> ToolCommand {
        let mut command = Command::new(tool(program));
        let home = self.dir().join("home");
        command
            .env_remove("KUBECONFIG")
            .env("HOME", &home)
            .env("KUBECONFIG", self.dir().join("kubeconfig"))
            .env("HELM_CACHE_HOME", home.join("helm-cache"))
            .env("HELM_CONFIG_HOME", home.join("helm-config"))
            .env("HELM_DATA_HOME", home.join("helm-data"))
            .env("NO_COLOR", "1")
            .current_dir(self.dir());
        ToolCommand {
            command,
            stdin: None,
        }
    }

    /// The real kubectl, pointed at this cluster.
    pub(crate) fn kubectl(&self) -> ToolCommand {
        self.command("kubectl")
    }

    /// The real helm, pointed at this cluster.
    pub(crate) fn helm(&self) -> ToolCommand {
        self.command("helm")
    }

    /// Every stored object.
    pub(crate) fn state(&self) -> Value {
        self.emulator.dump()
    }

    /// The stored objects of one resource (`deployments.apps`, `pods`, ...).
    pub(crate) fn objects(&self, resource: &str) -> Vec<Value> {
        self.state()["resources"][resource]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// One stored object, by resource, namespace and name.
    pub(crate) fn object(&self, resource: &str, namespace: &str, name: &str) -> Option<Value> {
        self.objects(resource).into_iter().find(|object| {
            object["metadata"]["name"] == name
                && object["metadata"]["namespace"].as_str().unwrap_or_default() == namespace
        })
    }

    /// Polls the stored state until `done` holds, for at most 10 seconds.
    #[track_caller]
    pub(crate) fn wait_until(&self, what: &str, mut done: impl FnMut(&Self) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done(self) {
            assert!(Instant::now() < deadline, "timed out waiting until {what}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A command for a real tool.
#[must_use]
pub(crate) struct ToolCommand {
    command: Command,
    stdin: Option<String>,
}

/// What a command did.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub(crate) code: Option<i32>,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Outcome {
    /// Parses stdout as JSON.
    #[track_caller]
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|error| panic!("stdout is not JSON ({error}):\n{}", self.stdout))
    }
}

impl ToolCommand {
    pub(crate) fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.command.args(args);
        self
    }

    pub(crate) fn stdin(mut self, input: &str) -> Self {
        self.stdin = Some(input.to_owned());
        self
    }

    /// Runs the command and returns what it did, whatever its exit code.
    pub(crate) fn run(mut self) -> Outcome {
        self.command
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = self.command.spawn().expect("the tool starts");
        if let Some(input) = self.stdin.take() {
            child
                .stdin
                .take()
                .expect("stdin is piped")
                .write_all(input.as_bytes())
                .expect("stdin is written");
        }
        let Output {
            status,
            stdout,
            stderr,
        } = child.wait_with_output().expect("the tool finishes");
        Outcome {
            code: status.code(),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        }
    }

    /// Runs the command and asserts it succeeded.
    #[track_caller]
    pub(crate) fn success(self) -> Outcome {
        let description = format!("{:?}", self.command);
        let outcome = self.run();
        assert_eq!(
            outcome.code,
            Some(0),
            "{description} failed\n--- stdout\n{}\n--- stderr\n{}",
            outcome.stdout,
            outcome.stderr
        );
        outcome
    }

    /// Runs the command and asserts it failed with `code`.
    #[track_caller]
    pub(crate) fn failure(self, code: i32) -> Outcome {
        let description = format!("{:?}", self.command);
        let outcome = self.run();
        assert_eq!(
            outcome.code,
            Some(code),
            "{description} should fail with {code}\n--- stdout\n{}\n--- stderr\n{}",
            outcome.stdout,
            outcome.stderr
        );
        outcome
    }
}
