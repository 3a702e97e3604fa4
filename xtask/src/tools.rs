//! Finds or installs the toolchain (see `shared/docs/toolchain.md`): the wasm
//! target, Debian's Chromium and ChromeDriver (and `unzip` and `openssl`, with
//! which an end-to-end test checks an evidence bundle, and aiosmtpd, the real
//! SMTP server the archive tests deliver to), Trunk, the wasm-bindgen CLI at
//! the Cargo.lock version, and the npm packages (Playwright, binaryen's
//! wasm-opt). Every step checks first, so a warm machine installs nothing.

use std::ffi::{OsStr, OsString};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::Result;

const TRUNK_VERSION: &str = "0.21.14";
pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// Each program (or module) the tests run, and the Debian package that has it.
const DEBIAN_PACKAGES: [(&str, &str); 5] = [
    (CHROMIUM, "chromium"),
    (CHROMEDRIVER, "chromium-driver"),
    // The evidence-bundle spec unzips a bundle and checks it with openssl.
    ("/usr/bin/unzip", "unzip"),
    ("/usr/bin/openssl", "openssl"),
    // The archive tests run `crates/server/tests/support/smtp_sink.py` with
    // Debian's python3, which this package installs into.
    (
        "/usr/lib/python3/dist-packages/aiosmtpd",
        "python3-aiosmtpd",
    ),
];

/// The workspace root (xtask lives one level below it).
pub fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask is in the workspace")
        .to_path_buf()
}

/// A `Command` for `program`.
fn cmd(program: impl AsRef<OsStr>) -> Command {
    Command::new(program)
}

/// The installed tools and the PATH that finds them.
pub struct Tools {
    path: OsString,
}

impl Tools {
    /// Installs whatever is missing, then returns the environment to use.
    pub fn ensure() -> Result<Self> {
        let root = project_root();
        let tools = Self::without_installing()?;
        tools.ensure_wasm_target()?;
        tools.ensure_debian_packages()?;
        tools.ensure_trunk()?;
        tools.ensure_wasm_bindgen(&root)?;
        tools.ensure_npm_packages(&root)?;
        Ok(tools)
    }

    /// The environment to use, installing nothing: for a command that
    /// installs only what it needs itself (`cargo xtask postgres`).
    pub fn without_installing() -> Result<Self> {
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_default();
        let mut dirs = vec![
            project_root().join("node_modules/.bin"),
            home.join(".cargo/bin"),
        ];
        dirs.extend(std::env::split_paths(
            &std::env::var_os("PATH").unwrap_or_default(),
        ));
        Ok(Self {
            path: std::env::join_paths(dirs).map_err(|e| e.to_string())?,
        })
    }

    /// A command that sees the tools on its PATH and the browser settings.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut command = cmd(program);
        command
            .env("PATH", &self.path)
            .env("CHROMEDRIVER", CHROMEDRIVER)
            .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1");
        command
    }

    /// `cargo <args>` in the workspace root.
    pub fn cargo(&self, args: &[&str]) -> Command {
        let mut command = self.command("cargo");
        command.args(args).current_dir(project_root());
        command
    }

    fn output(&self, program: &str, args: &[&str]) -> Option<String> {
        let out = self
            .command(program)
            .args(args)
            .stderr(Stdio::null())
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn ensure_wasm_target(&self) -> Result<()> {
        let installed = self
            .output("rustup", &["target", "list", "--installed"])
            .unwrap_or_default();
        if installed
            .lines()
            .any(|l| l.trim() == "wasm32-unknown-unknown")
        {
            return Ok(());
        }
        announce("the wasm32-unknown-unknown target");
        self.command("rustup")
            .args(["target", "add", "wasm32-unknown-unknown"])
            .status_ok()
    }

    /// The Debian packages whose programs are missing, in one `apt-get install`.
    fn ensure_debian_packages(&self) -> Result<()> {
        let missing: Vec<&str> = DEBIAN_PACKAGES
            .iter()
            .filter(|(program, _)| !Path::new(program).exists())
            .map(|(_, package)| *package)
            .collect();
        self.install_debian_packages(&missing)
    }

    /// Installs Debian packages (nothing when `packages` is empty), in one
    /// `apt-get install`.
    pub fn install_debian_packages(&self, packages: &[&str]) -> Result<()> {
        if packages.is_empty() {
            return Ok(());
        }
        announce(&format!("{} (Debian packages)", packages.join(", ")));
        self.command("apt-get").arg("update").status_ok()?;
        self.command("apt-get")
            .args(["install", "-y", "--no-install-recommends"])
            .args(packages)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status_ok()
    }

    fn ensure_trunk(&self) -> Result<()> {
        if self
            .output("trunk", &["--version"])
            .is_some_and(|v| v.contains(TRUNK_VERSION))
        {
            return Ok(());
        }
        announce(&format!("Trunk {TRUNK_VERSION} (takes a few minutes)"));
        self.command("cargo")
            .args([
                "install",
                "trunk",
                "--version",
                TRUNK_VERSION,
                "--locked",
                "--force",
            ])
            .status_ok()
    }

    fn ensure_wasm_bindgen(&self, root: &Path) -> Result<()> {
        let version = locked_version(root, "wasm-bindgen")?;
        let trunk_toml =
            std::fs::read_to_string(root.join("Trunk.toml")).map_err(|e| e.to_string())?;
        if !trunk_toml.contains(&format!("wasm_bindgen = \"{version}\"")) {
            return Err(format!(
                "Trunk.toml must pin wasm_bindgen = \"{version}\", the version in Cargo.lock"
            ));
        }
        let have = |tool: &str| {
            self.output(tool, &["--version"])
                .is_some_and(|v| v.contains(&version))
        };
        if have("wasm-bindgen") && have("wasm-bindgen-test-runner") {
            return Ok(());
        }
        announce(&format!("wasm-bindgen-cli {version}"));
        // Not --locked: its lockfile pins a crate version the registry lacks.
        self.command("cargo")
            .args([
                "install",
                "wasm-bindgen-cli",
                "--version",
                &version,
                "--force",
            ])
            .status_ok()
    }

    fn ensure_npm_packages(&self, root: &Path) -> Result<()> {
        let marker = root.join("node_modules/.package-lock.json");
        let stale = |input: &str| newer(&root.join(input), &marker);
        if marker.exists() && !stale("package.json") && !stale("package-lock.json") {
            return Ok(());
        }
        announce("npm packages (Playwright, binaryen)");
        self.command("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(root)
            .status_ok()
    }
}

fn announce(what: &str) {
    println!("[xtask] installing {what}");
}

fn newer(a: &Path, b: &Path) -> bool {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    match (modified(a), modified(b)) {
        (Some(a), Some(b)) => a > b,
        _ => true,
    }
}

/// The version of `package` recorded in Cargo.lock.
fn locked_version(root: &Path, package: &str) -> Result<String> {
    let lock =
        std::fs::read_to_string(root.join("Cargo.lock")).map_err(|e| format!("Cargo.lock: {e}"))?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line == format!("name = \"{package}\"") {
            if let Some(version) = lines.next().and_then(|l| l.strip_prefix("version = \"")) {
                return Ok(version.trim_end_matches('"').to_owned());
            }
        }
    }
    Err(format!("{package} is not in Cargo.lock"))
}

/// Running commands: fail on a non-zero exit, or stream and keep the output.
pub trait Run {
    /// Runs with inherited output; `Err` unless it exits 0.
    fn status_ok(&mut self) -> Result<()>;
    /// Runs, echoing stdout line by line, and returns (success, stdout).
    fn tee(&mut self) -> (bool, String);
}

impl Run for Command {
    fn status_ok(&mut self) -> Result<()> {
        let status = self
            .status()
            .map_err(|e| format!("cannot run {:?}: {e}", self.get_program()))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("{:?} failed ({status})", self.get_program()))
        }
    }

    fn tee(&mut self) -> (bool, String) {
        let Ok(mut child) = self.stdout(Stdio::piped()).spawn() else {
            return (false, String::new());
        };
        let mut output = String::new();
        if let Some(stdout) = child.stdout.take() {
            for line in BufReader::new(stdout)
                .lines()
                .map_while(std::io::Result::ok)
            {
                println!("{line}");
                output.push_str(&line);
                output.push('\n');
            }
        }
        let ok = child.wait().is_ok_and(|s| s.success());
        (ok, output)
    }
}
