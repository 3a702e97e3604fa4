//! Revocation by any reasonable means: a revocation given by phone, e-mail
//! or in person, recorded by an advisor or compliance, binds every advisor
//! of the organization at once and is chained as evidence; free text that
//! reads as a request to stop is flagged, never applied or ignored silently,
//! and a person's decision on it is evidence too. Also: compliance reads the
//! webhook review queue of its own organization.

mod support;

use serde_json::{json, Value};
use support::extra::{assert_refused, phone_path, KERRY};
use support::{envelope, start, start_without_outbox_worker, TestService};

fn ago(hours: i64) -> String {
    (chrono::Utc::now() - chrono::Duration::hours(hours)).to_rfc3339()
}

async fn revoke(t: &TestService, token: &str, contact: i64, body: Value) -> (u16, Value) {
    t.api(
        "POST",
        &format!("/contacts/{contact}/revocations"),
        token,
        Some(body),
    )
    .await
}

/// Kerry writes "yes" on WhatsApp: opted in, with the service window open.
async fn kerry_opted_in(t: &TestService) -> i64 {
    let kerry = t.contact_id(&t.jane, "Kerry").await;
    t.contact_writes(KERRY, "whatsapp", "yes").await;
    t.wait_for_state(&t.jane, kerry, "opted_in").await;
    kerry
}

/// The consent-record events of Kerry's number of `kind`, as exported.
async fn record_of_kind(t: &TestService, contact: i64, kind: &str) -> Vec<Value> {
    let (status, rows) = t
        .api(
            "GET",
            &format!("/contacts/{contact}/consent/record"),
            &t.jane,
            None,
        )
        .await;
    assert_eq!(status, 200, "{rows}");
    rows.as_array()
        .unwrap()
        .iter()
        .filter(|row| row["kind"] == kind)
        .cloned()
        .collect()
}

#[tokio::test]
async fn a_phone_revocation_recorded_by_an_advisor_binds_every_advisor_at_once() {
    let t = start().await;
    let kerry = kerry_opted_in(&t).await;
    // Sam holds the same number under another name.
    let sams_kerry = t.add_contact(&t.sam, "K. Fisher", KERRY).await;
    assert_eq!(t.consent(&t.sam, sams_kerry).await["state"], "opted_in");

    let given_at = ago(2);
    let (status, snapshot) = revoke(
        &t,
        &t.jane,
        kerry,
        json!({"channel": "phone", "given_at": given_at, "note": "Called the office: please stop all messages."}),
    )
    .await;
    assert_eq!(status, 201, "{snapshot}");
    assert_eq!(snapshot["state"], "opted_out");
    assert_eq!(snapshot["sms_opted_out"], true);
    let revocation = &snapshot["revocation"];
    assert_eq!(revocation["channel"], "phone");
    assert_eq!(revocation["recorded_by"], "Jane Smith");
    assert_eq!(revocation["recorded_by_role"], "advisor");
    assert_eq!(
        revocation["note"],
        "Called the office: please stop all messages."
    );

    // Sam sees it, and every way of messaging is refused to him too.
    let sams_view = t.consent(&t.sam, sams_kerry).await;
    assert_eq!(sams_view["state"], "opted_out");
    assert_eq!(sams_view["revocation"]["recorded_by"], "Jane Smith");
    let template = json!({"type": "template", "name": "meeting_reminder", "language": "en_US", "parameters": ["Kerry", "Monday"]});
    for (who, contact) in [(&t.jane, kerry), (&t.sam, sams_kerry)] {
        assert_refused(
            &t.whatsapp_as(who, contact, json!({"type": "text", "body": "hi"}))
                .await,
            409,
            "not_opted_in",
        );
        assert_refused(
            &t.whatsapp_as(who, contact, template.clone()).await,
            409,
            "not_opted_in",
        );
        assert_refused(&t.sms_as(who, contact, "hi").await, 409, "sms_opted_out");
        assert_refused(
            &t.api("POST", &format!("/contacts/{contact}/opt-in"), who, None)
                .await,
            409,
            "contact_opted_out",
        );
    }

    // Chained as evidence with who recorded it, and in the record export.
    let rows = record_of_kind(&t, kerry, "revocation_recorded").await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["state_after"], "opted_out");
    assert_eq!(rows[0]["cause"], "contact");
    let detail: Value = serde_json::from_str(rows[0]["detail_json"].as_str().unwrap()).unwrap();
    assert_eq!(detail["channel"], "phone");
    assert_eq!(detail["recorded_by"]["name"], "Jane Smith");
    assert_eq!(detail["recorded_by"]["role"], "advisor");
    assert_eq!(
        detail["note"],
        "Called the office: please stop all messages."
    );
    let csv = t
        .http
        .get(format!(
            "{}/api/v1/contacts/{kerry}/consent/record?format=csv",
            t.base
        ))
        .bearer_auth(&t.jane)
        .send()
        .await
        .unwrap();
    let csv = csv.text().await.unwrap();
    assert!(csv.contains("revocation_recorded"), "{csv}");
    let (_, chain) = t.api("GET", "/compliance/chain", &t.compliance, None).await;
    assert_eq!(chain["intact"], true, "{chain}");

    // The contact can still come back by themselves; the revocation then no longer shows.
    t.contact_writes(KERRY, "whatsapp", "yes").await;
    let back = t.wait_for_state(&t.sam, sams_kerry, "opted_in").await;
    assert!(back.get("revocation").is_none(), "{back}");
    t.service.stop().await;
}

#[tokio::test]
async fn a_revocation_in_the_future_with_a_long_note_or_an_unknown_channel_is_refused() {
    let t = start().await;
    let kerry = t.contact_id(&t.jane, "Kerry").await;
    let future = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let reply = revoke(
        &t,
        &t.jane,
        kerry,
        json!({"channel": "email", "given_at": future}),
    )
    .await;
    assert_refused(&reply, 422, "invalid_revocation");
    assert_eq!(reply.1["field"], "given_at");
    let reply = revoke(
        &t,
        &t.jane,
        kerry,
        json!({"channel": "email", "given_at": ago(1), "note": "x".repeat(1001)}),
    )
    .await;
    assert_refused(&reply, 422, "invalid_revocation");
    assert_eq!(reply.1["field"], "note");
    let reply = revoke(
        &t,
        &t.jane,
        kerry,
        json!({"channel": "pigeon", "given_at": ago(1)}),
    )
    .await;
    assert!(
        (400..500).contains(&reply.0) && reply.1["code"].is_string(),
        "{reply:?}"
    );
    assert_eq!(
        t.count("SELECT COUNT(*) FROM revocations").await
            + t.count("SELECT COUNT(*) FROM consent_events WHERE kind = 'revocation_recorded'")
                .await,
        0
    );
    assert_eq!(t.consent(&t.jane, kerry).await["state"], "none");
    t.service.stop().await;
}

#[tokio::test]
async fn compliance_records_a_revocation_for_any_number_of_its_organization() {
    let t = start().await;
    let kerry = kerry_opted_in(&t).await;
    let path = format!("/compliance/numbers/{}/revocations", phone_path(KERRY));
    let body =
        json!({"channel": "in_person", "given_at": ago(26), "note": "Said so at the branch."});
    let (status, snapshot) = t
        .api("POST", &path, &t.compliance, Some(body.clone()))
        .await;
    assert_eq!(status, 201, "{snapshot}");
    assert_eq!(snapshot["revocation"]["recorded_by"], "Casey Morgan");
    assert_eq!(snapshot["revocation"]["recorded_by_role"], "compliance");
    let jane_sees = t.consent(&t.jane, kerry).await;
    assert_eq!(jane_sees["state"], "opted_out");
    assert_eq!(jane_sees["revocation"]["channel"], "in_person");
    // The compliance timeline shows it too.
    let (_, timeline) = t.number_timeline(&t.compliance, KERRY).await;
    assert_eq!(timeline["snapshot"]["revocation"]["channel"], "in_person");
    assert!(timeline["events"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["kind"] == "revocation_recorded"
            && e["advisor_name"] == "Casey Morgan"
            && e["advisor_role"] == "compliance"));
    // Advisors use their own route; a number nobody holds is not found.
    assert_refused(
        &t.api("POST", &path, &t.jane, Some(body.clone())).await,
        403,
        "compliance_role_required",
    );
    assert_refused(
        &t.api(
            "POST",
            &format!(
                "/compliance/numbers/{}/revocations",
                phone_path("+447000000001")
            ),
            &t.compliance,
            Some(body),
        )
        .await,
        404,
        "not_found",
    );
    t.service.stop().await;
}

#[tokio::test]
async fn an_advisor_message_queued_before_a_revocation_is_never_sent() {
    let t = start_without_outbox_worker().await;
    let kerry = t.contact_id(&t.jane, "Kerry").await;
    let inbound = envelope(json!({
        "contacts": [{"profile": {"name": "Kerry Fisher"}, "wa_id": "447911123456"}],
        "messages": [{"from": "447911123456", "id": "wamid.YES1", "timestamp": "1764080000", "type": "text", "text": {"body": "yes"}}]
    }));
    assert_eq!(t.signed_whatsapp_webhook(&inbound).await, 200);
    assert_eq!(t.consent(&t.jane, kerry).await["state"], "opted_in");
    let template = json!({"type": "template", "name": "meeting_reminder", "language": "en_US", "parameters": ["Kerry", "Monday"]});
    let (status, queued) = t.whatsapp_as(&t.jane, kerry, template).await;
    assert_eq!(status, 202, "{queued}");
    let (status, _) = revoke(
        &t,
        &t.jane,
        kerry,
        json!({"channel": "email", "given_at": ago(0)}),
    )
    .await;
    assert_eq!(status, 201);
    optin_server::outbox::drain(&t.service.state).await.unwrap();
    let status: String = sqlx::query_scalar("SELECT status FROM messages WHERE id = $1")
        .bind(queued["id"].as_i64().unwrap())
        .fetch_one(t.service.state.store.pool())
        .await
        .unwrap();
    assert_eq!(status, "cancelled");
    t.service.stop().await;
}

/// A signed inbound WhatsApp text from Kerry.
fn whatsapp_text(id: &str, text: &str) -> String {
    envelope(json!({
        "contacts": [{"profile": {"name": "Kerry Fisher"}, "wa_id": "447911123456"}],
        "messages": [{"from": "447911123456", "id": id, "timestamp": "1764080000", "type": "text", "text": {"body": text}}]
    }))
}

async fn sms_from_kerry(t: &TestService, sid: &str, body: &str) -> u16 {
    let to = optin_server::store::seed::SANDBOX_SMS_NUMBER;
    t.signed_sms_form(&[
        ("MessageSid", sid),
        (
            "AccountSid",
            t.service.state.providers.settings.sms.account_sid.as_str(),
        ),
        ("From", KERRY),
        ("To", to),
        ("Body", body),
    ])
    .await
}

#[tokio::test]
async fn a_plain_words_request_to_stop_is_flagged_and_a_person_decides() {
    let t = start_without_outbox_worker().await;
    let kerry = t.contact_id(&t.jane, "Kerry").await;
    assert_eq!(
        t.signed_whatsapp_webhook(&whatsapp_text("wamid.Y", "yes"))
            .await,
        200
    );
    // Not flagged: a keyword (applied) and an ordinary sentence.
    for (id, text) in [
        ("wamid.A", "we must stop this bill"),
        ("wamid.B", "Thanks!"),
    ] {
        assert_eq!(
            t.signed_whatsapp_webhook(&whatsapp_text(id, text)).await,
            200
        );
    }
    assert_eq!(t.count("SELECT COUNT(*) FROM stop_flags").await, 0);

    // "Please stop texting me": flagged, not applied.
    let body = whatsapp_text("wamid.STOPPLS", "Please stop texting me");
    assert_eq!(t.signed_whatsapp_webhook(&body).await, 200);
    assert_eq!(t.signed_whatsapp_webhook(&body).await, 200, "a re-delivery");
    let consent = t.consent(&t.jane, kerry).await;
    assert_eq!(consent["state"], "opted_in", "never applied silently");
    let flags = consent["stop_flags"].as_array().unwrap().clone();
    assert_eq!(flags.len(), 1, "flagged once: {consent}");
    assert_eq!(flags[0]["text"], "Please stop texting me");
    assert_eq!(flags[0]["channel"], "whatsapp");
    let (_, open) = t
        .api("GET", "/compliance/stop-flags", &t.compliance, None)
        .await;
    assert_eq!(open.as_array().unwrap().len(), 1, "{open}");
    assert_eq!(
        t.count("SELECT COUNT(*) FROM consent_events WHERE kind = 'stop_request_flagged' AND raw_body IS NOT NULL")
            .await,
        1
    );

    // Jane decides it is not a revocation: nothing changes, the decision is evidence.
    let resolve =
        |decision: &str, flag: &Value| json!({"flag_id": flag["id"], "decision": decision});
    let path = format!("/contacts/{kerry}/stop-flags/resolve");
    let (status, after) = t
        .api(
            "POST",
            &path,
            &t.jane,
            Some(resolve("not_a_revocation", &flags[0])),
        )
        .await;
    assert_eq!(status, 200, "{after}");
    assert_eq!(after["state"], "opted_in");
    assert!(after.get("stop_flags").is_none(), "{after}");
    assert_refused(
        &t.api(
            "POST",
            &path,
            &t.jane,
            Some(resolve("revocation", &flags[0])),
        )
        .await,
        409,
        "flag_already_resolved",
    );
    let dismissed = record_of_kind(&t, kerry, "stop_request_dismissed").await;
    assert_eq!(dismissed.len(), 1);
    assert_eq!(dismissed[0]["cause"], "advisor");
    assert!(dismissed[0]["detail_json"]
        .as_str()
        .unwrap()
        .contains("Jane Smith"));

    // Compliance dismisses one too: the step names compliance, not an advisor.
    let body = whatsapp_text("wamid.STOP2", "stop texting me please");
    assert_eq!(t.signed_whatsapp_webhook(&body).await, 200);
    let (_, open) = t
        .api("GET", "/compliance/stop-flags", &t.compliance, None)
        .await;
    let resolve_for_number = format!(
        "/compliance/numbers/{}/stop-flags/resolve",
        phone_path(KERRY)
    );
    let (status, after) = t
        .api(
            "POST",
            &resolve_for_number,
            &t.compliance,
            Some(resolve("not_a_revocation", &open[0])),
        )
        .await;
    assert_eq!(status, 200, "{after}");
    let dismissed = record_of_kind(&t, kerry, "stop_request_dismissed").await;
    assert_eq!(dismissed.len(), 2);
    assert_eq!(dismissed[1]["cause"], "compliance");
    let (_, timeline) = t.number_timeline(&t.compliance, KERRY).await;
    let step = timeline["events"]
        .as_array()
        .unwrap()
        .iter()
        .rfind(|e| e["kind"] == "stop_request_dismissed")
        .unwrap();
    assert_eq!(step["advisor_name"], "Casey Morgan");
    assert_eq!(step["advisor_role"], "compliance");

    // By SMS, in Spanish: compliance applies it as a revocation.
    assert_eq!(
        sms_from_kerry(&t, "SMNOMAS", "No me escribas más, por favor").await,
        200
    );
    let (_, open) = t
        .api("GET", "/compliance/stop-flags", &t.compliance, None)
        .await;
    let flag = open[0].clone();
    assert_eq!(flag["channel"], "sms");
    assert_eq!(t.consent(&t.jane, kerry).await["state"], "opted_in");
    let (status, after) = t
        .api(
            "POST",
            &resolve_for_number,
            &t.compliance,
            Some(resolve("revocation", &flag)),
        )
        .await;
    assert_eq!(status, 200, "{after}");
    assert_eq!(after["state"], "opted_out");
    assert_eq!(after["sms_opted_out"], true);
    assert_eq!(after["revocation"]["channel"], "sms_message");
    assert_eq!(after["revocation"]["recorded_by"], "Casey Morgan");
    assert_eq!(t.consent(&t.jane, kerry).await["state"], "opted_out");
    assert_eq!(
        record_of_kind(&t, kerry, "stop_request_applied")
            .await
            .len(),
        1
    );
    // Another advisor's contact cannot be used to reach the flag.
    assert_refused(
        &t.api("POST", &path, &t.sam, Some(resolve("revocation", &flag)))
            .await,
        404,
        "not_found",
    );
    t.service.stop().await;
}

#[tokio::test]
async fn compliance_sees_its_organizations_webhook_reviews_only() {
    let t = start_without_outbox_worker().await;
    let pool = t.service.state.store.pool();
    let other: i64 =
        sqlx::query_scalar("INSERT INTO organizations (name) VALUES ('Other Bank') RETURNING id")
            .fetch_one(pool)
            .await
            .unwrap();
    for (organization, reason) in [
        (Some(1), "an unknown message type: ours"),
        (Some(other), "an unknown message type: theirs"),
        (None, "not a webhook of any known shape"),
    ] {
        sqlx::query(
            "INSERT INTO webhook_reviews (provider, organization_id, reason, item, raw_body, received_at)
             VALUES ('whatsapp', $1, $2, '{\"type\":\"hologram\"}', '{}', '2026-01-01T00:00:00.000Z')",
        )
        .bind(organization)
        .bind(reason)
        .execute(pool)
        .await
        .unwrap();
    }
    // A signed body of the organization's business number with a message
    // that cannot be read (no id): the part is the organization's to review.
    let body = envelope(json!({
        "messages": [{"from": "447911123456", "timestamp": "1764080002", "type": "text", "text": {"body": "no id"}}]
    }));
    assert_eq!(t.signed_whatsapp_webhook(&body).await, 200);
    // An SMS form of neither kind (no sender) to the organization's number: the same.
    let to = optin_server::store::seed::SANDBOX_SMS_NUMBER;
    assert_eq!(
        t.signed_sms_form(&[("To", to), ("Body", "no sender")])
            .await,
        200
    );
    let (status, reviews) = t
        .api("GET", "/compliance/reviews", &t.compliance, None)
        .await;
    assert_eq!(status, 200, "{reviews}");
    let reviews = reviews.as_array().unwrap();
    assert_eq!(reviews.len(), 3, "{reviews:?}");
    assert_eq!(reviews[0]["provider"], "sms", "newest first: {reviews:?}");
    assert!(reviews[0]["item"].as_str().unwrap().contains("no+sender"));
    assert!(reviews[1]["item"].as_str().unwrap().contains("no id"));
    assert_eq!(reviews[2]["reason"], "an unknown message type: ours");
    assert_eq!(reviews[2]["provider"], "whatsapp");
    assert_eq!(reviews[2]["item"], "{\"type\":\"hologram\"}");
    assert_refused(
        &t.api("GET", "/compliance/reviews", &t.jane, None).await,
        403,
        "compliance_role_required",
    );
    t.service.stop().await;
}
