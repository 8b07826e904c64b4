//! Discovery: `/version`, `/api`, `/apis`, `/apis/{group}` and the resource lists.
//!
//! The emulator serves legacy (unaggregated) discovery only. client-go asks `/api` and
//! `/apis` for aggregated discovery first (`Accept:
//! application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json`) and
//! falls back to the per-group-version resource lists when the answer's `Content-Type` is plain
//! `application/json` (`discovery.ContentTypeIsGVK` in client-go's `discovery_client.go`).

use crate::resources::{self, ResourceType};
use serde_json::{Value, json};

/// The Kubernetes version the emulator reports.
pub(crate) const KUBERNETES_VERSION: &str = "v1.33.0";

/// `/version`.
pub(crate) fn version() -> Value {
    json!({
        "major": "1",
        "minor": "33",
        "emulationMajor": "1",
        "emulationMinor": "33",
        "minCompatibilityMajor": "1",
        "minCompatibilityMinor": "32",
        "gitVersion": KUBERNETES_VERSION,
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2025-04-23T00:00:00Z",
        "goVersion": "go1.24.2",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}

/// `/api`.
pub(crate) fn core_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    })
}

fn group(name: &str, versions: &[&str]) -> Value {
    let listed: Vec<Value> = versions
        .iter()
        .map(|version| json!({"groupVersion": format!("{name}/{version}"), "version": version}))
        .collect();
    json!({
        "name": name,
        "preferredVersion": listed.first().cloned().unwrap_or_default(),
        "versions": listed,
    })
}

/// `/apis`.
pub(crate) fn groups(types: &[&'static ResourceType]) -> Value {
    let groups: Vec<Value> = resources::groups(types)
        .into_iter()
        .map(|(name, versions)| group(name, &versions))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `/apis/{group}`.
pub(crate) fn group_document(types: &[&'static ResourceType], name: &str) -> Option<Value> {
    let (name, versions) = resources::groups(types)
        .into_iter()
        .find(|(group, _)| *group == name)?;
    let mut document = group(name, &versions);
    document["kind"] = json!("APIGroup");
    document["apiVersion"] = json!("v1");
    Some(document)
}

fn verbs(resource: &ResourceType) -> Vec<&'static str> {
    let mut verbs = vec!["create", "delete"];
    if resource.kind != "Namespace" {
        verbs.push("deletecollection");
    }
    verbs.extend(["get", "list", "patch", "update", "watch"]);
    verbs
}

/// `/api/v1` and `/apis/{group}/{version}`, or `None` for an unknown group version.
pub(crate) fn resource_list(
    types: &[&'static ResourceType],
    group: &str,
    version: &str,
) -> Option<Value> {
    let mut list = Vec::new();
    for resource in resources::in_group_version(types, group, version) {
        let mut entry = json!({
            "name": resource.plural,
            "singularName": resource.singular,
            "namespaced": resource.namespaced,
            "kind": resource.kind,
            "verbs": verbs(resource),
            "storageVersionHash": crate::meta::safe_encode(crate::meta::fnv32a(resource.plural.as_bytes())),
        });
        if !resource.short_names.is_empty() {
            entry["shortNames"] = json!(resource.short_names);
        }
        if !resource.categories.is_empty() {
            entry["categories"] = json!(resource.categories);
        }
        list.push(entry);
        if resource.scale {
            list.push(json!({
                "name": format!("{}/scale", resource.plural),
                "singularName": "",
                "namespaced": resource.namespaced,
                "group": "autoscaling",
                "version": "v1",
                "kind": "Scale",
                "verbs": ["get", "patch", "update"],
            }));
        }
        if resource.kind == "Pod" {
            list.push(json!({
                "name": "pods/log",
                "singularName": "",
                "namespaced": true,
                "kind": "Pod",
                "verbs": ["get"],
            }));
        }
        if resource.status {
            list.push(json!({
                "name": format!("{}/status", resource.plural),
                "singularName": "",
                "namespaced": resource.namespaced,
                "kind": resource.kind,
                "verbs": ["get", "patch", "update"],
            }));
        }
    }
    if list.is_empty() {
        return None;
    }
    let group_version = if group.is_empty() {
        version.to_owned()
    } else {
        format!("{group}/{version}")
    };
    Some(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": list,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apps_lists_deployments_with_subresources() {
        let types: Vec<&'static ResourceType> = resources::RESOURCES.iter().collect();
        let list = resource_list(&types, "apps", "v1").expect("served");
        let names: Vec<&str> = list["resources"]
            .as_array()
            .expect("a list")
            .iter()
            .filter_map(|entry| entry["name"].as_str())
            .collect();
        assert!(names.contains(&"deployments"));
        assert!(names.contains(&"deployments/scale"));
        assert!(names.contains(&"deployments/status"));
        let deployments = &list["resources"][0];
        assert_eq!(deployments["shortNames"], json!(["deploy"]));
        assert!(resource_list(&types, "apps", "v2").is_none());
    }

    #[test]
    fn groups_have_preferred_versions() {
        let types: Vec<&'static ResourceType> = resources::RESOURCES.iter().collect();
        let groups = groups(&types);
        let apps = groups["groups"]
            .as_array()
            .expect("a list")
            .iter()
            .find(|group| group["name"] == "apps")
            .expect("apps is served");
        assert_eq!(apps["preferredVersion"]["groupVersion"], "apps/v1");
    }
}
