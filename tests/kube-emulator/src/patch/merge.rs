//! JSON merge patch (RFC 7386), `application/merge-patch+json`.
//!
//! Maps merge recursively, `null` deletes a key, and every other value, lists included,
//! replaces the target's.

use serde_json::{Map, Value};

/// Applies `patch` to `target` in place.
pub(crate) fn apply(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let target = target.as_object_mut().expect("target was just made a map");
    for (key, value) in patch {
        if value.is_null() {
            target.remove(key);
        } else {
            apply(target.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rfc7386_examples() {
        let mut target = json!({"a": "b", "c": {"d": "e", "f": "g"}});
        apply(&mut target, &json!({"a": "z", "c": {"f": null}}));
        assert_eq!(target, json!({"a": "z", "c": {"d": "e"}}));

        let mut target = json!({"a": ["b"]});
        apply(&mut target, &json!({"a": ["c", "d"]}));
        assert_eq!(target, json!({"a": ["c", "d"]}));

        let mut target = json!({"a": "foo"});
        apply(&mut target, &json!({"b": {"c": null, "d": 1}}));
        assert_eq!(target, json!({"a": "foo", "b": {"d": 1}}));
    }
}
