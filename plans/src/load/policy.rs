//! `policy:` and `defaults:`, with the defaults of the model applied.

use std::{
    collections::{BTreeMap, HashSet},
    time::Duration,
};

use serde_yaml::Mapping;

use super::Context;
use crate::{
    duration::{Limit, PlanDuration},
    marked::Path,
    model::{AboveMax, OnFailure, Policy, Promotion, Risk},
    text::did_you_mean,
};

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPolicy {
    #[serde(default)]
    max_risk: Option<Risk>,
    #[serde(default)]
    above_max: Option<AboveMax>,
    #[serde(default)]
    require_rollback: Option<RequireRollback>,
    #[serde(default)]
    on_failure: Option<OnFailure>,
    #[serde(default)]
    budget: Option<Limit<PlanDuration>>,
    #[serde(default)]
    max_tasks: Option<Limit<u32>>,
    #[serde(default)]
    concurrency: Option<u32>,
    #[serde(default)]
    environments: Option<Vec<String>>,
    #[serde(default)]
    promotion: Option<RawPromotion>,
    #[serde(default)]
    approvers: Option<RawApprovers>,
}

/// `policy.promotion`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPromotion {
    #[serde(default)]
    max_age: Option<PlanDuration>,
    #[serde(default)]
    require_approval: Option<Vec<String>>,
}

/// `policy.approvers`: distinct approvers by risk level.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawApprovers {
    #[serde(default)]
    low: Option<u32>,
    #[serde(default)]
    medium: Option<u32>,
    #[serde(default)]
    high: Option<u32>,
}

#[derive(serde::Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub(super) enum RequireRollback {
    None,
    Low,
    Medium,
    High,
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDefaults {
    #[serde(default)]
    timeout: Option<PlanDuration>,
    #[serde(default)]
    retries: Option<u32>,
    #[serde(default)]
    retry_backoff: Option<PlanDuration>,
    #[serde(default)]
    estimate: Option<PlanDuration>,
}

pub(super) struct Defaults {
    pub(super) timeout: Duration,
    pub(super) retries: u32,
    pub(super) retry_backoff: Duration,
    pub(super) estimate: Option<Duration>,
}

impl Context<'_> {
    /// `policy:`, with the plan's `environment` (`None` when the plan does
    /// not set it) checked against `policy.environments`.
    pub(super) fn policy(&mut self, root: &Mapping, environment: Option<&str>) -> Policy {
        let mut policy = Policy::default();
        let path = Path::root().key("policy");
        let Ok(Some(raw)) = self.optional::<RawPolicy>(root, &Path::root(), "policy") else {
            return policy;
        };
        if let Some(max_risk) = raw.max_risk {
            policy.max_risk = max_risk;
        }
        if let Some(above_max) = raw.above_max {
            policy.above_max = above_max;
        }
        if let Some(require) = raw.require_rollback {
            policy.require_rollback = match require {
                RequireRollback::None => None,
                RequireRollback::Low => Some(Risk::Low),
                RequireRollback::Medium => Some(Risk::Medium),
                RequireRollback::High => Some(Risk::High),
            };
        }
        if let Some(on_failure) = raw.on_failure {
            policy.on_failure = on_failure;
        }
        if let Some(budget) = raw.budget {
            policy.budget = budget.get().map(PlanDuration::get);
        }
        if let Some(max_tasks) = raw.max_tasks {
            policy.max_tasks = max_tasks.get();
        }
        match raw.concurrency {
            Some(0) => {
                let span = self.at(&path.key("concurrency"));
                self.error(span, "invalid `concurrency`: 0 would never run a task")
                    .help = Some("expected a whole number of at least 1".to_owned());
            }
            Some(concurrency) => policy.concurrency = concurrency,
            None => {}
        }
        if let Some(environments) = raw.environments {
            policy.environments = self.environments(environments, &path.key("environments"));
        }
        if let Some(promotion) = raw.promotion {
            policy.promotion = self.promotion(promotion, &policy.environments, &path);
        } else if let Some(last) = policy.environments.last() {
            policy.promotion.require_approval = vec![last.clone()];
        }
        if let Some(approvers) = raw.approvers {
            policy.approvers = self.approvers(&approvers, &path.key("approvers"));
        }
        if !policy.environments.is_empty() {
            let name = environment.unwrap_or("dev");
            if !policy.environments.iter().any(|known| known == name) {
                let span = match environment {
                    Some(_) => self.at(&Path::root().key("environment")),
                    None => self.key_at(&path, "environments"),
                };
                let message = match environment {
                    Some(_) => format!("environment `{name}` is not one of `policy.environments`"),
                    None => "the plan's environment is `dev` (the default), which is not one of `policy.environments`".to_owned(),
                };
                let help = environment_help(name, &policy.environments);
                self.error(span, message).help = Some(help);
            }
        }
        policy
    }

    /// `policy.environments`: unique, non-empty labels.
    fn environments(&mut self, environments: Vec<String>, path: &Path) -> Vec<String> {
        if environments.is_empty() {
            let span = self.at(path);
            self.error(span, "`policy.environments` is empty").help = Some(
                "list the environments in promotion order, e.g. `[dev, staging, prod]`, or remove the key".to_owned(),
            );
        }
        let mut seen = HashSet::new();
        for (index, environment) in environments.iter().enumerate() {
            if environment.trim().is_empty() {
                let span = self.at(&path.index(index));
                self.error(span, "an environment in `policy.environments` is empty")
                    .help = Some("name each environment, e.g. `staging`".to_owned());
            } else if !seen.insert(environment.as_str()) {
                let span = self.at(&path.index(index));
                self.error(
                    span,
                    format!("environment `{environment}` is listed twice in `policy.environments`"),
                )
                .help = Some("list each environment once, in promotion order".to_owned());
            }
        }
        environments
    }

    /// `policy.promotion`, checked against `environments`.
    fn promotion(
        &mut self,
        raw: RawPromotion,
        environments: &[String],
        policy_path: &Path,
    ) -> Promotion {
        let path = policy_path.key("promotion");
        let mut promotion = Promotion::default();
        if environments.is_empty() {
            let span = self.key_at(policy_path, "promotion");
            self.error(span, "`policy.promotion` needs `policy.environments`")
                .help = Some(
                "add `environments:` to `policy` with the promotion order, e.g. `[dev, staging, prod]`"
                    .to_owned(),
            );
        }
        if let Some(max_age) = raw.max_age {
            if max_age.get().is_zero() {
                let span = self.at(&path.key("max_age"));
                self.error(span, "invalid `max_age`: 0 would accept no evidence at all")
                    .help = Some("expected a duration such as `7d`, `36h` or `90m`".to_owned());
            } else {
                promotion.max_age = max_age.get();
            }
        }
        match raw.require_approval {
            Some(listed) => {
                for (index, environment) in listed.iter().enumerate() {
                    if !environments.is_empty() && !environments.contains(environment) {
                        let span = self.at(&path.key("require_approval").index(index));
                        self.error(
                            span,
                            format!(
                                "`require_approval` names environment `{environment}`, which is not one of `policy.environments`"
                            ),
                        )
                        .help = Some(environment_help(environment, environments));
                    }
                }
                promotion.require_approval = listed;
            }
            None => promotion.require_approval = environments.last().cloned().into_iter().collect(),
        }
        promotion
    }

    /// `policy.approvers`: at least 1 per listed level.
    fn approvers(&mut self, raw: &RawApprovers, path: &Path) -> BTreeMap<Risk, u32> {
        let mut approvers = BTreeMap::new();
        for (risk, count) in [
            (Risk::Low, raw.low),
            (Risk::Medium, raw.medium),
            (Risk::High, raw.high),
        ] {
            match count {
                Some(0) => {
                    let span = self.at(&path.key(risk.as_str()));
                    self.error(
                        span,
                        format!("invalid `approvers.{risk}`: 0 would let a task run unapproved"),
                    )
                    .help = Some(
                        "expected a whole number of at least 1; to run without approval, raise `policy.max_risk` instead"
                            .to_owned(),
                    );
                }
                Some(count) => {
                    approvers.insert(risk, count);
                }
                None => {}
            }
        }
        approvers
    }

    /// A task's `environment:`, checked against `policy.environments`.
    pub(super) fn check_task_environment(
        &mut self,
        policy: &Policy,
        environment: &str,
        path: &Path,
    ) {
        if !policy.environments.is_empty()
            && !policy.environments.iter().any(|known| known == environment)
        {
            let span = self.at(&path.key("environment"));
            self.error(
                span,
                format!("environment `{environment}` is not one of `policy.environments`"),
            )
            .help = Some(environment_help(environment, &policy.environments));
        }
    }

    pub(super) fn defaults(&mut self, root: &Mapping) -> Defaults {
        let raw: RawDefaults = self
            .optional(root, &Path::root(), "defaults")
            .ok()
            .flatten()
            .unwrap_or_default();
        Defaults {
            timeout: raw
                .timeout
                .map_or(Duration::from_secs(15 * 60), PlanDuration::get),
            retries: raw.retries.unwrap_or(0),
            retry_backoff: raw
                .retry_backoff
                .map_or(Duration::from_secs(10), PlanDuration::get),
            estimate: raw.estimate.map(PlanDuration::get),
        }
    }
}

/// The help of an environment that is not in `policy.environments`.
fn environment_help(name: &str, environments: &[String]) -> String {
    let listed = environments
        .iter()
        .map(|known| format!("`{known}`"))
        .collect::<Vec<_>>()
        .join(", ");
    match did_you_mean(name, environments.iter().map(String::as_str)) {
        Some(suggestion) => {
            format!("did you mean `{suggestion}`? `policy.environments` lists {listed}")
        }
        None => format!(
            "`policy.environments` lists {listed}; add it there, in promotion order, or use one of them"
        ),
    }
}
