//! What Meta says about each template (status, category), kept per template
//! with the raw history of its signals; and the organization's alternate
//! opt-in template.

use chrono::{DateTime, Utc};
use optin_core::templates::{TemplateCategory, TemplateStanding, TemplateStatus};

use super::organizations::TemplateRow;
use super::{timestamp, StoreError, StoreResult, UnitOfWork};

/// Meta writes languages `en-US` in template webhooks and `en_US` in sends.
fn stored_language(language: &str) -> String {
    language.replace('-', "_")
}

/// One signal about a template, for its history.
pub struct TemplateUpdate<'a> {
    pub organization_id: i64,
    pub name: &'a str,
    pub language: &'a str,
    pub detail: serde_json::Value,
    pub raw_body: &'a str,
}

impl UnitOfWork {
    /// The organization whose WhatsApp Business Account this is.
    pub async fn organization_by_account(&mut self, account_id: &str) -> StoreResult<Option<i64>> {
        Ok(sqlx::query_scalar(
            "SELECT id FROM organizations WHERE whatsapp_business_account_id = $1",
        )
        .bind(account_id)
        .fetch_optional(self.conn().await?)
        .await?)
    }

    /// What Meta last said about one template; approved in its configured
    /// category until Meta says otherwise.
    pub async fn template_standing(
        &mut self,
        organization_id: i64,
        name: &str,
        language: &str,
    ) -> StoreResult<TemplateStanding> {
        let row: Option<(String, String)> = sqlx::query_as(
            "SELECT status, category FROM templates
             WHERE organization_id = $1 AND name = $2 AND language = $3",
        )
        .bind(organization_id)
        .bind(name)
        .bind(stored_language(language))
        .fetch_optional(self.conn().await?)
        .await?;
        let Some((status, category)) = row else {
            return Ok(TemplateStanding {
                status: TemplateStatus::Missing,
                category: TemplateCategory::Utility,
            });
        };
        let corrupt = |problem: String| StoreError::Corrupt {
            what: format!("template {name} ({language})"),
            problem,
        };
        Ok(TemplateStanding {
            status: TemplateStatus::from_meta(&status)
                .ok_or_else(|| corrupt(format!("status {status:?}")))?,
            category: TemplateCategory::from_meta(&category)
                .ok_or_else(|| corrupt(format!("category {category:?}")))?,
        })
    }

    /// Sets a template's status (from a webhook or a send error); false when
    /// the organization has no such template.
    pub async fn set_template_status(
        &mut self,
        organization_id: i64,
        name: &str,
        language: &str,
        status: TemplateStatus,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let updated = sqlx::query(
            "UPDATE templates SET status = $4, status_reason = $5, status_changed_at = $6
             WHERE organization_id = $1 AND name = $2 AND language = $3",
        )
        .bind(organization_id)
        .bind(name)
        .bind(stored_language(language))
        .bind(status.as_str())
        .bind(reason)
        .bind(timestamp(now))
        .execute(self.conn().await?)
        .await?;
        Ok(updated.rows_affected() > 0)
    }

    /// Sets a template's category; false when there is no such template.
    pub async fn set_template_category(
        &mut self,
        organization_id: i64,
        name: &str,
        language: &str,
        category: TemplateCategory,
    ) -> StoreResult<bool> {
        let updated = sqlx::query(
            "UPDATE templates SET category = $4
             WHERE organization_id = $1 AND name = $2 AND language = $3",
        )
        .bind(organization_id)
        .bind(name)
        .bind(stored_language(language))
        .bind(category.as_str())
        .execute(self.conn().await?)
        .await?;
        Ok(updated.rows_affected() > 0)
    }

    /// Keeps one of Meta's template signals, raw, in the template's history.
    pub async fn record_template_update(
        &mut self,
        update: TemplateUpdate<'_>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO template_updates (organization_id, name, language, detail_json, raw_body, received_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(update.organization_id)
        .bind(update.name)
        .bind(stored_language(update.language))
        .bind(update.detail.to_string())
        .bind(update.raw_body)
        .bind(timestamp(now))
        .execute(self.conn().await?)
        .await?;
        Ok(())
    }

    /// The organization's alternate opt-in template in `language`, else in
    /// any language it has.
    pub async fn alternate_opt_in_template(
        &mut self,
        organization_id: i64,
        language: &str,
    ) -> StoreResult<Option<TemplateRow>> {
        Ok(sqlx::query_as(
            "SELECT t.name, t.language, t.category, t.purpose, t.body
             FROM templates t JOIN organizations o ON o.id = t.organization_id
             WHERE t.organization_id = $1 AND t.name = o.alternate_opt_in_template
               AND t.purpose = 'opt_in'
             ORDER BY t.language = $2 DESC, t.id LIMIT 1",
        )
        .bind(organization_id)
        .bind(stored_language(language))
        .fetch_optional(self.conn().await?)
        .await?)
    }
}
