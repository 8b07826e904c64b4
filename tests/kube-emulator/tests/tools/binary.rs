//! The `kube-emulator` binary, the admin endpoints and the watch protocol, over raw HTTP.

use serde_json::{Value, json};
use std::{
    io::{BufRead, BufReader, Read, Write},
    net::TcpStream,
    process::{Child, Command, Stdio},
};

struct Http {
    status: u16,
    body: String,
}

impl Http {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|error| panic!("not JSON ({error}): {}", self.body))
    }
}

fn send(port: u16, method: &str, path: &str, body: Option<&Value>) -> TcpStream {
    let mut stream =
        TcpStream::connect(("127.0.0.1", port)).expect("the emulator accepts connections");
    let body = body.map(Value::to_string).unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("the request is sent");
    stream
}

fn receive(mut stream: TcpStream) -> Http {
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("the response is read");
    let raw = String::from_utf8(raw).expect("UTF-8");
    let (head, body) = raw.split_once("\r\n\r\n").expect("headers end");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .expect("a status line");
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        let mut decoded = String::new();
        let mut rest = body;
        while let Some((size, tail)) = rest.split_once("\r\n") {
            let size = usize::from_str_radix(size.trim(), 16).expect("a chunk size");
            if size == 0 {
                break;
            }
            decoded.push_str(&tail[..size]);
            rest = &tail[size + 2..];
        }
        decoded
    } else {
        body.to_owned()
    };
    Http { status, body }
}

fn http(port: u16, method: &str, path: &str, body: Option<&Value>) -> Http {
    receive(send(port, method, path, body))
}

struct Process {
    child: Child,
    port: u16,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(args: &[&str]) -> Process {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kube-emulator"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the binary starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout is piped"))
        .read_line(&mut line)
        .expect("the first line is read");
    let port = line
        .strip_prefix("kube-emulator listening on http://127.0.0.1:")
        .and_then(|rest| rest.trim().parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    Process { child, port }
}

#[test]
fn binary_serves_writes_kubeconfig_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let kubeconfig = dir.path().join("config");
    let kubeconfig_arg = kubeconfig.display().to_string();
    let mut process = start(&[
        "--kubeconfig",
        &kubeconfig_arg,
        "--context",
        "dev",
        "--rollout-delay",
        "0s",
    ]);
    let written = std::fs::read_to_string(&kubeconfig).expect("the kubeconfig exists");
    assert!(
        written.contains(&format!("server: http://127.0.0.1:{}", process.port)),
        "{written}"
    );
    assert!(written.contains("current-context: dev"), "{written}");

    let version = http(process.port, "GET", "/version", None);
    assert_eq!(version.status, 200);
    assert_eq!(version.json()["gitVersion"], "v1.33.0");

    let created = http(
        process.port,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        Some(&json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}})),
    );
    assert_eq!(created.status, 201);
    let state = http(process.port, "GET", "/_emulator/state", None).json();
    assert!(
        state["resources"]["configmaps"]
            .as_array()
            .is_some_and(|items| items.len() == 1)
    );
    assert_eq!(
        http(process.port, "POST", "/_emulator/reset", None).status,
        200
    );
    let state = http(process.port, "GET", "/_emulator/state", None).json();
    assert!(state["resources"].get("configmaps").is_none());
    assert_eq!(
        state["resources"]["namespaces"].as_array().map(Vec::len),
        Some(4)
    );

    let terminated = Command::new("kill")
        .args(["-TERM", &process.child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(terminated.success());
    let status = process.child.wait().expect("the binary exits");
    assert_eq!(status.code(), Some(0));
}

#[test]
fn errors_are_status_objects() {
    let process = start(&[]);
    let missing = http(
        process.port,
        "GET",
        "/apis/apps/v1/namespaces/default/deployments/api",
        None,
    );
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.json(),
        json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": "deployments.apps \"api\" not found",
            "reason": "NotFound",
            "details": {"name": "api", "group": "apps", "kind": "deployments"},
            "code": 404,
        })
    );
    let body = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "1"}});
    http(
        process.port,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        Some(&body),
    );
    let again = http(
        process.port,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        Some(&body),
    );
    assert_eq!(again.status, 409);
    assert_eq!(again.json()["reason"], "AlreadyExists");

    let mut stale = http(
        process.port,
        "GET",
        "/api/v1/namespaces/default/configmaps/a",
        None,
    )
    .json();
    stale["data"]["k"] = json!("2");
    assert_eq!(
        http(
            process.port,
            "PUT",
            "/api/v1/namespaces/default/configmaps/a",
            Some(&stale)
        )
        .status,
        200
    );
    let conflict = http(
        process.port,
        "PUT",
        "/api/v1/namespaces/default/configmaps/a",
        Some(&stale),
    );
    assert_eq!(conflict.status, 409);
    assert_eq!(
        conflict.json()["message"],
        "Operation cannot be fulfilled on configmaps \"a\": the object has been modified; please apply your changes to the latest version and try again"
    );

    let invalid = http(
        process.port,
        "POST",
        "/apis/apps/v1/namespaces/default/deployments",
        Some(
            &json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "api"}, "spec": {"template": {"spec": {"containers": [{"name": "a", "image": "x"}]}}}}),
        ),
    );
    assert_eq!(invalid.status, 422);
    assert_eq!(
        invalid.json()["message"],
        "Deployment.apps \"api\" is invalid: spec.selector: Required value"
    );

    let dry = http(
        process.port,
        "POST",
        "/api/v1/namespaces/default/configmaps?dryRun=All",
        Some(&json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "dry"}})),
    );
    assert_eq!(dry.status, 201);
    assert_eq!(
        http(
            process.port,
            "GET",
            "/api/v1/namespaces/default/configmaps/dry",
            None
        )
        .status,
        404
    );
}

#[test]
fn watches_replay_and_stream() {
    let process = start(&[]);
    let list = http(
        process.port,
        "GET",
        "/api/v1/namespaces/default/configmaps",
        None,
    )
    .json();
    let version = list["metadata"]["resourceVersion"]
        .as_str()
        .expect("a version")
        .to_owned();
    let watch = send(
        process.port,
        "GET",
        &format!(
            "/api/v1/namespaces/default/configmaps?watch=true&resourceVersion={version}&timeoutSeconds=1&labelSelector=app%3Dweb"
        ),
        None,
    );
    let labelled = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web", "labels": {"app": "web"}}});
    let other = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "other"}});
    http(
        process.port,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        Some(&other),
    );
    http(
        process.port,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        Some(&labelled),
    );
    http(
        process.port,
        "DELETE",
        "/api/v1/namespaces/default/configmaps/web",
        None,
    );
    let events: Vec<Value> = receive(watch)
        .body
        .lines()
        .map(|line| serde_json::from_str(line).expect("each line is JSON"))
        .collect();
    let summary: Vec<(&str, &str)> = events
        .iter()
        .map(|event| {
            (
                event["type"].as_str().unwrap_or_default(),
                event["object"]["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(summary, [("ADDED", "web"), ("DELETED", "web")]);
    assert_eq!(events[0]["object"]["kind"], "ConfigMap");

    let initial = http(
        process.port,
        "GET",
        "/api/v1/namespaces/default/configmaps?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=1",
        None,
    );
    let events: Vec<Value> = initial
        .body
        .lines()
        .map(|line| serde_json::from_str(line).expect("JSON"))
        .collect();
    assert_eq!(events[0]["type"], "ADDED");
    assert_eq!(events[0]["object"]["metadata"]["name"], "other");
    assert_eq!(events[1]["type"], "BOOKMARK");
    assert_eq!(
        events[1]["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"],
        "true"
    );
}
