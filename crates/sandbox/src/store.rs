//! The sandbox's own SQLite database (`sandbox_phones`, `sandbox_messages`),
//! apart from the service's: created with the sandbox's migrations on first
//! use, so a production database never holds sandbox tables.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use optin_core::sandbox::{
    Channel, Direction, PhoneButton, PhoneMessage, PhoneSummary, TemplateView,
};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::SqlitePool;
use tokio::sync::OnceCell;

/// The sandbox's database file. Opening is lazy (no I/O until the first
/// query, which also applies the migrations once), so a router can be built
/// synchronously.
#[derive(Clone, Debug)]
pub struct Db {
    pool: SqlitePool,
    migrated: Arc<OnceCell<()>>,
}

impl Db {
    /// The database at `path`, created (with its folder's existing parent) on first use.
    pub fn open(path: &Path) -> Self {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_lazy_with(options);
        Self {
            pool,
            migrated: Arc::new(OnceCell::new()),
        }
    }

    /// The pool, once the sandbox's migrations are applied.
    async fn pool(&self) -> Result<&SqlitePool, sqlx::Error> {
        self.migrated
            .get_or_try_init(|| async {
                sqlx::migrate!("./migrations")
                    .run(&self.pool)
                    .await
                    .map_err(sqlx::Error::from)
            })
            .await?;
        Ok(&self.pool)
    }
}

/// A contact's phone.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(super) struct Phone {
    pub on_whatsapp: bool,
    pub profile_name: Option<String>,
}

/// A message to store.
pub(super) struct NewMessage<'a> {
    pub id: &'a str,
    pub phone: &'a str,
    pub channel: Channel,
    pub direction: Direction,
    pub text: &'a str,
    pub template: Option<&'a TemplateView>,
    pub buttons: &'a [PhoneButton],
    pub context_id: Option<&'a str>,
    /// The request or webhook body as it went over the wire.
    pub raw: &'a str,
    pub status: &'a str,
    pub idempotency_key: Option<&'a str>,
    pub at: DateTime<Utc>,
}

/// A stored message.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(super) struct Stored {
    pub id: String,
    pub phone_e164: String,
    pub channel: String,
    pub direction: String,
    pub text: String,
    pub template_json: Option<String>,
    pub buttons_json: Option<String>,
    pub context_id: Option<String>,
    pub status: String,
    pub error_code: Option<i64>,
    pub created_at: DateTime<Utc>,
}

impl Stored {
    pub fn is(&self, channel: Channel, direction: Direction) -> bool {
        self.channel == channel.as_str() && self.direction == direction.as_str()
    }

    pub fn buttons(&self) -> Vec<PhoneButton> {
        self.buttons_json
            .as_deref()
            .and_then(|json| serde_json::from_str(json).ok())
            .unwrap_or_default()
    }

    pub fn view(&self) -> PhoneMessage {
        PhoneMessage {
            id: self.id.clone(),
            channel: if self.channel == "sms" {
                Channel::Sms
            } else {
                Channel::Whatsapp
            },
            direction: if self.direction == "out" {
                Direction::Out
            } else {
                Direction::In
            },
            text: self.text.clone(),
            template: self
                .template_json
                .as_deref()
                .and_then(|json| serde_json::from_str(json).ok()),
            buttons: self.buttons(),
            context_id: self.context_id.clone(),
            at: self.created_at,
            status: self.status.clone(),
            error_code: self.error_code,
        }
    }
}

/// Outcome of storing a send.
pub(super) enum Inserted {
    /// Stored as new: emit its webhooks.
    Created,
    /// A message with the same idempotency key exists: answer as before.
    Existing(Box<Stored>),
}

const COLUMNS: &str = "id, phone_e164, channel, direction, text, template_json, buttons_json, \
                       context_id, status, error_code, created_at";

/// The phone, created (on WhatsApp, no profile name) on first sight.
pub(super) async fn phone(db: &Db, phone: &str, now: DateTime<Utc>) -> Result<Phone, sqlx::Error> {
    sqlx::query(
        "INSERT INTO sandbox_phones (phone_e164, updated_at) VALUES ($1, $2)
         ON CONFLICT (phone_e164) DO NOTHING",
    )
    .bind(phone)
    .bind(now)
    .execute(db.pool().await?)
    .await?;
    sqlx::query_as("SELECT on_whatsapp, profile_name FROM sandbox_phones WHERE phone_e164 = $1")
        .bind(phone)
        .fetch_one(db.pool().await?)
        .await
}

/// The phone, if the sandbox has seen it.
pub(super) async fn find_phone(db: &Db, phone: &str) -> Result<Option<Phone>, sqlx::Error> {
    sqlx::query_as("SELECT on_whatsapp, profile_name FROM sandbox_phones WHERE phone_e164 = $1")
        .bind(phone)
        .fetch_optional(db.pool().await?)
        .await
}

/// Marks a number as on WhatsApp or not; optionally renames its profile.
pub(super) async fn set_whatsapp(
    db: &Db,
    phone: &str,
    on_whatsapp: bool,
    profile_name: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO sandbox_phones (phone_e164, on_whatsapp, profile_name, updated_at)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (phone_e164) DO UPDATE SET
             on_whatsapp = excluded.on_whatsapp,
             profile_name = COALESCE(excluded.profile_name, sandbox_phones.profile_name),
             updated_at = excluded.updated_at",
    )
    .bind(phone)
    .bind(on_whatsapp)
    .bind(profile_name)
    .bind(now)
    .execute(db.pool().await?)
    .await?;
    Ok(())
}

/// Stores a message. With an idempotency key already used on the channel,
/// stores nothing and returns the earlier message.
pub(super) async fn insert(db: &Db, m: NewMessage<'_>) -> Result<Inserted, sqlx::Error> {
    let template = m
        .template
        .map(|t| serde_json::to_string(t).expect("plain data serializes"));
    let buttons = (!m.buttons.is_empty())
        .then(|| serde_json::to_string(m.buttons).expect("plain data serializes"));
    // The unique (channel, idempotency_key) makes concurrent retries of one
    // send collapse into one row, whichever arrives first.
    let inserted = sqlx::query(
        "INSERT INTO sandbox_messages
             (id, phone_e164, channel, direction, text, template_json, buttons_json,
              context_id, raw, status, idempotency_key, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         ON CONFLICT (channel, idempotency_key) DO NOTHING",
    )
    .bind(m.id)
    .bind(m.phone)
    .bind(m.channel.as_str())
    .bind(m.direction.as_str())
    .bind(m.text)
    .bind(template)
    .bind(buttons)
    .bind(m.context_id)
    .bind(m.raw)
    .bind(m.status)
    .bind(m.idempotency_key)
    .bind(m.at)
    .execute(db.pool().await?)
    .await?
    .rows_affected();
    if inserted == 1 {
        return Ok(Inserted::Created);
    }
    let existing: Stored = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM sandbox_messages WHERE channel = $1 AND idempotency_key = $2"
    ))
    .bind(m.channel.as_str())
    .bind(m.idempotency_key)
    .fetch_one(db.pool().await?)
    .await?;
    Ok(Inserted::Existing(Box::new(existing)))
}

/// One message by id.
pub(super) async fn message(db: &Db, id: &str) -> Result<Option<Stored>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM sandbox_messages WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(db.pool().await?)
    .await
}

/// The `biz_opaque_callback_data` a WhatsApp send carried, which every
/// status of it returns.
pub(super) async fn callback_data(db: &Db, id: &str) -> Result<Option<String>, sqlx::Error> {
    let raw: Option<String> = sqlx::query_scalar("SELECT raw FROM sandbox_messages WHERE id = $1")
        .bind(id)
        .fetch_optional(db.pool().await?)
        .await?;
    Ok(raw
        .and_then(|raw| serde_json::from_str::<serde_json::Value>(&raw).ok())
        .and_then(|send| send["biz_opaque_callback_data"].as_str().map(str::to_owned)))
}

/// Every message of a phone, oldest first.
pub(super) async fn messages(db: &Db, phone: &str) -> Result<Vec<Stored>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM sandbox_messages WHERE phone_e164 = $1 ORDER BY seq"
    ))
    .bind(phone)
    .fetch_all(db.pool().await?)
    .await
}

/// Every phone seen, most recently active first.
pub(super) async fn phones(db: &Db) -> Result<Vec<PhoneSummary>, sqlx::Error> {
    let rows: Vec<(String, bool, i64, Option<DateTime<Utc>>)> = sqlx::query_as(
        "SELECT p.phone_e164, p.on_whatsapp, COUNT(m.seq), MAX(m.created_at)
         FROM sandbox_phones p LEFT JOIN sandbox_messages m ON m.phone_e164 = p.phone_e164
         GROUP BY p.phone_e164
         ORDER BY MAX(m.seq) IS NULL, MAX(m.seq) DESC, p.phone_e164",
    )
    .fetch_all(db.pool().await?)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(phone, on_whatsapp, count, last_at)| PhoneSummary {
            phone,
            on_whatsapp,
            message_count: count.max(0) as u64,
            last_at,
        })
        .collect())
}

/// When the contact last wrote on `channel`, if ever.
pub(super) async fn last_written_at(
    db: &Db,
    phone: &str,
    channel: Channel,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT created_at FROM sandbox_messages
         WHERE phone_e164 = $1 AND channel = $2 AND direction = 'out'
         ORDER BY seq DESC LIMIT 1",
    )
    .bind(phone)
    .bind(channel.as_str())
    .fetch_optional(db.pool().await?)
    .await
}

/// Every SMS of a number both ways, newest first: (direction, text, when).
pub(super) async fn sms_history(
    db: &Db,
    phone: &str,
) -> Result<Vec<(String, String, DateTime<Utc>)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT direction, text, created_at FROM sandbox_messages
         WHERE phone_e164 = $1 AND channel = 'sms'
         ORDER BY seq DESC",
    )
    .bind(phone)
    .fetch_all(db.pool().await?)
    .await
}

/// Rank of a delivery status; a status never moves to a lower rank, so
/// a late `delivered` does not undo `read`.
fn rank(status: &str) -> u8 {
    match status {
        "accepted" | "queued" | "pending" => 0,
        "sent" => 1,
        "delivered" => 2,
        "read" => 3,
        // Final either way.
        _ => 4,
    }
}

/// Moves a message's status forward (never back); records an error code.
pub(super) async fn advance_status(
    db: &Db,
    id: &str,
    status: &str,
    error_code: Option<i64>,
) -> Result<(), sqlx::Error> {
    let current: Option<String> =
        sqlx::query_scalar("SELECT status FROM sandbox_messages WHERE id = $1")
            .bind(id)
            .fetch_optional(db.pool().await?)
            .await?;
    if current.is_some_and(|current| rank(&current) < rank(status)) {
        sqlx::query(
            "UPDATE sandbox_messages SET status = $2, error_code = COALESCE($3, error_code)
             WHERE id = $1",
        )
        .bind(id)
        .bind(status)
        .bind(error_code)
        .execute(db.pool().await?)
        .await?;
    }
    Ok(())
}
