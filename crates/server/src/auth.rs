//! Bearer-token authentication: every `/api/v1` handler takes an `Advisor`.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use crate::error::AppError;
use crate::store::auth::AdvisorIdentity;
use crate::AppState;

/// The authenticated advisor making the request.
pub struct Advisor(pub AdvisorIdentity);

impl FromRequestParts<AppState> for Advisor {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let token = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|token| !token.is_empty())
            .ok_or(AppError::Unauthorized)?;
        let identity = state
            .store
            .advisor_by_token(token, state.clock.now())
            .await?;
        identity.map(Advisor).ok_or(AppError::Unauthorized)
    }
}
