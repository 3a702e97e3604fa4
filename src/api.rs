//! The one typed client of the service. Every non-2xx answer becomes a
//! `ClientError`, shown to the advisor in plain words.

use chrono::{DateTime, Utc};
use gloo_net::http::{Request, RequestBuilder, Response};
use optin_core::api::{
    Cause, ConsentSnapshot, ConsentState, ConsentView, Contact, ContactPage, ErrorBody,
    EvidenceKind, Me, MessageView, NewContact, NewRevocation, OutgoingMessage, OutgoingSms,
    Purpose, ResolveStopFlag, StopFlag, TemplateView, API_PREFIX,
};
use optin_core::compliance::{
    AccessLogPage, AdvisorSummary, ChainStatus, LegalHold, NewLegalHold, NumberPage,
    NumberTimeline, RawEvidence, Retention, WebhookReview,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use wasm_bindgen::JsCast;

use crate::route::encode_phone;

/// Every way a call to the service can fail, as the advisor should read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientError {
    /// The service could not be reached.
    Offline,
    /// The token is missing, expired or revoked.
    SignedOut,
    /// The service refused the request and said why.
    Refused {
        status: u16,
        code: String,
        message: String,
        field: Option<String>,
        /// For refusals that lapse (e.g. a resend within 24 h): when it becomes allowed.
        allowed_at: Option<DateTime<Utc>>,
    },
    /// The service answered something this app does not understand.
    Unexpected(String),
}

impl ClientError {
    /// The request field this error is about, if any.
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::Refused { field, .. } => field.as_deref(),
            _ => None,
        }
    }

    /// The service's machine code of a refusal (`resend_too_soon`, ...).
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Refused { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The refusal in plain words, with "when" written for people (`now` is the
    /// server's clock, for "Today"/"Tomorrow"). The service's own sentence for
    /// a lapsing refusal carries a raw ISO timestamp, so those are reworded here.
    pub fn explain(&self, now: DateTime<Utc>) -> String {
        match self {
            Self::Refused {
                code,
                allowed_at: Some(at),
                ..
            } if code == "resend_too_soon" => format!(
                "An opt-in request was sent less than 24 hours ago. The next one can be sent {}.",
                crate::time::stamp(*at, now)
            ),
            Self::Refused {
                message,
                allowed_at: Some(at),
                ..
            } => {
                let message = message
                    .split("; ")
                    .next()
                    .unwrap_or(message)
                    .trim_end_matches('.');
                format!(
                    "{message}. You can try again {}.",
                    crate::time::stamp(*at, now)
                )
            }
            other => other.to_string(),
        }
    }
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Offline => {
                f.write_str("Can't reach the service. Check your connection and try again.")
            }
            Self::SignedOut => {
                f.write_str("Your session has ended. Open the app again from your CRM.")
            }
            Self::Refused { message, .. } => f.write_str(message),
            Self::Unexpected(_) => f.write_str("Something unexpected happened. Please try again."),
        }
    }
}

/// What the service answers when it accepts a message for sending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Queued {
    /// The stored message's id.
    pub id: i64,
}

/// A file fetched for the person to save.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Download {
    /// The file name the service gave (or a sensible one).
    pub name: String,
    /// Its media type, as the service said.
    pub mime: String,
    /// Its content (a zip is bytes, not text).
    pub bytes: Vec<u8>,
}

/// The file name of a `Content-Disposition: attachment; filename="..."`.
pub fn attachment_name(header: &str) -> Option<String> {
    header.split(';').find_map(|part| {
        let value = part.trim().strip_prefix("filename=")?;
        let name = value.trim_matches('"');
        // Only a plain name: the browser would refuse paths anyway.
        (!name.is_empty() && !name.contains(['/', '\\'])).then(|| name.to_owned())
    })
}

/// The formats the consent record downloads in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// One row per event, for spreadsheets.
    Csv,
    /// One JSON object per line, for tools.
    JsonLines,
}

impl ExportFormat {
    fn param(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::JsonLines => "jsonl",
        }
    }

    fn extension(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::JsonLines => "jsonl",
        }
    }
}

/// What the compliance list is narrowed to; empty fields do not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NumberFilter {
    /// Only numbers in this state.
    pub state: Option<ConsentView>,
    /// Only numbers this advisor holds.
    pub advisor_id: Option<i64>,
    /// Changed at or after this instant.
    pub since: Option<DateTime<Utc>>,
    /// Changed before this instant.
    pub until: Option<DateTime<Utc>>,
    /// Part of a contact name or number.
    pub q: String,
}

impl NumberFilter {
    /// The query parameters the service reads (only those that filter).
    pub fn query(&self) -> Vec<(&'static str, String)> {
        let time = |at: DateTime<Utc>| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let mut query = Vec::new();
        if let Some(state) = self.state {
            query.push(("state", consent_param(state).to_owned()));
        }
        if let Some(id) = self.advisor_id {
            query.push(("advisor_id", id.to_string()));
        }
        if let Some(since) = self.since {
            query.push(("since", time(since)));
        }
        if let Some(until) = self.until {
            query.push(("until", time(until)));
        }
        if !self.q.trim().is_empty() {
            query.push(("q", self.q.trim().to_owned()));
        }
        query
    }

    /// True when nothing narrows the list.
    pub fn is_empty(&self) -> bool {
        self.query().is_empty()
    }
}

/// Every consent state, in the order the filter offers them.
pub const CONSENT_STATES: [ConsentView; 8] = [
    ConsentView::OptedIn,
    ConsentView::OptedOut,
    ConsentView::Pending,
    ConsentView::Expired,
    ConsentView::Sending,
    ConsentView::Failed,
    ConsentView::NoWhatsapp,
    ConsentView::None,
];

/// A consent state's wire name (`opted_in`, ...), as the service reads it.
pub fn consent_param(state: ConsentView) -> &'static str {
    match state {
        ConsentView::None => "none",
        ConsentView::Sending => "sending",
        ConsentView::Pending => "pending",
        ConsentView::Expired => "expired",
        ConsentView::Failed => "failed",
        ConsentView::NoWhatsapp => "no_whatsapp",
        ConsentView::OptedIn => "opted_in",
        ConsentView::OptedOut => "opted_out",
    }
}

/// Whose number a revocation or a decision is about: an advisor's contact,
/// or (compliance) a number of the organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// One of the advisor's contacts, by id.
    Contact(i64),
    /// A number of the organization (E.164), for compliance.
    Number(String),
}

impl Subject {
    fn path(&self) -> String {
        match self {
            Subject::Contact(id) => format!("/contacts/{id}"),
            Subject::Number(e164) => format!("/compliance/numbers/{}", encode_phone(e164)),
        }
    }
}

/// One step of a contact's consent record (the fields the history shows).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct RecordEvent {
    pub seq: i64,
    pub kind: EvidenceKind,
    pub cause: Cause,
    pub state_after: Option<ConsentState>,
    #[serde(default, deserialize_with = "lenient_time")]
    pub received_at: Option<DateTime<Utc>>,
    /// The event's details as recorded (JSON text).
    #[serde(default)]
    pub detail_json: String,
}

impl RecordEvent {
    /// Which message a delivery step concerns, when recorded.
    pub fn purpose(&self) -> Option<Purpose> {
        #[derive(serde::Deserialize)]
        struct Detail {
            purpose: Option<Purpose>,
        }
        serde_json::from_str::<Detail>(&self.detail_json)
            .ok()?
            .purpose
    }
}

fn lenient_time<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    let text: Option<String> = serde::Deserialize::deserialize(d)?;
    Ok(text.and_then(|t| optin_core::wire_time::parse(&t)))
}

/// Client bound to one advisor's token; cheap to clone. Clones share the
/// token, so a renewal (from the CRM host) reaches every holder at once.
#[derive(Clone, Debug)]
pub struct Api {
    token: std::sync::Arc<std::sync::RwLock<String>>,
}

impl PartialEq for Api {
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.token, &other.token)
    }
}

impl Eq for Api {}

impl Api {
    /// A client that sends `token` as its bearer credential.
    pub fn new(token: String) -> Self {
        Self {
            token: std::sync::Arc::new(std::sync::RwLock::new(token)),
        }
    }

    /// Replaces the token (renewal) without disturbing the screens using it.
    pub fn set_token(&self, token: String) {
        if let Ok(mut current) = self.token.write() {
            *current = token;
        }
    }

    fn bearer(&self) -> String {
        format!(
            "Bearer {}",
            self.token.read().map(|t| t.clone()).unwrap_or_default()
        )
    }

    fn authorized(&self, builder: RequestBuilder) -> RequestBuilder {
        builder.header("Authorization", &self.bearer())
    }

    fn get(&self, path: &str) -> RequestBuilder {
        self.authorized(Request::get(&format!("{API_PREFIX}{path}")))
    }

    fn post(&self, path: &str) -> RequestBuilder {
        self.authorized(Request::post(&format!("{API_PREFIX}{path}")))
    }

    fn patch(&self, path: &str) -> RequestBuilder {
        self.authorized(Request::patch(&format!("{API_PREFIX}{path}")))
    }

    /// Sends a GET, unless `index.html` already asked it (see [`early_answer`]).
    async fn send_get(&self, request: RequestBuilder) -> Result<Response, gloo_net::Error> {
        let request = request.build()?;
        let token = self.token.read().map(|t| t.clone()).unwrap_or_default();
        match early_answer(&request.url(), &token).await {
            Some(answer) => Ok(answer),
            None => request.send().await,
        }
    }

    /// Who the token belongs to.
    pub async fn me(&self) -> Result<Me, ClientError> {
        decode(self.send_get(self.get("/me")).await).await
    }

    /// A page of contacts matching `query` (name or number).
    pub async fn contacts(
        &self,
        query: &str,
        offset: u64,
        limit: u32,
    ) -> Result<ContactPage, ClientError> {
        let (offset, limit) = (offset.to_string(), limit.to_string());
        let request = self.get("/contacts").query([
            ("q", query),
            ("offset", offset.as_str()),
            ("limit", limit.as_str()),
        ]);
        decode(self.send_get(request).await).await
    }

    /// One contact.
    pub async fn contact(&self, id: i64) -> Result<Contact, ClientError> {
        decode(self.get(&format!("/contacts/{id}")).send().await).await
    }

    /// Adds a contact.
    pub async fn add_contact(&self, contact: &NewContact) -> Result<Contact, ClientError> {
        let request = self.post("/contacts").json(contact).map_err(unexpected)?;
        decode(request.send().await).await
    }

    /// Changes a contact (its language).
    pub async fn update_contact(
        &self,
        id: i64,
        change: &optin_core::api::ContactUpdate,
    ) -> Result<Contact, ClientError> {
        let request = self
            .patch(&format!("/contacts/{id}"))
            .json(change)
            .map_err(unexpected)?;
        decode(request.send().await).await
    }

    /// The opt-in request exactly as the contact would receive it now,
    /// rendered by the service in the contact's language.
    pub async fn opt_in_preview(
        &self,
        id: i64,
    ) -> Result<optin_core::api::OptInPreview, ClientError> {
        decode(
            self.get(&format!("/contacts/{id}/opt-in/preview"))
                .send()
                .await,
        )
        .await
    }

    /// Finds a contact by number or CRM id, creating it when name and number are given.
    pub async fn open_contact(
        &self,
        contact: &optin_core::api::OpenContact,
    ) -> Result<Contact, ClientError> {
        let request = self
            .post("/contacts/open")
            .json(contact)
            .map_err(unexpected)?;
        decode(request.send().await).await
    }

    /// Where the contact's WhatsApp consent stands, with the server's clock.
    pub async fn consent(&self, id: i64) -> Result<ConsentSnapshot, ClientError> {
        decode(self.get(&format!("/contacts/{id}/consent")).send().await).await
    }

    /// Sends the opt-in request. The same `idempotency_key` (one per
    /// confirmation) makes a repeated call a no-op on the service.
    pub async fn request_opt_in(
        &self,
        id: i64,
        idempotency_key: &str,
    ) -> Result<ConsentSnapshot, ClientError> {
        let request = self
            .post(&format!("/contacts/{id}/opt-in"))
            .header("Idempotency-Key", idempotency_key);
        decode(request.send().await).await
    }

    /// Sends the opt-in request again (allowed once 24 h have passed).
    pub async fn resend_opt_in(
        &self,
        id: i64,
        idempotency_key: &str,
    ) -> Result<ConsentSnapshot, ClientError> {
        let request = self
            .post(&format!("/contacts/{id}/opt-in/resend"))
            .header("Idempotency-Key", idempotency_key);
        decode(request.send().await).await
    }

    /// The conversation with a contact, both ways, both channels, oldest first.
    pub async fn messages(&self, id: i64) -> Result<Vec<MessageView>, ClientError> {
        decode(self.get(&format!("/contacts/{id}/messages")).send().await).await
    }

    /// The contact's consent record, oldest first.
    pub async fn consent_record(&self, id: i64) -> Result<Vec<RecordEvent>, ClientError> {
        decode(
            self.get(&format!("/contacts/{id}/consent/record?format=json"))
                .send()
                .await,
        )
        .await
    }

    /// The contact's consent record as CSV, for download.
    pub async fn consent_record_csv(&self, id: i64) -> Result<Download, ClientError> {
        self.download(
            &format!("/contacts/{id}/consent/record?format=csv"),
            &format!("consent-record-{id}.csv"),
        )
        .await
    }

    /// A file the service offers for download (it needs the bearer token, so
    /// it cannot be a plain link). `fallback_name` is used when the answer
    /// names no file.
    pub async fn download(&self, path: &str, fallback_name: &str) -> Result<Download, ClientError> {
        let response = self
            .get(path)
            .send()
            .await
            .map_err(|_| ClientError::Offline)?;
        if !(200..300).contains(&response.status()) {
            return Err(refusal(response).await);
        }
        let headers = response.headers();
        let name = headers
            .get("content-disposition")
            .and_then(|value| attachment_name(&value))
            .unwrap_or_else(|| fallback_name.to_owned());
        let mime = headers
            .get("content-type")
            .unwrap_or_else(|| "application/octet-stream".to_owned());
        let bytes = response.binary().await.map_err(unexpected)?;
        Ok(Download { name, mime, bytes })
    }

    /// Numbers of the organization matching `filter` (compliance).
    pub async fn compliance_numbers(
        &self,
        filter: &NumberFilter,
        offset: u64,
        limit: u32,
    ) -> Result<NumberPage, ClientError> {
        let mut query = filter.query();
        query.push(("offset", offset.to_string()));
        query.push(("limit", limit.to_string()));
        let request = self
            .get("/compliance/numbers")
            .query(query.iter().map(|(k, v)| (*k, v.as_str())));
        decode(request.send().await).await
    }

    /// A number's whole evidence timeline (compliance).
    pub async fn compliance_number(&self, e164: &str) -> Result<NumberTimeline, ClientError> {
        decode(
            self.get(&format!("/compliance/numbers/{}", encode_phone(e164)))
                .send()
                .await,
        )
        .await
    }

    /// A number's consent record in `format` (compliance), for download.
    pub async fn compliance_record(
        &self,
        e164: &str,
        format: ExportFormat,
    ) -> Result<Download, ClientError> {
        let digits = e164.trim_start_matches('+');
        self.download(
            &format!(
                "/compliance/numbers/{}/record?format={}",
                encode_phone(e164),
                format.param()
            ),
            &format!("consent-record-{digits}.{}", format.extension()),
        )
        .await
    }

    /// A number's evidence bundle (compliance): a zip an auditor checks with
    /// sha256sum and openssl, for download.
    pub async fn compliance_bundle(&self, e164: &str) -> Result<Download, ClientError> {
        let digits = e164.trim_start_matches('+');
        self.download(
            &format!("/compliance/numbers/{}/bundle", encode_phone(e164)),
            &format!("evidence-bundle-{digits}.zip"),
        )
        .await
    }

    /// The organization's whole consent record, for download.
    pub async fn organization_export(&self, format: ExportFormat) -> Result<Download, ClientError> {
        self.download(
            &format!("/consent/export?format={}", format.param()),
            &format!("consent-record.{}", format.extension()),
        )
        .await
    }

    /// An event's evidence as stored: the provider's raw body, hashes.
    pub async fn raw_evidence(&self, event_id: i64) -> Result<RawEvidence, ClientError> {
        decode(
            self.get(&format!("/compliance/events/{event_id}/raw"))
                .send()
                .await,
        )
        .await
    }

    /// Verifies the organization's hash chain now.
    pub async fn chain_status(&self) -> Result<ChainStatus, ClientError> {
        decode(self.get("/compliance/chain").send().await).await
    }

    /// The organization's advisors (for the advisor filter).
    pub async fn compliance_advisors(&self) -> Result<Vec<AdvisorSummary>, ClientError> {
        decode(self.get("/compliance/advisors").send().await).await
    }

    /// Messages of the organization flagged as possible requests to stop (compliance).
    pub async fn compliance_stop_flags(&self) -> Result<Vec<StopFlag>, ClientError> {
        decode(self.get("/compliance/stop-flags").send().await).await
    }

    /// Parts of the organization's webhooks kept for review (compliance).
    pub async fn compliance_reviews(&self) -> Result<Vec<WebhookReview>, ClientError> {
        decode(self.get("/compliance/reviews").send().await).await
    }

    /// The newest entries of the access log: who read or exported what (compliance).
    pub async fn compliance_access_log(&self, limit: u32) -> Result<AccessLogPage, ClientError> {
        decode(
            self.get("/compliance/access-log")
                .query([("limit", limit.to_string())])
                .send()
                .await,
        )
        .await
    }

    /// The organization's retention period and legal holds (compliance).
    pub async fn compliance_holds(&self) -> Result<Retention, ClientError> {
        decode(self.get("/compliance/holds").send().await).await
    }

    /// Places a legal hold on a number, or on the whole organization.
    pub async fn place_hold(&self, hold: &NewLegalHold) -> Result<LegalHold, ClientError> {
        let request = self
            .post("/compliance/holds")
            .json(hold)
            .map_err(unexpected)?;
        decode(request.send().await).await
    }

    /// Releases a legal hold.
    pub async fn release_hold(&self, id: i64) -> Result<LegalHold, ClientError> {
        decode(
            self.post(&format!("/compliance/holds/{id}/release"))
                .send()
                .await,
        )
        .await
    }

    /// Records a revocation the contact gave by other means: for one of the
    /// advisor's contacts, or (compliance) for a number of the organization.
    pub async fn record_revocation(
        &self,
        on: Subject,
        revocation: &NewRevocation,
    ) -> Result<ConsentSnapshot, ClientError> {
        let request = self
            .post(&format!("{}/revocations", on.path()))
            .json(revocation)
            .map_err(unexpected)?;
        decode(request.send().await).await
    }

    /// Decides a message flagged as a possible request to stop.
    pub async fn resolve_stop_flag(
        &self,
        on: Subject,
        resolve: &ResolveStopFlag,
    ) -> Result<ConsentSnapshot, ClientError> {
        let request = self
            .post(&format!("{}/stop-flags/resolve", on.path()))
            .json(resolve)
            .map_err(unexpected)?;
        decode(request.send().await).await
    }

    /// The organization's approved message templates.
    pub async fn templates(&self) -> Result<Vec<TemplateView>, ClientError> {
        decode(self.get("/templates").send().await).await
    }

    /// Sends a WhatsApp template or free text.
    pub async fn send_message(
        &self,
        id: i64,
        message: &OutgoingMessage,
    ) -> Result<Queued, ClientError> {
        let request = self
            .post(&format!("/contacts/{id}/messages"))
            .json(message)
            .map_err(unexpected)?;
        decode(request.send().await).await
    }

    /// Sends an SMS.
    pub async fn send_sms(&self, id: i64, sms: &OutgoingSms) -> Result<Queued, ClientError> {
        let request = self
            .post(&format!("/contacts/{id}/sms"))
            .json(sms)
            .map_err(unexpected)?;
        decode(request.send().await).await
    }

    /// Opens the live event stream (Server-Sent Events). `EventSource` cannot
    /// send the bearer token, so this is a streaming `fetch`; the caller reads
    /// the body and stops it through `abort`.
    pub async fn open_events(
        &self,
        last_event_id: Option<i64>,
        abort: &web_sys::AbortSignal,
    ) -> Result<web_sys::ReadableStream, ClientError> {
        let mut request = self
            .get("/events")
            .header("Accept", "text/event-stream")
            .cache(web_sys::RequestCache::NoStore)
            .abort_signal(Some(abort));
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", &id.to_string());
        }
        let response = request.send().await.map_err(|_| ClientError::Offline)?;
        match response.status() {
            200 => response
                .body()
                .ok_or_else(|| ClientError::Unexpected("the event stream has no body".into())),
            _ => Err(refusal(response).await),
        }
    }
}

/// An answer the page asked for before the app started: `index.html`'s
/// inline script asks for an advisor's first screen (`GET /me` and the
/// list's first page) while the wasm downloads, a round trip sooner than the
/// app could. Each is taken once, and only by a request for the same address
/// with the same token; otherwise (or if it failed) the app asks itself.
/// Once nothing is left to take (or it was asked with another token), the
/// page's global goes, and with it its copy of the token.
async fn early_answer(url: &str, token: &str) -> Option<Response> {
    use js_sys::Reflect;
    let global = js_sys::global();
    let name = wasm_bindgen::JsValue::from_str("__optinEarly");
    let early = Reflect::get(&global, &name).ok()?;
    if Reflect::get(&early, &"token".into()).ok()?.as_string()? != token {
        let _ = Reflect::delete_property(&global, &name);
        return None;
    }
    let answers: js_sys::Object = Reflect::get(&early, &"answers".into())
        .ok()?
        .dyn_into()
        .ok()?;
    let key = wasm_bindgen::JsValue::from_str(url);
    let answer: js_sys::Promise = Reflect::get(&answers, &key).ok()?.dyn_into().ok()?;
    Reflect::delete_property(&answers, &key).ok()?;
    if js_sys::Object::keys(&answers).length() == 0 {
        let _ = Reflect::delete_property(&global, &name);
    }
    let response = wasm_bindgen_futures::JsFuture::from(answer).await.ok()?;
    response
        .dyn_into::<web_sys::Response>()
        .ok()
        .map(Response::from)
}

/// A request that could not even be built or read.
pub fn unexpected(error: gloo_net::Error) -> ClientError {
    ClientError::Unexpected(error.to_string())
}

/// The JSON body of a 2xx answer, or the refusal as a `ClientError`.
pub async fn decode<T: DeserializeOwned>(
    sent: Result<Response, gloo_net::Error>,
) -> Result<T, ClientError> {
    let text = body_text(sent).await?;
    serde_json::from_str(&text).map_err(|e| unexpected(e.into()))
}

/// The text of a 2xx answer: one copy of the reading and refusal code in the
/// wasm, not one inside every answer type's `decode`.
async fn body_text(sent: Result<Response, gloo_net::Error>) -> Result<String, ClientError> {
    let response = sent.map_err(|_| ClientError::Offline)?;
    if (200..300).contains(&response.status()) {
        return response.text().await.map_err(unexpected);
    }
    Err(refusal(response).await)
}

/// For calls whose answer body does not matter, only that it was accepted.
pub async fn accepted(sent: Result<Response, gloo_net::Error>) -> Result<(), ClientError> {
    let response = sent.map_err(|_| ClientError::Offline)?;
    if (200..300).contains(&response.status()) {
        Ok(())
    } else {
        Err(refusal(response).await)
    }
}

async fn refusal(response: Response) -> ClientError {
    let status = response.status();
    if status == 401 {
        return ClientError::SignedOut;
    }
    match response.json::<ErrorBody>().await {
        Ok(body) => ClientError::Refused {
            status,
            code: body.code,
            message: body.message,
            field: body.field,
            allowed_at: body.allowed_at,
        },
        Err(_) => ClientError::Unexpected(format!("HTTP {status}")),
    }
}
