//! `optin-server`: runs the service (`serve`, the default) or checks the
//! consent record (`verify-chain`).

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use optin_server::store::seed::DemoAdvisor;
use optin_server::store::Store;
use optin_server::{launch, Config};

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
    /// Verify the hash chain of an organization's consent record; names the first broken link.
    VerifyChain {
        /// Organization id (every organization when absent).
        #[arg(long)]
        organization: Option<i64>,
    },
    /// Create an organization API key for a CRM backend (prints it once).
    CreateApiKey {
        /// Organization id.
        #[arg(long)]
        organization: i64,
        /// What the key is for, e.g. "Salesforce production".
        #[arg(long)]
        name: String,
    },
    /// Turn WhatsApp messaging on or off for an organization.
    SetWhatsapp {
        /// Organization id.
        #[arg(long)]
        organization: i64,
        /// `on` or `off`.
        #[arg(value_parser = ["on", "off"])]
        state: String,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| optin_server::store::DEFAULT_LOG_FILTER.into()),
        )
        .init();
    let cli = Cli::parse();
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(cli.config).await,
        Command::VerifyChain { organization } => verify_chain(cli.config, organization).await,
        Command::CreateApiKey { organization, name } => {
            create_api_key(cli.config, organization, &name).await
        }
        Command::SetWhatsapp {
            organization,
            state,
        } => set_whatsapp(cli.config, organization, state == "on").await,
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

type Error = Box<dyn std::error::Error + Send + Sync>;

async fn serve(config: Config) -> Result<ExitCode, Error> {
    let tokens_path = config.demo_tokens_path();
    let service = launch(config).await?;
    let addr = service.addr;
    let demo: Vec<DemoAdvisor> = std::fs::read(tokens_path)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default();
    let sandbox = service.state.providers.settings.sandbox;
    match demo.first() {
        Some(advisor) if sandbox => println!(
            "Open http://{addr}/#token={} (signed in as {}; WhatsApp and SMS sandbox)",
            advisor.token, advisor.name
        ),
        _ => println!("Listening on http://{addr}"),
    }
    if let Some(crm) = service.demo_crm {
        println!("Example CRM (the app embedded in a host page on another origin): http://{crm}/");
    }
    shutdown_signal().await;
    tracing::info!("stopping");
    service.stop().await;
    Ok(ExitCode::SUCCESS)
}

async fn verify_chain(config: Config, organization: Option<i64>) -> Result<ExitCode, Error> {
    let store = Store::open(&config.database_path()).await?;
    let organizations = match organization {
        Some(id) => vec![id],
        None => store.organization_ids().await?,
    };
    let mut intact = true;
    for id in organizations {
        match store.verify_chain(id).await? {
            Ok(count) => println!("organization {id}: {count} events, chain intact"),
            Err(broken) => {
                println!("{broken}");
                intact = false;
            }
        }
    }
    Ok(if intact {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn create_api_key(config: Config, organization: i64, name: &str) -> Result<ExitCode, Error> {
    let store = Store::open(&config.database_path()).await?;
    if !store.organization_ids().await?.contains(&organization) {
        return Err(format!("there is no organization {organization}").into());
    }
    let key = store.create_api_key(organization, name).await?;
    println!("{key}");
    eprintln!("Keep this key secret: it is shown once. CRM backends send it as `Authorization: Bearer <key>`.");
    Ok(ExitCode::SUCCESS)
}

async fn set_whatsapp(config: Config, organization: i64, enabled: bool) -> Result<ExitCode, Error> {
    let store = Store::open(&config.database_path()).await?;
    if !store.set_whatsapp_enabled(organization, enabled).await? {
        return Err(format!("there is no organization {organization}").into());
    }
    println!(
        "WhatsApp messaging is {} for organization {organization}",
        if enabled { "on" } else { "off" }
    );
    Ok(ExitCode::SUCCESS)
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
