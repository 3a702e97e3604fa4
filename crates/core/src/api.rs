//! Wire types of the `/api/v1` JSON API, shared by client and server.

use serde::{Deserialize, Serialize};

/// Path prefix of every API route.
pub const API_PREFIX: &str = "/api/v1";
/// Largest page of contacts a client may ask for.
pub const MAX_PAGE_SIZE: u32 = 200;
/// Page size when the client does not say.
pub const DEFAULT_PAGE_SIZE: u32 = 50;
/// Longest contact name accepted, in characters.
pub const MAX_NAME_CHARS: usize = 120;

/// Body of every error response: a stable machine `code` and a sentence for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    /// Stable identifier, e.g. `invalid_phone`; clients branch on this.
    pub code: String,
    /// Plain-words explanation, safe to show to the advisor.
    pub message: String,
    /// The request field the error is about, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// For refusals that lapse (e.g. a resend within 24 h): when the action becomes allowed.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::wire_time::option"
    )]
    pub allowed_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// A contact as the advisor sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Contact {
    /// Server-assigned id.
    pub id: i64,
    /// Display name.
    pub name: String,
    /// Phone number in E.164, e.g. `+447911123456`.
    pub phone: String,
    /// The number as people read it, in international format
    /// (`+44 7911 123456`), formatted by the service from the phone metadata.
    pub display_phone: String,
    /// The language the contact is written to in: set on the contact, or
    /// else the language of their number's country.
    pub language: Language,
    /// Where WhatsApp consent for this number stands (organization-wide).
    #[serde(default = "no_consent")]
    pub consent: crate::consent::ConsentView,
}

fn no_consent() -> crate::consent::ConsentView {
    crate::consent::ConsentView::None
}

/// Body of `POST /api/v1/contacts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewContact {
    /// Display name; must not be blank.
    pub name: String,
    /// Phone number as typed; the server parses it to E.164.
    pub phone: String,
    /// The language to write to the contact in; absent follows the
    /// country of the number.
    #[serde(default)]
    pub language: Option<Language>,
}

/// Body of `PATCH /api/v1/contacts/{id}`: what to change; absent fields stay.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ContactUpdate {
    /// The language to write to the contact in.
    #[serde(default)]
    pub language: Option<Language>,
}

/// `GET /api/v1/contacts/{id}/opt-in/preview`: the opt-in request exactly as
/// the contact would receive it if the advisor confirmed now, rendered by the
/// service (the app shows it, never re-derives it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OptInPreview {
    /// The language the request is written in: the contact's, or the
    /// organization's default when it has no template in the contact's.
    pub language: Language,
    /// The approved template sent.
    pub template: String,
    /// Meta's code of the template's language (`es`, `pt_BR`, ...).
    pub template_language: String,
    /// The text the contact reads.
    pub text: String,
    /// The quick-reply buttons under it: yes, then no.
    pub buttons: Vec<String>,
}

/// Body of `POST /api/v1/contacts/open`: find a contact by number or CRM id,
/// creating it when a name and number are given and it does not exist yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OpenContact {
    /// Number as the CRM has it (parsed to E.164).
    #[serde(default)]
    pub phone: Option<String>,
    /// The CRM's record id.
    #[serde(default)]
    pub crm_id: Option<String>,
    /// Name, used only when the contact is created.
    #[serde(default)]
    pub name: Option<String>,
}

/// One page of `GET /api/v1/contacts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ContactPage {
    /// Contacts on this page, ordered by name.
    pub items: Vec<Contact>,
    /// How many contacts match the search in all.
    pub total: u64,
    /// Offset of the first item of this page.
    pub offset: u64,
    /// Offset of the next page, absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_offset: Option<u64>,
}

/// The advisor behind the bearer token, as returned by `GET /api/v1/me`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Me {
    /// Advisor id.
    pub advisor_id: i64,
    /// Advisor's display name.
    pub advisor_name: String,
    /// Organization (business) name.
    pub organization_name: String,
    /// True when the service talks to the local sandbox instead of Meta.
    pub sandbox: bool,
    /// False when the organization turned WhatsApp messaging off.
    #[serde(default = "yes")]
    pub whatsapp_enabled: bool,
    /// When the current token expires; the app asks its host for a new one before.
    #[serde(default, with = "crate::wire_time::option")]
    pub token_expires_at: Option<chrono::DateTime<chrono::Utc>>,
    /// What this person may do: the app shows the compliance view to `compliance`.
    #[serde(default = "advisor_role")]
    pub role: Role,
}

fn advisor_role() -> Role {
    Role::Advisor
}

fn yes() -> bool {
    true
}

/// Body of `POST /api/v1/integrations/advisor-tokens` (organization API key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenRequest {
    /// Our advisor id.
    #[serde(default)]
    pub advisor_id: Option<i64>,
    /// Or the CRM's id of the advisor.
    #[serde(default)]
    pub advisor_external_id: Option<String>,
    /// Lifetime in seconds (default 900, at most 3600).
    #[serde(default)]
    pub ttl_seconds: Option<u32>,
}

/// A minted advisor token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IssuedToken {
    pub token: String,
    pub advisor_id: i64,
    #[serde(with = "crate::wire_time")]
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

/// Body of `POST /api/v1/integrations/advisor-tokens/revoke`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RevokeToken {
    pub token: String,
}

/// Checks a name (of a contact, a person, an organization, an API key) the
/// same way on both sides; returns the trimmed name. A name must show
/// something (a zero-width space or a byte-order mark alone is no name) and
/// must not reorder what is shown around it (`Ann\u{202e}gnp.exe` would read
/// as `Annexe.png`).
pub fn validate_name(name: &str) -> Result<&str, &'static str> {
    let name = name.trim();
    if name.is_empty() {
        Err("Enter a name.")
    } else if name.chars().count() > MAX_NAME_CHARS {
        Err("That name is too long (at most 120 characters).")
    } else if name.chars().any(char::is_control) {
        Err("The name contains characters that cannot be shown.")
    } else if name.chars().any(is_bidi_control) {
        Err("The name contains characters that change the direction of the text around it.")
    } else if name.chars().all(|c| c.is_whitespace() || is_invisible(c)) {
        Err("Enter a name with visible letters, digits or signs.")
    } else {
        Ok(name)
    }
}

/// Bidirectional embeddings, overrides and isolates (U+202A–U+202E,
/// U+2066–U+2069): they reorder the text that follows them.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Characters that show nothing: Unicode's format characters (category Cf:
/// zero-width space and joiners, the byte-order mark, direction marks, tags,
/// ...), variation selectors and the blank "filler" letters. A plain list
/// rather than a Unicode table: this crate ships in the web app.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{0600}'..='\u{0605}'
            | '\u{061C}'
            | '\u{06DD}'
            | '\u{070F}'
            | '\u{0890}'..='\u{0891}'
            | '\u{08E2}'
            | '\u{115F}'..='\u{1160}'
            | '\u{17B4}'..='\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{2800}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{110BD}'
            | '\u{110CD}'
            | '\u{13430}'..='\u{1343F}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0001}'
            | '\u{E0020}'..='\u{E007F}'
            | '\u{E0100}'..='\u{E01EF}'
    )
}

/// Initials for a contact avatar: first letters of the first and last words.
pub fn initials(name: &str) -> String {
    let mut words = name.split_whitespace();
    let first = words.next().and_then(|w| w.chars().next());
    let last = words.last().and_then(|w| w.chars().next());
    first
        .into_iter()
        .chain(last)
        .flat_map(char::to_uppercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_names_are_refused_and_names_are_trimmed() {
        assert!(validate_name("   ").is_err());
        assert_eq!(validate_name("  Kerry Fisher ").unwrap(), "Kerry Fisher");
        assert!(validate_name(&"x".repeat(121)).is_err());
        assert!(validate_name("a\u{0007}b").is_err());
    }

    #[test]
    fn names_that_show_nothing_are_refused() {
        for invisible in [
            "\u{200B}",
            "\u{FEFF}",
            " \u{2060} ",
            "\u{200B}\u{200C}\u{200D}",
            "\u{00AD}",
            "\u{3164}",
            "\u{E0041}",
        ] {
            assert_eq!(
                validate_name(invisible),
                Err("Enter a name with visible letters, digits or signs."),
                "{invisible:?}"
            );
        }
        // Joiners inside a real name are part of it (emoji, Persian names).
        assert!(validate_name("Mehr\u{200C}dad").is_ok());
        assert!(validate_name("Ann \u{1F469}\u{200D}\u{1F4BB}").is_ok());
    }

    #[test]
    fn names_with_direction_overrides_or_isolates_are_refused() {
        for name in [
            "Ann\u{202E}gnp.exe",
            "\u{202A}Ann",
            "Ann\u{202D}",
            "Ann\u{2066}x\u{2069}",
            "\u{2067}Ann",
            "\u{2068}Ann",
        ] {
            assert!(
                validate_name(name).is_err_and(|e| e.contains("direction")),
                "{name:?}"
            );
        }
        // Right-to-left names are names.
        assert_eq!(validate_name("محمد"), Ok("محمد"));
    }

    #[test]
    fn initials_take_first_and_last_word() {
        assert_eq!(initials("Kerry Ann Fisher"), "KF");
        assert_eq!(initials("madonna"), "M");
        assert_eq!(initials(""), "");
    }

    #[test]
    fn error_body_omits_absent_field() {
        let body = ErrorBody {
            code: "x".into(),
            message: "y".into(),
            field: None,
            allowed_at: None,
        };
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"code":"x","message":"y"}"#
        );
    }
}

pub use crate::consent::{ConsentState, ConsentView};
pub use crate::language::Language;
pub use crate::vocab::{
    AccessKind, Cause, Channel, Direction, ErrorCode, EvidenceKind, MessageStatus, Mode, Purpose,
    RevocationChannel, Role, StopFlagDecision, MAX_SMS_CHARS,
};
use crate::window::{saturating_add, RESEND_INTERVAL};

/// `GET /api/v1/contacts/{id}/consent`: where consent stands, with the
/// server's clock so the app never trusts its own for the 24-hour rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConsentSnapshot {
    /// The contact's number (E.164); consent belongs to it, organization-wide.
    pub phone: String,
    /// What the advisor should see.
    pub state: ConsentView,
    /// When the current opt-in request was first made.
    #[serde(default, with = "crate::wire_time::option")]
    pub requested_at: Option<chrono::DateTime<chrono::Utc>>,
    /// When the latest request or resend was queued.
    #[serde(default, with = "crate::wire_time::option")]
    pub last_request_at: Option<chrono::DateTime<chrono::Utc>>,
    /// When the next request may be sent; absent when none is possible or one is allowed now.
    #[serde(default, with = "crate::wire_time::option")]
    pub resend_allowed_at: Option<chrono::DateTime<chrono::Utc>>,
    /// When the contact last opted in or out.
    #[serde(default, with = "crate::wire_time::option")]
    pub answered_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Provider error code that ended the latest request, if any.
    pub failure_code: Option<ErrorCode>,
    /// Until when free text may be sent (24 h after the contact last wrote).
    #[serde(default, with = "crate::wire_time::option")]
    pub service_window_closes_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The contact sent STOP by SMS.
    pub sms_opted_out: bool,
    /// When the contact stopped marketing messages in WhatsApp ("Stop
    /// promotions"); absent when they never did or resumed since.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::wire_time::option"
    )]
    pub marketing_stopped_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The server's clock when this was computed.
    #[serde(with = "crate::wire_time")]
    pub now: chrono::DateTime<chrono::Utc>,
    /// The revocation that opted the number out, when a person recorded one
    /// (given by phone, e-mail, in person, ...) and the contact has not opted
    /// in since.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation: Option<Revocation>,
    /// Messages from the contact that read as a request to stop, waiting
    /// for a person to decide.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stop_flags: Vec<StopFlag>,
}

/// Longest note kept with a recorded revocation, in characters.
pub const MAX_REVOCATION_NOTE_CHARS: usize = 1000;

/// Body of `POST /api/v1/contacts/{id}/revocations` (and of the compliance
/// route naming a number): a revocation the contact gave by other means.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewRevocation {
    /// How the contact said it.
    pub channel: RevocationChannel,
    /// When the contact said it (not in the future).
    #[serde(with = "crate::wire_time")]
    pub given_at: chrono::DateTime<chrono::Utc>,
    /// What was said, by whom, any reference (at most 1000 characters).
    #[serde(default)]
    pub note: String,
}

impl NewRevocation {
    /// The trimmed note, or why the revocation cannot be recorded at `now`
    /// as `(field, sentence)`; the app and the service check alike.
    pub fn validate(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<&str, (&'static str, &'static str)> {
        // A minute of slack: the person's clock may run a little ahead of ours.
        if self.given_at > now + chrono::Duration::minutes(1) {
            return Err((
                "given_at",
                "A revocation cannot be given in the future: enter when the contact said it.",
            ));
        }
        let note = self.note.trim();
        if note.chars().count() > MAX_REVOCATION_NOTE_CHARS {
            return Err(("note", "The note is too long (at most 1000 characters)."));
        }
        if note
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
        {
            return Err(("note", "The note contains characters that cannot be shown."));
        }
        Ok(note)
    }
}

/// A recorded revocation, as the contact's screen and the record show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Revocation {
    pub channel: RevocationChannel,
    /// When the contact gave it.
    #[serde(with = "crate::wire_time")]
    pub given_at: chrono::DateTime<chrono::Utc>,
    pub note: String,
    /// The person who recorded it.
    pub recorded_by: String,
    /// Their role (an advisor, or compliance).
    pub recorded_by_role: Role,
    /// When it was recorded (and took effect).
    #[serde(with = "crate::wire_time")]
    pub recorded_at: chrono::DateTime<chrono::Utc>,
}

/// A message from the contact that reads as a request to stop, flagged for
/// a person to decide (never applied or ignored silently).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StopFlag {
    pub id: i64,
    /// The contact's number (E.164).
    pub phone: String,
    /// Where the message came.
    pub channel: Channel,
    /// The message exactly as received.
    pub text: String,
    /// When it was flagged.
    #[serde(with = "crate::wire_time")]
    pub flagged_at: chrono::DateTime<chrono::Utc>,
}

/// Body of `POST /api/v1/contacts/{id}/stop-flags/resolve` (and of the
/// compliance route naming a number).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ResolveStopFlag {
    pub flag_id: i64,
    pub decision: StopFlagDecision,
}

/// The rules of the 24-hour clock, asked by the app and the service alike.
impl ConsentSnapshot {
    /// A number in `state` at server time `now`, with nothing else known.
    pub fn bare(
        phone: impl Into<String>,
        state: ConsentView,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Self {
        ConsentSnapshot {
            phone: phone.into(),
            state,
            requested_at: None,
            last_request_at: None,
            resend_allowed_at: None,
            answered_at: None,
            failure_code: None,
            service_window_closes_at: None,
            sms_opted_out: false,
            marketing_stopped_at: None,
            now,
            revocation: None,
            stop_flags: Vec::new(),
        }
    }

    /// Whether the advisor may send a new opt-in request at `now`: never
    /// asked, failed or not on WhatsApp, and the resend interval has passed.
    pub fn may_request(&self, now: chrono::DateTime<chrono::Utc>) -> bool {
        matches!(
            self.state,
            ConsentView::None | ConsentView::Failed | ConsentView::NoWhatsapp
        ) && self.resend_allowed_at.is_none_or(|at| at <= now)
    }

    /// Whether free text may be sent at `now`: opted in, and the contact
    /// wrote within the service window.
    pub fn free_text_open(&self, now: chrono::DateTime<chrono::Utc>) -> bool {
        self.state == ConsentView::OptedIn
            && self
                .service_window_closes_at
                .is_some_and(|closes| closes > now)
    }

    /// When an unanswered request expired (or will): the resend time.
    pub fn expires_at(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        self.resend_allowed_at.or_else(|| {
            self.last_request_at
                .map(|at| saturating_add(at, RESEND_INTERVAL))
        })
    }

    /// The next instant after `now` at which a time rule changes what the
    /// advisor may do (a resend opens, the service window closes), if any.
    pub fn next_change(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Option<chrono::DateTime<chrono::Utc>> {
        let at = match self.state {
            ConsentView::Pending | ConsentView::Failed | ConsentView::NoWhatsapp => {
                self.resend_allowed_at
            }
            ConsentView::OptedIn => self.service_window_closes_at,
            ConsentView::None
            | ConsentView::Sending
            | ConsentView::Expired
            | ConsentView::OptedOut => None,
        }?;
        (at > now).then_some(at)
    }
}

/// A message of the conversation, either way, either channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MessageView {
    pub id: i64,
    pub channel: Channel,
    pub direction: Direction,
    pub purpose: Purpose,
    /// Rendered text as the contact saw or wrote it.
    pub body: String,
    /// Template name, for template messages.
    pub template_name: Option<String>,
    pub status: MessageStatus,
    /// Provider error code when `failed`.
    pub error_code: Option<ErrorCode>,
    /// Provider error title when `failed`.
    pub error_title: Option<String>,
    /// When it was queued or received.
    #[serde(with = "crate::wire_time")]
    pub at: chrono::DateTime<chrono::Utc>,
}

/// An approved template of the organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TemplateView {
    pub name: String,
    pub language: String,
    /// Meta's category: `UTILITY`, `MARKETING`, ...
    pub category: String,
    /// Body with `{{1}}`, `{{2}}` placeholders.
    pub body: String,
    /// Number of placeholders the body needs.
    pub parameters: usize,
}

/// Body of `POST /api/v1/contacts/{id}/messages`: a template or free text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum OutgoingMessage {
    /// An approved template with its parameters.
    Template {
        name: String,
        language: String,
        #[serde(default)]
        parameters: Vec<String>,
    },
    /// Free text, only inside the 24-hour service window.
    Text { body: String },
}

/// Body of `POST /api/v1/contacts/{id}/sms`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OutgoingSms {
    pub body: String,
}

/// An item of the live stream (`GET /api/v1/events`, SSE `data:`); the SSE
/// id is `id`. The app refetches what the event concerns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LiveEvent {
    pub id: i64,
    /// What the consent record says happened.
    pub kind: EvidenceKind,
    /// The contact number concerned.
    pub phone: String,
    /// Stored consent state after the event, when it concerns consent.
    pub state: Option<ConsentState>,
}

/// Longest free-text WhatsApp message accepted, in characters (WhatsApp's limit).
pub const MAX_TEXT_CHARS: usize = 4096;

/// The trimmed text when it has 1 to `max_chars` characters; the app and the
/// service check message bodies with this alike.
pub fn valid_text(body: &str, max_chars: usize) -> Option<&str> {
    let body = body.trim();
    (!body.is_empty() && body.chars().count() <= max_chars).then_some(body)
}

/// Number of `{{n}}` placeholders in a template body (the highest n).
pub fn template_parameters(body: &str) -> usize {
    let mut highest = 0;
    let mut rest = body;
    while let Some(start) = rest.find("{{") {
        rest = &rest[start + 2..];
        if let Some(end) = rest.find("}}") {
            if let Ok(n) = rest[..end].trim().parse::<usize>() {
                highest = highest.max(n);
            }
            rest = &rest[end + 2..];
        }
    }
    highest
}

/// The body with `{{n}}` replaced by the n-th parameter (1-based).
pub fn render_template(body: &str, parameters: &[String]) -> String {
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after
            .find("}}")
            .map(|end| (end, after[..end].trim().parse::<usize>()))
        {
            Some((end, Ok(n))) if n >= 1 && n <= parameters.len() => {
                out.push_str(&parameters[n - 1]);
                rest = &after[end + 2..];
            }
            _ => {
                out.push_str("{{");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod template_tests {
    use super::*;

    fn snapshot(state: ConsentView) -> ConsentSnapshot {
        let now = chrono::DateTime::parse_from_rfc3339("2026-03-10T12:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        ConsentSnapshot::bare("+447911123456", state, now)
    }

    #[test]
    fn the_snapshot_answers_the_time_rules() {
        let hour = chrono::Duration::hours(1);
        let s = snapshot(ConsentView::None);
        let now = s.now;
        assert!(s.may_request(now));
        let failed = ConsentSnapshot {
            resend_allowed_at: Some(now + hour),
            ..snapshot(ConsentView::Failed)
        };
        assert!(!failed.may_request(now));
        assert!(failed.may_request(now + hour));
        assert_eq!(failed.next_change(now), Some(now + hour));
        assert_eq!(failed.next_change(now + hour), None, "only future changes");
        assert!(
            !snapshot(ConsentView::Expired).may_request(now),
            "resend, not request"
        );

        let open = ConsentSnapshot {
            service_window_closes_at: Some(now + hour),
            ..snapshot(ConsentView::OptedIn)
        };
        assert!(open.free_text_open(now));
        assert!(!open.free_text_open(now + hour));
        assert_eq!(open.next_change(now), Some(now + hour));
        let out = ConsentSnapshot {
            service_window_closes_at: Some(now + hour),
            ..snapshot(ConsentView::OptedOut)
        };
        assert!(!out.free_text_open(now), "only an opted-in number");

        let expired = ConsentSnapshot {
            last_request_at: Some(now - hour * 25),
            ..snapshot(ConsentView::Expired)
        };
        assert_eq!(expired.expires_at(), Some(now - hour));
    }

    #[test]
    fn a_revocation_is_refused_in_the_future_or_with_a_long_note() {
        let now = snapshot(ConsentView::OptedIn).now;
        let revocation = |minutes: i64, note: &str| NewRevocation {
            channel: RevocationChannel::Phone,
            given_at: now + chrono::Duration::minutes(minutes),
            note: note.to_owned(),
        };
        assert_eq!(
            revocation(-90, "  Called at 9  ").validate(now),
            Ok("Called at 9")
        );
        assert_eq!(
            revocation(1, "").validate(now),
            Ok(""),
            "a minute of clock skew"
        );
        assert_eq!(revocation(2, "").validate(now).unwrap_err().0, "given_at");
        let long = "x".repeat(MAX_REVOCATION_NOTE_CHARS + 1);
        assert_eq!(revocation(0, &long).validate(now).unwrap_err().0, "note");
        assert!(revocation(0, &"é".repeat(MAX_REVOCATION_NOTE_CHARS))
            .validate(now)
            .is_ok());
        assert_eq!(
            revocation(0, "a\u{0007}b").validate(now).unwrap_err().0,
            "note"
        );
        assert!(revocation(0, "line one\nline two").validate(now).is_ok());
    }

    #[test]
    fn a_new_revocation_reads_its_wire_names_and_refuses_unknown_fields() {
        let parsed: NewRevocation = serde_json::from_str(
            r#"{"channel":"in_person","given_at":"2026-03-10T09:00:00Z","note":"At the office"}"#,
        )
        .unwrap();
        assert_eq!(parsed.channel, RevocationChannel::InPerson);
        assert!(serde_json::from_str::<NewRevocation>(
            r#"{"channel":"pigeon","given_at":"2026-03-10T09:00:00Z"}"#
        )
        .is_err());
        assert!(serde_json::from_str::<NewRevocation>(
            r#"{"channel":"phone","given_at":"2026-03-10T09:00:00Z","who":"x"}"#
        )
        .is_err());
    }

    #[test]
    fn texts_are_trimmed_and_bounded_in_characters() {
        assert_eq!(valid_text("  hi ", 2), Some("hi"));
        assert_eq!(valid_text("   ", 10), None);
        assert_eq!(valid_text("ééé", 3), Some("ééé"));
        assert_eq!(valid_text("abcd", 3), None);
    }

    #[test]
    fn templates_render_their_numbered_placeholders() {
        let body = "Hi {{1}}, {{2}} here. {{1}}!";
        assert_eq!(template_parameters(body), 2);
        assert_eq!(
            render_template(body, &["Kerry".into(), "Jane".into()]),
            "Hi Kerry, Jane here. Kerry!"
        );
        assert_eq!(render_template("{{3}} {{x}}", &["a".into()]), "{{3}} {{x}}");
        assert_eq!(template_parameters("no placeholders"), 0);
    }
}
