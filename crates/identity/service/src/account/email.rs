//! E-mail verification: following the link, and asking for a new one.

use axum::extract::State;
use kreki_notify_contracts::Template;
use kreki_platform::{
    ApiError, ApiResult, Envelope, Msg,
    error::ErrorEnvelope,
    http::{ApiJson, ClientIp},
    telemetry::mask_email,
    time_util::now_micros,
};
use serde::Deserialize;
use utoipa::ToSchema;

use super::profile::send_to_new_address;
use crate::{
    http::{Caller, St, UserView, otp_err, store_err},
    idp::Idp,
    notices::send_email_link,
    store::Account,
};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyEmailBody {
    pub token: String,
}

pub async fn verify_email_token(idp: &Idp, token: &str) -> Result<Account, ApiError> {
    let invalid = || {
        ApiError::bad_request(
            "AUTH_VERIFY_TOKEN_INVALID",
            Msg::new(
                "Tautan verifikasi tidak valid atau kedaluwarsa",
                "The verification link is invalid or has expired",
            ),
        )
    };
    let c = idp
        .store
        .take_token("email_verify", token)
        .await?
        .ok_or_else(invalid)?;
    let mut a = idp
        .store
        .account(c.account_id.as_deref().unwrap_or_default())
        .await?
        .ok_or_else(invalid)?;
    if a.pending_email.as_deref() == Some(c.target.as_str()) {
        // A new e-mail replaces the old one once its link is followed.
        a.email = Some(c.target.clone());
        a.pending_email = None;
    } else if a.email.as_deref() != Some(c.target.as_str()) {
        return Err(invalid());
    }
    a.email_verified = true;
    idp.save(&mut a).await.map_err(store_err)?;
    Ok(a)
}

#[utoipa::path(post, path = "/verify-email", tag = "account", request_body = VerifyEmailBody,
    responses((status = 200, description = "E-mail verified", body = inline(Envelope<UserView>)),
        (status = 400, description = "AUTH_VERIFY_TOKEN_INVALID", body = ErrorEnvelope)))]
pub async fn verify_email(
    State(idp): St,
    ApiJson(b): ApiJson<VerifyEmailBody>,
) -> ApiResult<Envelope<UserView>> {
    let a = verify_email_token(&idp, &b.token).await?;
    Ok(Envelope::ok((&a).into()))
}

#[utoipa::path(post, path = "/verify-email/resend", tag = "account",
    responses((status = 202, description = "A new link was sent (to the pending new e-mail if there is one)", body = inline(Envelope<serde_json::Value>)),
        (status = 409, description = "AUTH_EMAIL_ALREADY_VERIFIED", body = ErrorEnvelope),
        (status = 429, description = "AUTH_OTP_COOLDOWN", body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn verify_email_resend(
    State(idp): St,
    ClientIp(ip): ClientIp,
    caller: Caller,
) -> ApiResult<Envelope<serde_json::Value>> {
    let a = caller.account(&idp).await?;
    let pending = a.pending_email.clone();
    let Some(email) = pending
        .clone()
        .or_else(|| a.email.clone().filter(|_| !a.email_verified))
    else {
        return Err(ApiError::conflict(
            "AUTH_EMAIL_ALREADY_VERIFIED",
            Msg::new(
                "Tidak ada e-mail yang perlu diverifikasi",
                "There is no e-mail to verify",
            ),
        ));
    };
    if idp
        .store
        .count_codes_since("email_verify", &email, now_micros() - 60_000_000)
        .await?
        > 0
    {
        return Err(otp_err(
            "AUTH_OTP_COOLDOWN",
            "Tunggu sebelum meminta tautan baru",
            "Wait before asking for a new link",
            60,
        ));
    }
    if pending.is_some() {
        send_to_new_address(&idp, &a, &email, ip).await?;
    } else {
        send_email_link(
            &idp,
            &a,
            &email,
            "email_verify",
            Template::EmailVerification,
            "/akun/verifikasi-email",
            86_400,
        )
        .await?;
    }
    Ok(Envelope::accepted(
        serde_json::json!({ "sent_to": mask_email(&email) }),
    ))
}
