//! The own profile: reading and rectifying it; a new e-mail or phone needs re-authentication
//! (`crate::reauth`) and waits until it is verified.

use std::net::IpAddr;

use axum::{extract::State, http::StatusCode};
use kreki_notify_contracts::Template;
use kreki_platform::{
    ApiError, ApiResult, Envelope, Msg,
    error::ErrorEnvelope,
    http::{ApiJson, ClientIp},
};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::{
    http::{Caller, St, UserView, field_invalid, normalize_email, normalize_phone, store_err},
    idp::Idp,
    login::codes::{CodeBody, check_phone_code, send_phone_code},
    notices::{notify_address, send_email_link},
    reauth::reauthenticate,
    store::{Account, audit},
};

#[utoipa::path(get, path = "/me", tag = "account",
    responses((status = 200, description = "The signed-in account", body = inline(Envelope<UserView>)),
        (status = 401, description = "AUTH_TOKEN_*", body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn me_get(State(idp): St, caller: Caller) -> ApiResult<Envelope<UserView>> {
    Ok(Envelope::ok((&caller.account(&idp).await?).into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MeUpdate {
    pub full_name: Option<String>,
    /// A new e-mail: kept as `pending_email` until the link sent to it is followed.
    pub email: Option<String>,
    /// A new phone: kept as `pending_phone` until the code sent to it comes back
    /// (`POST /otp/verify`).
    pub phone: Option<String>,
    pub language: Option<String>,
    /// Needed to change the e-mail or phone (a stolen access token alone must not), unless
    /// the token's sign-in passed a second factor within the last 5 minutes.
    pub current_password: Option<String>,
    /// A current code of the account's TOTP authenticator instead of the password.
    pub totp_code: Option<String>,
}

/// A new e-mail or phone of `a`: its verification (link or code), or, when another account
/// has it, a notice to that account's owner instead. The answer to the caller is the same.
pub async fn send_to_new_address(
    idp: &Idp,
    a: &Account,
    addr: &str,
    ip: IpAddr,
) -> Result<(), ApiError> {
    let kind = if addr.contains('@') { "email" } else { "phone" };
    if let Some(owner) = idp.store.account_by(kind, addr).await?
        && owner.id != a.id
    {
        return notify_address(idp, &owner, addr, Template::AccountExists, "account_exists").await;
    }
    if kind == "email" {
        send_email_link(
            idp,
            a,
            addr,
            "email_verify",
            Template::EmailVerification,
            "/akun/verifikasi-email",
            86_400,
        )
        .await
    } else {
        send_phone_code(idp, "otp_verify", addr, addr, Some(&a.id), ip).await
    }
}

#[utoipa::path(put, path = "/me", tag = "account", request_body = MeUpdate,
    responses((status = 200, description = "Updated (rectification). A new e-mail or phone needs `current_password` or `totp_code` (or a sign-in with a second factor less than 5 minutes ago); it is kept as `pending_email`/`pending_phone` until verified (link or code sent to it) and the old address is told. The answer is the same whether or not another account has the new address (its owner is told instead).", body = inline(Envelope<UserView>)),
        (status = 403, description = "AUTH_REAUTH_REQUIRED: the e-mail or phone changes only with the current password or a TOTP code (or within 5 minutes of a sign-in with a second factor)", body = ErrorEnvelope),
        (status = 422, description = "VALIDATION_*", body = ErrorEnvelope),
        (status = 429, description = "AUTH_TOO_MANY_ATTEMPTS (wrong passwords), AUTH_OTP_COOLDOWN, AUTH_OTP_DAILY_LIMIT", body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn me_put(
    State(idp): St,
    ClientIp(ip): ClientIp,
    caller: Caller,
    ApiJson(b): ApiJson<MeUpdate>,
) -> ApiResult<Envelope<UserView>> {
    let mut a = caller.account(&idp).await?;
    if let Some(n) = b.full_name {
        let n = n.trim().to_string();
        if n.is_empty() || n.chars().count() > 100 || n.chars().any(char::is_control) {
            return Err(field_invalid(
                "VALIDATION_NAME_INVALID",
                "Nama lengkap wajib diisi (maks. 100 karakter)",
                "Full name is required (max. 100 characters)",
            ));
        }
        a.full_name = n;
    }
    if let Some(l) = b.language {
        if l != "id" && l != "en" {
            return Err(field_invalid(
                "VALIDATION_LANGUAGE_INVALID",
                "Bahasa harus id atau en",
                "Language must be id or en",
            ));
        }
        a.language = l;
    }
    let new_email = b
        .email
        .as_deref()
        .map(normalize_email)
        .transpose()?
        .filter(|e| a.email.as_deref() != Some(e.as_str()));
    let new_phone = b
        .phone
        .as_deref()
        .map(normalize_phone)
        .transpose()?
        .map(|p| p.as_str().to_string())
        .filter(|p| a.phone.as_deref() != Some(p.as_str()));
    if new_email.is_some() || new_phone.is_some() {
        reauthenticate(
            &idp,
            &mut a,
            Some(&caller.0),
            b.current_password.as_deref(),
            b.totp_code.as_deref(),
            ip,
        )
        .await?;
    }
    // Asking for the current address again cancels a pending change.
    if b.email.is_some() && new_email.is_none() {
        a.pending_email = None;
    }
    if b.phone.is_some() && new_phone.is_none() {
        a.pending_phone = None;
    }
    if new_email.is_some() {
        a.pending_email = new_email.clone();
    }
    if new_phone.is_some() {
        a.pending_phone = new_phone.clone();
    }
    let mut tx = idp.store.db.begin().await?;
    idp.store
        .save_account(&mut tx, &mut a)
        .await
        .map_err(store_err)?;
    audit(
        &mut tx,
        "profile_updated",
        Some(&a.id),
        Some(&a.id),
        Some(ip),
        serde_json::json!({
            "email_change": new_email.is_some(),
            "phone_change": new_phone.is_some(),
        }),
    )
    .await?;
    tx.commit().await?;
    if new_email.is_some() || new_phone.is_some() {
        // The old addresses hear of it: the holder can act if it was not them.
        let old: Vec<String> = [a.email.clone(), a.phone.clone()]
            .into_iter()
            .flatten()
            .collect();
        for addr in old {
            notify_address(&idp, &a, &addr, Template::ContactChange, "contact_change").await?;
        }
    }
    if let Some(e) = &new_email {
        send_to_new_address(&idp, &a, e, ip).await?;
    }
    if let Some(p) = &new_phone {
        send_to_new_address(&idp, &a, p, ip).await?;
    }
    Ok(Envelope::ok((&a).into()))
}

#[utoipa::path(post, path = "/otp/verify", tag = "account", request_body = CodeBody,
    responses((status = 200, description = "Phone verified; a pending new number replaces the old one", body = inline(Envelope<UserView>)),
        (status = 401, description = "AUTH_OTP_INVALID", body = ErrorEnvelope),
        (status = 409, description = "AUTH_ACCOUNT_EXISTS: the new number was registered by another account meanwhile", body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn otp_verify_phone(
    State(idp): St,
    caller: Caller,
    ApiJson(b): ApiJson<CodeBody>,
) -> ApiResult<Envelope<UserView>> {
    let mut a = caller.account(&idp).await?;
    let phone = a
        .pending_phone
        .clone()
        .or_else(|| a.phone.clone())
        .ok_or_else(|| {
            field_invalid(
                "AUTH_NO_PHONE",
                "Profil tidak memiliki nomor telepon",
                "The profile has no phone number",
            )
        })?;
    let owner = check_phone_code(&idp, "otp_verify", &phone, &b.code).await?;
    if owner.as_deref() != Some(a.id.as_str()) {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "AUTH_OTP_INVALID",
            Msg::new("Kode salah atau kedaluwarsa", "Wrong or expired code"),
        ));
    }
    if a.pending_phone.as_deref() == Some(phone.as_str()) {
        a.phone = Some(phone);
        a.pending_phone = None;
    }
    a.phone_verified = true;
    idp.save(&mut a).await.map_err(store_err)?;
    Ok(Envelope::ok((&a).into()))
}
