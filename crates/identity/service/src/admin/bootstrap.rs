//! The first System Admin (`kreki bootstrap-admin`): an account without a password, and a
//! one-time link (24 hours, single use, audited) where they set a password and enrol TOTP
//! (the page is `pages::admin_setup`). Refused once a System Admin exists, unless forced;
//! a forced bootstrap is audited as such.

use std::net::IpAddr;

use kreki_identity_contracts::Role;
use kreki_platform::{Msg, storage::Db, time_util::now_micros};

use crate::{
    http::{normalize_email, normalize_phone},
    idp::Idp,
    password::{self, Weakness},
    store::{Account, NewAccount, Store, StoreError, audit, random_token},
    totp,
};

/// Where the link leads.
pub const SETUP_PATH: &str = "/akun/atur-admin";
const PURPOSE: &str = "admin_setup";
/// How long the link works.
pub const LINK_TTL_US: i64 = 24 * 3_600_000_000;

/// Why a bootstrap was refused (nothing was changed).
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error("ADMIN_BOOTSTRAP_REFUSED")]
    AdminExists,
    #[error("VALIDATION_EMAIL_INVALID")]
    EmailInvalid,
    #[error("VALIDATION_PHONE_INVALID")]
    PhoneInvalid,
    #[error("AUTH_ACCOUNT_EXISTS")]
    Taken,
    #[error("INTERNAL_ERROR: {0}")]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for BootstrapError {
    fn from(e: sqlx::Error) -> Self {
        Self::Internal(e.into())
    }
}

impl BootstrapError {
    /// The stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::AdminExists => "ADMIN_BOOTSTRAP_REFUSED",
            Self::EmailInvalid => "VALIDATION_EMAIL_INVALID",
            Self::PhoneInvalid => "VALIDATION_PHONE_INVALID",
            Self::Taken => "AUTH_ACCOUNT_EXISTS",
            Self::Internal(_) => "INTERNAL_ERROR",
        }
    }

    /// What to tell the operator, in both languages.
    pub fn msg(&self) -> Msg {
        match self {
            Self::AdminExists => Msg::new(
                "Sudah ada System Admin; tidak ada yang diubah. Pakai --force untuk membuat satu lagi (dicatat di log audit).",
                "A System Admin already exists; nothing was changed. Use --force to create another (recorded in the audit log).",
            ),
            Self::EmailInvalid => Msg::new("Alamat e-mail tidak valid", "Invalid e-mail address"),
            Self::PhoneInvalid => Msg::new("Nomor telepon tidak valid", "Invalid phone number"),
            Self::Taken => Msg::new(
                "E-mail atau nomor telepon sudah terdaftar; tidak ada yang diubah",
                "The e-mail or phone number is already registered; nothing was changed",
            ),
            Self::Internal(_) => Msg::new("Terjadi gangguan", "Something went wrong"),
        }
    }
}

/// A new System Admin and the link where they finish their account.
#[derive(Debug)]
pub struct Bootstrapped {
    pub account_id: String,
    pub member_number: String,
    pub link: String,
    /// Unix microseconds.
    pub expires_at: i64,
    pub forced: bool,
}

/// Create a System Admin for `email` (and `phone`) with a one-time set-up link under
/// `base_url`. Refused when a System Admin exists and `force` is false, or when the address
/// is registered; nothing is changed then.
pub async fn bootstrap_admin(
    db: Db,
    base_url: &str,
    email: &str,
    phone: Option<&str>,
    force: bool,
) -> Result<Bootstrapped, BootstrapError> {
    let store = Store::new(db);
    let email = normalize_email(email).map_err(|_| BootstrapError::EmailInvalid)?;
    let phone = phone
        .filter(|p| !p.trim().is_empty())
        .map(normalize_phone)
        .transpose()
        .map_err(|_| BootstrapError::PhoneInvalid)?;
    if !force && store.count_role(Role::SystemAdmin).await? > 0 {
        return Err(BootstrapError::AdminExists);
    }
    if store.account_by("email", &email).await?.is_some() {
        return Err(BootstrapError::Taken);
    }
    if let Some(p) = &phone
        && store.account_by("phone", p.as_str()).await?.is_some()
    {
        return Err(BootstrapError::Taken);
    }
    let a = store
        .create_account(
            NewAccount {
                email: Some(email.clone()),
                phone: phone.map(|p| p.as_str().to_string()),
                full_name: "System Admin".into(),
                password_hash: None,
                role: Role::SystemAdmin,
                language: "id".into(),
                email_verified: false,
                phone_verified: false,
                totp_secret: None,
            },
            None,
        )
        .await
        .map_err(|e| match e {
            StoreError::Taken => BootstrapError::Taken,
            StoreError::Db(e) => e.into(),
            StoreError::Other(e) => e.into(),
        })?;
    let token = random_token();
    let mut tx = store.db.begin().await?;
    Store::insert_code_in(&mut tx, PURPOSE, &email, Some(&a.id), &token, LINK_TTL_US).await?;
    audit(
        &mut tx,
        if force {
            "admin_bootstrap_forced"
        } else {
            "admin_bootstrapped"
        },
        Some(&a.id),
        None,
        None,
        serde_json::json!({ "forced": force, "via": "cli" }),
    )
    .await?;
    tx.commit().await?;
    Ok(Bootstrapped {
        account_id: a.id,
        member_number: a.member_number,
        link: format!(
            "{}{SETUP_PATH}?token={token}",
            base_url.trim_end_matches('/')
        ),
        expires_at: now_micros() + LINK_TTL_US,
        forced: force,
    })
}

/// Why finishing the set-up failed.
#[derive(Debug)]
pub enum SetupError {
    /// Unknown, expired or already used link.
    LinkInvalid,
    Weak(Weakness),
    CodeInvalid,
    Internal(anyhow::Error),
}

impl<E: Into<anyhow::Error>> From<E> for SetupError {
    fn from(e: E) -> Self {
        Self::Internal(e.into())
    }
}

/// The account a set-up link is for, while it is valid (unused, not expired).
pub async fn setup_account(idp: &Idp, token: &str) -> Result<Account, SetupError> {
    let code = idp
        .store
        .peek_token(PURPOSE, token)
        .await?
        .ok_or(SetupError::LinkInvalid)?;
    idp.store
        .account(code.account_id.as_deref().unwrap_or_default())
        .await?
        .ok_or(SetupError::LinkInvalid)
}

/// The TOTP secret the set-up page shows: the pending one, or a new one.
pub async fn setup_secret(idp: &Idp, a: &mut Account) -> Result<String, SetupError> {
    if let Some(s) = a.totp_secret.clone().filter(|_| !a.totp_enabled) {
        return Ok(s);
    }
    let secret = totp::new_secret();
    a.totp_secret = Some(secret.clone());
    a.totp_enabled = false;
    idp.save(a).await.map_err(anyhow::Error::from)?;
    Ok(secret)
}

/// Finish the set-up: a password by the policy and a first TOTP code; the link is used up.
/// Returns the recovery codes (shown once).
pub async fn complete_setup(
    idp: &Idp,
    token: &str,
    new_password: &str,
    code: &str,
    ip: IpAddr,
) -> Result<Vec<String>, SetupError> {
    let mut a = setup_account(idp, token).await?;
    password::check(new_password, &a.personal()).map_err(SetupError::Weak)?;
    let secret = a.totp_secret.clone().ok_or(SetupError::CodeInvalid)?;
    let step = totp::verify(
        &secret,
        code.trim(),
        now_micros() / 1_000_000,
        a.totp_last_step,
    )
    .ok_or(SetupError::CodeInvalid)?;
    if idp.store.take_token(PURPOSE, token).await?.is_none() {
        return Err(SetupError::LinkInvalid);
    }
    a.password_hash = Some(idp.hash_password(new_password).await?);
    a.totp_enabled = true;
    a.totp_last_step = step;
    let mut tx = idp.store.db.begin().await?;
    let codes = idp.new_recovery_codes(&mut tx, &a.id).await?;
    idp.store
        .save_account(&mut tx, &mut a)
        .await
        .map_err(anyhow::Error::from)?;
    audit(
        &mut tx,
        "admin_setup_completed",
        Some(&a.id),
        Some(&a.id),
        Some(ip),
        serde_json::json!({ "mfa": "totp" }),
    )
    .await?;
    tx.commit().await?;
    Ok(codes)
}
