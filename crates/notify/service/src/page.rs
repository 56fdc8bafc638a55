//! `/admin/notify/`: the operators' page of the notification log (static, served from the
//! binary; it signs in through KREKI ID as the public client `kreki-admin` and calls the API).

use axum::{
    Router,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
    routing::get,
};

const HTML: &str = include_str!("../assets/admin.html");
const JS: &str = include_str!("../assets/admin.js");
const CSS: &str = include_str!("../assets/admin.css");

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    res
}

pub fn router() -> Router {
    Router::new()
        .route(
            "/admin/notify/",
            get(|| async { asset(HTML, "text/html; charset=utf-8") }),
        )
        .route(
            "/admin/notify/admin.js",
            get(|| async { asset(JS, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/admin/notify/admin.css",
            get(|| async { asset(CSS, "text/css; charset=utf-8") }),
        )
}
