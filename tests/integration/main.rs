//! End-to-end tests of the `plangate` binary. One test binary, one module per area:
//!
//! - `validate`: every validation error, with its file:line:column and caret;
//! - `dry_run`: the impact report (Markdown, JSON, HTML) of the bundled examples;
//! - `graph`: dot and Mermaid output.

mod common;
mod dry_run;
mod graph;
mod validate;
