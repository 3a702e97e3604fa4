//! The four outcomes of the opt-in flow end to end over real sockets: the
//! service talks to its sandbox through the real provider clients, and the
//! sandbox answers with signed webhooks, as Meta and the SMS provider do.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::{start, start_without_outbox_worker, TestService};

const KERRY: &str = "+447911123456";

/// An outbox row with its message's delivery state.
#[derive(Debug, sqlx::FromRow)]
struct Job {
    id: i64,
    state: String,
    attempts: i64,
    idempotency_key: String,
    payload_json: String,
    message_status: String,
    provider_message_id: Option<String>,
}

fn phone_path(e164: &str) -> String {
    e164.replace('+', "%2B")
}

impl TestService {
    /// What the contact's phone received, waiting until `count` messages of `channel` arrived.
    async fn phone_messages(&self, e164: &str, channel: &str, count: usize) -> Vec<Value> {
        let mut last = Vec::new();
        for _ in 0..100 {
            last = self.phone_inbox(e164, channel).await;
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

    /// Waits until no outbox job is pending: every provider call the service
    /// will make for what was committed so far has been made and recorded.
    async fn outbox_settled(&self) {
        let pending =
            "SELECT COUNT(*) FROM outbox WHERE state IN ('pending', 'claimed', 'unknown')";
        for _ in 0..100 {
            if self.count(pending).await == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("outbox jobs still pending: {}", self.count(pending).await);
    }

    /// The newest outbox job and its message.
    async fn last_job(&self) -> Job {
        sqlx::query_as(
            "SELECT o.id, o.state, o.attempts, o.idempotency_key, o.payload_json,
                    m.status AS message_status, m.provider_message_id
             FROM outbox o JOIN messages m ON m.id = o.message_id ORDER BY o.id DESC LIMIT 1",
        )
        .fetch_one(self.service.state.store.pool())
        .await
        .unwrap()
    }

    /// Waits until the newest outbox job is in `state`.
    async fn wait_for_job(&self, state: &str) -> Job {
        let mut last = self.last_job().await;
        for _ in 0..100 {
            if last.state == state {
                return last;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            last = self.last_job().await;
        }
        panic!("the outbox job never became {state}: {last:?}");
    }

    /// Taps the Yes or No button of the latest opt-in request on the contact's phone.
    async fn tap(&self, e164: &str, answer: &str) {
        self.phone_messages(e164, "whatsapp", 1).await;
        self.contact_taps(e164, answer).await;
    }

    async fn reply(&self, e164: &str, channel: &str, text: &str) {
        self.contact_writes(e164, channel, text).await;
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
        .sandbox_call(
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
        .sandbox_call("POST", "/clock/advance", Some(json!({"hours": 24.5})))
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
        .sandbox_call("POST", "/clock/advance", Some(json!({"hours": 24.5})))
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
    t.outbox_settled().await;
    assert_eq!(t.count("SELECT COUNT(*) FROM outbox").await, 1, "one job");
    assert_eq!(t.phone_inbox(KERRY, "whatsapp").await.len(), 1);
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
    let mut restored = false;
    for _ in 0..100 {
        if t.consent(&t.jane, kerry).await["sms_opted_out"] == false {
            restored = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(restored, "START by SMS was recorded");
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
    // No worker runs: the request and its outbox job are committed, and the
    // service goes down before any provider call.
    let t = start_without_outbox_worker().await;
    let kerry = t.contact_id(&t.jane, "Kerry").await;
    let (status, snapshot) = t.request_opt_in(kerry, "crash").await;
    assert_eq!(status, 202, "{snapshot}");
    let committed = t.last_job().await;
    assert_eq!(
        (committed.state.as_str(), committed.attempts),
        ("pending", 0)
    );
    assert_eq!(
        (
            committed.message_status.as_str(),
            &committed.provider_message_id
        ),
        ("queued", &None)
    );
    assert!(
        t.phone_inbox(KERRY, "whatsapp").await.is_empty(),
        "the provider was never called"
    );

    // The restarted service's worker finds the job and sends it, once.
    let t = t.restart().await;
    let sent = t.wait_for_job("done").await;
    assert_eq!(sent.id, committed.id);
    assert_eq!(sent.attempts, 1, "one provider call");
    assert_eq!(sent.idempotency_key, committed.idempotency_key);
    let provider_id = sent
        .provider_message_id
        .clone()
        .expect("the provider's message id is recorded");
    t.wait_for_state(&t.jane, kerry, "pending").await;
    t.outbox_settled().await;
    let received = t.phone_inbox(KERRY, "whatsapp").await;
    assert_eq!(
        received.len(),
        1,
        "one message reached the phone: {received:?}"
    );
    assert_eq!(received[0]["id"], provider_id.as_str());
    t.service.stop().await;
}

#[tokio::test]
async fn a_crash_between_provider_call_and_bookkeeping_still_sends_exactly_once() {
    let t = start_without_outbox_worker().await;
    let kerry = t.contact_id(&t.jane, "Kerry").await;
    let (status, _) = t.request_opt_in(kerry, "crash").await;
    assert_eq!(status, 202);
    let committed = t.last_job().await;
    // A worker calls the provider with the job's key, then dies before
    // recording the answer: the job is still pending, the message has no id.
    let payload: optin_server::services::OutboundPayload =
        serde_json::from_str(&committed.payload_json).unwrap();
    let optin_server::services::OutboundPayload::Whatsapp { message } = payload else {
        panic!("a WhatsApp job")
    };
    let first = t
        .service
        .state
        .providers
        .whatsapp
        .send(
            &support::demo_sender(),
            &message,
            &committed.idempotency_key,
        )
        .await
        .unwrap();
    let lost = t.last_job().await;
    assert_eq!((lost.state.as_str(), lost.attempts), ("pending", 0));
    assert_eq!(lost.provider_message_id, None);
    assert_eq!(t.phone_inbox(KERRY, "whatsapp").await.len(), 1);

    // The restarted worker retries the same job with the same key: the
    // provider answers with the first send's id and sends nothing again.
    let t = t.restart().await;
    let sent = t.wait_for_job("done").await;
    assert_eq!(sent.id, committed.id);
    assert_eq!(sent.attempts, 1, "one recorded attempt");
    assert_eq!(
        sent.provider_message_id.as_deref(),
        Some(first.message_id.as_str()),
        "the id of the send that happened before the crash"
    );
    t.wait_for_state(&t.jane, kerry, "pending").await;
    t.outbox_settled().await;
    let received = t.phone_inbox(KERRY, "whatsapp").await;
    assert_eq!(
        received.len(),
        1,
        "one message reached the phone: {received:?}"
    );
    assert_eq!(received[0]["id"], first.message_id.as_str());
    t.service.stop().await;
}
