//! OpenAPI v3 documents, as much of them as kubectl and helm read.
//!
//! The clients read OpenAPI for two things:
//!
//! - **Whether the server validates fields** (`fieldValidation`). kubectl's and helm's
//!   `Validator` asks `QueryParamVerifierV3`, which looks for a `PATCH` operation tagged with
//!   the kind's `x-kubernetes-group-version-kind` that lists a `fieldValidation` query
//!   parameter. When found, validation is left to the server; when the kind is missing from
//!   its group-version document, the check falls back to `/openapi/v2`, and kubectl fails
//!   with "failed to download openapi" if that fails too. So every served kind is listed.
//! - **Patch metadata for client-side apply and diff.** kubectl's `Patcher` looks for a
//!   component schema carrying the kind's `x-kubernetes-group-version-kind`; when none does,
//!   it silently falls back to OpenAPI v2 and then to the patch metadata compiled into kubectl
//!   (`scheme.Scheme`), which is exactly the real types' `patchMergeKey`/`patchStrategy` tags.
//!
//! So each group-version document lists the real paths and operations with their parameters
//! and patch content types, and no component schemas for the built-in kinds: a schema there
//! would replace kubectl's compiled-in merge metadata, so it would have to carry every
//! `x-kubernetes-patch-merge-key` of the real types. `kubectl explain` of built-in kinds is
//! therefore unavailable. [`crate::openapi_v2`] renders the same paths as Swagger 2.0.

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

/// What an operation's request body is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RequestBody {
    /// No body.
    None,
    /// A whole object (`POST`, `PUT`).
    Object,
    /// A patch, in the four patch content types.
    Patch,
}

/// The content types a patch operation accepts.
pub(crate) const PATCH_TYPES: &[&str] = &[
    "application/apply-patch+yaml",
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
];

/// One operation of a served path, rendered by both the v3 and the v2 documents.
#[derive(Debug)]
pub(crate) struct Operation {
    /// The HTTP method, lowercase (`get`, `patch`).
    pub(crate) method: &'static str,
    /// e.g. `patchAppsV1NamespacedDeployment`.
    pub(crate) id: String,
    /// `x-kubernetes-action`.
    pub(crate) action: &'static str,
    /// Query parameters: name and type.
    pub(crate) parameters: Vec<(&'static str, &'static str)>,
    /// The request body.
    pub(crate) body: RequestBody,
    /// The type, for `x-kubernetes-group-version-kind`.
    pub(crate) resource: &'static ResourceType,
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

const WRITE: &[(&str, &str)] = &[
    ("dryRun", "string"),
    ("fieldManager", "string"),
    ("fieldValidation", "string"),
];

/// The served paths of `types`, each with its operations, in a stable order.
pub(crate) fn paths(types: &[&'static ResourceType]) -> Vec<(String, Vec<Operation>)> {
    let operation = |method,
                     verb: &str,
                     action,
                     parameters: &[(&'static str, &'static str)],
                     body,
                     resource: &'static ResourceType| Operation {
        method,
        id: operation_id(verb, resource, resource.namespaced),
        action,
        parameters: parameters.to_vec(),
        body,
        resource,
    };
    let mut patch_parameters = WRITE.to_vec();
    patch_parameters.push(("force", "boolean"));
    let list = [
        ("labelSelector", "string"),
        ("fieldSelector", "string"),
        ("watch", "boolean"),
    ];
    let mut paths = Vec::new();
    for &resource in types {
        let collection = if resource.namespaced {
            format!(
                "{}/namespaces/{{namespace}}/{}",
                resource.group_version_path(),
                resource.plural
            )
        } else {
            format!("{}/{}", resource.group_version_path(), resource.plural)
        };
        let item = format!("{collection}/{{name}}");
        paths.push((
            collection,
            vec![
                operation("get", "list", "list", &list, RequestBody::None, resource),
                operation(
                    "post",
                    "create",
                    "post",
                    WRITE,
                    RequestBody::Object,
                    resource,
                ),
                operation(
                    "delete",
                    "deletecollection",
                    "deletecollection",
                    &[("dryRun", "string")],
                    RequestBody::None,
                    resource,
                ),
            ],
        ));
        paths.push((
            item.clone(),
            vec![
                operation("get", "read", "get", &[], RequestBody::None, resource),
                operation(
                    "put",
                    "replace",
                    "put",
                    WRITE,
                    RequestBody::Object,
                    resource,
                ),
                operation(
                    "patch",
                    "patch",
                    "patch",
                    &patch_parameters,
                    RequestBody::Patch,
                    resource,
                ),
                operation(
                    "delete",
                    "delete",
                    "delete",
                    &[("dryRun", "string")],
                    RequestBody::None,
                    resource,
                ),
            ],
        ));
        if resource.status {
            paths.push((
                format!("{item}/status"),
                vec![
                    operation("get", "readStatus", "get", &[], RequestBody::None, resource),
                    operation(
                        "put",
                        "replaceStatus",
                        "put",
                        WRITE,
                        RequestBody::Object,
                        resource,
                    ),
                    operation(
                        "patch",
                        "patchStatus",
                        "patch",
                        &patch_parameters,
                        RequestBody::Patch,
                        resource,
                    ),
                ],
            ));
        }
    }
    paths
}

/// `x-kubernetes-group-version-kind` of a type.
pub(crate) fn group_version_kind(resource: &ResourceType) -> Value {
    json!({"group": resource.group, "version": resource.version, "kind": resource.kind})
}

fn render_v3(operation: &Operation) -> Value {
    let parameters: Vec<Value> = operation
        .parameters
        .iter()
        .map(|(name, kind)| json!({"name": name, "in": "query", "schema": {"type": kind, "uniqueItems": true}}))
        .collect();
    let mut rendered = json!({
        "operationId": operation.id,
        "parameters": parameters,
        "responses": {"200": {"description": "OK"}, "401": {"description": "Unauthorized"}},
        "x-kubernetes-action": operation.action,
        "x-kubernetes-group-version-kind": group_version_kind(operation.resource),
    });
    let media: &[&str] = match operation.body {
        RequestBody::None => &[],
        RequestBody::Object => &["application/json"],
        RequestBody::Patch => PATCH_TYPES,
    };
    if !media.is_empty() {
        let content: Map<String, Value> = media
            .iter()
            .map(|media| ((*media).to_owned(), json!({"schema": {"type": "object"}})))
            .collect();
        rendered["requestBody"] = json!({"content": content, "required": true});
    }
    rendered
}

fn document(group: &str, version: &str) -> Option<Value> {
    let served: Vec<&'static ResourceType> = RESOURCES
        .iter()
        .filter(|resource| resource.group == group && resource.version == version)
        .collect();
    if served.is_empty() {
        return None;
    }
    let mut rendered = Map::new();
    for (path, operations) in paths(&served) {
        let item: Map<String, Value> = operations
            .iter()
            .map(|operation| (operation.method.to_owned(), render_v3(operation)))
            .collect();
        rendered.insert(path, Value::Object(item));
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": crate::discovery::KUBERNETES_VERSION},
        "paths": rendered,
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
