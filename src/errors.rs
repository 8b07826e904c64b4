//! The CLI's error type: wraps library errors, renders them with their causes
//! and a hint, and maps them to exit codes.

use std::{error::Error as _, io, path::PathBuf};

use plangate_engine::run::RunError;
use plangate_plans::LoadPlanError;

use crate::{exit, printer::Printer};

/// Everything a command can fail with.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The plan could not be read or is invalid.
    #[error(transparent)]
    LoadPlan(#[from] LoadPlanError),
    /// Running, resuming, rolling back or reading a run failed.
    #[error(transparent)]
    Run(#[from] plangate_engine::run::RunError),
    /// Writing the output file failed.
    #[error("failed to write `{path}`")]
    WriteOutput {
        /// The output path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// Writing to stdout failed.
    #[error("failed to write to stdout")]
    Stdout(#[source] io::Error),
}

impl CliError {
    /// The exit code for this error.
    pub fn process_exit_code(&self) -> u8 {
        match self {
            CliError::LoadPlan(_)
            | CliError::Run(
                RunError::LoadPlan(_)
                | RunError::OpenStore(_)
                | RunError::PlanChanged { .. }
                | RunError::PlanMissing { .. }
                | RunError::NotResumable { .. }
                | RunError::RollingBack { .. }
                | RunError::NoRuns { .. }
                | RunError::UnknownApprovalTarget { .. }
                | RunError::UnknownPlanTarget { .. }
                | RunError::Lock(_)
                | RunError::RunInProgress { .. }
                | RunError::UnfinishedRun { .. },
            ) => exit::USAGE,
            CliError::Run(_) | CliError::WriteOutput { .. } | CliError::Stdout(_) => exit::FAILED,
        }
    }

    /// Whether this is a closed stdout (`plangate plan ... | head`), which is not an error.
    pub(crate) fn is_broken_pipe(&self) -> bool {
        matches!(self, CliError::Stdout(e) if e.kind() == io::ErrorKind::BrokenPipe)
    }

    fn hint(&self) -> Option<String> {
        match self {
            CliError::Run(error) => error.hint(),
            CliError::LoadPlan(LoadPlanError::Read { source, .. })
                if source.kind() == io::ErrorKind::NotFound =>
            {
                Some(
                    "check the path; plans are YAML files such as `examples/quickstart.yaml`"
                        .to_owned(),
                )
            }
            _ => None,
        }
    }

    /// Renders `error: ...`, the cause chain and a hint on stderr.
    pub(crate) fn display_to_stderr(&self, printer: &Printer) {
        if let CliError::LoadPlan(LoadPlanError::Invalid(diagnostics))
        | CliError::Run(RunError::LoadPlan(LoadPlanError::Invalid(diagnostics))) = self
        {
            let rendered = diagnostics.render();
            let painted = rendered
                .lines()
                .map(|line| match line.strip_prefix("error:") {
                    Some(rest) => format!("{}:{rest}\n", printer.paint("error", "1;31")),
                    None => format!("{line}\n"),
                })
                .collect::<String>();
            printer.error_text(&painted);
            printer.error_text(&format!("\n{}: {self}\n", printer.paint("error", "1;31")));
            return;
        }
        let mut text = format!("{}: {self}\n", printer.paint("error", "1;31"));
        let mut source = self.source();
        while let Some(cause) = source {
            text.push_str(&format!("  caused by: {cause}\n"));
            source = cause.source();
        }
        if let Some(hint) = self.hint() {
            text.push_str(&format!("\n{}: {hint}\n", printer.paint("hint", "1;36")));
        }
        printer.error_text(&text);
    }
}
