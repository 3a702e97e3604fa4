//! SMS provider wire formats (Twilio-style Messages API), as in
//! `docs/whatsapp-platform.md`: the send form, the message resource JSON, and
//! the form-encoded inbound and status-callback webhooks.
//!
//! Form field names are Twilio's (`To`, `MessageSid`, ...); the Rust fields
//! are snake_case and renamed. Unknown fields are ignored. Note that the
//! webhook signature covers *every* posted field, so verify it over the raw
//! form pairs, not over these structs.

use serde::{Deserialize, Deserializer, Serialize};

/// Header carrying the webhook signature (base64 HMAC-SHA1).
pub const SIGNATURE_HEADER: &str = "X-Twilio-Signature";

/// Form body of `POST /2010-04-01/Accounts/{AccountSid}/Messages.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SmsSendForm {
    /// Recipient, E.164.
    pub to: String,
    /// Our sending number, E.164.
    pub from: String,
    /// The text.
    pub body: String,
    /// URL for status callbacks of this message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_callback: Option<String>,
}

/// Status of an SMS, as in resources and status callbacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmsStatus {
    /// Accepted by the provider, waiting to be sent.
    Queued,
    /// Accepted by a messaging service.
    Accepted,
    /// Scheduled for later.
    Scheduled,
    /// Being sent to the carrier.
    Sending,
    /// Handed to the carrier.
    Sent,
    /// The carrier confirmed delivery.
    Delivered,
    /// The carrier could not deliver it.
    Undelivered,
    /// The provider could not send it.
    Failed,
    /// Inbound, being received.
    Receiving,
    /// Inbound, received.
    Received,
    /// Opened (RCS/WhatsApp through the provider).
    Read,
    /// Canceled before sending.
    Canceled,
    /// A status we do not know; serializes as `other`.
    #[serde(other)]
    Other,
}

impl SmsStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            SmsStatus::Queued => "queued",
            SmsStatus::Accepted => "accepted",
            SmsStatus::Scheduled => "scheduled",
            SmsStatus::Sending => "sending",
            SmsStatus::Sent => "sent",
            SmsStatus::Delivered => "delivered",
            SmsStatus::Undelivered => "undelivered",
            SmsStatus::Failed => "failed",
            SmsStatus::Receiving => "receiving",
            SmsStatus::Received => "received",
            SmsStatus::Read => "read",
            SmsStatus::Canceled => "canceled",
            SmsStatus::Other => "other",
        }
    }

    /// True for `failed` and `undelivered`.
    pub fn is_failure(self) -> bool {
        matches!(self, SmsStatus::Failed | SmsStatus::Undelivered)
    }

    /// What it means for our message; `None` for intermediate statuses we do not track.
    pub fn message_status(self) -> Option<crate::vocab::MessageStatus> {
        use crate::vocab::MessageStatus as M;
        match self {
            SmsStatus::Sent => Some(M::Sent),
            SmsStatus::Delivered => Some(M::Delivered),
            SmsStatus::Read => Some(M::Read),
            SmsStatus::Failed | SmsStatus::Undelivered => Some(M::Failed),
            SmsStatus::Queued
            | SmsStatus::Accepted
            | SmsStatus::Scheduled
            | SmsStatus::Sending
            | SmsStatus::Receiving
            | SmsStatus::Received
            | SmsStatus::Canceled
            | SmsStatus::Other => None,
        }
    }
}

/// The message resource answered by a send (JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmsMessageResource {
    /// Message id, `SM...`; callbacks refer to it.
    pub sid: String,
    /// Account the message belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_sid: Option<String>,
    /// Current status (`queued` right after a send).
    pub status: SmsStatus,
    /// Recipient.
    #[serde(default)]
    pub to: String,
    /// Sender.
    #[serde(default)]
    pub from: String,
    /// The text.
    #[serde(default)]
    pub body: String,
    /// Error code, when the message failed.
    #[serde(default, deserialize_with = "lenient_code")]
    pub error_code: Option<i64>,
    /// Error text, when the message failed.
    #[serde(default)]
    pub error_message: Option<String>,
}

/// Error body of a failed API call, e.g. `{"code":21211,"message":"...","status":400}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmsErrorBody {
    /// Provider error code.
    pub code: i64,
    /// Explanation.
    #[serde(default)]
    pub message: String,
    /// Link to the error's documentation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub more_info: Option<String>,
    /// HTTP status, repeated.
    #[serde(default)]
    pub status: u16,
}

/// Form of an inbound SMS webhook (the contact wrote to our number).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SmsInbound {
    /// Id of the inbound message; the dedup key.
    pub message_sid: String,
    /// Our account.
    #[serde(default)]
    pub account_sid: String,
    /// The contact, E.164.
    pub from: String,
    /// Our number, E.164.
    pub to: String,
    /// The text.
    #[serde(default)]
    pub body: String,
}

impl SmsInbound {
    /// True when `From` is a phone number in E.164 (`+` and 7 to 15 digits,
    /// no leading zero); a short code or a sender name is not stored as one.
    pub fn from_is_e164(&self) -> bool {
        self.from.starts_with('+') && crate::whatsapp::is_wa_id(&self.from)
    }
}

/// Form of a status callback for an outbound SMS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SmsStatusCallback {
    /// The outbound message (`sid` of the send's resource).
    pub message_sid: String,
    /// Its new status.
    pub message_status: SmsStatus,
    /// Error code, for `failed` / `undelivered`.
    #[serde(
        default,
        deserialize_with = "lenient_code",
        skip_serializing_if = "Option::is_none"
    )]
    pub error_code: Option<i64>,
    /// Recipient.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// Sender.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Our account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_sid: Option<String>,
}

/// Reads an error code given as a number (JSON), a decimal string (forms),
/// an empty string or null; anything unreadable counts as absent.
fn lenient_code<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Code {
        Number(i64),
        Text(String),
    }
    Ok(
        match Option::<Code>::deserialize(deserializer).unwrap_or(None) {
            Some(Code::Number(n)) => Some(n),
            Some(Code::Text(text)) => text.trim().parse().ok(),
            None => None,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_inbound_from_must_be_e164() {
        let inbound = |from: &str| SmsInbound {
            message_sid: "SM1".into(),
            account_sid: String::new(),
            from: from.into(),
            to: "+15550001111".into(),
            body: String::new(),
        };
        assert!(inbound("+447911123456").from_is_e164());
        for not in [
            "447911123456",
            "+=1+1<script>",
            "12345",
            "ACME",
            "+0123456789",
            "",
        ] {
            assert!(!inbound(not).from_is_e164(), "{not}");
        }
    }

    #[test]
    fn send_form_uses_twilio_field_names() {
        let form = SmsSendForm {
            to: "+15551234567".into(),
            from: "+15550001111".into(),
            body: "Hi".into(),
            status_callback: None,
        };
        let value = serde_json::to_value(&form).unwrap();
        assert_eq!(
            value,
            json!({"To":"+15551234567","From":"+15550001111","Body":"Hi"})
        );
        let with_callback = SmsSendForm {
            status_callback: Some("https://x/cb".into()),
            ..form
        };
        assert_eq!(
            serde_json::to_value(&with_callback).unwrap()["StatusCallback"],
            "https://x/cb"
        );
    }

    #[test]
    fn message_resource_parses_twilio_json() {
        let resource: SmsMessageResource = serde_json::from_value(json!({
            "account_sid":"AC1","api_version":"2010-04-01","body":"Hi","date_created":"Thu, 24 Aug 2023 05:01:45 +0000",
            "direction":"outbound-api","error_code":null,"error_message":null,"from":"+15550001111",
            "num_segments":"1","price":null,"sid":"SM1","status":"queued","to":"+15551234567",
            "uri":"/2010-04-01/Accounts/AC1/Messages/SM1.json"}))
        .unwrap();
        assert_eq!(resource.sid, "SM1");
        assert_eq!(resource.status, SmsStatus::Queued);
        assert_eq!(resource.error_code, None);
        let failed: SmsMessageResource = serde_json::from_value(
            json!({"sid":"SM2","status":"failed","error_code":30003,"to":"","from":"","body":""}),
        )
        .unwrap();
        assert_eq!(failed.error_code, Some(30003));
        assert!(failed.status.is_failure());
        let odd: SmsMessageResource =
            serde_json::from_value(json!({"sid":"SM3","status":"partially_delivered"})).unwrap();
        assert_eq!(odd.status, SmsStatus::Other);
    }

    #[test]
    fn error_body_parses() {
        let body: SmsErrorBody = serde_json::from_value(json!({"code":21211,
            "message":"The 'To' number is not a valid phone number.",
            "more_info":"https://www.twilio.com/docs/errors/21211","status":400}))
        .unwrap();
        assert_eq!(body.code, 21211);
        assert_eq!(body.status, 400);
    }

    #[test]
    fn lenient_codes_accept_strings_and_blanks() {
        let from = |v| {
            serde_json::from_value::<SmsStatusCallback>(v)
                .unwrap()
                .error_code
        };
        let base = |code: serde_json::Value| json!({"MessageSid":"SM1","MessageStatus":"undelivered","ErrorCode":code});
        assert_eq!(from(base(json!("30003"))), Some(30003));
        assert_eq!(from(base(json!(30005))), Some(30005));
        assert_eq!(from(base(json!(""))), None);
        assert_eq!(from(base(json!(null))), None);
        assert_eq!(
            from(json!({"MessageSid":"SM1","MessageStatus":"delivered"})),
            None
        );
    }
}
