//! Approvals recorded by `plangate approve` (or `--approve`) for a task or a
//! phase of a run.

use plangate_plans::{Approvals, PhaseId, TaskId};
use rusqlite::Row;
use serde::Serialize;
use serde_json::json;

use crate::{
    error::{StoreError, sqlite},
    ids::RunId,
    store::{EventRow, Store, id_column, insert_event, touch_run},
};

/// Event kind written by [`Store::record_approval`].
pub const APPROVAL_RECORDED: &str = "approval-recorded";

/// What an approval is for.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "kind", content = "id", rename_all = "kebab-case")]
pub enum ApprovalTarget {
    /// A task id.
    Task(TaskId),
    /// A phase id.
    Phase(PhaseId),
}

impl ApprovalTarget {
    /// `task` or `phase`, as stored.
    pub fn kind(&self) -> &'static str {
        match self {
            ApprovalTarget::Task(_) => "task",
            ApprovalTarget::Phase(_) => "phase",
        }
    }

    /// The task or phase id.
    pub fn id(&self) -> &str {
        match self {
            ApprovalTarget::Task(id) => id.as_str(),
            ApprovalTarget::Phase(id) => id.as_str(),
        }
    }
}

/// One approval, as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ApprovalRecord {
    /// What was approved.
    pub target: ApprovalTarget,
    /// Who approved it (`--as`).
    pub approved_by: String,
    /// Why (`--reason`).
    pub reason: Option<String>,
    /// When, unix milliseconds.
    pub at: i64,
}

impl Store {
    /// Records an approval and an `approval-recorded` event. Recording the same
    /// approval twice keeps both rows.
    pub fn record_approval(
        &mut self,
        run: &RunId,
        target: &ApprovalTarget,
        approved_by: &str,
        reason: Option<&str>,
        at: i64,
    ) -> Result<(), StoreError> {
        let operation = "record an approval";
        self.write(operation, |transaction| {
            touch_run(transaction, run, at, operation)?;
            transaction
                .prepare_cached(
                    "INSERT INTO approvals (run_id, target_kind, target_id, approved_by, reason, \
                     at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .and_then(|mut statement| {
                    statement.execute((run, target.kind(), target.id(), approved_by, reason, at))
                })
                .map_err(sqlite(operation))?;
            let message = format!(
                "{} `{}` approved by `{approved_by}`",
                target.kind(),
                target.id()
            );
            let data = json!({ "target": target, "approved_by": approved_by, "reason": reason });
            insert_event(
                transaction,
                run,
                &EventRow {
                    at,
                    kind: APPROVAL_RECORDED,
                    task_id: match target {
                        ApprovalTarget::Task(task) => Some(task),
                        ApprovalTarget::Phase(_) => None,
                    },
                    message: &message,
                    data: Some(&data),
                },
                operation,
            )?;
            Ok(())
        })
    }

    /// The run's approvals, in the order they were recorded.
    pub fn approvals(&self, run: &RunId) -> Result<Vec<ApprovalRecord>, StoreError> {
        self.connection
            .prepare_cached(
                "SELECT target_kind, target_id, approved_by, reason, at FROM approvals \
                 WHERE run_id = ?1 ORDER BY id",
            )
            .and_then(|mut statement| statement.query_map([run], approval_from_row)?.collect())
            .map_err(sqlite("read the approvals of a run"))
    }

    /// The run's approvals in the form the dry run's [`plangate_plans::decide`]
    /// takes.
    pub fn policy_approvals(&self, run: &RunId) -> Result<Approvals, StoreError> {
        let mut approvals = Approvals::default();
        for record in self.approvals(run)? {
            match record.target {
                ApprovalTarget::Task(task) => approvals.tasks.insert(task.to_string()),
                ApprovalTarget::Phase(phase) => approvals.phases.insert(phase.to_string()),
            };
        }
        Ok(approvals)
    }
}

/// Decodes an approval row.
fn approval_from_row(row: &Row<'_>) -> rusqlite::Result<ApprovalRecord> {
    let target = match row.get_ref(0)?.as_str()? {
        "phase" => ApprovalTarget::Phase(id_column(row, 1, PhaseId::new)?),
        _ => ApprovalTarget::Task(id_column(row, 1, TaskId::new)?),
    };
    Ok(ApprovalRecord {
        target,
        approved_by: row.get(2)?,
        reason: row.get(3)?,
        at: row.get(4)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{create_run, temp_store};

    #[test]
    fn approvals_are_recorded_in_order() {
        let (_dir, mut store) = temp_store();
        let run = create_run(&mut store, 1);
        store
            .record_approval(
                &run,
                &ApprovalTarget::Task(TaskId::new("task-0").expect("valid")),
                "ada",
                Some("change ticket 42"),
                10,
            )
            .expect("recorded");
        store
            .record_approval(
                &run,
                &ApprovalTarget::Phase(PhaseId::new("phase-0").expect("valid")),
                "grace",
                None,
                20,
            )
            .expect("recorded");
        let approvals = store.approvals(&run).expect("readable");
        assert_eq!(
            approvals,
            [
                ApprovalRecord {
                    target: ApprovalTarget::Task(TaskId::new("task-0").expect("valid")),
                    approved_by: String::from("ada"),
                    reason: Some(String::from("change ticket 42")),
                    at: 10,
                },
                ApprovalRecord {
                    target: ApprovalTarget::Phase(PhaseId::new("phase-0").expect("valid")),
                    approved_by: String::from("grace"),
                    reason: None,
                    at: 20,
                },
            ]
        );
        let policy = store.policy_approvals(&run).expect("readable");
        assert!(policy.task("task-0") && policy.phase("phase-0"));
        assert!(!policy.task("phase-0"));
        let events = store.events(&run).expect("readable");
        assert_eq!(events[1].kind, APPROVAL_RECORDED);
        assert_eq!(events[1].message, "task `task-0` approved by `ada`");
        assert_eq!(
            events[2].data.as_ref().map(|data| &data["target"]),
            Some(&serde_json::json!({ "kind": "phase", "id": "phase-0" }))
        );
    }

    #[test]
    fn approvals_need_valid_ids_and_a_known_run() {
        let (_dir, mut store) = temp_store();
        let run = create_run(&mut store, 1);
        // An invalid id cannot even be named.
        assert!(TaskId::new("A B").is_err());
        assert!(matches!(
            store.record_approval(
                &RunId::generate(1),
                &ApprovalTarget::Task(TaskId::new("task-0").expect("valid")),
                "ada",
                None,
                1
            ),
            Err(StoreError::UnknownRun { .. })
        ));
        assert!(store.approvals(&run).expect("readable").is_empty());
    }
}
