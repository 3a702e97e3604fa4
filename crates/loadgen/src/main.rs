//! `optin-loadgen`: the load generator behind `cargo xtask bench` (and,
//! in `chaos`, `cargo xtask chaos`).
//!
//! - `webhooks`: posts signed WhatsApp webhooks (inbound text messages from
//!   many distinct numbers, each with a unique wamid) as fast as the service
//!   acknowledges them over N connections, records each acknowledgement's
//!   latency, then opens the SQLite file read-only and checks that every
//!   acknowledged webhook was stored exactly once.
//! - `seed-contacts`: inserts many contacts for one advisor straight into the
//!   SQLite file, in one transaction (run it while the service is stopped).
//! - `contacts`: measures `GET /api/v1/contacts` searches and pages.
//!
//! Every subcommand prints one JSON object on stdout; progress goes to stderr.
//! Traffic goes only to the `--base` URL given (a local service); every loop
//! is bounded in count and in time.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod chaos;

use clap::{Parser, Subcommand};
use optin_server::providers::signature::meta_signature;
use optin_server::store::seed::SANDBOX_PHONE_NUMBER_ID;
use serde_json::{json, Value};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
use sqlx::{ConnectOptions, Connection, SqliteConnection};

#[derive(Parser)]
#[command(about = "Load generator for `cargo xtask bench`")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Signed WhatsApp webhooks at the highest rate the service sustains.
    Webhooks {
        /// Base URL of the service, e.g. http://127.0.0.1:8080; repeated for
        /// several instances, which share the connections evenly.
        #[arg(long, required = true)]
        base: Vec<String>,
        /// The service's Meta app secret (`--wa-app-secret`).
        #[arg(long)]
        secret: String,
        /// The service's SQLite file, checked read-only after the run
        /// (without it, nothing is checked: the ceiling run).
        #[arg(long)]
        db: Option<PathBuf>,
        /// Where the webhooks are posted: the real route, or the sandbox's
        /// signature-only one that measures the ceiling.
        #[arg(long, default_value = "/webhooks/whatsapp")]
        path: String,
        /// Webhooks in the timed run.
        #[arg(long, default_value_t = 20_000)]
        count: usize,
        /// Webhooks sent before the timed run (checked too, not timed).
        #[arg(long, default_value_t = 1_000)]
        warmup: usize,
        /// Concurrent connections.
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        /// The service's process id, to report its CPU time during the run.
        #[arg(long)]
        server_pid: Option<u32>,
        /// Gives up sending after this many seconds.
        #[arg(long, default_value_t = 300)]
        max_seconds: u64,
    },
    /// Signed webhooks for a fixed time, each redelivered until acknowledged,
    /// while `cargo xtask chaos` kills the service; then the exactly-once check.
    ChaosWebhooks {
        #[arg(long)]
        base: String,
        #[arg(long)]
        secret: String,
        #[arg(long)]
        db: PathBuf,
        #[arg(long, default_value_t = 30)]
        seconds: u64,
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        /// Seconds from the start at which to hold the database's write lock (repeatable).
        #[arg(long)]
        lock_at: Vec<u64>,
        #[arg(long, default_value_t = 7)]
        lock_seconds: u64,
    },
    /// A stand-in Graph API and Twilio that injects a fault, while the
    /// advisor asks contacts to opt in; counts sends per job.
    ProviderFaults {
        /// Address to listen on (the service's provider base URLs).
        #[arg(long)]
        listen: std::net::SocketAddr,
        #[arg(long)]
        base: String,
        /// The service's Meta app secret.
        #[arg(long)]
        secret: String,
        /// An integration API key of the organization.
        #[arg(long)]
        crm_key: String,
        /// The advisor's CRM id.
        #[arg(long)]
        advisor: String,
        #[arg(long, value_enum)]
        fault: chaos::Fault,
        #[arg(long, default_value_t = 6)]
        contacts: usize,
        #[arg(long, default_value_t = 2)]
        faulty: usize,
        #[arg(long, default_value_t = 12)]
        hang_seconds: u64,
        /// File with the service's process id (rewritten on every restart).
        #[arg(long)]
        pid_file: PathBuf,
        #[arg(long, default_value_t = 35)]
        seconds: u64,
    },
    /// Inserts contacts for one advisor into the SQLite file (service
    /// stopped), or into PostgreSQL when `--db` is a `postgres://` URL.
    SeedContacts {
        #[arg(long)]
        db: String,
        #[arg(long, default_value_t = 1)]
        advisor: i64,
        #[arg(long, default_value_t = 100_000)]
        count: usize,
        /// Numbering block, so that several advisors get distinct numbers.
        #[arg(long, default_value_t = 0)]
        block: u32,
    },
    /// Contacts API: searches and pages with a few concurrent clients.
    Contacts {
        /// Base URL of the service; repeated for several instances, which
        /// share the clients evenly.
        #[arg(long, required = true)]
        base: Vec<String>,
        /// Bearer token of the advisor whose contacts are read.
        #[arg(long)]
        token: String,
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
        /// Requests per scenario (at most).
        #[arg(long, default_value_t = 2_000)]
        requests: usize,
        /// Seconds per scenario (at most).
        #[arg(long, default_value_t = 20)]
        seconds: u64,
    },
}

type Error = Box<dyn std::error::Error + Send + Sync>;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let result = runtime.block_on(async {
        match cli.command {
            Command::Webhooks {
                base,
                secret,
                db,
                path,
                count,
                warmup,
                concurrency,
                server_pid,
                max_seconds,
            } => {
                webhooks(WebhookRun {
                    base,
                    secret,
                    db,
                    path,
                    count,
                    warmup,
                    concurrency,
                    server_pid,
                    max_seconds,
                })
                .await
            }
            Command::ChaosWebhooks {
                base,
                secret,
                db,
                seconds,
                concurrency,
                lock_at,
                lock_seconds,
            } => {
                chaos::webhooks(chaos::WebhookChaos {
                    base,
                    secret,
                    db,
                    seconds,
                    concurrency,
                    lock_at,
                    lock_seconds,
                })
                .await
            }
            Command::ProviderFaults {
                listen,
                base,
                secret,
                crm_key,
                advisor,
                fault,
                contacts,
                faulty,
                hang_seconds,
                pid_file,
                seconds,
            } => {
                chaos::provider_faults(chaos::ProviderChaos {
                    listen,
                    base,
                    secret,
                    crm_key,
                    advisor,
                    fault,
                    contacts,
                    faulty,
                    hang_seconds,
                    pid_file,
                    seconds,
                })
                .await
            }
            Command::SeedContacts {
                db,
                advisor,
                count,
                block,
            } => seed_contacts(&db, advisor, count, block).await,
            Command::Contacts {
                base,
                token,
                concurrency,
                requests,
                seconds,
            } => contacts(&base, &token, concurrency, requests, seconds).await,
        }
    });
    match result {
        Ok(report) => {
            println!("{report}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("optin-loadgen: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

// ---------------------------------------------------------------- latencies

/// Latencies of one scenario, in microseconds.
#[derive(Default)]
struct Latencies(Vec<u64>);

impl Latencies {
    /// Nearest-rank percentile, in milliseconds.
    fn percentile_ms(&self, sorted: &[u64], p: f64) -> f64 {
        if sorted.is_empty() {
            return 0.0;
        }
        let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
        sorted[rank.clamp(1, sorted.len()) - 1] as f64 / 1000.0
    }

    fn summary(&self) -> Value {
        let mut sorted = self.0.clone();
        sorted.sort_unstable();
        let mean = if sorted.is_empty() {
            0.0
        } else {
            sorted.iter().sum::<u64>() as f64 / sorted.len() as f64 / 1000.0
        };
        json!({
            "p50_ms": round3(self.percentile_ms(&sorted, 50.0)),
            "p95_ms": round3(self.percentile_ms(&sorted, 95.0)),
            "p99_ms": round3(self.percentile_ms(&sorted, 99.0)),
            "max_ms": round3(sorted.last().copied().unwrap_or(0) as f64 / 1000.0),
            "mean_ms": round3(mean),
        })
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// CPU seconds (user + system) a process has used, from /proc.
fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) in parentheses.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / clock_ticks())
}

fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

fn http_client(connections: usize) -> Result<reqwest::Client, Error> {
    Ok(reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(30))
        .build()?)
}

async fn open_db(path: &Path, read_only: bool) -> Result<SqliteConnection, Error> {
    let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
        .read_only(read_only)
        .busy_timeout(Duration::from_secs(10));
    let options = if read_only {
        options
    } else {
        options.journal_mode(SqliteJournalMode::Wal)
    };
    Ok(options.connect().await?)
}

// ----------------------------------------------------------------- webhooks

struct WebhookRun {
    base: Vec<String>,
    secret: String,
    db: Option<PathBuf>,
    path: String,
    count: usize,
    warmup: usize,
    concurrency: usize,
    server_pid: Option<u32>,
    max_seconds: u64,
}

/// One prepared webhook: its wamid, body and signature header.
struct Prepared {
    wamid: String,
    body: String,
    signature: String,
}

/// A webhook envelope shaped like Meta's: one inbound text message.
fn inbound_webhook(wamid: &str, from: &str, timestamp: u64) -> String {
    json!({
        "object": "whatsapp_business_account",
        "entry": [{
            "id": "102290129340398",
            "changes": [{
                "field": "messages",
                "value": {
                    "messaging_product": "whatsapp",
                    "metadata": {
                        "display_phone_number": "15550001111",
                        "phone_number_id": SANDBOX_PHONE_NUMBER_ID,
                    },
                    "contacts": [{"profile": {"name": "Load Test"}, "wa_id": from}],
                    "messages": [{
                        "from": from,
                        "id": wamid,
                        "timestamp": timestamp.to_string(),
                        "type": "text",
                        "text": {"body": "hello"},
                    }],
                },
            }],
        }],
    })
    .to_string()
}

/// Outcome of one batch of posts.
struct Sent {
    acknowledged: Vec<String>,
    statuses: HashMap<String, usize>,
    latencies: Latencies,
    seconds: f64,
    not_sent: usize,
}

/// Posts `batch` over `concurrency` connections, spread evenly over `urls`.
async fn post_all(
    client: &reqwest::Client,
    urls: &[String],
    batch: Vec<Prepared>,
    concurrency: usize,
    deadline: Instant,
) -> Sent {
    let batch = Arc::new(batch);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for worker in 0..concurrency.max(1) {
        let url = urls[worker % urls.len()].clone();
        let (client, batch, next) = (client.clone(), batch.clone(), next.clone());
        workers.push(tokio::spawn(async move {
            let mut done: Vec<(usize, Result<u16, String>, u64)> = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= batch.len() || Instant::now() >= deadline {
                    break;
                }
                let item = &batch[i];
                let t = Instant::now();
                let outcome = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("x-hub-signature-256", &item.signature)
                    .body(item.body.clone())
                    .send()
                    .await;
                let outcome = match outcome {
                    // Read the (empty) body so the connection is reused.
                    Ok(response) => {
                        let status = response.status().as_u16();
                        let _ = response.bytes().await;
                        Ok(status)
                    }
                    Err(e) => Err(if e.is_timeout() {
                        "timeout".to_owned()
                    } else if e.is_connect() {
                        "connect".to_owned()
                    } else {
                        "error".to_owned()
                    }),
                };
                done.push((i, outcome, t.elapsed().as_micros() as u64));
            }
            done
        }));
    }
    let mut sent = Sent {
        acknowledged: Vec::new(),
        statuses: HashMap::new(),
        latencies: Latencies::default(),
        seconds: 0.0,
        not_sent: 0,
    };
    let mut attempted = 0;
    for worker in workers {
        for (i, outcome, micros) in worker.await.unwrap_or_default() {
            attempted += 1;
            let key = match &outcome {
                Ok(status) => status.to_string(),
                Err(kind) => kind.clone(),
            };
            *sent.statuses.entry(key).or_default() += 1;
            if outcome == Ok(200) {
                sent.acknowledged.push(batch[i].wamid.clone());
                sent.latencies.0.push(micros);
            }
        }
    }
    sent.seconds = started.elapsed().as_secs_f64();
    sent.not_sent = batch.len() - attempted;
    sent
}

async fn webhooks(run: WebhookRun) -> Result<Value, Error> {
    let urls: Vec<String> = run
        .base
        .iter()
        .map(|base| format!("{}{}", base.trim_end_matches('/'), run.path))
        .collect();
    // A run id keeps this run's wamids apart from anything else in the database.
    let run_id = &uuid::Uuid::new_v4().simple().to_string()[..10];
    let prefix = format!("wamid.bench{run_id}.");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let total = run.warmup + run.count;
    eprintln!("[loadgen] signing {total} webhooks");
    let mut prepared: Vec<Prepared> = (0..total)
        .map(|i| {
            let wamid = format!("{prefix}{i:08}");
            // Distinct senders: UK mobile-shaped numbers, one per webhook.
            let from = format!("4474{:08}", 10_000_000 + i);
            let body = inbound_webhook(&wamid, &from, now);
            let signature = meta_signature(&run.secret, body.as_bytes());
            Prepared {
                wamid,
                body,
                signature,
            }
        })
        .collect();
    let timed = prepared.split_off(run.warmup);
    let client = http_client(run.concurrency)?;
    let deadline = Instant::now() + Duration::from_secs(run.max_seconds);

    eprintln!("[loadgen] warm-up: {} webhooks", run.warmup);
    let warm = post_all(&client, &urls, prepared, run.concurrency, deadline).await;

    let pid = run.server_pid.map(|p| p.to_string());
    let server_cpu_before = pid.as_deref().and_then(cpu_seconds);
    let own_cpu_before = cpu_seconds("self");
    eprintln!(
        "[loadgen] timed run: {} webhooks over {} connections",
        run.count, run.concurrency
    );
    let sent = post_all(&client, &urls, timed, run.concurrency, deadline).await;
    let server_cpu = pid
        .as_deref()
        .and_then(cpu_seconds)
        .zip(server_cpu_before)
        .map(|(after, before)| after - before);
    let own_cpu = cpu_seconds("self")
        .zip(own_cpu_before)
        .map(|(after, before)| after - before);
    drop(client);

    let acknowledged: HashSet<String> = warm
        .acknowledged
        .iter()
        .chain(sent.acknowledged.iter())
        .cloned()
        .collect();
    let stored = match &run.db {
        Some(db) => check_stored(db, &prefix, &acknowledged).await?,
        None => json!({}),
    };

    let acked = sent.acknowledged.len();
    let rate = acked as f64 / sent.seconds.max(1e-9);
    let mut report = json!({
        "count": run.count,
        "warmup": run.warmup,
        "concurrency": run.concurrency,
        "acknowledged": acked,
        "warmup_acknowledged": warm.acknowledged.len(),
        "not_sent": sent.not_sent + warm.not_sent,
        "statuses": sent.statuses,
        "seconds": round3(sent.seconds),
        "webhooks_per_s": rate.round(),
        "latency": sent.latencies.summary(),
    });
    merge(&mut report, stored);
    if let Some(cpu) = server_cpu {
        report["server_cpu_s"] = json!(round3(cpu));
        report["server_cores_busy"] = json!(round3(cpu / sent.seconds.max(1e-9)));
    }
    if let Some(cpu) = own_cpu {
        report["loadgen_cpu_s"] = json!(round3(cpu));
    }
    Ok(report)
}

/// Adds `extra`'s fields to `report`.
fn merge(report: &mut Value, extra: Value) {
    if let (Some(report), Value::Object(extra)) = (report.as_object_mut(), extra) {
        report.extend(extra);
    }
}

/// Opens the SQLite file read-only and checks that every acknowledged
/// webhook (wamids starting with `prefix`) was applied exactly once: its
/// receipt, its inbound message and its evidence each stored once.
pub(crate) async fn check_stored(
    db_path: &Path,
    prefix: &str,
    acknowledged: &HashSet<String>,
) -> Result<Value, Error> {
    eprintln!("[loadgen] checking the database");
    let mut db = open_db(db_path, true).await?;
    let pattern = format!("{prefix}%");
    let messages: Vec<(String, i64)> = sqlx::query_as(
        "SELECT provider_message_id, COUNT(*) FROM messages
         WHERE direction = 'in' AND provider_message_id LIKE $1 GROUP BY provider_message_id",
    )
    .bind(&pattern)
    .fetch_all(&mut db)
    .await?;
    let evidence: Vec<(String, i64)> = sqlx::query_as(
        "SELECT json_extract(detail_json, '$.provider_message_id') AS id, COUNT(*) FROM consent_events
         WHERE kind = 'message_in' AND json_extract(detail_json, '$.provider_message_id') LIKE $1 GROUP BY id",
    )
    .bind(&pattern)
    .fetch_all(&mut db)
    .await?;
    // The receipt that deduplicates a redelivery (`wa:msg:<wamid>`).
    let receipts: Vec<(String,)> = sqlx::query_as(
        "SELECT substr(dedupe_key, 8) FROM webhook_receipts WHERE dedupe_key LIKE $1",
    )
    .bind(format!("wa:msg:{pattern}"))
    .fetch_all(&mut db)
    .await?;
    db.close().await?;

    let stored: HashMap<&String, i64> = messages.iter().map(|(id, n)| (id, *n)).collect();
    let recorded: HashMap<&String, i64> = evidence.iter().map(|(id, n)| (id, *n)).collect();
    let received: HashSet<&String> = receipts.iter().map(|(id,)| id).collect();
    let lost = acknowledged
        .iter()
        .filter(|id| !stored.contains_key(id))
        .count();
    let evidence_missing = acknowledged
        .iter()
        .filter(|id| !recorded.contains_key(id))
        .count();
    let receipt_missing = acknowledged
        .iter()
        .filter(|id| !received.contains(id))
        .count();
    let applied_twice =
        stored.values().filter(|n| **n > 1).count() + recorded.values().filter(|n| **n > 1).count();
    let stored_unacknowledged = stored
        .keys()
        .filter(|id| !acknowledged.contains(**id))
        .count();
    let stored_rows: i64 = stored.values().sum();
    Ok(json!({
        "stored_messages_in": stored_rows,
        "acknowledged_total": acknowledged.len(),
        "lost": lost,
        "evidence_missing": evidence_missing,
        "receipt_missing": receipt_missing,
        "applied_twice": applied_twice,
        "stored_unacknowledged": stored_unacknowledged,
        "exactly_once": lost == 0 && evidence_missing == 0 && receipt_missing == 0
            && applied_twice == 0 && stored_rows as usize == acknowledged.len() + stored_unacknowledged,
    }))
}

// ----------------------------------------------------------------- contacts

const FIRST_NAMES: [&str; 40] = [
    "Olivia", "Amara", "Luis", "Chen", "Priya", "Tom", "Sofia", "Noah", "Emma", "Yuki", "Mateo",
    "Grace", "Ada", "Kerry", "Liam", "Ava", "Ethan", "Mia", "Lucas", "Zara", "Omar", "Ines",
    "Hugo", "Nadia", "Felix", "Leila", "Ivan", "Chloe", "Ravi", "Anna", "Jonas", "Elena", "Kofi",
    "Sara", "Diego", "Hana", "Marco", "Fatima", "Pavel", "Julia",
];

const LAST_NAMES: [&str; 50] = [
    "Fisher",
    "Okafor",
    "Fernández",
    "Wei",
    "Raman",
    "Becker",
    "Rossi",
    "Williams",
    "Dubois",
    "Tanaka",
    "Brown",
    "Silva",
    "Hopper",
    "Lovelace",
    "Smith",
    "Jones",
    "Taylor",
    "Müller",
    "Schmidt",
    "Martin",
    "Bernard",
    "García",
    "López",
    "Novak",
    "Kowalski",
    "Nowak",
    "Jensen",
    "Hansen",
    "Larsen",
    "Berg",
    "Costa",
    "Santos",
    "Ahmed",
    "Khan",
    "Ali",
    "Patel",
    "Singh",
    "Kim",
    "Park",
    "Nguyen",
    "Tran",
    "Sato",
    "Suzuki",
    "Ito",
    "Moreau",
    "Laurent",
    "Fontaine",
    "Romano",
    "Ricci",
    "Greco",
];

/// The n-th seeded contact: a name and a valid E.164 number in one of three
/// countries' mobile ranges; `block` separates advisors' numbers.
fn seeded_contact(block: u32, n: usize) -> (String, String) {
    let first = FIRST_NAMES[n % FIRST_NAMES.len()];
    let last = LAST_NAMES[(n / FIRST_NAMES.len()) % LAST_NAMES.len()];
    let name = match n / (FIRST_NAMES.len() * LAST_NAMES.len()) {
        0 => format!("{first} {last}"),
        k => format!("{first} {last} {}", k + 1),
    };
    let serial = block as usize * 1_000_000 + n;
    let phone = match n % 3 {
        // UK mobiles +44 7911 xxxxxx / +44 7700 xxxxxx.
        0 => format!(
            "+447{}{:06}",
            911 - (serial / 1_000_000) * 211,
            serial % 1_000_000
        ),
        // German mobiles +49 151 2xxxxxxx.
        1 => format!("+491512{:07}", serial),
        // Spanish mobiles +34 6xx xxx xxx.
        _ => format!("+346{:08}", 10_000_000 + serial),
    };
    (name, phone)
}

async fn seed_contacts(db: &str, advisor: i64, count: usize, block: u32) -> Result<Value, Error> {
    let started = Instant::now();
    let contacts: Vec<(String, String)> = (0..count).map(|n| seeded_contact(block, n)).collect();
    let invalid = contacts
        .iter()
        .filter(|(_, phone)| optin_core::phone::to_e164(phone, None).as_deref() != Ok(phone))
        .count();
    if invalid > 0 {
        return Err(format!("{invalid} generated numbers are not valid E.164").into());
    }
    if db.starts_with("postgres://") || db.starts_with("postgresql://") {
        return seed_contacts_postgres(db, advisor, &contacts, started).await;
    }
    let db = Path::new(db);
    let mut conn = open_db(db, false).await?;
    let mut tx = conn.begin().await?;
    let mut inserted = 0u64;
    // 300 rows (900 parameters) per statement.
    for chunk in contacts.chunks(300) {
        let mut insert = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
            "INSERT OR IGNORE INTO contacts (advisor_id, name, phone_e164) ",
        );
        insert.push_values(chunk, |mut row, (name, phone)| {
            row.push_bind(advisor).push_bind(name).push_bind(phone);
        });
        inserted += insert.build().execute(&mut *tx).await?.rows_affected();
    }
    tx.commit().await?;
    let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM contacts WHERE advisor_id = $1")
        .bind(advisor)
        .fetch_one(&mut conn)
        .await?;
    conn.close().await?;
    Ok(json!({
        "advisor": advisor,
        "inserted": inserted,
        "advisor_contacts": total,
        "seconds": round3(started.elapsed().as_secs_f64()),
    }))
}

/// [`seed_contacts`] into the PostgreSQL database at `url`.
async fn seed_contacts_postgres(
    url: &str,
    advisor: i64,
    contacts: &[(String, String)],
    started: Instant,
) -> Result<Value, Error> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url).await?;
    let mut tx = conn.begin().await?;
    let mut inserted = 0u64;
    for chunk in contacts.chunks(1000) {
        let mut insert = sqlx::QueryBuilder::<sqlx::Postgres>::new(
            "INSERT INTO contacts (advisor_id, name, phone_e164) ",
        );
        insert.push_values(chunk, |mut row, (name, phone)| {
            row.push_bind(advisor).push_bind(name).push_bind(phone);
        });
        insert.push(" ON CONFLICT DO NOTHING");
        inserted += insert.build().execute(&mut *tx).await?.rows_affected();
    }
    tx.commit().await?;
    // Fresh statistics, as autovacuum gathers soon after a bulk load: a
    // planner that still counts a few rows sorts all of them for each page.
    sqlx::query("ANALYZE contacts").execute(&mut conn).await?;
    let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM contacts WHERE advisor_id = $1")
        .bind(advisor)
        .fetch_one(&mut conn)
        .await?;
    Ok(json!({
        "advisor": advisor,
        "inserted": inserted,
        "advisor_contacts": total,
        "seconds": round3(started.elapsed().as_secs_f64()),
    }))
}

/// One scenario of the contacts API: a list of request paths, cycled.
async fn scenario(
    client: &reqwest::Client,
    bases: &[String],
    token: &str,
    paths: Vec<String>,
    concurrency: usize,
    requests: usize,
    seconds: u64,
) -> Value {
    let paths = Arc::new(paths);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let mut workers = Vec::new();
    for worker in 0..concurrency.max(1) {
        let (client, paths, next) = (client.clone(), paths.clone(), next.clone());
        let (base, token) = (bases[worker % bases.len()].clone(), token.to_owned());
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = BTreeMap::<String, usize>::new();
            let mut matches = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= requests || Instant::now() >= deadline {
                    break;
                }
                let path = &paths[i % paths.len()];
                let t = Instant::now();
                let response = client
                    .get(format!("{base}/api/v1/contacts{path}"))
                    .bearer_auth(&token)
                    .send()
                    .await;
                // A refusal is counted by its status (or "no answer"), not timed.
                let page: Result<Value, String> = match response {
                    Ok(r) if r.status().is_success() => {
                        r.json().await.map_err(|_| "unreadable body".to_owned())
                    }
                    Ok(r) => Err(format!("HTTP {}", r.status().as_u16())),
                    Err(_) => Err("no answer".to_owned()),
                };
                let micros = t.elapsed().as_micros() as u64;
                match page {
                    Ok(page) => {
                        latencies.push(micros);
                        matches.push(page["total"].as_u64().unwrap_or(0));
                    }
                    Err(why) => *errors.entry(why).or_insert(0usize) += 1,
                }
            }
            (latencies, errors, matches)
        }));
    }
    let mut latencies = Latencies::default();
    let mut errors = BTreeMap::new();
    let mut matches = Vec::new();
    for worker in workers {
        if let Ok((l, e, m)) = worker.await {
            latencies.0.extend(l);
            for (why, count) in e {
                *errors.entry(why).or_insert(0) += count;
            }
            matches.extend(m);
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let ok = latencies.0.len();
    let mean_matches = if matches.is_empty() {
        0
    } else {
        matches.iter().sum::<u64>() / matches.len() as u64
    };
    json!({
        "requests": ok,
        "errors": errors.values().sum::<usize>(),
        "errors_by_cause": errors,
        "seconds": round3(elapsed),
        "requests_per_s": (ok as f64 / elapsed.max(1e-9)).round(),
        "latency": latencies.summary(),
        "mean_total_matches": mean_matches,
        "example": paths.first(),
    })
}

fn encode(q: &str) -> String {
    serde_urlencoded::to_string([("q", q)]).unwrap_or_default()
}

async fn contacts(
    bases: &[String],
    token: &str,
    concurrency: usize,
    requests: usize,
    seconds: u64,
) -> Result<Value, Error> {
    let bases: Vec<String> = bases
        .iter()
        .map(|base| base.trim_end_matches('/').to_owned())
        .collect();
    let base = &bases[0];
    let client = http_client(concurrency)?;
    let first: Value = client
        .get(format!("{base}/api/v1/contacts?limit=1"))
        .bearer_auth(token)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let total = first["total"].as_u64().unwrap_or(0);
    // Name prefixes as typed (2 to 4 letters) and number fragments.
    let mut searches: Vec<String> = Vec::new();
    for (i, name) in FIRST_NAMES.iter().chain(LAST_NAMES.iter()).enumerate() {
        let len = 2 + i % 3;
        let prefix: String = name.chars().take(len).collect();
        searches.push(format!("?{}&limit=200", encode(&prefix)));
    }
    for fragment in ["+44 7911 01", "49151 20", "+34 61", "7700 9"] {
        searches.push(format!("?{}&limit=200", encode(fragment)));
    }
    // Pages at offsets spread over the whole list (a fixed stride, not random).
    let pages: Vec<String> = (0..200u64)
        .map(|k| format!("?offset={}&limit=50", (k * 7919 * 50) % total.max(1)))
        .collect();
    let first_page = vec!["?limit=200".to_owned()];

    let mut report = json!({ "contacts": total, "concurrency": concurrency });
    for (name, paths) in [
        ("first_page", first_page),
        ("search", searches),
        ("pages", pages),
    ] {
        eprintln!("[loadgen] contacts: {name}");
        report[name] = scenario(
            &client,
            &bases,
            token,
            paths,
            concurrency,
            requests,
            seconds,
        )
        .await;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_numbers_are_valid_and_distinct_across_blocks() {
        let mut seen = HashSet::new();
        for block in 0..2 {
            for n in (0..100_000).step_by(97).chain(99_990..100_000) {
                let (_, phone) = seeded_contact(block, n);
                assert_eq!(
                    optin_core::phone::to_e164(&phone, None).as_deref(),
                    Ok(phone.as_str())
                );
                assert!(seen.insert(phone));
            }
        }
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let l = Latencies((1..=100).map(|ms| ms * 1000).collect());
        let sorted = l.0.clone();
        assert_eq!(l.percentile_ms(&sorted, 50.0), 50.0);
        assert_eq!(l.percentile_ms(&sorted, 99.0), 99.0);
        assert_eq!(l.percentile_ms(&sorted, 100.0), 100.0);
    }
}
