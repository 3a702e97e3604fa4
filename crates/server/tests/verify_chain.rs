//! The consent record against its signed checkpoints, checked by the
//! `optin-server verify-chain` binary as an operator or auditor runs it:
//! whoever can write the database file can delete the newest events, or
//! rewrite one and recompute every later hash, and the chain alone still
//! verifies; the checkpoints in the witness folder (signed with a key that
//! is not in the database) name the first bad event. A forged checkpoint is
//! reported; a clean record verifies; the published key verifies a
//! checkpoint with openssl; production does not start without a key.

mod support;

use std::path::Path;

use base64::Engine;
use chrono::Utc;
use optin_core::vocab::{Cause, EvidenceKind, Mode};
use optin_server::checkpoints::{Checkpoint, Checkpoints, Due, Witness};
use optin_server::store::evidence::{chain_hash, NewEvidence};
use optin_server::store::Store;
use serde_json::{json, Value};
use support::extra::{
    drop_guards, eventually, run_binary, start_with, stderr, tamper, KERRY, PRODUCTION,
};
use support::{envelope, launch_in};

/// A sandbox data folder whose demo organization has `events` events, a
/// checkpoint signed by the service's signer after each; the head's sequence
/// number before them.
async fn anchored_record(events: i64) -> (tempfile::TempDir, Store, i64) {
    let dir = tempfile::tempdir().unwrap();
    let config = support::test_config(dir.path().to_path_buf());
    let store = support::open_store(&config.database_path(), Mode::Sandbox)
        .await
        .unwrap();
    store.seed_demo().await.unwrap();
    let before = store.chain_head(1).await.unwrap().map_or(0, |(seq, _)| seq);
    let signer = Checkpoints::open(&config, Utc::now()).unwrap();
    for i in 1..=events {
        let mut work = store.begin_write().await.unwrap();
        work.append_evidence(NewEvidence::new(
            1,
            KERRY,
            None,
            EvidenceKind::MessageIn,
            Cause::Contact,
            json!({ "text": format!("message {i}") }),
            Utc::now(),
        ))
        .await
        .unwrap();
        work.commit().await.unwrap();
        let signed = signer.pass(&store, Utc::now(), Due::Now).await.unwrap();
        assert_eq!(signed.len(), 1, "one checkpoint after event {i}");
    }
    (dir, store, before)
}

/// `optin-server --sandbox verify-chain --organization 1` on `dir` (and
/// `args`): whether it passed, and what it printed.
fn verify_chain(dir: &Path, args: &[&str]) -> (bool, String) {
    let mut all = vec!["verify-chain", "--organization", "1"];
    all.extend(args);
    let output = run_binary(dir, &[("OPTIN_SANDBOX", "1")], &all);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        stderr(&output)
    );
    (output.status.success(), said)
}

/// Rewrites event `seq` with `detail` and recomputes its hash and every
/// later one, as a careful forger would.
async fn rewrite(store: &Store, seq: i64, detail: &str) {
    drop_guards(store).await;
    let mut prev_hash = None;
    for mut row in store.evidence(1, None).await.unwrap() {
        if row.seq < seq {
            continue;
        }
        if row.seq == seq {
            row.detail_json = detail.to_owned();
        }
        if let Some(prev) = prev_hash.take() {
            row.prev_hash = prev;
        }
        row.hash = chain_hash(&row);
        sqlx::query(
            "UPDATE consent_events SET detail_json = $1, prev_hash = $2, hash = $3 WHERE id = $4",
        )
        .bind(&row.detail_json)
        .bind(&row.prev_hash)
        .bind(&row.hash)
        .bind(row.id)
        .execute(store.pool())
        .await
        .unwrap();
        prev_hash = Some(row.hash);
    }
}

#[tokio::test]
async fn deleting_the_last_events_is_named_as_truncation() {
    let (dir, store, before) = anchored_record(5).await;
    let head = before + 5;
    tamper(
        &store,
        &format!(
            "DELETE FROM consent_events WHERE organization_id = 1 AND seq > {}",
            head - 2
        ),
    )
    .await;
    assert!(
        store.verify_chain(1, &[]).await.unwrap().is_ok(),
        "the chain alone no longer tells"
    );
    let (intact, said) = verify_chain(dir.path(), &[]);
    assert!(!intact, "{said}");
    assert!(
        said.contains(&format!(
            "broken at event #{}: events #{}..#{head} are missing: the record was truncated",
            head - 1,
            head - 1
        )),
        "{said}"
    );
}

#[tokio::test]
async fn rewriting_an_event_and_recomputing_the_later_hashes_is_named() {
    let (dir, store, before) = anchored_record(5).await;
    let target = before + 3;
    rewrite(&store, target, r#"{"text":"yes"}"#).await;
    assert!(
        store.verify_chain(1, &[]).await.unwrap().is_ok(),
        "the chain alone no longer tells"
    );
    let (intact, said) = verify_chain(dir.path(), &[]);
    assert!(!intact, "{said}");
    assert!(
        said.contains(&format!(
            "broken at event #{target}: the record was rewritten"
        )),
        "{said}"
    );
    assert!(
        said.contains(&format!("the first event that may differ is #{target}")),
        "{said}"
    );
}

#[tokio::test]
async fn an_event_edited_after_dropping_the_triggers_is_named() {
    let (dir, store, before) = anchored_record(4).await;
    let target = before + 2;
    tamper(
        &store,
        &format!(
            "UPDATE consent_events SET detail_json = '{{\"text\":\"yes\"}}' WHERE organization_id = 1 AND seq = {target}"
        ),
    )
    .await;
    let (intact, said) = verify_chain(dir.path(), &[]);
    assert!(!intact, "{said}");
    assert!(
        said.contains(&format!(
            "broken at event #{target}: its content was changed after it was recorded"
        )),
        "{said}"
    );
}

#[tokio::test]
async fn a_gap_in_the_sequence_is_named() {
    let (dir, store, before) = anchored_record(4).await;
    let target = before + 2;
    tamper(
        &store,
        &format!("DELETE FROM consent_events WHERE organization_id = 1 AND seq = {target}"),
    )
    .await;
    let (intact, said) = verify_chain(dir.path(), &[]);
    assert!(!intact, "{said}");
    assert!(
        said.contains(&format!(
            "broken at event #{target}: event #{target} is missing: a gap in the sequence"
        )),
        "{said}"
    );
}

#[tokio::test]
async fn a_checkpoint_with_a_bad_signature_is_reported() {
    let (dir, store, before) = anchored_record(3).await;
    // Truncate, then cover it with a checkpoint signed by a key of one's own.
    let head = before + 2;
    tamper(
        &store,
        &format!("DELETE FROM consent_events WHERE organization_id = 1 AND seq > {head}"),
    )
    .await;
    let (_, hash) = store.chain_head(1).await.unwrap().unwrap();
    let forger = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
    let forged = Checkpoint {
        organization_id: 1,
        seq: head,
        head: hash,
        at: Utc::now(),
    };
    Witness::new(dir.path().join("witness"))
        .append(&forger, &forged)
        .unwrap();
    let (intact, said) = verify_chain(dir.path(), &[]);
    assert!(!intact, "{said}");
    assert!(
        said.contains("line 4: the checkpoint's signature does not verify with the public key"),
        "{said}"
    );
}

#[tokio::test]
async fn a_clean_record_verifies_against_the_checkpoint_signed_at_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let t = launch_in(dir, true, |_| {}).await;
    for (i, text) in ["hello", "how are you", "fine"].iter().enumerate() {
        let body = envelope(json!({
            "messages": [{"from": "447911123456", "id": format!("wamid.CLEAN{i}"), "timestamp": "1764080000", "type": "text", "text": {"body": text}}]
        }));
        assert_eq!(t.signed_whatsapp_webhook(&body).await, 200);
    }
    let public_key = t
        .http
        .get(format!("{}/api/v1/evidence/public-key", t.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let dir = t.stop_keeping_data().await;
    let (intact, said) = verify_chain(dir.path(), &[]);
    assert!(intact, "{said}");
    assert!(
        said.contains("chain intact; agrees with 1 signed checkpoints"),
        "{said}"
    );
    // An auditor with the published key only.
    let key_file = dir.path().join("published.pem");
    std::fs::write(&key_file, public_key).unwrap();
    let (intact, said) = verify_chain(dir.path(), &["--public-key", key_file.to_str().unwrap()]);
    assert!(intact, "{said}");
}

#[tokio::test]
async fn the_published_key_verifies_a_checkpoint_with_openssl() {
    // One event is enough for a checkpoint: the interval, not the shutdown.
    let t = start_with(|config| config.checkpoint_events = 1).await;
    let body = envelope(json!({
        "messages": [{"from": "447911123456", "id": "wamid.ANCHOR1", "timestamp": "1764080000", "type": "text", "text": {"body": "hello"}}]
    }));
    assert_eq!(t.signed_whatsapp_webhook(&body).await, 200);
    let witness = t
        .service
        .state
        .config
        .witness_dir()
        .unwrap()
        .join("organization-1.jsonl");
    let line: Value = eventually("a checkpoint is signed", || async {
        let text = std::fs::read_to_string(&witness).map_err(|e| e.to_string())?;
        let last = text.lines().last().ok_or("no line yet")?;
        serde_json::from_str(last).map_err(|e| e.to_string())
    })
    .await;
    let response = t
        .http
        .get(format!("{}/api/v1/evidence/public-key", t.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/x-pem-file");
    let pem = response.text().await.unwrap();
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"), "{pem}");

    let files = tempfile::tempdir().unwrap();
    let path = |name: &str| files.path().join(name);
    std::fs::write(path("key.pem"), &pem).unwrap();
    let message = line["checkpoint"].as_str().unwrap();
    assert!(
        message.starts_with("optin-server checkpoint v1\norganization: 1\nsequence: "),
        "{message}"
    );
    std::fs::write(path("message"), message).unwrap();
    std::fs::write(
        path("signature"),
        base64::engine::general_purpose::STANDARD
            .decode(line["signature"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    std::fs::write(
        path("altered"),
        message.replace("organization: 1", "organization: 2"),
    )
    .unwrap();
    let openssl = |message: &str| {
        std::process::Command::new("openssl")
            .args(["pkeyutl", "-verify", "-pubin", "-inkey"])
            .arg(path("key.pem"))
            .arg("-rawin")
            .arg("-in")
            .arg(path(message))
            .arg("-sigfile")
            .arg(path("signature"))
            .output()
            .expect("openssl is installed")
    };
    let verified = openssl("message");
    assert!(
        verified.status.success(),
        "{}{}",
        String::from_utf8_lossy(&verified.stdout),
        stderr(&verified)
    );
    assert!(String::from_utf8_lossy(&verified.stdout).contains("Signature Verified Successfully"));
    assert!(
        !openssl("altered").status.success(),
        "an altered checkpoint fails"
    );
    t.service.stop().await;
}

#[tokio::test]
async fn the_sandbox_makes_its_key_once_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let t = start_with(|_| {}).await;
    let key_file = t.service.state.config.data_dir.join("checkpoint-key.pem");
    let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let key = std::fs::read(&key_file).unwrap();
    let public = t.service.state.checkpoints.public_key();
    let t = t.restart().await;
    assert_eq!(std::fs::read(&key_file).unwrap(), key, "made once");
    assert_eq!(t.service.state.checkpoints.public_key(), public);
    t.service.stop().await;
}

#[test]
fn production_without_a_checkpoint_key_refuses_to_start_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let without_key: Vec<_> = PRODUCTION
        .iter()
        .copied()
        .filter(|(key, _)| *key != "OPTIN_CHECKPOINT_KEY")
        .collect();
    let output = run_binary(dir.path(), &without_key, &[]);
    assert!(!output.status.success());
    let said = stderr(&output);
    assert!(
        said.contains("production mode needs OPTIN_CHECKPOINT_KEY_FILE (or OPTIN_CHECKPOINT_KEY)"),
        "{said}"
    );
    assert_eq!(said.trim().lines().count(), 1, "one line: {said}");
    assert!(!dir.path().join("optin.sqlite3").exists());

    // A file that is not a key: said so, in one line, before the database is made.
    let not_a_key = dir.path().join("not-a-key.pem");
    std::fs::write(&not_a_key, "hello").unwrap();
    let mut with_file = without_key.clone();
    with_file.push(("OPTIN_CHECKPOINT_KEY_FILE", not_a_key.to_str().unwrap()));
    let output = run_binary(dir.path(), &with_file, &[]);
    assert!(!output.status.success());
    let said = stderr(&output);
    assert!(
        said.contains("is not an Ed25519 private key in PEM"),
        "{said}"
    );
    assert_eq!(said.trim().lines().count(), 1, "one line: {said}");
    assert!(!dir.path().join("optin.sqlite3").exists());
}
