//! Roles over real sockets: an advisor who holds the same number as another
//! sees its firm-wide consent state but not the other advisor's messages, nor
//! their live events about numbers they do not hold; compliance reads every
//! number, conversation and record and is refused every send; an advisor is
//! refused the organization's export and the compliance reads.

mod support;

use serde_json::json;
use support::extra::{assert_refused, KERRY};
use support::start;

#[tokio::test]
async fn a_second_advisor_sees_the_consent_state_but_not_the_first_advisors_messages() {
    let t = start().await;
    let jane_kerry = t.contact_id(&t.jane, "Kerry").await;
    let (status, _) = t
        .api(
            "POST",
            &format!("/contacts/{jane_kerry}/opt-in"),
            &t.jane,
            None,
        )
        .await;
    assert_eq!(status, 202);
    t.wait_inbox(KERRY, "whatsapp", 1).await;
    t.contact_taps(KERRY, "Yes").await;
    t.wait_for_state(&t.jane, jane_kerry, "opted_in").await;
    let (status, _) = t
        .whatsapp_as(
            &t.jane,
            jane_kerry,
            json!({"type": "text", "body": "Jane's private note to Kerry"}),
        )
        .await;
    assert_eq!(status, 202);

    // Sam adds the same number to his contacts.
    let sam_kerry = t.add_contact(&t.sam, "K. Fisher", KERRY).await;
    let consent = t.consent(&t.sam, sam_kerry).await;
    assert_eq!(consent["state"], "opted_in", "consent binds the firm");
    let (status, sams_view) = t
        .api(
            "GET",
            &format!("/contacts/{sam_kerry}/messages"),
            &t.sam,
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(sams_view, json!([]), "none of Jane's conversation is Sam's");
    let (_, janes_view) = t
        .api(
            "GET",
            &format!("/contacts/{jane_kerry}/messages"),
            &t.jane,
            None,
        )
        .await;
    let bodies: Vec<&str> = janes_view
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["body"].as_str())
        .collect();
    assert!(
        bodies.contains(&"Jane's private note to Kerry"),
        "{bodies:?}"
    );
    assert!(
        janes_view
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["direction"] == "in"),
        "Kerry's answer belongs to Jane's conversation: {janes_view}"
    );

    // Compliance sees every message, whoever sent it.
    let (status, timeline) = t.number_timeline(&t.compliance, KERRY).await;
    assert_eq!(status, 200, "{timeline}");
    let holders: Vec<&str> = timeline["summary"]["holders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["advisor_name"].as_str().unwrap())
        .collect();
    assert_eq!(holders, ["Jane Smith", "Sam Rivera"]);
    assert_eq!(timeline["summary"]["display_phone"], "+44 7911 123456");
    assert!(timeline["messages"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["body"] == "Jane's private note to Kerry"));
    let event = &timeline["events"][0];
    assert_eq!(
        (event["kind"].as_str(), event["advisor_name"].as_str()),
        (Some("requested"), Some("Jane Smith"))
    );
    assert_eq!(event["mode"], "sandbox");
}

#[tokio::test]
async fn compliance_reads_everything_and_is_refused_every_send() {
    let t = start().await;
    let kerry = t.contact_id(&t.jane, "Kerry").await;
    // Compliance holds no contacts: the per-contact routes find nothing of theirs,
    // and every write is refused by role before anything else is looked at.
    for (method, path, body) in [
        ("POST", format!("/contacts/{kerry}/opt-in"), None),
        ("POST", format!("/contacts/{kerry}/opt-in/resend"), None),
        (
            "POST",
            format!("/contacts/{kerry}/messages"),
            Some(json!({"type": "text", "body": "hi"})),
        ),
        (
            "POST",
            format!("/contacts/{kerry}/sms"),
            Some(json!({"body": "hi"})),
        ),
        (
            "POST",
            "/contacts".to_owned(),
            Some(json!({"name": "New", "phone": "+447700900123"})),
        ),
        (
            "POST",
            "/contacts/open".to_owned(),
            Some(json!({"phone": "+447700900123"})),
        ),
    ] {
        let reply = t.api(method, &path, &t.compliance, body).await;
        assert_refused(&reply, 403, "read_only_role");
    }
    assert_eq!(t.count("SELECT COUNT(*) FROM messages").await, 0);
    assert_eq!(t.count("SELECT COUNT(*) FROM consent_events").await, 0);

    let (status, page) = t
        .api("GET", "/compliance/numbers", &t.compliance, None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(page["total"], 14, "every number of both advisors");
    let (status, chain) = t.api("GET", "/compliance/chain", &t.compliance, None).await;
    assert_eq!((status, &chain["intact"]), (200, &json!(true)));
    let (status, _) = t
        .api("GET", "/consent/export?format=csv", &t.compliance, None)
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn an_advisor_is_refused_the_organization_export_and_the_compliance_reads() {
    let t = start().await;
    for path in [
        "/consent/export",
        "/compliance/numbers",
        "/compliance/chain",
        "/compliance/advisors",
        "/compliance/numbers/%2B447911123456",
    ] {
        let reply = t.api("GET", path, &t.jane, None).await;
        assert_refused(&reply, 403, "compliance_role_required");
    }
    let reply = t.api("GET", "/admin/organization", &t.jane, None).await;
    assert_refused(&reply, 403, "admin_role_required");
}

#[tokio::test]
async fn the_compliance_list_filters_by_state_advisor_text_and_date() {
    let t = start().await;
    let kerry = t.contact_id(&t.jane, "Kerry").await;
    assert_eq!(
        t.api("POST", &format!("/contacts/{kerry}/opt-in"), &t.jane, None)
            .await
            .0,
        202
    );
    t.wait_inbox(KERRY, "whatsapp", 1).await;
    t.contact_taps(KERRY, "No").await;
    t.wait_for_state(&t.jane, kerry, "opted_out").await;
    let list = |query: String| {
        let t = &t;
        async move {
            let path = format!("/compliance/numbers?{query}");
            let (status, page) = t.api("GET", &path, &t.compliance, None).await;
            assert_eq!(status, 200, "{query}: {page}");
            page["numbers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n["phone"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(list("state=opted_out".into()).await, [KERRY]);
    assert_eq!(list("state=none".into()).await.len(), 13);
    let (_, me) = t.api("GET", "/me", &t.sam, None).await;
    let sam = me["advisor_id"].as_i64().unwrap();
    assert_eq!(list(format!("advisor_id={sam}")).await.len(), 2);
    assert_eq!(list("q=Fisher".into()).await, [KERRY]);
    assert_eq!(list("since=2000-01-01T00:00:00Z".into()).await, [KERRY]);
    assert_eq!(
        list("until=2000-01-01T00:00:00Z".into()).await,
        Vec::<String>::new()
    );
    let reply = t
        .api(
            "GET",
            "/compliance/numbers?state=happy",
            &t.compliance,
            None,
        )
        .await;
    assert_refused(&reply, 422, "invalid_state");
}

/// The stream's text until `marker` appears in it (5 s at most).
async fn stream_until(t: &support::TestService, token: &str, marker: &str) -> String {
    let mut response = t
        .http
        .get(format!("{}/api/v1/events?after=0", t.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    while !text.contains(marker) {
        let chunk = tokio::time::timeout_at(deadline, response.chunk())
            .await
            .unwrap_or_else(|_| panic!("{marker} never arrived; got {text}"))
            .unwrap()
            .expect("the stream stays open");
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    text
}

#[tokio::test]
async fn an_advisors_stream_carries_only_the_numbers_they_hold() {
    let t = start().await;
    // Kerry (Jane's) opts out, then Grace (Sam's) writes: Sam's stream, replayed
    // from the start, reaches Grace's event without any of Kerry's.
    for (from, id, text) in [
        ("447911123456", "wamid.K", "STOP"),
        ("12025550143", "wamid.G", "hello"),
    ] {
        let body = support::envelope(json!({"messages": [{"from": from, "id": id,
            "timestamp": "1764080000", "type": "text", "text": {"body": text}}]}));
        assert_eq!(t.signed_whatsapp_webhook(&body).await, 200);
    }
    let sams = stream_until(&t, &t.sam, "+12025550143").await;
    assert!(!sams.contains(KERRY), "Sam holds no Kerry: {sams}");
    let janes = stream_until(&t, &t.jane, KERRY).await;
    assert!(janes.contains("keyword_opt_out"));
    let all = stream_until(&t, &t.compliance, "+12025550143").await;
    assert!(all.contains(KERRY), "compliance sees every number: {all}");
}
