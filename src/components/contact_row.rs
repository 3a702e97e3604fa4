//! One contact in the list: initials, name, number, consent badge, channels.

use std::sync::Arc;

use leptos::prelude::*;
use optin_core::api::{initials, ConsentView, Contact};

use crate::components::consent_badge::ConsentBadge;
use crate::components::icons::{SmsIcon, WhatsAppIcon};
use crate::pages::WhatsAppEnabled;
use crate::route::{Link, Route};

/// Where a row stands in a list of which only some rows are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RowPlace {
    /// Position in the whole list, from 0.
    pub index: u64,
    /// Rows in the whole list.
    pub of: u64,
}

/// A row of the contact list. In the virtual list a row is a slot whose
/// contact changes (a keystroke, a scroll): every part reads `contact`, so
/// the row's elements stay and only what differs is written.
#[component]
pub fn ContactRow(
    /// The contact shown.
    #[prop(into)]
    contact: Signal<Arc<Contact>>,
    /// The WhatsApp button was pressed.
    on_whatsapp: Callback<Contact>,
    /// The SMS button was pressed.
    on_sms: Callback<Contact>,
    /// In a virtual list: its place, which may change while the row stays
    /// (told to assistive technology, and placing the row; see `.contact-list`).
    #[prop(optional, into)]
    place: Option<Signal<RowPlace>>,
) -> impl IntoView {
    let name = move || contact.with(|c| c.name.clone());
    let whatsapp_title = move || match contact.with(|c| c.consent) {
        ConsentView::None => "Ask for WhatsApp consent",
        ConsentView::OptedIn => "Message on WhatsApp",
        _ => "WhatsApp consent and messages",
    };
    let current = move || Contact::clone(&contact.get_untracked());
    view! {
        <li
            class="contact"
            data-contact-id=move || contact.with(|c| c.id.to_string())
            aria-posinset=move || place.map(|p| (p.get().index + 1).to_string())
            aria-setsize=move || place.map(|p| p.get().of.to_string())
            style=move || place.map(|p| format!("top: calc({} * var(--row-height))", p.get().index))
        >
            <span class="avatar" aria-hidden="true">{move || contact.with(|c| initials(&c.name))}</span>
            <span class="contact__text">
                <Link to=Signal::derive(move || Route::Contact(contact.with(|c| c.id))) class="contact__name">{name}</Link>
                <span class="contact__phone">{move || contact.with(|c| c.display_phone.clone())}</span>
            </span>
            <ConsentBadge state=Signal::derive(move || contact.with(|c| c.consent))/>
            <span class="contact__actions">
                <Show when=WhatsAppEnabled::current>
                    <button
                        type="button"
                        class="icon-button icon-button--whatsapp"
                        aria-label=move || format!("WhatsApp {}", name())
                        title=whatsapp_title
                        on:click=move |_| on_whatsapp.run(current())
                    >
                        <WhatsAppIcon/>
                    </button>
                </Show>
                <button
                    type="button"
                    class="icon-button"
                    aria-label=move || format!("SMS {}", name())
                    title="Send an SMS"
                    on:click=move |_| on_sms.run(current())
                >
                    <SmsIcon/>
                </button>
            </span>
        </li>
    }
}
