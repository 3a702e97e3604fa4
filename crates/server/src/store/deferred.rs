//! Rows a unit of work writes later, in one statement per table.
//!
//! A batch of webhooks stores a message and a consent-record step for
//! nearly every webhook; on SQLite each statement is a round trip to the
//! database's thread, which is what ingest waits on. Deferred, they are
//! written together when the unit next runs any other statement (through
//! [`UnitOfWork::conn`]), and at the latest before its commit. So every
//! statement still sees them, and the archive feed's triggers still copy
//! the number's consent state as it was when each row was stored: nothing
//! changes that state without going through `conn` first. One thing does
//! move: the archive feed lists a group's messages before its steps, where
//! they used to alternate; each message still comes before its own steps.
//!
//! Their ids are taken ahead, from the largest in each table: the unit of
//! work holds the write lock (`BEGIN IMMEDIATE`), so nobody else inserts
//! meanwhile. Only on SQLite: PostgreSQL's ids come from sequences shared
//! with other instances, and its round trips are not the bottleneck.

use sqlx::AnyConnection;

use super::evidence::EvidenceRow;
use super::messages::NewMessageRow;
use super::{Engine, StoreResult, UnitOfWork};

/// A statement with its values, as both engines take them.
pub(crate) type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// Rows written in one statement (SQLite takes up to 32,766 values in one).
const ROWS_PER_STATEMENT: usize = 500;

/// A row of a table whose inserts can be deferred.
pub(crate) trait DeferredRow {
    const TABLE: &'static str;
    /// Its columns, `id` first, in the order `bind_to` binds them.
    const COLUMNS: &'static str;
    const COLUMN_COUNT: usize;

    /// Binds the row's values to `query`, its id first when `with_id`.
    fn bind_to<'q>(&'q self, query: AnyQuery<'q>, with_id: bool) -> AnyQuery<'q>;
}

/// Writes deferred rows, their ids given, [`ROWS_PER_STATEMENT`] at a time.
async fn insert_rows<R: DeferredRow>(conn: &mut AnyConnection, rows: &[R]) -> StoreResult<()> {
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO {} ({}) VALUES {}",
            R::TABLE,
            R::COLUMNS,
            sqlite_rows_of_placeholders(chunk.len(), R::COLUMN_COUNT)
        );
        // One text per group size: kept out of the statement cache.
        let mut query = sqlx::query(&sql).persistent(false);
        for row in chunk {
            query = row.bind_to(query, true);
        }
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
    /// The last id given in `messages` and in `consent_events`, once read.
    last_ids: Option<(i64, i64)>,
    pub(crate) messages: Vec<NewMessageRow>,
    pub(crate) events: Vec<EvidenceRow>,
}

impl Deferred {
    fn is_empty(&self) -> bool {
        self.messages.is_empty() && self.events.is_empty()
    }

    /// Drops the rows not written and the ids taken ahead (a rollback to a
    /// savepoint may have undone rows that used them).
    pub(crate) fn forget(&mut self) {
        self.messages.clear();
        self.events.clear();
        self.last_ids = None;
    }
}

/// Which table an id is taken for.
pub(crate) enum Table {
    Messages,
    ConsentEvents,
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
    /// write nothing the deferred rows touch (receipts, the 24-hour window).
    pub(crate) fn conn_as_is(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }

    /// Writes the deferred rows: messages first, then steps, each in order.
    pub async fn write_deferred(&mut self) -> StoreResult<()> {
        let messages = std::mem::take(&mut self.deferred.messages);
        let events = std::mem::take(&mut self.deferred.events);
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

    /// The next id of `table`, taken ahead for a deferred row.
    pub(crate) async fn next_id(&mut self, table: Table) -> StoreResult<i64> {
        let (messages, events) = match self.deferred.last_ids {
            Some(last) => last,
            None => {
                sqlx::query_as(
                    "SELECT (SELECT COALESCE(MAX(id), 0) FROM messages),
                            (SELECT COALESCE(MAX(id), 0) FROM consent_events)",
                )
                .fetch_one(&mut *self.tx)
                .await?
            }
        };
        let (last, next) = match table {
            Table::Messages => ((messages + 1, events), messages + 1),
            Table::ConsentEvents => ((messages, events + 1), events + 1),
        };
        self.deferred.last_ids = Some(last);
        Ok(next)
    }
}
