//! Pieces of text the renderings share, so that they say the same thing.

use plangate_plans::format_duration;
use plangate_state::AttemptOutcome;

use super::schema::{ApprovalReport, AttemptReport};
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
        "{} `{}` approved by {} at {}: {}",
        approval.kind,
        approval.target,
        approval.approved_by,
        rfc3339(approval.at),
        approval.reason.as_deref().unwrap_or("no reason given")
    )
}
