//! Token signing keys: ES256 (P-256), kept in the service's database so that every replica
//! signs with the same current key. A key is rotated when older than `key_rotation_days` (or on
//! an admin's request); a retired key stays in the JWKS until every token it signed has expired.
//!
//! ID tokens may also be RS256 (OpenID Connect Discovery requires it to be offered): a client
//! registered with `id_token_signed_response_alg = "RS256"` gets its ID tokens signed with an
//! RSA key (2048 bits), made the first time such a client exists and rotated like the ES256
//! key from then on. Access tokens are always ES256. Each key is in the JWKS with its own
//! `kid` and `alg`. RSA keys are generated with the `rsa` crate (ring cannot generate them);
//! ring signs and checks with them.
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
        RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256, RsaKeyPair, RsaPublicKeyComponents,
        UnparsedPublicKey,
    },
};
use serde::{Serialize, de::DeserializeOwned};
use tokio::sync::RwLock;

use crate::sealing::Sealer;

/// A private key of ours.
enum Signer {
    Es(EcdsaKeyPair),
    Rs(RsaKeyPair),
}

struct Current {
    /// `{"alg":…,"typ":"JWT","kid":…}`, base64url, followed by a dot.
    header_b64: String,
    /// The same with `"typ":"at+jwt"` (RFC 9068): access tokens.
    access_header_b64: String,
    signer: Signer,
}

/// What a signed token is, in its JOSE header's `typ`: only access tokens open the APIs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// `typ: at+jwt`: an access token for the KREKI APIs.
    Access,
    /// `typ: JWT`: an ID token or another signed statement that opens no API.
    Other,
}

/// The signature algorithms of our tokens (`RS256` only for ID tokens).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    Es256,
    Rs256,
}

impl Alg {
    pub fn as_str(self) -> &'static str {
        match self {
            Alg::Es256 => "ES256",
            Alg::Rs256 => "RS256",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ES256" => Some(Alg::Es256),
            "RS256" => Some(Alg::Rs256),
            _ => None,
        }
    }
}

/// The values of `id_token_signing_alg_values_supported` (the default first).
pub const ID_TOKEN_ALGS: &[&str] = &["ES256", "RS256"];

/// The public half of one of our keys.
enum Public {
    /// Uncompressed P-256 point (65 bytes).
    Es(Vec<u8>),
    /// Modulus and exponent, big-endian.
    Rs { n: Vec<u8>, e: Vec<u8> },
}

struct Inner {
    /// The ES256 key (every access token, ID tokens by default).
    current: Arc<Current>,
    /// The RS256 key, once a client asked for RS256 ID tokens.
    rsa: Option<Arc<Current>>,
    public: HashMap<String, Public>,
    jwks: Arc<serde_json::Value>,
}

/// The associated data of a sealed private key: its column and key id.
pub const KEY_AAD: &str = "signing_keys.private_der:";

pub struct KeyRing {
    db: Db,
    /// Private keys are stored sealed (`crate::sealing`).
    sealer: Arc<Sealer>,
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

/// A new key: (kid, PKCS#8 DER in base64, public JWK).
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

/// A new RSA key (2048 bits, e = 65537): (kid, PKCS#8 DER in base64, public JWK). Slow
/// (prime search): call it off the async threads.
fn new_rsa_key() -> anyhow::Result<(String, String, serde_json::Value)> {
    use rsa::{pkcs8::EncodePrivateKey, traits::PublicKeyParts};
    let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048)
        .map_err(|e| anyhow::anyhow!("cannot generate an RSA key: {e}"))?;
    let der = key
        .to_pkcs8_der()
        .map_err(|e| anyhow::anyhow!("cannot encode an RSA key: {e}"))?;
    // ring must accept it before it is stored.
    RsaKeyPair::from_pkcs8(der.as_bytes())
        .map_err(|e| anyhow::anyhow!("generated RSA key rejected: {e}"))?;
    let kid = uuid::Uuid::now_v7().simple().to_string();
    let jwk = serde_json::json!({
        "kty": "RSA",
        "n": B64.encode(key.n().to_bytes_be()),
        "e": B64.encode(key.e().to_bytes_be()),
        "use": "sig",
        "alg": "RS256",
        "kid": kid,
    });
    Ok((
        kid,
        base64::engine::general_purpose::STANDARD.encode(der.as_bytes()),
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
    pub async fn open(
        db: Db,
        sealer: Arc<Sealer>,
        rotation: Duration,
        longest_token: Duration,
    ) -> anyhow::Result<Self> {
        let rotate_after_us = rotation.as_micros() as i64;
        let publish_retired_us = (longest_token + Duration::from_secs(120)).as_micros() as i64;
        let rng = SystemRandom::new();
        let inner = Self::load(&db, &rng, &sealer, rotate_after_us, publish_retired_us).await?;
        Ok(Self {
            db,
            sealer,
            rotate_after_us,
            publish_retired_us,
            rng,
            inner: RwLock::new(inner),
        })
    }

    async fn load(
        db: &Db,
        rng: &SystemRandom,
        sealer: &Sealer,
        rotate_after_us: i64,
        publish_retired_us: i64,
    ) -> anyhow::Result<Inner> {
        let now = now_micros();
        let newest = |alg: Alg| {
            sqlx::query_as::<_, (i64,)>(
                "SELECT created_at FROM signing_keys WHERE retired_at IS NULL AND alg = $1 \
                 ORDER BY created_at DESC LIMIT 1",
            )
            .bind(alg.as_str())
            .fetch_optional(db.pool())
        };
        if newest(Alg::Es256)
            .await?
            .is_none_or(|(at,)| now - at > rotate_after_us)
        {
            Self::insert_new(db, rng, sealer, Alg::Es256).await?;
        }
        // An RSA key exists once a client asked for RS256; from then on it rotates too.
        if newest(Alg::Rs256)
            .await?
            .is_some_and(|(at,)| now - at > rotate_after_us)
        {
            Self::insert_new(db, rng, sealer, Alg::Rs256).await?;
        }
        let rows: Vec<(String, String, String, String, Option<i64>)> = sqlx::query_as(
            "SELECT kid, alg, private_der, public_jwk, retired_at FROM signing_keys \
             WHERE retired_at IS NULL OR retired_at > $1 ORDER BY created_at DESC",
        )
        .bind(now - publish_retired_us)
        .fetch_all(db.pool())
        .await?;
        let mut current = None;
        let mut rsa = None;
        let mut public = HashMap::new();
        let mut keys = Vec::new();
        for (kid, alg, der, jwk, retired) in rows {
            let jwk: serde_json::Value = serde_json::from_str(&jwk)?;
            let field = |k: &str| B64.decode(jwk[k].as_str().unwrap_or_default());
            let alg = Alg::parse(&alg)
                .ok_or_else(|| anyhow::anyhow!("signing key {kid}: unknown algorithm {alg}"))?;
            let slot = match alg {
                Alg::Es256 => {
                    let mut point = vec![4u8];
                    point.extend(field("x")?);
                    point.extend(field("y")?);
                    public.insert(kid.clone(), Public::Es(point));
                    &mut current
                }
                Alg::Rs256 => {
                    let (n, e) = (field("n")?, field("e")?);
                    public.insert(kid.clone(), Public::Rs { n, e });
                    &mut rsa
                }
            };
            if slot.is_none() && retired.is_none() {
                let der = sealer.open(&der, &format!("{KEY_AAD}{kid}"))?;
                let der = base64::engine::general_purpose::STANDARD.decode(der)?;
                let unusable = |e: &dyn std::fmt::Display| {
                    anyhow::anyhow!("stored signing key {kid} is unusable: {e}")
                };
                let signer = match alg {
                    Alg::Es256 => Signer::Es(
                        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der, rng)
                            .map_err(|e| unusable(&e))?,
                    ),
                    Alg::Rs256 => {
                        Signer::Rs(RsaKeyPair::from_pkcs8(&der).map_err(|e| unusable(&e))?)
                    }
                };
                let header = |typ: &str| {
                    let h = serde_json::json!({ "alg": alg.as_str(), "typ": typ, "kid": kid });
                    format!("{}.", B64.encode(h.to_string()))
                };
                *slot = Some(Arc::new(Current {
                    header_b64: header("JWT"),
                    access_header_b64: header(kreki_platform::auth::ACCESS_TOKEN_TYP),
                    signer,
                }));
            }
            keys.push(jwk);
        }
        let current = current.ok_or_else(|| anyhow::anyhow!("no current signing key"))?;
        Ok(Inner {
            current,
            rsa,
            public,
            jwks: Arc::new(serde_json::json!({ "keys": keys })),
        })
    }

    async fn insert_new(
        db: &Db,
        rng: &SystemRandom,
        sealer: &Sealer,
        alg: Alg,
    ) -> anyhow::Result<String> {
        let (kid, der, jwk) = match alg {
            Alg::Es256 => new_key(rng)?,
            Alg::Rs256 => tokio::task::spawn_blocking(new_rsa_key).await??,
        };
        let der = sealer.seal(&der, &format!("{KEY_AAD}{kid}"));
        let now = now_micros();
        let mut tx = db.begin().await?;
        // The newest key of an algorithm signs; older active ones retire (they stay
        // published for a while).
        sqlx::query(
            "UPDATE signing_keys SET retired_at = $1 WHERE retired_at IS NULL AND alg = $2",
        )
        .bind(now)
        .bind(alg.as_str())
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO signing_keys (kid, alg, private_der, public_jwk, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&kid)
        .bind(alg.as_str())
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
            &self.sealer,
            self.rotate_after_us,
            self.publish_retired_us,
        )
        .await?;
        *self.inner.write().await = inner;
        Ok(())
    }

    /// Make a new signing key now (admin action); returns the ES256 key's id. The RSA key,
    /// if there is one, is renewed too.
    pub async fn rotate(&self) -> anyhow::Result<String> {
        let kid = Self::insert_new(&self.db, &self.rng, &self.sealer, Alg::Es256).await?;
        if self.inner.read().await.rsa.is_some() {
            Self::insert_new(&self.db, &self.rng, &self.sealer, Alg::Rs256).await?;
        }
        self.refresh().await?;
        Ok(kid)
    }

    /// Make sure an RSA key exists (a client asked for RS256 ID tokens).
    pub async fn ensure_rsa(&self) -> anyhow::Result<()> {
        if self.inner.read().await.rsa.is_some() {
            return Ok(());
        }
        // Another replica may have made one meanwhile.
        self.refresh().await?;
        if self.inner.read().await.rsa.is_none() {
            Self::insert_new(&self.db, &self.rng, &self.sealer, Alg::Rs256).await?;
            self.refresh().await?;
        }
        Ok(())
    }

    pub async fn jwks(&self) -> Arc<serde_json::Value> {
        self.inner.read().await.jwks.clone()
    }

    /// Sign claims as a compact JWS (ES256, with the key id) of the given kind.
    pub async fn sign<T: Serialize>(&self, kind: TokenKind, claims: &T) -> anyhow::Result<String> {
        let current = self.inner.read().await.current.clone();
        self.sign_with(&current, kind, claims)
    }

    /// Sign an ID token (or another statement that opens no API) with the algorithm the
    /// client registered.
    pub async fn sign_id_token<T: Serialize>(
        &self,
        alg: Alg,
        claims: &T,
    ) -> anyhow::Result<String> {
        let key = match alg {
            Alg::Es256 => self.inner.read().await.current.clone(),
            Alg::Rs256 => {
                let rsa = self.inner.read().await.rsa.clone();
                match rsa {
                    Some(k) => k,
                    None => {
                        self.ensure_rsa().await?;
                        self.inner
                            .read()
                            .await
                            .rsa
                            .clone()
                            .ok_or_else(|| anyhow::anyhow!("no RSA signing key"))?
                    }
                }
            }
        };
        self.sign_with(&key, TokenKind::Other, claims)
    }

    fn sign_with<T: Serialize>(
        &self,
        key: &Current,
        kind: TokenKind,
        claims: &T,
    ) -> anyhow::Result<String> {
        let payload = serde_json::to_vec(claims)?;
        let header = match kind {
            TokenKind::Access => &key.access_header_b64,
            TokenKind::Other => &key.header_b64,
        };
        let mut jws = String::with_capacity(header.len() + payload.len() * 4 / 3 + 400);
        jws.push_str(header);
        B64.encode_string(&payload, &mut jws);
        match &key.signer {
            Signer::Es(pair) => {
                let sig = pair
                    .sign(&self.rng, jws.as_bytes())
                    .map_err(|_| anyhow::anyhow!("signing failed"))?;
                jws.push('.');
                B64.encode_string(sig.as_ref(), &mut jws);
            }
            Signer::Rs(pair) => {
                let mut sig = vec![0u8; pair.public().modulus_len()];
                pair.sign(&RSA_PKCS1_SHA256, &self.rng, jws.as_bytes(), &mut sig)
                    .map_err(|_| anyhow::anyhow!("signing failed"))?;
                jws.push('.');
                B64.encode_string(&sig, &mut jws);
            }
        }
        Ok(jws)
    }

    /// The claims of one of our tokens if its signature (a key of ours, with the key's
    /// algorithm) and issuer are right; the expiry is checked unless `ignore_expiry`.
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
        let alg = Alg::parse(&header.alg).ok_or(VerifyError::Invalid)?;
        // Access tokens are ES256 only.
        if kind == Some(TokenKind::Access)
            && (alg != Alg::Es256
                || !kreki_platform::auth::is_access_token_typ(header.typ.as_deref()))
        {
            return Err(VerifyError::Invalid);
        }
        let kid = header.kid.ok_or(VerifyError::Invalid)?;
        let sig = B64.decode(s).map_err(|_| VerifyError::Invalid)?;
        {
            let inner = self.inner.read().await;
            let signed = &token.as_bytes()[..h.len() + 1 + p.len()];
            // The key decides the algorithm: a header naming another one is refused.
            let verified = match (alg, inner.public.get(&kid).ok_or(VerifyError::Invalid)?) {
                (Alg::Es256, Public::Es(point)) => {
                    UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point).verify(signed, &sig)
                }
                (Alg::Rs256, Public::Rs { n, e }) => RsaPublicKeyComponents { n, e }.verify(
                    &RSA_PKCS1_2048_8192_SHA256,
                    signed,
                    &sig,
                ),
                _ => return Err(VerifyError::Invalid),
            };
            verified.map_err(|_| VerifyError::Invalid)?;
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
