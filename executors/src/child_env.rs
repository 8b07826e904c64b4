//! Names of the environment variables every action's child process gets.

/// The id of the run the action belongs to.
pub const RUN_ID: &str = "PLANGATE_RUN_ID";

/// The id of the task the action belongs to.
pub const TASK_ID: &str = "PLANGATE_TASK_ID";

/// The attempt number of the task's `run` action, from 1 (retries and resumes
/// increase it).
pub const ATTEMPT: &str = "PLANGATE_ATTEMPT";
