//! Everything needed to re-verify the record outside the service: each
//! webhook's step keeps the signature header exactly as received (and, for
//! SMS, the URL that was signed), so that anyone holding the provider's
//! secret checks it again from the export alone; the opt-in request keeps
//! the template, its language and category, and the exact text the contact
//! saw.

mod support;

use optin_server::providers::signature::{
    meta_signature, twilio_signature, verify_meta_signature, verify_twilio_signature,
};
use optin_server::store::MaybeFlag;
use serde_json::{json, Value};
use support::extra::KERRY;
use support::{envelope, start, TestService};

/// A kept step: raw body, signature header, signed URL, signature result.
type Kept = (Option<String>, Option<String>, Option<String>, MaybeFlag);

/// The step whose detail mentions `needle`.
async fn kept(t: &TestService, needle: &str) -> Kept {
    sqlx::query_as(
        "SELECT raw_body, signature_header, signed_url, signature_valid FROM consent_events
         WHERE detail_json LIKE '%' || $1 || '%'",
    )
    .bind(needle)
    .fetch_one(t.service.state.store.pool())
    .await
    .unwrap()
}

/// The organization's export as JSON lines, read back.
async fn export(t: &TestService) -> Vec<Value> {
    t.http
        .get(format!("{}/api/v1/consent/export?format=jsonl", t.base))
        .bearer_auth(&t.compliance)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[tokio::test]
async fn a_whatsapp_webhook_keeps_its_signature_header_exactly_as_received() {
    let t = start().await;
    let body = envelope(json!({
        "messages": [{"from": "447911123456", "id": "wamid.KEPT1", "timestamp": "1764080000", "type": "text", "text": {"body": "hello"}}]
    }));
    let secret = t.service.state.providers.settings.app_secret.clone();
    // Upper-case hex is a valid signature too: what is kept is what came, not a re-derivation.
    let header = meta_signature(&secret, body.as_bytes())
        .to_uppercase()
        .replace("SHA256=", "sha256=");
    assert_eq!(
        t.post_whatsapp_webhook(&body, Some(header.clone())).await,
        200
    );

    let (raw_body, signature, signed_url, valid) = kept(&t, "wamid.KEPT1").await;
    assert_eq!(signature.as_deref(), Some(header.as_str()));
    assert_eq!(signed_url, None, "Meta signs the body only");
    assert_eq!(valid.0, Some(true));
    let raw_body = raw_body.unwrap();
    assert!(verify_meta_signature(
        &secret,
        raw_body.as_bytes(),
        signature.as_deref()
    ));

    // The export carries them, and the chain covers them.
    let line = export(&t)
        .await
        .into_iter()
        .find(|line| {
            line["detail_json"]
                .as_str()
                .unwrap()
                .contains("wamid.KEPT1")
        })
        .unwrap();
    assert_eq!(line["signature_header"], header.as_str());
    assert_eq!(line["hash_form"], 2);
    // Compliance sees it beside the raw body, on the step's raw evidence.
    let raw: Value = t
        .http
        .get(format!(
            "{}/api/v1/compliance/events/{}/raw",
            t.base, line["id"]
        ))
        .bearer_auth(&t.compliance)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(raw["signature_header"], header.as_str(), "{raw}");
    assert_eq!(raw["raw_body"], body.as_str());
    assert!(t
        .service
        .state
        .store
        .verify_chain(1, &[])
        .await
        .unwrap()
        .is_ok());
    t.service.stop().await;
}

#[tokio::test]
async fn an_sms_webhook_keeps_its_signature_and_the_url_that_was_signed() {
    let t = start().await;
    let settings = t.service.state.providers.settings.clone();
    let params = [
        ("MessageSid", "SMKEPT1"),
        ("AccountSid", settings.sms.account_sid.as_str()),
        ("From", KERRY),
        ("To", optin_server::store::seed::SANDBOX_SMS_NUMBER),
        ("Body", "Hello, it's Kerry"),
    ];
    assert_eq!(t.signed_sms_form(&params).await, 200);

    let (raw_body, signature, signed_url, valid) = kept(&t, "SMKEPT1").await;
    let url = format!("{}/webhooks/sms", settings.public_url);
    assert_eq!(signed_url.as_deref(), Some(url.as_str()));
    assert_eq!(valid.0, Some(true));
    let pairs: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(
        signature.as_deref(),
        Some(twilio_signature(&settings.sms.auth_token, &url, &pairs).as_str())
    );
    // Re-verified from what was kept alone: the form pairs of the raw body.
    let kept_pairs: Vec<(String, String)> = serde_urlencoded::from_str(&raw_body.unwrap()).unwrap();
    assert!(verify_twilio_signature(
        &settings.sms.auth_token,
        signed_url.as_deref().unwrap(),
        &kept_pairs,
        signature.as_deref()
    ));
    let line = export(&t)
        .await
        .into_iter()
        .find(|line| line["detail_json"].as_str().unwrap().contains("SMKEPT1"))
        .unwrap();
    assert_eq!(line["signed_url"], url.as_str());
    t.service.stop().await;
}

#[tokio::test]
async fn the_opt_in_request_keeps_its_template_language_category_and_rendered_text() {
    let t = start().await;
    let kerry = t.contact_id(&t.jane, "Kerry").await;
    let (status, preview) = t
        .api(
            "GET",
            &format!("/contacts/{kerry}/opt-in/preview"),
            &t.jane,
            None,
        )
        .await;
    assert_eq!(status, 200, "{preview}");
    assert_eq!(t.opt_in_as(&t.jane, kerry, "kept").await.0, 202);

    let detail: String = sqlx::query_scalar(
        "SELECT detail_json FROM consent_events WHERE kind = 'requested' AND phone_e164 = $1",
    )
    .bind(KERRY)
    .fetch_one(t.service.state.store.pool())
    .await
    .unwrap();
    let detail: Value = serde_json::from_str(&detail).unwrap();
    let (template, language) = (
        preview["template"].as_str().unwrap(),
        preview["template_language"].as_str().unwrap(),
    );
    let category: String = sqlx::query_scalar(
        "SELECT category FROM templates WHERE organization_id = 1 AND name = $1 AND language = $2",
    )
    .bind(template)
    .bind(language)
    .fetch_one(t.service.state.store.pool())
    .await
    .unwrap();
    assert_eq!(detail["template"], template);
    assert_eq!(detail["language"], language);
    assert_eq!(detail["category"], category.as_str());
    assert_eq!(detail["rendered_text"], preview["text"]);
    // The very text that went out to the contact.
    let sent: String = sqlx::query_scalar(
        "SELECT body FROM messages WHERE phone_e164 = $1 AND purpose = 'opt_in'",
    )
    .bind(KERRY)
    .fetch_one(t.service.state.store.pool())
    .await
    .unwrap();
    assert_eq!(detail["rendered_text"], sent.as_str());
    t.service.stop().await;
}
