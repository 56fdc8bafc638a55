//! Registration, forgotten password, reset and e-mail verification pages.

use std::sync::Arc;

use axum::{
    body::Bytes,
    extract::{RawQuery, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
};
use kreki_platform::{error::Lang, http::ClientIp};

use crate::{
    account::{
        email::verify_email_token,
        password as passwords,
        register::{RegisterBody, register_account},
    },
    idp::Idp,
    ui::{
        Posted, csrf, error_box, finish, hidden, lang_from, message_page, page, parse_query,
        posted, safe_return, with_csp,
    },
    web::{esc, get as field, t},
};

pub fn register_html(
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

pub async fn register_form(headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
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

pub async fn register_submit(
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
    match register_account(&idp, b, ip).await {
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

pub async fn forgot_form(headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
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

pub async fn forgot_submit(
    State(idp): State<Arc<Idp>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Posted {
        lang,
        form,
        csrf_valid,
        ..
    } = posted(&headers, &body);
    if csrf_valid && let Err(e) = passwords::forgot(&idp, field(&form, "email").unwrap_or("")).await
    {
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

pub fn reset_html(lang: Lang, csrf: &str, token: &str, error: Option<&str>) -> Html<String> {
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

pub async fn reset_form(headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
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

pub async fn reset_submit(
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
    match passwords::reset(&idp, &token, field(&form, "password").unwrap_or(""), ip).await {
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

pub async fn verify_email(
    State(idp): State<Arc<Idp>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let q = parse_query(q);
    let (lang, _) = lang_from(&headers, &q);
    match verify_email_token(&idp, field(&q, "token").unwrap_or("")).await {
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
