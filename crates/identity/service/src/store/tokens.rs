//! Refresh tokens (families, rotation, reuse), browser sessions, and revoked access tokens.

use kreki_platform::{
    storage::{Tx, is_unique_violation},
    time_util::now_micros,
};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::{
    audit::audit,
    common::{Store, hash_token, random_token},
};

/// What a refresh token or authorization code carries over to the tokens issued from it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Grant {
    pub account_id: String,
    pub client_id: String,
    pub scope: String,
    pub sid: Option<String>,
    pub amr: String,
    pub auth_time: i64,
    pub family_id: String,
}

pub enum RefreshOutcome {
    Ok(Grant),
    /// A used or revoked token came back: its family was revoked now.
    Reused(Grant),
    Unknown,
    Expired,
}

impl Store {
    pub async fn insert_refresh(
        tx: &mut Tx,
        token: &str,
        g: &Grant,
        ttl_us: i64,
    ) -> Result<(), sqlx::Error> {
        let now = now_micros();
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, family_id, account_id, client_id, scope, sid, amr, auth_time, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(hash_token(token))
        .bind(&g.family_id)
        .bind(&g.account_id)
        .bind(&g.client_id)
        .bind(&g.scope)
        .bind(&g.sid)
        .bind(&g.amr)
        .bind(g.auth_time)
        .bind(now)
        .bind(now + ttl_us)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Use a refresh token once (rotation). A token presented twice revokes its family.
    pub async fn use_refresh(
        &self,
        token: &str,
        client_id: &str,
    ) -> Result<RefreshOutcome, sqlx::Error> {
        let h = hash_token(token);
        let now = now_micros();
        // Write first: on SQLite a transaction that starts with a read cannot always become
        // a writer (another connection may have written since its snapshot). Only one
        // concurrent use of a token can win this UPDATE.
        let mut tx = self.db.begin().await?;
        let won = sqlx::query(
            "UPDATE refresh_tokens SET used_at = $2 WHERE token_hash = $1 AND client_id = $3 \
             AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $2",
        )
        .bind(&h)
        .bind(now)
        .bind(client_id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        let row = sqlx::query(
            "SELECT family_id, account_id, client_id, scope, sid, amr, auth_time, expires_at, used_at, revoked_at \
             FROM refresh_tokens WHERE token_hash = $1",
        )
        .bind(&h)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(r) = row else {
            return Ok(RefreshOutcome::Unknown);
        };
        let g = grant_from(&r)?;
        if g.client_id != client_id {
            return Ok(RefreshOutcome::Unknown);
        }
        if won {
            tx.commit().await?;
            return Ok(RefreshOutcome::Ok(g));
        }
        drop(tx);
        let used: Option<i64> = r.try_get("used_at")?;
        let revoked: Option<i64> = r.try_get("revoked_at")?;
        if used.is_none() && revoked.is_none() {
            return Ok(RefreshOutcome::Expired);
        }
        if used.is_some() {
            // Presented again after its use: a copy is in someone else's hands.
            let mut tx = self.db.begin().await?;
            Self::revoke_family(&mut tx, &g.family_id).await?;
            audit(
                &mut tx,
                "token_reuse_detected",
                Some(&g.account_id),
                None,
                None,
                serde_json::json!({ "client_id": g.client_id, "family": g.family_id }),
            )
            .await?;
            tx.commit().await?;
        }
        Ok(RefreshOutcome::Reused(g))
    }

    pub async fn revoke_family(tx: &mut Tx, family_id: &str) -> Result<u64, sqlx::Error> {
        Ok(sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL",
        )
        .bind(family_id)
        .bind(now_micros())
        .execute(&mut **tx)
        .await?
        .rows_affected())
    }

    /// Revoke every refresh token of an account, and every access token issued until now
    /// (password change/reset, role change, erasure).
    pub async fn revoke_account_tokens(tx: &mut Tx, account_id: &str) -> Result<(), sqlx::Error> {
        let now = now_micros();
        // Access tokens live minutes; a day covers any configured lifetime.
        sqlx::query(
            "INSERT INTO revoked_accounts (account_id, not_before, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (account_id) DO UPDATE SET not_before = $2, expires_at = $3",
        )
        .bind(account_id)
        .bind(now / 1_000)
        .bind(now / 1_000_000 + 86_400)
        .execute(&mut **tx)
        .await?;
        sqlx::query("UPDATE refresh_tokens SET revoked_at = $2 WHERE account_id = $1 AND revoked_at IS NULL")
            .bind(account_id)
            .bind(now)
            .execute(&mut **tx)
            .await?;
        sqlx::query(
            "UPDATE sessions SET revoked_at = $2 WHERE account_id = $1 AND revoked_at IS NULL",
        )
        .bind(account_id)
        .bind(now)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// The family of a refresh token (for revocation), if the token is ours.
    pub async fn refresh_family(
        &self,
        token: &str,
    ) -> Result<Option<(String, String)>, sqlx::Error> {
        sqlx::query_as("SELECT family_id, client_id FROM refresh_tokens WHERE token_hash = $1")
            .bind(hash_token(token))
            .fetch_optional(self.db.pool())
            .await
    }

    /// Whether a refresh token is currently usable: (grant, expires_at).
    pub async fn refresh_active(&self, token: &str) -> Result<Option<(Grant, i64)>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT family_id, account_id, client_id, scope, sid, amr, auth_time, expires_at FROM refresh_tokens \
             WHERE token_hash = $1 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $2",
        )
        .bind(hash_token(token))
        .bind(now_micros())
        .fetch_optional(self.db.pool())
        .await?;
        row.map(|r| Ok((grant_from(&r)?, r.try_get("expires_at")?)))
            .transpose()
    }

    pub async fn create_session(
        &self,
        account_id: &str,
        amr: &str,
        ttl_us: i64,
    ) -> Result<(String, String), sqlx::Error> {
        let cookie = random_token();
        let sid = uuid::Uuid::now_v7().to_string();
        let now = now_micros();
        sqlx::query(
            "INSERT INTO sessions (id_hash, sid, account_id, amr, auth_time, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(hash_token(&cookie))
        .bind(&sid)
        .bind(account_id)
        .bind(amr)
        .bind(now)
        .bind(now + ttl_us)
        .execute(self.db.writer())
        .await?;
        Ok((cookie, sid))
    }

    /// (sid, account id, amr, auth_time) of a live session cookie.
    pub async fn session(
        &self,
        cookie: &str,
    ) -> Result<Option<(String, String, String, i64)>, sqlx::Error> {
        sqlx::query_as(
            "SELECT sid, account_id, amr, auth_time FROM sessions WHERE id_hash = $1 AND revoked_at IS NULL AND expires_at > $2",
        )
        .bind(hash_token(cookie))
        .bind(now_micros())
        .fetch_optional(self.db.pool())
        .await
    }

    /// End a session and every refresh token issued in it.
    pub async fn end_session(&self, sid: &str) -> Result<(), sqlx::Error> {
        let now = now_micros();
        let mut tx = self.db.begin().await?;
        sqlx::query("UPDATE sessions SET revoked_at = $2 WHERE sid = $1 AND revoked_at IS NULL")
            .bind(sid)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = $2 WHERE sid = $1 AND revoked_at IS NULL",
        )
        .bind(sid)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    }

    pub async fn revoke_jti(&self, jti: &str, expires_at_us: i64) -> Result<(), sqlx::Error> {
        let res = sqlx::query("INSERT INTO revoked_tokens (jti, expires_at) VALUES ($1, $2)")
            .bind(jti)
            .bind(expires_at_us)
            .execute(self.db.writer())
            .await;
        match res {
            Err(e) if !is_unique_violation(&e) => Err(e),
            _ => Ok(()),
        }
    }

    pub async fn revoked_jtis(&self) -> Result<Vec<(String, i64)>, sqlx::Error> {
        sqlx::query_as("SELECT jti, expires_at FROM revoked_tokens WHERE expires_at > $1")
            .bind(now_micros())
            .fetch_all(self.db.pool())
            .await
    }

    /// Accounts with revoked access tokens: (account, not_before, expires_at), Unix seconds.
    pub async fn revoked_accounts(&self) -> Result<Vec<(String, i64, i64)>, sqlx::Error> {
        sqlx::query_as(
            "SELECT account_id, not_before, expires_at FROM revoked_accounts WHERE expires_at > $1",
        )
        .bind(now_micros() / 1_000_000)
        .fetch_all(self.db.pool())
        .await
    }
}

fn grant_from(r: &sqlx::any::AnyRow) -> Result<Grant, sqlx::Error> {
    Ok(Grant {
        family_id: r.try_get("family_id")?,
        account_id: r.try_get("account_id")?,
        client_id: r.try_get("client_id")?,
        scope: r.try_get("scope")?,
        sid: r.try_get("sid")?,
        amr: r.try_get("amr")?,
        auth_time: r.try_get("auth_time")?,
    })
}

/// A refresh token as an account's export shows it.
#[derive(Debug, Clone)]
pub struct RefreshRow {
    pub client_id: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
}

impl Store {
    /// Every refresh token of an account, oldest first (for its export).
    pub async fn refresh_tokens_of(
        &self,
        account_id: &str,
    ) -> Result<Vec<RefreshRow>, sqlx::Error> {
        let rows: Vec<(String, i64, i64, Option<i64>)> = sqlx::query_as("SELECT client_id, created_at, expires_at, revoked_at FROM refresh_tokens WHERE account_id = $1 ORDER BY created_at")
            .bind(account_id)
            .fetch_all(self.db.pool())
            .await?;
        Ok(rows
            .into_iter()
            .map(
                |(client_id, created_at, expires_at, revoked_at)| RefreshRow {
                    client_id,
                    created_at,
                    expires_at,
                    revoked_at,
                },
            )
            .collect())
    }
}
