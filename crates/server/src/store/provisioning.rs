//! Provisioning: organizations with their own numbers, advisors with roles,
//! API keys with scopes and expiry. Inputs arrive validated by the
//! provisioning service; the database's unique constraints settle races.

use chrono::{DateTime, Utc};
use optin_core::admin::{ApiKeyView, KeyScope, OrganizationSettings, OrganizationView};
use optin_core::compliance::AdvisorSummary;
use optin_core::vocab::Role;

use super::auth::{new_token, token_hash};
use super::{parse_name, parse_optional_timestamp, parse_timestamp, timestamp, StoreError};
use super::{Store, StoreResult};

#[derive(sqlx::FromRow)]
struct OrganizationRow {
    id: i64,
    name: String,
    whatsapp_business_account_id: Option<String>,
    sms_number: Option<String>,
    frame_origins: String,
    whatsapp_access_token_env: Option<String>,
    #[sqlx(try_from = "super::Flag")]
    whatsapp_enabled: bool,
    default_language: String,
    alternate_opt_in_template: Option<String>,
    sms_help_text: Option<String>,
    sms_countries: Option<String>,
    retention_months: i64,
}

#[derive(sqlx::FromRow)]
struct AdvisorRow {
    id: i64,
    name: String,
    role: String,
    external_id: Option<String>,
    disabled_at: Option<String>,
}

impl AdvisorRow {
    fn read(self) -> StoreResult<AdvisorSummary> {
        let what = format!("advisor {}", self.id);
        Ok(AdvisorSummary {
            id: self.id,
            name: self.name,
            role: parse_name(&what, &self.role)?,
            external_id: self.external_id,
            disabled_at: parse_optional_timestamp(&what, self.disabled_at.as_deref())?,
        })
    }
}

#[derive(sqlx::FromRow)]
struct ApiKeyRow {
    id: i64,
    name: String,
    scope: String,
    created_at: String,
    expires_at: Option<String>,
    revoked_at: Option<String>,
}

impl ApiKeyRow {
    fn read(self) -> StoreResult<ApiKeyView> {
        let what = format!("API key {}", self.id);
        Ok(ApiKeyView {
            id: self.id,
            name: self.name,
            scope: KeyScope::parse(&self.scope).ok_or_else(|| StoreError::Corrupt {
                what: what.clone(),
                problem: format!("scope {:?}", self.scope),
            })?,
            created_at: parse_timestamp(&what, &self.created_at)?,
            expires_at: parse_optional_timestamp(&what, self.expires_at.as_deref())?,
            revoked_at: parse_optional_timestamp(&what, self.revoked_at.as_deref())?,
        })
    }
}

/// Why a provisioning write was refused by the data already there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conflict {
    /// Another organization already sends from this WhatsApp number.
    PhoneNumberIdTaken(String),
    /// Another organization already sends SMS from this number.
    SmsNumberTaken(String),
    /// An organization of that name exists.
    NameTaken,
    /// An advisor of the organization already has that CRM id.
    ExternalIdTaken,
}

/// The outcome of a provisioning write.
pub type Provisioned<T> = Result<T, Conflict>;

const API_KEY_COLUMNS: &str = "id, name, scope, created_at, expires_at, revoked_at";

impl Store {
    /// Every organization, by id.
    pub async fn organizations(&self) -> StoreResult<Vec<OrganizationView>> {
        self.organization_views(None).await
    }

    /// One organization.
    pub async fn organization(&self, id: i64) -> StoreResult<Option<OrganizationView>> {
        Ok(self.organization_views(Some(id)).await?.pop())
    }

    /// Every organization, or the one with id `only`, with its numbers.
    async fn organization_views(&self, only: Option<i64>) -> StoreResult<Vec<OrganizationView>> {
        let rows: Vec<OrganizationRow> = sqlx::query_as(
            "SELECT id, name, whatsapp_business_account_id, sms_number, frame_origins,
                    whatsapp_access_token_env, whatsapp_enabled, default_language,
                    alternate_opt_in_template, sms_help_text, sms_countries, retention_months
             FROM organizations WHERE ($1 IS NULL OR id = $1) ORDER BY id",
        )
        .bind(only)
        .fetch_all(&self.pool)
        .await?;
        let numbers: Vec<(i64, String)> = sqlx::query_as(
            "SELECT organization_id, phone_number_id FROM whatsapp_numbers
             WHERE ($1 IS NULL OR organization_id = $1)
             ORDER BY added_at, phone_number_id",
        )
        .bind(only)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                Ok(OrganizationView {
                    default_language: parse_name(
                        &format!("organization {}", row.id),
                        &row.default_language,
                    )?,
                    whatsapp_phone_number_ids: numbers
                        .iter()
                        .filter(|(organization, _)| *organization == row.id)
                        .map(|(_, number)| number.clone())
                        .collect(),
                    id: row.id,
                    name: row.name,
                    whatsapp_business_account_id: row.whatsapp_business_account_id,
                    sms_number: row.sms_number,
                    frame_origins: row
                        .frame_origins
                        .split_whitespace()
                        .map(Into::into)
                        .collect(),
                    whatsapp_access_token_env: row.whatsapp_access_token_env,
                    whatsapp_enabled: row.whatsapp_enabled,
                    alternate_opt_in_template: row.alternate_opt_in_template,
                    sms_help_text: row.sms_help_text,
                    sms_countries: row
                        .sms_countries
                        .map(|countries| countries.split_whitespace().map(Into::into).collect()),
                    retention_months: u32::try_from(row.retention_months).unwrap_or(u32::MAX),
                })
            })
            .collect()
    }

    /// Where an organization may send SMS: its allowed countries (none: its
    /// sender number's country) and its SMS sender number.
    pub async fn sms_destinations(
        &self,
        organization_id: i64,
    ) -> StoreResult<(Option<Vec<String>>, Option<String>)> {
        let row: Option<(Option<String>, Option<String>)> =
            sqlx::query_as("SELECT sms_countries, sms_number FROM organizations WHERE id = $1")
                .bind(organization_id)
                .fetch_optional(&self.pool)
                .await?;
        let (countries, number) = row.unwrap_or_default();
        Ok((
            countries.map(|countries| countries.split_whitespace().map(Into::into).collect()),
            number,
        ))
    }

    /// Creates an organization named `name` with `settings` (already validated).
    pub async fn create_organization(
        &self,
        name: &str,
        settings: &OrganizationSettings,
    ) -> StoreResult<Provisioned<i64>> {
        let mut tx = self.write_transaction().await?;
        let created =
            sqlx::query_scalar("INSERT INTO organizations (name) VALUES ($1) RETURNING id")
                .bind(name)
                .fetch_one(&mut *tx)
                .await;
        let id: i64 = match created.map_err(StoreError::from) {
            Ok(id) => id,
            Err(e) if e.is_unique_violation() => return Ok(Err(Conflict::NameTaken)),
            Err(e) => return Err(e),
        };
        if let Err(conflict) = apply_settings(&mut tx, id, settings).await? {
            return Ok(Err(conflict));
        }
        let (name, language, category, purpose, body) = super::seed::STANDARD_OPT_IN_TEMPLATE;
        insert_template(&mut tx, id, name, language, category, purpose, body).await?;
        tx.commit().await?;
        Ok(Ok(id))
    }

    /// Changes an organization; `None` when there is no such organization.
    pub async fn update_organization(
        &self,
        id: i64,
        settings: &OrganizationSettings,
    ) -> StoreResult<Option<Provisioned<()>>> {
        let mut tx = self.write_transaction().await?;
        let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM organizations WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_none() {
            return Ok(None);
        }
        if let Some(name) = &settings.name {
            let renamed = sqlx::query("UPDATE organizations SET name = $2 WHERE id = $1")
                .bind(id)
                .bind(name)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::from);
            match renamed {
                Ok(_) => {}
                Err(e) if e.is_unique_violation() => return Ok(Some(Err(Conflict::NameTaken))),
                Err(e) => return Err(e),
            }
        }
        if let Err(conflict) = apply_settings(&mut tx, id, settings).await? {
            return Ok(Some(Err(conflict)));
        }
        tx.commit().await?;
        Ok(Some(Ok(())))
    }

    /// Creates an advisor (or compliance officer, or admin) of an organization.
    pub async fn create_advisor(
        &self,
        organization_id: i64,
        name: &str,
        external_id: Option<&str>,
        role: Role,
    ) -> StoreResult<Provisioned<i64>> {
        let created = sqlx::query_scalar(
            "INSERT INTO advisors (organization_id, name, external_id, role)
             VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(organization_id)
        .bind(name)
        .bind(external_id)
        .bind(role.as_str())
        .fetch_one(&self.pool)
        .await
        .map_err(StoreError::from);
        match created {
            Ok(id) => Ok(Ok(id)),
            Err(e) if e.is_unique_violation() => Ok(Err(Conflict::ExternalIdTaken)),
            Err(e) => Err(e),
        }
    }

    /// The organization's advisors, by name.
    pub async fn advisors(&self, organization_id: i64) -> StoreResult<Vec<AdvisorSummary>> {
        let rows: Vec<AdvisorRow> = sqlx::query_as(
            "SELECT id, name, role, external_id, disabled_at FROM advisors
             WHERE organization_id = $1 ORDER BY name, id",
        )
        .bind(organization_id)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(AdvisorRow::read).collect()
    }

    /// Disables an advisor: their tokens stop working at once. False when the
    /// organization has no such advisor.
    pub async fn disable_advisor(
        &self,
        organization_id: i64,
        advisor_id: i64,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE advisors SET disabled_at = COALESCE(disabled_at, $3)
             WHERE id = $1 AND organization_id = $2",
        )
        .bind(advisor_id)
        .bind(organization_id)
        .bind(timestamp(now))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Creates an API key; returns the key (only its hash is kept) and its listing.
    pub async fn create_api_key(
        &self,
        organization_id: i64,
        name: &str,
        scope: KeyScope,
        expires_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> StoreResult<(String, ApiKeyView)> {
        let key = format!("ok_{}", new_token());
        let row: ApiKeyRow = sqlx::query_as(&format!(
            "INSERT INTO api_keys (key_sha256, organization_id, name, scope, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING {API_KEY_COLUMNS}"
        ))
        .bind(token_hash(&key))
        .bind(organization_id)
        .bind(name)
        .bind(scope.as_str())
        .bind(timestamp(now))
        .bind(expires_at.map(timestamp))
        .fetch_one(&self.pool)
        .await?;
        Ok((key, row.read()?))
    }

    /// The organization's API keys, newest first.
    pub async fn api_keys(&self, organization_id: i64) -> StoreResult<Vec<ApiKeyView>> {
        let rows: Vec<ApiKeyRow> = sqlx::query_as(&format!(
            "SELECT {API_KEY_COLUMNS} FROM api_keys WHERE organization_id = $1 ORDER BY id DESC"
        ))
        .bind(organization_id)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(ApiKeyRow::read).collect()
    }

    /// Sets when a key stops working; `None` when the organization has no such key.
    pub async fn expire_api_key(
        &self,
        organization_id: i64,
        key_id: i64,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<ApiKeyView>> {
        let row: Option<ApiKeyRow> = sqlx::query_as(&format!(
            "UPDATE api_keys SET expires_at = $3 WHERE id = $1 AND organization_id = $2
             RETURNING {API_KEY_COLUMNS}"
        ))
        .bind(key_id)
        .bind(organization_id)
        .bind(timestamp(at))
        .fetch_optional(&self.pool)
        .await?;
        row.map(ApiKeyRow::read).transpose()
    }

    /// Revokes a key at once; `None` when the organization has no such key.
    pub async fn revoke_api_key(
        &self,
        organization_id: i64,
        key_id: i64,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<ApiKeyView>> {
        let row: Option<ApiKeyRow> = sqlx::query_as(&format!(
            "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $3)
             WHERE id = $1 AND organization_id = $2 RETURNING {API_KEY_COLUMNS}"
        ))
        .bind(key_id)
        .bind(organization_id)
        .bind(timestamp(now))
        .fetch_optional(&self.pool)
        .await?;
        row.map(ApiKeyRow::read).transpose()
    }
}

/// Adds (or replaces) an approved template of an organization.
async fn insert_template(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    organization_id: i64,
    name: &str,
    language: &str,
    category: &str,
    purpose: &str,
    body: &str,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO templates (organization_id, name, language, category, purpose, body)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (organization_id, name, language)
         DO UPDATE SET category = excluded.category, purpose = excluded.purpose, body = excluded.body",
    )
    .bind(organization_id)
    .bind(name)
    .bind(language)
    .bind(category)
    .bind(purpose)
    .bind(body)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Store {
    /// Adds (or replaces) an approved template: `purpose` is `opt_in` or
    /// `message`; the first opt-in template is the one requests use.
    pub async fn put_template(
        &self,
        organization_id: i64,
        template: &super::organizations::TemplateRow,
    ) -> StoreResult<()> {
        let mut tx = self.write_transaction().await?;
        insert_template(
            &mut tx,
            organization_id,
            &template.name,
            &template.language,
            &template.category,
            &template.purpose,
            &template.body,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Writes the given settings of organization `id` inside `tx`.
async fn apply_settings(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    id: i64,
    settings: &OrganizationSettings,
) -> StoreResult<Provisioned<()>> {
    if let Some(account) = &settings.whatsapp_business_account_id {
        sqlx::query("UPDATE organizations SET whatsapp_business_account_id = $2 WHERE id = $1")
            .bind(id)
            .bind(account)
            .execute(&mut **tx)
            .await?;
    }
    if let Some(token) = &settings.whatsapp_access_token_env {
        sqlx::query("UPDATE organizations SET whatsapp_access_token_env = $2 WHERE id = $1")
            .bind(id)
            .bind(token)
            .execute(&mut **tx)
            .await?;
    }
    if let Some(text) = &settings.sms_help_text {
        // Checked before: empty means the standard answer.
        sqlx::query("UPDATE organizations SET sms_help_text = NULLIF($2, '') WHERE id = $1")
            .bind(id)
            .bind(text)
            .execute(&mut **tx)
            .await?;
    }
    if let Some(language) = settings.default_language {
        sqlx::query("UPDATE organizations SET default_language = $2 WHERE id = $1")
            .bind(id)
            .bind(language.as_str())
            .execute(&mut **tx)
            .await?;
    }
    if let Some(template) = &settings.alternate_opt_in_template {
        sqlx::query("UPDATE organizations SET alternate_opt_in_template = $2 WHERE id = $1")
            .bind(id)
            .bind(template)
            .execute(&mut **tx)
            .await?;
    }
    if let Some(months) = settings.retention_months {
        sqlx::query("UPDATE organizations SET retention_months = $2 WHERE id = $1")
            .bind(id)
            .bind(i64::from(months))
            .execute(&mut **tx)
            .await?;
    }
    if let Some(countries) = &settings.sms_countries {
        sqlx::query("UPDATE organizations SET sms_countries = $2 WHERE id = $1")
            .bind(id)
            .bind(countries.join(" "))
            .execute(&mut **tx)
            .await?;
    }
    if let Some(origins) = &settings.frame_origins {
        sqlx::query("UPDATE organizations SET frame_origins = $2 WHERE id = $1")
            .bind(id)
            .bind(origins.join(" "))
            .execute(&mut **tx)
            .await?;
    }
    if let Some(number) = &settings.sms_number {
        let owner: Option<i64> =
            sqlx::query_scalar("SELECT id FROM organizations WHERE sms_number = $1")
                .bind(number)
                .fetch_optional(&mut **tx)
                .await?;
        if owner.is_some_and(|owner| owner != id) {
            return Ok(Err(Conflict::SmsNumberTaken(number.clone())));
        }
        sqlx::query("UPDATE organizations SET sms_number = $2 WHERE id = $1")
            .bind(id)
            .bind(number)
            .execute(&mut **tx)
            .await?;
    }
    for number in &settings.add_whatsapp_phone_number_ids {
        let owner: Option<i64> = sqlx::query_scalar(
            "SELECT organization_id FROM whatsapp_numbers WHERE phone_number_id = $1",
        )
        .bind(number)
        .fetch_optional(&mut **tx)
        .await?;
        match owner {
            Some(owner) if owner == id => {}
            Some(_) => return Ok(Err(Conflict::PhoneNumberIdTaken(number.clone()))),
            None => {
                sqlx::query(
                    "INSERT INTO whatsapp_numbers (phone_number_id, organization_id) VALUES ($1, $2)",
                )
                .bind(number)
                .bind(id)
                .execute(&mut **tx)
                .await?;
            }
        }
    }
    Ok(Ok(()))
}
