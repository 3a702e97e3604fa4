//! Storage: the only place that speaks SQL. Two engines behind one set of
//! methods, through sqlx's `Any` driver: SQLite (the embedded default: one
//! file, WAL mode with `synchronous=FULL`, so an acknowledged webhook
//! survives power loss) and PostgreSQL (several service instances on one
//! database). Each has its own migrations folder, applied at start (under
//! PostgreSQL's advisory lock, so instances starting together do not race).
//!
//! The service layer sees two handles: [`Store`] for plain reads and writes,
//! and [`UnitOfWork`], a write transaction whose methods (spread over this
//! module's files, one per table group) change consent, messages, the outbox
//! and the consent record together. Queries use `$n` placeholders, standard
//! `ON CONFLICT` forms and timestamps passed in by the caller (never the
//! database's own clock), so both engines run the same text; where they
//! cannot, [`Engine`] picks the engine's own.

pub mod access;
pub mod archive;
pub mod auth;
pub mod compliance;
pub mod consent;
pub mod contacts;
mod deferred;
pub mod evidence;
pub mod identities;
pub mod leases;
pub mod live;
pub mod messages;
pub mod metrics;
pub mod organizations;
pub mod provisioning;
pub mod retention;
pub mod reviews;
pub mod revocations;
pub mod seed;
pub mod templates;

use std::path::{Path, PathBuf};
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, Utc};
use optin_core::vocab::Mode;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyPool, ConnectOptions, Connection, Transaction};

/// Log filter when none is set: the database driver logs every statement
/// at `info`, which only warnings of it should reach.
pub const DEFAULT_LOG_FILTER: &str = "info,sqlx=warn";

/// Which database the service keeps its data in.
#[derive(Clone, PartialEq, Eq)]
pub enum Database {
    /// The embedded default: one SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL database shared by every service instance; the URL may
    /// hold a password, so it is never shown (see [`Database::describe`]).
    Postgres(String),
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl Database {
    /// Reads `--database-url`: `postgres://…` (or `postgresql://…`) for
    /// PostgreSQL, `sqlite://path` for a SQLite file elsewhere; without one,
    /// `default_sqlite` (the file in the data folder).
    pub fn from_url(url: Option<&str>, default_sqlite: PathBuf) -> Result<Self, String> {
        let Some(url) = url.map(str::trim).filter(|url| !url.is_empty()) else {
            return Ok(Self::Sqlite(default_sqlite));
        };
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            // Checked now so a typo stops the start with the parser's reason.
            sqlx::postgres::PgConnectOptions::from_str(url)
                .map_err(|e| format!("OPTIN_DATABASE_URL is not a PostgreSQL URL: {e}"))?;
            return Ok(Self::Postgres(url.to_owned()));
        }
        if let Some(path) = url.strip_prefix("sqlite://") {
            let path = path.split('?').next().unwrap_or_default();
            if path.is_empty() {
                return Err("OPTIN_DATABASE_URL names no SQLite file (sqlite://path)".to_owned());
            }
            return Ok(Self::Sqlite(PathBuf::from(path)));
        }
        Err(
            "OPTIN_DATABASE_URL must start with postgres:// (or postgresql://) or sqlite://"
                .to_owned(),
        )
    }

    /// The engine it runs on.
    pub fn engine(&self) -> Engine {
        match self {
            Self::Sqlite(_) => Engine::Sqlite,
            Self::Postgres(_) => Engine::Postgres,
        }
    }

    /// Where it is, for messages and logs: the file, or PostgreSQL's host,
    /// port and database, never the user's password.
    pub fn describe(&self) -> String {
        match self {
            Self::Sqlite(path) => format!("SQLite file {}", path.display()),
            Self::Postgres(url) => match sqlx::postgres::PgConnectOptions::from_str(url) {
                Ok(options) => format!(
                    "PostgreSQL at {}:{}, database {}",
                    options.get_host(),
                    options.get_port(),
                    options.get_database().unwrap_or("(the user's)")
                ),
                Err(_) => "PostgreSQL (unreadable URL)".to_owned(),
            },
        }
    }
}

/// The database engine, where the two need different SQL or handling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    /// `expression` as SQLite's NOCASE compares it: ASCII letters without
    /// case, every other character byte by byte (as `optin_core::search`
    /// matches in the app), to sort and match names alike on both engines.
    /// PostgreSQL's `lower()` would fold other letters too; its index on
    /// contacts uses this same expression.
    pub(crate) fn ascii_nocase(self, expression: &str) -> String {
        match self {
            Engine::Sqlite => format!("{expression} COLLATE NOCASE"),
            Engine::Postgres => format!(
                "translate({expression}, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')"
            ),
        }
    }

    /// The text at `key` of the JSON object in the text column `column`.
    pub fn json_text(self, column: &str, key: &str) -> String {
        match self {
            Engine::Sqlite => format!("json_extract({column}, '$.{key}')"),
            Engine::Postgres => format!("({column}::jsonb ->> '{key}')"),
        }
    }

    /// The integer at `key` of the JSON object in the text column `column`.
    pub fn json_integer(self, column: &str, key: &str) -> String {
        match self {
            Engine::Sqlite => format!("json_extract({column}, '$.{key}')"),
            Engine::Postgres => format!("({column}::jsonb ->> '{key}')::bigint"),
        }
    }

    /// `expression LIKE pattern` (the pattern escaped with `\`), ASCII
    /// letters without case on both engines, as SQLite's `LIKE` is.
    pub(crate) fn like_ascii_nocase(self, expression: &str, pattern: &str) -> String {
        format!(
            "{} LIKE {} ESCAPE '\\'",
            self.ascii_nocase(expression),
            self.ascii_nocase(pattern)
        )
    }
}

/// Why storage could not answer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The database cannot be reached or refuses our credentials at start.
    #[error("cannot open the database: {target}: {reason}")]
    Unreachable {
        /// Where it was looked for (never with a password).
        target: String,
        /// The driver's reason.
        reason: String,
    },
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
    /// I/O error, no connection free, PostgreSQL restarting or out of
    /// resources. Such a request is answered 503 with `Retry-After` (a
    /// provider retries its webhook), never as done.
    pub fn is_unavailable(&self) -> bool {
        let StoreError::Database(e) = self else {
            return false;
        };
        match e {
            sqlx::Error::Database(db) => {
                if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
                    return postgres_unavailable(pg.code());
                }
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

/// PostgreSQL's SQLSTATEs that mean "not now" rather than "never": a lost
/// connection (class 08), out of disk or memory (53), a server shutting
/// down or starting (57P01–57P03), a serialization failure or deadlock
/// (40001, 40P01), a lock not available (55P03).
fn postgres_unavailable(sqlstate: &str) -> bool {
    sqlstate.starts_with("08")
        || sqlstate.starts_with("53")
        || matches!(
            sqlstate,
            "57P01" | "57P02" | "57P03" | "40001" | "40P01" | "55P03"
        )
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

/// The advisory lock every PostgreSQL write transaction takes first: one
/// writer at a time across all instances, as SQLite's `BEGIN IMMEDIATE`
/// gives on one machine, so a read-then-write (a consent transition, the
/// hash chain's head) is never interleaved with another instance's.
const POSTGRES_WRITE_LOCK: i64 = 0x6f70_7469_6e00; // "optin\0"

/// Result of a storage call.
pub type StoreResult<T> = Result<T, StoreError>;

/// Handle on the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    pub(crate) pool: AnyPool,
    /// Where write transactions run (see [`Store::connect`]).
    writer: AnyPool,
    engine: Engine,
    /// Where it is (the live listener opens its own connection there).
    database: Database,
    /// The mode the database was created in; every consent-record step carries it.
    mode: Mode,
}

/// One write transaction. Dropping it without [`UnitOfWork::commit`] rolls back.
pub struct UnitOfWork {
    /// Reached through [`UnitOfWork::conn`], which writes the deferred rows
    /// first; only statements that cannot see them use it directly.
    tx: Transaction<'static, Any>,
    pub(crate) mode: Mode,
    pub(crate) engine: Engine,
    /// What this transaction already read or wrote and will read again (a
    /// batch of webhooks asks the same things): each a round trip saved.
    pub(crate) known: Known,
    /// Messages and consent-record steps not yet written (see
    /// [`UnitOfWork::defer_inserts`]).
    pub(crate) deferred: deferred::Deferred,
}

/// Answers a unit of work keeps while its transaction holds the write lock
/// (nobody else can change them meanwhile). Forgotten on a rollback to a
/// savepoint, which may undo what they say.
#[derive(Default)]
pub(crate) struct Known {
    /// Each organization's last consent event: (sequence, hash).
    pub(crate) chain_heads: std::collections::HashMap<i64, (i64, String)>,
    /// Which organization owns a WhatsApp business number (phone number id).
    pub(crate) whatsapp_numbers: std::collections::HashMap<String, Option<i64>>,
    /// Webhook receipts claimed ahead for a batch, each `true` until its
    /// item is first asked about (only then is it new).
    pub(crate) receipts: std::collections::HashMap<String, bool>,
}

/// Whether a connection going back to the pool can serve again. When a
/// COMMIT fails on a full disk, SQLite rolls the transaction back by itself;
/// sqlx's rollback on drop then finds none and keeps counting one open, so
/// every later `BEGIN IMMEDIATE` on that connection would fail (seen under
/// `cargo xtask chaos`: a 500 for each, long after the disk had room again).
/// Such a connection is closed; the pool opens a fresh one.
async fn still_usable(connection: &mut sqlx::AnyConnection) -> Result<bool, sqlx::Error> {
    // The ping runs after any rollback queued on drop, so the count is settled.
    connection.ping().await?;
    Ok(!connection.is_in_transaction())
}

/// A pool of `connections` set up as every connection of ours must be
/// (SQLite's WAL and durability, the write wait of `busy_timeout`).
fn pool_options(
    engine: Engine,
    busy_timeout: std::time::Duration,
    connections: u32,
) -> AnyPoolOptions {
    let busy_ms = busy_timeout.as_millis();
    AnyPoolOptions::new()
        .max_connections(connections)
        .after_connect(move |connection, _| {
            Box::pin(async move {
                let settings = match engine {
                    Engine::Sqlite => vec![
                        "PRAGMA journal_mode = WAL".to_owned(),
                        "PRAGMA synchronous = FULL".to_owned(),
                        "PRAGMA foreign_keys = ON".to_owned(),
                        format!("PRAGMA busy_timeout = {busy_ms}"),
                    ],
                    // A commit returns once it is on disk, whatever the
                    // server's default; a write waits this long for the
                    // write lock, then fails as unavailable.
                    Engine::Postgres => vec![
                        "SET synchronous_commit = on".to_owned(),
                        format!("SET lock_timeout = {busy_ms}"),
                    ],
                };
                for setting in settings {
                    sqlx::query(&setting).execute(&mut *connection).await?;
                }
                Ok(())
            })
        })
        .after_release(|connection, _| Box::pin(still_usable(connection)))
        // A SQLite file never drops a connection, and `still_usable` checked
        // it on release: no ping (a round trip to its thread) before each use.
        .test_before_acquire(engine == Engine::Postgres)
}

/// Registers the two engines with sqlx's `Any` driver (once per process).
fn install_drivers() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        sqlx::any::install_drivers(&[sqlx::sqlite::any::DRIVER, sqlx::postgres::any::DRIVER])
            .expect("the database drivers are installed once");
    });
}

impl Store {
    /// Opens (creating if missing) a SQLite database file, applies migrations
    /// and checks that it was created in `mode` (a new database remembers it).
    pub async fn open(path: &Path, mode: Mode) -> StoreResult<Self> {
        Self::connect(
            &Database::Sqlite(path.to_owned()),
            mode,
            DEFAULT_BUSY_TIMEOUT,
        )
        .await
    }

    /// Opens `database` (a SQLite file is created if missing), applies its
    /// engine's migrations and checks that it was created in `mode`.
    /// `busy_timeout` is how long a write waits for another writer.
    pub async fn connect(
        database: &Database,
        mode: Mode,
        busy_timeout: std::time::Duration,
    ) -> StoreResult<Self> {
        install_drivers();
        let engine = database.engine();
        let url = match database {
            Database::Sqlite(path) => format!("sqlite://{}?mode=rwc", path.display()),
            Database::Postgres(url) => url.clone(),
        };
        let unreachable = |e: sqlx::Error| StoreError::Unreachable {
            target: database.describe(),
            reason: driver_reason(&e),
        };
        let options = AnyConnectOptions::from_str(&url).map_err(unreachable)?;
        // One connection first: the pool would retry until its timeout and
        // keep only "timed out", where the driver's own reason says what to fix.
        options
            .connect()
            .await
            .map_err(unreachable)?
            .close()
            .await
            .map_err(unreachable)?;
        let pool = pool_options(
            engine,
            busy_timeout,
            match engine {
                Engine::Sqlite => 8,
                Engine::Postgres => 16,
            },
        )
        .connect_with(options.clone())
        .await
        .map_err(unreachable)?;
        // SQLite takes one writer at a time: write transactions queue for
        // this pool's one connection rather than for the lock. It made the
        // last commit itself, so its page cache is still valid, where an
        // idle connection of the shared pool first re-reads every page that
        // others wrote since it last ran (measured: a batch of webhooks
        // applied about a tenth faster). PostgreSQL's writers share the pool.
        let writer = match engine {
            Engine::Sqlite => pool_options(engine, busy_timeout, 1)
                .acquire_timeout(busy_timeout)
                .connect_with(options)
                .await
                .map_err(unreachable)?,
            Engine::Postgres => pool.clone(),
        };
        match engine {
            Engine::Sqlite => sqlx::migrate!("./migrations").run(&pool).await?,
            Engine::Postgres => sqlx::migrate!("./migrations-postgres").run(&pool).await?,
        }
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
        let recorded: Mode = parse_name("service mode", &recorded)?;
        if recorded != mode {
            pool.close().await;
            writer.close().await;
            return Err(StoreError::WrongMode {
                path: database.describe(),
                database: recorded,
                requested: mode,
                hint: match recorded {
                    Mode::Sandbox => " or start with --sandbox (OPTIN_SANDBOX=1)",
                    Mode::Production => " or start without --sandbox",
                },
            });
        }
        Ok(Self {
            pool,
            writer,
            engine,
            database: database.clone(),
            mode,
        })
    }

    /// The mode the database was created in.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The engine it runs on.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// The connection pool, for tools and tests that inspect storage directly.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// A write transaction that holds the write lock from its start (no
    /// upgrade deadlocks in SQLite, no interleaving across instances on
    /// PostgreSQL).
    pub async fn begin_write(&self) -> StoreResult<UnitOfWork> {
        Ok(UnitOfWork {
            tx: self.write_transaction().await?,
            mode: self.mode,
            engine: self.engine,
            known: Known::default(),
            deferred: deferred::Deferred::default(),
        })
    }

    /// A transaction that takes the write lock at once: SQLite's `BEGIN
    /// IMMEDIATE` waits out another writer for the busy timeout, where a
    /// deferred one that read first would fail at once when upgrading to
    /// write; PostgreSQL's waits for [`POSTGRES_WRITE_LOCK`] up to the lock
    /// timeout.
    pub(crate) async fn write_transaction(&self) -> StoreResult<Transaction<'static, Any>> {
        match self.engine {
            Engine::Sqlite => Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?),
            Engine::Postgres => {
                let mut tx = self.pool.begin().await?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(POSTGRES_WRITE_LOCK)
                    .execute(&mut *tx)
                    .await?;
                Ok(tx)
            }
        }
    }
}

/// The driver's reason without the URL it may quote (which may hold a password).
fn driver_reason(error: &sqlx::Error) -> String {
    match error {
        sqlx::Error::Io(e) => e.to_string(),
        sqlx::Error::Database(e) => e.message().to_owned(),
        sqlx::Error::Configuration(e) => format!("bad setting: {e}"),
        sqlx::Error::Tls(e) => format!("TLS: {e}"),
        sqlx::Error::PoolTimedOut => "no connection within the timeout".to_owned(),
        other => other.to_string(),
    }
}

impl Store {
    /// Copies SQLite's write-ahead log into the database file and truncates
    /// it, so the log does not grow without bound and a restart replays
    /// little. Answers whether the log was emptied: a reader or writer still
    /// in it (SQLite's `busy`) leaves it for the next checkpoint. PostgreSQL
    /// checkpoints its own log: always true there.
    pub async fn checkpoint(&self) -> StoreResult<bool> {
        if self.engine == Engine::Postgres {
            return Ok(true);
        }
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
        // A rollback forgets what is known: no claim may outlive it unasked.
        self.release_unasked_receipts().await?;
        // Written before the mark, so that a rollback to it keeps them.
        sqlx::query("SAVEPOINT part")
            .execute(self.conn().await?)
            .await?;
        Ok(())
    }

    /// Keeps what was written since the savepoint.
    pub async fn release_savepoint(&mut self) -> StoreResult<()> {
        sqlx::query("RELEASE part")
            .execute(self.conn().await?)
            .await?;
        Ok(())
    }

    /// Undoes what was written since the savepoint. Fails when SQLite has
    /// rolled the whole transaction back (a full disk, an I/O error): the
    /// savepoint went with it.
    pub async fn rollback_to_savepoint(&mut self) -> StoreResult<()> {
        self.known = Known::default();
        // What was deferred since the savepoint is undone with the rest.
        self.deferred.forget();
        sqlx::query("ROLLBACK TO part")
            .execute(&mut *self.tx)
            .await?;
        sqlx::query("RELEASE part").execute(&mut *self.tx).await?;
        Ok(())
    }

    /// Makes every change of the unit durable at once.
    pub async fn commit(mut self) -> StoreResult<()> {
        self.write_deferred().await?;
        self.release_unasked_receipts().await?;
        Ok(self.tx.commit().await?)
    }
}

/// A yes/no column: SQLite keeps it as the integer 0 or 1, PostgreSQL as a
/// `BOOLEAN`; sqlx's `Any` driver decodes `bool` from the latter only, so
/// rows read flags through this. (Binding a `bool` works on both.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flag(pub bool);

impl sqlx::Type<Any> for Flag {
    fn type_info() -> sqlx::any::AnyTypeInfo {
        <bool as sqlx::Type<Any>>::type_info()
    }

    fn compatible(ty: &sqlx::any::AnyTypeInfo) -> bool {
        ty.kind() == sqlx::any::AnyTypeInfoKind::Bool || ty.kind().is_integer()
    }
}

impl<'r> sqlx::Decode<'r, Any> for Flag {
    fn decode(value: sqlx::any::AnyValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        use sqlx::ValueRef;
        if value.type_info().kind() == sqlx::any::AnyTypeInfoKind::Bool {
            <bool as sqlx::Decode<Any>>::decode(value).map(Flag)
        } else {
            <i64 as sqlx::Decode<Any>>::decode(value).map(|n| Flag(n != 0))
        }
    }
}

impl From<Flag> for bool {
    fn from(flag: Flag) -> bool {
        flag.0
    }
}

/// A yes/no column that may be NULL, read as [`Flag`] is (for
/// `#[sqlx(try_from = "MaybeFlag")]` on an `Option<bool>` field).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaybeFlag(pub Option<bool>);

impl sqlx::Type<Any> for MaybeFlag {
    fn type_info() -> sqlx::any::AnyTypeInfo {
        <Flag as sqlx::Type<Any>>::type_info()
    }

    fn compatible(ty: &sqlx::any::AnyTypeInfo) -> bool {
        <Flag as sqlx::Type<Any>>::compatible(ty)
    }
}

impl<'r> sqlx::Decode<'r, Any> for MaybeFlag {
    fn decode(value: sqlx::any::AnyValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        use sqlx::ValueRef;
        if value.is_null() {
            return Ok(MaybeFlag(None));
        }
        <Flag as sqlx::Decode<Any>>::decode(value).map(|flag| MaybeFlag(Some(flag.0)))
    }
}

impl From<MaybeFlag> for Option<bool> {
    fn from(flag: MaybeFlag) -> Option<bool> {
        flag.0
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
        install_drivers();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("check.sqlite3");
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let mut connection = sqlx::AnyConnection::connect(&url).await.unwrap();
        assert!(still_usable(&mut connection).await.unwrap());
        {
            let mut tx = connection.begin_with("BEGIN IMMEDIATE").await.unwrap();
            sqlx::query("ROLLBACK").execute(&mut *tx).await.unwrap();
        }
        assert!(!still_usable(&mut connection).await.unwrap());
    }
}
