//! The first System Admin (`kreki bootstrap-admin`, issue 21): the one-time link works once,
//! expires, a second bootstrap is refused with nothing changed, `--force` is audited.

use kreki_identity::admin::bootstrap::{BootstrapError, bootstrap_admin};
use kreki_platform::time_util::now_micros;
use serde_json::json;

use crate::{
    app::{App, start},
    client::{Browser, PW, api, hidden},
};

fn secret_of(html: &str) -> String {
    let i = html.find("<code>").unwrap() + "<code>".len();
    let j = html[i..].find("</code>").unwrap();
    html[i..i + j].to_string()
}

fn totp(secret: &str) -> String {
    let bytes = totp_rs::Secret::Encoded(secret.into()).to_bytes().unwrap();
    totp_rs::TOTP::new(totp_rs::Algorithm::SHA1, 6, 1, 30, bytes)
        .unwrap()
        .generate_current()
        .unwrap()
}

async fn count(app: &App, sql: &str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(sql).fetch_one(app.db.pool()).await.unwrap();
    n
}

/// The path and query of a link.
fn path_of(link: &str, app: &App) -> String {
    link.strip_prefix(&app.url).unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_setup_link_sets_password_and_totp_once() {
    let app = start(false).await;
    let b = bootstrap_admin(
        app.db.clone(),
        &app.url,
        "Admin@Example.org",
        Some("081200000001"),
        false,
    )
    .await
    .unwrap();
    assert!(
        b.link
            .starts_with(&format!("{}/akun/atur-admin?token=", app.url)),
        "{}",
        b.link
    );
    let day = 24 * 3_600_000_000i64;
    assert!((b.expires_at - now_micros() - day).abs() < 60_000_000);
    // No password yet: nobody signs in with one.
    let (s, _) = api(
        &app,
        "POST",
        "/login",
        None,
        json!({ "identifier": "admin@example.org", "password": PW }),
    )
    .await;
    assert_eq!(s, 401);
    let mut br = Browser::new(&app.url);
    let (s, _, html) = br.get(&path_of(&b.link, &app)).await;
    assert_eq!(s, 200, "{html}");
    let secret = secret_of(&html);
    let (csrf, token) = (hidden(&html, "csrf"), hidden(&html, "token"));
    // A weak password and a wrong code are refused on the page; the link still works.
    let (s, _, html) = br
        .post(
            "/akun/atur-admin",
            &[
                ("csrf", &csrf),
                ("token", &token),
                ("password", "pendek"),
                ("code", &totp(&secret)),
            ],
        )
        .await;
    assert_eq!(s, 422, "{html}");
    assert!(html.contains("role=\"alert\""), "{html}");
    let (s, _, _) = br
        .post(
            "/akun/atur-admin",
            &[
                ("csrf", &csrf),
                ("token", &token),
                ("password", PW),
                ("code", "000000"),
            ],
        )
        .await;
    assert_eq!(s, 401);
    let (s, _, html) = br
        .post(
            "/akun/atur-admin",
            &[
                ("csrf", &csrf),
                ("token", &token),
                ("password", PW),
                ("code", &totp(&secret)),
            ],
        )
        .await;
    assert_eq!(s, 200, "{html}");
    assert_eq!(
        html.matches("<li><code>").count(),
        10,
        "recovery codes: {html}"
    );
    // The System Admin signs in with the password, then needs the second factor.
    let (s, v) = api(
        &app,
        "POST",
        "/login",
        None,
        json!({ "identifier": "admin@example.org", "password": PW }),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["data"]["user"]["role"], "system_admin");
    assert_eq!(v["data"]["mfaRequired"], true);
    assert!(
        v["data"].get("mfaEnrollRequired").is_none(),
        "TOTP is enrolled: {v}"
    );
    // The link works once.
    let (s, _, html) = br.get(&path_of(&b.link, &app)).await;
    assert_eq!(s, 400);
    assert!(html.contains("sudah dipakai"), "{html}");
    let (s, _, _) = br
        .post(
            "/akun/atur-admin",
            &[
                ("csrf", &csrf),
                ("token", &token),
                ("password", "Lain-Sandi-Baru-88"),
                ("code", &totp(&secret)),
            ],
        )
        .await;
    assert_eq!(s, 400);
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM audit_log WHERE kind = 'admin_setup_completed'"
        )
        .await,
        1
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_setup_link_shows_a_clear_error() {
    let app = start(false).await;
    let b = bootstrap_admin(app.db.clone(), &app.url, "admin@example.org", None, false)
        .await
        .unwrap();
    sqlx::query("UPDATE one_time_codes SET expires_at = $1 WHERE purpose = 'admin_setup'")
        .bind(now_micros() - 1)
        .execute(app.db.pool())
        .await
        .unwrap();
    let mut br = Browser::new(&app.url);
    let (s, _, html) = br.get(&path_of(&b.link, &app)).await;
    assert_eq!(s, 400);
    assert!(html.contains("kedaluwarsa"), "{html}");
    let (s, _, html) = br.get(&format!("{}&lang=en", path_of(&b.link, &app))).await;
    assert_eq!(s, 400);
    assert!(html.contains("has expired"), "{html}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_bootstrap_is_refused_unless_forced_and_audited() {
    let app = start(false).await;
    bootstrap_admin(app.db.clone(), &app.url, "admin@example.org", None, false)
        .await
        .unwrap();
    let accounts = "SELECT COUNT(*) FROM accounts";
    let codes = "SELECT COUNT(*) FROM one_time_codes";
    let before = (count(&app, accounts).await, count(&app, codes).await);
    let e = bootstrap_admin(app.db.clone(), &app.url, "kedua@example.org", None, false)
        .await
        .unwrap_err();
    assert!(matches!(e, BootstrapError::AdminExists), "{e:?}");
    assert_eq!(e.code(), "ADMIN_BOOTSTRAP_REFUSED");
    let msg = e.msg();
    assert!(msg.id.contains("Sudah ada System Admin") && msg.en.contains("already exists"));
    assert_eq!(
        (count(&app, accounts).await, count(&app, codes).await),
        before,
        "nothing changed"
    );
    // The same address again, even forced: refused, nothing changed.
    let e = bootstrap_admin(app.db.clone(), &app.url, "admin@example.org", None, true)
        .await
        .unwrap_err();
    assert_eq!(e.code(), "AUTH_ACCOUNT_EXISTS");
    assert_eq!(
        (count(&app, accounts).await, count(&app, codes).await),
        before
    );
    let e = bootstrap_admin(app.db.clone(), &app.url, "bukan-email", None, true)
        .await
        .unwrap_err();
    assert_eq!(e.code(), "VALIDATION_EMAIL_INVALID");
    // Forced: a second System Admin, and the audit log says it was forced.
    let b = bootstrap_admin(app.db.clone(), &app.url, "kedua@example.org", None, true)
        .await
        .unwrap();
    assert!(b.forced);
    let (kind, details): (String, String) = sqlx::query_as(
        "SELECT kind, details FROM audit_log WHERE account_id = $1 AND kind LIKE 'admin_bootstrap%'",
    )
    .bind(&b.account_id)
    .fetch_one(app.db.pool())
    .await
    .unwrap();
    assert_eq!(kind, "admin_bootstrap_forced");
    let details: serde_json::Value = serde_json::from_str(&details).unwrap();
    assert_eq!(details["forced"], true);
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM accounts WHERE role = 'system_admin'"
        )
        .await,
        2
    );
    app.stop().await;
}
