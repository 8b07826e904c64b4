//! Charts and manifests in the shape of public ones: an ingress controller like
//! ingress-nginx's (IngressClass, admission webhooks, hook Jobs), strict validation and the
//! OpenAPI documents kubectl reads.

use crate::support::{Cluster, fixture};

fn chart(name: &str) -> String {
    fixture(&format!("charts/{name}")).display().to_string()
}

#[test]
fn ingress_controller_chart_installs_with_webhooks_and_hook_jobs() {
    let cluster = Cluster::start();
    let installed = cluster
        .helm()
        .args([
            "install",
            "edge",
            &chart("edge"),
            "--namespace",
            "edge",
            "--create-namespace",
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
    let class = cluster
        .object("ingressclasses.networking.k8s.io", "", "edge")
        .expect("the IngressClass is stored");
    assert_eq!(class["spec"]["controller"], "example.com/edge");
    assert!(class["metadata"].get("namespace").is_none());
    let webhook = cluster
        .object(
            "validatingwebhookconfigurations.admissionregistration.k8s.io",
            "",
            "edge-admission",
        )
        .expect("the validating webhook configuration is stored");
    assert_eq!(
        webhook["webhooks"][0]["clientConfig"]["service"]["namespace"],
        "edge"
    );
    assert!(
        cluster
            .object(
                "mutatingwebhookconfigurations.admissionregistration.k8s.io",
                "",
                "edge-defaults",
            )
            .is_some()
    );
    // The hook Jobs ran and were deleted by their `hook-succeeded` policy.
    assert!(cluster.objects("jobs.batch").is_empty());

    let listed = cluster
        .kubectl()
        .args([
            "get",
            "ingressclasses,validatingwebhookconfigurations,mutatingwebhookconfigurations",
        ])
        .success();
    let lines: Vec<Vec<&str>> = listed
        .stdout
        .lines()
        .map(|line| line.split_whitespace().collect())
        .collect();
    assert!(
        lines.contains(&vec!["NAME", "CONTROLLER", "PARAMETERS", "AGE"]),
        "{}",
        listed.stdout
    );
    assert!(
        lines.iter().any(|line| line.starts_with(&[
            "ingressclass.networking.k8s.io/edge",
            "example.com/edge",
            "<none>"
        ])),
        "{}",
        listed.stdout
    );
    assert!(
        lines.iter().any(|line| line.starts_with(&[
            "validatingwebhookconfiguration.admissionregistration.k8s.io/edge-admission",
            "1"
        ])),
        "{}",
        listed.stdout
    );

    cluster
        .helm()
        .args(["uninstall", "edge", "--namespace", "edge", "--wait"])
        .success();
    assert!(
        cluster
            .objects("ingressclasses.networking.k8s.io")
            .is_empty()
    );
    assert!(
        cluster
            .objects("validatingwebhookconfigurations.admissionregistration.k8s.io")
            .is_empty()
    );
}

#[test]
fn strict_validation_accepts_every_served_kind() {
    let cluster = Cluster::start();
    let manifest = cluster.write(
        "cluster.yaml",
        "apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata:
  name: edge
spec:
  controller: example.com/edge
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata:
  name: defaults
webhooks:
  - name: default.example.com
    admissionReviewVersions: [v1]
    sideEffects: None
    clientConfig:
      url: https://example.com/defaults
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  mode: strict
",
    );
    let applied = cluster
        .kubectl()
        .args(["apply", "--validate=strict", "-f"])
        .args([&manifest])
        .success();
    assert!(
        applied
            .stdout
            .contains("ingressclass.networking.k8s.io/edge created"),
        "{}",
        applied.stdout
    );
    assert!(
        applied
            .stdout
            .contains("mutatingwebhookconfiguration.admissionregistration.k8s.io/defaults created"),
        "{}",
        applied.stdout
    );
    cluster
        .kubectl()
        .args(["apply", "--validate=strict", "--server-side", "-f"])
        .args([&manifest])
        .success();
}

#[test]
fn helm_test_passes_for_a_good_image_and_fails_for_a_broken_one() {
    let cluster = Cluster::start();
    cluster
        .helm()
        .args([
            "install",
            "probed",
            &chart("probed"),
            "--wait",
            "--timeout",
            "60s",
        ])
        .success();
    let passed = cluster
        .helm()
        .args(["test", "probed", "--timeout", "60s"])
        .success();
    assert!(
        passed.stdout.contains("Phase:          Succeeded"),
        "{}",
        passed.stdout
    );
    let pod = cluster
        .object("pods", "default", "probed-connection")
        .expect("the test pod is kept");
    assert_eq!(pod["status"]["phase"], "Succeeded");
    assert_eq!(
        pod["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"],
        0
    );

    cluster
        .helm()
        .args([
            "upgrade",
            "probed",
            &chart("probed"),
            "--set",
            "test.image=busybox:broken",
            "--wait",
            "--timeout",
            "60s",
        ])
        .success();
    let failed = cluster
        .helm()
        .args(["test", "probed", "--timeout", "60s"])
        .failure(1);
    assert!(
        failed.stdout.contains("Phase:          Failed"),
        "{}",
        failed.stdout
    );
    assert!(
        failed.stderr.contains("pod probed-connection failed"),
        "{}",
        failed.stderr
    );
    let pods = cluster
        .kubectl()
        .args(["get", "pod", "probed-connection"])
        .success();
    assert!(
        pods.stdout
            .lines()
            .any(|line| line.split_whitespace().collect::<Vec<_>>()[..3]
                == ["probed-connection", "0/1", "Error"]),
        "{}",
        pods.stdout
    );
}
