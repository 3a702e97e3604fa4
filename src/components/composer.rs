//! The WhatsApp composer: an approved template with its values (and a live
//! preview of what the contact will read), or free text while the contact's
//! 24-hour service window is open. It mirrors the service's rules so the
//! advisor sees *why* something cannot be sent before trying; the service
//! enforces them either way, and its refusals are shown in plain words.

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use leptos::task::spawn_local;
use optin_core::api::{
    render_template, valid_text, ConsentSnapshot, ConsentView, OutgoingMessage, TemplateView,
    MAX_TEXT_CHARS,
};

use crate::api::Api;

/// What the composer allows, and why not more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ComposerMode {
    /// Nothing to compose yet (never asked, or the request failed).
    Hidden,
    /// Shown but disabled, with the reason next to it.
    Disabled(String),
    /// Opted in, but outside the service window: templates only, with the reason.
    TemplatesOnly(String),
    /// Templates and free text.
    Open,
}

/// The composer's mode for `name` in `snapshot`, at the server's time `now`.
pub fn composer_mode(name: &str, snapshot: &ConsentSnapshot, now: DateTime<Utc>) -> ComposerMode {
    match snapshot.state {
        ConsentView::None | ConsentView::Failed => ComposerMode::Hidden,
        ConsentView::OptedOut => ComposerMode::Disabled(format!(
            "{name} opted out. They can opt in again at any time by replying \"yes\"."
        )),
        ConsentView::NoWhatsapp => ComposerMode::Disabled(format!(
            "{name} is not on WhatsApp, so nothing can be sent there."
        )),
        ConsentView::Sending | ConsentView::Pending | ConsentView::Expired => {
            ComposerMode::Disabled(format!(
                "You can message {name} on WhatsApp once they opt in."
            ))
        }
        ConsentView::OptedIn => {
            if snapshot.free_text_open(now) {
                ComposerMode::Open
            } else {
                ComposerMode::TemplatesOnly(format!(
                    "{name} hasn't written in the last 24 hours, so only approved templates can be sent."
                ))
            }
        }
    }
}

/// "meeting_reminder" -> "Meeting reminder".
pub fn template_title(name: &str) -> String {
    let words = name.replace(['_', '-'], " ");
    let mut chars = words.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The template body with the values typed so far; blanks keep their `{{n}}`.
pub fn preview(template: &TemplateView, values: &[String]) -> String {
    let filled: Vec<String> = (0..template.parameters)
        .map(|i| match values.get(i).map(|v| v.trim()) {
            Some(v) if !v.is_empty() => v.to_owned(),
            _ => format!("{{{{{}}}}}", i + 1),
        })
        .collect();
    render_template(&template.body, &filled)
}

/// The composer of the contact screen.
#[component]
pub fn Composer(
    /// The contact's id.
    contact_id: i64,
    /// The contact's name, for the reasons shown.
    #[prop(into)]
    name: Signal<String>,
    /// Where consent stands.
    #[prop(into)]
    snapshot: Signal<ConsentSnapshot>,
    /// The server's time now.
    #[prop(into)]
    now: Signal<DateTime<Utc>>,
    /// The organization's approved templates.
    #[prop(into)]
    templates: Signal<Vec<TemplateView>>,
    /// Called after the service accepted a message.
    on_sent: Callback<()>,
) -> impl IntoView {
    // Stored so the handlers below are `Copy` and can live in re-rendered views.
    let api = StoredValue::new(expect_context::<Api>());
    let mode = Memo::new(move |_| snapshot.with(|s| composer_mode(&name.get(), s, now.get())));
    // `None`: free text; `Some(i)`: the i-th template.
    let choice = RwSignal::new(None::<usize>);
    let values = RwSignal::new(Vec::<String>::new());
    let text = RwSignal::new(String::new());
    let sending = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let notice = RwSignal::new(None::<&'static str>);

    let free_text_allowed = move || mode.with(|m| *m == ComposerMode::Open);
    let disabled = move || mode.with(|m| matches!(m, ComposerMode::Disabled(_))) || sending.get();
    let templates_only = move || mode.with(|m| matches!(m, ComposerMode::TemplatesOnly(_)));
    // Outside the window free text is not an option: start on a template.
    Effect::new(move |_| {
        if templates_only() && choice.get().is_none() && templates.with(|t| !t.is_empty()) {
            choice.set(Some(0));
        }
    });
    // While disabled, a plain (disabled) text field says enough; template
    // values would only take room in a narrow CRM panel.
    let template = move || {
        if mode.with(|m| matches!(m, ComposerMode::Disabled(_))) {
            return None;
        }
        choice
            .get()
            .and_then(|i| templates.with(|t| t.get(i).cloned()))
    };
    let reason = move || match mode.get() {
        ComposerMode::Disabled(reason) | ComposerMode::TemplatesOnly(reason) => Some(reason),
        _ => None,
    };

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if sending.get_untracked() || disabled() {
            return;
        }
        let message = match template() {
            Some(t) => {
                let params: Vec<String> = (0..t.parameters)
                    .map(|i| {
                        values.with_untracked(|v| {
                            v.get(i).map(|s| s.trim().to_owned()).unwrap_or_default()
                        })
                    })
                    .collect();
                if params.iter().any(String::is_empty) {
                    error.set(Some(format!(
                        "Fill in all {} values of the template.",
                        t.parameters
                    )));
                    return;
                }
                OutgoingMessage::Template {
                    name: t.name,
                    language: t.language,
                    parameters: params,
                }
            }
            None => {
                let typed = text.get_untracked();
                let Some(body) = valid_text(&typed, MAX_TEXT_CHARS) else {
                    error.set(Some("Write a message first.".to_owned()));
                    return;
                };
                OutgoingMessage::Text {
                    body: body.to_owned(),
                }
            }
        };
        error.set(None);
        notice.set(None);
        sending.set(true);
        let api = api.get_value();
        spawn_local(async move {
            let result = api.send_message(contact_id, &message).await;
            let _ = sending.try_set(false);
            match result {
                Ok(_) => {
                    let _ = text.try_set(String::new());
                    let _ = values.try_set(Vec::new());
                    let _ = notice.try_set(Some("Message sent."));
                    on_sent.run(());
                }
                Err(e) => {
                    let now = now.try_get_untracked().unwrap_or_default();
                    let _ = error.try_set(Some(e.explain(now)));
                }
            }
        });
    };

    let on_keydown = move |ev: leptos::ev::KeyboardEvent| {
        // Ctrl/Cmd+Enter sends; Enter alone is a new line, as in most messengers on desktop.
        if ev.key() == "Enter" && (ev.ctrl_key() || ev.meta_key()) {
            ev.prevent_default();
            if let Some(form) = event_target::<web_sys::HtmlElement>(&ev)
                .closest("form")
                .ok()
                .flatten()
            {
                let _ = wasm_bindgen::JsCast::unchecked_into::<web_sys::HtmlFormElement>(form)
                    .request_submit();
            }
        }
    };

    let parameter_inputs = move || {
        template().map(|t| {
            (0..t.parameters)
                .map(|i| {
                    let id = format!("template-value-{}", i + 1);
                    view! {
                        <div class="field">
                            <label for=id.clone()>{format!("Value {{{{{}}}}}", i + 1)}</label>
                            <input
                                id=id
                                type="text"
                                autocomplete="off"
                                prop:value=move || values.with(|v| v.get(i).cloned().unwrap_or_default())
                                on:input=move |ev| {
                                    let value = event_target_value(&ev);
                                    values.update(|v| {
                                        if v.len() <= i {
                                            v.resize(i + 1, String::new());
                                        }
                                        v[i] = value;
                                    });
                                }
                            />
                        </div>
                    }
                })
                .collect_view()
        })
    };

    view! {
        <Show when=move || mode.with(|m| *m != ComposerMode::Hidden)>
            <form class="composer" aria-labelledby="composer-heading" on:submit=submit novalidate>
                <h3 id="composer-heading" class="visually-hidden">"Send a WhatsApp message"</h3>
                <fieldset
                    class="composer__fields"
                    disabled=disabled
                    aria-describedby=move || reason().map(|_| "composer-reason")
                >
                    <div class="field composer__kind">
                        <label for="composer-kind">"Message type"</label>
                        <select
                            id="composer-kind"
                            prop:value=move || choice.get().map(|i| i.to_string()).unwrap_or_default()
                            on:change=move |ev| {
                                error.set(None);
                                values.set(Vec::new());
                                choice.set(event_target_value(&ev).parse().ok());
                            }
                        >
                            <option value="" disabled=move || !free_text_allowed()>"Free text"</option>
                            {move || templates.get().into_iter().enumerate().map(|(i, t)| view! {
                                <option value=i.to_string()>{format!("Template: {}", template_title(&t.name))}</option>
                            }).collect_view()}
                        </select>
                    </div>
                    {move || match template() {
                        Some(t) => view! {
                            <div class="composer__template">
                                {parameter_inputs}
                                <div class="composer__preview">
                                    <span class="composer__preview-label" id="template-preview-label">"Preview"</span>
                                    <p aria-labelledby="template-preview-label">{move || preview(&t, &values.get())}</p>
                                </div>
                            </div>
                        }.into_any(),
                        None => view! {
                            <div class="field">
                                <label for="composer-text" class="visually-hidden">"Message"</label>
                                <textarea
                                    id="composer-text"
                                    rows="3"
                                    maxlength=MAX_TEXT_CHARS.to_string()
                                    placeholder="Write a message"
                                    prop:value=text
                                    on:input=move |ev| text.set(event_target_value(&ev))
                                    on:keydown=on_keydown
                                ></textarea>
                            </div>
                        }.into_any(),
                    }}
                </fieldset>
                <p class="composer__reason" id="composer-reason">{reason}</p>
                <p class="error" role="alert">{move || error.get()}</p>
                <div class="composer__actions">
                    <span class="success" role="status">{move || notice.get()}</span>
                    <button type="submit" class="button button--primary" disabled=disabled>
                        {move || if sending.get() { "Sending…" } else { "Send" }}
                    </button>
                </div>
            </form>
        </Show>
    }
}
