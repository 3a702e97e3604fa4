//! Provisioning of the caller's own organization (an admin-scoped
//! organization API key, or a person with the `admin` role):
//! - `GET /admin/organization`, `PATCH /admin/organization`: its settings and numbers;
//! - `GET /admin/advisors`, `POST /admin/advisors`, `POST /admin/advisors/{id}/disable`;
//! - `GET /admin/api-keys`, `POST /admin/api-keys`, `POST /admin/api-keys/{id}/expire`,
//!   `POST /admin/api-keys/{id}/revoke`;
//! - `GET /admin/unrouted`, `POST /admin/unrouted/replay`: webhooks that arrived
//!   for its numbers before they were provisioned, and applying them;
//! - `POST /admin/templates`: add (or replace) a template Meta approved, in
//!   one language (an opt-in template per language the contacts speak).
//!
//! Creating organizations is the operator's (`optin-server create-organization`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use optin_core::admin::{
    ApiKeyView, ExpireApiKey, IssuedApiKey, NewAdvisor, NewApiKey, NewTemplate,
    OrganizationSettings, OrganizationView, ReplayReport, UnroutedWebhook,
};
use optin_core::compliance::AdvisorSummary;

use crate::auth::Admin;
use crate::error::{ApiJson, ApiPath, AppError, AppResult};
use crate::services::provisioning;
use crate::store::{parse_optional_timestamp, parse_timestamp};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/organization", get(organization).patch(update))
        .route("/admin/advisors", get(advisors).post(create_advisor))
        .route("/admin/advisors/{id}/disable", post(disable_advisor))
        .route("/admin/api-keys", get(api_keys).post(create_api_key))
        .route("/admin/api-keys/{id}/expire", post(expire_api_key))
        .route("/admin/api-keys/{id}/revoke", post(revoke_api_key))
        .route("/admin/unrouted", get(unrouted))
        .route("/admin/unrouted/replay", post(replay))
        .route("/admin/templates", post(put_template))
}

#[utoipa::path(
    get,
    path = "/api/v1/admin/organization",
    tag = "admin",
    security(("api_key" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The caller's organization as provisioned (its own Cloud API token is never shown).", body = optin_core::admin::OrganizationView),
        (status = 403, description = "Neither an admin-scoped organization API key nor a person with the `admin` role: an integration-scoped key (`admin_scope_required`), an advisor or compliance officer (`admin_role_required`).", body = optin_core::api::ErrorBody),
    ),
)]
async fn organization(
    State(state): State<AppState>,
    admin: Admin,
) -> AppResult<Json<OrganizationView>> {
    state
        .store
        .organization(admin.organization_id)
        .await?
        .map(Json)
        .ok_or(AppError::NotFound("That organization"))
}

#[utoipa::path(
    patch,
    path = "/api/v1/admin/organization",
    tag = "admin",
    security(("api_key" = []), ("bearer" = [])),
    request_body = optin_core::admin::OrganizationSettings,
    responses(
        (status = 200, description = "The organization as changed; absent fields stay as they were, WhatsApp phone number ids are added.", body = optin_core::admin::OrganizationView),
        (status = 409, description = "A WhatsApp phone number id or SMS number of another organization, or another organization's name (`number_taken`, `name_taken`); `field` names which.", body = optin_core::api::ErrorBody),
        (status = 422, description = "An invalid name, Meta id, SMS number, frame origin, access token or SMS help text (`invalid_name`, `invalid_meta_id`, `invalid_phone`, `invalid_origin`, `invalid_token`, `invalid_sms_help_text`); `field` names which.", body = optin_core::api::ErrorBody),
        (status = 403, description = "Neither an admin-scoped organization API key nor a person with the `admin` role: an integration-scoped key (`admin_scope_required`), an advisor or compliance officer (`admin_role_required`).", body = optin_core::api::ErrorBody),
    ),
)]
async fn update(
    State(state): State<AppState>,
    admin: Admin,
    ApiJson(settings): ApiJson<OrganizationSettings>,
) -> AppResult<Json<OrganizationView>> {
    provisioning::update_organization(
        &state.store,
        admin.organization_id,
        &settings,
        state.config.default_region.as_deref(),
    )
    .await?;
    organization(State(state), admin).await
}

#[utoipa::path(
    get,
    path = "/api/v1/admin/advisors",
    tag = "admin",
    security(("api_key" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The organization's people (advisors, compliance, admins), disabled ones included, by name.", body = Vec<optin_core::compliance::AdvisorSummary>),
        (status = 403, description = "Neither an admin-scoped organization API key nor a person with the `admin` role: an integration-scoped key (`admin_scope_required`), an advisor or compliance officer (`admin_role_required`).", body = optin_core::api::ErrorBody),
    ),
)]
async fn advisors(
    State(state): State<AppState>,
    admin: Admin,
) -> AppResult<Json<Vec<AdvisorSummary>>> {
    Ok(Json(state.store.advisors(admin.organization_id).await?))
}

#[utoipa::path(
    post,
    path = "/api/v1/admin/advisors",
    tag = "admin",
    security(("api_key" = []), ("bearer" = [])),
    request_body = optin_core::admin::NewAdvisor,
    responses(
        (status = 201, description = "The person was added (role `advisor` unless the body says otherwise).", body = optin_core::compliance::AdvisorSummary),
        (status = 409, description = "Another person of the organization has that CRM id (`external_id_taken`).", body = optin_core::api::ErrorBody),
        (status = 422, description = "A blank or too long name, or a CRM id not 1 to 200 characters (`invalid_name`, `invalid_external_id`).", body = optin_core::api::ErrorBody),
        (status = 403, description = "Neither an admin-scoped organization API key nor a person with the `admin` role: an integration-scoped key (`admin_scope_required`), an advisor or compliance officer (`admin_role_required`).", body = optin_core::api::ErrorBody),
    ),
)]
async fn create_advisor(
    State(state): State<AppState>,
    admin: Admin,
    ApiJson(new): ApiJson<NewAdvisor>,
) -> AppResult<(StatusCode, Json<AdvisorSummary>)> {
    let id = provisioning::create_advisor(
        &state.store,
        admin.organization_id,
        &new.name,
        new.external_id.as_deref(),
        new.role,
    )
    .await?;
    let created = state
        .store
        .advisors(admin.organization_id)
        .await?
        .into_iter()
        .find(|a| a.id == id)
        .ok_or("a created advisor is missing")?;
    Ok((StatusCode::CREATED, Json(created)))
}

#[utoipa::path(
    post,
    path = "/api/v1/admin/advisors/{id}/disable",
    tag = "admin",
    security(("api_key" = []), ("bearer" = [])),
    params(("id" = i64, Path, description = "Person (advisor) id.")),
    responses(
        (status = 204, description = "The person is disabled (or already was): their tokens stop working at once."),
        (status = 404, description = "No such person in the organization (`not_found`).", body = optin_core::api::ErrorBody),
        (status = 403, description = "Neither an admin-scoped organization API key nor a person with the `admin` role: an integration-scoped key (`admin_scope_required`), an advisor or compliance officer (`admin_role_required`).", body = optin_core::api::ErrorBody),
    ),
)]
async fn disable_advisor(
    State(state): State<AppState>,
    admin: Admin,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<StatusCode> {
    let now = state.clock.now();
    if !state
        .store
        .disable_advisor(admin.organization_id, id, now)
        .await?
    {
        return Err(AppError::NotFound("That advisor"));
    }
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/api/v1/admin/api-keys",
    tag = "admin",
    security(("api_key" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The organization's API keys, newest first, revoked and expired ones included (never the keys themselves).", body = Vec<optin_core::admin::ApiKeyView>),
        (status = 403, description = "Neither an admin-scoped organization API key nor a person with the `admin` role: an integration-scoped key (`admin_scope_required`), an advisor or compliance officer (`admin_role_required`).", body = optin_core::api::ErrorBody),
    ),
)]
async fn api_keys(State(state): State<AppState>, admin: Admin) -> AppResult<Json<Vec<ApiKeyView>>> {
    Ok(Json(state.store.api_keys(admin.organization_id).await?))
}

#[utoipa::path(
    post,
    path = "/api/v1/admin/api-keys",
    tag = "admin",
    security(("api_key" = []), ("bearer" = [])),
    request_body = optin_core::admin::NewApiKey,
    responses(
        (status = 201, description = "The new key: `key` is shown this once, only its hash is kept.", body = optin_core::admin::IssuedApiKey),
        (status = 422, description = "A blank or too long name, or an expiry not in the future (`invalid_name`, `invalid_expiry`).", body = optin_core::api::ErrorBody),
        (status = 403, description = "Neither an admin-scoped organization API key nor a person with the `admin` role: an integration-scoped key (`admin_scope_required`), an advisor or compliance officer (`admin_role_required`).", body = optin_core::api::ErrorBody),
    ),
)]
async fn create_api_key(
    State(state): State<AppState>,
    admin: Admin,
    ApiJson(new): ApiJson<NewApiKey>,
) -> AppResult<(StatusCode, Json<IssuedApiKey>)> {
    let name = provisioning::checked_key_name(&new.name)?;
    let now = state.clock.now();
    if new.expires_at.is_some_and(|at| at <= now) {
        return Err(AppError::Invalid {
            code: "invalid_expiry",
            field: "expires_at",
            message: "A new key must expire in the future (or never).".into(),
        });
    }
    let (key, view) = state
        .store
        .create_api_key(admin.organization_id, name, new.scope, new.expires_at, now)
        .await?;
    Ok((StatusCode::CREATED, Json(IssuedApiKey { key, view })))
}

#[utoipa::path(
    post,
    path = "/api/v1/admin/api-keys/{id}/expire",
    tag = "admin",
    security(("api_key" = []), ("bearer" = [])),
    params(("id" = i64, Path, description = "API key id.")),
    request_body = optin_core::admin::ExpireApiKey,
    responses(
        (status = 200, description = "The key with its new expiry (now when `at` is absent).", body = optin_core::admin::ApiKeyView),
        (status = 404, description = "No such API key in the organization (`not_found`).", body = optin_core::api::ErrorBody),
        (status = 403, description = "Neither an admin-scoped organization API key nor a person with the `admin` role: an integration-scoped key (`admin_scope_required`), an advisor or compliance officer (`admin_role_required`).", body = optin_core::api::ErrorBody),
    ),
)]
async fn expire_api_key(
    State(state): State<AppState>,
    admin: Admin,
    ApiPath(id): ApiPath<i64>,
    ApiJson(expire): ApiJson<ExpireApiKey>,
) -> AppResult<Json<ApiKeyView>> {
    let at = expire.at.unwrap_or_else(|| state.clock.now());
    state
        .store
        .expire_api_key(admin.organization_id, id, at)
        .await?
        .map(Json)
        .ok_or(AppError::NotFound("That API key"))
}

#[utoipa::path(
    post,
    path = "/api/v1/admin/api-keys/{id}/revoke",
    tag = "admin",
    security(("api_key" = []), ("bearer" = [])),
    params(("id" = i64, Path, description = "API key id.")),
    responses(
        (status = 200, description = "The key, revoked (it stops working at once; revoking it again changes nothing).", body = optin_core::admin::ApiKeyView),
        (status = 404, description = "No such API key in the organization (`not_found`).", body = optin_core::api::ErrorBody),
        (status = 403, description = "Neither an admin-scoped organization API key nor a person with the `admin` role: an integration-scoped key (`admin_scope_required`), an advisor or compliance officer (`admin_role_required`).", body = optin_core::api::ErrorBody),
    ),
)]
async fn revoke_api_key(
    State(state): State<AppState>,
    admin: Admin,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<ApiKeyView>> {
    state
        .store
        .revoke_api_key(admin.organization_id, id, state.clock.now())
        .await?
        .map(Json)
        .ok_or(AppError::NotFound("That API key"))
}

#[utoipa::path(
    get,
    path = "/api/v1/admin/unrouted",
    tag = "admin",
    security(("api_key" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The provider webhooks kept because they arrived for one of the organization's numbers before it was provisioned, replayed or not.", body = Vec<optin_core::admin::UnroutedWebhook>),
        (status = 403, description = "Neither an admin-scoped organization API key nor a person with the `admin` role: an integration-scoped key (`admin_scope_required`), an advisor or compliance officer (`admin_role_required`).", body = optin_core::api::ErrorBody),
    ),
)]
async fn unrouted(
    State(state): State<AppState>,
    admin: Admin,
) -> AppResult<Json<Vec<UnroutedWebhook>>> {
    let kept = state
        .store
        .unrouted_webhooks(Some(admin.organization_id))
        .await?;
    let views = kept
        .into_iter()
        .map(|k| {
            let what = format!("kept webhook {}", k.id);
            Ok(UnroutedWebhook {
                id: k.id,
                provider: k.provider,
                business_number: k.business_number,
                received_at: parse_timestamp(&what, &k.received_at)?,
                replayed_at: parse_optional_timestamp(&what, k.replayed_at.as_deref())?,
            })
        })
        .collect::<Result<Vec<_>, crate::store::StoreError>>()?;
    Ok(Json(views))
}

#[utoipa::path(
    post,
    path = "/api/v1/admin/unrouted/replay",
    tag = "admin",
    security(("api_key" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The kept webhooks of the organization's numbers not applied yet are applied now, each once.", body = optin_core::admin::ReplayReport),
        (status = 403, description = "Neither an admin-scoped organization API key nor a person with the `admin` role: an integration-scoped key (`admin_scope_required`), an advisor or compliance officer (`admin_role_required`).", body = optin_core::api::ErrorBody),
    ),
)]
async fn replay(State(state): State<AppState>, admin: Admin) -> AppResult<Json<ReplayReport>> {
    Ok(Json(
        provisioning::replay_unrouted(&state, admin.organization_id).await?,
    ))
}

#[utoipa::path(
    post,
    path = "/api/v1/admin/templates",
    tag = "admin",
    security(("api_key" = []), ("bearer" = [])),
    request_body = optin_core::admin::NewTemplate,
    responses(
        (status = 201, description = "The template is ready (a template of the same name and language is replaced). An opt-in template is sent to the contacts of its language.", body = optin_core::api::TemplateView),
        (status = 422, description = "An invalid name, language code, category, purpose or an empty body (`invalid_template_name`, `invalid_language`, `invalid_category`, `invalid_purpose`, `invalid_body`); `field` names which.", body = optin_core::api::ErrorBody),
        (status = 403, description = "Neither an admin-scoped organization API key nor a person with the `admin` role: an integration-scoped key (`admin_scope_required`), an advisor or compliance officer (`admin_role_required`).", body = optin_core::api::ErrorBody),
    ),
)]
async fn put_template(
    State(state): State<AppState>,
    admin: Admin,
    ApiJson(new): ApiJson<NewTemplate>,
) -> AppResult<(StatusCode, Json<optin_core::api::TemplateView>)> {
    let template = provisioning::checked_template(
        new.name,
        new.language,
        new.category,
        new.purpose,
        new.body,
    )?;
    state
        .store
        .put_template(admin.organization_id, &template)
        .await?;
    Ok((StatusCode::CREATED, Json(template.into())))
}
