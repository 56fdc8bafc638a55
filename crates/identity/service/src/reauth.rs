//! Re-authentication before a sensitive change (finding 3): a new e-mail or phone, a new or
//! removed authenticator (TOTP, passkey). A bearer token alone is not enough, since a stolen
//! token must not turn into a permanent takeover. One of:
//!
//! - the current password (`current_password`);
//! - a current code of the account's enabled TOTP authenticator (`totp_code`);
//! - a token whose sign-in passed a second factor at most [`RECENT_MFA_S`] seconds ago (its
//!   `amr` has `mfa` and its `auth_time` is that recent; a refresh keeps the sign-in's
//!   `auth_time`, so refreshing does not extend the window).
//!
//! Wrong passwords and codes count as failed sign-ins (the same throttles).

use std::net::IpAddr;

use axum::{
    body::Bytes,
    extract::{FromRequest, Request},
    http::{StatusCode, header},
};
use kreki_platform::{ApiError, Msg, http::ApiJson, time_util::now_micros};
use serde::{Deserialize, de::DeserializeOwned};
use utoipa::ToSchema;

use crate::{
    http::login_err,
    idp::{AccessClaims, Idp, LoginError},
    store::Account,
    totp,
};

/// How long after a sign-in with a second factor its tokens may make sensitive changes
/// without asking again (5 minutes).
pub const RECENT_MFA_S: i64 = 300;

/// The proof of a re-authentication (both optional: a recent MFA sign-in needs neither).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReauthBody {
    /// The account's current password.
    pub current_password: Option<String>,
    /// A current code of the account's TOTP authenticator.
    pub totp_code: Option<String>,
}

pub fn reauth_required() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "AUTH_REAUTH_REQUIRED",
        Msg::new(
            "Konfirmasi bahwa ini Anda: masukkan kata sandi saat ini atau kode dari aplikasi autentikator",
            "Confirm it is you: enter your current password or a code from your authenticator app",
        ),
    )
}

/// Whether the token's sign-in passed a second factor within [`RECENT_MFA_S`].
pub fn recent_mfa(c: &AccessClaims) -> bool {
    let now = now_micros() / 1_000_000;
    c.amr.iter().any(|m| m == "mfa")
        && c.auth_time
            .is_some_and(|t| t <= now + 5 && now - t <= RECENT_MFA_S)
}

/// Prove that the person holding the token is the account's holder: see the module. A used
/// TOTP code is marked on `a` (`totp_last_step`): save `a` afterwards.
pub async fn reauthenticate(
    idp: &Idp,
    a: &mut Account,
    claims: Option<&AccessClaims>,
    password: Option<&str>,
    totp_code: Option<&str>,
    ip: IpAddr,
) -> Result<(), ApiError> {
    if password.is_none() && totp_code.is_none() && claims.is_some_and(recent_mfa) {
        return Ok(());
    }
    if password.is_none() && totp_code.is_none() {
        return Err(reauth_required());
    }
    if let Some(wait) = idp
        .login_wait(&a.id, ip)
        .await
        .map_err(ApiError::internal)?
    {
        return Err(login_err(LoginError::Throttled(wait)));
    }
    let mut ok = false;
    if let (Some(h), Some(pw)) = (&a.password_hash, password) {
        ok = pw.len() <= 1024 && idp.verify_password(pw, Some(h.clone())).await;
    }
    if !ok
        && let (Some(code), Some(secret)) = (totp_code, a.totp_secret.as_ref())
        && a.totp_enabled
        && let Some(step) = totp::verify(
            secret,
            code.trim(),
            now_micros() / 1_000_000,
            a.totp_last_step,
        )
    {
        a.totp_last_step = step;
        ok = true;
    }
    if ok {
        idp.login_succeeded(&a.id, ip)
            .await
            .map_err(ApiError::internal)?;
        return Ok(());
    }
    idp.login_failed(&a.id, ip)
        .await
        .map_err(ApiError::internal)?;
    Err(reauth_required())
}

/// A JSON body that may be left out: no body (and no `Content-Type`) or `null` is the
/// default value; anything else is parsed like [`ApiJson`].
pub struct OptionalJson<T>(pub T);

impl<S, T> FromRequest<S> for OptionalJson<T>
where
    T: DeserializeOwned + Default,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if req.headers().get(header::CONTENT_TYPE).is_none() {
            let body = Bytes::from_request(req, state)
                .await
                .map_err(|e| ApiError::from_status(e.status()))?;
            if body.iter().all(u8::is_ascii_whitespace) {
                return Ok(Self(T::default()));
            }
            return Err(ApiError::from_status(StatusCode::UNSUPPORTED_MEDIA_TYPE));
        }
        let ApiJson(v) = ApiJson::<Option<T>>::from_request(req, state).await?;
        Ok(Self(v.unwrap_or_default()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(amr: &str, ago_s: i64) -> AccessClaims {
        let now = now_micros() / 1_000_000;
        AccessClaims {
            iss: "i".into(),
            sub: "s".into(),
            aud: "kreki".into(),
            exp: now + 600,
            iat: now,
            iat_ms: now * 1_000,
            jti: "j".into(),
            client_id: "c".into(),
            roles: Vec::new(),
            scope: String::new(),
            sid: None,
            auth_time: Some(now - ago_s),
            amr: amr.split_whitespace().map(str::to_string).collect(),
        }
    }

    #[test]
    fn only_a_recent_sign_in_with_a_second_factor_counts() {
        assert!(recent_mfa(&claims("pwd otp mfa", 10)));
        assert!(recent_mfa(&claims("hwk user mfa", RECENT_MFA_S - 5)));
        assert!(!recent_mfa(&claims("pwd otp mfa", RECENT_MFA_S + 1)));
        assert!(!recent_mfa(&claims("pwd", 1)));
        let mut c = claims("pwd otp mfa", 1);
        c.auth_time = None;
        assert!(!recent_mfa(&c));
    }
}
