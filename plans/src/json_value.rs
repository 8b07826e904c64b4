//! The plan document as a serde_yaml [`Value`], read by serde_json when the
//! file is written as JSON (which is valid YAML).
//!
//! A generated plan is often JSON, and serde_json reads it several times
//! faster than a YAML scanner, which has to track indentation, implicit keys
//! and positions character by character. This route is only a shortcut: it
//! gives the `Value` serde_yaml would give, or steps aside (`None`), and the
//! YAML routes then decide. It steps aside for anything that does not open
//! with `{`, for any JSON error (serde_yaml then reports it, with its own
//! message and position), for duplicate keys (serde_yaml's `Mapping` rejects
//! them, so the YAML route reports them), and for every number but a plain
//! integer: floats and exponents resolve through YAML's rules, which
//! serde_json does not share in every corner (`-0`, `1e400`).
//!
//! Like the YAML route, it packs each task as JSON bytes as soon as the
//! task is read ([`PackedTasks`]), so a large plan's document is never held
//! as one tree of task mappings.

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_yaml::{Mapping, Number, Value};

use crate::yaml_value::PackedTasks;

/// The document's `Value` and its packed tasks (as the YAML route packs
/// them), or `None` when the YAML routes must decide.
pub(crate) fn parse(text: &str) -> Option<(Value, PackedTasks)> {
    if !text.trim_start_matches([' ', '\n', '\r']).starts_with('{') {
        return None;
    }
    let mut packed = PackedTasks::default();
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let value = JsonValue {
        packed: &mut packed,
        place: Place::Root,
    }
    .deserialize(&mut deserializer)
    .ok()?;
    deserializer.end().ok()?;
    Some((value, packed))
}

/// Where a value is, as far as packing tasks goes.
#[derive(Clone, Copy)]
enum Place {
    /// The document.
    Root,
    /// The root's `phases`.
    Phases,
    /// `phases[i]`.
    Phase(usize),
    /// `phases[i].tasks`.
    Tasks(usize),
    /// `phases[i].tasks[j]`.
    Task(usize, usize),
    /// Anywhere else.
    Other,
}

/// Builds a serde_yaml `Value` from serde_json's events, refusing what
/// YAML could resolve differently, and packs the tasks.
struct JsonValue<'p> {
    packed: &'p mut PackedTasks,
    place: Place,
}

impl JsonValue<'_> {
    fn at(&mut self, place: Place) -> JsonValue<'_> {
        JsonValue {
            packed: self.packed,
            place,
        }
    }
}

impl<'de> DeserializeSeed<'de> for JsonValue<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for JsonValue<'_> {
    type Value = Value;

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Value, E> {
        Ok(Value::Number(Number::from(value)))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Value, E> {
        // serde_json reads `-0` as an integer too; YAML makes it `0`, the
        // same value, but stepping aside costs nothing for so rare a case.
        if value == 0 {
            return Err(E::custom("negative zero"));
        }
        Ok(Value::Number(Number::from(value)))
    }

    fn visit_f64<E: de::Error>(self, _value: f64) -> Result<Value, E> {
        Err(E::custom("a float resolves through YAML's rules"))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_owned()))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(value))
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut access: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(access.size_hint().unwrap_or(0));
        loop {
            let place = match self.place {
                Place::Phases => Place::Phase(items.len()),
                Place::Tasks(phase) => Place::Task(phase, items.len()),
                _ => Place::Other,
            };
            let Some(item) = access.next_element_seed(self.at(place))? else {
                break;
            };
            items.push(item);
        }
        // As in `yaml_value`: the spare capacity of many small collections
        // would be most of the document's memory.
        items.shrink_to_fit();
        Ok(Value::Sequence(items))
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut access: A) -> Result<Value, A::Error> {
        let mut mapping = Mapping::new();
        while let Some(key) = access.next_key::<String>()? {
            let place = match (self.place, key.as_str()) {
                (Place::Root, "phases") => Place::Phases,
                (Place::Phase(phase), "tasks") => Place::Tasks(phase),
                _ => Place::Other,
            };
            let value = access.next_value_seed(self.at(place))?;
            if mapping.insert(Value::String(key), value).is_some() {
                return Err(de::Error::custom("duplicate key"));
            }
        }
        if let Place::Task(phase, task) = self.place
            && self.packed.pack(phase, task, &mapping)
        {
            return Ok(Value::Null);
        }
        mapping.shrink_to_fit();
        Ok(Value::Mapping(mapping))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The document's `Value` with its packed tasks put back.
    fn parse(text: &str) -> Option<Value> {
        let (mut value, mut packed) = super::parse(text)?;
        crate::yaml_value::unpack_all(&mut value, &mut packed);
        Some(value)
    }

    /// Either this route gives serde_yaml's `Value`, or it steps aside.
    #[track_caller]
    fn same_as_serde_yaml(text: &str) {
        if let Some(value) = parse(text) {
            let expected = serde_yaml::from_str::<Value>(text).expect("serde_yaml reads it too");
            assert_eq!(value, expected, "for {text:?}");
        }
    }

    #[test]
    fn documents_match_serde_yaml_or_step_aside() {
        for text in [
            "{}",
            "{\"a\": 1, \"b\": [\"x\", 2, -3, true, false, null], \"c\": {\"d\": \"e\"}}",
            "{\"big\": 18446744073709551615, \"small\": -9223372036854775808}",
            "{\"escapes\": \"tab\\there \\u00e9 \\\"quoted\\\" \\\\ \\/\"}",
            "{\"unicode\": \"日本\", \"empty\": \"\", \"spaces\": \"  a  \"}",
            "\n  {\"phases\": [{\"id\": \"p\", \"tasks\": [{\"id\": \"t\", \"needs\": []}]}]}\n",
            "{\"version\": \"1\", \"n\": \"12s\", \"t\": \"true\", \"z\": \"null\"}",
        ] {
            assert!(parse(text).is_some(), "{text:?} is read");
            same_as_serde_yaml(text);
        }
    }

    #[test]
    fn what_it_leaves_to_the_yaml_routes() {
        for text in [
            "version: 1\n",
            "[1, 2]",
            "{\"a\": 1, \"a\": 2}",
            "{\"a\": 1.5}",
            "{\"a\": 1e3}",
            "{\"a\": -0}",
            "{\"a\": 1e400}",
            "{\"a\": 1,}",
            "{\"a\": 1} trailing",
            "{\"a\": [1, 2}",
            "\u{feff}{\"a\": 1}",
        ] {
            assert!(parse(text).is_none(), "{text:?} is left to YAML");
        }
    }

    #[test]
    fn every_json_example_or_fixture_matches() {
        let text = serde_json::json!({
            "version": 1,
            "name": "json-plan",
            "policy": {"max_tasks": "none", "concurrency": 2},
            "phases": [{"id": "p0", "budget": "10h", "tasks": [
                {"id": "t0", "risk": "low", "estimate": "30s", "needs": [], "run": {"shell": ["true"]}},
                {"id": "t1", "risk": "medium", "needs": ["t0"], "run": {"shell": ["echo", "${x}"]}},
            ]}],
        })
        .to_string();
        let (_, mut packed) = super::parse(&text).expect("read");
        assert!(packed.take(0, 1).is_some(), "the tasks are packed");
        assert!(parse(&text).is_some());
        same_as_serde_yaml(&text);
        let pretty = serde_json::to_string_pretty(
            &serde_json::from_str::<serde_json::Value>(&text).expect("json"),
        )
        .expect("json");
        same_as_serde_yaml(&pretty);
    }
}
