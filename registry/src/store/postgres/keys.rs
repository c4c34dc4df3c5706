//! API keys on PostgreSQL: named, with a role, stored only as a hash.

use super::PostgresStore;
use crate::clock::now_ms;
use crate::error::AppResult;
use crate::store::keys::{caller, checked_new_key, key_record, name_taken, KeyRow};
use crate::store::{new_secret, secret_hash, ApiKeyRecord, Caller};
use fleet_protocol::Role;

impl PostgresStore {
    /// Creates a key in `workspace_id` and returns it: the only time it is ever visible.
    pub async fn create_key(
        &self,
        name: &str,
        role: Role,
        workspace_id: &str,
    ) -> AppResult<String> {
        let name = checked_new_key(name, workspace_id)?;
        let key = new_secret("sk_");
        let inserted = sqlx::query(
            "INSERT INTO api_keys (name, role, key_hash, created_at, workspace_id) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(role.as_str())
        .bind(secret_hash(&key))
        .bind(now_ms())
        .bind(workspace_id)
        .execute(&self.pool)
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(name_taken(name));
        }
        Ok(key)
    }

    /// Gives the key called `name` a new secret (creating the key if needed) and returns
    /// it; the old secret stops working at once.
    pub async fn rotate_key(&self, name: &str, role: Role) -> AppResult<String> {
        let key = new_secret("sk_");
        sqlx::query(
            "INSERT INTO api_keys (name, role, key_hash, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (name) DO UPDATE SET role = excluded.role, key_hash = excluded.key_hash, \
             revoked_at = NULL",
        )
        .bind(name)
        .bind(role.as_str())
        .bind(secret_hash(&key))
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(key)
    }

    /// Every key, revoked ones included, by name in byte order (as on SQLite).
    pub async fn list_keys(&self) -> AppResult<Vec<ApiKeyRecord>> {
        let rows: Vec<KeyRow> = sqlx::query_as(
            "SELECT name, role, created_at, revoked_at FROM api_keys ORDER BY name COLLATE \"C\"",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(key_record).collect()
    }

    /// Whether a key of this name is live (not revoked), for streams opened with it.
    pub async fn key_is_live(&self, name: &str) -> AppResult<bool> {
        Ok(sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM api_keys WHERE name = $1 AND revoked_at IS NULL)",
        )
        .bind(name)
        .fetch_one(&self.pool)
        .await?)
    }

    /// Revokes the key called `name`; false when there is no such live key.
    pub async fn revoke_key(&self, name: &str) -> AppResult<bool> {
        let done = sqlx::query(
            "UPDATE api_keys SET revoked_at = $1 WHERE name = $2 AND revoked_at IS NULL",
        )
        .bind(now_ms())
        .bind(name)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The caller a live key belongs to, or `None` for an unknown or revoked key.
    pub async fn authenticate(&self, key: &str) -> AppResult<Option<Caller>> {
        let row: Option<(String, String, String)> = sqlx::query_as(
            "SELECT name, role, workspace_id FROM api_keys \
             WHERE key_hash = $1 AND revoked_at IS NULL",
        )
        .bind(secret_hash(key))
        .fetch_optional(&self.pool)
        .await?;
        row.map(caller).transpose()
    }
}

#[cfg(test)]
mod tests {
    use fleet_protocol::Role;

    #[tokio::test]
    async fn keys_and_tickets() {
        let Some((_sqlite, store, _dir)) = super::super::fleet_list::tests::both().await else {
            return;
        };
        let key = store.create_key(" b ", Role::Admin, "ws-1").await.unwrap();
        let caller = store.authenticate(&key).await.unwrap().unwrap();
        assert_eq!((caller.name.as_str(), caller.role), ("b", Role::Admin));
        assert_eq!(caller.workspace_id, "ws-1");
        assert!(store
            .create_key("b", Role::Viewer, "default")
            .await
            .is_err());
        assert!(store
            .create_key("c", Role::Viewer, "no space")
            .await
            .is_err());
        for name in ["é", "a", "B"] {
            store
                .create_key(name, Role::Viewer, "default")
                .await
                .unwrap();
        }
        let names: Vec<_> = store.list_keys().await.unwrap();
        let names: Vec<_> = names.iter().map(|k| k.name.as_str()).collect();
        assert_eq!(names, ["B", "a", "b", "é"], "byte order, as on SQLite");

        let rotated = store.rotate_key("b", Role::Operator).await.unwrap();
        assert_eq!(store.authenticate(&key).await.unwrap(), None);
        let caller = store.authenticate(&rotated).await.unwrap().unwrap();
        assert_eq!(
            (caller.role, caller.workspace_id.as_str()),
            (Role::Operator, "ws-1")
        );
        assert!(store.revoke_key("b").await.unwrap());
        assert!(!store.revoke_key("b").await.unwrap());
        assert!(!store.key_is_live("b").await.unwrap() && store.key_is_live("a").await.unwrap());
        assert_eq!(store.authenticate(&rotated).await.unwrap(), None);
        store.rotate_key("b", Role::Viewer).await.unwrap();
        assert!(store.key_is_live("b").await.unwrap());

        let (ticket, _) = store.issue_ticket("a").await.unwrap();
        let (first, second) =
            tokio::join!(store.redeem_ticket(&ticket), store.redeem_ticket(&ticket));
        let mut redeemed = [first.unwrap(), second.unwrap()];
        redeemed.sort();
        assert_eq!(
            redeemed,
            [None, Some("a".to_owned())],
            "a ticket works once"
        );
        assert_eq!(store.redeem_ticket("tk_unknown").await.unwrap(), None);
    }
}
