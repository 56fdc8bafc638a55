//! `/belajar/`: the learner and instructor pages, server-rendered (no script).
//!
//! Sign-in goes through KREKI ID's OpenID Connect provider as the public client
//! `kreki-belajar` (authorization code + PKCE S256, `state` bound to the browser by a
//! cookie). The code is exchanged on the server; the access token is verified like every
//! bearer token and never reaches the browser or a URL. The browser gets a server-side
//! session instead: an opaque random id in an HttpOnly, SameSite=Lax cookie scoped to
//! `/belajar/` (only its SHA-256 is stored), 8 hours, roles as at sign-in, a CSRF token per
//! session checked on every form.

use std::sync::Arc;

use axum::{
    Router,
    extract::{Path, RawQuery, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use kreki_platform::{
    ApiError,
    auth::{Authenticator, Principal},
    error::Lang,
    pages::{Cookie, Form, csrf_field, see_other},
    time_util::now_micros,
    types::sha256_hex,
};
use rand::RngCore;
use sqlx::Row;

use crate::{
    http::AppState,
    pages::{cookie, esc, finish, lang, page, t},
    store::{Answer, LmsError},
};

mod instructor;
mod learner;
mod signin;

pub const SESSION_COOKIE: &str = "kreki_belajar";
const STATE_COOKIE: &str = "kreki_belajar_state";
pub const CLIENT_ID: &str = "kreki-belajar";
const SESSION_MICROS: i64 = 8 * 3_600 * 1_000_000;

#[derive(Clone)]
pub struct Web {
    pub app: AppState,
    pub auth: Arc<Authenticator>,
    /// Where KREKI ID's OIDC endpoints are (the site's base URL).
    pub idp_url: String,
    http: reqwest::Client,
}

impl Web {
    pub fn new(app: AppState, auth: Arc<Authenticator>, idp_url: String) -> Web {
        Web {
            app,
            auth,
            idp_url,
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
        }
    }
    fn base(&self) -> &str {
        self.app.store.base_url()
    }
    fn secure(&self) -> bool {
        self.base().starts_with("https://")
    }
}

pub fn router(web: Web) -> Router {
    Router::new()
        .route("/belajar", get(|| async { see_other("/belajar/") }))
        .route("/belajar/", get(learner::home))
        .route("/belajar/masuk", get(signin::login))
        .route("/belajar/callback", get(signin::callback))
        .route("/belajar/keluar", post(signin::logout))
        .route("/belajar/kursus/{id}", get(learner::course_page))
        .route("/belajar/daftar", post(learner::enroll))
        .route("/belajar/materi/{id}/selesai", post(learner::complete))
        .route(
            "/belajar/kuis/{id}",
            get(learner::quiz_page).post(learner::quiz_submit),
        )
        .route("/belajar/kuis/{id}/mulai", post(learner::quiz_start))
        .route("/belajar/sertifikat", get(learner::certificates_page))
        .route(
            "/belajar/sertifikat/{id}/pdf",
            get(learner::certificate_pdf),
        )
        .route("/belajar/media/{name}", get(learner::media))
        .route("/belajar/instruktur", get(instructor::instructor_page))
        .route(
            "/belajar/instruktur/tandatangan",
            post(instructor::instructor_sign),
        )
        .with_state(web)
}

fn random(n: usize) -> String {
    let mut b = vec![0u8; n];
    rand::thread_rng().fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

/// A cookie of the site under `/belajar/` (HttpOnly, SameSite=Lax; max age 0 deletes).
fn cookie_header(name: &str, value: &str, max_age: i64, secure: bool) -> Option<HeaderValue> {
    Cookie {
        path: "/belajar/",
        max_age_s: max_age,
        http_only: true,
        same_site: "Lax",
        secure,
    }
    .set(name, value)
}

/// The signed-in learner of a request.
pub struct Session {
    pub principal: Principal,
    pub csrf: String,
}

/// Make a session for a verified principal; returns the cookie value.
pub async fn create_session(web: &Web, p: &Principal) -> Result<String, sqlx::Error> {
    let id = random(32);
    let now = now_micros();
    sqlx::query(
        "INSERT INTO web_sessions (id_hash, account_id, roles, csrf, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(sha256_hex(id.as_bytes()))
    .bind(&p.subject)
    .bind(p.roles.join(" "))
    .bind(random(24))
    .bind(now)
    .bind(now + SESSION_MICROS)
    .execute(web.app.store.db().writer())
    .await?;
    Ok(id)
}

async fn session(web: &Web, headers: &HeaderMap) -> Option<Session> {
    let id = cookie(headers, SESSION_COOKIE)?;
    let row = sqlx::query(
        "SELECT account_id, roles, csrf, expires_at FROM web_sessions WHERE id_hash = $1",
    )
    .bind(sha256_hex(id.as_bytes()))
    .fetch_optional(web.app.store.db().pool())
    .await
    .ok()??;
    if row.get::<i64, _>("expires_at") <= now_micros() {
        return None;
    }
    let roles: String = row.get("roles");
    Some(Session {
        principal: Principal {
            subject: row.get("account_id"),
            roles: roles.split_whitespace().map(str::to_string).collect(),
            scopes: Vec::new(),
            client_id: Some(CLIENT_ID.into()),
            token_id: None,
            expires_at: row.get::<i64, _>("expires_at") / 1_000_000,
        },
        csrf: row.get("csrf"),
    })
}

fn nav(lang: Lang, s: Option<&Session>, csrf: &str) -> String {
    match s {
        None => format!(
            "<nav><a href=\"/belajar/\">{}</a> <a id=\"login\" href=\"/belajar/masuk\">{}</a></nav>",
            t(lang, "Kursus", "Courses"),
            t(lang, "Masuk dengan KREKI ID", "Sign in with KREKI ID")
        ),
        Some(_) => format!(
            "<nav><a href=\"/belajar/\">{}</a><a href=\"/belajar/sertifikat\">{}</a><a href=\"/belajar/instruktur\">{}</a>\
<form method=\"post\" action=\"/belajar/keluar\" style=\"display:inline\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
<button id=\"logout\" type=\"submit\">{}</button></form></nav>",
            t(lang, "Kursus", "Courses"),
            t(lang, "Sertifikat saya", "My certificates"),
            t(lang, "Instruktur", "Instructor"),
            esc(csrf),
            t(lang, "Keluar", "Sign out")
        ),
    }
}

fn render(
    lang: Lang,
    s: Option<&Session>,
    title: &str,
    body: &str,
    cookies: Vec<HeaderValue>,
) -> Response {
    render_status(StatusCode::OK, lang, s, title, body, cookies)
}

fn render_status(
    status: StatusCode,
    lang: Lang,
    s: Option<&Session>,
    title: &str,
    body: &str,
    cookies: Vec<HeaderValue>,
) -> Response {
    let csrf = s.map(|s| s.csrf.as_str()).unwrap_or("");
    finish(
        status,
        page(lang, title, body, &nav(lang, s, csrf)),
        cookies,
    )
}

fn error_text(lang: Lang, e: &ApiError) -> String {
    format!(
        "<p class=\"err\" role=\"alert\" data-code=\"{}\">{}</p>",
        esc(&e.code),
        esc(e.msg.get(lang))
    )
}

/// The page language and the cookie that remembers a switch.
fn lang_of(headers: &HeaderMap, q: &Option<String>) -> (Lang, Vec<HeaderValue>) {
    let (l, c) = lang(headers, q.as_deref());
    (l, c.into_iter().collect())
}

/// A page that needs a session: the session, or a redirect to sign-in.
async fn require(web: &Web, headers: &HeaderMap) -> Result<Session, Response> {
    session(web, headers)
        .await
        .ok_or_else(|| see_other("/belajar/masuk"))
}

/// A form post: a session and the session's CSRF token in the form.
async fn require_post(web: &Web, headers: &HeaderMap, f: &Form) -> Result<Session, Response> {
    let s = require(web, headers).await?;
    if !f.csrf_matches(&s.csrf) {
        return Err(ApiError::forbidden().into_response());
    }
    Ok(s)
}

fn hidden_csrf(s: &Session) -> String {
    csrf_field(&s.csrf)
}

/// Forget expired sessions and abandoned sign-ins.
pub async fn prune(db: &kreki_platform::storage::Db, now_us: i64) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM web_sessions WHERE expires_at <= $1")
        .bind(now_us)
        .execute(db.writer())
        .await?;
    sqlx::query("DELETE FROM oidc_logins WHERE created_at <= $1")
        .bind(now_us - 600_000_000)
        .execute(db.writer())
        .await?;
    Ok(())
}
