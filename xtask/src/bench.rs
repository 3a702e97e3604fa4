//! `cargo xtask bench`: measures the figures that the budgets in
//! `shared/docs/architecture.md` speak of, prints them next to their budgets,
//! and writes them as JSON to `target/bench/latest.json` and
//! `target/bench/<short commit>.json` (plus `latest.md`, the same table in
//! Markdown) for comparison across commits.
//!
//! 1. download size: gzip and brotli of the release wasm, JS and CSS;
//! 2. webhook ingest: `optin-loadgen webhooks` against the release service;
//! 3. contacts API with 100,000 contacts seeded into the database;
//! 4. browser figures (`tests/bench/browser.mjs`, Playwright and Chromium);
//! 5. Lighthouse scores, when the npm package is installed;
//! 6. live latency (`tests/bench/live.mjs`): a signed webhook to the outcome
//!    painted in the advisor's page, over the event stream and with the
//!    polling fallback forced;
//! 7. webhook ingest and the contacts API on PostgreSQL, one instance and
//!    two on one database (a throwaway cluster).
//!
//! Benchmarks report; they never fail: a missed budget still exits 0. Only
//! a bench that cannot run (a build, a tool, a crashed phase) exits non-zero.
//! `cargo xtask bench --quick` runs smaller counts; `--only a,b` runs some
//! phases (download, webhooks, contacts, postgres, browser, lighthouse, live).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::tools::{project_root, Run, Tools, CHROMIUM};
use crate::{build_web_app, compress, Result};

/// The Meta app secret the bench's service is started with, so the load
/// generator can sign webhooks (in sandbox mode a configured secret is honoured).
const WEBHOOK_SECRET: &str = "bench-app-secret-not-for-production";

/// The sandbox's business number id (`optin_server::store::seed`), which the
/// service routes signed webhooks by.
const SANDBOX_PHONE_NUMBER_ID: &str = "100000000000001";

const PHASES: [&str; 7] = [
    "download",
    "webhooks",
    "contacts",
    "postgres",
    "browser",
    "lighthouse",
    "live",
];

/// How much load each phase generates.
struct Sizes {
    webhooks: usize,
    webhook_warmup: usize,
    webhook_connections: usize,
    api_contacts: usize,
    api_clients: usize,
    api_requests: usize,
    api_seconds: u64,
    browser_contacts: usize,
    browser_loads: usize,
    keystrokes: usize,
    /// Webhook-to-screen runs per mode (stream, polling).
    live_runs: usize,
}

const FULL: Sizes = Sizes {
    webhooks: 20_000,
    webhook_warmup: 1_000,
    webhook_connections: 64,
    api_contacts: 100_000,
    api_clients: 4,
    api_requests: 2_000,
    api_seconds: 20,
    browser_contacts: 10_000,
    browser_loads: 10,
    keystrokes: 30,
    live_runs: 120,
};

const QUICK: Sizes = Sizes {
    webhooks: 2_000,
    webhook_warmup: 200,
    webhook_connections: 64,
    api_contacts: 100_000,
    api_clients: 4,
    api_requests: 200,
    api_seconds: 5,
    browser_contacts: 10_000,
    browser_loads: 3,
    keystrokes: 10,
    live_runs: 20,
};

pub(crate) fn run(args: &[String]) -> Result<ExitCode> {
    let mut sizes = &FULL;
    let mut only: Vec<String> = PHASES.iter().map(|p| p.to_string()).collect();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => sizes = &QUICK,
            "--only" => {
                let list = args.next().ok_or("--only needs a list of phases")?;
                only = list.split(',').map(str::to_owned).collect();
                if let Some(unknown) = only.iter().find(|p| !PHASES.contains(&p.as_str())) {
                    return Err(format!(
                        "unknown phase {unknown}; phases: {}",
                        PHASES.join(",")
                    ));
                }
            }
            other => {
                return Err(format!(
                    "unknown argument {other}; usage: cargo xtask bench [--quick] [--only {}]",
                    PHASES.join(",")
                ))
            }
        }
    }
    let wants = |phase: &str| only.iter().any(|p| p == phase);
    let started = Instant::now();
    let tools = Tools::ensure()?;
    let root = project_root();
    let scratch = std::env::temp_dir().join(format!("optin-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).map_err(|e| format!("{}: {e}", scratch.display()))?;

    let mut report = json!({
        "commit": git(&["rev-parse", "--short", "HEAD"]).unwrap_or_else(|| "unknown".into()),
        "dirty": git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty()),
        "date": command_output(Command::new("date").args(["-u", "+%Y-%m-%dT%H:%M:%SZ"])),
        "quick": std::ptr::eq(sizes, &QUICK),
        "phases": only,
        "machine": machine(),
    });
    let mut failures: Vec<String> = Vec::new();
    let mut record = |report: &mut Value, name: &str, outcome: Result<Value>| match outcome {
        Ok(value) => report[name] = value,
        Err(error) => {
            eprintln!("[bench] {name} could not run: {error}");
            report[name] = json!({ "error": error });
            failures.push(name.to_owned());
        }
    };

    // The web app is needed by the download and browser phases.
    if wants("download") || wants("browser") || wants("lighthouse") || wants("live") {
        phase("building the release web app (trunk build --release)");
        build_web_app(&tools)?;
    }
    if wants("download") {
        phase("download size");
        record(&mut report, "download", download_sizes(&root.join("dist")));
    }
    let needs_service = [
        "webhooks",
        "contacts",
        "postgres",
        "browser",
        "lighthouse",
        "live",
    ]
    .iter()
    .any(|p| wants(p));
    let bins = target_dir().join("release");
    if needs_service {
        phase("building the release service with its sandbox, and the load generator");
        tools
            .cargo(&[
                "build",
                "--release",
                "-p",
                "optin-server",
                "-p",
                "optin-loadgen",
                "--features",
                "optin-server/sandbox",
            ])
            .status_ok()?;
    }
    let bench = Bench {
        tools: &tools,
        server: bins.join("optin-server"),
        loadgen: bins.join("optin-loadgen"),
        scratch: scratch.clone(),
        sizes,
    };
    if wants("webhooks") {
        phase("webhook ingest");
        record(&mut report, "webhooks", bench.webhooks());
    }
    if wants("contacts") {
        phase("contacts API");
        record(&mut report, "contacts_api", bench.contacts_api());
    }
    if wants("postgres") {
        phase("webhook ingest and contacts API on PostgreSQL (one and two instances)");
        record(&mut report, "postgres", bench.postgres());
    }
    if wants("browser") || wants("lighthouse") {
        phase("browser");
        let (browser, lighthouse) = bench.browser(wants("browser"), wants("lighthouse"));
        if wants("browser") {
            record(&mut report, "browser", browser);
        }
        if wants("lighthouse") {
            record(&mut report, "lighthouse", lighthouse);
        }
    }
    if wants("live") {
        phase("live latency, webhook to screen");
        record(&mut report, "live", bench.live());
    }
    report["machine"]["load_average_after"] = json!(load_average());
    report["seconds"] = json!(started.elapsed().as_secs());
    let rows = rows(&report);
    report["budgets"] = Value::Array(
        rows.iter()
            .filter(|r| r.met.is_some())
            .map(|r| json!({"figure": r.figure, "measured": r.measured, "budget": r.budget, "met": r.met}))
            .collect(),
    );
    let table = table(&rows);
    println!(
        "\n== Benchmarks ({}s)\n{table}",
        started.elapsed().as_secs()
    );
    let written = write_results(&report, &rows)?;
    println!("written: {written}");
    if failures.is_empty() {
        let _ = std::fs::remove_dir_all(&scratch);
    } else {
        // Kept: the failed phase's service log is in it.
        println!("could not run: {}", failures.join(", "));
        println!("its logs are kept in {}", scratch.display());
    }
    Ok(if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn phase(what: &str) {
    println!("\n[bench] {what}");
}

/// Cargo's target folder: `CARGO_TARGET_DIR` when set (relative to the workspace), else `target/`.
pub(crate) fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => project_root().join(dir),
        _ => project_root().join("target"),
    }
}

pub(crate) fn git(args: &[&str]) -> Option<String> {
    command_output(Command::new("git").args(args).current_dir(project_root()))
}

pub(crate) fn command_output(command: &mut Command) -> Option<String> {
    let out = command.stderr(Stdio::null()).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

// ------------------------------------------------------------------ machine

pub(crate) fn machine() -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory_kb = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|l| l.trim().trim_end_matches(" kB").trim().parse::<u64>().ok());
    json!({
        "nproc": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "cpu": cpu,
        "memory_gib": memory_kb.map(|kb| (kb as f64 / 1024.0 / 1024.0 * 10.0).round() / 10.0),
        "load_average_before": load_average(),
        "rustc": command_output(Command::new("rustc").arg("--version")),
        "chromium": command_output(Command::new(CHROMIUM).arg("--version")),
    })
}

pub(crate) fn load_average() -> Option<String> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    Some(
        text.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
    )
}

// ---------------------------------------------------------------- download

/// Raw, gzip (best) and brotli (quality 11) sizes of the app's wasm, JS and CSS.
fn download_sizes(dist: &Path) -> Result<Value> {
    let entries = std::fs::read_dir(dist).map_err(|e| format!("{}: {e}", dist.display()))?;
    let mut files = Vec::new();
    let mut total = [0u64; 3];
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        let kind = match path.extension().and_then(|e| e.to_str()) {
            Some("wasm") => "wasm",
            Some("js") => "js",
            Some("css") => "css",
            _ => continue,
        };
        let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let sizes = [
            bytes.len() as u64,
            compress::gzip(&bytes)?.len() as u64,
            compress::brotli(&bytes)?.len() as u64,
        ];
        for (t, s) in total.iter_mut().zip(sizes) {
            *t += s;
        }
        files.push(json!({
            "file": path.file_name().map(|n| n.to_string_lossy().into_owned()),
            "kind": kind,
            "raw": sizes[0],
            "gzip": sizes[1],
            "brotli": sizes[2],
        }));
    }
    if files.is_empty() {
        return Err(format!("no wasm, JS or CSS in {}", dist.display()));
    }
    Ok(json!({
        "files": files,
        "total": {"raw": total[0], "gzip": total[1], "brotli": total[2]},
    }))
}

// ------------------------------------------------------------------ service

/// The service, started from its release binary with a data folder of its own.
struct Server {
    child: Child,
    port: u16,
    data_dir: PathBuf,
}

impl Server {
    fn start(bench: &Bench, data_dir: &Path, extra: &[&str]) -> Result<Self> {
        std::fs::create_dir_all(data_dir).map_err(|e| format!("{}: {e}", data_dir.display()))?;
        let log_path = data_dir.join("server.log");
        let log = File::options()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| format!("{}: {e}", log_path.display()))?;
        let port = free_port();
        let mut command = bench.tools.command(&bench.server);
        // Flags below decide everything; no OPTIN_* setting of the caller leaks in.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("OPTIN_") {
                command.env_remove(key);
            }
        }
        let child = command
            .current_dir(project_root())
            .args(["--sandbox", "--addr", &format!("127.0.0.1:{port}")])
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--wa-app-secret", WEBHOOK_SECRET])
            // The per-person and per-organization API quotas (1,200 and 6,000
            // a minute) would refuse most of the contacts load: the limiter
            // still runs on every request, it just never refuses here.
            .args(["--api-per-minute", "100000000"])
            .args(["--org-api-per-minute", "100000000"])
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bench.server.display()))?;
        let mut server = Server {
            child,
            port,
            data_dir: data_dir.to_owned(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(format!(
                    "the service exited at start ({status}); see {}",
                    log_path.display()
                ));
            }
            if wait_for_port(port, Duration::from_millis(200)) {
                return Ok(server);
            }
            if Instant::now() > deadline {
                return Err(format!("the service did not start on port {port}"));
            }
        }
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn database(&self) -> PathBuf {
        self.data_dir.join("optin.sqlite3")
    }

    fn tokens_file(&self) -> PathBuf {
        self.data_dir.join("demo-advisors.json")
    }

    /// The demo advisors' bearer tokens (Jane first, then Sam).
    fn tokens(&self) -> Result<Vec<String>> {
        let path = self.tokens_file();
        let json: Value = serde_json::from_slice(
            &std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?,
        )
        .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(json
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a["token"].as_str().map(str::to_owned))
            .collect())
    }

    /// Peak resident set size so far (VmHWM), in KiB.
    fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }

    /// Stops it gracefully (SIGTERM to its PID), or kills it after 20 s.
    fn stop(mut self) -> Result<()> {
        let pid = self.pid().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        Err(format!(
            "the service (pid {pid}) did not stop on SIGTERM; killed"
        ))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs a command that prints one JSON object as its last stdout line.
pub(crate) fn json_from(command: &mut Command) -> Result<Value> {
    let output = command
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run {:?}: {e}", command.get_program()))?;
    if !output.status.success() {
        return Err(format!(
            "{:?} failed ({})",
            command.get_program(),
            output.status
        ));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    serde_json::from_str(last)
        .map_err(|e| format!("{:?} printed no JSON ({e}): {last}", command.get_program()))
}

struct Bench<'a> {
    tools: &'a Tools,
    server: PathBuf,
    loadgen: PathBuf,
    scratch: PathBuf,
    sizes: &'a Sizes,
}

impl Bench<'_> {
    fn loadgen(&self, args: &[&str]) -> Result<Value> {
        json_from(self.tools.command(&self.loadgen).args(args))
    }

    /// Starts a service on a fresh data folder so it seeds the demo, stops
    /// it, inserts `contacts` rows per advisor straight into the database, and
    /// starts it again.
    fn seeded_server(
        &self,
        name: &str,
        seed: &[(i64, usize)],
        extra: &[&str],
    ) -> Result<(Server, Vec<Value>)> {
        let dir = self.scratch.join(name);
        Server::start(self, &dir, extra)?.stop()?;
        let db = dir.join("optin.sqlite3");
        let mut seeded = Vec::new();
        for (block, (advisor, count)) in seed.iter().enumerate() {
            println!("[bench] seeding {count} contacts for advisor {advisor}");
            seeded.push(self.loadgen(&[
                "seed-contacts",
                "--db",
                &db.to_string_lossy(),
                "--advisor",
                &advisor.to_string(),
                "--count",
                &count.to_string(),
                "--block",
                &block.to_string(),
            ])?);
        }
        Ok((Server::start(self, &dir, extra)?, seeded))
    }

    fn webhooks(&self) -> Result<Value> {
        let server = Server::start(self, &self.scratch.join("webhooks"), &[])?;
        let database = server.database().to_string_lossy().into_owned();
        let mut result = self.webhook_load(&[&server], &["--db", &database])?;
        result["server_peak_rss_kib"] = json!(server.peak_rss_kib());
        // The ceiling: the same load to a route that only reads the body and
        // verifies its signature (sandbox builds only), on the same service.
        result["ceiling"] = self.webhook_load(&[&server], &["--path", "/bench/webhook-ceiling"])?;
        server.stop()?;
        Ok(result)
    }

    /// The webhook load of this bench's sizes against `servers` (their
    /// connections shared evenly), with `extra` arguments; the first one's
    /// CPU time is reported.
    fn webhook_load(&self, servers: &[&Server], extra: &[&str]) -> Result<Value> {
        let s = self.sizes;
        let pid = servers.first().ok_or("no service")?.pid().to_string();
        let bases: Vec<String> = servers.iter().map(|server| server.base()).collect();
        let (count, warmup, connections) = (
            s.webhooks.to_string(),
            s.webhook_warmup.to_string(),
            s.webhook_connections.to_string(),
        );
        let mut args = vec!["webhooks"];
        for base in &bases {
            args.extend(["--base", base.as_str()]);
        }
        args.extend([
            "--secret",
            WEBHOOK_SECRET,
            "--count",
            &count,
            "--warmup",
            &warmup,
            "--concurrency",
            &connections,
            "--server-pid",
            &pid,
        ]);
        args.extend_from_slice(extra);
        self.loadgen(&args)
    }

    /// The contacts API load of this bench's sizes as Jane against
    /// `servers` (their clients shared evenly).
    fn contacts_load(&self, servers: &[&Server], tokens_from: &Server) -> Result<Value> {
        let s = self.sizes;
        let tokens = tokens_from.tokens()?;
        let jane = tokens.first().ok_or("no demo token")?;
        let bases: Vec<String> = servers.iter().map(|server| server.base()).collect();
        let (clients, requests, seconds) = (
            s.api_clients.to_string(),
            s.api_requests.to_string(),
            s.api_seconds.to_string(),
        );
        let mut args = vec!["contacts"];
        for base in &bases {
            args.extend(["--base", base.as_str()]);
        }
        args.extend([
            "--token",
            jane.as_str(),
            "--concurrency",
            &clients,
            "--requests",
            &requests,
            "--seconds",
            &seconds,
        ]);
        self.loadgen(&args)
    }

    /// Webhook ingest and the contacts API (Jane with this bench's count of
    /// contacts) on PostgreSQL: one instance, then two on one database, on
    /// a throwaway cluster (`cargo xtask postgres`).
    fn postgres(&self) -> Result<Value> {
        let cluster = crate::postgres::Cluster::start(self.tools)?;
        let mut result = json!({});
        for instances in [1usize, 2] {
            let url = cluster.new_database(&format!("bench_{instances}"))?;
            let database = ["--database-url", url.as_str()];
            let dir = |i: usize| self.scratch.join(format!("postgres-{instances}-{i}"));
            // The first start creates the demo people (and their tokens file).
            Server::start(self, &dir(0), &database)?.stop()?;
            println!(
                "[bench] seeding {} contacts on PostgreSQL",
                self.sizes.api_contacts
            );
            let seeded = self.loadgen(&[
                "seed-contacts",
                "--db",
                &url,
                "--advisor",
                "1",
                "--count",
                &self.sizes.api_contacts.to_string(),
            ])?;
            let servers = (0..instances)
                .map(|i| Server::start(self, &dir(i), &database))
                .collect::<Result<Vec<_>>>()?;
            let running: Vec<&Server> = servers.iter().collect();
            let webhooks = self.webhook_load(&running, &[])?;
            let contacts = self.contacts_load(&running, &servers[0])?;
            for server in servers {
                server.stop()?;
            }
            result[format!("instances_{instances}")] = json!({
                "webhooks": webhooks,
                "contacts_api": contacts,
                "seeding": seeded,
            });
        }
        Ok(result)
    }

    fn contacts_api(&self) -> Result<Value> {
        let s = self.sizes;
        let (server, seeded) = self.seeded_server("contacts", &[(1, s.api_contacts)], &[])?;
        let mut result = self.contacts_load(&[&server], &server)?;
        result["seeding"] = json!(seeded);
        result["server_peak_rss_kib"] = json!(server.peak_rss_kib());
        server.stop()?;
        Ok(result)
    }

    /// The browser figures (the demo advisor for startup, the second advisor
    /// with many contacts for the rest), then Lighthouse on the same service.
    fn browser(&self, browser: bool, lighthouse: bool) -> (Result<Value>, Result<Value>) {
        let dist = project_root().join("dist");
        let dist = dist.to_string_lossy();
        let s = self.sizes;
        let server = match self.seeded_server(
            "browser",
            &[(2, s.browser_contacts)],
            &["--static-dir", &dist],
        ) {
            Ok((server, _)) => server,
            Err(e) => return (Err(e.clone()), Err(e)),
        };
        let figures = if browser {
            json_from(
                self.tools
                    .command("node")
                    .arg(project_root().join("tests/bench/browser.mjs"))
                    .current_dir(project_root())
                    .env("BASE_URL", server.base())
                    .env("DEMO_TOKENS_FILE", server.tokens_file())
                    .env("BENCH_LOADS", s.browser_loads.to_string())
                    .env("BENCH_KEYSTROKES", s.keystrokes.to_string()),
            )
        } else {
            Ok(Value::Null)
        };
        let scores = if lighthouse {
            self.lighthouse(&server)
        } else {
            Ok(Value::Null)
        };
        let stopped = server.stop();
        match stopped {
            Ok(()) => (figures, scores),
            Err(e) => (figures.and(Err(e.clone())), scores.and(Err(e))),
        }
    }

    /// `tests/bench/live.mjs` against the release service with the release
    /// app; send limits raised (`Server::start` lifts the API quotas), as
    /// every run adds a contact, asks it to opt in and has the page load it
    /// (about 8 requests a second).
    fn live(&self) -> Result<Value> {
        let dist = project_root().join("dist");
        let server = Server::start(
            self,
            &self.scratch.join("live"),
            &[
                "--static-dir",
                &dist.to_string_lossy(),
                "--sends-per-minute",
                "100000",
                "--org-sends-per-minute",
                "100000",
            ],
        )?;
        let figures = json_from(
            self.tools
                .command("node")
                .arg(project_root().join("tests/bench/live.mjs"))
                .current_dir(project_root())
                .env("BASE_URL", server.base())
                .env("DEMO_TOKENS_FILE", server.tokens_file())
                .env("WEBHOOK_SECRET", WEBHOOK_SECRET)
                .env("PHONE_NUMBER_ID", SANDBOX_PHONE_NUMBER_ID)
                .env("BENCH_LIVE_RUNS", self.sizes.live_runs.to_string()),
        );
        let stopped = server.stop();
        figures.and_then(|f| stopped.map(|()| f))
    }

    /// Lighthouse (npm, pinned in package.json) in Debian's Chromium, mobile
    /// (its default) and desktop presets, on the demo advisor's list.
    fn lighthouse(&self, server: &Server) -> Result<Value> {
        let bin = project_root().join("node_modules/.bin/lighthouse");
        if !bin.exists() {
            return Ok(json!({"skipped": "the lighthouse npm package is not installed"}));
        }
        let tokens = server.tokens()?;
        let url = format!(
            "{}/#token={}",
            server.base(),
            tokens.first().ok_or("no demo token")?
        );
        let mut result = json!({});
        for preset in ["mobile", "desktop"] {
            let out = self.scratch.join(format!("lighthouse-{preset}.json"));
            let mut command = self.tools.command(&bin);
            command
                .arg(&url)
                .args([
                    "--quiet",
                    "--output=json",
                    "--only-categories=performance,accessibility,best-practices",
                    "--chrome-flags=--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking --disable-component-update --disable-sync",
                ])
                .arg(format!("--output-path={}", out.display()))
                .env("CHROME_PATH", CHROMIUM)
                .current_dir(project_root());
            if preset == "desktop" {
                command.arg("--preset=desktop");
            }
            println!("[bench] lighthouse ({preset})");
            command.status_ok()?;
            let report: Value = serde_json::from_slice(
                &std::fs::read(&out).map_err(|e| format!("{}: {e}", out.display()))?,
            )
            .map_err(|e| format!("lighthouse report: {e}"))?;
            let score = |category: &str| {
                report["categories"][category]["score"]
                    .as_f64()
                    .map(|s| (s * 100.0).round())
            };
            let audit = |id: &str| {
                report["audits"][id]["numericValue"]
                    .as_f64()
                    .map(f64::round)
            };
            result[preset] = json!({
                "performance": score("performance"),
                "accessibility": score("accessibility"),
                "best_practices": score("best-practices"),
                "first_contentful_paint_ms": audit("first-contentful-paint"),
                "largest_contentful_paint_ms": audit("largest-contentful-paint"),
                "total_blocking_time_ms": audit("total-blocking-time"),
                "runtime_error": report["runtimeError"]["message"],
                // What the blocking time is made of: each task over 50 ms
                // (start and length, slowed as Lighthouse slows the CPU).
                "long_tasks": report["audits"]["long-tasks"]["details"]["items"]
                    .as_array()
                    .map(|tasks| tasks.iter().map(|t| json!({
                        "url": t["url"], "start_ms": t["startTime"], "ms": t["duration"],
                    })).collect::<Vec<_>>()),
                "main_thread_ms": report["audits"]["mainthread-work-breakdown"]["details"]["items"]
                    .as_array()
                    .map(|groups| groups.iter().map(|g| json!({
                        "group": g["groupLabel"], "ms": g["duration"],
                    })).collect::<Vec<_>>()),
            });
        }
        Ok(result)
    }
}

// ------------------------------------------------------------------- report

/// One line of the table: a figure, and its budget when it has one.
struct Row {
    figure: String,
    measured: String,
    budget: String,
    met: Option<bool>,
}

fn row(figure: &str, measured: String, budget: &str, met: Option<bool>) -> Row {
    Row {
        figure: figure.to_owned(),
        measured,
        budget: budget.to_owned(),
        met,
    }
}

fn kb(bytes: Option<u64>) -> String {
    bytes.map_or("—".into(), |b| format!("{:.1} KB", b as f64 / 1000.0))
}

fn ms(value: &Value) -> String {
    value.as_f64().map_or("—".into(), |v| format!("{v:.1} ms"))
}

fn rows(report: &Value) -> Vec<Row> {
    let mut rows = Vec::new();
    let download = &report["download"];
    if download["total"].is_object() {
        let gzip = download["total"]["gzip"].as_u64();
        rows.push(row(
            "download, gzip (wasm + js + css)",
            kb(gzip),
            "≤ 200 KB",
            gzip.map(|g| g <= 200_000),
        ));
        rows.push(row(
            "download, brotli (wasm + js + css)",
            kb(download["total"]["brotli"].as_u64()),
            "",
            None,
        ));
        for file in download["files"].as_array().into_iter().flatten() {
            rows.push(row(
                &format!("  {} raw / gzip", file["kind"].as_str().unwrap_or("?")),
                format!(
                    "{} / {}",
                    kb(file["raw"].as_u64()),
                    kb(file["gzip"].as_u64())
                ),
                "",
                None,
            ));
        }
    }
    let hooks = &report["webhooks"];
    if hooks["webhooks_per_s"].is_number() {
        let rate = hooks["webhooks_per_s"].as_f64().unwrap_or(0.0);
        rows.push(row(
            &format!(
                "webhook ingest ({} signed, {} connections)",
                hooks["count"], hooks["concurrency"]
            ),
            format!("{rate:.0} /s"),
            "≥ 10,000 /s",
            Some(rate >= 10_000.0),
        ));
        let ceiling = hooks["ceiling"]["webhooks_per_s"].as_f64();
        rows.push(row(
            "webhook ceiling: signature check only, same load",
            ceiling.map_or("—".into(), |c| format!("{c:.0} /s")),
            "",
            None,
        ));
        rows.push(row(
            "webhook ingest as a share of the ceiling",
            ceiling
                .filter(|c| *c > 0.0)
                .map_or("—".into(), |c| format!("{:.0} %", 100.0 * rate / c)),
            "",
            None,
        ));
        let lost = hooks["lost"].as_u64().unwrap_or(u64::MAX);
        let twice = hooks["applied_twice"].as_u64().unwrap_or(u64::MAX);
        rows.push(row(
            "webhooks lost / applied twice",
            format!("{lost} / {twice}"),
            "0 / 0",
            Some(lost == 0 && twice == 0 && hooks["exactly_once"] == true),
        ));
        rows.push(row(
            "webhook ack latency p50 / p99",
            format!(
                "{} / {}",
                ms(&hooks["latency"]["p50_ms"]),
                ms(&hooks["latency"]["p99_ms"])
            ),
            "",
            None,
        ));
        rows.push(row(
            "service peak RSS (webhook run)",
            hooks["server_peak_rss_kib"]
                .as_u64()
                .map_or("—".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0)),
            "",
            None,
        ));
        if let Some(cores) = hooks["server_cores_busy"].as_f64() {
            rows.push(row(
                "service CPU during the run",
                format!("{cores:.2} cores"),
                "",
                None,
            ));
        }
    }
    contacts_rows(&mut rows, &report["contacts_api"], "");
    for instances in [1, 2] {
        let on = &report["postgres"][format!("instances_{instances}")];
        let label = format!(
            "on PostgreSQL, {instances} instance{}",
            if instances == 1 { "" } else { "s" }
        );
        let hooks = &on["webhooks"];
        if let Some(rate) = hooks["webhooks_per_s"].as_f64() {
            rows.push(row(
                &format!("webhook ingest {label}"),
                format!(
                    "{rate:.0} /s, ack p50 {} p99 {}",
                    ms(&hooks["latency"]["p50_ms"]),
                    ms(&hooks["latency"]["p99_ms"])
                ),
                "",
                None,
            ));
        }
        contacts_rows(&mut rows, &on["contacts_api"], &format!(" {label}"));
    }
    let browser = &report["browser"];
    if browser["startup"].is_object() {
        rows.push(row(
            &format!(
                "startup to list painted ({} contacts, median of {})",
                browser["startup"]["contacts"], browser["startup"]["loads"]
            ),
            format!(
                "{} (the app's own list {})",
                ms(&browser["startup"]["rows_seen_median_ms"]),
                ms(&browser["startup"]["median_ms"])
            ),
            "",
            None,
        ));
    }
    let slow = &browser["slow_phone"];
    if slow.is_object() {
        // What Lighthouse's mobile score simulates, measured: no budget of
        // its own (Lighthouse's is the score).
        rows.push(row(
            &format!(
                "startup on a slow phone (150 ms RTT, 1.6 Mbit/s, CPU 4×), {} contacts: median / p95 of {}",
                slow["contacts"], slow["loads"]
            ),
            format!("{} / {}", ms(&slow["median_ms"]), ms(&slow["p95_ms"])),
            "",
            None,
        ));
    }
    if browser["big_list"].is_object() {
        let big = &browser["big_list"];
        // The first rows painted, whether drawn before the app ran
        // (`src/first_screen.js`) or by the app.
        let median = big["rows_seen_median_ms"].as_f64();
        rows.push(row(
            &format!(
                "first list paint, {} contacts (median of {})",
                big["contacts"], big["loads"]
            ),
            ms(&big["rows_seen_median_ms"]),
            "< 100 ms",
            median.map(|m| m < 100.0),
        ));
        let breakdown = &big["breakdown_median_ms"];
        rows.push(row(
            "  first paint: list response received / the app's own list painted (usable) / after the response",
            format!(
                "{} / {} / {}",
                ms(&breakdown["contacts_response_end"]),
                ms(&big["median_ms"]),
                ms(&breakdown["list_painted_after_response"])
            ),
            "",
            None,
        ));
    }
    if browser["keystroke"].is_object() {
        let k = &browser["keystroke"];
        let p95 = k["p95_ms"].as_f64();
        rows.push(row(
            &format!(
                "search keystroke to list painted (p95 of {}; median {})",
                k["measured"],
                ms(&k["median_ms"])
            ),
            ms(&k["p95_ms"]),
            "< 16 ms",
            p95.map(|m| m < 16.0),
        ));
        rows.push(row(
            "  keystroke: key to DOM changed / paint (medians); painted before the search's response",
            format!(
                "{} / {}; {} of {}",
                ms(&k["key_to_dom_median_ms"]),
                ms(&k["paint_median_ms"]),
                k["painted_before_answer"],
                k["measured"]
            ),
            "",
            None,
        ));
    }
    if browser["scroll"].is_object() {
        let scroll = &browser["scroll"];
        // 60 fps: no frame missed beyond the odd one (5 %).
        let kept_up = scroll["frames_over_20ms"]
            .as_f64()
            .zip(scroll["frames"].as_f64())
            .map(|(missed, frames)| missed <= frames * 0.05);
        rows.push(row(
            &format!(
                "scroll, {} contacts, 60 px a frame: frames per second; frames over 20 ms",
                scroll["contacts"]
            ),
            format!(
                "{} fps; {} of {} (p95 frame {}; {} of the slow frames with the main thread busy over 16.7 ms)",
                scroll["fps"],
                scroll["frames_over_20ms"],
                scroll["frames"],
                ms(&scroll["p95_frame_ms"]),
                scroll["slow_frames_main_thread_over_16ms"]
            ),
            "60 fps",
            kept_up,
        ));
        // What this browser misses on this machine with nothing to draw.
        let idle = &scroll["idle_baseline"];
        rows.push(row(
            "the same page, same number of frames, not scrolling (the baseline)",
            format!(
                "{} fps; {} of {} over 20 ms",
                idle["fps"], idle["frames_over_20ms"], idle["frames"]
            ),
            "",
            None,
        ));
    }
    if browser["back_to_list"].is_object() {
        let back = &browser["back_to_list"];
        rows.push(row(
            &format!(
                "back from a contact to the list painted, {} contacts (median of {}; p95)",
                back["contacts"], back["runs"]
            ),
            format!("{} / {}", ms(&back["median_ms"]), ms(&back["p95_ms"])),
            "",
            None,
        ));
    }
    for (key, label) in [
        ("startup", "JS heap after load (demo)"),
        ("big_list", "JS heap after load (10k)"),
    ] {
        if let Some(bytes) = browser[key]["js_heap_used_bytes"].as_u64() {
            rows.push(row(
                label,
                format!("{:.1} MB", bytes as f64 / 1e6),
                "",
                None,
            ));
        }
    }
    let lh = &report["lighthouse"];
    // Performance ≥ 95 on mobile (the budget); accessibility and best
    // practices kept at 100 on both.
    for (preset, performance, budget) in [
        ("mobile", 95.0, "≥ 95 / 100 / 100"),
        ("desktop", 0.0, "— / 100 / 100"),
    ] {
        if lh[preset].is_object() {
            let l = &lh[preset];
            let score = |key: &str| l[key].as_f64();
            let met = score("performance")
                .zip(score("accessibility"))
                .zip(score("best_practices"))
                .map(|((p, a), b)| p >= performance && a >= 100.0 && b >= 100.0);
            rows.push(row(
                &format!("Lighthouse {preset}: performance / accessibility / best practices"),
                format!(
                    "{} / {} / {}",
                    l["performance"], l["accessibility"], l["best_practices"]
                ),
                budget,
                met,
            ));
        }
    }
    if let Some(reason) = lh["skipped"].as_str() {
        rows.push(row("Lighthouse", format!("skipped: {reason}"), "", None));
    }
    let live = &report["live"];
    for (key, label, budget) in [
        (
            "stream",
            "live latency, webhook to screen: p50 / p95 / p99",
            "p95 ≤ 50 ms",
        ),
        (
            "polling",
            "live latency, polling fallback: p50 / p95 / p99",
            "",
        ),
    ] {
        let l = &live[key];
        if l.is_object() {
            let p95 = l["p95_ms"].as_f64();
            rows.push(row(
                label,
                format!(
                    "{} / {} / {} ({} runs)",
                    ms(&l["p50_ms"]),
                    ms(&l["p95_ms"]),
                    ms(&l["p99_ms"]),
                    l["runs"]
                ),
                budget,
                (!budget.is_empty()).then(|| p95.is_some_and(|m| m <= 50.0)),
            ));
        }
    }
    rows
}

/// The contacts API's rows from its report `api`, their figures named with `on`.
fn contacts_rows(rows: &mut Vec<Row>, api: &Value, on: &str) {
    for (key, label) in [
        ("first_page", "first page (limit 200)"),
        ("search", "search ?q= (limit 200)"),
        ("pages", "pages ?offset= (limit 50)"),
    ] {
        let s = &api[key];
        if s["requests_per_s"].is_number() {
            // A refused request is not timed: a rate over refusals is no figure.
            let refused = s["errors"].as_u64().unwrap_or(0);
            let (refusals, budget, met) = match refused {
                0 => (String::new(), "", None),
                n => (
                    format!("; {n} refused: {}", s["errors_by_cause"]),
                    "none refused",
                    Some(false),
                ),
            };
            rows.push(row(
                &format!(
                    "contacts API{on}, {} contacts: {label}",
                    api["contacts"].as_u64().unwrap_or(0)
                ),
                format!(
                    "{}/s, p50 {} p99 {}{refusals}",
                    s["requests_per_s"],
                    ms(&s["latency"]["p50_ms"]),
                    ms(&s["latency"]["p99_ms"])
                ),
                budget,
                met,
            ));
        }
    }
}

fn verdict(met: Option<bool>) -> &'static str {
    match met {
        Some(true) => "met",
        Some(false) => "MISSED",
        None => "",
    }
}

fn table(rows: &[Row]) -> String {
    let width = |f: fn(&Row) -> usize| rows.iter().map(f).max().unwrap_or(0);
    let w0 = width(|r| r.figure.chars().count());
    let w1 = width(|r| r.measured.chars().count());
    let w2 = width(|r| r.budget.chars().count()).max(6);
    let pad = |s: &str, w: usize| format!("{s}{}", " ".repeat(w.saturating_sub(s.chars().count())));
    let mut out = format!(
        "{}  {}  {}  verdict\n",
        pad("figure", w0),
        pad("measured", w1),
        pad("budget", w2)
    );
    for r in rows {
        out.push_str(&format!(
            "{}  {}  {}  {}\n",
            pad(&r.figure, w0),
            pad(&r.measured, w1),
            pad(&r.budget, w2),
            verdict(r.met)
        ));
    }
    out
}

fn markdown(report: &Value, rows: &[Row]) -> String {
    let m = &report["machine"];
    let mut out = format!(
        "Commit `{}`{} on {} cores ({}), {} GiB memory; load average {} before, {} after.\n\n",
        report["commit"].as_str().unwrap_or("?"),
        if report["dirty"] == true {
            " (with uncommitted changes)"
        } else {
            ""
        },
        m["nproc"],
        m["cpu"].as_str().unwrap_or("?"),
        m["memory_gib"],
        m["load_average_before"].as_str().unwrap_or("?"),
        m["load_average_after"].as_str().unwrap_or("?"),
    );
    out.push_str("| figure | measured | budget | |\n|---|---|---|---|\n");
    for r in rows {
        out.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            r.figure.trim(),
            r.measured,
            r.budget,
            verdict(r.met)
        ));
    }
    out
}

/// Writes latest.json, <commit>.json and latest.md under target/bench. A run
/// of some phases only is kept as <commit>-<phases>.json, so it does not
/// overwrite the full run of the same commit.
fn write_results(report: &Value, rows: &[Row]) -> Result<String> {
    let dir = project_root().join("target/bench");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let json = serde_json::to_vec_pretty(report).map_err(|e| e.to_string())?;
    let commit = report["commit"].as_str().unwrap_or("unknown");
    let phases: Vec<&str> = report["phases"]
        .as_array()
        .map(|p| p.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let name = if phases.len() == PHASES.len() {
        format!("{commit}.json")
    } else {
        format!("{commit}-{}.json", phases.join("+"))
    };
    let mut written = Vec::new();
    for (name, bytes) in [
        ("latest.json".to_owned(), json.clone()),
        (name, json),
        ("latest.md".to_owned(), markdown(report, rows).into_bytes()),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        written.push(path.display().to_string());
    }
    Ok(written.join(", "))
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free local port")
}

pub(crate) fn wait_for_port(port: u16, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if std::net::TcpStream::connect((std::net::Ipv4Addr::LOCALHOST, port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_are_judged_from_the_report() {
        let report = json!({
            "download": {"total": {"raw": 300_000, "gzip": 150_000, "brotli": 120_000}, "files": []},
            "webhooks": {"webhooks_per_s": 1200.0, "lost": 0, "applied_twice": 0, "exactly_once": true,
                         "count": 10, "concurrency": 2, "latency": {}},
            "browser": {"keystroke": {"p95_ms": 20.0, "median_ms": 9.0, "measured": 30}},
        });
        let verdicts: Vec<(String, Option<bool>)> = rows(&report)
            .into_iter()
            .filter(|r| r.met.is_some())
            .map(|r| (r.figure, r.met))
            .collect();
        assert_eq!(verdicts.len(), 4);
        assert_eq!(verdicts[0].1, Some(true), "150 KB gzip is within 200 KB");
        assert_eq!(verdicts[1].1, Some(false), "1,200/s misses 10,000/s");
        assert_eq!(verdicts[2].1, Some(true), "none lost");
        assert_eq!(verdicts[3].1, Some(false), "a 20 ms keystroke misses 16 ms");
    }
}
