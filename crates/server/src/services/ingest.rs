//! Group commit of provider webhooks.
//!
//! With `synchronous=FULL` every commit waits for the disk, so one
//! transaction per webhook caps ingest at the disk's flush rate. Webhooks
//! that arrive together are therefore applied together: each waiting
//! request puts its webhook in a queue, and whichever request takes the
//! writer's turn applies everything queued (up to [`MAX_BATCH`]) in one
//! transaction (each webhook inside its own savepoint only when one of the
//! batch failed: see [`apply_batch`]), then commits once and answers every
//! request of the batch. A webhook is acknowledged only
//! after the commit that holds it is durable; one that fails is rolled back
//! to its savepoint alone and answered with its error (the provider delivers
//! it again), the rest of the batch commits. If the transaction itself is
//! lost (SQLite rolls it back on a full disk or an I/O error), nothing of
//! the batch is acknowledged.
//!
//! The batch runs in a task of its own, so a request that goes away (its
//! client hung up, a timeout) never cuts a batch short for the others.
//!
//! Every statement is a round trip to the database's thread, and the
//! writer's path is what every webhook waits on; so a WhatsApp body is read
//! by its request's task before it queues, and a batch claims the receipts
//! of all its messages and statuses in one statement before applying them
//! (each webhook's own check is then answered from memory), and reads the
//! consents of the numbers its messages come from in another (each
//! message's window is then opened in memory and written with the batch).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use optin_core::whatsapp::WebhookItems;

use super::{inbound, Work};
use crate::error::{AppError, AppResult};
use crate::store::evidence::ReceivedWebhook;
use crate::AppState;

/// Most webhooks in one transaction: enough to share a flush among every
/// connection a provider keeps open, small enough that a batch is short.
pub const MAX_BATCH: usize = 256;

/// Which provider signed a webhook (it says how to read it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    WhatsApp,
    Sms,
}

/// A webhook waiting for its batch, and where to answer.
struct Queued {
    body: Body,
    webhook: ReceivedWebhook,
    answer: oneshot::Sender<AppResult<()>>,
}

/// A webhook's body as its provider's format reads it. A WhatsApp body is
/// read by the request's own task before it queues, not by the batch (the
/// writer's path, which every webhook waits on).
enum Body {
    WhatsApp(WebhookItems),
    Sms,
}

impl Queued {
    /// The receipt keys the batch can claim ahead for this webhook.
    fn receipt_keys(&self) -> impl Iterator<Item = String> + '_ {
        let items = match &self.body {
            Body::WhatsApp(items) => Some(items),
            Body::Sms => None,
        };
        items.into_iter().flat_map(inbound::receipt_keys)
    }
}

/// The queue and the writer's turn.
#[derive(Default)]
pub struct GroupCommit {
    queued: Mutex<Vec<Queued>>,
    turn: Arc<tokio::sync::Mutex<()>>,
    /// Batches committed, and the webhooks they applied (for `/metrics`).
    commits: AtomicU64,
    committed: AtomicU64,
}

impl GroupCommit {
    /// Batches committed since start, and the webhooks applied in them.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.commits.load(Ordering::Relaxed),
            self.committed.load(Ordering::Relaxed),
        )
    }
}

/// Applies a signed webhook; answers once it is durable (or why not).
pub async fn apply(
    state: &AppState,
    provider: Provider,
    webhook: ReceivedWebhook,
) -> AppResult<()> {
    let (answer, mut answered) = oneshot::channel();
    let body = match provider {
        Provider::WhatsApp => Body::WhatsApp(WebhookItems::read(webhook.body.as_bytes())),
        Provider::Sms => Body::Sms,
    };
    let ingest = &state.ingest;
    ingest
        .queued
        .lock()
        .expect("the queue is never poisoned")
        .push(Queued {
            body,
            webhook,
            answer,
        });
    loop {
        tokio::select! {
            biased;
            outcome = &mut answered => {
                return outcome.unwrap_or_else(|_| Err(AppError::Internal(
                    "the webhook's batch ended without an answer".into(),
                )));
            }
            turn = ingest.turn.clone().lock_owned() => {
                let batch = take_batch(ingest);
                if batch.is_empty() {
                    continue; // answered by the batch before
                }
                let state = state.clone();
                // The batch keeps the turn until it has answered everyone.
                let running = tokio::spawn(async move {
                    apply_batch(&state, batch).await;
                    drop(turn);
                });
                let _ = running.await;
            }
        }
    }
}

fn take_batch(ingest: &GroupCommit) -> Vec<Queued> {
    let mut queued = ingest.queued.lock().expect("the queue is never poisoned");
    let take = queued.len().min(MAX_BATCH);
    queued.drain(..take).collect()
}

/// One transaction for the batch. Webhooks almost always apply, so the
/// batch first runs without a savepoint per webhook (two statements each,
/// on the single writer); if one of them fails, that run is rolled back and
/// the batch runs again with a savepoint each, so only the failing webhook
/// is refused.
async fn apply_batch(state: &AppState, batch: Vec<Queued>) {
    match apply_together(state, &batch).await {
        Ok(true) => {
            count_commit(state, batch.len());
            for queued in batch {
                let _ = queued.answer.send(Ok(()));
            }
        }
        Ok(false) => apply_each(state, batch).await,
        Err(e) => answer_all(batch, &e),
    }
}

/// The whole batch in one transaction, its items' receipts claimed in one
/// statement first; `false` (and nothing kept) when a webhook of it failed.
async fn apply_together(state: &AppState, batch: &[Queued]) -> AppResult<bool> {
    let mut work = Work::begin(state).await?;
    work.store.defer_inserts();
    let keys: Vec<String> = batch.iter().flat_map(Queued::receipt_keys).collect();
    work.store.claim_receipts(&keys, work.now).await?;
    let mut senders = Vec::new();
    for queued in batch {
        if let Body::WhatsApp(items) = &queued.body {
            inbound::senders(&mut work, items, &mut senders).await?;
        }
    }
    work.store.read_consents_ahead(&senders).await?;
    let mut failed = None;
    for queued in batch {
        if let Err(e) = apply_webhook(&mut work, queued).await {
            failed = Some(e);
            break;
        }
    }
    // A deferred row that cannot be written fails here, not in its webhook.
    if failed.is_none() {
        failed = work.store.write_deferred().await.err().map(AppError::from);
    }
    if let Some(e) = failed {
        tracing::info!(error = %e, "a webhook of a batch failed; the batch is applied again one by one");
        return Ok(false); // dropping `work` rolls the transaction back
    }
    work.commit(state).await?;
    Ok(true)
}

fn count_commit(state: &AppState, applied: usize) {
    state.ingest.commits.fetch_add(1, Ordering::Relaxed);
    state
        .ingest
        .committed
        .fetch_add(applied as u64, Ordering::Relaxed);
}

/// One transaction for the batch, a savepoint for each webhook.
async fn apply_each(state: &AppState, batch: Vec<Queued>) {
    let mut work = match Work::begin(state).await {
        Ok(work) => work,
        Err(e) => return answer_all(batch, &e),
    };
    let mut outcomes = Vec::with_capacity(batch.len());
    for queued in &batch {
        match apply_one(&mut work, queued).await {
            Ok(outcome) => outcomes.push(outcome),
            // The transaction is gone: nothing of the batch stands.
            Err(lost) => return answer_all(batch, &lost),
        }
    }
    match work.commit(state).await {
        Ok(()) => {
            count_commit(state, outcomes.iter().filter(|o| o.is_ok()).count());
            for (queued, outcome) in batch.into_iter().zip(outcomes) {
                let _ = queued.answer.send(outcome);
            }
        }
        Err(e) => answer_all(batch, &e),
    }
}

async fn apply_webhook(work: &mut Work, queued: &Queued) -> AppResult<()> {
    match &queued.body {
        Body::WhatsApp(items) => inbound::apply_whatsapp_in(work, &queued.webhook, items).await,
        Body::Sms => inbound::apply_sms_in(work, &queued.webhook).await,
    }
}

/// Applies one webhook inside its savepoint. The outer error means the
/// transaction itself failed; the inner one is this webhook's own.
async fn apply_one(work: &mut Work, queued: &Queued) -> AppResult<AppResult<()>> {
    let mark = work.mark().await?;
    match apply_webhook(work, queued).await {
        Ok(()) => {
            work.keep(mark).await?;
            Ok(Ok(()))
        }
        Err(e) => {
            tracing::warn!(error = %e, "a webhook of a batch was not applied; the rest commit");
            work.undo(mark).await?;
            Ok(Err(e))
        }
    }
}

/// Answers every webhook of a batch that did not commit with `error`'s kind
/// (storage unavailable: 503 and the provider retries; else 500).
fn answer_all(batch: Vec<Queued>, error: &AppError) {
    tracing::warn!(webhooks = batch.len(), error = %error, "a batch of webhooks was not applied");
    for queued in batch {
        let reason: Box<dyn std::error::Error + Send + Sync> = std::error::Error::source(error)
            .map_or_else(|| error.to_string(), |source| source.to_string())
            .into();
        let each = match error {
            AppError::Unavailable(_) => AppError::Unavailable(reason),
            _ => AppError::Internal(reason),
        };
        let _ = queued.answer.send(Err(each));
    }
}
