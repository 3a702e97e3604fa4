//! Wiring of the sandbox (`optin-sandbox`, only in builds with the `sandbox`
//! feature): it speaks to this service with the secrets the service expects
//! of Meta and the SMS provider, shares the service's clock, keeps its data
//! in `<data-dir>/sandbox.sqlite3`, and reads template bodies through the
//! store (as the real platform knows the approved templates).

use std::sync::Arc;

use axum::Router;
pub use optin_sandbox::{SandboxSettings, SandboxState};

use crate::AppState;

/// The sandbox under `/sandbox`, its phone page at `/phone/{e164}`, and the
/// bench's webhook ceiling at `/bench/webhook-ceiling`.
pub fn routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .nest("/sandbox", optin_sandbox::router(self::state(state)))
        .route(
            "/bench/webhook-ceiling",
            axum::routing::post(webhook_ceiling),
        )
        .merge(optin_sandbox::phone_page(
            state.config.sandbox_phone_dir.as_deref(),
        ))
}

/// What ingest could reach at most: a WhatsApp webhook read and its
/// signature verified exactly as `POST /webhooks/whatsapp` does, then
/// acknowledged without storing anything (`cargo xtask bench` posts the
/// same load here and reports ingest as a share of it).
async fn webhook_ceiling(
    axum::extract::State(state): axum::extract::State<AppState>,
    headers: axum::http::HeaderMap,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    match crate::routes::webhooks::verified_whatsapp(&state, &headers, body) {
        Ok(_) => axum::http::StatusCode::OK.into_response(),
        Err(refused) => refused.into_response(),
    }
}

/// The sandbox's state for the service `state`.
pub fn state(state: &AppState) -> SandboxState {
    let settings = &state.providers.settings;
    let store = state.store.clone();
    let templates: optin_sandbox::TemplateLookup = Arc::new(move |name, language| {
        let store = store.clone();
        Box::pin(async move {
            store
                .any_template_body(&name, &language)
                .await
                .ok()
                .flatten()
        })
    });
    SandboxState {
        db: optin_sandbox::Db::open(&state.config.data_dir.join("sandbox.sqlite3")),
        templates: Some(templates),
        phone_app_dir: state.config.sandbox_phone_dir.clone(),
        http: reqwest::Client::new(),
        service_base: Arc::new(std::sync::RwLock::new(settings.public_url.clone())),
        app_secret: settings.app_secret.clone(),
        access_token: settings.whatsapp.access_token.clone(),
        sms_account_sid: settings.sms.account_sid.clone(),
        sms_auth_token: settings.sms.auth_token.clone(),
        clock: state.clock.clone(),
        settings: SandboxSettings {
            phone_number_id: crate::store::seed::SANDBOX_PHONE_NUMBER_ID.to_owned(),
            display_phone_number: optin_core::whatsapp::wa_id_from_e164(
                crate::store::seed::SANDBOX_SMS_NUMBER,
            ),
            sms_number: crate::store::seed::SANDBOX_SMS_NUMBER.to_owned(),
            whatsapp_copies_to: state.config.sandbox_webhook_copies.clone(),
            ..SandboxSettings::default()
        },
        emitting: Default::default(),
    }
}

/// The phone page's HTML, whose inline bootstrap script the
/// Content-Security-Policy must allow as well as the app's.
pub fn phone_page_html(state: &AppState) -> Option<String> {
    if state.providers.settings.mode != optin_core::vocab::Mode::Sandbox {
        return None;
    }
    let dir = state.config.sandbox_phone_dir.as_ref()?;
    std::fs::read_to_string(dir.join("index.html")).ok()
}
