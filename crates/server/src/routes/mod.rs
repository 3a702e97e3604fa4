//! `/api/v1` routes, one module per resource (each `pub(crate)` so the
//! OpenAPI document in `crate::openapi` can list their handlers).

pub(crate) mod admin;
pub(crate) mod compliance;
pub(crate) mod consent;
pub(crate) mod contacts;
pub(crate) mod events;
pub(crate) mod evidence;
pub(crate) mod holds;
pub(crate) mod integrations;
pub(crate) mod me;
pub(crate) mod messages;
pub(crate) mod metrics;
pub(crate) mod revocations;
pub mod webhooks;

use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::Router;

use crate::error::AppError;
use crate::AppState;

/// Largest JSON body the API reads.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// Every API route, answering unknown paths in the API's error shape.
pub fn api() -> Router<AppState> {
    Router::new()
        .merge(me::router())
        .merge(contacts::router())
        .merge(consent::router())
        .merge(messages::router())
        .merge(events::router())
        .merge(integrations::router())
        .merge(compliance::router())
        .merge(evidence::router())
        .merge(holds::router())
        .merge(revocations::router())
        .merge(admin::router())
        .route("/openapi.json", get(crate::openapi::serve))
        .fallback(|| async { AppError::NotFound("That API route") })
        .method_not_allowed_fallback(|| async { AppError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}
