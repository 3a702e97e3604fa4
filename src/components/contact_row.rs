//! One contact in the list: initials, name, number, consent badge, channels.

use leptos::prelude::*;
use optin_core::api::{initials, Contact};

use crate::components::icons::{SmsIcon, WhatsAppIcon};

/// A row of the contact list.
#[component]
pub fn ContactRow(
    /// The contact shown.
    contact: Contact,
) -> impl IntoView {
    let Contact { name, phone, .. } = contact;
    view! {
        <li class="contact">
            <span class="avatar" aria-hidden="true">{initials(&name)}</span>
            <span class="contact__text">
                <span class="contact__name">{name.clone()}</span>
                <span class="contact__phone">{phone}</span>
            </span>
            <span class="badge badge--none">"Not asked"</span>
            <span class="contact__actions">
                <button type="button" class="icon-button icon-button--whatsapp" aria-label=format!("WhatsApp {name}") title="WhatsApp" disabled>
                    <WhatsAppIcon/>
                </button>
                <button type="button" class="icon-button" aria-label=format!("SMS {name}") title="SMS" disabled>
                    <SmsIcon/>
                </button>
            </span>
        </li>
    }
}
