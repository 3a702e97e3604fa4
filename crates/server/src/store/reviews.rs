//! The review queue: parts of signed webhooks that were not understood.

use chrono::{DateTime, Utc};
use optin_core::vocab::Channel;

use super::evidence::ReceivedWebhook;
use super::{
    parse_name, parse_optional_timestamp, parse_timestamp, timestamp, Store, StoreResult,
    UnitOfWork,
};

/// A part of a webhook kept for review.
pub struct NewReview<'a> {
    pub provider: Channel,
    /// When the business number told whose it is.
    pub organization_id: Option<i64>,
    pub reason: &'a str,
    /// The business number (phone number id or SMS number) nobody owned, when
    /// that is why: the part is replayed once the number is provisioned.
    pub business_number: Option<&'a str>,
    /// The part itself (JSON, or the form as received).
    pub item: &'a str,
    /// The whole webhook it came from, with its signature.
    pub webhook: &'a ReceivedWebhook,
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
            "INSERT INTO webhook_reviews (provider, organization_id, reason, item, raw_body, received_at,
                business_number, signature_header, signed_url)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(review.provider.as_str())
        .bind(review.organization_id)
        .bind(review.reason)
        .bind(review.item)
        .bind(&review.webhook.body)
        .bind(timestamp(now))
        .bind(review.business_number)
        .bind(&review.webhook.signature)
        .bind(&review.webhook.signed_url)
        .fetch_one(self.conn().await?)
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

/// A kept webhook for a number nobody owned when it arrived.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Unrouted {
    pub id: i64,
    pub provider: String,
    pub business_number: String,
    pub raw_body: String,
    pub received_at: String,
    pub replayed_at: Option<String>,
    pub signature_header: Option<String>,
    pub signed_url: Option<String>,
}

impl Unrouted {
    /// The webhook as it was received, to apply now.
    pub fn webhook(&self) -> ReceivedWebhook {
        ReceivedWebhook {
            body: self.raw_body.clone(),
            signature: self.signature_header.clone(),
            signed_url: self.signed_url.clone(),
        }
    }
}

impl Store {
    /// Kept webhooks for unowned numbers: all of them (the operator), or
    /// those whose number `organization_id` owns now (its admins).
    pub async fn unrouted_webhooks(
        &self,
        organization_id: Option<i64>,
    ) -> StoreResult<Vec<Unrouted>> {
        Ok(sqlx::query_as(
            "SELECT r.id, r.provider, r.business_number, r.raw_body, r.received_at, r.replayed_at,
                r.signature_header, r.signed_url
             FROM webhook_reviews r
             WHERE r.business_number IS NOT NULL
               AND ($1 IS NULL
                    OR (r.provider = 'whatsapp' AND EXISTS (SELECT 1 FROM whatsapp_numbers w
                        WHERE w.phone_number_id = r.business_number AND w.organization_id = $1))
                    OR (r.provider = 'sms' AND EXISTS (SELECT 1 FROM organizations o
                        WHERE o.sms_number = r.business_number AND o.id = $1)))
             ORDER BY r.id",
        )
        .bind(organization_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Marks a kept webhook as replayed.
    pub async fn mark_replayed(&self, id: i64, now: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query("UPDATE webhook_reviews SET replayed_at = $2, reviewed_at = $2 WHERE id = $1")
            .bind(id)
            .bind(timestamp(now))
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

#[derive(sqlx::FromRow)]
struct ReviewRow {
    id: i64,
    provider: String,
    reason: String,
    item: String,
    received_at: String,
    reviewed_at: Option<String>,
}

impl Store {
    /// An organization's kept parts, open ones first, newest first within
    /// each; parts no organization could be told for are the operator's.
    pub async fn organization_reviews(
        &self,
        organization_id: i64,
        limit: u32,
    ) -> StoreResult<Vec<optin_core::compliance::WebhookReview>> {
        let rows: Vec<ReviewRow> = sqlx::query_as(
            "SELECT id, provider, reason, item, received_at, reviewed_at FROM webhook_reviews
             WHERE organization_id = $1
             ORDER BY reviewed_at IS NOT NULL, id DESC LIMIT $2",
        )
        .bind(organization_id)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(
                |row| -> StoreResult<optin_core::compliance::WebhookReview> {
                    let what = format!("webhook review {}", row.id);
                    Ok(optin_core::compliance::WebhookReview {
                        id: row.id,
                        provider: parse_name(&what, &row.provider)?,
                        received_at: parse_timestamp(&what, &row.received_at)?,
                        reviewed_at: parse_optional_timestamp(&what, row.reviewed_at.as_deref())?,
                        reason: row.reason,
                        item: row.item,
                    })
                },
            )
            .collect()
    }
}
