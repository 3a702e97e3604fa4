//! The archive feed (migration 0020): every message and every consent-record
//! step of an organization, numbered by one increasing cursor, and how far
//! SMTP delivery of it has gone.
//!
//! Why a feed table filled by triggers, rather than messages by id and
//! steps by sequence merged at read time: two sequences need a two-part
//! cursor and a merge rule, and a message's row changes after it is written
//! (status, provider id), so rendering it from its live row would give a
//! different record each time. A feed row is written in the same
//! transaction as its message or step, in commit order, and keeps what the
//! message was when stored: each record is archived once, and an item reads
//! the same every time it is read.

use chrono::{DateTime, Utc};
use optin_core::consent::ConsentState;
use optin_core::vocab::{Channel, Direction, MessageStatus, Purpose};

use super::evidence::EvidenceRow;
use super::messages::ADVISOR_OF_MESSAGE;
use super::{parse_name, parse_timestamp, timestamp, Store, StoreError, StoreResult};

/// One item of the feed, with what its rendering needs.
#[derive(Debug, Clone)]
pub struct ArchiveItem {
    /// Its place in the feed.
    pub cursor: i64,
    pub organization_id: i64,
    pub organization_name: String,
    pub phone_e164: String,
    pub channel: Channel,
    /// The advisor who sent the message or acted (or, for a reply, whose
    /// conversation it answers), with their name.
    pub advisor: Option<(i64, String)>,
    /// The contact's name as the advisor (or else the first advisor) holds
    /// the number, as it is now.
    pub contact_name: Option<String>,
    /// The number's consent state when the item was written (a step's own
    /// state after, when it has one).
    pub consent_state: Option<ConsentState>,
    pub record: ArchivedRecord,
}

/// What an item records.
#[derive(Debug, Clone)]
pub enum ArchivedRecord {
    Message(ArchivedMessage),
    ConsentEvent(Box<EvidenceRow>),
}

/// A message as it was when stored.
#[derive(Debug, Clone)]
pub struct ArchivedMessage {
    pub id: i64,
    pub direction: Direction,
    pub purpose: Purpose,
    /// Template name and language, for template messages.
    pub template: Option<(String, String)>,
    pub body: String,
    /// The provider's id when it was stored (inbound ones have it; an
    /// outbound one gets it later, recorded by its `provider_accepted` step).
    pub provider_message_id: Option<String>,
    pub status: MessageStatus,
    pub at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct FeedRow {
    cursor: i64,
    organization_name: String,
    consent_state: Option<String>,
    message_id: Option<i64>,
    message_status: Option<String>,
    provider_message_id: Option<String>,
    consent_event_id: Option<i64>,
    phone_e164: String,
    channel: Option<String>,
    direction: Option<String>,
    purpose: Option<String>,
    template_name: Option<String>,
    template_language: Option<String>,
    body: Option<String>,
    created_at: Option<String>,
    event_kind: Option<String>,
    advisor_id: Option<i64>,
    advisor_name: Option<String>,
    contact_name: Option<String>,
}

/// A step's channel: the one its detail names, or its message's; else SMS
/// for the SMS kinds and WhatsApp for the others (the opt-in flow's).
fn event_channel(what: &str, row: &FeedRow) -> StoreResult<Channel> {
    match (&row.channel, &row.event_kind) {
        (Some(channel), _) => parse_name(what, channel),
        (None, Some(kind)) if kind.starts_with("sms") => Ok(Channel::Sms),
        _ => Ok(Channel::Whatsapp),
    }
}

impl Store {
    /// Up to `limit` items of the organization after `after`, in feed order.
    /// A feed row whose message is gone (purged) is skipped: there is
    /// nothing left to archive.
    pub async fn archive_items(
        &self,
        organization_id: i64,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<ArchiveItem>> {
        let engine = self.engine();
        let channel_of_event = engine.json_text("e.detail_json", "channel");
        let event_message = engine.json_integer("e.detail_json", "message_id");
        let rows: Vec<FeedRow> = sqlx::query_as(&format!(
            "SELECT f.id AS cursor, o.name AS organization_name, f.consent_state,
                f.message_id, f.message_status, f.provider_message_id, f.consent_event_id,
                COALESCE(m.phone_e164, e.phone_e164) AS phone_e164,
                COALESCE(m.channel, {channel_of_event}, em.channel) AS channel,
                m.direction, m.purpose, m.template_name, m.template_language, m.body, m.created_at,
                e.kind AS event_kind, a.id AS advisor_id, a.name AS advisor_name,
                COALESCE(
                  (SELECT c.name FROM contacts c
                   WHERE c.advisor_id = a.id AND c.phone_e164 = COALESCE(m.phone_e164, e.phone_e164)),
                  (SELECT c.name FROM contacts c JOIN advisors ca ON ca.id = c.advisor_id
                   WHERE ca.organization_id = f.organization_id
                     AND c.phone_e164 = COALESCE(m.phone_e164, e.phone_e164)
                   ORDER BY c.id LIMIT 1)) AS contact_name
             FROM archive_feed f
             JOIN organizations o ON o.id = f.organization_id
             LEFT JOIN messages m ON m.id = f.message_id
             LEFT JOIN consent_events e ON e.id = f.consent_event_id
             LEFT JOIN messages em ON em.id = {event_message}
             LEFT JOIN advisors a ON a.id = CASE WHEN m.id IS NOT NULL
                 THEN {ADVISOR_OF_MESSAGE} ELSE e.advisor_id END
             WHERE f.organization_id = $1 AND f.id > $2 AND (m.id IS NOT NULL OR e.id IS NOT NULL)
             ORDER BY f.id LIMIT $3"
        ))
        .bind(organization_id)
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        let event_ids = rows.iter().filter_map(|row| row.consent_event_id);
        let mut events = match (event_ids.clone().min(), event_ids.max()) {
            (Some(first), Some(last)) => {
                self.evidence_between(organization_id, first, last).await?
            }
            _ => Vec::new(),
        }
        .into_iter()
        .map(|event| (event.id, event))
        .collect::<std::collections::HashMap<_, _>>();
        rows.into_iter()
            .map(|row| {
                let what = format!("archive item {}", row.cursor);
                let record = match (row.message_id, row.consent_event_id) {
                    (Some(id), _) => ArchivedRecord::Message(ArchivedMessage {
                        id,
                        direction: parse_name(&what, row.direction.as_deref().unwrap_or(""))?,
                        purpose: parse_name(&what, row.purpose.as_deref().unwrap_or(""))?,
                        template: row.template_name.clone().zip(row.template_language.clone()),
                        body: row.body.clone().unwrap_or_default(),
                        provider_message_id: row.provider_message_id.clone(),
                        status: parse_name(&what, row.message_status.as_deref().unwrap_or(""))?,
                        at: parse_timestamp(&what, row.created_at.as_deref().unwrap_or(""))?,
                    }),
                    (None, Some(id)) => ArchivedRecord::ConsentEvent(Box::new(
                        events.remove(&id).ok_or_else(|| StoreError::Corrupt {
                            what: what.clone(),
                            problem: format!("consent event {id} was not read"),
                        })?,
                    )),
                    (None, None) => {
                        return Err(StoreError::Corrupt {
                            what,
                            problem: "names neither a message nor a consent event".into(),
                        })
                    }
                };
                Ok(ArchiveItem {
                    cursor: row.cursor,
                    organization_id,
                    channel: event_channel(&what, &row)?,
                    consent_state: row
                        .consent_state
                        .as_deref()
                        .map(|state| parse_name(&what, state))
                        .transpose()?,
                    advisor: row.advisor_id.zip(row.advisor_name),
                    contact_name: row.contact_name,
                    organization_name: row.organization_name,
                    phone_e164: row.phone_e164,
                    record,
                })
            })
            .collect()
    }

    /// Organizations with items not delivered yet, each with the cursor
    /// its delivery stands at (0: nothing delivered).
    pub async fn archive_backlog(&self) -> StoreResult<Vec<(i64, i64)>> {
        // One index probe per organization, not a scan of the feed.
        Ok(sqlx::query_as(
            "SELECT o.id, COALESCE(d.delivered_through, 0) AS delivered_through
             FROM organizations o
             LEFT JOIN archive_deliveries d ON d.organization_id = o.id
             WHERE EXISTS (SELECT 1 FROM archive_feed f
                           WHERE f.organization_id = o.id
                             AND f.id > COALESCE(d.delivered_through, 0))
             ORDER BY o.id",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Records that the journaling server accepted every item up to
    /// `cursor`. Never moves back: a slower writer cannot undo a faster one.
    pub async fn archive_delivered(
        &self,
        organization_id: i64,
        cursor: i64,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO archive_deliveries (organization_id, delivered_through, delivered_at)
             VALUES ($1, $2, $3)
             ON CONFLICT (organization_id) DO UPDATE SET
               delivered_through = CASE
                 WHEN excluded.delivered_through > archive_deliveries.delivered_through
                 THEN excluded.delivered_through ELSE archive_deliveries.delivered_through END,
               delivered_at = excluded.delivered_at",
        )
        .bind(organization_id)
        .bind(cursor)
        .bind(timestamp(now))
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
