//! The plan document as a serde_yaml [`Value`], built from yaml-rust2's
//! streaming events.
//!
//! serde_yaml's loader keeps every event of the document in memory before it
//! builds the `Value`; on a plan of 100,000 tasks that list is a large part
//! of the memory of loading, and zeroing fresh pages for it a large part of
//! the time. This route builds the same `Value` as the events stream by,
//! resolving plain scalars exactly as serde_yaml does (null, booleans, then
//! serde_yaml itself for anything that could be a number). Whatever it does
//! not handle (anchors, aliases, tags, several documents, duplicate keys, a
//! document yaml-rust2 rejects) makes it step aside: the caller then parses
//! with serde_yaml, whose answer, or error, is the authority. The one known
//! difference the other way (yaml-rust2 accepts an empty key in a flow
//! mapping, `{: v}`, which libyaml rejects) is pinned by a test; the plan
//! decoder rejects such a key anyway.

use std::collections::HashMap;

use serde_yaml::{Mapping, Value};
use yaml_rust2::{
    parser::{Event, EventReceiver, Parser},
    scanner::TScalarStyle,
};

/// The tasks of a document, each packed as JSON as soon as its mapping
/// closes, by `(phase index, task index)`: the place of each in `phases[i].tasks`
/// holds a null instead.
///
/// A task's `Value` is mostly the room of its mappings (152 bytes an entry);
/// packed, it is the size of its JSON text. Holding the tasks packed until
/// each is decoded keeps a large plan's document at a few dozen bytes a task
/// instead of about two kilobytes.
#[derive(Debug, Default)]
pub(crate) struct PackedTasks(HashMap<(usize, usize), Box<[u8]>>);

impl PackedTasks {
    /// Packs `mapping`, the task at `phases[phase].tasks[task]`; `false`
    /// (nothing kept) if JSON would not give it back exactly.
    pub(crate) fn pack(&mut self, phase: usize, task: usize, mapping: &Mapping) -> bool {
        let Some(packed) = pack(mapping) else {
            return false;
        };
        self.0.insert((phase, task), packed);
        true
    }

    /// The task at `phases[phase].tasks[task]`, if it was packed.
    pub(crate) fn take(&mut self, phase: usize, task: usize) -> Option<Value> {
        let packed = self.0.remove(&(phase, task))?;
        Some(
            serde_json::from_slice::<Value>(&packed)
                .expect("a packed task should never fail to unpack because it was written by serde_json from a Value with string keys and no float"),
        )
    }
}

/// The document's `Value` and its packed tasks, or `None` when serde_yaml
/// must decide.
pub(crate) fn parse(text: &str) -> Option<(Value, PackedTasks)> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    parser.load(&mut builder, true).ok()?;
    if builder.unsupported || !builder.stack.is_empty() {
        return None;
    }
    Some((builder.root.unwrap_or(Value::Null), builder.packed))
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    root: Option<Value>,
    documents: usize,
    /// Set on anything this route leaves to serde_yaml.
    unsupported: bool,
    packed: PackedTasks,
}

/// `mapping` as JSON, if serde_json gives it back exactly.
fn pack(mapping: &Mapping) -> Option<Box<[u8]>> {
    let exact = mapping
        .iter()
        .all(|(key, value)| matches!(key, Value::String(_)) && packs_exactly(value));
    if !exact {
        return None;
    }
    serde_json::to_vec(mapping).ok().map(Vec::into_boxed_slice)
}

/// Whether serde_json gives `value` back exactly: string keys only (it
/// would turn others into strings) and no float (it writes NaN as null).
fn packs_exactly(value: &Value) -> bool {
    match value {
        Value::Null | Value::Bool(_) | Value::String(_) => true,
        Value::Number(number) => !number.is_f64(),
        Value::Sequence(items) => items.iter().all(packs_exactly),
        Value::Mapping(mapping) => mapping
            .iter()
            .all(|(key, value)| matches!(key, Value::String(_)) && packs_exactly(value)),
        Value::Tagged(_) => false,
    }
}

enum Frame {
    Sequence(Vec<Value>),
    /// The mapping so far and the key waiting for its value.
    Mapping(Mapping, Option<Value>),
}

impl Builder {
    /// `(phase index, task index)` if the mapping that just closed is at
    /// `phases[i].tasks[j]`.
    fn task_place(&self) -> Option<(usize, usize)> {
        let [
            Frame::Mapping(_, Some(Value::String(phases))),
            Frame::Sequence(phase_items),
            Frame::Mapping(_, Some(Value::String(tasks))),
            Frame::Sequence(task_items),
        ] = self.stack.as_slice()
        else {
            return None;
        };
        (phases == "phases" && tasks == "tasks").then_some((phase_items.len(), task_items.len()))
    }

    fn push(&mut self, value: Value) {
        match self.stack.last_mut() {
            None => self.root = Some(value),
            Some(Frame::Sequence(items)) => items.push(value),
            Some(Frame::Mapping(mapping, key)) => match key.take() {
                None => *key = Some(value),
                Some(key) => {
                    if mapping.insert(key, value).is_some() {
                        // serde_yaml reports duplicate keys: let it.
                        self.unsupported = true;
                    }
                }
            },
        }
    }
}

impl EventReceiver for Builder {
    fn on_event(&mut self, event: Event) {
        if self.unsupported {
            return;
        }
        match event {
            Event::DocumentStart => {
                self.documents += 1;
                self.unsupported |= self.documents > 1;
            }
            Event::Scalar(_, _, anchor, tag)
            | Event::SequenceStart(anchor, tag)
            | Event::MappingStart(anchor, tag)
                if anchor != 0 || tag.is_some() =>
            {
                self.unsupported = true;
            }
            Event::Alias(_) => self.unsupported = true,
            Event::Scalar(text, style, _, _) => {
                let value = if style == TScalarStyle::Plain {
                    resolve_plain(text)
                } else {
                    Some(Value::String(text))
                };
                match value {
                    Some(value) => self.push(value),
                    None => self.unsupported = true,
                }
            }
            Event::SequenceStart(..) => self.stack.push(Frame::Sequence(Vec::new())),
            Event::MappingStart(..) => self.stack.push(Frame::Mapping(Mapping::new(), None)),
            // A closed collection gives back the room it grew into: the
            // tasks of a large plan are small mappings whose spare capacity
            // (a mapping of five entries has room for eight) would otherwise
            // be most of the document's memory.
            Event::SequenceEnd => match self.stack.pop() {
                Some(Frame::Sequence(mut items)) => {
                    items.shrink_to_fit();
                    self.push(Value::Sequence(items));
                }
                _ => self.unsupported = true,
            },
            Event::MappingEnd => match self.stack.pop() {
                Some(Frame::Mapping(mut mapping, None)) => {
                    if let Some((phase, task)) = self.task_place()
                        && self.packed.pack(phase, task, &mapping)
                    {
                        self.push(Value::Null);
                    } else {
                        mapping.shrink_to_fit();
                        self.push(Value::Mapping(mapping));
                    }
                }
                _ => self.unsupported = true,
            },
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => {}
        }
    }
}

/// A plain scalar as serde_yaml resolves it (`visit_untagged_scalar`):
/// empty, `~` and `null` spellings are null, `true`/`false` spellings are
/// booleans, and only a scalar that starts like a number (a digit, a sign or
/// a dot) and has nothing but number characters can be a number or an
/// infinity; serde_yaml itself resolves those. `None` if that does not give
/// a scalar.
pub(crate) fn resolve_plain(text: String) -> Option<Value> {
    match text.as_str() {
        "" | "~" | "null" | "Null" | "NULL" => return Some(Value::Null),
        "true" | "True" | "TRUE" => return Some(Value::Bool(true)),
        "false" | "False" | "FALSE" => return Some(Value::Bool(false)),
        _ => {}
    }
    let starts_like_a_number = text
        .bytes()
        .next()
        .is_some_and(|first| first.is_ascii_digit() || matches!(first, b'+' | b'-' | b'.'));
    let number_characters = text
        .bytes()
        .all(|byte| byte.is_ascii_hexdigit() || b"xXoO._+-iInNaA".contains(&byte));
    if !(starts_like_a_number && number_characters) {
        return Some(Value::String(text));
    }
    match serde_yaml::from_str::<Value>(&text) {
        Ok(value @ (Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_))) => {
            Some(value)
        }
        _ => None,
    }
}

/// Puts every packed task back in its place, for tests comparing whole
/// documents.
#[cfg(test)]
pub(crate) fn unpack_all(value: &mut Value, packed: &mut PackedTasks) {
    if let Some(Value::Sequence(phases)) = value.get_mut("phases") {
        for (phase_index, phase) in phases.iter_mut().enumerate() {
            if let Some(Value::Sequence(tasks)) = phase.get_mut("tasks") {
                for (task_index, task) in tasks.iter_mut().enumerate() {
                    if let Some(unpacked) = packed.take(phase_index, task_index) {
                        *task = unpacked;
                    }
                }
            }
        }
    }
    assert!(packed.0.is_empty(), "every packed task has its place");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Documents yaml-rust2 accepts and serde_yaml (libyaml) rejects. The
    /// plan decoder still rejects them (a plan's keys are strings).
    const LENIENT: &[&str] = &["{: value}\n"];

    /// The document's `Value` with its packed tasks put back.
    fn parse(text: &str) -> Option<Value> {
        let (mut value, mut packed) = super::parse(text)?;
        unpack_all(&mut value, &mut packed);
        Some(value)
    }

    #[test]
    fn tasks_are_packed_and_unpack_exactly() {
        let text = "phases:\n  - id: p\n    tasks:\n      - {id: a, retries: 2, needs: [], run: {shell: [\"x\"]}}\n      - {id: b, weight: 1.5}\n      - {id: c, 1: one}\n      - plain\n";
        let (_, packed) = super::parse(text).expect("supported");
        assert_eq!(
            packed.0.len(),
            1,
            "only the task without float or non-string key"
        );
        same_as_serde_yaml(text);
    }

    /// Either this route gives serde_yaml's `Value`, or it steps aside.
    #[track_caller]
    fn same_as_serde_yaml(text: &str) {
        let expected = serde_yaml::from_str::<Value>(text);
        if let Some(value) = parse(text) {
            let Ok(expected) = expected else {
                // yaml-rust2 follows YAML 1.2 where libyaml is stricter; the
                // known cases are listed, any other fails.
                assert!(
                    LENIENT.contains(&text),
                    "yaml-rust2 accepts {text:?}, serde_yaml does not"
                );
                return;
            };
            // NaN is not equal to itself; compare the renderings.
            assert_eq!(
                format!("{value:?}"),
                format!("{expected:?}"),
                "for {text:?}"
            );
        }
    }

    #[test]
    fn scalars_resolve_as_serde_yaml_resolves_them() {
        for scalar in [
            "",
            "~",
            "null",
            "Null",
            "NULL",
            "nul",
            "true",
            "True",
            "TRUE",
            "tRUE",
            "false",
            "yes",
            "no",
            "on",
            "off",
            "y",
            "n",
            "0",
            "1",
            "-1",
            "+1",
            "007",
            "0x1A",
            "0o17",
            "0b101",
            "1_000",
            "1.5",
            "-1.5",
            ".5",
            "1e3",
            "1E-3",
            ".inf",
            "-.inf",
            "+.inf",
            ".Inf",
            ".nan",
            ".NaN",
            "inf",
            "nan",
            "infinity",
            "1e400",
            "12s",
            "1h30m",
            "1d",
            "10m",
            "t1",
            "-",
            ".",
            "+",
            "1.2.3",
            "0.",
            "-0",
            "18446744073709551616",
            "-9223372036854775809",
            "2026-11-23",
            "1:30",
            "3.14159",
        ] {
            same_as_serde_yaml(&format!("key: {scalar}\n"));
            same_as_serde_yaml(&format!("- {scalar}\n"));
            same_as_serde_yaml(&format!("{{{scalar}: value}}\n"));
        }
    }

    #[test]
    fn documents_match_serde_yaml_or_step_aside() {
        for text in [
            "",
            "# only a comment\n",
            "a: 1\nb: [x, 'y', \"z\", 2]\nc: {d: e, f: null}\n",
            "text: |\n  two\n  lines\nfolded: >\n  one\n  line\n",
            "quoted: '12'\nplain: 12\n",
            "a: 1\na: 2\n",
            "a: &anchor 1\nb: *anchor\n",
            "a: !!str 1\n",
            "a: !custom x\n",
            "---\na: 1\n---\nb: 2\n",
            "a: [1, 2\n",
            "- a\n- b: c\n  d: [e]\n",
            "nested:\n  - {id: t1, needs: [t0], run: {shell: [\"true\"]}}\n",
        ] {
            same_as_serde_yaml(text);
        }
    }

    #[test]
    fn what_it_leaves_to_serde_yaml() {
        assert!(parse("a: 1\na: 2\n").is_none(), "duplicate keys");
        assert!(parse("a: &x 1\nb: *x\n").is_none(), "aliases");
        assert!(parse("a: !!str 1\n").is_none(), "tags");
        assert!(
            parse("---\na: 1\n---\nb: 2\n").is_none(),
            "several documents"
        );
        assert!(parse("a: [1, 2\n").is_none(), "a syntax error");
    }

    #[test]
    fn every_example_plan_gives_serde_yamls_value() {
        let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
        let mut checked = 0;
        for entry in std::fs::read_dir(&examples).expect("the examples folder exists") {
            let path = entry.expect("readable").path();
            if path.extension().is_some_and(|e| e == "yaml") {
                let text = std::fs::read_to_string(&path).expect("readable");
                assert!(parse(&text).is_some(), "{}", path.display());
                same_as_serde_yaml(&text);
                checked += 1;
            }
        }
        assert!(checked >= 3, "only {checked} example plans");
    }
}
