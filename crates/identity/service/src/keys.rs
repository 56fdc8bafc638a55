//! Token signing keys: ES256 (P-256), kept in the service's database so that every replica
//! signs with the same current key. A key is rotated when older than `key_rotation_days` (or on
//! an admin's request); a retired key stays in the JWKS until every token it signed has expired.

use std::{collections::HashMap, sync::Arc, time::Duration};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, jwk::JwkSet};
use kreki_platform::{storage::Db, time_util::now_micros};
use p256::{SecretKey, pkcs8::EncodePrivateKey};
use serde::{Serialize, de::DeserializeOwned};
use tokio::sync::RwLock;

struct Current {
    kid: String,
    key: EncodingKey,
}

struct Inner {
    current: Arc<Current>,
    decoding: HashMap<String, DecodingKey>,
    jwks: Arc<serde_json::Value>,
}

pub struct KeyRing {
    db: Db,
    rotate_after_us: i64,
    /// How long a retired key stays published (the longest JWT lifetime, plus leeway).
    publish_retired_us: i64,
    inner: RwLock<Inner>,
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("expired")]
    Expired,
    #[error("invalid")]
    Invalid,
}

fn new_key() -> anyhow::Result<(String, String, serde_json::Value)> {
    let secret = SecretKey::random(&mut rand::rngs::OsRng);
    let der = secret.to_pkcs8_der()?;
    let point = secret.public_key().to_sec1_bytes();
    // Uncompressed SEC1: 0x04 || X (32) || Y (32).
    anyhow::ensure!(point.len() == 65, "unexpected public key encoding");
    let kid = uuid::Uuid::now_v7().simple().to_string();
    let jwk = serde_json::json!({
        "kty": "EC",
        "crv": "P-256",
        "x": B64.encode(&point[1..33]),
        "y": B64.encode(&point[33..65]),
        "use": "sig",
        "alg": "ES256",
        "kid": kid,
    });
    Ok((
        kid,
        base64::engine::general_purpose::STANDARD.encode(der.as_bytes()),
        jwk,
    ))
}

impl KeyRing {
    pub async fn open(db: Db, rotation: Duration, longest_token: Duration) -> anyhow::Result<Self> {
        let rotate_after_us = rotation.as_micros() as i64;
        let publish_retired_us = (longest_token + Duration::from_secs(120)).as_micros() as i64;
        let inner = Self::load(&db, rotate_after_us, publish_retired_us).await?;
        Ok(Self {
            db,
            rotate_after_us,
            publish_retired_us,
            inner: RwLock::new(inner),
        })
    }

    async fn load(db: &Db, rotate_after_us: i64, publish_retired_us: i64) -> anyhow::Result<Inner> {
        let now = now_micros();
        let newest: Option<(i64,)> = sqlx::query_as(
            "SELECT created_at FROM signing_keys WHERE retired_at IS NULL ORDER BY created_at DESC LIMIT 1",
        )
        .fetch_optional(db.pool())
        .await?;
        if newest.is_none_or(|(at,)| now - at > rotate_after_us) {
            Self::insert_new(db).await?;
        }
        let rows: Vec<(String, String, String, i64, Option<i64>)> = sqlx::query_as(
            "SELECT kid, private_der, public_jwk, created_at, retired_at FROM signing_keys \
             WHERE retired_at IS NULL OR retired_at > $1 ORDER BY created_at DESC",
        )
        .bind(now - publish_retired_us)
        .fetch_all(db.pool())
        .await?;
        let mut current = None;
        let mut decoding = HashMap::new();
        let mut keys = Vec::new();
        for (kid, der, jwk, _, retired) in rows {
            let jwk: serde_json::Value = serde_json::from_str(&jwk)?;
            let x = jwk["x"].as_str().unwrap_or_default();
            let y = jwk["y"].as_str().unwrap_or_default();
            decoding.insert(kid.clone(), DecodingKey::from_ec_components(x, y)?);
            if current.is_none() && retired.is_none() {
                let der = base64::engine::general_purpose::STANDARD.decode(der)?;
                current = Some(Arc::new(Current {
                    kid: kid.clone(),
                    key: EncodingKey::from_ec_der(&der),
                }));
            }
            keys.push(jwk);
        }
        let current = current.ok_or_else(|| anyhow::anyhow!("no current signing key"))?;
        Ok(Inner {
            current,
            decoding,
            jwks: Arc::new(serde_json::json!({ "keys": keys })),
        })
    }

    async fn insert_new(db: &Db) -> anyhow::Result<String> {
        let (kid, der, jwk) = new_key()?;
        let now = now_micros();
        let mut tx = db.begin().await?;
        // The newest key signs; older active keys retire (they stay published for a while).
        sqlx::query("UPDATE signing_keys SET retired_at = $1 WHERE retired_at IS NULL")
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO signing_keys (kid, alg, private_der, public_jwk, created_at) VALUES ($1, 'ES256', $2, $3, $4)",
        )
        .bind(&kid)
        .bind(der)
        .bind(jwk.to_string())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(kid)
    }

    /// Re-read the keys (another replica may have rotated); rotate when due.
    pub async fn refresh(&self) -> anyhow::Result<()> {
        let inner = Self::load(&self.db, self.rotate_after_us, self.publish_retired_us).await?;
        *self.inner.write().await = inner;
        Ok(())
    }

    /// Make a new signing key now (admin action); returns its key id.
    pub async fn rotate(&self) -> anyhow::Result<String> {
        let kid = Self::insert_new(&self.db).await?;
        self.refresh().await?;
        Ok(kid)
    }

    pub async fn jwks(&self) -> Arc<serde_json::Value> {
        self.inner.read().await.jwks.clone()
    }

    pub async fn current_kid(&self) -> String {
        self.inner.read().await.current.kid.clone()
    }

    /// Sign claims as a compact JWS (ES256, with the key id).
    pub async fn sign<T: Serialize>(&self, claims: &T) -> anyhow::Result<String> {
        let current = self.inner.read().await.current.clone();
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(current.kid.clone());
        header.typ = Some("JWT".into());
        Ok(jsonwebtoken::encode(&header, claims, &current.key)?)
    }

    /// Verify one of our own tokens (signature, issuer, expiry); `aud` is not checked here.
    pub async fn verify<T: DeserializeOwned>(
        &self,
        token: &str,
        issuer: &str,
    ) -> Result<T, VerifyError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| VerifyError::Invalid)?;
        if header.alg != Algorithm::ES256 {
            return Err(VerifyError::Invalid);
        }
        let kid = header.kid.ok_or(VerifyError::Invalid)?;
        let inner = self.inner.read().await;
        let key = inner.decoding.get(&kid).ok_or(VerifyError::Invalid)?;
        let mut v = Validation::new(Algorithm::ES256);
        v.set_issuer(&[issuer]);
        v.validate_aud = false;
        v.leeway = 0;
        v.set_required_spec_claims(&["exp", "iss", "sub"]);
        jsonwebtoken::decode::<T>(token, key, &v)
            .map(|d| d.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => VerifyError::Expired,
                _ => VerifyError::Invalid,
            })
    }

    /// Verify signature and issuer of one of our tokens that may have expired (logout hints).
    pub async fn verify_ignoring_expiry<T: DeserializeOwned>(
        &self,
        token: &str,
        issuer: &str,
    ) -> Option<T> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        if header.alg != Algorithm::ES256 {
            return None;
        }
        let inner = self.inner.read().await;
        let key = inner.decoding.get(&header.kid?)?;
        let mut v = Validation::new(Algorithm::ES256);
        v.set_issuer(&[issuer]);
        v.validate_aud = false;
        v.validate_exp = false;
        v.set_required_spec_claims(&["iss", "sub"]);
        jsonwebtoken::decode::<T>(token, key, &v)
            .ok()
            .map(|d| d.claims)
    }

    /// The key set as a `jsonwebtoken` JWKS (for the in-process authenticator).
    pub async fn jwk_set(&self) -> anyhow::Result<JwkSet> {
        Ok(serde_json::from_value((*self.jwks().await).clone())?)
    }
}
