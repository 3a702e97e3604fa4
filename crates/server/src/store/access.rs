//! The access log: who read or took away which records, and when.

use chrono::{DateTime, Utc};
use optin_core::compliance::AccessEntry;
use optin_core::vocab::AccessKind;

use super::auth::AdvisorIdentity;
use super::{parse_name, parse_timestamp, timestamp, Store, StoreResult};

/// One access, as it is about to be logged.
pub struct NewAccess<'a> {
    pub person: &'a AdvisorIdentity,
    pub kind: AccessKind,
    pub phone: Option<&'a str>,
    pub detail: Option<String>,
}

#[derive(sqlx::FromRow)]
struct AccessRow {
    id: i64,
    at: String,
    person_id: i64,
    person_name: String,
    role: String,
    kind: String,
    phone_e164: Option<String>,
    detail: Option<String>,
}

impl Store {
    /// Logs an access; done before the records are handed over, so nothing
    /// is read without its trace.
    pub async fn log_access(&self, access: NewAccess<'_>, at: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO access_log (organization_id, person_id, role, kind, phone_e164, detail, at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(access.person.organization_id)
        .bind(access.person.advisor_id)
        .bind(&access.person.role)
        .bind(access.kind.as_str())
        .bind(access.phone)
        .bind(access.detail)
        .bind(timestamp(at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The organization's log, newest first: at most `limit` entries older
    /// than `before` (an entry id), of one number when `phone` is given.
    pub async fn access_log(
        &self,
        organization_id: i64,
        phone: Option<&str>,
        before: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<AccessEntry>> {
        let rows: Vec<AccessRow> = sqlx::query_as(
            "SELECT l.id, l.at, l.person_id, a.name AS person_name, l.role, l.kind, l.phone_e164, l.detail
             FROM access_log l JOIN advisors a ON a.id = l.person_id
             WHERE l.organization_id = $1
               AND ($2 IS NULL OR l.phone_e164 = $2)
               AND ($3 IS NULL OR l.id < $3)
             ORDER BY l.id DESC LIMIT $4",
        )
        .bind(organization_id)
        .bind(phone)
        .bind(before)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                let what = format!("access log entry {}", row.id);
                Ok(AccessEntry {
                    id: row.id,
                    at: parse_timestamp(&what, &row.at)?,
                    person_id: row.person_id,
                    person_name: row.person_name,
                    role: parse_name(&what, &row.role)?,
                    kind: parse_name(&what, &row.kind)?,
                    phone: row.phone_e164,
                    detail: row.detail,
                })
            })
            .collect()
    }
}
