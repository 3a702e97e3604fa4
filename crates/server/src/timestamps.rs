//! RFC 3161 time-stamps for the signed checkpoints (optional).
//!
//! A checkpoint's time is the service's own clock. With a time-stamp
//! authority configured (`OPTIN_TSA_URL`), each checkpoint's exact text is
//! also time-stamped by that third party: its SHA-256 is sent as a
//! `TimeStampReq` (`application/timestamp-query`, RFC 3161 §3.4) and the
//! authority's `TimeStampResp` is kept beside the witness file, as
//! `<witness>/organization-<id>-<seq>.tsr`. Anyone then checks it with
//! the authority's certificate alone:
//!
//! ```text
//! openssl ts -verify -data checkpoint.txt -in organization-1-42.tsr -CAfile tsa-ca.pem
//! ```
//!
//! The service checks what it can without the authority's certificate
//! chain: the reply grants the request and carries this digest and nonce.
//! A failed time-stamp is logged and leaves the checkpoint as it is (signed
//! and witnessed); it never holds the record back.

use sha2::{Digest, Sha256};

/// The MIME types of RFC 3161 over HTTP (§3.4).
const QUERY_TYPE: &str = "application/timestamp-query";
const REPLY_TYPE: &str = "application/timestamp-reply";

/// DER of the SHA-256 `AlgorithmIdentifier` (OID 2.16.840.1.101.3.4.2.1, NULL parameters).
const SHA256_ALGORITHM: [u8; 15] = [
    0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00,
];

/// A DER INTEGER holding `value` (unsigned, minimal).
fn der_unsigned(value: u64) -> Vec<u8> {
    let bytes = value.to_be_bytes();
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(7);
    let mut content = bytes[first..].to_vec();
    if content[0] & 0x80 != 0 {
        content.insert(0, 0); // stays positive
    }
    let mut der = vec![0x02, content.len() as u8];
    der.extend(content);
    der
}

/// A DER SEQUENCE of `content`, which is always shorter than 128 bytes here.
fn der_sequence(content: &[u8]) -> Vec<u8> {
    debug_assert!(content.len() < 128);
    let mut der = vec![0x30, content.len() as u8];
    der.extend_from_slice(content);
    der
}

/// The `TimeStampReq` for a SHA-256 `digest`: version 1, the imprint, a
/// nonce, and `certReq` so the reply names the authority's certificate.
pub fn request(digest: &[u8; 32], nonce: u64) -> Vec<u8> {
    let mut imprint = SHA256_ALGORITHM.to_vec();
    imprint.extend([0x04, 0x20]);
    imprint.extend_from_slice(digest);
    let mut content = der_unsigned(1);
    content.extend(der_sequence(&imprint));
    content.extend(der_unsigned(nonce));
    content.extend([0x01, 0x01, 0xff]);
    der_sequence(&content)
}

/// One DER element: its tag, its content and what follows it.
fn element(der: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = der.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (length, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let length = rest[..count]
            .iter()
            .fold(0usize, |n, &b| (n << 8) | usize::from(b));
        (length, &rest[count..])
    };
    (rest.len() >= length).then(|| (tag, &rest[..length], &rest[length..]))
}

/// Why a time-stamp reply was not accepted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReplyFault {
    #[error("the reply is not a DER TimeStampResp")]
    Malformed,
    #[error("the authority refused the request (PKIStatus {0})")]
    Refused(u8),
    #[error("the reply grants no time-stamp token")]
    NoToken,
    #[error("the token is for another digest or nonce")]
    OtherRequest,
}

/// Checks a `TimeStampResp` for the request of `digest` and `nonce`: granted
/// (status 0 or 1), with a token that carries both. (The token's signature
/// and certificate are the verifier's to check, with the authority's CA.)
pub fn check_reply(reply: &[u8], digest: &[u8; 32], nonce: u64) -> Result<(), ReplyFault> {
    let (0x30, response, _) = element(reply).ok_or(ReplyFault::Malformed)? else {
        return Err(ReplyFault::Malformed);
    };
    let (0x30, status_info, token) = element(response).ok_or(ReplyFault::Malformed)? else {
        return Err(ReplyFault::Malformed);
    };
    let (0x02, status, _) = element(status_info).ok_or(ReplyFault::Malformed)? else {
        return Err(ReplyFault::Malformed);
    };
    match status {
        [0] | [1] => {}
        [other] => return Err(ReplyFault::Refused(*other)),
        _ => return Err(ReplyFault::Malformed),
    }
    if token.is_empty() {
        return Err(ReplyFault::NoToken);
    }
    let nonce = der_unsigned(nonce);
    let carries = |needle: &[u8]| token.windows(needle.len()).any(|w| w == needle);
    if carries(digest) && carries(&nonce) {
        Ok(())
    } else {
        Err(ReplyFault::OtherRequest)
    }
}

/// A time-stamp authority reached over HTTP.
#[derive(Clone)]
pub struct Authority {
    url: String,
    http: reqwest::Client,
}

impl Authority {
    pub fn new(url: String, http: reqwest::Client) -> Self {
        Self { url, http }
    }

    /// The authority's `TimeStampResp` for `message`, checked.
    pub async fn stamp(&self, message: &[u8]) -> Result<Vec<u8>, String> {
        let digest: [u8; 32] = Sha256::digest(message).into();
        let nonce = rand::random::<u64>();
        let answer = self
            .http
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, QUERY_TYPE)
            .header(reqwest::header::ACCEPT, REPLY_TYPE)
            .body(request(&digest, nonce))
            .send()
            .await
            .map_err(|e| format!("{}: {e}", self.url))?;
        let status = answer.status();
        if !status.is_success() {
            return Err(format!("{} answered {status}", self.url));
        }
        let reply = answer
            .bytes()
            .await
            .map_err(|e| format!("{}: {e}", self.url))?;
        check_reply(&reply, &digest, nonce).map_err(|fault| format!("{}: {fault}", self.url))?;
        Ok(reply.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_the_der_of_rfc_3161() {
        let digest = [0xab; 32];
        let der = request(&digest, 0x80);
        // SEQUENCE { INTEGER 1, SEQUENCE { sha256, OCTET STRING digest }, INTEGER 0x0080, TRUE }
        let mut expected = vec![0x30, 0x3d, 0x02, 0x01, 0x01, 0x30, 0x31];
        expected.extend(SHA256_ALGORITHM);
        expected.extend([0x04, 0x20]);
        expected.extend([0xab; 32]);
        expected.extend([0x02, 0x02, 0x00, 0x80, 0x01, 0x01, 0xff]);
        assert_eq!(der, expected);
        assert_eq!(der_unsigned(0), vec![0x02, 0x01, 0x00]);
        assert_eq!(der_unsigned(0x0102), vec![0x02, 0x02, 0x01, 0x02]);
    }

    #[test]
    fn a_reply_is_accepted_only_when_granted_for_this_digest_and_nonce() {
        let digest = [7u8; 32];
        let token = |digest: &[u8], nonce: u64| {
            let mut content = digest.to_vec();
            content.extend(der_unsigned(nonce));
            der_sequence(&content)
        };
        let reply = |status: u8, token: &[u8]| {
            let mut content = der_sequence(&[0x02, 0x01, status]);
            content.extend_from_slice(token);
            // A long-form length, as real replies have.
            let mut der = vec![0x30, 0x81, content.len() as u8];
            der.extend(content);
            der
        };
        assert_eq!(
            check_reply(&reply(0, &token(&digest, 9)), &digest, 9),
            Ok(())
        );
        assert_eq!(
            check_reply(&reply(1, &token(&digest, 9)), &digest, 9),
            Ok(())
        );
        assert_eq!(
            check_reply(&reply(2, &[]), &digest, 9),
            Err(ReplyFault::Refused(2))
        );
        assert_eq!(
            check_reply(&reply(0, &[]), &digest, 9),
            Err(ReplyFault::NoToken)
        );
        assert_eq!(
            check_reply(&reply(0, &token(&[8u8; 32], 9)), &digest, 9),
            Err(ReplyFault::OtherRequest)
        );
        assert_eq!(
            check_reply(&reply(0, &token(&digest, 10)), &digest, 9),
            Err(ReplyFault::OtherRequest)
        );
        assert_eq!(
            check_reply(b"<html>", &digest, 9),
            Err(ReplyFault::Malformed)
        );
    }
}
