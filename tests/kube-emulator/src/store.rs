//! The object store: every object of every served type, a global resource version, and the
//! event history that watches replay.
//!
//! The store is deliberately dumb: it keeps objects and assigns resource versions. The API
//! semantics (defaulting, validation, managed fields, cascading deletes) live in
//! [`crate::operations`]. Each write bumps the global counter, stamps the new value into
//! `metadata.resourceVersion`, appends an [`Event`] to a bounded history (so a watch can
//! resume from a past resource version) and broadcasts it to running watches and the
//! controller.

use crate::{
    meta,
    resources::{self, RESOURCES, ResourceType},
};
use serde_json::{Map, Value, json};
use std::{
    collections::{BTreeMap, VecDeque},
    sync::Arc,
};
use tokio::sync::broadcast;

/// How many past events a watch can resume from.
const HISTORY: usize = 50_000;

/// The type of a watch event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EventType {
    /// The object was created.
    Added,
    /// The object changed.
    Modified,
    /// The object was deleted.
    Deleted,
}

impl EventType {
    /// The wire name.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One change to one object.
#[derive(Debug)]
pub(crate) struct Event {
    /// The resource version the change produced.
    pub(crate) resource_version: u64,
    /// The type of the object.
    pub(crate) resource: &'static ResourceType,
    /// What happened.
    pub(crate) change: EventType,
    /// The object after the change (for deletes, its last state).
    pub(crate) object: Value,
    /// The object before the change, for selector transitions.
    pub(crate) previous: Option<Value>,
}

type ObjectKey = (String, String);

fn is_definitions(resource: &ResourceType) -> bool {
    resource.group == "apiextensions.k8s.io" && resource.plural == "customresourcedefinitions"
}

/// All objects.
#[derive(Debug)]
pub(crate) struct Store {
    objects: BTreeMap<(&'static str, &'static str), BTreeMap<ObjectKey, Value>>,
    resource_version: u64,
    history: VecDeque<Arc<Event>>,
    sender: broadcast::Sender<Arc<Event>>,
    next_cluster_ip: u32,
    /// The types the stored CustomResourceDefinitions serve, in definition-name order.
    custom: Vec<&'static ResourceType>,
}

impl Store {
    /// An empty store with the `default`, `kube-system`, `kube-public` and `kube-node-lease`
    /// namespaces, like a fresh cluster.
    pub(crate) fn new() -> Self {
        let (sender, _) = broadcast::channel(4096);
        let mut store = Self {
            objects: BTreeMap::new(),
            resource_version: 0,
            history: VecDeque::new(),
            sender,
            next_cluster_ip: 10,
            custom: Vec::new(),
        };
        store.seed();
        store
    }

    fn seed(&mut self) {
        for name in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            let object = json!({
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {
                    "name": name,
                    "uid": meta::new_uid(),
                    "creationTimestamp": meta::now_rfc3339(),
                    "labels": {"kubernetes.io/metadata.name": name},
                },
                "spec": {"finalizers": ["kubernetes"]},
                "status": {"phase": "Active"},
            });
            self.put(resources::namespaces(), object);
        }
        let kubernetes = json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": "kubernetes",
                "namespace": "default",
                "uid": meta::new_uid(),
                "creationTimestamp": meta::now_rfc3339(),
                "labels": {"component": "apiserver", "provider": "kubernetes"},
            },
            "spec": {
                "type": "ClusterIP",
                "clusterIP": "10.96.0.1",
                "clusterIPs": ["10.96.0.1"],
                "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}],
                "sessionAffinity": "None",
            },
            "status": {"loadBalancer": {}},
        });
        self.put(resources::known("", "services"), kubernetes);
    }

    /// Drops every object and seeds the initial namespaces again. Running watches see the
    /// deletions.
    pub(crate) fn reset(&mut self) {
        let all: Vec<(&'static ResourceType, String, String)> = self
            .storage_types()
            .into_iter()
            .flat_map(|resource| {
                self.objects
                    .get(&(resource.group, resource.plural))
                    .into_iter()
                    .flat_map(move |objects| {
                        objects.keys().map(move |(namespace, name)| {
                            (resource, namespace.clone(), name.clone())
                        })
                    })
            })
            .collect();
        for (resource, namespace, name) in all {
            self.remove(resource, &namespace, &name);
        }
        self.next_cluster_ip = 10;
        self.seed();
    }

    /// Every served type: the built-in ones, then every served version of each stored
    /// CustomResourceDefinition whose group and plural no built-in type uses.
    pub(crate) fn resource_types(&self) -> Vec<&'static ResourceType> {
        RESOURCES
            .iter()
            .chain(self.custom.iter().copied())
            .collect()
    }

    /// One type per stored kind (custom kinds in their storage version): what the store holds
    /// objects of.
    pub(crate) fn storage_types(&self) -> Vec<&'static ResourceType> {
        let mut types: Vec<&'static ResourceType> = Vec::new();
        for resource in self.resource_types() {
            if !types
                .iter()
                .any(|known| known.group == resource.group && known.plural == resource.plural)
            {
                types.push(resource);
            }
        }
        types
    }

    fn refresh_custom_types(&mut self) {
        let definitions = resources::known("apiextensions.k8s.io", "customresourcedefinitions");
        let derived: Vec<&'static ResourceType> = self
            .list(definitions, None)
            .into_iter()
            .flat_map(resources::from_definition)
            .filter(|custom| {
                !RESOURCES
                    .iter()
                    .any(|known| known.group == custom.group && known.plural == custom.plural)
            })
            .collect();
        self.custom = derived;
    }

    /// Subscribes to future events.
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.sender.subscribe()
    }

    /// The current resource version.
    pub(crate) fn resource_version(&self) -> u64 {
        self.resource_version
    }

    /// The events after `resource_version`, or `Err(oldest)` when the history no longer
    /// reaches back that far.
    pub(crate) fn events_since(&self, resource_version: u64) -> Result<Vec<Arc<Event>>, u64> {
        let oldest = self
            .history
            .front()
            .map_or(self.resource_version, |event| event.resource_version);
        if resource_version + 1 < oldest && resource_version < self.resource_version {
            return Err(oldest);
        }
        Ok(self
            .history
            .iter()
            .filter(|event| event.resource_version > resource_version)
            .cloned()
            .collect())
    }

    /// Reads one object.
    pub(crate) fn get(
        &self,
        resource: &ResourceType,
        namespace: &str,
        name: &str,
    ) -> Option<&Value> {
        self.objects
            .get(&(resource.group, resource.plural))?
            .get(&(namespace.to_owned(), name.to_owned()))
    }

    /// All objects of a type, in one namespace or (with `None`) in all of them, ordered by
    /// namespace and name.
    pub(crate) fn list(&self, resource: &ResourceType, namespace: Option<&str>) -> Vec<&Value> {
        self.objects
            .get(&(resource.group, resource.plural))
            .map(|objects| {
                objects
                    .iter()
                    .filter(|((object_namespace, _), _)| {
                        namespace.is_none_or(|n| n == object_namespace)
                    })
                    .map(|(_, object)| object)
                    .collect()
            })
            .unwrap_or_default()
    }

    fn bump(&mut self) -> u64 {
        self.resource_version += 1;
        self.resource_version
    }

    fn record(&mut self, event: Event) {
        let event = Arc::new(event);
        self.history.push_back(Arc::clone(&event));
        while self.history.len() > HISTORY {
            self.history.pop_front();
        }
        // No receivers is fine: nobody is watching.
        let _ = self.sender.send(event);
    }

    /// Stores an object (created or replaced), stamping a new resource version. Returns the
    /// stored value.
    pub(crate) fn put(&mut self, resource: &'static ResourceType, mut object: Value) -> Value {
        let resource_version = self.bump();
        meta::metadata_mut(&mut object).insert(
            "resourceVersion".into(),
            Value::String(resource_version.to_string()),
        );
        let key = (
            meta::namespace_of(&object).to_owned(),
            meta::name_of(&object).to_owned(),
        );
        let previous = self
            .objects
            .entry((resource.group, resource.plural))
            .or_default()
            .insert(key, object.clone());
        self.record(Event {
            resource_version,
            resource,
            change: if previous.is_some() {
                EventType::Modified
            } else {
                EventType::Added
            },
            object: object.clone(),
            previous,
        });
        if is_definitions(resource) {
            self.refresh_custom_types();
        }
        object
    }

    /// Removes an object, recording a `DELETED` event. Returns its last state.
    pub(crate) fn remove(
        &mut self,
        resource: &'static ResourceType,
        namespace: &str,
        name: &str,
    ) -> Option<Value> {
        let mut object = self
            .objects
            .get_mut(&(resource.group, resource.plural))?
            .remove(&(namespace.to_owned(), name.to_owned()))?;
        let resource_version = self.bump();
        meta::metadata_mut(&mut object).insert(
            "resourceVersion".into(),
            Value::String(resource_version.to_string()),
        );
        self.record(Event {
            resource_version,
            resource,
            change: EventType::Deleted,
            object: object.clone(),
            previous: None,
        });
        if is_definitions(resource) {
            self.refresh_custom_types();
        }
        Some(object)
    }

    /// Every object whose `ownerReferences` name `uid`, with its type.
    pub(crate) fn dependents(&self, uid: &str) -> Vec<(&'static ResourceType, Value)> {
        let mut found = Vec::new();
        for resource in self.storage_types() {
            for object in self.list(resource, None) {
                let owned = object
                    .pointer("/metadata/ownerReferences")
                    .and_then(Value::as_array)
                    .is_some_and(|owners| owners.iter().any(|owner| owner["uid"] == uid));
                if owned {
                    found.push((resource, object.clone()));
                }
            }
        }
        found
    }

    /// The next free cluster IP, `10.96.0.10` upwards.
    pub(crate) fn allocate_cluster_ip(&mut self) -> String {
        let n = self.next_cluster_ip;
        self.next_cluster_ip += 1;
        format!("10.96.{}.{}", n / 256, n % 256)
    }

    /// Every object, grouped by qualified resource name, for `/_emulator/state`.
    pub(crate) fn dump(&self) -> Value {
        let mut resources = Map::new();
        for resource in self.storage_types() {
            let objects: Vec<Value> = self.list(resource, None).into_iter().cloned().collect();
            if !objects.is_empty() {
                resources.insert(resource.qualified_plural(), Value::Array(objects));
            }
        }
        json!({
            "resourceVersion": self.resource_version.to_string(),
            "resources": resources,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_definitions_add_and_remove_custom_types() {
        let mut store = Store::new();
        let definitions = resources::known("apiextensions.k8s.io", "customresourcedefinitions");
        let builtin = store.resource_types().len();
        let definition = json!({
            "metadata": {"name": "widgets.example.com"},
            "spec": {
                "group": "example.com",
                "scope": "Namespaced",
                "names": {"kind": "Widget", "plural": "widgets"},
                "versions": [{"name": "v1", "served": true, "storage": true}],
            },
        });
        store.put(definitions, definition);
        assert_eq!(store.resource_types().len(), builtin + 1);
        let widgets = resources::find(&store.resource_types(), "example.com", "v1", "widgets")
            .expect("served");
        store.put(
            widgets,
            json!({"metadata": {"name": "a", "namespace": "default"}}),
        );
        assert!(store.dump()["resources"]["widgets.example.com"].is_array());
        // A definition that reuses a built-in group and plural serves nothing.
        store.put(
            definitions,
            json!({
                "metadata": {"name": "deployments.apps"},
                "spec": {
                    "group": "apps",
                    "scope": "Namespaced",
                    "names": {"kind": "Deployment", "plural": "deployments"},
                    "versions": [{"name": "v2", "served": true, "storage": true}],
                },
            }),
        );
        assert_eq!(store.resource_types().len(), builtin + 1);
        store.remove(definitions, "", "widgets.example.com");
        assert_eq!(store.resource_types().len(), builtin);
    }

    #[test]
    fn seeds_namespaces_and_tracks_versions() {
        let mut store = Store::new();
        let namespaces = resources::namespaces();
        assert!(store.get(namespaces, "", "default").is_some());
        assert!(store.get(namespaces, "", "kube-system").is_some());
        let before = store.resource_version();
        let configmaps = resources::known("", "configmaps");
        store.put(
            configmaps,
            json!({"metadata": {"name": "a", "namespace": "default"}}),
        );
        let events = store.events_since(before).expect("history reaches back");
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].change, EventType::Added);
        store.remove(configmaps, "default", "a");
        assert_eq!(store.events_since(before).expect("in history").len(), 2);
    }
}
