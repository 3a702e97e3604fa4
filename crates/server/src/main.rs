//! `optin-server`: runs the service (`serve`, the default).

use clap::{Parser, Subcommand};
use optin_server::store::seed::DemoAdvisor;
use optin_server::store::Store;
use optin_server::{app, AppState, Config};

#[derive(Parser)]
#[command(about = "WhatsApp opt-in service for advisors")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    config: Config,
}

#[derive(Subcommand)]
enum Command {
    /// Start the service (the default).
    Serve,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .init();
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(cli.config).await,
    }
}

async fn serve(config: Config) -> Result<(), Box<dyn std::error::Error>> {
    std::fs::create_dir_all(&config.data_dir)?;
    let store = Store::open(&config.database_path()).await?;
    if let Some(advisors) = store.seed_demo().await? {
        std::fs::write(
            config.demo_tokens_path(),
            serde_json::to_vec_pretty(&advisors)?,
        )?;
        tracing::info!("seeded the demo organization");
    }
    let listener = tokio::net::TcpListener::bind(config.addr).await?;
    let addr = listener.local_addr()?;
    let demo: Vec<DemoAdvisor> = std::fs::read(config.demo_tokens_path())
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default();
    match demo.first() {
        Some(advisor) => println!(
            "Open http://{addr}/#token={} (signed in as {})",
            advisor.token, advisor.name
        ),
        None => println!("Listening on http://{addr}"),
    }
    let state = AppState {
        store,
        config: std::sync::Arc::new(config),
    };
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
