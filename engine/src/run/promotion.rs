//! Environment promotion: for each task in a later environment of
//! `policy.environments`, the evidence in the state file that its content
//! ran, succeeded and verified in the environment before, recently enough.
//!
//! The dry run (`plangate plan`), the creation of a run and the start of each
//! phase at run time ask the same question through [`promotion_checks`], so
//! what the dry run shows is what the run does: a task without evidence is
//! `blocked` (and its dependents with it), and the run ends `failed`.

use std::collections::BTreeMap;

use plangate_plans::{Plan, format_duration, task_content_hash};
use plangate_state::{EvidenceRecord, NoEvidence, Store, StoreError};
use serde::Serialize;

/// What promotion asks of one task, and what the state file holds for it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct PromotionCheck {
    /// The task's environment.
    pub environment: String,
    /// The environment whose evidence it needs.
    pub previous: String,
    /// The task's content hash (see `plangate_plans::promotion`).
    pub content_hash: String,
    /// `policy.promotion.max_age`, in seconds.
    pub max_age_s: u64,
    /// The evidence relied on, if any.
    pub evidence: Option<EvidenceRecord>,
    /// Why there is none, in words; `None` when there is evidence.
    pub missing: Option<String>,
}

impl PromotionCheck {
    /// The reason a task without evidence is blocked.
    pub fn blocked_reason(&self) -> Option<String> {
        self.missing.as_ref().map(|missing| {
            format!(
                "promotion to `{}` needs a succeeded, verified run of this task's content ({}) in `{}` within {} (`policy.promotion.max_age`): {missing}",
                self.environment,
                short_hash(&self.content_hash),
                self.previous,
                format_duration(std::time::Duration::from_secs(self.max_age_s)),
            )
        })
    }
}

/// The first 12 hex digits of a hash, as reasons show it.
pub(crate) fn short_hash(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

/// The tasks of `plan` that promotion applies to: those whose environment
/// has one before it in `policy.environments`; with `None` for the rest.
/// `store` is `None` when there is no state file yet; `now` is unix
/// milliseconds. Tasks in `only` (when given) are the only ones looked up.
pub(crate) fn promotion_checks(
    plan: &Plan,
    store: Option<&Store>,
    now: i64,
    only: Option<&[usize]>,
) -> Result<Vec<Option<PromotionCheck>>, StoreError> {
    let max_age = plan.policy.promotion.max_age;
    let max_age_ms = i64::try_from(max_age.as_millis()).unwrap_or(i64::MAX);
    let not_before = now.saturating_sub(max_age_ms);
    let mut checks = vec![None; plan.tasks.len()];
    for (index, task) in plan.tasks.iter().enumerate() {
        if only.is_some_and(|only| !only.contains(&index)) {
            continue;
        }
        let environment = plan.environment_of(task);
        let Some(previous) = plan.policy.previous_environment(environment) else {
            continue;
        };
        let content_hash = task_content_hash(task);
        let found = match store {
            Some(store) => store.promotion_evidence(&content_hash, previous, not_before)?,
            None => Err(NoEvidence::NeverRan),
        };
        let (evidence, missing) = match found {
            Ok(evidence) => (Some(evidence), None),
            Err(why) => (
                None,
                Some(match (&why, store) {
                    (_, None) => "there is no state file yet".to_owned(),
                    (NoEvidence::NeverRan, _) => format!(
                        "no task with this content has run in `{previous}` in this state file"
                    ),
                    (
                        NoEvidence::NotVerified {
                            run_id,
                            task_id,
                            state,
                            verified,
                        },
                        _,
                    ) => format!(
                        "its latest run in `{previous}`, task `{task_id}` of run `{run_id}`, is {}",
                        match verified {
                            Some(false) => format!("`{state}` with a failed verify"),
                            None if state == "succeeded" => {
                                "`succeeded` without a verify, which proves nothing".to_owned()
                            }
                            Some(true) | None => format!("`{state}`"),
                        }
                    ),
                    (NoEvidence::TooOld { newest }, _) => format!(
                        "the newest, task `{}` of run `{}`, finished {} ago",
                        newest.task_id,
                        newest.run_id,
                        format_duration(std::time::Duration::from_secs(
                            u64::try_from((now - newest.finished_at) / 1000).unwrap_or(0)
                        ))
                    ),
                }),
            ),
        };
        checks[index] = Some(PromotionCheck {
            environment: environment.to_owned(),
            previous: previous.to_owned(),
            content_hash,
            max_age_s: max_age.as_secs(),
            evidence,
            missing,
        });
    }
    Ok(checks)
}

/// The dry run's promotion checks of `plan` against the state file at
/// `state_path` (which is not created: a missing file holds no evidence);
/// empty when the plan does not use `policy.environments`.
///
/// # Errors
///
/// When the state file exists but cannot be opened or read.
pub fn dry_run_promotion(
    state_path: &std::path::Path,
    plan: &Plan,
) -> Result<Vec<Option<PromotionCheck>>, super::RunError> {
    if plan.policy.environments.is_empty() {
        return Ok(Vec::new());
    }
    let store = if state_path.exists() {
        Some(Store::open_with(
            state_path,
            plangate_state::OpenOptions {
                create: false,
                synchronous_full: false,
                full_check: false,
            },
        )?)
    } else {
        None
    };
    Ok(promotion_checks(
        plan,
        store.as_ref(),
        plangate_state::now_millis(),
        None,
    )?)
}

/// The tasks the checks block, with their reasons, as
/// `plangate_plans::decide_promoted` takes them.
pub fn unpromoted(checks: &[Option<PromotionCheck>]) -> BTreeMap<usize, String> {
    checks
        .iter()
        .enumerate()
        .filter_map(|(index, check)| Some((index, check.as_ref()?.blocked_reason()?)))
        .collect()
}
