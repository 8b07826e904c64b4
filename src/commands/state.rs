//! Commands that read or annotate the state file: `approve`, `status`, `runs`, `report`.

use plangate_engine::{
    report::{render_run_html, render_run_markdown, render_status_text, run_report, status_report},
    run::{approve as record_approval, default_approver},
    state::{ApprovalTarget, OpenOptions, Store},
};

use crate::{
    CliError,
    args::{ApproveArgs, ReportArgs, ReportFormat, StatusArgs, StatusFormat},
    commands::{Settings, emit},
    exit,
    printer::Printer,
};

fn open(settings: &Settings) -> Result<Store, CliError> {
    Ok(Store::open_with(
        &settings.state_path,
        OpenOptions {
            create: false,
            ..OpenOptions::default()
        },
    )
    .map_err(plangate_engine::run::RunError::from)?)
}

fn json<T: serde::Serialize>(value: &T) -> String {
    let mut text = serde_json::to_string_pretty(value)
        .expect("reports hold only strings, numbers and lists, which always serialise");
    text.push('\n');
    text
}

pub(crate) fn approve(
    args: &ApproveArgs,
    settings: &Settings,
    printer: &Printer,
) -> Result<u8, CliError> {
    let by = args.approved_by.clone().unwrap_or_else(default_approver);
    let (run, target) = record_approval(
        &settings.state_path,
        settings.synchronous_full,
        Some(&args.run),
        &args.target,
        &by,
        args.reason.as_deref(),
    )?;
    let what = match target {
        ApprovalTarget::Task(id) => format!("task `{id}`"),
        ApprovalTarget::Phase(id) => format!("phase `{id}`"),
    };
    printer.status(&format!("approved {what} of run {run} as {by}"));
    printer.hint(&format!("continue with `plangate resume {run}`"));
    Ok(exit::SUCCESS)
}

pub(crate) fn status(
    args: &StatusArgs,
    settings: &Settings,
    printer: &Printer,
) -> Result<u8, CliError> {
    let store = open(settings)?;
    let report = status_report(&store, args.run.as_deref(), &settings.state_path)?;
    let text = match args.format {
        StatusFormat::Text => render_status_text(&report),
        StatusFormat::Json => json(&report),
    };
    emit(&text, None, printer)?;
    Ok(exit::SUCCESS)
}

pub(crate) fn runs(settings: &Settings, printer: &Printer) -> Result<u8, CliError> {
    let store = open(settings)?;
    let runs = store.runs().map_err(plangate_engine::run::RunError::from)?;
    let mut text = String::new();
    for run in runs {
        text.push_str(&format!(
            "{}  {:<12}  {}  {}\n",
            run.id,
            run.status.as_str(),
            run.plan_name,
            run.plan_path.display()
        ));
    }
    if text.is_empty() {
        printer.status("no runs yet");
    }
    emit(&text, None, printer)?;
    Ok(exit::SUCCESS)
}

pub(crate) fn report(
    args: &ReportArgs,
    settings: &Settings,
    printer: &Printer,
) -> Result<u8, CliError> {
    let store = open(settings)?;
    let report = run_report(&store, args.run.as_deref(), &settings.state_path)?;
    let text = match args.format {
        ReportFormat::Markdown => render_run_markdown(&report),
        ReportFormat::Json => json(&report),
        ReportFormat::Html => render_run_html(&report),
    };
    emit(&text, args.output.as_deref(), printer)?;
    Ok(exit::SUCCESS)
}
