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

const SEALED: &str = "apiVersion: sealing.example.com/v1alpha1
kind: SealedSecret
metadata:
  name: db
spec:
  encryptedData:
    password: AgCx9
";

fn rows(stdout: &str) -> Vec<Vec<String>> {
    stdout
        .lines()
        .map(|line| line.split_whitespace().map(str::to_owned).collect())
        .collect()
}

#[test]
fn custom_resources_of_a_chart_crd_are_served_until_the_definition_is_deleted() {
    let cluster = Cluster::start();
    cluster
        .helm()
        .args([
            "install",
            "sealer",
            &chart("sealer"),
            "--wait",
            "--timeout",
            "60s",
        ])
        .success();
    assert!(
        cluster
            .object(
                "sealedsecrets.sealing.example.com",
                "default",
                "sealer-bootstrap"
            )
            .is_some(),
        "the chart's custom object is stored"
    );

    let manifest = cluster.write("sealed.yaml", SEALED);
    let created = cluster
        .kubectl()
        .args(["apply", "--validate=strict", "-f"])
        .args([&manifest])
        .success();
    assert_eq!(
        created.stdout.trim(),
        "sealedsecret.sealing.example.com/db created"
    );
    let unchanged = cluster
        .kubectl()
        .args(["apply", "--validate=strict", "-f"])
        .args([&manifest])
        .success();
    assert_eq!(
        unchanged.stdout.trim(),
        "sealedsecret.sealing.example.com/db unchanged"
    );
    cluster
        .kubectl()
        .args(["apply", "--server-side", "-f"])
        .args([&manifest])
        .success();

    cluster
        .kubectl()
        .args([
            "patch",
            "sealedsecret",
            "db",
            "--subresource=status",
            "--type=merge",
            "-p",
            r#"{"status":{"conditions":[{"type":"Synced","status":"True","message":"unsealed"}]}}"#,
        ])
        .success();
    let listed = cluster.kubectl().args(["get", "sealedsecrets"]).success();
    let table = rows(&listed.stdout);
    assert_eq!(
        table[0],
        ["NAME", "STATUS", "SYNCED", "AGE"],
        "{}",
        listed.stdout
    );
    assert!(
        table
            .iter()
            .any(|row| row.len() == 4 && row[..3] == ["db", "unsealed", "True"]),
        "{}",
        listed.stdout
    );
    // The short name works, and status is kept apart from the main resource.
    let object = cluster
        .kubectl()
        .args(["get", "sealed", "db", "-o", "json"])
        .success()
        .json();
    assert_eq!(object["status"]["conditions"][0]["status"], "True");
    assert_eq!(object["metadata"]["generation"], 1);

    let strategic = cluster
        .kubectl()
        .args([
            "patch",
            "sealedsecret",
            "db",
            "--type=strategic",
            "-p",
            r#"{"spec":{}}"#,
        ])
        .failure(1);
    assert!(
        strategic
            .stderr
            .contains("accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"),
        "{}",
        strategic.stderr
    );

    let explained = cluster
        .kubectl()
        .args(["explain", "sealedsecret.spec"])
        .success();
    assert!(
        explained
            .stdout
            .contains("encryptedData\t<map[string]string> -required-"),
        "{}",
        explained.stdout
    );

    let explained_v2 = cluster
        .kubectl()
        .args([
            "explain",
            "sealedsecret.spec",
            "--output",
            "plaintext-openapiv2",
        ])
        .success();
    assert!(
        explained_v2.stdout.contains("encryptedData"),
        "{}",
        explained_v2.stdout
    );

    cluster
        .kubectl()
        .args(["delete", "crd", "sealedsecrets.sealing.example.com"])
        .success();
    assert!(
        cluster
            .objects("sealedsecrets.sealing.example.com")
            .is_empty()
    );
    let gone = cluster
        .kubectl()
        .args(["get", "--raw", "/apis/sealing.example.com/v1alpha1"])
        .failure(1);
    assert!(
        gone.stderr
            .contains("the server could not find the requested resource"),
        "{}",
        gone.stderr
    );
    let groups = cluster.kubectl().args(["get", "--raw", "/apis"]).success();
    assert!(
        !groups.stdout.contains("sealing.example.com"),
        "{}",
        groups.stdout
    );
}

#[test]
fn a_crd_among_the_templates_is_owned_by_the_release() {
    let cluster = Cluster::start();
    cluster
        .helm()
        .args([
            "install",
            "sealer",
            &chart("sealer-templated"),
            "--wait",
            "--timeout",
            "60s",
        ])
        .success();
    let manifest = cluster.write("sealed.yaml", SEALED);
    cluster
        .kubectl()
        .args(["apply", "-f"])
        .args([&manifest])
        .success();
    let watched = cluster
        .kubectl()
        .args([
            "get",
            "--raw",
            "/apis/sealing.example.com/v1alpha1/namespaces/default/sealedsecrets?watch=true&timeoutSeconds=1",
        ])
        .success();
    let event: serde_json::Value =
        serde_json::from_str(watched.stdout.lines().next().unwrap_or_default())
            .expect("a watch event");
    assert_eq!(event["type"], "ADDED");
    assert_eq!(event["object"]["kind"], "SealedSecret");
    assert_eq!(event["object"]["metadata"]["name"], "db");
    cluster
        .helm()
        .args(["uninstall", "sealer", "--wait"])
        .success();
    assert!(
        cluster
            .objects("customresourcedefinitions.apiextensions.k8s.io")
            .is_empty()
    );
    assert!(
        cluster
            .objects("sealedsecrets.sealing.example.com")
            .is_empty()
    );
}

#[test]
fn cluster_scoped_custom_resources_with_two_versions() {
    let cluster = Cluster::start();
    let definition = cluster.write(
        "crd.yaml",
        "apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: policies.rules.example.com
spec:
  group: rules.example.com
  scope: Cluster
  names:
    kind: Policy
    plural: policies
  versions:
    - name: v1beta1
      served: true
      storage: false
      schema:
        openAPIV3Schema:
          type: object
          x-kubernetes-preserve-unknown-fields: true
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              properties:
                level: {type: string}
",
    );
    cluster
        .kubectl()
        .args(["apply", "-f"])
        .args([&definition])
        .success();
    let group = cluster
        .kubectl()
        .args(["get", "--raw", "/apis/rules.example.com"])
        .success()
        .json();
    assert_eq!(
        group["preferredVersion"]["groupVersion"],
        "rules.example.com/v1"
    );
    let policy = cluster.write(
        "policy.yaml",
        "apiVersion: rules.example.com/v1beta1
kind: Policy
metadata:
  name: strict
spec:
  level: high
",
    );
    cluster
        .kubectl()
        .args(["apply", "--validate=strict", "-f"])
        .args([&policy])
        .success();
    let stored = cluster
        .object("policies.rules.example.com", "", "strict")
        .expect("the policy is stored without a namespace");
    assert!(stored["metadata"].get("namespace").is_none());
    // Served in every version, like a definition with conversion `None`.
    let read = cluster
        .kubectl()
        .args([
            "get",
            "policies.v1.rules.example.com",
            "strict",
            "-o",
            "json",
        ])
        .success()
        .json();
    assert_eq!(read["apiVersion"], "rules.example.com/v1");
    let listed = cluster.kubectl().args(["get", "policies"]).success();
    assert_eq!(
        rows(&listed.stdout)[0],
        ["NAME", "AGE"],
        "{}",
        listed.stdout
    );
    let missing = cluster
        .kubectl()
        .args(["get", "policies", "lax"])
        .failure(1);
    assert!(
        missing
            .stderr
            .contains(r#"policies.rules.example.com "lax" not found"#),
        "{}",
        missing.stderr
    );
}

#[test]
fn a_large_crd_needs_server_side_apply_like_argo_cd_install() {
    let cluster = Cluster::start();
    let description = "A field with a long description. ".repeat(9000);
    let definition = cluster.write(
        "crd.yaml",
        &format!(
            "apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: applications.deploy.example.com
spec:
  group: deploy.example.com
  scope: Namespaced
  names:
    kind: Application
    plural: applications
  versions:
    - name: v1alpha1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          description: \"{description}\"
          x-kubernetes-preserve-unknown-fields: true
"
        ),
    );
    let refused = cluster
        .kubectl()
        .args(["apply", "-f"])
        .args([&definition])
        .failure(1);
    assert!(
        refused.stderr.contains(
            r#"The CustomResourceDefinition "applications.deploy.example.com" is invalid: metadata.annotations: Too long: must have at most 262144 bytes"#
        ),
        "{}",
        refused.stderr
    );
    assert!(
        cluster
            .objects("customresourcedefinitions.apiextensions.k8s.io")
            .is_empty()
    );
    cluster
        .kubectl()
        .args(["apply", "--server-side", "-f"])
        .args([&definition])
        .success();
    cluster.kubectl().args(["get", "applications"]).success();
}

#[test]
fn unknown_fields_of_custom_objects_fail_strict_validation_and_are_pruned_otherwise() {
    let cluster = Cluster::start();
    cluster
        .helm()
        .args([
            "install",
            "sealer",
            &chart("sealer"),
            "--wait",
            "--timeout",
            "60s",
        ])
        .success();
    let manifest = cluster.write(
        "typo.yaml",
        "apiVersion: sealing.example.com/v1alpha1
kind: SealedSecret
metadata:
  name: typo
spec:
  encryptedData:
    password: AgCx9
  encryptedDta:
    password: AgCx9
",
    );
    let refused = cluster
        .kubectl()
        .args(["apply", "-f"])
        .args([&manifest])
        .failure(1);
    assert!(
        refused.stderr.contains(
            r#"SealedSecret in version "v1alpha1" cannot be handled as a SealedSecret: strict decoding error: unknown field "spec.encryptedDta""#
        ),
        "{}",
        refused.stderr
    );
    let refused = cluster
        .kubectl()
        .args(["apply", "--server-side", "-f"])
        .args([&manifest])
        .failure(1);
    assert!(
        refused
            .stderr
            .contains(".spec.encryptedDta: field not declared in schema"),
        "{}",
        refused.stderr
    );
    assert!(
        cluster
            .object("sealedsecrets.sealing.example.com", "default", "typo")
            .is_none()
    );

    cluster
        .kubectl()
        .args(["apply", "--validate=false", "-f"])
        .args([&manifest])
        .success();
    let stored = cluster
        .object("sealedsecrets.sealing.example.com", "default", "typo")
        .expect("created, pruned");
    assert_eq!(
        stored["spec"],
        serde_json::json!({"encryptedData": {"password": "AgCx9"}})
    );
    // A later client-side apply patches custom objects with a JSON merge patch, since their
    // OpenAPI documents offer no strategic merge patch.
    let configured = cluster
        .kubectl()
        .args(["apply", "--validate=warn", "-f"])
        .args([&manifest])
        .success();
    assert!(
        configured
            .stdout
            .contains("sealedsecret.sealing.example.com/typo"),
        "{}",
        configured.stdout
    );
}

#[test]
fn a_bare_pod_restarted_on_failure_succeeds() {
    let cluster = Cluster::start();
    let manifest = cluster.write(
        "pod.yaml",
        "apiVersion: v1
kind: Pod
metadata:
  name: migrate
spec:
  restartPolicy: OnFailure
  containers:
    - name: migrate
      image: busybox:1.36
",
    );
    cluster
        .kubectl()
        .args(["apply", "-f"])
        .args([&manifest])
        .success();
    cluster
        .kubectl()
        .args([
            "wait",
            "pod/migrate",
            "--for=jsonpath={.status.phase}=Succeeded",
            "--timeout=30s",
        ])
        .success();
}
