//! The outbox worker: sends queued messages through the providers, and
//! never an accepted message twice.
//!
//! A job is committed with the message it sends. Before calling the
//! provider, the worker claims the job (its attempt counted, held until a
//! lease ends that outlasts the call's timeout) and commits the claim. The
//! provider's acceptance is recorded first, in a transaction of its own.
//!
//! A call whose outcome is unknown (no answer within the timeout, a process
//! that died during the call, an answer that could not be recorded) is not
//! repeated blindly. Every WhatsApp send carries its job's key as
//! `biz_opaque_callback_data`, which Meta returns on each status of the
//! message; a status carrying it proves the send and links the message id
//! ([`delivery::apply_status`]). Only when no such status arrives within the
//! grace period (`OPTIN_OUTBOX_GRACE_SECONDS`) is the job sent again, with
//! the same key (which the SMS provider honours), and the consent record
//! says so.
//!
//! Throttling and 5xx answers are retried with exponential back-off; other
//! refusals end the job and become visible states. Jobs go out concurrently,
//! so one hung call never holds up another.

use std::collections::HashSet;
use std::time::Duration;

use optin_core::consent::ConsentState;
use optin_core::vocab::{Channel, MessageStatus, OutboxState, Purpose};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::error::AppResult;
use crate::providers::ProviderError;
use crate::services::delivery::{self, Acceptance};
use crate::services::{OutboundPayload, Work};
use crate::store::messages::{JobEnd, OutboxJob, StoredMessage};
use crate::AppState;

/// Attempts before a retryable failure (or an unknown outcome) counts as final.
pub const MAX_ATTEMPTS: i64 = 8;

/// Provider calls in flight at once.
pub const CONCURRENCY: usize = 8;

/// A claim outlives its call's timeout by this much, for the bookkeeping
/// around the call.
const LEASE_MARGIN: Duration = Duration::from_secs(10);

/// Tries at recording an accepted send before its outcome counts as
/// unknown (then a status carrying the job's key, or the grace rule, settles it).
const RECORD_TRIES: u32 = 3;

/// Parked statuses settled per pass.
const PARKED_BATCH: u32 = 50;

/// Back-off before attempt `attempts + 1`: 1 s, 2 s, 4 s, ... capped at 5 min.
pub fn backoff(attempts: i64) -> chrono::Duration {
    chrono::Duration::seconds(1i64 << attempts.clamp(0, 8)).min(chrono::Duration::minutes(5))
}

/// A job this worker holds for one provider call.
#[derive(Debug)]
struct Claimed {
    job: OutboxJob,
    message: StoredMessage,
    /// The attempt this call is (the job's attempts once claimed).
    attempt: i64,
}

/// Runs until `stop` is cancelled: claims due jobs while fewer than
/// [`CONCURRENCY`] calls are in flight, without waiting for the calls, then
/// sleeps until woken, a call ends, or the next half second. At the end, the
/// calls in flight finish (each within the provider timeout) and are recorded.
pub async fn run(state: AppState, stop: CancellationToken) {
    let mut in_flight = JoinSet::new();
    loop {
        if let Err(e) = settle_parked(&state).await {
            tracing::error!(error = %e, "applying parked statuses failed");
        }
        let room = CONCURRENCY.saturating_sub(in_flight.len());
        if room > 0 {
            match claim_due(&state, room).await {
                Ok(claimed) => {
                    for job in claimed {
                        in_flight.spawn(attempt(state.clone(), job));
                    }
                }
                Err(e) => tracing::error!(error = %e, "outbox pass failed"),
            }
        }
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = state.outbox_wake.notified() => {}
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            Some(ended) = in_flight.join_next(), if !in_flight.is_empty() => log_panic(ended),
        }
    }
    while let Some(ended) = in_flight.join_next().await {
        log_panic(ended);
    }
}

fn log_panic(ended: Result<(), tokio::task::JoinError>) {
    if let Err(e) = ended {
        tracing::error!(error = %e, "an outbox call ended abnormally; its outcome counts as unknown");
    }
}

/// One pass: claims what is due (up to [`CONCURRENCY`] jobs) and sends it
/// concurrently; returns how many calls were made.
pub async fn drain(state: &AppState) -> AppResult<usize> {
    settle_parked(state).await?;
    let claimed = claim_due(state, CONCURRENCY).await?;
    let count = claimed.len();
    let mut calls = JoinSet::new();
    for job in claimed {
        calls.spawn(attempt(state.clone(), job));
    }
    while let Some(ended) = calls.join_next().await {
        log_panic(ended);
    }
    Ok(count)
}

/// Lease of a claim: the call's timeout and a margin.
fn lease(state: &AppState) -> chrono::Duration {
    chrono::Duration::from_std(state.config.provider_timeout() + LEASE_MARGIN)
        .unwrap_or(chrono::Duration::MAX)
}

/// Claims up to `room` due jobs, each in its own committed transaction.
async fn claim_due(state: &AppState, room: usize) -> AppResult<Vec<Claimed>> {
    let now = state.clock.now();
    let due = state
        .store
        .due_jobs(now, now - state.config.outbox_grace(), room)
        .await?;
    let mut claimed = Vec::with_capacity(due.len());
    let mut recipients = HashSet::new();
    for job in due {
        let id = job.id;
        match claim(state, job, &mut recipients).await {
            Ok(Some(job)) => claimed.push(job),
            Ok(None) => {}
            Err(e) => tracing::error!(job = id, error = %e, "could not claim an outbox job"),
        }
    }
    Ok(claimed)
}

/// Claims one job; `None` when it is not to be sent (no longer wanted, out
/// of attempts, claimed by someone else meanwhile), or not yet: one call per
/// recipient in `recipients` at a time, so their messages keep their order.
async fn claim(
    state: &AppState,
    job: OutboxJob,
    recipients: &mut HashSet<(i64, String)>,
) -> AppResult<Option<Claimed>> {
    let mut work = Work::begin(state).await?;
    let message = work
        .store
        .message(job.message_id)
        .await?
        .ok_or("outbox job without its message")?;
    if !still_wanted(&mut work, &message).await? {
        work.store.end_job(job.id, JobEnd::Cancelled, None).await?;
        work.store
            .set_message_status(message.id, MessageStatus::Cancelled, None, work.now)
            .await?;
        work.commit(state).await?;
        return Ok(None);
    }
    // The previous call's outcome stayed unknown for the whole grace period.
    let repeat = matches!(job.state, OutboxState::Claimed | OutboxState::Unknown);
    if repeat && job.attempts >= MAX_ATTEMPTS {
        let error = ProviderError::Unanswered {
            message: format!(
                "no answer, and no status proving a send, after {} attempts",
                job.attempts
            ),
        };
        tracing::warn!(job = job.id, "{}", error.message());
        work.store
            .end_job(job.id, JobEnd::Failed, Some(error.message()))
            .await?;
        delivery::provider_refused(&mut work, &message, &error, job.attempts).await?;
        work.commit(state).await?;
        return Ok(None);
    }
    if !recipients.insert((message.organization_id, message.phone_e164.clone())) {
        return Ok(None);
    }
    let lease_until = work.now + lease(state);
    if !work
        .store
        .claim_job(job.id, job.attempts, lease_until)
        .await?
    {
        return Ok(None);
    }
    let attempt = job.attempts + 1;
    if repeat {
        tracing::warn!(
            job = job.id,
            attempt,
            "no answer and no status for the previous attempt within the grace period; sending again"
        );
        delivery::send_repeated(
            &mut work,
            &message,
            attempt,
            job.last_error.as_deref(),
            state.config.outbox_grace_seconds,
        )
        .await?;
    }
    work.commit(state).await?;
    Ok(Some(Claimed {
        job,
        message,
        attempt,
    }))
}

/// An opt-in request whose consent moved on while queued (the contact said
/// STOP, say) must not go out; nor may an advisor's message queued before an
/// opt-out or a revocation (binding at once). The service's own notices
/// (confirmations, help replies) always go.
async fn still_wanted(work: &mut Work, message: &StoredMessage) -> AppResult<bool> {
    if !matches!(message.purpose, Purpose::OptIn | Purpose::Message) {
        return Ok(true);
    }
    let record = work
        .store
        .consent(message.organization_id, &message.phone_e164)
        .await?;
    Ok(match (message.purpose, message.channel) {
        (Purpose::OptIn, _) => record.status.state == ConsentState::Sending,
        (_, Channel::Whatsapp) => record.status.may_message(),
        (_, Channel::Sms) => !record.sms_opted_out,
    })
}

/// Makes the claimed call, bounded by the provider timeout, and records
/// what came of it.
async fn attempt(state: AppState, claimed: Claimed) {
    let timeout = state.config.provider_timeout();
    let outcome = match tokio::time::timeout(timeout, send(&state, &claimed)).await {
        Ok(outcome) => outcome,
        Err(_) => Err(ProviderError::timed_out(timeout)),
    };
    if let Err(e) = record_outcome(&state, &claimed, outcome).await {
        tracing::error!(
            job = claimed.job.id,
            error = %e,
            "could not record a send's outcome; it counts as unknown once the lease ends"
        );
    }
}

/// Calls the provider from the organization's own number (and token). A
/// WhatsApp send carries the job's key as its callback data.
async fn send(state: &AppState, claimed: &Claimed) -> Result<String, ProviderError> {
    let key = &claimed.job.idempotency_key;
    let payload: OutboundPayload = serde_json::from_str(&claimed.job.payload_json)
        .map_err(|e| ProviderError::unsent(&format!("the queued message is unreadable: {e}")))?;
    let senders = state
        .store
        .organization_senders(claimed.message.organization_id)
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
            let message = message.with_callback_data(key).ok_or_else(|| {
                ProviderError::unsent("the job's key is too long for the callback data")
            })?;
            state
                .providers
                .whatsapp
                .send(&sender, &message, key)
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
                .send(&from, &to, &body, key)
                .await
                .map(|accepted| accepted.sid)
        }
    }
}

async fn record_outcome(
    state: &AppState,
    claimed: &Claimed,
    outcome: Result<String, ProviderError>,
) -> AppResult<()> {
    match outcome {
        Ok(provider_id) => record_acceptance(state, claimed, &provider_id).await,
        Err(error) => record_failure(state, claimed, &error).await,
    }
}

/// The provider accepted the send: that is recorded before anything else,
/// retried briefly when storage fails. Statuses parked for the id are
/// applied apart; when that fails, the next pass applies them.
async fn record_acceptance(
    state: &AppState,
    claimed: &Claimed,
    provider_id: &str,
) -> AppResult<()> {
    let mut pause = Duration::from_millis(200);
    for tries in 1.. {
        match accept(state, claimed, provider_id).await {
            Ok(()) => break,
            Err(e) if tries < RECORD_TRIES => {
                tracing::warn!(job = claimed.job.id, error = %e, "recording an accepted send failed; trying again");
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
            Err(e) => return Err(e),
        }
    }
    let mut work = Work::begin(state).await?;
    delivery::apply_parked(&mut work, provider_id).await?;
    work.commit(state).await
}

async fn accept(state: &AppState, claimed: &Claimed, provider_id: &str) -> AppResult<()> {
    let (job, attempt) = (&claimed.job, claimed.attempt);
    let mut work = Work::begin(state).await?;
    let message = work
        .store
        .message(job.message_id)
        .await?
        .ok_or("outbox job without its message")?;
    if work
        .store
        .end_claim(job.id, attempt, JobEnd::Done, None)
        .await?
    {
        delivery::provider_accepted(
            &mut work,
            &message,
            provider_id,
            attempt,
            Acceptance::Answer,
        )
        .await?;
    } else if let Some(recorded) = message
        .provider_message_id
        .as_deref()
        .filter(|recorded| *recorded != provider_id)
    {
        // A status proved an earlier attempt meanwhile: this one sent it again.
        delivery::duplicate_sent(&mut work, &message, recorded, provider_id, attempt, None).await?;
    }
    work.commit(state).await
}

async fn record_failure(
    state: &AppState,
    claimed: &Claimed,
    error: &ProviderError,
) -> AppResult<()> {
    let (job, attempt) = (&claimed.job, claimed.attempt);
    let mut work = Work::begin(state).await?;
    let held = if error.outcome_unknown() {
        tracing::warn!(
            job = job.id,
            error = error.message(),
            "no answer from the provider; waiting for a status carrying the job's key"
        );
        work.store
            .outcome_unknown(job.id, attempt, work.now, error.message())
            .await?
    } else if error.is_retryable() && attempt < MAX_ATTEMPTS {
        tracing::warn!(
            job = job.id,
            error = error.message(),
            "provider call failed; retrying"
        );
        let next = work.now + backoff(attempt - 1);
        work.store
            .retry_claim(job.id, attempt, next, error.message())
            .await?
    } else {
        tracing::warn!(
            job = job.id,
            error = error.message(),
            "provider refused the message"
        );
        let ended = work
            .store
            .end_claim(job.id, attempt, JobEnd::Failed, Some(error.message()))
            .await?;
        if ended {
            let message = work
                .store
                .message(job.message_id)
                .await?
                .ok_or("outbox job without its message")?;
            delivery::provider_refused(&mut work, &message, error, attempt).await?;
        }
        ended
    };
    if !held {
        tracing::info!(
            job = job.id,
            "a status proved the send while the call was failing; nothing to record"
        );
    }
    work.commit(state).await
}

/// Applies statuses parked for ids that are known now: their send was
/// recorded, or proved by a status carrying its key.
async fn settle_parked(state: &AppState) -> AppResult<()> {
    for provider_id in state.store.parked_for_known_messages(PARKED_BATCH).await? {
        let mut work = Work::begin(state).await?;
        delivery::apply_parked(&mut work, &provider_id).await?;
        work.commit(state).await?;
    }
    Ok(())
}
