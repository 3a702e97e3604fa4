//! The live event stream: organization-scoped, resumable with Last-Event-ID.

mod support;

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::json;
use support::{envelope, start, TestService};

/// Opens the stream; once the headers are in, the service has subscribed.
async fn connect(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    last_event_id: Option<i64>,
) -> reqwest::Response {
    let mut request = http.get(format!("{base}/api/v1/events")).bearer_auth(token);
    if let Some(id) = last_event_id {
        request = request.header("Last-Event-ID", id.to_string());
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    response
}

/// Reads SSE `data:` payloads until `done` holds for them (or a timeout).
async fn read_until(
    response: reqwest::Response,
    done: impl Fn(&[serde_json::Value]) -> bool,
) -> Vec<serde_json::Value> {
    let mut stream = response.bytes_stream();
    let mut buffer = String::new();
    let mut events = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !done(&events) {
        let chunk = tokio::time::timeout_at(deadline, stream.next()).await;
        let Ok(Some(Ok(chunk))) = chunk else { break };
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            if let Some(data) = block.lines().find_map(|l| l.strip_prefix("data:")) {
                events.push(serde_json::from_str(data.trim()).unwrap());
            }
        }
    }
    events
}

fn has(kind: &'static str) -> impl Fn(&[serde_json::Value]) -> bool {
    move |events| events.iter().any(|e| e["kind"] == kind)
}

/// Reads SSE `data:` payloads until `count` arrived (or a timeout).
async fn read_events(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    last_event_id: Option<i64>,
    count: usize,
) -> Vec<serde_json::Value> {
    let response = connect(http, base, token, last_event_id).await;
    read_until(response, |events| events.len() >= count).await
}

async fn say(t: &TestService, id: &str, text: &str) {
    let body = envelope(json!({
        "messages": [{"from": "447911123456", "id": id, "timestamp": "1764080000", "type": "text", "text": {"body": text}}]
    }));
    assert_eq!(t.signed_whatsapp_webhook(&body).await, 200);
}

#[tokio::test]
async fn live_events_reach_the_organization_and_resume_from_last_event_id() {
    let t = start().await;
    let stream = connect(&t.http, &t.base, &t.jane, None).await;
    say(&t, "wamid.LIVE1", "stop").await;
    let live = read_until(stream, has("keyword_opt_out")).await;
    let opt_out = live
        .iter()
        .find(|e| e["kind"] == "keyword_opt_out")
        .expect("the opt-out arrived live");
    assert_eq!(opt_out["phone"], "+447911123456");
    assert_eq!(opt_out["state"], "opted_out");

    // Missed while disconnected: replayed from storage after the last seen id.
    let seen = opt_out["id"].as_i64().unwrap();
    say(&t, "wamid.LIVE2", "yes").await;
    // Compliance reads every number of the organization (Sam does not hold this one).
    let replay = connect(&t.http, &t.base, &t.compliance, Some(seen)).await;
    let replayed = read_until(replay, has("keyword_opt_in")).await;
    assert!(
        replayed.iter().any(|e| e["kind"] == "keyword_opt_in"),
        "{replayed:?}"
    );
    assert!(
        replayed.iter().all(|e| e["id"].as_i64().unwrap() > seen),
        "nothing seen is sent again"
    );
    t.service.stop().await;
}

#[tokio::test]
async fn another_organization_sees_none_of_these_events() {
    let t = start().await;
    let pool = t.service.state.store.pool();
    let org: i64 =
        sqlx::query_scalar("INSERT INTO organizations (name) VALUES ('Other Bank') RETURNING id")
            .fetch_one(pool)
            .await
            .unwrap();
    let advisor: i64 = sqlx::query_scalar(
        // Compliance: sees every number of Other Bank, and still none of Acme's.
        "INSERT INTO advisors (organization_id, name, role) VALUES ($1, 'Olga', 'compliance') RETURNING id",
    )
    .bind(org)
    .fetch_one(pool)
    .await
    .unwrap();
    t.service
        .state
        .store
        .add_token(advisor, "other-org-token")
        .await
        .unwrap();
    say(&t, "wamid.ISO1", "stop").await;
    // Then Other Bank gets an event of its own, later in the record: its
    // stream, replayed from the start, must begin with that one. (A marker
    // instead of "nothing arrived within a while".)
    sqlx::query(
        "INSERT INTO whatsapp_numbers (phone_number_id, organization_id) VALUES ('OTHER-BANK-NUMBER', $1)",
    )
    .bind(org)
    .execute(pool)
    .await
    .unwrap();
    let theirs_body = envelope(json!({
        "messages": [{"from": "15550009999", "id": "wamid.ISO2", "timestamp": "1764080001", "type": "text", "text": {"body": "hello"}}]
    }))
    .replace(
        optin_server::store::seed::SANDBOX_PHONE_NUMBER_ID,
        "OTHER-BANK-NUMBER",
    );
    assert_eq!(t.signed_whatsapp_webhook(&theirs_body).await, 200);
    let theirs = read_events(&t.http, &t.base, "other-org-token", Some(0), 1).await;
    assert_eq!(theirs.len(), 1, "Other Bank's own event arrives");
    assert_eq!(
        (theirs[0]["kind"].as_str(), theirs[0]["phone"].as_str()),
        (Some("message_in"), Some("+15550009999")),
        "no replay of another organization's events: {theirs:?}"
    );
    let ours = read_events(&t.http, &t.base, &t.jane, Some(0), 1).await;
    assert_eq!(ours.len(), 1);
    let anonymous = t
        .http
        .get(format!("{}/api/v1/events", t.base))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    t.service.stop().await;
}
