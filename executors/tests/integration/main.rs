//! Integration tests of plangate-executors: real processes, real signals.
//!
//! Tests synchronise with their children through named pipes (a script
//! writes a pid to a FIFO, the test blocks reading it), never through
//! sleeps. Timeouts in tests are failure guards only, except where a test's
//! subject is a deadline or a grace period.

#![cfg(unix)]

/// Secrets in output, command lines and previews.
mod redaction;
/// Exit codes, output capture, environment, working directory and argv.
mod shell;
/// Timeouts, cancellation, the termination ladder, leaks and drop cleanup.
mod signals;
/// Helpers: actions, contexts, FIFOs and process checks.
mod support;
/// Every kubectl and helm action the plan loader accepts, the executors'
/// `validate` accepts too (proptest).
mod validate;
