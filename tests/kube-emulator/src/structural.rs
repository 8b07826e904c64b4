//! Pruning of custom objects by their CRD's structural schema.
//!
//! The real API server drops every field of a custom object that its version's
//! `openAPIV3Schema` does not declare, unless the schema keeps unknown fields there
//! (`x-kubernetes-preserve-unknown-fields: true`, or `additionalProperties`). With
//! `fieldValidation=Strict` (kubectl's default) the write is refused instead, naming the
//! fields. `apiVersion`, `kind` and `metadata` are never pruned, at the root or in
//! embedded resources (`x-kubernetes-embedded-resource`).

use serde_json::Value;

/// Removes the fields of `object` that `schema` does not declare; returns their paths
/// (`spec.foo`, `spec.items[0].bar`), in document order.
pub(crate) fn prune(object: &mut Value, schema: &Value) -> Vec<String> {
    let mut unknown = Vec::new();
    walk(object, schema, "", true, &mut unknown);
    unknown
}

fn child_path(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn walk(value: &mut Value, schema: &Value, path: &str, resource: bool, unknown: &mut Vec<String>) {
    let preserve = schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
    match value {
        Value::Object(map) => {
            let properties = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties");
            let mut dropped = Vec::new();
            for (key, member) in map.iter_mut() {
                if resource && matches!(key.as_str(), "apiVersion" | "kind" | "metadata") {
                    continue;
                }
                let path = child_path(path, key);
                if let Some(property) = properties.and_then(|properties| properties.get(key)) {
                    walk(member, property, &path, embedded(property), unknown);
                } else if let Some(additional @ Value::Object(_)) = additional {
                    walk(member, additional, &path, embedded(additional), unknown);
                } else if preserve || additional == Some(&Value::Bool(true)) {
                    // Kept as given.
                } else {
                    unknown.push(path);
                    dropped.push(key.clone());
                }
            }
            for key in dropped {
                map.remove(&key);
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items").filter(|items| items.is_object()) {
                for (index, item) in items.iter_mut().enumerate() {
                    let path = format!("{path}[{index}]");
                    walk(item, item_schema, &path, embedded(item_schema), unknown);
                }
            }
        }
        _ => {}
    }
}

fn embedded(schema: &Value) -> bool {
    schema.get("x-kubernetes-embedded-resource") == Some(&Value::Bool(true))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn prunes_what_the_schema_does_not_declare() {
        let schema = json!({
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "properties": {
                        "data": {"type": "object", "additionalProperties": {"type": "string"}},
                        "template": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                        "items": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}}}},
                        "empty": {"type": "object"},
                    },
                },
            },
        });
        let mut object = json!({
            "apiVersion": "example.com/v1",
            "kind": "Widget",
            "metadata": {"name": "a", "labels": {"x": "y"}},
            "spec": {
                "data": {"a": "1", "b": "2"},
                "template": {"anything": {"goes": true}},
                "items": [{"name": "one", "extra": 1}],
                "empty": {"gone": 1},
                "typo": true,
            },
            "status": {"ready": true},
        });
        let unknown = prune(&mut object, &schema);
        assert_eq!(
            unknown,
            [
                "spec.empty.gone",
                "spec.items[0].extra",
                "spec.typo",
                "status"
            ]
        );
        assert_eq!(
            object,
            json!({
                "apiVersion": "example.com/v1",
                "kind": "Widget",
                "metadata": {"name": "a", "labels": {"x": "y"}},
                "spec": {
                    "data": {"a": "1", "b": "2"},
                    "template": {"anything": {"goes": true}},
                    "items": [{"name": "one"}],
                    "empty": {},
                },
            })
        );
    }
}
