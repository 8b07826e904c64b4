//! `plangate run`, `resume` and `rollback`: the commands that execute.

use std::sync::Arc;

use plangate_engine::{
    run::{Progress, ProgressSink, ResumeOptions, RunOptions, RunOutcome},
    state::{RunStatus, TaskState},
};

use crate::{
    CliError,
    args::{ResumeArgs, RollbackArgs, RunArgs},
    commands::{Settings, plan::dry_run},
    exit, live,
    printer::{Printer, ProgressMode},
    progress_json,
};

/// The progress sink of a run: [`describe`]d events on stderr as plain
/// lines, above the live display on a terminal, or as JSON lines.
pub(crate) fn progress(printer: &Printer) -> ProgressSink {
    match printer.progress_mode() {
        ProgressMode::Quiet => Arc::new(|_: &Progress| {}),
        ProgressMode::Lines => Arc::new(|event: &Progress| {
            if let Some(line) = describe(event) {
                live::write_stderr(format!("{line}\n").as_bytes());
            }
        }),
        ProgressMode::Live => {
            let color = printer.colors();
            Arc::new(move |event: &Progress| {
                live::on_progress(event, describe(event).as_deref(), color);
            })
        }
        ProgressMode::Json => Arc::new(|event: &Progress| {
            if let Some(line) = progress_json::line(event, describe(event).as_deref()) {
                live::write_stderr(line.as_bytes());
            }
        }),
    }
}

fn describe(event: &Progress) -> Option<String> {
    Some(match event {
        Progress::RunStarted {
            run,
            resumed: false,
            ..
        } => format!("run {run} started"),
        Progress::RunStarted {
            run, resumed: true, ..
        } => format!("run {run} resumed"),
        Progress::RunRollingBack { run } => format!("run {run} rolling back"),
        Progress::PhaseStarted { phase, name, .. } => format!("phase `{phase}`: {name}"),
        Progress::TaskStarted { task, attempt, .. } => {
            format!("  start   `{task}` (attempt {attempt})")
        }
        Progress::TaskFinished {
            task,
            state,
            reason,
            duration,
        } => format!(
            "  {:<7} `{task}` in {}{}",
            short(*state),
            plangate_plans::format_duration(*duration),
            reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        ),
        Progress::TaskSkipped {
            task,
            state,
            reason,
        } => format!("  {:<7} `{task}`: {reason}", short(*state)),
        Progress::RollbackStarted { task, .. } => format!("  undo    `{task}`"),
        Progress::RollbackFinished {
            task,
            state,
            reason,
        } => format!(
            "  {:<7} `{task}`{}",
            short(*state),
            reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        ),
        Progress::LeftInPlace { task, state } => format!(
            "  {:<7} `{task}` ({}): no rollback declared; left in place",
            "kept",
            state.as_str()
        ),
        Progress::NothingToUndo { task, reason } => format!("  {:<7} `{task}`: {reason}", "keep"),
        Progress::Warning(message) => format!("warning: {message}"),
        Progress::RunFinished { run, status } => format!("run {run} {status}"),
        _ => return None,
    })
}

fn short(state: TaskState) -> &'static str {
    match state {
        TaskState::Succeeded => "ok",
        TaskState::Failed => "FAILED",
        TaskState::TimedOut => "TIMEOUT",
        TaskState::Interrupted => "stopped",
        TaskState::Excluded => "exclude",
        TaskState::Blocked => "blocked",
        TaskState::Deferred => "defer",
        TaskState::NeedsApproval => "approve",
        TaskState::RolledBack => "undone",
        TaskState::RollbackFailed => "UNDO-FAILED",
        _ => state.as_str(),
    }
}

fn exit_code(outcome: &RunOutcome, printer: &Printer) -> u8 {
    match outcome.status {
        RunStatus::Succeeded => exit::SUCCESS,
        RunStatus::Paused => {
            if let Some(reason) = &outcome.reason {
                printer.status(&format!("paused: {reason}"));
            }
            let retry = if outcome.interrupted_tasks {
                " (or resume with `--retry-interrupted` for interrupted tasks)"
            } else {
                ""
            };
            printer.hint(&format!(
                "approve with `plangate approve {} TASK|PHASE --reason ...`{retry}, then `plangate resume {}`",
                outcome.short_run, outcome.short_run
            ));
            exit::PAUSED
        }
        RunStatus::Interrupted => {
            printer.hint(&format!(
                "continue with `plangate resume {}`",
                outcome.short_run
            ));
            exit::INTERRUPTED
        }
        RunStatus::Incomplete => {
            if let Some(reason) = &outcome.reason {
                printer.status(&format!("incomplete: {reason}"));
            }
            printer.hint(&format!(
                "continue with `plangate resume {}`; the limits count the whole run, so raise a used-up one in the plan first (and resume with `--accept-plan-change`)",
                outcome.short_run
            ));
            exit::INCOMPLETE
        }
        _ => {
            printer.hint(&format!(
                "see what happened with `plangate report {}`",
                outcome.short_run
            ));
            exit::FAILED
        }
    }
}

pub(crate) fn run(args: &RunArgs, settings: &Settings, printer: &Printer) -> Result<u8, CliError> {
    let _live = live::Guard;
    if args.dry_run {
        return dry_run(
            &args.plan,
            &args.approve,
            args.format,
            None,
            args.preview,
            settings,
            printer,
        );
    }
    let outcome = settings.engine(printer)?.run(
        &args.plan,
        &RunOptions {
            approve: args.approve.clone(),
            new_run: args.new_run,
        },
    )?;
    Ok(exit_code(&outcome, printer))
}

pub(crate) fn resume(
    args: &ResumeArgs,
    settings: &Settings,
    printer: &Printer,
) -> Result<u8, CliError> {
    let _live = live::Guard;
    let outcome = settings.engine(printer)?.resume(&ResumeOptions {
        run: args.run.clone(),
        retry_interrupted: args.retry_interrupted,
        accept_plan_change: args.accept_plan_change,
    })?;
    Ok(exit_code(&outcome, printer))
}

pub(crate) fn rollback(
    args: &RollbackArgs,
    settings: &Settings,
    printer: &Printer,
) -> Result<u8, CliError> {
    let _live = live::Guard;
    let outcome = settings.engine(printer)?.rollback(Some(&args.run))?;
    Ok(if outcome.status == RunStatus::RolledBack {
        exit::SUCCESS
    } else {
        exit::FAILED
    })
}
