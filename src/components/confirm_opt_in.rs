//! "Send <name> an opt-in request?": the confirmation before the first
//! WhatsApp message to a contact, and the request itself. The dialog shows
//! the exact message the contact will receive, in their language, as the
//! service renders it (the app never composes it itself).
//!
//! Exactly one request per confirmation: each opening of the dialog gets its
//! own random `Idempotency-Key`, so a double click, a retry after a network
//! error, or a click that races the button's disabling all reach the service
//! as the same request, which it performs once.

use leptos::prelude::*;
use leptos::task::spawn_local;
use optin_core::api::{ConsentSnapshot, Contact, OptInPreview};

use crate::api::{Api, ClientError};
use crate::components::modal::Modal;
use crate::fetched::Fetched;
use crate::time::local_now;

/// A fresh random key for one confirmation (128 bits, hex). Taken from the
/// browser's crypto source, which needs no secure context.
pub fn new_idempotency_key() -> String {
    let mut bytes = [0u8; 16];
    let filled = web_sys::window()
        .and_then(|w| w.crypto().ok())
        .is_some_and(|c| c.get_random_values_with_u8_array(&mut bytes).is_ok());
    if !filled {
        for b in &mut bytes {
            *b = (js_sys::Math::random() * 256.0) as u8;
        }
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The confirm dialog, open while `target` holds a contact.
#[component]
pub fn ConfirmOptIn(
    /// The contact to ask; `None` closes the dialog.
    target: RwSignal<Option<Contact>>,
    /// Called once the service has queued the request.
    on_sent: Callback<(Contact, ConsentSnapshot)>,
) -> impl IntoView {
    let api = expect_context::<Api>();
    let key = RwSignal::new(String::new());
    let sending = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);

    // A new opening is a new intent: new key, no leftover error.
    Effect::new(move |previous: Option<Option<i64>>| {
        let id = target.with(|t| t.as_ref().map(|c| c.id));
        if id.is_some() && previous.flatten() != id {
            key.set(new_idempotency_key());
            error.set(None);
            sending.set(false);
        }
        id
    });

    let name = move || target.with(|t| t.as_ref().map(|c| c.name.clone()).unwrap_or_default());
    // The request as the service would send it now, fetched for each contact shown.
    let contact_id = Memo::new(move |_| target.with(|t| t.as_ref().map(|c| c.id)));
    let preview = Fetched::new({
        let api = api.clone();
        move || {
            let id = contact_id.get();
            let api = api.clone();
            async move {
                match id {
                    Some(id) => Some(api.opt_in_preview(id).await),
                    None => None,
                }
            }
        }
    });

    let confirm = move |_| {
        let Some(contact) = target.get_untracked() else {
            return;
        };
        if sending.get_untracked() {
            return;
        }
        sending.set(true);
        error.set(None);
        let api = api.clone();
        let mut idempotency_key = key.get_untracked();
        if idempotency_key.is_empty() {
            idempotency_key = new_idempotency_key();
            key.set(idempotency_key.clone());
        }
        spawn_local(async move {
            let result = api.request_opt_in(contact.id, &idempotency_key).await;
            let _ = sending.try_set(false);
            match result {
                Ok(snapshot) => {
                    // Still the same confirmation? (Escape may have closed it meanwhile.)
                    let current = target.try_get_untracked().flatten().map(|c| c.id);
                    if current == Some(contact.id) {
                        let _ = target.try_set(None);
                        on_sent.run((contact, snapshot));
                    }
                }
                Err(e) => {
                    let _ = error.try_set(Some(refusal_text(&e)));
                }
            }
        });
    };

    view! {
        <Modal
            open=Signal::derive(move || target.with(Option::is_some))
            on_close=Callback::new(move |_| target.set(None))
            labelled_by="confirm-opt-in-title"
            described_by="confirm-opt-in-text"
        >
            <h2 id="confirm-opt-in-title" class="modal__title">"Send " {name} " an opt-in request?"</h2>
            <div id="confirm-opt-in-text" class="modal__text">
                {move || match preview.get().flatten() {
                    None => view! { <p class="muted">"Loading the message they will receive…"</p> }.into_any(),
                    Some(Ok(p)) => view! { <RequestPreview preview=p/> }.into_any(),
                    Some(Err(e)) => view! {
                        <p>"They'll get a WhatsApp message asking whether they agree to receive messages from you."</p>
                        <p class="error">{refusal_text(&e)}</p>
                    }.into_any(),
                }}
            </div>
            <p class="modal__status" role="status">
                {move || sending.get().then_some("Sending opt-in request…")}
            </p>
            <p class="error" role="alert">{move || error.get()}</p>
            <div class="modal__actions">
                <button type="button" class="button" on:click=move |_| target.set(None)>"Cancel"</button>
                <button
                    type="button"
                    class="button button--primary"
                    data-autofocus
                    disabled=move || sending.get()
                    on:click=confirm
                >
                    {move || if sending.get() { "Sending…" } else { "Confirm" }}
                </button>
            </div>
        </Modal>
    }
}

/// The message the contact will receive: its language, its text and its
/// buttons, marked with its language so screen readers pronounce it right.
#[component]
fn RequestPreview(
    /// The request as the service renders it.
    preview: OptInPreview,
) -> impl IntoView {
    let lang = preview.language.as_str();
    let yes = preview.buttons.first().cloned().unwrap_or_default();
    view! {
        <p>{format!("They'll get this WhatsApp message, in {}:", preview.language.name())}</p>
        <figure class="request-preview" lang=lang>
            <blockquote class="request-preview__text">{preview.text}</blockquote>
            <figcaption class="request-preview__buttons">
                {preview.buttons.into_iter().map(|b| view! { <span class="request-preview__button">{b}</span> }).collect_view()}
            </figcaption>
        </figure>
        <p>{format!("You can message them once they tap \"{yes}\".")}</p>
    }
}

/// A refusal in plain words, with times against the advisor's clock (the
/// dialog has no fresher server time at hand).
pub fn refusal_text(error: &ClientError) -> String {
    error.explain(local_now())
}
