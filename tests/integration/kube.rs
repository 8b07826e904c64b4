//! Kubernetes plans end to end: the real `kubectl` and `helm` binaries,
//! driven by plangate, against the in-repo API emulator on 127.0.0.1.

use std::{path::PathBuf, process::Stdio, time::Duration};

use nix::{
    sys::signal::{Signal, kill},
    unistd::Pid,
};
use plangate_kube_emulator::{Emulator, EmulatorConfig, RunningEmulator};
use serde_json::Value;

use crate::common::{Finished, Workspace, processes_of_run, repo_root, wait_until};

fn tools_dir() -> PathBuf {
    std::env::var_os("PLANGATE_TOOLS_DIR")
        .map_or_else(|| repo_root().join(".tools/bin"), PathBuf::from)
}

pub(crate) fn tool(name: &str) -> PathBuf {
    let path = tools_dir().join(name);
    assert!(
        path.exists(),
        "`{}` is missing: run scripts/install-test-tools.sh",
        path.display()
    );
    path
}

/// A workspace wired to a fresh emulator: kubeconfig with context `dev`,
/// private HOME and Helm folders, the real binaries.
struct Cluster {
    workspace: Workspace,
    emulator: RunningEmulator,
}

impl Cluster {
    fn new() -> Self {
        let emulator = Emulator::spawn(EmulatorConfig {
            rollout_delay: Duration::from_millis(50),
            progress_deadline: Duration::from_secs(2),
            ..EmulatorConfig::default()
        })
        .expect("the emulator starts");
        let workspace = Workspace::new();
        emulator
            .write_kubeconfig(workspace.path().join("kubeconfig"), "dev")
            .expect("the kubeconfig is written");
        Self {
            workspace,
            emulator,
        }
    }

    fn command<I, S>(&self, args: I) -> std::process::Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut command = self.workspace.command(args);
        let home = self.workspace.path().join("home");
        command
            .env("KUBECONFIG", self.workspace.path().join("kubeconfig"))
            .env("HOME", &home)
            .env("HELM_CACHE_HOME", home.join("helm-cache"))
            .env("HELM_CONFIG_HOME", home.join("helm-config"))
            .env("HELM_DATA_HOME", home.join("helm-data"))
            .env("PLANGATE_KUBECTL", tool("kubectl"))
            .env("PLANGATE_HELM", tool("helm"));
        command
    }

    fn run<I, S>(&self, args: I) -> Finished
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let output = self.command(args).output().expect("plangate runs");
        Finished {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8(output.stdout).expect("UTF-8"),
            stderr: String::from_utf8(output.stderr).expect("UTF-8"),
            dir: tempfile::tempdir().expect("a temp dir"),
        }
    }

    /// `kubectl` itself, for setting up state before a run.
    fn kubectl(&self, args: &[&str]) -> String {
        let output = std::process::Command::new(tool("kubectl"))
            .args(args)
            .env("KUBECONFIG", self.workspace.path().join("kubeconfig"))
            .env("HOME", self.workspace.path().join("home"))
            .current_dir(self.workspace.path())
            .output()
            .expect("kubectl runs");
        assert!(
            output.status.success(),
            "kubectl {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("UTF-8")
    }

    /// The objects of namespace `demo` of the given resources, with the fields
    /// the server owns removed, sorted: what "restored exactly" compares.
    fn objects(&self, resources: &[&str]) -> Vec<Value> {
        let dump = self.emulator.dump();
        let mut out = Vec::new();
        for resource in resources {
            for object in dump["resources"][*resource]
                .as_array()
                .cloned()
                .unwrap_or_default()
            {
                if object["metadata"]["namespace"] != "demo" {
                    continue;
                }
                out.push(comparable(object));
            }
        }
        out.sort_by_key(|o| format!("{}/{}", o["kind"], o["metadata"]["name"]));
        out
    }
}

fn comparable(mut object: Value) -> Value {
    if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        for key in [
            "resourceVersion",
            "uid",
            "creationTimestamp",
            "generation",
            "managedFields",
        ] {
            metadata.remove(key);
        }
        if let Some(annotations) = metadata
            .get_mut("annotations")
            .and_then(Value::as_object_mut)
        {
            annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
            annotations.remove("deployment.kubernetes.io/revision");
            if annotations.is_empty() {
                metadata.remove("annotations");
            }
        }
    }
    if let Some(object) = object.as_object_mut() {
        object.remove("status");
    }
    object
}

const NAMESPACE: &str = "apiVersion: v1\nkind: Namespace\nmetadata: {name: demo}\n";
const CONFIG_V1: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web-config, namespace: demo, labels: {app: web}}\ndata: {GREETING: hello, LEVEL: info}\n";
const APP: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web-config, labels: {app: web}}\ndata: {GREETING: bonjour, LEVEL: debug}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, labels: {app: web}}\nspec:\n  replicas: 2\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers: [{name: web, image: 'nginx:1.27', ports: [{containerPort: 80}]}]\n---\napiVersion: v1\nkind: Service\nmetadata: {name: web, labels: {app: web}}\nspec:\n  selector: {app: web}\n  ports: [{port: 80, targetPort: 80}]\n";

fn app_plan(second_image: &str) -> String {
    format!(
        "version: 1
name: app
environment: dev
policy: {{on_failure: rollback-phase, concurrency: 1}}
vars: {{namespace: demo, kube_context: dev}}
phases:
  - id: deploy
    tasks:
      - id: apply-app
        risk: medium
        run: {{kubectl: {{op: apply, files: [app.yaml]}}}}
        verify: {{kubectl: {{op: rollout_status, resource: deployment/web, timeout: 30s}}}}
        rollback: auto
      - id: new-image
        risk: medium
        needs: [apply-app]
        run: {{kubectl: {{op: set_image, resource: deployment/web, images: {{web: '{second_image}'}}}}}}
        verify: {{kubectl: {{op: rollout_status, resource: deployment/web, timeout: 5s}}}}
        rollback: auto
"
    )
}

#[test]
fn a_failed_rollout_rolls_the_phase_back_to_the_exact_previous_state() {
    let cluster = Cluster::new();
    cluster.workspace.write("namespace.yaml", NAMESPACE);
    cluster.workspace.write("config.yaml", CONFIG_V1);
    cluster.kubectl(&["apply", "-f", "namespace.yaml"]);
    cluster.kubectl(&["apply", "-f", "config.yaml"]);
    let resources = ["configmaps", "deployments.apps", "services"];
    let before = cluster.objects(&resources);
    assert_eq!(before.len(), 1, "only the ConfigMap exists before the run");

    cluster.workspace.write("app.yaml", APP);
    cluster
        .workspace
        .write("plan.yaml", &app_plan("nginx:broken"));
    let finished = cluster.run(["run", "plan.yaml"]);
    finished.assert_code(1);
    let states = cluster.workspace.states();
    assert_eq!(states["new-image"], "rolled-back", "{}", finished.stderr);
    assert_eq!(states["apply-app"], "rolled-back", "{}", finished.stderr);
    assert_eq!(cluster.workspace.status()["status"], "rolled-back");
    assert_eq!(
        cluster.objects(&resources),
        before,
        "every object is as it was before the run"
    );
}

#[test]
fn a_good_rollout_succeeds_with_evidence() {
    let cluster = Cluster::new();
    cluster.workspace.write("namespace.yaml", NAMESPACE);
    cluster.kubectl(&["apply", "-f", "namespace.yaml"]);
    cluster.workspace.write("app.yaml", APP);
    cluster
        .workspace
        .write("plan.yaml", &app_plan("nginx:1.27.1"));
    cluster.run(["run", "plan.yaml"]).assert_code(0);
    let deployment = cluster.kubectl(&[
        "get",
        "deployment",
        "web",
        "-n",
        "demo",
        "-o",
        "jsonpath={.spec.template.spec.containers[0].image}",
    ]);
    assert_eq!(deployment, "nginx:1.27.1");
    let report = cluster.run(["report", "--format", "json"]).json();
    assert_eq!(report["summary"]["completed"], 2);
    let command = report["phases"][0]["tasks"][0]["history"][0]["command"]
        .as_str()
        .expect("command")
        .to_owned();
    assert!(command.contains("apply"), "{command}");
}

fn helm_plan(image: &str, wait: bool) -> String {
    format!(
        "version: 1
name: cache
policy: {{on_failure: rollback-task}}
vars: {{namespace: demo, kube_context: dev}}
phases:
  - id: deploy
    tasks:
      - id: cache
        risk: medium
        run: {{helm: {{op: upgrade, release: cache, chart: chart, create_namespace: true, wait: {wait}, timeout: 5s, set: {{image: '{image}'}}}}}}
        rollback: auto
"
    )
}

const CHART: &[(&str, &str)] = &[
    (
        "chart/Chart.yaml",
        "apiVersion: v2\nname: cache\nversion: 0.1.0\n",
    ),
    ("chart/values.yaml", "image: redis:7.2\n"),
    (
        "chart/templates/deployment.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: {{ .Release.Name }}}\nspec:\n  replicas: 1\n  selector: {matchLabels: {app: {{ .Release.Name }}}}\n  template:\n    metadata: {labels: {app: {{ .Release.Name }}}}\n    spec:\n      containers: [{name: cache, image: '{{ .Values.image }}'}]\n",
    ),
];

fn helm_history(cluster: &Cluster) -> Vec<Value> {
    let output = std::process::Command::new(tool("helm"))
        .args([
            "history",
            "cache",
            "-n",
            "demo",
            "-o",
            "json",
            "--kube-context",
            "dev",
        ])
        .env("KUBECONFIG", cluster.workspace.path().join("kubeconfig"))
        .env("HOME", cluster.workspace.path().join("home"))
        .env(
            "HELM_CACHE_HOME",
            cluster.workspace.path().join("home/helm-cache"),
        )
        .env(
            "HELM_CONFIG_HOME",
            cluster.workspace.path().join("home/helm-config"),
        )
        .env(
            "HELM_DATA_HOME",
            cluster.workspace.path().join("home/helm-data"),
        )
        .output()
        .expect("helm runs");
    serde_json::from_slice(&output.stdout).unwrap_or_default()
}

#[test]
fn helm_install_upgrade_and_failed_upgrade_rolls_back_to_the_recorded_revision() {
    let cluster = Cluster::new();
    for (path, text) in CHART {
        cluster.workspace.write(path, text);
    }
    let image = |cluster: &Cluster| {
        cluster.kubectl(&[
            "get",
            "deployment",
            "cache",
            "-n",
            "demo",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].image}",
        ])
    };
    cluster
        .workspace
        .write("plan.yaml", &helm_plan("redis:7.2", true));
    cluster.run(["run", "plan.yaml"]).assert_code(0);
    assert_eq!(helm_history(&cluster).len(), 1);
    cluster
        .workspace
        .write("plan.yaml", &helm_plan("redis:7.4", true));
    cluster.run(["run", "plan.yaml"]).assert_code(0);
    assert_eq!(image(&cluster), "redis:7.4");
    assert_eq!(helm_history(&cluster).len(), 2);

    cluster
        .workspace
        .write("plan.yaml", &helm_plan("redis:broken", true));
    let failed = cluster.run(["run", "plan.yaml"]);
    failed.assert_code(1);
    assert_eq!(
        cluster.workspace.states()["cache"],
        "rolled-back",
        "{}",
        failed.stderr
    );
    let history = helm_history(&cluster);
    let last = history.last().expect("a history");
    assert_eq!(last["revision"], 4, "{history:?}");
    assert!(
        last["description"]
            .as_str()
            .unwrap_or("")
            .contains("Rollback to 2"),
        "{history:?}"
    );
    assert_eq!(image(&cluster), "redis:7.4");
}

#[test]
fn rolling_back_a_fresh_install_uninstalls_it() {
    let cluster = Cluster::new();
    for (path, text) in CHART {
        cluster.workspace.write(path, text);
    }
    cluster
        .workspace
        .write("plan.yaml", &helm_plan("redis:7.2", true));
    cluster.run(["run", "plan.yaml"]).assert_code(0);
    let run = cluster.workspace.status()["run"]
        .as_str()
        .expect("run")
        .to_owned();
    cluster.run(["rollback", &run]).assert_code(0);
    assert!(helm_history(&cluster).is_empty(), "the release is gone");
}

#[test]
fn preview_shows_created_changed_and_unchanged_objects_and_writes_nothing() {
    let cluster = Cluster::new();
    cluster.workspace.write("namespace.yaml", NAMESPACE);
    cluster.workspace.write("config.yaml", CONFIG_V1);
    cluster.workspace.write(
        "service.yaml",
        "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: demo, labels: {app: web}}\nspec:\n  selector: {app: web}\n  ports: [{port: 80, targetPort: 80}]\n",
    );
    for file in ["namespace.yaml", "config.yaml", "service.yaml"] {
        cluster.kubectl(&["apply", "-f", file]);
    }
    cluster.workspace.write("app.yaml", APP);
    cluster
        .workspace
        .write("plan.yaml", &app_plan("nginx:1.27.1"));
    let before = cluster.emulator.dump();
    let finished = cluster.run(["plan", "plan.yaml", "--preview", "--format", "json"]);
    finished.assert_code(0);
    assert_eq!(
        cluster.emulator.dump()["resources"],
        before["resources"],
        "a preview writes nothing"
    );
    let report = finished.json();
    let preview = &report["phases"][0]["tasks"][0]["preview"];
    let changes: Vec<(String, String)> = preview["changes"]
        .as_array()
        .unwrap_or_else(|| panic!("changes in {preview}"))
        .iter()
        .map(|c| {
            (
                c["object"].as_str().expect("object").to_owned(),
                c["change"].as_str().expect("change").to_owned(),
            )
        })
        .collect();
    let change_of = |needle: &str| {
        changes
            .iter()
            .find(|(object, _)| object.to_lowercase().contains(needle))
            .map_or_else(
                || panic!("no {needle} in {changes:?}"),
                |(_, change)| change.clone(),
            )
    };
    assert_eq!(change_of("configmap"), "update");
    assert_eq!(change_of("deployment"), "create");
    assert_eq!(change_of("service"), "unchanged");
    let markdown = cluster.run(["plan", "plan.yaml", "--preview"]);
    assert!(
        markdown.stdout.contains("Preview of `apply-app`"),
        "{}",
        markdown.stdout
    );
}

#[test]
fn kill_9_during_kubectl_apply_then_resume_reconciles_without_applying_twice() {
    let mut hit_open_attempt = false;
    for _ in 0..10 {
        let cluster = Cluster::new();
        cluster.workspace.write("namespace.yaml", NAMESPACE);
        cluster.kubectl(&["apply", "-f", "namespace.yaml"]);
        cluster.workspace.write("app.yaml", APP);
        cluster
            .workspace
            .write("plan.yaml", &app_plan("nginx:1.27.1"));
        let mut child = cluster
            .command(["run", "plan.yaml"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("plangate starts");
        // The moment the emulator holds the Service (the manifest's last
        // object), kubectl has applied everything; the engine has not
        // recorded the outcome yet (most of the time).
        wait_until("the apply to reach the cluster", || {
            cluster
                .objects(&["services"])
                .iter()
                .any(|d| d["metadata"]["name"] == "web")
        });
        kill(
            Pid::from_raw(i32::try_from(child.id()).expect("pid fits")),
            Signal::SIGKILL,
        )
        .expect("kill works");
        child.wait().expect("wait works");
        let run = cluster.workspace.status()["run"]
            .as_str()
            .expect("run")
            .to_owned();
        wait_until("orphaned kubectl to finish", || {
            processes_of_run(&run).is_empty()
        });
        let open = cluster.workspace.run(["report", "--format", "json"]).json()["phases"][0]["tasks"][0]["history"]
            .as_array()
            .expect("history")
            .iter()
            .any(|a| a["role"] == "run" && a["outcome"].is_null());

        let resumed = cluster.run(["resume"]);
        resumed.assert_code(0);
        let report = cluster.run(["report", "--format", "json"]).json();
        let task = &report["phases"][0]["tasks"][0];
        let runs: Vec<&Value> = task["history"]
            .as_array()
            .expect("history")
            .iter()
            .filter(|a| a["role"] == "run")
            .collect();
        assert_eq!(task["state"], "succeeded");
        if open {
            hit_open_attempt = true;
            assert_eq!(
                runs.len(),
                1,
                "observe found the apply had happened: it is not applied again: {task}"
            );
            assert_eq!(runs[0]["outcome"], "interrupted");
            assert!(
                runs[0]["stderr_tail"]
                    .as_str()
                    .unwrap_or("")
                    .contains("had taken effect"),
                "{task}"
            );
            break;
        }
    }
    assert!(
        hit_open_attempt,
        "the kill never landed while kubectl apply was in flight"
    );
}

/// A kubectl task that fails before touching anything (its kube context does
/// not exist) has nothing to undo: no rollback runs and no false
/// `rollback-failed` alarm is raised.
#[test]
fn a_kubectl_task_that_changed_nothing_has_nothing_to_undo() {
    let cluster = Cluster::new();
    cluster.workspace.write("app.yaml", APP);
    cluster.workspace.write(
        "plan.yaml",
        "version: 1
name: app
environment: dev
policy: {on_failure: rollback-task, concurrency: 1}
vars: {namespace: demo, kube_context: dev-missing}
phases:
  - id: deploy
    tasks:
      - id: apply-app
        risk: medium
        run: {kubectl: {op: apply, files: [app.yaml]}}
        rollback: auto
",
    );
    let finished = cluster.run(["run", "plan.yaml"]);
    finished.assert_code(1);
    finished.assert_stderr_contains(
        "  keep    `apply-app`: nothing to undo: it failed before it recorded its snapshot, so before it changed anything\n",
    );
    assert!(
        !finished.stderr.contains("undo    `apply-app`"),
        "no rollback starts: {}",
        finished.stderr
    );
    let report = cluster.run(["report", "--format", "json"]).json();
    let task = &report["phases"][0]["tasks"][0];
    assert_eq!(task["state"], "failed", "{task}");
    assert!(
        task["reason"]
            .as_str()
            .expect("a reason")
            .ends_with("; nothing to undo: it failed before it recorded its snapshot, so before it changed anything"),
        "{task}"
    );
    let roles: Vec<&str> = task["history"]
        .as_array()
        .expect("history")
        .iter()
        .map(|attempt| attempt["role"].as_str().expect("role"))
        .collect();
    assert_eq!(roles, ["run"], "no rollback attempt is recorded: {task}");
    assert_eq!(report["status"], "failed");
}

/// A Deployment with the given image, for server-side applies.
fn web(image: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: web, namespace: demo, labels: {{app: web}}}}\nspec:\n  replicas: 1\n  selector: {{matchLabels: {{app: web}}}}\n  template:\n    metadata: {{labels: {{app: web}}}}\n    spec:\n      containers: [{{name: web, image: '{image}'}}]\n"
    )
}

/// Regression: the auto rollback wrote snapshots back with `replace`, which
/// handed the restored fields to a `kubectl` Update manager, and the user's
/// next `kubectl apply --server-side` (own field manager, no force) failed
/// with `Apply failed with 1 conflict: conflict with "kubectl"`.
#[test]
fn an_auto_rollback_leaves_field_ownership_as_it_was() {
    let cluster = Cluster::new();
    cluster.workspace.write("namespace.yaml", NAMESPACE);
    cluster.kubectl(&["apply", "-f", "namespace.yaml"]);
    cluster.workspace.write("good.yaml", &web("nginx:1.27"));
    cluster.kubectl(&[
        "apply",
        "--server-side",
        "--field-manager=deploy",
        "-f",
        "good.yaml",
    ]);
    let owners = |cluster: &Cluster| -> Vec<Value> {
        let live: Value = serde_json::from_str(&cluster.kubectl(&[
            "get",
            "deployment/web",
            "-n",
            "demo",
            "-o",
            "json",
            "--show-managed-fields",
        ]))
        .expect("JSON");
        let mut entries: Vec<Value> = live["metadata"]["managedFields"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        // Status entries are the controller's, written as the rollout goes.
        entries.retain(|entry| entry.get("subresource").is_none());
        for entry in &mut entries {
            entry.as_object_mut().expect("an entry").remove("time");
        }
        entries.sort_by_key(Value::to_string);
        entries
    };
    let before = owners(&cluster);

    cluster.workspace.write("broken.yaml", &web("nginx:broken"));
    cluster.workspace.write(
        "plan.yaml",
        "version: 1
name: app
environment: dev
policy: {on_failure: rollback-task, concurrency: 1}
vars: {kube_context: dev}
phases:
  - id: deploy
    tasks:
      - id: web
        risk: medium
        run: {kubectl: {op: apply, files: [broken.yaml], server_side: true, field_manager: deploy}}
        verify: {kubectl: {op: rollout_status, resource: deployment/web, namespace: demo, timeout: 5s}}
        rollback: auto
",
    );
    let finished = cluster.run(["run", "plan.yaml"]);
    finished.assert_code(1);
    assert_eq!(
        cluster.workspace.states()["web"],
        "rolled-back",
        "{}",
        finished.stderr
    );
    assert_eq!(
        cluster.kubectl(&[
            "get",
            "deployment/web",
            "-n",
            "demo",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].image}"
        ]),
        "nginx:1.27"
    );
    assert_eq!(
        owners(&cluster),
        before,
        "the same managers own the same fields"
    );

    cluster.workspace.write("next.yaml", &web("nginx:1.28"));
    cluster.kubectl(&[
        "apply",
        "--server-side",
        "--field-manager=deploy",
        "-f",
        "next.yaml",
    ]);
}

/// Copies `from` into `to`, recursively.
fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("a folder can be made");
    for entry in std::fs::read_dir(from).expect("the folder reads") {
        let entry = entry.expect("an entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("a file type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("the file copies");
        }
    }
}

/// The bundled marathon against the emulator: `max_tasks: 30` stops it with
/// work deferred, so it ends `incomplete` (exit 4), naming the limit.
#[test]
fn the_marathon_ends_incomplete_at_max_tasks() {
    let cluster = Cluster::new();
    copy_tree(&repo_root().join("examples"), cluster.workspace.path());
    // Its GitOps task merges the release pull request of the seeded GitOps
    // repository, on the GitHub emulator.
    let github = plangate_github_emulator::GithubEmulator::spawn(
        plangate_github_emulator::GithubEmulatorConfig {
            ci_check: Some("ci".to_owned()),
            ..plangate_github_emulator::GithubEmulatorConfig::default()
        },
    )
    .expect("the GitHub emulator starts");
    github.add_token(
        "marathon-token",
        "plangate-bot",
        plangate_github_emulator::TokenScope::All,
    );
    github
        .seed_gitops()
        .expect("the GitOps repository is seeded");
    let plan = cluster.workspace.read("marathon-42.yaml");
    cluster.workspace.write(
        "marathon-42.yaml",
        &plan.replace("http://127.0.0.1:8787", &github.api_url()),
    );
    let output = cluster
        .command(["run", "marathon-42.yaml"])
        .env("GITHUB_TOKEN", "marathon-token")
        .output()
        .expect("plangate runs");
    let finished = Finished {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8(output.stdout).expect("UTF-8"),
        stderr: String::from_utf8(output.stderr).expect("UTF-8"),
        dir: tempfile::tempdir().expect("a temp dir"),
    };
    finished.assert_code(4);
    finished.assert_stderr_contains("incomplete: `max_tasks` 30 reached: 9 tasks deferred\n");
    let report = cluster.workspace.status();
    assert_eq!(report["status"], "incomplete");
    assert_eq!(report["reason"], "`max_tasks` 30 reached: 9 tasks deferred");
    let states = cluster.workspace.states();
    let count = |state: &str| states.values().filter(|s| *s == state).count();
    assert_eq!(
        (count("succeeded"), count("deferred")),
        (30, 9),
        "{states:?}"
    );
    assert_eq!(states["gitops-implementation"], "succeeded", "{states:?}");
    assert_eq!(github.merges("platform/gitops", 1), 1);
    github.assert_conformant();
}
