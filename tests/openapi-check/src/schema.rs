//! A validator for the subset of OpenAPI 3.0 schemas that GitHub's description uses.
//!
//! The subset and its strictness are described in the crate docs.

use std::collections::BTreeSet;

use serde_json::Value;

/// One problem found in a body, before it is attributed to an operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Issue {
    /// A JSON pointer into the body.
    pub(crate) pointer: String,
    /// What is wrong.
    pub(crate) message: String,
}

/// Which object properties the schemas applied at one location declare.
#[derive(Debug, Clone)]
enum Known<'a> {
    /// No applied schema says anything about properties: a free-form object.
    Unconstrained,
    /// Exactly these names are declared.
    Names(BTreeSet<&'a str>),
    /// Some applied schema allows additional properties.
    Any,
}

impl<'a> Known<'a> {
    fn union(self, other: Known<'a>) -> Known<'a> {
        match (self, other) {
            (Known::Any, _) | (_, Known::Any) => Known::Any,
            (Known::Unconstrained, other) | (other, Known::Unconstrained) => other,
            (Known::Names(mut left), Known::Names(right)) => {
                left.extend(right);
                Known::Names(left)
            }
        }
    }
}

/// Validates instances against schemas of one OpenAPI document.
pub(crate) struct Validator<'a> {
    document: &'a Value,
    /// `$ref` targets being expanded for an instance, as (schema, instance) addresses: a
    /// reference that comes back to the same pair without consuming any of the instance is a
    /// cycle and is not followed again.
    expanding: Vec<(*const Value, *const Value)>,
}

impl<'a> Validator<'a> {
    /// A validator resolving `$ref`s in `document`.
    pub(crate) fn new(document: &'a Value) -> Validator<'a> {
        Validator {
            document,
            expanding: Vec::new(),
        }
    }

    /// Validates `instance` against `schema`; `pointer` is where `instance` sits in the body.
    pub(crate) fn validate(
        &mut self,
        schema: &'a Value,
        instance: &Value,
        pointer: &str,
    ) -> Vec<Issue> {
        let mut issues = Vec::new();
        self.location(schema, instance, pointer, &mut issues);
        issues
    }

    /// Validates one location of the instance, including the invented-property check.
    fn location(
        &mut self,
        schema: &'a Value,
        instance: &Value,
        pointer: &str,
        issues: &mut Vec<Issue>,
    ) {
        let known = self.apply(schema, instance, pointer, issues);
        if let (Value::Object(object), Known::Names(names)) = (instance, known) {
            for key in object.keys() {
                if !names.contains(key.as_str()) {
                    issues.push(Issue {
                        pointer: child(pointer, key),
                        message: format!("property `{key}` is not in GitHub's schema"),
                    });
                }
            }
        }
    }

    /// Applies `schema` (and the schemas it composes) to one location, without the
    /// invented-property check, and returns the properties the applied schemas declare.
    fn apply(
        &mut self,
        schema: &'a Value,
        instance: &Value,
        pointer: &str,
        issues: &mut Vec<Issue>,
    ) -> Known<'a> {
        let Value::Object(schema_object) = schema else {
            return Known::Unconstrained;
        };
        if let Some(reference) = schema_object.get("$ref") {
            return self.apply_reference(reference, instance, pointer, issues);
        }
        let nullable = schema_object.get("nullable").and_then(Value::as_bool) == Some(true);
        if instance.is_null() && nullable {
            return Known::Any;
        }
        if let Some(expected) = schema_object.get("type").and_then(Value::as_str) {
            if !has_type(instance, expected) {
                let or_null = if nullable { " or null" } else { "" };
                issues.push(Issue {
                    pointer: pointer.to_owned(),
                    message: format!("expected {expected}{or_null}, found {}", describe(instance)),
                });
                return Known::Any;
            }
        }
        if let Some(Value::Array(values)) = schema_object.get("enum") {
            if !values.contains(instance) {
                let allowed: Vec<String> = values.iter().map(Value::to_string).collect();
                issues.push(Issue {
                    pointer: pointer.to_owned(),
                    message: format!(
                        "expected one of [{}]{}, found {}",
                        allowed.join(", "),
                        if nullable { " or null" } else { "" },
                        describe(instance)
                    ),
                });
            }
        }
        check_format(schema_object, instance, pointer, issues);
        check_bounds(schema_object, instance, pointer, issues);
        let mut known = match instance {
            Value::Object(object) => self.apply_object(schema_object, object, pointer, issues),
            Value::Array(items) => {
                if let Some(item_schema) = schema_object.get("items") {
                    for (index, item) in items.iter().enumerate() {
                        self.location(item_schema, item, &format!("{pointer}/{index}"), issues);
                    }
                }
                Known::Unconstrained
            }
            _ => Known::Unconstrained,
        };
        if let Some(Value::Array(branches)) = schema_object.get("allOf") {
            for branch in branches {
                known = known.union(self.apply(branch, instance, pointer, issues));
            }
        }
        for keyword in ["anyOf", "oneOf"] {
            if let Some(Value::Array(branches)) = schema_object.get(keyword) {
                known = known
                    .union(self.apply_alternatives(keyword, branches, instance, pointer, issues));
            }
        }
        known
    }

    fn apply_reference(
        &mut self,
        reference: &Value,
        instance: &Value,
        pointer: &str,
        issues: &mut Vec<Issue>,
    ) -> Known<'a> {
        let target = reference
            .as_str()
            .and_then(|reference| reference.strip_prefix('#'))
            .and_then(|json_pointer| self.document.pointer(json_pointer));
        let Some(target) = target else {
            issues.push(Issue {
                pointer: pointer.to_owned(),
                message: format!("GitHub's schema has an unresolvable reference {reference}"),
            });
            return Known::Any;
        };
        let key = (std::ptr::from_ref(target), std::ptr::from_ref(instance));
        if self.expanding.contains(&key) {
            return Known::Unconstrained;
        }
        self.expanding.push(key);
        let known = self.apply(target, instance, pointer, issues);
        self.expanding.pop();
        known
    }

    fn apply_object(
        &mut self,
        schema: &'a serde_json::Map<String, Value>,
        object: &serde_json::Map<String, Value>,
        pointer: &str,
        issues: &mut Vec<Issue>,
    ) -> Known<'a> {
        if let Some(Value::Array(required)) = schema.get("required") {
            for name in required.iter().filter_map(Value::as_str) {
                if !object.contains_key(name) {
                    issues.push(Issue {
                        pointer: pointer.to_owned(),
                        message: format!("required property `{name}` is missing"),
                    });
                }
            }
        }
        let properties = match schema.get("properties") {
            Some(Value::Object(properties)) => Some(properties),
            _ => None,
        };
        for (key, value) in object {
            if let Some(property_schema) = properties.and_then(|properties| properties.get(key)) {
                self.location(property_schema, value, &child(pointer, key), issues);
            }
        }
        match schema.get("additionalProperties") {
            Some(Value::Bool(true)) => Known::Any,
            Some(additional @ Value::Object(_)) => {
                for (key, value) in object {
                    if properties.is_none_or(|properties| !properties.contains_key(key)) {
                        self.location(additional, value, &child(pointer, key), issues);
                    }
                }
                Known::Any
            }
            Some(Value::Bool(false)) => Known::Names(
                properties
                    .map(|properties| properties.keys().map(String::as_str).collect())
                    .unwrap_or_default(),
            ),
            _ => match properties {
                Some(properties) => Known::Names(properties.keys().map(String::as_str).collect()),
                None => Known::Unconstrained,
            },
        }
    }

    fn apply_alternatives(
        &mut self,
        keyword: &str,
        branches: &'a [Value],
        instance: &Value,
        pointer: &str,
        issues: &mut Vec<Issue>,
    ) -> Known<'a> {
        let mut known: Option<Known<'a>> = None;
        let mut closest: Option<Vec<Issue>> = None;
        for branch in branches {
            let mut branch_issues = Vec::new();
            let branch_known = self.apply(branch, instance, pointer, &mut branch_issues);
            if branch_issues.is_empty() {
                known = Some(match known {
                    Some(known) => known.union(branch_known),
                    None => branch_known,
                });
            } else if closest
                .as_ref()
                .is_none_or(|closest| branch_issues.len() < closest.len())
            {
                closest = Some(branch_issues);
            }
        }
        if let Some(known) = known {
            return known;
        }
        issues.push(Issue {
            pointer: pointer.to_owned(),
            message: format!(
                "matches none of the {} `{keyword}` alternatives (the closest one's problems follow)",
                branches.len()
            ),
        });
        issues.extend(closest.unwrap_or_default());
        Known::Any
    }
}

/// Whether `instance` has the OpenAPI `type` `expected`; unknown types accept anything.
fn has_type(instance: &Value, expected: &str) -> bool {
    match expected {
        "string" => instance.is_string(),
        "integer" => instance.is_i64() || instance.is_u64(),
        "number" => instance.is_number(),
        "boolean" => instance.is_boolean(),
        "array" => instance.is_array(),
        "object" => instance.is_object(),
        _ => true,
    }
}

/// The type of `instance`, with short scalars quoted, for messages.
fn describe(instance: &Value) -> String {
    match instance {
        Value::Null => "null".to_owned(),
        Value::Bool(value) => format!("boolean {value}"),
        Value::Number(number) if number.is_f64() => format!("number {number}"),
        Value::Number(number) => format!("integer {number}"),
        Value::String(text) => {
            let shown: String = text.chars().take(40).collect();
            let ellipsis = if shown.len() < text.len() { "…" } else { "" };
            format!("string {}{ellipsis}", Value::String(shown))
        }
        Value::Array(_) => "array".to_owned(),
        Value::Object(_) => "object".to_owned(),
    }
}

fn check_format(
    schema: &serde_json::Map<String, Value>,
    instance: &Value,
    pointer: &str,
    issues: &mut Vec<Issue>,
) {
    if let (Some("date-time"), Value::String(text)) =
        (schema.get("format").and_then(Value::as_str), instance)
    {
        if !is_rfc3339(text) {
            issues.push(Issue {
                pointer: pointer.to_owned(),
                message: format!(
                    "expected an RFC 3339 date-time, found {}",
                    describe(instance)
                ),
            });
        }
    }
}

fn check_bounds(
    schema: &serde_json::Map<String, Value>,
    instance: &Value,
    pointer: &str,
    issues: &mut Vec<Issue>,
) {
    let Some(value) = instance.as_f64() else {
        return;
    };
    if let Some(minimum) = schema.get("minimum").and_then(Value::as_f64) {
        if value < minimum {
            issues.push(Issue {
                pointer: pointer.to_owned(),
                message: format!("expected at least {minimum}, found {}", describe(instance)),
            });
        }
    }
    if let Some(maximum) = schema.get("maximum").and_then(Value::as_f64) {
        if value > maximum {
            issues.push(Issue {
                pointer: pointer.to_owned(),
                message: format!("expected at most {maximum}, found {}", describe(instance)),
            });
        }
    }
}

/// Whether `text` is an RFC 3339 `date-time`: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`.
pub(crate) fn is_rfc3339(text: &str) -> bool {
    let bytes = text.as_bytes();
    let number = |range: std::ops::Range<usize>| -> Option<u32> {
        let digits = bytes.get(range)?;
        digits.iter().all(u8::is_ascii_digit).then(|| {
            digits
                .iter()
                .fold(0, |total, digit| total * 10 + u32::from(digit - b'0'))
        })
    };
    let date_time_ok = (|| {
        let month = number(5..7)?;
        let day = number(8..10)?;
        let hour = number(11..13)?;
        let minute = number(14..16)?;
        let second = number(17..19)?;
        number(0..4)?;
        Some(
            bytes.get(4) == Some(&b'-')
                && bytes.get(7) == Some(&b'-')
                && matches!(bytes.get(10), Some(b'T' | b't'))
                && bytes.get(13) == Some(&b':')
                && bytes.get(16) == Some(&b':')
                && (1..=12).contains(&month)
                && (1..=31).contains(&day)
                && hour <= 23
                && minute <= 59
                && second <= 60,
        )
    })();
    if date_time_ok != Some(true) {
        return false;
    }
    let mut rest = &bytes[19..];
    if let Some(fraction) = rest.strip_prefix(b".") {
        let digits = fraction
            .iter()
            .take_while(|byte| byte.is_ascii_digit())
            .count();
        if digits == 0 {
            return false;
        }
        rest = &fraction[digits..];
    }
    match rest {
        [b'Z' | b'z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => {
            [h1, h2, m1, m2].iter().all(|digit| digit.is_ascii_digit())
                && (h1 - b'0') * 10 + (h2 - b'0') <= 23
                && (m1 - b'0') * 10 + (m2 - b'0') <= 59
        }
        _ => false,
    }
}

/// `pointer` extended by the object key `key`, escaped as RFC 6901 requires.
fn child(pointer: &str, key: &str) -> String {
    format!("{pointer}/{}", key.replace('~', "~0").replace('/', "~1"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn check(document: &Value, schema: &Value, instance: &Value) -> Vec<String> {
        Validator::new(document)
            .validate(schema, instance, "")
            .into_iter()
            .map(|issue| format!("{}: {}", issue.pointer, issue.message))
            .collect()
    }

    #[test]
    fn rfc3339() {
        assert!(is_rfc3339("2011-01-26T19:01:12Z"));
        assert!(is_rfc3339("2011-01-26T19:01:12.123+01:00"));
        assert!(!is_rfc3339("2011-01-26 19:01:12Z"));
        assert!(!is_rfc3339("2011-13-26T19:01:12Z"));
        assert!(!is_rfc3339("2011-01-26T19:01:12"));
        assert!(!is_rfc3339("yesterday"));
    }

    #[test]
    fn types_nullable_enum_and_integers() {
        let document = json!({});
        let schema = json!({"type": "object", "properties": {
            "n": {"type": "integer", "nullable": true},
            "state": {"type": "string", "enum": ["open", "closed"]},
            "when": {"type": "string", "format": "date-time"}
        }});
        assert!(check(&document, &schema, &json!({"n": null, "state": "open"})).is_empty());
        assert_eq!(
            check(
                &document,
                &schema,
                &json!({"n": "1", "state": "merged", "when": "now"})
            ),
            [
                r#"/n: expected integer or null, found string "1""#,
                r#"/state: expected one of ["open", "closed"], found string "merged""#,
                r#"/when: expected an RFC 3339 date-time, found string "now""#,
            ]
        );
        assert_eq!(
            check(&document, &schema, &json!({"n": 1.5})),
            ["/n: expected integer or null, found number 1.5"]
        );
    }

    #[test]
    fn invented_properties_across_all_of_and_one_of() {
        let document = json!({"components": {"schemas": {
            "a": {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
            "b": {"type": "object", "properties": {"b": {"type": "string"}}, "required": ["b"]},
            "node": {"type": "object", "properties": {"next": {"$ref": "#/components/schemas/node"}}}
        }}});
        let all_of = json!({"allOf": [{"$ref": "#/components/schemas/a"}, {"$ref": "#/components/schemas/b"}]});
        assert!(check(&document, &all_of, &json!({"a": "x", "b": "y"})).is_empty());
        assert_eq!(
            check(&document, &all_of, &json!({"a": "x", "b": "y", "c": 1})),
            ["/c: property `c` is not in GitHub's schema"]
        );
        let one_of = json!({"oneOf": [{"$ref": "#/components/schemas/a"}, {"$ref": "#/components/schemas/b"}]});
        assert_eq!(
            check(&document, &one_of, &json!({"a": "x", "b": "y"})),
            Vec::<String>::new(),
            "both alternatives match, so both declare"
        );
        assert_eq!(
            check(&document, &one_of, &json!({"b": "y", "a": 1})),
            ["/a: property `a` is not in GitHub's schema"]
        );
        let recursive = json!({"$ref": "#/components/schemas/node"});
        assert!(check(&document, &recursive, &json!({"next": {"next": {}}})).is_empty());
        assert_eq!(
            check(&document, &json!({"type": "object"}), &json!({"free": 1})),
            Vec::<String>::new()
        );
    }
}
