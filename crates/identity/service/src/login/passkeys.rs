//! Passkeys (WebAuthn) over the API: registering and listing them, and signing in with one
//! as a second factor or alone.

use axum::{
    extract::{Path, State},
    http::StatusCode,
};
use kreki_platform::{
    ApiError, ApiResult, Envelope, Msg,
    error::ErrorEnvelope,
    http::{ApiJson, ClientIp},
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    mfa::TicketBody,
    outcome::{LoginResult, after_first_factor, api_tokens, tokens_result},
};
use crate::{
    http::{Caller, St, field_invalid, invalid_credentials, mfa_invalid, store_err},
    reauth::{OptionalJson, ReauthBody, reauthenticate},
};

pub fn passkey_err(e: crate::webauthn::PasskeyError) -> ApiError {
    use crate::webauthn::PasskeyError as E;
    match e {
        E::Ceremony => ApiError::bad_request(
            "AUTH_PASSKEY_CEREMONY_INVALID",
            Msg::new(
                "Permintaan passkey kedaluwarsa; mulai lagi",
                "The passkey request expired; start again",
            ),
        ),
        E::Refused(why) => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "AUTH_PASSKEY_REFUSED",
            Msg::new("Passkey ditolak", "The passkey was refused"),
        )
        .details(serde_json::json!({ "reason": why })),
        E::Disabled => ApiError::new(
            StatusCode::NOT_FOUND,
            "AUTH_PASSKEYS_OFF",
            Msg::new(
                "Passkey tidak tersedia di situs ini",
                "Passkeys are not available on this site",
            ),
        ),
        E::NoPasskey => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "AUTH_PASSKEY_UNAVAILABLE",
            Msg::new(
                "Tidak ada passkey untuk akun ini",
                "No passkey for this account",
            ),
        ),
        E::Db(e) => e.into(),
        E::Other(e) => ApiError::internal(e),
    }
}

/// A WebAuthn ceremony to hand to `navigator.credentials.create/get` (options as JSON).
#[derive(Debug, Serialize, ToSchema)]
pub struct Ceremony {
    pub ceremony: String,
    /// `PublicKeyCredentialCreationOptions` / `…RequestOptions` under `publicKey`.
    #[schema(value_type = Object)]
    pub options: serde_json::Value,
}

pub fn ceremony(id: String, options: impl Serialize) -> Result<Ceremony, ApiError> {
    Ok(Ceremony {
        ceremony: id,
        options: serde_json::to_value(options).map_err(ApiError::internal)?,
    })
}

pub fn credential<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> Result<T, ApiError> {
    serde_json::from_value(v).map_err(|e| {
        field_invalid(
            "VALIDATION_CREDENTIAL_INVALID",
            "Data passkey tidak valid",
            "Invalid passkey data",
        )
        .details(serde_json::json!({ "reason": e.to_string() }))
    })
}

#[utoipa::path(post, path = "/mfa/passkeys/register/start", tag = "mfa", request_body(content = Option<ReauthBody>, description = "Re-authentication: the current password or a code of the current authenticator; may be left out within 5 minutes of a sign-in with a second factor"),
    responses(
        (status = 404, description = "AUTH_PASSKEYS_OFF: passkeys are not available on this site (no host name for WebAuthn)", body = ErrorEnvelope),
        (status = 200, description = "Creation options for the authenticator", body = inline(Envelope<Ceremony>)),
        (status = 403, description = "AUTH_REAUTH_REQUIRED: a new passkey needs the current password or a second factor (a bearer token alone is not enough)", body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn passkey_register_start(
    State(idp): St,
    ClientIp(ip): ClientIp,
    caller: Caller,
    OptionalJson(b): OptionalJson<ReauthBody>,
) -> ApiResult<Envelope<Ceremony>> {
    let mut a = caller.account(&idp).await?;
    let passkeys = idp.passkeys().map_err(passkey_err)?;
    // A stolen token alone must not add the thief's passkey (finding 3).
    reauthenticate(
        &idp,
        &mut a,
        Some(&caller.0),
        b.current_password.as_deref(),
        b.totp_code.as_deref(),
        ip,
    )
    .await?;
    if b.totp_code.is_some() {
        idp.save(&mut a).await.map_err(store_err)?;
    }
    let (id, ccr) = passkeys.start_registration(&a).await.map_err(passkey_err)?;
    Ok(Envelope::ok(ceremony(id, ccr)?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeyFinishBody {
    pub ceremony: String,
    /// A name for the list of passkeys ("HP Android").
    pub name: Option<String>,
    /// The `PublicKeyCredential` from the browser, as JSON.
    #[schema(value_type = Object)]
    pub credential: serde_json::Value,
}

#[utoipa::path(post, path = "/mfa/passkeys/register/finish", tag = "mfa", request_body = PasskeyFinishBody,
    responses(
        (status = 404, description = "AUTH_PASSKEYS_OFF: passkeys are not available on this site (no host name for WebAuthn)", body = ErrorEnvelope),
        (status = 201, description = "Registered; sign-ins now need it (or another factor) after the password", body = inline(Envelope<crate::webauthn::PasskeyInfo>)),
        (status = 400, description = "AUTH_PASSKEY_CEREMONY_INVALID", body = ErrorEnvelope),
        (status = 401, description = "AUTH_PASSKEY_REFUSED", body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn passkey_register_finish(
    State(idp): St,
    ClientIp(ip): ClientIp,
    caller: Caller,
    ApiJson(b): ApiJson<PasskeyFinishBody>,
) -> ApiResult<Envelope<crate::webauthn::PasskeyInfo>> {
    let name = b.name.unwrap_or_else(|| "Passkey".into());
    if name.trim().is_empty() || name.chars().count() > 60 || name.chars().any(char::is_control) {
        return Err(field_invalid(
            "VALIDATION_NAME_INVALID",
            "Nama passkey 1-60 karakter",
            "Passkey name: 1-60 characters",
        ));
    }
    let cred = credential(b.credential)?;
    let info = idp
        .passkeys()
        .map_err(passkey_err)?
        .finish_registration(&caller.0.sub, &b.ceremony, name.trim(), &cred)
        .await
        .map_err(passkey_err)?;
    idp.audit_now(
        "mfa_enabled",
        Some(&caller.0.sub),
        Some(&caller.0.sub),
        Some(ip),
        serde_json::json!({ "method": "passkey" }),
    )
    .await?;
    Ok(Envelope::created(info))
}

#[utoipa::path(get, path = "/mfa/passkeys", tag = "mfa",
    responses((status = 200, description = "The caller's passkeys", body = inline(Envelope<Vec<crate::webauthn::PasskeyInfo>>))),
    security(("bearer" = [])))]
pub async fn passkeys_list(
    State(idp): St,
    caller: Caller,
) -> ApiResult<Envelope<Vec<crate::webauthn::PasskeyInfo>>> {
    match &idp.passkeys {
        Some(p) => Ok(Envelope::ok(p.list(&caller.0.sub).await?)),
        None => Ok(Envelope::ok(Vec::new())),
    }
}

#[utoipa::path(delete, path = "/mfa/passkeys/{id}", tag = "mfa", params(("id" = String, Path)),
    request_body(content = Option<ReauthBody>, description = "Re-authentication: the current password or a code of the current authenticator; may be left out within 5 minutes of a sign-in with a second factor"),
    responses((status = 200, description = "Removed", body = inline(Envelope<serde_json::Value>)),
        (status = 403, description = "AUTH_REAUTH_REQUIRED: removing a passkey needs the current password or a second factor", body = ErrorEnvelope),
        (status = 404, description = "AUTH_PASSKEY_NOT_FOUND, or AUTH_PASSKEYS_OFF (passkeys are not available on this site)", body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn passkey_delete(
    State(idp): St,
    ClientIp(ip): ClientIp,
    caller: Caller,
    Path(id): Path<String>,
    OptionalJson(b): OptionalJson<ReauthBody>,
) -> ApiResult<Envelope<serde_json::Value>> {
    let passkeys = idp.passkeys().map_err(passkey_err)?;
    let mut a = caller.account(&idp).await?;
    reauthenticate(
        &idp,
        &mut a,
        Some(&caller.0),
        b.current_password.as_deref(),
        b.totp_code.as_deref(),
        ip,
    )
    .await?;
    if b.totp_code.is_some() {
        idp.save(&mut a).await.map_err(store_err)?;
    }
    if !passkeys.delete(&caller.0.sub, &id).await? {
        return Err(ApiError::not_found(
            "AUTH_PASSKEY_NOT_FOUND",
            Msg::new("Passkey tidak ditemukan", "Passkey not found"),
        ));
    }
    idp.audit_now(
        "mfa_disabled",
        Some(&caller.0.sub),
        Some(&caller.0.sub),
        Some(ip),
        serde_json::json!({ "method": "passkey" }),
    )
    .await?;
    Ok(Envelope::ok(serde_json::json!({ "deleted": true })))
}

#[utoipa::path(post, path = "/login/mfa/passkey/start", tag = "mfa", request_body = TicketBody,
    responses(
        (status = 404, description = "AUTH_PASSKEYS_OFF: passkeys are not available on this site (no host name for WebAuthn)", body = ErrorEnvelope),
        (status = 200, description = "Request options for the second factor", body = inline(Envelope<Ceremony>)),
        (status = 401, description = "AUTH_MFA_INVALID, AUTH_PASSKEY_UNAVAILABLE", body = ErrorEnvelope)))]
pub async fn login_mfa_passkey_start(
    State(idp): St,
    ApiJson(b): ApiJson<TicketBody>,
) -> ApiResult<Envelope<Ceremony>> {
    let t = idp
        .store
        .peek_token("mfa", &b.mfa_token)
        .await?
        .ok_or_else(mfa_invalid)?;
    let (id, rcr) = idp
        .passkeys()
        .map_err(passkey_err)?
        .start_authentication(t.account_id.as_deref().unwrap_or_default())
        .await
        .map_err(passkey_err)?;
    Ok(Envelope::ok(ceremony(id, rcr)?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeyAssertBody {
    #[serde(rename = "mfaToken")]
    pub mfa_token: Option<String>,
    pub ceremony: String,
    #[schema(value_type = Object)]
    pub credential: serde_json::Value,
}

#[utoipa::path(post, path = "/login/mfa/passkey/finish", tag = "mfa", request_body = PasskeyAssertBody,
    responses(
        (status = 404, description = "AUTH_PASSKEYS_OFF: passkeys are not available on this site (no host name for WebAuthn)", body = ErrorEnvelope),
        (status = 200, description = "Tokens", body = inline(Envelope<LoginResult>)),
        (status = 401, description = "AUTH_MFA_INVALID, AUTH_PASSKEY_REFUSED", body = ErrorEnvelope)))]
pub async fn login_mfa_passkey_finish(
    State(idp): St,
    ClientIp(ip): ClientIp,
    ApiJson(b): ApiJson<PasskeyAssertBody>,
) -> ApiResult<Envelope<LoginResult>> {
    let ticket = b.mfa_token.ok_or_else(mfa_invalid)?;
    let t = idp
        .store
        .peek_token("mfa", &ticket)
        .await?
        .ok_or_else(mfa_invalid)?;
    let cred = credential(b.credential)?;
    let (account, _) = idp
        .passkeys()
        .map_err(passkey_err)?
        .finish_authentication(&b.ceremony, &cred)
        .await
        .map_err(passkey_err)?;
    if Some(account.as_str()) != t.account_id.as_deref() || !idp.store.consume_code(&t.id).await? {
        return Err(mfa_invalid());
    }
    let a = idp.store.account(&account).await?.ok_or_else(mfa_invalid)?;
    idp.audit_login(&a, "passkey", ip)
        .await
        .map_err(ApiError::internal)?;
    let t = api_tokens(&idp, &a, &format!("{} hwk mfa", t.target)).await?;
    Ok(Envelope::ok(tokens_result(&a, t, Vec::new())))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeyLoginStart {
    /// E-mail, phone or member number.
    pub identifier: String,
}

#[utoipa::path(post, path = "/login/passkey/start", tag = "account", request_body = PasskeyLoginStart,
    responses(
        (status = 404, description = "AUTH_PASSKEYS_OFF: passkeys are not available on this site (no host name for WebAuthn)", body = ErrorEnvelope),
        (status = 200, description = "Request options (passwordless sign-in)", body = inline(Envelope<Ceremony>)),
        (status = 401, description = "AUTH_PASSKEY_UNAVAILABLE (also for unknown accounts)", body = ErrorEnvelope)))]
pub async fn login_passkey_start(
    State(idp): St,
    ApiJson(b): ApiJson<PasskeyLoginStart>,
) -> ApiResult<Envelope<Ceremony>> {
    let a = idp
        .find_account(&b.identifier)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| passkey_err(crate::webauthn::PasskeyError::NoPasskey))?;
    let (id, rcr) = idp
        .passkeys()
        .map_err(passkey_err)?
        .start_authentication(&a.id)
        .await
        .map_err(passkey_err)?;
    Ok(Envelope::ok(ceremony(id, rcr)?))
}

#[utoipa::path(post, path = "/login/passkey/finish", tag = "account", request_body = PasskeyAssertBody,
    responses(
        (status = 404, description = "AUTH_PASSKEYS_OFF: passkeys are not available on this site (no host name for WebAuthn)", body = ErrorEnvelope),
        (status = 200, description = "Tokens (a passkey with user verification is multi-factor by itself), or the MFA step", body = inline(Envelope<LoginResult>)),
        (status = 401, description = "AUTH_PASSKEY_REFUSED", body = ErrorEnvelope)))]
pub async fn login_passkey_finish(
    State(idp): St,
    ClientIp(ip): ClientIp,
    ApiJson(b): ApiJson<PasskeyAssertBody>,
) -> ApiResult<Envelope<LoginResult>> {
    let cred = credential(b.credential)?;
    let (account, verified) = idp
        .passkeys()
        .map_err(passkey_err)?
        .finish_authentication(&b.ceremony, &cred)
        .await
        .map_err(passkey_err)?;
    let a = idp
        .store
        .account(&account)
        .await?
        .ok_or_else(invalid_credentials)?;
    if !verified {
        // Possession only: a second factor is still needed where MFA applies.
        return after_first_factor(&idp, a, "hwk", ip).await;
    }
    idp.audit_login(&a, "passkey", ip)
        .await
        .map_err(ApiError::internal)?;
    let t = api_tokens(&idp, &a, "hwk user mfa").await?;
    Ok(Envelope::ok(tokens_result(&a, t, Vec::new())))
}
