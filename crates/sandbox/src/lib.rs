//! `optin-sandbox`: a local stand-in for Meta's Graph API and the SMS
//! provider, used when no provider credentials are configured. A test double,
//! not part of the product: the service nests it only when built with its
//! `sandbox` feature, and it keeps its data in a database of its own.
//!
//! The service reaches it through its real provider clients over HTTP, and it
//! answers and calls back exactly as the platforms do: Graph API answers and
//! error bodies, Twilio resources, and webhooks signed with the app secret
//! (`X-Hub-Signature-256`) or the auth token (`X-Twilio-Signature`), retried
//! with back-off when the service does not answer 200. It also plays the
//! contact's phone: a person (or a test) sees what arrived, taps Yes/No,
//! types replies, opens messages and marks a number as not on WhatsApp.
//!
//! Routes (relative to where the router is nested, e.g. `/sandbox`):
//! - `POST /graph/{version}/{phone_number_id}/messages`: the Cloud API send;
//! - `POST /sms/2010-04-01/Accounts/{sid}/Messages.json`: the SMS send;
//! - `GET /phones`, `GET /phones/{e164}`: the contacts' phones;
//! - `POST /phones/{e164}/tap | reply | read`, `PUT /phones/{e164}/whatsapp`;
//! - `GET /clock`, `POST /clock/advance`, `POST /clock/reset`: the shared test clock;
//! - `GET /phone-app/...`: the files of the "contact's phone" web page
//!   (`crates/phone-app`, built by Trunk into a folder of its own with
//!   `--public-url /sandbox/phone-app/`), when that folder is given.
//!
//! The page itself is [`phone_page`], mounted at the site's root
//! (`/phone/{e164}`, the address the advisor's app links to).
//!
//! Platform behaviour imitated beyond the happy path: a send to a number not
//! on WhatsApp is accepted and then fails asynchronously with 131026 (there is
//! no lookup API); free-form text outside the 24-hour window fails with
//! 131047; after the contact texts STOP by SMS, SMS sends fail with 21610
//! until they text START (but for one confirmation within 5 minutes); the same `Idempotency-Key` on a channel returns the
//! earlier message (whatever the new payload) and emits nothing again (Meta
//! has no such key; it is what makes our outbox safe).
//!
//! WhatsApp webhooks go to `{service_base}/webhooks/whatsapp`. SMS status
//! callbacks go to the send's `StatusCallback` when it has one, else to
//! `{service_base}/webhooks/sms`; inbound SMS go to `{service_base}/webhooks/sms`.
//! Twilio signatures are computed over exactly those URLs.

mod emit;
mod graph;
mod phone;
mod sign;
mod sms;
mod store;
#[cfg(test)]
mod tests;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, get_service, post, put};
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use tower_http::services::{ServeDir, ServeFile};

pub use optin_clock::Clock;
pub use store::Db;

/// Header naming a send so a retry of it is recognised as the same send
/// (the service's provider clients send it; Meta and Twilio ignore it).
pub const IDEMPOTENCY_KEY_HEADER: &str = "Idempotency-Key";

/// How long one webhook delivery attempt may take, connection included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The WhatsApp business phone number id the sandbox answers to by default.
pub const DEFAULT_PHONE_NUMBER_ID: &str = "100000000000001";

/// The SMS sender number the sandbox accepts by default.
pub const DEFAULT_SMS_NUMBER: &str = "+15550001111";

/// The body of an approved template by name and language, if known. The
/// real platform knows its approved templates; the sandbox asks whoever
/// runs it (the service answers from its own copy).
pub type TemplateLookup = Arc<
    dyn Fn(String, String) -> Pin<Box<dyn Future<Output = Option<String>> + Send>> + Send + Sync,
>;

/// Everything the sandbox needs; cheap to clone.
#[derive(Clone)]
pub struct SandboxState {
    /// The sandbox's own database (phones and their messages).
    pub db: Db,
    /// Template bodies, to show templates as the contact would read them
    /// (without it, a template shows as its name and parameters).
    pub templates: Option<TemplateLookup>,
    /// Folder with the built phone page (`index.html` and its files), served
    /// at `/phone-app/...`; without it that path answers 404.
    pub phone_app_dir: Option<PathBuf>,
    /// Client for the webhooks it emits.
    pub http: reqwest::Client,
    /// Base URL of the service, e.g. `http://127.0.0.1:8080` (known only
    /// after binding); webhooks go to `{base}/webhooks/whatsapp` and
    /// `{base}/webhooks/sms`.
    pub service_base: Arc<RwLock<String>>,
    /// Meta app secret: signs WhatsApp webhooks.
    pub app_secret: String,
    /// The only access token the Graph stand-in accepts.
    pub access_token: String,
    /// SMS account id (basic-auth user).
    pub sms_account_sid: String,
    /// SMS auth token: basic-auth password and webhook signing key.
    pub sms_auth_token: String,
    /// The shared clock (status and message timestamps; advanced by `/clock/advance`).
    pub clock: Clock,
    /// Business numbers and timing.
    pub settings: SandboxSettings,
    /// The webhooks being emitted (with their delays and retries), so a
    /// caller can wait until the sandbox has nothing more to say.
    pub emitting: tokio_util::task::TaskTracker,
}

/// The sandbox's business identity and timing.
#[derive(Debug, Clone)]
pub struct SandboxSettings {
    /// WhatsApp Business Account id (`entry[].id` of webhooks).
    pub waba_id: String,
    /// The only `{phone_number_id}` the Graph stand-in accepts.
    pub phone_number_id: String,
    /// Business number as shown in webhook metadata (digits).
    pub display_phone_number: String,
    /// The SMS sender number accepted as `From` (E.164).
    pub sms_number: String,
    /// Pause before each status webhook (after the send is answered), so a
    /// status does not race the service's handling of the send's answer.
    pub step_delay: Duration,
    /// Webhook delivery attempts before giving up.
    pub webhook_attempts: u32,
    /// Pause after the first failed attempt; doubles after each one.
    pub first_retry_delay: Duration,
    /// Other service instances (base URLs) that each WhatsApp webhook is
    /// also delivered to, at the same time: several instances behind a load
    /// balancer, where Meta's retry of a webhook can land on another one.
    pub whatsapp_copies_to: Vec<String>,
}

impl Default for SandboxSettings {
    fn default() -> Self {
        Self {
            waba_id: "100000000000002".to_owned(),
            phone_number_id: DEFAULT_PHONE_NUMBER_ID.to_owned(),
            display_phone_number: optin_core::whatsapp::wa_id_from_e164(DEFAULT_SMS_NUMBER),
            sms_number: DEFAULT_SMS_NUMBER.to_owned(),
            step_delay: Duration::from_millis(150),
            webhook_attempts: 6,
            first_retry_delay: Duration::from_millis(500),
            whatsapp_copies_to: Vec::new(),
        }
    }
}

impl SandboxState {
    /// The body of template `name` in `language`, when the lookup knows it.
    async fn template_body(&self, name: &str, language: &str) -> Option<String> {
        let lookup = self.templates.as_ref()?;
        lookup(name.to_owned(), language.to_owned()).await
    }

    /// The service's base URL, without a trailing slash.
    pub fn service_base(&self) -> String {
        self.service_base
            .read()
            .map(|base| base.trim_end_matches('/').to_owned())
            .unwrap_or_default()
    }

    /// Waits until every webhook emission started so far has ended (sent,
    /// or given up after its retries).
    pub async fn idle(&self) {
        self.emitting.close();
        self.emitting.wait().await;
        self.emitting.reopen();
    }

    /// Sets the service's base URL (once the service has bound its port).
    pub fn set_service_base(&self, base: impl Into<String>) {
        if let Ok(mut current) = self.service_base.write() {
            *current = base.into();
        }
    }
}

/// The sandbox's routes, with their own state, ready to be nested
/// (`.nest("/sandbox", optin_sandbox::router(state))`).
pub fn router<S>(state: SandboxState) -> Router<S> {
    let router = match &state.phone_app_dir {
        Some(dir) => Router::new().nest_service("/phone-app", ServeDir::new(dir)),
        None => Router::new(),
    };
    router
        .route(
            "/graph/{version}/{phone_number_id}/messages",
            post(graph::send),
        )
        .route(
            "/sms/2010-04-01/Accounts/{account_sid}/Messages.json",
            post(sms::send),
        )
        .route("/phones", get(phone::list))
        .route("/phones/{phone}", get(phone::view))
        .route("/phones/{phone}/tap", post(phone::tap))
        .route("/phones/{phone}/reply", post(phone::reply))
        .route("/phones/{phone}/read", post(phone::read))
        .route("/phones/{phone}/whatsapp", put(phone::set_whatsapp))
        .route("/clock", get(phone::clock))
        .route("/clock/advance", post(phone::advance_clock))
        .route("/clock/reset", post(phone::reset_clock))
        .with_state(state)
}

/// The "contact's phone" page at `/phone/{e164}` (to be merged at the site's
/// root): the `index.html` of the built phone app in `dir`, which reads the
/// number from the address. Without `dir`, a note saying how to build it.
pub fn phone_page<S>(dir: Option<&Path>) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    match dir {
        Some(dir) => Router::new().route_service(
            "/phone/{*number}",
            get_service(ServeFile::new(dir.join("index.html"))),
        ),
        None => Router::new().route("/phone/{*number}", get(phone_app_missing)),
    }
}

async fn phone_app_missing() -> (StatusCode, &'static str) {
    (
        StatusCode::NOT_FOUND,
        "The sandbox phone page is not built or not configured: build crates/phone-app \
         with Trunk (cargo xtask run does) and pass its folder with --sandbox-phone-dir.",
    )
}

/// `len` random bytes, base64url without padding.
fn random_id(len: usize) -> String {
    let mut bytes = vec![0u8; len];
    rand::thread_rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A fresh WhatsApp message id, shaped like Meta's (`wamid.` + base64).
fn new_wamid() -> String {
    format!("wamid.{}", random_id(24))
}

/// A fresh SMS id, shaped like Twilio's (`SM` + 32 hex digits).
fn new_sms_sid() -> String {
    format!("SM{}", uuid::Uuid::new_v4().simple())
}

/// E.164 from a number given with or without `+`; `None` unless it is 7 to
/// 15 digits (the E.164 range the sandbox accepts).
fn e164(number: &str) -> Option<String> {
    let digits = number.trim().strip_prefix('+').unwrap_or(number.trim());
    ((7..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| format!("+{digits}"))
}

/// Error of the phone and clock routes: `{code, message}` like the API's.
#[derive(Debug)]
struct SandboxError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl SandboxError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }
}

impl From<sqlx::Error> for SandboxError {
    fn from(e: sqlx::Error) -> Self {
        tracing::error!(error = %e, "sandbox storage failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "The sandbox could not read or write its data.",
        )
    }
}

impl IntoResponse for SandboxError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"code": self.code, "message": self.message});
        (self.status, Json(body)).into_response()
    }
}
