//! Outbound providers: the WhatsApp Cloud API and a Twilio-style SMS API,
//! plus the webhook signatures of both. The same clients talk to the real
//! platforms and to the local sandbox; only the base URL and credentials
//! differ.
//!
//! Every send carries an `Idempotency-Key` header. Meta ignores it (a
//! WhatsApp send carries the same key as `biz_opaque_callback_data`, which
//! Meta returns on its statuses); the SMS provider and the sandbox honour it,
//! which lets the outbox repeat a send whose outcome is unknown without the
//! contact receiving it twice.

pub mod signature;
pub mod sms;
pub mod whatsapp;

use optin_core::sms::SmsErrorBody;
use optin_core::vocab::ErrorCode;
use optin_core::whatsapp::GraphErrorBody;

pub use sms::{SmsAccepted, SmsClient, SmsConfig};
pub use whatsapp::{SendAccepted, WhatsAppClient, WhatsAppConfig, WhatsAppSender};

/// Header naming a send so a retry of it is recognised as the same send.
pub const IDEMPOTENCY_KEY_HEADER: &str = "Idempotency-Key";

/// Why a send did not go through.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// The provider refused the send; repeating it will not help.
    #[error("provider refused the message (HTTP {status}, code {code:?}): {message}")]
    Permanent {
        /// HTTP status of the answer.
        status: u16,
        /// Provider error code, when the body had one.
        code: Option<ErrorCode>,
        /// Provider's explanation (or what went wrong reading the answer).
        message: String,
    },
    /// Throttled, a provider fault, a timeout or no connection: try again
    /// later with the same idempotency key.
    #[error("provider unavailable (HTTP {status:?}, code {code:?}): {message}")]
    Retryable {
        /// HTTP status, absent when no answer arrived.
        status: Option<u16>,
        /// Provider error code, when the body had one.
        code: Option<ErrorCode>,
        /// Provider's explanation or the transport error.
        message: String,
    },
    /// No answer arrived (the call timed out, or the connection broke once
    /// the request was out): the provider may have sent the message. The
    /// outbox does not repeat it blindly; it waits for proof first.
    #[error("no answer from the provider: {message}")]
    Unanswered {
        /// What happened to the call.
        message: String,
    },
    /// Never handed to the provider: the organization cannot send this
    /// (no number provisioned). Final until an admin fixes it.
    #[error("not sent: {message}")]
    Unsent {
        /// What is missing.
        message: String,
    },
}

impl ProviderError {
    /// True when the same send should be tried again later.
    pub fn is_retryable(&self) -> bool {
        matches!(self, ProviderError::Retryable { .. })
    }

    /// True when the provider may have sent the message after all.
    pub fn outcome_unknown(&self) -> bool {
        matches!(self, ProviderError::Unanswered { .. })
    }

    /// A call that got no answer within `timeout`.
    pub fn timed_out(timeout: std::time::Duration) -> Self {
        ProviderError::Unanswered {
            message: format!("no answer within {} ms", timeout.as_millis()),
        }
    }

    /// A send that cannot be handed to the provider at all.
    pub fn unsent(message: &str) -> Self {
        ProviderError::Unsent {
            message: message.to_owned(),
        }
    }

    /// A send that could not be attempted now (storage unavailable, say).
    pub fn unavailable(message: String) -> Self {
        ProviderError::Retryable {
            status: None,
            code: None,
            message,
        }
    }

    /// Provider error code, when one was given.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ProviderError::Permanent { code, .. } | ProviderError::Retryable { code, .. } => *code,
            ProviderError::Unanswered { .. } | ProviderError::Unsent { .. } => None,
        }
    }

    /// HTTP status of the answer, when one arrived.
    pub fn status(&self) -> Option<u16> {
        match self {
            ProviderError::Permanent { status, .. } => Some(*status),
            ProviderError::Retryable { status, .. } => *status,
            ProviderError::Unanswered { .. } | ProviderError::Unsent { .. } => None,
        }
    }

    /// The provider's explanation.
    pub fn message(&self) -> &str {
        match self {
            ProviderError::Permanent { message, .. }
            | ProviderError::Retryable { message, .. }
            | ProviderError::Unanswered { message }
            | ProviderError::Unsent { message } => message,
        }
    }

    /// Classifies a non-2xx answer from its status and raw body (a Graph
    /// error body, a Twilio error body, or anything else).
    pub fn from_response(status: u16, body: &[u8]) -> Self {
        let (code, message) = if let Ok(graph) = serde_json::from_slice::<GraphErrorBody>(body) {
            (
                ErrorCode::from_provider(graph.error.code),
                graph.error.message,
            )
        } else if let Ok(twilio) = serde_json::from_slice::<SmsErrorBody>(body) {
            (ErrorCode::from_provider(twilio.code), twilio.message)
        } else {
            (None, excerpt(body))
        };
        let retryable = status == 429
            || (500..=599).contains(&status)
            || code.is_some_and(ErrorCode::is_retryable);
        if retryable {
            ProviderError::Retryable {
                status: Some(status),
                code,
                message,
            }
        } else {
            ProviderError::Permanent {
                status,
                code,
                message,
            }
        }
    }

    /// Classifies a transport failure (no usable answer): retryable when
    /// the request never left (no connection), otherwise unanswered, since
    /// the provider may have acted on it.
    pub fn from_transport(error: &reqwest::Error) -> Self {
        if error.is_connect() || error.is_builder() {
            return ProviderError::Retryable {
                status: None,
                code: None,
                message: format!("could not connect: {error}"),
            };
        }
        let kind = if error.is_timeout() {
            "timed out"
        } else {
            "request failed"
        };
        ProviderError::Unanswered {
            message: format!("{kind}: {error}"),
        }
    }
}

/// Start of a non-JSON error body, for logs and the consent record.
fn excerpt(body: &[u8]) -> String {
    const MAX: usize = 200;
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return "no error details in the answer".to_owned();
    }
    match text.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text.to_owned(),
    }
}

/// Sends a prepared request (bounded by the client's timeout); the status
/// and body of a 2xx answer, or the classified error.
async fn execute(request: reqwest::RequestBuilder) -> Result<(u16, Vec<u8>), ProviderError> {
    let response = request
        .send()
        .await
        .map_err(|e| ProviderError::from_transport(&e))?;
    let status = response.status().as_u16();
    let body = response
        .bytes()
        .await
        .map_err(|e| ProviderError::from_transport(&e))?;
    if (200..=299).contains(&status) {
        Ok((status, body.to_vec()))
    } else {
        Err(ProviderError::from_response(status, &body))
    }
}

/// Reads a 2xx body. An unreadable one is a permanent error, not a retryable
/// one: the provider has accepted *something*, and a retry against the real
/// platform (which ignores the idempotency key) could send the message twice.
fn parse_success<T: serde::de::DeserializeOwned>(
    status: u16,
    body: &[u8],
) -> Result<T, ProviderError> {
    serde_json::from_slice(body).map_err(|e| ProviderError::Permanent {
        status,
        code: None,
        message: format!("unreadable answer ({e}): {}", excerpt(body)),
    })
}

#[cfg(test)]
mod tests;
