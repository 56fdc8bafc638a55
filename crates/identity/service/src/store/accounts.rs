//! Accounts: the person's record with its member number; every change publishes
//! `identity.account.*` through the outbox.

use kreki_identity_contracts::{ACCOUNT_CREATED, ACCOUNT_UPDATED, AccountChanged, Role};
use kreki_platform::{
    bus::{Event, outbox},
    storage::{Tx, is_unique_violation},
    telemetry::{mask_email, mask_phone},
    time_util::now_micros,
};
use sqlx::Row;

use super::{
    audit::audit,
    common::{Store, StoreError},
};

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

/// The associated data of a sealed TOTP secret: its column and account.
pub const TOTP_AAD: &str = "accounts.totp_secret:";

/// An account's columns bound as $1..$18 in the order of `ACCOUNT_COLS`; the TOTP secret as
/// sealed (`Store::sealed_totp`).
fn bind_account<'q>(
    sql: &'q str,
    a: &'q Account,
    sealed_totp: &'q Option<String>,
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
        .bind(sealed_totp)
        .bind(a.totp_enabled as i64)
        .bind(a.totp_last_step)
        .bind(a.version)
        .bind(a.created_at)
        .bind(a.updated_at)
        .bind(&a.pending_email)
        .bind(&a.pending_phone)
}

fn account_from(
    r: &sqlx::any::AnyRow,
    sealer: Option<&crate::sealing::Sealer>,
) -> Result<Account, sqlx::Error> {
    let role: String = r.try_get("role")?;
    let id: String = r.try_get("id")?;
    let totp_secret: Option<String> = r.try_get("totp_secret")?;
    let totp_secret = match (totp_secret, sealer) {
        (Some(s), Some(k)) => Some(
            k.open(&s, &format!("{TOTP_AAD}{id}"))
                .map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        ),
        (s, _) => s,
    };
    Ok(Account {
        id,
        member_number: r.try_get("member_number")?,
        email: r.try_get("email")?,
        phone: r.try_get("phone")?,
        full_name: r.try_get("full_name")?,
        password_hash: r.try_get("password_hash")?,
        role: Role::parse(&role).unwrap_or(Role::Public),
        email_verified: r.try_get::<i64, _>("email_verified")? != 0,
        phone_verified: r.try_get::<i64, _>("phone_verified")? != 0,
        language: r.try_get("language")?,
        totp_secret,
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

pub async fn enqueue_account(tx: &mut Tx, subject: &str, a: &Account) -> Result<(), StoreError> {
    let ev = Event::new("identity", subject, &a.changed_event()).map_err(anyhow::Error::from)?;
    outbox::enqueue(tx, &ev).await?;
    Ok(())
}

impl Store {
    pub async fn account(&self, id: &str) -> Result<Option<Account>, sqlx::Error> {
        let sql = format!("SELECT {ACCOUNT_COLS} FROM accounts WHERE id = $1");
        sqlx::query(&sql)
            .bind(id)
            .fetch_optional(self.db.pool())
            .await?
            .map(|r| account_from(&r, self.sealer.as_deref()))
            .transpose()
    }

    pub async fn account_in(&self, tx: &mut Tx, id: &str) -> Result<Option<Account>, sqlx::Error> {
        let sql = format!("SELECT {ACCOUNT_COLS} FROM accounts WHERE id = $1");
        sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?
            .map(|r| account_from(&r, self.sealer.as_deref()))
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
            .map(|r| account_from(&r, self.sealer.as_deref()))
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
            let sealed = self.sealed_totp(&a)?;
            let res = bind_account(&insert, &a, &sealed).execute(&mut *tx).await;
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

    /// An account's TOTP secret as stored: sealed (`crate::sealing`).
    fn sealed_totp(&self, a: &Account) -> Result<Option<String>, StoreError> {
        match (&a.totp_secret, &self.sealer) {
            (None, _) => Ok(None),
            (Some(s), Some(k)) => Ok(Some(k.seal(s, &format!("{TOTP_AAD}{}", a.id)))),
            (Some(_), None) => Err(StoreError::Other(anyhow::anyhow!(
                "no data-encryption key to store a TOTP secret"
            ))),
        }
    }

    /// Write an account's mutable fields back (version + 1) and publish the change.
    pub async fn save_account(&self, tx: &mut Tx, a: &mut Account) -> Result<(), StoreError> {
        a.version += 1;
        a.updated_at = now_micros();
        let sealed = self.sealed_totp(a)?;
        // member_number and created_at never change; they are bound like the insert's.
        let res = bind_account(
            "UPDATE accounts SET member_number = $2, email = $3, phone = $4, full_name = $5, password_hash = $6, \
             role = $7, email_verified = $8, phone_verified = $9, language = $10, totp_secret = $11, \
             totp_enabled = $12, totp_last_step = $13, version = $14, created_at = $15, updated_at = $16, \
             pending_email = $17, pending_phone = $18 WHERE id = $1",
            a,
            &sealed,
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
}

impl Store {
    /// Delete an account and everything kept under it (the audit log keeps its security
    /// events under the now meaningless id, without personal data).
    pub async fn erase_account(tx: &mut Tx, account_id: &str) -> Result<(), sqlx::Error> {
        for sql in [
            "DELETE FROM recovery_codes WHERE account_id = $1",
            "DELETE FROM consents WHERE account_id = $1",
            "DELETE FROM client_grants WHERE account_id = $1",
            "DELETE FROM one_time_codes WHERE account_id = $1",
            "DELETE FROM refresh_tokens WHERE account_id = $1",
            "DELETE FROM sessions WHERE account_id = $1",
            "DELETE FROM auth_codes WHERE account_id = $1",
            "DELETE FROM accounts WHERE id = $1",
        ] {
            sqlx::query(sql).bind(account_id).execute(&mut **tx).await?;
        }
        Ok(())
    }
}

impl Store {
    /// How many accounts have a role.
    pub async fn count_role(&self, role: Role) -> Result<i64, sqlx::Error> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM accounts WHERE role = $1")
            .bind(role.as_str())
            .fetch_one(self.db.pool())
            .await?;
        Ok(n)
    }
}
