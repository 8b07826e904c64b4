//! `plangate plan PLAN`: the dry-run impact report.

use std::collections::BTreeMap;

use plangate_engine::{
    report::{impact_report_promoted, render_impact_html, render_impact_markdown},
    run::{Previewer, approval_targets, dry_run_promotion, unpromoted},
};
use plangate_plans::{Approvals, decide_promoted, load_plan};

use crate::{
    CliError,
    args::{PlanArgs, ReportFormat},
    commands::{Settings, emit, emit_json},
    exit,
    printer::Printer,
};

pub(crate) fn plan(
    args: &PlanArgs,
    settings: &Settings,
    printer: &Printer,
) -> Result<u8, CliError> {
    dry_run(
        &args.plan,
        &args.approve,
        args.format,
        args.output.as_deref(),
        args.preview,
        settings,
        printer,
    )
}

/// The impact report of `plan`; also `run --dry-run`. A plan with
/// `policy.environments` reads its promotion evidence from the state file
/// (`--state`), which it never creates.
pub(crate) fn dry_run(
    plan_path: &std::path::Path,
    approve: &[String],
    format: ReportFormat,
    output: Option<&std::path::Path>,
    preview: bool,
    settings: &Settings,
    printer: &Printer,
) -> Result<u8, CliError> {
    let plan = load_plan(plan_path)?.plan;
    approval_targets(&plan, approve)?;
    let approvals = Approvals {
        tasks: approve.iter().cloned().collect(),
        phases: approve.iter().cloned().collect(),
        ..Approvals::default()
    };
    let promotions = dry_run_promotion(&settings.state_path, &plan)?;
    let missing = unpromoted(&promotions);
    let (dry_run, report) = if preview {
        let (dry_run, previews) = Previewer::new()?.decide_promoted(&plan, &approvals, &missing);
        let report = impact_report_promoted(&plan, &dry_run, &previews, &promotions);
        (dry_run, report)
    } else {
        let dry_run = decide_promoted(&plan, &approvals, &BTreeMap::new(), &missing);
        let report = impact_report_promoted(&plan, &dry_run, &BTreeMap::new(), &promotions);
        (dry_run, report)
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
