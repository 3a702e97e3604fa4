//! Component tests, run in headless Chromium by wasm-bindgen-test.
#![cfg(target_arch = "wasm32")]

use leptos::prelude::*;
use optin_app::api::{Api, ClientError};
use optin_app::components::add_contact_form::{AddContactForm, FormErrors};
use optin_app::components::contact_row::ContactRow;
use optin_app::session::token_from_fragment;
use optin_core::api::{ConsentView, Contact};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;
use web_sys::{Event, EventInit, HtmlElement, HtmlInputElement};

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
    };
    let host = mount(move || view! { <ContactRow contact/> });
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
        "+447911123456"
    );
    assert_eq!(
        find::<HtmlElement>(&host, ".badge").text_content().unwrap(),
        "Not asked"
    );
    let whatsapp: HtmlElement = find(&host, "button[aria-label='WhatsApp Kerry Ann Fisher']");
    assert!(whatsapp.query_selector("svg").unwrap().is_some());
}

#[wasm_bindgen_test]
async fn contact_names_are_shown_as_text_never_as_markup() {
    let contact = Contact {
        id: 1,
        name: "<img src=x onerror=alert(1)>".into(),
        phone: "+1".into(),
    };
    let host = mount(move || view! { <ContactRow contact/> });
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
