//! Revocation by any reasonable means, on a contact's screen and on
//! compliance's number screen: the recorded revocation that holds the number
//! opted out, the messages flagged as possible requests to stop (with the
//! two decisions), and the form to record a revocation given by phone,
//! e-mail, in person or otherwise. Everything shown is text, never markup.

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use leptos::task::spawn_local;
use optin_core::api::{
    ConsentSnapshot, NewRevocation, ResolveStopFlag, Revocation, RevocationChannel, StopFlag,
    StopFlagDecision, MAX_REVOCATION_NOTE_CHARS,
};

use crate::api::{Api, Subject};
use crate::labels;
use crate::time::{from_local_input, stamp, to_local_input};

/// The channels a person can pick (messages are flagged, not typed in).
const CHANNELS: [RevocationChannel; 5] = [
    RevocationChannel::Phone,
    RevocationChannel::Email,
    RevocationChannel::InPerson,
    RevocationChannel::Letter,
    RevocationChannel::Other,
];

/// "By phone call, Today, 09:56 AM. Recorded by Jane Smith (Advisor), Today, 10:02 AM."
pub fn revocation_text(revocation: &Revocation, now: DateTime<Utc>) -> String {
    format!(
        "Revoked by {}, {}. Recorded by {} ({}), {}.",
        labels::revocation_channel(revocation.channel),
        stamp(revocation.given_at, now),
        revocation.recorded_by,
        labels::role(revocation.recorded_by_role),
        stamp(revocation.recorded_at, now),
    )
}

/// The recorded revocation that holds the number opted out.
#[component]
pub fn RevocationNotice(
    /// The revocation shown.
    revocation: Revocation,
    /// The server's clock.
    #[prop(into)]
    now: Signal<DateTime<Utc>>,
) -> impl IntoView {
    let note = revocation.note.clone();
    view! {
        <div class="revocation" data-testid="revocation">
            <p class="revocation__text">{move || revocation_text(&revocation, now.get())}</p>
            {(!note.is_empty()).then(|| view! {
                <p class="revocation__note"><span class="visually-hidden">"Note: "</span>{note}</p>
            })}
        </div>
    }
}

/// Messages flagged as possible requests to stop, each with the two decisions.
#[component]
pub fn StopFlags(
    /// Whose number the flags are about.
    subject: Subject,
    /// The open flags.
    #[prop(into)]
    flags: Signal<Vec<StopFlag>>,
    /// The server's clock.
    #[prop(into)]
    now: Signal<DateTime<Utc>>,
    /// The service answered a decision with the new state.
    on_changed: Callback<ConsentSnapshot>,
) -> impl IntoView {
    let subject = StoredValue::new(subject);
    view! {
        <Show when=move || !flags.with(Vec::is_empty)>
            <section class="card flags" aria-labelledby="flags-title" role="region">
                <h3 id="flags-title" class="flags__title">"Possible request to stop"</h3>
                <p class="flags__intro">"The contact wrote something that reads as a request to stop messages. Decide whether it revokes consent: nothing changes until someone does."</p>
                <ul class="flags__list">
                    <For each=move || flags.get() key=|f| f.id let(flag)>
                        <FlagItem flag subject=subject.get_value() now on_changed/>
                    </For>
                </ul>
            </section>
        </Show>
    }
}

#[component]
fn FlagItem(
    flag: StopFlag,
    subject: Subject,
    now: Signal<DateTime<Utc>>,
    on_changed: Callback<ConsentSnapshot>,
) -> impl IntoView {
    let api = StoredValue::new(expect_context::<Api>());
    let subject = StoredValue::new(subject);
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let id = flag.id;
    let decide = move |decision: StopFlagDecision| {
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        error.set(None);
        let (api, subject) = (api.get_value(), subject.get_value());
        spawn_local(async move {
            let answer = api
                .resolve_stop_flag(
                    subject,
                    &ResolveStopFlag {
                        flag_id: id,
                        decision,
                    },
                )
                .await;
            let _ = busy.try_set(false);
            match answer {
                Ok(snapshot) => on_changed.run(snapshot),
                Err(e) => {
                    let _ = error.try_set(Some(e.to_string()));
                }
            }
        });
    };
    let flagged_at = flag.flagged_at;
    view! {
        <li class="flag">
            <p class="flag__meta">
                {format!("{} message, ", labels::channel(flag.channel))}
                <time datetime=flagged_at.to_rfc3339()>{move || stamp(flagged_at, now.get())}</time>
            </p>
            <blockquote class="flag__text">{flag.text}</blockquote>
            <div class="flag__actions">
                <button type="button" class="button button--danger" disabled=move || busy.get()
                    on:click=move |_| decide(StopFlagDecision::Revocation)>"Apply as revocation"</button>
                <button type="button" class="button" disabled=move || busy.get()
                    on:click=move |_| decide(StopFlagDecision::NotARevocation)>"Not a revocation"</button>
            </div>
            <p class="error" role="alert">{move || error.get()}</p>
        </li>
    }
}

/// "Record a revocation": a small form (how, when, a note) behind a button.
#[component]
pub fn RecordRevocation(
    /// Whose number the revocation is about.
    subject: Subject,
    /// The server's clock (the time field starts at now).
    #[prop(into)]
    now: Signal<DateTime<Utc>>,
    /// The service answered with the new state.
    on_recorded: Callback<ConsentSnapshot>,
) -> impl IntoView {
    let api = StoredValue::new(expect_context::<Api>());
    let subject = StoredValue::new(subject);
    let open = RwSignal::new(false);
    let channel = RwSignal::new(RevocationChannel::Phone);
    let when = RwSignal::new(String::new());
    let note = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<(Option<String>, String)>);
    let done = RwSignal::new(false);

    let toggle = move |_| {
        let opening = !open.get_untracked();
        if opening {
            when.set(to_local_input(now.get_untracked()));
            note.set(String::new());
            error.set(None);
            done.set(false);
        }
        open.set(opening);
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        let Some(given_at) = from_local_input(&when.get_untracked()) else {
            error.set(Some((
                Some("given_at".into()),
                "Enter the date and time the contact said it.".into(),
            )));
            return;
        };
        let revocation = NewRevocation {
            channel: channel.get_untracked(),
            given_at,
            note: note.get_untracked(),
        };
        // The service checks the same rules; asking first saves a round trip.
        if let Err((field, message)) = revocation.validate(now.get_untracked()) {
            error.set(Some((Some(field.to_owned()), message.to_owned())));
            return;
        }
        busy.set(true);
        error.set(None);
        let (api, subject) = (api.get_value(), subject.get_value());
        spawn_local(async move {
            let answer = api.record_revocation(subject, &revocation).await;
            let _ = busy.try_set(false);
            match answer {
                Ok(snapshot) => {
                    let _ = open.try_set(false);
                    let _ = done.try_set(true);
                    on_recorded.run(snapshot);
                }
                Err(e) => {
                    let _ = error.try_set(Some((e.field().map(str::to_owned), e.to_string())));
                }
            }
        });
    };
    let field_error = move |field: &'static str| {
        move || {
            error.with(|e| match e {
                Some((Some(f), message)) if f == field => Some(message.clone()),
                _ => None,
            })
        }
    };
    let other_error = move || {
        error.with(|e| match e {
            Some((None, message)) => Some(message.clone()),
            Some((Some(f), message)) if f != "given_at" && f != "note" => Some(message.clone()),
            _ => None,
        })
    };
    view! {
        <section class="card record-revocation" aria-labelledby="record-revocation-title">
            <div class="record-revocation__head">
                <h3 id="record-revocation-title" class="record-revocation__title">"Revocation given by other means"</h3>
                <button type="button" class="button" aria-expanded=move || open.get().to_string()
                    aria-controls="record-revocation-form" on:click=toggle>
                    {move || if open.get() { "Cancel" } else { "Record a revocation" }}
                </button>
            </div>
            <p class="muted record-revocation__intro">"If the contact asked to stop by phone, e-mail, in person or in any other way, record it here. It binds every advisor at once."</p>
            <p class="record-revocation__done" role="status">{move || done.get().then_some("Revocation recorded. Messaging is now off for this contact.")}</p>
            <form id="record-revocation-form" class="record-revocation__form" hidden=move || !open.get() on:submit=submit novalidate>
                <div class="field">
                    <label for="revocation-channel">"How the contact said it"</label>
                    <select id="revocation-channel" on:change=move |ev| {
                        let value = event_target_value(&ev);
                        if let Some(c) = RevocationChannel::parse(&value) {
                            channel.set(c);
                        }
                    }>
                        {CHANNELS.into_iter().map(|c| view! {
                            <option value=c.as_str() selected=move || channel.get() == c>{labels::revocation_channel(c)}</option>
                        }).collect_view()}
                    </select>
                </div>
                <div class="field">
                    <label for="revocation-when">"When"</label>
                    <input id="revocation-when" type="datetime-local" required
                        prop:value=when on:input=move |ev| when.set(event_target_value(&ev))
                        aria-invalid=move || field_error("given_at")().is_some().to_string()
                        aria-describedby="revocation-when-error"/>
                    <p class="error" id="revocation-when-error">{field_error("given_at")}</p>
                </div>
                <div class="field">
                    <label for="revocation-note">"Note"</label>
                    <span class="field__hint" id="revocation-note-hint">{format!("What was said, and any reference (at most {MAX_REVOCATION_NOTE_CHARS} characters).")}</span>
                    <textarea id="revocation-note" rows="3" maxlength=MAX_REVOCATION_NOTE_CHARS.to_string()
                        prop:value=note on:input=move |ev| note.set(event_target_value(&ev))
                        aria-invalid=move || field_error("note")().is_some().to_string()
                        aria-describedby="revocation-note-hint revocation-note-error"></textarea>
                    <p class="error" id="revocation-note-error">{field_error("note")}</p>
                </div>
                <p class="error" role="alert">{other_error}</p>
                <button type="submit" class="button button--danger" disabled=move || busy.get()>
                    {move || if busy.get() { "Recording…" } else { "Record revocation" }}
                </button>
            </form>
        </section>
    }
}
