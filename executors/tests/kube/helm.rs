use plangate_executors::{ChangeKind, Executor, ExecutorError, Observation, OutcomeStatus};
use plangate_plans::{ExecutorKind, Rollback};

use crate::support::{Cluster, helm_action};

/// An upgrade of release `cache` from the fixture chart with `image`.
fn upgrade(image: &str, extra: &str) -> plangate_plans::Action {
    helm_action(&format!(
        "op: upgrade\nrelease: cache\nchart: chart\ncreate_namespace: true\nset: {{image: '{image}'}}\n{extra}"
    ))
}

#[tokio::test]
async fn install_upgrade_and_a_failed_upgrade_rolled_back_to_the_recorded_revision() {
    let cluster = Cluster::new();
    let executor = cluster.helm_executor();

    let install = upgrade("redis:7.2", "wait: true\ntimeout: 30s");
    let (ctx, checkpoints) = cluster.recording_ctx();
    let outcome = executor.apply(&install, &ctx).await.expect("runs");
    assert_eq!(outcome.status, OutcomeStatus::Succeeded, "{outcome:?}");
    assert!(
        outcome
            .command
            .contains("upgrade --install cache chart --set image=redis:7.2 --create-namespace --wait --timeout=30s -n demo --kube-context dev"),
        "{}",
        outcome.command
    );
    let recorded = checkpoints.only().evidence;
    assert_eq!(recorded["previous_revision"], serde_json::Value::Null);
    assert!(
        recorded["tool_version"]
            .as_str()
            .is_some_and(|version| version.starts_with('v')),
        "{recorded}"
    );
    let evidence = outcome.evidence.expect("evidence");
    assert_eq!(evidence["revision"], 1);
    assert_eq!(evidence["status"], "deployed");
    assert_eq!(cluster.helm_history("cache").len(), 1);
    assert_eq!(
        executor
            .observe(&install, Some(&recorded), &cluster.ctx())
            .await
            .expect("observes"),
        Observation::Applied
    );

    let second = upgrade("redis:7.4", "wait: true\ntimeout: 30s");
    let outcome = executor.apply(&second, &cluster.ctx()).await.expect("runs");
    assert!(outcome.succeeded(), "{outcome:?}");
    let evidence = outcome.evidence.expect("evidence");
    assert_eq!(evidence["previous_revision"], 1);
    assert_eq!(evidence["revision"], 2);
    assert_eq!(cluster.image("cache"), "redis:7.4");

    let broken = upgrade("redis:broken", "wait: true\ntimeout: 5s");
    let (ctx, checkpoints) = cluster.recording_ctx();
    let outcome = executor.apply(&broken, &ctx).await.expect("runs");
    assert_eq!(outcome.status, OutcomeStatus::Failed, "{outcome:?}");
    assert_eq!(outcome.exit_code, Some(1));
    assert!(
        outcome.stderr_tail.contains("UPGRADE FAILED"),
        "{outcome:?}"
    );
    let recorded = checkpoints.only().evidence;
    assert_eq!(recorded["previous_revision"], 2);
    let evidence = outcome.evidence.expect("evidence");
    assert_eq!(evidence["revision"], 3);
    assert_eq!(evidence["status"], "failed");
    let Observation::Partial { detail } = executor
        .observe(&broken, Some(&recorded), &cluster.ctx())
        .await
        .expect("observes")
    else {
        panic!("a failed revision is partly applied");
    };
    assert!(detail.contains("revision 3, but it is failed"), "{detail}");

    let rollback = executor
        .rollback(&Rollback::Auto, &broken, Some(&evidence), &cluster.ctx())
        .await
        .expect("rollback runs");
    assert!(rollback.succeeded(), "{rollback:?}");
    assert!(
        rollback
            .command
            .contains("rollback cache 2 --wait --timeout=5s"),
        "{}",
        rollback.command
    );
    let history = cluster.helm_history("cache");
    let last = history.last().expect("a history");
    assert_eq!(last["revision"], 4, "{history:?}");
    assert_eq!(last["description"], "Rollback to 2", "{history:?}");
    assert_eq!(cluster.image("cache"), "redis:7.4");

    let test = helm_action("op: test\nrelease: cache\ntimeout: 30s");
    let outcome = executor.verify(&test, &cluster.ctx()).await.expect("runs");
    assert!(outcome.succeeded(), "{outcome:?}");
    assert_eq!(
        executor
            .observe(&test, None, &cluster.ctx())
            .await
            .expect("observes"),
        Observation::NotApplied
    );
}

#[tokio::test]
async fn rolling_back_a_fresh_install_uninstalls_it() {
    let cluster = Cluster::new();
    let executor = cluster.helm_executor();
    let install = upgrade("redis:7.2", "");
    let outcome = executor
        .apply(&install, &cluster.ctx())
        .await
        .expect("runs");
    assert!(outcome.succeeded(), "{outcome:?}");
    let evidence = outcome.evidence.expect("evidence");
    assert_eq!(cluster.helm_history("cache").len(), 1);

    let rollback = executor
        .rollback(&Rollback::Auto, &install, Some(&evidence), &cluster.ctx())
        .await
        .expect("rollback runs");
    assert!(rollback.succeeded(), "{rollback:?}");
    assert!(
        rollback.command.contains("uninstall cache"),
        "{}",
        rollback.command
    );
    assert!(
        cluster.helm_history("cache").is_empty(),
        "the release is gone"
    );
    assert!(
        cluster.objects().is_empty(),
        "the release's objects are gone: {:?}",
        cluster.objects()
    );

    let uninstall = helm_action("op: uninstall\nrelease: cache");
    let error = executor
        .rollback(&Rollback::Auto, &uninstall, Some(&evidence), &cluster.ctx())
        .await
        .expect_err("no automatic rollback of an uninstall");
    assert!(
        matches!(
            error,
            ExecutorError::UnsupportedRollback {
                kind: ExecutorKind::Helm
            }
        ),
        "{error}"
    );
}

#[tokio::test]
async fn preview_of_an_upgrade_lists_changed_objects_and_writes_nothing() {
    let cluster = Cluster::new();
    let executor = cluster.helm_executor();

    let before = cluster.resources();
    let preview = executor
        .preview(&upgrade("redis:7.2", ""), &cluster.ctx())
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
            (
                "configmap/cache-config (namespace demo)",
                ChangeKind::Create
            ),
            ("deployment.apps/cache (namespace demo)", ChangeKind::Create),
        ],
        "{preview:?}"
    );
    assert!(
        preview.summary.contains("it would be installed"),
        "{}",
        preview.summary
    );
    assert_eq!(
        cluster.resources(),
        before,
        "a preview of an install writes nothing"
    );

    let outcome = executor
        .apply(
            &upgrade("redis:7.2", "wait: true\ntimeout: 30s"),
            &cluster.ctx(),
        )
        .await
        .expect("runs");
    assert!(outcome.succeeded(), "{outcome:?}");

    let before = cluster.resources();
    let next_release = helm_action(
        "op: upgrade\nrelease: cache\nchart: chart\nset: {image: 'redis:7.4', greeting: bonjour}",
    );
    let preview = executor
        .preview(&next_release, &cluster.ctx())
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
            (
                "configmap/cache-config (namespace demo)",
                ChangeKind::Update
            ),
            ("deployment.apps/cache (namespace demo)", ChangeKind::Update),
        ],
        "{preview:?}"
    );
    assert!(
        preview
            .summary
            .contains("revision 1 (deployed) would be upgraded: 2 to update"),
        "{}",
        preview.summary
    );
    let diff = preview.changes[1].diff.as_deref().expect("a diff");
    assert!(diff.contains("-      - image: redis:7.2\n"), "{diff}");
    assert!(diff.contains("+      - image: redis:7.4\n"), "{diff}");
    let same = executor
        .preview(&upgrade("redis:7.2", ""), &cluster.ctx())
        .await
        .expect("previews");
    assert!(
        same.changes
            .iter()
            .all(|change| change.change == ChangeKind::Unchanged),
        "{same:?}"
    );
    let uninstall = executor
        .preview(
            &helm_action("op: uninstall\nrelease: cache"),
            &cluster.ctx(),
        )
        .await
        .expect("previews");
    assert!(
        uninstall
            .changes
            .iter()
            .all(|change| change.change == ChangeKind::Delete),
        "{uninstall:?}"
    );
    assert_eq!(uninstall.changes.len(), 2);
    assert_eq!(
        cluster.resources(),
        before,
        "a preview of an upgrade writes nothing"
    );
    assert_eq!(cluster.helm_history("cache").len(), 1);
}

#[tokio::test]
async fn the_guard_reads_the_current_context_from_the_kubeconfig() {
    let cluster = Cluster::with_context("prod-eu");
    let executor = cluster.helm_executor();
    let install = upgrade("redis:7.2", "");
    let (ctx, checkpoints) = cluster.recording_ctx();
    let error = executor
        .apply(&install, &ctx)
        .await
        .expect_err("a dev plan refuses a prod context");
    assert!(
        error
            .to_string()
            .contains("refuses kube context `prod-eu` for environment `dev`"),
        "{error}"
    );
    assert!(checkpoints.all().is_empty(), "nothing ran");
    assert!(cluster.helm_history("cache").is_empty());
    let outcome = executor
        .apply(&install, &cluster.ctx().with_environment("production"))
        .await
        .expect("runs");
    assert!(outcome.succeeded(), "{outcome:?}");
    assert!(
        outcome.command.contains("--kube-context prod-eu"),
        "{}",
        outcome.command
    );
}
