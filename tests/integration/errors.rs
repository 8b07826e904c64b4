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
        what: "an empty plan file",
        setup: |w| w.write("plan.yaml", ""),
        args: &["validate", "plan.yaml"],
        code: 2,
    },
    Case {
        what: "a plan of comments only",
        setup: |w| w.write("plan.yaml", "# nothing yet\n"),
        args: &["validate", "plan.yaml"],
        code: 2,
    },
    Case {
        what: "a plan that is a list",
        setup: |w| w.write("plan.yaml", "- version: 1\n"),
        args: &["validate", "plan.yaml"],
        code: 2,
    },
    Case {
        what: "a plan of a newer format version",
        setup: |w| w.write("plan.yaml", &PLAN.replace("version: 1", "version: 2")),
        args: &["validate", "plan.yaml"],
        code: 2,
    },
    Case {
        what: "a plan without a name",
        setup: |w| w.write("plan.yaml", &PLAN.replace("name: catalogue\n", "")),
        args: &["validate", "plan.yaml"],
        code: 2,
    },
    Case {
        what: "a plan name with capitals",
        setup: |w| {
            w.write(
                "plan.yaml",
                &PLAN.replace("name: catalogue", "name: Catalogue"),
            );
        },
        args: &["validate", "plan.yaml"],
        code: 2,
    },
    Case {
        what: "unknown keys at every level",
        setup: |w| {
            w.write(
                "plan.yaml",
                &PLAN
                    .replace("name: catalogue", "name: catalogue\nowner: me")
                    .replace("above_max: approve", "above_max: approve\n  max_rsik: low")
                    .replace("  - id: build", "  - id: build\n    budjet: 1h")
                    .replace(
                        "run: {shell: [\"true\"]}\n      - id: deploy",
                        "run: {shell: {argv: [\"true\"], cdw: src}}\n      - id: deploy",
                    ),
            );
        },
        args: &["validate", "plan.yaml"],
        code: 2,
    },
    Case {
        what: "a task id used twice",
        setup: |w| w.write("plan.yaml", &PLAN.replace("id: deploy", "id: compile")),
        args: &["validate", "plan.yaml"],
        code: 2,
    },
    Case {
        what: "a phase id used twice",
        setup: |w| {
            w.write(
                "plan.yaml",
                &format!(
                    "{PLAN}  - id: build\n    tasks:\n      - {{id: other, risk: low, run: {{shell: [\"true\"]}}}}\n"
                ),
            );
        },
        args: &["validate", "plan.yaml"],
        code: 2,
    },
    Case {
        what: "a key written twice",
        setup: |w| {
            w.write(
                "plan.yaml",
                &PLAN.replace("risk: low", "risk: low\n        risk: high"),
            );
        },
        args: &["validate", "plan.yaml"],
        code: 2,
    },
    Case {
        what: "a cycle of three tasks",
        setup: |w| {
            w.write(
                "plan.yaml",
                "version: 1\nname: c\npolicy: {require_rollback: none}\nphases:\n  - id: a\n    tasks:\n      - {id: x, risk: low, needs: [z], run: {shell: [\"true\"]}}\n      - {id: y, risk: low, needs: [x], run: {shell: [\"true\"]}}\n      - {id: z, risk: low, needs: [y], run: {shell: [\"true\"]}}\n",
            );
        },
        args: &["validate", "plan.yaml"],
        code: 2,
    },
    Case {
        what: "a need on a task of a later phase",
        setup: |w| {
            w.write(
                "plan.yaml",
                &format!(
                    "{}  - id: later\n    tasks:\n      - {{id: migrate, risk: low, run: {{shell: [\"true\"]}}}}\n",
                    PLAN.replace("needs: [compile]", "needs: [migrate]")
                ),
            );
        },
        args: &["validate", "plan.yaml"],
        code: 2,
    },
    Case {
        what: "a risk that is a number",
        setup: |w| w.write("plan.yaml", &PLAN.replace("risk: low", "risk: 3")),
        args: &["validate", "plan.yaml"],
        code: 2,
    },
    Case {
        what: "negative retries and zero concurrency",
        setup: |w| {
            w.write(
                "plan.yaml",
                &PLAN
                    .replace("risk: low", "risk: low\n        retries: -1")
                    .replace("above_max: approve", "above_max: approve\n  concurrency: 0"),
            );
        },
        args: &["validate", "plan.yaml"],
        code: 2,
    },
    Case {
        what: "huge values",
        setup: |w| {
            w.write(
                "plan.yaml",
                &PLAN
                    .replace(
                        "above_max: approve",
                        "above_max: approve\n  max_tasks: 99999999999999999999999",
                    )
                    .replace(
                        "risk: low",
                        "risk: low\n        timeout: 99999999999999999999h",
                    ),
            );
        },
        args: &["validate", "plan.yaml"],
        code: 2,
    },
    Case {
        what: "a tab in the indentation",
        setup: |w| {
            w.write(
                "plan.yaml",
                &PLAN.replace("        risk: low", "\trisk: low"),
            );
        },
        args: &["validate", "plan.yaml"],
        code: 2,
    },
    Case {
        what: "Windows line endings and an error on line 10",
        setup: |w| {
            w.write(
                "plan.yaml",
                &PLAN.replace("risk: low", "risk: lo").replace('\n', "\r\n"),
            );
        },
        args: &["validate", "plan.yaml"],
        code: 2,
    },
    Case {
        what: "two YAML documents in one file",
        setup: |w| w.write("plan.yaml", &format!("{PLAN}---\nversion: 1\n")),
        args: &["validate", "plan.yaml"],
        code: 2,
    },
    Case {
        what: "an action naming two executors",
        setup: |w| {
            w.write(
                "plan.yaml",
                &PLAN.replacen(
                    "run: {shell: [\"true\"]}",
                    "run: {shell: [\"true\"], kubectl: {op: apply}}",
                    1,
                ),
            );
        },
        args: &["validate", "plan.yaml"],
        code: 2,
    },
    Case {
        what: "a shell action given as one string",
        setup: |w| {
            w.write(
                "plan.yaml",
                &PLAN.replacen("run: {shell: [\"true\"]}", "run: {shell: \"make all\"}", 1),
            );
        },
        args: &["validate", "plan.yaml"],
        code: 2,
    },
    Case {
        what: "a template naming an unknown variable",
        setup: |w| {
            w.write(
                "plan.yaml",
                &PLAN.replacen("[\"true\"]", "[echo, \"{{ vars.target }}\"]", 1),
            );
        },
        args: &["validate", "plan.yaml"],
        code: 2,
    },
    Case {
        what: "a high-risk task without a rollback",
        setup: |w| {
            w.write(
                "plan.yaml",
                &PLAN.replace("        rollback: {shell: [\"true\"]}\n", ""),
            );
        },
        args: &["validate", "plan.yaml"],
        code: 2,
    },
    Case {
        what: "run without a plan",
        setup: nothing,
        args: &["run"],
        code: 2,
    },
    Case {
        what: "--quiet with --verbose",
        setup: plan,
        args: &["run", "plan.yaml", "--quiet", "--verbose"],
        code: 2,
    },
    Case {
        what: "--preview without --dry-run",
        setup: plan,
        args: &["run", "plan.yaml", "--preview"],
        code: 2,
    },
    Case {
        what: "a bad --format for status",
        setup: paused_run,
        args: &["status", "--format", "yaml"],
        code: 2,
    },
    Case {
        what: "--approve of a task the plan does not have, on run",
        setup: plan,
        args: &["run", "plan.yaml", "--approve", "deploy-prod"],
        code: 2,
    },
    Case {
        what: "approve without a task",
        setup: paused_run,
        args: &["approve", "RUN"],
        code: 2,
    },
    Case {
        what: "an approval on a finished run",
        setup: finished_run,
        args: &["approve", "RUN", "deploy", "--reason", "late"],
        code: 2,
    },
    Case {
        what: "a rollback of a run that does not exist",
        setup: paused_run,
        args: &["rollback", "ZZZZZZZ"],
        code: 2,
    },
    Case {
        what: "resume with no state file",
        setup: nothing,
        args: &["resume"],
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
        what: "a truncated state file",
        setup: |w| {
            plan(w);
            w.run(["--state", "state.db", "run", "plan.yaml"])
                .assert_code(3);
            let path = w.path().join("state.db");
            let bytes = std::fs::read(&path).expect("the state file exists");
            std::fs::write(&path, &bytes[..bytes.len().min(1000)]).expect("write");
        },
        args: &["--state", "state.db", "status"],
        code: 2,
    },
    Case {
        what: "a state file of random bytes",
        setup: |w| {
            let bytes: Vec<u8> = (0..8192_u32)
                .map(|i| (i.wrapping_mul(2_654_435_761) >> 13).to_le_bytes()[0])
                .collect();
            std::fs::write(w.path().join("state.db"), bytes).expect("write");
        },
        args: &["--state", "state.db", "runs"],
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
