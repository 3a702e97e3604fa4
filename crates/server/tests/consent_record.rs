//! The consent record is append-only and hash-chained: the verifier names the
//! first broken link after an edit, a deletion or a reordering.

mod support;

use optin_server::store::evidence::Fault;
use serde_json::json;
use support::extra::tamper;
use support::{envelope, start, TestService};

/// Three contact events for the demo organization.
async fn record_three_events(t: &TestService) {
    for (i, text) in ["hello", "stop", "yes"].iter().enumerate() {
        let body = envelope(json!({
            "messages": [{"from": "447911123456", "id": format!("wamid.CHAIN{i}"), "timestamp": "1764080000", "type": "text", "text": {"body": text}}]
        }));
        assert_eq!(t.signed_whatsapp_webhook(&body).await, 200);
    }
}

/// A bare store (no service, so nothing else appends) with three events.
async fn store_with_three_events() -> (optin_server::store::Store, tempfile::TempDir) {
    use optin_core::vocab::{Cause, EvidenceKind};
    use optin_server::store::evidence::NewEvidence;
    let dir = tempfile::tempdir().unwrap();
    let store = support::open_store(
        &dir.path().join("db.sqlite3"),
        optin_core::vocab::Mode::Sandbox,
    )
    .await
    .unwrap();
    store.seed_demo().await.unwrap();
    for (i, kind) in [
        EvidenceKind::Requested,
        EvidenceKind::ProviderAccepted,
        EvidenceKind::Accepted,
    ]
    .into_iter()
    .enumerate()
    {
        let mut work = store.begin_write().await.unwrap();
        work.append_evidence(NewEvidence {
            organization_id: 1,
            phone: "+447911123456".into(),
            advisor_id: Some(1),
            kind,
            cause: Cause::Advisor,
            state_after: None,
            provider_time: None,
            received_at: chrono::Utc::now(),
            detail: json!({ "step": i }),
            raw_body: None,
            signature_valid: None,
            signature_header: None,
            signed_url: None,
        })
        .await
        .unwrap();
        work.commit().await.unwrap();
    }
    (store, dir)
}

#[tokio::test]
async fn an_intact_chain_verifies_and_the_record_cannot_be_changed_through_sql() {
    let t = start().await;
    record_three_events(&t).await;
    let store = &t.service.state.store;
    let verified = store.verify_chain(1, &[]).await.unwrap().unwrap();
    assert!(verified >= 3);
    let pool = store.pool();
    // Refused by the append-only triggers, not by any other error (a busy
    // database, a typo in the statement).
    for sql in [
        "UPDATE consent_events SET kind = 'x'",
        "DELETE FROM consent_events",
    ] {
        let error = sqlx::query(sql)
            .execute(pool)
            .await
            .expect_err("the record is append-only");
        assert!(
            error
                .as_database_error()
                .is_some_and(|e| e.message() == "the consent record is append-only"),
            "{sql}: {error}"
        );
    }
    assert!(
        t.count("SELECT COUNT(*) FROM consent_events WHERE kind = 'x'")
            .await
            == 0
    );
    t.service.stop().await;
}

#[tokio::test]
async fn an_edited_event_is_named() {
    let (store, _dir) = store_with_three_events().await;
    tamper(
        &store,
        "UPDATE consent_events SET detail_json = '{\"text\":\"no\"}' WHERE seq = 2",
    )
    .await;
    let broken = store.verify_chain(1, &[]).await.unwrap().unwrap_err();
    assert_eq!(broken.seq, 2);
    assert_eq!(broken.fault, Fault::Changed, "{broken}");
}

#[tokio::test]
async fn a_deleted_event_is_named() {
    let (store, _dir) = store_with_three_events().await;
    tamper(&store, "DELETE FROM consent_events WHERE seq = 2").await;
    let broken = store.verify_chain(1, &[]).await.unwrap().unwrap_err();
    assert_eq!(broken.seq, 2);
    assert_eq!(broken.fault, Fault::Gap { from: 2, to: 2 }, "{broken}");
}

#[tokio::test]
async fn reordered_events_are_named() {
    let (store, _dir) = store_with_three_events().await;
    // Swap the first two events' places (through a free range: seq is unique).
    tamper(&store, "UPDATE consent_events SET seq = CASE seq WHEN 1 THEN 1002 ELSE 1001 END WHERE seq IN (1, 2)").await;
    sqlx::query("UPDATE consent_events SET seq = seq - 1000 WHERE seq > 1000")
        .execute(store.pool())
        .await
        .unwrap();
    let broken = store.verify_chain(1, &[]).await.unwrap().unwrap_err();
    assert_eq!(broken.seq, 1);
}

#[tokio::test]
async fn the_organization_export_has_every_event_as_json_lines_and_csv() {
    let t = start().await;
    record_three_events(&t).await;
    let total = t.count("SELECT COUNT(*) FROM consent_events").await as usize;
    let jsonl = t
        .http
        .get(format!("{}/api/v1/consent/export?format=jsonl", t.base))
        .bearer_auth(&t.compliance)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // The reply to "stop" (sent through the sandbox, whose statuses come back
    // as webhooks) can add events while the test runs: the export holds every
    // event there was before it was asked, and the ones since, in order, none
    // missing.
    let lines: Vec<serde_json::Value> = jsonl
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert!(
        lines.len() >= total,
        "{} lines, {total} events",
        lines.len()
    );
    let seqs: Vec<i64> = lines.iter().map(|l| l["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, (1..=lines.len() as i64).collect::<Vec<_>>());
    assert_eq!(lines[0]["signature_valid"], true);
    let csv = t
        .http
        .get(format!("{}/api/v1/consent/export?format=csv", t.base))
        .bearer_auth(&t.compliance)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(csv.starts_with("seq,received_at"));
    let unauthorized = t
        .http
        .get(format!("{}/api/v1/consent/export", t.base))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorized.status(), 401);
    t.service.stop().await;
}
