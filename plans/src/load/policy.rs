//! `policy:` and `defaults:`, with the defaults of the model applied.

use std::time::Duration;

use serde_yaml::Mapping;

use super::Context;
use crate::{
    duration::{Limit, PlanDuration},
    marked::Path,
    model::{AboveMax, OnFailure, Policy, Risk},
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
    pub(super) fn policy(&mut self, root: &Mapping) -> Policy {
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
                let span = self.span(&path.key("concurrency"));
                self.error(span, "invalid `concurrency`: 0 would never run a task")
                    .help = Some("expected a whole number of at least 1".to_owned());
            }
            Some(concurrency) => policy.concurrency = concurrency,
            None => {}
        }
        policy
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
