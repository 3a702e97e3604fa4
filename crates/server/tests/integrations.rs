//! CRM integrations: API keys mint short-lived advisor tokens; expired and
//! revoked tokens are refused on the API and on the event stream; an
//! organization can turn WhatsApp off.

mod support;

use serde_json::json;
use support::start;

#[tokio::test]
async fn an_api_key_mints_tokens_that_expire_and_can_be_revoked() {
    let t = start().await;
    let store = &t.service.state.store;
    let key = support::integration_key(store, 1, "CRM").await;
    let mint = |body: serde_json::Value| {
        t.http
            .post(format!("{}/api/v1/integrations/advisor-tokens", t.base))
            .bearer_auth(&key)
            .json(&body)
            .send()
    };
    let issued: serde_json::Value = mint(json!({"advisor_id": 1, "ttl_seconds": 120}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = issued["token"].as_str().unwrap().to_owned();
    let (status, me) = t.api("GET", "/me", &token, None).await;
    assert_eq!(status, 200);
    assert_eq!(me["advisor_name"], "Jane Smith");
    assert!(me["token_expires_at"].is_string());

    // Refused: an advisor key of another organization, a bad TTL, an advisor token as API key.
    assert_eq!(
        mint(json!({"advisor_id": 999})).await.unwrap().status(),
        404
    );
    assert_eq!(
        mint(json!({"advisor_id": 1, "ttl_seconds": 86400}))
            .await
            .unwrap()
            .status(),
        422
    );
    let as_key = t
        .http
        .post(format!("{}/api/v1/integrations/advisor-tokens", t.base))
        .bearer_auth(&t.jane)
        .json(&json!({"advisor_id": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(as_key.status(), 401);

    // Revoked: refused on the API and on the stream.
    let revoke = t
        .http
        .post(format!(
            "{}/api/v1/integrations/advisor-tokens/revoke",
            t.base
        ))
        .bearer_auth(&key)
        .json(&json!({"token": token}))
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status(), 204);
    assert_eq!(t.api("GET", "/contacts", &token, None).await.0, 401);
    let stream = t
        .http
        .get(format!("{}/api/v1/events", t.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 401);
    t.service.stop().await;
}

#[tokio::test]
async fn an_expired_token_is_refused_on_the_api_and_the_stream() {
    let t = start().await;
    let pool = t.service.state.store.pool();
    let key = support::integration_key(&t.service.state.store, 1, "CRM").await;
    let issued: serde_json::Value = t
        .http
        .post(format!("{}/api/v1/integrations/advisor-tokens", t.base))
        .bearer_auth(&key)
        .json(&json!({"advisor_id": 1, "ttl_seconds": 60}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = issued["token"].as_str().unwrap();
    assert_eq!(t.api("GET", "/contacts", token, None).await.0, 200);
    // Let it lapse (rather than wait a minute).
    sqlx::query("UPDATE advisor_tokens SET expires_at = '2000-01-01T00:00:00.000Z' WHERE expires_at IS NOT NULL")
        .execute(pool)
        .await
        .unwrap();
    assert_eq!(t.api("GET", "/contacts", token, None).await.0, 401);
    let stream = t
        .http
        .get(format!("{}/api/v1/events", t.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 401);
    t.service.stop().await;
}

#[tokio::test]
async fn with_whatsapp_off_opt_ins_are_refused_with_a_clear_error() {
    let t = start().await;
    let kerry = t.contact_id(&t.jane, "Kerry").await;
    t.service
        .state
        .store
        .set_whatsapp_enabled(1, false)
        .await
        .unwrap();
    let (_, me) = t.api("GET", "/me", &t.jane, None).await;
    assert_eq!(me["whatsapp_enabled"], false);
    let (status, body) = t
        .api("POST", &format!("/contacts/{kerry}/opt-in"), &t.jane, None)
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("whatsapp_disabled"))
    );
    assert!(body["message"].as_str().unwrap().contains("turned off"));
    t.service.stop().await;
}

#[tokio::test]
async fn a_host_opens_a_contact_by_number_or_crm_id_creating_it_once() {
    let t = start().await;
    let open = |body: serde_json::Value| t.api("POST", "/contacts/open", &t.jane, Some(body));
    let (status, kerry) = open(json!({"phone": "+44 7911 123456", "crm_id": "003KERRY"})).await;
    assert_eq!(
        (status, kerry["name"].as_str()),
        (200, Some("Kerry Fisher"))
    );
    let (status, again) = open(json!({"crm_id": "003KERRY"})).await;
    assert_eq!(
        (status, &again["id"]),
        (200, &kerry["id"]),
        "the CRM id now finds the contact"
    );
    let (status, _) = open(json!({"crm_id": "003NOBODY"})).await;
    assert_eq!(status, 404, "unknown and nothing to create it from");
    let (status, created) =
        open(json!({"phone": "+44 7911 222444", "crm_id": "003NEW", "name": "Nina New"})).await;
    assert_eq!(
        (status, created["phone"].as_str()),
        (201, Some("+447911222444"))
    );
    let (status, same) = open(json!({"phone": "+447911222444", "name": "Nina New"})).await;
    assert_eq!(
        (status, &same["id"]),
        (200, &created["id"]),
        "opened again, not created twice"
    );
    let (status, body) = open(json!({"phone": "12"})).await;
    assert_eq!((status, body["field"].as_str()), (422, Some("phone")));
    t.service.stop().await;
}

#[tokio::test]
async fn an_api_key_stops_working_when_it_expires_or_is_revoked() {
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
    let mint = |key: String| {
        let t = &t;
        async move {
            t.http
                .post(format!("{}/api/v1/integrations/advisor-tokens", t.base))
                .bearer_auth(key)
                .json(&json!({"advisor_id": 1}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    // A key that expires in an hour, by the service clock.
    let in_an_hour = t.service.state.clock.now() + chrono::Duration::hours(1);
    let (status, expiring) = t
        .api(
            "POST",
            "/admin/api-keys",
            &admin_key,
            Some(json!({"name": "CRM staging", "scope": "integration", "expires_at": in_an_hour})),
        )
        .await;
    assert_eq!(status, 201, "{expiring}");
    let expiring_key = expiring["key"].as_str().unwrap().to_owned();
    assert_eq!(mint(expiring_key.clone()).await, 201);
    t.service.state.clock.advance(chrono::Duration::minutes(61));
    assert_eq!(mint(expiring_key).await, 401, "expired by time");

    // A key expired now by the admin, and one revoked.
    for action in ["expire", "revoke"] {
        let (_, created) = t
            .api(
                "POST",
                "/admin/api-keys",
                &admin_key,
                Some(json!({"name": format!("CRM {action}"), "scope": "integration"})),
            )
            .await;
        let key = created["key"].as_str().unwrap().to_owned();
        let id = created["view"]["id"].as_i64().unwrap();
        assert_eq!(mint(key.clone()).await, 201);
        let body = (action == "expire").then(|| json!({}));
        let (status, view) = t
            .api(
                "POST",
                &format!("/admin/api-keys/{id}/{action}"),
                &admin_key,
                body,
            )
            .await;
        assert_eq!(status, 200, "{view}");
        assert_eq!(mint(key).await, 401, "after {action}");
    }
    t.service.stop().await;
}
