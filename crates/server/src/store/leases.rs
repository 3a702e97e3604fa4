//! Leases on duties that one service instance at a time does for all of
//! them (several instances share a PostgreSQL database): the archive feed's
//! delivery, which would otherwise send each item once per instance.

use chrono::{DateTime, Utc};

use super::{timestamp, Store, StoreResult};

impl Store {
    /// Takes or renews the lease `duty` for `holder` until `until`, unless
    /// another holder's lease still runs at `now`. True when `holder` holds
    /// it afterwards. A holder that stops renewing loses it when it runs out.
    pub async fn hold_lease(
        &self,
        duty: &str,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let taken = sqlx::query(
            "INSERT INTO service_leases (name, holder, expires_at) VALUES ($1, $2, $4)
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
             WHERE service_leases.holder = excluded.holder OR service_leases.expires_at <= $3",
        )
        .bind(duty)
        .bind(holder)
        .bind(timestamp(now))
        .bind(timestamp(until))
        .execute(&self.pool)
        .await?;
        Ok(taken.rows_affected() == 1)
    }

    /// Gives the lease `duty` up if `holder` holds it (at a clean stop, so
    /// the next instance need not wait for it to run out).
    pub async fn release_lease(&self, duty: &str, holder: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM service_leases WHERE name = $1 AND holder = $2")
            .bind(duty)
            .bind(holder)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
