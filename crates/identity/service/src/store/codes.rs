//! One-time codes (links, tickets, phone codes), recovery codes, OAuth authorization codes
//! and sign-in throttles.

use kreki_platform::{storage::Tx, time_util::now_micros};
use sqlx::Row;

use super::common::{Store, hash_token};

/// A one-time code row.
#[derive(Debug, Clone)]
pub struct OneTimeCode {
    pub id: String,
    pub target: String,
    pub account_id: Option<String>,
    pub code_hash: String,
    pub attempts: i64,
    pub created_at: i64,
    pub expires_at: i64,
    pub consumed_at: Option<i64>,
}

impl Store {
    pub async fn insert_code(
        &self,
        purpose: &str,
        target: &str,
        account_id: Option<&str>,
        secret: &str,
        ttl_us: i64,
    ) -> Result<String, sqlx::Error> {
        let id = uuid::Uuid::now_v7().to_string();
        let now = now_micros();
        sqlx::query(
            "INSERT INTO one_time_codes (id, purpose, target, account_id, code_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&id)
        .bind(purpose)
        .bind(target)
        .bind(account_id)
        .bind(hash_token(secret))
        .bind(now)
        .bind(now + ttl_us)
        .execute(self.db.writer())
        .await?;
        Ok(id)
    }

    /// [`Store::insert_code`] inside a transaction.
    pub async fn insert_code_in(
        tx: &mut Tx,
        purpose: &str,
        target: &str,
        account_id: Option<&str>,
        secret: &str,
        ttl_us: i64,
    ) -> Result<String, sqlx::Error> {
        let id = uuid::Uuid::now_v7().to_string();
        let now = now_micros();
        sqlx::query(
            "INSERT INTO one_time_codes (id, purpose, target, account_id, code_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&id)
        .bind(purpose)
        .bind(target)
        .bind(account_id)
        .bind(hash_token(secret))
        .bind(now)
        .bind(now + ttl_us)
        .execute(&mut **tx)
        .await?;
        Ok(id)
    }

    /// Consume a high-entropy one-time token (links, MFA tickets) by its value.
    pub async fn take_token(
        &self,
        purpose: &str,
        secret: &str,
    ) -> Result<Option<OneTimeCode>, sqlx::Error> {
        let h = hash_token(secret);
        let now = now_micros();
        // Write first (see `use_refresh`): consuming is the UPDATE; only one use wins.
        let mut tx = self.db.begin().await?;
        let won = sqlx::query(
            "UPDATE one_time_codes SET consumed_at = $3 WHERE code_hash = $1 AND purpose = $2 \
             AND consumed_at IS NULL AND expires_at > $3",
        )
        .bind(&h)
        .bind(purpose)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !won {
            return Ok(None);
        }
        let row = sqlx::query(
            "SELECT id, target, account_id, code_hash, attempts, created_at, expires_at, consumed_at FROM one_time_codes \
             WHERE code_hash = $1 AND purpose = $2",
        )
        .bind(&h)
        .bind(purpose)
        .fetch_one(&mut *tx)
        .await?;
        let c = code_from(&row)?;
        tx.commit().await?;
        Ok(Some(c))
    }

    /// Look at a high-entropy token without consuming it.
    pub async fn peek_token(
        &self,
        purpose: &str,
        secret: &str,
    ) -> Result<Option<OneTimeCode>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT id, target, account_id, code_hash, attempts, created_at, expires_at, consumed_at FROM one_time_codes \
             WHERE code_hash = $1 AND purpose = $2 AND consumed_at IS NULL AND expires_at > $3",
        )
        .bind(hash_token(secret))
        .bind(purpose)
        .bind(now_micros())
        .fetch_optional(self.db.pool())
        .await?;
        row.map(|r| code_from(&r)).transpose()
    }

    pub async fn consume_code(&self, id: &str) -> Result<bool, sqlx::Error> {
        Ok(sqlx::query(
            "UPDATE one_time_codes SET consumed_at = $2 WHERE id = $1 AND consumed_at IS NULL",
        )
        .bind(id)
        .bind(now_micros())
        .execute(self.db.writer())
        .await?
        .rows_affected()
            == 1)
    }

    /// The newest unconsumed short code for a target.
    pub async fn latest_code(
        &self,
        purpose: &str,
        target: &str,
    ) -> Result<Option<OneTimeCode>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT id, target, account_id, code_hash, attempts, created_at, expires_at, consumed_at FROM one_time_codes \
             WHERE purpose = $1 AND target = $2 ORDER BY created_at DESC LIMIT 1",
        )
        .bind(purpose)
        .bind(target)
        .fetch_optional(self.db.pool())
        .await?;
        row.map(|r| code_from(&r)).transpose()
    }

    pub async fn count_codes_since(
        &self,
        purpose: &str,
        target: &str,
        since: i64,
    ) -> Result<i64, sqlx::Error> {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM one_time_codes WHERE purpose = $1 AND target = $2 AND created_at > $3",
        )
        .bind(purpose)
        .bind(target)
        .bind(since)
        .fetch_one(self.db.pool())
        .await?;
        Ok(n)
    }

    /// Count a wrong guess; returns the attempts made so far.
    pub async fn code_attempt(&self, id: &str) -> Result<i64, sqlx::Error> {
        sqlx::query("UPDATE one_time_codes SET attempts = attempts + 1 WHERE id = $1")
            .bind(id)
            .execute(self.db.writer())
            .await?;
        let (n,): (i64,) = sqlx::query_as("SELECT attempts FROM one_time_codes WHERE id = $1")
            .bind(id)
            .fetch_one(self.db.pool())
            .await?;
        Ok(n)
    }
}

fn code_from(r: &sqlx::any::AnyRow) -> Result<OneTimeCode, sqlx::Error> {
    Ok(OneTimeCode {
        id: r.try_get("id")?,
        target: r.try_get("target")?,
        account_id: r.try_get("account_id")?,
        code_hash: r.try_get("code_hash")?,
        attempts: r.try_get("attempts")?,
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
        consumed_at: r.try_get("consumed_at")?,
    })
}

/// An OAuth authorization code as stored.
#[derive(Debug, Clone)]
pub struct AuthCode {
    pub client_id: String,
    pub account_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub sid: Option<String>,
    pub amr: String,
    pub auth_time: i64,
    pub family_id: String,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

impl Store {
    /// Store an authorization code (hashed) for `ttl_us`; its tokens will form a new family.
    pub async fn insert_auth_code(&self, code: &str, c: &AuthCode) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO auth_codes (code_hash, client_id, account_id, redirect_uri, scope, nonce, code_challenge, sid, amr, auth_time, family_id, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(hash_token(code))
        .bind(&c.client_id)
        .bind(&c.account_id)
        .bind(&c.redirect_uri)
        .bind(&c.scope)
        .bind(&c.nonce)
        .bind(&c.code_challenge)
        .bind(&c.sid)
        .bind(&c.amr)
        .bind(c.auth_time)
        .bind(&c.family_id)
        .bind(c.expires_at)
        .execute(self.db.writer())
        .await?;
        Ok(())
    }

    /// An authorization code by its value (used or not).
    pub async fn auth_code(&self, code: &str) -> Result<Option<AuthCode>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT client_id, account_id, redirect_uri, scope, nonce, code_challenge, sid, amr, auth_time, family_id, expires_at, used_at \
             FROM auth_codes WHERE code_hash = $1",
        )
        .bind(hash_token(code))
        .fetch_optional(self.db.pool())
        .await?;
        row.map(|r| {
            Ok(AuthCode {
                client_id: r.try_get("client_id")?,
                account_id: r.try_get("account_id")?,
                redirect_uri: r.try_get("redirect_uri")?,
                scope: r.try_get("scope")?,
                nonce: r.try_get("nonce")?,
                code_challenge: r.try_get("code_challenge")?,
                sid: r.try_get("sid")?,
                amr: r.try_get("amr")?,
                auth_time: r.try_get("auth_time")?,
                family_id: r.try_get("family_id")?,
                expires_at: r.try_get("expires_at")?,
                used_at: r.try_get("used_at")?,
            })
        })
        .transpose()
    }

    /// Use an authorization code once: whether this call won.
    pub async fn use_auth_code(&self, code: &str) -> Result<bool, sqlx::Error> {
        Ok(sqlx::query(
            "UPDATE auth_codes SET used_at = $2 WHERE code_hash = $1 AND used_at IS NULL",
        )
        .bind(hash_token(code))
        .bind(now_micros())
        .execute(self.db.writer())
        .await?
        .rows_affected()
            == 1)
    }

    // ---- recovery codes ---------------------------------------------------------------

    /// Replace an account's recovery codes with these (hashed) ones.
    pub async fn replace_recovery_codes(
        tx: &mut Tx,
        account_id: &str,
        hashes: &[String],
    ) -> Result<(), sqlx::Error> {
        Self::delete_recovery_codes(tx, account_id).await?;
        for h in hashes {
            sqlx::query("INSERT INTO recovery_codes (account_id, code_hash) VALUES ($1, $2)")
                .bind(account_id)
                .bind(h)
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }

    pub async fn delete_recovery_codes(tx: &mut Tx, account_id: &str) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM recovery_codes WHERE account_id = $1")
            .bind(account_id)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// Use a recovery code once (by its hash): whether it was valid and unused.
    pub async fn use_recovery_code(
        &self,
        account_id: &str,
        code_hash: &str,
    ) -> Result<bool, sqlx::Error> {
        let n = sqlx::query(
            "UPDATE recovery_codes SET used_at = $3 WHERE account_id = $1 AND code_hash = $2 AND used_at IS NULL",
        )
        .bind(account_id)
        .bind(code_hash)
        .bind(now_micros())
        .execute(self.db.writer())
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    // ---- sign-in throttles ------------------------------------------------------------

    /// (failures, next_allowed_at) of a throttle key.
    pub async fn throttle_get(&self, key: &str) -> Result<Option<(i64, i64)>, sqlx::Error> {
        sqlx::query_as("SELECT failures, next_allowed_at FROM login_throttle WHERE key = $1")
            .bind(key)
            .fetch_optional(self.db.pool())
            .await
    }

    pub async fn throttle_put(
        &self,
        key: &str,
        failures: i64,
        next: i64,
    ) -> Result<(), sqlx::Error> {
        let now = now_micros();
        let mut tx = self.db.begin().await?;
        let n = sqlx::query("UPDATE login_throttle SET failures = $2, next_allowed_at = $3, updated_at = $4 WHERE key = $1")
            .bind(key)
            .bind(failures)
            .bind(next)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            sqlx::query("INSERT INTO login_throttle (key, failures, next_allowed_at, updated_at) VALUES ($1, $2, $3, $4)")
                .bind(key)
                .bind(failures)
                .bind(next)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await
    }

    pub async fn throttle_clear(&self, key: &str) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM login_throttle WHERE key = $1")
            .bind(key)
            .execute(self.db.writer())
            .await?;
        Ok(())
    }
}
