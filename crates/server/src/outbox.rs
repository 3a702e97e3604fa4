//! The outbox worker: sends queued messages through the providers.
//!
//! A job is committed with the message it sends. The worker calls the
//! provider with the job's idempotency key, then records the outcome; a crash
//! in between leaves the job pending, and the retry carries the same key, so
//! the provider sends once. Throttling, 5xx and timeouts are retried with
//! exponential back-off; other refusals end the job and become visible states.

use std::time::Duration;

use chrono::{DateTime, Utc};
use optin_core::consent::ConsentEvent;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::error::AppResult;
use crate::flow::{self, OutboundPayload, WebhookSource, Work};
use crate::providers::ProviderError;
use crate::store::consent as rows;
use crate::store::evidence::timestamp;
use crate::AppState;

/// Attempts before a retryable failure counts as final.
pub const MAX_ATTEMPTS: i64 = 8;

/// Back-off before attempt `attempts + 1`: 1 s, 2 s, 4 s, ... capped at 5 min.
pub fn backoff(attempts: i64) -> chrono::Duration {
    chrono::Duration::seconds(1i64 << attempts.clamp(0, 8)).min(chrono::Duration::minutes(5))
}

#[derive(sqlx::FromRow)]
struct Job {
    id: i64,
    message_id: i64,
    payload_json: String,
    idempotency_key: String,
    attempts: i64,
}

/// Runs until `stop` is cancelled: sends what is due, then sleeps until woken
/// or the next second.
pub async fn run(state: AppState, stop: CancellationToken) {
    loop {
        match drain(&state).await {
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "outbox pass failed"),
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = state.outbox_wake.notified() => {}
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
    }
}

/// Sends every due job once; returns how many were attempted.
pub async fn drain(state: &AppState) -> AppResult<usize> {
    let due: Vec<Job> = sqlx::query_as(
        "SELECT id, message_id, payload_json, idempotency_key, attempts FROM outbox
         WHERE state = 'pending' AND next_attempt_at <= $1 ORDER BY id LIMIT 50",
    )
    .bind(timestamp(state.clock.now()))
    .fetch_all(&state.store.pool)
    .await?;
    let count = due.len();
    for job in due {
        attempt(state, job).await?;
    }
    Ok(count)
}

enum Outcome {
    Accepted(String),
    Failed(ProviderError),
}

async fn attempt(state: &AppState, job: Job) -> AppResult<()> {
    let payload: OutboundPayload = serde_json::from_str(&job.payload_json)
        .map_err(|e| crate::error::AppError::Internal(Box::new(e)))?;
    if !still_wanted(state, job.message_id).await? {
        let mut work = Work::begin(state).await?;
        sqlx::query("UPDATE outbox SET state = 'cancelled' WHERE id = $1")
            .bind(job.id)
            .execute(&mut *work.tx)
            .await?;
        rows::set_message_status(&mut work.tx, job.message_id, "cancelled", None, work.now).await?;
        return work.commit(state).await;
    }
    let outcome = match &payload {
        OutboundPayload::Whatsapp { message } => state
            .providers
            .whatsapp
            .send(message, &job.idempotency_key)
            .await
            .map(|accepted| accepted.message_id),
        OutboundPayload::Sms { to, body } => state
            .providers
            .sms
            .send(to, body, &job.idempotency_key)
            .await
            .map(|accepted| accepted.sid),
    };
    let outcome = match outcome {
        Ok(id) => Outcome::Accepted(id),
        Err(e) => Outcome::Failed(e),
    };
    record_outcome(state, &job, outcome).await
}

/// An opt-in request whose consent moved on while queued (the contact said
/// STOP, say) must not go out.
async fn still_wanted(state: &AppState, message_id: i64) -> AppResult<bool> {
    let mut tx = state.store.pool.begin().await?;
    let Some(message) = rows::message_by_id(&mut tx, message_id).await? else {
        return Ok(false);
    };
    if message.purpose != "opt_in" {
        return Ok(true);
    }
    let record = rows::load(&mut tx, message.organization_id, &message.phone_e164).await?;
    Ok(record.status.state == optin_core::consent::ConsentState::Sending)
}

async fn record_outcome(state: &AppState, job: &Job, outcome: Outcome) -> AppResult<()> {
    let mut work = Work::begin(state).await?;
    let message = rows::message_by_id(&mut work.tx, job.message_id)
        .await?
        .ok_or("outbox job without its message")?;
    match outcome {
        Outcome::Accepted(provider_id) => {
            sqlx::query("UPDATE outbox SET state = 'done', attempts = attempts + 1, last_error = NULL WHERE id = $1")
                .bind(job.id)
                .execute(&mut *work.tx)
                .await?;
            sqlx::query("UPDATE messages SET provider_message_id = $2, status = 'accepted', updated_at = $3 WHERE id = $1")
                .bind(message.id)
                .bind(&provider_id)
                .bind(timestamp(work.now))
                .execute(&mut *work.tx)
                .await?;
            let detail = json!({"message_id": message.id, "provider_message_id": provider_id, "channel": message.channel, "purpose": message.purpose, "attempt": job.attempts + 1});
            let event = ConsentEvent::ProviderAccepted {
                message_id: provider_id.clone(),
            };
            flow::record_provider_answer(&mut work, &message, event, "provider_accepted", detail)
                .await?;
            apply_parked(&mut work, &provider_id).await?;
        }
        Outcome::Failed(error) if error.is_retryable() && job.attempts + 1 < MAX_ATTEMPTS => {
            let next: DateTime<Utc> = work.now + backoff(job.attempts);
            tracing::warn!(
                job = job.id,
                error = error.message(),
                "provider call failed; retrying"
            );
            sqlx::query("UPDATE outbox SET attempts = attempts + 1, next_attempt_at = $2, last_error = $3 WHERE id = $1")
                .bind(job.id)
                .bind(timestamp(next))
                .bind(error.message())
                .execute(&mut *work.tx)
                .await?;
        }
        Outcome::Failed(error) => {
            tracing::warn!(
                job = job.id,
                error = error.message(),
                "provider refused the message"
            );
            sqlx::query("UPDATE outbox SET state = 'failed', attempts = attempts + 1, last_error = $2 WHERE id = $1")
                .bind(job.id)
                .bind(error.message())
                .execute(&mut *work.tx)
                .await?;
            let code = error.code().unwrap_or(0);
            rows::set_message_status(
                &mut work.tx,
                message.id,
                "failed",
                Some((code, error.message())),
                work.now,
            )
            .await?;
            let detail = json!({"message_id": message.id, "channel": message.channel, "purpose": message.purpose, "error_code": error.code(), "http_status": error.status(), "error": error.message(), "attempts": job.attempts + 1});
            let event = ConsentEvent::ProviderFailed {
                message_id: None,
                code: u32::try_from(code).unwrap_or(0),
            };
            flow::record_provider_answer(&mut work, &message, event, "failed", detail).await?;
        }
    }
    work.commit(state).await
}

/// Applies statuses that arrived before the message id was known.
async fn apply_parked(work: &mut Work, provider_id: &str) -> AppResult<()> {
    let parked: Vec<(i64, String, String)> = sqlx::query_as(
        "SELECT id, status_json, raw_body FROM parked_statuses WHERE provider_message_id = $1 ORDER BY id",
    )
    .bind(provider_id)
    .fetch_all(&mut *work.tx)
    .await?;
    for (id, status_json, raw_body) in parked {
        if let Ok(update) = serde_json::from_str::<optin_core::whatsapp::StatusUpdate>(&status_json)
        {
            let source = WebhookSource {
                raw_body: &raw_body,
                provider_time: update.at(),
            };
            flow::apply_status(work, &update, &source).await?;
        }
        sqlx::query("DELETE FROM parked_statuses WHERE id = $1")
            .bind(id)
            .execute(&mut *work.tx)
            .await?;
    }
    Ok(())
}
