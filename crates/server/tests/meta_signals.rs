//! Meta's signals and failure codes (#12 item 3), against a fake Graph API:
//! signed bodies shaped like Meta's webhook references for
//! `message_template_status_update`, `template_category_update` and
//! `user_preferences`, and one test per WhatsApp failure code in core's
//! table asserting its effect.

mod support;

use optin_core::vocab::{ErrorCode, ErrorEffect};
use optin_server::outbox::{backoff, drain};
use optin_server::store::seed::{SANDBOX_BUSINESS_ACCOUNT_ID, SANDBOX_PHONE_NUMBER_ID};
use serde_json::{json, Value};
use support::extra::{the_job, QuietService};

/// Posts `body` to the WhatsApp webhook, signed as Meta signs it.
async fn signed(t: &QuietService, body: &Value) -> u16 {
    support::post_signed_whatsapp(&t.http, &t.base, "fake-app-secret", body.to_string()).await
}

/// A change of the demo account, as Meta wraps it.
fn account_change(field: &str, value: Value) -> Value {
    json!({"object": "whatsapp_business_account", "entry": [{
        "id": SANDBOX_BUSINESS_ACCOUNT_ID, "time": 1751247548,
        "changes": [{"field": field, "value": value}]}]})
}

/// A `messages` change of the demo number carrying `statuses`.
fn statuses(items: Value) -> Value {
    account_change(
        "messages",
        json!({"messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550001111", "phone_number_id": SANDBOX_PHONE_NUMBER_ID},
            "statuses": items}),
    )
}

fn failed_status(wamid: &str, code: u32) -> Value {
    statuses(
        json!([{"id": wamid, "status": "failed", "timestamp": "1764080002",
        "recipient_id": "447911123456",
        "errors": [{"code": code, "title": "Meta's title", "message": "Meta's message",
                    "error_data": {"details": "Meta's details"}}]}]),
    )
}

fn template_status(name: &str, event: &str, title: Option<&str>) -> Value {
    let mut value = json!({"event": event, "message_template_id": 1689556908129832_u64,
        "message_template_name": name, "message_template_language": "en-US",
        "reason": "NONE", "message_template_category": "UTILITY"});
    if let Some(title) = title {
        value["other_info"] = json!({"title": title, "description": "Your template was paused."});
    }
    account_change("message_template_status_update", value)
}

fn user_preference(value: &str, timestamp: i64) -> Value {
    account_change(
        "user_preferences",
        json!({"messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550001111", "phone_number_id": SANDBOX_PHONE_NUMBER_ID},
            "contacts": [{"profile": {"name": "Kerry Fisher"}, "wa_id": "447911123456"}],
            "user_preferences": [{"wa_id": "447911123456",
                "detail": format!("User requested to {value} marketing messages"),
                "category": "marketing_messages", "value": value, "timestamp": timestamp}]}),
    )
}

/// Jane asks `name` to opt in; status and body of the answer.
async fn request(t: &QuietService, name: &str) -> (u16, Value) {
    let contact = t.jane_contact(name).await;
    t.api(
        "POST",
        &format!("/contacts/{contact}/opt-in"),
        &t.jane,
        &[("Idempotency-Key", &uuid::Uuid::new_v4().to_string())],
    )
    .await
}

async fn consent(t: &QuietService, name: &str) -> Value {
    let contact = t.jane_contact(name).await;
    t.api("GET", &format!("/contacts/{contact}/consent"), &t.jane, &[])
        .await
        .1
}

async fn evidence_count(t: &QuietService, kind: &str) -> i64 {
    t.count(&format!(
        "SELECT COUNT(*) FROM consent_events WHERE kind = '{kind}'"
    ))
    .await
}

/// Adds an alternate opt-in template and names it the organization's alternate.
async fn add_alternate(t: &QuietService) {
    let template = optin_server::store::organizations::TemplateRow {
        name: "advisor_opt_in_alt".into(),
        language: "en_US".into(),
        category: "UTILITY".into(),
        purpose: "opt_in".into(),
        body: "{{1}} at {{2}} asks: may we contact you on WhatsApp? Reply STOP at any time.".into(),
    };
    t.state.store.put_template(1, &template).await.unwrap();
    let settings = optin_core::admin::OrganizationSettings {
        alternate_opt_in_template: Some("advisor_opt_in_alt".into()),
        ..Default::default()
    };
    optin_server::services::provisioning::update_organization(&t.state.store, 1, &settings, None)
        .await
        .unwrap();
}

/// The template name of the `n`th provider call (1-based).
fn sent_template(t: &QuietService, n: usize) -> String {
    let calls = t.provider.calls();
    let body: Value = serde_json::from_str(&calls[n - 1].body).unwrap();
    body["template"]["name"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn stop_and_resume_of_marketing_messages_are_recorded_once_and_shown_on_the_contact() {
    let t = QuietService::start().await;
    let stop = user_preference("stop", 1731705721);
    assert_eq!(signed(&t, &stop).await, 200);
    assert_eq!(signed(&t, &stop).await, 200, "a retry is acknowledged");
    let seen = consent(&t, "Kerry").await;
    assert_eq!(
        seen["marketing_stopped_at"], "2024-11-15T21:22:01Z",
        "{seen}"
    );
    assert_eq!(evidence_count(&t, "marketing_stopped").await, 1);
    let raw: String =
        sqlx::query_scalar("SELECT raw_body FROM consent_events WHERE kind = 'marketing_stopped'")
            .fetch_one(t.state.store.pool())
            .await
            .unwrap();
    assert!(raw.contains("User requested to stop marketing messages"));

    assert_eq!(
        signed(&t, &user_preference("resume", 1731709999)).await,
        200
    );
    let seen = consent(&t, "Kerry").await;
    assert!(seen.get("marketing_stopped_at").is_none(), "{seen}");
    assert_eq!(evidence_count(&t, "marketing_resumed").await, 1);
}

#[tokio::test]
async fn a_paused_opt_in_template_is_refused_before_calling_meta_and_the_alternate_goes_instead() {
    let t = QuietService::start().await;
    let pause = template_status("advisor_opt_in", "PAUSED", Some("FIRST_PAUSE"));
    assert_eq!(signed(&t, &pause).await, 200);
    let (status, body) = request(&t, "Kerry").await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["code"], "template_unavailable", "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("paused"), "{message}");
    assert!(message.contains("alternate"), "{message}");
    assert!(t.provider.calls().is_empty(), "Meta was not called");
    let history = t
        .count("SELECT COUNT(*) FROM template_updates WHERE name = 'advisor_opt_in' AND language = 'en_US'")
        .await;
    assert_eq!(history, 1, "the signal is kept per template");

    add_alternate(&t).await;
    let (status, body) = request(&t, "Kerry").await;
    assert_eq!(status, 202, "{body}");
    drain(&t.state).await.unwrap();
    assert_eq!(sent_template(&t, 1), "advisor_opt_in_alt");
    let detail: String = sqlx::query_scalar(
        "SELECT detail_json FROM consent_events WHERE kind = 'requested' ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(t.state.store.pool())
    .await
    .unwrap();
    assert!(detail.contains("instead_of"), "{detail}");

    // Meta releases the primary: it is used again.
    assert_eq!(
        signed(&t, &template_status("advisor_opt_in", "REINSTATED", None)).await,
        200
    );
    let (status, _) = request(&t, "Amara").await;
    assert_eq!(status, 202);
    drain(&t.state).await.unwrap();
    assert_eq!(sent_template(&t, 2), "advisor_opt_in");
}

#[tokio::test]
async fn a_template_moved_to_marketing_is_refused_for_us_numbers_only() {
    let t = QuietService::start().await;
    let moved = account_change(
        "template_category_update",
        json!({"message_template_id": 278077987957091_u64, "message_template_name": "advisor_opt_in",
            "message_template_language": "en-US", "previous_category": "UTILITY", "new_category": "MARKETING"}),
    );
    assert_eq!(signed(&t, &moved).await, 200);
    let us = add_contact(&t, "Jordan Lee", "+1 202 555 0123").await;
    let (status, body) = t
        .api("POST", &format!("/contacts/{us}/opt-in"), &t.jane, &[])
        .await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("US (+1)"),
        "{body}"
    );
    let (status, body) = request(&t, "Kerry").await;
    assert_eq!(status, 202, "a UK number still gets it: {body}");
    // An announced recategorization changes nothing yet.
    let announced = account_change(
        "template_category_update",
        json!({"message_template_id": 1, "message_template_name": "meeting_reminder",
            "message_template_language": "en-US", "new_category": "UTILITY",
            "correct_category": "MARKETING", "category_update_timestamp": 1746169200}),
    );
    assert_eq!(signed(&t, &announced).await, 200);
    let category: String =
        sqlx::query_scalar("SELECT category FROM templates WHERE name = 'meeting_reminder'")
            .fetch_one(t.state.store.pool())
            .await
            .unwrap();
    assert_eq!(category, "UTILITY");
}

async fn add_contact(t: &QuietService, name: &str, phone: &str) -> i64 {
    let response = t
        .http
        .post(format!("{}/api/v1/contacts", t.base))
        .bearer_auth(&t.jane)
        .json(&json!({"name": name, "phone": phone}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    response.json::<Value>().await.unwrap()["id"]
        .as_i64()
        .unwrap()
}

#[tokio::test]
async fn a_signal_for_an_unknown_account_is_acknowledged_and_kept_for_review() {
    let t = QuietService::start().await;
    let mut body = template_status("advisor_opt_in", "DISABLED", None);
    body["entry"][0]["id"] = "999".into();
    assert_eq!(signed(&t, &body).await, 200);
    assert_eq!(
        t.count("SELECT COUNT(*) FROM webhook_reviews WHERE reason LIKE '%999 belongs to no organization%'")
            .await,
        1
    );
    let (status, _) = request(&t, "Kerry").await;
    assert_eq!(status, 202, "another firm's signal changes nothing here");
}

/// Kerry's request sent and accepted as `wamid.FAKE{n}`; returns that id.
async fn sent_request(t: &QuietService) -> String {
    let (status, body) = request(t, "Kerry").await;
    assert_eq!(status, 202, "{body}");
    drain(&t.state).await.unwrap();
    let wamid = format!("wamid.FAKE{}", t.provider.calls().len());
    assert_eq!(consent(t, "Kerry").await["state"], "pending");
    wamid
}

/// A `failed` status with `code` for Kerry's pending request, and what follows.
async fn failure_code_has_its_effect(code: u32) {
    let t = QuietService::start().await;
    let code = ErrorCode(code);
    assert!(
        code.title().is_some_and(|t| t.len() > 10),
        "{code} has words"
    );
    let wamid = sent_request(&t).await;
    assert_eq!(signed(&t, &failed_status(&wamid, code.0)).await, 200);
    let seen = consent(&t, "Kerry").await;
    match code.effect() {
        ErrorEffect::Retryable => {
            // Back in flight, queued again under a fresh key; no advisor action.
            assert_eq!(seen["state"], "sending", "{seen}");
            let (state, attempts, _, last_error, _) = the_job(&t.state).await;
            assert_eq!((state.as_str(), attempts), ("pending", 1));
            assert_eq!(last_error.as_deref(), Some("Meta's title"));
            assert_eq!(evidence_count(&t, "retry_scheduled").await, 1);
            t.state.clock.advance(backoff(1));
            drain(&t.state).await.unwrap();
            let calls = t.provider.calls();
            assert_eq!(calls.len(), 2, "sent again once");
            assert_ne!(calls[0].idempotency_key, calls[1].idempotency_key);
            let seen = consent(&t, "Kerry").await;
            assert_eq!(seen["state"], "pending", "{seen}");
            // The retried request is answered as any other.
            let tap = json!({"object": "whatsapp_business_account", "entry": [{"id": SANDBOX_BUSINESS_ACCOUNT_ID,
                "changes": [{"field": "messages", "value": {"messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "15550001111", "phone_number_id": SANDBOX_PHONE_NUMBER_ID},
                "messages": [{"from": "447911123456", "id": "wamid.TAP", "timestamp": "1764080009",
                    "type": "text", "text": {"body": "yes"}}]}}]}]});
            assert_eq!(signed(&t, &tap).await, 200);
            assert_eq!(consent(&t, "Kerry").await["state"], "opted_in");
        }
        ErrorEffect::NotOnWhatsapp => {
            assert_eq!(seen["state"], "no_whatsapp", "{seen}");
        }
        ErrorEffect::Final => {
            assert_eq!(seen["state"], "failed", "{seen}");
            assert_eq!(seen["failure_code"], code.0);
        }
        ErrorEffect::MarketingStopped => {
            assert_eq!(seen["state"], "failed", "{seen}");
            assert!(seen["marketing_stopped_at"].is_string(), "{seen}");
            assert_eq!(evidence_count(&t, "marketing_stopped").await, 1);
        }
        ErrorEffect::TemplateUnavailable => {
            assert_eq!(seen["state"], "failed", "{seen}");
            // The next request (a day later) is refused before calling Meta.
            t.state.clock.advance(chrono::Duration::hours(25));
            let (status, body) = request(&t, "Kerry").await;
            assert_eq!(status, 409, "{body}");
            assert_eq!(body["code"], "template_unavailable");
            assert_eq!(t.provider.calls().len(), 1);
        }
        ErrorEffect::SmsUnsubscribed => unreachable!("an SMS code"),
    }
    assert_eq!(
        t.count("SELECT COUNT(*) FROM webhook_reviews").await,
        0,
        "understood, not set aside"
    );
}

macro_rules! failure_code_tests {
    ($($name:ident: $code:literal,)+) => {
        $(
            #[tokio::test]
            async fn $name() {
                failure_code_has_its_effect($code).await;
            }
        )+

        /// Every WhatsApp code of core's table has its test here.
        #[test]
        fn every_whatsapp_code_in_the_table_is_tested() {
            let tested = [$($code),+];
            for (code, effect, _) in optin_core::vocab::KNOWN_ERRORS {
                let whatsapp = code.0 >= 100_000 || [4, 100, 80007].contains(&code.0);
                if whatsapp && *effect != ErrorEffect::SmsUnsubscribed {
                    assert!(tested.contains(&code.0), "{code} has no test");
                }
            }
        }
    };
}

failure_code_tests! {
    code_4_app_rate_limit: 4,
    code_100_invalid_parameter: 100,
    code_80007_account_rate_limit: 80007,
    code_130429_throughput: 130429,
    code_131000_something_went_wrong: 131000,
    code_131016_service_unavailable: 131016,
    code_131026_not_on_whatsapp: 131026,
    code_131047_outside_the_window: 131047,
    code_131049_ecosystem_engagement: 131049,
    code_131050_marketing_stopped: 131050,
    code_131051_unsupported_type: 131051,
    code_131056_pair_rate_limit: 131056,
    code_132001_template_missing: 132001,
    code_132015_template_paused: 132015,
    code_132016_template_disabled: 132016,
}

#[tokio::test]
async fn a_template_error_on_the_send_itself_marks_the_template_and_the_alternate_goes_next() {
    let t = QuietService::start().await;
    add_alternate(&t).await;
    t.provider.script([(
        400,
        support::extra::graph_error(132015, "(#132015) Template is Paused"),
    )]);
    let (status, _) = request(&t, "Kerry").await;
    assert_eq!(status, 202);
    drain(&t.state).await.unwrap();
    assert_eq!(consent(&t, "Kerry").await["state"], "failed");
    let status: String =
        // The English one went to Kerry (the Spanish one is another row).
        sqlx::query_scalar(
            "SELECT status FROM templates WHERE name = 'advisor_opt_in' AND language = 'en_US'",
        )
        .fetch_one(t.state.store.pool())
        .await
        .unwrap();
    assert_eq!(status, "PAUSED");
    t.state.clock.advance(chrono::Duration::hours(25));
    let (status, body) = request(&t, "Kerry").await;
    assert_eq!(status, 202, "{body}");
    drain(&t.state).await.unwrap();
    assert_eq!(sent_template(&t, 2), "advisor_opt_in_alt");
}
