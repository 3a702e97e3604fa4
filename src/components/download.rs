//! Downloads of the consent record and of a number's evidence bundle. The
//! service needs the bearer token, so a file cannot be a plain link: it is
//! fetched, then handed to the browser as a file (a Blob behind a temporary
//! `<a download>`).

use std::future::Future;

use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::JsCast;

use crate::api::{ClientError, Download, ExportFormat};

/// Offers `file` to the person as a download named `file.name`.
pub fn save_file(file: &Download) {
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(file.bytes.as_slice()));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(&file.mime);
    let Ok(blob) = web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &options) else {
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

/// What a download control shows: busy while the file is fetched, then
/// what happened, in a live region (and an alert when it failed).
#[derive(Clone, Copy)]
struct Progress {
    busy: RwSignal<bool>,
    status: RwSignal<String>,
    error: RwSignal<Option<String>>,
}

impl Progress {
    fn new() -> Self {
        Self {
            busy: RwSignal::new(false),
            status: RwSignal::new(String::new()),
            error: RwSignal::new(None),
        }
    }

    /// Fetches and saves a file, unless one is already being fetched.
    fn run<Fut>(self, fetching: impl FnOnce() -> Fut)
    where
        Fut: Future<Output = Result<Download, ClientError>> + 'static,
    {
        if self.busy.get_untracked() {
            return;
        }
        self.busy.set(true);
        self.error.set(None);
        self.status.set("Preparing the file…".to_owned());
        let fetching = fetching();
        spawn_local(async move {
            match fetching.await {
                Ok(file) => {
                    save_file(&file);
                    let _ = self.status.try_set(format!("Downloaded {}.", file.name));
                }
                Err(e) => {
                    let _ = self.status.try_set(String::new());
                    let _ = self.error.try_set(Some(e.to_string()));
                }
            }
            let _ = self.busy.try_set(false);
        });
    }

    fn messages(self) -> impl IntoView {
        view! {
            <p class="downloads__status muted" role="status">{move || self.status.get()}</p>
            <p class="error" role="alert">{move || self.error.get()}</p>
        }
    }
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
    let progress = Progress::new();
    let start = move |format: ExportFormat| {
        let fetch = fetch.clone();
        move |_| progress.run(|| fetch(format))
    };
    view! {
        <div class="downloads">
            <button type="button" class="button" disabled=move || progress.busy.get() on:click=start(ExportFormat::Csv)>
                {prefix} " (CSV)"
            </button>
            <button type="button" class="button" disabled=move || progress.busy.get() on:click=start(ExportFormat::JsonLines)>
                {prefix} " (JSON lines)"
            </button>
            {progress.messages()}
        </div>
    }
}

/// One button that fetches and saves a file, with what happened in a live
/// region beside it.
#[component]
pub fn DownloadButton<F, Fut>(
    /// The button's words ("Download evidence bundle").
    label: &'static str,
    /// The id of the text that says what the file holds (`aria-describedby`).
    described_by: &'static str,
    /// Fetches the file.
    fetch: F,
) -> impl IntoView
where
    F: Fn() -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<Download, ClientError>> + 'static,
{
    let progress = Progress::new();
    view! {
        <div class="downloads">
            <button
                type="button"
                class="button"
                aria-describedby=described_by
                disabled=move || progress.busy.get()
                on:click=move |_| progress.run(fetch.clone())
            >
                {label}
            </button>
            {progress.messages()}
        </div>
    }
}
