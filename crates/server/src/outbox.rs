//! The outbox worker: sends queued messages through the providers.
//!
//! A job is committed with the message it sends. The worker calls the
//! provider with the job's idempotency key, then records the outcome; a crash
//! in between leaves the job pending, and the retry carries the same key, so
//! the provider sends once. Throttling, 5xx and timeouts are retried with
//! exponential back-off; other refusals end the job and become visible states.

use std::time::Duration;

use optin_core::consent::ConsentState;
use optin_core::vocab::{Channel, MessageStatus, Purpose};
use tokio_util::sync::CancellationToken;

use crate::error::{AppError, AppResult};
use crate::providers::ProviderError;
use crate::services::{delivery, OutboundPayload, Work};
use crate::store::messages::{JobEnd, OutboxJob};
use crate::AppState;

/// Attempts before a retryable failure counts as final.
pub const MAX_ATTEMPTS: i64 = 8;

/// Jobs taken per pass.
const BATCH: u32 = 50;

/// Back-off before attempt `attempts + 1`: 1 s, 2 s, 4 s, ... capped at 5 min.
pub fn backoff(attempts: i64) -> chrono::Duration {
    chrono::Duration::seconds(1i64 << attempts.clamp(0, 8)).min(chrono::Duration::minutes(5))
}

/// Runs until `stop` is cancelled: sends what is due, then sleeps until woken
/// or the next half second.
pub async fn run(state: AppState, stop: CancellationToken) {
    loop {
        if let Err(e) = drain(&state).await {
            tracing::error!(error = %e, "outbox pass failed");
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
    let due = state.store.due_jobs(state.clock.now(), BATCH).await?;
    let count = due.len();
    for job in due {
        attempt(state, job).await?;
    }
    Ok(count)
}

async fn attempt(state: &AppState, job: OutboxJob) -> AppResult<()> {
    let payload: OutboundPayload =
        serde_json::from_str(&job.payload_json).map_err(|e| AppError::Internal(Box::new(e)))?;
    if !still_wanted(state, job.message_id).await? {
        let mut work = Work::begin(state).await?;
        work.store
            .finish_job(job.id, JobEnd::Cancelled, None)
            .await?;
        work.store
            .set_message_status(job.message_id, MessageStatus::Cancelled, None, work.now)
            .await?;
        return work.commit(state).await;
    }
    let outcome = send(state, job.message_id, &payload, &job.idempotency_key).await;
    record_outcome(state, &job, outcome).await
}

/// Calls the provider from the organization's own number (and token).
async fn send(
    state: &AppState,
    message_id: i64,
    payload: &OutboundPayload,
    idempotency_key: &str,
) -> Result<String, ProviderError> {
    let organization = match state.store.message(message_id).await {
        Ok(Some(message)) => message.organization_id,
        Ok(None) => return Err(ProviderError::unsent("the message to send is gone")),
        Err(e) => return Err(ProviderError::unavailable(e.to_string())),
    };
    let senders = state
        .store
        .organization_senders(organization)
        .await
        .map_err(|e| ProviderError::unavailable(e.to_string()))?;
    match payload {
        OutboundPayload::Whatsapp { message } => {
            let sender = senders
                .whatsapp
                .ok_or_else(|| {
                    ProviderError::unsent("the organization has no WhatsApp number provisioned")
                })?
                .sender()
                .map_err(|e| ProviderError::unsent(&e))?;
            state
                .providers
                .whatsapp
                .send(&sender, message, idempotency_key)
                .await
                .map(|accepted| accepted.message_id)
        }
        OutboundPayload::Sms { to, body } => {
            let from = senders.sms_from.ok_or_else(|| {
                ProviderError::unsent("the organization has no SMS sender number provisioned")
            })?;
            state
                .providers
                .sms
                .send(&from, to, body, idempotency_key)
                .await
                .map(|accepted| accepted.sid)
        }
    }
}

/// An opt-in request whose consent moved on while queued (the contact said
/// STOP, say) must not go out; nor may an advisor's message queued before an
/// opt-out or a revocation (binding at once). The service's own notices
/// (confirmations, help replies) always go.
async fn still_wanted(state: &AppState, message_id: i64) -> AppResult<bool> {
    let Some(message) = state.store.message(message_id).await? else {
        return Ok(false);
    };
    if !matches!(message.purpose, Purpose::OptIn | Purpose::Message) {
        return Ok(true);
    }
    let record = state
        .store
        .consent(message.organization_id, &message.phone_e164)
        .await?;
    Ok(match (message.purpose, message.channel) {
        (Purpose::OptIn, _) => record.status.state == ConsentState::Sending,
        (_, Channel::Whatsapp) => record.status.may_message(),
        (_, Channel::Sms) => !record.sms_opted_out,
    })
}

async fn record_outcome(
    state: &AppState,
    job: &OutboxJob,
    outcome: Result<String, ProviderError>,
) -> AppResult<()> {
    let mut work = Work::begin(state).await?;
    let message = work
        .store
        .message(job.message_id)
        .await?
        .ok_or("outbox job without its message")?;
    let attempt = job.attempts + 1;
    match outcome {
        Ok(provider_id) => {
            work.store.finish_job(job.id, JobEnd::Done, None).await?;
            delivery::provider_accepted(&mut work, &message, &provider_id, attempt).await?;
        }
        Err(error) if error.is_retryable() && attempt < MAX_ATTEMPTS => {
            tracing::warn!(
                job = job.id,
                error = error.message(),
                "provider call failed; retrying"
            );
            let next = work.now + backoff(job.attempts);
            work.store.retry_job(job.id, next, error.message()).await?;
        }
        Err(error) => {
            tracing::warn!(
                job = job.id,
                error = error.message(),
                "provider refused the message"
            );
            work.store
                .finish_job(job.id, JobEnd::Failed, Some(error.message()))
                .await?;
            delivery::provider_refused(&mut work, &message, &error, attempt).await?;
        }
    }
    work.commit(state).await
}
