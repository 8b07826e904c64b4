//! The catalogue of errors a user can cause: each case sets up a workspace,
//! runs one command, and the whole catalogue (command, exit code, stderr) is
//! one snapshot, so a change to any error line shows in review. Every case
//! must also say what to do next: a `hint:` line, a diagnostic's `help:`, or
//! clap's `tip:` / usage.

use crate::common::Workspace;

const PLAN: &str = "\
version: 1
name: catalogue
policy:
  max_risk: medium
  above_max: approve
phases:
  - id: build
    tasks:
      - id: compile
        risk: low
        run: {shell: [\"true\"]}
      - id: deploy
        risk: high
        needs: [compile]
        run: {shell: [\"true\"]}
        rollback: {shell: [\"true\"]}
";

/// One error a user can cause.
struct Case {
    /// What the user did, in words.
    what: &'static str,
    /// Files and earlier commands that set the scene.
    setup: fn(&Workspace),
    /// The command.
    args: &'static [&'static str],
    /// Its exit code.
    code: i32,
}

fn nothing(_: &Workspace) {}

fn plan(workspace: &Workspace) {
    workspace.write("plan.yaml", PLAN);
}

/// A plan whose run pauses at `deploy`'s approval.
fn paused_run(workspace: &Workspace) {
    plan(workspace);
    workspace.run(["run", "plan.yaml"]).assert_code(3);
}

/// A plan whose run finished (`deploy` approved up front).
fn finished_run(workspace: &Workspace) {
    plan(workspace);
    workspace
        .run(["run", "plan.yaml", "--approve", "deploy"])
        .assert_code(0);
}

fn sqlite(workspace: &Workspace, sql: &str) {
    let connection =
        rusqlite::Connection::open(workspace.path().join("state.db")).expect("sqlite opens");
    connection.execute_batch(sql).expect("the SQL runs");
}

const CASES: &[Case] = &[
    Case {
        what: "a plan file that does not exist",
        setup: nothing,
        args: &["validate", "missing.yaml"],
        code: 2,
    },
    Case {
        what: "a folder for a plan",
        setup: |w| std::fs::create_dir(w.path().join("plans")).expect("mkdir"),
        args: &["plan", "plans"],
        code: 2,
    },
    Case {
        what: "a plan that is not UTF-8",
        setup: |w| std::fs::write(w.path().join("plan.yaml"), b"plan: \xff\xfe\n").expect("write"),
        args: &["validate", "plan.yaml"],
        code: 2,
    },
    Case {
        what: "malformed YAML",
        setup: |w| {
            w.write(
                "plan.yaml",
                "version: 1\nname: x\nphases:\n  - id: a\n    tasks: [\n",
            );
        },
        args: &["validate", "plan.yaml"],
        code: 2,
    },
    Case {
        what: "an unknown key",
        setup: |w| {
            w.write(
                "plan.yaml",
                &PLAN.replace("risk: low", "risk: low\n        retires: 2"),
            );
        },
        args: &["validate", "plan.yaml"],
        code: 2,
    },
    Case {
        what: "a dependency cycle",
        setup: |w| {
            w.write(
                "plan.yaml",
                &PLAN.replace(
                    "        risk: low\n",
                    "        risk: low\n        needs: [deploy]\n",
                ),
            );
        },
        args: &["validate", "plan.yaml"],
        code: 2,
    },
    Case {
        what: "an unknown task id in needs",
        setup: |w| {
            w.write(
                "plan.yaml",
                &PLAN.replace("needs: [compile]", "needs: [compiel]"),
            );
        },
        args: &["validate", "plan.yaml"],
        code: 2,
    },
    Case {
        what: "a bad duration",
        setup: |w| {
            w.write(
                "plan.yaml",
                &PLAN.replace("risk: low", "risk: low\n        timeout: 5 parsecs"),
            );
        },
        args: &["validate", "plan.yaml"],
        code: 2,
    },
    Case {
        what: "an unknown risk",
        setup: |w| w.write("plan.yaml", &PLAN.replace("risk: low", "risk: critical")),
        args: &["validate", "plan.yaml"],
        code: 2,
    },
    Case {
        what: "an unknown flag",
        setup: plan,
        args: &["run", "plan.yaml", "--aprove", "deploy"],
        code: 2,
    },
    Case {
        what: "an unknown command",
        setup: nothing,
        args: &["rnu", "plan.yaml"],
        code: 2,
    },
    Case {
        what: "a bad value for an option",
        setup: plan,
        args: &["plan", "plan.yaml", "--format", "pdf"],
        code: 2,
    },
    Case {
        what: "--approve of a task the plan does not have",
        setup: plan,
        args: &["plan", "plan.yaml", "--approve", "deploy-prod"],
        code: 2,
    },
    Case {
        what: "a report written into a missing folder",
        setup: plan,
        args: &["plan", "plan.yaml", "-o", "out/impact.md"],
        code: 1,
    },
    Case {
        what: "a state file in a missing folder",
        setup: plan,
        args: &["--state", "runs/prod.db", "run", "plan.yaml"],
        code: 2,
    },
    Case {
        what: "a folder for a state file",
        setup: |w| std::fs::create_dir(w.path().join("runs")).expect("mkdir"),
        args: &["--state", "runs", "runs"],
        code: 2,
    },
    Case {
        what: "status before any run",
        setup: nothing,
        args: &["status"],
        code: 2,
    },
    Case {
        what: "a text file as the state file",
        setup: |w| w.write("state.db", "my notes, not a database\n"),
        args: &["--state", "state.db", "runs"],
        code: 2,
    },
    Case {
        what: "another application's database as the state file",
        setup: |w| {
            sqlite(
                w,
                "CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL);",
            );
        },
        args: &["--state", "state.db", "runs"],
        code: 2,
    },
    Case {
        what: "a state file of a newer plangate",
        setup: |w| {
            plan(w);
            w.run(["--state", "state.db", "run", "plan.yaml"])
                .assert_code(3);
            sqlite(w, "PRAGMA user_version = 999;");
        },
        args: &["--state", "state.db", "status"],
        code: 2,
    },
    Case {
        what: "a corrupt state file",
        setup: |w| {
            plan(w);
            w.run(["--state", "state.db", "run", "plan.yaml"])
                .assert_code(3);
            let path = w.path().join("state.db");
            let mut bytes = std::fs::read(&path).expect("the state file exists");
            // Page 2 on: the schema survives, the tables' pages do not.
            let start = 4096.min(bytes.len());
            let end = bytes.len().min(start + 8192);
            bytes[start..end].fill(0xA5);
            std::fs::write(&path, bytes).expect("write");
        },
        args: &["--state", "state.db", "status"],
        code: 2,
    },
    Case {
        what: "a run id that matches no run",
        setup: paused_run,
        args: &["status", "ZZZZZZZ"],
        code: 2,
    },
    Case {
        what: "a second run of a plan whose run is paused",
        setup: paused_run,
        args: &["run", "plan.yaml"],
        code: 2,
    },
    Case {
        what: "an approval of a task that needs none",
        setup: paused_run,
        args: &["approve", "RUN", "compile", "--reason", "ok"],
        code: 2,
    },
    Case {
        what: "an approval of a task the run does not have",
        setup: paused_run,
        args: &["approve", "RUN", "deploy-prod", "--reason", "ok"],
        code: 2,
    },
    Case {
        what: "resume after the plan changed",
        setup: |w| {
            paused_run(w);
            w.write(
                "plan.yaml",
                &PLAN.replacen("[\"true\"]", "[echo, changed]", 1),
            );
        },
        args: &["resume"],
        code: 2,
    },
    Case {
        what: "resume after the plan file was removed",
        setup: |w| {
            paused_run(w);
            std::fs::remove_file(w.path().join("plan.yaml")).expect("rm");
        },
        args: &["resume"],
        code: 2,
    },
    Case {
        what: "resume of a finished run",
        setup: finished_run,
        args: &["resume"],
        code: 2,
    },
    Case {
        what: "init over an existing file",
        setup: plan,
        args: &["init", "plan.yaml"],
        code: 2,
    },
    Case {
        what: "completions for an unknown shell",
        setup: nothing,
        args: &["completions", "tcsh"],
        code: 2,
    },
];

/// The full id of the workspace's latest run, if it has one.
fn latest_run(workspace: &Workspace) -> Option<String> {
    let finished = workspace.run(["status", "--format", "json"]);
    (finished.code == 0).then(|| {
        finished.json()["run"]
            .as_str()
            .expect("the run has an id")
            .to_owned()
    })
}

/// Whether `stderr` tells the user what to do next.
fn names_a_next_step(stderr: &str) -> bool {
    [
        "\nhint: ",
        "help: ",
        "tip: ",
        "Usage: ",
        "[possible values: ",
    ]
    .iter()
    .any(|marker| stderr.contains(marker))
}

#[test]
fn every_error_a_user_can_cause_names_what_to_do_next() {
    let mut catalogue = String::new();
    let mut silent = Vec::new();
    for case in CASES {
        let workspace = Workspace::new();
        (case.setup)(&workspace);
        // `RUN` stands for the latest run's id.
        let args: Vec<String> = case
            .args
            .iter()
            .map(|&arg| match arg {
                "RUN" => workspace.status()["run"]
                    .as_str()
                    .expect("the run has an id")
                    .to_owned(),
                other => other.to_owned(),
            })
            .collect();
        let finished = workspace.run(&args);
        assert_eq!(
            finished.code, case.code,
            "{}: unexpected exit code\n--- stdout\n{}\n--- stderr\n{}",
            case.what, finished.stdout, finished.stderr
        );
        assert!(
            finished.stdout.is_empty(),
            "{}: an error prints nothing on stdout\n{}",
            case.what,
            finished.stdout
        );
        if !names_a_next_step(&finished.stderr) {
            silent.push(case.what);
        }
        let mut stderr = finished
            .stderr
            .replace(&workspace.path().display().to_string(), "[TEMP_DIR]");
        if let Some(run) = latest_run(&workspace) {
            // A short id is the tail of the full one.
            for length in (6..=run.len()).rev() {
                stderr = stderr.replace(&run[run.len() - length..], "[RUN]");
            }
        }
        catalogue.push_str(&format!(
            "## {}\n$ plangate {}\nexit {}\n{}\n",
            case.what,
            case.args.join(" "),
            finished.code,
            stderr.trim_end()
        ));
        catalogue.push('\n');
    }
    assert!(
        silent.is_empty(),
        "these errors do not say what to do next: {silent:#?}"
    );
    insta::assert_snapshot!("error_catalogue", catalogue);
}
