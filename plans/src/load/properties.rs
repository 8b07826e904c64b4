//! Property tests of the loader (issue 13 item 6): whatever the input, it
//! never panics, every diagnostic points inside the file, the streaming
//! route and the `Value` route agree, and a plan written as block YAML, as
//! one-line JSON and as pretty JSON loads the same.
//!
//! The cases are few by default so that CI stays fast, and the seed is
//! fixed so that CI runs the same cases every time; a long run sets
//! `PROPTEST_CASES` (and `PROPTEST_RNG_SEED` for other cases), see
//! `docs/fuzzing.md`. Failures proptest finds are kept in
//! `plans/proptest-regressions/` and replayed first.

use std::path::PathBuf;

use proptest::{
    prelude::*,
    test_runner::{Config, RngSeed},
};
use serde_json::{Map, Value, json};

use super::{
    file::{parse_inner, value_route},
    stream,
};
use crate::{
    diagnostic::{Diagnostic, Diagnostics},
    model::Plan,
    source::SourceFile,
};

/// `cases` cases from a fixed seed, unless the environment asks otherwise.
fn config(cases: u32) -> Config {
    let mut config = Config::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = cases;
    }
    if std::env::var_os("PROPTEST_RNG_SEED").is_none() {
        config.rng_seed = RngSeed::Fixed(0x706c_616e_6761_7465);
    }
    config
}

/// Every bundled plan, `examples/*.yaml`: file name and text.
fn examples() -> Vec<(String, String)> {
    let mut examples: Vec<(String, String)> = std::fs::read_dir(examples_dir())
        .expect("examples/ is readable")
        .map(|entry| entry.expect("examples/ lists").path())
        .filter(|path| {
            path.extension()
                .is_some_and(|extension| extension == "yaml")
        })
        .map(|path| {
            let name = path
                .file_name()
                .expect("a listed file has a name")
                .to_string_lossy()
                .into_owned();
            let text = std::fs::read_to_string(&path).expect("an example is UTF-8");
            (name, text)
        })
        .collect();
    examples.sort();
    assert!(examples.len() >= 4, "the bundled examples are found");
    examples
}

fn examples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

/// Loads `text` both ways and checks what holds for any input: the
/// diagnostics point inside the file, and a plan the streaming route reads
/// is the `Value` route's plan. Returns the loader's answer.
fn load_checked(name: &str, text: &str) -> Result<Result<Plan, Vec<Diagnostic>>, TestCaseError> {
    let source = SourceFile::new(examples_dir().join(name), text);
    let loaded = parse_inner(&source, examples_dir());
    if let Err(diagnostics) = &loaded {
        prop_assert!(!diagnostics.is_empty(), "an error without a diagnostic");
        // As users see them: through `Diagnostics`, which every error of
        // the loader's public functions goes through.
        let diagnostics = Diagnostics::new(source.clone(), diagnostics.clone());
        for diagnostic in diagnostics.items() {
            check_position(&source, diagnostic)?;
        }
        let _ = diagnostics.render();
    }
    if let Some(streamed) = stream::load(&source, examples_dir()) {
        match value_route(&source, examples_dir()) {
            Ok(value) => prop_assert_eq!(format!("{streamed:?}"), format!("{value:?}")),
            Err(diagnostics) => prop_assert!(
                false,
                "the streaming route accepts what the `Value` route refuses: {diagnostics:?}"
            ),
        }
    }
    Ok(loaded)
}

/// A diagnostic carries a position (only an empty file has none), and it
/// lies inside the file: an existing line, a column on it or just after
/// its last character.
fn check_position(source: &SourceFile, diagnostic: &Diagnostic) -> Result<(), TestCaseError> {
    let Some(span) = diagnostic.span else {
        prop_assert!(
            source.text().trim().is_empty() || diagnostic.message == "plan file is empty",
            "no position for `{}` in {:?}",
            diagnostic.message,
            source.text()
        );
        return Ok(());
    };
    let Some(line) = source.line(span.line) else {
        prop_assert!(
            false,
            "`{}` at line {}, the file has {} lines",
            diagnostic.message,
            span.line,
            source.line_count()
        );
        return Ok(());
    };
    let characters = line.chars().count();
    prop_assert!(
        span.column >= 1 && span.column <= characters + 1,
        "`{}` at {}:{}, line {} has {} characters",
        diagnostic.message,
        span.line,
        span.column,
        span.line,
        characters
    );
    Ok(())
}

/// Pieces of plan-like YAML and JSON, and of what breaks parsers.
const TOKENS: &[&str] = &[
    "version",
    "name",
    "phases",
    "tasks",
    "id",
    "risk",
    "needs",
    "run",
    "shell",
    "verify",
    "rollback",
    "policy",
    "defaults",
    "vars",
    "executors",
    "kind",
    "executor",
    "argv",
    "env",
    "cwd",
    "budget",
    "max_tasks",
    "concurrency",
    "max_risk",
    "above_max",
    "on_failure",
    "require_rollback",
    "timeout",
    "retries",
    "retry_backoff",
    "estimate",
    "idempotent",
    "approval",
    "secrets",
    "environment",
    "description",
    "source",
    "kubectl",
    "helm",
    "git",
    "github_merge",
    "auto",
    "1",
    "0",
    "-1",
    "2",
    "low",
    "medium",
    "high",
    "none",
    "exclude",
    "approve",
    "stop",
    "continue",
    "rollback-phase",
    "10m",
    "1h30m",
    "90s",
    "0s",
    "forever",
    "18446744073709551616",
    "1e400",
    "0x1F",
    "true",
    "false",
    "~",
    "null",
    ":",
    ": ",
    " ",
    "  ",
    "\n",
    "\n  ",
    "\n    ",
    "\n      - ",
    "- ",
    "[",
    "]",
    "{",
    "}",
    ",",
    "\"",
    "'",
    "#",
    "&a ",
    "*a",
    "<<: ",
    "!!str ",
    "!tag ",
    "---\n",
    "...\n",
    "|\n",
    ">-\n",
    "\t",
    "\r\n",
    "\r",
    "\u{feff}",
    "é",
    "日本",
    "\u{0}",
    "\u{85}",
    "\u{2028}",
    "{{ vars.x }}",
    "{{",
    "}}",
    "%YAML 1.2\n",
    "? ",
    "\\",
    "\\u00",
    "t1",
    "t2",
    "a",
    "b",
];

fn yamlish() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..80).prop_map(|tokens| tokens.concat())
}

/// One edit of a text; positions are taken modulo the text's size.
#[derive(Clone, Debug)]
enum Mutation {
    DeleteLine(usize),
    DuplicateLine(usize),
    SwapLines(usize, usize),
    Insert(usize, &'static str),
    DeleteCharacters(usize, usize),
    ReplaceCharacter(usize, char),
    Indent(usize, usize),
    Dedent(usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::DeleteLine),
        any::<usize>().prop_map(Mutation::DuplicateLine),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
        (any::<usize>(), prop::sample::select(TOKENS)).prop_map(|(at, t)| Mutation::Insert(at, t)),
        (any::<usize>(), 1..12_usize).prop_map(|(at, n)| Mutation::DeleteCharacters(at, n)),
        (any::<usize>(), any::<char>()).prop_map(|(at, c)| Mutation::ReplaceCharacter(at, c)),
        (any::<usize>(), 1..5_usize).prop_map(|(at, n)| Mutation::Indent(at, n)),
        any::<usize>().prop_map(Mutation::Dedent),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn apply(text: &str, mutation: &Mutation) -> String {
    let mut lines: Vec<String> = text.split('\n').map(str::to_owned).collect();
    let line = |at: usize| at % lines.len();
    let characters: Vec<char> = text.chars().collect();
    let at_character = |at: usize| at % (characters.len() + 1);
    match *mutation {
        Mutation::DeleteLine(at) => {
            lines.remove(line(at));
        }
        Mutation::DuplicateLine(at) => {
            let at = line(at);
            lines.insert(at, lines[at].clone());
        }
        Mutation::SwapLines(a, b) => {
            let (a, b) = (line(a), line(b));
            lines.swap(a, b);
        }
        Mutation::Indent(at, n) => {
            let at = line(at);
            lines[at].insert_str(0, &" ".repeat(n));
        }
        Mutation::Dedent(at) => {
            let at = line(at);
            lines[at] = lines[at].trim_start().to_owned();
        }
        Mutation::Insert(at, token) => {
            let at = at_character(at);
            let mut out: String = characters[..at].iter().collect();
            out.push_str(token);
            out.extend(&characters[at..]);
            return out;
        }
        Mutation::DeleteCharacters(at, n) => {
            let at = at_character(at);
            let end = (at + n).min(characters.len());
            return characters[..at].iter().chain(&characters[end..]).collect();
        }
        Mutation::ReplaceCharacter(at, c) => {
            let mut characters = characters;
            if !characters.is_empty() {
                let at = at % characters.len();
                characters[at] = c;
            }
            return characters.into_iter().collect();
        }
        Mutation::Truncate(at) => return characters[..at_character(at)].iter().collect(),
    }
    lines.join("\n")
}

/// Text that YAML and JSON hold as a plain string: any character but the
/// braces of templates, the controls YAML refuses, and U+2028, which
/// serde_yaml's emitter (libyaml, YAML 1.1) writes as a line break and a
/// YAML 1.2 reader then reads with the indentation after it.
fn free_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            prop::sample::select(
                &[
                    ' ', ':', '#', '-', '\'', '"', '\\', '&', '*', '!', '|', '>', '%', '@', '`',
                    ',', '[', ']', '?', 'é', '日', '\n', '\t',
                ][..]
            ),
            prop::char::range('a', 'z'),
            prop::char::range('0', '9'),
        ],
        0..24,
    )
    .prop_map(|characters| characters.into_iter().collect())
}

fn duration() -> impl Strategy<Value = &'static str> {
    prop::sample::select(&["1s", "90s", "10m", "1h30m", "2h", "250ms", "1d"][..])
}

fn risk() -> impl Strategy<Value = &'static str> {
    prop::sample::select(&["low", "medium", "high"][..])
}

fn action(argv: &[String], env: Option<(String, String)>, cwd: bool) -> Value {
    if env.is_none() && !cwd {
        return json!({"shell": argv});
    }
    let mut shell = Map::new();
    shell.insert("argv".into(), json!(argv));
    if let Some((name, value)) = env {
        shell.insert("env".into(), json!({ name: value }));
    }
    if cwd {
        shell.insert("cwd".into(), json!("scripts"));
    }
    json!({ "shell": shell })
}

fn argv() -> impl Strategy<Value = Vec<String>> {
    (
        prop::sample::select(&["true", "echo", "./scripts/write-doc.sh", "printf"][..]),
        prop::collection::vec(
            prop_oneof![free_text(), Just("{{ vars.out }}/x".to_owned())],
            0..3,
        ),
    )
        .prop_map(|(program, arguments)| {
            std::iter::once(program.to_owned())
                .chain(arguments)
                .collect()
        })
}

fn shell_action() -> impl Strategy<Value = Value> {
    (
        argv(),
        prop::option::of(("[A-Z][A-Z_]{0,6}", free_text())),
        any::<bool>(),
    )
        .prop_map(|(argv, env, cwd)| action(&argv, env, cwd))
}

/// A task's keys other than `id` and `needs`.
fn task_body() -> impl Strategy<Value = Map<String, Value>> {
    (
        risk(),
        prop::option::of(free_text()),
        prop::option::of(free_text()),
        prop::option::of(duration()),
        prop::option::of(duration()),
        prop::option::of(0..5_u32),
        prop::option::of(any::<bool>()),
        shell_action(),
        prop::option::of(shell_action()),
        shell_action(),
    )
        .prop_map(
            |(
                risk,
                name,
                source,
                estimate,
                timeout,
                retries,
                idempotent,
                run,
                verify,
                rollback,
            )| {
                let mut task = Map::new();
                task.insert("risk".into(), json!(risk));
                let optional = [
                    ("name", name.map(Value::from)),
                    ("source", source.map(Value::from)),
                    ("estimate", estimate.map(Value::from)),
                    ("timeout", timeout.map(Value::from)),
                    ("retries", retries.map(Value::from)),
                    ("idempotent", idempotent.map(Value::from)),
                ];
                for (key, value) in optional {
                    if let Some(value) = value {
                        task.insert(key.into(), value);
                    }
                }
                task.insert("run".into(), run);
                if let Some(verify) = verify {
                    task.insert("verify".into(), verify);
                }
                task.insert("rollback".into(), rollback);
                task
            },
        )
}

/// A valid plan as a JSON value: 1-4 phases of 1-5 tasks, each needing
/// earlier tasks only, with every optional section sometimes present.
fn plan_value() -> impl Strategy<Value = Value> {
    let phases = prop::collection::vec(
        (
            prop::option::of(free_text()),
            prop::option::of(duration()),
            any::<bool>(),
            prop::collection::vec(
                (
                    task_body(),
                    prop::collection::vec(any::<prop::sample::Index>(), 0..3),
                ),
                1..5,
            ),
        ),
        1..4,
    );
    let policy = (
        risk(),
        prop::sample::select(&["exclude", "approve"][..]),
        prop::sample::select(&["none", "low", "medium", "high"][..]),
        prop::sample::select(
            &[
                "stop",
                "rollback-task",
                "rollback-phase",
                "rollback-run",
                "continue",
            ][..],
        ),
        prop::option::of(duration()),
        prop::option::of(prop_oneof![
            (1..50_u32).prop_map(Value::from),
            Just(json!("none"))
        ]),
        1..9_u32,
    )
        .prop_map(
            |(
                max_risk,
                above_max,
                require_rollback,
                on_failure,
                budget,
                max_tasks,
                concurrency,
            )| {
                let mut policy = json!({
                    "max_risk": max_risk,
                    "above_max": above_max,
                    "require_rollback": require_rollback,
                    "on_failure": on_failure,
                    "concurrency": concurrency,
                });
                if let Some(budget) = budget {
                    policy["budget"] = json!(budget);
                }
                if let Some(max_tasks) = max_tasks {
                    policy["max_tasks"] = max_tasks;
                }
                policy
            },
        );
    (
        "[a-z0-9][a-z0-9-]{0,12}",
        prop::option::of(free_text()),
        prop::option::of(policy),
        prop::option::of((duration(), 0..3_u32, duration())),
        free_text(),
        phases,
    )
        .prop_map(|(name, description, policy, defaults, out, phases)| {
            let mut plan = Map::new();
            plan.insert("version".into(), json!(1));
            plan.insert("name".into(), json!(name));
            if let Some(description) = description {
                plan.insert("description".into(), json!(description));
            }
            if let Some(policy) = policy {
                plan.insert("policy".into(), policy);
            }
            if let Some((timeout, retries, retry_backoff)) = defaults {
                plan.insert(
                    "defaults".into(),
                    json!({"timeout": timeout, "retries": retries, "retry_backoff": retry_backoff}),
                );
            }
            plan.insert("vars".into(), json!({ "out": out }));
            let mut declared = 0_usize;
            let phases: Vec<Value> = phases
                .into_iter()
                .enumerate()
                .map(|(p, (name, budget, approval, tasks))| {
                    let tasks: Vec<Value> = tasks
                        .into_iter()
                        .map(|(mut task, needs)| {
                            let mut needs: Vec<usize> = needs
                                .iter()
                                .filter(|_| declared > 0)
                                .map(|index| index.index(declared))
                                .collect();
                            needs.sort_unstable();
                            needs.dedup();
                            let id = format!("t{declared}");
                            declared += 1;
                            let mut ordered = Map::new();
                            ordered.insert("id".into(), json!(id));
                            ordered.insert(
                                "needs".into(),
                                needs.iter().map(|n| json!(format!("t{n}"))).collect(),
                            );
                            ordered.append(&mut task);
                            Value::Object(ordered)
                        })
                        .collect();
                    let mut phase = Map::new();
                    phase.insert("id".into(), json!(format!("phase-{p}")));
                    if let Some(name) = name {
                        phase.insert("name".into(), json!(name));
                    }
                    if let Some(budget) = budget {
                        phase.insert("budget".into(), json!(budget));
                    }
                    phase.insert("approval".into(), json!(approval));
                    phase.insert("tasks".into(), Value::Array(tasks));
                    Value::Object(phase)
                })
                .collect();
            plan.insert("phases".into(), Value::Array(phases));
            Value::Object(plan)
        })
}

/// The plan as data, without the hash of the text it came from.
fn comparable(plan: &Plan) -> Value {
    let mut value = serde_json::to_value(plan).expect("a plan serializes to JSON");
    value
        .as_object_mut()
        .expect("a plan serializes to an object")
        .remove("content_hash");
    value
}

#[track_caller]
fn loads(name: &str, text: &str) -> Result<Plan, TestCaseError> {
    match load_checked(name, text)? {
        Ok(plan) => Ok(plan),
        Err(diagnostics) => {
            let rendered = Diagnostics::new(SourceFile::new(name, text), diagnostics).render();
            Err(TestCaseError::fail(format!(
                "{name} does not load:\n{rendered}\n{text}"
            )))
        }
    }
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = load_checked("bytes.yaml", &String::from_utf8_lossy(&bytes))?;
    }

    #[test]
    fn yamlish_text_never_panics(text in yamlish()) {
        let _ = load_checked("yamlish.yaml", &text)?;
    }

    #[test]
    fn yamlish_text_under_a_plan_head_never_panics(text in yamlish()) {
        let _ = load_checked("head.yaml", &format!("version: 1\nname: p\nphases:\n  - id: a\n    tasks:\n      - {text}"))?;
    }
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn mutated_examples_never_panic(
        example in prop::sample::select(examples()),
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        let (name, text) = example;
        let text = mutations.iter().fold(text, |text, m| apply(&text, m));
        let _ = load_checked(&name, &text)?;
    }

    #[test]
    fn a_plan_loads_the_same_as_block_yaml_and_as_json(value in plan_value()) {
        let yaml = serde_yaml::to_string(&value).expect("a JSON value serializes to YAML");
        let json_line = serde_json::to_string(&value).expect("a JSON value serializes");
        let json_pretty = serde_json::to_string_pretty(&value).expect("a JSON value serializes");
        let from_yaml = loads("generated.yaml", &yaml)?;
        let expected = comparable(&from_yaml);
        prop_assert_eq!(&comparable(&loads("generated.json", &json_line)?), &expected);
        prop_assert_eq!(&comparable(&loads("generated.json", &json_pretty)?), &expected);
        // The loaded plan holds what was written: phases, ids, needs, risks.
        let phases = value["phases"].as_array().expect("phases are a list");
        prop_assert_eq!(from_yaml.phases.len(), phases.len());
        let mut index = 0;
        for (phase_index, phase) in phases.iter().enumerate() {
            for task in phase["tasks"].as_array().expect("tasks are a list") {
                let loaded = &from_yaml.tasks[index];
                prop_assert_eq!(loaded.id.as_str(), task["id"].as_str().expect("ids are strings"));
                prop_assert_eq!(loaded.phase, phase_index);
                prop_assert_eq!(loaded.risk.as_str(), task["risk"].as_str().expect("risks are strings"));
                let needs: Vec<String> = loaded.needs.iter().map(|&n| from_yaml.tasks[n].id.to_string()).collect();
                let written: Vec<String> = task["needs"].as_array().expect("needs are a list").iter()
                    .map(|n| n.as_str().expect("needs are strings").to_owned()).collect();
                prop_assert_eq!(needs, written);
                prop_assert_eq!(loaded.name.as_deref(), task.get("name").and_then(Value::as_str));
                index += 1;
            }
        }
        prop_assert_eq!(index, from_yaml.tasks.len());
    }
}

/// Each bundled example, rewritten as JSON, loads as the same plan.
#[test]
fn every_example_loads_the_same_as_json() {
    for (name, text) in examples() {
        let yaml = loads(&name, &text).unwrap_or_else(|error| panic!("{error}"));
        let value: serde_yaml::Value = serde_yaml::from_str(&text).expect("the example is YAML");
        let json = serde_json::to_string_pretty(&value).expect("the example converts to JSON");
        let from_json = loads(&name, &json).unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(comparable(&from_json), comparable(&yaml), "{name}");
    }
}

/// What the properties above found, each fixed; named after what broke.
#[test]
fn regressions_found_by_the_properties() {
    let rendered = |text: &str| {
        let source = SourceFile::new("plan.yaml", text);
        match parse_inner(&source, PathBuf::from(".")) {
            Ok(_) => panic!("{text:?} loads"),
            Err(items) => Diagnostics::new(source, items).render(),
        }
    };
    // A lone carriage return ends a line for the parsers: the position was
    // on a line 2 the file did not have.
    assert_eq!(
        rendered("\r\u{b}"),
        "error: a plan must be a mapping, found a scalar\n --> plan.yaml:2:1\n  |\n2 | \n  | ^\n  = help: a plan is a mapping with `version: 1`, `name:` and `phases:`\n"
    );
    // An empty task at the very end of the file: the parser's position was
    // past the last line.
    let text = "version: 1\nname: p\nphases:\n  - id: a\n    tasks:\n      - ";
    assert!(
        rendered(text).starts_with("error: a task must be a mapping\n --> plan.yaml:6:9\n"),
        "{}",
        rendered(text)
    );
    // U+0085 breaks a line in YAML 1.1 (serde_yaml) only: the unknown key
    // serde_yaml saw had no position, and templates went unchecked.
    assert!(
        rendered("version: version\u{85}version<<: ")
            .starts_with("error: YAML read differently by YAML 1.1 and 1.2: "),
        "{}",
        rendered("version: version\u{85}version<<: ")
    );
    // A sequence at the top, then a mapping: serde_yaml's "more than one
    // document" came without a position.
    let text = "  - id: a\nversion: 1\n";
    assert!(
        rendered(text)
            .starts_with("error: plan file holds more than one YAML document\n --> plan.yaml:"),
        "{}",
        rendered(text)
    );
}
