//! `cargo xtask chaos`: faults injected into a running service, reported
//! like the bench (never part of `cargo xtask test`).
//!
//! Scenarios, each on a fresh data folder, each followed by
//! `optin-server verify-chain`:
//! 1. `kill9`: signed webhook load (each redelivered until acknowledged, as
//!    Meta does) while the service is killed with SIGKILL and restarted;
//! 2. `storage`: the same load while another process holds the database's
//!    write lock past the service's busy timeout, and on a data folder in a
//!    small tmpfs that is filled up for 10 s (disk full; needs root);
//! 3. provider faults: the service in production mode against a stand-in
//!    Graph API and Twilio (`optin-loadgen provider-faults`) answering the
//!    first attempt of some sends with a 5xx, a 429, no answer in time, a
//!    hang after sending, or sending and then killing the service;
//! 4. fuzzing (`fuzz/`, cargo-fuzz) and schemathesis against the OpenAPI
//!    document (see `fuzz.rs`).
//!
//! Ends with one line, summed over every scenario:
//! `chaos: K kills, A acknowledged, L lost, T applied twice, D duplicate sends, chain intact`.
//! Writes `target/chaos/latest.json` and `target/chaos/<short commit>.json`.
//! `--only kill9,storage,provider,fuzz,schemathesis` runs some parts.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::bench::{free_port, git, machine, target_dir, wait_for_port};
use crate::tools::{project_root, Run};
use crate::Result;

const PARTS: [&str; 5] = ["kill9", "storage", "provider", "fuzz", "schemathesis"];

/// The Meta app secret every chaos service is started with, so the load and
/// the stand-in provider can sign webhooks.
const APP_SECRET: &str = "chaos-app-secret-not-for-production";

/// The organization's business number id in production scenarios.
const PHONE_NUMBER_ID: &str = "106540352242922";
const ADVISOR_CRM_ID: &str = "chaos-advisor";

/// Kills in the kill -9 scenario, and the load's length around them.
const KILLS: usize = 12;
const KILL9_SECONDS: u64 = 40;
const STORAGE_SECONDS: u64 = 26;

/// The disk-full scenario's file system: room for the service's files and
/// the load's rows, small enough to fill in a moment.
const DISK_FULL_TMPFS_MIB: u64 = 256;

/// The outbox's grace period in provider scenarios (the service's default is
/// 120 s): short enough that a job whose first call had an unknown outcome
/// waits it out and goes out again inside the scenario, so "lost" counts only
/// what was never sent, not what was still waiting.
const GRACE_SECONDS: u64 = 10;

/// The provider faults, as `optin-loadgen provider-faults --fault` names them.
const FAULTS: [&str; 5] = [
    "server-error",
    "throttled",
    "timeout",
    "hang-then-accept",
    "crash-after-accept",
];

pub(crate) fn run(args: &[String]) -> Result<ExitCode> {
    let mut only: Vec<String> = PARTS.iter().map(|p| p.to_string()).collect();
    let mut fuzz_seconds = crate::fuzz::DEFAULT_SECONDS;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--only" => {
                let list = args.next().ok_or("--only needs a list of parts")?;
                only = list.split(',').map(str::to_owned).collect();
                if let Some(unknown) = only.iter().find(|p| !PARTS.contains(&p.as_str())) {
                    return Err(format!(
                        "unknown part {unknown}; parts: {}",
                        PARTS.join(",")
                    ));
                }
            }
            "--fuzz-seconds" => {
                fuzz_seconds = args
                    .next()
                    .and_then(|s| s.parse().ok())
                    .ok_or("--fuzz-seconds needs seconds per target")?;
            }
            other => {
                return Err(format!(
                "unknown argument {other}; usage: cargo xtask chaos [--only {}] [--fuzz-seconds N]",
                PARTS.join(",")
            ))
            }
        }
    }
    let wants = |part: &str| only.iter().any(|p| p == part);
    let started = Instant::now();
    let root = project_root();
    let scratch = std::env::temp_dir().join(format!("optin-chaos-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).map_err(|e| format!("{}: {e}", scratch.display()))?;

    let mut report = json!({
        "commit": git(&["rev-parse", "--short", "HEAD"]).unwrap_or_else(|| "unknown".into()),
        "dirty": git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty()),
        "date": crate::bench::command_output(Command::new("date").args(["-u", "+%Y-%m-%dT%H:%M:%SZ"])),
        "parts": only,
        "machine": machine(),
        "profile": "debug",
    });

    let needs_service = ["kill9", "storage", "provider", "schemathesis"]
        .iter()
        .any(|p| wants(p));
    if needs_service {
        println!("\n[chaos] building the service with its sandbox, and the load generator");
        Command::new("cargo")
            .args([
                "build",
                "-p",
                "optin-server",
                "-p",
                "optin-loadgen",
                "--features",
                "optin-server/sandbox",
            ])
            .current_dir(&root)
            .status_ok()?;
    }
    let bins = target_dir().join("debug");
    let chaos = Chaos {
        server: bins.join("optin-server"),
        loadgen: bins.join("optin-loadgen"),
        scratch: scratch.clone(),
    };
    let mut scenarios: Vec<Scenario> = Vec::new();
    let mut failures: Vec<String> = Vec::new();
    let mut record = |name: &str, outcome: Result<Scenario>| match outcome {
        Ok(scenario) => {
            println!("[chaos] {}", scenario.line());
            scenarios.push(scenario);
        }
        Err(error) => {
            eprintln!("[chaos] {name} could not run: {error}");
            failures.push(format!("{name}: {error}"));
        }
    };
    if wants("kill9") {
        println!("\n[chaos] kill -9 during signed webhook load ({KILLS} kills)");
        record("kill9", chaos.kill9());
    }
    if wants("storage") {
        println!("\n[chaos] database write lock held past the busy timeout during webhook load");
        record("storage", chaos.storage());
        println!("\n[chaos] disk full during webhook load (a filled tmpfs, then space freed)");
        record("disk full", chaos.disk_full());
    }
    if wants("provider") {
        for fault in FAULTS {
            println!("\n[chaos] provider fault: {fault}");
            record(&format!("provider {fault}"), chaos.provider(fault));
        }
    }
    report["scenarios"] = Value::Array(scenarios.iter().map(Scenario::json).collect());
    if wants("fuzz") {
        println!("\n[chaos] fuzzing ({fuzz_seconds} s per target)");
        match crate::fuzz::run_targets(fuzz_seconds, &scratch) {
            Ok(fuzz) => report["fuzz"] = fuzz,
            Err(error) => {
                eprintln!("[chaos] fuzzing could not run: {error}");
                report["fuzz"] = json!({ "error": error });
                failures.push(format!("fuzz: {error}"));
            }
        }
    }
    if wants("schemathesis") {
        println!("\n[chaos] schemathesis against the OpenAPI document");
        match chaos.schemathesis() {
            Ok(result) => report["schemathesis"] = result,
            Err(error) => {
                eprintln!("[chaos] schemathesis could not run: {error}");
                report["schemathesis"] = json!({ "error": error });
                failures.push(format!("schemathesis: {error}"));
            }
        }
    }

    let total = Scenario::sum(&scenarios);
    report["total"] = total.json();
    report["failures"] = json!(failures);
    report["seconds"] = json!(started.elapsed().as_secs());
    report["machine"]["load_average_after"] = json!(crate::bench::load_average());
    println!("\n== Chaos ({}s)", started.elapsed().as_secs());
    println!("{}", table(&scenarios));
    if let Some(fuzz) = report.get("fuzz").filter(|f| f["targets"].is_array()) {
        println!("{}", crate::fuzz::summary(fuzz));
    }
    if let Some(s) = report
        .get("schemathesis")
        .filter(|s| s["operations"].is_number())
    {
        println!(
            "schemathesis: {} operations tested, {} failures",
            s["operations"], s["failures"]
        );
    }
    let written = write_results(&report)?;
    println!("written: {written}");
    for failure in &failures {
        println!("could not run: {failure}");
    }
    let _ = std::fs::remove_dir_all(&scratch);
    println!("{}", total.final_line());
    Ok(if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

// ---------------------------------------------------------------- scenarios

/// What one scenario measured.
#[derive(Default, Clone)]
struct Scenario {
    name: String,
    kills: u64,
    acknowledged: u64,
    lost: u64,
    /// `None` where nothing is applied twice by construction (provider scenarios).
    applied_twice: Option<u64>,
    /// Accepted sends per job (provider scenarios).
    sends_per_job: Option<Vec<u64>>,
    duplicate_sends: u64,
    chain_intact: bool,
    detail: Value,
}

impl Scenario {
    fn line(&self) -> String {
        format!(
            "{}: {} kills, {} acknowledged, {} lost, {} applied twice, sends per job {}, {} duplicate sends, chain {}",
            self.name,
            self.kills,
            self.acknowledged,
            self.lost,
            self.applied_twice.map_or("n/a".into(), |n| n.to_string()),
            self.sends_per_job_text(),
            self.duplicate_sends,
            if self.chain_intact { "intact" } else { "BROKEN" }
        )
    }

    fn sends_per_job_text(&self) -> String {
        self.sends_per_job.as_ref().map_or("n/a".into(), |sends| {
            format!(
                "[{}]",
                sends
                    .iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            )
        })
    }

    fn json(&self) -> Value {
        json!({
            "name": self.name,
            "kills": self.kills,
            "acknowledged": self.acknowledged,
            "lost": self.lost,
            "applied_twice": self.applied_twice,
            "sends_per_job": self.sends_per_job,
            "duplicate_sends": self.duplicate_sends,
            "chain_intact": self.chain_intact,
            "detail": self.detail,
        })
    }

    fn sum(scenarios: &[Scenario]) -> Scenario {
        let mut total = Scenario {
            name: "total".into(),
            chain_intact: true,
            applied_twice: Some(0),
            ..Scenario::default()
        };
        for s in scenarios {
            total.kills += s.kills;
            total.acknowledged += s.acknowledged;
            total.lost += s.lost;
            total.applied_twice =
                Some(total.applied_twice.unwrap_or(0) + s.applied_twice.unwrap_or(0));
            total.duplicate_sends += s.duplicate_sends;
            total.chain_intact &= s.chain_intact;
        }
        total
    }

    /// The one closing line the issue asks for.
    fn final_line(&self) -> String {
        format!(
            "chaos: {} kills, {} acknowledged, {} lost, {} applied twice, {} duplicate sends, chain {}",
            self.kills,
            self.acknowledged,
            self.lost,
            self.applied_twice.unwrap_or(0),
            self.duplicate_sends,
            if self.chain_intact { "intact" } else { "BROKEN" }
        )
    }
}

fn table(scenarios: &[Scenario]) -> String {
    let mut out = format!(
        "{:<32} {:>5} {:>12} {:>5} {:>13} {:>16} {:>10}  chain\n",
        "scenario", "kills", "acknowledged", "lost", "applied twice", "sends per job", "duplicates"
    );
    for s in scenarios {
        out.push_str(&format!(
            "{:<32} {:>5} {:>12} {:>5} {:>13} {:>16} {:>10}  {}\n",
            s.name,
            s.kills,
            s.acknowledged,
            s.lost,
            s.applied_twice.map_or("n/a".into(), |n| n.to_string()),
            s.sends_per_job_text(),
            s.duplicate_sends,
            if s.chain_intact { "intact" } else { "BROKEN" }
        ));
    }
    out
}

fn write_results(report: &Value) -> Result<String> {
    let dir = project_root().join("target/chaos");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let json = serde_json::to_vec_pretty(report).map_err(|e| e.to_string())?;
    let commit = report["commit"].as_str().unwrap_or("unknown");
    let mut written = Vec::new();
    for name in ["latest.json".to_owned(), format!("{commit}.json")] {
        let path = dir.join(name);
        std::fs::write(&path, &json).map_err(|e| format!("{}: {e}", path.display()))?;
        written.push(path.display().to_string());
    }
    Ok(written.join(", "))
}

// ------------------------------------------------------------------ service

/// How a chaos service runs.
#[derive(Clone)]
enum Mode {
    /// The sandbox (demo data, its own providers).
    Sandbox,
    /// Production against the stand-in provider on this port.
    Production { provider_port: u16 },
}

/// The service on a fixed port and data folder, restartable after a kill.
struct Service {
    binary: PathBuf,
    mode: Mode,
    port: u16,
    data_dir: PathBuf,
    child: Option<Child>,
}

impl Service {
    fn new(binary: &Path, mode: Mode, data_dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(data_dir).map_err(|e| format!("{}: {e}", data_dir.display()))?;
        if matches!(mode, Mode::Production { .. }) {
            // Production signs checkpoints with a key of the operator's (README "Checkpoints").
            Command::new("openssl")
                .args(["genpkey", "-algorithm", "ed25519", "-out"])
                .arg(data_dir.join("checkpoint-key.pem"))
                .status_ok()?;
        }
        Ok(Self {
            binary: binary.to_owned(),
            mode,
            port: free_port(),
            data_dir: data_dir.to_owned(),
            child: None,
        })
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn database(&self) -> PathBuf {
        self.data_dir.join("optin.sqlite3")
    }

    fn pid_file(&self) -> PathBuf {
        self.data_dir.join("service.pid")
    }

    /// The service binary with this mode's settings and nothing of the caller's.
    fn command(&self) -> Command {
        let mut command = Command::new(&self.binary);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("OPTIN_") {
                command.env_remove(key);
            }
        }
        command
            .current_dir(project_root())
            .arg("--data-dir")
            .arg(&self.data_dir)
            .env("OPTIN_ADDR", format!("127.0.0.1:{}", self.port))
            .env("OPTIN_WA_APP_SECRET", APP_SECRET)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null());
        match self.mode {
            Mode::Sandbox => {
                command.arg("--sandbox");
            }
            Mode::Production { provider_port } => {
                let provider = format!("http://127.0.0.1:{provider_port}");
                command
                    .env("OPTIN_PUBLIC_URL", self.base())
                    .env("OPTIN_WA_ACCESS_TOKEN", "chaos-system-user-token")
                    .env("OPTIN_WA_VERIFY_TOKEN", "chaos-verify-token")
                    .env("OPTIN_WA_GRAPH_BASE", &provider)
                    .env("OPTIN_SMS_BASE", &provider)
                    .env("OPTIN_SMS_ACCOUNT_SID", "ACchaos")
                    .env("OPTIN_SMS_AUTH_TOKEN", "chaos-sms-token")
                    .env("OPTIN_OUTBOX_GRACE_SECONDS", GRACE_SECONDS.to_string())
                    .env(
                        "OPTIN_CHECKPOINT_KEY_FILE",
                        self.data_dir.join("checkpoint-key.pem"),
                    )
                    .env("OPTIN_WITNESS_DIR", self.data_dir.join("witness"));
            }
        }
        command
    }

    /// Runs an administration command (`verify-chain`, `create-...`) on the
    /// data folder; returns its stdout, or its stdout and stderr as the error.
    fn administer(&self, args: &[&str]) -> Result<String> {
        let output = self
            .command()
            .args(args)
            .output()
            .map_err(|e| format!("cannot run {}: {e}", self.binary.display()))?;
        let stdout = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        if output.status.success() {
            Ok(stdout)
        } else {
            Err(format!(
                "optin-server {} failed: {stdout} {}",
                args.join(" "),
                String::from_utf8_lossy(&output.stderr).trim()
            ))
        }
    }

    fn start(&mut self) -> Result<()> {
        let log_path = self.data_dir.join("server.log");
        let log = File::options()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| format!("{}: {e}", log_path.display()))?;
        let child = self
            .command()
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.binary.display()))?;
        let pid = child.id();
        self.child = Some(child);
        std::fs::write(self.pid_file(), pid.to_string()).map_err(|e| e.to_string())?;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                return Err(format!(
                    "the service exited at start ({status}); see {}",
                    log_path.display()
                ));
            }
            if wait_for_port(self.port, Duration::from_millis(100)) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("the service did not start on port {}", self.port));
            }
        }
    }

    /// Whether the process we started has exited (killed by someone else).
    fn exited(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(Some(_))))
    }

    /// SIGKILL, and reap it.
    fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then SIGKILL after 20 s.
    fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// `optin-server verify-chain` on the stopped service's data folder.
    fn chain_intact(&mut self) -> (bool, String) {
        self.stop();
        // Exit 0 only when every organization's chain verifies.
        match self.administer(&["verify-chain"]) {
            Ok(said) => (true, said),
            Err(said) => (false, said),
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A load generator in the background, killed if a scenario ends early.
struct Background(Option<Child>);

impl Background {
    fn running(&mut self) -> bool {
        self.0
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A tmpfs mounted for one scenario, unmounted when dropped (needs root, as
/// `cargo xtask test` and CI have).
struct Tmpfs {
    path: PathBuf,
}

impl Tmpfs {
    fn mount(path: &Path, mib: u64) -> Result<Self> {
        std::fs::create_dir_all(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(path)
            .status_ok()
            .map_err(|e| {
                format!(
                    "cannot mount a tmpfs at {} (root needed): {e}",
                    path.display()
                )
            })?;
        Ok(Self {
            path: path.to_owned(),
        })
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("--lazy")
            .arg(&self.path)
            .status();
    }
}

/// Writes `path` until the file system is full; returns the MiB written.
fn fill(path: &Path) -> u64 {
    use std::io::Write as _;
    let Ok(mut file) = File::create(path) else {
        return 0;
    };
    let chunk = vec![0u8; 64 * 1024];
    let mut written: u64 = 0;
    while file.write_all(&chunk).is_ok() {
        written += chunk.len() as u64;
    }
    // What is left is smaller than a chunk: take it byte by byte.
    while file.write_all(&[0]).is_ok() {
        written += 1;
    }
    let _ = file.sync_all();
    written / (1024 * 1024)
}

struct Chaos {
    server: PathBuf,
    loadgen: PathBuf,
    scratch: PathBuf,
}

/// Counts from a JSON report.
fn count(value: &Value, key: &str) -> u64 {
    value[key].as_u64().unwrap_or(0)
}

impl Chaos {
    /// `optin-loadgen` with `args`, started in the background.
    fn spawn_loadgen(&self, args: &[String]) -> Result<Background> {
        Command::new(&self.loadgen)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map(|child| Background(Some(child)))
            .map_err(|e| format!("cannot start {}: {e}", self.loadgen.display()))
    }

    /// Waits for a background loadgen and reads its JSON report.
    fn loadgen_report(mut load: Background) -> Result<Value> {
        let child = load.0.take().ok_or("the load generator was not started")?;
        let output = child.wait_with_output().map_err(|e| e.to_string())?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let last = stdout
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        if !output.status.success() {
            return Err(format!("optin-loadgen failed ({}): {last}", output.status));
        }
        serde_json::from_str(last)
            .map_err(|e| format!("optin-loadgen printed no JSON ({e}): {last}"))
    }

    fn webhook_load(&self, service: &Service, seconds: u64, extra: &[&str]) -> Result<Background> {
        let mut args: Vec<String> = [
            "chaos-webhooks",
            "--base",
            &service.base(),
            "--secret",
            APP_SECRET,
            "--db",
            &service.database().to_string_lossy(),
            "--seconds",
            &seconds.to_string(),
            "--concurrency",
            "16",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(extra.iter().map(|s| s.to_string()));
        self.spawn_loadgen(&args)
    }

    fn webhook_scenario(name: &str, kills: u64, result: &Value, chain: (bool, String)) -> Scenario {
        Scenario {
            name: name.to_owned(),
            kills,
            acknowledged: count(result, "acknowledged"),
            // Acknowledged but missing any of its rows counts as lost.
            lost: count(result, "lost")
                .max(count(result, "evidence_missing"))
                .max(count(result, "receipt_missing")),
            applied_twice: Some(count(result, "applied_twice")),
            sends_per_job: None,
            duplicate_sends: 0,
            chain_intact: chain.0,
            detail: json!({"load": result, "verify_chain": chain.1}),
        }
    }

    /// Signed webhook load; the service is killed with SIGKILL every 1.5 s
    /// and restarted, [`KILLS`] times, then left running to the end.
    fn kill9(&self) -> Result<Scenario> {
        let mut service = Service::new(&self.server, Mode::Sandbox, &self.scratch.join("kill9"))?;
        service.start()?;
        let load = self.webhook_load(&service, KILL9_SECONDS, &[])?;
        let started = Instant::now();
        let mut kills = 0;
        let mut restart_ms = Vec::new();
        while kills < KILLS && started.elapsed() < Duration::from_secs(KILL9_SECONDS - 6) {
            std::thread::sleep(Duration::from_millis(1500));
            service.kill9();
            kills += 1;
            let t = Instant::now();
            service.start()?;
            restart_ms.push(t.elapsed().as_millis() as u64);
        }
        let mut result = Self::loadgen_report(load)?;
        result["restart_ms"] = json!(restart_ms);
        let chain = service.chain_intact();
        Ok(Self::webhook_scenario(
            "kill -9 during webhook load",
            kills as u64,
            &result,
            chain,
        ))
    }

    /// Signed webhook load while another process holds the write lock twice
    /// for longer than the service's 5 s busy timeout.
    fn storage(&self) -> Result<Scenario> {
        let mut service = Service::new(&self.server, Mode::Sandbox, &self.scratch.join("storage"))?;
        service.start()?;
        let load = self.webhook_load(
            &service,
            STORAGE_SECONDS,
            &["--lock-at", "4", "--lock-at", "14", "--lock-seconds", "7"],
        )?;
        let result = Self::loadgen_report(load)?;
        let chain = service.chain_intact();
        Ok(Self::webhook_scenario(
            "database locked (busy) during load",
            0,
            &result,
            chain,
        ))
    }

    /// Signed webhook load on a data folder in a small tmpfs of its own: at
    /// 4 s a filler file takes every free byte (SQLite answers "disk full"),
    /// at 14 s it is removed. Refused webhooks are redelivered, as Meta does.
    fn disk_full(&self) -> Result<Scenario> {
        let mount = Tmpfs::mount(&self.scratch.join("disk-full"), DISK_FULL_TMPFS_MIB)?;
        let mut service = Service::new(&self.server, Mode::Sandbox, &mount.path.join("data"))?;
        service.start()?;
        let load = self.webhook_load(&service, STORAGE_SECONDS, &[])?;
        std::thread::sleep(Duration::from_secs(4));
        let filler = mount.path.join("filler");
        let filled = fill(&filler);
        println!("[chaos] disk full: {filled} MiB of filler written");
        std::thread::sleep(Duration::from_secs(10));
        std::fs::remove_file(&filler).map_err(|e| format!("{}: {e}", filler.display()))?;
        println!("[chaos] disk full: filler removed");
        let mut result = Self::loadgen_report(load)?;
        result["filler_mib"] = json!(filled);
        let chain = service.chain_intact();
        service.stop();
        Ok(Self::webhook_scenario(
            "disk full during load",
            0,
            &result,
            chain,
        ))
    }

    /// Provisions an organization in production mode (as the README's quick
    /// start does) and returns an integration key.
    fn provision(service: &Service) -> Result<String> {
        let org = service.administer(&[
            "create-organization",
            "--name",
            "Chaos Wealth",
            "--whatsapp-business-account-id",
            "102290129340398",
            "--whatsapp-phone-number-id",
            PHONE_NUMBER_ID,
            "--sms-number",
            "+1 212 736 5000",
        ])?;
        service.administer(&[
            "create-advisor",
            "--organization",
            &org,
            "--name",
            "Chaos Advisor",
            "--external-id",
            ADVISOR_CRM_ID,
        ])?;
        service.administer(&[
            "create-api-key",
            "--organization",
            &org,
            "--name",
            "Chaos CRM",
            "--scope",
            "integration",
        ])
    }

    /// The service in production mode against the stand-in provider with
    /// `fault`; restarted whenever the stand-in kills it.
    fn provider(&self, fault: &str) -> Result<Scenario> {
        let provider_port = free_port();
        let mut service = Service::new(
            &self.server,
            Mode::Production { provider_port },
            &self.scratch.join(format!("provider-{fault}")),
        )?;
        let crm_key = Self::provision(&service)?;
        // Past an unknown outcome: the claim's lease (the 10 s call timeout
        // and 10 s of margin), then the grace period and the next pass.
        let seconds = 25 + 2 * GRACE_SECONDS;
        let mut stand_in = self.spawn_loadgen(
            &[
                "provider-faults",
                "--listen",
                &format!("127.0.0.1:{provider_port}"),
                "--base",
                &service.base(),
                "--secret",
                APP_SECRET,
                "--crm-key",
                &crm_key,
                "--advisor",
                ADVISOR_CRM_ID,
                "--fault",
                fault,
                "--pid-file",
                &service.pid_file().to_string_lossy(),
                "--seconds",
                &seconds.to_string(),
            ]
            .map(str::to_owned),
        )?;
        // The stand-in may kill it at any time, during a start too.
        let mut start_errors = Vec::new();
        if let Err(e) = service.start() {
            start_errors.push(e);
        }
        let mut restarts: u64 = 0;
        while stand_in.running() {
            if service.exited() {
                service.child = None;
                restarts += 1;
                if let Err(e) = service.start() {
                    start_errors.push(e);
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let mut result = Self::loadgen_report(stand_in)?;
        result["restarts"] = json!(restarts);
        result["start_errors"] = json!(start_errors);
        let chain = service.chain_intact();
        let sends: Vec<u64> = result["sends_per_job"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_u64)
            .collect();
        Ok(Scenario {
            name: format!("provider {fault}"),
            // The restarts this side saw: each followed a kill by the stand-in.
            kills: restarts,
            acknowledged: count(&result, "acknowledged"),
            lost: count(&result, "lost"),
            applied_twice: None,
            sends_per_job: Some(sends),
            duplicate_sends: count(&result, "duplicate_sends"),
            chain_intact: chain.0,
            detail: json!({"provider": result, "verify_chain": chain.1}),
        })
    }

    /// Runs schemathesis against the sandbox service (see `fuzz.rs`).
    fn schemathesis(&self) -> Result<Value> {
        let mut service = Service::new(
            &self.server,
            Mode::Sandbox,
            &self.scratch.join("schemathesis"),
        )?;
        service.start()?;
        let result = crate::fuzz::schemathesis(
            &service.base(),
            &service.data_dir.join("demo-advisors.json"),
            &service.database(),
            &self.scratch,
        );
        service.stop();
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_closing_line_sums_every_scenario() {
        let a = Scenario {
            name: "a".into(),
            kills: 12,
            acknowledged: 1000,
            applied_twice: Some(0),
            chain_intact: true,
            ..Scenario::default()
        };
        let b = Scenario {
            name: "b".into(),
            kills: 2,
            acknowledged: 6,
            lost: 1,
            duplicate_sends: 2,
            chain_intact: true,
            ..Scenario::default()
        };
        assert_eq!(
            Scenario::sum(&[a.clone(), b.clone()]).final_line(),
            "chaos: 14 kills, 1006 acknowledged, 1 lost, 0 applied twice, 2 duplicate sends, chain intact"
        );
        let broken = Scenario {
            chain_intact: false,
            applied_twice: Some(3),
            ..b
        };
        assert_eq!(
            Scenario::sum(&[a, broken]).final_line(),
            "chaos: 14 kills, 1006 acknowledged, 1 lost, 3 applied twice, 2 duplicate sends, chain BROKEN"
        );
    }
}
