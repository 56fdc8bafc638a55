//! The second factor: the MFA step of a sign-in (TOTP, recovery code, SMS backup), a first
//! enrolment with a sign-in ticket, and TOTP management for a signed-in account.

use std::net::IpAddr;

use axum::extract::State;
use kreki_platform::{
    ApiError, ApiResult, Envelope, Msg,
    error::ErrorEnvelope,
    http::{ApiJson, ClientIp},
    telemetry::mask_phone,
    time_util::now_micros,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    codes::{CodeBody, send_phone_code},
    outcome::{LoginResult, api_tokens, tokens_result},
};
use crate::{
    http::{Caller, St, UserView, mfa_invalid, store_err},
    idp::Idp,
    reauth::{OptionalJson, ReauthBody, reauthenticate},
    store::{Account, Store, audit, random_token},
    totp,
};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MfaBody {
    #[serde(rename = "mfaToken")]
    pub mfa_token: String,
    /// TOTP code, recovery code, or the SMS code.
    pub code: String,
}

#[utoipa::path(post, path = "/login/mfa", tag = "mfa", request_body = MfaBody,
    responses(
        (status = 200, description = "Tokens", body = inline(Envelope<LoginResult>)),
        (status = 401, description = "AUTH_MFA_INVALID (the ticket dies after 5 wrong codes)", body = ErrorEnvelope),
    ))]
pub async fn login_mfa(
    State(idp): St,
    ClientIp(ip): ClientIp,
    ApiJson(b): ApiJson<MfaBody>,
) -> ApiResult<Envelope<LoginResult>> {
    let (a, amr, recovery) = idp
        .mfa_verify(&b.mfa_token, &b.code, ip)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(mfa_invalid)?;
    idp.audit_login(&a, "mfa", ip)
        .await
        .map_err(ApiError::internal)?;
    let t = api_tokens(&idp, &a, &amr).await?;
    Ok(Envelope::ok(tokens_result(&a, t, recovery)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketBody {
    #[serde(rename = "mfaToken")]
    pub mfa_token: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TotpSetup {
    pub secret: String,
    pub otpauth_uri: String,
    /// The URI as an SVG QR code.
    pub qr_svg: String,
}

pub async fn totp_provision(idp: &Idp, a: &mut Account) -> Result<TotpSetup, ApiError> {
    let secret = totp::new_secret();
    let uri = totp::provisioning_uri(&secret, &a.member_number);
    let qr = totp::qr_svg(&uri).unwrap_or_default();
    a.totp_secret = Some(secret.clone());
    a.totp_enabled = false;
    let mut tx = idp.store.db.begin().await?;
    idp.store
        .save_account(&mut tx, a)
        .await
        .map_err(store_err)?;
    tx.commit().await?;
    Ok(TotpSetup {
        secret,
        otpauth_uri: uri,
        qr_svg: qr,
    })
}

#[utoipa::path(post, path = "/login/mfa/enroll", tag = "mfa", request_body = TicketBody,
    responses(
        (status = 200, description = "A new TOTP secret for an account whose role requires MFA and that has no second factor yet (once per sign-in ticket, audited); confirm with `POST /login/mfa`", body = inline(Envelope<TotpSetup>)),
        (status = 401, description = "AUTH_MFA_INVALID", body = ErrorEnvelope),
        (status = 409, description = "AUTH_MFA_ALREADY_ENABLED (the account has TOTP or a passkey: add factors after signing in), AUTH_MFA_ENROL_USED (this ticket already started a set-up)", body = ErrorEnvelope),
    ))]
pub async fn login_mfa_enroll(
    State(idp): St,
    ClientIp(ip): ClientIp,
    ApiJson(b): ApiJson<TicketBody>,
) -> ApiResult<Envelope<TotpSetup>> {
    let t = idp
        .store
        .peek_token("mfa", &b.mfa_token)
        .await?
        .ok_or_else(mfa_invalid)?;
    let mut a = idp
        .store
        .account(t.account_id.as_deref().unwrap_or_default())
        .await?
        .ok_or_else(mfa_invalid)?;
    // A password alone never adds a factor to an account that has one (a passkey or TOTP):
    // that takes a session that passed MFA (`/mfa/...` with its bearer token).
    if !idp.may_enrol_with_ticket(&a).await {
        return Err(ApiError::conflict(
            "AUTH_MFA_ALREADY_ENABLED",
            Msg::new(
                "Akun ini sudah memiliki faktor kedua; tambahkan yang baru setelah masuk",
                "This account already has a second factor; add another after signing in",
            ),
        ));
    }
    enrol_once(&idp, &a, &b.mfa_token, ip).await?;
    Ok(Envelope::ok(totp_provision(&idp, &mut a).await?))
}

/// A sign-in ticket provisions one first factor at most (a second request cannot replace
/// the secret being set up), and each is audited.
pub async fn enrol_once(idp: &Idp, a: &Account, ticket: &str, ip: IpAddr) -> Result<(), ApiError> {
    let target = crate::idp::ticket_target(ticket);
    if idp.store.latest_code("mfa_enrol", &target).await?.is_some() {
        return Err(ApiError::conflict(
            "AUTH_MFA_ENROL_USED",
            Msg::new(
                "Pendaftaran faktor kedua untuk sesi masuk ini sudah dimulai; masuk lagi untuk mengulang",
                "Two-step set-up was already started for this sign-in; sign in again to restart it",
            ),
        ));
    }
    idp.store
        .insert_code(
            "mfa_enrol",
            &target,
            Some(&a.id),
            &random_token(),
            300_000_000,
        )
        .await?;
    idp.audit_now(
        "mfa_enrolment_started",
        Some(&a.id),
        None,
        Some(ip),
        serde_json::json!({ "method": "totp", "via": "sign_in_ticket" }),
    )
    .await?;
    Ok(())
}

#[utoipa::path(post, path = "/login/mfa/sms", tag = "mfa", request_body = TicketBody,
    responses(
        (status = 202, description = "A code was sent to the account's verified phone (backup factor)", body = inline(Envelope<serde_json::Value>)),
        (status = 401, description = "AUTH_MFA_INVALID: the sign-in ticket is unknown, used or expired", body = ErrorEnvelope),
        (status = 409, description = "AUTH_NO_VERIFIED_PHONE", body = ErrorEnvelope),
        (status = 429, description = "AUTH_OTP_COOLDOWN", body = ErrorEnvelope),
    ))]
pub async fn login_mfa_sms(
    State(idp): St,
    ClientIp(ip): ClientIp,
    ApiJson(b): ApiJson<TicketBody>,
) -> ApiResult<Envelope<serde_json::Value>> {
    let masked = send_mfa_sms(&idp, &b.mfa_token, ip).await?;
    Ok(Envelope::accepted(serde_json::json!({ "sent_to": masked })))
}

/// The backup second factor: a code by SMS to the account's verified phone, filed under the
/// ticket. Returns the masked number.
pub async fn send_mfa_sms(idp: &Idp, ticket: &str, ip: IpAddr) -> Result<String, ApiError> {
    let t = idp
        .store
        .peek_token("mfa", ticket)
        .await?
        .ok_or_else(mfa_invalid)?;
    let a = idp
        .store
        .account(t.account_id.as_deref().unwrap_or_default())
        .await?
        .ok_or_else(mfa_invalid)?;
    let phone = a
        .phone
        .clone()
        .filter(|_| a.phone_verified)
        .ok_or_else(|| {
            ApiError::conflict(
                "AUTH_NO_VERIFIED_PHONE",
                Msg::new(
                    "Akun ini tidak memiliki nomor telepon terverifikasi",
                    "This account has no verified phone number",
                ),
            )
        })?;
    let target = crate::idp::ticket_target(ticket);
    send_phone_code(idp, "mfa_sms", &target, &phone, Some(&a.id), ip).await?;
    Ok(mask_phone(&phone))
}

#[utoipa::path(post, path = "/mfa/totp/setup", tag = "mfa", request_body(content = Option<ReauthBody>, description = "Re-authentication: the current password or a code of the current authenticator; may be left out within 5 minutes of a sign-in with a second factor"),
    responses((status = 200, description = "A new TOTP secret (QR); confirm with `POST /mfa/totp/enable`", body = inline(Envelope<TotpSetup>)),
        (status = 403, description = "AUTH_REAUTH_REQUIRED: a new authenticator needs the current password or a second factor (a bearer token alone is not enough; too many wrong answers: 429 AUTH_TOO_MANY_ATTEMPTS)", body = ErrorEnvelope),
        (status = 409, description = "AUTH_MFA_ALREADY_ENABLED", body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn totp_setup(
    State(idp): St,
    ClientIp(ip): ClientIp,
    caller: Caller,
    OptionalJson(b): OptionalJson<ReauthBody>,
) -> ApiResult<Envelope<TotpSetup>> {
    let mut a = caller.account(&idp).await?;
    if a.totp_enabled {
        return Err(ApiError::conflict(
            "AUTH_MFA_ALREADY_ENABLED",
            Msg::new("MFA sudah aktif", "MFA is already enabled"),
        ));
    }
    // A stolen token alone must not add the thief's authenticator (finding 3).
    reauthenticate(
        &idp,
        &mut a,
        Some(&caller.0),
        b.current_password.as_deref(),
        b.totp_code.as_deref(),
        ip,
    )
    .await?;
    idp.audit_now(
        "mfa_enrolment_started",
        Some(&a.id),
        Some(&a.id),
        Some(ip),
        serde_json::json!({ "method": "totp", "via": "reauthenticated" }),
    )
    .await?;
    Ok(Envelope::ok(totp_provision(&idp, &mut a).await?))
}

#[utoipa::path(post, path = "/mfa/totp/enable", tag = "mfa", request_body = CodeBody,
    responses((status = 200, description = "Enabled; the recovery codes are shown once", body = inline(Envelope<Vec<String>>)),
        (status = 401, description = "AUTH_MFA_INVALID", body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn totp_enable(
    State(idp): St,
    ClientIp(ip): ClientIp,
    caller: Caller,
    ApiJson(b): ApiJson<CodeBody>,
) -> ApiResult<Envelope<Vec<String>>> {
    let mut a = caller.account(&idp).await?;
    let secret = a
        .totp_secret
        .clone()
        .filter(|_| !a.totp_enabled)
        .ok_or_else(mfa_invalid)?;
    let step = totp::verify(&secret, &b.code, now_micros() / 1_000_000, a.totp_last_step)
        .ok_or_else(mfa_invalid)?;
    a.totp_enabled = true;
    a.totp_last_step = step;
    let mut tx = idp.store.db.begin().await?;
    let codes = idp
        .new_recovery_codes(&mut tx, &a.id)
        .await
        .map_err(ApiError::internal)?;
    idp.store
        .save_account(&mut tx, &mut a)
        .await
        .map_err(store_err)?;
    audit(
        &mut tx,
        "mfa_enabled",
        Some(&a.id),
        Some(&a.id),
        Some(ip),
        serde_json::json!({ "method": "totp" }),
    )
    .await?;
    tx.commit().await?;
    Ok(Envelope::ok(codes))
}

#[utoipa::path(post, path = "/mfa/totp/disable", tag = "mfa", request_body = CodeBody,
    responses((status = 200, description = "Disabled", body = inline(Envelope<UserView>)),
        (status = 401, description = "AUTH_MFA_INVALID", body = ErrorEnvelope),
        (status = 409, description = "AUTH_MFA_MANDATORY (admin roles)", body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn totp_disable(
    State(idp): St,
    ClientIp(ip): ClientIp,
    caller: Caller,
    ApiJson(b): ApiJson<CodeBody>,
) -> ApiResult<Envelope<UserView>> {
    let mut a = caller.account(&idp).await?;
    if a.role.requires_mfa() {
        return Err(ApiError::conflict(
            "AUTH_MFA_MANDATORY",
            Msg::new(
                "MFA wajib untuk peran ini",
                "MFA is mandatory for this role",
            ),
        ));
    }
    let secret = a
        .totp_secret
        .clone()
        .filter(|_| a.totp_enabled)
        .ok_or_else(mfa_invalid)?;
    totp::verify(&secret, &b.code, now_micros() / 1_000_000, a.totp_last_step)
        .ok_or_else(mfa_invalid)?;
    a.totp_enabled = false;
    a.totp_secret = None;
    let mut tx = idp.store.db.begin().await?;
    Store::delete_recovery_codes(&mut tx, &a.id).await?;
    idp.store
        .save_account(&mut tx, &mut a)
        .await
        .map_err(store_err)?;
    audit(
        &mut tx,
        "mfa_disabled",
        Some(&a.id),
        Some(&a.id),
        Some(ip),
        serde_json::json!({ "method": "totp" }),
    )
    .await?;
    tx.commit().await?;
    Ok(Envelope::ok((&a).into()))
}
