//! Limits that keep one client, one leaked token or one flood from
//! overwhelming the service (see the README, "Limits"):
//!
//! - connections: at most `max_connections` open at once (the rest wait in
//!   the kernel's backlog), and each must send its request headers within
//!   the header-read timeout or it is closed ([`serve`]);
//! - requests: each API or webhook request must be read and answered within
//!   the request timeout (408 on the API; 503 with `Retry-After` on webhooks,
//!   which the providers retry), and the API and the webhooks each have
//!   their own in-flight budget, so a flood of API calls never starves the
//!   webhooks ([`limit_api`], [`limit_webhooks`]);
//! - rates: every authenticated call counts against its person and its
//!   organization, every send (opt-in request, WhatsApp message, SMS)
//!   against its advisor and organization; over quota answers 429 with
//!   `Retry-After` ([`Limits::check_api`], [`Limits::check_send`]);
//! - exports: at most `max_exports` record downloads stream at once
//!   ([`Limits::export_permit`]);
//! - live streams: at most `streams_per_token` per token
//!   ([`Limits::stream_slot`]).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::error_handling::HandleErrorLayer;
use axum::{BoxError, Router};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::load_shed::error::Overloaded;
use tower::timeout::error::Elapsed;
use tower::ServiceBuilder;

use crate::error::AppError;
use crate::AppState;

const DEFAULT_REQUEST_TIMEOUT_SECS: u64 = 30;
const DEFAULT_HEADER_READ_TIMEOUT_SECS: u64 = 10;
const DEFAULT_MAX_CONNECTIONS: usize = 512;
const DEFAULT_MAX_API_REQUESTS: usize = 128;
const DEFAULT_MAX_WEBHOOK_REQUESTS: usize = 64;
const DEFAULT_API_PER_MINUTE: u32 = 1200;
const DEFAULT_ORG_API_PER_MINUTE: u32 = 6000;
const DEFAULT_SENDS_PER_MINUTE: u32 = 60;
const DEFAULT_ORG_SENDS_PER_MINUTE: u32 = 600;
const DEFAULT_MAX_EXPORTS: usize = 2;
const DEFAULT_STREAMS_PER_TOKEN: usize = 3;
const DEFAULT_STREAM_CHECK_SECS: u64 = 5;

/// The limits' settings, from flags or environment variables.
#[derive(Debug, Clone, clap::Args)]
pub struct LimitsConfig {
    /// Seconds a request may take to be read and answered (streams excepted).
    #[arg(long, env = "OPTIN_REQUEST_TIMEOUT_SECS", default_value_t = DEFAULT_REQUEST_TIMEOUT_SECS)]
    pub request_timeout_secs: u64,
    /// Seconds a connection may take to send a request's headers.
    #[arg(long, env = "OPTIN_HEADER_READ_TIMEOUT_SECS", default_value_t = DEFAULT_HEADER_READ_TIMEOUT_SECS)]
    pub header_read_timeout_secs: u64,
    /// Open connections served at once; more wait until one closes.
    #[arg(long, env = "OPTIN_MAX_CONNECTIONS", default_value_t = DEFAULT_MAX_CONNECTIONS)]
    pub max_connections: usize,
    /// API requests in flight at once; more are answered 503.
    #[arg(long, env = "OPTIN_MAX_API_REQUESTS", default_value_t = DEFAULT_MAX_API_REQUESTS)]
    pub max_api_requests: usize,
    /// Webhook requests in flight at once (a budget of their own); more wait.
    #[arg(long, env = "OPTIN_MAX_WEBHOOK_REQUESTS", default_value_t = DEFAULT_MAX_WEBHOOK_REQUESTS)]
    pub max_webhook_requests: usize,
    /// API calls per minute per person (or per organization API key).
    #[arg(long, env = "OPTIN_API_PER_MINUTE", default_value_t = DEFAULT_API_PER_MINUTE)]
    pub api_per_minute: u32,
    /// API calls per minute per organization, all its people and keys together.
    #[arg(long, env = "OPTIN_ORG_API_PER_MINUTE", default_value_t = DEFAULT_ORG_API_PER_MINUTE)]
    pub org_api_per_minute: u32,
    /// Sends (opt-in requests, WhatsApp messages, SMS) per minute per advisor.
    #[arg(long, env = "OPTIN_SENDS_PER_MINUTE", default_value_t = DEFAULT_SENDS_PER_MINUTE)]
    pub sends_per_minute: u32,
    /// Sends per minute per organization, all its advisors together.
    #[arg(long, env = "OPTIN_ORG_SENDS_PER_MINUTE", default_value_t = DEFAULT_ORG_SENDS_PER_MINUTE)]
    pub org_sends_per_minute: u32,
    /// Consent-record downloads streaming at once; more are answered 503.
    #[arg(long, env = "OPTIN_MAX_EXPORTS", default_value_t = DEFAULT_MAX_EXPORTS)]
    pub max_exports: usize,
    /// Live event streams open at once per token; more are answered 429.
    #[arg(long, env = "OPTIN_STREAMS_PER_TOKEN", default_value_t = DEFAULT_STREAMS_PER_TOKEN)]
    pub streams_per_token: usize,
    /// Seconds between checks that a live stream's token is still valid.
    #[arg(long, env = "OPTIN_STREAM_CHECK_SECS", default_value_t = DEFAULT_STREAM_CHECK_SECS)]
    pub stream_check_secs: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            request_timeout_secs: DEFAULT_REQUEST_TIMEOUT_SECS,
            header_read_timeout_secs: DEFAULT_HEADER_READ_TIMEOUT_SECS,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_api_requests: DEFAULT_MAX_API_REQUESTS,
            max_webhook_requests: DEFAULT_MAX_WEBHOOK_REQUESTS,
            api_per_minute: DEFAULT_API_PER_MINUTE,
            org_api_per_minute: DEFAULT_ORG_API_PER_MINUTE,
            sends_per_minute: DEFAULT_SENDS_PER_MINUTE,
            org_sends_per_minute: DEFAULT_ORG_SENDS_PER_MINUTE,
            max_exports: DEFAULT_MAX_EXPORTS,
            streams_per_token: DEFAULT_STREAMS_PER_TOKEN,
            stream_check_secs: DEFAULT_STREAM_CHECK_SECS,
        }
    }
}

impl LimitsConfig {
    /// Refuses zero budgets, which would refuse everything.
    pub fn validate(&self) -> Result<(), String> {
        let zero = [
            ("OPTIN_REQUEST_TIMEOUT_SECS", self.request_timeout_secs == 0),
            (
                "OPTIN_HEADER_READ_TIMEOUT_SECS",
                self.header_read_timeout_secs == 0,
            ),
            ("OPTIN_MAX_CONNECTIONS", self.max_connections == 0),
            ("OPTIN_MAX_API_REQUESTS", self.max_api_requests == 0),
            ("OPTIN_MAX_WEBHOOK_REQUESTS", self.max_webhook_requests == 0),
            ("OPTIN_API_PER_MINUTE", self.api_per_minute == 0),
            ("OPTIN_ORG_API_PER_MINUTE", self.org_api_per_minute == 0),
            ("OPTIN_SENDS_PER_MINUTE", self.sends_per_minute == 0),
            ("OPTIN_ORG_SENDS_PER_MINUTE", self.org_sends_per_minute == 0),
            ("OPTIN_MAX_EXPORTS", self.max_exports == 0),
            ("OPTIN_STREAMS_PER_TOKEN", self.streams_per_token == 0),
            ("OPTIN_STREAM_CHECK_SECS", self.stream_check_secs == 0),
        ];
        match zero.iter().find(|(_, is_zero)| *is_zero) {
            Some((name, _)) => Err(format!("{name} must be at least 1")),
            None => Ok(()),
        }
    }

    fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }

    /// How often a live stream checks that its token still holds.
    pub fn stream_check(&self) -> Duration {
        Duration::from_secs(self.stream_check_secs)
    }
}

/// Who a rate counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Caller {
    /// A signed-in person (advisor id).
    Person(i64),
    /// An organization API key, counted for its organization.
    Key(i64),
}

/// The limiters and budgets shared by every request.
pub struct Limits {
    pub config: LimitsConfig,
    api_callers: DefaultKeyedRateLimiter<Caller>,
    api_organizations: DefaultKeyedRateLimiter<i64>,
    send_advisors: DefaultKeyedRateLimiter<i64>,
    send_organizations: DefaultKeyedRateLimiter<i64>,
    exports: Arc<Semaphore>,
    /// Open live streams per token (by the token's hash).
    streams: Arc<Mutex<HashMap<String, usize>>>,
}

fn per_minute(count: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(count).unwrap_or(NonZeroU32::MIN))
}

/// 429 with the seconds until the quota allows the next call (at least 1).
fn too_many(what: &'static str, wait: Duration) -> AppError {
    let retry_after = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    AppError::TooManyRequests {
        code: "rate_limited",
        message: format!("Too many {what}: try again in {retry_after} s."),
        retry_after: retry_after.max(1),
    }
}

impl Limits {
    pub fn new(config: LimitsConfig) -> Self {
        Self {
            api_callers: RateLimiter::keyed(per_minute(config.api_per_minute)),
            api_organizations: RateLimiter::keyed(per_minute(config.org_api_per_minute)),
            send_advisors: RateLimiter::keyed(per_minute(config.sends_per_minute)),
            send_organizations: RateLimiter::keyed(per_minute(config.org_sends_per_minute)),
            exports: Arc::new(Semaphore::new(config.max_exports)),
            streams: Default::default(),
            config,
        }
    }

    /// Counts an authenticated API call against its caller, then its organization.
    pub fn check_api(&self, caller: Caller, organization_id: i64) -> Result<(), AppError> {
        let now = DefaultClock::default().now();
        self.api_callers
            .check_key(&caller)
            .map_err(|until| too_many("requests", until.wait_time_from(now)))?;
        self.api_organizations
            .check_key(&organization_id)
            .map_err(|until| too_many("requests", until.wait_time_from(now)))
    }

    /// Counts a send against its advisor, then its organization.
    pub fn check_send(&self, advisor_id: i64, organization_id: i64) -> Result<(), AppError> {
        let now = DefaultClock::default().now();
        self.send_advisors
            .check_key(&advisor_id)
            .map_err(|until| too_many("messages sent", until.wait_time_from(now)))?;
        self.send_organizations
            .check_key(&organization_id)
            .map_err(|until| too_many("messages sent", until.wait_time_from(now)))
    }

    /// A place among the downloads streaming now, held until the body ends;
    /// 503 with `Retry-After` when all are taken.
    pub fn export_permit(&self) -> Result<OwnedSemaphorePermit, AppError> {
        self.exports
            .clone()
            .try_acquire_owned()
            .map_err(|_| AppError::Busy {
                code: "exports_busy",
                message: "Other consent-record downloads are running; try again shortly.".into(),
                retry_after: 5,
            })
    }

    /// One of a token's live-stream slots, freed when the guard drops;
    /// 429 when the token holds them all.
    pub fn stream_slot(&self, token_hash: String) -> Result<StreamSlot, AppError> {
        let mut open = self
            .streams
            .lock()
            .expect("stream counts are never poisoned");
        let count = open.entry(token_hash.clone()).or_default();
        if *count >= self.config.streams_per_token {
            return Err(AppError::TooManyRequests {
                code: "too_many_streams",
                message: format!(
                    "This sign-in already has {} live streams open; close one first.",
                    self.config.streams_per_token
                ),
                retry_after: self.config.stream_check_secs,
            });
        }
        *count += 1;
        Ok(StreamSlot {
            streams: self.streams.clone(),
            token_hash,
        })
    }
}

/// A live stream's slot; dropping it frees the slot.
pub struct StreamSlot {
    streams: Arc<Mutex<HashMap<String, usize>>>,
    token_hash: String,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self
            .streams
            .lock()
            .expect("stream counts are never poisoned");
        if let Some(count) = open.get_mut(&self.token_hash) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.token_hash);
            }
        }
    }
}

/// The API with its own in-flight budget (503 beyond it, at once) and the
/// request timeout (408). The concurrency limit is global: `Router::layer`
/// wraps each route, and they must share one budget.
pub fn limit_api(router: Router<AppState>, config: &LimitsConfig) -> Router<AppState> {
    router.layer(
        ServiceBuilder::new()
            .layer(HandleErrorLayer::new(|error: BoxError| async move {
                api_refusal(error)
            }))
            .timeout(config.request_timeout())
            .load_shed()
            .layer(GlobalConcurrencyLimitLayer::new(config.max_api_requests)),
    )
}

fn api_refusal(error: BoxError) -> AppError {
    if error.is::<Elapsed>() {
        AppError::RequestTimeout
    } else if error.is::<Overloaded>() {
        AppError::Busy {
            code: "busy",
            message: "The service is busy; try again shortly.".into(),
            retry_after: 1,
        }
    } else {
        AppError::Internal(error)
    }
}

/// The webhooks with a budget of their own (beyond it, a request waits) and
/// the request timeout, answered 503 with `Retry-After` so the provider
/// retries (a signed webhook is never answered 4xx).
pub fn limit_webhooks(router: Router<AppState>, config: &LimitsConfig) -> Router<AppState> {
    router.layer(
        ServiceBuilder::new()
            .layer(HandleErrorLayer::new(|error: BoxError| async move {
                if error.is::<Elapsed>() {
                    AppError::Busy {
                        code: "busy",
                        message: "The webhook could not be taken in time; send it again.".into(),
                        retry_after: 5,
                    }
                } else {
                    AppError::Internal(error)
                }
            }))
            .timeout(config.request_timeout())
            .layer(GlobalConcurrencyLimitLayer::new(
                config.max_webhook_requests,
            )),
    )
}

/// Serves `router` over HTTP/1 until `stop`: at most `max_connections` at
/// once, each closed when its request headers take longer than the
/// header-read timeout; at `stop`, stops accepting and lets open
/// connections finish.
pub async fn serve(
    listener: TcpListener,
    router: axum::Router,
    config: &LimitsConfig,
    stop: CancellationToken,
) -> std::io::Result<()> {
    let connections = Arc::new(Semaphore::new(config.max_connections));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(config.header_read_timeout_secs));
    loop {
        let permit = tokio::select! {
            _ = stop.cancelled() => break,
            permit = connections.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
        };
        let stream = tokio::select! {
            _ = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: wait, do not spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let connection = http.serve_connection(
            TokioIo::new(stream),
            TowerToHyperService::new(router.clone()),
        );
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}
