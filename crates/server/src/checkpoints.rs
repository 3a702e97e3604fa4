//! Signed checkpoints of the consent record, kept outside the database.
//!
//! The hash chain shows an event edited in place, but whoever can write the
//! database file can also recompute every later hash, or delete the newest
//! events, and the chain still verifies. So the service signs each
//! organization's head (organization, sequence, head hash, time) with an
//! Ed25519 key that is never in the database, and appends it to a witness
//! folder outside it: once [`Config::checkpoint_events`] events were recorded
//! since the last checkpoint, or [`Config::checkpoint_minutes`] passed with
//! new events (both checked every second), and at every clean shutdown.
//! `verify-chain` then checks the record against them: a checkpoint beyond
//! the last event is truncation, a head that differs from the recomputed
//! hash is rewritten events (see [`crate::store::evidence::Fault`]).
//!
//! A witness file, `<witness>/organization-<id>.jsonl`, is only ever
//! appended to, one JSON line per checkpoint:
//! `{"checkpoint":"<message>","signature":"<base64>"}`. The signature is
//! Ed25519 (RFC 8032, pure) over the UTF-8 bytes of `checkpoint` exactly,
//! which is this text with LF line ends and a final LF:
//!
//! ```text
//! optin-server checkpoint v1
//! organization: 1
//! sequence: 42
//! head: <the event's hash: 64 lowercase hex digits>
//! time: 2026-12-02T10:00:00.000Z
//! ```
//!
//! The public key is served as PEM (SPKI) at `GET /api/v1/evidence/public-key`,
//! so `openssl pkeyutl -verify -pubin -rawin` checks a line (see the README).
//! The time is the service's own; with `OPTIN_TSA_URL` set, an RFC 3161
//! time-stamp authority also time-stamps each checkpoint (see
//! [`crate::timestamps`]).
//!
//! (Not to be confused with SQLite's write-ahead-log checkpoints of
//! [`crate::store::Store::checkpoint`].)

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use chrono::{DateTime, Utc};
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::store::evidence::BrokenLink;
use crate::store::{timestamp, Store, StoreError, StoreResult};
use crate::AppState;

/// First line of every checkpoint message: the format and its version.
const HEADER: &str = "optin-server checkpoint v1";

/// How often the interval is checked.
const TICK: std::time::Duration = std::time::Duration::from_secs(1);

/// An organization's head at a moment, as signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub organization_id: i64,
    /// Sequence number of the organization's last event.
    pub seq: i64,
    /// That event's hash.
    pub head: String,
    /// When it was signed (the service clock, to the millisecond).
    pub at: DateTime<Utc>,
}

impl Checkpoint {
    /// The exact text that is signed (see the module documentation).
    pub fn message(&self) -> String {
        format!(
            "{HEADER}\norganization: {}\nsequence: {}\nhead: {}\ntime: {}\n",
            self.organization_id,
            self.seq,
            self.head,
            timestamp(self.at)
        )
    }

    /// Reads a message; only the canonical text is accepted (it must
    /// render back to the same bytes).
    pub fn parse(message: &str) -> Option<Self> {
        let mut lines = message.strip_suffix('\n')?.split('\n');
        if lines.next()? != HEADER {
            return None;
        }
        let mut field = |name: &str| lines.next()?.strip_prefix(name)?.strip_prefix(": ");
        let organization_id = field("organization")?.parse().ok()?;
        let seq = field("sequence")?.parse().ok()?;
        let head = field("head")?.to_owned();
        let at = DateTime::parse_from_rfc3339(field("time")?)
            .ok()?
            .with_timezone(&Utc);
        let checkpoint = Self {
            organization_id,
            seq,
            head,
            at,
        };
        (lines.next().is_none() && checkpoint.message() == message).then_some(checkpoint)
    }
}

/// One line of a witness file.
#[derive(Debug, Serialize, Deserialize)]
struct WitnessLine {
    checkpoint: String,
    signature: String,
}

/// Why a witness file cannot be trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WitnessFault {
    #[error("{file}, line {line}: the checkpoint's signature does not verify with the public key")]
    BadSignature { file: String, line: usize },
    #[error("{file}, line {line}: not a checkpoint ({problem})")]
    Unreadable {
        file: String,
        line: usize,
        problem: String,
    },
    #[error("{file}, line {line}: a checkpoint of organization {found}, not of this one")]
    OtherOrganization {
        file: String,
        line: usize,
        found: i64,
    },
}

/// The folder the checkpoints are appended to.
#[derive(Debug, Clone)]
pub struct Witness {
    dir: PathBuf,
}

impl Witness {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The time-stamp authority's reply for one checkpoint, if it has one.
    pub fn time_stamp_file(&self, organization_id: i64, seq: i64) -> PathBuf {
        self.dir
            .join(format!("organization-{organization_id}-{seq}.tsr"))
    }

    /// An organization's witness file.
    pub fn file(&self, organization_id: i64) -> PathBuf {
        self.dir
            .join(format!("organization-{organization_id}.jsonl"))
    }

    /// Signs `checkpoint` and appends it as one line, flushed to disk before
    /// this returns (the line is the proof; a lost one proves nothing).
    pub fn append(&self, key: &SigningKey, checkpoint: &Checkpoint) -> std::io::Result<()> {
        let message = checkpoint.message();
        let line = WitnessLine {
            signature: BASE64.encode(key.sign(message.as_bytes()).to_bytes()),
            checkpoint: message,
        };
        let mut text = serde_json::to_string(&line).expect("witness lines serialize");
        text.push('\n');
        std::fs::create_dir_all(&self.dir)?;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.file(checkpoint.organization_id))?;
        // One write of the whole line: appends never interleave within it.
        file.write_all(text.as_bytes())?;
        file.sync_all()
    }

    /// An organization's checkpoints, each signature verified with `key`,
    /// in the file's order; none when there is no file yet.
    pub fn read(
        &self,
        organization_id: i64,
        key: &VerifyingKey,
    ) -> std::io::Result<Result<Vec<Checkpoint>, WitnessFault>> {
        Ok(self
            .read_signed(organization_id, key)?
            .map(|all| all.into_iter().map(|signed| signed.checkpoint).collect()))
    }

    /// Like [`Witness::read`], with each checkpoint's signature as the
    /// witness holds it.
    pub fn read_signed(
        &self,
        organization_id: i64,
        key: &VerifyingKey,
    ) -> std::io::Result<Result<Vec<SignedCheckpoint>, WitnessFault>> {
        let path = self.file(organization_id);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Ok(Vec::new())),
            Err(e) => return Err(e),
        };
        let file = path.display().to_string();
        let mut checkpoints = Vec::new();
        for (index, text) in text.lines().enumerate() {
            let line = index + 1;
            let unreadable = |problem: &str| WitnessFault::Unreadable {
                file: file.clone(),
                line,
                problem: problem.to_owned(),
            };
            let Ok(parsed) = serde_json::from_str::<WitnessLine>(text) else {
                return Ok(Err(unreadable("not a witness line")));
            };
            let signature = BASE64
                .decode(&parsed.signature)
                .ok()
                .and_then(|bytes| Signature::from_slice(&bytes).ok());
            let Some(signature) = signature else {
                return Ok(Err(unreadable("the signature is not 64 bytes of base64")));
            };
            if key
                .verify(parsed.checkpoint.as_bytes(), &signature)
                .is_err()
            {
                return Ok(Err(WitnessFault::BadSignature { file, line }));
            }
            let Some(checkpoint) = Checkpoint::parse(&parsed.checkpoint) else {
                return Ok(Err(unreadable("a signed text that is not a checkpoint")));
            };
            if checkpoint.organization_id != organization_id {
                return Ok(Err(WitnessFault::OtherOrganization {
                    file,
                    line,
                    found: checkpoint.organization_id,
                }));
            }
            checkpoints.push(SignedCheckpoint {
                checkpoint,
                signature,
            });
        }
        Ok(Ok(checkpoints))
    }
}

/// A checkpoint with its signature, as a witness line holds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCheckpoint {
    pub checkpoint: Checkpoint,
    /// Ed25519 over [`Checkpoint::message`].
    pub signature: Signature,
}

/// Where the signing key comes from.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// The PEM text itself (`OPTIN_CHECKPOINT_KEY`).
    Pem(String),
    /// A PEM file (`OPTIN_CHECKPOINT_KEY_FILE`).
    File(PathBuf),
    /// The sandbox's own key file in the data folder, made on first start.
    Sandbox(PathBuf),
}

impl KeySource {
    /// The private key; the sandbox's is generated when missing.
    pub fn signing_key(&self) -> Result<SigningKey, String> {
        if let KeySource::Sandbox(path) = self {
            if !path.exists() {
                generate_key_file(path)
                    .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
            }
        }
        let (pem, named) = match self {
            KeySource::Pem(pem) => (pem.clone(), "OPTIN_CHECKPOINT_KEY".to_owned()),
            KeySource::File(path) | KeySource::Sandbox(path) => (
                std::fs::read_to_string(path).map_err(|e| {
                    format!(
                        "OPTIN_CHECKPOINT_KEY_FILE {}: cannot be read: {e}",
                        path.display()
                    )
                })?,
                format!("OPTIN_CHECKPOINT_KEY_FILE {}", path.display()),
            ),
        };
        SigningKey::from_pkcs8_pem(pem.trim()).map_err(|e| {
            format!(
                "{named} is not an Ed25519 private key in PEM (PKCS#8, as \
                 `openssl genpkey -algorithm ed25519` writes it): {e}"
            )
        })
    }

    /// The public key, without creating anything: `None` for a sandbox
    /// whose key was never made (it signed nothing).
    pub fn verifying_key(&self) -> Result<Option<VerifyingKey>, String> {
        match self {
            KeySource::Sandbox(path) if !path.exists() => Ok(None),
            source => Ok(Some(source.signing_key()?.verifying_key())),
        }
    }
}

/// Writes a new private key as PEM (PKCS#8), readable by its owner only;
/// refuses to replace an existing file.
pub fn generate_key_file(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(pem.as_bytes())?;
    file.sync_all()
}

/// A public key as PEM (SPKI), as `openssl pkey -pubin` reads it.
pub fn public_key_pem(key: &VerifyingKey) -> String {
    key.to_public_key_pem(LineEnding::LF)
        .expect("an Ed25519 public key encodes")
}

/// Reads a public key from PEM (SPKI).
pub fn read_public_key_pem(pem: &str) -> Result<VerifyingKey, String> {
    VerifyingKey::from_public_key_pem(pem.trim())
        .map_err(|e| format!("not an Ed25519 public key in PEM (SPKI): {e}"))
}

/// Whether a pass signs a moved head only when the interval says so, or always.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// Every N events or M minutes.
    ByInterval,
    /// Now (a clean shutdown).
    Now,
}

/// The service's signer: its key, its witness and what it last signed.
pub struct Checkpoints {
    key: SigningKey,
    witness: Witness,
    every_events: i64,
    every: chrono::Duration,
    started: DateTime<Utc>,
    /// Per organization, the last checkpoint in the witness (read once).
    last: tokio::sync::Mutex<HashMap<i64, Option<Checkpoint>>>,
    /// The time-stamp authority, when one is configured.
    authority: Option<crate::timestamps::Authority>,
}

impl Checkpoints {
    /// The configured signer (the sandbox's key is made on first start).
    pub fn open(config: &Config, now: DateTime<Utc>) -> Result<Self, String> {
        let (Some(source), Some(witness)) = (config.checkpoint_key_source(), config.witness_dir())
        else {
            return Err(
                "signed checkpoints need OPTIN_CHECKPOINT_KEY_FILE (or OPTIN_CHECKPOINT_KEY) and OPTIN_WITNESS_DIR"
                    .into(),
            );
        };
        Ok(Self {
            key: source.signing_key()?,
            witness: Witness::new(witness),
            every_events: i64::try_from(config.checkpoint_events).unwrap_or(i64::MAX),
            every: chrono::Duration::minutes(
                i64::try_from(config.checkpoint_minutes).unwrap_or(i64::MAX / 60_000),
            ),
            started: now,
            last: Default::default(),
            authority: match &config.tsa_url {
                Some(url) => {
                    let http = reqwest::Client::builder()
                        .timeout(config.provider_timeout())
                        .build()
                        .map_err(|e| e.to_string())?;
                    Some(crate::timestamps::Authority::new(url.clone(), http))
                }
                None => None,
            },
        })
    }

    /// The key that verifies the checkpoints.
    pub fn public_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// Where they are appended.
    pub fn witness(&self) -> &Witness {
        &self.witness
    }

    /// Signs a checkpoint for every organization whose record moved since
    /// its last one, when `due`; returns what was signed. A head that no
    /// longer extends the last checkpoint is never signed over: the record
    /// was changed behind the service's back and the witness must keep
    /// saying so.
    pub async fn pass(
        &self,
        store: &Store,
        now: DateTime<Utc>,
        due: Due,
    ) -> StoreResult<Vec<Checkpoint>> {
        let mut last = self.last.lock().await;
        let mut signed = Vec::new();
        for organization_id in store.organization_ids().await? {
            let Some((seq, head)) = store.chain_head(organization_id).await? else {
                continue;
            };
            let previous = match last.get(&organization_id) {
                Some(previous) => previous.clone(),
                None => match self.last_in_witness(organization_id).await {
                    Ok(previous) => previous,
                    Err(e) => {
                        tracing::error!(organization = organization_id, error = %e, "the witness cannot be read; no checkpoint signed");
                        continue;
                    }
                },
            };
            let (since_seq, since) = previous
                .as_ref()
                .map_or((0, self.started), |c| (c.seq, c.at));
            let moved = seq > since_seq;
            let interval = seq - since_seq >= self.every_events || now - since >= self.every;
            if !moved || (due == Due::ByInterval && !interval) {
                last.insert(organization_id, previous);
                continue;
            }
            if let Some(previous) = &previous {
                let recorded = store.event_hash(organization_id, previous.seq).await?;
                if recorded.as_deref() != Some(previous.head.as_str()) {
                    tracing::error!(
                        organization = organization_id,
                        seq = previous.seq,
                        "the consent record no longer matches its last checkpoint; not signing over it (run verify-chain)"
                    );
                    last.insert(organization_id, Some(previous.clone()));
                    continue;
                }
            }
            let checkpoint = Checkpoint {
                organization_id,
                seq,
                head,
                at: now,
            };
            let (witness, key, line) = (self.witness.clone(), self.key.clone(), checkpoint.clone());
            let written = tokio::task::spawn_blocking(move || witness.append(&key, &line))
                .await
                .map_err(std::io::Error::other)
                .and_then(|done| done);
            match written {
                Ok(()) => {
                    last.insert(organization_id, Some(checkpoint.clone()));
                    signed.push(checkpoint);
                }
                Err(e) => {
                    tracing::error!(organization = organization_id, error = %e, "a checkpoint could not be written to the witness");
                    last.insert(organization_id, previous);
                }
            }
        }
        drop(last);
        for checkpoint in &signed {
            self.time_stamp(checkpoint).await;
        }
        Ok(signed)
    }

    /// The time-stamp authority's reply for checkpoint `seq`, if it has one.
    pub async fn time_stamp_of(&self, organization_id: i64, seq: i64) -> Option<Vec<u8>> {
        tokio::fs::read(self.witness.time_stamp_file(organization_id, seq))
            .await
            .ok()
    }

    /// Has the authority, if any, time-stamp a witnessed checkpoint and keeps
    /// its reply beside the witness file. A failure is logged only: the
    /// checkpoint stands signed and witnessed without it.
    async fn time_stamp(&self, checkpoint: &Checkpoint) {
        let Some(authority) = &self.authority else {
            return;
        };
        let organization = checkpoint.organization_id;
        let reply = match authority.stamp(checkpoint.message().as_bytes()).await {
            Ok(reply) => reply,
            Err(e) => {
                tracing::error!(organization, seq = checkpoint.seq, error = %e, "the checkpoint could not be time-stamped");
                return;
            }
        };
        let path = self.witness.time_stamp_file(organization, checkpoint.seq);
        let written = tokio::task::spawn_blocking(move || {
            // Whole or not at all: written aside, then renamed into place.
            let partial = path.with_extension("tsr.part");
            std::fs::write(&partial, reply)?;
            std::fs::rename(&partial, &path)
        })
        .await
        .map_err(std::io::Error::other)
        .and_then(|done| done);
        if let Err(e) = written {
            tracing::error!(organization, seq = checkpoint.seq, error = %e, "the checkpoint's time-stamp could not be kept");
        }
    }

    /// The earliest checkpoint in the witness that covers event `seq` of the
    /// organization (its sequence is `seq` or later: the fewest links to
    /// show). When none does yet, the head is signed now, so that a bundle is
    /// always covered; `None` only when the head cannot be signed (the record
    /// no longer matches its last checkpoint, or the witness cannot be
    /// written: both logged).
    pub async fn covering(
        &self,
        store: &Store,
        organization_id: i64,
        seq: i64,
        now: DateTime<Utc>,
    ) -> Result<Option<SignedCheckpoint>, VerifyError> {
        if let Some(found) = self.first_covering(organization_id, seq).await? {
            return Ok(Some(found));
        }
        self.pass(store, now, Due::Now).await?;
        self.first_covering(organization_id, seq).await
    }

    async fn first_covering(
        &self,
        organization_id: i64,
        seq: i64,
    ) -> Result<Option<SignedCheckpoint>, VerifyError> {
        let (witness, key) = (self.witness.clone(), self.public_key());
        let read = tokio::task::spawn_blocking(move || witness.read_signed(organization_id, &key))
            .await
            .map_err(|e| VerifyError::Io(e.to_string()))?
            .map_err(|e| VerifyError::Io(e.to_string()))?
            .map_err(|fault| VerifyError::Io(fault.to_string()))?;
        Ok(read
            .into_iter()
            .filter(|signed| signed.checkpoint.seq >= seq)
            .min_by_key(|signed| signed.checkpoint.seq))
    }

    /// The last checkpoint of the organization that the witness holds
    /// (signed by this key), if any.
    async fn last_in_witness(&self, organization_id: i64) -> Result<Option<Checkpoint>, String> {
        let (witness, key) = (self.witness.clone(), self.public_key());
        let read = tokio::task::spawn_blocking(move || witness.read(organization_id, &key))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        read.map(|all| all.into_iter().max_by_key(|c| c.seq))
            .map_err(|fault| fault.to_string())
    }
}

/// Checks the interval every second until `stop` is cancelled (the last
/// checkpoint at shutdown is [`crate::Service::stop`]'s).
pub async fn run(state: AppState, stop: CancellationToken) {
    let mut every = tokio::time::interval(TICK);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = every.tick() => {}
        }
        let now = state.clock.now();
        if let Err(e) = state
            .checkpoints
            .pass(&state.store, now, Due::ByInterval)
            .await
        {
            tracing::warn!(error = %e, "checkpoint pass failed");
        }
    }
}

/// What checking a record against its witness found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every event verifies and agrees with every checkpoint.
    Intact {
        events: u64,
        checkpoints: usize,
        /// The last event a checkpoint covers.
        covered_to: Option<i64>,
    },
    /// The record is broken at a named event.
    Broken(BrokenLink),
    /// The witness itself does not verify.
    Witness(WitnessFault),
}

/// Why a record could not be checked at all.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot read the witness: {0}")]
    Io(String),
    #[error(
        "{file} holds checkpoints but no public key was given to check them \
         (--public-key, or the service's key settings)"
    )]
    NoKey { file: String },
}

/// Checks an organization's record against the checkpoints in `witness`
/// (each signature with `key`): the one check behind `verify-chain` and
/// `GET /api/v1/compliance/chain`.
pub async fn verify(
    store: &Store,
    witness: &Witness,
    key: Option<&VerifyingKey>,
    organization_id: i64,
) -> Result<Verdict, VerifyError> {
    let checkpoints = match key {
        Some(key) => {
            let file = witness.file(organization_id).display().to_string();
            let (witness, key) = (witness.clone(), *key);
            let read = tokio::task::spawn_blocking(move || witness.read(organization_id, &key))
                .await
                .map_err(|e| VerifyError::Io(e.to_string()))?
                .map_err(|e| VerifyError::Io(format!("{file}: {e}")))?;
            match read {
                Ok(checkpoints) => checkpoints,
                Err(fault) => return Ok(Verdict::Witness(fault)),
            }
        }
        None if witness.file(organization_id).exists() => {
            return Err(VerifyError::NoKey {
                file: witness.file(organization_id).display().to_string(),
            })
        }
        None => Vec::new(),
    };
    Ok(
        match store.verify_chain(organization_id, &checkpoints).await? {
            Ok(events) => Verdict::Intact {
                events,
                checkpoints: checkpoints.len(),
                covered_to: checkpoints.iter().map(|c| c.seq).max(),
            },
            Err(broken) => Verdict::Broken(broken),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checkpoint() -> Checkpoint {
        Checkpoint {
            organization_id: 7,
            seq: 42,
            head: "ab".repeat(32),
            at: DateTime::parse_from_rfc3339("2026-12-02T10:00:00.123Z")
                .unwrap()
                .with_timezone(&Utc),
        }
    }

    #[test]
    fn the_signed_message_is_the_documented_text_and_reads_back() {
        let message = checkpoint().message();
        assert_eq!(
            message,
            format!(
                "optin-server checkpoint v1\norganization: 7\nsequence: 42\nhead: {}\ntime: 2026-12-02T10:00:00.123Z\n",
                "ab".repeat(32)
            )
        );
        assert_eq!(Checkpoint::parse(&message), Some(checkpoint()));
        for altered in [
            message.replace("\n", "\r\n"),
            message.trim_end().to_owned(),
            message.replace("sequence: 42", "sequence: 042"),
            message.replace(
                "time: 2026-12-02T10:00:00.123Z",
                "time: 2026-12-02T10:00:00.123+00:00",
            ),
            format!("{message}extra: 1\n"),
        ] {
            assert_eq!(Checkpoint::parse(&altered), None, "{altered:?}");
        }
    }

    #[test]
    fn a_witness_line_verifies_with_its_key_only() {
        let dir = tempfile_dir();
        let witness = Witness::new(&dir);
        let key = SigningKey::generate(&mut rand::rngs::OsRng);
        witness.append(&key, &checkpoint()).unwrap();
        let read = witness.read(7, &key.verifying_key()).unwrap().unwrap();
        assert_eq!(read, vec![checkpoint()]);
        let other = SigningKey::generate(&mut rand::rngs::OsRng);
        assert!(matches!(
            witness.read(7, &other.verifying_key()).unwrap(),
            Err(WitnessFault::BadSignature { line: 1, .. })
        ));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn keys_round_trip_through_pem() {
        let dir = tempfile_dir();
        let path = dir.join("key.pem");
        generate_key_file(&path).unwrap();
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(generate_key_file(&path).is_err(), "never replaced");
        let key = KeySource::File(path).signing_key().unwrap();
        let public = read_public_key_pem(&public_key_pem(&key.verifying_key())).unwrap();
        assert_eq!(public, key.verifying_key());
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// A fresh folder under the system's temporary folder (the crate has no
    /// `tempfile` outside its integration tests).
    fn tempfile_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("optin-checkpoints-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
