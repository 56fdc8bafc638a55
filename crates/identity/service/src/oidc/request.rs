//! An authorization request validated (client, redirect URI, PKCE, scopes), its error
//! answers, and the code it ends with.

use std::sync::Arc;

use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use kreki_platform::{error::Lang, time_util::now_micros};

use crate::{
    clients::Client,
    idp::Idp,
    store::{AuthCode, random_token},
    ui,
    web::{self, get as param, own_format},
};

/// Lifetime of an authorization code.
const CODE_TTL_US: i64 = 60_000_000;

/// A validated authorization request.
pub struct AuthzRequest {
    pub client: Arc<Client>,
    pub redirect_uri: String,
    pub scope: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub prompt: Option<String>,
}

/// Why an authorization request failed.
pub enum AuthzError {
    /// Shown to the user; never redirected (unknown client, bad redirect URI).
    Page(&'static str, &'static str),
    /// Sent back to the client's redirect URI.
    Redirect {
        redirect_uri: String,
        state: Option<String>,
        error: &'static str,
        description: &'static str,
    },
}

pub async fn validate_authz(idp: &Idp, query: &str) -> Result<AuthzRequest, AuthzError> {
    let q = web::parse_form(query.as_bytes()).map_err(|_| {
        AuthzError::Page(
            "Permintaan masuk tidak sah (parameter berulang).",
            "Invalid sign-in request (repeated parameter).",
        )
    })?;
    let Some(client) = (match param(&q, "client_id") {
        Some(id) => idp.clients.get(id).await,
        None => None,
    }) else {
        return Err(AuthzError::Page(
            "Aplikasi tidak dikenal.",
            "Unknown application.",
        ));
    };
    // The redirect URI must be registered, exactly (no open redirects).
    let redirect_uri = match param(&q, "redirect_uri") {
        Some(r) if client.redirect_uris.iter().any(|x| x == r) => r.to_string(),
        None if client.redirect_uris.len() == 1 => client.redirect_uris[0].clone(),
        _ => {
            return Err(AuthzError::Page(
                "Alamat kembali aplikasi tidak terdaftar.",
                "The application's redirect address is not registered.",
            ));
        }
    };
    let state = param(&q, "state").map(str::to_string);
    let fail = |error, description| AuthzError::Redirect {
        redirect_uri: redirect_uri.clone(),
        state: state.clone(),
        error,
        description,
    };
    if param(&q, "request").is_some() || param(&q, "request_uri").is_some() {
        return Err(fail(
            "request_not_supported",
            "request objects are not supported",
        ));
    }
    if param(&q, "response_type") != Some("code") {
        return Err(fail(
            "unsupported_response_type",
            "only response_type=code is supported",
        ));
    }
    if !client.allows_grant("authorization_code") {
        return Err(fail(
            "unauthorized_client",
            "this client may not use the authorization code grant",
        ));
    }
    if let Some(m) = param(&q, "response_mode")
        && m != "query"
    {
        return Err(fail(
            "invalid_request",
            "only response_mode=query is supported",
        ));
    }
    let requested = param(&q, "scope").unwrap_or("openid");
    let scopes = client.allowed_scopes(requested);
    if requested
        .split_whitespace()
        .any(|s| !scopes.iter().any(|a| a == s))
    {
        return Err(fail(
            "invalid_scope",
            "a requested scope is not allowed for this client",
        ));
    }
    let challenge = param(&q, "code_challenge").map(str::to_string);
    match (param(&q, "code_challenge_method"), &challenge) {
        (Some("S256"), Some(c)) => {
            if c.len() != 43 || B64.decode(c).is_err() {
                return Err(fail(
                    "invalid_request",
                    "code_challenge must be a base64url SHA-256",
                ));
            }
        }
        (None, None) if client.confidential => {}
        (None, None) => {
            return Err(fail(
                "invalid_request",
                "PKCE (code_challenge, S256) is required",
            ));
        }
        _ => {
            return Err(fail(
                "invalid_request",
                "code_challenge_method must be S256",
            ));
        }
    }
    let nonce = param(&q, "nonce").map(str::to_string);
    if nonce.as_ref().is_some_and(|n| n.len() > 256)
        || state.as_ref().is_some_and(|s| s.len() > 512)
    {
        return Err(fail("invalid_request", "state or nonce too long"));
    }
    Ok(AuthzRequest {
        client,
        redirect_uri,
        scope: scopes.join(" "),
        state,
        nonce,
        code_challenge: challenge,
        prompt: param(&q, "prompt").map(str::to_string),
    })
}

pub fn redirect_with(uri: &str, params: &[(&str, &str)]) -> Response {
    let mut url = match url::Url::parse(uri) {
        Ok(u) => u,
        Err(_) => return StatusCode::BAD_REQUEST.into_response(),
    };
    {
        let mut qp = url.query_pairs_mut();
        for (k, v) in params {
            qp.append_pair(k, v);
        }
    }
    web::see_other(url.as_str())
}

pub fn authz_error_response(idp: &Idp, e: AuthzError, lang: Lang) -> Response {
    match e {
        AuthzError::Page(id, en) => own_format(
            (
                StatusCode::BAD_REQUEST,
                ui::message_page(
                    lang,
                    web::t(lang, "Tidak dapat masuk", "Cannot sign in"),
                    web::t(lang, id, en),
                ),
            )
                .into_response(),
        ),
        AuthzError::Redirect {
            redirect_uri,
            state,
            error,
            description,
        } => {
            let mut p = vec![
                ("error", error),
                ("error_description", description),
                ("iss", idp.issuer.as_str()),
            ];
            if let Some(s) = &state {
                p.push(("state", s.as_str()));
            }
            redirect_with(&redirect_uri, &p)
        }
    }
}

pub async fn issue_code(
    idp: &Idp,
    req: &AuthzRequest,
    account_id: &str,
    sid: &str,
    amr: &str,
    auth_time: i64,
) -> Response {
    let code = random_token();
    let res = idp
        .store
        .insert_auth_code(
            &code,
            &AuthCode {
                client_id: req.client.client_id.clone(),
                account_id: account_id.into(),
                redirect_uri: req.redirect_uri.clone(),
                scope: req.scope.clone(),
                nonce: req.nonce.clone(),
                code_challenge: req.code_challenge.clone(),
                sid: Some(sid.into()),
                amr: amr.into(),
                auth_time,
                family_id: uuid::Uuid::now_v7().to_string(),
                expires_at: now_micros() + CODE_TTL_US,
                used_at: None,
            },
        )
        .await;
    if let Err(e) = res {
        tracing::error!(error = %e, "cannot store an authorization code");
        return authz_error_response(
            idp,
            AuthzError::Redirect {
                redirect_uri: req.redirect_uri.clone(),
                state: req.state.clone(),
                error: "server_error",
                description: "try again",
            },
            Lang::Id,
        );
    }
    let mut p = vec![("code", code.as_str()), ("iss", idp.issuer.as_str())];
    if let Some(s) = &req.state {
        p.push(("state", s.as_str()));
    }
    redirect_with(&req.redirect_uri, &p)
}
