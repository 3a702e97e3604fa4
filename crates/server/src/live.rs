//! Live fan-out of consent-record events to the SSE streams of the same
//! organization. Storage is the source of truth; this only wakes listeners.

use optin_core::api::LiveEvent;
use tokio::sync::broadcast;

/// A published event and the organization it belongs to.
#[derive(Debug, Clone)]
pub struct Published {
    pub organization_id: i64,
    pub event: LiveEvent,
}

/// Handle to publish and subscribe; cheap to clone.
#[derive(Clone)]
pub struct Live {
    sender: broadcast::Sender<Published>,
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
        let _ = self.sender.send(published);
    }

    /// A receiver of everything published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Published> {
        self.sender.subscribe()
    }
}
