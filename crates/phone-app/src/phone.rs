//! The sandbox's "contact's phone": what the number received, WhatsApp-style,
//! with the opt-in request's Yes/No buttons, a reply box, the "On WhatsApp"
//! switch and the shared test clock. It plays the contact, so it needs no
//! advisor sign-in; it exists only when the service runs its sandbox.
//!
//! It polls (every 2 s while visible) instead of holding a live stream: the
//! event stream is the advisor's and needs their token.

use std::collections::HashSet;
use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;
use optin_core::sandbox::{Channel, ClockView, Direction, PhoneMessage, PhoneView, Tap};

use crate::client::{announce_clock_moved, Sandbox};
use optin_app::api::ClientError;
use optin_app::time::{clock_time, stamp};

const POLL: Duration = Duration::from_secs(2);

/// The phone of `number` (E.164).
#[component]
pub fn PhonePage(number: String) -> impl IntoView {
    let sandbox = Sandbox;
    let reload = RwSignal::new(0u64);
    let phone = LocalResource::new({
        let number = number.clone();
        move || {
            reload.track();
            let number = number.clone();
            async move { sandbox.phone(&number).await }
        }
    });
    let clock = LocalResource::new(move || {
        reload.track();
        async move { sandbox.clock().await }
    });
    if let Ok(handle) = set_interval_with_handle(
        move || {
            if document().visibility_state() == web_sys::VisibilityState::Visible {
                reload.update(|n| *n += 1);
            }
        },
        POLL,
    ) {
        on_cleanup(move || handle.clear());
    }
    let view_now = Memo::new(move |_| phone.get().and_then(Result::ok));
    let clock_now = Memo::new(move |_| clock.get().and_then(Result::ok));
    let error = RwSignal::new(None::<String>);
    let refresh = move || reload.update(|n| *n += 1);
    let report = Callback::new(move |result: Result<(), ClientError>| match result {
        Ok(()) => {
            let _ = error.try_set(None);
            let _ = reload.try_update(|n| *n += 1);
        }
        Err(e) => {
            let _ = error.try_set(Some(e.to_string()));
        }
    });

    // With the chat open, WhatsApp sends read receipts: do the same, once per message.
    let read_sent = StoredValue::new(HashSet::<String>::new());
    Effect::new({
        let number = number.clone();
        move |_| {
            let Some(view) = view_now.get() else { return };
            for message in view.messages.iter().filter(|m| {
                m.channel == Channel::Whatsapp
                    && m.direction == Direction::In
                    && matches!(m.status.as_str(), "sent" | "delivered")
            }) {
                let fresh = read_sent
                    .try_update_value(|seen| seen.insert(message.id.clone()))
                    .unwrap_or(false);
                if fresh {
                    let (number, id) = (number.clone(), message.id.clone());
                    spawn_local(async move {
                        // A failed receipt only means the ticks stay grey.
                        let _ = sandbox.mark_read(&number, &id).await;
                    });
                }
            }
        }
    });

    let title_number = number.clone();
    view! {
        <main class="phone-page">
            <div class="phone">
                <header class="phone__head">
                    <span class="avatar avatar--business" aria-hidden="true">"AW"</span>
                    <div class="phone__who">
                        <h1 class="phone__title" tabindex="-1" data-page-title>"Sandbox phone"</h1>
                        <span class="phone__number">
                            {title_number}
                            {move || view_now.get().filter(|v| v.profile_name != v.phone).map(|v| format!(" · {}", v.profile_name))}
                        </span>
                    </div>
                </header>
                <p class="phone__note">"This page plays the contact's phone in the sandbox. Nothing here reaches a real phone."</p>
                {move || match phone.get() {
                    Some(Err(e)) => Some(view! { <p class="error" role="alert">{unavailable_text(&e)}</p> }),
                    _ => None,
                }}
                <p class="error" role="alert">{move || error.get()}</p>
                <WhatsappSwitch number=number.clone() phone=view_now report/>
                <Thread number=number.clone() phone=view_now report/>
                <ReplyBox number=number.clone() on_whatsapp=Signal::derive(move || view_now.get().is_none_or(|v| v.on_whatsapp)) report/>
                <SandboxClock clock=clock_now on_moved=Callback::new(move |_| { announce_clock_moved(); refresh(); }) report/>
            </div>
        </main>
    }
}

fn unavailable_text(error: &ClientError) -> String {
    match error {
        // Without the sandbox the path falls through to the app itself, which is not JSON.
        ClientError::Unexpected(_) | ClientError::Refused { status: 404, .. } => {
            "The sandbox is not running on this service, so there is no phone to show.".to_owned()
        }
        other => other.to_string(),
    }
}

/// "On WhatsApp": off makes sends to this number fail as for a number without WhatsApp.
#[component]
fn WhatsappSwitch(
    number: String,
    phone: Memo<Option<PhoneView>>,
    report: Callback<Result<(), ClientError>>,
) -> impl IntoView {
    let busy = RwSignal::new(false);
    let on = move || phone.get().is_none_or(|p| p.on_whatsapp);
    let toggle = move |_| {
        if busy.get_untracked() {
            return;
        }
        let next = !on();
        busy.set(true);
        let number = number.clone();
        spawn_local(async move {
            let result = Sandbox.set_on_whatsapp(&number, next).await;
            let _ = busy.try_set(false);
            report.run(result);
        });
    };
    view! {
        <div class="switch-row">
            <span class="switch-row__label" id="on-whatsapp-label">"On WhatsApp"</span>
            <button
                type="button"
                class="switch"
                role="switch"
                aria-labelledby="on-whatsapp-label"
                aria-checked=move || if on() { "true" } else { "false" }
                disabled=move || busy.get()
                on:click=toggle
            >
                <span class="switch__thumb" aria-hidden="true"></span>
            </button>
            <span class="switch-row__hint">
                {move || if on() { "Messages arrive on WhatsApp." } else { "WhatsApp sends to this number fail (error 131026)." }}
            </span>
        </div>
    }
}

/// What the phone received and wrote, oldest first.
#[component]
fn Thread(
    number: String,
    phone: Memo<Option<PhoneView>>,
    report: Callback<Result<(), ClientError>>,
) -> impl IntoView {
    let messages = Memo::new(move |_| phone.get().map(|p| p.messages).unwrap_or_default());
    let number = StoredValue::new(number);
    view! {
        <section class="phone__thread" aria-labelledby="phone-thread-title">
            <h2 id="phone-thread-title" class="visually-hidden">"Messages"</h2>
            <Show when=move || messages.with(Vec::is_empty)>
                <p class="muted conversation__empty">"Nothing received yet."</p>
            </Show>
            <ol class="conversation__list" role="list">
                <For each=move || messages.get() key=|m| (m.id.clone(), m.status.clone()) let(message)>
                    <PhoneBubble message number=number.get_value() report/>
                </For>
            </ol>
        </section>
    }
}

#[component]
fn PhoneBubble(
    message: PhoneMessage,
    number: String,
    report: Callback<Result<(), ClientError>>,
) -> impl IntoView {
    // On the phone, "in" is what the contact received: their left-hand side.
    let received = message.direction == Direction::In;
    let sms = message.channel == Channel::Sms;
    let class = format!(
        "bubble {} {}",
        if received {
            "bubble--in"
        } else {
            "bubble--out"
        },
        if sms { "bubble--sms" } else { "" }
    );
    let tapping = RwSignal::new(false);
    let buttons = message.buttons.clone();
    let message_id = message.id.clone();
    let failed = message.status == "failed";
    view! {
        <li class=class>
            <span class="visually-hidden">{if received { "Received: " } else { "You wrote: " }}</span>
            {sms.then(|| view! { <span class="bubble__tags"><span class="bubble__tag bubble__tag--channel">"SMS"</span></span> })}
            <p class="bubble__text">{message.text.clone()}</p>
            <span class="bubble__meta">
                <time datetime=message.at.to_rfc3339()>{clock_time(message.at)}</time>
                {(!received).then(|| match message.status.as_str() {
                    "pending" => view! { <span class="mark mark--pending">"Sending…"</span> }.into_any(),
                    "failed" => view! { <span class="mark mark--failed">"Not delivered"</span> }.into_any(),
                    _ => view! { <span class="mark mark--sent"><span aria-hidden="true">"✓"</span><span class="visually-hidden">"Delivered"</span></span> }.into_any(),
                })}
            </span>
            {(received && failed).then(|| view! {
                <span class="bubble__failure">
                    {format!("Not delivered{}", message.error_code.map(|c| format!(" (error {c})")).unwrap_or_default())}
                </span>
            })}
            {(!buttons.is_empty() && !failed).then(|| view! {
                <div class="quick-replies">
                    {buttons.into_iter().map(|button| {
                        let (number, message_id) = (number.clone(), message_id.clone());
                        let payload = button.payload.clone();
                        view! {
                            <button
                                type="button"
                                class="quick-reply"
                                disabled=move || tapping.get()
                                on:click=move |_| {
                                    tapping.set(true);
                                    let tap = Tap { message_id: message_id.clone(), payload: payload.clone() };
                                    let number = number.clone();
                                    spawn_local(async move {
                                        let result = Sandbox.tap(&number, &tap).await;
                                        let _ = tapping.try_set(false);
                                        report.run(result);
                                    });
                                }
                            >
                                {button.text.clone()}
                            </button>
                        }
                    }).collect_view()}
                </div>
            })}
        </li>
    }
}

/// The contact writes back, on WhatsApp or by SMS.
#[component]
fn ReplyBox(
    number: String,
    #[prop(into)] on_whatsapp: Signal<bool>,
    report: Callback<Result<(), ClientError>>,
) -> impl IntoView {
    let text = RwSignal::new(String::new());
    let channel = RwSignal::new(Channel::Whatsapp);
    let sending = RwSignal::new(false);
    // A number without WhatsApp can only text.
    Effect::new(move |_| {
        if !on_whatsapp.get() {
            channel.set(Channel::Sms);
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let body = text.get_untracked();
        if body.trim().is_empty() || sending.get_untracked() {
            return;
        }
        sending.set(true);
        let number = number.clone();
        let via = channel.get_untracked();
        spawn_local(async move {
            let result = Sandbox.reply(&number, &body, via).await;
            let _ = sending.try_set(false);
            if result.is_ok() {
                let _ = text.try_set(String::new());
            }
            report.run(result);
        });
    };
    view! {
        <form class="reply-box" on:submit=submit aria-label="Reply as the contact">
            <label class="visually-hidden" for="reply-channel">"Reply on"</label>
            <select
                id="reply-channel"
                prop:value=move || channel.get().as_str()
                on:change=move |ev| channel.set(if event_target_value(&ev) == "sms" { Channel::Sms } else { Channel::Whatsapp })
            >
                <option value="whatsapp" disabled=move || !on_whatsapp.get()>"WhatsApp"</option>
                <option value="sms">"SMS"</option>
            </select>
            <label class="visually-hidden" for="reply-text">"Reply"</label>
            <input
                id="reply-text"
                type="text"
                autocomplete="off"
                placeholder="Type a reply"
                prop:value=text
                on:input=move |ev| text.set(event_target_value(&ev))
            />
            <button type="submit" class="button button--primary" disabled=move || sending.get()>"Send reply"</button>
        </form>
    }
}

/// The sandbox's shared clock: move it forward to see the 24-hour rules.
#[component]
fn SandboxClock(
    clock: Memo<Option<ClockView>>,
    on_moved: Callback<()>,
    report: Callback<Result<(), ClientError>>,
) -> impl IntoView {
    let busy = RwSignal::new(false);
    let advance = move |hours: f64| {
        busy.set(true);
        spawn_local(async move {
            let result = Sandbox.advance_clock(hours).await;
            let _ = busy.try_set(false);
            let moved = result.is_ok();
            report.run(result);
            if moved {
                on_moved.run(());
            }
        });
    };
    let shown = move || {
        clock.get().map(|c| {
            // Whole hours and minutes: no float formatting code in the download.
            let minutes = c.offset_seconds / 60;
            let ahead = match (minutes / 60, minutes % 60) {
                (0, 0) => String::new(),
                (h, 0) => format!(" ({h} h ahead)"),
                (0, m) => format!(" ({m} min ahead)"),
                (h, m) => format!(" ({h} h {m} min ahead)"),
            };
            format!("{}{ahead}", stamp(c.now, c.now))
        })
    };
    view! {
        <section class="sandbox-clock" aria-labelledby="sandbox-clock-title">
            <h2 id="sandbox-clock-title" class="sandbox-clock__title">"Sandbox clock"</h2>
            <p class="sandbox-clock__now" role="status">{shown}</p>
            <div class="sandbox-clock__actions">
                <button type="button" class="button" disabled=move || busy.get() on:click=move |_| advance(1.0)>"Advance 1 hour"</button>
                <button type="button" class="button" disabled=move || busy.get() on:click=move |_| advance(24.0)>"Advance 24 hours"</button>
            </div>
        </section>
    }
}
