//! `GET /metrics`: counts an operator watches, in Prometheus' text format.
//! Service-wide, so not for any organization's people: it answers only a
//! bearer token equal to `OPTIN_METRICS_TOKEN`, and 404 when none is set.

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use std::fmt::Write;

use super::webhooks::constant_time_eq;
use crate::error::{AppError, AppResult};
use crate::store::metrics::ReviewCount;
use crate::AppState;

#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operator",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Counts in Prometheus' text format (the review queue per provider).", content_type = "text/plain", body = String),
        (status = 401, description = "The token is missing or not `OPTIN_METRICS_TOKEN` (`unauthorized`).", body = optin_core::api::ErrorBody),
        (status = 404, description = "No `OPTIN_METRICS_TOKEN` is set: there is no metrics endpoint.", body = optin_core::api::ErrorBody),
    ),
)]
pub async fn serve(State(state): State<AppState>, headers: HeaderMap) -> AppResult<Response> {
    let Some(expected) = state.config.metrics_token.as_deref() else {
        return Err(AppError::NotFound("That route"));
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if !given.is_some_and(|given| constant_time_eq(given.as_bytes(), expected.as_bytes())) {
        return Err(AppError::Unauthorized);
    }
    let mut text = String::new();
    let counts = state.store.review_counts().await?;
    let per_provider = |text: &mut String, name, kind, help, value: fn(&ReviewCount) -> i64| {
        let _ = writeln!(text, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for count in &counts {
            let _ = writeln!(
                text,
                "{name}{{provider=\"{}\"}} {}",
                count.provider,
                value(count)
            );
        }
    };
    per_provider(
        &mut text,
        "optin_webhook_reviews_open",
        "gauge",
        "Parts of signed webhooks kept unread for review, not reviewed yet.",
        |c| c.open,
    );
    per_provider(
        &mut text,
        "optin_webhook_reviews_total",
        "counter",
        "Parts of signed webhooks kept unread for review, ever.",
        |c| c.total,
    );
    let (commits, committed) = state.ingest.counts();
    for (name, help, value) in [
        (
            "optin_webhook_commits_total",
            "Transactions that applied signed webhooks (a group commit holds those that arrived together).",
            commits,
        ),
        (
            "optin_webhooks_committed_total",
            "Signed webhooks applied and acknowledged since start.",
            committed,
        ),
    ] {
        let _ = writeln!(text, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}");
    }
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response())
}
