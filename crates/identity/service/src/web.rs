//! Small web helpers: form and query parsing, cookies, HTML escaping, OAuth error responses.

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use kreki_platform::pages;

pub use kreki_platform::pages::{cookie, esc, own_format, see_other, t};

/// Parse `application/x-www-form-urlencoded` (body or query). A repeated parameter is an
/// error (RFC 6749 §3.1), reported by name.
pub fn parse_form(raw: &[u8]) -> Result<Vec<(String, String)>, String> {
    pages::form_pairs_unique(raw)
}

pub fn get<'a>(form: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pages::field(form, key)
}

pub fn set_cookie(
    name: &str,
    value: &str,
    max_age_s: i64,
    secure: bool,
    same_site: &str,
) -> HeaderValue {
    pages::Cookie {
        path: "/",
        max_age_s,
        http_only: true,
        same_site,
        secure,
    }
    .set(name, value)
    .unwrap_or_else(|| HeaderValue::from_static("x=; Max-Age=0"))
}

/// An OAuth 2.0 error response (RFC 6749 §5.2).
pub fn oauth_error(status: StatusCode, code: &str, description: &str) -> Response {
    let mut res = (
        status,
        axum::Json(serde_json::json!({ "error": code, "error_description": description })),
    )
        .into_response();
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    if status == StatusCode::UNAUTHORIZED {
        h.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"KREKI ID\""),
        );
    }
    own_format(res)
}

/// A JSON body that must not be cached (token responses).
pub fn no_store_json(v: serde_json::Value) -> Response {
    let mut res = axum::Json(v).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res.headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    res
}
