//! Promotion evidence: a task of any run in the state file that succeeded
//! and verified, with a given content hash, in a given environment.

use plangate_plans::{PlanName, TaskId};
use rusqlite::{OptionalExtension, Row};
use serde::Serialize;

use crate::{
    error::{StoreError, sqlite},
    ids::RunId,
    store::{Store, id_column},
};

/// A task row that is evidence for a promotion.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EvidenceRecord {
    /// The run it belongs to.
    pub run_id: RunId,
    /// That run's plan.
    pub plan_name: PlanName,
    /// The task's id in that run.
    pub task_id: TaskId,
    /// The environment it ran in.
    pub environment: String,
    /// Its content hash.
    pub content_hash: String,
    /// When it finished (succeeded and verified), unix milliseconds.
    pub finished_at: i64,
}

/// Why no task row is evidence, when [`Store::promotion_evidence`] finds none.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum NoEvidence {
    /// No task with this content ran in the environment at all.
    NeverRan,
    /// The newest task with this content in the environment did not succeed
    /// and verify (it failed, was rolled back, or has no `verify`).
    NotVerified {
        /// That task's run.
        run_id: RunId,
        /// That task's id.
        task_id: TaskId,
        /// Its state.
        state: String,
        /// Whether its verify passed (`None`: no verify result).
        verified: Option<bool>,
    },
    /// The newest succeeded, verified task is older than the limit.
    TooOld {
        /// The task that would have been evidence.
        newest: EvidenceRecord,
    },
}

impl Store {
    /// The newest task of any run with `content_hash`, run in
    /// `environment`, that succeeded with a passing verify and finished at
    /// or after `not_before` (unix milliseconds); else why there is none.
    /// A task rolled back since is not evidence (its state is no longer
    /// `succeeded`); nor is a task without `verify`, whose `verified` is
    /// null.
    pub fn promotion_evidence(
        &self,
        content_hash: &str,
        environment: &str,
        not_before: i64,
    ) -> Result<Result<EvidenceRecord, NoEvidence>, StoreError> {
        let operation = "look up promotion evidence";
        let newest_verified = self
            .connection
            .prepare_cached(
                "SELECT t.run_id, r.plan_name, t.task_id, t.environment, t.content_hash, \
                 t.finished_at FROM tasks AS t JOIN runs AS r ON r.id = t.run_id \
                 WHERE t.content_hash = ?1 AND t.environment = ?2 AND t.state = 'succeeded' \
                 AND t.verified = 1 AND t.finished_at IS NOT NULL \
                 ORDER BY t.finished_at DESC LIMIT 1",
            )
            .and_then(|mut statement| {
                statement
                    .query_row((content_hash, environment), evidence_from_row)
                    .optional()
            })
            .map_err(sqlite(operation))?;
        if let Some(evidence) = newest_verified {
            return Ok(if evidence.finished_at >= not_before {
                Ok(evidence)
            } else {
                Err(NoEvidence::TooOld { newest: evidence })
            });
        }
        let newest = self
            .connection
            .prepare_cached(
                "SELECT run_id, task_id, state, verified FROM tasks \
                 WHERE content_hash = ?1 AND environment = ?2 \
                 ORDER BY coalesce(finished_at, started_at, 0) DESC LIMIT 1",
            )
            .and_then(|mut statement| {
                statement
                    .query_row((content_hash, environment), |row| {
                        Ok(NoEvidence::NotVerified {
                            run_id: row.get(0)?,
                            task_id: id_column(row, 1, TaskId::new)?,
                            state: row.get(2)?,
                            verified: row.get::<_, Option<i64>>(3)?.map(|value| value == 1),
                        })
                    })
                    .optional()
            })
            .map_err(sqlite(operation))?;
        Ok(Err(newest.unwrap_or(NoEvidence::NeverRan)))
    }
}

fn evidence_from_row(row: &Row<'_>) -> rusqlite::Result<EvidenceRecord> {
    Ok(EvidenceRecord {
        run_id: row.get(0)?,
        plan_name: id_column(row, 1, PlanName::new)?,
        task_id: id_column(row, 2, TaskId::new)?,
        environment: row.get(3)?,
        content_hash: row.get(4)?,
        finished_at: row.get(5)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        TaskState,
        test_support::{create_run, temp_store},
    };

    fn hash(position: usize) -> String {
        format!("{position:064x}")
    }

    #[test]
    fn only_a_succeeded_verified_recent_task_is_evidence() {
        let (_dir, mut store) = temp_store();
        let run = create_run(&mut store, 3);
        let id = |n: usize| TaskId::new(format!("task-{n}")).expect("valid");
        assert_eq!(
            store
                .promotion_evidence(&hash(0), "dev", 0)
                .expect("readable"),
            Err(NoEvidence::NotVerified {
                run_id: run.clone(),
                task_id: id(0),
                state: String::from("pending"),
                verified: None,
            })
        );
        assert_eq!(
            store
                .promotion_evidence(&hash(9), "dev", 0)
                .expect("readable"),
            Err(NoEvidence::NeverRan)
        );
        // task-0: succeeded without a verify result; task-1: succeeded and verified.
        for n in [0, 1] {
            store
                .set_task_state(&run, &id(n), TaskState::Running, None, 2_000)
                .expect("writable");
            if n == 1 {
                store
                    .set_task_verified(&run, &id(n), true, 2_500)
                    .expect("writable");
            }
            store
                .set_task_state(&run, &id(n), TaskState::Succeeded, None, 3_000)
                .expect("writable");
        }
        assert!(matches!(
            store
                .promotion_evidence(&hash(0), "dev", 0)
                .expect("readable"),
            Err(NoEvidence::NotVerified { verified: None, .. })
        ));
        let evidence = store
            .promotion_evidence(&hash(1), "dev", 3_000)
            .expect("readable")
            .expect("evidence");
        assert_eq!((evidence.task_id, evidence.finished_at), (id(1), 3_000));
        assert_eq!(evidence.plan_name.as_str(), "demo");
        assert!(matches!(
            store
                .promotion_evidence(&hash(1), "dev", 3_001)
                .expect("readable"),
            Err(NoEvidence::TooOld { .. })
        ));
        assert_eq!(
            store
                .promotion_evidence(&hash(1), "staging", 0)
                .expect("readable"),
            Err(NoEvidence::NeverRan)
        );
        store
            .set_task_state(&run, &id(1), TaskState::RolledBack, None, 4_000)
            .expect("writable");
        assert!(matches!(
            store
                .promotion_evidence(&hash(1), "dev", 0)
                .expect("readable"),
            Err(NoEvidence::NotVerified { .. })
        ));
    }
}
