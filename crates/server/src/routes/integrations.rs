//! Server-to-server calls of a CRM backend, authorized by an organization API
//! key (`Authorization: Bearer ok_...`, created with `optin-server api-key create`):
//! - `POST /integrations/advisor-tokens`: mint a short-lived advisor token;
//! - `POST /integrations/advisor-tokens/revoke`: revoke one.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use optin_core::api::{IssuedToken, RevokeToken, TokenRequest};

use crate::auth::Integration;
use crate::error::{ApiJson, AppError, AppResult};
use crate::store::auth::{AdvisorRef, MAX_TOKEN_TTL_SECONDS};
use crate::AppState;

/// Default lifetime of a minted token: short, the app asks for renewal.
const DEFAULT_TTL_SECONDS: u32 = 900;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/integrations/advisor-tokens", post(mint))
        .route("/integrations/advisor-tokens/revoke", post(revoke))
}

#[utoipa::path(
    post,
    path = "/api/v1/integrations/advisor-tokens",
    tag = "integration",
    security(("api_key" = [])),
    request_body = optin_core::api::TokenRequest,
    responses(
        (status = 201, description = "A short-lived token for the advisor.", body = optin_core::api::IssuedToken),
        (status = 403, description = "An admin-scoped key, which provisions but does not mint tokens (`integration_scope_required`).", body = optin_core::api::ErrorBody),
        (status = 404, description = "No such advisor in the key's organization (`not_found`).", body = optin_core::api::ErrorBody),
        (status = 422, description = "A lifetime outside 60 to 3600 seconds, or not exactly one of `advisor_id` and `advisor_external_id` (`invalid_ttl`, `invalid_advisor`).", body = optin_core::api::ErrorBody),
    ),
)]
async fn mint(
    State(state): State<AppState>,
    Integration(organization): Integration,
    ApiJson(request): ApiJson<TokenRequest>,
) -> AppResult<(StatusCode, Json<IssuedToken>)> {
    let ttl = request.ttl_seconds.unwrap_or(DEFAULT_TTL_SECONDS);
    if !(60..=MAX_TOKEN_TTL_SECONDS).contains(&ttl) {
        return Err(AppError::Invalid {
            code: "invalid_ttl",
            field: "ttl_seconds",
            message: format!("A token lives 60 to {MAX_TOKEN_TTL_SECONDS} seconds."),
        });
    }
    let advisor = match (&request.advisor_id, &request.advisor_external_id) {
        (Some(id), None) => AdvisorRef::Id(*id),
        (None, Some(external)) => AdvisorRef::External(external),
        _ => {
            return Err(AppError::Invalid {
                code: "invalid_advisor",
                field: "advisor_id",
                message: "Name the advisor by advisor_id or advisor_external_id (one of them)."
                    .into(),
            })
        }
    };
    // Token lifetimes are security, not product time: the wall clock, never the sandbox's.
    let expires_at = state.clock.now() + chrono::Duration::seconds(i64::from(ttl));
    let (advisor_id, token) = state
        .store
        .mint_advisor_token(organization, advisor, expires_at)
        .await?
        .ok_or(AppError::NotFound("That advisor"))?;
    Ok((
        StatusCode::CREATED,
        Json(IssuedToken {
            token,
            advisor_id,
            expires_at,
        }),
    ))
}

#[utoipa::path(
    post,
    path = "/api/v1/integrations/advisor-tokens/revoke",
    tag = "integration",
    security(("api_key" = [])),
    request_body = optin_core::api::RevokeToken,
    responses(
        (status = 204, description = "The token is revoked."),
        (status = 403, description = "An admin-scoped key, which provisions but does not revoke tokens (`integration_scope_required`).", body = optin_core::api::ErrorBody),
        (status = 404, description = "No such live token in the key's organization (`not_found`).", body = optin_core::api::ErrorBody),
    ),
)]
async fn revoke(
    State(state): State<AppState>,
    Integration(organization): Integration,
    ApiJson(request): ApiJson<RevokeToken>,
) -> AppResult<StatusCode> {
    if state
        .store
        .revoke_token(organization, &request.token, state.clock.now())
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AppError::NotFound("That token"))
    }
}
