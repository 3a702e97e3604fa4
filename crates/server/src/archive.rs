//! The archive feed for the firm's archive (SEC 17a-4, FINRA 4511): every
//! message and consent-record step as one RFC 5322 message, exported from a
//! cursor as a zip with a manifest, and, when configured, delivered by SMTP
//! to a journaling address.
//!
//! - What an item is and why it is archived once: `store/archive.rs`.
//! - Addresses, Message-IDs and file names: `optin_core::archive`.
//! - A rendered item is the same bytes every time (its Date, Message-ID and
//!   headers come from the stored item; only the contact's and advisor's
//!   names are read as they are now), so a zip's `.eml` and the message the
//!   journaling server received can be compared by SHA-256.
//! - Delivery is at least once, in feed order per organization: the cursor
//!   stored in `archive_deliveries` moves past an item only after the SMTP
//!   server accepted it. A crash between the server's acceptance and that
//!   write sends the item again on restart; it carries the same Message-ID,
//!   which is how the archive recognizes the repeat. Any failure (refused,
//!   unreachable, bad credentials) is retried with a growing wait; no item
//!   is ever skipped.

use std::time::{Duration, SystemTime};

use lettre::message::header::{ContentTransferEncoding, ContentType, HeaderName, HeaderValue};
use lettre::message::{Body, Mailbox};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use optin_core::archive::{
    file_name, header_text, ArchiveCounts, ArchiveFile, ArchiveKind, ArchiveManifest, ArchiveNames,
    DEFAULT_DOMAIN,
};
use optin_core::vocab::{Channel, Direction};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use crate::store::archive::{ArchiveItem, ArchivedMessage, ArchivedRecord};
use crate::store::evidence::EvidenceRow;
use crate::store::{Store, StoreError};
use crate::AppState;

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SmtpTls {
    /// Plain text (a relay on the same host or network only).
    None,
    /// Plain connection upgraded with STARTTLS, which is required.
    Starttls,
    /// TLS from the first byte (SMTPS).
    Tls,
}

impl SmtpTls {
    /// The usual port of each.
    fn default_port(self) -> u16 {
        match self {
            SmtpTls::None => 25,
            SmtpTls::Starttls => 587,
            SmtpTls::Tls => 465,
        }
    }
}

/// Settings of the archive feed (see the README's "Archive feed").
#[derive(Clone, clap::Args)]
pub struct ArchiveConfig {
    /// Domain of the archive's addresses and Message-IDs.
    #[arg(long = "archive-domain", env = "OPTIN_ARCHIVE_DOMAIN", default_value = DEFAULT_DOMAIN)]
    pub domain: String,
    /// SMTP server that receives the feed; no delivery when absent.
    #[arg(long = "archive-smtp-host", env = "OPTIN_ARCHIVE_SMTP_HOST")]
    pub smtp_host: Option<String>,
    /// Its port (by default 25, 587 or 465 by `--archive-smtp-tls`).
    #[arg(long = "archive-smtp-port", env = "OPTIN_ARCHIVE_SMTP_PORT")]
    pub smtp_port: Option<u16>,
    /// `none`, `starttls` or `tls`.
    #[arg(
        long = "archive-smtp-tls",
        env = "OPTIN_ARCHIVE_SMTP_TLS",
        value_enum,
        default_value = "starttls"
    )]
    pub smtp_tls: SmtpTls,
    /// SMTP user name (with the password; no authentication when absent).
    #[arg(long = "archive-smtp-username", env = "OPTIN_ARCHIVE_SMTP_USERNAME")]
    pub smtp_username: Option<String>,
    /// SMTP password.
    #[arg(
        long = "archive-smtp-password",
        env = "OPTIN_ARCHIVE_SMTP_PASSWORD",
        hide_env_values = true
    )]
    pub smtp_password: Option<String>,
    /// The journaling address every item is sent to (envelope recipient).
    #[arg(long = "archive-smtp-to", env = "OPTIN_ARCHIVE_SMTP_TO")]
    pub smtp_to: Option<String>,
    /// The envelope sender (bounces go there).
    #[arg(long = "archive-smtp-from", env = "OPTIN_ARCHIVE_SMTP_FROM")]
    pub smtp_from: Option<String>,
    /// How often delivery looks for new items, in milliseconds.
    #[arg(
        long = "archive-poll-ms",
        env = "OPTIN_ARCHIVE_POLL_MS",
        default_value_t = 5000
    )]
    pub poll_ms: u64,
}

// By hand: the password never reaches a log line or a panic message.
impl std::fmt::Debug for ArchiveConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArchiveConfig")
            .field("domain", &self.domain)
            .field("smtp_host", &self.smtp_host)
            .field("smtp_port", &self.smtp_port)
            .field("smtp_tls", &self.smtp_tls)
            .field("smtp_username", &self.smtp_username)
            .field("smtp_password", &self.smtp_password.as_ref().map(|_| "***"))
            .field("smtp_to", &self.smtp_to)
            .field("smtp_from", &self.smtp_from)
            .field("poll_ms", &self.poll_ms)
            .finish()
    }
}

impl Default for ArchiveConfig {
    fn default() -> Self {
        Self {
            domain: DEFAULT_DOMAIN.to_owned(),
            smtp_host: None,
            smtp_port: None,
            smtp_tls: SmtpTls::Starttls,
            smtp_username: None,
            smtp_password: None,
            smtp_to: None,
            smtp_from: None,
            poll_ms: 5000,
        }
    }
}

/// A resolved SMTP destination.
pub struct Journal {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    envelope: lettre::address::Envelope,
}

impl ArchiveConfig {
    /// Refuses settings that cannot work, naming the variable.
    pub fn validate(&self) -> Result<(), String> {
        let domain_ok = !self.domain.is_empty()
            && self
                .domain
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'));
        if !domain_ok {
            return Err(format!(
                "OPTIN_ARCHIVE_DOMAIN: {:?} is not a domain like optin.example.com",
                self.domain
            ));
        }
        if self.poll_ms == 0 {
            return Err("OPTIN_ARCHIVE_POLL_MS must be at least 1".to_owned());
        }
        if self.smtp_username.is_some() != self.smtp_password.is_some() {
            return Err(
                "set both OPTIN_ARCHIVE_SMTP_USERNAME and OPTIN_ARCHIVE_SMTP_PASSWORD, or neither"
                    .to_owned(),
            );
        }
        if self.smtp_host.is_some() {
            self.journal()?;
        } else if self.smtp_to.is_some() || self.smtp_from.is_some() {
            return Err("OPTIN_ARCHIVE_SMTP_TO and _FROM need OPTIN_ARCHIVE_SMTP_HOST".to_owned());
        }
        Ok(())
    }

    /// The SMTP destination, when delivery is configured.
    pub fn journal(&self) -> Result<Option<Journal>, String> {
        let Some(host) = &self.smtp_host else {
            return Ok(None);
        };
        let address = |name: &str, value: &Option<String>| -> Result<Address, String> {
            let value = value
                .as_deref()
                .ok_or_else(|| format!("{name} is needed with OPTIN_ARCHIVE_SMTP_HOST"))?;
            value
                .parse()
                .map_err(|e| format!("{name}: {value:?} is not an address: {e}"))
        };
        let to = address("OPTIN_ARCHIVE_SMTP_TO", &self.smtp_to)?;
        let from = address("OPTIN_ARCHIVE_SMTP_FROM", &self.smtp_from)?;
        let envelope = lettre::address::Envelope::new(Some(from), vec![to])
            .map_err(|e| format!("archive SMTP envelope: {e}"))?;
        let builder = match self.smtp_tls {
            SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
            SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)
                .map_err(|e| format!("OPTIN_ARCHIVE_SMTP_HOST: {e}"))?,
            SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host)
                .map_err(|e| format!("OPTIN_ARCHIVE_SMTP_HOST: {e}"))?,
        };
        let mut builder = builder
            .port(self.smtp_port.unwrap_or(self.smtp_tls.default_port()))
            .timeout(Some(SMTP_TIMEOUT));
        if let (Some(user), Some(password)) = (&self.smtp_username, &self.smtp_password) {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        Ok(Some(Journal {
            transport: builder.build(),
            envelope,
        }))
    }
}

/// How long one SMTP command may take.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// Longest wait between two tries after failures.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// Items read from the database at once.
const BATCH: u32 = 100;

/// Why an archive item could not be exported or delivered.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("archive item {cursor} cannot be rendered: {problem}")]
    Render { cursor: i64, problem: String },
    #[error("the export zip could not be written: {0}")]
    Zip(String),
    #[error("the journaling server did not accept archive item {cursor}: {source}")]
    Smtp {
        cursor: i64,
        #[source]
        source: lettre::transport::smtp::Error,
    },
}

impl From<ArchiveError> for crate::error::AppError {
    fn from(error: ArchiveError) -> Self {
        match error {
            ArchiveError::Store(e) => e.into(),
            other => crate::error::AppError::Internal(other.into()),
        }
    }
}

/// One item as an RFC 5322 message.
#[derive(Debug, Clone)]
pub struct RenderedItem {
    pub cursor: i64,
    pub kind: ArchiveKind,
    /// The message's or the consent event's id.
    pub id: i64,
    /// Its Message-ID header.
    pub message_id: String,
    pub bytes: Vec<u8>,
}

impl RenderedItem {
    /// What goes in SMTP's DATA: the message without its last line end,
    /// which the client's end-of-data sequence supplies, so the server
    /// stores exactly [`RenderedItem::bytes`].
    fn smtp_data(&self) -> &[u8] {
        self.bytes.strip_suffix(b"\r\n").unwrap_or(&self.bytes)
    }

    /// Its file in an export.
    pub fn file_name(&self) -> String {
        file_name(self.cursor, self.kind, self.id)
    }
}

fn channel_label(channel: Channel) -> &'static str {
    match channel {
        Channel::Whatsapp => "WhatsApp",
        Channel::Sms => "SMS",
    }
}

/// Renders an item (see the module doc and `optin_core::archive`).
pub fn render(item: &ArchiveItem, domain: &str) -> Result<RenderedItem, ArchiveError> {
    let names = ArchiveNames {
        domain,
        organization_id: item.organization_id,
    };
    let problem = |problem: String| ArchiveError::Render {
        cursor: item.cursor,
        problem,
    };
    let mailbox = |name: Option<&str>, address: String| -> Result<Mailbox, ArchiveError> {
        let address: Address = address
            .parse()
            .map_err(|e| problem(format!("address {address:?}: {e}")))?;
        Ok(Mailbox::new(name.map(header_text), address))
    };
    let contact = mailbox(
        item.contact_name.as_deref(),
        names.contact(&item.phone_e164, item.channel),
    )?;
    let advisor_or_organization = match &item.advisor {
        Some((id, name)) => mailbox(Some(name), names.advisor(*id))?,
        None => mailbox(Some(&item.organization_name), names.organization())?,
    };
    let mut headers = vec![
        ("X-Optin-Organization", item.organization_id.to_string()),
        ("X-Optin-Organization-Name", item.organization_name.clone()),
        ("X-Optin-Cursor", item.cursor.to_string()),
        ("X-Optin-Channel", item.channel.as_str().to_owned()),
        ("X-Optin-Contact", item.phone_e164.clone()),
    ];
    if let Some((id, name)) = &item.advisor {
        headers.push(("X-Optin-Advisor-Id", id.to_string()));
        headers.push(("X-Optin-Advisor", name.clone()));
    }
    if let Some(state) = item.consent_state {
        headers.push(("X-Optin-Consent-State", state.as_str().to_owned()));
    }
    let (kind, id, builder, body) = match &item.record {
        ArchivedRecord::Message(message) => {
            let (from, to) = match message.direction {
                Direction::Out => (advisor_or_organization, contact),
                Direction::In => (contact, advisor_or_organization),
            };
            headers.extend(message_headers(message));
            let builder = Message::builder()
                .from(from)
                .to(to)
                .subject(message_subject(item, message))
                .date(SystemTime::from(message.at));
            (
                ArchiveKind::Message,
                message.id,
                builder,
                message.body.clone(),
            )
        }
        ArchivedRecord::ConsentEvent(event) => {
            let record = mailbox(
                Some(&format!("{} consent record", item.organization_name)),
                names.consent_record(),
            )?;
            let received_at = crate::store::parse_timestamp("consent event", &event.received_at)?;
            let mut builder = Message::builder()
                .from(record)
                .to(contact)
                .subject(format!(
                    "Consent record #{}: {} ({})",
                    event.seq, event.kind, item.phone_e164
                ))
                .date(SystemTime::from(received_at));
            let detail: serde_json::Value =
                serde_json::from_str(&event.detail_json).unwrap_or_default();
            // A step about a message names it, so the archive threads the two.
            if let Some(message_id) = detail.get("message_id").and_then(|v| v.as_i64()) {
                builder = builder.references(names.message_id(ArchiveKind::Message, message_id));
            }
            headers.extend(event_headers(event, &detail));
            // The step exactly as the consent-record export writes it: the
            // archive can re-check its hash.
            let body = serde_json::to_string(event.as_ref()).map_err(|e| problem(e.to_string()))?;
            (ArchiveKind::ConsentEvent, event.id, builder, body)
        }
    };
    let message_id = names.message_id(kind, id);
    // Base64 of the text's bytes: the archive decodes exactly the text,
    // whatever its line breaks or length (7bit would rewrite line endings
    // and limit lines).
    let body = Body::new_with_encoding(body.into_bytes(), ContentTransferEncoding::Base64)
        .map_err(|_| problem("the body cannot be encoded".to_owned()))?;
    let mut message = builder
        .message_id(Some(message_id.clone()))
        .header(ContentType::TEXT_PLAIN)
        .body(body)
        .map_err(|e| problem(e.to_string()))?;
    for (name, value) in headers {
        message.headers_mut().insert_raw(HeaderValue::new(
            HeaderName::new_from_ascii_str(name),
            header_text(&value),
        ));
    }
    // The last line ends like every other: these are the bytes a server
    // stores (SMTP's end of data, CRLF "." CRLF, ends that line).
    let mut bytes = message.formatted();
    if !bytes.ends_with(b"\r\n") {
        bytes.extend_from_slice(b"\r\n");
    }
    Ok(RenderedItem {
        cursor: item.cursor,
        kind,
        id,
        message_id,
        bytes,
    })
}

fn message_subject(item: &ArchiveItem, message: &ArchivedMessage) -> String {
    let way = match message.direction {
        Direction::Out => "to",
        Direction::In => "from",
    };
    let template = message
        .template
        .as_ref()
        .map(|(name, language)| format!(" (template {name}, {language})"))
        .unwrap_or_default();
    format!(
        "{} message {way} {}{template}",
        channel_label(item.channel),
        item.phone_e164
    )
}

fn message_headers(message: &ArchivedMessage) -> Vec<(&'static str, String)> {
    let mut headers = vec![
        ("X-Optin-Item", ArchiveKind::Message.as_str().to_owned()),
        ("X-Optin-Message", message.id.to_string()),
        ("X-Optin-Direction", message.direction.as_str().to_owned()),
        ("X-Optin-Purpose", message.purpose.as_str().to_owned()),
        ("X-Optin-Message-Status", message.status.as_str().to_owned()),
    ];
    if let Some(provider_id) = &message.provider_message_id {
        headers.push(("X-Optin-Provider-Message-Id", provider_id.clone()));
    }
    if let Some((name, language)) = &message.template {
        headers.push(("X-Optin-Template", format!("{name} {language}")));
    }
    headers
}

fn event_headers(event: &EvidenceRow, detail: &serde_json::Value) -> Vec<(&'static str, String)> {
    let mut headers = vec![
        (
            "X-Optin-Item",
            ArchiveKind::ConsentEvent.as_str().to_owned(),
        ),
        ("X-Optin-Event", event.id.to_string()),
        ("X-Optin-Event-Seq", event.seq.to_string()),
        ("X-Optin-Event-Kind", event.kind.clone()),
        ("X-Optin-Event-Cause", event.cause.clone()),
        ("X-Optin-Event-Hash", event.hash.clone()),
        ("X-Optin-Event-Prev-Hash", event.prev_hash.clone()),
    ];
    if let Some(mode) = &event.mode {
        headers.push(("X-Optin-Mode", mode.clone()));
    }
    if let Some(provider_id) = detail.get("provider_message_id").and_then(|v| v.as_str()) {
        headers.push(("X-Optin-Provider-Message-Id", provider_id.to_owned()));
    }
    headers
}

/// An export: the zip's bytes and its manifest.
pub struct Export {
    pub zip: Vec<u8>,
    pub manifest: ArchiveManifest,
}

/// Most bytes of `.eml` one export holds (webhook bodies kept with steps
/// may be up to 1 MiB each); an export that reaches it ends early with
/// `more`, and always holds at least one item.
pub const MAX_EXPORT_BYTES: usize = 32 * 1024 * 1024;

/// The organization's items after `after`, at most `limit`, as a zip of
/// `.eml` files and `manifest.json`. Memory is bounded: items are read
/// [`BATCH`] at a time, up to `limit` (the route caps it at
/// [`optin_core::archive::MAX_EXPORT_ITEMS`]) and [`MAX_EXPORT_BYTES`].
pub async fn export(
    store: &Store,
    organization_id: i64,
    after: i64,
    limit: u32,
    domain: &str,
) -> Result<Export, ArchiveError> {
    let organization_name = store
        .organization(organization_id)
        .await?
        .map(|organization| organization.name)
        .unwrap_or_default();
    let mut rendered: Vec<RenderedItem> = Vec::new();
    let mut size = 0;
    let mut cursor = after;
    let more = 'fill: loop {
        let room = limit.saturating_sub(rendered.len() as u32);
        if room == 0 {
            break !store
                .archive_items(organization_id, cursor, 1)
                .await?
                .is_empty();
        }
        let items = store
            .archive_items(organization_id, cursor, room.min(BATCH))
            .await?;
        if items.is_empty() {
            break false;
        }
        for item in &items {
            let item = render(item, domain)?;
            if !rendered.is_empty() && size + item.bytes.len() > MAX_EXPORT_BYTES {
                break 'fill true;
            }
            size += item.bytes.len();
            cursor = item.cursor;
            rendered.push(item);
        }
    };
    let mut counts = ArchiveCounts::default();
    let files: Vec<ArchiveFile> = rendered
        .iter()
        .map(|item| {
            counts.add(item.kind);
            ArchiveFile {
                name: item.file_name(),
                cursor: item.cursor,
                kind: item.kind,
                id: item.id,
                message_id: item.message_id.clone(),
                sha256: hex::encode(Sha256::digest(&item.bytes)),
                bytes: item.bytes.len() as u64,
            }
        })
        .collect();
    let manifest = ArchiveManifest {
        organization_id,
        organization_name,
        from_cursor: after,
        to_cursor: cursor,
        more,
        counts,
        files,
    };
    let zip = write_zip(&rendered, &manifest).map_err(|e| ArchiveError::Zip(e.to_string()))?;
    Ok(Export { zip, manifest })
}

fn write_zip(
    rendered: &[RenderedItem],
    manifest: &ArchiveManifest,
) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    use std::io::Write;
    use zip::write::SimpleFileOptions;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    // No timestamps of the export's own: the same items give the same zip.
    let options = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default());
    for item in rendered {
        zip.start_file(item.file_name(), options)?;
        zip.write_all(&item.bytes)?;
    }
    zip.start_file("manifest.json", options)?;
    zip.write_all(&serde_json::to_vec_pretty(manifest)?)?;
    Ok(zip.finish()?.into_inner())
}

/// Sends every undelivered item of every organization, oldest first, each
/// organization's cursor moving past an item only once the server accepted
/// it. Returns how many were sent; stops early when `stop` is cancelled.
/// An organization whose item fails waits for the next pass; the others
/// are still served (the first failure is returned).
pub async fn deliver(
    state: &AppState,
    journal: &Journal,
    stop: &CancellationToken,
) -> Result<u64, ArchiveError> {
    let mut sent = 0;
    let mut first_failure = None;
    for (organization_id, cursor) in state.store.archive_backlog().await? {
        let delivered = deliver_organization(state, journal, stop, organization_id, cursor).await;
        sent += delivered.sent;
        if let Err(e) = delivered.outcome {
            first_failure.get_or_insert(e);
        }
    }
    first_failure.map_or(Ok(sent), Err)
}

/// What delivering one organization's backlog did.
struct Delivered {
    sent: u64,
    outcome: Result<(), ArchiveError>,
}

async fn deliver_organization(
    state: &AppState,
    journal: &Journal,
    stop: &CancellationToken,
    organization_id: i64,
    mut cursor: i64,
) -> Delivered {
    let mut sent = 0;
    let outcome = async {
        loop {
            let items = state
                .store
                .archive_items(organization_id, cursor, BATCH)
                .await?;
            if items.is_empty() {
                return Ok(());
            }
            for item in &items {
                if stop.is_cancelled() || !hold_lease(state).await? {
                    return Ok(());
                }
                let rendered = render(item, &state.config.archive.domain)?;
                journal
                    .transport
                    .send_raw(&journal.envelope, rendered.smtp_data())
                    .await
                    .map_err(|source| ArchiveError::Smtp {
                        cursor: item.cursor,
                        source,
                    })?;
                // Accepted: only now may the cursor pass it. A crash right
                // here sends it once more on restart, same Message-ID.
                state
                    .store
                    .archive_delivered(organization_id, item.cursor, state.clock.now())
                    .await?;
                sent += 1;
                cursor = item.cursor;
            }
        }
    }
    .await;
    Delivered { sent, outcome }
}

/// Delivers the feed until `stop` is cancelled, when an SMTP host is
/// configured: a pass every poll interval; after a failure the next try
/// waits twice as long as the last (up to five minutes), so a server that
/// refuses for a while delays the feed and loses nothing.
/// How long this instance keeps the archive delivery once it last renewed
/// it (before each item): several instances on one database deliver one at
/// a time, and another takes over this long after the holder stopped.
const LEASE: Duration = Duration::from_secs(120);

/// Whether this instance holds (or now takes) the archive delivery.
async fn hold_lease(state: &AppState) -> Result<bool, crate::store::StoreError> {
    let now = state.clock.now();
    let until = now + chrono::Duration::from_std(LEASE).expect("a short duration");
    state
        .store
        .hold_lease(LEASE_DUTY, &state.instance, now, until)
        .await
}

/// The lease's name.
const LEASE_DUTY: &str = "archive-delivery";

pub async fn run(state: AppState, stop: CancellationToken) {
    let journal = match state.config.archive.journal() {
        Ok(Some(journal)) => journal,
        Ok(None) => return,
        Err(e) => {
            // Validated at start; kept as a log line rather than a panic.
            tracing::error!(error = %e, "archive delivery is misconfigured");
            return;
        }
    };
    let poll = Duration::from_millis(state.config.archive.poll_ms);
    let mut wait = poll;
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(wait) => {}
        }
        // At shutdown a send in flight is abandoned: its item was not
        // recorded as delivered, so it goes again at the next start.
        let pass = tokio::select! {
            _ = stop.cancelled() => break,
            pass = deliver(&state, &journal, &stop) => pass,
        };
        match pass {
            Ok(sent) => {
                if sent > 0 {
                    tracing::info!(sent, "archive items delivered");
                }
                wait = poll;
            }
            Err(e) => {
                wait = (wait * 2).min(MAX_BACKOFF.max(poll));
                tracing::warn!(error = %e, retry_in_ms = wait.as_millis() as u64, "archive delivery failed");
            }
        }
    }
    if let Err(e) = state.store.release_lease(LEASE_DUTY, &state.instance).await {
        tracing::warn!(error = %e, "could not give up the archive delivery lease");
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use optin_core::consent::ConsentState;
    use optin_core::vocab::{MessageStatus, Purpose};

    use super::*;

    fn item(contact_name: &str, body: &str) -> ArchiveItem {
        ArchiveItem {
            cursor: 42,
            organization_id: 7,
            organization_name: "Acme Wealth".into(),
            phone_e164: "+447911123456".into(),
            channel: Channel::Whatsapp,
            advisor: Some((3, "Jane Smith".into())),
            contact_name: Some(contact_name.into()),
            consent_state: Some(ConsentState::OptedIn),
            record: ArchivedRecord::Message(ArchivedMessage {
                id: 123,
                direction: Direction::In,
                purpose: Purpose::Message,
                template: None,
                body: body.into(),
                provider_message_id: Some("wamid.ABC".into()),
                status: MessageStatus::Received,
                at: "2026-12-01T10:00:00Z".parse().unwrap(),
            }),
        }
    }

    /// The header lines (unfolded) and the decoded body of a rendered item.
    fn parse(bytes: &[u8]) -> (Vec<String>, Vec<u8>) {
        let text = String::from_utf8(bytes.to_vec()).unwrap();
        let (head, body) = text
            .split_once("\r\n\r\n")
            .expect("a blank line ends the headers");
        let mut lines: Vec<String> = Vec::new();
        for line in head.split("\r\n") {
            assert!(!line.contains('\r') && !line.contains('\n'), "{line:?}");
            match (line.starts_with([' ', '\t']), lines.last_mut()) {
                (true, Some(last)) => last.push_str(line),
                _ => lines.push(line.to_owned()),
            }
        }
        let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
        let body = base64::engine::general_purpose::STANDARD
            .decode(compact)
            .unwrap();
        (lines, body)
    }

    fn header<'a>(lines: &'a [String], name: &str) -> Vec<&'a str> {
        lines
            .iter()
            .filter_map(|line| line.split_once(": "))
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, value)| value)
            .collect()
    }

    #[test]
    fn a_message_renders_with_its_parties_headers_and_exact_text() {
        let text = "Thanks!\nSee you Monday.\r\n.\nTwo dots: ..";
        let rendered = render(&item("Kerry Fisher", text), DEFAULT_DOMAIN).unwrap();
        let (lines, body) = parse(&rendered.bytes);
        assert_eq!(body, text.as_bytes());
        assert_eq!(
            header(&lines, "From"),
            ["\"Kerry Fisher\" <+447911123456@whatsapp.org-7.optin.archive>"]
        );
        assert_eq!(
            header(&lines, "To"),
            ["\"Jane Smith\" <advisor-3@org-7.optin.archive>"]
        );
        assert_eq!(
            header(&lines, "Message-ID"),
            ["<org-7.msg-123@optin.archive>"]
        );
        assert_eq!(header(&lines, "Date"), ["Tue, 01 Dec 2026 10:00:00 +0000"]);
        for (name, value) in [
            ("X-Optin-Channel", "whatsapp"),
            ("X-Optin-Direction", "in"),
            ("X-Optin-Advisor", "Jane Smith"),
            ("X-Optin-Advisor-Id", "3"),
            ("X-Optin-Consent-State", "opted_in"),
            ("X-Optin-Organization", "7"),
            ("X-Optin-Provider-Message-Id", "wamid.ABC"),
            ("X-Optin-Message-Status", "received"),
            ("X-Optin-Cursor", "42"),
        ] {
            assert_eq!(header(&lines, name), [value], "{name}");
        }
        assert_eq!(rendered.message_id, "<org-7.msg-123@optin.archive>");
        assert_eq!(rendered.file_name(), "000000000042-msg-123.eml");
    }

    #[test]
    fn a_rendering_is_the_same_bytes_every_time() {
        let item = item("Kerry Fisher", "Hello");
        assert_eq!(
            render(&item, DEFAULT_DOMAIN).unwrap().bytes,
            render(&item, DEFAULT_DOMAIN).unwrap().bytes
        );
    }

    #[test]
    fn line_breaks_in_a_name_or_the_text_add_no_header() {
        let mut item = item(
            "Kerry\r\nBcc: spy@evil.example\r\nX-Optin-Consent-State: opted_out",
            "Hi\r\nBcc: spy@evil.example\r\n\r\nmore",
        );
        item.advisor = Some((3, "Jane\nSubject: forged".into()));
        item.organization_name = "Acme\r\nCc: spy@evil.example".into();
        let rendered = render(&item, DEFAULT_DOMAIN).unwrap();
        let (lines, body) = parse(&rendered.bytes);
        for forged in ["Bcc", "Cc"] {
            assert!(header(&lines, forged).is_empty(), "{lines:#?}");
        }
        assert_eq!(header(&lines, "Subject").len(), 1, "{lines:#?}");
        assert_eq!(header(&lines, "X-Optin-Consent-State"), ["opted_in"]);
        assert_eq!(body, b"Hi\r\nBcc: spy@evil.example\r\n\r\nmore");
    }
}
