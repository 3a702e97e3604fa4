//! A throwaway PostgreSQL cluster for the service's second engine (#11):
//! Debian's server binaries, a cluster in a temporary folder, trust
//! authentication on loopback only, a free port, and a role `optin` that
//! may create databases (each test takes its own). Stopped and removed when
//! dropped, and also when xtask is interrupted (Ctrl-C, SIGTERM, SIGHUP),
//! so no cluster outlives the run that started it; only SIGKILL can leave
//! one behind.
//!
//! `cargo xtask postgres` starts one and waits for Ctrl-C;
//! `cargo xtask postgres -- <command>` runs the command with
//! `OPTIN_TEST_DATABASE_URL` set, then stops it.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, Once, PoisonError};

use crate::tools::{Run, Tools};
use crate::Result;

/// Where Debian installs each major version's server programs.
const DEBIAN_POSTGRESQL: &str = "/usr/lib/postgresql";
/// The system user that runs the server when xtask runs as root
/// (PostgreSQL refuses root); Debian's package creates it.
const SERVER_USER: &str = "postgres";
/// The role the tests connect as: no password (trust on loopback), and it
/// may create the database each test uses.
const ROLE: &str = "optin";
/// The environment variable that gives the tests the cluster's URL.
pub const TEST_DATABASE_URL: &str = "OPTIN_TEST_DATABASE_URL";
/// Connections the server accepts (PostgreSQL's default is 100).
const MAX_CONNECTIONS: u32 = 300;
/// Starts tried before giving up when another program takes the chosen port
/// between our picking it and the server binding it.
const START_ATTEMPTS: u32 = 5;

/// A running cluster; dropping it stops the server and removes its folder.
pub struct Cluster {
    id: u64,
    port: u16,
}

/// What stopping a cluster needs, kept where the signal handler finds it.
#[derive(Clone)]
struct Server {
    bin: PathBuf,
    dir: PathBuf,
    /// `Some(user)` when xtask runs as root: the server's programs run as it.
    user: Option<String>,
}

/// The clusters started and not yet stopped, by id. Whoever removes one
/// (its `Drop`, or the signal handler) stops it, holding the lock
/// meanwhile, so a cluster is stopped once and the process does not exit
/// half way through.
static RUNNING: Mutex<BTreeMap<u64, Server>> = Mutex::new(BTreeMap::new());
static NEXT_ID: AtomicU64 = AtomicU64::new(0);
static HANDLER: Once = Once::new();

impl Cluster {
    /// Installs PostgreSQL when missing, then creates and starts a cluster
    /// on a free loopback port and waits until it accepts connections.
    pub fn start(tools: &Tools) -> Result<Self> {
        let bin = match server_bin(Path::new(DEBIAN_POSTGRESQL)) {
            Some(bin) => bin,
            None => {
                tools.install_debian_packages(&["postgresql"])?;
                server_bin(Path::new(DEBIAN_POSTGRESQL)).ok_or_else(|| {
                    format!(
                        "the postgresql package left no {DEBIAN_POSTGRESQL}/<version>/bin/initdb"
                    )
                })?
            }
        };
        install_signal_handler()?;
        let user = if running_as_root()? {
            ensure_user(SERVER_USER)?;
            Some(SERVER_USER.to_owned())
        } else {
            None
        };
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        // The clock too: a folder left by a killed run whose process id
        // came back is never taken over (nor removed) by this one.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |t| t.subsec_nanos());
        let dir = std::env::temp_dir().join(format!(
            "optin-postgres-{}-{id}-{nanos}",
            std::process::id()
        ));
        let server = Server { bin, dir, user };
        // Registered before anything is created, so an interruption from
        // here on removes whatever exists.
        lock_running().insert(id, server.clone());
        // From here `Drop` cleans up whatever fails.
        let mut cluster = Self { id, port: 0 };
        cluster.port = server.create_and_start()?;
        Ok(cluster)
    }

    /// The URL the tests connect with: role `optin`, database `postgres`.
    pub fn url(&self) -> String {
        format!("postgres://{ROLE}@127.0.0.1:{}/postgres", self.port)
    }

    /// Creates the empty database `name` (lowercase letters, digits and
    /// `_`), owned by the tests' role, and answers its URL.
    pub fn new_database(&self, name: &str) -> Result<String> {
        let bin = lock_running()
            .get(&self.id)
            .map(|server| server.bin.clone())
            .ok_or("the cluster is stopped")?;
        Command::new(bin.join("psql"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                SERVER_USER,
            ])
            .args(["-d", "postgres", "-v", "ON_ERROR_STOP=1", "-c"])
            .arg(format!("CREATE DATABASE {name} OWNER {ROLE}"))
            .quiet_ok("psql (creating a database)")?;
        Ok(format!("postgres://{ROLE}@127.0.0.1:{}/{name}", self.port))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let mut running = lock_running();
        if let Some(server) = running.remove(&self.id) {
            server.stop_and_remove();
        }
    }
}

/// Runs `work` with the URL of a fresh cluster, and stops the cluster
/// afterwards whatever `work` answers (or if it panics).
pub fn with_cluster<T>(tools: &Tools, work: impl FnOnce(&str) -> T) -> Result<T> {
    let cluster = Cluster::start(tools)?;
    Ok(work(&cluster.url()))
}

/// `cargo xtask postgres`: a cluster until Ctrl-C. `cargo xtask postgres --
/// <command>`: runs the command with the cluster's URL in
/// `OPTIN_TEST_DATABASE_URL` and answers its exit status.
pub fn run(args: &[String]) -> Result<ExitCode> {
    // Only apt-get may be needed: nothing else is installed for this.
    let tools = Tools::without_installing()?;
    match args {
        [] => {
            let cluster = Cluster::start(&tools)?;
            println!("PostgreSQL ready: {}", cluster.url());
            println!("(Ctrl-C stops it and removes its folder)");
            // The signal handler stops the cluster and exits.
            loop {
                std::thread::park();
            }
        }
        [dash, program, rest @ ..] if dash == "--" => with_cluster(&tools, |url| {
            let status = Command::new(program)
                .args(rest)
                .env(TEST_DATABASE_URL, url)
                .status()
                .map_err(|e| format!("cannot run {program}: {e}"))?;
            // Its own exit code, or failure when a signal ended it.
            Ok(status
                .code()
                .and_then(|code| u8::try_from(code).ok())
                .map_or(ExitCode::FAILURE, ExitCode::from))
        })?,
        _ => Err("usage: cargo xtask postgres [-- command [args]]".into()),
    }
}

impl Server {
    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn log(&self) -> PathBuf {
        self.dir.join("server.log")
    }

    /// One of the server's programs, as the server's user.
    fn command(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        let mut command = match &self.user {
            Some(user) => {
                let mut command = Command::new("runuser");
                command.args(["-u", user, "--"]).arg(program);
                command
            }
            None => Command::new(program),
        };
        // The server's user may not enter the caller's folder.
        command.current_dir(&self.dir).stdin(Stdio::null());
        command
    }

    /// Creates the folder and the cluster, starts it and creates the role;
    /// answers the port.
    fn create_and_start(&self) -> Result<u16> {
        std::fs::create_dir(&self.dir)
            .map_err(|e| format!("cannot create {}: {e}", self.dir.display()))?;
        if let Some(user) = &self.user {
            Command::new("chown")
                .arg(format!("{user}:"))
                .arg(&self.dir)
                .quiet_ok("chown")?;
        }
        // No locale: text sorts by bytes as in SQLite, whatever the
        // machine's locale. Trust: the tests connect without a password,
        // and only from this machine (see listen_addresses below).
        self.command("initdb")
            .arg("-D")
            .arg(self.data())
            .args([
                "-U",
                SERVER_USER,
                "--auth=trust",
                "--no-locale",
                "-E",
                "UTF8",
            ])
            .quiet_ok("initdb")?;
        // Loopback only; the socket in our own folder; and room for the
        // tests' pools (each test opens its own, and they run in parallel),
        // beyond the default 100 connections.
        let settings = format!(
            "\n# cargo xtask postgres\nlisten_addresses = '127.0.0.1'\n\
             unix_socket_directories = '{}'\nmax_connections = {MAX_CONNECTIONS}\n",
            self.dir.display().to_string().replace('\'', "''")
        );
        append(&self.data().join("postgresql.conf"), &settings)?;
        let port = self.start_on_free_port()?;
        Command::new(self.bin.join("psql"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-U",
                SERVER_USER,
            ])
            .args(["-d", "postgres", "-v", "ON_ERROR_STOP=1", "-c"])
            .arg(format!("CREATE ROLE {ROLE} LOGIN CREATEDB"))
            .quiet_ok("psql (creating the role)")?;
        Ok(port)
    }

    /// Starts the server on a port that was free a moment ago, again on
    /// another one if something took it meanwhile; `pg_ctl -w` returns once
    /// the server accepts connections.
    fn start_on_free_port(&self) -> Result<u16> {
        let mut last_error = String::new();
        for _ in 0..START_ATTEMPTS {
            let port = free_port()?;
            let logged = std::fs::metadata(self.log()).map_or(0, |m| m.len());
            let started = self
                .command("pg_ctl")
                .arg("-D")
                .arg(self.data())
                .arg("-l")
                .arg(self.log())
                .args(["-w", "-t", "60", "-o", &format!("-p {port}"), "start"])
                .quiet_ok("pg_ctl start");
            match started {
                Ok(()) => return Ok(port),
                Err(error) => {
                    let log = std::fs::read(self.log()).unwrap_or_default();
                    let new = String::from_utf8_lossy(log.get(logged as usize..).unwrap_or(&[]))
                        .into_owned();
                    if !port_taken(&new) {
                        return Err(format!("{error}\nserver log:\n{new}"));
                    }
                    last_error = new;
                }
            }
        }
        Err(format!(
            "PostgreSQL found no free port in {START_ATTEMPTS} attempts:\n{last_error}"
        ))
    }

    /// Whether a server runs on the data folder (`pg_ctl status` answers 3
    /// when none does, 4 when there is no data folder).
    fn running(&self) -> bool {
        self.command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .arg("status")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_or(true, |status| status.success())
    }

    /// Stops the server (a fast shutdown, which disconnects clients; an
    /// immediate one if that fails) and removes the folder. A server that
    /// is already gone (a Ctrl-C in its terminal reached it too) is fine.
    fn stop_and_remove(&self) {
        let stop = |mode: &str| {
            self.command("pg_ctl")
                .arg("-D")
                .arg(self.data())
                .args(["-m", mode, "-w", "-t", "30", "stop"])
                .quiet_ok("pg_ctl stop")
                .or_else(|error| if self.running() { Err(error) } else { Ok(()) })
        };
        // No data folder: the cluster was never created.
        if self.data().exists() {
            if let Err(error) = stop("fast").or_else(|_| stop("immediate")) {
                eprintln!(
                    "xtask: PostgreSQL in {} did not stop, so its folder is kept: {error}",
                    self.dir.display()
                );
                return;
            }
        }
        if let Err(error) = std::fs::remove_dir_all(&self.dir) {
            if error.kind() != std::io::ErrorKind::NotFound {
                eprintln!("xtask: cannot remove {}: {error}", self.dir.display());
            }
        }
    }
}

fn lock_running() -> std::sync::MutexGuard<'static, BTreeMap<u64, Server>> {
    RUNNING.lock().unwrap_or_else(PoisonError::into_inner)
}

/// On Ctrl-C, SIGTERM or SIGHUP: stops and removes every cluster, then
/// exits (130, as a shell reports an interrupted command).
fn install_signal_handler() -> Result<()> {
    let mut result = Ok(());
    HANDLER.call_once(|| {
        result = ctrlc::set_handler(|| {
            let mut running = lock_running();
            for (_, server) in std::mem::take(&mut *running) {
                server.stop_and_remove();
            }
            eprintln!("xtask: interrupted; PostgreSQL stopped and removed");
            std::process::exit(130);
        })
        .map_err(|e| format!("cannot handle Ctrl-C: {e}"));
    });
    result
}

/// The newest major version's `bin` folder under `root` that has `initdb`.
fn server_bin(root: &Path) -> Option<PathBuf> {
    std::fs::read_dir(root)
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version: u32 = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .max_by_key(|(version, _)| *version)
        .map(|(_, bin)| bin)
}

fn running_as_root() -> Result<bool> {
    let out = Command::new("id")
        .arg("-u")
        .output()
        .map_err(|e| format!("cannot run id: {e}"))?;
    Ok(String::from_utf8_lossy(&out.stdout).trim() == "0")
}

/// Creates `user` (a system user without a login) when it does not exist.
fn ensure_user(user: &str) -> Result<()> {
    let exists = Command::new("id")
        .arg(user)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if exists {
        return Ok(());
    }
    println!("[xtask] creating the system user {user} (PostgreSQL refuses to run as root)");
    Command::new("useradd")
        .args(["--system", "--user-group", "--no-create-home"])
        .args(["--shell", "/usr/sbin/nologin", user])
        .status_ok()
}

/// A loopback port that was free when asked (the listener is closed at
/// once, so another program may take it before the server binds it).
fn free_port() -> Result<u16> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(|e| format!("cannot find a free port: {e}"))
}

/// Whether the server log says its port was taken.
fn port_taken(log: &str) -> bool {
    log.contains("Address already in use")
}

fn append(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .and_then(|mut file| file.write_all(text.as_bytes()))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Runs a command quietly; on failure, its output is in the error.
trait Quiet {
    fn quiet_ok(&mut self, what: &str) -> Result<()>;
}

impl Quiet for Command {
    fn quiet_ok(&mut self, what: &str) -> Result<()> {
        let out = self
            .output()
            .map_err(|e| format!("cannot run {what}: {e}"))?;
        if out.status.success() {
            return Ok(());
        }
        Err(format!(
            "{what} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_version_with_initdb_is_chosen() {
        let root = tempfile::tempdir().unwrap();
        for (version, with_initdb) in [("13", true), ("15", true), ("16", false), ("common", true)]
        {
            let bin = root.path().join(version).join("bin");
            std::fs::create_dir_all(&bin).unwrap();
            if with_initdb {
                std::fs::write(bin.join("initdb"), "").unwrap();
            }
        }
        assert_eq!(server_bin(root.path()), Some(root.path().join("15/bin")));
        assert_eq!(server_bin(&root.path().join("missing")), None);
    }

    #[test]
    fn a_taken_port_is_told_from_other_failures() {
        assert!(port_taken(
            "LOG:  could not bind IPv4 address \"127.0.0.1\": Address already in use"
        ));
        assert!(!port_taken(
            "FATAL:  data directory \"x\" has wrong ownership"
        ));
    }

    #[test]
    fn a_free_port_is_one_that_can_be_bound() {
        // Between the answer and the bind, a test running beside this one
        // may take the port (seen once in a fresh-clone run), as the cluster
        // allows for by trying again: so may this test, a few times.
        let bound = (0..5).any(|_| {
            let port = free_port().unwrap();
            assert_ne!(port, 0);
            TcpListener::bind(("127.0.0.1", port)).is_ok()
        });
        assert!(bound, "no port answered as free could be bound");
    }

    /// Starts a real cluster (installing PostgreSQL if missing), connects
    /// as the tests will, and checks that dropping it stops the server and
    /// removes its folder (installing Debian's package when missing, as
    /// `cargo xtask test` would anyway).
    #[test]
    fn a_cluster_serves_and_leaves_nothing_behind() {
        let tools = Tools::without_installing().unwrap();
        let cluster = Cluster::start(&tools).unwrap();
        let server = lock_running().get(&cluster.id).cloned().unwrap();
        let pid_file = server.data().join("postmaster.pid");
        let pid = std::fs::read_to_string(&pid_file).unwrap();
        let pid = pid.lines().next().unwrap().to_owned();
        let out = Command::new(server.bin.join("psql"))
            .arg(cluster.url())
            .args([
                "-At",
                "-c",
                "CREATE DATABASE t",
                "-c",
                "SELECT current_user",
                "-c",
                "SHOW max_connections",
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        assert!(String::from_utf8_lossy(&out.stdout).ends_with("optin\n300\n"));
        drop(cluster);
        assert!(!server.dir.exists(), "the folder is removed");
        assert!(exited(&pid), "the server is stopped");
    }

    /// Whether a process is gone or a zombie (the server's parent is init,
    /// which reaps it in its own time).
    fn exited(pid: &str) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |stat| {
            stat.rsplit_once(") ")
                .is_some_and(|(_, rest)| rest.starts_with('Z'))
        })
    }
}
