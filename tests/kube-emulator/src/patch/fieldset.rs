//! Field sets and `metadata.managedFields`.
//!
//! A [`FieldSet`] is the tree the real server serialises as `FieldsV1`: `f:<field>` for map
//! members, `k:{"name":"app"}` for items of keyed lists, `v:<json>` for members of set lists and
//! `.` for a node that is itself owned (list items). Server-side apply compares the field sets
//! of managers to find conflicts and to decide which fields an applier may remove; plain
//! updates record which fields each manager last changed.

use super::schema::{ListKind, list_kind, map_is_atomic};
use crate::meta::now_rfc3339;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// A set of field paths, as a tree.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct FieldSet {
    members: BTreeMap<String, FieldSet>,
    owned: bool,
}

/// Metadata fields the server sets and no manager owns.
const SERVER_METADATA: &[&str] = &[
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
];

impl FieldSet {
    /// Parses a `fieldsV1` object.
    pub(crate) fn from_json(value: &Value) -> Self {
        let mut set = FieldSet::default();
        if let Value::Object(map) = value {
            if map.is_empty() {
                set.owned = true;
            }
            for (key, child) in map {
                if key == "." {
                    set.owned = true;
                } else {
                    set.members.insert(key.clone(), FieldSet::from_json(child));
                }
            }
        }
        set
    }

    /// Renders the `fieldsV1` object.
    pub(crate) fn to_json(&self) -> Value {
        let mut map = Map::new();
        if self.owned && !self.members.is_empty() {
            map.insert(".".into(), json!({}));
        }
        for (key, child) in &self.members {
            map.insert(key.clone(), child.to_json());
        }
        Value::Object(map)
    }

    /// Whether nothing is owned.
    pub(crate) fn is_empty(&self) -> bool {
        !self.owned && self.members.values().all(FieldSet::is_empty)
    }

    /// Every owned path.
    pub(crate) fn paths(&self) -> Vec<Vec<String>> {
        let mut paths = Vec::new();
        self.collect(&mut Vec::new(), &mut paths);
        paths
    }

    fn collect(&self, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
        if self.owned && !prefix.is_empty() {
            out.push(prefix.clone());
        }
        for (key, child) in &self.members {
            prefix.push(key.clone());
            child.collect(prefix, out);
            prefix.pop();
        }
    }

    /// Whether the path itself is owned.
    pub(crate) fn contains(&self, path: &[String]) -> bool {
        self.node(path).is_some_and(|node| node.owned)
    }

    /// Whether the path or anything below it is owned.
    pub(crate) fn contains_within(&self, path: &[String]) -> bool {
        self.node(path).is_some_and(|node| !node.is_empty())
    }

    fn node(&self, path: &[String]) -> Option<&FieldSet> {
        let mut node = self;
        for element in path {
            node = node.members.get(element)?;
        }
        Some(node)
    }

    /// Adds a path.
    pub(crate) fn insert(&mut self, path: &[String]) {
        let mut node = self;
        for element in path {
            node = node.members.entry(element.clone()).or_default();
        }
        node.owned = true;
    }

    /// Removes a path and everything below it.
    pub(crate) fn remove(&mut self, path: &[String]) {
        let Some((last, parents)) = path.split_last() else {
            *self = FieldSet::default();
            return;
        };
        let mut node = self;
        for element in parents {
            match node.members.get_mut(element) {
                Some(child) => node = child,
                None => return,
            }
        }
        node.members.remove(last);
    }

    /// Adds every path of `other`.
    pub(crate) fn union(&mut self, other: &FieldSet) {
        for path in other.paths() {
            self.insert(&path);
        }
    }

    /// Drops empty interior nodes.
    pub(crate) fn prune(&mut self) {
        for child in self.members.values_mut() {
            child.prune();
        }
        self.members.retain(|_, child| !child.is_empty());
    }
}

/// The key of a keyed-list item, as used in `k:` path elements. Missing `protocol` keys count
/// as `TCP`, the value the real server defaults before it compares.
pub(crate) fn item_key(item: &Value, keys: &[&str]) -> Map<String, Value> {
    let mut map = Map::new();
    for key in keys {
        match item.get(*key) {
            Some(value) => {
                map.insert((*key).to_owned(), value.clone());
            }
            None if *key == "protocol" => {
                map.insert("protocol".into(), Value::from("TCP"));
            }
            None => {}
        }
    }
    map
}

fn key_element(item: &Value, keys: &[&str]) -> String {
    format!(
        "k:{}",
        serde_json::to_string(&Value::Object(item_key(item, keys))).unwrap_or_default()
    )
}

/// The fields `object` (of `kind`) sets, excluding server-managed metadata. `status` is
/// excluded unless `status_only`, in which case only `status` is included.
pub(crate) fn fieldset_of(object: &Value, kind: &str, status_only: bool) -> FieldSet {
    let mut set = FieldSet::default();
    let Value::Object(map) = object else {
        return set;
    };
    for (key, value) in map {
        if key == "apiVersion" || key == "kind" || (key == "status") != status_only {
            continue;
        }
        let mut child = FieldSet::default();
        if key == "metadata" {
            if let Value::Object(metadata) = value {
                for (field, value) in metadata {
                    if SERVER_METADATA.contains(&field.as_str()) {
                        continue;
                    }
                    let mut grandchild = FieldSet::default();
                    walk(
                        value,
                        kind,
                        &mut vec!["metadata", field.as_str()],
                        &mut grandchild,
                    );
                    child.members.insert(format!("f:{field}"), grandchild);
                }
            }
            child.prune();
            if child.is_empty() {
                continue;
            }
        } else {
            walk(value, kind, &mut vec![key.as_str()], &mut child);
        }
        set.members.insert(format!("f:{key}"), child);
    }
    set
}

fn walk<'a>(value: &'a Value, kind: &str, path: &mut Vec<&'a str>, node: &mut FieldSet) {
    match value {
        Value::Object(map) if !map.is_empty() && !map_is_atomic(path) => {
            for (key, child) in map {
                let mut child_node = FieldSet::default();
                path.push(key.as_str());
                walk(child, kind, path, &mut child_node);
                path.pop();
                node.members.insert(format!("f:{key}"), child_node);
            }
        }
        Value::Array(items) if !items.is_empty() => match list_kind(kind, path) {
            ListKind::Map { apply_keys, .. } => {
                for item in items {
                    let mut item_node = FieldSet::default();
                    walk(item, kind, path, &mut item_node);
                    item_node.owned = true;
                    node.members
                        .insert(key_element(item, apply_keys), item_node);
                }
            }
            ListKind::Set => {
                for item in items {
                    node.members.insert(
                        format!("v:{item}"),
                        FieldSet {
                            members: BTreeMap::new(),
                            owned: true,
                        },
                    );
                }
            }
            ListKind::Atomic => node.owned = true,
        },
        _ => node.owned = true,
    }
}

/// Follows a field-set path into a value.
pub(crate) fn resolve<'a>(value: &'a Value, path: &[String]) -> Option<&'a Value> {
    let mut current = value;
    for element in path {
        current = step(current, element)?;
    }
    Some(current)
}

fn step<'a>(value: &'a Value, element: &str) -> Option<&'a Value> {
    if let Some(field) = element.strip_prefix("f:") {
        return value.get(field);
    }
    if let Some(key) = element.strip_prefix("k:") {
        let key: Map<String, Value> = serde_json::from_str(key).ok()?;
        let keys: Vec<&str> = key.keys().map(String::as_str).collect();
        return value
            .as_array()?
            .iter()
            .find(|item| item_key(item, &keys) == key);
    }
    if let Some(member) = element.strip_prefix("v:") {
        let member: Value = serde_json::from_str(member).ok()?;
        return value.as_array()?.iter().find(|item| **item == member);
    }
    None
}

/// Removes the value at a field-set path, if present. Maps emptied by the removal are removed
/// too, so un-applying the last label does not leave `labels: {}` behind.
pub(crate) fn remove_path(value: &mut Value, path: &[String]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let Some(parent) = resolve_mut(value, parents) else {
        return;
    };
    if let Some(field) = last.strip_prefix("f:") {
        if let Value::Object(map) = parent {
            map.remove(field);
        }
    } else if let Some(key) = last.strip_prefix("k:") {
        if let (Ok(key), Value::Array(items)) =
            (serde_json::from_str::<Map<String, Value>>(key), parent)
        {
            let keys: Vec<&str> = key.keys().map(String::as_str).collect();
            items.retain(|item| item_key(item, &keys) != key);
        }
    } else if let Some(member) = last.strip_prefix("v:") {
        if let (Ok(member), Value::Array(items)) = (serde_json::from_str::<Value>(member), parent) {
            items.retain(|item| *item != member);
        }
    }
    if parents.len() > 1 {
        let emptied = resolve(value, parents).is_some_and(|parent| {
            parent.as_object().is_some_and(Map::is_empty)
                || parent.as_array().is_some_and(Vec::is_empty)
        });
        if emptied
            && parents
                .last()
                .is_some_and(|element| element.starts_with("f:"))
        {
            remove_path(value, parents);
        }
    }
}

fn resolve_mut<'a>(value: &'a mut Value, path: &[String]) -> Option<&'a mut Value> {
    let mut current = value;
    for element in path {
        current = step_mut(current, element)?;
    }
    Some(current)
}

fn step_mut<'a>(value: &'a mut Value, element: &str) -> Option<&'a mut Value> {
    if let Some(field) = element.strip_prefix("f:") {
        return value.get_mut(field);
    }
    if let Some(key) = element.strip_prefix("k:") {
        let key: Map<String, Value> = serde_json::from_str(key).ok()?;
        let keys: Vec<&str> = key.keys().map(String::as_str).collect();
        return value
            .as_array_mut()?
            .iter_mut()
            .find(|item| item_key(item, &keys) == key);
    }
    None
}

/// Renders a path as the real server does in conflict messages:
/// `.spec.template.spec.containers[name="app"].image`.
pub(crate) fn render_path(path: &[String]) -> String {
    let mut out = String::new();
    for element in path {
        if let Some(field) = element.strip_prefix("f:") {
            out.push('.');
            out.push_str(field);
        } else if let Some(key) = element.strip_prefix("k:") {
            let key: Map<String, Value> = serde_json::from_str(key).unwrap_or_default();
            let parts: Vec<String> = key.iter().map(|(k, v)| format!("{k}={v}")).collect();
            out.push_str(&format!("[{}]", parts.join(",")));
        } else if let Some(member) = element.strip_prefix("v:") {
            out.push_str(&format!("[={member}]"));
        }
    }
    out
}

/// One `managedFields` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ManagedEntry {
    /// The field manager.
    pub(crate) manager: String,
    /// `Apply` or `Update`.
    pub(crate) operation: String,
    /// The API version the manager used.
    pub(crate) api_version: String,
    /// When the entry last changed.
    pub(crate) time: String,
    /// `status` for status-subresource writes.
    pub(crate) subresource: Option<String>,
    /// The owned fields.
    pub(crate) fields: FieldSet,
}

impl ManagedEntry {
    fn to_json(&self) -> Value {
        let mut entry = json!({
            "manager": self.manager,
            "operation": self.operation,
            "apiVersion": self.api_version,
            "time": self.time,
            "fieldsType": "FieldsV1",
            "fieldsV1": self.fields.to_json(),
        });
        if let Some(subresource) = &self.subresource {
            entry["subresource"] = Value::String(subresource.clone());
        }
        entry
    }

    fn same_owner(&self, manager: &str, operation: &str, subresource: Option<&str>) -> bool {
        self.manager == manager
            && self.operation == operation
            && self.subresource.as_deref() == subresource
    }
}

/// Reads `metadata.managedFields`.
pub(crate) fn read_managed(object: &Value) -> Vec<ManagedEntry> {
    object
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .map(|entries| {
            entries
                .iter()
                .map(|entry| ManagedEntry {
                    manager: entry["manager"].as_str().unwrap_or_default().to_owned(),
                    operation: entry["operation"].as_str().unwrap_or("Update").to_owned(),
                    api_version: entry["apiVersion"].as_str().unwrap_or_default().to_owned(),
                    time: entry["time"].as_str().unwrap_or_default().to_owned(),
                    subresource: entry["subresource"].as_str().map(str::to_owned),
                    fields: FieldSet::from_json(&entry["fieldsV1"]),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Writes `metadata.managedFields` (removing it when empty).
pub(crate) fn write_managed(object: &mut Value, entries: &[ManagedEntry]) {
    let metadata = crate::meta::metadata_mut(object);
    let entries: Vec<Value> = entries
        .iter()
        .filter(|entry| !entry.fields.is_empty())
        .map(ManagedEntry::to_json)
        .collect();
    if entries.is_empty() {
        metadata.remove("managedFields");
    } else {
        metadata.insert("managedFields".into(), Value::Array(entries));
    }
}

/// Who is writing, for managed-fields bookkeeping.
#[derive(Debug, Clone)]
pub(crate) struct Writer<'a> {
    /// The field manager.
    pub(crate) manager: &'a str,
    /// The object's API version.
    pub(crate) api_version: &'a str,
    /// The subresource written (`status`, `scale`), if any.
    pub(crate) subresource: Option<&'a str>,
}

/// Records an `Update` operation (create, replace or non-apply patch) from `old` to `new`:
/// the writer takes ownership of every field it changed, other managers lose them, and fields
/// that disappeared leave every set.
pub(crate) fn record_update(old: Option<&Value>, new: &mut Value, kind: &str, writer: &Writer<'_>) {
    let mut entries = read_managed(old.unwrap_or(&Value::Null));
    let status = writer.subresource == Some("status");
    let new_fields = fieldset_of(new, kind, status);
    let mut changed = FieldSet::default();
    for path in new_fields.paths() {
        let before = old.and_then(|old| resolve(old, &path));
        let after = resolve(new, &path);
        let is_leaf = new_fields
            .node(&path)
            .is_some_and(|node| node.members.is_empty());
        if before.is_none() || (is_leaf && before != after) {
            changed.insert(&path);
        }
    }
    if let Some(old) = old {
        for path in fieldset_of(old, kind, status).paths() {
            if resolve(new, &path).is_none() {
                for entry in &mut entries {
                    entry.fields.remove(&path);
                }
            }
        }
    }
    let subresource = writer.subresource;
    for entry in &mut entries {
        if !entry.same_owner(writer.manager, "Update", subresource) {
            for path in changed.paths() {
                if entry.fields.contains(&path)
                    && changed.node(&path).is_some_and(|n| n.members.is_empty())
                {
                    entry.fields.remove(&path);
                }
            }
            entry.fields.prune();
        }
    }
    if !changed.is_empty() {
        let now = now_rfc3339();
        match entries
            .iter_mut()
            .find(|entry| entry.same_owner(writer.manager, "Update", subresource))
        {
            Some(entry) => {
                entry.fields.union(&changed);
                entry.time = now;
                writer.api_version.clone_into(&mut entry.api_version);
            }
            None => entries.push(ManagedEntry {
                manager: writer.manager.to_owned(),
                operation: "Update".into(),
                api_version: writer.api_version.to_owned(),
                time: now,
                subresource: subresource.map(str::to_owned),
                fields: changed,
            }),
        }
    }
    write_managed(new, &entries);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployment_fieldset_has_real_shape() {
        let object = json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "api", "labels": {"app": "api"}},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "api"}},
                "template": {"spec": {"containers": [{"name": "app", "image": "nginx", "ports": [{"containerPort": 80}]}]}},
            },
            "status": {"replicas": 2},
        });
        let set = fieldset_of(&object, "Deployment", false);
        assert_eq!(
            set.to_json(),
            json!({
                "f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {
                    "f:replicas": {},
                    "f:selector": {},
                    "f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"app\"}": {
                        ".": {},
                        "f:image": {},
                        "f:name": {},
                        "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}},
                    }}}},
                },
            })
        );
        assert_eq!(FieldSet::from_json(&set.to_json()), set);
        let path: Vec<String> = [
            "f:spec",
            "f:template",
            "f:spec",
            "f:containers",
            "k:{\"name\":\"app\"}",
            "f:image",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        assert_eq!(resolve(&object, &path), Some(&json!("nginx")));
        assert_eq!(
            render_path(&path),
            ".spec.template.spec.containers[name=\"app\"].image"
        );
    }

    #[test]
    fn update_moves_ownership() {
        let old_object = json!({"metadata": {"name": "c"}, "data": {"a": "1", "b": "2"}});
        let mut created = old_object.clone();
        record_update(
            None,
            &mut created,
            "ConfigMap",
            &Writer {
                manager: "first",
                api_version: "v1",
                subresource: None,
            },
        );
        let mut updated = json!({"metadata": created["metadata"].clone(), "data": {"a": "9"}});
        record_update(
            Some(&created),
            &mut updated,
            "ConfigMap",
            &Writer {
                manager: "second",
                api_version: "v1",
                subresource: None,
            },
        );
        let entries = read_managed(&updated);
        assert_eq!(entries.len(), 1, "{entries:?}");
        assert_eq!(entries[0].manager, "second");
        assert_eq!(entries[0].fields.to_json(), json!({"f:data": {"f:a": {}}}));
    }
}
