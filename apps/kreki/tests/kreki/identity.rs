//! KREKI ID across services: the demo admins sign in with TOTP and a KREKI ID token opens
//! (or not) other services' routes by the permission matrix; and the helpers the other
//! cross-service tests use to sign in. KREKI ID's own HTTP tests live in its crate
//! (`crates/identity/service/tests/identity`).

use kreki_platform::{
    config::Config,
    service::{DemoSettings, DemoSim},
};
use serde_json::{Value, json};

use crate::up::{UpApp, console_lines, start_up_full};

const CC_SECRET: &str = "partner-secret-0123456789abcdefghijklmnopqrstuvwxyz";

/// `kreki up` with KREKI ID as the real issuer (no test signer), cheap Argon2 and one
/// confidential partner client.
pub(crate) async fn start(demo: bool) -> UpApp {
    start_with(demo, |_| {}).await
}

/// [`start`] with more settings.
pub(crate) async fn start_with(demo: bool, more: impl FnOnce(&mut Config)) -> UpApp {
    start_up_full(
        None,
        |cfg: &mut Config| {
            cfg.auth.jwks_url = None;
            cfg.auth.issuer = None;
            let id = &mut cfg.identity;
            id.insert("argon2_memory_kib".into(), 8192.into());
            id.insert("argon2_iterations".into(), 1.into());
            let clients = figment::value::Value::serialize(json!([{
                "client_id": "partner-psc",
                "name": "PSC 119 partner",
                "client_secret": CC_SECRET,
                "confidential": true,
                "grant_types": ["client_credentials"],
                "scopes": ["bridge.callback"],
            }, {
                "client_id": "third-party",
                "name": "Aplikasi Mitra",
                "client_secret": CC_SECRET,
                "confidential": true,
                "redirect_uris": ["http://127.0.0.1:9/cb"],
                "post_logout_redirect_uris": ["http://127.0.0.1:9/bye"],
                "grant_types": ["authorization_code", "refresh_token"],
                "scopes": ["openid", "profile", "email"],
            }]))
            .unwrap();
            id.insert("clients".into(), clients);
            more(cfg);
        },
        demo.then_some(DemoSettings { sim: DemoSim::Off }),
    )
    .await
}

pub(crate) use kreki_platform::testkit::browser::{Browser, enc, hidden, query_param};

pub(crate) async fn api(
    app: &UpApp,
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

pub(crate) async fn login(app: &UpApp, ident: &str, pw: &str) -> Value {
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

/// The claims of a JWT, verified with `jsonwebtoken` on the published JWKS would need the
/// key; here only the payload is read (signatures are verified by openidconnect above).
pub(crate) fn decode_payload(jwt: &str) -> Value {
    use base64::Engine;
    let part = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap(),
    )
    .unwrap()
}

pub(crate) fn totp_now(seed: &str) -> String {
    let secret = totp_rs::Secret::Encoded(seed.into()).to_bytes().unwrap();
    totp_rs::TOTP::new(totp_rs::Algorithm::SHA1, 6, 1, 30, secret)
        .unwrap()
        .generate_current()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_admins_sign_in_with_totp_and_permissions_hold_across_services() {
    let app = start(true).await;
    let pw = kreki_identity::demo::PASSWORD;
    // Every role has a demo account.
    for (role, email, _, _, seed) in kreki_identity::demo::ACCOUNTS {
        let t = login(&app, email, pw).await;
        assert_eq!(t["user"]["role"], role.as_str());
        assert_eq!(t["mfaRequired"].as_bool(), Some(seed.is_some()), "{email}");
    }
    // Ops Admin: password, then TOTP (computed by an independent implementation).
    let (_, _, _, _, seed) = kreki_identity::demo::ACCOUNTS
        .iter()
        .find(|a| a.0.as_str() == "ops_admin")
        .unwrap();
    let step = login(&app, "ops@demo.kreki.id", pw).await;
    assert!(step["accessToken"].is_null());
    let ticket = step["mfaToken"].as_str().unwrap();
    let (s, v) = api(
        &app,
        "POST",
        "/login/mfa",
        None,
        json!({ "mfaToken": ticket, "code": "000000" }),
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (401, Some("AUTH_MFA_INVALID"))
    );
    let (s, v) = api(
        &app,
        "POST",
        "/login/mfa",
        None,
        json!({ "mfaToken": ticket, "code": totp_now(seed.unwrap()) }),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let ops = v["data"]["accessToken"].as_str().unwrap().to_string();
    assert_eq!(decode_payload(&ops)["roles"], json!(["ops_admin"]));
    let (s, _) = api(
        &app,
        "POST",
        "/login/mfa",
        None,
        json!({ "mfaToken": ticket, "code": totp_now(seed.unwrap()) }),
    )
    .await;
    assert_eq!(s, 401, "a ticket is used once");
    let vol = login(&app, "relawan@demo.kreki.id", pw).await["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    // Within KREKI ID: the audit log is for Ops/System admins only.
    let (s, _) = api(&app, "GET", "/admin/audit", Some(&vol), Value::Null).await;
    assert_eq!(s, 403);
    let (s, v) = api(
        &app,
        "GET",
        "/admin/audit?kind=login_success&limit=5",
        Some(&ops),
        Value::Null,
    )
    .await;
    assert_eq!(s, 200);
    assert!(v["meta"]["total"].as_u64().unwrap() >= 2);
    assert!(v["data"][0]["ip"].as_str().unwrap().ends_with(".x"), "{v}");
    let (s, v) = api(&app, "GET", "/admin/permissions", Some(&ops), Value::Null).await;
    assert_eq!(s, 200);
    assert!(v["data"].as_array().unwrap().iter().any(|r| {
        r["role"] == "ops_admin"
            && r["permissions"]
                .as_array()
                .unwrap()
                .contains(&json!("case:read_all"))
    }));
    // Another service checks a KREKI ID token through the platform's JWKS extractor: a
    // Volunteer cannot call an Ops endpoint, an Ops Admin can.
    let nearby = |t: String| {
        let c = app.client.clone();
        let u = format!(
            "{}/api/emergency/v1/nearby?latitude=-6.2&longitude=106.8&radius=1000",
            app.url
        );
        async move {
            c.get(u)
                .bearer_auth(t)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(nearby(vol.clone()).await, 403);
    assert_eq!(nearby(ops.clone()).await, 200);
    // Key rotation by the System Admin: old tokens stay valid, new ones use the new key.
    let (_, _, _, _, sys_seed) = kreki_identity::demo::ACCOUNTS
        .iter()
        .find(|a| a.0.as_str() == "system_admin")
        .unwrap();
    let step = login(&app, "sysadmin@demo.kreki.id", pw).await;
    let (_, v) = api(
        &app,
        "POST",
        "/login/mfa",
        None,
        json!({ "mfaToken": step["mfaToken"], "code": totp_now(sys_seed.unwrap()) }),
    )
    .await;
    let sys = v["data"]["accessToken"].as_str().unwrap().to_string();
    let (s, _) = api(&app, "POST", "/admin/keys/rotate", Some(&ops), Value::Null).await;
    assert_eq!(s, 403, "Ops Admin cannot rotate keys");
    let (s, v) = api(&app, "POST", "/admin/keys/rotate", Some(&sys), Value::Null).await;
    assert_eq!(s, 200);
    let kid = v["data"]["kid"].as_str().unwrap().to_string();
    let jwks: Value = app
        .client
        .get(format!("{}/.well-known/jwks.json", app.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
    assert_eq!(
        nearby(ops.clone()).await,
        200,
        "a token of the retired key still works"
    );
    let vol2 = login(&app, "relawan@demo.kreki.id", pw).await["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let header: Value = {
        use base64::Engine;
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(vol2.split('.').next().unwrap())
                .unwrap(),
        )
        .unwrap()
    };
    assert_eq!(header["kid"].as_str(), Some(kid.as_str()));
    assert_eq!(header["alg"], "ES256");
    let (s, v) = api(&app, "GET", "/me", Some(&vol2), Value::Null).await;
    assert_eq!(s, 200, "{v}");
    // Admin API for clients: create a confidential client; its secret works once shown.
    let (s, v) = api(&app, "POST", "/admin/clients", Some(&sys), json!({ "name": "Dinkes", "confidential": true, "grant_types": ["client_credentials"], "scopes": ["reports"] })).await;
    assert_eq!(s, 201, "{v}");
    let (id, secret) = (
        v["data"]["client"]["client_id"]
            .as_str()
            .unwrap()
            .to_string(),
        v["data"]["client_secret"].as_str().unwrap().to_string(),
    );
    let r = app
        .client
        .post(format!("{}/oauth2/token", app.url))
        .basic_auth(&id, Some(&secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (s, v) = api(&app, "POST", "/admin/clients", Some(&sys), json!({ "name": "Bad", "confidential": false, "grant_types": ["authorization_code"], "redirect_uris": ["http://evil.example/cb"] })).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("VALIDATION_CLIENT_INVALID"))
    );
    let (s, _) = api(&app, "GET", "/admin/clients", Some(&ops), Value::Null).await;
    assert_eq!(s, 403);
    // Role change by the System Admin is audited and applies at the next sign-in.
    let me = api(&app, "GET", "/me", Some(&vol2), Value::Null).await.1;
    let (s, v) = api(
        &app,
        "PUT",
        &format!(
            "/admin/accounts/{}/role",
            me["data"]["id"].as_str().unwrap()
        ),
        Some(&sys),
        json!({ "role": "volunteer_lead" }),
    )
    .await;
    assert_eq!(
        (s, v["data"]["role"].as_str()),
        (200, Some("volunteer_lead"))
    );
    let (_, v) = api(
        &app,
        "GET",
        "/admin/audit?kind=role_changed",
        Some(&ops),
        Value::Null,
    )
    .await;
    assert_eq!(v["data"][0]["details"]["to"], "volunteer_lead");
    // On the login pages: an admin's password, then the backup factor (a code by SMS).
    let mut b = Browser::new(&app.url);
    let (_, _, html) = b.get("/akun/masuk").await;
    let csrf = hidden(&html, "csrf");
    let (s, _, html) = b
        .post(
            "/akun/masuk",
            &[
                ("csrf", &csrf),
                ("identifier", "pelatihan@demo.kreki.id"),
                ("password", pw),
                ("return_to", "/akun/"),
            ],
        )
        .await;
    assert_eq!(s, 200);
    let ticket = hidden(&html, "ticket");
    let (s, _, html) = b
        .post(
            "/akun/mfa",
            &[
                ("csrf", &csrf),
                ("ticket", &ticket),
                ("step", "sms"),
                ("return_to", "/akun/"),
            ],
        )
        .await;
    assert_eq!(s, 200);
    assert!(
        html.contains("role=\"status\">Kode dikirim ke +628*******004"),
        "{html}"
    );
    let code = wait_for_code(&app).await;
    let (s, loc, _) = b
        .post(
            "/akun/mfa",
            &[
                ("csrf", &csrf),
                ("ticket", &ticket),
                ("code", &code),
                ("return_to", "/akun/"),
            ],
        )
        .await;
    assert_eq!((s, loc.as_str()), (303, "/akun/"));
    let (_, _, html) = b.get("/akun/").await;
    assert!(html.contains("training_admin"), "{html}");
    app.stop().await;
}

async fn wait_for_code(app: &UpApp) -> String {
    let mut code = None;
    kreki_platform::testkit::eventually(
        "a one-time code on the console channel",
        std::time::Duration::from_secs(10),
        || {
            code = console_lines(&app.console).iter().rev().find_map(|l| {
                let body = l["message"]["body"].as_str()?;
                let i = body.find("Kode KREKI Anda: ")? + "Kode KREKI Anda: ".len();
                Some(body[i..i + 6].to_string())
            });
            let ok = code.is_some();
            async move { ok }
        },
    )
    .await;
    code.unwrap()
}
