//! Passwords: change (signed in), forgotten (a link by e-mail) and reset.

use std::net::IpAddr;

use axum::extract::State;
use kreki_notify_contracts::Template;
use kreki_platform::{
    ApiError, ApiResult, Envelope, Msg,
    error::ErrorEnvelope,
    http::{ApiJson, ClientIp},
    time_util::now_micros,
};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::{
    http::{Caller, St, invalid_credentials, normalize_email, store_err, weak},
    idp::Idp,
    notices::send_email_link,
    password,
    store::{Store, audit},
};

pub async fn forgot(idp: &Idp, email: &str) -> Result<(), ApiError> {
    let Ok(email) = normalize_email(email) else {
        return Ok(());
    };
    if let Some(a) = idp.store.account_by("email", &email).await? {
        // At most one reset mail per 2 minutes per address.
        let recent = idp
            .store
            .count_codes_since("password_reset", &email, now_micros() - 120_000_000)
            .await?;
        if recent == 0 {
            send_email_link(
                idp,
                &a,
                &email,
                "password_reset",
                Template::PasswordReset,
                "/akun/reset-sandi",
                3600,
            )
            .await?;
        }
    }
    Ok(())
}

pub async fn reset(idp: &Idp, token: &str, new_password: &str, ip: IpAddr) -> Result<(), ApiError> {
    let invalid = || {
        ApiError::bad_request(
            "AUTH_RESET_TOKEN_INVALID",
            Msg::new(
                "Tautan reset tidak valid atau kedaluwarsa",
                "The reset link is invalid or has expired",
            ),
        )
    };
    let code = idp
        .store
        .peek_token("password_reset", token)
        .await?
        .ok_or_else(invalid)?;
    let mut a = idp
        .store
        .account(code.account_id.as_deref().unwrap_or_default())
        .await?
        .ok_or_else(invalid)?;
    let personal = a.personal();
    password::check(new_password, &personal).map_err(weak)?;
    if idp
        .store
        .take_token("password_reset", token)
        .await?
        .is_none()
    {
        return Err(invalid());
    }
    a.password_hash = Some(
        idp.hash_password(new_password)
            .await
            .map_err(ApiError::internal)?,
    );
    // Following the link proves the address.
    a.email_verified = true;
    let mut tx = idp.store.db.begin().await?;
    idp.store
        .save_account(&mut tx, &mut a)
        .await
        .map_err(store_err)?;
    Store::revoke_account_tokens(&mut tx, &a.id).await?;
    audit(
        &mut tx,
        "password_reset",
        Some(&a.id),
        Some(&a.id),
        Some(ip),
        serde_json::json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordBody {
    pub current_password: String,
    pub new_password: String,
}

#[utoipa::path(post, path = "/change-password", tag = "account", request_body = ChangePasswordBody,
    responses((status = 200, description = "Changed; every other session is signed out", body = inline(Envelope<serde_json::Value>)),
        (status = 401, description = "AUTH_INVALID_CREDENTIALS", body = ErrorEnvelope),
        (status = 422, description = "AUTH_PASSWORD_*", body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn change_password(
    State(idp): St,
    ClientIp(ip): ClientIp,
    caller: Caller,
    ApiJson(b): ApiJson<ChangePasswordBody>,
) -> ApiResult<Envelope<serde_json::Value>> {
    let mut a = caller.account(&idp).await?;
    if !idp
        .verify_password(&b.current_password, a.password_hash.clone())
        .await
    {
        return Err(invalid_credentials());
    }
    let personal = a.personal();
    password::check(&b.new_password, &personal).map_err(weak)?;
    a.password_hash = Some(
        idp.hash_password(&b.new_password)
            .await
            .map_err(ApiError::internal)?,
    );
    let mut tx = idp.store.db.begin().await?;
    idp.store
        .save_account(&mut tx, &mut a)
        .await
        .map_err(store_err)?;
    Store::revoke_account_tokens(&mut tx, &a.id).await?;
    audit(
        &mut tx,
        "password_changed",
        Some(&a.id),
        Some(&a.id),
        Some(ip),
        serde_json::json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(Envelope::ok(serde_json::json!({ "changed": true })))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ForgotBody {
    pub email: String,
}

#[utoipa::path(post, path = "/forgot-password", tag = "account", request_body = ForgotBody,
    responses((status = 202, description = "Always accepted: a reset link is e-mailed if the address is registered (no enumeration)", body = inline(Envelope<serde_json::Value>))))]
pub async fn forgot_password(
    State(idp): St,
    ApiJson(b): ApiJson<ForgotBody>,
) -> ApiResult<Envelope<serde_json::Value>> {
    forgot(&idp, &b.email).await?;
    Ok(Envelope::accepted(
        serde_json::json!({ "sent_if_registered": true }),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetBody {
    pub token: String,
    pub new_password: String,
}

#[utoipa::path(post, path = "/reset-password", tag = "account", request_body = ResetBody,
    responses((status = 200, description = "Password set; all sessions signed out", body = inline(Envelope<serde_json::Value>)),
        (status = 400, description = "AUTH_RESET_TOKEN_INVALID", body = ErrorEnvelope),
        (status = 422, description = "AUTH_PASSWORD_*", body = ErrorEnvelope)))]
pub async fn reset_password(
    State(idp): St,
    ClientIp(ip): ClientIp,
    ApiJson(b): ApiJson<ResetBody>,
) -> ApiResult<Envelope<serde_json::Value>> {
    reset(&idp, &b.token, &b.new_password, ip).await?;
    Ok(Envelope::ok(serde_json::json!({ "reset": true })))
}
