//! The schema: the file's application id, its version and the ordered
//! migrations that build it.
//!
//! `PRAGMA user_version` holds the number of migrations applied. A migration is
//! never edited once released: a schema change appends one, and
//! [`SCHEMA_VERSION`] follows. Each migration runs in its own transaction
//! together with the `user_version` bump, so a crash mid-migration leaves the
//! previous version intact. Migrations run with `foreign_keys=ON`; one that
//! rebuilds a table must say so and switch it off around the rebuild.

/// `PRAGMA application_id` of plangate state files: "PLGT" in ASCII.
pub const APPLICATION_ID: i32 = 0x504C_4754;

/// One schema change.
pub(crate) struct Migration {
    /// The statements.
    pub(crate) sql: &'static str,
    /// Whether it rebuilds a table that others reference, so that it runs
    /// with `foreign_keys=OFF` (a pragma that has no effect inside a
    /// transaction), followed by a `foreign_key_check` before its commit.
    pub(crate) rebuilds_tables: bool,
}

/// A migration that only adds.
const fn adds(sql: &'static str) -> Migration {
    Migration {
        sql,
        rebuilds_tables: false,
    }
}

/// The ordered migrations; migration `n` (0-based) takes the schema from
/// version `n` to version `n + 1`.
pub(crate) const MIGRATIONS: &[Migration] = &[
    // Version 1: the initial schema.
    adds(
        r"
CREATE TABLE runs (
    id TEXT NOT NULL PRIMARY KEY CHECK (length(id) = 26),
    plan_name TEXT NOT NULL,
    plan_path TEXT NOT NULL,
    plan_hash TEXT NOT NULL,
    plan_text TEXT NOT NULL,
    environment TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN
        ('running', 'paused', 'interrupted', 'succeeded', 'failed', 'rolled-back')),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    finished_at INTEGER,
    exit_reason TEXT,
    -- The per-run counter behind tasks.completed_seq.
    completed_count INTEGER NOT NULL DEFAULT 0 CHECK (completed_count >= 0)
) STRICT;

CREATE INDEX runs_by_created_at ON runs (created_at);

CREATE TABLE tasks (
    run_id TEXT NOT NULL REFERENCES runs (id),
    task_id TEXT NOT NULL,
    phase_id TEXT NOT NULL,
    position INTEGER NOT NULL CHECK (position >= 0),
    risk TEXT NOT NULL CHECK (risk IN ('low', 'medium', 'high')),
    decision TEXT NOT NULL CHECK (decision IN
        ('run', 'excluded', 'needs-approval', 'blocked', 'deferred')),
    reason TEXT,
    state TEXT NOT NULL CHECK (state IN
        ('pending', 'running', 'succeeded', 'failed', 'timed-out', 'interrupted', 'excluded',
         'blocked', 'deferred', 'needs-approval', 'rolled-back', 'rollback-failed')),
    state_reason TEXT,
    attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    started_at INTEGER,
    finished_at INTEGER,
    verified INTEGER CHECK (verified IN (0, 1)),
    completed_seq INTEGER CHECK (completed_seq > 0),
    PRIMARY KEY (run_id, task_id)
) STRICT;

CREATE INDEX tasks_by_position ON tasks (run_id, position, task_id);

CREATE TABLE attempts (
    id INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL,
    task_id TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('run', 'verify', 'rollback')),
    number INTEGER NOT NULL CHECK (number >= 1),
    command TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    finished_at INTEGER,
    outcome TEXT CHECK (outcome IN
        ('succeeded', 'failed', 'timed-out', 'cancelled', 'interrupted')),
    exit_code INTEGER,
    signal INTEGER,
    duration_ms INTEGER CHECK (duration_ms >= 0),
    stdout_tail TEXT,
    stderr_tail TEXT,
    evidence TEXT CHECK (evidence IS NULL OR json_valid(evidence)),
    FOREIGN KEY (run_id, task_id) REFERENCES tasks (run_id, task_id),
    UNIQUE (run_id, task_id, role, number),
    CHECK ((finished_at IS NULL) = (outcome IS NULL))
) STRICT;

CREATE INDEX attempts_open ON attempts (run_id) WHERE finished_at IS NULL;

CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL REFERENCES runs (id),
    at INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind <> ''),
    task_id TEXT,
    message TEXT NOT NULL,
    data TEXT CHECK (data IS NULL OR json_valid(data))
) STRICT;

CREATE INDEX events_by_run ON events (run_id, seq);

CREATE TABLE approvals (
    id INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES runs (id),
    target_kind TEXT NOT NULL CHECK (target_kind IN ('task', 'phase')),
    target_id TEXT NOT NULL,
    approved_by TEXT NOT NULL,
    reason TEXT,
    at INTEGER NOT NULL
) STRICT;

CREATE INDEX approvals_by_run ON approvals (run_id, id);

CREATE TABLE locks (
    run_id TEXT NOT NULL PRIMARY KEY REFERENCES runs (id),
    pid INTEGER NOT NULL CHECK (pid >= 0),
    host TEXT NOT NULL,
    acquired_at INTEGER NOT NULL,
    heartbeat_at INTEGER NOT NULL
) STRICT;
",
    ),
    // Version 2: what `observe` found of an attempt a crash cut off, so that
    // a crash during reconciliation cannot lose the finding.
    adds(
        r"
ALTER TABLE attempts ADD COLUMN observed TEXT CHECK (observed IS NULL OR observed IN
    ('applied', 'not-applied', 'partial', 'unknown'));
",
    ),
    // Version 3: the plan text moves out of the `runs` row. Every write
    // touches that row (`updated_at`), and SQLite rewrites a row whole,
    // overflow pages included: with a large plan each transaction re-read
    // and re-wrote the whole plan.
    adds(
        r"
CREATE TABLE run_plans (
    run_id TEXT NOT NULL PRIMARY KEY REFERENCES runs (id),
    plan_text TEXT NOT NULL
) STRICT;
INSERT INTO run_plans (run_id, plan_text) SELECT id, plan_text FROM runs;
ALTER TABLE runs DROP COLUMN plan_text;
",
    ),
    // Version 4: two run statuses, `incomplete` (a budget or `max_tasks`
    // deferred work; resumable) and `superseded` (replaced by a new run of
    // the same plan; final), which need the `runs` table rebuilt for its
    // CHECK; the time the engine spent driving each run and phase
    // (`used_ms`, summed over `run` and every `resume`, for budgets); and
    // the process group of an attempt with its leader's start time (field 22
    // of `/proc/PID/stat`, clock ticks since boot), so that a `resume` can
    // tell the group of a killed engine's action from a reused pid.
    Migration {
        sql: r"
CREATE TABLE runs_v4 (
    id TEXT NOT NULL PRIMARY KEY CHECK (length(id) = 26),
    plan_name TEXT NOT NULL,
    plan_path TEXT NOT NULL,
    plan_hash TEXT NOT NULL,
    environment TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN
        ('running', 'paused', 'interrupted', 'incomplete', 'succeeded', 'failed', 'rolled-back',
         'superseded')),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    finished_at INTEGER,
    exit_reason TEXT,
    completed_count INTEGER NOT NULL DEFAULT 0 CHECK (completed_count >= 0),
    used_ms INTEGER NOT NULL DEFAULT 0 CHECK (used_ms >= 0)
) STRICT;
INSERT INTO runs_v4 (id, plan_name, plan_path, plan_hash, environment, status, created_at,
                     updated_at, finished_at, exit_reason, completed_count)
    SELECT id, plan_name, plan_path, plan_hash, environment, status, created_at, updated_at,
           finished_at, exit_reason, completed_count FROM runs;
DROP TABLE runs;
ALTER TABLE runs_v4 RENAME TO runs;
CREATE INDEX runs_by_created_at ON runs (created_at);

CREATE TABLE phase_usage (
    run_id TEXT NOT NULL REFERENCES runs (id),
    phase_id TEXT NOT NULL,
    used_ms INTEGER NOT NULL DEFAULT 0 CHECK (used_ms >= 0),
    PRIMARY KEY (run_id, phase_id)
) STRICT;

ALTER TABLE attempts ADD COLUMN process_group INTEGER
    CHECK (process_group IS NULL OR process_group > 0);
ALTER TABLE attempts ADD COLUMN process_started INTEGER
    CHECK (process_started IS NULL OR process_started >= 0);
",
        rebuilds_tables: true,
    },
    // Version 5: approvals bound to the plan they approved (`plan_hash`, the
    // run's plan hash when the approval was recorded; null for approvals
    // recorded before, which no longer count), used (`used_at`: the engine
    // started work on their strength) and revoked (`revoked_*`); and each
    // task's environment and content hash, the evidence that environment
    // promotion looks up (null for tasks recorded before, which are never
    // evidence).
    adds(
        r"
ALTER TABLE approvals ADD COLUMN plan_hash TEXT;
ALTER TABLE approvals ADD COLUMN used_at INTEGER;
ALTER TABLE approvals ADD COLUMN revoked_at INTEGER;
ALTER TABLE approvals ADD COLUMN revoked_by TEXT;
ALTER TABLE approvals ADD COLUMN revoke_reason TEXT;
ALTER TABLE tasks ADD COLUMN environment TEXT;
ALTER TABLE tasks ADD COLUMN content_hash TEXT;
CREATE INDEX tasks_by_content_hash ON tasks (content_hash, environment)
    WHERE content_hash IS NOT NULL;
",
    ),
];

/// The tables of schema version [`SCHEMA_VERSION`] with their columns in
/// order, as `pragma_table_info` lists them: what the cheap check on open
/// expects of a current file. A migration that changes a table updates this
/// list (a test builds the schema and compares).
pub(crate) const TABLES: &[(&str, &[&str])] = &[
    (
        "approvals",
        &[
            "id",
            "run_id",
            "target_kind",
            "target_id",
            "approved_by",
            "reason",
            "at",
            "plan_hash",
            "used_at",
            "revoked_at",
            "revoked_by",
            "revoke_reason",
        ],
    ),
    (
        "attempts",
        &[
            "id",
            "run_id",
            "task_id",
            "role",
            "number",
            "command",
            "started_at",
            "finished_at",
            "outcome",
            "exit_code",
            "signal",
            "duration_ms",
            "stdout_tail",
            "stderr_tail",
            "evidence",
            "observed",
            "process_group",
            "process_started",
        ],
    ),
    (
        "events",
        &["seq", "run_id", "at", "kind", "task_id", "message", "data"],
    ),
    (
        "locks",
        &["run_id", "pid", "host", "acquired_at", "heartbeat_at"],
    ),
    ("phase_usage", &["run_id", "phase_id", "used_ms"]),
    ("run_plans", &["run_id", "plan_text"]),
    (
        "runs",
        &[
            "id",
            "plan_name",
            "plan_path",
            "plan_hash",
            "environment",
            "status",
            "created_at",
            "updated_at",
            "finished_at",
            "exit_reason",
            "completed_count",
            "used_ms",
        ],
    ),
    (
        "tasks",
        &[
            "run_id",
            "task_id",
            "phase_id",
            "position",
            "risk",
            "decision",
            "reason",
            "state",
            "state_reason",
            "attempts",
            "started_at",
            "finished_at",
            "verified",
            "completed_seq",
            "environment",
            "content_hash",
        ],
    ),
];

/// The schema version this build writes and the newest it reads.
#[expect(
    clippy::cast_possible_truncation,
    reason = "a handful of migrations, far below u32::MAX"
)]
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    use super::*;

    #[test]
    fn tables_lists_the_schema_the_migrations_build() {
        let connection = Connection::open_in_memory().expect("an in-memory database opens");
        for migration in MIGRATIONS {
            connection
                .execute_batch(migration.sql)
                .expect("the migrations apply");
        }
        let mut statement = connection
            .prepare(
                "SELECT m.name, c.name FROM sqlite_schema AS m, pragma_table_info(m.name) AS c \
                 WHERE m.type = 'table' AND m.name <> 'sqlite_sequence' ORDER BY m.name, c.cid",
            )
            .expect("the schema is readable");
        let mut built: Vec<(String, Vec<String>)> = Vec::new();
        let rows: Vec<(String, String)> = statement
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .and_then(Iterator::collect)
            .expect("the schema is readable");
        for (table, column) in rows {
            match built.last_mut() {
                Some((name, columns)) if *name == table => columns.push(column),
                _ => built.push((table, vec![column])),
            }
        }
        let expected: Vec<(String, Vec<String>)> = TABLES
            .iter()
            .map(|(table, columns)| {
                (
                    (*table).to_owned(),
                    columns.iter().map(|column| (*column).to_owned()).collect(),
                )
            })
            .collect();
        assert_eq!(built, expected);
    }
}
