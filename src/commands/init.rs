//! `plangate init [PATH]`: writes a commented starter plan that validates and
//! runs as it is (shell actions only), never over an existing file.

use std::io::Write as _;

use crate::{CliError, args::InitArgs, exit, printer::Printer};

/// The starter plan; a test checks that it validates and runs.
const STARTER: &str = include_str!("starter.yaml");

pub(crate) fn init(args: &InitArgs, printer: &Printer) -> Result<u8, CliError> {
    let path = &args.path;
    // `create_new`: an existing file (or a link to one) is never touched, and
    // there is no window between a check and the write.
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .and_then(|mut file| {
            file.write_all(STARTER.as_bytes()).inspect_err(|_| {
                // A half-written file would only block the next try.
                let _ = std::fs::remove_file(path);
            })
        });
    match written {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(CliError::PlanExists { path: path.clone() });
        }
        Err(source) => {
            return Err(CliError::WriteOutput {
                path: path.clone(),
                source,
            });
        }
    }
    printer.status(&format!(
        "wrote `{}`: check it with `plangate validate {0}`, see what it would do with `plangate plan {0}`",
        path.display()
    ));
    Ok(exit::SUCCESS)
}
