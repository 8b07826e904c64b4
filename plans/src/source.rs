//! Plan source text and positions inside it.
//!
//! Every diagnostic points at a [`Span`] of the original file, so the source
//! text is kept next to the parsed plan for rendering carets later.

use std::path::{Path, PathBuf};

/// A region of the plan file, 1-based line and column (in characters).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span {
    /// 1-based line number.
    pub line: usize,
    /// 1-based column, counted in characters.
    pub column: usize,
    /// Width of the region in characters on its first line (at least 1 when rendered).
    pub width: usize,
}

impl Span {
    /// A span of `width` characters starting at `line:column`.
    pub fn new(line: usize, column: usize, width: usize) -> Self {
        Self {
            line,
            column,
            width,
        }
    }

    /// The same start, another width.
    #[must_use]
    pub fn with_width(self, width: usize) -> Self {
        Self { width, ..self }
    }

    /// Moves the start `characters` to the right on the same line.
    #[must_use]
    pub fn shifted(self, characters: usize, width: usize) -> Self {
        Self {
            line: self.line,
            column: self.column + characters,
            width,
        }
    }
}

/// The text of a plan file and the path it was read from.
#[derive(Clone, Debug)]
pub struct SourceFile {
    path: PathBuf,
    text: String,
}

impl SourceFile {
    /// Wraps text read from `path`.
    pub fn new(path: impl Into<PathBuf>, text: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            text: text.into(),
        }
    }

    /// The path as given by the user.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The whole text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The text of 1-based line `line`, without its line break.
    pub fn line(&self, line: usize) -> Option<&str> {
        self.text
            .split('\n')
            .nth(line.checked_sub(1)?)
            .map(|l| l.strip_suffix('\r').unwrap_or(l))
    }

    /// The characters a span covers on its first line.
    pub fn snippet(&self, span: Span) -> String {
        self.line(span.line)
            .map(|l| {
                l.chars()
                    .skip(span.column.saturating_sub(1))
                    .take(span.width.max(1))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Converts a byte offset into a 1-based line and character column.
    pub fn position_of_byte(&self, byte: usize) -> (usize, usize) {
        let byte = byte.min(self.text.len());
        let before = &self.text[..floor_char_boundary(&self.text, byte)];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        (line, column)
    }
}

fn floor_char_boundary(text: &str, mut byte: usize) -> usize {
    while byte > 0 && !text.is_char_boundary(byte) {
        byte -= 1;
    }
    byte
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_characters_not_bytes() {
        let source = SourceFile::new("p.yaml", "a: 1\nname: \"日本\" x\n");
        let x = source.text().find('x').expect("x is in the text");
        assert_eq!(source.position_of_byte(x), (2, 12));
        assert_eq!(source.snippet(Span::new(2, 12, 1)), "x");
        assert_eq!(source.line(2), Some("name: \"日本\" x"));
        assert_eq!(source.line(9), None);
    }
}
