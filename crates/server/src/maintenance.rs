//! Housekeeping that runs beside the service: every few minutes it
//! checkpoints SQLite's write-ahead log (and once more at clean shutdown, see
//! [`crate::Service::stop`]), forgets webhook receipts older than the
//! providers' retry horizon, and purges messages past their organization's
//! retention (see [`crate::services::retention`]).
//!
//! Receipts make re-deliveries harmless: an item seen before is acknowledged
//! and skipped. Meta retries an unacknowledged webhook for up to 7 days and
//! Twilio for far less, so a receipt is kept [`RECEIPT_HORIZON`] (8 days)
//! and deduplication holds over every retry a provider can make.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::store::StoreResult;
use crate::AppState;

/// How long a webhook receipt is kept: Meta's 7-day retry horizon and a day.
pub const RECEIPT_HORIZON: chrono::Duration = chrono::Duration::days(8);

/// Time between passes.
pub const INTERVAL: Duration = Duration::from_secs(5 * 60);

/// What one pass did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pass {
    /// Webhook receipts forgotten.
    pub receipts_pruned: u64,
    /// Messages past their organization's retention that were purged.
    pub messages_purged: u64,
    /// Whether the write-ahead log was emptied (false while another
    /// connection was still using it; the next pass tries again).
    pub log_truncated: bool,
}

/// Runs a pass every [`INTERVAL`] until `stop` is cancelled; a failed pass
/// is logged and tried again at the next.
pub async fn run(state: AppState, stop: CancellationToken) {
    let mut every = tokio::time::interval(INTERVAL);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = every.tick() => {}
        }
        match pass(&state).await {
            Ok(done) => {
                if done.receipts_pruned > 0 {
                    tracing::info!(pruned = done.receipts_pruned, "old webhook receipts pruned")
                }
                if done.messages_purged > 0 {
                    tracing::info!(
                        purged = done.messages_purged,
                        "messages past retention purged"
                    )
                }
            }
            Err(e) => tracing::warn!(error = %e, "maintenance pass failed"),
        }
    }
}

/// One pass: prunes receipts beyond the horizon (by the service clock), then
/// checkpoints the log.
pub async fn pass(state: &AppState) -> StoreResult<Pass> {
    let receipts_pruned = state
        .store
        .prune_receipts(state.clock.now() - RECEIPT_HORIZON)
        .await?;
    let messages_purged = crate::services::retention::purge_all(state).await?.messages;
    let log_truncated = state.store.checkpoint().await?;
    Ok(Pass {
        receipts_pruned,
        messages_purged,
        log_truncated,
    })
}
