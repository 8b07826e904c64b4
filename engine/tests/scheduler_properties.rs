//! Property tests of the scheduler (issue 13 item 6): random DAGs of shell
//! tasks, some of which fail, run through the real engine on a real SQLite
//! file. Each task's action appends `start ID` and `end ID` to a log before
//! it exits (its rollback appends `rollback ID`), so the log holds the order
//! in which actions really ran; the state file holds what the engine
//! recorded. Whatever the DAG, the failures and the policy:
//!
//! - a task starts only after every task it needs succeeded;
//! - never more than `policy.concurrency` actions run at once;
//! - phase N+1 starts nothing before every action of phase N ended, and
//!   after a failure under `stop` or a rollback policy no later phase
//!   starts anything;
//! - no more than `policy.max_tasks` tasks succeed, and a task is deferred
//!   for it only once that many have;
//! - on a failure under `rollback-task`, `rollback-phase` or
//!   `rollback-run`, the rollbacks are the failed task's and then exactly
//!   the completed tasks of the scope, in reverse completion order.
//!
//! The seed is fixed and the cases few (the DAGs are small), so CI runs the
//! same 32 cases every time; `PROPTEST_CASES` and `PROPTEST_RNG_SEED` widen
//! a run by hand (docs/fuzzing.md).

use std::{collections::HashMap, fmt::Write as _, path::Path};

use plangate_engine::{
    run::{Engine, EngineSettings, RunOptions},
    state::{AttemptOutcome, AttemptRole, OpenOptions, RunStatus, Store, TaskRecord, TaskState},
};
use proptest::{
    prelude::*,
    test_runner::{Config, RngSeed},
};

fn config(cases: u32) -> Config {
    let mut config = Config::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = cases;
    }
    if std::env::var_os("PROPTEST_RNG_SEED").is_none() {
        config.rng_seed = RngSeed::Fixed(0x7363_6865_6475_6c65);
    }
    // A failing case is shrunk by running the engine again each time; a few
    // hundred runs are enough to get a small DAG.
    config.max_shrink_iters = 200;
    config
}

const POLICIES: [&str; 5] = [
    "stop",
    "rollback-task",
    "rollback-phase",
    "rollback-run",
    "continue",
];

#[derive(Clone, Debug)]
struct TaskCase {
    phase: usize,
    needs: Vec<usize>,
    fails: bool,
    retries: u32,
}

#[derive(Clone, Debug)]
struct PlanCase {
    tasks: Vec<TaskCase>,
    phases: usize,
    concurrency: u32,
    max_tasks: Option<u32>,
    on_failure: &'static str,
}

/// 1-3 phases of 1-4 tasks; a task needs tasks declared before it (in its
/// phase or an earlier one); about one task in six fails.
fn plan_case() -> impl Strategy<Value = PlanCase> {
    (
        prop::collection::vec(
            prop::collection::vec(
                (
                    prop::collection::vec(any::<prop::sample::Index>(), 0..3),
                    prop::bool::weighted(0.17),
                    0..2_u32,
                ),
                1..5,
            ),
            1..4,
        ),
        1..5_u32,
        prop::option::weighted(0.3, 1..8_u32),
        prop::sample::select(&POLICIES[..]),
    )
        .prop_map(|(phases, concurrency, max_tasks, on_failure)| {
            let mut tasks = Vec::new();
            let count = phases.len();
            for (phase, members) in phases.into_iter().enumerate() {
                for (needs, fails, retries) in members {
                    let declared = tasks.len();
                    let mut needs: Vec<usize> = needs
                        .iter()
                        .filter(|_| declared > 0)
                        .map(|index| index.index(declared))
                        .collect();
                    needs.sort_unstable();
                    needs.dedup();
                    tasks.push(TaskCase {
                        phase,
                        needs,
                        fails,
                        retries,
                    });
                }
            }
            PlanCase {
                tasks,
                phases: count,
                concurrency,
                max_tasks,
                on_failure,
            }
        })
}

/// The action: its start, 20 ms of work (so that actions allowed to run
/// together do overlap, and the log would show more at once than allowed),
/// its end, and its exit code.
const MARK: &str = r#"echo "start $1" >> "$2"; sleep 0.02; echo "end $1" >> "$2"; exit "$3""#;
const UNDO: &str = r#"echo "rollback $1" >> "$2""#;

fn plan_text(case: &PlanCase, log: &Path) -> String {
    let log = log.display();
    let mut text = format!(
        "version: 1\nname: scheduler-property\npolicy:\n  max_risk: high\n  require_rollback: none\n  on_failure: {}\n  concurrency: {}\n",
        case.on_failure, case.concurrency
    );
    if let Some(max) = case.max_tasks {
        let _ = writeln!(text, "  max_tasks: {max}");
    }
    text.push_str("defaults:\n  retry_backoff: 0s\nphases:\n");
    for phase in 0..case.phases {
        let _ = write!(text, "  - id: p{phase}\n    tasks:\n");
        for (index, task) in case.tasks.iter().enumerate() {
            if task.phase != phase {
                continue;
            }
            let needs: Vec<String> = task.needs.iter().map(|n| format!("t{n}")).collect();
            let code = u8::from(task.fails);
            let _ = write!(
                text,
                "      - id: t{index}\n        risk: low\n        retries: {}\n        needs: [{}]\n        run: {{shell: [sh, -c, '{MARK}', mark, t{index}, '{log}', '{code}']}}\n        rollback: {{shell: [sh, -c, '{UNDO}', undo, t{index}, '{log}']}}\n",
                task.retries,
                needs.join(", "),
            );
        }
    }
    text
}

#[derive(Debug, PartialEq, Eq)]
enum Line {
    Start(usize),
    End(usize),
    Rollback(usize),
}

fn read_log(log: &Path) -> Vec<Line> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines()
        .map(|line| {
            let (word, id) = line.split_once(" t").expect("log lines are `WORD tN`");
            let id: usize = id.parse().expect("task ids are tN");
            match word {
                "start" => Line::Start(id),
                "end" => Line::End(id),
                "rollback" => Line::Rollback(id),
                other => panic!("unknown log word `{other}`"),
            }
        })
        .collect()
}

fn check(case: &PlanCase) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let log = dir.path().join("actions.log");
    let plan = dir.path().join("plan.yaml");
    std::fs::write(&plan, plan_text(case, &log)).expect("the plan is written");
    let state = dir.path().join("state.db");
    let outcome = Engine::new(EngineSettings::new(&state))
        .expect("the engine starts")
        .run(&plan, &RunOptions::default())
        .map_err(|error| TestCaseError::fail(format!("the run failed to run: {error}")))?;
    let store = Store::open_with(
        &state,
        OpenOptions {
            create: false,
            ..OpenOptions::default()
        },
    )
    .expect("the state file opens");
    let records: HashMap<usize, TaskRecord> = store
        .tasks(&outcome.run)
        .expect("the tasks are read")
        .into_iter()
        .map(|record| {
            let index = record.task_id.as_str()[1..]
                .parse()
                .expect("task ids are tN");
            (index, record)
        })
        .collect();
    let attempts = store
        .attempts(&outcome.run, None)
        .expect("the attempts are read");
    let lines = read_log(&log);
    let count = case.tasks.len();

    // What ran, as the actions saw it and as the state recorded it.
    let mut run_succeeded = vec![false; count];
    let mut run_attempts = vec![0_u32; count];
    for attempt in &attempts {
        let index: usize = attempt.task_id.as_str()[1..]
            .parse()
            .expect("task ids are tN");
        if attempt.role == AttemptRole::Run {
            run_attempts[index] += 1;
            prop_assert!(attempt.finished_at.is_some(), "an attempt left open");
            if attempt.outcome == Some(AttemptOutcome::Succeeded) {
                run_succeeded[index] = true;
            }
        }
    }
    for (index, task) in case.tasks.iter().enumerate() {
        prop_assert_eq!(run_succeeded[index], run_attempts[index] > 0 && !task.fails);
        if task.fails && run_attempts[index] > 0 {
            prop_assert_eq!(run_attempts[index], task.retries + 1, "t{} retried", index);
        }
        let starts = lines.iter().filter(|l| **l == Line::Start(index)).count();
        prop_assert_eq!(
            u32::try_from(starts).expect("few lines"),
            run_attempts[index]
        );
    }

    // Order and concurrency, replayed from the log.
    let mut ends = vec![0_u32; count];
    let mut running = 0_u32;
    let mut failed_phase: Option<usize> = None;
    for line in &lines {
        match *line {
            Line::Start(index) => {
                let task = &case.tasks[index];
                for &need in &task.needs {
                    prop_assert!(
                        ends[need] == run_attempts[need] && run_succeeded[need],
                        "t{} started before t{} succeeded",
                        index,
                        need
                    );
                }
                for earlier in (0..count).filter(|&t| case.tasks[t].phase < task.phase) {
                    prop_assert!(
                        ends[earlier] == run_attempts[earlier],
                        "t{} of phase {} started while t{} of phase {} ran",
                        index,
                        task.phase,
                        earlier,
                        case.tasks[earlier].phase
                    );
                }
                if let Some(phase) = failed_phase
                    && case.on_failure != "continue"
                {
                    prop_assert!(
                        task.phase == phase,
                        "t{} started in phase {} after phase {} failed under `{}`",
                        index,
                        task.phase,
                        phase,
                        case.on_failure
                    );
                }
                running += 1;
                prop_assert!(
                    running <= case.concurrency,
                    "{} actions at once under concurrency {}",
                    running,
                    case.concurrency
                );
            }
            Line::End(index) => {
                running -= 1;
                ends[index] += 1;
                let task = &case.tasks[index];
                if ends[index] == run_attempts[index] && task.fails && failed_phase.is_none() {
                    failed_phase = Some(task.phase);
                }
            }
            Line::Rollback(_) => {
                prop_assert_eq!(running, 0, "a rollback ran while actions were running");
            }
        }
    }

    // max_tasks.
    let succeeded = run_succeeded.iter().filter(|&&s| s).count();
    if let Some(max) = case.max_tasks {
        let max = max as usize;
        prop_assert!(
            succeeded <= max,
            "{} succeeded under max_tasks {}",
            succeeded,
            max
        );
        let deferred_for_max = records.values().any(|record| {
            record.state == TaskState::Deferred
                && record
                    .state_reason
                    .as_deref()
                    .is_some_and(|reason| reason.contains("max_tasks"))
        });
        if deferred_for_max {
            prop_assert_eq!(succeeded, max, "deferred before max_tasks was reached");
        }
    }
    let any_failed = (0..count).any(|t| case.tasks[t].fails && run_attempts[t] > 0);
    if !any_failed {
        let deferred = records.values().any(|r| r.state == TaskState::Deferred);
        let expected = if deferred {
            RunStatus::Incomplete
        } else {
            RunStatus::Succeeded
        };
        prop_assert_eq!(outcome.status, expected);
        prop_assert!(
            !lines.iter().any(|l| matches!(l, Line::Rollback(_))),
            "a rollback without a failure"
        );
        if !deferred {
            for (index, record) in &records {
                prop_assert_eq!(record.state, TaskState::Succeeded, "t{}", index);
            }
        }
        return Ok(());
    }

    // A failure, and the rollbacks the policy asks for.
    let rollbacks: Vec<usize> = lines
        .iter()
        .filter_map(|l| match l {
            Line::Rollback(index) => Some(*index),
            _ => None,
        })
        .collect();
    let phase = failed_phase.expect("a task failed");
    match case.on_failure {
        "stop" | "continue" => {
            prop_assert!(
                rollbacks.is_empty(),
                "rollbacks under `{}`",
                case.on_failure
            );
            prop_assert_eq!(outcome.status, RunStatus::Failed);
        }
        policy => {
            let (&first, rest) = rollbacks
                .split_first()
                .ok_or_else(|| TestCaseError::fail("no rollback after a failure"))?;
            prop_assert!(
                case.tasks[first].fails && case.tasks[first].phase == phase,
                "the first rollback, t{}, is not a failed task of phase {}",
                first,
                phase
            );
            let mut completed: Vec<(i64, usize)> = records
                .iter()
                .filter(|(index, _)| run_succeeded[**index])
                .filter(|(index, _)| policy == "rollback-run" || case.tasks[**index].phase == phase)
                .map(|(index, record)| {
                    (
                        record
                            .completed_seq
                            .expect("a succeeded task has a completion number"),
                        *index,
                    )
                })
                .collect();
            completed.sort_unstable();
            let expected: Vec<usize> = if policy == "rollback-task" {
                Vec::new()
            } else {
                completed.iter().rev().map(|&(_, index)| index).collect()
            };
            prop_assert_eq!(rest, &expected[..], "rollback order under `{}`", policy);
            let status = if policy == "rollback-task" {
                RunStatus::Failed
            } else {
                RunStatus::RolledBack
            };
            prop_assert_eq!(outcome.status, status);
            for index in rollbacks {
                prop_assert_eq!(records[&index].state, TaskState::RolledBack, "t{}", index);
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(32))]

    #[test]
    fn scheduler_invariants_hold_on_random_dags_with_failures(case in plan_case()) {
        check(&case)?;
    }
}
