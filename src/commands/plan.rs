//! `plangate plan PLAN`: the dry-run impact report.

use plangate_engine::report::{impact_report, render_impact_html, render_impact_markdown};
use plangate_plans::{Approvals, decide, load_plan};

use crate::{
    CliError,
    args::{PlanArgs, ReportFormat},
    commands::emit,
    exit,
    printer::Printer,
};

pub(crate) fn plan(args: &PlanArgs, printer: &Printer) -> Result<u8, CliError> {
    let plan = load_plan(&args.plan)?;
    let approvals = Approvals {
        tasks: args.approve.iter().cloned().collect(),
        phases: args.approve.iter().cloned().collect(),
    };
    let dry_run = decide(&plan, &approvals);
    let report = impact_report(&plan, &dry_run);
    let text = match args.format {
        ReportFormat::Markdown => render_impact_markdown(&report),
        ReportFormat::Json => {
            let mut json = serde_json::to_string_pretty(&report)
                .expect("the report holds only strings, numbers and lists, which always serialise");
            json.push('\n');
            json
        }
        ReportFormat::Html => render_impact_html(&report),
    };
    emit(&text, args.output.as_deref(), printer)?;
    if let Some(path) = &args.output {
        printer.status(&format!("wrote the impact report to `{}`", path.display()));
    }
    Ok(exit::SUCCESS)
}
