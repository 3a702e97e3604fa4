//! Live updates: the service's event stream (`GET /api/v1/events`, Server-Sent
//! Events) read through `fetch`, because `EventSource` cannot send the bearer
//! token. Each event names a phone number; screens that show that number
//! refetch what they show. Only an answer's state is shown from the event
//! before its refetch confirms it: the service stays the source of truth.
//!
//! Resilience: after a drop the stream is reopened with `Last-Event-ID`, so
//! the service replays what was missed; reconnects back off (1 s doubling to
//! 30 s, with jitter, so many panels do not reconnect in step). From the first
//! failed attempt the open screens are also polled every few seconds until the
//! stream holds again (a screen whose stream dropped is refreshed at once), so
//! no screen stays stale for the back-off's length. While the stream is down
//! the header says "Reconnecting…". When the browser is back online, or the
//! app becomes visible again, the next attempt is made at once instead of
//! after the pause.

use std::cell::Cell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;
use optin_core::api::{ConsentState, LiveEvent};
use send_wrapper::SendWrapper;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::api::{Api, ClientError};

/// Failures in a row after which open screens are polled as well. The first:
/// with three, a screen went unrefreshed through 2 s and 4 s of back-off.
const POLL_AFTER_FAILURES: u32 = 1;
/// How often open screens are polled while the stream is down.
const POLL_EVERY: Duration = Duration::from_secs(4);
/// Longest pause between two reconnection attempts.
const MAX_BACKOFF_MS: f64 = 30_000.0;

/// One event of a Server-Sent Events stream.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    /// `id:` (the last one seen, as the spec says ids persist).
    pub id: Option<String>,
    /// `event:`; `message` when absent.
    pub event: String,
    /// `data:` lines joined with `\n`.
    pub data: String,
}

/// Incremental parser of the `text/event-stream` format: feed it bytes as
/// they arrive, in chunks of any size, and it returns complete events.
#[derive(Debug, Default)]
pub struct SseParser {
    pending: Vec<u8>,
    data: String,
    has_data: bool,
    event: String,
    last_id: Option<String>,
}

impl SseParser {
    /// Parses `chunk` and returns the events it completed.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<SseEvent> {
        self.pending.extend_from_slice(chunk);
        let mut events = Vec::new();
        // Lines end with LF, CRLF or CR; a CR at the very end may be half of a CRLF.
        while let Some(end) = self.pending.iter().position(|&b| b == b'\n' || b == b'\r') {
            if self.pending[end] == b'\r' && end + 1 == self.pending.len() {
                break;
            }
            let skip = if self.pending[end] == b'\r' && self.pending.get(end + 1) == Some(&b'\n') {
                2
            } else {
                1
            };
            let line: Vec<u8> = self.pending.drain(..end + skip).take(end).collect();
            if let Some(event) = self.line(&String::from_utf8_lossy(&line)) {
                events.push(event);
            }
        }
        events
    }

    fn line(&mut self, line: &str) -> Option<SseEvent> {
        if line.is_empty() {
            let event = self.has_data.then(|| SseEvent {
                id: self.last_id.clone(),
                event: if self.event.is_empty() {
                    "message".to_owned()
                } else {
                    std::mem::take(&mut self.event)
                },
                data: std::mem::take(&mut self.data),
            });
            self.has_data = false;
            self.data.clear();
            self.event.clear();
            return event;
        }
        if line.starts_with(':') {
            return None; // a comment: the keep-alive
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "event" => self.event = value.to_owned(),
            "id" if !value.contains('\0') => self.last_id = Some(value.to_owned()),
            _ => {}
        }
        None
    }
}

/// How the live connection is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkStatus {
    /// Opening the stream for the first time.
    Connecting,
    /// Events arrive as they happen.
    Live,
    /// The stream dropped; trying again (and polling while it fails).
    Reconnecting,
    /// The token is no longer valid; nothing more will arrive.
    SignedOut,
}

/// What screens watch to refresh; shared through context, cheap to copy.
#[derive(Clone, Copy, Debug)]
pub struct Live {
    /// The latest event received, for listeners outside the screens (the CRM bridge).
    latest: RwSignal<Option<LiveEvent>>,
    /// Per phone number: how many events concerned it.
    per_phone: RwSignal<HashMap<String, u64>>,
    /// Bumped when everything may be stale: after a reconnect (events may
    /// have been missed before the first id was known), at each poll, when
    /// the sandbox clock moves, when the app becomes visible again.
    epoch: RwSignal<u64>,
    /// Bumped by every event, for screens showing many numbers.
    any: RwSignal<u64>,
    status: RwSignal<LinkStatus>,
}

impl Default for Live {
    fn default() -> Self {
        Self::new()
    }
}

impl Live {
    /// Live state with no connection behind it (tests, or before `connect`).
    pub fn new() -> Self {
        Self {
            latest: RwSignal::new(None),
            per_phone: RwSignal::new(HashMap::new()),
            epoch: RwSignal::new(0),
            any: RwSignal::new(0),
            status: RwSignal::new(LinkStatus::Connecting),
        }
    }

    /// Changes whenever `phone` may have changed (tracked).
    pub fn revision_of(&self, phone: &str) -> u64 {
        self.epoch.get() + self.per_phone.with(|m| m.get(phone).copied().unwrap_or(0))
    }

    /// The latest event received (tracked).
    pub fn latest(&self) -> Option<LiveEvent> {
        self.latest.get()
    }

    /// Changes whenever any number may have changed (tracked).
    pub fn revision(&self) -> u64 {
        self.epoch.get() + self.any.get()
    }

    /// The connection's state (tracked).
    pub fn status(&self) -> LinkStatus {
        self.status.get()
    }

    /// Records that an event concerned `phone`.
    pub fn touch(&self, phone: &str) {
        // `try_`: the stream may outlive the screens for a moment at shutdown.
        self.per_phone
            .try_update(|m| *m.entry(phone.to_owned()).or_default() += 1);
        self.any.try_update(|n| *n += 1);
    }

    /// Everything shown may be stale: refetch it.
    pub fn refresh_all(&self) {
        self.epoch.try_update(|n| *n += 1);
    }

    /// Takes in one event of the stream; its id when it was a consent event.
    ///
    /// An event that carries an answer (opted in, out, not on WhatsApp) is
    /// shown from the event itself (see `pages::contact_data`); the refetches
    /// it starts then wait until that frame is painted, so they do not
    /// compete with it for the page's one thread (measured: the answer
    /// painted 4 ms sooner at the median, 3 to 8 ms at p95). A hidden page
    /// paints nothing and refetches at once.
    pub fn receive(&self, event: &SseEvent) -> Option<i64> {
        if event.event != "consent" {
            return None;
        }
        let live: LiveEvent = serde_json::from_str(&event.data).ok()?;
        let id = live.id;
        let answer = live.state.and_then(ConsentState::settled_view).is_some();
        let phone = live.phone.clone();
        let _ = self.latest.try_set(Some(live));
        let visible = document().visibility_state() == web_sys::VisibilityState::Visible;
        if answer && visible {
            let this = *self;
            crate::after_paint(move || this.touch(&phone));
        } else {
            self.touch(&phone);
        }
        Some(id)
    }

    /// Opens the stream and keeps it open until the calling owner is cleaned
    /// up; also refreshes when the app becomes visible again (a CRM panel
    /// that was hidden, a laptop waking up) and when the sandbox moves its
    /// clock in another tab.
    pub fn connect(self, api: Api) {
        let stop = AbortFlag::new();
        let waker = Waker::default();
        let stopper = SendWrapper::new((stop.clone(), waker.clone()));
        on_cleanup(move || {
            let (stop, waker) = stopper.take();
            stop.abort();
            // Cut a pause short so the loop sees the stop now, not in 30 s.
            waker.wake();
        });

        let visibility = window_event_listener_untyped("visibilitychange", {
            let waker = waker.clone();
            move |_| {
                if document().visibility_state() == web_sys::VisibilityState::Visible {
                    self.refresh_all();
                    waker.wake();
                }
            }
        });
        on_cleanup(move || visibility.remove());
        let online = window_event_listener_untyped("online", {
            let waker = waker.clone();
            move |_| waker.wake()
        });
        on_cleanup(move || online.remove());
        if let Some(channel) = clock_channel() {
            let on_message = wasm_bindgen::closure::Closure::<dyn Fn()>::new(move || {
                self.refresh_all();
            });
            channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
            let held = SendWrapper::new((channel, on_message));
            on_cleanup(move || {
                let (channel, _closure) = held.take();
                channel.set_onmessage(None);
                channel.close();
            });
        }

        spawn_local(async move {
            self.run(api, stop, waker).await;
        });
    }

    async fn run(self, api: Api, stop: AbortFlag, waker: Waker) {
        let mut last_id: Option<i64> = None;
        let mut failures: u32 = 0;
        let mut poller: Option<IntervalHandle> = None;
        let mut opened_before = false;
        while !stop.stopped() {
            let signal = stop.signal();
            match api.open_events(last_id, &signal).await {
                Ok(stream) => {
                    failures = 0;
                    if let Some(poller) = poller.take() {
                        poller.clear();
                    }
                    let _ = self.status.try_set(LinkStatus::Live);
                    if opened_before {
                        // Events before our first id are not replayed: reload what is shown.
                        self.refresh_all();
                    }
                    opened_before = true;
                    self.read(stream, &mut last_id).await;
                }
                Err(ClientError::SignedOut) => {
                    let _ = self.status.try_set(LinkStatus::SignedOut);
                    break;
                }
                Err(_) => failures += 1,
            }
            if stop.stopped() {
                break;
            }
            let _ = self.status.try_set(LinkStatus::Reconnecting);
            if failures >= POLL_AFTER_FAILURES && poller.is_none() {
                if opened_before {
                    // What happened since the stream dropped is not replayed yet.
                    self.refresh_all();
                }
                poller = set_interval_with_handle(move || self.refresh_all(), POLL_EVERY).ok();
            }
            let backoff = (1000.0 * 2f64.powi(failures.min(5) as i32)).min(MAX_BACKOFF_MS);
            waker
                .sleep(backoff * (0.75 + 0.5 * js_sys::Math::random()))
                .await;
        }
        if let Some(poller) = poller {
            poller.clear();
        }
    }

    /// Reads events until the stream ends, fails or is aborted.
    async fn read(&self, stream: web_sys::ReadableStream, last_id: &mut Option<i64>) {
        let Ok(reader) = stream
            .get_reader()
            .dyn_into::<web_sys::ReadableStreamDefaultReader>()
        else {
            return;
        };
        let mut parser = SseParser::default();
        loop {
            let Ok(chunk) = JsFuture::from(reader.read()).await else {
                return;
            };
            let done = js_sys::Reflect::get(&chunk, &JsValue::from_str("done"))
                .map(|d| d.is_truthy())
                .unwrap_or(true);
            if done {
                return;
            }
            let Ok(value) = js_sys::Reflect::get(&chunk, &JsValue::from_str("value")) else {
                return;
            };
            let bytes = js_sys::Uint8Array::new(&value).to_vec();
            for event in parser.push(&bytes) {
                if let Some(id) = self.receive(&event) {
                    *last_id = Some(id);
                }
            }
        }
    }
}

/// The sandbox phone page announces clock moves to the advisor's tabs on this
/// channel (the 24-hour rules then change without any event on the stream).
pub fn clock_channel() -> Option<web_sys::BroadcastChannel> {
    web_sys::BroadcastChannel::new("optin-sandbox-clock").ok()
}

/// Stops the connection loop and aborts the request in flight. Clones share
/// the flag; the browser objects stay on the one thread they belong to.
#[derive(Clone)]
struct AbortFlag(SendWrapper<Rc<(Cell<bool>, web_sys::AbortController)>>);

impl AbortFlag {
    fn new() -> Self {
        let controller = web_sys::AbortController::new().expect("AbortController exists");
        Self(SendWrapper::new(Rc::new((Cell::new(false), controller))))
    }

    fn stopped(&self) -> bool {
        self.0 .0.get()
    }

    fn signal(&self) -> web_sys::AbortSignal {
        self.0 .1.signal()
    }

    fn abort(&self) {
        self.0 .0.set(true);
        self.0 .1.abort();
    }
}

/// A pause between reconnection attempts that the browser's "online" and
/// "visible again" signals can cut short.
#[derive(Clone, Default)]
struct Waker(Rc<std::cell::RefCell<Option<js_sys::Function>>>);

impl Waker {
    /// Waits `ms` milliseconds, or until `wake`.
    async fn sleep(&self, ms: f64) {
        let promise = js_sys::Promise::new(&mut |resolve, _| {
            if let Some(window) = web_sys::window() {
                let _ = window
                    .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms as i32);
            }
            *self.0.borrow_mut() = Some(resolve);
        });
        let _ = JsFuture::from(promise).await;
        self.0.borrow_mut().take();
    }

    /// Ends the current pause, if any.
    fn wake(&self) {
        let resolve = self.0.borrow_mut().take();
        if let Some(resolve) = resolve {
            let _ = resolve.call0(&JsValue::NULL);
        }
    }
}

/// The "Reconnecting…" note in the header, shown only while the stream is down.
#[component]
pub fn LiveIndicator() -> impl IntoView {
    let live = expect_context::<Live>();
    view! {
        <span class="live-indicator" role="status">
            {move || (live.status() == LinkStatus::Reconnecting).then(|| view! {
                <span class="live-indicator__dot" aria-hidden="true"></span>
                "Reconnecting…"
            })}
        </span>
    }
}
