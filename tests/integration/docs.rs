//! Shell completions, man pages and the examples in `--help`: generated from
//! the parser's own definition, checked with the real bash and man.

use std::process::Command;

use crate::common::{PlangateCli, Workspace, binary, repo_root};

/// Every command `plangate --help` lists (but `help`).
fn commands() -> Vec<String> {
    let help = PlangateCli::new().args(["--help"]).run();
    help.assert_code(0);
    let listed: Vec<String> = help
        .stdout
        .split("Commands:")
        .nth(1)
        .expect("--help lists its commands")
        .split("\n\n")
        .next()
        .expect("a block of commands")
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect();
    assert!(listed.len() >= 13, "too few commands in --help: {listed:?}");
    listed
}

/// What bash's completion offers for `words`, the last one being completed.
fn bash_complete(script: &str, words: &[&str]) -> Vec<String> {
    let line = words.join(" ");
    let array = words
        .iter()
        .map(|word| format!("'{word}'"))
        .collect::<Vec<_>>()
        .join(" ");
    let program = format!(
        "{script}\nCOMP_WORDS=({array}); COMP_CWORD={cword}; COMP_LINE='{line}'; COMP_POINT=${{#COMP_LINE}}\n\
         _plangate plangate '{current}' '{previous}'\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        cword = words.len() - 1,
        current = words[words.len() - 1],
        previous = words[words.len() - 2],
    );
    let output = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &program])
        .output()
        .expect("bash runs");
    assert!(
        output.status.success(),
        "bash failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut offered: Vec<String> = String::from_utf8(output.stdout)
        .expect("UTF-8")
        .lines()
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect();
    offered.sort();
    offered
}

#[test]
fn the_bash_completion_is_valid_bash_and_completes_commands_flags_and_values() {
    let generated = PlangateCli::new().args(["completions", "bash"]).run();
    generated.assert_code(0);
    let script = generated.stdout;
    let syntax = Command::new("bash")
        .args(["-n", "-c", &script])
        .output()
        .expect("bash runs");
    assert!(
        syntax.status.success(),
        "bash -n rejects the script: {}",
        String::from_utf8_lossy(&syntax.stderr)
    );
    assert_eq!(bash_complete(&script, &["plangate", "ru"]), ["run", "runs"]);
    assert_eq!(
        bash_complete(&script, &["plangate", "re"]),
        ["report", "resume", "revoke"]
    );
    assert!(bash_complete(&script, &["plangate", "run", "--dr"]).contains(&"--dry-run".to_owned()));
    assert_eq!(
        bash_complete(&script, &["plangate", "plan", "--format", ""]),
        ["html", "json", "markdown"]
    );
    let every = bash_complete(&script, &["plangate", ""]);
    for command in commands() {
        assert!(
            every.contains(&command),
            "`{command}` is not completed: {every:?}"
        );
    }
}

#[test]
fn completions_exist_for_every_shell_clap_knows_and_an_unknown_shell_is_refused() {
    for (shell, marker) in [
        ("zsh", "#compdef plangate"),
        ("fish", "complete -c plangate"),
        ("elvish", "edit:completion:arg-completer[plangate]"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let generated = PlangateCli::new().args(["completions", shell]).run();
        generated.assert_code(0);
        assert!(
            generated.stdout.contains(marker),
            "{shell}: no {marker:?} in\n{}",
            generated.stdout
        );
    }
    PlangateCli::new()
        .args(["completions", "tcsh"])
        .run()
        .assert_code(2)
        .assert_stderr_contains("invalid value 'tcsh'");
}

/// `man -l` renders `page` as plain text (no pager, no formatting codes),
/// its words separated by single spaces.
fn render(page: &std::path::Path) -> String {
    let output = Command::new("man")
        .arg("-l")
        .arg(page)
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "100")
        .env("MAN_KEEP_FORMATTING", "0")
        .output()
        .expect("man runs");
    assert!(
        output.status.success(),
        "man -l {} failed: {}",
        page.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    // Without a terminal, groff marks bold and underline by overstriking
    // (`X\bX`, `_\bX`): keep the last character of each.
    let mut text = String::new();
    for c in String::from_utf8(output.stdout).expect("UTF-8").chars() {
        if c == '\u{8}' {
            text.pop();
        } else {
            text.push(c);
        }
    }
    // man justifies lines by widening spaces: compare words.
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
#[expect(
    clippy::print_stderr,
    reason = "a machine without man says loudly that the pages were not rendered"
)]
fn man_writes_a_page_per_command_that_man_renders() {
    let written = PlangateCli::new()
        .args(["man", "--out-dir", "man/man1"])
        .run();
    written.assert_code(0);
    let folder = written.dir.path().join("man/man1");
    let mut expected = vec!["plangate.1".to_owned()];
    expected.extend(
        commands()
            .iter()
            .map(|command| format!("plangate-{command}.1")),
    );
    let mut found: Vec<String> = std::fs::read_dir(&folder)
        .expect("the folder was created")
        .map(|entry| {
            entry
                .expect("an entry")
                .file_name()
                .into_string()
                .expect("UTF-8")
        })
        .collect();
    found.sort();
    expected.sort();
    assert_eq!(found, expected);
    let listed: Vec<&str> = written.stdout.lines().collect();
    assert_eq!(
        listed.len(),
        expected.len(),
        "stdout names each page: {}",
        written.stdout
    );

    if which("man") {
        let main = render(&folder.join("plangate.1"));
        assert!(main.contains("NAME"), "{main}");
        assert!(
            main.contains("plangate - Risk-gated infrastructure task plans"),
            "{main}"
        );
        assert!(
            main.contains("plangate-run(1)"),
            "the main page lists the commands' pages: {main}"
        );
        let run = render(&folder.join("plangate-run.1"));
        for section in ["NAME", "SYNOPSIS", "OPTIONS", "--dry-run", "--new-run"] {
            assert!(
                run.contains(section),
                "plangate-run(1) lacks {section}: {run}"
            );
        }
    } else {
        eprintln!("man is not installed: the pages' roff was checked, not rendered");
    }
    for name in &expected {
        let page = std::fs::read_to_string(folder.join(name)).expect("a page");
        assert!(page.contains(".TH "), "{name} has no .TH header");
        assert!(page.contains(".SH NAME"), "{name} has no NAME section");
    }
}

#[test]
fn man_without_a_folder_prints_the_main_page() {
    let printed = PlangateCli::new().args(["man"]).run();
    printed.assert_code(0);
    assert!(
        printed.stdout.contains(".TH plangate 1"),
        "{}",
        printed.stdout
    );
    assert!(
        printed.stdout.contains(".SH SUBCOMMANDS"),
        "{}",
        printed.stdout
    );
}

#[test]
fn man_into_an_unwritable_place_names_the_path() {
    let cli = PlangateCli::new().file("taken", "a file, not a folder");
    let failed = cli.args(["man", "--out-dir", "taken/man1"]).run();
    failed.assert_code(1);
    failed.assert_stderr_contains("taken/man1");
}

fn which(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|output| output.status.success())
}

/// Every command's `--help` ends with examples, and the examples that need
/// nothing but the bundled plans work as written.
#[test]
fn every_command_has_help_examples_and_the_runnable_ones_work() {
    for command in commands() {
        let help = PlangateCli::new().args([command.as_str(), "--help"]).run();
        help.assert_code(0);
        let examples = help.stdout.split("Examples:\n").nth(1).unwrap_or_else(|| {
            panic!(
                "`plangate {command} --help` has no examples:\n{}",
                help.stdout
            )
        });
        let lines: Vec<&str> = examples
            .lines()
            .filter(|line| !line.trim().is_empty())
            .collect();
        assert!(!lines.is_empty(), "`{command}`: empty examples");
        for line in lines {
            let line = line.trim();
            assert!(
                line.starts_with(&format!("plangate {command}")),
                "`{command}` example does not run `plangate {command}`: {line}"
            );
            // The examples on the bundled plans run as written, from the repository root.
            if line.contains("examples/") && !line.contains('|') {
                let words: Vec<&str> = line
                    .split("&&")
                    .next()
                    .expect("a command")
                    .split_whitespace()
                    .skip(1)
                    .collect();
                let output = Command::new(binary())
                    .current_dir(repo_root())
                    .args(&words)
                    .env("NO_COLOR", "1")
                    .output()
                    .expect("plangate runs");
                assert!(
                    output.status.success(),
                    "example `{line}` failed: {}",
                    String::from_utf8_lossy(&output.stderr)
                );
            }
        }
    }
}

#[test]
fn init_writes_a_starter_plan_that_validates_and_runs_to_its_approval() {
    let workspace = Workspace::new();
    let written = workspace.run(["init"]);
    written.assert_code(0);
    written.assert_stderr_contains("wrote `plan.yaml`");
    let text = workspace.read("plan.yaml");
    assert!(text.starts_with("# A plangate plan"), "{text}");
    let valid = workspace.run(["validate", "plan.yaml"]);
    valid.assert_code(0);
    assert_eq!(
        valid.stdout,
        "plan `starter` is valid: 2 tasks in 2 phases\n"
    );
    workspace
        .run(["run", "plan.yaml"])
        .assert_code(3)
        .assert_stderr_contains("`go-live` waits for an approval");
    assert!(
        workspace.path().join("work/config.yaml").is_file(),
        "the first phase ran"
    );
}

#[test]
fn init_never_overwrites_and_names_what_it_could_not_write() {
    let kept = PlangateCli::new()
        .file("plan.yaml", "mine\n")
        .args(["init"])
        .run();
    kept.assert_code(2)
        .assert_stderr_contains("error: `plan.yaml` already exists")
        .assert_stderr_contains("nothing was written");
    assert_eq!(
        std::fs::read_to_string(kept.dir.path().join("plan.yaml")).expect("still there"),
        "mine\n"
    );
    let missing = PlangateCli::new()
        .args(["init", "no/such/folder/plan.yaml"])
        .run();
    missing
        .assert_code(1)
        .assert_stderr_contains("failed to write `no/such/folder/plan.yaml`");
}
