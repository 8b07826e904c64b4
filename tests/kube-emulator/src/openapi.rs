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
    resources::{self, ResourceType},
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

fn group_versions(types: &[&'static ResourceType]) -> Vec<(&'static str, &'static str)> {
    let mut versions = vec![("", "v1")];
    for (group, served) in resources::groups(types) {
        versions.extend(served.into_iter().map(|version| (group, version)));
    }
    versions
}

/// `/openapi/v3`: the index of group-version documents.
pub(crate) fn index(types: &[&'static ResourceType]) -> Value {
    let mut paths = Map::new();
    for (group, version) in group_versions(types) {
        let path = document_path(group, version);
        let hash = format!(
            "{:08X}",
            meta::fnv32a(
                document(types, group, version)
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
pub(crate) fn document_for_path(types: &[&'static ResourceType], path: &str) -> Option<Value> {
    group_versions(types)
        .into_iter()
        .find(|(group, version)| document_path(group, version) == path)
        .and_then(|(group, version)| document(types, group, version))
}

const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";

/// The `ObjectMeta` schema custom resource schemas refer to, with the fields clients set.
fn object_meta() -> Value {
    let string = |description: &str| json!({"type": "string", "description": description});
    let map = |description: &str| json!({"type": "object", "additionalProperties": {"type": "string", "default": ""}, "description": description});
    json!({
        "type": "object",
        "description": "ObjectMeta is metadata that all persisted resources must have, which includes all objects users must create.",
        "properties": {
            "name": string("Name must be unique within a namespace."),
            "generateName": string("GenerateName is an optional prefix, used by the server, to generate a unique name ONLY IF the Name field has not been provided."),
            "namespace": string("Namespace defines the space within which each name must be unique."),
            "labels": map("Map of string keys and values that can be used to organize and categorize (scope and select) objects."),
            "annotations": map("Annotations is an unstructured key value map stored with a resource that may be set by external tools to store and retrieve arbitrary metadata."),
            "uid": string("UID is the unique in time and space value for this object."),
            "resourceVersion": string("An opaque value that represents the internal version of this object."),
            "generation": {"type": "integer", "format": "int64", "description": "A sequence number representing a specific generation of the desired state."},
            "creationTimestamp": {"type": "string", "format": "date-time", "description": "CreationTimestamp is a timestamp representing the server time when this object was created."},
            "finalizers": {"type": "array", "items": {"type": "string", "default": ""}, "x-kubernetes-list-type": "set", "description": "Must be empty before the object is deleted from the registry."},
        },
    })
}

/// The component-schema name of a custom type: its group reversed, version and kind
/// (`com.bitnami.v1alpha1.SealedSecret`), as the real server names them.
fn schema_name(resource: &ResourceType) -> String {
    let mut parts: Vec<&str> = resource.group.split('.').rev().collect();
    parts.push(resource.version);
    parts.push(resource.kind);
    parts.join(".")
}

/// A custom type's schema: its definition's `openAPIV3Schema` with `apiVersion`, `kind`,
/// `metadata` (a reference to `ObjectMeta`; `allOf`-wrapped in v3, plain in v2) and its
/// `x-kubernetes-group-version-kind`.
fn custom_schema(resource: &ResourceType, schema: Option<&Value>, v3: bool) -> Value {
    let mut schema = schema
        .cloned()
        .filter(Value::is_object)
        .unwrap_or_else(|| json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}));
    let reference = if v3 {
        json!({"allOf": [{"$ref": format!("#/components/schemas/{OBJECT_META}")}], "description": "Standard object's metadata."})
    } else {
        json!({"$ref": format!("#/definitions/{OBJECT_META}"), "description": "Standard object's metadata."})
    };
    let properties = schema
        .as_object_mut()
        .expect("the schema was checked to be a map")
        .entry("properties")
        .or_insert_with(|| json!({}));
    if let Some(properties) = properties.as_object_mut() {
        properties.insert(
            "apiVersion".into(),
            json!({"type": "string", "description": "APIVersion defines the versioned schema of this representation of an object."}),
        );
        properties.insert(
            "kind".into(),
            json!({"type": "string", "description": "Kind is a string value representing the REST resource this object represents."}),
        );
        properties.insert("metadata".into(), reference);
    }
    schema["x-kubernetes-group-version-kind"] = json!([group_version_kind(resource)]);
    schema
}

fn schemas(types: &[&'static ResourceType], v3: bool) -> Map<String, Value> {
    let mut schemas = Map::new();
    for resource in types {
        if let Some(custom) = &resource.custom {
            schemas.insert(
                schema_name(resource),
                custom_schema(resource, custom.schema.as_ref(), v3),
            );
        }
    }
    if !schemas.is_empty() {
        schemas.insert(OBJECT_META.into(), object_meta());
    }
    schemas
}

/// The component schemas of `types` in the v2 form (`definitions`): one per custom type,
/// and `ObjectMeta` they refer to. Built-in kinds have none (see the module documentation).
pub(crate) fn component_schemas(types: &[&'static ResourceType]) -> Map<String, Value> {
    schemas(types, false)
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

/// The content types a patch operation of `resource` accepts: custom resources take no
/// strategic merge patch, and their documents say so (kubectl computes client-side-apply
/// patches as strategic ones when the document allows it).
pub(crate) fn patch_types(resource: &ResourceType) -> &'static [&'static str] {
    const BUILT_IN: &[&str] = &[
        "application/apply-patch+yaml",
        "application/json-patch+json",
        "application/merge-patch+json",
        "application/strategic-merge-patch+json",
    ];
    if resource.custom.is_some() {
        &BUILT_IN[..3]
    } else {
        BUILT_IN
    }
}

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
        RequestBody::Patch => patch_types(operation.resource),
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

fn document(types: &[&'static ResourceType], group: &str, version: &str) -> Option<Value> {
    let served: Vec<&'static ResourceType> =
        resources::in_group_version(types, group, version).collect();
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
        "components": {"schemas": schemas(&served, true)},
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_points_at_documents() {
        let types: Vec<&'static ResourceType> = resources::RESOURCES.iter().collect();
        let index = index(&types);
        let url = index["paths"]["apis/apps/v1"]["serverRelativeURL"]
            .as_str()
            .expect("listed");
        assert!(url.starts_with("/openapi/v3/apis/apps/v1?hash="));
        assert!(document_for_path(&types, "api/v1").is_some());
        assert!(document_for_path(&types, "apis/nope/v1").is_none());
    }

    #[test]
    fn patch_operations_advertise_field_validation() {
        let types: Vec<&'static ResourceType> = resources::RESOURCES.iter().collect();
        let document = document_for_path(&types, "apis/apps/v1").expect("served");
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
