//! The service: REST API under `/api/v1`, the live event stream, provider
//! webhooks under `/webhooks`, the sandbox under `/sandbox` (builds with the
//! `sandbox` feature, in sandbox mode only), and the web app's static files.
//! `app()` builds the whole router so tests can drive it without a socket;
//! `launch()` runs it with its outbox worker on a real socket.

pub mod archive;
pub mod auth;
pub mod bundle;
pub mod checkpoints;
pub mod clock;
pub mod config;
pub mod csp;
pub mod demo_crm;
pub mod error;
pub mod limits;
pub mod live;
pub mod maintenance;
pub mod openapi;
pub mod outbox;
pub mod providers;
pub mod routes;
#[cfg(feature = "sandbox")]
pub mod sandbox;
pub mod services;
mod static_files;
pub mod store;
pub mod timestamps;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::http::{header, HeaderValue};
use axum::Router;
use optin_core::vocab::Mode;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tower_http::set_header::SetResponseHeaderLayer;

pub use config::{Config, ProviderSettings};
use providers::sms::SmsClient;
use providers::whatsapp::WhatsAppClient;
use store::Store;

/// The provider clients in use (real or sandbox).
pub struct Providers {
    pub settings: ProviderSettings,
    pub whatsapp: WhatsAppClient,
    pub sms: SmsClient,
}

/// Shared by every handler and the outbox worker.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<Config>,
    pub providers: Arc<Providers>,
    pub clock: clock::Clock,
    pub live: live::Live,
    /// Wakes the outbox worker when a job is committed.
    pub outbox_wake: Arc<Notify>,
    /// Ends long-lived responses (event streams) at shutdown.
    pub shutdown: CancellationToken,
    /// Rate limiters and budgets.
    pub limits: Arc<limits::Limits>,
    /// Signs the consent record's checkpoints into the witness.
    pub checkpoints: Arc<checkpoints::Checkpoints>,
    /// Webhooks waiting for their group commit.
    pub ingest: Arc<services::ingest::GroupCommit>,
    /// This instance among those sharing the database (random per start):
    /// who holds a lease.
    pub instance: Arc<str>,
}

impl AppState {
    /// State for a service listening at `bound`.
    pub fn new(store: Store, config: Config, bound: SocketAddr) -> Result<Self, String> {
        let checkpoints = checkpoints::Checkpoints::open(&config, chrono::Utc::now())?;
        Self::with_checkpoints(store, config, bound, checkpoints)
    }

    /// [`AppState::new`] with a signer opened already.
    pub fn with_checkpoints(
        store: Store,
        config: Config,
        bound: SocketAddr,
        checkpoints: checkpoints::Checkpoints,
    ) -> Result<Self, String> {
        let settings = config.providers(bound)?;
        // Every provider call ends within the timeout, well inside the
        // outbox's lease on the job it sends.
        let http = reqwest::Client::builder()
            .timeout(config.provider_timeout())
            .build()
            .map_err(|e| e.to_string())?;
        let providers = Providers {
            whatsapp: WhatsAppClient::new(settings.whatsapp.clone(), http.clone()),
            sms: SmsClient::new(settings.sms.clone(), http),
            settings,
        };
        Ok(Self {
            store,
            limits: Arc::new(limits::Limits::new(config.limits.clone())),
            config: Arc::new(config),
            providers: Arc::new(providers),
            clock: clock::Clock::default(),
            live: live::Live::default(),
            outbox_wake: Arc::new(Notify::new()),
            shutdown: CancellationToken::new(),
            checkpoints: Arc::new(checkpoints),
            ingest: Default::default(),
            instance: store::auth::new_token().into(),
        })
    }
}

/// The whole service: API, webhooks, sandbox, then static files with the SPA's index as fallback.
pub fn app(state: AppState) -> Router {
    let limit_config = &state.config.limits;
    let mut router = Router::new()
        .nest(
            optin_core::api::API_PREFIX,
            limits::limit_api(routes::api(), limit_config),
        )
        .nest(
            "/webhooks",
            limits::limit_webhooks(routes::webhooks::router(), limit_config),
        )
        .route("/embed/config", axum::routing::get(embed_config))
        .route("/metrics", axum::routing::get(routes::metrics::serve))
        .method_not_allowed_fallback(|| async { error::AppError::MethodNotAllowed });
    #[cfg(feature = "sandbox")]
    if state.providers.settings.mode == Mode::Sandbox {
        router = router.merge(sandbox::routes(&state));
    }
    if let Some(dir) = &state.config.static_dir {
        router = router.fallback_service(static_files::service(dir));
    } else {
        // API only: an unknown address is refused in the error shape too.
        router = router.fallback(|| async { error::AppError::NotFound("That address") });
    }
    let index_html = state
        .config
        .static_dir
        .as_ref()
        .and_then(|dir| std::fs::read_to_string(dir.join("index.html")).ok());
    #[cfg(feature = "sandbox")]
    let index_html = match sandbox::phone_page_html(&state) {
        Some(phone) => Some(index_html.unwrap_or_default() + &phone),
        None => index_html,
    };
    let policy = csp::policy(index_html.as_deref(), &state.config.frame_ancestors());
    router
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_str(&policy).expect("configured origins are valid header text"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .with_state(state)
}

/// Public: the host origins the app may talk to over `postMessage` (the same
/// list that may frame it), so the app can check messages before any token exists.
#[utoipa::path(
    get,
    path = "/embed/config",
    tag = "public",
    responses((status = 200, description = "The origins that may frame the app and talk to it.", body = openapi::EmbedConfig)),
)]
async fn embed_config(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({ "allowed_origins": state.config.frame_ancestors }))
}

/// A running service: its address, state and background tasks.
pub struct Service {
    pub addr: SocketAddr,
    /// Where the "Example CRM" demo host listens, when it runs.
    pub demo_crm: Option<SocketAddr>,
    pub state: AppState,
    stop: CancellationToken,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    worker: Option<tokio::task::JoinHandle<()>>,
    maintenance: tokio::task::JoinHandle<()>,
    checkpointer: tokio::task::JoinHandle<()>,
    archiver: tokio::task::JoinHandle<()>,
    /// Publishes other instances' live events here (PostgreSQL).
    relay: tokio::task::JoinHandle<()>,
}

/// Opens the store (seeding the demo on first start), binds, and starts the
/// HTTP server and the outbox worker.
pub async fn launch(config: Config) -> Result<Service, Box<dyn std::error::Error + Send + Sync>> {
    start(config, true).await
}

/// Test hook: [`launch`] without the outbox worker, so a test decides when
/// (and whether) committed jobs are sent, e.g. with [`outbox::drain`], and
/// can "crash" between a commit and the provider call.
#[doc(hidden)]
pub async fn launch_without_outbox_worker(
    config: Config,
) -> Result<Service, Box<dyn std::error::Error + Send + Sync>> {
    start(config, false).await
}

async fn start(
    mut config: Config,
    outbox_worker: bool,
) -> Result<Service, Box<dyn std::error::Error + Send + Sync>> {
    config.validate()?;
    // The key is read (or, in the sandbox, made) before anything else is
    // touched: a service that cannot sign its record does not start.
    let checkpoints = checkpoints::Checkpoints::open(&config, chrono::Utc::now())?;
    let mode = config.mode();
    let demo_crm_listener = match config.demo_crm_addr {
        Some(addr) if mode == Mode::Sandbox => {
            let listener = tokio::net::TcpListener::bind(addr).await?;
            config
                .frame_ancestors
                .push(format!("http://{}", listener.local_addr()?));
            Some(listener)
        }
        _ => None,
    };
    std::fs::create_dir_all(&config.data_dir)?;
    let database = config.database()?;
    let store = Store::connect(
        &database,
        mode,
        std::time::Duration::from_millis(config.db_busy_timeout_ms),
    )
    .await?;
    tracing::info!("data: {}", database.describe());
    // Demo people and their tokens exist in the sandbox only: a production
    // database starts empty and no token ever touches the disk.
    if mode == Mode::Sandbox {
        if let Some(advisors) = store.seed_demo().await? {
            std::fs::write(
                config.demo_tokens_path(),
                serde_json::to_vec_pretty(&advisors)?,
            )?;
            tracing::info!("seeded the demo organization");
        }
    }
    // An organization's own token lives in the environment; production does
    // not start without it (it would fail every send).
    if mode == Mode::Production {
        for (organization, var) in store.access_token_variables().await? {
            if std::env::var_os(&var).is_none() {
                return Err(format!(
                    "organization {organization}'s WhatsApp access token variable {var} is not set"
                )
                .into());
            }
        }
    }
    // Every organization's frame origins may frame the app (one CSP for all).
    for origin in store.all_frame_origins().await? {
        if !config.frame_ancestors.contains(&origin) {
            config.frame_ancestors.push(origin);
        }
    }
    let listener = tokio::net::TcpListener::bind(config.addr).await?;
    let addr = listener.local_addr()?;
    let state = AppState::with_checkpoints(store, config, addr, checkpoints)?;
    let stop = state.shutdown.clone();
    let server = tokio::spawn({
        let router = app(state.clone());
        let stop = stop.clone();
        let config = state.config.limits.clone();
        async move { limits::serve(listener, router, &config, stop).await }
    });
    let worker = outbox_worker.then(|| tokio::spawn(outbox::run(state.clone(), stop.clone())));
    let maintenance = tokio::spawn(maintenance::run(state.clone(), stop.clone()));
    let checkpointer = tokio::spawn(checkpoints::run(state.clone(), stop.clone()));
    let archiver = tokio::spawn(archive::run(state.clone(), stop.clone()));
    let relay = tokio::spawn(live::relay(
        state.store.clone(),
        state.live.clone(),
        stop.clone(),
    ));
    let mut demo_crm = None;
    if let Some(listener) = demo_crm_listener {
        demo_crm = Some(listener.local_addr()?);
        let router = demo_crm::router(demo_crm::DemoCrm {
            app_origin: state.providers.settings.public_url.clone(),
            api_key: state
                .store
                .create_api_key(
                    1,
                    "Example CRM (demo)",
                    optin_core::admin::KeyScope::Integration,
                    None,
                    state.clock.now(),
                )
                .await?
                .0,
            store: state.store.clone(),
            clock: state.clock.clone(),
            http: reqwest::Client::new(),
        });
        let stop = stop.clone();
        tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await
        });
    }
    Ok(Service {
        addr,
        state,
        stop,
        server,
        worker,
        maintenance,
        checkpointer,
        archiver,
        relay,
        demo_crm,
    })
}

impl Service {
    /// Stops accepting, ends streams, lets the worker finish its pass, signs
    /// a checkpoint of every record that moved, then checkpoints the
    /// write-ahead log so the database file is whole.
    pub async fn stop(self) {
        self.stop.cancel();
        if let Some(worker) = self.worker {
            let _ = worker.await;
        }
        let _ = self.maintenance.await;
        let _ = self.checkpointer.await;
        let _ = self.archiver.await;
        let _ = self.relay.await;
        let _ = self.server.await;
        let state = &self.state;
        if let Err(e) = state
            .checkpoints
            .pass(&state.store, state.clock.now(), checkpoints::Due::Now)
            .await
        {
            tracing::error!(error = %e, "the checkpoint at shutdown failed");
        }
        if let Err(e) = self.state.store.checkpoint().await {
            tracing::warn!(error = %e, "the write-ahead log checkpoint at shutdown failed");
        }
    }
}
