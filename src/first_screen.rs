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
    if let Some(screen) = document.get_element_by_id("first-screen") {
        screen.remove();
    }
}
