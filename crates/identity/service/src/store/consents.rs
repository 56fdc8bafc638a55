//! Consents per purpose (every change kept) and the grants an account gave to clients.

use kreki_platform::{storage::Tx, time_util::now_micros};

use super::common::Store;

/// One recorded consent decision.
#[derive(Debug, Clone)]
pub struct ConsentRow {
    pub purpose: String,
    pub granted: bool,
    pub at: i64,
}

impl Store {
    /// Every consent decision of an account, oldest first.
    pub async fn consents(&self, account_id: &str) -> Result<Vec<ConsentRow>, sqlx::Error> {
        let rows: Vec<(String, i64, i64)> = sqlx::query_as(
            "SELECT purpose, granted, at FROM consents WHERE account_id = $1 ORDER BY at",
        )
        .bind(account_id)
        .fetch_all(self.db.pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(|(purpose, granted, at)| ConsentRow {
                purpose,
                granted: granted != 0,
                at,
            })
            .collect())
    }

    /// Record a consent decision (history is kept: one row per change).
    pub async fn add_consent(
        tx: &mut Tx,
        account_id: &str,
        purpose: &str,
        granted: bool,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO consents (id, account_id, purpose, granted, at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(account_id)
        .bind(purpose)
        .bind(granted as i64)
        .bind(now_micros())
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// The scope an account granted to a client, if any.
    pub async fn granted_scope(
        &self,
        account_id: &str,
        client_id: &str,
    ) -> Result<Option<String>, sqlx::Error> {
        let row: Option<(String,)> = sqlx::query_as(
            "SELECT scope FROM client_grants WHERE account_id = $1 AND client_id = $2",
        )
        .bind(account_id)
        .bind(client_id)
        .fetch_optional(self.db.pool())
        .await?;
        Ok(row.map(|(s,)| s))
    }

    /// Remember that an account granted `scope` to a client (replacing an earlier grant).
    pub async fn grant_client(
        &self,
        account_id: &str,
        client_id: &str,
        scope: &str,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM client_grants WHERE account_id = $1 AND client_id = $2")
            .bind(account_id)
            .bind(client_id)
            .execute(self.db.writer())
            .await?;
        sqlx::query("INSERT INTO client_grants (account_id, client_id, scope, granted_at) VALUES ($1, $2, $3, $4)")
            .bind(account_id)
            .bind(client_id)
            .bind(scope)
            .bind(now_micros())
            .execute(self.db.writer())
            .await?;
        Ok(())
    }

    /// The grants an account gave: (client, scope, granted_at).
    pub async fn client_grants(
        &self,
        account_id: &str,
    ) -> Result<Vec<(String, String, i64)>, sqlx::Error> {
        sqlx::query_as(
            "SELECT client_id, scope, granted_at FROM client_grants WHERE account_id = $1",
        )
        .bind(account_id)
        .fetch_all(self.db.pool())
        .await
    }
}
