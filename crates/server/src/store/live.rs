//! Live events across service instances on one PostgreSQL: a unit of work
//! announces its consent-record events with `NOTIFY` inside its own
//! transaction (PostgreSQL delivers them only when it commits, in commit
//! order), and every instance `LISTEN`s. SQLite has one instance: there is
//! nothing to relay, and no listener.

use sqlx::postgres::PgListener;

use super::{Database, Store, StoreResult, UnitOfWork};

/// The channel the instances announce on.
const LIVE_CHANNEL: &str = "optin_live";

impl UnitOfWork {
    /// Announces `payload` to every instance's listener if, and when, this
    /// unit commits (PostgreSQL's `NOTIFY` is transactional).
    pub async fn announce_live(&mut self, payload: &str) -> StoreResult<()> {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(LIVE_CHANNEL)
            .bind(payload)
            .execute(self.conn().await?)
            .await?;
        Ok(())
    }
}

/// A connection that hears every instance's announcements.
pub struct LiveListener(PgListener);

impl Store {
    /// Whether live events go through the database (several instances may
    /// share it) rather than straight to this instance's streams.
    pub fn relays_live(&self) -> bool {
        matches!(self.database, Database::Postgres(_))
    }

    /// A listener on the announcements, on a connection of its own; `None`
    /// on SQLite.
    pub async fn live_listener(&self) -> StoreResult<Option<LiveListener>> {
        let Database::Postgres(url) = &self.database else {
            return Ok(None);
        };
        let mut listener = PgListener::connect(url).await?;
        listener.listen(LIVE_CHANNEL).await?;
        Ok(Some(LiveListener(listener)))
    }
}

impl LiveListener {
    /// The next announcement's payload. `None` when the connection was lost:
    /// announcements may have been missed meanwhile (the next call
    /// reconnects and listens again).
    pub async fn next(&mut self) -> StoreResult<Option<String>> {
        Ok(self
            .0
            .try_recv()
            .await?
            .map(|notification| notification.payload().to_owned()))
    }
}
