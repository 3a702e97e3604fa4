//! `optin-server verify-bundle`: the checks of VERIFY.md, and those the
//! standard tools leave to the eye (that the record's fields are the hashed
//! texts, that the webhook files are the record's bodies), stopping at the
//! first problem.

use std::collections::BTreeSet;
use std::io::{Read, Seek};

use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};
use zip::ZipArchive;

use super::{
    hashed_file, WebhookFiles, CHAIN, CHECKPOINT, EVENT_HASHES, PUBLIC_KEY, RECORD, SIGNATURE, SUMS,
};
use crate::checkpoints::{read_public_key_pem, Checkpoint};
use crate::store::evidence::{chain_hash, hashed_text, EvidenceRow};

/// Which key the checkpoint is checked with.
#[derive(Debug, Clone, Copy)]
pub enum KeyChoice {
    /// The one the auditor trusts (`--public-key`): the bundle's must be it.
    Given(VerifyingKey),
    /// The bundle's own `public-key.pem` (the report says so).
    Bundled,
}

/// What a bundle that verifies showed.
#[derive(Debug, Clone)]
pub struct BundleReport {
    /// One sentence per check passed, in order.
    pub checked: Vec<String>,
    /// The signed checkpoint.
    pub checkpoint: Checkpoint,
    /// The number the record is about.
    pub phone: String,
}

/// The first problem found in a bundle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleFault {
    #[error("not a readable zip file: {0}")]
    NotAZip(String),
    #[error("{0} is missing from the bundle")]
    Missing(String),
    #[error("{file}: {problem}")]
    Unreadable { file: String, problem: String },
    #[error("{0} was changed after the bundle was made: its SHA-256 is not the one {SUMS} lists")]
    Altered(String),
    #[error("{0} is in the bundle but not listed in {SUMS}")]
    Unlisted(String),
    #[error("the checkpoint's signature does not verify with {0}")]
    BadSignature(&'static str),
    #[error("{PUBLIC_KEY} is not the public key given with --public-key")]
    OtherKey,
    #[error("event #{seq}: {problem}")]
    Event { seq: i64, problem: String },
    #[error("{CHAIN}: {0}")]
    Chain(String),
    #[error("the checkpoint covers events up to #{signed}, but the record goes on to #{last}")]
    NotCovered { signed: i64, last: i64 },
}

type Checked<T> = Result<T, BundleFault>;

const GIVEN_KEY: &str = "the public key given with --public-key";
const BUNDLED_KEY: &str = "the bundle's own public-key.pem";

/// Checks a bundle (see `VERIFY.md`); `key` is the one to trust.
pub fn verify(reader: impl Read + Seek, key: KeyChoice) -> Checked<BundleReport> {
    let mut zip = ZipArchive::new(reader).map_err(|e| BundleFault::NotAZip(e.to_string()))?;
    let mut checked = Vec::new();

    let listed = check_sums(&mut zip)?;
    checked.push(format!(
        "{SUMS}: all {listed} files are unchanged since the bundle was made"
    ));

    let checkpoint = check_signature(&mut zip, key, &mut checked)?;

    let rows = read_record(&mut zip)?;
    let Some((first, last)) = rows.first().zip(rows.last()) else {
        return Err(BundleFault::Unreadable {
            file: RECORD.into(),
            problem: "it holds no event".into(),
        });
    };
    let phone = first.phone_e164.clone();
    let first_seq = first.seq;
    let last_seq = last.seq;
    check_events(&mut zip, &rows, &checkpoint)?;
    checked.push(format!(
        "{RECORD}: {} events of {phone} (#{first_seq} to #{last_seq}), each hash recomputed from its fields and equal to hashed/<seq>.txt and {EVENT_HASHES}; every webhook file is the record's",
        rows.len()
    ));

    if last_seq > checkpoint.seq {
        return Err(BundleFault::NotCovered {
            signed: checkpoint.seq,
            last: last_seq,
        });
    }
    let links = check_chain(&mut zip, &rows, &checkpoint)?;
    checked.push(format!(
        "{CHAIN}: {links} links from #{first_seq} to the signed head #{}, each naming the one before; every event of the record is one of them",
        checkpoint.seq
    ));
    checked.push(if checkpoint.seq == last_seq {
        format!("the checkpoint signs the record's last event (#{last_seq}) itself")
    } else {
        format!(
            "the checkpoint signs #{}, after the record's last event #{last_seq}: the links between are other contacts' events, whose content is not in the bundle (verify-chain on the firm's record recomputes them)",
            checkpoint.seq
        )
    });
    Ok(BundleReport {
        checked,
        checkpoint,
        phone,
    })
}

fn read<R: Read + Seek>(zip: &mut ZipArchive<R>, name: &str) -> Checked<Vec<u8>> {
    let mut file = zip
        .by_name(name)
        .map_err(|_| BundleFault::Missing(name.to_owned()))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .map_err(|e| BundleFault::Unreadable {
            file: name.to_owned(),
            problem: e.to_string(),
        })?;
    Ok(bytes)
}

fn read_text<R: Read + Seek>(zip: &mut ZipArchive<R>, name: &str) -> Checked<String> {
    String::from_utf8(read(zip, name)?).map_err(|_| BundleFault::Unreadable {
        file: name.to_owned(),
        problem: "not UTF-8 text".into(),
    })
}

fn is_hash(text: &str) -> bool {
    text.len() == 64
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Every file listed with its SHA-256, and no file unlisted; returns how many.
fn check_sums<R: Read + Seek>(zip: &mut ZipArchive<R>) -> Checked<usize> {
    let sums = read_text(zip, SUMS)?;
    let mut listed = BTreeSet::new();
    for (index, line) in sums.lines().enumerate() {
        let unreadable = || BundleFault::Unreadable {
            file: SUMS.into(),
            problem: format!("line {} is not `<sha256>  <file>`", index + 1),
        };
        let (sum, name) = line.split_once("  ").ok_or_else(unreadable)?;
        if !is_hash(sum) {
            return Err(unreadable());
        }
        let mut file = zip
            .by_name(name)
            .map_err(|_| BundleFault::Missing(name.to_owned()))?;
        let mut hasher = Sha256::new();
        std::io::copy(&mut file, &mut hasher).map_err(|e| BundleFault::Unreadable {
            file: name.to_owned(),
            problem: e.to_string(),
        })?;
        if hex::encode(hasher.finalize()) != sum {
            return Err(BundleFault::Altered(name.to_owned()));
        }
        listed.insert(name.to_owned());
    }
    let unlisted = zip
        .file_names()
        .find(|name| *name != SUMS && !name.ends_with('/') && !listed.contains(*name))
        .map(str::to_owned);
    match unlisted {
        Some(name) => Err(BundleFault::Unlisted(name)),
        None => Ok(listed.len()),
    }
}

fn check_signature<R: Read + Seek>(
    zip: &mut ZipArchive<R>,
    key: KeyChoice,
    checked: &mut Vec<String>,
) -> Checked<Checkpoint> {
    let bundled = read_public_key_pem(&read_text(zip, PUBLIC_KEY)?).map_err(|problem| {
        BundleFault::Unreadable {
            file: PUBLIC_KEY.into(),
            problem,
        }
    })?;
    let (key, named) = match key {
        KeyChoice::Given(given) if given != bundled => return Err(BundleFault::OtherKey),
        KeyChoice::Given(given) => (given, GIVEN_KEY),
        KeyChoice::Bundled => (bundled, BUNDLED_KEY),
    };
    let message = read_text(zip, CHECKPOINT)?;
    let signature =
        Signature::from_slice(&read(zip, SIGNATURE)?).map_err(|_| BundleFault::Unreadable {
            file: SIGNATURE.into(),
            problem: "not a 64-byte Ed25519 signature".into(),
        })?;
    key.verify(message.as_bytes(), &signature)
        .map_err(|_| BundleFault::BadSignature(named))?;
    let checkpoint = Checkpoint::parse(&message).ok_or_else(|| BundleFault::Unreadable {
        file: CHECKPOINT.into(),
        problem: "a signed text that is not a checkpoint".into(),
    })?;
    checked.push(format!(
        "{CHECKPOINT}: signed by {named}: organization {}, event #{}, head {}, at {}",
        checkpoint.organization_id,
        checkpoint.seq,
        checkpoint.head,
        crate::store::timestamp(checkpoint.at)
    ));
    if named == BUNDLED_KEY {
        // Anyone can put a key of their own in a bundle: only a trusted one proves anything.
        checked.push(format!(
            "(compare {PUBLIC_KEY} with the key the firm publishes, or pass that with --public-key)"
        ));
    }
    Ok(checkpoint)
}

fn read_record<R: Read + Seek>(zip: &mut ZipArchive<R>) -> Checked<Vec<EvidenceRow>> {
    read_text(zip, RECORD)?
        .lines()
        .enumerate()
        .map(|(index, line)| {
            serde_json::from_str(line).map_err(|e| BundleFault::Unreadable {
                file: RECORD.into(),
                problem: format!("line {} is not a consent-record event: {e}", index + 1),
            })
        })
        .collect()
}

/// Each event well-formed, of the checkpoint's organization and the same
/// number, in order, its hash recomputed, its hashed text and webhook files
/// the record's.
fn check_events<R: Read + Seek>(
    zip: &mut ZipArchive<R>,
    rows: &[EvidenceRow],
    checkpoint: &Checkpoint,
) -> Checked<()> {
    let phone = &rows[0].phone_e164;
    let mut event_hashes = String::new();
    let mut previous = None;
    for row in rows {
        let fault = |problem: String| BundleFault::Event {
            seq: row.seq,
            problem,
        };
        if !is_hash(&row.hash) || !is_hash(&row.prev_hash) {
            return Err(fault(
                "its hash or previous hash is not 64 lowercase hex digits".into(),
            ));
        }
        if row.organization_id != checkpoint.organization_id {
            return Err(fault(format!(
                "of organization {}, not the checkpoint's {}",
                row.organization_id, checkpoint.organization_id
            )));
        }
        if &row.phone_e164 != phone {
            return Err(fault(format!("about {}, not {phone}", row.phone_e164)));
        }
        if previous.is_some_and(|seq| row.seq <= seq) {
            return Err(fault("out of order in the record".into()));
        }
        previous = Some(row.seq);
        if chain_hash(row) != row.hash {
            return Err(fault(
                "its content was changed after it was recorded (its hash does not recompute)"
                    .into(),
            ));
        }
        if read_text(zip, &hashed_file(row.seq))? != hashed_text(row) {
            return Err(fault(format!(
                "{} is not the text of its fields",
                hashed_file(row.seq)
            )));
        }
        event_hashes.push_str(&format!("{}  {}\n", row.hash, hashed_file(row.seq)));
        if let Some(body) = &row.raw_body {
            let files = WebhookFiles::of(row);
            let expected = [
                (&files.body, Some(body)),
                (&files.signature, row.signature_header.as_ref()),
                (&files.url, row.signed_url.as_ref()),
            ];
            for (file, content) in expected {
                if let Some(content) = content {
                    if &read_text(zip, file)? != content {
                        return Err(fault(format!("{file} is not the record's")));
                    }
                }
            }
        }
    }
    if read_text(zip, EVENT_HASHES)? != event_hashes {
        return Err(BundleFault::Unreadable {
            file: EVENT_HASHES.into(),
            problem: "it does not list exactly the record's events and hashes".into(),
        });
    }
    Ok(())
}

/// The links contiguous from the record's first event to the signed head,
/// each record event among them; returns how many.
fn check_chain<R: Read + Seek>(
    zip: &mut ZipArchive<R>,
    rows: &[EvidenceRow],
    checkpoint: &Checkpoint,
) -> Checked<usize> {
    let text = read_text(zip, CHAIN)?;
    let mut links = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line_number = index + 1;
        let parts: Vec<&str> = line.split(' ').collect();
        let link = match parts[..] {
            [seq, prev, hash] if is_hash(prev) && is_hash(hash) => {
                seq.parse::<i64>().ok().map(|seq| (seq, prev, hash))
            }
            _ => None,
        }
        .ok_or_else(|| {
            BundleFault::Chain(format!("line {line_number} is not `seq prev_hash hash`"))
        })?;
        if let Some((seq, _, hash)) = links.last() {
            if link.0 != seq + 1 || link.1 != *hash {
                return Err(BundleFault::Chain(format!(
                    "the link at line {line_number} (#{}) does not name #{seq} before it",
                    link.0
                )));
            }
        }
        links.push(link);
    }
    let first = rows[0].seq;
    match (links.first(), links.last()) {
        (Some(start), Some(end))
            if start.0 == first && end.0 == checkpoint.seq && end.2 == checkpoint.head => {}
        _ => {
            return Err(BundleFault::Chain(format!(
                "it does not run from the record's first event #{first} to the signed head #{} {}",
                checkpoint.seq, checkpoint.head
            )))
        }
    }
    for row in rows {
        let index = usize::try_from(row.seq - first).unwrap_or(usize::MAX);
        if links.get(index) != Some(&(row.seq, row.prev_hash.as_str(), row.hash.as_str())) {
            return Err(BundleFault::Chain(format!(
                "event #{} of the record is not the link at its place",
                row.seq
            )));
        }
    }
    Ok(links.len())
}
