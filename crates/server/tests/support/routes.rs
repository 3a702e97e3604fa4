//! The routes the code declares, read from the source: every
//! `.route("path", method(handler)...)` of `src/routes/` (mounted under
//! `/api/v1`, `webhooks.rs` under `/webhooks`) and of `src/lib.rs` (mounted
//! at the root). Tests compare their tables and the OpenAPI document with
//! this, so a route added without its row or its annotation fails them.

use std::path::{Path, PathBuf};

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Where the routes of a file of `src/routes/` are mounted (see `app()` in `src/lib.rs`).
fn mount(file: &Path) -> &'static str {
    match file.file_name().and_then(|name| name.to_str()) {
        Some("webhooks.rs") => "/webhooks",
        _ => optin_core::api::API_PREFIX,
    }
}

/// `(METHOD, path as written)` of every `.route(...)` in `source`, with each
/// method of a chain (`get(list).post(create)`). Comment lines are skipped;
/// a declaration spread over several lines is read whole.
pub fn routes_in(source: &str) -> Vec<(String, String)> {
    let code: String = source
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut routes = Vec::new();
    let mut rest = code.as_str();
    while let Some(start) = rest.find(".route(") {
        rest = &rest[start + ".route(".len()..];
        let after = rest.trim_start();
        let Some(literal) = after.strip_prefix('"') else {
            panic!("a route whose path is not a string literal: .route({after:.60}");
        };
        let (path, mut handlers) = literal.split_once('"').expect("a closed path literal");
        // The handlers run to the parenthesis closing `.route(`.
        let mut depth = 1;
        for (i, c) in handlers.char_indices() {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                _ => {}
            }
            if depth == 0 {
                handlers = &handlers[..i];
                break;
            }
        }
        for method in METHODS {
            let call = format!("{method}(");
            let called = handlers.match_indices(&call).any(|(at, _)| {
                !handlers[..at]
                    .chars()
                    .next_back()
                    .is_some_and(|c| c.is_alphanumeric() || c == '_')
            });
            if called {
                routes.push((method.to_uppercase(), path.to_owned()));
            }
        }
    }
    routes
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
    files.sort();
    files
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The routes of the named files of `src/routes/`, paths as written there
/// (relative to where the file's router is mounted), sorted.
pub fn declared_in(files: &[&str]) -> Vec<(String, String)> {
    let mut routes: Vec<_> = files
        .iter()
        .flat_map(|file| routes_in(&read(&src().join("routes").join(file))))
        .collect();
    routes.sort();
    routes
}

/// Every route of the HTTP API with its full path: all of `src/routes/`
/// (any file, so a new module is included by itself) and `src/lib.rs`'s
/// own, sorted and without duplicates. The sandbox's routes are not part of
/// the API and are not read.
pub fn declared_routes() -> Vec<(String, String)> {
    let mut routes = Vec::new();
    for file in rust_files(&src().join("routes")) {
        let mount = mount(&file);
        routes.extend(
            routes_in(&read(&file))
                .into_iter()
                .map(|(method, path)| (method, format!("{mount}{path}"))),
        );
    }
    routes.extend(routes_in(&read(&src().join("lib.rs"))));
    routes.sort();
    routes.dedup();
    routes
}
