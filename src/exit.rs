//! Process exit codes, as `plan-format.md` defines them.

/// Everything asked for is done (or the plan is valid).
pub const SUCCESS: u8 = 0;
/// A task failed (after the rollback the policy asked for).
pub const FAILED: u8 = 1;
/// Usage error, invalid plan, or unusable state file.
pub const USAGE: u8 = 2;
/// The run paused waiting for an approval.
pub const PAUSED: u8 = 3;
/// The run stopped at `policy.max_tasks` or a budget with work deferred;
/// `plangate resume` continues it.
pub const INCOMPLETE: u8 = 4;
/// The run was interrupted by a signal and can be resumed.
pub const INTERRUPTED: u8 = 130;
