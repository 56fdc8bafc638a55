//! What every API handler shares: the verified caller (a KREKI ID access token), the
//! account view, input parsers, and the mapping of domain errors to the envelope.

use std::sync::Arc;

use axum::{
    extract::{FromRequestParts, State},
    http::{StatusCode, request::Parts},
};
use kreki_identity_contracts::{Role, roles_permit};
use kreki_platform::{ApiError, Msg, auth::bearer, time_util::rfc3339, types::PhoneE164};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    idp::{AccessClaims, Idp, LoginError},
    password::Weakness,
    store::{Account, StoreError},
};

/// The state of every API handler.
pub type St = State<Arc<Idp>>;

// ---- errors -------------------------------------------------------------------------

pub fn invalid_credentials() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "AUTH_INVALID_CREDENTIALS",
        Msg::new(
            "E-mail/telepon atau kata sandi salah",
            "Wrong e-mail/phone or password",
        ),
    )
}

pub fn weak(w: Weakness) -> ApiError {
    let (code, msg) = match w {
        Weakness::TooShort => (
            "AUTH_PASSWORD_TOO_SHORT",
            Msg::new(
                "Kata sandi minimal 8 karakter",
                "The password needs at least 8 characters",
            ),
        ),
        Weakness::TooLong => (
            "AUTH_PASSWORD_TOO_LONG",
            Msg::new(
                "Kata sandi terlalu panjang (maks. 128)",
                "The password is too long (max. 128)",
            ),
        ),
        Weakness::NoUpper => (
            "AUTH_PASSWORD_NO_UPPERCASE",
            Msg::new(
                "Kata sandi perlu satu huruf besar",
                "The password needs an upper-case letter",
            ),
        ),
        Weakness::NoDigit => (
            "AUTH_PASSWORD_NO_DIGIT",
            Msg::new("Kata sandi perlu satu angka", "The password needs a digit"),
        ),
        Weakness::Guessable => (
            "AUTH_PASSWORD_WEAK",
            Msg::new(
                "Kata sandi terlalu mudah ditebak",
                "The password is too easy to guess",
            ),
        ),
    };
    ApiError::validation(code, msg)
}

pub fn store_err(e: StoreError) -> ApiError {
    match e {
        StoreError::Taken => ApiError::conflict(
            "AUTH_ACCOUNT_EXISTS",
            Msg::new(
                "E-mail atau nomor telepon sudah terdaftar",
                "The e-mail or phone number is already registered",
            ),
        ),
        StoreError::Db(e) => e.into(),
        StoreError::Other(e) => ApiError::internal(e),
    }
}

pub fn login_err(e: LoginError) -> ApiError {
    match e {
        LoginError::Throttled(s) => ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "AUTH_TOO_MANY_ATTEMPTS",
            Msg::new(
                "Terlalu banyak percobaan masuk. Coba lagi nanti.",
                "Too many sign-in attempts. Try again later.",
            ),
        )
        .retry_after(s),
        LoginError::Invalid => invalid_credentials(),
        LoginError::Internal(e) => ApiError::internal(e),
    }
}

pub fn field_invalid(code: &'static str, id: &'static str, en: &'static str) -> ApiError {
    ApiError::validation(code, Msg::new(id, en))
}

pub fn mfa_invalid() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "AUTH_MFA_INVALID",
        Msg::new(
            "Kode verifikasi salah atau kedaluwarsa",
            "Wrong or expired verification code",
        ),
    )
}

pub fn otp_err(code: &'static str, id: &'static str, en: &'static str, retry: u64) -> ApiError {
    ApiError::new(StatusCode::TOO_MANY_REQUESTS, code, Msg::new(id, en)).retry_after(retry)
}

// ---- the caller ---------------------------------------------------------------------

/// A verified KREKI ID access token (signature, expiry and the revocation list).
pub struct Caller(pub AccessClaims);

impl FromRequestParts<Arc<Idp>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        idp: &Arc<Idp>,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer(parts)?.ok_or_else(|| ApiError::unauthorized("AUTH_TOKEN_MISSING"))?;
        idp.verify_access(token)
            .await
            .map(Caller)
            .ok_or_else(|| ApiError::unauthorized("AUTH_TOKEN_INVALID"))
    }
}

impl Caller {
    pub fn require(&self, permission: &str) -> Result<(), ApiError> {
        if roles_permit(&self.0.roles, permission) {
            Ok(())
        } else {
            Err(ApiError::forbidden())
        }
    }

    pub async fn account(&self, idp: &Idp) -> Result<Account, ApiError> {
        idp.store
            .account(&self.0.sub)
            .await?
            .ok_or_else(|| ApiError::unauthorized("AUTH_TOKEN_INVALID"))
    }
}

impl<S: Send + Sync> axum::extract::OptionalFromRequestParts<S> for Caller
where
    Arc<Idp>: axum::extract::FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        let idp: Arc<Idp> = axum::extract::FromRef::from_ref(state);
        match bearer(parts)? {
            None => Ok(None),
            Some(t) => idp
                .verify_access(t)
                .await
                .map(|c| Some(Caller(c)))
                .ok_or_else(|| ApiError::unauthorized("AUTH_TOKEN_INVALID")),
        }
    }
}

// ---- views and input ----------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: String,
    pub role: Role,
    pub member_number: String,
    pub full_name: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub phone: Option<String>,
    pub phone_verified: bool,
    /// A new e-mail waiting for its verification link (it replaces `email` once verified).
    pub pending_email: Option<String>,
    /// A new phone number waiting for its code (it replaces `phone` once verified).
    pub pending_phone: Option<String>,
    pub language: String,
    pub mfa_enabled: bool,
    pub created_at: String,
}

impl From<&Account> for UserView {
    fn from(a: &Account) -> Self {
        Self {
            id: a.id.clone(),
            role: a.role,
            member_number: a.member_number.clone(),
            full_name: a.full_name.clone(),
            email: a.email.clone(),
            email_verified: a.email_verified,
            phone: a.phone.clone(),
            phone_verified: a.phone_verified,
            pending_email: a.pending_email.clone(),
            pending_phone: a.pending_phone.clone(),
            language: a.language.clone(),
            mfa_enabled: a.totp_enabled,
            created_at: rfc3339(a.created_at),
        }
    }
}

pub fn normalize_email(e: &str) -> Result<String, ApiError> {
    let e = e.trim().to_lowercase();
    let ok = e.len() <= 254
        && e.split_once('@').is_some_and(|(l, d)| {
            !l.is_empty() && d.contains('.') && !d.starts_with('.') && !d.ends_with('.')
        })
        && !e.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(e)
    } else {
        Err(field_invalid(
            "VALIDATION_EMAIL_INVALID",
            "Alamat e-mail tidak valid",
            "Invalid e-mail address",
        ))
    }
}

pub fn normalize_phone(p: &str) -> Result<PhoneE164, ApiError> {
    PhoneE164::parse(p).map_err(|_| {
        field_invalid(
            "VALIDATION_PHONE_INVALID",
            "Nomor telepon tidak valid",
            "Invalid phone number",
        )
    })
}
