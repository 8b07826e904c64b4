use plangate_executors::{
    ChangeKind, Executor, ExecutorError, Executors, Observation, OutcomeStatus,
};
use plangate_plans::{ExecutorKind, Rollback};

use crate::support::{Cluster, NAMESPACE, comparable_objects, instance, kubectl_action, names};

const APPLY_APP: &str = "op: apply\nfiles: [kube/app.yaml]";
const APPLY_APP_V2: &str = "op: apply\nfiles: [kube/app-v2.yaml]";

#[tokio::test]
async fn apply_then_auto_rollback_restores_every_object_exactly() {
    let cluster = Cluster::new();
    cluster.create_namespace();
    let executor = cluster.kubectl_executor();

    let first = kubectl_action(APPLY_APP);
    let (ctx, checkpoints) = cluster.recording_ctx();
    let outcome = executor.apply(&first, &ctx).await.expect("apply runs");
    assert_eq!(outcome.status, OutcomeStatus::Succeeded, "{outcome:?}");
    assert!(
        outcome.command.contains("apply -f kube/app.yaml"),
        "{}",
        outcome.command
    );
    assert!(
        outcome.command.contains("--context dev -n demo"),
        "{}",
        outcome.command
    );
    let first_evidence = outcome.evidence.clone().expect("evidence");
    assert!(
        first_evidence["tool_version"]
            .as_str()
            .is_some_and(|version| version.starts_with("v1.")),
        "{first_evidence}"
    );
    assert_eq!(first_evidence["target"]["context"], "dev");
    let applied = first_evidence["applied"]
        .as_array()
        .expect("applied versions");
    assert_eq!(applied.len(), 3, "{first_evidence}");
    assert!(
        applied
            .iter()
            .all(|object| object["resourceVersion"].is_string())
    );
    let checkpoint = checkpoints.only();
    let objects = checkpoint.evidence["objects"].as_array().expect("objects");
    assert_eq!(
        objects
            .iter()
            .map(|o| format!("{}/{}/{}", o["kind"], o["namespace"], o["before"]))
            .collect::<Vec<_>>(),
        [
            r#""ConfigMap"/"demo"/null"#,
            r#""Deployment"/"demo"/null"#,
            r#""Service"/"demo"/null"#
        ],
        "nothing existed before the first apply"
    );
    assert!(
        comparable_objects(&checkpoint.resources).is_empty(),
        "the evidence was recorded before the apply"
    );
    assert_eq!(
        executor
            .observe(&first, Some(&first_evidence), &cluster.ctx())
            .await
            .expect("observes"),
        Observation::Applied
    );
    let after_first = cluster.objects();
    assert_eq!(
        names(&after_first),
        ["ConfigMap/web-config", "Deployment/web", "Service/web"]
    );

    let second = kubectl_action(APPLY_APP_V2);
    let (ctx, checkpoints) = cluster.recording_ctx();
    let outcome = executor.apply(&second, &ctx).await.expect("apply runs");
    assert_eq!(outcome.status, OutcomeStatus::Succeeded, "{outcome:?}");
    let second_evidence = outcome.evidence.clone().expect("evidence");
    assert_eq!(
        comparable_objects(&checkpoints.only().resources),
        after_first,
        "the evidence was recorded before the second apply"
    );
    assert_eq!(cluster.image("web"), "nginx:1.28");
    assert_ne!(cluster.objects(), after_first);

    let rollback = executor
        .rollback(
            &Rollback::Auto,
            &second,
            Some(&second_evidence),
            &cluster.ctx(),
        )
        .await
        .expect("rollback runs");
    assert_eq!(rollback.status, OutcomeStatus::Succeeded, "{rollback:?}");
    assert!(
        rollback.command.contains("delete --ignore-not-found -f"),
        "{}",
        rollback.command
    );
    assert!(
        rollback
            .command
            .contains("replace --raw /apis/apps/v1/namespaces/demo/deployments/web -f"),
        "{}",
        rollback.command
    );
    assert_eq!(
        cluster.objects(),
        after_first,
        "every object is exactly as before the second apply, and the Secret it created is gone"
    );
    assert_eq!(cluster.image("web"), "nginx:1.27");

    let rollback = executor
        .rollback(
            &Rollback::Auto,
            &first,
            Some(&first_evidence),
            &cluster.ctx(),
        )
        .await
        .expect("rollback runs");
    assert_eq!(rollback.status, OutcomeStatus::Succeeded, "{rollback:?}");
    assert!(
        cluster.objects().is_empty(),
        "the first apply's objects are gone"
    );
    let namespaces = cluster.resources()["namespaces"].clone();
    assert!(
        namespaces
            .as_array()
            .expect("namespaces")
            .iter()
            .any(|namespace| namespace["metadata"]["name"] == NAMESPACE),
        "the namespace, which existed before, stays"
    );
}

#[tokio::test]
async fn rollout_status_succeeds_then_fails_on_a_broken_image_and_set_image_rolls_back() {
    let cluster = Cluster::new();
    cluster.create_namespace();
    let executor = cluster.kubectl_executor();
    let outcome = executor
        .apply(&kubectl_action(APPLY_APP), &cluster.ctx())
        .await
        .expect("apply runs");
    assert!(outcome.succeeded(), "{outcome:?}");

    let status = kubectl_action("op: rollout_status\nresource: deployment/web\ntimeout: 30s");
    let (ctx, checkpoints) = cluster.recording_ctx();
    let outcome = executor.verify(&status, &ctx).await.expect("runs");
    assert_eq!(outcome.status, OutcomeStatus::Succeeded, "{outcome:?}");
    assert!(checkpoints.all().is_empty(), "a verify records no evidence");
    assert!(
        outcome.command.contains("--timeout=30s"),
        "{}",
        outcome.command
    );
    assert!(
        outcome.stdout_tail.contains("successfully rolled out"),
        "{outcome:?}"
    );
    assert!(outcome.evidence.expect("evidence")["tool_version"].is_string());

    let broken =
        kubectl_action("op: set_image\nresource: deployment/web\nimages: {web: 'nginx:broken'}");
    let (ctx, checkpoints) = cluster.recording_ctx();
    let outcome = executor.apply(&broken, &ctx).await.expect("runs");
    assert!(outcome.succeeded(), "{outcome:?}");
    let evidence = outcome.evidence.expect("evidence");
    let before = &checkpoints.only().evidence["objects"][0]["before"];
    assert_eq!(
        before["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.27"
    );

    let status = kubectl_action("op: rollout_status\nresource: deployment/web\ntimeout: 10s");
    let outcome = executor
        .verify(&status, &cluster.ctx())
        .await
        .expect("runs");
    assert_eq!(outcome.status, OutcomeStatus::Failed, "{outcome:?}");
    assert_eq!(outcome.exit_code, Some(1));
    assert!(
        outcome
            .stderr_tail
            .contains("exceeded its progress deadline"),
        "{outcome:?}"
    );
    assert_eq!(
        executor
            .observe(&broken, Some(&evidence), &cluster.ctx())
            .await
            .expect("observes"),
        Observation::Applied
    );

    let rollback = executor
        .rollback(&Rollback::Auto, &broken, Some(&evidence), &cluster.ctx())
        .await
        .expect("rollback runs");
    assert!(rollback.succeeded(), "{rollback:?}");
    assert_eq!(cluster.image("web"), "nginx:1.27");
    let status = kubectl_action("op: rollout_status\nresource: deployment/web\ntimeout: 30s");
    let outcome = executor
        .verify(&status, &cluster.ctx())
        .await
        .expect("runs");
    assert!(outcome.succeeded(), "{outcome:?}");

    let nothing = executor
        .rollback(&Rollback::Auto, &status, None, &cluster.ctx())
        .await
        .expect("read-only rollback");
    assert!(nothing.succeeded());
    assert!(
        nothing.stdout_tail.contains("nothing to undo"),
        "{nothing:?}"
    );
    assert_eq!(
        executor
            .observe(&status, None, &cluster.ctx())
            .await
            .expect("observes"),
        Observation::NotApplied
    );
}

#[tokio::test]
async fn preview_shows_create_update_and_unchanged_and_writes_nothing() {
    let cluster = Cluster::new();
    cluster.create_namespace();
    cluster.kubectl(&["apply", "-f", "kube/config-v1.yaml"]);
    cluster.kubectl(&["apply", "-f", "kube/service.yaml"]);
    let executor = cluster.kubectl_executor();
    let before = cluster.resources();

    let preview = executor
        .preview(&kubectl_action(APPLY_APP), &cluster.ctx())
        .await
        .expect("previews");
    let changes: Vec<(&str, ChangeKind)> = preview
        .changes
        .iter()
        .map(|change| (change.object.as_str(), change.change))
        .collect();
    assert_eq!(
        changes,
        [
            ("configmap/web-config (namespace demo)", ChangeKind::Update),
            ("deployment.apps/web (namespace demo)", ChangeKind::Create),
            ("service/web (namespace demo)", ChangeKind::Unchanged),
        ],
        "{preview:?}"
    );
    assert_eq!(
        preview.summary,
        "kubectl apply in context `dev`: 1 to create, 1 to update, 1 unchanged"
    );
    let update = preview.changes[0].diff.as_deref().expect("a diff");
    assert!(
        update.starts_with(
            "--- live/v1.ConfigMap.demo.web-config\n+++ merged/v1.ConfigMap.demo.web-config\n"
        ),
        "{update}"
    );
    assert!(update.contains("-  GREETING: hello\n"), "{update}");
    assert!(update.contains("+  GREETING: bonjour\n"), "{update}");
    let create = preview.changes[1].diff.as_deref().expect("a diff");
    assert!(create.contains("+  name: web\n"), "{create}");
    assert_eq!(preview.changes[2].diff, None);

    let delete = executor
        .preview(
            &kubectl_action("op: delete\nresource: configmap/web-config"),
            &cluster.ctx(),
        )
        .await
        .expect("previews");
    assert_eq!(delete.changes.len(), 1);
    assert_eq!(
        delete.changes[0].object,
        "configmap/web-config (namespace demo)"
    );
    assert_eq!(delete.changes[0].change, ChangeKind::Delete);

    let patch = executor
        .preview(
            &kubectl_action(
                "op: patch\nresource: configmap/web-config\npatch_type: merge\npatch: {data: {LEVEL: trace}}",
            ),
            &cluster.ctx(),
        )
        .await
        .expect("previews");
    assert_eq!(patch.changes[0].change, ChangeKind::Update, "{patch:?}");
    let diff = patch.changes[0].diff.as_deref().expect("a diff");
    assert!(diff.contains("-  LEVEL: info\n+  LEVEL: trace\n"), "{diff}");

    assert_eq!(cluster.resources(), before, "a preview writes nothing");
}

#[tokio::test]
async fn observe_tells_applied_from_not_applied_and_partial() {
    let cluster = Cluster::new();
    cluster.create_namespace();
    let executor = cluster.kubectl_executor();
    let action = kubectl_action(APPLY_APP);

    // A crash right after the checkpoint: the evidence is committed, the
    // apply never ran.
    let snapshot = std::sync::Arc::new(std::sync::Mutex::new(None));
    let sink = std::sync::Arc::clone(&snapshot);
    let crashing = cluster.ctx().with_checkpoint(move |evidence| {
        *sink.lock().expect("not poisoned") = Some(evidence);
        async { Err("the engine stopped".to_owned()) }
    });
    let error = executor
        .apply(&action, &crashing)
        .await
        .expect_err("the checkpoint fails");
    assert!(matches!(error, ExecutorError::Checkpoint { .. }), "{error}");
    assert!(cluster.objects().is_empty(), "nothing was applied");
    let snapshot = snapshot
        .lock()
        .expect("not poisoned")
        .clone()
        .expect("a snapshot");
    assert_eq!(
        executor
            .observe(&action, Some(&snapshot), &cluster.ctx())
            .await
            .expect("observes"),
        Observation::NotApplied
    );
    assert_eq!(
        executor
            .observe(&action, None, &cluster.ctx())
            .await
            .expect("observes"),
        Observation::NotApplied,
        "no evidence: the crash came before the checkpoint"
    );

    // An apply cut short after its first object.
    cluster.kubectl(&["apply", "-f", "kube/app-config.yaml", "-n", NAMESPACE]);
    assert_eq!(
        executor
            .observe(&action, Some(&snapshot), &cluster.ctx())
            .await
            .expect("observes"),
        Observation::Partial {
            detail: "in place: ConfigMap demo/web-config; not in place: Deployment demo/web, Service demo/web"
                .to_owned()
        }
    );

    let outcome = executor
        .apply(&action, &cluster.ctx())
        .await
        .expect("apply runs");
    assert!(outcome.succeeded(), "{outcome:?}");
    assert_eq!(
        executor
            .observe(&action, Some(&snapshot), &cluster.ctx())
            .await
            .expect("observes"),
        Observation::Applied
    );
}

#[tokio::test]
async fn the_wrong_cluster_guard_refuses_before_running_anything() {
    let cluster = Cluster::new();
    cluster.create_namespace();
    let executor = cluster.kubectl_executor();
    let action = kubectl_action(APPLY_APP);
    let before = cluster.resources();

    let (ctx, checkpoints) = cluster.recording_ctx();
    let error = executor
        .apply(&action, &ctx.with_environment("prod"))
        .await
        .expect_err("refused");
    assert!(
        matches!(
            error,
            ExecutorError::WrongCluster {
                kind: ExecutorKind::Kubectl,
                production: true,
                ..
            }
        ),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .contains("refuses kube context `dev` for environment `prod`"),
        "{error}"
    );
    assert!(checkpoints.all().is_empty(), "no evidence: nothing ran");
    assert_eq!(cluster.resources(), before, "nothing ran");
    let error = executor
        .preview(&action, &cluster.ctx().with_environment("production"))
        .await
        .expect_err("refused");
    assert!(error.to_string().contains("wrong-cluster guard"), "{error}");

    let allowed = cluster
        .ctx()
        .with_environment("prod")
        .with_instance(instance("kind: kubectl\nallow_context_mismatch: true"));
    let outcome = executor.apply(&action, &allowed).await.expect("runs");
    assert!(outcome.succeeded(), "{outcome:?}");

    let production = Cluster::with_context("prod-eu");
    production.create_namespace();
    let executor = production.kubectl_executor();
    let error = executor
        .apply(&action, &production.ctx())
        .await
        .expect_err("a dev plan refuses a prod context");
    assert!(
        error
            .to_string()
            .contains("refuses kube context `prod-eu` for environment `dev`"),
        "{error}"
    );
    let outcome = executor
        .apply(&action, &production.ctx().with_environment("prod"))
        .await
        .expect("runs");
    assert!(outcome.succeeded(), "{outcome:?}");
    assert!(
        outcome.command.contains("--context prod-eu"),
        "{}",
        outcome.command
    );
}

#[tokio::test]
async fn delete_scale_and_patch_roll_back_to_their_snapshots() {
    let cluster = Cluster::new();
    cluster.create_namespace();
    let executor = cluster.kubectl_executor();
    let outcome = executor
        .apply(&kubectl_action(APPLY_APP), &cluster.ctx())
        .await
        .expect("apply runs");
    assert!(outcome.succeeded(), "{outcome:?}");
    let applied = cluster.objects();

    for yaml in [
        "op: scale\nresource: deployment/web\nreplicas: 3",
        "op: patch\nresource: configmap/web-config\npatch_type: merge\npatch: {data: {LEVEL: trace}}",
        "op: patch\nresource: service/web\npatch_type: json\npatch: [{op: add, path: /metadata/labels/tier, value: edge}]",
        "op: delete\nresource: configmap/web-config",
        "op: delete\nfiles: [kube/app.yaml]",
    ] {
        let action = kubectl_action(yaml);
        let outcome = executor.apply(&action, &cluster.ctx()).await.expect("runs");
        assert!(outcome.succeeded(), "{yaml}: {outcome:?}");
        assert_ne!(cluster.objects(), applied, "{yaml} changed something");
        let evidence = outcome.evidence.expect("evidence");
        assert_eq!(
            executor
                .observe(&action, Some(&evidence), &cluster.ctx())
                .await
                .expect("observes"),
            Observation::Applied,
            "{yaml}"
        );
        let rollback = executor
            .rollback(&Rollback::Auto, &action, Some(&evidence), &cluster.ctx())
            .await
            .expect("rollback runs");
        assert!(rollback.succeeded(), "{yaml}: {rollback:?}");
        assert_eq!(cluster.objects(), applied, "{yaml} is undone exactly");
    }

    let rollback = executor
        .rollback(
            &Rollback::Auto,
            &kubectl_action("op: scale\nresource: deployment/web\nreplicas: 3"),
            None,
            &cluster.ctx(),
        )
        .await
        .expect_err("no evidence");
    assert!(
        matches!(rollback, ExecutorError::MissingEvidence { .. }),
        "{rollback}"
    );
}

#[tokio::test]
async fn explicit_rollout_undo_and_the_registry() {
    let cluster = Cluster::new();
    cluster.create_namespace();
    let executor = cluster.kubectl_executor();
    let ctx = cluster.ctx();
    for yaml in [
        APPLY_APP,
        "op: rollout_status\nresource: deployment/web\ntimeout: 30s",
        "op: set_image\nresource: deployment/web\nimages: {web: 'nginx:1.28'}",
        "op: rollout_status\nresource: deployment/web\ntimeout: 30s",
    ] {
        let outcome = executor
            .apply(&kubectl_action(yaml), &ctx)
            .await
            .expect("runs");
        assert!(outcome.succeeded(), "{yaml}: {outcome:?}");
    }
    assert_eq!(cluster.image("web"), "nginx:1.28");
    let undo = Rollback::Action(Box::new(kubectl_action(
        "op: rollout_undo\nresource: deployment/web",
    )));
    let run =
        kubectl_action("op: set_image\nresource: deployment/web\nimages: {web: 'nginx:1.28'}");
    let outcome = executor
        .rollback(&undo, &run, None, &ctx)
        .await
        .expect("runs");
    assert!(outcome.succeeded(), "{outcome:?}");
    assert!(
        outcome.command.contains("rollout undo deployment/web"),
        "{}",
        outcome.command
    );
    assert_eq!(cluster.image("web"), "nginx:1.27");

    let wait =
        kubectl_action("op: wait\nresource: deployment/web\ncondition: Available\ntimeout: 30s");
    let outcome = executor.verify(&wait, &ctx).await.expect("runs");
    assert!(outcome.succeeded(), "{outcome:?}");
    assert!(outcome.stdout_tail.contains("condition met"), "{outcome:?}");

    let registered = Executors::with_defaults();
    assert_eq!(
        registered
            .get(ExecutorKind::Kubectl)
            .expect("kubectl is built in")
            .kind(),
        ExecutorKind::Kubectl
    );
    let helm = crate::support::helm_action("op: test\nrelease: x");
    let error = executor
        .apply(&helm, &ctx)
        .await
        .expect_err("a helm action");
    assert!(matches!(error, ExecutorError::WrongKind { .. }), "{error}");
    assert_eq!(
        error.to_string(),
        "the `kubectl` executor cannot run a `helm` action"
    );
}

#[tokio::test]
async fn a_cancelled_request_runs_nothing() {
    let cluster = Cluster::new();
    cluster.create_namespace();
    let executor = cluster.kubectl_executor();
    let (ctx, checkpoints) = cluster.recording_ctx();
    ctx.cancel.cancel();
    let outcome = executor
        .apply(&kubectl_action(APPLY_APP), &ctx)
        .await
        .expect("an outcome");
    assert_eq!(outcome.status, OutcomeStatus::Cancelled, "{outcome:?}");
    assert!(checkpoints.all().is_empty());
    assert!(cluster.objects().is_empty());
}

/// A failure quotes kubectl's own error line, not only its exit code.
#[tokio::test]
async fn a_missing_context_is_reported_in_kubectls_words() {
    let cluster = Cluster::new();
    let executor = cluster.kubectl_executor();
    let action = kubectl_action(&format!("{APPLY_APP}\ncontext: nowhere"));
    let error = executor
        .apply(&action, &cluster.ctx())
        .await
        .expect_err("no such context");
    let message = error.to_string();
    assert!(
        message.ends_with("exited with code 1: error: context \"nowhere\" does not exist"),
        "{message}"
    );
}

/// Without a configured namespace, objects go to the context's namespace
/// (`default` here), and a preview says so; cluster-scoped ones say that.
#[tokio::test]
async fn preview_names_every_object_with_its_namespace_or_scope() {
    let cluster = Cluster::new();
    let executor = cluster.kubectl_executor();
    let ctx = cluster.ctx().with_vars(std::collections::BTreeMap::new());
    let preview = executor
        .preview(
            &kubectl_action("op: apply\nfiles: [kube/namespace.yaml, kube/app.yaml]"),
            &ctx,
        )
        .await
        .expect("previews");
    let objects: Vec<&str> = preview
        .changes
        .iter()
        .map(|change| change.object.as_str())
        .collect();
    assert_eq!(
        objects,
        [
            "namespace/demo (cluster-scoped)",
            "configmap/web-config (namespace default)",
            "deployment.apps/web (namespace default)",
            "service/web (namespace default)",
        ],
        "{preview:?}"
    );
}
