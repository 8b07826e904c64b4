//! Plan source text and positions inside it.
//!
//! Every diagnostic points at a [`Span`] of the original file, so the source
//! text is kept next to the parsed plan for rendering carets later.

use std::{
    path::{Path, PathBuf},
    sync::OnceLock,
};

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

/// The text of a plan file and the path it was read from, with an index of
/// where each line starts so that lookups stay cheap on large plans. The
/// index is built on the first lookup: a valid plan needs no position, and
/// on a plan of 100,000 tasks in block YAML it is 800,000 lines.
#[derive(Clone, Debug)]
pub struct SourceFile {
    path: PathBuf,
    text: String,
    line_starts: OnceLock<Vec<usize>>,
}

impl SourceFile {
    /// Wraps text read from `path`.
    pub fn new(path: impl Into<PathBuf>, text: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            text: text.into(),
            line_starts: OnceLock::new(),
        }
    }

    /// Where each line starts, as byte offsets. Lines end where YAML's do
    /// (and so where the parsers' positions count them): at `\n`, `\r\n`
    /// or a lone `\r`.
    fn line_starts(&self) -> &[usize] {
        self.line_starts.get_or_init(|| {
            let bytes = self.text.as_bytes();
            std::iter::once(0)
                .chain(
                    bytes
                        .iter()
                        .enumerate()
                        .filter(|&(at, &byte)| {
                            byte == b'\n' || (byte == b'\r' && bytes.get(at + 1) != Some(&b'\n'))
                        })
                        .map(|(at, _)| at + 1),
                )
                .collect()
        })
    }

    /// How many lines the text has (a final line break starts an empty
    /// last line, where an error at the end of the file points).
    pub fn line_count(&self) -> usize {
        self.line_starts().len()
    }

    /// The text of each line, without its line break, first line first.
    pub fn lines(&self) -> impl Iterator<Item = &str> {
        (1..=self.line_count()).filter_map(|line| self.line(line))
    }

    /// `span` moved inside the text: a position past the end of its line
    /// (or past the last line, as parsers report an unexpected end of the
    /// file) becomes the position just after the last character.
    #[must_use]
    pub fn clamp(&self, span: Span) -> Span {
        let line = span.line.clamp(1, self.line_count());
        let characters = self.line(line).map_or(0, |text| text.chars().count());
        let column = if line < span.line {
            characters + 1
        } else {
            span.column.clamp(1, characters + 1)
        };
        Span {
            line,
            column,
            ..span
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

    /// The whole text, by value.
    pub fn into_text(self) -> String {
        self.text
    }

    /// The text of 1-based line `line`, without its line break.
    pub fn line(&self, line: usize) -> Option<&str> {
        let line_starts = self.line_starts();
        let start = *line_starts.get(line.checked_sub(1)?)?;
        let end = line_starts
            .get(line)
            .map_or(self.text.len(), |next| next - 1);
        let text = &self.text[start..end];
        Some(text.strip_suffix('\r').unwrap_or(text))
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
        let byte = floor_char_boundary(&self.text, byte.min(self.text.len()));
        let line_starts = self.line_starts();
        let line = line_starts.partition_point(|&start| start <= byte);
        let line_start = line_starts[line - 1];
        let column = self.text[line_start..byte].chars().count() + 1;
        (line, column)
    }
}

impl SourceFile {
    /// The 0-based byte offset of 1-based `line` and character `column`,
    /// clamped to the end of the line; `None` for a line the file does not
    /// have.
    pub fn byte_of(&self, line: usize, column: usize) -> Option<usize> {
        let start = *self.line_starts().get(line.checked_sub(1)?)?;
        let text = self.line(line)?;
        let within = text
            .char_indices()
            .nth(column.saturating_sub(1))
            .map_or(text.len(), |(byte, _)| byte);
        Some(start + within)
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
        assert_eq!(source.byte_of(2, 12), Some(x));
        assert_eq!(source.byte_of(2, 99), Some(source.text().len() - 1));
        assert_eq!(source.byte_of(9, 1), None);
    }

    #[test]
    fn lines_end_at_yaml_line_breaks() {
        let source = SourceFile::new("p.yaml", "a\r\nb\rc\n");
        assert_eq!(source.lines().collect::<Vec<_>>(), ["a", "b", "c", ""]);
        assert_eq!(source.position_of_byte(5), (3, 1));
    }

    #[test]
    fn clamp_keeps_positions_inside_the_text() {
        let source = SourceFile::new("p.yaml", "ab\ncd");
        assert_eq!(source.clamp(Span::new(5, 9, 1)), Span::new(2, 3, 1));
        assert_eq!(source.clamp(Span::new(1, 9, 2)), Span::new(1, 3, 2));
        assert_eq!(source.clamp(Span::new(0, 0, 1)), Span::new(1, 1, 1));
    }
}
