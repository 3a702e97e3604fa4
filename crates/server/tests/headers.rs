//! The security headers on what the browser loads: the app's deep links and
//! any other path answered by the SPA's index, its files, and the API.

mod support;

use support::extra::start_with;
use support::TestService;

const INDEX: &str = "<!doctype html><html><head><script>window.boot = 1;</script>\
<script type=\"module\" src=\"/app.js\"></script></head><body>the app's index</body></html>";

/// The service serving a built app from a temporary folder.
async fn start_with_app() -> (TestService, tempfile::TempDir) {
    let dist = tempfile::tempdir().unwrap();
    std::fs::write(dist.path().join("index.html"), INDEX).unwrap();
    std::fs::write(dist.path().join("app.js"), "console.log('app');").unwrap();
    let path = dist.path().to_path_buf();
    let t = start_with(move |config| config.static_dir = Some(path)).await;
    (t, dist)
}

/// Status, body and the three security headers of a GET.
async fn get(t: &TestService, path: &str) -> (u16, String, [Option<String>; 3]) {
    let response = t
        .http
        .get(format!("{}{path}", t.base))
        .send()
        .await
        .unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let headers = [
        header("content-security-policy"),
        header("referrer-policy"),
        header("x-content-type-options"),
    ];
    let status = response.status().as_u16();
    (status, response.text().await.unwrap(), headers)
}

/// The policy's directives as name → tokens.
fn directives(policy: &str) -> std::collections::HashMap<String, Vec<String>> {
    policy
        .split(';')
        .filter_map(|d| {
            let mut tokens = d.split_whitespace().map(str::to_owned);
            Some((tokens.next()?, tokens.collect()))
        })
        .collect()
}

#[track_caller]
fn assert_secure(path: &str, headers: &[Option<String>; 3]) {
    let [csp, referrer, nosniff] = headers;
    let csp = csp
        .as_deref()
        .unwrap_or_else(|| panic!("{path}: no Content-Security-Policy"));
    let directives = directives(csp);
    let script_src = &directives["script-src"];
    assert!(
        script_src.contains(&"'self'".to_owned()),
        "{path}: {script_src:?}"
    );
    assert!(
        !script_src
            .iter()
            .any(|t| t == "'unsafe-inline'" || t == "'unsafe-eval'" || t == "*"),
        "{path}: {script_src:?}"
    );
    let inline = optin_server::csp::inline_script_hashes(INDEX);
    assert_eq!(inline.len(), 1);
    assert!(
        script_src.contains(&inline[0]),
        "{path}: the index's inline script is allowed by its hash: {script_src:?}"
    );
    assert_eq!(
        directives["frame-ancestors"],
        ["'self'"],
        "{path}: framing by no one else"
    );
    assert_eq!(referrer.as_deref(), Some("no-referrer"), "{path}");
    assert_eq!(nosniff.as_deref(), Some("nosniff"), "{path}");
}

#[tokio::test]
async fn deep_links_get_the_index_with_the_security_headers() {
    let (t, _dist) = start_with_app().await;
    for path in ["/", "/contacts/7", "/contacts/7/messages", "/settings"] {
        let (status, body, headers) = get(&t, path).await;
        assert_eq!(status, 200, "{path}");
        assert_eq!(body, INDEX, "{path} is answered by the app's index");
        assert_secure(path, &headers);
    }
    t.service.stop().await;
}

#[tokio::test]
async fn files_the_spa_fallback_and_the_api_carry_the_security_headers() {
    let (t, _dist) = start_with_app().await;
    let (status, body, headers) = get(&t, "/app.js").await;
    assert_eq!((status, body.as_str()), (200, "console.log('app');"));
    assert_secure("/app.js", &headers);
    // Unknown paths outside the API fall back to the index.
    for path in ["/no/such/page", "/favicon.ico", "/contacts/7?tab=record"] {
        let (status, body, headers) = get(&t, path).await;
        assert_eq!((status, body.as_str()), (200, INDEX), "{path}");
        assert_secure(path, &headers);
    }
    // The API's own answers, an error included.
    for path in ["/api/v1/me", "/api/v1/no-such-route", "/embed/config"] {
        let (status, _, headers) = get(&t, path).await;
        assert!(
            status == 200 || status == 401 || status == 404,
            "{path}: {status}"
        );
        assert_secure(path, &headers);
    }
    t.service.stop().await;
}
