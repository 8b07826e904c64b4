//! Building the impact report from a plan and its dry run.

use std::{collections::BTreeMap, time::Duration};

use plangate_plans::{Decision, DryRun, Plan, Risk, Rollback};

use super::schema::{
    ByRisk, DecisionCounts, EvidenceReport, FORMAT_VERSION, ImpactReport, PhaseReport,
    PolicyReport, PreviewReport, PromotionReport, SerialGroupReport, Summary, TaskReport,
};
use crate::run::PromotionCheck;

/// Whole seconds of a duration (the `_s` fields).
pub fn seconds(duration: Duration) -> u64 {
    duration.as_secs()
}

/// Assembles the report; the numbers all come from `dry_run`.
pub fn impact_report(plan: &Plan, dry_run: &DryRun) -> ImpactReport {
    impact_report_with_previews(plan, dry_run, &BTreeMap::new())
}

/// Assembles the report with executor previews, keyed by task index.
pub fn impact_report_with_previews(
    plan: &Plan,
    dry_run: &DryRun,
    previews: &BTreeMap<usize, PreviewReport>,
) -> ImpactReport {
    impact_report_promoted(plan, dry_run, previews, &[])
}

/// Assembles the report with executor previews and the promotion checks of
/// the tasks (indexed like the plan's tasks; empty when the plan does not
/// use `policy.environments`).
pub fn impact_report_promoted(
    plan: &Plan,
    dry_run: &DryRun,
    previews: &BTreeMap<usize, PreviewReport>,
    promotions: &[Option<PromotionCheck>],
) -> ImpactReport {
    let mut by_risk = ByRisk::default();
    for task in &plan.tasks {
        match task.risk {
            Risk::Low => by_risk.low += 1,
            Risk::Medium => by_risk.medium += 1,
            Risk::High => by_risk.high += 1,
        }
    }
    let decisions = DecisionCounts {
        run: dry_run.count(Decision::Run),
        excluded: dry_run.count(Decision::Excluded),
        needs_approval: dry_run.count(Decision::NeedsApproval),
        blocked: dry_run.count(Decision::Blocked),
        deferred: dry_run.count(Decision::Deferred),
    };
    let phases: Vec<PhaseReport> = plan
        .phases
        .iter()
        .zip(&dry_run.phases)
        .enumerate()
        .map(|(phase_index, (phase, forecast))| {
            let ordered = dry_run
                .order
                .iter()
                .copied()
                .filter(|&t| plan.tasks[t].phase == phase_index);
            PhaseReport {
                id: phase.id.to_string(),
                name: phase.name.clone(),
                budget_s: phase.budget.map(seconds),
                estimate_s: seconds(forecast.estimate),
                critical_path_s: seconds(forecast.critical_path),
                forecast_s: seconds(forecast.forecast),
                start_s: seconds(forecast.start),
                approval: phase.approval,
                serialised: forecast
                    .serialised
                    .iter()
                    .map(|group| SerialGroupReport {
                        group: group.group.clone(),
                        tasks: group
                            .tasks
                            .iter()
                            .map(|&t| plan.tasks[t].id.to_string())
                            .collect(),
                        estimate_s: seconds(group.estimate),
                    })
                    .collect(),
                tasks: ordered
                    .map(|t| {
                        let mut report = task_report(plan, dry_run, t);
                        report.preview = previews.get(&t).cloned();
                        report.promotion = promotions
                            .get(t)
                            .and_then(Option::as_ref)
                            .map(promotion_report);
                        report
                    })
                    .collect(),
            }
        })
        .collect();
    // A preview that could not be made is a warning: the report must not
    // say "Warnings: None" while a task's preview failed.
    let mut warnings = dry_run.warnings.clone();
    warnings.extend(
        phases
            .iter()
            .flat_map(|phase: &PhaseReport| &phase.tasks)
            .filter_map(|task| {
                let error = task.preview.as_ref()?.error.as_ref()?;
                Some(format!("preview of `{}` failed: {error}", task.id))
            }),
    );
    let policy = &plan.policy;
    ImpactReport {
        format_version: FORMAT_VERSION,
        plan: plan.name.to_string(),
        description: plan.description.clone(),
        environment: plan.environment.clone(),
        plan_hash: plan.content_hash.clone(),
        policy: PolicyReport {
            max_risk: policy.max_risk.to_string(),
            above_max: policy.above_max.as_str().to_owned(),
            require_rollback: policy
                .require_rollback
                .map_or("none", Risk::as_str)
                .to_owned(),
            on_failure: policy.on_failure.as_str().to_owned(),
            budget_s: policy.budget.map(seconds),
            max_tasks: policy.max_tasks,
            concurrency: policy.concurrency,
            environments: policy.environments.clone(),
            promotion_max_age_s: (!policy.environments.is_empty())
                .then(|| seconds(policy.promotion.max_age)),
            promotion_require_approval: (!policy.environments.is_empty())
                .then(|| policy.promotion.require_approval.clone()),
            approvers: policy
                .approvers
                .iter()
                .map(|(risk, count)| (risk.to_string(), *count))
                .collect(),
        },
        summary: Summary {
            tasks: plan.tasks.len(),
            by_risk,
            decisions,
        },
        budget_s: policy.budget.map(seconds),
        forecast_s: seconds(dry_run.forecast),
        critical_path_s: seconds(dry_run.critical_path),
        phases,
        warnings,
    }
}

fn task_report(plan: &Plan, dry_run: &DryRun, index: usize) -> TaskReport {
    let task = &plan.tasks[index];
    let decision = &dry_run.decisions[index];
    TaskReport {
        id: task.id.to_string(),
        name: task.name.clone(),
        source: task.source.clone(),
        risk: task.risk.to_string(),
        decision: decision.decision.to_string(),
        reason: decision.reason.clone(),
        needs: task
            .needs
            .iter()
            .map(|&n| plan.tasks[n].id.to_string())
            .collect(),
        exclusive: plan.exclusive_groups(index),
        estimate_s: task.estimate.map(seconds),
        timeout_s: seconds(task.timeout),
        forecast_start_s: decision.start.map(seconds),
        forecast_finish_s: decision.finish.map(seconds),
        executor: task.run.kind().to_string(),
        action: task.run.summary(),
        verify: (!task.verify.is_empty()).then(|| {
            task.verify
                .iter()
                .map(plangate_plans::Action::summary)
                .collect::<Vec<_>>()
                .join("; ")
        }),
        rollback: task.rollback.as_ref().map(|rollback| match rollback {
            Rollback::Auto => "auto".to_owned(),
            Rollback::Action(action) => action.summary(),
        }),
        preview: None,
        promotion: None,
    }
}

fn promotion_report(check: &PromotionCheck) -> PromotionReport {
    PromotionReport {
        environment: check.environment.clone(),
        from: check.previous.clone(),
        content_hash: check.content_hash.clone(),
        max_age_s: check.max_age_s,
        evidence: check.evidence.as_ref().map(|evidence| EvidenceReport {
            run: evidence.run_id.to_string(),
            plan: evidence.plan_name.to_string(),
            task: evidence.task_id.to_string(),
            finished_at: evidence.finished_at,
        }),
        missing: check.missing.clone(),
    }
}

/// The sentence of a task's promotion evidence that the Markdown and HTML
/// reports show: `promotion to `prod` from `staging` (content hash H, max
/// age 7d): evidence: task `deploy` of run R (plan `web-dev`), finished at
/// T` or `...: missing: why`.
pub(crate) fn promotion_sentence(task: &TaskReport) -> Option<String> {
    let promotion = task.promotion.as_ref()?;
    let head = format!(
        "promotion to `{}` from `{}` (content hash {}, max age {})",
        promotion.environment,
        promotion.from,
        promotion.content_hash,
        plangate_plans::format_duration(Duration::from_secs(promotion.max_age_s))
    );
    Some(match (&promotion.evidence, &promotion.missing) {
        (Some(evidence), _) => format!(
            "{head}: evidence: task `{}` of run {} (plan `{}`), finished at {}",
            evidence.task,
            evidence.run,
            evidence.plan,
            super::rfc3339(evidence.finished_at)
        ),
        (None, missing) => format!(
            "{head}: evidence missing: {}",
            missing.as_deref().unwrap_or("none found")
        ),
    })
}

/// The policy's promotion and approver keys in words, when the plan has
/// them: `environments `dev` -> `prod`, evidence at most 7d old, approval
/// required in `prod`; approvers: high 2`.
pub(crate) fn promotion_policy_sentence(policy: &PolicyReport) -> Option<String> {
    let mut parts = Vec::new();
    if !policy.environments.is_empty() {
        let order = policy
            .environments
            .iter()
            .map(|environment| format!("`{environment}`"))
            .collect::<Vec<_>>()
            .join(" -> ");
        let approval = match policy.promotion_require_approval.as_deref() {
            Some([]) | None => "no environment requires an approval".to_owned(),
            Some(listed) => format!(
                "approval required in {}",
                plangate_plans::text::and_ticked(listed)
            ),
        };
        parts.push(format!(
            "environments {order}, evidence at most {} old, {approval}",
            policy.promotion_max_age_s.map_or_else(String::new, |age| {
                plangate_plans::format_duration(Duration::from_secs(age))
            })
        ));
    }
    if !policy.approvers.is_empty() {
        let counts = policy
            .approvers
            .iter()
            .map(|(risk, count)| format!("{risk} {count}"))
            .collect::<Vec<_>>()
            .join(", ");
        parts.push(format!("distinct approvers from risk: {counts}"));
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}
