//! The consent page a third-party client gets, and the decision posted from it.

use std::sync::Arc;

use axum::{
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::Response,
};
use kreki_platform::{error::Lang, http::ClientIp};

use super::request::{AuthzError, AuthzRequest, authz_error_response, issue_code, validate_authz};
use crate::{
    idp::Idp,
    store::{Account, audit},
    ui::{
        Posted, SESSION_COOKIE, csrf, finish, hidden, message_page, page, posted, session_account,
        to_login,
    },
    web::{self, esc, get as field, t},
};

pub fn consent_page(
    idp: &Idp,
    headers: &HeaderMap,
    lang: Lang,
    req: &AuthzRequest,
    query: &str,
    a: &Account,
) -> Response {
    let _ = idp;
    let (token, cc) = csrf(headers);
    let scopes: String = req
        .scope
        .split_whitespace()
        .map(|s| {
            let d = match s {
                "openid" => t(
                    lang,
                    "Mengenali Anda (ID akun)",
                    "Know who you are (account id)",
                ),
                "profile" => t(lang, "Nama dan nomor anggota", "Name and member number"),
                "email" => t(lang, "Alamat e-mail", "E-mail address"),
                "phone" => t(lang, "Nomor telepon", "Phone number"),
                "offline_access" => t(
                    lang,
                    "Tetap terhubung saat Anda tidak aktif",
                    "Stay connected while you are away",
                ),
                _ => s,
            };
            format!("<li>{}</li>", esc(d))
        })
        .collect();
    let html = page(
        lang,
        t(lang, "Izinkan akses?", "Allow access?"),
        &format!(
            "<p><strong>{}</strong> {}</p><ul>{scopes}</ul><p>{} {}</p>\
<form method=\"post\" action=\"/akun/persetujuan\">{}{}<button name=\"decision\" value=\"allow\" type=\"submit\">{}</button>\
<button class=\"secondary\" name=\"decision\" value=\"deny\" type=\"submit\">{}</button></form>",
            esc(&req.client.name),
            t(lang, "meminta izin untuk:", "asks to:"),
            t(lang, "Masuk sebagai", "Signed in as"),
            esc(&a.full_name),
            hidden("csrf", &token),
            hidden("request", query),
            t(lang, "Izinkan", "Allow"),
            t(lang, "Tolak", "Deny")
        ),
    );
    finish(StatusCode::OK, html, cc.into_iter().collect())
}

pub async fn consent_submit(
    State(idp): State<Arc<Idp>>,
    headers: HeaderMap,
    ClientIp(ip): ClientIp,
    body: Bytes,
) -> Response {
    let Posted {
        lang,
        form,
        csrf_valid,
        ..
    } = posted(&headers, &body);
    if !csrf_valid {
        return message_page(
            lang,
            "KREKI ID",
            t(lang, "Sesi formulir kedaluwarsa.", "The form expired."),
        );
    }
    let query = field(&form, "request").unwrap_or("").to_string();
    let req = match validate_authz(&idp, &query).await {
        Ok(r) => r,
        Err(e) => return authz_error_response(&idp, e, lang),
    };
    let Some((sid, a)) = session_account(&idp, &headers).await else {
        return to_login(&format!("/oauth2/authorize?{query}"));
    };
    if field(&form, "decision") != Some("allow") {
        return authz_error_response(
            &idp,
            AuthzError::Redirect {
                redirect_uri: req.redirect_uri,
                state: req.state,
                error: "access_denied",
                description: "the user denied access",
            },
            lang,
        );
    }
    let ok = idp
        .store
        .grant_client(&a.id, &req.client.client_id, &req.scope)
        .await
        .is_ok();
    if let Ok(mut tx) = idp.store.db.begin().await {
        let _ = audit(
            &mut tx,
            "client_consent",
            Some(&a.id),
            Some(&a.id),
            Some(ip),
            serde_json::json!({ "client_id": req.client.client_id, "scope": req.scope }),
        )
        .await;
        let _ = tx.commit().await;
    }
    if !ok {
        return message_page(lang, "KREKI ID", t(lang, "Coba lagi.", "Try again."));
    }
    let Ok(Some((_, _, amr, auth_time))) = idp
        .store
        .session(web::cookie(&headers, SESSION_COOKIE).unwrap_or(""))
        .await
    else {
        return to_login(&format!("/oauth2/authorize?{query}"));
    };
    issue_code(&idp, &req, &a.id, &sid, &amr, auth_time).await
}
