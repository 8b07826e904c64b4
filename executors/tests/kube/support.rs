use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::Output,
    sync::{Arc, Mutex},
    time::Duration,
};

use plangate_executors::{ActionContext, HelmExecutor, KubectlExecutor};
use plangate_kube_emulator::{Emulator, EmulatorConfig, RunningEmulator};
use plangate_plans::{Action, ActionSpec, ExecutorInstance, TaskId};
use serde_json::Value;

/// The deadline of every request: a failure guard, so a broken test fails
/// instead of hanging.
pub(crate) const GUARD: Duration = Duration::from_secs(60);

/// The namespace the tests work in (`vars.namespace`).
pub(crate) const NAMESPACE: &str = "demo";

/// The folder of the real binaries.
fn tools_dir() -> PathBuf {
    std::env::var_os("PLANGATE_TOOLS_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../.tools/bin"),
        PathBuf::from,
    )
}

/// The real `kubectl` or `helm`.
pub(crate) fn tool(name: &str) -> PathBuf {
    let path = tools_dir().join(name);
    assert!(
        path.exists(),
        "`{}` is missing: run scripts/install-test-tools.sh",
        path.display()
    );
    path
}

/// `executors/tests/fixtures`: the plan folder of every test.
pub(crate) fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// A `kubectl` action from its YAML fields.
pub(crate) fn kubectl_action(yaml: &str) -> Action {
    Action {
        instance: None,
        spec: ActionSpec::Kubectl(serde_yaml::from_str(yaml).expect("a valid kubectl action")),
    }
}

/// A `helm` action from its YAML fields.
pub(crate) fn helm_action(yaml: &str) -> Action {
    Action {
        instance: None,
        spec: ActionSpec::Helm(serde_yaml::from_str(yaml).expect("a valid helm action")),
    }
}

/// An executor instance from its YAML fields.
pub(crate) fn instance(yaml: &str) -> ExecutorInstance {
    serde_yaml::from_str(yaml).expect("a valid executor instance")
}

/// Evidence handed to the checkpoint, with the cluster as it was then.
#[derive(Clone, Debug)]
pub(crate) struct Checkpoint {
    pub(crate) evidence: Value,
    pub(crate) resources: Value,
}

/// What a context's checkpoint received.
#[derive(Clone, Default)]
pub(crate) struct Checkpoints(Arc<Mutex<Vec<Checkpoint>>>);

impl Checkpoints {
    pub(crate) fn all(&self) -> Vec<Checkpoint> {
        self.0.lock().expect("not poisoned").clone()
    }

    #[track_caller]
    pub(crate) fn only(&self) -> Checkpoint {
        let all = self.all();
        assert_eq!(all.len(), 1, "one checkpoint expected: {all:?}");
        all.into_iter().next().expect("one checkpoint")
    }
}

/// A fresh emulator with a kubeconfig whose only context is `context`, and
/// private HOME and Helm folders.
pub(crate) struct Cluster {
    pub(crate) emulator: Arc<RunningEmulator>,
    dir: tempfile::TempDir,
}

impl Cluster {
    /// A cluster whose context is `dev`.
    pub(crate) fn new() -> Self {
        Self::with_context("dev")
    }

    pub(crate) fn with_context(context: &str) -> Self {
        // `Emulator::spawn` blocks on its own runtime, which cannot start
        // inside the test's: it starts on a thread of its own.
        let emulator = std::thread::spawn(|| {
            Emulator::spawn(EmulatorConfig {
                rollout_delay: Duration::from_millis(20),
                progress_deadline: Duration::from_secs(1),
                ..EmulatorConfig::default()
            })
        })
        .join()
        .expect("the emulator's thread does not panic")
        .expect("the emulator starts");
        let dir = tempfile::tempdir().expect("a temp dir");
        emulator
            .write_kubeconfig(dir.path().join("kubeconfig"), context)
            .expect("the kubeconfig is written");
        for folder in ["home", "helm/cache", "helm/config", "helm/data"] {
            std::fs::create_dir_all(dir.path().join(folder)).expect("a folder");
        }
        Self {
            emulator: Arc::new(emulator),
            dir,
        }
    }

    /// The environment every child gets: a private HOME (kubectl caches
    /// discovery there), the kubeconfig, Helm's folders.
    fn env(&self) -> BTreeMap<&'static str, PathBuf> {
        let dir = self.dir.path();
        BTreeMap::from([
            ("HOME", dir.join("home")),
            ("KUBECONFIG", dir.join("kubeconfig")),
            ("HELM_CACHE_HOME", dir.join("helm/cache")),
            ("HELM_CONFIG_HOME", dir.join("helm/config")),
            ("HELM_DATA_HOME", dir.join("helm/data")),
        ])
    }

    pub(crate) fn kubectl_executor(&self) -> KubectlExecutor {
        self.env().into_iter().fold(
            KubectlExecutor::new().with_binary(tool("kubectl").to_string_lossy()),
            |executor, (name, value)| executor.with_env(name, value.to_string_lossy()),
        )
    }

    pub(crate) fn helm_executor(&self) -> HelmExecutor {
        self.env().into_iter().fold(
            HelmExecutor::new().with_binary(tool("helm").to_string_lossy()),
            |executor, (name, value)| executor.with_env(name, value.to_string_lossy()),
        )
    }

    /// A context based in the fixtures, with `vars.namespace: demo` and the
    /// guard's deadline; no checkpoint.
    #[expect(
        clippy::unused_self,
        reason = "tests read `cluster.ctx()` as the context of a request to that cluster"
    )]
    pub(crate) fn ctx(&self) -> ActionContext {
        ActionContext::new("run-1", TaskId::new("task").expect("valid id"), fixtures())
            .with_vars(BTreeMap::from([(
                "namespace".to_owned(),
                NAMESPACE.to_owned(),
            )]))
            .with_timeout(GUARD)
    }

    /// [`ctx`](Self::ctx) with a checkpoint that keeps the evidence and the
    /// cluster's state at that moment.
    pub(crate) fn recording_ctx(&self) -> (ActionContext, Checkpoints) {
        let checkpoints = Checkpoints::default();
        let sink = checkpoints.clone();
        let emulator = Arc::clone(&self.emulator);
        let ctx = self.ctx().with_checkpoint(move |evidence| {
            let resources = emulator.dump()["resources"].clone();
            sink.0.lock().expect("not poisoned").push(Checkpoint {
                evidence,
                resources,
            });
            async { Ok::<(), String>(()) }
        });
        (ctx, checkpoints)
    }

    fn command(&self, tool_name: &str, args: &[&str]) -> Output {
        std::process::Command::new(tool(tool_name))
            .args(args)
            .envs(self.env())
            .current_dir(fixtures())
            .output()
            .expect("the tool runs")
    }

    /// Runs `kubectl` for the test's own setup and checks; it must succeed.
    #[track_caller]
    pub(crate) fn kubectl(&self, args: &[&str]) -> String {
        let output = self.command("kubectl", args);
        assert!(
            output.status.success(),
            "kubectl {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("UTF-8")
    }

    /// Creates namespace `demo`.
    pub(crate) fn create_namespace(&self) {
        self.kubectl(&["apply", "-f", "kube/namespace.yaml"]);
    }

    /// `helm history RELEASE -n demo -o json`: empty when the release does
    /// not exist.
    pub(crate) fn helm_history(&self, release: &str) -> Vec<Value> {
        let output = self.command("helm", &["history", release, "-n", NAMESPACE, "-o", "json"]);
        serde_json::from_slice(&output.stdout).unwrap_or_default()
    }

    /// The image of the first container of a Deployment in `demo`.
    pub(crate) fn image(&self, deployment: &str) -> String {
        self.kubectl(&[
            "get",
            "deployment",
            deployment,
            "-n",
            NAMESPACE,
            "-o",
            "jsonpath={.spec.template.spec.containers[0].image}",
        ])
    }

    /// Every stored object, from the emulator.
    pub(crate) fn resources(&self) -> Value {
        self.emulator.dump()["resources"].clone()
    }

    /// The ConfigMaps, Secrets, Services and Deployments of `demo`, without
    /// what the server and the controller own, sorted: what "restored
    /// exactly" compares (spec, data, labels, annotations).
    pub(crate) fn objects(&self) -> Vec<Value> {
        comparable_objects(&self.resources())
    }
}

/// [`Cluster::objects`] of a dump's resources.
pub(crate) fn comparable_objects(resources: &Value) -> Vec<Value> {
    let mut objects = Vec::new();
    for resource in ["configmaps", "secrets", "services", "deployments.apps"] {
        for object in resources[resource].as_array().into_iter().flatten() {
            if object["metadata"]["namespace"] != NAMESPACE {
                continue;
            }
            let mut object = object.clone();
            let map = object.as_object_mut().expect("an object");
            map.remove("status");
            let metadata = map["metadata"].as_object_mut().expect("metadata");
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
                // The Deployment controller numbers each new template.
                annotations.remove("deployment.kubernetes.io/revision");
                if annotations.is_empty() {
                    metadata.remove("annotations");
                }
            }
            objects.push(object);
        }
    }
    objects.sort_by_key(|object| {
        format!(
            "{}/{}",
            object["kind"].as_str().unwrap_or_default(),
            object["metadata"]["name"].as_str().unwrap_or_default()
        )
    });
    objects
}

/// The `kind/name` of each object.
pub(crate) fn names(objects: &[Value]) -> Vec<String> {
    objects
        .iter()
        .map(|object| {
            format!(
                "{}/{}",
                object["kind"].as_str().unwrap_or_default(),
                object["metadata"]["name"].as_str().unwrap_or_default()
            )
        })
        .collect()
}
