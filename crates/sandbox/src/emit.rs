//! Webhooks the sandbox sends to the service, signed as the platforms sign
//! them and retried with doubling pauses until the service answers 200 (Meta
//! retries for days; the sandbox gives up after a few attempts and logs it).

use axum::http::header::CONTENT_TYPE;
use optin_core::sandbox::sandbox_user_id;
use optin_core::sms::SmsStatus;
use optin_core::whatsapp::{
    format_timestamp, ChangeValue, DeliveryStatus, ErrorData, InboundMessage, Metadata, Profile,
    StatusError, StatusUpdate, WebhookContact, WebhookEnvelope, MESSAGING_PRODUCT,
    SIGNATURE_HEADER,
};

use super::sign::{meta_signature, twilio_signature};
use super::REQUEST_TIMEOUT;
use super::{store, SandboxState};

/// A Cloud API error reported in a `failed` status.
#[derive(Debug, Clone)]
pub(super) struct Failure {
    pub code: i64,
    pub title: &'static str,
    pub details: &'static str,
}

/// 131026: the number is not on WhatsApp (or cannot receive).
pub(super) const UNDELIVERABLE: Failure = Failure {
    code: optin_core::whatsapp::ERROR_UNDELIVERABLE,
    title: "Message undeliverable",
    details: "Message Undeliverable.",
};

/// 131047: free-form text more than 24 hours after the contact last wrote.
pub(super) const REENGAGEMENT: Failure = Failure {
    code: 131047,
    title: "Re-engagement message",
    details: "Message failed to send because more than 24 hours have passed since the customer last replied to this number.",
};

/// What happens to an accepted WhatsApp send.
#[derive(Debug, Clone)]
pub(super) enum Fate {
    /// `sent`, then `delivered`.
    Delivered,
    /// `failed` with this error.
    Failed(Failure),
}

fn value(state: &SandboxState) -> ChangeValue {
    ChangeValue {
        messaging_product: MESSAGING_PRODUCT.to_owned(),
        metadata: Metadata {
            display_phone_number: state.settings.display_phone_number.clone(),
            phone_number_id: state.settings.phone_number_id.clone(),
        },
        ..ChangeValue::default()
    }
}

/// One status webhook for `message_id`, stamped with the sandbox clock and
/// carrying the send's callback data, as Meta's do.
async fn whatsapp_status(
    state: &SandboxState,
    message_id: &str,
    recipient: &str,
    status: DeliveryStatus,
    failure: Option<&Failure>,
) -> bool {
    let at = state.clock.now();
    if let Err(e) = store::advance_status(
        &state.db,
        message_id,
        status.as_str(),
        failure.map(|f| f.code),
    )
    .await
    {
        tracing::warn!(error = %e, "sandbox could not record a status");
    }
    let callback_data = store::callback_data(&state.db, message_id)
        .await
        .unwrap_or_else(|e| {
            tracing::warn!(error = %e, "sandbox could not read a send's callback data");
            None
        });
    let update = StatusUpdate {
        id: message_id.to_owned(),
        status,
        timestamp: format_timestamp(at),
        recipient_id: recipient.to_owned(),
        recipient_user_id: Some(sandbox_user_id(recipient)),
        errors: failure
            .map(|f| StatusError {
                code: f.code,
                title: f.title.to_owned(),
                message: Some(f.title.to_owned()),
                error_data: Some(ErrorData {
                    details: f.details.to_owned(),
                }),
            })
            .into_iter()
            .collect(),
        biz_opaque_callback_data: callback_data,
    };
    let value = ChangeValue {
        statuses: vec![update],
        ..value(state)
    };
    whatsapp(state, value).await
}

/// The statuses of an accepted send, in order, each after `step_delay`.
pub(super) async fn whatsapp_fate(
    state: SandboxState,
    message_id: String,
    recipient: String,
    fate: Fate,
) {
    let pause = || tokio::time::sleep(state.settings.step_delay);
    pause().await;
    match fate {
        Fate::Failed(failure) => {
            whatsapp_status(
                &state,
                &message_id,
                &recipient,
                DeliveryStatus::Failed,
                Some(&failure),
            )
            .await;
        }
        Fate::Delivered => {
            whatsapp_status(&state, &message_id, &recipient, DeliveryStatus::Sent, None).await;
            pause().await;
            whatsapp_status(
                &state,
                &message_id,
                &recipient,
                DeliveryStatus::Delivered,
                None,
            )
            .await;
        }
    }
}

/// The `read` status of a message the contact opened.
pub(super) async fn whatsapp_read(state: SandboxState, message_id: String, recipient: String) {
    whatsapp_status(&state, &message_id, &recipient, DeliveryStatus::Read, None).await;
}

/// A message written by the contact on WhatsApp; records whether the
/// service took it.
pub(super) async fn whatsapp_inbound(
    state: SandboxState,
    profile_name: String,
    message: InboundMessage,
) {
    let id = message.id.clone();
    // Like Meta since 2026: the sender's BSUID beside their number, and
    // only the BSUID (with their username) when they hide their number.
    let username = message
        .from
        .is_none()
        .then(|| format!("@{}", profile_name.to_lowercase().replace(' ', ".")));
    let value = ChangeValue {
        contacts: vec![WebhookContact {
            profile: Profile {
                name: profile_name,
                username,
            },
            wa_id: message.from.clone(),
            user_id: message.from_user_id.clone(),
        }],
        messages: vec![message],
        ..value(&state)
    };
    let taken = whatsapp(&state, value).await;
    record_taken(&state, &id, taken).await;
}

async fn record_taken(state: &SandboxState, id: &str, taken: bool) {
    let status = if taken { "delivered" } else { "failed" };
    if let Err(e) = store::advance_status(&state.db, id, status, None).await {
        tracing::warn!(error = %e, "sandbox could not record a webhook outcome");
    }
}

/// The status callbacks of an accepted SMS: `sent`, then `delivered`.
pub(super) async fn sms_fate(
    state: SandboxState,
    sid: String,
    to: String,
    from: String,
    callback_url: String,
) {
    for status in [SmsStatus::Sent, SmsStatus::Delivered] {
        tokio::time::sleep(state.settings.step_delay).await;
        if let Err(e) = store::advance_status(&state.db, &sid, status.as_str(), None).await {
            tracing::warn!(error = %e, "sandbox could not record an SMS status");
        }
        let form = pairs(&[
            ("MessageSid", &sid),
            ("SmsSid", &sid),
            ("AccountSid", &state.sms_account_sid),
            ("From", &from),
            ("To", &to),
            ("MessageStatus", status.as_str()),
            ("SmsStatus", status.as_str()),
            ("ApiVersion", "2010-04-01"),
        ]);
        sms(&state, &callback_url, form).await;
    }
}

/// An SMS written by the contact, posted to `{service}/webhooks/sms`.
pub(super) async fn sms_inbound(
    state: SandboxState,
    sid: String,
    from: String,
    to: String,
    body: String,
) {
    let form = pairs(&[
        ("MessageSid", &sid),
        ("SmsMessageSid", &sid),
        ("SmsSid", &sid),
        ("AccountSid", &state.sms_account_sid),
        ("From", &from),
        ("To", &to),
        ("Body", &body),
        ("NumMedia", "0"),
        ("NumSegments", "1"),
        ("SmsStatus", "received"),
        ("ApiVersion", "2010-04-01"),
    ]);
    let url = format!("{}/webhooks/sms", state.service_base());
    let taken = sms(&state, &url, form).await;
    record_taken(&state, &sid, taken).await;
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect()
}

/// Posts a WhatsApp envelope to `{service}/webhooks/whatsapp`.
async fn whatsapp(state: &SandboxState, value: ChangeValue) -> bool {
    let envelope = WebhookEnvelope::single(state.settings.waba_id.clone(), value);
    let body = serde_json::to_vec(&envelope).expect("plain data serializes");
    let signature = meta_signature(&state.app_secret, &body);
    // The copies race the delivery the webhook is meant for.
    for base in &state.settings.whatsapp_copies_to {
        let url = format!("{}/webhooks/whatsapp", base.trim_end_matches('/'));
        let (copy, body, signature) = (state.clone(), body.clone(), signature.clone());
        state.emitting.spawn(async move {
            post(
                &copy,
                &url,
                "application/json",
                body,
                SIGNATURE_HEADER,
                signature,
            )
            .await;
        });
    }
    let url = format!("{}/webhooks/whatsapp", state.service_base());
    post(
        state,
        &url,
        "application/json",
        body,
        SIGNATURE_HEADER,
        signature,
    )
    .await
}

/// Posts a Twilio-style form, signed over `url` exactly as posted.
async fn sms(state: &SandboxState, url: &str, form: Vec<(String, String)>) -> bool {
    let body = serde_urlencoded::to_string(&form).expect("string pairs encode");
    let signature = twilio_signature(&state.sms_auth_token, url, &form);
    post(
        state,
        url,
        "application/x-www-form-urlencoded",
        body.into_bytes(),
        optin_core::sms::SIGNATURE_HEADER,
        signature,
    )
    .await
}

/// Posts until the service answers 200; true when it did.
async fn post(
    state: &SandboxState,
    url: &str,
    content_type: &'static str,
    body: Vec<u8>,
    signature_header: &'static str,
    signature: String,
) -> bool {
    let attempts = state.settings.webhook_attempts.max(1);
    let mut pause = state.settings.first_retry_delay;
    for attempt in 1..=attempts {
        let result = state
            .http
            .post(url)
            .header(CONTENT_TYPE, content_type)
            .header(signature_header, &signature)
            .body(body.clone())
            .timeout(REQUEST_TIMEOUT)
            .send()
            .await;
        // The platforms count only a 200 as delivered.
        match result {
            Ok(response) if response.status().as_u16() == 200 => return true,
            Ok(response) => {
                tracing::warn!(%url, attempt, status = %response.status(), "service refused a sandbox webhook")
            }
            Err(e) => {
                tracing::warn!(%url, attempt, error = %e, "sandbox webhook did not reach the service")
            }
        }
        if attempt < attempts {
            tokio::time::sleep(pause).await;
            pause = pause.saturating_mul(2);
        }
    }
    tracing::error!(%url, attempts, "sandbox gave up delivering a webhook");
    false
}
