//! Retention: the organization's period, its legal holds, and the purge of
//! messages past the period that no hold covers.

use chrono::{DateTime, Utc};
use optin_core::compliance::LegalHold;

use super::{parse_optional_timestamp, parse_timestamp, timestamp, Store, StoreResult, UnitOfWork};

#[derive(sqlx::FromRow)]
struct HoldRow {
    id: i64,
    phone_e164: Option<String>,
    reason: String,
    placed_by: String,
    placed_at: String,
    released_by: Option<String>,
    released_at: Option<String>,
}

impl HoldRow {
    fn view(self) -> StoreResult<LegalHold> {
        let what = format!("legal hold {}", self.id);
        Ok(LegalHold {
            id: self.id,
            phone: self.phone_e164,
            reason: self.reason,
            placed_by: self.placed_by,
            placed_at: parse_timestamp(&what, &self.placed_at)?,
            released_by: self.released_by,
            released_at: parse_optional_timestamp(&what, self.released_at.as_deref())?,
        })
    }
}

const HOLD_COLUMNS: &str = "SELECT h.id, h.phone_e164, h.reason, p.name AS placed_by, h.placed_at,
        r.name AS released_by, h.released_at
     FROM legal_holds h JOIN advisors p ON p.id = h.placed_by
     LEFT JOIN advisors r ON r.id = h.released_by";

impl Store {
    /// How many months the organization keeps messages.
    pub async fn retention_months(&self, organization_id: i64) -> StoreResult<u32> {
        let months: i64 =
            sqlx::query_scalar("SELECT retention_months FROM organizations WHERE id = $1")
                .bind(organization_id)
                .fetch_one(&self.pool)
                .await?;
        Ok(u32::try_from(months).unwrap_or(u32::MAX))
    }

    /// The organization's holds: active ones first, then newest first.
    pub async fn legal_holds(&self, organization_id: i64) -> StoreResult<Vec<LegalHold>> {
        let rows: Vec<HoldRow> = sqlx::query_as(&format!(
            "{HOLD_COLUMNS} WHERE h.organization_id = $1
             ORDER BY h.released_at IS NOT NULL, h.id DESC"
        ))
        .bind(organization_id)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(HoldRow::view).collect()
    }

    /// One hold of the organization.
    pub async fn legal_hold(
        &self,
        organization_id: i64,
        id: i64,
    ) -> StoreResult<Option<LegalHold>> {
        let row: Option<HoldRow> = sqlx::query_as(&format!(
            "{HOLD_COLUMNS} WHERE h.organization_id = $1 AND h.id = $2"
        ))
        .bind(organization_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(HoldRow::view).transpose()
    }

    /// Places a hold on a number, or (`phone` none) on the whole organization.
    pub async fn place_legal_hold(
        &self,
        organization_id: i64,
        phone: Option<&str>,
        reason: &str,
        placed_by: i64,
        now: DateTime<Utc>,
    ) -> StoreResult<i64> {
        Ok(sqlx::query_scalar(
            "INSERT INTO legal_holds (organization_id, phone_e164, reason, placed_by, placed_at)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(organization_id)
        .bind(phone)
        .bind(reason)
        .bind(placed_by)
        .bind(timestamp(now))
        .fetch_one(&self.pool)
        .await?)
    }

    /// Releases an active hold; false when it was already released.
    pub async fn release_legal_hold(
        &self,
        organization_id: i64,
        id: i64,
        released_by: i64,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE legal_holds SET released_by = $3, released_at = $4
             WHERE organization_id = $1 AND id = $2 AND released_at IS NULL",
        )
        .bind(organization_id)
        .bind(id)
        .bind(released_by)
        .bind(timestamp(now))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

impl UnitOfWork {
    /// Numbers with messages created before `before` that no active hold
    /// covers (none at all while the organization is held), with how many
    /// each. Messages whose send is still open in the outbox are left.
    pub async fn purgeable_messages(
        &mut self,
        organization_id: i64,
        before: DateTime<Utc>,
    ) -> StoreResult<Vec<(String, i64)>> {
        Ok(sqlx::query_as(
            "SELECT m.phone_e164, COUNT(*) FROM messages m
             WHERE m.organization_id = $1 AND m.created_at < $2
               AND NOT EXISTS (SELECT 1 FROM legal_holds h
                   WHERE h.organization_id = m.organization_id AND h.released_at IS NULL
                     AND (h.phone_e164 IS NULL OR h.phone_e164 = m.phone_e164))
               AND NOT EXISTS (SELECT 1 FROM outbox o
                   WHERE o.message_id = m.id AND o.state NOT IN ('done', 'failed', 'cancelled'))
             GROUP BY m.phone_e164 ORDER BY m.phone_e164",
        )
        .bind(organization_id)
        .bind(timestamp(before))
        .fetch_all(self.conn().await?)
        .await?)
    }

    /// Deletes one number's messages created before `before` (as
    /// [`purgeable_messages`](Self::purgeable_messages) chose them), with
    /// their finished outbox jobs; a stop flag keeps its own copy of the text
    /// and loses only the link. Answers how many messages went.
    pub async fn purge_messages(
        &mut self,
        organization_id: i64,
        phone: &str,
        before: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let chosen = "SELECT m.id FROM messages m
             WHERE m.organization_id = $1 AND m.phone_e164 = $2 AND m.created_at < $3
               AND NOT EXISTS (SELECT 1 FROM outbox o
                   WHERE o.message_id = m.id AND o.state NOT IN ('done', 'failed', 'cancelled'))";
        let before = timestamp(before);
        for unlink in [
            format!("DELETE FROM outbox WHERE message_id IN ({chosen})"),
            format!("UPDATE stop_flags SET message_id = NULL WHERE message_id IN ({chosen})"),
            // A purged message is no longer an archive item; the feed's ids go on (AUTOINCREMENT).
            format!("DELETE FROM archive_feed WHERE message_id IN ({chosen})"),
        ] {
            sqlx::query(&unlink)
                .bind(organization_id)
                .bind(phone)
                .bind(&before)
                .execute(self.conn().await?)
                .await?;
        }
        let deleted = sqlx::query(&format!("DELETE FROM messages WHERE id IN ({chosen})"))
            .bind(organization_id)
            .bind(phone)
            .bind(&before)
            .execute(self.conn().await?)
            .await?;
        Ok(deleted.rows_affected())
    }
}
