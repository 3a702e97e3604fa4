//! `cargo xtask run | test | bench | chaos | postgres`: the only entry points a person needs.
//! Installs what is missing (idempotently), builds, runs and tests.

mod bench;
mod chaos;
mod compress;
mod fuzz;
mod postgres;
mod tally;
mod tools;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, ExitCode, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tally::Tally;
use tools::{project_root, Run, Tools};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        // `cargo xtask run -- --addr ...` and `cargo xtask run --addr ...` both work.
        Some("run") => run(args[1..]
            .strip_prefix(&["--".to_owned()])
            .unwrap_or(&args[1..])),
        Some("test") => test(),
        Some("bench") => bench::run(&args[1..]),
        Some("chaos") => chaos::run(&args[1..]),
        Some("postgres") => postgres::run(&args[1..]),
        _ => {
            eprintln!("usage: cargo xtask run [-- server flags] | test | bench [--quick] | chaos [--only parts] | postgres [-- command]");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("xtask: {error}");
            ExitCode::FAILURE
        }
    }
}

type Result<T> = std::result::Result<T, String>;

/// Folder of the built sandbox phone page (`crates/phone-app`), apart from
/// the advisor's `dist` so a production deployment of `dist` never holds it.
const PHONE_DIST: &str = "dist-phone";

/// Builds the release app and the service with its sandbox, and runs them until Ctrl-C.
fn run(server_args: &[String]) -> Result<ExitCode> {
    let tools = Tools::ensure()?;
    let root = project_root();
    build_web_app(&tools)?;
    tools
        .cargo(&[
            "build",
            "--release",
            "-p",
            "optin-server",
            "--features",
            "sandbox",
        ])
        .status_ok()?;
    let server = root.join("target/release/optin-server");
    let mut command = tools.command(&server);
    command
        .current_dir(&root)
        .args(["--static-dir", "dist"])
        .args(server_args);
    // The sandbox, unless the caller asks for production (OPTIN_SANDBOX=0).
    if std::env::var_os("OPTIN_SANDBOX").is_none() {
        command.env("OPTIN_SANDBOX", "1");
    }
    if std::env::var_os("OPTIN_SANDBOX_PHONE_DIR").is_none() {
        command.env("OPTIN_SANDBOX_PHONE_DIR", PHONE_DIST);
    }
    // The "Example CRM" demo host on a second origin, unless the caller chose otherwise.
    if std::env::var_os("OPTIN_DEMO_CRM_ADDR").is_none() {
        command.env("OPTIN_DEMO_CRM_ADDR", "127.0.0.1:8081");
    }
    // The server shares our terminal, so Ctrl-C reaches it and it shuts down gracefully.
    let status = command
        .status()
        .map_err(|e| format!("cannot start {}: {e}", server.display()))?;
    Ok(if status.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Builds the advisor's app into `dist` and, as a separate Trunk entry, the
/// sandbox phone page into [`PHONE_DIST`] (its files served by the sandbox
/// under `/sandbox/phone-app/`).
fn build_web_app(tools: &Tools) -> Result<()> {
    tools
        .command("trunk")
        .args(["build", "--release"])
        .current_dir(project_root())
        .status_ok()?;
    tools
        .command("trunk")
        .args([
            "build",
            "crates/phone-app/index.html",
            "--release",
            "--dist",
            PHONE_DIST,
            "--public-url",
            "/sandbox/phone-app/",
        ])
        .current_dir(project_root())
        .status_ok()?;
    // Brotli and gzip once here, not per request: the service sends them.
    for dist in ["dist", PHONE_DIST] {
        compress::precompress(&project_root().join(dist))?;
    }
    Ok(())
}

/// Every check; ends with `N passed, N failed`.
fn test() -> Result<ExitCode> {
    let started = Instant::now();
    let tools = Tools::ensure()?;
    let mut suites: Vec<(&str, Tally)> = Vec::new();
    let mut check = |name: &'static str, ok: bool| suites.push((name, Tally::check(ok)));

    check(
        "rustfmt",
        tools
            .cargo(&["fmt", "--all", "--check"])
            .status_ok()
            .is_ok(),
    );
    // `--all-targets` leaves out the test targets a plain `cargo test` does
    // not build (`test = false`: `instances`); a glob names them.
    let clippy_native = |targets: &[&str]| {
        let mut args = vec!["clippy"];
        args.extend(NATIVE_CRATES);
        args.extend(targets);
        args.extend(["--", "-D", "warnings"]);
        tools.cargo(&args).status_ok().is_ok()
    };
    check(
        "clippy (native)",
        clippy_native(&["--all-targets"]) && clippy_native(&["--test", "*"]),
    );
    // The production service: without the sandbox feature (which the tests'
    // dev-dependency turns on for the run above).
    check(
        "clippy (service without sandbox)",
        tools
            .cargo(&["clippy", "-p", "optin-server", "--", "-D", "warnings"])
            .status_ok()
            .is_ok(),
    );
    check(
        "clippy (wasm32)",
        tools
            .cargo(&[
                "clippy",
                "-p",
                "optin-app",
                "-p",
                "optin-core",
                "-p",
                "optin-phone-app",
                "--target",
                "wasm32-unknown-unknown",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ])
            .status_ok()
            .is_ok(),
    );
    let mut tallies = vec![
        (
            "unit and integration tests",
            cargo_test(&tools, &native_tests(&[])),
        ),
        (
            "component tests (headless Chromium)",
            cargo_test(
                &tools,
                // Only the test targets: the lib and the binary have no
                // browser tests, and the runner's "no tests to run!" for
                // them would count as a suite that ran nothing.
                &[
                    "test",
                    "--no-fail-fast",
                    "-p",
                    "optin-app",
                    "--target",
                    "wasm32-unknown-unknown",
                    "--test",
                    "*",
                ],
            ),
        ),
        ("end-to-end tests (Chromium)", end_to_end(&tools)),
    ];
    suites.append(&mut tallies);
    suites.append(&mut on_postgres(&tools));

    println!("\n== Summary ({}s)", started.elapsed().as_secs());
    let mut total = Tally::default();
    for (name, tally) in &suites {
        println!(
            "{:>5} passed {:>3} failed  {name}",
            tally.passed, tally.failed
        );
        total.passed += tally.passed;
        total.failed += tally.failed;
    }
    println!("{} passed, {} failed", total.passed, total.failed);
    Ok(if total.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Every crate but the two web apps (wasm32, tested in Chromium). One list:
/// the same packages give the same features, so both test passes and clippy
/// share what they build.
const NATIVE_CRATES: &[&str] = &[
    "--workspace",
    "--exclude",
    "optin-app",
    "--exclude",
    "optin-phone-app",
];

/// `cargo test` of the native crates, every binary run, then `targets`.
fn native_tests<'a>(targets: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["test", "--no-fail-fast"];
    args.extend(NATIVE_CRATES);
    args.extend(targets);
    args
}

/// Runs a `cargo test` and counts it (see `tally`).
fn cargo_test(tools: &Tools, args: &[&str]) -> Tally {
    let (ok, output) = tools.cargo(args).tee();
    tally::from_cargo_test(&output, ok)
}

/// Builds the release web app and the service with its sandbox.
fn build_for_browsers(tools: &Tools) -> Result<()> {
    build_web_app(tools)?;
    tools
        .cargo(&["build", "-p", "optin-server", "--features", "sandbox"])
        .status_ok()
}

/// Starts the built service in the sandbox on the data in `data_dir`, with
/// the demo CRM, and `args`; answers it (stopped when dropped) with the
/// addresses of the app and of the demo CRM once it says where it listens.
fn start_service(
    tools: &Tools,
    data_dir: &std::path::Path,
    args: &[&str],
) -> Option<(KillOnDrop, SocketAddr, SocketAddr)> {
    let root = project_root();
    let mut server = tools
        .command(root.join("target/debug/optin-server"))
        .current_dir(&root)
        .args(["--sandbox", "--static-dir", "dist"])
        .args(["--demo-crm-addr", "127.0.0.1:0"])
        .args(["--sandbox-phone-dir", PHONE_DIST])
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .ok()?;
    let bound = server.stdout.take().map(listening_addresses);
    let server = KillOnDrop(server);
    match bound.and_then(|rx| rx.recv_timeout(Duration::from_secs(60)).ok()) {
        Some((app, crm)) => Some((server, app, crm)),
        None => {
            eprintln!("the service did not say where it listens");
            None
        }
    }
}

/// Runs Playwright with `config` and `env`, and counts its JSON report.
fn playwright(
    tools: &Tools,
    config: &str,
    env: &[(&str, String)],
    report: &std::path::Path,
) -> Tally {
    let ran = tools
        .command("playwright")
        .current_dir(project_root())
        .args([
            "test",
            "--config",
            config,
            "--forbid-only",
            "--reporter=list,json",
        ])
        .envs(env.iter().map(|(name, value)| (*name, value.as_str())))
        .env("PLAYWRIGHT_JSON_OUTPUT_NAME", report)
        .status_ok();
    let tally = std::fs::read(report)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .map_or(Tally::SETUP_FAILED, |json| tally::from_playwright(&json));
    if ran.is_err() && tally.failed == 0 {
        return Tally::SETUP_FAILED;
    }
    tally
}

/// A data folder of this run under the temporary folder, empty.
fn fresh_data_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("optin-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Builds the release web app, starts the service on a free port with a
/// temporary database, runs the Playwright specs, and stops the service.
fn end_to_end(tools: &Tools) -> Tally {
    if build_for_browsers(tools).is_err() {
        return Tally::SETUP_FAILED;
    }
    let data_dir = fresh_data_dir("e2e");
    // Port 0: the service binds and then says where, so no port is freed
    // here and taken by someone else before the service binds it.
    let Some((server, addr, crm_addr)) =
        start_service(tools, &data_dir, &["--addr", "127.0.0.1:0"])
    else {
        return Tally::SETUP_FAILED;
    };
    let tally = playwright(
        tools,
        "playwright.config.ts",
        &[
            ("BASE_URL", format!("http://{addr}")),
            ("DEMO_CRM_PORT", crm_addr.port().to_string()),
            (
                "DEMO_TOKENS_FILE",
                data_dir.join("demo-advisors.json").display().to_string(),
            ),
        ],
        &data_dir.join("playwright-report.json"),
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&data_dir);
    tally
}

/// The service's tests again on PostgreSQL (a throwaway cluster, stopped
/// and removed afterwards), with the tests of several instances on one
/// database; then the two-instance browser test on it.
fn on_postgres(tools: &Tools) -> Vec<(&'static str, Tally)> {
    const INTEGRATION: &str = "integration tests on PostgreSQL";
    const INSTANCES: &str = "two instances on PostgreSQL (Chromium)";
    let cluster = match postgres::Cluster::start(tools) {
        Ok(cluster) => cluster,
        Err(e) => {
            eprintln!("cannot start PostgreSQL: {e}");
            return vec![
                (INTEGRATION, Tally::SETUP_FAILED),
                (INSTANCES, Tally::SETUP_FAILED),
            ];
        }
    };
    // The service's integration tests of the first pass, run again by the
    // same binaries (same packages, so the same features: nothing built
    // twice), and `instances` (several instances on one database), which a
    // plain `cargo test` does not build (`test = false`). By name: the other
    // crates' tests use no database, and ran in the first pass.
    let integration = match service_test_targets() {
        Ok(names) => {
            let mut targets = Vec::new();
            for name in &names {
                targets.extend(["--test", name.as_str()]);
            }
            let (ok, output) = tools
                .cargo(&native_tests(&targets))
                .env(postgres::TEST_DATABASE_URL, cluster.url())
                .tee();
            tally::from_cargo_test(&output, ok)
        }
        Err(e) => {
            eprintln!("cannot list the service's tests: {e}");
            Tally::SETUP_FAILED
        }
    };
    // A database of their own, which the tests' role owns (PostgreSQL 15
    // lets no one but the owner create tables in `postgres`'s schema).
    let instances = match cluster.new_database("optin_two_instances") {
        Ok(url) => two_instances(tools, &url),
        Err(e) => {
            eprintln!("cannot create the two instances' database: {e}");
            Tally::SETUP_FAILED
        }
    };
    vec![(INTEGRATION, integration), (INSTANCES, instances)]
}

/// The names of the service's integration test targets (`crates/server/tests/*.rs`).
fn service_test_targets() -> std::io::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(project_root().join("crates/server/tests"))? {
        let path = entry?.path();
        if path.extension().is_some_and(|ext| ext == "rs") {
            if let Some(stem) = path.file_stem().and_then(|stem| stem.to_str()) {
                names.push(stem.to_owned());
            }
        }
    }
    names.sort();
    Ok(names)
}

/// Two service instances on the PostgreSQL at `database_url`, as behind a
/// load balancer: the browser on A, the one sandbox (Meta) on B, which
/// delivers its webhooks to B and a copy of each to A at once; both run
/// outbox workers. Runs the specs in `tests/e2e-instances`.
fn two_instances(tools: &Tools, database_url: &str) -> Tally {
    if build_for_browsers(tools).is_err() {
        return Tally::SETUP_FAILED;
    }
    // A's address is needed before A starts (B copies webhooks to it): the
    // only port chosen here rather than by the service.
    let Some(port_a) = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .ok()
        .map(|addr| addr.port())
    else {
        return Tally::SETUP_FAILED;
    };
    let a_url = format!("http://127.0.0.1:{port_a}");
    let secrets = [
        "--database-url",
        database_url,
        "--wa-app-secret",
        "two-instances-app-secret",
        "--wa-access-token",
        "two-instances-access-token",
        "--sms-auth-token",
        "two-instances-sms-token",
    ];
    let (dir_a, dir_b) = (fresh_data_dir("instance-a"), fresh_data_dir("instance-b"));
    // B first: it creates the demo organization and writes its people's tokens.
    let b_args = [
        &secrets[..],
        &["--addr", "127.0.0.1:0", "--sandbox-webhook-copies", &a_url],
    ]
    .concat();
    let Some((b, b_addr, _)) = start_service(tools, &dir_b, &b_args) else {
        return Tally::SETUP_FAILED;
    };
    let b_url = format!("http://{b_addr}");
    let a_addr = format!("127.0.0.1:{port_a}");
    let a_args = [&secrets[..], &["--addr", &a_addr, "--public-url", &b_url]].concat();
    let Some((a, _, _)) = start_service(tools, &dir_a, &a_args) else {
        return Tally::SETUP_FAILED;
    };
    let tally = playwright(
        tools,
        "playwright.instances.config.ts",
        &[
            ("BASE_URL", a_url),
            ("INSTANCE_B_URL", b_url),
            (
                "DEMO_TOKENS_FILE",
                dir_b.join("demo-advisors.json").display().to_string(),
            ),
        ],
        &dir_a.join("playwright-report.json"),
    );
    drop((a, b));
    for dir in [dir_a, dir_b] {
        let _ = std::fs::remove_dir_all(dir);
    }
    tally
}

/// Reads the service's first lines for the addresses it bound (the app's
/// and the demo CRM's), then keeps draining its output so it never blocks.
fn listening_addresses(
    stdout: std::process::ChildStdout,
) -> mpsc::Receiver<(SocketAddr, SocketAddr)> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let (mut app, mut crm) = (None, None);
        for line in BufReader::new(stdout)
            .lines()
            .map_while(std::io::Result::ok)
        {
            let addr = line
                .split("http://")
                .nth(1)
                .and_then(|rest| rest.split(['/', ' ']).next())
                .and_then(|addr| addr.parse::<SocketAddr>().ok());
            match addr {
                Some(addr) if line.starts_with("Example CRM") => crm = Some(addr),
                Some(addr) if app.is_none() => app = Some(addr),
                _ => eprintln!("{line}"),
            }
            if let (Some(app), Some(crm)) = (app, crm) {
                let _ = tx.send((app, crm));
            }
        }
    });
    rx
}

/// Stops a child process we started when it goes out of scope.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
