//! The app's `postMessage` decoder (messages from the CRM page hosting the
//! app): anything accepted is well formed and survives a round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use optin_core::embed::{HostMessage, PROTOCOL_VERSION};

fuzz_target!(|data: &[u8]| {
    let Ok(json) = std::str::from_utf8(data) else {
        return;
    };
    let Some(message) = HostMessage::parse(json) else {
        return;
    };
    let version = match &message {
        HostMessage::Session { version, token, .. } => {
            assert!(!token.is_empty() && token.len() <= 512);
            *version
        }
        HostMessage::OpenContact { version, .. } | HostMessage::SetTheme { version, .. } => {
            *version
        }
    };
    assert_eq!(version, PROTOCOL_VERSION);
    let again = serde_json::to_string(&message).expect("a parsed message serializes");
    assert_eq!(HostMessage::parse(&again), Some(message));
});
