//! Organization-wide reads for compliance: every number the organization
//! holds or has consent for, who holds it, and a number's events with the
//! names of the advisors who acted.

use chrono::{DateTime, Utc};
use optin_core::compliance::NumberHolder;

use super::consent::{ConsentRecord, ConsentRow, CONSENT_COLUMNS};
use super::contacts::like_pattern;
use super::{parse_name, parse_optional_timestamp, Store, StoreResult};
use optin_core::vocab::Role;

/// A number of the organization with its stored consent and holders.
#[derive(Debug, Clone)]
pub struct OrganizationNumber {
    pub phone: String,
    pub consent: ConsentRecord,
    /// When its consent row last changed; absent when never asked.
    pub updated_at: Option<DateTime<Utc>>,
    pub holders: Vec<NumberHolder>,
}

/// Which numbers a compliance listing wants (the consent-state filter is
/// applied by the caller, on the state as shown, which depends on the clock).
#[derive(Debug, Clone, Default)]
pub struct NumberFilter<'a> {
    /// Only numbers this advisor holds.
    pub advisor_id: Option<i64>,
    /// Part of a contact name or number.
    pub text: Option<&'a str>,
    /// `updated_at` at or after.
    pub since: Option<DateTime<Utc>>,
    /// `updated_at` before.
    pub until: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct NumberRow {
    phone_e164: String,
    updated_at: Option<String>,
    #[sqlx(flatten)]
    consent: ConsentRow,
}

#[derive(sqlx::FromRow)]
struct HolderRow {
    phone_e164: String,
    advisor_id: i64,
    advisor_name: String,
    contact_name: String,
}

impl Store {
    /// The organization's numbers matching `filter`, most recently changed first.
    pub async fn organization_numbers(
        &self,
        organization_id: i64,
        filter: &NumberFilter<'_>,
    ) -> StoreResult<Vec<OrganizationNumber>> {
        let pattern = filter.text.map(like_pattern);
        let name_matches = self.engine().like_ascii_nocase("c.name", "$3");
        let rows: Vec<NumberRow> = sqlx::query_as(&format!(
            "WITH numbers AS (
                SELECT c.phone_e164 FROM contacts c JOIN advisors a ON a.id = c.advisor_id
                WHERE a.organization_id = $1
                UNION
                SELECT phone_e164 FROM consents WHERE organization_id = $1
             )
             SELECT n.phone_e164, k.updated_at, {CONSENT_COLUMNS}
             FROM numbers n
             LEFT JOIN consents k ON k.organization_id = $1 AND k.phone_e164 = n.phone_e164
             WHERE ($2 IS NULL OR EXISTS (SELECT 1 FROM contacts c
                        WHERE c.advisor_id = $2 AND c.phone_e164 = n.phone_e164))
               AND ($3 IS NULL OR n.phone_e164 LIKE $3 ESCAPE '\\'
                    OR EXISTS (SELECT 1 FROM contacts c JOIN advisors a ON a.id = c.advisor_id
                        WHERE a.organization_id = $1 AND c.phone_e164 = n.phone_e164
                          AND {name_matches}))
               AND ($4 IS NULL OR k.updated_at >= $4)
               AND ($5 IS NULL OR k.updated_at < $5)
             ORDER BY k.updated_at IS NULL, k.updated_at DESC, n.phone_e164"
        ))
        .bind(organization_id)
        .bind(filter.advisor_id)
        .bind(pattern)
        .bind(filter.since.map(super::timestamp))
        .bind(filter.until.map(super::timestamp))
        .fetch_all(&self.pool)
        .await?;
        let holders: Vec<HolderRow> = sqlx::query_as(
            "SELECT c.phone_e164, a.id AS advisor_id, a.name AS advisor_name, c.name AS contact_name
             FROM contacts c JOIN advisors a ON a.id = c.advisor_id
             WHERE a.organization_id = $1 ORDER BY c.phone_e164, a.name, a.id",
        )
        .bind(organization_id)
        .fetch_all(&self.pool)
        .await?;
        let mut by_phone: std::collections::HashMap<String, Vec<NumberHolder>> =
            std::collections::HashMap::new();
        for holder in holders {
            by_phone
                .entry(holder.phone_e164)
                .or_default()
                .push(NumberHolder {
                    advisor_id: holder.advisor_id,
                    advisor_name: holder.advisor_name,
                    contact_name: holder.contact_name,
                });
        }
        rows.into_iter()
            .map(|row| {
                let what = format!("consent of {}", row.phone_e164);
                Ok(OrganizationNumber {
                    updated_at: parse_optional_timestamp(&what, row.updated_at.as_deref())?,
                    consent: row.consent.into_record(&row.phone_e164)?,
                    holders: by_phone.remove(&row.phone_e164).unwrap_or_default(),
                    phone: row.phone_e164,
                })
            })
            .collect()
    }

    /// Whether the advisor holds the number in their contacts.
    pub async fn advisor_holds(&self, advisor_id: i64, phone: &str) -> StoreResult<bool> {
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM contacts WHERE advisor_id = $1 AND phone_e164 = $2 LIMIT 1",
        )
        .bind(advisor_id)
        .bind(phone)
        .fetch_optional(&self.pool)
        .await?;
        Ok(found.is_some())
    }

    /// The organization's people (advisors, compliance, admins): name and
    /// role by id (for timelines).
    pub async fn people(
        &self,
        organization_id: i64,
    ) -> StoreResult<std::collections::HashMap<i64, (String, Role)>> {
        let rows: Vec<(i64, String, String)> =
            sqlx::query_as("SELECT id, name, role FROM advisors WHERE organization_id = $1")
                .bind(organization_id)
                .fetch_all(&self.pool)
                .await?;
        rows.into_iter()
            .map(|(id, name, role)| {
                let role = parse_name(&format!("the role of person {id}"), &role)?;
                Ok((id, (name, role)))
            })
            .collect()
    }
}
