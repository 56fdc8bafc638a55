//! Passkeys with a software authenticator: as a second factor and alone.

use serde_json::{Value, json};

use crate::{
    app::start_localhost,
    client::{PW, api, login, register},
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passkeys_as_second_factor_and_passwordless_with_a_software_authenticator() {
    use webauthn_authenticator_rs::{WebauthnAuthenticator, softpasskey::SoftPasskey};
    // WebAuthn needs a domain as relying-party id: serve on localhost.
    let app = start_localhost().await;
    let origin = app.url.clone();
    let origin_url = reqwest::Url::parse(&origin).unwrap();
    register(&app, "nyoman@example.org", PW).await;
    let access = login(&app, "nyoman@example.org", PW).await["accessToken"]
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
    let ceremony = v["data"]["ceremony"].as_str().unwrap().to_string();
    let reg = authenticator
        .do_registration(
            origin_url.clone(),
            serde_json::from_value(v["data"]["options"].clone()).unwrap(),
        )
        .unwrap();
    let (s, v) = api(
        &app,
        "POST",
        "/mfa/passkeys/register/finish",
        Some(&access),
        json!({ "ceremony": ceremony, "name": "HP Android", "credential": reg }),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let passkey_id = v["data"]["id"].as_str().unwrap().to_string();
    let (s, _) = api(
        &app,
        "POST",
        "/mfa/passkeys/register/finish",
        Some(&access),
        json!({ "ceremony": ceremony, "credential": reg }),
    )
    .await;
    assert_eq!(s, 400, "a ceremony is used once");

    // Password, then the passkey as the second factor.
    let step = login(&app, "nyoman@example.org", PW).await;
    assert_eq!(
        (
            step["mfaRequired"].as_bool(),
            step["mfaEnrollRequired"].as_bool()
        ),
        (Some(true), None)
    );
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
            origin_url.clone(),
            serde_json::from_value(v["data"]["options"].clone()).unwrap(),
        )
        .unwrap();
    let (s, t) = api(&app, "POST", "/login/mfa/passkey/finish", None, json!({ "mfaToken": step["mfaToken"], "ceremony": v["data"]["ceremony"], "credential": assertion })).await;
    assert_eq!(s, 200, "{t}");
    assert!(t["data"]["accessToken"].is_string());
    // The same assertion again: the ceremony is gone.
    let (s, v2) = api(&app, "POST", "/login/mfa/passkey/finish", None, json!({ "mfaToken": step["mfaToken"], "ceremony": v["data"]["ceremony"], "credential": assertion })).await;
    assert_eq!(s, 401, "{v2}");

    // Passwordless, and a tampered signature is refused.
    let (s, v) = api(
        &app,
        "POST",
        "/login/passkey/start",
        None,
        json!({ "identifier": "nyoman@example.org" }),
    )
    .await;
    assert_eq!(s, 200);
    let mut assertion = serde_json::to_value(
        authenticator
            .do_authentication(
                origin_url.clone(),
                serde_json::from_value(v["data"]["options"].clone()).unwrap(),
            )
            .unwrap(),
    )
    .unwrap();
    let good = assertion.clone();
    // Flip one bit in the middle of the signature (not in base64 padding bits).
    let sig = {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut raw = b64
            .decode(assertion["response"]["signature"].as_str().unwrap())
            .unwrap();
        let mid = raw.len() / 2;
        raw[mid] ^= 0x01;
        b64.encode(raw)
    };
    assertion["response"]["signature"] = sig.into();
    let (s, e) = api(
        &app,
        "POST",
        "/login/passkey/finish",
        None,
        json!({ "ceremony": v["data"]["ceremony"], "credential": assertion }),
    )
    .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (401, Some("AUTH_PASSKEY_REFUSED")),
        "{e}"
    );
    let (s, v) = api(
        &app,
        "POST",
        "/login/passkey/start",
        None,
        json!({ "identifier": "nyoman@example.org" }),
    )
    .await;
    assert_eq!(s, 200);
    let assertion = authenticator
        .do_authentication(
            origin_url.clone(),
            serde_json::from_value(v["data"]["options"].clone()).unwrap(),
        )
        .unwrap();
    let (s, t) = api(
        &app,
        "POST",
        "/login/passkey/finish",
        None,
        json!({ "ceremony": v["data"]["ceremony"], "credential": assertion }),
    )
    .await;
    assert_eq!(s, 200, "{t}");
    assert_ne!(good, serde_json::to_value(&assertion).unwrap());
    // Unknown accounts get the same answer as accounts without a passkey.
    let (s, e) = api(
        &app,
        "POST",
        "/login/passkey/start",
        None,
        json!({ "identifier": "ghost@example.org" }),
    )
    .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (401, Some("AUTH_PASSKEY_UNAVAILABLE"))
    );
    // List and remove.
    let access = t["data"]["accessToken"].as_str().unwrap();
    let (_, v) = api(&app, "GET", "/mfa/passkeys", Some(access), Value::Null).await;
    assert_eq!(v["data"][0]["name"], "HP Android");
    assert!(v["data"][0]["last_used_at"].is_string());
    let (s, _) = api(
        &app,
        "DELETE",
        &format!("/mfa/passkeys/{passkey_id}"),
        Some(access),
        Value::Null,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(
        login(&app, "nyoman@example.org", PW).await["mfaRequired"],
        false
    );
    app.stop().await;
}
