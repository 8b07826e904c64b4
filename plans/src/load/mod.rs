//! Loading a plan file: YAML parsing, typed decoding and validation, with every
//! problem of the file collected as a positioned [`Diagnostic`].
//!
//! Two routes. A valid plan goes the streaming route ([`stream`]): it is
//! decoded task by task straight from the parser's events (serde_json's for
//! a file written as JSON, yaml-rust2's otherwise, through [`yaml_events`]),
//! without a tree of the document and without positions. At the first thing
//! that route finds wrong, or does not read itself, it gives up, and the
//! `Value` route reads the file again and reports every problem:
//!
//! 1. text checks that YAML parsers report badly (tabs in indentation, empty
//!    file; these run before either route);
//! 2. the document becomes a `Value` (serde_json for a plan written as JSON,
//!    yaml-rust2's events otherwise, serde_yaml for what those leave, and for
//!    syntax errors with positions), with each task packed as JSON bytes
//!    until it is decoded;
//! 3. [`crate::marked`] parses it again, keeping the span of every key and
//!    value, but only when a position is needed (a diagnostic, or a field
//!    check the typed pass cannot make);
//! 4. each section, phase, task and action is decoded on its own, so one bad
//!    task does not hide the errors of the next; unknown keys are all reported;
//! 5. semantic checks (ids, `needs`, cycles, rollbacks, templates) run on the
//!    decoded pieces and look their spans up in the marked tree.
//!
//! Both routes share the decoders of the sections and actions and the
//! checks across tasks, so they cannot disagree on what a valid plan means
//! (the tests of [`stream`] compare them on every example plan).
//!
//! One file per section: `file` (reading, steps 1 and 2), `context` (the
//! diagnostics and the decoding helpers), `document` (the top level),
//! `policy` (with `defaults`), `vars`, `executors`, `phases`, `tasks`,
//! `actions` and `checks` (across tasks, step 5); `stream` and
//! `yaml_events` for the streaming route.

mod actions;
mod checks;
mod context;
mod document;
mod executors;
mod file;
mod phases;
mod policy;
#[cfg(test)]
mod properties;
mod stream;
mod tasks;
mod vars;
mod yaml_events;

use context::{Context, key_text};
use file::hex_sha256;
use policy::Defaults;
use tasks::{DraftTask, TaskContext, TaskPath};

pub use file::{LoadPlanError, LoadedPlan, load_plan, load_plan_text, parse_plan};
