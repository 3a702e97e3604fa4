//! Rows of the consent flow: consent per number, requests, messages, the
//! outbox and webhook receipts. Functions take the caller's transaction so a
//! state change, its message, its outbox job and its evidence commit together.

use chrono::{DateTime, Utc};
use optin_core::api::{MessageView, TemplateView};
use optin_core::consent::ConsentStatus;
use sqlx::{Sqlite, Transaction};

use super::evidence::timestamp;
use super::Store;

/// A transaction on the store.
pub type Tx<'a> = Transaction<'a, Sqlite>;

/// Consent of one number, as stored.
#[derive(Debug, Clone, Default)]
pub struct ConsentRecord {
    pub status: ConsentStatus,
    pub last_inbound_at: Option<DateTime<Utc>>,
    pub sms_opted_out: bool,
}

fn parse_time(text: Option<String>) -> Option<DateTime<Utc>> {
    text.and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// Reads a number's consent; "never asked" when there is no row.
pub async fn load(
    tx: &mut Tx<'_>,
    organization_id: i64,
    phone: &str,
) -> Result<ConsentRecord, sqlx::Error> {
    let row: Option<(String, Option<String>, bool)> = sqlx::query_as(
        "SELECT status_json, last_inbound_at, sms_opted_out FROM consents
         WHERE organization_id = $1 AND phone_e164 = $2",
    )
    .bind(organization_id)
    .bind(phone)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(
        row.map_or_else(ConsentRecord::default, |(json, inbound, sms_out)| {
            ConsentRecord {
                status: serde_json::from_str(&json).unwrap_or_default(),
                last_inbound_at: parse_time(inbound),
                sms_opted_out: sms_out,
            }
        }),
    )
}

/// Writes a number's consent.
pub async fn save(
    tx: &mut Tx<'_>,
    organization_id: i64,
    phone: &str,
    record: &ConsentRecord,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let json = serde_json::to_string(&record.status).expect("consent status serializes");
    sqlx::query(
        "INSERT INTO consents (organization_id, phone_e164, state, status_json, last_inbound_at, sms_opted_out, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (organization_id, phone_e164) DO UPDATE SET
           state = excluded.state, status_json = excluded.status_json,
           last_inbound_at = excluded.last_inbound_at, sms_opted_out = excluded.sms_opted_out,
           updated_at = excluded.updated_at",
    )
    .bind(organization_id)
    .bind(phone)
    .bind(record.status.state.as_str())
    .bind(json)
    .bind(record.last_inbound_at.map(timestamp))
    .bind(record.sms_opted_out)
    .bind(timestamp(now))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A message to store.
pub struct NewMessage<'a> {
    pub organization_id: i64,
    pub phone: &'a str,
    pub channel: &'static str,
    pub direction: &'static str,
    pub purpose: &'static str,
    pub advisor_id: Option<i64>,
    pub opt_in_request_id: Option<&'a str>,
    pub template: Option<(&'a str, &'a str)>,
    pub body: &'a str,
    pub provider_message_id: Option<&'a str>,
    pub status: &'static str,
}

/// Stores a message; returns its id.
pub async fn insert_message(
    tx: &mut Tx<'_>,
    m: NewMessage<'_>,
    now: DateTime<Utc>,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO messages (organization_id, phone_e164, channel, direction, purpose, advisor_id,
            opt_in_request_id, template_name, template_language, body, provider_message_id, status,
            created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13) RETURNING id",
    )
    .bind(m.organization_id)
    .bind(m.phone)
    .bind(m.channel)
    .bind(m.direction)
    .bind(m.purpose)
    .bind(m.advisor_id)
    .bind(m.opt_in_request_id)
    .bind(m.template.map(|t| t.0))
    .bind(m.template.map(|t| t.1))
    .bind(m.body)
    .bind(m.provider_message_id)
    .bind(m.status)
    .bind(timestamp(now))
    .fetch_one(&mut **tx)
    .await
}

/// Queues a provider call for a stored message.
pub async fn enqueue(
    tx: &mut Tx<'_>,
    message_id: i64,
    payload: &serde_json::Value,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO outbox (message_id, payload_json, idempotency_key, state, next_attempt_at)
         VALUES ($1, $2, $3, 'pending', $4)",
    )
    .bind(message_id)
    .bind(payload.to_string())
    .bind(format!("optin-msg-{message_id}-{}", uuid::Uuid::new_v4()))
    .bind(timestamp(now))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Records a webhook item; false when it was seen before.
pub async fn first_receipt(
    tx: &mut Tx<'_>,
    key: &str,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query(
        "INSERT OR IGNORE INTO webhook_receipts (dedupe_key, received_at) VALUES ($1, $2)",
    )
    .bind(key)
    .bind(timestamp(now))
    .execute(&mut **tx)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

/// The outbound message a provider id belongs to.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SentMessage {
    pub id: i64,
    pub organization_id: i64,
    pub phone_e164: String,
    pub channel: String,
    pub purpose: String,
    pub advisor_id: Option<i64>,
    pub opt_in_request_id: Option<String>,
    pub status: String,
}

const SENT_COLUMNS: &str =
    "id, organization_id, phone_e164, channel, purpose, advisor_id, opt_in_request_id, status";

/// Finds an outbound message by its provider id.
pub async fn message_by_provider_id(
    tx: &mut Tx<'_>,
    provider_id: &str,
) -> Result<Option<SentMessage>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {SENT_COLUMNS} FROM messages WHERE provider_message_id = $1"
    ))
    .bind(provider_id)
    .fetch_optional(&mut **tx)
    .await
}

/// Finds a message by id.
pub async fn message_by_id(tx: &mut Tx<'_>, id: i64) -> Result<Option<SentMessage>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {SENT_COLUMNS} FROM messages WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
}

/// Sets a message's delivery status (and error, for failures).
pub async fn set_message_status(
    tx: &mut Tx<'_>,
    id: i64,
    status: &str,
    error: Option<(i64, &str)>,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE messages SET status = $2, error_code = COALESCE($3, error_code),
           error_title = COALESCE($4, error_title), updated_at = $5 WHERE id = $1",
    )
    .bind(id)
    .bind(status)
    .bind(error.map(|e| e.0))
    .bind(error.map(|e| e.1))
    .bind(timestamp(now))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Row of `messages` as the conversation shows it.
#[derive(sqlx::FromRow)]
struct MessageRow {
    id: i64,
    channel: String,
    direction: String,
    purpose: String,
    body: String,
    template_name: Option<String>,
    status: String,
    error_code: Option<i64>,
    error_title: Option<String>,
    created_at: String,
}

/// An approved template row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TemplateRow {
    pub name: String,
    pub language: String,
    pub category: String,
    pub purpose: String,
    pub body: String,
}

impl From<TemplateRow> for TemplateView {
    fn from(t: TemplateRow) -> Self {
        let parameters = optin_core::api::template_parameters(&t.body);
        TemplateView {
            name: t.name,
            language: t.language,
            category: t.category,
            body: t.body,
            parameters,
        }
    }
}

impl Store {
    /// A number's consent, outside any transaction.
    pub async fn consent(
        &self,
        organization_id: i64,
        phone: &str,
    ) -> Result<ConsentRecord, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        load(&mut tx, organization_id, phone).await
    }

    /// A transaction that takes the write lock at once (no upgrade deadlocks in SQLite).
    pub async fn begin_write(&self) -> Result<Tx<'static>, sqlx::Error> {
        self.pool.begin_with("BEGIN IMMEDIATE").await
    }

    /// The conversation with a number, oldest first.
    pub async fn conversation(
        &self,
        organization_id: i64,
        phone: &str,
    ) -> Result<Vec<MessageView>, sqlx::Error> {
        let rows: Vec<MessageRow> = sqlx::query_as(
            "SELECT id, channel, direction, purpose, body, template_name, status, error_code, error_title, created_at
             FROM messages WHERE organization_id = $1 AND phone_e164 = $2 ORDER BY id",
        )
        .bind(organization_id)
        .bind(phone)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| MessageView {
                id: r.id,
                channel: r.channel,
                direction: r.direction,
                purpose: r.purpose,
                body: r.body,
                template_name: r.template_name,
                status: r.status,
                error_code: r.error_code,
                error_title: r.error_title,
                at: parse_time(Some(r.created_at)).unwrap_or_default(),
            })
            .collect())
    }

    /// The organization's approved templates.
    pub async fn templates(&self, organization_id: i64) -> Result<Vec<TemplateRow>, sqlx::Error> {
        sqlx::query_as(
            "SELECT name, language, category, purpose, body FROM templates
             WHERE organization_id = $1 ORDER BY purpose, name, language",
        )
        .bind(organization_id)
        .fetch_all(&self.pool)
        .await
    }
}
