//! Bearer-token authentication for every service: access tokens are JWTs signed by KREKI ID
//! with an asymmetric key (ES256 or EdDSA; RS256 accepted for partner-issued keys), checked
//! against the issuer's JWKS, which is fetched, cached and re-fetched when a token names an
//! unknown key id (key rotation). `alg=none` and HMAC algorithms are never accepted.
//!
//! Only **access tokens** open an API (RFC 9068): the header's `typ` is `at+jwt`, the audience
//! is checked (default [`DEFAULT_AUDIENCE`]), and `client_id` and `jti` are present. An ID
//! token, signed by the same key and carrying the same `roles`, is refused: it is addressed
//! to one client, not to the APIs, and it cannot be revoked.
//!
//! Authorisation is data: [`Principal::require`] checks one permission of the matrix in the
//! identity contracts ([`kreki_identity_contracts::roles_permit`]); services keep no role-name
//! lists of their own.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use async_trait::async_trait;
use axum::{extract::FromRequestParts, http::request::Parts};
use jsonwebtoken::{
    Algorithm, DecodingKey, Validation, decode, decode_header,
    jwk::{Jwk, JwkSet},
};
use serde::Deserialize;
use tokio::sync::RwLock;

use crate::error::ApiError;

/// The permissions of the matrix (`resource:action`), as every service names them.
pub use kreki_identity_contracts::perm;

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// KREKI ID subject (account id), or the client id for client-credentials tokens.
    pub subject: String,
    pub roles: Vec<String>,
    pub scopes: Vec<String>,
    pub client_id: Option<String>,
    pub token_id: Option<String>,
    /// Unix seconds.
    pub expires_at: i64,
}

impl Principal {
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
    /// 403 unless the principal has one of `roles`.
    pub fn require_any_role(&self, roles: &[&str]) -> Result<(), ApiError> {
        if roles.iter().any(|r| self.has_role(r)) {
            Ok(())
        } else {
            Err(ApiError::forbidden())
        }
    }
    /// Whether the principal's roles grant `permission` (`resource:action`) in the matrix.
    pub fn can(&self, permission: &str) -> bool {
        kreki_identity_contracts::roles_permit(&self.roles, permission)
    }
    /// 403 unless the principal's roles grant `permission`: the one authorisation check.
    pub fn require(&self, permission: &str) -> Result<(), ApiError> {
        if self.can(permission) {
            Ok(())
        } else {
            Err(ApiError::forbidden())
        }
    }
}

/// The audience of KREKI access tokens (`aud`), checked unless configured otherwise.
pub const DEFAULT_AUDIENCE: &str = "kreki";

/// The JOSE `typ` of access tokens (RFC 9068 §2.1); `application/at+jwt` is the same type.
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// Whether a JOSE header's `typ` names a JWT access token.
pub fn is_access_token_typ(typ: Option<&str>) -> bool {
    typ.is_some_and(|t| {
        let t = t.strip_prefix("application/").unwrap_or(t);
        t.eq_ignore_ascii_case(ACCESS_TOKEN_TYP)
    })
}

#[derive(Debug, Deserialize)]
struct Claims {
    sub: String,
    #[allow(dead_code)]
    iss: String,
    exp: i64,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    jti: Option<String>,
    #[serde(default)]
    iat: Option<i64>,
    /// KREKI ID's issue time in milliseconds (account revocations within one second).
    #[serde(default)]
    iat_ms: Option<i64>,
}

/// Where the verification keys come from.
#[async_trait]
pub trait KeySource: Send + Sync + 'static {
    async fn fetch(&self) -> anyhow::Result<JwkSet>;
}

/// A JWKS over HTTP(S). The HTTP client (with its TLS roots) is made at the first fetch.
pub struct HttpJwks {
    url: String,
    client: std::sync::OnceLock<reqwest::Client>,
}

impl HttpJwks {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            client: std::sync::OnceLock::new(),
        }
    }
}

#[async_trait]
impl KeySource for HttpJwks {
    async fn fetch(&self) -> anyhow::Result<JwkSet> {
        let client = self.client.get_or_init(|| {
            reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap_or_default()
        });
        Ok(client
            .get(&self.url)
            .send()
            .await?
            .error_for_status()?
            .json::<JwkSet>()
            .await?)
    }
}

/// A fixed key set (tests; an in-process issuer can implement [`KeySource`] directly).
pub struct StaticJwks(pub JwkSet);

#[async_trait]
impl KeySource for StaticJwks {
    async fn fetch(&self) -> anyhow::Result<JwkSet> {
        Ok(self.0.clone())
    }
}

/// Why a token was refused (the code shown to the caller).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    Missing,
    Malformed,
    Expired,
    Invalid,
    /// Keys could not be fetched: the caller gets 503, not 401.
    KeysUnavailable,
}

impl From<TokenError> for ApiError {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::Missing => ApiError::unauthorized("AUTH_TOKEN_MISSING"),
            TokenError::Malformed => ApiError::unauthorized("AUTH_TOKEN_MALFORMED"),
            TokenError::Expired => ApiError::unauthorized("AUTH_TOKEN_EXPIRED"),
            TokenError::Invalid => ApiError::unauthorized("AUTH_TOKEN_INVALID"),
            TokenError::KeysUnavailable => {
                ApiError::from_status(axum::http::StatusCode::SERVICE_UNAVAILABLE)
            }
        }
    }
}

struct Cache {
    keys: Option<JwkSet>,
    fetched: Option<Instant>,
}

/// Revoked access tokens, as KREKI ID last published them.
#[derive(Default)]
struct DenyList {
    /// jti → expiry (Unix seconds).
    tokens: std::collections::HashMap<String, i64>,
    /// account → tokens issued before this (Unix milliseconds) are refused.
    accounts: std::collections::HashMap<String, i64>,
}

/// Verifies access tokens.
pub struct Authenticator {
    issuer: String,
    audience: String,
    deny: std::sync::RwLock<DenyList>,
    source: Arc<dyn KeySource>,
    cache: RwLock<Cache>,
    ttl: Duration,
    min_refetch: Duration,
}

const ALLOWED: &[Algorithm] = &[Algorithm::ES256, Algorithm::EdDSA, Algorithm::RS256];

impl Authenticator {
    /// `audience`: the expected `aud`; `None` means [`DEFAULT_AUDIENCE`].
    pub fn new(
        issuer: impl Into<String>,
        audience: Option<String>,
        source: Arc<dyn KeySource>,
    ) -> Self {
        Self {
            issuer: issuer.into(),
            audience: audience.unwrap_or_else(|| DEFAULT_AUDIENCE.to_string()),
            deny: std::sync::RwLock::new(DenyList::default()),
            source,
            cache: RwLock::new(Cache {
                keys: None,
                fetched: None,
            }),
            ttl: Duration::from_secs(300),
            min_refetch: Duration::from_secs(10),
        }
    }

    /// Shortest time between two JWKS fetches triggered by unknown key ids (default 10 s).
    pub fn with_refetch_interval(mut self, d: Duration) -> Self {
        self.min_refetch = d;
        self
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Replace the deny list with KREKI ID's latest full list of revocations.
    pub fn apply_revocations(&self, list: &kreki_identity_contracts::Revocations) {
        let now = crate::time_util::now_micros() / 1_000_000;
        let next = DenyList {
            tokens: list
                .tokens
                .iter()
                .filter(|t| t.expires_at >= now)
                .map(|t| (t.jti.clone(), t.expires_at))
                .collect(),
            accounts: list
                .accounts
                .iter()
                .filter(|a| a.expires_at >= now)
                .map(|a| (a.account_id.clone(), a.not_before_ms))
                .collect(),
        };
        if let Ok(mut d) = self.deny.write() {
            *d = next;
        }
    }

    /// Whether a token (by id, subject and issue time) was revoked.
    fn revoked(&self, jti: &str, sub: &str, iat: Option<i64>) -> bool {
        let Ok(d) = self.deny.read() else {
            return false;
        };
        d.tokens.contains_key(jti)
            || d.accounts
                .get(sub)
                .is_some_and(|nb| iat.is_none_or(|iat| iat < *nb))
    }

    async fn key_for(&self, kid: Option<&str>) -> Result<Jwk, TokenError> {
        let find = |set: &JwkSet| -> Option<Jwk> {
            match kid {
                Some(k) => set.find(k).cloned(),
                None if set.keys.len() == 1 => set.keys.first().cloned(),
                None => None,
            }
        };
        {
            let c = self.cache.read().await;
            if let (Some(keys), Some(at)) = (&c.keys, c.fetched)
                && at.elapsed() < self.ttl
                && let Some(k) = find(keys)
            {
                return Ok(k);
            }
        }
        let mut c = self.cache.write().await;
        // Someone else may have refreshed meanwhile.
        if let Some(keys) = &c.keys
            && let Some(k) = find(keys)
            && c.fetched.is_some_and(|at| at.elapsed() < self.ttl)
        {
            return Ok(k);
        }
        let may_fetch = c.fetched.is_none_or(|at| at.elapsed() >= self.min_refetch);
        if may_fetch {
            match self.source.fetch().await {
                Ok(set) => {
                    c.keys = Some(set);
                    c.fetched = Some(Instant::now());
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot fetch the JWKS");
                    if c.keys.is_none() {
                        return Err(TokenError::KeysUnavailable);
                    }
                }
            }
        }
        c.keys.as_ref().and_then(find).ok_or(TokenError::Invalid)
    }

    /// Verify a compact JWS access token.
    pub async fn verify(&self, token: &str) -> Result<Principal, TokenError> {
        let header = decode_header(token).map_err(|_| TokenError::Malformed)?;
        if !ALLOWED.contains(&header.alg) || !is_access_token_typ(header.typ.as_deref()) {
            return Err(TokenError::Invalid);
        }
        let jwk = self.key_for(header.kid.as_deref()).await?;
        if let Some(key_alg) = jwk.common.key_algorithm {
            // The key says which algorithm it is for; the token may not choose another.
            if format!("{key_alg:?}") != format!("{:?}", header.alg) {
                return Err(TokenError::Invalid);
            }
        }
        let key = DecodingKey::from_jwk(&jwk).map_err(|_| TokenError::Invalid)?;
        let mut v = Validation::new(header.alg);
        v.set_issuer(&[&self.issuer]);
        v.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
        v.leeway = 30;
        v.set_audience(&[&self.audience]);
        let data = decode::<Claims>(token, &key, &v).map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
            _ => TokenError::Invalid,
        })?;
        let c = data.claims;
        // RFC 9068 §2.2: an access token names its client and has an id (revocation).
        let (Some(client_id), Some(jti)) = (
            c.client_id.filter(|s| !s.is_empty()),
            c.jti.filter(|s| !s.is_empty()),
        ) else {
            return Err(TokenError::Invalid);
        };
        let issued_ms = c.iat_ms.or(c.iat.map(|s| s * 1_000 + 999));
        if self.revoked(&jti, &c.sub, issued_ms) {
            return Err(TokenError::Invalid);
        }
        Ok(Principal {
            subject: c.sub,
            roles: c.roles,
            scopes: c
                .scope
                .map(|s| s.split_whitespace().map(str::to_string).collect())
                .unwrap_or_default(),
            client_id: Some(client_id),
            token_id: Some(jti),
            expires_at: c.exp,
        })
    }
}

/// Who checks the bearer token of a declared route (see `http::access`).
#[async_trait]
pub trait BearerVerifier: Send + Sync + 'static {
    async fn verify_bearer(&self, token: &str) -> Result<Principal, TokenError>;
}

#[async_trait]
impl BearerVerifier for Authenticator {
    async fn verify_bearer(&self, token: &str) -> Result<Principal, TokenError> {
        self.verify(token).await
    }
}

/// The bearer token of a request, if any.
pub fn bearer(parts: &Parts) -> Result<Option<&str>, TokenError> {
    let Some(value) = parts.headers.get(axum::http::header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| TokenError::Malformed)?;
    let (scheme, token) = value.split_once(' ').ok_or(TokenError::Malformed)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(TokenError::Malformed);
    }
    Ok(Some(token.trim()))
}

/// Verify a bearer token with the router's authenticator (for extractors that accept other
/// kinds of bearer credentials too).
pub async fn verify_with_router_authenticator(
    parts: &Parts,
    token: &str,
) -> Result<Principal, ApiError> {
    let auth = authenticator(parts)?;
    Ok(auth.verify(token).await?)
}

fn authenticator(parts: &Parts) -> Result<Arc<Authenticator>, ApiError> {
    parts
        .extensions
        .get::<Arc<Authenticator>>()
        .cloned()
        .ok_or_else(|| {
            ApiError::internal(anyhow::anyhow!("no authenticator installed on this router"))
        })
}

/// Extractor: a verified caller, or 401.
pub struct Auth(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        // Verified once by the route's access check (`http::access`).
        if let Some(p) = parts.extensions.get::<Principal>() {
            return Ok(Auth(p.clone()));
        }
        let token = bearer(parts)?.ok_or(TokenError::Missing)?;
        let auth = authenticator(parts)?;
        Ok(Auth(auth.verify(token).await?))
    }
}

/// Extractor: a verified caller if a token was sent (an invalid token is still a 401).
pub struct MaybeAuth(pub Option<Principal>);

impl<S: Send + Sync> FromRequestParts<S> for MaybeAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        if let Some(p) = parts.extensions.get::<Principal>() {
            return Ok(MaybeAuth(Some(p.clone())));
        }
        let Some(token) = bearer(parts)? else {
            return Ok(MaybeAuth(None));
        };
        let auth = authenticator(parts)?;
        Ok(MaybeAuth(Some(auth.verify(token).await?)))
    }
}

/// Follow KREKI ID's revocation list on the bus (live subject, a full list every few
/// seconds) and apply it to `auth` until `shutdown`. Reconnects after a bus outage.
pub async fn follow_revocations(
    bus: Arc<dyn crate::bus::Bus>,
    auth: Arc<Authenticator>,
    shutdown: tokio_util::sync::CancellationToken,
) {
    use futures::StreamExt;
    loop {
        let stream = tokio::select! {
            _ = shutdown.cancelled() => return,
            s = bus.live_subscribe(kreki_identity_contracts::REVOCATIONS_SUBJECT) => s,
        };
        match stream {
            Ok(mut stream) => loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    msg = stream.next() => match msg {
                        Some(bytes) => match serde_json::from_slice::<kreki_identity_contracts::Revocations>(&bytes) {
                            Ok(list) => auth.apply_revocations(&list),
                            Err(e) => tracing::warn!(error = %e, "malformed revocation list ignored"),
                        },
                        None => break,
                    },
                }
            },
            Err(e) => tracing::warn!(error = %e, "cannot follow the revocation list; retrying"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}
