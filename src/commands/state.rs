//! Commands that read or annotate the state file: `approve`, `status`, `runs`,
//! `report`. They ask the engine; none opens the store itself.

use plangate_engine::{
    report::{render_run_html, render_run_markdown, render_status_text, rfc3339},
    state::ApprovalTarget,
};

use crate::{
    CliError,
    args::{ApproveArgs, ReportArgs, ReportFormat, StatusArgs, StatusFormat},
    commands::{Settings, emit, emit_json},
    exit,
    printer::Printer,
};

pub(crate) fn approve(
    args: &ApproveArgs,
    settings: &Settings,
    printer: &Printer,
) -> Result<u8, CliError> {
    let by = args.approved_by.as_deref().unwrap_or(&settings.approver);
    let approval =
        settings
            .engine(printer)?
            .approve(&args.run, &args.target, by, args.reason.as_deref())?;
    let what = match &approval.target {
        ApprovalTarget::Task(id) => format!("task `{id}`"),
        ApprovalTarget::Phase(id) => format!("phase `{id}`"),
    };
    printer.status(&format!(
        "approved {what} of run {} as {} at {}",
        approval.short_run,
        approval.approved_by,
        rfc3339(approval.at)
    ));
    printer.hint(&format!(
        "continue with `plangate resume {}`",
        approval.short_run
    ));
    Ok(exit::SUCCESS)
}

pub(crate) fn status(
    args: &StatusArgs,
    settings: &Settings,
    printer: &Printer,
) -> Result<u8, CliError> {
    let report = settings.engine(printer)?.status(args.run.as_deref())?;
    match args.format {
        StatusFormat::Text => emit(&render_status_text(&report), None, printer)?,
        StatusFormat::Json => emit_json(&report, None, printer)?,
    }
    Ok(exit::SUCCESS)
}

pub(crate) fn runs(settings: &Settings, printer: &Printer) -> Result<u8, CliError> {
    let runs = settings.engine(printer)?.runs()?;
    if runs.is_empty() {
        printer.status("no runs yet");
        return Ok(exit::SUCCESS);
    }
    let width = runs.iter().map(|run| run.short_id.len()).max().unwrap_or(0);
    let mut text = String::new();
    for run in runs {
        text.push_str(&format!(
            "{:<width$}  {:<12}  {}  {}  {}\n",
            run.short_id,
            run.record.status.as_str(),
            rfc3339(run.record.created_at),
            run.record.plan_name,
            run.record.plan_path.display()
        ));
    }
    emit(&text, None, printer)?;
    Ok(exit::SUCCESS)
}

pub(crate) fn report(
    args: &ReportArgs,
    settings: &Settings,
    printer: &Printer,
) -> Result<u8, CliError> {
    let report = settings.engine(printer)?.report(args.run.as_deref())?;
    let output = args.output.as_deref();
    match args.format {
        ReportFormat::Markdown => emit(&render_run_markdown(&report), output, printer)?,
        ReportFormat::Json => emit_json(&report, output, printer)?,
        ReportFormat::Html => emit(&render_run_html(&report), output, printer)?,
    }
    Ok(exit::SUCCESS)
}
