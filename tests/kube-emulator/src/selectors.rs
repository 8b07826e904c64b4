//! Label and field selectors.
//!
//! Label selectors follow `k8s.io/apimachinery/pkg/labels` string syntax: equality (`a=b`,
//! `a==b`, `a!=b`), set-based (`a in (x,y)`, `a notin (x)`), existence (`a`, `!a`), joined by
//! commas. Field selectors support `metadata.name` and `metadata.namespace` (plus `status.phase`
//! and `type` for pods, events and secrets, which kubectl and helm use), with `=`, `==` and
//! `!=`. A parse failure is a `400 BadRequest`, as on the real server.

use crate::errors::ApiError;
use serde_json::Value;
use std::collections::BTreeMap;

/// One requirement of a label selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Requirement {
    /// `key=value` or `key==value`.
    Equals(String, String),
    /// `key!=value`: true when the label is absent or different.
    NotEquals(String, String),
    /// `key in (a,b)`.
    In(String, Vec<String>),
    /// `key notin (a,b)`: true when the label is absent or not in the set.
    NotIn(String, Vec<String>),
    /// `key`.
    Exists(String),
    /// `!key`.
    DoesNotExist(String),
}

impl Requirement {
    fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        match self {
            Requirement::Equals(key, value) => labels.get(key) == Some(value),
            Requirement::NotEquals(key, value) => labels.get(key) != Some(value),
            Requirement::In(key, values) => labels.get(key).is_some_and(|v| values.contains(v)),
            Requirement::NotIn(key, values) => !labels.get(key).is_some_and(|v| values.contains(v)),
            Requirement::Exists(key) => labels.contains_key(key),
            Requirement::DoesNotExist(key) => !labels.contains_key(key),
        }
    }
}

/// A parsed label selector; the empty selector matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct LabelSelector {
    requirements: Vec<Requirement>,
}

impl LabelSelector {
    /// Parses the string form used in `?labelSelector=`.
    pub(crate) fn parse(input: &str) -> Result<Self, ApiError> {
        let mut requirements = Vec::new();
        for term in split_terms(input) {
            let term = term.trim();
            if term.is_empty() {
                continue;
            }
            requirements.push(parse_term(term).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "unable to parse requirement: found '{term}', expected: valid label selector"
                ))
            })?);
        }
        Ok(Self { requirements })
    }

    /// Builds a selector from a `metav1.LabelSelector` object (`matchLabels` and
    /// `matchExpressions`). `None` when the object is malformed.
    pub(crate) fn from_object(selector: &Value) -> Option<Self> {
        let mut requirements = Vec::new();
        if let Some(labels) = selector.get("matchLabels") {
            for (key, value) in labels.as_object()? {
                requirements.push(Requirement::Equals(key.clone(), value.as_str()?.to_owned()));
            }
        }
        if let Some(expressions) = selector.get("matchExpressions") {
            for expression in expressions.as_array()? {
                let key = expression.get("key")?.as_str()?.to_owned();
                let values: Vec<String> = expression
                    .get("values")
                    .and_then(Value::as_array)
                    .map(|values| {
                        values
                            .iter()
                            .filter_map(|v| v.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default();
                requirements.push(match expression.get("operator")?.as_str()? {
                    "In" => Requirement::In(key, values),
                    "NotIn" => Requirement::NotIn(key, values),
                    "Exists" => Requirement::Exists(key),
                    "DoesNotExist" => Requirement::DoesNotExist(key),
                    _ => return None,
                });
            }
        }
        Some(Self { requirements })
    }

    /// Whether the selector has no requirements.
    pub(crate) fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// Whether `labels` satisfy every requirement.
    pub(crate) fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.requirements
            .iter()
            .all(|requirement| requirement.matches(labels))
    }

    /// Whether the object's `metadata.labels` satisfy the selector.
    pub(crate) fn matches_object(&self, object: &Value) -> bool {
        self.is_empty() || self.matches(&labels_of(object))
    }

    /// The string form, as `kubectl` prints it (`a=b,c in (x,y)`).
    pub(crate) fn to_query(&self) -> String {
        self.requirements
            .iter()
            .map(|requirement| match requirement {
                Requirement::Equals(key, value) => format!("{key}={value}"),
                Requirement::NotEquals(key, value) => format!("{key}!={value}"),
                Requirement::In(key, values) => format!("{key} in ({})", values.join(",")),
                Requirement::NotIn(key, values) => format!("{key} notin ({})", values.join(",")),
                Requirement::Exists(key) => key.clone(),
                Requirement::DoesNotExist(key) => format!("!{key}"),
            })
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// The object's `metadata.labels` as a map (non-string values are ignored).
pub(crate) fn labels_of(object: &Value) -> BTreeMap<String, String> {
    object
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|labels| {
            labels
                .iter()
                .filter_map(|(key, value)| value.as_str().map(|v| (key.clone(), v.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

/// Splits on commas that are not inside parentheses.
fn split_terms(input: &str) -> Vec<&str> {
    let mut terms = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (index, character) in input.char_indices() {
        match character {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                terms.push(&input[start..index]);
                start = index + 1;
            }
            _ => {}
        }
    }
    terms.push(&input[start..]);
    terms
}

fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
}

fn valid_value(value: &str) -> bool {
    value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn parse_set(rest: &str) -> Option<Vec<String>> {
    let inner = rest.trim().strip_prefix('(')?.strip_suffix(')')?;
    let values: Vec<String> = inner
        .split(',')
        .map(|value| value.trim().to_owned())
        .filter(|value| !value.is_empty())
        .collect();
    values
        .iter()
        .all(|value| valid_value(value))
        .then_some(values)
}

fn parse_term(term: &str) -> Option<Requirement> {
    if let Some(key) = term.strip_prefix('!') {
        let key = key.trim();
        return valid_key(key).then(|| Requirement::DoesNotExist(key.to_owned()));
    }
    if let Some((key, value)) = term.split_once("!=") {
        let (key, value) = (key.trim(), value.trim());
        return (valid_key(key) && valid_value(value))
            .then(|| Requirement::NotEquals(key.to_owned(), value.to_owned()));
    }
    if let Some((key, value)) = term.split_once("==").or_else(|| term.split_once('=')) {
        let (key, value) = (key.trim(), value.trim());
        return (valid_key(key) && valid_value(value))
            .then(|| Requirement::Equals(key.to_owned(), value.to_owned()));
    }
    let mut words = term.splitn(2, char::is_whitespace);
    let key = words.next()?.trim();
    let rest = words.next().map(str::trim).unwrap_or_default();
    if rest.is_empty() {
        return valid_key(key).then(|| Requirement::Exists(key.to_owned()));
    }
    if !valid_key(key) {
        return None;
    }
    if let Some(set) = rest.strip_prefix("notin") {
        return parse_set(set).map(|values| Requirement::NotIn(key.to_owned(), values));
    }
    if let Some(set) = rest.strip_prefix("in") {
        return parse_set(set).map(|values| Requirement::In(key.to_owned(), values));
    }
    None
}

/// A parsed field selector.
#[derive(Debug, Clone, Default)]
pub(crate) struct FieldSelector {
    terms: Vec<(String, bool, String)>,
}

impl FieldSelector {
    /// Parses `metadata.name=x,metadata.namespace!=y`.
    pub(crate) fn parse(input: &str) -> Result<Self, ApiError> {
        let mut terms = Vec::new();
        for term in input.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let (field, equal, value) = if let Some((field, value)) = term.split_once("!=") {
                (field, false, value)
            } else if let Some((field, value)) =
                term.split_once("==").or_else(|| term.split_once('='))
            {
                (field, true, value)
            } else {
                return Err(ApiError::bad_request(format!(
                    "invalid selector: '{input}'; can't understand '{term}'"
                )));
            };
            let field = field.trim();
            if !matches!(
                field,
                "metadata.name"
                    | "metadata.namespace"
                    | "status.phase"
                    | "type"
                    | "spec.nodeName"
                    | "involvedObject.name"
                    | "involvedObject.kind"
                    | "involvedObject.namespace"
                    | "involvedObject.uid"
            ) {
                return Err(ApiError::bad_request(format!(
                    "field label not supported: {field}"
                )));
            }
            terms.push((field.to_owned(), equal, value.trim().to_owned()));
        }
        Ok(Self { terms })
    }

    /// Whether the object satisfies every term.
    pub(crate) fn matches(&self, object: &Value) -> bool {
        self.terms.iter().all(|(field, equal, value)| {
            let pointer = format!("/{}", field.replace('.', "/"));
            let actual = object
                .pointer(&pointer)
                .and_then(Value::as_str)
                .unwrap_or_default();
            (actual == value) == *equal
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn equality_and_inequality() {
        let selector = LabelSelector::parse("a=b,c!=d").expect("parses");
        assert!(selector.matches(&labels(&[("a", "b")])));
        assert!(selector.matches(&labels(&[("a", "b"), ("c", "x")])));
        assert!(!selector.matches(&labels(&[("a", "b"), ("c", "d")])));
        assert!(!selector.matches(&labels(&[("a", "x")])));
        assert!(
            LabelSelector::parse("a==b")
                .expect("parses")
                .matches(&labels(&[("a", "b")]))
        );
    }

    #[test]
    fn set_based() {
        let selector = LabelSelector::parse("e in (x, y),f notin (z)").expect("parses");
        assert!(selector.matches(&labels(&[("e", "y")])));
        assert!(selector.matches(&labels(&[("e", "x"), ("f", "q")])));
        assert!(!selector.matches(&labels(&[("e", "x"), ("f", "z")])));
        assert!(!selector.matches(&labels(&[("f", "q")])));
    }

    #[test]
    fn existence() {
        let selector = LabelSelector::parse("key,!other").expect("parses");
        assert!(selector.matches(&labels(&[("key", "")])));
        assert!(!selector.matches(&labels(&[("key", "1"), ("other", "2")])));
        assert!(!selector.matches(&labels(&[])));
    }

    #[test]
    fn helm_release_selector() {
        let selector = LabelSelector::parse("name=web,owner=helm,status=deployed").expect("parses");
        let secret = json!({"metadata": {"labels": {"name": "web", "owner": "helm", "status": "deployed", "version": "1"}}});
        assert!(selector.matches_object(&secret));
    }

    #[test]
    fn rejects_garbage() {
        assert!(LabelSelector::parse("a in x").is_err());
        assert!(LabelSelector::parse("=b").is_err());
        assert_eq!(
            LabelSelector::parse("").expect("parses"),
            LabelSelector::default()
        );
    }

    #[test]
    fn from_object_and_back() {
        let selector = LabelSelector::from_object(&json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}],
        }))
        .expect("well formed");
        assert_eq!(selector.to_query(), "app=web,tier in (a,b)");
        assert!(selector.matches(&labels(&[("app", "web"), ("tier", "b")])));
    }

    #[test]
    fn field_selectors() {
        let selector = FieldSelector::parse("metadata.name=api,metadata.namespace!=kube-system")
            .expect("parses");
        assert!(selector.matches(&json!({"metadata": {"name": "api", "namespace": "dev"}})));
        assert!(
            !selector.matches(&json!({"metadata": {"name": "api", "namespace": "kube-system"}}))
        );
        assert!(FieldSelector::parse("spec.replicas=1").is_err());
    }
}
