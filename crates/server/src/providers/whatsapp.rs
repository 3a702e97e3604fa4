//! WhatsApp Cloud API client: `POST {graph_base}/{api_version}/{phone_number_id}/messages`.

use optin_core::whatsapp::{SendMessage, SendResponse};

use super::{execute, parse_success, ProviderError, IDEMPOTENCY_KEY_HEADER};

/// Where and as whom to call the Graph API.
#[derive(Debug, Clone)]
pub struct WhatsAppConfig {
    /// `https://graph.facebook.com`, or the sandbox's `http://.../sandbox/graph`.
    pub graph_base: String,
    /// Graph API version, e.g. `v21.0`.
    pub api_version: String,
    /// Service-wide system-user access token (bearer), for organizations
    /// without a token of their own.
    pub access_token: String,
}

/// Which business number sends, and with whose token: each organization's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhatsAppSender {
    /// Cloud API id of the organization's business number.
    pub phone_number_id: String,
    /// The organization's own access token, when it brings its own business account.
    pub access_token: Option<String>,
}

/// What the Cloud API answered to an accepted send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendAccepted {
    /// `wamid....`; status webhooks refer to it.
    pub message_id: String,
    /// The recipient's WhatsApp id as resolved by WhatsApp (the request's
    /// `to` when the answer names no contact).
    pub wa_id: String,
}

/// Sends WhatsApp messages. Cheap to clone (the HTTP client is shared).
#[derive(Debug, Clone)]
pub struct WhatsAppClient {
    config: WhatsAppConfig,
    http: reqwest::Client,
}

impl WhatsAppClient {
    /// A client using `http` (share one `reqwest::Client` per process).
    pub fn new(config: WhatsAppConfig, http: reqwest::Client) -> Self {
        Self { config, http }
    }

    /// The configuration.
    pub fn config(&self) -> &WhatsAppConfig {
        &self.config
    }

    /// URL of the messages endpoint of a business number.
    pub fn messages_url(&self, phone_number_id: &str) -> String {
        format!(
            "{}/{}/{}/messages",
            self.config.graph_base.trim_end_matches('/'),
            self.config.api_version,
            phone_number_id
        )
    }

    /// Sends one message. `idempotency_key` must be the same for every retry
    /// of the same logical send (e.g. the outbox row id).
    pub async fn send(
        &self,
        sender: &WhatsAppSender,
        message: &SendMessage,
        idempotency_key: &str,
    ) -> Result<SendAccepted, ProviderError> {
        let token = sender
            .access_token
            .as_deref()
            .unwrap_or(&self.config.access_token);
        let request = self
            .http
            .post(self.messages_url(&sender.phone_number_id))
            .bearer_auth(token)
            .header(IDEMPOTENCY_KEY_HEADER, idempotency_key)
            .json(message);
        let (status, body) = execute(request).await?;
        let response: SendResponse = parse_success(status, &body)?;
        let Some(sent) = response.messages.into_iter().next() else {
            return Err(ProviderError::Permanent {
                status,
                code: None,
                message: "the answer names no message id".to_owned(),
            });
        };
        let wa_id = response
            .contacts
            .into_iter()
            .next()
            .and_then(|c| c.wa_id)
            .or_else(|| message.to.clone())
            .unwrap_or_default();
        Ok(SendAccepted {
            message_id: sent.id,
            wa_id,
        })
    }
}
