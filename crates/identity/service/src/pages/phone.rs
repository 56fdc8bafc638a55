//! Sign-in with a code sent by SMS.

use std::sync::Arc;

use axum::{
    body::Bytes,
    extract::{RawQuery, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{Html, Response},
};
use kreki_platform::{error::Lang, http::ClientIp};

use super::{session::start_session, signin::mfa_html};
use crate::{
    http::normalize_phone,
    idp::Idp,
    login::codes::{phone_code_first_factor, send_login_code},
    ui::{
        Posted, csrf, error_box, finish, hidden, lang_from, message_page, page, parse_query,
        posted, safe_return,
    },
    web::{get as field, t},
};

pub fn phone_html(
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

pub async fn phone_form(headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
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

pub async fn phone_submit(
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
    let phone = match normalize_phone(field(&form, "phone").unwrap_or("")) {
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
        return match phone_code_first_factor(&idp, &phone, field(&form, "code").unwrap_or(""), ip)
            .await
        {
            Ok(a) if idp.mfa_needed(&a).await => match idp.mfa_ticket(&a, "sms").await {
                Ok(ticket) => finish(
                    StatusCode::OK,
                    mfa_html(lang, &token, &ticket, &ret, None, None, None, None),
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
    match send_login_code(&idp, &phone, ip).await {
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
