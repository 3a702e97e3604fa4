//! A modal dialog on the native `<dialog>` element. `showModal()` gives most
//! of what an accessible modal needs without script: the rest of the page
//! becomes inert (screen readers see only the dialog), Escape closes it, and
//! it sits in the top layer above everything, also inside a CRM's iframe.
//! Chromium still lets Tab leave the dialog for the browser's own controls,
//! so Tab on the last control wraps to the first (and Shift+Tab back). On
//! close, focus goes back to where it was before opening.

use leptos::html::Dialog;
use leptos::prelude::*;
use send_wrapper::SendWrapper;
use wasm_bindgen::JsCast;

/// The controls Tab can reach inside the dialog.
const FOCUSABLE: &str = "button:not([disabled]), [href], input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex='-1'])";

/// A modal dialog shown while `open` is true.
#[component]
pub fn Modal(
    /// Whether the dialog is shown.
    #[prop(into)]
    open: Signal<bool>,
    /// Called when the dialog closes by itself (Escape, or a `method="dialog"` form).
    on_close: Callback<()>,
    /// Id of the element naming the dialog (its heading).
    labelled_by: &'static str,
    /// Id of the element describing the dialog, if any.
    #[prop(optional)]
    described_by: Option<&'static str>,
    /// Role: `dialog` or `alertdialog`.
    #[prop(default = "dialog")]
    role: &'static str,
    children: Children,
) -> impl IntoView {
    let dialog = NodeRef::<Dialog>::new();
    let opener = StoredValue::new(SendWrapper::new(None::<web_sys::HtmlElement>));

    Effect::new(move |_| {
        let Some(el) = dialog.get() else { return };
        if open.get() {
            if !el.open() {
                let active = document()
                    .active_element()
                    .and_then(|a| a.dyn_into::<web_sys::HtmlElement>().ok());
                opener.set_value(SendWrapper::new(active));
                let _ = el.show_modal();
                // Focus the dialog's main action by hand: the `autofocus`
                // attribute is refused (with a console error) in a CRM's cross-origin frame.
                if let Some(first) = el
                    .query_selector("[data-autofocus]")
                    .ok()
                    .flatten()
                    .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
                {
                    let _ = first.focus();
                }
            }
        } else if el.open() {
            el.close();
        }
    });

    let restore_focus = move || {
        let previous = opener.with_value(|o| (**o).clone());
        if let Some(previous) = previous.filter(|p| p.is_connected()) {
            let _ = previous.focus();
        }
    };

    // Tab from the last control wraps to the first, Shift+Tab from the first to the last.
    let wrap_focus = move |event: web_sys::KeyboardEvent| {
        let Some(el) = dialog.get_untracked() else {
            return;
        };
        if event.key() != "Tab" {
            return;
        }
        let Ok(list) = el.query_selector_all(FOCUSABLE) else {
            return;
        };
        let controls: Vec<web_sys::HtmlElement> = (0..list.length())
            .filter_map(|i| list.item(i))
            .filter_map(|n| n.dyn_into::<web_sys::HtmlElement>().ok())
            .collect();
        let (Some(first), Some(last)) = (controls.first(), controls.last()) else {
            return;
        };
        let active = document().active_element();
        let at = |control: &web_sys::HtmlElement| {
            active.as_ref().is_some_and(|a| {
                let control: &web_sys::Element = control.as_ref();
                a == control
            })
        };
        let next = match event.shift_key() {
            true if at(first) => last,
            false if at(last) => first,
            _ => return,
        };
        event.prevent_default();
        let _ = next.focus();
    };

    view! {
        <dialog
            on:keydown=wrap_focus
            node_ref=dialog
            class="modal"
            role=role
            aria-modal="true"
            aria-labelledby=labelled_by
            aria-describedby=described_by
            on:close=move |_| {
                restore_focus();
                on_close.run(());
            }
        >
            {children()}
        </dialog>
    }
}
