//! The SMS provider's form webhook: the form parser and the
//! `X-Twilio-Signature` check, on any body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use optin_server::providers::signature::{twilio_signature, verify_twilio_signature};
use optin_server::providers::sms::SmsWebhook;

const TOKEN: &str = "fuzz-auth-token";
const URL: &str = "https://optin.example.com/webhooks/sms";

fuzz_target!(|body: &[u8]| {
    let Ok((_webhook, pairs)) = SmsWebhook::parse(body) else {
        return;
    };
    // The signature over what was decoded verifies; reordering the pairs
    // does not change it (they are sorted); a signature over other pairs does not.
    let signature = twilio_signature(TOKEN, URL, &pairs);
    assert!(verify_twilio_signature(
        TOKEN,
        URL,
        &pairs,
        Some(&signature)
    ));
    let mut reversed = pairs.clone();
    reversed.reverse();
    assert!(verify_twilio_signature(
        TOKEN,
        URL,
        &reversed,
        Some(&signature)
    ));
    let mut extra = pairs.clone();
    extra.push(("Injected".into(), "1".into()));
    assert!(!verify_twilio_signature(
        TOKEN,
        URL,
        &extra,
        Some(&signature)
    ));
    // The body itself, taken as a header, never panics.
    let _ = verify_twilio_signature(TOKEN, URL, &pairs, Some(&String::from_utf8_lossy(body)));
});
