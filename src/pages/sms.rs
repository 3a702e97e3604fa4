//! A contact's SMS screen: the SMS conversation and a composer, blocked while
//! the contact has answered STOP.

use leptos::prelude::*;
use leptos::task::spawn_local;
use optin_core::api::{valid_text, OutgoingSms, MAX_SMS_CHARS};

use crate::api::{Api, Subject};
use crate::components::conversation::Conversation;
use crate::components::revocation::StopFlags;
use crate::pages::contact::{not_found_text, Channel, ScreenHeader};
use crate::pages::contact_data::ContactData;

/// "42 characters · 1 SMS": GSM-7 parts are 160 characters, 153 when split;
/// anything outside plain Latin uses UCS-2 (70, 67 when split).
pub fn sms_parts(text: &str) -> (usize, usize) {
    let chars = text.chars().count();
    let gsm = text
        .chars()
        .all(|c| c.is_ascii() && (c == '\n' || c == '\r' || !c.is_ascii_control()));
    let (single, multi) = if gsm { (160, 153) } else { (70, 67) };
    let parts = match chars {
        0 => 0,
        n if n <= single => 1,
        n => n.div_ceil(multi),
    };
    (chars, parts)
}

/// The SMS screen of contact `id`.
#[component]
pub fn SmsPage(id: i64) -> impl IntoView {
    // Stored so the submit handler is `Copy` and can live in a re-rendered view.
    let api = StoredValue::new(expect_context::<Api>());
    let data = ContactData::load(id);
    let name = data.name();
    let snapshot = data.snapshot();
    let loaded = Memo::new(move |_| data.consent.with(Option::is_some));
    let blocked = Memo::new(move |_| snapshot.with(|s| s.sms_opted_out));
    let text = RwSignal::new(String::new());
    let sending = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let notice = RwSignal::new(None::<&'static str>);

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if sending.get_untracked() || blocked.get_untracked() {
            return;
        }
        let Some(body) = valid_text(&text.get_untracked(), MAX_SMS_CHARS).map(str::to_owned) else {
            error.set(Some("Write a message first.".to_owned()));
            return;
        };
        error.set(None);
        notice.set(None);
        sending.set(true);
        let api = api.get_value();
        spawn_local(async move {
            let result = api.send_sms(id, &OutgoingSms { body }).await;
            let _ = sending.try_set(false);
            match result {
                Ok(_) => {
                    let _ = text.try_set(String::new());
                    let _ = notice.try_set(Some("SMS sent."));
                    data.refresh();
                }
                Err(e) => {
                    let now = data.now.try_get_untracked().unwrap_or_default();
                    let _ = error.try_set(Some(e.explain(now)));
                }
            }
        });
    };
    let banner = move || {
        blocked
            .get()
            .then(|| match snapshot.with(|s| s.revocation.is_some()) {
                true => format!(
                    "{} revoked consent to messages, so no SMS can be sent until they reply START.",
                    name.get()
                ),
                false => format!(
                    "{} replied STOP to your SMS, so no SMS can be sent until they reply START.",
                    name.get()
                ),
            })
    };
    // Next to the disabled field, short: the banner above has the full sentence.
    let reason = move || {
        blocked
            .get()
            .then(|| format!("SMS to {} is blocked until they reply START.", name.get()))
    };
    let counter = move || {
        let (chars, parts) = sms_parts(&text.get());
        match parts {
            0 => "Up to 160 characters fit in one SMS.".to_owned(),
            1 => format!("{chars} characters · 1 SMS"),
            n => format!("{chars} characters · {n} SMS"),
        }
    };

    view! {
        <article class="screen" aria-labelledby="screen-title">
            <ScreenHeader data channel=Channel::Sms/>
            {move || data.contact.get().and_then(Result::err).map(|e| view! { <p class="error" role="alert">{not_found_text(&e)}</p> })}
            <Show when=move || loaded.get() fallback=move || view! {
                // Not after a failed load: the error above says what happened.
                {move || matches!(data.contact.get(), None | Some(Ok(_))).then(|| view! { <p class="muted" role="status">"Loading…"</p> })}
            }>
                <div class="live-slot" role="status" aria-live="polite">
                    {move || banner().map(|r| view! {
                        <section class="banner banner--opted-out">
                            <h3 class="banner__title">"SMS blocked"</h3>
                            <p class="banner__text">{r}</p>
                        </section>
                    })}
                </div>
                <StopFlags
                    subject=Subject::Contact(id)
                    flags=Signal::derive(move || snapshot.with(|s| s.stop_flags.clone()))
                    now=data.now
                    on_changed=Callback::new(move |s| { data.show(s); data.refresh(); })
                />
                <section class="card thread" aria-labelledby="thread-title">
                    <h3 id="thread-title" class="thread__title">"SMS conversation"</h3>
                    <Conversation
                        messages=data.messages_on(optin_core::api::Channel::Sms)
                        now=data.now
                        empty_text="No SMS yet."
                        label="SMS messages"
                    />
                    <form class="composer" aria-labelledby="sms-composer-heading" on:submit=submit novalidate>
                        <h3 id="sms-composer-heading" class="visually-hidden">"Send an SMS"</h3>
                        <fieldset class="composer__fields" disabled=move || blocked.get() || sending.get()
                            aria-describedby=move || blocked.get().then_some("sms-reason")>
                            <div class="field">
                                <label for="sms-text">"SMS message"</label>
                                <textarea
                                    id="sms-text"
                                    rows="3"
                                    maxlength=MAX_SMS_CHARS.to_string()
                                    aria-describedby="sms-counter"
                                    prop:value=text
                                    on:input=move |ev| text.set(event_target_value(&ev))
                                ></textarea>
                                <span class="field__hint" id="sms-counter">{counter}</span>
                            </div>
                        </fieldset>
                        <p class="composer__reason" id="sms-reason">{reason}</p>
                        <p class="error" role="alert">{move || error.get()}</p>
                        <div class="composer__actions">
                            <span class="success" role="status">{move || notice.get().filter(|_| !blocked.get())}</span>
                            <button type="submit" class="button button--primary" disabled=move || blocked.get() || sending.get()>
                                {move || if sending.get() { "Sending…" } else { "Send SMS" }}
                            </button>
                        </div>
                    </form>
                </section>
            </Show>
        </article>
    }
}
