//! A real service on a real socket with a temporary database, and helpers to
//! call it as the app, the providers and the contact would.
#![allow(dead_code)]

use std::time::Duration;

use optin_server::store::seed::DemoAdvisor;
use optin_server::store::{Database, Store, StoreResult};
use optin_server::{launch, Config, Service};
use serde_json::Value;

/// A fixed Ed25519 key (PEM, PKCS#8) that signs checkpoints in the tests
/// that run in production mode. A test key: it signs nothing real.
pub const TEST_CHECKPOINT_KEY: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIF78RXhYLPreZZXt39BXQHkvDAefaziug5AnjxFEnN4N
-----END PRIVATE KEY-----
";

pub struct TestService {
    pub service: Service,
    pub base: String,
    pub http: reqwest::Client,
    pub jane: String,
    pub sam: String,
    /// Casey Morgan, the demo organization's compliance officer.
    pub compliance: String,
    _dir: tempfile::TempDir,
}

/// The environment variable that runs the tests on PostgreSQL: the URL of a
/// server where the tests may create databases (`cargo xtask test` starts a
/// throwaway one for its second run). Unset: every test on its own SQLite file.
pub const POSTGRES_SERVER: &str = "OPTIN_TEST_DATABASE_URL";

/// The database a test keeps at `path`: that SQLite file, or, when
/// [`POSTGRES_SERVER`] is set, a PostgreSQL database of its own named after
/// the path (created when missing), so reopening the same path reopens the
/// same data on either engine.
pub fn database_at(path: &std::path::Path) -> Database {
    let Some(server) = std::env::var(POSTGRES_SERVER)
        .ok()
        .filter(|url| !url.is_empty())
    else {
        return Database::Sqlite(path.to_owned());
    };
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    path.hash(&mut hasher);
    let name = format!("optin_test_{:016x}", hasher.finish());
    let (prefix, _) = server
        .split('?')
        .next()
        .and_then(|url| url.rsplit_once('/'))
        .expect("OPTIN_TEST_DATABASE_URL is postgres://user@host:port/database");
    let url = format!("{prefix}/{name}");
    // On a thread of its own: callers may be inside a runtime already.
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async {
                use sqlx::Connection;
                let mut admin = sqlx::PgConnection::connect(&server)
                    .await
                    .expect("the test PostgreSQL server answers");
                let exists: Option<i32> =
                    sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
                        .bind(&name)
                        .fetch_optional(&mut admin)
                        .await
                        .unwrap();
                if exists.is_none() {
                    sqlx::query(&format!("CREATE DATABASE {name}"))
                        .execute(&mut admin)
                        .await
                        .unwrap();
                }
            })
    })
    .join()
    .unwrap();
    Database::Postgres(url)
}

/// The tests' configuration for a data folder, on the engine the run asks
/// for (see [`database_at`]).
pub fn test_config(data_dir: std::path::PathBuf) -> Config {
    let mut config = Config::for_tests(data_dir);
    if let Database::Postgres(url) = database_at(&config.database_path()) {
        config.database_url = Some(url);
    }
    config
}

/// SQL that is true when the JSON object in the text column `column` has
/// `value` at `key`, on the store's engine.
pub fn json_field_is(store: &Store, column: &str, key: &str, value: &serde_json::Value) -> String {
    // SQLite's json_extract answers a number as a number, PostgreSQL's
    // `->>` everything as text.
    let literal = match (store.engine(), value) {
        (_, serde_json::Value::String(text)) => format!("'{text}'"),
        (optin_server::store::Engine::Sqlite, other) => other.to_string(),
        (optin_server::store::Engine::Postgres, other) => format!("'{other}'"),
    };
    format!("{} = {literal}", store.engine().json_text(column, key))
}

/// Opens the store a test keeps at `path` (see [`database_at`]).
pub async fn open_store(
    path: &std::path::Path,
    mode: optin_core::vocab::Mode,
) -> StoreResult<Store> {
    Store::connect(
        &database_at(path),
        mode,
        optin_server::store::DEFAULT_BUSY_TIMEOUT,
    )
    .await
}

pub async fn start() -> TestService {
    launch_in(tempfile::tempdir().unwrap(), true, |_| {}).await
}

impl TestService {
    /// Calls the API as an advisor; returns status and JSON body (Null when empty).
    pub async fn api(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        call_api(&self.http, &self.base, method, path, token, body).await
    }

    /// Id of one of Jane's contacts by name.
    pub async fn contact_id(&self, token: &str, name: &str) -> i64 {
        let (_, page) = self
            .api(
                "GET",
                &format!("/contacts?q={}", name.replace(' ', "%20")),
                token,
                None,
            )
            .await;
        page["items"][0]["id"]
            .as_i64()
            .unwrap_or_else(|| panic!("no contact named {name}"))
    }

    pub async fn consent(&self, token: &str, contact: i64) -> Value {
        self.api("GET", &format!("/contacts/{contact}/consent"), token, None)
            .await
            .1
    }

    /// Waits until the contact's consent view is `state`.
    pub async fn wait_for_state(&self, token: &str, contact: i64, state: &str) -> Value {
        let mut last = Value::Null;
        for _ in 0..100 {
            last = self.consent(token, contact).await;
            if last["state"] == state {
                return last;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("consent never became {state}; last seen {last}");
    }

    /// Posts a body to the WhatsApp webhook with the given signature header.
    pub async fn post_whatsapp_webhook(&self, body: &str, signature: Option<String>) -> u16 {
        let mut request = self
            .http
            .post(format!("{}/webhooks/whatsapp", self.base))
            .header("content-type", "application/json")
            .body(body.to_owned());
        if let Some(signature) = signature {
            request = request.header("X-Hub-Signature-256", signature);
        }
        request.send().await.unwrap().status().as_u16()
    }

    /// Posts a form to the SMS webhook, signed as the SMS provider signs.
    pub async fn signed_sms_form<K: AsRef<str>, V: AsRef<str>>(&self, params: &[(K, V)]) -> u16 {
        let params: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| (k.as_ref().to_owned(), v.as_ref().to_owned()))
            .collect();
        let settings = &self.service.state.providers.settings;
        let url = format!("{}/webhooks/sms", settings.public_url);
        let signature = optin_server::providers::signature::twilio_signature(
            &settings.sms.auth_token,
            &url,
            &params,
        );
        self.http
            .post(format!("{}/webhooks/sms", self.base))
            .header("X-Twilio-Signature", signature)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(&params).unwrap())
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// Posts a correctly signed WhatsApp webhook.
    pub async fn signed_whatsapp_webhook(&self, body: &str) -> u16 {
        let secret = &self.service.state.providers.settings.app_secret;
        let signature = optin_server::providers::signature::meta_signature(secret, body.as_bytes());
        self.post_whatsapp_webhook(body, Some(signature)).await
    }

    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(self.service.state.store.pool())
            .await
            .unwrap()
    }
}

/// Posts `body` to `{base}/webhooks/whatsapp`, signed with `secret` as Meta
/// signs it; the answer's status.
pub async fn post_signed_whatsapp(
    http: &reqwest::Client,
    base: &str,
    secret: &str,
    body: String,
) -> u16 {
    let signature = optin_server::providers::signature::meta_signature(secret, body.as_bytes());
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

/// Calls `{base}/api/v1{path}` with a bearer token; returns status and JSON
/// body (Null when empty).
pub async fn call_api(
    http: &reqwest::Client,
    base: &str,
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = http
        .request(method, format!("{base}/api/v1{path}"))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// A new integration-scoped API key of an organization, never expiring.
pub async fn integration_key(
    store: &optin_server::store::Store,
    organization: i64,
    name: &str,
) -> String {
    store
        .create_api_key(
            organization,
            name,
            optin_core::admin::KeyScope::Integration,
            None,
            chrono::Utc::now(),
        )
        .await
        .unwrap()
        .0
}

/// The demo organization's WhatsApp number, as the outbox sends from it.
pub fn demo_sender() -> optin_server::providers::WhatsAppSender {
    optin_server::providers::WhatsAppSender {
        phone_number_id: optin_server::store::seed::SANDBOX_PHONE_NUMBER_ID.into(),
        access_token: None,
    }
}

/// A webhook envelope around `value` (messages/statuses), shaped like Meta's.
pub fn envelope(value: Value) -> String {
    let mut value = value;
    value["messaging_product"] = "whatsapp".into();
    value["metadata"] = serde_json::json!({
        "display_phone_number": "15550001111",
        "phone_number_id": optin_server::store::seed::SANDBOX_PHONE_NUMBER_ID,
    });
    serde_json::json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": value}]}]
    })
    .to_string()
}

/// Like [`start`], but without the outbox worker: jobs are committed and stay
/// pending until the test drains them (`optin_server::outbox::drain`) or restarts.
pub async fn start_without_outbox_worker() -> TestService {
    launch_in(tempfile::tempdir().unwrap(), false, |_| {}).await
}

/// Starts the service on the data in `dir`, with `configure` applied to the
/// test config, with or without its outbox worker.
pub async fn launch_in(
    dir: tempfile::TempDir,
    outbox_worker: bool,
    configure: impl FnOnce(&mut Config),
) -> TestService {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let mut config = test_config(dir.path().to_path_buf());
    configure(&mut config);
    let tokens = config.demo_tokens_path();
    let service = if outbox_worker {
        launch(config).await.unwrap()
    } else {
        optin_server::launch_without_outbox_worker(config)
            .await
            .unwrap()
    };
    let advisors: Vec<DemoAdvisor> =
        serde_json::from_slice(&std::fs::read(tokens).unwrap()).unwrap();
    TestService {
        base: format!("http://{}", service.addr),
        service,
        http: reqwest::Client::new(),
        jane: advisors[0].token.clone(),
        sam: advisors[1].token.clone(),
        compliance: advisors[2].token.clone(),
        _dir: dir,
    }
}

impl TestService {
    /// Stops the service cleanly (it signs its last checkpoints) and hands
    /// back its data folder.
    pub async fn stop_keeping_data(self) -> tempfile::TempDir {
        let TestService { service, _dir, .. } = self;
        service.stop().await;
        _dir
    }

    /// Stops the service and starts it again on the same data (a new port),
    /// with its outbox worker, as after a crash and a restart.
    pub async fn restart(self) -> TestService {
        let TestService { service, _dir, .. } = self;
        service.stop().await;
        launch_in(_dir, true, |_| {}).await
    }
}
pub mod archive_feed;
pub mod extra;
pub mod routes;
pub mod sse;

impl TestService {
    /// Another instance of the same service, as a firm runs several behind
    /// a load balancer: the same database (PostgreSQL) and provider secrets,
    /// its own data folder, and providers reached at `first`'s address (one
    /// sandbox, as there is one Meta). Its people are `first`'s.
    pub async fn launch_beside(&self) -> TestService {
        self.launch_beside_with(|_| {}).await
    }

    /// [`TestService::launch_beside`], with `configure` applied to its config.
    pub async fn launch_beside_with(&self, configure: impl FnOnce(&mut Config)) -> TestService {
        let settings = &self.service.state.providers.settings;
        let dir = tempfile::tempdir().unwrap();
        let mut config = test_config(dir.path().to_path_buf());
        config.database_url = self.service.state.config.database_url.clone();
        config.public_url = Some(self.base.clone());
        config.wa_app_secret = Some(settings.app_secret.clone());
        config.wa_access_token = Some(settings.whatsapp.access_token.clone());
        config.sms_auth_token = Some(settings.sms.auth_token.clone());
        configure(&mut config);
        let service = launch(config).await.unwrap();
        TestService {
            base: format!("http://{}", service.addr),
            service,
            http: reqwest::Client::new(),
            jane: self.jane.clone(),
            sam: self.sam.clone(),
            compliance: self.compliance.clone(),
            _dir: dir,
        }
    }
}
