//! Wire types of the sandbox's "contact's phone" and test-clock routes
//! (`/sandbox/phones/...`, `/sandbox/clock`), shared by the service and the
//! web app's phone page. Sandbox mode only.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The channel of a phone message: the service's own [`crate::vocab::Channel`].
pub use crate::vocab::Channel;

/// Direction of a message, seen from the contact's phone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Received by the contact (sent by the business).
    In,
    /// Written by the contact (sent to the business).
    Out,
}

impl Direction {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::In => "in",
            Direction::Out => "out",
        }
    }
}

/// `GET /sandbox/phones/{e164}`: what the contact's phone shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhoneView {
    /// The number, E.164.
    pub phone: String,
    /// False when the sandbox plays a number without WhatsApp (sends fail with 131026).
    pub on_whatsapp: bool,
    /// WhatsApp profile name sent with the contact's messages.
    pub profile_name: String,
    /// Messages both ways, oldest first.
    pub messages: Vec<PhoneMessage>,
}

/// One message on the contact's phone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhoneMessage {
    /// `wamid....` or `SM...`; what `tap` and `read` refer to.
    pub id: String,
    /// Channel.
    pub channel: Channel,
    /// `in`: received by the contact; `out`: written by the contact.
    pub direction: Direction,
    /// The text as the contact sees it (templates rendered with their
    /// parameters when the sandbox knows the template body).
    pub text: String,
    /// For templates: name, language and parameters as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<TemplateView>,
    /// Quick-reply buttons the contact can tap.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<PhoneButton>,
    /// For button taps: the message the tap answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_id: Option<String>,
    /// When it was sent (sandbox clock).
    #[serde(with = "crate::wire_time")]
    pub at: DateTime<Utc>,
    /// For received messages the provider status (`sent`, `delivered`,
    /// `read`, `failed`, `queued`); for written ones whether the service took
    /// the webhook (`pending`, `delivered`, `failed`).
    pub status: String,
    /// Provider error code of a failed message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<i64>,
}

/// A template as sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateView {
    /// Template name.
    pub name: String,
    /// Language code.
    pub language: String,
    /// Body text parameters, in order.
    pub parameters: Vec<String>,
}

/// A quick-reply button.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhoneButton {
    /// Label, e.g. "Yes".
    pub text: String,
    /// Payload returned to the business on a tap.
    pub payload: String,
}

/// Row of `GET /sandbox/phones`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhoneSummary {
    /// The number, E.164.
    pub phone: String,
    /// Whether it is on WhatsApp.
    pub on_whatsapp: bool,
    /// How many messages it has, both ways.
    pub message_count: u64,
    /// Time of the latest message.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::wire_time::option"
    )]
    pub last_at: Option<DateTime<Utc>>,
}

/// Body of `POST /sandbox/phones/{e164}/tap`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tap {
    /// The template message whose button is tapped.
    pub message_id: String,
    /// The button's payload.
    pub payload: String,
}

/// Body of `POST /sandbox/phones/{e164}/reply`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    /// What the contact types.
    pub text: String,
    /// Where: WhatsApp (default) or SMS.
    #[serde(default = "default_channel")]
    pub channel: Channel,
    /// WhatsApp only: write as a user who adopted a username, whose webhook
    /// carries their business-scoped user id and no number.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hide_number: bool,
}

fn default_channel() -> Channel {
    Channel::Whatsapp
}

/// Body of `PUT /sandbox/phones/{e164}/whatsapp`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetWhatsapp {
    /// Whether the number is on WhatsApp.
    pub on_whatsapp: bool,
    /// New WhatsApp profile name, if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_name: Option<String>,
}

/// Body of `POST /sandbox/phones/{e164}/read`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarkRead {
    /// The received WhatsApp message the contact opens.
    pub message_id: String,
}

/// `GET /sandbox/clock`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClockView {
    /// The shared clock's time.
    #[serde(with = "crate::wire_time")]
    pub now: DateTime<Utc>,
    /// How far it has been advanced, in seconds.
    pub offset_seconds: i64,
}

/// Body of `POST /sandbox/clock/advance`: give one of the two, positive.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct AdvanceClock {
    /// Hours to move forward (fractions allowed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hours: Option<f64>,
    /// Seconds to move forward.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds: Option<i64>,
}

/// The business-scoped user id (BSUID) the sandbox gives the WhatsApp user
/// of a number: shaped like Meta's (a region code, a dot, digits) under the
/// user-assigned region `ZZ`, and reversible, so that a send addressed by
/// `recipient` reaches that number's phone.
pub fn sandbox_user_id(e164: &str) -> String {
    let digits: String = e164.trim().trim_start_matches('+').chars().rev().collect();
    format!("{SANDBOX_USER_ID_PREFIX}{digits}")
}

/// The number (E.164) of a sandbox BSUID; `None` for any other id.
pub fn sandbox_user_id_number(user_id: &str) -> Option<String> {
    let digits = user_id.trim().strip_prefix(SANDBOX_USER_ID_PREFIX)?;
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| format!("+{}", digits.chars().rev().collect::<String>()))
}

const SANDBOX_USER_ID_PREFIX: &str = "ZZ.";

#[cfg(test)]
mod user_id_tests {
    use super::*;

    #[test]
    fn sandbox_user_ids_lead_back_to_their_number() {
        let user_id = sandbox_user_id("+447911123456");
        assert_eq!(user_id, "ZZ.654321119744");
        assert_eq!(
            sandbox_user_id_number(&user_id).as_deref(),
            Some("+447911123456")
        );
        for other in ["US.13491208655302741918", "ZZ.", "ZZ.12a", "447911123456"] {
            assert_eq!(sandbox_user_id_number(other), None, "{other}");
        }
    }
}
