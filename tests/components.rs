//! Component tests, run in headless Chromium by wasm-bindgen-test.
#![cfg(target_arch = "wasm32")]

use chrono::{DateTime, Duration, Utc};
use leptos::prelude::*;
use optin_app::api::{attachment_name, NumberFilter};
use optin_app::api::{Api, ClientError};
use optin_app::components::add_contact_form::{AddContactForm, FormErrors};
use optin_app::components::chain_status::{events_count, grouped, ChainBanner};
use optin_app::components::composer::{composer_mode, preview, Composer, ComposerMode};
use optin_app::components::confirm_opt_in::ConfirmOptIn;
use optin_app::components::consent_badge::ConsentBadge;
use optin_app::components::consent_banner::{ConsentBanner, NO_ANSWER_TEXT};
use optin_app::components::contact_list::{recycle_slots, Drawn, Kept};
use optin_app::components::contact_row::ContactRow;
use optin_app::components::conversation::{delivery_mark, Conversation};
use optin_app::components::legal_hold::{retention_text, LegalHoldCard};
use optin_app::components::session_notice::SessionNotice;
use optin_app::contact_rows::PAGE_ROWS;
use optin_app::live::Live;
use optin_app::live::SseParser;
use optin_app::pages::compliance::{AccessLog, CompliancePage};
use optin_app::pages::compliance_number::ComplianceNumberPage;
use optin_app::pages::contacts::{ContactsPage, KeptContacts};
use optin_app::pages::sms::sms_parts;
use optin_app::route::{Route, Router};
use optin_app::session::{choose, token_from_fragment, Session};
use optin_app::time::{day_label, local_day_start, precise_stamp, stamp, until};
use optin_core::api::{
    AccessKind, Cause, Channel, ConsentSnapshot, ConsentState, ConsentView, Contact, Direction,
    EvidenceKind, Language, MessageStatus, MessageView, Mode, OptInPreview, Purpose, Role,
    TemplateView,
};
use optin_core::compliance::{
    AccessEntry, AccessLogPage, AdvisorSummary, ChainStatus, LegalHold, NumberHolder, NumberPage,
    NumberSummary, NumberTimeline, RawEvidence, Retention, TimelineEvent,
};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;
use web_sys::{
    Event, EventInit, HtmlButtonElement, HtmlDialogElement, HtmlElement, HtmlInputElement,
    HtmlSelectElement,
};

wasm_bindgen_test_configure!(run_in_browser);

/// Mounts a view into a fresh element of the page and returns that element.
fn mount<V: IntoView + 'static>(view: impl FnOnce() -> V + 'static) -> HtmlElement {
    let document = web_sys::window().unwrap().document().unwrap();
    let host: HtmlElement = document.create_element("div").unwrap().unchecked_into();
    document.body().unwrap().append_child(&host).unwrap();
    leptos::mount::mount_to(host.clone(), view).forget();
    host
}

fn find<T: JsCast>(host: &HtmlElement, selector: &str) -> T {
    host.query_selector(selector)
        .unwrap()
        .unwrap_or_else(|| panic!("nothing matches {selector}"))
        .unchecked_into()
}

/// A contact row whose buttons do nothing, inside a router that stays put.
fn row(contact: Contact) -> impl IntoView {
    provide_context(Router::detached(Route::Contacts));
    let contact = std::sync::Arc::new(contact);
    view! { <ContactRow contact on_whatsapp=Callback::new(|_| ()) on_sms=Callback::new(|_| ())/> }
}

fn text(host: &HtmlElement, selector: &str) -> String {
    find::<HtmlElement>(host, selector)
        .text_content()
        .unwrap_or_default()
}

fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339).unwrap().to_utc()
}

/// The instant the browser's clock reads `hour:minute` on `year-month-day`
/// in the machine's own time zone (whatever `TZ` is), so that what the
/// advisor reads is the same in every zone.
fn local(year: u32, month: i32, day: i32, hour: i32, minute: i32) -> DateTime<Utc> {
    let date =
        js_sys::Date::new_with_year_month_day_hr_min_sec(year, month - 1, day, hour, minute, 0);
    DateTime::from_timestamp_millis(date.get_time() as i64).unwrap()
}

/// Local noon on a day far from any daylight-saving change, in every zone.
fn noon() -> DateTime<Utc> {
    local(2026, 6, 10, 12, 0)
}

/// Sends a `keydown` of `key` (with Shift when `shift`) to `target`, as a keyboard would.
fn press(target: &web_sys::Element, key: &str, shift: bool) {
    let init = js_sys::Object::new();
    for (name, value) in [
        ("key", JsValue::from_str(key)),
        ("shiftKey", JsValue::from_bool(shift)),
        ("bubbles", JsValue::TRUE),
        ("cancelable", JsValue::TRUE),
    ] {
        js_sys::Reflect::set(&init, &name.into(), &value).unwrap();
    }
    let window = web_sys::window().unwrap();
    let constructor: js_sys::Function = js_sys::Reflect::get(&window, &"KeyboardEvent".into())
        .unwrap()
        .unchecked_into();
    let event: Event =
        js_sys::Reflect::construct(&constructor, &js_sys::Array::of2(&"keydown".into(), &init))
            .unwrap()
            .unchecked_into();
    target.dispatch_event(&event).unwrap();
}

/// A consent answer in `state` at server time `now`, nothing else set.
fn snapshot(state: ConsentView, now: DateTime<Utc>) -> ConsentSnapshot {
    ConsentSnapshot::bare("+447911123456", state, now)
}

fn type_into(input: &HtmlInputElement, text: &str) {
    input.set_value(text);
    let init = EventInit::new();
    init.set_bubbles(true);
    input
        .dispatch_event(&Event::new_with_event_init_dict("input", &init).unwrap())
        .unwrap();
}

#[wasm_bindgen_test]
async fn contact_row_shows_initials_name_number_badge_and_named_channel_buttons() {
    let contact = Contact {
        id: 7,
        name: "Kerry Ann Fisher".into(),
        phone: "+447911123456".into(),
        display_phone: "+44 7911 123456".into(),
        language: Language::En,
        consent: ConsentView::None,
    };
    let host = mount(move || row(contact));
    leptos::task::tick().await;
    assert_eq!(
        find::<HtmlElement>(&host, ".avatar")
            .text_content()
            .unwrap(),
        "KF"
    );
    assert_eq!(
        find::<HtmlElement>(&host, ".contact__name")
            .text_content()
            .unwrap(),
        "Kerry Ann Fisher"
    );
    assert_eq!(
        find::<HtmlElement>(&host, ".contact__phone")
            .text_content()
            .unwrap(),
        "+44 7911 123456",
        "the service's international format, never bare E.164"
    );
    assert_eq!(
        find::<HtmlElement>(&host, ".badge").text_content().unwrap(),
        "WhatsApp consent: Not asked"
    );
    let whatsapp: HtmlButtonElement = find(&host, "button[aria-label='WhatsApp Kerry Ann Fisher']");
    assert!(whatsapp.query_selector("svg").unwrap().is_some());
    assert!(!whatsapp.disabled(), "the WhatsApp button works");
    let sms: HtmlButtonElement = find(&host, "button[aria-label='SMS Kerry Ann Fisher']");
    assert!(!sms.disabled(), "the SMS button works");
    assert_eq!(
        find::<HtmlElement>(&host, "a.contact__name")
            .get_attribute("href")
            .as_deref(),
        Some("/contacts/7")
    );
}

#[wasm_bindgen_test]
async fn contact_names_are_shown_as_text_never_as_markup() {
    let contact = Contact {
        id: 1,
        name: "<img src=x onerror=alert(1)>".into(),
        phone: "+1".into(),
        display_phone: "+1".into(),
        language: Language::En,
        consent: ConsentView::None,
    };
    let host = mount(move || row(contact));
    leptos::task::tick().await;
    assert!(host.query_selector("img").unwrap().is_none());
    assert_eq!(
        find::<HtmlElement>(&host, ".contact__name")
            .text_content()
            .unwrap(),
        "<img src=x onerror=alert(1)>"
    );
}

#[wasm_bindgen_test]
async fn add_form_refuses_a_blank_name_next_to_the_name_field() {
    let host = mount(|| {
        provide_context(Api::new("unused".into()));
        view! { <AddContactForm on_added=Callback::new(|_| panic!("nothing may be added"))/> }
    });
    leptos::task::tick().await;
    type_into(&find(&host, "#contact-name"), "   ");
    type_into(&find(&host, "#contact-phone"), "+44 7911 123456");
    find::<HtmlElement>(&host, "button[type=submit]").click();
    leptos::task::tick().await;
    let name: HtmlInputElement = find(&host, "#contact-name");
    assert_eq!(name.get_attribute("aria-invalid").as_deref(), Some("true"));
    assert_eq!(
        name.get_attribute("aria-describedby").as_deref(),
        Some("contact-name-error")
    );
    assert_eq!(
        find::<HtmlElement>(&host, "#contact-name-error")
            .text_content()
            .unwrap(),
        "Enter a name."
    );
    let phone: HtmlInputElement = find(&host, "#contact-phone");
    assert_eq!(
        phone.get_attribute("aria-invalid").as_deref(),
        Some("false")
    );
}

#[wasm_bindgen_test]
fn service_errors_are_placed_next_to_their_field() {
    let refused = |field: Option<&str>| ClientError::Refused {
        status: 422,
        code: "invalid_phone".into(),
        message: "That is not a phone number.".into(),
        field: field.map(str::to_owned),
        allowed_at: None,
    };
    let on_phone = FormErrors::from_client_error(&refused(Some("phone")));
    assert_eq!(
        on_phone.phone.as_deref(),
        Some("That is not a phone number.")
    );
    assert!(on_phone.name.is_none() && on_phone.form.is_none());
    let on_form = FormErrors::from_client_error(&ClientError::Offline);
    assert!(on_form.form.unwrap().contains("Can't reach the service"));
}

#[wasm_bindgen_test]
fn a_link_token_does_not_replace_a_session_already_signed_in() {
    let session = |token: &str, unused: Option<&str>| {
        Some(Session {
            token: token.to_owned(),
            unused_link: unused.map(str::to_owned),
        })
    };
    let s = |t: &str| Some(t.to_owned());
    assert_eq!(
        choose(s("new"), None),
        session("new", None),
        "first sign-in"
    );
    assert_eq!(choose(s("same"), s("same")), session("same", None));
    assert_eq!(choose(None, s("kept")), session("kept", None), "a reload");
    assert_eq!(
        choose(s("other"), s("kept")),
        session("kept", Some("other")),
        "a different link is set aside, not used"
    );
    assert_eq!(choose(None, None), None);
}

#[wasm_bindgen_test]
async fn the_session_notice_keeps_the_session_or_switches_on_request() {
    let switched = RwSignal::new(None::<String>);
    let on_switch = Callback::new(move |token: String| switched.set(Some(token)));
    let host = mount(move || view! { <SessionNotice link="other".to_owned() on_switch/> });
    let notice = host.query_selector("[role=status]").unwrap().unwrap();
    assert!(notice
        .text_content()
        .unwrap()
        .contains("still using your current session"));
    let buttons = host.query_selector_all("button").unwrap();
    assert_eq!(buttons.length(), 2);
    buttons
        .item(1)
        .unwrap()
        .unchecked_into::<HtmlButtonElement>()
        .click();
    assert_eq!(switched.get_untracked().as_deref(), Some("other"));
    buttons
        .item(0)
        .unwrap()
        .unchecked_into::<HtmlButtonElement>()
        .click();
    leptos::task::tick().await;
    assert!(
        host.query_selector("[role=status]").unwrap().is_none(),
        "kept: the notice goes"
    );
}

#[wasm_bindgen_test]
fn the_token_is_read_from_the_fragment_only_when_well_formed() {
    assert_eq!(
        token_from_fragment("#token=abc123").as_deref(),
        Some("abc123")
    );
    assert_eq!(
        token_from_fragment("#x=1&token=abc").as_deref(),
        Some("abc")
    );
    assert_eq!(token_from_fragment("#token="), None);
    assert_eq!(token_from_fragment("#token=a<b"), None);
    assert_eq!(token_from_fragment(""), None);
}

#[wasm_bindgen_test]
async fn every_consent_state_has_its_own_words_and_colour() {
    let cases = [
        (ConsentView::None, "Not asked", "badge--none"),
        (ConsentView::Sending, "Sending…", "badge--sending"),
        (ConsentView::Pending, "Pending", "badge--pending"),
        (ConsentView::Expired, "No answer", "badge--expired"),
        (ConsentView::Failed, "Failed", "badge--failed"),
        (
            ConsentView::NoWhatsapp,
            "Not on WhatsApp",
            "badge--no-whatsapp",
        ),
        (ConsentView::OptedIn, "Opted in", "badge--opted-in"),
        (ConsentView::OptedOut, "Opted out", "badge--opted-out"),
    ];
    for (state, label, class) in cases {
        let host = mount(move || view! { <ConsentBadge state/> });
        leptos::task::tick().await;
        let badge: HtmlElement = find(&host, ".badge");
        assert_eq!(
            badge.text_content().unwrap(),
            format!("WhatsApp consent: {label}")
        );
        assert!(badge.class_list().contains(class), "{state:?} is {class}");
    }
}

/// Mounts a button that opens the confirm dialog for Kerry, and the dialog.
fn confirm_dialog() -> HtmlElement {
    mount(|| {
        provide_context(Api::new("unused".into()));
        let target = RwSignal::new(None::<Contact>);
        let kerry = Contact {
            id: 7,
            name: "Kerry Fisher".into(),
            phone: "+447911123456".into(),
            display_phone: "+44 7911 123456".into(),
            language: Language::En,
            consent: ConsentView::None,
        };
        view! {
            <button id="opener" on:click=move |_| target.set(Some(kerry.clone()))>"WhatsApp Kerry Fisher"</button>
            <ConfirmOptIn target on_sent=Callback::new(|_| ())/>
        }
    })
}

fn active_element() -> Option<web_sys::Element> {
    web_sys::window()?.document()?.active_element()
}

#[wasm_bindgen_test]
async fn the_confirm_dialog_is_modal_names_the_contact_and_gives_focus_back() {
    let host = confirm_dialog();
    leptos::task::tick().await;
    let dialog: HtmlDialogElement = find(&host, "dialog");
    assert!(!dialog.open());
    let opener: HtmlElement = find(&host, "#opener");
    opener.focus().unwrap();
    opener.click();
    leptos::task::tick().await;
    assert!(dialog.open(), "the dialog opens");
    assert!(
        dialog.matches(":modal").unwrap(),
        "opened with showModal(): the page behind is inert and Escape closes it"
    );
    assert_eq!(
        text(&host, "#confirm-opt-in-title"),
        "Send Kerry Fisher an opt-in request?"
    );
    assert_eq!(
        dialog.get_attribute("aria-labelledby").as_deref(),
        Some("confirm-opt-in-title")
    );
    let focused = active_element().unwrap();
    assert!(
        dialog.contains(Some(&focused)),
        "focus moves into the dialog"
    );
    assert_eq!(focused.text_content().as_deref(), Some("Confirm"));

    // Tab from the last control wraps to the first, Shift+Tab back: focus
    // never leaves the dialog (Chromium would let it go to its own toolbar).
    press(&focused, "Tab", false);
    let wrapped = active_element().unwrap();
    assert_eq!(
        wrapped.text_content().as_deref(),
        Some("Cancel"),
        "Tab wraps to the first control"
    );
    assert!(dialog.contains(Some(&wrapped)));
    press(&wrapped, "Tab", true);
    assert_eq!(
        active_element().and_then(|e| e.text_content()).as_deref(),
        Some("Confirm"),
        "Shift+Tab wraps to the last control"
    );

    // Cancel closes it and focus returns to the button that opened it.
    let cancel: HtmlElement = find(&host, "dialog .button:not(.button--primary)");
    assert_eq!(cancel.text_content().as_deref(), Some("Cancel"));
    cancel.click();
    leptos::task::tick().await;
    leptos::task::tick().await;
    assert!(!dialog.open(), "Cancel closes the dialog");
    assert_eq!(active_element().as_ref(), Some(opener.unchecked_ref()));

    // The browser closing it (what Escape does) also resets it.
    opener.click();
    leptos::task::tick().await;
    assert!(dialog.open());
    dialog.close();
    leptos::task::tick().await;
    leptos::task::tick().await;
    assert!(!dialog.open());
    assert_eq!(active_element().as_ref(), Some(opener.unchecked_ref()));
    opener.click();
    leptos::task::tick().await;
    assert!(dialog.open(), "it opens again after Escape");
    dialog.close();
}

#[wasm_bindgen_test]
async fn confirming_says_sending_at_once_and_disables_the_button() {
    let host = confirm_dialog();
    leptos::task::tick().await;
    find::<HtmlElement>(&host, "#opener").click();
    leptos::task::tick().await;
    let confirm: HtmlButtonElement = find(&host, "dialog .button--primary");
    confirm.click();
    leptos::task::tick().await;
    assert!(
        confirm.disabled(),
        "no second request while the first is in flight"
    );
    assert_eq!(confirm.text_content().as_deref(), Some("Sending…"));
    assert_eq!(text(&host, ".modal__status"), "Sending opt-in request…");
    find::<HtmlDialogElement>(&host, "dialog").close();
}

#[wasm_bindgen_test]
async fn the_confirm_dialog_shows_the_request_the_service_renders_in_the_contacts_language() {
    let spanish = OptInPreview {
        language: Language::Es,
        template: "advisor_opt_in".into(),
        template_language: "es".into(),
        text: "¡Hola! Jane Smith, de Acme Wealth, desea contactarle por WhatsApp <b>sobre</b> sus cuentas.".into(),
        buttons: vec!["Sí".into(), "No".into()],
    };
    stub_fetch(&[("/contacts/7/opt-in/preview", json(&spanish))]);
    let host = confirm_dialog();
    leptos::task::tick().await;
    find::<HtmlElement>(&host, "#opener").click();
    eventually("the preview arrives", || {
        host.query_selector(".request-preview__text")
            .unwrap()
            .is_some()
    })
    .await;
    assert_eq!(
        text(&host, ".request-preview__text"),
        spanish.text,
        "exactly the service's text, as text (never markup)"
    );
    assert!(host.query_selector(".request-preview b").unwrap().is_none());
    assert_eq!(
        find::<HtmlElement>(&host, ".request-preview")
            .get_attribute("lang")
            .as_deref(),
        Some("es"),
        "screen readers read it as Spanish"
    );
    assert_eq!(texts(&host, ".request-preview__button"), ["Sí", "No"]);
    let described = text(&host, "#confirm-opt-in-text");
    assert!(
        described.contains("They'll get this WhatsApp message, in Español:"),
        "{described}"
    );
    assert!(described.contains("once they tap \"Sí\""), "{described}");
    assert!(asked()
        .iter()
        .any(|url| url.ends_with("/api/v1/contacts/7/opt-in/preview")));
    find::<HtmlDialogElement>(&host, "dialog").close();
    unstub_fetch();
}

/// Mounts the banner for `snapshot` of "Kerry Fisher".
fn banner(snapshot: ConsentSnapshot) -> HtmlElement {
    mount(move || {
        provide_context(Api::new("unused".into()));
        let now = snapshot.now;
        view! {
            <ConsentBanner
                contact_id=7
                name="Kerry Fisher".to_owned()
                snapshot=snapshot
                now=now
                on_request=Callback::new(|_| ())
                on_sms=Callback::new(|_| ())
                on_changed=Callback::new(|_| ())
            />
        }
    })
}

fn buttons(host: &HtmlElement) -> Vec<String> {
    let list = host.query_selector_all("button").unwrap();
    (0..list.length())
        .filter_map(|i| list.item(i).and_then(|n| n.text_content()))
        .collect()
}

#[wasm_bindgen_test]
async fn each_consent_state_has_its_banner_in_a_live_region() {
    let now = noon();
    let sent = now - Duration::minutes(30);

    let mut pending = snapshot(ConsentView::Pending, now);
    pending.last_request_at = Some(sent);
    pending.resend_allowed_at = Some(sent + Duration::hours(24));
    let host = banner(pending);
    leptos::task::tick().await;
    let status: HtmlElement = find(&host, "[role=status]");
    assert_eq!(status.get_attribute("aria-live").as_deref(), Some("polite"));
    let words = text(&host, ".banner__text");
    assert_eq!(
        words,
        format!(
            "Opt-in request sent {}. Waiting for a response. If there's no answer, you can send it again {} (in 23 h 30 min).",
            stamp(sent, now),
            stamp(sent + Duration::hours(24), now)
        )
    );
    assert_eq!(
        words,
        "Opt-in request sent Today, 11:30 AM. Waiting for a response. If there's no answer, you can send it again Tomorrow, 11:30 AM (in 23 h 30 min)."
    );
    assert!(
        buttons(&host).is_empty(),
        "no resend control before 24 hours"
    );

    let mut expired = snapshot(ConsentView::Expired, now);
    expired.last_request_at = Some(now - Duration::hours(25));
    expired.resend_allowed_at = Some(now - Duration::hours(1));
    let host = banner(expired);
    leptos::task::tick().await;
    assert_eq!(text(&host, ".banner__text"), NO_ANSWER_TEXT);
    assert_eq!(
        text(&host, ".banner__stamp"),
        stamp(now - Duration::hours(1), now)
    );
    assert_eq!(text(&host, ".banner__stamp"), "Today, 11:00 AM");
    assert_eq!(buttons(&host), ["Resend Opt-In Request"]);

    let mut opted_in = snapshot(ConsentView::OptedIn, now);
    opted_in.answered_at = Some(now);
    let host = banner(opted_in);
    leptos::task::tick().await;
    assert_eq!(text(&host, ".banner__title"), "Opted in");
    assert!(text(&host, ".banner__text")
        .starts_with("Kerry Fisher opted in to WhatsApp messages Today, 12:00 PM"));
    assert!(find::<HtmlElement>(&host, ".banner")
        .class_list()
        .contains("banner--opted-in"));

    let host = banner(snapshot(ConsentView::OptedOut, now));
    leptos::task::tick().await;
    assert_eq!(
        text(&host, ".banner__text"),
        "Kerry Fisher opted out of WhatsApp messages. They can opt in again at any time by replying \"yes\"."
    );
    assert!(
        buttons(&host).is_empty(),
        "only the contact can opt back in"
    );

    let mut failed = snapshot(ConsentView::Failed, now);
    failed.failure_code = Some(optin_core::api::ErrorCode(131049));
    failed.resend_allowed_at = Some(now + Duration::hours(2));
    let host = banner(failed);
    leptos::task::tick().await;
    assert_eq!(
        text(&host, ".banner__text"),
        format!(
            "The opt-in request to Kerry Fisher could not be delivered: WhatsApp held this message back to limit how many business messages the contact gets; try again another day (error 131049). A new request can be sent {} (in 2 h).",
            "Today, 02:00 PM"
        )
    );
    assert!(buttons(&host).is_empty());

    let mut stopped = snapshot(ConsentView::OptedIn, now);
    stopped.marketing_stopped_at = Some(now - Duration::hours(1));
    let host = banner(stopped);
    leptos::task::tick().await;
    assert!(
        text(&host, ".banner__text")
            .ends_with("Kerry Fisher stopped marketing messages from your firm in WhatsApp Today, 11:00 AM: marketing templates are not sent to them."),
        "{}",
        text(&host, ".banner__text")
    );

    let host = banner(snapshot(ConsentView::NoWhatsapp, now));
    leptos::task::tick().await;
    assert_eq!(
        text(&host, ".banner__text"),
        "Kerry Fisher is not a WhatsApp user. You can send them an SMS instead."
    );
    assert_eq!(
        buttons(&host),
        ["Send an SMS instead", "Send a new opt-in request"]
    );

    let host = banner(snapshot(ConsentView::Sending, now));
    leptos::task::tick().await;
    assert_eq!(text(&host, ".banner__title"), "Sending opt-in request…");

    let host = banner(snapshot(ConsentView::None, now));
    leptos::task::tick().await;
    assert_eq!(buttons(&host), ["Send opt-in request"]);
}

fn templates() -> Vec<TemplateView> {
    vec![TemplateView {
        name: "meeting_reminder".into(),
        language: "en_US".into(),
        category: "UTILITY".into(),
        body: "Hello {{1}}, see you on {{2}}.".into(),
        parameters: 2,
    }]
}

/// Mounts the composer for `snapshot` of "Kerry Fisher".
fn composer(snapshot: ConsentSnapshot) -> HtmlElement {
    mount(move || {
        provide_context(Api::new("unused".into()));
        let now = snapshot.now;
        view! {
            <Composer
                contact_id=7
                name="Kerry Fisher".to_owned()
                snapshot=snapshot
                now=now
                templates=templates()
                on_sent=Callback::new(|_| ())
            />
        }
    })
}

#[wasm_bindgen_test]
async fn the_composer_allows_free_text_only_inside_the_service_window() {
    let now = at("2026-03-10T12:00:00Z");
    let mut open = snapshot(ConsentView::OptedIn, now);
    open.service_window_closes_at = Some(now + Duration::hours(3));
    let host = composer(open);
    leptos::task::tick().await;
    assert!(host.query_selector("#composer-text").unwrap().is_some());
    assert!(!find::<HtmlButtonElement>(&host, "button[type=submit]").disabled());
    assert_eq!(text(&host, ".composer__reason"), "");

    let mut closed = snapshot(ConsentView::OptedIn, now);
    closed.service_window_closes_at = Some(now - Duration::minutes(1));
    let host = composer(closed);
    leptos::task::tick().await;
    leptos::task::tick().await;
    assert_eq!(
        text(&host, ".composer__reason"),
        "Kerry Fisher hasn't written in the last 24 hours, so only approved templates can be sent."
    );
    let free_text: web_sys::HtmlOptionElement = find(&host, "option[value='']");
    assert!(free_text.disabled(), "free text cannot be chosen");
    assert_eq!(
        find::<HtmlSelectElement>(&host, "#composer-kind").value(),
        "0"
    );
    assert!(host.query_selector("#composer-text").unwrap().is_none());
    // One input per placeholder, and a live preview.
    assert_eq!(
        text(&host, ".composer__preview p"),
        "Hello {{1}}, see you on {{2}}."
    );
    type_into(&find(&host, "#template-value-1"), "Kerry");
    leptos::task::tick().await;
    assert_eq!(
        text(&host, ".composer__preview p"),
        "Hello Kerry, see you on {{2}}."
    );
    assert!(!find::<HtmlButtonElement>(&host, "button[type=submit]").disabled());
}

#[wasm_bindgen_test]
async fn after_an_opt_out_templates_and_text_are_disabled_with_the_reason() {
    let now = at("2026-03-10T12:00:00Z");
    let host = composer(snapshot(ConsentView::OptedOut, now));
    leptos::task::tick().await;
    let fields: web_sys::HtmlFieldSetElement = find(&host, "fieldset");
    assert!(
        fields.disabled(),
        "templates and the text field are disabled"
    );
    assert!(find::<HtmlButtonElement>(&host, "button[type=submit]").disabled());
    assert_eq!(
        text(&host, "#composer-reason"),
        "Kerry Fisher opted out. They can opt in again at any time by replying \"yes\"."
    );
    assert_eq!(
        fields.get_attribute("aria-describedby").as_deref(),
        Some("composer-reason")
    );

    // Never asked: no composer at all.
    let host = composer(snapshot(ConsentView::None, now));
    leptos::task::tick().await;
    assert!(host.query_selector("form").unwrap().is_none());
}

#[wasm_bindgen_test]
fn composer_modes_follow_the_state_and_the_window() {
    let now = at("2026-03-10T12:00:00Z");
    let mut s = snapshot(ConsentView::Pending, now);
    assert!(matches!(
        composer_mode("K", &s, now),
        ComposerMode::Disabled(_)
    ));
    s.state = ConsentView::OptedIn;
    assert!(matches!(
        composer_mode("K", &s, now),
        ComposerMode::TemplatesOnly(_)
    ));
    s.service_window_closes_at = Some(now + Duration::seconds(1));
    assert_eq!(composer_mode("K", &s, now), ComposerMode::Open);
    assert!(matches!(
        composer_mode("K", &s, now + Duration::seconds(1)),
        ComposerMode::TemplatesOnly(_)
    ));
    assert_eq!(
        preview(&templates()[0], &["Kerry".into(), " ".into()]),
        "Hello Kerry, see you on {{2}}."
    );
}

fn message(id: i64, direction: &str, status: &str, body: &str, at_: DateTime<Utc>) -> MessageView {
    use optin_core::api::{Channel, Direction, ErrorCode, MessageStatus, Purpose};
    MessageView {
        id,
        channel: Channel::Whatsapp,
        direction: Direction::parse(direction).unwrap(),
        purpose: Purpose::Message,
        body: body.into(),
        template_name: None,
        status: MessageStatus::parse(status).unwrap(),
        error_code: (status == "failed").then_some(ErrorCode(131026)),
        error_title: (status == "failed").then(|| "Message undeliverable".into()),
        at: at_,
    }
}

#[wasm_bindgen_test]
async fn the_conversation_shows_days_times_and_delivery_marks() {
    let now = noon();
    let messages = vec![
        message(
            1,
            "out",
            "read",
            "Hello <b>Kerry</b>",
            now - Duration::days(1),
        ),
        message(2, "in", "received", "Hi!", now - Duration::hours(1)),
        message(
            3,
            "out",
            "delivered",
            "How are you?",
            now - Duration::minutes(5),
        ),
        message(4, "out", "failed", "Still there?", now),
    ];
    let host = mount(move || {
        view! { <Conversation messages now empty_text="Nothing yet." label="WhatsApp messages"/> }
    });
    leptos::task::tick().await;
    let separators = host.query_selector_all(".day-separator").unwrap();
    assert_eq!(separators.length(), 2);
    assert_eq!(
        separators.item(0).unwrap().text_content().unwrap(),
        "Yesterday"
    );
    assert_eq!(separators.item(1).unwrap().text_content().unwrap(), "Today");
    let times = host.query_selector_all(".bubble__meta time").unwrap();
    let times: Vec<String> = (0..times.length())
        .map(|i| times.item(i).unwrap().text_content().unwrap())
        .collect();
    assert_eq!(times, ["12:00 PM", "11:00 AM", "11:55 AM", "12:00 PM"]);
    assert!(
        host.query_selector("b").unwrap().is_none(),
        "text, never markup"
    );
    assert_eq!(text(&host, ".mark--read"), "✓✓Read");
    assert_eq!(text(&host, ".mark--delivered"), "✓✓Delivered");
    assert_eq!(
        text(&host, ".bubble__failure"),
        "Not delivered: Message undeliverable (error 131026)"
    );
    assert_eq!(
        host.query_selector_all(".bubble--in .mark")
            .unwrap()
            .length(),
        0
    );
    assert_eq!(
        delivery_mark(optin_core::api::MessageStatus::Sent)
            .unwrap()
            .1,
        "Sent"
    );
    let log: HtmlElement = find(&host, "[role=log]");
    assert_eq!(
        log.get_attribute("aria-label").as_deref(),
        Some("WhatsApp messages")
    );
}

#[wasm_bindgen_test]
fn server_sent_events_are_parsed_across_chunk_boundaries() {
    let mut parser = SseParser::default();
    assert!(parser.push(b": keep-alive\n\nid: 4").is_empty());
    let events =
        parser.push(b"1\r\nevent: consent\r\ndata: {\"a\":\r\ndata: 1}\r\n\r\ndata: x\n\n");
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].id.as_deref(), Some("41"));
    assert_eq!(events[0].event, "consent");
    assert_eq!(events[0].data, "{\"a\":\n1}");
    assert_eq!(events[1].event, "message", "the default type");
    assert_eq!(events[1].id.as_deref(), Some("41"), "ids persist");
    // A CR at the end of a chunk may be the first half of a CRLF.
    assert!(parser.push(b"data: y\r").is_empty());
    let events = parser.push(b"\n\r\n");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].data, "y");
    // UTF-8 split between chunks.
    let text = "data: café\n\n".as_bytes();
    assert!(parser.push(&text[..10]).is_empty());
    assert_eq!(parser.push(&text[10..])[0].data, "café");
}

fn consent_event(id: i64, phone: &str, state: &str) -> optin_app::live::SseEvent {
    optin_app::live::SseEvent {
        id: Some(id.to_string()),
        event: "consent".into(),
        data: format!(
            r#"{{"id":{id},"kind":"keyword_opt_in","phone":"{phone}","state":"{state}"}}"#
        ),
    }
}

#[wasm_bindgen_test]
async fn an_answer_is_shown_from_its_event_and_refetched_after_that_frame() {
    let owner = Owner::new();
    owner.set();
    let live = Live::new();
    let phone = "+447700100001";
    // An answer: on screen now, refetched once its frame is painted.
    assert_eq!(live.receive(&consent_event(1, phone, "opted_in")), Some(1));
    assert_eq!(live.latest().map(|e| e.id), Some(1));
    assert_eq!(
        live.revision_of(phone),
        0,
        "no refetch before the answer is painted"
    );
    sleep(100).await;
    assert_eq!(live.revision_of(phone), 1, "refetched after the frame");
    // Anything else is only shown by its refetch: at once.
    assert_eq!(live.receive(&consent_event(2, phone, "pending")), Some(2));
    assert_eq!(live.revision_of(phone), 2);
    // Not a consent event: nothing.
    let other = optin_app::live::SseEvent {
        event: "message".into(),
        ..consent_event(3, phone, "opted_in")
    };
    assert_eq!(live.receive(&other), None);
    assert_eq!(live.latest().map(|e| e.id), Some(2));
}

#[wasm_bindgen_test]
fn routes_round_trip_and_encode_the_plus() {
    for route in [
        Route::Contacts,
        Route::Contact(7),
        Route::Sms(7),
        Route::Phone("+447911123456".into()),
        Route::Compliance,
        Route::ComplianceNumber("+447911123456".into()),
    ] {
        assert_eq!(Route::parse(&route.path()), route);
    }
    assert_eq!(
        Route::Phone("+447911123456".into()).path(),
        "/phone/%2B447911123456"
    );
    assert_eq!(
        Route::parse("/phone/447911123456"),
        Route::Phone("+447911123456".into())
    );
    assert_eq!(Route::parse("/phone/abc"), Route::NotFound);
    assert_eq!(Route::parse("/contacts/x"), Route::NotFound);
    assert_eq!(
        Route::ComplianceNumber("+447911123456".into()).path(),
        "/compliance/numbers/%2B447911123456"
    );
    assert_eq!(Route::parse("/compliance/numbers/abc"), Route::NotFound);
}

#[wasm_bindgen_test]
fn times_read_like_the_advisors_tools() {
    // In the advisor's own time zone, whatever the machine's zone is.
    let now = noon();
    assert_eq!(day_label(now, now), "Today");
    assert_eq!(day_label(now - Duration::days(1), now), "Yesterday");
    assert_eq!(day_label(now + Duration::days(1), now), "Tomorrow");
    assert_eq!(stamp(now, now), "Today, 12:00 PM");
    assert_eq!(stamp(local(2026, 6, 10, 9, 56), now), "Today, 09:56 AM");
    assert_eq!(stamp(local(2026, 6, 10, 0, 5), now), "Today, 12:05 AM");
    assert_eq!(stamp(local(2026, 6, 10, 23, 59), now), "Today, 11:59 PM");
    // Calendar days, not 24-hour spans.
    assert_eq!(stamp(local(2026, 6, 9, 23, 59), now), "Yesterday, 11:59 PM");
    assert_eq!(stamp(local(2026, 6, 11, 0, 0), now), "Tomorrow, 12:00 AM");
    let just_after_midnight = local(2026, 6, 10, 0, 30);
    assert_eq!(
        day_label(local(2026, 6, 9, 23, 59), just_after_midnight),
        "Yesterday"
    );
    assert_eq!(
        day_label(local(2026, 6, 10, 23, 50), just_after_midnight),
        "Today"
    );
    assert_eq!(stamp(local(2026, 6, 8, 18, 30), now), "Jun 8, 06:30 PM");
    assert_eq!(day_label(local(2026, 3, 3, 9, 0), now), "Mar 3");
    assert_eq!(day_label(local(2025, 12, 31, 9, 0), now), "Dec 31, 2025");
    assert_eq!(until(now + Duration::minutes(200), now), "in 3 h 20 min");
    assert_eq!(until(now + Duration::hours(24), now), "in 24 h");
    assert_eq!(until(now, now), "in less than a minute");
}

#[wasm_bindgen_test]
fn refusals_with_a_time_say_when_in_words() {
    let now = noon();
    let refusal = ClientError::Refused {
        status: 409,
        code: "resend_too_soon".into(),
        message: "An opt-in request was sent less than 24 hours ago; the next is allowed at 2026-03-11T09:00:00Z.".into(),
        field: None,
        allowed_at: Some(now + Duration::hours(21)),
    };
    let words = refusal.explain(now);
    assert!(words.starts_with("An opt-in request was sent less than 24 hours ago. The next one can be sent Tomorrow, 09:00 AM"), "{words}");
    assert!(!words.contains("2026-"), "no raw timestamps: {words}");
}

#[wasm_bindgen_test]
fn sms_length_is_counted_in_parts() {
    assert_eq!(sms_parts(""), (0, 0));
    assert_eq!(sms_parts(&"a".repeat(160)), (160, 1));
    assert_eq!(sms_parts(&"a".repeat(161)), (161, 2));
    assert_eq!(sms_parts("café"), (4, 1));
    assert_eq!(sms_parts(&"é".repeat(71)), (71, 2));
}

#[wasm_bindgen_test]
async fn with_whatsapp_turned_off_a_row_offers_sms_only() {
    let contact = Contact {
        id: 3,
        name: "Kerry Fisher".into(),
        phone: "+447911123456".into(),
        display_phone: "+44 7911 123456".into(),
        language: Language::En,
        consent: ConsentView::None,
    };
    let host = mount(move || {
        provide_context(optin_app::pages::WhatsAppEnabled(Signal::stored(false)));
        row(contact)
    });
    leptos::task::tick().await;
    assert!(host
        .query_selector("button[aria-label='WhatsApp Kerry Fisher']")
        .unwrap()
        .is_none());
    assert!(host
        .query_selector("button[aria-label='SMS Kerry Fisher']")
        .unwrap()
        .is_some());
}

/// Answers the app's `fetch` calls from `routes`: the first entry whose
/// fragment the URL contains gives the JSON body (anything else is a 404),
/// and every URL asked is kept for `asked()`. `unstub_fetch` puts the
/// browser's own `fetch` back.
fn stub_fetch(routes: &[(&str, String)]) {
    let window = web_sys::window().unwrap();
    let table = js_sys::Array::new();
    for (fragment, body) in routes {
        table.push(&js_sys::Array::of2(
            &JsValue::from_str(fragment),
            &JsValue::from_str(body),
        ));
    }
    let stub = js_sys::Function::new_with_args(
        "input",
        r#"
        const url = typeof input === 'string' ? input : input.url;
        window.__asked.push(url);
        const json = { 'content-type': 'application/json' };
        for (const [fragment, body] of window.__routes) {
            if (url.includes(fragment)) return Promise.resolve(new Response(body, { status: 200, headers: json }));
        }
        return Promise.resolve(new Response('{"code":"not_found","message":"Not found."}', { status: 404, headers: json }));
        "#,
    );
    let real = js_sys::Reflect::get(&window, &"__realFetch".into()).unwrap();
    if real.is_undefined() {
        let fetch = js_sys::Reflect::get(&window, &"fetch".into()).unwrap();
        js_sys::Reflect::set(&window, &"__realFetch".into(), &fetch).unwrap();
    }
    js_sys::Reflect::set(&window, &"__routes".into(), &table).unwrap();
    js_sys::Reflect::set(&window, &"__asked".into(), &js_sys::Array::new()).unwrap();
    js_sys::Reflect::set(&window, &"fetch".into(), &stub).unwrap();
}

fn unstub_fetch() {
    let window = web_sys::window().unwrap();
    let real = js_sys::Reflect::get(&window, &"__realFetch".into()).unwrap();
    js_sys::Reflect::set(&window, &"fetch".into(), &real).unwrap();
}

/// The URLs the stub was asked for, in order.
fn asked() -> Vec<String> {
    let window = web_sys::window().unwrap();
    let asked: js_sys::Array = js_sys::Reflect::get(&window, &"__asked".into())
        .unwrap()
        .unchecked_into();
    asked.iter().filter_map(|u| u.as_string()).collect()
}

async fn sleep(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        web_sys::window()
            .unwrap()
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms)
            .unwrap();
    });
    wasm_bindgen_futures::JsFuture::from(promise).await.unwrap();
}

/// Waits (up to 3 s) until `condition` holds; fails naming `what` otherwise.
async fn eventually(what: &str, condition: impl Fn() -> bool) {
    for _ in 0..300 {
        if condition() {
            return;
        }
        sleep(10).await;
    }
    panic!("timed out waiting until {what}");
}

fn change(element: &web_sys::HtmlElement) {
    let init = EventInit::new();
    init.set_bubbles(true);
    element
        .dispatch_event(&Event::new_with_event_init_dict("change", &init).unwrap())
        .unwrap();
}

fn texts(host: &HtmlElement, selector: &str) -> Vec<String> {
    let nodes = host.query_selector_all(selector).unwrap();
    (0..nodes.length())
        .map(|i| nodes.item(i).unwrap().text_content().unwrap_or_default())
        .collect()
}

fn kerry_number(updated_at: DateTime<Utc>) -> NumberSummary {
    NumberSummary {
        phone: "+447911123456".into(),
        display_phone: "+44 7911 123456".into(),
        state: ConsentView::OptedIn,
        sms_opted_out: false,
        updated_at: Some(updated_at),
        holders: vec![
            NumberHolder {
                advisor_id: 1,
                advisor_name: "Jane Smith".into(),
                contact_name: "Kerry Fisher".into(),
            },
            NumberHolder {
                advisor_id: 2,
                advisor_name: "Sam Rivera".into(),
                contact_name: "K. Fisher".into(),
            },
        ],
    }
}

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap()
}

#[wasm_bindgen_test]
async fn the_compliance_list_shows_every_number_and_asks_for_what_the_filters_say() {
    let now = noon();
    let page = NumberPage {
        numbers: vec![
            kerry_number(local(2026, 6, 10, 9, 56)),
            NumberSummary {
                phone: "+15550001234".into(),
                display_phone: "+1 555-000-1234".into(),
                state: ConsentView::None,
                sms_opted_out: true,
                updated_at: None,
                holders: vec![],
            },
        ],
        total: 2,
        offset: 0,
        next_offset: None,
    };
    let advisors = vec![
        AdvisorSummary {
            id: 1,
            name: "Jane Smith".into(),
            role: Role::Advisor,
            external_id: None,
            disabled_at: None,
        },
        AdvisorSummary {
            id: 2,
            name: "Sam Rivera".into(),
            role: Role::Advisor,
            external_id: None,
            disabled_at: None,
        },
    ];
    let chain = ChainStatus {
        intact: true,
        events: 1204,
        checked_at: now,
        broken_at_seq: None,
        reason: None,
    };
    stub_fetch(&[
        ("/compliance/numbers", json(&page)),
        ("/compliance/advisors", json(&advisors)),
        ("/compliance/chain", json(&chain)),
    ]);
    let host = mount(|| {
        provide_context(Router::detached(Route::Compliance));
        provide_context(Api::new("unused".into()));
        provide_context(Live::new());
        view! { <CompliancePage/> }
    });
    eventually("the numbers are listed", || {
        host.query_selector_all(".number").unwrap().length() == 2
    })
    .await;
    assert_eq!(
        texts(&host, ".number__phone"),
        ["+44 7911 123456", "+1 555-000-1234"]
    );
    assert_eq!(
        find::<HtmlElement>(&host, ".number__phone")
            .get_attribute("href")
            .as_deref(),
        Some("/compliance/numbers/%2B447911123456")
    );
    assert_eq!(
        texts(&host, ".number__holders"),
        [
            "Kerry Fisher (Jane Smith), K. Fisher (Sam Rivera)",
            "In no advisor's contacts"
        ]
    );
    assert_eq!(
        texts(&host, ".number .badge"),
        ["WhatsApp consent: Opted in", "WhatsApp consent: Not asked"]
    );
    assert_eq!(
        texts(&host, ".number__updated"),
        ["Changed Today, 09:56 AM", "Never asked"]
    );
    assert_eq!(texts(&host, ".number .tag"), ["SMS stopped"]);
    eventually("the chain's state is shown", || {
        text(&host, ".chain__text").starts_with("Record intact")
    })
    .await;
    assert_eq!(
        text(&host, ".chain__text"),
        "Record intact · 1,204 events · last checked Today, 12:00 PM"
    );
    assert!(find::<HtmlElement>(&host, ".chain")
        .class_list()
        .contains("chain--intact"));
    // Every input has its label.
    for id in [
        "filter-q",
        "filter-state",
        "filter-advisor",
        "filter-from",
        "filter-to",
    ] {
        assert!(
            host.query_selector(&format!("label[for={id}]"))
                .unwrap()
                .is_some(),
            "{id} has a label"
        );
    }

    // Each filter narrows what the service is asked for.
    let last = || {
        asked()
            .into_iter()
            .rfind(|u| u.contains("/compliance/numbers"))
            .unwrap()
    };
    let state: HtmlSelectElement = find(&host, "#filter-state");
    state.set_value("opted_out");
    change(&state);
    eventually("the state is asked for", || {
        last().contains("state=opted_out")
    })
    .await;
    eventually("the advisors are offered", || {
        texts(&host, "#filter-advisor option") == ["Any advisor", "Jane Smith", "Sam Rivera"]
    })
    .await;
    let advisor: HtmlSelectElement = find(&host, "#filter-advisor");
    advisor.set_value("2");
    change(&advisor);
    eventually("the advisor is asked for", || {
        last().contains("advisor_id=2")
    })
    .await;
    type_into(&find(&host, "#filter-q"), "Kerry");
    eventually("the search is asked for", || last().contains("q=Kerry")).await;
    let from: HtmlInputElement = find(&host, "#filter-from");
    from.set_value("2026-06-01");
    change(&from);
    let to: HtmlInputElement = find(&host, "#filter-to");
    to.set_value("2026-06-10");
    change(&to);
    // Local days: from the first one's midnight to the end of the last one.
    let since = local(2026, 6, 1, 0, 0).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let until = local(2026, 6, 11, 0, 0).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    eventually("the days are asked for", || {
        let url = last();
        url.contains(&format!("since={}", since.replace(':', "%3A")))
            && url.contains(&format!("until={}", until.replace(':', "%3A")))
    })
    .await;
    let url = last();
    assert!(
        url.contains("state=opted_out") && url.contains("advisor_id=2") && url.contains("q=Kerry"),
        "{url}"
    );

    find::<HtmlElement>(&host, ".contacts__head button").click();
    eventually("the filters are cleared", || {
        let url = last();
        !url.contains("state=")
            && !url.contains("advisor_id=")
            && !url.contains("since=")
            && !url.contains("q=")
    })
    .await;
    assert_eq!(state.value(), "");
    unstub_fetch();
}

#[wasm_bindgen_test]
fn number_filters_become_query_parameters_only_when_set() {
    assert!(NumberFilter::default().query().is_empty());
    let filter = NumberFilter {
        state: Some(ConsentView::NoWhatsapp),
        advisor_id: Some(7),
        since: Some(at("2026-06-01T00:00:00Z")),
        until: None,
        q: "  7911 ".into(),
    };
    assert_eq!(
        filter.query(),
        [
            ("state", "no_whatsapp".to_owned()),
            ("advisor_id", "7".to_owned()),
            ("since", "2026-06-01T00:00:00Z".to_owned()),
            ("q", "7911".to_owned()),
        ]
    );
    assert_eq!(
        local_day_start("2026-06-10", 0),
        Some(local(2026, 6, 10, 0, 0))
    );
    assert_eq!(
        local_day_start("2026-06-30", 1),
        Some(local(2026, 7, 1, 0, 0))
    );
    assert_eq!(local_day_start("", 0), None);
    assert_eq!(
        attachment_name("attachment; filename=\"consent-record-447911123456.csv\"").as_deref(),
        Some("consent-record-447911123456.csv")
    );
    assert_eq!(attachment_name("attachment; filename=\"../x\""), None);
    assert_eq!(events_count(1), "1 event");
    assert_eq!(events_count(1234567), "1,234,567 events");
}

#[wasm_bindgen_test]
async fn a_broken_chain_is_an_alert_naming_the_link() {
    let now = noon();
    let status = Signal::stored(Some(Ok(ChainStatus {
        intact: false,
        events: 41,
        checked_at: now,
        broken_at_seq: Some(42),
        reason: Some("hash mismatch".into()),
    })));
    let checks = RwSignal::new(0);
    let host = mount(move || {
        view! { <ChainBanner status checking=false now=now on_check=Callback::new(move |_| checks.update(|n| *n += 1))/> }
    });
    leptos::task::tick().await;
    let alert: HtmlElement = find(&host, "[role=alert]");
    assert_eq!(
        alert.text_content().unwrap(),
        "Record broken at event #42: hash mismatch. 41 events before it verified; checked Today, 12:00 PM."
    );
    assert!(find::<HtmlElement>(&host, ".chain")
        .class_list()
        .contains("chain--broken"));
    find::<HtmlElement>(&host, "button").click();
    assert_eq!(checks.get_untracked(), 1, "Check again asks again");
}

fn event(id: i64, kind: EvidenceKind, cause: Cause, received_at: DateTime<Utc>) -> TimelineEvent {
    TimelineEvent {
        id,
        seq: id + 100,
        kind,
        cause,
        state_after: None,
        advisor_name: None,
        advisor_role: None,
        received_at,
        provider_time: None,
        text: None,
        detail: serde_json::json!({}),
        has_raw: false,
        signature_valid: None,
        mode: Mode::Production,
    }
}

#[wasm_bindgen_test]
async fn the_timeline_shows_each_step_marks_sandbox_evidence_and_shows_raw_evidence_as_text() {
    let now = noon();
    let request_text =
        "Jane Smith of Acme Wealth would like to contact you on WhatsApp. Reply Yes or No.";
    let requested = TimelineEvent {
        advisor_name: Some("Jane Smith".into()),
        text: Some(request_text.into()),
        state_after: Some(ConsentState::Pending),
        detail: serde_json::json!({ "purpose": "opt_in", "template": "opt_in_request" }),
        ..event(
            1,
            EvidenceKind::Requested,
            Cause::Advisor,
            local(2026, 6, 10, 9, 56),
        )
    };
    let accepted = TimelineEvent {
        state_after: Some(ConsentState::OptedIn),
        provider_time: Some(local(2026, 6, 10, 9, 58)),
        has_raw: true,
        signature_valid: Some(true),
        mode: Mode::Sandbox,
        ..event(
            2,
            EvidenceKind::Accepted,
            Cause::Contact,
            local(2026, 6, 10, 9, 58) + Duration::seconds(7),
        )
    };
    // A compliance officer decided a flagged message: named as compliance, not as an advisor.
    let dismissed = TimelineEvent {
        advisor_name: Some("Casey Morgan".into()),
        advisor_role: Some(Role::Compliance),
        ..event(
            3,
            EvidenceKind::StopRequestDismissed,
            Cause::Compliance,
            local(2026, 6, 10, 10, 30),
        )
    };
    let timeline = NumberTimeline {
        summary: kerry_number(local(2026, 6, 10, 9, 58)),
        snapshot: ConsentSnapshot::bare("+447911123456", ConsentView::OptedIn, now),
        events: vec![requested, accepted, dismissed],
        messages: vec![MessageView {
            id: 5,
            channel: Channel::Whatsapp,
            direction: Direction::Out,
            purpose: Purpose::OptIn,
            body: request_text.into(),
            template_name: Some("opt_in_request".into()),
            status: MessageStatus::Read,
            error_code: None,
            error_title: None,
            at: local(2026, 6, 10, 9, 56),
        }],
    };
    let raw_body = r#"{"entry":[{"changes":[{"value":"<script>alert(1)</script>"}]}]}"#;
    let raw = RawEvidence {
        id: 2,
        raw_body: Some(raw_body.into()),
        signature_header: Some("sha256=0a1b2c".into()),
        signed_url: None,
        detail: serde_json::json!({ "button": "Yes" }),
        prev_hash: "ab12".into(),
        hash: "cd34".into(),
    };
    stub_fetch(&[
        ("/compliance/events/2/raw", json(&raw)),
        ("/compliance/numbers/%2B447911123456", json(&timeline)),
    ]);
    let host = mount(|| {
        provide_context(Router::detached(Route::ComplianceNumber(
            "+447911123456".into(),
        )));
        provide_context(Api::new("unused".into()));
        provide_context(Live::new());
        view! { <ComplianceNumberPage phone="+447911123456".to_owned()/> }
    });
    eventually("the timeline is shown", || {
        host.query_selector_all(".step").unwrap().length() == 3
    })
    .await;
    assert_eq!(text(&host, "h2"), "+44 7911 123456");
    assert_eq!(
        text(&host, ".screen-head .badge"),
        "WhatsApp consent: Opted in"
    );
    assert_eq!(
        texts(&host, ".holders__list li"),
        ["Kerry Fisher · Jane Smith", "K. Fisher · Sam Rivera"]
    );
    // The evidence bundle: one button, described by what the zip holds.
    let bundle: HtmlButtonElement = find(&host, ".bundle button");
    assert_eq!(bundle.text_content().unwrap(), "Download evidence bundle");
    let described = bundle.get_attribute("aria-describedby").unwrap();
    assert!(text(&host, &format!("#{described}")).contains("sha256sum and openssl"));
    assert_eq!(
        texts(&host, ".step__what"),
        [
            "Opt-in request queued (opt-in request)",
            "Contact tapped Yes",
            "Flagged message judged not a revocation"
        ]
    );
    let steps = texts(&host, ".step__facts");
    assert_eq!(
        steps[0],
        "ByAdvisorAdvisorJane SmithReceivedToday, 09:56:00 AMConsent afterpending"
    );
    assert_eq!(
        steps[1],
        "ByContactReceivedToday, 09:58:07 AMProvider timeToday, 09:58:00 AMConsent afteropted inWebhookSignature verified"
    );
    assert_eq!(
        steps[2],
        "ByComplianceComplianceCasey MorganReceivedToday, 10:30:00 AM"
    );
    assert_eq!(
        precise_stamp(local(2026, 6, 10, 21, 5), now),
        "Today, 09:05:00 PM"
    );
    assert_eq!(texts(&host, ".step__text blockquote"), [request_text]);
    // Only the sandbox step says so.
    let sandbox = host.query_selector_all(".step--sandbox").unwrap();
    assert_eq!(sandbox.length(), 1);
    assert_eq!(texts(&host, ".tag--sandbox"), ["Sandbox evidence"]);
    assert!(texts(&host, ".step--sandbox .step__what")[0].contains("Contact tapped Yes"));
    // Messages of any advisor, named as theirs.
    assert_eq!(texts(&host, ".bubble .bubble__text"), [request_text]);
    assert!(text(&host, ".bubble").starts_with("Advisor: "));

    // Raw evidence: only for the step that has it, on demand, as text.
    let toggles = host.query_selector_all(".step button").unwrap();
    assert_eq!(toggles.length(), 1, "one step has raw evidence");
    let toggle: HtmlButtonElement = find(&host, ".step--sandbox button");
    assert_eq!(toggle.text_content().unwrap(), "Show raw evidence");
    assert_eq!(
        toggle.get_attribute("aria-expanded").as_deref(),
        Some("false")
    );
    let region: HtmlElement = find(&host, "#raw-2");
    assert!(region.hidden());
    toggle.click();
    eventually("the raw body is shown", || {
        texts(&host, "#raw-2 pre").first().map(String::as_str) == Some(raw_body)
    })
    .await;
    assert!(asked()
        .iter()
        .any(|u| u.ends_with("/api/v1/compliance/events/2/raw")));
    assert!(
        host.query_selector("script").unwrap().is_none(),
        "the body stays text"
    );
    assert!(!region.hidden());
    assert_eq!(
        toggle.get_attribute("aria-expanded").as_deref(),
        Some("true")
    );
    assert_eq!(toggle.text_content().unwrap(), "Hide raw evidence");
    // The signature header as received (so the body can be checked again), then the hash links.
    assert_eq!(
        texts(&host, "#raw-2 dd code"),
        ["sha256=0a1b2c", "ab12", "cd34"]
    );
    toggle.click();
    leptos::task::tick().await;
    assert!(region.hidden());
    assert_eq!(
        toggle.get_attribute("aria-expanded").as_deref(),
        Some("false")
    );
    unstub_fetch();
}

#[wasm_bindgen_test]
async fn the_access_log_says_who_read_what_and_when_linking_each_number() {
    let now = noon();
    let page = AccessLogPage {
        entries: vec![
            AccessEntry {
                id: 2,
                at: local(2026, 6, 10, 11, 5),
                person_id: 3,
                person_name: "Casey Morgan".into(),
                role: Role::Compliance,
                kind: AccessKind::RecordExported,
                phone: Some("+447911123456".into()),
                detail: Some("consent record as csv".into()),
            },
            AccessEntry {
                id: 1,
                at: local(2026, 6, 10, 9, 56),
                person_id: 3,
                person_name: "Casey Morgan".into(),
                role: Role::Compliance,
                kind: AccessKind::OrganizationExported,
                phone: None,
                detail: Some("consent record as jsonl".into()),
            },
        ],
        next_before: None,
    };
    stub_fetch(&[("/compliance/access-log", json(&page))]);
    let host = mount(move || {
        provide_context(Router::detached(Route::Compliance));
        provide_context(Api::new("unused".into()));
        provide_context(Live::new());
        view! { <AccessLog now=Signal::derive(move || now)/> }
    });
    eventually("the entries are listed", || {
        host.query_selector_all(".access").unwrap().length() == 2
    })
    .await;
    assert_eq!(
        texts(&host, ".access__who"),
        ["Casey Morgan (Compliance)", "Casey Morgan (Compliance)"]
    );
    assert_eq!(
        texts(&host, ".access__what"),
        [
            "Downloaded the consent record · +447911123456 · consent record as csv",
            "Downloaded the organization's record · consent record as jsonl"
        ]
    );
    assert_eq!(
        texts(&host, ".access__when"),
        ["Today, 11:05 AM", "Today, 09:56 AM"]
    );
    assert_eq!(
        find::<HtmlElement>(&host, ".access__number")
            .get_attribute("href")
            .as_deref(),
        Some("/compliance/numbers/%2B447911123456")
    );
}

#[wasm_bindgen_test]
async fn a_held_number_says_so_and_compliance_may_release_only_its_own_hold() {
    let now = noon();
    let hold = |id: i64, phone: Option<&str>, reason: &str| LegalHold {
        id,
        phone: phone.map(str::to_owned),
        reason: reason.into(),
        placed_by: "Casey Morgan".into(),
        placed_at: local(2026, 6, 10, 9, 56),
        released_by: None,
        released_at: None,
    };
    let mut released = hold(3, Some("+447911123456"), "Old matter");
    released.released_at = Some(now);
    let retention = Retention {
        retention_months: 72,
        holds: vec![
            hold(2, None, "Regulator's request"),
            hold(1, Some("+447911123456"), "Matter 2026-17"),
            hold(4, Some("+15550001234"), "Someone else's matter"),
            released,
        ],
    };
    stub_fetch(&[("/compliance/holds", json(&retention))]);
    let host = mount(move || {
        provide_context(Api::new("unused".into()));
        view! { <LegalHoldCard phone="+447911123456".to_owned() can_act=true now=Signal::derive(move || now)/> }
    });
    eventually("the holds are listed", || {
        host.query_selector_all(".hold").unwrap().length() == 2
    })
    .await;
    assert!(text(&host, ".card__intro").contains("kept 6 years, then deleted"));
    assert_eq!(
        texts(&host, ".hold__what"),
        [
            "On legal hold: Matter 2026-17",
            "On legal hold with the whole organization: Regulator's request"
        ]
    );
    assert_eq!(
        texts(&host, ".hold__meta"),
        ["Placed by Casey Morgan · Today, 09:56 AM"; 2]
    );
    assert_eq!(
        texts(&host, ".hold button"),
        ["Release hold"],
        "the organization's hold is released from its own place"
    );
    assert!(
        host.query_selector(".hold__form").unwrap().is_none(),
        "already held: nothing to place"
    );
    assert_eq!(
        [retention_text(72), retention_text(12), retention_text(40)],
        ["6 years", "1 year", "40 months"]
    );
}

/// The contacts page against a fake service: `everyone` is the advisor's whole
/// list, paged as the service pages it; searches (`q` not empty) stay
/// unanswered until `answer_search` gives their answer.
fn stub_contacts_service(everyone: &[Contact]) {
    let window = web_sys::window().unwrap();
    js_sys::Reflect::set(&window, &"__everyone".into(), &json(&everyone).into()).unwrap();
    js_sys::Reflect::set(&window, &"__held".into(), &js_sys::Array::new()).unwrap();
    js_sys::Reflect::set(&window, &"__asked".into(), &js_sys::Array::new()).unwrap();
    js_sys::Reflect::set(&window, &"__holdEveryone".into(), &false.into()).unwrap();
    let stub = js_sys::Function::new_with_args(
        "input",
        r#"
        const url = new URL(typeof input === 'string' ? input : input.url, location.href);
        window.__asked.push(url.href);
        const reply = (body, status = 200) =>
            new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
        if (!url.pathname.endsWith('/contacts')) return Promise.resolve(reply({ code: 'not_found', message: 'Not found.' }, 404));
        const q = url.searchParams.get('q') ?? '';
        if (q !== '' || window.__holdEveryone) return new Promise((resolve) => window.__held.push({ q, resolve: (body) => resolve(reply(body)) }));
        const all = JSON.parse(window.__everyone);
        const offset = Number(url.searchParams.get('offset') ?? 0);
        const items = all.slice(offset, offset + Number(url.searchParams.get('limit') ?? 50));
        const end = offset + items.length;
        return Promise.resolve(reply({ items, total: all.length, offset, next_offset: end < all.length ? end : undefined }));
        "#,
    );
    if js_sys::Reflect::get(&window, &"__realFetch".into())
        .unwrap()
        .is_undefined()
    {
        let fetch = js_sys::Reflect::get(&window, &"fetch".into()).unwrap();
        js_sys::Reflect::set(&window, &"__realFetch".into(), &fetch).unwrap();
    }
    js_sys::Reflect::set(&window, &"fetch".into(), &stub).unwrap();
}

/// Searches for `q` asked and not answered yet.
fn held_searches(q: &str) -> usize {
    let window = web_sys::window().unwrap();
    let held: js_sys::Array = js_sys::Reflect::get(&window, &"__held".into())
        .unwrap()
        .unchecked_into();
    held.iter()
        .filter(|h| {
            js_sys::Reflect::get(h, &"q".into())
                .unwrap()
                .as_string()
                .as_deref()
                == Some(q)
        })
        .count()
}

/// Answers every held search for `q` with `matches` (the first page of them).
/// Waits until the service is asked for the search `q` (once).
async fn searched(q: &str) {
    eventually(&format!("the service is asked for {q:?}"), || {
        held_searches(q) == 1
    })
    .await;
}

fn answer_search(q: &str, matches: &[Contact]) {
    let window = web_sys::window().unwrap();
    let held: js_sys::Array = js_sys::Reflect::get(&window, &"__held".into())
        .unwrap()
        .unchecked_into();
    let page = js_sys::JSON::parse(&json(&optin_core::api::ContactPage {
        items: matches.to_vec(),
        total: matches.len() as u64,
        offset: 0,
        next_offset: None,
    }))
    .unwrap();
    let still = js_sys::Array::new();
    for h in held.iter() {
        if js_sys::Reflect::get(&h, &"q".into())
            .unwrap()
            .as_string()
            .as_deref()
            == Some(q)
        {
            let resolve: js_sys::Function = js_sys::Reflect::get(&h, &"resolve".into())
                .unwrap()
                .unchecked_into();
            resolve.call1(&JsValue::NULL, &page).unwrap();
        } else {
            still.push(&h);
        }
    }
    js_sys::Reflect::set(&window, &"__held".into(), &still).unwrap();
}

/// Contacts named by `names`, in that order (give them in the list's order).
fn contacts_named(names: &[String]) -> Vec<Contact> {
    names
        .iter()
        .enumerate()
        .map(|(i, name)| Contact {
            id: i as i64 + 1,
            name: name.clone(),
            phone: format!("+4477001{:05}", i),
            display_phone: format!("+44 7700 1{:05}", i),
            language: Language::En,
            consent: ConsentView::None,
        })
        .collect()
}

/// The app's own stylesheet in the test page (the virtual list is laid out by
/// it); removed by `unstyle`.
fn style_with_app_css() -> web_sys::Element {
    let document = web_sys::window().unwrap().document().unwrap();
    let style = document.create_element("style").unwrap();
    style.set_text_content(Some(include_str!("../style/main.css")));
    document.head().unwrap().append_child(&style).unwrap();
    style
}

fn contacts_page() -> impl IntoView {
    provide_context(Router::detached(Route::Contacts));
    provide_context(Api::new("unused".into()));
    provide_context(Live::new());
    view! { <optin_app::pages::contacts::ContactsPage/> }
}

fn row_elements(host: &HtmlElement) -> Vec<web_sys::Element> {
    let rows = host
        .query_selector_all("ul[aria-label='Contacts'] > li")
        .unwrap();
    (0..rows.length())
        .filter_map(|i| rows.item(i)?.dyn_into().ok())
        .collect()
}

fn row_names(host: &HtmlElement) -> Vec<String> {
    texts(host, "ul[aria-label='Contacts'] > li .contact__name")
}

#[wasm_bindgen_test]
async fn a_keystroke_filters_the_loaded_rows_at_once_and_the_services_answer_then_refines_them() {
    let mut names: Vec<String> = ["Smith", "Jones", "Patel", "Okafor", "Becker"]
        .iter()
        .flat_map(|last| {
            ["Ada", "Ben", "Cara", "Dev", "Eli", "Fay"].map(|first| format!("{first} {last}"))
        })
        .collect();
    names.sort();
    let everyone = contacts_named(&names);
    stub_contacts_service(&everyone);
    let host = mount(contacts_page);
    eventually("the whole list is loaded", || {
        text(&host, ".contacts__count") == "30 contacts."
    })
    .await;

    let search: HtmlInputElement = find(&host, "input[type='search']");
    let rows_before = row_elements(&host);
    type_into(&search, "smi");
    leptos::task::tick().await;
    // Shown from the rows loaded; the service is asked once they are painted.
    assert_eq!(held_searches("smi"), 0, "asked after the frame");
    searched("smi").await;
    assert!(
        row_elements(&host).iter().all(|row| rows_before
            .iter()
            .any(|before| before.is_same_node(Some(row)))),
        "the rows' elements show the matches rather than rows being built anew"
    );
    assert_eq!(
        row_names(&host),
        [
            "Ada Smith",
            "Ben Smith",
            "Cara Smith",
            "Dev Smith",
            "Eli Smith",
            "Fay Smith"
        ]
    );
    assert_eq!(text(&host, ".contacts__count"), "6 contacts match.");
    // A number typed as people write it finds the contact by its digits.
    type_into(&search, "+44 7700 100003");
    leptos::task::tick().await;
    assert_eq!(row_names(&host), [names[3].clone()]);

    // Typed on, a key every 50 ms, with every match already shown: the
    // service is asked only once the typing pauses, for the last search.
    for typed in ["e", "el", "eli"] {
        type_into(&search, typed);
        sleep(50).await;
    }
    assert_eq!(
        row_names(&host),
        [
            "Eli Becker",
            "Eli Jones",
            "Eli Okafor",
            "Eli Patel",
            "Eli Smith"
        ]
    );
    assert_eq!(held_searches("eli"), 0, "asked once the typing pauses");
    searched("eli").await;
    assert_eq!(held_searches("e") + held_searches("el"), 0);

    // The service's answer replaces what was filtered (it knows of a contact
    // added elsewhere since the list was loaded).
    type_into(&search, "smi");
    leptos::task::tick().await;
    let mut answer = contacts_named(&["Ada Smith".into(), "Zoe Smithson".into()]);
    answer[1].id = 99;
    answer_search("smi", &answer);
    eventually("the service's answer is shown", || {
        row_names(&host) == ["Ada Smith", "Zoe Smithson"]
    })
    .await;
    assert_eq!(text(&host, ".contacts__count"), "2 contacts match.");

    // An answer to an older search, arriving last, changes nothing.
    type_into(&search, "jo");
    leptos::task::tick().await;
    searched("jo").await;
    type_into(&search, "jon");
    leptos::task::tick().await;
    assert_eq!(row_names(&host).len(), 6, "the six Joneses, filtered");
    searched("jon").await;
    answer_search("jon", &contacts_named(&["Ben Jones".into()]));
    eventually("the latest answer is shown", || {
        row_names(&host) == ["Ben Jones"]
    })
    .await;
    answer_search("jo", &contacts_named(&["Joan Other".into()]));
    sleep(50).await;
    assert_eq!(row_names(&host), ["Ben Jones"]);

    // No match is said only on the service's word.
    // Keystrokes within one frame: only the last search is asked.
    type_into(&search, "nob");
    type_into(&search, "nobo");
    leptos::task::tick().await;
    type_into(&search, "nobody");
    leptos::task::tick().await;
    assert_eq!(text(&host, ".contacts__count"), "Searching…");
    searched("nobody").await;
    assert_eq!(held_searches("nob") + held_searches("nobo"), 0);
    answer_search("nobody", &[]);
    eventually("no match is said", || {
        text(&host, ".contacts__count") == "No contact matches “nobody”."
    })
    .await;
    unstub_fetch();
}

#[wasm_bindgen_test]
async fn a_long_list_keeps_only_the_rows_in_view_in_the_page_and_keeps_focus_while_scrolling() {
    let style = style_with_app_css();
    let names: Vec<String> = (1..=5000).map(|i| format!("Contact {i:05}")).collect();
    stub_contacts_service(&contacts_named(&names));
    let host = mount(contacts_page);
    let rows = || {
        host.query_selector_all("ul[aria-label='Contacts'] > li")
            .unwrap()
    };
    eventually("the first rows are drawn", || rows().length() > 0).await;
    let drawn = rows().length();
    assert!((5..=60).contains(&drawn), "{drawn} rows drawn of 5000");
    let first: HtmlElement = find(&host, "ul[aria-label='Contacts'] > li");
    assert_eq!(first.get_attribute("aria-posinset").as_deref(), Some("1"));
    assert_eq!(first.get_attribute("aria-setsize").as_deref(), Some("5000"));
    let scroller: HtmlElement = find(&host, ".contact-scroller");
    assert!(
        scroller.scroll_height() > 5000 * 50,
        "the list is as tall as all its rows ({} px)",
        scroller.scroll_height()
    );

    // Focus on the first row's link, then scroll far: that row stays.
    let link: HtmlElement = find(&host, "ul[aria-label='Contacts'] > li a");
    link.focus().unwrap();
    let row_px = first.offset_height();
    scroller.set_scroll_top(row_px * 3000);
    eventually("the rows around 3,000 are drawn", || {
        texts(&host, ".contact__name").contains(&"Contact 03001".to_owned())
    })
    .await;
    assert!(
        rows().length() < 60,
        "still a window of rows (and the focused one): {}",
        rows().length()
    );
    let document = web_sys::window().unwrap().document().unwrap();
    let active = document.active_element().unwrap();
    assert!(
        active.is_connected(),
        "the focused link is still in the page"
    );
    assert_eq!(active.text_content().as_deref(), Some("Contact 00001"));
    let posinsets: Vec<u64> = (0..rows().length())
        .filter_map(|i| {
            rows()
                .item(i)?
                .unchecked_into::<web_sys::Element>()
                .get_attribute("aria-posinset")?
                .parse()
                .ok()
        })
        .collect();
    assert!(
        posinsets.windows(2).all(|w| w[0] < w[1]),
        "rows in list order: {posinsets:?}"
    );
    style.remove();
    unstub_fetch();
}

/// The requests for the contact list asked since `stub_contacts_service`, as
/// (search, offset).
fn contacts_asked() -> Vec<(String, u64)> {
    asked()
        .iter()
        .filter_map(|url| {
            let (_, query) = url.split_once('?')?;
            let param = |name: &str| {
                query
                    .split('&')
                    .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
                    .map(str::to_owned)
            };
            Some((
                param("q").unwrap_or_default(),
                param("offset")?.parse().ok()?,
            ))
        })
        .collect()
}

#[wasm_bindgen_test]
async fn coming_back_to_the_list_draws_it_as_left_and_asks_again_only_for_the_rows_in_view() {
    let style = style_with_app_css();
    // Five pages; the list is left scrolled to the middle of the third.
    let pages = 5;
    let names: Vec<String> = (1..=pages * PAGE_ROWS)
        .map(|i| format!("Contact {i:05}"))
        .collect();
    let middle = 2 * PAGE_ROWS + PAGE_ROWS / 2;
    let middle_name = format!("Contact {:05}", middle + 1);
    stub_contacts_service(&contacts_named(&names));
    // The shell keeps the list while a contact is open.
    let list_open = RwSignal::new(true);
    let host = mount(move || {
        provide_context(Router::detached(Route::Contacts));
        provide_context(Api::new("unused".into()));
        provide_context(Live::new());
        provide_context(KeptContacts::default());
        view! {
            <Show when=move || list_open.get() fallback=|| view! { <p>"A contact"</p> }>
                <ContactsPage/>
            </Show>
        }
    });
    eventually("every page is asked", || {
        contacts_asked().len() as u64 == pages
    })
    .await;
    sleep(100).await;
    let first_visit = contacts_asked();
    assert_eq!(
        first_visit,
        (0..pages)
            .map(|page| (String::new(), page * PAGE_ROWS))
            .collect::<Vec<_>>(),
        "the whole list, page by page, the first time"
    );
    let row_px = find::<HtmlElement>(&host, "ul[aria-label='Contacts'] > li").offset_height();
    find::<HtmlElement>(&host, ".contact-scroller").set_scroll_top(row_px * middle as i32);
    eventually("the middle row is drawn", || {
        row_names(&host).contains(&middle_name)
    })
    .await;

    list_open.set(false);
    sleep(0).await;
    assert_eq!(text(&host, "p"), "A contact");
    // From now on the service answers nothing.
    let window = web_sys::window().unwrap();
    js_sys::Reflect::set(&window, &"__asked".into(), &js_sys::Array::new()).unwrap();
    js_sys::Reflect::set(&window, &"__holdEveryone".into(), &true.into()).unwrap();
    list_open.set(true);
    sleep(0).await;
    // Drawn from what was loaded, without an answer.
    assert!(
        row_names(&host).contains(&middle_name),
        "rows around the middle drawn at once: {:?}",
        row_names(&host)
    );
    assert_eq!(
        text(&host, ".contacts__count"),
        format!("{} contacts.", grouped(pages * PAGE_ROWS))
    );
    eventually("the list is scrolled where it was", || {
        find::<HtmlElement>(&host, ".contact-scroller").scroll_top() == row_px * middle as i32
    })
    .await;
    // The rows in view (the third page) are asked again, for changes made
    // while the list was closed; the other pages are not.
    eventually("the rows in view are asked again", || {
        !contacts_asked().is_empty()
    })
    .await;
    sleep(200).await;
    assert_eq!(contacts_asked(), vec![(String::new(), 2 * PAGE_ROWS)]);

    // What was typed is kept too.
    let search: HtmlInputElement = find(&host, "input[type='search']");
    type_into(&search, "Contact 00999");
    eventually("the search shows its rows", || {
        row_names(&host).first().map(String::as_str) == Some("Contact 00999")
    })
    .await;
    let found = row_names(&host);
    list_open.set(false);
    sleep(0).await;
    list_open.set(true);
    sleep(0).await;
    let search: HtmlInputElement = find(&host, "input[type='search']");
    assert_eq!(search.value(), "Contact 00999");
    assert_eq!(row_names(&host), found);
    style.remove();
    unstub_fetch();
}

/// Slots as (row index, contact id), `None` for an empty slot.
fn slot_ids(slots: &[Option<Drawn>]) -> Vec<Option<(u64, i64)>> {
    slots
        .iter()
        .map(|slot| slot.as_ref().map(|(index, c)| (*index, c.id)))
        .collect()
}

/// `count` contacts named "Contact 0", "Contact 1"…, ids from 1.
fn numbered_contacts(count: usize) -> Vec<std::sync::Arc<Contact>> {
    let names: Vec<String> = (0..count).map(|i| format!("Contact {i}")).collect();
    contacts_named(&names)
        .into_iter()
        .map(std::sync::Arc::new)
        .collect()
}

/// The rows drawn, as (row index, which of `contacts`).
fn drawn_rows(contacts: &[std::sync::Arc<Contact>], rows: &[(u64, usize)]) -> Vec<Drawn> {
    rows.iter()
        .map(|&(index, c)| (index, contacts[c].clone()))
        .collect()
}

#[wasm_bindgen_test]
fn a_drawn_contact_keeps_its_slot_and_new_rows_take_the_freed_ones_in_order() {
    let contacts = numbered_contacts(10);
    let drawn = |rows: &[(u64, usize)]| drawn_rows(&contacts, rows);
    // First drawing: rows in slots in order.
    let first = recycle_slots(&[], &drawn(&[(0, 0), (1, 1), (2, 2), (3, 3)]), Kept::Every);
    assert_eq!(
        slot_ids(&first),
        [Some((0, 1)), Some((1, 2)), Some((2, 3)), Some((3, 4))]
    );
    // Scrolled by two: the rows still drawn stay put (their elements, and any
    // focus in them), the two new ones take the slots of the two that left.
    let scrolled = recycle_slots(
        &first,
        &drawn(&[(2, 2), (3, 3), (4, 4), (5, 5)]),
        Kept::Every,
    );
    assert_eq!(
        slot_ids(&scrolled),
        [Some((4, 5)), Some((5, 6)), Some((2, 3)), Some((3, 4))]
    );
    // A search with fewer matches, one of them drawn before at another index:
    // it keeps its slot; the slots are kept, emptied, for the next keystroke.
    let searched = recycle_slots(&scrolled, &drawn(&[(0, 3), (1, 9)]), Kept::Every);
    assert_eq!(
        slot_ids(&searched),
        [Some((1, 10)), None, None, Some((0, 4))]
    );
    // Back to more rows: every slot is used again, none added.
    let widened = recycle_slots(
        &searched,
        &drawn(&[(0, 6), (1, 7), (2, 8), (3, 9)]),
        Kept::Every,
    );
    assert_eq!(widened.len(), 4);
    assert_eq!(
        slot_ids(&widened),
        [Some((3, 10)), Some((0, 7)), Some((1, 8)), Some((2, 9))]
    );
}

/// A new list (a keystroke) is written into the slots in the order the page
/// has them, so that no row element moves; only the focused contact keeps
/// its slot.
#[wasm_bindgen_test]
fn a_new_list_is_written_into_the_slots_in_page_order_and_only_the_focused_row_stays() {
    let contacts = numbered_contacts(12);
    let drawn = |rows: &[(u64, usize)]| drawn_rows(&contacts, rows);
    // Scrolled by two: the page has slots 2, 3, 0, 1 (rows 2 to 5).
    let first = recycle_slots(&[], &drawn(&[(0, 0), (1, 1), (2, 2), (3, 3)]), Kept::Every);
    let scrolled = recycle_slots(
        &first,
        &drawn(&[(2, 2), (3, 3), (4, 4), (5, 5)]),
        Kept::Every,
    );
    // A search that finds contacts 5 and 3 (drawn before, at other places)
    // and 9: written into slots 2, 3, 0 in that order, nobody focused.
    let searched = recycle_slots(
        &scrolled,
        &drawn(&[(0, 3), (1, 5), (2, 9)]),
        Kept::Focused(None),
    );
    assert_eq!(
        slot_ids(&searched),
        [Some((2, 10)), None, Some((0, 4)), Some((1, 6))]
    );
    // The slots by row index are the page's order before: nothing moves.
    let order = |slots: &[Option<Drawn>]| {
        let mut filled: Vec<(u64, usize)> = slots
            .iter()
            .enumerate()
            .filter_map(|(slot, row)| Some((row.as_ref()?.0, slot)))
            .collect();
        filled.sort_unstable();
        filled.into_iter().map(|(_, slot)| slot).collect::<Vec<_>>()
    };
    assert_eq!(order(&scrolled), [2, 3, 0, 1]);
    assert_eq!(order(&searched), [2, 3, 0]);
    // With contact 5 focused, it keeps its slot (1); the others fill the
    // free slots in page order (2, then 3).
    let focused = recycle_slots(
        &scrolled,
        &drawn(&[(0, 3), (1, 5), (2, 9)]),
        Kept::Focused(Some(contacts[5].id)),
    );
    assert_eq!(
        slot_ids(&focused),
        [None, Some((1, 6)), Some((0, 4)), Some((2, 10))]
    );
    let moved_focus = recycle_slots(
        &scrolled,
        &drawn(&[(0, 5), (1, 8)]),
        Kept::Focused(Some(contacts[5].id)),
    );
    assert_eq!(
        slot_ids(&moved_focus),
        [None, Some((0, 6)), Some((1, 9)), None]
    );
}

/// `index.html` asks for an advisor's first screen before the app starts
/// (`window.__optinEarly`): the app takes such an answer instead of asking,
/// once, and only for the same address with the same token.
#[wasm_bindgen_test]
async fn an_answer_asked_before_the_app_started_is_taken_once_and_only_with_its_token() {
    let service = contacts_named(&["From the service".to_owned()]);
    stub_contacts_service(&service);
    let early = contacts_named(&["Asked early".to_owned()]);
    let first_page = format!(
        "{}/api/v1/contacts?q=&offset=0&limit={PAGE_ROWS}",
        web_sys::window().unwrap().location().origin().unwrap()
    );
    let set_early = |token: &str| {
        let answers = js_sys::Object::new();
        let body = json(&optin_core::api::ContactPage {
            items: early.clone(),
            total: 1,
            offset: 0,
            next_offset: None,
        });
        let response = web_sys::Response::new_with_opt_str(Some(&body)).unwrap();
        let answer = js_sys::Promise::resolve(&response);
        js_sys::Reflect::set(&answers, &first_page.as_str().into(), &answer).unwrap();
        let value = js_sys::Object::new();
        js_sys::Reflect::set(&value, &"token".into(), &token.into()).unwrap();
        js_sys::Reflect::set(&value, &"answers".into(), &answers).unwrap();
        js_sys::Reflect::set(&js_sys::global(), &"__optinEarly".into(), &value).unwrap();
    };
    let names = |page: optin_core::api::ContactPage| {
        page.items.into_iter().map(|c| c.name).collect::<Vec<_>>()
    };
    let early_kept = || js_sys::Reflect::has(&js_sys::global(), &"__optinEarly".into()).unwrap();

    // Asked with another token (another tab's session): not taken.
    set_early("someone-else");
    let api = Api::new("t".into());
    let page = api.contacts("", 0, PAGE_ROWS as u32).await.unwrap();
    assert_eq!(names(page), ["From the service"]);
    assert_eq!(asked().len(), 1, "the service was asked: {:?}", asked());
    assert!(
        !early_kept(),
        "answers asked with another token are dropped"
    );

    // Same token, another address (the next page): not taken.
    set_early("t");
    let page = api.contacts("", PAGE_ROWS, PAGE_ROWS as u32).await.unwrap();
    assert!(page.items.is_empty(), "the service's second page");
    assert_eq!(asked().len(), 2, "the service was asked: {:?}", asked());
    assert!(
        early_kept(),
        "the first page's answer is still there to take"
    );

    // Same token and address: taken, the service not asked; then asked again.
    let before = asked().len();
    let page = api.contacts("", 0, PAGE_ROWS as u32).await.unwrap();
    assert_eq!(names(page), ["Asked early"]);
    assert_eq!(asked().len(), before, "not asked again: {:?}", asked());
    assert!(
        !early_kept(),
        "nothing left to take: the token's copy is gone"
    );
    let page = api.contacts("", 0, PAGE_ROWS as u32).await.unwrap();
    assert_eq!(
        names(page),
        ["From the service"],
        "an early answer is taken once"
    );
    assert_eq!(asked().len(), before + 1);
    js_sys::Reflect::delete_property(&js_sys::global(), &"__optinEarly".into()).unwrap();
}
