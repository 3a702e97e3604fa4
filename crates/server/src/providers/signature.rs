//! Webhook signatures: Meta's `X-Hub-Signature-256` and Twilio's
//! `X-Twilio-Signature`. The service verifies what arrives; the signing
//! functions serve tests (the sandbox signs with its own code, and its tests
//! check it against these verifiers). Verification runs in constant time
//! (`Mac::verify_slice`) so the comparison leaks nothing about the expected
//! value.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;
type HmacSha1 = Hmac<Sha1>;

/// Prefix of Meta's signature header value.
const META_PREFIX: &str = "sha256=";

fn meta_mac(app_secret: &str, body: &[u8]) -> HmacSha256 {
    let mut mac =
        HmacSha256::new_from_slice(app_secret.as_bytes()).expect("HMAC accepts any key length");
    mac.update(body);
    mac
}

/// The full `X-Hub-Signature-256` value for `body`: `sha256=<lowercase hex>`.
pub fn meta_signature(app_secret: &str, body: &[u8]) -> String {
    let tag = meta_mac(app_secret, body).finalize().into_bytes();
    format!("{META_PREFIX}{}", hex::encode(tag))
}

/// True when `header` is the valid `X-Hub-Signature-256` of the raw `body`.
/// A missing header, a wrong prefix or bad hex is simply invalid.
pub fn verify_meta_signature(app_secret: &str, body: &[u8], header: Option<&str>) -> bool {
    let Some(hex_tag) = header.and_then(|h| h.trim().strip_prefix(META_PREFIX)) else {
        return false;
    };
    let Ok(tag) = hex::decode(hex_tag) else {
        return false;
    };
    meta_mac(app_secret, body).verify_slice(&tag).is_ok()
}

fn twilio_mac(auth_token: &str, full_url: &str, params: &[(String, String)]) -> HmacSha1 {
    let mut mac =
        HmacSha1::new_from_slice(auth_token.as_bytes()).expect("HMAC accepts any key length");
    mac.update(full_url.as_bytes());
    // Sorted by name (byte order, as Twilio's libraries do); repeated names by value.
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    mac
}

/// The `X-Twilio-Signature` of a form POST to `full_url` (scheme, host, port,
/// path and query exactly as requested) with the decoded form `params`:
/// base64 of HMAC-SHA1 over the URL followed by each `name` + `value`, sorted
/// by name.
pub fn twilio_signature(auth_token: &str, full_url: &str, params: &[(String, String)]) -> String {
    BASE64.encode(
        twilio_mac(auth_token, full_url, params)
            .finalize()
            .into_bytes(),
    )
}

/// True when `header` is the valid `X-Twilio-Signature` for that request.
/// Pass *all* decoded form pairs, not just the ones the handler reads.
pub fn verify_twilio_signature(
    auth_token: &str,
    full_url: &str,
    params: &[(String, String)],
    header: Option<&str>,
) -> bool {
    let Some(Ok(tag)) = header.map(|h| BASE64.decode(h.trim())) else {
        return false;
    };
    twilio_mac(auth_token, full_url, params)
        .verify_slice(&tag)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn meta_signature_matches_an_independent_hmac() {
        // HMAC-SHA256(key "key", "The quick brown fox jumps over the lazy dog"),
        // the well-known test vector.
        assert_eq!(
            meta_signature("key", b"The quick brown fox jumps over the lazy dog"),
            "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
        );
    }

    #[test]
    fn meta_signature_round_trips_and_rejects_tampering() {
        let body = br#"{"object":"whatsapp_business_account","entry":[]}"#;
        let header = meta_signature("s3cret", body);
        assert!(verify_meta_signature("s3cret", body, Some(&header)));
        assert!(verify_meta_signature(
            "s3cret",
            body,
            Some(&header.to_uppercase().replace("SHA256=", "sha256="))
        ));
        assert!(!verify_meta_signature("other", body, Some(&header)));
        assert!(!verify_meta_signature("s3cret", b"{}", Some(&header)));
        assert!(!verify_meta_signature("s3cret", body, None));
        assert!(!verify_meta_signature("s3cret", body, Some("")));
        assert!(!verify_meta_signature(
            "s3cret",
            body,
            Some(header.trim_start_matches("sha256="))
        ));
        assert!(!verify_meta_signature("s3cret", body, Some("sha256=zz")));
        assert!(!verify_meta_signature(
            "s3cret",
            body,
            Some(&header[..header.len() - 2])
        ));
        assert!(!verify_meta_signature(
            "s3cret",
            body,
            Some(&header.replace("sha256=", "sha1="))
        ));
    }

    #[test]
    fn twilio_signature_matches_twilios_published_example() {
        // From Twilio's request-validation docs and its libraries' tests.
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        let params = pairs(&[
            ("Digits", "1234"),
            ("To", "+18005551212"),
            ("From", "+14158675309"),
            ("Caller", "+14158675309"),
            ("CallSid", "CA1234567890ABCDE"),
        ]);
        assert_eq!(
            twilio_signature("12345", url, &params),
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        );
        assert!(verify_twilio_signature(
            "12345",
            url,
            &params,
            Some("RSOYDt4T1cUTdK1PDd93/VVr8B8=")
        ));
    }

    #[test]
    fn twilio_signature_rejects_tampering() {
        let url = "http://127.0.0.1:8080/webhooks/sms";
        let params = pairs(&[("MessageSid", "SM1"), ("MessageStatus", "delivered")]);
        let sig = twilio_signature("tok", url, &params);
        assert!(verify_twilio_signature("tok", url, &params, Some(&sig)));
        let changed = pairs(&[("MessageSid", "SM1"), ("MessageStatus", "failed")]);
        assert!(!verify_twilio_signature("tok", url, &changed, Some(&sig)));
        let extra = pairs(&[
            ("MessageSid", "SM1"),
            ("MessageStatus", "delivered"),
            ("X", ""),
        ]);
        assert!(!verify_twilio_signature("tok", url, &extra, Some(&sig)));
        assert!(!verify_twilio_signature(
            "tok",
            "http://127.0.0.1:8081/webhooks/sms",
            &params,
            Some(&sig)
        ));
        assert!(!verify_twilio_signature("other", url, &params, Some(&sig)));
        assert!(!verify_twilio_signature("tok", url, &params, None));
        assert!(!verify_twilio_signature(
            "tok",
            url,
            &params,
            Some("not base64!")
        ));
    }
}
