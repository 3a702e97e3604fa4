//! Twilio-style SMS client: `POST {base}/2010-04-01/Accounts/{sid}/Messages.json`
//! with HTTP basic auth and a form body; and reading its form webhooks.

use optin_core::sms::{SmsInbound, SmsMessageResource, SmsSendForm, SmsStatus, SmsStatusCallback};

use super::{execute, parse_success, ProviderError, IDEMPOTENCY_KEY_HEADER};

/// Where and as whom to call the SMS API.
#[derive(Debug, Clone)]
pub struct SmsConfig {
    /// `https://api.twilio.com`, or the sandbox's `http://.../sandbox/sms`.
    pub base: String,
    /// Account id (`AC...`); the basic-auth user.
    pub account_sid: String,
    /// Auth token; the basic-auth password and the webhook signing key.
    pub auth_token: String,
    /// Public URL of our `/webhooks/sms`, sent as `StatusCallback` so the
    /// provider reports delivery; `None` leaves it to the account settings.
    pub status_callback: Option<String>,
}

/// What the provider answered to an accepted send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsAccepted {
    /// Message id (`SM...`); status callbacks refer to it.
    pub sid: String,
    /// Status right after the send, normally `queued`.
    pub status: SmsStatus,
}

/// Sends SMS. Cheap to clone (the HTTP client is shared).
#[derive(Debug, Clone)]
pub struct SmsClient {
    config: SmsConfig,
    http: reqwest::Client,
}

impl SmsClient {
    /// A client using `http` (share one `reqwest::Client` per process).
    pub fn new(config: SmsConfig, http: reqwest::Client) -> Self {
        Self { config, http }
    }

    /// The configuration.
    pub fn config(&self) -> &SmsConfig {
        &self.config
    }

    /// URL of the messages endpoint.
    pub fn messages_url(&self) -> String {
        format!(
            "{}/2010-04-01/Accounts/{}/Messages.json",
            self.config.base.trim_end_matches('/'),
            self.config.account_sid
        )
    }

    /// Sends `body` from the organization's number `from_e164` to `to_e164`.
    /// `idempotency_key` must be the same for every retry of the same logical send.
    pub async fn send(
        &self,
        from_e164: &str,
        to_e164: &str,
        body: &str,
        idempotency_key: &str,
    ) -> Result<SmsAccepted, ProviderError> {
        let form = SmsSendForm {
            to: to_e164.to_owned(),
            from: from_e164.to_owned(),
            body: body.to_owned(),
            status_callback: self.config.status_callback.clone(),
        };
        let request = self
            .http
            .post(self.messages_url())
            .basic_auth(&self.config.account_sid, Some(&self.config.auth_token))
            .header(IDEMPOTENCY_KEY_HEADER, idempotency_key)
            .form(&form);
        let (status, bytes) = execute(request).await?;
        let resource: SmsMessageResource = parse_success(status, &bytes)?;
        Ok(SmsAccepted {
            sid: resource.sid,
            status: resource.status,
        })
    }
}

/// A form webhook on `/webhooks/sms`: a status callback when it has
/// `MessageStatus`, otherwise an inbound message. (Twilio posts both kinds
/// to whatever URLs are configured; we use one.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmsWebhook {
    /// The contact wrote to our number.
    Inbound(SmsInbound),
    /// Delivery status of one of our messages.
    Status(SmsStatusCallback),
}

impl SmsWebhook {
    /// Decodes a raw form body. Also returns every decoded pair, which is
    /// what [`super::signature::verify_twilio_signature`] needs.
    pub fn parse(
        raw_body: &[u8],
    ) -> Result<(Self, Vec<(String, String)>), serde_urlencoded::de::Error> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(raw_body)?;
        let webhook = if pairs.iter().any(|(name, _)| name == "MessageStatus") {
            SmsWebhook::Status(serde_urlencoded::from_bytes(raw_body)?)
        } else {
            SmsWebhook::Inbound(serde_urlencoded::from_bytes(raw_body)?)
        };
        Ok((webhook, pairs))
    }
}
