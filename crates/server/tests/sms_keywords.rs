//! SMS by the carriers' rules, through signed Twilio-shaped webhooks: every
//! keyword of Twilio's default lists, the one confirmation after STOP, HELP
//! and INFO answered with the organization's text, and the carrier opt-outs
//! (21610 unsubscribed, 30004 blocked), by status callback or by the send's
//! own refusal, switching SMS off with evidence.

mod support;

use optin_core::admin::KeyScope;
use serde_json::json;
use support::extra::{eventually, KERRY};
use support::{start, start_without_outbox_worker, TestService};

/// Twilio's default keywords (Advanced Opt-Out off).
const OPT_OUT: [&str; 8] = [
    "STOP",
    "STOPALL",
    "UNSUBSCRIBE",
    "CANCEL",
    "END",
    "QUIT",
    "REVOKE",
    "OPTOUT",
];
const OPT_IN: [&str; 3] = ["START", "YES", "UNSTOP"];
const HELP: [&str; 2] = ["HELP", "INFO"];

/// Kerry texts `body` to the organization's SMS number.
async fn kerry_texts(t: &TestService, sid: &str, body: &str) {
    let account = t.service.state.providers.settings.sms.account_sid.clone();
    let to = optin_server::store::seed::SANDBOX_SMS_NUMBER;
    let params = [
        ("MessageSid", sid),
        ("AccountSid", account.as_str()),
        ("From", KERRY),
        ("To", to),
        ("Body", body),
    ];
    assert_eq!(t.signed_sms_form(&params).await, 200, "{body}");
}

async fn sms_opted_out(t: &TestService) -> bool {
    t.service
        .state
        .store
        .consent(1, KERRY)
        .await
        .unwrap()
        .sms_opted_out
}

#[tokio::test]
async fn every_twilio_keyword_switches_sms_off_on_or_answers_help() {
    let t = start_without_outbox_worker().await;
    let mut failures = Vec::new();
    for (n, word) in OPT_OUT.iter().enumerate() {
        // Back on first, so each word is seen changing something.
        kerry_texts(&t, &format!("SMIN{n}"), "START").await;
        kerry_texts(&t, &format!("SMOUT{n}"), word).await;
        if !sms_opted_out(&t).await {
            failures.push(format!("{word} did not switch SMS off"));
        }
    }
    for (n, word) in OPT_IN.iter().enumerate() {
        kerry_texts(&t, &format!("SMOFF{n}"), "STOP").await;
        kerry_texts(&t, &format!("SMON{n}"), word).await;
        if sms_opted_out(&t).await {
            failures.push(format!("{word} did not switch SMS back on"));
        }
    }
    for (n, word) in HELP.iter().enumerate() {
        let before = t
            .count("SELECT COUNT(*) FROM messages WHERE purpose = 'help_reply'")
            .await;
        kerry_texts(&t, &format!("SMHELP{n}"), &word.to_lowercase()).await;
        let after = t
            .count("SELECT COUNT(*) FROM messages WHERE purpose = 'help_reply'")
            .await;
        if after != before + 1 {
            failures.push(format!("{word} was not answered"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    t.service.stop().await;
}

#[tokio::test]
async fn help_is_answered_with_the_organizations_text_naming_the_business_and_the_way_out() {
    let t = start_without_outbox_worker().await;
    let body = || async {
        sqlx::query_scalar::<_, String>(
            "SELECT body FROM messages WHERE purpose = 'help_reply' ORDER BY id DESC LIMIT 1",
        )
        .fetch_one(t.service.state.store.pool())
        .await
        .unwrap()
    };
    kerry_texts(&t, "SMH1", "HELP").await;
    let standard = body().await;
    let organization: String = sqlx::query_scalar("SELECT name FROM organizations WHERE id = 1")
        .fetch_one(t.service.state.store.pool())
        .await
        .unwrap();
    assert!(
        standard.contains(&organization) && standard.contains("STOP"),
        "{standard}"
    );
    // An admin sets the organization's own answer; it must say how to opt out.
    let store = &t.service.state.store;
    let key = store
        .create_api_key(1, "Provisioning", KeyScope::Admin, None, chrono::Utc::now())
        .await
        .unwrap()
        .0;
    let (status, refused) = t
        .api(
            "PATCH",
            "/admin/organization",
            &key,
            Some(json!({"sms_help_text": "Acme Wealth: call 0800 000 000."})),
        )
        .await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (422, Some("invalid_sms_help_text"))
    );
    let text = "Acme Wealth: call 0800 000 000. Reply STOP to opt out.";
    let (status, organization) = t
        .api(
            "PATCH",
            "/admin/organization",
            &key,
            Some(json!({"sms_help_text": text})),
        )
        .await;
    assert_eq!(status, 200, "{organization}");
    assert_eq!(organization["sms_help_text"], text);
    kerry_texts(&t, "SMH2", "Info").await;
    assert_eq!(body().await, text);
    // An empty text goes back to the standard answer.
    let (status, organization) = t
        .api(
            "PATCH",
            "/admin/organization",
            &key,
            Some(json!({"sms_help_text": ""})),
        )
        .await;
    assert_eq!(status, 200);
    assert!(organization["sms_help_text"].is_null(), "{organization}");
    kerry_texts(&t, "SMH3", "HELP").await;
    assert_eq!(body().await, standard);
    t.service.stop().await;
}

/// Waits until `sql` counts `want`.
async fn until_count(t: &TestService, sql: &str, want: i64) {
    eventually(&format!("{want} of {sql}"), || async {
        let got = t.count(sql).await;
        if got == want {
            Ok(())
        } else {
            Err(got.to_string())
        }
    })
    .await;
}

const CONTACT_OPT_OUTS: &str =
    "SELECT COUNT(*) FROM consent_events WHERE kind = 'sms_opt_out' AND cause = 'contact'";
const CONFIRMATIONS: &str = "SELECT COUNT(*) FROM messages WHERE channel = 'sms' AND direction = 'out' AND purpose = 'opt_out_notice'";

#[tokio::test]
async fn stop_is_confirmed_by_one_sms_recorded_as_evidence_and_not_again_on_a_repeat() {
    let t = start().await;
    // From the contact's phone: the provider (the sandbox) then blocks every
    // send but the one confirmation the rules allow.
    t.contact_writes(KERRY, "sms", "STOP").await;
    let inbox = t.wait_inbox(KERRY, "sms", 1).await;
    let body: String = sqlx::query_scalar(
        "SELECT body FROM messages WHERE purpose = 'opt_out_notice' AND channel = 'sms'",
    )
    .fetch_one(t.service.state.store.pool())
    .await
    .unwrap();
    assert_eq!(inbox[0]["text"], body.as_str(), "{inbox:?}");
    assert!(
        body.contains("START") && body.contains("no more messages"),
        "{body}"
    );
    assert_eq!(
        t.count("SELECT COUNT(*) FROM consent_events WHERE kind = 'sms_opt_out_confirmation' AND raw_body IS NOT NULL")
            .await,
        1
    );
    t.contact_writes(KERRY, "sms", "stop").await;
    t.contact_writes(KERRY, "sms", "UNSUBSCRIBE").await;
    until_count(&t, CONTACT_OPT_OUTS, 3).await;
    assert_eq!(t.count(CONFIRMATIONS).await, 1, "not again on a repeat");
    // After START and a new STOP, a new confirmation.
    t.contact_writes(KERRY, "sms", "START").await;
    t.contact_writes(KERRY, "sms", "STOP").await;
    until_count(&t, CONFIRMATIONS, 2).await;
    t.wait_inbox(KERRY, "sms", 2).await;
    t.service.stop().await;
}

/// An SMS the provider accepted as `sid`, to Kerry.
async fn sent_sms(t: &TestService, sid: &str) {
    sqlx::query(
        "INSERT INTO messages (organization_id, phone_e164, channel, direction, purpose, body, provider_message_id, status, created_at, updated_at)
         VALUES (1, $1, 'sms', 'out', 'message', 'hello', $2, 'accepted', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z')",
    )
    .bind(KERRY)
    .bind(sid)
    .execute(t.service.state.store.pool())
    .await
    .unwrap();
}

#[tokio::test]
async fn carrier_opt_outs_21610_and_30004_switch_sms_off_with_evidence() {
    let t = start_without_outbox_worker().await;
    for (sid, code) in [("SMUNSUB", "21610"), ("SMBLOCK", "30004")] {
        sqlx::query("UPDATE consents SET sms_opted_out = FALSE")
            .execute(t.service.state.store.pool())
            .await
            .unwrap();
        sent_sms(&t, sid).await;
        let params = [
            ("MessageSid", sid),
            ("MessageStatus", "undelivered"),
            ("ErrorCode", code),
        ];
        assert_eq!(t.signed_sms_form(&params).await, 200);
        assert!(sms_opted_out(&t).await, "{code}");
        let evidence = t.count(
            &format!("SELECT COUNT(*) FROM consent_events WHERE kind = 'sms_opt_out' AND cause = 'provider' AND detail_json LIKE '%\"error_code\":{code}%'"),
        )
        .await;
        assert_eq!(evidence, 1, "{code}");
    }
    t.service.stop().await;
}

#[tokio::test]
async fn a_send_refused_with_21610_switches_sms_off() {
    let t = start().await;
    let kerry = t.contact_id(&t.jane, "Kerry").await;
    // The provider knows Kerry unsubscribed; the service does not (yet).
    t.contact_writes(KERRY, "sms", "STOP").await;
    t.wait_inbox(KERRY, "sms", 1).await;
    until_count(&t, CONTACT_OPT_OUTS, 1).await;
    sqlx::query("UPDATE consents SET sms_opted_out = FALSE")
        .execute(t.service.state.store.pool())
        .await
        .unwrap();
    let (status, body) = t.sms_as(&t.jane, kerry, "About Monday").await;
    assert_eq!(status, 202, "{body}");
    eventually("the refused send to switch SMS off", || async {
        if sms_opted_out(&t).await {
            Ok(())
        } else {
            Err("still on".to_owned())
        }
    })
    .await;
    assert_eq!(
        t.count(
            "SELECT COUNT(*) FROM consent_events WHERE kind = 'sms_opt_out' AND cause = 'provider'"
        )
        .await,
        1
    );
    t.service.stop().await;
}
