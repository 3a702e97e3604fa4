//! One contact in the list: initials, name, number, consent badge, channels.

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

/// A row of the contact list.
#[component]
pub fn ContactRow(
    /// The contact shown.
    contact: Contact,
    /// The WhatsApp button was pressed.
    on_whatsapp: Callback<Contact>,
    /// The SMS button was pressed.
    on_sms: Callback<Contact>,
    /// In a virtual list: its place, which may change while the row stays
    /// (told to assistive technology, and placing the row; see `.contact-list`).
    #[prop(optional, into)]
    place: Option<Signal<RowPlace>>,
) -> impl IntoView {
    let state = contact.consent;
    let whatsapp_title = match state {
        ConsentView::None => "Ask for WhatsApp consent",
        ConsentView::OptedIn => "Message on WhatsApp",
        _ => "WhatsApp consent and messages",
    };
    let (for_whatsapp, for_sms) = (contact.clone(), contact.clone());
    let Contact {
        id,
        name,
        display_phone,
        ..
    } = contact;
    let (whatsapp_label, sms_label) = (format!("WhatsApp {name}"), format!("SMS {name}"));
    view! {
        <li
            class="contact"
            data-contact-id=id.to_string()
            aria-posinset=move || place.map(|p| (p.get().index + 1).to_string())
            aria-setsize=move || place.map(|p| p.get().of.to_string())
            style=move || place.map(|p| format!("--row-index: {}", p.get().index))
        >
            <span class="avatar" aria-hidden="true">{initials(&name)}</span>
            <span class="contact__text">
                <Link to=Route::Contact(id) class="contact__name">{name.clone()}</Link>
                <span class="contact__phone">{display_phone}</span>
            </span>
            <ConsentBadge state=state/>
            <span class="contact__actions">
                <Show when=WhatsAppEnabled::current>
                    <button
                        type="button"
                        class="icon-button icon-button--whatsapp"
                        aria-label=whatsapp_label.clone()
                        title=whatsapp_title
                        on:click={
                            let for_whatsapp = for_whatsapp.clone();
                            move |_| on_whatsapp.run(for_whatsapp.clone())
                        }
                    >
                        <WhatsAppIcon/>
                    </button>
                </Show>
                <button
                    type="button"
                    class="icon-button"
                    aria-label=sms_label
                    title="Send an SMS"
                    on:click=move |_| on_sms.run(for_sms.clone())
                >
                    <SmsIcon/>
                </button>
            </span>
        </li>
    }
}
