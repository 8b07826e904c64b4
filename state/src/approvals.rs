//! Approvals recorded by `plangate approve` (or `--approve`) for a task or a
//! phase of a run.
//!
//! An approval is bound to its run, its target and the plan it approved:
//! the run's plan hash when it was recorded. It counts only while that is
//! still the run's plan (a plan change accepted on `resume` leaves it behind)
//! and it is not revoked. It is *used* once the engine starts work on its
//! strength; from then on it cannot be revoked.

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
/// Event kind written by [`Store::revoke_approvals`].
pub const APPROVAL_REVOKED: &str = "approval-revoked";
/// Event kind written by [`Store::use_approvals`].
pub const APPROVAL_USED: &str = "approval-used";

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
    /// Row id, in recording order.
    pub id: i64,
    /// What was approved.
    pub target: ApprovalTarget,
    /// Who approved it (`--as`).
    pub approved_by: String,
    /// Why (`--reason`).
    pub reason: Option<String>,
    /// When, unix milliseconds.
    pub at: i64,
    /// The run's plan hash when it was recorded: the plan it approved;
    /// `None` for an approval recorded before approvals were bound to a plan
    /// (state schema 5), which no longer counts.
    pub plan_hash: Option<String>,
    /// When the engine started work on its strength, unix milliseconds.
    pub used_at: Option<i64>,
    /// Its revocation, if it was revoked.
    pub revoked: Option<Revocation>,
}

/// Who revoked an approval, when and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Revocation {
    /// Who revoked it.
    pub by: String,
    /// When, unix milliseconds.
    pub at: i64,
    /// Why.
    pub reason: Option<String>,
}

/// Whether an approval counts for a run whose plan hash is `plan_hash`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApprovalValidity {
    /// It counts.
    Valid,
    /// It was revoked.
    Revoked,
    /// It approved another plan than the run's current one (the plan changed).
    OtherPlan,
    /// It was recorded before approvals were bound to a plan.
    Unbound,
}

impl ApprovalRecord {
    /// Whether this approval counts for a run whose plan hash is now `plan_hash`.
    pub fn validity(&self, plan_hash: &str) -> ApprovalValidity {
        match (&self.revoked, &self.plan_hash) {
            (Some(_), _) => ApprovalValidity::Revoked,
            (None, None) => ApprovalValidity::Unbound,
            (None, Some(hash)) if hash != plan_hash => ApprovalValidity::OtherPlan,
            (None, Some(_)) => ApprovalValidity::Valid,
        }
    }
}

/// What [`Store::revoke_approvals`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RevokeOutcome {
    /// These approvals (unused, not revoked before) are revoked now.
    Revoked(Vec<ApprovalRecord>),
    /// Every approval of the target still in force was used already.
    AllUsed(Vec<ApprovalRecord>),
    /// The target has no approval in force (none, or all revoked).
    Nothing,
}

impl Store {
    /// Records an approval, bound to the run's plan hash as it is now, and an
    /// `approval-recorded` event. Recording the same approval twice keeps
    /// both rows.
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
                     at, plan_hash) \
                     SELECT ?1, ?2, ?3, ?4, ?5, ?6, plan_hash FROM runs WHERE id = ?1",
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
                    task_id: target_task(target),
                    message: &message,
                    data: Some(&data),
                },
                operation,
            )?;
            Ok(())
        })
    }

    /// Revokes the approvals of `target` in force and not used yet, in one
    /// transaction with an `approval-revoked` event for each. Nothing is
    /// written when none is revocable (see [`RevokeOutcome`]).
    pub fn revoke_approvals(
        &mut self,
        run: &RunId,
        target: &ApprovalTarget,
        revoked_by: &str,
        reason: Option<&str>,
        at: i64,
    ) -> Result<RevokeOutcome, StoreError> {
        let operation = "revoke an approval";
        self.write(operation, |transaction| {
            touch_run(transaction, run, at, operation)?;
            let in_force: Vec<ApprovalRecord> = transaction
                .prepare_cached(&format!(
                    "{SELECT_APPROVALS} WHERE run_id = ?1 AND target_kind = ?2 \
                     AND target_id = ?3 AND revoked_at IS NULL ORDER BY id"
                ))
                .and_then(|mut statement| {
                    statement
                        .query_map((run, target.kind(), target.id()), approval_from_row)?
                        .collect()
                })
                .map_err(sqlite(operation))?;
            let (used, unused): (Vec<ApprovalRecord>, Vec<ApprovalRecord>) = in_force
                .into_iter()
                .partition(|approval| approval.used_at.is_some());
            if unused.is_empty() {
                return Ok(if used.is_empty() {
                    RevokeOutcome::Nothing
                } else {
                    RevokeOutcome::AllUsed(used)
                });
            }
            let mut revoked = Vec::with_capacity(unused.len());
            for mut approval in unused {
                transaction
                    .prepare_cached(
                        "UPDATE approvals SET revoked_at = ?2, revoked_by = ?3, \
                         revoke_reason = ?4 WHERE id = ?1",
                    )
                    .and_then(|mut statement| {
                        statement.execute((approval.id, at, revoked_by, reason))
                    })
                    .map_err(sqlite(operation))?;
                let message = format!(
                    "approval of {} `{}` by `{}` revoked by `{revoked_by}`",
                    target.kind(),
                    target.id(),
                    approval.approved_by
                );
                let data = json!({
                    "target": target,
                    "approved_by": approval.approved_by,
                    "approved_at": approval.at,
                    "revoked_by": revoked_by,
                    "reason": reason,
                });
                insert_event(
                    transaction,
                    run,
                    &EventRow {
                        at,
                        kind: APPROVAL_REVOKED,
                        task_id: target_task(target),
                        message: &message,
                        data: Some(&data),
                    },
                    operation,
                )?;
                approval.revoked = Some(Revocation {
                    by: revoked_by.to_owned(),
                    at,
                    reason: reason.map(str::to_owned),
                });
                revoked.push(approval);
            }
            Ok(RevokeOutcome::Revoked(revoked))
        })
    }

    /// Marks the approvals of `target` that count for plan `plan_hash` and
    /// were not used yet as used at `at`, with an `approval-used` event;
    /// the engine calls it, and waits for its commit, before it starts work
    /// on their strength. Returns how many it marked.
    pub fn use_approvals(
        &mut self,
        run: &RunId,
        target: &ApprovalTarget,
        plan_hash: &str,
        at: i64,
    ) -> Result<usize, StoreError> {
        let operation = "record the use of an approval";
        self.write(operation, |transaction| {
            let marked = transaction
                .prepare_cached(
                    "UPDATE approvals SET used_at = ?5 WHERE run_id = ?1 AND target_kind = ?2 \
                     AND target_id = ?3 AND plan_hash = ?4 AND revoked_at IS NULL \
                     AND used_at IS NULL",
                )
                .and_then(|mut statement| {
                    statement.execute((run, target.kind(), target.id(), plan_hash, at))
                })
                .map_err(sqlite(operation))?;
            if marked > 0 {
                touch_run(transaction, run, at, operation)?;
                let message = format!(
                    "{} `{}` starts on the strength of its approval",
                    target.kind(),
                    target.id()
                );
                let data = json!({ "target": target, "approvals": marked });
                insert_event(
                    transaction,
                    run,
                    &EventRow {
                        at,
                        kind: APPROVAL_USED,
                        task_id: target_task(target),
                        message: &message,
                        data: Some(&data),
                    },
                    operation,
                )?;
            }
            Ok(marked)
        })
    }

    /// The run's approvals, in the order they were recorded.
    pub fn approvals(&self, run: &RunId) -> Result<Vec<ApprovalRecord>, StoreError> {
        self.connection
            .prepare_cached(&format!("{SELECT_APPROVALS} WHERE run_id = ?1 ORDER BY id"))
            .and_then(|mut statement| statement.query_map([run], approval_from_row)?.collect())
            .map_err(sqlite("read the approvals of a run"))
    }

    /// The run's approvals that count for plan `plan_hash`, in the form the
    /// dry run's [`plangate_plans::decide`] takes: distinct approvers by
    /// target.
    pub fn policy_approvals(&self, run: &RunId, plan_hash: &str) -> Result<Approvals, StoreError> {
        let mut approvals = Approvals::default();
        for record in self.approvals(run)? {
            if record.validity(plan_hash) != ApprovalValidity::Valid {
                continue;
            }
            match &record.target {
                ApprovalTarget::Task(task) => {
                    approvals.add_task_approver(task.as_str(), &record.approved_by);
                }
                ApprovalTarget::Phase(phase) => {
                    approvals.add_phase_approver(phase.as_str(), &record.approved_by);
                }
            }
        }
        Ok(approvals)
    }
}

/// The columns [`approval_from_row`] reads.
const SELECT_APPROVALS: &str = "SELECT target_kind, target_id, approved_by, reason, at, id, \
     plan_hash, used_at, revoked_at, revoked_by, revoke_reason FROM approvals";

/// The task of an approval target, for its events.
fn target_task(target: &ApprovalTarget) -> Option<&TaskId> {
    match target {
        ApprovalTarget::Task(task) => Some(task),
        ApprovalTarget::Phase(_) => None,
    }
}

/// Decodes an approval row.
fn approval_from_row(row: &Row<'_>) -> rusqlite::Result<ApprovalRecord> {
    let target = match row.get_ref(0)?.as_str()? {
        "phase" => ApprovalTarget::Phase(id_column(row, 1, PhaseId::new)?),
        _ => ApprovalTarget::Task(id_column(row, 1, TaskId::new)?),
    };
    let revoked_at: Option<i64> = row.get(8)?;
    Ok(ApprovalRecord {
        id: row.get(5)?,
        target,
        approved_by: row.get(2)?,
        reason: row.get(3)?,
        at: row.get(4)?,
        plan_hash: row.get(6)?,
        used_at: row.get(7)?,
        revoked: match revoked_at {
            Some(at) => Some(Revocation {
                by: row.get(9)?,
                at,
                reason: row.get(10)?,
            }),
            None => None,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{create_run, temp_store};

    fn task(id: &str) -> ApprovalTarget {
        ApprovalTarget::Task(TaskId::new(id).expect("valid"))
    }

    #[test]
    fn approvals_are_recorded_in_order_bound_to_the_plan() {
        let (_dir, mut store) = temp_store();
        let run = create_run(&mut store, 1);
        let hash = store.run(&run).expect("readable").plan_hash;
        store
            .record_approval(&run, &task("task-0"), "ada", Some("change ticket 42"), 10)
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
        assert_eq!(approvals.len(), 2);
        assert_eq!(
            approvals[0],
            ApprovalRecord {
                id: approvals[0].id,
                target: task("task-0"),
                approved_by: String::from("ada"),
                reason: Some(String::from("change ticket 42")),
                at: 10,
                plan_hash: Some(hash.clone()),
                used_at: None,
                revoked: None,
            }
        );
        assert_eq!(approvals[1].approved_by, "grace");
        assert!(approvals[0].id < approvals[1].id);
        let policy = store.policy_approvals(&run, &hash).expect("readable");
        assert!(policy.task("task-0") && policy.phase("phase-0"));
        assert!(!policy.task("phase-0"));
        // Another plan: nothing counts.
        let other = store.policy_approvals(&run, "other").expect("readable");
        assert!(!other.task("task-0") && !other.phase("phase-0"));
        assert_eq!(approvals[0].validity("other"), ApprovalValidity::OtherPlan);
        let events = store.events(&run).expect("readable");
        assert_eq!(events[1].kind, APPROVAL_RECORDED);
        assert_eq!(events[1].message, "task `task-0` approved by `ada`");
        assert_eq!(
            events[2].data.as_ref().map(|data| &data["target"]),
            Some(&serde_json::json!({ "kind": "phase", "id": "phase-0" }))
        );
    }

    #[test]
    fn the_same_approver_twice_counts_once() {
        let (_dir, mut store) = temp_store();
        let run = create_run(&mut store, 1);
        let hash = store.run(&run).expect("readable").plan_hash;
        for (who, at) in [("ada@h", 1), ("Ada@h ", 2), ("grace@h", 3)] {
            store
                .record_approval(&run, &task("task-0"), who, None, at)
                .expect("recorded");
        }
        let policy = store.policy_approvals(&run, &hash).expect("readable");
        assert_eq!(policy.task_approvers["task-0"].len(), 2);
    }

    #[test]
    fn unused_approvals_are_revoked_and_used_ones_are_not() {
        let (_dir, mut store) = temp_store();
        let run = create_run(&mut store, 2);
        let hash = store.run(&run).expect("readable").plan_hash;
        assert_eq!(
            store
                .revoke_approvals(&run, &task("task-0"), "eve", None, 5)
                .expect("writable"),
            RevokeOutcome::Nothing
        );
        store
            .record_approval(&run, &task("task-0"), "ada", None, 10)
            .expect("recorded");
        let RevokeOutcome::Revoked(revoked) = store
            .revoke_approvals(&run, &task("task-0"), "eve", Some("wrong ticket"), 11)
            .expect("writable")
        else {
            panic!("the approval is revocable");
        };
        assert_eq!(revoked.len(), 1);
        let stored = &store.approvals(&run).expect("readable")[0];
        assert_eq!(
            stored.revoked,
            Some(Revocation {
                by: String::from("eve"),
                at: 11,
                reason: Some(String::from("wrong ticket"))
            })
        );
        assert_eq!(stored.validity(&hash), ApprovalValidity::Revoked);
        assert!(
            !store
                .policy_approvals(&run, &hash)
                .expect("readable")
                .task("task-0")
        );
        // Revoked twice: nothing left in force.
        assert_eq!(
            store
                .revoke_approvals(&run, &task("task-0"), "eve", None, 12)
                .expect("writable"),
            RevokeOutcome::Nothing
        );

        store
            .record_approval(&run, &task("task-1"), "ada", None, 20)
            .expect("recorded");
        assert_eq!(
            store
                .use_approvals(&run, &task("task-1"), "other", 21)
                .expect("writable"),
            0,
            "an approval of another plan is not used"
        );
        assert_eq!(
            store
                .use_approvals(&run, &task("task-1"), &hash, 21)
                .expect("writable"),
            1
        );
        assert_eq!(
            store
                .use_approvals(&run, &task("task-1"), &hash, 22)
                .expect("writable"),
            0,
            "used once"
        );
        let RevokeOutcome::AllUsed(used) = store
            .revoke_approvals(&run, &task("task-1"), "eve", None, 23)
            .expect("writable")
        else {
            panic!("a used approval is not revocable");
        };
        assert_eq!(used[0].used_at, Some(21));
        let kinds: Vec<String> = store
            .events(&run)
            .expect("readable")
            .into_iter()
            .map(|event| event.kind)
            .collect();
        assert!(
            kinds.iter().any(|kind| kind == APPROVAL_REVOKED),
            "{kinds:?}"
        );
        assert!(kinds.iter().any(|kind| kind == APPROVAL_USED), "{kinds:?}");
    }

    #[test]
    fn approvals_need_valid_ids_and_a_known_run() {
        let (_dir, mut store) = temp_store();
        let run = create_run(&mut store, 1);
        // An invalid id cannot even be named.
        assert!(TaskId::new("A B").is_err());
        assert!(matches!(
            store.record_approval(&RunId::generate(1), &task("task-0"), "ada", None, 1),
            Err(StoreError::UnknownRun { .. })
        ));
        assert!(store.approvals(&run).expect("readable").is_empty());
    }
}
