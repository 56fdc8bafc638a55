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
        json!({ "current_password": PW }),
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
    let (s, v) = api(
        &app,
        "POST",
        "/mfa/totp/setup",
        Some(&access),
        json!({ "current_password": PW }),
    )
    .await;
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

/// Finding 3 (rest): a stolen access token alone adds no authenticator (TOTP secret, passkey)
/// and removes none. The current password, a code of the current TOTP authenticator, or a
/// sign-in that passed a second factor less than 5 minutes ago is needed; a replayed TOTP
/// code is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attack_stolen_token_cannot_enrol_or_remove_an_authenticator() {
    use webauthn_authenticator_rs::{WebauthnAuthenticator, softpasskey::SoftPasskey};
    let app = start_localhost().await;
    let origin = reqwest::Url::parse(&app.url).unwrap();
    register(&app, "made@example.org", PW).await;
    let stolen = login(&app, "made@example.org", PW).await["accessToken"]
        .as_str()
        .unwrap()
        .to_string();

    // The thief's token alone, or with a wrong password, gets no TOTP secret and no
    // passkey ceremony.
    for path in ["/mfa/totp/setup", "/mfa/passkeys/register/start"] {
        for body in [
            Value::Null,
            json!({}),
            json!({ "current_password": "Salah-Tebak-123" }),
        ] {
            let (s, v) = api(&app, "POST", path, Some(&stolen), body).await;
            assert_eq!(
                (s, v["error"]["code"].as_str()),
                (403, Some("AUTH_REAUTH_REQUIRED")),
                "{path}: {v}"
            );
            assert!(v["data"].is_null(), "{v}");
        }
        // Without any body either.
        let r = app
            .client
            .post(format!("{}/api/auth/v1{path}", app.url))
            .bearer_auth(&stolen)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{path}");
    }

    // The holder, with the password, adds a passkey.
    let mut authenticator = WebauthnAuthenticator::new(SoftPasskey::new(true));
    let (s, v) = api(
        &app,
        "POST",
        "/mfa/passkeys/register/start",
        Some(&stolen),
        json!({ "current_password": PW }),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let reg = authenticator
        .do_registration(
            origin.clone(),
            serde_json::from_value(v["data"]["options"].clone()).unwrap(),
        )
        .unwrap();
    let (s, v) = api(
        &app,
        "POST",
        "/mfa/passkeys/register/finish",
        Some(&stolen),
        json!({ "ceremony": v["data"]["ceremony"], "name": "HP", "credential": reg }),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let passkey = v["data"]["id"].as_str().unwrap().to_string();

    // The token alone does not remove it.
    let (s, v) = api(
        &app,
        "DELETE",
        &format!("/mfa/passkeys/{passkey}"),
        Some(&stolen),
        Value::Null,
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (403, Some("AUTH_REAUTH_REQUIRED")),
        "{v}"
    );

    // A sign-in that passed the passkey as its second factor may add an authenticator
    // without asking again (within 5 minutes).
    let step = login(&app, "made@example.org", PW).await;
    assert_eq!(step["mfaRequired"], true);
    let (s, v) = api(
        &app,
        "POST",
        "/login/mfa/passkey/start",
        None,
        json!({ "mfaToken": step["mfaToken"] }),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let assertion = authenticator
        .do_authentication(
            origin.clone(),
            serde_json::from_value(v["data"]["options"].clone()).unwrap(),
        )
        .unwrap();
    let (s, t) = api(&app, "POST", "/login/mfa/passkey/finish", None, json!({ "mfaToken": step["mfaToken"], "ceremony": v["data"]["ceremony"], "credential": assertion })).await;
    assert_eq!(s, 200, "{t}");
    let fresh = t["data"]["accessToken"].as_str().unwrap().to_string();
    let (s, v) = api(&app, "POST", "/mfa/totp/setup", Some(&fresh), Value::Null).await;
    assert_eq!(s, 200, "{v}");
    let secret = v["data"]["secret"].as_str().unwrap().to_string();
    let code = totp_now(&secret);
    let (s, v) = api(
        &app,
        "POST",
        "/mfa/totp/enable",
        Some(&fresh),
        json!({ "code": code }),
    )
    .await;
    assert_eq!(s, 200, "{v}");

    // A used TOTP code does not re-authenticate the stolen token; a new one does.
    let (s, v) = api(
        &app,
        "POST",
        "/mfa/passkeys/register/start",
        Some(&stolen),
        json!({ "totp_code": code }),
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (403, Some("AUTH_REAUTH_REQUIRED")),
        "{v}"
    );
    let next = {
        let raw = totp_rs::Secret::Encoded(secret.clone()).to_bytes().unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        totp_rs::TOTP::new(totp_rs::Algorithm::SHA1, 6, 1, 30, raw)
            .unwrap()
            .generate(now + 30)
    };
    let (s, v) = api(
        &app,
        "POST",
        "/mfa/passkeys/register/start",
        Some(&stolen),
        json!({ "totp_code": next }),
    )
    .await;
    assert_eq!(s, 200, "{v}");

    // The fresh sign-in removes the passkey without asking again.
    let (s, v) = api(
        &app,
        "DELETE",
        &format!("/mfa/passkeys/{passkey}"),
        Some(&fresh),
        Value::Null,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    app.stop().await;
}

/// Sign in on the login page in a browser of its own; the page's CSRF token afterwards.
async fn page_session(app: &crate::app::App, email: &str) -> (Browser, String) {
    let mut b = Browser::new(&app.url);
    let (_, _, html) = b.get("/akun/masuk").await;
    let csrf = hidden(&html, "csrf");
    let (s, loc, html) = b
        .post(
            "/akun/masuk",
            &[
                ("csrf", &csrf),
                ("identifier", email),
                ("password", PW),
                ("return_to", "/akun/"),
            ],
        )
        .await;
    assert_eq!((s, loc.as_str()), (303, "/akun/"), "{html}");
    let (s, _, html) = b.get("/akun/").await;
    assert_eq!(s, 200, "{html}");
    let token = hidden(&html, "csrf");
    (b, token)
}

/// Finding 12 (CSRF): the token of the `/akun/` pages is bound to the browser's session. A
/// token (and cookie) of the attacker's own session, planted in the victim's browser (a
/// sibling host can set cookies for the parent domain), does not submit the victim's forms.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attack_csrf_token_of_another_session_is_refused() {
    let app = start(false).await;
    register(&app, "korban@example.org", PW).await;
    register(&app, "penyerang@example.org", PW).await;
    let (mut victim, victim_token) = page_session(&app, "korban@example.org").await;
    let (attacker, attacker_token) = page_session(&app, "penyerang@example.org").await;
    assert_ne!(victim_token, attacker_token);
    let session = victim.jar["kreki_session"].clone();

    // The attacker's pair (cookie and form field) in the victim's browser: sign-out refused.
    victim
        .jar
        .insert("kreki_csrf".into(), attacker.jar["kreki_csrf"].clone());
    let _ = victim
        .post("/akun/keluar", &[("csrf", &attacker_token)])
        .await;
    victim.jar.insert("kreki_session".into(), session.clone());
    let (s, loc, html) = victim.get("/akun/").await;
    assert_eq!((s, loc.as_str()), (200, ""), "the victim was signed out");
    assert!(html.contains("Rahmat Hidayat"), "{html}");

    // A token made before the sign-in (bound to no session) is refused once signed in.
    let mut fresh = Browser::new(&app.url);
    let (_, _, html) = fresh.get("/akun/masuk").await;
    let anonymous = hidden(&html, "csrf");
    victim
        .jar
        .insert("kreki_csrf".into(), fresh.jar["kreki_csrf"].clone());
    let _ = victim.post("/akun/keluar", &[("csrf", &anonymous)]).await;
    victim.jar.insert("kreki_session".into(), session.clone());
    let (s, _, _) = victim.get("/akun/").await;
    assert_eq!(s, 200, "the victim was signed out");

    // The victim's own token (the page issues one for this session again) signs out.
    let (_, _, html) = victim.get("/akun/").await;
    let own = hidden(&html, "csrf");
    let _ = victim.post("/akun/keluar", &[("csrf", &own)]).await;
    victim.jar.insert("kreki_session".into(), session);
    let (s, loc, _) = victim.get("/akun/").await;
    assert_eq!(s, 303, "{loc}");
    app.stop().await;
}

/// Finding 12 (CSRF cookie): on a site served over https every cookie of the pages is
/// `Secure` (CSRF, language, session); over plain http (the demo) they cannot be.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attack_page_cookies_are_secure_on_https() {
    let set_cookies = |r: &reqwest::Response| -> Vec<String> {
        r.headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect()
    };
    for https in [true, false] {
        let app = crate::app::start_opts(
            crate::app::Options {
                https,
                ..Default::default()
            },
            |_| {},
        )
        .await;
        register(&app, "aman@example.org", PW).await;
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let r = client
            .get(format!("{}/akun/masuk?lang=en", app.url))
            .send()
            .await
            .unwrap();
        let mut cookies = set_cookies(&r);
        let html = r.text().await.unwrap();
        let csrf = hidden(&html, "csrf");
        let r = client
            .post(format!("{}/akun/masuk", app.url))
            .header("cookie", format!("kreki_csrf={csrf}"))
            .form(&[
                ("csrf", csrf.as_str()),
                ("identifier", "aman@example.org"),
                ("password", PW),
                ("return_to", "/akun/"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303);
        cookies.extend(set_cookies(&r));
        for name in ["kreki_csrf=", "kreki_lang=", "kreki_session="] {
            let c = cookies
                .iter()
                .find(|c| c.starts_with(name))
                .unwrap_or_else(|| panic!("no {name} in {cookies:?}"));
            assert_eq!(c.contains("; Secure"), https, "{c}");
        }
        app.stop().await;
    }
}

/// Finding 12 (secrets at rest): a copy of the database (a backup, a dump) holds no usable
/// signing key and no TOTP secret: the stored rows are sealed with a key kept outside the
/// database (here `kreki up`'s key file, mode 0600). After a restart the service signs and
/// verifies with the same keys and checks TOTP codes; a row in clear from before is sealed
/// on start and still works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attack_a_copy_of_the_database_holds_no_signing_key_or_totp_secret() {
    use sqlx::Row;
    let app = start(false).await;
    register(&app, "rahasia@example.org", PW).await;
    let access = login(&app, "rahasia@example.org", PW).await["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let (s, v) = api(
        &app,
        "POST",
        "/mfa/totp/setup",
        Some(&access),
        json!({ "current_password": PW }),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let secret = v["data"]["secret"].as_str().unwrap().to_string();
    let (s, v) = api(
        &app,
        "POST",
        "/mfa/totp/enable",
        Some(&access),
        json!({ "code": totp_now(&secret) }),
    )
    .await;
    assert_eq!(s, 200, "{v}");

    // What a thief with the database reads.
    let stored_totp: String = sqlx::query("SELECT totp_secret FROM accounts WHERE email = $1")
        .bind("rahasia@example.org")
        .fetch_one(app.db.pool())
        .await
        .unwrap()
        .get(0);
    assert!(stored_totp.starts_with("enc1:"), "{stored_totp}");
    assert!(!stored_totp.contains(&secret));
    let keys: Vec<(String, String)> = sqlx::query_as("SELECT kid, private_der FROM signing_keys")
        .fetch_all(app.db.pool())
        .await
        .unwrap();
    assert!(!keys.is_empty());
    for (kid, der) in &keys {
        // A P-256 PKCS#8 key in base64 starts with "MIGHAgEA".
        assert!(
            der.starts_with("enc1:") && !der.contains("MIGHAgEA"),
            "{kid}: {der}"
        );
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(app.data_dir().join("identity-encryption.key")).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    }

    // A row in clear (written before encryption existed) is sealed on the next start.
    sqlx::query("UPDATE accounts SET totp_secret = $1 WHERE email = $2")
        .bind(&secret)
        .bind("rahasia@example.org")
        .execute(app.db.pool())
        .await
        .unwrap();
    let jwks_before: Value = app
        .client
        .get(format!("{}/.well-known/jwks.json", app.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let app = app.restart().await;
    let stored: String = sqlx::query("SELECT totp_secret FROM accounts WHERE email = $1")
        .bind("rahasia@example.org")
        .fetch_one(app.db.pool())
        .await
        .unwrap()
        .get(0);
    assert!(
        stored.starts_with("enc1:") && !stored.contains(&secret),
        "{stored}"
    );

    // The same keys after the restart, and they sign: a new token verifies with the old
    // key set; the TOTP secret still checks codes.
    let jwks_after: Value = app
        .client
        .get(format!("{}/.well-known/jwks.json", app.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks_before, jwks_after);
    let step = login(&app, "rahasia@example.org", PW).await;
    assert_eq!(step["mfaRequired"], true, "{step}");
    let next = {
        let raw = totp_rs::Secret::Encoded(secret.clone()).to_bytes().unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        totp_rs::TOTP::new(totp_rs::Algorithm::SHA1, 6, 1, 30, raw)
            .unwrap()
            .generate(now + 30)
    };
    let (s, v) = api(
        &app,
        "POST",
        "/login/mfa",
        None,
        json!({ "mfaToken": step["mfaToken"], "code": next }),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let token = v["data"]["accessToken"].as_str().unwrap();
    let header = jsonwebtoken::decode_header(token).unwrap();
    let set: jsonwebtoken::jwk::JwkSet = serde_json::from_value(jwks_before).unwrap();
    let jwk = set
        .find(header.kid.as_deref().unwrap())
        .expect("signed with a stored key");
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_audience(&["kreki"]);
    jsonwebtoken::decode::<Value>(
        token,
        &jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap(),
        &validation,
    )
    .unwrap();
    let (s, _) = api(&app, "GET", "/me", Some(token), Value::Null).await;
    assert_eq!(s, 200);
    app.stop().await;
}

/// Finding 2 (rest): the sign-in page's MFA step offers the passkey when the account has one,
/// with the one small script it needs allowed by its hash in the Content-Security-Policy
/// (no `'unsafe-inline'`); the passkey's answer posted with the form signs the browser in.
/// An account without a passkey gets a page without script.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sign_in_page_offers_the_passkey_with_a_hashed_script() {
    use base64::Engine;
    use sha2::Digest;
    use webauthn_authenticator_rs::{WebauthnAuthenticator, softpasskey::SoftPasskey};
    let app = start_localhost().await;
    let origin = reqwest::Url::parse(&app.url).unwrap();
    register(&app, "putu@example.org", PW).await;
    let access = login(&app, "putu@example.org", PW).await["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let mut authenticator = WebauthnAuthenticator::new(SoftPasskey::new(true));
    let (s, v) = api(
        &app,
        "POST",
        "/mfa/passkeys/register/start",
        Some(&access),
        json!({ "current_password": PW }),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let reg = authenticator
        .do_registration(
            origin.clone(),
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

    // The password step of the page: the MFA page offers the passkey.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = client
        .get(format!("{}/akun/masuk", app.url))
        .send()
        .await
        .unwrap();
    let html = r.text().await.unwrap();
    let csrf = hidden(&html, "csrf");
    let post = |form: Vec<(&'static str, String)>| {
        client
            .post(format!("{}/akun/masuk", app.url))
            .header("cookie", format!("kreki_csrf={csrf}"))
            .form(&form)
            .send()
    };
    let r = post(vec![
        ("csrf", csrf.clone()),
        ("identifier", "putu@example.org".into()),
        ("password", PW.into()),
        ("return_to", "/akun/".into()),
    ])
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"passkey\""), "{html}");
    let script = html
        .split_once("<script>")
        .and_then(|(_, rest)| rest.split_once("</script>"))
        .map(|(s, _)| s.to_string())
        .expect("a script");
    let hash =
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(script.as_bytes()));
    assert!(
        csp.contains(&format!("script-src 'sha256-{hash}'")),
        "{csp}"
    );
    let script_src = csp
        .split(';')
        .map(str::trim)
        .find(|d| d.starts_with("script-src"))
        .unwrap();
    assert_eq!(script_src, format!("script-src 'sha256-{hash}'"), "{csp}");
    assert_eq!(html.matches("<script").count(), 1);

    // What the script does: the options of the form to the authenticator, its answer posted.
    let options = {
        let i = html.find("data-options=\"").unwrap() + "data-options=\"".len();
        let raw = &html[i..i + html[i..].find('"').unwrap()];
        raw.replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&")
    };
    let assertion = authenticator
        .do_authentication(origin.clone(), serde_json::from_str(&options).unwrap())
        .unwrap();
    let field = |name: &str| {
        let needle = format!("name=\"{name}\" value=\"");
        let i = html.rfind(&needle).unwrap() + needle.len();
        html[i..i + html[i..].find('"').unwrap()].to_string()
    };
    let r = client
        .post(format!("{}/akun/mfa", app.url))
        .header("cookie", format!("kreki_csrf={csrf}"))
        .form(&[
            ("csrf", csrf.clone()),
            ("ticket", field("ticket")),
            ("return_to", "/akun/".to_string()),
            ("step", "passkey".to_string()),
            ("ceremony", field("ceremony")),
            ("credential", serde_json::to_string(&assertion).unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "{:?}", r.text().await);
    assert!(
        r.headers()
            .get_all("set-cookie")
            .iter()
            .any(|c| c.to_str().unwrap().starts_with("kreki_session=")),
        "signed in"
    );

    // Pages without a passkey to offer run no script at all.
    let r = client
        .get(format!("{}/akun/masuk", app.url))
        .send()
        .await
        .unwrap();
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(!csp.contains("script-src"), "{csp}");
    assert!(!r.text().await.unwrap().contains("<script"));
    app.stop().await;
}
