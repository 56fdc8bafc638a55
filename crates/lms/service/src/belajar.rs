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
    body::Bytes,
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
    time_util::now_micros,
    types::sha256_hex,
};
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::{
    http::AppState,
    pages::{cookie, esc, finish, lang, page, t},
    store::{Answer, LmsError},
};

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
        .route("/belajar/", get(home))
        .route("/belajar/masuk", get(login))
        .route("/belajar/callback", get(callback))
        .route("/belajar/keluar", post(logout))
        .route("/belajar/kursus/{id}", get(course_page))
        .route("/belajar/daftar", post(enroll))
        .route("/belajar/materi/{id}/selesai", post(complete))
        .route("/belajar/kuis/{id}", get(quiz_page).post(quiz_submit))
        .route("/belajar/kuis/{id}/mulai", post(quiz_start))
        .route("/belajar/sertifikat", get(certificates_page))
        .route("/belajar/sertifikat/{id}/pdf", get(certificate_pdf))
        .route("/belajar/media/{name}", get(media))
        .route("/belajar/instruktur", get(instructor_page))
        .route("/belajar/instruktur/tandatangan", post(instructor_sign))
        .with_state(web)
}

fn random(n: usize) -> String {
    let mut b = vec![0u8; n];
    rand::thread_rng().fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

fn see_other(to: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

fn cookie_header(name: &str, value: &str, max_age: i64, secure: bool) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/belajar/; Max-Age={max_age}; HttpOnly; SameSite=Lax{}",
        if secure { "; Secure" } else { "" }
    ))
    .ok()
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

fn form(body: &Bytes) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn field<'a>(f: &'a [(String, String)], k: &str) -> &'a str {
    f.iter()
        .find(|(a, _)| a == k)
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
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

// ---- sign-in ------------------------------------------------------------------------

async fn login(State(web): State<Web>) -> Response {
    let state = random(24);
    let verifier = random(48);
    let nonce = random(16);
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    if let Err(e) = sqlx::query(
        "INSERT INTO oidc_logins (state_hash, verifier, nonce, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(sha256_hex(state.as_bytes()))
    .bind(&verifier)
    .bind(&nonce)
    .bind(now_micros())
    .execute(web.app.store.db().writer())
    .await
    {
        return ApiError::from(e).into_response();
    }
    let q: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", CLIENT_ID)
        .append_pair("redirect_uri", &format!("{}/belajar/callback", web.base()))
        .append_pair("scope", "openid profile")
        .append_pair("state", &state)
        .append_pair("nonce", &nonce)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .finish();
    let mut res = see_other(&format!("{}/oauth2/authorize?{q}", web.idp_url));
    if let Some(c) = cookie_header(STATE_COOKIE, &state, 600, web.secure()) {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    res
}

async fn callback(State(web): State<Web>, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    let (lang, cookies) = lang_of(&headers, &None);
    let get = |k: &str| crate::pages::query_param(q.as_deref(), k);
    let fail = |msg_id: &str, msg_en: &str| {
        render_status(
            StatusCode::BAD_REQUEST,
            lang,
            None,
            t(lang, "Gagal masuk", "Sign-in failed"),
            &format!(
                "<p class=\"err\" role=\"alert\">{}</p><p><a href=\"/belajar/masuk\">{}</a></p>",
                esc(t(lang, msg_id, msg_en)),
                t(lang, "Coba lagi", "Try again")
            ),
            cookies.clone(),
        )
    };
    let (Some(code), Some(state)) = (get("code"), get("state")) else {
        return fail(
            "Permintaan masuk tidak lengkap.",
            "Incomplete sign-in response.",
        );
    };
    // RFC 9207: an `iss` in the response must be our provider (mix-up defence).
    if get("iss")
        .is_some_and(|i| i.trim_end_matches('/') != web.auth.issuer().trim_end_matches('/'))
    {
        return fail("Penerbit tidak dikenal.", "Unknown issuer.");
    }
    // The state must be the one this browser started with, and is used once.
    if cookie(&headers, STATE_COOKIE) != Some(state.as_str()) {
        return fail(
            "Sesi masuk tidak cocok.",
            "The sign-in does not match this browser.",
        );
    }
    let pending = sqlx::query(
        "DELETE FROM oidc_logins WHERE state_hash = $1 AND created_at > $2 RETURNING verifier",
    )
    .bind(sha256_hex(state.as_bytes()))
    .bind(now_micros() - 600_000_000)
    .fetch_optional(web.app.store.db().writer())
    .await;
    let Ok(Some(row)) = pending else {
        return fail("Sesi masuk kedaluwarsa.", "The sign-in expired.");
    };
    let verifier: String = row.get(0);
    let token = web
        .http
        .post(format!("{}/oauth2/token", web.idp_url))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", &format!("{}/belajar/callback", web.base())),
            ("client_id", CLIENT_ID),
            ("code_verifier", verifier.as_str()),
        ])
        .send()
        .await;
    let access = match token {
        Ok(r) if r.status().is_success() => r
            .json::<serde_json::Value>()
            .await
            .ok()
            .and_then(|v| v["access_token"].as_str().map(str::to_string)),
        Ok(r) => {
            tracing::warn!(status = %r.status(), "belajar: code exchange refused");
            None
        }
        Err(e) => {
            tracing::warn!(error = %e, "belajar: code exchange failed");
            None
        }
    };
    let Some(access) = access else {
        return fail(
            "KREKI ID menolak kode masuk.",
            "KREKI ID refused the sign-in code.",
        );
    };
    let principal = match web.auth.verify(&access).await {
        Ok(p) => p,
        Err(_) => return fail("Token tidak sah.", "Invalid token."),
    };
    match create_session(&web, &principal).await {
        Ok(id) => {
            let mut res = see_other("/belajar/");
            let h = res.headers_mut();
            if let Some(c) = cookie_header(
                SESSION_COOKIE,
                &id,
                SESSION_MICROS / 1_000_000,
                web.secure(),
            ) {
                h.append(header::SET_COOKIE, c);
            }
            if let Some(c) = cookie_header(STATE_COOKIE, "", 0, web.secure()) {
                h.append(header::SET_COOKIE, c);
            }
            res
        }
        Err(e) => ApiError::from(e).into_response(),
    }
}

async fn logout(State(web): State<Web>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(s) = session(&web, &headers).await
        && field(&form(&body), "csrf") == s.csrf
        && let Some(id) = cookie(&headers, SESSION_COOKIE)
    {
        let _ = sqlx::query("DELETE FROM web_sessions WHERE id_hash = $1")
            .bind(sha256_hex(id.as_bytes()))
            .execute(web.app.store.db().writer())
            .await;
    }
    let mut res = see_other("/belajar/");
    if let Some(c) = cookie_header(SESSION_COOKIE, "", 0, web.secure()) {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    res
}

/// A page that needs a session: the session, or a redirect to sign-in.
async fn require(web: &Web, headers: &HeaderMap) -> Result<Session, Response> {
    session(web, headers)
        .await
        .ok_or_else(|| see_other("/belajar/masuk"))
}

/// A form post: a session and a matching CSRF token.
async fn require_post(
    web: &Web,
    headers: &HeaderMap,
    f: &[(String, String)],
) -> Result<Session, Response> {
    let s = require(web, headers).await?;
    if field(f, "csrf") != s.csrf {
        return Err(ApiError::forbidden().into_response());
    }
    Ok(s)
}

fn hidden_csrf(s: &Session) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        esc(&s.csrf)
    )
}

// ---- learner pages --------------------------------------------------------------------

async fn home(State(web): State<Web>, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    let (lang, cookies) = lang_of(&headers, &q);
    let en = lang == Lang::En;
    let s = session(&web, &headers).await;
    let store = &web.app.store;
    let courses = match store.courses(en).await {
        Ok(c) => c,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let progress = match &s {
        Some(s) => store
            .progress(&s.principal.subject)
            .await
            .unwrap_or_default(),
        None => Vec::new(),
    };
    let mut body = String::from("<ul id=\"courses\">");
    for c in &courses {
        let p = progress.iter().find(|p| p.course_id == c.id);
        let state = match p {
            Some(p) if p.certificate_id.is_some() => {
                t(lang, "Bersertifikat", "Certified").to_string()
            }
            Some(p) => format!(
                "{} {}/{}",
                t(lang, "Materi", "Lessons"),
                p.lessons_done,
                p.lessons_total
            ),
            None => String::new(),
        };
        body.push_str(&format!(
            "<li data-course=\"{id}\"><a href=\"/belajar/kursus/{id}\">{}</a> — {} {} · {} {}% · {}</li>",
            esc(&c.title),
            c.hours,
            t(lang, "jam", "hours"),
            t(lang, "nilai lulus", "pass mark"),
            c.pass_mark,
            esc(&state),
            id = esc(&c.id),
        ));
    }
    body.push_str("</ul>");
    if s.is_none() {
        body.push_str(&format!(
            "<p><a class=\"button\" href=\"/belajar/masuk\">{}</a></p>",
            t(
                lang,
                "Masuk dengan KREKI ID untuk mendaftar",
                "Sign in with KREKI ID to enrol"
            )
        ));
    }
    render(
        lang,
        s.as_ref(),
        t(
            lang,
            "Pelatihan Bantuan Hidup Dasar",
            "Basic Life Support training",
        ),
        &body,
        cookies,
    )
}

async fn course_page(
    State(web): State<Web>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let (lang, cookies) = lang_of(&headers, &q);
    let s = session(&web, &headers).await;
    course_html(&web, lang, s.as_ref(), &id, None, cookies).await
}

async fn course_html(
    web: &Web,
    lang: Lang,
    s: Option<&Session>,
    id: &str,
    error: Option<&ApiError>,
    cookies: Vec<HeaderValue>,
) -> Response {
    let store = &web.app.store;
    let c = match store.course(id, lang == Lang::En).await {
        Ok(c) => c,
        Err(LmsError::CourseNotFound) => {
            return render_status(
                StatusCode::NOT_FOUND,
                lang,
                s,
                t(lang, "Kursus tidak ditemukan", "Course not found"),
                "",
                cookies,
            );
        }
        Err(e) => return ApiError::from(e).into_response(),
    };
    let progress = match s {
        Some(s) => store
            .progress(&s.principal.subject)
            .await
            .unwrap_or_default()
            .into_iter()
            .find(|p| p.course_id == c.course.id),
        None => None,
    };
    let mut body = error.map(|e| error_text(lang, e)).unwrap_or_default();
    body.push_str(&format!("<p>{}</p>", esc(&c.course.summary)));
    if let (Some(s), None) = (s, &progress) {
        body.push_str(&format!(
            "<form id=\"enroll-form\" method=\"post\" action=\"/belajar/daftar\">{}<input type=\"hidden\" name=\"course_id\" value=\"{}\">\
<label for=\"enroll-name\">{}</label><input id=\"enroll-name\" name=\"name\" required maxlength=\"120\" autocomplete=\"name\">\
<button id=\"enroll-submit\" type=\"submit\">{}</button></form>",
            hidden_csrf(s),
            esc(&c.course.id),
            t(lang, "Nama lengkap (tercetak di sertifikat)", "Full name (printed on the certificate)"),
            t(lang, "Daftar", "Enrol")
        ));
    }
    for m in &c.modules {
        body.push_str(&format!("<h2>{}</h2>", esc(&m.title)));
        for l in &m.lessons {
            let done = progress
                .as_ref()
                .is_some_and(|p| p.completed_lessons.contains(&l.id));
            body.push_str(&format!(
                "<section id=\"lesson-{lid}\" data-done=\"{done}\"><h3>{}</h3><p>{}</p>",
                esc(&l.title),
                esc(&l.body),
                lid = esc(&l.id),
            ));
            if let (Some(u), "image") = (&l.media_url, l.kind.as_str()) {
                body.push_str(&format!(
                    "<p><img src=\"{}\" alt=\"{}\" width=\"320\" height=\"240\"></p>",
                    esc(u),
                    esc(&l.title)
                ));
            } else if let Some(u) = &l.media_url {
                body.push_str(&format!(
                    "<p><a href=\"{}\" rel=\"noopener\">{}</a></p>",
                    esc(u),
                    t(lang, "Buka video", "Open the video")
                ));
            }
            match (s, &progress, done) {
                (Some(s), Some(_), false) => body.push_str(&format!(
                    "<form method=\"post\" action=\"/belajar/materi/{lid}/selesai\">{}<button id=\"complete-{lid}\" type=\"submit\">{}</button></form>",
                    hidden_csrf(s),
                    t(lang, "Tandai selesai", "Mark as done"),
                    lid = esc(&l.id),
                )),
                (_, _, true) => body.push_str(&format!("<p class=\"ok\">✓ {}</p>", t(lang, "Selesai", "Done"))),
                _ => {}
            }
            body.push_str("</section>");
        }
    }
    if let Some(p) = &progress {
        body.push_str(&format!("<h2>{}</h2><ul>", t(lang, "Kuis", "Quizzes")));
        for qz in &c.quizzes {
            body.push_str(&format!(
                "<li><a id=\"quiz-{id}\" href=\"/belajar/kuis/{id}\">{}</a> ({} {}, {} {})</li>",
                if qz.kind == "pre" {
                    "Pre-test"
                } else {
                    "Post-test"
                },
                qz.question_count,
                t(lang, "soal", "questions"),
                qz.time_limit_s / 60,
                t(lang, "menit", "minutes"),
                id = esc(&qz.id),
            ));
        }
        body.push_str("</ul>");
        body.push_str(&format!(
            "<p id=\"course-status\">{}: {} · {}: {}</p>",
            t(lang, "Post-test lulus", "Post-test passed"),
            if p.post_test_passed {
                t(lang, "ya", "yes")
            } else {
                t(lang, "belum", "not yet")
            },
            t(lang, "Praktik ditandatangani", "Practical signed off"),
            if p.practical_signed_off {
                t(lang, "ya", "yes")
            } else {
                t(lang, "belum", "not yet")
            },
        ));
    }
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render_status(status, lang, s, &c.course.title, &body, cookies)
}

async fn enroll(State(web): State<Web>, headers: HeaderMap, body: Bytes) -> Response {
    let f = form(&body);
    let s = match require_post(&web, &headers, &f).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (lang, cookies) = lang_of(&headers, &None);
    let course = field(&f, "course_id").to_string();
    let name = field(&f, "name").trim().to_string();
    let res = if name.is_empty() || name.chars().count() > 120 || name.chars().any(char::is_control)
    {
        Err(ApiError::validation(
            "VALIDATION_FAILED",
            kreki_platform::Msg::new("Nama wajib diisi", "The name is required"),
        ))
    } else {
        web.app
            .store
            .enroll(&s.principal.subject, &course, &name)
            .await
            .map_err(ApiError::from)
    };
    match res {
        Ok(_) => see_other(&format!("/belajar/kursus/{}", url_seg(&course))),
        Err(e) => course_html(&web, lang, Some(&s), &course, Some(&e), cookies).await,
    }
}

fn url_seg(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn complete(
    State(web): State<Web>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let f = form(&body);
    let s = match require_post(&web, &headers, &f).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    match web
        .app
        .store
        .complete_lesson(&s.principal.subject, &id)
        .await
    {
        Ok(p) => see_other(&format!(
            "/belajar/kursus/{}#lesson-{}",
            url_seg(&p.course_id),
            url_seg(&id)
        )),
        Err(e) => ApiError::from(e).into_response(),
    }
}

async fn quiz_page(
    State(web): State<Web>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let s = match require(&web, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (lang, cookies) = lang_of(&headers, &q);
    // Showing the page starts nothing (a prefetch must not use up an attempt): without an
    // open attempt it offers a start button.
    let a = match web
        .app
        .store
        .open_attempt(&s.principal.subject, &id, lang == Lang::En)
        .await
    {
        Ok(Some(a)) => a,
        Ok(None) => {
            let body = format!(
                "<form id=\"quiz-start-form\" method=\"post\" action=\"/belajar/kuis/{}/mulai\">{}<button id=\"quiz-start\" type=\"submit\">{}</button></form>",
                esc(&id),
                hidden_csrf(&s),
                t(
                    lang,
                    "Mulai kuis (waktu mulai berjalan)",
                    "Start the quiz (the clock starts)"
                )
            );
            return render(lang, Some(&s), "Kuis", &body, cookies);
        }
        Err(e) => {
            let e = ApiError::from(e);
            return render_status(
                e.status,
                lang,
                Some(&s),
                "Kuis",
                &error_text(lang, &e),
                cookies,
            );
        }
    };
    let mut body = format!(
        "<p id=\"quiz-deadline\" data-deadline=\"{}\">{}: {} UTC · {}: {}</p>\
<form id=\"quiz-form\" method=\"post\" action=\"/belajar/kuis/{}\">{}<input type=\"hidden\" name=\"attempt_id\" value=\"{}\">",
        esc(&a.deadline),
        t(lang, "Batas waktu", "Deadline"),
        esc(&a.deadline[..19.min(a.deadline.len())].replace('T', " ")),
        t(lang, "Sisa percobaan", "Attempts left"),
        a.attempts_left,
        esc(&id),
        hidden_csrf(&s),
        esc(&a.attempt_id)
    );
    for (i, qn) in a.questions.iter().enumerate() {
        body.push_str(&format!(
            "<fieldset id=\"q-{qid}\"><legend>{}. {}</legend>",
            i + 1,
            esc(&qn.text),
            qid = esc(&qn.id)
        ));
        for o in &qn.options {
            body.push_str(&format!(
                "<label><input type=\"radio\" name=\"q.{qid}\" value=\"{oid}\" id=\"q-{qid}-{oid}\"> {}</label>",
                esc(&o.text),
                qid = esc(&qn.id),
                oid = esc(&o.id)
            ));
        }
        body.push_str("</fieldset>");
    }
    body.push_str(&format!(
        "<button id=\"quiz-submit\" type=\"submit\">{}</button></form>",
        t(lang, "Kirim jawaban", "Submit answers")
    ));
    render(
        lang,
        Some(&s),
        if a.kind == "pre" {
            "Pre-test"
        } else {
            "Post-test"
        },
        &body,
        cookies,
    )
}

async fn quiz_start(
    State(web): State<Web>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let f = form(&body);
    let s = match require_post(&web, &headers, &f).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (lang, cookies) = lang_of(&headers, &None);
    match web
        .app
        .store
        .start_attempt(&s.principal.subject, &id, lang == Lang::En)
        .await
    {
        Ok(_) => see_other(&format!("/belajar/kuis/{}", url_seg(&id))),
        Err(e) => {
            let e = ApiError::from(e);
            render_status(
                e.status,
                lang,
                Some(&s),
                "Kuis",
                &error_text(lang, &e),
                cookies,
            )
        }
    }
}

async fn quiz_submit(
    State(web): State<Web>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let f = form(&body);
    let s = match require_post(&web, &headers, &f).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (lang, cookies) = lang_of(&headers, &None);
    let answers: Vec<Answer> = f
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix("q.").map(|q| Answer {
                question_id: q.to_string(),
                option_id: v.clone(),
            })
        })
        .collect();
    let res = web
        .app
        .store
        .submit(
            &s.principal.subject,
            &id,
            field(&f, "attempt_id"),
            &answers,
            now_micros(),
        )
        .await;
    match res {
        Ok(r) => {
            if r.certificate_id.is_some() {
                web.app.relay.poke();
            }
            let mut body = format!(
                "<p id=\"quiz-result\" class=\"status {}\" data-passed=\"{}\" data-percent=\"{}\">{} {}% ({}/{}) — {} {}%</p>",
                if r.passed { "valid" } else { "revoked" },
                r.passed,
                r.percent,
                if r.passed {
                    t(lang, "LULUS", "PASSED")
                } else {
                    t(lang, "BELUM LULUS", "NOT PASSED")
                },
                r.percent,
                r.score,
                r.total,
                t(lang, "nilai lulus", "pass mark"),
                r.pass_mark
            );
            if let Some(c) = &r.certificate_id {
                body.push_str(&format!(
                    "<p class=\"ok\">{} <a id=\"new-certificate\" href=\"/belajar/sertifikat\">{}</a></p>",
                    t(lang, "Sertifikat terbit:", "Certificate issued:"),
                    esc(c)
                ));
            }
            body.push_str(&format!(
                "<p><a href=\"/belajar/kursus/{}\">{}</a></p>",
                esc(&r.course_id),
                t(lang, "Kembali ke kursus", "Back to the course")
            ));
            render(
                lang,
                Some(&s),
                t(lang, "Hasil kuis", "Quiz result"),
                &body,
                cookies,
            )
        }
        Err(e) => {
            let e = ApiError::from(e);
            render_status(
                e.status,
                lang,
                Some(&s),
                t(lang, "Hasil kuis", "Quiz result"),
                &error_text(lang, &e),
                cookies,
            )
        }
    }
}

async fn certificates_page(
    State(web): State<Web>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let s = match require(&web, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (lang, cookies) = lang_of(&headers, &q);
    let list = match web
        .app
        .store
        .certificates_of(&s.principal.subject, lang == Lang::En)
        .await
    {
        Ok(l) => l,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let mut body = String::new();
    if list.is_empty() {
        body.push_str(&format!(
            "<p id=\"no-certificates\">{}</p>",
            t(lang, "Belum ada sertifikat.", "No certificates yet.")
        ));
    } else {
        body.push_str(&format!(
            "<table id=\"certificates\"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th></th></tr></thead><tbody>",
            t(lang, "Nomor", "Number"),
            t(lang, "Kursus", "Course"),
            t(lang, "Berlaku sampai", "Valid until"),
            "Status"
        ));
        for c in &list {
            body.push_str(&format!(
                "<tr data-certificate=\"{id}\"><td>{}</td><td>{}</td><td>{}</td><td data-status=\"{st}\">{st}</td>\
<td><a id=\"pdf-{id}\" href=\"/belajar/sertifikat/{id}/pdf\">PDF</a> · <a href=\"/verify/{id}\">{}</a></td></tr>",
                esc(&c.number),
                esc(&c.course_title),
                esc(&c.valid_until[..10.min(c.valid_until.len())]),
                t(lang, "Verifikasi", "Verify"),
                id = esc(&c.id),
                st = esc(&c.status),
            ));
        }
        body.push_str("</tbody></table>");
    }
    render(
        lang,
        Some(&s),
        t(lang, "Sertifikat saya", "My certificates"),
        &body,
        cookies,
    )
}

async fn certificate_pdf(
    State(web): State<Web>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let s = match require(&web, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    match web.app.store.certificate_pdf(&id).await {
        Ok((owner, pdf))
            if owner == s.principal.subject
                || s.principal
                    .can(kreki_platform::auth::perm::CERTIFICATE_ISSUE) =>
        {
            crate::http::pdf_response(&id, pdf)
        }
        Ok(_) | Err(LmsError::CertificateNotFound) => {
            ApiError::from(LmsError::CertificateNotFound).into_response()
        }
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// Lesson pictures, shipped in the binary.
async fn media(Path(name): Path<String>) -> Response {
    const POSISI_TANGAN: &str = include_str!("../media/posisi-tangan.svg");
    match name.as_str() {
        "posisi-tangan.svg" => {
            let mut r = POSISI_TANGAN.into_response();
            let h = r.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("image/svg+xml"),
            );
            h.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=86400"),
            );
            h.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
            );
            r
        }
        _ => ApiError::from_status(StatusCode::NOT_FOUND).into_response(),
    }
}

// ---- instructor pages -------------------------------------------------------------------

async fn instructor_page(
    State(web): State<Web>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let s = match require(&web, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (lang, cookies) = lang_of(&headers, &q);
    instructor_html(&web, lang, &s, None, None, cookies).await
}

async fn instructor_html(
    web: &Web,
    lang: Lang,
    s: &Session,
    error: Option<&ApiError>,
    notice: Option<&str>,
    cookies: Vec<HeaderValue>,
) -> Response {
    let title = t(lang, "Dasbor instruktur", "Instructor dashboard");
    if let Err(e) = crate::http::require_instructor(&web.app.store, &s.principal).await {
        return render_status(
            e.status,
            lang,
            Some(s),
            title,
            &error_text(lang, &e),
            cookies,
        );
    }
    let store = &web.app.store;
    let parts = match store.participants(None, false, 1, 1_000).await {
        Ok((p, _)) => p,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let courses = store.courses(lang == Lang::En).await.unwrap_or_default();
    let mut body = error.map(|e| error_text(lang, e)).unwrap_or_default();
    if let Some(n) = notice {
        body.push_str(&format!(
            "<p id=\"signoff-done\" class=\"ok\" role=\"status\">{}</p>",
            esc(n)
        ));
    }
    for c in &courses {
        let list: Vec<_> = parts.iter().filter(|p| p.course_id == c.id).collect();
        body.push_str(&format!(
            "<h2 id=\"class-{}\">{} ({} {})</h2>",
            esc(&c.id),
            esc(&c.title),
            list.len(),
            t(lang, "peserta", "participants")
        ));
        if list.is_empty() {
            continue;
        }
        body.push_str(&format!(
            "<table><thead><tr><th>{}</th><th>{}</th><th>Pre</th><th>Post</th><th>{}</th></tr></thead><tbody>",
            t(lang, "Nama", "Name"),
            t(lang, "Materi", "Lessons"),
            t(lang, "Praktik", "Practical")
        ));
        let detail = store.course(&c.id, lang == Lang::En).await.ok();
        for p in list {
            let pct = |v: Option<i64>| v.map(|v| format!("{v}%")).unwrap_or_else(|| "—".into());
            let practical = if p.practical_signed_off {
                format!("✓ {}", esc(p.certificate_id.as_deref().unwrap_or("")))
            } else {
                let items: String = detail
                    .as_ref()
                    .map(|d| {
                        d.practical_checklist
                            .iter()
                            .map(|k| {
                                format!(
                                    "<label><input type=\"checkbox\" name=\"item\" value=\"{id}\" id=\"skill-{acc}-{id}\"> {}</label>",
                                    esc(&k.label),
                                    id = esc(&k.id),
                                    acc = esc(&p.account_id)
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                format!(
                    "<details{}><summary>{}</summary><form class=\"signoff\" method=\"post\" action=\"/belajar/instruktur/tandatangan\">{}\
<input type=\"hidden\" name=\"account_id\" value=\"{}\"><input type=\"hidden\" name=\"course_id\" value=\"{}\">{items}\
<label>{}<input name=\"holder_name\" required maxlength=\"120\" value=\"{}\"></label>\
<label>{}<input name=\"instructor_name\" required maxlength=\"120\"></label><label>{}<input name=\"location\" required maxlength=\"200\"></label>\
<button type=\"submit\">{}</button></form></details>",
                    if p.pending_signoff {
                        " open data-pending=\"true\""
                    } else {
                        ""
                    },
                    if p.pending_signoff {
                        t(lang, "Menunggu tanda tangan", "Awaiting sign-off")
                    } else {
                        t(lang, "Belum", "Not yet")
                    },
                    hidden_csrf(s),
                    esc(&p.account_id),
                    esc(&p.course_id),
                    t(
                        lang,
                        "Nama peserta sesuai kartu identitas yang diperiksa (tercetak di sertifikat)",
                        "Participant's name as on the identity card you checked (printed on the certificate)"
                    ),
                    esc(&p.name),
                    t(lang, "Nama instruktur", "Instructor's name"),
                    t(lang, "Lokasi", "Location"),
                    t(lang, "Tandatangani ujian praktik", "Sign off the practical"),
                )
            };
            body.push_str(&format!(
                "<tr data-participant=\"{}\"><td>{}</td><td>{}/{}</td><td>{}</td><td>{}</td><td>{practical}</td></tr>",
                esc(&p.account_id),
                esc(&p.name),
                p.lessons_done,
                p.lessons_total,
                pct(p.pre_test_percent),
                pct(p.post_test_best_percent),
            ));
        }
        body.push_str("</tbody></table>");
    }
    let status = error.map(|e| e.status).unwrap_or(StatusCode::OK);
    render_status(status, lang, Some(s), title, &body, cookies)
}

async fn instructor_sign(State(web): State<Web>, headers: HeaderMap, body: Bytes) -> Response {
    let f = form(&body);
    let s = match require_post(&web, &headers, &f).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (lang, cookies) = lang_of(&headers, &None);
    if let Err(e) = crate::http::require_instructor(&web.app.store, &s.principal).await {
        return instructor_html(&web, lang, &s, Some(&e), None, cookies).await;
    }
    let items: Vec<String> = f
        .iter()
        .filter(|(k, _)| k == "item")
        .map(|(_, v)| v.clone())
        .collect();
    let (holder, name, location) = (
        field(&f, "holder_name").trim(),
        field(&f, "instructor_name").trim(),
        field(&f, "location").trim(),
    );
    let bad = |v: &str, max: usize| {
        v.is_empty() || v.chars().count() > max || v.chars().any(char::is_control)
    };
    if bad(holder, 120) || bad(name, 120) || bad(location, 200) {
        let e = ApiError::validation(
            "VALIDATION_FAILED",
            kreki_platform::Msg::new(
                "Nama peserta (diperiksa), nama instruktur dan lokasi wajib diisi",
                "The participant's checked name, the instructor's name and the location are required",
            ),
        );
        return instructor_html(&web, lang, &s, Some(&e), None, cookies).await;
    }
    match web
        .app
        .store
        .sign_off(
            &s.principal.subject,
            name,
            holder,
            field(&f, "account_id"),
            field(&f, "course_id"),
            location,
            &items,
        )
        .await
    {
        Ok(so) => {
            if so.certificate_id.is_some() {
                web.app.relay.poke();
            }
            let notice = match &so.certificate_id {
                Some(c) => format!(
                    "{} {c}",
                    t(
                        lang,
                        "Ditandatangani; sertifikat terbit:",
                        "Signed off; certificate issued:"
                    )
                ),
                None => t(lang, "Ditandatangani.", "Signed off.").to_string(),
            };
            instructor_html(&web, lang, &s, None, Some(&notice), cookies).await
        }
        Err(e) => instructor_html(&web, lang, &s, Some(&ApiError::from(e)), None, cookies).await,
    }
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
