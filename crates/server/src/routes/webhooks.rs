//! Provider webhooks (not under `/api/v1`: providers sign, they do not log in):
//! - `GET /webhooks/whatsapp`: Meta's verification handshake;
//! - `POST /webhooks/whatsapp`: messages and statuses, `X-Hub-Signature-256` verified;
//! - `POST /webhooks/sms`: inbound SMS and status callbacks, `X-Twilio-Signature` verified.
//!
//! A bad or missing signature gets 401 and nothing is stored. A verified
//! webhook is applied in one transaction, each item once (re-deliveries are
//! acknowledged and skipped), then acknowledged.

use axum::body::Bytes;
use axum::extract::{OriginalUri, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use optin_core::keywords::{classify, Keyword};
use optin_core::sms::SmsStatus;
use optin_core::whatsapp::{WebhookEnvelope, MESSAGES_FIELD};
use serde::Deserialize;
use serde_json::json;

use crate::error::{AppError, AppResult};
use crate::flow::{self, WebhookSource, Work};
use crate::providers::signature::{verify_meta_signature, verify_twilio_signature};
use crate::providers::sms::SmsWebhook;
use crate::store::consent::{self as rows, NewMessage};
use crate::store::evidence::{timestamp, NewEvidence};
use crate::AppState;

/// Largest webhook body read (Meta batches are small; this bounds abuse).
const MAX_WEBHOOK_BYTES: usize = 1024 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/whatsapp", get(handshake).post(whatsapp))
        .route("/sms", post(sms))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_WEBHOOK_BYTES))
}

#[derive(Deserialize)]
struct Handshake {
    #[serde(rename = "hub.mode")]
    mode: Option<String>,
    #[serde(rename = "hub.verify_token")]
    verify_token: Option<String>,
    #[serde(rename = "hub.challenge")]
    challenge: Option<String>,
}

async fn handshake(State(state): State<AppState>, Query(query): Query<Handshake>) -> Response {
    let expected = &state.providers.settings.verify_token;
    let token_ok = query
        .verify_token
        .as_deref()
        .is_some_and(|token| constant_time_eq(token.as_bytes(), expected.as_bytes()));
    match (query.mode.as_deref(), token_ok, query.challenge) {
        (Some("subscribe"), true, Some(challenge)) => (StatusCode::OK, challenge).into_response(),
        _ => StatusCode::FORBIDDEN.into_response(),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn unsigned() -> Response {
    tracing::warn!("webhook refused: bad or missing signature");
    AppError::Unauthorized.into_response()
}

async fn whatsapp(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let signature = headers
        .get("x-hub-signature-256")
        .and_then(|v| v.to_str().ok());
    if !verify_meta_signature(&state.providers.settings.app_secret, &body, signature) {
        return unsigned();
    }
    let Ok(envelope) = serde_json::from_slice::<WebhookEnvelope>(&body) else {
        return AppError::MalformedBody("The webhook body is not a WhatsApp webhook.".into())
            .into_response();
    };
    let raw = String::from_utf8_lossy(&body);
    match apply_whatsapp(&state, &envelope, &raw).await {
        Ok(()) => StatusCode::OK.into_response(),
        // Not acknowledged, so the provider delivers it again later.
        Err(e) => e.into_response(),
    }
}

async fn apply_whatsapp(state: &AppState, envelope: &WebhookEnvelope, raw: &str) -> AppResult<()> {
    let mut work = Work::begin(state).await?;
    for change in envelope
        .entry
        .iter()
        .flat_map(|e| &e.changes)
        .filter(|c| c.field == MESSAGES_FIELD)
    {
        let value = &change.value;
        let org: Option<i64> =
            sqlx::query_scalar("SELECT id FROM organizations WHERE whatsapp_phone_number_id = $1")
                .bind(&value.metadata.phone_number_id)
                .fetch_optional(&mut *work.tx)
                .await?;
        let Some(org) = org else {
            tracing::warn!(
                phone_number_id = value.metadata.phone_number_id,
                "webhook for a number no organization uses"
            );
            continue;
        };
        for status in &value.statuses {
            let key = format!("wa:status:{}:{}", status.id, status.status.as_str());
            if !rows::first_receipt(&mut work.tx, &key, work.now).await? {
                continue;
            }
            let source = WebhookSource {
                raw_body: raw,
                provider_time: status.at(),
            };
            if !flow::apply_status(&mut work, status, &source).await? {
                sqlx::query(
                    "INSERT INTO parked_statuses (provider_message_id, status_json, raw_body, received_at) VALUES ($1, $2, $3, $4)",
                )
                .bind(&status.id)
                .bind(serde_json::to_string(status).expect("statuses serialize"))
                .bind(raw)
                .bind(timestamp(work.now))
                .execute(&mut *work.tx)
                .await?;
            }
        }
        for message in &value.messages {
            if !rows::first_receipt(&mut work.tx, &format!("wa:msg:{}", message.id), work.now)
                .await?
            {
                continue;
            }
            let source = WebhookSource {
                raw_body: raw,
                provider_time: message.sent_at(),
            };
            flow::apply_inbound(&mut work, org, message, &source).await?;
        }
    }
    work.commit(state).await
}

async fn sms(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Ok((webhook, params)) = SmsWebhook::parse(&body) else {
        return AppError::MalformedBody("The webhook body is not an SMS webhook.".into())
            .into_response();
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
        return unsigned();
    }
    let raw = String::from_utf8_lossy(&body);
    match apply_sms(&state, webhook, &raw).await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => e.into_response(),
    }
}

fn sms_status(status: SmsStatus) -> Option<&'static str> {
    match status {
        SmsStatus::Sent => Some("sent"),
        SmsStatus::Delivered => Some("delivered"),
        SmsStatus::Read => Some("read"),
        SmsStatus::Failed | SmsStatus::Undelivered => Some("failed"),
        _ => None,
    }
}

async fn apply_sms(state: &AppState, webhook: SmsWebhook, raw: &str) -> AppResult<()> {
    let mut work = Work::begin(state).await?;
    match webhook {
        SmsWebhook::Status(status) => {
            let key = format!(
                "sms:status:{}:{}",
                status.message_sid,
                status.message_status.as_str()
            );
            if rows::first_receipt(&mut work.tx, &key, work.now).await? {
                if let (Some(message), Some(new_status)) = (
                    rows::message_by_provider_id(&mut work.tx, &status.message_sid).await?,
                    sms_status(status.message_status),
                ) {
                    let forward =
                        flow::status_rank(new_status) > flow::status_rank(&message.status);
                    if forward {
                        let error = status.error_code.map(|c| (c, "SMS not delivered"));
                        rows::set_message_status(
                            &mut work.tx,
                            message.id,
                            new_status,
                            error,
                            work.now,
                        )
                        .await?;
                    }
                    let kind = if new_status == "failed" {
                        "sms_failed"
                    } else {
                        "sms_status"
                    };
                    let detail = json!({"message_id": message.id, "provider_message_id": status.message_sid, "status": new_status, "error_code": status.error_code, "applied": forward});
                    let evidence = NewEvidence::new(
                        message.organization_id,
                        &message.phone_e164,
                        message.advisor_id,
                        kind,
                        "provider",
                        detail,
                        work.now,
                    );
                    work.record(evidence.from_webhook(raw, None)).await?;
                }
            }
        }
        SmsWebhook::Inbound(inbound) => {
            let org: Option<i64> =
                sqlx::query_scalar("SELECT id FROM organizations WHERE sms_number = $1")
                    .bind(&inbound.to)
                    .fetch_optional(&mut *work.tx)
                    .await?;
            let key = format!("sms:msg:{}", inbound.message_sid);
            if let Some(org) = org {
                if rows::first_receipt(&mut work.tx, &key, work.now).await? {
                    apply_sms_inbound(&mut work, org, &inbound, raw).await?;
                }
            } else {
                tracing::warn!(to = inbound.to, "SMS for a number no organization uses");
            }
        }
    }
    work.commit(state).await
}

/// Inbound SMS: STOP and START (the carriers' reserved keywords) switch SMS off and on.
async fn apply_sms_inbound(
    work: &mut Work,
    org: i64,
    inbound: &optin_core::sms::SmsInbound,
    raw: &str,
) -> AppResult<()> {
    let phone = inbound.from.clone();
    let mut record = rows::load(&mut work.tx, org, &phone).await?;
    let kind = match classify(&inbound.body) {
        Some(Keyword::OptOut) => {
            record.sms_opted_out = true;
            "sms_opt_out"
        }
        Some(Keyword::OptIn) => {
            record.sms_opted_out = false;
            "sms_opt_in"
        }
        _ => "sms_in",
    };
    rows::save(&mut work.tx, org, &phone, &record, work.now).await?;
    rows::insert_message(
        &mut work.tx,
        NewMessage {
            organization_id: org,
            phone: &phone,
            channel: "sms",
            direction: "in",
            purpose: "message",
            advisor_id: None,
            opt_in_request_id: None,
            template: None,
            body: &inbound.body,
            provider_message_id: Some(&inbound.message_sid),
            status: "received",
        },
        work.now,
    )
    .await?;
    let detail = json!({"provider_message_id": inbound.message_sid, "text": inbound.body, "sms_opted_out": record.sms_opted_out});
    let evidence = NewEvidence::new(org, phone, None, kind, "contact", detail, work.now);
    work.record(evidence.from_webhook(raw, None)).await?;
    Ok(())
}
