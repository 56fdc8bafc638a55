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
        Self { db }
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
