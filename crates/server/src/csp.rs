//! The Content-Security-Policy of the app: nothing but our own files, the
//! one inline bootstrap script Trunk writes (allowed by its hash), WebAssembly,
//! and framing by the configured CRM origins only.

use sha2::{Digest, Sha256};

/// `'sha256-...'` sources of every inline `<script>` in an HTML page.
pub fn inline_script_hashes(html: &str) -> Vec<String> {
    use base64::Engine;
    let mut hashes = Vec::new();
    let mut rest = html;
    while let Some(open) = rest.find("<script") {
        let after_open = &rest[open..];
        let Some(tag_end) = after_open.find('>') else {
            break;
        };
        let tag = &after_open[..tag_end];
        let body_start = &after_open[tag_end + 1..];
        let Some(close) = body_start.find("</script>") else {
            break;
        };
        if !tag.contains("src=") {
            let digest = Sha256::digest(&body_start.as_bytes()[..close]);
            hashes.push(format!(
                "'sha256-{}'",
                base64::engine::general_purpose::STANDARD.encode(digest)
            ));
        }
        rest = &body_start[close..];
    }
    hashes
}

/// The policy for pages served with `index_html` and framed by `frame_ancestors`.
pub fn policy(index_html: Option<&str>, frame_ancestors: &str) -> String {
    let hashes = index_html
        .map(inline_script_hashes)
        .unwrap_or_default()
        .join(" ");
    format!(
        "default-src 'none'; script-src 'self' 'wasm-unsafe-eval' {hashes}; style-src 'self'; \
         style-src-attr 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
         base-uri 'none'; form-action 'self'; frame-ancestors {frame_ancestors}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_scripts_are_hashed_and_external_ones_are_not() {
        let html =
            "<script type=module>import init from '/a.js';</script><script src=/b.js></script>";
        let hashes = inline_script_hashes(html);
        assert_eq!(hashes.len(), 1);
        assert!(hashes[0].starts_with("'sha256-") && hashes[0].ends_with('\''));
        let policy = policy(Some(html), "'self' https://crm.example");
        assert!(policy.contains(&hashes[0]));
        assert!(policy.ends_with("frame-ancestors 'self' https://crm.example"));
        let scripts = directive(&policy, "script-src");
        assert_eq!(
            scripts,
            ["'self'", "'wasm-unsafe-eval'", hashes[0].as_str()],
            "only our files, WebAssembly and the hashed inline script"
        );
        for forbidden in ["'unsafe-eval'", "'unsafe-inline'", "*", "data:", "blob:"] {
            assert!(
                !scripts.contains(&forbidden),
                "script-src allows {forbidden}"
            );
        }
        assert_eq!(directive(&policy, "default-src"), ["'none'"]);
        assert_eq!(
            directive(&policy, "frame-ancestors"),
            ["'self'", "https://crm.example"]
        );
    }

    #[test]
    fn without_an_index_page_no_inline_script_is_allowed() {
        let policy = policy(None, "'self'");
        assert_eq!(
            directive(&policy, "script-src"),
            ["'self'", "'wasm-unsafe-eval'"]
        );
    }

    /// The source tokens of one directive; panics unless it appears exactly once.
    fn directive<'a>(policy: &'a str, name: &str) -> Vec<&'a str> {
        let found: Vec<Vec<&str>> = policy
            .split(';')
            .map(|d| d.split_whitespace().collect::<Vec<_>>())
            .filter(|tokens| tokens.first() == Some(&name))
            .map(|tokens| tokens[1..].to_vec())
            .collect();
        assert_eq!(found.len(), 1, "{name} appears once in {policy}");
        found.into_iter().next().unwrap()
    }
}
