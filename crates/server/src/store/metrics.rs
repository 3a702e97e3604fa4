//! Counts for the operator's metrics.

use optin_core::vocab::Channel;

use super::{Store, StoreResult};

/// Webhook parts kept for review, per provider.
pub struct ReviewCount {
    pub provider: Channel,
    pub open: i64,
    pub total: i64,
}

impl Store {
    /// Reviews per provider (every provider listed, zeros included).
    pub async fn review_counts(&self) -> StoreResult<Vec<ReviewCount>> {
        let mut counts = Vec::new();
        for &provider in Channel::ALL {
            let (open, total): (i64, i64) = sqlx::query_as(
                "SELECT COUNT(*) FILTER (WHERE reviewed_at IS NULL), COUNT(*)
                 FROM webhook_reviews WHERE provider = $1",
            )
            .bind(provider.as_str())
            .fetch_one(&self.pool)
            .await?;
            counts.push(ReviewCount {
                provider,
                open,
                total,
            });
        }
        Ok(counts)
    }
}
