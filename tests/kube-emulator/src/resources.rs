//! The registry of resource types the emulator serves.
//!
//! Every built-in kind the emulator knows is one static [`ResourceType`]: its group, version,
//! kind, plural and short names, whether it is namespaced and which subresources it has. The
//! discovery documents, the OpenAPI documents, the URL router and the store all read this one
//! table, so adding a kind is adding one entry here.

/// One served resource type, e.g. `deployments.apps/v1`.
#[derive(Debug, PartialEq, Eq)]
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

/// The groups in discovery order, each with its single served version.
pub(crate) fn groups() -> Vec<(&'static str, &'static str)> {
    let mut groups: Vec<(&'static str, &'static str)> = Vec::new();
    for resource in RESOURCES {
        if !resource.group.is_empty() && !groups.iter().any(|(group, _)| *group == resource.group) {
            groups.push((resource.group, resource.version));
        }
    }
    groups
}

/// The types served under `group`/`version`.
pub(crate) fn in_group_version<'a>(
    group: &'a str,
    version: &'a str,
) -> impl Iterator<Item = &'static ResourceType> + 'a {
    RESOURCES
        .iter()
        .filter(move |resource| resource.group == group && resource.version == version)
}

/// Looks a type up by group, version and plural.
pub(crate) fn by_plural(group: &str, version: &str, plural: &str) -> Option<&'static ResourceType> {
    in_group_version(group, version).find(|resource| resource.plural == plural)
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
    fn qualified_names() {
        let deployments = by_plural("apps", "v1", "deployments").expect("registered");
        assert_eq!(deployments.qualified_plural(), "deployments.apps");
        assert_eq!(deployments.qualified_kind(), "Deployment.apps");
        assert_eq!(deployments.group_version_path(), "/apis/apps/v1");
        assert_eq!(namespaces().api_version(), "v1");
    }
}
