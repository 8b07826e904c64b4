//! Command-line arguments, mirroring the flags one to one (clap derive).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::env;

/// Risk-gated infrastructure task plans: validate, forecast, run, resume, roll back.
#[derive(Debug, Parser)]
#[command(name = "plangate", version, about, max_term_width = 100)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: GlobalArgs,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Args)]
pub(crate) struct GlobalArgs {
    /// When to use colour on stderr.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true)]
    pub(crate) color: ColorChoice,
    /// Print only errors.
    #[arg(long, short, global = true, conflicts_with = "verbose")]
    pub(crate) quiet: bool,
    /// Also log what plangate does (info and debug events) on stderr.
    #[arg(long, short, global = true)]
    pub(crate) verbose: bool,
    /// How log events are written on stderr: `text` lines like
    /// `warning: ...`, or one JSON object per line.
    #[arg(long, global = true, value_enum, value_name = "FORMAT", default_value_t = LogFormat::Text)]
    pub(crate) log_format: LogFormat,
    /// The state file (default: `$PLANGATE_STATE`, else `.plangate/state.db`).
    #[arg(long, global = true, value_name = "DB")]
    pub(crate) state: Option<PathBuf>,
    /// How state commits reach the disk: `normal` survives the plangate
    /// process being killed at any instant; `full` also survives the machine
    /// losing power (one fsync per commit).
    #[arg(
        long,
        global = true,
        value_enum,
        value_name = "MODE",
        env = env::PLANGATE_STATE_SYNC,
        default_value_t = StateSync::Normal
    )]
    pub(crate) state_sync: StateSync,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum StateSync {
    Normal,
    Full,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Parse and check a plan; errors point at file:line:column.
    #[command(after_help = VALIDATE_EXAMPLES)]
    Validate(ValidateArgs),
    /// Dry run: the impact report of a plan; nothing is executed.
    #[command(after_help = PLAN_EXAMPLES)]
    Plan(PlanArgs),
    /// The plan's dependency graph, phases as clusters and risk as colour.
    #[command(after_help = GRAPH_EXAMPLES)]
    Graph(GraphArgs),
    /// Execute a plan (with `--dry-run`: the same as `plan`).
    #[command(after_help = RUN_EXAMPLES)]
    Run(RunArgs),
    /// Continue an interrupted, stopped or paused run (default: the latest).
    #[command(after_help = RESUME_EXAMPLES)]
    Resume(ResumeArgs),
    /// Record an approval of a task or phase of a run, bound to the run's plan.
    #[command(after_help = APPROVE_EXAMPLES)]
    Approve(ApproveArgs),
    /// Revoke the approvals of a task or phase that the run has not acted on yet.
    #[command(after_help = REVOKE_EXAMPLES)]
    Revoke(ApproveArgs),
    /// The state of a run, task by task (default: the latest).
    #[command(after_help = STATUS_EXAMPLES)]
    Status(StatusArgs),
    /// List runs as a table, newest first.
    #[command(after_help = RUNS_EXAMPLES)]
    Runs(RunsArgs),
    /// What changed from one run to another: plan, tasks, decisions, outcomes, durations.
    #[command(after_help = DIFF_EXAMPLES)]
    Diff(DiffArgs),
    /// Roll back every completed task of a run, newest first.
    #[command(after_help = ROLLBACK_EXAMPLES)]
    Rollback(RollbackArgs),
    /// What happened in a run, with evidence.
    #[command(after_help = REPORT_EXAMPLES)]
    Report(ReportArgs),
    /// Check the whole state file (`PRAGMA quick_check`): prints `ok` or the problems.
    #[command(after_help = DOCTOR_EXAMPLES)]
    Doctor,
    /// Write a commented starter plan to start from (default: `plan.yaml`).
    #[command(after_help = INIT_EXAMPLES)]
    Init(InitArgs),
    /// Print the JSON Schema of the plan format, for editors (`docs/editors.md`).
    #[command(after_help = SCHEMA_EXAMPLES)]
    Schema,
    /// One task resolved: its settings and their origin, its decision and why.
    #[command(after_help = EXPLAIN_EXAMPLES)]
    Explain(ExplainArgs),
    /// Print a shell completion script for bash, zsh, fish, elvish or PowerShell.
    #[command(after_help = COMPLETIONS_EXAMPLES)]
    Completions(CompletionsArgs),
    /// Write the man pages: `plangate.1` and one `plangate-COMMAND.1` per command.
    #[command(after_help = MAN_EXAMPLES)]
    Man(ManArgs),
}

const VALIDATE_EXAMPLES: &str = "\
Examples:
  plangate validate plan.yaml
  plangate validate examples/marathon-42.yaml && echo valid
  plangate validate examples/quickstart.yaml --format json";

const PLAN_EXAMPLES: &str = "\
Examples:
  plangate plan plan.yaml
  plangate plan plan.yaml --format html -o impact.html
  plangate plan examples/marathon-42.yaml --approve service-mesh-production --format json";

const GRAPH_EXAMPLES: &str = "\
Examples:
  plangate graph plan.yaml | dot -Tsvg > plan.svg";

const RUN_EXAMPLES: &str = "\
Examples:
  plangate run plan.yaml
  plangate run plan.yaml --approve deploy-prod --state runs/prod.db
  plangate run plan.yaml --dry-run --preview";

const RESUME_EXAMPLES: &str = "\
Examples:
  plangate resume
  plangate resume 3f2a9c1 --retry-interrupted";

const APPROVE_EXAMPLES: &str = "\
Examples:
  plangate approve 3f2a9c1 deploy-prod --reason \"change CHG-1234 approved\"
  plangate approve 3f2a9c1 phase-3 --as alice@example.com";

const REVOKE_EXAMPLES: &str = "\
Examples:
  plangate revoke 3f2a9c1 deploy-prod --reason \"CHG-1234 was withdrawn\"
  plangate revoke 3f2a9c1 phase-3 --as security@example.com";

const STATUS_EXAMPLES: &str = "\
Examples:
  plangate status
  plangate status 3f2a9c1 --format json";

const RUNS_EXAMPLES: &str = "\
Examples:
  plangate runs
  plangate runs --status failed --status interrupted --limit 5
  plangate runs --plan plan.yaml --format json
  plangate runs --state runs/prod.db";

const DIFF_EXAMPLES: &str = "\
Examples:
  plangate diff 3f2a9c 7b1d0e
  plangate diff 3f2a9c 7b1d0e --format json
  plangate diff 3f2a9c 7b1d0e --exit-code || echo the runs differ";

const ROLLBACK_EXAMPLES: &str = "\
Examples:
  plangate rollback 3f2a9c1";

const REPORT_EXAMPLES: &str = "\
Examples:
  plangate report
  plangate report 3f2a9c1 --format html -o run.html";

const DOCTOR_EXAMPLES: &str = "\
Examples:
  plangate doctor --state .plangate/state.db";

const INIT_EXAMPLES: &str = "\
Examples:
  plangate init
  plangate init ops/upgrade.yaml && plangate plan ops/upgrade.yaml";

const SCHEMA_EXAMPLES: &str = "\
Examples:
  plangate schema > plan.schema.json
  plangate schema > .vscode/plangate-plan.schema.json";

const EXPLAIN_EXAMPLES: &str = "\
Examples:
  plangate explain examples/quickstart.yaml publish-site
  plangate explain examples/quickstart.yaml publish-site --approve publish-site
  plangate explain examples/marathon-42.yaml helm-charts-implementation --format json";

const COMPLETIONS_EXAMPLES: &str = "\
Examples:
  plangate completions bash > ~/.local/share/bash-completion/completions/plangate
  plangate completions zsh > \"${fpath[1]}/_plangate\"
  plangate completions fish > ~/.config/fish/completions/plangate.fish";

const MAN_EXAMPLES: &str = "\
Examples:
  plangate man | man -l -
  plangate man --out-dir ~/.local/share/man/man1";

#[derive(Debug, Args)]
pub(crate) struct InitArgs {
    /// Where to write the plan; an existing file is never overwritten.
    #[arg(default_value = "plan.yaml")]
    pub(crate) path: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ExplainFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub(crate) struct ExplainArgs {
    /// The plan file.
    pub(crate) plan: PathBuf,
    /// The task's id.
    pub(crate) task: String,
    /// Output format (`json` is documented in `docs/json/explain.md`).
    #[arg(long, value_enum, default_value_t = ExplainFormat::Text)]
    pub(crate) format: ExplainFormat,
    /// Decide as if this task or phase were approved (repeatable), as `plan --approve` does.
    #[arg(long = "approve", value_name = "TASK|PHASE")]
    pub(crate) approve: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct CompletionsArgs {
    /// The shell to write the script for.
    #[arg(value_enum)]
    pub(crate) shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub(crate) struct ManArgs {
    /// Write every page into this folder (created when missing) instead of
    /// printing `plangate.1` on stdout.
    #[arg(long, value_name = "DIR")]
    pub(crate) out_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The plan file.
    pub(crate) plan: PathBuf,
    /// Print the impact report instead of executing.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Approve this task or phase up front (repeatable).
    #[arg(long = "approve", value_name = "TASK|PHASE")]
    pub(crate) approve: Vec<String>,
    /// Dry-run report format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Markdown, requires = "dry_run")]
    pub(crate) format: ReportFormat,
    /// With `--dry-run`: ask each executor what it would change.
    #[arg(long, requires = "dry_run")]
    pub(crate) preview: bool,
    /// Start a new run although an earlier run of this plan is unfinished;
    /// that run is recorded as superseded and can no longer be resumed.
    #[arg(long, conflicts_with = "dry_run")]
    pub(crate) new_run: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ResumeArgs {
    /// The run: its short id (as `plangate runs` shows it), its full id, or a unique prefix (default: the latest run).
    pub(crate) run: Option<String>,
    /// Run again non-idempotent tasks that a crash or signal cut off mid-action.
    #[arg(long)]
    pub(crate) retry_interrupted: bool,
    /// Continue although the plan file changed since the run started.
    #[arg(long)]
    pub(crate) accept_plan_change: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ApproveArgs {
    /// The run: its short id (as `plangate runs` shows it), its full id, or a unique prefix.
    pub(crate) run: String,
    /// The task or phase to approve (or, for `revoke`, whose approvals to revoke).
    pub(crate) target: String,
    /// Who approves or revokes (default: `$USER@host`, or the account name at this host when `$USER` is unset).
    #[arg(long = "as", value_name = "WHO")]
    pub(crate) approved_by: Option<String>,
    /// Why.
    #[arg(long)]
    pub(crate) reason: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum StatusFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub(crate) struct StatusArgs {
    /// The run: its short id (as `plangate runs` shows it), its full id, or a unique prefix (default: the latest run).
    pub(crate) run: Option<String>,
    /// Output format: `text`, a tree of phases and tasks, or the JSON
    /// document of `docs/json/status.md`.
    #[arg(long, value_enum, default_value_t = StatusFormat::Text)]
    pub(crate) format: StatusFormat,
    /// Draw the tree with ASCII (`|--`, `` `-- ``) instead of box-drawing characters.
    #[arg(long)]
    pub(crate) ascii: bool,
}

#[derive(Debug, Args)]
pub(crate) struct RunsArgs {
    /// Output format: `text`, an aligned table, or the JSON document of
    /// `docs/json/runs.md`.
    #[arg(long, value_enum, default_value_t = StatusFormat::Text)]
    pub(crate) format: StatusFormat,
    /// List at most this many runs (the newest); at least 1.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) limit: Option<u32>,
    /// Only runs in this status (repeatable).
    #[arg(long, value_name = "STATUS", value_parser = run_statuses())]
    pub(crate) status: Vec<String>,
    /// Only runs of this plan file.
    #[arg(long, value_name = "FILE")]
    pub(crate) plan: Option<PathBuf>,
    /// Leave out the header line of the table (no effect on JSON).
    #[arg(long)]
    pub(crate) no_headers: bool,
}

/// The spellings `--status` accepts: every run status.
fn run_statuses() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(
        plangate_engine::state::RunStatus::ALL
            .iter()
            .map(|status| status.as_str()),
    )
}

#[derive(Debug, Args)]
pub(crate) struct DiffArgs {
    /// The first run (compared against): its short id, full id, or a unique prefix.
    pub(crate) run_a: String,
    /// The second run.
    pub(crate) run_b: String,
    /// Output format: `text` or the JSON document of `docs/json/diff.md`.
    #[arg(long, value_enum, default_value_t = StatusFormat::Text)]
    pub(crate) format: StatusFormat,
    /// Exit 1 when the runs differ in anything but durations (like `git diff
    /// --exit-code`); without it, diff exits 0 whatever the difference.
    #[arg(long)]
    pub(crate) exit_code: bool,
}

#[derive(Debug, Args)]
pub(crate) struct RollbackArgs {
    /// The run: its short id (as `plangate runs` shows it), its full id, or a unique prefix.
    pub(crate) run: String,
}

#[derive(Debug, Args)]
pub(crate) struct ReportArgs {
    /// The run: its short id (as `plangate runs` shows it), its full id, or a unique prefix (default: the latest run).
    pub(crate) run: Option<String>,
    /// Report format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Markdown)]
    pub(crate) format: ReportFormat,
    /// Write the report to this file instead of stdout.
    #[arg(long, short)]
    pub(crate) output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct ValidateArgs {
    /// The plan file.
    pub(crate) plan: PathBuf,
    /// Output format (`json`, every diagnostic with its position, key path
    /// and suggestion, is documented in `docs/json/validate.md`).
    #[arg(long, value_enum, default_value_t = ValidateFormat::Text)]
    pub(crate) format: ValidateFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ValidateFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ReportFormat {
    Markdown,
    Json,
    Html,
}

#[derive(Debug, Args)]
pub(crate) struct PlanArgs {
    /// The plan file.
    pub(crate) plan: PathBuf,
    /// Report format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Markdown)]
    pub(crate) format: ReportFormat,
    /// Write the report to this file instead of stdout.
    #[arg(long, short)]
    pub(crate) output: Option<PathBuf>,
    /// Decide as if this task or phase were approved (repeatable).
    #[arg(long = "approve", value_name = "TASK|PHASE")]
    pub(crate) approve: Vec<String>,
    /// Ask each executor what it would change (kubectl diff, helm diff...):
    /// reads the live systems, changes nothing.
    #[arg(long)]
    pub(crate) preview: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum GraphFormat {
    Dot,
    Mermaid,
}

#[derive(Debug, Args)]
pub(crate) struct GraphArgs {
    /// The plan file.
    pub(crate) plan: PathBuf,
    /// Graph format.
    #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
    pub(crate) format: GraphFormat,
    /// Write the graph to this file instead of stdout.
    #[arg(long, short)]
    pub(crate) output: Option<PathBuf>,
}
