//! The banner at the top of a contact's screen: where WhatsApp consent stands,
//! in the advisor's words, and the one thing they can do about it now.
//!
//! The text sits in a polite live region, so a change that arrives live
//! (the contact tapped Yes on their phone) is read out by screen readers.

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use leptos::task::spawn_local;
use optin_core::api::{ConsentSnapshot, ConsentView};

use crate::api::Api;
use crate::components::confirm_opt_in::new_idempotency_key;
use crate::components::revocation::RevocationNotice;
use crate::time::{stamp, until};

/// The exact words of the "no answer" banner (from the advisors' help page).
pub const NO_ANSWER_TEXT: &str = "The contact hasn't responded to the opt-in request for more than 24 hours. You can try sending the request again.";

/// The banner's words for a state: (title, text, optional stamp line).
pub fn banner_text(
    name: &str,
    snapshot: &ConsentSnapshot,
    now: DateTime<Utc>,
) -> (String, String, Option<String>) {
    let (title, mut text, line) = state_text(name, snapshot, now);
    if let Some(at) = snapshot.marketing_stopped_at {
        text.push_str(&format!(
            " {name} stopped marketing messages from your firm in WhatsApp {}: marketing templates are not sent to them.",
            stamp(at, now)
        ));
    }
    (title, text, line)
}

fn state_text(
    name: &str,
    snapshot: &ConsentSnapshot,
    now: DateTime<Utc>,
) -> (String, String, Option<String>) {
    let when = |at: Option<DateTime<Utc>>| at.map(|at| stamp(at, now));
    let next_request = || match snapshot.resend_allowed_at {
        Some(at) if at > now => format!(
            " A new request can be sent {} ({}).",
            stamp(at, now),
            until(at, now)
        ),
        _ => " You can send a new request now.".to_owned(),
    };
    match snapshot.state {
        ConsentView::None => (
            "Not asked yet".to_owned(),
            format!("{name} hasn't been asked for consent to WhatsApp messages yet."),
            None,
        ),
        ConsentView::Sending => (
            "Sending opt-in request…".to_owned(),
            format!("The request is on its way to {name}."),
            None,
        ),
        ConsentView::Pending => {
            let sent = when(snapshot.last_request_at).unwrap_or_else(|| "just now".to_owned());
            let resend = snapshot
                .resend_allowed_at
                .filter(|at| *at > now)
                .map(|at| {
                    format!(
                        " If there's no answer, you can send it again {} ({}).",
                        stamp(at, now),
                        until(at, now)
                    )
                })
                .unwrap_or_default();
            (
                "Pending".to_owned(),
                format!("Opt-in request sent {sent}. Waiting for a response.{resend}"),
                None,
            )
        }
        ConsentView::Expired => {
            let expired_at = snapshot.expires_at();
            (
                "No answer".to_owned(),
                NO_ANSWER_TEXT.to_owned(),
                Some(when(expired_at).unwrap_or_else(|| stamp(now, now))),
            )
        }
        ConsentView::Failed => {
            // Core's words for the code, so the advisor knows what happened.
            let code = snapshot
                .failure_code
                .map(|c| match c.title() {
                    Some(words) => format!(": {words} (error {c})"),
                    None => format!(" (error {c})"),
                })
                .unwrap_or_default();
            (
                "Request failed".to_owned(),
                format!(
                    "The opt-in request to {name} could not be delivered{code}.{}",
                    next_request()
                ),
                None,
            )
        }
        ConsentView::NoWhatsapp => (
            "Not on WhatsApp".to_owned(),
            format!("{name} is not a WhatsApp user. You can send them an SMS instead."),
            None,
        ),
        ConsentView::OptedIn => (
            "Opted in".to_owned(),
            match when(snapshot.answered_at) {
                Some(at) => format!("{name} opted in to WhatsApp messages {at}. You can message them now."),
                None => format!("{name} opted in to WhatsApp messages. You can message them now."),
            },
            None,
        ),
        ConsentView::OptedOut if snapshot.revocation.is_some() => (
            "Consent revoked".to_owned(),
            format!("{name} revoked consent to messages. Nothing can be sent to them on WhatsApp or SMS until they opt in again themselves (by replying \"yes\")."),
            None,
        ),
        ConsentView::OptedOut => (
            "Opted out".to_owned(),
            match when(snapshot.answered_at) {
                Some(at) => format!("{name} opted out of WhatsApp messages {at}. They can opt in again at any time by replying \"yes\"."),
                None => format!("{name} opted out of WhatsApp messages. They can opt in again at any time by replying \"yes\"."),
            },
            None,
        ),
    }
}

/// Puts keyboard focus on the banner's title: after a request or resend the
/// button that was pressed goes away, and focus should not fall to the page.
pub fn focus_banner() {
    request_animation_frame(|| {
        let title = document()
            .get_element_by_id("banner-title")
            .and_then(|el| wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlElement>(el).ok());
        if let Some(title) = title {
            let _ = title.focus();
        }
    });
}

/// The consent banner of a contact's screen.
#[component]
pub fn ConsentBanner(
    /// The contact's id (for the resend).
    contact_id: i64,
    /// The contact's name.
    #[prop(into)]
    name: Signal<String>,
    /// Where consent stands.
    #[prop(into)]
    snapshot: Signal<ConsentSnapshot>,
    /// The server's time now.
    #[prop(into)]
    now: Signal<DateTime<Utc>>,
    /// The advisor wants to send a (new) request: open the confirm dialog.
    on_request: Callback<()>,
    /// The advisor chose SMS instead.
    on_sms: Callback<()>,
    /// The service answered a resend with the new state.
    on_changed: Callback<ConsentSnapshot>,
) -> impl IntoView {
    // Stored so the handlers below are `Copy` and can live in re-rendered views.
    let api = StoredValue::new(expect_context::<Api>());
    let state = Memo::new(move |_| snapshot.with(|s| s.state));
    let text = Memo::new(move |_| snapshot.with(|s| banner_text(&name.get(), s, now.get())));
    // One key per resend intent: a double click or a retry is one resend.
    let resend_key = StoredValue::new(new_idempotency_key());
    let resending = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);

    let resend = move |_| {
        if resending.get_untracked() {
            return;
        }
        resending.set(true);
        error.set(None);
        let api = api.get_value();
        let key = resend_key.get_value();
        spawn_local(async move {
            let result = api.resend_opt_in(contact_id, &key).await;
            let _ = resending.try_set(false);
            match result {
                Ok(snapshot) => {
                    resend_key.try_set_value(new_idempotency_key());
                    on_changed.run(snapshot);
                    focus_banner();
                }
                Err(e) => {
                    let now = now.try_get_untracked().unwrap_or_default();
                    let _ = error.try_set(Some(e.explain(now)));
                }
            }
        });
    };

    let class = move || {
        format!(
            "banner banner--{}",
            crate::components::consent_badge::consent_class(state.get())
                .trim_start_matches("badge--")
        )
    };
    let actions = move || {
        let state = state.get();
        let allowed = snapshot.with(|s| s.may_request(now.get()));
        let request_label = if state == ConsentView::None {
            "Send opt-in request"
        } else {
            "Send a new opt-in request"
        };
        view! {
            {(state == ConsentView::Expired).then(|| view! {
                <button type="button" class="button button--primary" disabled=move || resending.get() on:click=resend>
                    {move || if resending.get() { "Resending…" } else { "Resend Opt-In Request" }}
                </button>
            })}
            {(state == ConsentView::NoWhatsapp).then(|| view! {
                <button type="button" class="button button--primary" on:click=move |_| on_sms.run(())>"Send an SMS instead"</button>
            })}
            {allowed.then(|| view! {
                <button type="button" class="button" class:button--primary=state != ConsentView::NoWhatsapp on:click=move |_| on_request.run(())>{request_label}</button>
            })}
        }
    };

    view! {
        <section class=class aria-labelledby="banner-title">
            <div class="banner__body" role="status" aria-live="polite" aria-atomic="true">
                {move || text.with(|(_, _, stamp)| stamp.clone()).map(|s| view! { <p class="banner__stamp">{s}</p> })}
                <h3 class="banner__title" id="banner-title" tabindex="-1">
                    {move || (state.get() == ConsentView::Sending).then(|| view! { <span class="spinner" aria-hidden="true"></span> })}
                    {move || text.with(|(title, _, _)| title.clone())}
                </h3>
                <p class="banner__text">{move || text.with(|(_, text, _)| text.clone())}</p>
                {move || snapshot.with(|s| s.revocation.clone()).map(|revocation| view! { <RevocationNotice revocation now/> })}
            </div>
            <p class="error" role="alert">{move || error.get()}</p>
            <div class="banner__actions">{actions}</div>
        </section>
    }
}
