//! Previews for the dry run: each executor says what an action would change.

use std::{collections::BTreeMap, sync::Arc};

use plangate_executors::Redactor;
use plangate_plans::{Decision, Plan};

use super::engine::Engine;
use crate::report::schema::{ChangeReport, PreviewReport};

impl Engine {
    /// Asks each task's executor what its `run` would change, for the tasks
    /// the dry run lets run or holds for approval. Nothing is executed:
    /// executors answer with server-side dry runs and diffs. A preview that
    /// fails is reported, not an error.
    pub fn previews(
        &self,
        plan: &Plan,
        dry_run: &plangate_plans::DryRun,
    ) -> BTreeMap<usize, PreviewReport> {
        let redactor = Arc::new(Redactor::for_plan(plan));
        let mut out = BTreeMap::new();
        for &index in &dry_run.order {
            if !matches!(
                dry_run.decisions[index].decision,
                Decision::Run | Decision::NeedsApproval
            ) {
                continue;
            }
            let task = &plan.tasks[index];
            let Some(executor) = self.executors.for_action(&task.run) else {
                out.insert(
                    index,
                    PreviewReport::failed(format!(
                        "no `{}` executor is available in this build",
                        task.run.kind()
                    )),
                );
                continue;
            };
            let context = self.context(plan, task, &task.run, "dry-run", &redactor);
            let preview = match self.runtime.block_on(executor.preview(&task.run, &context)) {
                Ok(preview) => PreviewReport::new(
                    preview.summary,
                    preview
                        .changes
                        .into_iter()
                        .map(|change| {
                            let kind = serde_json::to_value(change.change)
                                .ok()
                                .and_then(|v| v.as_str().map(str::to_owned))
                                .unwrap_or_else(|| format!("{:?}", change.change).to_lowercase());
                            ChangeReport::new(change.object, kind, change.diff)
                        })
                        .collect(),
                ),
                Err(error) => PreviewReport::failed(crate::run::task::error_chain(&error)),
            };
            out.insert(index, preview);
        }
        out
    }
}
