//! Configuration, from flags or environment variables (see the README).

use std::net::SocketAddr;
use std::path::PathBuf;

/// Settings of a running service.
#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "OPTIN_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// Folder for the SQLite database and sandbox files; created if missing.
    #[arg(long, env = "OPTIN_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// Folder with the built web app (Trunk's `dist/`); the API only if absent.
    #[arg(long, env = "OPTIN_STATIC_DIR")]
    pub static_dir: Option<PathBuf>,
    /// Region (ISO 3166 alpha-2) for numbers typed without a country code.
    #[arg(long, env = "OPTIN_DEFAULT_REGION")]
    pub default_region: Option<String>,
    /// Origins allowed to frame the app (space separated), besides the service itself.
    #[arg(long, env = "OPTIN_FRAME_ANCESTORS", value_delimiter = ' ')]
    pub frame_ancestors: Vec<String>,
}

impl Config {
    /// A config for tests: given data folder, no static files, ephemeral port.
    pub fn for_tests(data_dir: PathBuf) -> Self {
        Self {
            addr: ([127, 0, 0, 1], 0).into(),
            data_dir,
            static_dir: None,
            default_region: None,
            frame_ancestors: Vec::new(),
        }
    }

    /// Path of the SQLite database file.
    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("optin.sqlite3")
    }

    /// Where the sandbox's demo tokens are written for the launcher and tests.
    pub fn demo_tokens_path(&self) -> PathBuf {
        self.data_dir.join("demo-advisors.json")
    }

    /// The `frame-ancestors` source list.
    pub fn frame_ancestors(&self) -> String {
        std::iter::once("'self'")
            .chain(self.frame_ancestors.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ")
    }
}
