//! Command-line arguments, mirroring the flags one to one (clap derive).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

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
    #[arg(long, short, global = true)]
    pub(crate) quiet: bool,
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
    Validate(ValidateArgs),
    /// Dry run: the impact report of a plan; nothing is executed.
    Plan(PlanArgs),
    /// The plan's dependency graph, phases as clusters and risk as colour.
    Graph(GraphArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ValidateArgs {
    /// The plan file.
    pub(crate) plan: PathBuf,
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
