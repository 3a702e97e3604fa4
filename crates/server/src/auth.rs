//! Who is calling, and what they may do. Every `/api/v1` handler takes one of
//! these extractors; a caller without the right role or key scope gets 403
//! with a `{code, message}` naming what is missing, whatever the UI shows.
//!
//! - [`Advisor`]: any signed-in person (bearer token), any role: reads of
//!   their own contacts and `/me`;
//! - [`Sender`]: a person with the `advisor` role: everything that sends or
//!   changes contacts (compliance is read-only, admins provision);
//! - [`Supervisor`]: `compliance` or `admin`: organization-wide reads, exports
//!   and chain checks;
//! - [`ComplianceOfficer`]: `compliance` only: the few compliance writes
//!   (recording a revocation, deciding a flagged message);
//! - [`Admin`]: an admin-scoped organization API key, or a person with the
//!   `admin` role: provisioning of their own organization;
//! - [`Integration`]: an integration-scoped organization API key.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use optin_core::admin::KeyScope;
use optin_core::vocab::Role;

use crate::error::AppError;
use crate::store::auth::{AdvisorIdentity, ApiKeyGrant};
use crate::AppState;

/// The authenticated person making the request, whatever their role.
pub struct Advisor(pub AdvisorIdentity);

/// A person with the `advisor` role: may send and change contacts.
pub struct Sender(pub AdvisorIdentity);

/// A person with the `compliance` or `admin` role: reads the whole organization.
pub struct Supervisor(pub AdvisorIdentity);

/// A person with the `compliance` role: may record revocations and decide
/// flagged messages for any number of the organization.
pub struct ComplianceOfficer(pub AdvisorIdentity);

/// Provisioning rights over one organization.
pub struct Admin {
    pub organization_id: i64,
}

/// The organization whose integration key authorized the request.
pub struct Integration(pub i64);

fn bearer(parts: &Parts) -> Result<&str, AppError> {
    parts
        .headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|token| !token.is_empty())
        .ok_or(AppError::Unauthorized)
}

/// Organization API keys start with `ok_`; person tokens never do.
fn is_api_key(token: &str) -> bool {
    token.starts_with("ok_")
}

async fn person(parts: &Parts, state: &AppState) -> Result<(AdvisorIdentity, Role), AppError> {
    let token = bearer(parts)?;
    let identity = state
        .store
        .advisor_by_token(token, state.clock.now())
        .await?
        .ok_or(AppError::Unauthorized)?;
    let role = identity.role()?;
    Ok((identity, role))
}

/// The grant of a valid organization API key, or 401.
async fn key_grant(key: &str, state: &AppState) -> Result<ApiKeyGrant, AppError> {
    state
        .store
        .api_key_grant(key, state.clock.now())
        .await?
        .ok_or(AppError::Unauthorized)
}

fn forbidden(code: &'static str, message: &str) -> AppError {
    AppError::Forbidden {
        code,
        message: message.to_owned(),
    }
}

impl FromRequestParts<AppState> for Advisor {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        Ok(Advisor(person(parts, state).await?.0))
    }
}

impl FromRequestParts<AppState> for Sender {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        match person(parts, state).await? {
            (identity, Role::Advisor) => Ok(Sender(identity)),
            (_, Role::Compliance) => Err(forbidden(
                "read_only_role",
                "Compliance access is read-only: it cannot send messages or change contacts.",
            )),
            (_, Role::Admin) => Err(forbidden(
                "advisor_role_required",
                "Only advisors send messages and keep contacts; an admin account provisions.",
            )),
        }
    }
}

impl FromRequestParts<AppState> for Supervisor {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        match person(parts, state).await? {
            (identity, Role::Compliance | Role::Admin) => Ok(Supervisor(identity)),
            (_, Role::Advisor) => Err(forbidden(
                "compliance_role_required",
                "Only compliance can read the whole organization's record.",
            )),
        }
    }
}

impl FromRequestParts<AppState> for ComplianceOfficer {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        match person(parts, state).await? {
            (identity, Role::Compliance) => Ok(ComplianceOfficer(identity)),
            (_, Role::Advisor | Role::Admin) => Err(forbidden(
                "compliance_role_required",
                "Only compliance can act on any number of the organization.",
            )),
        }
    }
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let token = bearer(parts)?;
        if is_api_key(token) {
            let grant = key_grant(token, state).await?;
            return match grant.scope {
                KeyScope::Admin => Ok(Admin {
                    organization_id: grant.organization_id,
                }),
                KeyScope::Integration => Err(forbidden(
                    "admin_scope_required",
                    "This API key may only mint advisor tokens; provisioning needs an admin-scoped key.",
                )),
            };
        }
        match person(parts, state).await? {
            (identity, Role::Admin) => Ok(Admin {
                organization_id: identity.organization_id,
            }),
            _ => Err(forbidden(
                "admin_role_required",
                "Only an organization's admins may provision it.",
            )),
        }
    }
}

impl FromRequestParts<AppState> for Integration {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let key = bearer(parts)?;
        if !is_api_key(key) {
            return Err(AppError::Unauthorized);
        }
        let grant = key_grant(key, state).await?;
        match grant.scope {
            KeyScope::Integration => Ok(Integration(grant.organization_id)),
            KeyScope::Admin => Err(forbidden(
                "integration_scope_required",
                "An admin key provisions; CRM backends mint tokens with an integration-scoped key.",
            )),
        }
    }
}
