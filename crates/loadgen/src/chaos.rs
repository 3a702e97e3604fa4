//! The load and the stand-in provider behind `cargo xtask chaos`.
//!
//! - `chaos-webhooks`: signed inbound webhooks for a fixed time while xtask
//!   kills and restarts the service; each webhook is redelivered until it is
//!   acknowledged (as Meta does), optionally while another process holds the
//!   database's write lock; then checks every acknowledged one was applied
//!   exactly once.
//! - `provider-faults`: a stand-in for the Graph API and Twilio that injects
//!   one fault into the first attempt of some sends, counts what it accepted
//!   per recipient, and answers with status webhooks (signed with the app
//!   secret, echoing `biz_opaque_callback_data`) as Meta does; it drives the
//!   service's API itself (mint a token, add contacts, request opt-ins).
//!
//! Traffic goes only to loopback addresses; every loop is bounded in time.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use optin_server::providers::signature::meta_signature;
use serde_json::{json, Value};
use sqlx::Connection;

use crate::{check_stored, http_client, inbound_webhook, merge, open_db, round3, Error};

// ------------------------------------------------------------ webhooks

/// Settings of a `chaos-webhooks` run.
pub struct WebhookChaos {
    pub base: String,
    pub secret: String,
    pub db: PathBuf,
    pub seconds: u64,
    pub concurrency: usize,
    /// Offsets (seconds from the start) at which to take the database's
    /// write lock from this process.
    pub lock_at: Vec<u64>,
    pub lock_seconds: u64,
}

pub async fn webhooks(run: WebhookChaos) -> Result<Value, Error> {
    let url = format!("{}/webhooks/whatsapp", run.base.trim_end_matches('/'));
    let run_id = &uuid::Uuid::new_v4().simple().to_string()[..10];
    let prefix = format!("wamid.chaos{run_id}.");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    // Short: a request to a killed service fails at once, one to a stalled
    // database must not hold a worker past the run.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(8))
        .build()?;
    let started = Instant::now();
    let deadline = started + Duration::from_secs(run.seconds);
    let locks = tokio::spawn(hold_locks(
        run.db.clone(),
        started,
        run.lock_at.clone(),
        run.lock_seconds,
    ));
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..run.concurrency.max(1) {
        let (client, url, next, prefix, secret) = (
            client.clone(),
            url.clone(),
            next.clone(),
            prefix.clone(),
            run.secret.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            let mut statuses: HashMap<String, usize> = HashMap::new();
            'items: loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let wamid = format!("{prefix}{i:08}");
                let from = format!("4475{:08}", 10_000_000 + i);
                let body = inbound_webhook(&wamid, &from, now);
                let signature = meta_signature(&secret, body.as_bytes());
                // Redelivered until acknowledged, as the providers do.
                loop {
                    if Instant::now() >= deadline {
                        break 'items;
                    }
                    let outcome = client
                        .post(&url)
                        .header("content-type", "application/json")
                        .header("x-hub-signature-256", &signature)
                        .body(body.clone())
                        .send()
                        .await;
                    let key = match outcome {
                        Ok(response) => {
                            let status = response.status().as_u16();
                            let _ = response.bytes().await;
                            status.to_string()
                        }
                        Err(e) if e.is_timeout() => "timeout".into(),
                        Err(e) if e.is_connect() => "connect".into(),
                        Err(_) => "error".into(),
                    };
                    *statuses.entry(key.clone()).or_default() += 1;
                    if key == "200" {
                        acknowledged.push(wamid);
                        continue 'items;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
            (acknowledged, statuses)
        }));
    }
    let mut acknowledged = HashSet::new();
    let mut statuses: HashMap<String, usize> = HashMap::new();
    for worker in workers {
        let (acked, seen) = worker.await?;
        acknowledged.extend(acked);
        for (key, n) in seen {
            *statuses.entry(key).or_default() += n;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let locks = locks.await??;
    let stored = check_stored(&run.db, &prefix, &acknowledged).await?;
    let mut report = json!({
        "seconds": round3(seconds),
        "concurrency": run.concurrency,
        "acknowledged": acknowledged.len(),
        "responses": statuses,
        "locks_held_s": locks,
    });
    merge(&mut report, stored);
    Ok(report)
}

/// Takes the database's write lock (`BEGIN EXCLUSIVE`) at each offset and
/// holds it: the service's writes wait, then fail, as under a stuck writer.
async fn hold_locks(
    db: PathBuf,
    started: Instant,
    offsets: Vec<u64>,
    seconds: u64,
) -> Result<Vec<f64>, Error> {
    let mut held = Vec::new();
    for offset in offsets {
        let at = started + Duration::from_secs(offset);
        tokio::time::sleep_until(at.into()).await;
        let mut connection = open_db(&db, false).await?;
        sqlx::query("BEGIN EXCLUSIVE")
            .execute(&mut connection)
            .await?;
        let taken = Instant::now();
        eprintln!("[loadgen] holding the database's write lock for {seconds} s");
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        sqlx::query("ROLLBACK").execute(&mut connection).await?;
        connection.close().await?;
        held.push(round3(taken.elapsed().as_secs_f64()));
    }
    Ok(held)
}

// ------------------------------------------------------- provider faults

/// What the stand-in provider does to the first attempt of a faulty send.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Fault {
    /// Answers 500 (a provider fault); the retry is accepted.
    ServerError,
    /// Answers 429 with Meta's throttling code; the retry is accepted.
    Throttled,
    /// Never answers in time and sends nothing; the retry is accepted.
    Timeout,
    /// Sends the message but answers only after the caller's timeout.
    HangThenAccept,
    /// Sends the message, then the service is killed before it hears so.
    CrashAfterAccept,
}

/// Settings of a `provider-faults` run.
pub struct ProviderChaos {
    /// Where the stand-in listens (the service's `--wa-graph-base` and `--sms-base`).
    pub listen: SocketAddr,
    /// The service.
    pub base: String,
    /// The app secret status webhooks are signed with.
    pub secret: String,
    /// An integration key, to mint an advisor's token.
    pub crm_key: String,
    /// The advisor's CRM id.
    pub advisor: String,
    pub fault: Fault,
    /// Contacts asked to opt in; the first `faulty` get the fault.
    pub contacts: usize,
    pub faulty: usize,
    /// How long a hung answer waits (past the service's 10 s timeout).
    pub hang_seconds: u64,
    /// File holding the service's current process id (crash after accept).
    pub pid_file: PathBuf,
    pub seconds: u64,
}

/// The stand-in's shared state.
struct Provider {
    fault: Fault,
    faulty: HashSet<String>,
    hang: Duration,
    base: String,
    secret: String,
    pid_file: PathBuf,
    http: reqwest::Client,
    tally: Mutex<Tally>,
    /// Set once every opt-in has been requested: a fault (a kill above all)
    /// must not cut the advisor's own API calls short.
    armed: AtomicBool,
}

#[derive(Default)]
struct Tally {
    /// Calls per recipient (wa_id digits or E.164), any outcome.
    calls: HashMap<String, usize>,
    /// Sends the provider carried out per recipient.
    accepted: HashMap<String, usize>,
    /// Faults injected.
    faults: usize,
    /// Kills of the service done by the stand-in.
    kills: usize,
    /// Sends that carried `biz_opaque_callback_data`.
    with_callback_data: usize,
    /// Status webhooks acknowledged by the service / given up.
    statuses_acknowledged: usize,
    statuses_unacknowledged: usize,
    next_id: usize,
}

pub async fn provider_faults(run: ProviderChaos) -> Result<Value, Error> {
    let phones: Vec<String> = (0..run.contacts)
        .map(|i| format!("+4479111230{:02}", i + 10))
        .collect();
    let provider = Arc::new(Provider {
        fault: run.fault,
        faulty: phones
            .iter()
            .take(run.faulty)
            .map(|p| p.trim_start_matches('+').to_owned())
            .collect(),
        hang: Duration::from_secs(run.hang_seconds),
        base: run.base.trim_end_matches('/').to_owned(),
        secret: run.secret.clone(),
        pid_file: run.pid_file.clone(),
        http: http_client(4)?,
        tally: Mutex::new(Tally::default()),
        armed: AtomicBool::new(false),
    });
    let app = Router::new()
        .route("/{version}/{phone_number_id}/messages", post(graph_send))
        .route(
            "/2010-04-01/Accounts/{sid}/Messages.json",
            post(twilio_send),
        )
        .with_state(provider.clone());
    let listener = tokio::net::TcpListener::bind(run.listen).await?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let started = Instant::now();
    let deadline = started + Duration::from_secs(run.seconds);

    // The advisor asks each contact to opt in.
    let api = Api::connect(&run, deadline).await?;
    let mut requested = Vec::new();
    for (i, phone) in phones.iter().enumerate() {
        let contact = api
            .call(
                reqwest::Method::POST,
                "/contacts",
                Some(json!({"name": format!("Chaos Contact {i}"), "phone": phone})),
            )
            .await?;
        let id = contact.1["id"]
            .as_i64()
            .ok_or_else(|| format!("no contact created: {contact:?}"))?;
        let (status, body) = api
            .call(
                reqwest::Method::POST,
                &format!("/contacts/{id}/opt-in"),
                None,
            )
            .await?;
        if status == 202 {
            requested.push(phone.trim_start_matches('+').to_owned());
        } else {
            eprintln!("[loadgen] opt-in request refused: {status} {body}");
        }
    }
    provider.armed.store(true, Ordering::SeqCst);
    // Until the deadline: every request sent, and time for any re-send.
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let tally = provider.tally.lock().expect("the tally");
    let sends: Vec<usize> = requested
        .iter()
        .map(|p| tally.accepted.get(p).copied().unwrap_or(0))
        .collect();
    let lost = sends.iter().filter(|n| **n == 0).count();
    let duplicates: usize = sends.iter().map(|n| n.saturating_sub(1)).sum();
    let unrequested: usize = tally
        .accepted
        .iter()
        .filter(|(p, _)| !requested.contains(p))
        .map(|(_, n)| n)
        .sum();
    Ok(json!({
        "fault": format!("{:?}", run.fault),
        "seconds": round3(started.elapsed().as_secs_f64()),
        "contacts": run.contacts,
        "faulty": run.faulty,
        "acknowledged": requested.len(),
        "calls": tally.calls.values().sum::<usize>(),
        "faults_injected": tally.faults,
        "sends_per_job": sends,
        "lost": lost,
        "duplicate_sends": duplicates + unrequested,
        "kills": tally.kills,
        "sends_with_callback_data": tally.with_callback_data,
        "statuses_acknowledged": tally.statuses_acknowledged,
        "statuses_unacknowledged": tally.statuses_unacknowledged,
    }))
}

/// The service's API as the advisor.
struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    /// Waits for the service, then mints the advisor's token.
    async fn connect(run: &ProviderChaos, deadline: Instant) -> Result<Self, Error> {
        let http = http_client(2)?;
        let base = format!("{}/api/v1", run.base.trim_end_matches('/'));
        loop {
            let minted = http
                .post(format!("{base}/integrations/advisor-tokens"))
                .bearer_auth(&run.crm_key)
                .json(&json!({"advisor_external_id": run.advisor}))
                .send()
                .await;
            if let Ok(response) = minted {
                let status = response.status();
                let body: Value = response.json().await.unwrap_or(Value::Null);
                match body["token"].as_str() {
                    Some(token) => {
                        return Ok(Self {
                            http,
                            base,
                            token: token.to_owned(),
                        })
                    }
                    None => return Err(format!("no advisor token: {status} {body}").into()),
                }
            }
            if Instant::now() >= deadline {
                return Err("the service never answered".into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<(u16, Value), Error> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        Ok((status, response.json().await.unwrap_or(Value::Null)))
    }
}

/// `POST /{version}/{phone_number_id}/messages`, as the Cloud API.
async fn graph_send(
    State(provider): State<Arc<Provider>>,
    Path((_version, phone_number_id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let Ok(message) = serde_json::from_slice::<Value>(&body) else {
        return graph_error(StatusCode::BAD_REQUEST, 100, "Invalid parameter");
    };
    let to = message["to"]
        .as_str()
        .unwrap_or_default()
        .trim_start_matches('+')
        .to_owned();
    let callback = message["biz_opaque_callback_data"]
        .as_str()
        .map(str::to_owned);
    provider.wait_until_armed(&to).await;
    match provider.decide(&to, callback.is_some()) {
        Decision::Refuse(status) => graph_fault(status),
        Decision::Accept { id, then } => {
            let answer = Json(json!({
                "messaging_product": "whatsapp",
                "contacts": [{"input": message["to"], "wa_id": to}],
                "messages": [{"id": id, "message_status": "accepted"}],
            }));
            provider.report_sent(&id, &to, callback, &phone_number_id);
            provider.after_accept(then).await;
            answer.into_response()
        }
        Decision::Hang => {
            tokio::time::sleep(provider.hang).await;
            graph_fault(StatusCode::INTERNAL_SERVER_ERROR)
        }
    }
}

/// `POST /2010-04-01/Accounts/{sid}/Messages.json`, as Twilio.
async fn twilio_send(State(provider): State<Arc<Provider>>, body: Bytes) -> Response {
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let to = field("To").trim_start_matches('+').to_owned();
    provider.wait_until_armed(&to).await;
    match provider.decide(&to, false) {
        Decision::Refuse(status) => (
            status,
            Json(json!({"code": 20429, "message": "Too Many Requests", "status": status.as_u16()})),
        )
            .into_response(),
        Decision::Accept { id, then } => {
            provider.after_accept(then).await;
            (
                StatusCode::CREATED,
                Json(json!({
                    "sid": id.replace("wamid.", "SM"),
                    "status": "queued",
                    "to": field("To"),
                    "from": field("From"),
                    "body": field("Body"),
                })),
            )
                .into_response()
        }
        Decision::Hang => {
            tokio::time::sleep(provider.hang).await;
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

enum Decision {
    Refuse(StatusCode),
    Hang,
    Accept { id: String, then: AfterAccept },
}

/// What happens between sending and answering.
#[derive(Clone, Copy)]
enum AfterAccept {
    Answer,
    HangFirst,
    KillTheService,
}

impl Provider {
    /// Holds a faulty recipient's call (at most 5 s, within the caller's
    /// timeout) until the advisor's API calls are done.
    async fn wait_until_armed(&self, to: &str) {
        let until = Instant::now() + Duration::from_secs(5);
        while self.faulty.contains(to)
            && !self.armed.load(Ordering::SeqCst)
            && Instant::now() < until
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The first call for a faulty recipient gets the fault; every other is sent.
    fn decide(&self, to: &str, with_callback_data: bool) -> Decision {
        let mut tally = self.tally.lock().expect("the tally");
        let calls = tally.calls.entry(to.to_owned()).or_default();
        *calls += 1;
        let first = *calls == 1 && self.faulty.contains(to);
        if first {
            tally.faults += 1;
            match self.fault {
                Fault::ServerError => return Decision::Refuse(StatusCode::INTERNAL_SERVER_ERROR),
                Fault::Throttled => return Decision::Refuse(StatusCode::TOO_MANY_REQUESTS),
                Fault::Timeout => return Decision::Hang,
                Fault::HangThenAccept | Fault::CrashAfterAccept => {}
            }
        }
        *tally.accepted.entry(to.to_owned()).or_default() += 1;
        if with_callback_data {
            tally.with_callback_data += 1;
        }
        tally.next_id += 1;
        let id = format!("wamid.CHAOS{:06}", tally.next_id);
        let then = match (first, self.fault) {
            (true, Fault::HangThenAccept) => AfterAccept::HangFirst,
            (true, Fault::CrashAfterAccept) => AfterAccept::KillTheService,
            _ => AfterAccept::Answer,
        };
        Decision::Accept { id, then }
    }

    async fn after_accept(&self, then: AfterAccept) {
        match then {
            AfterAccept::Answer => {}
            AfterAccept::HangFirst => tokio::time::sleep(self.hang).await,
            AfterAccept::KillTheService => {
                let pid = std::fs::read_to_string(&self.pid_file).unwrap_or_default();
                let pid = pid.trim();
                if !pid.is_empty() {
                    // Counted first: once the service dies, its connection
                    // closes and this handler is dropped.
                    self.tally.lock().expect("the tally").kills += 1;
                    let _ = tokio::process::Command::new("kill")
                        .args(["-KILL", pid])
                        .status()
                        .await;
                }
            }
        }
    }

    /// Meta's `sent` status for an accepted message, echoing the send's
    /// `biz_opaque_callback_data`, posted (and redelivered until
    /// acknowledged, within a minute) to the service's webhook.
    fn report_sent(
        self: &Arc<Self>,
        id: &str,
        to: &str,
        callback: Option<String>,
        phone_number_id: &str,
    ) {
        let mut status = json!({
            "id": id,
            "status": "sent",
            "timestamp": std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0)
                .to_string(),
            "recipient_id": to,
        });
        if let Some(data) = callback {
            status["biz_opaque_callback_data"] = json!(data);
        }
        let body = json!({
            "object": "whatsapp_business_account",
            "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "12127365000", "phone_number_id": phone_number_id},
                "statuses": [status],
            }}]}],
        })
        .to_string();
        let provider = self.clone();
        tokio::spawn(async move {
            let signature = meta_signature(&provider.secret, body.as_bytes());
            let url = format!("{}/webhooks/whatsapp", provider.base);
            let give_up = Instant::now() + Duration::from_secs(60);
            // After the answer, as Meta's statuses follow the send.
            tokio::time::sleep(Duration::from_millis(200)).await;
            loop {
                let sent = provider
                    .http
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("x-hub-signature-256", &signature)
                    .body(body.clone())
                    .send()
                    .await;
                if sent.is_ok_and(|r| r.status() == StatusCode::OK) {
                    provider
                        .tally
                        .lock()
                        .expect("the tally")
                        .statuses_acknowledged += 1;
                    return;
                }
                if Instant::now() >= give_up {
                    provider
                        .tally
                        .lock()
                        .expect("the tally")
                        .statuses_unacknowledged += 1;
                    return;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        });
    }
}

fn graph_fault(status: StatusCode) -> Response {
    if status == StatusCode::TOO_MANY_REQUESTS {
        graph_error(status, 130429, "Rate limit hit")
    } else {
        graph_error(status, 1, "An unknown error occurred")
    }
}

/// A Graph API error body.
fn graph_error(status: StatusCode, code: i64, message: &str) -> Response {
    (
        status,
        Json(
            json!({"error": {"message": message, "type": "OAuthException", "code": code,
            "fbtrace_id": "chaos"}}),
        ),
    )
        .into_response()
}
