//! What a contact's screens load and keep fresh: the contact, where consent
//! stands (with the server's clock), and the conversation.
//!
//! Refetched on a live event for the contact's number, on reconnects and
//! polls (see `live`), after the advisor sends something, and when a 24-hour
//! rule flips (a request expires, the service window closes): those flips
//! produce no event, so a timer set to the server's time triggers the refetch.

use std::time::Duration;

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use optin_core::api::{ConsentSnapshot, ConsentState, ConsentView, Contact, MessageView};

use crate::api::{Api, ClientError};
use crate::fetched::Fetched;
use crate::live::Live;
use crate::time::{local_now, ServerClock};

/// How often times on screen ("in 3 h 20 min") are brought up to date.
const TICK: Duration = Duration::from_secs(20);

/// A contact's screen data; cheap to copy.
#[derive(Clone, Copy)]
pub struct ContactData {
    /// The contact.
    pub contact: Fetched<Result<Contact, ClientError>>,
    /// The latest consent answer and the server clock read with it.
    pub consent: RwSignal<Option<(ConsentSnapshot, ServerClock)>>,
    /// Why the latest consent fetch failed, if it did.
    pub consent_error: RwSignal<Option<ClientError>>,
    /// The conversation, both channels.
    pub messages: Fetched<Result<Vec<MessageView>, ClientError>>,
    /// The server's time now, updated every few seconds.
    pub now: Memo<DateTime<Utc>>,
    refresh: RwSignal<u64>,
    /// Changes whenever consent and messages are to be fetched again.
    fetches: Signal<u64>,
}

impl ContactData {
    /// Starts loading contact `id`; call inside the screen's component.
    pub fn load(id: i64) -> Self {
        let api = expect_context::<Api>();
        let live = expect_context::<Live>();
        let refresh = RwSignal::new(0u64);
        let contact = Fetched::new({
            let api = api.clone();
            move || {
                let api = api.clone();
                async move { api.contact(id).await }
            }
        });
        let phone = Memo::new(move |_| contact.get().and_then(Result::ok).map(|c| c.phone));
        // Changes only when something happened to *this* number (or everything may be stale).
        let revision = Memo::new(move |_| {
            phone.with(|p| p.as_deref().map(|p| live.revision_of(p)).unwrap_or(0))
        });
        // Read, not only tracked: a memo nobody reads is never computed, so
        // it never hears of the changes it depends on.
        let fetches = Signal::derive(move || revision.get() + refresh.get());
        let fetched_consent = Fetched::new({
            let api = api.clone();
            move || {
                fetches.get();
                let api = api.clone();
                async move { api.consent(id).await }
            }
        });
        let messages = Fetched::new(move || {
            fetches.get();
            let api = api.clone();
            async move { api.messages(id).await }
        });
        let consent = RwSignal::new(None::<(ConsentSnapshot, ServerClock)>);
        let consent_error = RwSignal::new(None::<ClientError>);
        // Keep the last good answer on screen; a failed refetch only adds a note.
        Effect::new(move |_| match fetched_consent.get() {
            Some(Ok(snapshot)) => {
                let clock = ServerClock::read(snapshot.now);
                consent.set(Some((snapshot, clock)));
                consent_error.set(None);
            }
            Some(Err(e)) => consent_error.set(Some(e)),
            None => {}
        });

        // An answer (opted in, out, not on WhatsApp) shows the moment its
        // live event arrives; the refetch the event starts fills in the rest.
        // The newest event of all names this number only if nothing about it
        // happened since, so its state is the number's state now.
        Effect::new(move |_| {
            let Some(event) = live.latest() else { return };
            let Some(answer) = event.state.and_then(ConsentState::settled_view) else {
                return;
            };
            if phone.with(|p| p.as_deref() == Some(event.phone.as_str())) {
                consent.update(|c| {
                    if let Some((snapshot, _)) = c {
                        snapshot.state = answer;
                    }
                });
            }
        });

        let tick = RwSignal::new(0u64);
        if let Ok(handle) = set_interval_with_handle(move || tick.update(|t| *t += 1), TICK) {
            on_cleanup(move || handle.clear());
        }
        let now = Memo::new(move |_| {
            tick.track();
            consent
                .with(|c| c.as_ref().map(|(_, clock)| clock.now()))
                .unwrap_or_else(local_now)
        });

        // Refetch when the next 24-hour rule flips, by the server's clock.
        let timer = StoredValue::new(None::<TimeoutHandle>);
        Effect::new(move |_| {
            if let Some(previous) = timer.get_value() {
                previous.clear();
            }
            let edge = consent.with(|c| {
                c.as_ref().and_then(|(s, clock)| {
                    let at = s.next_change(clock.now())?;
                    let wait = clock.millis_until(at);
                    (wait > 0).then_some(wait)
                })
            });
            let handle = edge.and_then(|wait| {
                // setTimeout takes at most ~24.8 days; a second of slack lets the server agree.
                let wait = (wait + 1000).min(i32::MAX as i64) as u64;
                set_timeout_with_handle(
                    move || refresh.update(|n| *n += 1),
                    Duration::from_millis(wait),
                )
                .ok()
            });
            timer.set_value(handle);
        });
        on_cleanup(move || {
            if let Some(handle) = timer.try_get_value().flatten() {
                handle.clear();
            }
        });

        Self {
            contact,
            consent,
            consent_error,
            messages,
            now,
            refresh,
            fetches,
        }
    }

    /// What makes consent and messages be fetched again, read (tracked): for
    /// what else follows them.
    pub fn fetches(&self) -> u64 {
        self.fetches.get()
    }

    /// Fetches consent and messages again.
    pub fn refresh(&self) {
        self.refresh.update(|n| *n += 1);
    }

    /// Shows a consent answer the service just gave (e.g. to a resend).
    pub fn show(&self, snapshot: ConsentSnapshot) {
        let clock = ServerClock::read(snapshot.now);
        self.consent.set(Some((snapshot, clock)));
    }

    /// The contact's name, once loaded.
    pub fn name(&self) -> Signal<String> {
        let contact = self.contact;
        Signal::derive(move || {
            contact
                .get()
                .and_then(Result::ok)
                .map(|c| c.name)
                .unwrap_or_default()
        })
    }

    /// The consent answer (a "never asked" placeholder until it arrives).
    pub fn snapshot(&self) -> Signal<ConsentSnapshot> {
        let consent = self.consent;
        Signal::derive(move || {
            consent
                .with(|c| c.as_ref().map(|(s, _)| s.clone()))
                .unwrap_or_else(placeholder)
        })
    }

    /// Messages of one channel.
    pub fn messages_on(&self, channel: optin_core::api::Channel) -> Signal<Vec<MessageView>> {
        let messages = self.messages;
        Signal::derive(move || {
            messages
                .get()
                .and_then(Result::ok)
                .map(|all| all.into_iter().filter(|m| m.channel == channel).collect())
                .unwrap_or_default()
        })
    }
}

fn placeholder() -> ConsentSnapshot {
    ConsentSnapshot::bare(String::new(), ConsentView::None, local_now())
}
