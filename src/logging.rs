//! Log events (`tracing`) on stderr: the library crates report what they
//! notice along the way (a process group killed for leaking descendants, a
//! kube context that cannot be read) as `tracing` events, and this is where
//! they reach the user.
//!
//! By default warnings and errors are shown, as `warning: ...` lines like the
//! printer's own; `--quiet` keeps errors only; `--verbose` adds the info and
//! debug events of plangate's crates; `$PLANGATE_LOG` (a `tracing` filter such
//! as `plangate_executors=trace`) overrides all three. `--log-format json`
//! writes one JSON object per line instead, for machines (a run's progress
//! events too, in the same shape: see `progress_json`). Lines go above the
//! live display when one is drawn, so `--verbose` debug lines scroll over it.

use std::fmt::{self, Write as _};

use serde_json::{Map, Value};
use tracing::{
    Event, Level, Subscriber,
    field::{Field, Visit},
};
use tracing_subscriber::{EnvFilter, Layer, layer::Context, prelude::*};

use crate::{args::LogFormat, env, live, printer::Printer};

/// The crates whose info and debug events `--verbose` shows.
const OWN_CRATES: [&str; 5] = [
    "plangate",
    "plangate_engine",
    "plangate_executors",
    "plangate_state",
    "plangate_plans",
];

/// How much to log, from the flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verbosity {
    /// `--quiet`: errors only.
    Quiet,
    /// Warnings and errors.
    Default,
    /// `--verbose`: also info and debug of plangate's crates.
    Verbose,
}

/// The filter directives of `verbosity`.
fn directives(verbosity: Verbosity) -> String {
    match verbosity {
        Verbosity::Quiet => "error".to_owned(),
        Verbosity::Default => "warn".to_owned(),
        Verbosity::Verbose => std::iter::once("warn".to_owned())
            .chain(OWN_CRATES.iter().map(|name| format!("{name}=debug")))
            .collect::<Vec<_>>()
            .join(","),
    }
}

/// Installs the stderr subscriber for the whole process.
pub(crate) fn install(verbosity: Verbosity, format: LogFormat, printer: &Printer) {
    let filter = match env::log_filter() {
        Some(text) => EnvFilter::try_new(&text).unwrap_or_else(|error| {
            printer.warning(&format!(
                "ignoring `${}`: `{text}` is not a log filter ({error})",
                env::PLANGATE_LOG
            ));
            EnvFilter::new(directives(verbosity))
        }),
        None => EnvFilter::new(directives(verbosity)),
    };
    let layer = StderrLayer {
        format,
        color: printer.colors(),
    };
    // Only fails when a subscriber is already installed, which then keeps
    // receiving the events.
    let _ = tracing_subscriber::registry()
        .with(layer.with_filter(filter))
        .try_init();
}

/// Writes each event as one line on stderr.
struct StderrLayer {
    format: LogFormat,
    color: bool,
}

impl<S: Subscriber> Layer<S> for StderrLayer {
    fn on_event(&self, event: &Event<'_>, _context: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let metadata = event.metadata();
        let line = match self.format {
            LogFormat::Text => text_line(*metadata.level(), metadata.target(), &fields, self.color),
            LogFormat::Json => json_line(*metadata.level(), metadata.target(), fields),
        };
        live::write_stderr(line.as_bytes());
    }
}

/// An event's message and other fields, in the order they were given.
#[derive(Default)]
struct Fields {
    message: String,
    others: Vec<(&'static str, Value)>,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        } else {
            self.others
                .push((field.name(), Value::String(format!("{value:?}"))));
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            value.clone_into(&mut self.message);
        } else {
            self.others.push((field.name(), Value::from(value)));
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.others.push((field.name(), Value::from(value)));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.others.push((field.name(), Value::from(value)));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.others.push((field.name(), Value::from(value)));
    }
}

/// `warning: message (key=value, ...)`; below warnings, also the target:
/// `debug plangate_executors::process: message (...)`.
fn text_line(level: Level, target: &str, fields: &Fields, color: bool) -> String {
    let (label, style) = match level {
        Level::ERROR => ("error", "1;31"),
        Level::WARN => ("warning", "1;33"),
        Level::INFO => ("info", "1;32"),
        Level::DEBUG => ("debug", "1;34"),
        Level::TRACE => ("trace", "1;35"),
    };
    let mut line = if color {
        format!("\x1b[{style}m{label}\x1b[0m")
    } else {
        label.to_owned()
    };
    if level > Level::WARN {
        let _ = write!(line, " {target}");
    }
    let _ = write!(line, ": {}", fields.message);
    if !fields.others.is_empty() {
        let pairs: Vec<String> = fields
            .others
            .iter()
            .map(|(name, value)| match value {
                Value::String(text) => format!("{name}={text}"),
                other => format!("{name}={other}"),
            })
            .collect();
        let _ = write!(line, " ({})", pairs.join(", "));
    }
    line.push('\n');
    line
}

/// `{"level": "warn", "target": ..., "message": ..., "fields": {...}}`.
fn json_line(level: Level, target: &str, fields: Fields) -> String {
    let mut object = Map::new();
    object.insert(
        "level".to_owned(),
        Value::from(level.as_str().to_ascii_lowercase()),
    );
    object.insert("target".to_owned(), Value::from(target));
    object.insert("message".to_owned(), Value::from(fields.message));
    object.insert(
        "fields".to_owned(),
        Value::Object(
            fields
                .others
                .into_iter()
                .map(|(name, value)| (name.to_owned(), value))
                .collect(),
        ),
    );
    let mut line = Value::Object(object).to_string();
    line.push('\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields() -> Fields {
        Fields {
            message: "descendants still hold the output pipes".to_owned(),
            others: vec![("pgid", Value::from(42))],
        }
    }

    #[test]
    fn text_lines_read_like_the_printer() {
        assert_eq!(
            text_line(Level::WARN, "plangate_executors::process", &fields(), false),
            "warning: descendants still hold the output pipes (pgid=42)\n"
        );
        assert_eq!(
            text_line(
                Level::DEBUG,
                "plangate_executors::process",
                &fields(),
                false
            ),
            "debug plangate_executors::process: descendants still hold the output pipes (pgid=42)\n"
        );
    }

    #[test]
    fn json_lines_are_one_object() {
        let line = json_line(Level::WARN, "plangate_executors::process", fields());
        assert_eq!(line.matches('\n').count(), 1);
        let value: Value = serde_json::from_str(&line).expect("JSON");
        assert_eq!(
            value,
            serde_json::json!({
                "level": "warn",
                "target": "plangate_executors::process",
                "message": "descendants still hold the output pipes",
                "fields": {"pgid": 42},
            })
        );
    }

    #[test]
    fn verbose_adds_plangate_crates_only() {
        assert_eq!(directives(Verbosity::Quiet), "error");
        assert_eq!(directives(Verbosity::Default), "warn");
        assert!(directives(Verbosity::Verbose).starts_with("warn,plangate=debug,"));
    }
}
