//! Two organizations, each with its own WhatsApp number and SMS number, on one
//! production-mode service (against a stand-in provider): sends go out from
//! each organization's own number; a STOP, a status, an SMS STOP sent to
//! organization B's numbers change only B; conversations and exports never
//! cross; a webhook for a number nobody owns is kept and, once an admin
//! provisions the number, replayed into that organization.

mod support;

use optin_core::admin::{KeyScope, OrganizationSettings};
use optin_core::vocab::Role;
use optin_server::providers::signature::twilio_signature;
use optin_server::services::provisioning;
use optin_server::{launch, Service};
use serde_json::{json, Value};
use support::extra::{eventually, phone_path, FakeProvider};

const CLIENT: &str = "+447911123456";

/// One organization as provisioned for the test.
struct Firm {
    whatsapp_number: &'static str,
    sms_number: &'static str,
    advisor: String,
    compliance: String,
    admin_key: String,
}

struct Tenants {
    service: Service,
    provider: FakeProvider,
    http: reqwest::Client,
    base: String,
    a: Firm,
    b: Firm,
    _dir: tempfile::TempDir,
}

async fn provision(service: &Service, name: &str, wa: &'static str, sms: &'static str) -> Firm {
    let store = &service.state.store;
    let settings = OrganizationSettings {
        name: Some(name.into()),
        whatsapp_business_account_id: Some("4000".into()),
        add_whatsapp_phone_number_ids: vec![wa.into()],
        sms_number: Some(sms.into()),
        ..OrganizationSettings::default()
    };
    let org = provisioning::create_organization(store, &settings, None)
        .await
        .unwrap();
    let person = |role: Role, who: &str| {
        let store = store.clone();
        let who = format!("{who} of {name}");
        async move {
            let id = provisioning::create_advisor(&store, org, &who, None, role)
                .await
                .unwrap();
            let token = optin_server::store::auth::new_token();
            store.add_token(id, &token).await.unwrap();
            token
        }
    };
    let advisor = person(Role::Advisor, "Advisor").await;
    let compliance = person(Role::Compliance, "Compliance").await;
    let (admin_key, _) = store
        .create_api_key(
            org,
            "provisioning",
            KeyScope::Admin,
            None,
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    Firm {
        whatsapp_number: wa,
        sms_number: sms,
        advisor,
        compliance,
        admin_key,
    }
}

impl Tenants {
    async fn start() -> Self {
        let provider = FakeProvider::start().await;
        let dir = tempfile::tempdir().unwrap();
        let mut config = support::test_config(dir.path().to_path_buf());
        provider.configure(&mut config);
        let service = launch(config).await.unwrap();
        let a = provision(&service, "Alpha Advisers", "1111", "+12127365001").await;
        let b = provision(&service, "Beta Wealth", "2222", "+12127365002").await;
        Self {
            base: format!("http://{}", service.addr),
            service,
            provider,
            http: reqwest::Client::new(),
            a,
            b,
            _dir: dir,
        }
    }

    async fn api(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        support::call_api(&self.http, &self.base, method, path, token, body).await
    }

    /// Posts a signed WhatsApp webhook to one business number.
    async fn whatsapp(&self, business_number: &str, value: Value) -> u16 {
        let mut value = value;
        value["messaging_product"] = "whatsapp".into();
        value["metadata"] =
            json!({"display_phone_number": "15550000000", "phone_number_id": business_number});
        let body = json!({"object": "whatsapp_business_account",
            "entry": [{"id": "4000", "changes": [{"field": "messages", "value": value}]}]})
        .to_string();
        let secret = &self.service.state.providers.settings.app_secret;
        support::post_signed_whatsapp(&self.http, &self.base, secret, body).await
    }

    /// Posts a signed inbound SMS to one business number.
    async fn sms(&self, to: &str, sid: &str, text: &str) -> u16 {
        let settings = &self.service.state.providers.settings;
        let params: Vec<(String, String)> = [
            ("MessageSid", sid),
            ("AccountSid", settings.sms.account_sid.as_str()),
            ("From", CLIENT),
            ("To", to),
            ("Body", text),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let url = format!("{}/webhooks/sms", settings.public_url);
        let signature = twilio_signature(&settings.sms.auth_token, &url, &params);
        self.http
            .post(format!("{}/webhooks/sms", self.base))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("X-Twilio-Signature", signature)
            .body(serde_urlencoded::to_string(&params).unwrap())
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// The number's timeline as the firm's compliance sees it.
    async fn timeline(&self, firm: &Firm) -> Value {
        let (status, timeline) = self
            .api(
                "GET",
                &format!("/compliance/numbers/{}", phone_path(CLIENT)),
                &firm.compliance,
                None,
            )
            .await;
        assert_eq!(status, 200, "{timeline}");
        timeline
    }

    async fn export(&self, firm: &Firm) -> Vec<Value> {
        let text = self
            .http
            .get(format!("{}/api/v1/consent/export?format=jsonl", self.base))
            .bearer_auth(&firm.compliance)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }
}

/// Both firms hold the same client and ask them to opt in; returns each
/// firm's message id at the provider (A's, B's).
async fn both_ask(t: &Tenants) -> (String, String) {
    for firm in [&t.a, &t.b] {
        let (status, contact) = t
            .api(
                "POST",
                "/contacts",
                &firm.advisor,
                Some(json!({"name": "Kerry Fisher", "phone": CLIENT})),
            )
            .await;
        assert_eq!(status, 201, "{contact}");
        let id = contact["id"].as_i64().unwrap();
        let (status, body) = t
            .api(
                "POST",
                &format!("/contacts/{id}/opt-in"),
                &firm.advisor,
                None,
            )
            .await;
        assert_eq!(status, 202, "{body}");
        // One send at a time, so the provider's message ids follow the firms.
        eventually("the request is accepted by the provider", || async {
            let timeline = t.timeline(firm).await;
            match timeline["snapshot"]["state"].as_str() {
                Some("pending") => Ok(()),
                other => Err(format!("{other:?}")),
            }
        })
        .await;
    }
    let calls = t.provider.calls();
    assert_eq!(calls.len(), 2, "one send per firm: {calls:?}");
    assert_eq!(
        calls[0].path, "/v21.0/1111/messages",
        "A sends from its own number"
    );
    assert_eq!(
        calls[1].path, "/v21.0/2222/messages",
        "B sends from its own number"
    );
    ("wamid.FAKE1".into(), "wamid.FAKE2".into())
}

fn kinds(timeline: &Value) -> Vec<String> {
    timeline["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_stop_to_one_firms_number_changes_only_that_firm_and_nothing_crosses() {
    let t = Tenants::start().await;
    let (_, b_message) = both_ask(&t).await;

    // B's delivery status and the client's STOP reach B's number.
    let status = json!({"statuses": [{"id": b_message, "status": "delivered",
        "timestamp": "1764080000", "recipient_id": "447911123456"}]});
    assert_eq!(t.whatsapp(t.b.whatsapp_number, status).await, 200);
    let stop = json!({"messages": [{"from": "447911123456", "id": "wamid.STOP-B",
        "timestamp": "1764080001", "type": "text", "text": {"body": "STOP"}}]});
    assert_eq!(t.whatsapp(t.b.whatsapp_number, stop).await, 200);
    // And an SMS STOP to B's SMS number.
    assert_eq!(t.sms(t.b.sms_number, "SMSTOPB", "STOP").await, 200);

    let b = t.timeline(&t.b).await;
    assert_eq!(b["snapshot"]["state"], "opted_out");
    assert_eq!(b["snapshot"]["sms_opted_out"], true);
    let b_kinds = kinds(&b);
    for kind in ["delivered", "keyword_opt_out", "sms_opt_out"] {
        assert!(
            b_kinds.iter().any(|k| k == kind),
            "B has {kind}: {b_kinds:?}"
        );
    }
    assert!(
        b["messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["body"] == "STOP"),
        "B's conversation holds the STOP"
    );

    let a = t.timeline(&t.a).await;
    assert_eq!(a["snapshot"]["state"], "pending", "A is still waiting: {a}");
    assert_eq!(a["snapshot"]["sms_opted_out"], false);
    assert_eq!(
        kinds(&a),
        ["requested", "provider_accepted"],
        "nothing of B's reached A"
    );
    assert!(
        a["messages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["body"] != "STOP" && m["status"] != "delivered"),
        "A's conversation has neither B's STOP nor B's delivery: {}",
        a["messages"]
    );

    // The STOP confirmation SMS goes out first (its acceptance is recorded
    // asynchronously, and would otherwise land between the exports and the count).
    let pool = t.service.state.store.pool().clone();
    eventually("the outbox settles", || async {
        let open: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM outbox WHERE state IN ('pending', 'claimed', 'unknown')",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        if open == 0 {
            Ok(())
        } else {
            Err(format!("{open} jobs open"))
        }
    })
    .await;

    // Each firm's export is its own events only.
    let (a_export, b_export) = (t.export(&t.a).await, t.export(&t.b).await);
    let a_org = a_export[0]["organization_id"].clone();
    let b_org = b_export[0]["organization_id"].clone();
    assert_ne!(a_org, b_org);
    assert!(a_export.iter().all(|e| e["organization_id"] == a_org));
    assert!(b_export.iter().all(|e| e["organization_id"] == b_org));
    assert_eq!(a_export.len(), 2);
    assert!(a_export.iter().all(|e| e["mode"] == "production"));
    let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM consent_events")
        .fetch_one(t.service.state.store.pool())
        .await
        .unwrap();
    assert_eq!(total as usize, a_export.len() + b_export.len());

    // A's compliance cannot open B's event or B's advisor's contacts.
    let b_event = b["events"][0]["id"].as_i64().unwrap();
    let (status, _) = t
        .api(
            "GET",
            &format!("/compliance/events/{b_event}/raw"),
            &t.a.compliance,
            None,
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_webhook_for_an_unprovisioned_number_is_kept_then_replayed_into_its_new_owner() {
    let t = Tenants::start().await;
    let stop = json!({"messages": [{"from": "447911123456", "id": "wamid.EARLY-STOP",
        "timestamp": "1764080001", "type": "text", "text": {"body": "STOP"}}]});
    assert_eq!(
        t.whatsapp("3333", stop.clone()).await,
        200,
        "acknowledged, never refused"
    );

    // Nobody's yet: neither firm sees it or has the number.
    for firm in [&t.a, &t.b] {
        let (status, kept) = t.api("GET", "/admin/unrouted", &firm.admin_key, None).await;
        assert_eq!((status, kept.as_array().map(Vec::len)), (200, Some(0)));
    }
    let (_, numbers) = t
        .api("GET", "/compliance/numbers", &t.b.compliance, None)
        .await;
    assert_eq!(numbers["total"], 0);

    // B's admin provisions the number; the kept STOP is B's to replay.
    let (status, org) = t
        .api(
            "PATCH",
            "/admin/organization",
            &t.b.admin_key,
            Some(json!({"add_whatsapp_phone_number_ids": ["3333"]})),
        )
        .await;
    assert_eq!(status, 200, "{org}");
    assert_eq!(org["whatsapp_phone_number_ids"], json!(["2222", "3333"]));
    let (_, kept) = t.api("GET", "/admin/unrouted", &t.b.admin_key, None).await;
    assert_eq!(kept.as_array().unwrap().len(), 1, "{kept}");
    assert_eq!(kept[0]["business_number"], "3333");
    let (_, none) = t.api("GET", "/admin/unrouted", &t.a.admin_key, None).await;
    assert_eq!(none, json!([]), "A never sees B's kept webhooks");

    let (status, report) = t
        .api("POST", "/admin/unrouted/replay", &t.b.admin_key, None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(report, json!({"replayed": 1, "still_unrouted": 0}));
    let b = t.timeline(&t.b).await;
    assert_eq!(
        b["snapshot"]["state"], "opted_out",
        "the client's STOP was not lost"
    );
    // The replayed step keeps the signature the webhook came with: it still re-verifies.
    let (raw_body, signature): (String, Option<String>) = sqlx::query_as(
        "SELECT raw_body, signature_header FROM consent_events WHERE kind = 'keyword_opt_out'",
    )
    .fetch_one(t.service.state.store.pool())
    .await
    .unwrap();
    let secret = &t.service.state.providers.settings.app_secret;
    assert!(optin_server::providers::signature::verify_meta_signature(
        secret,
        raw_body.as_bytes(),
        signature.as_deref()
    ));

    // Replaying again, or Meta retrying the same body, applies nothing twice.
    let (_, again) = t
        .api("POST", "/admin/unrouted/replay", &t.b.admin_key, None)
        .await;
    assert_eq!(again["replayed"], 0);
    assert_eq!(t.whatsapp("3333", stop).await, 200);
    let opt_outs = kinds(&t.timeline(&t.b).await)
        .iter()
        .filter(|k| *k == "keyword_opt_out")
        .count();
    assert_eq!(opt_outs, 1);
}

#[tokio::test]
async fn a_number_owned_by_one_firm_is_refused_to_another() {
    let t = Tenants::start().await;
    let (status, body) = t
        .api(
            "PATCH",
            "/admin/organization",
            &t.a.admin_key,
            Some(json!({"add_whatsapp_phone_number_ids": [t.b.whatsapp_number]})),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("number_taken")),
        "{body}"
    );
    let (status, body) = t
        .api(
            "PATCH",
            "/admin/organization",
            &t.a.admin_key,
            Some(json!({"sms_number": "+1 212 736 5002"})),
        )
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (409, Some("sms_number")),
        "{body}"
    );
    for (settings, field) in [
        (
            json!({"add_whatsapp_phone_number_ids": ["12ab"]}),
            "whatsapp_phone_number_id",
        ),
        (json!({"sms_number": "call me"}), "sms_number"),
        (
            json!({"frame_origins": ["https://crm.example.com/path"]}),
            "frame_origins",
        ),
        (json!({"name": "  "}), "name"),
    ] {
        let (status, body) = t
            .api(
                "PATCH",
                "/admin/organization",
                &t.a.admin_key,
                Some(settings),
            )
            .await;
        assert_eq!(
            (status, body["field"].as_str()),
            (422, Some(field)),
            "{body}"
        );
    }
}

#[tokio::test]
async fn an_integration_key_never_mints_an_admin_token() {
    let t = Tenants::start().await;
    let store = &t.service.state.store;
    let org = store.organizations().await.unwrap()[0].id;
    let admin =
        provisioning::create_advisor(store, org, "Ada Admin", Some("crm-admin"), Role::Admin)
            .await
            .unwrap();
    let key = support::integration_key(store, org, "CRM").await;
    for request in [
        json!({"advisor_id": admin}),
        json!({"advisor_external_id": "crm-admin"}),
    ] {
        let (status, body) = t
            .api("POST", "/integrations/advisor-tokens", &key, Some(request))
            .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (404, Some("not_found")),
            "{body}"
        );
    }
    // The compliance officer may be signed in by the CRM like an advisor.
    let (_, people) = t.api("GET", "/admin/advisors", &t.a.admin_key, None).await;
    let officer = people
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["role"] == "compliance")
        .unwrap()["id"]
        .clone();
    let (status, _) = t
        .api(
            "POST",
            "/integrations/advisor-tokens",
            &key,
            Some(json!({"advisor_id": officer})),
        )
        .await;
    assert_eq!(status, 201);
}
