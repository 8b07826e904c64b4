//! The plangate engine: dry runs and their reports today; scheduling, budgets,
//! retries, rollback and resume build on the same types.

#![warn(missing_docs)]

pub mod graph;
pub mod report;
