//! The plan model of plangate: YAML parsing, validation with file:line:column
//! diagnostics, the task DAG, risk policy and dry-run decisions.
//!
//! This crate is pure: it reads plan files and nothing else. It has no async
//! runtime, no database and spawns no process, so every other crate can depend
//! on it and its results are deterministic.
//!
//! ```no_run
//! let plan = plangate_plans::load_plan("examples/quickstart.yaml".as_ref())?.plan;
//! let dry_run = plangate_plans::decide(&plan, &plangate_plans::Approvals::default());
//! println!("{} tasks would run", dry_run.count(plangate_plans::Decision::Run));
//! # Ok::<(), plangate_plans::LoadPlanError>(())
//! ```

#![warn(missing_docs)]

pub mod action;
pub mod dag;
pub mod diagnostic;
pub mod duration;
pub mod ids;
mod json_value;
mod load;
pub mod marked;
pub mod model;
pub mod op_fields;
pub mod policy;
pub mod promotion;
pub mod schema;
pub mod source;
pub mod template;
pub mod text;
mod yaml_value;

pub use action::{Action, ActionSpec, ExecutorInstance, ExecutorKind, Rollback};
pub use diagnostic::{Diagnostic, Diagnostics, Severity};
pub use duration::{ParseDurationError, format_duration, parse_duration};
pub use ids::{PhaseId, PlanName, TaskId};
pub use load::{LoadPlanError, LoadedPlan, load_plan, load_plan_text, parse_plan};
pub use model::{
    AboveMax, EXECUTOR_GROUP_PREFIX, OnFailure, Phase, Plan, Policy, Promotion, Risk, Task,
};
pub use op_fields::{FieldProblem, FieldState, OpFields};
pub use policy::{
    Approvals, Decision, DryRun, PhaseForecast, SerialGroup, TaskDecision, approver_identity,
    decide, decide_promoted, decide_with_blocks,
};
pub use promotion::{CONTENT_HASH_VERSION, task_content, task_content_hash};
pub use schema::plan_schema;
pub use source::{SourceFile, Span};
