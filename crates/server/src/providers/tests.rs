//! The clients against a tiny local HTTP server that records each request
//! and answers a canned response.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::Router;
use base64::Engine;
use optin_core::sms::SmsStatus;
use optin_core::whatsapp::SendMessage;
use serde_json::Value;

use super::*;

/// One request as the server saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
}

impl Seen {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }
}

/// Serves `answer` to every request; returns the base URL and the log.
async fn canned(
    status: u16,
    content_type: &'static str,
    answer: &'static str,
) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let app = Router::new().fallback(
        move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let log = log.clone();
            async move {
                log.lock().unwrap().push(Seen {
                    method,
                    uri,
                    headers,
                    body,
                });
                (
                    StatusCode::from_u16(status).unwrap(),
                    [("content-type", content_type)],
                    answer,
                )
            }
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), seen)
}

fn whatsapp(base: &str) -> WhatsAppClient {
    WhatsAppClient::new(
        WhatsAppConfig {
            graph_base: format!("{base}/"),
            api_version: "v21.0".into(),
            access_token: "tok-123".into(),
        },
        reqwest::Client::new(),
    )
}

/// The organization's number, with the service-wide token.
fn sender() -> WhatsAppSender {
    WhatsAppSender {
        phone_number_id: "PNID".into(),
        access_token: None,
    }
}

/// The organization's SMS number.
const FROM: &str = "+15550001111";

fn sms(base: &str) -> SmsClient {
    SmsClient::new(
        SmsConfig {
            base: base.into(),
            account_sid: "AC1".into(),
            auth_token: "secret".into(),
            status_callback: Some("https://example.test/webhooks/sms".into()),
        },
        reqwest::Client::new(),
    )
}

const JSON: &str = "application/json";

fn opt_in() -> SendMessage {
    SendMessage::opt_in_request(
        "+15551234567",
        "advisor_opt_in",
        "en_US",
        vec!["Jane Smith, Acme Wealth".into()],
        "req-1",
    )
}

async fn whatsapp_error(status: u16, body: &'static str) -> ProviderError {
    let (base, _) = canned(status, JSON, body).await;
    whatsapp(&base)
        .send(&sender(), &SendMessage::text("+15551234567", "hi"), "k")
        .await
        .unwrap_err()
}

#[tokio::test]
async fn whatsapp_send_posts_the_exact_request() {
    let (base, seen) = canned(
        200,
        JSON,
        r#"{"messaging_product":"whatsapp","contacts":[{"input":"15551234567","wa_id":"15551234567"}],"messages":[{"id":"wamid.ABC","message_status":"accepted"}]}"#,
    )
    .await;
    let accepted = whatsapp(&base)
        .send(&sender(), &opt_in(), "outbox-7")
        .await
        .unwrap();
    assert_eq!(
        accepted,
        SendAccepted {
            message_id: "wamid.ABC".into(),
            wa_id: "15551234567".into()
        }
    );
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    let request = &seen[0];
    assert_eq!(request.method, Method::POST);
    assert_eq!(request.uri.path(), "/v21.0/PNID/messages");
    assert_eq!(request.header("authorization"), "Bearer tok-123");
    assert_eq!(request.header("idempotency-key"), "outbox-7");
    assert_eq!(request.header("content-type"), "application/json");
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(body, serde_json::to_value(opt_in()).unwrap());
    assert_eq!(
        body["template"]["components"][1]["parameters"][0]["payload"],
        "OPTIN_YES:req-1"
    );
}

#[tokio::test]
async fn an_organization_sends_from_its_own_number_with_its_own_token() {
    let (base, seen) = canned(
        200,
        JSON,
        r#"{"messaging_product":"whatsapp","contacts":[],"messages":[{"id":"wamid.OWN"}]}"#,
    )
    .await;
    let own = WhatsAppSender {
        phone_number_id: "2222".into(),
        access_token: Some("org-token".into()),
    };
    whatsapp(&base).send(&own, &opt_in(), "k").await.unwrap();
    let seen = seen.lock().unwrap();
    assert_eq!(seen[0].uri.path(), "/v21.0/2222/messages");
    assert_eq!(seen[0].header("authorization"), "Bearer org-token");
}

#[tokio::test]
async fn throttling_and_server_faults_are_retryable() {
    let e = whatsapp_error(429, "").await;
    assert!(e.is_retryable());
    assert_eq!(e.status(), Some(429));

    let e = whatsapp_error(500, "<html>oops</html>").await;
    assert!(e.is_retryable());
    assert_eq!(e.code(), None);
    assert_eq!(e.message(), "<html>oops</html>");

    let e = whatsapp_error(
        400,
        r#"{"error":{"message":"(#131056) pair rate limit hit","type":"OAuthException","code":131056,"fbtrace_id":"x"}}"#,
    )
    .await;
    assert!(e.is_retryable());
    assert_eq!(e.code(), Some(ErrorCode(131056)));

    let e = whatsapp_error(
        400,
        r#"{"error":{"message":"throughput","type":"OAuthException","code":130429}}"#,
    )
    .await;
    assert!(e.is_retryable());
}

#[tokio::test]
async fn other_client_errors_are_permanent_with_code_and_message() {
    let e = whatsapp_error(
        400,
        r#"{"error":{"message":"(#100) Invalid parameter","type":"OAuthException","code":100,"error_subcode":33,"fbtrace_id":"AbC"}}"#,
    )
    .await;
    assert_eq!(
        e,
        ProviderError::Permanent {
            status: 400,
            code: Some(ErrorCode(100)),
            message: "(#100) Invalid parameter".into()
        }
    );
    assert!(!e.is_retryable());

    let e = whatsapp_error(
        401,
        r#"{"error":{"message":"Invalid OAuth access token.","type":"OAuthException","code":190}}"#,
    )
    .await;
    assert_eq!(e.code(), Some(ErrorCode(190)));
    assert!(!e.is_retryable());

    let e = whatsapp_error(404, "").await;
    assert_eq!(e.status(), Some(404));
    assert!(!e.is_retryable());
}

#[tokio::test]
async fn an_unreadable_success_is_permanent() {
    let (base, _) = canned(
        200,
        JSON,
        r#"{"messaging_product":"whatsapp","messages":[]}"#,
    )
    .await;
    let e = whatsapp(&base)
        .send(&sender(), &opt_in(), "k")
        .await
        .unwrap_err();
    assert!(!e.is_retryable());
    let (base, _) = canned(200, "text/plain", "ok").await;
    let e = whatsapp(&base)
        .send(&sender(), &opt_in(), "k")
        .await
        .unwrap_err();
    assert!(!e.is_retryable());
}

#[tokio::test]
async fn no_connection_is_retryable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let e = whatsapp(&format!("http://{addr}"))
        .send(&sender(), &opt_in(), "k")
        .await
        .unwrap_err();
    assert!(e.is_retryable(), "{e}");
    assert!(!e.outcome_unknown(), "nothing reached the provider: {e}");
    assert_eq!(e.status(), None);
}

#[tokio::test]
async fn no_answer_within_the_timeout_is_an_unknown_outcome_not_a_retry() {
    // The provider got the request and may act on it; it just answers late.
    let app = Router::new().fallback(|| async {
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        "late"
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_millis(200))
        .build()
        .unwrap();
    let client = WhatsAppClient::new(whatsapp(&format!("http://{addr}")).config().clone(), http);
    let e = client.send(&sender(), &opt_in(), "k").await.unwrap_err();
    assert!(e.outcome_unknown(), "{e}");
    assert!(!e.is_retryable(), "{e}");
    assert_eq!((e.status(), e.code()), (None, None));
}

#[tokio::test]
async fn sms_send_posts_a_basic_auth_form() {
    let (base, seen) = canned(
        201,
        JSON,
        r#"{"sid":"SM123","account_sid":"AC1","status":"queued","to":"+15551234567","from":"+15550001111","body":"Reply YES","error_code":null}"#,
    )
    .await;
    let accepted = sms(&base)
        .send(FROM, "+15551234567", "Reply YES & win", "outbox-9")
        .await
        .unwrap();
    assert_eq!(
        accepted,
        SmsAccepted {
            sid: "SM123".into(),
            status: SmsStatus::Queued
        }
    );
    let seen = seen.lock().unwrap();
    let request = &seen[0];
    assert_eq!(request.method, Method::POST);
    assert_eq!(request.uri.path(), "/2010-04-01/Accounts/AC1/Messages.json");
    let expected_auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("AC1:secret")
    );
    assert_eq!(request.header("authorization"), expected_auth);
    assert_eq!(request.header("idempotency-key"), "outbox-9");
    assert_eq!(
        request.header("content-type"),
        "application/x-www-form-urlencoded"
    );
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&request.body).unwrap();
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(
        pairs,
        [
            ("To", "+15551234567"),
            ("From", "+15550001111"),
            ("Body", "Reply YES & win"),
            ("StatusCallback", "https://example.test/webhooks/sms"),
        ]
    );
}

#[tokio::test]
async fn sms_errors_are_classified_from_twilios_body() {
    let (base, _) = canned(
        400,
        JSON,
        r#"{"code":21211,"message":"The 'To' number is not a valid phone number.","more_info":"https://www.twilio.com/docs/errors/21211","status":400}"#,
    )
    .await;
    let e = sms(&base).send(FROM, "+1", "x", "k").await.unwrap_err();
    assert_eq!(
        e,
        ProviderError::Permanent {
            status: 400,
            code: Some(ErrorCode(21211)),
            message: "The 'To' number is not a valid phone number.".into()
        }
    );
    let (base, _) = canned(
        429,
        JSON,
        r#"{"code":20429,"message":"Too Many Requests","status":429}"#,
    )
    .await;
    let e = sms(&base)
        .send(FROM, "+15551234567", "x", "k")
        .await
        .unwrap_err();
    assert!(e.is_retryable());
    assert_eq!(e.code(), Some(ErrorCode(20429)));
}

#[test]
fn sms_webhooks_are_told_apart_and_keep_every_pair() {
    let (hook, pairs) = sms::SmsWebhook::parse(
        b"MessageSid=SM1&MessageStatus=undelivered&ErrorCode=30003&To=%2B15551234567&ApiVersion=2010-04-01",
    )
    .unwrap();
    match hook {
        sms::SmsWebhook::Status(status) => {
            assert_eq!(status.message_sid, "SM1");
            assert_eq!(status.message_status, SmsStatus::Undelivered);
            assert_eq!(status.error_code, Some(30003));
            assert_eq!(status.to.as_deref(), Some("+15551234567"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(pairs.len(), 5);

    let (hook, _) = sms::SmsWebhook::parse(
        b"MessageSid=SM2&AccountSid=AC1&From=%2B15551234567&To=%2B15550001111&Body=STOP&NumMedia=0&SmsStatus=received",
    )
    .unwrap();
    match hook {
        sms::SmsWebhook::Inbound(inbound) => {
            assert_eq!(inbound.body, "STOP");
            assert_eq!(inbound.from, "+15551234567");
        }
        other => panic!("{other:?}"),
    }
    let error = sms::SmsWebhook::parse(b"Body=hi").expect_err("neither a status nor an inbound");
    assert!(
        error.to_string().starts_with("missing field"),
        "refused for the missing fields: {error}"
    );
}

#[test]
fn classification_without_a_network() {
    assert!(ProviderError::from_response(503, b"").is_retryable());
    assert_eq!(
        ProviderError::from_response(503, b"").message(),
        "no error details in the answer"
    );
    let long = "x".repeat(500);
    let e = ProviderError::from_response(400, long.as_bytes());
    assert!(e.message().len() < 210);
    assert!(!e.is_retryable());
    assert!(
        e.to_string()
            .starts_with("provider refused the message (HTTP 400, code None): "),
        "{e}"
    );
}
