//! The advisor's contacts: search as you type, list with consent badges, add.

use leptos::prelude::*;
use optin_core::api::{ConsentView, Contact};

use crate::api::Api;
use crate::components::add_contact_form::AddContactForm;
use crate::components::confirm_opt_in::ConfirmOptIn;
use crate::components::contact_row::ContactRow;
use crate::live::Live;
use crate::route::{use_router, Route};

/// Search field, contact list and the add-contact form.
/// Rows drawn at first, and added by each "Show more contacts".
const PAGE_ROWS: u32 = 40;
/// Most rows drawn at once (the service's page limit); beyond, search.
const MAX_ROWS: u32 = optin_core::api::MAX_PAGE_SIZE;

#[component]
pub fn ContactsPage() -> impl IntoView {
    let api = expect_context::<Api>();
    let live = expect_context::<Live>();
    let router = use_router();
    let (query, set_query) = signal(String::new());
    // Bumped after a contact is added so the list is fetched again.
    let (added, set_added) = signal(0u32);
    // Draw a screenful first and more on request: a list of thousands stays
    // quick to paint and to filter (the search narrows it on the server).
    let limit = RwSignal::new(PAGE_ROWS);
    Effect::new(move |_| {
        query.track();
        // A new search starts from one screenful again (without a refetch when it already is).
        if limit.get_untracked() != PAGE_ROWS {
            limit.set(PAGE_ROWS);
        }
    });
    let page = LocalResource::new(move || {
        let api = api.clone();
        let query = query.get();
        let limit = limit.get();
        added.track();
        // Any consent change may change a badge here.
        live.revision();
        async move { api.contacts(&query, 0, limit).await }
    });
    // Rows are keyed, so a live update re-renders only the rows that changed
    // and keyboard focus stays where it was.
    let items = Memo::new(move |_| {
        page.get()
            .and_then(Result::ok)
            .map(|p| p.items)
            .unwrap_or_default()
    });
    let confirm = RwSignal::new(None::<Contact>);
    let on_whatsapp = Callback::new(move |contact: Contact| {
        if contact.consent == ConsentView::None {
            confirm.set(Some(contact));
        } else {
            router.go(Route::Contact(contact.id));
        }
    });
    let on_sms = Callback::new(move |contact: Contact| router.go(Route::Sms(contact.id)));

    let summary = move || {
        let query = query.get();
        match page.get() {
            None => view! { <p class="muted" role="status">"Loading contacts…"</p> }.into_any(),
            Some(Err(error)) => {
                view! { <p class="error" role="alert">{error.to_string()}</p> }.into_any()
            }
            Some(Ok(page)) if page.items.is_empty() && query.trim().is_empty() => {
                view! { <p class="muted">"No contacts yet. Add your first one below."</p> }
                    .into_any()
            }
            Some(Ok(page)) if page.items.is_empty() => {
                view! { <p class="muted">"No contact matches “" {query} "”."</p> }.into_any()
            }
            Some(Ok(page)) => {
                let shown = page.items.len() as u64;
                let can_grow = page.next_offset.is_some() && limit.get_untracked() < MAX_ROWS;
                (page.total > shown)
                    .then(|| view! {
                        <div class="contacts__more">
                            <p class="muted">{format!("Showing {shown} of {} contacts.", page.total)}</p>
                            {if can_grow {
                                view! {
                                    <button type="button" class="button" on:click=move |_| limit.update(|l| *l = (*l + PAGE_ROWS).min(MAX_ROWS))>
                                        "Show more contacts"
                                    </button>
                                }.into_any()
                            } else {
                                view! { <p class="muted">"Search to find the others."</p> }.into_any()
                            }}
                        </div>
                    })
                    .into_any()
            }
        }
    };

    view! {
        <section class="contacts" aria-labelledby="contacts-heading">
            <div class="contacts__head">
                <h2 id="contacts-heading" tabindex="-1" data-page-title>"Contacts"</h2>
                <label class="search">
                    <span class="visually-hidden">"Search contacts"</span>
                    <input
                        type="search"
                        placeholder="Search by name or number"
                        autocomplete="off"
                        prop:value=query
                        on:input=move |ev| set_query.set(event_target_value(&ev))
                    />
                </label>
            </div>
            <Show when=move || !items.with(Vec::is_empty)>
                <ul class="contact-list" aria-label="Contacts">
                    <For
                        each=move || items.get()
                        key=|c| (c.id, c.consent, c.name.clone())
                        let(contact)
                    >
                        <ContactRow contact on_whatsapp on_sms/>
                    </For>
                </ul>
            </Show>
            {summary}
        </section>
        <AddContactForm on_added=Callback::new(move |_| set_added.update(|n| *n += 1))/>
        <ConfirmOptIn
            target=confirm
            on_sent=Callback::new(move |(contact, _): (Contact, _)| router.go(Route::Contact(contact.id)))
        />
    }
}
