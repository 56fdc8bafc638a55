//! WebAuthn passkeys (webauthn-rs): registered by a signed-in user, then used as the second
//! factor of a sign-in, or alone (passwordless: a passkey with user verification is itself
//! multi-factor). Ceremony state stays on the server, in the database (replicas share it).

use std::sync::Arc;

use kreki_platform::{storage::Db, time_util::now_micros};
use serde::{Serialize, de::DeserializeOwned};
use sqlx::Row;
use webauthn_rs::prelude::{
    CreationChallengeResponse, Passkey, PasskeyAuthentication, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, RequestChallengeResponse, Url, Uuid,
    Webauthn, WebauthnBuilder,
};

use crate::store::{Account, hash_token, random_token};

const CEREMONY_US: i64 = 300_000_000;

#[derive(Debug, thiserror::Error)]
pub enum PasskeyError {
    #[error("no such ceremony, or it expired")]
    Ceremony,
    #[error("the authenticator's answer was refused: {0}")]
    Refused(String),
    #[error("passkeys are off on this site")]
    Disabled,
    #[error("no passkey registered")]
    NoPasskey,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

pub struct Passkeys {
    db: Db,
    webauthn: Arc<Webauthn>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PasskeyInfo {
    pub id: String,
    pub name: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
}

impl Passkeys {
    /// Relying party: `rp_id` (a domain; default the public URL's host) and the public URL as
    /// the allowed origin.
    pub fn new(db: Db, rp_id: &str, origin: &str) -> anyhow::Result<Self> {
        let origin = Url::parse(origin)?;
        let webauthn = WebauthnBuilder::new(rp_id, &origin)?
            .rp_name("KREKI ID")
            .build()?;
        Ok(Self {
            db,
            webauthn: Arc::new(webauthn),
        })
    }

    async fn save_ceremony<T: Serialize>(
        &self,
        kind: &str,
        account: &str,
        state: &T,
    ) -> Result<String, PasskeyError> {
        let id = random_token();
        sqlx::query("INSERT INTO webauthn_ceremonies (id_hash, kind, account_id, state, expires_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(hash_token(&id))
            .bind(kind)
            .bind(account)
            .bind(serde_json::to_string(state).map_err(anyhow::Error::from)?)
            .bind(now_micros() + CEREMONY_US)
            .execute(self.db.writer())
            .await?;
        Ok(id)
    }

    /// Take a ceremony once: (account id, state).
    async fn take_ceremony<T: DeserializeOwned>(
        &self,
        kind: &str,
        id: &str,
    ) -> Result<(String, T), PasskeyError> {
        // Write first (a SQLite transaction that starts with a read may not become a writer):
        // take this ceremony and clear expired ones, then read what was taken.
        let mut tx = self.db.begin().await?;
        sqlx::query("DELETE FROM webauthn_ceremonies WHERE expires_at < $1")
            .bind(now_micros())
            .execute(&mut *tx)
            .await?;
        let row = sqlx::query(
            "SELECT account_id, state, expires_at FROM webauthn_ceremonies WHERE id_hash = $1 AND kind = $2",
        )
        .bind(hash_token(id))
        .bind(kind)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(PasskeyError::Ceremony)?;
        sqlx::query("DELETE FROM webauthn_ceremonies WHERE id_hash = $1")
            .bind(hash_token(id))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        if row.try_get::<i64, _>("expires_at")? <= now_micros() {
            return Err(PasskeyError::Ceremony);
        }
        let state: String = row.try_get("state")?;
        Ok((
            row.try_get("account_id")?,
            serde_json::from_str(&state).map_err(anyhow::Error::from)?,
        ))
    }

    async fn of_account(&self, account: &str) -> Result<Vec<(String, Passkey)>, PasskeyError> {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT id, passkey FROM passkeys WHERE account_id = $1")
                .bind(account)
                .fetch_all(self.db.pool())
                .await?;
        rows.into_iter()
            .map(|(id, p)| Ok((id, serde_json::from_str(&p).map_err(anyhow::Error::from)?)))
            .collect()
    }

    pub async fn count(&self, account: &str) -> Result<i64, sqlx::Error> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM passkeys WHERE account_id = $1")
            .bind(account)
            .fetch_one(self.db.pool())
            .await?;
        Ok(n)
    }

    pub async fn list(&self, account: &str) -> Result<Vec<PasskeyInfo>, sqlx::Error> {
        let rows = sqlx::query("SELECT id, name, created_at, last_used_at FROM passkeys WHERE account_id = $1 ORDER BY created_at")
            .bind(account)
            .fetch_all(self.db.pool())
            .await?;
        rows.iter()
            .map(|r| {
                Ok(PasskeyInfo {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    created_at: kreki_platform::time_util::rfc3339(r.try_get("created_at")?),
                    last_used_at: r
                        .try_get::<Option<i64>, _>("last_used_at")?
                        .map(kreki_platform::time_util::rfc3339),
                })
            })
            .collect()
    }

    pub async fn delete(&self, account: &str, id: &str) -> Result<bool, sqlx::Error> {
        Ok(
            sqlx::query("DELETE FROM passkeys WHERE account_id = $1 AND id = $2")
                .bind(account)
                .bind(id)
                .execute(self.db.writer())
                .await?
                .rows_affected()
                == 1,
        )
    }

    /// Start registering a passkey for a signed-in account.
    pub async fn start_registration(
        &self,
        a: &Account,
    ) -> Result<(String, CreationChallengeResponse), PasskeyError> {
        let user = Uuid::parse_str(&a.id).map_err(anyhow::Error::from)?;
        let existing: Vec<_> = self
            .of_account(&a.id)
            .await?
            .into_iter()
            .map(|(_, p)| p.cred_id().clone())
            .collect();
        let (ccr, state) = self
            .webauthn
            .start_passkey_registration(user, &a.member_number, &a.full_name, Some(existing))
            .map_err(|e| PasskeyError::Refused(e.to_string()))?;
        let id = self.save_ceremony("register", &a.id, &state).await?;
        Ok((id, ccr))
    }

    pub async fn finish_registration(
        &self,
        account: &str,
        ceremony: &str,
        name: &str,
        credential: &RegisterPublicKeyCredential,
    ) -> Result<PasskeyInfo, PasskeyError> {
        let (owner, state): (String, PasskeyRegistration) =
            self.take_ceremony("register", ceremony).await?;
        if owner != account {
            return Err(PasskeyError::Ceremony);
        }
        let pk = self
            .webauthn
            .finish_passkey_registration(credential, &state)
            .map_err(|e| PasskeyError::Refused(e.to_string()))?;
        let id = uuid::Uuid::now_v7().to_string();
        let now = now_micros();
        let res = sqlx::query("INSERT INTO passkeys (id, account_id, name, cred_id, passkey, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(&id)
            .bind(account)
            .bind(name)
            .bind(serde_json::to_string(pk.cred_id()).map_err(anyhow::Error::from)?)
            .bind(serde_json::to_string(&pk).map_err(anyhow::Error::from)?)
            .bind(now)
            .execute(self.db.writer())
            .await;
        if let Err(e) = res {
            if kreki_platform::storage::is_unique_violation(&e) {
                return Err(PasskeyError::Refused(
                    "this passkey is already registered".into(),
                ));
            }
            return Err(e.into());
        }
        Ok(PasskeyInfo {
            id,
            name: name.into(),
            created_at: kreki_platform::time_util::rfc3339(now),
            last_used_at: None,
        })
    }

    /// Start a sign-in with one of the account's passkeys.
    pub async fn start_authentication(
        &self,
        account: &str,
    ) -> Result<(String, RequestChallengeResponse), PasskeyError> {
        let keys: Vec<Passkey> = self
            .of_account(account)
            .await?
            .into_iter()
            .map(|(_, p)| p)
            .collect();
        if keys.is_empty() {
            return Err(PasskeyError::NoPasskey);
        }
        let (rcr, state) = self
            .webauthn
            .start_passkey_authentication(&keys)
            .map_err(|e| PasskeyError::Refused(e.to_string()))?;
        let id = self.save_ceremony("authenticate", account, &state).await?;
        Ok((id, rcr))
    }

    /// Check the authenticator's assertion; returns the account id and whether the user was
    /// verified (PIN/biometrics) by the authenticator.
    pub async fn finish_authentication(
        &self,
        ceremony: &str,
        credential: &PublicKeyCredential,
    ) -> Result<(String, bool), PasskeyError> {
        let (account, state): (String, PasskeyAuthentication) =
            self.take_ceremony("authenticate", ceremony).await?;
        let result = self
            .webauthn
            .finish_passkey_authentication(credential, &state)
            .map_err(|e| PasskeyError::Refused(e.to_string()))?;
        // Keep the signature counter (cloned-authenticator detection) up to date.
        for (id, mut pk) in self.of_account(&account).await? {
            if pk.cred_id() == result.cred_id() {
                pk.update_credential(&result);
                sqlx::query("UPDATE passkeys SET passkey = $2, last_used_at = $3 WHERE id = $1")
                    .bind(&id)
                    .bind(serde_json::to_string(&pk).map_err(anyhow::Error::from)?)
                    .bind(now_micros())
                    .execute(self.db.writer())
                    .await?;
            }
        }
        Ok((account, result.user_verified()))
    }
}
