//! Consent of a contact's number:
//! - `POST /contacts/{id}/opt-in`: send the opt-in request (`Idempotency-Key` honoured);
//! - `POST /contacts/{id}/opt-in/resend`: resend after 24 h without an answer (409 before);
//! - `GET /contacts/{id}/opt-in/preview`: the request exactly as the contact would receive it;
//! - `GET /contacts/{id}/consent`: the state, `resend_allowed_at` and the server's now;
//! - `GET /contacts/{id}/consent/record?format=jsonl|csv|json`: the contact's consent record;
//! - `GET /consent/export?format=jsonl|csv`: the organization's whole record (compliance and admins only).

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::{stream, StreamExt};
use optin_core::api::{ConsentSnapshot, OptInPreview};
use optin_core::vocab::AccessKind;
use serde::Deserialize;

use crate::auth::{Advisor, Sender, Supervisor};
use crate::error::{ApiPath, ApiQuery, AppError, AppResult};
use crate::services::log_access;
use crate::services::optin::{self, OptInRequest, RequestKind};
use crate::store::auth::AdvisorIdentity;
use crate::store::evidence::{csv_line, jsonl_line, EvidenceRow, CSV_HEADER};
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
        (status = 429, description = "Too many sends by this advisor or organization (`rate_limited`); `Retry-After` in seconds.", body = optin_core::api::ErrorBody),
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
        (status = 429, description = "Too many sends by this advisor or organization (`rate_limited`); `Retry-After` in seconds.", body = optin_core::api::ErrorBody),
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
    state
        .limits
        .check_send(advisor.advisor_id, advisor.organization_id)?;
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

/// The formats a record downloads in.
#[derive(Debug, Clone, Copy)]
enum RecordFormat {
    /// One JSON array.
    Json,
    /// One JSON object per line.
    Jsonl,
    /// RFC 4180 CSV with a header line.
    Csv,
}

impl RecordFormat {
    const ALL: [Self; 3] = [Self::Json, Self::Jsonl, Self::Csv];

    /// The name `format` takes.
    fn name(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Jsonl => "jsonl",
            Self::Csv => "csv",
        }
    }

    fn parse(text: &str) -> AppResult<Self> {
        Self::ALL
            .into_iter()
            .find(|format| format.name() == text)
            .ok_or_else(|| AppError::Invalid {
                code: "invalid_format",
                field: "format",
                message: "Choose format json, jsonl or csv.".into(),
            })
    }

    /// Content type, and the file extension when it downloads as an attachment.
    fn content(self) -> (&'static str, Option<&'static str>) {
        match self {
            Self::Json => ("application/json", None),
            Self::Jsonl => ("application/x-ndjson", Some("jsonl")),
            Self::Csv => ("text/csv; charset=utf-8", Some("csv")),
        }
    }

    /// What comes before the first row, between rows and after the last.
    fn frame(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Self::Json => ("[", ",", "]"),
            Self::Jsonl => ("", "", ""),
            Self::Csv => (CSV_HEADER, "", ""),
        }
    }

    fn row(self, row: &EvidenceRow) -> String {
        match self {
            Self::Json => serde_json::to_string(row).expect("rows serialize"),
            Self::Jsonl => jsonl_line(row),
            Self::Csv => csv_line(row),
        }
    }
}

/// The consent record of a number (or of the whole organization) as a
/// download, streamed row by row from the database (memory stays flat
/// however long the record), one of the few downloads allowed at once.
pub async fn record_download(
    state: &AppState,
    person: &AdvisorIdentity,
    phone: Option<&str>,
    query: &RecordQuery,
) -> AppResult<Response> {
    let organization_id = person.organization_id;
    let default = if phone.is_some() { "json" } else { "jsonl" };
    let format = RecordFormat::parse(query.format.as_deref().unwrap_or(default))?;
    let permit = state.limits.export_permit()?;
    let (content_type, extension) = format.content();
    // An attachment leaves the app: an export, logged. Plain JSON is what the
    // app itself shows (an advisor's consent history), not a download.
    if extension.is_some() {
        let kind = match phone {
            Some(_) => AccessKind::RecordExported,
            None => AccessKind::OrganizationExported,
        };
        let detail = format!("consent record as {}", format.name());
        log_access(state, person, kind, phone, Some(detail)).await?;
    }
    let name = match phone {
        Some(phone) => format!("consent-record-{}", phone.trim_start_matches('+')),
        None => "consent-record".to_owned(),
    };
    let (open, between, close) = format.frame();
    let rows = state
        .store
        .evidence_stream(organization_id, phone.map(str::to_owned), None)
        .enumerate()
        .map(move |(i, row)| {
            let row = row.map_err(|e| {
                // The status line is gone: the body is cut short, never completed wrongly.
                tracing::error!(error = %e, "consent record download failed");
                std::io::Error::other("the consent record could not be read")
            })?;
            let separator = if i == 0 { "" } else { between };
            Ok::<_, std::io::Error>(Bytes::from(separator.to_owned() + &format.row(&row)))
        });
    let body = stream::once(async move { Ok(Bytes::from_static(open.as_bytes())) })
        .chain(rows)
        .chain(stream::once(async move {
            // The download's place is freed when the body ends (or is dropped).
            drop(permit);
            Ok(Bytes::from_static(close.as_bytes()))
        }));
    let mut response = Body::from_stream(body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Some(extension) = extension {
        let disposition = format!("attachment; filename=\"{name}.{extension}\"");
        headers.insert(
            header::CONTENT_DISPOSITION,
            HeaderValue::from_str(&disposition).expect("names are digits and dashes"),
        );
    }
    Ok(response)
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
        (status = 503, description = "Other downloads are streaming (`exports_busy`); `Retry-After` in seconds.", body = optin_core::api::ErrorBody),
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
    record_download(&state, &advisor, Some(&contact.phone), &query).await
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
        (status = 503, description = "Other downloads are streaming (`exports_busy`); `Retry-After` in seconds.", body = optin_core::api::ErrorBody),
    ),
)]
async fn export(
    State(state): State<AppState>,
    Supervisor(supervisor): Supervisor,
    ApiQuery(query): ApiQuery<RecordQuery>,
) -> AppResult<Response> {
    record_download(&state, &supervisor, None, &query).await
}
