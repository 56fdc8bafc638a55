//! The token endpoint: client authentication, and the authorization code (with PKCE),
//! refresh token (rotation) and client credentials grants.

use std::sync::Arc;

use axum::{
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::Response,
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use kreki_platform::time_util::now_micros;
use sha2::{Digest, Sha256};

use crate::{
    clients::Client,
    idp::{AccessClaims, Idp},
    store::{AuthCode, Store, audit},
    web::{self, get as param, no_store_json, oauth_error},
};

/// Client authentication at the token, revocation and introspection endpoints:
/// `client_secret_basic`, `client_secret_post`, or `none` (public clients, id in the body).
pub async fn authenticate_client(
    idp: &Idp,
    headers: &HeaderMap,
    form: &[(String, String)],
) -> Result<Arc<Client>, Response> {
    let invalid = || {
        oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        )
    };
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Basic ")
                .or_else(|| v.strip_prefix("basic "))
        });
    let (id, secret) = if let Some(b) = basic {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(b.trim())
            .map_err(|_| invalid())?;
        let raw = String::from_utf8(raw).map_err(|_| invalid())?;
        let (i, s) = raw.split_once(':').ok_or_else(invalid)?;
        // RFC 6749 §2.3.1: both parts are form-urlencoded.
        let dec = |x: &str| {
            url::form_urlencoded::parse(format!("v={x}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        if param(form, "client_secret").is_some() {
            return Err(oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "use one client authentication method",
            ));
        }
        (dec(i), Some(dec(s)))
    } else {
        let Some(i) = param(form, "client_id") else {
            return Err(invalid());
        };
        (
            i.to_string(),
            param(form, "client_secret").map(str::to_string),
        )
    };
    if let Some(body_id) = param(form, "client_id")
        && body_id != id
    {
        return Err(invalid());
    }
    let Some(client) = idp.clients.get(&id).await else {
        return Err(invalid());
    };
    match (client.confidential, secret) {
        (true, Some(s)) if client.check_secret(&s) => Ok(client),
        (false, None) => Ok(client),
        _ => Err(invalid()),
    }
}

pub async fn token(State(idp): State<Arc<Idp>>, headers: HeaderMap, body: Bytes) -> Response {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct.starts_with("application/x-www-form-urlencoded") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the body must be application/x-www-form-urlencoded",
        );
    }
    let form = match web::parse_form(&body) {
        Ok(f) => f,
        Err(_) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "a parameter is repeated",
            );
        }
    };
    let client = match authenticate_client(&idp, &headers, &form).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let grant = param(&form, "grant_type").unwrap_or("");
    if grant.is_empty() {
        // RFC 6749 section 5.2: a missing required parameter is a malformed request.
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "grant_type is required",
        );
    }
    if !crate::store::GRANTS.contains(&grant) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "unsupported grant_type",
        );
    }
    if !client.allows_grant(grant) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            "this client may not use this grant",
        );
    }
    match grant {
        "client_credentials" => client_credentials(&idp, &client, &form).await,
        "authorization_code" => code_grant(&idp, &client, &form).await,
        _ => refresh_grant(&idp, &client, &form).await,
    }
}

pub async fn client_credentials(idp: &Idp, client: &Client, form: &[(String, String)]) -> Response {
    let requested = param(form, "scope").unwrap_or("");
    let scope = if requested.is_empty() {
        client.scopes.join(" ")
    } else {
        let allowed = client.allowed_scopes(requested);
        if requested.split_whitespace().count() != allowed.len() {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_scope",
                "a requested scope is not allowed for this client",
            );
        }
        allowed.join(" ")
    };
    let now = now_micros() / 1_000_000;
    let claims = AccessClaims {
        iss: idp.issuer.clone(),
        sub: client.client_id.clone(),
        aud: crate::idp::API_AUDIENCE.into(),
        exp: now + idp.cfg.access_token_ttl_s as i64,
        iat: now,
        iat_ms: now * 1_000,
        jti: uuid::Uuid::now_v7().simple().to_string(),
        client_id: client.client_id.clone(),
        roles: vec!["partner".into()],
        scope: scope.clone(),
        sid: None,
        auth_time: None,
        amr: Vec::new(),
    };
    match idp.keys.sign(crate::keys::TokenKind::Access, &claims).await {
        Ok(t) => no_store_json(serde_json::json!({
            "access_token": t,
            "token_type": "Bearer",
            "expires_in": idp.cfg.access_token_ttl_s,
            "scope": scope,
        })),
        Err(e) => {
            tracing::error!(error = %e, "cannot sign");
            oauth_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "try again",
            )
        }
    }
}

pub fn pkce_ok(verifier: &str, challenge: &str) -> bool {
    let valid = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    valid && {
        let digest = B64.encode(Sha256::digest(verifier.as_bytes()));
        subtle::ConstantTimeEq::ct_eq(digest.as_bytes(), challenge.as_bytes()).into()
    }
}

pub async fn code_grant(idp: &Idp, client: &Client, form: &[(String, String)]) -> Response {
    let bad = |d| oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", d);
    let Some(code) = param(form, "code") else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "code is required",
        );
    };
    let row = match idp.store.auth_code(code).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "auth code lookup");
            return oauth_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "try again",
            );
        }
    };
    let Some(AuthCode {
        client_id,
        account_id,
        redirect_uri,
        scope,
        nonce,
        code_challenge: challenge,
        sid,
        amr,
        auth_time,
        family_id: family,
        expires_at,
        used_at,
    }) = row
    else {
        return bad("unknown or expired code");
    };
    if used_at.is_some() {
        // A replayed code: revoke whatever was issued from it (RFC 6749 §4.1.2).
        if let Ok(mut tx) = idp.store.db.begin().await {
            let _ = Store::revoke_family(&mut tx, &family).await;
            let _ = audit(
                &mut tx,
                "code_replay_detected",
                Some(&account_id),
                None,
                None,
                serde_json::json!({ "client_id": client_id }),
            )
            .await;
            let _ = tx.commit().await;
        }
        return bad("the code was already used");
    }
    if client_id != client.client_id || expires_at <= now_micros() {
        return bad("unknown or expired code");
    }
    if param(form, "redirect_uri") != Some(redirect_uri.as_str()) {
        return bad("redirect_uri does not match the authorization request");
    }
    match (&challenge, param(form, "code_verifier")) {
        (Some(c), Some(v)) if pkce_ok(v, c) => {}
        (Some(_), _) => return bad("PKCE verification failed"),
        (None, Some(_)) => return bad("no code_challenge was sent for this code"),
        (None, None) => {}
    }
    if !matches!(idp.store.use_auth_code(code).await, Ok(true)) {
        return bad("the code was already used");
    }
    let Ok(Some(account)) = idp.store.account(&account_id).await else {
        return bad("the account no longer exists");
    };
    let with_refresh = client.allows_grant("refresh_token");
    match idp
        .issue_user_tokens(
            &account,
            &client.client_id,
            &scope,
            sid,
            &amr,
            auth_time,
            nonce,
            Some(family),
            with_refresh,
        )
        .await
    {
        Ok(t) => token_response(t),
        Err(e) => {
            tracing::error!(error = %e, "cannot issue tokens");
            oauth_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "try again",
            )
        }
    }
}

pub fn token_response(t: crate::idp::TokenSet) -> Response {
    let mut v = serde_json::json!({
        "access_token": t.access_token,
        "token_type": "Bearer",
        "expires_in": t.expires_in,
        "scope": t.scope,
    });
    if let Some(r) = t.refresh_token {
        v["refresh_token"] = r.into();
    }
    if let Some(i) = t.id_token {
        v["id_token"] = i.into();
    }
    no_store_json(v)
}

pub async fn refresh_grant(idp: &Idp, client: &Client, form: &[(String, String)]) -> Response {
    let Some(rt) = param(form, "refresh_token") else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "refresh_token is required",
        );
    };
    match idp.refresh(rt, &client.client_id).await {
        Ok(t) => token_response(t),
        Err("invalid_grant") => oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "invalid, expired or reused refresh token",
        ),
        Err(_) => oauth_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "try again",
        ),
    }
}
