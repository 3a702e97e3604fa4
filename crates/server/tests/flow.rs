//! The four outcomes of the opt-in flow end to end over real sockets: the
//! service talks to its sandbox through the real provider clients, and the
//! sandbox answers with signed webhooks, as Meta and the SMS provider do.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::{start, TestService};

const KERRY: &str = "+447911123456";

fn phone_path(e164: &str) -> String {
    e164.replace('+', "%2B")
}

impl TestService {
    async fn sandbox(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self
            .http
            .request(method, format!("{}/sandbox{path}", self.base));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// What the contact's phone received, waiting until `count` messages of `channel` arrived.
    async fn phone_messages(&self, e164: &str, channel: &str, count: usize) -> Vec<Value> {
        let mut last = Vec::new();
        for _ in 0..100 {
            let (_, phone) = self
                .sandbox("GET", &format!("/phones/{}", phone_path(e164)), None)
                .await;
            last = phone["messages"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter(|m| m["channel"] == channel && m["direction"] == "in")
                .collect();
            if last.len() >= count {
                return last;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "the phone received {} {channel} messages, expected {count}: {last:?}",
            last.len()
        );
    }

    /// Taps the Yes or No button of the latest opt-in request on the contact's phone.
    async fn tap(&self, e164: &str, answer: &str) {
        let received = self.phone_messages(e164, "whatsapp", 1).await;
        let request = received
            .iter()
            .rev()
            .find(|m| m["buttons"].as_array().is_some_and(|b| !b.is_empty()))
            .expect("an opt-in request with buttons");
        let button = request["buttons"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["text"] == answer)
            .expect("the button");
        let (status, _) = self
            .sandbox(
                "POST",
                &format!("/phones/{}/tap", phone_path(e164)),
                Some(json!({"message_id": request["id"], "payload": button["payload"]})),
            )
            .await;
        assert!((200..300).contains(&status), "tap {answer}: {status}");
    }

    async fn reply(&self, e164: &str, channel: &str, text: &str) {
        let (status, _) = self
            .sandbox(
                "POST",
                &format!("/phones/{}/reply", phone_path(e164)),
                Some(json!({"text": text, "channel": channel})),
            )
            .await;
        assert!((200..300).contains(&status), "reply {text}: {status}");
    }

    /// Sends WhatsApp (`POST /contacts/{id}/messages`) as Jane.
    async fn send_whatsapp(&self, contact: i64, body: Value) -> (u16, Value) {
        self.api(
            "POST",
            &format!("/contacts/{contact}/messages"),
            &self.jane,
            Some(body),
        )
        .await
    }

    /// Sends an SMS (`POST /contacts/{id}/sms`) as Jane.
    async fn send_sms(&self, contact: i64, body: Value) -> (u16, Value) {
        self.api(
            "POST",
            &format!("/contacts/{contact}/sms"),
            &self.jane,
            Some(body),
        )
        .await
    }

    async fn request_opt_in(&self, contact: i64, key: &str) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}/api/v1/contacts/{contact}/opt-in", self.base))
            .bearer_auth(&self.jane)
            .header("Idempotency-Key", key)
            .send()
            .await
            .unwrap();
        (
            response.status().as_u16(),
            response.json().await.unwrap_or(Value::Null),
        )
    }
}

#[tokio::test]
async fn accepted_the_contact_taps_yes_and_both_sides_are_told() {
    let t = start().await;
    let kerry = t.contact_id(&t.jane, "Kerry").await;
    let (status, snapshot) = t.request_opt_in(kerry, "k1").await;
    assert_eq!(status, 202);
    assert_eq!(snapshot["state"], "sending");
    t.wait_for_state(&t.jane, kerry, "pending").await;
    let request = &t.phone_messages(KERRY, "whatsapp", 1).await[0];
    let text = request["text"].as_str().unwrap();
    assert!(
        text.contains("Jane Smith") && text.contains("Acme Wealth"),
        "the request names advisor and business: {text}"
    );

    t.tap(KERRY, "Yes").await;
    t.wait_for_state(&t.jane, kerry, "opted_in").await;
    let received = t.phone_messages(KERRY, "whatsapp", 2).await;
    assert!(
        received[1]["text"].as_str().unwrap().contains("opted in"),
        "{received:?}"
    );

    // Opted in, and the tap opened the service window: templates and free text go out.
    let (status, _) = t
        .send_whatsapp(kerry, json!({"type": "text", "body": "Thanks Kerry!"}))
        .await;
    assert_eq!(status, 202);
    let (status, _) = t.send_whatsapp(kerry, json!({"type": "template", "name": "meeting_reminder", "language": "en_US", "parameters": ["Kerry", "Monday 10:00"]})).await;
    assert_eq!(status, 202);
    let received = t.phone_messages(KERRY, "whatsapp", 4).await;
    assert!(received[3]["text"]
        .as_str()
        .unwrap()
        .contains("Monday 10:00"));
    t.service.stop().await;
}

#[tokio::test]
async fn rejected_then_yes_the_opt_out_binds_everyone_until_the_contact_says_yes() {
    let t = start().await;
    let kerry = t.contact_id(&t.jane, "Kerry").await;
    t.request_opt_in(kerry, "r1").await;
    t.wait_for_state(&t.jane, kerry, "pending").await;
    t.tap(KERRY, "No").await;
    t.wait_for_state(&t.jane, kerry, "opted_out").await;
    let notice = &t.phone_messages(KERRY, "whatsapp", 2).await[1];
    assert!(
        notice["text"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("yes"),
        "the contact is told to reply yes: {notice}"
    );

    let (status, body) = t
        .send_whatsapp(kerry, json!({"type": "text", "body": "hi"}))
        .await;
    assert_eq!((status, body["code"].as_str()), (409, Some("not_opted_in")));
    let (status, body) = t.request_opt_in(kerry, "r2").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("contact_opted_out"))
    );
    // Another advisor of the same organization is bound by the opt-out too.
    let (status, sams_kerry) = t
        .api(
            "POST",
            "/contacts",
            &t.sam,
            Some(json!({"name": "Kerry F.", "phone": KERRY})),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(sams_kerry["consent"], "opted_out");
    let response = t
        .http
        .post(format!(
            "{}/api/v1/contacts/{}/opt-in",
            t.base, sams_kerry["id"]
        ))
        .bearer_auth(&t.sam)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 409);

    t.reply(KERRY, "whatsapp", "YES").await;
    t.wait_for_state(&t.jane, kerry, "opted_in").await;
    t.service.stop().await;
}

#[tokio::test]
async fn no_whatsapp_then_sms_is_sent_instead() {
    let t = start().await;
    let kerry = t.contact_id(&t.jane, "Kerry").await;
    let (status, _) = t
        .sandbox(
            "PUT",
            &format!("/phones/{}/whatsapp", phone_path(KERRY)),
            Some(json!({"on_whatsapp": false})),
        )
        .await;
    assert_eq!(status, 200);
    t.request_opt_in(kerry, "n1").await;
    t.wait_for_state(&t.jane, kerry, "no_whatsapp").await;
    let (status, _) = t
        .send_sms(
            kerry,
            json!({"body": "Hello Kerry, it's Jane from Acme Wealth."}),
        )
        .await;
    assert_eq!(status, 202);
    let sms = t.phone_messages(KERRY, "sms", 1).await;
    assert!(sms[0]["text"].as_str().unwrap().contains("Jane from Acme"));
    assert_eq!(t.count("SELECT COUNT(*) FROM consent_events WHERE kind = 'failed' AND detail_json LIKE '%131026%'").await, 1);
    t.service.stop().await;
}

#[tokio::test]
async fn no_answer_resend_is_refused_within_24_hours_and_allowed_after() {
    let t = start().await;
    let kerry = t.contact_id(&t.jane, "Kerry").await;
    t.request_opt_in(kerry, "a1").await;
    let pending = t.wait_for_state(&t.jane, kerry, "pending").await;
    let allowed_at = pending["resend_allowed_at"].as_str().unwrap().to_owned();

    let (status, body) = t
        .api(
            "POST",
            &format!("/contacts/{kerry}/opt-in/resend"),
            &t.jane,
            None,
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("resend_too_soon"))
    );
    assert_eq!(
        body["allowed_at"].as_str().map(|a| a[..19].to_owned()),
        Some(allowed_at[..19].to_owned())
    );

    let (status, _) = t
        .sandbox("POST", "/clock/advance", Some(json!({"hours": 24.5})))
        .await;
    assert_eq!(status, 200);
    assert_eq!(t.consent(&t.jane, kerry).await["state"], "expired");
    let (status, body) = t
        .api(
            "POST",
            &format!("/contacts/{kerry}/opt-in/resend"),
            &t.jane,
            None,
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let again = t.wait_for_state(&t.jane, kerry, "pending").await;
    assert!(
        again["resend_allowed_at"].as_str().unwrap() > allowed_at.as_str(),
        "the 24 h count starts again"
    );
    let requests: Vec<Value> = t.phone_messages(KERRY, "whatsapp", 2).await;
    assert_eq!(
        requests.len(),
        2,
        "the resend reached the phone as a second template"
    );
    let (status, _) = t
        .api(
            "POST",
            &format!("/contacts/{kerry}/opt-in/resend"),
            &t.jane,
            None,
        )
        .await;
    assert_eq!(status, 409, "and the next resend waits 24 h again");
    t.service.stop().await;
}

#[tokio::test]
async fn past_24_hours_the_list_the_contact_and_the_consent_all_say_expired() {
    let t = start().await;
    let kerry = t.contact_id(&t.jane, "Kerry").await;
    t.request_opt_in(kerry, "e1").await;
    t.wait_for_state(&t.jane, kerry, "pending").await;
    let (status, _) = t
        .sandbox("POST", "/clock/advance", Some(json!({"hours": 24.5})))
        .await;
    assert_eq!(status, 200);

    let (_, list) = t.api("GET", "/contacts?q=Kerry", &t.jane, None).await;
    let (_, contact) = t
        .api("GET", &format!("/contacts/{kerry}"), &t.jane, None)
        .await;
    let consent = t.consent(&t.jane, kerry).await;
    assert_eq!(list["items"][0]["id"], kerry);
    assert_eq!(list["items"][0]["consent"], "expired", "{list}");
    assert_eq!(contact["consent"], "expired", "{contact}");
    assert_eq!(consent["state"], "expired", "{consent}");
    t.service.stop().await;
}

#[tokio::test]
async fn an_unreadable_consent_row_is_an_error_not_never_asked() {
    let t = start().await;
    let kerry = t.contact_id(&t.jane, "Kerry").await;
    t.request_opt_in(kerry, "c1").await;
    t.wait_for_state(&t.jane, kerry, "pending").await;
    sqlx::query("UPDATE consents SET last_request_at = 'yesterday-ish' WHERE phone_e164 = $1")
        .bind(KERRY)
        .execute(t.service.state.store.pool())
        .await
        .unwrap();

    let (status, body) = t
        .api("GET", &format!("/contacts/{kerry}/consent"), &t.jane, None)
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (500, Some("internal")),
        "{body}"
    );
    let (status, _) = t
        .api("GET", &format!("/contacts/{kerry}"), &t.jane, None)
        .await;
    assert_eq!(status, 500, "the contact read refuses too");
    // A request on top of it is refused as well, not treated as a first request.
    let (status, _) = t
        .api("POST", &format!("/contacts/{kerry}/opt-in"), &t.jane, None)
        .await;
    assert_eq!(status, 500);

    let error = t
        .service
        .state
        .store
        .consent(1, KERRY)
        .await
        .expect_err("a corrupt row is not \"never asked\"");
    assert!(
        matches!(error, optin_server::store::StoreError::Corrupt { .. }),
        "{error}"
    );
    t.service.stop().await;
}

#[tokio::test]
async fn a_double_click_sends_one_request() {
    let t = start().await;
    let kerry = t.contact_id(&t.jane, "Kerry").await;
    let (a, b) = tokio::join!(
        t.request_opt_in(kerry, "same-click"),
        t.request_opt_in(kerry, "same-click")
    );
    assert_eq!((a.0, b.0), (202, 202));
    t.wait_for_state(&t.jane, kerry, "pending").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(t.phone_messages(KERRY, "whatsapp", 1).await.len(), 1);
    assert_eq!(t.count("SELECT COUNT(*) FROM opt_in_requests").await, 1);
    t.service.stop().await;
}

#[tokio::test]
async fn sms_stop_blocks_sms_until_start() {
    let t = start().await;
    let kerry = t.contact_id(&t.jane, "Kerry").await;
    t.reply(KERRY, "sms", "STOP").await;
    let mut blocked = false;
    for _ in 0..50 {
        if t.consent(&t.jane, kerry).await["sms_opted_out"] == true {
            blocked = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(blocked, "STOP by SMS was recorded");
    let (status, body) = t.send_sms(kerry, json!({"body": "hello"})).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("sms_opted_out"))
    );
    t.reply(KERRY, "sms", "START").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, _) = t.send_sms(kerry, json!({"body": "hello again"})).await;
    assert_eq!(status, 202);
    t.service.stop().await;
}

#[tokio::test]
async fn whatsapp_is_refused_to_a_number_that_has_not_opted_in_whatever_the_client_sends() {
    let t = start().await;
    let kerry = t.contact_id(&t.jane, "Kerry").await;
    for body in [
        json!({"type": "text", "body": "hi"}),
        json!({"type": "template", "name": "meeting_reminder", "language": "en_US", "parameters": ["a", "b"]}),
    ] {
        let (status, reply) = t.send_whatsapp(kerry, body).await;
        assert_eq!(
            (status, reply["code"].as_str()),
            (409, Some("not_opted_in"))
        );
    }
    t.request_opt_in(kerry, "p1").await;
    t.wait_for_state(&t.jane, kerry, "pending").await;
    let (status, _) = t
        .send_whatsapp(kerry, json!({"type": "text", "body": "hi"}))
        .await;
    assert_eq!(status, 409, "pending is not consent");
    assert_eq!(
        t.count("SELECT COUNT(*) FROM messages WHERE purpose = 'message'")
            .await,
        0
    );
    t.service.stop().await;
}

#[tokio::test]
async fn a_crash_between_commit_and_provider_call_still_sends_exactly_once() {
    let t = start().await;
    let state = &t.service.state;
    // Simulate the crash: a worker called the provider with the job's key, then
    // died before recording it. Whichever runs first, the live worker or this
    // one, the job is sent twice with one key, and the contact gets one message.
    let kerry = t.contact_id(&t.jane, "Kerry").await;
    let pool = state.store.pool();
    t.request_opt_in(kerry, "crash").await;
    let (payload, key): (String, String) =
        sqlx::query_as("SELECT payload_json, idempotency_key FROM outbox ORDER BY id DESC LIMIT 1")
            .fetch_one(pool)
            .await
            .unwrap();
    let payload: optin_server::services::OutboundPayload = serde_json::from_str(&payload).unwrap();
    let optin_server::services::OutboundPayload::Whatsapp { message } = payload else {
        panic!("a WhatsApp job")
    };
    state.providers.whatsapp.send(&message, &key).await.unwrap();
    // The restarted worker retries the same job with the same key.
    optin_server::outbox::drain(state).await.unwrap();
    t.wait_for_state(&t.jane, kerry, "pending").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        t.phone_messages(KERRY, "whatsapp", 1).await.len(),
        1,
        "one message reached the phone"
    );
    t.service.stop().await;
}
