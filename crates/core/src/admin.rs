//! Wire types of provisioning: organizations with their numbers, advisors
//! with their roles, API keys with their scopes. The same operations are
//! `optin-server` subcommands and `/api/v1/admin/...` routes (an admin-scoped
//! organization key, or a person with the `admin` role, for their own
//! organization).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::language::Language;
use crate::vocab::Role;

/// An organization as provisioned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrganizationView {
    pub id: i64,
    /// Display name: the business the contacts see named.
    pub name: String,
    /// WhatsApp Business Account id.
    pub whatsapp_business_account_id: Option<String>,
    /// Cloud API phone number ids; requests go out from the first.
    pub whatsapp_phone_number_ids: Vec<String>,
    /// SMS sender number (E.164).
    pub sms_number: Option<String>,
    /// Origins allowed to frame the app and talk to it over `postMessage`.
    pub frame_origins: Vec<String>,
    /// The environment variable holding the organization's own Cloud API
    /// token (the token itself is never stored or shown); none uses the
    /// service-wide token.
    pub whatsapp_access_token_env: Option<String>,
    pub whatsapp_enabled: bool,
    /// The language requests fall back to when the organization has no
    /// opt-in template in the contact's language.
    pub default_language: Language,
    /// The opt-in template (by name) used when the primary cannot be sent
    /// (paused, disabled, or recategorized as marketing for a US number).
    #[serde(default)]
    pub alternate_opt_in_template: Option<String>,
    /// What HELP / INFO by SMS is answered with; none uses the standard text.
    #[serde(default)]
    pub sms_help_text: Option<String>,
    /// Countries (ISO 3166 alpha-2) SMS may be sent to; none: only the SMS
    /// sender number's country (a guard against toll fraud).
    #[serde(default)]
    pub sms_countries: Option<Vec<String>>,
    /// How long messages are kept before they are purged, in months.
    #[serde(default = "default_retention")]
    pub retention_months: u32,
}

fn default_retention() -> u32 {
    DEFAULT_RETENTION_MONTHS
}

/// What an organization is created or changed with; absent fields stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrganizationSettings {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub whatsapp_business_account_id: Option<String>,
    /// Phone number ids to add (each may belong to one organization only).
    #[serde(default)]
    pub add_whatsapp_phone_number_ids: Vec<String>,
    #[serde(default)]
    pub sms_number: Option<String>,
    /// Replaces the allowed frame origins when given.
    #[serde(default)]
    pub frame_origins: Option<Vec<String>>,
    /// The environment variable (`[A-Z_][A-Z0-9_]*`) that holds the
    /// organization's own Cloud API token in the service's environment.
    #[serde(default)]
    pub whatsapp_access_token_env: Option<String>,
    /// The language requests fall back to (it should have an opt-in template).
    #[serde(default)]
    pub default_language: Option<Language>,
    /// Names the alternate opt-in template (one of the organization's
    /// opt-in templates).
    #[serde(default)]
    pub alternate_opt_in_template: Option<String>,
    /// The answer to HELP / INFO by SMS (carriers require one naming the
    /// business and how to opt out, so it must mention STOP); an empty text
    /// goes back to the standard answer.
    #[serde(default)]
    pub sms_help_text: Option<String>,
    /// Replaces the countries (ISO 3166 alpha-2, e.g. `["GB", "US"]`) SMS may
    /// be sent to when given; an empty list allows none.
    #[serde(default)]
    pub sms_countries: Option<Vec<String>>,
    /// How long messages are kept, in months (36 to 1,200; six years by default).
    #[serde(default)]
    pub retention_months: Option<u32>,
}

/// Retention every organization starts with: six years (FINRA 4511).
pub const DEFAULT_RETENTION_MONTHS: u32 = 72;

/// The shortest retention accepted: three years (SEC 17a-4(b)(4)).
pub const MIN_RETENTION_MONTHS: u32 = 36;

/// The longest retention accepted: a hundred years.
pub const MAX_RETENTION_MONTHS: u32 = 1200;

/// Longest HELP answer accepted, in characters (two SMS segments).
pub const MAX_SMS_HELP_CHARS: usize = 306;

/// Checks an SMS HELP answer: `Ok(None)` goes back to the standard text.
pub fn validate_sms_help_text(text: &str) -> Result<Option<&str>, &'static str> {
    let text = text.trim();
    if text.is_empty() {
        Ok(None)
    } else if text.chars().count() > MAX_SMS_HELP_CHARS {
        Err("The help text is too long (at most 306 characters, two SMS).")
    } else if !text.to_uppercase().contains("STOP") {
        Err("The help text must say how to opt out (mention STOP).")
    } else if text.chars().any(char::is_control) {
        Err("The help text contains characters that cannot be sent.")
    } else {
        Ok(Some(text))
    }
}

/// `POST /api/v1/admin/advisors`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewAdvisor {
    pub name: String,
    /// The CRM's id of this person (unique in the organization).
    #[serde(default)]
    pub external_id: Option<String>,
    #[serde(default = "advisor")]
    pub role: Role,
}

fn advisor() -> Role {
    Role::Advisor
}

/// `POST /api/v1/admin/templates`: a template the organization had approved
/// by Meta, added or (same name and language) replaced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewTemplate {
    /// Name as approved in WhatsApp Manager (lowercase letters, digits, `_`).
    pub name: String,
    /// Meta's language code, e.g. `en_US`, `es`, `pt_BR`; an opt-in template
    /// is used for the contacts of its language.
    pub language: String,
    /// Meta's category: `UTILITY`, `MARKETING` or `AUTHENTICATION`.
    #[serde(default = "utility")]
    pub category: String,
    /// `opt_in` (the request itself) or `message`.
    pub purpose: String,
    /// Body with `{{1}}`, `{{2}}` placeholders, exactly as approved.
    pub body: String,
}

fn utility() -> String {
    "UTILITY".to_owned()
}

/// What an API key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum KeyScope {
    /// A CRM backend: mints short-lived advisor tokens.
    Integration,
    /// Provisioning of its own organization.
    Admin,
}

impl KeyScope {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyScope::Integration => "integration",
            KeyScope::Admin => "admin",
        }
    }

    /// The scope a stored or typed name stands for.
    pub fn parse(text: &str) -> Option<Self> {
        [KeyScope::Integration, KeyScope::Admin]
            .into_iter()
            .find(|scope| scope.as_str() == text)
    }
}

/// `POST /api/v1/admin/api-keys`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewApiKey {
    /// What the key is for, e.g. "Salesforce production".
    pub name: String,
    pub scope: KeyScope,
    /// When the key stops working; never when absent.
    #[serde(default, with = "crate::wire_time::option")]
    pub expires_at: Option<DateTime<Utc>>,
}

/// An API key as listed (the key itself is shown once, at creation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiKeyView {
    pub id: i64,
    pub name: String,
    pub scope: KeyScope,
    #[serde(with = "crate::wire_time")]
    pub created_at: DateTime<Utc>,
    #[serde(default, with = "crate::wire_time::option")]
    pub expires_at: Option<DateTime<Utc>>,
    #[serde(default, with = "crate::wire_time::option")]
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A new API key: the secret, shown this once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IssuedApiKey {
    pub key: String,
    pub view: ApiKeyView,
}

/// `POST /api/v1/admin/api-keys/{id}/expire`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExpireApiKey {
    /// When the key stops working (now when absent).
    #[serde(default, with = "crate::wire_time::option")]
    pub at: Option<DateTime<Utc>>,
}

/// A webhook for a business number no organization owned when it arrived.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UnroutedWebhook {
    pub id: i64,
    /// `whatsapp` or `sms`.
    pub provider: String,
    /// The phone number id or SMS number it was sent to.
    pub business_number: String,
    #[serde(with = "crate::wire_time")]
    pub received_at: DateTime<Utc>,
    #[serde(default, with = "crate::wire_time::option")]
    pub replayed_at: Option<DateTime<Utc>>,
}

/// `POST /api/v1/admin/unrouted/replay`: how many kept webhooks were applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReplayReport {
    pub replayed: u64,
    /// Kept webhooks of this organization's numbers still not applied.
    pub still_unrouted: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_sms_help_text_must_say_how_to_opt_out_and_fit_two_segments() {
        assert_eq!(validate_sms_help_text("  "), Ok(None));
        assert_eq!(
            validate_sms_help_text(" Acme Wealth: call 0800 000 000. Reply stop to opt out. "),
            Ok(Some(
                "Acme Wealth: call 0800 000 000. Reply stop to opt out."
            ))
        );
        assert!(validate_sms_help_text("Acme Wealth: call us.").is_err());
        let long = format!("STOP {}", "x".repeat(MAX_SMS_HELP_CHARS));
        assert!(validate_sms_help_text(&long).is_err());
        assert!(validate_sms_help_text("Reply STOP\u{0007}").is_err());
    }
}
