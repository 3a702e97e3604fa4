//! Configuration, from flags or environment variables (see the README).

use std::net::SocketAddr;
use std::path::PathBuf;

/// Settings of a running service.
#[derive(Debug, Clone, clap::Args)]
pub struct Config {
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
    /// WhatsApp business phone number id.
    #[arg(long, env = "OPTIN_WA_PHONE_NUMBER_ID")]
    pub wa_phone_number_id: Option<String>,
    /// WhatsApp access token; without it the service runs against its sandbox
    /// (builds with the `sandbox` feature; other builds refuse to start).
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
    /// SMS sender number.
    #[arg(long, env = "OPTIN_SMS_FROM")]
    pub sms_from: Option<String>,
}

/// Provider settings resolved at start: the configured ones, or the sandbox's.
#[derive(Debug, Clone)]
pub struct ProviderSettings {
    /// True when talking to the built-in sandbox instead of Meta and the SMS provider.
    pub sandbox: bool,
    pub public_url: String,
    pub whatsapp: crate::providers::whatsapp::WhatsAppConfig,
    pub app_secret: String,
    pub verify_token: String,
    pub sms: crate::providers::sms::SmsConfig,
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
            addr: ([127, 0, 0, 1], 0).into(),
            data_dir,
            static_dir: None,
            default_region: None,
            frame_ancestors: Vec::new(),
            #[cfg(feature = "sandbox")]
            sandbox_phone_dir: None,
            demo_crm_addr: None,
            public_url: None,
            wa_graph_base: "https://graph.facebook.com".into(),
            wa_api_version: "v21.0".into(),
            wa_phone_number_id: None,
            wa_access_token: None,
            wa_app_secret: None,
            wa_verify_token: None,
            sms_base: "https://api.twilio.com".into(),
            sms_account_sid: None,
            sms_auth_token: None,
            sms_from: None,
        }
    }

    /// Resolves the providers once the listening address is known. Without a
    /// WhatsApp access token everything points at the sandbox on this service
    /// (an error in a build without the sandbox).
    pub fn providers(&self, bound: SocketAddr) -> Result<ProviderSettings, String> {
        self.sandbox_available()?;
        let public_url = self
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{bound}"));
        let public_url = public_url.trim_end_matches('/').to_owned();
        let Some(access_token) = self.wa_access_token.clone() else {
            return Ok(ProviderSettings {
                sandbox: true,
                whatsapp: crate::providers::whatsapp::WhatsAppConfig {
                    graph_base: format!("{public_url}/sandbox/graph"),
                    api_version: self.wa_api_version.clone(),
                    phone_number_id: crate::store::seed::SANDBOX_PHONE_NUMBER_ID.into(),
                    access_token: random_secret(),
                },
                // Configured secrets win even in sandbox mode, so load tools can sign webhooks.
                app_secret: self.wa_app_secret.clone().unwrap_or_else(random_secret),
                verify_token: self.wa_verify_token.clone().unwrap_or_else(random_secret),
                sms: crate::providers::sms::SmsConfig {
                    base: format!("{public_url}/sandbox/sms"),
                    account_sid: "ACsandbox".into(),
                    auth_token: random_secret(),
                    from: crate::store::seed::SANDBOX_SMS_NUMBER.into(),
                    status_callback: Some(format!("{public_url}/webhooks/sms")),
                },
                public_url,
            });
        };
        let need = |value: &Option<String>, name: &str| {
            value
                .clone()
                .ok_or_else(|| format!("{name} must be set when OPTIN_WA_ACCESS_TOKEN is"))
        };
        Ok(ProviderSettings {
            sandbox: false,
            whatsapp: crate::providers::whatsapp::WhatsAppConfig {
                graph_base: self.wa_graph_base.clone(),
                api_version: self.wa_api_version.clone(),
                phone_number_id: need(&self.wa_phone_number_id, "OPTIN_WA_PHONE_NUMBER_ID")?,
                access_token,
            },
            app_secret: need(&self.wa_app_secret, "OPTIN_WA_APP_SECRET")?,
            verify_token: need(&self.wa_verify_token, "OPTIN_WA_VERIFY_TOKEN")?,
            sms: crate::providers::sms::SmsConfig {
                base: self.sms_base.clone(),
                account_sid: need(&self.sms_account_sid, "OPTIN_SMS_ACCOUNT_SID")?,
                auth_token: need(&self.sms_auth_token, "OPTIN_SMS_AUTH_TOKEN")?,
                from: need(&self.sms_from, "OPTIN_SMS_FROM")?,
                status_callback: Some(format!("{public_url}/webhooks/sms")),
            },
            public_url,
        })
    }

    /// Path of the SQLite database file.
    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("optin.sqlite3")
    }

    /// Where the sandbox's demo tokens are written for the launcher and tests.
    pub fn demo_tokens_path(&self) -> PathBuf {
        self.data_dir.join("demo-advisors.json")
    }

    /// Without a WhatsApp access token the service needs its sandbox, which
    /// only builds with the `sandbox` feature have.
    fn sandbox_available(&self) -> Result<(), String> {
        if cfg!(feature = "sandbox") || self.wa_access_token.is_some() {
            return Ok(());
        }
        Err(
            "this build has no sandbox: set OPTIN_WA_ACCESS_TOKEN (and the other provider \
             settings) to use the real providers, or build with `--features sandbox`"
                .to_owned(),
        )
    }

    /// Refuses settings that cannot work, before anything starts.
    pub fn validate(&self) -> Result<(), String> {
        self.sandbox_available()?;
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
