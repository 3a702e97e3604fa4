//! `/webhooks/sms` takes only what the SMS provider signed: an unsigned or
//! wrongly signed STOP is refused with 401 and leaves no trace.

mod support;

use optin_server::providers::signature::twilio_signature;
use support::start;
use support::TestService;

/// An inbound SMS "STOP" from Kerry to the organization's number.
fn stop_params(t: &TestService, sid: &str, body: &str) -> Vec<(String, String)> {
    let settings = &t.service.state.providers.settings;
    [
        ("MessageSid", sid),
        ("AccountSid", settings.sms.account_sid.as_str()),
        ("From", "+447911123456"),
        ("To", optin_server::store::seed::SANDBOX_SMS_NUMBER),
        ("Body", body),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

async fn post(t: &TestService, params: &[(String, String)], signature: Option<String>) -> u16 {
    let mut request = t
        .http
        .post(format!("{}/webhooks/sms", t.base))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string(params).unwrap());
    if let Some(signature) = signature {
        request = request.header("X-Twilio-Signature", signature);
    }
    request.send().await.unwrap().status().as_u16()
}

async fn stored(t: &TestService) -> [i64; 3] {
    [
        t.count("SELECT COUNT(*) FROM messages").await,
        t.count("SELECT COUNT(*) FROM consent_events").await,
        t.count("SELECT COUNT(*) FROM webhook_receipts").await,
    ]
}

#[tokio::test]
async fn unsigned_and_wrongly_signed_sms_webhooks_are_refused_and_nothing_is_stored() {
    let t = start().await;
    let kerry = t.contact_id(&t.jane, "Kerry").await;
    let settings = t.service.state.providers.settings.clone();
    let url = format!("{}/webhooks/sms", settings.public_url);
    let params = stop_params(&t, "SMSTOP1", "STOP");
    let before = stored(&t).await;

    let tampered = twilio_signature(
        &settings.sms.auth_token,
        &url,
        &stop_params(&t, "SMSTOP1", "hello"),
    );
    for (what, signature) in [
        ("no signature", None),
        (
            "another key",
            Some(twilio_signature("not the auth token", &url, &params)),
        ),
        (
            "another URL",
            Some(twilio_signature(
                &settings.sms.auth_token,
                "https://attacker.example/webhooks/sms",
                &params,
            )),
        ),
        ("other parameters", Some(tampered)),
        ("garbage", Some("bm90IGEgc2lnbmF0dXJl".to_owned())),
        ("empty", Some(String::new())),
    ] {
        assert_eq!(post(&t, &params, signature).await, 401, "{what}");
    }
    assert_eq!(stored(&t).await, before, "nothing stored");
    assert_eq!(t.consent(&t.jane, kerry).await["sms_opted_out"], false);

    // The same webhook, signed as the provider signs it, is taken.
    let signature = twilio_signature(&settings.sms.auth_token, &url, &params);
    assert_eq!(post(&t, &params, Some(signature)).await, 200);
    assert_eq!(t.consent(&t.jane, kerry).await["sms_opted_out"], true);
    let after = stored(&t).await;
    // The STOP and its one confirmation SMS, each a message and an event; one receipt.
    assert_eq!(
        [
            after[0] - before[0],
            after[1] - before[1],
            after[2] - before[2]
        ],
        [2, 2, 1]
    );
    t.service.stop().await;
}
