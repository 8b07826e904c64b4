//! Server-side apply, `application/apply-patch+yaml`.
//!
//! An approximation of the structured-merge-diff algorithm that is faithful for the cases
//! kubectl and helm exercise:
//!
//! 1. The applied configuration's field set is computed ([`fieldset_of`]).
//! 2. Every leaf it sets to a value that differs from the live value and that another manager
//!    owns is a conflict; conflicts fail the request with `409 Conflict` unless `force=true`,
//!    in which case the other managers lose those fields.
//! 3. Fields the applier owned before but no longer sets are removed from the object, unless
//!    another manager also owns them.
//! 4. The configuration is merged into the live object: maps recursively, keyed lists by
//!    their list-map keys, sets by value, and atomic lists and scalars replaced.
//! 5. The applier's `Apply` entry in `managedFields` becomes exactly the applied field set.

use super::{
    fieldset::{
        FieldSet, ManagedEntry, fieldset_of, item_key, read_managed, remove_path, render_path,
        resolve, write_managed,
    },
    schema::{ListKind, list_kind, map_is_atomic},
};
use crate::{errors::Cause, meta::now_rfc3339};
use serde_json::{Map, Value};

/// A server-side apply request.
#[derive(Debug)]
pub(crate) struct ApplyRequest<'a> {
    /// The field manager (required by the real server for apply).
    pub(crate) manager: &'a str,
    /// The applied configuration.
    pub(crate) config: &'a Value,
    /// The object's kind.
    pub(crate) kind: &'a str,
    /// The object's API version.
    pub(crate) api_version: &'a str,
    /// Whether conflicts are overridden.
    pub(crate) force: bool,
    /// Whether this is an apply to the status subresource.
    pub(crate) status: bool,
    /// Conflicting fields that are overridden as if forced: for `kubectl`, the fields its
    /// client-side-apply annotation still describes (see [`last_applied_fields`]).
    pub(crate) allowed_conflicts: Option<FieldSet>,
}

/// A manager as the real server names it in conflicts (`printManager` in apimachinery's
/// `managedfields/internal/conflict.go`): `"helm"` for appliers, `"kubectl-scale" with
/// subresource "scale" using apps/v1` for updaters.
fn print_manager(entry: &ManagedEntry) -> String {
    let mut printed = format!("{:?}", entry.manager);
    if let Some(subresource) = &entry.subresource {
        printed.push_str(&format!(" with subresource {subresource:?}"));
    }
    if entry.operation == "Update" {
        printed.push_str(&format!(" using {}", entry.api_version));
    }
    printed
}

/// The annotation client-side apply keeps its last configuration in.
pub(crate) const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// The fields of the live object's client-side-apply annotation whose values still match the
/// live object. The real server lets the `kubectl` manager take these over without a conflict,
/// so that switching from `kubectl apply` to `kubectl apply --server-side` works
/// (`lastAppliedManager` in apimachinery's `managedfields/internal`).
pub(crate) fn last_applied_fields(live: &Value, kind: &str) -> Option<FieldSet> {
    let text = crate::meta::annotation(live, LAST_APPLIED)?;
    let last_applied: Value = serde_json::from_str(text).ok()?;
    let all = fieldset_of(&last_applied, kind, false);
    let mut allowed = FieldSet::default();
    for path in all.paths() {
        if resolve(&last_applied, &path) == resolve(live, &path)
            || path.last().is_some_and(|e| e.starts_with("k:"))
        {
            allowed.insert(&path);
        }
    }
    Some(allowed)
}

/// The value `kubectl`'s server-side applies keep in the client-side-apply annotation: the
/// applied configuration without the annotation, as JSON with a trailing newline
/// (`lastAppliedUpdater`).
pub(crate) fn last_applied_value(config: &Value) -> String {
    let mut config = config.clone();
    if let Some(Value::Object(annotations)) = config.pointer_mut("/metadata/annotations") {
        annotations.remove(LAST_APPLIED);
    }
    format!("{}\n", serde_json::to_string(&config).unwrap_or_default())
}

/// Applies `request.config` to `live` (an empty object for create-on-apply). On conflict,
/// returns the causes and leaves `live` unchanged.
pub(crate) fn apply(live: &mut Value, request: &ApplyRequest<'_>) -> Result<(), Vec<Cause>> {
    let applied = fieldset_of(request.config, request.kind, request.status);
    let subresource = request.status.then(|| "status".to_owned());
    let mut entries = read_managed(live);
    let is_applier = |entry: &ManagedEntry| {
        entry.manager == request.manager
            && entry.operation == "Apply"
            && entry.subresource == subresource
    };

    let mut conflicts = Vec::new();
    let mut forced: Vec<Vec<String>> = Vec::new();
    for path in applied.paths() {
        let Some(live_value) = resolve(live, &path) else {
            continue;
        };
        let config_value = resolve(request.config, &path);
        let is_leaf = !matches!(config_value, Some(Value::Object(map)) if !map.is_empty() && !is_atomic_map(&path))
            && !path.last().is_some_and(|element| element.starts_with("k:"));
        if !is_leaf || config_value == Some(live_value) {
            continue;
        }
        for entry in entries.iter().filter(|entry| !is_applier(entry)) {
            if entry.fields.contains(&path) {
                let allowed = request
                    .allowed_conflicts
                    .as_ref()
                    .is_some_and(|allowed| allowed.contains(&path));
                if request.force || allowed {
                    forced.push(path.clone());
                } else {
                    conflicts.push(Cause {
                        reason: "FieldManagerConflict",
                        message: format!("conflict with {}", print_manager(entry)),
                        field: render_path(&path),
                    });
                }
            }
        }
    }
    if !conflicts.is_empty() {
        return Err(conflicts);
    }
    for entry in entries.iter_mut().filter(|entry| !is_applier(entry)) {
        for path in &forced {
            entry.fields.remove(path);
        }
        entry.fields.prune();
    }

    let previous = entries
        .iter()
        .find(|entry| is_applier(entry))
        .map(|entry| entry.fields.clone())
        .unwrap_or_default();
    let mut removed: Vec<Vec<String>> = previous
        .paths()
        .into_iter()
        .filter(|path| !applied.contains(path))
        .filter(|path| {
            !entries
                .iter()
                .filter(|entry| !is_applier(entry))
                .any(|entry| entry.fields.contains_within(path))
        })
        .collect();
    // Whole list items go before their fields: removing an item's key fields first would
    // leave the item unfindable.
    removed.sort_by_key(Vec::len);
    for path in &removed {
        if !applied.contains_within(path) && !is_item_key(path) {
            remove_path(live, path);
        }
    }

    let view = config_view(request.config, request.status);
    let mut field_path = Vec::new();
    merge(live, &view, request.kind, &mut field_path, true);

    let now = now_rfc3339();
    entries.retain(|entry| !is_applier(entry));
    entries.push(ManagedEntry {
        manager: request.manager.to_owned(),
        operation: "Apply".into(),
        api_version: request.api_version.to_owned(),
        time: now,
        subresource,
        fields: applied,
    });
    write_managed(live, &entries);
    Ok(())
}

/// The part of the configuration an apply writes: `status` alone for the status subresource,
/// everything but `status` otherwise.
fn config_view(config: &Value, status: bool) -> Value {
    let Value::Object(map) = config else {
        return Value::Object(Map::new());
    };
    Value::Object(
        map.iter()
            .filter(|(key, _)| {
                (key.as_str() == "status") == status || (status && key.as_str() == "metadata")
            })
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect(),
    )
}

/// Whether the path ends at one of the key fields of a keyed-list item, which stay as long as
/// the item does.
fn is_item_key(path: &[String]) -> bool {
    let [.., item, field] = path else {
        return false;
    };
    let (Some(key), Some(field)) = (item.strip_prefix("k:"), field.strip_prefix("f:")) else {
        return false;
    };
    serde_json::from_str::<Map<String, Value>>(key).is_ok_and(|key| key.contains_key(field))
}

fn is_atomic_map(path: &[String]) -> bool {
    let names: Vec<&str> = path
        .iter()
        .filter_map(|element| element.strip_prefix("f:"))
        .collect();
    map_is_atomic(&names)
}

fn merge<'a>(live: &mut Value, config: &'a Value, kind: &str, path: &mut Vec<&'a str>, root: bool) {
    match config {
        Value::Object(config_map) if !map_is_atomic(path) => {
            if !live.is_object() {
                *live = Value::Object(Map::new());
            }
            let live_map = live.as_object_mut().expect("live was just made a map");
            for (key, value) in config_map {
                if root && key == "metadata" {
                    let slot = live_map.entry(key.clone()).or_insert(Value::Null);
                    if let Value::Object(metadata) = value {
                        for (field, value) in metadata {
                            if matches!(
                                field.as_str(),
                                "managedFields"
                                    | "resourceVersion"
                                    | "uid"
                                    | "creationTimestamp"
                                    | "generation"
                            ) {
                                continue;
                            }
                            if !slot.is_object() {
                                *slot = Value::Object(Map::new());
                            }
                            let target = slot
                                .as_object_mut()
                                .expect("metadata was just made a map")
                                .entry(field.clone())
                                .or_insert(Value::Null);
                            path.push("metadata");
                            path.push(field.as_str());
                            merge(target, value, kind, path, false);
                            path.pop();
                            path.pop();
                        }
                    }
                    continue;
                }
                path.push(key.as_str());
                merge(
                    live_map.entry(key.clone()).or_insert(Value::Null),
                    value,
                    kind,
                    path,
                    false,
                );
                path.pop();
            }
        }
        Value::Array(config_items) => match list_kind(kind, path) {
            ListKind::Map { apply_keys, .. } => {
                if !live.is_array() {
                    *live = Value::Array(Vec::new());
                }
                let live_items = live.as_array_mut().expect("live was just made a list");
                for item in config_items {
                    let key = item_key(item, apply_keys);
                    match live_items
                        .iter_mut()
                        .find(|existing| item_key(existing, apply_keys) == key)
                    {
                        Some(existing) => merge(existing, item, kind, path, false),
                        None => live_items.push(item.clone()),
                    }
                }
            }
            ListKind::Set => {
                if !live.is_array() {
                    *live = Value::Array(Vec::new());
                }
                let live_items = live.as_array_mut().expect("live was just made a list");
                for item in config_items {
                    if !live_items.contains(item) {
                        live_items.push(item.clone());
                    }
                }
            }
            ListKind::Atomic => *live = config.clone(),
        },
        other => *live = other.clone(),
    }
}

/// The managers' field sets, for tests.
#[cfg(test)]
fn fields_of(object: &Value, manager: &str) -> Option<FieldSet> {
    read_managed(object)
        .into_iter()
        .find(|entry| entry.manager == manager)
        .map(|entry| entry.fields)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patch::fieldset::{Writer, record_update};
    use serde_json::json;

    fn request<'a>(manager: &'a str, config: &'a Value, force: bool) -> ApplyRequest<'a> {
        ApplyRequest {
            manager,
            config,
            kind: "Deployment",
            api_version: "apps/v1",
            force,
            status: false,
            allowed_conflicts: None,
        }
    }

    fn config(image: &str, replicas: Option<i64>) -> Value {
        let mut config = json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "api", "labels": {"app": "api"}},
            "spec": {
                "selector": {"matchLabels": {"app": "api"}},
                "template": {"metadata": {"labels": {"app": "api"}}, "spec": {"containers": [{"name": "app", "image": image}]}},
            },
        });
        if let Some(replicas) = replicas {
            config["spec"]["replicas"] = json!(replicas);
        }
        config
    }

    #[test]
    fn create_then_reapply_removes_dropped_fields() {
        let mut live = json!({});
        apply(
            &mut live,
            &request("kubectl", &config("nginx:1", Some(3)), false),
        )
        .expect("applies");
        assert_eq!(live["spec"]["replicas"], 3);
        assert!(fields_of(&live, "kubectl").is_some());
        apply(
            &mut live,
            &request("kubectl", &config("nginx:2", None), false),
        )
        .expect("applies");
        assert!(live["spec"].get("replicas").is_none());
        assert_eq!(
            live["spec"]["template"]["spec"]["containers"][0]["image"],
            "nginx:2"
        );
    }

    #[test]
    fn conflicts_with_other_managers_unless_forced() {
        let mut live = json!({});
        apply(
            &mut live,
            &request("helm", &config("nginx:1", Some(1)), false),
        )
        .expect("applies");
        let error = apply(
            &mut live,
            &request("kubectl", &config("nginx:2", Some(1)), false),
        )
        .expect_err("conflicts");
        assert_eq!(error.len(), 1);
        assert_eq!(
            error[0].field,
            ".spec.template.spec.containers[name=\"app\"].image"
        );
        assert_eq!(error[0].message, "conflict with \"helm\"");
        apply(
            &mut live,
            &request("kubectl", &config("nginx:2", Some(1)), true),
        )
        .expect("forced");
        assert_eq!(
            live["spec"]["template"]["spec"]["containers"][0]["image"],
            "nginx:2"
        );
        let helm = fields_of(&live, "helm").expect("helm still owns fields");
        assert!(!helm.to_json().to_string().contains("f:image"));
        assert!(helm.to_json().to_string().contains("f:replicas"));
    }

    #[test]
    fn fields_shared_with_another_manager_are_kept() {
        let mut live = json!({});
        apply(&mut live, &request("a", &config("nginx:1", Some(2)), false)).expect("applies");
        apply(&mut live, &request("b", &config("nginx:1", Some(2)), false))
            .expect("same values share");
        apply(&mut live, &request("a", &config("nginx:1", None), false)).expect("applies");
        assert_eq!(live["spec"]["replicas"], 2, "b still owns replicas");
    }

    #[test]
    fn dropped_list_items_are_removed_whole() {
        let mut live = json!({});
        let mut two = config("nginx:1", Some(1));
        two["spec"]["template"]["spec"]["containers"]
            .as_array_mut()
            .expect("a list")
            .push(json!({"name": "sidecar", "image": "envoy"}));
        apply(&mut live, &request("kubectl", &two, false)).expect("applies");
        apply(
            &mut live,
            &request("kubectl", &config("nginx:1", Some(1)), false),
        )
        .expect("applies");
        assert_eq!(
            live["spec"]["template"]["spec"]["containers"],
            json!([{"name": "app", "image": "nginx:1"}])
        );
    }

    #[test]
    fn update_managers_conflict_too() {
        let mut live = json!({});
        apply(
            &mut live,
            &request("helm", &config("nginx:1", Some(1)), false),
        )
        .expect("applies");
        let before = live.clone();
        live["spec"]["replicas"] = json!(5);
        record_update(
            Some(&before),
            &mut live,
            "Deployment",
            &Writer {
                manager: "kubectl",
                api_version: "apps/v1",
                subresource: None,
            },
        );
        let error = apply(
            &mut live,
            &request("helm", &config("nginx:1", Some(1)), false),
        )
        .expect_err("replicas now belong to kubectl");
        assert_eq!(error[0].field, ".spec.replicas");
    }
}
