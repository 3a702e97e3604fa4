//! Wire types of the `/api/v1` JSON API, shared by client and server.

use serde::{Deserialize, Serialize};

/// Path prefix of every API route.
pub const API_PREFIX: &str = "/api/v1";
/// Largest page of contacts a client may ask for.
pub const MAX_PAGE_SIZE: u32 = 200;
/// Page size when the client does not say.
pub const DEFAULT_PAGE_SIZE: u32 = 50;
/// Longest contact name accepted, in characters.
pub const MAX_NAME_CHARS: usize = 120;

/// Body of every error response: a stable machine `code` and a sentence for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Stable identifier, e.g. `invalid_phone`; clients branch on this.
    pub code: String,
    /// Plain-words explanation, safe to show to the advisor.
    pub message: String,
    /// The request field the error is about, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// A contact as the advisor sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    /// Server-assigned id.
    pub id: i64,
    /// Display name.
    pub name: String,
    /// Phone number in E.164, e.g. `+447911123456`.
    pub phone: String,
}

/// Body of `POST /api/v1/contacts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewContact {
    /// Display name; must not be blank.
    pub name: String,
    /// Phone number as typed; the server parses it to E.164.
    pub phone: String,
}

/// One page of `GET /api/v1/contacts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactPage {
    /// Contacts on this page, ordered by name.
    pub items: Vec<Contact>,
    /// How many contacts match the search in all.
    pub total: u64,
    /// Offset of the first item of this page.
    pub offset: u64,
    /// Offset of the next page, absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_offset: Option<u64>,
}

/// The advisor behind the bearer token, as returned by `GET /api/v1/me`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    /// Advisor id.
    pub advisor_id: i64,
    /// Advisor's display name.
    pub advisor_name: String,
    /// Organization (business) name.
    pub organization_name: String,
    /// True when the service talks to the local sandbox instead of Meta.
    pub sandbox: bool,
}

/// Checks a contact name the same way on both sides; returns the trimmed name.
pub fn validate_name(name: &str) -> Result<&str, &'static str> {
    let name = name.trim();
    if name.is_empty() {
        Err("Enter a name.")
    } else if name.chars().count() > MAX_NAME_CHARS {
        Err("That name is too long (at most 120 characters).")
    } else if name.chars().any(char::is_control) {
        Err("The name contains characters that cannot be shown.")
    } else {
        Ok(name)
    }
}

/// Initials for a contact avatar: first letters of the first and last words.
pub fn initials(name: &str) -> String {
    let mut words = name.split_whitespace();
    let first = words.next().and_then(|w| w.chars().next());
    let last = words.last().and_then(|w| w.chars().next());
    first
        .into_iter()
        .chain(last)
        .flat_map(char::to_uppercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_names_are_refused_and_names_are_trimmed() {
        assert!(validate_name("   ").is_err());
        assert_eq!(validate_name("  Kerry Fisher ").unwrap(), "Kerry Fisher");
        assert!(validate_name(&"x".repeat(121)).is_err());
        assert!(validate_name("a\u{0007}b").is_err());
    }

    #[test]
    fn initials_take_first_and_last_word() {
        assert_eq!(initials("Kerry Ann Fisher"), "KF");
        assert_eq!(initials("madonna"), "M");
        assert_eq!(initials(""), "");
    }

    #[test]
    fn error_body_omits_absent_field() {
        let body = ErrorBody {
            code: "x".into(),
            message: "y".into(),
            field: None,
        };
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"code":"x","message":"y"}"#
        );
    }
}
