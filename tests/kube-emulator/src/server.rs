//! The HTTP front: URL routing, query parameters, content negotiation and status codes.
//!
//! One fallback handler parses every request path the way the real API server lays them out
//! (`/api/v1/namespaces/{ns}/{resource}/{name}/{subresource}`,
//! `/apis/{group}/{version}/...`) and dispatches to [`crate::operations`], [`crate::watch`],
//! [`crate::discovery`], [`crate::openapi`], [`crate::table`] and [`crate::admin`]. The store
//! sits behind one mutex; every handler holds it only for a synchronous operation.

use crate::{
    EmulatorConfig, admin, discovery,
    errors::ApiError,
    meta, openapi, openapi_v2,
    operations::{self, DeleteOptions, PatchType, Propagation, Subresource, WriteOptions},
    protobuf,
    resources::{self, ResourceType},
    selectors::{FieldSelector, LabelSelector},
    store::Store,
    table,
    watch::{self, WatchFilter, WatchRequest},
};
use axum::{
    Router,
    body::Bytes,
    extract::{DefaultBodyLimit, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};
use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};
use tokio::sync::Notify;

/// State shared by the handlers and the controller.
#[derive(Debug)]
pub(crate) struct AppState {
    store: Mutex<Store>,
    /// The emulator's configuration.
    pub(crate) config: EmulatorConfig,
    /// Flips to `true` on shutdown; watches end when it does.
    pub(crate) shutdown: tokio::sync::watch::Receiver<bool>,
    /// `127.0.0.1:PORT`, for `/api`.
    pub(crate) server_address: String,
    /// Wakes the controller after an admin reset.
    pub(crate) controller_wakeup: Notify,
}

impl AppState {
    /// Creates the state with a fresh store.
    pub(crate) fn new(
        config: EmulatorConfig,
        shutdown: tokio::sync::watch::Receiver<bool>,
        server_address: String,
    ) -> Self {
        Self {
            store: Mutex::new(Store::new()),
            config,
            shutdown,
            server_address,
            controller_wakeup: Notify::new(),
        }
    }

    /// Locks the store. A panic while holding the lock cannot leave the store half-written
    /// (every operation validates before it writes), so a poisoned lock is recovered.
    pub(crate) fn lock_store(&self) -> MutexGuard<'_, Store> {
        self.store
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The router serving the whole API.
pub(crate) fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .fallback(dispatch)
        .layer(DefaultBodyLimit::max(64 * 1024 * 1024))
        .with_state(state)
}

fn json_response(status: StatusCode, value: &Value) -> Response {
    let body = serde_json::to_vec(value).unwrap_or_default();
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn ok(value: &Value) -> Response {
    json_response(StatusCode::OK, value)
}

fn percent_decode(input: &str) -> String {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'+' => out.push(b' '),
            b'%' if index + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[index + 1..index + 3]).unwrap_or_default();
                if let Ok(value) = u8::from_str_radix(hex, 16) {
                    out.push(value);
                    index += 3;
                    continue;
                }
                out.push(b'%');
            }
            byte => out.push(byte),
        }
        index += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_query(uri: &Uri) -> HashMap<String, String> {
    uri.query()
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(key), percent_decode(value))
        })
        .collect()
}

/// A parsed resource URL.
struct ResourcePath {
    resource: &'static ResourceType,
    namespace: Option<String>,
    name: Option<String>,
    subresource: Option<String>,
}

enum Route {
    Version,
    Health,
    CoreVersions,
    Groups,
    Group(String),
    ResourceList(String, String),
    OpenApiV2,
    OpenApiIndex,
    OpenApiDocument(String),
    Resource(ResourcePath),
    AdminState,
    AdminReset,
    NotFound,
}

fn route(path: &str, types: &[&'static ResourceType]) -> Route {
    let segments: Vec<String> = path
        .trim_matches('/')
        .split('/')
        .filter(|segment| !segment.is_empty())
        .map(percent_decode)
        .collect();
    let parts: Vec<&str> = segments.iter().map(String::as_str).collect();
    match parts.as_slice() {
        ["version"] => Route::Version,
        ["healthz" | "livez" | "readyz", ..] => Route::Health,
        ["api"] => Route::CoreVersions,
        ["apis"] => Route::Groups,
        ["apis", group] => Route::Group((*group).to_owned()),
        ["api", version] => Route::ResourceList(String::new(), (*version).to_owned()),
        ["apis", group, version] => Route::ResourceList((*group).to_owned(), (*version).to_owned()),
        ["openapi", "v2"] => Route::OpenApiV2,
        ["openapi", "v3"] => Route::OpenApiIndex,
        ["openapi", "v3", rest @ ..] => Route::OpenApiDocument(rest.join("/")),
        ["_emulator", "state"] => Route::AdminState,
        ["_emulator", "reset"] => Route::AdminReset,
        ["api", version, rest @ ..] => resource_route(types, "", version, rest),
        ["apis", group, version, rest @ ..] => resource_route(types, group, version, rest),
        _ => Route::NotFound,
    }
}

fn resource_route(
    types: &[&'static ResourceType],
    group: &str,
    version: &str,
    rest: &[&str],
) -> Route {
    let found = |plural: &str| resources::find(types, group, version, plural);
    let owned = |value: &&str| Some((*value).to_owned());
    let path = match rest {
        ["namespaces", namespace, plural, tail @ ..]
            if found(plural).is_some_and(|r| r.namespaced) =>
        {
            let resource = found(plural).expect("checked above");
            match tail {
                [] => ResourcePath {
                    resource,
                    namespace: owned(namespace),
                    name: None,
                    subresource: None,
                },
                [name] => ResourcePath {
                    resource,
                    namespace: owned(namespace),
                    name: owned(name),
                    subresource: None,
                },
                [name, sub] => ResourcePath {
                    resource,
                    namespace: owned(namespace),
                    name: owned(name),
                    subresource: owned(sub),
                },
                _ => return Route::NotFound,
            }
        }
        [plural, tail @ ..] => {
            let Some(resource) = found(plural) else {
                return Route::NotFound;
            };
            match tail {
                [] => ResourcePath {
                    resource,
                    namespace: None,
                    name: None,
                    subresource: None,
                },
                [name] if !resource.namespaced => ResourcePath {
                    resource,
                    namespace: None,
                    name: owned(name),
                    subresource: None,
                },
                [name, sub] if !resource.namespaced => ResourcePath {
                    resource,
                    namespace: None,
                    name: owned(name),
                    subresource: owned(sub),
                },
                _ => return Route::NotFound,
            }
        }
        [] => return Route::NotFound,
    };
    Route::Resource(path)
}

async fn dispatch(
    State(state): State<Arc<AppState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let query = parse_query(&uri);
    let types = state.lock_store().resource_types();
    let response = match route(uri.path(), &types) {
        Route::Version => ok(&discovery::version()),
        Route::Health => (StatusCode::OK, "ok").into_response(),
        Route::CoreVersions => ok(&discovery::core_versions(&state.server_address)),
        Route::Groups => ok(&discovery::groups(&types)),
        Route::Group(group) => discovery::group_document(&types, &group).map_or_else(
            || ApiError::path_not_found().into_response(),
            |document| ok(&document),
        ),
        Route::ResourceList(group, version) => discovery::resource_list(&types, &group, &version)
            .map_or_else(
                || ApiError::path_not_found().into_response(),
                |list| ok(&list),
            ),
        Route::OpenApiV2 => openapi_v2(&headers, &types),
        Route::OpenApiIndex => ok(&openapi::index(&types)),
        Route::OpenApiDocument(path) => openapi::document_for_path(&types, &path).map_or_else(
            || ApiError::path_not_found().into_response(),
            |document| ok(&document),
        ),
        Route::AdminState if method == Method::GET => ok(&admin::state(&state)),
        Route::AdminReset if method == Method::POST => {
            admin::reset(&state);
            ok(&json!({"status": "reset"}))
        }
        Route::AdminState | Route::AdminReset => {
            ApiError::method_not_allowed("the admin endpoints take GET state and POST reset")
                .into_response()
        }
        Route::Resource(path) => resource_request(&state, &method, &headers, &query, &path, &body)
            .unwrap_or_else(IntoResponse::into_response),
        Route::NotFound => ApiError::path_not_found().into_response(),
    };
    tracing::debug!(%method, %uri, status = response.status().as_u16(), "request");
    response
}

/// `/openapi/v2`, in the format the `Accept` header asks for.
fn openapi_v2(headers: &HeaderMap, types: &[&'static ResourceType]) -> Response {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok());
    let definitions = openapi::component_schemas(types);
    match openapi_v2::negotiate(accept) {
        Some(openapi_v2::Format::Json) => ok(&openapi_v2::json_document(types, &definitions)),
        Some(openapi_v2::Format::Protobuf) => {
            let body = openapi_v2::protobuf_document(types, &definitions);
            let mut response = (StatusCode::OK, body).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(openapi_v2::PROTOBUF_CONTENT_TYPE),
            );
            response
        }
        None => ApiError::not_acceptable(accept.unwrap_or_default()).into_response(),
    }
}

fn user_agent_manager(headers: &HeaderMap) -> String {
    headers
        .get(header::USER_AGENT)
        .and_then(|value| value.to_str().ok())
        .and_then(|agent| agent.split('/').next())
        .unwrap_or_default()
        .to_owned()
}

fn write_options(
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    subresource: Subresource,
    apply: bool,
) -> Result<WriteOptions, ApiError> {
    let dry_run = match query.get("dryRun").map(String::as_str) {
        None | Some("") => false,
        Some("All") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "Invalid dry run value: {other:?}: supported values: \"All\""
            )));
        }
    };
    if let Some(validation) = query.get("fieldValidation")
        && !matches!(validation.as_str(), "" | "Ignore" | "Warn" | "Strict")
    {
        return Err(ApiError::bad_request(format!(
            "fieldValidation: Unsupported value: {validation:?}: supported values: \"Ignore\", \"Strict\", \"Warn\""
        )));
    }
    let manager = match query.get("fieldManager") {
        Some(manager) if !manager.is_empty() => manager.clone(),
        _ if apply => String::new(),
        _ => user_agent_manager(headers),
    };
    Ok(WriteOptions {
        manager,
        dry_run,
        subresource,
        strict: query.get("fieldValidation").is_some_and(|v| v == "Strict"),
    })
}

fn media_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("application/json")
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

fn parse_body(headers: &HeaderMap, body: &[u8]) -> Result<Value, ApiError> {
    let media = media_type(headers);
    match media.as_str() {
        "application/json" | "" => serde_json::from_slice(body).map_err(|error| {
            ApiError::bad_request(format!("error decoding request body: {error}"))
        }),
        "application/yaml" => serde_yaml::from_slice(body).map_err(|error| {
            ApiError::bad_request(format!("error decoding request body: {error}"))
        }),
        "application/vnd.kubernetes.protobuf" => {
            protobuf::decode(body).map_err(|error| match error {
                protobuf::ProtobufError::Malformed => ApiError::bad_request(error.to_string()),
                protobuf::ProtobufError::UnsupportedKind(_) => {
                    let mut unsupported = ApiError::unsupported_media_type(&media);
                    unsupported.message = error.to_string();
                    unsupported
                }
            })
        }
        other => Err(ApiError::unsupported_media_type(other)),
    }
}

fn subresource_of(path: &ResourcePath) -> Result<Subresource, ApiError> {
    match path.subresource.as_deref() {
        None => Ok(Subresource::Main),
        Some("status") if path.resource.status => Ok(Subresource::Status),
        Some("scale") if path.resource.scale => Ok(Subresource::Scale),
        Some(_) => Err(ApiError::path_not_found()),
    }
}

fn wants_table(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| accept.contains("as=Table"))
}

fn resource_request(
    state: &Arc<AppState>,
    method: &Method,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
    path: &ResourcePath,
    body: &[u8],
) -> Result<Response, ApiError> {
    let resource = path.resource;
    let namespace = path.namespace.as_deref();
    if resource.kind == "Pod"
        && path.subresource.as_deref() == Some("log")
        && *method == Method::GET
    {
        let store = state.lock_store();
        let pod = operations::get(
            &store,
            resource,
            namespace,
            path.name.as_deref().unwrap_or_default(),
        )?;
        return pod_log(&pod, query);
    }
    let subresource = subresource_of(path)?;
    let Some(name) = path.name.as_deref() else {
        return collection_request(state, method, headers, query, path, body);
    };
    match *method {
        Method::GET => {
            let store = state.lock_store();
            let object = operations::get(&store, resource, namespace, name)?;
            if subresource == Subresource::Scale {
                return Ok(ok(&operations::scale_of(&object)));
            }
            if wants_table(headers) {
                return Ok(ok(&table::render(
                    resource,
                    &[object],
                    store.resource_version(),
                    query,
                )));
            }
            Ok(ok(&object))
        }
        Method::PUT => {
            let options = write_options(query, headers, subresource, false)?;
            let object = parse_body(headers, body)?;
            let mut store = state.lock_store();
            let result = if subresource == Subresource::Scale {
                operations::write_scale(&mut store, resource, namespace, name, &object, &options)?
            } else {
                operations::update(
                    &mut store, resource, namespace, name, object, &options, false,
                )?
            };
            Ok(ok(&result))
        }
        Method::PATCH => {
            let patch_type = match media_type(headers).as_str() {
                "application/json-patch+json" => PatchType::Json,
                "application/merge-patch+json" => PatchType::Merge,
                "application/strategic-merge-patch+json" if resource.custom.is_none() => {
                    PatchType::Strategic
                }
                "application/apply-patch+yaml" | "application/apply-patch+cbor" => {
                    PatchType::Apply {
                        force: query.get("force").is_some_and(|force| force == "true"),
                    }
                }
                _ if resource.custom.is_some() => {
                    return Err(ApiError::unsupported_patch_for_custom());
                }
                other => return Err(ApiError::unsupported_media_type(other)),
            };
            let apply = matches!(patch_type, PatchType::Apply { .. });
            let options = write_options(query, headers, subresource, apply)?;
            if query.contains_key("force") && !apply {
                return Err(ApiError::bad_request(
                    "force: Invalid value: true: may not be specified for non-apply patch",
                ));
            }
            let mut store = state.lock_store();
            if subresource == Subresource::Scale {
                let object = operations::get(&store, resource, namespace, name)?;
                let mut scale = operations::scale_of(&object);
                let document: Value = serde_json::from_slice(body).map_err(|error| {
                    ApiError::bad_request(format!("error decoding patch: {error}"))
                })?;
                match patch_type {
                    PatchType::Json => crate::patch::json::apply(&mut scale, &document)
                        .map_err(|error| ApiError::bad_request(error.to_string()))?,
                    _ => crate::patch::merge::apply(&mut scale, &document),
                }
                let result = operations::write_scale(
                    &mut store, resource, namespace, name, &scale, &options,
                )?;
                return Ok(ok(&result));
            }
            let (object, created) = operations::patch(
                &mut store, resource, namespace, name, patch_type, body, &options,
            )?;
            Ok(json_response(
                if created {
                    StatusCode::CREATED
                } else {
                    StatusCode::OK
                },
                &object,
            ))
        }
        Method::DELETE => {
            let options = delete_options(query, headers, body)?;
            let mut store = state.lock_store();
            let result = operations::delete(&mut store, resource, namespace, name, &options)?;
            Ok(ok(&result))
        }
        Method::POST => Err(ApiError::method_not_allowed(format!(
            "the server does not allow this method on the requested resource ({})",
            resource.qualified_plural()
        ))),
        _ => Err(ApiError::method_not_allowed(
            "the server does not allow this method on the requested resource",
        )),
    }
}

/// `pods/{name}/log`: the emulator runs no containers, so a running container's log is
/// empty; a container that never started answers like the real kubelet does.
fn pod_log(pod: &Value, query: &HashMap<String, String>) -> Result<Response, ApiError> {
    let name = meta::name_of(pod);
    let containers: Vec<&str> = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .map(|containers| {
            containers
                .iter()
                .filter_map(|c| c["name"].as_str())
                .collect()
        })
        .unwrap_or_default();
    let container = match query.get("container") {
        Some(container) => container.as_str(),
        None if containers.len() == 1 => containers[0],
        None => {
            return Err(ApiError::bad_request(format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                containers.join(" ")
            )));
        }
    };
    if !containers.contains(&container) {
        return Err(ApiError::bad_request(format!(
            "container {container} is not valid for pod {name}"
        )));
    }
    let waiting = pod
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .and_then(|statuses| statuses.iter().find(|status| status["name"] == container))
        .and_then(|status| status.pointer("/state/waiting/reason"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let started = matches!(
        pod.pointer("/status/phase").and_then(Value::as_str),
        Some("Running" | "Succeeded" | "Failed")
    );
    let waiting = waiting.or_else(|| (!started).then(|| "ContainerCreating".to_owned()));
    if let Some(reason) = waiting {
        return Err(ApiError::bad_request(format!(
            "container \"{container}\" in pod \"{name}\" is waiting to start: {reason}"
        )));
    }
    let mut response = (StatusCode::OK, "").into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    Ok(response)
}

fn delete_options(
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<DeleteOptions, ApiError> {
    let document: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        parse_body(headers, body)?
    };
    let propagation = query
        .get("propagationPolicy")
        .map(String::as_str)
        .or_else(|| document.get("propagationPolicy").and_then(Value::as_str))
        .or_else(|| {
            document
                .get("orphanDependents")
                .and_then(Value::as_bool)
                .map(|orphan| if orphan { "Orphan" } else { "Background" })
        });
    let propagation = match propagation {
        None | Some("Background") => Propagation::Background,
        Some("Foreground") => Propagation::Foreground,
        Some("Orphan") => Propagation::Orphan,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "propagationPolicy: Unsupported value: {other:?}: supported values: \"Foreground\", \"Background\", \"Orphan\""
            )));
        }
    };
    let dry_run = query.get("dryRun").is_some_and(|value| value == "All")
        || document
            .get("dryRun")
            .and_then(Value::as_array)
            .is_some_and(|values| values.iter().any(|value| value == "All"));
    Ok(DeleteOptions {
        dry_run,
        propagation,
        uid: document
            .pointer("/preconditions/uid")
            .and_then(Value::as_str)
            .map(str::to_owned),
        resource_version: document
            .pointer("/preconditions/resourceVersion")
            .and_then(Value::as_str)
            .map(str::to_owned),
    })
}

fn collection_request(
    state: &Arc<AppState>,
    method: &Method,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
    path: &ResourcePath,
    body: &[u8],
) -> Result<Response, ApiError> {
    let resource = path.resource;
    let namespace = path.namespace.as_deref();
    if path.subresource.is_some() {
        return Err(ApiError::path_not_found());
    }
    let labels = LabelSelector::parse(query.get("labelSelector").map_or("", String::as_str))?;
    let fields = FieldSelector::parse(query.get("fieldSelector").map_or("", String::as_str))?;
    match *method {
        Method::GET if query.get("watch").is_some_and(|w| w == "true" || w == "1") => {
            let timeout = query
                .get("timeoutSeconds")
                .and_then(|value| value.parse::<u64>().ok())
                .map(Duration::from_secs);
            Ok(watch::respond(
                state,
                WatchRequest {
                    filter: WatchFilter {
                        resource,
                        namespace: namespace.map(str::to_owned),
                        labels,
                        fields,
                    },
                    resource_version: query.get("resourceVersion").cloned(),
                    timeout,
                    send_initial_events: query
                        .get("sendInitialEvents")
                        .is_some_and(|v| v == "true"),
                    table: wants_table(headers).then(|| query.clone()),
                },
            ))
        }
        Method::GET => {
            let store = state.lock_store();
            let items: Vec<Value> = store
                .list(resource, namespace)
                .into_iter()
                .filter(|object| labels.matches_object(object) && fields.matches(object))
                .cloned()
                .collect();
            if wants_table(headers) {
                return Ok(ok(&table::render(
                    resource,
                    &items,
                    store.resource_version(),
                    query,
                )));
            }
            Ok(ok(&list_document(
                resource,
                items,
                store.resource_version(),
            )))
        }
        Method::POST => {
            let options = write_options(query, headers, Subresource::Main, false)?;
            let object = parse_body(headers, body)?;
            if resource.namespaced && namespace.is_none() {
                return Err(ApiError::method_not_allowed(
                    "the server does not allow this method on the requested resource",
                ));
            }
            let mut store = state.lock_store();
            let created =
                operations::create(&mut store, resource, namespace, object, &options, false)?;
            Ok(json_response(StatusCode::CREATED, &created))
        }
        Method::DELETE => {
            let options = delete_options(query, headers, body)?;
            let mut store = state.lock_store();
            let names: Vec<(String, String)> = store
                .list(resource, namespace)
                .into_iter()
                .filter(|object| labels.matches_object(object) && fields.matches(object))
                .map(|object| {
                    (
                        meta::namespace_of(object).to_owned(),
                        meta::name_of(object).to_owned(),
                    )
                })
                .collect();
            let mut deleted = Vec::new();
            for (object_namespace, name) in names {
                let object = operations::get(&store, resource, Some(&object_namespace), &name)?;
                operations::delete(
                    &mut store,
                    resource,
                    Some(&object_namespace),
                    &name,
                    &options,
                )?;
                deleted.push(object);
            }
            Ok(ok(&list_document(
                resource,
                deleted,
                store.resource_version(),
            )))
        }
        _ => Err(ApiError::method_not_allowed(
            "the server does not allow this method on the requested resource",
        )),
    }
}

/// A `<Kind>List` document. Items carry no `apiVersion`/`kind`, like the real server's typed
/// lists; clients take them from the list.
fn list_document(resource: &ResourceType, items: Vec<Value>, resource_version: u64) -> Value {
    let items: Vec<Value> = items
        .into_iter()
        .map(|mut item| {
            if let Some(map) = item.as_object_mut() {
                map.remove("apiVersion");
                map.remove("kind");
            }
            item
        })
        .collect();
    json!({
        "kind": format!("{}List", resource.kind),
        "apiVersion": resource.api_version(),
        "metadata": {"resourceVersion": resource_version.to_string()},
        "items": items,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_resource_paths() {
        let types: Vec<&'static ResourceType> = resources::RESOURCES.iter().collect();
        let Route::Resource(path) =
            route("/apis/apps/v1/namespaces/dev/deployments/api/scale", &types)
        else {
            panic!("a resource path");
        };
        assert_eq!(path.resource.plural, "deployments");
        assert_eq!(path.namespace.as_deref(), Some("dev"));
        assert_eq!(path.name.as_deref(), Some("api"));
        assert_eq!(path.subresource.as_deref(), Some("scale"));

        let Route::Resource(path) = route("/api/v1/namespaces/dev", &types) else {
            panic!("a namespace path");
        };
        assert_eq!(path.resource.plural, "namespaces");
        assert_eq!(path.name.as_deref(), Some("dev"));

        let Route::Resource(path) = route("/api/v1/namespaces/dev/status", &types) else {
            panic!("a namespace status path");
        };
        assert_eq!(path.subresource.as_deref(), Some("status"));

        let Route::Resource(path) = route("/api/v1/pods", &types) else {
            panic!("an all-namespaces list");
        };
        assert!(path.namespace.is_none() && path.name.is_none());
        assert!(matches!(
            route("/apis/apps/v1/widgets", &types),
            Route::NotFound
        ));
    }

    #[test]
    fn decodes_queries() {
        let uri: Uri = "/x?labelSelector=app%3Dweb%2Ctier+in+(a%2Cb)&watch=1"
            .parse()
            .expect("valid");
        let query = parse_query(&uri);
        assert_eq!(query["labelSelector"], "app=web,tier in (a,b)");
        assert_eq!(query["watch"], "1");
    }
}
