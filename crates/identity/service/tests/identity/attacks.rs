//! Attacks of the outside security review (docs/security.md) on KREKI ID alone: each
//! performs one attack over HTTP and asserts that it now fails.

use serde_json::{Value, json};

use crate::{
    app::{start, start_localhost, start_with},
    client::{
        Browser, PW, api, console_messages, hidden, login, register, shape, totp_now,
        verify_own_phone, wait_for_code_to, wait_for_message, wait_for_nth_code,
    },
};

/// Finding 11: registration, sign-in codes, the registration page and `PUT /me` tell
/// nobody whether an e-mail or phone has an account; the owner is told instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attack_enumeration_known_and_unknown_addresses_answer_alike() {
    let app = start(false).await;
    let (s, v) = api(&app, "POST", "/register", None, json!({ "email": "dewi@example.org", "phone": "081234560001", "password": PW, "full_name": "Dewi Lestari" })).await;
    assert!(s == 201 || s == 202, "{v}");
    verify_own_phone(&app, "dewi@example.org", "081234560001").await;

    // Registration with a known and an unknown e-mail.
    let probe = |email: &str| json!({ "email": email, "password": "Nasi-Goreng-Pedas-42", "full_name": "Penyelidik" });
    let (s1, v1) = api(&app, "POST", "/register", None, probe("dewi@example.org")).await;
    let (s2, v2) = api(&app, "POST", "/register", None, probe("baru@example.org")).await;
    assert_eq!((s1, shape(&v1)), (s2, shape(&v2)), "{v1} / {v2}");
    let body = wait_for_message(&app, "account_exists", "dewi@example.org").await;
    assert!(body.contains("Dewi"), "{body}");

    // The same on the registration page: same status, same page, nobody signed in.
    let mut pages = Vec::new();
    for email in ["dewi@example.org", "baru2@example.org"] {
        let mut b = Browser::new(&app.url);
        let (_, _, html) = b.get("/akun/daftar").await;
        let csrf = hidden(&html, "csrf");
        let (s, loc, html) = b
            .post(
                "/akun/daftar",
                &[
                    ("csrf", &csrf),
                    ("full_name", "Penyelidik"),
                    ("email", email),
                    ("password", "Nasi-Goreng-Pedas-42"),
                    ("role", "public"),
                    ("return_to", "/akun/"),
                ],
            )
            .await;
        let signed_in = b.jar.contains_key("kreki_session");
        pages.push((s, loc, html.replace(email, "EMAIL"), signed_in));
    }
    assert_eq!(pages[0], pages[1]);
    assert!(!pages[0].3);

    // Sign-in codes: a registered (verified) number and an unknown one, twice each.
    let mut answers = Vec::new();
    for phone in ["081234560001", "081234560002"] {
        for _ in 0..2 {
            let (s, v) = api(
                &app,
                "POST",
                "/otp/send",
                None,
                json!({ "phone": phone, "purpose": "login" }),
            )
            .await;
            answers.push((s, v["error"]["code"].clone(), shape(&v)));
        }
    }
    assert_eq!(answers[0..2], answers[2..4], "{answers:?}");
    assert_eq!(answers[1].0, 429, "the cooldown holds per number");

    // PUT /me to an address in use or a free one.
    let (s, _) = api(
        &app,
        "POST",
        "/register",
        None,
        json!({ "email": "eko@example.org", "password": PW, "full_name": "Eko Prasetyo" }),
    )
    .await;
    assert!(s == 201 || s == 202);
    let t = login(&app, "eko@example.org", PW).await["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    for (taken, free) in [
        (
            json!({ "email": "dewi@example.org" }),
            json!({ "email": "eko.baru@example.org" }),
        ),
        (
            json!({ "phone": "081234560001" }),
            json!({ "phone": "081234560003" }),
        ),
    ] {
        let mut a = taken.clone();
        a["current_password"] = PW.into();
        let mut b = free.clone();
        b["current_password"] = PW.into();
        let (s1, v1) = api(&app, "PUT", "/me", Some(&t), a).await;
        let (s2, v2) = api(&app, "PUT", "/me", Some(&t), b).await;
        assert_eq!((s1, shape(&v1)), (s2, shape(&v2)), "{v1} / {v2}");
    }
    app.stop().await;
}

/// Finding 12 (registration): a burst of registrations from one address is cut off with
/// 429 RATE_LIMITED and Retry-After; a sign-in from another address still goes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attack_registration_flood_is_cut_off_and_sign_ins_keep_their_share() {
    let app = start_with(false, |cfg| cfg.http.trust_proxy = true).await;
    let from = |ip: &str, path: &str, body: Value| {
        app.client
            .post(format!("{}/api/auth/v1{path}", app.url))
            .header("x-forwarded-for", ip)
            .json(&body)
            .send()
    };
    let r = from(
        "192.0.2.10",
        "/register",
        json!({ "email": "sari@example.org", "password": PW, "full_name": "Sari Wulandari" }),
    )
    .await
    .unwrap();
    assert!(r.status() == 201 || r.status() == 202);
    let flood = futures::future::join_all((0..40).map(|i| {
        from(
            "203.0.113.7",
            "/register",
            json!({ "email": format!("bot{i}@example.org"), "password": "Bot-Flood-Sandi-99", "full_name": "Bot" }),
        )
    }));
    let sign_in = async {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let t0 = std::time::Instant::now();
        let r = from(
            "198.51.100.9",
            "/login",
            json!({ "identifier": "sari@example.org", "password": PW }),
        )
        .await
        .unwrap();
        (r.status().as_u16(), t0.elapsed())
    };
    let (answers, (login_status, took)) = tokio::join!(flood, sign_in);
    assert_eq!(login_status, 200);
    assert!(took < std::time::Duration::from_secs(3), "{took:?}");
    let mut limited = 0;
    for r in answers {
        let r = r.unwrap();
        if r.status() == 429 {
            assert!(r.headers().contains_key("retry-after"));
            let v: Value = r.json().await.unwrap();
            assert_eq!(v["error"]["code"], "RATE_LIMITED");
            limited += 1;
        }
    }
    assert!(limited >= 20, "only {limited} of 40 refused");
    app.stop().await;
}

/// Finding 3 (part): a stolen access token alone does not change the e-mail or phone; a
/// new address counts only once verified and the old one is told; sign-in codes go only
/// to verified numbers; a new password needs the current one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attack_stolen_token_cannot_take_over_the_account() {
    let app = start(false).await;
    let (s, v) = api(&app, "POST", "/register", None, json!({ "email": "wati@example.org", "phone": "081234560011", "password": PW, "full_name": "Wati Kusuma" })).await;
    assert!(s == 201 || s == 202, "{v}");
    let stolen = verify_own_phone(&app, "wati@example.org", "081234560011").await;

    // The thief's token alone, or with a wrong password, changes nothing.
    for body in [
        json!({ "email": "pencuri@example.org" }),
        json!({ "phone": "081234560099" }),
        json!({ "email": "pencuri@example.org", "current_password": "Salah-Tebak-123" }),
    ] {
        let (s, v) = api(&app, "PUT", "/me", Some(&stolen), body).await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (403, Some("AUTH_REAUTH_REQUIRED")),
            "{v}"
        );
    }
    // The name still changes with the token alone.
    let (s, v) = api(
        &app,
        "PUT",
        "/me",
        Some(&stolen),
        json!({ "full_name": "Wati K." }),
    )
    .await;
    assert_eq!(s, 200, "{v}");

    // With the password the new e-mail waits for its verification; the old one is told.
    let (s, v) = api(
        &app,
        "PUT",
        "/me",
        Some(&stolen),
        json!({ "email": "wati.baru@example.org", "current_password": PW }),
    )
    .await;
    assert!(s == 200 || s == 202, "{v}");
    let (_, me) = api(&app, "GET", "/me", Some(&stolen), json!({})).await;
    assert_eq!(me["data"]["email"], "wati@example.org", "{me}");
    assert_eq!(me["data"]["pending_email"], "wati.baru@example.org", "{me}");
    wait_for_message(&app, "contact_change", "wati@example.org").await;
    let body = wait_for_message(&app, "email_verification", "wati.baru@example.org").await;
    let i = body.find("token=").unwrap() + "token=".len();
    let token: String = body[i..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    let (s, v) = api(
        &app,
        "POST",
        "/verify-email",
        None,
        json!({ "token": token }),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let (_, me) = api(&app, "GET", "/me", Some(&stolen), json!({})).await;
    assert_eq!(me["data"]["email"], "wati.baru@example.org", "{me}");
    assert_eq!(me["data"]["email_verified"], true);

    // A new phone likewise: kept pending until the code sent to it comes back.
    let (s, v) = api(
        &app,
        "PUT",
        "/me",
        Some(&stolen),
        json!({ "phone": "081234560012", "current_password": PW }),
    )
    .await;
    assert!(s == 200 || s == 202, "{v}");
    wait_for_message(&app, "contact_change", "+6281234560011").await;
    let (_, me) = api(&app, "GET", "/me", Some(&stolen), json!({})).await;
    assert_eq!(
        (
            me["data"]["phone"].as_str(),
            me["data"]["pending_phone"].as_str()
        ),
        (Some("+6281234560011"), Some("+6281234560012")),
        "{me}"
    );
    let code = wait_for_code_to(&app, "+6281234560012").await;
    let (s, v) = api(
        &app,
        "POST",
        "/otp/verify",
        Some(&stolen),
        json!({ "code": code }),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (
            v["data"]["phone"].as_str(),
            v["data"]["phone_verified"].as_bool()
        ),
        (Some("+6281234560012"), Some(true)),
        "{v}"
    );

    // Sign-in codes go only to verified numbers: an unverified one gets nothing.
    let (s, _) = api(
        &app,
        "POST",
        "/register",
        None,
        json!({ "phone": "081234560021", "password": PW, "full_name": "Tono" }),
    )
    .await;
    assert!(s == 201 || s == 202);
    let (s1, v1) = api(
        &app,
        "POST",
        "/otp/send",
        None,
        json!({ "phone": "081234560021", "purpose": "login" }),
    )
    .await;
    let (s2, v2) = api(
        &app,
        "POST",
        "/otp/send",
        None,
        json!({ "phone": "081234560012", "purpose": "login" }),
    )
    .await;
    assert_eq!((s1, shape(&v1)), (s2, shape(&v2)));
    let _ = wait_for_nth_code(&app, "+6281234560012", 2).await;
    assert!(
        console_messages(&app, "otp_code")
            .await
            .iter()
            .all(|(to, _)| to != "+6281234560021"),
        "a code went to an unverified number"
    );

    // A new password needs the current one.
    let (s, _) = api(
        &app,
        "POST",
        "/change-password",
        Some(&stolen),
        json!({ "new_password": "Pencuri-Menang-77" }),
    )
    .await;
    assert_eq!(s, 422);
    let (s, v) = api(
        &app,
        "POST",
        "/change-password",
        Some(&stolen),
        json!({ "current_password": "Salah-Tebak-123", "new_password": "Pencuri-Menang-77" }),
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (401, Some("AUTH_INVALID_CREDENTIALS"))
    );
    app.stop().await;
}

/// Finding 2: the password alone does not beat MFA on an account protected by a passkey:
/// a sign-in ticket enrols no new factor (API and sign-in page) and a pending TOTP secret is
/// no second factor there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attack_password_alone_cannot_enrol_a_factor_on_a_passkey_account() {
    use webauthn_authenticator_rs::{WebauthnAuthenticator, softpasskey::SoftPasskey};
    let app = start_localhost().await;
    let origin = app.url.clone();
    // The holder protects the account with a passkey.
    register(&app, "ketut@example.org", PW).await;
    let access = login(&app, "ketut@example.org", PW).await["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let mut authenticator = WebauthnAuthenticator::new(SoftPasskey::new(true));
    let (s, v) = api(
        &app,
        "POST",
        "/mfa/passkeys/register/start",
        Some(&access),
        Value::Null,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let reg = authenticator
        .do_registration(
            reqwest::Url::parse(&origin).unwrap(),
            serde_json::from_value(v["data"]["options"].clone()).unwrap(),
        )
        .unwrap();
    let (s, v) = api(
        &app,
        "POST",
        "/mfa/passkeys/register/finish",
        Some(&access),
        json!({ "ceremony": v["data"]["ceremony"], "name": "HP", "credential": reg }),
    )
    .await;
    assert_eq!(s, 201, "{v}");

    // The thief has the password only: the ticket enrols nothing over the API...
    let step = login(&app, "ketut@example.org", PW).await;
    assert_eq!(step["mfaRequired"], true);
    let (s, v) = api(
        &app,
        "POST",
        "/login/mfa/enroll",
        None,
        json!({ "mfaToken": step["mfaToken"] }),
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (409, Some("AUTH_MFA_ALREADY_ENABLED")),
        "{v}"
    );
    // ...nor on the sign-in page, which shows no secret to scan.
    let mut b = Browser::new(&app.url);
    let (_, _, html) = b.get("/akun/masuk").await;
    let csrf = hidden(&html, "csrf");
    let (s, _, html) = b
        .post(
            "/akun/masuk",
            &[
                ("csrf", &csrf),
                ("identifier", "ketut@example.org"),
                ("password", PW),
                ("return_to", "/akun/"),
            ],
        )
        .await;
    assert_eq!(s, 200);
    assert!(!html.contains("<code>") && !html.contains("<svg"), "{html}");
    // A secret set up (but not confirmed) in a signed-in session is no factor for a ticket.
    let (s, v) = api(&app, "POST", "/mfa/totp/setup", Some(&access), Value::Null).await;
    assert_eq!(s, 200, "{v}");
    let secret = v["data"]["secret"].as_str().unwrap().to_string();
    let step = login(&app, "ketut@example.org", PW).await;
    let (s, v) = api(
        &app,
        "POST",
        "/login/mfa",
        None,
        json!({ "mfaToken": step["mfaToken"], "code": totp_now(&secret) }),
    )
    .await;
    assert_eq!(s, 401, "{v}");
    app.stop().await;
}
