//! A contact's WhatsApp screen: consent banner, conversation, composer.

use leptos::prelude::*;
use optin_core::api::{initials, ConsentView, Contact, ContactUpdate, Language};

use crate::api::{Api, ClientError, Subject};
use crate::components::composer::Composer;
use crate::components::confirm_opt_in::ConfirmOptIn;
use crate::components::consent_banner::{focus_banner, ConsentBanner};
use crate::components::consent_history::ConsentHistory;
use crate::components::conversation::Conversation;
use crate::components::icons::{SmsIcon, WhatsAppIcon};
use crate::components::modal::Modal;
use crate::components::revocation::{RecordRevocation, StopFlags};
use crate::fetched::Fetched;
use crate::pages::contact_data::ContactData;
use crate::pages::SandboxMode;
use crate::route::{use_router, Link, Route};

/// The WhatsApp screen of contact `id`.
#[component]
pub fn ContactPage(id: i64) -> impl IntoView {
    let api = expect_context::<Api>();
    let router = use_router();
    let data = ContactData::load(id);
    let name = data.name();
    let snapshot = data.snapshot();
    let now = data.now;
    let templates = Fetched::new(move || {
        let api = api.clone();
        async move { api.templates().await }
    });
    let templates =
        Signal::derive(move || templates.get().and_then(Result::ok).unwrap_or_default());
    let loaded = Memo::new(move |_| data.consent.with(Option::is_some));
    // The record is fetched again with the contact's consent and messages
    // (once per change, not once per answer).
    let history_revision = Signal::derive(move || data.fetches() as usize);
    let state = Memo::new(move |_| snapshot.with(|s| s.state));

    let confirm = RwSignal::new(None::<Contact>);
    let open_confirm = Callback::new(move |_| {
        if let Some(Ok(contact)) = data.contact.get_untracked() {
            confirm.set(Some(contact));
        }
    });
    // Offer SMS once per visit when the number turns out not to be on WhatsApp.
    let no_whatsapp_dismissed = RwSignal::new(false);

    view! {
        <article class="screen" aria-labelledby="screen-title">
            <ScreenHeader data channel=Channel::WhatsApp/>
            {move || data.contact.get().and_then(Result::err).map(|e| view! { <p class="error" role="alert">{not_found_text(&e)}</p> })}
            {move || data.consent_error.get().filter(|_| matches!(data.contact.get(), Some(Ok(_)))).map(|e| view! { <p class="error" role="alert">{e.to_string()}</p> })}
            <Show when=move || loaded.get() fallback=move || view! {
                // Not after a failed load: the error above says what happened.
                {move || matches!(data.contact.get(), None | Some(Ok(_))).then(|| view! { <p class="muted" role="status">"Loading…"</p> })}
            }>
                <ConsentBanner
                    contact_id=id
                    name=name
                    snapshot=snapshot
                    now=now
                    on_request=open_confirm
                    on_sms=Callback::new(move |_| router.go(Route::Sms(id)))
                    on_changed=Callback::new(move |s| { data.show(s); data.refresh(); })
                />
                <StopFlags
                    subject=Subject::Contact(id)
                    flags=Signal::derive(move || snapshot.with(|s| s.stop_flags.clone()))
                    now=now
                    on_changed=Callback::new(move |s| { data.show(s); data.refresh(); focus_banner(); })
                />
                <section class="card thread" aria-labelledby="thread-title">
                    <h3 id="thread-title" class="thread__title">"WhatsApp conversation"</h3>
                    <Conversation
                        messages=data.messages_on(optin_core::api::Channel::Whatsapp)
                        now=now
                        empty_text="No WhatsApp messages yet."
                        label="WhatsApp messages"
                    />
                    <Composer
                        contact_id=id
                        name=name
                        snapshot=snapshot
                        now=now
                        templates=templates
                        on_sent=Callback::new(move |_| data.refresh())
                    />
                </section>
                <RecordRevocation
                    subject=Subject::Contact(id)
                    now=now
                    on_recorded=Callback::new(move |s| { data.show(s); data.refresh(); focus_banner(); })
                />
                <ConsentHistory contact_id=id revision=history_revision now=now/>
            </Show>
        </article>
        <ConfirmOptIn
            target=confirm
            on_sent=Callback::new(move |(_, s)| { data.show(s); data.refresh(); focus_banner(); })
        />
        <Modal
            open=Signal::derive(move || state.get() == ConsentView::NoWhatsapp && !no_whatsapp_dismissed.get())
            on_close=Callback::new(move |_| no_whatsapp_dismissed.set(true))
            labelled_by="no-whatsapp-title"
            role="alertdialog"
        >
            <h2 id="no-whatsapp-title" class="modal__title">
                {move || format!("{} is not a WhatsApp user. Send an SMS instead?", name.get())}
            </h2>
            <div class="modal__actions">
                <button type="button" class="button" on:click=move |_| router.go(Route::Contacts)>"No"</button>
                <button type="button" class="button button--primary" data-autofocus on:click=move |_| router.go(Route::Sms(id))>"Yes"</button>
            </div>
        </Modal>
    }
}

/// Which of a contact's screens is shown.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Channel {
    WhatsApp,
    Sms,
}

/// A 404 reads better as "not found" than as the service's generic sentence.
pub fn not_found_text(error: &ClientError) -> String {
    match error {
        ClientError::Refused { status: 404, .. } => {
            "This contact was not found. It may have been removed, or belong to another advisor."
                .to_owned()
        }
        other => other.to_string(),
    }
}

/// Back button, who the contact is, and the way to the other channel.
#[component]
pub fn ScreenHeader(data: ContactData, channel: Channel) -> impl IntoView {
    let sandbox = expect_context::<SandboxMode>();
    let contact = move || data.contact.get().and_then(Result::ok);
    let title = move || match (contact(), channel) {
        (Some(c), Channel::WhatsApp) => c.name,
        (Some(c), Channel::Sms) => format!("SMS with {}", c.name),
        (None, _) => "Contact".to_owned(),
    };
    view! {
        <header class="screen-head">
            <Link to=Route::Contacts class="back-link" label="Back to contacts">
                <span aria-hidden="true">"←"</span>
                <span class="back-link__text">"Contacts"</span>
            </Link>
            <span class="avatar" aria-hidden="true">{move || contact().map(|c| initials(&c.name))}</span>
            <div class="screen-head__text">
                <h2 id="screen-title" tabindex="-1" data-page-title>{title}</h2>
                <span class="screen-head__phone">{move || contact().map(|c| c.display_phone)}</span>
                {move || contact().map(|c| view! {
                    <LanguageSelect
                        contact_id=c.id
                        language=c.language
                        on_changed=Callback::new(move |_| data.contact.refetch())
                    />
                })}
            </div>
            <nav class="screen-head__channels" aria-label="Channels">
                {move || contact().map(|c| match channel {
                    Channel::WhatsApp => view! {
                        <Link to=Route::Sms(c.id) class="channel-link" label=format!("SMS with {}", c.name)>
                            <SmsIcon/><span class="channel-link__text">"SMS"</span>
                        </Link>
                    }.into_any(),
                    // No way into WhatsApp when the organization turned it off.
                    Channel::Sms if !crate::pages::WhatsAppEnabled::current() => ().into_any(),
                    Channel::Sms => view! {
                        <Link to=Route::Contact(c.id) class="channel-link channel-link--whatsapp" label=format!("WhatsApp with {}", c.name)>
                            <WhatsAppIcon/><span class="channel-link__text">"WhatsApp"</span>
                        </Link>
                    }.into_any(),
                })}
            </nav>
            {move || (sandbox.0.get()).then(|| contact().map(|c| {
                view! {
                    <a class="sandbox-link" href=Route::Phone(c.phone.clone()).path() target="_blank" rel="noopener">
                        {format!("Open {}'s phone (sandbox)", c.name)}
                        <span class="visually-hidden">" (opens in a new tab)"</span>
                    </a>
                }
            })).flatten()}
        </header>
    }
}

/// The language the contact is written to in (the opt-in request, the
/// confirmation): the service's default comes from the number's country;
/// the advisor changes it here.
#[component]
fn LanguageSelect(
    /// Whose language.
    contact_id: i64,
    /// The language now.
    language: Language,
    /// Called with the contact once the service took the change.
    on_changed: Callback<Contact>,
) -> impl IntoView {
    let api = expect_context::<Api>();
    let error = RwSignal::new(None::<String>);
    let id = format!("contact-language-{contact_id}");
    let change = move |ev: leptos::ev::Event| {
        let Some(language) = Language::parse(&event_target_value(&ev)) else {
            return;
        };
        let api = api.clone();
        error.set(None);
        leptos::task::spawn_local(async move {
            let change = ContactUpdate {
                language: Some(language),
            };
            match api.update_contact(contact_id, &change).await {
                Ok(contact) => on_changed.run(contact),
                Err(e) => {
                    let _ = error.try_set(Some(e.to_string()));
                }
            }
        });
    };
    view! {
        <span class="language-select">
            <label for=id.clone()>"Language"</label>
            <select id=id on:change=change>
                {Language::ALL.iter().map(|l| view! {
                    <option value=l.as_str() selected=*l == language>{l.name()}</option>
                }).collect_view()}
            </select>
            <span class="error" role="alert">{move || error.get()}</span>
        </span>
    }
}
