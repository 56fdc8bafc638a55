//! Phone codes, MFA enrolment, consents, export and erasure.

use serde_json::{Value, json};

use crate::{
    app::start,
    client::{PW, api, login, totp_now, verify_own_phone, wait_for_nth_code},
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phone_codes_mfa_enrolment_consents_export_and_erasure() {
    let app = start(false).await;
    let (s, v) = api(
        &app,
        "POST",
        "/register",
        None,
        json!({ "phone": "081298765432", "password": PW, "full_name": "Wayan Sudarma" }),
    )
    .await;
    assert_eq!(s, 202, "{v}");
    // Sign-in codes go to verified numbers only (finding 3): verify it first.
    verify_own_phone(&app, "081298765432", "081298765432").await;
    let account_id = login(&app, "081298765432", PW).await["user"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    // Codes go only to allowed countries, with a resend cooldown.
    let (s, v) = api(
        &app,
        "POST",
        "/otp/send",
        None,
        json!({ "phone": "+14155550100", "purpose": "login" }),
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("AUTH_PHONE_COUNTRY_NOT_ALLOWED"))
    );
    let (s, _) = api(
        &app,
        "POST",
        "/otp/send",
        None,
        json!({ "phone": "081298765432", "purpose": "login" }),
    )
    .await;
    assert_eq!(s, 202);
    let (s, v) = api(
        &app,
        "POST",
        "/otp/send",
        None,
        json!({ "phone": "081298765432", "purpose": "login" }),
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (429, Some("AUTH_OTP_COOLDOWN"))
    );
    // An unknown number gets the same answer (no enumeration) and no message.
    let (s, _) = api(
        &app,
        "POST",
        "/otp/send",
        None,
        json!({ "phone": "081200000000", "purpose": "login" }),
    )
    .await;
    assert_eq!(s, 202);
    let code = wait_for_nth_code(&app, "+6281298765432", 2).await;
    let (s, v) = api(
        &app,
        "POST",
        "/otp/login",
        None,
        json!({ "phone": "081298765432", "code": "000000" }),
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (401, Some("AUTH_OTP_INVALID"))
    );
    let (s, v) = api(
        &app,
        "POST",
        "/otp/login",
        None,
        json!({ "phone": "+6281298765432", "code": code }),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["data"]["user"]["phone_verified"], true);
    let (s, _) = api(
        &app,
        "POST",
        "/otp/login",
        None,
        json!({ "phone": "+6281298765432", "code": code }),
    )
    .await;
    assert_eq!(s, 401, "a code works once");
    let access = v["data"]["accessToken"].as_str().unwrap().to_string();
    // TOTP enrolment by the user, confirmed with an independent implementation.
    let (s, v) = api(
        &app,
        "POST",
        "/mfa/totp/setup",
        Some(&access),
        json!({ "current_password": PW }),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert!(v["data"]["qr_svg"].as_str().unwrap().contains("<svg"));
    assert!(
        v["data"]["otpauth_uri"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/KREKI%20ID")
    );
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
    let recovery = v["data"][0].as_str().unwrap().to_string();
    // The next sign-in asks for the second factor; a recovery code works once.
    let step = login(&app, "+6281298765432", PW).await;
    assert_eq!(step["mfaRequired"], true);
    let (s, _) = api(
        &app,
        "POST",
        "/login/mfa",
        None,
        json!({ "mfaToken": step["mfaToken"], "code": recovery }),
    )
    .await;
    assert_eq!(s, 200);
    let step = login(&app, "+6281298765432", PW).await;
    let (s, _) = api(
        &app,
        "POST",
        "/login/mfa",
        None,
        json!({ "mfaToken": step["mfaToken"], "code": recovery }),
    )
    .await;
    assert_eq!(s, 401);
    // Consents are recorded with their times; the export holds everything.
    let (s, v) = api(
        &app,
        "PUT",
        "/me/consents",
        Some(&access),
        json!({ "purpose": "emergency_location", "granted": true }),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(v["data"][0]["granted"], true);
    api(
        &app,
        "PUT",
        "/me/consents",
        Some(&access),
        json!({ "purpose": "emergency_location", "granted": false }),
    )
    .await;
    let (s, _) = api(
        &app,
        "PUT",
        "/me/consents",
        Some(&access),
        json!({ "purpose": "selling_data", "granted": true }),
    )
    .await;
    assert_eq!(s, 422);
    let (s, v) = api(&app, "GET", "/me/export", Some(&access), Value::Null).await;
    assert_eq!(s, 200);
    let d = &v["data"];
    assert_eq!(d["account"]["phone"], "+6281298765432");
    assert_eq!(d["consents"].as_array().unwrap().len(), 2);
    assert!(
        d["security_events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "mfa_enabled")
    );
    // Erasure: needs the password; afterwards nothing signs in and the event is out.
    let (s, _) = api(
        &app,
        "DELETE",
        "/me",
        Some(&access),
        json!({ "password": "nope" }),
    )
    .await;
    assert_eq!(s, 401);
    let (s, _) = api(
        &app,
        "DELETE",
        "/me",
        Some(&access),
        json!({ "password": PW }),
    )
    .await;
    assert_eq!(s, 200);
    let (s, _) = api(
        &app,
        "POST",
        "/login",
        None,
        json!({ "phone": "+6281298765432", "password": PW }),
    )
    .await;
    assert_eq!(s, 401);
    let (s, _) = api(&app, "GET", "/me", Some(&access), Value::Null).await;
    assert_eq!(s, 401);
    // The account's life is on the bus (through the outbox): created, updated (phone
    // verified, MFA), erased.
    let seen: Vec<String> = app
        .events()
        .await
        .into_iter()
        .filter(|(s, d)| {
            s.starts_with("identity.account.") && d["account_id"] == account_id.as_str()
        })
        .map(|(s, _)| s)
        .collect();
    assert!(
        seen.iter().any(|s| s == "identity.account.erased"),
        "{seen:?}"
    );
    assert_eq!(
        seen.first().map(String::as_str),
        Some("identity.account.created"),
        "{seen:?}"
    );
    assert!(
        seen.iter().any(|s| s == "identity.account.updated"),
        "{seen:?}"
    );
    app.stop().await;
}
