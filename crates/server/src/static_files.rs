//! The web app's files: precompressed (`.br`, `.gz` beside each file, written
//! by `cargo xtask` after Trunk's build) and cached by what their names say.
//! Trunk names the wasm, JS and CSS by a hash of their content, so a browser
//! keeps them for a year without asking again; anything else (the SPA's
//! `index.html` above all, which names the current hashes) is revalidated on
//! every load, so a new release is picked up at once.

use std::path::Path;

use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use tower_http::services::{ServeDir, ServeFile};

/// `Cache-Control` of a file whose name carries its content's hash.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// `Cache-Control` of everything else: use it, but ask first.
const REVALIDATE: &str = "no-cache";

/// Serves `dir`, with its `index.html` for any other address (the app's
/// routes), each in the best encoding the browser accepts.
pub fn service<S: Clone + Send + Sync + 'static>(dir: &Path) -> Router<S> {
    let index = ServeFile::new(dir.join("index.html"))
        .precompressed_br()
        .precompressed_gzip();
    let files = ServeDir::new(dir)
        .precompressed_br()
        .precompressed_gzip()
        .fallback(index);
    Router::new()
        .fallback_service(files)
        .layer(middleware::from_fn(cache_control))
}

async fn cache_control(request: Request, next: Next) -> Response {
    let immutable = content_addressed(request.uri().path());
    let mut response = next.run(request).await;
    // A hash that is gone gets the index (the fallback): never kept a year.
    let is_index = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|t| t.as_bytes().starts_with(b"text/html"));
    let value = if immutable && response.status().is_success() && !is_index {
        IMMUTABLE
    } else {
        REVALIDATE
    };
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(value));
    // The body depends on Accept-Encoding (br, gzip or none): a shared cache
    // must not hand a brotli body to a browser that did not ask for it.
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    response
}

/// Whether a path names a file by its content's hash, as Trunk does:
/// `name-<16 hex digits>.js`, `name-<16 hex digits>_bg.wasm`, `.css`.
fn content_addressed(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or_default();
    let Some((stem, extension)) = name.rsplit_once('.') else {
        return false;
    };
    if !matches!(extension, "js" | "wasm" | "css") {
        return false;
    }
    let stem = stem.strip_suffix("_bg").unwrap_or(stem);
    stem.rsplit_once('-')
        .is_some_and(|(_, hash)| hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use tower::ServiceExt;

    #[test]
    fn only_hashed_asset_names_are_content_addressed() {
        for hashed in [
            "/optin-app-78a66f8f42ffd747.js",
            "/optin-app-78a66f8f42ffd747_bg.wasm",
            "/main-92ed60057ae72dac.css",
            "/sandbox/phone-app/phone-0123456789abcdef.js",
        ] {
            assert!(content_addressed(hashed), "{hashed}");
        }
        for plain in [
            "/",
            "/index.html",
            "/contacts/12",
            "/app.js",
            "/optin-app-78a66f8f42ffd74.js",
            "/optin-app-78a66f8f42ffd74z.js",
            "/notes-78a66f8f42ffd747.txt",
        ] {
            assert!(!content_addressed(plain), "{plain}");
        }
    }

    async fn get(app: &Router, path: &str, accept_encoding: &str) -> Response {
        app.clone()
            .oneshot(
                Request::get(path)
                    .header(header::ACCEPT_ENCODING, accept_encoding)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap()
    }

    fn header_of(response: &Response, name: header::HeaderName) -> Option<&str> {
        response.headers().get(name).and_then(|v| v.to_str().ok())
    }

    #[tokio::test]
    async fn assets_come_precompressed_and_cached_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let wasm = "optin-app-78a66f8f42ffd747_bg.wasm";
        std::fs::write(dir.path().join(wasm), b"plain wasm").unwrap();
        std::fs::write(dir.path().join(format!("{wasm}.br")), b"brotli wasm").unwrap();
        std::fs::write(dir.path().join(format!("{wasm}.gz")), b"gzip wasm").unwrap();
        std::fs::write(dir.path().join("index.html"), b"<html>app</html>").unwrap();
        let app: Router = service(dir.path());

        let brotli = get(&app, &format!("/{wasm}"), "gzip, br").await;
        assert_eq!(header_of(&brotli, header::CONTENT_ENCODING), Some("br"));
        assert_eq!(header_of(&brotli, header::CACHE_CONTROL), Some(IMMUTABLE));
        assert_eq!(header_of(&brotli, header::VARY), Some("accept-encoding"));
        let gzip = get(&app, &format!("/{wasm}"), "gzip").await;
        assert_eq!(header_of(&gzip, header::CONTENT_ENCODING), Some("gzip"));
        let plain = get(&app, &format!("/{wasm}"), "identity").await;
        assert_eq!(header_of(&plain, header::CONTENT_ENCODING), None);
        assert_eq!(
            header_of(&plain, header::CONTENT_TYPE),
            Some("application/wasm")
        );

        // The app's own routes get the index, which is always revalidated.
        for path in ["/", "/contacts/12"] {
            let index = get(&app, path, "br").await;
            assert!(index.status().is_success(), "{path}");
            assert_eq!(
                header_of(&index, header::CACHE_CONTROL),
                Some(REVALIDATE),
                "{path}"
            );
        }
        // An old hash that is gone falls back to the index: never cached for a year.
        let gone = get(&app, "/optin-app-0000000000000000_bg.wasm", "br").await;
        assert_eq!(header_of(&gone, header::CACHE_CONTROL), Some(REVALIDATE));
    }
}
