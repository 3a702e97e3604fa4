//! Every `/api/v1` route × every way to be refused: no token, an expired
//! token, a revoked token, another advisor's resource, another
//! organization's resource and the wrong role (or key scope). Each cell
//! asserts the status and the JSON error `code`, nothing is changed by a
//! refused call, and a control call (the right caller, their own resource)
//! proves each cell hit a real route.
//!
//! Who may call a route is the extractor its handler takes (`src/auth.rs`):
//! any person, a person with the `advisor` role (the routes that send or
//! change contacts), `compliance` or `admin` (organization-wide reads), an
//! admin-scoped key or an `admin` person (provisioning), or an
//! integration-scoped key.
//!
//! Which cases apply where:
//! - routes naming a contact (`/contacts/{id}/...`, and `POST /contacts/open`,
//!   whose body names one by CRM id): all five token and resource cases;
//! - routes without a per-resource id (`/me`, `GET|POST /contacts`,
//!   `/consent/export`, `/templates`, `/events`, the compliance lists and
//!   chain, the admin routes on the organization itself and its lists):
//!   no, expired and revoked token only; what they show or change is scoped
//!   to the caller or their organization (the isolation of the advisor
//!   routes' content is tested in `contacts_api.rs` and `events.rs`, of the
//!   admin and compliance lists at the end of this test);
//! - the compliance routes naming a number or an event: "another advisor's
//!   resource" does not apply (compliance reads the whole organization, every
//!   advisor's numbers included); another organization's number or event is
//!   404. The expired and revoked tokens are the compliance officer's;
//! - the admin routes naming a person or an API key: "another advisor's"
//!   does not apply (an admin provisions the whole organization); another
//!   organization's person or key is 404. The expired case is an expired
//!   admin-scoped key, the revoked case an admin person's revoked token, so
//!   both ways into the admin routes are refused;
//! - the integration routes (`/integrations/advisor-tokens[/revoke]`), which
//!   take an integration-scoped organization API key: no key, an expired key,
//!   a revoked key, and another organization's advisor or token; "another
//!   advisor's resource" does not apply (a key acts for every advisor of its
//!   organization).
//!
//! The role column (403 with the code naming what is missing):
//! - the routes that send or change contacts: the compliance officer
//!   (`read_only_role`) and an admin person (`advisor_role_required`);
//! - `/consent/export` and the compliance routes: an advisor
//!   (`compliance_role_required`); the compliance writes (a revocation, a
//!   decision on a flagged message) also an admin person;
//! - the admin routes: an advisor and the compliance officer
//!   (`admin_role_required`), an integration-scoped key
//!   (`admin_scope_required`);
//! - the integration routes: an admin-scoped key (`integration_scope_required`);
//! - the routes any person may call (reads of their own contacts, `/me`,
//!   `/templates`, `/events`): none applies.

mod support;

use optin_core::admin::KeyScope;
use optin_core::vocab::Role;
use optin_server::store::auth::AdvisorRef;
use serde_json::{json, Value};
use support::extra::phone_path;
use support::{start_without_outbox_worker, TestService};

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
    WrongRole,
}

const CASES: [Case; 6] = [
    Case::NoToken,
    Case::ExpiredToken,
    Case::RevokedToken,
    Case::OtherAdvisor,
    Case::OtherOrganization,
    Case::WrongRole,
];

/// Who may call a route: the extractor its handler takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Auth {
    /// Any signed-in person (`Advisor`).
    AnyRole,
    /// A person with the `advisor` role (`Sender`).
    Sender,
    /// A person with the `compliance` or `admin` role (`Supervisor`).
    Supervisor,
    /// A person with the `compliance` role (`ComplianceOfficer`): the few
    /// compliance writes (a revocation, a decision on a flagged message).
    Compliance,
    /// An admin-scoped key or a person with the `admin` role (`Admin`).
    Admin,
    /// An integration-scoped key (`Integration`).
    Integration,
}

/// What a route refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// No resource id: the caller's own, or their organization's.
    Own,
    /// `{id}` in the path is a contact.
    Contact,
    /// The body names a contact (`{ref}` in the body is its CRM id).
    ContactRef,
    /// `{phone}` in the path is a number of the organization.
    Number,
    /// `{id}` in the path is a consent-record event.
    Event,
    /// `{id}` in the path is a person of the organization.
    Member,
    /// `{id}` in the path is an API key of the organization.
    Key,
    /// `{id}` in the path is a legal hold of the organization.
    Hold,
    /// `{ref}` in the body is an advisor id or a token of the key's organization.
    Minted,
}

/// A caller of the role column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    Advisor,
    Compliance,
    AdminPerson,
    AdminKey,
    IntegrationKey,
}

/// The callers a route refuses for their role or key scope, with the code.
fn wrong_roles(auth: Auth) -> &'static [(Caller, &'static str)] {
    match auth {
        Auth::AnyRole => &[],
        Auth::Sender => &[
            (Caller::Compliance, "read_only_role"),
            (Caller::AdminPerson, "advisor_role_required"),
        ],
        Auth::Supervisor => &[(Caller::Advisor, "compliance_role_required")],
        Auth::Compliance => &[
            (Caller::Advisor, "compliance_role_required"),
            (Caller::AdminPerson, "compliance_role_required"),
        ],
        Auth::Admin => &[
            (Caller::Advisor, "admin_role_required"),
            (Caller::Compliance, "admin_role_required"),
            (Caller::IntegrationKey, "admin_scope_required"),
        ],
        Auth::Integration => &[(Caller::AdminKey, "integration_scope_required")],
    }
}

struct Route {
    method: &'static str,
    path: &'static str,
    auth: Auth,
    kind: Kind,
    body: Option<Value>,
}

fn routes() -> Vec<Route> {
    let route = |method, path, auth, kind, body| Route {
        method,
        path,
        auth,
        kind,
        body,
    };
    use Auth::*;
    use Kind::*;
    vec![
        route("GET", "/me", AnyRole, Own, None),
        route("GET", "/contacts", AnyRole, Own, None),
        route(
            "POST",
            "/contacts",
            Sender,
            Own,
            Some(json!({"name": "Nina New", "phone": "+447911222444"})),
        ),
        route("GET", "/contacts/{id}", AnyRole, Contact, None),
        route(
            "PATCH",
            "/contacts/{id}",
            Sender,
            Contact,
            Some(json!({"language": "es"})),
        ),
        route(
            "POST",
            "/contacts/open",
            Sender,
            ContactRef,
            Some(json!({"crm_id": "{ref}"})),
        ),
        route("POST", "/contacts/{id}/opt-in", Sender, Contact, None),
        route(
            "POST",
            "/contacts/{id}/opt-in/resend",
            Sender,
            Contact,
            None,
        ),
        route(
            "GET",
            "/contacts/{id}/opt-in/preview",
            AnyRole,
            Contact,
            None,
        ),
        route("GET", "/contacts/{id}/consent", AnyRole, Contact, None),
        route(
            "GET",
            "/contacts/{id}/consent/record",
            AnyRole,
            Contact,
            None,
        ),
        route("GET", "/consent/export", Supervisor, Own, None),
        route("GET", "/contacts/{id}/messages", AnyRole, Contact, None),
        route(
            "POST",
            "/contacts/{id}/messages",
            Sender,
            Contact,
            Some(json!({"type": "text", "body": "hi"})),
        ),
        route(
            "POST",
            "/contacts/{id}/sms",
            Sender,
            Contact,
            Some(json!({"body": "hi"})),
        ),
        route("GET", "/templates", AnyRole, Own, None),
        route("GET", "/events", AnyRole, Own, None),
        route(
            "POST",
            "/integrations/advisor-tokens",
            Integration,
            Minted,
            Some(json!({"advisor_id": "{ref}"})),
        ),
        route(
            "POST",
            "/integrations/advisor-tokens/revoke",
            Integration,
            Minted,
            Some(json!({"token": "{ref}"})),
        ),
        route("GET", "/compliance/numbers", Supervisor, Own, None),
        route(
            "GET",
            "/compliance/numbers/{phone}",
            Supervisor,
            Number,
            None,
        ),
        route(
            "GET",
            "/compliance/numbers/{phone}/record",
            Supervisor,
            Number,
            None,
        ),
        route(
            "GET",
            "/compliance/numbers/{phone}/bundle",
            Supervisor,
            Number,
            None,
        ),
        route(
            "GET",
            "/compliance/events/{id}/raw",
            Supervisor,
            Event,
            None,
        ),
        route("GET", "/compliance/chain", Supervisor, Own, None),
        route("GET", "/compliance/advisors", Supervisor, Own, None),
        route("GET", "/compliance/reviews", Supervisor, Own, None),
        route("GET", "/compliance/archive", Supervisor, Own, None),
        route("GET", "/compliance/stop-flags", Supervisor, Own, None),
        route("GET", "/compliance/access-log", Supervisor, Own, None),
        route("GET", "/compliance/holds", Supervisor, Own, None),
        route(
            "POST",
            "/compliance/holds",
            Compliance,
            Own,
            Some(json!({"reason": "Matter 1"})),
        ),
        route(
            "POST",
            "/compliance/holds/{id}/release",
            Compliance,
            Hold,
            None,
        ),
        route(
            "POST",
            "/contacts/{id}/revocations",
            Sender,
            Contact,
            Some(json!({"channel": "phone", "given_at": "2026-01-01T00:00:00Z"})),
        ),
        route(
            "POST",
            "/contacts/{id}/stop-flags/resolve",
            Sender,
            Contact,
            Some(json!({"flag_id": 1, "decision": "not_a_revocation"})),
        ),
        route(
            "POST",
            "/compliance/numbers/{phone}/revocations",
            Compliance,
            Number,
            Some(json!({"channel": "email", "given_at": "2026-01-01T00:00:00Z"})),
        ),
        route(
            "POST",
            "/compliance/numbers/{phone}/stop-flags/resolve",
            Compliance,
            Number,
            Some(json!({"flag_id": 1, "decision": "not_a_revocation"})),
        ),
        route("GET", "/admin/organization", Admin, Own, None),
        route(
            "PATCH",
            "/admin/organization",
            Admin,
            Own,
            Some(json!({"frame_origins": ["https://crm.example.com"]})),
        ),
        route("GET", "/admin/advisors", Admin, Own, None),
        route(
            "POST",
            "/admin/advisors",
            Admin,
            Own,
            Some(json!({"name": "Nora New", "role": "advisor"})),
        ),
        route("POST", "/admin/advisors/{id}/disable", Admin, Member, None),
        route("GET", "/admin/api-keys", Admin, Own, None),
        route(
            "POST",
            "/admin/api-keys",
            Admin,
            Own,
            Some(json!({"name": "New CRM", "scope": "integration"})),
        ),
        route(
            "POST",
            "/admin/api-keys/{id}/expire",
            Admin,
            Key,
            Some(json!({})),
        ),
        route("POST", "/admin/api-keys/{id}/revoke", Admin, Key, None),
        route("GET", "/admin/unrouted", Admin, Own, None),
        route("POST", "/admin/unrouted/replay", Admin, Own, None),
        route(
            "POST",
            "/admin/templates",
            Admin,
            Own,
            Some(
                json!({"name": "advisor_opt_in", "language": "fr", "purpose": "opt_in",
                        "body": "Bonjour ! {{1}} de {{2}} souhaite vous écrire. D'accord ?"}),
            ),
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
        "revocations.rs",
        "events.rs",
        "integrations.rs",
        "compliance.rs",
        "holds.rs",
        "admin.rs",
    ])
}

/// Who and what the cells use.
struct World {
    /// A legal hold of Jane's organization, and one of Olga's.
    jane_hold: i64,
    olga_hold: i64,
    jane_contact: i64,
    sam_contact: i64,
    olga_contact: i64,
    olga_advisor: i64,
    olga_token: String,
    /// An API key of Olga's organization.
    olga_key: i64,
    /// A consent-record event of Jane's organization, and one of Olga's.
    jane_event: i64,
    olga_event: i64,
    /// A valid token of Jane's, which only the control revokes.
    jane_spare_token: String,
    expired: String,
    revoked: String,
    compliance_expired: String,
    compliance_revoked: String,
    /// A person with the `admin` role in Jane's organization, and a revoked token of theirs.
    admin_token: String,
    admin_revoked: String,
    admin_key: String,
    admin_expired_key: String,
    api_key: String,
    expired_key: String,
    revoked_key: String,
    /// A person and an API key of Jane's organization that only the controls disable and revoke.
    spare_person: i64,
    spare_key: i64,
}

async fn world(t: &TestService) -> World {
    let store = &t.service.state.store;
    let pool = store.pool();
    let now = chrono::Utc::now();
    let mint = |advisor: i64, ttl: i64| async move {
        store
            .mint_advisor_token(
                1,
                AdvisorRef::Id(advisor),
                now + chrono::Duration::seconds(ttl),
            )
            .await
            .unwrap()
            .unwrap()
            .1
    };
    let expired = mint(1, -1).await;
    let revoked = mint(1, 600).await;
    let jane_spare_token = mint(1, 600).await;
    let api_key = support::integration_key(store, 1, "CRM").await;
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
    let revoked_key = support::integration_key(store, 1, "Revoked CRM").await;
    sqlx::query(
        "UPDATE api_keys SET revoked_at = '2000-01-01T00:00:00.000Z' WHERE name = 'Revoked CRM'",
    )
    .execute(pool)
    .await
    .unwrap();
    let key = |name: &'static str, scope, expires_at| async move {
        store
            .create_api_key(1, name, scope, expires_at, now)
            .await
            .unwrap()
    };
    let an_hour_ago = Some(now - chrono::Duration::hours(1));
    let expired_key = key("Expired CRM", KeyScope::Integration, an_hour_ago)
        .await
        .0;
    let admin_key = key("Provisioning", KeyScope::Admin, None).await.0;
    let admin_expired_key = key("Expired provisioning", KeyScope::Admin, an_hour_ago)
        .await
        .0;
    let spare_key = key("Spare CRM", KeyScope::Integration, None).await.1.id;

    // The compliance officer (the demo's third person) and an admin.
    let compliance: i64 = sqlx::query_scalar(
        "SELECT id FROM advisors WHERE organization_id = 1 AND role = 'compliance'",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    let compliance_expired = mint(compliance, -1).await;
    let compliance_revoked = mint(compliance, 600).await;
    assert!(store
        .revoke_token(1, &compliance_revoked, now)
        .await
        .unwrap());
    let person = |name: &'static str, role| async move {
        store
            .create_advisor(1, name, None, role)
            .await
            .unwrap()
            .unwrap()
    };
    let admin = person("Ada Admin", Role::Admin).await;
    let admin_token = "admin-person-token".to_owned();
    store.add_token(admin, &admin_token).await.unwrap();
    // Integration keys never mint admin tokens: this one is stored directly.
    let admin_revoked = "admin-person-revoked-token".to_owned();
    store.add_token(admin, &admin_revoked).await.unwrap();
    assert!(store.revoke_token(1, &admin_revoked, now).await.unwrap());
    let spare_person = person("Spare Person", Role::Advisor).await;

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
    let olga_key = store
        .create_api_key(organization, "Other CRM", KeyScope::Admin, None, now)
        .await
        .unwrap()
        .1
        .id;
    // A step of the other organization's record (its chain is not checked here).
    let olga_event: i64 = sqlx::query_scalar(
        "INSERT INTO consent_events (organization_id, seq, phone_e164, kind, cause,
             received_at, detail_json, prev_hash, hash, mode)
         VALUES ($1, 1, $2, 'requested', 'advisor', '2026-01-01T00:00:00.000Z', '{}',
             'genesis', 'olga', 'sandbox')
         RETURNING id",
    )
    .bind(organization)
    .bind(OLGAS)
    .fetch_one(pool)
    .await
    .unwrap();

    // A legal hold of each organization (the release route's).
    let hold = |organization: i64, by: i64| async move {
        store
            .place_legal_hold(organization, None, "Matter", by, now)
            .await
            .unwrap()
    };

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
    // A flagged message on Kerry's number (the resolve routes' flag 1).
    let flag: i64 = sqlx::query_scalar(
        "INSERT INTO stop_flags (organization_id, phone_e164, channel, text, flagged_at)
         VALUES (1, $1, 'whatsapp', 'please stop texting me', '2026-01-01T00:00:00.000Z')
         RETURNING id",
    )
    .bind(JANES)
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(flag, 1);
    // A step of Jane's organization's record: her opt-in request to another contact.
    let amara = t.contact_id(&t.jane, "Amara").await;
    let (status, body) = t
        .api("POST", &format!("/contacts/{amara}/opt-in"), &t.jane, None)
        .await;
    assert_eq!(status, 202, "{body}");
    let jane_event: i64 =
        sqlx::query_scalar("SELECT MAX(id) FROM consent_events WHERE organization_id = 1")
            .fetch_one(pool)
            .await
            .unwrap();
    World {
        jane_contact: t.contact_id(&t.jane, "Kerry").await,
        sam_contact: open(t.sam.clone(), SAMS, "003SAM").await,
        olga_contact: open(olga_token.clone(), OLGAS, "003OLGA").await,
        olga_advisor,
        olga_token,
        olga_key,
        jane_event,
        olga_event,
        jane_hold: hold(1, compliance).await,
        olga_hold: hold(organization, olga_advisor).await,
        jane_spare_token,
        expired,
        revoked,
        compliance_expired,
        compliance_revoked,
        admin_token,
        admin_revoked,
        admin_key,
        admin_expired_key,
        api_key,
        expired_key,
        revoked_key,
        spare_person,
        spare_key,
    }
}

/// The token of a caller of the role column.
fn token_of(t: &TestService, w: &World, caller: Caller) -> String {
    match caller {
        Caller::Advisor => t.jane.clone(),
        Caller::Compliance => t.compliance.clone(),
        Caller::AdminPerson => w.admin_token.clone(),
        Caller::AdminKey => w.admin_key.clone(),
        Caller::IntegrationKey => w.api_key.clone(),
    }
}

/// The callers a route answers: the controls call it as each.
fn rightful(t: &TestService, w: &World, auth: Auth) -> Vec<String> {
    match auth {
        Auth::AnyRole | Auth::Sender => vec![t.jane.clone()],
        Auth::Supervisor => vec![t.compliance.clone(), w.admin_token.clone()],
        Auth::Compliance => vec![t.compliance.clone()],
        Auth::Admin => vec![w.admin_key.clone(), w.admin_token.clone()],
        Auth::Integration => vec![w.api_key.clone()],
    }
}

/// What `{id}` or `{phone}` of the path and `{ref}` of the body stand for:
/// the caller's own resource, or another advisor's or organization's
/// (`None` where that case does not apply).
fn target(w: &World, kind: Kind, case: Case) -> Option<(String, Value)> {
    use Case::*;
    let id = |id: i64| Some((id.to_string(), Value::Null));
    let phone = |phone: &str| Some((phone_path(phone), Value::Null));
    let reference = |reference: Value| Some((String::new(), reference));
    match (kind, case) {
        (Kind::Own, OtherAdvisor | OtherOrganization) => None,
        (Kind::Own, _) => reference(Value::Null),
        (Kind::Contact, OtherAdvisor) => id(w.sam_contact),
        (Kind::Contact, OtherOrganization) => id(w.olga_contact),
        (Kind::Contact, _) => id(w.jane_contact),
        (Kind::ContactRef, OtherAdvisor) => reference(json!("003SAM")),
        (Kind::ContactRef, OtherOrganization) => reference(json!("003OLGA")),
        (Kind::ContactRef, _) => reference(json!("003KERRY")),
        (
            Kind::Number | Kind::Event | Kind::Member | Kind::Key | Kind::Hold | Kind::Minted,
            OtherAdvisor,
        ) => None,
        (Kind::Number, OtherOrganization) => phone(OLGAS),
        (Kind::Number, _) => phone(JANES),
        (Kind::Event, OtherOrganization) => id(w.olga_event),
        (Kind::Event, _) => id(w.jane_event),
        (Kind::Member, OtherOrganization) => id(w.olga_advisor),
        (Kind::Member, _) => id(w.spare_person),
        (Kind::Key, OtherOrganization) => id(w.olga_key),
        (Kind::Key, _) => id(w.spare_key),
        (Kind::Hold, OtherOrganization) => id(w.olga_hold),
        (Kind::Hold, _) => id(w.jane_hold),
        (Kind::Minted, OtherOrganization) => reference(json!(w.olga_advisor)),
        (Kind::Minted, _) => reference(json!(1)),
    }
}

/// One request of the table and the refusal it must get.
struct Cell {
    bearer: Option<String>,
    target: String,
    reference: Value,
    want: (u16, &'static str),
}

/// The cells of a route × case: none where the case does not apply, one
/// per refused caller in the role column, one otherwise.
fn cells(t: &TestService, w: &World, route: &Route, case: Case) -> Vec<Cell> {
    use Case::*;
    let Some((target, reference)) = target(w, route.kind, case) else {
        return Vec::new();
    };
    let cell = |bearer: Option<String>, want| Cell {
        bearer,
        target: target.clone(),
        reference: reference.clone(),
        want,
    };
    let unauthorized = (401, "unauthorized");
    let (expired, revoked) = match route.auth {
        Auth::AnyRole | Auth::Sender => (&w.expired, &w.revoked),
        Auth::Supervisor | Auth::Compliance => (&w.compliance_expired, &w.compliance_revoked),
        Auth::Admin => (&w.admin_expired_key, &w.admin_revoked),
        Auth::Integration => (&w.expired_key, &w.revoked_key),
    };
    match case {
        NoToken => vec![cell(None, unauthorized)],
        ExpiredToken => vec![cell(Some(expired.clone()), unauthorized)],
        RevokedToken => vec![cell(Some(revoked.clone()), unauthorized)],
        OtherAdvisor | OtherOrganization => {
            // The rightful caller (the admin routes: by the admin-scoped key).
            let bearer = rightful(t, w, route.auth).swap_remove(0);
            vec![cell(Some(bearer), (404, "not_found"))]
        }
        WrongRole => wrong_roles(route.auth)
            .iter()
            .map(|&(caller, code)| cell(Some(token_of(t, w, caller)), (403, code)))
            .collect(),
    }
}

/// `{ref}` in a body replaced by `reference` (the token to revoke for the
/// revoke route: Olga's for another organization, Jane's spare one otherwise).
fn fill(route: &Route, w: &World, case: Case, reference: &Value) -> Option<Value> {
    let body = route.body.as_ref()?;
    let mut body = body.clone();
    for value in body.as_object_mut().unwrap().values_mut() {
        if value == "{ref}" {
            let revoke = route.kind == Kind::Minted && route.path.ends_with("/revoke");
            *value = match (revoke, case) {
                (true, Case::OtherOrganization) => json!(w.olga_token),
                (true, _) => json!(w.jane_spare_token),
                (false, _) => reference.clone(),
            };
        }
    }
    Some(body)
}

/// The path with `{id}` or `{phone}` replaced by `target`.
fn path(route: &Route, target: &str) -> String {
    route
        .path
        .replace("{id}", target)
        .replace("{phone}", target)
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

/// What the routes can write, as text: a refused call leaves all of it as it was.
async fn stored(t: &TestService) -> Vec<(&'static str, Option<String>)> {
    let mut state = Vec::new();
    for sql in [
        "SELECT string_agg(id || ':' || COALESCE(crm_id, '') || ':' || COALESCE(language, ''), ',' ORDER BY id)
         FROM contacts",
        "SELECT COUNT(*) || '' FROM templates",
        "SELECT COUNT(*) || '' FROM outbox",
        "SELECT COUNT(*) || '' FROM messages",
        "SELECT COUNT(*) || '' FROM consent_events",
        "SELECT COUNT(*) || '/' || COUNT(revoked_at) FROM advisor_tokens",
        "SELECT string_agg(id || ':' || name || ':' || role || ':' || COALESCE(disabled_at, ''), ',' ORDER BY id)
         FROM advisors",
        "SELECT string_agg(id || ':' || scope || ':' || COALESCE(expires_at, '') || ':'
             || COALESCE(revoked_at, ''), ',' ORDER BY id) FROM api_keys",
        "SELECT string_agg(id || ':' || name || ':' || frame_origins || ':'
             || COALESCE(sms_number, '') || ':' || COALESCE(whatsapp_business_account_id, ''), ',' ORDER BY id)
         FROM organizations",
        "SELECT COUNT(*) || '' FROM whatsapp_numbers",
        "SELECT COUNT(replayed_at) || '' FROM webhook_reviews",
        "SELECT COUNT(*) || '/' || COUNT(decided_at) FROM stop_flags",
        "SELECT COUNT(*) || '' FROM revocations",
        "SELECT COUNT(*) || '' FROM legal_holds WHERE released_at IS NULL",
    ] {
        let value: Option<String> = sqlx::query_scalar(sql)
            .fetch_one(t.service.state.store.pool())
            .await
            .unwrap();
        state.push((sql, value));
    }
    state
}

#[tokio::test]
async fn every_api_route_refuses_bad_tokens_others_resources_and_wrong_roles() {
    let mut table: Vec<(String, String)> = routes()
        .iter()
        .map(|r| (r.method.to_owned(), r.path.to_owned()))
        .collect();
    table.sort();
    assert_eq!(table, declared_routes(), "the table covers every API route");

    // Without the outbox worker: what the world and the controls queue stays
    // queued, so nothing but the calls changes what is stored.
    let t = start_without_outbox_worker().await;
    let w = world(&t).await;
    let before = stored(&t).await;

    let mut cells_called = 0;
    let mut wrong = Vec::new();
    for route in routes() {
        for case in CASES {
            for cell in cells(&t, &w, &route, case) {
                let body = fill(&route, &w, case, &cell.reference);
                let got = call(
                    &t,
                    route.method,
                    &path(&route, &cell.target),
                    cell.bearer.as_deref(),
                    body,
                )
                .await;
                cells_called += 1;
                if (got.0, got.1.as_deref()) != (cell.want.0, Some(cell.want.1)) {
                    wrong.push(format!(
                        "{} {} × {case:?}: got {got:?}, want {:?}",
                        route.method, route.path, cell.want
                    ));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "refusals not as expected:\n{}",
        wrong.join("\n")
    );
    // Any person: 4 routes without an id × 3, 5 on a contact × 5.
    // Sending: POST /contacts × (3 + 2 roles), the open route and 7 on a contact × (5 + 2).
    // Compliance (and the export): 9 without an id × (3 + 1), 3 on a number and the
    // raw event × (3 + 1 + 1); its writes, a hold × (3 + 2), 2 on a number and a
    // hold's release × (3 + 1 + 2). Admin: 9
    // without an id × (3 + 3), 1 on a person and 2 on a key × (3 + 1 + 3).
    // Integration: 2 × (3 + 1 + 1).
    assert_eq!(
        cells_called,
        4 * 3
            + 5 * 5
            + (3 + 2)
            + 8 * (5 + 2)
            + 9 * (3 + 1)
            + 4 * (3 + 1 + 1)
            + (3 + 2)
            + 3 * (3 + 1 + 2)
            + 9 * (3 + 3)
            + 3 * (3 + 1 + 3)
            + 2 * (3 + 1 + 1)
    );

    let after = stored(&t).await;
    assert_eq!(after, before, "a refused call changes nothing");
    assert_eq!(
        t.count("SELECT COUNT(*) FROM contacts WHERE crm_id IN ('003SAM', '003OLGA')")
            .await,
        2,
        "others' contacts keep their CRM ids"
    );
    assert_eq!(t.api("GET", "/me", &w.olga_token, None).await.0, 200);

    // Controls: the same calls by the rightful callers on their own
    // resources reach the route (anything but 401, 403 and 404).
    for route in routes() {
        let (target, reference) = target(&w, route.kind, Case::NoToken).unwrap();
        if route.kind == Kind::ContactRef {
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
        }
        for bearer in rightful(&t, &w, route.auth) {
            let body = fill(&route, &w, Case::NoToken, &reference);
            let (status, code) = call(
                &t,
                route.method,
                &path(&route, &target),
                Some(&bearer),
                body,
            )
            .await;
            assert!(
                ![401, 403, 404].contains(&status),
                "control {} {}: {status} {code:?}",
                route.method,
                route.path
            );
        }
    }

    // What the admin and compliance lists show is the caller's organization's only.
    let ids = |list: &Value| -> Vec<i64> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|item| item["id"].as_i64().unwrap())
            .collect()
    };
    let (_, people) = t.api("GET", "/admin/advisors", &w.admin_key, None).await;
    assert!(!ids(&people).contains(&w.olga_advisor), "{people}");
    let (_, people) = t
        .api("GET", "/compliance/advisors", &t.compliance, None)
        .await;
    assert!(!ids(&people).contains(&w.olga_advisor), "{people}");
    let (_, keys) = t.api("GET", "/admin/api-keys", &w.admin_token, None).await;
    assert!(!ids(&keys).contains(&w.olga_key), "{keys}");
    let (_, page) = t
        .api("GET", "/compliance/numbers?limit=200", &t.compliance, None)
        .await;
    let numbers: Vec<&str> = page["numbers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|number| number["phone"].as_str().unwrap())
        .collect();
    assert!(
        numbers.contains(&JANES) && numbers.contains(&SAMS) && !numbers.contains(&OLGAS),
        "{numbers:?}"
    );
    t.service.stop().await;
}
