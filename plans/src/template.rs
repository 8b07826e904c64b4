//! `{{ vars.NAME }}` placeholders in action fields.
//!
//! Vars are plain values known when the plan loads, so placeholders are
//! substituted at load time and later crates only see final strings. Checking
//! happens on the marked tree, so an undefined variable points at the exact
//! column of its placeholder.

use std::collections::BTreeMap;

use serde_yaml::Value;

use crate::{
    diagnostic::Diagnostic,
    marked::{Node, NodeKind},
    text::{and_ticked, did_you_mean},
};

/// Whether `name` can be used as a var name.
pub fn is_var_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// One `{{ ... }}` occurrence: byte range in the text and the trimmed expression.
struct Placeholder<'a> {
    start: usize,
    end: usize,
    expression: &'a str,
}

/// Splits text into placeholders; `Err(start)` for an unclosed `{{` at byte `start`.
fn placeholders(text: &str) -> Result<Vec<Placeholder<'_>>, usize> {
    let mut out = Vec::new();
    let mut offset = 0;
    while let Some(found) = text[offset..].find("{{") {
        let start = offset + found;
        let Some(close) = text[start + 2..].find("}}") else {
            return Err(start);
        };
        let end = start + 2 + close + 2;
        out.push(Placeholder {
            start,
            end,
            expression: text[start + 2..end - 2].trim(),
        });
        offset = end;
    }
    Ok(out)
}

/// Replaces every `{{ vars.NAME }}` in `text`; unknown ones are left as written
/// (validation has already reported them).
pub fn substitute(text: &str, vars: &BTreeMap<String, String>) -> String {
    let Ok(found) = placeholders(text) else {
        return text.to_owned();
    };
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for placeholder in found {
        out.push_str(&text[last..placeholder.start]);
        match placeholder
            .expression
            .strip_prefix("vars.")
            .and_then(|name| vars.get(name))
        {
            Some(value) => out.push_str(value),
            None => out.push_str(&text[placeholder.start..placeholder.end]),
        }
        last = placeholder.end;
    }
    out.push_str(&text[last..]);
    out
}

/// Whether any string in a YAML value contains `{{`.
pub fn has_placeholder(value: &Value) -> bool {
    match value {
        Value::String(text) => text.contains("{{"),
        Value::Sequence(items) => items.iter().any(has_placeholder),
        Value::Mapping(map) => map.values().any(has_placeholder),
        Value::Tagged(tagged) => has_placeholder(&tagged.value),
        _ => false,
    }
}

/// Substitutes placeholders in every string of a YAML value (keys are left alone).
pub fn substitute_value(value: &Value, vars: &BTreeMap<String, String>) -> Value {
    match value {
        Value::String(text) if text.contains("{{") => Value::String(substitute(text, vars)),
        Value::Sequence(items) => {
            Value::Sequence(items.iter().map(|v| substitute_value(v, vars)).collect())
        }
        Value::Mapping(map) => Value::Mapping(
            map.iter()
                .map(|(k, v)| (k.clone(), substitute_value(v, vars)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Reports malformed placeholders and undefined vars in every scalar below `node`.
pub fn check_node(node: &Node, vars: &BTreeMap<String, String>, out: &mut Vec<Diagnostic>) {
    match &node.kind {
        NodeKind::Scalar { value, plain } if value.contains("{{") => {
            check_scalar(node, value, *plain, vars, out);
        }
        NodeKind::Scalar { .. } | NodeKind::Alias => {}
        NodeKind::Sequence(items) => {
            for item in items {
                check_node(item, vars, out);
            }
        }
        NodeKind::Mapping(entries) => {
            for (_, value) in entries {
                check_node(value, vars, out);
            }
        }
    }
}

fn check_scalar(
    node: &Node,
    value: &str,
    plain: bool,
    vars: &BTreeMap<String, String>,
    out: &mut Vec<Diagnostic>,
) {
    // Columns inside the scalar are exact for single-line plain scalars and
    // quoted scalars without escapes; otherwise the whole scalar is marked.
    let single_line = !value.contains('\n');
    let quote_offset = usize::from(!plain);
    let span_of = |start: usize, end: usize| {
        if single_line {
            let column = value[..start].chars().count() + quote_offset;
            node.span.shifted(column, value[start..end].chars().count())
        } else {
            node.span
        }
    };
    match placeholders(value) {
        Err(start) => out.push(
            Diagnostic::new(Some(span_of(start, start + 2)), "unclosed placeholder `{{`")
                .with_help("placeholders are written `{{ vars.NAME }}`"),
        ),
        Ok(found) => {
            for placeholder in found {
                let span = span_of(placeholder.start, placeholder.end);
                let written = &value[placeholder.start..placeholder.end];
                let Some(name) = placeholder.expression.strip_prefix("vars.") else {
                    out.push(
                        Diagnostic::new(Some(span), format!("unknown placeholder `{written}`"))
                            .with_help("placeholders are written `{{ vars.NAME }}`, naming a key of `vars:`"),
                    );
                    continue;
                };
                if vars.contains_key(name) {
                    continue;
                }
                let help = if vars.is_empty() {
                    "the plan defines no `vars:`".to_owned()
                } else {
                    match did_you_mean(name, vars.keys().map(String::as_str)) {
                        Some(suggestion) => format!(
                            "did you mean `vars.{suggestion}`? defined vars: {}",
                            and_ticked(vars.keys())
                        ),
                        None => format!("defined vars: {}", and_ticked(vars.keys())),
                    }
                };
                out.push(
                    Diagnostic::new(Some(span), format!("undefined variable `vars.{name}`"))
                        .with_help(help),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitutes_known_vars() {
        let vars = BTreeMap::from([("namespace".to_owned(), "platform".to_owned())]);
        assert_eq!(
            substitute("-n {{ vars.namespace }}!", &vars),
            "-n platform!"
        );
        assert_eq!(
            substitute("{{vars.namespace}}{{ vars.namespace }}", &vars),
            "platformplatform"
        );
        assert_eq!(substitute("{{ vars.other }}", &vars), "{{ vars.other }}");
    }
}
