//! One module per subcommand; `dispatch` resolves settings and picks one.

mod graph;
mod plan;
mod run;
mod state;
mod validate;

use std::{
    io::Write,
    path::{Path, PathBuf},
};

use crate::{
    CliError,
    args::{Cli, Command, StateSync},
    env,
    printer::Printer,
};

/// Settings resolved from flags and the environment, once; commands never
/// read either directly.
pub(crate) struct Settings {
    pub(crate) state_path: PathBuf,
    /// `PRAGMA synchronous=FULL` for the state file (`--state-sync full`).
    pub(crate) synchronous_full: bool,
}

impl Settings {
    fn resolve(cli: &Cli) -> Self {
        let state_path = cli
            .global
            .state
            .clone()
            .or_else(|| {
                std::env::var_os(env::PLANGATE_STATE)
                    .filter(|v| !v.is_empty())
                    .map(PathBuf::from)
            })
            .unwrap_or_else(|| PathBuf::from(".plangate/state.db"));
        Self {
            state_path,
            synchronous_full: cli.global.state_sync == StateSync::Full,
        }
    }
}

pub(crate) fn dispatch(cli: Cli, printer: &Printer) -> Result<u8, CliError> {
    let settings = Settings::resolve(&cli);
    match cli.command {
        Command::Validate(args) => validate::validate(&args, printer),
        Command::Plan(args) => plan::plan(&args, printer),
        Command::Graph(args) => graph::graph(&args, printer),
        Command::Run(args) => run::run(&args, &settings, printer),
        Command::Resume(args) => run::resume(&args, &settings, printer),
        Command::Rollback(args) => run::rollback(&args, &settings, printer),
        Command::Approve(args) => state::approve(&args, &settings, printer),
        Command::Status(args) => state::status(&args, &settings, printer),
        Command::Runs => state::runs(&settings, printer),
        Command::Report(args) => state::report(&args, &settings, printer),
    }
}

/// Writes `value` as pretty JSON (and a final newline) to `output`, or to
/// stdout when there is none, without building the whole text first.
pub(crate) fn emit_json<T: serde::Serialize>(
    value: &T,
    output: Option<&Path>,
    printer: &Printer,
) -> Result<(), CliError> {
    let write = |out: &mut dyn Write| -> std::io::Result<()> {
        let mut out = std::io::BufWriter::new(out);
        serde_json::to_writer_pretty(&mut out, value).map_err(std::io::Error::from)?;
        out.write_all(b"\n")?;
        out.flush()
    };
    match output {
        Some(path) => std::fs::File::create(path)
            .and_then(|mut file| write(&mut file))
            .map_err(|source| CliError::WriteOutput {
                path: path.to_owned(),
                source,
            }),
        None => printer.data_with(write).map_err(CliError::Stdout),
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
