//! The contacts API through the whole router (no socket): auth, validation,
//! error shape and per-advisor isolation.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt;
mod support;

use optin_server::store::seed::DemoAdvisor;
use optin_server::{app, AppState};
use serde_json::{json, Value};
use tower::ServiceExt;

struct Harness {
    router: axum::Router,
    jane: String,
    sam: String,
    _dir: tempfile::TempDir,
}

async fn harness() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let config = support::test_config(dir.path().to_path_buf());
    let store = support::open_store(&config.database_path(), optin_core::vocab::Mode::Sandbox)
        .await
        .unwrap();
    let advisors: Vec<DemoAdvisor> = store.seed_demo().await.unwrap().unwrap();
    let state = AppState::new(store, config, ([127, 0, 0, 1], 9).into()).unwrap();
    Harness {
        router: app(state),
        jane: advisors[0].token.clone(),
        sam: advisors[1].token.clone(),
        _dir: dir,
    }
}

impl Harness {
    async fn call(
        &self,
        method: &str,
        uri: &str,
        token: Option<&str>,
        body: Option<Body>,
    ) -> (StatusCode, Value) {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        if body.is_some() {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        let request = request.body(body.unwrap_or_else(Body::empty)).unwrap();
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    async fn post_contact(&self, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(
            "POST",
            "/api/v1/contacts",
            Some(token),
            Some(Body::from(body.to_string())),
        )
        .await
    }
}

#[tokio::test]
async fn every_api_call_needs_a_valid_bearer_token() {
    let h = harness().await;
    let (status, body) = h.call("GET", "/api/v1/contacts", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "unauthorized");
    let (status, _) = h
        .call("GET", "/api/v1/contacts", Some("not-a-token"), None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = h.call("GET", "/api/v1/me", Some(&h.jane), None).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn seeded_contacts_are_listed_by_name_and_searchable_by_name_or_number() {
    let h = harness().await;
    let (status, page) = h.call("GET", "/api/v1/contacts", Some(&h.jane), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["total"], 12);
    assert_eq!(page["items"][0]["name"], "Amara Okafor");
    let (_, page) = h
        .call("GET", "/api/v1/contacts?q=kERRy", Some(&h.jane), None)
        .await;
    assert_eq!(page["total"], 1);
    assert_eq!(page["items"][0]["phone"], "+447911123456");
    let (_, page) = h
        .call("GET", "/api/v1/contacts?q=%2B49%20151", Some(&h.jane), None)
        .await;
    assert_eq!(page["items"][0]["name"], "Tom Becker");
    let (_, page) = h
        .call("GET", "/api/v1/contacts?q=%25", Some(&h.jane), None)
        .await;
    assert_eq!(
        page["total"], 0,
        "a % in a search is literal, not a wildcard"
    );
}

#[tokio::test]
async fn the_search_finds_exactly_what_the_apps_instant_filter_finds() {
    use optin_core::search::ContactQuery;
    let h = harness().await;
    for (i, name) in [
        "Zoë Martin",
        "ZOË Hart",
        "Ana_Maria Díaz",
        "Émile Roux",
        "50% Off Ltd",
        "Unit 7 Ltd",
    ]
    .into_iter()
    .enumerate()
    {
        let phone = format!("+44 7700 1{:05}", 4700 + i);
        let (status, _) = h
            .post_contact(&h.jane, json!({ "name": name, "phone": phone }))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{name}");
    }
    let (_, all) = h
        .call("GET", "/api/v1/contacts?limit=200", Some(&h.jane), None)
        .await;
    let all = all["items"].as_array().unwrap().clone();
    for typed in [
        "zoë",
        "ZO",
        "a_m",
        "%",
        "émile",
        "É",
        " fisher ",
        "+44 7700 1",
        "7",
        "unit 7",
        "+",
        "0047",
    ] {
        let query = ContactQuery::new(typed);
        let filtered: Vec<&Value> = all
            .iter()
            .filter(|c| query.matches(c["name"].as_str().unwrap(), c["phone"].as_str().unwrap()))
            .collect();
        let uri = format!("/api/v1/contacts?limit=200&q={}", urlencoding(typed));
        let (_, found) = h.call("GET", &uri, Some(&h.jane), None).await;
        let found: Vec<&Value> = found["items"].as_array().unwrap().iter().collect();
        assert_eq!(found, filtered, "searching {typed:?}");
    }
}

/// Percent-encodes every byte outside unreserved ASCII.
fn urlencoding(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn contacts_are_paged() {
    let h = harness().await;
    let (_, first) = h
        .call("GET", "/api/v1/contacts?limit=5", Some(&h.jane), None)
        .await;
    assert_eq!(first["items"].as_array().unwrap().len(), 5);
    assert_eq!(first["next_offset"], 5);
    let (_, last) = h
        .call(
            "GET",
            "/api/v1/contacts?limit=5&offset=10",
            Some(&h.jane),
            None,
        )
        .await;
    assert_eq!(last["items"].as_array().unwrap().len(), 2);
    assert!(last.get("next_offset").is_none());
}

#[tokio::test]
async fn a_new_contact_is_stored_in_e164() {
    let h = harness().await;
    let (status, contact) = h
        .post_contact(
            &h.jane,
            json!({"name": " Ravi Patel ", "phone": "0044 7911 222333"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(contact["name"], "Ravi Patel");
    assert_eq!(contact["phone"], "+447911222333");
    let uri = format!("/api/v1/contacts/{}", contact["id"]);
    let (status, fetched) = h.call("GET", &uri, Some(&h.jane), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fetched, contact);
}

#[tokio::test]
async fn bad_input_gets_a_field_error() {
    let h = harness().await;
    let (status, body) = h
        .post_contact(&h.jane, json!({"name": "X", "phone": "12"}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        (body["code"].as_str(), body["field"].as_str()),
        (Some("invalid_phone"), Some("phone"))
    );
    let (status, body) = h
        .post_contact(&h.jane, json!({"name": "  ", "phone": "+447911222333"}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["field"], "name");
    let (status, body) = h
        .post_contact(
            &h.jane,
            json!({"name": "Again", "phone": "+44 7911 123456"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        (body["code"].as_str(), body["field"].as_str()),
        (Some("duplicate_phone"), Some("phone"))
    );
}

#[tokio::test]
async fn malformed_and_oversized_bodies_are_refused_in_the_error_shape() {
    let h = harness().await;
    let (status, body) = h
        .call(
            "POST",
            "/api/v1/contacts",
            Some(&h.jane),
            Some(Body::from("{\"name\": ")),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["code"], "malformed_body");
    let (status, body) = h.post_contact(&h.jane, json!({"name": "No phone"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["code"], "malformed_body");
    assert!(body["message"].as_str().unwrap().contains("phone"));
    let huge = json!({"name": "x".repeat(20_000), "phone": "+447911222333"});
    let (status, body) = h.post_contact(&h.jane, huge).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body["code"], "payload_too_large");
}

#[tokio::test]
async fn an_advisor_cannot_read_or_list_another_advisors_contacts() {
    let h = harness().await;
    let (_, sams) = h.call("GET", "/api/v1/contacts", Some(&h.sam), None).await;
    let sams_contact = sams["items"][0]["id"].as_i64().unwrap();
    let (status, body) = h
        .call(
            "GET",
            &format!("/api/v1/contacts/{sams_contact}"),
            Some(&h.jane),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], "not_found");
    let (_, janes) = h
        .call("GET", "/api/v1/contacts?q=Grace", Some(&h.jane), None)
        .await;
    assert_eq!(janes["total"], 0);
}

#[tokio::test]
async fn the_demo_is_seeded_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite3");
    let store = support::open_store(&path, optin_core::vocab::Mode::Sandbox)
        .await
        .unwrap();
    assert!(store.seed_demo().await.unwrap().is_some());
    drop(store);
    let reopened = support::open_store(&path, optin_core::vocab::Mode::Sandbox)
        .await
        .unwrap();
    assert!(reopened.seed_demo().await.unwrap().is_none());
}
