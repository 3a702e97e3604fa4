//! "Example CRM", a demo host page on its own origin (sandbox mode only): a
//! record page with the app in a side panel, speaking the embedding protocol
//! (see the README, "Embedding"). Its "backend" mints advisor tokens the way a
//! real CRM backend does: through `POST /api/v1/integrations/advisor-tokens`
//! with an organization API key.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use crate::store::Store;

const PAGE: &str = include_str!("../demo-crm/index.html");
const SCRIPT: &str = include_str!("../demo-crm/host.js");
const STYLE: &str = include_str!("../demo-crm/host.css");

/// What the demo host needs.
#[derive(Clone)]
pub struct DemoCrm {
    /// Origin of the app (the service), e.g. `http://127.0.0.1:8080`.
    pub app_origin: String,
    /// The organization API key the demo backend uses.
    pub api_key: String,
    pub store: Store,
    /// The service clock (contact states depend on time).
    pub clock: crate::clock::Clock,
    pub http: reqwest::Client,
}

pub fn router(demo: DemoCrm) -> Router {
    Router::new()
        .route("/", get(page))
        .route(
            "/host.js",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
                    SCRIPT,
                )
            }),
        )
        .route(
            "/host.css",
            get(|| async { ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE) }),
        )
        .route("/records", get(records))
        .route("/token", post(token))
        .with_state(demo)
}

async fn page(State(demo): State<DemoCrm>) -> Response {
    // The app origin is ours (configuration), not user input; still escape it for the attribute.
    let origin = demo
        .app_origin
        .replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;");
    let csp = format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src data:; connect-src 'self'; frame-src {}; base-uri 'none'",
        demo.app_origin
    );
    (
        [(header::CONTENT_SECURITY_POLICY, csp)],
        Html(PAGE.replace("{{APP_ORIGIN}}", &origin)),
    )
        .into_response()
}

/// The CRM's records: the demo advisor's contacts, plus one the app does not know yet.
async fn records(State(demo): State<DemoCrm>) -> Response {
    match demo
        .store
        .search_contacts(1, "", 0, 8, demo.clock.now())
        .await
    {
        Ok((contacts, _)) => {
            let mut records: Vec<_> = contacts
                .iter()
                .map(|c| json!({"crm_id": format!("003DEMO{:04}", c.id), "name": c.name, "phone": c.phone}))
                .collect();
            records.push(
                json!({"crm_id": "003DEMONEW1", "name": "Nora Lindqvist", "phone": "+46701234567"}),
            );
            Json(records).into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "demo CRM records");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// The demo backend's token call: server to server, with the API key.
async fn token(State(demo): State<DemoCrm>) -> Response {
    let url = format!("{}/api/v1/integrations/advisor-tokens", demo.app_origin);
    let answer = demo
        .http
        .post(url)
        .bearer_auth(&demo.api_key)
        .json(&json!({"advisor_id": 1, "ttl_seconds": 900}))
        .send()
        .await;
    match answer {
        Ok(response) if response.status().is_success() => {
            match response.json::<serde_json::Value>().await {
                Ok(body) => Json(body).into_response(),
                Err(_) => StatusCode::BAD_GATEWAY.into_response(),
            }
        }
        _ => StatusCode::BAD_GATEWAY.into_response(),
    }
}
