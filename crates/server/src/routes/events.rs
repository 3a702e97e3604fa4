//! `GET /events`: the organization's consent-record events as Server-Sent
//! Events. Resume with `Last-Event-ID` (or `?after=`): missed events are
//! replayed from storage, then live ones follow, never twice. An advisor's
//! stream carries only the numbers they hold; compliance's, every number.
//!
//! A stream ends within `stream_check_secs` of its token expiring or being
//! revoked (or its person being disabled), and a token holds at most
//! `streams_per_token` streams at once (429 beyond).

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use axum::Router;
use futures_util::stream::Stream;
use optin_core::api::LiveEvent;
use serde::Deserialize;

use crate::auth::{bearer_token, Advisor};
use crate::error::{ApiQuery, AppResult};
use crate::live::Signal;
use crate::store::auth::{token_hash, AdvisorIdentity};
use crate::store::evidence::EvidenceRow;
use crate::AppState;
use optin_core::vocab::Role;

pub fn router() -> Router<AppState> {
    Router::new().route("/events", get(events))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct Resume {
    /// Resume after this event id (missed events are replayed first).
    after: Option<i64>,
}

/// The live item for a stored event; an unreadable event is logged and skipped
/// (the record itself keeps it, and `verify-chain` checks it).
fn live_event(row: &EvidenceRow) -> Option<LiveEvent> {
    row.live_event()
        .map_err(|e| tracing::error!(error = %e, "consent event not sent live"))
        .ok()
}

fn sse(event: &LiveEvent) -> Event {
    Event::default()
        .id(event.id.to_string())
        .event("consent")
        .data(serde_json::to_string(event).expect("live events serialize"))
}

#[utoipa::path(
    get,
    path = "/api/v1/events",
    tag = "advisor",
    security(("bearer" = [])),
    params(
        Resume,
        ("Last-Event-ID" = Option<i64>, Header, description = "Resume after this event (wins over `after`)."),
    ),
    responses(
        (status = 200, description = "Server-Sent Events named `consent`, each `data:` a `LiveEvent` (JSON) with the event id as SSE id; ends only when the token expires or is revoked. Without a resume point the stream starts now.", content_type = "text/event-stream", body = String),
        (status = 429, description = "The token already holds as many live streams as allowed (`too_many_streams`); `Retry-After` in seconds.", body = optin_core::api::ErrorBody),
    ),
)]
async fn events(
    State(state): State<AppState>,
    Advisor(advisor): Advisor,
    headers: HeaderMap,
    ApiQuery(resume): ApiQuery<Resume>,
) -> AppResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let header_id = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok());
    // Without a resume point the stream starts now: the client loads current state itself.
    let start = match header_id.or(resume.after) {
        Some(id) => id,
        None => state.store.latest_event_id(advisor.organization_id).await?,
    };
    let org = advisor.organization_id;
    let mut audience = Audience::of(&advisor)?;
    let token = bearer_token(&headers)?.to_owned();
    let slot = state.limits.stream_slot(token_hash(&token))?;
    let mut check = tokio::time::interval(state.limits.config.stream_check());
    check.reset();
    // Subscribe before reading storage so nothing falls between replay and live.
    let mut live = state.live.subscribe();
    let stop = state.shutdown.clone();
    let stream = async_stream(move |tx| async move {
        // Held while the stream lives.
        let _slot = slot;
        let mut last = start;
        loop {
            let rows = match state.store.evidence_after(org, last, 500).await {
                Ok(rows) => rows,
                Err(e) => {
                    tracing::error!(error = %e, "event replay failed");
                    return;
                }
            };
            let full = rows.len() == 500;
            for row in rows {
                last = row.id;
                if !audience.sees(&state, &row.phone_e164).await {
                    continue;
                }
                let Some(event) = live_event(&row) else {
                    continue;
                };
                if tx.send(sse(&event)).await.is_err() {
                    return;
                }
            }
            if !full {
                break;
            }
        }
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = check.tick() => {
                    if tx.is_closed() || !token_holds(&state, &token).await {
                        return;
                    }
                }
                received = live.recv() => match received {
                    Ok(Signal::Event(published)) if published.organization_id == org && published.event.id > last => {
                        last = published.event.id;
                        if !audience.sees(&state, &published.event.phone).await {
                            continue;
                        }
                        if tx.send(sse(&published.event)).await.is_err() {
                            return;
                        }
                    }
                    Ok(Signal::Event(_)) => {}
                    // Fell behind the broadcast, or announcements may have
                    // been missed: catch up from storage.
                    Ok(Signal::CatchUp) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        let Ok(rows) = state.store.evidence_after(org, last, 10_000).await else { return };
                        for row in rows {
                            last = row.id;
                            if !audience.sees(&state, &row.phone_e164).await {
                                continue;
                            }
                            let Some(event) = live_event(&row) else { continue };
                            if tx.send(sse(&event)).await.is_err() {
                                return;
                            }
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                }
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// Whether the stream's token still signs its person in (not expired, not
/// revoked, the person not disabled); a storage error keeps the stream.
async fn token_holds(state: &AppState, token: &str) -> bool {
    match state.store.advisor_by_token(token, state.clock.now()).await {
        Ok(identity) => identity.is_some(),
        Err(e) => {
            tracing::warn!(error = %e, "live stream token check failed");
            true
        }
    }
}

/// Whose numbers a stream carries: an advisor's own (a number is theirs
/// while they hold it in their contacts), or the whole organization's.
enum Audience {
    Everyone,
    Holder {
        advisor_id: i64,
        /// Numbers known to be held; a number added later is looked up again.
        held: std::collections::HashSet<String>,
    },
}

impl Audience {
    fn of(identity: &AdvisorIdentity) -> AppResult<Self> {
        Ok(match identity.role()? {
            Role::Compliance | Role::Admin => Audience::Everyone,
            Role::Advisor => Audience::Holder {
                advisor_id: identity.advisor_id,
                held: Default::default(),
            },
        })
    }

    async fn sees(&mut self, state: &AppState, phone: &str) -> bool {
        match self {
            Audience::Everyone => true,
            Audience::Holder { advisor_id, held } => {
                if held.contains(phone) {
                    return true;
                }
                match state.store.advisor_holds(*advisor_id, phone).await {
                    Ok(true) => {
                        held.insert(phone.to_owned());
                        true
                    }
                    Ok(false) => false,
                    Err(e) => {
                        tracing::error!(error = %e, "event audience check failed");
                        false
                    }
                }
            }
        }
    }
}

/// A stream fed by a task through a small channel.
fn async_stream<F, Fut>(produce: F) -> impl Stream<Item = Result<Event, Infallible>>
where
    F: FnOnce(tokio::sync::mpsc::Sender<Event>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(produce(tx));
    futures_util::StreamExt::map(tokio_stream::wrappers::ReceiverStream::new(rx), Ok)
}
