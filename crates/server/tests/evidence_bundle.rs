//! A number's evidence bundle (`GET /api/v1/compliance/numbers/{phone}/bundle`):
//! one zip that verifies with `optin-server verify-bundle`, and with the
//! standard-tool commands of its own VERIFY.md; a changed file, a changed
//! signature and a key other than the trusted one are each refused with the
//! reason; the bundle is always covered by a signed checkpoint; only
//! compliance and admins download it.

mod support;

use std::io::{Cursor, Read, Write};
use std::path::Path;

use optin_server::bundle::{self, BundleFault, KeyChoice};
use optin_server::checkpoints::public_key_pem;
use serde_json::json;
use sha2::{Digest, Sha256};
use support::extra::{assert_refused, eventually, phone_path, run_binary, stderr, KERRY};
use support::{start, start_without_outbox_worker, TestService};

/// Kerry goes through an opt-in (request, WhatsApp statuses, the tap on
/// Yes) and writes once by SMS: steps from both providers' webhooks.
async fn opted_in_kerry(t: &TestService) {
    let kerry = t.contact_id(&t.jane, "Kerry").await;
    assert_eq!(t.opt_in_as(&t.jane, kerry, "bundle").await.0, 202);
    t.wait_for_state(&t.jane, kerry, "pending").await;
    // The sandbox posts the request's statuses on its own time: the bundle
    // is asserted to hold them (its record's lines), so they land first.
    eventually("the request's delivered status recorded", || async {
        match t
            .count("SELECT COUNT(*) FROM consent_events WHERE kind = 'delivered'")
            .await
        {
            0 => Err("not yet".to_owned()),
            _ => Ok(()),
        }
    })
    .await;
    t.contact_taps(KERRY, "Yes").await;
    t.wait_for_state(&t.jane, kerry, "opted_in").await;
    sms_from_kerry(t).await;
}

/// Kerry writes by SMS: a signed form webhook.
async fn sms_from_kerry(t: &TestService) {
    let settings = t.service.state.providers.settings.clone();
    let params = [
        ("MessageSid", "SMBUNDLE1"),
        ("AccountSid", settings.sms.account_sid.as_str()),
        ("From", KERRY),
        ("To", optin_server::store::seed::SANDBOX_SMS_NUMBER),
        ("Body", "Thanks, talk soon"),
    ];
    assert_eq!(t.signed_sms_form(&params).await, 200);
}

/// Downloads a number's bundle as `token`: status, content type,
/// disposition and bytes.
async fn download(t: &TestService, token: &str, phone: &str) -> (u16, String, String, Vec<u8>) {
    let response = t
        .http
        .get(format!(
            "{}/api/v1/compliance/numbers/{}/bundle",
            t.base,
            phone_path(phone)
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let (status, content_type, disposition) = (
        response.status().as_u16(),
        header("content-type"),
        header("content-disposition"),
    );
    (
        status,
        content_type,
        disposition,
        response.bytes().await.unwrap().to_vec(),
    )
}

async fn kerry_bundle(t: &TestService) -> Vec<u8> {
    opted_in_kerry(t).await;
    let (status, content_type, disposition, bytes) = download(t, &t.compliance, KERRY).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&bytes));
    assert_eq!(content_type, "application/zip");
    assert_eq!(
        disposition,
        "attachment; filename=\"evidence-bundle-447911123456.zip\""
    );
    bytes
}

/// Every entry of a zip, in order.
fn entries(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
    (0..zip.len())
        .map(|i| {
            let mut file = zip.by_index(i).unwrap();
            let mut content = Vec::new();
            file.read_to_end(&mut content).unwrap();
            (file.name().to_owned(), content)
        })
        .collect()
}

fn entry(bytes: &[u8], name: &str) -> String {
    let (_, content) = entries(bytes)
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("{name} is in the bundle"));
    String::from_utf8(content).unwrap()
}

/// The bundle with `change` applied to one file; with `resum`, its
/// SHA256SUMS recomputed as a careful forger would.
fn altered(bytes: &[u8], name: &str, resum: bool, change: impl Fn(&mut Vec<u8>)) -> Vec<u8> {
    let mut files = entries(bytes);
    let (_, content) = files.iter_mut().find(|(n, _)| n == name).unwrap();
    change(content);
    if resum {
        let sums: String = files
            .iter()
            .filter(|(n, _)| n != bundle::SUMS)
            .map(|(n, c)| format!("{}  {n}\n", hex::encode(Sha256::digest(c))))
            .collect();
        files.iter_mut().find(|(n, _)| n == bundle::SUMS).unwrap().1 = sums.into_bytes();
    }
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, content) in files {
        zip.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(&content).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

fn verify(bytes: &[u8], key: KeyChoice) -> Result<bundle::BundleReport, BundleFault> {
    bundle::verify(Cursor::new(bytes), key)
}

fn trusted(t: &TestService) -> KeyChoice {
    KeyChoice::Given(t.service.state.checkpoints.public_key())
}

/// Unzips `bytes` into `dir` with the zip crate (as `unzip` would).
fn unzip_into(bytes: &[u8], dir: &Path) {
    for (name, content) in entries(bytes) {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
}

/// The `sh` blocks of a VERIFY.md: the commands that need only the folder.
fn standard_tool_blocks(guide: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in guide.lines() {
        match (&mut current, line) {
            (None, "```sh") => current = Some(String::new()),
            (Some(block), "```") => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            (Some(block), line) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

/// Runs each `sh` block of the bundle's VERIFY.md in `dir` with bash;
/// the first that fails, with what it said.
fn run_guide(dir: &Path) -> Result<Vec<String>, String> {
    let guide = std::fs::read_to_string(dir.join(bundle::VERIFY)).unwrap();
    let blocks = standard_tool_blocks(&guide);
    assert!(blocks.len() >= 4, "VERIFY.md gives the commands: {guide}");
    let mut said = Vec::new();
    for block in blocks {
        let output = std::process::Command::new("bash")
            .args(["-e", "-o", "pipefail", "-c", &block])
            .current_dir(dir)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        if !output.status.success() {
            return Err(format!("{block}\n{text}"));
        }
        said.push(text);
    }
    Ok(said)
}

#[tokio::test]
async fn a_bundle_verifies_with_verify_bundle_and_with_the_standard_tools_of_its_guide() {
    let t = start().await;
    let witness = t.service.state.checkpoints.witness().file(1);
    assert!(!witness.exists(), "no checkpoint was signed yet");
    let bytes = kerry_bundle(&t).await;

    // No checkpoint covered the record: one was signed for the bundle, the
    // one it carries, and the witness keeps it.
    let checkpoint = entry(&bytes, bundle::CHECKPOINT);
    let witnessed = std::fs::read_to_string(&witness).unwrap();
    assert!(
        witnessed.contains(&serde_json::to_string(&checkpoint).unwrap()),
        "{witnessed}"
    );
    // The record is the JSON lines export, exactly, as it was then (a later
    // status webhook may have added a step since).
    let export = t
        .http
        .get(format!(
            "{}/api/v1/compliance/numbers/{}/record?format=jsonl",
            t.base,
            phone_path(KERRY)
        ))
        .bearer_auth(&t.compliance)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let record = entry(&bytes, bundle::RECORD);
    assert!(record.lines().count() >= 5, "{record}");
    assert!(
        export.starts_with(&record),
        "the bundle's record is the export's beginning:\n{record}\n{export}"
    );
    // Both providers' raw bodies, with their signatures as received.
    let names: Vec<String> = entries(&bytes).into_iter().map(|(n, _)| n).collect();
    for (suffix, what) in [
        (".json", "a WhatsApp body"),
        (".form", "an SMS body"),
        (".url", "an SMS signed URL"),
        (".signature", "a signature"),
    ] {
        assert!(
            names
                .iter()
                .any(|n| n.starts_with("webhooks/") && n.ends_with(suffix)),
            "{what} in {names:?}"
        );
    }
    assert_eq!(
        entry(&bytes, bundle::PUBLIC_KEY),
        public_key_pem(&t.service.state.checkpoints.public_key())
    );

    std::fs::write("/tmp/bundle-sample.zip", &bytes).unwrap();
    let report = verify(&bytes, trusted(&t)).unwrap();
    assert_eq!(report.phone, KERRY);

    // The binary, as an auditor runs it with the published key.
    let dir = tempfile::tempdir().unwrap();
    let zip_path = dir.path().join("bundle.zip");
    std::fs::write(&zip_path, &bytes).unwrap();
    let key_path = dir.path().join("published-key.pem");
    let published = t
        .http
        .get(format!("{}/api/v1/evidence/public-key", t.base))
        .bearer_auth(&t.compliance)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    std::fs::write(&key_path, published).unwrap();
    let output = run_binary(
        dir.path(),
        &[],
        &[
            "verify-bundle",
            zip_path.to_str().unwrap(),
            "--public-key",
            key_path.to_str().unwrap(),
        ],
    );
    let said = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "{said}{}", stderr(&output));
    assert!(said.contains("verifies"), "{said}");
    assert!(said.contains("SHA256SUMS"), "{said}");

    // The standard tools alone, as VERIFY.md gives them.
    let unzipped = dir.path().join("unzipped");
    unzip_into(&bytes, &unzipped);
    let said = run_guide(&unzipped).unwrap_or_else(|failed| panic!("{failed}"));
    assert!(
        said.iter()
            .any(|s| s.contains("Signature Verified Successfully")),
        "{said:?}"
    );
    // ... and they notice one changed byte.
    let record = unzipped.join(bundle::RECORD);
    let mut changed = std::fs::read(&record).unwrap();
    changed[10] ^= 1;
    std::fs::write(&record, changed).unwrap();
    let failed = run_guide(&unzipped).unwrap_err();
    assert!(failed.contains("record.jsonl: FAILED"), "{failed}");
    t.service.stop().await;
}

#[tokio::test]
async fn a_changed_file_a_changed_signature_and_an_untrusted_key_are_each_refused_by_name() {
    let t = start().await;
    let bytes = kerry_bundle(&t).await;
    let flip = |at: usize| move |content: &mut Vec<u8>| content[at] ^= 1;

    // A changed file: its sum no longer matches.
    let forged = altered(&bytes, bundle::RECORD, false, flip(10));
    assert_eq!(
        verify(&forged, trusted(&t)).unwrap_err(),
        BundleFault::Altered(bundle::RECORD.into())
    );
    // The same with SHA256SUMS recomputed: the event's hash no longer does.
    let forged = altered(&bytes, bundle::RECORD, true, |content| {
        let text = String::from_utf8(content.clone()).unwrap();
        *content = text
            .replacen("\"kind\":\"accepted\"", "\"kind\":\"rejected\"", 1)
            .into_bytes();
    });
    let fault = verify(&forged, trusted(&t)).unwrap_err();
    assert!(
        matches!(&fault, BundleFault::Event { problem, .. } if problem.contains("changed after it was recorded")),
        "{fault}"
    );
    // A changed signature.
    let forged = altered(&bytes, bundle::SIGNATURE, true, flip(0));
    let fault = verify(&forged, trusted(&t)).unwrap_err();
    assert_eq!(
        fault.to_string(),
        "the checkpoint's signature does not verify with the public key given with --public-key"
    );
    // A changed checkpoint (another head) fails the signature the same way.
    let forged = altered(&bytes, bundle::CHECKPOINT, true, |content| {
        let at = content.len() - 30;
        content[at] ^= 1;
    });
    assert!(matches!(
        verify(&forged, trusted(&t)).unwrap_err(),
        BundleFault::BadSignature(_)
    ));
    // A key other than the trusted one.
    let other = ed25519_dalek::SigningKey::from_bytes(&[7; 32]).verifying_key();
    assert_eq!(
        verify(&bytes, KeyChoice::Given(other)).unwrap_err(),
        BundleFault::OtherKey
    );
    // A bundle carrying a key of its own, with a signature that key did not make.
    let forged = altered(&bytes, bundle::PUBLIC_KEY, true, |content| {
        *content = public_key_pem(&other).into_bytes();
    });
    assert_eq!(
        verify(&forged, KeyChoice::Bundled).unwrap_err().to_string(),
        "the checkpoint's signature does not verify with the bundle's own public-key.pem"
    );

    // The binary exits non-zero, naming the problem.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("forged.zip");
    std::fs::write(&path, altered(&bytes, bundle::RECORD, false, flip(10))).unwrap();
    let output = run_binary(dir.path(), &[], &["verify-bundle", path.to_str().unwrap()]);
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "{said}");
    assert!(
        said.contains("record.jsonl was changed after the bundle was made"),
        "{said}"
    );
    t.service.stop().await;
}

#[tokio::test]
async fn a_bundle_is_refused_to_advisors_and_for_numbers_without_a_record_and_a_served_one_is_logged(
) {
    let t = start().await;
    opted_in_kerry(&t).await;
    let refusal = |(status, _, _, bytes): (u16, String, String, Vec<u8>)| {
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(json!(null)),
        )
    };
    assert_refused(
        &refusal(download(&t, &t.jane, KERRY).await),
        403,
        "compliance_role_required",
    );
    assert_refused(
        &refusal(download(&t, &t.compliance, "+447700900999").await),
        404,
        "not_found",
    );
    // A number the organization holds, with nothing recorded yet.
    t.add_contact(&t.jane, "Nora New", "+447700143101").await;
    assert_refused(
        &refusal(download(&t, &t.compliance, "+447700143101").await),
        409,
        "no_evidence",
    );
    // A refused bundle was not downloaded; a served one is in the access log.
    let logged = "SELECT COUNT(*) FROM access_log WHERE kind = 'bundle_downloaded'";
    assert_eq!(t.count(logged).await, 0, "nothing was served");
    assert_eq!(download(&t, &t.compliance, KERRY).await.0, 200);
    assert_eq!(t.count(logged).await, 1, "the download is logged");
    t.service.stop().await;
}

#[tokio::test]
async fn a_checkpoint_after_the_numbers_last_event_covers_it_through_the_links_between() {
    // Without the outbox worker nothing is sent, so no status arrives later:
    // Kerry's steps are the request and an SMS, then another contact's request.
    let t = start_without_outbox_worker().await;
    let kerry = t.contact_id(&t.jane, "Kerry").await;
    assert_eq!(t.opt_in_as(&t.jane, kerry, "kerry").await.0, 202);
    sms_from_kerry(&t).await;
    let (kerry_last, _) = t.service.state.store.chain_head(1).await.unwrap().unwrap();
    let other = t.add_contact(&t.jane, "Olive Other", "+447700143100").await;
    assert_eq!(t.opt_in_as(&t.jane, other, "other").await.0, 202);
    let state = &t.service.state;
    let signed = state
        .checkpoints
        .pass(
            &state.store,
            state.clock.now(),
            optin_server::checkpoints::Due::Now,
        )
        .await
        .unwrap();
    let signed_seq = signed[0].seq;
    assert!(signed_seq > kerry_last);

    let (status, _, _, bytes) = download(&t, &t.compliance, KERRY).await;
    assert_eq!(status, 200);
    // The checkpoint already in the witness is the one carried: none is signed for it.
    assert!(entry(&bytes, bundle::CHECKPOINT).contains(&format!("sequence: {signed_seq}\n")));
    let chain = entry(&bytes, bundle::CHAIN);
    assert_eq!(
        chain.lines().count() as i64,
        signed_seq,
        "links #1 to the signed head"
    );
    assert!(
        !entry(&bytes, bundle::RECORD).contains("+447700143100"),
        "no other contact's content"
    );
    let report = verify(&bytes, trusted(&t)).unwrap();
    assert!(
        report
            .checked
            .last()
            .unwrap()
            .contains("other contacts' events"),
        "{:?}",
        report.checked
    );
    let dir = tempfile::tempdir().unwrap();
    unzip_into(&bytes, dir.path());
    run_guide(dir.path()).unwrap_or_else(|failed| panic!("{failed}"));
    t.service.stop().await;
}
