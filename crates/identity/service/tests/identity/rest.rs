//! The REST API of the org standard: registration, sign-in, profile, tokens, passwords,
//! and the sign-in throttles.

use serde_json::{Value, json};

use crate::{
    app::start,
    client::{PW, api, b64, decode_payload, login, register, wait_for_console},
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_api_register_login_profile_tokens_and_passwords() {
    let app = start(false).await;
    let user = register(&app, "Ayu@Example.org", PW).await;
    assert_eq!(user["email"], "ayu@example.org");
    assert_eq!(user["role"], "volunteer");
    let member = user["member_number"].as_str().unwrap();
    assert!(member.len() == 8 && member.bytes().all(|b| b.is_ascii_digit()));
    // Duplicates and bad input.
    let (s, v) = api(
        &app,
        "POST",
        "/register",
        None,
        json!({ "email": "ayu@example.org", "password": PW, "full_name": "X" }),
    )
    .await;
    // The same answer as for a new address (finding 11): the owner is told instead.
    assert_eq!(
        (s, v["data"]["status"].as_str()),
        (202, Some("accepted")),
        "{v}"
    );
    for (pw, code) in [
        ("short1A", "AUTH_PASSWORD_TOO_SHORT"),
        ("nouppercase1", "AUTH_PASSWORD_NO_UPPERCASE"),
        ("NoDigitsHere", "AUTH_PASSWORD_NO_DIGIT"),
        ("Password1", "AUTH_PASSWORD_WEAK"),
        ("Jakarta2024", "AUTH_PASSWORD_WEAK"),
    ] {
        let (s, v) = api(
            &app,
            "POST",
            "/register",
            None,
            json!({ "email": "new@example.org", "password": pw, "full_name": "Budi" }),
        )
        .await;
        assert_eq!((s, v["error"]["code"].as_str()), (422, Some(code)), "{pw}");
    }
    for (body, code) in [
        (
            json!({ "password": PW, "full_name": "Budi" }),
            "VALIDATION_EMAIL_OR_PHONE_REQUIRED",
        ),
        (
            json!({ "email": "not-an-email", "password": PW, "full_name": "Budi" }),
            "VALIDATION_EMAIL_INVALID",
        ),
        (
            json!({ "phone": "12", "password": PW, "full_name": "Budi" }),
            "VALIDATION_PHONE_INVALID",
        ),
        (
            json!({ "email": "b@example.org", "password": PW, "full_name": "Budi", "role": "ops_admin" }),
            "VALIDATION_ROLE_INVALID",
        ),
        (
            json!({ "email": "b@example.org", "password": PW, "full_name": "x".repeat(101) }),
            "VALIDATION_NAME_INVALID",
        ),
        (
            json!({ "email": "b@example.org", "password": PW, "full_name": "Budi", "admin": true }),
            "VALIDATION_UNKNOWN_FIELD",
        ),
    ] {
        let (s, v) = api(&app, "POST", "/register", None, body).await;
        assert_eq!((s, v["error"]["code"].as_str()), (422, Some(code)));
    }
    // Verification e-mail went through the notify contract.
    let link = wait_for_console(&app, "akun/verifikasi-email?token=").await;

    // Sign in by e-mail or member number; wrong password and unknown account look the same.
    let t = login(&app, "ayu@example.org", PW).await;
    assert_eq!(t["user"]["role"], "volunteer");
    login(&app, member, PW).await;
    let (s1, v1) = api(
        &app,
        "POST",
        "/login",
        None,
        json!({ "email": "ayu@example.org", "password": "Wrong-Pass-123" }),
    )
    .await;
    let (s2, v2) = api(
        &app,
        "POST",
        "/login",
        None,
        json!({ "email": "nobody@example.org", "password": "Wrong-Pass-123" }),
    )
    .await;
    assert_eq!((s1, s2), (401, 401));
    assert_eq!(v1["error"], v2["error"]);
    let access = t["accessToken"].as_str().unwrap();
    let (s, me) = api(&app, "GET", "/me", Some(access), Value::Null).await;
    assert_eq!(
        (s, me["data"]["email_verified"].as_bool()),
        (200, Some(false))
    );
    let (s, _) = api(
        &app,
        "POST",
        "/verify-email",
        None,
        json!({ "token": link }),
    )
    .await;
    assert_eq!(s, 200);
    let (s, _) = api(
        &app,
        "POST",
        "/verify-email",
        None,
        json!({ "token": link }),
    )
    .await;
    assert_eq!(s, 400, "a link works once");
    let (_, me) = api(&app, "GET", "/me", Some(access), Value::Null).await;
    assert_eq!(me["data"]["email_verified"], true);
    // Rectification.
    let (s, me) = api(
        &app,
        "PUT",
        "/me",
        Some(access),
        json!({ "full_name": "Ayu Lestari", "phone": "0812 3456 7890", "language": "en", "current_password": PW }),
    )
    .await;
    assert_eq!(s, 200, "{me}");
    // A new phone counts once its code comes back (finding 3).
    assert_eq!(
        (
            me["data"]["full_name"].as_str(),
            me["data"]["phone"].as_str(),
            me["data"]["pending_phone"].as_str()
        ),
        (Some("Ayu Lestari"), None, Some("+6281234567890"))
    );
    let (s, _) = api(
        &app,
        "PUT",
        "/me",
        Some(access),
        json!({ "language": "fr" }),
    )
    .await;
    assert_eq!(s, 422);
    // Refresh rotates; reuse revokes.
    let rt = t["refreshToken"].as_str().unwrap();
    let (s, r2) = api(
        &app,
        "POST",
        "/refresh",
        None,
        json!({ "refreshToken": rt }),
    )
    .await;
    assert_eq!(s, 200);
    let rt2 = r2["data"]["refreshToken"].as_str().unwrap();
    let (s, v) = api(
        &app,
        "POST",
        "/refresh",
        None,
        json!({ "refreshToken": rt }),
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (401, Some("AUTH_REFRESH_INVALID"))
    );
    let (s, _) = api(
        &app,
        "POST",
        "/refresh",
        None,
        json!({ "refreshToken": rt2 }),
    )
    .await;
    assert_eq!(s, 401, "the family was revoked");
    // Forged tokens.
    let forged_none = format!(
        "{}.{}.",
        b64(r#"{"alg":"none","typ":"JWT"}"#),
        access.split('.').nth(1).unwrap()
    );
    let (s, _) = api(&app, "GET", "/me", Some(&forged_none), Value::Null).await;
    assert_eq!(s, 401);
    let jwks: Value = app
        .client
        .get(format!("{}/.well-known/jwks.json", app.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let hs = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &decode_payload(access),
        &jsonwebtoken::EncodingKey::from_secret(jwks["keys"][0]["x"].as_str().unwrap().as_bytes()),
    )
    .unwrap();
    let (s, _) = api(&app, "GET", "/me", Some(&hs), Value::Null).await;
    assert_eq!(s, 401);
    // Change password: the old one stops working and other sessions end.
    let t = login(&app, "ayu@example.org", PW).await;
    let access = t["accessToken"].as_str().unwrap();
    let (s, v) = api(
        &app,
        "POST",
        "/change-password",
        Some(access),
        json!({ "current_password": "nope", "new_password": "Gado-Gado-Pedas-88" }),
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (401, Some("AUTH_INVALID_CREDENTIALS"))
    );
    let (s, _) = api(
        &app,
        "POST",
        "/change-password",
        Some(access),
        json!({ "current_password": PW, "new_password": "Gado-Gado-Pedas-88" }),
    )
    .await;
    assert_eq!(s, 200);
    let (s, _) = api(
        &app,
        "POST",
        "/refresh",
        None,
        json!({ "refreshToken": t["refreshToken"] }),
    )
    .await;
    assert_eq!(s, 401);
    login(&app, "ayu@example.org", "Gado-Gado-Pedas-88").await;
    // Forgot / reset by the e-mailed link (no enumeration: the same answer for strangers).
    let (s, _) = api(
        &app,
        "POST",
        "/forgot-password",
        None,
        json!({ "email": "stranger@example.org" }),
    )
    .await;
    assert_eq!(s, 202);
    let (s, _) = api(
        &app,
        "POST",
        "/forgot-password",
        None,
        json!({ "email": "ayu@example.org" }),
    )
    .await;
    assert_eq!(s, 202);
    let token = wait_for_console(&app, "akun/reset-sandi?token=").await;
    let (s, v) = api(
        &app,
        "POST",
        "/reset-password",
        None,
        json!({ "token": token, "new_password": "abc" }),
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("AUTH_PASSWORD_TOO_SHORT"))
    );
    let (s, _) = api(
        &app,
        "POST",
        "/reset-password",
        None,
        json!({ "token": token, "new_password": "Sate-Padang-Malam-31" }),
    )
    .await;
    assert_eq!(s, 200);
    let (s, v) = api(
        &app,
        "POST",
        "/reset-password",
        None,
        json!({ "token": token, "new_password": "Sate-Padang-Malam-32" }),
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (400, Some("AUTH_RESET_TOKEN_INVALID"))
    );
    let t = login(&app, "ayu@example.org", "Sate-Padang-Malam-31").await;
    // Logout revokes the access token at once.
    let access = t["accessToken"].as_str().unwrap();
    let (s, _) = api(
        &app,
        "POST",
        "/logout",
        Some(access),
        json!({ "refreshToken": t["refreshToken"] }),
    )
    .await;
    assert_eq!(s, 200);
    let (s, _) = api(&app, "GET", "/me", Some(access), Value::Null).await;
    assert_eq!(s, 401);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_are_limited_per_ip_and_throttled_per_account() {
    let app = start(false).await;
    register(&app, "dian@example.org", PW).await;
    // Free attempts, then the account+IP pair must wait (exponential delay).
    for _ in 0..3 {
        let (s, _) = api(
            &app,
            "POST",
            "/login",
            None,
            json!({ "email": "dian@example.org", "password": "Wrong-Pass-1" }),
        )
        .await;
        assert_eq!(s, 401);
    }
    let (s, v) = api(
        &app,
        "POST",
        "/login",
        None,
        json!({ "email": "dian@example.org", "password": PW }),
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (429, Some("AUTH_TOO_MANY_ATTEMPTS")),
        "the pair waits, even with the right password"
    );
    // Five failures per IP within 15 minutes (org standard): then 429 with Retry-After.
    for who in ["x1@example.org", "x2@example.org"] {
        let (s, _) = api(
            &app,
            "POST",
            "/login",
            None,
            json!({ "email": who, "password": "Wrong-Pass-1" }),
        )
        .await;
        assert_eq!(s, 401);
    }
    let r = app
        .client
        .post(format!("{}/api/auth/v1/login", app.url))
        .json(&json!({ "email": "x3@example.org", "password": "Wrong-Pass-1" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 0 && retry <= 900, "{retry}");
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        (v["success"].as_bool(), v["error"]["code"].as_str()),
        (Some(false), Some("AUTH_TOO_MANY_ATTEMPTS"))
    );
    // The audit log has the failures, with masked addresses.
    app.stop().await;
}
