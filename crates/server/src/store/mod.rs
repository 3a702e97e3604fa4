//! Storage: the only place that speaks SQL. SQLite through sqlx, in WAL mode
//! with `synchronous=FULL` (an acknowledged webhook survives power loss),
//! migrations embedded and applied at start.
//!
//! The service layer sees two handles: [`Store`] for plain reads and writes,
//! and [`UnitOfWork`], a write transaction whose methods (spread over this
//! module's files, one per table group) change consent, messages, the outbox
//! and the consent record together. Queries use `$n` placeholders, standard
//! `ON CONFLICT` forms and timestamps passed in by the caller (never the
//! database's own clock), so a second engine can implement the same methods.

pub mod access;
pub mod archive;
pub mod auth;
pub mod compliance;
pub mod consent;
pub mod contacts;
pub mod evidence;
pub mod identities;
pub mod messages;
pub mod metrics;
pub mod organizations;
pub mod provisioning;
pub mod retention;
pub mod reviews;
pub mod revocations;
pub mod seed;
pub mod templates;

use std::path::Path;
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, Utc};
use optin_core::vocab::Mode;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool, Transaction};

/// Log filter when none is set: the database driver logs every statement
/// at `info`, which only warnings of it should reach.
pub const DEFAULT_LOG_FILTER: &str = "info,sqlx=warn";

/// Why storage could not answer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Migrations could not be applied.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The database was created in the other mode: sandbox evidence must
    /// never mix with real evidence.
    #[error(
        "the database {path} was created in {database} mode and cannot be opened in {requested} mode; \
         use another data folder{hint}"
    )]
    WrongMode {
        path: String,
        database: optin_core::vocab::Mode,
        requested: optin_core::vocab::Mode,
        hint: &'static str,
    },
    /// A stored row cannot be read back (an unknown state, a bad time):
    /// evidence must never be guessed, so this is an error, not a default.
    #[error("unreadable {what}: {problem}")]
    Corrupt {
        /// Which row.
        what: String,
        /// What is wrong with it.
        problem: String,
    },
}

impl StoreError {
    /// True when storage cannot serve now but may soon: the database is busy
    /// beyond the busy timeout or locked, the disk is full or read-only, an
    /// I/O error, no connection free. Such a request is answered 503 with
    /// `Retry-After` (a provider retries its webhook), never as done.
    pub fn is_unavailable(&self) -> bool {
        let StoreError::Database(e) = self else {
            return false;
        };
        match e {
            sqlx::Error::Database(db) => {
                // sqlx gives SQLite's extended code; its low byte is the primary code.
                let code = db.code().and_then(|c| c.parse::<i32>().ok()).unwrap_or(0);
                matches!(
                    code & 0xff,
                    SQLITE_BUSY
                        | SQLITE_LOCKED
                        | SQLITE_NOMEM
                        | SQLITE_READONLY
                        | SQLITE_IOERR
                        | SQLITE_FULL
                        | SQLITE_CANTOPEN
                )
            }
            sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => true,
            _ => false,
        }
    }

    /// True when the write lost a race with a unique constraint.
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, StoreError::Database(sqlx::Error::Database(e)) if e.is_unique_violation())
    }
}

// SQLite's primary result codes (https://sqlite.org/rescode.html).
const SQLITE_BUSY: i32 = 5;
const SQLITE_LOCKED: i32 = 6;
const SQLITE_NOMEM: i32 = 7;
const SQLITE_READONLY: i32 = 8;
const SQLITE_IOERR: i32 = 10;
const SQLITE_FULL: i32 = 13;
const SQLITE_CANTOPEN: i32 = 14;

/// How long a statement waits for another connection's write lock before it
/// fails busy (and the request is answered 503).
pub const DEFAULT_BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Result of a storage call.
pub type StoreResult<T> = Result<T, StoreError>;

/// Handle on the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    pub(crate) pool: SqlitePool,
    /// The mode the database was created in; every consent-record step carries it.
    mode: Mode,
}

/// One write transaction. Dropping it without [`UnitOfWork::commit`] rolls back.
pub struct UnitOfWork {
    pub(crate) tx: Transaction<'static, Sqlite>,
    pub(crate) mode: Mode,
}

/// Whether a connection going back to the pool can serve again. When a
/// COMMIT fails on a full disk, SQLite rolls the transaction back by itself;
/// sqlx's rollback on drop then finds none and keeps counting one open, so
/// every later `BEGIN IMMEDIATE` on that connection would fail (seen under
/// `cargo xtask chaos`: a 500 for each, long after the disk had room again).
/// Such a connection is closed; the pool opens a fresh one.
async fn still_usable(connection: &mut sqlx::SqliteConnection) -> Result<bool, sqlx::Error> {
    use sqlx::Connection;
    // The ping runs after any rollback queued on drop, so the count is settled.
    connection.ping().await?;
    Ok(!connection.is_in_transaction())
}

impl Store {
    /// Opens (creating if missing) the database file, applies migrations and
    /// checks that it was created in `mode` (a new database remembers it).
    pub async fn open(path: &Path, mode: Mode) -> StoreResult<Self> {
        Self::open_with(path, mode, DEFAULT_BUSY_TIMEOUT).await
    }

    /// [`Store::open`] with another busy timeout.
    pub async fn open_with(
        path: &Path,
        mode: Mode,
        busy_timeout: std::time::Duration,
    ) -> StoreResult<Self> {
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(busy_timeout);
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .after_release(|connection, _| Box::pin(still_usable(connection)))
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        // A database from before modes were recorded takes the mode of the
        // first start that opens it.
        sqlx::query("INSERT INTO service_facts (name, value) VALUES ('mode', $1) ON CONFLICT (name) DO NOTHING")
            .bind(mode.as_str())
            .execute(&pool)
            .await?;
        let recorded: String =
            sqlx::query_scalar("SELECT value FROM service_facts WHERE name = 'mode'")
                .fetch_one(&pool)
                .await?;
        let database: Mode = parse_name("service mode", &recorded)?;
        if database != mode {
            pool.close().await;
            return Err(StoreError::WrongMode {
                path: path.display().to_string(),
                database,
                requested: mode,
                hint: match database {
                    Mode::Sandbox => " or start with --sandbox (OPTIN_SANDBOX=1)",
                    Mode::Production => " or start without --sandbox",
                },
            });
        }
        Ok(Self { pool, mode })
    }

    /// The mode the database was created in.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The connection pool, for tools and tests that inspect storage directly.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// A write transaction that takes the write lock at once (no upgrade
    /// deadlocks in SQLite).
    pub async fn begin_write(&self) -> StoreResult<UnitOfWork> {
        Ok(UnitOfWork {
            tx: self.write_transaction().await?,
            mode: self.mode,
        })
    }

    /// A transaction that takes the write lock at once (`BEGIN IMMEDIATE`):
    /// it waits out another writer for the busy timeout, where a deferred
    /// one that read first would fail at once when upgrading to write.
    pub(crate) async fn write_transaction(&self) -> StoreResult<Transaction<'static, Sqlite>> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }
}

impl Store {
    /// Copies the write-ahead log into the database file and truncates it,
    /// so the log does not grow without bound and a restart replays little.
    /// Answers whether the log was emptied: a reader or writer still in it
    /// (SQLite's `busy`) leaves it for the next checkpoint.
    pub async fn checkpoint(&self) -> StoreResult<bool> {
        let (busy,): (i64,) = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
            .fetch_one(&self.pool)
            .await?;
        Ok(busy == 0)
    }
}

impl UnitOfWork {
    /// Sets the savepoint that [`UnitOfWork::rollback_to_savepoint`]
    /// returns to (one at a time: a batch marks each webhook in turn).
    pub async fn savepoint(&mut self) -> StoreResult<()> {
        sqlx::query("SAVEPOINT part").execute(&mut *self.tx).await?;
        Ok(())
    }

    /// Keeps what was written since the savepoint.
    pub async fn release_savepoint(&mut self) -> StoreResult<()> {
        sqlx::query("RELEASE part").execute(&mut *self.tx).await?;
        Ok(())
    }

    /// Undoes what was written since the savepoint. Fails when SQLite has
    /// rolled the whole transaction back (a full disk, an I/O error): the
    /// savepoint went with it.
    pub async fn rollback_to_savepoint(&mut self) -> StoreResult<()> {
        sqlx::query("ROLLBACK TO part")
            .execute(&mut *self.tx)
            .await?;
        sqlx::query("RELEASE part").execute(&mut *self.tx).await?;
        Ok(())
    }

    /// Makes every change of the unit durable at once.
    pub async fn commit(self) -> StoreResult<()> {
        Ok(self.tx.commit().await?)
    }
}

/// Timestamps are stored as fixed-width RFC 3339 UTC so they sort as text.
pub fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Reads a stored timestamp; a malformed one is an error.
pub(crate) fn parse_timestamp(what: &str, text: &str) -> StoreResult<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt {
            what: what.to_owned(),
            problem: format!("time {text:?}: {e}"),
        })
}

/// Reads an optional stored timestamp.
pub(crate) fn parse_optional_timestamp(
    what: &str,
    text: Option<&str>,
) -> StoreResult<Option<DateTime<Utc>>> {
    text.map(|t| parse_timestamp(what, t)).transpose()
}

/// Reads a stored name of the vocabulary (a state, a kind, a status).
pub(crate) fn parse_name<T: FromStr<Err = optin_core::vocab::UnknownName>>(
    what: &str,
    text: &str,
) -> StoreResult<T> {
    text.parse()
        .map_err(|e: optin_core::vocab::UnknownName| StoreError::Corrupt {
            what: what.to_owned(),
            problem: e.to_string(),
        })
}

/// Reads a stored provider error code.
pub(crate) fn parse_error_code(
    what: &str,
    code: Option<i64>,
) -> StoreResult<Option<optin_core::vocab::ErrorCode>> {
    code.map(|code| {
        u32::try_from(code)
            .map(optin_core::vocab::ErrorCode)
            .map_err(|_| StoreError::Corrupt {
                what: what.to_owned(),
                problem: format!("error code {code}"),
            })
    })
    .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A transaction that SQLite ended by itself (as on a full disk) while
    /// sqlx still counts it open.
    async fn end_behind_sqlx_back(store: &Store) {
        let mut tx = store.write_transaction().await.unwrap();
        sqlx::query("ROLLBACK").execute(&mut *tx).await.unwrap();
        drop(tx);
    }

    #[tokio::test]
    async fn a_connection_left_counting_a_transaction_is_not_reused() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("optin.sqlite3"), Mode::Sandbox)
            .await
            .unwrap();
        end_behind_sqlx_back(&store).await;
        // Every connection of the pool serves a write transaction again.
        for _ in 0..20 {
            let work = store.begin_write().await.expect("a write transaction");
            work.commit().await.unwrap();
        }
    }

    #[tokio::test]
    async fn the_release_check_tells_a_desynchronised_connection() {
        use sqlx::Connection;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("check.sqlite3");
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let mut connection = sqlx::SqliteConnection::connect(&url).await.unwrap();
        assert!(still_usable(&mut connection).await.unwrap());
        {
            let mut tx = connection.begin_with("BEGIN IMMEDIATE").await.unwrap();
            sqlx::query("ROLLBACK").execute(&mut *tx).await.unwrap();
        }
        assert!(!still_usable(&mut connection).await.unwrap());
    }
}
