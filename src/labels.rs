//! Every word the app shows for a state, kind or code of the core vocabulary,
//! one place each. The matches are exhaustive: a new variant does not compile
//! until it has its words here.

use optin_core::api::{
    AccessKind, Cause, Channel, ConsentState, EvidenceKind, MessageStatus, Mode, Purpose,
    RevocationChannel, Role,
};

/// Words for a consent-record kind, as an advisor reads them.
pub fn evidence(kind: EvidenceKind) -> &'static str {
    use EvidenceKind as K;
    match kind {
        K::Requested => "Opt-in request queued",
        K::Resent => "Opt-in request resent",
        K::ProviderAccepted => "Accepted by WhatsApp",
        K::Sent => "Sent",
        K::Delivered => "Delivered",
        K::Read => "Read",
        K::Failed => "Could not be delivered",
        K::Accepted => "Contact tapped Yes",
        K::Rejected => "Contact tapped No",
        K::KeywordOptIn => "Contact replied \u{201c}yes\u{201d}",
        K::KeywordOptOut => "Contact replied \u{201c}stop\u{201d}",
        K::KeywordDecline => "Contact replied \u{201c}no\u{201d}",
        K::MessageIn => "Message from the contact",
        K::MessageOut => "Message queued",
        K::SmsOut => "SMS queued",
        K::SmsIn => "SMS from the contact",
        K::SmsOptOut => "Contact sent STOP by SMS",
        K::SmsOptIn => "Contact sent START by SMS",
        K::SmsStatus => "SMS status update",
        K::SmsFailed => "SMS not delivered",
        K::MarketingStopped => "Contact stopped marketing messages in WhatsApp",
        K::MarketingResumed => "Contact resumed marketing messages in WhatsApp",
        K::RetryScheduled => "WhatsApp asked us to wait; sending again shortly",
        K::NumberChanged => "Contact changed their WhatsApp number",
        K::UserIdChanged => "WhatsApp changed the contact's user id",
        K::SendRepeated => "No answer from the provider; sent again",
        K::DuplicateSent => "The first send went out too: sent twice",
        K::RevocationRecorded => "Revocation recorded",
        K::StopRequestFlagged => "Message flagged as a possible stop request",
        K::StopRequestApplied => "Flagged message applied as a revocation",
        K::StopRequestDismissed => "Flagged message judged not a revocation",
        K::SmsOptOutConfirmation => "Opt-out confirmation SMS queued",
        K::MessagesPurged => "Messages past retention deleted",
    }
}

/// How a contact gave a revocation, after "by" / "in".
pub fn revocation_channel(channel: RevocationChannel) -> &'static str {
    match channel {
        RevocationChannel::Phone => "phone call",
        RevocationChannel::Email => "e-mail",
        RevocationChannel::InPerson => "in person",
        RevocationChannel::Letter => "letter",
        RevocationChannel::WhatsappMessage => "WhatsApp message",
        RevocationChannel::SmsMessage => "SMS",
        RevocationChannel::Other => "other means",
    }
}

/// The channel a message came on.
pub fn channel(channel: Channel) -> &'static str {
    match channel {
        Channel::Whatsapp => "WhatsApp",
        Channel::Sms => "SMS",
    }
}

/// Who caused a step.
pub fn cause(cause: Cause) -> &'static str {
    match cause {
        Cause::Advisor => "Advisor",
        Cause::Contact => "Contact",
        Cause::Provider => "WhatsApp / SMS provider",
        Cause::Service => "The service",
        Cause::Compliance => "Compliance",
    }
}

/// The tag on a message bubble; `None` for ordinary messages.
pub fn purpose_tag(purpose: Purpose) -> Option<&'static str> {
    match purpose {
        Purpose::OptIn => Some("Opt-in request"),
        Purpose::Confirmation => Some("Opt-in confirmation"),
        Purpose::OptOutNotice => Some("Opt-out notice"),
        Purpose::HelpReply => Some("Help reply"),
        Purpose::Message => None,
    }
}

/// The message a delivery step concerns, in running text.
pub fn purpose_in_text(purpose: Purpose) -> &'static str {
    match purpose {
        Purpose::OptIn => "opt-in request",
        Purpose::Confirmation => "opt-in confirmation",
        Purpose::OptOutNotice => "opt-out notice",
        Purpose::HelpReply => "help reply",
        Purpose::Message => "message",
    }
}

/// A stored consent state in running text.
pub fn consent_state(state: ConsentState) -> &'static str {
    match state {
        ConsentState::None => "none",
        ConsentState::Sending => "sending",
        ConsentState::Pending => "pending",
        ConsentState::NoWhatsapp => "no whatsapp",
        ConsentState::OptedIn => "opted in",
        ConsentState::OptedOut => "opted out",
    }
}

/// The delivery mark of an outgoing message: (symbol, words, CSS modifier).
pub fn delivery_mark(status: MessageStatus) -> Option<(&'static str, &'static str, &'static str)> {
    match status {
        MessageStatus::Queued | MessageStatus::Accepted => Some(("…", "Sending", "pending")),
        MessageStatus::Sent => Some(("✓", "Sent", "sent")),
        MessageStatus::Delivered => Some(("✓✓", "Delivered", "delivered")),
        MessageStatus::Read => Some(("✓✓", "Read", "read")),
        MessageStatus::Failed => Some(("!", "Not delivered", "failed")),
        MessageStatus::Cancelled => Some(("×", "Not sent", "failed")),
        MessageStatus::Received => None,
    }
}

/// The tag on evidence recorded against the sandbox; `None` for real evidence.
pub fn mode_tag(mode: Mode) -> Option<&'static str> {
    match mode {
        Mode::Production => None,
        Mode::Sandbox => Some("Sandbox"),
    }
}

/// What a person did with the records, as the access log says it.
pub fn access(kind: AccessKind) -> &'static str {
    match kind {
        AccessKind::ConversationViewed => "Opened the conversation",
        AccessKind::RawEvidenceViewed => "Opened raw evidence",
        AccessKind::RecordExported => "Downloaded the consent record",
        AccessKind::OrganizationExported => "Downloaded the organization's record",
        AccessKind::BundleDownloaded => "Downloaded the evidence bundle",
        AccessKind::ArchiveExported => "Exported to the archive",
    }
}

/// What a signed-in person is, after their name in the header.
pub fn role(role: Role) -> &'static str {
    match role {
        Role::Advisor => "Advisor",
        Role::Compliance => "Compliance",
        Role::Admin => "Administrator",
    }
}

/// The result of a webhook's signature check, when the step came from one.
pub fn signature(valid: bool) -> &'static str {
    if valid {
        "Signature verified"
    } else {
        "Signature did not verify"
    }
}
