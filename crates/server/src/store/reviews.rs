//! The review queue: parts of signed webhooks that were not understood.

use chrono::{DateTime, Utc};
use optin_core::vocab::Channel;

use super::{timestamp, Store, StoreResult, UnitOfWork};

/// A part of a webhook kept for review.
pub struct NewReview<'a> {
    pub provider: Channel,
    /// When the business number told whose it is.
    pub organization_id: Option<i64>,
    pub reason: &'a str,
    /// The part itself (JSON, or the form as received).
    pub item: &'a str,
    pub raw_body: &'a str,
}

/// A kept part, as a reviewer sees it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Review {
    pub id: i64,
    pub provider: String,
    pub organization_id: Option<i64>,
    pub reason: String,
    pub item: String,
    pub raw_body: String,
    pub received_at: String,
}

impl UnitOfWork {
    /// Keeps a part of a webhook for review.
    pub async fn keep_for_review(
        &mut self,
        review: NewReview<'_>,
        now: DateTime<Utc>,
    ) -> StoreResult<i64> {
        Ok(sqlx::query_scalar(
            "INSERT INTO webhook_reviews (provider, organization_id, reason, item, raw_body, received_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(review.provider.as_str())
        .bind(review.organization_id)
        .bind(review.reason)
        .bind(review.item)
        .bind(review.raw_body)
        .bind(timestamp(now))
        .fetch_one(&mut *self.tx)
        .await?)
    }
}

impl Store {
    /// Parts not reviewed yet, oldest first.
    pub async fn open_reviews(&self, limit: u32) -> StoreResult<Vec<Review>> {
        Ok(sqlx::query_as(
            "SELECT id, provider, organization_id, reason, item, raw_body, received_at
             FROM webhook_reviews WHERE reviewed_at IS NULL ORDER BY id LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?)
    }
}
