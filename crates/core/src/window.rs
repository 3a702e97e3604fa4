//! Time rules: WhatsApp's 24-hour customer-service window and the resend
//! interval for opt-in requests.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// Minimum time between two opt-in requests (first request or resend) to the
/// same contact.
pub const RESEND_INTERVAL: Duration = Duration::hours(24);

/// How long free-form messages may be sent after the contact's last inbound
/// message (a button tap counts).
pub const SERVICE_WINDOW: Duration = Duration::hours(24);

/// Whether the customer-service window is open, and until when.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "window")]
pub enum ServiceWindow {
    /// Free-form text may be sent until `closes_at` (exclusive).
    Open {
        /// First instant at which free-form text is no longer allowed.
        #[serde(with = "crate::wire_time")]
        closes_at: DateTime<Utc>,
    },
    /// Only approved templates may be sent.
    Closed,
}

impl ServiceWindow {
    /// True when free-form text may be sent now.
    pub fn allows_free_text(&self) -> bool {
        matches!(self, ServiceWindow::Open { .. })
    }

    /// When the open window closes; `None` when it is already closed.
    pub fn closes_at(&self) -> Option<DateTime<Utc>> {
        match self {
            ServiceWindow::Open { closes_at } => Some(*closes_at),
            ServiceWindow::Closed => None,
        }
    }
}

/// The window at `now`, given when the contact last wrote to us (`None`: never).
///
/// The window closes exactly [`SERVICE_WINDOW`] after the last inbound
/// message; from that instant on only templates are allowed.
pub fn service_window(last_inbound: Option<DateTime<Utc>>, now: DateTime<Utc>) -> ServiceWindow {
    match last_inbound.and_then(|at| at.checked_add_signed(SERVICE_WINDOW)) {
        Some(closes_at) if now < closes_at => ServiceWindow::Open { closes_at },
        _ => ServiceWindow::Closed,
    }
}

/// `at + d`, saturating at the latest representable time instead of panicking.
pub(crate) fn saturating_add(at: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    at.checked_add_signed(d).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 6, 7, 9, 56, 0).unwrap()
    }

    #[test]
    fn intervals_are_24_hours() {
        assert_eq!(RESEND_INTERVAL, Duration::hours(24));
        assert_eq!(SERVICE_WINDOW, Duration::hours(24));
    }

    #[test]
    fn window_is_closed_when_the_contact_never_wrote() {
        assert_eq!(service_window(None, t0()), ServiceWindow::Closed);
        assert!(!service_window(None, t0()).allows_free_text());
    }

    #[test]
    fn free_text_is_allowed_within_24_hours_of_the_last_inbound_message() {
        let w = service_window(Some(t0()), t0() + Duration::hours(23));
        assert!(w.allows_free_text());
        assert_eq!(w.closes_at(), Some(t0() + Duration::hours(24)));
    }

    #[test]
    fn window_closes_exactly_24_hours_after_the_last_inbound_message() {
        let closes = t0() + Duration::hours(24);
        assert!(service_window(Some(t0()), closes - Duration::seconds(1)).allows_free_text());
        assert_eq!(service_window(Some(t0()), closes), ServiceWindow::Closed);
    }

    #[test]
    fn inbound_time_ahead_of_our_clock_still_opens_the_window() {
        let w = service_window(Some(t0()), t0() - Duration::minutes(1));
        assert_eq!(w.closes_at(), Some(t0() + SERVICE_WINDOW));
    }

    #[test]
    fn window_arithmetic_does_not_overflow_at_the_end_of_time() {
        let end = DateTime::<Utc>::MAX_UTC;
        assert_eq!(service_window(Some(end), end), ServiceWindow::Closed);
        assert_eq!(saturating_add(end, RESEND_INTERVAL), end);
    }
}
