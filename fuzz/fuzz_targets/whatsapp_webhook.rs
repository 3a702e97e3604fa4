//! The WhatsApp webhook: its signature check and the lenient reader that
//! never fails (what it cannot read is kept for review), on any body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use optin_core::whatsapp::WebhookItems;
use optin_server::providers::signature::{meta_signature, verify_meta_signature};

const SECRET: &str = "fuzz-app-secret";

fuzz_target!(|body: &[u8]| {
    // The signature of the body verifies; the body's own first line, taken
    // as a header, neither panics nor verifies by accident.
    let signature = meta_signature(SECRET, body);
    assert!(verify_meta_signature(SECRET, body, Some(&signature)));
    let line = body.split(|b| *b == b'\n').next().unwrap_or_default();
    if let Ok(header) = std::str::from_utf8(line) {
        assert!(header == signature || !verify_meta_signature(SECRET, body, Some(header)));
    }

    let items = WebhookItems::read(body);
    // Everything read answers the questions the service asks of it.
    for change in &items.changes {
        for status in &change.statuses {
            let _ = status.at();
            let _ = status.recipient_number_and_user_id();
        }
        for message in &change.messages {
            let _ = message.sent_at();
        }
        for contact in &change.contacts {
            let _ = contact.number_and_user_id();
        }
    }
    for unreadable in &items.unreadable {
        assert!(!unreadable.reason.is_empty());
    }
});
