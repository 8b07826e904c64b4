//! `plangate validate PLAN`.

use plangate_plans::{Approvals, decide, load_plan, text::plural};

use crate::{CliError, args::ValidateArgs, exit, printer::Printer};

pub(crate) fn validate(args: &ValidateArgs, printer: &Printer) -> Result<u8, CliError> {
    let plan = load_plan(&args.plan)?.plan;
    let dry_run = decide(&plan, &Approvals::default());
    for warning in &dry_run.warnings {
        printer.warning(warning);
    }
    printer
        .data(&format!(
            "plan `{}` is valid: {} in {}\n",
            plan.name,
            plural(plan.tasks.len(), "task", "tasks"),
            plural(plan.phases.len(), "phase", "phases")
        ))
        .map_err(CliError::Stdout)?;
    Ok(exit::SUCCESS)
}
