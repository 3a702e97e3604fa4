//! Advisors and their bearer tokens.

use rand::RngCore;
use sha2::{Digest, Sha256};

use chrono::{DateTime, Utc};

use super::{timestamp, Store, StoreResult};

/// The advisor a valid token belongs to.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AdvisorIdentity {
    pub advisor_id: i64,
    pub advisor_name: String,
    pub organization_id: i64,
    pub organization_name: String,
    /// When the token used expires (RFC 3339), if it does.
    pub token_expires_at: Option<String>,
    /// What the person may do (`advisor`, `compliance`, `admin`).
    pub role: String,
}

impl AdvisorIdentity {
    /// The person's role, as stored.
    pub fn role(&self) -> StoreResult<optin_core::vocab::Role> {
        super::parse_name(&format!("advisor {}", self.advisor_id), &self.role)
    }
}

/// An organization API key that is neither revoked nor expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiKeyGrant {
    pub organization_id: i64,
    pub scope: optin_core::admin::KeyScope,
}

/// A fresh random token (256 bits, hex).
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

pub(crate) fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl Store {
    /// Stores a token for an advisor (only its hash is kept).
    pub async fn add_token(&self, advisor_id: i64, token: &str) -> StoreResult<()> {
        sqlx::query("INSERT INTO advisor_tokens (token_sha256, advisor_id) VALUES ($1, $2)")
            .bind(token_hash(token))
            .bind(advisor_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The advisor of a token that is neither expired nor revoked.
    pub async fn advisor_by_token(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<AdvisorIdentity>> {
        sqlx::query_as(
            "SELECT a.id AS advisor_id, a.name AS advisor_name,
                    o.id AS organization_id, o.name AS organization_name,
                    t.expires_at AS token_expires_at, a.role AS role
             FROM advisor_tokens t
             JOIN advisors a ON a.id = t.advisor_id
             JOIN organizations o ON o.id = a.organization_id
             WHERE t.token_sha256 = $1
               AND t.revoked_at IS NULL
               AND a.disabled_at IS NULL
               AND (t.expires_at IS NULL OR t.expires_at > $2)",
        )
        .bind(token_hash(token))
        .bind(timestamp(now))
        .fetch_optional(&self.pool)
        .await
        .map_err(Into::into)
    }
}

impl Store {
    /// Every organization's id.
    pub async fn organization_ids(&self) -> StoreResult<Vec<i64>> {
        sqlx::query_scalar("SELECT id FROM organizations ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .map_err(Into::into)
    }
}

/// Longest lifetime of a token minted for an integration.
pub const MAX_TOKEN_TTL_SECONDS: u32 = 3600;

impl Store {
    /// The grant of a valid API key (neither revoked nor expired at `now`).
    pub async fn api_key_grant(
        &self,
        key: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<ApiKeyGrant>> {
        let row: Option<(i64, String)> = sqlx::query_as(
            "SELECT organization_id, scope FROM api_keys
             WHERE key_sha256 = $1 AND revoked_at IS NULL
               AND (expires_at IS NULL OR expires_at > $2)",
        )
        .bind(token_hash(key))
        .bind(timestamp(now))
        .fetch_optional(&self.pool)
        .await?;
        row.map(|(organization_id, scope)| {
            let scope = optin_core::admin::KeyScope::parse(&scope).ok_or_else(|| {
                super::StoreError::Corrupt {
                    what: "API key".into(),
                    problem: format!("scope {scope:?}"),
                }
            })?;
            Ok(ApiKeyGrant {
                organization_id,
                scope,
            })
        })
        .transpose()
    }

    /// Mints a token for an advisor (or compliance officer) of the
    /// organization that expires at `expires_at`. `None` when there is no such
    /// enabled person, or they are an admin: an integration key must never
    /// reach provisioning through a minted admin token.
    pub async fn mint_advisor_token(
        &self,
        organization_id: i64,
        advisor: AdvisorRef<'_>,
        expires_at: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<Option<(i64, String)>> {
        let advisor_id: Option<i64> = match advisor {
            AdvisorRef::Id(id) => {
                sqlx::query_scalar(
                    "SELECT id FROM advisors WHERE id = $1 AND organization_id = $2 AND disabled_at IS NULL
                       AND role <> 'admin'",
                )
                    .bind(id)
                    .bind(organization_id)
                    .fetch_optional(&self.pool)
                    .await?
            }
            AdvisorRef::External(external) => {
                sqlx::query_scalar(
                    "SELECT id FROM advisors
                     WHERE external_id = $1 AND organization_id = $2 AND disabled_at IS NULL
                       AND role <> 'admin'",
                )
                .bind(external)
                .bind(organization_id)
                .fetch_optional(&self.pool)
                .await?
            }
        };
        let Some(advisor_id) = advisor_id else {
            return Ok(None);
        };
        let token = new_token();
        sqlx::query(
            "INSERT INTO advisor_tokens (token_sha256, advisor_id, expires_at) VALUES ($1, $2, $3)",
        )
        .bind(token_hash(&token))
        .bind(advisor_id)
        .bind(crate::store::evidence::timestamp(expires_at))
        .execute(&self.pool)
        .await?;
        Ok(Some((advisor_id, token)))
    }

    /// Revokes a token of the organization's advisors; false when there is no such token.
    pub async fn revoke_token(
        &self,
        organization_id: i64,
        token: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE advisor_tokens SET revoked_at = $3
             WHERE token_sha256 = $1 AND revoked_at IS NULL
               AND advisor_id IN (SELECT id FROM advisors WHERE organization_id = $2)",
        )
        .bind(token_hash(token))
        .bind(organization_id)
        .bind(timestamp(now))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Turns WhatsApp messaging on or off for an organization.
    pub async fn set_whatsapp_enabled(
        &self,
        organization_id: i64,
        enabled: bool,
    ) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE organizations SET whatsapp_enabled = $2 WHERE id = $1")
            .bind(organization_id)
            .bind(enabled)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Whether WhatsApp messaging is on for an organization.
    pub async fn whatsapp_enabled(&self, organization_id: i64) -> StoreResult<bool> {
        let enabled: super::Flag =
            sqlx::query_scalar("SELECT whatsapp_enabled FROM organizations WHERE id = $1")
                .bind(organization_id)
                .fetch_one(&self.pool)
                .await?;
        Ok(enabled.into())
    }
}

/// How an integration names an advisor: our id or the CRM's.
#[derive(Debug, Clone, Copy)]
pub enum AdvisorRef<'a> {
    Id(i64),
    External(&'a str),
}
