//! The sandbox router on a real socket, driven by the real provider clients,
//! with a fake service that records the webhooks it receives.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::Router;
use optin_core::api::ErrorCode;
use optin_core::sandbox::{ClockView, PhoneMessage, PhoneView};
use optin_core::sms::{SmsInbound, SmsStatus, SmsStatusCallback};
use optin_core::whatsapp::{
    DeliveryStatus, InboundKind, InboundMessage, SendMessage, StatusUpdate, WebhookEnvelope,
};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::*;
// The service's real provider clients and signature checks (a dev-dependency).
use optin_server::providers::signature::{verify_meta_signature, verify_twilio_signature};
use optin_server::providers::{
    ProviderError, SendAccepted, SmsAccepted, SmsClient, SmsConfig, WhatsAppClient, WhatsAppConfig,
    WhatsAppSender,
};

const APP_SECRET: &str = "app-secret";
const ACCESS_TOKEN: &str = "graph-token";
const SMS_SID: &str = "ACtest";
const SMS_TOKEN: &str = "sms-token";
const CONTACT: &str = "+15551234567";

/// A webhook as the fake service received it.
struct Received {
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

struct Harness {
    sandbox: String,
    service: String,
    webhooks: mpsc::UnboundedReceiver<Received>,
    state: SandboxState,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

/// The sandbox plus a fake service that answers 500 to its first
/// `refuse_first` webhooks and 200 after.
async fn harness(refuse_first: usize) -> Harness {
    harness_with(refuse_first, None).await
}

/// [`harness`] with a template lookup.
async fn harness_with(refuse_first: usize, templates: Option<TemplateLookup>) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("sandbox.sqlite3"));

    let (tx, webhooks) = mpsc::unbounded_channel();
    let seen = Arc::new(AtomicUsize::new(0));
    let service = serve(Router::new().fallback(
        move |uri: Uri, headers: HeaderMap, body: Bytes| {
            let tx = tx.clone();
            let seen = seen.clone();
            async move {
                let _ = tx.send(Received { uri, headers, body });
                if seen.fetch_add(1, Ordering::SeqCst) < refuse_first {
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    StatusCode::OK
                }
            }
        },
    ))
    .await;

    let http = reqwest::Client::new();
    let state = SandboxState {
        db,
        templates,
        phone_app_dir: None,
        http: http.clone(),
        service_base: Arc::new(RwLock::new(String::new())),
        app_secret: APP_SECRET.into(),
        access_token: ACCESS_TOKEN.into(),
        sms_account_sid: SMS_SID.into(),
        sms_auth_token: SMS_TOKEN.into(),
        clock: Clock::default(),
        settings: SandboxSettings {
            step_delay: Duration::from_millis(5),
            first_retry_delay: Duration::from_millis(10),
            webhook_attempts: 4,
            ..SandboxSettings::default()
        },
        emitting: Default::default(),
    };
    state.set_service_base(format!("{service}/"));
    let sandbox = serve(router(state.clone())).await;
    Harness {
        sandbox,
        service,
        webhooks,
        state,
        http,
        _dir: dir,
    }
}

/// The service's WhatsApp client bound to the sandbox's business number.
struct BusinessWhatsApp {
    client: WhatsAppClient,
    sender: WhatsAppSender,
}

impl BusinessWhatsApp {
    async fn send(&self, message: &SendMessage, key: &str) -> Result<SendAccepted, ProviderError> {
        self.client.send(&self.sender, message, key).await
    }

    fn messages_url(&self) -> String {
        self.client.messages_url(&self.sender.phone_number_id)
    }
}

/// The service's SMS client sending from the sandbox's number.
struct BusinessSms {
    client: SmsClient,
    from: String,
}

impl BusinessSms {
    async fn send(&self, to: &str, body: &str, key: &str) -> Result<SmsAccepted, ProviderError> {
        self.client.send(&self.from, to, body, key).await
    }
}

impl Harness {
    fn whatsapp_config(&self) -> WhatsAppConfig {
        WhatsAppConfig {
            graph_base: format!("{}/graph", self.sandbox),
            api_version: "v21.0".into(),
            access_token: ACCESS_TOKEN.into(),
        }
    }

    fn whatsapp(&self) -> BusinessWhatsApp {
        BusinessWhatsApp {
            client: WhatsAppClient::new(self.whatsapp_config(), self.http.clone()),
            sender: WhatsAppSender {
                phone_number_id: self.state.settings.phone_number_id.clone(),
                access_token: None,
            },
        }
    }

    fn sms_config(&self, status_callback: Option<String>) -> SmsConfig {
        SmsConfig {
            base: format!("{}/sms", self.sandbox),
            account_sid: SMS_SID.into(),
            auth_token: SMS_TOKEN.into(),
            status_callback,
        }
    }

    fn sms(&self, status_callback: Option<String>) -> BusinessSms {
        BusinessSms {
            client: SmsClient::new(self.sms_config(status_callback), self.http.clone()),
            from: self.state.settings.sms_number.clone(),
        }
    }

    async fn next(&mut self) -> Received {
        tokio::time::timeout(Duration::from_secs(5), self.webhooks.recv())
            .await
            .expect("a webhook within 5 s")
            .expect("the fake service is running")
    }

    /// Asserts that the sandbox emitted no further webhook: waits until every
    /// emission it started (delays and retries included) has ended, then
    /// finds nothing more received.
    async fn quiet(&mut self) {
        self.state.idle().await;
        let more = self.webhooks.try_recv();
        assert!(
            more.is_err(),
            "unexpected webhook: {:?}",
            more.map(|r| r.body)
        );
    }

    /// The next webhook, which must be a validly signed WhatsApp envelope.
    async fn next_whatsapp(&mut self) -> WebhookEnvelope {
        let received = self.next().await;
        assert_eq!(received.uri.path(), "/webhooks/whatsapp");
        assert_eq!(received.header("content-type"), Some("application/json"));
        assert!(verify_meta_signature(
            APP_SECRET,
            &received.body,
            received.header("x-hub-signature-256")
        ));
        let envelope: WebhookEnvelope = serde_json::from_slice(&received.body).unwrap();
        assert_eq!(envelope.object, "whatsapp_business_account");
        let value = envelope.message_values().next().unwrap();
        assert_eq!(
            value.metadata.phone_number_id,
            self.state.settings.phone_number_id
        );
        envelope
    }

    async fn next_status(&mut self) -> StatusUpdate {
        let envelope = self.next_whatsapp().await;
        let value = envelope.message_values().next().unwrap();
        assert!(value.messages.is_empty());
        value.statuses[0].clone()
    }

    async fn next_message(&mut self) -> (String, InboundMessage) {
        let envelope = self.next_whatsapp().await;
        let value = envelope.message_values().next().unwrap();
        assert_eq!(value.contacts[0].wa_id, value.messages[0].from);
        // Like Meta since 2026: the sender's BSUID in contacts[] and on the message.
        let user_id = value.contacts[0].user_id.clone();
        assert_eq!(
            user_id
                .as_deref()
                .and_then(optin_core::sandbox::sandbox_user_id_number),
            value.messages[0]
                .from
                .as_deref()
                .map(optin_core::whatsapp::e164_from_wa_id)
        );
        assert_eq!(value.messages[0].from_user_id, user_id);
        (
            value.contacts[0].profile.name.clone(),
            value.messages[0].clone(),
        )
    }

    /// The next webhook, which must be a validly signed SMS form; its pairs.
    async fn next_sms(&mut self) -> (Received, Vec<(String, String)>) {
        let received = self.next().await;
        assert_eq!(
            received.header("content-type"),
            Some("application/x-www-form-urlencoded")
        );
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&received.body).unwrap();
        let url = format!("{}{}", self.service, received.uri);
        assert!(verify_twilio_signature(
            SMS_TOKEN,
            &url,
            &pairs,
            received.header("x-twilio-signature")
        ));
        (received, pairs)
    }

    async fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> T {
        let response = self
            .http
            .get(format!("{}{path}", self.sandbox))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().await.unwrap()
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Value) -> (u16, Value) {
        let response = self
            .http
            .request(method, format!("{}{path}", self.sandbox))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, body).await
    }

    async fn phone(&self, phone: &str) -> PhoneView {
        self.get(&format!("/phones/{phone}")).await
    }

    /// Waits until message `index` of `phone` has `status` (set after the
    /// service answers, so it can trail the webhook the test saw).
    async fn status_becomes(&self, phone: &str, index: usize, status: &str) -> PhoneMessage {
        for _ in 0..100 {
            let message = self.phone(phone).await.messages.swap_remove(index);
            if message.status == status {
                return message;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("message {index} of {phone} never became {status}");
    }
}

fn opt_in(request_id: &str) -> SendMessage {
    SendMessage::opt_in_request(
        CONTACT,
        "advisor_opt_in",
        "en_US",
        vec!["Jane Smith".into(), "Acme Wealth".into()],
        request_id,
    )
}

#[tokio::test]
async fn a_send_by_business_scoped_user_id_reaches_the_numbers_phone() {
    let mut h = harness(0).await;
    let user_id = optin_core::sandbox::sandbox_user_id(CONTACT);
    let message =
        opt_in("r9").addressed_to(&optin_core::whatsapp::Addressee::User(user_id.clone()));
    let accepted = h.whatsapp().send(&message, "job-9").await.unwrap();
    assert!(accepted.message_id.starts_with("wamid."));
    assert_eq!(accepted.wa_id, "", "the number stays private");
    let sent = h.next_status().await;
    assert_eq!(sent.id, accepted.message_id);
    assert_eq!(sent.recipient_user_id, Some(user_id));
}

#[tokio::test]
async fn an_opt_in_request_is_accepted_then_reported_sent_and_delivered() {
    let mut h = harness(0).await;
    let accepted = h.whatsapp().send(&opt_in("r1"), "job-1").await.unwrap();
    assert!(accepted.message_id.starts_with("wamid."));
    assert_eq!(accepted.wa_id, "15551234567");

    let sent = h.next_status().await;
    assert_eq!(sent.id, accepted.message_id);
    assert_eq!(sent.status, DeliveryStatus::Sent);
    assert_eq!(sent.recipient_id, "15551234567");
    assert_eq!(
        sent.recipient_user_id,
        Some(optin_core::sandbox::sandbox_user_id("+15551234567"))
    );
    let delivered = h.next_status().await;
    assert_eq!(delivered.id, accepted.message_id);
    assert_eq!(delivered.status, DeliveryStatus::Delivered);
    assert!(delivered.errors.is_empty());
    h.quiet().await;

    let phone = h.phone(CONTACT).await;
    assert!(phone.on_whatsapp);
    let message = &phone.messages[0];
    assert_eq!(message.id, accepted.message_id);
    assert_eq!(message.status, "delivered");
    assert_eq!(message.text, "[advisor_opt_in] Jane Smith | Acme Wealth");
    let template = message.template.as_ref().unwrap();
    assert_eq!(template.parameters, ["Jane Smith", "Acme Wealth"]);
    assert_eq!(message.buttons[0].text, "Yes");
    assert_eq!(message.buttons[0].payload, "OPTIN_YES:r1");
    assert_eq!(message.buttons[1].payload, "OPTIN_NO:r1");
}

#[tokio::test]
async fn templates_known_to_the_service_are_rendered() {
    let lookup: TemplateLookup = Arc::new(|name: String, language: String| {
        Box::pin(async move {
            (name == "advisor_opt_in" && language == "en_US")
                .then(|| "{{1}} from {{2}} asks: OK with {{2}}?".to_owned())
        })
    });
    let h = harness_with(0, Some(lookup)).await;
    h.whatsapp().send(&opt_in("r1"), "job-1").await.unwrap();
    let phone = h.phone(CONTACT).await;
    assert_eq!(
        phone.messages[0].text,
        "Jane Smith from Acme Wealth asks: OK with Acme Wealth?"
    );
}

#[tokio::test]
async fn a_repeated_idempotency_key_returns_the_same_id_and_emits_nothing_again() {
    let mut h = harness(0).await;
    let client = h.whatsapp();
    let first = client.send(&opt_in("r1"), "job-1").await.unwrap();
    let again = client.send(&opt_in("r1"), "job-1").await.unwrap();
    assert_eq!(first, again);
    let other = client.send(&opt_in("r2"), "job-2").await.unwrap();
    assert_ne!(other.message_id, first.message_id);
    let mut ids = Vec::new();
    for _ in 0..4 {
        ids.push(h.next_status().await.id);
    }
    h.quiet().await;
    assert_eq!(ids.iter().filter(|id| **id == first.message_id).count(), 2);
    assert_eq!(ids.iter().filter(|id| **id == other.message_id).count(), 2);
    assert_eq!(h.phone(CONTACT).await.messages.len(), 2);
}

#[tokio::test]
async fn every_status_returns_the_send_s_callback_data_as_meta_does() {
    let mut h = harness(0).await;
    let client = h.whatsapp();
    let keyed = opt_in("r1").with_callback_data("optin-msg-1-k").unwrap();
    let accepted = client.send(&keyed, "job-1").await.unwrap();
    let sent = h.next_status().await;
    let delivered = h.next_status().await;
    for update in [&sent, &delivered] {
        assert_eq!(update.id, accepted.message_id);
        assert_eq!(
            update.biz_opaque_callback_data.as_deref(),
            Some("optin-msg-1-k")
        );
    }
    let (status, _) = h
        .post(
            &format!("/phones/{CONTACT}/read"),
            json!({"message_id": accepted.message_id}),
        )
        .await;
    assert_eq!(status, 202);
    let read = h.next_status().await;
    assert_eq!(read.status, DeliveryStatus::Read);
    assert_eq!(
        read.biz_opaque_callback_data.as_deref(),
        Some("optin-msg-1-k")
    );
    // The same key again: the same message, nothing emitted twice.
    assert_eq!(client.send(&keyed, "job-1").await.unwrap(), accepted);
    // A send without callback data gets statuses without it.
    client.send(&opt_in("r2"), "job-2").await.unwrap();
    assert_eq!(h.next_status().await.biz_opaque_callback_data, None);
    assert_eq!(h.next_status().await.biz_opaque_callback_data, None);
    h.quiet().await;
}

#[tokio::test]
async fn bad_tokens_unknown_numbers_and_invalid_payloads_get_graph_errors() {
    let mut h = harness(0).await;
    let mut config = h.whatsapp_config();
    config.access_token = "wrong".into();
    let e = BusinessWhatsApp {
        client: WhatsAppClient::new(config.clone(), h.http.clone()),
        sender: h.whatsapp().sender,
    }
    .send(&opt_in("r1"), "k")
    .await
    .unwrap_err();
    assert_eq!(e.status(), Some(401));
    assert_eq!(e.code(), Some(ErrorCode(190)));
    assert!(!e.is_retryable());

    config.access_token = ACCESS_TOKEN.into();
    let unknown_number = WhatsAppSender {
        phone_number_id: "999".into(),
        access_token: None,
    };
    let e = WhatsAppClient::new(config, h.http.clone())
        .send(&unknown_number, &opt_in("r1"), "k")
        .await
        .unwrap_err();
    assert_eq!((e.status(), e.code()), (Some(400), Some(ErrorCode(100))));

    let url = h.whatsapp().messages_url();
    for body in [
        json!({"messaging_product":"whatsapp","to":"15551234567","type":"image","image":{"id":"1"}}),
        json!({"messaging_product":"whatsapp","type":"text","text":{"body":"hi"}}),
        json!({"messaging_product":"whatsapp","to":"12","type":"text","text":{"body":"hi"}}),
        json!({"messaging_product":"whatsapp","to":"15551234567","type":"text","text":{"body":""}}),
    ] {
        let response = h
            .http
            .post(&url)
            .bearer_auth(ACCESS_TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{body}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["code"], 100, "{body}");
        assert_eq!(error["error"]["type"], "OAuthException");
    }
    h.quiet().await;
}

#[tokio::test]
async fn a_number_not_on_whatsapp_fails_with_131026() {
    let mut h = harness(0).await;
    let (status, view) = h
        .call(
            reqwest::Method::PUT,
            &format!("/phones/{CONTACT}/whatsapp"),
            json!({"on_whatsapp": false}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(view["on_whatsapp"], false);

    // Accepted at first: the Cloud API cannot tell in advance.
    let accepted = h.whatsapp().send(&opt_in("r1"), "job-1").await.unwrap();
    let failed = h.next_status().await;
    assert_eq!(failed.id, accepted.message_id);
    assert_eq!(failed.status, DeliveryStatus::Failed);
    assert_eq!(failed.errors[0].code, 131026);
    assert_eq!(failed.errors[0].title, "Message undeliverable");
    h.quiet().await;

    let phone = h.phone(CONTACT).await;
    assert_eq!(phone.messages[0].status, "failed");
    assert_eq!(phone.messages[0].error_code, Some(131026));
    let (status, _) = h
        .post(
            &format!("/phones/{CONTACT}/tap"),
            json!({"message_id": accepted.message_id, "payload": "OPTIN_YES:r1"}),
        )
        .await;
    assert_eq!(status, 409);
    let (status, _) = h
        .post(
            &format!("/phones/{CONTACT}/reply"),
            json!({"text": "yes", "channel": "whatsapp"}),
        )
        .await;
    assert_eq!(status, 409);
}

#[tokio::test]
async fn tapping_yes_sends_a_button_reply_to_the_template() {
    let mut h = harness(0).await;
    h.call(
        reqwest::Method::PUT,
        &format!("/phones/{CONTACT}/whatsapp"),
        json!({"on_whatsapp": true, "profile_name": "Kerry Fisher"}),
    )
    .await;
    let accepted = h.whatsapp().send(&opt_in("r7"), "job-1").await.unwrap();
    h.next_status().await;
    h.next_status().await;

    let (status, _) = h
        .post(
            &format!("/phones/{CONTACT}/tap"),
            json!({"message_id": accepted.message_id, "payload": "OPTIN_MAYBE:r7"}),
        )
        .await;
    assert_eq!(status, 422);
    let (status, _) = h
        .post(
            "/phones/+15559999999/tap",
            json!({"message_id": accepted.message_id, "payload": "OPTIN_YES:r7"}),
        )
        .await;
    assert_eq!(status, 404);

    let (status, tapped) = h
        .post(
            &format!("/phones/{CONTACT}/tap"),
            json!({"message_id": accepted.message_id, "payload": "OPTIN_YES:r7"}),
        )
        .await;
    assert_eq!(status, 202);
    let tapped: PhoneMessage = serde_json::from_value(tapped).unwrap();
    let (name, message) = h.next_message().await;
    assert_eq!(name, "Kerry Fisher");
    assert_eq!(message.id, tapped.id);
    assert_eq!(message.from.as_deref(), Some("15551234567"));
    assert_eq!(message.kind, InboundKind::Button);
    let button = message.button.as_ref().unwrap();
    assert_eq!(button.payload, "OPTIN_YES:r7");
    assert_eq!(button.text, "Yes");
    let context = message.context.as_ref().unwrap();
    assert_eq!(context.id, accepted.message_id);
    assert_eq!(context.from, h.state.settings.display_phone_number);
    h.quiet().await;

    let out = h.status_becomes(CONTACT, 1, "delivered").await;
    assert_eq!(out.id, tapped.id);
    assert_eq!(
        out.context_id.as_deref(),
        Some(accepted.message_id.as_str())
    );
}

#[tokio::test]
async fn replies_arrive_as_whatsapp_text_or_as_a_signed_sms() {
    let mut h = harness(0).await;
    let (status, _) = h
        .post(
            &format!("/phones/{CONTACT}/reply"),
            json!({"text": "STOP", "channel": "whatsapp"}),
        )
        .await;
    assert_eq!(status, 202);
    let (name, message) = h.next_message().await;
    assert_eq!(name, CONTACT);
    assert_eq!(message.kind, InboundKind::Text);
    assert_eq!(message.text_body(), Some("STOP"));
    assert!(message.context.is_none());

    let (status, _) = h
        .post(
            &format!("/phones/{CONTACT}/reply"),
            json!({"text": "yes please", "channel": "sms"}),
        )
        .await;
    assert_eq!(status, 202);
    let (received, _) = h.next_sms().await;
    assert_eq!(received.uri.path(), "/webhooks/sms");
    let inbound: SmsInbound = serde_urlencoded::from_bytes(&received.body).unwrap();
    assert_eq!(inbound.from, CONTACT);
    assert_eq!(inbound.to, h.state.settings.sms_number);
    assert_eq!(inbound.body, "yes please");
    assert_eq!(inbound.account_sid, SMS_SID);
    assert!(inbound.message_sid.starts_with("SM"));

    let (status, _) = h
        .post(&format!("/phones/{CONTACT}/reply"), json!({"text": "  "}))
        .await;
    assert_eq!(status, 422);
    let (status, _) = h.post("/phones/hello/reply", json!({"text": "x"})).await;
    assert_eq!(status, 422);
    h.quiet().await;
}

#[tokio::test]
async fn free_text_needs_the_24_hour_window() {
    let mut h = harness(0).await;
    let text = SendMessage::text(CONTACT, "Thanks for opting in.");
    let accepted = h.whatsapp().send(&text, "job-1").await.unwrap();
    let failed = h.next_status().await;
    assert_eq!(failed.id, accepted.message_id);
    assert_eq!(failed.errors[0].code, 131047);

    h.post(&format!("/phones/{CONTACT}/reply"), json!({"text": "hi"}))
        .await;
    h.next_message().await;
    h.whatsapp().send(&text, "job-2").await.unwrap();
    assert_eq!(h.next_status().await.status, DeliveryStatus::Sent);
    assert_eq!(h.next_status().await.status, DeliveryStatus::Delivered);

    h.post("/clock/advance", json!({"hours": 24})).await;
    h.whatsapp().send(&text, "job-3").await.unwrap();
    assert_eq!(h.next_status().await.errors[0].code, 131047);
}

#[tokio::test]
async fn sms_sends_are_answered_and_reported_by_signed_callbacks() {
    let mut h = harness(0).await;
    let callback = format!("{}/webhooks/sms?source=status", h.service);
    let client = h.sms(Some(callback.clone()));
    let accepted = client
        .send(CONTACT, "Reply YES to opt in", "job-1")
        .await
        .unwrap();
    assert!(accepted.sid.starts_with("SM"));
    assert_eq!(accepted.status, SmsStatus::Queued);
    assert_eq!(
        client
            .send(CONTACT, "Reply YES to opt in", "job-1")
            .await
            .unwrap(),
        accepted
    );

    for expected in [SmsStatus::Sent, SmsStatus::Delivered] {
        let (received, _) = h.next_sms().await;
        assert_eq!(received.uri.to_string(), "/webhooks/sms?source=status");
        let callback: SmsStatusCallback = serde_urlencoded::from_bytes(&received.body).unwrap();
        assert_eq!(callback.message_sid, accepted.sid);
        assert_eq!(callback.message_status, expected);
        assert_eq!(callback.to.as_deref(), Some(CONTACT));
    }
    h.quiet().await;
    let phone = h.phone(CONTACT).await;
    assert_eq!(phone.messages.len(), 1);
    assert_eq!(phone.messages[0].text, "Reply YES to opt in");
    assert_eq!(phone.messages[0].status, "delivered");

    // Without a StatusCallback the callbacks go to the service's /webhooks/sms.
    h.sms(None).send(CONTACT, "Hi", "job-2").await.unwrap();
    assert_eq!(h.next_sms().await.0.uri.to_string(), "/webhooks/sms");
}

#[tokio::test]
async fn sms_sends_are_checked_like_the_provider_does() {
    let h = harness(0).await;
    let mut config = h.sms_config(None);
    config.auth_token = "wrong".into();
    let e = SmsClient::new(config.clone(), h.http.clone())
        .send(&h.state.settings.sms_number, CONTACT, "x", "k")
        .await
        .unwrap_err();
    assert_eq!((e.status(), e.code()), (Some(401), Some(ErrorCode(20003))));

    config.auth_token = SMS_TOKEN.into();
    let e = SmsClient::new(config.clone(), h.http.clone())
        .send(&h.state.settings.sms_number, "12", "x", "k")
        .await
        .unwrap_err();
    assert_eq!((e.status(), e.code()), (Some(400), Some(ErrorCode(21211))));
    let e = SmsClient::new(config.clone(), h.http.clone())
        .send(&h.state.settings.sms_number, CONTACT, " ", "k")
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode(21602)));
    let e = SmsClient::new(config, h.http.clone())
        .send("+15550009999", CONTACT, "x", "k")
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode(21606)));
    assert!(!e.is_retryable());
}

#[tokio::test]
async fn after_stop_by_sms_sends_are_refused_until_start() {
    let mut h = harness(0).await;
    let reply = |text: &str| json!({"text": text, "channel": "sms"});
    h.post(&format!("/phones/{CONTACT}/reply"), reply("Stop"))
        .await;
    h.next_sms().await;
    // The one confirmation the rules allow goes; nothing after it.
    h.sms(None)
        .send(CONTACT, "You are unsubscribed.", "confirmation")
        .await
        .unwrap();
    let e = h.sms(None).send(CONTACT, "x", "job-1").await.unwrap_err();
    assert_eq!((e.status(), e.code()), (Some(400), Some(ErrorCode(21610))));
    assert!(!e.is_retryable());
    // An ordinary reply changes nothing; START lifts the block.
    h.post(&format!("/phones/{CONTACT}/reply"), reply("why?"))
        .await;
    h.next_sms().await;
    let e = h.sms(None).send(CONTACT, "x", "job-2").await.unwrap_err();
    assert_eq!(
        (e.status(), e.code()),
        (Some(400), Some(ErrorCode(21610))),
        "still the opt-out refusal"
    );
    h.post(&format!("/phones/{CONTACT}/reply"), reply("START"))
        .await;
    h.next_sms().await;
    h.sms(None).send(CONTACT, "x", "job-3").await.unwrap();
}

#[tokio::test]
async fn looking_at_a_phone_does_not_register_it() {
    let h = harness(0).await;
    let phone = h.phone(CONTACT).await;
    assert!(phone.on_whatsapp);
    assert!(phone.messages.is_empty());
    let list: Vec<optin_core::sandbox::PhoneSummary> = h.get("/phones").await;
    assert!(list.is_empty());
}

#[tokio::test]
async fn opening_a_message_reports_read() {
    let mut h = harness(0).await;
    let accepted = h.whatsapp().send(&opt_in("r1"), "job-1").await.unwrap();
    h.next_status().await;
    h.next_status().await;
    let (status, read) = h
        .post(
            &format!("/phones/{CONTACT}/read"),
            json!({"message_id": accepted.message_id}),
        )
        .await;
    assert_eq!(status, 202);
    assert_eq!(read["status"], "read");
    let update = h.next_status().await;
    assert_eq!(update.id, accepted.message_id);
    assert_eq!(update.status, DeliveryStatus::Read);
    let (status, _) = h
        .post(
            &format!("/phones/{CONTACT}/read"),
            json!({"message_id": "wamid.nope"}),
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn the_clock_advances_and_stamps_webhooks() {
    let mut h = harness(0).await;
    let before: ClockView = h.get("/clock").await;
    assert_eq!(before.offset_seconds, 0);
    let (status, after) = h.post("/clock/advance", json!({"hours": 25.5})).await;
    assert_eq!(status, 200);
    let after: ClockView = serde_json::from_value(after).unwrap();
    assert_eq!(after.offset_seconds, 25 * 3600 + 1800);
    let (_, after) = h.post("/clock/advance", json!({"seconds": 30})).await;
    assert_eq!(after["offset_seconds"], 25 * 3600 + 1830);
    for bad in [
        json!({}),
        json!({"hours": -1}),
        json!({"hours": 1, "seconds": 1}),
        json!({"seconds": 0}),
    ] {
        assert_eq!(h.post("/clock/advance", bad.clone()).await.0, 422, "{bad}");
    }

    h.whatsapp().send(&opt_in("r1"), "job-1").await.unwrap();
    let sent = h.next_status().await;
    let lag = sent.at().unwrap() - chrono::Utc::now();
    assert!(lag > chrono::Duration::hours(25), "{lag}");
    let phone = h.phone(CONTACT).await;
    assert!(phone.messages[0].at - chrono::Utc::now() > chrono::Duration::hours(25));

    // A reset puts it back to the wall clock for the next test.
    let (status, reset) = h.post("/clock/reset", json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(reset["offset_seconds"], 0);
    let now: ClockView = h.get("/clock").await;
    assert_eq!(now.offset_seconds, 0);
}

#[tokio::test]
async fn webhooks_are_retried_until_the_service_answers_200() {
    let mut h = harness(2).await;
    let accepted = h.whatsapp().send(&opt_in("r1"), "job-1").await.unwrap();
    // Two refusals, then the same signed body again.
    let first = h.next().await;
    let second = h.next().await;
    let third = h.next().await;
    assert_eq!(first.body, second.body);
    assert_eq!(second.body, third.body);
    let status: WebhookEnvelope = serde_json::from_slice(&third.body).unwrap();
    let update = &status.message_values().next().unwrap().statuses[0];
    assert_eq!(update.id, accepted.message_id);
    assert_eq!(update.status, DeliveryStatus::Sent);
    assert_eq!(h.next_status().await.status, DeliveryStatus::Delivered);
    h.quiet().await;
}

#[tokio::test]
async fn a_webhook_that_never_gets_through_is_recorded_as_failed() {
    let mut h = harness(usize::MAX).await;
    h.post(
        &format!("/phones/{CONTACT}/reply"),
        json!({"text": "hello"}),
    )
    .await;
    for _ in 0..h.state.settings.webhook_attempts {
        h.next().await;
    }
    h.status_becomes(CONTACT, 0, "failed").await;
    h.quiet().await;
    let list: Vec<optin_core::sandbox::PhoneSummary> = h.get("/phones").await;
    assert_eq!(list[0].phone, CONTACT);
    assert_eq!(list[0].message_count, 1);
}
