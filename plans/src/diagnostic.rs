//! Positioned plan diagnostics and their rustc-like rendering.
//!
//! A [`Diagnostic`] names what is wrong, where (a [`Span`]), and what would be
//! valid. [`Diagnostics`] keeps every problem of one file so that a user fixes
//! them all in one round instead of one per run.

use std::fmt::{self, Write as _};

use crate::source::{SourceFile, Span};

/// How serious a [`Diagnostic`] is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The plan is invalid.
    #[default]
    Error,
    /// The plan is valid, but something in it is likely not what was meant.
    Warning,
}

impl Severity {
    /// The lowercase name (`error`, `warning`), as printed and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// One problem in a plan file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// How serious it is; every problem the loader finds is an error.
    pub severity: Severity,
    /// Where the problem is; `None` only when the file has no usable position
    /// (for example an empty file).
    pub span: Option<Span>,
    /// The key path of the value the problem is about, from the document's
    /// root, in the form `phases[1].tasks[3].timeout` (mapping keys joined
    /// by `.`, sequence indexes 0-based in brackets); `None` when it is about
    /// the file as a whole (a syntax error, an empty file).
    pub path: Option<String>,
    /// What is wrong, lowercase, no trailing period.
    pub message: String,
    /// The label under the caret (usually what was found).
    pub label: Option<String>,
    /// What would be valid.
    pub help: Option<String>,
}

impl Diagnostic {
    /// A diagnostic at `span`.
    pub fn new(span: Option<Span>, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            span,
            path: None,
            message: message.into(),
            label: None,
            help: None,
        }
    }

    /// Adds the key path of the value the problem is about.
    #[must_use]
    pub fn with_path(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }

    /// Adds the text shown under the caret.
    #[must_use]
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// Adds a `help:` line saying what would be valid.
    #[must_use]
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// Every diagnostic of one plan file, with the file for rendering.
#[derive(Clone, Debug)]
pub struct Diagnostics {
    source: SourceFile,
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    /// Collects diagnostics of `source`, sorted by position and deduplicated;
    /// every span is moved inside the file ([`SourceFile::clamp`]), so that
    /// an error at the end of the file points at its last line.
    pub fn new(source: SourceFile, mut items: Vec<Diagnostic>) -> Self {
        for item in &mut items {
            item.span = item.span.map(|span| source.clamp(span));
        }
        items.sort_by(|a, b| {
            let key = |d: &Diagnostic| d.span.map_or((0, 0), |s| (s.line, s.column));
            key(a).cmp(&key(b)).then_with(|| a.message.cmp(&b.message))
        });
        // The same problem found twice (by two checks of one value) is shown
        // once, whichever path each check named.
        items.dedup_by(|later, kept| {
            later.span == kept.span
                && later.message == kept.message
                && later.label == kept.label
                && later.help == kept.help
        });
        Self { source, items }
    }

    /// The diagnostics, sorted by line.
    pub fn items(&self) -> &[Diagnostic] {
        &self.items
    }

    /// The file they belong to.
    pub fn source(&self) -> &SourceFile {
        &self.source
    }

    /// How many there are.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Renders every diagnostic like rustc: header, `--> file:line:col`, the
    /// source line and a caret under the offending text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (i, diagnostic) in self.items.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            render_one(&mut out, &self.source, diagnostic);
        }
        out
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render())
    }
}

fn render_one(out: &mut String, source: &SourceFile, diagnostic: &Diagnostic) {
    let path = source.path().display();
    let _ = writeln!(out, "error: {}", diagnostic.message);
    match diagnostic.span {
        Some(span) => {
            let gutter = " ".repeat(span.line.to_string().len());
            let _ = writeln!(out, "{gutter}--> {path}:{}:{}", span.line, span.column);
            let line = source.line(span.line).unwrap_or("");
            // Tabs are shown as single spaces so that the caret lines up.
            let shown: String = line
                .chars()
                .map(|c| if c == '\t' { ' ' } else { c })
                .collect();
            let _ = writeln!(out, "{gutter} |");
            let _ = writeln!(out, "{} | {}", span.line, shown.trim_end());
            let available = shown.chars().count().saturating_sub(span.column - 1);
            let width = span.width.clamp(1, available.max(1));
            let _ = write!(
                out,
                "{gutter} | {}{}",
                " ".repeat(span.column - 1),
                "^".repeat(width)
            );
            match &diagnostic.label {
                Some(label) => {
                    let _ = writeln!(out, " {label}");
                }
                None => out.push('\n'),
            }
            if let Some(help) = &diagnostic.help {
                let _ = writeln!(out, "{gutter} = help: {help}");
            }
        }
        None => {
            let _ = writeln!(out, " --> {path}");
            if let Some(help) = &diagnostic.help {
                let _ = writeln!(out, "  = help: {help}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_source_line_and_caret() {
        let source = SourceFile::new("plan.yaml", "a: 1\nrisk: hgh\n");
        let diagnostics = Diagnostics::new(
            source,
            vec![
                Diagnostic::new(Some(Span::new(2, 7, 3)), "unknown risk `hgh`")
                    .with_label("not a risk level")
                    .with_help("use one of `low`, `medium`, `high`"),
            ],
        );
        insta::assert_snapshot!(diagnostics.render(), @r"
        error: unknown risk `hgh`
         --> plan.yaml:2:7
          |
        2 | risk: hgh
          |       ^^^ not a risk level
          = help: use one of `low`, `medium`, `high`
        ");
    }

    #[test]
    fn sorts_by_line_and_drops_duplicates() {
        let d = |line| Diagnostic::new(Some(Span::new(line, 1, 1)), "x");
        let diagnostics =
            Diagnostics::new(SourceFile::new("p", "a\nb\nc\n"), vec![d(3), d(1), d(3)]);
        let lines: Vec<_> = diagnostics
            .items()
            .iter()
            .map(|d| d.span.map(|s| s.line))
            .collect();
        assert_eq!(lines, [Some(1), Some(3)]);
    }
}
