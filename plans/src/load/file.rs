//! Reading a plan file and running the pipeline over its text: the text
//! checks YAML parsers report badly, the YAML parse, then [`Context::plan`].

use std::{
    cell::OnceCell,
    path::{Path as FsPath, PathBuf},
};

use serde_yaml::Value;
use sha2::{Digest, Sha256};

use super::Context;
use crate::{
    diagnostic::{Diagnostic, Diagnostics},
    json_value, marked,
    model::Plan,
    source::{SourceFile, Span},
    yaml_value::{self, PackedTasks},
};

/// The error of [`load_plan`].
#[derive(Debug, thiserror::Error)]
pub enum LoadPlanError {
    /// The file could not be read (missing, permissions, not UTF-8). Not retryable
    /// without user action.
    #[error("failed to read plan file `{path}`")]
    Read {
        /// The path as given.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file was read but is not a valid plan; every problem is listed.
    #[error("plan file `{}` has {}", .0.source().path().display(), crate::text::plural(.0.len(), "error", "errors"))]
    Invalid(Diagnostics),
}

/// A validated plan and the text it was read from: a command loads its plan
/// once and keeps what it needs (a run stores the text; its hash is
/// [`Plan::content_hash`]).
#[derive(Clone, Debug)]
pub struct LoadedPlan {
    /// The validated plan.
    pub plan: Plan,
    /// The path as given and the text read from it.
    pub source: SourceFile,
}

impl LoadedPlan {
    /// The plan file's text, as read.
    pub fn text(&self) -> &str {
        self.source.text()
    }

    /// The SHA-256 of the text, hex.
    pub fn hash(&self) -> &str {
        &self.plan.content_hash
    }
}

/// Reads and validates the plan at `path`.
pub fn load_plan(path: &FsPath) -> Result<LoadedPlan, LoadPlanError> {
    let bytes = std::fs::read(path).map_err(|source| LoadPlanError::Read {
        path: path.to_owned(),
        source,
    })?;
    let text = String::from_utf8(bytes).map_err(|error| LoadPlanError::Read {
        path: path.to_owned(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, error.utf8_error()),
    })?;
    load_plan_text(path, text)
}

/// Validates `text` as the plan file at `path` held it (the copy a run
/// stored): relative paths resolve against `path`'s folder, as for
/// [`load_plan`], and diagnostics name `path`.
pub fn load_plan_text(path: &FsPath, text: String) -> Result<LoadedPlan, LoadPlanError> {
    let base_dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        _ => PathBuf::from("."),
    };
    let source = SourceFile::new(path, without_byte_order_mark(text));
    match parse_inner(&source, base_dir) {
        Ok(plan) => Ok(LoadedPlan { plan, source }),
        Err(items) => Err(LoadPlanError::Invalid(Diagnostics::new(source, items))),
    }
}

/// Validates plan text; `base_dir` is the folder relative paths resolve against.
pub fn parse_plan(source: SourceFile, base_dir: PathBuf) -> Result<Plan, Diagnostics> {
    let source = if source.text().starts_with('\u{feff}') {
        SourceFile::new(
            source.path().to_owned(),
            without_byte_order_mark(source.into_text()),
        )
    } else {
        source
    };
    match parse_inner(&source, base_dir) {
        Ok(plan) => Ok(plan),
        Err(items) => Err(Diagnostics::new(source, items)),
    }
}

/// The text without the UTF-8 byte-order mark some editors write first.
/// YAML allows one at the start of a file, but yaml-rust2 reads it as part
/// of the first key (`\u{feff}version`, an unknown key that looks like
/// `version`); without it, columns on the first line are the ones editors
/// show, as they do not show the mark.
fn without_byte_order_mark(text: String) -> String {
    match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_owned(),
        None => text,
    }
}

pub(super) fn parse_inner(source: &SourceFile, base_dir: PathBuf) -> Result<Plan, Vec<Diagnostic>> {
    let tabs = tab_diagnostics(source);
    if !tabs.is_empty() {
        return Err(tabs);
    }
    // A valid plan is decoded as it streams from the parser; anything else
    // goes the `Value` route below, whose diagnostics are the authority.
    if let Some(plan) = super::stream::load(source, base_dir.clone()) {
        return Ok(plan);
    }
    value_route(source, base_dir)
}

/// The `Value` route: the document as a `Value`, each section decoded from
/// it, every problem reported with its position.
pub(super) fn value_route(source: &SourceFile, base_dir: PathBuf) -> Result<Plan, Vec<Diagnostic>> {
    // The marked pass (positions) runs only when a position is needed: for
    // a diagnostic, or to check fields the typed pass cannot see. A valid
    // plan is usually parsed once, which halves the time and the memory of
    // loading a large plan.
    let parsed = json_value::parse(source.text()).or_else(|| yaml_value::parse(source.text()));
    let tree = OnceCell::new();
    let (value, packed_tasks) = match parsed {
        Some(parsed) => parsed,
        None => {
            let value = serde_yaml::from_str::<Value>(source.text())
                .map_err(|e| vec![yaml_error(source, &e)])?;
            // serde_yaml reads YAML 1.1 where yaml-rust2 reads 1.2: where
            // only serde_yaml reads the file, the checks that need positions
            // could not run, so the file is refused at the point where the
            // readings part.
            match marked::parse(source) {
                Ok(node) => {
                    let _ = tree.set(node);
                }
                Err(error) => {
                    return Err(vec![
                        Diagnostic::new(
                            Some(error.span),
                            format!("YAML read differently by YAML 1.1 and 1.2: {}", error.message),
                        )
                        .with_help(
                            "plans are YAML 1.2; write line breaks as plain `\\n` (U+0085, U+2028 and U+2029 break lines in YAML 1.1 only) and quote strings with unusual characters",
                        ),
                    ]);
                }
            }
            (value, PackedTasks::default())
        }
    };
    if value.is_null() {
        return Err(vec![empty_file()]);
    }
    let context = Context {
        source,
        tree,
        packed_tasks,
        diagnostics: Vec::new(),
    };
    let Value::Mapping(mut root) = value else {
        let (span, found) = context.tree().map_or_else(
            || (None, "a scalar or a sequence".to_owned()),
            |tree| (Some(tree.span), tree.describe().to_owned()),
        );
        return Err(vec![
            Diagnostic::new(span, format!("a plan must be a mapping, found {found}"))
                .with_help("a plan is a mapping with `version: 1`, `name:` and `phases:`"),
        ]);
    };
    let mut context = context;
    let plan = context.plan(&mut root, source, base_dir);
    match plan {
        Some(plan) if context.diagnostics.is_empty() => Ok(plan),
        _ => Err(context.diagnostics),
    }
}

pub(super) fn empty_file() -> Diagnostic {
    Diagnostic::new(None, "plan file is empty")
        .with_help("a plan is a mapping with `version: 1`, `name:` and `phases:`")
}

pub(super) fn tab_diagnostics(source: &SourceFile) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (index, line) in source.lines().enumerate() {
        // The indentation is ASCII, so its byte offsets are its columns.
        let tab = line
            .bytes()
            .take_while(|byte| matches!(byte, b' ' | b'\t'))
            .position(|byte| byte == b'\t');
        if let Some(column) = tab {
            out.push(
                Diagnostic::new(
                    Some(Span::new(index + 1, column + 1, 1)),
                    "tab character in indentation",
                )
                .with_label("tab")
                .with_help("YAML indents with spaces only; replace the tab with spaces"),
            );
        }
    }
    out
}

pub(super) fn yaml_error(source: &SourceFile, error: &serde_yaml::Error) -> Diagnostic {
    let message = error.to_string();
    // serde_yaml appends " at line L column C"; the span carries that already.
    let message = message
        .split(" at line ")
        .next()
        .unwrap_or(&message)
        .to_owned();
    let span = error.location().map(|location| {
        let (line, column) = source.position_of_byte(location.index());
        Span::new(line, column, 1)
    });
    if message.contains("more than one document") {
        let span = span.or_else(|| marked::document_start(source, 2));
        return Diagnostic::new(span, "plan file holds more than one YAML document")
            .with_help("remove the `---` separators; a plan is one document");
    }
    Diagnostic::new(span, format!("invalid YAML: {message}")).with_help(
        "the YAML parser stopped here; the cause is usually before this point: an unclosed `[`, `{` or quote, or a line indented differently from its siblings",
    )
}

pub(super) fn hex_sha256(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(64);
    for byte in digest {
        let _ = write!(out, "{byte:02x}");
    }
    out
}
