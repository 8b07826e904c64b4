//! `plangate schema` and the committed `docs/plan.schema.json`: the file is
//! the command's output, the bundled plans and `plangate init`'s starter
//! validate against it, and broken plans are refused by both the schema and
//! `plangate validate`. (That the schema allows exactly the loader's keys at
//! every level is tested in `plans/src/schema.rs`, next to the loader.)
//!
//! The real yaml-language-server (the server VS Code's YAML extension runs)
//! reads the schema through the modeline of `docs/editors.md`.
//!
//! Validation uses the `jsonschema` crate (draft-07, the dialect the schema
//! declares), on the plan's YAML read by serde_yaml into JSON, as an editor
//! would see it.

use std::{
    io::{BufRead, BufReader, Read, Write},
    process::{Child, ChildStdin, Command, Stdio},
    sync::mpsc::{self, Receiver},
};

use serde_json::{Value, json};

use crate::common::{PlangateCli, Workspace, repo_root};

fn committed_schema() -> Value {
    let text = std::fs::read_to_string(repo_root().join("docs/plan.schema.json"))
        .expect("docs/plan.schema.json is committed");
    serde_json::from_str(&text).expect("docs/plan.schema.json is JSON")
}

fn validator() -> jsonschema::Validator {
    let schema = committed_schema();
    jsonschema::draft7::meta::validate(&schema).expect("the schema is a valid draft-07 schema");
    jsonschema::draft7::new(&schema).expect("the schema compiles")
}

fn yaml_to_json(text: &str) -> Value {
    let yaml: serde_yaml::Value = serde_yaml::from_str(text).expect("the plan is YAML");
    serde_json::to_value(yaml).expect("the plan has string keys")
}

/// The schema's complaints about `text`, each as `instance path: message`.
fn schema_errors(validator: &jsonschema::Validator, text: &str) -> Vec<String> {
    let instance = yaml_to_json(text);
    validator
        .iter_errors(&instance)
        .map(|error| format!("{}: {error}", error.instance_path()))
        .collect()
}

#[test]
fn the_committed_schema_is_what_plangate_schema_prints() {
    let printed = PlangateCli::new().args(["schema"]).run();
    printed.assert_code(0);
    assert!(printed.stderr.is_empty(), "{}", printed.stderr);
    let committed = std::fs::read_to_string(repo_root().join("docs/plan.schema.json"))
        .expect("docs/plan.schema.json is committed");
    assert!(
        printed.stdout == committed,
        "docs/plan.schema.json is stale: regenerate it with `cargo run -- schema > docs/plan.schema.json`"
    );
    assert_eq!(
        printed.json()["$schema"],
        "http://json-schema.org/draft-07/schema#"
    );
}

#[test]
fn every_bundled_plan_and_the_starter_validate_against_the_schema() {
    let validator = validator();
    let mut plans: Vec<_> = std::fs::read_dir(repo_root().join("examples"))
        .expect("examples/ is readable")
        .map(|entry| entry.expect("an entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .collect();
    plans.sort();
    assert!(plans.len() >= 4, "{plans:?}");
    for plan in &plans {
        let text = std::fs::read_to_string(plan).expect("the plan is readable");
        let errors = schema_errors(&validator, &text);
        assert!(errors.is_empty(), "{}: {errors:#?}", plan.display());
    }

    let workspace = Workspace::new();
    workspace.run(["init"]).assert_code(0);
    let starter = workspace.read("plan.yaml");
    let errors = schema_errors(&validator, &starter);
    assert!(errors.is_empty(), "the starter: {errors:#?}");
}

/// Each broken plan: what is changed, and where the schema says it is wrong.
const BROKEN: &[(&str, &str, &str, &str)] = &[
    (
        "an unknown task key",
        "    risk: low\n",
        "    risk: low\n    retires: 2\n",
        "/phases/0/tasks/0",
    ),
    (
        "a bad risk",
        "    risk: low\n",
        "    risk: severe\n",
        "/phases/0/tasks/0/risk",
    ),
    (
        "a bad duration",
        "  timeout: 5m\n",
        "  timeout: 5 minutes and a bit\n",
        "/defaults/timeout",
    ),
    (
        "a number for a duration",
        "  timeout: 5m\n",
        "  timeout: 300\n",
        "/defaults/timeout",
    ),
    (
        "an unknown top-level key",
        "name: broken\n",
        "name: broken\nowner: me\n",
        "",
    ),
    (
        "a bad on_failure",
        "  on_failure: stop\n",
        "  on_failure: panic\n",
        "/policy/on_failure",
    ),
    (
        "two executor keys",
        "    run: {shell: [\"true\"]}\n",
        "    run: {shell: [\"true\"], helm: {op: test, release: web}}\n",
        "/phases/0/tasks/0/run",
    ),
    (
        "a field its operation does not use",
        "    verify: {kubectl: {op: rollout_status, resource: deployment/web}}\n",
        "    verify: {kubectl: {op: rollout_status, resource: deployment/web, replicas: 2}}\n",
        // `verify` is an action or a list of them (`anyOf`), so the schema
        // names the `verify` whose every form failed.
        "/phases/0/tasks/0/verify",
    ),
    (
        "a key of another executor kind",
        "  sh: {kind: shell}\n",
        "  sh: {kind: shell, namespace: web}\n",
        "/executors/sh",
    ),
];

const VALID: &str = "\
version: 1
name: broken
policy:
  on_failure: stop
defaults:
  timeout: 5m
executors:
  sh: {kind: shell}
phases:
- id: only
  tasks:
  - id: task
    risk: low
    run: {shell: [\"true\"]}
    verify: {kubectl: {op: rollout_status, resource: deployment/web}}
";

#[test]
fn broken_plans_are_refused_by_the_schema_and_by_validate() {
    let validator = validator();
    assert_eq!(schema_errors(&validator, VALID), [""; 0]);
    PlangateCli::new()
        .plan(VALID)
        .args(["validate", "plan.yaml"])
        .run()
        .assert_code(0);
    for (what, valid, broken, at) in BROKEN {
        assert!(
            VALID.contains(valid),
            "{what}: the valid plan has {valid:?}"
        );
        let text = VALID.replacen(valid, broken, 1);
        let errors = schema_errors(&validator, &text);
        assert!(
            errors
                .iter()
                .any(|error| error.starts_with(&format!("{at}:"))),
            "{what}: the schema does not refuse it at `{at}`: {errors:#?}"
        );
        PlangateCli::new()
            .plan(&text)
            .args(["validate", "plan.yaml"])
            .run()
            .assert_code(2);
    }
}

#[test]
fn the_duration_pattern_accepts_what_plangate_accepts() {
    let schema = committed_schema();
    let duration = &schema["definitions"]["duration"];
    let pattern = jsonschema::draft7::new(duration).expect("the duration schema compiles");
    for text in [
        "90s", "10m", "1h30m", "2h 15m", "1.5h", "250ms", "1d", "3 days", "1w", " 5m ", "2hrs",
    ] {
        assert!(
            plangate_plans::parse_duration(text).is_ok(),
            "{text:?} parses"
        );
        assert!(pattern.is_valid(&json!(text)), "{text:?} matches");
    }
    for text in [
        "",
        "10",
        "ten minutes",
        "5x",
        "m5",
        "1h-30m",
        "1.h",
        "5 m s",
    ] {
        assert!(
            plangate_plans::parse_duration(text).is_err(),
            "{text:?} does not parse"
        );
        assert!(!pattern.is_valid(&json!(text)), "{text:?} does not match");
    }
}

#[test]
fn placeholders_stand_for_templated_action_fields() {
    let validator = validator();
    let text = VALID.replace(
        "    verify: {kubectl: {op: rollout_status, resource: deployment/web}}\n",
        "    verify: {kubectl: {op: rollout_status, resource: deployment/web, timeout: \"{{ vars.wait }}\"}}\n",
    );
    assert_eq!(schema_errors(&validator, &text), [""; 0]);
}

/// The real yaml-language-server, installed by `scripts/install-test-tools.sh`
/// (which this runs when it is missing); `None`, loudly, only outside CI when
/// it cannot be installed.
#[expect(
    clippy::print_stderr,
    reason = "a machine that cannot install the server says loudly that the editor check did not run"
)]
fn yaml_language_server() -> Option<std::path::PathBuf> {
    let tools = std::env::var_os("PLANGATE_TOOLS_DIR")
        .map_or_else(|| repo_root().join(".tools/bin"), std::path::PathBuf::from);
    let server = tools.join("yaml-language-server");
    if !server.exists() {
        let installed = Command::new(repo_root().join("scripts/install-test-tools.sh"))
            .arg("yaml-language-server")
            .stdin(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        let server = repo_root().join(".tools/bin/yaml-language-server");
        if installed && server.exists() {
            return Some(server);
        }
        assert!(
            std::env::var_os("CI").is_none(),
            "yaml-language-server is missing and could not be installed: run scripts/install-test-tools.sh"
        );
        eprintln!(
            "\n\n*** SKIPPED: yaml-language-server is missing and `scripts/install-test-tools.sh yaml-language-server` failed; the schema is not checked in a real editor server ***\n"
        );
        return None;
    }
    Some(server)
}

/// A language-server session over stdio: LSP's `Content-Length` frames,
/// read on a thread so that a silent server fails the test instead of hanging it.
struct LanguageServer {
    child: Child,
    stdin: ChildStdin,
    messages: Receiver<Value>,
}

impl LanguageServer {
    fn start(server: &std::path::Path) -> Self {
        let mut child = Command::new(server)
            .arg("--stdio")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("yaml-language-server starts");
        let stdin = child.stdin.take().expect("piped stdin");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let (sender, messages) = mpsc::channel();
        std::thread::spawn(move || {
            loop {
                let mut length = None;
                loop {
                    let mut line = String::new();
                    if stdout.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let line = line.trim_end();
                    if line.is_empty() {
                        break;
                    }
                    if let Some(value) = line.strip_prefix("Content-Length:") {
                        length = value.trim().parse::<usize>().ok();
                    }
                }
                let Some(length) = length else { return };
                let mut body = vec![0; length];
                if stdout.read_exact(&mut body).is_err() {
                    return;
                }
                let Ok(message) = serde_json::from_slice(&body) else {
                    return;
                };
                if sender.send(message).is_err() {
                    return;
                }
            }
        });
        Self {
            child,
            stdin,
            messages,
        }
    }

    fn send(&mut self, message: &Value) {
        let body = serde_json::to_vec(message).expect("a message serialises");
        write!(self.stdin, "Content-Length: {}\r\n\r\n", body.len()).expect("the server reads");
        self.stdin.write_all(&body).expect("the server reads");
        self.stdin.flush().expect("the server reads");
    }

    /// The next message that is not a request of the server's own, which
    /// are answered (with no configuration: the defaults).
    fn next(&mut self) -> Value {
        loop {
            // A guard against a hung server, not a timing assertion.
            let message = self
                .messages
                .recv_timeout(std::time::Duration::from_secs(120))
                .expect("yaml-language-server answers");
            if let (Some(id), Some(method)) = (message.get("id"), message["method"].as_str()) {
                let result = if method == "workspace/configuration" {
                    let items = message["params"]["items"].as_array().map_or(0, Vec::len);
                    Value::Array(vec![Value::Null; items])
                } else {
                    Value::Null
                };
                self.send(&json!({"jsonrpc": "2.0", "id": id, "result": result}));
                continue;
            }
            return message;
        }
    }

    /// Opens `text` as `uri` and returns the diagnostics the server publishes for it.
    fn diagnostics(&mut self, uri: &str, text: &str) -> Vec<(u64, String)> {
        self.send(&json!({
            "jsonrpc": "2.0",
            "method": "textDocument/didOpen",
            "params": {"textDocument": {"uri": uri, "languageId": "yaml", "version": 1, "text": text}},
        }));
        loop {
            let message = self.next();
            if message["method"] == "textDocument/publishDiagnostics"
                && message["params"]["uri"] == uri
            {
                return message["params"]["diagnostics"]
                    .as_array()
                    .expect("a list of diagnostics")
                    .iter()
                    .map(|diagnostic| {
                        (
                            diagnostic["range"]["start"]["line"]
                                .as_u64()
                                .expect("a line"),
                            diagnostic["message"]
                                .as_str()
                                .expect("a message")
                                .to_owned(),
                        )
                    })
                    .collect();
            }
        }
    }
}

impl Drop for LanguageServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What an editor shows: the real yaml-language-server, given a plan whose
/// first line is the modeline of `docs/editors.md`, finds nothing wrong with
/// the bundled plans and points at the lines of a broken one.
#[test]
fn yaml_language_server_reads_the_schema_through_the_modeline() {
    let Some(server) = yaml_language_server() else {
        return;
    };
    // The modeline exactly as docs/editors.md writes it, relative to the
    // plan, with the schema next to the plans.
    let folder = tempfile::tempdir().expect("a temp dir");
    std::fs::copy(
        repo_root().join("docs/plan.schema.json"),
        folder.path().join("plan.schema.json"),
    )
    .expect("the schema is copied");
    let modeline = "# yaml-language-server: $schema=./plan.schema.json\n";
    let uri = |name: &str| format!("file://{}/{name}.yaml", folder.path().display());
    let mut session = LanguageServer::start(&server);
    session.send(&json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"processId": null, "rootUri": null, "capabilities": {}},
    }));
    loop {
        if session.next()["id"] == 1 {
            break;
        }
    }
    session.send(&json!({"jsonrpc": "2.0", "method": "initialized", "params": {}}));

    for plan in ["quickstart", "marathon-42", "gitops", "k8s-app"] {
        let text = std::fs::read_to_string(repo_root().join(format!("examples/{plan}.yaml")))
            .expect("the plan is readable");
        let diagnostics = session.diagnostics(&uri(plan), &format!("{modeline}{text}"));
        assert_eq!(diagnostics, [], "{plan}");
    }

    // Line numbers are 0-based, and the modeline is line 0.
    let broken = VALID
        .replacen("    risk: low\n", "    risk: severe\n    retires: 2\n", 1)
        .replacen("  timeout: 5m\n", "  timeout: 5 parsecs\n", 1);
    let diagnostics = session.diagnostics(&uri("broken"), &format!("{modeline}{broken}"));
    let line_of = |needle: &str| {
        u64::try_from(
            format!("{modeline}{broken}")
                .lines()
                .position(|line| line.contains(needle))
                .expect("the line is there"),
        )
        .expect("a small line number")
    };
    for (needle, message) in [
        ("retires", "Property retires is not allowed"),
        ("risk: severe", "Value is not accepted"),
        ("timeout: 5 parsecs", "String does not match the pattern"),
    ] {
        assert!(
            diagnostics
                .iter()
                .any(|(line, text)| *line == line_of(needle) && text.contains(message)),
            "no `{message}` on the line of `{needle}`: {diagnostics:#?}"
        );
    }
}
