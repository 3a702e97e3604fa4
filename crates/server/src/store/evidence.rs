//! The consent record: one append-only event per step, hash-chained per
//! organization so that an edited, deleted or reordered event is detectable.
//!
//! `hash = sha256(prev_hash + canonical JSON of the event's fields)`; the
//! first event of an organization chains to 64 zeros.

use chrono::{DateTime, Utc};
use optin_core::consent::ConsentState;
use optin_core::vocab::{Cause, EvidenceKind};
use serde::Serialize;
use sha2::{Digest, Sha256};

pub use super::timestamp;
use super::{Store, StoreResult, UnitOfWork};

/// `prev_hash` of an organization's first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// An event to append.
#[derive(Debug, Clone)]
pub struct NewEvidence {
    pub organization_id: i64,
    pub phone: String,
    /// The advisor who acted, or on whose behalf the message was sent.
    pub advisor_id: Option<i64>,
    /// What happened.
    pub kind: EvidenceKind,
    /// Who caused it.
    pub cause: Cause,
    /// Consent state after the event, when it concerns consent.
    pub state_after: Option<ConsentState>,
    /// When the provider says it happened.
    pub provider_time: Option<DateTime<Utc>>,
    /// When we received or did it.
    pub received_at: DateTime<Utc>,
    /// Template, language, rendered text, message ids, error codes, ...
    pub detail: serde_json::Value,
    /// The raw webhook body this event came from.
    pub raw_body: Option<String>,
    /// Result of the webhook's signature check.
    pub signature_valid: Option<bool>,
}

impl NewEvidence {
    /// A step about `phone` that changes no consent state and comes from no webhook.
    pub fn new(
        organization_id: i64,
        phone: impl Into<String>,
        advisor_id: Option<i64>,
        kind: EvidenceKind,
        cause: Cause,
        detail: serde_json::Value,
        received_at: DateTime<Utc>,
    ) -> Self {
        Self {
            organization_id,
            phone: phone.into(),
            advisor_id,
            kind,
            cause,
            state_after: None,
            provider_time: None,
            received_at,
            detail,
            raw_body: None,
            signature_valid: None,
        }
    }

    /// The consent state the step left behind.
    pub fn with_state(mut self, state: ConsentState) -> Self {
        self.state_after = Some(state);
        self
    }

    /// The step came from a verified webhook: keep its raw body and provider time.
    pub fn from_webhook(mut self, raw_body: &str, provider_time: Option<DateTime<Utc>>) -> Self {
        self.raw_body = Some(raw_body.to_owned());
        self.provider_time = provider_time;
        self.signature_valid = Some(true);
        self
    }
}

/// A stored event, as exported.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct EvidenceRow {
    pub id: i64,
    pub organization_id: i64,
    pub seq: i64,
    pub phone_e164: String,
    pub advisor_id: Option<i64>,
    pub kind: String,
    pub cause: String,
    pub state_after: Option<String>,
    pub provider_time: Option<String>,
    pub received_at: String,
    pub detail_json: String,
    pub raw_body: Option<String>,
    pub signature_valid: Option<bool>,
    pub prev_hash: String,
    pub hash: String,
    /// `production` or `sandbox`; absent on steps recorded before modes were.
    pub mode: Option<String>,
}

/// The hash of an event given its fields and its predecessor's hash.
fn chain_hash(row: &EvidenceRow) -> String {
    let mut canonical = serde_json::json!([
        row.organization_id,
        row.seq,
        row.phone_e164,
        row.advisor_id,
        row.kind,
        row.cause,
        row.state_after,
        row.provider_time,
        row.received_at,
        row.detail_json,
        row.raw_body,
        row.signature_valid,
    ]);
    // The mode joins the hashed fields only where it was recorded, so steps
    // from before keep verifying.
    if let (Some(mode), Some(fields)) = (&row.mode, canonical.as_array_mut()) {
        fields.push(mode.as_str().into());
    }
    let mut hasher = Sha256::new();
    hasher.update(row.prev_hash.as_bytes());
    hasher.update(canonical.to_string().as_bytes());
    hex::encode(hasher.finalize())
}

impl UnitOfWork {
    /// Appends an event inside the unit of work; returns its id (also its
    /// live-stream id). The unit holds the write lock (`BEGIN IMMEDIATE`), so two
    /// writers never pick the same sequence number.
    pub async fn append_evidence(&mut self, event: NewEvidence) -> StoreResult<i64> {
        let tx = &mut self.tx;
        let last: Option<(i64, String)> = sqlx::query_as(
        "SELECT seq, hash FROM consent_events WHERE organization_id = $1 ORDER BY seq DESC LIMIT 1",
    )
    .bind(event.organization_id)
    .fetch_optional(&mut **tx)
    .await?;
        let (seq, prev_hash) = last.map_or((1, GENESIS.to_owned()), |(seq, hash)| (seq + 1, hash));
        let mut row = EvidenceRow {
            id: 0,
            organization_id: event.organization_id,
            seq,
            phone_e164: event.phone,
            advisor_id: event.advisor_id,
            kind: event.kind.as_str().to_owned(),
            cause: event.cause.as_str().to_owned(),
            state_after: event.state_after.map(|s| s.as_str().to_owned()),
            provider_time: event.provider_time.map(timestamp),
            received_at: timestamp(event.received_at),
            detail_json: event.detail.to_string(),
            raw_body: event.raw_body,
            signature_valid: event.signature_valid,
            prev_hash,
            hash: String::new(),
            mode: Some(self.mode.as_str().to_owned()),
        };
        row.hash = chain_hash(&row);
        Ok(sqlx::query_scalar(
            "INSERT INTO consent_events (organization_id, seq, phone_e164, advisor_id, kind, cause,
            state_after, provider_time, received_at, detail_json, raw_body, signature_valid,
            prev_hash, hash, mode)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING id",
        )
        .bind(row.organization_id)
        .bind(row.seq)
        .bind(&row.phone_e164)
        .bind(row.advisor_id)
        .bind(&row.kind)
        .bind(&row.cause)
        .bind(&row.state_after)
        .bind(&row.provider_time)
        .bind(&row.received_at)
        .bind(&row.detail_json)
        .bind(&row.raw_body)
        .bind(row.signature_valid)
        .bind(&row.prev_hash)
        .bind(&row.hash)
        .bind(&row.mode)
        .fetch_one(&mut **tx)
        .await?)
    }
}

impl EvidenceRow {
    /// The live-stream item for this event.
    pub fn live_event(&self) -> StoreResult<optin_core::api::LiveEvent> {
        let what = format!("consent event {}", self.id);
        Ok(optin_core::api::LiveEvent {
            id: self.id,
            kind: super::parse_name(&what, &self.kind)?,
            phone: self.phone_e164.clone(),
            state: self
                .state_after
                .as_deref()
                .map(|s| super::parse_name(&what, s))
                .transpose()?,
        })
    }
}

/// Where and why a chain stops being trustworthy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the consent record of organization {organization_id} is broken at event #{seq}: {reason}")]
pub struct BrokenLink {
    pub organization_id: i64,
    /// Sequence number of the first event that does not verify.
    pub seq: i64,
    pub reason: String,
}

const SELECT_EVENTS: &str = "SELECT id, organization_id, seq, phone_e164, advisor_id, kind, cause,
    state_after, provider_time, received_at, detail_json, raw_body, signature_valid, prev_hash, hash,
    mode FROM consent_events";

impl Store {
    /// Checks an organization's whole chain; returns how many events verified.
    pub async fn verify_chain(&self, organization_id: i64) -> StoreResult<Result<u64, BrokenLink>> {
        let rows: Vec<EvidenceRow> = sqlx::query_as(&format!(
            "{SELECT_EVENTS} WHERE organization_id = $1 ORDER BY id"
        ))
        .bind(organization_id)
        .fetch_all(&self.pool)
        .await?;
        let broken = |seq: i64, reason: String| {
            Ok(Err(BrokenLink {
                organization_id,
                seq,
                reason,
            }))
        };
        let mut prev_hash = GENESIS.to_owned();
        for (expected_seq, row) in (1..).zip(&rows) {
            if row.seq != expected_seq {
                return broken(
                    expected_seq,
                    format!(
                        "event #{expected_seq} is missing or out of order (found #{})",
                        row.seq
                    ),
                );
            }
            if row.prev_hash != prev_hash {
                return broken(row.seq, "it does not link to the event before it".into());
            }
            if chain_hash(row) != row.hash {
                return broken(
                    row.seq,
                    "its content was changed after it was recorded".into(),
                );
            }
            prev_hash = row.hash.clone();
        }
        Ok(Ok(rows.len() as u64))
    }

    /// An organization's events, optionally for one number, in order.
    pub async fn evidence(
        &self,
        organization_id: i64,
        phone: Option<&str>,
    ) -> StoreResult<Vec<EvidenceRow>> {
        sqlx::query_as(&format!(
            "{SELECT_EVENTS} WHERE organization_id = $1 AND ($2 IS NULL OR phone_e164 = $2) ORDER BY seq"
        ))
        .bind(organization_id)
        .bind(phone)
        .fetch_all(&self.pool)
        .await
        .map_err(Into::into)
    }

    /// Like [`Store::evidence`], but row by row as the database yields them,
    /// through a small buffer: memory stays flat however long the record.
    /// The query stops when the receiver is dropped.
    pub fn evidence_stream(
        &self,
        organization_id: i64,
        phone: Option<String>,
    ) -> tokio_stream::wrappers::ReceiverStream<StoreResult<EvidenceRow>> {
        let (tx, rx) = tokio::sync::mpsc::channel(32);
        let pool = self.pool.clone();
        tokio::spawn(async move {
            use futures_util::StreamExt;
            let sql = format!(
                "{SELECT_EVENTS} WHERE organization_id = $1 AND ($2 IS NULL OR phone_e164 = $2) ORDER BY seq"
            );
            let mut rows = sqlx::query_as::<_, EvidenceRow>(&sql)
                .bind(organization_id)
                .bind(phone)
                .fetch(&pool);
            while let Some(row) = rows.next().await {
                let failed = row.is_err();
                if tx.send(row.map_err(Into::into)).await.is_err() || failed {
                    return;
                }
            }
        });
        tokio_stream::wrappers::ReceiverStream::new(rx)
    }

    /// One event of the organization.
    pub async fn evidence_event(
        &self,
        organization_id: i64,
        id: i64,
    ) -> StoreResult<Option<EvidenceRow>> {
        sqlx::query_as(&format!(
            "{SELECT_EVENTS} WHERE organization_id = $1 AND id = $2"
        ))
        .bind(organization_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(Into::into)
    }

    /// Events after `after_id` for the live stream, oldest first.
    pub async fn evidence_after(
        &self,
        organization_id: i64,
        after_id: i64,
        limit: i64,
    ) -> StoreResult<Vec<EvidenceRow>> {
        sqlx::query_as(&format!(
            "{SELECT_EVENTS} WHERE organization_id = $1 AND id > $2 ORDER BY id LIMIT $3"
        ))
        .bind(organization_id)
        .bind(after_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(Into::into)
    }
}

/// The CSV export's header line.
pub const CSV_HEADER: &str = "seq,received_at,provider_time,phone_e164,advisor_id,kind,cause,state_after,detail_json,signature_valid,raw_body,prev_hash,hash,mode\r\n";

/// One CSV line per event, with a header line first.
pub fn to_csv(rows: &[EvidenceRow]) -> String {
    let mut out = String::from(CSV_HEADER);
    for row in rows {
        out.push_str(&csv_line(row));
    }
    out
}

/// One event as a CSV line under [`CSV_HEADER`]: RFC 4180 quoting, and
/// formulas neutralised (see [`optin_core::csv`]).
pub fn csv_line(row: &EvidenceRow) -> String {
    let mut out = String::new();
    let cells = [
        row.seq.to_string(),
        row.received_at.clone(),
        row.provider_time.clone().unwrap_or_default(),
        row.phone_e164.clone(),
        row.advisor_id.map(|a| a.to_string()).unwrap_or_default(),
        row.kind.clone(),
        row.cause.clone(),
        row.state_after.clone().unwrap_or_default(),
        row.detail_json.clone(),
        row.signature_valid
            .map(|v| v.to_string())
            .unwrap_or_default(),
        row.raw_body.clone().unwrap_or_default(),
        row.prev_hash.clone(),
        row.hash.clone(),
        row.mode.clone().unwrap_or_default(),
    ];
    for (i, cell) in cells.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&optin_core::csv::csv_cell(cell));
    }
    out.push_str("\r\n");
    out
}

impl Store {
    /// Id of the organization's latest event, 0 when there is none.
    pub async fn latest_event_id(&self, organization_id: i64) -> StoreResult<i64> {
        sqlx::query_scalar(
            "SELECT COALESCE(MAX(id), 0) FROM consent_events WHERE organization_id = $1",
        )
        .bind(organization_id)
        .fetch_one(&self.pool)
        .await
        .map_err(Into::into)
    }
}
