//! The evidence bundle of one number: a zip that an auditor checks with
//! `sha256sum` and `openssl` alone, or with `optin-server verify-bundle`.
//!
//! Its files (every one listed in `SHA256SUMS`, which is not itself):
//! - `record.jsonl`: the number's consent record, exactly as the JSON lines export;
//! - `webhooks/<seq>.json` (WhatsApp) or `webhooks/<seq>.form` (SMS): the raw
//!   body event `<seq>` came from, byte for byte; `webhooks/<seq>.signature`:
//!   its signature header's value as received; `webhooks/<seq>.url` (SMS):
//!   the URL the provider signed;
//! - `hashed/<seq>.txt`: the exact text event `<seq>`'s hash is taken over
//!   ([`crate::store::evidence::hashed_text`]), and `EVENT-HASHES` listing
//!   each recorded hash against it in `sha256sum` format;
//! - `chain.txt`: the organization's chain links (`seq prev_hash hash`, one
//!   event a line) from the number's first event to the checkpoint's;
//! - `checkpoint.txt`, `checkpoint.sig`: the signed checkpoint that covers
//!   the number's last event (its exact message, the raw 64-byte signature);
//! - `public-key.pem`: the key that verifies it;
//! - `VERIFY.md`: how to check all of it, and what each step proves.
//!
//! The chain is per organization, so between the number's events run other
//! contacts' events; their links are given, their content is not (it is
//! other people's data), and VERIFY.md says what that leaves to `verify-chain`.

mod verify;
mod verify_md;
mod write;

pub use verify::{verify, BundleFault, BundleReport, KeyChoice};
pub use write::{write, BundleError, BundleHeader};

use crate::store::evidence::EvidenceRow;

/// The number's consent record.
pub const RECORD: &str = "record.jsonl";
/// The organization's chain links from the number's first event to the checkpoint.
pub const CHAIN: &str = "chain.txt";
/// Each of the number's events' hash against its hashed text, `sha256sum` format.
pub const EVENT_HASHES: &str = "EVENT-HASHES";
/// The signed checkpoint message.
pub const CHECKPOINT: &str = "checkpoint.txt";
/// Its Ed25519 signature, 64 raw bytes.
pub const SIGNATURE: &str = "checkpoint.sig";
/// The time-stamp authority's RFC 3161 reply for the checkpoint, when one is configured.
pub const TIME_STAMP: &str = "checkpoint.tsr";
/// The public key, PEM (SPKI).
pub const PUBLIC_KEY: &str = "public-key.pem";
/// How to check the bundle.
pub const VERIFY: &str = "VERIFY.md";
/// The SHA-256 of every other file, `sha256sum` format.
pub const SUMS: &str = "SHA256SUMS";

/// The file holding the exact text event `seq`'s hash is taken over.
pub fn hashed_file(seq: i64) -> String {
    format!("hashed/{seq}.txt")
}

/// Which provider signed a webhook: it decides the header and what was signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookSource {
    /// `X-Hub-Signature-256`: HMAC-SHA256 of the body with the app secret.
    WhatsApp,
    /// `X-Twilio-Signature`: HMAC-SHA1 of the signed URL and the form pairs
    /// with the auth token.
    Sms,
}

impl WebhookSource {
    /// Only SMS webhooks keep a signed URL (Twilio signs the URL it called).
    pub fn of(row: &EvidenceRow) -> Self {
        if row.signed_url.is_some() {
            Self::Sms
        } else {
            Self::WhatsApp
        }
    }

    /// The header the signature came in.
    pub fn header(self) -> &'static str {
        match self {
            Self::WhatsApp => "X-Hub-Signature-256",
            Self::Sms => "X-Twilio-Signature",
        }
    }
}

/// The files of a step that came from a webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookFiles {
    pub source: WebhookSource,
    /// The raw body.
    pub body: String,
    /// The signature header's value.
    pub signature: String,
    /// SMS: the signed URL.
    pub url: String,
}

impl WebhookFiles {
    pub fn of(row: &EvidenceRow) -> Self {
        let source = WebhookSource::of(row);
        let seq = row.seq;
        let extension = match source {
            WebhookSource::WhatsApp => "json",
            WebhookSource::Sms => "form",
        };
        Self {
            source,
            body: format!("webhooks/{seq}.{extension}"),
            signature: format!("webhooks/{seq}.signature"),
            url: format!("webhooks/{seq}.url"),
        }
    }
}

/// The bundle's download name for a number (E.164).
pub fn file_name(phone: &str) -> String {
    format!("evidence-bundle-{}.zip", phone.trim_start_matches('+'))
}
