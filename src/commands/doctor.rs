//! `plangate doctor`: the full check of a state file, which opening skips.

use plangate_engine::{
    run::RunError,
    state::{OpenOptions, OpenStoreError, Store},
};

use crate::{CliError, commands::Settings, exit, printer::Printer};

/// Opens the state file with SQLite's `PRAGMA quick_check`, which reads every
/// page; prints `ok` (exit 0), or the problems found (exit 1). A file that is
/// missing, not a plangate state file or of a newer schema is an error as
/// for every other command (exit 2).
pub(crate) fn doctor(settings: &Settings, printer: &Printer) -> Result<u8, CliError> {
    settings.check_state_folder()?;
    let options = OpenOptions {
        synchronous_full: settings.synchronous_full,
        create: false,
        full_check: true,
    };
    match Store::open_with(&settings.state_path, options) {
        Ok(store) => {
            drop(store);
            printer.data("ok\n").map_err(CliError::Stdout)?;
            Ok(exit::SUCCESS)
        }
        Err(error) => {
            let OpenStoreError::Corrupt { problems, .. } = &error else {
                return Err(CliError::Run(RunError::OpenStore(error)));
            };
            let mut text = problems.join("\n");
            if text.is_empty() {
                text = error.to_string();
            }
            text.push('\n');
            printer.data(&text).map_err(CliError::Stdout)?;
            CliError::Run(RunError::OpenStore(error)).display_to_stderr(printer);
            Ok(exit::FAILED)
        }
    }
}
