//! The consent state machine, per (organization, contact number).
//!
//! [`apply`] is pure: it takes the current [`ConsentStatus`], one
//! [`ConsentEvent`] and the time, and returns the next status or a typed
//! refusal. The server stores the result and records every event, changed or
//! not, in the consent record.
//!
//! Decisions, beyond the table in `docs/architecture.md`:
//! - **One request per 24 h.** The first request and every resend count alike:
//!   the next one is allowed [`RESEND_INTERVAL`] after the last one was queued,
//!   whatever happened in between ([`ConsentStatus::resend_allowed_at`]).
//!   `Expired` starts at that same instant, so the Resend button and the rule
//!   agree to the second.
//! - **`requested` vs `resent`.** [`ConsentEvent::Requested`] is valid from
//!   `none` and `no_whatsapp` (the number may join WhatsApp later);
//!   [`ConsentEvent::Resent`] only from `pending` (shown as `expired`).
//! - **Opted out is final for the advisor.** Only the contact can leave
//!   `opted_out` (Yes tap or "yes"); every advisor request is refused.
//! - **The contact always wins.** Yes/No taps and opt-in/opt-out keywords apply
//!   from every state, so "reply yes any time" works. Whether a tap's request
//!   id is current is the caller's check, not this module's.
//! - **Typed "no"** ([`ConsentEvent::KeywordDecline`]) opts out only while a
//!   request is outstanding (`sending`, `pending`); elsewhere it is an ordinary
//!   reply and changes nothing.
//! - **Send failures.** 131026 leads to `no_whatsapp`. Throughput errors
//!   (130429, 131056) belong to the outbox and change nothing here. Any other
//!   code returns to `none` with [`ConsentStatus::last_failure`] set, which
//!   the view shows as `failed`; the advisor may request again once the 24 h
//!   interval has passed (which also honours "do not retry at once" for
//!   131049/131050).
//! - **Revocation by any reasonable means.**
//!   [`ConsentEvent::RevokedByOtherMeans`] (given by phone, e-mail, in person,
//!   or a flagged message a reviewer applied) opts out from every state, like
//!   "stop": it is the contact's decision, a person only records it.
//! - **Provider events that do not fit** (duplicates, late or out-of-order
//!   statuses, a failure for an older request) are accepted and change
//!   nothing, so webhook re-delivery is harmless. Only advisor actions are
//!   ever refused.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::keywords::Keyword;
use crate::vocab::{ErrorCode, ErrorEffect};
use crate::window::{saturating_add, RESEND_INTERVAL};

pub use crate::vocab::Cause;

/// Stored consent state of one contact number.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ConsentState {
    /// Never asked, or the last request failed (see `last_failure`).
    #[default]
    None,
    /// The advisor confirmed; the request is queued to the provider.
    Sending,
    /// The provider accepted the request; waiting for the contact.
    Pending,
    /// The provider reported that the number is not on WhatsApp (131026).
    NoWhatsapp,
    /// The contact opted in.
    OptedIn,
    /// The contact opted out.
    OptedOut,
}

impl ConsentState {
    /// Every state.
    pub const ALL: &'static [ConsentState] = &[
        ConsentState::None,
        ConsentState::Sending,
        ConsentState::Pending,
        ConsentState::NoWhatsapp,
        ConsentState::OptedIn,
        ConsentState::OptedOut,
    ];

    /// The view of an answer, which neither the clock nor the last failure
    /// changes: what the state alone says (a live event shows it at once).
    pub fn settled_view(self) -> Option<ConsentView> {
        match self {
            ConsentState::NoWhatsapp => Some(ConsentView::NoWhatsapp),
            ConsentState::OptedIn => Some(ConsentView::OptedIn),
            ConsentState::OptedOut => Some(ConsentView::OptedOut),
            ConsentState::None | ConsentState::Sending | ConsentState::Pending => None,
        }
    }

    /// The wire name (`"opted_in"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ConsentState::None => "none",
            ConsentState::Sending => "sending",
            ConsentState::Pending => "pending",
            ConsentState::NoWhatsapp => "no_whatsapp",
            ConsentState::OptedIn => "opted_in",
            ConsentState::OptedOut => "opted_out",
        }
    }
}

impl std::str::FromStr for ConsentState {
    type Err = crate::vocab::UnknownName;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        ConsentState::ALL
            .iter()
            .copied()
            .find(|state| state.as_str() == text)
            .ok_or_else(|| crate::vocab::UnknownName {
                what: "ConsentState",
                text: text.to_owned(),
            })
    }
}

impl fmt::Display for ConsentState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the advisor sees: the stored state plus two states derived from time
/// and history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ConsentView {
    /// Never asked.
    None,
    /// The request is being sent.
    Sending,
    /// Waiting for the contact, for less than 24 h.
    Pending,
    /// Waiting for the contact for 24 h or more; a resend is allowed.
    Expired,
    /// The last request failed with an error other than 131026.
    Failed,
    /// Not a WhatsApp user; offer SMS.
    NoWhatsapp,
    /// The contact opted in.
    OptedIn,
    /// The contact opted out.
    OptedOut,
}

/// A provider error that ended an opt-in request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendFailure {
    /// Provider error code; `None` when the provider gave none (a timeout, a bare 5xx).
    pub code: Option<ErrorCode>,
    /// When the failure was received.
    #[serde(with = "crate::wire_time")]
    pub at: DateTime<Utc>,
}

/// Consent of one contact number, as stored. `Default` is "never asked".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentStatus {
    /// Current stored state.
    pub state: ConsentState,
    /// When the advisor made the current request (resends keep it).
    #[serde(default, with = "crate::wire_time::option")]
    pub requested_at: Option<DateTime<Utc>>,
    /// When the latest request or resend was queued; drives the 24 h rules.
    #[serde(default, with = "crate::wire_time::option")]
    pub last_request_at: Option<DateTime<Utc>>,
    /// Provider message id of the latest accepted request (while `sending`,
    /// the previous one).
    pub message_id: Option<String>,
    /// The error that ended the latest request, if one did.
    pub last_failure: Option<SendFailure>,
    /// When the contact last opted in or out.
    #[serde(default, with = "crate::wire_time::option")]
    pub answered_at: Option<DateTime<Utc>>,
}

impl ConsentStatus {
    /// When the advisor may next send a request (first request or resend).
    ///
    /// `None` when no request has been made yet (one may be sent at once
    /// from `none`) or when the state allows no request at all (`sending`,
    /// `opted_in`, `opted_out`).
    pub fn resend_allowed_at(&self) -> Option<DateTime<Utc>> {
        match self.state {
            ConsentState::None | ConsentState::NoWhatsapp | ConsentState::Pending => self
                .last_request_at
                .map(|at| saturating_add(at, RESEND_INTERVAL)),
            ConsentState::Sending | ConsentState::OptedIn | ConsentState::OptedOut => None,
        }
    }

    /// The state the advisor sees at `now`.
    pub fn view(&self, now: DateTime<Utc>) -> ConsentView {
        if let Some(answer) = self.state.settled_view() {
            return answer;
        }
        match self.state {
            ConsentState::None if self.last_failure.is_some() => ConsentView::Failed,
            ConsentState::Sending => ConsentView::Sending,
            ConsentState::Pending if self.resend_allowed_at().is_some_and(|at| now >= at) => {
                ConsentView::Expired
            }
            ConsentState::Pending => ConsentView::Pending,
            _ => ConsentView::None,
        }
    }

    /// True when messages other than the opt-in request may be sent.
    pub fn may_message(&self) -> bool {
        self.state == ConsentState::OptedIn
    }
}

/// Something that happened to a contact's consent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum ConsentEvent {
    /// Advisor confirmed an opt-in request (from `none` or `no_whatsapp`).
    Requested,
    /// Advisor resent the request to a contact who has not answered.
    Resent,
    /// Provider accepted the request and gave it a message id.
    ProviderAccepted {
        /// Provider message id (`wamid...`).
        message_id: String,
    },
    /// Provider rejected the request, synchronously or by a `failed` status.
    ProviderFailed {
        /// Message id from the status webhook; `None` for an API error.
        message_id: Option<String>,
        /// Provider error code; `None` when the provider gave none.
        code: Option<ErrorCode>,
    },
    /// WhatsApp reported a retryable failure (130429, say) for the request
    /// it had accepted: the outbox sends it again, so the request is in
    /// flight once more rather than pending an answer that cannot come.
    ProviderRetrying {
        /// The failed message id (`wamid...`).
        message_id: String,
    },
    /// Contact tapped the Yes button.
    TappedYes,
    /// Contact tapped the No button.
    TappedNo,
    /// Contact typed an opt-in keyword ("yes").
    KeywordOptIn,
    /// Contact typed an opt-out keyword ("stop").
    KeywordOptOut,
    /// Contact typed a decline ("no").
    KeywordDecline,
    /// Contact revoked consent by other means (phone, e-mail, in person, a
    /// plain-words message), recorded by a person of the organization.
    RevokedByOtherMeans,
}

impl ConsentEvent {
    /// Who caused this event.
    pub fn cause(&self) -> Cause {
        match self {
            ConsentEvent::Requested | ConsentEvent::Resent => Cause::Advisor,
            ConsentEvent::ProviderAccepted { .. }
            | ConsentEvent::ProviderFailed { .. }
            | ConsentEvent::ProviderRetrying { .. } => Cause::Provider,
            ConsentEvent::TappedYes
            | ConsentEvent::TappedNo
            | ConsentEvent::KeywordOptIn
            | ConsentEvent::KeywordOptOut
            | ConsentEvent::KeywordDecline
            | ConsentEvent::RevokedByOtherMeans => Cause::Contact,
        }
    }

    /// The event for a typed keyword; `None` for keywords without effect
    /// on consent (help).
    pub fn from_keyword(keyword: Keyword) -> Option<ConsentEvent> {
        match keyword {
            Keyword::OptIn => Some(ConsentEvent::KeywordOptIn),
            Keyword::OptOut => Some(ConsentEvent::KeywordOptOut),
            Keyword::Decline => Some(ConsentEvent::KeywordDecline),
            Keyword::Help => None,
        }
    }
}

/// The outcome of an accepted event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// State before the event.
    pub from: ConsentState,
    /// Status after the event (equal to the old one when nothing changed).
    pub status: ConsentStatus,
    /// Who caused it.
    pub cause: Cause,
}

impl Transition {
    /// True when the stored state changed (worth a live update).
    pub fn state_changed(&self) -> bool {
        self.from != self.status.state
    }
}

/// Why an advisor action was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IllegalTransition {
    /// Less than 24 h since the last request.
    #[error(
        "an opt-in request was sent less than 24 hours ago; the next is allowed at {allowed_at}"
    )]
    TooSoon {
        /// When a request becomes allowed.
        allowed_at: DateTime<Utc>,
    },
    /// The contact opted out; only the contact can opt back in.
    #[error("the contact has opted out; only the contact can opt back in")]
    ContactOptedOut,
    /// The contact already opted in.
    #[error("the contact has already opted in")]
    AlreadyOptedIn,
    /// A request is being sent right now.
    #[error("an opt-in request is already being sent")]
    RequestInFlight,
    /// `Requested` while pending, or `Resent` with nothing to resend.
    #[error("this request is not possible while consent is {state}")]
    WrongState {
        /// The state the action was refused in.
        state: ConsentState,
    },
}

/// Applies `event`, received at `now`, to `status`.
///
/// Refuses only advisor actions; provider and contact events are always
/// accepted, possibly without effect (see the module docs).
pub fn apply(
    status: &ConsentStatus,
    event: &ConsentEvent,
    now: DateTime<Utc>,
) -> Result<Transition, IllegalTransition> {
    use ConsentState as S;
    let mut next = status.clone();
    match event {
        ConsentEvent::Requested | ConsentEvent::Resent => {
            let resend = matches!(event, ConsentEvent::Resent);
            match (resend, status.state) {
                (_, S::Sending) => return Err(IllegalTransition::RequestInFlight),
                (_, S::OptedIn) => return Err(IllegalTransition::AlreadyOptedIn),
                (_, S::OptedOut) => return Err(IllegalTransition::ContactOptedOut),
                (false, S::None | S::NoWhatsapp) | (true, S::Pending) => {}
                (_, state) => return Err(IllegalTransition::WrongState { state }),
            }
            if let Some(allowed_at) = status.resend_allowed_at() {
                if now < allowed_at {
                    return Err(IllegalTransition::TooSoon { allowed_at });
                }
            }
            next.state = S::Sending;
            if !resend {
                next.requested_at = Some(now);
            }
            next.last_request_at = Some(now);
            next.last_failure = None;
        }
        ConsentEvent::ProviderAccepted { message_id } => {
            if status.state == S::Sending {
                next.state = S::Pending;
                next.message_id = Some(message_id.clone());
            }
        }
        ConsentEvent::ProviderFailed { message_id, code } => {
            let effect = code.map_or(ErrorEffect::Final, ErrorCode::effect);
            if effect != ErrorEffect::Retryable && failure_is_current(status, message_id.as_deref())
            {
                next.state = if effect == ErrorEffect::NotOnWhatsapp {
                    S::NoWhatsapp
                } else {
                    S::None
                };
                next.last_failure = Some(SendFailure {
                    code: *code,
                    at: now,
                });
            }
        }
        ConsentEvent::ProviderRetrying { message_id } => {
            // Only the request pending now goes back in flight; its id stays
            // as the "previous" one, so late statuses of it change nothing.
            if status.state == S::Pending && status.message_id.as_deref() == Some(message_id) {
                next.state = S::Sending;
            }
        }
        ConsentEvent::TappedYes | ConsentEvent::KeywordOptIn => {
            if status.state != S::OptedIn {
                next.state = S::OptedIn;
                next.answered_at = Some(now);
            }
        }
        ConsentEvent::TappedNo
        | ConsentEvent::KeywordOptOut
        | ConsentEvent::RevokedByOtherMeans => {
            if status.state != S::OptedOut {
                next.state = S::OptedOut;
                next.answered_at = Some(now);
            }
        }
        ConsentEvent::KeywordDecline => {
            if matches!(status.state, S::Sending | S::Pending) {
                next.state = S::OptedOut;
                next.answered_at = Some(now);
            }
        }
    }
    Ok(Transition {
        from: status.state,
        status: next,
        cause: event.cause(),
    })
}

/// Whether a failure belongs to the request in flight or pending now, rather
/// than to an older one.
fn failure_is_current(status: &ConsentStatus, failed_id: Option<&str>) -> bool {
    match (status.state, failed_id, status.message_id.as_deref()) {
        // While sending, `message_id` is the previous request's.
        (ConsentState::Sending, Some(failed), Some(previous)) => failed != previous,
        (ConsentState::Sending, _, _) => true,
        (ConsentState::Pending, Some(failed), Some(current)) => failed == current,
        (ConsentState::Pending, _, _) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 6, 7, 9, 56, 0).unwrap()
    }

    fn hours(h: i64) -> DateTime<Utc> {
        t0() + Duration::hours(h)
    }

    fn step(status: &ConsentStatus, event: ConsentEvent, now: DateTime<Utc>) -> ConsentStatus {
        apply(status, &event, now)
            .unwrap_or_else(|e| panic!("{event:?} refused: {e}"))
            .status
    }

    fn accepted(id: &str) -> ConsentEvent {
        ConsentEvent::ProviderAccepted {
            message_id: id.into(),
        }
    }

    const ERROR_NOT_ON_WHATSAPP: u32 = 131026;

    fn failed(id: Option<&str>, code: u32) -> ConsentEvent {
        ConsentEvent::ProviderFailed {
            message_id: id.map(Into::into),
            code: Some(ErrorCode(code)),
        }
    }

    /// A request queued at t0 and accepted as `wamid.1`.
    fn pending() -> ConsentStatus {
        let s = step(&ConsentStatus::default(), ConsentEvent::Requested, t0());
        step(&s, accepted("wamid.1"), t0())
    }

    #[test]
    fn an_answer_reads_the_same_from_its_state_alone_at_any_time() {
        for &state in ConsentState::ALL {
            let status = ConsentStatus {
                state,
                last_request_at: Some(t0()),
                ..ConsentStatus::default()
            };
            for now in [t0(), hours(25), hours(24 * 400)] {
                match state.settled_view() {
                    Some(answer) => assert_eq!(status.view(now), answer, "{state}"),
                    // Time (an expired request) or a failure may change the others.
                    None => assert!(
                        matches!(
                            state,
                            ConsentState::None | ConsentState::Sending | ConsentState::Pending
                        ),
                        "{state}"
                    ),
                }
            }
        }
        assert_eq!(
            ConsentState::OptedIn.settled_view(),
            Some(ConsentView::OptedIn)
        );
        assert_eq!(ConsentState::Pending.settled_view(), None);
    }

    #[test]
    fn a_retryable_failure_of_the_pending_request_puts_it_back_in_flight() {
        let retrying = ConsentEvent::ProviderRetrying {
            message_id: "wamid.1".into(),
        };
        let s = step(&pending(), retrying.clone(), hours(1));
        assert_eq!(s.state, ConsentState::Sending);
        assert_eq!(
            s.last_request_at,
            pending().last_request_at,
            "the 24 h rule is untouched"
        );
        // The retry is accepted under a new id; a late failure of the old id changes nothing.
        let s = step(&s, accepted("wamid.2"), hours(1));
        assert_eq!(
            (s.state, s.message_id.as_deref()),
            (ConsentState::Pending, Some("wamid.2"))
        );
        let late = step(&s, failed(Some("wamid.1"), 131049), hours(2));
        assert_eq!(late.state, ConsentState::Pending);
        // Another request's retry, or one after an answer, changes nothing.
        let other = ConsentEvent::ProviderRetrying {
            message_id: "wamid.9".into(),
        };
        assert_eq!(
            step(&pending(), other, hours(1)).state,
            ConsentState::Pending
        );
        let opted_in = step(&pending(), ConsentEvent::TappedYes, hours(1));
        assert_eq!(
            step(&opted_in, retrying, hours(2)).state,
            ConsentState::OptedIn
        );
    }

    #[test]
    fn states_serialize_in_snake_case() {
        let json =
            serde_json::to_string(&[ConsentState::NoWhatsapp, ConsentState::OptedIn]).unwrap();
        assert_eq!(json, r#"["no_whatsapp","opted_in"]"#);
        assert_eq!(
            serde_json::to_string(&ConsentView::Expired).unwrap(),
            r#""expired""#
        );
        assert_eq!(ConsentState::OptedOut.to_string(), "opted_out");
    }

    #[test]
    fn request_then_accept_goes_none_sending_pending() {
        let t = apply(&ConsentStatus::default(), &ConsentEvent::Requested, t0()).unwrap();
        assert_eq!(
            (t.from, t.status.state, t.cause),
            (ConsentState::None, ConsentState::Sending, Cause::Advisor)
        );
        let s = pending();
        assert_eq!(s.state, ConsentState::Pending);
        assert_eq!(s.message_id.as_deref(), Some("wamid.1"));
        assert_eq!(s.requested_at, Some(t0()));
        assert_eq!(s.resend_allowed_at(), Some(hours(24)));
    }

    #[test]
    fn pending_becomes_expired_after_24_hours() {
        let s = pending();
        assert_eq!(s.view(hours(23)), ConsentView::Pending);
        assert_eq!(s.view(hours(24)), ConsentView::Expired);
    }

    #[test]
    fn resend_is_refused_within_24_hours() {
        let err = apply(&pending(), &ConsentEvent::Resent, hours(23)).unwrap_err();
        assert_eq!(
            err,
            IllegalTransition::TooSoon {
                allowed_at: hours(24)
            }
        );
    }

    #[test]
    fn resend_is_allowed_after_24_hours_and_restarts_the_clock() {
        let s = step(&pending(), ConsentEvent::Resent, hours(25));
        assert_eq!(s.state, ConsentState::Sending);
        assert_eq!(s.requested_at, Some(t0()));
        let s = step(&s, accepted("wamid.2"), hours(25));
        assert_eq!(s.resend_allowed_at(), Some(hours(49)));
        assert!(apply(&s, &ConsentEvent::Resent, hours(48)).is_err());
    }

    #[test]
    fn request_is_refused_while_pending_and_resend_with_nothing_pending() {
        assert_eq!(
            apply(&pending(), &ConsentEvent::Requested, hours(30)),
            Err(IllegalTransition::WrongState {
                state: ConsentState::Pending
            })
        );
        assert_eq!(
            apply(&ConsentStatus::default(), &ConsentEvent::Resent, t0()),
            Err(IllegalTransition::WrongState {
                state: ConsentState::None
            })
        );
    }

    #[test]
    fn request_is_refused_while_sending() {
        let s = step(&ConsentStatus::default(), ConsentEvent::Requested, t0());
        assert_eq!(
            apply(&s, &ConsentEvent::Requested, hours(30)),
            Err(IllegalTransition::RequestInFlight)
        );
    }

    #[test]
    fn advisor_cannot_request_from_opted_out() {
        let s = step(&pending(), ConsentEvent::TappedNo, hours(1));
        assert_eq!(s.state, ConsentState::OptedOut);
        for event in [ConsentEvent::Requested, ConsentEvent::Resent] {
            assert_eq!(
                apply(&s, &event, hours(100)),
                Err(IllegalTransition::ContactOptedOut)
            );
        }
    }

    #[test]
    fn advisor_cannot_request_from_opted_in() {
        let s = step(&pending(), ConsentEvent::TappedYes, hours(1));
        assert_eq!(
            apply(&s, &ConsentEvent::Requested, hours(100)),
            Err(IllegalTransition::AlreadyOptedIn)
        );
    }

    #[test]
    fn yes_tap_opts_in_and_allows_messaging() {
        let s = step(&pending(), ConsentEvent::TappedYes, hours(1));
        assert_eq!(s.state, ConsentState::OptedIn);
        assert_eq!(s.answered_at, Some(hours(1)));
        assert!(s.may_message());
        assert!(!pending().may_message());
    }

    #[test]
    fn opted_out_contact_can_opt_back_in_by_replying_yes() {
        let s = step(&pending(), ConsentEvent::TappedNo, hours(1));
        let s = step(&s, ConsentEvent::KeywordOptIn, hours(200));
        assert_eq!(s.state, ConsentState::OptedIn);
    }

    #[test]
    fn stop_keyword_opts_out_from_opted_in() {
        let s = step(&pending(), ConsentEvent::TappedYes, hours(1));
        let s = step(&s, ConsentEvent::KeywordOptOut, hours(2));
        assert_eq!(s.state, ConsentState::OptedOut);
        assert!(!s.may_message());
    }

    #[test]
    fn contact_yes_without_any_request_opts_in() {
        let s = step(&ConsentStatus::default(), ConsentEvent::KeywordOptIn, t0());
        assert_eq!(s.state, ConsentState::OptedIn);
    }

    #[test]
    fn typed_no_declines_only_an_outstanding_request() {
        let s = step(&pending(), ConsentEvent::KeywordDecline, hours(30));
        assert_eq!(s.state, ConsentState::OptedOut);
        let opted_in = step(&pending(), ConsentEvent::TappedYes, hours(1));
        let t = apply(&opted_in, &ConsentEvent::KeywordDecline, hours(2)).unwrap();
        assert!(!t.state_changed());
        assert_eq!(t.status, opted_in);
    }

    #[test]
    fn error_131026_means_no_whatsapp() {
        let s = step(&ConsentStatus::default(), ConsentEvent::Requested, t0());
        let s = step(&s, failed(None, ERROR_NOT_ON_WHATSAPP), t0());
        assert_eq!(s.state, ConsentState::NoWhatsapp);
        assert_eq!(s.view(t0()), ConsentView::NoWhatsapp);
        // The async webhook form, after the API accepted the send:
        let s = step(
            &pending(),
            failed(Some("wamid.1"), ERROR_NOT_ON_WHATSAPP),
            hours(0),
        );
        assert_eq!(s.state, ConsentState::NoWhatsapp);
    }

    #[test]
    fn no_whatsapp_may_be_requested_again_after_24_hours() {
        let s = step(
            &pending(),
            failed(Some("wamid.1"), ERROR_NOT_ON_WHATSAPP),
            t0(),
        );
        assert_eq!(
            apply(&s, &ConsentEvent::Requested, hours(1)),
            Err(IllegalTransition::TooSoon {
                allowed_at: hours(24)
            })
        );
        let s = step(&s, ConsentEvent::Requested, hours(24));
        assert_eq!(s.state, ConsentState::Sending);
        assert_eq!(s.last_failure, None);
    }

    #[test]
    fn other_failures_show_as_failed_and_allow_a_retry_after_24_hours() {
        let s = step(&pending(), failed(Some("wamid.1"), 131049), hours(1));
        assert_eq!(s.state, ConsentState::None);
        assert_eq!(s.view(hours(1)), ConsentView::Failed);
        assert_eq!(
            s.last_failure,
            Some(SendFailure {
                code: Some(ErrorCode(131049)),
                at: hours(1)
            })
        );
        assert!(matches!(
            apply(&s, &ConsentEvent::Requested, hours(2)),
            Err(IllegalTransition::TooSoon { .. })
        ));
        assert!(apply(&s, &ConsentEvent::Requested, hours(24)).is_ok());
    }

    #[test]
    fn throughput_errors_do_not_change_consent() {
        let s = step(&ConsentStatus::default(), ConsentEvent::Requested, t0());
        for code in [4, 80007, 130429, 131056] {
            let t = apply(&s, &failed(None, code), t0()).unwrap();
            assert_eq!(t.status, s);
        }
    }

    #[test]
    fn late_failure_of_an_older_request_is_ignored() {
        let s = step(&pending(), ConsentEvent::Resent, hours(24));
        let ignored = apply(&s, &failed(Some("wamid.1"), 131049), hours(24)).unwrap();
        assert_eq!(ignored.status, s);
        let s = step(&s, accepted("wamid.2"), hours(24));
        let ignored = apply(&s, &failed(Some("wamid.1"), 131049), hours(25)).unwrap();
        assert_eq!(ignored.status, s);
    }

    #[test]
    fn failure_racing_ahead_of_the_accept_still_applies() {
        let s = step(&pending(), ConsentEvent::Resent, hours(24));
        let s = step(
            &s,
            failed(Some("wamid.2"), ERROR_NOT_ON_WHATSAPP),
            hours(24),
        );
        assert_eq!(s.state, ConsentState::NoWhatsapp);
        let t = apply(&s, &accepted("wamid.2"), hours(24)).unwrap();
        assert!(!t.state_changed());
    }

    #[test]
    fn duplicate_and_late_provider_events_change_nothing() {
        let s = pending();
        let dup = apply(&s, &accepted("wamid.1"), hours(1)).unwrap();
        assert_eq!(dup.status, s);
        let opted_in = step(&s, ConsentEvent::TappedYes, hours(1));
        for event in [
            accepted("wamid.9"),
            failed(Some("wamid.1"), ERROR_NOT_ON_WHATSAPP),
        ] {
            assert_eq!(apply(&opted_in, &event, hours(2)).unwrap().status, opted_in);
        }
    }

    #[test]
    fn keywords_map_to_contact_events() {
        assert_eq!(
            ConsentEvent::from_keyword(Keyword::OptOut),
            Some(ConsentEvent::KeywordOptOut)
        );
        assert_eq!(ConsentEvent::from_keyword(Keyword::Help), None);
        assert_eq!(ConsentEvent::KeywordDecline.cause(), Cause::Contact);
    }

    #[test]
    fn a_revocation_by_other_means_opts_out_from_every_state() {
        let opted_in = step(&pending(), ConsentEvent::TappedYes, hours(1));
        let sending = step(&ConsentStatus::default(), ConsentEvent::Requested, t0());
        let failed = step(&pending(), failed(Some("wamid.1"), 131049), hours(1));
        for status in [
            ConsentStatus::default(),
            sending,
            pending(),
            failed,
            opted_in,
        ] {
            let t = apply(&status, &ConsentEvent::RevokedByOtherMeans, hours(2)).unwrap();
            assert_eq!(t.status.state, ConsentState::OptedOut, "from {status:?}");
            assert_eq!(t.status.answered_at, Some(hours(2)));
            assert_eq!(t.cause, Cause::Contact);
            assert!(!t.status.may_message());
        }
    }

    #[test]
    fn after_a_revocation_only_the_contact_can_opt_back_in() {
        let s = step(&pending(), ConsentEvent::RevokedByOtherMeans, hours(1));
        for event in [ConsentEvent::Requested, ConsentEvent::Resent] {
            assert_eq!(
                apply(&s, &event, hours(100)),
                Err(IllegalTransition::ContactOptedOut)
            );
        }
        // Recorded twice (phone, then e-mail): the second changes nothing.
        let again = apply(&s, &ConsentEvent::RevokedByOtherMeans, hours(2)).unwrap();
        assert!(!again.state_changed());
        assert_eq!(again.status, s);
        let back = step(&s, ConsentEvent::KeywordOptIn, hours(3));
        assert_eq!(back.state, ConsentState::OptedIn);
    }

    #[test]
    fn every_state_round_trips_through_serde_and_storage() {
        for &state in ConsentState::ALL {
            let name = state.as_str();
            assert_eq!(serde_json::to_value(state).unwrap(), name);
            assert_eq!(name.parse::<ConsentState>(), Ok(state));
            // Exhaustive: a new state must be listed in ALL to compile here.
            match state {
                ConsentState::None
                | ConsentState::Sending
                | ConsentState::Pending
                | ConsentState::NoWhatsapp
                | ConsentState::OptedIn
                | ConsentState::OptedOut => {}
            }
        }
        assert_eq!(ConsentState::ALL.len(), 6);
        assert!("opted-in".parse::<ConsentState>().is_err());
    }

    #[test]
    fn events_serialize_with_a_type_tag() {
        let json = serde_json::to_string(&failed(None, 131026)).unwrap();
        assert_eq!(
            json,
            r#"{"type":"provider_failed","message_id":null,"code":131026}"#
        );
    }
}
