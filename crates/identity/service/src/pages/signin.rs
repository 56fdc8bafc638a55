//! Sign-in with a password, and the MFA step (TOTP, recovery code, SMS backup, first
//! enrolment for roles that need MFA).

use std::sync::Arc;

use axum::{
    body::Bytes,
    extract::{RawQuery, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{Html, Response},
};
use kreki_platform::{error::Lang, http::ClientIp};

use super::session::start_session;
use crate::{
    idp::{Idp, LoginError},
    login::{mfa::enrol_once, mfa::send_mfa_sms},
    ui::{
        Posted, csrf, error_box, finish, hidden, lang_from, message_page, page, parse_query,
        posted, safe_return,
    },
    web::{esc, get as field, t},
};

pub fn login_html(
    lang: Lang,
    csrf: &str,
    return_to: &str,
    error: Option<&str>,
    identifier: &str,
) -> Html<String> {
    page(
        lang,
        t(lang, "Masuk", "Sign in"),
        &format!(
            "{err}<form method=\"post\" action=\"/akun/masuk\">{c}{r}\
<label for=\"identifier\">{l1}</label><input id=\"identifier\" name=\"identifier\" autocomplete=\"username\" required value=\"{ident}\">\
<label for=\"password\">{l2}</label><input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\
<button type=\"submit\">{b}</button></form>\
<nav><a href=\"/akun/masuk-telepon?{rq}\">{ph}</a> · <a href=\"/akun/lupa-sandi\">{f}</a> · <a href=\"/akun/daftar?{rq}\">{reg}</a></nav>",
            ph = t(lang, "Masuk dengan kode SMS", "Sign in with an SMS code"),
            err = error_box(error),
            c = hidden("csrf", csrf),
            r = hidden("return_to", return_to),
            l1 = t(
                lang,
                "E-mail, nomor HP, atau nomor anggota",
                "E-mail, phone number or member number"
            ),
            l2 = t(lang, "Kata sandi", "Password"),
            ident = esc(identifier),
            b = t(lang, "Masuk", "Sign in"),
            f = t(lang, "Lupa kata sandi?", "Forgot your password?"),
            reg = t(lang, "Daftar akun baru", "Create an account"),
            rq = esc(&url::form_urlencoded::Serializer::new(String::new())
                .append_pair("return_to", return_to)
                .finish()),
        ),
    )
}

pub async fn login_form(headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    let q = parse_query(q);
    let (lang, lc) = lang_from(&headers, &q);
    let (token, cc) = csrf(&headers);
    let ret = safe_return(field(&q, "return_to"));
    finish(
        StatusCode::OK,
        login_html(lang, &token, &ret, None, ""),
        lc.into_iter().chain(cc).collect(),
    )
}

#[allow(clippy::too_many_arguments)]
pub fn mfa_html(
    lang: Lang,
    csrf: &str,
    ticket: &str,
    return_to: &str,
    error: Option<&str>,
    enroll: Option<(&str, &str)>,
    notice: Option<&str>,
    passkey: Option<&str>,
) -> Html<String> {
    let enroll_html = enroll
        .map(|(secret, svg)| {
            format!(
                "<p>{}</p><div aria-hidden=\"true\">{svg}</div><p>{} <code>{}</code></p>",
                t(lang, "Peran Anda wajib memakai verifikasi dua langkah. Pindai kode QR ini dengan aplikasi autentikator.", "Your role requires two-step verification. Scan this QR code with an authenticator app."),
                t(lang, "Atau ketik kunci ini:", "Or type this key:"),
                esc(secret)
            )
        })
        .unwrap_or_default();
    page(
        lang,
        t(lang, "Verifikasi dua langkah", "Two-step verification"),
        &format!(
            "{err}{note}{enroll_html}<form method=\"post\" action=\"/akun/mfa\">{c}{tk}{r}\
<label for=\"code\">{l}</label><input id=\"code\" name=\"code\" inputmode=\"numeric\" autocomplete=\"one-time-code\" required>\
<button type=\"submit\">{b}</button></form>\
<form method=\"post\" action=\"/akun/mfa\">{c}{tk}{r}<button class=\"secondary\" type=\"submit\" name=\"step\" value=\"sms\">{sms}</button></form>{pk}",
            pk = passkey.unwrap_or_default(),
            sms = t(lang, "Kirim kode lewat SMS", "Send a code by SMS"),
            note = notice
                .map(|n| format!("<p class=\"ok\" role=\"status\">{}</p>", esc(n)))
                .unwrap_or_default(),
            err = error_box(error),
            c = hidden("csrf", csrf),
            tk = hidden("ticket", ticket),
            r = hidden("return_to", return_to),
            l = t(
                lang,
                "Kode dari aplikasi autentikator atau kode pemulihan",
                "Code from your authenticator app, or a recovery code"
            ),
            b = t(lang, "Verifikasi", "Verify"),
        ),
    )
}

pub async fn login_submit(
    State(idp): State<Arc<Idp>>,
    headers: HeaderMap,
    ClientIp(ip): ClientIp,
    body: Bytes,
) -> Response {
    let Posted {
        lang,
        form,
        token,
        cc,
        ret,
        csrf_valid,
    } = posted(&headers, &body);
    let ident = field(&form, "identifier").unwrap_or("").to_string();
    if !csrf_valid {
        let msg = t(
            lang,
            "Sesi formulir kedaluwarsa. Silakan coba lagi.",
            "The form expired. Please try again.",
        );
        return finish(
            StatusCode::FORBIDDEN,
            login_html(lang, &token, &ret, Some(msg), &ident),
            cc.into_iter().collect(),
        );
    }
    let pw = field(&form, "password").unwrap_or("");
    match idp.password_login(&ident, pw, ip).await {
        Ok(mut a) => {
            if idp.mfa_needed(&a).await {
                let Ok(ticket) = idp.mfa_ticket(&a, "pwd").await else {
                    return message_page(lang, "KREKI ID", t(lang, "Coba lagi.", "Try again."));
                };
                // A first factor is set up here only on an account with none; one with a
                // passkey uses it (in the apps) or the SMS backup (finding 2).
                let enrol_allowed = idp.may_enrol_with_ticket(&a).await
                    && enrol_once(&idp, &a, &ticket, ip).await.is_ok();
                let enroll = if !enrol_allowed {
                    None
                } else {
                    let uri_secret = crate::totp::new_secret();
                    a.totp_secret = Some(uri_secret.clone());
                    let mut tx = match idp.store.db.begin().await {
                        Ok(tx) => tx,
                        Err(_) => {
                            return message_page(
                                lang,
                                "KREKI ID",
                                t(lang, "Coba lagi.", "Try again."),
                            );
                        }
                    };
                    if idp.store.save_account(&mut tx, &mut a).await.is_err()
                        || tx.commit().await.is_err()
                    {
                        return message_page(lang, "KREKI ID", t(lang, "Coba lagi.", "Try again."));
                    }
                    let uri = crate::totp::provisioning_uri(&uri_secret, &a.member_number);
                    Some((uri_secret, crate::totp::qr_svg(&uri).unwrap_or_default()))
                };
                let passkey_note = (!a.totp_enabled && enroll.is_none()).then(|| {
                    t(
                        lang,
                        "Akun ini memakai passkey. Pakai passkey Anda, atau minta kode lewat SMS.",
                        "This account uses a passkey. Use your passkey, or ask for a code by SMS.",
                    )
                });
                let offer = super::passkey::offer(&idp, &a.id, lang, &token, &ticket, &ret).await;
                let html = mfa_html(
                    lang,
                    &token,
                    &ticket,
                    &ret,
                    None,
                    enroll.as_ref().map(|(s, q)| (s.as_str(), q.as_str())),
                    passkey_note,
                    offer.as_deref(),
                );
                let res = finish(StatusCode::OK, html, cc.into_iter().collect());
                return match offer {
                    Some(_) => super::passkey::allow_script(res),
                    None => res,
                };
            }
            start_session(&idp, &a, "pwd", &ret, ip, "pwd").await
        }
        Err(LoginError::Throttled(s)) => {
            let msg = t(
                lang,
                "Terlalu banyak percobaan. Coba lagi nanti.",
                "Too many attempts. Try again later.",
            );
            let mut res = finish(
                StatusCode::TOO_MANY_REQUESTS,
                login_html(lang, &token, &ret, Some(msg), &ident),
                cc.into_iter().collect(),
            );
            if let Ok(v) = HeaderValue::from_str(&s.to_string()) {
                res.headers_mut().insert(header::RETRY_AFTER, v);
            }
            res
        }
        Err(LoginError::Invalid) => {
            let msg = t(
                lang,
                "E-mail/telepon atau kata sandi salah.",
                "Wrong e-mail/phone or password.",
            );
            finish(
                StatusCode::UNAUTHORIZED,
                login_html(lang, &token, &ret, Some(msg), &ident),
                cc.into_iter().collect(),
            )
        }
        Err(LoginError::Internal(e)) => {
            tracing::error!(error = %e, "sign-in failed");
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
    }
}

pub async fn mfa_submit(
    State(idp): State<Arc<Idp>>,
    headers: HeaderMap,
    ClientIp(ip): ClientIp,
    body: Bytes,
) -> Response {
    let Posted {
        lang,
        form,
        token,
        cc,
        ret,
        csrf_valid,
    } = posted(&headers, &body);
    let ticket = field(&form, "ticket").unwrap_or("").to_string();
    if !csrf_valid {
        return message_page(
            lang,
            "KREKI ID",
            t(
                lang,
                "Sesi formulir kedaluwarsa. Silakan masuk lagi.",
                "The form expired. Please sign in again.",
            ),
        );
    }
    if field(&form, "step") == Some("passkey") {
        return super::passkey::submit(&idp, &form, lang, &ret, ip).await;
    }
    if field(&form, "step") == Some("sms") {
        let html = match send_mfa_sms(&idp, &ticket, ip).await {
            Ok(masked) => {
                let note = format!("{} {masked}", t(lang, "Kode dikirim ke", "Code sent to"));
                (
                    StatusCode::OK,
                    mfa_html(lang, &token, &ticket, &ret, None, None, Some(&note), None),
                )
            }
            Err(e) => (
                e.status,
                mfa_html(
                    lang,
                    &token,
                    &ticket,
                    &ret,
                    Some(e.msg.get(lang)),
                    None,
                    None,
                    None,
                ),
            ),
        };
        return finish(html.0, html.1, cc.into_iter().collect());
    }
    match idp
        .mfa_verify(&ticket, field(&form, "code").unwrap_or(""), ip)
        .await
    {
        Ok(Some((a, amr, recovery))) => {
            let mut res = start_session(&idp, &a, &amr, &ret, ip, "mfa").await;
            if !recovery.is_empty() {
                // Show the recovery codes once before continuing.
                let list: String = recovery
                    .iter()
                    .map(|c| format!("<li><code>{}</code></li>", esc(c)))
                    .collect();
                let html = page(
                    lang,
                    t(lang, "Kode pemulihan", "Recovery codes"),
                    &format!(
                        "<p class=\"ok\">{}</p><ul>{list}</ul><nav><a href=\"{}\">{}</a></nav>",
                        t(
                            lang,
                            "Verifikasi dua langkah aktif. Simpan kode pemulihan ini di tempat aman; tiap kode hanya berlaku sekali.",
                            "Two-step verification is on. Keep these recovery codes somewhere safe; each works once."
                        ),
                        esc(&ret),
                        t(lang, "Lanjutkan", "Continue")
                    ),
                );
                let cookies: Vec<HeaderValue> = res
                    .headers()
                    .get_all(header::SET_COOKIE)
                    .iter()
                    .cloned()
                    .collect();
                res = finish(StatusCode::OK, html, cookies);
            }
            res
        }
        Ok(None) => {
            let msg = t(
                lang,
                "Kode salah atau kedaluwarsa.",
                "Wrong or expired code.",
            );
            finish(
                StatusCode::UNAUTHORIZED,
                mfa_html(lang, &token, &ticket, &ret, Some(msg), None, None, None),
                cc.into_iter().collect(),
            )
        }
        Err(e) => {
            tracing::error!(error = %e, "MFA failed");
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
    }
}
