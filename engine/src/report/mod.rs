//! Reports: the dry-run impact report and its renderings.

mod html;
mod impact;
mod markdown;
pub mod schema;

pub use html::{escape as escape_html, render_impact_html};
pub use impact::{impact_report, seconds};
pub use markdown::render_impact_markdown;
