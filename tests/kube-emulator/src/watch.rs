//! Watches: `?watch=true` streams of newline-delimited `{"type": ..., "object": ...}` events.
//!
//! A watch starts from the request's `resourceVersion`: unset or `0` sends the current objects
//! as synthetic `ADDED` events first; a concrete version replays the history after it (or
//! answers an `ERROR` event with `410 Expired` when the history no longer reaches back); and
//! `sendInitialEvents=true` (client-go's WatchList, on by default in client-go 1.35, which
//! helm 4 uses) sends the current objects followed by a `BOOKMARK` carrying the
//! `k8s.io/initial-events-end` annotation. Objects that start or stop matching the selectors
//! are reported as `ADDED` and `DELETED`, like the real watch cache does. The stream ends after
//! `timeoutSeconds` (default 30 minutes), when the client lags too far behind, or when the
//! emulator shuts down.

use crate::{
    errors::ApiError,
    resources::ResourceType,
    selectors::{FieldSelector, LabelSelector},
    server::AppState,
    store::{Event, EventType},
};
use axum::{
    body::{Body, Bytes},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};
use std::{
    collections::{HashMap, VecDeque},
    sync::Arc,
    time::Duration,
};
use tokio::{
    sync::broadcast::{self, error::RecvError},
    time::Instant,
};

/// What a watch selects.
#[derive(Debug, Clone)]
pub(crate) struct WatchFilter {
    /// The watched type.
    pub(crate) resource: &'static ResourceType,
    /// The namespace, or all namespaces.
    pub(crate) namespace: Option<String>,
    /// The label selector.
    pub(crate) labels: LabelSelector,
    /// The field selector.
    pub(crate) fields: FieldSelector,
}

impl WatchFilter {
    /// Whether an object of the watched type matches.
    pub(crate) fn matches(&self, object: &Value) -> bool {
        if let Some(namespace) = &self.namespace
            && crate::meta::namespace_of(object) != namespace
        {
            return false;
        }
        self.labels.matches_object(object) && self.fields.matches(object)
    }

    fn translate(&self, event: &Event) -> Option<EventType> {
        if event.resource.group != self.resource.group
            || event.resource.plural != self.resource.plural
        {
            return None;
        }
        let now = self.matches(&event.object);
        match event.change {
            EventType::Added | EventType::Deleted => now.then_some(event.change),
            EventType::Modified => {
                let before = event.previous.as_ref().is_some_and(|p| self.matches(p));
                match (before, now) {
                    (true, true) => Some(EventType::Modified),
                    (false, true) => Some(EventType::Added),
                    (true, false) => Some(EventType::Deleted),
                    (false, false) => None,
                }
            }
        }
    }
}

/// A watch request's parameters.
#[derive(Debug, Clone)]
pub(crate) struct WatchRequest {
    /// The selection.
    pub(crate) filter: WatchFilter,
    /// `resourceVersion`, if any.
    pub(crate) resource_version: Option<String>,
    /// `timeoutSeconds`, if any.
    pub(crate) timeout: Option<Duration>,
    /// `sendInitialEvents=true`.
    pub(crate) send_initial_events: bool,
    /// For `Accept: ...;as=Table`, the query (for `includeObject`): each event then carries
    /// a one-row `Table`, as `kubectl get --watch` expects.
    pub(crate) table: Option<HashMap<String, String>>,
}

fn render(
    filter: &WatchFilter,
    table: Option<&HashMap<String, String>>,
    object: &Value,
    resource_version: u64,
) -> Value {
    let typed = typed(filter.resource, object);
    match table {
        Some(query) => crate::table::render(filter.resource, &[typed], resource_version, query),
        None => typed,
    }
}

fn line(event_type: &str, object: &Value) -> Bytes {
    let mut bytes =
        serde_json::to_vec(&json!({"type": event_type, "object": object})).unwrap_or_default();
    bytes.push(b'\n');
    Bytes::from(bytes)
}

fn typed(resource: &ResourceType, object: &Value) -> Value {
    let mut object = object.clone();
    if let Some(map) = object.as_object_mut() {
        map.insert("apiVersion".into(), Value::String(resource.api_version()));
        map.insert("kind".into(), Value::String(resource.kind.to_owned()));
    }
    object
}

struct Stream {
    pending: VecDeque<Bytes>,
    receiver: broadcast::Receiver<Arc<Event>>,
    filter: WatchFilter,
    table: Option<HashMap<String, String>>,
    after: u64,
    deadline: Instant,
    shutdown: tokio::sync::watch::Receiver<bool>,
    done: bool,
}

impl Stream {
    async fn next(mut self) -> Option<(Result<Bytes, std::io::Error>, Self)> {
        loop {
            if let Some(bytes) = self.pending.pop_front() {
                return Some((Ok(bytes), self));
            }
            if self.done || *self.shutdown.borrow() {
                return None;
            }
            tokio::select! {
                received = self.receiver.recv() => match received {
                    Ok(event) => {
                        if event.resource_version <= self.after {
                            continue;
                        }
                        if let Some(event_type) = self.filter.translate(&event) {
                            let object = render(&self.filter, self.table.as_ref(), &event.object, event.resource_version);
                            self.pending.push_back(line(event_type.as_str(), &object));
                        }
                    }
                    Err(RecvError::Lagged(_) | RecvError::Closed) => self.done = true,
                },
                () = tokio::time::sleep_until(self.deadline) => self.done = true,
                changed = self.shutdown.changed() => {
                    if changed.is_err() {
                        self.done = true;
                    }
                }
            }
        }
    }
}

/// Starts a watch and returns the streaming response.
pub(crate) fn respond(state: &Arc<AppState>, request: WatchRequest) -> Response {
    let mut pending = VecDeque::new();
    let (receiver, after) = {
        let store = state.lock_store();
        let receiver = store.subscribe();
        let current = store.resource_version();
        let from = request
            .resource_version
            .as_deref()
            .filter(|version| !version.is_empty() && *version != "0");
        match (request.send_initial_events, from) {
            (false, Some(version)) => {
                let Ok(version) = version.parse::<u64>() else {
                    return ApiError::bad_request(format!("invalid resource version: {version}"))
                        .into_response();
                };
                match store.events_since(version) {
                    Ok(events) => {
                        for event in events {
                            if let Some(event_type) = request.filter.translate(&event) {
                                let object = render(
                                    &request.filter,
                                    request.table.as_ref(),
                                    &event.object,
                                    event.resource_version,
                                );
                                pending.push_back(line(event_type.as_str(), &object));
                            }
                        }
                    }
                    Err(oldest) => {
                        pending.push_back(line(
                            "ERROR",
                            &ApiError::expired(version, oldest).to_status(),
                        ));
                    }
                }
            }
            _ => {
                for object in
                    store.list(request.filter.resource, request.filter.namespace.as_deref())
                {
                    if request.filter.matches(object) {
                        let object =
                            render(&request.filter, request.table.as_ref(), object, current);
                        pending.push_back(line("ADDED", &object));
                    }
                }
                if request.send_initial_events {
                    pending.push_back(line(
                        "BOOKMARK",
                        &json!({
                            "kind": request.filter.resource.kind,
                            "apiVersion": request.filter.resource.api_version(),
                            "metadata": {
                                "resourceVersion": current.to_string(),
                                "annotations": {"k8s.io/initial-events-end": "true"},
                            },
                        }),
                    ));
                }
            }
        }
        (receiver, current)
    };
    let deadline = Instant::now() + request.timeout.unwrap_or(Duration::from_secs(1800));
    let stream = Stream {
        pending,
        receiver,
        filter: request.filter,
        table: request.table,
        after,
        deadline,
        shutdown: state.shutdown.clone(),
        done: false,
    };
    let body = Body::from_stream(futures_util::stream::unfold(stream, Stream::next));
    let mut response = (StatusCode::OK, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
