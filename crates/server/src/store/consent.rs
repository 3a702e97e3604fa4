//! Consent per (organization, number), in explicit columns, and the opt-in
//! requests whose ids travel in the Yes/No buttons.

use std::sync::LazyLock;

use chrono::{DateTime, SubsecRound, Utc};
use optin_core::consent::{ConsentState, ConsentStatus, SendFailure};
use sqlx::FromRow;

use super::deferred::{insert_in_groups, AnyQuery};
use super::{
    parse_error_code, parse_name, parse_optional_timestamp, timestamp, Store, StoreResult,
    UnitOfWork,
};

/// Consent of one number, as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsentRecord {
    pub status: ConsentStatus,
    pub last_inbound_at: Option<DateTime<Utc>>,
    pub sms_opted_out: bool,
    /// When the contact stopped WhatsApp marketing messages (not resumed since).
    pub marketing_stopped_at: Option<DateTime<Utc>>,
}

/// The consent columns, in the order [`ConsentRow`] reads them.
pub(crate) const CONSENT_COLUMNS: &str = "k.state, k.requested_at, k.last_request_at, k.message_id,
    k.failure_code, k.failure_at, k.answered_at, k.last_inbound_at, k.sms_opted_out, k.marketing_stopped_at";

/// A `consents` row as read; every column is checked on the way out.
#[derive(sqlx::FromRow)]
pub(crate) struct ConsentRow {
    state: Option<String>,
    requested_at: Option<String>,
    last_request_at: Option<String>,
    message_id: Option<String>,
    failure_code: Option<i64>,
    failure_at: Option<String>,
    answered_at: Option<String>,
    last_inbound_at: Option<String>,
    #[sqlx(try_from = "super::MaybeFlag")]
    sms_opted_out: Option<bool>,
    marketing_stopped_at: Option<String>,
}

impl ConsentRow {
    /// The record; "never asked" only when there is no row at all (`state` NULL in a join).
    pub(crate) fn into_record(self, phone: &str) -> StoreResult<ConsentRecord> {
        let what = format!("consent of {phone}");
        let Some(state) = self.state else {
            return Ok(ConsentRecord::default());
        };
        let time = |text: &Option<String>| parse_optional_timestamp(&what, text.as_deref());
        let failure_code = parse_error_code(&what, self.failure_code)?;
        let status = ConsentStatus {
            state: parse_name::<ConsentState>(&what, &state)?,
            requested_at: time(&self.requested_at)?,
            last_request_at: time(&self.last_request_at)?,
            message_id: self.message_id,
            last_failure: time(&self.failure_at)?.map(|at| SendFailure {
                code: failure_code,
                at,
            }),
            answered_at: time(&self.answered_at)?,
        };
        Ok(ConsentRecord {
            status,
            last_inbound_at: time(&self.last_inbound_at)?,
            sms_opted_out: self.sms_opted_out.unwrap_or(false),
            marketing_stopped_at: time(&self.marketing_stopped_at)?,
        })
    }
}

/// An opt-in request as stored.
pub struct NewOptInRequest<'a> {
    pub id: &'a str,
    pub organization_id: i64,
    pub phone: &'a str,
    pub advisor_id: i64,
    pub resend: bool,
    pub idempotency_key: Option<&'a str>,
}

impl UnitOfWork {
    /// A number's consent; "never asked" when there is no row, an error when
    /// the row cannot be read.
    pub async fn consent(
        &mut self,
        organization_id: i64,
        phone: &str,
    ) -> StoreResult<ConsentRecord> {
        load(self.conn().await?, organization_id, phone).await
    }

    /// Writes a number's consent.
    pub async fn save_consent(
        &mut self,
        organization_id: i64,
        phone: &str,
        record: &ConsentRecord,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.forget_consent_ahead(organization_id, phone);
        let status = &record.status;
        sqlx::query(
            "INSERT INTO consents (organization_id, phone_e164, state, requested_at, last_request_at,
                message_id, failure_code, failure_at, answered_at, last_inbound_at, sms_opted_out, updated_at,
                marketing_stopped_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
             ON CONFLICT (organization_id, phone_e164) DO UPDATE SET
               state = excluded.state, requested_at = excluded.requested_at,
               last_request_at = excluded.last_request_at, message_id = excluded.message_id,
               failure_code = excluded.failure_code, failure_at = excluded.failure_at,
               answered_at = excluded.answered_at, last_inbound_at = excluded.last_inbound_at,
               sms_opted_out = excluded.sms_opted_out, updated_at = excluded.updated_at,
               marketing_stopped_at = excluded.marketing_stopped_at",
        )
        .bind(organization_id)
        .bind(phone)
        .bind(status.state.as_str())
        .bind(status.requested_at.map(timestamp))
        .bind(status.last_request_at.map(timestamp))
        .bind(status.message_id.as_deref())
        .bind(status.last_failure.and_then(|f| f.code).map(|c| i64::from(c.0)))
        .bind(status.last_failure.map(|f| timestamp(f.at)))
        .bind(status.answered_at.map(timestamp))
        .bind(record.last_inbound_at.map(timestamp))
        .bind(record.sms_opted_out)
        .bind(timestamp(now))
        .bind(record.marketing_stopped_at.map(timestamp))
        .execute(self.conn().await?)
        .await?;
        Ok(())
    }

    /// Whether this advisor already made a request with this idempotency key.
    pub async fn opt_in_request_seen(
        &mut self,
        advisor_id: i64,
        idempotency_key: &str,
    ) -> StoreResult<bool> {
        let seen: Option<String> = sqlx::query_scalar(
            "SELECT id FROM opt_in_requests WHERE advisor_id = $1 AND idempotency_key = $2",
        )
        .bind(advisor_id)
        .bind(idempotency_key)
        .fetch_optional(self.conn().await?)
        .await?;
        Ok(seen.is_some())
    }

    /// Stores an opt-in request (its id goes into the button payloads).
    pub async fn insert_opt_in_request(
        &mut self,
        request: NewOptInRequest<'_>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        // Who last asked the number changes.
        self.forget_consent_ahead(request.organization_id, request.phone);
        sqlx::query(
            "INSERT INTO opt_in_requests (id, organization_id, phone_e164, advisor_id, kind, idempotency_key, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(request.id)
        .bind(request.organization_id)
        .bind(request.phone)
        .bind(request.advisor_id)
        .bind(if request.resend { "resend" } else { "request" })
        .bind(request.idempotency_key)
        .bind(timestamp(now))
        .execute(self.conn().await?)
        .await?;
        Ok(())
    }

    /// The advisor of a request to this number, when the request exists.
    pub async fn opt_in_request_advisor(
        &mut self,
        request_id: &str,
        organization_id: i64,
        phone: &str,
    ) -> StoreResult<Option<i64>> {
        Ok(sqlx::query_scalar(
            "SELECT advisor_id FROM opt_in_requests WHERE id = $1 AND organization_id = $2 AND phone_e164 = $3",
        )
        .bind(request_id)
        .bind(organization_id)
        .bind(phone)
        .fetch_optional(self.conn().await?)
        .await?)
    }

    /// Reads ahead, in one statement, the consents of numbers a batch of
    /// webhooks is about to hear from (and who last asked each), so that
    /// [`UnitOfWork::note_inbound`] can answer them from memory and defer
    /// its write. Only while deferring (SQLite).
    pub async fn read_consents_ahead(&mut self, numbers: &[(i64, String)]) -> StoreResult<()> {
        if !self.defers() {
            return Ok(());
        }
        let mut unknown: Vec<&(i64, String)> = numbers
            .iter()
            .filter(|key| !self.deferred.consents.contains_key(*key))
            .collect();
        unknown.sort_unstable();
        unknown.dedup();
        if unknown.is_empty() {
            return Ok(());
        }
        // The numbers travel as one JSON array, so the statement's text is
        // always the same and SQLite prepares it once per connection.
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "WITH asked AS (SELECT value ->> 0 AS organization_id, value ->> 1 AS phone_e164
                                FROM json_each($1))
                 SELECT a.organization_id AS asked_organization_id, a.phone_e164 AS asked_phone,
                   {CONSENT_COLUMNS}, {advisor}
                 FROM asked a LEFT JOIN consents k
                   ON k.organization_id = a.organization_id AND k.phone_e164 = a.phone_e164",
                advisor = last_requesting_advisor("a"),
            )
        });
        let asked = serde_json::to_string(&unknown).expect("numbers serialize");
        let rows: Vec<AheadRow> = sqlx::query_as(&SQL)
            .bind(asked)
            .fetch_all(&mut *self.tx)
            .await?;
        for row in rows {
            let exists = row.inbound.consent.state.is_some();
            let known = ConsentAhead {
                record: row.inbound.consent.into_record(&row.asked_phone)?,
                last_requesting_advisor: row.inbound.last_requesting_advisor,
                exists,
            };
            self.deferred
                .consents
                .insert((row.asked_organization_id, row.asked_phone), known);
        }
        Ok(())
    }

    /// Forgets what was read ahead of a number whose consent is written.
    fn forget_consent_ahead(&mut self, organization_id: i64, phone: &str) {
        if !self.deferred.consents.is_empty() {
            self.deferred
                .consents
                .remove(&(organization_id, phone.to_owned()));
        }
    }

    /// Opens a number's 24-hour window with a message it sent at `sent_at`
    /// (a webhook delivered late never moves the window back) and answers
    /// its consent as it now stands, with the advisor who last asked it.
    /// Every inbound message needs all three, and a batch of webhooks goes
    /// at the pace of its statements: so one statement, or none when the
    /// batch read the consent ahead (the write is then deferred).
    pub async fn note_inbound(
        &mut self,
        organization_id: i64,
        phone: &str,
        sent_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<(ConsentRecord, Option<i64>)> {
        // It may add the number's consent row, whose state the archive feed
        // copies for each message and step: earlier ones of this number go
        // first. Others need not (the 24-hour window is no part of the feed).
        let earlier_rows = self.defers_for(organization_id, phone);
        let key = (organization_id, phone.to_owned());
        if let Some(known) = self.deferred.consents.get_mut(&key) {
            // Deferred windows are written before every deferred row, so
            // one that adds the row must not follow rows of its number.
            if known.exists || !earlier_rows {
                known.exists = true;
                // As stored: to the millisecond.
                let sent_at = sent_at.trunc_subsecs(3);
                let window = &mut known.record.last_inbound_at;
                if window.is_none_or(|opened| opened < sent_at) {
                    *window = Some(sent_at);
                }
                let answer = (known.record.clone(), known.last_requesting_advisor);
                let window = WindowRow::new(organization_id, key.1, sent_at, now);
                self.deferred.windows.push(window);
                return Ok(answer);
            }
        }
        let conn = if earlier_rows {
            self.conn().await?
        } else {
            self.conn_as_is()
        };
        // RETURNING cannot name the table by an alias on SQLite.
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "{WINDOW_UPSERT} ($1, $2, $3, $4, $5, $6) {WINDOW_CONFLICT}
                 RETURNING {returned}, {advisor}",
                returned = CONSENT_COLUMNS.replace("k.", ""),
                advisor = last_requesting_advisor("consents"),
            )
        });
        let window = WindowRow::new(organization_id, phone.to_owned(), sent_at, now);
        let row = window.bind_to(sqlx::query(&SQL)).fetch_one(conn).await?;
        let row = InboundRow::from_row(&row)?;
        Ok((row.consent.into_record(phone)?, row.last_requesting_advisor))
    }
}

/// The start of the insert that opens a window, before its `VALUES` groups.
const WINDOW_UPSERT: &str = "INSERT INTO consents (organization_id, phone_e164, state,
    last_inbound_at, sms_opted_out, updated_at) VALUES";

/// The values of a window's row in [`WINDOW_UPSERT`] (see [`WindowRow::bind_to`]).
const WINDOW_COLUMNS: usize = 6;

/// What opening a window changes in a consent row that exists: never the
/// state (a new row is "never asked"), and the window only forward.
const WINDOW_CONFLICT: &str = "ON CONFLICT (organization_id, phone_e164) DO UPDATE SET
    last_inbound_at = CASE
      WHEN consents.last_inbound_at IS NULL OR consents.last_inbound_at < excluded.last_inbound_at
      THEN excluded.last_inbound_at ELSE consents.last_inbound_at END,
    updated_at = excluded.updated_at";

/// The advisor of the latest request to the number of `table`'s row.
fn last_requesting_advisor(table: &str) -> String {
    format!(
        "(SELECT r.advisor_id FROM opt_in_requests r
          WHERE r.organization_id = {table}.organization_id AND r.phone_e164 = {table}.phone_e164
          ORDER BY r.created_at DESC LIMIT 1) AS last_requesting_advisor"
    )
}

/// A 24-hour window opened while deferring, written by [`write_windows`].
pub(crate) struct WindowRow {
    organization_id: i64,
    phone_e164: String,
    sent_at: String,
    updated_at: String,
}

impl WindowRow {
    fn new(
        organization_id: i64,
        phone_e164: String,
        sent_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            organization_id,
            phone_e164,
            sent_at: timestamp(sent_at),
            updated_at: timestamp(now),
        }
    }

    /// Binds its values in [`WINDOW_UPSERT`]'s order (a new row is "never asked").
    fn bind_to<'q>(&'q self, query: AnyQuery<'q>) -> AnyQuery<'q> {
        let never_asked = ConsentRecord::default();
        query
            .bind(self.organization_id)
            .bind(self.phone_e164.as_str())
            .bind(never_asked.status.state.as_str())
            .bind(self.sent_at.as_str())
            .bind(never_asked.sms_opted_out)
            .bind(self.updated_at.as_str())
    }
}

/// A consent read ahead (see [`UnitOfWork::read_consents_ahead`]).
pub(crate) struct ConsentAhead {
    record: ConsentRecord,
    last_requesting_advisor: Option<i64>,
    /// Whether the number has a consent row (or one is deferred).
    exists: bool,
}

/// Writes deferred windows on SQLite, in order: a number's later window
/// meets its earlier one as a conflict within the statement.
pub(crate) async fn write_windows(
    conn: &mut sqlx::AnyConnection,
    windows: &[WindowRow],
) -> StoreResult<()> {
    insert_in_groups(
        conn,
        windows,
        WINDOW_UPSERT,
        WINDOW_COLUMNS,
        WINDOW_CONFLICT,
        WindowRow::bind_to,
    )
    .await
}

/// What [`UnitOfWork::read_consents_ahead`] answers for each number asked.
#[derive(sqlx::FromRow)]
struct AheadRow {
    asked_organization_id: i64,
    asked_phone: String,
    #[sqlx(flatten)]
    inbound: InboundRow,
}

/// What [`UnitOfWork::note_inbound`] answers.
#[derive(sqlx::FromRow)]
struct InboundRow {
    #[sqlx(flatten)]
    consent: ConsentRow,
    last_requesting_advisor: Option<i64>,
}

/// Reads a number's consent through a pool or a transaction.
async fn load<'e>(
    executor: impl sqlx::any::AnyExecutor<'e>,
    organization_id: i64,
    phone: &str,
) -> StoreResult<ConsentRecord> {
    let row: Option<ConsentRow> = sqlx::query_as(&format!(
        "SELECT {CONSENT_COLUMNS} FROM consents k WHERE k.organization_id = $1 AND k.phone_e164 = $2"
    ))
    .bind(organization_id)
    .bind(phone)
    .fetch_optional(executor)
    .await?;
    row.map_or_else(|| Ok(ConsentRecord::default()), |r| r.into_record(phone))
}

impl Store {
    /// A number's consent, outside any transaction.
    pub async fn consent(&self, organization_id: i64, phone: &str) -> StoreResult<ConsentRecord> {
        load(&self.pool, organization_id, phone).await
    }
}
