//! Downloads of the consent record. The service needs the bearer token, so
//! a record cannot be a plain link: it is fetched, then handed to the browser
//! as a file (a Blob behind a temporary `<a download>`).

use std::future::Future;

use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::JsCast;

use crate::api::{ClientError, Download, ExportFormat};

/// Offers `file` to the person as a download named `file.name`.
pub fn save_file(file: &Download) {
    let parts = js_sys::Array::of1(&file.text.as_str().into());
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(&file.mime);
    let Ok(blob) = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options) else {
        return;
    };
    let Ok(url) = web_sys::Url::create_object_url_with_blob(&blob) else {
        return;
    };
    let anchor = document()
        .create_element("a")
        .ok()
        .and_then(|a| a.dyn_into::<web_sys::HtmlAnchorElement>().ok());
    if let Some(anchor) = anchor {
        anchor.set_href(&url);
        anchor.set_download(&file.name);
        anchor.click();
    }
    let _ = web_sys::Url::revoke_object_url(&url);
}

/// Two buttons, "`prefix` (CSV)" and "`prefix` (JSON lines)", that fetch and
/// save a record, with what happened in a live region beside them.
#[component]
pub fn DownloadButtons<F, Fut>(
    /// The buttons' words before the format ("Download record").
    prefix: &'static str,
    /// Fetches the file in the format asked.
    fetch: F,
) -> impl IntoView
where
    F: Fn(ExportFormat) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<Download, ClientError>> + 'static,
{
    let busy = RwSignal::new(false);
    let status = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let start = move |format: ExportFormat| {
        let fetch = fetch.clone();
        move |_| {
            if busy.get_untracked() {
                return;
            }
            busy.set(true);
            error.set(None);
            status.set("Preparing the file…".to_owned());
            let fetch = fetch.clone();
            spawn_local(async move {
                match fetch(format).await {
                    Ok(file) => {
                        save_file(&file);
                        let _ = status.try_set(format!("Downloaded {}.", file.name));
                    }
                    Err(e) => {
                        let _ = status.try_set(String::new());
                        let _ = error.try_set(Some(e.to_string()));
                    }
                }
                let _ = busy.try_set(false);
            });
        }
    };
    view! {
        <div class="downloads">
            <button type="button" class="button" disabled=move || busy.get() on:click=start(ExportFormat::Csv)>
                {prefix} " (CSV)"
            </button>
            <button type="button" class="button" disabled=move || busy.get() on:click=start(ExportFormat::JsonLines)>
                {prefix} " (JSON lines)"
            </button>
            <p class="downloads__status muted" role="status">{move || status.get()}</p>
            <p class="error" role="alert">{move || error.get()}</p>
        </div>
    }
}
