//! WhatsApp identities: per organization, the number a person's consent is
//! keyed by, the number WhatsApp last shared for them and their
//! business-scoped user id (BSUID). See `services::identities` for the rules.

use chrono::{DateTime, Utc};
use optin_core::whatsapp::Addressee;

use super::{timestamp, StoreResult, UnitOfWork};

/// A person's WhatsApp identity in one organization.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct WhatsAppIdentity {
    /// The number consent, contacts, messages and evidence are keyed by.
    pub phone_e164: String,
    /// The number WhatsApp last shared for the person (E.164); `None` when
    /// WhatsApp withholds it.
    pub wa_number: Option<String>,
    /// The business-scoped user id, once learned.
    pub user_id: Option<String>,
}

impl WhatsAppIdentity {
    /// A number first seen with its BSUID.
    pub fn learned(phone_e164: &str, user_id: &str) -> Self {
        Self {
            phone_e164: phone_e164.to_owned(),
            wa_number: Some(phone_e164.to_owned()),
            user_id: Some(user_id.to_owned()),
        }
    }

    /// How a send reaches the person, as Meta documents it.
    pub fn addressee(&self) -> Addressee {
        Addressee::preferred(self.wa_number.as_deref(), self.user_id.as_deref())
            .unwrap_or_else(|| Addressee::Number(self.phone_e164.clone()))
    }
}

const COLUMNS: &str = "phone_e164, wa_number, user_id";

impl UnitOfWork {
    /// The identity keyed by this number.
    pub async fn identity(
        &mut self,
        organization_id: i64,
        phone: &str,
    ) -> StoreResult<Option<WhatsAppIdentity>> {
        Ok(sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM whatsapp_identities WHERE organization_id = $1 AND phone_e164 = $2"
        ))
        .bind(organization_id)
        .bind(phone)
        .fetch_optional(self.conn().await?)
        .await?)
    }

    /// The identity with this business-scoped user id.
    pub async fn identity_by_user_id(
        &mut self,
        organization_id: i64,
        user_id: &str,
    ) -> StoreResult<Option<WhatsAppIdentity>> {
        Ok(sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM whatsapp_identities WHERE organization_id = $1 AND user_id = $2"
        ))
        .bind(organization_id)
        .bind(user_id)
        .fetch_optional(self.conn().await?)
        .await?)
    }

    /// Writes an identity (keyed by its number).
    pub async fn save_identity(
        &mut self,
        organization_id: i64,
        identity: &WhatsAppIdentity,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO whatsapp_identities (organization_id, phone_e164, wa_number, user_id, updated_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (organization_id, phone_e164) DO UPDATE SET
               wa_number = excluded.wa_number, user_id = excluded.user_id,
               updated_at = excluded.updated_at",
        )
        .bind(organization_id)
        .bind(&identity.phone_e164)
        .bind(identity.wa_number.as_deref())
        .bind(identity.user_id.as_deref())
        .bind(timestamp(now))
        .execute(self.conn().await?)
        .await?;
        Ok(())
    }

    /// Forgets the identity keyed by this number.
    pub async fn delete_identity(&mut self, organization_id: i64, phone: &str) -> StoreResult<()> {
        sqlx::query(
            "DELETE FROM whatsapp_identities WHERE organization_id = $1 AND phone_e164 = $2",
        )
        .bind(organization_id)
        .bind(phone)
        .execute(self.conn().await?)
        .await?;
        Ok(())
    }

    /// Moves the organization's contacts from `old` to `new` (the person
    /// changed number), except where the advisor already has a contact with
    /// the new number; returns how many moved.
    pub async fn move_contacts_number(
        &mut self,
        organization_id: i64,
        old: &str,
        new: &str,
    ) -> StoreResult<u64> {
        let moved = sqlx::query(
            "UPDATE contacts SET phone_e164 = $3
             WHERE phone_e164 = $2
               AND advisor_id IN (SELECT id FROM advisors WHERE organization_id = $1)
               AND NOT EXISTS (SELECT 1 FROM contacts c2
                               WHERE c2.advisor_id = contacts.advisor_id AND c2.phone_e164 = $3)",
        )
        .bind(organization_id)
        .bind(old)
        .bind(new)
        .execute(self.conn().await?)
        .await?;
        Ok(moved.rows_affected())
    }

    /// Files the organization's opt-in requests to `old` under `new`, so that
    /// a tap on a request's button after a number change is still the answer
    /// to it (WhatsApp moves the chat with the account). What was sent to
    /// which number stays in the messages and the consent record.
    pub async fn move_opt_in_requests(
        &mut self,
        organization_id: i64,
        old: &str,
        new: &str,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE opt_in_requests SET phone_e164 = $3 WHERE organization_id = $1 AND phone_e164 = $2",
        )
        .bind(organization_id)
        .bind(old)
        .bind(new)
        .execute(self.conn().await?)
        .await?;
        Ok(())
    }
}
