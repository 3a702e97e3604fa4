//! `GET /me`: who the token belongs to, the organization's settings, and when
//! the token expires.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use optin_core::api::Me;

use crate::auth::Advisor;
use crate::error::AppResult;
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/me", get(me))
}

#[utoipa::path(
    get,
    path = "/api/v1/me",
    tag = "advisor",
    security(("bearer" = [])),
    responses((status = 200, description = "The advisor behind the token, the organization's settings and the token's expiry.", body = optin_core::api::Me)),
)]
async fn me(State(state): State<AppState>, Advisor(advisor): Advisor) -> AppResult<Json<Me>> {
    let role = advisor.role()?;
    let whatsapp_enabled = state
        .store
        .whatsapp_enabled(advisor.organization_id)
        .await?;
    Ok(Json(Me {
        advisor_id: advisor.advisor_id,
        advisor_name: advisor.advisor_name,
        organization_name: advisor.organization_name,
        sandbox: state.providers.settings.mode == optin_core::vocab::Mode::Sandbox,
        role,
        whatsapp_enabled,
        token_expires_at: advisor
            .token_expires_at
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
            .map(|t| t.with_timezone(&chrono::Utc)),
    }))
}
