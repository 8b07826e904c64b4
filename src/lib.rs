//! The `plangate` command line: parses arguments, calls the engine, maps
//! outcomes to exit codes. Nothing else lives here.

mod args;
mod commands;
pub mod env;
mod errors;
pub mod exit;
mod live;
mod logging;
mod printer;
mod progress_json;

use std::process::ExitCode;

use clap::Parser as _;

pub use errors::CliError;

/// Runs the command line and returns the process exit code.
pub fn main_impl() -> ExitCode {
    let arguments = match args::Cli::try_parse() {
        Ok(arguments) => arguments,
        Err(error) => {
            let code = if error.use_stderr() {
                exit::USAGE
            } else {
                exit::SUCCESS
            };
            // clap prints help and version to stdout and usage errors to stderr itself.
            let _ = error.print();
            return ExitCode::from(code);
        }
    };
    let printer = printer::Printer::new(
        arguments.global.color,
        arguments.global.quiet,
        arguments.global.log_format,
    );
    let verbosity = if arguments.global.quiet {
        logging::Verbosity::Quiet
    } else if arguments.global.verbose {
        logging::Verbosity::Verbose
    } else {
        logging::Verbosity::Default
    };
    logging::install(verbosity, arguments.global.log_format, &printer);
    match commands::dispatch(arguments, &printer) {
        Ok(code) => ExitCode::from(code),
        Err(error) if error.is_broken_pipe() => ExitCode::from(exit::SUCCESS),
        Err(error) => {
            error.display_to_stderr(&printer);
            ExitCode::from(error.process_exit_code())
        }
    }
}
