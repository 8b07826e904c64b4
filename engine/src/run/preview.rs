//! Previews for the dry run: each executor says what an action would change.
//! A [`Previewer`] needs no state file: nothing is recorded, nothing runs.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use plangate_executors::{Executors, Redactor};
use plangate_plans::{Decision, DryRun, Plan};
use tokio_util::sync::CancellationToken;

use super::{RunError, context::ContextFactory};
use crate::report::schema::{ChangeReport, PreviewReport};

/// The run id executors see in a preview's context.
const PREVIEW_RUN_ID: &str = "dry-run";

/// Bytes of a preview command's stdout and stderr kept.
const PREVIEW_OUTPUT_LIMIT: usize = 64 * 1024;

/// Asks executors what a plan's actions would change.
pub struct Previewer {
    runtime: tokio::runtime::Runtime,
    executors: Arc<Executors>,
    grace_period: Duration,
}

impl Previewer {
    /// Builds the runtime the executors' previews run on, with the built-in
    /// executors.
    pub fn new() -> Result<Self, RunError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(RunError::Runtime)?;
        Ok(Self {
            runtime,
            executors: Arc::new(Executors::with_defaults()),
            grace_period: Duration::from_secs(5),
        })
    }

    /// Replaces the executor registry (tests register extra executors).
    #[must_use]
    pub fn with_executors(mut self, executors: Executors) -> Self {
        self.executors = Arc::new(executors);
        self
    }

    /// Asks each task's executor what its `run` would change, for the tasks
    /// the dry run lets run or holds for approval. Nothing is executed:
    /// executors answer with server-side dry runs and diffs. A preview that
    /// fails is reported, not an error.
    pub fn previews(&self, plan: &Plan, dry_run: &DryRun) -> BTreeMap<usize, PreviewReport> {
        let contexts = ContextFactory {
            run_id: PREVIEW_RUN_ID.to_owned(),
            redactor: Arc::new(Redactor::for_plan(plan)),
            grace_period: self.grace_period,
            output_limit: PREVIEW_OUTPUT_LIMIT,
            cancel: CancellationToken::new(),
            force_kill: CancellationToken::new(),
        };
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
            let context = contexts.build(plan, task, &task.run, 1);
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
