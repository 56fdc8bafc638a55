//! The first System Admin's set-up page (the link `kreki bootstrap-admin` prints): set a
//! password and enrol TOTP. The link works once, for 24 hours.

use std::sync::Arc;

use axum::{
    body::Bytes,
    extract::{RawQuery, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{Html, Response},
};
use kreki_platform::{error::Lang, http::ClientIp};

use crate::{
    admin::bootstrap::{SETUP_PATH, SetupError, complete_setup, setup_account, setup_secret},
    idp::Idp,
    ui::{
        Posted, csrf, error_box, finish, hidden, lang_from, message_page, page, parse_query, posted,
    },
    web::{esc, get as field, t},
};

fn invalid_link(lang: Lang) -> Response {
    let mut r = message_page(
        lang,
        t(lang, "Tautan tidak valid", "Invalid link"),
        t(
            lang,
            "Tautan pengaturan admin tidak valid, sudah kedaluwarsa (24 jam), atau sudah dipakai. Minta tautan baru kepada operator server (kreki bootstrap-admin).",
            "The admin set-up link is invalid, has expired (24 hours) or was already used. Ask the server's operator for a new one (kreki bootstrap-admin).",
        ),
    );
    *r.status_mut() = StatusCode::BAD_REQUEST;
    r
}

fn trouble(lang: Lang) -> Response {
    message_page(
        lang,
        "KREKI ID",
        t(
            lang,
            "Terjadi gangguan. Coba lagi.",
            "Something went wrong. Try again.",
        ),
    )
}

fn setup_html(
    lang: Lang,
    csrf: &str,
    token: &str,
    secret: &str,
    member_number: &str,
    error: Option<&str>,
) -> Html<String> {
    let uri = crate::totp::provisioning_uri(secret, member_number);
    let svg = crate::totp::qr_svg(&uri).unwrap_or_default();
    page(
        lang,
        t(
            lang,
            "Atur akun System Admin",
            "Set up the System Admin account",
        ),
        &format!(
            "{err}<p>{intro}</p><div aria-hidden=\"true\">{svg}</div><p>{or} <code>{secret}</code></p>\
<form method=\"post\" action=\"{SETUP_PATH}\">{c}{tk}\
<label for=\"password\">{l_pw}</label><input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"new-password\" required>\
<label for=\"code\">{l_code}</label><input id=\"code\" name=\"code\" inputmode=\"numeric\" autocomplete=\"one-time-code\" required>\
<button type=\"submit\">{b}</button></form>",
            err = error_box(error),
            intro = t(
                lang,
                "Pilih kata sandi (minimal 8 karakter, satu huruf besar dan satu angka), lalu pindai kode QR ini dengan aplikasi autentikator dan ketik kodenya.",
                "Choose a password (at least 8 characters, an upper-case letter and a digit), then scan this QR code with an authenticator app and type its code.",
            ),
            or = t(lang, "Atau ketik kunci ini:", "Or type this key:"),
            secret = esc(secret),
            c = hidden("csrf", csrf),
            tk = hidden("token", token),
            l_pw = t(lang, "Kata sandi baru", "New password"),
            l_code = t(
                lang,
                "Kode dari aplikasi autentikator",
                "Code from your authenticator app"
            ),
            b = t(lang, "Simpan", "Save"),
        ),
    )
}

/// The form, while the link is valid.
pub async fn setup_form(
    State(idp): State<Arc<Idp>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let q = parse_query(q);
    let (lang, lc) = lang_from(&headers, &q);
    let token = field(&q, "token").unwrap_or("").to_string();
    let mut a = match setup_account(&idp, &token).await {
        Ok(a) => a,
        Err(SetupError::LinkInvalid) => return invalid_link(lang),
        Err(_) => return trouble(lang),
    };
    let Ok(secret) = setup_secret(&idp, &mut a).await else {
        return trouble(lang);
    };
    let (csrf_token, cc) = csrf(&headers);
    let mut res = finish(
        StatusCode::OK,
        setup_html(lang, &csrf_token, &token, &secret, &a.member_number, None),
        lc.into_iter().chain(cc).collect(),
    );
    // The link's token must not leak to other sites.
    res.headers_mut().insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    res
}

/// Password and first TOTP code: the account is ready, the link used up.
pub async fn setup_submit(
    State(idp): State<Arc<Idp>>,
    headers: HeaderMap,
    ClientIp(ip): ClientIp,
    body: Bytes,
) -> Response {
    let Posted {
        lang,
        form,
        token: csrf_token,
        cc,
        csrf_valid,
        ..
    } = posted(&headers, &body);
    let token = field(&form, "token").unwrap_or("").to_string();
    let again = |status: StatusCode, msg: &str| {
        let idp = idp.clone();
        let token = token.clone();
        let csrf_token = csrf_token.clone();
        let cc = cc.clone();
        let msg = msg.to_string();
        async move {
            let mut a = match setup_account(&idp, &token).await {
                Ok(a) => a,
                Err(SetupError::LinkInvalid) => return invalid_link(lang),
                Err(_) => return trouble(lang),
            };
            let Ok(secret) = setup_secret(&idp, &mut a).await else {
                return trouble(lang);
            };
            finish(
                status,
                setup_html(
                    lang,
                    &csrf_token,
                    &token,
                    &secret,
                    &a.member_number,
                    Some(&msg),
                ),
                cc.into_iter().collect(),
            )
        }
    };
    if !csrf_valid {
        return again(
            StatusCode::FORBIDDEN,
            t(lang, "Sesi formulir kedaluwarsa.", "The form expired."),
        )
        .await;
    }
    let pw = field(&form, "password").unwrap_or("");
    let code = field(&form, "code").unwrap_or("");
    match complete_setup(&idp, &token, pw, code, ip).await {
        Ok(recovery) => {
            let list: String = recovery
                .iter()
                .map(|c| format!("<li><code>{}</code></li>", esc(c)))
                .collect();
            finish(
                StatusCode::OK,
                page(
                    lang,
                    t(lang, "Akun siap", "The account is ready"),
                    &format!(
                        "<p class=\"ok\" role=\"status\">{}</p><ul>{list}</ul><nav><a href=\"/akun/masuk\">{}</a></nav>",
                        t(
                            lang,
                            "Kata sandi dan verifikasi dua langkah aktif. Simpan kode pemulihan ini di tempat aman; tiap kode hanya berlaku sekali.",
                            "Password and two-step verification are on. Keep these recovery codes somewhere safe; each works once.",
                        ),
                        t(lang, "Masuk", "Sign in"),
                    ),
                ),
                Vec::new(),
            )
        }
        Err(SetupError::LinkInvalid) => invalid_link(lang),
        Err(SetupError::Weak(w)) => {
            let e = crate::http::weak(w);
            again(e.status, e.msg.get(lang)).await
        }
        Err(SetupError::CodeInvalid) => {
            again(
                StatusCode::UNAUTHORIZED,
                t(
                    lang,
                    "Kode salah atau kedaluwarsa.",
                    "Wrong or expired code.",
                ),
            )
            .await
        }
        Err(SetupError::Internal(e)) => {
            tracing::error!(error = %e, "admin set-up failed");
            trouble(lang)
        }
    }
}
