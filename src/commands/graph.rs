//! `plangate graph PLAN`: the DAG as Graphviz dot or Mermaid.

use plangate_engine::graph::{GraphFormat as EngineGraphFormat, render_graph};
use plangate_plans::{Approvals, decide, load_plan};

use crate::{
    CliError,
    args::{GraphArgs, GraphFormat},
    commands::emit,
    exit,
    printer::Printer,
};

pub(crate) fn graph(args: &GraphArgs, printer: &Printer) -> Result<u8, CliError> {
    let plan = load_plan(&args.plan)?.plan;
    let dry_run = decide(&plan, &Approvals::default());
    let format = match args.format {
        GraphFormat::Dot => EngineGraphFormat::Dot,
        GraphFormat::Mermaid => EngineGraphFormat::Mermaid,
    };
    emit(
        &render_graph(&plan, &dry_run, format),
        args.output.as_deref(),
        printer,
    )?;
    Ok(exit::SUCCESS)
}
