//! JSON patch (RFC 6902), `application/json-patch+json`.
//!
//! Supports `add`, `remove`, `replace`, `move`, `copy` and `test` with RFC 6901 pointers,
//! including the `-` end-of-array index. A failed operation leaves the target unchanged.

use serde_json::Value;

/// Why a JSON patch could not be applied.
#[derive(Debug, thiserror::Error)]
pub(crate) enum JsonPatchError {
    /// The patch document is not a list of operations.
    #[error("the patch is not a list of operations")]
    NotAList,
    /// An operation lacks a field or names an unknown op.
    #[error("invalid operation {0}")]
    InvalidOperation(String),
    /// A path does not exist in the target.
    #[error("unable to apply {op}: path {path} does not exist")]
    MissingPath {
        /// The operation.
        op: String,
        /// The pointer.
        path: String,
    },
    /// A `test` operation failed.
    #[error("testing value {path} failed")]
    TestFailed {
        /// The pointer.
        path: String,
    },
}

fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

fn split(path: &str) -> Option<(String, String)> {
    if path.is_empty() {
        return None;
    }
    let index = path.rfind('/')?;
    Some((path[..index].to_owned(), unescape(&path[index + 1..])))
}

fn missing(op: &str, path: &str) -> JsonPatchError {
    JsonPatchError::MissingPath {
        op: op.to_owned(),
        path: path.to_owned(),
    }
}

fn add(target: &mut Value, path: &str, value: Value, op: &str) -> Result<(), JsonPatchError> {
    let Some((parent, key)) = split(path) else {
        *target = value;
        return Ok(());
    };
    match target.pointer_mut(&parent) {
        Some(Value::Object(map)) => {
            map.insert(key, value);
            Ok(())
        }
        Some(Value::Array(items)) => {
            if key == "-" {
                items.push(value);
                return Ok(());
            }
            let index: usize = key.parse().map_err(|_| missing(op, path))?;
            if index > items.len() {
                return Err(missing(op, path));
            }
            items.insert(index, value);
            Ok(())
        }
        _ => Err(missing(op, path)),
    }
}

fn remove(target: &mut Value, path: &str, op: &str) -> Result<Value, JsonPatchError> {
    let (parent, key) = split(path).ok_or_else(|| missing(op, path))?;
    match target.pointer_mut(&parent) {
        Some(Value::Object(map)) => map.remove(&key).ok_or_else(|| missing(op, path)),
        Some(Value::Array(items)) => {
            let index: usize = key.parse().map_err(|_| missing(op, path))?;
            if index >= items.len() {
                return Err(missing(op, path));
            }
            Ok(items.remove(index))
        }
        _ => Err(missing(op, path)),
    }
}

fn field<'a>(operation: &'a Value, name: &str) -> Result<&'a Value, JsonPatchError> {
    operation
        .get(name)
        .ok_or_else(|| JsonPatchError::InvalidOperation(operation.to_string()))
}

fn string_field<'a>(operation: &'a Value, name: &str) -> Result<&'a str, JsonPatchError> {
    field(operation, name)?
        .as_str()
        .ok_or_else(|| JsonPatchError::InvalidOperation(operation.to_string()))
}

/// Applies the operations of `patch` to `target`.
pub(crate) fn apply(target: &mut Value, patch: &Value) -> Result<(), JsonPatchError> {
    let operations = patch.as_array().ok_or(JsonPatchError::NotAList)?;
    let mut result = target.clone();
    for operation in operations {
        let op = string_field(operation, "op")?;
        let pointer = string_field(operation, "path")?;
        match op {
            "add" => add(&mut result, pointer, field(operation, "value")?.clone(), op)?,
            "remove" => {
                remove(&mut result, pointer, op)?;
            }
            "replace" => {
                let value = field(operation, "value")?.clone();
                let slot = result
                    .pointer_mut(pointer)
                    .ok_or_else(|| missing(op, pointer))?;
                *slot = value;
            }
            "move" => {
                let from = string_field(operation, "from")?;
                let value = remove(&mut result, from, op)?;
                add(&mut result, pointer, value, op)?;
            }
            "copy" => {
                let from = string_field(operation, "from")?;
                let value = result
                    .pointer(from)
                    .cloned()
                    .ok_or_else(|| missing(op, from))?;
                add(&mut result, pointer, value, op)?;
            }
            "test" => {
                let expected = field(operation, "value")?;
                if result.pointer(pointer) != Some(expected) {
                    return Err(JsonPatchError::TestFailed {
                        path: pointer.to_owned(),
                    });
                }
            }
            _ => return Err(JsonPatchError::InvalidOperation(operation.to_string())),
        }
    }
    *target = result;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn operations() {
        let mut target = json!({"spec": {"replicas": 1, "list": [1, 2]}, "metadata": {}});
        apply(
            &mut target,
            &json!([
                {"op": "replace", "path": "/spec/replicas", "value": 3},
                {"op": "add", "path": "/spec/list/-", "value": 3},
                {"op": "add", "path": "/spec/list/0", "value": 0},
                {"op": "remove", "path": "/spec/list/1"},
                {"op": "add", "path": "/metadata/labels", "value": {"a/b": "c"}},
                {"op": "replace", "path": "/metadata/labels/a~1b", "value": "d"},
                {"op": "copy", "from": "/spec/replicas", "path": "/spec/copied"},
                {"op": "move", "from": "/spec/copied", "path": "/spec/moved"},
                {"op": "test", "path": "/spec/moved", "value": 3},
            ]),
        )
        .expect("applies");
        assert_eq!(
            target,
            json!({"spec": {"replicas": 3, "list": [0, 2, 3], "moved": 3}, "metadata": {"labels": {"a/b": "d"}}})
        );
    }

    #[test]
    fn failure_leaves_target_unchanged() {
        let mut target = json!({"a": 1});
        let error = apply(
            &mut target,
            &json!([{"op": "replace", "path": "/a", "value": 2}, {"op": "remove", "path": "/b"}]),
        );
        assert!(error.is_err());
        assert_eq!(target, json!({"a": 1}));
    }
}
