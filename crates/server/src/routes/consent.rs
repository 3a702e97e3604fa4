//! Consent of a contact's number:
//! - `POST /contacts/{id}/opt-in`: send the opt-in request (`Idempotency-Key` honoured);
//! - `POST /contacts/{id}/opt-in/resend`: resend after 24 h without an answer (409 before);
//! - `GET /contacts/{id}/opt-in/preview`: the request exactly as the contact would receive it;
//! - `GET /contacts/{id}/consent`: the state, `resend_allowed_at` and the server's now;
//! - `GET /contacts/{id}/consent/record?format=jsonl|csv|json`: the contact's consent record;
//! - `GET /consent/export?format=jsonl|csv`: the organization's whole record (compliance and admins only).

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use optin_core::api::{ConsentSnapshot, OptInPreview};
use serde::Deserialize;

use crate::auth::{Advisor, Sender, Supervisor};
use crate::error::{ApiPath, ApiQuery, AppError, AppResult};
use crate::services::optin::{self, OptInRequest, RequestKind};
use crate::store::auth::AdvisorIdentity;
use crate::store::evidence::{to_csv, EvidenceRow};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/contacts/{id}/opt-in", post(request))
        .route("/contacts/{id}/opt-in/resend", post(resend))
        .route("/contacts/{id}/opt-in/preview", get(preview))
        .route("/contacts/{id}/consent", get(consent))
        .route("/contacts/{id}/consent/record", get(record))
        .route("/consent/export", get(export))
}

fn idempotency_key(headers: &HeaderMap) -> AppResult<Option<String>> {
    match headers.get("idempotency-key") {
        None => Ok(None),
        Some(value) => value
            .to_str()
            .ok()
            .map(str::trim)
            .filter(|key| !key.is_empty() && key.len() <= 200)
            .map(|key| Some(key.to_owned()))
            .ok_or(AppError::Invalid {
                code: "invalid_idempotency_key",
                field: "Idempotency-Key",
                message: "The Idempotency-Key header must be 1 to 200 visible characters.".into(),
            }),
    }
}

#[utoipa::path(
    post,
    path = "/api/v1/contacts/{id}/opt-in",
    tag = "advisor",
    security(("bearer" = [])),
    params(
        ("id" = i64, Path, description = "Contact id."),
        ("Idempotency-Key" = Option<String>, Header, description = "1 to 200 visible characters; a repeat with the same key changes nothing and answers the current state."),
    ),
    responses(
        (status = 202, description = "The request is queued to WhatsApp; the number's consent as it now stands.", body = optin_core::api::ConsentSnapshot),
        (status = 403, description = "WhatsApp is turned off for the organization (`whatsapp_disabled`), or the person is not an advisor: a compliance officer, who only reads (`read_only_role`), or an admin, who provisions (`advisor_role_required`).", body = optin_core::api::ErrorBody),
        (status = 404, description = "No such contact of this advisor (`not_found`).", body = optin_core::api::ErrorBody),
        (status = 409, description = "The consent rules refuse it now (`already_opted_in`, `request_in_flight`, `contact_opted_out`, `resend_too_soon`, `not_allowed_now`); `allowed_at` tells when a refusal in time lapses.", body = optin_core::api::ErrorBody),
        (status = 422, description = "An invalid Idempotency-Key (`invalid_idempotency_key`).", body = optin_core::api::ErrorBody),
    ),
)]
async fn request(
    State(state): State<AppState>,
    Sender(advisor): Sender,
    ApiPath(id): ApiPath<i64>,
    headers: HeaderMap,
) -> AppResult<(StatusCode, Json<ConsentSnapshot>)> {
    send(&state, &advisor, id, &headers, RequestKind::First).await
}

#[utoipa::path(
    post,
    path = "/api/v1/contacts/{id}/opt-in/resend",
    description = "Resends the opt-in request after 24 hours without an answer; before that it is refused with `resend_too_soon` and `allowed_at`.",
    tag = "advisor",
    security(("bearer" = [])),
    params(
        ("id" = i64, Path, description = "Contact id."),
        ("Idempotency-Key" = Option<String>, Header, description = "1 to 200 visible characters; a repeat with the same key changes nothing and answers the current state."),
    ),
    responses(
        (status = 202, description = "The request is queued to WhatsApp; the number's consent as it now stands.", body = optin_core::api::ConsentSnapshot),
        (status = 403, description = "WhatsApp is turned off for the organization (`whatsapp_disabled`), or the person is not an advisor: a compliance officer, who only reads (`read_only_role`), or an admin, who provisions (`advisor_role_required`).", body = optin_core::api::ErrorBody),
        (status = 404, description = "No such contact of this advisor (`not_found`).", body = optin_core::api::ErrorBody),
        (status = 409, description = "The consent rules refuse it now (`already_opted_in`, `request_in_flight`, `contact_opted_out`, `resend_too_soon`, `not_allowed_now`); `allowed_at` tells when a refusal in time lapses.", body = optin_core::api::ErrorBody),
        (status = 422, description = "An invalid Idempotency-Key (`invalid_idempotency_key`).", body = optin_core::api::ErrorBody),
    ),
)]
async fn resend(
    State(state): State<AppState>,
    Sender(advisor): Sender,
    ApiPath(id): ApiPath<i64>,
    headers: HeaderMap,
) -> AppResult<(StatusCode, Json<ConsentSnapshot>)> {
    send(&state, &advisor, id, &headers, RequestKind::Resend).await
}

#[utoipa::path(
    get,
    path = "/api/v1/contacts/{id}/opt-in/preview",
    description = "The opt-in request as the contact would receive it if the advisor confirmed now: the organization's opt-in template in the contact's language (else in the organization's default language), rendered with the advisor's and the organization's names. The confirm dialog shows this text.",
    tag = "advisor",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Contact id.")),
    responses(
        (status = 200, description = "The rendered request, its language and template.", body = optin_core::api::OptInPreview),
        (status = 404, description = "No such contact of this advisor (`not_found`).", body = optin_core::api::ErrorBody),
        (status = 409, description = "The organization has no opt-in template (`no_opt_in_template`), or neither the template in the contact's language nor the alternate may be sent now (`template_unavailable`).", body = optin_core::api::ErrorBody),
    ),
)]
async fn preview(
    State(state): State<AppState>,
    Advisor(advisor): Advisor,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<OptInPreview>> {
    Ok(Json(optin::preview_opt_in(&state, &advisor, id).await?))
}

async fn send(
    state: &AppState,
    advisor: &AdvisorIdentity,
    id: i64,
    headers: &HeaderMap,
    kind: RequestKind,
) -> AppResult<(StatusCode, Json<ConsentSnapshot>)> {
    let key = idempotency_key(headers)?;
    let request = OptInRequest {
        contact_id: id,
        kind,
        idempotency_key: key.as_deref(),
    };
    let snapshot = optin::request_opt_in(state, advisor, request).await?;
    Ok((StatusCode::ACCEPTED, Json(snapshot)))
}

#[utoipa::path(
    get,
    path = "/api/v1/contacts/{id}/consent",
    tag = "advisor",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Contact id.")),
    responses(
        (status = 200, description = "Where the number's consent stands, with the server's clock.", body = optin_core::api::ConsentSnapshot),
        (status = 404, description = "No such contact of this advisor (`not_found`).", body = optin_core::api::ErrorBody),
    ),
)]
async fn consent(
    State(state): State<AppState>,
    Advisor(advisor): Advisor,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<ConsentSnapshot>> {
    Ok(Json(optin::contact_consent(&state, &advisor, id).await?))
}

/// `?format=json|jsonl|csv` of a record download.
#[derive(Deserialize)]
pub struct RecordQuery {
    format: Option<String>,
}

/// The consent record of a number (or of the whole organization) as a download.
pub async fn record_download(
    state: &AppState,
    organization_id: i64,
    phone: Option<&str>,
    query: &RecordQuery,
) -> AppResult<Response> {
    let rows = state.store.evidence(organization_id, phone).await?;
    let name = match phone {
        Some(phone) => format!("consent-record-{}", phone.trim_start_matches('+')),
        None => "consent-record".to_owned(),
    };
    let default = if phone.is_some() { "json" } else { "jsonl" };
    render(
        rows,
        Some(query.format.as_deref().unwrap_or(default)),
        &name,
    )
}

/// Renders evidence as JSON (array), JSON lines or CSV.
fn render(rows: Vec<EvidenceRow>, format: Option<&str>, name: &str) -> AppResult<Response> {
    let attachment = |ext: &str| format!("attachment; filename=\"{name}.{ext}\"");
    Ok(match format.unwrap_or("json") {
        "json" => Json(rows).into_response(),
        "jsonl" => {
            let mut body = String::new();
            for row in &rows {
                body.push_str(&serde_json::to_string(row).expect("rows serialize"));
                body.push('\n');
            }
            (
                [
                    (header::CONTENT_TYPE, "application/x-ndjson".to_owned()),
                    (header::CONTENT_DISPOSITION, attachment("jsonl")),
                ],
                body,
            )
                .into_response()
        }
        "csv" => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                (header::CONTENT_DISPOSITION, attachment("csv")),
            ],
            to_csv(&rows),
        )
            .into_response(),
        _ => {
            return Err(AppError::Invalid {
                code: "invalid_format",
                field: "format",
                message: "Choose format json, jsonl or csv.".into(),
            })
        }
    })
}

#[utoipa::path(
    get,
    path = "/api/v1/contacts/{id}/consent/record",
    tag = "advisor",
    security(("bearer" = [])),
    params(
        ("id" = i64, Path, description = "Contact id."),
        ("format" = Option<String>, Query, description = "`json` (default), `jsonl` or `csv`."),
    ),
    responses(
        (status = 200, description = "Every consent-record event about the contact's number: JSON array, JSON lines or CSV as `format` asks (JSON lines and CSV as attachments).", content(
            (Vec<crate::store::evidence::EvidenceRow> = "application/json"),
            (String = "application/x-ndjson"),
            (String = "text/csv"),
        )),
        (status = 422, description = "An unknown `format` (`invalid_format`).", body = optin_core::api::ErrorBody),
        (status = 404, description = "No such contact of this advisor (`not_found`).", body = optin_core::api::ErrorBody),
    ),
)]
async fn record(
    State(state): State<AppState>,
    Advisor(advisor): Advisor,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(query): ApiQuery<RecordQuery>,
) -> AppResult<Response> {
    let contact = state
        .store
        .contact(advisor.advisor_id, id, state.clock.now())
        .await?
        .ok_or(AppError::NotFound("That contact"))?;
    record_download(
        &state,
        advisor.organization_id,
        Some(&contact.phone),
        &query,
    )
    .await
}

#[utoipa::path(
    get,
    path = "/api/v1/consent/export",
    tag = "compliance",
    security(("bearer" = [])),
    params(("format" = Option<String>, Query, description = "`jsonl` (default), `csv` or `json`.")),
    responses(
        (status = 200, description = "The organization's whole consent record: JSON array, JSON lines or CSV as `format` asks (JSON lines and CSV as attachments).", content(
            (Vec<crate::store::evidence::EvidenceRow> = "application/json"),
            (String = "application/x-ndjson"),
            (String = "text/csv"),
        )),
        (status = 403, description = "The person is an advisor, not compliance or an admin (`compliance_role_required`).", body = optin_core::api::ErrorBody),
        (status = 422, description = "An unknown `format` (`invalid_format`).", body = optin_core::api::ErrorBody),
    ),
)]
async fn export(
    State(state): State<AppState>,
    Supervisor(supervisor): Supervisor,
    ApiQuery(query): ApiQuery<RecordQuery>,
) -> AppResult<Response> {
    record_download(&state, supervisor.organization_id, None, &query).await
}
