//! The hand-over from the first screen that `first_screen.js` draws from the
//! early answers, while the wasm downloads, to the app's own.
//!
//! Until then the app's page is built but hidden (`data-first-screen` on
//! `<html>`, see `style/main.css`). Each screen that could come first calls
//! [`hand_over`] once it shows what it is for (the contact list its rows or
//! its count, any other screen at once), so no frame shows the app half
//! drawn, nor both.

const SHOWN: &str = "data-app-shown";

/// Shows the app's page and removes the drawn first screen, if any; from
/// then on `first_screen.js` draws nothing. Idempotent.
pub fn hand_over() {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    let Some(root) = document.document_element() else {
        return;
    };
    if root.has_attribute(SHOWN) {
        return;
    }
    let _ = root.set_attribute(SHOWN, "");
    let _ = root.remove_attribute("data-first-screen");
    let _ = root.remove_attribute("data-first-screen-pressed");
    if let Some(screen) = document.get_element_by_id("first-screen") {
        screen.remove();
    }
    // The app's rows are written after this, in the same task.
    leptos::prelude::request_animation_frame(press_kept);
}

/// Does what was pressed on the first screen (`window.__optinPressed`, kept
/// by `first_screen.js`) on the app's row for the same contact, once.
fn press_kept() {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    let global = js_sys::global();
    let key = wasm_bindgen::JsValue::from_str("__optinPressed");
    let Ok(pressed) = js_sys::Reflect::get(&global, &key) else {
        return;
    };
    let _ = js_sys::Reflect::delete_property(&global, &key);
    let field = |name: &str| js_sys::Reflect::get(&pressed, &name.into()).ok();
    let contact = field("contact").and_then(|v| v.as_string());
    let Some(contact) = contact.filter(|id| id.bytes().all(|b| b.is_ascii_digit())) else {
        return;
    };
    let Some(control) = field("control").and_then(|v| v.as_f64()) else {
        return;
    };
    // The same place among the row's links and buttons as on the first screen.
    let row = format!("ul[aria-label='Contacts'] > li[data-contact-id='{contact}']");
    let target = document
        .query_selector(&row)
        .ok()
        .flatten()
        .and_then(|row| row.query_selector_all("a, button").ok())
        .and_then(|controls| controls.item(control as u32))
        .and_then(|el| wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlElement>(el).ok());
    if let Some(target) = target {
        target.click();
    }
}
