//! The login pages at `/akun/`: server-rendered, small (no script), Bahasa Indonesia by
//! default with an English switch (`?lang=en`, kept in a cookie), labelled for screen readers.

use std::{net::IpAddr, sync::Arc};

use axum::{
    Router,
    body::Bytes,
    extract::{RawQuery, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
    routing::get,
};
use kreki_platform::{error::Lang, http::ClientIp, time_util::now_micros};

use crate::{
    api::{self, RegisterBody},
    idp::{Idp, LoginError},
    oidc::{self, AuthzRequest},
    store::{Account, random_token},
    web::{self, esc, get as field, own_format, t},
};

pub const SESSION_COOKIE: &str = "kreki_session";
const CSRF_COOKIE: &str = "kreki_csrf";
const LANG_COOKIE: &str = "kreki_lang";

pub fn router(idp: Arc<Idp>) -> Router {
    Router::new()
        .route("/akun", get(|| async { web::see_other("/akun/") }))
        .route("/akun/", get(home))
        .route("/akun/masuk", get(login_form).post(login_submit))
        .route("/akun/mfa", axum::routing::post(mfa_submit))
        .route("/akun/masuk-telepon", get(phone_form).post(phone_submit))
        .route("/akun/daftar", get(register_form).post(register_submit))
        .route("/akun/persetujuan", axum::routing::post(consent_submit))
        .route("/akun/lupa-sandi", get(forgot_form).post(forgot_submit))
        .route("/akun/reset-sandi", get(reset_form).post(reset_submit))
        .route("/akun/verifikasi-email", get(verify_email))
        .route("/akun/keluar", axum::routing::post(logout))
        .with_state(idp)
}

pub fn lang_of(headers: &HeaderMap) -> Lang {
    match web::cookie(headers, LANG_COOKIE) {
        Some("en") => Lang::En,
        Some("id") => Lang::Id,
        _ => Lang::current(),
    }
}

/// `?lang=` switches the language and remembers it.
fn lang_from(headers: &HeaderMap, query: &[(String, String)]) -> (Lang, Option<HeaderValue>) {
    match field(query, "lang") {
        Some("en") => (
            Lang::En,
            Some(web::set_cookie(LANG_COOKIE, "en", 31_536_000, false, "Lax")),
        ),
        Some("id") => (
            Lang::Id,
            Some(web::set_cookie(LANG_COOKIE, "id", 31_536_000, false, "Lax")),
        ),
        _ => (lang_of(headers), None),
    }
}

/// Only our own pages and the authorization endpoint are valid places to go back to.
fn safe_return(r: Option<&str>) -> String {
    match r {
        Some(r)
            if (r.starts_with("/oauth2/authorize?") || r.starts_with("/akun/"))
                && !r.contains("//")
                && !r.contains('\\')
                && !r.chars().any(char::is_control) =>
        {
            r.to_string()
        }
        _ => "/akun/".into(),
    }
}

pub fn to_login(return_to: &str) -> Response {
    let q: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("return_to", return_to)
        .finish();
    web::see_other(&format!("/akun/masuk?{q}"))
}

const CSS: &str = "body{font-family:system-ui,sans-serif;max-width:26rem;margin:0 auto;padding:1rem;color:#1a1a1a;line-height:1.45}\
h1{font-size:1.4rem;color:#b3261e}label{display:block;margin-top:.8rem;font-weight:600}\
input,select{width:100%;box-sizing:border-box;padding:.65rem;font-size:1rem;border:1px solid #666;border-radius:.4rem}\
button{margin-top:1rem;width:100%;padding:.75rem;font-size:1rem;background:#b3261e;color:#fff;border:0;border-radius:.4rem}\
button.secondary{background:#444}.err{background:#fde7e7;border-left:4px solid #b3261e;padding:.6rem}\
.ok{background:#e6f4ea;border-left:4px solid #1e7e34;padding:.6rem}nav{font-size:.9rem;margin-top:1.2rem}\
a{color:#0b57d0}:focus{outline:3px solid #0b57d0;outline-offset:2px}code{font-size:1rem}";

fn page(lang: Lang, title: &str, body: &str) -> Html<String> {
    let (other, other_label) = match lang {
        Lang::Id => ("en", "English"),
        Lang::En => ("id", "Bahasa Indonesia"),
    };
    let html_lang = if lang == Lang::En { "en" } else { "id" };
    Html(format!(
        "<!doctype html><html lang=\"{html_lang}\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{title} · KREKI ID</title>\
<style>{CSS}</style></head><body><header><p><strong>KREKI ID</strong> · <a href=\"?lang={other}\" hreflang=\"{other}\">{other_label}</a></p></header>\
<main><h1>{title}</h1>{body}</main></body></html>",
        title = esc(title)
    ))
}

fn with_csp(mut res: Response) -> Response {
    res.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'"),
    );
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    own_format(res)
}

pub fn message_page(lang: Lang, title: &str, text: &str) -> Response {
    with_csp(
        page(
            lang,
            title,
            &format!(
                "<p>{}</p><nav><a href=\"/akun/\">KREKI ID</a></nav>",
                esc(text)
            ),
        )
        .into_response(),
    )
}

fn error_box(msg: Option<&str>) -> String {
    msg.map(|m| format!("<p class=\"err\" role=\"alert\">{}</p>", esc(m)))
        .unwrap_or_default()
}

/// A CSRF token: a cookie and the same value in the form (double submit, SameSite=Strict).
fn csrf(headers: &HeaderMap) -> (String, Option<HeaderValue>) {
    match web::cookie(headers, CSRF_COOKIE) {
        Some(v) if v.len() >= 32 => (v.to_string(), None),
        _ => {
            let v = random_token();
            let c = web::set_cookie(CSRF_COOKIE, &v, 86_400, false, "Strict");
            (v, Some(c))
        }
    }
}

fn csrf_ok(headers: &HeaderMap, form: &[(String, String)]) -> bool {
    match (web::cookie(headers, CSRF_COOKIE), field(form, "csrf")) {
        (Some(a), Some(b)) => subtle::ConstantTimeEq::ct_eq(a.as_bytes(), b.as_bytes()).into(),
        _ => false,
    }
}

fn finish(status: StatusCode, html: Html<String>, cookies: Vec<HeaderValue>) -> Response {
    let mut res = (status, html).into_response();
    for c in cookies {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    with_csp(res)
}

/// What every form submission starts with: its language, fields, CSRF token (and the cookie
/// to set when it is new), where to go back to, and whether its CSRF token matched.
struct Posted {
    lang: Lang,
    form: Vec<(String, String)>,
    token: String,
    cc: Option<HeaderValue>,
    ret: String,
    csrf_valid: bool,
}

fn posted(headers: &HeaderMap, body: &Bytes) -> Posted {
    let form = web::parse_form(body).unwrap_or_default();
    let (token, cc) = csrf(headers);
    Posted {
        lang: lang_of(headers),
        ret: safe_return(field(&form, "return_to")),
        csrf_valid: csrf_ok(headers, &form),
        form,
        token,
        cc,
    }
}

fn hidden(name: &str, value: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"{name}\" value=\"{}\">",
        esc(value)
    )
}

fn parse_query(q: Option<String>) -> Vec<(String, String)> {
    web::parse_form(q.unwrap_or_default().as_bytes()).unwrap_or_default()
}

// ---- sign-in ----------------------------------------------------------------------------

fn login_html(
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

async fn login_form(headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
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

async fn start_session(
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

fn mfa_html(
    lang: Lang,
    csrf: &str,
    ticket: &str,
    return_to: &str,
    error: Option<&str>,
    enroll: Option<(&str, &str)>,
    notice: Option<&str>,
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
<form method=\"post\" action=\"/akun/mfa\">{c}{tk}{r}<button class=\"secondary\" type=\"submit\" name=\"step\" value=\"sms\">{sms}</button></form>",
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

async fn login_submit(
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
                    && api::enrol_once(&idp, &a, &ticket, ip).await.is_ok();
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
                    if crate::store::Store::save_account(&mut tx, &mut a)
                        .await
                        .is_err()
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
                        "Akun ini memakai passkey. Masuk dengan passkey di aplikasi KREKI, atau minta kode lewat SMS.",
                        "This account uses a passkey. Sign in with it in the KREKI apps, or ask for a code by SMS.",
                    )
                });
                let html = mfa_html(
                    lang,
                    &token,
                    &ticket,
                    &ret,
                    None,
                    enroll.as_ref().map(|(s, q)| (s.as_str(), q.as_str())),
                    passkey_note,
                );
                return finish(StatusCode::OK, html, cc.into_iter().collect());
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

async fn mfa_submit(
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
    if field(&form, "step") == Some("sms") {
        let html = match api::send_mfa_sms(&idp, &ticket, ip).await {
            Ok(masked) => {
                let note = format!("{} {masked}", t(lang, "Kode dikirim ke", "Code sent to"));
                (
                    StatusCode::OK,
                    mfa_html(lang, &token, &ticket, &ret, None, None, Some(&note)),
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
                mfa_html(lang, &token, &ticket, &ret, Some(msg), None, None),
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

async fn session_account(idp: &Idp, headers: &HeaderMap) -> Option<(String, Account)> {
    let c = web::cookie(headers, SESSION_COOKIE)?;
    let (sid, account, _, _) = idp.store.session(c).await.ok()??;
    Some((sid, idp.store.account(&account).await.ok()??))
}

async fn home(State(idp): State<Arc<Idp>>, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
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

async fn logout(State(idp): State<Arc<Idp>>, headers: HeaderMap, body: Bytes) -> Response {
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

// ---- sign-in by phone code ---------------------------------------------------------------

fn phone_html(
    lang: Lang,
    csrf: &str,
    return_to: &str,
    error: Option<&str>,
    phone: Option<&str>,
) -> Html<String> {
    let step = match phone {
        None => format!(
            "<label for=\"phone\">{}</label><input id=\"phone\" name=\"phone\" type=\"tel\" autocomplete=\"tel\" required>\
<button type=\"submit\" name=\"step\" value=\"send\">{}</button>",
            t(lang, "Nomor HP", "Phone number"),
            t(lang, "Kirim kode", "Send a code")
        ),
        Some(p) => format!(
            "<p class=\"ok\" role=\"status\">{}</p>{}<label for=\"code\">{}</label>\
<input id=\"code\" name=\"code\" inputmode=\"numeric\" autocomplete=\"one-time-code\" required>\
<button type=\"submit\" name=\"step\" value=\"verify\">{}</button>",
            t(
                lang,
                "Jika nomor ini terdaftar, kode 6 angka sudah dikirim (berlaku 5 menit).",
                "If this number is registered, a 6-digit code is on its way (valid 5 minutes)."
            ),
            hidden("phone", p),
            t(lang, "Kode", "Code"),
            t(lang, "Masuk", "Sign in")
        ),
    };
    page(
        lang,
        t(lang, "Masuk dengan kode SMS", "Sign in with an SMS code"),
        &format!(
            "{}<form method=\"post\" action=\"/akun/masuk-telepon\">{}{}{step}</form><nav><a href=\"/akun/masuk\">{}</a></nav>",
            error_box(error),
            hidden("csrf", csrf),
            hidden("return_to", return_to),
            t(lang, "Masuk dengan kata sandi", "Sign in with a password")
        ),
    )
}

async fn phone_form(headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    let q = parse_query(q);
    let (lang, lc) = lang_from(&headers, &q);
    let (token, cc) = csrf(&headers);
    finish(
        StatusCode::OK,
        phone_html(
            lang,
            &token,
            &safe_return(field(&q, "return_to")),
            None,
            None,
        ),
        lc.into_iter().chain(cc).collect(),
    )
}

async fn phone_submit(
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
    let cookies = || cc.clone().into_iter().collect::<Vec<_>>();
    if !csrf_valid {
        let msg = t(
            lang,
            "Sesi formulir kedaluwarsa. Silakan coba lagi.",
            "The form expired. Please try again.",
        );
        return finish(
            StatusCode::FORBIDDEN,
            phone_html(lang, &token, &ret, Some(msg), None),
            cookies(),
        );
    }
    let phone = match api::normalize_phone(field(&form, "phone").unwrap_or("")) {
        Ok(p) => p,
        Err(e) => {
            return finish(
                e.status,
                phone_html(lang, &token, &ret, Some(e.msg.get(lang)), None),
                cookies(),
            );
        }
    };
    if field(&form, "step") == Some("verify") {
        return match api::phone_code_first_factor(
            &idp,
            &phone,
            field(&form, "code").unwrap_or(""),
            ip,
        )
        .await
        {
            Ok(a) if idp.mfa_needed(&a).await => match idp.mfa_ticket(&a, "sms").await {
                Ok(ticket) => finish(
                    StatusCode::OK,
                    mfa_html(lang, &token, &ticket, &ret, None, None, None),
                    cookies(),
                ),
                Err(_) => message_page(lang, "KREKI ID", t(lang, "Coba lagi.", "Try again.")),
            },
            Ok(a) => start_session(&idp, &a, "sms", &ret, ip, "sms").await,
            Err(e) => finish(
                e.status,
                phone_html(
                    lang,
                    &token,
                    &ret,
                    Some(e.msg.get(lang)),
                    Some(phone.as_str()),
                ),
                cookies(),
            ),
        };
    }
    match api::send_login_code(&idp, &phone, ip).await {
        Ok(()) => finish(
            StatusCode::OK,
            phone_html(lang, &token, &ret, None, Some(phone.as_str())),
            cookies(),
        ),
        Err(e) => {
            let mut r = finish(
                e.status,
                phone_html(lang, &token, &ret, Some(e.msg.get(lang)), None),
                cookies(),
            );
            if let Some(s) = e.retry_after_s
                && let Ok(v) = HeaderValue::from_str(&s.to_string())
            {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            r
        }
    }
}

// ---- consent ----------------------------------------------------------------------------

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

async fn consent_submit(
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
    let req = match oidc::validate_authz(&idp, &query).await {
        Ok(r) => r,
        Err(e) => return oidc::authz_error_response(&idp, e, lang),
    };
    let Some((sid, a)) = session_account(&idp, &headers).await else {
        return to_login(&format!("/oauth2/authorize?{query}"));
    };
    if field(&form, "decision") != Some("allow") {
        return oidc::authz_error_response(
            &idp,
            oidc::AuthzError::Redirect {
                redirect_uri: req.redirect_uri,
                state: req.state,
                error: "access_denied",
                description: "the user denied access",
            },
            lang,
        );
    }
    let now = now_micros();
    let mut ok = sqlx::query("DELETE FROM client_grants WHERE account_id = $1 AND client_id = $2")
        .bind(&a.id)
        .bind(&req.client.client_id)
        .execute(idp.store.db.writer())
        .await
        .is_ok();
    ok &= sqlx::query("INSERT INTO client_grants (account_id, client_id, scope, granted_at) VALUES ($1, $2, $3, $4)")
        .bind(&a.id).bind(&req.client.client_id).bind(&req.scope).bind(now).execute(idp.store.db.writer()).await.is_ok();
    if let Ok(mut tx) = idp.store.db.begin().await {
        let _ = crate::store::audit(
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
    oidc::issue_code(&idp, &req, &a.id, &sid, &amr, auth_time).await
}

// ---- registration and passwords ---------------------------------------------------------

fn register_html(
    lang: Lang,
    csrf: &str,
    return_to: &str,
    error: Option<&str>,
    form: &[(String, String)],
) -> Html<String> {
    let v = |k| esc(field(form, k).unwrap_or(""));
    let volunteer = field(form, "role") == Some("volunteer");
    page(
        lang,
        t(lang, "Daftar", "Create an account"),
        &format!(
            "{err}<form method=\"post\" action=\"/akun/daftar\">{c}{r}\
<label for=\"full_name\">{l_name}</label><input id=\"full_name\" name=\"full_name\" autocomplete=\"name\" required value=\"{name}\">\
<label for=\"email\">E-mail</label><input id=\"email\" name=\"email\" type=\"email\" autocomplete=\"email\" value=\"{email}\">\
<label for=\"phone\">{l_phone}</label><input id=\"phone\" name=\"phone\" type=\"tel\" autocomplete=\"tel\" value=\"{phone}\">\
<label for=\"password\">{l_pw}</label><input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"new-password\" required aria-describedby=\"pwhelp\">\
<p id=\"pwhelp\">{pwhelp}</p>\
<label for=\"role\">{l_role}</label><select id=\"role\" name=\"role\"><option value=\"public\">{o_pub}</option><option value=\"volunteer\"{sel}>{o_vol}</option></select>\
<button type=\"submit\">{b}</button></form><nav><a href=\"/akun/masuk\">{have}</a></nav>",
            err = error_box(error),
            c = hidden("csrf", csrf),
            r = hidden("return_to", return_to),
            l_name = t(lang, "Nama lengkap", "Full name"),
            name = v("full_name"),
            email = v("email"),
            phone = v("phone"),
            l_phone = t(lang, "Nomor HP", "Phone number"),
            l_pw = t(lang, "Kata sandi", "Password"),
            pwhelp = t(
                lang,
                "Minimal 8 karakter, satu huruf besar dan satu angka; hindari kata yang mudah ditebak.",
                "At least 8 characters, an upper-case letter and a digit; avoid guessable words."
            ),
            l_role = t(lang, "Saya mendaftar sebagai", "I am signing up as"),
            o_pub = t(lang, "Masyarakat umum", "Member of the public"),
            o_vol = t(lang, "Relawan", "Volunteer"),
            sel = if volunteer { " selected" } else { "" },
            b = t(lang, "Daftar", "Create account"),
            have = t(lang, "Sudah punya akun? Masuk", "Have an account? Sign in")
        ),
    )
}

async fn register_form(headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    let q = parse_query(q);
    let (lang, lc) = lang_from(&headers, &q);
    let (token, cc) = csrf(&headers);
    finish(
        StatusCode::OK,
        register_html(
            lang,
            &token,
            &safe_return(field(&q, "return_to")),
            None,
            &[],
        ),
        lc.into_iter().chain(cc).collect(),
    )
}

async fn register_submit(
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
    if !csrf_valid {
        let msg = t(
            lang,
            "Sesi formulir kedaluwarsa. Silakan coba lagi.",
            "The form expired. Please try again.",
        );
        return finish(
            StatusCode::FORBIDDEN,
            register_html(lang, &token, &ret, Some(msg), &form),
            cc.into_iter().collect(),
        );
    }
    let b = RegisterBody {
        email: field(&form, "email").map(str::to_string),
        phone: field(&form, "phone").map(str::to_string),
        password: field(&form, "password").unwrap_or("").to_string(),
        full_name: field(&form, "full_name").unwrap_or("").to_string(),
        role: field(&form, "role").map(str::to_string),
        language: Some(if lang == Lang::En { "en" } else { "id" }.into()),
    };
    match api::register_account(&idp, b, ip).await {
        // The same page whether the address was free or already registered (no account
        // enumeration; the owner of a registered one is told by e-mail or SMS): sign in next.
        Ok(_) => {
            let q: String = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("return_to", &ret)
                .finish();
            with_csp(
                page(
                    lang,
                    t(lang, "Pendaftaran diterima", "Registration received"),
                    &format!(
                        "<p class=\"ok\" role=\"status\">{}</p><nav><a href=\"/akun/masuk?{}\">{}</a></nav>",
                        t(
                            lang,
                            "Terima kasih. Kami mengirim pesan ke e-mail atau nomor Anda; periksa kotak masuk untuk memverifikasi alamat Anda. Jika alamat itu sudah terdaftar, pesan tersebut menjelaskan cara masuk. Lalu masuk dengan kata sandi Anda.",
                            "Thank you. We sent a message to your e-mail or phone; check your inbox to verify your address. If the address was already registered, the message tells you how to sign in. Then sign in with your password."
                        ),
                        esc(&q),
                        t(lang, "Masuk", "Sign in")
                    ),
                )
                .into_response(),
            )
        }
        Err(e) => {
            let msg = e.msg.get(lang).to_string();
            let mut r = finish(
                e.status,
                register_html(lang, &token, &ret, Some(&msg), &form),
                cc.into_iter().collect(),
            );
            if let Some(s) = e.retry_after_s
                && let Ok(v) = HeaderValue::from_str(&s.to_string())
            {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            r
        }
    }
}

async fn forgot_form(headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    let q = parse_query(q);
    let (lang, lc) = lang_from(&headers, &q);
    let (token, cc) = csrf(&headers);
    let html = page(
        lang,
        t(lang, "Lupa kata sandi", "Forgot password"),
        &format!(
            "<form method=\"post\" action=\"/akun/lupa-sandi\">{}<label for=\"email\">E-mail</label>\
<input id=\"email\" name=\"email\" type=\"email\" autocomplete=\"email\" required><button type=\"submit\">{}</button></form>",
            hidden("csrf", &token),
            t(lang, "Kirim tautan reset", "Send a reset link")
        ),
    );
    finish(StatusCode::OK, html, lc.into_iter().chain(cc).collect())
}

async fn forgot_submit(State(idp): State<Arc<Idp>>, headers: HeaderMap, body: Bytes) -> Response {
    let Posted {
        lang,
        form,
        csrf_valid,
        ..
    } = posted(&headers, &body);
    if csrf_valid && let Err(e) = api::forgot(&idp, field(&form, "email").unwrap_or("")).await {
        tracing::warn!(code = %e.code, "forgot password");
    }
    message_page(
        lang,
        t(lang, "Periksa e-mail Anda", "Check your e-mail"),
        t(
            lang,
            "Jika alamat itu terdaftar, tautan reset sudah dikirim.",
            "If that address is registered, a reset link is on its way.",
        ),
    )
}

fn reset_html(lang: Lang, csrf: &str, token: &str, error: Option<&str>) -> Html<String> {
    page(
        lang,
        t(lang, "Atur kata sandi baru", "Set a new password"),
        &format!(
            "{}<form method=\"post\" action=\"/akun/reset-sandi\">{}{}<label for=\"password\">{}</label>\
<input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"new-password\" required><button type=\"submit\">{}</button></form>",
            error_box(error),
            hidden("csrf", csrf),
            hidden("token", token),
            t(lang, "Kata sandi baru", "New password"),
            t(lang, "Simpan", "Save")
        ),
    )
}

async fn reset_form(headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    let q = parse_query(q);
    let (lang, lc) = lang_from(&headers, &q);
    let (token, cc) = csrf(&headers);
    let mut res = finish(
        StatusCode::OK,
        reset_html(lang, &token, field(&q, "token").unwrap_or(""), None),
        lc.into_iter().chain(cc).collect(),
    );
    // The link's token must not leak to other sites.
    res.headers_mut().insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    res
}

async fn reset_submit(
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
    if !csrf_valid {
        return finish(
            StatusCode::FORBIDDEN,
            reset_html(
                lang,
                &csrf_token,
                &token,
                Some(t(lang, "Sesi formulir kedaluwarsa.", "The form expired.")),
            ),
            cc.into_iter().collect(),
        );
    }
    match api::reset(&idp, &token, field(&form, "password").unwrap_or(""), ip).await {
        Ok(()) => message_page(
            lang,
            t(lang, "Kata sandi diganti", "Password changed"),
            t(
                lang,
                "Silakan masuk dengan kata sandi baru.",
                "Sign in with your new password.",
            ),
        ),
        Err(e) => {
            let msg = e.msg.get(lang).to_string();
            finish(
                e.status,
                reset_html(lang, &csrf_token, &token, Some(&msg)),
                cc.into_iter().collect(),
            )
        }
    }
}

async fn verify_email(
    State(idp): State<Arc<Idp>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let q = parse_query(q);
    let (lang, _) = lang_from(&headers, &q);
    match api::verify_email_token(&idp, field(&q, "token").unwrap_or("")).await {
        Ok(_) => message_page(
            lang,
            t(lang, "E-mail terverifikasi", "E-mail verified"),
            t(lang, "Terima kasih.", "Thank you."),
        ),
        Err(e) => {
            let mut r = message_page(
                lang,
                t(lang, "Tautan tidak valid", "Invalid link"),
                e.msg.get(lang),
            );
            *r.status_mut() = StatusCode::BAD_REQUEST;
            r
        }
    }
}
