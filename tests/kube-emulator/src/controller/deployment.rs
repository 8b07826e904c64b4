//! The deployment controller.
//!
//! For each Deployment it finds the ReplicaSet whose pod template equals the Deployment's
//! (ignoring the `pod-template-hash` label), creating `<name>-<hash>` when there is none, and
//! numbers it with `deployment.kubernetes.io/revision` one above the highest revision, also
//! when an old ReplicaSet becomes current again (`kubectl rollout undo`). The new ReplicaSet
//! is scaled to `spec.replicas`; old ones keep their pods until the new one is fully
//! available (a stuck rollout keeps serving from the old pods, like a real rolling update)
//! and are then scaled to zero and pruned beyond `revisionHistoryLimit`. The status carries
//! exactly what `kubectl rollout status`, `kubectl wait` and helm's kstatus read:
//! `observedGeneration`, the replica counts and the `Available` and `Progressing` conditions
//! (`NewReplicaSetAvailable`, or `ProgressDeadlineExceeded` once the deadline passes).

use super::{memory::Memory, runner};
use crate::{
    EmulatorConfig,
    meta::{self, fnv32a, safe_encode},
    operations::Subresource,
    resources::known,
    store::Store,
};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::time::Instant;

const REVISION: &str = "deployment.kubernetes.io/revision";
const HASH_LABEL: &str = "pod-template-hash";
const MANAGER: &str = "kube-controller-manager";

fn revision(object: &Value) -> i64 {
    meta::annotation(object, REVISION)
        .and_then(|value| value.parse().ok())
        .unwrap_or_default()
}

fn controlled_by(object: &Value, uid: &str) -> bool {
    object
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .is_some_and(|owners| {
            owners
                .iter()
                .any(|owner| owner["uid"] == uid && owner["controller"] == true)
        })
}

/// The template a ReplicaSet was created from: its own template without the hash label.
fn template_of_replica_set(replica_set: &Value) -> Value {
    let mut template = replica_set
        .pointer("/spec/template")
        .cloned()
        .unwrap_or_default();
    if let Some(labels) = template
        .pointer_mut("/metadata/labels")
        .and_then(Value::as_object_mut)
    {
        labels.remove(HASH_LABEL);
    }
    template
}

/// Scales an integer-or-percentage (`maxUnavailable`) against `total`, rounding down.
fn scaled(value: Option<&Value>, total: i64, default_percent: i64) -> i64 {
    match value {
        Some(Value::Number(number)) => number.as_i64().unwrap_or_default(),
        Some(Value::String(text)) => text
            .strip_suffix('%')
            .and_then(|percent| percent.parse::<i64>().ok())
            .map_or(0, |percent| total * percent / 100),
        _ => total * default_percent / 100,
    }
}

fn condition(
    kind: &str,
    status: bool,
    reason: &str,
    message: &str,
    previous: Option<&Value>,
) -> Value {
    let status = if status { "True" } else { "False" };
    if let Some(previous) = previous
        && previous["status"] == status
        && previous["reason"] == reason
        && previous["message"] == message
    {
        return previous.clone();
    }
    let now = meta::now_rfc3339();
    let transition = previous
        .filter(|previous| previous["status"] == status)
        .and_then(|previous| previous.get("lastTransitionTime").cloned())
        .unwrap_or_else(|| Value::String(now.clone()));
    json!({
        "type": kind,
        "status": status,
        "lastUpdateTime": now,
        "lastTransitionTime": transition,
        "reason": reason,
        "message": message,
    })
}

fn previous_condition<'a>(object: &'a Value, kind: &str) -> Option<&'a Value> {
    object
        .pointer("/status/conditions")
        .and_then(Value::as_array)?
        .iter()
        .find(|condition| condition["type"] == kind)
}

/// Reconciles every Deployment.
pub(super) fn reconcile(
    store: &mut Store,
    config: &EmulatorConfig,
    memory: &mut Memory,
    now: Instant,
) {
    let deployments = known("apps", "deployments");
    let all: Vec<Value> = store.list(deployments, None).into_iter().cloned().collect();
    for deployment in all {
        reconcile_one(store, config, memory, now, &deployment);
    }
}

fn reconcile_one(
    store: &mut Store,
    config: &EmulatorConfig,
    memory: &mut Memory,
    now: Instant,
    deployment: &Value,
) {
    let replica_sets = known("apps", "replicasets");
    let deployments = known("apps", "deployments");
    let uid = meta::uid_of(deployment).to_owned();
    let namespace = meta::namespace_of(deployment).to_owned();
    let name = meta::name_of(deployment).to_owned();
    let template = deployment
        .pointer("/spec/template")
        .cloned()
        .unwrap_or_default();
    let desired = meta::int_at(deployment, "/spec/replicas").unwrap_or(1);
    let hash = safe_encode(fnv32a(template.to_string().as_bytes()));

    let owned = |store: &Store| -> Vec<Value> {
        store
            .list(replica_sets, Some(&namespace))
            .into_iter()
            .filter(|replica_set| controlled_by(replica_set, &uid))
            .cloned()
            .collect()
    };
    let current = owned(store);
    let max_revision = current.iter().map(revision).max().unwrap_or_default();
    let existing = current
        .iter()
        .find(|replica_set| template_of_replica_set(replica_set) == template)
        .cloned();
    let new_name = match existing {
        None => {
            let rs_name = format!("{name}-{hash}");
            let mut rs_template = template.clone();
            meta::metadata_map_mut(&mut rs_template, "labels")
                .insert(HASH_LABEL.into(), json!(hash));
            let mut selector = deployment
                .pointer("/spec/selector")
                .cloned()
                .unwrap_or_else(|| json!({}));
            meta::set_path(&mut selector, &["matchLabels", HASH_LABEL], json!(hash));
            let mut labels = template
                .pointer("/metadata/labels")
                .cloned()
                .unwrap_or_else(|| json!({}));
            meta::set_path(&mut labels, &[HASH_LABEL], json!(hash));
            let replica_set = json!({
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "metadata": {
                    "name": rs_name,
                    "namespace": namespace,
                    "labels": labels,
                    "annotations": {
                        REVISION: (max_revision + 1).to_string(),
                        "deployment.kubernetes.io/desired-replicas": desired.to_string(),
                        "deployment.kubernetes.io/max-replicas": (desired + scaled(deployment.pointer("/spec/strategy/rollingUpdate/maxSurge"), desired, 25).max(1)).to_string(),
                    },
                    "ownerReferences": [{
                        "apiVersion": "apps/v1",
                        "kind": "Deployment",
                        "name": name,
                        "uid": uid,
                        "controller": true,
                        "blockOwnerDeletion": true,
                    }],
                },
                "spec": {
                    "replicas": desired,
                    "selector": selector,
                    "template": rs_template,
                },
            });
            runner::write(store, replica_sets, replica_set, MANAGER, Subresource::Main);
            runner::event(
                store,
                deployment,
                "Deployment",
                "ScalingReplicaSet",
                &format!("Scaled up replica set {rs_name} from 0 to {desired}"),
                "deployment-controller",
            );
            memory
                .progress_since
                .insert(uid.clone(), (hash.clone(), now));
            rs_name
        }
        Some(replica_set) => {
            let rs_name = meta::name_of(&replica_set).to_owned();
            if revision(&replica_set) < max_revision {
                let mut updated = replica_set.clone();
                let old_revision = revision(&replica_set).to_string();
                let annotations = meta::metadata_map_mut(&mut updated, "annotations");
                annotations.insert(REVISION.into(), json!((max_revision + 1).to_string()));
                let history = annotations
                    .get("deployment.kubernetes.io/revision-history")
                    .and_then(Value::as_str)
                    .map_or_else(
                        || old_revision.clone(),
                        |history| format!("{history},{old_revision}"),
                    );
                annotations.insert(
                    "deployment.kubernetes.io/revision-history".into(),
                    json!(history),
                );
                runner::write(store, replica_sets, updated, MANAGER, Subresource::Main);
                memory
                    .progress_since
                    .insert(uid.clone(), (hash.clone(), now));
            }
            rs_name
        }
    };
    if memory
        .progress_since
        .get(&uid)
        .is_none_or(|(known_hash, _)| *known_hash != hash)
    {
        memory
            .progress_since
            .insert(uid.clone(), (hash.clone(), now));
    }

    // Scale the new ReplicaSet, then the old ones once the new one is available.
    let recreate = deployment.pointer("/spec/strategy/type") == Some(&json!("Recreate"));
    for replica_set in owned(store) {
        let rs_name = meta::name_of(&replica_set);
        let is_new = rs_name == new_name;
        let target = if is_new {
            desired
        } else {
            let new_available = store
                .get(replica_sets, &namespace, &new_name)
                .and_then(|rs| meta::int_at(rs, "/status/availableReplicas"))
                .unwrap_or_default();
            if recreate || new_available >= desired {
                0
            } else {
                // A rolling update keeps the old pods serving until the new ones are available.
                meta::int_at(&replica_set, "/spec/replicas").unwrap_or_default()
            }
        };
        let desired_annotation =
            meta::annotation(&replica_set, "deployment.kubernetes.io/desired-replicas")
                .map(str::to_owned);
        if meta::int_at(&replica_set, "/spec/replicas") != Some(target)
            || (is_new && desired_annotation.as_deref() != Some(desired.to_string().as_str()))
        {
            let current = meta::int_at(&replica_set, "/spec/replicas").unwrap_or_default();
            if current != target {
                let direction = if target > current { "up" } else { "down" };
                runner::event(
                    store,
                    deployment,
                    "Deployment",
                    "ScalingReplicaSet",
                    &format!("Scaled {direction} replica set {rs_name} from {current} to {target}"),
                    "deployment-controller",
                );
            }
            let mut updated = replica_set.clone();
            updated["spec"]["replicas"] = json!(target);
            if is_new {
                meta::metadata_map_mut(&mut updated, "annotations").insert(
                    "deployment.kubernetes.io/desired-replicas".into(),
                    json!(desired.to_string()),
                );
            }
            runner::write(store, replica_sets, updated, MANAGER, Subresource::Main);
        }
    }

    // Prune old, scaled-down ReplicaSets beyond the history limit.
    let limit =
        usize::try_from(meta::int_at(deployment, "/spec/revisionHistoryLimit").unwrap_or(10))
            .unwrap_or_default();
    let mut old: Vec<Value> = owned(store)
        .into_iter()
        .filter(|rs| meta::name_of(rs) != new_name)
        .filter(|rs| {
            meta::int_at(rs, "/spec/replicas") == Some(0)
                && meta::int_at(rs, "/status/replicas").unwrap_or_default() == 0
        })
        .collect();
    old.sort_by_key(revision);
    while old.len() > limit {
        let oldest = old.remove(0);
        runner::delete(store, replica_sets, &oldest);
    }

    // The Deployment's revision annotation.
    let Some(latest) = store.get(deployments, &namespace, &name).cloned() else {
        return;
    };
    let new_revision = store
        .get(replica_sets, &namespace, &new_name)
        .map(revision)
        .unwrap_or_default()
        .to_string();
    if meta::annotation(&latest, REVISION) != Some(new_revision.as_str()) {
        let mut updated = latest.clone();
        meta::metadata_map_mut(&mut updated, "annotations")
            .insert(REVISION.into(), json!(new_revision));
        runner::write(store, deployments, updated, MANAGER, Subresource::Main);
    }
    let Some(latest) = store.get(deployments, &namespace, &name).cloned() else {
        return;
    };

    // Status.
    let all = owned(store);
    let sum = |pointer: &str| {
        all.iter()
            .map(|rs| meta::int_at(rs, pointer).unwrap_or_default())
            .sum::<i64>()
    };
    let replicas = sum("/status/replicas");
    let ready = sum("/status/readyReplicas");
    let available = sum("/status/availableReplicas");
    let total_spec = sum("/spec/replicas");
    let updated = all
        .iter()
        .find(|rs| meta::name_of(rs) == new_name)
        .and_then(|rs| meta::int_at(rs, "/status/replicas"))
        .unwrap_or_default();
    let max_unavailable = if recreate {
        0
    } else {
        scaled(
            latest.pointer("/spec/strategy/rollingUpdate/maxUnavailable"),
            desired,
            25,
        )
    };
    let complete = updated == desired && replicas == desired && available == desired;
    let deadline_seconds = meta::int_at(&latest, "/spec/progressDeadlineSeconds").unwrap_or(600);
    let deadline = Duration::from_secs(u64::try_from(deadline_seconds).unwrap_or_default())
        .min(config.progress_deadline);
    let since = memory
        .progress_since
        .get(&uid)
        .map_or(now, |(_, since)| *since);
    let available_condition = if available >= desired - max_unavailable {
        condition(
            "Available",
            true,
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.",
            previous_condition(&latest, "Available"),
        )
    } else {
        condition(
            "Available",
            false,
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
            previous_condition(&latest, "Available"),
        )
    };
    let previous_progressing = previous_condition(&latest, "Progressing");
    let progressing = if complete {
        condition(
            "Progressing",
            true,
            "NewReplicaSetAvailable",
            &format!("ReplicaSet \"{new_name}\" has successfully progressed."),
            previous_progressing,
        )
    } else if now.duration_since(since) >= deadline {
        condition(
            "Progressing",
            false,
            "ProgressDeadlineExceeded",
            &format!("ReplicaSet \"{new_name}\" has timed out progressing."),
            previous_progressing,
        )
    } else {
        memory.wake_at(since + deadline);
        condition(
            "Progressing",
            true,
            "ReplicaSetUpdated",
            &format!("ReplicaSet \"{new_name}\" is progressing."),
            previous_progressing,
        )
    };
    let mut status = json!({
        "observedGeneration": meta::int_at(&latest, "/metadata/generation").unwrap_or(1),
        "replicas": replicas,
        "updatedReplicas": updated,
        "readyReplicas": ready,
        "availableReplicas": available,
        "conditions": [available_condition, progressing],
    });
    let unavailable = (total_spec.max(desired) - available).max(0);
    if unavailable > 0 {
        status["unavailableReplicas"] = json!(unavailable);
    }
    let status_map = status.as_object_mut().expect("the status is a map");
    status_map.retain(|_, value| value != &json!(0));
    runner::write_status(store, deployments, &latest, status, MANAGER);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_round_down() {
        assert_eq!(scaled(Some(&json!("25%")), 1, 25), 0);
        assert_eq!(scaled(Some(&json!("25%")), 8, 25), 2);
        assert_eq!(scaled(Some(&json!(3)), 8, 25), 3);
        assert_eq!(scaled(None, 4, 25), 1);
    }
}
