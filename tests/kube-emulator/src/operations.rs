//! The API verbs: create, update, patch, delete, get and list, with the real server's
//! semantics.
//!
//! Every write goes through one pipeline: server-owned metadata is carried over, status is
//! kept or taken depending on the subresource, defaults are filled, the object is validated,
//! `generation` is bumped on spec changes, `managedFields` are updated, and a write that
//! changes nothing is not stored (no new resource version), exactly like the real server.
//! `dryRun=All` runs the whole pipeline and stores nothing.

use crate::{
    defaults,
    errors::ApiError,
    meta,
    patch::{
        self,
        apply::ApplyRequest,
        fieldset::{Writer, record_update},
    },
    resources::{self, ResourceType},
    store::Store,
    validation,
};
use serde_json::{Map, Value, json};

/// Which part of an object a request addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Subresource {
    /// The object itself (status changes are ignored for types with a status subresource).
    Main,
    /// `/status`: only status changes are kept.
    Status,
    /// `/scale`: an `autoscaling/v1` `Scale` view of `spec.replicas`.
    Scale,
}

/// Options common to every write.
#[derive(Debug, Clone)]
pub(crate) struct WriteOptions {
    /// The field manager (the `fieldManager` parameter or the user agent's program name).
    pub(crate) manager: String,
    /// `dryRun=All`.
    pub(crate) dry_run: bool,
    /// The addressed subresource.
    pub(crate) subresource: Subresource,
    /// `fieldValidation=Strict`: unknown fields of custom objects fail the write instead of
    /// being pruned.
    pub(crate) strict: bool,
}

/// The four patch content types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PatchType {
    /// `application/json-patch+json`.
    Json,
    /// `application/merge-patch+json`.
    Merge,
    /// `application/strategic-merge-patch+json`.
    Strategic,
    /// `application/apply-patch+yaml`, with `force`.
    Apply {
        /// Whether conflicts are overridden.
        force: bool,
    },
}

/// How a delete treats dependents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Propagation {
    /// Delete dependents (immediately; the real garbage collector does it shortly after).
    Background,
    /// Delete dependents first (same observable result here).
    Foreground,
    /// Keep dependents and drop their owner references.
    Orphan,
}

/// A delete request's options.
#[derive(Debug, Clone)]
pub(crate) struct DeleteOptions {
    /// `dryRun=All`.
    pub(crate) dry_run: bool,
    /// Dependent handling.
    pub(crate) propagation: Propagation,
    /// `preconditions.uid`.
    pub(crate) uid: Option<String>,
    /// `preconditions.resourceVersion`.
    pub(crate) resource_version: Option<String>,
}

fn namespace_key(resource: &ResourceType, namespace: Option<&str>) -> String {
    if resource.namespaced {
        namespace.unwrap_or_default().to_owned()
    } else {
        String::new()
    }
}

fn check_type(resource: &ResourceType, object: &Value) -> Result<(), ApiError> {
    let api_version = object.get("apiVersion").and_then(Value::as_str);
    let kind = object.get("kind").and_then(Value::as_str);
    if let Some(kind) = kind
        && kind != resource.kind
    {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({}) does not match the expected API version ({})",
            api_version.map_or_else(|| kind.to_owned(), |v| format!("{v}, Kind={kind}")),
            format_args!("{}, Kind={}", resource.api_version(), resource.kind),
        )));
    }
    if let Some(api_version) = api_version
        && api_version != resource.api_version()
    {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({api_version}) does not match the expected API version ({})",
            resource.api_version()
        )));
    }
    if !object.is_object() {
        return Err(ApiError::bad_request(
            "the body of the request is not a JSON object",
        ));
    }
    Ok(())
}

fn set_type(resource: &ResourceType, object: &mut Value) {
    if let Some(map) = object.as_object_mut() {
        map.insert("apiVersion".into(), Value::String(resource.api_version()));
        map.insert("kind".into(), Value::String(resource.kind.to_owned()));
    }
}

fn require_namespace(
    store: &Store,
    resource: &ResourceType,
    namespace: &str,
) -> Result<(), ApiError> {
    if resource.namespaced && store.get(resources::namespaces(), "", namespace).is_none() {
        return Err(ApiError::not_found(resources::namespaces(), namespace));
    }
    Ok(())
}

fn spec_of(object: &Value) -> Value {
    let mut copy = object.clone();
    if let Some(map) = copy.as_object_mut() {
        map.remove("metadata");
        map.remove("status");
    }
    copy
}

/// Drops `null` members of maps, as decoding into the real server's typed objects does
/// (`"creationTimestamp": null` in a pod template that kubectl sends back on `rollout undo`
/// must not make the template differ).
fn drop_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, member| !member.is_null());
            map.values_mut().for_each(drop_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

/// Strips `managedFields` timestamps, to tell real changes from no-op writes.
fn comparable(object: &Value) -> Value {
    let mut copy = object.clone();
    if let Some(Value::Array(entries)) = copy.pointer_mut("/metadata/managedFields") {
        for entry in entries {
            if let Some(map) = entry.as_object_mut() {
                map.remove("time");
            }
        }
    }
    copy
}

/// Prunes a custom object by its schema, or, with `fieldValidation=Strict`, refuses it when
/// it has fields the schema does not declare (in the real server's words for a decoded body
/// and for an apply configuration).
fn prune_custom(
    resource: &ResourceType,
    object: &mut Value,
    options: &WriteOptions,
    applied: bool,
) -> Result<(), ApiError> {
    let Some(schema) = resource
        .custom
        .as_ref()
        .and_then(|custom| custom.schema.as_ref())
    else {
        return Ok(());
    };
    let unknown = crate::structural::prune(object, schema);
    if !options.strict || unknown.is_empty() {
        return Ok(());
    }
    let kind = resource.kind;
    let message = if applied {
        let fields: Vec<String> = unknown
            .iter()
            .map(|field| format!(".{field}: field not declared in schema"))
            .collect();
        let fields = if let [field] = fields.as_slice() {
            field.clone()
        } else {
            format!("errors:\n  {}", fields.join("\n  "))
        };
        format!(
            "failed to create typed patch object ({}, Kind={kind}): {fields}",
            resource.api_version()
        )
    } else {
        let fields: Vec<String> = unknown
            .iter()
            .map(|field| format!("unknown field \"{field}\""))
            .collect();
        format!(
            "{kind} in version \"{}\" cannot be handled as a {kind}: strict decoding error: {}",
            resource.version,
            fields.join(", ")
        )
    };
    Err(ApiError::bad_request(message))
}

/// `GET` of one object.
pub(crate) fn get(
    store: &Store,
    resource: &ResourceType,
    namespace: Option<&str>,
    name: &str,
) -> Result<Value, ApiError> {
    let mut object = store
        .get(resource, &namespace_key(resource, namespace), name)
        .cloned()
        .ok_or_else(|| ApiError::not_found(resource, name))?;
    set_type(resource, &mut object);
    Ok(object)
}

/// `POST` to a collection.
pub(crate) fn create(
    store: &mut Store,
    resource: &'static ResourceType,
    namespace: Option<&str>,
    mut object: Value,
    options: &WriteOptions,
    applied: bool,
) -> Result<Value, ApiError> {
    check_type(resource, &object)?;
    drop_nulls(&mut object);
    prune_custom(resource, &mut object, options, applied)?;
    let namespace = namespace_key(resource, namespace);
    {
        let body_namespace = meta::namespace_of(&object);
        if resource.namespaced && !body_namespace.is_empty() && body_namespace != namespace {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
    }
    set_type(resource, &mut object);
    let metadata = meta::metadata_mut(&mut object);
    if metadata
        .get("name")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
        && let Some(prefix) = metadata.get("generateName").and_then(Value::as_str)
    {
        let name = format!("{prefix}{}", meta::random_suffix(5));
        metadata.insert("name".into(), Value::String(name));
    }
    for field in [
        "resourceVersion",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "selfLink",
    ] {
        metadata.remove(field);
    }
    if resource.namespaced {
        metadata.insert("namespace".into(), Value::String(namespace.clone()));
    } else {
        metadata.remove("namespace");
    }
    metadata.insert("uid".into(), Value::String(meta::new_uid()));
    metadata.insert(
        "creationTimestamp".into(),
        Value::String(meta::now_rfc3339()),
    );
    if resource.generation {
        metadata.insert("generation".into(), json!(1));
    } else {
        metadata.remove("generation");
    }
    if !applied {
        metadata.remove("managedFields");
    }
    if resource.status
        && let Some(map) = object.as_object_mut()
    {
        map.remove("status");
    }
    let name = meta::name_of(&object).to_owned();
    require_namespace(store, resource, &namespace)?;
    if store.get(resource, &namespace, &name).is_some() {
        return Err(ApiError::already_exists(resource, &name));
    }
    defaults::apply(resource, &mut object, None, &mut || {
        store.allocate_cluster_ip()
    });
    validation::validate(resource, &object, None)?;
    if !applied {
        let api_version = resource.api_version();
        record_update(
            None,
            &mut object,
            resource.kind,
            &writer(&api_version, options),
        );
    }
    if options.dry_run {
        return Ok(object);
    }
    Ok(store.put(resource, object))
}

fn writer<'a>(api_version: &'a str, options: &'a WriteOptions) -> Writer<'a> {
    Writer {
        manager: &options.manager,
        api_version,
        subresource: match options.subresource {
            Subresource::Main => None,
            Subresource::Status => Some("status"),
            Subresource::Scale => Some("scale"),
        },
    }
}

/// `PUT` of one object (also the last step of every patch).
pub(crate) fn update(
    store: &mut Store,
    resource: &'static ResourceType,
    namespace: Option<&str>,
    name: &str,
    mut object: Value,
    options: &WriteOptions,
    applied: bool,
) -> Result<Value, ApiError> {
    check_type(resource, &object)?;
    drop_nulls(&mut object);
    prune_custom(resource, &mut object, options, applied)?;
    let namespace = namespace_key(resource, namespace);
    let old = store
        .get(resource, &namespace, name)
        .cloned()
        .ok_or_else(|| ApiError::not_found(resource, name))?;
    let body_name = meta::name_of(&object);
    if !body_name.is_empty() && body_name != name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({name})"
        )));
    }
    let body_namespace = meta::namespace_of(&object);
    if resource.namespaced && !body_namespace.is_empty() && body_namespace != namespace {
        return Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    let requested_version = object
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let old_version = old
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !requested_version.is_empty() && requested_version != old_version {
        return Err(ApiError::stale(resource, name));
    }
    let requested_uid = meta::uid_of(&object).to_owned();
    if !requested_uid.is_empty() && requested_uid != meta::uid_of(&old) {
        return Err(ApiError::conflict(
            resource,
            name,
            &format!(
                "Precondition failed: UID in precondition: {requested_uid}, UID in object meta: {}",
                meta::uid_of(&old)
            ),
        ));
    }
    set_type(resource, &mut object);
    if options.subresource == Subresource::Status {
        let status = object.get("status").cloned();
        let mut merged = old.clone();
        if let Some(map) = merged.as_object_mut() {
            match status {
                Some(status) => map.insert("status".into(), status),
                None => map.remove("status"),
            };
        }
        if applied {
            let managed = object.pointer("/metadata/managedFields").cloned();
            if let Some(managed) = managed {
                meta::metadata_mut(&mut merged).insert("managedFields".into(), managed);
            }
        }
        object = merged;
    } else if resource.status
        && let Some(map) = object.as_object_mut()
    {
        match old.get("status") {
            Some(status) => map.insert("status".into(), status.clone()),
            None => map.remove("status"),
        };
    }
    {
        let old_metadata = old["metadata"].as_object().cloned().unwrap_or_default();
        let explicit_managed = object.pointer("/metadata/managedFields").cloned();
        let metadata = meta::metadata_mut(&mut object);
        for field in [
            "uid",
            "creationTimestamp",
            "generation",
            "deletionTimestamp",
            "namespace",
        ] {
            match old_metadata.get(field) {
                Some(value) => metadata.insert(field.into(), value.clone()),
                None => metadata.remove(field),
            };
        }
        metadata.insert("name".into(), Value::String(name.to_owned()));
        metadata.remove("resourceVersion");
        let keep_old_managed = match &explicit_managed {
            None => true,
            Some(Value::Array(entries)) => entries.is_empty() && !applied,
            Some(_) => false,
        };
        if keep_old_managed {
            match old_metadata.get("managedFields") {
                Some(value) => metadata.insert("managedFields".into(), value.clone()),
                None => metadata.remove("managedFields"),
            };
        } else if explicit_managed.as_ref().is_some_and(|m| {
            m.as_array()
                .is_some_and(|e| e.iter().all(|e| e.as_object().is_some_and(Map::is_empty)))
        }) {
            metadata.remove("managedFields");
        }
    }
    defaults::apply(resource, &mut object, Some(&old), &mut || {
        store.allocate_cluster_ip()
    });
    validation::validate(resource, &object, Some(&old))?;
    if resource.generation && spec_of(&object) != spec_of(&old) {
        let generation = meta::int_at(&old, "/metadata/generation").unwrap_or(1) + 1;
        meta::metadata_mut(&mut object).insert("generation".into(), json!(generation));
    }
    let managed_changed_explicitly = !applied
        && object.pointer("/metadata/managedFields") != old.pointer("/metadata/managedFields");
    if !applied && !managed_changed_explicitly {
        let api_version = resource.api_version();
        record_update(
            Some(&old),
            &mut object,
            resource.kind,
            &writer(&api_version, options),
        );
    } else if managed_changed_explicitly
        && let Some(explicit) = object.pointer("/metadata/managedFields").cloned()
    {
        // As the API server's field manager: managedFields sent with an
        // update replace the live ones, and the fields the update changes
        // still go to its manager.
        let api_version = resource.api_version();
        let mut base = old.clone();
        meta::metadata_mut(&mut base).insert("managedFields".into(), explicit);
        record_update(
            Some(&base),
            &mut object,
            resource.kind,
            &writer(&api_version, options),
        );
    }
    let mut unchanged_candidate = object.clone();
    meta::metadata_mut(&mut unchanged_candidate).insert(
        "resourceVersion".into(),
        Value::String(old_version.to_owned()),
    );
    if comparable(&unchanged_candidate) == comparable(&old) {
        let mut old = old;
        set_type(resource, &mut old);
        return Ok(old);
    }
    if options.dry_run {
        return Ok(unchanged_candidate);
    }
    Ok(store.put(resource, object))
}

/// `PATCH` of one object. Returns the result and whether it was created (apply only).
pub(crate) fn patch(
    store: &mut Store,
    resource: &'static ResourceType,
    namespace: Option<&str>,
    name: &str,
    patch_type: PatchType,
    body: &[u8],
    options: &WriteOptions,
) -> Result<(Value, bool), ApiError> {
    let namespace_value = namespace_key(resource, namespace);
    let existing = store.get(resource, &namespace_value, name).cloned();
    let parse = || -> Result<Value, ApiError> {
        serde_json::from_slice(body)
            .map_err(|error| ApiError::bad_request(format!("error decoding patch: {error}")))
    };
    let missing = || ApiError::not_found(resource, name);
    let object = match patch_type {
        PatchType::Apply { force } => {
            return apply(
                store, resource, namespace, name, existing, body, options, force,
            );
        }
        PatchType::Json => {
            let mut object = existing.ok_or_else(missing)?;
            set_type(resource, &mut object);
            patch::json::apply(&mut object, &parse()?)
                .map_err(|error| invalid_patch(resource, name, &error.to_string()))?;
            object
        }
        PatchType::Merge => {
            let mut object = existing.ok_or_else(missing)?;
            set_type(resource, &mut object);
            let document = parse()?;
            if !document.is_object() {
                return Err(invalid_patch(
                    resource,
                    name,
                    "the merge patch is not a JSON object",
                ));
            }
            patch::merge::apply(&mut object, &document);
            object
        }
        PatchType::Strategic => {
            let mut object = existing.ok_or_else(missing)?;
            set_type(resource, &mut object);
            patch::strategic::apply(&mut object, &parse()?, resource.kind)
                .map_err(|error| invalid_patch(resource, name, &error.to_string()))?;
            object
        }
    };
    update(store, resource, namespace, name, object, options, false).map(|object| (object, false))
}

fn invalid_patch(resource: &ResourceType, name: &str, message: &str) -> ApiError {
    let mut error = ApiError::invalid(resource, name, &[]);
    error.message = format!(
        "{} \"{name}\" is invalid: the patch could not be applied: {message}",
        resource.qualified_kind()
    );
    error
}

#[expect(
    clippy::too_many_arguments,
    reason = "the apply verb needs the whole request"
)]
fn apply(
    store: &mut Store,
    resource: &'static ResourceType,
    namespace: Option<&str>,
    name: &str,
    existing: Option<Value>,
    body: &[u8],
    options: &WriteOptions,
    force: bool,
) -> Result<(Value, bool), ApiError> {
    if options.manager.is_empty() {
        return Err(ApiError::invalid(
            resource,
            name,
            &[crate::errors::Cause {
                reason: "FieldValueRequired",
                message: "Required value: is required for apply patch".into(),
                field: "fieldManager".into(),
            }],
        ));
    }
    let text = std::str::from_utf8(body)
        .map_err(|_| ApiError::bad_request("the apply configuration is not UTF-8"))?;
    let config: Value = serde_yaml::from_str(text)
        .map_err(|error| ApiError::bad_request(format!("error decoding YAML: {error}")))?;
    if !config.is_object() {
        return Err(ApiError::bad_request(
            "the apply configuration is not an object",
        ));
    }
    if config.get("apiVersion").and_then(Value::as_str).is_none()
        || config.get("kind").and_then(Value::as_str).is_none()
    {
        return Err(ApiError::bad_request(
            "invalid object type: the apply configuration needs apiVersion and kind",
        ));
    }
    check_type(resource, &config)?;
    let config_name = meta::name_of(&config);
    if !config_name.is_empty() && config_name != name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({config_name}) does not match the name on the URL ({name})"
        )));
    }
    let created = existing.is_none();
    let mut live = match existing {
        Some(live) => live,
        None => {
            if options.subresource != Subresource::Main {
                return Err(ApiError::not_found(resource, name));
            }
            let mut fresh = json!({"metadata": {"name": name}});
            if resource.namespaced {
                fresh["metadata"]["namespace"] = Value::String(namespace_key(resource, namespace));
            }
            set_type(resource, &mut fresh);
            fresh
        }
    };
    let kubectl = options.manager == "kubectl";
    let request = ApplyRequest {
        manager: &options.manager,
        config: &config,
        kind: resource.kind,
        api_version: config["apiVersion"].as_str().unwrap_or_default(),
        force,
        status: options.subresource == Subresource::Status,
        allowed_conflicts: kubectl
            .then(|| patch::apply::last_applied_fields(&live, resource.kind))
            .flatten(),
    };
    patch::apply::apply(&mut live, &request)
        .map_err(|causes| ApiError::apply_conflicts(resource, name, &causes))?;
    if kubectl && meta::annotation(&live, patch::apply::LAST_APPLIED).is_some_and(|v| !v.is_empty())
    {
        meta::metadata_map_mut(&mut live, "annotations").insert(
            patch::apply::LAST_APPLIED.into(),
            Value::String(patch::apply::last_applied_value(&config)),
        );
    }
    if created {
        create(store, resource, namespace, live, options, true).map(|object| (object, true))
    } else {
        update(store, resource, namespace, name, live, options, true).map(|object| (object, false))
    }
}

/// Deletes one object and, unless orphaned, its dependents; deleting a namespace deletes
/// everything in it. Returns what the real server returns: the object for pods and
/// namespaces, a `Success` status otherwise.
pub(crate) fn delete(
    store: &mut Store,
    resource: &'static ResourceType,
    namespace: Option<&str>,
    name: &str,
    options: &DeleteOptions,
) -> Result<Value, ApiError> {
    let namespace = namespace_key(resource, namespace);
    let object = store
        .get(resource, &namespace, name)
        .cloned()
        .ok_or_else(|| ApiError::not_found(resource, name))?;
    if let Some(uid) = &options.uid
        && uid != meta::uid_of(&object)
    {
        return Err(ApiError::conflict(
            resource,
            name,
            &format!(
                "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                meta::uid_of(&object)
            ),
        ));
    }
    if let Some(version) = &options.resource_version
        && Some(version.as_str())
            != object
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str)
    {
        return Err(ApiError::conflict(
            resource,
            name,
            &format!(
                "Precondition failed: ResourceVersion in precondition: {version}, ResourceVersion in object meta: {}",
                object
                    .pointer("/metadata/resourceVersion")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
            ),
        ));
    }
    let mut last = object.clone();
    if !options.dry_run {
        if resource.group == "apiextensions.k8s.io" {
            // Deleting a definition deletes its custom objects, as the real server's
            // finalizer does before the definition goes.
            let custom = store.resource_types().into_iter().find(|custom| {
                custom.custom.is_some() && format!("{}.{}", custom.plural, custom.group) == name
            });
            if let Some(custom) = custom {
                let keys: Vec<(String, String)> = store
                    .list(custom, None)
                    .iter()
                    .map(|object| {
                        (
                            meta::namespace_of(object).to_owned(),
                            meta::name_of(object).to_owned(),
                        )
                    })
                    .collect();
                for (object_namespace, object_name) in keys {
                    store.remove(custom, &object_namespace, &object_name);
                }
            }
        }
        if resource.kind == "Namespace" {
            for other in store.storage_types().into_iter().filter(|r| r.namespaced) {
                let names: Vec<String> = store
                    .list(other, Some(name))
                    .iter()
                    .map(|object| meta::name_of(object).to_owned())
                    .collect();
                for object_name in names {
                    store.remove(other, name, &object_name);
                }
            }
        }
        if let Some(removed) = store.remove(resource, &namespace, name) {
            last = removed;
        }
        cascade(store, meta::uid_of(&object), options.propagation);
    }
    set_type(resource, &mut last);
    match resource.kind {
        "Namespace" => {
            meta::metadata_mut(&mut last).insert(
                "deletionTimestamp".into(),
                Value::String(meta::now_rfc3339()),
            );
            meta::set_path(&mut last, &["status", "phase"], json!("Terminating"));
            Ok(last)
        }
        "Pod" => Ok(last),
        _ => {
            let mut details =
                json!({"name": name, "kind": resource.plural, "uid": meta::uid_of(&object)});
            if !resource.group.is_empty() {
                details["group"] = Value::String(resource.group.to_owned());
            }
            Ok(json!({
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Success",
                "details": details,
            }))
        }
    }
}

/// Garbage-collects (or orphans) the dependents of a deleted object.
pub(crate) fn cascade(store: &mut Store, uid: &str, propagation: Propagation) {
    let mut pending = vec![uid.to_owned()];
    while let Some(owner) = pending.pop() {
        for (resource, dependent) in store.dependents(&owner) {
            let namespace = meta::namespace_of(&dependent).to_owned();
            let name = meta::name_of(&dependent).to_owned();
            if propagation == Propagation::Orphan {
                let mut orphan = dependent.clone();
                if let Some(Value::Array(owners)) = orphan.pointer_mut("/metadata/ownerReferences")
                {
                    owners.retain(|reference| reference["uid"] != owner.as_str());
                }
                if orphan
                    .pointer("/metadata/ownerReferences")
                    .and_then(Value::as_array)
                    .is_some_and(Vec::is_empty)
                {
                    meta::metadata_mut(&mut orphan).remove("ownerReferences");
                }
                store.put(resource, orphan);
            } else {
                store.remove(resource, &namespace, &name);
                pending.push(meta::uid_of(&dependent).to_owned());
            }
        }
    }
}

/// The `autoscaling/v1` `Scale` view of an object.
pub(crate) fn scale_of(object: &Value) -> Value {
    let selector = object
        .pointer("/spec/selector")
        .and_then(crate::selectors::LabelSelector::from_object)
        .map(|selector| selector.to_query())
        .unwrap_or_default();
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": meta::name_of(object),
            "namespace": meta::namespace_of(object),
            "uid": meta::uid_of(object),
            "resourceVersion": object.pointer("/metadata/resourceVersion").cloned().unwrap_or(Value::Null),
            "creationTimestamp": object.pointer("/metadata/creationTimestamp").cloned().unwrap_or(Value::Null),
        },
        "spec": {"replicas": object.pointer("/spec/replicas").cloned().unwrap_or(json!(0))},
        "status": {
            "replicas": object.pointer("/status/replicas").cloned().unwrap_or(json!(0)),
            "selector": selector,
        },
    })
}

/// Writes `spec.replicas` from a new `Scale` onto the object.
pub(crate) fn write_scale(
    store: &mut Store,
    resource: &'static ResourceType,
    namespace: Option<&str>,
    name: &str,
    scale: &Value,
    options: &WriteOptions,
) -> Result<Value, ApiError> {
    let mut object = get(store, resource, namespace, name)?;
    let requested_version = scale
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !requested_version.is_empty()
        && Some(requested_version)
            != object
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str)
    {
        return Err(ApiError::stale(resource, name));
    }
    let Some(replicas) = scale.pointer("/spec/replicas").and_then(Value::as_i64) else {
        return Err(ApiError::bad_request("spec.replicas is required"));
    };
    if replicas < 0 {
        return Err(ApiError::invalid(
            resource,
            name,
            &[crate::errors::Cause {
                reason: "FieldValueInvalid",
                message: format!("Invalid value: {replicas}: must be greater than or equal to 0"),
                field: "spec.replicas".into(),
            }],
        ));
    }
    meta::set_path(&mut object, &["spec", "replicas"], json!(replicas));
    meta::metadata_mut(&mut object).remove("resourceVersion");
    let scale = WriteOptions {
        subresource: Subresource::Scale,
        ..options.clone()
    };
    let updated = update(store, resource, namespace, name, object, &scale, false)?;
    Ok(scale_of(&updated))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> WriteOptions {
        WriteOptions {
            manager: "test".into(),
            dry_run: false,
            subresource: Subresource::Main,
            strict: false,
        }
    }

    fn configmap(name: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"a": "1"}})
    }

    #[test]
    fn create_conflicts_and_missing_namespaces() {
        let mut store = Store::new();
        let configmaps = resources::known("", "configmaps");
        let created = create(
            &mut store,
            configmaps,
            Some("default"),
            configmap("a"),
            &options(),
            false,
        )
        .expect("created");
        assert_eq!(created["metadata"]["namespace"], "default");
        assert!(created["metadata"]["managedFields"].is_array());
        let error = create(
            &mut store,
            configmaps,
            Some("default"),
            configmap("a"),
            &options(),
            false,
        )
        .expect_err("exists");
        assert_eq!(error.reason, "AlreadyExists");
        let error = create(
            &mut store,
            configmaps,
            Some("nope"),
            configmap("b"),
            &options(),
            false,
        )
        .expect_err("no namespace");
        assert_eq!(error.message, "namespaces \"nope\" not found");
    }

    #[test]
    fn update_checks_resource_version_and_skips_no_ops() {
        let mut store = Store::new();
        let configmaps = resources::known("", "configmaps");
        let created = create(
            &mut store,
            configmaps,
            Some("default"),
            configmap("a"),
            &options(),
            false,
        )
        .expect("created");
        let version = store.resource_version();
        let same = update(
            &mut store,
            configmaps,
            Some("default"),
            "a",
            created.clone(),
            &options(),
            false,
        )
        .expect("no-op");
        assert_eq!(store.resource_version(), version);
        assert_eq!(
            same["metadata"]["resourceVersion"],
            created["metadata"]["resourceVersion"]
        );
        let mut changed = created.clone();
        changed["data"]["a"] = json!("2");
        update(
            &mut store,
            configmaps,
            Some("default"),
            "a",
            changed.clone(),
            &options(),
            false,
        )
        .expect("updated");
        let error = update(
            &mut store,
            configmaps,
            Some("default"),
            "a",
            changed,
            &options(),
            false,
        )
        .expect_err("stale");
        assert_eq!(error.reason, "Conflict");
    }

    #[test]
    fn namespace_delete_cascades() {
        let mut store = Store::new();
        let namespaces = resources::namespaces();
        let configmaps = resources::known("", "configmaps");
        create(
            &mut store,
            namespaces,
            None,
            json!({"metadata": {"name": "dev"}}),
            &options(),
            false,
        )
        .expect("namespace");
        create(
            &mut store,
            configmaps,
            Some("dev"),
            configmap("a"),
            &options(),
            false,
        )
        .expect("configmap");
        let options = DeleteOptions {
            dry_run: false,
            propagation: Propagation::Background,
            uid: None,
            resource_version: None,
        };
        delete(&mut store, namespaces, None, "dev", &options).expect("deleted");
        assert!(store.get(configmaps, "dev", "a").is_none());
    }

    #[test]
    fn dry_run_changes_nothing() {
        let mut store = Store::new();
        let configmaps = resources::known("", "configmaps");
        let version = store.resource_version();
        let dry = WriteOptions {
            dry_run: true,
            ..options()
        };
        create(
            &mut store,
            configmaps,
            Some("default"),
            configmap("a"),
            &dry,
            false,
        )
        .expect("dry run");
        assert_eq!(store.resource_version(), version);
        assert!(store.get(configmaps, "default", "a").is_none());
    }
}
