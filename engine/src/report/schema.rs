//! The machine-readable report types: the stable API of `--format json`.
//!
//! Readers rely on these field names (`plan-format.md` lists the ones the
//! contract guarantees). Types are `#[non_exhaustive]` and every document
//! carries `format_version`: add fields freely, but renaming or removing one
//! is a format change that bumps the version and gets a note in the README.

use std::collections::BTreeMap;

use serde::Serialize;

/// The version of the JSON documents produced by this build.
pub const FORMAT_VERSION: u32 = 1;

/// The dry-run impact report (`plangate plan --format json`).
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct ImpactReport {
    /// [`FORMAT_VERSION`].
    pub format_version: u32,
    /// The plan's `name`.
    pub plan: String,
    /// The plan's `description`.
    pub description: Option<String>,
    /// The plan's `environment`.
    pub environment: String,
    /// SHA-256 of the plan file.
    pub plan_hash: String,
    /// The policy in force, defaults applied.
    pub policy: PolicyReport,
    /// Counts by risk and by decision.
    pub summary: Summary,
    /// Plan budget in seconds, if any.
    pub budget_s: Option<u64>,
    /// Forecast wall time of the tasks that run, phases back to back.
    pub forecast_s: u64,
    /// Sum of the phases' critical paths (the bound with unlimited concurrency).
    pub critical_path_s: u64,
    /// Phases in run order.
    pub phases: Vec<PhaseReport>,
    /// Contradictions in the plan, and previews that could not be made.
    pub warnings: Vec<String>,
}

/// `policy:` as applied.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct PolicyReport {
    /// `max_risk`.
    pub max_risk: String,
    /// `above_max`.
    pub above_max: String,
    /// `require_rollback` (`none` when disabled).
    pub require_rollback: String,
    /// `on_failure`.
    pub on_failure: String,
    /// `budget` in seconds.
    pub budget_s: Option<u64>,
    /// `max_tasks`.
    pub max_tasks: Option<u32>,
    /// `concurrency`.
    pub concurrency: u32,
    /// `environments`, the promotion order (left out when empty).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub environments: Vec<String>,
    /// `promotion.max_age` in seconds (only with `environments`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub promotion_max_age_s: Option<u64>,
    /// `promotion.require_approval` (only with `environments`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub promotion_require_approval: Option<Vec<String>>,
    /// `approvers`: distinct approvers by risk level (left out when empty).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub approvers: BTreeMap<String, u32>,
}

/// Counts of the whole plan.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct Summary {
    /// Number of tasks.
    pub tasks: usize,
    /// Tasks by risk.
    pub by_risk: ByRisk,
    /// Tasks by decision.
    pub decisions: DecisionCounts,
}

/// Tasks by risk.
#[derive(Clone, Debug, Default, Serialize)]
#[non_exhaustive]
pub struct ByRisk {
    /// Low-risk tasks.
    pub low: usize,
    /// Medium-risk tasks.
    pub medium: usize,
    /// High-risk tasks.
    pub high: usize,
}

/// Tasks by decision.
#[derive(Clone, Debug, Default, Serialize)]
#[non_exhaustive]
pub struct DecisionCounts {
    /// `run`.
    pub run: usize,
    /// `excluded`.
    pub excluded: usize,
    /// `needs-approval`.
    #[serde(rename = "needs-approval")]
    pub needs_approval: usize,
    /// `blocked`.
    pub blocked: usize,
    /// `deferred`.
    pub deferred: usize,
}

/// One phase of the impact report.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct PhaseReport {
    /// Phase id.
    pub id: String,
    /// Display name.
    pub name: Option<String>,
    /// Budget in seconds.
    pub budget_s: Option<u64>,
    /// Sum of estimates of the tasks that run.
    pub estimate_s: u64,
    /// Longest chain of estimates among the tasks that run.
    pub critical_path_s: u64,
    /// Simulated wall time under `policy.concurrency`.
    pub forecast_s: u64,
    /// When the phase is forecast to start, from the start of the run.
    pub start_s: u64,
    /// Whether the phase waits for an approval.
    pub approval: bool,
    /// Resource groups shared by two or more of the phase's tasks that
    /// run: those run one at a time (absent when there are none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub serialised: Vec<SerialGroupReport>,
    /// Tasks in run order.
    pub tasks: Vec<TaskReport>,
}

/// Tasks of a phase that share a resource group, so run one at a time.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct SerialGroupReport {
    /// The group: a name from `exclusive:`, or `executor/NAME` for an
    /// executor instance with `exclusive: true`.
    pub group: String,
    /// The ids of its tasks that run, in run order.
    pub tasks: Vec<String>,
    /// Their summed estimates in seconds: a lower bound of the phase's
    /// duration, which `critical_path_s` accounts for.
    pub estimate_s: u64,
}

/// One task of the impact report.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct TaskReport {
    /// Task id.
    pub id: String,
    /// Display name.
    pub name: Option<String>,
    /// Provenance.
    pub source: Option<String>,
    /// `low`, `medium` or `high`.
    pub risk: String,
    /// The contract's decision.
    pub decision: String,
    /// Why, for every decision but `run`.
    pub reason: Option<String>,
    /// Ids of the tasks it needs.
    pub needs: Vec<String>,
    /// The resource groups it is in (`exclusive:`, and `executor/NAME` for
    /// an exclusive instance), sorted; absent when none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exclusive: Vec<String>,
    /// Estimate in seconds.
    pub estimate_s: Option<u64>,
    /// Timeout in seconds.
    pub timeout_s: u64,
    /// Forecast start, from the start of the run (tasks that run).
    pub forecast_start_s: Option<u64>,
    /// Forecast finish, from the start of the run (tasks that run).
    pub forecast_finish_s: Option<u64>,
    /// The executor kind of `run`.
    pub executor: String,
    /// One-line summary of `run`.
    pub action: String,
    /// One-line summary of `verify`: of each check, in order, joined with
    /// `; ` when it lists several.
    pub verify: Option<String>,
    /// `auto`, a one-line summary of the rollback action, or none.
    pub rollback: Option<String>,
    /// What the executor says `run` would change (`plan --preview` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preview: Option<PreviewReport>,
    /// The promotion evidence the task relies on, or why it is missing
    /// (only for a task in an environment after the first of
    /// `policy.environments`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub promotion: Option<PromotionReport>,
}

/// What environment promotion asks of a task, and what the state file holds.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct PromotionReport {
    /// The task's environment.
    pub environment: String,
    /// The environment whose evidence it needs.
    pub from: String,
    /// The task's content hash (SHA-256, hex; `plangate explain` shows what
    /// goes into it).
    pub content_hash: String,
    /// `policy.promotion.max_age`, in seconds.
    pub max_age_s: u64,
    /// The evidence relied on: a task that succeeded and verified.
    pub evidence: Option<EvidenceReport>,
    /// Why there is no evidence, in words.
    pub missing: Option<String>,
}

/// A task of an earlier run that is promotion evidence.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct EvidenceReport {
    /// The run (full id).
    pub run: String,
    /// That run's plan.
    pub plan: String,
    /// The task's id there.
    pub task: String,
    /// When it finished, unix milliseconds.
    pub finished_at: i64,
}

/// An executor's answer to "what would this action change?".
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct PreviewReport {
    /// One line.
    pub summary: String,
    /// Why no preview could be made (tool missing, cluster unreachable...).
    pub error: Option<String>,
    /// Object by object.
    pub changes: Vec<ChangeReport>,
    /// What the executor checked, as label and value (a pull request's
    /// state, checks, approvals, head).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<DetailReport>,
    /// Why the action would be refused if it ran now; the task's decision
    /// is then `blocked` with this reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocked: Option<String>,
}

/// One fact of a [`PreviewReport`].
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct DetailReport {
    /// What was checked, e.g. `check ci/test`.
    pub label: String,
    /// What was found, e.g. `success`.
    pub value: String,
}

/// One object of a [`PreviewReport`].
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct ChangeReport {
    /// `kind/namespace/name`, or what the executor names.
    pub object: String,
    /// `create`, `update`, `delete`, `unchanged` or `unknown`.
    pub change: String,
    /// A unified diff, when there is one.
    pub diff: Option<String>,
}

impl PreviewReport {
    /// A preview that could not be made.
    pub fn failed(error: String) -> Self {
        Self {
            summary: "no preview".to_owned(),
            error: Some(error),
            changes: Vec::new(),
            details: Vec::new(),
            blocked: None,
        }
    }

    /// A preview from an executor's answer.
    pub fn new(summary: String, changes: Vec<ChangeReport>) -> Self {
        Self {
            summary,
            error: None,
            changes,
            details: Vec::new(),
            blocked: None,
        }
    }

    /// Adds the facts the executor checked.
    #[must_use]
    pub fn with_details(mut self, details: impl IntoIterator<Item = (String, String)>) -> Self {
        self.details.extend(
            details
                .into_iter()
                .map(|(label, value)| DetailReport { label, value }),
        );
        self
    }

    /// Marks the action as one that would be refused.
    #[must_use]
    pub fn with_blocked(mut self, reason: Option<String>) -> Self {
        self.blocked = reason;
        self
    }
}

impl ChangeReport {
    /// One changed object.
    pub fn new(object: String, change: String, diff: Option<String>) -> Self {
        Self {
            object,
            change,
            diff,
        }
    }
}
