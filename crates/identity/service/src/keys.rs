//! Token signing keys: ES256 (P-256), kept in the service's database so that every replica
//! signs with the same current key. A key is rotated when older than `key_rotation_days` (or on
//! an admin's request); a retired key stays in the JWKS until every token it signed has expired.
//!
//! Signing and checking our own tokens use `ring` (constant-time, assembly-optimised P-256):
//! a grant costs one signature of about 20 µs. Other services check the same tokens with the
//! platform's `jsonwebtoken`-based extractor, an independent implementation.

use std::{collections::HashMap, sync::Arc, time::Duration};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use kreki_platform::{storage::Db, time_util::now_micros};
use ring::{
    rand::SystemRandom,
    signature::{
        ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair,
        UnparsedPublicKey,
    },
};
use serde::{Serialize, de::DeserializeOwned};
use tokio::sync::RwLock;

struct Current {
    /// `{"alg":"ES256","typ":"JWT","kid":…}`, base64url, followed by a dot.
    header_b64: String,
    /// The same with `"typ":"at+jwt"` (RFC 9068): access tokens.
    access_header_b64: String,
    pair: EcdsaKeyPair,
}

/// What a signed token is, in its JOSE header's `typ`: only access tokens open the APIs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// `typ: at+jwt`: an access token for the KREKI APIs.
    Access,
    /// `typ: JWT`: an ID token or another signed statement that opens no API.
    Other,
}

struct Inner {
    current: Arc<Current>,
    /// kid → uncompressed public point (65 bytes).
    public: HashMap<String, Vec<u8>>,
    jwks: Arc<serde_json::Value>,
}

pub struct KeyRing {
    db: Db,
    rotate_after_us: i64,
    /// How long a retired key stays published (the longest JWT lifetime, plus leeway).
    publish_retired_us: i64,
    rng: SystemRandom,
    inner: RwLock<Inner>,
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("expired")]
    Expired,
    #[error("invalid")]
    Invalid,
}

fn jwk_of(kid: &str, point: &[u8]) -> anyhow::Result<serde_json::Value> {
    // Uncompressed SEC1: 0x04 || X (32) || Y (32).
    anyhow::ensure!(
        point.len() == 65 && point[0] == 4,
        "unexpected public key encoding"
    );
    Ok(serde_json::json!({
        "kty": "EC",
        "crv": "P-256",
        "x": B64.encode(&point[1..33]),
        "y": B64.encode(&point[33..65]),
        "use": "sig",
        "alg": "ES256",
        "kid": kid,
    }))
}

fn new_key(rng: &SystemRandom) -> anyhow::Result<(String, String, serde_json::Value)> {
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, rng)
        .map_err(|_| anyhow::anyhow!("cannot generate a P-256 key"))?;
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), rng)
        .map_err(|e| anyhow::anyhow!("generated key rejected: {e}"))?;
    let kid = uuid::Uuid::now_v7().simple().to_string();
    let jwk = jwk_of(&kid, pair.public_key().as_ref())?;
    Ok((
        kid,
        base64::engine::general_purpose::STANDARD.encode(pkcs8.as_ref()),
        jwk,
    ))
}

#[derive(serde::Deserialize)]
struct JoseHeader {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    typ: Option<String>,
}

#[derive(serde::Deserialize)]
struct Registered {
    iss: String,
    #[serde(default)]
    exp: Option<i64>,
    #[allow(dead_code)]
    sub: String,
}

impl KeyRing {
    pub async fn open(db: Db, rotation: Duration, longest_token: Duration) -> anyhow::Result<Self> {
        let rotate_after_us = rotation.as_micros() as i64;
        let publish_retired_us = (longest_token + Duration::from_secs(120)).as_micros() as i64;
        let rng = SystemRandom::new();
        let inner = Self::load(&db, &rng, rotate_after_us, publish_retired_us).await?;
        Ok(Self {
            db,
            rotate_after_us,
            publish_retired_us,
            rng,
            inner: RwLock::new(inner),
        })
    }

    async fn load(
        db: &Db,
        rng: &SystemRandom,
        rotate_after_us: i64,
        publish_retired_us: i64,
    ) -> anyhow::Result<Inner> {
        let now = now_micros();
        let newest: Option<(i64,)> = sqlx::query_as(
            "SELECT created_at FROM signing_keys WHERE retired_at IS NULL ORDER BY created_at DESC LIMIT 1",
        )
        .fetch_optional(db.pool())
        .await?;
        if newest.is_none_or(|(at,)| now - at > rotate_after_us) {
            Self::insert_new(db, rng).await?;
        }
        let rows: Vec<(String, String, String, i64, Option<i64>)> = sqlx::query_as(
            "SELECT kid, private_der, public_jwk, created_at, retired_at FROM signing_keys \
             WHERE retired_at IS NULL OR retired_at > $1 ORDER BY created_at DESC",
        )
        .bind(now - publish_retired_us)
        .fetch_all(db.pool())
        .await?;
        let mut current = None;
        let mut public = HashMap::new();
        let mut keys = Vec::new();
        for (kid, der, jwk, _, retired) in rows {
            let jwk: serde_json::Value = serde_json::from_str(&jwk)?;
            let coord = |k: &str| B64.decode(jwk[k].as_str().unwrap_or_default());
            let mut point = vec![4u8];
            point.extend(coord("x")?);
            point.extend(coord("y")?);
            public.insert(kid.clone(), point);
            if current.is_none() && retired.is_none() {
                let der = base64::engine::general_purpose::STANDARD.decode(der)?;
                let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der, rng)
                    .map_err(|e| anyhow::anyhow!("stored signing key {kid} is unusable: {e}"))?;
                let header = |typ: &str| {
                    let h = serde_json::json!({ "alg": "ES256", "typ": typ, "kid": kid });
                    format!("{}.", B64.encode(h.to_string()))
                };
                current = Some(Arc::new(Current {
                    header_b64: header("JWT"),
                    access_header_b64: header(kreki_platform::auth::ACCESS_TOKEN_TYP),
                    pair,
                }));
            }
            keys.push(jwk);
        }
        let current = current.ok_or_else(|| anyhow::anyhow!("no current signing key"))?;
        Ok(Inner {
            current,
            public,
            jwks: Arc::new(serde_json::json!({ "keys": keys })),
        })
    }

    async fn insert_new(db: &Db, rng: &SystemRandom) -> anyhow::Result<String> {
        let (kid, der, jwk) = new_key(rng)?;
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
        let inner = Self::load(
            &self.db,
            &self.rng,
            self.rotate_after_us,
            self.publish_retired_us,
        )
        .await?;
        *self.inner.write().await = inner;
        Ok(())
    }

    /// Make a new signing key now (admin action); returns its key id.
    pub async fn rotate(&self) -> anyhow::Result<String> {
        let kid = Self::insert_new(&self.db, &self.rng).await?;
        self.refresh().await?;
        Ok(kid)
    }

    pub async fn jwks(&self) -> Arc<serde_json::Value> {
        self.inner.read().await.jwks.clone()
    }

    /// Sign claims as a compact JWS (ES256, with the key id) of the given kind.
    pub async fn sign<T: Serialize>(&self, kind: TokenKind, claims: &T) -> anyhow::Result<String> {
        let current = self.inner.read().await.current.clone();
        let payload = serde_json::to_vec(claims)?;
        let header = match kind {
            TokenKind::Access => &current.access_header_b64,
            TokenKind::Other => &current.header_b64,
        };
        let mut jws = String::with_capacity(header.len() + payload.len() * 4 / 3 + 100);
        jws.push_str(header);
        B64.encode_string(&payload, &mut jws);
        let sig = current
            .pair
            .sign(&self.rng, jws.as_bytes())
            .map_err(|_| anyhow::anyhow!("signing failed"))?;
        jws.push('.');
        B64.encode_string(sig.as_ref(), &mut jws);
        Ok(jws)
    }

    /// The claims of one of our tokens if its signature (ES256, a key of ours) and issuer are
    /// right; the expiry is checked unless `ignore_expiry`.
    async fn check<T: DeserializeOwned>(
        &self,
        token: &str,
        issuer: &str,
        kind: Option<TokenKind>,
        ignore_expiry: bool,
    ) -> Result<T, VerifyError> {
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(VerifyError::Invalid);
        };
        let header: JoseHeader = B64
            .decode(h)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or(VerifyError::Invalid)?;
        if header.alg != "ES256" {
            return Err(VerifyError::Invalid);
        }
        if kind == Some(TokenKind::Access)
            && !kreki_platform::auth::is_access_token_typ(header.typ.as_deref())
        {
            return Err(VerifyError::Invalid);
        }
        let kid = header.kid.ok_or(VerifyError::Invalid)?;
        let sig = B64.decode(s).map_err(|_| VerifyError::Invalid)?;
        {
            let inner = self.inner.read().await;
            let point = inner.public.get(&kid).ok_or(VerifyError::Invalid)?;
            UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
                .verify(&token.as_bytes()[..h.len() + 1 + p.len()], &sig)
                .map_err(|_| VerifyError::Invalid)?;
        }
        let payload = B64.decode(p).map_err(|_| VerifyError::Invalid)?;
        let reg: Registered = serde_json::from_slice(&payload).map_err(|_| VerifyError::Invalid)?;
        if reg.iss != issuer {
            return Err(VerifyError::Invalid);
        }
        if !ignore_expiry {
            match reg.exp {
                Some(exp) if exp > now_micros() / 1_000_000 => {}
                Some(_) => return Err(VerifyError::Expired),
                None => return Err(VerifyError::Invalid),
            }
        }
        serde_json::from_slice(&payload).map_err(|_| VerifyError::Invalid)
    }

    /// Verify one of our own access tokens (`typ: at+jwt`, signature, issuer, expiry); `aud`
    /// is checked by the caller.
    pub async fn verify_access<T: DeserializeOwned>(
        &self,
        token: &str,
        issuer: &str,
    ) -> Result<T, VerifyError> {
        self.check(token, issuer, Some(TokenKind::Access), false)
            .await
    }

    /// Verify signature and issuer of one of our tokens that may have expired (logout hints).
    pub async fn verify_ignoring_expiry<T: DeserializeOwned>(
        &self,
        token: &str,
        issuer: &str,
    ) -> Option<T> {
        self.check(token, issuer, None, true).await.ok()
    }
}
