//! What a completed first factor leads to: tokens, or the MFA step that must come first.

use std::net::IpAddr;

use kreki_platform::{ApiError, ApiResult, Envelope, time_util::now_micros};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    http::UserView,
    idp::{API_CLIENT, Idp, TokenSet},
    store::Account,
};

/// Tokens, or the MFA step that must come first.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoginResult {
    #[serde(rename = "accessToken", skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
    #[serde(rename = "refreshToken", skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(rename = "expiresIn", skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<u64>,
    #[serde(rename = "tokenType", skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    pub user: UserView,
    #[serde(rename = "mfaRequired")]
    pub mfa_required: bool,
    /// Ticket for `POST /login/mfa` (5 minutes).
    #[serde(rename = "mfaToken", skip_serializing_if = "Option::is_none")]
    pub mfa_token: Option<String>,
    /// The role needs MFA and none is set up: enrol with `POST /login/mfa/enroll` first.
    #[serde(
        rename = "mfaEnrollRequired",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub mfa_enroll_required: bool,
    /// Shown once, when TOTP was enabled by this sign-in.
    #[serde(rename = "recoveryCodes", skip_serializing_if = "Vec::is_empty")]
    pub recovery_codes: Vec<String>,
}

pub fn tokens_result(a: &Account, t: TokenSet, recovery_codes: Vec<String>) -> LoginResult {
    LoginResult {
        access_token: Some(t.access_token),
        refresh_token: t.refresh_token,
        expires_in: Some(t.expires_in),
        token_type: Some("Bearer".into()),
        user: a.into(),
        mfa_required: false,
        mfa_token: None,
        mfa_enroll_required: false,
        recovery_codes,
    }
}

pub async fn api_tokens(idp: &Idp, a: &Account, amr: &str) -> Result<TokenSet, ApiError> {
    idp.issue_user_tokens(
        a,
        API_CLIENT,
        "openid profile email phone",
        None,
        amr,
        now_micros(),
        None,
        None,
        true,
    )
    .await
    .map_err(ApiError::internal)
}

/// After the first factor: tokens, or an MFA ticket.
pub async fn after_first_factor(
    idp: &Idp,
    a: Account,
    method: &str,
    ip: IpAddr,
) -> ApiResult<Envelope<LoginResult>> {
    if idp.mfa_needed(&a).await {
        let ticket = idp
            .mfa_ticket(&a, method)
            .await
            .map_err(ApiError::internal)?;
        return Ok(Envelope::ok(LoginResult {
            access_token: None,
            refresh_token: None,
            expires_in: None,
            token_type: None,
            mfa_enroll_required: !a.totp_enabled && idp.passkey_count(&a.id).await == 0,
            user: (&a).into(),
            mfa_required: true,
            mfa_token: Some(ticket),
            recovery_codes: Vec::new(),
        }));
    }
    idp.audit_login(&a, method, ip)
        .await
        .map_err(ApiError::internal)?;
    let t = api_tokens(idp, &a, method).await?;
    Ok(Envelope::ok(tokens_result(&a, t, Vec::new())))
}
