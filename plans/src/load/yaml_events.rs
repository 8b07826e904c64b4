//! A serde [`Deserializer`] over yaml-rust2's pulled events, for the
//! streaming route ([`super::stream`]): the same decoders read a plan from
//! serde_json's deserializer and from this one, and neither builds a tree of
//! the document.
//!
//! Plain scalars resolve as serde_yaml resolves them (through
//! [`crate::yaml_value::resolve_plain`], the resolution the `Value` route
//! is tested against). What this deserializer does not handle (anchors,
//! aliases, tags, a second document, a scanner error) is an [`Unsupported`]
//! error: the streaming route then gives up and the `Value` route, whose
//! diagnostics are the authority, reads the file.

use std::{fmt, str::Chars};

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_yaml::Value;
use yaml_rust2::{
    parser::{Event, Parser},
    scanner::TScalarStyle,
};

use crate::yaml_value::resolve_plain;

/// Why the streaming route gave up; the message is for tests and debugging
/// only, since the `Value` route then reports what is wrong.
#[derive(Debug)]
pub(super) struct Unsupported(pub(super) String);

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Unsupported {}

impl de::Error for Unsupported {
    fn custom<T: fmt::Display>(message: T) -> Self {
        Self(message.to_string())
    }
}

fn unsupported(what: &str) -> Unsupported {
    Unsupported(what.to_owned())
}

/// The events of one YAML document, pulled one at a time.
pub(super) struct YamlEvents<'a> {
    parser: Parser<Chars<'a>>,
}

impl<'a> YamlEvents<'a> {
    /// Opens `text` and reads up to its first document's content; fails on
    /// an empty stream (the `Value` route reports it).
    pub(super) fn new(text: &'a str) -> Result<Self, Unsupported> {
        let mut events = Self {
            parser: Parser::new_from_str(text),
        };
        if !matches!(events.next()?, Event::StreamStart) {
            return Err(unsupported("no stream start"));
        }
        if !matches!(events.next()?, Event::DocumentStart) {
            return Err(unsupported("no document"));
        }
        Ok(events)
    }

    /// Checks that the document is over and is the only one.
    pub(super) fn end(&mut self) -> Result<(), Unsupported> {
        if !matches!(self.next()?, Event::DocumentEnd) {
            return Err(unsupported("content after the document"));
        }
        match self.next()? {
            Event::StreamEnd => Ok(()),
            _ => Err(unsupported("more than one document")),
        }
    }

    fn next(&mut self) -> Result<Event, Unsupported> {
        self.parser
            .next_token()
            .map(|(event, _)| event)
            .map_err(|error| Unsupported(error.to_string()))
    }

    /// Consumes the next event if it closes a collection.
    fn closes(&mut self) -> Result<bool, Unsupported> {
        let closes = matches!(
            self.parser
                .peek()
                .map_err(|error| Unsupported(error.to_string()))?
                .0,
            Event::SequenceEnd | Event::MappingEnd
        );
        if closes {
            self.next()?;
        }
        Ok(closes)
    }
}

impl<'de> Deserializer<'de> for &mut YamlEvents<'_> {
    type Error = Unsupported;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Unsupported> {
        match self.next()? {
            Event::Scalar(_, _, anchor, tag)
            | Event::SequenceStart(anchor, tag)
            | Event::MappingStart(anchor, tag)
                if anchor != 0 || tag.is_some() =>
            {
                Err(unsupported("an anchor or a tag"))
            }
            Event::Scalar(text, TScalarStyle::Plain, _, _) => match resolve_plain(text) {
                Some(Value::Null) => visitor.visit_unit(),
                Some(Value::Bool(flag)) => visitor.visit_bool(flag),
                Some(Value::String(text)) => visitor.visit_string(text),
                Some(Value::Number(number)) => {
                    if let Some(value) = number.as_u64() {
                        visitor.visit_u64(value)
                    } else if let Some(value) = number.as_i64() {
                        visitor.visit_i64(value)
                    } else {
                        match number.as_f64() {
                            Some(value) => visitor.visit_f64(value),
                            None => Err(unsupported("a number")),
                        }
                    }
                }
                _ => Err(unsupported("a plain scalar serde_yaml resolves otherwise")),
            },
            Event::Scalar(text, _, _, _) => visitor.visit_string(text),
            Event::SequenceStart(..) => {
                let mut access = Collection {
                    events: self,
                    done: false,
                };
                let value = visitor.visit_seq(&mut access)?;
                if access.done {
                    Ok(value)
                } else {
                    Err(unsupported("a sequence not read to its end"))
                }
            }
            Event::MappingStart(..) => {
                let mut access = Collection {
                    events: self,
                    done: false,
                };
                let value = visitor.visit_map(&mut access)?;
                if access.done {
                    Ok(value)
                } else {
                    Err(unsupported("a mapping not read to its end"))
                }
            }
            Event::Alias(_) => Err(unsupported("an alias")),
            _ => Err(unsupported("an unexpected event")),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

/// The entries of a sequence or a mapping, up to its end event.
struct Collection<'e, 'a> {
    events: &'e mut YamlEvents<'a>,
    done: bool,
}

impl<'de> SeqAccess<'de> for &mut Collection<'_, '_> {
    type Error = Unsupported;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Unsupported> {
        if self.done || self.events.closes()? {
            self.done = true;
            return Ok(None);
        }
        seed.deserialize(&mut *self.events).map(Some)
    }
}

impl<'de> MapAccess<'de> for &mut Collection<'_, '_> {
    type Error = Unsupported;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Unsupported> {
        if self.done || self.events.closes()? {
            self.done = true;
            return Ok(None);
        }
        seed.deserialize(&mut *self.events).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, Unsupported> {
        seed.deserialize(&mut *self.events)
    }
}
