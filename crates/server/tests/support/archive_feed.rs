//! The archive feed's test kit: a real SMTP server (aiosmtpd, started and
//! stopped by each test; `cargo xtask test` installs Debian's
//! python3-aiosmtpd), a service delivering to it, a conversation to archive,
//! and the checks that every item arrived once.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine;
use optin_server::archive::SmtpTls;
use optin_server::Config;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::extra::{meeting_reminder, KERRY};
use super::{launch_in, TestService};

/// The journaling address and the envelope sender the service is given.
pub const JOURNAL: &str = "journal@archive.firm.example";
pub const SENDER: &str = "optin@firm.example";

/// Debian's Python, which has Debian's aiosmtpd.
const PYTHON: &str = "/usr/bin/python3";

/// A real SMTP server writing what it accepts into a folder.
pub struct SmtpSink {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

/// One message as the SMTP server received it.
pub struct Received {
    pub bytes: Vec<u8>,
    pub envelope: Value,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        let mut values = self
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str());
        let first = values.next();
        assert!(values.next().is_none(), "two {name} headers");
        first
    }

    pub fn message_id(&self) -> &str {
        self.header("Message-ID").expect("a Message-ID")
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).unwrap()
    }
}

impl SmtpSink {
    /// Starts the server; it refuses the first `refuse_first` messages with 451.
    pub fn start(refuse_first: u32) -> Self {
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
    pub fn configure(&self, config: &mut Config) {
        let archive = &mut config.archive;
        archive.smtp_host = Some("127.0.0.1".into());
        archive.smtp_port = Some(self.port);
        archive.smtp_tls = SmtpTls::None;
        archive.smtp_to = Some(JOURNAL.into());
        archive.smtp_from = Some(SENDER.into());
        archive.poll_ms = 50;
    }

    /// Every message accepted so far, in the order accepted.
    pub fn received(&self) -> Vec<Received> {
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
    pub fn refused(&self) -> u32 {
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
pub fn parse(bytes: &[u8]) -> (Vec<(String, String)>, Vec<u8>) {
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

pub fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Starts the service (its data in `dir`) delivering to `sink`.
pub async fn service(dir: tempfile::TempDir, sink: &SmtpSink) -> TestService {
    launch_in(dir, true, |config| sink.configure(config)).await
}

/// Every archive item the database holds, as the Message-IDs it must arrive under.
pub async fn expected_message_ids(t: &TestService) -> BTreeSet<String> {
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
pub async fn settled(t: &TestService, sink: &SmtpSink) -> Vec<Received> {
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
pub async fn assert_each_arrived_once(t: &TestService, received: &[Received]) {
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
pub async fn converse(t: &TestService) -> (i64, i64) {
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
