//! The service's clock. In sandbox mode it can be advanced so the 24-hour
//! rules can be tried without waiting, and put back to the wall clock so one
//! test does not leave it moved for the next; in production the offset stays
//! zero because the sandbox's clock routes are not mounted (the release
//! service is built without the sandbox).
//!
//! Its own crate so the service and the sandbox (`optin-sandbox`) share one
//! clock without either depending on the other.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

/// Wall-clock time plus an offset shared by every clone.
#[derive(Clone, Default, Debug)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
}

impl Clock {
    /// The current time as the service sees it.
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.offset()
    }

    /// Moves the clock forward; negative durations are ignored.
    pub fn advance(&self, by: Duration) {
        let ms = by.num_milliseconds().max(0);
        self.offset_ms.fetch_add(ms, Ordering::SeqCst);
    }

    /// Back to the wall clock (offset zero): the sandbox's reset between tests.
    pub fn reset(&self) {
        self.offset_ms.store(0, Ordering::SeqCst);
    }

    /// How far the clock has been advanced.
    pub fn offset(&self) -> Duration {
        Duration::milliseconds(self.offset_ms.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advancing_moves_every_clone_forward_and_never_back() {
        let clock = Clock::default();
        let other = clock.clone();
        clock.advance(Duration::hours(25));
        clock.advance(Duration::hours(-3));
        assert_eq!(other.offset(), Duration::hours(25));
        assert!(other.now() > Utc::now() + Duration::hours(24));
        other.reset();
        assert_eq!(clock.offset(), Duration::zero());
    }
}
