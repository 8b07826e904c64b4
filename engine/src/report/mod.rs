//! Reports: the dry-run impact report, the run report and their renderings.
//!
//! Each report is one model (the JSON document of `schema.rs` and
//! `run/schema.rs`); Markdown, HTML and JSON are renderings of it.

mod dag;
mod html;
mod impact;
mod markdown;
mod page;
mod run;
pub mod schema;
mod time;

pub use html::render_impact_html;
pub use impact::{impact_report, impact_report_promoted, impact_report_with_previews, seconds};
pub use markdown::render_impact_markdown;
pub use page::escape as escape_html;
pub use run::{
    ApprovalReport, AttemptReport, NotDone, PhaseOutcome, RunReport, RunSummary, StatusReport,
    TaskOutcome, TaskStatus, render_run_html, render_run_markdown, render_status_text, run_report,
    status_report,
};
pub use time::rfc3339;
