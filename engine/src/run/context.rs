//! The one place an [`ActionContext`] is built: for the attempts the
//! dispatcher runs, and for the calls made outside it (`observe` and
//! `verify` during reconciliation, previews of the dry run).

use std::{sync::Arc, time::Duration};

use plangate_executors::{ActionContext, Redactor};
use plangate_plans::{Action, Plan, Task};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// What every context of one invocation shares (the plan is passed to
/// [`ContextFactory::build`], so that building one never copies it).
#[derive(Clone)]
pub(crate) struct ContextFactory {
    pub(crate) run_id: String,
    pub(crate) redactor: Arc<Redactor>,
    pub(crate) grace_period: Duration,
    pub(crate) output_limit: usize,
    /// Stops the actions (the first signal).
    pub(crate) cancel: CancellationToken,
    /// Cuts the grace period short (the second signal).
    pub(crate) force_kill: CancellationToken,
}

impl ContextFactory {
    /// The context of attempt `attempt` of `action` (the task's run, verify
    /// or rollback action), with that action's executor instance and the
    /// task's timeout from now.
    pub(crate) fn build(
        &self,
        plan: &Plan,
        task: &Task,
        action: &Action,
        attempt: u32,
    ) -> ActionContext {
        let mut context =
            ActionContext::new(self.run_id.as_str(), task.id.clone(), plan.base_dir.clone())
                .with_attempt(attempt)
                .with_environment(plan.environment_of(task).to_owned())
                .with_vars(plan.vars.clone())
                .with_grace_period(self.grace_period)
                .with_output_limit(self.output_limit)
                .with_redactor(Arc::clone(&self.redactor))
                .with_cancel(self.cancel.clone())
                .with_force_kill(self.force_kill.clone())
                .with_deadline(Instant::now() + task.timeout);
        context.instance = plan.instance_of(action).cloned();
        context
    }
}
