//! Live fan-out of consent-record events to the SSE streams of the same
//! organization. Storage is the source of truth; this only wakes listeners.
//!
//! On SQLite (one instance) a committed unit of work publishes its events
//! here directly. On PostgreSQL it announces them in its transaction
//! instead, and [`relay`] publishes what every instance announced, so an
//! advisor connected to one instance sees an answer another applied. When
//! announcements may have been missed (the listener's connection dropped),
//! streams are told to catch up from storage by event id.

use std::time::Duration;

use optin_core::api::LiveEvent;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::store::Store;

/// A published event and the organization it belongs to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Published {
    pub organization_id: i64,
    pub event: LiveEvent,
}

/// What a stream hears.
#[derive(Debug, Clone)]
pub enum Signal {
    /// An event just committed.
    Event(Published),
    /// Events may have been missed: read storage after the last one seen.
    CatchUp,
}

/// Handle to publish and subscribe; cheap to clone.
#[derive(Clone)]
pub struct Live {
    sender: broadcast::Sender<Signal>,
}

impl Default for Live {
    fn default() -> Self {
        Self {
            sender: broadcast::channel(1024).0,
        }
    }
}

impl Live {
    /// Sends to current subscribers; nobody listening is fine.
    pub fn publish(&self, published: Published) {
        let _ = self.sender.send(Signal::Event(published));
    }

    /// Tells every stream to read storage for what it may have missed.
    pub fn catch_up(&self) {
        let _ = self.sender.send(Signal::CatchUp);
    }

    /// A receiver of everything published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Signal> {
        self.sender.subscribe()
    }
}

/// How long the relay waits before listening again after its connection failed.
const RELISTEN_AFTER: Duration = Duration::from_secs(1);

/// Publishes every instance's announced events to this instance's streams
/// until `stop` (PostgreSQL only; returns at once on SQLite).
pub async fn relay(store: Store, live: Live, stop: CancellationToken) {
    if !store.relays_live() {
        return;
    }
    loop {
        let listening = tokio::select! {
            _ = stop.cancelled() => return,
            listening = store.live_listener() => listening,
        };
        match listening {
            Ok(Some(mut listener)) => {
                // Whatever committed before the listener heard it is in storage.
                live.catch_up();
                loop {
                    let heard = tokio::select! {
                        _ = stop.cancelled() => return,
                        heard = listener.next() => heard,
                    };
                    match heard {
                        Ok(Some(payload)) => match serde_json::from_str(&payload) {
                            Ok(published) => live.publish(published),
                            Err(e) => {
                                tracing::error!(error = %e, "unreadable live announcement");
                                live.catch_up();
                            }
                        },
                        // Reconnected on the next call; anything meanwhile is in storage.
                        Ok(None) => live.catch_up(),
                        Err(e) => {
                            tracing::warn!(error = %e, "live listener failed; listening again");
                            break;
                        }
                    }
                }
            }
            Ok(None) => return,
            Err(e) => tracing::warn!(error = %e, "cannot listen for live events; trying again"),
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(RELISTEN_AFTER) => {}
        }
    }
}
