//! Every `/api/v1` route × every way to be refused: no token, an expired
//! token, a revoked token, another advisor's resource and another
//! organization's resource. Each cell asserts the status and the JSON error
//! `code`, nothing is changed by a refused call, and a control call (the
//! right advisor, her own resource) proves each cell hit a real route.
//!
//! Which cases apply where:
//! - routes naming a contact (`/contacts/{id}/...`, and `POST /contacts/open`,
//!   whose body names one by CRM id): all five;
//! - routes without a per-resource id (`/me`, `GET|POST /contacts`,
//!   `/consent/export`, `/templates`, `/events`): no, expired and revoked
//!   token only; what they show is scoped to the caller (the isolation of
//!   their content is tested in `contacts_api.rs` and `events.rs`);
//! - the integration routes (`/integrations/advisor-tokens[/revoke]`), which
//!   take an organization API key: no key, an expired advisor token instead
//!   of a key (keys themselves do not expire), a revoked key, and another
//!   organization's advisor or token; "another advisor's resource" does not
//!   apply (a key acts for every advisor of its organization).

mod support;

use serde_json::{json, Value};
use support::{start, TestService};

const JANES: &str = "+447911123456"; // Kerry Fisher, one of Jane's seeded contacts
const SAMS: &str = "+447911222555";
const OLGAS: &str = "+447911222666";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Case {
    NoToken,
    ExpiredToken,
    RevokedToken,
    OtherAdvisor,
    OtherOrganization,
}

const CASES: [Case; 5] = [
    Case::NoToken,
    Case::ExpiredToken,
    Case::RevokedToken,
    Case::OtherAdvisor,
    Case::OtherOrganization,
];

/// How a route is authorized and what it refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `{id}` in the path is a contact.
    Contact,
    /// The body names a contact (`{ref}` in the body is its CRM id).
    ContactRef,
    /// An advisor route with no resource id.
    Advisor,
    /// An organization API key; `{ref}` in the body is an advisor id or a token.
    Integration,
}

struct Route {
    method: &'static str,
    path: &'static str,
    kind: Kind,
    body: Option<Value>,
}

fn routes() -> Vec<Route> {
    let route = |method, path, kind, body| Route {
        method,
        path,
        kind,
        body,
    };
    use Kind::*;
    vec![
        route("GET", "/me", Advisor, None),
        route("GET", "/contacts", Advisor, None),
        route(
            "POST",
            "/contacts",
            Advisor,
            Some(json!({"name": "Nina New", "phone": "+447911222444"})),
        ),
        route("GET", "/contacts/{id}", Contact, None),
        route(
            "POST",
            "/contacts/open",
            ContactRef,
            Some(json!({"crm_id": "{ref}"})),
        ),
        route("POST", "/contacts/{id}/opt-in", Contact, None),
        route("POST", "/contacts/{id}/opt-in/resend", Contact, None),
        route("GET", "/contacts/{id}/consent", Contact, None),
        route("GET", "/contacts/{id}/consent/record", Contact, None),
        route("GET", "/consent/export", Advisor, None),
        route("GET", "/contacts/{id}/messages", Contact, None),
        route(
            "POST",
            "/contacts/{id}/messages",
            Contact,
            Some(json!({"type": "text", "body": "hi"})),
        ),
        route(
            "POST",
            "/contacts/{id}/sms",
            Contact,
            Some(json!({"body": "hi"})),
        ),
        route("GET", "/templates", Advisor, None),
        route("GET", "/events", Advisor, None),
        route(
            "POST",
            "/integrations/advisor-tokens",
            Integration,
            Some(json!({"advisor_id": "{ref}"})),
        ),
        route(
            "POST",
            "/integrations/advisor-tokens/revoke",
            Integration,
            Some(json!({"token": "{ref}"})),
        ),
    ]
}

/// `(method, path)` of every route the API's route modules declare, read
/// from their source, so a route added without a row here fails the test.
fn declared_routes() -> Vec<(String, String)> {
    support::routes::declared_in(&[
        "me.rs",
        "contacts.rs",
        "consent.rs",
        "messages.rs",
        "events.rs",
        "integrations.rs",
    ])
}

/// Who and what the cells use.
struct World {
    jane_contact: i64,
    sam_contact: i64,
    olga_contact: i64,
    olga_advisor: i64,
    olga_token: String,
    /// A valid token of Jane's, which only the control revokes.
    jane_spare_token: String,
    expired: String,
    revoked: String,
    api_key: String,
    revoked_key: String,
}

async fn world(t: &TestService) -> World {
    let store = &t.service.state.store;
    let pool = store.pool();
    let now = chrono::Utc::now();
    let jane = |ttl: i64| async move {
        store
            .mint_advisor_token(
                1,
                optin_server::store::auth::AdvisorRef::Id(1),
                now + chrono::Duration::seconds(ttl),
            )
            .await
            .unwrap()
            .unwrap()
            .1
    };
    let expired = jane(-1).await;
    let revoked = jane(600).await;
    let jane_spare_token = jane(600).await;
    let api_key = support::integration_key(&store, 1, "CRM").await;
    assert_eq!(t.api("GET", "/me", &revoked, None).await.0, 200);
    let response = t
        .http
        .post(format!(
            "{}/api/v1/integrations/advisor-tokens/revoke",
            t.base
        ))
        .bearer_auth(&api_key)
        .json(&json!({"token": revoked}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let revoked_key = support::integration_key(&store, 1, "Revoked CRM").await;
    sqlx::query(
        "UPDATE api_keys SET revoked_at = '2000-01-01T00:00:00.000Z' WHERE name = 'Revoked CRM'",
    )
    .execute(pool)
    .await
    .unwrap();

    let organization: i64 =
        sqlx::query_scalar("INSERT INTO organizations (name) VALUES ('Other Bank') RETURNING id")
            .fetch_one(pool)
            .await
            .unwrap();
    let olga_advisor: i64 = sqlx::query_scalar(
        "INSERT INTO advisors (organization_id, name) VALUES ($1, 'Olga') RETURNING id",
    )
    .bind(organization)
    .fetch_one(pool)
    .await
    .unwrap();
    let olga_token = "other-organization-token".to_owned();
    store.add_token(olga_advisor, &olga_token).await.unwrap();

    let open = |token: String, phone: &'static str, crm_id: &'static str| async move {
        let (status, contact) = t
            .api(
                "POST",
                "/contacts/open",
                &token,
                Some(json!({"phone": phone, "crm_id": crm_id, "name": "Someone Else"})),
            )
            .await;
        assert_eq!(status, 201, "{contact}");
        contact["id"].as_i64().unwrap()
    };
    World {
        jane_contact: t.contact_id(&t.jane, "Kerry").await,
        sam_contact: open(t.sam.clone(), SAMS, "003SAM").await,
        olga_contact: open(olga_token.clone(), OLGAS, "003OLGA").await,
        olga_advisor,
        olga_token,
        jane_spare_token,
        expired,
        revoked,
        api_key,
        revoked_key,
    }
}

/// The request of one cell: bearer, contact id and `{ref}`.
fn cell(
    t: &TestService,
    w: &World,
    kind: Kind,
    case: Case,
) -> Option<(Option<String>, i64, Value)> {
    use Case::*;
    let bearer = match (kind, case) {
        (_, NoToken) => None,
        (_, ExpiredToken) => Some(w.expired.clone()),
        (Kind::Integration, RevokedToken) => Some(w.revoked_key.clone()),
        (_, RevokedToken) => Some(w.revoked.clone()),
        (Kind::Integration, _) => Some(w.api_key.clone()),
        _ => Some(t.jane.clone()),
    };
    let (contact, reference) = match (kind, case) {
        (Kind::Advisor, OtherAdvisor | OtherOrganization) => return None,
        (Kind::Integration, OtherAdvisor) => return None,
        (Kind::Integration, OtherOrganization) => (0, json!(w.olga_advisor)),
        (_, OtherAdvisor) => (w.sam_contact, json!("003SAM")),
        (_, OtherOrganization) => (w.olga_contact, json!("003OLGA")),
        (Kind::ContactRef, _) => (w.jane_contact, json!("003KERRY")),
        _ => (w.jane_contact, json!(1)),
    };
    Some((bearer, contact, reference))
}

/// `{ref}` in a body replaced by `reference` (the token to revoke for the
/// revoke route: Olga's for another organization, Jane's spare one otherwise).
fn fill(route: &Route, w: &World, case: Case, reference: &Value) -> Option<Value> {
    let body = route.body.as_ref()?;
    let mut body = body.clone();
    for value in body.as_object_mut().unwrap().values_mut() {
        if value == "{ref}" {
            *value = match (route.path.ends_with("/revoke"), case) {
                (true, Case::OtherOrganization) => json!(w.olga_token),
                (true, _) => json!(w.jane_spare_token),
                (false, _) => reference.clone(),
            };
        }
    }
    Some(body)
}

/// Calls a route; returns the status and, for errors, the JSON `code`
/// (the event stream's 200 body never ends, so successes are not read).
async fn call(
    t: &TestService,
    method: &str,
    path: &str,
    bearer: Option<&str>,
    body: Option<Value>,
) -> (u16, Option<String>) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = t.http.request(method, format!("{}/api/v1{path}", t.base));
    if let Some(bearer) = bearer {
        request = request.bearer_auth(bearer);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    if status < 400 {
        return (status, None);
    }
    let body: Value = response.json().await.unwrap_or(Value::Null);
    (status, body["code"].as_str().map(str::to_owned))
}

#[tokio::test]
async fn every_api_route_refuses_missing_expired_and_revoked_tokens_and_others_resources() {
    let mut table: Vec<(String, String)> = routes()
        .iter()
        .map(|r| (r.method.to_owned(), r.path.to_owned()))
        .collect();
    table.sort();
    assert_eq!(table, declared_routes(), "the table covers every API route");

    let t = start().await;
    let w = world(&t).await;
    let count = |sql: &'static str| t.count(sql);
    let before = (
        count("SELECT COUNT(*) FROM contacts").await,
        count("SELECT COUNT(*) FROM outbox").await,
        count("SELECT COUNT(*) FROM messages").await,
        count("SELECT COUNT(*) FROM consent_events").await,
        count("SELECT COUNT(*) FROM advisor_tokens WHERE revoked_at IS NOT NULL").await,
    );

    let mut cells = 0;
    let mut wrong = Vec::new();
    for route in routes() {
        for case in CASES {
            let Some((bearer, contact, reference)) = cell(&t, &w, route.kind, case) else {
                continue;
            };
            let path = route.path.replace("{id}", &contact.to_string());
            let body = fill(&route, &w, case, &reference);
            let got = call(&t, route.method, &path, bearer.as_deref(), body).await;
            let want = match case {
                Case::NoToken | Case::ExpiredToken | Case::RevokedToken => (401, "unauthorized"),
                Case::OtherAdvisor | Case::OtherOrganization => (404, "not_found"),
            };
            cells += 1;
            if (got.0, got.1.as_deref()) != (want.0, Some(want.1)) {
                wrong.push(format!(
                    "{} {} × {case:?}: got {got:?}, want {want:?}",
                    route.method, route.path
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "refusals not as expected:\n{}",
        wrong.join("\n")
    );
    // 8 contact routes and the open route × 5, 6 advisor routes × 3, 2 integration routes × 4.
    assert_eq!(cells, 9 * 5 + 6 * 3 + 2 * 4);

    let after = (
        count("SELECT COUNT(*) FROM contacts").await,
        count("SELECT COUNT(*) FROM outbox").await,
        count("SELECT COUNT(*) FROM messages").await,
        count("SELECT COUNT(*) FROM consent_events").await,
        count("SELECT COUNT(*) FROM advisor_tokens WHERE revoked_at IS NOT NULL").await,
    );
    assert_eq!(after, before, "a refused call changes nothing");
    assert_eq!(
        count("SELECT COUNT(*) FROM contacts WHERE crm_id IN ('003SAM', '003OLGA')").await,
        2,
        "others' contacts keep their CRM ids"
    );
    assert_eq!(t.api("GET", "/me", &w.olga_token, None).await.0, 200);

    // Controls: the same calls by the right advisor on her own contact reach
    // the route (anything but 401 and 404).
    for route in routes() {
        let (bearer, reference) = match route.kind {
            Kind::Integration => (w.api_key.clone(), json!(1)),
            Kind::ContactRef => {
                // Give Kerry a CRM id for the open route to find.
                let (status, _) = t
                    .api(
                        "POST",
                        "/contacts/open",
                        &t.jane,
                        Some(json!({"phone": JANES, "crm_id": "003KERRY"})),
                    )
                    .await;
                assert_eq!(status, 200);
                (t.jane.clone(), json!("003KERRY"))
            }
            _ => (t.jane.clone(), json!(1)),
        };
        let path = route.path.replace("{id}", &w.jane_contact.to_string());
        let body = fill(&route, &w, Case::OtherAdvisor, &reference);
        let (status, code) = call(&t, route.method, &path, Some(&bearer), body).await;
        assert!(
            status != 401 && status != 404,
            "control {} {}: {status} {code:?}",
            route.method,
            route.path
        );
    }
    t.service.stop().await;
}
