//! What happened in a run, with evidence: `plangate status` and `plangate report`.
//!
//! Everything comes from the state file: the stored plan text (for names,
//! budgets and forecasts), task rows, attempts with exit codes and output
//! tails, and approvals. A task is reported complete only when the attempts
//! prove it: its last `run` succeeded and, when it declares a `verify`, a
//! `verify` succeeded after that run.
//!
//! `schema.rs` holds the JSON documents, `build.rs` reads them from the
//! state file, and `text.rs`, `markdown.rs` and `html.rs` render them, so
//! the formats cannot disagree.

mod build;
mod format;
mod gantt;
mod html;
mod markdown;
mod schema;
mod text;

pub use build::{run_report, status_report};
pub use html::render_run_html;
pub use markdown::render_run_markdown;
pub use schema::{
    ApprovalReport, AttemptReport, NotDone, PhaseOutcome, RunReport, RunSummary, StatusReport,
    TaskOutcome, TaskStatus,
};
pub use text::render_status_text;
