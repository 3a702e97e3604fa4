//! Webhook signatures as the platforms compute them: Meta's
//! `X-Hub-Signature-256` and Twilio's `X-Twilio-Signature`. Written apart
//! from the service's verification on purpose: the sandbox's tests check
//! these against the service's verifier, so a mistake on either side shows.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::Sha256;

/// The full `X-Hub-Signature-256` value for `body`: `sha256=<lowercase hex>`
/// of HMAC-SHA256 keyed with the app secret.
pub(crate) fn meta_signature(app_secret: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(app_secret.as_bytes()).expect("HMAC accepts any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The `X-Twilio-Signature` of a form POST to `full_url` with the form
/// `params`: base64 of HMAC-SHA1 over the URL followed by each `name` +
/// `value`, sorted by name (then value).
pub(crate) fn twilio_signature(
    auth_token: &str,
    full_url: &str,
    params: &[(String, String)],
) -> String {
    let mut mac =
        Hmac::<Sha1>::new_from_slice(auth_token.as_bytes()).expect("HMAC accepts any key length");
    mac.update(full_url.as_bytes());
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    BASE64.encode(mac.finalize().into_bytes())
}
