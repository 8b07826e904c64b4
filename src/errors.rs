//! The CLI's error type: wraps library errors, renders them with their causes
//! and a hint, and maps them to exit codes.

use std::{error::Error as _, io, path::PathBuf};

use plangate_engine::{
    run::RunError,
    state::{OpenStoreError, StoreError},
};
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
    Run(#[from] RunError),
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
    /// `--state` (or `$PLANGATE_STATE`) names a file in a folder that does
    /// not exist; only the default `.plangate/` folder is created.
    #[error("the folder `{}` of the state file does not exist", folder.display())]
    StateFolderMissing {
        /// The missing folder.
        folder: PathBuf,
    },
    /// `plangate explain` was given a task id the plan does not have.
    #[error("plan `{plan}` has no task `{task}`")]
    UnknownTask {
        /// The plan's name.
        plan: String,
        /// The id as given.
        task: String,
        /// The plan's ids closest to it, closest first (may be empty).
        nearest: Vec<String>,
    },
    /// `plangate init` was pointed at a file that exists; it is left as it is.
    #[error("`{}` already exists", path.display())]
    PlanExists {
        /// The existing file.
        path: PathBuf,
    },
}

/// The hint for an engine error.
fn run_hint(error: &RunError) -> Option<String> {
    Some(match error {
        RunError::PlanChanged { run, .. } => format!(
            "pass `--accept-plan-change` to continue with the new plan (`plangate resume {run} --accept-plan-change`; finished tasks stay finished), or restore the plan file"
        ),
        RunError::RunInProgress { pid, host, .. } => {
            format!("wait for it to finish, or stop it (`kill -INT {pid}` on `{host}`)")
        }
        RunError::UnfinishedRun { run, .. } => format!(
            "continue it with `plangate resume {run}`, or start over with `plangate run PLAN --new-run` (run `{run}` is then recorded as superseded)"
        ),
        RunError::Lock(_) => "wait for that process to finish, or stop it; a lock left by a dead process on this host is taken over automatically".to_owned(),
        RunError::NoRuns { .. } => "start a run with `plangate run PLAN`, or point `--state` (or `$PLANGATE_STATE`) at the state file of an earlier run".to_owned(),
        RunError::RollingBack { run } => format!(
            "finish the rollback with `plangate rollback {run}`, or see what happened with `plangate report {run}`"
        ),
        RunError::NotResumable { run, .. } => format!(
            "start a new run with `plangate run PLAN`, or see what happened with `plangate report {run}`"
        ),
        RunError::Store(StoreError::AmbiguousRun { .. }) => {
            "give more characters, or the short id `plangate runs` shows".to_owned()
        }
        RunError::Store(StoreError::UnknownRun { .. }) => {
            "`plangate runs` lists the runs of this state file".to_owned()
        }
        RunError::UnknownApprovalTarget { run, .. } => {
            format!("`plangate status {run}` lists its tasks and phases")
        }
        RunError::UnknownPlanTarget {
            suggestion: Some(suggestion),
            ..
        } => format!(
            "did you mean `{suggestion}`? `--approve` takes the id of a task or a phase of the plan"
        ),
        RunError::UnknownPlanTarget { .. } => {
            "`--approve` takes the id of a task or a phase of the plan (`plangate plan PLAN` lists them)".to_owned()
        }
        RunError::NoApprovalNeeded { run, .. } => format!(
            "`plangate status {run}` shows what waits for an approval; nothing was recorded"
        ),
        RunError::PlanMissing { run, path, .. } => format!(
            "put the plan back at `{}` (the state file keeps its text: `plangate report {run}` shows the run), or start over with `plangate run PLAN --new-run`",
            path.display()
        ),
        RunError::OpenStore(error) => open_store_hint(error),
        RunError::LoadPlan(error) => return load_hint(error),
        _ => return None,
    })
}

/// The hint for a plan file that cannot be read. An invalid plan has none:
/// each of its diagnostics carries its own help.
fn load_hint(error: &LoadPlanError) -> Option<String> {
    let LoadPlanError::Read { path, source } = error else {
        return None;
    };
    let path = path.display();
    Some(match source.kind() {
        io::ErrorKind::NotFound => {
            "check the path; plans are YAML files such as `examples/quickstart.yaml`".to_owned()
        }
        io::ErrorKind::IsADirectory => format!("`{path}` is a folder: give the plan file in it"),
        io::ErrorKind::InvalidData => {
            format!("save `{path}` as UTF-8 text; plangate reads plans as UTF-8 only")
        }
        io::ErrorKind::PermissionDenied => {
            format!("make `{path}` readable by this user (`ls -l {path}` shows who may read it)")
        }
        _ => return None,
    })
}

/// The hint for a state file that cannot be used. None of these errors
/// modified the file.
fn open_store_hint(error: &OpenStoreError) -> String {
    match error {
        OpenStoreError::Missing { .. } => "start a run with `plangate run PLAN`, or point `--state` (or `$PLANGATE_STATE`) at the state file of an earlier run".to_owned(),
        OpenStoreError::NotADatabase { .. } | OpenStoreError::Foreign { .. } => "the file was left as it is; point `--state` (or `$PLANGATE_STATE`) at a plangate state file, or leave it out to use `.plangate/state.db`".to_owned(),
        OpenStoreError::NewerSchema { supported, .. } => format!(
            "a newer plangate wrote this file; upgrade plangate to open it (this one, {}, reads schema versions up to {supported}); the file was left as it is",
            env!("CARGO_PKG_VERSION")
        ),
        OpenStoreError::Corrupt { path, .. } => format!(
            "restore `{}` from a backup; `plangate doctor --state {}` lists every problem SQLite finds",
            path.display(),
            path.display()
        ),
        OpenStoreError::CreateFolder { path, source }
        | OpenStoreError::Create { path, source }
        | OpenStoreError::Read { path, source } => match source.kind() {
            io::ErrorKind::IsADirectory => format!(
                "`{}` is a folder; `--state` takes the path of a file (for example `{}/state.db`)",
                path.display(),
                path.display()
            ),
            _ => format!(
                "check the permissions of `{}` and its folder, or choose another file with `--state`",
                path.display()
            ),
        },
        OpenStoreError::Sqlite { .. } => "if another plangate (or an SQLite tool) has the file open, wait for it to finish, then try again".to_owned(),
        OpenStoreError::Migrate { version, .. } => format!(
            "the file keeps its previous schema (version {}); free disk space or fix its permissions, then run the command again",
            version - 1
        ),
    }
}

impl CliError {
    /// The exit code for this error.
    pub fn process_exit_code(&self) -> u8 {
        match self {
            CliError::LoadPlan(_)
            | CliError::StateFolderMissing { .. }
            | CliError::PlanExists { .. }
            | CliError::UnknownTask { .. } => exit::USAGE,
            CliError::Run(error) if error.is_usage() => exit::USAGE,
            CliError::Run(_) | CliError::WriteOutput { .. } | CliError::Stdout(_) => exit::FAILED,
        }
    }

    /// Whether this is a closed stdout (`plangate plan ... | head`), which is not an error.
    pub(crate) fn is_broken_pipe(&self) -> bool {
        matches!(self, CliError::Stdout(e) if e.kind() == io::ErrorKind::BrokenPipe)
    }

    /// What the user can do about the error, where plangate knows. The
    /// engine's errors name no flags; the hints that spell them live here.
    fn hint(&self) -> Option<String> {
        match self {
            CliError::Run(error) => run_hint(error),
            CliError::LoadPlan(error) => load_hint(error),
            CliError::PlanExists { path } => Some(format!(
                "nothing was written; give another path (`plangate init new-plan.yaml`), or move `{}` away first",
                path.display()
            )),
            CliError::WriteOutput { path, .. } => Some(format!(
                "check that the folder of `{}` exists and is writable, or leave out `-o` to print to stdout",
                path.display()
            )),
            CliError::StateFolderMissing { .. } => Some(
                "create the folder first, or leave out `--state` (and `$PLANGATE_STATE`) to use `.plangate/state.db`, which is created when missing".to_owned(),
            ),
            CliError::UnknownTask { nearest, .. } if nearest.is_empty() => Some(
                "give the id of one of the plan's tasks (`plangate plan PLAN` lists them)"
                    .to_owned(),
            ),
            CliError::UnknownTask { nearest, .. } => Some(format!(
                "did you mean {}? task ids are listed by `plangate plan PLAN`",
                or_ticked(nearest)
            )),
            CliError::Stdout(_) => None,
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
        let mut previous = String::new();
        while let Some(cause) = source {
            // rusqlite's errors repeat SQLite's message one level down
            // ("Error code 11: The database disk image is malformed").
            let line = cause.to_string();
            if !same_message(&line, &previous) {
                text.push_str(&format!("  caused by: {line}\n"));
            }
            previous = line;
            source = cause.source();
        }
        if let Some(hint) = self.hint() {
            text.push_str(&format!("\n{}: {hint}\n", printer.paint("hint", "1;36")));
        }
        printer.error_text(&text);
    }
}

/// `` `a` ``, `` `a` or `b` ``, `` `a`, `b` or `c` ``.
fn or_ticked(items: &[String]) -> String {
    let ticked: Vec<String> = items.iter().map(|item| format!("`{item}`")).collect();
    match ticked.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, init)) => format!("{} or {last}", init.join(", ")),
    }
}

/// Whether two causes say the same thing, but for case, an `Error code N: `
/// prefix and a leading word ("The database disk image is malformed").
fn same_message(a: &str, b: &str) -> bool {
    fn bare(text: &str) -> String {
        let text = match text.strip_prefix("Error code ") {
            Some(rest) => rest.split_once(": ").map_or(text, |(_, message)| message),
            None => text,
        };
        text.to_lowercase()
    }
    let (a, b) = (bare(a), bare(b));
    !a.is_empty() && !b.is_empty() && (a.ends_with(&b) || b.ends_with(&a))
}
