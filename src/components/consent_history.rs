//! The consent record of one contact: every recorded step with its time and
//! who caused it, and a download of the record (CSV) for compliance.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{Api, Download, RecordEvent};
use crate::components::download::save_file;
use crate::fetched::Fetched;
use crate::labels;
use crate::time::stamp;

/// Collapsible history of a contact's consent record.
#[component]
pub fn ConsentHistory(
    /// The contact whose record is shown.
    contact_id: i64,
    /// Changes whenever the contact's data was refetched (live events).
    revision: Signal<usize>,
    /// The server's current time, for "Today, 09:56 AM" stamps.
    now: Memo<chrono::DateTime<chrono::Utc>>,
) -> impl IntoView {
    let api = expect_context::<Api>();
    let record = Fetched::new({
        let api = api.clone();
        move || {
            let _ = revision.get();
            let api = api.clone();
            async move { api.consent_record(contact_id).await }
        }
    });
    let download_error = RwSignal::new(None::<String>);
    let download = move |_| {
        let api = api.clone();
        spawn_local(async move {
            match api.consent_record_csv(contact_id).await {
                // Named after the contact the advisor knows, not the bare number.
                Ok(file) => save_file(&Download {
                    name: format!("consent-record-{contact_id}.csv"),
                    ..file
                }),
                Err(e) => {
                    let _ = download_error.try_set(Some(e.to_string()));
                }
            }
        });
    };
    view! {
        <details class="card history">
            <summary class="history__summary">"Consent history"</summary>
            <p class="muted history__intro">"Every step is kept as evidence, in order, with who caused it."</p>
            {move || match record.get() {
                None => view! { <p class="muted" role="status">"Loading the record…"</p> }.into_any(),
                Some(Err(e)) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                Some(Ok(events)) if events.is_empty() => view! { <p class="muted">"Nothing recorded yet."</p> }.into_any(),
                Some(Ok(events)) => {
                    let now = now.get();
                    view! {
                        <ol class="history__list" aria-label="Consent history">
                            {events.into_iter().rev().map(|event: RecordEvent| view! {
                                <li class="history__item">
                                    <span class="history__what">
                                        {labels::evidence(event.kind)}
                                        {event.purpose().map(|p| format!(" ({})", labels::purpose_in_text(p)))}
                                    </span>
                                    <span class="history__meta">
                                        {event.received_at.map(|at| stamp(at, now)).unwrap_or_default()}
                                        " · " {labels::cause(event.cause)}
                                        {event.state_after.map(|s| format!(" · consent: {}", labels::consent_state(s)))}
                                    </span>
                                </li>
                            }).collect_view()}
                        </ol>
                    }.into_any()
                }
            }}
            <button type="button" class="button" on:click=download>"Download record (CSV)"</button>
            <p class="error" role="alert">{move || download_error.get()}</p>
        </details>
    }
}
