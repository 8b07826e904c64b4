//! Crash safety with real processes and real signals: SIGKILL of the engine at
//! arbitrary points, SIGINT, run locks, and timeouts that must kill whole
//! process groups. Unix only, like the engine's process handling.
//!
//! Synchronisation is on files and state only: the tests wait for a file to
//! appear or for a run's processes to be gone, never for a fixed time.

use std::{
    collections::{BTreeMap, HashMap},
    os::unix::process::ExitStatusExt,
    process::{Child, Stdio},
};

use nix::{
    sys::signal::{Signal, kill},
    unistd::Pid,
};

use crate::common::{Workspace, alive, processes_in, processes_of_run, wait_until};

/// A small deterministic generator, so every run of the test kills at the
/// same points of progress.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % below
    }
}

/// 30 tasks in 3 phases with chains and fan-in; every fourth is idempotent.
/// Each action appends its id to `runs.log` and marks `done/ID`; its verify
/// checks the mark.
fn crash_plan() -> (String, BTreeMap<String, Vec<String>>, Vec<String>) {
    let mut text = String::from(
        "version: 1\nname: crash\npolicy: {require_rollback: none, concurrency: 3, max_tasks: none, budget: none, on_failure: stop}\nphases:\n",
    );
    let mut needs: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut idempotent = Vec::new();
    let mut previous_phase_last: Option<String> = None;
    for phase in 0..3 {
        text.push_str(&format!("  - id: p{phase}\n    tasks:\n"));
        for i in 0..10 {
            let id = format!("t{phase}{i}");
            let mut list = Vec::new();
            if i % 3 != 0 {
                list.push(format!("t{phase}{}", i - 1));
            }
            if i >= 6 {
                list.push(format!("t{phase}{}", i - 6));
            }
            if i == 0
                && let Some(last) = &previous_phase_last
            {
                list.push(last.clone());
            }
            let is_idempotent = (phase * 10 + i) % 4 == 0;
            if is_idempotent {
                idempotent.push(id.clone());
            }
            text.push_str(&format!(
                "      - id: {id}\n        risk: low\n        idempotent: {is_idempotent}\n        needs: [{}]\n        run: {{shell: [sh, -c, 'echo \"$PLANGATE_TASK_ID\" >> runs.log && mkdir -p done && touch \"done/$PLANGATE_TASK_ID\"']}}\n        verify: {{shell: [sh, -c, 'test -e \"done/$PLANGATE_TASK_ID\"']}}\n",
                list.join(", ")
            ));
            needs.insert(id.clone(), list);
        }
        previous_phase_last = Some(format!("t{phase}9"));
    }
    (text, needs, idempotent)
}

fn run_id(workspace: &Workspace) -> Option<String> {
    let finished = workspace.run(["status", "--format", "json"]);
    (finished.code == 0).then(|| finished.json()["run"].as_str().expect("run id").to_owned())
}

fn log_lines(workspace: &Workspace) -> Vec<String> {
    workspace
        .read("runs.log")
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Starts the engine in the background. Its actions do not get the
/// engine guard: these tests model actions that outlive a killed
/// engine and finish on their own (as its actions' descendants may), which
/// `resume` must reconcile; `an_action_dies_with_a_killed_engine` tests the
/// guard.
fn spawn(workspace: &Workspace, args: &[&str]) -> Child {
    workspace
        .command(args)
        .env("PLANGATE_INTERNAL_NO_PDEATHSIG", "1")
        .stdout(Stdio::null())
        .stderr(engine_stderr(workspace))
        .spawn()
        .expect("plangate starts")
}

#[test]
fn kill_9_at_arbitrary_points_then_resume_runs_every_task_once_in_order() {
    // Scenarios run until this many kills have landed: how many land in one
    // scenario depends on how fast the machine is, the invariants never do.
    const KILLS: usize = 25;
    let mut rng = Lcg(0x5eed);
    let mut kills = 0;
    for _ in 0..KILLS {
        if kills >= KILLS {
            break;
        }
        kills += kill_scenario(&mut rng, KILLS - kills);
    }
    assert!(kills >= KILLS, "only {kills} kills landed");
}

/// One run of the crash plan, killed up to `budget` times; returns the kills
/// that landed. Every kill round spawns the engine, waits until a random
/// number (0 to 3) of further actions have started, and sends SIGKILL.
fn kill_scenario(rng: &mut Lcg, budget: usize) -> usize {
    let workspace = Workspace::new();
    let (plan, needs, idempotent) = crash_plan();
    workspace.write("plan.yaml", &plan);
    let mut kills = 0;
    let mut approvals = 0;
    for round in 0..200 {
        let run = run_id(&workspace);
        let args: &[&str] = if run.is_some() {
            &["resume"]
        } else {
            &["run", "plan.yaml"]
        };
        let mut child = spawn(&workspace, args);
        if kills < budget {
            let target = log_lines(&workspace).len() + usize::try_from(rng.next(4)).expect("small");
            let exited = loop {
                if child.try_wait().expect("try_wait works").is_some() {
                    break true;
                }
                if log_lines(&workspace).len() >= target {
                    break false;
                }
                std::thread::yield_now();
            };
            if !exited {
                kill(
                    Pid::from_raw(i32::try_from(child.id()).expect("pid fits")),
                    Signal::SIGKILL,
                )
                .expect("kill works");
                kills += 1;
            }
        }
        let status = child.wait().expect("wait works");
        // Orphaned actions of the killed engine finish on their own; wait for them.
        wait_until("the run's orphaned actions to finish", || {
            processes_in(workspace.path()).is_empty()
        });
        match status.code() {
            None => {} // killed
            Some(0) => break,
            Some(3) => {
                // Paused on tasks that were cut off before their effect happened
                // (their verify fails) and are not idempotent: an operator checks
                // and allows the re-run.
                let status = workspace.status();
                for task in status["tasks"].as_array().expect("tasks") {
                    if task["state"] == "interrupted" {
                        let id = task["id"].as_str().expect("id");
                        assert!(
                            !log_lines(&workspace).contains(&id.to_owned()),
                            "`{id}` ran but its verify failed"
                        );
                        let run = status["run"].as_str().expect("run");
                        workspace
                            .run(["approve", run, id, "--reason", "effect absent"])
                            .assert_code(0);
                        approvals += 1;
                    }
                }
            }
            // The kill landed after the run had recorded its end (the last
            // action's log line is the trigger, and the engine may finish its
            // last commits before the signal arrives): nothing is left to
            // resume, and the invariants below are checked as for a clean end.
            Some(2) if workspace.status()["status"] == "succeeded" => break,
            Some(code) => panic!(
                "round {round}: unexpected exit code {code}; the engine said:\n{}",
                workspace.read("engine.stderr")
            ),
        }
        assert!(round < 199, "the run never finished");
    }

    let lines = log_lines(&workspace);
    let mut count: HashMap<&str, usize> = HashMap::new();
    for line in &lines {
        *count.entry(line.as_str()).or_default() += 1;
    }
    for id in needs.keys() {
        let times = count.get(id.as_str()).copied().unwrap_or(0);
        if idempotent.contains(id) {
            assert!(times >= 1, "`{id}` never ran");
        } else {
            assert_eq!(
                times,
                1,
                "non-idempotent `{id}` ran {times} times (kills: {kills}, approvals: {approvals}); its journal:\n{}",
                journal(&workspace, id)
            );
        }
    }
    for (task, list) in &needs {
        let first = lines
            .iter()
            .position(|l| l == task)
            .expect("every task ran");
        for need in list {
            let last = lines
                .iter()
                .rposition(|l| l == need)
                .expect("every task ran");
            assert!(
                last < first,
                "`{task}` started before its need `{need}` finished its last run"
            );
        }
    }
    let states = workspace.states();
    assert!(states.values().all(|s| s == "succeeded"), "{states:?}");
    let store = plangate_state::Store::open(workspace.path().join(".plangate/state.db"))
        .expect("the state opens");
    assert!(
        store.integrity_check().expect("the check runs"),
        "PRAGMA integrity_check fails"
    );
    kills
}

/// The events of one task, one per line, to explain a failure.
fn journal(workspace: &Workspace, task: &str) -> String {
    let Ok(store) = plangate_state::Store::open(workspace.path().join(".plangate/state.db")) else {
        return "(the state does not open)".to_owned();
    };
    let Ok(Some(run)) = store.latest_run() else {
        return "(no run)".to_owned();
    };
    store
        .events(&run.id)
        .unwrap_or_default()
        .iter()
        .filter(|event| event.task_id.as_ref().is_some_and(|id| id.as_str() == task))
        .map(|event| format!("  {} {}: {}", event.at, event.kind, event.message))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A task that signals it started and then waits for a `release` file.
const BLOCKING: &str = "version: 1\nname: blocking\npolicy: {require_rollback: none}\nphases:\n  - id: one\n    tasks:\n      - id: wait\n        risk: low\n        IDEMPOTENT\n        run: {shell: [sh, -c, 'touch started; while [ ! -e release ]; do sleep 0.01; done; echo ran >> out']}\n      - id: after\n        risk: low\n        needs: [wait]\n        run: {shell: [sh, -c, 'echo after >> out']}\n";

#[test]
fn sigint_stops_with_130_and_the_run_resumes() {
    let workspace = Workspace::new();
    workspace.write(
        "plan.yaml",
        &BLOCKING.replace("IDEMPOTENT", "idempotent: false"),
    );
    let child = workspace
        .command(["run", "plan.yaml"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("plangate starts");
    wait_until("the task to start", || {
        workspace.path().join("started").exists()
    });
    let pid = Pid::from_raw(i32::try_from(child.id()).expect("pid fits"));
    kill(pid, Signal::SIGINT).expect("signal sent");
    let output = child.wait_with_output().expect("plangate exits");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("SIGINT received"), "{stderr}");
    let run = workspace.status()["run"].as_str().expect("run").to_owned();
    assert!(
        processes_of_run(&run).is_empty(),
        "the action's process group is gone"
    );
    assert_eq!(workspace.status()["status"], "interrupted");
    assert_eq!(workspace.states()["wait"], "interrupted");

    // Not idempotent and no verify: plangate will not guess.
    let paused = workspace.run(["resume"]);
    paused.assert_code(3);
    assert_eq!(workspace.states()["wait"], "interrupted");

    workspace.write("release", "");
    workspace
        .run(["resume", "--retry-interrupted"])
        .assert_code(0);
    assert_eq!(workspace.read("out"), "ran\nafter\n");
}

/// Kills an engine and the process groups of the actions it left running,
/// as a power cut would: nothing of the cut-off action takes effect.
fn kill_engine_and_actions(workspace: &Workspace, mut child: Child) -> String {
    kill(
        Pid::from_raw(i32::try_from(child.id()).expect("pid fits")),
        Signal::SIGKILL,
    )
    .expect("kill works");
    child.wait().expect("wait works");
    for pid in processes_in(workspace.path()) {
        let _ = kill(
            Pid::from_raw(i32::try_from(pid).expect("pid fits")),
            Signal::SIGKILL,
        );
    }
    wait_until("the cut-off action to die", || {
        processes_in(workspace.path()).is_empty()
    });
    workspace.status()["run"].as_str().expect("run").to_owned()
}

/// Phase `one`: `wait` (blocks until `release` exists) with nothing after it,
/// and `quick`; phase `two`: `later`.
const LONE: &str = "version: 1\nname: lone\npolicy: {require_rollback: none, concurrency: 2}\nphases:\n  - id: one\n    tasks:\n      - id: quick\n        risk: low\n        run: {shell: [sh, -c, 'echo quick >> out']}\n      - id: wait\n        risk: low\n        run: {shell: [sh, -c, 'touch started; while [ ! -e release ]; do sleep 0.01; done; echo wait >> out']}\n  - id: two\n    tasks:\n      - id: later\n        risk: low\n        run: {shell: [sh, -c, 'echo later >> out']}\n";

#[test]
fn an_interrupted_task_with_nothing_after_it_still_holds_its_phase() {
    let workspace = Workspace::new();
    workspace.write("plan.yaml", LONE);
    let child = spawn(&workspace, &["run", "plan.yaml"]);
    wait_until("`wait` to start", || {
        workspace.path().join("started").exists()
    });
    wait_until("`quick` to finish", || {
        workspace
            .states()
            .get("quick")
            .is_some_and(|s| s == "succeeded")
    });
    kill_engine_and_actions(&workspace, child);

    // `wait` may or may not have taken effect: the run pauses in phase `one`
    // and phase `two` does not start.
    let paused = workspace.run(["resume"]);
    paused.assert_code(3);
    paused.assert_stderr_contains("for a decision after an interruption");
    paused.assert_stderr_contains("(or resume with `--retry-interrupted` for interrupted tasks)");
    let states = workspace.states();
    assert_eq!(states["wait"], "interrupted");
    assert_eq!(states["later"], "pending");
    assert_eq!(workspace.read("out"), "quick\n");

    workspace.write("release", "");
    workspace
        .run(["resume", "--retry-interrupted"])
        .assert_code(0);
    assert_eq!(workspace.read("out"), "quick\nwait\nlater\n");
}

#[test]
fn a_reconciliation_cut_off_after_closing_an_attempt_does_not_lose_what_it_found() {
    let workspace = Workspace::new();
    workspace.write(
        "plan.yaml",
        &BLOCKING.replace("IDEMPOTENT", "idempotent: false"),
    );
    let child = spawn(&workspace, &["run", "plan.yaml"]);
    wait_until("the task to start", || {
        workspace.path().join("started").exists()
    });
    // The action finishes on its own after the engine dies: its effect is there.
    kill(
        Pid::from_raw(i32::try_from(child.id()).expect("pid fits")),
        Signal::SIGKILL,
    )
    .expect("kill works");
    let mut child = child;
    child.wait().expect("wait works");
    workspace.write("release", "");
    wait_until("the orphaned action to finish", || {
        processes_in(workspace.path()).is_empty()
    });
    assert_eq!(workspace.read("out"), "ran\n");

    // What a reconciliation cut off between its two steps leaves behind: the
    // attempt closed with its finding, the task still `running`.
    {
        let mut store = plangate_state::Store::open(workspace.path().join(".plangate/state.db"))
            .expect("the state opens");
        let run = store.latest_run().expect("readable").expect("a run").id;
        let open = store.open_attempts(&run).expect("readable");
        assert_eq!(open.len(), 1);
        let mut result = plangate_state::AttemptResult::new(
            plangate_state::AttemptOutcome::Interrupted,
            plangate_state::now_millis(),
        );
        result.stderr_tail = Some("cut off".to_owned());
        store
            .settle_open_attempt(
                open[0].id,
                plangate_state::OpenAttemptSettlement {
                    result,
                    observed: Some(plangate_state::ObservedEffect::Unknown),
                    task_state: None,
                    reason: None,
                },
            )
            .expect("settled");
    }
    assert_eq!(workspace.states()["wait"], "running");

    // Not idempotent, no verify, effect unknown: never run again unasked.
    workspace.run(["resume"]).assert_code(3);
    assert_eq!(workspace.states()["wait"], "interrupted");
    assert_eq!(workspace.read("out"), "ran\n");
}

/// A chain `a` -> `b` -> `c` -> `d` where `d` fails; `on_failure:
/// rollback-run`. `b`'s rollback signals that it started, then waits for
/// `release`.
const ROLLING: &str = "version: 1\nname: rolling\npolicy: {on_failure: rollback-run, concurrency: 1}\nphases:\n  - id: one\n    tasks:\n      - {id: a, risk: low, run: {shell: [sh, -c, 'echo run a >> journal']}, rollback: {shell: [sh, -c, 'echo undo a >> journal']}}\n      - {id: b, risk: low, needs: [a], run: {shell: [sh, -c, 'echo run b >> journal']}, rollback: {shell: [sh, -c, 'touch rolling; while [ ! -e release ]; do sleep 0.01; done; echo undo b >> journal']}}\n      - {id: c, risk: low, needs: [b], run: {shell: [sh, -c, 'echo run c >> journal']}, rollback: {shell: [sh, -c, 'echo undo c >> journal']}}\n      - {id: d, risk: low, needs: [c], run: {shell: [sh, -c, 'echo run d >> journal; exit 1']}, rollback: {shell: [sh, -c, 'echo undo d >> journal']}}\n";

#[test]
fn a_run_killed_while_rolling_back_is_finished_by_rollback_not_resumed() {
    let workspace = Workspace::new();
    workspace.write("plan.yaml", ROLLING);
    let child = spawn(&workspace, &["run", "plan.yaml"]);
    wait_until("`b`'s rollback to start", || {
        workspace.path().join("rolling").exists()
    });
    let run = kill_engine_and_actions(&workspace, child);
    assert_eq!(
        workspace.read("journal"),
        "run a\nrun b\nrun c\nrun d\nundo d\nundo c\n"
    );

    // Going forward would run `d` again over a half-undone run. Messages
    // name the run by its short id (the only run: the last six characters).
    let short = &run[run.len() - 6..];
    let refused = workspace.run(["resume"]);
    refused.assert_code(2);
    refused.assert_stderr_contains(&format!(
        "run `{short}` was rolling back when it stopped and cannot be resumed"
    ));
    refused.assert_stderr_contains(&format!("plangate rollback {short}"));

    // `rollback` finishes it: the cut-off rollback first, then the rest.
    workspace.write("release", "");
    workspace.run(["rollback", &run]).assert_code(0);
    assert_eq!(
        workspace.read("journal"),
        "run a\nrun b\nrun c\nrun d\nundo d\nundo c\nundo b\nundo a\n"
    );
    let states = workspace.states();
    for task in ["a", "b", "c"] {
        assert_eq!(states[task], "rolled-back", "{states:?}");
    }
    assert_eq!(workspace.status()["status"], "rolled-back");
}

#[test]
fn a_resume_refused_by_a_live_lock_changes_nothing() {
    let workspace = Workspace::new();
    workspace.write(
        "plan.yaml",
        &BLOCKING.replace("IDEMPOTENT", "idempotent: false"),
    );
    let mut first = spawn(&workspace, &["run", "plan.yaml"]);
    wait_until("the task to start", || {
        workspace.path().join("started").exists()
    });
    let before = workspace.run(["report", "--format", "json"]).json();
    workspace
        .run(["resume", "--retry-interrupted"])
        .assert_code(2);
    let after = workspace.run(["report", "--format", "json"]).json();
    assert_eq!(
        before["phases"], after["phases"],
        "the refused resume settled nothing"
    );
    assert_eq!(workspace.states()["wait"], "running");

    workspace.write("release", "");
    let status = first.wait().expect("wait works");
    assert_eq!(status.code(), Some(0));
    assert_eq!(workspace.read("out"), "ran\nafter\n");
    let report = workspace.run(["report", "--format", "json"]).json();
    let history = &report["phases"][0]["tasks"][0]["history"];
    assert_eq!(history.as_array().expect("attempts").len(), 1, "{history}");
    assert_eq!(history[0]["outcome"], "succeeded");
}

#[test]
fn a_live_lock_is_refused_and_a_stale_one_taken_over() {
    let workspace = Workspace::new();
    workspace.write(
        "plan.yaml",
        &BLOCKING.replace("IDEMPOTENT", "idempotent: true"),
    );
    let mut first = spawn(&workspace, &["run", "plan.yaml"]);
    wait_until("the task to start", || {
        workspace.path().join("started").exists()
    });
    let run = workspace.status()["run"].as_str().expect("run").to_owned();

    let refused = workspace.run(["resume", &run]);
    refused.assert_code(2);
    refused.assert_stderr_contains(&format!("run `{run}` is locked by process {}", first.id()));

    // Kill the holder; its lock is now stale.
    kill(
        Pid::from_raw(i32::try_from(first.id()).expect("pid fits")),
        Signal::SIGKILL,
    )
    .expect("kill works");
    first.wait().expect("wait works");
    workspace.write("release", "");
    wait_until("the orphaned action to finish", || {
        processes_of_run(&run).is_empty()
    });
    let resumed = workspace.run(["resume", &run]);
    resumed.assert_code(0);
    resumed.assert_stderr_contains("took over the lock of process");
    assert_eq!(workspace.states()["after"], "succeeded");
}

#[test]
fn a_timeout_kills_the_whole_process_group() {
    let workspace = Workspace::new();
    workspace.write(
        "plan.yaml",
        "version: 1\nname: slow\npolicy: {require_rollback: none}\nphases:\n  - id: one\n    tasks:\n      - id: slow\n        risk: low\n        timeout: 1s\n        run: {shell: [sh, -c, 'sleep 1000 & echo $! > grandchild.pid; wait']}\n",
    );
    let finished = workspace.run(["run", "plan.yaml"]);
    finished.assert_code(1);
    assert_eq!(workspace.states()["slow"], "timed-out");
    let pid: i32 = workspace
        .read("grandchild.pid")
        .trim()
        .parse()
        .expect("a pid was written");
    wait_until("the grandchild to be reaped", || !alive(pid));
    let report = workspace.run(["report", "--format", "json"]).json();
    let attempt = &report["phases"][0]["tasks"][0]["history"][0];
    assert_eq!(attempt["outcome"], "timed-out");
}

/// Phase `one`: `long` runs until the file `go` exists; phase `two` waits
/// for an approval.
const TWO_RUNS_PLAN: &str = "version: 1\nname: twice\npolicy: {require_rollback: none}\nphases:\n  - id: one\n    tasks:\n      - {id: long, risk: low, idempotent: true, run: {shell: [sh, -c, 'touch started; while [ ! -e go ]; do sleep 0.01; done; echo long >> journal']}}\n  - id: two\n    approval: true\n    tasks:\n      - {id: after, risk: low, run: {shell: [sh, -c, 'echo after >> journal']}}\n";

/// A second `plangate run` of a plan is refused while a live process drives
/// the first (naming it, its pid and host), and while the first waits for a
/// resume; `--new-run` starts over and records the first as superseded.
#[test]
fn a_second_run_of_the_same_plan_is_refused_until_new_run() {
    let workspace = Workspace::new();
    workspace.write("plan.yaml", TWO_RUNS_PLAN);
    let mut first = workspace
        .command(["run", "plan.yaml"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("plangate starts");
    wait_until("the long task to start", || {
        workspace.path().join("started").exists()
    });
    let run = workspace.status()["run"]
        .as_str()
        .expect("run id")
        .to_owned();
    // Messages name runs by their short ids (the last six characters here).
    let short = &run[run.len() - 6..];
    let host = nix::unistd::gethostname()
        .expect("the host name")
        .to_string_lossy()
        .into_owned();

    let refused = workspace.run(["run", "plan.yaml"]);
    refused.assert_code(2);
    assert_eq!(
        refused.stderr,
        format!(
            "error: plan `twice` (environment `dev`) is being run: run `{short}` is driven by process {} on `{host}`\n\nhint: wait for it to finish, or stop it (`kill -INT {}` on `{host}`)\n",
            first.id(),
            first.id()
        )
    );
    let runs = workspace.run(["runs"]);
    assert_eq!(
        runs.stdout.matches("twice").count(),
        1,
        "the refused run left no record: {}",
        runs.stdout
    );

    workspace.write("go", "");
    let status = first.wait().expect("the first run ends");
    assert_eq!(status.code(), Some(3), "it pauses for the approval");
    let refused = workspace.run(["run", "plan.yaml"]);
    refused.assert_code(2);
    assert_eq!(
        refused.stderr,
        format!(
            "error: plan `twice` (environment `dev`) has an unfinished run `{short}` (paused)\n\nhint: continue it with `plangate resume {short}`, or start over with `plangate run PLAN --new-run` (run `{short}` is then recorded as superseded)\n"
        )
    );

    let fresh = workspace.run(["run", "plan.yaml", "--new-run"]);
    fresh.assert_code(3);
    let old = workspace.run(["status", &run, "--format", "json"]).json();
    assert_eq!(old["status"], "superseded");
    let new = workspace.status();
    assert_ne!(new["run"], run.as_str());
    assert_eq!(new["status"], "paused");
    let resumed = workspace.run(["resume", &run]);
    resumed.assert_code(2);
    resumed.assert_stderr_contains(&format!(
        "run `{short}` has ended (`superseded`) and cannot be resumed"
    ));
    assert_eq!(workspace.read("journal"), "long\nlong\n");
}

/// One non-idempotent task that logs its start (with its pid) and its end.
/// Its first attempt runs until the file `release` exists, or until it is
/// terminated at its 2s timeout; `running` marks an action in progress, and
/// a start that finds it logs `overlap`. (Its stderr goes nowhere: the shell
/// reports a foreground child killed by a signal there, and a write to the
/// pipe of a killed engine would kill it with SIGPIPE.)
const HELD_PLAN: &str = "version: 1\nname: held\npolicy: {require_rollback: none}\nphases:\n  - id: one\n    tasks:\n      - id: slow\n        risk: low\n        timeout: 2s\n        run: {shell: [sh, -c, 'exec 2>/dev/null; if [ -e running ]; then echo overlap >> journal; fi; touch running; trap \"rm -f running; exit 143\" TERM; echo start $$ >> journal; touch started; while [ \"$PLANGATE_ATTEMPT\" = 1 ] && [ ! -e release ]; do sleep 0.01; done; echo end >> journal; rm -f running']}\n";

/// Starts `plangate run` of [`HELD_PLAN`], waits for its action to start,
/// and kills the engine with SIGKILL; returns the run id.
fn kill_engine_mid_action(workspace: &Workspace, no_parent_death_signal: bool) -> String {
    workspace.write("plan.yaml", HELD_PLAN);
    let mut command = workspace.command(["run", "plan.yaml"]);
    if no_parent_death_signal {
        command.env("PLANGATE_INTERNAL_NO_PDEATHSIG", "1");
    }
    let mut engine = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("plangate starts");
    wait_until("the action to start", || {
        workspace.path().join("started").exists()
    });
    // The group is committed right after the spawn: a kill before that
    // leaves the engine guard alone to stop the action.
    wait_until("the process group to be recorded", || {
        recorded_group(workspace).0.is_some()
    });
    kill(
        Pid::from_raw(i32::try_from(engine.id()).expect("pid fits")),
        Signal::SIGKILL,
    )
    .expect("kill works");
    engine.wait().expect("the engine is reaped");
    workspace.status()["run"].as_str().expect("run").to_owned()
}

/// The process group recorded with the task's first attempt.
fn recorded_group(workspace: &Workspace) -> (Option<i64>, Option<i64>) {
    let connection = rusqlite::Connection::open(workspace.path().join(".plangate/state.db"))
        .expect("the state file opens");
    connection
        .query_row(
            "SELECT process_group, process_started FROM attempts WHERE role = 'run' ORDER BY id LIMIT 1",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap_or((None, None))
}

/// The first word of each journal line.
fn journal_words(workspace: &Workspace) -> Vec<String> {
    workspace
        .read("journal")
        .lines()
        .map(|line| line.split(' ').next().unwrap_or_default().to_owned())
        .collect()
}

/// Without the engine guard (an internal hook), the action outlives
/// the killed engine; `resume --retry-interrupted` finds its recorded
/// process group alive (the same leader, by its start time), waits for it
/// to the end of the task's timeout, terminates it, and only then runs the
/// task again: the action never runs twice at once.
#[test]
fn resume_waits_for_the_live_process_group_of_a_killed_engine() {
    let workspace = Workspace::new();
    let run = kill_engine_mid_action(&workspace, true);
    let journal = workspace.read("journal");
    let pid: u32 = journal
        .trim()
        .strip_prefix("start ")
        .and_then(|pid| pid.parse().ok())
        .unwrap_or_else(|| panic!("a start line: {journal:?}"));
    assert!(
        processes_of_run(&run).contains(&pid),
        "the action outlived the engine"
    );
    let (group, started) = recorded_group(&workspace);
    assert_eq!(group, Some(i64::from(pid)), "the group is recorded");
    assert!(started.is_some(), "with its leader's start time");

    let resumed = workspace.run(["resume", "--retry-interrupted"]);
    resumed.assert_code(0);
    resumed.assert_stderr_contains(&format!(
        "warning: waited for the live process group {pid} of attempt 1 (run) of task `slow`, it was killed at the end of the task's timeout\n"
    ));
    assert!(processes_of_run(&run).is_empty());
    assert_eq!(
        journal_words(&workspace),
        ["start", "start", "end"],
        "the second attempt starts after the first was stopped, never beside it"
    );
    // The report says so too, in every format.
    let said = format!(
        "waited for the live process group {pid} of attempt 1 (run) of task `slow`, it was killed at the end of the task's timeout"
    );
    let json = workspace.run(["report", "--format", "json"]).json();
    assert_eq!(json["waited_for"], serde_json::json!([said]));
    let markdown = workspace.run(["report"]).stdout;
    assert!(
        markdown.contains(&format!(
            "## Actions that outlived the engine\n\n- {said}\n"
        )),
        "{markdown}"
    );
    let html = workspace.run(["report", "--format", "html"]).stdout;
    assert!(
        html.contains(&format!(
            "<h2>Actions that outlived the engine</h2>\n<ul>\n<li>waited for the live process group {pid} of attempt 1 (run) of task <code>slow</code>, it was killed at the end of the task&#39;s timeout</li>"
        )),
        "{html}"
    );
}

/// With the engine guard, the action dies with the killed engine, and
/// the resume finds nothing to wait for.
#[test]
fn an_action_dies_with_a_killed_engine() {
    let workspace = Workspace::new();
    let run = kill_engine_mid_action(&workspace, false);
    wait_until("the action to die with the engine", || {
        processes_of_run(&run).is_empty()
    });
    let resumed = workspace.run(["resume", "--retry-interrupted"]);
    resumed.assert_code(0);
    assert!(
        !resumed.stderr.contains("waited for the live process group"),
        "{}",
        resumed.stderr
    );
    // SIGKILL leaves no chance to remove `running`: the second start sees it.
    assert_eq!(
        journal_words(&workspace),
        ["start", "overlap", "start", "end"],
        "the first never ended"
    );
}

/// `first` then `second`, each appending its id to `runs.log`; `first` has a
/// verify when `verified`.
fn outcome_plan(verified: bool) -> String {
    let verify = if verified {
        "\n        verify: {shell: [sh, -c, 'grep -qx first runs.log']}"
    } else {
        ""
    };
    format!(
        "version: 1\nname: outcome\npolicy: {{require_rollback: none}}\nphases:\n  - id: one\n    tasks:\n      - id: first\n        risk: low\n        run: {{shell: [sh, -c, 'echo first >> runs.log']}}{verify}\n      - id: second\n        risk: low\n        needs: [first]\n        run: {{shell: [sh, -c, 'echo second >> runs.log']}}\n"
    )
}

/// Runs [`outcome_plan`] with the engine killed just before the commit that
/// would carry `first`'s outcome with `second`'s start (an internal hook),
/// and checks that neither was committed and `second` never started.
fn kill_before_the_outcome_commit(workspace: &Workspace, verified: bool) {
    workspace.write("plan.yaml", &outcome_plan(verified));
    let killed = workspace
        .command(["run", "plan.yaml"])
        .env("PLANGATE_INTERNAL_FAILPOINT", "kill-before-outcome-commit")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("plangate runs");
    assert_eq!(
        killed.signal(),
        Some(9),
        "the hook kills the engine: {killed:?}"
    );
    assert_eq!(
        log_lines(workspace),
        ["first"],
        "`first` ran, `second` did not"
    );
    let connection = rusqlite::Connection::open(workspace.path().join(".plangate/state.db"))
        .expect("the state file opens");
    let attempts: Vec<(String, Option<String>)> = connection
        .prepare("SELECT task_id, outcome FROM attempts ORDER BY id")
        .and_then(|mut statement| {
            statement
                .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
                .collect()
        })
        .expect("the attempts are readable");
    assert_eq!(
        attempts,
        [("first".to_owned(), None)],
        "the outcome was not committed"
    );
}

/// A kill between a task's outcome and the commit it shares with the next
/// start loses nothing and repeats nothing: `resume` settles the open
/// attempt by the task's verify, without running the task again.
#[test]
fn a_kill_before_the_outcome_commit_is_settled_by_verify_on_resume() {
    let workspace = Workspace::new();
    kill_before_the_outcome_commit(&workspace, true);
    workspace.run(["resume"]).assert_code(0);
    assert_eq!(log_lines(&workspace), ["first", "second"], "each ran once");
    let states = workspace.states();
    assert_eq!(states["first"], "succeeded");
    assert_eq!(states["second"], "succeeded");
}

/// Without a verify, the task that may or may not have taken effect is not
/// run again behind the user's back: it is interrupted, and the run pauses.
#[test]
fn a_kill_before_the_outcome_commit_of_an_unverifiable_task_pauses_on_resume() {
    let workspace = Workspace::new();
    kill_before_the_outcome_commit(&workspace, false);
    let paused = workspace.run(["resume"]);
    paused.assert_code(3);
    paused.assert_stderr_contains("for a decision after an interruption");
    assert_eq!(log_lines(&workspace), ["first"], "nothing ran again");
    let states = workspace.states();
    assert_eq!(states["first"], "interrupted");
    assert_eq!(states["second"], "blocked");
}

/// The engine's stderr, appended to `engine.stderr` in the workspace, so a
/// failing round can say what the engine printed.
fn engine_stderr(workspace: &Workspace) -> std::fs::File {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(workspace.path().join("engine.stderr"))
        .expect("engine.stderr opens")
}
