//! Rows a unit of work writes later, in one statement per table.
//!
//! A batch of webhooks opens a 24-hour window and stores a message and a
//! consent-record step for nearly every webhook; on SQLite each statement
//! is a round trip to the database's thread, which is what ingest waits on.
//! Deferred, they are written together when the unit next runs any other
//! statement (through [`UnitOfWork::conn`]), and at the latest before its
//! commit. So every statement still sees them, and the archive feed's
//! triggers still copy the number's consent state as it was when each row
//! was stored: nothing changes that state without going through `conn`
//! first. One thing does move: the archive feed lists a group's messages
//! before its steps, where they used to alternate; each message still comes
//! before its own steps.
//!
//! Their ids are taken ahead, from the largest in each table: the unit of
//! work holds the write lock (`BEGIN IMMEDIATE`), so nobody else inserts
//! meanwhile. Only on SQLite: PostgreSQL's ids come from sequences shared
//! with other instances, and its round trips are not the bottleneck.

use std::collections::HashMap;

use sqlx::AnyConnection;

use super::consent::{ConsentAhead, WindowRow};
use super::evidence::EvidenceRow;
use super::messages::NewMessageRow;
use super::{Engine, StoreResult, UnitOfWork};

/// A statement with its values, as both engines take them.
pub(crate) type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// Rows written in one statement (SQLite takes up to 32,766 values in one).
const ROWS_PER_STATEMENT: usize = 500;

/// A row of a table whose inserts can be deferred.
pub(crate) trait DeferredRow: Sized {
    const TABLE: &'static str;
    /// Its columns, `id` first, in the order `bind_to` binds them.
    const COLUMNS: &'static str;
    const COLUMN_COUNT: usize;

    /// Binds the row's values to `query`, its id first when `with_id`.
    fn bind_to<'q>(&'q self, query: AnyQuery<'q>, with_id: bool) -> AnyQuery<'q>;

    fn set_id(&mut self, id: i64);

    /// Where a unit of work keeps its deferred rows of this table.
    fn kept(deferred: &mut Deferred) -> &mut Vec<Self>;

    /// The text of an insert of one row whose id the database gives
    /// (built once per table: see [`insert_returning_id`]).
    fn insert_returning_id() -> &'static str;
}

/// For [`DeferredRow::insert_returning_id`]: `INSERT INTO table (columns
/// but id) VALUES ($1, …) RETURNING id`.
pub(crate) fn insert_returning_id<R: DeferredRow>() -> String {
    let columns = R::COLUMNS.trim_start_matches("id, ");
    let values = super::messages::numbered(1, R::COLUMN_COUNT - 1).collect::<Vec<_>>();
    format!(
        "INSERT INTO {} ({columns}) VALUES ({}) RETURNING id",
        R::TABLE,
        values.join(", ")
    )
}

/// Writes deferred rows, their ids given, [`ROWS_PER_STATEMENT`] at a time.
async fn insert_rows<R: DeferredRow>(conn: &mut AnyConnection, rows: &[R]) -> StoreResult<()> {
    let head = format!("INSERT INTO {} ({}) VALUES", R::TABLE, R::COLUMNS);
    insert_in_groups(conn, rows, &head, R::COLUMN_COUNT, "", |row, query| {
        row.bind_to(query, true)
    })
    .await
}

/// Runs `head (?, …), (?, …) tail` on SQLite for `rows`, [`ROWS_PER_STATEMENT`]
/// at a time, each row's `columns` values bound by `bind`.
pub(crate) async fn insert_in_groups<R>(
    conn: &mut AnyConnection,
    rows: &[R],
    head: &str,
    columns: usize,
    tail: &str,
    bind: impl for<'q> Fn(&'q R, AnyQuery<'q>) -> AnyQuery<'q>,
) -> StoreResult<()> {
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let values = sqlite_rows_of_placeholders(chunk.len(), columns);
        let sql = format!("{head} {values} {tail}");
        // One text per group size: kept out of the statement cache.
        let query = sqlx::query(&sql).persistent(false);
        let query = chunk.iter().fold(query, |query, row| bind(row, query));
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// `rows` parenthesized groups of `columns` placeholders, for a multi-row
/// `VALUES` on SQLite (`(?, ?), (?, ?)`). Anonymous: SQLite looks a named
/// one up by walking all of the statement's names, which for a thousand
/// values cost more than the round trips saved.
fn sqlite_rows_of_placeholders(rows: usize, columns: usize) -> String {
    let row = format!("({})", vec!["?"; columns].join(", "));
    vec![row; rows].join(", ")
}

/// The deferred rows, in the order they were stored.
#[derive(Default)]
pub(crate) struct Deferred {
    enabled: bool,
    /// The last id given in each table, once read.
    last_ids: HashMap<&'static str, i64>,
    /// Opened 24-hour windows, written before the messages and steps.
    pub(crate) windows: Vec<WindowRow>,
    pub(crate) messages: Vec<NewMessageRow>,
    pub(crate) events: Vec<EvidenceRow>,
    /// Consents read ahead for a batch, by organization and number; one is
    /// forgotten when its number's consent or requests are written.
    pub(crate) consents: HashMap<(i64, String), ConsentAhead>,
}

impl Deferred {
    fn is_empty(&self) -> bool {
        self.windows.is_empty() && self.messages.is_empty() && self.events.is_empty()
    }

    /// Drops the rows not written and the ids taken ahead (a rollback to a
    /// savepoint may have undone rows that used them).
    pub(crate) fn forget(&mut self) {
        self.windows.clear();
        self.consents.clear();
        self.messages.clear();
        self.events.clear();
        self.last_ids.clear();
    }
}

impl UnitOfWork {
    /// From now on, messages and consent-record steps are written in groups
    /// (see the module's doc); on PostgreSQL this does nothing. For a batch
    /// of webhooks: an insert that fails then fails at a later statement of
    /// the unit, and the batch is applied again without deferring.
    pub fn defer_inserts(&mut self) {
        self.deferred.enabled = self.engine == Engine::Sqlite;
    }

    pub(crate) fn defers(&self) -> bool {
        self.deferred.enabled
    }

    /// The transaction's connection, after the deferred rows are written.
    pub(crate) async fn conn(&mut self) -> StoreResult<&mut AnyConnection> {
        if !self.deferred.is_empty() {
            self.write_deferred().await?;
        }
        Ok(&mut *self.tx)
    }

    /// The transaction's connection as it is, for statements that read or
    /// write nothing the deferred rows touch (receipts, a chain head not
    /// known, the 24-hour window of a number with no deferred row).
    pub(crate) fn conn_as_is(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }

    /// Writes the deferred rows: windows first (a number's consent row
    /// must stand before the rows that copy its state: see
    /// [`UnitOfWork::note_inbound`]), then messages, then steps, each in order.
    pub async fn write_deferred(&mut self) -> StoreResult<()> {
        let windows = std::mem::take(&mut self.deferred.windows);
        let messages = std::mem::take(&mut self.deferred.messages);
        let events = std::mem::take(&mut self.deferred.events);
        super::consent::write_windows(&mut self.tx, &windows).await?;
        insert_rows(&mut self.tx, &messages).await?;
        insert_rows(&mut self.tx, &events).await
    }

    /// Whether a deferred row is about this number of the organization.
    pub(crate) fn defers_for(&self, organization_id: i64, phone: &str) -> bool {
        let messages = self.deferred.messages.iter();
        let events = self.deferred.events.iter();
        messages
            .map(|m| (m.organization_id, m.phone_e164.as_str()))
            .chain(events.map(|e| (e.organization_id, e.phone_e164.as_str())))
            .any(|row| row == (organization_id, phone))
    }

    /// Stores `row` (now, or later when deferring); returns its id.
    pub(crate) async fn insert_row<R: DeferredRow>(&mut self, mut row: R) -> StoreResult<i64> {
        if self.defers() {
            let id = self.next_id(R::TABLE).await?;
            row.set_id(id);
            R::kept(&mut self.deferred).push(row);
            return Ok(id);
        }
        let inserted = row
            .bind_to(sqlx::query(R::insert_returning_id()), false)
            .fetch_one(self.conn().await?)
            .await?;
        Ok(sqlx::Row::try_get(&inserted, 0)?)
    }

    /// The next id of `table`, taken ahead for a deferred row.
    async fn next_id(&mut self, table: &'static str) -> StoreResult<i64> {
        let last = match self.deferred.last_ids.get(table) {
            Some(last) => *last,
            None => {
                sqlx::query_scalar(&format!("SELECT COALESCE(MAX(id), 0) FROM {table}"))
                    .fetch_one(&mut *self.tx)
                    .await?
            }
        };
        self.deferred.last_ids.insert(table, last + 1);
        Ok(last + 1)
    }
}
