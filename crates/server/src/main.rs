//! `optin-server`: runs the service (`serve`, the default), checks the
//! consent record against its signed checkpoints (`verify-chain`), checks a
//! number's evidence bundle (`verify-bundle`), and provisions organizations, their
//! numbers, people and API keys without SQL.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use optin_core::admin::{KeyScope, OrganizationSettings};
use optin_core::vocab::{Mode, Role};
use optin_server::bundle;
use optin_server::checkpoints::{self, Verdict};
use optin_server::error::AppError;
use optin_server::services::provisioning;
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
    /// Verify the hash chain of an organization's consent record against the
    /// signed checkpoints in the witness folder; names the first bad event
    /// (truncation, rewritten events, gaps, edits) and exits non-zero.
    VerifyChain {
        /// Organization id (every organization when absent).
        #[arg(long)]
        organization: Option<i64>,
        /// The public key (PEM, SPKI) to check the checkpoints with, e.g. as
        /// served at /api/v1/evidence/public-key; by default the one of the
        /// configured signing key.
        #[arg(long)]
        public_key: Option<std::path::PathBuf>,
    },
    /// Verify a number's evidence bundle (the zip of
    /// /api/v1/compliance/numbers/{phone}/bundle): its SHA256SUMS, the
    /// checkpoint's signature, every event's hash, and that the chain leads
    /// from the events to the signed head; prints what it checked, or names
    /// the first problem and exits non-zero. Needs no database.
    VerifyBundle {
        /// The bundle (a .zip file).
        bundle: std::path::PathBuf,
        /// The public key (PEM, SPKI) to trust, e.g. as served at
        /// /api/v1/evidence/public-key; without it, the bundle's own key is
        /// used (and the report says so).
        #[arg(long)]
        public_key: Option<std::path::PathBuf>,
    },
    /// Write the organization's archive feed after a cursor as a zip of
    /// RFC 5322 messages with `manifest.json` (as `GET
    /// /api/v1/compliance/archive` answers); prints the manifest's `to_cursor`,
    /// the cursor to give next time.
    ArchiveExport {
        #[arg(long)]
        organization: i64,
        /// The cursor to export after (0: from the first item).
        #[arg(long, default_value_t = 0)]
        after: i64,
        /// Most items in the zip.
        #[arg(long, default_value_t = optin_core::archive::MAX_EXPORT_ITEMS)]
        limit: u32,
        /// The zip file to write.
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// Create an organization with its numbers (prints its id).
    CreateOrganization {
        #[command(flatten)]
        settings: OrganizationArgs,
    },
    /// Change an organization: add numbers, set the SMS number, frame origins, ...
    UpdateOrganization {
        #[arg(long)]
        organization: i64,
        #[command(flatten)]
        settings: OrganizationArgs,
    },
    /// List the organizations with their numbers.
    ListOrganizations,
    /// Create an advisor, compliance officer or admin of an organization (prints the id).
    CreateAdvisor {
        #[arg(long)]
        organization: i64,
        /// Display name.
        #[arg(long)]
        name: String,
        /// The CRM's id of this person, so the CRM can mint tokens by it.
        #[arg(long)]
        external_id: Option<String>,
        /// `advisor`, `compliance` or `admin`.
        #[arg(long, default_value = "advisor")]
        role: Role,
    },
    /// List an organization's people.
    ListAdvisors {
        #[arg(long)]
        organization: i64,
    },
    /// Disable a person: their tokens stop working at once.
    DisableAdvisor {
        #[arg(long)]
        organization: i64,
        #[arg(long)]
        advisor: i64,
    },
    /// Create an organization API key (prints it once).
    CreateApiKey {
        #[arg(long)]
        organization: i64,
        /// What the key is for, e.g. "Salesforce production".
        #[arg(long)]
        name: String,
        /// `integration` (a CRM backend minting advisor tokens) or `admin` (provisioning).
        #[arg(long, default_value = "integration", value_parser = ["integration", "admin"])]
        scope: String,
        /// When the key stops working (RFC 3339); never when absent.
        #[arg(long)]
        expires_at: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// List an organization's API keys.
    ListApiKeys {
        #[arg(long)]
        organization: i64,
    },
    /// Set when an API key stops working (now when --at is absent).
    ExpireApiKey {
        #[arg(long)]
        organization: i64,
        #[arg(long)]
        key: i64,
        #[arg(long)]
        at: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// Revoke an API key at once.
    RevokeApiKey {
        #[arg(long)]
        organization: i64,
        #[arg(long)]
        key: i64,
    },
    /// Add (or replace) a template the organization had approved by Meta.
    AddTemplate {
        #[arg(long)]
        organization: i64,
        /// Template name as approved in WhatsApp Manager (lowercase, digits, `_`).
        #[arg(long)]
        name: String,
        /// Meta's language code, e.g. `en_US`, `es`, `pt_BR`: an opt-in
        /// template is sent to the contacts of its language.
        #[arg(long)]
        language: String,
        /// Meta's category.
        #[arg(long, default_value = "UTILITY", value_parser = ["UTILITY", "MARKETING", "AUTHENTICATION"])]
        category: String,
        /// `opt_in` (the request itself) or `message`.
        #[arg(long, value_parser = ["opt_in", "message"])]
        purpose: String,
        /// Body with `{{1}}`, `{{2}}` placeholders, exactly as approved.
        #[arg(long)]
        body: String,
    },
    /// List webhooks kept for business numbers that no organization owned.
    ListUnrouted,
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

/// An organization's settings as flags.
#[derive(clap::Args)]
struct OrganizationArgs {
    /// Display name (the business named to contacts).
    #[arg(long)]
    name: Option<String>,
    /// WhatsApp Business Account id.
    #[arg(long)]
    whatsapp_business_account_id: Option<String>,
    /// A Cloud API phone number id to send from and route webhooks by (repeatable).
    #[arg(long = "whatsapp-phone-number-id")]
    whatsapp_phone_number_ids: Vec<String>,
    /// SMS sender number.
    #[arg(long)]
    sms_number: Option<String>,
    /// An origin allowed to frame the app (repeatable; replaces the list).
    #[arg(long = "frame-origin")]
    frame_origins: Vec<String>,
    /// Name of the environment variable that holds the organization's own
    /// Cloud API token in the service's environment (the token is never
    /// stored: the service reads it from there).
    #[arg(long)]
    whatsapp_access_token_env: Option<String>,
    /// The language requests fall back to when the organization has no
    /// opt-in template in the contact's language (`en`, `es`, `fr`, `de`, `pt`, `it`).
    #[arg(long)]
    default_language: Option<optin_core::language::Language>,
    /// The opt-in template (by name) used when the primary cannot be sent:
    /// paused or disabled by Meta, or recategorized as marketing for a US number.
    #[arg(long)]
    alternate_opt_in_template: Option<String>,
    /// The answer to HELP / INFO by SMS (must mention STOP); "" goes back to
    /// the standard answer.
    #[arg(long)]
    sms_help_text: Option<String>,
    /// A country (ISO 3166 alpha-2, e.g. GB) SMS may be sent to (repeatable;
    /// replaces the list). Without a list, only the SMS number's country.
    #[arg(long = "sms-country")]
    sms_countries: Vec<String>,
    /// How long messages are kept before they are purged, in months (36 to
    /// 1200; 72, six years, by default). Legal holds stop any purge.
    #[arg(long)]
    retention_months: Option<u32>,
}

impl OrganizationArgs {
    fn settings(self) -> Result<OrganizationSettings, Error> {
        Ok(OrganizationSettings {
            name: self.name,
            whatsapp_business_account_id: self.whatsapp_business_account_id,
            add_whatsapp_phone_number_ids: self.whatsapp_phone_number_ids,
            sms_number: self.sms_number,
            frame_origins: (!self.frame_origins.is_empty()).then_some(self.frame_origins),
            whatsapp_access_token_env: self.whatsapp_access_token_env,
            default_language: self.default_language,
            alternate_opt_in_template: self.alternate_opt_in_template,
            sms_help_text: self.sms_help_text,
            sms_countries: (!self.sms_countries.is_empty()).then_some(self.sms_countries),
            retention_months: self.retention_months,
        })
    }
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
        Command::VerifyBundle { bundle, public_key } => {
            verify_bundle(&bundle, public_key.as_deref())
        }
        command => administer(cli.config, command).await,
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
    let sandbox = service.state.providers.settings.mode == Mode::Sandbox;
    // Only the sandbox has demo tokens; production never reads or writes them.
    let demo: Vec<DemoAdvisor> = sandbox
        .then(|| std::fs::read(tokens_path).ok())
        .flatten()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default();
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

/// Opens the data folder's database in the configured mode (creating it:
/// provisioning may come before the first start).
async fn open(config: &Config) -> Result<Store, Error> {
    std::fs::create_dir_all(&config.data_dir)?;
    let busy_timeout = std::time::Duration::from_millis(config.db_busy_timeout_ms);
    Ok(Store::connect(&config.database()?, config.mode(), busy_timeout).await?)
}

/// The operator's commands: one line each, errors in the API's words.
async fn administer(config: Config, command: Command) -> Result<ExitCode, Error> {
    let store = open(&config).await?;
    let region = config.default_region.as_deref();
    let now = chrono::Utc::now();
    match command {
        Command::Serve | Command::VerifyBundle { .. } => {
            unreachable!("serve and verify-bundle are not administration commands")
        }
        Command::VerifyChain {
            organization,
            public_key,
        } => return verify_chain(&config, &store, organization, public_key.as_deref()).await,
        Command::ArchiveExport {
            organization,
            after,
            limit,
            out,
        } => {
            known(&store, organization).await?;
            let export = optin_server::archive::export(
                &store,
                organization,
                after,
                limit,
                &config.archive.domain,
            )
            .await?;
            std::fs::write(&out, &export.zip)?;
            eprintln!(
                "{} items ({} messages, {} consent events) written to {}{}",
                export.manifest.counts.total,
                export.manifest.counts.messages,
                export.manifest.counts.consent_events,
                out.display(),
                if export.manifest.more {
                    "; more wait after the next cursor"
                } else {
                    ""
                },
            );
            println!("{}", export.manifest.to_cursor);
        }
        Command::CreateOrganization { settings } => {
            let id = provisioning::create_organization(&store, &settings.settings()?, region)
                .await
                .map_err(refusal)?;
            println!("{id}");
        }
        Command::UpdateOrganization {
            organization,
            settings,
        } => {
            provisioning::update_organization(&store, organization, &settings.settings()?, region)
                .await
                .map_err(refusal)?;
            print_json(&store.organization(organization).await?);
        }
        Command::ListOrganizations => print_json(&store.organizations().await?),
        Command::CreateAdvisor {
            organization,
            name,
            external_id,
            role,
        } => {
            let id = provisioning::create_advisor(
                &store,
                organization,
                &name,
                external_id.as_deref(),
                role,
            )
            .await
            .map_err(refusal)?;
            println!("{id}");
        }
        Command::ListAdvisors { organization } => {
            known(&store, organization).await?;
            print_json(&store.advisors(organization).await?);
        }
        Command::DisableAdvisor {
            organization,
            advisor,
        } => {
            if !store.disable_advisor(organization, advisor, now).await? {
                return Err(format!("organization {organization} has no advisor {advisor}").into());
            }
            println!("advisor {advisor} is disabled");
        }
        Command::CreateApiKey {
            organization,
            name,
            scope,
            expires_at,
        } => {
            known(&store, organization).await?;
            let name = provisioning::checked_key_name(&name).map_err(refusal)?;
            if expires_at.is_some_and(|at| at <= now) {
                return Err("--expires-at must be in the future".into());
            }
            let scope = KeyScope::parse(&scope).ok_or("--scope is integration or admin")?;
            let (key, _) = store
                .create_api_key(organization, name, scope, expires_at, now)
                .await?;
            println!("{key}");
            eprintln!(
                "Keep this key secret: it is shown once. Send it as `Authorization: Bearer <key>`."
            );
        }
        Command::ListApiKeys { organization } => {
            known(&store, organization).await?;
            print_json(&store.api_keys(organization).await?);
        }
        Command::ExpireApiKey {
            organization,
            key,
            at,
        } => {
            let view = store
                .expire_api_key(organization, key, at.unwrap_or(now))
                .await?
                .ok_or_else(|| format!("organization {organization} has no API key {key}"))?;
            print_json(&view);
        }
        Command::RevokeApiKey { organization, key } => {
            let view = store
                .revoke_api_key(organization, key, now)
                .await?
                .ok_or_else(|| format!("organization {organization} has no API key {key}"))?;
            print_json(&view);
        }
        Command::AddTemplate {
            organization,
            name,
            language,
            category,
            purpose,
            body,
        } => {
            known(&store, organization).await?;
            let template = provisioning::checked_template(name, language, category, purpose, body)
                .map_err(refusal)?;
            store.put_template(organization, &template).await?;
            println!(
                "template {} ({}) is ready",
                template.name, template.language
            );
        }
        Command::ListUnrouted => {
            for kept in store.unrouted_webhooks(None).await? {
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    kept.id,
                    kept.provider,
                    kept.business_number,
                    kept.received_at,
                    kept.replayed_at.as_deref().unwrap_or("waiting")
                );
            }
        }
        Command::SetWhatsapp {
            organization,
            state,
        } => {
            let enabled = state == "on";
            if !store.set_whatsapp_enabled(organization, enabled).await? {
                return Err(format!("there is no organization {organization}").into());
            }
            println!("WhatsApp messaging is {state} for organization {organization}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints a listing as pretty JSON.
fn print_json(value: &impl serde::Serialize) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("listings serialize")
    );
}

/// A refusal of the provisioning service, as one line.
fn refusal(error: AppError) -> Error {
    error.to_string().into()
}

async fn known(store: &Store, organization: i64) -> Result<(), Error> {
    match store.organization(organization).await? {
        Some(_) => Ok(()),
        None => Err(format!("there is no organization {organization}").into()),
    }
}

/// Reads a public key file given on the command line.
fn public_key_file(path: &std::path::Path) -> Result<ed25519_dalek::VerifyingKey, Error> {
    let pem = std::fs::read_to_string(path)
        .map_err(|e| format!("--public-key {}: {e}", path.display()))?;
    Ok(checkpoints::read_public_key_pem(&pem)
        .map_err(|e| format!("--public-key {}: {e}", path.display()))?)
}

fn verify_bundle(
    path: &std::path::Path,
    public_key: Option<&std::path::Path>,
) -> Result<ExitCode, Error> {
    let key = match public_key {
        Some(path) => bundle::KeyChoice::Given(public_key_file(path)?),
        None => bundle::KeyChoice::Bundled,
    };
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    match bundle::verify(std::io::BufReader::new(file), key) {
        Ok(report) => {
            for line in &report.checked {
                println!("ok: {line}");
            }
            println!(
                "{}: the evidence bundle of {} verifies",
                path.display(),
                report.phone
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(fault) => {
            println!("{}: does not verify: {fault}", path.display());
            Ok(ExitCode::FAILURE)
        }
    }
}

async fn verify_chain(
    config: &Config,
    store: &Store,
    organization: Option<i64>,
    public_key: Option<&std::path::Path>,
) -> Result<ExitCode, Error> {
    let witness = config.witness_dir().ok_or(
        "verify-chain needs OPTIN_WITNESS_DIR: the folder of signed checkpoints to check the record against",
    )?;
    let witness = checkpoints::Witness::new(witness);
    let key = match public_key {
        Some(path) => Some(public_key_file(path)?),
        None => match config.checkpoint_key_source() {
            Some(source) => source.verifying_key()?,
            None => None,
        },
    };
    let organizations = match organization {
        Some(id) => vec![id],
        None => store.organization_ids().await?,
    };
    let mut intact = true;
    for id in organizations {
        match checkpoints::verify(store, &witness, key.as_ref(), id).await? {
            Verdict::Intact {
                events,
                checkpoints,
                covered_to,
            } => {
                let anchored = match covered_to {
                    None => "no signed checkpoint yet".to_owned(),
                    Some(seq) if seq < events as i64 => format!(
                        "agrees with {checkpoints} signed checkpoints (events after #{seq} are not covered yet)"
                    ),
                    Some(_) => format!("agrees with {checkpoints} signed checkpoints"),
                };
                println!("organization {id}: {events} events, chain intact; {anchored}");
            }
            Verdict::Broken(broken) => {
                println!("{broken}");
                intact = false;
            }
            Verdict::Witness(fault) => {
                println!("organization {id}: a checkpoint cannot be trusted: {fault}");
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
