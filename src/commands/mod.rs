//! One module per subcommand; `dispatch` resolves settings and picks one.

mod diff;
mod docs;
mod doctor;
mod explain;
mod graph;
mod init;
mod plan;
mod run;
mod schema;
mod state;
mod validate;

use std::{
    io::Write,
    path::{Path, PathBuf},
};

use plangate_engine::run::{Engine, EngineSettings, approver};

use crate::{
    CliError,
    args::{Cli, Command, StateSync},
    env,
    printer::Printer,
};

/// The state file used when neither `--state` nor `$PLANGATE_STATE` names one;
/// its folder is created when missing.
const DEFAULT_STATE_PATH: &str = ".plangate/state.db";

/// Settings resolved from flags and the environment, once; commands never
/// read either directly.
pub(crate) struct Settings {
    pub(crate) state_path: PathBuf,
    /// Whether `state_path` is the default, whose folder may be created.
    default_state_path: bool,
    /// `PRAGMA synchronous=FULL` for the state file (`--state-sync full`).
    pub(crate) synchronous_full: bool,
    /// Who approvals are recorded as without `--as`: `$USER`, else the
    /// account's name, at this host.
    pub(crate) approver: String,
}

impl Settings {
    fn resolve(cli: &Cli) -> Self {
        let chosen = cli.global.state.clone().or_else(env::state_path);
        Self {
            default_state_path: chosen.is_none(),
            state_path: chosen.unwrap_or_else(|| PathBuf::from(DEFAULT_STATE_PATH)),
            synchronous_full: cli.global.state_sync == StateSync::Full,
            approver: approver(env::user().as_deref()),
        }
    }

    /// The state file's folder must exist unless it is the default one.
    pub(crate) fn check_state_folder(&self) -> Result<(), CliError> {
        if self.default_state_path {
            return Ok(());
        }
        match self
            .state_path
            .parent()
            .filter(|folder| !folder.as_os_str().is_empty())
        {
            Some(folder) if !folder.is_dir() => Err(CliError::StateFolderMissing {
                folder: folder.to_owned(),
            }),
            _ => Ok(()),
        }
    }

    /// An engine for this state file, printing progress with `printer`.
    pub(crate) fn engine(&self, printer: &Printer) -> Result<Engine, CliError> {
        self.check_state_folder()?;
        let mut engine_settings = EngineSettings::new(self.state_path.clone());
        engine_settings.synchronous_full = self.synchronous_full;
        engine_settings.approver.clone_from(&self.approver);
        engine_settings.progress = run::progress(printer);
        Ok(Engine::new(engine_settings)?)
    }
}

pub(crate) fn dispatch(cli: Cli, printer: &Printer) -> Result<u8, CliError> {
    let settings = Settings::resolve(&cli);
    match cli.command {
        Command::Validate(args) => validate::validate(&args, printer),
        Command::Plan(args) => plan::plan(&args, &settings, printer),
        Command::Graph(args) => graph::graph(&args, printer),
        Command::Run(args) => run::run(&args, &settings, printer),
        Command::Resume(args) => run::resume(&args, &settings, printer),
        Command::Rollback(args) => run::rollback(&args, &settings, printer),
        Command::Approve(args) => state::approve(&args, &settings, printer),
        Command::Revoke(args) => state::revoke(&args, &settings, printer),
        Command::Status(args) => state::status(&args, &settings, printer),
        Command::Runs(args) => state::runs(&args, &settings, printer),
        Command::Diff(args) => diff::diff(&args, &settings, printer),
        Command::Report(args) => state::report(&args, &settings, printer),
        Command::Doctor => doctor::doctor(&settings, printer),
        Command::Init(args) => init::init(&args, printer),
        Command::Schema => schema::schema(printer),
        Command::Explain(args) => explain::explain(&args, &settings, printer),
        Command::Completions(args) => docs::completions(&args, printer),
        Command::Man(args) => docs::man(&args, printer),
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
