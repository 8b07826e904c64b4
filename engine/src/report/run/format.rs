//! Pieces of text the renderings share, so that they say the same thing.

use plangate_plans::format_duration;
use plangate_state::AttemptOutcome;

use super::schema::{ApprovalReport, AttemptReport, NotDone, PhaseOutcome, RunReport};
use crate::report::rfc3339;

/// Whole seconds as `1m 30s`.
pub(super) fn seconds(s: u64) -> String {
    format_duration(std::time::Duration::from_secs(s))
}

/// Milliseconds as `0.139s`, `-` when unknown.
pub(super) fn millis(ms: Option<u64>) -> String {
    ms.map_or_else(
        || "-".to_owned(),
        |ms| format_duration(std::time::Duration::from_millis(ms)),
    )
}

/// `failed (exit 1)`, `timed-out (signal 15)`, `in flight`.
pub(super) fn attempt_status(attempt: &AttemptReport) -> String {
    let outcome = attempt.outcome.map_or("in flight", AttemptOutcome::as_str);
    match (attempt.exit_code, attempt.signal) {
        (Some(code), _) => format!("{outcome} (exit {code})"),
        (None, Some(signal)) => format!("{outcome} (signal {signal})"),
        _ => outcome.to_owned(),
    }
}

/// `task `publish` approved by alice at 2026-12-02T02:44:30Z: staging looks right`:
/// the approver as recorded, the time in RFC 3339.
pub(super) fn approval_line(approval: &ApprovalReport) -> String {
    format!(
        "{} `{}` approved by {} at {}: {}{}",
        approval.kind,
        approval.target,
        approval.approved_by,
        rfc3339(approval.at),
        approval.reason.as_deref().unwrap_or("no reason given"),
        approval_standing(approval)
    )
}

/// What became of an approval, after its line: the plan it approved,
/// whether it counts, its use and its revocation; e.g. `; for plan
/// 3f2a…; counts: yes; used at 2026-12-02T02:45:00Z`.
pub(super) fn approval_standing(approval: &ApprovalReport) -> String {
    let mut out = match &approval.plan_hash {
        Some(hash) => format!("; for plan {hash}"),
        None => "; for no recorded plan".to_owned(),
    };
    out.push_str(if approval.counts {
        "; counts: yes"
    } else {
        "; counts: no"
    });
    if let Some(why) = &approval.not_counted {
        out.push_str(&format!(" ({why})"));
    }
    if let Some(at) = approval.used_at {
        out.push_str(&format!("; used at {}", rfc3339(at)));
    }
    if let (Some(by), Some(at)) = (&approval.revoked_by, approval.revoked_at) {
        out.push_str(&format!(
            "; revoked by {by} at {}: {}",
            rfc3339(at),
            approval
                .revoke_reason
                .as_deref()
                .unwrap_or("no reason given")
        ));
    }
    out
}

/// `2 tasks deferred (raise the used-up limit in the plan, then resume)`:
/// the heading of the deferred tasks, which every rendering puts first (each
/// task's reason names the limit that deferred it). The limits count the
/// whole run, so a plain `resume` would defer them again.
pub(super) fn deferred_heading(deferred: &[NotDone]) -> String {
    format!(
        "{} (raise the used-up limit in the plan, then resume)",
        plangate_plans::text::plural(deferred.len(), "task deferred", "tasks deferred"),
    )
}

/// `budget 10m, used 12s, wall 3m 5s` for the run.
pub(super) fn run_time(report: &RunReport) -> String {
    format!(
        "budget {}, used {}, wall {}",
        budget(report.budget_s),
        seconds(report.used_s),
        seconds(report.wall_s)
    )
}

/// `budget 2m, forecast 5s, used 1s, wall 4s` for a phase.
pub(super) fn phase_time(phase: &PhaseOutcome) -> String {
    format!(
        "budget {}, forecast {}, used {}, wall {}",
        budget(phase.budget_s),
        seconds(phase.forecast_s),
        seconds(phase.used_s),
        seconds(phase.wall_s)
    )
}

/// What `used` and `wall` mean, said once per report.
pub(super) const TIME_LEGEND: &str = "Used is the time the engine spent driving the work, summed over `run` and every `resume`, without waits for an approval: what budgets count. Wall is clock time, pauses included.";

fn budget(seconds_or_none: Option<u64>) -> String {
    seconds_or_none.map_or_else(|| "none".to_owned(), seconds)
}
