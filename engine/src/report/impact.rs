//! Building the impact report from a plan and its dry run.

use std::{collections::BTreeMap, time::Duration};

use plangate_plans::{Decision, DryRun, Plan, Risk, Rollback};

use super::schema::{
    ByRisk, DecisionCounts, FORMAT_VERSION, ImpactReport, PhaseReport, PolicyReport, PreviewReport,
    Summary, TaskReport,
};

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
                tasks: ordered
                    .map(|t| {
                        let mut report = task_report(plan, dry_run, t);
                        report.preview = previews.get(&t).cloned();
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
        estimate_s: task.estimate.map(seconds),
        timeout_s: seconds(task.timeout),
        forecast_start_s: decision.start.map(seconds),
        forecast_finish_s: decision.finish.map(seconds),
        executor: task.run.kind().to_string(),
        action: task.run.summary(),
        verify: task.verify.as_ref().map(plangate_plans::Action::summary),
        rollback: task.rollback.as_ref().map(|rollback| match rollback {
            Rollback::Auto => "auto".to_owned(),
            Rollback::Action(action) => action.summary(),
        }),
        preview: None,
    }
}
