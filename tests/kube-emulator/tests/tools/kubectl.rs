//! kubectl against the emulator.

use crate::support::Cluster;
use serde_json::Value;

fn deployment(image: &str, replicas: u32) -> String {
    format!(
        "apiVersion: v1
kind: Namespace
metadata:
  name: dev
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: dev
  labels:
    app: api
spec:
  replicas: {replicas}
  selector:
    matchLabels:
      app: api
  template:
    metadata:
      labels:
        app: api
    spec:
      containers:
        - name: app
          image: {image}
          ports:
            - containerPort: 80
          env:
            - name: MODE
              value: test
---
apiVersion: v1
kind: Service
metadata:
  name: api
  namespace: dev
spec:
  selector:
    app: api
  ports:
    - port: 80
"
    )
}

fn image(cluster: &Cluster) -> String {
    cluster
        .object("deployments.apps", "dev", "api")
        .expect("the deployment exists")["spec"]["template"]["spec"]["containers"][0]["image"]
        .as_str()
        .expect("an image")
        .to_owned()
}

fn apply_deployment(cluster: &Cluster, image: &str) {
    let manifest = cluster.write("deploy.yaml", &deployment(image, 2));
    cluster.kubectl().arg_apply(&manifest).success();
}

trait ApplyExt {
    fn arg_apply(self, path: &std::path::Path) -> Self;
}

impl ApplyExt for crate::support::ToolCommand {
    fn arg_apply(self, path: &std::path::Path) -> Self {
        self.args(["apply", "-f"]).args([path])
    }
}

#[test]
fn apply_creates_configures_and_reports_unchanged() {
    let cluster = Cluster::start();
    let manifest = cluster.write("deploy.yaml", &deployment("nginx:1.27", 2));
    let created = cluster.kubectl().arg_apply(&manifest).success();
    assert_eq!(
        created.stdout,
        "namespace/dev created\ndeployment.apps/api created\nservice/api created\n"
    );
    assert_eq!(created.stderr, "");

    let unchanged = cluster.kubectl().arg_apply(&manifest).success();
    assert_eq!(
        unchanged.stdout,
        "namespace/dev unchanged\ndeployment.apps/api unchanged\nservice/api unchanged\n"
    );

    cluster.write("deploy.yaml", &deployment("nginx:1.28", 3));
    let configured = cluster.kubectl().arg_apply(&manifest).success();
    assert!(
        configured.stdout.contains("deployment.apps/api configured"),
        "{}",
        configured.stdout
    );
    let live = cluster
        .object("deployments.apps", "dev", "api")
        .expect("exists");
    assert_eq!(live["spec"]["replicas"], 3);
    assert_eq!(live["metadata"]["generation"], 2);
    assert_eq!(image(&cluster), "nginx:1.28");
    let service = cluster.object("services", "dev", "api").expect("exists");
    assert!(
        service["spec"]["clusterIP"]
            .as_str()
            .is_some_and(|ip| ip.starts_with("10.96."))
    );

    let from_stdin = cluster
        .kubectl()
        .args(["apply", "-f", "-"])
        .stdin("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: piped\n  namespace: dev\ndata:\n  a: b\n")
        .success();
    assert_eq!(from_stdin.stdout, "configmap/piped created\n");
}

#[test]
fn server_side_apply_owns_fields_and_reports_conflicts() {
    let cluster = Cluster::start();
    let manifest = cluster.write("deploy.yaml", &deployment("nginx:1.27", 2));
    let applied = cluster
        .kubectl()
        .args(["apply", "--server-side", "-f"])
        .args([&manifest])
        .success();
    assert!(
        applied
            .stdout
            .contains("deployment.apps/api serverside-applied"),
        "{}",
        applied.stdout
    );
    let live = cluster
        .object("deployments.apps", "dev", "api")
        .expect("exists");
    let managers: Vec<&str> = live["metadata"]["managedFields"]
        .as_array()
        .expect("managed fields")
        .iter()
        .filter(|entry| entry["operation"] == "Apply")
        .filter_map(|entry| entry["manager"].as_str())
        .collect();
    assert_eq!(managers, ["kubectl"]);

    // Another manager changes a field kubectl owns: applying again conflicts until forced.
    cluster
        .kubectl()
        .args(["-n", "dev", "scale", "deployment/api", "--replicas=5"])
        .success();
    let conflict = cluster
        .kubectl()
        .args(["apply", "--server-side", "-f"])
        .args([&manifest])
        .failure(1);
    assert!(
        conflict.stderr.contains(
            "error: Apply failed with 1 conflict: conflict with \"kubectl\" with subresource \"scale\" using apps/v1: .spec.replicas"
        ),
        "{}",
        conflict.stderr
    );
    cluster
        .kubectl()
        .args(["apply", "--server-side", "--force-conflicts", "-f"])
        .args([&manifest])
        .success();
    let live = cluster
        .object("deployments.apps", "dev", "api")
        .expect("exists");
    assert_eq!(live["spec"]["replicas"], 2);

    // Switching from client-side apply to server-side apply takes the fields over, including
    // list items the new configuration drops.
    let with_sidecar = deployment("nginx:1.27", 2)
        .replace("name: api", "name: web")
        .replace(
            "          env:\n",
            "        - name: sidecar\n          image: envoy:1\n          env:\n",
        );
    let other = cluster.write("other.yaml", &with_sidecar);
    cluster.kubectl().arg_apply(&other).success();
    let web = cluster
        .object("deployments.apps", "dev", "web")
        .expect("exists");
    assert_eq!(
        web["spec"]["template"]["spec"]["containers"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    cluster.write(
        "other.yaml",
        &deployment("nginx:1.29", 2).replace("name: api", "name: web"),
    );
    let migrated = cluster
        .kubectl()
        .args(["apply", "--server-side", "-f"])
        .args([&other])
        .success();
    assert_eq!(migrated.stderr, "");
    let web = cluster
        .object("deployments.apps", "dev", "web")
        .expect("exists");
    let containers = web["spec"]["template"]["spec"]["containers"]
        .as_array()
        .expect("a list");
    assert_eq!(containers.len(), 1, "{containers:?}");
    assert_eq!(containers[0]["image"], "nginx:1.29");
}

#[test]
fn diff_exit_codes() {
    let cluster = Cluster::start();
    let manifest = cluster.write("deploy.yaml", &deployment("nginx:1.27", 2));
    cluster.kubectl().arg_apply(&manifest).success();
    cluster
        .kubectl()
        .args([
            "-n",
            "dev",
            "rollout",
            "status",
            "deployment/api",
            "--timeout=30s",
        ])
        .success();
    let before = cluster.state();

    let same = cluster
        .kubectl()
        .args(["diff", "-f"])
        .args([&manifest])
        .success();
    assert_eq!(same.stdout, "");

    cluster.write("deploy.yaml", &deployment("nginx:1.28", 2));
    let changed = cluster
        .kubectl()
        .args(["diff", "-f"])
        .args([&manifest])
        .failure(1);
    assert!(
        changed.stdout.contains("-        image: nginx:1.27"),
        "{}",
        changed.stdout
    );
    assert!(
        changed.stdout.contains("+        image: nginx:1.28"),
        "{}",
        changed.stdout
    );

    let server_side = cluster
        .kubectl()
        .args(["diff", "--server-side", "--force-conflicts", "-f"])
        .args([&manifest])
        .failure(1);
    assert!(
        server_side.stdout.contains("+        image: nginx:1.28"),
        "{}",
        server_side.stdout
    );
    assert!(
        cluster.state() == before,
        "diff is a dry run, yet the state changed"
    );
}

#[test]
fn get_json_and_errors() {
    let cluster = Cluster::start();
    apply_deployment(&cluster, "nginx:1.27");
    let list = cluster
        .kubectl()
        .args(["-n", "dev", "get", "deployments", "-o", "json"])
        .success()
        .json();
    assert_eq!(list["kind"], "List");
    let item = &list["items"][0];
    assert_eq!(item["kind"], "Deployment");
    assert_eq!(item["apiVersion"], "apps/v1");
    for field in ["uid", "resourceVersion", "creationTimestamp"] {
        assert!(item["metadata"][field].is_string(), "{field} is set");
    }
    assert_eq!(item["metadata"]["generation"], 1);

    let single = cluster
        .kubectl()
        .args(["-n", "dev", "get", "deploy", "api", "-o", "json"])
        .success()
        .json();
    assert_eq!(single["metadata"]["name"], "api");

    let missing = cluster
        .kubectl()
        .args(["-n", "dev", "get", "deploy", "nope"])
        .failure(1);
    assert_eq!(
        missing.stderr,
        "Error from server (NotFound): deployments.apps \"nope\" not found\n"
    );
    let manifest = cluster.dir().join("deploy.yaml");
    let exists = cluster
        .kubectl()
        .args(["create", "-f"])
        .args([&manifest])
        .failure(1);
    assert!(
        exists
            .stderr
            .contains("Error from server (AlreadyExists): error when creating"),
        "{}",
        exists.stderr
    );
    let no_namespace = cluster
        .kubectl()
        .args([
            "-n",
            "nowhere",
            "create",
            "configmap",
            "settings",
            "--from-literal=a=b",
        ])
        .failure(1);
    assert_eq!(
        no_namespace.stderr,
        "error: failed to create configmap: namespaces \"nowhere\" not found\n"
    );
    let table = cluster
        .kubectl()
        .args(["-n", "dev", "get", "deploy"])
        .success();
    assert!(
        table
            .stdout
            .starts_with("NAME   READY   UP-TO-DATE   AVAILABLE   AGE\napi    "),
        "{}",
        table.stdout
    );
}

#[test]
fn label_selectors() {
    let cluster = Cluster::start();
    for (name, labels) in [
        ("one", "a=b,e=x,key=1"),
        ("two", "a=b,c=d,e=y,key=1"),
        ("three", "a=b,e=z,key=1"),
        ("four", "a=b,e=y,key=1,other=1"),
    ] {
        cluster
            .kubectl()
            .args(["create", "configmap", name, "--from-literal=k=v"])
            .success();
        cluster
            .kubectl()
            .args(["label", "configmap", name])
            .args(labels.split(','))
            .success();
    }
    let selected = cluster
        .kubectl()
        .args([
            "get",
            "configmaps",
            "-o",
            "name",
            "-l",
            "a=b,c!=d,e in (x,y),key,!other",
        ])
        .success();
    assert_eq!(selected.stdout, "configmap/one\n");
    let by_name = cluster
        .kubectl()
        .args([
            "get",
            "configmaps",
            "-o",
            "name",
            "--field-selector",
            "metadata.name=three",
        ])
        .success();
    assert_eq!(by_name.stdout, "configmap/three\n");
}

#[test]
fn delete_cascades() {
    let cluster = Cluster::start();
    apply_deployment(&cluster, "nginx:1.27");
    cluster.wait_until("pods exist", |c| c.objects("pods").len() == 2);
    let deleted = cluster
        .kubectl()
        .args(["-n", "dev", "delete", "deployment", "api"])
        .success();
    assert_eq!(deleted.stdout, "deployment.apps \"api\" deleted\n");
    assert!(cluster.objects("replicasets.apps").is_empty());
    assert!(cluster.objects("pods").is_empty());

    cluster
        .kubectl()
        .args(["delete", "namespace", "dev"])
        .success();
    assert!(cluster.object("services", "dev", "api").is_none());
    assert!(cluster.object("namespaces", "", "dev").is_none());
}

#[test]
fn rollout_status_succeeds_and_fails_on_broken_images() {
    let cluster = Cluster::start();
    apply_deployment(&cluster, "nginx:1.27");
    let status = cluster
        .kubectl()
        .args([
            "-n",
            "dev",
            "rollout",
            "status",
            "deployment/api",
            "--timeout=30s",
        ])
        .success();
    assert!(
        status
            .stdout
            .ends_with("deployment \"api\" successfully rolled out\n"),
        "{}",
        status.stdout
    );

    cluster
        .kubectl()
        .args([
            "-n",
            "dev",
            "set",
            "image",
            "deployment/api",
            "app=nginx:broken",
        ])
        .success();
    let failed = cluster
        .kubectl()
        .args([
            "-n",
            "dev",
            "rollout",
            "status",
            "deployment/api",
            "--timeout=30s",
        ])
        .failure(1);
    assert!(
        failed
            .stderr
            .contains("error: deployment \"api\" exceeded its progress deadline"),
        "{}",
        failed.stderr
    );
    let pods = cluster.objects("pods");
    assert!(pods.iter().any(
        |pod| pod["status"]["containerStatuses"][0]["state"]["waiting"]["reason"]
            == "ImagePullBackOff"
    ));
    let events = cluster
        .kubectl()
        .args(["-n", "dev", "get", "events"])
        .success();
    assert!(
        events
            .stdout
            .contains("Failed to pull image \"nginx:broken\""),
        "{}",
        events.stdout
    );
    // The old pods keep serving during the stuck rollout.
    let live = cluster
        .object("deployments.apps", "dev", "api")
        .expect("exists");
    assert_eq!(live["status"]["availableReplicas"], 2);
}

#[test]
fn rollout_undo_and_history() {
    let cluster = Cluster::start();
    apply_deployment(&cluster, "nginx:1.27");
    cluster
        .kubectl()
        .args([
            "-n",
            "dev",
            "set",
            "image",
            "deployment/api",
            "app=nginx:1.28",
        ])
        .success();
    cluster
        .kubectl()
        .args([
            "-n",
            "dev",
            "rollout",
            "status",
            "deployment/api",
            "--timeout=30s",
        ])
        .success();
    let history = cluster
        .kubectl()
        .args(["-n", "dev", "rollout", "history", "deployment/api"])
        .success();
    assert!(
        history
            .stdout
            .contains("1         <none>\n2         <none>\n"),
        "{}",
        history.stdout
    );

    let undone = cluster
        .kubectl()
        .args(["-n", "dev", "rollout", "undo", "deployment/api"])
        .success();
    assert_eq!(undone.stdout, "deployment.apps/api rolled back\n");
    cluster
        .kubectl()
        .args([
            "-n",
            "dev",
            "rollout",
            "status",
            "deployment/api",
            "--timeout=30s",
        ])
        .success();
    assert_eq!(image(&cluster), "nginx:1.27");
    // The first ReplicaSet is reused and renumbered, like the real controller does.
    let replica_sets = cluster.objects("replicasets.apps");
    assert_eq!(replica_sets.len(), 2);
    let current: Vec<&Value> = replica_sets
        .iter()
        .filter(|rs| rs["spec"]["replicas"] == 2)
        .collect();
    assert_eq!(current.len(), 1);
    assert_eq!(
        current[0]["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "3"
    );
    let history = cluster
        .kubectl()
        .args(["-n", "dev", "rollout", "history", "deployment/api"])
        .success();
    assert!(
        history
            .stdout
            .contains("2         <none>\n3         <none>\n"),
        "{}",
        history.stdout
    );
}

#[test]
fn wait_for_available_and_scale() {
    let cluster = Cluster::start();
    apply_deployment(&cluster, "nginx:1.27");
    let waited = cluster
        .kubectl()
        .args([
            "-n",
            "dev",
            "wait",
            "--for=condition=Available",
            "deployment/api",
            "--timeout=30s",
        ])
        .success();
    assert_eq!(waited.stdout, "deployment.apps/api condition met\n");

    let scaled = cluster
        .kubectl()
        .args(["-n", "dev", "scale", "deployment/api", "--replicas=4"])
        .success();
    assert_eq!(scaled.stdout, "deployment.apps/api scaled\n");
    cluster
        .kubectl()
        .args([
            "-n",
            "dev",
            "rollout",
            "status",
            "deployment/api",
            "--timeout=30s",
        ])
        .success();
    cluster.wait_until("four pods run", |c| {
        c.objects("pods")
            .iter()
            .filter(|pod| pod["status"]["phase"] == "Running")
            .count()
            == 4
    });
    let scale = cluster
        .kubectl()
        .args([
            "-n",
            "dev",
            "get",
            "--raw",
            "/apis/apps/v1/namespaces/dev/deployments/api/scale",
        ])
        .success()
        .json();
    assert_eq!(scale["kind"], "Scale");
    assert_eq!(scale["spec"]["replicas"], 4);
    assert_eq!(scale["status"]["selector"], "app=api");
}

#[test]
fn patch_types_and_set_image() {
    let cluster = Cluster::start();
    apply_deployment(&cluster, "nginx:1.27");
    cluster
        .kubectl()
        .args(["-n", "dev", "patch", "deployment", "api", "-p"])
        .args([r#"{"spec":{"template":{"spec":{"containers":[{"name":"app","env":[{"name":"EXTRA","value":"1"}]}]}}}}"#])
        .success();
    let live = cluster
        .object("deployments.apps", "dev", "api")
        .expect("exists");
    let env = &live["spec"]["template"]["spec"]["containers"][0]["env"];
    assert_eq!(
        env.as_array().map(Vec::len),
        Some(2),
        "strategic merge keeps MODE: {env}"
    );

    cluster
        .kubectl()
        .args([
            "-n",
            "dev",
            "patch",
            "deployment",
            "api",
            "--type=merge",
            "-p",
        ])
        .args([r#"{"metadata":{"labels":{"tier":"web"}}}"#])
        .success();
    cluster
        .kubectl()
        .args([
            "-n",
            "dev",
            "patch",
            "deployment",
            "api",
            "--type=json",
            "-p",
        ])
        .args([r#"[{"op":"replace","path":"/spec/replicas","value":1}]"#])
        .success();
    let set = cluster
        .kubectl()
        .args([
            "-n",
            "dev",
            "set",
            "image",
            "deployment/api",
            "app=nginx:1.29",
        ])
        .success();
    assert_eq!(set.stdout, "deployment.apps/api image updated\n");
    let live = cluster
        .object("deployments.apps", "dev", "api")
        .expect("exists");
    assert_eq!(live["metadata"]["labels"]["tier"], "web");
    assert_eq!(live["spec"]["replicas"], 1);
    assert_eq!(image(&cluster), "nginx:1.29");

    let bad = cluster
        .kubectl()
        .args([
            "-n",
            "dev",
            "patch",
            "deployment",
            "api",
            "--type=json",
            "-p",
        ])
        .args([r#"[{"op":"remove","path":"/spec/nothing"}]"#])
        .failure(1);
    assert!(
        bad.stderr.contains("The Deployment \"api\" is invalid"),
        "{}",
        bad.stderr
    );
}

#[test]
fn apply_kustomization() {
    let cluster = Cluster::start();
    cluster.write(
        "app/kustomization.yaml",
        "namespace: default\nlabels:\n  - pairs:\n      team: payments\nresources:\n  - configmap.yaml\n",
    );
    cluster.write(
        "app/configmap.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  mode: test\n",
    );
    let applied = cluster.kubectl().args(["apply", "-k", "app"]).success();
    assert_eq!(applied.stdout, "configmap/settings created\n");
    let settings = cluster
        .object("configmaps", "default", "settings")
        .expect("exists");
    assert_eq!(settings["metadata"]["labels"]["team"], "payments");
    assert_eq!(settings["data"]["mode"], "test");
}
