//! WhatsApp identities: signed bodies shaped like Meta's 2026 webhooks with
//! business-scoped user ids (BSUIDs) and system messages.
//!
//! Where the shapes come from:
//! - Meta's Cloud API "System messages webhook reference" (messages field,
//!   `type: system`, no `contacts` array): `user_changed_number` carries the
//!   old number in `from` and the new `wa_id` and `user_id` in `system`;
//!   `user_changed_user_id` reports only the BSUID change, with no `from`.
//! - Meta's changelog of 11 August 2026: both carry `previous_user_id` and
//!   `previous_parent_user_id` beside the new `user_id` / `parent_user_id`.
//! - Meta's "Business-scoped user IDs" page and the BSPs mirroring it
//!   (360dialog, YCloud, Gupshup): `user_id` in `contacts[]` (with
//!   `profile.username` for username users, whose `wa_id` may be absent),
//!   `from_user_id` on messages, `recipient_user_id` on statuses, and sends
//!   by `recipient` (BSUID) where `to` (number) is unknown; `to` wins when
//!   both are given. Client libraries read the same fields (a Python Cloud
//!   API client's `Message.from_user_id`, `Status.recipient_user_id`,
//!   `System.user_id` / `wa_id`).

mod support;

use serde_json::{json, Value};
use support::extra::{eventually, meeting_reminder, phone_path, QuietService};
use support::{envelope, start};

/// Jane's contact Kerry Fisher, as WhatsApp writes her number.
const KERRY: &str = "447911123456";
const KERRY_E164: &str = "+447911123456";
const KERRY_BSUID: &str = "GB.13491208655302741918";
const NEW_NUMBER: &str = "447911654321";
const NEW_BSUID: &str = "GB.20781635580201991344";

/// A text from a user: with their number and BSUID, or (a username user)
/// with the BSUID only.
fn text(id: &str, from: Option<&str>, user_id: &str, body: &str) -> String {
    let mut contact = json!({"profile": {"name": "Kerry Fisher"}, "user_id": user_id});
    let mut message = json!({"from_user_id": user_id, "id": id, "timestamp": "1764080000",
                             "type": "text", "text": {"body": body}});
    match from {
        Some(from) => {
            contact["wa_id"] = from.into();
            message["from"] = from.into();
        }
        None => contact["profile"]["username"] = "@kerry.fisher".into(),
    }
    envelope(json!({"contacts": [contact], "messages": [message]}))
}

/// `user_changed_number` as Meta sends it: the old number in `from`, the
/// new one in `system.wa_id`, the new BSUID in `system.user_id`.
fn number_changed() -> Value {
    json!({"from": KERRY, "id": "wamid.NUMBER", "timestamp": "1764090000", "type": "system",
           "system": {"body": format!("User Kerry Fisher changed from {KERRY} to {NEW_NUMBER}"),
                      "wa_id": NEW_NUMBER, "type": "user_changed_number",
                      "user_id": NEW_BSUID, "parent_user_id": "GB.ENT.20781635580201991344",
                      "previous_user_id": KERRY_BSUID,
                      "previous_parent_user_id": "GB.ENT.13491208655302741918"}})
}

/// `user_changed_user_id` as Meta sends it: no `from`, no number.
fn user_id_changed(previous: &str, new: &str) -> Value {
    json!({"id": "wamid.USERID", "timestamp": "1764090000", "type": "system",
           "system": {"body": format!("User Kerry Fisher changed from {previous} to {new}"),
                      "type": "user_changed_user_id", "user_id": new,
                      "parent_user_id": "GB.ENT.20781635580201991344",
                      "previous_user_id": previous,
                      "previous_parent_user_id": "GB.ENT.13491208655302741918"}})
}

/// A consent-record step: number, state after, provider time, detail, raw body.
type Step = (
    String,
    Option<String>,
    Option<String>,
    String,
    Option<String>,
);

async fn identity(pool: &sqlx::AnyPool, phone: &str) -> Option<(Option<String>, Option<String>)> {
    sqlx::query_as("SELECT wa_number, user_id FROM whatsapp_identities WHERE phone_e164 = $1")
        .bind(phone)
        .fetch_optional(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_bsuid_only_stop_from_a_known_identity_opts_the_contact_out() {
    let t = start().await;
    let kerry = t.contact_id(&t.jane, "Kerry").await;
    let pool = t.service.state.store.pool();
    let hello = text("wamid.HELLO", Some(KERRY), KERRY_BSUID, "Hello");
    assert_eq!(t.signed_whatsapp_webhook(&hello).await, 200);
    assert_eq!(
        identity(pool, KERRY_E164).await,
        Some((Some(KERRY_E164.into()), Some(KERRY_BSUID.into()))),
        "the number and BSUID that came together are one identity"
    );

    let stop = text("wamid.BSUIDSTOP", None, KERRY_BSUID, "STOP");
    assert_eq!(t.signed_whatsapp_webhook(&stop).await, 200);
    assert_eq!(t.consent(&t.jane, kerry).await["state"], "opted_out");
    let phone: String =
        sqlx::query_scalar("SELECT phone_e164 FROM consent_events WHERE kind = 'keyword_opt_out'")
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(phone, KERRY_E164);
    assert_eq!(
        t.count(
            "SELECT COUNT(*) FROM messages WHERE direction = 'in' AND phone_e164 = '+447911123456'"
        )
        .await,
        2
    );
    assert!(t
        .service
        .state
        .store
        .open_reviews(10)
        .await
        .unwrap()
        .is_empty());
    t.service.stop().await;
}

#[tokio::test]
async fn a_bsuid_learned_from_a_status_matches_a_later_bsuid_only_yes() {
    let t = start().await;
    let kerry = t.contact_id(&t.jane, "Kerry").await;
    let status = envelope(
        json!({"statuses": [{"id": "wamid.EARLIER", "status": "delivered",
        "timestamp": "1764080000", "recipient_id": KERRY, "recipient_user_id": KERRY_BSUID}]}),
    );
    assert_eq!(t.signed_whatsapp_webhook(&status).await, 200);
    let yes = text("wamid.BSUIDYES", None, KERRY_BSUID, "yes");
    assert_eq!(t.signed_whatsapp_webhook(&yes).await, 200);
    assert_eq!(t.consent(&t.jane, kerry).await["state"], "opted_in");
    t.service.stop().await;
}

#[tokio::test]
async fn a_bsuid_only_message_from_an_unknown_user_is_kept_for_review_and_the_rest_applied() {
    let t = start().await;
    let kerry = t.contact_id(&t.jane, "Kerry").await;
    let body = envelope(json!({
        "contacts": [
            {"profile": {"name": "Someone", "username": "@someone"}, "user_id": "GB.99999999999999999999"},
            {"profile": {"name": "Kerry Fisher"}, "wa_id": KERRY, "user_id": KERRY_BSUID}],
        "messages": [
            {"from_user_id": "GB.99999999999999999999", "id": "wamid.STRANGER", "timestamp": "1764080000",
             "type": "text", "text": {"body": "STOP"}},
            {"from": KERRY, "from_user_id": KERRY_BSUID, "id": "wamid.KERRY", "timestamp": "1764080001",
             "type": "text", "text": {"body": "STOP"}}]}));
    assert_eq!(t.signed_whatsapp_webhook(&body).await, 200);
    assert_eq!(t.consent(&t.jane, kerry).await["state"], "opted_out");
    let reviews = t.service.state.store.open_reviews(10).await.unwrap();
    assert_eq!(reviews.len(), 1, "{reviews:?}");
    assert!(
        reviews[0]
            .reason
            .contains("known only by the business-scoped user id GB.99999999999999999999"),
        "{}",
        reviews[0].reason
    );
    assert_eq!(reviews[0].organization_id, Some(1));
    assert!(reviews[0].item.contains("wamid.STRANGER"));
    assert_eq!(reviews[0].raw_body, body);
    assert_eq!(
        t.count("SELECT COUNT(*) FROM messages WHERE direction = 'in'")
            .await,
        1,
        "only the matched message is stored"
    );
    // Meta retries whole bodies: nothing is applied or kept twice.
    assert_eq!(t.signed_whatsapp_webhook(&body).await, 200);
    assert_eq!(t.count("SELECT COUNT(*) FROM webhook_reviews").await, 1);
    assert_eq!(
        t.count("SELECT COUNT(*) FROM consent_events WHERE kind = 'keyword_opt_out'")
            .await,
        1
    );
    t.service.stop().await;
}

#[tokio::test]
async fn system_messages_never_cost_the_text_beside_them() {
    let t = start().await;
    let kerry = t.contact_id(&t.jane, "Kerry").await;
    let body = envelope(json!({"messages": [
        {"from": KERRY, "id": "wamid.ODD", "timestamp": "1764080000", "type": "system",
         "system": {"body": "Something WhatsApp has not told us about", "type": "user_did_something_new"}},
        user_id_changed("GB.00000000000000000001", "GB.00000000000000000002"),
        {"from": KERRY, "from_user_id": KERRY_BSUID, "id": "wamid.YES", "timestamp": "1764080001",
         "type": "text", "text": {"body": "yes"}}]}));
    assert_eq!(t.signed_whatsapp_webhook(&body).await, 200);
    assert_eq!(t.consent(&t.jane, kerry).await["state"], "opted_in");
    assert_eq!(
        t.count("SELECT COUNT(*) FROM messages WHERE direction = 'in'")
            .await,
        1
    );
    let reviews = t.service.state.store.open_reviews(10).await.unwrap();
    let reasons: Vec<&str> = reviews.iter().map(|r| r.reason.as_str()).collect();
    assert_eq!(reviews.len(), 2, "{reasons:?}");
    assert!(
        reasons[0].contains("`user_did_something_new`"),
        "{reasons:?}"
    );
    assert!(reasons[1].contains("no identity matches"), "{reasons:?}");
    assert!(reviews[1].item.contains("wamid.USERID"));
    t.service.stop().await;
}

#[tokio::test]
async fn a_number_change_moves_the_identity_and_its_consent_to_the_new_number() {
    let t = start().await;
    let kerry = t.contact_id(&t.jane, "Kerry").await;
    let pool = t.service.state.store.pool();
    let yes = text("wamid.YES", Some(KERRY), KERRY_BSUID, "yes");
    assert_eq!(t.signed_whatsapp_webhook(&yes).await, 200);
    assert_eq!(t.consent(&t.jane, kerry).await["state"], "opted_in");

    let body = envelope(json!({"messages": [number_changed()]}));
    assert_eq!(t.signed_whatsapp_webhook(&body).await, 200);
    let (_, contact) = t
        .api("GET", &format!("/contacts/{kerry}"), &t.jane, None)
        .await;
    assert_eq!(contact["phone"], "+447911654321", "the contact follows");
    let consent = t.consent(&t.jane, kerry).await;
    assert_eq!(consent["state"], "opted_in", "the person's consent moved");
    let old_state: String =
        sqlx::query_scalar("SELECT state FROM consents WHERE phone_e164 = '+447911123456'")
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(old_state, "none", "the old number may go to someone else");
    assert_eq!(identity(pool, KERRY_E164).await, None);
    assert_eq!(
        identity(pool, "+447911654321").await,
        Some((Some("+447911654321".into()), Some(NEW_BSUID.into())))
    );

    let steps: Vec<Step> = sqlx::query_as(
        "SELECT phone_e164, state_after, provider_time, detail_json, raw_body
             FROM consent_events WHERE kind = 'number_changed' ORDER BY seq",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(steps.len(), 2, "one step on each number: {steps:?}");
    assert_eq!(steps[0].0, KERRY_E164);
    assert_eq!(steps[0].1.as_deref(), Some("none"));
    assert_eq!(steps[1].0, "+447911654321");
    assert_eq!(steps[1].1.as_deref(), Some("opted_in"));
    for (_, _, provider_time, detail, raw) in &steps {
        assert_eq!(provider_time.as_deref(), Some("2025-11-25T17:00:00.000Z"));
        assert_eq!(raw.as_deref(), Some(body.as_str()));
        let detail: Value = serde_json::from_str(detail).unwrap();
        assert_eq!(detail["old_number"], KERRY_E164);
        assert_eq!(detail["new_number"], "+447911654321");
        assert_eq!(detail["previous_user_id"], KERRY_BSUID);
        assert_eq!(detail["user_id"], NEW_BSUID);
    }
    assert_eq!(t.signed_whatsapp_webhook(&body).await, 200, "a re-delivery");
    assert_eq!(
        t.count("SELECT COUNT(*) FROM consent_events WHERE kind = 'number_changed'")
            .await,
        2
    );
    // The person, now known by the new BSUID only, stops: it is their consent.
    let stop = text("wamid.STOPNEW", None, NEW_BSUID, "STOP");
    assert_eq!(t.signed_whatsapp_webhook(&stop).await, 200);
    assert_eq!(t.consent(&t.jane, kerry).await["state"], "opted_out");
    assert!(t
        .service
        .state
        .store
        .open_reviews(10)
        .await
        .unwrap()
        .is_empty());
    t.service.stop().await;
}

#[tokio::test]
async fn an_opt_out_already_at_the_new_number_survives_a_number_change() {
    let t = start().await;
    let kerry = t.contact_id(&t.jane, "Kerry").await;
    let yes = text("wamid.YES", Some(KERRY), KERRY_BSUID, "yes");
    assert_eq!(t.signed_whatsapp_webhook(&yes).await, 200);
    let stop_at_new = text(
        "wamid.STOPNEW",
        Some(NEW_NUMBER),
        "GB.55555555555555555555",
        "STOP",
    );
    assert_eq!(t.signed_whatsapp_webhook(&stop_at_new).await, 200);
    let body = envelope(json!({"messages": [number_changed()]}));
    assert_eq!(t.signed_whatsapp_webhook(&body).await, 200);
    assert_eq!(t.consent(&t.jane, kerry).await["state"], "opted_out");
    let detail: String = sqlx::query_scalar(
        "SELECT detail_json FROM consent_events WHERE kind = 'number_changed' LIMIT 1",
    )
    .fetch_one(t.service.state.store.pool())
    .await
    .unwrap();
    assert!(
        detail.contains(r#""opt_out_kept_at_new_number":true"#),
        "{detail}"
    );
    t.service.stop().await;
}

/// Posts a body to the quiet service's webhook, signed with its app secret.
async fn signed(t: &QuietService, body: &str) -> u16 {
    let secret = &t.state.providers.settings.app_secret;
    let signature = optin_server::providers::signature::meta_signature(secret, body.as_bytes());
    t.http
        .post(format!("{}/webhooks/whatsapp", t.base))
        .header("content-type", "application/json")
        .header("X-Hub-Signature-256", signature)
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn sent_bodies(t: &QuietService) -> Vec<Value> {
    t.provider
        .calls()
        .iter()
        .filter(|c| c.path.ends_with("/messages"))
        .map(|c| serde_json::from_str(&c.body).unwrap())
        .collect()
}

#[tokio::test]
async fn after_a_new_bsuid_sends_address_the_user_by_recipient() {
    let t = QuietService::start().await;
    let kerry = t.jane_contact("Kerry").await;
    let yes = text("wamid.YES", Some(KERRY), KERRY_BSUID, "yes");
    assert_eq!(signed(&t, &yes).await, 200);
    optin_server::outbox::drain(&t.state).await.unwrap();
    let sent = sent_bodies(&t);
    assert_eq!(sent.len(), 1, "the confirmation: {sent:?}");
    assert_eq!(sent[0]["to"], KERRY, "the number is known: `to`");
    assert!(sent[0].get("recipient").is_none());

    let body = envelope(json!({"messages": [user_id_changed(KERRY_BSUID, NEW_BSUID)]}));
    assert_eq!(signed(&t, &body).await, 200);
    assert_eq!(
        identity(t.state.store.pool(), KERRY_E164).await,
        Some((None, Some(NEW_BSUID.into()))),
        "the BSUID is replaced and no number is trusted any more"
    );
    let detail: String =
        sqlx::query_scalar("SELECT detail_json FROM consent_events WHERE kind = 'user_id_changed'")
            .fetch_one(t.state.store.pool())
            .await
            .unwrap();
    let detail: Value = serde_json::from_str(&detail).unwrap();
    assert_eq!(detail["previous_user_id"], KERRY_BSUID);
    assert_eq!(detail["user_id"], NEW_BSUID);

    let (status, reply) = support::call_api(
        &t.http,
        &t.base,
        "POST",
        &format!("/contacts/{kerry}/messages"),
        &t.jane,
        Some(meeting_reminder("Kerry", "Monday")),
    )
    .await;
    assert!((200..300).contains(&status), "{status} {reply}");
    optin_server::outbox::drain(&t.state).await.unwrap();
    let sent = sent_bodies(&t);
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert_eq!(
        sent[1]["recipient"], NEW_BSUID,
        "only the BSUID is known: {}",
        sent[1]
    );
    assert!(sent[1].get("to").is_none(), "{}", sent[1]);
    assert_eq!(sent[1]["type"], "template");
    t.stop().await;
}

#[tokio::test]
async fn in_the_sandbox_a_contact_who_hides_their_number_is_still_matched() {
    let t = start().await;
    let kerry = t.contact_id(&t.jane, "Kerry").await;
    // The sandbox's webhooks carry the phone's BSUID beside its number.
    t.contact_writes(KERRY_E164, "whatsapp", "Hello").await;
    let pool = t.service.state.store.pool();
    let learned = eventually("the identity learned from the sandbox", || async {
        identity(pool, KERRY_E164)
            .await
            .ok_or_else(|| "not yet".to_owned())
    })
    .await;
    assert_eq!(
        learned,
        (
            Some(KERRY_E164.into()),
            Some(optin_core::sandbox::sandbox_user_id(KERRY_E164))
        )
    );
    // Then the contact writes as a username user: the BSUID and no number.
    let (status, body) = t
        .sandbox_call(
            "POST",
            &format!("/phones/{}/reply", phone_path(KERRY_E164)),
            Some(json!({"text": "STOP", "channel": "whatsapp", "hide_number": true})),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    t.wait_for_state(&t.jane, kerry, "opted_out").await;
    assert!(t
        .service
        .state
        .store
        .open_reviews(10)
        .await
        .unwrap()
        .is_empty());
    t.service.stop().await;
}

#[tokio::test]
async fn a_tap_on_the_request_after_a_number_change_still_answers_it() {
    let t = start().await;
    let kerry = t.contact_id(&t.jane, "Kerry").await;
    let (status, body) = t.opt_in_as(&t.jane, kerry, "ask-kerry").await;
    assert!((200..300).contains(&status), "{status} {body}");
    t.wait_for_state(&t.jane, kerry, "pending").await;
    let request: String = sqlx::query_scalar("SELECT id FROM opt_in_requests")
        .fetch_one(t.service.state.store.pool())
        .await
        .unwrap();
    let changed = envelope(json!({"messages": [number_changed()]}));
    assert_eq!(t.signed_whatsapp_webhook(&changed).await, 200);
    assert_eq!(t.consent(&t.jane, kerry).await["state"], "pending");
    // WhatsApp moved the chat with the account: the person taps Yes on the
    // request that went to their old number, from the new one.
    let tap = envelope(json!({
        "contacts": [{"profile": {"name": "Kerry Fisher"}, "wa_id": NEW_NUMBER, "user_id": NEW_BSUID}],
        "messages": [{"from": NEW_NUMBER, "from_user_id": NEW_BSUID, "id": "wamid.TAP",
                      "timestamp": "1764090100", "type": "button",
                      "button": {"payload": format!("OPTIN_YES:{request}"), "text": "Yes"},
                      "context": {"from": "15550001111", "id": "wamid.TEMPLATE"}}]}));
    assert_eq!(t.signed_whatsapp_webhook(&tap).await, 200);
    assert_eq!(t.consent(&t.jane, kerry).await["state"], "opted_in");
    assert_eq!(
        t.count("SELECT COUNT(*) FROM consent_events WHERE kind = 'accepted' AND phone_e164 = '+447911654321'")
            .await,
        1
    );
    t.service.stop().await;
}

#[tokio::test]
async fn a_status_naming_only_the_bsuid_is_applied_to_its_message() {
    let t = start().await;
    sqlx::query(
        "INSERT INTO messages (organization_id, phone_e164, channel, direction, purpose, body, provider_message_id, status, created_at, updated_at)
         VALUES (1, '+447911123456', 'whatsapp', 'out', 'message', 'hello', 'wamid.OUT', 'accepted', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z')",
    )
    .execute(t.service.state.store.pool())
    .await
    .unwrap();
    let status = envelope(
        json!({"statuses": [{"id": "wamid.OUT", "status": "delivered",
        "timestamp": "1764080000", "recipient_user_id": KERRY_BSUID}]}),
    );
    assert_eq!(t.signed_whatsapp_webhook(&status).await, 200);
    let state: String =
        sqlx::query_scalar("SELECT status FROM messages WHERE provider_message_id = 'wamid.OUT'")
            .fetch_one(t.service.state.store.pool())
            .await
            .unwrap();
    assert_eq!(state, "delivered");
    assert!(t
        .service
        .state
        .store
        .open_reviews(10)
        .await
        .unwrap()
        .is_empty());
    t.service.stop().await;
}
