//! Revocations given by other means, and messages flagged as possible
//! requests to stop. An advisor acts on their own contacts, compliance on
//! any number of the organization; both answer the number's consent as it
//! now stands:
//! - `POST /contacts/{id}/revocations`: record a revocation (advisor);
//! - `POST /contacts/{id}/stop-flags/resolve`: decide a flagged message (advisor);
//! - `POST /compliance/numbers/{phone}/revocations`: record a revocation (compliance);
//! - `POST /compliance/numbers/{phone}/stop-flags/resolve`: decide a flagged message (compliance);
//! - `GET /compliance/stop-flags`: the organization's open flags (compliance and admins).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use optin_core::api::{ConsentSnapshot, NewRevocation, ResolveStopFlag, StopFlag};

use crate::auth::{ComplianceOfficer, Sender, Supervisor};
use crate::error::{ApiJson, ApiPath, AppResult};
use crate::services::revocation::{self, Target};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/contacts/{id}/revocations", post(record_for_contact))
        .route(
            "/contacts/{id}/stop-flags/resolve",
            post(resolve_for_contact),
        )
        .route(
            "/compliance/numbers/{phone}/revocations",
            post(record_for_number),
        )
        .route(
            "/compliance/numbers/{phone}/stop-flags/resolve",
            post(resolve_for_number),
        )
        .route("/compliance/stop-flags", get(open_flags))
}

#[utoipa::path(
    post,
    path = "/api/v1/contacts/{id}/revocations",
    description = "Records a revocation the contact gave by phone, e-mail, in person or otherwise. Binding for the whole organization at once: WhatsApp consent becomes `opted_out` and SMS is switched off, with evidence naming who recorded it.",
    tag = "advisor",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Contact id.")),
    request_body = optin_core::api::NewRevocation,
    responses(
        (status = 201, description = "Recorded; the number's consent as it now stands, with the revocation.", body = optin_core::api::ConsentSnapshot),
        (status = 403, description = "The person is not an advisor: compliance records through `/compliance/numbers/{phone}/revocations` (`read_only_role`), an admin provisions (`advisor_role_required`).", body = optin_core::api::ErrorBody),
        (status = 404, description = "No such contact of this advisor (`not_found`).", body = optin_core::api::ErrorBody),
        (status = 422, description = "A time in the future or a note too long (`invalid_revocation`, `field` names which), or an unknown channel (`malformed_body`).", body = optin_core::api::ErrorBody),
    ),
)]
async fn record_for_contact(
    State(state): State<AppState>,
    Sender(advisor): Sender,
    ApiPath(id): ApiPath<i64>,
    ApiJson(new): ApiJson<NewRevocation>,
) -> AppResult<(StatusCode, Json<ConsentSnapshot>)> {
    let snapshot =
        revocation::record_revocation(&state, &advisor, Target::Contact(id), &new).await?;
    Ok((StatusCode::CREATED, Json(snapshot)))
}

#[utoipa::path(
    post,
    path = "/api/v1/contacts/{id}/stop-flags/resolve",
    description = "Decides a message flagged as a possible request to stop: `revocation` applies it (as a recorded revocation), `not_a_revocation` leaves consent as it is. Either way the decision is evidence.",
    tag = "advisor",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Contact id.")),
    request_body = optin_core::api::ResolveStopFlag,
    responses(
        (status = 200, description = "Decided; the number's consent as it now stands.", body = optin_core::api::ConsentSnapshot),
        (status = 403, description = "The person is not an advisor (`read_only_role`, `advisor_role_required`).", body = optin_core::api::ErrorBody),
        (status = 404, description = "No such contact of this advisor, or no such flagged message of its number (`not_found`).", body = optin_core::api::ErrorBody),
        (status = 409, description = "The message was decided already (`flag_already_resolved`).", body = optin_core::api::ErrorBody),
    ),
)]
async fn resolve_for_contact(
    State(state): State<AppState>,
    Sender(advisor): Sender,
    ApiPath(id): ApiPath<i64>,
    ApiJson(resolve): ApiJson<ResolveStopFlag>,
) -> AppResult<Json<ConsentSnapshot>> {
    let snapshot =
        revocation::resolve_stop_flag(&state, &advisor, Target::Contact(id), &resolve).await?;
    Ok(Json(snapshot))
}

#[utoipa::path(
    post,
    path = "/api/v1/compliance/numbers/{phone}/revocations",
    description = "Records a revocation the contact gave by phone, e-mail, in person or otherwise, for any number of the organization. Binding for every advisor at once.",
    tag = "compliance",
    security(("bearer" = [])),
    params(("phone" = String, Path, description = "The number in E.164 (`+` escaped as `%2B`).")),
    request_body = optin_core::api::NewRevocation,
    responses(
        (status = 201, description = "Recorded; the number's consent as it now stands, with the revocation.", body = optin_core::api::ConsentSnapshot),
        (status = 403, description = "The person is not compliance (`compliance_role_required`).", body = optin_core::api::ErrorBody),
        (status = 404, description = "The organization neither holds nor has consent of the number (`not_found`).", body = optin_core::api::ErrorBody),
        (status = 422, description = "A time in the future or a note too long (`invalid_revocation`, `field` names which), or an unknown channel (`malformed_body`).", body = optin_core::api::ErrorBody),
    ),
)]
async fn record_for_number(
    State(state): State<AppState>,
    ComplianceOfficer(officer): ComplianceOfficer,
    ApiPath(phone): ApiPath<String>,
    ApiJson(new): ApiJson<NewRevocation>,
) -> AppResult<(StatusCode, Json<ConsentSnapshot>)> {
    let snapshot =
        revocation::record_revocation(&state, &officer, Target::Number(&phone), &new).await?;
    Ok((StatusCode::CREATED, Json(snapshot)))
}

#[utoipa::path(
    post,
    path = "/api/v1/compliance/numbers/{phone}/stop-flags/resolve",
    description = "Decides a message flagged as a possible request to stop, for any number of the organization.",
    tag = "compliance",
    security(("bearer" = [])),
    params(("phone" = String, Path, description = "The number in E.164 (`+` escaped as `%2B`).")),
    request_body = optin_core::api::ResolveStopFlag,
    responses(
        (status = 200, description = "Decided; the number's consent as it now stands.", body = optin_core::api::ConsentSnapshot),
        (status = 403, description = "The person is not compliance (`compliance_role_required`).", body = optin_core::api::ErrorBody),
        (status = 404, description = "No such number or flagged message in the organization (`not_found`).", body = optin_core::api::ErrorBody),
        (status = 409, description = "The message was decided already (`flag_already_resolved`).", body = optin_core::api::ErrorBody),
    ),
)]
async fn resolve_for_number(
    State(state): State<AppState>,
    ComplianceOfficer(officer): ComplianceOfficer,
    ApiPath(phone): ApiPath<String>,
    ApiJson(resolve): ApiJson<ResolveStopFlag>,
) -> AppResult<Json<ConsentSnapshot>> {
    let snapshot =
        revocation::resolve_stop_flag(&state, &officer, Target::Number(&phone), &resolve).await?;
    Ok(Json(snapshot))
}

#[utoipa::path(
    get,
    path = "/api/v1/compliance/stop-flags",
    tag = "compliance",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The organization's messages flagged as possible requests to stop and not decided yet, oldest first.", body = Vec<optin_core::api::StopFlag>),
        (status = 403, description = "The person is an advisor, not compliance or an admin (`compliance_role_required`).", body = optin_core::api::ErrorBody),
    ),
)]
async fn open_flags(
    State(state): State<AppState>,
    Supervisor(me): Supervisor,
) -> AppResult<Json<Vec<StopFlag>>> {
    Ok(Json(
        state
            .store
            .open_stop_flags(me.organization_id, None)
            .await?,
    ))
}
