//! The archive feed's naming rules, shared by the zip export and SMTP
//! delivery: every message and every consent-record step of an organization
//! becomes one RFC 5322 message for the firm's archive (Smarsh, Global Relay
//! and the like ingest e-mail-shaped records).
//!
//! Decisions:
//! - **Cursor.** Items are numbered by one sequence, increasing in the order
//!   they were written; `after=C` asks for the items numbered above `C`. The
//!   numbers of one organization are increasing but not consecutive (the
//!   sequence is shared by all organizations).
//! - **Addresses.** Nothing here is a mailbox that receives mail: the
//!   addresses name parties inside one domain per organization,
//!   `org-{id}.{domain}` (`domain` is configured, `optin.archive` by
//!   default). A contact is `{E.164}@{channel}.org-{id}.{domain}` (the same
//!   number on WhatsApp and by SMS are two addresses, as they are two
//!   channels), an advisor `advisor-{id}@org-{id}.{domain}`, the
//!   organization itself (the service's own texts, replies no advisor sent
//!   for) `organization@org-{id}.{domain}` and the consent record
//!   `consent-record@org-{id}.{domain}`.
//! - **Message-ID.** Derived from what the item is, never random:
//!   `<org-{id}.msg-{message id}@{domain}>` and
//!   `<org-{id}.event-{event id}@{domain}>`. An item sent again (after a
//!   crash, or by a rerun) carries the same id, so the archive recognizes it.
//! - **Header text.** Names and numbers go into headers with every control
//!   character (CR and LF among them) turned into a space: a contact named
//!   `"Kerry\r\nBcc: x"` can never add a header.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::vocab::{wire_enum, Channel};

/// The domain of the archive addresses when none is configured.
pub const DEFAULT_DOMAIN: &str = "optin.archive";

/// Most items one export holds.
pub const MAX_EXPORT_ITEMS: u32 = 1000;

/// Items an export holds when the request names no limit.
pub const DEFAULT_EXPORT_ITEMS: u32 = 500;

wire_enum! {
    /// What an archive item records.
    pub enum ArchiveKind {
        /// A message, inbound or outbound, WhatsApp or SMS.
        Message = "message",
        /// A step of the hash-chained consent record.
        ConsentEvent = "consent_event",
    }
}

/// The addresses and Message-IDs of one organization's archive items.
#[derive(Debug, Clone, Copy)]
pub struct ArchiveNames<'a> {
    /// The configured domain, e.g. `optin.archive`.
    pub domain: &'a str,
    pub organization_id: i64,
}

impl ArchiveNames<'_> {
    /// `org-{id}.{domain}`.
    pub fn organization_domain(&self) -> String {
        format!("org-{}.{}", self.organization_id, self.domain)
    }

    /// The contact's number on a channel: `+15551234567@whatsapp.org-7.{domain}`.
    pub fn contact(&self, phone_e164: &str, channel: Channel) -> String {
        format!(
            "{}@{}.{}",
            local_part(phone_e164),
            channel.as_str(),
            self.organization_domain()
        )
    }

    /// An advisor (or any person of the organization): `advisor-3@org-7.{domain}`.
    pub fn advisor(&self, advisor_id: i64) -> String {
        format!("advisor-{advisor_id}@{}", self.organization_domain())
    }

    /// The organization itself.
    pub fn organization(&self) -> String {
        format!("organization@{}", self.organization_domain())
    }

    /// The consent record, sender of its steps.
    pub fn consent_record(&self) -> String {
        format!("consent-record@{}", self.organization_domain())
    }

    /// The Message-ID (with its angle brackets) of an item.
    pub fn message_id(&self, kind: ArchiveKind, id: i64) -> String {
        let what = match kind {
            ArchiveKind::Message => "msg",
            ArchiveKind::ConsentEvent => "event",
        };
        format!("<org-{}.{what}-{id}@{}>", self.organization_id, self.domain)
    }
}

/// An E.164 number is `+` and digits; anything else a stored number might
/// hold is dropped rather than let into an address.
fn local_part(phone_e164: &str) -> String {
    phone_e164
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == '+')
        .collect()
}

/// Text fit for a header: control characters (CR, LF, tab, NUL, ...) become
/// spaces, so no value can end its header line and start another.
pub fn header_text(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The file of one item in an export: the cursor first (zero-padded, so
/// names sort in feed order), then what the item is.
pub fn file_name(cursor: i64, kind: ArchiveKind, id: i64) -> String {
    let what = match kind {
        ArchiveKind::Message => "msg",
        ArchiveKind::ConsentEvent => "event",
    };
    format!("{cursor:012}-{what}-{id}.eml")
}

/// `manifest.json` of an export zip.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ArchiveManifest {
    pub organization_id: i64,
    pub organization_name: String,
    /// The cursor the export started after (`after`).
    pub from_cursor: i64,
    /// The cursor to ask from next: the last item's, or `from_cursor` when
    /// there was none.
    pub to_cursor: i64,
    /// Whether items after `to_cursor` exist already (the export hit its limit).
    pub more: bool,
    pub counts: ArchiveCounts,
    /// Every `.eml` of the zip, in feed order.
    pub files: Vec<ArchiveFile>,
}

/// How many items of each kind an export holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ArchiveCounts {
    pub messages: u64,
    pub consent_events: u64,
    pub total: u64,
}

impl ArchiveCounts {
    /// Counts one more item of `kind`.
    pub fn add(&mut self, kind: ArchiveKind) {
        match kind {
            ArchiveKind::Message => self.messages += 1,
            ArchiveKind::ConsentEvent => self.consent_events += 1,
        }
        self.total += 1;
    }
}

/// One `.eml` of an export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ArchiveFile {
    pub name: String,
    pub cursor: i64,
    pub kind: ArchiveKind,
    /// The message's or the consent event's id.
    pub id: i64,
    /// Its Message-ID header.
    pub message_id: String,
    /// SHA-256 of the file's bytes, lowercase hex.
    pub sha256: String,
    pub bytes: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: ArchiveNames<'static> = ArchiveNames {
        domain: DEFAULT_DOMAIN,
        organization_id: 7,
    };

    #[test]
    fn addresses_follow_the_documented_scheme() {
        assert_eq!(
            NAMES.contact("+15551234567", Channel::Whatsapp),
            "+15551234567@whatsapp.org-7.optin.archive"
        );
        assert_eq!(
            NAMES.contact("+15551234567", Channel::Sms),
            "+15551234567@sms.org-7.optin.archive"
        );
        assert_eq!(NAMES.advisor(3), "advisor-3@org-7.optin.archive");
        assert_eq!(NAMES.organization(), "organization@org-7.optin.archive");
        assert_eq!(NAMES.consent_record(), "consent-record@org-7.optin.archive");
    }

    #[test]
    fn message_ids_are_derived_from_the_item_alone() {
        assert_eq!(
            NAMES.message_id(ArchiveKind::Message, 123),
            "<org-7.msg-123@optin.archive>"
        );
        assert_eq!(
            NAMES.message_id(ArchiveKind::ConsentEvent, 45),
            "<org-7.event-45@optin.archive>"
        );
    }

    #[test]
    fn a_number_cannot_smuggle_anything_into_an_address() {
        assert_eq!(
            NAMES.contact("+1555>\r\nBcc: a@b", Channel::Sms),
            "+1555@sms.org-7.optin.archive"
        );
    }

    #[test]
    fn header_text_has_no_line_breaks() {
        assert_eq!(header_text("Kerry\r\nBcc: x@y\0"), "Kerry  Bcc: x@y ");
        assert_eq!(header_text("Zoë Ağa"), "Zoë Ağa");
    }

    #[test]
    fn file_names_sort_in_feed_order() {
        let mut names = vec![
            file_name(10, ArchiveKind::Message, 1),
            file_name(9, ArchiveKind::ConsentEvent, 99),
        ];
        names.sort();
        assert_eq!(
            names,
            ["000000000009-event-99.eml", "000000000010-msg-1.eml"]
        );
    }
}
