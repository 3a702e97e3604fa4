//! Provider webhooks (not under `/api/v1`: providers sign, they do not log in):
//! - `GET /webhooks/whatsapp`: Meta's verification handshake;
//! - `POST /webhooks/whatsapp`: messages and statuses, `X-Hub-Signature-256` verified;
//! - `POST /webhooks/sms`: inbound SMS and status callbacks, `X-Twilio-Signature` verified.
//!
//! A bad or missing signature gets 401 and nothing is stored. A verified
//! webhook is kept with its signature header exactly as received (and, for
//! SMS, the URL that was signed), so anyone with the provider's secret can
//! check it again; it is never refused: it is applied in one transaction, each item once
//! (re-deliveries are acknowledged and skipped), what is not understood is
//! kept raw for review with the reason, and then it is acknowledged.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

use crate::error::{ApiQuery, AppError};
use crate::providers::signature::{verify_meta_signature, verify_twilio_signature};
use crate::services::inbound;
use crate::store::evidence::ReceivedWebhook;
use crate::AppState;

/// Largest webhook body read (Meta batches are small; this bounds abuse).
const MAX_WEBHOOK_BYTES: usize = 1024 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/whatsapp", get(handshake).post(whatsapp))
        .route("/sms", post(sms))
        .method_not_allowed_fallback(|| async { AppError::MethodNotAllowed })
        .layer(axum::extract::DefaultBodyLimit::max(MAX_WEBHOOK_BYTES))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct Handshake {
    /// `subscribe`.
    #[serde(rename = "hub.mode")]
    mode: Option<String>,
    /// The verify token configured at Meta and here.
    #[serde(rename = "hub.verify_token")]
    verify_token: Option<String>,
    /// Echoed back when the token matches.
    #[serde(rename = "hub.challenge")]
    challenge: Option<String>,
}

#[utoipa::path(
    get,
    path = "/webhooks/whatsapp",
    tag = "webhook",
    params(Handshake),
    responses(
        (status = 200, description = "The verify token matches: the challenge, echoed.", content_type = "text/plain", body = String),
        (status = 403, description = "Wrong mode or verify token, or no challenge (`verification_failed`).", body = optin_core::api::ErrorBody),
    ),
)]
async fn handshake(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<Handshake>,
) -> Response {
    let expected = &state.providers.settings.verify_token;
    let token_ok = query
        .verify_token
        .as_deref()
        .is_some_and(|token| constant_time_eq(token.as_bytes(), expected.as_bytes()));
    match (query.mode.as_deref(), token_ok, query.challenge) {
        (Some("subscribe"), true, Some(challenge)) => (StatusCode::OK, challenge).into_response(),
        _ => AppError::Forbidden {
            code: "verification_failed",
            message: "The verification request does not match this service's verify token.".into(),
        }
        .into_response(),
    }
}

pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn unsigned() -> AppError {
    tracing::warn!("webhook refused: bad or missing signature");
    AppError::Unauthorized
}

#[utoipa::path(
    post,
    path = "/webhooks/whatsapp",
    tag = "webhook",
    params(("X-Hub-Signature-256" = String, Header, description = "`sha256=` and the HMAC-SHA256 of the body with the app secret.")),
    request_body(content = Object, description = "Meta's webhook notification (messages and statuses), read as sent.", content_type = "application/json"),
    responses(
        (status = 200, description = "Applied (what is not understood is kept for review) and acknowledged."),
        (status = 401, description = "A bad or missing signature (`unauthorized`); nothing is stored.", body = optin_core::api::ErrorBody),
        (status = 413, description = "The body is larger than 1 MiB (`payload_too_large`); nothing is stored.", body = optin_core::api::ErrorBody),
        (status = 500, description = "Not applied (`internal`); Meta delivers it again later.", body = optin_core::api::ErrorBody),
        (status = 503, description = "Storage is busy or full (`unavailable`, with `Retry-After`): nothing applied; Meta delivers it again later.", body = optin_core::api::ErrorBody),
    ),
)]
async fn whatsapp(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let webhook = match verified_whatsapp(&state, &headers, body) {
        Ok(webhook) => webhook,
        Err(refused) => return refused.into_response(),
    };
    // Signed by Meta: acknowledged whatever it holds (what is not understood
    // is kept for review), or Meta would retry it for days.
    match inbound::apply_whatsapp(&state, webhook).await {
        Ok(()) => StatusCode::OK.into_response(),
        // Not acknowledged, so the provider delivers it again later.
        Err(e) => e.into_response(),
    }
}

/// A WhatsApp webhook whose signature verifies, as received; else the
/// refusal (413 too large, 401 a bad or missing signature).
pub(crate) fn verified_whatsapp(
    state: &AppState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<ReceivedWebhook, AppError> {
    // Too large (413) or unreadable: refused in the error shape, before the signature.
    let body = body?;
    let signature = headers
        .get("x-hub-signature-256")
        .and_then(|v| v.to_str().ok());
    if !verify_meta_signature(&state.providers.settings.app_secret, &body, signature) {
        return Err(unsigned());
    }
    Ok(ReceivedWebhook {
        body: String::from_utf8_lossy(&body).into_owned(),
        signature: signature.map(str::to_owned),
        signed_url: None,
    })
}

#[utoipa::path(
    post,
    path = "/webhooks/sms",
    tag = "webhook",
    params(("X-Twilio-Signature" = String, Header, description = "Base64 HMAC-SHA1 of the called URL and the sorted form pairs, with the auth token.")),
    request_body(content = Object, description = "An inbound SMS or a status callback, as form pairs.", content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Applied and acknowledged."),
        (status = 401, description = "A bad or missing signature, or a body that is not a form (`unauthorized`); nothing is stored.", body = optin_core::api::ErrorBody),
        (status = 413, description = "The body is larger than 1 MiB (`payload_too_large`); nothing is stored.", body = optin_core::api::ErrorBody),
        (status = 500, description = "Not applied (`internal`); the provider delivers it again later.", body = optin_core::api::ErrorBody),
        (status = 503, description = "Storage is busy or full (`unavailable`, with `Retry-After`): nothing applied; the provider delivers it again later.", body = optin_core::api::ErrorBody),
    ),
)]
async fn sms(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) => return AppError::from(rejection).into_response(),
    };
    // The signature covers every posted pair; a body that is not even a
    // form cannot carry a valid one.
    let Ok(params) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body) else {
        return unsigned().into_response();
    };
    let settings = &state.providers.settings;
    // Twilio signs the exact URL it called, query string included.
    let url = format!(
        "{}{}",
        settings.public_url,
        uri.path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/webhooks/sms")
    );
    let signature = headers
        .get("x-twilio-signature")
        .and_then(|v| v.to_str().ok());
    if !verify_twilio_signature(&settings.sms.auth_token, &url, &params, signature) {
        return unsigned().into_response();
    }
    let webhook = ReceivedWebhook {
        body: String::from_utf8_lossy(&body).into_owned(),
        signature: signature.map(str::to_owned),
        signed_url: Some(url),
    };
    match inbound::apply_sms(&state, webhook).await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => e.into_response(),
    }
}
