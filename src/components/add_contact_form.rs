//! Form to add a contact; refusals are shown next to the field they concern.

use leptos::prelude::*;
use leptos::task::spawn_local;
use optin_core::api::{validate_name, Contact, NewContact};

use crate::api::{Api, ClientError};

/// What the form currently says about its fields.
#[derive(Clone, Default, PartialEq, Eq, Debug)]
pub struct FormErrors {
    pub name: Option<String>,
    pub phone: Option<String>,
    pub form: Option<String>,
}

impl FormErrors {
    /// Places a service error next to its field, or above the form.
    pub fn from_client_error(error: &ClientError) -> Self {
        let message = Some(error.to_string());
        match error.field() {
            Some("name") => Self {
                name: message,
                ..Self::default()
            },
            Some("phone") => Self {
                phone: message,
                ..Self::default()
            },
            _ => Self {
                form: message,
                ..Self::default()
            },
        }
    }
}

/// "Add a contact": name and phone number.
#[component]
pub fn AddContactForm(
    /// Called with the stored contact after a successful add.
    on_added: Callback<Contact>,
) -> impl IntoView {
    let api = expect_context::<Api>();
    let name = RwSignal::new(String::new());
    let phone = RwSignal::new(String::new());
    let errors = RwSignal::new(FormErrors::default());
    let saving = RwSignal::new(false);
    let confirmation = RwSignal::new(None::<String>);

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if saving.get_untracked() {
            return;
        }
        confirmation.set(None);
        let new = NewContact {
            name: name.get_untracked(),
            phone: phone.get_untracked(),
            // Follows the number's country; changed on the contact's screen.
            language: None,
        };
        if let Err(message) = validate_name(&new.name) {
            errors.set(FormErrors {
                name: Some(message.to_owned()),
                ..FormErrors::default()
            });
            return;
        }
        errors.set(FormErrors::default());
        saving.set(true);
        let api = api.clone();
        spawn_local(async move {
            let result = api.add_contact(&new).await;
            // The form may be gone by now: only touch signals that still exist.
            let _ = saving.try_set(false);
            match result {
                Ok(contact) => {
                    let _ = confirmation.try_set(Some(format!(
                        "Added {} ({}).",
                        contact.name, contact.display_phone
                    )));
                    let _ = name.try_set(String::new());
                    let _ = phone.try_set(String::new());
                    on_added.run(contact);
                }
                Err(error) => {
                    let _ = errors.try_set(FormErrors::from_client_error(&error));
                }
            }
        });
    };

    view! {
        <section class="card add-contact" aria-labelledby="add-contact-heading">
            <h2 id="add-contact-heading">"Add a contact"</h2>
            <form on:submit=submit novalidate>
                <Field label="Name" id="contact-name" value=name error=Signal::derive(move || errors.with(|e| e.name.clone())) autocomplete="name" input_type="text"/>
                <Field label="Phone number" id="contact-phone" value=phone error=Signal::derive(move || errors.with(|e| e.phone.clone())) autocomplete="tel" input_type="tel" hint="International format, e.g. +44 7911 123456"/>
                <p class="error" role="alert">{move || errors.with(|e| e.form.clone())}</p>
                <div class="form-actions">
                    <button type="submit" class="button button--primary" disabled=move || saving.get()>
                        {move || if saving.get() { "Adding…" } else { "Add contact" }}
                    </button>
                    <span class="success" role="status">{move || confirmation.get()}</span>
                </div>
            </form>
        </section>
    }
}

/// A labelled input with an optional hint and an error tied to it for screen readers.
#[component]
fn Field(
    label: &'static str,
    id: &'static str,
    value: RwSignal<String>,
    error: Signal<Option<String>>,
    autocomplete: &'static str,
    input_type: &'static str,
    #[prop(optional)] hint: Option<&'static str>,
) -> impl IntoView {
    let error_id = format!("{id}-error");
    let hint_id = format!("{id}-hint");
    let described_by = {
        let error_id = error_id.clone();
        let hint_id = hint_id.clone();
        move || {
            let mut ids = Vec::new();
            if hint.is_some() {
                ids.push(hint_id.clone());
            }
            if error.with(Option::is_some) {
                ids.push(error_id.clone());
            }
            ids.join(" ")
        }
    };
    view! {
        <div class="field">
            <label for=id>{label}</label>
            {hint.map(|hint| view! { <span class="field__hint" id=hint_id.clone()>{hint}</span> })}
            <input
                id=id
                type=input_type
                autocomplete=autocomplete
                aria-invalid=move || if error.with(Option::is_some) { "true" } else { "false" }
                aria-describedby=described_by
                prop:value=value
                on:input=move |ev| value.set(event_target_value(&ev))
            />
            <span class="field__error" id=error_id>{move || error.get()}</span>
        </div>
    }
}
