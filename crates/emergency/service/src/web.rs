//! The browser apps of the Emergency Core, served from a built directory
//! (`[emergency] web_dir`, default `web/dist`, made by `scripts/setup.sh` / `npm run build`):
//! the caller app (HELP 119) at `/`, the volunteer app at `/relawan/`, the dispatcher console
//! at `/ops/`.
//!
//! Layout of the directory (see `web/build.mjs`):
//! - `index.html`, `sw.js`, `manifest.webmanifest`: the caller app's entry points;
//! - `relawan/` and `ops/`: the same for the volunteer app and the console;
//! - `app/<build id>/…`: scripts, styles, icons and Leaflet — a new build gets a new id, so these
//!   are cached for a year (`immutable`), while the entry points and service workers are
//!   `no-cache` (always revalidated, so an update reaches phones at the next visit).
//!
//! Every response carries a strict Content-Security-Policy (scripts and styles only from the
//! site; images also from `https:` for map tiles; connections to the site and its sockets).
//! Without the directory the pages say, in Bahasa Indonesia and English, how to build them.

use std::path::{Path, PathBuf};

use axum::{
    Router,
    body::Body,
    extract::{Request, State},
    http::{HeaderValue, StatusCode, header},
    middleware::{self, Next},
    response::{Html, IntoResponse, Redirect, Response},
    routing::get,
};
use tower_http::services::{ServeDir, ServeFile};

/// The pages' Content-Security-Policy.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
img-src 'self' data: blob: https:; connect-src 'self'; worker-src 'self'; manifest-src 'self'; \
font-src 'self'; media-src 'self' data:; object-src 'none'; base-uri 'none'; \
form-action 'self'; frame-ancestors 'none'";

/// Long-lived cache for the build-id-versioned assets.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Entry points and service workers: always revalidated.
const NO_CACHE: &str = "no-cache";

/// One app: its path prefix (`""` for the caller app) and its folder in the web directory.
const APPS: &[(&str, &str)] = &[("/relawan", "relawan"), ("/ops", "ops")];

#[derive(Clone)]
struct Dir(PathBuf);

/// What the apps read at start (`GET /app-config.json`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct AppConfig {
    pub map_tile_url: String,
    pub sms_number: Option<String>,
}

/// The router of the three apps, from `dir`.
pub fn router(dir: impl Into<PathBuf>, config: AppConfig) -> Router {
    let dir = Dir(dir.into());
    let config = std::sync::Arc::new(config);
    let mut r = Router::new()
        .route(
            "/app-config.json",
            get(move || {
                let c = config.clone();
                async move { axum::Json((*c).clone()) }
            }),
        )
        .route("/", get(page).with_state((dir.clone(), "")))
        .route("/index.html", get(|| async { Redirect::permanent("/") }))
        .route_service("/sw.js", ServeFile::new(dir.0.join("sw.js")))
        .route_service(
            "/manifest.webmanifest",
            ServeFile::new(dir.0.join("manifest.webmanifest")),
        )
        .nest_service("/app", ServeDir::new(dir.0.join("app")));
    for (prefix, folder) in APPS {
        let base = format!("{prefix}/");
        r = r
            .route(
                prefix,
                get(move || async move { Redirect::permanent(&base) }),
            )
            .route(
                &format!("{prefix}/"),
                get(page).with_state((dir.clone(), *folder)),
            )
            .route(
                &format!("{prefix}/callback"),
                get(page).with_state((dir.clone(), *folder)),
            )
            .route_service(
                &format!("{prefix}/sw.js"),
                ServeFile::new(dir.0.join(folder).join("sw.js")),
            )
            .route_service(
                &format!("{prefix}/manifest.webmanifest"),
                ServeFile::new(dir.0.join(folder).join("manifest.webmanifest")),
            );
    }
    r.layer(middleware::from_fn(headers))
}

async fn page(State((dir, folder)): State<(Dir, &'static str)>) -> Response {
    let file = dir.0.join(folder).join("index.html");
    match tokio::fs::read(&file).await {
        Ok(bytes) => (
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            Body::from(bytes),
        )
            .into_response(),
        Err(_) => not_built(&dir.0),
    }
}

/// Said at the apps' paths when the web directory has not been built.
fn not_built(dir: &Path) -> Response {
    tracing::warn!(web_dir = %dir.display(), "web apps not built; serving the build hint");
    let shown = html_escape(&dir.display().to_string());
    (
        StatusCode::OK,
        Html(format!(
            "<!doctype html><html lang=\"id\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<title>HELP 119 — aplikasi web belum dibangun</title></head><body>\
<main><h1>Aplikasi web HELP 119 belum dibangun</h1>\
<p>Folder <code>{shown}</code> tidak ada. Bangun aplikasinya dengan <code>scripts/setup.sh</code> \
(atau <code>npm ci &amp;&amp; npm run build</code> di folder <code>web/</code>), \
atau atur <code>[emergency] web_dir</code> / <code>KREKI_EMERGENCY__WEB_DIR</code>.</p>\
<p><strong>Dalam keadaan darurat, telepon 119.</strong></p>\
<h2 lang=\"en\">The HELP 119 web apps are not built</h2>\
<p lang=\"en\">The folder <code>{shown}</code> is missing. Build the apps with \
<code>scripts/setup.sh</code> (or <code>npm ci &amp;&amp; npm run build</code> in <code>web/</code>), \
or set <code>[emergency] web_dir</code> / <code>KREKI_EMERGENCY__WEB_DIR</code>.</p>\
<p lang=\"en\"><strong>In an emergency, call 119.</strong></p></main></body></html>"
        )),
    )
        .into_response()
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn headers(req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let versioned = path.starts_with("/app/");
    let mut res = next.run(req).await;
    let ok = res.status().is_success() || res.status() == StatusCode::NOT_MODIFIED;
    let cache = if versioned && ok { IMMUTABLE } else { NO_CACHE };
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Some(scope) = path.strip_suffix("sw.js")
        && let Ok(v) = HeaderValue::from_str(scope)
    {
        // A service worker controls its app's path (where it sits; said explicitly).
        h.insert("service-worker-allowed", v);
    }
    res
}
