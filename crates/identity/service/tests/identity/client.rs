//! A typed test client for KREKI ID: the REST API (`api`, `login`, `register`), a tiny
//! browser for the pages and the OIDC flow, and readers of the messages KREKI ID asked
//! notify to send (from its outbox: codes and links are in their variables).

use serde_json::{Value, json};

use crate::app::App;

pub use kreki_platform::testkit::browser::{Browser, enc, hidden, query_param};

/// Follow an authorization URL through the login page to the client's redirect URI.
pub async fn browser_authorize(b: &mut Browser, auth_url: &str, ident: &str, pw: &str) -> String {
    let (s, loc, _) = b.get(auth_url).await;
    assert_eq!(s, 303);
    if !loc.starts_with("/akun/masuk") {
        return loc;
    }
    let (s, _, html) = b.get(&loc).await;
    assert_eq!(s, 200);
    let (csrf, ret) = (hidden(&html, "csrf"), hidden(&html, "return_to"));
    assert!(ret.starts_with("/oauth2/authorize?"), "{ret}");
    let (s, loc, body) = b
        .post(
            "/akun/masuk",
            &[
                ("identifier", ident),
                ("password", pw),
                ("return_to", &ret),
                ("csrf", &csrf),
            ],
        )
        .await;
    assert_eq!(s, 303, "{body}");
    let (s, loc, _) = b.get(&loc).await;
    assert_eq!(s, 303);
    loc
}

pub async fn api(
    app: &App,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> (u16, Value) {
    let url = format!("{}/api/auth/v1{path}", app.url);
    let mut r = match method {
        "GET" => app.client.get(url),
        "PUT" => app.client.put(url).json(&body),
        "DELETE" => app.client.delete(url).json(&body),
        _ => app.client.post(url).json(&body),
    };
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    let res = r.send().await.unwrap();
    let s = res.status().as_u16();
    (s, res.json().await.unwrap_or(Value::Null))
}

/// Register and sign in once: the account's view (registration answers alike for new and
/// existing addresses, so the account is read after signing in).
pub async fn register(app: &App, email: &str, pw: &str) -> Value {
    let (s, v) = api(app, "POST", "/register", None, json!({ "email": email, "password": pw, "full_name": "Rahmat Hidayat", "role": "volunteer" })).await;
    assert!(s == 201 || s == 202, "{v}");
    login(app, email, pw).await["user"].clone()
}

pub async fn login(app: &App, ident: &str, pw: &str) -> Value {
    let (s, v) = api(
        app,
        "POST",
        "/login",
        None,
        json!({ "identifier": ident, "password": pw }),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    v["data"].clone()
}

pub const PW: &str = "Kopi-Tubruk-Senja-77";

/// The claims of a JWT, verified with `jsonwebtoken` on the published JWKS would need the
/// key; here only the payload is read (signatures are verified by openidconnect above).
pub fn decode_payload(jwt: &str) -> Value {
    use base64::Engine;
    let part = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap(),
    )
    .unwrap()
}

pub fn totp_now(seed: &str) -> String {
    let secret = totp_rs::Secret::Encoded(seed.into()).to_bytes().unwrap();
    totp_rs::TOTP::new(totp_rs::Algorithm::SHA1, 6, 1, 30, secret)
        .unwrap()
        .generate_current()
        .unwrap()
}

pub fn b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
}

/// A JSON value's shape: keys and value types, not the values.
pub fn shape(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), shape(v))).collect()),
        Value::Array(a) => Value::Array(a.iter().map(shape).collect()),
        Value::String(_) => json!("string"),
        Value::Number(_) => json!("number"),
        Value::Bool(_) => json!("bool"),
        Value::Null => Value::Null,
    }
}

/// Sign in by password and verify the account's phone with a code (as a user would).
pub async fn verify_own_phone(app: &App, ident: &str, phone: &str) -> String {
    let t = login(app, ident, PW).await["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let (s, v) = api(
        app,
        "POST",
        "/otp/send",
        Some(&t),
        json!({ "phone": phone, "purpose": "verify_phone" }),
    )
    .await;
    assert_eq!(s, 202, "{v}");
    let e164 = format!("+62{}", &phone[1..]);
    let code = wait_for_code_to(app, &e164).await;
    let (s, v) = api(
        app,
        "POST",
        "/otp/verify",
        Some(&t),
        json!({ "code": code }),
    )
    .await;
    assert_eq!(
        (s, v["data"]["phone_verified"].as_bool()),
        (200, Some(true)),
        "{v}"
    );
    t
}

/// Messages of a template that KREKI ID asked notify to send, oldest first: (address, the
/// message's variables as JSON text). They are in the outbox when the answer comes.
pub async fn console_messages(app: &App, template: &str) -> Vec<(String, String)> {
    app.messages(template).await
}

/// The value after `marker` in the newest message containing it (a link's token).
pub async fn wait_for_console(app: &App, marker: &str) -> String {
    let all = app.all_messages().await;
    all.iter()
        .rev()
        .find_map(|(_, _, vars)| {
            let s = vars.to_string();
            let i = s.find(marker)? + marker.len();
            Some(
                s[i..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                    .collect::<String>(),
            )
        })
        .unwrap_or_else(|| panic!("no message with {marker}: {all:?}"))
}

pub fn code_of(vars: &str) -> String {
    let v: Value = serde_json::from_str(vars).unwrap();
    let code = v["code"].as_str().unwrap().to_string();
    assert_eq!(code.len(), 6, "{v}");
    code
}

/// The newest message of a template to an address: its variables (JSON text).
pub async fn wait_for_message(app: &App, template: &str, to: &str) -> String {
    console_messages(app, template)
        .await
        .into_iter()
        .rev()
        .find(|(a, _)| a == to)
        .map(|(_, b)| b)
        .unwrap_or_else(|| panic!("no {template} message to {to}"))
}

/// The 6-digit code of the last code message to a phone.
pub async fn wait_for_code_to(app: &App, phone: &str) -> String {
    code_of(&wait_for_message(app, "otp_code", phone).await)
}

/// The `n`-th code (from 1) sent to a phone.
pub async fn wait_for_nth_code(app: &App, phone: &str, n: usize) -> String {
    let body = console_messages(app, "otp_code")
        .await
        .into_iter()
        .filter(|(to, _)| to == phone)
        .nth(n - 1)
        .map(|(_, b)| b)
        .unwrap_or_else(|| panic!("no code {n} to {phone}"));
    code_of(&body)
}
