//! The service's vocabulary: every state, kind and code that crosses a layer
//! (database, API, app) is one of these types, never a bare string or number.
//!
//! Each enum has one wire name per variant, used alike by serde, by the
//! database columns and by [`as_str`](MessageStatus::as_str) /
//! [`parse`](MessageStatus::parse), so the two sides of any wire cannot
//! disagree: the names are written once, in the `wire_enum!` invocation.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Defines an enum whose variants each have one wire name.
///
/// The wire names are matched as `tt`, not `literal`: a `literal` fragment
/// reaches derive macros wrapped in an invisible group, which `utoipa`'s
/// `ToSchema` does not read (its schema would list the variant names).
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $wire:tt, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        // A string enum of the wire names in the OpenAPI document (the service only).
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        pub enum $name {
            $( $(#[$vmeta])* #[serde(rename = $wire)] $variant, )+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The wire name, as stored and as serialized.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire),+ }
            }

            /// The variant a wire name stands for.
            pub fn parse(text: &str) -> Option<Self> {
                match text { $($wire => Some($name::$variant),)+ _ => None }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::vocab::UnknownName;
            fn from_str(text: &str) -> Result<Self, $crate::vocab::UnknownName> {
                Self::parse(text).ok_or_else(|| $crate::vocab::UnknownName {
                    what: stringify!($name),
                    text: text.to_owned(),
                })
            }
        }
    };
}

// Other modules of core name their wire enums the same way.
pub(crate) use wire_enum;

/// A stored or received name that is not part of the vocabulary.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {text:?}")]
pub struct UnknownName {
    /// Which type was expected.
    pub what: &'static str,
    /// The text found.
    pub text: String,
}

wire_enum! {
    /// What a signed-in person may do in their organization.
    pub enum Role {
        /// Their own contacts and conversations; a number's consent state is
        /// firm-wide, so it is visible to every advisor who holds the number.
        Advisor = "advisor",
        /// Read-only and organization-wide: every number, conversation,
        /// consent record, export and chain check; never sends.
        Compliance = "compliance",
        /// Provisioning of the organization (advisors, keys, numbers).
        Admin = "admin",
    }
}

impl Role {
    /// The cause recorded for a step a person in this role took. Admins
    /// provision and never take consent steps (the routes refuse them);
    /// were one to, it would be a supervisor acting, not an advisor.
    pub fn cause(self) -> Cause {
        match self {
            Role::Advisor => Cause::Advisor,
            Role::Compliance | Role::Admin => Cause::Compliance,
        }
    }
}

wire_enum! {
    /// Which providers a service (and its database) talks to. Evidence carries
    /// it, so a sandbox record can never pass for a real one.
    pub enum Mode {
        /// Meta's Cloud API and the SMS provider, for real.
        Production = "production",
        /// The built-in stand-in for both; demo data, loopback only.
        Sandbox = "sandbox",
    }
}

wire_enum! {
    /// The channel a message travels on.
    pub enum Channel {
        Whatsapp = "whatsapp",
        Sms = "sms",
    }
}

wire_enum! {
    /// Which way a message went.
    pub enum Direction {
        /// To the contact.
        Out = "out",
        /// From the contact.
        In = "in",
    }
}

wire_enum! {
    /// Why a message exists.
    pub enum Purpose {
        /// The opt-in request template.
        OptIn = "opt_in",
        /// The confirmation sent after the contact opted in.
        Confirmation = "confirmation",
        /// The notice sent after the contact opted out.
        OptOutNotice = "opt_out_notice",
        /// The answer to HELP / INFO by SMS.
        HelpReply = "help_reply",
        /// Anything the advisor or the contact wrote.
        Message = "message",
    }
}

wire_enum! {
    /// Where a message stands. Outbound messages move forward through
    /// [`MessageStatus::rank`]; inbound ones are `received`.
    pub enum MessageStatus {
        /// Stored with its outbox job, not yet handed to the provider.
        Queued = "queued",
        /// The provider accepted it and gave it an id.
        Accepted = "accepted",
        /// The provider sent it.
        Sent = "sent",
        /// It reached the contact's phone.
        Delivered = "delivered",
        /// The contact opened it.
        Read = "read",
        /// The provider could not deliver it.
        Failed = "failed",
        /// It was never sent (consent moved on while it was queued).
        Cancelled = "cancelled",
        /// Inbound: the contact sent it.
        Received = "received",
    }
}

impl MessageStatus {
    /// Delivery order; a status never moves a message to a lower rank.
    pub fn rank(self) -> u8 {
        match self {
            MessageStatus::Queued | MessageStatus::Received => 0,
            MessageStatus::Accepted => 1,
            MessageStatus::Sent => 2,
            MessageStatus::Delivered => 3,
            MessageStatus::Read => 4,
            MessageStatus::Failed | MessageStatus::Cancelled => 5,
        }
    }

    /// Whether a message at `self` moves to `next`: only forward, and never
    /// to `failed` once delivered (a failure after delivery contradicts what
    /// is known; the later truth is kept).
    pub fn advances_to(self, next: MessageStatus) -> bool {
        let forward = next.rank() > self.rank();
        let contradicts_delivery =
            next == MessageStatus::Failed && self.rank() >= MessageStatus::Delivered.rank();
        forward && !contradicts_delivery
    }
}

wire_enum! {
    /// Who caused a recorded step.
    pub enum Cause {
        /// The advisor, through the app or the API.
        Advisor = "advisor",
        /// The messaging provider (API response or status webhook).
        Provider = "provider",
        /// The contact, from their phone.
        Contact = "contact",
        /// The service itself, applying a rule of the organization (retention).
        Service = "service",
        /// A compliance officer of the organization (a flagged message decided).
        Compliance = "compliance",
    }
}

wire_enum! {
    /// What a consent-record event says happened.
    pub enum EvidenceKind {
        /// The advisor confirmed an opt-in request.
        Requested = "requested",
        /// The advisor resent the request.
        Resent = "resent",
        /// The provider accepted a message and gave it an id.
        ProviderAccepted = "provider_accepted",
        /// WhatsApp status: sent.
        Sent = "sent",
        /// WhatsApp status: delivered.
        Delivered = "delivered",
        /// WhatsApp status: read.
        Read = "read",
        /// The provider could not send or deliver a WhatsApp message.
        Failed = "failed",
        /// The contact tapped Yes.
        Accepted = "accepted",
        /// The contact tapped No.
        Rejected = "rejected",
        /// The contact replied "yes".
        KeywordOptIn = "keyword_opt_in",
        /// The contact replied "stop".
        KeywordOptOut = "keyword_opt_out",
        /// The contact replied "no" to an open request.
        KeywordDecline = "keyword_decline",
        /// Any other WhatsApp message from the contact.
        MessageIn = "message_in",
        /// The advisor queued a WhatsApp message.
        MessageOut = "message_out",
        /// The advisor queued an SMS.
        SmsOut = "sms_out",
        /// An SMS from the contact.
        SmsIn = "sms_in",
        /// The contact sent STOP by SMS (or the carrier reports them unsubscribed).
        SmsOptOut = "sms_opt_out",
        /// The contact sent START by SMS.
        SmsOptIn = "sms_opt_in",
        /// An SMS status update.
        SmsStatus = "sms_status",
        /// An SMS could not be delivered.
        SmsFailed = "sms_failed",
        /// The contact tapped "Stop promotions" in WhatsApp: Meta blocks
        /// this business's MARKETING templates to them (`user_preferences`).
        MarketingStopped = "marketing_stopped",
        /// The contact resumed marketing messages in WhatsApp.
        MarketingResumed = "marketing_resumed",
        /// WhatsApp reported a retryable failure for a sent message; the
        /// outbox sends it again after a back-off.
        RetryScheduled = "retry_scheduled",
        /// WhatsApp reports that the contact moved their account to a new
        /// number: their identity and consent moved with it.
        NumberChanged = "number_changed",
        /// WhatsApp replaced the contact's business-scoped user id.
        UserIdChanged = "user_id_changed",
        /// A send's outcome stayed unknown (no answer, and no status proved
        /// it within the grace period): the outbox sent it again, so the
        /// contact may receive it twice.
        SendRepeated = "send_repeated",
        /// A status proved that a repeated send had also gone out the first
        /// time: the contact received the message twice.
        DuplicateSent = "duplicate_sent",
        /// A person of the organization recorded a revocation the contact
        /// gave by other means (phone, e-mail, in person, ...).
        RevocationRecorded = "revocation_recorded",
        /// A message from the contact reads as a request to stop: flagged for review.
        StopRequestFlagged = "stop_request_flagged",
        /// A reviewer applied a flagged message as a revocation.
        StopRequestApplied = "stop_request_applied",
        /// A reviewer decided a flagged message is not a revocation.
        StopRequestDismissed = "stop_request_dismissed",
        /// The one confirmation SMS after STOP was queued (no marketing).
        SmsOptOutConfirmation = "sms_opt_out_confirmation",
        /// Messages with the contact past the organization's retention
        /// period were deleted (the detail says how many and up to when).
        MessagesPurged = "messages_purged",
    }
}

wire_enum! {
    /// What a person read or took away from the organization's records, as
    /// the access log keeps it (FINRA and SEC examiners ask who saw what).
    pub enum AccessKind {
        /// Opened a number's conversation and consent timeline.
        ConversationViewed = "conversation_viewed",
        /// Opened one step's raw evidence (the provider's body and signature).
        RawEvidenceViewed = "raw_evidence_viewed",
        /// Downloaded one number's consent record.
        RecordExported = "record_exported",
        /// Downloaded the whole organization's consent record.
        OrganizationExported = "organization_exported",
        /// Downloaded a number's evidence bundle.
        BundleDownloaded = "bundle_downloaded",
        /// Took messages and consent steps from the archive feed.
        ArchiveExported = "archive_exported",
    }
}

wire_enum! {
    /// Where an outbox job stands.
    pub enum OutboxState {
        /// Waiting for its next attempt (`next_attempt_at`).
        Pending = "pending",
        /// A worker holds it until `lease_until` and is calling the provider.
        Claimed = "claimed",
        /// The provider was called and never answered (or the answer could
        /// not be recorded): it may have sent the message. It waits for a
        /// status carrying its key, then for the grace period.
        Unknown = "unknown",
        /// The provider accepted the message.
        Done = "done",
        /// The provider refused it for good.
        Failed = "failed",
        /// It was no longer wanted and never sent.
        Cancelled = "cancelled",
    }
}

wire_enum! {
    /// How a contact gave a revocation that a person records.
    pub enum RevocationChannel {
        /// On a phone call.
        Phone = "phone",
        /// By e-mail.
        Email = "email",
        /// Face to face.
        InPerson = "in_person",
        /// By letter.
        Letter = "letter",
        /// In a WhatsApp message that was not a keyword.
        WhatsappMessage = "whatsapp_message",
        /// In an SMS that was not a keyword.
        SmsMessage = "sms_message",
        /// Any other reasonable means.
        Other = "other",
    }
}

impl RevocationChannel {
    /// The channel of a flagged message applied as a revocation.
    pub fn of_message(channel: Channel) -> RevocationChannel {
        match channel {
            Channel::Whatsapp => RevocationChannel::WhatsappMessage,
            Channel::Sms => RevocationChannel::SmsMessage,
        }
    }
}

wire_enum! {
    /// A reviewer's decision on a message flagged as a possible stop request.
    pub enum StopFlagDecision {
        /// It is a revocation: apply it (opted out, firm-wide).
        Revocation = "revocation",
        /// It is not: nothing changes.
        NotARevocation = "not_a_revocation",
    }
}

impl EvidenceKind {
    /// The kind recorded for a delivery status a provider reports; `None`
    /// for statuses providers do not report.
    pub fn of_delivery(channel: Channel, status: MessageStatus) -> Option<EvidenceKind> {
        use MessageStatus as S;
        match (channel, status) {
            (_, S::Queued | S::Accepted | S::Cancelled | S::Received) => None,
            (Channel::Whatsapp, S::Sent) => Some(EvidenceKind::Sent),
            (Channel::Whatsapp, S::Delivered) => Some(EvidenceKind::Delivered),
            (Channel::Whatsapp, S::Read) => Some(EvidenceKind::Read),
            (Channel::Whatsapp, S::Failed) => Some(EvidenceKind::Failed),
            (Channel::Sms, S::Failed) => Some(EvidenceKind::SmsFailed),
            (Channel::Sms, S::Sent | S::Delivered | S::Read) => Some(EvidenceKind::SmsStatus),
        }
    }
}

/// How a provider error code is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorEffect {
    /// Throughput or transient: the outbox tries again with back-off; consent
    /// does not change.
    Retryable,
    /// The send is over; an opt-in request returns to `none` (shown as `failed`).
    Final,
    /// The number is not on WhatsApp: consent becomes `no_whatsapp`.
    NotOnWhatsapp,
    /// The recipient unsubscribed from SMS at the carrier: SMS is off for them.
    SmsUnsubscribed,
    /// The contact stopped marketing messages from the business (131050):
    /// recorded on the contact; MARKETING templates are refused before sending.
    MarketingStopped,
    /// The template cannot be sent (missing, paused, disabled): the send is
    /// over, the template is marked so, and the next opt-in request uses the
    /// organization's alternate template.
    TemplateUnavailable,
}

/// An error code from WhatsApp's Cloud API or the SMS provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(transparent)]
pub struct ErrorCode(pub u32);

/// Every code the service knows, with its effect and meaning. Codes not
/// listed are [`ErrorEffect::Final`].
pub const KNOWN_ERRORS: &[(ErrorCode, ErrorEffect, &str)] = &[
    // WhatsApp Cloud API. The words are what an advisor reads.
    (
        ErrorCode(4),
        ErrorEffect::Retryable,
        "WhatsApp is limiting how fast we send; it will go out shortly",
    ),
    (
        ErrorCode(80007),
        ErrorEffect::Retryable,
        "WhatsApp is limiting how fast this account sends; it will go out shortly",
    ),
    (
        ErrorCode(130429),
        ErrorEffect::Retryable,
        "WhatsApp is limiting how fast we send; it will go out shortly",
    ),
    (
        ErrorCode(131000),
        ErrorEffect::Retryable,
        "Something went wrong at WhatsApp; we will try again",
    ),
    (
        ErrorCode(131016),
        ErrorEffect::Retryable,
        "WhatsApp is briefly unavailable; we will try again",
    ),
    (
        ErrorCode(131056),
        ErrorEffect::Retryable,
        "Too many messages to this number in a short time; it will go out shortly",
    ),
    (
        ErrorCode(131026),
        ErrorEffect::NotOnWhatsapp,
        "This number cannot receive WhatsApp messages",
    ),
    (
        ErrorCode(131047),
        ErrorEffect::Final,
        "More than 24 hours since the contact last wrote: only templates can be sent",
    ),
    (
        ErrorCode(131049),
        ErrorEffect::Final,
        "WhatsApp held this message back to limit how many business messages the contact gets; try again another day",
    ),
    (
        ErrorCode(131050),
        ErrorEffect::MarketingStopped,
        "The contact stopped marketing messages from your firm in WhatsApp",
    ),
    (
        ErrorCode(131051),
        ErrorEffect::Final,
        "A message type WhatsApp does not support",
    ),
    (
        ErrorCode(132001),
        ErrorEffect::TemplateUnavailable,
        "The template does not exist in this language at WhatsApp: your admin must fix it",
    ),
    (
        ErrorCode(132015),
        ErrorEffect::TemplateUnavailable,
        "WhatsApp paused the template for low quality",
    ),
    (
        ErrorCode(132016),
        ErrorEffect::TemplateUnavailable,
        "WhatsApp disabled the template after repeated pauses",
    ),
    (ErrorCode(100), ErrorEffect::Final, "WhatsApp refused a parameter of the message"),
    // SMS (Twilio).
    (
        ErrorCode(20429),
        ErrorEffect::Retryable,
        "Too many requests",
    ),
    (
        ErrorCode(21610),
        ErrorEffect::SmsUnsubscribed,
        "The recipient unsubscribed (replied STOP)",
    ),
    (
        ErrorCode(21211),
        ErrorEffect::Final,
        "Invalid 'To' phone number",
    ),
    (
        ErrorCode(30003),
        ErrorEffect::Final,
        "Unreachable destination handset",
    ),
    (
        ErrorCode(30005),
        ErrorEffect::Final,
        "Unknown destination handset",
    ),
    (
        ErrorCode(30006),
        ErrorEffect::Final,
        "Landline or unreachable carrier",
    ),
    (
        ErrorCode(30007),
        ErrorEffect::Final,
        "Message filtered by the carrier",
    ),
    // The recipient blocked the sender or unsubscribed at the carrier: as 21610.
    (
        ErrorCode(30004),
        ErrorEffect::SmsUnsubscribed,
        "Message blocked (the recipient blocked or unsubscribed at the carrier)",
    ),
];

impl ErrorCode {
    /// Cloud API: the number is not on WhatsApp (or cannot receive).
    pub const NOT_ON_WHATSAPP: ErrorCode = ErrorCode(131026);
    /// Cloud API: free text outside the 24-hour window.
    pub const OUTSIDE_SERVICE_WINDOW: ErrorCode = ErrorCode(131047);
    /// Cloud API: throughput limit.
    pub const THROUGHPUT: ErrorCode = ErrorCode(130429);
    /// Cloud API: the template is paused for low quality.
    pub const TEMPLATE_PAUSED: ErrorCode = ErrorCode(132015);
    /// Cloud API: the template is disabled.
    pub const TEMPLATE_DISABLED: ErrorCode = ErrorCode(132016);
    /// Cloud API: no such template (name or language).
    pub const TEMPLATE_MISSING: ErrorCode = ErrorCode(132001);
    /// SMS: the recipient unsubscribed at the carrier.
    pub const SMS_UNSUBSCRIBED: ErrorCode = ErrorCode(21610);
    /// SMS: the message was blocked (carrier opt-out or the recipient blocked us).
    pub const SMS_BLOCKED: ErrorCode = ErrorCode(30004);

    fn known(self) -> Option<&'static (ErrorCode, ErrorEffect, &'static str)> {
        KNOWN_ERRORS.iter().find(|(code, _, _)| *code == self)
    }

    /// What the code means for the send and for consent.
    pub fn effect(self) -> ErrorEffect {
        self.known().map_or(ErrorEffect::Final, |k| k.1)
    }

    /// True for codes the outbox retries; they never change consent.
    pub fn is_retryable(self) -> bool {
        self.effect() == ErrorEffect::Retryable
    }

    /// A short description, when the code is known.
    pub fn title(self) -> Option<&'static str> {
        self.known().map(|k| k.2)
    }

    /// The code as a provider sent it (a signed number in JSON), when it fits.
    pub fn from_provider(code: i64) -> Option<ErrorCode> {
        u32::try_from(code).ok().map(ErrorCode)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Longest SMS body accepted, in characters (ten concatenated segments).
pub const MAX_SMS_CHARS: usize = 1600;

#[cfg(test)]
mod tests {
    use super::*;

    /// Serde, `as_str` and `parse` agree for every variant of every type.
    fn round_trips<T>(all: &[T], as_str: fn(T) -> &'static str, parse: fn(&str) -> Option<T>)
    where
        T: Copy + PartialEq + fmt::Debug + Serialize + for<'de> Deserialize<'de>,
    {
        let mut seen = std::collections::HashSet::new();
        for &value in all {
            let name = as_str(value);
            assert!(seen.insert(name), "{name} is used twice");
            assert_eq!(serde_json::to_value(value).unwrap(), name);
            assert_eq!(serde_json::from_value::<T>(name.into()).unwrap(), value);
            assert_eq!(parse(name), Some(value));
        }
        assert_eq!(parse("no-such-name"), None);
    }

    #[test]
    fn every_name_round_trips_through_serde_and_storage() {
        round_trips(Channel::ALL, Channel::as_str, Channel::parse);
        round_trips(Direction::ALL, Direction::as_str, Direction::parse);
        round_trips(Purpose::ALL, Purpose::as_str, Purpose::parse);
        round_trips(
            MessageStatus::ALL,
            MessageStatus::as_str,
            MessageStatus::parse,
        );
        round_trips(Cause::ALL, Cause::as_str, Cause::parse);
        round_trips(AccessKind::ALL, AccessKind::as_str, AccessKind::parse);
        round_trips(EvidenceKind::ALL, EvidenceKind::as_str, EvidenceKind::parse);
        round_trips(Role::ALL, Role::as_str, Role::parse);
        round_trips(Mode::ALL, Mode::as_str, Mode::parse);
        round_trips(
            RevocationChannel::ALL,
            RevocationChannel::as_str,
            RevocationChannel::parse,
        );
        round_trips(
            StopFlagDecision::ALL,
            StopFlagDecision::as_str,
            StopFlagDecision::parse,
        );
    }

    #[test]
    fn unknown_names_are_errors_not_defaults() {
        let err = "delivred".parse::<MessageStatus>().unwrap_err();
        assert_eq!(err.to_string(), "unknown MessageStatus \"delivred\"");
        assert!(serde_json::from_str::<EvidenceKind>("\"bogus\"").is_err());
    }

    #[test]
    fn statuses_only_move_forward_and_never_fail_after_delivery() {
        use MessageStatus as S;
        assert!(S::Queued.advances_to(S::Accepted));
        assert!(S::Accepted.advances_to(S::Read));
        assert!(!S::Read.advances_to(S::Delivered));
        assert!(!S::Delivered.advances_to(S::Delivered));
        assert!(S::Sent.advances_to(S::Failed));
        assert!(!S::Delivered.advances_to(S::Failed));
        assert!(!S::Read.advances_to(S::Failed));
        for &a in S::ALL {
            for &b in S::ALL {
                if a.advances_to(b) {
                    assert!(b.rank() > a.rank(), "{a} -> {b} goes backwards");
                }
            }
        }
    }

    #[test]
    fn every_reported_delivery_status_has_its_evidence_kind() {
        use MessageStatus as S;
        for &status in S::ALL {
            let reported = matches!(status, S::Sent | S::Delivered | S::Read | S::Failed);
            for &channel in Channel::ALL {
                let kind = EvidenceKind::of_delivery(channel, status);
                assert_eq!(kind.is_some(), reported, "{channel} {status}");
            }
            if let Some(kind) = EvidenceKind::of_delivery(Channel::Whatsapp, status) {
                assert_eq!(kind.as_str(), status.as_str());
            }
        }
        assert_eq!(
            EvidenceKind::of_delivery(Channel::Sms, S::Failed),
            Some(EvidenceKind::SmsFailed)
        );
    }

    #[test]
    fn error_codes_have_one_entry_each_and_unknown_codes_are_final() {
        let mut codes: Vec<_> = KNOWN_ERRORS.iter().map(|k| k.0).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), KNOWN_ERRORS.len(), "a code is listed twice");
        for code in [4, 80007, 130429, 131056, 20429] {
            assert!(ErrorCode(code).is_retryable(), "{code}");
        }
        assert_eq!(ErrorCode(131026).effect(), ErrorEffect::NotOnWhatsapp);
        assert_eq!(ErrorCode(21610).effect(), ErrorEffect::SmsUnsubscribed);
        assert_eq!(ErrorCode(30004).effect(), ErrorEffect::SmsUnsubscribed);
        assert_eq!(ErrorCode(999_999).effect(), ErrorEffect::Final);
        assert_eq!(ErrorCode::from_provider(-1), None);
        assert_eq!(serde_json::to_string(&ErrorCode(131026)).unwrap(), "131026");
    }
}

/// The OpenAPI schema of a vocabulary enum lists its wire names.
#[cfg(all(test, feature = "openapi"))]
mod openapi_tests {
    use super::*;

    #[test]
    fn schemas_list_the_wire_names() {
        let schema = serde_json::to_value(<Purpose as utoipa::PartialSchema>::schema()).unwrap();
        let names: Vec<&str> = Purpose::ALL.iter().map(|p| p.as_str()).collect();
        assert_eq!(schema["type"], "string");
        assert_eq!(schema["enum"], serde_json::json!(names));
    }
}
