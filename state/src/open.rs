//! Opening a state file: inspect read-only, then configure and migrate.
//!
//! Nothing is written to a file before it has passed every check. The file is
//! first read without writing: its header (`application_id`, `user_version`),
//! its schema, and either the cheap checks of [`check_tables`] or, for a file
//! of an older version, a small file, or with [`OpenOptions::full_check`], a
//! `PRAGMA quick_check`, which reads every page. Only a file that is new (absent and
//! `create` allowed, empty, or an SQLite database with nothing in it) or a
//! sound plangate file of this or an older version is then reopened
//! read-write, migrated and configured (WAL, `synchronous`, foreign keys).
//! The one exception is SQLite's own crash recovery: a hot rollback journal
//! is rolled back first (see [`roll_back_hot_journal`]).
//!
//! A new file gets its whole schema in one transaction (see
//! [`create_schema`]); an older file is migrated one transaction per
//! migration. A new file is migrated before it is switched to WAL, so that its first
//! pages are written to the main file itself: SQLite discards the `-wal` of a
//! database file that has no pages, and a crash right after creation must not
//! lose the schema.

use std::{
    fs,
    io::{self, Read},
    path::{Path, PathBuf},
    time::Duration,
};

use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior};

use crate::{
    checkpoint,
    schema::{APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION, TABLES},
};

/// How long a connection waits for another process's write lock.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The first 16 bytes of every SQLite database file.
const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// How many statements each connection keeps prepared.
const STATEMENT_CACHE_CAPACITY: usize = 64;

/// Up to this size (the database file and its `-wal` together) opening runs
/// the full `PRAGMA quick_check` even without [`OpenOptions::full_check`]: it
/// reads at most this much, well under a millisecond, so the work at open
/// stays bounded whatever the file's size, and damage anywhere in a small
/// file is still refused before anything is written to it.
const QUICK_CHECK_MAX_BYTES: u64 = 1 << 20;

/// Options of [`crate::Store::open_with`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpenOptions {
    /// `PRAGMA synchronous=FULL` instead of `NORMAL`: every commit is fsynced,
    /// so commits also survive power loss, at the cost of one fsync per write.
    pub synchronous_full: bool,
    /// Create the file and its parent folder when missing. Read-only commands
    /// pass `false` and get [`OpenStoreError::Missing`] instead.
    pub create: bool,
    /// Run SQLite's `PRAGMA quick_check` on the file before using it, which
    /// reads every page: opening then takes time proportional to the file's
    /// size (`plangate doctor`). Without it, a file over 1 MiB gets only the
    /// cheap checks: its header, its schema (every table with its columns)
    /// and the first page of every table. Files of older schema versions,
    /// which are about to be migrated, and small files always get the full
    /// check.
    pub full_check: bool,
}

impl OpenOptions {
    /// The value of `PRAGMA synchronous` these options ask for.
    pub(crate) fn synchronous(self) -> &'static str {
        if self.synchronous_full {
            "FULL"
        } else {
            "NORMAL"
        }
    }
}

impl Default for OpenOptions {
    /// `synchronous=NORMAL`, create when missing, cheap checks.
    fn default() -> Self {
        Self {
            synchronous_full: false,
            create: true,
            full_check: false,
        }
    }
}

/// The error of [`crate::Store::open`]: the file cannot be used as a state file.
///
/// Whatever the variant, the file was not modified (beyond SQLite rolling
/// back a transaction a crash cut off, which restores its committed state).
#[derive(Debug, thiserror::Error)]
pub enum OpenStoreError {
    /// The file does not exist and the options did not allow creating it.
    /// Not retryable: no run was ever recorded there.
    #[error("state file `{}` does not exist", path.display())]
    Missing {
        /// The state file.
        path: PathBuf,
    },

    /// Creating the folder of a new state file failed (permissions, a file in
    /// the way, ...).
    #[error("cannot create the folder of state file `{}`", path.display())]
    CreateFolder {
        /// The state file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },

    /// Creating the new, empty state file failed (permissions, a read-only
    /// file system, ...). Not retryable until the cause is fixed.
    #[error("cannot create state file `{}`", path.display())]
    Create {
        /// The state file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },

    /// Reading the file's header failed (permissions, a folder, ...).
    #[error("cannot read state file `{}`", path.display())]
    Read {
        /// The state file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },

    /// The file is not an SQLite database at all (a text file, say).
    #[error("`{}` is not a plangate state file: it is not an SQLite database", path.display())]
    NotADatabase {
        /// The file.
        path: PathBuf,
    },

    /// The file is an SQLite database of another application: its
    /// `application_id` is not plangate's, or it is 0 and the database already
    /// has tables.
    #[error(
        "`{}` is not a plangate state file: it is an SQLite database of another application \
         (application id {application_id:#010x})",
        path.display()
    )]
    Foreign {
        /// The file.
        path: PathBuf,
        /// The `PRAGMA application_id` found.
        application_id: i32,
    },

    /// The file was written by a newer plangate, with a schema this build does
    /// not know. Upgrade plangate to use it.
    #[error(
        "state file `{}` has schema version {found}, newer than version {supported} that this \
         build of plangate supports",
        path.display()
    )]
    NewerSchema {
        /// The state file.
        path: PathBuf,
        /// The `PRAGMA user_version` found.
        found: u32,
        /// [`crate::SCHEMA_VERSION`].
        supported: u32,
    },

    /// SQLite found the file damaged: `PRAGMA quick_check` reported problems,
    /// reading it failed with a corruption error, or a table of the schema or
    /// a column of one is missing. Restore it from a backup.
    #[error("state file `{}` is corrupt{}", path.display(), first_problem(problems))]
    Corrupt {
        /// The state file.
        path: PathBuf,
        /// The problems `PRAGMA quick_check` (at most ten) or the schema check
        /// listed, if one ran.
        problems: Vec<String>,
        /// The SQLite error, when reading failed rather than the check.
        #[source]
        source: Option<rusqlite::Error>,
    },

    /// Any other SQLite failure, e.g. the file is locked by another process
    /// for longer than the busy timeout (retryable), or cannot be opened.
    #[error("cannot {operation} state file `{}`", path.display())]
    Sqlite {
        /// The state file.
        path: PathBuf,
        /// What was being done: "open", "inspect", "configure".
        operation: &'static str,
        /// The SQLite error.
        #[source]
        source: rusqlite::Error,
    },

    /// Applying a migration failed; the file keeps the previous version.
    #[error("cannot migrate state file `{}` to schema version {version}", path.display())]
    Migrate {
        /// The state file.
        path: PathBuf,
        /// The version the failed migration leads to.
        version: u32,
        /// The SQLite error.
        #[source]
        source: rusqlite::Error,
    },
}

/// The message suffix naming the first problem of a failed quick check.
fn first_problem(problems: &[String]) -> String {
    problems
        .first()
        .map(|problem| format!(": {problem}"))
        .unwrap_or_default()
}

/// Checks `path`, then opens it read-write, configured and migrated.
pub(crate) fn open_connection(
    path: &Path,
    options: OpenOptions,
) -> Result<Connection, OpenStoreError> {
    inspect(path, options)?;
    let sqlite = |operation| {
        move |source| OpenStoreError::Sqlite {
            path: path.to_owned(),
            operation,
            source,
        }
    };
    let mut connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sqlite("open"))?;
    connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE_CAPACITY);
    connection
        .busy_timeout(BUSY_TIMEOUT)
        .map_err(sqlite("configure"))?;
    connection
        .pragma_update(None, "foreign_keys", true)
        .map_err(sqlite("configure"))?;
    connection
        .pragma_update(None, "synchronous", options.synchronous())
        .map_err(sqlite("configure"))?;
    migrate(&mut connection, path)?;
    // Persistent once set; a no-op on files already in WAL mode.
    connection
        .query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
        .map_err(sqlite("configure"))?;
    // Checkpoints follow `checkpoint.rs`, not SQLite's automatic schedule.
    checkpoint::install(&connection);
    let page_size: i64 = connection
        .query_row("PRAGMA page_size", [], |row| row.get(0))
        .map_err(sqlite("configure"))?;
    connection
        .pragma_update(
            None,
            "journal_size_limit",
            checkpoint::wal_bytes(checkpoint::CEILING_PAGES, page_size),
        )
        .map_err(sqlite("configure"))?;
    Ok(connection)
}

/// Creates `path` empty, readable and writable by its owner only (`0600`,
/// whatever the umask): the state file holds snapshots of what actions
/// changed, Secrets included. SQLite gives its `-wal`, `-shm` and `-journal`
/// files the mode of the database file. A file another process created
/// meanwhile is left as it is.
fn create_private(path: &Path) -> Result<(), OpenStoreError> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let created = match options.open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => return Ok(()),
        Err(source) => {
            return Err(OpenStoreError::Create {
                path: path.to_owned(),
                source,
            });
        }
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;

        created
            .set_permissions(fs::Permissions::from_mode(0o600))
            .map_err(|source| OpenStoreError::Create {
                path: path.to_owned(),
                source,
            })?;
    }
    drop(created);
    Ok(())
}

/// Decides, without writing to an existing file, whether `path` may be opened
/// read-write (a missing one is created empty, with its folder, when allowed):
/// it is absent (and may be created), empty, an SQLite database with nothing
/// in it, or a sound plangate file of this schema version or an older one.
fn inspect(path: &Path, options: OpenOptions) -> Result<(), OpenStoreError> {
    roll_back_hot_journal(path)?;
    let mut header = Vec::with_capacity(SQLITE_MAGIC.len());
    match fs::File::open(path) {
        Ok(file) => file
            .take(SQLITE_MAGIC.len() as u64)
            .read_to_end(&mut header)
            .map_err(|source| OpenStoreError::Read {
                path: path.to_owned(),
                source,
            })?,
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            if !options.create {
                return Err(OpenStoreError::Missing {
                    path: path.to_owned(),
                });
            }
            if let Some(parent) = path
                .parent()
                .filter(|parent| !parent.as_os_str().is_empty())
            {
                fs::create_dir_all(parent).map_err(|source| OpenStoreError::CreateFolder {
                    path: path.to_owned(),
                    source,
                })?;
            }
            return create_private(path);
        }
        Err(source) => {
            return Err(OpenStoreError::Read {
                path: path.to_owned(),
                source,
            });
        }
    };
    if header.is_empty() {
        return Ok(());
    }
    if header != SQLITE_MAGIC {
        return Err(OpenStoreError::NotADatabase {
            path: path.to_owned(),
        });
    }
    let full_check = options.full_check || is_small(path);
    match Quiescent::observe(path) {
        Some(before) => {
            let verdict = check_database(path, Reader::Immutable, full_check);
            if before.still(path) {
                return verdict;
            }
            // Another process opened or changed the file meanwhile, so the
            // immutable read may have seen a checkpoint half-way: redo it
            // with locking.
            check_database(path, Reader::Locking, full_check)
        }
        None => check_database(path, Reader::Locking, full_check),
    }
}

/// Whether the file and its `-wal` hold at most [`QUICK_CHECK_MAX_BYTES`].
fn is_small(path: &Path) -> bool {
    let length = |path: &Path| fs::metadata(path).map_or(0, |metadata| metadata.len());
    length(path).saturating_add(length(&companion(path, "-wal"))) <= QUICK_CHECK_MAX_BYTES
}

/// Lets SQLite roll back a transaction that a crash cut off in
/// rollback-journal mode, which is how a new state file gets its first
/// migration. Until then the main file may hold half-written pages (without
/// even a header, for a new file) and no read-only connection can read it.
/// The rollback restores the last committed state: it is the recovery every
/// SQLite reader of the file performs, not a change of its content.
fn roll_back_hot_journal(path: &Path) -> Result<(), OpenStoreError> {
    let journal_is_written =
        fs::metadata(companion(path, "-journal")).is_ok_and(|metadata| metadata.len() > 0);
    if !journal_is_written || !path.is_file() {
        return Ok(());
    }
    let sqlite = |source| OpenStoreError::Sqlite {
        path: path.to_owned(),
        operation: "recover",
        source,
    };
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sqlite)?;
    connection.busy_timeout(BUSY_TIMEOUT).map_err(sqlite)?;
    // The first read takes a shared lock, and with it rolls back a hot journal.
    match connection.query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(())) {
        // Whatever else is wrong with the file, the inspection will tell.
        Err(error)
            if matches!(
                error.sqlite_error_code(),
                Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase)
            ) =>
        {
            Ok(())
        }
        result => result.map_err(sqlite),
    }
}

/// `PATH` followed by `suffix`: `state.db-wal` for `state.db`.
pub(crate) fn companion(path: &Path, suffix: &str) -> PathBuf {
    let mut companion = path.as_os_str().to_owned();
    companion.push(suffix);
    PathBuf::from(companion)
}

/// How [`check_database`] reads the file.
#[derive(Clone, Copy)]
enum Reader {
    /// `immutable=1`: no locks, no `-wal` or `-shm` created; right only while
    /// no other connection has the file open.
    Immutable,
    /// An ordinary read-only connection, which takes locks, reads (and
    /// recovers, into `-shm`) the WAL, and creates `-wal` and `-shm` if they
    /// are missing.
    Locking,
}

/// The state of a database file that no connection has open: it has none of
/// the companion files SQLite keeps while it is open or after a crash.
struct Quiescent {
    length: u64,
    modified: Option<std::time::SystemTime>,
}

impl Quiescent {
    /// The file's size and time, if it has no `-wal`, `-shm` or `-journal`.
    fn observe(path: &Path) -> Option<Self> {
        if !cfg!(unix) {
            // The immutable URI is only built for unix paths.
            return None;
        }
        let no_companions = ["-wal", "-shm", "-journal"].iter().all(|suffix| {
            matches!(
                fs::symlink_metadata(companion(path, suffix)),
                Err(error) if error.kind() == io::ErrorKind::NotFound
            )
        });
        let metadata = fs::metadata(path).ok()?;
        no_companions.then(|| Self {
            length: metadata.len(),
            modified: metadata.modified().ok(),
        })
    }

    /// Whether the file is still untouched and unopened.
    fn still(&self, path: &Path) -> bool {
        Self::observe(path)
            .is_some_and(|now| now.length == self.length && now.modified == self.modified)
    }
}

/// Opens `path` read-only as `reader` says.
fn open_read_only(path: &Path, reader: Reader) -> rusqlite::Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    #[cfg(unix)]
    if matches!(reader, Reader::Immutable) {
        return Connection::open_with_flags(
            immutable_uri(path),
            flags | OpenFlags::SQLITE_OPEN_URI,
        );
    }
    #[cfg(not(unix))]
    let _ = reader;
    Connection::open_with_flags(path, flags)
}

/// `file:PATH?immutable=1`, with the path percent-encoded.
#[cfg(unix)]
fn immutable_uri(path: &Path) -> String {
    use std::{fmt::Write, os::unix::ffi::OsStrExt};

    let mut uri = String::from("file:");
    for &byte in path.as_os_str().as_bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            uri.push(char::from(byte));
        } else {
            write!(uri, "%{byte:02X}").expect("writing to a String cannot fail");
        }
    }
    uri.push_str("?immutable=1");
    uri
}

/// Reads the header and the schema of an SQLite file, then checks it: with
/// `PRAGMA quick_check` when `full_check` is set or the file has an older
/// schema version (about to be migrated), and with [`check_tables`] when it
/// has the current one.
fn check_database(path: &Path, reader: Reader, full_check: bool) -> Result<(), OpenStoreError> {
    let classify = |operation| {
        move |source: rusqlite::Error| match source.sqlite_error_code() {
            // The magic matched, so a header SQLite rejects is damage.
            Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => OpenStoreError::Corrupt {
                path: path.to_owned(),
                problems: Vec::new(),
                source: Some(source),
            },
            _ => OpenStoreError::Sqlite {
                path: path.to_owned(),
                operation,
                source,
            },
        }
    };
    let connection = open_read_only(path, reader).map_err(classify("open"))?;
    connection
        .busy_timeout(BUSY_TIMEOUT)
        .map_err(classify("inspect"))?;
    let (application_id, user_version, objects) = connection
        .query_row(
            "SELECT (SELECT application_id FROM pragma_application_id), \
                    (SELECT user_version FROM pragma_user_version), \
                    (SELECT count(*) FROM sqlite_schema)",
            [],
            |row| {
                Ok((
                    row.get::<_, i32>(0)?,
                    row.get::<_, i64>(1)?,
                    row.get::<_, i64>(2)?,
                ))
            },
        )
        .map_err(classify("inspect"))?;
    let plangate = application_id == APPLICATION_ID && user_version >= 0;
    let blank = application_id == 0 && user_version == 0 && objects == 0;
    if !plangate && !blank {
        return Err(OpenStoreError::Foreign {
            path: path.to_owned(),
            application_id,
        });
    }
    if user_version > i64::from(SCHEMA_VERSION) {
        return Err(OpenStoreError::NewerSchema {
            path: path.to_owned(),
            found: u32::try_from(user_version).unwrap_or(u32::MAX),
            supported: SCHEMA_VERSION,
        });
    }
    let current = user_version == i64::from(SCHEMA_VERSION);
    let mut problems = vec![String::from("ok")];
    if full_check || !current {
        problems = connection
            .prepare("PRAGMA quick_check(10)")
            .and_then(|mut statement| {
                statement
                    .query_map([], |row| row.get::<_, String>(0))?
                    .collect::<Result<Vec<_>, _>>()
            })
            .map_err(classify("inspect"))?;
    }
    if current && problems == ["ok"] {
        problems = check_tables(&connection).map_err(classify("inspect"))?;
    }
    if problems != ["ok"] {
        return Err(OpenStoreError::Corrupt {
            path: path.to_owned(),
            problems,
            source: None,
        });
    }
    Ok(())
}

/// The cheap check of a file of the current schema version, whose cost does
/// not grow with the file: every table of [`TABLES`] exists with exactly its
/// columns, and the first row of each can be read, which reads the table's
/// root page and the pages down to its first leaf. Returns `["ok"]` or the
/// problems found, as `PRAGMA quick_check` does.
///
/// A damaged page elsewhere is found when it is read, or by the full check
/// ([`OpenOptions::full_check`]). A truncated file is refused by SQLite itself
/// on the first read, since the page count in the header exceeds the file.
fn check_tables(connection: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut found: Vec<(String, Vec<String>)> = Vec::with_capacity(TABLES.len());
    {
        let mut statement = connection.prepare(
            "SELECT m.name, c.name FROM sqlite_schema AS m, pragma_table_info(m.name) AS c \
             WHERE m.type = 'table' ORDER BY m.name, c.cid",
        )?;
        let mut rows = statement.query([])?;
        while let Some(row) = rows.next()? {
            let table = row.get_ref(0)?.as_str()?;
            let column = row.get::<_, String>(1)?;
            match found.last_mut() {
                Some((name, columns)) if name == table => columns.push(column),
                _ => found.push((table.to_owned(), vec![column])),
            }
        }
    }
    let mut problems = Vec::new();
    for (table, expected) in TABLES {
        match found.iter().find(|(name, _)| name == table) {
            None => problems.push(format!("table `{table}` is missing")),
            Some((_, columns)) if columns != expected => problems.push(format!(
                "table `{table}` has columns `{}`, not `{}`",
                columns.join("`, `"),
                expected.join("`, `")
            )),
            Some(_) => {
                connection
                    .query_row(
                        &format!("SELECT 1 FROM \"{table}\" NOT INDEXED LIMIT 1"),
                        [],
                        |_| Ok(()),
                    )
                    .optional()?;
            }
        }
    }
    if problems.is_empty() {
        problems.push(String::from("ok"));
    }
    Ok(problems)
}

/// Applies the missing migrations, one transaction each.
fn migrate(connection: &mut Connection, path: &Path) -> Result<(), OpenStoreError> {
    let read_version = |connection: &Connection| {
        connection.query_row("PRAGMA user_version", [], |row| row.get::<_, i64>(0))
    };
    let current = read_version(connection).map_err(|source| OpenStoreError::Sqlite {
        path: path.to_owned(),
        operation: "inspect",
        source,
    })?;
    if current == i64::from(SCHEMA_VERSION) {
        return Ok(());
    }
    if current == 0 {
        return create_schema(connection, path, read_version);
    }
    for (index, migration) in MIGRATIONS.iter().enumerate() {
        let version = u32::try_from(index + 1).expect("migrations are few, so they fit in u32");
        let migrate_error = |source| OpenStoreError::Migrate {
            path: path.to_owned(),
            version,
            source,
        };
        if migration.rebuilds_tables {
            connection
                .pragma_update(None, "foreign_keys", false)
                .map_err(migrate_error)?;
        }
        let applied = apply_migration(connection, migration, version, read_version);
        if migration.rebuilds_tables {
            connection
                .pragma_update(None, "foreign_keys", true)
                .map_err(migrate_error)?;
        }
        applied.map_err(migrate_error)?;
    }
    Ok(())
}

/// Builds the whole schema of a blank file in one transaction: every
/// migration in order, then `user_version` and `application_id`, with one
/// commit (a few fsyncs) instead of one per migration. The statements are the
/// migrations themselves, so a new file gets exactly the schema an old file
/// migrated step by step gets.
///
/// The transaction runs with `foreign_keys=OFF`, as a migration that rebuilds
/// tables needs; the tables are empty, so nothing can violate a key.
fn create_schema(
    connection: &mut Connection,
    path: &Path,
    read_version: impl Fn(&Connection) -> rusqlite::Result<i64>,
) -> Result<(), OpenStoreError> {
    let migrate_error = |source| OpenStoreError::Migrate {
        path: path.to_owned(),
        version: SCHEMA_VERSION,
        source,
    };
    connection
        .pragma_update(None, "foreign_keys", false)
        .map_err(migrate_error)?;
    let created = (|| {
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Another process may have created the schema since the check.
        if read_version(&transaction)? != 0 {
            return Ok(());
        }
        for migration in MIGRATIONS {
            transaction.execute_batch(migration.sql)?;
        }
        transaction.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        transaction.pragma_update(None, "application_id", APPLICATION_ID)?;
        transaction.commit()?;
        crate::failpoint::committed();
        Ok(())
    })();
    connection
        .pragma_update(None, "foreign_keys", true)
        .map_err(migrate_error)?;
    created.map_err(migrate_error)
}

/// Applies one migration in its own transaction, unless another process
/// applied it meanwhile.
fn apply_migration(
    connection: &mut Connection,
    migration: &crate::schema::Migration,
    version: u32,
    read_version: impl Fn(&Connection) -> rusqlite::Result<i64>,
) -> rusqlite::Result<()> {
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Another process may have migrated since the check above.
    if read_version(&transaction)? >= i64::from(version) {
        return Ok(());
    }
    transaction.execute_batch(migration.sql)?;
    if migration.rebuilds_tables {
        let violation: Option<String> = transaction
            .query_row("PRAGMA foreign_key_check", [], |row| row.get(0))
            .optional()?;
        if let Some(table) = violation {
            return Err(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY),
                Some(format!(
                    "a rebuilt table left rows of `{table}` without their parent"
                )),
            ));
        }
    }
    transaction.pragma_update(None, "user_version", version)?;
    transaction.pragma_update(None, "application_id", APPLICATION_ID)?;
    transaction.commit()?;
    crate::failpoint::committed();
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::fs;

    use rusqlite::Connection;

    use super::*;
    use crate::{
        Store,
        test_support::{self, create_run, folder_entries, read_bytes, temp_store},
    };

    /// Opens `path`, expecting an error, and checks the file kept its bytes
    /// and no file appeared next to it.
    #[track_caller]
    fn open_fails_untouched(path: &Path) -> OpenStoreError {
        let folder = path.parent().expect("test files are in a folder");
        let bytes = read_bytes(path);
        let entries = folder_entries(folder);
        let error = Store::open(path).expect_err("the file must be rejected");
        assert_eq!(read_bytes(path), bytes, "the file was modified");
        assert_eq!(folder_entries(folder), entries, "files appeared");
        error
    }

    fn pragma<T: rusqlite::types::FromSql>(store: &Store, name: &str) -> T {
        store
            .connection
            .query_row(&format!("PRAGMA {name}"), [], |row| row.get(0))
            .expect("pragmas can be read")
    }

    /// The state file holds snapshots of Secrets: it and the files SQLite
    /// keeps next to it are the owner's alone, whatever the umask.
    #[cfg(unix)]
    #[test]
    fn a_new_state_file_and_its_wal_and_shm_are_private() {
        use std::os::unix::fs::PermissionsExt as _;

        let (dir, mut store) = temp_store();
        create_run(&mut store, 1);
        for name in ["state.db", "state.db-wal", "state.db-shm"] {
            let mode = fs::metadata(dir.path().join(name))
                .expect("the file exists while the store is open")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{name}: {mode:o}");
        }
    }

    #[test]
    fn new_file_and_folder_are_created_and_configured() {
        let dir = tempfile::tempdir().expect("temporary folders can be created");
        let path = dir.path().join(".plangate/nested/state.db");
        let store = Store::open(&path).expect("a new store opens");
        assert!(path.is_file());
        assert_eq!(pragma::<String>(&store, "journal_mode"), "wal");
        assert_eq!(pragma::<i64>(&store, "synchronous"), 1, "NORMAL");
        assert_eq!(pragma::<i64>(&store, "foreign_keys"), 1);
        assert_eq!(pragma::<i64>(&store, "busy_timeout"), 5_000);
        assert_eq!(pragma::<i32>(&store, "application_id"), APPLICATION_ID);
        assert_eq!(pragma::<u32>(&store, "user_version"), SCHEMA_VERSION);
        assert!(store.integrity_check().expect("the check runs"));
        drop(store);

        let full = OpenOptions {
            synchronous_full: true,
            create: false,
            full_check: false,
        };
        let store = Store::open_with(&path, full).expect("an existing store opens");
        assert_eq!(pragma::<i64>(&store, "synchronous"), 2, "FULL");
    }

    #[test]
    fn new_file_has_its_schema_in_the_main_file() {
        let dir = tempfile::tempdir().expect("temporary folders can be created");
        let path = dir.path().join("state.db");
        let store = Store::open(&path).expect("a new store opens");
        // Still open, so nothing was checkpointed: the migration must have
        // gone to the main file, which SQLite needs to honour the WAL.
        let main = Connection::open_with_flags(
            format!("file:{}?immutable=1", path.display()),
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI,
        )
        .expect("the main file opens");
        let version: u32 = main
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .expect("the header is readable");
        assert_eq!(version, SCHEMA_VERSION);
        drop(store);
    }

    #[test]
    fn missing_file_is_an_error_without_create() {
        let dir = tempfile::tempdir().expect("temporary folders can be created");
        let path = dir.path().join("absent/state.db");
        let options = OpenOptions {
            create: false,
            ..OpenOptions::default()
        };
        let error = Store::open_with(&path, options).expect_err("nothing to open");
        assert!(matches!(error, OpenStoreError::Missing { .. }), "{error:?}");
        assert_eq!(
            error.to_string(),
            format!("state file `{}` does not exist", path.display())
        );
        assert!(!dir.path().join("absent").exists());
    }

    #[test]
    fn empty_file_is_migrated() {
        let dir = tempfile::tempdir().expect("temporary folders can be created");
        let path = dir.path().join("state.db");
        fs::write(&path, b"").expect("the file can be written");
        let mut store = Store::open(&path).expect("an empty file opens");
        assert_eq!(pragma::<u32>(&store, "user_version"), SCHEMA_VERSION);
        create_run(&mut store, 2);
        assert_eq!(store.runs().expect("runs are readable").len(), 1);
    }

    #[test]
    fn blank_sqlite_database_is_migrated() {
        let dir = tempfile::tempdir().expect("temporary folders can be created");
        let path = dir.path().join("state.db");
        Connection::open(&path)
            .and_then(|connection| connection.execute_batch("VACUUM"))
            .expect("a blank database can be made");
        assert!(!read_bytes(&path).is_empty());
        let store = Store::open(&path).expect("a blank database opens");
        assert_eq!(pragma::<i32>(&store, "application_id"), APPLICATION_ID);
    }

    #[test]
    fn a_version_1_file_is_migrated_and_keeps_its_data() {
        let dir = tempfile::tempdir().expect("temporary folders can be created");
        let path = dir.path().join("state.db");
        let connection = Connection::open(&path).expect("a database can be made");
        connection
            .execute_batch(MIGRATIONS[0].sql)
            .and_then(|()| connection.pragma_update(None, "user_version", 1))
            .and_then(|()| connection.pragma_update(None, "application_id", APPLICATION_ID))
            .and_then(|()| {
                connection.execute_batch(
                    "INSERT INTO runs (id, plan_name, plan_path, plan_hash, plan_text, \
                     environment, status, created_at, updated_at) VALUES \
                     ('01JAAAAAAAAAAAAAAAAAAAAAAA', 'old', '/plans/old.yaml', 'h', \
                     'version: 1', 'dev', 'running', 1, 2); \
                     INSERT INTO tasks (run_id, task_id, phase_id, position, risk, decision, \
                     state) VALUES ('01JAAAAAAAAAAAAAAAAAAAAAAA', 'a', 'p', 0, 'low', 'run', \
                     'running'); \
                     INSERT INTO attempts (run_id, task_id, role, number, command, started_at) \
                     VALUES ('01JAAAAAAAAAAAAAAAAAAAAAAA', 'a', 'run', 1, 'true', 3);",
                )
            })
            .expect("a version 1 file can be written");
        drop(connection);

        let store = Store::open(&path).expect("a version 1 file opens");
        assert_eq!(pragma::<u32>(&store, "user_version"), SCHEMA_VERSION);
        let run = store
            .latest_run()
            .expect("readable")
            .expect("the run is kept");
        assert_eq!(run.plan_text, "version: 1");
        assert_eq!(run.plan_name.as_str(), "old");
        let open = store.open_attempts(&run.id).expect("readable");
        assert_eq!(open.len(), 1);
        assert_eq!(open[0].observed, None);
        assert_eq!(
            store.tasks(&run.id).expect("readable")[0].state,
            crate::TaskState::Running
        );
        assert!(store.integrity_check().expect("the check runs"));
    }

    #[test]
    fn a_version_4_file_is_migrated_its_approvals_unbound_and_its_tasks_never_evidence() {
        let dir = tempfile::tempdir().expect("temporary folders can be created");
        let path = dir.path().join("state.db");
        let mut connection = Connection::open(&path).expect("a database can be made");
        let transaction = connection.transaction().expect("a transaction");
        for migration in &MIGRATIONS[..4] {
            transaction
                .execute_batch(migration.sql)
                .expect("the migrations of version 4 apply");
        }
        transaction
            .execute_batch(
                "INSERT INTO runs (id, plan_name, plan_path, plan_hash, environment, status, \
                 created_at, updated_at) VALUES ('01JAAAAAAAAAAAAAAAAAAAAAAA', 'old', \
                 '/plans/old.yaml', 'h', 'dev', 'paused', 1, 2); \
                 INSERT INTO run_plans (run_id, plan_text) VALUES \
                 ('01JAAAAAAAAAAAAAAAAAAAAAAA', 'version: 1'); \
                 INSERT INTO tasks (run_id, task_id, phase_id, position, risk, decision, state, \
                 verified, finished_at) VALUES ('01JAAAAAAAAAAAAAAAAAAAAAAA', 'a', 'p', 0, \
                 'low', 'run', 'succeeded', 1, 3); \
                 INSERT INTO approvals (run_id, target_kind, target_id, approved_by, reason, at) \
                 VALUES ('01JAAAAAAAAAAAAAAAAAAAAAAA', 'task', 'a', 'ada', 'ok', 4);",
            )
            .expect("a version 4 file can be written");
        transaction.commit().expect("committed");
        connection
            .pragma_update(None, "user_version", 4)
            .and_then(|()| connection.pragma_update(None, "application_id", APPLICATION_ID))
            .expect("a version 4 file can be written");
        drop(connection);

        let store = Store::open(&path).expect("a version 4 file opens");
        assert_eq!(pragma::<u32>(&store, "user_version"), SCHEMA_VERSION);
        let run = store
            .latest_run()
            .expect("readable")
            .expect("the run is kept");
        let approvals = store.approvals(&run.id).expect("readable");
        assert_eq!(approvals.len(), 1);
        assert_eq!(approvals[0].approved_by, "ada");
        assert_eq!(approvals[0].plan_hash, None);
        assert_eq!(
            approvals[0].validity("h"),
            crate::ApprovalValidity::Unbound,
            "an approval recorded before approvals were bound to a plan no longer counts"
        );
        assert!(
            !store
                .policy_approvals(&run.id, "h")
                .expect("readable")
                .task("a")
        );
        let tasks = store.tasks(&run.id).expect("readable");
        assert_eq!(tasks[0].state, crate::TaskState::Succeeded);
        assert_eq!(
            store.promotion_evidence("h", "dev", 0).expect("readable"),
            Err(crate::NoEvidence::NeverRan)
        );
        assert!(store.integrity_check().expect("the check runs"));
    }

    /// `sqlite_master` without the root pages, which depend on the order
    /// the pages were allocated in.
    fn schema_of(path: &Path) -> Vec<(String, String, String, Option<String>)> {
        let connection = Connection::open(path).expect("the file opens");
        let mut statement = connection
            .prepare("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name")
            .expect("the schema is readable");
        statement
            .query_map([], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
            })
            .and_then(Iterator::collect)
            .expect("the schema is readable")
    }

    #[test]
    fn a_new_file_has_the_schema_of_a_file_migrated_from_version_1() {
        let dir = tempfile::tempdir().expect("temporary folders can be created");
        let fresh = dir.path().join("fresh.db");
        drop(Store::open(&fresh).expect("a new store opens"));

        let migrated = dir.path().join("migrated.db");
        let connection = Connection::open(&migrated).expect("a database can be made");
        connection
            .execute_batch(MIGRATIONS[0].sql)
            .and_then(|()| connection.pragma_update(None, "user_version", 1))
            .and_then(|()| connection.pragma_update(None, "application_id", APPLICATION_ID))
            .expect("a version 1 file can be written");
        drop(connection);
        drop(Store::open(&migrated).expect("a version 1 file opens"));

        let schema = schema_of(&fresh);
        assert!(schema.len() > 10, "{schema:?}");
        assert_eq!(schema, schema_of(&migrated));
        for path in [&fresh, &migrated] {
            let store = Store::open(path).expect("the store reopens");
            assert_eq!(pragma::<u32>(&store, "user_version"), SCHEMA_VERSION);
            assert_eq!(pragma::<i32>(&store, "application_id"), APPLICATION_ID);
            assert_eq!(pragma::<i64>(&store, "foreign_keys"), 1);
        }
    }

    #[test]
    fn reopening_keeps_the_data() {
        let (dir, mut store) = temp_store();
        let run = create_run(&mut store, 3);
        drop(store);
        let store = Store::open(dir.path().join("state.db")).expect("the store reopens");
        assert_eq!(store.tasks(&run).expect("tasks are readable").len(), 3);
    }

    #[test]
    fn text_file_is_not_a_database() {
        let dir = tempfile::tempdir().expect("temporary folders can be created");
        for (name, content) in [
            ("notes.txt", &b"these are my notes, not a database\n"[..]),
            ("short.bin", &b"SQLite"[..]),
        ] {
            let path = dir.path().join(name);
            fs::write(&path, content).expect("the file can be written");
            let error = open_fails_untouched(&path);
            assert!(
                matches!(error, OpenStoreError::NotADatabase { .. }),
                "{error:?}"
            );
        }
        let error = open_fails_untouched(&dir.path().join("notes.txt"));
        assert_eq!(
            error.to_string(),
            format!(
                "`{}` is not a plangate state file: it is not an SQLite database",
                dir.path().join("notes.txt").display()
            )
        );
    }

    #[test]
    fn database_with_tables_but_no_application_id_is_foreign() {
        let dir = tempfile::tempdir().expect("temporary folders can be created");
        let path = dir.path().join("shop.db");
        Connection::open(&path)
            .and_then(|connection| {
                connection.execute_batch(
                    "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT);
                     INSERT INTO customers (name) VALUES ('ada');",
                )
            })
            .expect("a foreign database can be made");
        let error = open_fails_untouched(&path);
        assert!(
            matches!(
                error,
                OpenStoreError::Foreign {
                    application_id: 0,
                    ..
                }
            ),
            "{error:?}"
        );
    }

    #[test]
    fn database_of_another_application_is_foreign() {
        let dir = tempfile::tempdir().expect("temporary folders can be created");
        let path = dir.path().join("other.db");
        Connection::open(&path)
            .and_then(|connection| connection.execute_batch("PRAGMA application_id = 4660"))
            .expect("a foreign database can be made");
        let error = open_fails_untouched(&path);
        assert!(
            matches!(
                error,
                OpenStoreError::Foreign {
                    application_id: 0x1234,
                    ..
                }
            ),
            "{error:?}"
        );
        assert!(error.to_string().ends_with("(application id 0x00001234)"));
    }

    #[test]
    fn newer_schema_is_refused() {
        let (dir, mut store) = temp_store();
        create_run(&mut store, 1);
        drop(store);
        let path = dir.path().join("state.db");
        Connection::open(&path)
            .and_then(|connection| {
                connection.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            })
            .expect("the version can be bumped");
        let error = open_fails_untouched(&path);
        match error {
            OpenStoreError::NewerSchema {
                found, supported, ..
            } => {
                assert_eq!((found, supported), (SCHEMA_VERSION + 1, SCHEMA_VERSION));
            }
            other => panic!("expected NewerSchema, got {other:?}"),
        }
    }

    #[test]
    fn corrupt_file_is_refused() {
        let (dir, mut store) = temp_store();
        for _ in 0..5 {
            create_run(&mut store, 300);
        }
        drop(store);
        let path = dir.path().join("state.db");
        let mut bytes = read_bytes(&path);
        let middle = bytes.len() / 2 / 4096 * 4096;
        bytes[middle..middle + 4096].fill(0xA5);
        fs::write(&path, &bytes).expect("the file can be written");
        let error = open_fails_untouched(&path);
        assert!(matches!(error, OpenStoreError::Corrupt { .. }), "{error:?}");
        assert!(
            error
                .to_string()
                .starts_with(&format!("state file `{}` is corrupt", path.display())),
            "{error}"
        );
    }

    #[test]
    fn corrupt_file_with_companions_is_refused_through_locking_reads() {
        let (dir, mut store) = temp_store();
        for _ in 0..5 {
            create_run(&mut store, 300);
        }
        drop(store);
        let path = dir.path().join("state.db");
        let mut bytes = read_bytes(&path);
        let middle = bytes.len() / 2 / 4096 * 4096;
        bytes[middle..middle + 4096].fill(0xA5);
        fs::write(&path, &bytes).expect("the file can be written");
        // An empty WAL, as a crash right after a checkpoint leaves it.
        fs::write(dir.path().join("state.db-wal"), b"").expect("the file can be written");
        let error = Store::open(&path).expect_err("the file must be rejected");
        assert!(matches!(error, OpenStoreError::Corrupt { .. }), "{error:?}");
        assert_eq!(read_bytes(&path), bytes, "the file was modified");
    }

    /// A closed state file over [`QUICK_CHECK_MAX_BYTES`], which gets only
    /// the cheap checks on open.
    fn large_file() -> (tempfile::TempDir, PathBuf) {
        let (dir, mut store) = temp_store();
        for _ in 0..3 {
            create_run(&mut store, 4_000);
        }
        drop(store);
        let path = dir.path().join("state.db");
        let length = read_bytes(&path).len() as u64;
        assert!(length > QUICK_CHECK_MAX_BYTES, "{length} bytes");
        (dir, path)
    }

    fn full_check() -> OpenOptions {
        OpenOptions {
            full_check: true,
            ..OpenOptions::default()
        }
    }

    /// The root page of `name`, 1-based.
    fn root_page(path: &Path, name: &str) -> usize {
        Connection::open(path)
            .and_then(|connection| {
                connection.query_row(
                    "SELECT rootpage FROM sqlite_schema WHERE name = ?1",
                    [name],
                    |row| row.get(0),
                )
            })
            .expect("the schema is readable")
    }

    /// What the cheap check leaves to `plangate doctor`: a damaged page of a
    /// large file that opening does not read, here the root of an index.
    #[test]
    fn a_damaged_index_page_of_a_large_file_is_found_by_the_full_check_only() {
        let (_dir, path) = large_file();
        let root = root_page(&path, "tasks_by_position");
        let mut bytes = read_bytes(&path);
        bytes[(root - 1) * 4096..root * 4096].fill(0xA5);
        fs::write(&path, &bytes).expect("the file can be written");
        drop(Store::open(&path).expect("the cheap check does not read the page"));

        let error = Store::open_with(&path, full_check()).expect_err("the full check reads it");
        match &error {
            OpenStoreError::Corrupt { problems, .. } => assert!(!problems.is_empty()),
            other => panic!("expected Corrupt, got {other:?}"),
        }
        assert_eq!(read_bytes(&path), bytes, "the file was modified");
        drop(Store::open_with(&path, OpenOptions::default()).expect("opens again"));
    }

    #[test]
    fn a_large_file_with_a_damaged_table_root_is_refused() {
        let (_dir, path) = large_file();
        let root = root_page(&path, "tasks");
        let mut bytes = read_bytes(&path);
        bytes[(root - 1) * 4096..root * 4096].fill(0xA5);
        fs::write(&path, &bytes).expect("the file can be written");
        let error = open_fails_untouched(&path);
        assert!(matches!(error, OpenStoreError::Corrupt { .. }), "{error:?}");
        assert!(
            error
                .to_string()
                .starts_with(&format!("state file `{}` is corrupt", path.display())),
            "{error}"
        );
    }

    #[test]
    fn a_truncated_large_file_is_refused() {
        let (_dir, path) = large_file();
        let bytes = read_bytes(&path);
        fs::write(&path, &bytes[..bytes.len() / 2 / 4096 * 4096]).expect("the file can be written");
        let error = open_fails_untouched(&path);
        assert!(matches!(error, OpenStoreError::Corrupt { .. }), "{error:?}");
    }

    #[test]
    fn a_file_without_a_table_or_with_other_columns_is_refused() {
        for (sql, problem) in [
            ("DROP TABLE locks", "table `locks` is missing"),
            (
                "ALTER TABLE approvals DROP COLUMN reason",
                "table `approvals` has columns `id`, `run_id`, `target_kind`, `target_id`, \
                 `approved_by`, `at`, `plan_hash`, `used_at`, `revoked_at`, `revoked_by`, \
                 `revoke_reason`, not `id`, `run_id`, `target_kind`, `target_id`, \
                 `approved_by`, `reason`, `at`, `plan_hash`, `used_at`, `revoked_at`, \
                 `revoked_by`, `revoke_reason`",
            ),
        ] {
            for large in [false, true] {
                let (_dir, path) = if large {
                    large_file()
                } else {
                    let (dir, store) = temp_store();
                    drop(store);
                    let path = dir.path().join("state.db");
                    (dir, path)
                };
                Connection::open(&path)
                    .and_then(|connection| connection.execute_batch(sql))
                    .expect("the schema can be changed");
                let error = open_fails_untouched(&path);
                match &error {
                    OpenStoreError::Corrupt { problems, .. } => {
                        assert_eq!(problems, &[problem.to_owned()], "{sql}");
                    }
                    other => panic!("expected Corrupt, got {other:?}"),
                }
                assert_eq!(
                    error.to_string(),
                    format!("state file `{}` is corrupt: {problem}", path.display())
                );
            }
        }
    }

    #[test]
    fn the_full_check_passes_a_sound_file() {
        let (_dir, path) = large_file();
        let store = Store::open_with(&path, full_check()).expect("a sound file passes");
        assert!(store.integrity_check().expect("the check runs"));
    }

    #[test]
    fn paths_needing_uri_escapes_are_inspected() {
        let dir = tempfile::tempdir().expect("temporary folders can be created");
        let path = dir.path().join("odd ?#%&= name/state.db");
        let mut store = Store::open(&path).expect("a new store opens");
        let run = create_run(&mut store, 1);
        drop(store);
        let store = Store::open(&path).expect("the store reopens");
        assert_eq!(store.tasks(&run).expect("tasks are readable").len(), 1);
        drop(store);
        Connection::open(&path)
            .and_then(|connection| {
                connection.pragma_update(None, "user_version", SCHEMA_VERSION + 7)
            })
            .expect("the version can be bumped");
        let error = open_fails_untouched(&path);
        assert!(
            matches!(error, OpenStoreError::NewerSchema { .. }),
            "{error:?}"
        );
    }

    /// Starts writing a new database in rollback-journal mode, as the first
    /// migration of a new state file does, and dies mid-transaction.
    #[cfg(unix)]
    #[test]
    #[ignore = "run as a child process by `crash_during_creation_is_recovered`"]
    fn creation_crash_child() {
        let Some(path) = test_support::crash_child_path() else {
            return;
        };
        let connection = Connection::open(path).expect("opens");
        connection
            .execute_batch(
                "PRAGMA cache_size = 1;
                 BEGIN IMMEDIATE;
                 CREATE TABLE half (x TEXT);
                 WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200)
                 INSERT INTO half SELECT hex(randomblob(500)) FROM n;",
            )
            .expect("written");
        test_support::kill_self();
    }

    #[cfg(unix)]
    #[test]
    fn crash_during_creation_is_recovered() {
        let dir = tempfile::tempdir().expect("temporary folders can be created");
        let path = dir.path().join("state.db");
        test_support::run_crash_child("open::tests::creation_crash_child", &path);
        assert!(
            dir.path().join("state.db-journal").exists(),
            "the crash must leave a hot journal"
        );
        let mut store = Store::open(&path).expect("the hot journal is rolled back");
        assert_eq!(pragma::<u32>(&store, "user_version"), SCHEMA_VERSION);
        let half: i64 = store
            .connection
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE name = 'half'",
                [],
                |row| row.get(0),
            )
            .expect("the schema is readable");
        assert_eq!(half, 0, "the uncommitted table is gone");
        create_run(&mut store, 1);
    }
}
