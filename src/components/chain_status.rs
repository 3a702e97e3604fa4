//! Whether the consent record's hash chain is intact, as last verified by
//! the service: "Record intact · 1,204 events · last checked Today, 09:56 AM",
//! or an alert naming the first broken link.

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use optin_core::compliance::ChainStatus;

use crate::api::ClientError;
use crate::time::stamp;

/// "1,204": thousands grouped, as people read counts.
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// "1 event", "12 events".
pub fn events_count(n: u64) -> String {
    match n {
        1 => "1 event".to_owned(),
        n => format!("{} events", grouped(n)),
    }
}

/// The chain's state with a "Check again" button.
#[component]
pub fn ChainBanner(
    /// The latest check's answer; `None` before the first one arrives.
    #[prop(into)]
    status: Signal<Option<Result<ChainStatus, ClientError>>>,
    /// A check is running.
    #[prop(into)]
    checking: Signal<bool>,
    /// The server's clock, for "Today, 09:56 AM".
    #[prop(into)]
    now: Signal<DateTime<Utc>>,
    /// "Check again" was pressed.
    on_check: Callback<()>,
) -> impl IntoView {
    let class = move || match status.get() {
        Some(Ok(chain)) if chain.intact => "chain chain--intact",
        Some(Ok(_)) => "chain chain--broken",
        Some(Err(_)) | None => "chain",
    };
    let intact = move || {
        status
            .get()
            .and_then(Result::ok)
            .filter(|chain| chain.intact)
            .map(|chain| {
                format!(
                    "Record intact · {} · last checked {}",
                    events_count(chain.events),
                    stamp(chain.checked_at, now.get())
                )
            })
    };
    let broken = move || match status.get() {
        Some(Ok(chain)) if !chain.intact => {
            let at = chain
                .broken_at_seq
                .map(|seq| format!(" at event #{seq}"))
                .unwrap_or_default();
            let reason = chain.reason.map(|r| format!(": {r}")).unwrap_or_default();
            Some(format!(
                "Record broken{at}{reason}. {} before it verified; checked {}.",
                events_count(chain.events),
                stamp(chain.checked_at, now.get())
            ))
        }
        Some(Err(e)) => Some(format!("The record could not be checked: {e}")),
        _ => None,
    };
    view! {
        <section class=class aria-labelledby="chain-title">
            <h3 id="chain-title" class="chain__title">"Consent record"</h3>
            <p class="chain__text" role="status">
                {move || match (checking.get(), status.with(Option::is_none)) {
                    (true, true) => Some("Checking the record…".to_owned()),
                    _ => intact(),
                }}
            </p>
            <p class="chain__alert" role="alert">{broken}</p>
            <button type="button" class="button" disabled=move || checking.get() on:click=move |_| on_check.run(())>
                {move || if checking.get() { "Checking…" } else { "Check again" }}
            </button>
        </section>
    }
}
