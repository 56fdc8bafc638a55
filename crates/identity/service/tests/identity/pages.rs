//! The login pages at `/akun/` in both languages.

use serde_json::json;

use crate::{
    app::start,
    client::{Browser, PW, api, hidden, register, verify_own_phone, wait_for_nth_code},
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_pages_render_in_both_languages_and_sign_in() {
    let app = start(false).await;
    register(&app, "putri@example.org", PW).await;
    let mut b = Browser::new(&app.url);
    let (s, _, html) = b.get("/akun/masuk").await;
    assert_eq!(s, 200);
    assert!(
        html.contains("lang=\"id\"")
            && html.contains("Kata sandi")
            && html.contains("<label for=\"password\">")
    );
    let (_, _, html) = b.get("/akun/masuk?lang=en").await;
    assert!(html.contains("lang=\"en\"") && html.contains("Password"));
    let (_, _, html) = b.get("/akun/daftar").await;
    assert!(
        html.contains("Create an account"),
        "the language choice is remembered"
    );
    let csrf = hidden(&html, "csrf");
    let (s, _, html) = b
        .post(
            "/akun/daftar",
            &[
                ("csrf", &csrf),
                ("full_name", "Putu"),
                ("email", "putu@example.org"),
                ("password", "abc"),
                ("role", "public"),
                ("return_to", "/akun/"),
            ],
        )
        .await;
    assert_eq!(s, 422);
    assert!(html.contains("at least 8 characters"), "{html}");
    let (s, loc, html) = b
        .post(
            "/akun/daftar",
            &[
                ("csrf", &csrf),
                ("full_name", "Putu"),
                ("email", "putu@example.org"),
                ("password", PW),
                ("role", "public"),
                ("return_to", "/akun/"),
            ],
        )
        .await;
    // The same page for a new and a registered address (finding 11): sign in next.
    assert_eq!((s, loc.as_str()), (200, ""));
    assert!(html.contains("/akun/masuk?return_to=%2Fakun%2F"), "{html}");
    let (_, _, html) = b.get("/akun/masuk").await;
    let csrf = hidden(&html, "csrf");
    let (s, loc, _) = b
        .post(
            "/akun/masuk",
            &[
                ("csrf", &csrf),
                ("identifier", "putu@example.org"),
                ("password", PW),
                ("return_to", "/akun/"),
            ],
        )
        .await;
    assert_eq!((s, loc.as_str()), (303, "/akun/"));
    let (s, _, html) = b.get("/akun/").await;
    assert_eq!(s, 200);
    assert!(html.contains("Putu"));
    let (_, _, html) = b.get("/akun/masuk").await;
    let csrf = hidden(&html, "csrf");
    let (s, _, html) = b
        .post(
            "/akun/masuk",
            &[
                ("csrf", &csrf),
                ("identifier", "putri@example.org"),
                ("password", "Wrong-1-pass"),
                ("return_to", "/akun/"),
            ],
        )
        .await;
    assert_eq!(s, 401);
    assert!(html.contains("role=\"alert\""));
    // Sign-in by phone code on the pages.
    let (s, _) = api(
        &app,
        "POST",
        "/register",
        None,
        json!({ "phone": "081377778888", "password": PW, "full_name": "Made Wirawan" }),
    )
    .await;
    assert_eq!(s, 202);
    verify_own_phone(&app, "081377778888", "081377778888").await;
    let mut p = Browser::new(&app.url);
    let (s, _, html) = p.get("/akun/masuk-telepon").await;
    assert_eq!(s, 200);
    let csrf = hidden(&html, "csrf");
    let (s, _, html) = p
        .post(
            "/akun/masuk-telepon",
            &[
                ("csrf", &csrf),
                ("phone", "0813-7777-8888"),
                ("step", "send"),
                ("return_to", "/akun/"),
            ],
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(hidden(&html, "phone"), "+6281377778888");
    let code = wait_for_nth_code(&app, "+6281377778888", 2).await;
    let (s, _, html) = p
        .post(
            "/akun/masuk-telepon",
            &[
                ("csrf", &csrf),
                ("phone", "+6281377778888"),
                ("code", "999999"),
                ("step", "verify"),
                ("return_to", "/akun/"),
            ],
        )
        .await;
    assert_eq!(s, 401);
    assert!(html.contains("role=\"alert\""));
    let (s, loc, _) = p
        .post(
            "/akun/masuk-telepon",
            &[
                ("csrf", &csrf),
                ("phone", "+6281377778888"),
                ("code", &code),
                ("step", "verify"),
                ("return_to", "/akun/"),
            ],
        )
        .await;
    assert_eq!((s, loc.as_str()), (303, "/akun/"));
    let (_, _, html) = p.get("/akun/").await;
    assert!(html.contains("Made Wirawan"));
    app.stop().await;
}
