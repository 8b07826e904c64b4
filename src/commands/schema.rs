//! `plangate schema`: the JSON Schema of the plan format, for editors (see
//! `docs/editors.md`); `docs/plan.schema.json` is this output, committed.

use crate::{CliError, commands::emit_json, exit, printer::Printer};

pub(crate) fn schema(printer: &Printer) -> Result<u8, CliError> {
    emit_json(&plangate_plans::plan_schema(), None, printer)?;
    Ok(exit::SUCCESS)
}
