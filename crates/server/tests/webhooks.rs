//! WhatsApp webhooks shaped like Meta's documentation: signatures, the
//! verification handshake, duplicates, reordering and keywords.

mod support;

use serde_json::json;
use support::{envelope, start, start_without_outbox_worker};

fn inbound_text(id: &str, from: &str, text: &str) -> String {
    envelope(json!({
        "contacts": [{"profile": {"name": "Kerry Fisher"}, "wa_id": from}],
        "messages": [{"from": from, "id": id, "timestamp": "1764080000", "type": "text", "text": {"body": text}}]
    }))
}

/// Stores an outbound message on `channel` the provider accepted as `provider_id`.
async fn sent_message(t: &support::TestService, channel: &str, provider_id: &str) {
    sqlx::query(
        "INSERT INTO messages (organization_id, phone_e164, channel, direction, purpose, body, provider_message_id, status, created_at, updated_at)
         VALUES (1, '+447911123456', $1, 'out', 'message', 'hello', $2, 'accepted', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z')",
    )
    .bind(channel)
    .bind(provider_id)
    .execute(t.service.state.store.pool())
    .await
    .unwrap();
}

fn status(id: &str, status: &str, timestamp: &str) -> String {
    envelope(json!({
        "statuses": [{"id": id, "status": status, "timestamp": timestamp, "recipient_id": "447911123456"}]
    }))
}

#[tokio::test]
async fn unsigned_and_badly_signed_webhooks_are_refused_and_nothing_is_stored() {
    let t = start().await;
    let body = inbound_text("wamid.UNSIGNED", "447911123456", "stop");
    let events_before = t.count("SELECT COUNT(*) FROM consent_events").await;
    assert_eq!(t.post_whatsapp_webhook(&body, None).await, 401);
    let wrong =
        optin_server::providers::signature::meta_signature("not the secret", body.as_bytes());
    assert_eq!(t.post_whatsapp_webhook(&body, Some(wrong)).await, 401);
    assert_eq!(
        t.post_whatsapp_webhook(&body, Some("sha256=00".into()))
            .await,
        401
    );
    assert_eq!(
        t.count("SELECT COUNT(*) FROM consent_events").await,
        events_before
    );
    assert_eq!(t.count("SELECT COUNT(*) FROM webhook_receipts").await, 0);
    assert_eq!(t.count("SELECT COUNT(*) FROM messages").await, 0);
    t.service.stop().await;
}

#[tokio::test]
async fn the_verification_handshake_echoes_the_challenge_only_for_the_right_token() {
    let t = start().await;
    let token = t.service.state.providers.settings.verify_token.clone();
    let url = |token: &str| {
        format!("{}/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token={token}&hub.challenge=1158201444", t.base)
    };
    let ok = t.http.get(url(&token)).send().await.unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.unwrap(), "1158201444");
    assert_eq!(t.http.get(url("wrong")).send().await.unwrap().status(), 403);
    t.service.stop().await;
}

#[tokio::test]
async fn a_stop_message_opts_out_once_even_when_delivered_twice() {
    let t = start().await;
    let kerry = t.contact_id(&t.jane, "Kerry").await;
    let body = inbound_text("wamid.STOP1", "447911123456", "  Stop ");
    assert_eq!(t.signed_whatsapp_webhook(&body).await, 200);
    assert_eq!(
        t.signed_whatsapp_webhook(&body).await,
        200,
        "a re-delivery is acknowledged"
    );
    assert_eq!(t.consent(&t.jane, kerry).await["state"], "opted_out");
    assert_eq!(
        t.count("SELECT COUNT(*) FROM consent_events WHERE kind = 'keyword_opt_out'")
            .await,
        1
    );
    assert_eq!(
        t.count("SELECT COUNT(*) FROM messages WHERE direction = 'in'")
            .await,
        1
    );
    let raw: String =
        sqlx::query_scalar("SELECT raw_body FROM consent_events WHERE kind = 'keyword_opt_out'")
            .fetch_one(t.service.state.store.pool())
            .await
            .unwrap();
    assert_eq!(raw, body, "the raw webhook body is kept as evidence");
    t.service.stop().await;
}

#[tokio::test]
async fn a_keyword_inside_a_sentence_is_not_an_opt_out() {
    let t = start().await;
    let kerry = t.contact_id(&t.jane, "Kerry").await;
    let body = inbound_text("wamid.SENTENCE", "447911123456", "we must stop this bill");
    assert_eq!(t.signed_whatsapp_webhook(&body).await, 200);
    assert_eq!(t.consent(&t.jane, kerry).await["state"], "none");
    assert_eq!(
        t.count("SELECT COUNT(*) FROM consent_events WHERE kind = 'message_in'")
            .await,
        1
    );
    t.service.stop().await;
}

#[tokio::test]
async fn statuses_never_move_a_message_backwards_and_duplicates_apply_once() {
    let t = start().await;
    let pool = t.service.state.store.pool();
    sent_message(&t, "whatsapp", "wamid.ORDER").await;
    let current = || async {
        sqlx::query_scalar::<_, String>(
            "SELECT status FROM messages WHERE provider_message_id = 'wamid.ORDER'",
        )
        .fetch_one(pool)
        .await
        .unwrap()
    };
    assert_eq!(
        t.signed_whatsapp_webhook(&status("wamid.ORDER", "read", "1764080002"))
            .await,
        200
    );
    assert_eq!(current().await, "read");
    assert_eq!(
        t.signed_whatsapp_webhook(&status("wamid.ORDER", "delivered", "1764080001"))
            .await,
        200
    );
    assert_eq!(
        t.signed_whatsapp_webhook(&status("wamid.ORDER", "sent", "1764080000"))
            .await,
        200
    );
    assert_eq!(
        current().await,
        "read",
        "late statuses do not move the message back"
    );
    assert_eq!(
        t.signed_whatsapp_webhook(&status("wamid.ORDER", "read", "1764080002"))
            .await,
        200
    );
    assert_eq!(
        t.count("SELECT COUNT(*) FROM consent_events WHERE kind = 'read'")
            .await,
        1
    );
    assert_eq!(
        t.count("SELECT COUNT(*) FROM consent_events WHERE kind IN ('sent', 'delivered')")
            .await,
        2,
        "late statuses are still evidence"
    );
    t.service.stop().await;
}

#[tokio::test]
async fn a_status_arriving_before_the_message_id_is_known_is_applied_later() {
    // No outbox worker: the test makes the provider call and decides when the
    // outbox records its answer.
    let t = start_without_outbox_worker().await;
    let kerry = t.contact_id(&t.jane, "Kerry").await;
    let (code, _) = t
        .api("POST", &format!("/contacts/{kerry}/opt-in"), &t.jane, None)
        .await;
    assert_eq!(code, 202);
    let (payload, key): (String, String) =
        sqlx::query_as("SELECT payload_json, idempotency_key FROM outbox ORDER BY id DESC LIMIT 1")
            .fetch_one(t.service.state.store.pool())
            .await
            .unwrap();
    let payload: optin_server::services::OutboundPayload = serde_json::from_str(&payload).unwrap();
    let optin_server::services::OutboundPayload::Whatsapp { message } = payload else {
        panic!("a WhatsApp job")
    };
    // The provider accepts the send; its statuses arrive before the outbox
    // has stored the provider's id: ours (`read`), then the sandbox's own
    // `sent` and `delivered`.
    let accepted = t
        .service
        .state
        .providers
        .whatsapp
        .send(&support::demo_sender(), &message, &key)
        .await
        .unwrap();
    let id = accepted.message_id;
    assert_eq!(
        t.signed_whatsapp_webhook(&status(&id, "read", "1764080003"))
            .await,
        200
    );
    let parked = format!("SELECT COUNT(*) FROM parked_statuses WHERE provider_message_id = '{id}'");
    assert!(t.count(&parked).await >= 1, "the status is parked");
    let mut all_parked = false;
    for _ in 0..100 {
        if t.count(&parked).await == 3 {
            all_parked = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(all_parked, "read, sent and delivered are parked");
    let message_row = || async {
        sqlx::query_as::<_, (String, Option<String>)>(
            "SELECT m.status, m.provider_message_id FROM messages m
             JOIN outbox o ON o.message_id = m.id ORDER BY o.id DESC LIMIT 1",
        )
        .fetch_one(t.service.state.store.pool())
        .await
        .unwrap()
    };
    assert_eq!(message_row().await, ("queued".to_owned(), None));

    // The outbox records the answer (the same key gives the same id) and
    // applies what was parked.
    assert_eq!(
        optin_server::outbox::drain(&t.service.state).await.unwrap(),
        1
    );
    assert_eq!(message_row().await, ("read".to_owned(), Some(id.clone())));
    assert_eq!(t.count(&parked).await, 0, "the parked rows are gone");
    assert_eq!(t.count("SELECT COUNT(*) FROM parked_statuses").await, 0);
    for kind in ["sent", "delivered", "read"] {
        assert_eq!(
            t.count(&format!(
                "SELECT COUNT(*) FROM consent_events WHERE kind = '{kind}' AND detail_json LIKE '%{id}%'"
            ))
            .await,
            1,
            "the parked {kind} is recorded as evidence"
        );
    }
    assert_eq!(t.consent(&t.jane, kerry).await["state"], "pending");
    t.service.stop().await;
}

/// Posts a signed SMS status callback, as the SMS provider does.
async fn signed_sms_status(
    t: &support::TestService,
    sid: &str,
    status: &str,
    code: Option<&str>,
) -> u16 {
    let mut params = vec![
        ("MessageSid".to_owned(), sid.to_owned()),
        ("MessageStatus".to_owned(), status.to_owned()),
    ];
    if let Some(code) = code {
        params.push(("ErrorCode".to_owned(), code.to_owned()));
    }
    t.signed_sms_form(&params).await
}

#[tokio::test]
async fn an_sms_failure_after_delivery_does_not_undo_the_delivery() {
    let t = start().await;
    let pool = t.service.state.store.pool();
    sent_message(&t, "sms", "SMGUARD").await;
    let current = || async {
        sqlx::query_as::<_, (String, Option<i64>)>(
            "SELECT status, error_code FROM messages WHERE provider_message_id = 'SMGUARD'",
        )
        .fetch_one(pool)
        .await
        .unwrap()
    };
    assert_eq!(
        signed_sms_status(&t, "SMGUARD", "delivered", None).await,
        200
    );
    assert_eq!(current().await, ("delivered".to_owned(), None));
    assert_eq!(
        signed_sms_status(&t, "SMGUARD", "undelivered", Some("30003")).await,
        200
    );
    assert_eq!(
        current().await,
        ("delivered".to_owned(), None),
        "the same guard as WhatsApp: no failure after delivery"
    );
    assert_eq!(
        t.count("SELECT COUNT(*) FROM consent_events WHERE kind = 'sms_failed' AND detail_json LIKE '%\"applied\":false%'")
            .await,
        1,
        "the late failure is still evidence, marked as not applied"
    );
    t.service.stop().await;
}

#[tokio::test]
async fn a_signed_body_with_a_message_we_cannot_read_is_acknowledged_and_the_rest_applied() {
    let t = start().await;
    // A 2026 system message (no `from`) for a user no identity matches,
    // batched with an ordinary STOP, as Meta may send them.
    let body = envelope(json!({
        "messages": [
            {"system": {"body": "User changed from BSUID 1 to BSUID 2", "type": "user_changed_user_id"},
             "timestamp": "1764080000", "type": "system", "id": "wamid.SYSTEM"},
            {"from": "447911123456", "id": "wamid.STOPNEXT", "timestamp": "1764080001", "type": "text", "text": {"body": "STOP"}}
        ]
    }));
    assert_eq!(t.signed_whatsapp_webhook(&body).await, 200);
    assert_eq!(
        t.count("SELECT COUNT(*) FROM consent_events WHERE kind = 'keyword_opt_out'")
            .await,
        1,
        "the STOP beside the unreadable message is applied"
    );
    let reviews = t.service.state.store.open_reviews(10).await.unwrap();
    assert_eq!(reviews.len(), 1, "{reviews:?}");
    assert_eq!(reviews[0].provider, "whatsapp");
    assert!(
        reviews[0].reason.contains("user_changed_user_id"),
        "{}",
        reviews[0].reason
    );
    assert!(reviews[0].item.contains("wamid.SYSTEM"));
    assert_eq!(reviews[0].raw_body, body, "the whole signed body is kept");
    // Meta retries whole bodies: the STOP is applied once, the part kept once.
    assert_eq!(t.signed_whatsapp_webhook(&body).await, 200);
    assert_eq!(
        t.count("SELECT COUNT(*) FROM consent_events WHERE kind = 'keyword_opt_out'")
            .await,
        1
    );
    assert_eq!(t.count("SELECT COUNT(*) FROM webhook_reviews").await, 1);
    t.service.stop().await;
}

#[tokio::test]
async fn signed_bodies_that_are_not_understood_are_kept_for_review_not_refused() {
    let t = start().await;
    let not_json = "this is not a webhook";
    let other_field = json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [
        {"field": "account_alerts", "value": {"entity_type": "WABA", "alert_info": {"alert_severity": "INFORMATIONAL"}}}]}]})
    .to_string();
    let unknown_number = inbound_text("wamid.ELSEWHERE", "447911123456", "hello").replace(
        optin_server::store::seed::SANDBOX_PHONE_NUMBER_ID,
        "999999999",
    );
    for body in [not_json, &other_field, &unknown_number] {
        assert_eq!(t.signed_whatsapp_webhook(body).await, 200, "{body}");
    }
    let reviews = t.service.state.store.open_reviews(10).await.unwrap();
    let reasons: Vec<&str> = reviews.iter().map(|r| r.reason.as_str()).collect();
    assert_eq!(reviews.len(), 3, "{reasons:?}");
    assert!(
        reasons[0].starts_with("the body is not JSON"),
        "{reasons:?}"
    );
    assert!(reasons[1].contains("account_alerts"), "{reasons:?}");
    assert!(reasons[2].contains("999999999"), "{reasons:?}");
    assert_eq!(
        t.count("SELECT COUNT(*) FROM messages").await,
        0,
        "a message to a number no organization uses is not applied to any"
    );

    let form = vec![("Unexpected".to_owned(), "form".to_owned())];
    assert_eq!(t.signed_sms_form(&form).await, 200);
    let reviews = t.service.state.store.open_reviews(10).await.unwrap();
    assert_eq!(reviews.len(), 4);
    assert_eq!(reviews[3].provider, "sms");
    assert!(
        reviews[3].reason.starts_with("not an SMS webhook"),
        "{}",
        reviews[3].reason
    );
    t.service.stop().await;
}

#[tokio::test]
async fn a_carrier_unsubscribe_21610_opts_the_number_out_of_sms_with_evidence() {
    let t = start().await;
    sent_message(&t, "sms", "SMUNSUB").await;
    let store = &t.service.state.store;
    assert!(
        !store
            .consent(1, "+447911123456")
            .await
            .unwrap()
            .sms_opted_out
    );
    assert_eq!(
        signed_sms_status(&t, "SMUNSUB", "failed", Some("21610")).await,
        200
    );
    assert!(
        store
            .consent(1, "+447911123456")
            .await
            .unwrap()
            .sms_opted_out,
        "the carrier says the recipient unsubscribed"
    );
    assert_eq!(
        t.count(
            "SELECT COUNT(*) FROM consent_events WHERE kind = 'sms_opt_out' AND cause = 'provider'"
        )
        .await,
        1
    );
    // Another failure code changes nothing about consent.
    sqlx::query("UPDATE consents SET sms_opted_out = FALSE")
        .execute(store.pool())
        .await
        .unwrap();
    sent_message(&t, "sms", "SMOTHER").await;
    assert_eq!(
        signed_sms_status(&t, "SMOTHER", "undelivered", Some("30003")).await,
        200
    );
    assert!(
        !store
            .consent(1, "+447911123456")
            .await
            .unwrap()
            .sms_opted_out
    );
    t.service.stop().await;
}

#[tokio::test]
async fn interactive_replies_reactions_and_media_are_stored_as_what_they_are() {
    let t = start().await;
    let from = "447911123456";
    let body = envelope(json!({
        "messages": [
            {"from": from, "id": "wamid.BR", "timestamp": "1764080000", "type": "interactive",
             "interactive": {"type": "button_reply", "button_reply": {"id": "callback", "title": "Call me back"}}},
            {"from": from, "id": "wamid.LR", "timestamp": "1764080001", "type": "interactive",
             "interactive": {"type": "list_reply", "list_reply": {"id": "tue", "title": "Tuesday", "description": "9-12"}}},
            {"from": from, "id": "wamid.RE", "timestamp": "1764080002", "type": "reaction",
             "reaction": {"message_id": "wamid.BR", "emoji": "\u{1F44D}"}},
            {"from": from, "id": "wamid.IM", "timestamp": "1764080003", "type": "image",
             "image": {"id": "media1", "mime_type": "image/jpeg", "caption": "my statement"}}
        ]
    }));
    assert_eq!(t.signed_whatsapp_webhook(&body).await, 200);
    let bodies: Vec<String> =
        sqlx::query_scalar("SELECT body FROM messages WHERE direction = 'in' ORDER BY id")
            .fetch_all(t.service.state.store.pool())
            .await
            .unwrap();
    assert_eq!(
        bodies,
        [
            "Call me back",
            "Tuesday",
            "Reacted \u{1F44D} to a message",
            "Photo: my statement"
        ]
    );
    t.service.stop().await;
}

#[tokio::test]
async fn help_or_info_by_sms_is_answered_with_the_organizations_help_text() {
    let t = start_without_outbox_worker().await;
    let to = optin_server::store::seed::SANDBOX_SMS_NUMBER.to_owned();
    let inbound = |sid: &str, body: &str| {
        vec![
            ("MessageSid".to_owned(), sid.to_owned()),
            ("From".to_owned(), "+447911123456".to_owned()),
            ("To".to_owned(), to.clone()),
            ("Body".to_owned(), body.to_owned()),
        ]
    };
    let replies = || async {
        sqlx::query_scalar::<_, String>(
            "SELECT body FROM messages WHERE purpose = 'help_reply' AND channel = 'sms' AND direction = 'out' ORDER BY id",
        )
        .fetch_all(t.service.state.store.pool())
        .await
        .unwrap()
    };
    assert_eq!(t.signed_sms_form(&inbound("SMHELP1", "HELP")).await, 200);
    let first = replies().await;
    assert_eq!(first.len(), 1, "{first:?}");
    assert!(
        first[0].starts_with("Acme Wealth:") && first[0].contains("Reply STOP"),
        "{}",
        first[0]
    );

    sqlx::query("UPDATE organizations SET sms_help_text = 'Acme Wealth advisors. Call 0800 000 000. Reply STOP to opt out.'")
        .execute(t.service.state.store.pool())
        .await
        .unwrap();
    assert_eq!(t.signed_sms_form(&inbound("SMHELP2", " info ")).await, 200);
    assert_eq!(
        replies().await.last().map(String::as_str),
        Some("Acme Wealth advisors. Call 0800 000 000. Reply STOP to opt out.")
    );
    assert_eq!(
        t.count("SELECT COUNT(*) FROM outbox o JOIN messages m ON m.id = o.message_id WHERE m.purpose = 'help_reply' AND o.state = 'pending'").await,
        2,
        "each answer goes out through the outbox"
    );
    // A retried webhook is not answered twice; an ordinary text is not answered.
    assert_eq!(t.signed_sms_form(&inbound("SMHELP2", " info ")).await, 200);
    assert_eq!(t.signed_sms_form(&inbound("SMHELLO", "hello")).await, 200);
    assert_eq!(replies().await.len(), 2);
    t.service.stop().await;
}

#[tokio::test]
async fn a_sender_that_is_not_a_number_or_a_bsuid_is_kept_for_review_and_the_rest_applied() {
    let t = start_without_outbox_worker().await;
    let body = envelope(json!({
        "contacts": [{"profile": {"name": "Mallory"}, "wa_id": "+=1+1<script>", "user_id": "GB.1"}],
        "messages": [
            {"from": "+=1+1<script>", "id": "wamid.EVIL1", "timestamp": "1764080000", "type": "text", "text": {"body": "STOP"}},
            {"from": "447911123456", "from_user_id": "<img src=x>", "id": "wamid.EVIL2", "timestamp": "1764080000", "type": "text", "text": {"body": "STOP"}},
            {"from": "447911123456", "id": "wamid.GOOD", "timestamp": "1764080001", "type": "text", "text": {"body": "hello"}}
        ]
    }));
    assert_eq!(t.signed_whatsapp_webhook(&body).await, 200);
    let reviews = t.service.state.store.open_reviews(10).await.unwrap();
    let reasons: Vec<&str> = reviews.iter().map(|r| r.reason.as_str()).collect();
    assert_eq!(reviews.len(), 2, "{reasons:?}");
    assert!(
        reasons[0].contains("is not a WhatsApp number"),
        "{reasons:?}"
    );
    assert!(
        reasons[1].contains("is not a business-scoped user id"),
        "{reasons:?}"
    );
    assert_eq!(
        t.count("SELECT COUNT(*) FROM messages WHERE provider_message_id = 'wamid.GOOD'")
            .await,
        1,
        "the rest of the body is applied"
    );
    for table in [
        "messages",
        "consent_events",
        "consents",
        "whatsapp_identities",
    ] {
        let sql = format!("SELECT COUNT(*) FROM {table} WHERE phone_e164 NOT LIKE '+4479%'");
        assert_eq!(t.count(&sql).await, 0, "{table} holds only real numbers");
    }
    assert_eq!(
        t.count("SELECT COUNT(*) FROM consent_events WHERE kind = 'keyword_opt_out'")
            .await,
        0
    );

    let to = optin_server::store::seed::SANDBOX_SMS_NUMBER.to_owned();
    let form = |sid: &str, from: &str| {
        vec![
            ("MessageSid".to_owned(), sid.to_owned()),
            ("From".to_owned(), from.to_owned()),
            ("To".to_owned(), to.clone()),
            ("Body".to_owned(), "STOP".to_owned()),
        ]
    };
    assert_eq!(
        t.signed_sms_form(&form("SMEVIL", "+=1+1<script>")).await,
        200
    );
    assert_eq!(t.signed_sms_form(&form("SMSHORT", "ACME")).await, 200);
    let reviews = t.service.state.store.open_reviews(10).await.unwrap();
    assert_eq!(reviews.len(), 4);
    assert!(reviews[2..]
        .iter()
        .all(|r| r.provider == "sms" && r.reason.contains("is not a phone number in E.164")));
    assert_eq!(
        t.count("SELECT COUNT(*) FROM messages WHERE channel = 'sms'")
            .await,
        0,
        "nothing stored from them"
    );
    assert_eq!(
        t.signed_sms_form(&form("SMGOOD", "+447911123456")).await,
        200
    );
    assert_eq!(
        t.count("SELECT COUNT(*) FROM messages WHERE channel = 'sms' AND direction = 'in'")
            .await,
        1,
        "the valid sender's STOP is stored (its confirmation goes out besides)"
    );
    t.service.stop().await;
}
