//! The embedding bridge: when a CRM page frames the app, the two talk over
//! `postMessage` (protocol in `optin_core::embed`, documented in the README).
//! Messages are accepted only from the parent window at the exact host origin,
//! which must be on the service's allow-list; ours are posted to that origin
//! only, never `"*"`.

use std::cell::RefCell;
use std::rc::Rc;

use optin_core::embed::{origin_allowed, AppMessage, HostMessage, PROTOCOL_VERSION};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// A live connection to the host page.
#[derive(Clone)]
pub struct Bridge {
    parent: web_sys::Window,
    host_origin: Rc<str>,
}

/// True when the app runs inside a frame.
pub fn is_framed() -> bool {
    let Some(window) = web_sys::window() else {
        return false;
    };
    match window.parent() {
        Ok(Some(parent)) => !js_sys::Object::is(&parent, &window),
        _ => false,
    }
}

/// The origin of the page framing us, as the browser reports it.
fn host_origin(window: &web_sys::Window) -> Option<String> {
    // `location.ancestorOrigins[0]` (Chromium, Safari) names the parent's origin.
    let ancestors = js_sys::Reflect::get(&window.location(), &"ancestorOrigins".into()).ok();
    if let Some(origin) = ancestors
        .filter(|list| !list.is_undefined())
        .and_then(|list| js_sys::Reflect::get(&list, &0.into()).ok())
        .and_then(|origin| origin.as_string())
    {
        return Some(origin);
    }
    // Browsers without ancestorOrigins: the referrer's origin (the host page loaded us).
    let referrer = window.document()?.referrer();
    let url = web_sys::Url::new(&referrer).ok()?;
    Some(url.origin())
}

async fn allowed_origins() -> Vec<String> {
    #[derive(serde::Deserialize)]
    struct EmbedConfig {
        allowed_origins: Vec<String>,
    }
    let response = gloo_net::http::Request::get("/embed/config").send().await;
    match response {
        Ok(response) if response.ok() => response
            .json::<EmbedConfig>()
            .await
            .map(|c| c.allowed_origins)
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

impl Bridge {
    /// Connects to the framing page if its origin is allowed, hands every
    /// valid message from it to `on_message`, and announces that the app is ready.
    pub async fn connect(on_message: impl Fn(HostMessage) + 'static) -> Option<Bridge> {
        let window = web_sys::window()?;
        let parent = window.parent().ok().flatten()?;
        let origin = host_origin(&window)?;
        if !origin_allowed(&origin, &allowed_origins().await) {
            web_sys::console::warn_1(
                &format!("not embedding: {origin} is not an allowed host").into(),
            );
            return None;
        }
        let bridge = Bridge {
            parent: parent.clone(),
            host_origin: origin.into(),
        };
        let expected = bridge.host_origin.clone();
        let listener =
            Closure::<dyn Fn(web_sys::MessageEvent)>::new(move |event: web_sys::MessageEvent| {
                let from_parent = event
                    .source()
                    .is_some_and(|source| js_sys::Object::is(&source, &parent));
                if event.origin() != *expected || !from_parent {
                    return;
                }
                let parsed = js_sys::JSON::stringify(&event.data())
                    .ok()
                    .and_then(|json| json.as_string())
                    .and_then(|json| HostMessage::parse(&json));
                match parsed {
                    Some(message) => on_message(message),
                    None => web_sys::console::warn_1(
                        &"ignored a malformed or unknown message from the host".into(),
                    ),
                }
            });
        window
            .add_event_listener_with_callback("message", listener.as_ref().unchecked_ref())
            .ok()?;
        // The listener lives as long as the page: the bridge is never torn down.
        listener.forget();
        bridge.send(&AppMessage::Ready {
            version: PROTOCOL_VERSION,
        });
        Some(bridge)
    }

    /// Posts a message to the host, at its exact origin.
    pub fn send(&self, message: &AppMessage) {
        let Ok(json) = serde_json::to_string(message) else {
            return;
        };
        let Ok(value) = js_sys::JSON::parse(&json) else {
            return;
        };
        let _ = self.parent.post_message(&value, &self.host_origin);
    }
}

thread_local! {
    /// The page's one bridge (the app is single-threaded; set once connected).
    static CURRENT: RefCell<Option<Bridge>> = const { RefCell::new(None) };
    /// The pending "token needed" timer, replaced by every new session.
    static RENEWAL: RefCell<Option<leptos::prelude::TimeoutHandle>> = const { RefCell::new(None) };
}

/// Remembers the connected bridge for [`send`].
pub fn install(bridge: Bridge) {
    CURRENT.with(|current| *current.borrow_mut() = Some(bridge));
}

/// Sends to the host when the app is embedded; does nothing otherwise.
pub fn send(message: &AppMessage) {
    CURRENT.with(|current| {
        if let Some(bridge) = current.borrow().as_ref() {
            bridge.send(message);
        }
    });
}

/// Asks the host for a fresh token a minute before `expires_at`.
pub fn schedule_renewal(expires_at: Option<chrono::DateTime<chrono::Utc>>) {
    let Some(expires_at) = expires_at else { return };
    let now_ms = js_sys::Date::now();
    let due_ms = (expires_at.timestamp_millis() as f64 - now_ms - 60_000.0).max(0.0);
    let handle = leptos::prelude::set_timeout_with_handle(
        move || {
            send(&AppMessage::TokenNeeded {
                version: PROTOCOL_VERSION,
                expires_at: Some(expires_at),
            })
        },
        std::time::Duration::from_millis(due_ms as u64),
    )
    .ok();
    RENEWAL.with(|renewal| {
        if let Some(previous) = renewal.replace(handle) {
            previous.clear();
        }
    });
}

/// Applies the host's theme: a fixed light or dark scheme, or the system's.
pub fn apply_theme(theme: optin_core::embed::Theme) {
    let Some(root) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.document_element())
    else {
        return;
    };
    let _ = match theme {
        optin_core::embed::Theme::Light => root.set_attribute("data-theme", "light"),
        optin_core::embed::Theme::Dark => root.set_attribute("data-theme", "dark"),
        optin_core::embed::Theme::System => root.remove_attribute("data-theme"),
    };
}
