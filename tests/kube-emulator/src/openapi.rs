//! OpenAPI v3 documents, as much of them as kubectl and helm read.
//!
//! The clients read OpenAPI for two things:
//!
//! - **Whether the server validates fields** (`fieldValidation`). kubectl's and helm's
//!   `Validator` asks `QueryParamVerifierV3`, which looks for a `PATCH` operation tagged with
//!   the kind's `x-kubernetes-group-version-kind` that lists a `fieldValidation` query
//!   parameter. When found, validation is left to the server; when the document is missing,
//!   kubectl fails with "failed to download openapi".
//! - **Patch metadata for client-side apply and diff.** kubectl's `Patcher` looks for a
//!   component schema carrying the kind's `x-kubernetes-group-version-kind`; when none does,
//!   it silently falls back to OpenAPI v2 and then to the patch metadata compiled into kubectl
//!   (`scheme.Scheme`), which is exactly the real types' `patchMergeKey`/`patchStrategy` tags.
//!
//! So each group-version document lists the real paths and operations with their parameters
//! and patch content types, and no component schemas. `/openapi/v2` answers `404`, which the
//! clients treat as "no v2 schema". Schema-based client-side validation and `kubectl explain`
//! are therefore unavailable.

use crate::{
    meta,
    resources::{self, RESOURCES, ResourceType},
};
use serde_json::{Map, Value, json};

/// The URL path (without `/openapi/v3/`) of a group version: `api/v1`, `apis/apps/v1`.
fn document_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

fn group_versions() -> Vec<(&'static str, &'static str)> {
    let mut versions = vec![("", "v1")];
    versions.extend(resources::groups());
    versions
}

/// `/openapi/v3`: the index of group-version documents.
pub(crate) fn index() -> Value {
    let mut paths = Map::new();
    for (group, version) in group_versions() {
        let path = document_path(group, version);
        let hash = format!(
            "{:08X}",
            meta::fnv32a(
                document(group, version)
                    .unwrap_or_default()
                    .to_string()
                    .as_bytes()
            )
        );
        paths.insert(
            path.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{path}?hash={hash}")}),
        );
    }
    json!({"paths": paths})
}

/// Finds the document for a path below `/openapi/v3/`.
pub(crate) fn document_for_path(path: &str) -> Option<Value> {
    group_versions()
        .into_iter()
        .find(|(group, version)| document_path(group, version) == path)
        .and_then(|(group, version)| document(group, version))
}

fn parameter(name: &str, kind: &str) -> Value {
    json!({"name": name, "in": "query", "schema": {"type": kind, "uniqueItems": true}})
}

fn operation_id(verb: &str, resource: &ResourceType, namespaced: bool) -> String {
    let group: String = if resource.group.is_empty() {
        "Core".into()
    } else {
        resource
            .group
            .split('.')
            .next()
            .unwrap_or_default()
            .chars()
            .enumerate()
            .map(|(index, c)| {
                if index == 0 {
                    c.to_ascii_uppercase()
                } else {
                    c
                }
            })
            .collect()
    };
    let version = resource.version.replacen('v', "V", 1);
    let scope = if namespaced { "Namespaced" } else { "" };
    format!("{verb}{group}{version}{scope}{}", resource.kind)
}

fn operation(verb: &str, action: &str, resource: &ResourceType, parameters: &[Value]) -> Value {
    let mut operation = json!({
        "operationId": operation_id(verb, resource, resource.namespaced),
        "parameters": parameters,
        "responses": {"200": {"description": "OK"}, "401": {"description": "Unauthorized"}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {
            "group": resource.group,
            "version": resource.version,
            "kind": resource.kind,
        },
    });
    if matches!(action, "patch" | "put" | "post") {
        let content: Map<String, Value> = if action == "patch" {
            [
                "application/apply-patch+yaml",
                "application/json-patch+json",
                "application/merge-patch+json",
                "application/strategic-merge-patch+json",
            ]
            .iter()
            .map(|media| ((*media).to_owned(), json!({"schema": {"type": "object"}})))
            .collect()
        } else {
            [(
                "application/json".to_owned(),
                json!({"schema": {"type": "object"}}),
            )]
            .into_iter()
            .collect()
        };
        operation["requestBody"] = json!({"content": content, "required": true});
    }
    operation
}

fn document(group: &str, version: &str) -> Option<Value> {
    let served: Vec<&ResourceType> = RESOURCES
        .iter()
        .filter(|resource| resource.group == group && resource.version == version)
        .collect();
    if served.is_empty() {
        return None;
    }
    let write = [
        parameter("dryRun", "string"),
        parameter("fieldManager", "string"),
        parameter("fieldValidation", "string"),
    ];
    let mut patch_parameters = write.to_vec();
    patch_parameters.push(parameter("force", "boolean"));
    let mut paths = Map::new();
    for resource in served {
        let collection = if resource.namespaced {
            format!(
                "{}/namespaces/{{namespace}}/{}",
                resource.group_version_path(),
                resource.plural
            )
        } else {
            format!("{}/{}", resource.group_version_path(), resource.plural)
        };
        paths.insert(
            collection.clone(),
            json!({
                "get": operation("list", "list", resource, &[parameter("labelSelector", "string"), parameter("fieldSelector", "string"), parameter("watch", "boolean")]),
                "post": operation("create", "post", resource, &write),
                "delete": operation("deletecollection", "deletecollection", resource, &[parameter("dryRun", "string")]),
            }),
        );
        let item = format!("{collection}/{{name}}");
        paths.insert(
            item.clone(),
            json!({
                "get": operation("read", "get", resource, &[]),
                "put": operation("replace", "put", resource, &write),
                "patch": operation("patch", "patch", resource, &patch_parameters),
                "delete": operation("delete", "delete", resource, &[parameter("dryRun", "string")]),
            }),
        );
        if resource.status {
            paths.insert(
                format!("{item}/status"),
                json!({
                    "get": operation("readStatus", "get", resource, &[]),
                    "put": operation("replaceStatus", "put", resource, &write),
                    "patch": operation("patchStatus", "patch", resource, &patch_parameters),
                }),
            );
        }
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": crate::discovery::KUBERNETES_VERSION},
        "paths": paths,
        "components": {"schemas": {}},
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_points_at_documents() {
        let index = index();
        let url = index["paths"]["apis/apps/v1"]["serverRelativeURL"]
            .as_str()
            .expect("listed");
        assert!(url.starts_with("/openapi/v3/apis/apps/v1?hash="));
        assert!(document_for_path("api/v1").is_some());
        assert!(document_for_path("apis/nope/v1").is_none());
    }

    #[test]
    fn patch_operations_advertise_field_validation() {
        let document = document_for_path("apis/apps/v1").expect("served");
        let patch =
            &document["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
        assert_eq!(
            patch["x-kubernetes-group-version-kind"]["kind"],
            "Deployment"
        );
        assert!(
            patch["parameters"]
                .as_array()
                .expect("a list")
                .iter()
                .any(|parameter| parameter["name"] == "fieldValidation")
        );
        assert_eq!(patch["operationId"], "patchAppsV1NamespacedDeployment");
    }
}
