//! The questions the CLI asks of a state file, and the one annotation it
//! makes: [`Engine::status`], [`Engine::status_tree`], [`Engine::report`],
//! [`Engine::runs`], [`Engine::diff`] and [`Engine::approve`]. The CLI never
//! opens the store itself; these open it without creating it, so a mistyped
//! `--state` is an error, not a new file.
//!
//! The JSON documents of `plangate runs` ([`RunsDocument`]) and `plangate
//! diff` ([`RunDiff`]) are built here; like the report schema they are an
//! API (`format_version`, `#[non_exhaustive]`), documented field by field in
//! `docs/json/runs.md` and `docs/json/diff.md`.

use std::{
    collections::{HashMap, HashSet},
    path::{Path, PathBuf},
};

use plangate_plans::{Decision, PhaseId, Plan, load_plan_text};
use plangate_state::{
    ApprovalRecord, ApprovalTarget, RevokeOutcome, RunId, RunRecord, RunStatus, Store, TaskCounts,
    TaskRecord, TaskState, now_millis,
};
use serde::Serialize;

use super::{RunError, engine::Engine};
use crate::report::{RunReport, StatusReport, run_report, schema::FORMAT_VERSION, status_report};

/// One run of [`Engine::runs`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RunListing {
    /// The run's short id, unique in the state file (see
    /// [`plangate_state::ShortRunIds`]).
    pub short_id: String,
    /// The run as stored.
    pub record: RunRecord,
    /// Its tasks: all of them, and the succeeded ones.
    pub tasks: TaskCounts,
}

impl RunListing {
    /// Milliseconds from the run's creation to its end, or to its latest
    /// write while it can continue (0 for a clock set back).
    pub fn duration_ms(&self) -> u64 {
        wall_ms(&self.record)
    }
}

/// Which runs [`Engine::runs`] lists: all of them by default.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct RunFilter {
    /// Only runs in one of these statuses (any status when empty).
    pub statuses: Vec<RunStatus>,
    /// Only runs of this plan file; compared with the stored path, which is
    /// absolute and canonical, so the caller passes it canonicalized.
    pub plan_path: Option<PathBuf>,
    /// At most this many runs (the newest).
    pub limit: Option<usize>,
}

/// `plangate runs --format json`: the listed runs, newest first.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct RunsDocument {
    /// [`FORMAT_VERSION`].
    pub format_version: u32,
    /// The runs, newest first.
    pub runs: Vec<RunEntry>,
}

/// One run of [`RunsDocument`].
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct RunEntry {
    /// The full run id.
    pub id: String,
    /// The short id `plangate runs` shows, unique in the state file.
    pub short_id: String,
    /// The plan's `name`.
    pub plan: String,
    /// The plan file, as run.
    pub plan_path: PathBuf,
    /// SHA-256 of the plan file as run, lowercase hex.
    pub plan_hash: String,
    /// The plan's `environment`.
    pub environment: String,
    /// The run's status.
    pub status: RunStatus,
    /// Why the run has its status.
    pub reason: Option<String>,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds; `null` while the run can continue.
    pub finished_at: Option<i64>,
    /// Milliseconds from creation to the end (or to the latest write while
    /// the run can continue).
    pub duration_ms: u64,
    /// Milliseconds the engine spent driving the run (what `policy.budget`
    /// measures).
    pub used_ms: u64,
    /// Task counts.
    pub tasks: TaskCounts,
}

impl RunsDocument {
    /// The document of these listings.
    pub fn new(listings: &[RunListing]) -> Self {
        Self {
            format_version: FORMAT_VERSION,
            runs: listings
                .iter()
                .map(|listing| RunEntry {
                    id: listing.record.id.to_string(),
                    short_id: listing.short_id.clone(),
                    plan: listing.record.plan_name.to_string(),
                    plan_path: listing.record.plan_path.clone(),
                    plan_hash: listing.record.plan_hash.clone(),
                    environment: listing.record.environment.clone(),
                    status: listing.record.status,
                    reason: listing.record.exit_reason.clone(),
                    created_at: listing.record.created_at,
                    finished_at: listing.record.finished_at,
                    duration_ms: listing.duration_ms(),
                    used_ms: listing.record.used_ms,
                    tasks: listing.tasks,
                })
                .collect(),
        }
    }
}

/// `plangate status` as a tree: the run, its plan's limits, its phases with
/// their budgets, and each task with its state, attempts and duration.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RunTree {
    /// The run's short id.
    pub short_id: String,
    /// The run as stored.
    pub record: RunRecord,
    /// The limits of the plan as run; `None` when its stored text no longer
    /// loads (a plan written by another version of plangate).
    pub limits: Option<PlanLimits>,
    /// Task counts.
    pub tasks: TaskCounts,
    /// Phases in run order.
    pub phases: Vec<PhaseTree>,
    /// Approvals, oldest first.
    pub approvals: Vec<ApprovalRecord>,
}

impl RunTree {
    /// Milliseconds from the run's creation to its end, or to its latest write.
    pub fn duration_ms(&self) -> u64 {
        wall_ms(&self.record)
    }

    /// The deferred tasks, in run order: `resume` continues them once the
    /// limit their reason names is raised.
    pub fn deferred(&self) -> impl Iterator<Item = &TaskLeaf> {
        self.phases
            .iter()
            .flat_map(|phase| &phase.tasks)
            .filter(|task| task.state == TaskState::Deferred)
    }
}

/// The limits of a plan, from its `policy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PlanLimits {
    /// `policy.budget`, in milliseconds.
    pub budget_ms: Option<u64>,
    /// `policy.max_tasks`.
    pub max_tasks: Option<u32>,
    /// `policy.concurrency`.
    pub concurrency: u32,
}

/// A phase of [`RunTree`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct PhaseTree {
    /// Phase id.
    pub id: PhaseId,
    /// Display name, when the plan gives one.
    pub name: Option<String>,
    /// The phase's `budget`, in milliseconds.
    pub budget_ms: Option<u64>,
    /// Milliseconds the engine spent driving the phase (what its budget
    /// measures).
    pub used_ms: u64,
    /// Tasks in run order.
    pub tasks: Vec<TaskLeaf>,
}

/// A task of [`PhaseTree`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct TaskLeaf {
    /// Task id.
    pub id: String,
    /// Its state.
    pub state: TaskState,
    /// Why it is in this state (for excluded, blocked, deferred and
    /// needs-approval tasks: the dry run's reason).
    pub reason: Option<String>,
    /// How many times its `run` action was started.
    pub attempts: u32,
    /// Milliseconds its actions (run, verify, rollback) ran, summed; `None`
    /// when none has a known duration.
    pub duration_ms: Option<u64>,
}

/// `plangate diff RUN_A RUN_B`: what changed from run `a` to run `b`.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct RunDiff {
    /// [`FORMAT_VERSION`].
    pub format_version: u32,
    /// The first run (the one compared against).
    pub a: DiffRun,
    /// The second run.
    pub b: DiffRun,
    /// Whether both runs are of a plan with the same `name`; tasks are
    /// matched by id either way.
    pub same_plan: bool,
    /// Whether the plan files' hashes differ.
    pub plan_changed: bool,
    /// Whether the run statuses differ.
    pub status_changed: bool,
    /// The runs' durations.
    pub duration: Delta,
    /// Tasks by kind of change.
    pub summary: DiffSummary,
    /// Every task of either run: `b`'s in its run order, then those only `a`
    /// has, in `a`'s order.
    pub tasks: Vec<TaskDiff>,
}

impl RunDiff {
    /// Whether the runs differ in anything but durations: what
    /// `plangate diff --exit-code` exits 1 for.
    pub fn differs(&self) -> bool {
        self.plan_changed
            || self.status_changed
            || self
                .tasks
                .iter()
                .any(|task| task.change != TaskChange::Unchanged)
    }
}

/// One run of [`RunDiff`].
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct DiffRun {
    /// The full run id.
    pub id: String,
    /// Its short id.
    pub short_id: String,
    /// The plan's `name`.
    pub plan: String,
    /// The plan file, as run.
    pub plan_path: PathBuf,
    /// SHA-256 of the plan file, lowercase hex.
    pub plan_hash: String,
    /// The run's status.
    pub status: RunStatus,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Milliseconds from creation to the end (or the latest write).
    pub duration_ms: u64,
}

/// Counts of [`RunDiff::tasks`] by [`TaskChange`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct DiffSummary {
    /// Tasks only `b` has.
    pub added: usize,
    /// Tasks only `a` has.
    pub removed: usize,
    /// Tasks both have, with a different phase, decision, state or number
    /// of attempts.
    pub changed: usize,
    /// Tasks both have, alike but for their durations.
    pub unchanged: usize,
}

/// How a task differs between the two runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TaskChange {
    /// Only the second run has it.
    Added,
    /// Only the first run has it.
    Removed,
    /// Both have it, and its phase, decision, state or attempts differ.
    Changed,
    /// Both have it alike (durations aside).
    Unchanged,
}

/// One task of [`RunDiff`].
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct TaskDiff {
    /// Task id.
    pub id: String,
    /// The kind of change.
    pub change: TaskChange,
    /// Which of `phase`, `decision`, `state`, `attempts` differ (empty
    /// unless `change` is `changed`).
    pub changed: Vec<&'static str>,
    /// The task in the first run; `null` when added.
    pub a: Option<TaskSide>,
    /// The task in the second run; `null` when removed.
    pub b: Option<TaskSide>,
    /// Its durations, when both runs have one.
    pub duration: Option<Delta>,
}

/// A task in one run of [`TaskDiff`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct TaskSide {
    /// Phase id.
    pub phase: String,
    /// The dry run's decision.
    pub decision: Decision,
    /// The task's state (its outcome, once the run ended).
    pub state: TaskState,
    /// Started `run` actions.
    pub attempts: u32,
    /// Milliseconds its actions ran (run, verify, rollback), summed; `null`
    /// when none has a known duration.
    pub duration_ms: Option<u64>,
}

/// Two durations and how the second compares with the first.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Delta {
    /// Milliseconds in the first run.
    pub a_ms: u64,
    /// Milliseconds in the second run.
    pub b_ms: u64,
    /// `b_ms - a_ms`.
    pub delta_ms: i64,
    /// `delta_ms` as a percentage of `a_ms`, to one decimal; `null` when
    /// `a_ms` is 0.
    pub percent: Option<f64>,
}

impl Delta {
    /// The delta from `a_ms` to `b_ms`.
    pub fn new(a_ms: u64, b_ms: u64) -> Self {
        let signed = |ms: u64| i64::try_from(ms).unwrap_or(i64::MAX);
        let delta_ms = signed(b_ms).saturating_sub(signed(a_ms));
        #[expect(
            clippy::cast_precision_loss,
            reason = "a percentage to one decimal; durations are far below 2^52 ms"
        )]
        let percent = (a_ms > 0).then(|| (delta_ms as f64 * 1000.0 / a_ms as f64).round() / 10.0);
        Self {
            a_ms,
            b_ms,
            delta_ms,
            percent,
        }
    }
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
    /// The plan it approved: the run's plan hash.
    pub plan_hash: String,
    /// Distinct approvers of the target that count now, this one included.
    pub approvers: usize,
    /// Distinct approvers the target needs (`policy.approvers`).
    pub needed: u32,
}

/// What [`Engine::revoke`] revoked.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RevokedApprovals {
    /// The run's short id.
    pub short_run: String,
    /// The task or phase.
    pub target: ApprovalTarget,
    /// The approvals revoked, each with who had given it.
    pub revoked: Vec<ApprovalRecord>,
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

    /// `plangate status [RUN]` as a tree: the run (the latest when `run` is
    /// `None`) with its plan's limits, phases with their budgets, and tasks.
    pub fn status_tree(&self, run: Option<&str>) -> Result<RunTree, RunError> {
        let store = self.open_store(false)?;
        let record = find_run(&store, run, &self.settings.state_path)?;
        let plan = load_plan_text(&record.plan_path, record.plan_text.clone())
            .ok()
            .map(|loaded| loaded.plan);
        let tasks = store.tasks(&record.id)?;
        let durations = task_durations(&store, &record.id)?;
        let usage: HashMap<PhaseId, u64> = store.phase_usage(&record.id)?.into_iter().collect();
        let mut phases: Vec<PhaseTree> = Vec::new();
        for task in &tasks {
            let leaf = TaskLeaf {
                id: task.task_id.to_string(),
                state: task.state,
                reason: task_reason(task),
                attempts: task.attempts,
                duration_ms: durations.get(task.task_id.as_str()).copied(),
            };
            match phases.last_mut() {
                Some(phase) if phase.id == task.phase_id => phase.tasks.push(leaf),
                _ => {
                    let planned = plan.as_ref().and_then(|plan| {
                        plan.phase_index(task.phase_id.as_str())
                            .map(|index| &plan.phases[index])
                    });
                    phases.push(PhaseTree {
                        id: task.phase_id.clone(),
                        name: planned.and_then(|phase| phase.name.clone()),
                        budget_ms: planned.and_then(|phase| phase.budget).map(millis),
                        used_ms: usage.get(&task.phase_id).copied().unwrap_or(0),
                        tasks: vec![leaf],
                    });
                }
            }
        }
        Ok(RunTree {
            short_id: store.short_run_id(&record.id)?,
            limits: plan.as_ref().map(plan_limits),
            tasks: store.task_counts(&record.id)?,
            phases,
            approvals: store.approvals(&record.id)?,
            record,
        })
    }

    /// `plangate runs`: the runs `filter` selects, newest first, each with
    /// its task counts.
    pub fn runs(&self, filter: &RunFilter) -> Result<Vec<RunListing>, RunError> {
        let store = self.open_store(false)?;
        let short = store.short_run_ids()?;
        store
            .runs()?
            .into_iter()
            .filter(|record| filter.statuses.is_empty() || filter.statuses.contains(&record.status))
            .filter(|record| {
                filter
                    .plan_path
                    .as_ref()
                    .is_none_or(|path| *path == record.plan_path)
            })
            .take(filter.limit.unwrap_or(usize::MAX))
            .map(|record| {
                Ok(RunListing {
                    short_id: short.get(&record.id).to_owned(),
                    tasks: store.task_counts(&record.id)?,
                    record,
                })
            })
            .collect()
    }

    /// `plangate diff RUN_A RUN_B`: what changed from the first run to the
    /// second. Runs of different plans are compared too (tasks matched by
    /// id); [`RunDiff::same_plan`] says so.
    pub fn diff(&self, a: &str, b: &str) -> Result<RunDiff, RunError> {
        let store = self.open_store(false)?;
        let path = &self.settings.state_path;
        let (record_a, record_b) = (
            find_run(&store, Some(a), path)?,
            find_run(&store, Some(b), path)?,
        );
        let tasks_a = store.tasks(&record_a.id)?;
        let tasks_b = store.tasks(&record_b.id)?;
        let durations_a = task_durations(&store, &record_a.id)?;
        let durations_b = task_durations(&store, &record_b.id)?;
        let side = |task: &TaskRecord, durations: &HashMap<String, u64>| TaskSide {
            phase: task.phase_id.to_string(),
            decision: task.decision,
            state: task.state,
            attempts: task.attempts,
            duration_ms: durations.get(task.task_id.as_str()).copied(),
        };
        let by_id_a: HashMap<&str, &TaskRecord> = tasks_a
            .iter()
            .map(|task| (task.task_id.as_str(), task))
            .collect();
        let ids_b: HashSet<&str> = tasks_b.iter().map(|task| task.task_id.as_str()).collect();
        let mut summary = DiffSummary::default();
        let mut diffs = Vec::with_capacity(tasks_b.len());
        for task in &tasks_b {
            let b = side(task, &durations_b);
            let a = by_id_a
                .get(task.task_id.as_str())
                .map(|old| side(old, &durations_a));
            diffs.push(task_diff(
                task.task_id.to_string(),
                a,
                Some(b),
                &mut summary,
            ));
        }
        for task in tasks_a
            .iter()
            .filter(|task| !ids_b.contains(task.task_id.as_str()))
        {
            let a = side(task, &durations_a);
            diffs.push(task_diff(
                task.task_id.to_string(),
                Some(a),
                None,
                &mut summary,
            ));
        }
        let short = store.short_run_ids()?;
        let run = |record: &RunRecord| DiffRun {
            id: record.id.to_string(),
            short_id: short.get(&record.id).to_owned(),
            plan: record.plan_name.to_string(),
            plan_path: record.plan_path.clone(),
            plan_hash: record.plan_hash.clone(),
            status: record.status,
            created_at: record.created_at,
            duration_ms: wall_ms(record),
        };
        Ok(RunDiff {
            format_version: FORMAT_VERSION,
            same_plan: record_a.plan_name == record_b.plan_name,
            plan_changed: record_a.plan_hash != record_b.plan_hash,
            status_changed: record_a.status != record_b.status,
            duration: Delta::new(wall_ms(&record_a), wall_ms(&record_b)),
            a: run(&record_a),
            b: run(&record_b),
            summary,
            tasks: diffs,
        })
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
            if task.decision != Decision::NeedsApproval
                && !matches!(
                    task.state,
                    TaskState::Interrupted | TaskState::NeedsApproval
                )
            {
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
        let granted = store.policy_approvals(&record.id, &record.plan_hash)?;
        let plan = load_plan_text(&record.plan_path, record.plan_text.clone())
            .ok()
            .map(|loaded| loaded.plan);
        let (approvers, needed) = match &target {
            ApprovalTarget::Task(id) => (
                granted
                    .task_approvers
                    .get(id.as_str())
                    .map_or(0, std::collections::BTreeSet::len),
                plan.as_ref()
                    .and_then(|plan| plan.task(id.as_str()).map(|task| (plan, task)))
                    .map_or(1, |(plan, task)| plan.policy.required_approvers(task.risk)),
            ),
            ApprovalTarget::Phase(id) => (
                granted
                    .phase_approvers
                    .get(id.as_str())
                    .map_or(0, std::collections::BTreeSet::len),
                plan.as_ref()
                    .and_then(|plan| plan.phase_index(id.as_str()).map(|index| (plan, index)))
                    .map_or(1, |(plan, index)| {
                        plan.policy
                            .required_approvers(plangate_plans::policy::phase_risk(plan, index))
                    }),
            ),
        };
        Ok(RecordedApproval {
            run: record.id,
            short_run,
            target,
            approved_by: by.to_owned(),
            at,
            plan_hash: record.plan_hash,
            approvers,
            needed,
        })
    }

    /// `plangate revoke RUN TARGET`: revokes the approvals of a task or a
    /// phase that the engine has not acted on yet.
    ///
    /// # Errors
    ///
    /// [`RunError::UnknownApprovalTarget`] when the run has no such task or
    /// phase; [`RunError::NothingToRevoke`] when it has no approval in
    /// force; [`RunError::ApprovalUsed`] when every approval in force was
    /// used already.
    pub fn revoke(
        &self,
        run: &str,
        target: &str,
        by: &str,
        reason: Option<&str>,
    ) -> Result<RevokedApprovals, RunError> {
        let mut store = self.open_store(false)?;
        let record = find_run(&store, Some(run), &self.settings.state_path)?;
        let short_run = store.short_run_id(&record.id)?;
        let tasks = store.tasks(&record.id)?;
        let target = if let Some(task) = tasks.iter().find(|t| t.task_id.as_str() == target) {
            ApprovalTarget::Task(task.task_id.clone())
        } else if let Some(task) = tasks.iter().find(|t| t.phase_id.as_str() == target) {
            ApprovalTarget::Phase(task.phase_id.clone())
        } else {
            return Err(RunError::UnknownApprovalTarget {
                run: short_run,
                target: target.to_owned(),
            });
        };
        match store.revoke_approvals(&record.id, &target, by, reason, now_millis())? {
            RevokeOutcome::Revoked(revoked) => Ok(RevokedApprovals {
                short_run,
                target,
                revoked,
            }),
            RevokeOutcome::Nothing => Err(RunError::NothingToRevoke {
                run: short_run,
                target,
            }),
            RevokeOutcome::AllUsed(used) => Err(RunError::ApprovalUsed {
                run: short_run,
                target,
                by: used
                    .iter()
                    .map(|approval| approval.approved_by.clone())
                    .collect(),
                used_at: used
                    .iter()
                    .filter_map(|approval| approval.used_at)
                    .min()
                    .unwrap_or(0),
            }),
        }
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

/// One task of a diff, classified and counted in `summary`.
fn task_diff(
    id: String,
    a: Option<TaskSide>,
    b: Option<TaskSide>,
    summary: &mut DiffSummary,
) -> TaskDiff {
    let (change, changed) = match (&a, &b) {
        (Some(a), Some(b)) => {
            let changed: Vec<&'static str> = [
                ("phase", a.phase != b.phase),
                ("decision", a.decision != b.decision),
                ("state", a.state != b.state),
                ("attempts", a.attempts != b.attempts),
            ]
            .into_iter()
            .filter_map(|(field, differs)| differs.then_some(field))
            .collect();
            if changed.is_empty() {
                summary.unchanged += 1;
                (TaskChange::Unchanged, changed)
            } else {
                summary.changed += 1;
                (TaskChange::Changed, changed)
            }
        }
        (None, _) => {
            summary.added += 1;
            (TaskChange::Added, Vec::new())
        }
        (Some(_), None) => {
            summary.removed += 1;
            (TaskChange::Removed, Vec::new())
        }
    };
    let duration = match (&a, &b) {
        (
            Some(TaskSide {
                duration_ms: Some(a),
                ..
            }),
            Some(TaskSide {
                duration_ms: Some(b),
                ..
            }),
        ) => Some(Delta::new(*a, *b)),
        _ => None,
    };
    TaskDiff {
        id,
        change,
        changed,
        a,
        b,
        duration,
    }
}

/// Milliseconds each task's attempts ran, summed over every role, for the
/// tasks with at least one attempt of known duration.
fn task_durations(store: &Store, run: &RunId) -> Result<HashMap<String, u64>, RunError> {
    Ok(store
        .task_durations(run)?
        .into_iter()
        .map(|(task, ms)| (task.to_string(), ms))
        .collect())
}

/// Why a task is in its state: the reason recorded with the state, else,
/// for a task the dry run kept from running, the dry run's reason.
fn task_reason(task: &TaskRecord) -> Option<String> {
    task.state_reason.clone().or(match task.state {
        TaskState::Excluded
        | TaskState::Blocked
        | TaskState::Deferred
        | TaskState::NeedsApproval => task.reason.clone(),
        _ => None,
    })
}

/// The limits of `plan`'s policy.
fn plan_limits(plan: &Plan) -> PlanLimits {
    PlanLimits {
        budget_ms: plan.policy.budget.map(millis),
        max_tasks: plan.policy.max_tasks,
        concurrency: plan.policy.concurrency,
    }
}

/// A plan duration in whole milliseconds.
fn millis(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Milliseconds from the run's creation to its end, or to its latest write
/// while it can continue; 0 for a clock set back.
fn wall_ms(record: &RunRecord) -> u64 {
    u64::try_from(record.finished_at.unwrap_or(record.updated_at) - record.created_at).unwrap_or(0)
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
