//! The questions the CLI asks of a state file, and the one annotation it
//! makes: [`Engine::status`], [`Engine::report`], [`Engine::runs`] and
//! [`Engine::approve`]. The CLI never opens the store itself; these open it
//! without creating it, so a mistyped `--state` is an error, not a new file.

use std::path::Path;

use plangate_plans::{Decision, PhaseId, load_plan_text};
use plangate_state::{ApprovalTarget, RunId, RunRecord, Store, TaskState, now_millis};

use super::{RunError, engine::Engine};
use crate::report::{RunReport, StatusReport, run_report, status_report};

/// One run of [`Engine::runs`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RunListing {
    /// The run's short id, unique in the state file (see
    /// [`plangate_state::ShortRunIds`]).
    pub short_id: String,
    /// The run as stored.
    pub record: RunRecord,
}

/// What [`Engine::approve`] recorded.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RecordedApproval {
    /// The run.
    pub run: RunId,
    /// Its short id.
    pub short_run: String,
    /// The task or phase approved.
    pub target: ApprovalTarget,
    /// Who approved it.
    pub approved_by: String,
    /// When, unix milliseconds.
    pub at: i64,
}

impl Engine {
    /// `plangate status [RUN]`: the state of a run (the latest when `run` is
    /// `None`), task by task.
    pub fn status(&self, run: Option<&str>) -> Result<StatusReport, RunError> {
        let store = self.open_store(false)?;
        status_report(&store, run, &self.settings.state_path)
    }

    /// `plangate report [RUN]`: what happened in a run, with evidence.
    pub fn report(&self, run: Option<&str>) -> Result<RunReport, RunError> {
        let store = self.open_store(false)?;
        run_report(&store, run, &self.settings.state_path)
    }

    /// `plangate runs`: every run, newest first.
    pub fn runs(&self) -> Result<Vec<RunListing>, RunError> {
        let store = self.open_store(false)?;
        let short = store.short_run_ids()?;
        Ok(store
            .runs()?
            .into_iter()
            .map(|record| RunListing {
                short_id: short.get(&record.id).to_owned(),
                record,
            })
            .collect())
    }

    /// `plangate approve RUN TARGET`: records an approval of a task or a
    /// phase of a run.
    ///
    /// # Errors
    ///
    /// [`RunError::UnknownApprovalTarget`] when the run has no such task or
    /// phase; [`RunError::NoApprovalNeeded`] when the task or phase is not
    /// one an approval changes anything for.
    pub fn approve(
        &self,
        run: &str,
        target: &str,
        by: &str,
        reason: Option<&str>,
    ) -> Result<RecordedApproval, RunError> {
        let mut store = self.open_store(false)?;
        let record = find_run(&store, Some(run), &self.settings.state_path)?;
        let short_run = store.short_run_id(&record.id)?;
        let tasks = store.tasks(&record.id)?;
        let target = if let Some(task) = tasks.iter().find(|t| t.task_id.as_str() == target) {
            // An interrupted task of any decision may be approved to run
            // again (`resume` then re-runs a non-idempotent action).
            if task.decision != Decision::NeedsApproval && task.state != TaskState::Interrupted {
                return Err(RunError::NoApprovalNeeded {
                    run: short_run,
                    target: ApprovalTarget::Task(task.task_id.clone()),
                    why: format!("its decision is `{}`", task.decision.as_str()),
                });
            }
            ApprovalTarget::Task(task.task_id.clone())
        } else if let Some(task) = tasks.iter().find(|t| t.phase_id.as_str() == target) {
            let phase = task.phase_id.clone();
            if !phase_needs_approval(&record, &phase)? {
                return Err(RunError::NoApprovalNeeded {
                    run: short_run,
                    target: ApprovalTarget::Phase(phase),
                    why: "it does not have `approval: true`".to_owned(),
                });
            }
            ApprovalTarget::Phase(phase)
        } else {
            return Err(RunError::UnknownApprovalTarget {
                run: short_run,
                target: target.to_owned(),
            });
        };
        let at = now_millis();
        store.record_approval(&record.id, &target, by, reason, at)?;
        Ok(RecordedApproval {
            run: record.id,
            short_run,
            target,
            approved_by: by.to_owned(),
            at,
        })
    }
}

/// Whether the phase `id` of the run's plan (as it was run) has
/// `approval: true`.
fn phase_needs_approval(record: &RunRecord, id: &PhaseId) -> Result<bool, RunError> {
    let plan = load_plan_text(&record.plan_path, record.plan_text.clone())?.plan;
    Ok(plan
        .phases
        .iter()
        .any(|phase| phase.id == *id && phase.approval))
}

/// The run named by `text` (its full id, a unique prefix or its short id),
/// or the latest one.
pub fn find_run(store: &Store, text: Option<&str>, path: &Path) -> Result<RunRecord, RunError> {
    match text {
        Some(text) => Ok(store.run(&store.resolve_run(text)?)?),
        None => store.latest_run()?.ok_or_else(|| RunError::NoRuns {
            path: path.to_owned(),
        }),
    }
}

/// Who an approval is recorded as: `user@host`, the user being `user` (the
/// CLI passes `$USER`) when given and not empty, else the operating system's
/// name of the account this process runs as.
pub fn approver(user: Option<&str>) -> String {
    let user = user
        .filter(|user| !user.is_empty())
        .map_or_else(account_name, str::to_owned);
    format!("{user}@{}", plangate_state::hostname())
}

/// The name of the account this process runs as, or `uid-N` when the
/// account database has none.
fn account_name() -> String {
    let uid = nix::unistd::Uid::current();
    nix::unistd::User::from_uid(uid)
        .ok()
        .flatten()
        .map_or_else(|| format!("uid-{uid}"), |user| user.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_approver_is_the_user_given_else_the_account() {
        let host = plangate_state::hostname();
        assert_eq!(approver(Some("alice")), format!("alice@{host}"));
        let account = approver(None);
        assert_eq!(approver(Some("")), account);
        assert!(!account.starts_with("unknown@"), "{account}");
        assert!(account.ends_with(&format!("@{host}")), "{account}");
    }
}
