//! The building blocks of KREKI ID's server-rendered pages (login pages and the OIDC
//! provider's consent and error pages): layout, language, CSRF, cookies, the browser session.

use axum::{
    body::Bytes,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
};
use kreki_platform::{
    error::Lang,
    pages::{self, Shell},
};

use crate::{
    idp::Idp,
    store::{Account, random_token},
    web::{self, esc, get as field},
};

pub const SESSION_COOKIE: &str = "kreki_session";
pub const CSRF_COOKIE: &str = "kreki_csrf";
pub use kreki_platform::pages::LANG_COOKIE;

pub fn lang_of(headers: &HeaderMap) -> Lang {
    pages::remembered_lang(headers)
}

/// `?lang=` switches the language and remembers it.
pub fn lang_from(headers: &HeaderMap, query: &[(String, String)]) -> (Lang, Option<HeaderValue>) {
    let remember = pages::Cookie {
        path: "/",
        max_age_s: 31_536_000,
        http_only: true,
        same_site: "Lax",
        secure: false,
    };
    pages::choose_lang(headers, field(query, "lang"), &remember)
}

/// Only our own pages and the authorization endpoint are valid places to go back to.
pub fn safe_return(r: Option<&str>) -> String {
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

pub const CSS: &str = "body{font-family:system-ui,sans-serif;max-width:26rem;margin:0 auto;padding:1rem;color:#1a1a1a;line-height:1.45}\
h1{font-size:1.4rem;color:#b3261e}label{display:block;margin-top:.8rem;font-weight:600}\
input,select{width:100%;box-sizing:border-box;padding:.65rem;font-size:1rem;border:1px solid #666;border-radius:.4rem}\
button{margin-top:1rem;width:100%;padding:.75rem;font-size:1rem;background:#b3261e;color:#fff;border:0;border-radius:.4rem}\
button.secondary{background:#444}.err{background:#fde7e7;border-left:4px solid #b3261e;padding:.6rem}\
.ok{background:#e6f4ea;border-left:4px solid #1e7e34;padding:.6rem}nav{font-size:.9rem;margin-top:1.2rem}\
a{color:#0b57d0}:focus{outline:3px solid #0b57d0;outline-offset:2px}code{font-size:1rem}";

const SHELL: Shell = Shell {
    brand: "KREKI ID",
    css: CSS,
};

pub fn page(lang: Lang, title: &str, body: &str) -> Html<String> {
    SHELL.page(lang, title, body, "")
}

pub fn with_csp(res: Response) -> Response {
    pages::page_headers(res)
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

pub fn error_box(msg: Option<&str>) -> String {
    msg.map(|m| format!("<p class=\"err\" role=\"alert\">{}</p>", esc(m)))
        .unwrap_or_default()
}

/// A CSRF token, bound to the browser's session: `<nonce>.<mac>`, where the mac is an
/// HMAC-SHA256 of the nonce keyed with the session cookie (a secret only that browser and
/// the server know). It travels as a cookie and in the form (double submit, SameSite=Strict);
/// a submission counts only when both match and the mac fits the session the request
/// carries, so a token taken from another session (or planted as a cookie by a sibling
/// host) is refused. Before a sign-in there is no session yet: the token is then bound to
/// "no session" and a new one is issued once a session exists. The cookie is `Secure`
/// when the public base URL is https (`secure_cookies`, applied to every page response).
pub fn csrf(headers: &HeaderMap) -> (String, Option<HeaderValue>) {
    let binding = web::cookie(headers, SESSION_COOKIE);
    match web::cookie(headers, CSRF_COOKIE) {
        Some(v) if csrf_bound(v, binding) => (v.to_string(), None),
        _ => {
            let nonce = random_token();
            let v = format!("{nonce}.{}", csrf_mac(&nonce, binding));
            let c = web::set_cookie(CSRF_COOKIE, &v, 86_400, false, "Strict");
            (v, Some(c))
        }
    }
}

fn csrf_mac(nonce: &str, session: Option<&str>) -> String {
    use base64::Engine;
    use hmac::Mac;
    let key = session.map_or(&b"kreki-csrf:no-session"[..], str::as_bytes);
    let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(key) else {
        return String::new();
    };
    mac.update(b"kreki-csrf:");
    mac.update(nonce.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// Whether a token was issued for this session (or for no session, when there is none).
fn csrf_bound(token: &str, session: Option<&str>) -> bool {
    match token.split_once('.') {
        Some((nonce, mac)) if nonce.len() >= 32 && !mac.is_empty() => {
            subtle::ConstantTimeEq::ct_eq(mac.as_bytes(), csrf_mac(nonce, session).as_bytes())
                .into()
        }
        _ => false,
    }
}

pub fn csrf_ok(headers: &HeaderMap, form: &[(String, String)]) -> bool {
    match (web::cookie(headers, CSRF_COOKIE), field(form, "csrf")) {
        (Some(a), Some(b)) => {
            pages::tokens_match(a, b) && csrf_bound(b, web::cookie(headers, SESSION_COOKIE))
        }
        _ => false,
    }
}

/// On a site served over https every cookie of the pages is `Secure` (the CSRF and language
/// cookies are made without knowing the site; this adds the flag where it is missing).
pub fn secure_cookies(mut res: Response) -> Response {
    let fixed: Vec<HeaderValue> = res
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| match v.to_str() {
            Ok(s)
                if !s
                    .split(';')
                    .any(|p| p.trim().eq_ignore_ascii_case("secure")) =>
            {
                HeaderValue::from_str(&format!("{s}; Secure")).unwrap_or_else(|_| v.clone())
            }
            _ => v.clone(),
        })
        .collect();
    if !fixed.is_empty() {
        res.headers_mut().remove(header::SET_COOKIE);
        for v in fixed {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    res
}

pub fn finish(status: StatusCode, html: Html<String>, cookies: Vec<HeaderValue>) -> Response {
    pages::finish(status, html, cookies)
}

/// What every form submission starts with: its language, fields, CSRF token (and the cookie
/// to set when it is new), where to go back to, and whether its CSRF token matched.
pub struct Posted {
    pub lang: Lang,
    pub form: Vec<(String, String)>,
    pub token: String,
    pub cc: Option<HeaderValue>,
    pub ret: String,
    pub csrf_valid: bool,
}

pub fn posted(headers: &HeaderMap, body: &Bytes) -> Posted {
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

pub fn hidden(name: &str, value: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"{name}\" value=\"{}\">",
        esc(value)
    )
}

pub fn parse_query(q: Option<String>) -> Vec<(String, String)> {
    web::parse_form(q.unwrap_or_default().as_bytes()).unwrap_or_default()
}

pub async fn session_account(idp: &Idp, headers: &HeaderMap) -> Option<(String, Account)> {
    let c = web::cookie(headers, SESSION_COOKIE)?;
    let (sid, account, _, _) = idp.store.session(c).await.ok()??;
    Some((sid, idp.store.account(&account).await.ok()??))
}
