//! Wire types of the compliance view (`/api/v1/compliance/...`): every
//! number of the organization with its consent state, a number's whole
//! evidence timeline, and the state of the consent record's hash chain.
//! Read-only, for the `compliance` role (and `admin`); advisors get 403.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::api::{ConsentSnapshot, MessageView};
use crate::consent::{ConsentState, ConsentView};
use crate::vocab::{AccessKind, Cause, Channel, EvidenceKind, Mode, Role};

/// An advisor who holds a number in their contacts, and under which name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NumberHolder {
    pub advisor_id: i64,
    pub advisor_name: String,
    /// The name the advisor gave the contact.
    pub contact_name: String,
}

/// A number of the organization with where its consent stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NumberSummary {
    /// E.164, the key of consent.
    pub phone: String,
    /// The number as people read it (international format, `+44 7911 123456`).
    pub display_phone: String,
    /// Consent as shown to people (derived from the stored state and the clock).
    pub state: ConsentView,
    /// The contact sent STOP by SMS (or unsubscribed at the carrier).
    pub sms_opted_out: bool,
    /// When the number's consent or last event changed; absent when never asked.
    #[serde(default, with = "crate::wire_time::option")]
    pub updated_at: Option<DateTime<Utc>>,
    /// The advisors who hold the number.
    pub holders: Vec<NumberHolder>,
}

/// `GET /api/v1/compliance/numbers?state=&advisor_id=&since=&until=&q=&offset=&limit=`.
///
/// - `state`: a [`ConsentView`] wire name (`opted_in`, `expired`, ...);
/// - `advisor_id`: only numbers this advisor holds;
/// - `since` / `until`: RFC 3339, on `updated_at` (inclusive / exclusive);
/// - `q`: part of a contact name or number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NumberPage {
    pub numbers: Vec<NumberSummary>,
    /// How many numbers match the filter in all.
    pub total: u64,
    pub offset: u64,
    /// Offset of the next page, absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_offset: Option<u64>,
}

/// One step of the consent record, as the compliance timeline shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TimelineEvent {
    /// Event id (also its live-stream id).
    pub id: i64,
    /// Position in the organization's hash chain.
    pub seq: i64,
    pub kind: EvidenceKind,
    pub cause: Cause,
    /// Stored consent state after the event, when it concerns consent.
    pub state_after: Option<ConsentState>,
    /// The advisor who acted, or on whose behalf it was sent; or the
    /// compliance officer who recorded or decided the step.
    pub advisor_name: Option<String>,
    /// That person's role (`advisor_name` is not always an advisor's).
    #[serde(default)]
    pub advisor_role: Option<Role>,
    /// When we received or did it.
    #[serde(with = "crate::wire_time")]
    pub received_at: DateTime<Utc>,
    /// When the provider says it happened.
    #[serde(default, with = "crate::wire_time::option")]
    pub provider_time: Option<DateTime<Utc>>,
    /// The exact text sent or received, when the step carries one.
    pub text: Option<String>,
    /// Template, language, message ids, error codes, ... as recorded.
    pub detail: serde_json::Value,
    /// A raw provider body is kept: `GET /compliance/events/{id}/raw` gives it.
    pub has_raw: bool,
    /// The webhook's signature check, for steps that came from one.
    pub signature_valid: Option<bool>,
    /// The mode the service ran in when it recorded the step.
    pub mode: Mode,
}

/// `GET /api/v1/compliance/numbers/{e164}`: a number's whole story.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NumberTimeline {
    pub summary: NumberSummary,
    pub snapshot: ConsentSnapshot,
    /// Every consent-record step about the number, oldest first.
    pub events: Vec<TimelineEvent>,
    /// Every message with the number, both ways, both channels, any advisor.
    pub messages: Vec<MessageView>,
}

/// `GET /api/v1/compliance/events/{id}/raw`: an event's evidence as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RawEvidence {
    pub id: i64,
    /// The provider's body exactly as received (signature verified), if any.
    pub raw_body: Option<String>,
    /// The webhook's signature header exactly as received, so anyone with the
    /// app secret can check the body again (absent on older steps).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature_header: Option<String>,
    /// SMS: the URL the provider signed (the signature covers it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_url: Option<String>,
    pub detail: serde_json::Value,
    pub prev_hash: String,
    pub hash: String,
}

/// `GET /api/v1/compliance/chain`: the organization's hash chain, verified now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChainStatus {
    /// Every event links to the one before and its content is unchanged.
    pub intact: bool,
    /// How many events were verified (up to the first broken one).
    pub events: u64,
    /// When the check ran (server clock).
    #[serde(with = "crate::wire_time")]
    pub checked_at: DateTime<Utc>,
    /// The first broken link's sequence number and why, when broken.
    pub broken_at_seq: Option<i64>,
    pub reason: Option<String>,
}

/// An advisor of the organization, as compliance and admins list them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AdvisorSummary {
    pub id: i64,
    pub name: String,
    pub role: Role,
    /// The CRM's id of this person, when set.
    pub external_id: Option<String>,
    /// When the advisor was disabled; a disabled advisor's tokens stop working.
    #[serde(default, with = "crate::wire_time::option")]
    pub disabled_at: Option<DateTime<Utc>>,
}

/// A part of a validly signed webhook the service could not understand:
/// acknowledged to the provider, kept raw with the reason for a person to
/// review (`GET /api/v1/compliance/reviews`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookReview {
    pub id: i64,
    /// Which provider sent it.
    pub provider: Channel,
    /// Why it was not understood.
    pub reason: String,
    /// The part itself, as received (JSON, or the form).
    pub item: String,
    #[serde(with = "crate::wire_time")]
    pub received_at: DateTime<Utc>,
    /// When it was reviewed (or replayed), if it was.
    #[serde(default, with = "crate::wire_time::option")]
    pub reviewed_at: Option<DateTime<Utc>>,
}

/// One read or download of the organization's records by a person: who,
/// what, when (`GET /api/v1/compliance/access-log`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccessEntry {
    pub id: i64,
    #[serde(with = "crate::wire_time")]
    pub at: DateTime<Utc>,
    pub person_id: i64,
    pub person_name: String,
    /// The person's role when they read it.
    pub role: Role,
    pub kind: AccessKind,
    /// The number concerned; none for organization-wide exports.
    pub phone: Option<String>,
    /// What exactly: the format, the event, the cursor range.
    pub detail: Option<String>,
}

/// A page of the access log, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccessLogPage {
    pub entries: Vec<AccessEntry>,
    /// Pass as `before` for the next (older) page; none at the start of the log.
    pub next_before: Option<i64>,
}

/// A legal hold: while active, nothing it covers is purged, whatever its age.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LegalHold {
    pub id: i64,
    /// The number held; none holds the whole organization.
    pub phone: Option<String>,
    pub reason: String,
    pub placed_by: String,
    #[serde(with = "crate::wire_time")]
    pub placed_at: DateTime<Utc>,
    /// Who released it and when; none while it holds.
    pub released_by: Option<String>,
    #[serde(default, with = "crate::wire_time::option")]
    pub released_at: Option<DateTime<Utc>>,
}

/// `GET /api/v1/compliance/holds`: the period and the holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Retention {
    /// How long messages are kept, in months.
    pub retention_months: u32,
    pub holds: Vec<LegalHold>,
}

/// `POST /api/v1/compliance/holds`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewLegalHold {
    /// The number to hold (E.164); none holds the whole organization.
    #[serde(default)]
    pub phone: Option<String>,
    /// Why (the matter, the request): shown to everyone who reads the hold.
    pub reason: String,
}

/// Longest hold reason accepted, in characters.
pub const MAX_HOLD_REASON_CHARS: usize = 500;

impl NewLegalHold {
    /// The reason, trimmed, or why it is refused.
    pub fn checked_reason(&self) -> Result<&str, &'static str> {
        let reason = self.reason.trim();
        if reason.is_empty() {
            Err("Say why the records are held (the matter or request).")
        } else if reason.chars().count() > MAX_HOLD_REASON_CHARS {
            Err("The reason is too long (at most 500 characters).")
        } else if reason.chars().any(|c| c.is_control() && c != '\n') {
            Err("The reason contains characters that cannot be shown.")
        } else {
            Ok(reason)
        }
    }
}
