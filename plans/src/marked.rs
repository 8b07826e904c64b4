//! The second, marked pass over a plan document.
//!
//! serde_yaml reports positions only for syntax and type errors. Semantic checks
//! (unknown `needs`, cycles, missing rollbacks, undefined variables) must point
//! at the offending value too, so this module walks the document a second time
//! with yaml-rust2's event parser and keeps a tree of [`Node`]s whose every key
//! and value carries its [`Span`]. Lookups go by [`Path`], the same path that
//! serde_path_to_error reports for type errors, so both passes share one
//! vocabulary.

use std::fmt;

use yaml_rust2::{
    parser::{Event, MarkedEventReceiver, Parser},
    scanner::{Marker, TScalarStyle},
};

use crate::source::{SourceFile, Span};

/// A YAML node with the position of its first character.
#[derive(Clone, Debug)]
pub struct Node {
    /// Where the node starts; for scalars the width covers the scalar.
    pub span: Span,
    /// What the node holds.
    pub kind: NodeKind,
}

/// The shape of a [`Node`].
#[derive(Clone, Debug)]
pub enum NodeKind {
    /// A scalar with its text (unquoted) and whether it was written plain.
    Scalar {
        /// The scalar's value.
        value: String,
        /// `true` for plain (unquoted, non-block) scalars.
        plain: bool,
    },
    /// A sequence.
    Sequence(Vec<Node>),
    /// A mapping, in document order.
    Mapping(Vec<(Node, Node)>),
    /// An alias to an anchor; its target's shape is not tracked.
    Alias,
}

impl Node {
    /// The scalar text, if this is a scalar.
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }

    /// The entries of a mapping.
    pub fn entries(&self) -> &[(Node, Node)] {
        match &self.kind {
            NodeKind::Mapping(entries) => entries,
            _ => &[],
        }
    }

    /// The items of a sequence.
    pub fn items(&self) -> &[Node] {
        match &self.kind {
            NodeKind::Sequence(items) => items,
            _ => &[],
        }
    }

    /// The value stored under `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|(_, value)| value)
    }

    /// The key node and value node stored under `key` in a mapping.
    pub fn entry(&self, key: &str) -> Option<(&Node, &Node)> {
        self.entries()
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(k, v)| (k, v))
    }

    /// Follows `path` down the tree.
    pub fn lookup(&self, path: &Path) -> Option<&Node> {
        let mut node = self;
        for segment in &path.0 {
            node = match segment {
                Segment::Key(key) => node.get(key)?,
                Segment::Index(index) => node.items().get(*index)?,
            };
        }
        Some(node)
    }

    /// The span of the key `key` in the mapping at `path`.
    pub fn key_span(&self, path: &Path, key: &str) -> Option<Span> {
        self.lookup(path)?.entry(key).map(|(k, _)| k.span)
    }

    /// A short name of the node's kind, for messages.
    pub fn describe(&self) -> &'static str {
        match &self.kind {
            NodeKind::Scalar { .. } => "a scalar",
            NodeKind::Sequence(_) => "a sequence",
            NodeKind::Mapping(_) => "a mapping",
            NodeKind::Alias => "an alias",
        }
    }
}

/// A path from the document root: mapping keys and sequence indexes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Path(pub Vec<Segment>);

/// One step of a [`Path`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    /// A mapping key.
    Key(String),
    /// A sequence index.
    Index(usize),
}

impl Path {
    /// The root.
    pub fn root() -> Self {
        Self::default()
    }

    /// This path plus a mapping key.
    #[must_use]
    pub fn key(&self, key: &str) -> Self {
        let mut path = self.clone();
        path.0.push(Segment::Key(key.to_owned()));
        path
    }

    /// This path plus a sequence index.
    #[must_use]
    pub fn index(&self, index: usize) -> Self {
        let mut path = self.clone();
        path.0.push(Segment::Index(index));
        path
    }

    /// Appends a path below this one.
    #[must_use]
    pub fn join(&self, other: &Path) -> Self {
        let mut path = self.clone();
        path.0.extend(other.0.iter().cloned());
        path
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for segment in &self.0 {
            match segment {
                Segment::Key(key) if first => write!(f, "{key}")?,
                Segment::Key(key) => write!(f, ".{key}")?,
                Segment::Index(index) => write!(f, "[{index}]")?,
            }
            first = false;
        }
        Ok(())
    }
}

/// Why the marked pass could not build a tree.
#[derive(Debug)]
pub struct MarkedParseError {
    /// Where the YAML scanner stopped.
    pub span: Span,
    /// The scanner's own description.
    pub message: String,
}

/// Parses `source` into a marked tree; `Ok(None)` for a document with no content.
pub fn parse(source: &SourceFile) -> Result<Option<Node>, MarkedParseError> {
    let mut builder = Builder {
        source,
        stack: Vec::new(),
        root: None,
        documents: 0,
        line_cache: None,
    };
    let mut parser = Parser::new_from_str(source.text());
    parser.load(&mut builder, false).map_err(|error| {
        let (line, column) = marker_position(source, *error.marker());
        MarkedParseError {
            span: Span::new(line, column, 1),
            message: error.info().to_owned(),
        }
    })?;
    Ok(builder.root)
}

/// Where document `number` (1-based) of `source` starts, or, when the
/// YAML 1.2 parser stops before reaching it, where it stops: the position
/// of "more than one document", which serde_yaml reports without one.
pub fn document_start(source: &SourceFile, number: usize) -> Option<Span> {
    let mut parser = Parser::new_from_str(source.text());
    let mut seen = 0;
    loop {
        match parser.next_token() {
            Ok((Event::DocumentStart, marker)) => {
                seen += 1;
                if seen == number {
                    let (line, column) = marker_position(source, marker);
                    return Some(Span::new(line, column, 1));
                }
            }
            Ok((Event::StreamEnd, _)) => return None,
            Ok(_) => {}
            Err(error) => {
                let (line, column) = marker_position(source, *error.marker());
                return Some(Span::new(line, column, 1));
            }
        }
    }
}

/// yaml-rust2 reports a 1-based line and a 0-based column counted in
/// characters, which is what spans use (with a 1-based column). Reading them
/// off the marker keeps the pass linear: converting the marker's character
/// index by walking the text would make it quadratic in the file size.
fn marker_position(_source: &SourceFile, marker: Marker) -> (usize, usize) {
    (marker.line().max(1), marker.col() + 1)
}

enum Frame {
    Sequence(Span, Vec<Node>),
    Mapping(Span, Vec<(Node, Node)>, Option<Node>),
}

struct Builder<'a> {
    source: &'a SourceFile,
    stack: Vec<Frame>,
    root: Option<Node>,
    documents: usize,
    /// The last line [`Builder::line_text`] read: its number, its text and
    /// whether it is ASCII.
    line_cache: Option<(usize, &'a str, bool)>,
}

impl<'a> Builder<'a> {
    fn push_node(&mut self, node: Node) {
        match self.stack.last_mut() {
            Some(Frame::Sequence(_, items)) => items.push(node),
            Some(Frame::Mapping(_, entries, pending_key)) => match pending_key.take() {
                Some(key) => entries.push((key, node)),
                None => *pending_key = Some(node),
            },
            None => {
                if self.root.is_none() {
                    self.root = Some(node);
                }
            }
        }
    }

    /// The text of line `line`, and whether it is ASCII (then a column is
    /// a byte offset). The last line asked for is kept: the scalars of a
    /// plan written on one long line would otherwise each walk it from its
    /// start, which is quadratic in the line's length.
    fn line_text(&mut self, line: usize) -> Option<(&'a str, bool)> {
        if let Some((cached, text, ascii)) = self.line_cache
            && cached == line
        {
            return Some((text, ascii));
        }
        let source: &'a SourceFile = self.source;
        let text = source.line(line)?;
        let ascii = text.is_ascii();
        self.line_cache = Some((line, text, ascii));
        Some((text, ascii))
    }

    fn scalar_width(&mut self, start: Span, value: &str, style: TScalarStyle) -> usize {
        let Some((line, ascii)) = self.line_text(start.line) else {
            return value.chars().count();
        };
        let rest = if ascii {
            line.get(start.column - 1..).unwrap_or("")
        } else {
            let byte = line
                .char_indices()
                .nth(start.column - 1)
                .map_or(line.len(), |(byte, _)| byte);
            &line[byte..]
        };
        match style {
            TScalarStyle::SingleQuoted | TScalarStyle::DoubleQuoted => {
                let quote = rest.chars().next().unwrap_or('"');
                let mut escaped = false;
                for (i, c) in rest.chars().enumerate().skip(1) {
                    if c == quote && !escaped {
                        return i + 1;
                    }
                    escaped = quote == '"' && c == '\\' && !escaped;
                }
                rest.chars().count()
            }
            TScalarStyle::Plain => {
                let width = value.lines().next().unwrap_or("").chars().count();
                rest.chars().take(width).count().max(1)
            }
            _ => rest.chars().count().max(1),
        }
    }
}

impl MarkedEventReceiver for Builder<'_> {
    fn on_event(&mut self, event: Event, marker: Marker) {
        let (line, column) = marker_position(self.source, marker);
        let span = Span::new(line, column, 1);
        match event {
            Event::DocumentStart => self.documents += 1,
            Event::Scalar(value, style, _, _) => {
                let width = self.scalar_width(span, &value, style);
                let plain = style == TScalarStyle::Plain;
                self.push_node(Node {
                    span: span.with_width(width),
                    kind: NodeKind::Scalar { value, plain },
                });
            }
            Event::Alias(_) => self.push_node(Node {
                span,
                kind: NodeKind::Alias,
            }),
            Event::SequenceStart(..) => self.stack.push(Frame::Sequence(span, Vec::new())),
            Event::MappingStart(..) => self.stack.push(Frame::Mapping(span, Vec::new(), None)),
            Event::SequenceEnd | Event::MappingEnd => {
                let node = match self.stack.pop() {
                    Some(Frame::Sequence(span, items)) => Node {
                        span,
                        kind: NodeKind::Sequence(items),
                    },
                    Some(Frame::Mapping(span, entries, _)) => Node {
                        span,
                        kind: NodeKind::Mapping(entries),
                    },
                    None => return,
                };
                self.push_node(node);
            }
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(text: &str) -> Node {
        parse(&SourceFile::new("t.yaml", text))
            .expect("valid yaml")
            .expect("non-empty")
    }

    #[test]
    fn keys_and_values_carry_positions() {
        let root = tree(
            "version: 1\nphases:\n  - id: a\n    tasks:\n      - id: \"t-1\"\n        needs: [x, y]\n",
        );
        let path = Path::root().key("phases").index(0).key("tasks").index(0);
        let id = root.lookup(&path.key("id")).expect("id exists");
        assert_eq!(id.span, Span::new(5, 13, 5));
        assert_eq!(id.as_str(), Some("t-1"));
        let y = root.lookup(&path.key("needs").index(1)).expect("needs[1]");
        assert_eq!(y.span, Span::new(6, 20, 1));
        assert_eq!(root.key_span(&path, "needs"), Some(Span::new(6, 9, 5)));
        assert_eq!(path.key("needs").to_string(), "phases[0].tasks[0].needs");
    }

    #[test]
    fn empty_document_has_no_root() {
        assert!(
            parse(&SourceFile::new("t.yaml", "# nothing\n"))
                .expect("valid")
                .is_none()
        );
    }

    #[test]
    fn syntax_errors_have_positions() {
        let error = parse(&SourceFile::new("t.yaml", "a: [1, 2\nb: 3\n")).expect_err("unclosed");
        assert!(error.span.line >= 1);
    }
}
