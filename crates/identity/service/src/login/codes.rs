//! Phone one-time codes: sending them with the anti-pumping rules, checking them, and
//! signing in with one.

use std::net::IpAddr;

use axum::{extract::State, http::StatusCode};
use kreki_notify_contracts::{Channel, MessageRequested, Priority, Recipient, Template};
use kreki_platform::{
    ApiError, ApiResult, Envelope, Msg,
    error::ErrorEnvelope,
    http::{ApiJson, ClientIp},
    telemetry::mask_phone,
    time_util::now_micros,
    types::PhoneE164,
};
use serde::Deserialize;
use utoipa::ToSchema;

use super::outcome::{LoginResult, after_first_factor};
use crate::{
    http::{Caller, St, field_invalid, invalid_credentials, login_err, normalize_phone, otp_err},
    idp::{Idp, LoginError},
    notices::publish_message,
    store::{Account, hash_token, random_token},
};

/// Send a 6-digit code to `phone` (stored hashed under `target`), with the anti-pumping
/// rules: allowed country codes, resend cooldown, caps per number and per IP per day.
pub async fn send_phone_code(
    idp: &Idp,
    purpose: &str,
    target: &str,
    phone: &str,
    account: Option<&str>,
    ip: IpAddr,
) -> Result<(), ApiError> {
    phone_code(idp, purpose, target, phone, account, ip, true).await
}

/// [`send_phone_code`], or with `deliver` false the same checks and bookkeeping without a
/// message (a number with no verified account: it answers like one that has).
pub async fn phone_code(
    idp: &Idp,
    purpose: &str,
    target: &str,
    phone: &str,
    account: Option<&str>,
    ip: IpAddr,
    deliver: bool,
) -> Result<(), ApiError> {
    let cc_ok = idp.cfg.otp_allowed_country_codes.iter().any(|cc| {
        phone
            .strip_prefix('+')
            .is_some_and(|p| p.starts_with(cc.as_str()))
    });
    if !cc_ok {
        return Err(field_invalid(
            "AUTH_PHONE_COUNTRY_NOT_ALLOWED",
            "Kode tidak dapat dikirim ke negara ini",
            "Codes cannot be sent to this country",
        ));
    }
    let now = now_micros();
    if let Some(last) = idp.store.latest_code(purpose, target).await? {
        let next = last.created_at + (idp.cfg.otp_resend_cooldown_s * 1_000_000) as i64;
        if next > now {
            return Err(otp_err(
                "AUTH_OTP_COOLDOWN",
                "Tunggu sebelum meminta kode baru",
                "Wait before asking for a new code",
                ((next - now) / 1_000_000).max(1) as u64,
            ));
        }
    }
    let day = now - 86_400_000_000;
    if idp.store.count_codes_since(purpose, target, day).await?
        >= i64::from(idp.cfg.otp_per_number_per_day)
    {
        return Err(otp_err(
            "AUTH_OTP_DAILY_LIMIT",
            "Batas kode harian untuk nomor ini tercapai",
            "Daily code limit for this number reached",
            3600,
        ));
    }
    let d = idp
        .limiter
        .hit(
            &format!("otp-ip:{ip}"),
            idp.cfg.otp_per_ip_per_day,
            std::time::Duration::from_secs(86_400),
        )
        .await
        .map_err(ApiError::internal)?;
    if !d.allowed {
        return Err(otp_err(
            "AUTH_OTP_DAILY_LIMIT",
            "Batas kode harian tercapai",
            "Daily code limit reached",
            d.reset_after_s,
        ));
    }
    let n: u32 = rand::Rng::gen_range(&mut rand::rngs::OsRng, 0..1_000_000);
    let code = format!("{n:06}");
    if !deliver {
        // Recorded (hashed, for nobody) so that the cooldown and caps count alike.
        idp.store
            .insert_code(
                purpose,
                target,
                None,
                &random_token(),
                (idp.cfg.otp_ttl_s * 1_000_000) as i64,
            )
            .await?;
        return Ok(());
    }
    let id = idp
        .store
        .insert_code(
            purpose,
            target,
            account,
            &code,
            (idp.cfg.otp_ttl_s * 1_000_000) as i64,
        )
        .await?;
    let msg = MessageRequested::new(
        format!("otp:{id}"),
        Recipient::Address(phone.to_string()),
        Template::OtpCode,
        Priority::High,
    )
    .var("code", code)
    .var("minutes", idp.cfg.otp_ttl_s / 60)
    .channels(&[Channel::Sms, Channel::Whatsapp]);
    publish_message(idp, &msg).await?;
    tracing::info!(phone = %mask_phone(phone), purpose, "one-time code sent");
    Ok(())
}

/// Check a 6-digit code for `target`: at most `otp_max_attempts` guesses per code.
pub async fn check_phone_code(
    idp: &Idp,
    purpose: &str,
    target: &str,
    code: &str,
) -> Result<Option<String>, ApiError> {
    let invalid = || {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "AUTH_OTP_INVALID",
            Msg::new("Kode salah atau kedaluwarsa", "Wrong or expired code"),
        )
    };
    let c = idp
        .store
        .latest_code(purpose, target)
        .await?
        .ok_or_else(invalid)?;
    if c.consumed_at.is_some()
        || c.expires_at <= now_micros()
        || c.attempts >= i64::from(idp.cfg.otp_max_attempts)
    {
        return Err(invalid());
    }
    let ok: bool =
        subtle::ConstantTimeEq::ct_eq(hash_token(code.trim()).as_bytes(), c.code_hash.as_bytes())
            .into();
    if !ok {
        idp.store.code_attempt(&c.id).await?;
        return Err(invalid());
    }
    if !idp.store.consume_code(&c.id).await? {
        return Err(invalid());
    }
    Ok(c.account_id)
}

/// Sign-in codes are filed under a hash of the number (numbers without an account are
/// counted too, and not kept in clear).
pub fn login_target(phone: &PhoneE164) -> String {
    format!("login:{}", &hash_token(phone.as_str())[..32])
}

/// Send a sign-in code to a phone. The same checks (country, cooldown per number, caps)
/// and the same answer whether or not a verified account has this number; only a
/// verified number of an account gets a code (an unverified one is treated as unknown).
pub async fn send_login_code(idp: &Idp, phone: &PhoneE164, ip: IpAddr) -> Result<(), ApiError> {
    let account = idp
        .store
        .account_by("phone", phone.as_str())
        .await?
        .filter(|a| a.phone_verified);
    phone_code(
        idp,
        "otp_login",
        &login_target(phone),
        phone.as_str(),
        account.as_ref().map(|a| a.id.as_str()),
        ip,
        account.is_some(),
    )
    .await
}

/// The first factor by phone code (throttled like passwords); codes go to verified numbers only.
pub async fn phone_code_first_factor(
    idp: &Idp,
    phone: &PhoneE164,
    code: &str,
    ip: IpAddr,
) -> Result<Account, ApiError> {
    if let Some(wait) = idp
        .login_wait(phone.as_str(), ip)
        .await
        .map_err(ApiError::internal)?
    {
        return Err(login_err(LoginError::Throttled(wait)));
    }
    let account_id = match check_phone_code(idp, "otp_login", &login_target(phone), code).await {
        Ok(a) => a,
        Err(e) => {
            idp.login_failed(phone.as_str(), ip)
                .await
                .map_err(ApiError::internal)?;
            return Err(e);
        }
    };
    let a = idp
        .store
        .account(account_id.as_deref().unwrap_or_default())
        .await?
        .filter(|a| a.phone.as_deref() == Some(phone.as_str()) && a.phone_verified)
        .ok_or_else(invalid_credentials)?;
    Ok(a)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OtpSendBody {
    /// E.164, or a national number (+62 assumed).
    pub phone: String,
    /// `login` (a code goes only to the verified number of an account; the answer does not say whether there is one) or `verify_phone` (signed in: the profile's number, or its pending new number).
    pub purpose: String,
}

#[utoipa::path(post, path = "/otp/send", tag = "account", request_body = OtpSendBody,
    responses(
        (status = 202, description = "Sent if the number may receive one; the same answer for a verified number of an account, an unverified one and an unknown one (no account enumeration)", body = inline(Envelope<serde_json::Value>)),
        (status = 422, description = "VALIDATION_PHONE_INVALID, AUTH_PHONE_COUNTRY_NOT_ALLOWED", body = ErrorEnvelope),
        (status = 429, description = "AUTH_OTP_COOLDOWN (per number, whether or not it has an account), AUTH_OTP_DAILY_LIMIT, with Retry-After", body = ErrorEnvelope),
    ))]
pub async fn otp_send(
    State(idp): St,
    ClientIp(ip): ClientIp,
    caller: Option<Caller>,
    ApiJson(b): ApiJson<OtpSendBody>,
) -> ApiResult<Envelope<serde_json::Value>> {
    let phone = normalize_phone(&b.phone)?;
    match b.purpose.as_str() {
        "login" => send_login_code(&idp, &phone, ip).await?,
        "verify_phone" => {
            let c = caller.ok_or_else(|| ApiError::unauthorized("AUTH_TOKEN_MISSING"))?;
            let a = c.account(&idp).await?;
            // The pending new number if there is one (it replaces the old once verified).
            let to_verify = a.pending_phone.as_deref().or(a.phone.as_deref());
            if to_verify != Some(phone.as_str()) {
                return Err(field_invalid(
                    "AUTH_PHONE_NOT_YOURS",
                    "Nomor ini bukan nomor di profil Anda",
                    "This is not the number in your profile",
                ));
            }
            send_phone_code(
                &idp,
                "otp_verify",
                phone.as_str(),
                phone.as_str(),
                Some(&a.id),
                ip,
            )
            .await?;
        }
        _ => {
            return Err(field_invalid(
                "VALIDATION_PURPOSE_INVALID",
                "Tujuan harus login atau verify_phone",
                "Purpose must be login or verify_phone",
            ));
        }
    }
    Ok(Envelope::accepted(
        serde_json::json!({ "sent_to": phone.masked(), "expires_in": idp.cfg.otp_ttl_s }),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OtpLoginBody {
    pub phone: String,
    pub code: String,
}

#[utoipa::path(post, path = "/otp/login", tag = "account", request_body = OtpLoginBody,
    responses(
        (status = 200, description = "Tokens, or the MFA step", body = inline(Envelope<LoginResult>)),
        (status = 401, description = "AUTH_OTP_INVALID (3 guesses per code, 5 minutes)", body = ErrorEnvelope),
    ))]
pub async fn otp_login(
    State(idp): St,
    ClientIp(ip): ClientIp,
    ApiJson(b): ApiJson<OtpLoginBody>,
) -> ApiResult<Envelope<LoginResult>> {
    let phone = normalize_phone(&b.phone)?;
    let a = phone_code_first_factor(&idp, &phone, &b.code, ip).await?;
    after_first_factor(&idp, a, "sms", ip).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeBody {
    pub code: String,
}
