//! helm against the emulator, with the chart in `tests/fixtures/charts/web`.

use crate::support::{Cluster, fixture};
use serde_json::Value;

fn chart() -> String {
    fixture("charts/web").display().to_string()
}

fn image(cluster: &Cluster) -> String {
    cluster
        .object("deployments.apps", "default", "web")
        .expect("the deployment exists")["spec"]["template"]["spec"]["containers"][0]["image"]
        .as_str()
        .expect("an image")
        .to_owned()
}

fn release_secrets(cluster: &Cluster) -> Vec<Value> {
    cluster
        .objects("secrets")
        .into_iter()
        .filter(|secret| secret["type"] == "helm.sh/release.v1")
        .collect()
}

#[test]
fn release_lifecycle() {
    let cluster = Cluster::start();
    let installed = cluster
        .helm()
        .args([
            "upgrade",
            "--install",
            "web",
            &chart(),
            "--wait",
            "--timeout",
            "60s",
        ])
        .success();
    assert!(
        installed.stdout.contains("STATUS: deployed"),
        "{}",
        installed.stdout
    );
    assert_eq!(image(&cluster), "nginx:1.27");
    let secrets = release_secrets(&cluster);
    assert_eq!(secrets.len(), 1);
    let labels = &secrets[0]["metadata"]["labels"];
    assert_eq!(labels["owner"], "helm");
    assert_eq!(labels["name"], "web");
    assert_eq!(labels["status"], "deployed");
    assert_eq!(labels["version"], "1");
    let deployment = cluster
        .object("deployments.apps", "default", "web")
        .expect("exists");
    assert_eq!(
        deployment["metadata"]["annotations"]["meta.helm.sh/release-name"],
        "web"
    );
    assert_eq!(deployment["status"]["readyReplicas"], 2);

    cluster
        .helm()
        .args([
            "upgrade",
            "web",
            &chart(),
            "--set",
            "image.tag=1.28",
            "--wait",
            "--timeout",
            "60s",
        ])
        .success();
    assert_eq!(image(&cluster), "nginx:1.28");

    let failed = cluster
        .helm()
        .args([
            "upgrade",
            "web",
            &chart(),
            "--set",
            "image.tag=broken",
            "--wait",
            "--timeout",
            "20s",
        ])
        .failure(1);
    assert!(
        failed.stderr.contains("Error: UPGRADE FAILED"),
        "{}",
        failed.stderr
    );

    let history = cluster
        .helm()
        .args(["history", "web", "-o", "json"])
        .success()
        .json();
    let statuses: Vec<(i64, &str)> = history
        .as_array()
        .expect("a list")
        .iter()
        .map(|entry| {
            (
                entry["revision"].as_i64().unwrap_or_default(),
                entry["status"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [(1, "superseded"), (2, "deployed"), (3, "failed")]
    );

    let rolled_back = cluster
        .helm()
        .args(["rollback", "web", "1", "--wait", "--timeout", "60s"])
        .success();
    assert!(
        rolled_back.stdout.contains("Rollback was a success"),
        "{}",
        rolled_back.stdout
    );
    assert_eq!(image(&cluster), "nginx:1.27");
    let status = cluster
        .helm()
        .args(["status", "web", "-o", "json"])
        .success()
        .json();
    assert_eq!(status["version"], 4);
    assert_eq!(status["info"]["status"], "deployed");

    let manifest = cluster.helm().args(["get", "manifest", "web"]).success();
    assert!(
        manifest
            .stdout
            .contains("# Source: web/templates/deployment.yaml"),
        "{}",
        manifest.stdout
    );
    assert!(
        manifest.stdout.contains("image: \"nginx:1.27\""),
        "{}",
        manifest.stdout
    );

    let uninstalled = cluster
        .helm()
        .args(["uninstall", "web", "--wait"])
        .success();
    assert_eq!(uninstalled.stdout, "release \"web\" uninstalled\n");
    assert!(
        cluster
            .object("deployments.apps", "default", "web")
            .is_none()
    );
    assert!(
        cluster
            .object("configmaps", "default", "web-settings")
            .is_none()
    );
    assert!(cluster.objects("pods").is_empty());
    assert!(release_secrets(&cluster).is_empty());
}

#[test]
fn server_dry_run_leaves_state_unchanged() {
    let cluster = Cluster::start();
    cluster
        .helm()
        .args([
            "upgrade",
            "--install",
            "web",
            &chart(),
            "--wait",
            "--timeout",
            "60s",
        ])
        .success();
    let before = cluster.state();
    let dry = cluster
        .helm()
        .args([
            "upgrade",
            "--install",
            "web",
            &chart(),
            "--set",
            "image.tag=1.29",
            "--dry-run=server",
        ])
        .success();
    assert!(
        dry.stdout.contains("image: \"nginx:1.29\""),
        "{}",
        dry.stdout
    );
    assert!(
        cluster.state() == before,
        "a server dry run changed the state"
    );

    let fresh = cluster
        .helm()
        .args([
            "upgrade",
            "--install",
            "other",
            &chart(),
            "--dry-run=server",
        ])
        .success();
    assert!(
        fresh.stdout.contains("STATUS: pending-install"),
        "{}",
        fresh.stdout
    );
    assert!(
        cluster.state() == before,
        "a server dry run changed the state"
    );
}

#[test]
fn create_namespace_and_client_side_apply() {
    let cluster = Cluster::start();
    cluster
        .helm()
        .args([
            "install",
            "web",
            &chart(),
            "-n",
            "team",
            "--create-namespace",
            "--server-side=false",
            "--wait",
            "--timeout",
            "60s",
        ])
        .success();
    assert!(cluster.object("namespaces", "", "team").is_some());
    cluster
        .helm()
        .args([
            "upgrade",
            "web",
            &chart(),
            "-n",
            "team",
            "--set",
            "replicaCount=3",
            "--wait",
            "--timeout",
            "60s",
        ])
        .success();
    let deployment = cluster
        .object("deployments.apps", "team", "web")
        .expect("exists");
    assert_eq!(deployment["spec"]["replicas"], 3);
    assert_eq!(deployment["status"]["availableReplicas"], 3);
}

#[test]
fn template_needs_no_cluster() {
    let cluster = Cluster::start();
    let rendered = cluster.helm().args(["template", "web", &chart()]).success();
    assert!(
        rendered.stdout.contains("kind: Deployment"),
        "{}",
        rendered.stdout
    );
    assert!(release_secrets(&cluster).is_empty());
}
