//! One module per subcommand; `dispatch` picks one.

mod graph;
mod plan;
mod validate;

use std::path::Path;

use crate::{
    CliError,
    args::{Cli, Command},
    printer::Printer,
};

pub(crate) fn dispatch(cli: Cli, printer: &Printer) -> Result<u8, CliError> {
    match cli.command {
        Command::Validate(args) => validate::validate(&args, printer),
        Command::Plan(args) => plan::plan(&args, printer),
        Command::Graph(args) => graph::graph(&args, printer),
    }
}

/// Writes `text` to `output`, or to stdout when there is none.
pub(crate) fn emit(text: &str, output: Option<&Path>, printer: &Printer) -> Result<(), CliError> {
    match output {
        Some(path) => std::fs::write(path, text).map_err(|source| CliError::WriteOutput {
            path: path.to_owned(),
            source,
        }),
        None => printer.data(text).map_err(CliError::Stdout),
    }
}
