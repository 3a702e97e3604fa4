//! The consent state of a number as a coloured pill; the words carry the
//! meaning, the colour only helps scanning a long list.

use leptos::prelude::*;
use optin_core::api::ConsentView;

/// The advisor's words for a consent state.
pub fn consent_label(state: ConsentView) -> &'static str {
    match state {
        ConsentView::None => "Not asked",
        ConsentView::Sending => "Sending…",
        ConsentView::Pending => "Pending",
        ConsentView::Expired => "No answer",
        ConsentView::Failed => "Failed",
        ConsentView::NoWhatsapp => "Not on WhatsApp",
        ConsentView::OptedIn => "Opted in",
        ConsentView::OptedOut => "Opted out",
    }
}

/// The CSS modifier of a state's colours (`badge--opted-in`, ...).
pub fn consent_class(state: ConsentView) -> &'static str {
    match state {
        ConsentView::None => "badge--none",
        ConsentView::Sending => "badge--sending",
        ConsentView::Pending => "badge--pending",
        ConsentView::Expired => "badge--expired",
        ConsentView::Failed => "badge--failed",
        ConsentView::NoWhatsapp => "badge--no-whatsapp",
        ConsentView::OptedIn => "badge--opted-in",
        ConsentView::OptedOut => "badge--opted-out",
    }
}

/// A pill such as "Opted in", with "WhatsApp consent:" for screen readers.
#[component]
pub fn ConsentBadge(
    /// The state shown.
    #[prop(into)]
    state: Signal<ConsentView>,
) -> impl IntoView {
    view! {
        <span class=move || format!("badge {}", consent_class(state.get()))>
            <span class="visually-hidden">"WhatsApp consent: "</span>
            {move || consent_label(state.get())}
        </span>
    }
}
