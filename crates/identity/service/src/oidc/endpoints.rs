//! Userinfo, revocation (RFC 7009), introspection (RFC 7662) and RP-initiated logout.

use std::sync::Arc;

use axum::{
    body::Bytes,
    extract::{RawQuery, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use kreki_platform::http::ClientIp;

use super::{
    request::{AuthzError, authz_error_response, redirect_with},
    token::authenticate_client,
};
use crate::{
    clients::Client,
    idp::Idp,
    store::{Store, audit},
    ui::{self, SESSION_COOKIE},
    web::{self, get as param, no_store_json, oauth_error, own_format},
};

pub async fn userinfo(State(idp): State<Arc<Idp>>, headers: HeaderMap) -> Response {
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
pub async fn form_and_client(
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

pub async fn revoke(State(idp): State<Arc<Idp>>, headers: HeaderMap, body: Bytes) -> Response {
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

pub async fn introspect(State(idp): State<Arc<Idp>>, headers: HeaderMap, body: Bytes) -> Response {
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
pub struct HintClaims {
    aud: serde_json::Value,
    #[serde(default)]
    sid: Option<String>,
}

/// RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0).
pub async fn logout(
    State(idp): State<Arc<Idp>>,
    headers: HeaderMap,
    ClientIp(ip): ClientIp,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let lang = ui::lang_of(&headers);
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
    if let Some(c) = web::cookie(&headers, SESSION_COOKIE)
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
        None => ui::message_page(
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
        web::set_cookie(SESSION_COOKIE, "", 0, idp.secure(), "Lax"),
    );
    res
}
