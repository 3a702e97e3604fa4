//! `/api/v1` routes, one module per resource.

mod admin;
mod compliance;
mod consent;
mod contacts;
mod events;
mod integrations;
mod me;
mod messages;
pub mod webhooks;

use axum::extract::DefaultBodyLimit;
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
        .merge(admin::router())
        .fallback(|| async { AppError::NotFound("That API route") })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}
