//! The browser session of the login pages: starting it after a sign-in, the signed-in
//! home page, and signing out.

use std::{net::IpAddr, sync::Arc};

use axum::{
    body::Bytes,
    extract::{RawQuery, State},
    http::{HeaderMap, StatusCode, header},
    response::Response,
};
use kreki_platform::error::Lang;

use crate::{
    idp::Idp,
    store::Account,
    ui::{
        Posted, SESSION_COOKIE, csrf, finish, hidden, lang_from, message_page, page, parse_query,
        posted, session_account, to_login,
    },
    web::{self, esc, t},
};

pub async fn start_session(
    idp: &Idp,
    a: &Account,
    amr: &str,
    return_to: &str,
    ip: IpAddr,
    method: &str,
) -> Response {
    let ttl = (idp.cfg.session_ttl_hours * 3_600_000_000) as i64;
    match idp.store.create_session(&a.id, amr, ttl).await {
        Ok((cookie, _sid)) => {
            let _ = idp.audit_login(a, method, ip).await;
            let mut res = web::see_other(return_to);
            res.headers_mut().append(
                header::SET_COOKIE,
                web::set_cookie(
                    SESSION_COOKIE,
                    &cookie,
                    ttl / 1_000_000,
                    idp.secure(),
                    "Lax",
                ),
            );
            res
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot create a session");
            message_page(Lang::current(), "KREKI ID", "Coba lagi / Try again")
        }
    }
}

pub async fn home(
    State(idp): State<Arc<Idp>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let q = parse_query(q);
    let (lang, lc) = lang_from(&headers, &q);
    let Some((_, a)) = session_account(&idp, &headers).await else {
        return to_login("/akun/");
    };
    let (token, cc) = csrf(&headers);
    let html = page(
        lang,
        "KREKI ID",
        &format!(
            "<p>{} <strong>{}</strong></p><p>{}: <strong>{}</strong></p><p>{}: {}</p>\
<form method=\"post\" action=\"/akun/keluar\">{}<button class=\"secondary\" type=\"submit\">{}</button></form>",
            t(lang, "Anda masuk sebagai", "Signed in as"),
            esc(&a.full_name),
            t(lang, "Nomor anggota", "Member number"),
            esc(&a.member_number),
            t(lang, "Peran", "Role"),
            a.role.as_str(),
            hidden("csrf", &token),
            t(lang, "Keluar", "Sign out")
        ),
    );
    finish(StatusCode::OK, html, lc.into_iter().chain(cc).collect())
}

pub async fn logout(State(idp): State<Arc<Idp>>, headers: HeaderMap, body: Bytes) -> Response {
    let Posted {
        lang, csrf_valid, ..
    } = posted(&headers, &body);
    if csrf_valid && let Some((sid, _)) = session_account(&idp, &headers).await {
        let _ = idp.store.end_session(&sid).await;
    }
    let mut res = message_page(
        lang,
        t(lang, "Anda sudah keluar", "You are signed out"),
        t(lang, "Sampai jumpa.", "Goodbye."),
    );
    res.headers_mut().append(
        header::SET_COOKIE,
        web::set_cookie(SESSION_COOKIE, "", 0, idp.secure(), "Lax"),
    );
    res
}
