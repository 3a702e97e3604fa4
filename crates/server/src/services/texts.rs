//! The texts the service itself sends to contacts, in one place.

/// Sent after the contact opted in.
pub fn opt_in_confirmation(organization: &str, advisor: Option<&str>) -> String {
    format!(
        "Thank you. You have opted in to WhatsApp messages from {organization}{}. Reply STOP at any time to opt out.",
        advisor.map(|a| format!(" ({a})")).unwrap_or_default()
    )
}

/// Sent after the contact opted out: they can come back by replying "yes".
pub fn opt_out_notice(organization: &str) -> String {
    format!(
        "You have opted out of WhatsApp messages from {organization}. You can opt in at any time by replying \"yes\"."
    )
}
