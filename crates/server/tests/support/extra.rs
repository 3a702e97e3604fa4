//! More helpers: the contact's phone in the sandbox, API calls as any
//! advisor, polling, a service with a custom config, a service without its
//! outbox worker, and a scripted stand-in for the Graph and SMS APIs.

use std::collections::VecDeque;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Json;

use optin_server::{AppState, Config};
use serde_json::{json, Value};

use super::TestService;

/// Kerry Fisher, Jane's first demo contact.
pub const KERRY: &str = "+447911123456";

/// `+` escaped for a path segment.
pub fn phone_path(e164: &str) -> String {
    e164.replace('+', "%2B")
}

/// Polls `probe` every 25 ms until it yields a value; panics after 10 s
/// with `what` and the last thing seen.
pub async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match probe().await {
            Ok(value) => return value,
            Err(last) if tokio::time::Instant::now() >= deadline => {
                panic!("{what} never happened; last seen: {last}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(25)).await,
        }
    }
}

/// Asserts a refusal by status and code.
#[track_caller]
pub fn assert_refused(reply: &(u16, Value), status: u16, code: &str) {
    assert_eq!(
        (reply.0, reply.1["code"].as_str()),
        (status, Some(code)),
        "expected {status} {code}, got {reply:?}"
    );
}

/// Runs the `optin-server` binary as an operator would, on the data folder
/// `dir` (its witness in `dir/witness` unless `env` says otherwise), with
/// only the given OPTIN_* variables.
pub fn run_binary(
    dir: &std::path::Path,
    env: &[(&str, &str)],
    args: &[&str],
) -> std::process::Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_optin-server"));
    for (key, _) in std::env::vars() {
        if key.starts_with("OPTIN_") {
            command.env_remove(key);
        }
    }
    if let optin_server::store::Database::Postgres(url) =
        super::database_at(&dir.join("optin.sqlite3"))
    {
        command.env("OPTIN_DATABASE_URL", url);
    }
    command
        .env("OPTIN_DATA_DIR", dir)
        .env("OPTIN_ADDR", "127.0.0.1:0")
        .env("OPTIN_WITNESS_DIR", dir.join("witness"))
        .envs(env.iter().copied())
        .args(args)
        .output()
        .unwrap()
}

/// What a run of the binary printed on standard error.
pub fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Every production setting (the witness folder is [`run_binary`]'s), as
/// environment variables.
pub const PRODUCTION: [(&str, &str); 7] = [
    ("OPTIN_PUBLIC_URL", "https://optin.example.com"),
    ("OPTIN_WA_ACCESS_TOKEN", "token"),
    ("OPTIN_WA_APP_SECRET", "secret"),
    ("OPTIN_WA_VERIFY_TOKEN", "verify"),
    ("OPTIN_SMS_ACCOUNT_SID", "ACx"),
    ("OPTIN_SMS_AUTH_TOKEN", "sms-secret"),
    ("OPTIN_CHECKPOINT_KEY", super::TEST_CHECKPOINT_KEY),
];

/// Drops the consent record's append-only triggers, as anyone with write
/// access to the database (file) can.
pub async fn drop_guards(store: &optin_server::store::Store) {
    // PostgreSQL names a trigger with its table.
    let on_table = match store.engine() {
        optin_server::store::Engine::Sqlite => "",
        optin_server::store::Engine::Postgres => " ON consent_events",
    };
    for trigger in ["consent_events_no_update", "consent_events_no_delete"] {
        sqlx::query(&format!("DROP TRIGGER IF EXISTS {trigger}{on_table}"))
            .execute(store.pool())
            .await
            .unwrap();
    }
}

/// Runs `sql` on the consent record with its guards dropped.
pub async fn tamper(store: &optin_server::store::Store, sql: &str) {
    drop_guards(store).await;
    sqlx::query(sql).execute(store.pool()).await.unwrap();
}

/// Starts the service with `configure` applied to the test config.
pub async fn start_with(configure: impl FnOnce(&mut Config)) -> TestService {
    super::launch_in(tempfile::tempdir().unwrap(), true, configure).await
}

impl TestService {
    /// Calls the sandbox (the contact's phone, the clock).
    pub async fn sandbox_call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self
            .http
            .request(method, format!("{}/sandbox{path}", self.base));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// A number's compliance timeline (`GET /compliance/numbers/{phone}`) as
    /// `token` is answered.
    pub async fn number_timeline(&self, token: &str, e164: &str) -> (u16, Value) {
        let path = format!("/compliance/numbers/{}", phone_path(e164));
        self.api("GET", &path, token, None).await
    }

    /// Moves the shared clock forward through `POST /sandbox/clock/advance`.
    pub async fn advance_seconds(&self, seconds: i64) {
        let (status, body) = self
            .sandbox_call(
                "POST",
                "/clock/advance",
                Some(json!({ "seconds": seconds })),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }

    /// What the contact's phone received on `channel` so far.
    pub async fn phone_inbox(&self, e164: &str, channel: &str) -> Vec<Value> {
        let (status, phone) = self
            .sandbox_call("GET", &format!("/phones/{}", phone_path(e164)), None)
            .await;
        assert_eq!(status, 200, "{phone}");
        phone["messages"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|m| m["channel"] == channel && m["direction"] == "in")
            .collect()
    }

    /// Waits until the phone received exactly `count` messages on `channel`.
    pub async fn wait_inbox(&self, e164: &str, channel: &str, count: usize) -> Vec<Value> {
        eventually(&format!("{count} {channel} messages on {e164}"), || async {
            let inbox = self.phone_inbox(e164, channel).await;
            if inbox.len() == count {
                Ok(inbox)
            } else {
                Err(format!("{} messages: {inbox:?}", inbox.len()))
            }
        })
        .await
    }

    /// The contact writes `text` on `channel` from the sandbox phone.
    pub async fn contact_writes(&self, e164: &str, channel: &str, text: &str) {
        let (status, body) = self
            .sandbox_call(
                "POST",
                &format!("/phones/{}/reply", phone_path(e164)),
                Some(json!({"text": text, "channel": channel})),
            )
            .await;
        assert!(
            (200..300).contains(&status),
            "reply {text}: {status} {body}"
        );
    }

    /// The contact taps `answer` on the latest opt-in request on the phone.
    pub async fn contact_taps(&self, e164: &str, answer: &str) {
        let inbox = self.phone_inbox(e164, "whatsapp").await;
        let request = inbox
            .iter()
            .rev()
            .find(|m| m["buttons"].as_array().is_some_and(|b| !b.is_empty()))
            .expect("an opt-in request with buttons");
        let button = request["buttons"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["text"] == answer)
            .expect("the button");
        let (status, body) = self
            .sandbox_call(
                "POST",
                &format!("/phones/{}/tap", phone_path(e164)),
                Some(json!({"message_id": request["id"], "payload": button["payload"]})),
            )
            .await;
        assert!(
            (200..300).contains(&status),
            "tap {answer}: {status} {body}"
        );
    }

    /// `POST /contacts` as `token`; the new contact's id.
    pub async fn add_contact(&self, token: &str, name: &str, phone: &str) -> i64 {
        let (status, contact) = self
            .api(
                "POST",
                "/contacts",
                token,
                Some(json!({"name": name, "phone": phone})),
            )
            .await;
        assert_eq!(status, 201, "{contact}");
        contact["id"].as_i64().unwrap()
    }

    /// `POST /contacts/{id}/opt-in` as `token`, with an idempotency key.
    pub async fn opt_in_as(&self, token: &str, contact: i64, key: &str) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}/api/v1/contacts/{contact}/opt-in", self.base))
            .bearer_auth(token)
            .header("Idempotency-Key", key)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// `POST /contacts/{id}/opt-in/resend` as `token`.
    pub async fn resend_as(&self, token: &str, contact: i64) -> (u16, Value) {
        self.api(
            "POST",
            &format!("/contacts/{contact}/opt-in/resend"),
            token,
            None,
        )
        .await
    }

    /// `POST /contacts/{id}/messages` as `token`.
    pub async fn whatsapp_as(&self, token: &str, contact: i64, body: Value) -> (u16, Value) {
        self.api(
            "POST",
            &format!("/contacts/{contact}/messages"),
            token,
            Some(body),
        )
        .await
    }

    /// `POST /contacts/{id}/sms` as `token`.
    pub async fn sms_as(&self, token: &str, contact: i64, body: &str) -> (u16, Value) {
        self.api(
            "POST",
            &format!("/contacts/{contact}/sms"),
            token,
            Some(json!({ "body": body })),
        )
        .await
    }

    /// Waits until `token`'s view of `contact` satisfies `check`.
    pub async fn wait_consent(
        &self,
        token: &str,
        contact: i64,
        what: &str,
        check: impl Fn(&Value) -> bool,
    ) -> Value {
        eventually(what, || async {
            let consent = self.consent(token, contact).await;
            if check(&consent) {
                Ok(consent)
            } else {
                Err(consent.to_string())
            }
        })
        .await
    }
}

/// A template message body for `meeting_reminder`.
pub fn meeting_reminder(name: &str, when: &str) -> Value {
    json!({"type": "template", "name": "meeting_reminder", "language": "en_US", "parameters": [name, when]})
}

// ---------------------------------------------------------------------------
// A scripted provider
// ---------------------------------------------------------------------------

/// One call the fake provider received.
#[derive(Debug, Clone)]
pub struct ProviderCall {
    pub path: String,
    pub idempotency_key: Option<String>,
    pub body: String,
}

/// One scripted answer: after `delay`, the given status and body, or the
/// usual acceptance when `answer` is `None`.
struct Scripted {
    answer: Option<(u16, Value)>,
    delay: Duration,
}

#[derive(Default)]
struct FakeState {
    /// Answers to give, in order; once empty, every call is accepted at once.
    script: VecDeque<Scripted>,
    calls: Vec<ProviderCall>,
}

/// A stand-in for the Graph API and the SMS API on a local socket: answers
/// from a script (Graph error bodies, say, or an acceptance that takes its
/// time), then accepts every send. It has no idempotency guard, like Meta.
#[derive(Clone)]
pub struct FakeProvider {
    pub addr: SocketAddr,
    state: Arc<Mutex<FakeState>>,
}

impl FakeProvider {
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(FakeState::default()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = axum::Router::new()
            .fallback(fake_answer)
            .with_state(state.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self { addr, state }
    }

    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Queues answers for the next calls.
    pub fn script(&self, answers: impl IntoIterator<Item = (u16, Value)>) {
        self.state
            .lock()
            .unwrap()
            .script
            .extend(answers.into_iter().map(|answer| Scripted {
                answer: Some(answer),
                delay: Duration::ZERO,
            }));
    }

    /// The next call hangs for `delay`, then is accepted (the message is
    /// sent, whether or not the caller still listens).
    pub fn hang_then_accept(&self, delay: Duration) {
        self.state.lock().unwrap().script.push_back(Scripted {
            answer: None,
            delay,
        });
    }

    pub fn calls(&self) -> Vec<ProviderCall> {
        self.state.lock().unwrap().calls.clone()
    }

    /// Points `config` at this provider, in production mode (no sandbox).
    pub fn configure(&self, config: &mut Config) {
        config.sandbox = false;
        config.public_url = Some("http://127.0.0.1:9".into());
        config.wa_access_token = Some("fake-access-token".into());
        config.wa_graph_base = self.base();
        config.wa_app_secret = Some("fake-app-secret".into());
        config.wa_verify_token = Some("fake-verify-token".into());
        config.sms_base = self.base();
        config.sms_account_sid = Some("ACfake".into());
        config.sms_auth_token = Some("fake-sms-token".into());
        config.checkpoint_key = Some(super::TEST_CHECKPOINT_KEY.into());
        config.witness_dir = Some(config.data_dir.join("witness"));
    }
}

/// A Graph API error body, as Meta sends it.
pub fn graph_error(code: i64, message: &str) -> Value {
    json!({"error": {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "AbCdEf"}})
}

async fn fake_answer(
    State(state): State<Arc<Mutex<FakeState>>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: String,
) -> axum::response::Response {
    let (n, scripted) = {
        let mut state = state.lock().unwrap();
        state.calls.push(ProviderCall {
            path: uri.path().to_owned(),
            idempotency_key: headers
                .get("idempotency-key")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            body,
        });
        (state.calls.len(), state.script.pop_front())
    };
    let (answer, delay) = scripted.map_or((None, Duration::ZERO), |s| (s.answer, s.delay));
    tokio::time::sleep(delay).await;
    let (status, answer) = answer.unwrap_or_else(|| {
        if uri.path().ends_with("/Messages.json") {
            (
                201,
                json!({"sid": format!("SMFAKE{n}"), "status": "queued"}),
            )
        } else {
            (
                200,
                json!({"messaging_product": "whatsapp",
                       "contacts": [{"input": "x", "wa_id": "x"}],
                       "messages": [{"id": format!("wamid.FAKE{n}")}]}),
            )
        }
    });
    (StatusCode::from_u16(status).unwrap(), Json(answer)).into_response()
}

// ---------------------------------------------------------------------------
// A service without its outbox worker
// ---------------------------------------------------------------------------

/// The API on a real socket with the demo seeded, talking to a
/// [`FakeProvider`], but with no outbox worker: jobs go out only when the
/// test calls [`optin_server::outbox::drain`].
pub struct QuietService {
    pub state: AppState,
    pub base: String,
    pub http: reqwest::Client,
    pub jane: String,
    pub sam: String,
    pub provider: FakeProvider,
    pub config: Config,
    stop: tokio_util::sync::CancellationToken,
    server: tokio::task::JoinHandle<()>,
    pub dir: tempfile::TempDir,
}

impl QuietService {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Starts with `configure` applied after the fake provider's settings.
    pub async fn start_with(configure: impl FnOnce(&mut Config)) -> Self {
        let provider = FakeProvider::start().await;
        let dir = tempfile::tempdir().unwrap();
        let mut config = super::test_config(dir.path().to_path_buf());
        provider.configure(&mut config);
        configure(&mut config);
        std::fs::create_dir_all(&config.data_dir).unwrap();
        let store = super::open_store(&config.database_path(), config.mode())
            .await
            .unwrap();
        // The demo organization as a fixture (with the sandbox's numbers),
        // although the service runs in production mode against the fake.
        let advisors = store.seed_demo().await.unwrap().unwrap();
        std::fs::write(
            config.demo_tokens_path(),
            serde_json::to_vec(&advisors).unwrap(),
        )
        .unwrap();
        let listener = tokio::net::TcpListener::bind(config.addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = AppState::new(store, config.clone(), addr).unwrap();
        let stop = tokio_util::sync::CancellationToken::new();
        let server = tokio::spawn({
            let router = optin_server::app(state.clone());
            let stop = stop.clone();
            async move {
                axum::serve(listener, router)
                    .with_graceful_shutdown(async move { stop.cancelled().await })
                    .await
                    .unwrap();
            }
        });
        Self {
            state,
            base: format!("http://{addr}"),
            http: reqwest::Client::new(),
            jane: advisors[0].token.clone(),
            sam: advisors[1].token.clone(),
            provider,
            config,
            stop,
            server,
            dir,
        }
    }

    /// Ends this process's server and closes its database.
    pub async fn stop(self) -> (Config, FakeProvider, tempfile::TempDir, String) {
        self.stop.cancel();
        self.state.shutdown.cancel();
        let _ = self.server.await;
        self.state.store.pool().close().await;
        (self.config, self.provider, self.dir, self.jane)
    }

    /// Calls the API; status and JSON body.
    pub async fn api(
        &self,
        method: &str,
        path: &str,
        token: &str,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self
            .http
            .request(method, format!("{}/api/v1{path}", self.base))
            .bearer_auth(token);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Id of one of Jane's contacts by name.
    pub async fn jane_contact(&self, name: &str) -> i64 {
        let (_, page) = self
            .api("GET", &format!("/contacts?q={name}"), &self.jane, &[])
            .await;
        page["items"][0]["id"].as_i64().expect("the contact")
    }

    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(self.state.store.pool())
            .await
            .unwrap()
    }

    /// Posts `body` to the WhatsApp webhook, signed as Meta signs it.
    pub async fn signed_whatsapp(&self, body: &Value) -> u16 {
        signed_whatsapp(&self.http, &self.base, body).await
    }
}

/// Posts `body` to `{base}/webhooks/whatsapp`, signed with the fake
/// provider's app secret as Meta signs it.
pub async fn signed_whatsapp(http: &reqwest::Client, base: &str, body: &Value) -> u16 {
    let body = body.to_string();
    let signature =
        optin_server::providers::signature::meta_signature("fake-app-secret", body.as_bytes());
    http.post(format!("{base}/webhooks/whatsapp"))
        .header("content-type", "application/json")
        .header("X-Hub-Signature-256", signature)
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// The only outbox row: (state, attempts, next_attempt_at, last_error, idempotency_key).
pub async fn the_job(state: &AppState) -> (String, i64, String, Option<String>, String) {
    sqlx::query_as(
        "SELECT state, attempts, next_attempt_at, last_error, idempotency_key FROM outbox",
    )
    .fetch_one(state.store.pool())
    .await
    .unwrap()
}

/// A stored timestamp as a time.
pub fn parse_time(text: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&chrono::Utc)
}

/// Jane asks Kerry to opt in: one job, not sent yet.
pub async fn queue_request(t: &QuietService) {
    let kerry = t.jane_contact("Kerry").await;
    let (status, body) = t
        .api(
            "POST",
            &format!("/contacts/{kerry}/opt-in"),
            &t.jane,
            &[("Idempotency-Key", "outbox-test")],
        )
        .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["state"], "sending");
    let (state, attempts, ..) = the_job(&t.state).await;
    assert_eq!((state.as_str(), attempts), ("pending", 0));
}

/// A status webhook of Kerry's message `wamid`, carrying the send's
/// callback data, as Meta posts it.
pub fn status_carrying(wamid: &str, status: &str, key: &str) -> Value {
    json!({"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{
        "field": "messages",
        "value": {"messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550001111", "phone_number_id": optin_server::store::seed::SANDBOX_PHONE_NUMBER_ID},
            "statuses": [{"id": wamid, "status": status, "timestamp": "1764080002",
                "recipient_id": "447911123456", "biz_opaque_callback_data": key}]}}]}]})
}
