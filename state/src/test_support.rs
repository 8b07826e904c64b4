//! Fixtures shared by the inline tests: stores in temporary folders and runs
//! with generated tasks.

use std::path::{Path, PathBuf};

use plangate_plans::{Decision, PhaseId, PlanName, Risk, TaskId};

use crate::{NewRun, NewTask, RunId, Store, TaskState};

/// A fresh store at `state.db` in a new temporary folder; keep the folder
/// alive as long as the store.
pub(crate) fn temp_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("temporary folders can be created");
    let store = Store::open(dir.path().join("state.db")).expect("a new store opens");
    (dir, store)
}

/// `task-0`, `task-1`, ...: runnable low-risk tasks, ten per phase.
pub(crate) fn new_tasks(count: usize) -> Vec<NewTask> {
    (0..count)
        .map(|position| NewTask {
            task_id: TaskId::new(format!("task-{position}")).expect("generated ids are valid"),
            phase_id: PhaseId::new(format!("phase-{}", position / 10))
                .expect("generated ids are valid"),
            position,
            risk: Risk::Low,
            decision: Decision::Run,
            reason: None,
            state: TaskState::Pending,
            environment: String::from("dev"),
            content_hash: format!("{position:064x}"),
        })
        .collect()
}

/// A run of plan `demo` with `tasks`, created at `at`.
pub(crate) fn new_run(at: i64, tasks: Vec<NewTask>) -> NewRun {
    NewRun {
        plan_name: PlanName::new("demo").expect("a valid plan name"),
        plan_path: PathBuf::from("plans/demo.yaml"),
        plan_hash: "0".repeat(64),
        plan_text: String::from("version: 1\nname: demo\n"),
        environment: String::from("dev"),
        at,
        tasks,
    }
}

/// Creates a run of `count` generated tasks at time 1000.
pub(crate) fn create_run(store: &mut Store, count: usize) -> RunId {
    store
        .create_run(new_run(1_000, new_tasks(count)))
        .expect("a run can be created")
}

/// The bytes of a file.
#[track_caller]
pub(crate) fn read_bytes(path: &Path) -> Vec<u8> {
    std::fs::read(path).expect("the file is readable")
}

/// The names of the entries of a folder, sorted.
#[track_caller]
pub(crate) fn folder_entries(path: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(path)
        .expect("the folder is readable")
        .map(|entry| {
            entry
                .expect("the folder is readable")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

/// Tells a crash child test which file to write before killing itself.
pub(crate) const CRASH_DB_VAR: &str = "PLANGATE_STATE_TEST_CRASH_DB";

/// The file a crash child test writes, when this process runs as one.
pub(crate) fn crash_child_path() -> Option<PathBuf> {
    std::env::var_os(CRASH_DB_VAR).map(PathBuf::from)
}

/// Kills this process with SIGKILL: no destructor, no SQLite cleanup.
#[cfg(unix)]
pub(crate) fn kill_self() -> ! {
    nix::sys::signal::kill(nix::unistd::Pid::this(), nix::sys::signal::Signal::SIGKILL)
        .expect("a process can signal itself");
    unreachable!("SIGKILL cannot be caught")
}

/// Runs the ignored test `test` (a full path such as
/// `attempts::tests::crash_child`) in a child copy of this test binary,
/// writing to `path`, and checks that it died by SIGKILL.
#[cfg(unix)]
#[track_caller]
pub(crate) fn run_crash_child(test: &str, path: &Path) {
    use std::os::unix::process::ExitStatusExt;

    let status =
        std::process::Command::new(std::env::current_exe().expect("the test binary is known"))
            .args(["--exact", test, "--ignored", "--test-threads=1"])
            .env(CRASH_DB_VAR, path)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .expect("the child runs");
    assert_eq!(status.signal(), Some(9), "the child must die by SIGKILL");
}

/// A task id written in a test.
#[track_caller]
pub(crate) fn task_id(text: &str) -> TaskId {
    TaskId::new(text).expect("a valid task id")
}

/// A phase id written in a test.
#[track_caller]
pub(crate) fn phase_id(text: &str) -> PhaseId {
    PhaseId::new(text).expect("a valid phase id")
}
