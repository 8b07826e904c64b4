//! Risk policy and the dry run's decisions and forecasts.
//!
//! [`decide`] walks the plan in run order and gives every task one
//! [`Decision`] with a reason naming the policy key or the task behind it. Risk
//! and approvals come first; then a list-scheduling simulation per phase under
//! `policy.concurrency` starts tasks by estimate, which is where `max_tasks`
//! and the phase and plan budgets defer what does not fit. The same
//! simulation gives each phase's forecast, so a report's numbers and its
//! decisions cannot disagree.

use std::{
    cmp::Reverse,
    collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, HashSet},
    fmt,
    time::Duration,
};

use serde::Serialize;

use crate::{
    dag,
    duration::format_duration,
    model::{AboveMax, Plan, Risk},
    text::plural,
};

/// What the dry run decided for one task.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Decision {
    /// Will run.
    Run,
    /// Risk above `max_risk` with `above_max: exclude`.
    Excluded,
    /// Risk above `max_risk` with `above_max: approve` (or a phase with
    /// `approval: true`), and no approval recorded.
    NeedsApproval,
    /// A task it needs is excluded, needs approval or is blocked.
    Blocked,
    /// Would run, but `max_tasks` or a budget is used up first.
    Deferred,
}

impl Decision {
    /// Every decision, in the contract's order.
    pub const ALL: [Decision; 5] = [
        Decision::Run,
        Decision::Excluded,
        Decision::NeedsApproval,
        Decision::Blocked,
        Decision::Deferred,
    ];

    /// The contract's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Run => "run",
            Decision::Excluded => "excluded",
            Decision::NeedsApproval => "needs-approval",
            Decision::Blocked => "blocked",
            Decision::Deferred => "deferred",
        }
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Approvals known when deciding: assumed ones (`plan --approve`, which
/// decides as if every approver needed had approved) and recorded ones
/// (from the state store: only those still valid, by distinct approver).
#[derive(Clone, Debug, Default)]
pub struct Approvals {
    /// Task ids approved as if by every approver needed.
    pub tasks: HashSet<String>,
    /// Phase ids approved as if by every approver needed.
    pub phases: HashSet<String>,
    /// The distinct approvers recorded for each task id.
    pub task_approvers: HashMap<String, BTreeSet<String>>,
    /// The distinct approvers recorded for each phase id.
    pub phase_approvers: HashMap<String, BTreeSet<String>>,
}

impl Approvals {
    /// Whether task `id` has any approval, assumed or recorded.
    pub fn task(&self, id: &str) -> bool {
        self.tasks.contains(id) || self.task_approvers.get(id).is_some_and(|by| !by.is_empty())
    }

    /// Whether phase `id` has any approval, assumed or recorded.
    pub fn phase(&self, id: &str) -> bool {
        self.phases.contains(id)
            || self
                .phase_approvers
                .get(id)
                .is_some_and(|by| !by.is_empty())
    }

    /// Records that `approver` approved task `id`; the same approver twice
    /// counts once (see [`approver_identity`]).
    pub fn add_task_approver(&mut self, id: &str, approver: &str) {
        self.task_approvers
            .entry(id.to_owned())
            .or_default()
            .insert(approver_identity(approver));
    }

    /// Records that `approver` approved phase `id`.
    pub fn add_phase_approver(&mut self, id: &str, approver: &str) {
        self.phase_approvers
            .entry(id.to_owned())
            .or_default()
            .insert(approver_identity(approver));
    }

    /// Whether task `id` has `needed` distinct approvers, or an assumed approval.
    fn task_has(&self, id: &str, needed: u32) -> Shortfall {
        shortfall(self.tasks.contains(id), self.task_approvers.get(id), needed)
    }

    /// Whether phase `id` has `needed` distinct approvers, or an assumed approval.
    fn phase_has(&self, id: &str, needed: u32) -> Shortfall {
        shortfall(
            self.phases.contains(id),
            self.phase_approvers.get(id),
            needed,
        )
    }
}

/// Who an approver is, for counting distinct approvers: the name as
/// recorded, trimmed and lowercased, so `Alice@host` and `alice@host` are
/// one person.
pub fn approver_identity(approver: &str) -> String {
    approver.trim().to_lowercase()
}

/// What an approval target lacks.
enum Shortfall {
    /// Approved by enough people (or assumed).
    None,
    /// No approval at all.
    Unapproved,
    /// Some, not enough: the approvers so far.
    Partial(Vec<String>),
}

fn shortfall(assumed: bool, by: Option<&BTreeSet<String>>, needed: u32) -> Shortfall {
    let count = by.map_or(0, BTreeSet::len);
    if assumed || count >= needed as usize {
        Shortfall::None
    } else if count == 0 {
        Shortfall::Unapproved
    } else {
        Shortfall::Partial(by.into_iter().flatten().cloned().collect())
    }
}

/// The end of a reason for a target that lacks approvals: `and no approval
/// is recorded`, or how many of the distinct approvers needed are recorded.
fn missing_approval(shortfall: &Shortfall, needed: u32, risk: Risk) -> Option<String> {
    match shortfall {
        Shortfall::None => None,
        Shortfall::Unapproved if needed <= 1 => Some("no approval is recorded".to_owned()),
        Shortfall::Unapproved => Some(format!(
            "no approval is recorded (`policy.approvers` asks {needed} distinct approvers at risk `{risk}`)"
        )),
        Shortfall::Partial(by) => Some(format!(
            "{} of the {needed} distinct approvers `policy.approvers` asks at risk `{risk}` {} approved ({})",
            by.len(),
            if by.len() == 1 { "has" } else { "have" },
            crate::text::and_ticked(by)
        )),
    }
}

/// A task's decision, its reason, and where the forecast places it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskDecision {
    /// The decision.
    pub decision: Decision,
    /// Why, for every decision but `run`.
    pub reason: Option<String>,
    /// Forecast start, from the start of the run.
    pub start: Option<Duration>,
    /// Forecast finish, from the start of the run.
    pub finish: Option<Duration>,
}

impl TaskDecision {
    fn run() -> Self {
        Self {
            decision: Decision::Run,
            reason: None,
            start: None,
            finish: None,
        }
    }

    fn not_run(decision: Decision, reason: String) -> Self {
        Self {
            decision,
            reason: Some(reason),
            start: None,
            finish: None,
        }
    }
}

/// Budget figures of one phase.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PhaseForecast {
    /// The phase budget, if any.
    pub budget: Option<Duration>,
    /// Sum of the estimates of the tasks that run.
    pub estimate: Duration,
    /// Longest chain of estimates among the tasks that run, or the longest
    /// summed estimates of a resource group's tasks when that is longer
    /// (those run one at a time): the phase's bound with unlimited
    /// concurrency.
    pub critical_path: Duration,
    /// Simulated wall time of the tasks that run, under `policy.concurrency`.
    pub forecast: Duration,
    /// When the phase starts, from the start of the run.
    pub start: Duration,
    /// The resource groups that serialise two or more of the phase's tasks
    /// that run, by name: those tasks run one at a time, whatever the
    /// concurrency, so the phase takes at least their summed estimates
    /// (which [`PhaseForecast::critical_path`] accounts for).
    pub serialised: Vec<SerialGroup>,
}

/// Tasks of one phase that share a resource group (`exclusive:`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SerialGroup {
    /// The group: a name from `exclusive:`, or `executor/NAME`.
    pub group: String,
    /// The tasks that run in it, in run order (indexes into `Plan::tasks`).
    pub tasks: Vec<usize>,
    /// Their summed estimates: a lower bound of the phase's duration.
    pub estimate: Duration,
}

/// Everything a dry run knows before executors are asked for previews.
#[derive(Clone, Debug)]
pub struct DryRun {
    /// One decision per task, indexed like [`Plan::tasks`].
    pub decisions: Vec<TaskDecision>,
    /// One forecast per phase, indexed like [`Plan::phases`].
    pub phases: Vec<PhaseForecast>,
    /// Task indexes in run order.
    pub order: Vec<usize>,
    /// Sum of phase forecasts (phases run one after another).
    pub forecast: Duration,
    /// Sum of phase critical paths: the run's lower bound with unlimited concurrency.
    pub critical_path: Duration,
    /// Contradictions found in the plan.
    pub warnings: Vec<String>,
}

impl DryRun {
    /// How many tasks got `decision`.
    pub fn count(&self, decision: Decision) -> usize {
        self.decisions
            .iter()
            .filter(|d| d.decision == decision)
            .count()
    }
}

/// The risk part of the decision: `Some` when the task may not run on its
/// own merits (its risk, its phase's approval, its environment's approval).
pub fn risk_decision(plan: &Plan, task: usize, approvals: &Approvals) -> Option<TaskDecision> {
    let task = &plan.tasks[task];
    let policy = &plan.policy;
    let needed = policy.required_approvers(task.risk);
    let task_shortfall = approvals.task_has(task.id.as_str(), needed);
    if task.risk > policy.max_risk {
        let reason = format!(
            "risk `{}` is above `policy.max_risk` `{}` (`policy.above_max: {}`)",
            task.risk,
            policy.max_risk,
            policy.above_max.as_str()
        );
        match policy.above_max {
            AboveMax::Exclude => return Some(TaskDecision::not_run(Decision::Excluded, reason)),
            AboveMax::Approve => {
                if let Some(missing) = missing_approval(&task_shortfall, needed, task.risk) {
                    return Some(TaskDecision::not_run(
                        Decision::NeedsApproval,
                        format!("{reason} and {missing}"),
                    ));
                }
            }
        }
    }
    if let Some(reason) = phase_approval_missing(plan, task.phase, approvals) {
        return Some(TaskDecision::not_run(Decision::NeedsApproval, reason));
    }
    let environment = plan.environment_of(task);
    if policy.environment_needs_approval(environment)
        && let Some(missing) = missing_approval(&task_shortfall, needed, task.risk)
    {
        return Some(TaskDecision::not_run(
            Decision::NeedsApproval,
            format!(
                "environment `{environment}` is in `policy.promotion.require_approval` and {missing}"
            ),
        ));
    }
    None
}

/// Why phase `phase` may not start yet, when it has `approval: true` and
/// lacks the approvals it needs (counted by [`phase_risk`]); `None` when it
/// may.
pub fn phase_approval_missing(plan: &Plan, phase: usize, approvals: &Approvals) -> Option<String> {
    let spec = &plan.phases[phase];
    if !spec.approval {
        return None;
    }
    let risk = phase_risk(plan, phase);
    let needed = plan.policy.required_approvers(risk);
    missing_approval(&approvals.phase_has(spec.id.as_str(), needed), needed, risk)
        .map(|missing| format!("phase `{}` has `approval: true` and {missing}", spec.id))
}

/// Whether task `task` waits for a task approval when none is recorded:
/// its risk is above `max_risk` with `above_max: approve`, or its
/// environment is in `policy.promotion.require_approval`.
pub fn task_needs_approval(plan: &Plan, task: usize) -> bool {
    let task = &plan.tasks[task];
    let policy = &plan.policy;
    (task.risk > policy.max_risk && policy.above_max == AboveMax::Approve)
        || policy.environment_needs_approval(plan.environment_of(task))
}

/// The highest risk among the tasks of phase `phase`: what the number of
/// approvers of a phase approval is counted by.
pub fn phase_risk(plan: &Plan, phase: usize) -> Risk {
    plan.phases[phase]
        .tasks
        .iter()
        .map(|&task| plan.tasks[task].risk)
        .max()
        .unwrap_or(Risk::Low)
}

/// Decides every task of `plan` and forecasts every phase.
pub fn decide(plan: &Plan, approvals: &Approvals) -> DryRun {
    decide_with_blocks(plan, approvals, &BTreeMap::new())
}

/// [`decide`], where the tasks in `blocks` (task index to reason) are
/// `blocked` on their own: their executor's preview found that their action
/// would be refused (a failing required check, a conflict). Their dependents
/// are then blocked too, and the forecasts leave them out.
pub fn decide_with_blocks(
    plan: &Plan,
    approvals: &Approvals,
    blocks: &BTreeMap<usize, String>,
) -> DryRun {
    decide_promoted(plan, approvals, blocks, &BTreeMap::new())
}

/// [`decide_with_blocks`], where the tasks in `unpromoted` (task index to
/// reason) lack the promotion evidence `policy.environments` asks for: they
/// are `blocked` before their approvals are considered (no approval can
/// stand in for evidence), after an exclusion by risk.
pub fn decide_promoted(
    plan: &Plan,
    approvals: &Approvals,
    blocks: &BTreeMap<usize, String>,
    unpromoted: &BTreeMap<usize, String>,
) -> DryRun {
    let estimate = |task: usize| plan.tasks[task].estimate.unwrap_or_default();
    let mut decisions: Vec<Option<TaskDecision>> = vec![None; plan.tasks.len()];
    let mut order = Vec::with_capacity(plan.tasks.len());
    let mut phases = Vec::with_capacity(plan.phases.len());
    let mut warnings = Vec::new();
    let mut started = 0_usize;
    let mut clock = Duration::ZERO;
    let mut eligible = 0_usize;
    let mut deferred_by_max_tasks = 0_usize;

    for phase in &plan.phases {
        let phase_order = dag::phase_order(plan, &phase.tasks);
        order.extend(phase_order.iter().copied());

        // Risk, approvals, and what follows from the tasks a task needs.
        let mut candidates = Vec::new();
        for &task in &phase_order {
            let excluded = plan.tasks[task].risk > plan.policy.max_risk
                && plan.policy.above_max == AboveMax::Exclude;
            let promotion = unpromoted
                .get(&task)
                .filter(|_| !excluded)
                .map(|reason| TaskDecision::not_run(Decision::Blocked, reason.clone()));
            let decision = promotion
                .or_else(|| risk_decision(plan, task, approvals))
                .or_else(|| {
                    blocks
                        .get(&task)
                        .map(|reason| TaskDecision::not_run(Decision::Blocked, reason.clone()))
                })
                .or_else(|| {
                    plan.tasks[task].needs.iter().find_map(|&need| {
                        let needed = decisions[need].as_ref()?;
                        let id = &plan.tasks[need].id;
                        match needed.decision {
                            Decision::Run => None,
                            Decision::Deferred => Some(TaskDecision::not_run(
                                Decision::Deferred,
                                format!("needs `{id}`, which is deferred"),
                            )),
                            other => Some(TaskDecision::not_run(
                                Decision::Blocked,
                                format!("needs `{id}`, which is {}", describe(other)),
                            )),
                        }
                    })
                });
            match decision {
                Some(decision) => decisions[task] = Some(decision),
                None => candidates.push(task),
            }
        }
        eligible += candidates.len();

        // Simulate the phase with every candidate to see what the plan asks for.
        let unconstrained = simulate(plan, &candidates, &estimate, &mut |_, _, _| None);
        let simulation = simulate(plan, &candidates, &estimate, &mut |task, start, finish| {
            if plan
                .policy
                .max_tasks
                .is_some_and(|max| started >= max as usize)
            {
                deferred_by_max_tasks += 1;
                let max = plan.policy.max_tasks.unwrap_or_default();
                return Some(format!(
                    "`policy.max_tasks` ({max}) is reached before this task starts"
                ));
            }
            if let Some(budget) = phase.budget
                && finish > budget
            {
                return Some(format!(
                    "does not fit phase `{}` budget {} (forecast to finish at {} into the phase)",
                    phase.id,
                    format_duration(budget),
                    format_duration(finish)
                ));
            }
            if let Some(budget) = plan.policy.budget
                && clock + finish > budget
            {
                return Some(format!(
                    "does not fit `policy.budget` {} (forecast to finish at {})",
                    format_duration(budget),
                    format_duration(clock + finish)
                ));
            }
            let _ = (task, start);
            started += 1;
            None
        });

        let mut ran = Vec::new();
        for (&task, outcome) in candidates.iter().zip(&simulation.outcomes) {
            decisions[task] = Some(match outcome {
                Outcome::Ran { start, finish } => {
                    ran.push(task);
                    TaskDecision {
                        start: Some(clock + *start),
                        finish: Some(clock + *finish),
                        ..TaskDecision::run()
                    }
                }
                Outcome::Skipped(reason) => {
                    TaskDecision::not_run(Decision::Deferred, reason.clone())
                }
            });
        }
        let ran_set: HashSet<usize> = ran.iter().copied().collect();
        let ran_in_order: Vec<usize> = phase_order
            .iter()
            .copied()
            .filter(|t| ran_set.contains(t))
            .collect();
        let serialised = serial_groups(plan, &ran_in_order, &estimate);
        let longest_group = serialised.iter().map(|group| group.estimate).max();
        let forecast = PhaseForecast {
            budget: phase.budget,
            estimate: ran.iter().map(|&t| estimate(t)).sum(),
            critical_path: dag::critical_path(plan, &ran_in_order, estimate)
                .max(longest_group.unwrap_or_default()),
            forecast: simulation.makespan,
            start: clock,
            serialised,
        };
        if let Some(budget) = phase.budget
            && unconstrained.makespan > budget
        {
            let deferred = candidates.len() - ran.len();
            warnings.push(format!(
                "phase `{}` is forecast at {} under concurrency {}, more than its budget {}{}",
                phase.id,
                format_duration(unconstrained.makespan),
                plan.policy.concurrency,
                format_duration(budget),
                if deferred > 0 {
                    format!("; {} deferred", plural(deferred, "task is", "tasks are"))
                } else {
                    String::new()
                }
            ));
        }
        clock += simulation.makespan;
        phases.push(forecast);
    }

    let decisions: Vec<TaskDecision> = decisions
        .into_iter()
        .map(|d| d.expect("every task belongs to exactly one phase and is decided there"))
        .collect();
    plan_warnings(plan, eligible, deferred_by_max_tasks, &mut warnings);
    DryRun {
        forecast: phases.iter().map(|p| p.forecast).sum(),
        critical_path: phases.iter().map(|p| p.critical_path).sum(),
        decisions,
        phases,
        order,
        warnings,
    }
}

fn describe(decision: Decision) -> &'static str {
    match decision {
        Decision::Run => "run",
        Decision::Excluded => "excluded",
        Decision::NeedsApproval => "waiting for approval",
        Decision::Blocked => "blocked",
        Decision::Deferred => "deferred",
    }
}

fn plan_warnings(
    plan: &Plan,
    eligible: usize,
    deferred_by_max_tasks: usize,
    warnings: &mut Vec<String>,
) {
    let policy = &plan.policy;
    let budgets: Vec<Duration> = plan.phases.iter().filter_map(|p| p.budget).collect();
    if let Some(budget) = policy.budget {
        let total: Duration = budgets.iter().sum();
        if total > budget {
            warnings.push(format!(
                "phase budgets add up to {}, more than the plan budget {}",
                format_duration(total),
                format_duration(budget)
            ));
        }
    }
    if let Some(max) = policy.max_tasks
        && eligible > max as usize
    {
        warnings.push(format!(
            "{} eligible to run but `policy.max_tasks` is {max}; {} deferred",
            plural(eligible, "task is", "tasks are"),
            plural(deferred_by_max_tasks, "task is", "tasks are"),
        ));
    }
    let mut missing_estimates = 0;
    for task in &plan.tasks {
        match task.estimate {
            Some(estimate) if estimate > task.timeout => warnings.push(format!(
                "task `{}` estimate {} exceeds its timeout {}",
                task.id,
                format_duration(estimate),
                format_duration(task.timeout)
            )),
            Some(_) => {}
            None => missing_estimates += 1,
        }
        let below_requirement = policy
            .require_rollback
            .is_none_or(|level| task.risk < level);
        if task.risk > Risk::Low && task.rollback.is_none() && below_requirement {
            warnings.push(format!(
                "task `{}` has risk `{}` and no rollback (`policy.require_rollback` is `{}`)",
                task.id,
                task.risk,
                policy.require_rollback.map_or("none", Risk::as_str)
            ));
        }
    }
    if missing_estimates > 0 {
        warnings.push(format!(
            "{} no `estimate`; forecasts count them as 0s",
            plural(missing_estimates, "task has", "tasks have")
        ));
    }
}

/// The resource groups shared by two or more of `tasks` (in run order),
/// sorted by name.
fn serial_groups(
    plan: &Plan,
    tasks: &[usize],
    estimate: &impl Fn(usize) -> Duration,
) -> Vec<SerialGroup> {
    let mut by_group: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for &task in tasks {
        for group in plan.exclusive_groups(task) {
            by_group.entry(group).or_default().push(task);
        }
    }
    by_group
        .into_iter()
        .filter(|(_, members)| members.len() > 1)
        .map(|(group, members)| SerialGroup {
            estimate: members.iter().map(|&t| estimate(t)).sum(),
            group,
            tasks: members,
        })
        .collect()
}

enum Outcome {
    Ran { start: Duration, finish: Duration },
    Skipped(String),
}

struct Simulation {
    /// One outcome per candidate, in the candidates' order.
    outcomes: Vec<Outcome>,
    makespan: Duration,
}

/// List scheduling of `candidates` under `policy.concurrency`: whenever a slot
/// is free, the earliest-declared ready task whose resource groups are all
/// free starts (as the engine does). `admit` may refuse a task (returning
/// the reason); its dependents among the candidates are then refused too,
/// naming it.
fn simulate(
    plan: &Plan,
    candidates: &[usize],
    estimate: &impl Fn(usize) -> Duration,
    admit: &mut impl FnMut(usize, Duration, Duration) -> Option<String>,
) -> Simulation {
    let slot_count = plan.policy.concurrency.max(1) as usize;
    let position: HashMap<usize, usize> = candidates
        .iter()
        .enumerate()
        .map(|(i, &t)| (t, i))
        .collect();
    let mut waiting: Vec<usize> = candidates
        .iter()
        .map(|&t| {
            plan.tasks[t]
                .needs
                .iter()
                .filter(|n| position.contains_key(n))
                .count()
        })
        .collect();
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); candidates.len()];
    for (i, &task) in candidates.iter().enumerate() {
        for need in &plan.tasks[task].needs {
            if let Some(&p) = position.get(need) {
                dependents[p].push(i);
            }
        }
    }
    let mut outcomes: Vec<Option<Outcome>> = candidates.iter().map(|_| None).collect();
    let mut ready: BinaryHeap<Reverse<usize>> = (0..candidates.len())
        .filter(|&i| waiting[i] == 0)
        .map(Reverse)
        .collect();
    let mut group_index: HashMap<String, usize> = HashMap::new();
    let groups: Vec<Vec<usize>> = candidates
        .iter()
        .map(|&task| {
            plan.exclusive_groups(task)
                .into_iter()
                .map(|group| {
                    let next = group_index.len();
                    *group_index.entry(group).or_insert(next)
                })
                .collect()
        })
        .collect();
    let mut held = vec![false; group_index.len()];
    let mut parked = Vec::new();
    let mut running: BinaryHeap<Reverse<(Duration, usize)>> = BinaryHeap::new();
    let mut now = Duration::ZERO;
    let mut makespan = Duration::ZERO;

    loop {
        while running.len() < slot_count {
            let Some(Reverse(i)) = ready.pop() else { break };
            if groups[i].iter().any(|&group| held[group]) {
                parked.push(i);
                continue;
            }
            let task = candidates[i];
            let finish = now + estimate(task);
            if let Some(reason) = admit(task, now, finish) {
                skip(i, reason, candidates, plan, &dependents, &mut outcomes);
                continue;
            }
            outcomes[i] = Some(Outcome::Ran { start: now, finish });
            makespan = makespan.max(finish);
            for &group in &groups[i] {
                held[group] = true;
            }
            running.push(Reverse((finish, i)));
        }
        ready.extend(parked.drain(..).map(Reverse));
        let Some(Reverse((finish, i))) = running.pop() else {
            break;
        };
        now = finish;
        for &group in &groups[i] {
            held[group] = false;
        }
        for &dependent in &dependents[i] {
            waiting[dependent] -= 1;
            if waiting[dependent] == 0 && outcomes[dependent].is_none() {
                ready.push(Reverse(dependent));
            }
        }
    }
    Simulation {
        outcomes: outcomes
            .into_iter()
            .map(|o| {
                o.unwrap_or_else(|| Outcome::Skipped("not reached by the forecast".to_owned()))
            })
            .collect(),
        makespan,
    }
}

fn skip(
    index: usize,
    reason: String,
    candidates: &[usize],
    plan: &Plan,
    dependents: &[Vec<usize>],
    outcomes: &mut [Option<Outcome>],
) {
    outcomes[index] = Some(Outcome::Skipped(reason));
    let id = plan.tasks[candidates[index]].id.to_string();
    let mut stack = dependents[index].clone();
    while let Some(dependent) = stack.pop() {
        if outcomes[dependent].is_none() {
            outcomes[dependent] =
                Some(Outcome::Skipped(format!("needs `{id}`, which is deferred")));
            stack.extend(dependents[dependent].iter().copied());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{load::parse_plan, source::SourceFile};

    fn plan(policy: &str, tasks: &str) -> Plan {
        let text = format!(
            "version: 1\nname: p\npolicy: {{require_rollback: none, {policy}}}\nphases:\n  - id: one\n    budget: 10m\n    tasks:\n{tasks}"
        );
        parse_plan(SourceFile::new("t.yaml", text), ".".into()).expect("valid test plan")
    }

    fn task(id: &str, risk: &str, estimate: &str, needs: &str) -> String {
        format!(
            "      - {{id: {id}, risk: {risk}, estimate: {estimate}, needs: [{needs}], run: {{shell: [\"true\"]}}}}\n"
        )
    }

    fn decisions(dry: &DryRun, plan: &Plan) -> Vec<(String, Decision)> {
        plan.tasks
            .iter()
            .zip(&dry.decisions)
            .map(|(t, d)| (t.id.to_string(), d.decision))
            .collect()
    }

    #[test]
    fn risk_excludes_and_blocks_dependents() {
        let p = plan(
            "max_risk: medium",
            &(task("a", "high", "1m", "")
                + &task("b", "low", "1m", "a")
                + &task("c", "low", "1m", "")),
        );
        let dry = decide(&p, &Approvals::default());
        assert_eq!(
            decisions(&dry, &p),
            [
                ("a".into(), Decision::Excluded),
                ("b".into(), Decision::Blocked),
                ("c".into(), Decision::Run)
            ]
        );
        assert_eq!(
            dry.decisions[1].reason.as_deref(),
            Some("needs `a`, which is excluded")
        );
    }

    #[test]
    fn a_preview_block_blocks_the_task_and_its_dependents_and_leaves_the_forecast() {
        let p = plan(
            "",
            &(task("a", "low", "1m", "")
                + &task("b", "low", "1m", "a")
                + &task("c", "low", "1m", "")),
        );
        let blocks = BTreeMap::from([(0, "required check `ci/test` failed".to_owned())]);
        let dry = decide_with_blocks(&p, &Approvals::default(), &blocks);
        assert_eq!(
            decisions(&dry, &p),
            [
                ("a".into(), Decision::Blocked),
                ("b".into(), Decision::Blocked),
                ("c".into(), Decision::Run)
            ]
        );
        assert_eq!(
            dry.decisions[0].reason.as_deref(),
            Some("required check `ci/test` failed")
        );
        assert_eq!(
            dry.decisions[1].reason.as_deref(),
            Some("needs `a`, which is blocked")
        );
        assert_eq!(dry.forecast, Duration::from_secs(60));
    }

    fn grouped(id: &str, estimate: &str, groups: &str) -> String {
        format!(
            "      - {{id: {id}, risk: low, estimate: {estimate}, exclusive: [{groups}], run: {{shell: [\"true\"]}}}}\n"
        )
    }

    #[test]
    fn a_resource_group_serialises_its_tasks_in_the_forecast() {
        let p = plan(
            "concurrency: 4",
            &(grouped("a", "1m", "db")
                + &grouped("b", "2m", "db, ingress")
                + &grouped("c", "1m", "ingress")
                + &grouped("d", "1m", "")),
        );
        let dry = decide(&p, &Approvals::default());
        let at = |task: usize| {
            (
                dry.decisions[task].start.map(|d| d.as_secs()),
                dry.decisions[task].finish.map(|d| d.as_secs()),
            )
        };
        // `a`, `c` and `d` start at once; `b` waits for `a` (db) and `c` (ingress).
        assert_eq!(at(0), (Some(0), Some(60)));
        assert_eq!(at(1), (Some(60), Some(180)));
        assert_eq!(at(2), (Some(0), Some(60)));
        assert_eq!(at(3), (Some(0), Some(60)));
        let phase = &dry.phases[0];
        assert_eq!(phase.forecast, Duration::from_secs(180));
        // No `needs` chain, but db's tasks take 3m one after another.
        assert_eq!(phase.critical_path, Duration::from_secs(180));
        let groups: Vec<(&str, Vec<usize>, u64)> = phase
            .serialised
            .iter()
            .map(|g| (g.group.as_str(), g.tasks.clone(), g.estimate.as_secs()))
            .collect();
        assert_eq!(
            groups,
            [("db", vec![0, 1], 180), ("ingress", vec![1, 2], 180)]
        );
    }

    #[test]
    fn an_exclusive_instance_is_a_group_of_every_task_through_it() {
        let text = "version: 1\nname: p\npolicy: {require_rollback: none, concurrency: 3}\nexecutors:\n  cluster: {kind: shell, exclusive: true}\n  free: {kind: shell}\nphases:\n  - id: one\n    tasks:\n      - {id: a, risk: low, estimate: 1m, run: {executor: cluster, with: [\"true\"]}}\n      - {id: b, risk: low, estimate: 1m, run: {shell: [\"true\"]}, verify: {executor: cluster, with: [\"true\"]}}\n      - {id: c, risk: low, estimate: 1m, run: {executor: free, with: [\"true\"]}}\n";
        let p = parse_plan(SourceFile::new("t.yaml", text.to_owned()), ".".into())
            .expect("valid test plan");
        assert_eq!(p.exclusive_groups(0), ["executor/cluster"]);
        assert_eq!(p.exclusive_groups(1), ["executor/cluster"]);
        assert!(p.exclusive_groups(2).is_empty());
        let dry = decide(&p, &Approvals::default());
        assert_eq!(dry.phases[0].forecast, Duration::from_secs(120));
    }

    #[test]
    fn approvals_turn_needs_approval_into_run() {
        let p = plan(
            "max_risk: low, above_max: approve",
            &task("a", "medium", "1m", ""),
        );
        assert_eq!(
            decide(&p, &Approvals::default()).decisions[0].decision,
            Decision::NeedsApproval
        );
        let approvals = Approvals {
            tasks: HashSet::from(["a".to_owned()]),
            ..Approvals::default()
        };
        assert_eq!(decide(&p, &approvals).decisions[0].decision, Decision::Run);
    }

    #[test]
    fn budget_defers_what_does_not_fit_with_concurrency() {
        // Two slots: a and b run together (0-6m), c starts at 6m and would end at 12m > 10m.
        let tasks = task("a", "low", "6m", "")
            + &task("b", "low", "6m", "")
            + &task("c", "low", "6m", "")
            + &task("d", "low", "1m", "c");
        let p = plan("concurrency: 2", &tasks);
        let dry = decide(&p, &Approvals::default());
        let got: Vec<Decision> = dry.decisions.iter().map(|d| d.decision).collect();
        assert_eq!(
            got,
            [
                Decision::Run,
                Decision::Run,
                Decision::Deferred,
                Decision::Deferred
            ]
        );
        assert_eq!(dry.phases[0].forecast, Duration::from_secs(360));
        assert_eq!(
            dry.decisions[3].reason.as_deref(),
            Some("needs `c`, which is deferred")
        );
        assert!(
            dry.warnings.iter().any(|w| w.contains("forecast at 13m")),
            "{:?}",
            dry.warnings
        );
    }

    #[test]
    fn without_max_tasks_and_budget_nothing_is_limited() {
        let tasks = (0..35).fold(String::new(), |tasks, i| {
            tasks
                + &format!(
                    "      - {{id: t{i}, risk: low, estimate: 10m, run: {{shell: [\"true\"]}}}}\n"
                )
        });
        // 35 tasks of 10m one at a time: past the old defaults of 30 tasks and 4h.
        let text = format!(
            "version: 1\nname: p\npolicy: {{concurrency: 1}}\nphases:\n  - id: one\n    tasks:\n{tasks}"
        );
        let p = parse_plan(SourceFile::new("t.yaml", text), ".".into()).expect("valid test plan");
        assert_eq!((p.policy.max_tasks, p.policy.budget), (None, None));
        let dry = decide(&p, &Approvals::default());
        assert_eq!(dry.count(Decision::Run), 35);
        assert!(dry.warnings.is_empty(), "{:?}", dry.warnings);
    }

    #[test]
    fn max_tasks_defers_in_run_order() {
        let tasks =
            task("a", "low", "1m", "") + &task("b", "low", "1m", "") + &task("c", "low", "1m", "");
        let p = plan("max_tasks: 2", &tasks);
        let dry = decide(&p, &Approvals::default());
        assert_eq!(dry.count(Decision::Run), 2);
        assert_eq!(dry.decisions[2].decision, Decision::Deferred);
        assert!(
            dry.decisions[2]
                .reason
                .as_deref()
                .is_some_and(|r| r.contains("policy.max_tasks"))
        );
        assert!(
            dry.warnings
                .iter()
                .any(|w| w.starts_with("3 tasks are eligible")),
            "{:?}",
            dry.warnings
        );
    }
}
