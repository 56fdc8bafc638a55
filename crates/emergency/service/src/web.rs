//! The browser apps of the Emergency Core: the caller app (HELP 119) at `/`, the volunteer
//! app at `/relawan/`, the dispatcher console at `/ops/`.
//!
//! They are **embedded in the binary** (`build.rs` includes `web/dist` as it was at build
//! time), so `kreki` serves them from any working directory. `[emergency] web_dir` names a
//! built directory that overrides the embedded copy (a web developer's `web/dist`, or a
//! newer build without a new binary). A binary built before the web apps embeds none: it
//! says so at start, serves the build hint below, and its readiness is `unavailable` (503,
//! reason `web`) — a replica that cannot serve the caller app must not take traffic.
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

use std::{borrow::Cow, path::PathBuf};

use axum::{
    Router,
    body::Body,
    extract::{Request, State},
    handler::Handler,
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

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/web_assets.rs"));
}

/// An embedded file: its content and ETag.
fn embedded(rel: &str) -> Option<(&'static [u8], &'static str)> {
    embedded::FILES
        .binary_search_by_key(&rel, |(p, _, _)| p)
        .ok()
        .map(|i| (embedded::FILES[i].1, embedded::FILES[i].2))
}

/// Where the apps come from.
#[derive(Clone, Debug)]
pub enum WebSource {
    /// The copy built into the binary (none when it was built before the web apps).
    Embedded,
    /// A built directory (`[emergency] web_dir`).
    Dir(PathBuf),
}

impl WebSource {
    /// `web_dir` empty: the embedded apps; otherwise that directory.
    pub fn from_config(web_dir: &str) -> WebSource {
        if web_dir.trim().is_empty() {
            WebSource::Embedded
        } else {
            WebSource::Dir(PathBuf::from(web_dir))
        }
    }

    /// Can the caller app be served? (Checked at every readiness probe, so a directory that
    /// appears or disappears is seen.)
    pub fn available(&self) -> bool {
        match self {
            WebSource::Embedded => embedded("index.html").is_some(),
            WebSource::Dir(d) => d.join("index.html").is_file(),
        }
    }

    /// How many files the binary embeds.
    pub fn embedded_files() -> usize {
        embedded::FILES.len()
    }

    fn describe(&self) -> String {
        match self {
            WebSource::Embedded => "(embedded in the binary)".into(),
            WebSource::Dir(d) => d.display().to_string(),
        }
    }

    async fn read(&self, rel: &str) -> Option<Cow<'static, [u8]>> {
        match self {
            WebSource::Embedded => embedded(rel).map(|(b, _)| Cow::Borrowed(b)),
            WebSource::Dir(d) => tokio::fs::read(d.join(rel)).await.ok().map(Cow::Owned),
        }
    }
}

/// The readiness condition of the apps: `None` while the caller app can be served.
pub fn readiness(source: &WebSource) -> Option<kreki_platform::health::Condition> {
    (!source.available()).then(|| kreki_platform::health::Condition {
        component: "web".into(),
        level: kreki_platform::health::Level::Unavailable,
        reason: match source {
            WebSource::Embedded => "the binary embeds no web apps (built before web/dist): \
                                    rebuild after scripts/setup.sh, or set [emergency] web_dir"
                .into(),
            WebSource::Dir(_) => "the configured [emergency] web_dir has no index.html".into(),
        },
    })
}

/// Say at start where the apps come from.
pub fn log_source(source: &WebSource) {
    match (source, source.available()) {
        (WebSource::Embedded, true) => tracing::info!(
            files = WebSource::embedded_files(),
            "web apps: embedded in the binary"
        ),
        (WebSource::Embedded, false) => tracing::warn!(
            "web apps: the binary embeds none (built before web/dist); serving the build hint, \
             readiness unavailable; rebuild after scripts/setup.sh or set [emergency] web_dir"
        ),
        (WebSource::Dir(d), true) => {
            tracing::info!(web_dir = %d.display(), "web apps: from the configured directory")
        }
        (WebSource::Dir(d), false) => tracing::warn!(
            web_dir = %d.display(),
            "web apps: the configured directory is not built; serving the build hint, readiness unavailable"
        ),
    }
}

#[derive(Clone)]
struct Dir(WebSource);

/// What the apps read at start (`GET /app-config.json`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct AppConfig {
    pub map_tile_url: String,
    pub sms_number: Option<String>,
}

/// The router of the three apps, from `source`.
pub fn router(source: WebSource, config: AppConfig) -> Router {
    let dir = Dir(source.clone());
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
        .route("/index.html", get(|| async { Redirect::permanent("/") }));
    r = match &source {
        WebSource::Dir(d) => r
            .route_service("/sw.js", ServeFile::new(d.join("sw.js")))
            .route_service(
                "/manifest.webmanifest",
                ServeFile::new(d.join("manifest.webmanifest")),
            )
            .nest_service("/app", ServeDir::new(d.join("app"))),
        // Mounted as services like the directory's, so that the access declarations are
        // the same (the handler answers GET and HEAD).
        WebSource::Embedded => r
            .route_service(
                "/sw.js",
                (|req: Request| embedded_file(req, "sw.js".into())).with_state(()),
            )
            .route_service(
                "/manifest.webmanifest",
                (|req: Request| embedded_file(req, "manifest.webmanifest".into())).with_state(()),
            )
            .nest_service(
                "/app",
                (|req: Request| async move {
                    let path = format!("app{}", req.uri().path());
                    embedded_file(req, path).await
                })
                .with_state(()),
            ),
    };
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
            );
        r = match &source {
            WebSource::Dir(d) => r
                .route_service(
                    &format!("{prefix}/sw.js"),
                    ServeFile::new(d.join(folder).join("sw.js")),
                )
                .route_service(
                    &format!("{prefix}/manifest.webmanifest"),
                    ServeFile::new(d.join(folder).join("manifest.webmanifest")),
                ),
            WebSource::Embedded => r
                .route_service(
                    &format!("{prefix}/sw.js"),
                    (move |req: Request| embedded_file(req, format!("{folder}/sw.js")))
                        .with_state(()),
                )
                .route_service(
                    &format!("{prefix}/manifest.webmanifest"),
                    (move |req: Request| {
                        embedded_file(req, format!("{folder}/manifest.webmanifest"))
                    })
                    .with_state(()),
                ),
        };
    }
    r.layer(middleware::from_fn(headers))
}

/// One embedded file with its type and ETag (`304` when the browser has it).
async fn embedded_file(req: Request, rel: String) -> Response {
    let rel = rel.as_str();
    if req.method() != axum::http::Method::GET && req.method() != axum::http::Method::HEAD {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    if rel.split('/').any(|s| s == ".." || s.is_empty()) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let Some((bytes, etag)) = embedded(rel) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if req
        .headers()
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes())
    {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    (
        [
            (header::CONTENT_TYPE, content_type(rel)),
            (header::ETAG, etag),
        ],
        Body::from(bytes),
    )
        .into_response()
}

/// The type of an embedded file, by its extension.
fn content_type(rel: &str) -> &'static str {
    match rel.rsplit('.').next().unwrap_or_default() {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "webmanifest" => "application/manifest+json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "ico" => "image/x-icon",
        "webp" => "image/webp",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "txt" => "text/plain; charset=utf-8",
        "map" => "application/json",
        _ => "application/octet-stream",
    }
}

async fn page(State((dir, folder)): State<(Dir, &'static str)>) -> Response {
    let file = if folder.is_empty() {
        "index.html".to_string()
    } else {
        format!("{folder}/index.html")
    };
    match dir.0.read(&file).await {
        Some(bytes) => (
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            Body::from(bytes),
        )
            .into_response(),
        None => not_built(&dir.0),
    }
}

/// Said at the apps' paths when the web directory has not been built.
fn not_built(source: &WebSource) -> Response {
    tracing::warn!(web_dir = %source.describe(), "web apps not built; serving the build hint");
    let shown = html_escape(&source.describe());
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
