//! Kubernetes objects as the executors handle them: identities
//! ([`ObjectRef`]), snapshots taken before a change ([`Snapshot`]), and the
//! forms used to restore and compare them.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::redact::REDACTED;

/// Metadata the API server owns; a restored object must not carry them
/// (or carries the live `resourceVersion` instead, for a conditional update).
const SERVER_METADATA: [&str; 8] = [
    "resourceVersion",
    "uid",
    "creationTimestamp",
    "generation",
    "managedFields",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
];

/// Which object: API version, kind, namespace (none when cluster-scoped)
/// and name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ObjectRef {
    #[serde(rename = "apiVersion")]
    pub(crate) api_version: String,
    pub(crate) kind: String,
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) namespace: Option<String>,
}

impl ObjectRef {
    /// The identity of a Kubernetes object, if it has one.
    pub(crate) fn of(object: &Value) -> Option<Self> {
        let text = |value: &Value| value.as_str().filter(|s| !s.is_empty()).map(str::to_owned);
        Some(Self {
            api_version: text(&object["apiVersion"])?,
            kind: text(&object["kind"])?,
            name: text(&object["metadata"]["name"])?,
            namespace: text(&object["metadata"]["namespace"]),
        })
    }

    /// The API group (`apps`; empty for the core group).
    pub(crate) fn group(&self) -> &str {
        self.api_version
            .rsplit_once('/')
            .map_or("", |(group, _)| group)
    }

    /// The API version without the group (`v1`).
    pub(crate) fn version(&self) -> &str {
        self.api_version
            .rsplit_once('/')
            .map_or(self.api_version.as_str(), |(_, version)| version)
    }

    /// Whether both name the same object (the version does not matter).
    pub(crate) fn same_object(&self, other: &ObjectRef) -> bool {
        self.group() == other.group()
            && self.kind == other.kind
            && self.namespace == other.namespace
            && self.name == other.name
    }

    /// Whether both have the same kind, namespace and name: how Helm
    /// manifests of two revisions are matched.
    pub(crate) fn same_kind_and_name(&self, other: &ObjectRef) -> bool {
        self.kind == other.kind && self.namespace == other.namespace && self.name == other.name
    }

    /// The smallest manifest naming the object: what `kubectl get -f` and
    /// `kubectl delete -f` need.
    pub(crate) fn stub(&self) -> Value {
        let mut metadata = Map::new();
        metadata.insert("name".to_owned(), Value::String(self.name.clone()));
        if let Some(namespace) = &self.namespace {
            metadata.insert("namespace".to_owned(), Value::String(namespace.clone()));
        }
        serde_json::json!({
            "apiVersion": self.api_version,
            "kind": self.kind,
            "metadata": metadata,
        })
    }

    /// The name `kubectl diff` gives the object's file:
    /// `[GROUP.]VERSION.KIND.NAMESPACE.NAME`.
    pub(crate) fn diff_file_name(&self) -> String {
        let group = match self.group() {
            "" => String::new(),
            group => format!("{group}."),
        };
        format!(
            "{group}{}.{}.{}.{}",
            self.version(),
            self.kind,
            self.namespace.as_deref().unwrap_or(""),
            self.name
        )
    }
}

/// Kinds of the built-in API that are cluster-scoped: how a Helm manifest
/// object without a namespace is told apart from one that goes to the
/// release's namespace (Helm itself asks the server; a preview reads only
/// the manifest).
const CLUSTER_SCOPED_KINDS: [&str; 22] = [
    "APIService",
    "CSIDriver",
    "CSINode",
    "CertificateSigningRequest",
    "ClusterRole",
    "ClusterRoleBinding",
    "ComponentStatus",
    "CustomResourceDefinition",
    "FlowSchema",
    "IngressClass",
    "MutatingWebhookConfiguration",
    "Namespace",
    "Node",
    "PersistentVolume",
    "PriorityClass",
    "PriorityLevelConfiguration",
    "RuntimeClass",
    "StorageClass",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "ValidatingWebhookConfiguration",
    "VolumeAttachment",
];

/// Whether a `kubectl` resource argument (`deployment/web`, `nodes`,
/// `namespace/demo`) names a built-in cluster-scoped kind.
pub(crate) fn names_cluster_scoped(resource: &str) -> bool {
    let kind = resource
        .split('/')
        .next()
        .unwrap_or_default()
        .split('.')
        .next()
        .unwrap_or_default();
    CLUSTER_SCOPED_KINDS.iter().any(|known| {
        let known = known.to_ascii_lowercase();
        kind == known
            || kind.strip_suffix('s') == Some(known.as_str())
            || kind.strip_suffix("es") == Some(known.as_str())
    }) || kind == "ns"
}

impl ObjectRef {
    /// How a preview names the object, always with where it lives:
    /// `deployment.apps/web (namespace demo)`, `namespace/demo
    /// (cluster-scoped)`.
    ///
    /// An object without a namespace is cluster-scoped when
    /// `default_namespace` is `None` (kubectl fills in the namespace of every
    /// namespaced object it renders or reads); with a default namespace (a
    /// Helm manifest) it is in that namespace unless its kind is a built-in
    /// cluster-scoped one.
    pub(crate) fn preview_name(&self, default_namespace: Option<&str>) -> String {
        let kind = self.kind.to_ascii_lowercase();
        let resource = match self.group() {
            "" => format!("{kind}/{}", self.name),
            group => format!("{kind}.{group}/{}", self.name),
        };
        let namespace = match (&self.namespace, default_namespace) {
            (Some(namespace), _) => Some(namespace.as_str()),
            (None, Some(default)) if !CLUSTER_SCOPED_KINDS.contains(&self.kind.as_str()) => {
                Some(default)
            }
            (None, _) => None,
        };
        match namespace {
            Some(namespace) => format!("{resource} (namespace {namespace})"),
            None => format!("{resource} (cluster-scoped)"),
        }
    }
}

impl fmt::Display for ObjectRef {
    /// `Deployment demo/web`, or `Namespace demo` when cluster-scoped.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(namespace) => write!(f, "{} {namespace}/{}", self.kind, self.name),
            None => write!(f, "{} {}", self.kind, self.name),
        }
    }
}

/// An object as it was before a change: `before` is `None` when it did not
/// exist.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Snapshot {
    #[serde(flatten)]
    pub(crate) object: ObjectRef,
    #[serde(default)]
    pub(crate) before: Option<Value>,
}

/// The objects of a `kubectl get -o json` answer: a `List`'s items, one
/// object, or none for an empty answer (`--ignore-not-found`).
pub(crate) fn parse_items(stdout: &str) -> Result<Vec<Value>, serde_json::Error> {
    if stdout.trim().is_empty() {
        return Ok(Vec::new());
    }
    let mut values = Vec::new();
    for value in serde_json::Deserializer::from_str(stdout).into_iter::<Value>() {
        let value = value?;
        match value.get("items").and_then(Value::as_array) {
            Some(items)
                if value["kind"]
                    .as_str()
                    .is_some_and(|kind| kind.ends_with("List")) =>
            {
                values.extend(items.iter().cloned());
            }
            _ => values.push(value),
        }
    }
    Ok(values)
}

/// The object without what the server owns (status and server metadata):
/// what a restore writes back, and what comparisons look at.
pub(crate) fn restorable(object: &Value) -> Value {
    let mut object = object.clone();
    if let Some(map) = object.as_object_mut() {
        map.remove("status");
        if let Some(metadata) = map.get_mut("metadata").and_then(Value::as_object_mut) {
            for key in SERVER_METADATA {
                metadata.remove(key);
            }
        }
    }
    object
}

/// Whether two versions of an object have the same content: everything but
/// status and server metadata.
pub(crate) fn same_content(a: &Value, b: &Value) -> bool {
    restorable(a) == restorable(b)
}

/// Whether a snapshot holds a redacted secret: restoring it would write the
/// placeholder into the cluster.
pub(crate) fn holds_redacted(object: &Value) -> bool {
    match object {
        Value::String(text) => text.contains(REDACTED),
        Value::Array(items) => items.iter().any(holds_redacted),
        Value::Object(map) => map.values().any(holds_redacted),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn identities_and_their_names() {
        let deployment = ObjectRef::of(&json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "demo"}
        }))
        .expect("an object");
        assert_eq!(deployment.group(), "apps");
        assert_eq!(deployment.version(), "v1");
        assert_eq!(deployment.diff_file_name(), "apps.v1.Deployment.demo.web");
        assert_eq!(deployment.to_string(), "Deployment demo/web");
        let namespace = ObjectRef::of(&json!({
            "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "demo"}
        }))
        .expect("an object");
        assert_eq!(namespace.group(), "");
        assert_eq!(namespace.diff_file_name(), "v1.Namespace..demo");
        assert_eq!(namespace.to_string(), "Namespace demo");
        assert_eq!(
            deployment.preview_name(None),
            "deployment.apps/web (namespace demo)"
        );
        assert_eq!(
            namespace.preview_name(None),
            "namespace/demo (cluster-scoped)"
        );
        assert_eq!(
            namespace.preview_name(Some("apps")),
            "namespace/demo (cluster-scoped)"
        );
        let config = ObjectRef::of(&json!({
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}
        }))
        .expect("an object");
        assert_eq!(
            config.preview_name(Some("apps")),
            "configmap/c (namespace apps)"
        );
        assert_eq!(
            namespace.stub(),
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "demo"}})
        );
        assert!(ObjectRef::of(&json!({"kind": "ConfigMap"})).is_none());
    }

    #[test]
    fn cluster_scoped_resource_arguments() {
        assert!(names_cluster_scoped("namespace/demo"));
        assert!(names_cluster_scoped("nodes"));
        assert!(names_cluster_scoped("storageclasses.storage.k8s.io/fast"));
        assert!(!names_cluster_scoped("deployment/web"));
        assert!(!names_cluster_scoped("pods"));
    }

    #[test]
    fn snapshots_serialise_flat() {
        let snapshot = Snapshot {
            object: ObjectRef {
                api_version: "v1".to_owned(),
                kind: "ConfigMap".to_owned(),
                name: "c".to_owned(),
                namespace: Some("demo".to_owned()),
            },
            before: None,
        };
        let value = serde_json::to_value(&snapshot).expect("serialises");
        assert_eq!(
            value,
            json!({"apiVersion": "v1", "kind": "ConfigMap", "name": "c", "namespace": "demo", "before": null})
        );
        assert_eq!(
            serde_json::from_value::<Snapshot>(value).expect("parses"),
            snapshot
        );
    }

    #[test]
    fn lists_single_objects_and_nothing() {
        assert!(parse_items("\n").expect("empty").is_empty());
        let one = parse_items(r#"{"kind": "ConfigMap", "apiVersion": "v1"}"#).expect("one");
        assert_eq!(one.len(), 1);
        let list = parse_items(r#"{"kind": "List", "items": [{"kind": "A"}, {"kind": "B"}]}"#)
            .expect("list");
        assert_eq!(list.len(), 2);
        assert!(parse_items("{").is_err());
    }

    #[test]
    fn restorable_drops_what_the_server_owns() {
        let live = json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "resourceVersion": "7", "uid": "u", "labels": {"a": "b"},
                         "creationTimestamp": "t", "generation": 2, "managedFields": []},
            "data": {"k": "v"},
            "status": {}
        });
        assert_eq!(
            restorable(&live),
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": "c", "labels": {"a": "b"}}, "data": {"k": "v"}})
        );
        let mut newer = live.clone();
        newer["metadata"]["resourceVersion"] = json!("9");
        assert!(same_content(&live, &newer));
        newer["data"]["k"] = json!("w");
        assert!(!same_content(&live, &newer));
    }

    #[test]
    fn redacted_values_are_found_anywhere() {
        assert!(holds_redacted(&json!({"data": {"k": "x[REDACTED]y"}})));
        assert!(holds_redacted(&json!([1, ["[REDACTED]"]])));
        assert!(!holds_redacted(&json!({"data": {"k": "v"}})));
    }
}
