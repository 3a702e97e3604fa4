//! Contacts of the signed-in advisor:
//! - `GET /contacts?q=&offset=&limit=`: search by name or number, paged;
//! - `POST /contacts`: add one (name, phone as typed, language);
//! - `GET /contacts/{id}`: one contact (404 for another advisor's);
//! - `PATCH /contacts/{id}`: change one (its language);
//! - `POST /contacts/open`: find by number or CRM id, or create (deep links from a CRM).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use optin_core::api::{self, Contact, ContactPage, ContactUpdate, NewContact, OpenContact};
use optin_core::phone::to_e164;
use serde::Deserialize;

use crate::auth::{Advisor, Sender};
use crate::error::{ApiJson, ApiPath, ApiQuery, AppError, AppResult};
use crate::store::contacts::Inserted;
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/contacts", get(list).post(create))
        .route("/contacts/{id}", get(one).patch(update))
        .route("/contacts/open", post(open))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ListParams {
    /// Part of a name or number; empty lists every contact.
    #[serde(default)]
    q: String,
    /// Offset of the first contact of the page.
    #[serde(default)]
    offset: u64,
    /// Page size, 1 to 200 (default 50).
    limit: Option<u32>,
}

#[utoipa::path(
    get,
    path = "/api/v1/contacts",
    tag = "advisor",
    security(("bearer" = [])),
    params(ListParams),
    responses((status = 200, description = "One page of the advisor's contacts matching the search, ordered by name.", body = optin_core::api::ContactPage)),
)]
async fn list(
    State(state): State<AppState>,
    Advisor(advisor): Advisor,
    ApiQuery(params): ApiQuery<ListParams>,
) -> AppResult<Json<ContactPage>> {
    let limit = params
        .limit
        .unwrap_or(api::DEFAULT_PAGE_SIZE)
        .clamp(1, api::MAX_PAGE_SIZE);
    let (items, total) = state
        .store
        .search_contacts(
            advisor.advisor_id,
            &params.q,
            params.offset,
            limit,
            state.clock.now(),
        )
        .await?;
    let end = params.offset + items.len() as u64;
    Ok(Json(ContactPage {
        items,
        total,
        offset: params.offset,
        next_offset: (end < total).then_some(end),
    }))
}

#[utoipa::path(
    get,
    path = "/api/v1/contacts/{id}",
    tag = "advisor",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Contact id.")),
    responses(
        (status = 200, description = "The contact.", body = optin_core::api::Contact),
        (status = 404, description = "No such contact of this advisor (`not_found`), also for another advisor's.", body = optin_core::api::ErrorBody),
    ),
)]
async fn one(
    State(state): State<AppState>,
    Advisor(advisor): Advisor,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<Contact>> {
    let contact = state
        .store
        .contact(advisor.advisor_id, id, state.clock.now())
        .await?;
    contact.map(Json).ok_or(AppError::NotFound("That contact"))
}

#[utoipa::path(
    patch,
    path = "/api/v1/contacts/{id}",
    tag = "advisor",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Contact id.")),
    request_body = optin_core::api::ContactUpdate,
    responses(
        (status = 200, description = "The contact as changed; absent fields stay as they were.", body = optin_core::api::Contact),
        (status = 403, description = "The person is not an advisor: a compliance officer, who only reads (`read_only_role`), or an admin, who provisions (`advisor_role_required`).", body = optin_core::api::ErrorBody),
        (status = 404, description = "No such contact of this advisor (`not_found`), also for another advisor's.", body = optin_core::api::ErrorBody),
        (status = 400, description = "A language the service does not write in, or an unknown field (`malformed_body`).", body = optin_core::api::ErrorBody),
    ),
)]
async fn update(
    State(state): State<AppState>,
    Sender(advisor): Sender,
    ApiPath(id): ApiPath<i64>,
    ApiJson(change): ApiJson<ContactUpdate>,
) -> AppResult<Json<Contact>> {
    if let Some(language) = change.language {
        let found = state
            .store
            .set_contact_language(advisor.advisor_id, id, language)
            .await?;
        if !found {
            return Err(AppError::NotFound("That contact"));
        }
    }
    let contact = state
        .store
        .contact(advisor.advisor_id, id, state.clock.now())
        .await?;
    contact.map(Json).ok_or(AppError::NotFound("That contact"))
}

fn parse_name(name: &str) -> AppResult<&str> {
    api::validate_name(name).map_err(|message| AppError::Invalid {
        code: "invalid_name",
        field: "name",
        message: message.to_owned(),
    })
}

fn parse_phone(state: &AppState, phone: &str) -> AppResult<String> {
    to_e164(phone, state.config.default_region.as_deref()).map_err(|e| AppError::Invalid {
        code: "invalid_phone",
        field: "phone",
        message: e.to_string(),
    })
}

#[utoipa::path(
    post,
    path = "/api/v1/contacts/open",
    tag = "advisor",
    security(("bearer" = [])),
    request_body = optin_core::api::OpenContact,
    responses(
        (status = 200, description = "Found by number or CRM id (the CRM id is stored on it when given).", body = optin_core::api::Contact),
        (status = 201, description = "Not found, and created from the name and number given.", body = optin_core::api::Contact),
        (status = 403, description = "The person is not an advisor: a compliance officer, who only reads (`read_only_role`), or an admin, who provisions (`advisor_role_required`).", body = optin_core::api::ErrorBody),
        (status = 404, description = "Not found and no name and number to create it with (`not_found`).", body = optin_core::api::ErrorBody),
        (status = 422, description = "An invalid number, name, or neither number nor CRM id (`invalid_phone`, `invalid_name`, `invalid_contact_ref`).", body = optin_core::api::ErrorBody),
    ),
)]
async fn open(
    State(state): State<AppState>,
    Sender(advisor): Sender,
    ApiJson(request): ApiJson<OpenContact>,
) -> AppResult<(StatusCode, Json<Contact>)> {
    let phone = request
        .phone
        .as_deref()
        .map(|p| parse_phone(&state, p))
        .transpose()?;
    let crm_id = request
        .crm_id
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty() && c.len() <= 200);
    if phone.is_none() && crm_id.is_none() {
        return Err(AppError::Invalid {
            code: "invalid_contact_ref",
            field: "phone",
            message: "Give the contact's phone number or CRM record id.".into(),
        });
    }
    if let Some(found) = state
        .store
        .find_contact(
            advisor.advisor_id,
            phone.as_deref(),
            crm_id,
            state.clock.now(),
        )
        .await?
    {
        if let Some(crm_id) = crm_id {
            state
                .store
                .set_contact_crm_id(advisor.advisor_id, found.id, crm_id)
                .await?;
        }
        return Ok((StatusCode::OK, Json(found)));
    }
    let (Some(phone), Some(name)) = (phone, request.name.as_deref()) else {
        return Err(AppError::NotFound("That contact"));
    };
    let name = parse_name(name)?;
    match state
        .store
        .insert_contact(advisor.advisor_id, name, &phone, None, state.clock.now())
        .await?
    {
        Inserted::Created(contact) => {
            if let Some(crm_id) = crm_id {
                state
                    .store
                    .set_contact_crm_id(advisor.advisor_id, contact.id, crm_id)
                    .await?;
            }
            Ok((StatusCode::CREATED, Json(contact)))
        }
        Inserted::DuplicatePhone => Err(AppError::from("contact appeared while opening it")),
    }
}

#[utoipa::path(
    post,
    path = "/api/v1/contacts",
    tag = "advisor",
    security(("bearer" = [])),
    request_body = optin_core::api::NewContact,
    responses(
        (status = 201, description = "The contact was added.", body = optin_core::api::Contact),
        (status = 403, description = "The person is not an advisor: a compliance officer, who only reads (`read_only_role`), or an admin, who provisions (`advisor_role_required`).", body = optin_core::api::ErrorBody),
        (status = 409, description = "The advisor already has a contact with this number (`duplicate_phone`).", body = optin_core::api::ErrorBody),
        (status = 400, description = "A language the service does not write in (`malformed_body`).", body = optin_core::api::ErrorBody),
        (status = 422, description = "An invalid name or number (`invalid_name`, `invalid_phone`).", body = optin_core::api::ErrorBody),
    ),
)]
async fn create(
    State(state): State<AppState>,
    Sender(advisor): Sender,
    ApiJson(new): ApiJson<NewContact>,
) -> AppResult<(StatusCode, Json<Contact>)> {
    let name = parse_name(&new.name)?;
    let phone = parse_phone(&state, &new.phone)?;
    match state
        .store
        .insert_contact(
            advisor.advisor_id,
            name,
            &phone,
            new.language,
            state.clock.now(),
        )
        .await?
    {
        Inserted::Created(contact) => Ok((StatusCode::CREATED, Json(contact))),
        Inserted::DuplicatePhone => Err(AppError::Conflict {
            code: "duplicate_phone",
            field: Some("phone"),
            message: format!("You already have a contact with the number {phone}."),
        }),
    }
}
