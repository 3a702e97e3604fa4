//! Revocations recorded by people (given by phone, e-mail, in person, ...)
//! and messages flagged as possible requests to stop, with their decisions.
//! Both are also in the consent record; these rows are what screens read.

use chrono::{DateTime, Utc};
use optin_core::api::{Revocation, StopFlag};
use optin_core::vocab::{Channel, RevocationChannel, StopFlagDecision};

use super::{parse_name, parse_timestamp, timestamp, Store, StoreResult, UnitOfWork};

/// A revocation to store.
pub struct NewRevocationRow<'a> {
    pub organization_id: i64,
    pub phone: &'a str,
    pub channel: RevocationChannel,
    pub given_at: DateTime<Utc>,
    pub note: &'a str,
    pub recorded_by: i64,
    /// The flagged message it was applied from, if it was.
    pub stop_flag_id: Option<i64>,
}

/// A message to flag.
pub struct NewStopFlag<'a> {
    pub organization_id: i64,
    pub phone: &'a str,
    pub channel: Channel,
    pub message_id: i64,
    pub text: &'a str,
}

/// A flag as stored, with its decision once made.
pub struct StoredStopFlag {
    pub flag: StopFlag,
    pub decision: Option<StopFlagDecision>,
}

#[derive(sqlx::FromRow)]
struct FlagRow {
    id: i64,
    phone_e164: String,
    channel: String,
    text: String,
    flagged_at: String,
    decision: Option<String>,
}

impl FlagRow {
    fn into_stored(self) -> StoreResult<StoredStopFlag> {
        let what = format!("stop flag {}", self.id);
        Ok(StoredStopFlag {
            decision: self
                .decision
                .as_deref()
                .map(|d| parse_name(&what, d))
                .transpose()?,
            flag: StopFlag {
                id: self.id,
                channel: parse_name(&what, &self.channel)?,
                flagged_at: parse_timestamp(&what, &self.flagged_at)?,
                phone: self.phone_e164,
                text: self.text,
            },
        })
    }
}

#[derive(sqlx::FromRow)]
struct RevocationRow {
    id: i64,
    channel: String,
    given_at: String,
    note: String,
    recorded_by: String,
    role: String,
    recorded_at: String,
}

const FLAG_COLUMNS: &str = "id, phone_e164, channel, text, flagged_at, decision";

impl UnitOfWork {
    /// Stores a recorded revocation; returns its id.
    pub async fn insert_revocation(
        &mut self,
        r: NewRevocationRow<'_>,
        now: DateTime<Utc>,
    ) -> StoreResult<i64> {
        Ok(sqlx::query_scalar(
            "INSERT INTO revocations (organization_id, phone_e164, channel, given_at, note,
                recorded_by, recorded_at, stop_flag_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(r.organization_id)
        .bind(r.phone)
        .bind(r.channel.as_str())
        .bind(timestamp(r.given_at))
        .bind(r.note)
        .bind(r.recorded_by)
        .bind(timestamp(now))
        .bind(r.stop_flag_id)
        .fetch_one(self.conn().await?)
        .await?)
    }

    /// Flags a message as a possible request to stop; returns the flag's id.
    pub async fn insert_stop_flag(
        &mut self,
        f: NewStopFlag<'_>,
        now: DateTime<Utc>,
    ) -> StoreResult<i64> {
        Ok(sqlx::query_scalar(
            "INSERT INTO stop_flags (organization_id, phone_e164, channel, message_id, text, flagged_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(f.organization_id)
        .bind(f.phone)
        .bind(f.channel.as_str())
        .bind(f.message_id)
        .bind(f.text)
        .bind(timestamp(now))
        .fetch_one(self.conn().await?)
        .await?)
    }

    /// A flag of the organization about `phone`; `None` for any other.
    pub async fn stop_flag(
        &mut self,
        organization_id: i64,
        phone: &str,
        id: i64,
    ) -> StoreResult<Option<StoredStopFlag>> {
        let row: Option<FlagRow> = sqlx::query_as(&format!(
            "SELECT {FLAG_COLUMNS} FROM stop_flags
             WHERE id = $1 AND organization_id = $2 AND phone_e164 = $3"
        ))
        .bind(id)
        .bind(organization_id)
        .bind(phone)
        .fetch_optional(self.conn().await?)
        .await?;
        row.map(FlagRow::into_stored).transpose()
    }

    /// Whether the organization knows the number: an advisor holds it, or
    /// its consent was ever recorded.
    pub async fn organization_has_number(
        &mut self,
        organization_id: i64,
        phone: &str,
    ) -> StoreResult<bool> {
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT 1 WHERE EXISTS (SELECT 1 FROM contacts c JOIN advisors a ON a.id = c.advisor_id
                                    WHERE a.organization_id = $1 AND c.phone_e164 = $2)
                         OR EXISTS (SELECT 1 FROM consents WHERE organization_id = $1 AND phone_e164 = $2)",
        )
        .bind(organization_id)
        .bind(phone)
        .fetch_optional(self.conn().await?)
        .await?;
        Ok(found.is_some())
    }

    /// Records the decision on an open flag; false when it was decided already.
    pub async fn decide_stop_flag(
        &mut self,
        id: i64,
        decision: StopFlagDecision,
        decided_by: i64,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE stop_flags SET decision = $2, decided_by = $3, decided_at = $4
             WHERE id = $1 AND decided_at IS NULL",
        )
        .bind(id)
        .bind(decision.as_str())
        .bind(decided_by)
        .bind(timestamp(now))
        .execute(self.conn().await?)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

impl Store {
    /// The latest revocation recorded for a number, with who recorded it.
    pub async fn latest_revocation(
        &self,
        organization_id: i64,
        phone: &str,
    ) -> StoreResult<Option<Revocation>> {
        let row: Option<RevocationRow> = sqlx::query_as(
            "SELECT r.id, r.channel, r.given_at, r.note, a.name AS recorded_by, a.role,
                    r.recorded_at
             FROM revocations r JOIN advisors a ON a.id = r.recorded_by
             WHERE r.organization_id = $1 AND r.phone_e164 = $2
             ORDER BY r.id DESC LIMIT 1",
        )
        .bind(organization_id)
        .bind(phone)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| -> StoreResult<Revocation> {
            let what = format!("revocation {}", row.id);
            Ok(Revocation {
                channel: parse_name(&what, &row.channel)?,
                given_at: parse_timestamp(&what, &row.given_at)?,
                recorded_by_role: parse_name(&what, &row.role)?,
                recorded_at: parse_timestamp(&what, &row.recorded_at)?,
                note: row.note,
                recorded_by: row.recorded_by,
            })
        })
        .transpose()
    }

    /// Open flags of the organization (of one number when `phone` is given),
    /// oldest first.
    pub async fn open_stop_flags(
        &self,
        organization_id: i64,
        phone: Option<&str>,
    ) -> StoreResult<Vec<StopFlag>> {
        let rows: Vec<FlagRow> = sqlx::query_as(&format!(
            "SELECT {FLAG_COLUMNS} FROM stop_flags
             WHERE organization_id = $1 AND decided_at IS NULL AND ($2 IS NULL OR phone_e164 = $2)
             ORDER BY id"
        ))
        .bind(organization_id)
        .bind(phone)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| row.into_stored().map(|stored| stored.flag))
            .collect()
    }
}
