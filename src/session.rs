//! The advisor's bearer token. It arrives in the URL fragment
//! (`#token=...`, never sent to servers or logs) and is then kept in
//! `sessionStorage` for reloads and removed from the address bar. No cookies.

use wasm_bindgen::JsValue;

const STORAGE_KEY: &str = "optin.token";

/// Takes the token from the fragment if present, else from session storage.
pub fn load_token() -> Option<String> {
    let window = web_sys::window()?;
    let storage = window.session_storage().ok().flatten();
    let location = window.location();
    let hash = location.hash().unwrap_or_default();
    if let Some(token) = token_from_fragment(&hash) {
        if let Some(storage) = &storage {
            let _ = storage.set_item(STORAGE_KEY, &token);
        }
        // Keep the token out of the address bar, history and screenshots.
        let clean = format!(
            "{}{}",
            location.pathname().unwrap_or_default(),
            location.search().unwrap_or_default()
        );
        if let Ok(history) = window.history() {
            let _ = history.replace_state_with_url(&JsValue::NULL, "", Some(&clean));
        }
        return Some(token);
    }
    storage?.get_item(STORAGE_KEY).ok().flatten()
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
