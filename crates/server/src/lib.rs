//! The service: REST API under `/api/v1`, the web app's static files, and
//! (later) webhooks and the sandbox. `app()` builds the whole router so tests
//! can drive it without a socket.

pub mod auth;
pub mod config;
pub mod error;
pub mod routes;
pub mod store;

use axum::http::{header, HeaderValue};
use axum::Router;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;

pub use config::Config;
use store::Store;

/// Shared by every handler.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub config: std::sync::Arc<Config>,
}

/// The whole service: API, then static files with the SPA's index as fallback.
pub fn app(state: AppState) -> Router {
    let mut router = Router::new().nest(optin_core::api::API_PREFIX, routes::api());
    if let Some(dir) = &state.config.static_dir {
        let index = dir.join("index.html");
        router = router.fallback_service(ServeDir::new(dir).fallback(ServeFile::new(index)));
    }
    let frame_ancestors = state.config.frame_ancestors();
    router
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_str(&format!("frame-ancestors {frame_ancestors}"))
                .expect("configured origins are valid header text"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .with_state(state)
}
