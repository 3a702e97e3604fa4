//! The consent record: one append-only event per step, hash-chained per
//! organization so that an edited, deleted or reordered event is detectable.
//!
//! `hash = sha256(prev_hash + canonical JSON of the event's fields)`; the
//! first event of an organization chains to 64 zeros. Which fields are hashed
//! depends on the event's [`HashForm`], recorded with it, so events from
//! before a field was added keep verifying.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use optin_core::consent::ConsentState;
use optin_core::vocab::{Cause, EvidenceKind};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::deferred::{insert_returning_id, AnyQuery, Deferred, DeferredRow};
pub use super::timestamp;
use super::{Store, StoreResult, UnitOfWork};
use crate::checkpoints::Checkpoint;

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
    /// The webhook's signature header exactly as received.
    pub signature_header: Option<String>,
    /// SMS: the URL the provider signed.
    pub signed_url: Option<String>,
}

/// A webhook body with what authenticated it, exactly as received: enough for
/// anyone holding the provider's secret to check its signature again.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReceivedWebhook {
    /// The body as received.
    pub body: String,
    /// The `X-Hub-Signature-256` or `X-Twilio-Signature` header as received;
    /// absent only on webhooks kept before signatures were (migration 0019).
    pub signature: Option<String>,
    /// SMS: the URL the provider signed (Twilio signs the URL it called,
    /// followed by the form pairs).
    pub signed_url: Option<String>,
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
            signature_header: None,
            signed_url: None,
        }
    }

    /// The consent state the step left behind.
    pub fn with_state(mut self, state: ConsentState) -> Self {
        self.state_after = Some(state);
        self
    }

    /// The step came from a verified webhook: keep its raw body, its
    /// signature as received and the provider time.
    pub fn from_webhook(
        mut self,
        webhook: &ReceivedWebhook,
        provider_time: Option<DateTime<Utc>>,
    ) -> Self {
        self.raw_body = Some(webhook.body.clone());
        self.signature_header = webhook.signature.clone();
        self.signed_url = webhook.signed_url.clone();
        self.provider_time = provider_time;
        self.signature_valid = Some(true);
        self
    }
}

/// A stored event, as exported (and read back from an export by `verify-bundle`).
#[derive(Debug, Clone, Serialize, Deserialize, sqlx::FromRow, utoipa::ToSchema)]
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
    #[sqlx(try_from = "super::MaybeFlag")]
    pub signature_valid: Option<bool>,
    pub prev_hash: String,
    pub hash: String,
    /// `production` or `sandbox`; absent on steps recorded before modes were.
    pub mode: Option<String>,
    /// The webhook's signature header exactly as received (absent before
    /// migration 0019 and on steps that came from no webhook).
    pub signature_header: Option<String>,
    /// SMS: the URL the provider signed.
    pub signed_url: Option<String>,
    /// Which fields [`EvidenceRow::hash`] covers.
    #[schema(value_type = i64)]
    pub hash_form: HashForm,
}

/// The fields an event's hash covers, by the version it was recorded under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[repr(i64)]
pub enum HashForm {
    /// Before migration 0019: the event's fields, and its mode where recorded.
    V1 = 1,
    /// Since: form 2 first, then the fields of form 1, the mode, the
    /// signature header and the signed URL.
    V2 = 2,
}

impl Serialize for HashForm {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_i64(*self as i64)
    }
}

impl<'de> Deserialize<'de> for HashForm {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match i64::deserialize(deserializer)? {
            1 => Ok(Self::V1),
            2 => Ok(Self::V2),
            other => Err(serde::de::Error::custom(format!(
                "hash_form {other} is not one this version knows (1 or 2)"
            ))),
        }
    }
}

/// The hash of an event given its fields and its predecessor's hash (public:
/// anyone holding an export can recompute it): the SHA-256 of [`hashed_text`].
pub fn chain_hash(row: &EvidenceRow) -> String {
    hex::encode(Sha256::digest(hashed_text(row).as_bytes()))
}

/// The exact text an event's hash is taken over: its predecessor's hash (64
/// hex digits) followed by the canonical JSON array of its fields.
pub fn hashed_text(row: &EvidenceRow) -> String {
    let canonical = match row.hash_form {
        HashForm::V1 => hashed_fields_v1(row),
        HashForm::V2 => serde_json::json!([
            HashForm::V2 as i64,
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
            row.mode,
            row.signature_header,
            row.signed_url,
        ]),
    };
    format!("{}{canonical}", row.prev_hash)
}

/// The fields hashed before migration 0019.
fn hashed_fields_v1(row: &EvidenceRow) -> serde_json::Value {
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
    canonical
}

impl UnitOfWork {
    /// Appends an event inside the unit of work; returns its id (also its
    /// live-stream id). The unit holds the write lock (`BEGIN IMMEDIATE`), so two
    /// writers never pick the same sequence number.
    pub async fn append_evidence(&mut self, event: NewEvidence) -> StoreResult<i64> {
        let last = match self.known.chain_heads.remove(&event.organization_id) {
            Some(head) => Some(head),
            // Unknown only while none of the organization's steps is
            // deferred (each one deferred leaves its head known): the
            // deferred rows need not be written first.
            None => head(self.conn_as_is(), event.organization_id).await?,
        };
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
            signature_header: event.signature_header,
            signed_url: event.signed_url,
            hash_form: HashForm::V2,
        };
        row.hash = chain_hash(&row);
        let head = (row.seq, row.hash.clone());
        let id = self.insert_row(row).await?;
        // Only once the insert stood: a failed one leaves the head unknown.
        self.known.chain_heads.insert(event.organization_id, head);
        Ok(id)
    }
}

/// The columns a step is written with, `id` first, in the order [`DeferredRow::bind_to`] binds them.
const EVENT_COLUMN_NAMES: &str = "id, organization_id, seq, phone_e164, advisor_id, kind, cause, \
    state_after, provider_time, received_at, detail_json, raw_body, signature_valid, prev_hash, \
    hash, mode, signature_header, signed_url, hash_form";
const EVENT_COLUMNS: usize = 19;

impl DeferredRow for EvidenceRow {
    const TABLE: &'static str = "consent_events";
    const COLUMNS: &'static str = EVENT_COLUMN_NAMES;
    const COLUMN_COUNT: usize = EVENT_COLUMNS;

    fn set_id(&mut self, id: i64) {
        self.id = id;
    }

    fn kept(deferred: &mut Deferred) -> &mut Vec<Self> {
        &mut deferred.events
    }

    fn insert_returning_id() -> &'static str {
        static SQL: LazyLock<String> = LazyLock::new(insert_returning_id::<EvidenceRow>);
        &SQL
    }

    fn bind_to<'q>(&'q self, query: AnyQuery<'q>, with_id: bool) -> AnyQuery<'q> {
        let query = if with_id { query.bind(self.id) } else { query };
        query
            .bind(self.organization_id)
            .bind(self.seq)
            .bind(&self.phone_e164)
            .bind(self.advisor_id)
            .bind(&self.kind)
            .bind(&self.cause)
            .bind(&self.state_after)
            .bind(&self.provider_time)
            .bind(&self.received_at)
            .bind(&self.detail_json)
            .bind(&self.raw_body)
            .bind(self.signature_valid)
            .bind(&self.prev_hash)
            .bind(&self.hash)
            .bind(&self.mode)
            .bind(&self.signature_header)
            .bind(&self.signed_url)
            .bind(self.hash_form)
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
#[error("the consent record of organization {organization_id} is broken at event #{seq}: {fault}")]
pub struct BrokenLink {
    pub organization_id: i64,
    /// Sequence number of the first event that does not verify.
    pub seq: i64,
    pub fault: Fault,
}

/// What is wrong at a [`BrokenLink`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Fault {
    /// Sequence numbers jump: the events in between were deleted.
    #[error("{}: a gap in the sequence", missing(*.from, *.to))]
    Gap { from: i64, to: i64 },
    /// An event sits where an earlier number belongs.
    #[error("event #{expected} is out of order (found #{found} in its place)")]
    OutOfOrder { expected: i64, found: i64 },
    /// The event does not name its predecessor's hash.
    #[error("it does not link to the event before it")]
    Unlinked,
    /// The event's hash is not the hash of its content.
    #[error("its content was changed after it was recorded")]
    Changed,
    /// The chain verifies on its own, but a signed checkpoint names another
    /// head: events were rewritten and the later hashes recomputed. The
    /// first rewritten event is after the last checkpoint that agrees.
    #[error(
        "the record was rewritten: the checkpoint signed at {signed_at} names head {signed} for \
         event #{checkpoint_seq}, the record gives {recorded}; the first event that may differ is \
         #{from} (the last checkpoint that agrees covers #{agrees_to})"
    )]
    Rewritten {
        from: i64,
        agrees_to: i64,
        checkpoint_seq: i64,
        signed: String,
        recorded: String,
        signed_at: String,
    },
    /// A signed checkpoint covers events the record no longer has.
    #[error(
        "{}: the record was truncated (a checkpoint signed at {signed_at} covers #{to})",
        missing(*.from, *.to)
    )]
    Truncated {
        from: i64,
        to: i64,
        signed_at: String,
    },
}

/// "event #3 is missing", "events #3..#5 are missing".
fn missing(from: i64, to: i64) -> String {
    if from == to {
        format!("event #{from} is missing")
    } else {
        format!("events #{from}..#{to} are missing")
    }
}

/// One link of the chain, without the event's content: enough to follow
/// the chain from one event to a later head.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ChainLink {
    pub seq: i64,
    pub prev_hash: String,
    pub hash: String,
}

/// Passes the rows of a query on through `tx` until they end, one fails,
/// or the receiver is gone (which stops the query).
async fn forward<T>(
    mut rows: impl futures_util::Stream<Item = Result<T, sqlx::Error>> + Unpin,
    tx: tokio::sync::mpsc::Sender<StoreResult<T>>,
) {
    use futures_util::StreamExt;
    while let Some(row) = rows.next().await {
        let failed = row.is_err();
        if tx.send(row.map_err(Into::into)).await.is_err() || failed {
            return;
        }
    }
}

const SELECT_EVENTS: &str = "SELECT id, organization_id, seq, phone_e164, advisor_id, kind, cause,
    state_after, provider_time, received_at, detail_json, raw_body, signature_valid, prev_hash, hash,
    mode, signature_header, signed_url, hash_form FROM consent_events";

/// The organization's last event: its sequence number and hash.
async fn head<'e>(
    executor: impl sqlx::any::AnyExecutor<'e>,
    organization_id: i64,
) -> StoreResult<Option<(i64, String)>> {
    Ok(sqlx::query_as(
        "SELECT seq, hash FROM consent_events WHERE organization_id = $1 ORDER BY seq DESC LIMIT 1",
    )
    .bind(organization_id)
    .fetch_optional(executor)
    .await?)
}

impl Store {
    /// Checks an organization's whole chain, and that it agrees with the
    /// signed `checkpoints` (already verified); returns how many events
    /// verified, or the first event that does not.
    pub async fn verify_chain(
        &self,
        organization_id: i64,
        checkpoints: &[Checkpoint],
    ) -> StoreResult<Result<u64, BrokenLink>> {
        let rows: Vec<EvidenceRow> = sqlx::query_as(&format!(
            "{SELECT_EVENTS} WHERE organization_id = $1 ORDER BY id"
        ))
        .bind(organization_id)
        .fetch_all(&self.pool)
        .await?;
        let broken = |seq: i64, fault: Fault| {
            Ok(Err(BrokenLink {
                organization_id,
                seq,
                fault,
            }))
        };
        let mut signed: Vec<&Checkpoint> = checkpoints.iter().collect();
        signed.sort_by_key(|c| c.seq);
        let mut signed = signed.into_iter().peekable();
        // The last event a checkpoint agrees with: a rewrite starts after it.
        let mut agrees_to = 0;
        let mut prev_hash = GENESIS.to_owned();
        for (expected_seq, row) in (1..).zip(&rows) {
            if row.seq > expected_seq {
                let (from, to) = (expected_seq, row.seq - 1);
                return broken(from, Fault::Gap { from, to });
            }
            if row.seq < expected_seq {
                let (expected, found) = (expected_seq, row.seq);
                return broken(expected, Fault::OutOfOrder { expected, found });
            }
            if row.prev_hash != prev_hash {
                return broken(row.seq, Fault::Unlinked);
            }
            if chain_hash(row) != row.hash {
                return broken(row.seq, Fault::Changed);
            }
            while let Some(checkpoint) = signed.next_if(|c| c.seq <= row.seq) {
                if checkpoint.head != row.hash {
                    let from = agrees_to + 1;
                    return broken(
                        from,
                        Fault::Rewritten {
                            from,
                            agrees_to,
                            checkpoint_seq: checkpoint.seq,
                            signed: checkpoint.head.clone(),
                            recorded: row.hash.clone(),
                            signed_at: timestamp(checkpoint.at),
                        },
                    );
                }
                agrees_to = row.seq;
            }
            prev_hash = row.hash.clone();
        }
        if let Some(beyond) = signed.max_by_key(|c| c.seq) {
            let from = rows.last().map_or(1, |row| row.seq + 1);
            return broken(
                from,
                Fault::Truncated {
                    from,
                    to: beyond.seq,
                    signed_at: timestamp(beyond.at),
                },
            );
        }
        Ok(Ok(rows.len() as u64))
    }

    /// The organization's last event (sequence number and hash), if any.
    pub async fn chain_head(&self, organization_id: i64) -> StoreResult<Option<(i64, String)>> {
        head(&self.pool, organization_id).await
    }

    /// The hash recorded for one event of the organization.
    pub async fn event_hash(&self, organization_id: i64, seq: i64) -> StoreResult<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT hash FROM consent_events WHERE organization_id = $1 AND seq = $2",
        )
        .bind(organization_id)
        .bind(seq)
        .fetch_optional(&self.pool)
        .await?)
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
    /// `up_to` stops at that sequence number (a bundle reads the record twice
    /// and both reads must end at the same event). The query stops when the
    /// receiver is dropped.
    pub fn evidence_stream(
        &self,
        organization_id: i64,
        phone: Option<String>,
        up_to: Option<i64>,
    ) -> tokio_stream::wrappers::ReceiverStream<StoreResult<EvidenceRow>> {
        let (tx, rx) = tokio::sync::mpsc::channel(32);
        let pool = self.pool.clone();
        tokio::spawn(async move {
            let sql = format!(
                "{SELECT_EVENTS} WHERE organization_id = $1 AND ($2 IS NULL OR phone_e164 = $2)
                 AND ($3 IS NULL OR seq <= $3) ORDER BY seq"
            );
            let rows = sqlx::query_as::<_, EvidenceRow>(&sql)
                .bind(organization_id)
                .bind(phone)
                .bind(up_to)
                .fetch(&pool);
            forward(rows, tx).await;
        });
        tokio_stream::wrappers::ReceiverStream::new(rx)
    }

    /// The links of the organization's chain from sequence number `from` to
    /// `to`, in order, streamed like [`Store::evidence_stream`].
    pub fn chain_links(
        &self,
        organization_id: i64,
        from: i64,
        to: i64,
    ) -> tokio_stream::wrappers::ReceiverStream<StoreResult<ChainLink>> {
        let (tx, rx) = tokio::sync::mpsc::channel(256);
        let pool = self.pool.clone();
        tokio::spawn(async move {
            let rows = sqlx::query_as::<_, ChainLink>(
                "SELECT seq, prev_hash, hash FROM consent_events
                 WHERE organization_id = $1 AND seq BETWEEN $2 AND $3 ORDER BY seq",
            )
            .bind(organization_id)
            .bind(from)
            .bind(to)
            .fetch(&pool);
            forward(rows, tx).await;
        });
        tokio_stream::wrappers::ReceiverStream::new(rx)
    }

    /// The first and last sequence numbers of a number's events, if it has any.
    pub async fn number_seq_range(
        &self,
        organization_id: i64,
        phone: &str,
    ) -> StoreResult<Option<(i64, i64)>> {
        let (first, last): (Option<i64>, Option<i64>) = sqlx::query_as(
            "SELECT MIN(seq), MAX(seq) FROM consent_events WHERE organization_id = $1 AND phone_e164 = $2",
        )
        .bind(organization_id)
        .bind(phone)
        .fetch_one(&self.pool)
        .await?;
        Ok(first.zip(last))
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

    /// Events with ids from `first` to `last`, both included, oldest first
    /// (the consent-record items of an archive batch).
    pub async fn evidence_between(
        &self,
        organization_id: i64,
        first: i64,
        last: i64,
    ) -> StoreResult<Vec<EvidenceRow>> {
        sqlx::query_as(&format!(
            "{SELECT_EVENTS} WHERE organization_id = $1 AND id BETWEEN $2 AND $3 ORDER BY id"
        ))
        .bind(organization_id)
        .bind(first)
        .bind(last)
        .fetch_all(&self.pool)
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
pub const CSV_HEADER: &str = "seq,received_at,provider_time,phone_e164,advisor_id,kind,cause,state_after,detail_json,signature_valid,raw_body,prev_hash,hash,mode,signature_header,signed_url,hash_form\r\n";

/// One event as a line of the JSON lines export.
pub fn jsonl_line(row: &EvidenceRow) -> String {
    serde_json::to_string(row).expect("rows serialize") + "\n"
}

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
        row.signature_header.clone().unwrap_or_default(),
        row.signed_url.clone().unwrap_or_default(),
        (row.hash_form as i64).to_string(),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn row(hash_form: HashForm) -> EvidenceRow {
        EvidenceRow {
            id: 9,
            organization_id: 1,
            seq: 3,
            phone_e164: "+447911123456".into(),
            advisor_id: Some(2),
            kind: "requested".into(),
            cause: "advisor".into(),
            state_after: Some("sending".into()),
            provider_time: None,
            received_at: "2026-01-01T00:00:00.000Z".into(),
            detail_json: "{}".into(),
            raw_body: Some("{\"a\":1}".into()),
            signature_valid: Some(true),
            prev_hash: GENESIS.into(),
            hash: String::new(),
            mode: Some("sandbox".into()),
            signature_header: Some("sha256=ab".into()),
            signed_url: None,
            hash_form,
        }
    }

    fn sha256_hex(text: &str) -> String {
        hex::encode(Sha256::digest(text.as_bytes()))
    }

    #[test]
    fn events_recorded_before_the_signature_fields_keep_their_hash() {
        // Form 1, written out by hand: what every event before migration 0019
        // was hashed over (the signature fields are not part of it).
        let v1 = r#"[1,3,"+447911123456",2,"requested","advisor","sending",null,"2026-01-01T00:00:00.000Z","{}","{\"a\":1}",true,"sandbox"]"#;
        assert_eq!(
            chain_hash(&row(HashForm::V1)),
            sha256_hex(&format!("{GENESIS}{v1}"))
        );
    }

    #[test]
    fn form_2_covers_the_signature_header_and_the_signed_url() {
        let v2 = r#"[2,1,3,"+447911123456",2,"requested","advisor","sending",null,"2026-01-01T00:00:00.000Z","{}","{\"a\":1}",true,"sandbox","sha256=ab",null]"#;
        let original = row(HashForm::V2);
        assert_eq!(chain_hash(&original), sha256_hex(&format!("{GENESIS}{v2}")));
        let mut forged = original.clone();
        forged.signature_header = Some("sha256=cd".into());
        assert_ne!(chain_hash(&forged), chain_hash(&original));
        forged = original.clone();
        forged.signed_url = Some("https://elsewhere.example/webhooks/sms".into());
        assert_ne!(chain_hash(&forged), chain_hash(&original));
    }
}
