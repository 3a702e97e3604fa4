//! Messages with a contact:
//! - `GET /contacts/{id}/messages`: the advisor's own conversation with the number, both
//!   ways, both channels (another advisor's messages with the same number stay theirs);
//! - `POST /contacts/{id}/messages`: WhatsApp (template, or free text inside the window), opted-in only;
//! - `POST /contacts/{id}/sms`: SMS, refused after STOP;
//! - `GET /templates`: the organization's approved templates for messages.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use optin_core::api::{MessageView, OutgoingMessage, OutgoingSms, TemplateView};

use crate::auth::{Advisor, Sender};
use crate::error::{ApiJson, AppError, AppResult};
use crate::services::sending;
use crate::store::messages::ConversationOf;
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/contacts/{id}/messages", get(conversation).post(send))
        .route("/contacts/{id}/sms", post(send_sms))
        .route("/templates", get(templates))
}

async fn conversation(
    State(state): State<AppState>,
    Advisor(advisor): Advisor,
    Path(id): Path<i64>,
) -> AppResult<Json<Vec<MessageView>>> {
    let contact = state
        .store
        .contact(advisor.advisor_id, id, state.clock.now())
        .await?
        .ok_or(AppError::NotFound("That contact"))?;
    Ok(Json(
        state
            .store
            .conversation(
                advisor.organization_id,
                &contact.phone,
                ConversationOf::Advisor(advisor.advisor_id),
            )
            .await?,
    ))
}

async fn send(
    State(state): State<AppState>,
    Sender(advisor): Sender,
    Path(id): Path<i64>,
    ApiJson(message): ApiJson<OutgoingMessage>,
) -> AppResult<(StatusCode, Json<serde_json::Value>)> {
    let id = sending::send_whatsapp(&state, &advisor, id, message).await?;
    Ok((StatusCode::ACCEPTED, Json(serde_json::json!({ "id": id }))))
}

async fn send_sms(
    State(state): State<AppState>,
    Sender(advisor): Sender,
    Path(id): Path<i64>,
    ApiJson(sms): ApiJson<OutgoingSms>,
) -> AppResult<(StatusCode, Json<serde_json::Value>)> {
    let id = sending::send_sms(&state, &advisor, id, sms).await?;
    Ok((StatusCode::ACCEPTED, Json(serde_json::json!({ "id": id }))))
}

async fn templates(
    State(state): State<AppState>,
    Advisor(advisor): Advisor,
) -> AppResult<Json<Vec<TemplateView>>> {
    let rows = state.store.templates(advisor.organization_id).await?;
    Ok(Json(
        rows.into_iter()
            .filter(|t| t.purpose == "message")
            .map(TemplateView::from)
            .collect(),
    ))
}
