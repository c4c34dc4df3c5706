//! Single-use event-stream tickets on PostgreSQL: any registry process can redeem one, once.

use super::PostgresStore;
use crate::clock::now_ms;
use crate::error::AppResult;
use crate::store::tickets::TICKET_TTL_MS;
use crate::store::{new_secret, secret_hash};

impl PostgresStore {
    /// Issues a ticket for `key_name`, clearing expired ones; returns it and its expiry
    /// (Unix ms).
    pub async fn issue_ticket(&self, key_name: &str) -> AppResult<(String, i64)> {
        let ticket = new_secret("tk_");
        let now = now_ms();
        let expires_at = now + TICKET_TTL_MS;
        sqlx::query("DELETE FROM event_tickets WHERE expires_at < $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        sqlx::query(
            "INSERT INTO event_tickets (ticket_hash, key_name, expires_at) VALUES ($1, $2, $3)",
        )
        .bind(secret_hash(&ticket))
        .bind(key_name)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok((ticket, expires_at))
    }

    /// Redeems a ticket once; the key name it was issued to, or `None` if it is unknown,
    /// used or expired. Of two processes redeeming it at once, the second waits on the
    /// row and then finds it gone.
    pub async fn redeem_ticket(&self, ticket: &str) -> AppResult<Option<String>> {
        Ok(sqlx::query_scalar(
            "DELETE FROM event_tickets WHERE ticket_hash = $1 AND expires_at >= $2 \
             RETURNING key_name",
        )
        .bind(secret_hash(ticket))
        .bind(now_ms())
        .fetch_optional(&self.pool)
        .await?)
    }
}
