//! The conversation with a contact: bubbles with times, day separators, and
//! delivery marks on what the advisor sent (✓ sent, ✓✓ delivered, blue ✓✓
//! read, or why it failed).

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use optin_core::api::{Channel, Direction, MessageStatus, MessageView};

pub use crate::labels::delivery_mark;
use crate::labels::purpose_tag;
use crate::time::{clock_time, day_label};

/// Why a message failed, in words ("Not delivered: Message undeliverable (131026)").
pub fn failure_text(message: &MessageView) -> String {
    let reason = message
        .error_title
        .clone()
        .unwrap_or_else(|| "the provider gave no reason".to_owned());
    match message.error_code {
        Some(code) => format!("Not delivered: {reason} (error {code})"),
        None => format!("Not delivered: {reason}"),
    }
}

/// A message list, oldest first, scrolled to the newest. (The scroll box is a
/// reversed flex column, so the browser itself keeps the newest message in
/// view as messages arrive and as the panel is resized.)
#[component]
pub fn Conversation(
    /// The messages shown (already filtered to a channel when needed).
    #[prop(into)]
    messages: Signal<Vec<MessageView>>,
    /// The server's clock, for "Today" / "Yesterday".
    #[prop(into)]
    now: Signal<DateTime<Utc>>,
    /// Shown when there is nothing yet.
    empty_text: &'static str,
    /// Accessible name of the list.
    label: &'static str,
    /// Who sent the outgoing messages, for screen readers ("You" by default).
    #[prop(optional)]
    outgoing_who: Option<&'static str>,
) -> impl IntoView {
    let outgoing_who = outgoing_who.unwrap_or("You");
    // Keyed rows: an arriving message or a new delivery mark adds or
    // replaces only its own row, so screen readers announce just that.
    let rows = Memo::new(move |_| {
        let now = now.get();
        let mut rows = Vec::new();
        let mut last_day = String::new();
        for message in messages.get() {
            let day = day_label(message.at, now);
            if day != last_day {
                last_day = day.clone();
                rows.push(Row::Day(day));
            }
            rows.push(Row::Message(message));
        }
        rows
    });
    view! {
        <div class="conversation">
            <Show when=move || messages.with(Vec::is_empty)>
                <p class="conversation__empty muted">{empty_text}</p>
            </Show>
            <div class="conversation__scroll" role="log" aria-label=label tabindex="0">
                <ol class="conversation__list">
                    <For each=move || rows.get() key=Row::key let(row)>
                        {match row {
                            Row::Day(day) => view! { <li class="day-separator"><span>{day}</span></li> }.into_any(),
                            Row::Message(message) => view! { <MessageBubble message outgoing_who/> }.into_any(),
                        }}
                    </For>
                </ol>
            </div>
        </div>
    }
}

#[derive(Clone, PartialEq)]
enum Row {
    Day(String),
    Message(MessageView),
}

impl Row {
    fn key(&self) -> String {
        match self {
            Row::Day(day) => format!("day:{day}"),
            Row::Message(m) => format!("m:{}:{}", m.id, m.status),
        }
    }
}

#[component]
fn MessageBubble(message: MessageView, outgoing_who: &'static str) -> impl IntoView {
    let outgoing = message.direction == Direction::Out;
    let class = format!(
        "bubble {} {}",
        if outgoing {
            "bubble--out"
        } else {
            "bubble--in"
        },
        if message.channel == Channel::Sms {
            "bubble--sms"
        } else {
            ""
        }
    );
    let who = if outgoing { outgoing_who } else { "Contact" };
    let tag = purpose_tag(message.purpose);
    let mark = outgoing
        .then(|| delivery_mark(message.status))
        .flatten()
        .map(|(symbol, words, modifier)| {
            view! {
                <span class=format!("mark mark--{modifier}")>
                    <span aria-hidden="true">{symbol}</span>
                    <span class="visually-hidden">{words}</span>
                </span>
            }
        });
    let failure = (outgoing && message.status == MessageStatus::Failed)
        .then(|| view! { <span class="bubble__failure">{failure_text(&message)}</span> });
    view! {
        <li class=class>
            <span class="visually-hidden">{who} ": "</span>
            {tag.map(|t| view! { <span class="bubble__tags"><span class="bubble__tag">{t}</span></span> })}
            <p class="bubble__text">{message.body.clone()}</p>
            <span class="bubble__meta">
                <time datetime=message.at.to_rfc3339()>{clock_time(message.at)}</time>
                {mark}
            </span>
            {failure}
        </li>
    }
}
