//! Strategic merge patch, `application/strategic-merge-patch+json`.
//!
//! This applies patches the way `strategicpatch.StrategicMergePatch` does on the real server:
//! maps merge recursively and `null` deletes a key; lists merge by their patch merge key
//! ([`super::schema::list_kind`]) or are replaced when atomic; primitive lists with the merge
//! strategy (`metadata.finalizers`) are unioned. The directives kubectl and helm send are
//! honoured: `$patch: replace|delete|merge` on maps and list items, `$retainKeys`,
//! `$setElementOrder/<field>` and `$deleteFromPrimitiveList/<field>`.

use super::schema::{ListKind, list_kind};
use serde_json::{Map, Value};

const PATCH: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const SET_ELEMENT_ORDER: &str = "$setElementOrder/";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList/";

/// Why a strategic merge patch could not be applied.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StrategicPatchError {
    /// The patch is not a JSON object.
    #[error("the strategic merge patch is not a JSON object")]
    NotAnObject,
    /// An unknown `$patch` directive.
    #[error("unknown patch type: {0}")]
    UnknownDirective(String),
    /// A list item lacks its merge key.
    #[error("map: {item} does not contain declared merge key: {key}")]
    MissingMergeKey {
        /// The item, rendered.
        item: String,
        /// The merge key.
        key: &'static str,
    },
}

/// Applies `patch` to `target` (an object of `kind`) in place.
pub(crate) fn apply(
    target: &mut Value,
    patch: &Value,
    kind: &str,
) -> Result<(), StrategicPatchError> {
    let Value::Object(patch) = patch else {
        return Err(StrategicPatchError::NotAnObject);
    };
    let mut fields = Vec::new();
    match merge_map(target, patch, kind, &mut fields)? {
        MapOutcome::Keep => Ok(()),
        MapOutcome::Delete => {
            *target = Value::Object(Map::new());
            Ok(())
        }
    }
}

enum MapOutcome {
    Keep,
    Delete,
}

fn directive(patch: &Map<String, Value>) -> Result<Option<&str>, StrategicPatchError> {
    match patch.get(PATCH) {
        None => Ok(None),
        Some(Value::String(value)) if matches!(value.as_str(), "replace" | "delete" | "merge") => {
            Ok(Some(value.as_str()))
        }
        Some(other) => Err(StrategicPatchError::UnknownDirective(other.to_string())),
    }
}

/// Removes every directive from a value that is stored as-is (new keys, replaced maps).
fn strip(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(key, value)| {
                    !key.starts_with('$')
                        && !value
                            .as_object()
                            .is_some_and(|inner| inner.get(PATCH) == Some(&Value::from("delete")))
                })
                .map(|(key, value)| (key.clone(), strip(value)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .filter(|item| {
                    !item
                        .as_object()
                        .is_some_and(|inner| inner.contains_key(PATCH))
                })
                .map(strip)
                .collect(),
        ),
        other => other.clone(),
    }
}

fn merge_map<'p>(
    target: &mut Value,
    patch: &'p Map<String, Value>,
    kind: &str,
    fields: &mut Vec<&'p str>,
) -> Result<MapOutcome, StrategicPatchError> {
    match directive(patch)? {
        Some("delete") => return Ok(MapOutcome::Delete),
        Some("replace") => {
            *target = strip(&Value::Object(patch.clone()));
            return Ok(MapOutcome::Keep);
        }
        _ => {}
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let map = target.as_object_mut().expect("target was just made a map");
    if let Some(Value::Array(retained)) = patch.get(RETAIN_KEYS) {
        let retained: Vec<&str> = retained.iter().filter_map(Value::as_str).collect();
        map.retain(|key, _| retained.contains(&key.as_str()));
    }
    for (key, value) in patch {
        if let Some(field) = key.strip_prefix(DELETE_FROM_PRIMITIVE_LIST) {
            if let (Some(Value::Array(items)), Value::Array(removed)) = (map.get_mut(field), value)
            {
                items.retain(|item| !removed.contains(item));
            }
            continue;
        }
        if key.starts_with('$') {
            continue;
        }
        if value.is_null() {
            map.remove(key);
            continue;
        }
        fields.push(key.as_str());
        match value {
            Value::Object(inner) => {
                let slot = map.entry(key.clone()).or_insert(Value::Null);
                if !slot.is_object() {
                    *slot = Value::Object(Map::new());
                }
                if let MapOutcome::Delete = merge_map(slot, inner, kind, fields)? {
                    map.remove(key);
                }
            }
            Value::Array(items) => {
                let slot = map.entry(key.clone()).or_insert(Value::Null);
                merge_list(slot, items, kind, fields)?;
            }
            scalar => {
                map.insert(key.clone(), scalar.clone());
            }
        }
        fields.pop();
    }
    for (key, order) in patch {
        if let (Some(field), Value::Array(order)) = (key.strip_prefix(SET_ELEMENT_ORDER), order) {
            fields.push(field);
            if let Some(Value::Array(items)) = map.get_mut(field) {
                reorder(items, order, list_kind(kind, fields));
            }
            fields.pop();
        }
    }
    Ok(MapOutcome::Keep)
}

fn merge_list<'p>(
    target: &mut Value,
    patch: &'p [Value],
    kind: &str,
    fields: &mut Vec<&'p str>,
) -> Result<(), StrategicPatchError> {
    match list_kind(kind, fields) {
        ListKind::Atomic => *target = strip(&Value::Array(patch.to_vec())),
        ListKind::Set => {
            if !target.is_array() {
                *target = Value::Array(Vec::new());
            }
            let items = target.as_array_mut().expect("target was just made a list");
            for value in patch {
                if !items.contains(value) {
                    items.push(value.clone());
                }
            }
        }
        ListKind::Map { merge_key, .. } => {
            if patch.iter().any(|item| {
                item.as_object()
                    .is_some_and(|map| map.get(PATCH) == Some(&Value::from("replace")))
            }) {
                *target = strip(&Value::Array(patch.to_vec()));
                return Ok(());
            }
            if !target.is_array() {
                *target = Value::Array(Vec::new());
            }
            let items = target.as_array_mut().expect("target was just made a list");
            for item in patch {
                let Value::Object(item_map) = item else {
                    items.push(item.clone());
                    continue;
                };
                let key = item_map.get(merge_key).ok_or_else(|| {
                    StrategicPatchError::MissingMergeKey {
                        item: item.to_string(),
                        key: merge_key,
                    }
                })?;
                let position = items
                    .iter()
                    .position(|existing| existing.get(merge_key) == Some(key));
                if directive(item_map)? == Some("delete") {
                    items.retain(|existing| existing.get(merge_key) != Some(key));
                    continue;
                }
                match position {
                    Some(index) => {
                        if let MapOutcome::Delete =
                            merge_map(&mut items[index], item_map, kind, fields)?
                        {
                            items.remove(index);
                        }
                    }
                    None => items.push(strip(item)),
                }
            }
        }
    }
    Ok(())
}

/// Orders `items` as `$setElementOrder` lists them; items the order does not name (present
/// only on the server) keep their relative order after the named ones.
fn reorder(items: &mut Vec<Value>, order: &[Value], kind: ListKind) {
    let rank = |item: &Value| -> usize {
        let found = match kind {
            ListKind::Map { merge_key, .. } => order.iter().position(|entry| {
                entry.get(merge_key).is_some() && entry.get(merge_key) == item.get(merge_key)
            }),
            _ => order.iter().position(|entry| entry == item),
        };
        found.unwrap_or(usize::MAX)
    };
    let mut ranked: Vec<(usize, usize, Value)> = items
        .drain(..)
        .enumerate()
        .map(|(index, item)| (rank(&item), index, item))
        .collect();
    ranked.sort_by_key(|(rank, index, _)| (*rank, *index));
    items.extend(ranked.into_iter().map(|(_, _, item)| item));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment(containers: &Value) -> Value {
        json!({"spec": {"template": {"spec": {"containers": containers}}}})
    }

    #[test]
    fn merges_containers_by_name() {
        let mut target = deployment(&json!([
            {"name": "app", "image": "nginx:1", "ports": [{"containerPort": 80}]},
            {"name": "sidecar", "image": "envoy:1"},
        ]));
        let patch = deployment(&json!([{"name": "app", "image": "nginx:2"}]));
        apply(&mut target, &patch, "Deployment").expect("applies");
        assert_eq!(
            target,
            deployment(&json!([
                {"name": "app", "image": "nginx:2", "ports": [{"containerPort": 80}]},
                {"name": "sidecar", "image": "envoy:1"},
            ]))
        );
    }

    #[test]
    fn deletes_list_items_and_keys() {
        let mut target = deployment(&json!([
            {"name": "app", "image": "nginx:1", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
            {"name": "sidecar", "image": "envoy:1"},
        ]));
        let patch = deployment(&json!([
            {"name": "sidecar", "$patch": "delete"},
            {"name": "app", "env": [{"name": "A", "$patch": "delete"}], "image": null},
        ]));
        apply(&mut target, &patch, "Deployment").expect("applies");
        assert_eq!(
            target,
            deployment(&json!([{"name": "app", "env": [{"name": "B", "value": "2"}]}]))
        );
    }

    #[test]
    fn atomic_lists_are_replaced() {
        let mut target = deployment(&json!([{"name": "app", "args": ["a", "b"]}]));
        let patch = deployment(&json!([{"name": "app", "args": ["c"]}]));
        apply(&mut target, &patch, "Deployment").expect("applies");
        assert_eq!(target, deployment(&json!([{"name": "app", "args": ["c"]}])));
    }

    #[test]
    fn replace_directive_on_map_and_list() {
        let mut target = json!({"metadata": {"labels": {"a": "1", "b": "2"}}});
        apply(
            &mut target,
            &json!({"metadata": {"labels": {"$patch": "replace", "c": "3"}}}),
            "ConfigMap",
        )
        .expect("applies");
        assert_eq!(target, json!({"metadata": {"labels": {"c": "3"}}}));

        let mut target = deployment(&json!([{"name": "a"}, {"name": "b"}]));
        let patch = deployment(&json!([{"$patch": "replace"}, {"name": "c"}]));
        apply(&mut target, &patch, "Deployment").expect("applies");
        assert_eq!(target, deployment(&json!([{"name": "c"}])));
    }

    #[test]
    fn set_element_order_as_kubectl_sends_it() {
        let mut target =
            deployment(&json!([{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]));
        let patch = json!({"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "c"}, {"name": "b"}],
            "containers": [{"name": "a", "$patch": "delete"}, {"name": "c", "image": "z"}],
        }}}});
        apply(&mut target, &patch, "Deployment").expect("applies");
        assert_eq!(
            target,
            deployment(&json!([{"name": "c", "image": "z"}, {"name": "b", "image": "y"}]))
        );
    }

    #[test]
    fn retain_keys_clears_unlisted_members() {
        let mut target = json!({"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}});
        let patch = json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate", "rollingUpdate": null}}});
        apply(&mut target, &patch, "Deployment").expect("applies");
        assert_eq!(target, json!({"spec": {"strategy": {"type": "Recreate"}}}));
    }

    #[test]
    fn primitive_merge_lists() {
        let mut target = json!({"metadata": {"finalizers": ["a", "b"]}});
        apply(
            &mut target,
            &json!({"metadata": {"finalizers": ["c"], "$deleteFromPrimitiveList/finalizers": ["a"]}}),
            "ConfigMap",
        )
        .expect("applies");
        assert_eq!(target, json!({"metadata": {"finalizers": ["b", "c"]}}));
    }

    #[test]
    fn service_ports_merge_by_port() {
        let mut target =
            json!({"spec": {"ports": [{"port": 80, "targetPort": 8080}, {"port": 443}]}});
        apply(
            &mut target,
            &json!({"spec": {"ports": [{"port": 80, "targetPort": 9090}]}}),
            "Service",
        )
        .expect("applies");
        assert_eq!(
            target,
            json!({"spec": {"ports": [{"port": 80, "targetPort": 9090}, {"port": 443}]}})
        );
    }

    #[test]
    fn missing_merge_key_is_an_error() {
        let mut target = deployment(&json!([{"name": "a"}]));
        let patch = deployment(&json!([{"image": "x"}]));
        assert!(apply(&mut target, &patch, "Deployment").is_err());
    }
}
