//! `GET /me`: who the token belongs to.

use axum::routing::get;
use axum::{Json, Router};
use optin_core::api::Me;

use crate::auth::Advisor;
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/me", get(me))
}

async fn me(Advisor(advisor): Advisor) -> Json<Me> {
    Json(Me {
        advisor_id: advisor.advisor_id,
        advisor_name: advisor.advisor_name,
        organization_name: advisor.organization_name,
        sandbox: true,
    })
}
