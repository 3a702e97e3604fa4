//! Advisors and their bearer tokens.

use rand::RngCore;
use sha2::{Digest, Sha256};

use super::Store;

/// The advisor a valid token belongs to.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AdvisorIdentity {
    pub advisor_id: i64,
    pub advisor_name: String,
    pub organization_id: i64,
    pub organization_name: String,
}

/// A fresh random token (256 bits, hex).
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

pub(crate) fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl Store {
    /// Stores a token for an advisor (only its hash is kept).
    pub async fn add_token(&self, advisor_id: i64, token: &str) -> Result<(), sqlx::Error> {
        sqlx::query("INSERT INTO advisor_tokens (token_sha256, advisor_id) VALUES ($1, $2)")
            .bind(token_hash(token))
            .bind(advisor_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The advisor of a token that is neither expired nor revoked.
    pub async fn advisor_by_token(
        &self,
        token: &str,
    ) -> Result<Option<AdvisorIdentity>, sqlx::Error> {
        sqlx::query_as(
            "SELECT a.id AS advisor_id, a.name AS advisor_name,
                    o.id AS organization_id, o.name AS organization_name
             FROM advisor_tokens t
             JOIN advisors a ON a.id = t.advisor_id
             JOIN organizations o ON o.id = a.organization_id
             WHERE t.token_sha256 = $1
               AND t.revoked_at IS NULL
               AND (t.expires_at IS NULL OR t.expires_at > strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
        )
        .bind(token_hash(token))
        .fetch_optional(&self.pool)
        .await
    }
}

impl Store {
    /// Every organization's id.
    pub async fn organization_ids(&self) -> Result<Vec<i64>, sqlx::Error> {
        sqlx::query_scalar("SELECT id FROM organizations ORDER BY id")
            .fetch_all(&self.pool)
            .await
    }
}
