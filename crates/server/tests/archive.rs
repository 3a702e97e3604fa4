//! The archive feed against a real SMTP server (aiosmtpd, started and
//! stopped by each test; `cargo xtask test` installs Debian's
//! python3-aiosmtpd): after real opt-in flows every message and consent step
//! arrives exactly once at the journaling address with its headers; the zip
//! export's manifest reconciles with what arrived (counts and SHA-256); a
//! restart or a rerun from the stored cursor sends nothing twice; a server
//! that refuses for a while delays the feed and loses nothing.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine;
use optin_server::archive::SmtpTls;
use optin_server::Config;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use support::extra::{assert_refused, meeting_reminder, run_binary, stderr, KERRY};
use support::{launch_in, TestService};

/// The journaling address and the envelope sender the service is given.
const JOURNAL: &str = "journal@archive.firm.example";
const SENDER: &str = "optin@firm.example";

/// Debian's Python, which has Debian's aiosmtpd.
const PYTHON: &str = "/usr/bin/python3";

/// A real SMTP server writing what it accepts into a folder.
struct SmtpSink {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

/// One message as the SMTP server received it.
struct Received {
    bytes: Vec<u8>,
    envelope: Value,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        let mut values = self
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str());
        let first = values.next();
        assert!(values.next().is_none(), "two {name} headers");
        first
    }

    fn message_id(&self) -> &str {
        self.header("Message-ID").expect("a Message-ID")
    }

    fn text(&self) -> String {
        String::from_utf8(self.body.clone()).unwrap()
    }
}

impl SmtpSink {
    /// Starts the server; it refuses the first `refuse_first` messages with 451.
    fn start(refuse_first: u32) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/smtp_sink.py");
        let mut child = Command::new(PYTHON)
            .arg(script)
            .arg(dir.path())
            .arg(refuse_first.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("Debian's python3 (cargo xtask test installs python3-aiosmtpd)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let Ok(port) = line.trim().parse() else {
            let mut error = String::new();
            let _ = child.kill();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut error)
                .unwrap();
            panic!(
                "the SMTP sink did not start (cargo xtask test installs python3-aiosmtpd): {error}"
            );
        };
        Self { child, port, dir }
    }

    /// Points a service's archive delivery at this server.
    fn configure(&self, config: &mut Config) {
        let archive = &mut config.archive;
        archive.smtp_host = Some("127.0.0.1".into());
        archive.smtp_port = Some(self.port);
        archive.smtp_tls = SmtpTls::None;
        archive.smtp_to = Some(JOURNAL.into());
        archive.smtp_from = Some(SENDER.into());
        archive.poll_ms = 50;
    }

    /// Every message accepted so far, in the order accepted.
    fn received(&self) -> Vec<Received> {
        let mut names: Vec<_> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .filter(|name| name.ends_with(".eml"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|name| {
                let bytes = std::fs::read(self.dir.path().join(name)).unwrap();
                let envelope = std::fs::read(self.dir.path().join(name.replace(".eml", ".json")))
                    .map(|meta| serde_json::from_slice(&meta).unwrap())
                    .unwrap();
                let (headers, body) = parse(&bytes);
                Received {
                    bytes,
                    envelope,
                    headers,
                    body,
                }
            })
            .collect()
    }

    /// How many messages it refused.
    fn refused(&self) -> u32 {
        std::fs::read_to_string(self.dir.path().join("refused"))
            .map(|n| n.trim().parse().unwrap())
            .unwrap_or(0)
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        // Our own child, by its handle.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Unfolded headers and the base64-decoded body of an RFC 5322 message.
fn parse(bytes: &[u8]) -> (Vec<(String, String)>, Vec<u8>) {
    let text = std::str::from_utf8(bytes).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let mut lines: Vec<String> = Vec::new();
    for line in head.split("\r\n") {
        match (line.starts_with([' ', '\t']), lines.last_mut()) {
            (true, Some(last)) => last.push_str(line),
            _ => lines.push(line.to_owned()),
        }
    }
    let headers = lines
        .iter()
        .map(|line| {
            let (name, value) = line.split_once(':').unwrap();
            (name.to_owned(), value.trim().to_owned())
        })
        .collect();
    let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    let body = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .unwrap();
    (headers, body)
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Starts the service (its data in `dir`) delivering to `sink`.
async fn service(dir: tempfile::TempDir, sink: &SmtpSink) -> TestService {
    launch_in(dir, true, |config| sink.configure(config)).await
}

/// Every archive item the database holds, as the Message-IDs it must arrive under.
async fn expected_message_ids(t: &TestService) -> BTreeSet<String> {
    let pool = t.service.state.store.pool();
    let messages: Vec<(i64, i64)> = sqlx::query_as("SELECT organization_id, id FROM messages")
        .fetch_all(pool)
        .await
        .unwrap();
    let events: Vec<(i64, i64)> = sqlx::query_as("SELECT organization_id, id FROM consent_events")
        .fetch_all(pool)
        .await
        .unwrap();
    let messages = messages
        .into_iter()
        .map(|(org, id)| format!("<org-{org}.msg-{id}@optin.archive>"));
    let events = events
        .into_iter()
        .map(|(org, id)| format!("<org-{org}.event-{id}@optin.archive>"));
    messages.chain(events).collect()
}

/// Waits until everything written has arrived and nothing more comes for
/// a while (statuses from the sandbox keep arriving after a flow).
async fn settled(t: &TestService, sink: &SmtpSink) -> Vec<Received> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut last_seen = (usize::MAX, 0);
    loop {
        let expected = expected_message_ids(t).await.len();
        let arrived = sink.received().len();
        if expected == arrived && last_seen == (expected, arrived) {
            return sink.received();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{arrived} of {expected} archive items arrived"
        );
        last_seen = (expected, arrived);
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
}

/// Each item exactly once: the arrived Message-IDs are the expected ones,
/// none twice, each to the journaling address from the configured sender.
async fn assert_each_arrived_once(t: &TestService, received: &[Received]) {
    let ids: Vec<&str> = received.iter().map(Received::message_id).collect();
    let unique: BTreeSet<String> = ids.iter().map(|id| id.to_string()).collect();
    assert_eq!(unique.len(), ids.len(), "an item arrived twice: {ids:?}");
    assert_eq!(unique, expected_message_ids(t).await);
    for message in received {
        assert_eq!(
            message.envelope,
            json!({"mail_from": SENDER, "rcpt_tos": [JOURNAL]})
        );
    }
}

/// Jane asks Kerry, Kerry taps Yes, Jane sends a template, Kerry answers
/// on two lines, Sam texts Kerry by SMS.
async fn converse(t: &TestService) -> (i64, i64) {
    let janes = t.contact_id(&t.jane, "Kerry").await;
    let sams = t.add_contact(&t.sam, "Kerry F.", KERRY).await;
    assert_eq!(t.opt_in_as(&t.jane, janes, "archive-1").await.0, 202);
    t.wait_for_state(&t.jane, janes, "pending").await;
    t.contact_taps(KERRY, "Yes").await;
    t.wait_for_state(&t.jane, janes, "opted_in").await;
    t.wait_inbox(KERRY, "whatsapp", 2).await;
    let reminder = meeting_reminder("Kerry", "Monday");
    assert_eq!(t.whatsapp_as(&t.jane, janes, reminder).await.0, 202);
    t.wait_inbox(KERRY, "whatsapp", 3).await;
    t.contact_writes(KERRY, "whatsapp", "Thanks!\nSee you then.")
        .await;
    assert_eq!(t.sms_as(&t.sam, sams, "Hello from Sam").await.0, 202);
    t.wait_inbox(KERRY, "sms", 1).await;
    (janes, sams)
}

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

/// Two instances on one PostgreSQL (`cargo xtask test`'s PostgreSQL pass),
/// both configured to deliver: one at a time holds the delivery, so each
/// item arrives once.
#[tokio::test]
#[ignore = "needs PostgreSQL: cargo xtask test runs it in its PostgreSQL pass"]
async fn two_instances_on_one_database_deliver_each_item_once() {
    let sink = SmtpSink::start(0);
    let a = service(tempfile::tempdir().unwrap(), &sink).await;
    assert_eq!(
        a.service.state.store.engine(),
        optin_server::store::Engine::Postgres
    );
    let b = a.launch_beside_with(|config| sink.configure(config)).await;
    converse(&a).await;
    let received = settled(&a, &sink).await;
    assert_each_arrived_once(&a, &received).await;
    b.service.stop().await;
    a.service.stop().await;
}
