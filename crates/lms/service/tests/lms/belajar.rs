//! The `/belajar/` pages: KREKI ID sign-in (code + PKCE against a stand-in provider that
//! checks the verifier), then a learner's way to a certificate and an instructor's sign-off,
//! all as a browser would post the forms.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use axum::{extract::State, routing::post};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use kreki_platform::storage::Db;
use sha2::{Digest, Sha256};

use crate::app::{App, start_with};

/// code → (expected PKCE challenge, access token to hand out)
pub type Codes = Arc<Mutex<HashMap<String, (String, String)>>>;

async fn token(State(codes): State<Codes>, body: String) -> axum::response::Response {
    use axum::response::IntoResponse;
    let f: HashMap<String, String> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let ok = f.get("grant_type").map(String::as_str) == Some("authorization_code")
        && f.get("client_id").map(String::as_str) == Some("kreki-belajar")
        && f.get("redirect_uri")
            .is_some_and(|u| u.ends_with("/belajar/callback"));
    let entry = f.get("code").and_then(|c| codes.lock().unwrap().remove(c));
    match (ok, entry, f.get("code_verifier")) {
        (true, Some((challenge, token)), Some(v))
            if URL_SAFE_NO_PAD.encode(Sha256::digest(v.as_bytes())) == challenge =>
        {
            axum::Json(serde_json::json!({"access_token": token, "token_type": "Bearer"}))
                .into_response()
        }
        _ => (
            axum::http::StatusCode::BAD_REQUEST,
            axum::Json(serde_json::json!({"error": "invalid_grant"})),
        )
            .into_response(),
    }
}

pub async fn fake_idp() -> (String, Codes) {
    let codes: Codes = Arc::default();
    let app = axum::Router::new()
        .route("/oauth2/token", post(token))
        .with_state(codes.clone());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(l, app).await;
    });
    (url, codes)
}

pub fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn set_cookie(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            v.strip_prefix(&format!("{name}="))
                .map(|r| r.split(';').next().unwrap_or("").to_string())
        })
}

fn param(url: &str, key: &str) -> String {
    let q = url.split_once('?').unwrap().1;
    url::form_urlencoded::parse(q.as_bytes())
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
        .unwrap()
}

fn csrf_of(html: &str) -> String {
    let at =
        html.find("name=\"csrf\" value=\"").expect("csrf field") + "name=\"csrf\" value=\"".len();
    html[at..].split('"').next().unwrap().to_string()
}

/// Sign in through the pages; the session cookie.
pub async fn sign_in(app: &App, codes: &Codes, idp: &str, sub: &str, roles: &[&str]) -> String {
    let c = no_redirects();
    let res = c
        .get(format!("{}/belajar/masuk", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let to = res.headers()["location"].to_str().unwrap().to_string();
    assert!(to.starts_with(&format!("{idp}/oauth2/authorize?")), "{to}");
    assert_eq!(param(&to, "client_id"), "kreki-belajar");
    assert_eq!(param(&to, "code_challenge_method"), "S256");
    assert_eq!(
        param(&to, "redirect_uri"),
        format!("{}/belajar/callback", app.url)
    );
    let state = param(&to, "state");
    let state_cookie = set_cookie(&res, "kreki_belajar_state").unwrap();
    assert_eq!(state_cookie, state);
    let code = format!("code-{sub}");
    codes.lock().unwrap().insert(
        code.clone(),
        (param(&to, "code_challenge"), app.token(sub, roles)),
    );
    let cb = format!("{}/belajar/callback?code={code}&state={state}", app.url);
    // Another browser (no state cookie) cannot finish this sign-in.
    assert_eq!(c.get(&cb).send().await.unwrap().status(), 400);
    let res = c
        .get(&cb)
        .header("cookie", format!("kreki_belajar_state={state}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/belajar/");
    let session = set_cookie(&res, "kreki_belajar").expect("session cookie");
    let raw = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        raw.contains("HttpOnly") && raw.contains("SameSite=Lax"),
        "{raw}"
    );
    // Used once: a replay fails.
    let again = c
        .get(&cb)
        .header("cookie", format!("kreki_belajar_state={state}"))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 400);
    session
}

pub async fn page(app: &App, session: Option<&str>, path: &str) -> (u16, String) {
    let mut r = no_redirects().get(format!("{}{path}", app.url));
    if let Some(s) = session {
        r = r.header("cookie", format!("kreki_belajar={s}"));
    }
    let res = r.send().await.unwrap();
    let s = res.status().as_u16();
    let body = if s == 303 {
        res.headers()["location"].to_str().unwrap().to_string()
    } else {
        res.text().await.unwrap()
    };
    (s, body)
}

async fn form(app: &App, session: &str, path: &str, fields: &[(&str, &str)]) -> (u16, String) {
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish();
    let res = no_redirects()
        .post(format!("{}{path}", app.url))
        .header("cookie", format!("kreki_belajar={session}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    let s = res.status().as_u16();
    let body = if s == 303 {
        res.headers()["location"].to_str().unwrap().to_string()
    } else {
        res.text().await.unwrap()
    };
    (s, body)
}

pub async fn learner_and_instructor_pages(db: Db) {
    let (idp, codes) = fake_idp().await;
    let idp2 = idp.clone();
    let app = start_with(db, move |cfg| {
        cfg.lms.insert("idp_url".into(), idp2.into());
    })
    .await;
    // Anonymous: the catalogue and a sign-in link; private pages send to sign-in.
    let res = no_redirects()
        .get(format!("{}/belajar/", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .starts_with("default-src 'none'")
    );
    let html = res.text().await.unwrap();
    assert!(
        html.contains("id=\"login\"")
            && html.contains("data-course=\"bhd-basic\"")
            && html.contains("lang=\"id\"")
    );
    assert_eq!(
        page(&app, None, "/belajar/sertifikat").await,
        (303, "/belajar/masuk".to_string())
    );
    assert_eq!(
        page(&app, Some("forged"), "/belajar/instruktur").await.0,
        303
    );
    let learner = sign_in(&app, &codes, &idp, "web-learner", &["volunteer"]).await;
    // Enrol (CSRF checked), learn, post-test.
    let (s, html) = page(&app, Some(&learner), "/belajar/kursus/bhd-basic").await;
    assert_eq!(s, 200);
    assert!(html.contains("id=\"enroll-form\""));
    let csrf = csrf_of(&html);
    let (s, _) = form(
        &app,
        &learner,
        "/belajar/daftar",
        &[("course_id", "bhd-basic"), ("name", "Ayu")],
    )
    .await;
    assert_eq!(s, 403, "no CSRF token");
    let (s, html) = form(
        &app,
        &learner,
        "/belajar/daftar",
        &[("csrf", &csrf), ("course_id", "bhd-basic"), ("name", " ")],
    )
    .await;
    assert_eq!(s, 422);
    assert!(html.contains("data-code=\"VALIDATION_FAILED\""));
    let (s, to) = form(
        &app,
        &learner,
        "/belajar/daftar",
        &[
            ("csrf", &csrf),
            ("course_id", "bhd-basic"),
            ("name", "Ayu Lestari"),
        ],
    )
    .await;
    assert_eq!((s, to.as_str()), (303, "/belajar/kursus/bhd-basic"));
    let (_, html) = page(&app, Some(&learner), "/belajar/kursus/bhd-basic").await;
    let lessons: Vec<String> = html
        .match_indices("id=\"complete-")
        .map(|(i, _)| html[i + 13..].split('"').next().unwrap().to_string())
        .collect();
    assert_eq!(lessons.len(), 12, "every lesson has its button");
    assert!(html.contains("<img src=\"/belajar/media/posisi-tangan.svg\""));
    let img = no_redirects()
        .get(format!("{}/belajar/media/posisi-tangan.svg", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(
        (
            img.status().as_u16(),
            img.headers()["content-type"].to_str().unwrap()
        ),
        (200, "image/svg+xml")
    );
    assert_eq!(page(&app, None, "/belajar/media/nope.svg").await.0, 404);
    for l in &lessons {
        let (s, _) = form(
            &app,
            &learner,
            &format!("/belajar/materi/{l}/selesai"),
            &[("csrf", &csrf)],
        )
        .await;
        assert_eq!(s, 303);
    }
    let (_, html) = page(&app, Some(&learner), "/belajar/kursus/bhd-basic").await;
    assert!(!html.contains("id=\"complete-") && html.contains("id=\"quiz-bhd-basic-post\""));
    // Looking at the quiz starts nothing; the start button does.
    let (s, quiz) = page(&app, Some(&learner), "/belajar/kuis/bhd-basic-post").await;
    assert_eq!(s, 200);
    assert!(quiz.contains("id=\"quiz-start\"") && !quiz.contains("id=\"quiz-form\""));
    let (s, to) = form(
        &app,
        &learner,
        "/belajar/kuis/bhd-basic-post/mulai",
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!((s, to.as_str()), (303, "/belajar/kuis/bhd-basic-post"));
    let (s, quiz) = page(&app, Some(&learner), "/belajar/kuis/bhd-basic-post").await;
    assert_eq!(s, 200);
    assert!(quiz.contains("id=\"quiz-form\""));
    assert!(!quiz.contains("correct"));
    let attempt = {
        let marker = "name=\"attempt_id\" value=\"";
        let at = quiz.find(marker).unwrap() + marker.len();
        quiz[at..].split('"').next().unwrap().to_string()
    };
    let key = app.answers("bhd-basic").await;
    let mut fields: Vec<(String, String)> = vec![
        ("csrf".into(), csrf.clone()),
        ("attempt_id".into(), attempt),
    ];
    for (q, a) in &key {
        if quiz.contains(&format!("id=\"q-{q}\"")) {
            fields.push((format!("q.{q}"), a.clone()));
        }
    }
    let refs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let (s, result) = form(&app, &learner, "/belajar/kuis/bhd-basic-post", &refs).await;
    assert_eq!(s, 200, "{result}");
    assert!(result.contains("data-passed=\"true\"") && result.contains("data-percent=\"100\""));
    let (s, again) = form(&app, &learner, "/belajar/kuis/bhd-basic-post", &refs).await;
    assert_eq!(s, 409);
    assert!(again.contains("LMS_ATTEMPT_ALREADY_SUBMITTED"));
    // A learner is no instructor.
    let (s, html) = page(&app, Some(&learner), "/belajar/instruktur").await;
    assert_eq!(s, 403);
    assert!(html.contains("LMS_NOT_INSTRUCTOR"));
    // The training admin signs off from the dashboard.
    let admin = sign_in(&app, &codes, &idp, "web-admin", &["training_admin"]).await;
    let (s, dash) = page(&app, Some(&admin), "/belajar/instruktur").await;
    assert_eq!(s, 200);
    assert!(
        dash.contains("data-participant=\"web-learner\"") && dash.contains("data-pending=\"true\"")
    );
    assert!(dash.contains("Ayu Lestari") && dash.contains("100%"));
    let acsrf = csrf_of(&dash);
    let items = [
        "scene_safety",
        "responsiveness",
        "call_119",
        "breathing_check",
        "compressions",
        "ratio_30_2",
        "aed",
        "recovery_position",
        "choking",
    ];
    let mut f: Vec<(&str, &str)> = vec![
        ("csrf", &acsrf),
        ("account_id", "web-learner"),
        ("course_id", "bhd-basic"),
        ("holder_name", "Ayu Lestari"),
        ("instructor_name", "Ns. Maya"),
        ("location", "PMI Jakarta Selatan"),
    ];
    f.push(("item", items[0]));
    let (s, html) = form(&app, &admin, "/belajar/instruktur/tandatangan", &f).await;
    assert_eq!(s, 422);
    assert!(html.contains("LMS_CHECKLIST_INCOMPLETE"));
    for i in &items[1..] {
        f.push(("item", i));
    }
    let (s, html) = form(&app, &admin, "/belajar/instruktur/tandatangan", &f).await;
    assert_eq!(s, 200, "{html}");
    assert!(html.contains("id=\"signoff-done\"") && html.contains("BHD-BASIC-"));
    // The checked name was offered with the enrolment's name filled in.
    assert!(dash.contains("name=\"holder_name\" required maxlength=\"120\" value=\"Ayu Lestari\""));
    // My certificates, with the PDF; English on request.
    let (s, html) = page(&app, Some(&learner), "/belajar/sertifikat?lang=en").await;
    assert_eq!(s, 200);
    assert!(html.contains("My certificates") && html.contains("data-status=\"valid\""));
    let id = {
        let marker = "data-certificate=\"";
        let at = html.find(marker).unwrap() + marker.len();
        html[at..].split('"').next().unwrap().to_string()
    };
    let pdf = no_redirects()
        .get(format!("{}/belajar/sertifikat/{id}/pdf", app.url))
        .header("cookie", format!("kreki_belajar={learner}"))
        .send()
        .await
        .unwrap();
    assert_eq!(pdf.status(), 200);
    assert_eq!(pdf.headers()["content-type"], "application/pdf");
    assert!(pdf.bytes().await.unwrap().starts_with(b"%PDF-"));
    // Sign out: the session is gone.
    let (s, _) = form(&app, &learner, "/belajar/keluar", &[("csrf", &csrf)]).await;
    assert_eq!(s, 303);
    assert_eq!(
        page(&app, Some(&learner), "/belajar/sertifikat").await.0,
        303
    );
}
