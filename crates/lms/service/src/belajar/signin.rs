//! Sign-in through KREKI ID (authorization code + PKCE), the callback, sign-out.

use sha2::{Digest, Sha256};

use super::*;

// ---- sign-in ------------------------------------------------------------------------

pub(super) async fn login(State(web): State<Web>) -> Response {
    let state = random(24);
    let verifier = random(48);
    let nonce = random(16);
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    if let Err(e) = sqlx::query(
        "INSERT INTO oidc_logins (state_hash, verifier, nonce, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(sha256_hex(state.as_bytes()))
    .bind(&verifier)
    .bind(&nonce)
    .bind(now_micros())
    .execute(web.app.store.db().writer())
    .await
    {
        return ApiError::from(e).into_response();
    }
    let q: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", CLIENT_ID)
        .append_pair("redirect_uri", &format!("{}/belajar/callback", web.base()))
        .append_pair("scope", "openid profile")
        .append_pair("state", &state)
        .append_pair("nonce", &nonce)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .finish();
    let mut res = see_other(&format!("{}/oauth2/authorize?{q}", web.idp_url));
    if let Some(c) = cookie_header(STATE_COOKIE, &state, 600, web.secure()) {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    res
}

pub(super) async fn callback(
    State(web): State<Web>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let (lang, cookies) = lang_of(&headers, &None);
    let get = |k: &str| kreki_platform::pages::query_param(q.as_deref(), k);
    let fail = |msg_id: &str, msg_en: &str| {
        render_status(
            StatusCode::BAD_REQUEST,
            lang,
            None,
            t(lang, "Gagal masuk", "Sign-in failed"),
            &format!(
                "<p class=\"err\" role=\"alert\">{}</p><p><a href=\"/belajar/masuk\">{}</a></p>",
                esc(t(lang, msg_id, msg_en)),
                t(lang, "Coba lagi", "Try again")
            ),
            cookies.clone(),
        )
    };
    let (Some(code), Some(state)) = (get("code"), get("state")) else {
        return fail(
            "Permintaan masuk tidak lengkap.",
            "Incomplete sign-in response.",
        );
    };
    // RFC 9207: an `iss` in the response must be our provider (mix-up defence).
    if get("iss")
        .is_some_and(|i| i.trim_end_matches('/') != web.auth.issuer().trim_end_matches('/'))
    {
        return fail("Penerbit tidak dikenal.", "Unknown issuer.");
    }
    // The state must be the one this browser started with, and is used once.
    if cookie(&headers, STATE_COOKIE) != Some(state.as_str()) {
        return fail(
            "Sesi masuk tidak cocok.",
            "The sign-in does not match this browser.",
        );
    }
    let pending = sqlx::query(
        "DELETE FROM oidc_logins WHERE state_hash = $1 AND created_at > $2 RETURNING verifier",
    )
    .bind(sha256_hex(state.as_bytes()))
    .bind(now_micros() - 600_000_000)
    .fetch_optional(web.app.store.db().writer())
    .await;
    let Ok(Some(row)) = pending else {
        return fail("Sesi masuk kedaluwarsa.", "The sign-in expired.");
    };
    let verifier: String = row.get(0);
    let token = web
        .http
        .post(format!("{}/oauth2/token", web.idp_url))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", &format!("{}/belajar/callback", web.base())),
            ("client_id", CLIENT_ID),
            ("code_verifier", verifier.as_str()),
        ])
        .send()
        .await;
    let access = match token {
        Ok(r) if r.status().is_success() => r
            .json::<serde_json::Value>()
            .await
            .ok()
            .and_then(|v| v["access_token"].as_str().map(str::to_string)),
        Ok(r) => {
            tracing::warn!(status = %r.status(), "belajar: code exchange refused");
            None
        }
        Err(e) => {
            tracing::warn!(error = %e, "belajar: code exchange failed");
            None
        }
    };
    let Some(access) = access else {
        return fail(
            "KREKI ID menolak kode masuk.",
            "KREKI ID refused the sign-in code.",
        );
    };
    let principal = match web.auth.verify(&access).await {
        Ok(p) => p,
        Err(_) => return fail("Token tidak sah.", "Invalid token."),
    };
    match create_session(&web, &principal).await {
        Ok(id) => {
            let mut res = see_other("/belajar/");
            let h = res.headers_mut();
            if let Some(c) = cookie_header(
                SESSION_COOKIE,
                &id,
                SESSION_MICROS / 1_000_000,
                web.secure(),
            ) {
                h.append(header::SET_COOKIE, c);
            }
            if let Some(c) = cookie_header(STATE_COOKIE, "", 0, web.secure()) {
                h.append(header::SET_COOKIE, c);
            }
            res
        }
        Err(e) => ApiError::from(e).into_response(),
    }
}

pub(super) async fn logout(State(web): State<Web>, headers: HeaderMap, f: Form) -> Response {
    if let Some(s) = session(&web, &headers).await
        && f.csrf_matches(&s.csrf)
        && let Some(id) = cookie(&headers, SESSION_COOKIE)
    {
        let _ = sqlx::query("DELETE FROM web_sessions WHERE id_hash = $1")
            .bind(sha256_hex(id.as_bytes()))
            .execute(web.app.store.db().writer())
            .await;
    }
    let mut res = see_other("/belajar/");
    if let Some(c) = cookie_header(SESSION_COOKIE, "", 0, web.secure()) {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    res
}
