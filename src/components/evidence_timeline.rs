//! A number's consent record as compliance reads it: each step in chain
//! order with who caused it, when we received it and when the provider says
//! it happened, the exact text, the consent state after it, and the raw
//! evidence on demand. Everything is shown as text, never as markup.

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use leptos::task::spawn_local;
use optin_core::api::Purpose;
use optin_core::compliance::{RawEvidence, TimelineEvent};
use optin_core::vocab::Role;

use crate::api::{Api, ClientError};
use crate::labels;
use crate::time::precise_stamp;

/// The steps, oldest first.
#[component]
pub fn EvidenceTimeline(
    /// The steps shown.
    #[prop(into)]
    events: Signal<Vec<TimelineEvent>>,
    /// The server's clock, for "Today, 09:56:07 AM".
    #[prop(into)]
    now: Signal<DateTime<Utc>>,
) -> impl IntoView {
    view! {
        <Show when=move || events.with(Vec::is_empty)>
            <p class="muted">"Nothing recorded for this number yet."</p>
        </Show>
        <ol class="timeline" aria-label="Evidence timeline">
            <For each=move || events.get() key=|e| e.id let(event)>
                <EvidenceStep event now/>
            </For>
        </ol>
    }
}

/// Which message a delivery step concerns, when recorded.
fn purpose(event: &TimelineEvent) -> Option<Purpose> {
    serde_json::from_value(event.detail.get("purpose")?.clone()).ok()
}

#[component]
fn EvidenceStep(event: TimelineEvent, now: Signal<DateTime<Utc>>) -> impl IntoView {
    let TimelineEvent {
        id,
        seq,
        kind,
        cause,
        state_after,
        ref advisor_name,
        advisor_role,
        received_at,
        provider_time,
        ref text,
        has_raw,
        signature_valid,
        mode,
        ..
    } = event;
    let what = match purpose(&event) {
        Some(p) => format!(
            "{} ({})",
            labels::evidence(kind),
            labels::purpose_in_text(p)
        ),
        None => labels::evidence(kind).to_owned(),
    };
    let sandbox = labels::mode_tag(mode);
    let advisor = advisor_name.clone();
    let text = text.clone();
    let class = if sandbox.is_some() {
        "step step--sandbox"
    } else {
        "step"
    };
    view! {
        <li class=class>
            <p class="step__head">
                <span class="step__seq">{format!("#{seq}")}</span>
                <span class="step__what">{what}</span>
                {sandbox.map(|tag| view! {
                    <span class="tag tag--sandbox" title="Recorded against the sandbox, not a real provider">
                        {tag}<span class="visually-hidden">" evidence"</span>
                    </span>
                })}
            </p>
            <dl class="step__facts">
                <div><dt>"By"</dt><dd>{labels::cause(cause)}</dd></div>
                // A compliance officer records revocations and decides flagged messages too.
                {advisor.map(|name| view! {
                    <div><dt>{labels::role(advisor_role.unwrap_or(Role::Advisor))}</dt><dd>{name}</dd></div>
                })}
                <div>
                    <dt>"Received"</dt>
                    <dd><time datetime=received_at.to_rfc3339()>{move || precise_stamp(received_at, now.get())}</time></dd>
                </div>
                {provider_time.map(|at| view! {
                    <div>
                        <dt>"Provider time"</dt>
                        <dd><time datetime=at.to_rfc3339()>{move || precise_stamp(at, now.get())}</time></dd>
                    </div>
                })}
                {state_after.map(|s| view! {
                    <div><dt>"Consent after"</dt><dd>{labels::consent_state(s)}</dd></div>
                })}
                {signature_valid.map(|valid| view! {
                    <div><dt>"Webhook"</dt><dd>{labels::signature(valid)}</dd></div>
                })}
            </dl>
            {text.map(|text| view! {
                <figure class="step__text">
                    <figcaption>"Exact text"</figcaption>
                    <blockquote>{text}</blockquote>
                </figure>
            })}
            {has_raw.then(|| view! { <RawToggle id/> })}
        </li>
    }
}

/// "Show raw evidence": fetches the step's stored evidence once, then
/// shows or hides it.
#[component]
fn RawToggle(id: i64) -> impl IntoView {
    let api = expect_context::<Api>();
    let open = RwSignal::new(false);
    let raw = RwSignal::new(None::<Result<RawEvidence, ClientError>>);
    let region = format!("raw-{id}");
    let toggle = move |_| {
        let opening = !open.get_untracked();
        open.set(opening);
        if opening && !matches!(raw.get_untracked(), Some(Ok(_))) {
            raw.set(None);
            let api = api.clone();
            spawn_local(async move {
                let answer = api.raw_evidence(id).await;
                let _ = raw.try_set(Some(answer));
            });
        }
    };
    view! {
        <button type="button" class="button button--small" aria-expanded=move || open.get().to_string()
            aria-controls=region.clone() on:click=toggle>
            {move || if open.get() { "Hide raw evidence" } else { "Show raw evidence" }}
        </button>
        <div id=region class="raw" role="region" aria-label=format!("Raw evidence of step {id}") hidden=move || !open.get()>
            {move || open.get().then(|| match raw.get() {
                None => view! { <p class="muted" role="status">"Loading the evidence…"</p> }.into_any(),
                Some(Err(e)) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                Some(Ok(raw)) => view! { <RawView raw/> }.into_any(),
            })}
        </div>
    }
}

/// JSON laid out for reading; anything else as it is.
fn pretty(value: &serde_json::Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

#[component]
fn RawView(raw: RawEvidence) -> impl IntoView {
    view! {
        {raw.raw_body.map(|body| view! {
            <h4 class="raw__title">"Provider body, exactly as received"</h4>
            <pre class="raw__pre" tabindex="0">{body}</pre>
        })}
        {(raw.signature_header.is_some() || raw.signed_url.is_some()).then(|| view! {
            <dl class="raw__hashes">
                {raw.signature_header.map(|header| view! {
                    <div><dt>"Signature header"</dt><dd><code>{header}</code></dd></div>
                })}
                {raw.signed_url.map(|url| view! {
                    <div><dt>"Signed URL"</dt><dd><code>{url}</code></dd></div>
                })}
            </dl>
        })}
        <h4 class="raw__title">"Recorded detail"</h4>
        <pre class="raw__pre" tabindex="0">{pretty(&raw.detail)}</pre>
        <dl class="raw__hashes">
            <div><dt>"Previous hash"</dt><dd><code>{raw.prev_hash}</code></dd></div>
            <div><dt>"Hash"</dt><dd><code>{raw.hash}</code></dd></div>
        </dl>
    }
}
