//! `plangate validate PLAN [--format text|json]`.
//!
//! The JSON form follows `terraform validate -json`: one document with
//! `valid`, the counts and every diagnostic with its range in the file, plus
//! plangate's key path and suggestion (`docs/json/validate.md`). The exit
//! code is the same in both forms: 0 valid, 2 invalid or unreadable.

use std::path::Path;

use plangate_plans::{
    Approvals, Diagnostic, LoadPlanError, Severity, SourceFile, decide, load_plan, text::plural,
};
use serde::Serialize;

use crate::{
    CliError,
    args::{ValidateArgs, ValidateFormat},
    commands::emit_json,
    exit,
    printer::Printer,
};

/// The version of the JSON document; bumped on any change a reader could trip on.
const FORMAT_VERSION: u32 = 1;

pub(crate) fn validate(args: &ValidateArgs, printer: &Printer) -> Result<u8, CliError> {
    if args.format == ValidateFormat::Json {
        return validate_json(&args.plan, printer);
    }
    let plan = load_plan(&args.plan)?.plan;
    let dry_run = decide(&plan, &Approvals::default());
    for warning in &dry_run.warnings {
        printer.warning(warning);
    }
    printer
        .data(&format!(
            "plan `{}` is valid: {} in {}\n",
            plan.name,
            plural(plan.tasks.len(), "task", "tasks"),
            plural(plan.phases.len(), "phase", "phases")
        ))
        .map_err(CliError::Stdout)?;
    Ok(exit::SUCCESS)
}

fn validate_json(path: &Path, printer: &Printer) -> Result<u8, CliError> {
    let filename = path.display().to_string();
    let (diagnostics, code) = match load_plan(path) {
        Ok(loaded) => {
            let dry_run = decide(&loaded.plan, &Approvals::default());
            let warnings = dry_run
                .warnings
                .iter()
                .map(|warning| JsonDiagnostic {
                    severity: Severity::Warning.as_str(),
                    summary: warning.clone(),
                    detail: String::new(),
                    range: None,
                    path: None,
                    suggestion: None,
                })
                .collect();
            (warnings, exit::SUCCESS)
        }
        Err(LoadPlanError::Invalid(diagnostics)) => {
            let items = diagnostics
                .items()
                .iter()
                .map(|diagnostic| JsonDiagnostic::new(diagnostic, diagnostics.source(), &filename))
                .collect();
            (
                items,
                CliError::LoadPlan(LoadPlanError::Invalid(diagnostics)).process_exit_code(),
            )
        }
        Err(error @ LoadPlanError::Read { .. }) => {
            let detail = std::error::Error::source(&error)
                .map(ToString::to_string)
                .unwrap_or_default();
            let diagnostic = JsonDiagnostic {
                severity: Severity::Error.as_str(),
                summary: error.to_string(),
                detail,
                range: None,
                path: None,
                suggestion: None,
            };
            (
                vec![diagnostic],
                CliError::LoadPlan(error).process_exit_code(),
            )
        }
    };
    let count = |severity: Severity| {
        diagnostics
            .iter()
            .filter(|diagnostic| diagnostic.severity == severity.as_str())
            .count()
    };
    let document = Document {
        format_version: FORMAT_VERSION,
        valid: code == exit::SUCCESS,
        error_count: count(Severity::Error),
        warning_count: count(Severity::Warning),
        diagnostics,
    };
    emit_json(&document, None, printer)?;
    Ok(code)
}

/// The whole document.
#[derive(Serialize)]
struct Document {
    format_version: u32,
    valid: bool,
    error_count: usize,
    warning_count: usize,
    diagnostics: Vec<JsonDiagnostic>,
}

/// One diagnostic.
#[derive(Serialize)]
struct JsonDiagnostic {
    severity: &'static str,
    summary: String,
    /// The text under the caret; empty when there is none.
    detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    range: Option<Range>,
    path: Option<String>,
    suggestion: Option<String>,
}

impl JsonDiagnostic {
    fn new(diagnostic: &Diagnostic, source: &SourceFile, filename: &str) -> Self {
        let range = diagnostic.span.and_then(|span| {
            let start = Position {
                line: span.line,
                column: span.column,
                byte: source.byte_of(span.line, span.column)?,
            };
            // The span's width is on its first line; the end stops at the line's end.
            let line_length = source.line(span.line)?.chars().count();
            let end_column = (span.column + span.width.max(1))
                .min(line_length + 1)
                .max(span.column);
            let end = Position {
                line: span.line,
                column: end_column,
                byte: source.byte_of(span.line, end_column)?,
            };
            Some(Range {
                filename: filename.to_owned(),
                start,
                end,
            })
        });
        Self {
            severity: diagnostic.severity.as_str(),
            summary: diagnostic.message.clone(),
            detail: diagnostic.label.clone().unwrap_or_default(),
            range,
            path: diagnostic.path.clone(),
            suggestion: diagnostic.help.clone(),
        }
    }
}

/// Where a diagnostic is: from `start` up to (not including) `end`.
#[derive(Serialize)]
struct Range {
    filename: String,
    start: Position,
    end: Position,
}

/// A place in the file: 1-based line and column (in characters), 0-based byte offset.
#[derive(Serialize)]
struct Position {
    line: usize,
    column: usize,
    byte: usize,
}
