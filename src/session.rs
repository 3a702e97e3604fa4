//! The advisor's bearer token. It arrives in the URL fragment
//! (`#token=...`, never sent to servers or logs) and is then kept in
//! `sessionStorage` for reloads and removed from the address bar. No cookies.

use wasm_bindgen::JsValue;

const STORAGE_KEY: &str = "optin.token";

/// The session the app runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The token in use.
    pub token: String,
    /// A different token a link brought while a session was already signed
    /// in: not used until the person chooses it, so a link (perhaps someone
    /// else's, perhaps planted) never silently swaps whose data is shown.
    pub unused_link: Option<String>,
}

/// Chooses between the token of a link and the one kept for this tab: the
/// link's when nothing is kept (or it is the same), else the kept one, with
/// the link's set aside for the person to choose.
pub fn choose(link: Option<String>, kept: Option<String>) -> Option<Session> {
    match (link, kept) {
        (Some(link), Some(kept)) if link != kept => Some(Session {
            token: kept,
            unused_link: Some(link),
        }),
        (Some(token), _) | (None, Some(token)) => Some(Session {
            token,
            unused_link: None,
        }),
        (None, None) => None,
    }
}

/// The session from the fragment and session storage (see [`choose`]); the
/// token always leaves the address bar.
pub fn load_session() -> Option<Session> {
    let window = web_sys::window()?;
    let storage = window.session_storage().ok().flatten();
    let location = window.location();
    let link = token_from_fragment(&location.hash().unwrap_or_default());
    if link.is_some() {
        // Keep the token out of the address bar, history and screenshots.
        let clean = format!(
            "{}{}",
            location.pathname().unwrap_or_default(),
            location.search().unwrap_or_default()
        );
        if let Ok(history) = window.history() {
            let _ = history.replace_state_with_url(&JsValue::NULL, "", Some(&clean));
        }
    }
    let kept = storage
        .as_ref()
        .and_then(|s| s.get_item(STORAGE_KEY).ok().flatten());
    let session = choose(link, kept.clone())?;
    // Written only when it changes: the first write to the tab's storage
    // costs milliseconds of the first screen.
    if session.unused_link.is_none() && kept.as_deref() != Some(session.token.as_str()) {
        keep(&session.token);
    }
    Some(session)
}

/// Replaces the tab's session with `token` and starts the app again with it.
pub fn switch_to(token: &str) {
    keep(token);
    if let Some(window) = web_sys::window() {
        let _ = window.location().reload();
    }
}

fn keep(token: &str) {
    if let Some(storage) = web_sys::window().and_then(|w| w.session_storage().ok().flatten()) {
        let _ = storage.set_item(STORAGE_KEY, token);
    }
}

/// Reads `token=` out of a fragment such as `#token=abc&x=1`.
pub fn token_from_fragment(hash: &str) -> Option<String> {
    hash.trim_start_matches('#')
        .split('&')
        .find_map(|pair| pair.strip_prefix("token="))
        .filter(|token| {
            !token.is_empty()
                && token
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        })
        .map(str::to_owned)
}
