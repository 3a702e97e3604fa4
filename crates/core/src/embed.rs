//! The `postMessage` protocol between a CRM host page and the embedded app.
//! Both sides check the sender's exact origin and post with an explicit
//! target origin; anything that does not parse as one of these messages is
//! ignored.
//!
//! Host to app: [`HostMessage`]; app to host: [`AppMessage`]. Every message
//! is a JSON object with a `type` starting with `optin:` and `version: 1`.

use serde::{Deserialize, Serialize};

/// Protocol version carried by every message.
pub const PROTOCOL_VERSION: u32 = 1;

/// A contact the host wants opened: by number, by CRM record id, or both;
/// with a name the app creates the contact if it does not exist yet. The
/// same body the app then sends to `POST /api/v1/contacts/open`.
pub use crate::api::OpenContact as ContactRef;

/// Colour scheme the host asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Theme {
    Light,
    Dark,
    System,
}

/// Messages from the host page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", try_from = "HostWire")]
pub enum HostMessage {
    /// A (fresh) advisor token, optionally a contact to open and a theme.
    #[serde(rename = "optin:session")]
    Session {
        version: u32,
        token: String,
        #[serde(default)]
        expires_at: Option<chrono::DateTime<chrono::Utc>>,
        #[serde(default)]
        contact: Option<ContactRef>,
        #[serde(default)]
        theme: Option<Theme>,
    },
    /// The host switched records: open this contact.
    #[serde(rename = "optin:open-contact")]
    OpenContact { version: u32, contact: ContactRef },
    /// The host changed its theme.
    #[serde(rename = "optin:theme")]
    SetTheme { version: u32, theme: Theme },
}

/// A host message read in one pass, its `type` a field like the others. (A
/// derived internally tagged enum buffers the message first and reads every
/// field type a second way, about 12 KB of the web app's wasm.)
#[derive(Deserialize)]
struct HostWire {
    #[serde(rename = "type")]
    kind: String,
    version: u32,
    #[serde(default)]
    token: Option<String>,
    #[serde(default, with = "crate::wire_time::option")]
    expires_at: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(default)]
    contact: Option<ContactRef>,
    #[serde(default)]
    theme: Option<Theme>,
}

impl TryFrom<HostWire> for HostMessage {
    type Error = String;

    fn try_from(wire: HostWire) -> Result<Self, String> {
        let missing = |field: &str| format!("{} without `{field}`", wire.kind);
        let version = wire.version;
        Ok(match wire.kind.as_str() {
            "optin:session" => HostMessage::Session {
                version,
                token: wire.token.ok_or_else(|| missing("token"))?,
                expires_at: wire.expires_at,
                contact: wire.contact,
                theme: wire.theme,
            },
            "optin:open-contact" => HostMessage::OpenContact {
                version,
                contact: wire.contact.ok_or_else(|| missing("contact"))?,
            },
            "optin:theme" => HostMessage::SetTheme {
                version,
                theme: wire.theme.ok_or_else(|| missing("theme"))?,
            },
            other => return Err(format!("unknown host message `{other}`")),
        })
    }
}

/// Messages to the host page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum AppMessage {
    /// The app is listening; the host should send a session.
    #[serde(rename = "optin:ready")]
    Ready { version: u32 },
    /// The token expires soon (or was refused): send a fresh session.
    #[serde(rename = "optin:token-needed")]
    TokenNeeded {
        version: u32,
        #[serde(default, with = "crate::wire_time::option")]
        expires_at: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// A contact's consent changed.
    #[serde(rename = "optin:consent-changed")]
    ConsentChanged {
        version: u32,
        phone: String,
        state: crate::consent::ConsentState,
    },
}

impl HostMessage {
    /// Parses a message from the host; `None` for anything malformed, unknown,
    /// of another version, or with a token that cannot be one.
    pub fn parse(json: &str) -> Option<Self> {
        let message: HostMessage = serde_json::from_str(json).ok()?;
        let version = match &message {
            HostMessage::Session { version, token, .. } => {
                let plausible = !token.is_empty()
                    && token.len() <= 512
                    && token
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
                if !plausible {
                    return None;
                }
                *version
            }
            HostMessage::OpenContact { version, .. } | HostMessage::SetTheme { version, .. } => {
                *version
            }
        };
        (version == PROTOCOL_VERSION).then_some(message)
    }
}

/// Exact origin match against the allow-list: no prefixes, no wildcards.
pub fn origin_allowed(origin: &str, allowed: &[String]) -> bool {
    origin != "null" && allowed.iter().any(|a| a == origin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_with_a_contact_parses() {
        let json = r#"{"type":"optin:session","version":1,"token":"abc123","contact":{"phone":"+447911123456","crm_id":"003X"},"theme":"dark"}"#;
        let Some(HostMessage::Session {
            token,
            contact,
            theme,
            ..
        }) = HostMessage::parse(json)
        else {
            panic!("not a session");
        };
        assert_eq!(token, "abc123");
        assert_eq!(contact.unwrap().crm_id.as_deref(), Some("003X"));
        assert_eq!(theme, Some(Theme::Dark));
    }

    #[test]
    fn unknown_malformed_and_other_version_messages_are_ignored() {
        for json in [
            r#"{"type":"optin:delete-everything","version":1}"#,
            r#"{"type":"optin:session","version":2,"token":"abc"}"#,
            r#"{"type":"optin:session","version":1,"token":"a b<script>"}"#,
            r#"{"type":"optin:session","version":1}"#,
            r#"{"type":"optin:open-contact","version":1,"contact":{"phone":"+1","evil":true}}"#,
            r#""optin:ready""#,
            "not json",
        ] {
            assert_eq!(HostMessage::parse(json), None, "{json}");
        }
    }

    #[test]
    fn every_host_message_reads_back_as_written() {
        let contact = ContactRef {
            phone: Some("+447911123456".into()),
            crm_id: None,
            name: None,
        };
        for message in [
            HostMessage::Session {
                version: 1,
                token: "abc".into(),
                expires_at: Some(chrono::DateTime::from_timestamp(1_773_144_000, 0).unwrap()),
                contact: Some(contact.clone()),
                theme: Some(Theme::Light),
            },
            HostMessage::OpenContact {
                version: 1,
                contact,
            },
            HostMessage::SetTheme {
                version: 1,
                theme: Theme::System,
            },
        ] {
            let json = serde_json::to_string(&message).unwrap();
            assert_eq!(HostMessage::parse(&json), Some(message), "{json}");
        }
        for json in [
            r#"{"type":"optin:open-contact","version":1}"#,
            r#"{"type":"optin:theme","version":1}"#,
        ] {
            assert_eq!(HostMessage::parse(json), None, "{json}");
        }
    }

    #[test]
    fn origins_match_exactly() {
        let allowed = vec!["https://crm.example.com".to_owned()];
        assert!(origin_allowed("https://crm.example.com", &allowed));
        assert!(!origin_allowed("https://crm.example.com.evil.io", &allowed));
        assert!(!origin_allowed("https://evil.io", &allowed));
        assert!(!origin_allowed("null", &["null".to_owned()]));
    }

    #[test]
    fn app_messages_serialize_with_their_type() {
        let json = serde_json::to_string(&AppMessage::ConsentChanged {
            version: 1,
            phone: "+1".into(),
            state: crate::consent::ConsentState::OptedIn,
        })
        .unwrap();
        assert!(json.contains(r#""type":"optin:consent-changed""#));
        assert!(json.contains(r#""state":"opted_in""#));
    }
}
