//! OpenID Connect provider: discovery, JWKS, authorization (code + PKCE), token
//! (authorization_code, refresh_token with rotation, client_credentials), userinfo,
//! revocation (RFC 7009), introspection (RFC 7662), RP-initiated logout.

use std::sync::Arc;

use axum::{
    Router,
    body::Bytes,
    extract::{RawQuery, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use kreki_platform::{error::Lang, http::ClientIp, time_util::now_micros};
use sha2::{Digest, Sha256};

use crate::{
    clients::Client,
    idp::{AccessClaims, Idp},
    pages,
    store::{Store, audit, hash_token, random_token},
    web::{self, get as param, no_store_json, oauth_error, own_format},
};

pub const SCOPES: &[&str] = &["openid", "profile", "email", "phone", "offline_access"];
const CODE_TTL_US: i64 = 60_000_000;

pub fn router(idp: Arc<Idp>) -> Router {
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/.well-known/jwks.json", get(jwks))
        .route("/oauth2/authorize", get(authorize))
        .route("/oauth2/token", axum::routing::post(token))
        .route("/oauth2/userinfo", get(userinfo).post(userinfo))
        .route("/oauth2/revoke", axum::routing::post(revoke))
        .route("/oauth2/introspect", axum::routing::post(introspect))
        .route("/oauth2/logout", get(logout).post(logout))
        .with_state(idp)
}

async fn discovery(State(idp): State<Arc<Idp>>) -> Response {
    let i = &idp.issuer;
    let mut res = axum::Json(serde_json::json!({
        "issuer": i,
        "authorization_endpoint": format!("{i}/oauth2/authorize"),
        "token_endpoint": format!("{i}/oauth2/token"),
        "userinfo_endpoint": format!("{i}/oauth2/userinfo"),
        "jwks_uri": format!("{i}/.well-known/jwks.json"),
        "revocation_endpoint": format!("{i}/oauth2/revoke"),
        "introspection_endpoint": format!("{i}/oauth2/introspect"),
        "end_session_endpoint": format!("{i}/oauth2/logout"),
        "scopes_supported": SCOPES,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "sid", "amr", "roles",
            "name", "preferred_username", "member_number", "locale", "email", "email_verified",
            "phone_number", "phone_number_verified", "updated_at"],
        "ui_locales_supported": ["id", "en"],
        "authorization_response_iss_parameter_supported": true,
        "frontchannel_logout_supported": false,
    }))
    .into_response();
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("public, max-age=300"),
    );
    res.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        header::HeaderValue::from_static("*"),
    );
    res
}

async fn jwks(State(idp): State<Arc<Idp>>) -> Response {
    let mut res = axum::Json((*idp.keys.jwks().await).clone()).into_response();
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("public, max-age=60"),
    );
    res.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        header::HeaderValue::from_static("*"),
    );
    res
}

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

fn redirect_with(uri: &str, params: &[(&str, &str)]) -> Response {
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
                pages::message_page(
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

async fn authorize(
    State(idp): State<Arc<Idp>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let lang = pages::lang_of(&headers);
    let query = query.unwrap_or_default();
    let req = match validate_authz(&idp, &query).await {
        Ok(r) => r,
        Err(e) => return authz_error_response(&idp, e, lang),
    };
    let session = match web::cookie(&headers, pages::SESSION_COOKIE) {
        Some(c) => idp.store.session(c).await.ok().flatten(),
        None => None,
    };
    let return_to = format!("/oauth2/authorize?{query}");
    let Some((sid, account_id, amr, auth_time)) =
        session.filter(|_| req.prompt.as_deref() != Some("login"))
    else {
        if req.prompt.as_deref() == Some("none") {
            return authz_error_response(
                &idp,
                AuthzError::Redirect {
                    redirect_uri: req.redirect_uri,
                    state: req.state,
                    error: "login_required",
                    description: "the user is not signed in",
                },
                lang,
            );
        }
        return pages::to_login(&return_to);
    };
    let Ok(Some(account)) = idp.store.account(&account_id).await else {
        return pages::to_login(&return_to);
    };
    if !req.client.first_party
        && !has_grant(&idp, &account.id, &req.client.client_id, &req.scope).await
    {
        if req.prompt.as_deref() == Some("none") {
            return authz_error_response(
                &idp,
                AuthzError::Redirect {
                    redirect_uri: req.redirect_uri,
                    state: req.state,
                    error: "consent_required",
                    description: "consent is required",
                },
                lang,
            );
        }
        return pages::consent_page(&idp, &headers, lang, &req, &query, &account);
    }
    issue_code(&idp, &req, &account.id, &sid, &amr, auth_time).await
}

pub async fn has_grant(idp: &Idp, account: &str, client: &str, scope: &str) -> bool {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT scope FROM client_grants WHERE account_id = $1 AND client_id = $2")
            .bind(account)
            .bind(client)
            .fetch_optional(idp.store.db.pool())
            .await
            .ok()
            .flatten();
    row.is_some_and(|(granted,)| {
        scope
            .split_whitespace()
            .all(|s| granted.split_whitespace().any(|g| g == s))
    })
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
    let res = sqlx::query(
        "INSERT INTO auth_codes (code_hash, client_id, account_id, redirect_uri, scope, nonce, code_challenge, sid, amr, auth_time, family_id, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(hash_token(&code))
    .bind(&req.client.client_id)
    .bind(account_id)
    .bind(&req.redirect_uri)
    .bind(&req.scope)
    .bind(&req.nonce)
    .bind(&req.code_challenge)
    .bind(sid)
    .bind(amr)
    .bind(auth_time)
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(now_micros() + CODE_TTL_US)
    .execute(idp.store.db.writer())
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

async fn token(State(idp): State<Arc<Idp>>, headers: HeaderMap, body: Bytes) -> Response {
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

async fn client_credentials(idp: &Idp, client: &Client, form: &[(String, String)]) -> Response {
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

/// client, account, redirect URI, scope, nonce, challenge, sid, amr, auth_time, family,
/// expires_at, used_at.
type CodeRow = (
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    i64,
    String,
    i64,
    Option<i64>,
);

fn pkce_ok(verifier: &str, challenge: &str) -> bool {
    let valid = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    valid && {
        let digest = B64.encode(Sha256::digest(verifier.as_bytes()));
        subtle::ConstantTimeEq::ct_eq(digest.as_bytes(), challenge.as_bytes()).into()
    }
}

async fn code_grant(idp: &Idp, client: &Client, form: &[(String, String)]) -> Response {
    let bad = |d| oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", d);
    let Some(code) = param(form, "code") else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "code is required",
        );
    };
    let row: Option<CodeRow> = match sqlx::query_as(
        "SELECT client_id, account_id, redirect_uri, scope, nonce, code_challenge, sid, amr, auth_time, family_id, expires_at, used_at \
         FROM auth_codes WHERE code_hash = $1",
    )
    .bind(hash_token(code))
    .fetch_optional(idp.store.db.pool())
    .await
    {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "auth code lookup");
            return oauth_error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "try again");
        }
    };
    let Some((
        client_id,
        account_id,
        redirect_uri,
        scope,
        nonce,
        challenge,
        sid,
        amr,
        auth_time,
        family,
        expires_at,
        used_at,
    )) = row
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
    let used =
        sqlx::query("UPDATE auth_codes SET used_at = $2 WHERE code_hash = $1 AND used_at IS NULL")
            .bind(hash_token(code))
            .bind(now_micros())
            .execute(idp.store.db.writer())
            .await
            .map(|r| r.rows_affected());
    if !matches!(used, Ok(1)) {
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

fn token_response(t: crate::idp::TokenSet) -> Response {
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

async fn refresh_grant(idp: &Idp, client: &Client, form: &[(String, String)]) -> Response {
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

async fn userinfo(State(idp): State<Arc<Idp>>, headers: HeaderMap) -> Response {
    let unauthorized = || {
        let mut r = StatusCode::UNAUTHORIZED.into_response();
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer error=\"invalid_token\""),
        );
        own_format(r)
    };
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        });
    let Some(claims) = (match token {
        Some(t) => idp.verify_access(t.trim()).await,
        None => None,
    }) else {
        return unauthorized();
    };
    if !claims.scope.split_whitespace().any(|s| s == "openid") {
        let mut r = StatusCode::FORBIDDEN.into_response();
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer error=\"insufficient_scope\""),
        );
        return own_format(r);
    }
    let Ok(Some(a)) = idp.store.account(&claims.sub).await else {
        return unauthorized();
    };
    let mut m = crate::idp::profile_claims(&a, &claims.scope);
    m.insert("sub".into(), a.id.clone().into());
    m.insert("roles".into(), serde_json::json!([a.role.as_str()]));
    no_store_json(serde_json::Value::Object(m))
}

/// The form body of a client-authenticated endpoint and the authenticated client.
async fn form_and_client(
    idp: &Idp,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(Vec<(String, String)>, Arc<Client>), Response> {
    let Ok(form) = web::parse_form(body) else {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "a parameter is repeated",
        ));
    };
    let client = authenticate_client(idp, headers, &form).await?;
    Ok((form, client))
}

async fn revoke(State(idp): State<Arc<Idp>>, headers: HeaderMap, body: Bytes) -> Response {
    let (form, client) = match form_and_client(&idp, &headers, &body).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Some(token) = param(&form, "token") else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "token is required",
        );
    };
    // RFC 7009: the answer is 200 whether or not the token was valid.
    if let Ok(Some((family, owner))) = idp.store.refresh_family(token).await {
        if owner == client.client_id
            && let Ok(mut tx) = idp.store.db.begin().await
        {
            let _ = Store::revoke_family(&mut tx, &family).await;
            let _ = tx.commit().await;
        }
    } else if let Some(c) = idp.verify_access(token).await
        && c.client_id == client.client_id
        && let Err(e) = idp.revoke_access(&c).await
    {
        tracing::error!(error = %e, "cannot revoke an access token");
        return oauth_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "try again",
        );
    }
    no_store_json(serde_json::json!({}))
}

async fn introspect(State(idp): State<Arc<Idp>>, headers: HeaderMap, body: Bytes) -> Response {
    let (form, client) = match form_and_client(&idp, &headers, &body).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    if !client.confidential {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "introspection needs a confidential client",
        );
    }
    let Some(token) = param(&form, "token") else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "token is required",
        );
    };
    let hint = param(&form, "token_type_hint");
    if hint != Some("refresh_token")
        && let Some(c) = idp.verify_access(token).await
    {
        let mut v = serde_json::json!({
            "active": true,
            "token_type": "access_token",
            "sub": c.sub,
            "client_id": c.client_id,
            "exp": c.exp,
            "iat": c.iat,
            "iss": c.iss,
            "aud": c.aud,
            "jti": c.jti,
            "roles": c.roles,
        });
        if !c.scope.is_empty() {
            v["scope"] = c.scope.into();
        }
        return no_store_json(v);
    }
    if let Ok(Some((g, exp))) = idp.store.refresh_active(token).await
        && g.client_id == client.client_id
    {
        return no_store_json(serde_json::json!({
            "active": true,
            "token_type": "refresh_token",
            "sub": g.account_id,
            "client_id": g.client_id,
            "scope": g.scope,
            "exp": exp / 1_000_000,
            "iss": idp.issuer,
        }));
    }
    no_store_json(serde_json::json!({ "active": false }))
}

#[derive(serde::Deserialize)]
struct HintClaims {
    aud: serde_json::Value,
    #[serde(default)]
    sid: Option<String>,
}

/// RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0).
async fn logout(
    State(idp): State<Arc<Idp>>,
    headers: HeaderMap,
    ClientIp(ip): ClientIp,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let lang = pages::lang_of(&headers);
    let raw = if body.is_empty() {
        query.unwrap_or_default().into_bytes()
    } else {
        body.to_vec()
    };
    let Ok(q) = web::parse_form(&raw) else {
        return authz_error_response(
            &idp,
            AuthzError::Page("Permintaan keluar tidak sah.", "Invalid sign-out request."),
            lang,
        );
    };
    // The hint may have expired; its signature must still be ours.
    let mut hint_claims: Option<HintClaims> = None;
    if let Some(t) = param(&q, "id_token_hint") {
        hint_claims = idp
            .keys
            .verify_ignoring_expiry::<HintClaims>(t, &idp.issuer)
            .await;
        if hint_claims.is_none() {
            return authz_error_response(
                &idp,
                AuthzError::Page("Token petunjuk tidak sah.", "Invalid id_token_hint."),
                lang,
            );
        }
    }
    let client_id = param(&q, "client_id").map(str::to_string).or_else(|| {
        hint_claims.as_ref().and_then(|h| match &h.aud {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Array(a) => a.first().and_then(|v| v.as_str()).map(str::to_string),
            _ => None,
        })
    });
    let post = param(&q, "post_logout_redirect_uri");
    let mut target = None;
    if let Some(p) = post {
        let client = match &client_id {
            Some(id) => idp.clients.get(id).await,
            None => None,
        };
        match client {
            Some(c) if c.post_logout_redirect_uris.iter().any(|u| u == p) => {
                target = Some(p.to_string())
            }
            _ => {
                return authz_error_response(
                    &idp,
                    AuthzError::Page(
                        "Alamat setelah keluar tidak terdaftar.",
                        "The post-logout address is not registered.",
                    ),
                    lang,
                );
            }
        }
    }
    // End the browser session (and the hinted one).
    let mut ended = Vec::new();
    if let Some(c) = web::cookie(&headers, pages::SESSION_COOKIE)
        && let Ok(Some((sid, account, _, _))) = idp.store.session(c).await
    {
        ended.push((sid, account));
    }
    if let Some(sid) = hint_claims.and_then(|h| h.sid)
        && !ended.iter().any(|(s, _)| s == &sid)
    {
        ended.push((sid, String::new()));
    }
    for (sid, account) in &ended {
        let _ = idp.store.end_session(sid).await;
        if !account.is_empty()
            && let Ok(mut tx) = idp.store.db.begin().await
        {
            let _ = audit(
                &mut tx,
                "logout",
                Some(account),
                Some(account),
                Some(ip),
                serde_json::json!({ "via": "oidc" }),
            )
            .await;
            let _ = tx.commit().await;
        }
    }
    let mut res = match target {
        Some(t) => {
            let mut p = Vec::new();
            if let Some(s) = param(&q, "state") {
                p.push(("state", s));
            }
            redirect_with(&t, &p)
        }
        None => pages::message_page(
            lang,
            web::t(lang, "Anda sudah keluar", "You are signed out"),
            web::t(
                lang,
                "Sesi KREKI ID Anda telah diakhiri.",
                "Your KREKI ID session has ended.",
            ),
        )
        .into_response(),
    };
    res.headers_mut().append(
        header::SET_COOKIE,
        web::set_cookie(pages::SESSION_COOKIE, "", 0, idp.secure(), "Lax"),
    );
    res
}
