//! The advisor's contacts: search as you type, list, add.

use leptos::prelude::*;
use optin_core::api::ContactPage;

use crate::api::{Api, ClientError};
use crate::components::add_contact_form::AddContactForm;
use crate::components::contact_row::ContactRow;

/// Search field, contact list and the add-contact form.
#[component]
pub fn ContactsPage() -> impl IntoView {
    let api = expect_context::<Api>();
    let (query, set_query) = signal(String::new());
    // Bumped after a contact is added so the list is fetched again.
    let (added, set_added) = signal(0u32);
    let page = LocalResource::new(move || {
        let api = api.clone();
        let query = query.get();
        added.track();
        async move { api.contacts(&query, 0).await }
    });
    view! {
        <section class="contacts" aria-labelledby="contacts-heading">
            <div class="contacts__head">
                <h2 id="contacts-heading">"Contacts"</h2>
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
            <Transition fallback=|| view! { <p class="muted" role="status">"Loading contacts…"</p> }>
                {move || Suspend::new(async move { render_page(page.await, &query.get_untracked()) })}
            </Transition>
        </section>
        <AddContactForm on_added=Callback::new(move |_| set_added.update(|n| *n += 1))/>
    }
}

fn render_page(page: Result<ContactPage, ClientError>, query: &str) -> AnyView {
    match page {
        Err(error) => view! { <p class="error" role="alert">{error.to_string()}</p> }.into_any(),
        Ok(page) if page.items.is_empty() && query.trim().is_empty() => {
            view! { <p class="muted">"No contacts yet. Add your first one below."</p> }.into_any()
        }
        Ok(page) if page.items.is_empty() => {
            view! { <p class="muted">"No contact matches “" {query.to_owned()} "”."</p> }.into_any()
        }
        Ok(page) => {
            let shown = page.items.len() as u64;
            let more = (page.total > shown)
                .then(|| view! { <p class="muted">{format!("Showing {shown} of {} contacts. Search to narrow down.", page.total)}</p> });
            view! {
                <ul class="contact-list" aria-label="Contacts">
                    {page.items.into_iter().map(|contact| view! { <ContactRow contact/> }).collect_view()}
                </ul>
                {more}
            }
            .into_any()
        }
    }
}
