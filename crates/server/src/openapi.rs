//! The OpenAPI 3.1 document of the HTTP API (advisor, integration, webhook
//! and public routes), generated from the code by `utoipa` and served,
//! without authentication, at `GET /api/v1/openapi.json`.
//!
//! To document a new route (the admin and compliance APIs included):
//! 1. annotate its handler with `#[utoipa::path(...)]`: the method, the full
//!    path (`/api/v1/...`, path parameters as `{id}` like axum's), a `tag`,
//!    `security(("bearer" = []))` for a person's token (or `"api_key"` for
//!    an organization API key; both, `security(("api_key" = []), ("bearer" =
//!    []))`, where either is accepted, as on the admin routes), its params,
//!    request body, success responses and each error status of its own with
//!    `body = optin_core::api::ErrorBody` (403 included where the role or the
//!    key's scope is refused, see `crate::auth`);
//! 2. add the handler to `paths(...)` in [`ApiDoc`] below (a new route module
//!    is declared `pub(crate)` in `routes/mod.rs` for that).
//!
//! The wire types a path names are collected into the document by
//! themselves: derive `ToSchema` on them (`#[cfg_attr(feature = "openapi",
//! derive(utoipa::ToSchema))]` in `optin-core`). The errors every route
//! shares are added by [`SharedErrors`], not written per handler: 401 to
//! every operation that needs a token or key; 422 to `/api/v1` operations
//! with path or query parameters (a value of the wrong type); 400, 413 and
//! 415 to `/api/v1` operations with a JSON body; 500 to every `/api/v1` operation but the
//! public ones (tag `public`).
//!
//! `tests/openapi.rs` fails while the document and the `.route(...)`
//! declarations of `src/routes/` (and `/embed/config`) disagree.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use axum::http::header;
use axum::response::IntoResponse;
use optin_core::api::API_PREFIX;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use crate::routes::{
    admin, compliance, consent, contacts, events, evidence, holds, integrations, me, messages,
    revocations, webhooks,
};

/// The whole document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "WhatsApp opt-in for advisors",
        description = "Advisors ask their contacts for WhatsApp consent, message them once \
            they opted in, and keep a tamper-evident consent record. Every error answers \
            `ErrorBody` (`{code, message, field?, allowed_at?}`); clients branch on `code`.",
        // Not an SPDX identifier, so not Cargo's `license` (utoipa's default).
        license(name = "Proprietary"),
    ),
    paths(
        me::me,
        contacts::list,
        contacts::create,
        contacts::one,
        contacts::update,
        contacts::open,
        consent::request,
        consent::resend,
        consent::preview,
        consent::consent,
        consent::record,
        consent::export,
        messages::conversation,
        messages::send,
        messages::send_sms,
        messages::templates,
        events::events,
        integrations::mint,
        integrations::revoke,
        compliance::numbers,
        compliance::timeline,
        compliance::record,
        compliance::bundle,
        compliance::raw,
        compliance::chain,
        compliance::advisors,
        compliance::reviews,
        compliance::access_log,
        compliance::archive,
        evidence::public_key,
        holds::holds,
        holds::place,
        holds::release,
        revocations::record_for_contact,
        revocations::resolve_for_contact,
        revocations::record_for_number,
        revocations::resolve_for_number,
        revocations::open_flags,
        admin::organization,
        admin::update,
        admin::advisors,
        admin::create_advisor,
        admin::disable_advisor,
        admin::api_keys,
        admin::create_api_key,
        admin::expire_api_key,
        admin::revoke_api_key,
        admin::unrouted,
        admin::replay,
        admin::put_template,
        webhooks::handshake,
        webhooks::whatsapp,
        webhooks::sms,
        crate::routes::metrics::serve,
        crate::embed_config,
        serve,
    ),
    components(schemas(
        optin_core::api::ErrorBody,
        optin_core::api::LiveEvent,
        optin_core::archive::ArchiveManifest
    )),
    modifiers(&SharedErrors),
    tags(
        (name = "advisor", description = "The signed-in advisor's contacts, consent and messages (advisor token)."),
        (name = "integration", description = "Server-to-server calls of a CRM backend (integration-scoped organization API key)."),
        (name = "compliance", description = "Organization-wide reads and exports for the `compliance` and `admin` roles (person token); advisors get 403."),
        (name = "admin", description = "Provisioning of the caller's own organization: an admin-scoped organization API key, or a person with the `admin` role."),
        (name = "webhook", description = "Provider callbacks, authenticated by their signatures."),
        (name = "public", description = "No authentication."),
        (name = "operator", description = "Service-wide, for the operator: a bearer token set in the service's environment."),
    ),
)]
pub struct ApiDoc;

/// Answer of the sending routes: the id of the queued message.
#[derive(utoipa::ToSchema)]
pub struct Queued {
    pub id: i64,
}

/// `GET /embed/config`: the host origins that may frame the app and talk to
/// it over `postMessage`.
#[derive(utoipa::ToSchema)]
pub struct EmbedConfig {
    pub allowed_origins: Vec<String>,
}

/// The document, built once.
pub fn document() -> &'static utoipa::openapi::OpenApi {
    static DOCUMENT: OnceLock<utoipa::openapi::OpenApi> = OnceLock::new();
    DOCUMENT.get_or_init(ApiDoc::openapi)
}

/// This document as JSON.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "public",
    responses((status = 200, description = "The OpenAPI 3.1 document of the HTTP API.", content_type = "application/json", body = Object)),
)]
pub async fn serve() -> impl IntoResponse {
    static JSON: OnceLock<String> = OnceLock::new();
    let json = JSON.get_or_init(|| {
        document()
            .to_pretty_json()
            .expect("the document serializes")
    });
    ([(header::CONTENT_TYPE, "application/json")], json.as_str())
}

/// The security schemes, and the error responses every route shares.
struct SharedErrors;

impl Modify for SharedErrors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A person's token (role `advisor`, `compliance` or `admin`), minted by \
                         the CRM backend with `POST /api/v1/integrations/advisor-tokens` \
                         (short-lived).",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("ok_...")
                    .description(Some(
                        "An organization API key (`ok_...`, created with \
                         `optin-server api-key create` or `POST /api/v1/admin/api-keys`), \
                         sent as a bearer token. Its scope is `integration` (the \
                         integration routes) or `admin` (the admin routes).",
                    ))
                    .build(),
            ),
        );
        for (path, item) in openapi.paths.paths.iter_mut() {
            let api = path.starts_with(API_PREFIX);
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                let public = operation
                    .tags
                    .as_ref()
                    .is_some_and(|tags| tags.iter().any(|tag| tag == "public"));
                let secured = operation.security.as_ref().is_some_and(|s| !s.is_empty());
                let json_body = operation
                    .request_body
                    .as_ref()
                    .is_some_and(|body| body.content.contains_key("application/json"));
                let has_query = operation.parameters.as_ref().is_some_and(|parameters| {
                    parameters
                        .iter()
                        .any(|p| p.parameter_in == utoipa::openapi::path::ParameterIn::Query)
                });
                let responses = &mut operation.responses.responses;
                if api && (path.contains('{') || has_query) {
                    add(
                        responses,
                        "422",
                        "A path or query value of the wrong type (`invalid_path`, `invalid_query`).",
                    );
                }
                if secured {
                    add(
                        responses,
                        "401",
                        "No token, or an unknown, expired or revoked one (`unauthorized`); \
                         answered with `WWW-Authenticate: Bearer`.",
                    );
                }
                if api && json_body {
                    add(
                        responses,
                        "400",
                        "The body is not the JSON this route takes (`malformed_body`).",
                    );
                    add(
                        responses,
                        "413",
                        "The body is larger than 16 KiB (`payload_too_large`).",
                    );
                    add(
                        responses,
                        "415",
                        "The body is not declared as JSON (`unsupported_media_type`).",
                    );
                }
                if api && !public {
                    add(
                        responses,
                        "500",
                        "Something failed on the service's side (`internal`); details are logged, never sent.",
                    );
                }
            }
        }
    }
}

/// Adds an error response answering `ErrorBody`, unless the route documents that status itself.
fn add(responses: &mut BTreeMap<String, RefOr<Response>>, status: &str, description: &str) {
    responses.entry(status.to_owned()).or_insert_with(|| {
        RefOr::T(
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                        .build(),
                )
                .build(),
        )
    });
}
