//! The OpenAPI document (`GET /api/v1/openapi.json`) against the code: it
//! lists exactly the routes the route modules declare (method and path), it
//! is OpenAPI 3.1, every operation that can refuse documents its refusals
//! with the `ErrorBody` shape, its references resolve, its security names
//! the schemes it defines, and the running service serves it unauthenticated.

mod support;

use std::collections::BTreeSet;

use serde_json::Value;
use support::routes::{declared_routes, routes_in};

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Routes that cannot refuse a request: no 4xx to document.
const CANNOT_REFUSE: [(&str, &str); 3] = [
    ("GET", "/api/v1/openapi.json"),
    ("GET", "/api/v1/evidence/public-key"),
    ("GET", "/embed/config"),
];
/// Routes whose refusal has no body (Meta's verification handshake: a bare 403).
const BARE_REFUSAL: [(&str, &str); 1] = [("GET", "/webhooks/whatsapp")];

fn document() -> Value {
    serde_json::to_value(optin_server::openapi::document()).unwrap()
}

/// `(METHOD, path, operation)` of every operation of the document.
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut operations = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS {
            if let Some(operation) = item.get(method) {
                operations.push((method.to_uppercase(), path.clone(), operation.clone()));
            }
        }
    }
    operations
}

/// The same path in both notations: axum 0.8 and OpenAPI both write `{name}`;
/// an older axum `:name` segment is read as `{name}`.
fn normalized(path: &str) -> String {
    path.split('/')
        .map(|segment| match segment.strip_prefix(':') {
            Some(name) => format!("{{{name}}}"),
            None => segment.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn is_error_body(content: &Value) -> bool {
    content["application/json"]["schema"]["$ref"] == "#/components/schemas/ErrorBody"
}

#[test]
fn the_document_lists_exactly_the_declared_routes() {
    let declared: BTreeSet<(String, String)> = declared_routes()
        .into_iter()
        .map(|(method, path)| (method, normalized(&path)))
        .collect();
    assert!(
        declared.contains(&("GET".into(), "/api/v1/contacts/{id}".into()))
            && declared.contains(&("POST".into(), "/webhooks/sms".into()))
            && declared.contains(&("GET".into(), "/embed/config".into())),
        "the route reader finds the API, the webhooks and lib.rs's routes: {declared:?}"
    );
    let documented: BTreeSet<(String, String)> = operations(&document())
        .into_iter()
        .map(|(method, path, _)| (method, normalized(&path)))
        .collect();
    let undocumented: Vec<_> = declared.difference(&documented).collect();
    let unknown: Vec<_> = documented.difference(&declared).collect();
    assert!(
        undocumented.is_empty() && unknown.is_empty(),
        "the OpenAPI document and the routes disagree.\n\
         Declared but not documented (annotate the handler with #[utoipa::path] and \
         list it in paths(...) of src/openapi.rs): {undocumented:?}\n\
         Documented but not declared: {unknown:?}"
    );
}

#[test]
fn the_document_is_openapi_3_1_with_its_error_shape_and_security() {
    let doc = document();
    let version = doc["openapi"].as_str().unwrap();
    assert!(version.starts_with("3.1."), "OpenAPI {version}");
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let error_body = &schemas["ErrorBody"];
    let required: BTreeSet<&str> = error_body["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(required, BTreeSet::from(["code", "message"]));
    for field in ["code", "message", "field", "allowed_at"] {
        assert!(
            error_body["properties"].get(field).is_some(),
            "ErrorBody has {field}"
        );
    }
    // Vocabulary enums are their wire names.
    let statuses: Vec<&str> = optin_core::vocab::MessageStatus::ALL
        .iter()
        .map(|s| s.as_str())
        .collect();
    assert_eq!(
        schemas["MessageStatus"]["enum"],
        serde_json::json!(statuses)
    );
    assert_eq!(
        schemas["ConsentView"]["enum"][6], "opted_in",
        "{}",
        schemas["ConsentView"]
    );
    let schemes = doc["components"]["securitySchemes"].as_object().unwrap();
    for scheme in ["bearer", "api_key"] {
        assert_eq!(schemes[scheme]["type"], "http", "{scheme}");
        assert_eq!(schemes[scheme]["scheme"], "bearer", "{scheme}");
    }

    let mut wrong = Vec::new();
    for (method, path, operation) in operations(&doc) {
        let route = (method.as_str(), path.as_str());
        let mut fault = |what: String| wrong.push(format!("{method} {path}: {what}"));
        if operation["tags"]
            .as_array()
            .is_none_or(|tags| tags.is_empty())
        {
            fault("no tag".into());
        }
        let responses = operation["responses"].as_object().unwrap();
        if !responses.keys().any(|status| status.starts_with('2')) {
            fault("no success response".into());
        }
        // Every error answer is the ErrorBody shape (but the handshake's bare 403).
        for (status, response) in responses {
            let error = status.starts_with('4') || status.starts_with('5');
            if error && !BARE_REFUSAL.contains(&route) && !is_error_body(&response["content"]) {
                fault(format!("{status} does not answer ErrorBody"));
            }
        }
        let refusals: Vec<&String> = responses.keys().filter(|s| s.starts_with('4')).collect();
        if CANNOT_REFUSE.contains(&route) {
            if !refusals.is_empty() {
                fault(format!(
                    "listed as never refusing, but documents {refusals:?}"
                ));
            }
        } else if BARE_REFUSAL.contains(&route) {
            if refusals.is_empty() {
                fault("no 4xx response".into());
            }
        } else if !refusals
            .iter()
            .any(|status| is_error_body(&responses[status.as_str()]["content"]))
        {
            fault("no 4xx response with the ErrorBody schema".into());
        }
        // Authentication: a person's token on /api/v1, an organization API
        // key on the integration routes, either on the admin routes (an
        // admin-scoped key or an admin's token), none on the public ones and
        // the webhooks (which are signed).
        let security: BTreeSet<String> = operation["security"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|requirement| requirement.as_object().unwrap().keys().cloned())
            .collect();
        let want: BTreeSet<String> = if path == "/metrics" {
            // The operator's scrape token.
            BTreeSet::from(["bearer".to_owned()])
        } else if CANNOT_REFUSE.contains(&route) || !path.starts_with(optin_core::api::API_PREFIX) {
            BTreeSet::new()
        } else if path.starts_with("/api/v1/integrations/") {
            BTreeSet::from(["api_key".to_owned()])
        } else if path.starts_with("/api/v1/admin/") {
            BTreeSet::from(["api_key".to_owned(), "bearer".to_owned()])
        } else {
            BTreeSet::from(["bearer".to_owned()])
        };
        if security != want {
            fault(format!("security {security:?}, want {want:?}"));
        }
        if !security.is_empty() && !responses.contains_key("401") {
            fault("needs a token but documents no 401".into());
        }
        // Each `{name}` of the path is a documented path parameter.
        let params: BTreeSet<&str> = operation["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["in"] == "path")
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        let in_path: BTreeSet<&str> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .collect();
        if params != in_path {
            fault(format!(
                "path parameters {params:?}, the path has {in_path:?}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));

    // Every schema reference resolves to a schema of the document.
    let text = doc.to_string();
    for reference in text.split("\"$ref\":\"").skip(1) {
        let reference = reference.split('"').next().unwrap();
        let name = reference
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("a reference outside the schemas: {reference}"));
        assert!(schemas.contains_key(name), "{reference} is not defined");
    }
}

#[tokio::test]
async fn the_service_serves_the_document_without_authentication() {
    let t = support::start().await;
    let response = t
        .http
        .get(format!("{}/api/v1/openapi.json", t.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    let served: Value = response.json().await.unwrap();
    assert_eq!(served, document());
    t.service.stop().await;
}

#[test]
fn declarations_are_read_whole_and_chains_give_each_method() {
    let source = r#"
        // .route("/commented", get(nothing))
        Router::new()
            .route("/a", get(list).post(create))
            .route(
                "/b/{id}",
                axum::routing::delete(remove).patch(budget(x)),
            )
            .route_layer(x)
            .route("/c", post(target_post))
    "#;
    assert_eq!(
        routes_in(source),
        [
            ("GET", "/a"),
            ("POST", "/a"),
            ("PATCH", "/b/{id}"),
            ("DELETE", "/b/{id}"),
            ("POST", "/c"),
        ]
        .map(|(m, p)| (m.to_owned(), p.to_owned()))
    );
}
