//! The identity provider's core: token issuance and rotation, password sign-in with its
//! throttles, MFA tickets. Used by the REST API, the OIDC endpoints and the login pages.

use std::{collections::HashMap, net::IpAddr, sync::Arc, time::Duration};

use kreki_platform::{storage::ratelimit::RateLimiter, time_util::now_micros};
use serde::{Deserialize, Serialize};
use tokio::sync::RwLock;

use crate::{
    clients::Registry,
    config::IdentityConfig,
    keys::{KeyRing, TokenKind},
    password::{self, Cost},
    store::{Account, Grant, RefreshOutcome, Store, audit, hash_token, random_token},
    totp,
};

/// Client id of tokens issued by the REST API (`/api/auth/v1/login`).
pub const API_CLIENT: &str = "kreki-api";
/// Audience of access tokens: the KREKI APIs.
pub const API_AUDIENCE: &str = "kreki";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    /// Issue time in milliseconds: an account revocation refuses exactly the tokens issued
    /// before it, also within the same second.
    #[serde(default)]
    pub iat_ms: i64,
    pub jti: String,
    pub client_id: String,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scope: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// When the user signed in (Unix seconds; RFC 9068 §2.2.1): a refresh keeps it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    /// How the user signed in (`pwd`, `otp`, `hwk`, `mfa` ...): re-authentication accepts
    /// a recent sign-in with a second factor (`crate::reauth`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct IdClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub auth_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    pub amr: Vec<String>,
    pub roles: Vec<String>,
    #[serde(flatten)]
    pub profile: serde_json::Map<String, serde_json::Value>,
}

pub struct TokenSet {
    pub access_token: String,
    pub expires_in: u64,
    pub refresh_token: Option<String>,
    pub id_token: Option<String>,
    pub scope: String,
}

#[derive(Debug)]
pub enum LoginError {
    /// Too many failed attempts from this IP, or this account+IP pair must wait.
    Throttled(u64),
    Invalid,
    Internal(anyhow::Error),
}

impl<E: Into<anyhow::Error>> From<E> for LoginError {
    fn from(e: E) -> Self {
        LoginError::Internal(e.into())
    }
}

pub struct Idp {
    pub store: Store,
    pub passkeys: Option<crate::webauthn::Passkeys>,
    pub keys: Arc<KeyRing>,
    pub clients: Registry,
    pub cfg: Arc<IdentityConfig>,
    pub issuer: String,
    pub limiter: Arc<dyn RateLimiter>,
    /// Argon2 runs at most this many at once (one per core): its memory cost is per hash.
    pub hash_slots: tokio::sync::Semaphore,
    /// Registrations hash with at most half the slots, so sign-ins keep the other half.
    pub register_slots: tokio::sync::Semaphore,
    /// Registrations waiting for a slot; when full, more are refused at once (429).
    pub register_queue: tokio::sync::Semaphore,
    /// Revoked access-token ids → expiry (µs); refreshed from the database (other replicas).
    pub revoked: RwLock<HashMap<String, i64>>,
    /// Accounts whose access tokens issued before the value (Unix seconds) are revoked.
    pub revoked_accounts: RwLock<HashMap<String, (i64, i64)>>,
    pub secure_cookies: bool,
}

/// Claims of the profile scopes (OIDC standard claims).
pub fn profile_claims(a: &Account, scope: &str) -> serde_json::Map<String, serde_json::Value> {
    let has = |s: &str| scope.split_whitespace().any(|x| x == s);
    let mut m = serde_json::Map::new();
    if has("profile") {
        m.insert("name".into(), a.full_name.clone().into());
        m.insert("preferred_username".into(), a.member_number.clone().into());
        m.insert("member_number".into(), a.member_number.clone().into());
        m.insert("locale".into(), a.language.clone().into());
        m.insert("updated_at".into(), (a.updated_at / 1_000_000).into());
    }
    if has("email")
        && let Some(e) = &a.email
    {
        m.insert("email".into(), e.clone().into());
        m.insert("email_verified".into(), a.email_verified.into());
    }
    if has("phone")
        && let Some(p) = &a.phone
    {
        m.insert("phone_number".into(), p.clone().into());
        m.insert("phone_number_verified".into(), a.phone_verified.into());
    }
    m
}

impl Idp {
    pub fn cost(&self) -> Cost {
        Cost {
            memory_kib: self.cfg.argon2_memory_kib,
            iterations: self.cfg.argon2_iterations,
            lanes: self.cfg.argon2_lanes,
        }
    }

    pub fn refresh_ttl_us(&self) -> i64 {
        (self.cfg.refresh_token_ttl_days * 86_400_000_000) as i64
    }

    /// Hash a password off the async threads (Argon2 is deliberately slow).
    pub async fn hash_password(&self, pw: &str) -> anyhow::Result<String> {
        let _slot = self.hash_slots.acquire().await?;
        let (pw, cost) = (pw.to_string(), self.cost());
        tokio::task::spawn_blocking(move || password::hash(&pw, cost)).await?
    }

    pub async fn verify_password(&self, pw: &str, phc: Option<String>) -> bool {
        let Ok(_slot) = self.hash_slots.acquire().await else {
            return false;
        };
        let pw = pw.to_string();
        tokio::task::spawn_blocking(move || match phc {
            Some(h) => password::verify(&pw, &h),
            None => {
                password::verify_dummy(&pw);
                false
            }
        })
        .await
        .unwrap_or(false)
    }

    /// A signed access token for a user; `auth` is the sign-in's time (µs) and methods.
    pub async fn access_token(
        &self,
        a: &Account,
        client_id: &str,
        scope: &str,
        sid: Option<String>,
        auth: Option<(i64, &str)>,
    ) -> anyhow::Result<(String, AccessClaims)> {
        let now_us = now_micros();
        let now = now_us / 1_000_000;
        let claims = AccessClaims {
            iss: self.issuer.clone(),
            sub: a.id.clone(),
            aud: API_AUDIENCE.into(),
            exp: now + self.cfg.access_token_ttl_s as i64,
            iat: now,
            iat_ms: now_us / 1_000,
            jti: uuid::Uuid::now_v7().simple().to_string(),
            client_id: client_id.into(),
            roles: vec![a.role.as_str().into()],
            scope: scope.into(),
            sid,
            auth_time: auth.map(|(t, _)| t / 1_000_000),
            amr: auth
                .map(|(_, amr)| amr.split_whitespace().map(str::to_string).collect())
                .unwrap_or_default(),
        };
        Ok((self.keys.sign(TokenKind::Access, &claims).await?, claims))
    }

    /// Tokens for a signed-in user: access token, a refresh token of `family` (a new family
    /// when `None`), and an ID token when the scope has `openid`.
    #[allow(clippy::too_many_arguments)]
    pub async fn issue_user_tokens(
        &self,
        a: &Account,
        client_id: &str,
        scope: &str,
        sid: Option<String>,
        amr: &str,
        auth_time: i64,
        nonce: Option<String>,
        family: Option<String>,
        with_refresh: bool,
    ) -> anyhow::Result<TokenSet> {
        let (access_token, _) = self
            .access_token(a, client_id, scope, sid.clone(), Some((auth_time, amr)))
            .await?;
        let openid = scope.split_whitespace().any(|s| s == "openid");
        let id_token = if openid {
            let now = now_micros() / 1_000_000;
            let claims = IdClaims {
                iss: self.issuer.clone(),
                sub: a.id.clone(),
                aud: client_id.into(),
                exp: now + self.cfg.id_token_ttl_s as i64,
                iat: now,
                auth_time: auth_time / 1_000_000,
                nonce,
                sid: sid.clone(),
                amr: amr.split_whitespace().map(str::to_string).collect(),
                roles: vec![a.role.as_str().into()],
                profile: profile_claims(a, scope),
            };
            // ES256 unless the client registered RS256 (`id_token_signed_response_alg`).
            let alg = match self.clients.get(client_id).await {
                Some(c) => c.id_token_alg(),
                None => crate::keys::Alg::Es256,
            };
            Some(self.keys.sign_id_token(alg, &claims).await?)
        } else {
            None
        };
        let refresh_token = if with_refresh {
            let token = random_token();
            let g = Grant {
                account_id: a.id.clone(),
                client_id: client_id.into(),
                scope: scope.into(),
                sid,
                amr: amr.into(),
                auth_time,
                family_id: family.unwrap_or_else(|| uuid::Uuid::now_v7().to_string()),
            };
            let mut tx = self.store.db.begin().await?;
            Store::insert_refresh(&mut tx, &token, &g, self.refresh_ttl_us()).await?;
            tx.commit().await?;
            Some(token)
        } else {
            None
        };
        Ok(TokenSet {
            access_token,
            expires_in: self.cfg.access_token_ttl_s,
            refresh_token,
            id_token,
            scope: scope.into(),
        })
    }

    /// Rotate a refresh token. `Err(code)` is an OAuth error code.
    pub async fn refresh(&self, token: &str, client_id: &str) -> Result<TokenSet, &'static str> {
        match self.store.use_refresh(token, client_id).await {
            Ok(RefreshOutcome::Ok(g)) => {
                let Ok(Some(a)) = self.store.account(&g.account_id).await else {
                    return Err("invalid_grant");
                };
                self.issue_user_tokens(
                    &a,
                    &g.client_id,
                    &g.scope,
                    g.sid.clone(),
                    &g.amr,
                    g.auth_time,
                    None,
                    Some(g.family_id.clone()),
                    true,
                )
                .await
                .map_err(|e| {
                    tracing::error!(error = %e, "cannot issue tokens");
                    "server_error"
                })
            }
            Ok(RefreshOutcome::Reused(g)) => {
                tracing::warn!(account = %g.account_id, family = %g.family_id, "refresh token reuse: family revoked");
                Err("invalid_grant")
            }
            Ok(RefreshOutcome::Unknown | RefreshOutcome::Expired) => Err("invalid_grant"),
            Err(e) => {
                tracing::error!(error = %e, "refresh token store");
                Err("server_error")
            }
        }
    }

    /// Verify one of our access tokens, including the revocation list.
    pub async fn verify_access(&self, token: &str) -> Option<AccessClaims> {
        let c: AccessClaims = self.keys.verify_access(token, &self.issuer).await.ok()?;
        if c.aud != API_AUDIENCE || self.revoked.read().await.contains_key(&c.jti) {
            return None;
        }
        if let Some((not_before_ms, _)) = self.revoked_accounts.read().await.get(&c.sub)
            && issued_ms(&c) < *not_before_ms
        {
            return None;
        }
        Some(c)
    }

    pub async fn revoke_access(&self, c: &AccessClaims) -> anyhow::Result<()> {
        self.store.revoke_jti(&c.jti, c.exp * 1_000_000).await?;
        self.revoked
            .write()
            .await
            .insert(c.jti.clone(), c.exp * 1_000_000);
        Ok(())
    }

    pub async fn reload_revoked(&self) -> anyhow::Result<()> {
        let rows = self.store.revoked_jtis().await?;
        *self.revoked.write().await = rows.into_iter().collect();
        let accounts = self.store.revoked_accounts().await?;
        *self.revoked_accounts.write().await = accounts
            .into_iter()
            .map(|(a, nb, exp)| (a, (nb, exp)))
            .collect();
        Ok(())
    }

    // ---- password sign-in -------------------------------------------------------------

    /// Find an account by e-mail, phone (E.164, +62 default) or member number.
    pub async fn find_account(&self, identifier: &str) -> anyhow::Result<Option<Account>> {
        let id = identifier.trim();
        if id.contains('@') {
            return Ok(self.store.account_by("email", &id.to_lowercase()).await?);
        }
        if id.len() == 8 && id.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(self.store.account_by("member", id).await?);
        }
        match kreki_platform::types::PhoneE164::parse(id) {
            Ok(p) => Ok(self.store.account_by("phone", p.as_str()).await?),
            Err(_) => Ok(None),
        }
    }

    fn pair_key(identifier: &str, ip: IpAddr) -> String {
        format!(
            "pair:{}:{ip}",
            hash_token(&identifier.trim().to_lowercase())
        )
    }

    /// Seconds to wait before another attempt, if any: the IP's window of failed attempts
    /// (org standard: 5 per 15 minutes) or the identifier+IP pair's exponential delay. The
    /// same identifier from another IP is not slowed, so an attacker cannot lock a user out.
    pub async fn login_wait(&self, identifier: &str, ip: IpAddr) -> anyhow::Result<Option<u64>> {
        let now = now_micros();
        let secs = |until: i64| ((until - now) / 1_000_000).max(1) as u64;
        if let Some((failures, window_end)) = self.store.throttle_get(&format!("ip:{ip}")).await?
            && window_end > now
            && failures >= i64::from(self.cfg.login_failures_per_ip)
        {
            return Ok(Some(secs(window_end)));
        }
        if let Some((_, next)) = self
            .store
            .throttle_get(&Self::pair_key(identifier, ip))
            .await?
            && next > now
        {
            return Ok(Some(secs(next)));
        }
        Ok(None)
    }

    pub async fn login_failed(&self, identifier: &str, ip: IpAddr) -> anyhow::Result<()> {
        let now = now_micros();
        let window = (self.cfg.login_window_s * 1_000_000) as i64;
        let ip_key = format!("ip:{ip}");
        match self.store.throttle_get(&ip_key).await? {
            Some((f, end)) if end > now => self.store.throttle_put(&ip_key, f + 1, end).await?,
            _ => self.store.throttle_put(&ip_key, 1, now + window).await?,
        }
        let pair = Self::pair_key(identifier, ip);
        let failures = self
            .store
            .throttle_get(&pair)
            .await?
            .map(|(f, _)| f)
            .unwrap_or(0)
            + 1;
        // Free attempts first, then 1 s, 2 s, 4 s ... up to 15 minutes.
        let delay_s = if failures < 3 {
            0
        } else {
            (1i64 << (failures - 3).min(10)).min(900)
        };
        Ok(self
            .store
            .throttle_put(&pair, failures, now + delay_s * 1_000_000)
            .await?)
    }

    pub async fn login_succeeded(&self, identifier: &str, ip: IpAddr) -> anyhow::Result<()> {
        Ok(self
            .store
            .throttle_clear(&Self::pair_key(identifier, ip))
            .await?)
    }

    /// Check an identifier and password. The same error and (by a dummy hash) about the same
    /// time for an unknown account and a wrong password.
    pub async fn password_login(
        &self,
        identifier: &str,
        pw: &str,
        ip: IpAddr,
    ) -> Result<Account, LoginError> {
        if let Some(wait) = self.login_wait(identifier, ip).await? {
            return Err(LoginError::Throttled(wait));
        }
        let account = self.find_account(identifier).await?;
        let ok = self
            .verify_password(pw, account.as_ref().and_then(|a| a.password_hash.clone()))
            .await;
        let Some(mut a) = account.filter(|_| ok) else {
            self.login_failed(identifier, ip).await?;
            let known = self.find_account(identifier).await?;
            self.audit_now(
                "login_failure",
                known.as_ref().map(|a| a.id.as_str()),
                None,
                Some(ip),
                serde_json::json!({ "method": "password" }),
            )
            .await?;
            return Err(LoginError::Invalid);
        };
        self.login_succeeded(identifier, ip).await?;
        if let Some(h) = &a.password_hash
            && password::needs_rehash(h, self.cost())
        {
            // Parameters were raised since this hash was made.
            let new = self.hash_password(pw).await?;
            a.password_hash = Some(new);
            self.save(&mut a).await?;
        }
        Ok(a)
    }

    /// Save an account's changes (version + 1) and publish `identity.account.updated`.
    pub async fn save(&self, a: &mut Account) -> Result<(), crate::store::StoreError> {
        let mut tx = self.store.db.begin().await?;
        self.store.save_account(&mut tx, a).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Write one audit record on its own.
    pub async fn audit_now(
        &self,
        kind: &str,
        account_id: Option<&str>,
        actor: Option<&str>,
        ip: Option<IpAddr>,
        details: serde_json::Value,
    ) -> Result<(), sqlx::Error> {
        let mut tx = self.store.db.begin().await?;
        audit(&mut tx, kind, account_id, actor, ip, details).await?;
        tx.commit().await
    }

    /// Record a completed sign-in.
    pub async fn audit_login(&self, a: &Account, method: &str, ip: IpAddr) -> anyhow::Result<()> {
        self.audit_now(
            "login_success",
            Some(&a.id),
            None,
            Some(ip),
            serde_json::json!({ "method": method }),
        )
        .await?;
        Ok(())
    }

    // ---- MFA --------------------------------------------------------------------------

    /// A ticket for the second step of a sign-in (5 minutes).
    pub async fn mfa_ticket(&self, a: &Account, first_factor: &str) -> anyhow::Result<String> {
        let t = random_token();
        self.store
            .insert_code("mfa", first_factor, Some(&a.id), &t, 300_000_000)
            .await?;
        Ok(t)
    }

    /// Check a second factor for a ticket: a TOTP code, a recovery code or an SMS code sent
    /// for this ticket. Enables a pending TOTP enrolment when its first code is right.
    /// `Ok(None)`: wrong code (the ticket dies after 5 wrong codes).
    pub async fn mfa_verify(
        &self,
        ticket: &str,
        code: &str,
        ip: IpAddr,
    ) -> anyhow::Result<Option<(Account, String, Vec<String>)>> {
        let Some(t) = self.store.peek_token("mfa", ticket).await? else {
            return Ok(None);
        };
        let Some(account_id) = t.account_id.clone() else {
            return Ok(None);
        };
        let Some(mut a) = self.store.account(&account_id).await? else {
            return Ok(None);
        };
        let now_s = now_micros() / 1_000_000;
        let code = code.trim().replace([' ', '-'], "");
        let mut method = None;
        let mut recovery = Vec::new();
        // A pending (not yet enabled) TOTP secret is enrolled here only on an account with no
        // second factor at all: with a passkey it is no factor (finding 2).
        let totp_counts = a.totp_enabled || self.passkey_count(&a.id).await == 0;
        if let Some(secret) = a.totp_secret.as_ref().filter(|_| totp_counts)
            && let Some(step) = totp::verify(secret, &code, now_s, a.totp_last_step)
        {
            let mut tx = self.store.db.begin().await?;
            a.totp_last_step = step;
            if !a.totp_enabled {
                a.totp_enabled = true;
                recovery = self.new_recovery_codes(&mut tx, &a.id).await?;
                audit(
                    &mut tx,
                    "mfa_enabled",
                    Some(&a.id),
                    Some(&a.id),
                    Some(ip),
                    serde_json::json!({ "method": "totp" }),
                )
                .await?;
            }
            self.store.save_account(&mut tx, &mut a).await?;
            tx.commit().await?;
            method = Some("otp");
        } else if a.totp_enabled && self.use_recovery_code(&a.id, &code).await? {
            method = Some("recovery");
        } else if let Some(sms) = self
            .store
            .latest_code("mfa_sms", ticket_target(ticket).as_str())
            .await?
            && sms.consumed_at.is_none()
            && sms.expires_at > now_micros()
            && sms.attempts < i64::from(self.cfg.otp_max_attempts)
            && hash_token(&code) == sms.code_hash
        {
            self.store.consume_code(&sms.id).await?;
            method = Some("sms");
        }
        let Some(method) = method else {
            let attempts = self.store.code_attempt(&t.id).await?;
            if attempts >= 5 {
                self.store.consume_code(&t.id).await?;
            }
            self.audit_now(
                "mfa_failure",
                Some(&a.id),
                None,
                Some(ip),
                serde_json::json!({}),
            )
            .await?;
            return Ok(None);
        };
        if !self.store.consume_code(&t.id).await? {
            return Ok(None);
        }
        let amr = format!("{} {method} mfa", t.target);
        Ok(Some((a, amr, recovery)))
    }

    pub async fn new_recovery_codes(
        &self,
        tx: &mut kreki_platform::storage::Tx,
        account_id: &str,
    ) -> anyhow::Result<Vec<String>> {
        let mut codes = Vec::new();
        let mut hashes = Vec::new();
        for _ in 0..10 {
            let bytes: [u8; 5] = rand::random();
            let c = data_encoding::BASE32_NOPAD.encode(&bytes).to_lowercase();
            hashes.push(hash_token(&c));
            codes.push(format!("{}-{}", &c[..4], &c[4..]));
        }
        Store::replace_recovery_codes(tx, account_id, &hashes).await?;
        Ok(codes)
    }

    async fn use_recovery_code(&self, account_id: &str, code: &str) -> anyhow::Result<bool> {
        Ok(self
            .store
            .use_recovery_code(account_id, &hash_token(&code.to_lowercase()))
            .await?)
    }

    /// Whether a sign-in ticket may enrol a first factor: only on an account with none
    /// (no TOTP enabled, no passkey). Anything else needs a session that passed MFA.
    pub async fn may_enrol_with_ticket(&self, a: &Account) -> bool {
        !a.totp_enabled && self.passkey_count(&a.id).await == 0
    }

    /// Whether a sign-in of this account needs a second factor: TOTP or a passkey set up, or
    /// a role for which MFA is mandatory.
    pub async fn mfa_needed(&self, a: &Account) -> bool {
        a.totp_enabled || a.role.requires_mfa() || self.passkey_count(&a.id).await > 0
    }

    /// The account's passkeys (0 when passkeys are off; a database error counts as one, so
    /// that a second factor is not skipped).
    pub async fn passkey_count(&self, account: &str) -> i64 {
        match &self.passkeys {
            Some(p) => p.count(account).await.unwrap_or(1),
            None => 0,
        }
    }

    pub fn passkeys(&self) -> Result<&crate::webauthn::Passkeys, crate::webauthn::PasskeyError> {
        self.passkeys
            .as_ref()
            .ok_or(crate::webauthn::PasskeyError::Disabled)
    }

    pub fn secure(&self) -> bool {
        self.secure_cookies
    }

    /// Background upkeep: key refresh/rotation, revocation list, pruning.
    pub async fn upkeep(self: Arc<Self>) {
        loop {
            tokio::time::sleep(Duration::from_secs(30)).await;
            if let Err(e) = self.keys.refresh().await {
                tracing::warn!(error = %e, "cannot refresh signing keys");
            }
            if let Err(e) = self.reload_revoked().await {
                tracing::warn!(error = %e, "cannot reload revoked tokens");
            }
            if let Err(e) = self.clients.reload().await {
                tracing::warn!(error = %e, "cannot reload clients");
            }
            if let Err(e) = self.store.prune().await {
                tracing::warn!(error = %e, "cannot prune expired rows");
            }
        }
    }
}

impl Idp {
    /// Every 2 s: reload the revocations (other replicas write them too) and publish the
    /// whole list on the bus's live subject, which every process applies to its bearer
    /// check (`kreki_platform::auth::follow_revocations`).
    pub async fn publish_revocations(self: Arc<Self>, bus: Arc<dyn kreki_platform::bus::Bus>) {
        use kreki_identity_contracts::{Revocations, RevokedAccount, RevokedToken};
        loop {
            if let Err(e) = self.reload_revoked().await {
                tracing::warn!(error = %e, "cannot reload revoked tokens");
            } else {
                let list = Revocations {
                    tokens: self
                        .revoked
                        .read()
                        .await
                        .iter()
                        .map(|(jti, exp)| RevokedToken {
                            jti: jti.clone(),
                            expires_at: exp / 1_000_000,
                        })
                        .collect(),
                    accounts: self
                        .revoked_accounts
                        .read()
                        .await
                        .iter()
                        .map(|(a, (nb, exp))| RevokedAccount {
                            account_id: a.clone(),
                            not_before_ms: *nb,
                            expires_at: *exp,
                        })
                        .collect(),
                };
                if let Ok(bytes) = serde_json::to_vec(&list) {
                    bus.live_publish(kreki_identity_contracts::REVOCATIONS_SUBJECT, bytes);
                }
            }
            tokio::time::sleep(REVOCATIONS_EVERY).await;
        }
    }
}

/// A token's issue time in milliseconds (`iat_ms`, else the end of its `iat` second).
fn issued_ms(c: &AccessClaims) -> i64 {
    if c.iat_ms > 0 {
        c.iat_ms
    } else {
        c.iat * 1_000 + 999
    }
}

/// How often the revocation list is published.
pub const REVOCATIONS_EVERY: Duration = Duration::from_secs(2);

/// SMS codes of an MFA ticket are filed under a hash of the ticket.
pub fn ticket_target(ticket: &str) -> String {
    format!("ticket:{}", &hash_token(ticket)[..32])
}

/// KREKI ID checks the bearer tokens of its own routes with its keys and its revocation
/// list (the platform's access check asks it; other services use the JWKS).
pub struct OwnTokens(pub Arc<Idp>);

#[async_trait::async_trait]
impl kreki_platform::auth::BearerVerifier for OwnTokens {
    async fn verify_bearer(
        &self,
        token: &str,
    ) -> Result<kreki_platform::auth::Principal, kreki_platform::auth::TokenError> {
        if token.split('.').count() != 3 {
            return Err(kreki_platform::auth::TokenError::Malformed);
        }
        let c = self
            .0
            .verify_access(token)
            .await
            .ok_or(kreki_platform::auth::TokenError::Invalid)?;
        Ok(kreki_platform::auth::Principal {
            subject: c.sub,
            roles: c.roles,
            scopes: c.scope.split_whitespace().map(str::to_string).collect(),
            client_id: Some(c.client_id),
            token_id: Some(c.jti),
            expires_at: c.exp,
        })
    }
}
