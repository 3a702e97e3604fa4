//! Every refusal of the API, by its code, and that a refused request queues
//! nothing; and the 24-hour resend rule at its edge, through the API and the
//! sandbox clock.

mod support;

use serde_json::{json, Value};
use support::extra::{assert_refused, meeting_reminder, QuietService, KERRY};
use support::{envelope, start, TestService};

/// Kerry types "yes" to the business number: opted in, window open.
async fn kerry_opts_in(t: &TestService) -> i64 {
    let kerry = t.contact_id(&t.jane, "Kerry").await;
    // Sent now, as the service's clock sees it: the service window opens.
    let now = t.service.state.clock.now().timestamp().to_string();
    let body = envelope(json!({
        "messages": [{"from": "447911123456", "id": "wamid.YES1", "timestamp": now, "type": "text", "text": {"body": "yes"}}]
    }));
    assert_eq!(t.signed_whatsapp_webhook(&body).await, 200);
    t.wait_for_state(&t.jane, kerry, "opted_in").await;
    kerry
}

async fn queued(t: &TestService) -> i64 {
    t.count("SELECT COUNT(*) FROM outbox").await
}

#[tokio::test]
async fn resend_at_23_hours_59_minutes_is_refused_and_at_24_hours_allowed() {
    let t = start().await;
    let kerry = t.contact_id(&t.jane, "Kerry").await;
    assert_eq!(t.opt_in_as(&t.jane, kerry, "edge-1").await.0, 202);
    let pending = t.wait_for_state(&t.jane, kerry, "pending").await;
    let allowed_at = pending["resend_allowed_at"].as_str().unwrap().to_owned();

    t.advance_seconds(23 * 3600 + 59 * 60).await;
    assert_eq!(t.consent(&t.jane, kerry).await["state"], "pending");
    let refused = t.resend_as(&t.jane, kerry).await;
    assert_refused(&refused, 409, "resend_too_soon");
    assert_eq!(
        refused.1["allowed_at"].as_str().map(|a| &a[..23]),
        Some(&allowed_at[..23]),
        "the refusal says when"
    );
    let jobs = queued(&t).await;

    // One more minute: 24 h after the request.
    t.advance_seconds(60).await;
    assert_eq!(t.consent(&t.jane, kerry).await["state"], "expired");
    let (status, body) = t.resend_as(&t.jane, kerry).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["state"], "sending");
    assert_eq!(queued(&t).await, jobs + 1);
    t.wait_inbox(KERRY, "whatsapp", 2).await;
    t.service.stop().await;
}

#[tokio::test]
async fn free_text_outside_the_service_window_is_refused_and_a_template_is_not() {
    let t = start().await;
    let kerry = kerry_opts_in(&t).await;
    let text = json!({"type": "text", "body": "Still there?"});
    // Inside the window it goes.
    assert_eq!(t.whatsapp_as(&t.jane, kerry, text.clone()).await.0, 202);
    t.advance_seconds(24 * 3600 + 60).await;
    let jobs = queued(&t).await;
    assert_refused(
        &t.whatsapp_as(&t.jane, kerry, text).await,
        409,
        "outside_service_window",
    );
    assert_eq!(queued(&t).await, jobs);
    assert_eq!(
        t.whatsapp_as(&t.jane, kerry, meeting_reminder("Kerry", "Monday"))
            .await
            .0,
        202
    );
    t.service.stop().await;
}

#[tokio::test]
async fn a_message_delivered_late_never_moves_the_service_window_back() {
    let t = start().await;
    let kerry = kerry_opts_in(&t).await;
    // Written an hour before the "yes", delivered 23 hours after it.
    let written = (t.service.state.clock.now().timestamp() - 3600).to_string();
    t.advance_seconds(23 * 3600).await;
    let body = envelope(json!({
        "messages": [{"from": "447911123456", "id": "wamid.LATE1", "timestamp": written, "type": "text", "text": {"body": "thanks"}}]
    }));
    assert_eq!(t.signed_whatsapp_webhook(&body).await, 200);
    // Half an hour on, the window the "yes" opened (24 h) is still open;
    // one moved back to the late message's time would have closed.
    t.advance_seconds(30 * 60).await;
    let text = json!({"type": "text", "body": "Still there?"});
    let (status, reply) = t.whatsapp_as(&t.jane, kerry, text.clone()).await;
    assert_eq!(status, 202, "{reply}");
    // And it closes 24 hours after the "yes", not after the delivery.
    t.advance_seconds(60 * 60).await;
    assert_refused(
        &t.whatsapp_as(&t.jane, kerry, text).await,
        409,
        "outside_service_window",
    );
    t.service.stop().await;
}

#[tokio::test]
async fn an_unknown_template_or_language_is_refused() {
    let t = start().await;
    let kerry = kerry_opts_in(&t).await;
    let jobs = queued(&t).await;
    for body in [
        json!({"type": "template", "name": "no_such_template", "language": "en_US", "parameters": ["a", "b"]}),
        json!({"type": "template", "name": "meeting_reminder", "language": "fr_FR", "parameters": ["a", "b"]}),
        // The opt-in template is not a message template.
        json!({"type": "template", "name": "advisor_opt_in", "language": "en_US", "parameters": ["a", "b"]}),
    ] {
        let reply = t.whatsapp_as(&t.jane, kerry, body.clone()).await;
        assert_refused(&reply, 422, "unknown_template");
        assert_eq!(reply.1["field"], "name", "{body}");
    }
    assert_eq!(queued(&t).await, jobs);
    t.service.stop().await;
}

#[tokio::test]
async fn template_parameters_must_match_the_template() {
    let t = start().await;
    let kerry = kerry_opts_in(&t).await;
    let jobs = queued(&t).await;
    for parameters in [
        json!([]),
        json!(["Kerry"]),
        json!(["Kerry", "Monday", "extra"]),
        json!(["Kerry", "   "]),
    ] {
        let body = json!({"type": "template", "name": "meeting_reminder", "language": "en_US", "parameters": parameters});
        let reply = t.whatsapp_as(&t.jane, kerry, body).await;
        assert_refused(&reply, 422, "template_parameters");
        assert_eq!(reply.1["field"], "parameters");
    }
    assert_eq!(queued(&t).await, jobs);
    t.service.stop().await;
}

#[tokio::test]
async fn empty_or_too_long_text_is_refused_on_both_channels() {
    let t = start().await;
    let kerry = kerry_opts_in(&t).await;
    let jobs = queued(&t).await;
    let too_long_whatsapp = "x".repeat(optin_core::api::MAX_TEXT_CHARS + 1);
    let too_long_sms = "x".repeat(optin_core::vocab::MAX_SMS_CHARS + 1);
    for body in ["", "  \n ", too_long_whatsapp.as_str()] {
        let reply = t
            .whatsapp_as(&t.jane, kerry, json!({"type": "text", "body": body}))
            .await;
        assert_refused(&reply, 422, "invalid_text");
        assert_eq!(reply.1["field"], "body");
    }
    for body in ["", "   ", too_long_sms.as_str()] {
        let reply = t.sms_as(&t.jane, kerry, body).await;
        assert_refused(&reply, 422, "invalid_text");
        assert_eq!(reply.1["field"], "body");
    }
    assert_eq!(queued(&t).await, jobs);
    // At the limits they go.
    let longest = "x".repeat(optin_core::api::MAX_TEXT_CHARS);
    assert_eq!(
        t.whatsapp_as(&t.jane, kerry, json!({"type": "text", "body": longest}))
            .await
            .0,
        202
    );
    let longest = "x".repeat(optin_core::vocab::MAX_SMS_CHARS);
    assert_eq!(t.sms_as(&t.jane, kerry, &longest).await.0, 202);
    t.service.stop().await;
}

#[tokio::test]
async fn a_contact_who_opted_in_is_not_asked_again() {
    let t = start().await;
    let kerry = kerry_opts_in(&t).await;
    let requests = t.count("SELECT COUNT(*) FROM opt_in_requests").await;
    assert_refused(
        &t.opt_in_as(&t.jane, kerry, "again").await,
        409,
        "already_opted_in",
    );
    assert_refused(&t.resend_as(&t.jane, kerry).await, 409, "already_opted_in");
    let sams = t.add_contact(&t.sam, "Kerry F.", KERRY).await;
    assert_refused(
        &t.opt_in_as(&t.sam, sams, "sam-asks").await,
        409,
        "already_opted_in",
    );
    assert_eq!(
        t.count("SELECT COUNT(*) FROM opt_in_requests").await,
        requests
    );
    t.service.stop().await;
}

#[tokio::test]
async fn a_second_request_while_the_first_is_being_sent_is_refused() {
    // No outbox worker: the first request stays `sending`.
    let t = QuietService::start().await;
    let kerry = t.jane_contact("Kerry").await;
    let opt_in = |key: &'static str| {
        let t = &t;
        async move {
            t.api(
                "POST",
                &format!("/contacts/{kerry}/opt-in"),
                &t.jane,
                &[("Idempotency-Key", key)],
            )
            .await
        }
    };
    let (status, first): (u16, Value) = opt_in("first").await;
    assert_eq!((status, first["state"].as_str()), (202, Some("sending")));
    assert_refused(&opt_in("second").await, 409, "request_in_flight");
    assert_refused(
        &t.api(
            "POST",
            &format!("/contacts/{kerry}/opt-in/resend"),
            &t.jane,
            &[],
        )
        .await,
        409,
        "request_in_flight",
    );
    assert_eq!(t.count("SELECT COUNT(*) FROM outbox").await, 1);
    assert_eq!(t.count("SELECT COUNT(*) FROM opt_in_requests").await, 1);
    assert!(t.provider.calls().is_empty());
}

#[tokio::test]
async fn a_malformed_address_or_query_is_refused_in_the_error_shape() {
    let t = start().await;
    for (token, path, code) in [
        (&t.jane, "/contacts/seven", "invalid_path"),
        (&t.jane, "/contacts/7/messages/", "not_found"),
        (&t.jane, "/contacts?limit=many", "invalid_query"),
        (
            &t.compliance,
            "/compliance/numbers?advisor_id=jane",
            "invalid_query",
        ),
        (&t.compliance, "/compliance/events/x/raw", "invalid_path"),
    ] {
        let reply = t.api("GET", path, token, None).await;
        let status = if code == "not_found" { 404 } else { 422 };
        assert_refused(&reply, status, code);
        assert!(
            reply.1["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{reply:?}"
        );
    }
}

#[tokio::test]
async fn every_kind_of_refusal_answers_the_json_error_shape() {
    let t = start().await;
    let api = |path: &str| format!("{}/api/v1{path}", t.base);
    let big = "x".repeat(2 * 1024 * 1024);
    let contact = json!({"name": "Ann", "phone": "+447911123499", "note": "x".repeat(20 * 1024)});
    let requests = vec![
        (
            "a JSON syntax error",
            t.http
                .post(api("/contacts"))
                .bearer_auth(&t.jane)
                .header("content-type", "application/json")
                .body("{\"name\": "),
            400,
            "malformed_body",
        ),
        (
            "a body that is not declared as JSON",
            t.http
                .post(api("/contacts"))
                .bearer_auth(&t.jane)
                .header("content-type", "text/plain")
                .body("{}"),
            415,
            "unsupported_media_type",
        ),
        (
            "an API body over the limit",
            t.http
                .post(api("/contacts"))
                .bearer_auth(&t.jane)
                .json(&contact),
            413,
            "payload_too_large",
        ),
        (
            "a WhatsApp webhook over the limit",
            t.http
                .post(format!("{}/webhooks/whatsapp", t.base))
                .header("content-type", "application/json")
                .header("X-Hub-Signature-256", "sha256=00")
                .body(big.clone()),
            413,
            "payload_too_large",
        ),
        (
            "an SMS webhook over the limit",
            t.http
                .post(format!("{}/webhooks/sms", t.base))
                .header("content-type", "application/x-www-form-urlencoded")
                .header("X-Twilio-Signature", "AA==")
                .body(format!("Body={big}")),
            413,
            "payload_too_large",
        ),
        (
            "an unsigned webhook",
            t.http
                .post(format!("{}/webhooks/whatsapp", t.base))
                .header("content-type", "application/json")
                .body("{}"),
            401,
            "unauthorized",
        ),
        (
            "a wrong verify token",
            t.http.get(format!(
                "{}/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1",
                t.base
            )),
            403,
            "verification_failed",
        ),
        (
            "a path value of the wrong type",
            t.http.get(api("/contacts/seven")).bearer_auth(&t.jane),
            422,
            "invalid_path",
        ),
        (
            "a query value of the wrong type",
            t.http.get(api("/contacts?limit=many")).bearer_auth(&t.jane),
            422,
            "invalid_query",
        ),
        (
            "a method an API route does not take",
            t.http.delete(api("/contacts")).bearer_auth(&t.jane),
            405,
            "method_not_allowed",
        ),
        (
            "a method a webhook does not take",
            t.http.get(format!("{}/webhooks/sms", t.base)),
            405,
            "method_not_allowed",
        ),
        (
            "an unknown API route",
            t.http.get(api("/nothing/here")).bearer_auth(&t.jane),
            404,
            "not_found",
        ),
        (
            "an unknown address outside the API",
            t.http.get(format!("{}/nothing/here", t.base)),
            404,
            "not_found",
        ),
    ];
    for (what, request, status, code) in requests {
        let response = request.send().await.unwrap();
        let got = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let body: Value = serde_json::from_str(&response.text().await.unwrap())
            .unwrap_or_else(|e| panic!("{what}: not JSON ({e})"));
        assert_eq!(
            (got, body["code"].as_str()),
            (status, Some(code)),
            "{what}: {body}"
        );
        assert_eq!(content_type, "application/json", "{what}");
        assert!(
            body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{what}: {body}"
        );
    }
    assert_eq!(
        t.count("SELECT COUNT(*) FROM contacts WHERE name = 'Ann'")
            .await,
        0
    );
    assert_eq!(t.count("SELECT COUNT(*) FROM webhook_reviews").await, 0);
    t.service.stop().await;
}

#[tokio::test]
async fn invisible_names_and_direction_overrides_are_refused_everywhere_a_name_is_given() {
    let t = start().await;
    let (admin_key, _) = t
        .service
        .state
        .store
        .create_api_key(
            1,
            "provisioning",
            optin_core::admin::KeyScope::Admin,
            None,
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    let before = (
        t.count("SELECT COUNT(*) FROM contacts").await,
        t.count("SELECT COUNT(*) FROM advisors").await,
        t.count("SELECT COUNT(*) FROM api_keys").await,
    );
    for name in [
        "\u{200B}",
        "\u{FEFF}",
        "\u{2060}\u{200D}",
        "Ann\u{202E}gnp.exe",
        "\u{2066}Ann\u{2069}",
    ] {
        for (token, method, path, body) in [
            (
                &t.jane,
                "POST",
                "/contacts",
                json!({"name": name, "phone": "+447911123499"}),
            ),
            (
                &admin_key,
                "POST",
                "/admin/advisors",
                json!({"name": name, "role": "advisor"}),
            ),
            (
                &admin_key,
                "POST",
                "/admin/api-keys",
                json!({"name": name, "scope": "integration"}),
            ),
            (
                &admin_key,
                "PATCH",
                "/admin/organization",
                json!({"name": name}),
            ),
        ] {
            let reply = t.api(method, path, token, Some(body)).await;
            assert_refused(&reply, 422, "invalid_name");
            assert_eq!(reply.1["field"], "name", "{path} {name:?}");
        }
    }
    let after = (
        t.count("SELECT COUNT(*) FROM contacts").await,
        t.count("SELECT COUNT(*) FROM advisors").await,
        t.count("SELECT COUNT(*) FROM api_keys").await,
    );
    assert_eq!(before, after, "nothing stored");
    assert_eq!(
        t.count("SELECT COUNT(*) FROM organizations WHERE name LIKE 'Acme%'")
            .await,
        1,
        "the organization keeps its name"
    );
    t.service.stop().await;
}
