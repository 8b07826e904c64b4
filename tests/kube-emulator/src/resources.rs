//! The registry of resource types the emulator serves.
//!
//! Every built-in kind the emulator knows is one static [`ResourceType`]: its group, version,
//! kind, plural and short names, whether it is namespaced and which subresources it has. The
//! discovery documents, the OpenAPI documents, the URL router and the store all read this one
//! table, so adding a kind is adding one entry here.
//!
//! Custom resources join the table at run time: every served version of a stored
//! CustomResourceDefinition becomes a [`ResourceType`] too ([`from_definition`]), with the
//! CRD's schema and printer columns in [`ResourceType::custom`]. The store keeps the current
//! list ([`crate::store::Store::resource_types`]). Types are `'static` so that every part of
//! the emulator can hold them freely; custom ones are leaked, but interned, so a process
//! leaks one small value per distinct definition it ever saw, however often it is re-created.

use serde_json::{Value, json};
use std::sync::Mutex;

/// One served resource type, e.g. `deployments.apps/v1`.
#[derive(Debug, PartialEq)]
pub(crate) struct ResourceType {
    /// API group; empty for the core group.
    pub(crate) group: &'static str,
    /// The single served version.
    pub(crate) version: &'static str,
    /// Kind, e.g. `Deployment`.
    pub(crate) kind: &'static str,
    /// Lowercase plural, used in URLs, e.g. `deployments`.
    pub(crate) plural: &'static str,
    /// Lowercase singular, e.g. `deployment`.
    pub(crate) singular: &'static str,
    /// Whether objects live in a namespace.
    pub(crate) namespaced: bool,
    /// Short names kubectl accepts, e.g. `deploy`.
    pub(crate) short_names: &'static [&'static str],
    /// Categories, e.g. `all`.
    pub(crate) categories: &'static [&'static str],
    /// Whether the type has a `status` subresource (status is then ignored on main-resource
    /// writes, like the real API server).
    pub(crate) status: bool,
    /// Whether the type has a `scale` subresource.
    pub(crate) scale: bool,
    /// Whether `metadata.generation` is tracked (bumped on spec changes).
    pub(crate) generation: bool,
    /// For custom resources, what their definition says beyond the names.
    pub(crate) custom: Option<Custom>,
}

/// What a CustomResourceDefinition declares for one served version.
#[derive(Debug, PartialEq)]
pub(crate) struct Custom {
    /// The version's `schema.openAPIV3Schema`, if it has one.
    pub(crate) schema: Option<Value>,
    /// The version's `additionalPrinterColumns`.
    pub(crate) columns: Vec<PrinterColumn>,
}

/// One of a CRD's `additionalPrinterColumns`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct PrinterColumn {
    /// The column's name, e.g. `Synced`.
    pub(crate) name: String,
    /// Its type: `string`, `integer`, `number`, `boolean` or `date`.
    pub(crate) kind: String,
    /// The JSONPath of the value, e.g. `.status.conditions[0].status`.
    pub(crate) json_path: String,
    /// Its priority (0 in the default output, higher for `-o wide`).
    pub(crate) priority: i64,
    /// Its description.
    pub(crate) description: String,
}

impl ResourceType {
    /// `group/version`, or `version` for the core group.
    pub(crate) fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_owned()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The resource name used in error messages: `deployments.apps` or `configmaps`.
    pub(crate) fn qualified_plural(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_owned()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// The kind name used in `Invalid` messages: `Deployment.apps` or `ConfigMap`.
    pub(crate) fn qualified_kind(&self) -> String {
        if self.group.is_empty() {
            self.kind.to_owned()
        } else {
            format!("{}.{}", self.kind, self.group)
        }
    }

    /// The URL prefix of this type's group version: `/api/v1` or `/apis/apps/v1`.
    pub(crate) fn group_version_path(&self) -> String {
        if self.group.is_empty() {
            format!("/api/{}", self.version)
        } else {
            format!("/apis/{}/{}", self.group, self.version)
        }
    }
}

const ALL: &[&str] = &["all"];
const NONE: &[&str] = &[];
const API_EXTENSIONS: &[&str] = &["api-extensions"];

macro_rules! resource {
    ($group:literal, $version:literal, $kind:literal, $plural:literal, $singular:literal,
     namespaced: $namespaced:literal, short: $short:expr, categories: $categories:expr,
     status: $status:literal, scale: $scale:literal, generation: $generation:literal) => {
        ResourceType {
            group: $group,
            version: $version,
            kind: $kind,
            plural: $plural,
            singular: $singular,
            namespaced: $namespaced,
            short_names: $short,
            categories: $categories,
            status: $status,
            scale: $scale,
            generation: $generation,
            custom: None,
        }
    };
}

/// Every served resource type, grouped by group version in discovery order.
pub(crate) static RESOURCES: &[ResourceType] = &[
    resource!("", "v1", "Namespace", "namespaces", "namespace", namespaced: false, short: &["ns"], categories: NONE, status: true, scale: false, generation: false),
    resource!("", "v1", "ConfigMap", "configmaps", "configmap", namespaced: true, short: &["cm"], categories: NONE, status: false, scale: false, generation: false),
    resource!("", "v1", "Secret", "secrets", "secret", namespaced: true, short: NONE, categories: NONE, status: false, scale: false, generation: false),
    resource!("", "v1", "Service", "services", "service", namespaced: true, short: &["svc"], categories: ALL, status: true, scale: false, generation: false),
    resource!("", "v1", "ServiceAccount", "serviceaccounts", "serviceaccount", namespaced: true, short: &["sa"], categories: NONE, status: false, scale: false, generation: false),
    resource!("", "v1", "Pod", "pods", "pod", namespaced: true, short: &["po"], categories: ALL, status: true, scale: false, generation: false),
    resource!("", "v1", "Event", "events", "event", namespaced: true, short: &["ev"], categories: NONE, status: false, scale: false, generation: false),
    resource!("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", "persistentvolumeclaim", namespaced: true, short: &["pvc"], categories: NONE, status: true, scale: false, generation: false),
    resource!("apps", "v1", "Deployment", "deployments", "deployment", namespaced: true, short: &["deploy"], categories: ALL, status: true, scale: true, generation: true),
    resource!("apps", "v1", "ReplicaSet", "replicasets", "replicaset", namespaced: true, short: &["rs"], categories: ALL, status: true, scale: true, generation: true),
    resource!("apps", "v1", "StatefulSet", "statefulsets", "statefulset", namespaced: true, short: &["sts"], categories: ALL, status: true, scale: true, generation: true),
    resource!("apps", "v1", "DaemonSet", "daemonsets", "daemonset", namespaced: true, short: &["ds"], categories: ALL, status: true, scale: false, generation: true),
    resource!("batch", "v1", "Job", "jobs", "job", namespaced: true, short: NONE, categories: ALL, status: true, scale: false, generation: true),
    resource!("batch", "v1", "CronJob", "cronjobs", "cronjob", namespaced: true, short: &["cj"], categories: ALL, status: true, scale: false, generation: true),
    resource!("networking.k8s.io", "v1", "Ingress", "ingresses", "ingress", namespaced: true, short: &["ing"], categories: NONE, status: true, scale: false, generation: true),
    resource!("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", "networkpolicy", namespaced: true, short: &["netpol"], categories: NONE, status: false, scale: false, generation: true),
    resource!("networking.k8s.io", "v1", "IngressClass", "ingressclasses", "ingressclass", namespaced: false, short: NONE, categories: NONE, status: false, scale: false, generation: true),
    resource!("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", "horizontalpodautoscaler", namespaced: true, short: &["hpa"], categories: ALL, status: true, scale: false, generation: false),
    resource!("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", "poddisruptionbudget", namespaced: true, short: &["pdb"], categories: NONE, status: true, scale: false, generation: true),
    resource!("rbac.authorization.k8s.io", "v1", "Role", "roles", "role", namespaced: true, short: NONE, categories: NONE, status: false, scale: false, generation: false),
    resource!("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", "rolebinding", namespaced: true, short: NONE, categories: NONE, status: false, scale: false, generation: false),
    resource!("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", "clusterrole", namespaced: false, short: NONE, categories: NONE, status: false, scale: false, generation: false),
    resource!("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", "clusterrolebinding", namespaced: false, short: NONE, categories: NONE, status: false, scale: false, generation: false),
    resource!("admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration", "validatingwebhookconfigurations", "validatingwebhookconfiguration", namespaced: false, short: NONE, categories: API_EXTENSIONS, status: false, scale: false, generation: true),
    resource!("admissionregistration.k8s.io", "v1", "MutatingWebhookConfiguration", "mutatingwebhookconfigurations", "mutatingwebhookconfiguration", namespaced: false, short: NONE, categories: API_EXTENSIONS, status: false, scale: false, generation: true),
    resource!("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", "customresourcedefinition", namespaced: false, short: &["crd", "crds"], categories: API_EXTENSIONS, status: true, scale: false, generation: true),
];

/// Orders versions the way the API server prefers them (`version.CompareKubeAwareVersionStrings`):
/// GA before beta before alpha, higher numbers first, then anything else alphabetically.
fn version_priority(version: &str) -> (u8, i64, i64, String) {
    let parsed = version.strip_prefix('v').and_then(|rest| {
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        let major: i64 = digits.parse().ok()?;
        let tail = &rest[digits.len()..];
        if tail.is_empty() {
            return Some((0, -major, 0));
        }
        for (rank, stage) in [(1, "beta"), (2, "alpha")] {
            if let Some(number) = tail.strip_prefix(stage)
                && let Ok(minor) = number.parse::<i64>()
            {
                return Some((rank, -major, -minor));
            }
        }
        None
    });
    match parsed {
        Some((rank, major, minor)) => (rank, major, minor, String::new()),
        None => (3, 0, 0, version.to_owned()),
    }
}

/// The groups among `types` in discovery order, each with its served versions, preferred
/// first.
pub(crate) fn groups(types: &[&'static ResourceType]) -> Vec<(&'static str, Vec<&'static str>)> {
    let mut groups: Vec<(&'static str, Vec<&'static str>)> = Vec::new();
    for resource in types.iter().filter(|resource| !resource.group.is_empty()) {
        match groups
            .iter_mut()
            .find(|(group, _)| *group == resource.group)
        {
            Some((_, versions)) if !versions.contains(&resource.version) => {
                versions.push(resource.version);
            }
            Some(_) => {}
            None => groups.push((resource.group, vec![resource.version])),
        }
    }
    for (_, versions) in &mut groups {
        versions.sort_by_key(|version| version_priority(version));
    }
    groups
}

/// The types among `types` served under `group`/`version`.
pub(crate) fn in_group_version<'a>(
    types: &'a [&'static ResourceType],
    group: &'a str,
    version: &'a str,
) -> impl Iterator<Item = &'static ResourceType> + 'a {
    types
        .iter()
        .copied()
        .filter(move |resource| resource.group == group && resource.version == version)
}

/// Looks a type up among `types` by group, version and plural.
pub(crate) fn find(
    types: &[&'static ResourceType],
    group: &str,
    version: &str,
    plural: &str,
) -> Option<&'static ResourceType> {
    in_group_version(types, group, version).find(|resource| resource.plural == plural)
}

fn leak(text: &str) -> &'static str {
    Box::leak(text.to_owned().into_boxed_str())
}

fn leak_list(value: Option<&Value>) -> &'static [&'static str] {
    let list: Vec<&'static str> = value
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(leak)
        .collect();
    if list.is_empty() {
        NONE
    } else {
        Box::leak(list.into_boxed_slice())
    }
}

/// Every custom type ever derived, so equal definitions share one leaked value.
static INTERNED: Mutex<Vec<(Value, &'static ResourceType)>> = Mutex::new(Vec::new());

/// The served types a CustomResourceDefinition declares: one per version with `served:
/// true`, the storage version first. A definition without group, names or versions declares
/// none.
pub(crate) fn from_definition(definition: &Value) -> Vec<&'static ResourceType> {
    let text = |pointer: &str| {
        definition
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_default()
    };
    let (group, kind, plural) = (
        text("/spec/group"),
        text("/spec/names/kind"),
        text("/spec/names/plural"),
    );
    if group.is_empty() || kind.is_empty() || plural.is_empty() {
        return Vec::new();
    }
    let singular = match text("/spec/names/singular") {
        "" => kind.to_ascii_lowercase(),
        singular => singular.to_owned(),
    };
    let mut versions: Vec<&Value> = definition
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|version| version["served"] == true)
        .collect();
    versions.sort_by_key(|version| version["storage"] != true);
    let mut interned = INTERNED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    versions
        .into_iter()
        .filter_map(|version| {
            let name = version["name"].as_str().filter(|name| !name.is_empty())?;
            let columns = version
                .get("additionalPrinterColumns")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|column| PrinterColumn {
                    name: column["name"].as_str().unwrap_or_default().to_owned(),
                    kind: column["type"].as_str().unwrap_or("string").to_owned(),
                    json_path: column["jsonPath"].as_str().unwrap_or_default().to_owned(),
                    priority: column["priority"].as_i64().unwrap_or_default(),
                    description: column["description"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                })
                .collect();
            let namespaced = definition.pointer("/spec/scope") == Some(&json!("Namespaced"));
            let names = definition.pointer("/spec/names");
            let fingerprint = json!([group, name, names, namespaced, version]);
            if let Some((_, existing)) = interned.iter().find(|(key, _)| *key == fingerprint) {
                return Some(*existing);
            }
            let resource: &'static ResourceType = Box::leak(Box::new(ResourceType {
                group: leak(group),
                version: leak(name),
                kind: leak(kind),
                plural: leak(plural),
                singular: leak(&singular),
                namespaced,
                short_names: leak_list(definition.pointer("/spec/names/shortNames")),
                categories: leak_list(definition.pointer("/spec/names/categories")),
                status: version.pointer("/subresources/status").is_some(),
                scale: false,
                generation: true,
                custom: Some(Custom {
                    schema: version.pointer("/schema/openAPIV3Schema").cloned(),
                    columns,
                }),
            }));
            interned.push((fingerprint, resource));
            Some(resource)
        })
        .collect()
}

/// Looks a type up by group, version and plural.
pub(crate) fn by_plural(group: &str, version: &str, plural: &str) -> Option<&'static ResourceType> {
    RESOURCES.iter().find(|resource| {
        resource.group == group && resource.version == version && resource.plural == plural
    })
}

/// The Namespace type, which the store consults on every namespaced create.
pub(crate) fn namespaces() -> &'static ResourceType {
    by_plural("", "v1", "namespaces").expect("namespaces are always registered")
}

/// Looks up a type known to be registered; used by the controller for its own kinds.
pub(crate) fn known(group: &str, plural: &str) -> &'static ResourceType {
    RESOURCES
        .iter()
        .find(|resource| resource.group == group && resource.plural == plural)
        .expect("the controller only names registered resource types")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_per_group() {
        for (index, resource) in RESOURCES.iter().enumerate() {
            for other in &RESOURCES[index + 1..] {
                assert!(
                    resource.group != other.group || resource.plural != other.plural,
                    "duplicate {}",
                    resource.plural
                );
            }
        }
    }

    #[test]
    fn versions_are_ordered_like_the_api_server() {
        let mut versions = vec![
            "v1alpha1",
            "foo",
            "v1beta2",
            "v2",
            "v1",
            "v1beta1",
            "v10alpha3",
        ];
        versions.sort_by_key(|version| version_priority(version));
        assert_eq!(
            versions,
            [
                "v2",
                "v1",
                "v1beta2",
                "v1beta1",
                "v10alpha3",
                "v1alpha1",
                "foo"
            ]
        );
    }

    #[test]
    fn definitions_serve_their_served_versions_storage_first() {
        let definition = json!({
            "spec": {
                "group": "rules.example.com",
                "scope": "Cluster",
                "names": {"kind": "Policy", "plural": "policies", "shortNames": ["pol"]},
                "versions": [
                    {"name": "v1beta1", "served": true, "storage": false},
                    {"name": "v1alpha1", "served": false, "storage": false},
                    {"name": "v1", "served": true, "storage": true, "subresources": {"status": {}}},
                ],
            },
        });
        let types = from_definition(&definition);
        let versions: Vec<&str> = types.iter().map(|resource| resource.version).collect();
        assert_eq!(versions, ["v1", "v1beta1"]);
        assert_eq!(types[0].singular, "policy");
        assert_eq!(types[0].short_names, ["pol"]);
        assert!(!types[0].namespaced && types[0].status && !types[1].status);
        // The same definition again yields the same interned types.
        assert!(std::ptr::eq(types[0], from_definition(&definition)[0]));
        assert!(from_definition(&json!({"spec": {"group": "x"}})).is_empty());
    }

    #[test]
    fn qualified_names() {
        let deployments = by_plural("apps", "v1", "deployments").expect("registered");
        assert_eq!(deployments.qualified_plural(), "deployments.apps");
        assert_eq!(deployments.qualified_kind(), "Deployment.apps");
        assert_eq!(deployments.group_version_path(), "/apis/apps/v1");
        assert_eq!(namespaces().api_version(), "v1");
    }
}
