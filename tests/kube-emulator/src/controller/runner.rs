//! The controller loop: reconcile everything until nothing changes, then sleep until a store
//! event, a timer or shutdown.

use super::{deployment, memory::Memory, pods, workloads};
use crate::{
    operations::{self, DeleteOptions, Propagation, Subresource, WriteOptions},
    resources::ResourceType,
    server::AppState,
    store::Store,
};
use serde_json::Value;
use std::sync::Arc;
use tokio::{sync::broadcast::error::TryRecvError, time::Instant};

/// The most reconcile passes per wake-up; each pass makes the next one's writes smaller, and a
/// deployment rollout settles in four.
const MAX_PASSES: usize = 12;

/// Writes as the named controller; failures are logged and retried on the next pass (the
/// only expected one is a conflict with a concurrent client write).
pub(super) fn write(
    store: &mut Store,
    resource: &'static ResourceType,
    object: Value,
    manager: &str,
    subresource: Subresource,
) {
    let options = WriteOptions {
        manager: manager.to_owned(),
        dry_run: false,
        subresource,
        strict: false,
    };
    let namespace = crate::meta::namespace_of(&object).to_owned();
    let name = crate::meta::name_of(&object).to_owned();
    let namespace = (!namespace.is_empty()).then_some(namespace);
    let result = if store
        .get(resource, namespace.as_deref().unwrap_or_default(), &name)
        .is_some()
    {
        operations::update(
            store,
            resource,
            namespace.as_deref(),
            &name,
            object,
            &options,
            false,
        )
    } else {
        operations::create(
            store,
            resource,
            namespace.as_deref(),
            object,
            &options,
            false,
        )
    };
    if let Err(error) = result {
        tracing::warn!(%error, kind = resource.kind, %name, "controller write failed");
    }
}

/// Replaces an object's status if it differs.
pub(super) fn write_status(
    store: &mut Store,
    resource: &'static ResourceType,
    object: &Value,
    status: Value,
    manager: &str,
) {
    if object.get("status") == Some(&status) {
        return;
    }
    let mut updated = object.clone();
    updated["status"] = status;
    write(store, resource, updated, manager, Subresource::Status);
}

/// Records a core/v1 Event about `involved`, as the real controllers and kubelet do (what
/// `kubectl describe` and `kubectl get events` show).
pub(super) fn event(
    store: &mut Store,
    involved: &Value,
    kind: &str,
    reason: &str,
    message: &str,
    component: &str,
) {
    let namespace = crate::meta::namespace_of(involved).to_owned();
    let name = crate::meta::name_of(involved).to_owned();
    let now = crate::meta::now_rfc3339();
    let event = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": format!("{name}.{}", crate::meta::random_hex()),
            "namespace": namespace,
        },
        "involvedObject": {
            "apiVersion": involved.get("apiVersion").cloned().unwrap_or_default(),
            "kind": kind,
            "name": name,
            "namespace": namespace,
            "uid": crate::meta::uid_of(involved),
            "resourceVersion": involved.pointer("/metadata/resourceVersion").cloned().unwrap_or_default(),
        },
        "reason": reason,
        "message": message,
        "source": {"component": component},
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
        "type": if reason == "BackOff" || reason == "Failed" { "Warning" } else { "Normal" },
        "reportingComponent": component,
        "reportingInstance": "",
    });
    write(
        store,
        crate::resources::known("", "events"),
        event,
        component,
        Subresource::Main,
    );
}

/// Deletes an object with background propagation.
pub(super) fn delete(store: &mut Store, resource: &'static ResourceType, object: &Value) {
    let namespace = crate::meta::namespace_of(object).to_owned();
    let options = DeleteOptions {
        dry_run: false,
        propagation: Propagation::Background,
        uid: None,
        resource_version: None,
    };
    if let Err(error) = operations::delete(
        store,
        resource,
        Some(&namespace),
        crate::meta::name_of(object),
        &options,
    ) {
        tracing::warn!(%error, kind = resource.kind, "controller delete failed");
    }
}

fn reconcile(store: &mut Store, state: &AppState, memory: &mut Memory) {
    memory.wake = None;
    for _ in 0..MAX_PASSES {
        let before = store.resource_version();
        let now = Instant::now();
        deployment::reconcile(store, &state.config, memory, now);
        pods::reconcile_replica_sets(store);
        pods::reconcile_pods(store, &state.config, memory, now);
        workloads::reconcile(store);
        if store.resource_version() == before {
            return;
        }
    }
}

/// Runs the controller until the emulator shuts down.
pub(crate) async fn run(state: Arc<AppState>) {
    let mut receiver = state.lock_store().subscribe();
    let mut shutdown = state.shutdown.clone();
    let mut memory = Memory::default();
    loop {
        {
            let mut store = state.lock_store();
            reconcile(&mut store, &state, &mut memory);
        }
        let wake = memory.wake;
        let timer = async move {
            match wake {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            message = receiver.recv() => {
                if let Err(tokio::sync::broadcast::error::RecvError::Closed) = message {
                    return;
                }
                loop {
                    match receiver.try_recv() {
                        Ok(_) | Err(TryRecvError::Lagged(_)) => {}
                        Err(TryRecvError::Empty) => break,
                        Err(TryRecvError::Closed) => return,
                    }
                }
            }
            () = timer => {}
            () = state.controller_wakeup.notified() => {}
            _ = shutdown.changed() => return,
        }
        if *shutdown.borrow() {
            return;
        }
    }
}
