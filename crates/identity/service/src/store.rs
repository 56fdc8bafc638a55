//! KREKI ID's records: accounts, clients, sessions, codes, refresh tokens, one-time codes,
//! consents and the audit log. Portable SQL (SQLite and PostgreSQL).

use kreki_identity_contracts::{ACCOUNT_CREATED, ACCOUNT_UPDATED, AccountChanged, Role};
use kreki_platform::{
    bus::{Event, outbox},
    storage::{Db, Tx, is_unique_violation},
    telemetry::{mask_email, mask_phone},
    time_util::now_micros,
    types::sha256_hex,
};
use serde::{Deserialize, Serialize};
use sqlx::Row;

pub const GRANTS: &[&str] = &["authorization_code", "refresh_token", "client_credentials"];

#[derive(Debug, Clone)]
pub struct Account {
    pub id: String,
    pub member_number: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub full_name: String,
    pub password_hash: Option<String>,
    pub role: Role,
    pub email_verified: bool,
    pub phone_verified: bool,
    pub language: String,
    pub totp_secret: Option<String>,
    pub totp_enabled: bool,
    pub totp_last_step: i64,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
    /// A new e-mail waiting for its verification link.
    pub pending_email: Option<String>,
    /// A new phone number waiting for its code.
    pub pending_phone: Option<String>,
}

const ACCOUNT_COLS: &str = "id, member_number, email, phone, full_name, password_hash, role, \
    email_verified, phone_verified, language, totp_secret, totp_enabled, totp_last_step, version, \
    created_at, updated_at, pending_email, pending_phone";

/// An account's columns bound as $1..$18 in the order of `ACCOUNT_COLS`.
fn bind_account<'q>(
    sql: &'q str,
    a: &'q Account,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    sqlx::query(sql)
        .bind(&a.id)
        .bind(&a.member_number)
        .bind(&a.email)
        .bind(&a.phone)
        .bind(&a.full_name)
        .bind(&a.password_hash)
        .bind(a.role.as_str())
        .bind(a.email_verified as i64)
        .bind(a.phone_verified as i64)
        .bind(&a.language)
        .bind(&a.totp_secret)
        .bind(a.totp_enabled as i64)
        .bind(a.totp_last_step)
        .bind(a.version)
        .bind(a.created_at)
        .bind(a.updated_at)
        .bind(&a.pending_email)
        .bind(&a.pending_phone)
}

fn account_from(r: &sqlx::any::AnyRow) -> Result<Account, sqlx::Error> {
    let role: String = r.try_get("role")?;
    Ok(Account {
        id: r.try_get("id")?,
        member_number: r.try_get("member_number")?,
        email: r.try_get("email")?,
        phone: r.try_get("phone")?,
        full_name: r.try_get("full_name")?,
        password_hash: r.try_get("password_hash")?,
        role: Role::parse(&role).unwrap_or(Role::Public),
        email_verified: r.try_get::<i64, _>("email_verified")? != 0,
        phone_verified: r.try_get::<i64, _>("phone_verified")? != 0,
        language: r.try_get("language")?,
        totp_secret: r.try_get("totp_secret")?,
        totp_enabled: r.try_get::<i64, _>("totp_enabled")? != 0,
        totp_last_step: r.try_get("totp_last_step")?,
        version: r.try_get("version")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        pending_email: r.try_get("pending_email")?,
        pending_phone: r.try_get("pending_phone")?,
    })
}

impl Account {
    pub fn changed_event(&self) -> AccountChanged {
        AccountChanged {
            account_id: self.id.clone(),
            member_number: self.member_number.clone(),
            roles: vec![self.role],
            email: self.email.clone(),
            phone: self.phone.clone(),
            language: self.language.clone(),
            notification_channels: Vec::new(),
            version: self.version,
        }
    }

    /// Label for logs and the audit log: never the raw e-mail or phone.
    pub fn masked(&self) -> String {
        match (&self.email, &self.phone) {
            (Some(e), _) => mask_email(e),
            (None, Some(p)) => mask_phone(p),
            _ => self.member_number.clone(),
        }
    }

    /// The details a password must not be built from.
    pub fn personal(&self) -> Vec<&str> {
        [
            Some(self.full_name.as_str()),
            self.email.as_deref(),
            self.phone.as_deref(),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

#[derive(Debug, Clone)]
pub struct NewAccount {
    pub email: Option<String>,
    pub phone: Option<String>,
    pub full_name: String,
    pub password_hash: Option<String>,
    pub role: Role,
    pub language: String,
    pub email_verified: bool,
    pub phone_verified: bool,
    pub totp_secret: Option<String>,
}

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

pub async fn enqueue_account(tx: &mut Tx, subject: &str, a: &Account) -> Result<(), StoreError> {
    let ev = Event::new("identity", subject, &a.changed_event()).map_err(anyhow::Error::from)?;
    outbox::enqueue(tx, &ev).await?;
    Ok(())
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

/// Write one audit record inside a transaction. `ip` is stored masked (last octet/segment).
pub async fn audit(
    tx: &mut Tx,
    kind: &str,
    account_id: Option<&str>,
    actor: Option<&str>,
    ip: Option<std::net::IpAddr>,
    details: serde_json::Value,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit_log (id, at, kind, account_id, actor, ip, details) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(now_micros())
    .bind(kind)
    .bind(account_id)
    .bind(actor)
    .bind(ip.map(mask_ip))
    .bind(details.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub fn mask_ip(ip: std::net::IpAddr) -> String {
    match ip {
        std::net::IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.x", o[0], o[1], o[2])
        }
        std::net::IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}::x", s[0], s[1], s[2])
        }
    }
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

    pub async fn account(&self, id: &str) -> Result<Option<Account>, sqlx::Error> {
        let sql = format!("SELECT {ACCOUNT_COLS} FROM accounts WHERE id = $1");
        sqlx::query(&sql)
            .bind(id)
            .fetch_optional(self.db.pool())
            .await?
            .map(|r| account_from(&r))
            .transpose()
    }

    pub async fn account_in(tx: &mut Tx, id: &str) -> Result<Option<Account>, sqlx::Error> {
        let sql = format!("SELECT {ACCOUNT_COLS} FROM accounts WHERE id = $1");
        sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?
            .map(|r| account_from(&r))
            .transpose()
    }

    /// By e-mail (case-insensitive), E.164 phone or member number.
    pub async fn account_by(
        &self,
        column: &str,
        value: &str,
    ) -> Result<Option<Account>, sqlx::Error> {
        let column = match column {
            "email" => "email",
            "phone" => "phone",
            _ => "member_number",
        };
        let sql = format!("SELECT {ACCOUNT_COLS} FROM accounts WHERE {column} = $1");
        sqlx::query(&sql)
            .bind(value)
            .fetch_optional(self.db.pool())
            .await?
            .map(|r| account_from(&r))
            .transpose()
    }

    /// Create an account with a fresh member number; publishes `identity.account.created`.
    pub async fn create_account(
        &self,
        n: NewAccount,
        ip: Option<std::net::IpAddr>,
    ) -> Result<Account, StoreError> {
        for _ in 0..8 {
            let member: u32 =
                rand::Rng::gen_range(&mut rand::thread_rng(), 10_000_000..100_000_000);
            let now = now_micros();
            let a = Account {
                id: uuid::Uuid::now_v7().to_string(),
                member_number: member.to_string(),
                email: n.email.clone(),
                phone: n.phone.clone(),
                full_name: n.full_name.clone(),
                password_hash: n.password_hash.clone(),
                role: n.role,
                email_verified: n.email_verified,
                phone_verified: n.phone_verified,
                language: n.language.clone(),
                totp_enabled: n.totp_secret.is_some(),
                totp_secret: n.totp_secret.clone(),
                totp_last_step: 0,
                version: 1,
                created_at: now,
                updated_at: now,
                pending_email: None,
                pending_phone: None,
            };
            let mut tx = self.db.begin().await?;
            let insert = format!(
                "INSERT INTO accounts ({ACCOUNT_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)"
            );
            let res = bind_account(&insert, &a).execute(&mut *tx).await;
            match res {
                Ok(_) => {}
                Err(e) if is_unique_violation(&e) => {
                    drop(tx);
                    // Which unique key? A member-number clash is retried with another number.
                    let taken = match (&a.email, &a.phone) {
                        (Some(e), _) if self.account_by("email", e).await?.is_some() => true,
                        (_, Some(p)) if self.account_by("phone", p).await?.is_some() => true,
                        _ => false,
                    };
                    if taken {
                        return Err(StoreError::Taken);
                    }
                    continue;
                }
                Err(e) => return Err(e.into()),
            }
            enqueue_account(&mut tx, ACCOUNT_CREATED, &a).await?;
            audit(
                &mut tx,
                "account_created",
                Some(&a.id),
                None,
                ip,
                serde_json::json!({ "role": a.role.as_str(), "who": a.masked() }),
            )
            .await?;
            tx.commit().await?;
            return Ok(a);
        }
        Err(StoreError::Other(anyhow::anyhow!("no free member number")))
    }

    /// Write an account's mutable fields back (version + 1) and publish the change.
    pub async fn save_account(tx: &mut Tx, a: &mut Account) -> Result<(), StoreError> {
        a.version += 1;
        a.updated_at = now_micros();
        // member_number and created_at never change; they are bound like the insert's.
        let res = bind_account(
            "UPDATE accounts SET member_number = $2, email = $3, phone = $4, full_name = $5, password_hash = $6, \
             role = $7, email_verified = $8, phone_verified = $9, language = $10, totp_secret = $11, \
             totp_enabled = $12, totp_last_step = $13, version = $14, created_at = $15, updated_at = $16, \
             pending_email = $17, pending_phone = $18 WHERE id = $1",
            a,
        )
        .execute(&mut **tx)
        .await;
        match res {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => return Err(StoreError::Taken),
            Err(e) => return Err(e.into()),
        }
        enqueue_account(tx, ACCOUNT_UPDATED, a).await?;
        Ok(())
    }

    // ---- refresh tokens and authorization codes -------------------------------------

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

    // ---- one-time codes --------------------------------------------------------------

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

    // ---- sessions --------------------------------------------------------------------

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

    // ---- revoked access tokens -------------------------------------------------------

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
