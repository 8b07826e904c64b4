//! Server-side printing: `Table` answers for `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`.
//!
//! `kubectl get` asks for tables and prints whatever columns the server returns. The columns
//! here follow the real server's printers for the common kinds (`READY`, `UP-TO-DATE`,
//! `AVAILABLE` for deployments, `STATUS` and `RESTARTS` for pods, ...); other kinds get
//! `NAME` and `AGE`. Rows embed the object (`includeObject=Object`) or its metadata
//! (`PartialObjectMetadata`, the default), as the real server does.

use crate::{
    meta,
    resources::{Custom, ResourceType},
};
use serde_json::{Value, json};
use std::collections::HashMap;

fn age(object: &Value) -> String {
    let created = object
        .pointer("/metadata/creationTimestamp")
        .and_then(Value::as_str)
        .and_then(meta::parse_rfc3339);
    let Some(created) = created else {
        return "<unknown>".into();
    };
    human_duration(meta::now_seconds().saturating_sub(created))
}

/// kubectl's `duration.HumanDuration`, in whole units.
fn human_duration(seconds: u64) -> String {
    match seconds {
        0..120 => format!("{seconds}s"),
        120..600 => format!("{}m{}s", seconds / 60, seconds % 60),
        600..10_800 => format!("{}m", seconds / 60),
        10_800..28_800 => format!("{}h{}m", seconds / 3600, (seconds % 3600) / 60),
        28_800..172_800 => format!("{}h", seconds / 3600),
        _ => format!("{}d", seconds / 86_400),
    }
}

fn int(object: &Value, pointer: &str) -> i64 {
    meta::int_at(object, pointer).unwrap_or_default()
}

fn text(object: &Value, pointer: &str) -> String {
    object
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// Evaluates the JSONPath subset CRD printer columns use: `.a.b`, `[N]` and
/// `[?(@.key=="value")]` (first match).
fn json_path<'a>(object: &'a Value, path: &str) -> Option<&'a Value> {
    let mut current = object;
    let mut rest = path.trim().trim_start_matches('{').trim_end_matches('}');
    while !rest.is_empty() {
        if let Some(tail) = rest.strip_prefix('.') {
            let end = tail.find(['.', '[']).unwrap_or(tail.len());
            current = current.get(&tail[..end])?;
            rest = &tail[end..];
        } else if let Some(tail) = rest.strip_prefix('[') {
            let end = tail.find(']')?;
            let selector = &tail[..end];
            rest = &tail[end + 1..];
            let items = current.as_array()?;
            current = if let Some(filter) = selector
                .strip_prefix("?(@.")
                .and_then(|filter| filter.strip_suffix(')'))
            {
                let (key, expected) = filter.split_once("==")?;
                let expected = expected.trim().trim_matches(|c| c == '"' || c == '\'');
                items
                    .iter()
                    .find(|item| item.get(key.trim()).and_then(Value::as_str) == Some(expected))?
            } else {
                items.get(selector.trim().parse::<usize>().ok()?)?
            };
        } else {
            return None;
        }
    }
    Some(current)
}

/// A custom type's columns: `Name`, then its definition's printer columns, or `Age` when it
/// declares none, like the real server's table convertor.
fn custom_columns(custom: &Custom) -> Vec<(String, String, i64, String)> {
    let mut columns = vec![("Name".to_owned(), "string".to_owned(), 0, String::new())];
    if custom.columns.is_empty() {
        columns.push(("Age".into(), "date".into(), 0, String::new()));
    }
    columns.extend(custom.columns.iter().map(|column| {
        (
            column.name.clone(),
            column.kind.clone(),
            column.priority,
            column.description.clone(),
        )
    }));
    columns
}

fn custom_cells(custom: &Custom, object: &Value) -> Vec<Value> {
    let mut cells = vec![json!(meta::name_of(object))];
    if custom.columns.is_empty() {
        cells.push(json!(age(object)));
    }
    for column in &custom.columns {
        let value = json_path(object, &column.json_path).cloned();
        cells.push(match (column.kind.as_str(), value) {
            ("date", Some(Value::String(timestamp))) => meta::parse_rfc3339(&timestamp)
                .map_or(Value::String(timestamp), |at| {
                    json!(human_duration(meta::now_seconds().saturating_sub(at)))
                }),
            (_, Some(value)) => value,
            (_, None) => Value::Null,
        });
    }
    cells
}

fn columns(resource: &ResourceType) -> Vec<(&'static str, &'static str)> {
    let mut columns = vec![("Name", "string")];
    columns.extend(match resource.kind {
        "Deployment" => vec![
            ("Ready", "string"),
            ("Up-to-date", "integer"),
            ("Available", "integer"),
        ],
        "ReplicaSet" => vec![
            ("Desired", "integer"),
            ("Current", "integer"),
            ("Ready", "integer"),
        ],
        "StatefulSet" => vec![("Ready", "string")],
        "Pod" => vec![
            ("Ready", "string"),
            ("Status", "string"),
            ("Restarts", "string"),
        ],
        "Service" => vec![
            ("Type", "string"),
            ("Cluster-IP", "string"),
            ("External-IP", "string"),
            ("Port(s)", "string"),
        ],
        "Namespace" => vec![("Status", "string")],
        "ConfigMap" => vec![("Data", "integer")],
        "Secret" => vec![("Type", "string"), ("Data", "integer")],
        "Job" => vec![("Status", "string"), ("Completions", "string")],
        "IngressClass" => vec![("Controller", "string"), ("Parameters", "string")],
        "ValidatingWebhookConfiguration" | "MutatingWebhookConfiguration" => {
            vec![("Webhooks", "integer")]
        }
        "CustomResourceDefinition" => return vec![("Name", "string"), ("Created At", "date")],
        "Event" => {
            return vec![
                ("Last Seen", "string"),
                ("Type", "string"),
                ("Reason", "string"),
                ("Object", "string"),
                ("Message", "string"),
            ];
        }
        _ => vec![],
    });
    columns.push(("Age", "string"));
    columns
}

fn cells(resource: &ResourceType, object: &Value) -> Vec<Value> {
    let mut cells = vec![json!(meta::name_of(object))];
    match resource.kind {
        "Deployment" => {
            cells.push(json!(format!(
                "{}/{}",
                int(object, "/status/readyReplicas"),
                int(object, "/spec/replicas")
            )));
            cells.push(json!(int(object, "/status/updatedReplicas")));
            cells.push(json!(int(object, "/status/availableReplicas")));
        }
        "ReplicaSet" => {
            cells.push(json!(int(object, "/spec/replicas")));
            cells.push(json!(int(object, "/status/replicas")));
            cells.push(json!(int(object, "/status/readyReplicas")));
        }
        "StatefulSet" => {
            cells.push(json!(format!(
                "{}/{}",
                int(object, "/status/readyReplicas"),
                int(object, "/spec/replicas")
            )));
        }
        "Pod" => {
            let statuses = object
                .pointer("/status/containerStatuses")
                .and_then(Value::as_array);
            let total = object
                .pointer("/spec/containers")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            let ready = statuses.map_or(0, |s| s.iter().filter(|c| c["ready"] == true).count());
            let waiting = statuses
                .and_then(|s| {
                    s.iter().find_map(|c| {
                        c.pointer("/state/waiting/reason")
                            .or_else(|| c.pointer("/state/terminated/reason"))
                            .and_then(Value::as_str)
                    })
                })
                .map(str::to_owned);
            cells.push(json!(format!("{ready}/{total}")));
            cells.push(json!(
                waiting.unwrap_or_else(|| text(object, "/status/phase"))
            ));
            cells.push(json!("0"));
        }
        "Service" => {
            let ports: Vec<String> = object
                .pointer("/spec/ports")
                .and_then(Value::as_array)
                .map(|ports| {
                    ports
                        .iter()
                        .map(|p| {
                            format!("{}/{}", p["port"], p["protocol"].as_str().unwrap_or("TCP"))
                        })
                        .collect()
                })
                .unwrap_or_default();
            cells.push(json!(text(object, "/spec/type")));
            cells.push(json!(text(object, "/spec/clusterIP")));
            cells.push(json!("<none>"));
            cells.push(json!(if ports.is_empty() {
                "<none>".to_owned()
            } else {
                ports.join(",")
            }));
        }
        "Namespace" => cells.push(json!(text(object, "/status/phase"))),
        "ConfigMap" => {
            let count = ["data", "binaryData"]
                .iter()
                .filter_map(|field| object.get(*field).and_then(Value::as_object))
                .map(serde_json::Map::len)
                .sum::<usize>();
            cells.push(json!(count));
        }
        "Secret" => {
            cells.push(json!(text(object, "/type")));
            cells.push(json!(
                object
                    .get("data")
                    .and_then(Value::as_object)
                    .map_or(0, serde_json::Map::len)
            ));
        }
        "Job" => {
            let succeeded = int(object, "/status/succeeded");
            let completions = meta::int_at(object, "/spec/completions").unwrap_or(1);
            cells.push(json!(if succeeded >= completions {
                "Complete"
            } else {
                "Running"
            }));
            cells.push(json!(format!("{succeeded}/{completions}")));
        }
        "IngressClass" => {
            cells.push(json!(text(object, "/spec/controller")));
            let parameters = object.pointer("/spec/parameters").map_or_else(
                || "<none>".to_owned(),
                |parameters| {
                    let kind = text(parameters, "/kind");
                    let name = text(parameters, "/name");
                    match parameters.get("apiGroup").and_then(Value::as_str) {
                        Some(group) => format!("{kind}.{group}/{name}"),
                        None => format!("{kind}/{name}"),
                    }
                },
            );
            cells.push(json!(parameters));
        }
        "ValidatingWebhookConfiguration" | "MutatingWebhookConfiguration" => {
            cells.push(json!(
                object
                    .get("webhooks")
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len)
            ));
        }
        "CustomResourceDefinition" => {
            cells.push(json!(text(object, "/metadata/creationTimestamp")));
            return cells;
        }
        "Event" => {
            let involved = format!(
                "{}/{}",
                text(object, "/involvedObject/kind").to_ascii_lowercase(),
                text(object, "/involvedObject/name")
            );
            let last_seen = object
                .pointer("/lastTimestamp")
                .and_then(Value::as_str)
                .and_then(meta::parse_rfc3339)
                .map_or_else(
                    || "<unknown>".to_owned(),
                    |seen| human_duration(meta::now_seconds().saturating_sub(seen)),
                );
            return vec![
                json!(last_seen),
                json!(text(object, "/type")),
                json!(text(object, "/reason")),
                json!(involved),
                json!(text(object, "/message")),
            ];
        }
        _ => {}
    }
    cells.push(json!(age(object)));
    cells
}

/// Renders objects as a `meta.k8s.io/v1` `Table`.
pub(crate) fn render(
    resource: &ResourceType,
    objects: &[Value],
    resource_version: u64,
    query: &HashMap<String, String>,
) -> Value {
    let include_object = query
        .get("includeObject")
        .map_or("Metadata", String::as_str);
    let definitions: Vec<(String, String, i64, String)> = match &resource.custom {
        Some(custom) => custom_columns(custom),
        None => columns(resource)
            .into_iter()
            .map(|(name, kind)| (name.to_owned(), kind.to_owned(), 0, String::new()))
            .collect(),
    };
    let column_definitions: Vec<Value> = definitions
        .into_iter()
        .map(|(name, kind, priority, description)| {
            json!({
                "format": if name == "Name" { "name" } else { "" },
                "name": name,
                "type": kind,
                "description": description,
                "priority": priority,
            })
        })
        .collect();
    let rows: Vec<Value> = objects
        .iter()
        .map(|object| {
            let mut typed = object.clone();
            typed["apiVersion"] = json!(resource.api_version());
            typed["kind"] = json!(resource.kind);
            let embedded = match include_object {
                "None" => Value::Null,
                "Object" => typed,
                _ => json!({
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": object.get("metadata").cloned().unwrap_or_default(),
                }),
            };
            let cells = match &resource.custom {
                Some(custom) => custom_cells(custom, object),
                None => cells(resource, object),
            };
            json!({"cells": cells, "object": embedded})
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version.to_string()},
        "columnDefinitions": column_definitions,
        "rows": rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_kubectl() {
        assert_eq!(human_duration(5), "5s");
        assert_eq!(human_duration(150), "2m30s");
        assert_eq!(human_duration(3600), "60m");
        assert_eq!(human_duration(4 * 3600 + 60), "4h1m");
        assert_eq!(human_duration(3 * 86_400), "3d");
    }

    #[test]
    fn printer_column_paths() {
        let object = json!({"status": {"conditions": [{"type": "Synced", "status": "True"}, {"type": "Ready", "status": "False"}]}});
        assert_eq!(
            json_path(&object, ".status.conditions[0].status"),
            Some(&json!("True"))
        );
        assert_eq!(
            json_path(&object, ".status.conditions[?(@.type==\"Ready\")].status"),
            Some(&json!("False"))
        );
        assert_eq!(json_path(&object, ".spec.missing"), None);
    }

    #[test]
    fn deployment_rows() {
        let deployments = crate::resources::known("apps", "deployments");
        let object = json!({"metadata": {"name": "api"}, "spec": {"replicas": 2}, "status": {"readyReplicas": 1, "updatedReplicas": 2, "availableReplicas": 1}});
        let table = render(deployments, &[object], 7, &HashMap::new());
        assert_eq!(table["rows"][0]["cells"][0], "api");
        assert_eq!(table["rows"][0]["cells"][1], "1/2");
        assert_eq!(table["columnDefinitions"][1]["name"], "Ready");
    }
}
