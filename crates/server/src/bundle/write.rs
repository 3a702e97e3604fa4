//! Writes a bundle into a file, entry by entry as the rows arrive: memory
//! holds one row and one line per file for `SHA256SUMS`, never the record.

use std::io::{Seek, Write};

use chrono::{DateTime, Datelike, Timelike, Utc};
use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

use super::verify_md::{self, Guide};
use super::{
    hashed_file, WebhookFiles, CHAIN, CHECKPOINT, EVENT_HASHES, PUBLIC_KEY, RECORD, SIGNATURE,
    SUMS, TIME_STAMP, VERIFY,
};
use crate::checkpoints::SignedCheckpoint;
use crate::store::evidence::{hashed_text, jsonl_line, ChainLink, EvidenceRow};
use crate::store::{timestamp, StoreError, StoreResult};

/// What a bundle is of, besides the rows.
#[derive(Debug, Clone)]
pub struct BundleHeader {
    /// The number, E.164.
    pub phone: String,
    pub organization_id: i64,
    /// The checkpoint that covers the number's last event.
    pub checkpoint: SignedCheckpoint,
    /// The time-stamp authority's reply for it (DER), if it has one.
    pub time_stamp: Option<Vec<u8>>,
    /// The key that verifies it, PEM (SPKI).
    pub public_key_pem: String,
    pub made_at: DateTime<Utc>,
}

/// Why a bundle could not be written.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the bundle could not be written: {0}")]
    Zip(#[from] zip::result::ZipError),
    #[error("the bundle could not be written: {0}")]
    Io(#[from] std::io::Error),
    /// The links read do not lead to the signed head: the record no longer
    /// agrees with its checkpoint, and a bundle would not verify.
    #[error("the consent record does not lead to its signed checkpoint (#{checkpoint_seq}): {problem}; run verify-chain")]
    NotAnchored {
        checkpoint_seq: i64,
        problem: String,
    },
}

/// A zip whose every entry is hashed as it is written.
struct HashedZip<W: Write + Seek> {
    zip: ZipWriter<W>,
    options: SimpleFileOptions,
    /// `sha256sum` lines of the entries written so far.
    sums: String,
    /// The entry being written, and its hash so far.
    open: Option<(String, Sha256)>,
}

impl<W: Write + Seek> HashedZip<W> {
    fn new(out: W, made_at: DateTime<Utc>) -> Self {
        let modified = zip::DateTime::from_date_and_time(
            u16::try_from(made_at.year()).unwrap_or(1980),
            made_at.month() as u8,
            made_at.day() as u8,
            made_at.hour() as u8,
            made_at.minute() as u8,
            made_at.second() as u8,
        )
        .unwrap_or_default();
        Self {
            zip: ZipWriter::new(out),
            options: SimpleFileOptions::default()
                .compression_method(CompressionMethod::Deflated)
                .last_modified_time(modified)
                .unix_permissions(0o644),
            sums: String::new(),
            open: None,
        }
    }

    fn start(&mut self, name: &str) -> Result<(), BundleError> {
        self.close();
        self.zip.start_file(name, self.options)?;
        self.open = Some((name.to_owned(), Sha256::new()));
        Ok(())
    }

    fn append(&mut self, bytes: &[u8]) -> Result<(), BundleError> {
        if let Some((_, hasher)) = &mut self.open {
            hasher.update(bytes);
        }
        self.zip.write_all(bytes)?;
        Ok(())
    }

    fn file(&mut self, name: &str, bytes: &[u8]) -> Result<(), BundleError> {
        self.start(name)?;
        self.append(bytes)
    }

    /// Records the open entry's sum.
    fn close(&mut self) {
        if let Some((name, hasher)) = self.open.take() {
            // Two spaces: sha256sum's text mode, which `sha256sum -c` reads.
            self.sums
                .push_str(&format!("{}  {name}\n", hex::encode(hasher.finalize())));
        }
    }

    /// Writes `SHA256SUMS` (not listed in itself) and the zip's directory.
    fn finish(mut self) -> Result<W, BundleError> {
        self.close();
        let sums = std::mem::take(&mut self.sums);
        self.zip.start_file(SUMS, self.options)?;
        self.zip.write_all(sums.as_bytes())?;
        Ok(self.zip.finish()?)
    }
}

/// Writes the bundle of `header.phone` into `out`: `record` and `again` are
/// two reads of the number's events (the same ones, in order), `links` the
/// organization's chain links from its first event to the checkpoint's.
pub fn write<W: Write + Seek>(
    out: W,
    header: &BundleHeader,
    record: impl Iterator<Item = StoreResult<EvidenceRow>>,
    again: impl Iterator<Item = StoreResult<EvidenceRow>>,
    links: impl Iterator<Item = StoreResult<ChainLink>>,
) -> Result<W, BundleError> {
    let mut zip = HashedZip::new(out, header.made_at);

    zip.start(RECORD)?;
    for row in record {
        zip.append(jsonl_line(&row?).as_bytes())?;
    }

    let mut guide = Guide::default();
    let mut event_hashes = String::new();
    for row in again {
        let row = row?;
        guide.note_event(&row);
        zip.file(&hashed_file(row.seq), hashed_text(&row).as_bytes())?;
        event_hashes.push_str(&format!("{}  {}\n", row.hash, hashed_file(row.seq)));
        if let Some(body) = &row.raw_body {
            let files = WebhookFiles::of(&row);
            zip.file(&files.body, body.as_bytes())?;
            if let Some(signature) = &row.signature_header {
                zip.file(&files.signature, signature.as_bytes())?;
            }
            if let Some(url) = &row.signed_url {
                zip.file(&files.url, url.as_bytes())?;
            }
        }
    }
    zip.file(EVENT_HASHES, event_hashes.as_bytes())?;

    let checkpoint = &header.checkpoint.checkpoint;
    let not_anchored = |problem: String| BundleError::NotAnchored {
        checkpoint_seq: checkpoint.seq,
        problem,
    };
    zip.start(CHAIN)?;
    let mut last: Option<ChainLink> = None;
    for link in links {
        let link = link?;
        if let Some(before) = &last {
            if link.seq != before.seq + 1 || link.prev_hash != before.hash {
                return Err(not_anchored(format!(
                    "event #{} does not link to #{}",
                    link.seq, before.seq
                )));
            }
        }
        zip.append(format!("{} {} {}\n", link.seq, link.prev_hash, link.hash).as_bytes())?;
        last = Some(link);
    }
    match &last {
        Some(head) if head.seq == checkpoint.seq && head.hash == checkpoint.head => {}
        _ => {
            return Err(not_anchored(format!(
                "the signed head is {}, the record gives {}",
                checkpoint.head,
                last.map_or_else(
                    || "no event".to_owned(),
                    |l| format!("#{} {}", l.seq, l.hash)
                )
            )))
        }
    }

    zip.file(CHECKPOINT, checkpoint.message().as_bytes())?;
    zip.file(SIGNATURE, &header.checkpoint.signature.to_bytes())?;
    if let Some(reply) = &header.time_stamp {
        zip.file(TIME_STAMP, reply)?;
    }
    zip.file(PUBLIC_KEY, header.public_key_pem.as_bytes())?;
    let text = verify_md::render(header, &guide, &timestamp(header.made_at));
    zip.file(VERIFY, text.as_bytes())?;
    zip.finish()
}
