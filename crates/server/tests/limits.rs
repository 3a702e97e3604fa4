//! Limits: slow clients are cut off, the API's budget never starves the
//! webhooks, open connections are capped, and sends and API calls have
//! quotas per advisor and per organization (429 with `Retry-After`).

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::extra::{assert_refused, eventually, start_with};
use support::{envelope, TestService};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads until the peer closes (or `deadline` passes: then panics);
/// returns what was read.
async fn read_until_closed(stream: &mut tokio::net::tcp::OwnedReadHalf, what: &str) -> String {
    let mut seen = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(6), async {
        let mut buffer = [0u8; 1024];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => seen.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await;
    let text = String::from_utf8_lossy(&seen).into_owned();
    assert!(
        read.is_ok(),
        "{what}: the connection stayed open; read {text:?}"
    );
    text
}

/// Writes `bytes` one at a time, 100 ms apart, until done or the peer is gone;
/// returns how many were written.
async fn drip(mut writer: tokio::net::tcp::OwnedWriteHalf, bytes: Vec<u8>) -> usize {
    for (i, byte) in bytes.iter().enumerate() {
        if writer.write_all(&[*byte]).await.is_err() {
            return i;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bytes.len()
}

async fn connect(t: &TestService) -> TcpStream {
    TcpStream::connect(t.service.addr).await.unwrap()
}

#[tokio::test]
async fn headers_sent_one_byte_a_second_are_cut_off() {
    let t = start_with(|config| config.limits.header_read_timeout_secs = 1).await;
    let (mut reader, writer) = connect(&t).await.into_split();
    // 100 bytes of headers take 10 s at this pace; the service gives 1 s.
    let mut head = format!(
        "GET /api/v1/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n",
        t.jane
    )
    .into_bytes();
    head.truncate(100);
    let writing = tokio::spawn(drip(writer, head));
    let answer = read_until_closed(&mut reader, "slow headers").await;
    assert!(!answer.contains("200 OK"), "{answer}");
    let written = writing.await.unwrap();
    assert!(written < 100, "the service read all {written} bytes");
    t.service.stop().await;
}

#[tokio::test]
async fn a_slow_request_body_is_answered_408_in_the_error_shape() {
    let t = start_with(|config| config.limits.request_timeout_secs = 1).await;
    let (mut reader, mut writer) = connect(&t).await.into_split();
    let head = format!(
        "POST /api/v1/contacts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 200\r\n\r\n{{",
        t.jane
    );
    writer.write_all(head.as_bytes()).await.unwrap();
    let writing = tokio::spawn(drip(writer, vec![b' '; 199]));
    let answer = read_until_closed(&mut reader, "slow body").await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains(r#""code":"request_timeout""#), "{answer}");
    writing.abort();
    // The contact was not created.
    assert_eq!(
        t.count("SELECT COUNT(*) FROM contacts WHERE name = ''")
            .await,
        0
    );
    t.service.stop().await;
}

#[tokio::test]
async fn a_slow_webhook_body_is_answered_503_with_retry_after() {
    let t = start_with(|config| config.limits.request_timeout_secs = 1).await;
    let (mut reader, mut writer) = connect(&t).await.into_split();
    let head = "POST /webhooks/whatsapp HTTP/1.1\r\nHost: x\r\n\
                Content-Type: application/json\r\nContent-Length: 200\r\n\r\n{";
    writer.write_all(head.as_bytes()).await.unwrap();
    let writing = tokio::spawn(drip(writer, vec![b' '; 199]));
    let answer = read_until_closed(&mut reader, "slow webhook body").await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("retry-after: 5"),
        "{answer}"
    );
    assert!(answer.contains(r#""code":"busy""#), "{answer}");
    writing.abort();
    t.service.stop().await;
}

/// Holds one API request in flight: headers sent, body never finished.
async fn hold_api_request(t: &TestService) -> TcpStream {
    let mut stream = connect(t).await;
    let head = format!(
        "POST /api/v1/contacts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 200\r\n\r\n{{",
        t.jane
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream
}

#[tokio::test]
async fn a_full_api_budget_answers_503_and_webhooks_are_still_answered() {
    let t = start_with(|config| config.limits.max_api_requests = 2).await;
    let held = [hold_api_request(&t).await, hold_api_request(&t).await];
    let refused = eventually("the API refuses beyond its budget", || async {
        let response = t
            .http
            .get(format!("{}/api/v1/me", t.base))
            .bearer_auth(&t.jane)
            .send()
            .await
            .unwrap();
        match response.status().as_u16() {
            503 => Ok(response),
            other => Err(format!("{other}")),
        }
    })
    .await;
    assert_eq!(refused.headers()["retry-after"], "1");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["code"], "busy");
    // The webhooks have a budget of their own: a STOP still gets through.
    let stop = envelope(json!({
        "contacts": [{"profile": {"name": "Kerry Fisher"}, "wa_id": "447911123456"}],
        "messages": [{"from": "447911123456", "id": "wamid.BUDGET", "timestamp": "1764080000", "type": "text", "text": {"body": "stop"}}]
    }));
    assert_eq!(t.signed_whatsapp_webhook(&stop).await, 200);
    let kerry_stops = t
        .count("SELECT COUNT(*) FROM consent_events WHERE kind = 'keyword_opt_out'")
        .await;
    assert_eq!(kerry_stops, 1);
    drop(held);
    t.service.stop().await;
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_until_one_closes() {
    let t = start_with(|config| config.limits.max_connections = 2).await;
    let idle = [connect(&t).await, connect(&t).await];
    let http = reqwest::Client::new();
    let request = http.get(format!("{}/embed/config", t.base)).send();
    tokio::pin!(request);
    // Both places are taken by connections that say nothing.
    assert!(
        tokio::time::timeout(Duration::from_millis(300), &mut request)
            .await
            .is_err(),
        "a third connection was served while two were open"
    );
    drop(idle);
    let answered = tokio::time::timeout(Duration::from_secs(5), request)
        .await
        .expect("served once a place is free")
        .unwrap();
    assert_eq!(answered.status(), 200);
    t.service.stop().await;
}

#[tokio::test]
async fn sends_beyond_the_advisor_and_organization_quotas_are_refused_429() {
    let t = start_with(|config| {
        config.limits.sends_per_minute = 2;
        config.limits.org_sends_per_minute = 3;
    })
    .await;
    let noah = t.contact_id(&t.jane, "Noah").await;
    let grace = t.contact_id(&t.sam, "Grace").await;
    assert_eq!(t.sms_as(&t.jane, noah, "one").await.0, 202);
    assert_eq!(t.sms_as(&t.jane, noah, "two").await.0, 202);
    assert_refused(&t.sms_as(&t.jane, noah, "three").await, 429, "rate_limited");
    // An opt-in request is a send too.
    assert_refused(&t.opt_in_as(&t.jane, noah, "k1").await, 429, "rate_limited");
    // Sam has his own quota, but the organization's is shared.
    assert_eq!(t.sms_as(&t.sam, grace, "one").await.0, 202);
    let response = t
        .http
        .post(format!("{}/api/v1/contacts/{grace}/sms", t.base))
        .bearer_auth(&t.sam)
        .json(&json!({"body": "two"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "rate_limited");
    assert_eq!(
        t.count("SELECT COUNT(*) FROM messages WHERE direction = 'out'")
            .await,
        3,
        "refused sends queue nothing"
    );
    t.service.stop().await;
}

#[tokio::test]
async fn api_calls_beyond_the_person_and_organization_quotas_are_refused_429() {
    let t = start_with(|config| {
        config.limits.api_per_minute = 3;
        config.limits.org_api_per_minute = 5;
    })
    .await;
    for _ in 0..3 {
        assert_eq!(t.api("GET", "/me", &t.jane, None).await.0, 200);
    }
    let refused = t
        .http
        .get(format!("{}/api/v1/me", t.base))
        .bearer_auth(&t.jane)
        // A client cannot pick its own key.
        .header("X-Forwarded-For", "203.0.113.9")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key("retry-after"));
    assert_eq!(t.api("GET", "/me", &t.sam, None).await.0, 200);
    assert_eq!(t.api("GET", "/me", &t.sam, None).await.0, 200);
    assert_refused(
        &t.api("GET", "/me", &t.sam, None).await,
        429,
        "rate_limited",
    );
    // An unknown token is refused as before, without using anyone's quota.
    assert_eq!(t.api("GET", "/me", "nobody", None).await.0, 401);
    t.service.stop().await;
}

/// A fresh token for Jane that expires an hour from the service's now.
async fn jane_token(t: &TestService) -> String {
    let state = &t.service.state;
    let (_, token) = state
        .store
        .mint_advisor_token(
            1,
            optin_server::store::auth::AdvisorRef::Id(1),
            state.clock.now() + chrono::Duration::hours(1),
        )
        .await
        .unwrap()
        .unwrap();
    token
}

async fn open_stream(t: &TestService, token: &str) -> reqwest::Response {
    t.http
        .get(format!("{}/api/v1/events", t.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

/// Reads the stream until the service ends it; panics if it is still open
/// after 5 s.
async fn assert_stream_ends(response: reqwest::Response, why: &str) {
    use futures_util::StreamExt;
    assert_eq!(response.status(), 200);
    let mut body = response.bytes_stream();
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(Ok(_)) = body.next().await {}
    })
    .await;
    assert!(ended.is_ok(), "the stream stayed open after {why}");
}

#[tokio::test]
async fn a_live_stream_ends_when_its_token_is_revoked() {
    let t = start_with(|config| config.limits.stream_check_secs = 1).await;
    let token = jane_token(&t).await;
    let stream = open_stream(&t, &token).await;
    let state = &t.service.state;
    assert!(state
        .store
        .revoke_token(1, &token, state.clock.now())
        .await
        .unwrap());
    assert_stream_ends(stream, "the revocation").await;
    assert_refused(
        &t.api("GET", "/me", &token, None).await,
        401,
        "unauthorized",
    );
    t.service.stop().await;
}

#[tokio::test]
async fn a_live_stream_ends_when_its_token_expires() {
    let t = start_with(|config| config.limits.stream_check_secs = 1).await;
    let token = jane_token(&t).await;
    let stream = open_stream(&t, &token).await;
    t.service.state.clock.advance(chrono::Duration::hours(2));
    assert_stream_ends(stream, "the expiry").await;
    t.service.state.clock.reset();
    t.service.stop().await;
}

#[tokio::test]
async fn a_token_holds_at_most_three_live_streams() {
    let t = start_with(|config| config.limits.stream_check_secs = 1).await;
    let token = jane_token(&t).await;
    let mut open = Vec::new();
    for _ in 0..3 {
        let stream = open_stream(&t, &token).await;
        assert_eq!(stream.status(), 200);
        open.push(stream);
    }
    let refused = open_stream(&t, &token).await;
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key("retry-after"));
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["code"], "too_many_streams");
    // Another token of the same person has its own streams.
    assert_eq!(open_stream(&t, &t.jane).await.status(), 200);
    // A closed stream frees its place.
    drop(open.pop());
    eventually("a closed stream frees its place", || async {
        match open_stream(&t, &token).await.status().as_u16() {
            200 => Ok(()),
            other => Err(other.to_string()),
        }
    })
    .await;
    t.service.stop().await;
}

#[tokio::test]
async fn sms_to_a_country_outside_the_organizations_list_is_refused() {
    use optin_core::admin::OrganizationSettings;
    use optin_server::services::provisioning::update_organization;
    let t = support::start_without_outbox_worker().await;
    let store = &t.service.state.store;
    let kerry = t.contact_id(&t.jane, "Kerry").await;
    let noah = t.contact_id(&t.jane, "Noah").await;
    // The demo sends to its contacts' countries, the UK among them.
    assert_eq!(t.sms_as(&t.jane, kerry, "hello").await.0, 202);
    let us_only = OrganizationSettings {
        sms_countries: Some(vec!["us".into()]),
        ..Default::default()
    };
    update_organization(store, 1, &us_only, None).await.unwrap();
    let view = store.organization(1).await.unwrap().unwrap();
    assert_eq!(view.sms_countries, Some(vec!["US".to_owned()]));
    assert_refused(
        &t.sms_as(&t.jane, kerry, "hello again").await,
        403,
        "sms_country_not_allowed",
    );
    assert_eq!(t.sms_as(&t.jane, noah, "hello").await.0, 202);
    assert_eq!(
        t.count("SELECT COUNT(*) FROM outbox").await,
        2,
        "the refused SMS was never queued for the provider"
    );
    let unknown = OrganizationSettings {
        sms_countries: Some(vec!["ZZ".into()]),
        ..Default::default()
    };
    let refused = update_organization(store, 1, &unknown, None).await;
    assert!(
        matches!(
            refused,
            Err(optin_server::error::AppError::Invalid {
                code: "invalid_country",
                ..
            })
        ),
        "{refused:?}"
    );
    t.service.stop().await;
}
