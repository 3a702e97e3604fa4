//! Organizations as the flow needs them: their switch for WhatsApp, their
//! names in the texts sent, their approved templates, and which organization
//! a provider number belongs to.

use optin_core::api::TemplateView;
use optin_core::language::Language;

use crate::providers::WhatsAppSender;

use super::{parse_name, Store, StoreResult, UnitOfWork};

/// An approved template.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TemplateRow {
    pub name: String,
    pub language: String,
    pub category: String,
    pub purpose: String,
    pub body: String,
}

impl From<TemplateRow> for TemplateView {
    fn from(t: TemplateRow) -> Self {
        let parameters = optin_core::api::template_parameters(&t.body);
        TemplateView {
            name: t.name,
            language: t.language,
            category: t.category,
            body: t.body,
            parameters,
        }
    }
}

/// Which template a query is after.
#[derive(Debug, Clone, Copy)]
pub enum TemplateKind<'a> {
    /// The organization's first opt-in template, whatever its language (the
    /// request itself picks by language: [`UnitOfWork::opt_in_templates`]).
    OptIn,
    /// An approved message template by name and language.
    Message { name: &'a str, language: &'a str },
}

/// The organization's opt-in templates (each language it had approved, in
/// the order added) and the language it falls back to.
#[derive(Debug, Clone)]
pub struct OptInTemplates {
    pub templates: Vec<TemplateRow>,
    pub default_language: Language,
}

/// Reads [`OptInTemplates`] through a transaction or the pool alike.
async fn read_opt_in_templates(
    conn: &mut sqlx::AnyConnection,
    organization_id: i64,
) -> StoreResult<OptInTemplates> {
    let templates = sqlx::query_as(
        "SELECT name, language, category, purpose, body FROM templates
         WHERE organization_id = $1 AND purpose = 'opt_in' ORDER BY id",
    )
    .bind(organization_id)
    .fetch_all(&mut *conn)
    .await?;
    let default_language: String =
        sqlx::query_scalar("SELECT default_language FROM organizations WHERE id = $1")
            .bind(organization_id)
            .fetch_one(&mut *conn)
            .await?;
    Ok(OptInTemplates {
        templates,
        default_language: parse_name(
            &format!("organization {organization_id}"),
            &default_language,
        )?,
    })
}

impl UnitOfWork {
    /// Whether the organization allows WhatsApp messaging.
    pub async fn whatsapp_enabled(&mut self, organization_id: i64) -> StoreResult<bool> {
        let enabled: super::Flag =
            sqlx::query_scalar("SELECT whatsapp_enabled FROM organizations WHERE id = $1")
                .bind(organization_id)
                .fetch_one(self.conn().await?)
                .await?;
        Ok(enabled.into())
    }

    /// The organization's name and, when given, the advisor's.
    pub async fn sender_names(
        &mut self,
        organization_id: i64,
        advisor_id: Option<i64>,
    ) -> StoreResult<(String, Option<String>)> {
        let organization: String =
            sqlx::query_scalar("SELECT name FROM organizations WHERE id = $1")
                .bind(organization_id)
                .fetch_one(self.conn().await?)
                .await?;
        let advisor = match advisor_id {
            Some(id) => {
                sqlx::query_scalar("SELECT name FROM advisors WHERE id = $1")
                    .bind(id)
                    .fetch_optional(self.conn().await?)
                    .await?
            }
            None => None,
        };
        Ok((organization, advisor))
    }

    /// What the organization answers to HELP by SMS, when it set a text.
    pub async fn sms_help_text(&mut self, organization_id: i64) -> StoreResult<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT sms_help_text FROM organizations WHERE id = $1")
                .bind(organization_id)
                .fetch_one(self.conn().await?)
                .await?,
        )
    }

    /// A template of the organization.
    pub async fn template(
        &mut self,
        organization_id: i64,
        kind: TemplateKind<'_>,
    ) -> StoreResult<Option<TemplateRow>> {
        let query = match kind {
            TemplateKind::OptIn => sqlx::query_as(
                "SELECT name, language, category, purpose, body FROM templates
                 WHERE organization_id = $1 AND purpose = 'opt_in' ORDER BY id LIMIT 1",
            )
            .bind(organization_id),
            TemplateKind::Message { name, language } => sqlx::query_as(
                "SELECT name, language, category, purpose, body FROM templates
                 WHERE organization_id = $1 AND name = $2 AND language = $3 AND purpose = 'message'",
            )
            .bind(organization_id)
            .bind(name)
            .bind(language),
        };
        Ok(query.fetch_optional(self.conn().await?).await?)
    }

    /// The organization's opt-in templates and fallback language.
    pub async fn opt_in_templates(&mut self, organization_id: i64) -> StoreResult<OptInTemplates> {
        read_opt_in_templates(self.conn().await?, organization_id).await
    }

    /// The organization that sends from this WhatsApp phone number id.
    pub async fn organization_by_whatsapp_number(
        &mut self,
        phone_number_id: &str,
    ) -> StoreResult<Option<i64>> {
        if let Some(known) = self.known.whatsapp_numbers.get(phone_number_id) {
            return Ok(*known);
        }
        let owner = sqlx::query_scalar(
            "SELECT organization_id FROM whatsapp_numbers WHERE phone_number_id = $1",
        )
        .bind(phone_number_id)
        .fetch_optional(self.conn().await?)
        .await?;
        self.known
            .whatsapp_numbers
            .insert(phone_number_id.to_owned(), owner);
        Ok(owner)
    }

    /// The organization that sends SMS from this number.
    pub async fn organization_by_sms_number(&mut self, number: &str) -> StoreResult<Option<i64>> {
        Ok(
            sqlx::query_scalar("SELECT id FROM organizations WHERE sms_number = $1")
                .bind(number)
                .fetch_optional(self.conn().await?)
                .await?,
        )
    }
}

impl Store {
    /// The body of an approved template of any organization, by name and
    /// language (what Meta knows of the service's templates).
    pub async fn any_template_body(
        &self,
        name: &str,
        language: &str,
    ) -> StoreResult<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT body FROM templates WHERE name = $1 AND language = $2 ORDER BY id LIMIT 1",
        )
        .bind(name)
        .bind(language)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// The organization's opt-in templates and fallback language.
    pub async fn opt_in_templates(&self, organization_id: i64) -> StoreResult<OptInTemplates> {
        let mut conn = self.pool.acquire().await?;
        read_opt_in_templates(&mut conn, organization_id).await
    }

    /// The organization's approved templates.
    pub async fn templates(&self, organization_id: i64) -> StoreResult<Vec<TemplateRow>> {
        Ok(sqlx::query_as(
            "SELECT name, language, category, purpose, body FROM templates
             WHERE organization_id = $1 ORDER BY purpose, name, language",
        )
        .bind(organization_id)
        .fetch_all(&self.pool)
        .await?)
    }
}

/// An organization's WhatsApp sending number and the environment variable
/// of its own token, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrganizationWhatsApp {
    pub phone_number_id: String,
    pub access_token_env: Option<String>,
}

impl OrganizationWhatsApp {
    /// The sender, with the organization's token read from the service's
    /// environment; an error names the variable when it is not set.
    pub fn sender(self) -> Result<WhatsAppSender, String> {
        let access_token = match &self.access_token_env {
            Some(var) => Some(std::env::var(var).map_err(|_| {
                format!("the organization's access token variable {var} is not set")
            })?),
            None => None,
        };
        Ok(WhatsAppSender {
            phone_number_id: self.phone_number_id,
            access_token,
        })
    }
}

/// Where an organization's messages go out from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrganizationSenders {
    /// Its first WhatsApp number and where its own token is, if provisioned.
    pub whatsapp: Option<OrganizationWhatsApp>,
    /// Its SMS sender number, if provisioned.
    pub sms_from: Option<String>,
}

impl Store {
    /// The organization's sending numbers.
    pub async fn organization_senders(
        &self,
        organization_id: i64,
    ) -> StoreResult<OrganizationSenders> {
        let (token_env, sms_from): (Option<String>, Option<String>) = sqlx::query_as(
            "SELECT whatsapp_access_token_env, sms_number FROM organizations WHERE id = $1",
        )
        .bind(organization_id)
        .fetch_one(&self.pool)
        .await?;
        let number: Option<String> = sqlx::query_scalar(
            "SELECT phone_number_id FROM whatsapp_numbers WHERE organization_id = $1
             ORDER BY added_at, phone_number_id LIMIT 1",
        )
        .bind(organization_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(OrganizationSenders {
            whatsapp: number.map(|phone_number_id| OrganizationWhatsApp {
                phone_number_id,
                access_token_env: token_env,
            }),
            sms_from,
        })
    }

    /// The environment variables organizations keep their own tokens in.
    pub async fn access_token_variables(&self) -> StoreResult<Vec<(i64, String)>> {
        Ok(sqlx::query_as(
            "SELECT id, whatsapp_access_token_env FROM organizations
             WHERE whatsapp_access_token_env IS NOT NULL ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// The frame origins every organization allows (the service's CSP
    /// `frame-ancestors` is one header for the whole app).
    pub async fn all_frame_origins(&self) -> StoreResult<Vec<String>> {
        let rows: Vec<String> = sqlx::query_scalar("SELECT frame_origins FROM organizations")
            .fetch_all(&self.pool)
            .await?;
        let mut origins: Vec<String> = rows
            .iter()
            .flat_map(|row| row.split_whitespace().map(str::to_owned))
            .collect();
        origins.sort();
        origins.dedup();
        Ok(origins)
    }
}
