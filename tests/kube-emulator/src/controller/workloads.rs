//! Status for the kinds that need no real controller in the emulator: StatefulSets,
//! DaemonSets and Jobs are ready (Jobs complete) immediately unless they use a `broken`
//! image; PersistentVolumeClaims are `Bound`; CustomResourceDefinitions are `Established`;
//! LoadBalancer Services get an ingress IP; PodDisruptionBudgets observe their generation.
//! These are the fields helm's kstatus-based `--wait` and `kubectl rollout status` read.

use super::{pods::is_broken, runner};
use crate::{
    meta::{self, fnv32a, safe_encode},
    resources::known,
    store::Store,
};
use serde_json::{Value, json};

const MANAGER: &str = "kube-controller-manager";

fn generation(object: &Value) -> i64 {
    meta::int_at(object, "/metadata/generation").unwrap_or(1)
}

fn template_broken(object: &Value, pointer: &str) -> bool {
    object.pointer(pointer).is_some_and(is_broken)
}

fn each(store: &mut Store, group: &str, plural: &str, status_of: impl Fn(&Value) -> Option<Value>) {
    let resource = known(group, plural);
    let all: Vec<Value> = store.list(resource, None).into_iter().cloned().collect();
    for object in all {
        if let Some(status) = status_of(&object) {
            runner::write_status(store, resource, &object, status, MANAGER);
        }
    }
}

fn stateful_set(object: &Value) -> Value {
    let replicas = meta::int_at(object, "/spec/replicas").unwrap_or(1);
    let ready = if template_broken(object, "/spec/template/spec") {
        0
    } else {
        replicas
    };
    let revision = format!(
        "{}-{}",
        meta::name_of(object),
        safe_encode(fnv32a(
            object
                .pointer("/spec/template")
                .map(Value::to_string)
                .unwrap_or_default()
                .as_bytes()
        ))
    );
    let mut status = json!({
        "observedGeneration": generation(object),
        "replicas": replicas,
        "readyReplicas": ready,
        "currentReplicas": replicas,
        "updatedReplicas": replicas,
        "availableReplicas": ready,
        "currentRevision": revision,
        "updateRevision": revision,
        "collisionCount": 0,
    });
    status
        .as_object_mut()
        .expect("the status is a map")
        .retain(|key, value| key == "replicas" || key == "collisionCount" || value != &json!(0));
    status
}

fn daemon_set(object: &Value) -> Value {
    let ready = i64::from(!template_broken(object, "/spec/template/spec"));
    let mut status = json!({
        "observedGeneration": generation(object),
        "currentNumberScheduled": 1,
        "desiredNumberScheduled": 1,
        "numberMisscheduled": 0,
        "numberReady": ready,
        "updatedNumberScheduled": 1,
        "numberAvailable": ready,
    });
    if ready == 0 {
        status["numberUnavailable"] = json!(1);
        status
            .as_object_mut()
            .expect("the status is a map")
            .remove("numberAvailable");
    }
    status
}

fn job(object: &Value) -> Option<Value> {
    if object.pointer("/status/startTime").is_some()
        || object.pointer("/spec/suspend") == Some(&json!(true))
    {
        return None;
    }
    let now = meta::now_rfc3339();
    if template_broken(object, "/spec/template/spec") {
        return Some(
            json!({"startTime": now, "active": 1, "ready": 0, "terminating": 0, "uncountedTerminatedPods": {}}),
        );
    }
    let completions = meta::int_at(object, "/spec/completions").unwrap_or(1);
    Some(json!({
        "startTime": now,
        "completionTime": now,
        "succeeded": completions,
        "ready": 0,
        "terminating": 0,
        "uncountedTerminatedPods": {},
        "conditions": [
            {"type": "SuccessCriteriaMet", "status": "True", "reason": "CompletionsReached", "message": "Reached expected number of succeeded pods", "lastProbeTime": now, "lastTransitionTime": now},
            {"type": "Complete", "status": "True", "reason": "CompletionsReached", "message": "Reached expected number of succeeded pods", "lastProbeTime": now, "lastTransitionTime": now},
        ],
    }))
}

fn claim(object: &Value) -> Value {
    json!({
        "phase": "Bound",
        "accessModes": object.pointer("/spec/accessModes").cloned().unwrap_or_else(|| json!(["ReadWriteOnce"])),
        "capacity": {"storage": object.pointer("/spec/resources/requests/storage").cloned().unwrap_or_else(|| json!("1Gi"))},
    })
}

fn definition(object: &Value) -> Option<Value> {
    let names = object
        .pointer("/spec/names")
        .cloned()
        .unwrap_or_else(|| json!({}));
    if object.pointer("/status/acceptedNames") == Some(&names) {
        return None;
    }
    let now = meta::now_rfc3339();
    let stored: Vec<Value> = object
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .map(|versions| {
            versions
                .iter()
                .filter(|version| version["storage"] == true)
                .map(|version| version["name"].clone())
                .collect()
        })
        .unwrap_or_default();
    Some(json!({
        "acceptedNames": names,
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found", "lastTransitionTime": now},
            {"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted", "lastTransitionTime": now},
        ],
        "storedVersions": stored,
    }))
}

fn service(object: &Value) -> Option<Value> {
    if object.pointer("/spec/type") != Some(&json!("LoadBalancer")) {
        return None;
    }
    Some(json!({"loadBalancer": {"ingress": [{"ip": "127.0.0.1", "ipMode": "VIP"}]}}))
}

fn budget(object: &Value) -> Value {
    json!({
        "observedGeneration": generation(object),
        "disruptionsAllowed": 0,
        "currentHealthy": 0,
        "desiredHealthy": 0,
        "expectedPods": 0,
    })
}

/// Writes the status of every object of these kinds.
pub(super) fn reconcile(store: &mut Store) {
    each(store, "apps", "statefulsets", |object| {
        Some(stateful_set(object))
    });
    each(store, "apps", "daemonsets", |object| {
        Some(daemon_set(object))
    });
    each(store, "batch", "jobs", job);
    each(store, "", "persistentvolumeclaims", |object| {
        Some(claim(object))
    });
    each(
        store,
        "apiextensions.k8s.io",
        "customresourcedefinitions",
        definition,
    );
    each(store, "", "services", service);
    each(store, "policy", "poddisruptionbudgets", |object| {
        Some(budget(object))
    });
}
