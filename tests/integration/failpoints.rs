//! Fault injection: the engine killed with SIGKILL right after each of its
//! commits to the state file, one cut per run, over every commit of a
//! representative run (a retry, an approval, a failure whose policy rolls
//! back its phase). After each cut the run is recovered the way a user
//! would (`run` again when no run was recorded, `approve` when the approval
//! was lost, `resume`, and `rollback` when `resume` refuses a run cut off
//! while its failure policy was rolling back and says to), and then:
//!
//! - no task whose success was committed before the cut ran again;
//! - the final state (run status, every task's state) is the uninterrupted
//!   run's, so no rollback was lost either;
//! - `plangate doctor` finds the state file sound.
//!
//! The hook is `PLANGATE_INTERNAL_KILL_AFTER_COMMIT=N` (state/src/failpoint.rs).

use std::{collections::BTreeMap, os::unix::process::ExitStatusExt as _};

use crate::common::Workspace;

const PLAN: &str = r#"version: 1
name: walk
policy: {max_risk: medium, above_max: approve, require_rollback: low, on_failure: rollback-phase, concurrency: 2}
defaults: {retries: 1, retry_backoff: 10ms}
phases:
  - id: build
    tasks:
      - id: a
        risk: low
        idempotent: true
        run: {shell: [sh, -c, 'echo "run a" >> journal']}
        rollback: {shell: [sh, -c, 'echo "undo a" >> journal']}
      - id: flaky
        risk: low
        idempotent: true
        needs: [a]
        run: {shell: [sh, -c, 'echo "run flaky" >> journal; test -e flaky.ok || { touch flaky.ok; exit 1; }']}
        rollback: {shell: [sh, -c, 'echo "undo flaky" >> journal']}
      - id: gate
        risk: high
        idempotent: true
        needs: [flaky]
        run: {shell: [sh, -c, 'echo "run gate" >> journal']}
        rollback: {shell: [sh, -c, 'echo "undo gate" >> journal']}
  - id: deploy
    tasks:
      - id: d
        risk: low
        idempotent: true
        run: {shell: [sh, -c, 'echo "run d" >> journal']}
        rollback: {shell: [sh, -c, 'echo "undo d" >> journal']}
      - id: broken
        risk: low
        idempotent: true
        needs: [d]
        run: {shell: [sh, -c, 'echo "run broken" >> journal; exit 1']}
        rollback: {shell: [sh, -c, 'echo "undo broken" >> journal']}
"#;

/// The commands of the uninterrupted run, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    Run,
    Approve,
    Resume,
    Rollback,
}

const STEPS: [Step; 3] = [Step::Run, Step::Approve, Step::Resume];

/// The run's status and each task's state, or `None` before any run.
type Final = Option<(String, BTreeMap<String, String>)>;

fn states(workspace: &Workspace) -> Final {
    let finished = workspace.run(["status", "--format", "json"]);
    if finished.code != 0 {
        return None;
    }
    let status = finished.json();
    let tasks = status["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .map(|t| {
            (
                t["id"].as_str().expect("id").to_owned(),
                t["state"].as_str().expect("state").to_owned(),
            )
        })
        .collect();
    Some((status["status"].as_str().expect("status").to_owned(), tasks))
}

/// Runs `step`, with the engine killed after its `kill_after`th commit when
/// given; returns whether it was killed, its exit code otherwise, and its
/// stderr.
fn step(workspace: &Workspace, step: Step, kill_after: Option<u32>) -> (bool, Option<i32>, String) {
    let run_id = || {
        workspace.status()["run"]
            .as_str()
            .expect("the run has an id")
            .to_owned()
    };
    let args: Vec<String> = match step {
        Step::Run => vec!["run".into(), "plan.yaml".into()],
        Step::Approve => {
            vec![
                "approve".into(),
                run_id(),
                "gate".into(),
                "--reason".into(),
                "reviewed".into(),
            ]
        }
        Step::Resume => vec!["resume".into()],
        Step::Rollback => vec!["rollback".into(), run_id()],
    };
    let mut command = workspace.command(&args);
    if let Some(n) = kill_after {
        command.env("PLANGATE_INTERNAL_KILL_AFTER_COMMIT", n.to_string());
    }
    let output = command.output().expect("plangate runs");
    (
        output.status.signal() == Some(9),
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn journal(workspace: &Workspace) -> Vec<String> {
    workspace
        .read("journal")
        .lines()
        .map(str::to_owned)
        .collect()
}

fn runs_of(journal: &[String], task: &str) -> usize {
    let line = format!("run {task}");
    journal.iter().filter(|l| **l == line).count()
}

/// Brings the run to its end as a user would after a crash.
fn recover(workspace: &Workspace, mut approved: bool) -> Vec<String> {
    let mut done = Vec::new();
    let mut told_to_roll_back = false;
    for _ in 0..8 {
        let next = match states(workspace) {
            None => Step::Run,
            Some(_) if told_to_roll_back => Step::Rollback,
            Some((status, _)) if ["failed", "succeeded", "rolled-back"].contains(&&*status) => {
                return done;
            }
            Some((status, _)) if status == "paused" && !approved => Step::Approve,
            Some(_) => Step::Resume,
        };
        let (killed, code, stderr) = step(workspace, next, None);
        assert!(!killed);
        if next == Step::Approve && code == Some(0) {
            approved = true;
        }
        told_to_roll_back = next == Step::Resume
            && code == Some(2)
            && stderr.contains("was rolling back when it stopped")
            && stderr.contains("plangate rollback");
        done.push(format!("{next:?} -> {code:?}"));
    }
    panic!("the run did not end: {done:?}");
}

#[test]
fn a_kill_after_any_commit_of_a_run_resumes_to_the_uninterrupted_end() {
    let reference = Workspace::new();
    reference.write("plan.yaml", PLAN);
    for s in STEPS {
        assert!(!step(&reference, s, None).0);
    }
    let expected = states(&reference);
    assert_eq!(
        expected.as_ref().map(|(status, _)| status.as_str()),
        Some("rolled-back"),
        "the uninterrupted run ends rolled back: {expected:?}"
    );

    let mut cuts = 0;
    for (at, &cut_step) in STEPS.iter().enumerate() {
        for n in 1.. {
            let workspace = Workspace::new();
            workspace.write("plan.yaml", PLAN);
            for &earlier in &STEPS[..at] {
                assert!(!step(&workspace, earlier, None).0);
            }
            let (killed, _, _) = step(&workspace, cut_step, Some(n));
            if !killed {
                // The step made fewer than `n` commits: every cut is walked.
                assert!(n > 1, "{cut_step:?} commits at least once");
                break;
            }
            cuts += 1;
            let at_cut = states(&workspace);
            let journal_at_cut = journal(&workspace);
            let succeeded: Vec<String> = at_cut
                .iter()
                .flat_map(|(_, tasks)| tasks.iter())
                .filter(|(_, state)| *state == "succeeded")
                .map(|(task, _)| task.clone())
                .collect();
            let what = format!("killed after commit {n} of {cut_step:?}");
            let recovery = recover(&workspace, at > STEPS.len() - 2);
            let journal_at_end = journal(&workspace);
            for task in &succeeded {
                assert_eq!(
                    runs_of(&journal_at_end, task),
                    runs_of(&journal_at_cut, task),
                    "{what}: `{task}` had succeeded and ran again ({recovery:?})\n{journal_at_end:#?}"
                );
            }
            assert_eq!(
                states(&workspace),
                expected,
                "{what}: the end differs from the uninterrupted run's ({recovery:?})"
            );
            let doctor = workspace.run(["doctor"]);
            assert_eq!(
                (doctor.code, doctor.stdout.trim()),
                (0, "ok"),
                "{what}: {}",
                doctor.stderr
            );
        }
    }
    // Creating the file, the run, retries, the approval, the rollback: a
    // cut after each of them at least.
    assert!(cuts >= 20, "only {cuts} commits were cut");
}
