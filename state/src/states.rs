//! The enums stored as text: run statuses, task states, attempt roles and
//! outcomes, each spelled as in `plan-format.md`.
//!
//! The spellings are the contract of the status JSON and of the schema's
//! `CHECK` constraints, so they are written once, in the macro invocations
//! below, and the schema test checks that every spelling is accepted.

use std::{fmt, str::FromStr};

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use serde::Serialize;

/// The error of the `FromStr` impls of the state enums: unknown spelling.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a valid {what}")]
pub struct ParseStateError {
    /// What was being parsed, e.g. "task state".
    pub what: &'static str,
    /// The rejected text.
    pub text: String,
}

macro_rules! text_enum {
    (
        $(#[$doc:meta])*
        $name:ident, $what:literal {
            $($(#[$variant_doc:meta])* $variant:ident => $text:literal,)+
        }
    ) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
        pub enum $name {
            $(
                $(#[$variant_doc])*
                #[serde(rename = $text)]
                $variant,
            )+
        }

        impl $name {
            /// Every value, in the contract's order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The contract's spelling.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl FromStr for $name {
            type Err = ParseStateError;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                match text {
                    $($text => Ok($name::$variant),)+
                    _ => Err(ParseStateError { what: $what, text: text.to_owned() }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                Ok(ToSqlOutput::from(self.as_str()))
            }
        }

        impl FromSql for $name {
            fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
                value
                    .as_str()?
                    .parse()
                    .map_err(|error| FromSqlError::Other(Box::new(error)))
            }
        }
    };
}

text_enum! {
    /// The status of a run.
    RunStatus, "run status" {
        /// Executing, or a process that was executing it died without saying so.
        Running => "running",
        /// Waiting for an approval.
        Paused => "paused",
        /// Stopped by a signal; `resume` continues it.
        Interrupted => "interrupted",
        /// Stopped at `policy.max_tasks` or a budget with work deferred;
        /// `resume` continues it (the limits apply to the run's totals).
        Incomplete => "incomplete",
        /// Every task that was to run succeeded.
        Succeeded => "succeeded",
        /// A task failed (after any rollback the policy asked for).
        Failed => "failed",
        /// Rolled back by `plangate rollback`, or wholly by the failure policy.
        RolledBack => "rolled-back",
        /// Left unfinished, then replaced by a new run of the same plan
        /// (`plangate run --new-run`); it cannot be resumed.
        Superseded => "superseded",
    }
}

impl RunStatus {
    /// Whether the run is over: `finished_at` is set on entering such a status.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            RunStatus::Succeeded
                | RunStatus::Failed
                | RunStatus::RolledBack
                | RunStatus::Superseded
        )
    }

    /// The kind of the event [`crate::Store::set_run_status`] writes.
    pub fn event_kind(self) -> &'static str {
        match self {
            RunStatus::Running => "run-resumed",
            RunStatus::Paused => "run-paused",
            RunStatus::Interrupted => "run-interrupted",
            RunStatus::Succeeded => "run-succeeded",
            RunStatus::Failed => "run-failed",
            RunStatus::RolledBack => "run-rolled-back",
            RunStatus::Incomplete => "run-incomplete",
            RunStatus::Superseded => "run-superseded",
        }
    }
}

text_enum! {
    /// The state of a task within a run.
    TaskState, "task state" {
        /// Not started yet.
        Pending => "pending",
        /// Its `run` action (or verify) is in progress.
        Running => "running",
        /// Ran, and verified where it has a verify.
        Succeeded => "succeeded",
        /// Its action or verify failed.
        Failed => "failed",
        /// Its action ran past its timeout.
        TimedOut => "timed-out",
        /// A signal or a crash cut its action off.
        Interrupted => "interrupted",
        /// Excluded by the risk policy.
        Excluded => "excluded",
        /// A task it needs did not run.
        Blocked => "blocked",
        /// Left out by `max_tasks` or a budget.
        Deferred => "deferred",
        /// Waits for an approval.
        NeedsApproval => "needs-approval",
        /// Succeeded, then its rollback succeeded.
        RolledBack => "rolled-back",
        /// Its rollback failed.
        RollbackFailed => "rollback-failed",
    }
}

impl TaskState {
    /// Whether entering this state ends the task's `run` action, so that
    /// [`crate::Store::set_task_state`] stamps `finished_at`.
    pub fn ends_run(self) -> bool {
        matches!(
            self,
            TaskState::Succeeded | TaskState::Failed | TaskState::TimedOut | TaskState::Interrupted
        )
    }

    /// The kind of the event [`crate::Store::set_task_state`] writes.
    pub fn event_kind(self) -> &'static str {
        match self {
            TaskState::Pending => "task-pending",
            TaskState::Running => "task-started",
            TaskState::Succeeded => "task-succeeded",
            TaskState::Failed => "task-failed",
            TaskState::TimedOut => "task-timed-out",
            TaskState::Interrupted => "task-interrupted",
            TaskState::Excluded => "task-excluded",
            TaskState::Blocked => "task-blocked",
            TaskState::Deferred => "task-deferred",
            TaskState::NeedsApproval => "task-needs-approval",
            TaskState::RolledBack => "task-rolled-back",
            TaskState::RollbackFailed => "task-rollback-failed",
        }
    }

    /// How an event message says the task entered this state.
    pub(crate) fn phrase(self) -> &'static str {
        match self {
            TaskState::Pending => "is pending",
            TaskState::Running => "started",
            TaskState::Succeeded => "succeeded",
            TaskState::Failed => "failed",
            TaskState::TimedOut => "timed out",
            TaskState::Interrupted => "was interrupted",
            TaskState::Excluded => "is excluded",
            TaskState::Blocked => "is blocked",
            TaskState::Deferred => "is deferred",
            TaskState::NeedsApproval => "needs approval",
            TaskState::RolledBack => "was rolled back",
            TaskState::RollbackFailed => "failed to roll back",
        }
    }
}

text_enum! {
    /// Which of a task's actions an attempt ran.
    AttemptRole, "attempt role" {
        /// The task's `run` action; counted in `tasks.attempts`.
        Run => "run",
        /// The task's `verify` action.
        Verify => "verify",
        /// The task's `rollback` action.
        Rollback => "rollback",
    }
}

text_enum! {
    /// How an attempt ended.
    AttemptOutcome, "attempt outcome" {
        /// The action succeeded.
        Succeeded => "succeeded",
        /// The action failed (non-zero exit, API error, ...).
        Failed => "failed",
        /// The engine stopped the action at its timeout.
        TimedOut => "timed-out",
        /// The engine stopped the action on purpose (a failure elsewhere).
        Cancelled => "cancelled",
        /// A signal or a crash cut the action off.
        Interrupted => "interrupted",
    }
}

text_enum! {
    /// What `observe` found, on resume, of the effect of an action a crash
    /// cut off.
    ObservedEffect, "observed effect" {
        /// The action had taken effect: only its verify remains.
        Applied => "applied",
        /// The action had not taken effect: it can run again.
        NotApplied => "not-applied",
        /// Part of it had taken effect.
        Partial => "partial",
        /// The executor cannot tell.
        Unknown => "unknown",
    }
}

impl ObservedEffect {
    /// How an event message says what was observed.
    pub(crate) fn phrase(self) -> &'static str {
        match self {
            ObservedEffect::Applied => "the action had taken effect",
            ObservedEffect::NotApplied => "the action had not taken effect",
            ObservedEffect::Partial => "the action had partly taken effect",
            ObservedEffect::Unknown => "whether the action took effect cannot be known",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_round_trip() {
        for status in RunStatus::ALL {
            assert_eq!(status.as_str().parse::<RunStatus>(), Ok(*status));
            assert_eq!(
                serde_json::to_value(status).expect("enums serialize"),
                serde_json::Value::from(status.as_str())
            );
        }
        for state in TaskState::ALL {
            assert_eq!(state.as_str().parse::<TaskState>(), Ok(*state));
        }
        for role in AttemptRole::ALL {
            assert_eq!(role.as_str().parse::<AttemptRole>(), Ok(*role));
        }
        for outcome in AttemptOutcome::ALL {
            assert_eq!(outcome.as_str().parse::<AttemptOutcome>(), Ok(*outcome));
        }
        for observed in ObservedEffect::ALL {
            assert_eq!(observed.as_str().parse::<ObservedEffect>(), Ok(*observed));
        }
        assert_eq!(TaskState::RollbackFailed.as_str(), "rollback-failed");
        let error = "done".parse::<TaskState>().expect_err("not a state");
        assert_eq!(error.to_string(), "`done` is not a valid task state");
    }
}
