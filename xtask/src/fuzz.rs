//! Fuzzing for `cargo xtask chaos`:
//! - the cargo-fuzz targets in `fuzz/` (libFuzzer; their own workspace, so
//!   the project's build never compiles them), built with the stable
//!   toolchain: with `--sanitizer none` (safe Rust) cargo-fuzz passes only
//!   stable flags (`-Cpasses=sancov-module`, `-Cllvm-args=...`,
//!   `--cfg fuzzing`), so no nightly and no `RUSTC_BOOTSTRAP`; each target
//!   runs for a bounded time; executions summed from libFuzzer's final
//!   statistics;
//! - schemathesis (PyPI, in a virtualenv under `target/chaos`) against the
//!   running sandbox service's OpenAPI document, as the demo advisor, with
//!   the checks named in [`SCHEMATHESIS_CHECKS`] and ours in
//!   `fuzz/schemathesis/optin_checks.py` (every refusal in the JSON error
//!   shape; a refused request stores nothing).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use serde_json::{json, Value};

use crate::tools::{project_root, Run};
use crate::Result;

/// Seconds each fuzz target runs by default: about 10 million executions in
/// all on this project's 2-core machine (see README "Reliability").
pub(crate) const DEFAULT_SECONDS: u64 = 60;

/// The targets in `fuzz/fuzz_targets`.
const TARGETS: [&str; 3] = ["whatsapp_webhook", "sms_webhook", "embed_message"];

const SCHEMATHESIS_VERSION: &str = "4.32.5";
const SCHEMATHESIS_SECONDS: u64 = 90;
const SCHEMATHESIS_CHECKS: &str = "not_a_server_error,response_schema_conformance,content_type_conformance,refusal_in_json_error_shape,refusal_stores_nothing";

/// `cargo fuzz` in the workspace root (it finds `fuzz/`).
fn cargo_fuzz(args: &[&str]) -> Command {
    let mut command = Command::new("cargo");
    command.arg("fuzz").args(args).current_dir(project_root());
    command
}

fn ensure_cargo_fuzz() -> Result<()> {
    let installed = Command::new("cargo")
        .args(["fuzz", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !installed {
        println!("[chaos] installing cargo-fuzz");
        Command::new("cargo")
            .args(["install", "cargo-fuzz", "--locked"])
            .status_ok()?;
    }
    Ok(())
}

/// Builds every target, runs each for `seconds`, and reports executions and
/// findings (a crash leaves its input under `fuzz/artifacts/<target>/`).
pub(crate) fn run_targets(seconds: u64, scratch: &Path) -> Result<Value> {
    ensure_cargo_fuzz()?;
    cargo_fuzz(&["build", "--sanitizer", "none", "-O"]).status_ok()?;
    let root = project_root();
    let mut targets = Vec::new();
    for target in TARGETS {
        let corpus = root.join("fuzz/corpus").join(target);
        let seeds = root.join("fuzz/seeds").join(target);
        std::fs::create_dir_all(&corpus).map_err(|e| format!("{}: {e}", corpus.display()))?;
        let log = scratch.join(format!("fuzz-{target}.log"));
        let log_file = std::fs::File::create(&log).map_err(|e| e.to_string())?;
        println!("[chaos] fuzzing {target} for {seconds} s");
        let started = Instant::now();
        let status = cargo_fuzz(&["run", "--sanitizer", "none", "-O", target])
            .arg(&corpus)
            .arg(&seeds)
            .args([
                "--",
                &format!("-max_total_time={seconds}"),
                "-print_final_stats=1",
            ])
            .stdout(Stdio::null())
            .stderr(log_file)
            .status()
            .map_err(|e| format!("cannot run cargo fuzz: {e}"))?;
        let output = std::fs::read_to_string(&log).unwrap_or_default();
        let executions = executions(&output);
        let findings: Vec<String> = output
            .lines()
            .filter_map(|l| l.split("Test unit written to ").nth(1))
            .map(str::to_owned)
            .collect();
        let crashed = !status.success();
        if crashed {
            let tail: Vec<&str> = output.lines().rev().take(30).collect();
            eprintln!(
                "[chaos] {target} found a crash:\n{}",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        targets.push(json!({
            "target": target,
            "seconds": started.elapsed().as_secs(),
            "executions": executions,
            "crashed": crashed,
            "findings": findings,
        }));
    }
    let total: u64 = targets
        .iter()
        .filter_map(|t| t["executions"].as_u64())
        .sum();
    let crashes = targets.iter().filter(|t| t["crashed"] == true).count();
    Ok(json!({
        "seconds_per_target": seconds,
        "targets": targets,
        "executions": total,
        "crashes": crashes,
    }))
}

/// Executions from libFuzzer's output: its final statistics
/// (`stat::number_of_executed_units`), else the last `#N` progress line.
fn executions(output: &str) -> Option<u64> {
    let stat = output.lines().find_map(|l| {
        l.strip_prefix("stat::number_of_executed_units:")
            .and_then(|n| n.trim().parse().ok())
    });
    stat.or_else(|| {
        output.lines().rev().find_map(|l| {
            l.strip_prefix('#')
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|n| n.parse().ok())
        })
    })
}

/// One line per target, and the total.
pub(crate) fn summary(fuzz: &Value) -> String {
    let mut out = String::new();
    for t in fuzz["targets"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "fuzz {}: {} executions in {} s, {}\n",
            t["target"].as_str().unwrap_or("?"),
            t["executions"],
            t["seconds"],
            if t["crashed"] == true {
                "CRASHED"
            } else {
                "no crash"
            }
        ));
    }
    out.push_str(&format!(
        "fuzz: {} executions, {} crashes",
        fuzz["executions"], fuzz["crashes"]
    ));
    out
}

/// schemathesis from PyPI in a virtualenv of its own under `target/chaos`.
fn ensure_schemathesis() -> Result<std::path::PathBuf> {
    let venv = crate::bench::target_dir().join("chaos/venv");
    let bin = venv.join("bin/schemathesis");
    let current = Command::new(&bin)
        .arg("--version")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(SCHEMATHESIS_VERSION));
    if !current {
        println!(
            "[chaos] installing schemathesis {SCHEMATHESIS_VERSION} into {}",
            venv.display()
        );
        let made = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status_ok();
        if made.is_err() {
            // Debian's python3 has venv in a package of its own.
            Command::new("apt-get")
                .args(["install", "-y", "python3-venv"])
                .status_ok()?;
            Command::new("python3")
                .args(["-m", "venv"])
                .arg(&venv)
                .status_ok()?;
        }
        Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet"])
            .arg(format!("schemathesis=={SCHEMATHESIS_VERSION}"))
            .status_ok()?;
    }
    Ok(bin)
}

/// Runs schemathesis for a bounded time against `base`'s OpenAPI document
/// as the first demo advisor; reports operations tested and failures.
/// `database` is the service's SQLite file: our check reads it before and
/// after each request, so requests go one at a time (one worker).
pub(crate) fn schemathesis(
    base: &str,
    tokens_file: &Path,
    database: &Path,
    scratch: &Path,
) -> Result<Value> {
    let bin = ensure_schemathesis()?;
    let tokens: Value = serde_json::from_slice(
        &std::fs::read(tokens_file).map_err(|e| format!("{}: {e}", tokens_file.display()))?,
    )
    .map_err(|e| e.to_string())?;
    let token = tokens[0]["token"].as_str().ok_or("no demo token")?;
    // Not `scratch/schemathesis`: that is the service's data folder.
    let report_dir = scratch.join("schemathesis-report");
    let log = scratch.join("schemathesis.log");
    let status = Command::new(&bin)
        .arg("run")
        .arg(format!("{base}/api/v1/openapi.json"))
        .args(["-H", &format!("Authorization: Bearer {token}")])
        .args(["--checks", SCHEMATHESIS_CHECKS])
        .args(["--max-time", &SCHEMATHESIS_SECONDS.to_string()])
        .args(["--max-examples", "20", "--workers", "1", "--no-color"])
        .args(["--report", "json", "--report-dir"])
        .arg(&report_dir)
        // Its example database (`.schemathesis/`) goes to the scratch folder.
        .current_dir(scratch)
        .env("PYTHONPATH", project_root().join("fuzz/schemathesis"))
        .env("SCHEMATHESIS_HOOKS", "optin_checks")
        .env("OPTIN_CHAOS_DATABASE", database)
        .stdout(std::fs::File::create(&log).map_err(|e| e.to_string())?)
        .stderr(Stdio::inherit())
        .status()
        .map_err(|e| format!("cannot run schemathesis: {e}"))?;
    let said = std::fs::read_to_string(&log).unwrap_or_default();
    let report_path = std::fs::read_dir(&report_dir)
        .map_err(|e| format!("schemathesis wrote no report ({status}, {e}): {said}"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|e| e == "json"))
        .ok_or_else(|| format!("schemathesis wrote no JSON report ({status})"))?;
    let report: Value =
        serde_json::from_slice(&std::fs::read(&report_path).map_err(|e| e.to_string())?)
            .map_err(|e| format!("{}: {e}", report_path.display()))?;
    // The failing operations and checks, one line each, from the console report.
    let failures: Vec<String> = said
        .lines()
        .filter(|l| l.starts_with("___"))
        .map(|l| l.trim_matches(|c: char| c == '_' || c == ' ').to_owned())
        .collect();
    let checks_failed: Vec<String> = said
        .lines()
        .filter_map(|l| {
            l.trim()
                .strip_prefix("- ")
                .filter(|l| l.starts_with("ST") || l.contains("check"))
        })
        .map(str::to_owned)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    Ok(json!({
        "version": report["schemathesis_version"],
        "checks": SCHEMATHESIS_CHECKS,
        "seconds": report["running_time"].as_f64().map(f64::round),
        "operations": report["operations"]["tested"],
        "test_cases": report["test_cases"]["generated"],
        "failures": report["test_cases"]["unique_failures"],
        "failing_operations": failures,
        "failed_checks": checks_failed,
        "errors": report["errors"],
        "exit_code": status.code(),
    }))
}

#[cfg(test)]
mod tests {
    use super::executions;

    #[test]
    fn executions_come_from_the_final_statistics_or_the_last_progress_line() {
        let done = "#1048576\tpulse  cov: 10\n#2000000\tDONE   cov: 312 ft: 900 exec/s: 33333\n\
                    stat::number_of_executed_units: 2000001\nstat::average_exec_per_sec:     33333\n";
        assert_eq!(executions(done), Some(2_000_001));
        let cut = "INFO: seed\n#524288\tpulse  cov: 10 exec/s: 1000\n#600000\tNEW    cov: 11\n";
        assert_eq!(executions(cut), Some(600_000));
        assert_eq!(executions("no fuzzer output"), None);
    }
}
