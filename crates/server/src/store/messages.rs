//! Messages both ways, the outbox that sends them, webhook receipts (each
//! provider item applied once) and statuses parked until their message is known.

use std::collections::HashSet;
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use optin_core::api::MessageView;
use optin_core::vocab::{Channel, Direction, ErrorCode, MessageStatus, OutboxState, Purpose};

use super::deferred::{insert_returning_id, AnyQuery, Deferred, DeferredRow};
use super::{
    parse_error_code, parse_name, parse_timestamp, timestamp, Engine, Store, StoreResult,
    UnitOfWork,
};

/// A message to store.
pub struct NewMessage<'a> {
    pub organization_id: i64,
    pub phone: &'a str,
    pub channel: Channel,
    pub direction: Direction,
    pub purpose: Purpose,
    pub advisor_id: Option<i64>,
    pub opt_in_request_id: Option<&'a str>,
    /// Template name and language, for template messages.
    pub template: Option<(&'a str, &'a str)>,
    pub body: &'a str,
    pub provider_message_id: Option<&'a str>,
    pub status: MessageStatus,
}

/// A stored message, as the flow needs it.
#[derive(Debug, Clone)]
pub struct StoredMessage {
    pub id: i64,
    pub organization_id: i64,
    pub phone_e164: String,
    pub channel: Channel,
    pub purpose: Purpose,
    pub advisor_id: Option<i64>,
    pub status: MessageStatus,
    /// Template name and language, for template messages.
    pub template: Option<(String, String)>,
    /// The provider's id, once it accepted the message.
    pub provider_message_id: Option<String>,
}

#[derive(sqlx::FromRow)]
struct StoredMessageRow {
    id: i64,
    organization_id: i64,
    phone_e164: String,
    channel: String,
    purpose: String,
    advisor_id: Option<i64>,
    status: String,
    template_name: Option<String>,
    template_language: Option<String>,
    provider_message_id: Option<String>,
}

impl StoredMessageRow {
    fn read(self) -> StoreResult<StoredMessage> {
        let what = format!("message {}", self.id);
        Ok(StoredMessage {
            channel: parse_name(&what, &self.channel)?,
            purpose: parse_name(&what, &self.purpose)?,
            status: parse_name(&what, &self.status)?,
            id: self.id,
            organization_id: self.organization_id,
            phone_e164: self.phone_e164,
            advisor_id: self.advisor_id,
            template: self.template_name.zip(self.template_language),
            provider_message_id: self.provider_message_id,
        })
    }
}

const STORED_COLUMNS: &str =
    "id, organization_id, phone_e164, channel, purpose, advisor_id, status,
    template_name, template_language, provider_message_id";

/// A fresh idempotency key for a provider call sending message `message_id`.
fn job_key(message_id: i64) -> String {
    format!("optin-msg-{message_id}-{}", uuid::Uuid::new_v4())
}

/// A provider error kept with a failed message.
#[derive(Debug, Clone, Copy)]
pub struct MessageError<'a> {
    pub code: Option<ErrorCode>,
    pub title: &'a str,
}

/// An outbox job.
#[derive(Debug, Clone)]
pub struct OutboxJob {
    pub id: i64,
    pub message_id: i64,
    pub payload_json: String,
    pub idempotency_key: String,
    pub state: OutboxState,
    /// Provider calls claimed so far (each claim counts one).
    pub attempts: i64,
    pub last_error: Option<String>,
}

#[derive(sqlx::FromRow)]
struct OutboxJobRow {
    id: i64,
    message_id: i64,
    payload_json: String,
    idempotency_key: String,
    state: String,
    attempts: i64,
    last_error: Option<String>,
}

impl OutboxJobRow {
    fn read(self) -> StoreResult<OutboxJob> {
        Ok(OutboxJob {
            state: parse_name(&format!("outbox job {}", self.id), &self.state)?,
            id: self.id,
            message_id: self.message_id,
            payload_json: self.payload_json,
            idempotency_key: self.idempotency_key,
            attempts: self.attempts,
            last_error: self.last_error,
        })
    }
}

const JOB_COLUMNS: &str =
    "id, message_id, payload_json, idempotency_key, state, attempts, last_error";

/// A status that arrived before its message's provider id was known.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ParkedStatus {
    pub id: i64,
    pub status_json: String,
    pub raw_body: String,
    pub signature_header: Option<String>,
    pub signed_url: Option<String>,
}

impl ParkedStatus {
    /// The webhook the status came in, as it was received.
    pub fn webhook(&self) -> super::evidence::ReceivedWebhook {
        super::evidence::ReceivedWebhook {
            body: self.raw_body.clone(),
            signature: self.signature_header.clone(),
            signed_url: self.signed_url.clone(),
        }
    }
}

/// Keys per statement when receipts are claimed or released together (well
/// under SQLite's and PostgreSQL's limits on bound values).
const RECEIPTS_PER_STATEMENT: usize = 500;

/// A message row as written, its id included when taken ahead.
pub(crate) struct NewMessageRow {
    id: i64,
    pub(crate) organization_id: i64,
    pub(crate) phone_e164: String,
    channel: Channel,
    direction: Direction,
    purpose: Purpose,
    advisor_id: Option<i64>,
    opt_in_request_id: Option<String>,
    template: Option<(String, String)>,
    body: String,
    provider_message_id: Option<String>,
    status: MessageStatus,
    at: String,
}

/// The columns of [`NewMessageRow`], `id` first, in the order
/// [`DeferredRow::bind_to`] binds them.
const MESSAGE_COLUMN_NAMES: &str = "id, organization_id, phone_e164, channel, direction, purpose, \
    advisor_id, opt_in_request_id, template_name, template_language, body, provider_message_id, \
    status, created_at, updated_at";
const MESSAGE_COLUMNS: usize = 15;

impl NewMessageRow {
    fn new(m: &NewMessage<'_>, now: DateTime<Utc>) -> Self {
        Self {
            id: 0,
            organization_id: m.organization_id,
            phone_e164: m.phone.to_owned(),
            channel: m.channel,
            direction: m.direction,
            purpose: m.purpose,
            advisor_id: m.advisor_id,
            opt_in_request_id: m.opt_in_request_id.map(str::to_owned),
            template: m
                .template
                .map(|(name, language)| (name.to_owned(), language.to_owned())),
            body: m.body.to_owned(),
            provider_message_id: m.provider_message_id.map(str::to_owned),
            status: m.status,
            at: timestamp(now),
        }
    }
}

impl DeferredRow for NewMessageRow {
    const TABLE: &'static str = "messages";
    const COLUMNS: &'static str = MESSAGE_COLUMN_NAMES;
    const COLUMN_COUNT: usize = MESSAGE_COLUMNS;

    fn set_id(&mut self, id: i64) {
        self.id = id;
    }

    fn kept(deferred: &mut Deferred) -> &mut Vec<Self> {
        &mut deferred.messages
    }

    fn insert_returning_id() -> &'static str {
        static SQL: LazyLock<String> = LazyLock::new(insert_returning_id::<NewMessageRow>);
        &SQL
    }

    fn bind_to<'q>(&'q self, query: AnyQuery<'q>, with_id: bool) -> AnyQuery<'q> {
        let query = if with_id { query.bind(self.id) } else { query };
        query
            .bind(self.organization_id)
            .bind(&self.phone_e164)
            .bind(self.channel.as_str())
            .bind(self.direction.as_str())
            .bind(self.purpose.as_str())
            .bind(self.advisor_id)
            .bind(&self.opt_in_request_id)
            .bind(self.template.as_ref().map(|t| t.0.as_str()))
            .bind(self.template.as_ref().map(|t| t.1.as_str()))
            .bind(&self.body)
            .bind(&self.provider_message_id)
            .bind(self.status.as_str())
            .bind(&self.at)
            .bind(&self.at)
    }
}

/// `count` numbered placeholders from `$first` on.
pub(super) fn numbered(first: usize, count: usize) -> impl Iterator<Item = String> {
    (first..first + count).map(|n| format!("${n}"))
}

impl UnitOfWork {
    /// Stores a message; returns its id.
    pub async fn insert_message(
        &mut self,
        m: NewMessage<'_>,
        now: DateTime<Utc>,
    ) -> StoreResult<i64> {
        self.insert_row(NewMessageRow::new(&m, now)).await
    }

    /// Queues a provider call for a stored message, with a fresh idempotency key.
    pub async fn enqueue(
        &mut self,
        message_id: i64,
        payload_json: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO outbox (message_id, payload_json, idempotency_key, state, next_attempt_at)
             VALUES ($1, $2, $3, 'pending', $4)",
        )
        .bind(message_id)
        .bind(payload_json)
        .bind(job_key(message_id))
        .bind(timestamp(now))
        .execute(self.conn().await?)
        .await?;
        Ok(())
    }

    /// Records a webhook item; false when it was seen before. A key claimed
    /// ahead ([`UnitOfWork::claim_receipts`]) is answered from memory.
    pub async fn first_receipt(&mut self, key: &str, now: DateTime<Utc>) -> StoreResult<bool> {
        if let Some(unanswered) = self.known.receipts.get_mut(key) {
            return Ok(std::mem::take(unanswered));
        }
        let inserted = sqlx::query(
            "INSERT INTO webhook_receipts (dedupe_key, received_at) VALUES ($1, $2)
             ON CONFLICT (dedupe_key) DO NOTHING",
        )
        .bind(key)
        .bind(timestamp(now))
        .execute(self.conn_as_is())
        .await?;
        Ok(inserted.rows_affected() == 1)
    }

    /// Records the receipts of a batch's items in one statement, ahead of
    /// applying them: each `first_receipt` of these keys is then answered
    /// without a round trip to the database. A claimed key nobody asks for
    /// is released again before the commit ([`UnitOfWork::release_unasked_receipts`]),
    /// so a receipt is still stored exactly when an item was applied.
    pub async fn claim_receipts(&mut self, keys: &[String], now: DateTime<Utc>) -> StoreResult<()> {
        let mut keys: Vec<&str> = keys
            .iter()
            .map(String::as_str)
            .filter(|key| !self.known.receipts.contains_key(*key))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        for chunk in keys.chunks(RECEIPTS_PER_STATEMENT) {
            // `$1` is the time of every row; the keys follow.
            let rows = numbered(2, chunk.len())
                .map(|key| format!("({key}, $1)"))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "INSERT INTO webhook_receipts (dedupe_key, received_at) VALUES {rows}
                 ON CONFLICT (dedupe_key) DO NOTHING RETURNING dedupe_key"
            );
            // One text per batch size: not kept in the statement cache,
            // where it would push out the statements every webhook runs.
            let mut query = sqlx::query_scalar::<_, String>(&sql)
                .persistent(false)
                .bind(timestamp(now));
            for key in chunk {
                query = query.bind(*key);
            }
            let inserted: HashSet<String> = query
                .fetch_all(self.conn_as_is())
                .await?
                .into_iter()
                .collect();
            for key in chunk {
                let new = inserted.contains(*key);
                self.known.receipts.insert((*key).to_owned(), new);
            }
        }
        Ok(())
    }

    /// Deletes the receipts claimed ahead that no item asked for (see
    /// [`UnitOfWork::claim_receipts`]), and forgets the claims.
    pub(crate) async fn release_unasked_receipts(&mut self) -> StoreResult<()> {
        let unasked: Vec<String> = std::mem::take(&mut self.known.receipts)
            .into_iter()
            .filter_map(|(key, unasked)| unasked.then_some(key))
            .collect();
        for chunk in unasked.chunks(RECEIPTS_PER_STATEMENT) {
            let keys = numbered(1, chunk.len()).collect::<Vec<_>>().join(", ");
            let sql = format!("DELETE FROM webhook_receipts WHERE dedupe_key IN ({keys})");
            let mut query = sqlx::query(&sql).persistent(false);
            for key in chunk {
                query = query.bind(key);
            }
            query.execute(self.conn_as_is()).await?;
        }
        Ok(())
    }

    /// The message a provider id belongs to.
    pub async fn message_by_provider_id(
        &mut self,
        provider_id: &str,
    ) -> StoreResult<Option<StoredMessage>> {
        let row: Option<StoredMessageRow> = sqlx::query_as(&format!(
            "SELECT {STORED_COLUMNS} FROM messages WHERE provider_message_id = $1"
        ))
        .bind(provider_id)
        .fetch_optional(self.conn().await?)
        .await?;
        row.map(StoredMessageRow::read).transpose()
    }

    /// A message by id.
    pub async fn message(&mut self, id: i64) -> StoreResult<Option<StoredMessage>> {
        message_by_id(self.conn().await?, id).await
    }

    /// Sets a message's delivery status (and error, for failures).
    pub async fn set_message_status(
        &mut self,
        id: i64,
        status: MessageStatus,
        error: Option<MessageError<'_>>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE messages SET status = $2, error_code = COALESCE($3, error_code),
               error_title = COALESCE($4, error_title), updated_at = $5 WHERE id = $1",
        )
        .bind(id)
        .bind(status.as_str())
        .bind(error.and_then(|e| e.code).map(|c| i64::from(c.0)))
        .bind(error.map(|e| e.title))
        .bind(timestamp(now))
        .execute(self.conn().await?)
        .await?;
        Ok(())
    }

    /// The provider accepted a message under this id.
    pub async fn set_message_accepted(
        &mut self,
        id: i64,
        provider_id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE messages SET provider_message_id = $2, status = $3, updated_at = $4 WHERE id = $1",
        )
        .bind(id)
        .bind(provider_id)
        .bind(MessageStatus::Accepted.as_str())
        .bind(timestamp(now))
        .execute(self.conn().await?)
        .await?;
        Ok(())
    }

    /// Claims a job for one provider call: its attempt is counted and it is
    /// held until `lease_until`. False when the job moved since it was read
    /// (`attempts` is what was read: every claim changes it).
    pub async fn claim_job(
        &mut self,
        job_id: i64,
        attempts: i64,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<bool> {
        // The row as read (`attempts`), still claimable. On PostgreSQL a row
        // another instance's transaction holds is skipped, never waited for:
        // that instance is claiming it.
        let claimable = "id = $1 AND attempts = $2 AND state IN ('pending', 'claimed', 'unknown')";
        let sql = match self.engine {
            Engine::Sqlite => format!(
                "UPDATE outbox SET state = 'claimed', attempts = attempts + 1, lease_until = $3
                 WHERE {claimable}"
            ),
            Engine::Postgres => format!(
                "UPDATE outbox SET state = 'claimed', attempts = attempts + 1, lease_until = $3
                 WHERE id = (SELECT id FROM outbox WHERE {claimable} FOR UPDATE SKIP LOCKED)"
            ),
        };
        let claimed = sqlx::query(&sql)
            .bind(job_id)
            .bind(attempts)
            .bind(timestamp(lease_until))
            .execute(self.conn().await?)
            .await?;
        Ok(claimed.rows_affected() == 1)
    }

    /// Ends the claim of attempt `attempt` as `outcome`. False when that
    /// claim is no longer held (a status carrying the key proved the send
    /// meanwhile, say): nothing is changed then.
    pub async fn end_claim(
        &mut self,
        job_id: i64,
        attempt: i64,
        outcome: JobEnd,
        error: Option<&str>,
    ) -> StoreResult<bool> {
        let ended = sqlx::query(
            "UPDATE outbox SET state = $3, lease_until = NULL, last_error = $4
             WHERE id = $1 AND attempts = $2 AND state = 'claimed'",
        )
        .bind(job_id)
        .bind(attempt)
        .bind(outcome.state().as_str())
        .bind(error)
        .execute(self.conn().await?)
        .await?;
        Ok(ended.rows_affected() == 1)
    }

    /// Attempt `attempt` failed but a later one may succeed: try again at
    /// `next`. False when the claim is no longer held.
    pub async fn retry_claim(
        &mut self,
        job_id: i64,
        attempt: i64,
        next: DateTime<Utc>,
        error: &str,
    ) -> StoreResult<bool> {
        let retried = sqlx::query(
            "UPDATE outbox SET state = 'pending', lease_until = NULL, next_attempt_at = $3,
               last_error = $4
             WHERE id = $1 AND attempts = $2 AND state = 'claimed'",
        )
        .bind(job_id)
        .bind(attempt)
        .bind(timestamp(next))
        .bind(error)
        .execute(self.conn().await?)
        .await?;
        Ok(retried.rows_affected() == 1)
    }

    /// Attempt `attempt` got no answer: the provider may have sent the
    /// message. The grace period runs from `since`. False when the claim is
    /// no longer held.
    pub async fn outcome_unknown(
        &mut self,
        job_id: i64,
        attempt: i64,
        since: DateTime<Utc>,
        error: &str,
    ) -> StoreResult<bool> {
        let marked = sqlx::query(
            "UPDATE outbox SET state = 'unknown', lease_until = $3, last_error = $4
             WHERE id = $1 AND attempts = $2 AND state = 'claimed'",
        )
        .bind(job_id)
        .bind(attempt)
        .bind(timestamp(since))
        .bind(error)
        .execute(self.conn().await?)
        .await?;
        Ok(marked.rows_affected() == 1)
    }

    /// Ends a job that is not (or no longer) worth a provider call: not
    /// wanted any more, or never answered in its every attempt.
    pub async fn end_job(
        &mut self,
        job_id: i64,
        outcome: JobEnd,
        error: Option<&str>,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE outbox SET state = $2, lease_until = NULL, last_error = COALESCE($3, last_error)
             WHERE id = $1",
        )
        .bind(job_id)
        .bind(outcome.state().as_str())
        .bind(error)
        .execute(self.conn().await?)
        .await?;
        Ok(())
    }

    /// A status carrying the job's key proved that the provider accepted
    /// it: the job is done, whatever attempt was in flight. False when the
    /// job had already ended.
    pub async fn prove_job(&mut self, job_id: i64) -> StoreResult<bool> {
        let proved = sqlx::query(
            "UPDATE outbox SET state = 'done', lease_until = NULL
             WHERE id = $1 AND state IN ('pending', 'claimed', 'unknown')",
        )
        .bind(job_id)
        .execute(self.conn().await?)
        .await?;
        Ok(proved.rows_affected() == 1)
    }

    /// The job holding an idempotency key (a status's callback data).
    pub async fn job_by_key(&mut self, key: &str) -> StoreResult<Option<OutboxJob>> {
        let row: Option<OutboxJobRow> = sqlx::query_as(&format!(
            "SELECT {JOB_COLUMNS} FROM outbox WHERE idempotency_key = $1"
        ))
        .bind(key)
        .fetch_optional(self.conn().await?)
        .await?;
        row.map(OutboxJobRow::read).transpose()
    }

    /// How many provider calls the job of a sent message has made, when it
    /// is done (the provider accepted it).
    pub async fn done_job_attempts(&mut self, message_id: i64) -> StoreResult<Option<i64>> {
        Ok(sqlx::query_scalar(
            "SELECT attempts FROM outbox WHERE message_id = $1 AND state = 'done'",
        )
        .bind(message_id)
        .fetch_optional(self.conn().await?)
        .await?)
    }

    /// The provider failed a message it had accepted, for a reason that
    /// passes (throughput, say): the message is queued again and its job
    /// goes out at `next` under a fresh key (the failed send was not
    /// delivered, so this is a new send, not a repeat of it).
    pub async fn requeue_sent_message(
        &mut self,
        message_id: i64,
        next: DateTime<Utc>,
        error: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE outbox SET state = 'pending', next_attempt_at = $2, last_error = $3,
               idempotency_key = $4, lease_until = NULL WHERE message_id = $1",
        )
        .bind(message_id)
        .bind(timestamp(next))
        .bind(error)
        .bind(job_key(message_id))
        .execute(self.conn().await?)
        .await?;
        sqlx::query(
            "UPDATE messages SET status = $2, provider_message_id = NULL, updated_at = $3 WHERE id = $1",
        )
        .bind(message_id)
        .bind(MessageStatus::Queued.as_str())
        .bind(timestamp(now))
        .execute(self.conn().await?)
        .await?;
        Ok(())
    }

    /// Keeps a status for a provider id that is not known yet.
    pub async fn park_status(
        &mut self,
        provider_message_id: &str,
        status_json: &str,
        webhook: &super::evidence::ReceivedWebhook,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO parked_statuses (provider_message_id, status_json, raw_body, received_at,
                signature_header, signed_url)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(provider_message_id)
        .bind(status_json)
        .bind(&webhook.body)
        .bind(timestamp(now))
        .bind(&webhook.signature)
        .bind(&webhook.signed_url)
        .execute(self.conn().await?)
        .await?;
        Ok(())
    }

    /// Takes (reads and deletes) the statuses parked for a provider id, oldest first.
    pub async fn take_parked_statuses(
        &mut self,
        provider_message_id: &str,
    ) -> StoreResult<Vec<ParkedStatus>> {
        let parked: Vec<ParkedStatus> = sqlx::query_as(
            "SELECT id, status_json, raw_body, signature_header, signed_url FROM parked_statuses
             WHERE provider_message_id = $1 ORDER BY id",
        )
        .bind(provider_message_id)
        .fetch_all(self.conn().await?)
        .await?;
        sqlx::query("DELETE FROM parked_statuses WHERE provider_message_id = $1")
            .bind(provider_message_id)
            .execute(self.conn().await?)
            .await?;
        Ok(parked)
    }
}

/// How an outbox job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobEnd {
    /// The provider accepted the message.
    Done,
    /// The provider refused it for good.
    Failed,
    /// It was no longer wanted and never sent.
    Cancelled,
}

impl JobEnd {
    fn state(self) -> OutboxState {
        match self {
            JobEnd::Done => OutboxState::Done,
            JobEnd::Failed => OutboxState::Failed,
            JobEnd::Cancelled => OutboxState::Cancelled,
        }
    }
}

/// Whose messages a conversation shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConversationOf {
    /// One advisor's: what they sent, and what answered them.
    Advisor(i64),
    /// Every advisor's (compliance).
    Everyone,
}

/// SQL: the advisor a message `m` belongs to. A message without one (the
/// contact's replies, the service's own texts) belongs to the advisor of the
/// latest message before it that has one: the conversation it answers.
pub(crate) const ADVISOR_OF_MESSAGE: &str = "COALESCE(m.advisor_id,
    (SELECT p.advisor_id FROM messages p
     WHERE p.organization_id = m.organization_id AND p.phone_e164 = m.phone_e164
       AND p.id < m.id AND p.advisor_id IS NOT NULL
     ORDER BY p.id DESC LIMIT 1))";

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

impl MessageRow {
    fn read(self) -> StoreResult<MessageView> {
        let what = format!("message {}", self.id);
        let error_code = parse_error_code(&what, self.error_code)?;
        Ok(MessageView {
            id: self.id,
            channel: parse_name(&what, &self.channel)?,
            direction: parse_name(&what, &self.direction)?,
            purpose: parse_name(&what, &self.purpose)?,
            body: self.body,
            template_name: self.template_name,
            status: parse_name(&what, &self.status)?,
            error_code,
            error_title: self.error_title,
            at: parse_timestamp(&what, &self.created_at)?,
        })
    }
}

impl Store {
    /// The conversation with a number, oldest first: an advisor's own, or
    /// everyone's (compliance).
    pub async fn conversation(
        &self,
        organization_id: i64,
        phone: &str,
        of: ConversationOf,
    ) -> StoreResult<Vec<MessageView>> {
        let advisor = match of {
            ConversationOf::Advisor(id) => Some(id),
            ConversationOf::Everyone => None,
        };
        let rows: Vec<MessageRow> = sqlx::query_as(&format!(
            "SELECT id, channel, direction, purpose, body, template_name, status, error_code, error_title, created_at
             FROM messages m WHERE organization_id = $1 AND phone_e164 = $2
               AND ($3 IS NULL OR {ADVISOR_OF_MESSAGE} = $3)
             ORDER BY id"
        ))
        .bind(organization_id)
        .bind(phone)
        .bind(advisor)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(MessageRow::read).collect()
    }

    /// Outbox jobs to claim, oldest first: pending ones due at `now`, and
    /// those whose outcome has been unknown since before `unknown_before`
    /// (a lease that ran out with no answer recorded counts from its end);
    /// none behind an older call in flight to the same number.
    pub async fn due_jobs(
        &self,
        now: DateTime<Utc>,
        unknown_before: DateTime<Utc>,
        limit: usize,
    ) -> StoreResult<Vec<OutboxJob>> {
        // A recipient's messages go out in order: none while an older one
        // to the same number is in flight.
        let rows: Vec<OutboxJobRow> = sqlx::query_as(&format!(
            "SELECT {JOB_COLUMNS} FROM outbox o
             WHERE ((state = 'pending' AND next_attempt_at <= $1)
                OR (state IN ('claimed', 'unknown') AND lease_until <= $2))
               AND NOT EXISTS (
                 SELECT 1 FROM outbox f
                 JOIN messages fm ON fm.id = f.message_id
                 JOIN messages om ON om.id = o.message_id
                 WHERE f.state = 'claimed' AND f.lease_until > $1 AND f.id < o.id
                   AND fm.organization_id = om.organization_id AND fm.phone_e164 = om.phone_e164)
             ORDER BY id LIMIT $3"
        ))
        .bind(timestamp(now))
        .bind(timestamp(unknown_before))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(OutboxJobRow::read).collect()
    }

    /// Provider ids with parked statuses whose message is now known (its
    /// send was recorded, or proved by a status carrying the job's key).
    pub async fn parked_for_known_messages(&self, limit: u32) -> StoreResult<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT p.provider_message_id FROM parked_statuses p
             JOIN messages m ON m.provider_message_id = p.provider_message_id LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?)
    }

    /// A message by id, outside any transaction.
    pub async fn message(&self, id: i64) -> StoreResult<Option<StoredMessage>> {
        message_by_id(&self.pool, id).await
    }
}

/// A message by id, through a pool or a transaction.
async fn message_by_id<'e>(
    executor: impl sqlx::any::AnyExecutor<'e>,
    id: i64,
) -> StoreResult<Option<StoredMessage>> {
    let row: Option<StoredMessageRow> = sqlx::query_as(&format!(
        "SELECT {STORED_COLUMNS} FROM messages WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(executor)
    .await?;
    row.map(StoredMessageRow::read).transpose()
}

impl Store {
    /// Forgets webhook receipts first seen before `before` (beyond the
    /// providers' retry horizon, no re-delivery can come); returns how many.
    pub async fn prune_receipts(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM webhook_receipts WHERE received_at < $1")
            .bind(timestamp(before))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}
