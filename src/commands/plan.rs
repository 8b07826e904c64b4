//! `plangate plan PLAN`: the dry-run impact report.

use plangate_engine::{
    report::{
        impact_report, impact_report_with_previews, render_impact_html, render_impact_markdown,
    },
    run::{Previewer, preview_blocks},
};
use plangate_plans::{Approvals, decide, decide_with_blocks, load_plan};

use crate::{
    CliError,
    args::{PlanArgs, ReportFormat},
    commands::{emit, emit_json},
    exit,
    printer::Printer,
};

pub(crate) fn plan(args: &PlanArgs, printer: &Printer) -> Result<u8, CliError> {
    dry_run(
        &args.plan,
        &args.approve,
        args.format,
        args.output.as_deref(),
        args.preview,
        printer,
    )
}

/// The impact report of `plan`; also `run --dry-run`.
pub(crate) fn dry_run(
    plan_path: &std::path::Path,
    approve: &[String],
    format: ReportFormat,
    output: Option<&std::path::Path>,
    preview: bool,
    printer: &Printer,
) -> Result<u8, CliError> {
    let plan = load_plan(plan_path)?.plan;
    let approvals = Approvals {
        tasks: approve.iter().cloned().collect(),
        phases: approve.iter().cloned().collect(),
    };
    let mut dry_run = decide(&plan, &approvals);
    let report = if preview {
        let previews = Previewer::new()?.previews(&plan, &dry_run);
        // An action its preview found would be refused (a failing required
        // check, a conflict) is `blocked`, and so is what needs it.
        let blocks = preview_blocks(&previews);
        if !blocks.is_empty() {
            dry_run = decide_with_blocks(&plan, &approvals, &blocks);
        }
        impact_report_with_previews(&plan, &dry_run, &previews)
    } else {
        impact_report(&plan, &dry_run)
    };
    // A large plan's report is large: free what it was made from first.
    drop(dry_run);
    drop(plan);
    match format {
        ReportFormat::Markdown => emit(&render_impact_markdown(&report), output, printer)?,
        ReportFormat::Json => emit_json(&report, output, printer)?,
        ReportFormat::Html => emit(&render_impact_html(&report), output, printer)?,
    }
    if let Some(path) = output {
        printer.status(&format!("wrote the impact report to `{}`", path.display()));
    }
    Ok(exit::SUCCESS)
}
