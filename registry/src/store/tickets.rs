//! Single-use tickets that open the event stream, so a key never goes into a URL. Kept in
//! the database so that any registry process sharing it can redeem them.

use super::sqlite::SqliteStore;
use super::{new_secret, secret_hash};
use crate::clock::now_ms;
use crate::error::AppResult;

/// How long a ticket may wait before it is redeemed.
pub const TICKET_TTL_MS: i64 = 30_000;

impl SqliteStore {
    /// Issues a ticket for `key_name`; returns it and its expiry (Unix ms).
    pub async fn issue_ticket(&self, key_name: &str) -> AppResult<(String, i64)> {
        let ticket = new_secret("tk_");
        let now = now_ms();
        let expires_at = now + TICKET_TTL_MS;
        sqlx::query("DELETE FROM event_tickets WHERE expires_at < ?")
            .bind(now)
            .execute(&self.write)
            .await?;
        sqlx::query(
            "INSERT INTO event_tickets (ticket_hash, key_name, expires_at) VALUES (?, ?, ?)",
        )
        .bind(secret_hash(&ticket))
        .bind(key_name)
        .bind(expires_at)
        .execute(&self.write)
        .await?;
        Ok((ticket, expires_at))
    }

    /// Redeems a ticket once; the key name it was issued to, or `None` if it is unknown,
    /// used or expired.
    pub async fn redeem_ticket(&self, ticket: &str) -> AppResult<Option<String>> {
        Ok(sqlx::query_scalar(
            "DELETE FROM event_tickets WHERE ticket_hash = ? AND expires_at >= ? RETURNING key_name",
        )
        .bind(secret_hash(ticket))
        .bind(now_ms())
        .fetch_optional(&self.write)
        .await?)
    }
}
