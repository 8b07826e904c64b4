//! The validated plan model.
//!
//! Everything here has passed validation: ids are unique and well formed,
//! `needs` point at known tasks in the same or an earlier phase, the graph has
//! no cycle, `{{ vars.X }}` placeholders are substituted, and defaults are
//! applied. Later crates never see a raw YAML value.

use std::{collections::BTreeMap, fmt, path::PathBuf, time::Duration};

use serde::{Deserialize, Serialize};

use crate::{
    action::{Action, ExecutorInstance, Rollback},
    ids::{PhaseId, PlanName, TaskId},
};

/// The plan format version this build reads.
pub const PLAN_FORMAT_VERSION: u32 = 1;

/// Production risk of a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Risk {
    /// Development only, no production effect.
    Low,
    /// Staged rollout recommended.
    Medium,
    /// Large production impact.
    High,
}

impl Risk {
    /// Every level, lowest first.
    pub const ALL: [Risk; 3] = [Risk::Low, Risk::Medium, Risk::High];

    /// The YAML spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Risk::Low => "low",
            Risk::Medium => "medium",
            Risk::High => "high",
        }
    }
}

impl fmt::Display for Risk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happens to a task whose risk is above `policy.max_risk`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AboveMax {
    /// The task is left out of the run.
    #[default]
    Exclude,
    /// The task waits for a recorded approval.
    Approve,
}

impl AboveMax {
    /// The YAML spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            AboveMax::Exclude => "exclude",
            AboveMax::Approve => "approve",
        }
    }
}

/// What the engine does when a task fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnFailure {
    /// Stop starting tasks; leave completed work in place.
    Stop,
    /// Roll back the failed task only.
    RollbackTask,
    /// Roll back the completed tasks of the failed task's phase, newest first.
    #[default]
    RollbackPhase,
    /// Roll back every completed task of the run, newest first.
    RollbackRun,
    /// Keep going; the failed task's dependents become `blocked`.
    Continue,
}

impl OnFailure {
    /// The YAML spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            OnFailure::Stop => "stop",
            OnFailure::RollbackTask => "rollback-task",
            OnFailure::RollbackPhase => "rollback-phase",
            OnFailure::RollbackRun => "rollback-run",
            OnFailure::Continue => "continue",
        }
    }
}

/// `policy:` with defaults applied.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Policy {
    /// The highest risk that runs without approval.
    pub max_risk: Risk,
    /// What happens above `max_risk`.
    pub above_max: AboveMax,
    /// Tasks at or above this risk must declare a rollback; `None` disables.
    pub require_rollback: Option<Risk>,
    /// Failure handling.
    pub on_failure: OnFailure,
    /// Whole-plan wall-clock budget; `None` (no limit) when not set or `none`.
    pub budget: Option<Duration>,
    /// Stop starting new tasks after this many succeeded; `None` (no limit)
    /// when not set or `none`.
    pub max_tasks: Option<u32>,
    /// Tasks running at once, across the plan.
    pub concurrency: u32,
    /// `policy.environments`: the promotion order, first to last (e.g. `dev`,
    /// `staging`, `prod`); empty when the plan does not use promotion.
    pub environments: Vec<String>,
    /// `policy.promotion`: what a task in a later environment needs.
    pub promotion: Promotion,
    /// `policy.approvers`: distinct approvers an approval needs, by the risk
    /// level it starts at (see [`Policy::required_approvers`]).
    pub approvers: BTreeMap<Risk, u32>,
}

impl Policy {
    /// How many distinct approvers an approval of a task at `risk` needs:
    /// the count of the highest level of `policy.approvers` at or below
    /// `risk`, else 1.
    pub fn required_approvers(&self, risk: Risk) -> u32 {
        self.approvers
            .range(..=risk)
            .next_back()
            .map_or(1, |(_, count)| *count)
    }

    /// The environment that comes before `environment` in
    /// `policy.environments`, whose evidence a task in `environment` needs;
    /// `None` for the first one, and for any environment when the list is
    /// empty.
    pub fn previous_environment(&self, environment: &str) -> Option<&str> {
        let position = self
            .environments
            .iter()
            .position(|known| known == environment)?;
        position
            .checked_sub(1)
            .map(|previous| self.environments[previous].as_str())
    }

    /// Whether tasks in `environment` wait for an approval
    /// (`policy.promotion.require_approval`).
    pub fn environment_needs_approval(&self, environment: &str) -> bool {
        self.promotion
            .require_approval
            .iter()
            .any(|listed| listed == environment)
    }
}

/// `policy.promotion` with defaults applied.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Promotion {
    /// Evidence older than this does not count (default 7 days).
    pub max_age: Duration,
    /// Environments whose tasks also wait for a recorded approval (default:
    /// the last of `policy.environments`).
    pub require_approval: Vec<String>,
}

/// The default `policy.promotion.max_age`: 7 days.
pub const DEFAULT_PROMOTION_MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);

impl Default for Promotion {
    fn default() -> Self {
        Self {
            max_age: DEFAULT_PROMOTION_MAX_AGE,
            require_approval: Vec::new(),
        }
    }
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            max_risk: Risk::Medium,
            above_max: AboveMax::Exclude,
            require_rollback: Some(Risk::Medium),
            on_failure: OnFailure::RollbackPhase,
            budget: None,
            max_tasks: None,
            concurrency: 4,
            environments: Vec::new(),
            promotion: Promotion::default(),
            approvers: BTreeMap::new(),
        }
    }
}

/// A phase: tasks that settle before the next phase starts.
#[derive(Clone, Debug, Serialize)]
pub struct Phase {
    /// Unique among phases.
    pub id: PhaseId,
    /// Display name.
    pub name: Option<String>,
    /// Wall-clock budget of the phase.
    pub budget: Option<Duration>,
    /// Whether the phase waits for an approval before it starts.
    pub approval: bool,
    /// Indexes into [`Plan::tasks`], in declaration order.
    pub tasks: Vec<usize>,
}

impl Phase {
    /// The name, or the id when there is none.
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(self.id.as_str())
    }
}

/// A task with defaults applied.
#[derive(Clone, Debug, Serialize)]
pub struct Task {
    /// Unique in the plan.
    pub id: TaskId,
    /// Display name.
    pub name: Option<String>,
    /// Free-text provenance, e.g. `#384 task 1`.
    pub source: Option<String>,
    /// Production risk.
    pub risk: Risk,
    /// The task's own `environment`, overriding the plan's.
    pub environment: Option<String>,
    /// Index of the phase in [`Plan::phases`].
    pub phase: usize,
    /// Indexes into [`Plan::tasks`] of the tasks this one needs.
    pub needs: Vec<usize>,
    /// Expected duration, for forecasts.
    pub estimate: Option<Duration>,
    /// Limit on one attempt of `run` (and of `verify`).
    pub timeout: Duration,
    /// Extra attempts after a failure.
    pub retries: u32,
    /// Wait between attempts.
    pub retry_backoff: Duration,
    /// Safe to run again if a crash interrupted it mid-action.
    pub idempotent: bool,
    /// Resource groups the task touches (`exclusive:`), in declaration
    /// order: tasks sharing a group never run at the same time. See
    /// [`Plan::exclusive_groups`] for the groups of executor instances.
    pub exclusive: Vec<String>,
    /// The action.
    pub run: Action,
    /// The checks that must all pass after `run`, in order (`verify:` is one
    /// action or a list of them); empty when the task has no verify. They run
    /// one after another, and the first that fails fails the verify: the
    /// checks after it do not run.
    pub verify: Vec<Action>,
    /// How to undo `run`.
    pub rollback: Option<Rollback>,
}

impl Task {
    /// The name, or the id when there is none.
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(self.id.as_str())
    }
}

/// A validated plan.
#[derive(Clone, Debug, Serialize)]
pub struct Plan {
    /// Format version (always [`PLAN_FORMAT_VERSION`]).
    pub version: u32,
    /// Plan name.
    pub name: PlanName,
    /// Free text.
    pub description: Option<String>,
    /// Label of the target environment (`dev` by default).
    pub environment: String,
    /// Risk and execution policy.
    pub policy: Policy,
    /// Plain values substituted into `{{ vars.NAME }}`.
    pub vars: BTreeMap<String, String>,
    /// Names of environment variables whose values are redacted everywhere.
    pub secrets: Vec<String>,
    /// Configured executor instances.
    pub executors: BTreeMap<String, ExecutorInstance>,
    /// Phases in run order.
    pub phases: Vec<Phase>,
    /// Every task, phase by phase in declaration order.
    pub tasks: Vec<Task>,
    /// The folder actions run in and relative paths resolve against.
    pub base_dir: PathBuf,
    /// SHA-256 of the plan file's bytes, hex.
    pub content_hash: String,
}

impl Plan {
    /// The index of the task with this id.
    pub fn task_index(&self, id: &str) -> Option<usize> {
        self.tasks.iter().position(|task| task.id.as_str() == id)
    }

    /// The task with this id.
    pub fn task(&self, id: &str) -> Option<&Task> {
        self.tasks.iter().find(|task| task.id.as_str() == id)
    }

    /// The configured instance an action names with `executor: NAME`, if any.
    pub fn instance_of(&self, action: &Action) -> Option<&ExecutorInstance> {
        action
            .instance
            .as_ref()
            .and_then(|name| self.executors.get(name))
    }

    /// The environment `task` targets: its own `environment`, else the plan's.
    pub fn environment_of<'a>(&'a self, task: &'a Task) -> &'a str {
        task.environment.as_deref().unwrap_or(&self.environment)
    }

    /// The index of the phase with this id.
    pub fn phase_index(&self, id: &str) -> Option<usize> {
        self.phases.iter().position(|phase| phase.id.as_str() == id)
    }

    /// Every resource group task `task` is in, sorted: the groups its
    /// `exclusive:` names, and `executor/NAME` for each instance with
    /// `exclusive: true` that its `run`, `verify` or `rollback` goes
    /// through. Two tasks sharing a group never run at the same time.
    /// (An instance's group cannot clash with a named group: group names
    /// are ids, which have no `/`.)
    pub fn exclusive_groups(&self, task: usize) -> Vec<String> {
        let task = &self.tasks[task];
        let rollback = match &task.rollback {
            Some(Rollback::Action(action)) => Some(action.as_ref()),
            Some(Rollback::Auto) | None => None,
        };
        let mut groups: Vec<String> = task.exclusive.clone();
        for action in std::iter::once(&task.run)
            .chain(task.verify.iter())
            .chain(rollback)
        {
            if let Some(name) = &action.instance
                && self.executors.get(name).is_some_and(|i| i.exclusive)
            {
                groups.push(format!("{EXECUTOR_GROUP_PREFIX}{name}"));
            }
        }
        groups.sort();
        groups.dedup();
        groups
    }
}

/// How the resource group of an executor instance with `exclusive: true`
/// is named: `executor/NAME`.
pub const EXECUTOR_GROUP_PREFIX: &str = "executor/";
