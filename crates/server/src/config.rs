//! Configuration, from flags or environment variables (see the README).

use std::net::SocketAddr;
use std::path::PathBuf;

use optin_core::vocab::Mode;

use crate::providers::sms::SmsConfig;
use crate::providers::whatsapp::WhatsAppConfig;

/// Settings of a running service.
#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// Run against the built-in sandbox instead of Meta and the SMS provider
    /// (builds with the `sandbox` feature; loopback addresses only; seeds demo data).
    #[arg(long, env = "OPTIN_SANDBOX", value_parser = clap::builder::BoolishValueParser::new())]
    pub sandbox: bool,
    /// Address to listen on.
    #[arg(long, env = "OPTIN_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// Folder for the SQLite database (and the sandbox's); created if missing.
    #[arg(long, env = "OPTIN_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// Folder with the built web app (Trunk's `dist/`); the API only if absent.
    #[arg(long, env = "OPTIN_STATIC_DIR")]
    pub static_dir: Option<PathBuf>,
    /// Region (ISO 3166 alpha-2) for numbers typed without a country code.
    #[arg(long, env = "OPTIN_DEFAULT_REGION")]
    pub default_region: Option<String>,
    /// Origins allowed to frame the app (space separated), besides the service itself.
    #[arg(long, env = "OPTIN_FRAME_ANCESTORS", value_delimiter = ' ')]
    pub frame_ancestors: Vec<String>,
    /// Sandbox builds only: folder with the built sandbox phone page (Trunk's
    /// output for `crates/phone-app`), served at `/phone/{number}` and
    /// `/sandbox/phone-app/...`.
    #[cfg(feature = "sandbox")]
    #[arg(long, env = "OPTIN_SANDBOX_PHONE_DIR")]
    pub sandbox_phone_dir: Option<PathBuf>,
    /// Sandbox builds only: other instances' base URLs (space separated)
    /// that each of the sandbox's WhatsApp webhooks is also delivered to, at
    /// once, as Meta's retries reach any instance behind a load balancer.
    #[cfg(feature = "sandbox")]
    #[arg(long, env = "OPTIN_SANDBOX_WEBHOOK_COPIES", value_delimiter = ' ')]
    pub sandbox_webhook_copies: Vec<String>,
    /// Sandbox only: also serve the "Example CRM" demo host page on this address
    /// (another origin); it is added to the frame ancestors.
    #[arg(long, env = "OPTIN_DEMO_CRM_ADDR")]
    pub demo_crm_addr: Option<SocketAddr>,
    /// Base URL at which the providers reach this service (webhooks, SMS signatures).
    #[arg(long, env = "OPTIN_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// WhatsApp Cloud API base URL.
    #[arg(
        long,
        env = "OPTIN_WA_GRAPH_BASE",
        default_value = "https://graph.facebook.com"
    )]
    pub wa_graph_base: String,
    /// WhatsApp Cloud API version.
    #[arg(long, env = "OPTIN_WA_API_VERSION", default_value = "v21.0")]
    pub wa_api_version: String,
    /// Service-wide WhatsApp Cloud API token, used for every organization that
    /// has no token of its own.
    #[arg(long, env = "OPTIN_WA_ACCESS_TOKEN", hide_env_values = true)]
    pub wa_access_token: Option<String>,
    /// Meta app secret, to verify `X-Hub-Signature-256`.
    #[arg(long, env = "OPTIN_WA_APP_SECRET", hide_env_values = true)]
    pub wa_app_secret: Option<String>,
    /// Token expected in Meta's webhook verification handshake.
    #[arg(long, env = "OPTIN_WA_VERIFY_TOKEN", hide_env_values = true)]
    pub wa_verify_token: Option<String>,
    /// SMS provider API base URL (Twilio-style).
    #[arg(long, env = "OPTIN_SMS_BASE", default_value = "https://api.twilio.com")]
    pub sms_base: String,
    /// SMS account SID.
    #[arg(long, env = "OPTIN_SMS_ACCOUNT_SID")]
    pub sms_account_sid: Option<String>,
    /// SMS auth token (API basic auth and `X-Twilio-Signature`).
    #[arg(long, env = "OPTIN_SMS_AUTH_TOKEN", hide_env_values = true)]
    pub sms_auth_token: Option<String>,
    /// Bearer token that `GET /metrics` answers (Prometheus text); without
    /// one, there is no metrics endpoint.
    #[arg(long, env = "OPTIN_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
    /// Timeouts, budgets and rate limits.
    #[command(flatten)]
    pub limits: crate::limits::LimitsConfig,
    /// The archive feed: its addresses' domain and SMTP delivery.
    #[command(flatten)]
    pub archive: crate::archive::ArchiveConfig,
    /// How long a database write waits for another's lock before the request
    /// is answered 503 with `Retry-After`, in milliseconds.
    #[arg(long, env = "OPTIN_DB_BUSY_TIMEOUT_MS", default_value_t = 5000)]
    pub db_busy_timeout_ms: u64,
    /// Database: `postgres://user:password@host:port/database` to share one
    /// PostgreSQL between several service instances, `sqlite://path` for a
    /// SQLite file elsewhere; unset: `optin.sqlite3` in the data folder.
    #[arg(long, env = "OPTIN_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// How long one provider call (a send) may take before its outcome
    /// counts as unknown, in milliseconds.
    #[arg(long, env = "OPTIN_PROVIDER_TIMEOUT_MS", default_value_t = 10_000)]
    pub provider_timeout_ms: u64,
    /// How long a send whose outcome is unknown waits for a status carrying
    /// its key (proof that it went out) before it is sent again, in seconds.
    #[arg(long, env = "OPTIN_OUTBOX_GRACE_SECONDS", default_value_t = 120)]
    pub outbox_grace_seconds: u64,
    /// Ed25519 private key (PEM, PKCS#8, as `openssl genpkey -algorithm
    /// ed25519` writes it) that signs the consent record's checkpoints;
    /// never stored in the database. Sandbox: `<data-dir>/checkpoint-key.pem`,
    /// made on first start.
    #[arg(long, env = "OPTIN_CHECKPOINT_KEY_FILE")]
    pub checkpoint_key_file: Option<PathBuf>,
    /// The same key as PEM text, instead of a file.
    #[arg(long, env = "OPTIN_CHECKPOINT_KEY", hide_env_values = true)]
    pub checkpoint_key: Option<String>,
    /// Folder the signed checkpoints are appended to, outside the database:
    /// another disk or host (a write-once mount). Sandbox: `<data-dir>/witness`.
    #[arg(long, env = "OPTIN_WITNESS_DIR")]
    pub witness_dir: Option<PathBuf>,
    /// A checkpoint once this many events were recorded since the last one.
    #[arg(long, env = "OPTIN_CHECKPOINT_EVENTS", default_value_t = 1000)]
    pub checkpoint_events: u64,
    /// A checkpoint once this many minutes passed since the last one, when
    /// events were recorded meanwhile.
    #[arg(long, env = "OPTIN_CHECKPOINT_MINUTES", default_value_t = 5)]
    pub checkpoint_minutes: u64,
    /// An RFC 3161 time-stamp authority (`https://…`) that time-stamps every
    /// checkpoint; its replies are kept beside the witness file. Optional.
    #[arg(long, env = "OPTIN_TSA_URL")]
    pub tsa_url: Option<String>,
}

/// Provider settings resolved at start: the configured ones, or the sandbox's.
#[derive(Debug, Clone)]
pub struct ProviderSettings {
    /// Production (Meta and the SMS provider) or the built-in sandbox.
    pub mode: Mode,
    pub public_url: String,
    pub whatsapp: WhatsAppConfig,
    pub app_secret: String,
    pub verify_token: String,
    pub sms: SmsConfig,
}

/// `scheme://host[:port]` and nothing else: CSP and `postMessage` need exact origins.
pub fn is_origin(text: &str) -> bool {
    let Some((scheme, rest)) = text.split_once("://") else {
        return false;
    };
    matches!(scheme, "http" | "https")
        && !rest.is_empty()
        && rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'))
}

fn random_secret() -> String {
    crate::store::auth::new_token()
}

impl Config {
    /// A config for tests: given data folder, no static files, ephemeral port.
    pub fn for_tests(data_dir: PathBuf) -> Self {
        Self {
            sandbox: true,
            addr: ([127, 0, 0, 1], 0).into(),
            data_dir,
            static_dir: None,
            default_region: None,
            frame_ancestors: Vec::new(),
            #[cfg(feature = "sandbox")]
            sandbox_phone_dir: None,
            #[cfg(feature = "sandbox")]
            sandbox_webhook_copies: Vec::new(),
            demo_crm_addr: None,
            public_url: None,
            wa_graph_base: "https://graph.facebook.com".into(),
            wa_api_version: "v21.0".into(),
            wa_access_token: None,
            wa_app_secret: None,
            wa_verify_token: None,
            sms_base: "https://api.twilio.com".into(),
            sms_account_sid: None,
            sms_auth_token: None,
            metrics_token: None,
            limits: Default::default(),
            archive: Default::default(),
            db_busy_timeout_ms: 5000,
            database_url: None,
            provider_timeout_ms: 10_000,
            outbox_grace_seconds: 120,
            checkpoint_key_file: None,
            checkpoint_key: None,
            witness_dir: None,
            checkpoint_events: 1000,
            checkpoint_minutes: 5,
            tsa_url: None,
        }
    }

    /// Where the checkpoints' signing key comes from: the configured one,
    /// else in the sandbox its own file in the data folder.
    pub fn checkpoint_key_source(&self) -> Option<crate::checkpoints::KeySource> {
        use crate::checkpoints::KeySource;
        let pem = self
            .checkpoint_key
            .as_ref()
            .filter(|k| !k.trim().is_empty());
        match (pem, &self.checkpoint_key_file) {
            (Some(pem), _) => Some(KeySource::Pem(pem.clone())),
            (None, Some(path)) => Some(KeySource::File(path.clone())),
            (None, None) => (self.mode() == Mode::Sandbox)
                .then(|| KeySource::Sandbox(self.data_dir.join("checkpoint-key.pem"))),
        }
    }

    /// The witness folder: the configured one, else in the sandbox `<data-dir>/witness`.
    pub fn witness_dir(&self) -> Option<PathBuf> {
        match &self.witness_dir {
            Some(dir) => Some(dir.clone()),
            None => (self.mode() == Mode::Sandbox).then(|| self.data_dir.join("witness")),
        }
    }

    /// How long one provider call may take.
    pub fn provider_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.provider_timeout_ms)
    }

    /// How long an unknown outcome waits for its proof before a re-send.
    pub fn outbox_grace(&self) -> chrono::Duration {
        chrono::Duration::seconds(i64::try_from(self.outbox_grace_seconds).unwrap_or(i64::MAX))
    }

    /// The mode asked for: production unless `--sandbox`.
    pub fn mode(&self) -> Mode {
        if self.sandbox {
            Mode::Sandbox
        } else {
            Mode::Production
        }
    }

    /// Resolves the providers once the listening address is known: the
    /// configured ones in production, the sandbox on this service otherwise.
    pub fn providers(&self, bound: SocketAddr) -> Result<ProviderSettings, String> {
        self.validate()?;
        let public_url = self
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{bound}"));
        let public_url = public_url.trim_end_matches('/').to_owned();
        let status_callback = Some(format!("{public_url}/webhooks/sms"));
        let settings = match self.mode() {
            Mode::Sandbox => ProviderSettings {
                mode: Mode::Sandbox,
                whatsapp: WhatsAppConfig {
                    graph_base: format!("{public_url}/sandbox/graph"),
                    api_version: self.wa_api_version.clone(),
                    access_token: self.wa_access_token.clone().unwrap_or_else(random_secret),
                },
                // Configured secrets win even in sandbox mode, so load tools
                // can sign webhooks and several instances share one sandbox.
                app_secret: self.wa_app_secret.clone().unwrap_or_else(random_secret),
                verify_token: self.wa_verify_token.clone().unwrap_or_else(random_secret),
                sms: SmsConfig {
                    base: format!("{public_url}/sandbox/sms"),
                    account_sid: "ACsandbox".into(),
                    auth_token: self.sms_auth_token.clone().unwrap_or_else(random_secret),
                    status_callback,
                },
                public_url,
            },
            Mode::Production => {
                let need = |value: &Option<String>| value.clone().unwrap_or_default();
                ProviderSettings {
                    mode: Mode::Production,
                    whatsapp: WhatsAppConfig {
                        graph_base: self.wa_graph_base.clone(),
                        api_version: self.wa_api_version.clone(),
                        access_token: need(&self.wa_access_token),
                    },
                    app_secret: need(&self.wa_app_secret),
                    verify_token: need(&self.wa_verify_token),
                    sms: SmsConfig {
                        base: self.sms_base.clone(),
                        account_sid: need(&self.sms_account_sid),
                        auth_token: need(&self.sms_auth_token),
                        status_callback,
                    },
                    public_url,
                }
            }
        };
        Ok(settings)
    }

    /// The provider settings production needs that are not set.
    fn missing_provider_settings(&self) -> Vec<&'static str> {
        [
            ("OPTIN_PUBLIC_URL", &self.public_url),
            ("OPTIN_WA_ACCESS_TOKEN", &self.wa_access_token),
            ("OPTIN_WA_APP_SECRET", &self.wa_app_secret),
            ("OPTIN_WA_VERIFY_TOKEN", &self.wa_verify_token),
            ("OPTIN_SMS_ACCOUNT_SID", &self.sms_account_sid),
            ("OPTIN_SMS_AUTH_TOKEN", &self.sms_auth_token),
        ]
        .into_iter()
        .filter(|(_, value)| value.as_deref().is_none_or(|v| v.trim().is_empty()))
        .map(|(name, _)| name)
        .chain(
            self.checkpoint_key_source()
                .is_none()
                .then_some("OPTIN_CHECKPOINT_KEY_FILE (or OPTIN_CHECKPOINT_KEY)"),
        )
        .chain(self.witness_dir().is_none().then_some("OPTIN_WITNESS_DIR"))
        .collect()
    }

    /// Path of the SQLite database file in the data folder (the default database).
    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("optin.sqlite3")
    }

    /// The database the service keeps its data in (see `database_url`).
    pub fn database(&self) -> Result<crate::store::Database, String> {
        crate::store::Database::from_url(self.database_url.as_deref(), self.database_path())
    }

    /// Sandbox only: where the demo people's tokens are written for the
    /// launcher and tests (never in production).
    pub fn demo_tokens_path(&self) -> PathBuf {
        self.data_dir.join("demo-advisors.json")
    }

    /// Refuses settings that cannot work, before anything starts: production
    /// without every provider setting (or without the checkpoints' key and
    /// witness), a sandbox that is not compiled in or
    /// listens beyond loopback, origins that are not origins.
    pub fn validate(&self) -> Result<(), String> {
        self.database()?;
        match self.mode() {
            Mode::Production => {
                let missing = self.missing_provider_settings();
                if !missing.is_empty() {
                    return Err(format!(
                        "production mode needs {} (or start the local sandbox with --sandbox)",
                        missing.join(", ")
                    ));
                }
            }
            Mode::Sandbox => {
                if !cfg!(feature = "sandbox") {
                    return Err(
                        "this build has no sandbox: build with `--features sandbox`, \
                                or leave out --sandbox / OPTIN_SANDBOX to run in production"
                            .to_owned(),
                    );
                }
                for addr in std::iter::once(self.addr).chain(self.demo_crm_addr) {
                    if !addr.ip().is_loopback() {
                        return Err(format!(
                            "the sandbox listens on loopback addresses only (127.0.0.1, ::1), not {addr}: \
                             anyone reaching it could reply as any contact"
                        ));
                    }
                }
            }
        }
        self.limits.validate()?;
        self.archive.validate()?;
        if self.provider_timeout_ms == 0 {
            return Err("OPTIN_PROVIDER_TIMEOUT_MS must be at least 1".to_owned());
        }
        if self.checkpoint_events == 0 || self.checkpoint_minutes == 0 {
            return Err(
                "OPTIN_CHECKPOINT_EVENTS and OPTIN_CHECKPOINT_MINUTES must be at least 1"
                    .to_owned(),
            );
        }
        if self.checkpoint_key.is_some() && self.checkpoint_key_file.is_some() {
            return Err(
                "set one of OPTIN_CHECKPOINT_KEY_FILE and OPTIN_CHECKPOINT_KEY, not both"
                    .to_owned(),
            );
        }
        if let Some(url) = &self.tsa_url {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(format!(
                    "OPTIN_TSA_URL: {url:?} is not a URL like https://tsa.example.com/"
                ));
            }
        }
        for origin in &self.frame_ancestors {
            if !is_origin(origin) {
                return Err(format!(
                    "OPTIN_FRAME_ANCESTORS: {origin:?} is not an origin like https://crm.example.com"
                ));
            }
        }
        Ok(())
    }

    /// The `frame-ancestors` source list.
    pub fn frame_ancestors(&self) -> String {
        std::iter::once("'self'")
            .chain(self.frame_ancestors.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::is_origin;

    #[test]
    fn only_exact_origins_are_accepted_for_framing() {
        assert!(is_origin("https://crm.example.com"));
        assert!(is_origin("http://127.0.0.1:8081"));
        assert!(!is_origin("https://crm.example.com/path"));
        assert!(!is_origin("*"));
        assert!(!is_origin("https://a.com; script-src *"));
        assert!(!is_origin("javascript://x"));
    }
}
