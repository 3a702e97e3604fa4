//! Compliance: how long a number's messages are kept, and the legal holds
//! that keep them past that. Compliance places a hold on the number or
//! releases it here; a hold on the whole organization is shown, not released
//! from one number's page.

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use leptos::task::spawn_local;
use optin_core::compliance::{LegalHold, NewLegalHold, MAX_HOLD_REASON_CHARS};

use crate::api::Api;
use crate::fetched::Fetched;
use crate::time::stamp;

/// "6 years", "18 months".
pub fn retention_text(months: u32) -> String {
    match (months % 12, months / 12) {
        (0, 1) => "1 year".to_owned(),
        (0, years) => format!("{years} years"),
        _ => format!("{months} months"),
    }
}

/// The active holds that keep `phone`'s messages: its own, then the organization's.
pub fn holds_covering(holds: &[LegalHold], phone: &str) -> Vec<LegalHold> {
    let mut covering: Vec<LegalHold> = holds
        .iter()
        .filter(|h| h.released_at.is_none())
        .filter(|h| h.phone.as_deref().is_none_or(|p| p == phone))
        .cloned()
        .collect();
    covering.sort_by_key(|h| h.phone.is_none());
    covering
}

/// The number's retention and holds, with compliance's controls.
#[component]
pub fn LegalHoldCard(
    /// The number, E.164.
    phone: String,
    /// The person is compliance: may place and release holds.
    can_act: bool,
    /// The server's clock.
    #[prop(into)]
    now: Signal<DateTime<Utc>>,
) -> impl IntoView {
    let api = StoredValue::new(expect_context::<Api>());
    let phone = StoredValue::new(phone);
    let refresh = RwSignal::new(0u64);
    let retention = Fetched::new(move || {
        refresh.track();
        let api = api.get_value();
        async move { api.compliance_holds().await }
    });
    let reason = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let changed = move |answer: Result<LegalHold, crate::api::ClientError>| {
        let _ = busy.try_set(false);
        match answer {
            Ok(_) => {
                let _ = reason.try_set(String::new());
                let _ = error.try_set(None);
                refresh.update(|n| *n += 1);
            }
            Err(e) => {
                let _ = error.try_set(Some(e.to_string()));
            }
        }
    };
    let place = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        let hold = NewLegalHold {
            phone: Some(phone.get_value()),
            reason: reason.get_untracked(),
        };
        // The service checks the same rule; asking first saves a round trip.
        if let Err(message) = hold.checked_reason() {
            error.set(Some(message.to_owned()));
            return;
        }
        busy.set(true);
        let api = api.get_value();
        spawn_local(async move { changed(api.place_hold(&hold).await) });
    };
    let release = move |id: i64| {
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        let api = api.get_value();
        spawn_local(async move { changed(api.release_hold(id).await) });
    };
    let body = move || {
        let answer = retention.get()?;
        let retention = match answer {
            Ok(r) => r,
            Err(e) => return Some(view! { <p class="error">{e.to_string()}</p> }.into_any()),
        };
        let covering = holds_covering(&retention.holds, &phone.get_value());
        let kept = retention_text(retention.retention_months);
        let held_by_number = covering.iter().any(|h| h.phone.is_some());
        Some(view! {
            <p class="muted card__intro">
                {format!("Messages with this number are kept {kept}, then deleted, unless a legal hold keeps them. The consent record is never deleted.")}
            </p>
            {if covering.is_empty() {
                view! { <p class="hold__none">"No legal hold."</p> }.into_any()
            } else {
                view! {
                    <ul class="hold__list">
                        {covering.into_iter().map(|hold| {
                            let at = hold.placed_at;
                            let whole = hold.phone.is_none();
                            let id = hold.id;
                            view! {
                                <li class="hold">
                                    <p class="hold__what">
                                        <strong>{if whole { "On legal hold with the whole organization" } else { "On legal hold" }}</strong>
                                        {format!(": {}", hold.reason)}
                                    </p>
                                    <p class="hold__meta">
                                        {format!("Placed by {} · ", hold.placed_by)}
                                        <time datetime=at.to_rfc3339()>{move || stamp(at, now.get())}</time>
                                    </p>
                                    {(can_act && !whole).then(|| view! {
                                        <button type="button" class="button button--small" disabled=move || busy.get()
                                            on:click=move |_| release(id)>"Release hold"</button>
                                    })}
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
            {(can_act && !held_by_number).then(|| view! {
                <form class="hold__form" on:submit=place novalidate>
                    <div class="field">
                        <label for="hold-reason">"Reason for a legal hold"</label>
                        <span class="field__hint" id="hold-reason-hint">"The matter or request. Nothing with this number is deleted while the hold lasts."</span>
                        <input id="hold-reason" type="text" maxlength=MAX_HOLD_REASON_CHARS.to_string()
                            prop:value=reason on:input=move |ev| reason.set(event_target_value(&ev))
                            aria-describedby="hold-reason-hint"/>
                    </div>
                    <button type="submit" class="button" disabled=move || busy.get()>
                        {move || if busy.get() { "Placing…" } else { "Place legal hold" }}
                    </button>
                </form>
            })}
        }.into_any())
    };
    view! {
        <section class="card retention" aria-labelledby="retention-title">
            <h3 id="retention-title" class="card__title">"Retention"</h3>
            {body}
            <p class="error" role="alert">{move || error.get()}</p>
        </section>
    }
}
