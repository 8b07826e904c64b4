//! [`Context`]: what loading one file collects (the diagnostics), and the
//! helpers every section uses to decode a piece and say where a problem is.

use std::cell::OnceCell;

use serde::de::DeserializeOwned;
use serde_yaml::{Mapping, Value};

use crate::{
    diagnostic::Diagnostic,
    ids::is_valid_id,
    marked::{self, Node, Path},
    source::{SourceFile, Span},
    text::{and_ticked, did_you_mean},
    yaml_value::PackedTasks,
};

pub(super) struct Context<'a> {
    pub(super) source: &'a SourceFile,
    /// The marked tree, parsed on first use (the `Value` route refuses a
    /// file yaml-rust2 cannot parse, so a tree is there whenever the
    /// document has content).
    pub(super) tree: OnceCell<Option<Node>>,
    /// The tasks the YAML route packed, unpacked one by one as they are decoded.
    pub(super) packed_tasks: PackedTasks,
    pub(super) diagnostics: Vec<Diagnostic>,
}

/// Where a diagnostic points: its span in the file, if the marked pass has
/// one, and the key path it is about.
pub(super) struct At {
    pub(super) span: Option<Span>,
    /// The key path as [`Diagnostic::path`] holds it; `None` for the root.
    pub(super) path: Option<String>,
}

impl At {
    pub(super) fn new(span: Option<Span>, path: &Path) -> Self {
        Self {
            span,
            path: (!path.0.is_empty()).then(|| path.to_string()),
        }
    }
}

pub(super) fn key_text(key: &Value) -> String {
    match key {
        Value::String(text) => text.clone(),
        Value::Number(number) => number.to_string(),
        Value::Bool(flag) => flag.to_string(),
        Value::Null => "~".to_owned(),
        _ => "<complex key>".to_owned(),
    }
}

pub(super) fn last_key(path: &Path) -> Option<&str> {
    path.0.iter().rev().find_map(|segment| match segment {
        marked::Segment::Key(key) => Some(key.as_str()),
        marked::Segment::Index(_) => None,
    })
}

pub(super) fn convert_path(path: &serde_path_to_error::Path) -> Path {
    let mut out = Path::root();
    for segment in path {
        match segment {
            serde_path_to_error::Segment::Seq { index } => out = out.index(*index),
            serde_path_to_error::Segment::Map { key } => out = out.key(key),
            serde_path_to_error::Segment::Enum { .. } | serde_path_to_error::Segment::Unknown => {}
        }
    }
    out
}

impl Context<'_> {
    pub(super) fn tree(&self) -> Option<&Node> {
        self.tree
            .get_or_init(|| marked::parse(self.source).ok().flatten())
            .as_ref()
    }

    /// The span of the node at `path`, or of its nearest ancestor that exists.
    pub(super) fn span(&self, path: &Path) -> Option<Span> {
        let tree = self.tree()?;
        let mut path = path.clone();
        loop {
            if let Some(node) = tree.lookup(&path) {
                return Some(node.span);
            }
            path.0.pop()?;
        }
    }

    /// The span of the key `key` of the mapping at `path`, else of the mapping.
    pub(super) fn key_span(&self, path: &Path, key: &str) -> Option<Span> {
        self.tree()
            .and_then(|tree| tree.key_span(path, key))
            .or_else(|| self.span(path))
    }

    /// The span and key path of the node at `path` (see [`Context::span`]).
    pub(super) fn at(&self, path: &Path) -> At {
        At::new(self.span(path), path)
    }

    /// The span of the key `key` of the mapping at `path` (see
    /// [`Context::key_span`]), with the key's path.
    pub(super) fn key_at(&self, path: &Path, key: &str) -> At {
        At::new(self.key_span(path, key), &path.key(key))
    }

    pub(super) fn error(&mut self, at: At, message: impl Into<String>) -> &mut Diagnostic {
        let mut diagnostic = Diagnostic::new(at.span, message);
        diagnostic.path = at.path;
        self.diagnostics.push(diagnostic);
        self.diagnostics
            .last_mut()
            .expect("a diagnostic was pushed on the line above")
    }

    /// Reports every key of `map` not in `known`, with a suggestion.
    pub(super) fn unknown_keys(&mut self, map: &Mapping, path: &Path, known: &[&str], what: &str) {
        let noun = what
            .trim_start_matches("the ")
            .trim_start_matches("an ")
            .trim_start_matches("a ");
        for key in map.keys() {
            let name = key_text(key);
            if known.contains(&name.as_str()) {
                continue;
            }
            let span = self.key_at(path, &name);
            let help = match did_you_mean(&name, known.iter().copied()) {
                Some(suggestion) => format!(
                    "did you mean `{suggestion}`? {noun} keys are {}",
                    and_ticked(known)
                ),
                None => format!("{noun} keys are {}", and_ticked(known)),
            };
            self.error(span, format!("unknown key `{name}` in {what}"))
                .help = Some(help);
        }
    }

    /// Decodes `value` (found at `path`) into `T`, recording a diagnostic on failure.
    pub(super) fn decode<T: DeserializeOwned>(&mut self, value: &Value, path: &Path) -> Option<T> {
        match serde_path_to_error::deserialize::<_, T>(value) {
            Ok(decoded) => Some(decoded),
            Err(error) => {
                let inner_path = convert_path(error.path());
                let full = path.join(&inner_path);
                let message = error.inner().to_string();
                self.decode_error(&full, &message);
                None
            }
        }
    }

    pub(super) fn decode_error(&mut self, path: &Path, message: &str) {
        if let Some(field) = message
            .strip_prefix("unknown field `")
            .and_then(|rest| rest.split('`').next())
        {
            // serde_path_to_error may or may not include the unknown key itself.
            let mut parent = path.clone();
            if last_key(&parent) == Some(field) {
                parent.0.pop();
            }
            let span = self.key_at(&parent, field);
            let expected = message.split(", expected ").nth(1).unwrap_or("no fields");
            let known: Vec<&str> = expected
                .split(['`', ',', ' '])
                .filter(|word| !word.is_empty() && *word != "one" && *word != "of" && *word != "or")
                .collect();
            let help = match did_you_mean(field, known.iter().copied()) {
                Some(suggestion) => format!("did you mean `{suggestion}`? expected {expected}"),
                None => format!("expected {expected}"),
            };
            self.error(span, format!("unknown key `{field}`")).help = Some(help);
            return;
        }
        if let Some(field) = message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next())
        {
            let span = At::new(self.span(path), &path.key(field));
            self.error(span, format!("missing key `{field}` in `{path}`"));
            return;
        }
        let span = self.at(path);
        if message.starts_with("invalid duration `") || message.starts_with("empty duration:") {
            // `ParseDurationError` says what is wrong and what would be valid.
            self.error(span, message).help = Some(
                "the units are `ms`, `s`, `m`, `h` and `d`, combined as in `1h30m`".to_owned(),
            );
            return;
        }
        let (what, expected) = match message.split_once(", expected ") {
            Some((what, expected)) => (what, Some(expected)),
            None => (message, None),
        };
        let name = last_key(path).map_or_else(|| path.to_string(), |key| format!("`{key}`"));
        let diagnostic = self.error(span, format!("invalid {name}: {what}"));
        if let Some(expected) = expected {
            diagnostic.help = Some(format!("expected {expected}"));
        }
    }

    /// The value of `key` in `map`, decoded; `Err(())` when it is present but invalid.
    pub(super) fn optional<T: DeserializeOwned>(
        &mut self,
        map: &Mapping,
        path: &Path,
        key: &str,
    ) -> Result<Option<T>, ()> {
        match map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => self.decode(value, &path.key(key)).map(Some).ok_or(()),
        }
    }

    pub(super) fn required<T: DeserializeOwned>(
        &mut self,
        map: &Mapping,
        path: &Path,
        key: &str,
        what: &str,
    ) -> Option<T> {
        if matches!(map.get(key), None | Some(Value::Null)) {
            let span = At::new(self.span(path), &path.key(key));
            self.error(span, format!("{what} has no `{key}`")).help = Some(match key {
                "name" => {
                    "add `name:`, lowercase letters, digits and `-`, such as `name: web-release`"
                        .to_owned()
                }
                "version" => "add `version: 1` (the plan format this plangate reads)".to_owned(),
                "risk" => "add `risk:` with one of `low`, `medium`, `high`".to_owned(),
                _ => format!("add `{key}:` to {what}, unique in the plan, such as `{key}: build`"),
            });
            return None;
        }
        self.optional(map, path, key).ok().flatten()
    }

    /// The sequence under `key`, moved out of the document when it is a
    /// plain sequence (so the phases and tasks of a large plan are neither
    /// copied nor kept once decoded), else decoded as [`Context::required`]
    /// does, with its diagnostics.
    pub(super) fn take_sequence(
        &mut self,
        map: &mut Mapping,
        path: &Path,
        key: &str,
        what: &str,
    ) -> Option<Vec<Value>> {
        if let Some(Value::Sequence(_)) = map.get(key)
            && let Some(Value::Sequence(items)) = map.shift_remove(key)
        {
            return Some(items);
        }
        self.required::<Vec<Value>>(map, path, key, what)
    }

    pub(super) fn id_text(&mut self, text: &str, path: &Path, what: &str) -> bool {
        if is_valid_id(text) {
            return true;
        }
        let span = self.at(path);
        let diagnostic = self.error(span, format!("invalid {what} `{text}`"));
        diagnostic.label = Some("not a valid id".to_owned());
        diagnostic.help = Some(
            "ids use lowercase letters, digits and `-`, starting with a letter or digit (`[a-z0-9][a-z0-9-]*`)"
                .to_owned(),
        );
        false
    }
}
