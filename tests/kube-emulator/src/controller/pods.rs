//! The replica-set controller and a kubelet stand-in.
//!
//! ReplicaSets get pods named `<replicaset>-<random>` until their count matches
//! `spec.replicas` (extra pods are deleted, not-ready ones first), and a status counting
//! them. Every pod, whoever created it, becomes `Running` and `Ready` `rollout_delay` after
//! the controller first sees it, unless one of its containers uses an image tagged `broken`
//! (e.g. `nginx:broken`): such a pod stays `Pending` in `ImagePullBackOff`, so failed
//! rollouts can be tested.
//!
//! A pod with `restartPolicy: Never` (a bare pod such as a Helm test hook) runs to completion
//! instead: after `rollout_delay` its containers terminate with exit code 0 and the pod is
//! `Succeeded`, or, when an image is tagged `broken`, they terminate with exit code 1 and the
//! pod is `Failed`. An `OnFailure` pod succeeds the same way; with a `broken` image it sits in
//! `ImagePullBackOff` like any other. Terminal pods never change again, like the kubelet's.

use super::{memory::Memory, runner};
use crate::{
    EmulatorConfig, meta, operations::Subresource, resources::known, selectors::labels_of,
    store::Store,
};
use serde_json::{Value, json};
use tokio::time::Instant;

const KUBELET: &str = "kubelet";
const MANAGER: &str = "kube-controller-manager";

/// Whether a pod spec uses an image tagged `broken`.
pub(super) fn is_broken(pod_spec: &Value) -> bool {
    ["containers", "initContainers"].iter().any(|list| {
        pod_spec
            .get(*list)
            .and_then(Value::as_array)
            .is_some_and(|containers| {
                containers.iter().any(|container| {
                    container["image"].as_str().is_some_and(|image| {
                        image
                            .rsplit('/')
                            .next()
                            .is_some_and(|last| last.ends_with(":broken"))
                    })
                })
            })
    })
}

fn is_ready(pod: &Value) -> bool {
    pod.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|conditions| {
            conditions
                .iter()
                .any(|condition| condition["type"] == "Ready" && condition["status"] == "True")
        })
}

fn owned_by(object: &Value, uid: &str) -> bool {
    object
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .is_some_and(|owners| {
            owners
                .iter()
                .any(|owner| owner["uid"] == uid && owner["controller"] == true)
        })
}

/// Creates and deletes pods so each ReplicaSet has `spec.replicas`, and writes its status.
pub(super) fn reconcile_replica_sets(store: &mut Store) {
    let replica_sets = known("apps", "replicasets");
    let pods = known("", "pods");
    let all: Vec<Value> = store
        .list(replica_sets, None)
        .into_iter()
        .cloned()
        .collect();
    for replica_set in all {
        let uid = meta::uid_of(&replica_set).to_owned();
        let namespace = meta::namespace_of(&replica_set).to_owned();
        let name = meta::name_of(&replica_set).to_owned();
        let desired = usize::try_from(meta::int_at(&replica_set, "/spec/replicas").unwrap_or(1))
            .unwrap_or_default();
        let mut owned: Vec<Value> = store
            .list(pods, Some(&namespace))
            .into_iter()
            .filter(|pod| owned_by(pod, &uid))
            .cloned()
            .collect();
        while owned.len() < desired {
            let template = replica_set
                .pointer("/spec/template")
                .cloned()
                .unwrap_or_default();
            let mut spec = template.get("spec").cloned().unwrap_or_else(|| json!({}));
            spec["nodeName"] = json!("kube-emulator");
            let mut metadata = json!({
                "name": format!("{name}-{}", meta::random_suffix(5)),
                "generateName": format!("{name}-"),
                "namespace": namespace,
                "ownerReferences": [{
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": name,
                    "uid": uid,
                    "controller": true,
                    "blockOwnerDeletion": true,
                }],
            });
            for field in ["labels", "annotations"] {
                if let Some(value) = template.pointer(&format!("/metadata/{field}")) {
                    metadata[field] = value.clone();
                }
            }
            let pod =
                json!({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec});
            runner::write(store, pods, pod.clone(), MANAGER, Subresource::Main);
            owned.push(pod);
        }
        if owned.len() > desired {
            owned.sort_by_key(|pod| {
                (
                    is_ready(pod),
                    std::cmp::Reverse(
                        meta::int_at(pod, "/metadata/resourceVersion").unwrap_or_default(),
                    ),
                )
            });
            let extra = owned.len() - desired;
            for pod in owned.drain(..extra) {
                runner::delete(store, pods, &pod);
            }
        }
        let current: Vec<Value> = store
            .list(pods, Some(&namespace))
            .into_iter()
            .filter(|pod| owned_by(pod, &uid))
            .cloned()
            .collect();
        let count = current.len();
        let ready = current.iter().filter(|pod| is_ready(pod)).count();
        let selector_matches = current
            .iter()
            .filter(|pod| {
                let template_labels = replica_set
                    .pointer("/spec/template")
                    .map(labels_of)
                    .unwrap_or_default();
                let labels = labels_of(pod);
                template_labels
                    .iter()
                    .all(|(key, value)| labels.get(key) == Some(value))
            })
            .count();
        let mut status = json!({
            "replicas": count,
            "fullyLabeledReplicas": selector_matches,
            "readyReplicas": ready,
            "availableReplicas": ready,
            "observedGeneration": meta::int_at(&replica_set, "/metadata/generation").unwrap_or(1),
        });
        status
            .as_object_mut()
            .expect("the status is a map")
            .retain(|key, value| key == "replicas" || value != &json!(0));
        if let Some(latest) = store.get(replica_sets, &namespace, &name).cloned() {
            runner::write_status(store, replica_sets, &latest, status, MANAGER);
        }
    }
}

fn container_statuses(pod: &Value, state: &Value, ready: bool) -> Value {
    let statuses: Vec<Value> = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .map(|containers| {
            containers
                .iter()
                .map(|container| {
                    let image = container["image"].as_str().unwrap_or_default();
                    let state = if state.get("waiting").is_some() && image.ends_with(":broken") {
                        json!({"waiting": {"reason": "ImagePullBackOff", "message": format!("Back-off pulling image \"{image}\": ErrImagePull: manifest unknown")}})
                    } else {
                        state.clone()
                    };
                    json!({
                        "name": container["name"],
                        "image": image,
                        "imageID": if ready { format!("docker.io/library/{image}@sha256:0000") } else { String::new() },
                        "ready": ready,
                        "restartCount": 0,
                        "started": ready,
                        "state": state,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    Value::Array(statuses)
}

fn conditions(ready: bool, since: &str) -> Value {
    let status = if ready { "True" } else { "False" };
    let mut list = vec![
        json!({"type": "PodReadyToStartContainers", "status": status, "lastProbeTime": null, "lastTransitionTime": since}),
        json!({"type": "Initialized", "status": "True", "lastProbeTime": null, "lastTransitionTime": since}),
        json!({"type": "Ready", "status": status, "lastProbeTime": null, "lastTransitionTime": since}),
        json!({"type": "ContainersReady", "status": status, "lastProbeTime": null, "lastTransitionTime": since}),
        json!({"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": since}),
    ];
    if !ready {
        list[2]["reason"] = json!("ContainersNotReady");
        list[3]["reason"] = json!("ContainersNotReady");
    }
    Value::Array(list)
}

/// Whether a pod runs to completion rather than forever: `restartPolicy: Never`, or
/// `OnFailure` with images that start (a `broken` one is stuck pulling, as for `Always`).
fn runs_to_completion(pod: &Value, broken: bool) -> bool {
    match pod.pointer("/spec/restartPolicy").and_then(Value::as_str) {
        Some("Never") => true,
        Some("OnFailure") => !broken,
        _ => false,
    }
}

fn terminated_statuses(pod: &Value, exit_code: i64, started: &str, finished: &str) -> Value {
    let reason = if exit_code == 0 { "Completed" } else { "Error" };
    let statuses: Vec<Value> = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .map(|containers| {
            containers
                .iter()
                .map(|container| {
                    let image = container["image"].as_str().unwrap_or_default();
                    json!({
                        "name": container["name"],
                        "image": image,
                        "imageID": format!("docker.io/library/{image}@sha256:0000"),
                        "containerID": format!("containerd://{}", meta::random_hex()),
                        "ready": false,
                        "restartCount": 0,
                        "started": false,
                        "state": {"terminated": {
                            "exitCode": exit_code,
                            "reason": reason,
                            "startedAt": started,
                            "finishedAt": finished,
                        }},
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    Value::Array(statuses)
}

/// The status of a pod whose containers have all terminated.
fn completed_status(pod: &Value, succeeded: bool, pod_ip: &str, start_time: &Value) -> Value {
    let now = meta::now_rfc3339();
    let reason = if succeeded {
        "PodCompleted"
    } else {
        "PodFailed"
    };
    let condition = |kind: &str, status: &str, with_reason: bool| {
        let mut condition = json!({"type": kind, "status": status, "lastProbeTime": null, "lastTransitionTime": now});
        if with_reason {
            condition["reason"] = json!(reason);
        }
        condition
    };
    json!({
        "phase": if succeeded { "Succeeded" } else { "Failed" },
        "conditions": [
            condition("PodReadyToStartContainers", "False", false),
            condition("Initialized", "True", true),
            condition("Ready", "False", true),
            condition("ContainersReady", "False", true),
            condition("PodScheduled", "True", false),
        ],
        "hostIP": "10.0.0.1",
        "hostIPs": [{"ip": "10.0.0.1"}],
        "podIP": pod_ip,
        "podIPs": [{"ip": pod_ip}],
        "startTime": start_time,
        "qosClass": "BestEffort",
        "containerStatuses": terminated_statuses(
            pod,
            i64::from(!succeeded),
            start_time.as_str().unwrap_or(&now),
            &now,
        ),
    })
}

/// Moves pods through `Pending` to `Running`/`Ready` (or `ImagePullBackOff`), and pods that
/// run to completion to `Succeeded` (or `Failed`).
pub(super) fn reconcile_pods(
    store: &mut Store,
    config: &EmulatorConfig,
    memory: &mut Memory,
    now: Instant,
) {
    let pods = known("", "pods");
    let all: Vec<Value> = store.list(pods, None).into_iter().cloned().collect();
    for pod in all {
        let phase = pod.pointer("/status/phase").and_then(Value::as_str);
        if matches!(phase, Some("Succeeded" | "Failed")) {
            continue;
        }
        let uid = meta::uid_of(&pod).to_owned();
        let broken = pod.get("spec").is_some_and(is_broken);
        let completes = runs_to_completion(&pod, broken);
        let ready_at = *memory
            .pod_ready_at
            .entry(uid)
            .or_insert_with(|| (completes || !broken).then(|| now + config.rollout_delay));
        let stage = match ready_at {
            None => "broken",
            Some(at) if at > now => {
                memory.wake_at(at);
                "starting"
            }
            Some(_) if completes && broken => "failed",
            Some(_) if completes => "succeeded",
            Some(_) => "running",
        };
        let waiting = pod
            .pointer("/status/containerStatuses/0/state/waiting/reason")
            .and_then(Value::as_str);
        let current = match (
            pod.pointer("/status/phase").and_then(Value::as_str),
            is_ready(&pod),
            waiting,
        ) {
            (Some("Running"), true, _) => Some("running"),
            (Some("Pending"), false, Some("ImagePullBackOff")) => Some("broken"),
            (Some("Pending"), false, _) => Some("starting"),
            _ => None,
        };
        if current == Some(stage) {
            continue;
        }
        let now_text = meta::now_rfc3339();
        let start_time = pod
            .pointer("/status/startTime")
            .cloned()
            .unwrap_or_else(|| json!(now_text));
        let pod_ip = pod
            .pointer("/status/podIP")
            .and_then(Value::as_str)
            .map_or_else(|| memory.pod_ip(), str::to_owned);
        let status = match stage {
            "succeeded" | "failed" => {
                completed_status(&pod, stage == "succeeded", &pod_ip, &start_time)
            }
            "running" => json!({
                "phase": "Running",
                "conditions": conditions(true, &now_text),
                "hostIP": "10.0.0.1",
                "hostIPs": [{"ip": "10.0.0.1"}],
                "podIP": pod_ip,
                "podIPs": [{"ip": pod_ip}],
                "startTime": start_time,
                "qosClass": "BestEffort",
                "containerStatuses": container_statuses(&pod, &json!({"running": {"startedAt": now_text}}), true),
            }),
            _ => json!({
                "phase": "Pending",
                "conditions": conditions(false, &now_text),
                "hostIP": "10.0.0.1",
                "hostIPs": [{"ip": "10.0.0.1"}],
                "podIP": pod_ip,
                "podIPs": [{"ip": pod_ip}],
                "startTime": start_time,
                "qosClass": "BestEffort",
                "containerStatuses": container_statuses(&pod, &json!({"waiting": {"reason": "ContainerCreating"}}), false),
            }),
        };
        if stage == "broken" {
            let images: Vec<&str> = pod
                .pointer("/spec/containers")
                .and_then(Value::as_array)
                .map(|containers| {
                    containers
                        .iter()
                        .filter_map(|container| container["image"].as_str())
                        .filter(|image| image.ends_with(":broken"))
                        .collect()
                })
                .unwrap_or_default();
            for image in images {
                let message = format!("Failed to pull image \"{image}\": manifest unknown");
                runner::event(store, &pod, "Pod", "Failed", &message, KUBELET);
            }
        }
        runner::write_status(store, pods, &pod, status, KUBELET);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broken_images() {
        assert!(is_broken(
            &json!({"containers": [{"image": "nginx:broken"}]})
        ));
        assert!(is_broken(
            &json!({"containers": [{"image": "registry:5000/team/app:broken"}]})
        ));
        assert!(!is_broken(
            &json!({"containers": [{"image": "nginx:1.27"}]})
        ));
        assert!(!is_broken(
            &json!({"containers": [{"image": "broken/nginx"}]})
        ));
    }
}
