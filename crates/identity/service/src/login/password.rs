//! Password sign-in, token refresh and sign-out over the API.

use axum::{extract::State, http::StatusCode};
use kreki_platform::{
    ApiError, ApiResult, Envelope, Msg,
    error::ErrorEnvelope,
    http::{ApiJson, ClientIp},
};
use serde::Deserialize;
use utoipa::ToSchema;

use super::outcome::{LoginResult, after_first_factor, tokens_result};
use crate::{
    http::{Caller, St, invalid_credentials, login_err},
    idp::{API_CLIENT, AccessClaims},
    store::Store,
};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    pub email: Option<String>,
    pub phone: Option<String>,
    /// E-mail, phone or member number.
    pub identifier: Option<String>,
    pub password: String,
}

#[utoipa::path(post, path = "/login", tag = "account", request_body = LoginBody,
    responses(
        (status = 200, description = "Tokens, or `mfaRequired` with an `mfaToken`", body = inline(Envelope<LoginResult>)),
        (status = 401, description = "AUTH_INVALID_CREDENTIALS (same for unknown accounts)", body = ErrorEnvelope),
        (status = 429, description = "AUTH_TOO_MANY_ATTEMPTS with Retry-After", body = ErrorEnvelope),
    ))]
pub async fn login(
    State(idp): St,
    ClientIp(ip): ClientIp,
    ApiJson(b): ApiJson<LoginBody>,
) -> ApiResult<Envelope<LoginResult>> {
    let ident = b.identifier.or(b.email).or(b.phone).unwrap_or_default();
    if ident.len() > 254 || b.password.len() > 1024 {
        return Err(invalid_credentials());
    }
    let a = idp
        .password_login(&ident, &b.password, ip)
        .await
        .map_err(login_err)?;
    after_first_factor(&idp, a, "pwd", ip).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshBody {
    #[serde(rename = "refreshToken")]
    pub refresh_token: String,
}

#[utoipa::path(post, path = "/refresh", tag = "account", request_body = RefreshBody,
    responses(
        (status = 200, description = "New tokens; the refresh token is rotated (a reused one revokes its family)", body = inline(Envelope<LoginResult>)),
        (status = 401, description = "AUTH_REFRESH_INVALID", body = ErrorEnvelope),
    ))]
pub async fn refresh(
    State(idp): St,
    ApiJson(b): ApiJson<RefreshBody>,
) -> ApiResult<Envelope<LoginResult>> {
    let t = idp
        .refresh(&b.refresh_token, API_CLIENT)
        .await
        .map_err(|e| {
            if e == "invalid_grant" {
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "AUTH_REFRESH_INVALID",
                    Msg::new(
                        "Sesi berakhir, silakan masuk lagi",
                        "The session has ended, please sign in again",
                    ),
                )
            } else {
                ApiError::internal(anyhow::anyhow!("refresh failed"))
            }
        })?;
    let claims: AccessClaims = idp
        .keys
        .verify_access(&t.access_token, &idp.issuer)
        .await
        .map_err(|_| ApiError::internal(anyhow::anyhow!("fresh token does not verify")))?;
    let a = idp
        .store
        .account(&claims.sub)
        .await?
        .ok_or_else(|| ApiError::unauthorized("AUTH_REFRESH_INVALID"))?;
    Ok(Envelope::ok(tokens_result(&a, t, Vec::new())))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogoutBody {
    #[serde(rename = "refreshToken")]
    pub refresh_token: Option<String>,
}

#[utoipa::path(post, path = "/logout", tag = "account", request_body = LogoutBody,
    responses((status = 200, description = "The access token and the refresh token's family are revoked", body = inline(Envelope<serde_json::Value>))),
    security(("bearer" = [])))]
pub async fn logout(
    State(idp): St,
    ClientIp(ip): ClientIp,
    caller: Caller,
    body: axum::body::Bytes,
) -> ApiResult<Envelope<serde_json::Value>> {
    // The body is optional.
    let b: LogoutBody = if body.iter().all(u8::is_ascii_whitespace) {
        LogoutBody {
            refresh_token: None,
        }
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::validation(
                "VALIDATION_FAILED",
                Msg::new("Data permintaan tidak valid", "The request data is invalid"),
            )
            .details(serde_json::json!({ "reason": e.to_string() }))
        })?
    };
    idp.revoke_access(&caller.0)
        .await
        .map_err(ApiError::internal)?;
    if let Some(rt) = b.refresh_token
        && let Some((family, _)) = idp.store.refresh_family(&rt).await?
    {
        let mut tx = idp.store.db.begin().await?;
        Store::revoke_family(&mut tx, &family).await?;
        tx.commit().await?;
    }
    idp.audit_now(
        "logout",
        Some(&caller.0.sub),
        Some(&caller.0.sub),
        Some(ip),
        serde_json::json!({ "via": "api" }),
    )
    .await?;
    Ok(Envelope::ok(serde_json::json!({ "signed_out": true })))
}
