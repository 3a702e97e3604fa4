//! The access log: every compliance view of a conversation or of raw
//! evidence, and every export, is logged (who, what, when) before it is
//! served, listed newest first to compliance only, and cannot be edited.

mod support;

use serde_json::Value;
use support::extra::{assert_refused, phone_path, KERRY};
use support::start;

/// The log's entries as (person, kind, phone, detail).
fn entries(page: &Value) -> Vec<(String, String, Option<String>, Option<String>)> {
    page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["person_name"].as_str().unwrap().to_owned(),
                e["kind"].as_str().unwrap().to_owned(),
                e["phone"].as_str().map(str::to_owned),
                e["detail"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

#[tokio::test]
async fn every_view_and_export_is_logged_and_listed_newest_first() {
    let t = start().await;
    let kerry = t.contact_id(&t.jane, "Kerry").await;
    let (status, _) = t.opt_in_as(&t.jane, kerry, "access-1").await;
    assert_eq!(status, 202);
    t.wait_inbox(KERRY, "whatsapp", 1).await;

    let (status, log) = t
        .api("GET", "/compliance/access-log", &t.compliance, None)
        .await;
    assert_eq!((status, entries(&log)), (200, vec![]), "nothing read yet");

    let number = format!("/compliance/numbers/{}", phone_path(KERRY));
    let (status, timeline) = t.api("GET", &number, &t.compliance, None).await;
    assert_eq!(status, 200);
    let first = &timeline["events"][0];
    let raw = format!("/compliance/events/{}/raw", first["id"]);
    assert_eq!(t.api("GET", &raw, &t.compliance, None).await.0, 200);
    let record = format!("{number}/record?format=csv");
    assert_eq!(t.api("GET", &record, &t.compliance, None).await.0, 200);
    let export = "/consent/export?format=jsonl";
    assert_eq!(t.api("GET", export, &t.compliance, None).await.0, 200);
    let own = format!("/contacts/{kerry}/consent/record?format=jsonl");
    assert_eq!(t.api("GET", &own, &t.jane, None).await.0, 200);
    // The app's own consent history (plain JSON on screen) is no download.
    let shown = format!("/contacts/{kerry}/consent/record");
    assert_eq!(t.api("GET", &shown, &t.jane, None).await.0, 200);

    let (status, log) = t
        .api("GET", "/compliance/access-log", &t.compliance, None)
        .await;
    assert_eq!(status, 200, "{log}");
    let kerry_phone = Some(KERRY.to_owned());
    let casey = "Casey Morgan".to_owned();
    assert_eq!(
        entries(&log),
        vec![
            (
                "Jane Smith".to_owned(),
                "record_exported".to_owned(),
                kerry_phone.clone(),
                Some("consent record as jsonl".to_owned())
            ),
            (
                casey.clone(),
                "organization_exported".to_owned(),
                None,
                Some("consent record as jsonl".to_owned())
            ),
            (
                casey.clone(),
                "record_exported".to_owned(),
                kerry_phone.clone(),
                Some("consent record as csv".to_owned())
            ),
            (
                casey.clone(),
                "raw_evidence_viewed".to_owned(),
                kerry_phone.clone(),
                Some(format!("step #{} (requested)", first["seq"]))
            ),
            (
                casey.clone(),
                "conversation_viewed".to_owned(),
                kerry_phone.clone(),
                None
            ),
        ]
    );
    assert_eq!(log["entries"][0]["role"], "advisor");
    assert_eq!(log["entries"][1]["role"], "compliance");
    assert!(log["next_before"].is_null(), "one page: {log}");

    // Pages go back in time; a number narrows the log.
    let (_, page) = t
        .api("GET", "/compliance/access-log?limit=2", &t.compliance, None)
        .await;
    assert_eq!(entries(&page).len(), 2);
    let before = page["next_before"].as_i64().expect("an older page");
    let (_, older) = t
        .api(
            "GET",
            &format!("/compliance/access-log?limit=2&before={before}"),
            &t.compliance,
            None,
        )
        .await;
    assert_eq!(entries(&older), entries(&log)[2..4].to_vec());
    let (_, kerrys) = t
        .api(
            "GET",
            &format!("/compliance/access-log?phone={}", phone_path(KERRY)),
            &t.compliance,
            None,
        )
        .await;
    assert_eq!(entries(&kerrys).len(), 4, "all but the organization export");

    // Reading the log is not itself a read of anyone's records.
    assert_eq!(
        t.count("SELECT COUNT(*) FROM access_log").await,
        5,
        "listing the log adds nothing"
    );
}

#[tokio::test]
async fn only_compliance_reads_the_log_and_nobody_edits_it() {
    let t = start().await;
    let reply = t.api("GET", "/compliance/access-log", &t.jane, None).await;
    assert_refused(&reply, 403, "compliance_role_required");
    let reply = t
        .api("GET", "/compliance/access-log?limit=0", &t.compliance, None)
        .await;
    assert_refused(&reply, 422, "invalid_limit");
    let number = format!("/compliance/numbers/{}", phone_path(KERRY));
    assert_eq!(t.api("GET", &number, &t.compliance, None).await.0, 200);
    for sql in [
        "UPDATE access_log SET person_id = person_id + 1",
        "DELETE FROM access_log",
    ] {
        let refused = sqlx::query(sql)
            .execute(t.service.state.store.pool())
            .await
            .expect_err(sql);
        assert!(
            refused.to_string().contains("append-only"),
            "{sql}: {refused}"
        );
    }
    assert_eq!(t.count("SELECT COUNT(*) FROM access_log").await, 1);
}
