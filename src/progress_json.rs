//! Progress events as JSON lines (`--log-format json`): one object per
//! event, in the shape of the log events' lines (`level`, `target`,
//! `message`, `fields`), so one reader takes both. `fields.event` names the
//! event; the other fields are documented in `docs/json/progress.md`.

use std::time::Duration;

use plangate_engine::run::Progress;
use serde_json::{Map, Value, json};

/// The `target` of every progress line.
pub(crate) const TARGET: &str = "plangate::progress";

/// Whole milliseconds, as JSON.
fn millis(duration: Duration) -> Value {
    Value::from(u64::try_from(duration.as_millis()).unwrap_or(u64::MAX))
}

fn optional_millis(duration: Option<Duration>) -> Value {
    duration.map_or(Value::Null, millis)
}

/// The JSON line of `event` (with its newline), whose message is `message`
/// (the plain line) or a sentence of its own for events without one; `None`
/// for events this version does not know.
pub(crate) fn line(event: &Progress, message: Option<&str>) -> Option<String> {
    let (name, fields, fallback) = match event {
        Progress::RunStarted {
            run,
            resumed,
            tasks,
            succeeded,
            max_tasks,
            budget,
            budget_used,
        } => (
            "run-started",
            json!({
                "run": run,
                "resumed": resumed,
                "tasks": tasks,
                "succeeded": succeeded,
                "max_tasks": max_tasks,
                "budget_ms": optional_millis(*budget),
                "budget_used_ms": millis(*budget_used),
            }),
            None,
        ),
        Progress::RunRollingBack { run } => ("run-rolling-back", json!({ "run": run }), None),
        Progress::PhaseStarted {
            phase,
            name,
            tasks,
            settled,
            waiting_for_approval,
            budget,
            budget_used,
        } => (
            "phase-started",
            json!({
                "phase": phase,
                "name": name,
                "tasks": tasks,
                "settled": settled,
                "waiting_for_approval": waiting_for_approval,
                "budget_ms": optional_millis(*budget),
                "budget_used_ms": millis(*budget_used),
            }),
            None,
        ),
        Progress::TaskStarted {
            task,
            attempt,
            timeout,
        } => (
            "task-started",
            json!({ "task": task, "attempt": attempt, "timeout_ms": millis(*timeout) }),
            None,
        ),
        Progress::VerifyStarted {
            task,
            attempt,
            timeout,
        } => (
            "verify-started",
            json!({ "task": task, "attempt": attempt, "timeout_ms": millis(*timeout) }),
            Some(format!("  verify  `{task}` (attempt {attempt})")),
        ),
        Progress::RetryWaiting { task, backoff } => (
            "retry-waiting",
            json!({ "task": task, "backoff_ms": millis(*backoff) }),
            Some(format!(
                "  wait    `{task}` {} before the next attempt",
                plangate_plans::format_duration(*backoff)
            )),
        ),
        Progress::TaskFinished {
            task,
            state,
            reason,
            duration,
        } => (
            "task-finished",
            json!({
                "task": task,
                "state": state.as_str(),
                "reason": reason,
                "duration_ms": millis(*duration),
            }),
            None,
        ),
        Progress::TaskSkipped {
            task,
            state,
            reason,
        } => (
            "task-skipped",
            json!({ "task": task, "state": state.as_str(), "reason": reason }),
            None,
        ),
        Progress::RollbackStarted { task, timeout } => (
            "rollback-started",
            json!({ "task": task, "timeout_ms": millis(*timeout) }),
            None,
        ),
        Progress::RollbackFinished {
            task,
            state,
            reason,
        } => (
            "rollback-finished",
            json!({ "task": task, "state": state.as_str(), "reason": reason }),
            None,
        ),
        Progress::NothingToUndo { task, reason } => (
            "nothing-to-undo",
            json!({ "task": task, "reason": reason }),
            None,
        ),
        Progress::LeftInPlace { task, state } => (
            "left-in-place",
            json!({ "task": task, "state": state.as_str() }),
            None,
        ),
        Progress::Warning(text) => ("warning", json!({}), Some(text.clone())),
        Progress::RunFinished { run, status } => (
            "run-finished",
            json!({ "run": run, "status": status.as_str() }),
            None,
        ),
        _ => return None,
    };
    let mut fields = match fields {
        Value::Object(fields) => fields,
        _ => Map::new(),
    };
    fields.insert("event".to_owned(), Value::from(name));
    let level = if matches!(event, Progress::Warning(_)) {
        "warn"
    } else {
        "info"
    };
    let message = fallback
        .or_else(|| message.map(str::to_owned))
        .unwrap_or_default();
    let mut line = json!({
        "level": level,
        "target": TARGET,
        "message": message.trim_start(),
        "fields": Value::Object(fields),
    })
    .to_string();
    line.push('\n');
    Some(line)
}

#[cfg(test)]
mod tests {
    use plangate_engine::state::TaskState;

    use super::*;

    #[test]
    fn a_finished_task_is_one_object() {
        let event = Progress::TaskFinished {
            task: "api".to_owned(),
            state: TaskState::Failed,
            reason: Some("`run` failed: exit status 1".to_owned()),
            duration: Duration::from_millis(1500),
        };
        let text = line(&event, Some("  FAILED  `api` in 1.5s: `run` failed")).expect("known");
        assert_eq!(text.matches('\n').count(), 1);
        let value: Value = serde_json::from_str(&text).expect("JSON");
        assert_eq!(
            value,
            json!({
                "level": "info",
                "target": "plangate::progress",
                "message": "FAILED  `api` in 1.5s: `run` failed",
                "fields": {
                    "event": "task-finished",
                    "task": "api",
                    "state": "failed",
                    "reason": "`run` failed: exit status 1",
                    "duration_ms": 1500,
                },
            })
        );
    }

    #[test]
    fn warnings_are_warn_lines() {
        let text = line(&Progress::Warning("lock taken over".to_owned()), None).expect("known");
        let value: Value = serde_json::from_str(&text).expect("JSON");
        assert_eq!(value["level"], "warn");
        assert_eq!(value["message"], "lock taken over");
        assert_eq!(value["fields"], json!({"event": "warning"}));
    }
}
