//! Defaulting, the fields the real API server fills in when a client leaves them out.
//!
//! Only the defaults clients can observe in the flows plangate tests are applied: replica
//! counts, rollout strategies, pod-spec and container defaults, Service cluster IPs and port
//! protocols, Secret `type` and `stringData`, Namespace phase and name label, Job selectors.
//! Defaulting runs after every write (create, update, each patch type), so a field an apply
//! drops is defaulted again, as on the real server. Every function here is idempotent.

use crate::{meta, resources::ResourceType};
use serde_json::{Map, Value, json};

/// Fills the defaults of `object` (of `resource`); `old` is the stored object on updates.
pub(crate) fn apply(
    resource: &ResourceType,
    object: &mut Value,
    old: Option<&Value>,
    cluster_ip: &mut dyn FnMut() -> String,
) {
    match (resource.group, resource.kind) {
        ("", "Namespace") => namespace(object),
        ("", "Secret") => secret(object),
        ("", "Service") => service(object, old, cluster_ip),
        ("", "Pod") => {
            if let Some(spec) = object.get_mut("spec") {
                pod_spec(spec);
            }
        }
        ("", "PersistentVolumeClaim") => {
            set_default(object, &["spec", "volumeMode"], json!("Filesystem"));
        }
        ("apps", "Deployment") => deployment(object),
        ("apps", "ReplicaSet") => {
            set_default(object, &["spec", "replicas"], json!(1));
            template(object, &["spec", "template", "spec"]);
        }
        ("apps", "StatefulSet") => {
            set_default(object, &["spec", "replicas"], json!(1));
            set_default(
                object,
                &["spec", "podManagementPolicy"],
                json!("OrderedReady"),
            );
            set_default(object, &["spec", "revisionHistoryLimit"], json!(10));
            set_default(
                object,
                &["spec", "updateStrategy"],
                json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}),
            );
            template(object, &["spec", "template", "spec"]);
        }
        ("apps", "DaemonSet") => {
            set_default(object, &["spec", "revisionHistoryLimit"], json!(10));
            set_default(
                object,
                &["spec", "updateStrategy"],
                json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}),
            );
            template(object, &["spec", "template", "spec"]);
        }
        ("batch", "Job") => job(object, old),
        ("batch", "CronJob") => {
            set_default(object, &["spec", "concurrencyPolicy"], json!("Allow"));
            set_default(object, &["spec", "suspend"], json!(false));
            set_default(object, &["spec", "successfulJobsHistoryLimit"], json!(3));
            set_default(object, &["spec", "failedJobsHistoryLimit"], json!(1));
            template(object, &["spec", "jobTemplate", "spec", "template", "spec"]);
        }
        _ => {}
    }
}

fn set_default(object: &mut Value, path: &[&str], value: Value) {
    let pointer = format!("/{}", path.join("/"));
    if object.pointer(&pointer).is_none_or(Value::is_null) {
        meta::set_path(object, path, value);
    }
}

fn namespace(object: &mut Value) {
    let name = meta::name_of(object).to_owned();
    meta::metadata_map_mut(object, "labels")
        .insert("kubernetes.io/metadata.name".into(), Value::String(name));
    set_default(object, &["spec", "finalizers"], json!(["kubernetes"]));
    set_default(object, &["status", "phase"], json!("Active"));
}

fn secret(object: &mut Value) {
    set_default(object, &["type"], json!("Opaque"));
    let Some(Value::Object(string_data)) = object
        .as_object_mut()
        .and_then(|map| map.remove("stringData"))
    else {
        return;
    };
    let map = object
        .as_object_mut()
        .expect("a secret with stringData is a map");
    let data = map
        .entry("data")
        .or_insert_with(|| Value::Object(Map::new()));
    if !data.is_object() {
        *data = Value::Object(Map::new());
    }
    let data = data.as_object_mut().expect("data was just made a map");
    for (key, value) in string_data {
        let text = value
            .as_str()
            .map_or_else(|| value.to_string(), str::to_owned);
        data.insert(key, Value::String(base64(text.as_bytes())));
    }
}

/// Standard base64 with padding, for `Secret.stringData`.
pub(crate) fn base64(bytes: &[u8]) -> String {
    const TABLE: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (index, shift) in [18u32, 12, 6, 0].iter().enumerate() {
            if index <= chunk.len() {
                out.push(char::from(TABLE[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn service(object: &mut Value, old: Option<&Value>, cluster_ip: &mut dyn FnMut() -> String) {
    set_default(object, &["spec", "type"], json!("ClusterIP"));
    set_default(object, &["spec", "sessionAffinity"], json!("None"));
    let service_type = object
        .pointer("/spec/type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP")
        .to_owned();
    if service_type != "ExternalName" {
        let old_ip = old.and_then(|old| old.pointer("/spec/clusterIP")).cloned();
        if object.pointer("/spec/clusterIP").is_none_or(Value::is_null) {
            let ip = old_ip.unwrap_or_else(|| Value::String(cluster_ip()));
            meta::set_path(object, &["spec", "clusterIP"], ip);
        }
        if let Some(ip) = object.pointer("/spec/clusterIP").cloned() {
            set_default(object, &["spec", "clusterIPs"], json!([ip]));
        }
        set_default(object, &["spec", "ipFamilies"], json!(["IPv4"]));
        set_default(object, &["spec", "ipFamilyPolicy"], json!("SingleStack"));
        set_default(object, &["spec", "internalTrafficPolicy"], json!("Cluster"));
    }
    if let Some(Value::Array(ports)) = object.pointer_mut("/spec/ports") {
        for port in ports.iter_mut().filter(|port| port.is_object()) {
            set_default(port, &["protocol"], json!("TCP"));
            if let Some(number) = port.get("port").cloned() {
                set_default(port, &["targetPort"], number);
            }
        }
    }
    set_default(object, &["status", "loadBalancer"], json!({}));
}

fn deployment(object: &mut Value) {
    set_default(object, &["spec", "replicas"], json!(1));
    set_default(object, &["spec", "revisionHistoryLimit"], json!(10));
    set_default(object, &["spec", "progressDeadlineSeconds"], json!(600));
    set_default(
        object,
        &["spec", "strategy", "type"],
        json!("RollingUpdate"),
    );
    if object.pointer("/spec/strategy/type") == Some(&json!("RollingUpdate")) {
        set_default(
            object,
            &["spec", "strategy", "rollingUpdate", "maxSurge"],
            json!("25%"),
        );
        set_default(
            object,
            &["spec", "strategy", "rollingUpdate", "maxUnavailable"],
            json!("25%"),
        );
    }
    template(object, &["spec", "template", "spec"]);
}

fn job(object: &mut Value, old: Option<&Value>) {
    set_default(object, &["spec", "backoffLimit"], json!(6));
    set_default(object, &["spec", "completions"], json!(1));
    set_default(object, &["spec", "parallelism"], json!(1));
    set_default(object, &["spec", "completionMode"], json!("NonIndexed"));
    set_default(object, &["spec", "suspend"], json!(false));
    if old.is_none() && object.pointer("/spec/manualSelector") != Some(&json!(true)) {
        let uid = meta::uid_of(object).to_owned();
        let name = meta::name_of(object).to_owned();
        let labels = json!({
            "batch.kubernetes.io/controller-uid": uid,
            "batch.kubernetes.io/job-name": name,
            "controller-uid": uid,
            "job-name": name,
        });
        set_default(
            object,
            &["spec", "selector"],
            json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}),
        );
        if let Some(Value::Object(template_labels)) =
            labels.as_object().map(|l| Value::Object(l.clone()))
        {
            let template = object
                .pointer_mut("/spec/template")
                .filter(|template| template.is_object());
            if let Some(template) = template {
                let existing = meta::metadata_map_mut(template, "labels");
                for (key, value) in template_labels {
                    existing.entry(key).or_insert(value);
                }
            }
        }
    }
    template(object, &["spec", "template", "spec"]);
}

fn template(object: &mut Value, path: &[&str]) {
    let pointer = format!("/{}", path.join("/"));
    if let Some(spec) = object.pointer_mut(&pointer) {
        pod_spec(spec);
    }
}

fn pod_spec(spec: &mut Value) {
    if !spec.is_object() {
        return;
    }
    set_default(spec, &["restartPolicy"], json!("Always"));
    set_default(spec, &["dnsPolicy"], json!("ClusterFirst"));
    set_default(spec, &["schedulerName"], json!("default-scheduler"));
    set_default(spec, &["terminationGracePeriodSeconds"], json!(30));
    set_default(spec, &["securityContext"], json!({}));
    for list in ["containers", "initContainers"] {
        if let Some(Value::Array(containers)) = spec.get_mut(list) {
            for container in containers.iter_mut().filter(|c| c.is_object()) {
                let image = container
                    .get("image")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let tag = image.rsplit('/').next().unwrap_or_default();
                let policy = if !tag.contains(':') || tag.ends_with(":latest") {
                    "Always"
                } else {
                    "IfNotPresent"
                };
                set_default(container, &["imagePullPolicy"], json!(policy));
                set_default(
                    container,
                    &["terminationMessagePath"],
                    json!("/dev/termination-log"),
                );
                set_default(container, &["terminationMessagePolicy"], json!("File"));
                set_default(container, &["resources"], json!({}));
                if let Some(Value::Array(ports)) = container.get_mut("ports") {
                    for port in ports.iter_mut().filter(|p| p.is_object()) {
                        set_default(port, &["protocol"], json!("TCP"));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::by_plural;

    #[test]
    fn deployment_defaults_are_idempotent() {
        let deployments = by_plural("apps", "v1", "deployments").expect("registered");
        let mut object = json!({"metadata": {"name": "api"}, "spec": {"template": {"spec": {"containers": [{"name": "app", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}]}}}});
        apply(deployments, &mut object, None, &mut || "10.96.0.10".into());
        let once = object.clone();
        apply(deployments, &mut object, None, &mut || "10.96.0.11".into());
        assert_eq!(object, once);
        assert_eq!(object["spec"]["replicas"], 1);
        assert_eq!(
            object["spec"]["strategy"]["rollingUpdate"]["maxSurge"],
            "25%"
        );
        let container = &object["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(container["imagePullPolicy"], "IfNotPresent");
        assert_eq!(container["ports"][0]["protocol"], "TCP");
    }

    #[test]
    fn service_gets_cluster_ip_and_ports() {
        let services = by_plural("", "v1", "services").expect("registered");
        let mut object = json!({"metadata": {"name": "web"}, "spec": {"ports": [{"port": 80}]}});
        apply(services, &mut object, None, &mut || "10.96.0.10".into());
        assert_eq!(object["spec"]["clusterIP"], "10.96.0.10");
        assert_eq!(object["spec"]["ports"][0]["targetPort"], 80);
    }

    #[test]
    fn secret_string_data_becomes_data() {
        let secrets = by_plural("", "v1", "secrets").expect("registered");
        let mut object = json!({"metadata": {"name": "s"}, "stringData": {"a": "hello"}});
        apply(secrets, &mut object, None, &mut String::new);
        assert_eq!(
            object,
            json!({"metadata": {"name": "s"}, "type": "Opaque", "data": {"a": "aGVsbG8="}})
        );
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"abc"), "YWJj");
    }
}
