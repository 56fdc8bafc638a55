//! The store itself and what every aggregate's file shares: its errors, outbox events,
//! random tokens and their hashes, and pruning.

use kreki_platform::{
    bus::{Event, outbox},
    storage::{Db, Tx},
    time_util::now_micros,
    types::sha256_hex,
};
use serde::Serialize;

pub const GRANTS: &[&str] = &["authorization_code", "refresh_token", "client_credentials"];

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the e-mail or phone is already registered")]
    Taken,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

#[derive(Clone)]
pub struct Store {
    pub db: Db,
    /// Seals TOTP secrets at rest (`None`: a tool that never reads or writes them).
    pub sealer: Option<std::sync::Arc<crate::sealing::Sealer>>,
}

pub async fn enqueue_event<T: Serialize>(
    tx: &mut Tx,
    subject: &str,
    payload: &T,
) -> Result<(), StoreError> {
    let ev = Event::new("identity", subject, payload).map_err(anyhow::Error::from)?;
    outbox::enqueue(tx, &ev).await?;
    Ok(())
}

pub fn random_token() -> String {
    use base64::Engine;
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub fn hash_token(token: &str) -> String {
    sha256_hex(token.as_bytes())
}

impl Store {
    pub fn new(db: Db) -> Self {
        Self { db, sealer: None }
    }

    pub fn with_sealer(db: Db, sealer: std::sync::Arc<crate::sealing::Sealer>) -> Self {
        Self {
            db,
            sealer: Some(sealer),
        }
    }

    /// Seal again every secret at rest that is in clear (written before encryption) or
    /// sealed with a key that is not the current one: TOTP secrets and signing keys.
    /// Returns how many were sealed.
    pub async fn reseal(&self) -> anyhow::Result<usize> {
        let Some(sealer) = &self.sealer else {
            return Ok(0);
        };
        let mut n = 0;
        for (table, id_col, col, aad_prefix) in [
            ("accounts", "id", "totp_secret", crate::store::TOTP_AAD),
            ("signing_keys", "kid", "private_der", crate::keys::KEY_AAD),
        ] {
            let rows: Vec<(String, String)> = sqlx::query_as(&format!(
                "SELECT {id_col}, {col} FROM {table} WHERE {col} IS NOT NULL"
            ))
            .fetch_all(self.db.pool())
            .await?;
            for (id, stored) in rows {
                if sealer.is_current(&stored) {
                    continue;
                }
                let aad = format!("{aad_prefix}{id}");
                let plain = sealer.open(&stored, &aad)?;
                sqlx::query(&format!(
                    "UPDATE {table} SET {col} = $1 WHERE {id_col} = $2 AND {col} = $3"
                ))
                .bind(sealer.seal(&plain, &aad))
                .bind(&id)
                .bind(&stored)
                .execute(self.db.writer())
                .await?;
                n += 1;
            }
        }
        Ok(n)
    }

    /// Remove rows nobody needs any more.
    pub async fn prune(&self) -> Result<(), sqlx::Error> {
        let now = now_micros();
        let day = 86_400_000_000i64;
        for sql in [
            "DELETE FROM revoked_tokens WHERE expires_at < $1",
            "DELETE FROM revoked_accounts WHERE expires_at * 1000000 < $1",
            "DELETE FROM auth_codes WHERE expires_at < $1",
            "DELETE FROM sessions WHERE expires_at < $1",
            "DELETE FROM refresh_tokens WHERE expires_at < $1",
        ] {
            sqlx::query(sql).bind(now).execute(self.db.writer()).await?;
        }
        sqlx::query("DELETE FROM one_time_codes WHERE expires_at < $1")
            .bind(now - day)
            .execute(self.db.writer())
            .await?;
        sqlx::query("DELETE FROM login_throttle WHERE updated_at < $1")
            .bind(now - day)
            .execute(self.db.writer())
            .await?;
        Ok(())
    }
}
