//! Previews for the dry run: each executor says what an action would change.
//! A [`Previewer`] needs no state file: nothing is recorded, nothing runs.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use plangate_executors::{Executors, Redactor};
use plangate_plans::{Approvals, Decision, DryRun, Plan, decide_promoted};
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
                )
                .with_details(
                    preview
                        .details
                        .into_iter()
                        .map(|detail| (detail.label, detail.value)),
                )
                .with_blocked(preview.blocked),
                Err(error) => PreviewReport::failed(crate::run::task::error_chain(&error)),
            };
            out.insert(index, preview);
        }
        out
    }

    /// The dry run of `plan` with previews: decides, asks the executors, and
    /// decides again if a preview found that an action would be refused (a
    /// failing required check, a conflict), so that task, and what needs
    /// it, is `blocked`.
    pub fn decide(
        &self,
        plan: &Plan,
        approvals: &Approvals,
    ) -> (DryRun, BTreeMap<usize, PreviewReport>) {
        self.decide_promoted(plan, approvals, &BTreeMap::new())
    }

    /// [`Previewer::decide`], with the tasks that lack promotion evidence
    /// (see `plangate_plans::decide_promoted`) blocked.
    pub fn decide_promoted(
        &self,
        plan: &Plan,
        approvals: &Approvals,
        unpromoted: &BTreeMap<usize, String>,
    ) -> (DryRun, BTreeMap<usize, PreviewReport>) {
        let dry_run = decide_promoted(plan, approvals, &BTreeMap::new(), unpromoted);
        let previews = self.previews(plan, &dry_run);
        let blocks = preview_blocks(&previews);
        if blocks.is_empty() {
            (dry_run, previews)
        } else {
            (
                decide_promoted(plan, approvals, &blocks, unpromoted),
                previews,
            )
        }
    }
}

/// The tasks whose preview found their action would be refused, with why:
/// what [`plangate_plans::decide_with_blocks`] takes.
fn preview_blocks(previews: &BTreeMap<usize, PreviewReport>) -> BTreeMap<usize, String> {
    previews
        .iter()
        .filter_map(|(&index, preview)| {
            let reason = preview.blocked.as_ref()?;
            Some((index, format!("would be refused: {reason}")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use plangate_plans::{decide, decide_with_blocks};

    use plangate_executors::{
        ActionContext, ActionOutcome, BoxFuture, Executor, ExecutorError, Observation, Preview,
    };
    use plangate_plans::{Action, ExecutorKind, Rollback};

    use super::*;
    use crate::report::{impact_report_with_previews, render_impact_html, render_impact_markdown};

    /// A shell executor whose preview refuses the task `merge`.
    struct Refusing;

    impl Executor for Refusing {
        fn kind(&self) -> ExecutorKind {
            ExecutorKind::Shell
        }

        fn preview<'a>(
            &'a self,
            _action: &'a Action,
            ctx: &'a ActionContext,
        ) -> BoxFuture<'a, Result<Preview, ExecutorError>> {
            Box::pin(async move {
                let preview =
                    Preview::new("would merge", Vec::new()).with_detail("check ci/test", "failure");
                Ok(if ctx.task_id.as_str() == "merge" {
                    preview.blocked_by("required check `ci/test` failed")
                } else {
                    preview
                })
            })
        }

        fn apply<'a>(
            &'a self,
            _action: &'a Action,
            _ctx: &'a ActionContext,
        ) -> BoxFuture<'a, Result<ActionOutcome, ExecutorError>> {
            unreachable!("a preview runs nothing")
        }

        fn verify<'a>(
            &'a self,
            _action: &'a Action,
            _ctx: &'a ActionContext,
        ) -> BoxFuture<'a, Result<ActionOutcome, ExecutorError>> {
            unreachable!("a preview runs nothing")
        }

        fn rollback<'a>(
            &'a self,
            _rollback: &'a Rollback,
            _run: &'a Action,
            _evidence: Option<&'a serde_json::Value>,
            _ctx: &'a ActionContext,
        ) -> BoxFuture<'a, Result<ActionOutcome, ExecutorError>> {
            unreachable!("a preview runs nothing")
        }

        fn observe<'a>(
            &'a self,
            _action: &'a Action,
            _evidence: Option<&'a serde_json::Value>,
            _ctx: &'a ActionContext,
        ) -> BoxFuture<'a, Result<Observation, ExecutorError>> {
            unreachable!("a preview runs nothing")
        }
    }

    #[test]
    fn a_refusing_preview_blocks_the_task_and_what_needs_it_in_every_format() {
        let text = "version: 1\nname: p\nenvironment: dev\nphases:\n  - id: p1\n    tasks:\n      - {id: merge, risk: low, run: {shell: [\"true\"]}, rollback: {shell: [\"true\"]}}\n      - {id: after, risk: low, needs: [merge], run: {shell: [\"true\"]}, rollback: {shell: [\"true\"]}}\n      - {id: other, risk: low, run: {shell: [\"true\"]}, rollback: {shell: [\"true\"]}}\n";
        let plan = plangate_plans::load_plan_text(Path::new("plan.yaml"), text.to_owned())
            .expect("valid plan")
            .plan;
        let approvals = Approvals::default();
        let dry_run = decide(&plan, &approvals);
        let mut executors = Executors::new();
        executors.register(Arc::new(Refusing));
        let previews = Previewer::new()
            .expect("runtime")
            .with_executors(executors)
            .previews(&plan, &dry_run);
        let blocks = preview_blocks(&previews);
        assert_eq!(
            blocks,
            BTreeMap::from([(
                0,
                "would be refused: required check `ci/test` failed".to_owned()
            )])
        );
        let dry_run = decide_with_blocks(&plan, &approvals, &blocks);
        let decisions: Vec<_> = dry_run.decisions.iter().map(|d| d.decision).collect();
        assert_eq!(
            decisions,
            [Decision::Blocked, Decision::Blocked, Decision::Run]
        );

        let report = impact_report_with_previews(&plan, &dry_run, &previews);
        let json = serde_json::to_value(&report).expect("serializes");
        let merge = &json["phases"][0]["tasks"][0];
        assert_eq!(merge["decision"], "blocked");
        assert_eq!(
            merge["reason"],
            "would be refused: required check `ci/test` failed"
        );
        assert_eq!(
            merge["preview"]["blocked"],
            "required check `ci/test` failed"
        );
        assert_eq!(
            merge["preview"]["details"][0],
            serde_json::json!({"label": "check ci/test", "value": "failure"})
        );
        assert_eq!(json["summary"]["decisions"]["blocked"], 2);
        let markdown = render_impact_markdown(&report);
        assert!(
            markdown.contains("- **would be refused**: required check `ci/test` failed"),
            "{markdown}"
        );
        assert!(markdown.contains("- check ci/test: failure"), "{markdown}");
        let html = render_impact_html(&report);
        assert!(
            html.contains(
                "<strong>would be refused</strong>: required check <code>ci/test</code> failed"
            ),
            "{html}"
        );
        assert!(
            html.contains("<li>check ci/test: <code>failure</code></li>"),
            "{html}"
        );
    }
}
