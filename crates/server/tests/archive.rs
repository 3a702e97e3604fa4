//! The archive feed against a real SMTP server (aiosmtpd, started and
//! stopped by each test; `cargo xtask test` installs Debian's
//! python3-aiosmtpd): after real opt-in flows every message and consent step
//! arrives exactly once at the journaling address with its headers; the zip
//! export's manifest reconciles with what arrived (counts and SHA-256); a
//! restart or a rerun from the stored cursor sends nothing twice; a server
//! that refuses for a while delays the feed and loses nothing.

mod support;

use std::collections::BTreeMap;
use std::io::Read;
use std::time::Duration;

use serde_json::{json, Value};
use support::archive_feed::{
    assert_each_arrived_once, converse, service, settled, sha256, Received, SmtpSink,
};
use support::extra::{assert_refused, run_binary, stderr, KERRY};
use support::TestService;

async fn advisor_id(t: &TestService, name: &str) -> i64 {
    sqlx::query_scalar("SELECT id FROM advisors WHERE name = $1")
        .bind(name)
        .fetch_one(t.service.state.store.pool())
        .await
        .unwrap()
}

/// `GET /compliance/archive?{query}` as `token`: status and body bytes.
async fn archive_download(t: &TestService, token: &str, query: &str) -> (u16, Vec<u8>) {
    let response = t
        .http
        .get(format!("{}/api/v1/compliance/archive?{query}", t.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.bytes().await.unwrap().to_vec())
}

/// The zip's files by name, and its manifest.
fn unzip(bytes: &[u8]) -> (BTreeMap<String, Vec<u8>>, Value) {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut files = BTreeMap::new();
    for i in 0..zip.len() {
        let mut file = zip.by_index(i).unwrap();
        let mut content = Vec::new();
        file.read_to_end(&mut content).unwrap();
        files.insert(file.name().to_owned(), content);
    }
    let manifest = serde_json::from_slice(&files.remove("manifest.json").unwrap()).unwrap();
    (files, manifest)
}

#[tokio::test]
async fn every_item_arrives_once_with_its_headers_and_the_export_reconciles() {
    let sink = SmtpSink::start(0);
    let t = service(tempfile::tempdir().unwrap(), &sink).await;
    converse(&t).await;
    let received = settled(&t, &sink).await;
    assert_each_arrived_once(&t, &received).await;
    let jane = advisor_id(&t, "Jane Smith").await;
    let sam = advisor_id(&t, "Sam Rivera").await;

    // Kerry's answer: from Kerry's WhatsApp address to Jane, whose
    // conversation it answers, with the consent state it was written under.
    let answer = received
        .iter()
        .find(|m| m.text() == "Thanks!\nSee you then.")
        .expect("Kerry's answer arrived, its text exact");
    assert_eq!(
        answer.header("From"),
        Some("\"Kerry Fisher\" <+447911123456@whatsapp.org-1.optin.archive>")
    );
    assert_eq!(
        answer.header("To"),
        Some(format!("\"Jane Smith\" <advisor-{jane}@org-1.optin.archive>").as_str())
    );
    for (name, value) in [
        ("X-Optin-Item", "message"),
        ("X-Optin-Channel", "whatsapp"),
        ("X-Optin-Direction", "in"),
        ("X-Optin-Consent-State", "opted_in"),
        ("X-Optin-Advisor", "Jane Smith"),
        ("X-Optin-Organization", "1"),
    ] {
        assert_eq!(answer.header(name), Some(value), "{name}");
    }
    assert!(answer.header("X-Optin-Provider-Message-Id").is_some());
    assert!(answer.header("Date").is_some());

    // Jane's template, from Jane to Kerry.
    let reminder = received
        .iter()
        .find(|m| m.header("X-Optin-Template") == Some("meeting_reminder en_US"))
        .expect("Jane's reminder arrived");
    assert_eq!(
        reminder.header("From"),
        Some(format!("\"Jane Smith\" <advisor-{jane}@org-1.optin.archive>").as_str())
    );
    assert_eq!(reminder.header("X-Optin-Direction"), Some("out"));
    assert_eq!(reminder.header("X-Optin-Consent-State"), Some("opted_in"));

    // Sam's SMS: on the SMS address of the same number.
    let sms = received
        .iter()
        .find(|m| m.text() == "Hello from Sam")
        .expect("Sam's SMS arrived");
    assert_eq!(sms.header("X-Optin-Channel"), Some("sms"));
    assert_eq!(
        sms.header("To"),
        Some("\"Kerry F.\" <+447911123456@sms.org-1.optin.archive>")
    );
    assert_eq!(
        sms.header("X-Optin-Advisor-Id"),
        Some(sam.to_string().as_str())
    );

    // Kerry's Yes: a consent step whose body is the recorded event itself.
    let accepted = received
        .iter()
        .find(|m| m.header("X-Optin-Event-Kind") == Some("accepted"))
        .expect("the acceptance arrived");
    assert_eq!(accepted.header("X-Optin-Consent-State"), Some("opted_in"));
    let event: Value = serde_json::from_slice(&accepted.body).unwrap();
    assert_eq!(
        accepted.header("X-Optin-Event-Hash"),
        event["hash"].as_str()
    );
    let stored_hash: String = sqlx::query_scalar("SELECT hash FROM consent_events WHERE id = $1")
        .bind(event["id"].as_i64().unwrap())
        .fetch_one(t.service.state.store.pool())
        .await
        .unwrap();
    assert_eq!(event["hash"], stored_hash.as_str());

    // The export reconciles with what arrived: counts, and each file's
    // SHA-256 equal to the message the server received under its Message-ID.
    let (status, zip) = archive_download(&t, &t.compliance, "after=0&limit=1000").await;
    assert_eq!(status, 200);
    let (files, manifest) = unzip(&zip);
    let by_id: BTreeMap<&str, &Received> = received.iter().map(|m| (m.message_id(), m)).collect();
    let listed = manifest["files"].as_array().unwrap();
    assert_eq!(listed.len(), received.len());
    assert_eq!(files.len(), received.len());
    assert_eq!(manifest["counts"]["total"], received.len());
    assert_eq!(
        manifest["counts"]["messages"],
        t.count("SELECT COUNT(*) FROM messages").await
    );
    assert_eq!(
        manifest["counts"]["consent_events"],
        t.count("SELECT COUNT(*) FROM consent_events").await
    );
    assert_eq!(manifest["from_cursor"], 0);
    assert_eq!(
        manifest["to_cursor"],
        t.count("SELECT MAX(id) FROM archive_feed").await
    );
    assert_eq!(manifest["more"], false);
    for file in listed {
        let name = file["name"].as_str().unwrap();
        let sha = file["sha256"].as_str().unwrap();
        assert_eq!(sha256(&files[name]), sha, "{name} in the zip");
        let arrived = by_id[file["message_id"].as_str().unwrap()];
        assert_eq!(sha256(&arrived.bytes), sha, "{name} as it arrived");
    }

    // Page by page from the cursors, the same items in the same order.
    let mut after = 0;
    let mut paged = Vec::new();
    loop {
        let (status, zip) =
            archive_download(&t, &t.compliance, &format!("after={after}&limit=4")).await;
        assert_eq!(status, 200);
        let (_, page) = unzip(&zip);
        paged.extend(page["files"].as_array().unwrap().iter().cloned());
        after = page["to_cursor"].as_i64().unwrap();
        if page["more"] == false {
            break;
        }
    }
    assert_eq!(&paged, listed);

    // Compliance and admins only; the limit is bounded.
    let refused = t.api("GET", "/compliance/archive", &t.jane, None).await;
    assert_refused(&refused, 403, "compliance_role_required");
    let refused = t
        .api("GET", "/compliance/archive?limit=0", &t.compliance, None)
        .await;
    assert_refused(&refused, 422, "invalid_limit");
    let refused = t
        .api("GET", "/compliance/archive?limit=1001", &t.compliance, None)
        .await;
    assert_refused(&refused, 422, "invalid_limit");
    t.service.stop().await;
}

#[tokio::test]
async fn a_restart_or_a_rerun_from_the_stored_cursor_sends_nothing_twice() {
    let sink = SmtpSink::start(0);
    let t = service(tempfile::tempdir().unwrap(), &sink).await;
    let (janes, _) = converse(&t).await;
    let before = settled(&t, &sink).await.len();

    // A rerun of delivery from the stored cursor finds nothing to send.
    let state = &t.service.state;
    let journal = state.config.archive.journal().unwrap().unwrap();
    let stop = tokio_util::sync::CancellationToken::new();
    assert_eq!(
        optin_server::archive::deliver(state, &journal, &stop)
            .await
            .unwrap(),
        0
    );
    // The same cursor exports the same bytes.
    let first = archive_download(&t, &t.compliance, "after=0").await;
    assert_eq!(first, archive_download(&t, &t.compliance, "after=0").await);

    // A restart resumes after the stored cursor: only what is new arrives.
    let dir = t.stop_keeping_data().await;

    // Meanwhile the operator's export writes the same zip as the API's.
    let out = dir.path().join("archive.zip");
    let args = [
        "archive-export",
        "--organization",
        "1",
        "--after",
        "0",
        "--out",
    ];
    let output = run_binary(
        dir.path(),
        &[("OPTIN_SANDBOX", "1")],
        &[&args[..], &[out.to_str().unwrap()]].concat(),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(std::fs::read(&out).unwrap(), first.1);
    let (_, manifest) = unzip(&first.1);
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        manifest["to_cursor"].to_string()
    );
    let t = service(dir, &sink).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        sink.received().len(),
        before,
        "the restart sent items again"
    );
    let text = json!({"type": "text", "body": "Welcome back"});
    assert_eq!(t.whatsapp_as(&t.jane, janes, text).await.0, 202);
    let received = settled(&t, &sink).await;
    assert!(received.len() > before);
    assert!(received.iter().any(|m| m.text() == "Welcome back"));
    assert_each_arrived_once(&t, &received).await;
    t.service.stop().await;
}

#[tokio::test]
async fn a_server_that_refuses_for_a_while_delays_the_feed_and_loses_nothing() {
    let sink = SmtpSink::start(3);
    let t = service(tempfile::tempdir().unwrap(), &sink).await;
    let janes = t.contact_id(&t.jane, "Kerry").await;
    assert_eq!(t.opt_in_as(&t.jane, janes, "refused-1").await.0, 202);
    t.wait_for_state(&t.jane, janes, "pending").await;
    t.contact_taps(KERRY, "Yes").await;
    t.wait_for_state(&t.jane, janes, "opted_in").await;
    let received = settled(&t, &sink).await;
    assert_eq!(sink.refused(), 3);
    assert_each_arrived_once(&t, &received).await;
    // In feed order, though the first tries were refused.
    let cursors: Vec<i64> = received
        .iter()
        .map(|m| m.header("X-Optin-Cursor").unwrap().parse().unwrap())
        .collect();
    assert!(cursors.windows(2).all(|w| w[0] < w[1]), "{cursors:?}");
    t.service.stop().await;
}
