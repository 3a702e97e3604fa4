//! The texts the service itself sends to contacts, in one place.

/// Sent after the contact opted in.
pub fn opt_in_confirmation(organization: &str, advisor: Option<&str>) -> String {
    format!(
        "Thank you. You have opted in to WhatsApp messages from {organization}{}. Reply STOP at any time to opt out.",
        advisor.map(|a| format!(" ({a})")).unwrap_or_default()
    )
}

/// The answer to HELP / INFO by SMS when the organization set none: who is
/// writing, and how to stop.
pub fn sms_help(organization: &str) -> String {
    format!(
        "{organization}: messages from your advisor. Reply STOP to opt out, START to opt back in. Msg & data rates may apply."
    )
}

/// Sent after the contact opted out: they can come back by replying "yes".
pub fn opt_out_notice(organization: &str) -> String {
    format!(
        "You have opted out of WhatsApp messages from {organization}. You can opt in at any time by replying \"yes\"."
    )
}

/// The one SMS confirming STOP: who, that nothing more will come, and how to
/// come back. No marketing (carriers allow only this, within 5 minutes).
pub fn sms_opt_out_confirmation(organization: &str) -> String {
    format!(
        "{organization}: you are unsubscribed and will receive no more messages. Reply START to resubscribe."
    )
}
