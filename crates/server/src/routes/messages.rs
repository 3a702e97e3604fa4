//! Messages with a contact:
//! - `GET /contacts/{id}/messages`: the advisor's own conversation with the number, both
//!   ways, both channels (another advisor's messages with the same number stay theirs);
//! - `POST /contacts/{id}/messages`: WhatsApp (template, or free text inside the window), opted-in only;
//! - `POST /contacts/{id}/sms`: SMS, refused after STOP;
//! - `GET /templates`: the organization's approved templates for messages.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use optin_core::api::{MessageView, OutgoingMessage, OutgoingSms, TemplateView};

use crate::auth::{Advisor, Sender};
use crate::error::{ApiJson, ApiPath, AppError, AppResult};
use crate::services::sending;
use crate::store::messages::ConversationOf;
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/contacts/{id}/messages", get(conversation).post(send))
        .route("/contacts/{id}/sms", post(send_sms))
        .route("/templates", get(templates))
}

#[utoipa::path(
    get,
    path = "/api/v1/contacts/{id}/messages",
    tag = "advisor",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Contact id.")),
    responses(
        (status = 200, description = "The conversation with the contact's number, both ways, both channels, oldest first.", body = Vec<optin_core::api::MessageView>),
        (status = 404, description = "No such contact of this advisor (`not_found`).", body = optin_core::api::ErrorBody),
    ),
)]
async fn conversation(
    State(state): State<AppState>,
    Advisor(advisor): Advisor,
    ApiPath(id): ApiPath<i64>,
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

#[utoipa::path(
    post,
    path = "/api/v1/contacts/{id}/messages",
    tag = "advisor",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Contact id.")),
    request_body = optin_core::api::OutgoingMessage,
    responses(
        (status = 202, description = "The WhatsApp message is queued.", body = crate::openapi::Queued),
        (status = 403, description = "WhatsApp is turned off for the organization (`whatsapp_disabled`), or the person is not an advisor: a compliance officer, who only reads (`read_only_role`), or an admin, who provisions (`advisor_role_required`).", body = optin_core::api::ErrorBody),
        (status = 404, description = "No such contact of this advisor (`not_found`).", body = optin_core::api::ErrorBody),
        (status = 409, description = "The number has not opted in, or free text outside the 24-hour service window (`not_opted_in`, `outside_service_window`).", body = optin_core::api::ErrorBody),
        (status = 422, description = "An empty or too long text, an unknown template or the wrong number of parameters (`invalid_text`, `unknown_template`, `template_parameters`).", body = optin_core::api::ErrorBody),
        (status = 429, description = "Too many sends by this advisor or organization (`rate_limited`); `Retry-After` in seconds.", body = optin_core::api::ErrorBody),
    ),
)]
async fn send(
    State(state): State<AppState>,
    Sender(advisor): Sender,
    ApiPath(id): ApiPath<i64>,
    ApiJson(message): ApiJson<OutgoingMessage>,
) -> AppResult<(StatusCode, Json<serde_json::Value>)> {
    state
        .limits
        .check_send(advisor.advisor_id, advisor.organization_id)?;
    let id = sending::send_whatsapp(&state, &advisor, id, message).await?;
    Ok((StatusCode::ACCEPTED, Json(serde_json::json!({ "id": id }))))
}

#[utoipa::path(
    post,
    path = "/api/v1/contacts/{id}/sms",
    tag = "advisor",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Contact id.")),
    request_body = optin_core::api::OutgoingSms,
    responses(
        (status = 202, description = "The SMS is queued.", body = crate::openapi::Queued),
        (status = 403, description = "The person is not an advisor: a compliance officer, who only reads (`read_only_role`), or an admin, who provisions (`advisor_role_required`); or the number is in a country the organization does not send SMS to (`sms_country_not_allowed`).", body = optin_core::api::ErrorBody),
        (status = 404, description = "No such contact of this advisor (`not_found`).", body = optin_core::api::ErrorBody),
        (status = 409, description = "The contact sent STOP (`sms_opted_out`).", body = optin_core::api::ErrorBody),
        (status = 422, description = "An empty or too long text (`invalid_text`).", body = optin_core::api::ErrorBody),
        (status = 429, description = "Too many sends by this advisor or organization (`rate_limited`); `Retry-After` in seconds.", body = optin_core::api::ErrorBody),
    ),
)]
async fn send_sms(
    State(state): State<AppState>,
    Sender(advisor): Sender,
    ApiPath(id): ApiPath<i64>,
    ApiJson(sms): ApiJson<OutgoingSms>,
) -> AppResult<(StatusCode, Json<serde_json::Value>)> {
    state
        .limits
        .check_send(advisor.advisor_id, advisor.organization_id)?;
    let id = sending::send_sms(&state, &advisor, id, sms).await?;
    Ok((StatusCode::ACCEPTED, Json(serde_json::json!({ "id": id }))))
}

#[utoipa::path(
    get,
    path = "/api/v1/templates",
    tag = "advisor",
    security(("bearer" = [])),
    responses((status = 200, description = "The organization's approved templates for messages.", body = Vec<optin_core::api::TemplateView>)),
)]
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
