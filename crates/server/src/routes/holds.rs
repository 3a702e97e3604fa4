//! Legal holds (see `crate::services::retention`):
//! - `GET /compliance/holds`: the organization's holds and retention (compliance, admin);
//! - `POST /compliance/holds`: holds a number, or the whole organization (compliance);
//! - `POST /compliance/holds/{id}/release`: ends a hold (compliance).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use optin_core::compliance::{LegalHold, NewLegalHold, Retention};

use crate::auth::{ComplianceOfficer, Supervisor};
use crate::error::{ApiJson, ApiPath, AppResult};
use crate::services::retention;
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/compliance/holds", get(holds).post(place))
        .route("/compliance/holds/{id}/release", post(release))
}

#[utoipa::path(
    get,
    path = "/api/v1/compliance/holds",
    tag = "compliance",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "How long the organization keeps messages, and its legal holds: active ones first, then released ones, newest first.", body = optin_core::compliance::Retention),
        (status = 403, description = "The person is an advisor, not compliance or an admin (`compliance_role_required`).", body = optin_core::api::ErrorBody),
    ),
)]
async fn holds(
    State(state): State<AppState>,
    Supervisor(me): Supervisor,
) -> AppResult<Json<Retention>> {
    let org = me.organization_id;
    Ok(Json(Retention {
        retention_months: state.store.retention_months(org).await?,
        holds: state.store.legal_holds(org).await?,
    }))
}

#[utoipa::path(
    post,
    path = "/api/v1/compliance/holds",
    description = "Places a legal hold: nothing it covers is purged, however old, until it is released.",
    tag = "compliance",
    security(("bearer" = [])),
    request_body = optin_core::compliance::NewLegalHold,
    responses(
        (status = 201, description = "The hold, active.", body = optin_core::compliance::LegalHold),
        (status = 403, description = "The person is not compliance (`compliance_role_required`).", body = optin_core::api::ErrorBody),
        (status = 422, description = "No reason, a reason too long, or a number that is not one (`invalid_reason`, `invalid_phone`).", body = optin_core::api::ErrorBody),
    ),
)]
async fn place(
    State(state): State<AppState>,
    ComplianceOfficer(officer): ComplianceOfficer,
    ApiJson(new): ApiJson<NewLegalHold>,
) -> AppResult<(StatusCode, Json<LegalHold>)> {
    let hold = retention::place_hold(&state, &officer, &new).await?;
    Ok((StatusCode::CREATED, Json(hold)))
}

#[utoipa::path(
    post,
    path = "/api/v1/compliance/holds/{id}/release",
    tag = "compliance",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The hold's id.")),
    responses(
        (status = 200, description = "The hold, released: what it covered may be purged once past retention.", body = optin_core::compliance::LegalHold),
        (status = 403, description = "The person is not compliance (`compliance_role_required`).", body = optin_core::api::ErrorBody),
        (status = 404, description = "No such hold in the organization (`not_found`).", body = optin_core::api::ErrorBody),
        (status = 409, description = "It was released already (`hold_already_released`).", body = optin_core::api::ErrorBody),
    ),
)]
async fn release(
    State(state): State<AppState>,
    ComplianceOfficer(officer): ComplianceOfficer,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<LegalHold>> {
    Ok(Json(retention::release_hold(&state, &officer, id).await?))
}
