//! Attack tests of the security review (docs/security.md): each performs one attack over
//! HTTP against a running `kreki up` and asserts that it now fails. Findings that live in one
//! service are tested in that service's crate; these span services.

use kreki_platform::testkit;
use serde_json::{Value, json};

use crate::identity::{Browser, enc, hidden, query_param, start, start_with, totp_now};

/// RFC 7636 appendix B: a verifier and its S256 challenge.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// Sign in through the pages (password, then TOTP when the account has it) with the
/// authorization code + PKCE flow of a built-in app; returns the token endpoint's answer.
async fn app_sign_in(
    base: &str,
    client: &str,
    app_path: &str,
    email: &str,
    seed: Option<&str>,
) -> Value {
    let redirect = format!("{base}{app_path}callback");
    let authz = format!(
        "/oauth2/authorize?response_type=code&client_id={client}&redirect_uri={}&scope=openid%20profile&state=s1&nonce=n1&code_challenge={CHALLENGE}&code_challenge_method=S256",
        enc(&redirect)
    );
    let mut b = Browser::new(base);
    let (s, loc, _) = b.get(&authz).await;
    assert_eq!(s, 303);
    let (s, _, html) = b.get(&loc).await;
    assert_eq!(s, 200);
    let (csrf, ret) = (hidden(&html, "csrf"), hidden(&html, "return_to"));
    let (s, mut loc, html) = b
        .post(
            "/akun/masuk",
            &[
                ("identifier", email),
                ("password", kreki_identity::demo::PASSWORD),
                ("return_to", &ret),
                ("csrf", &csrf),
            ],
        )
        .await;
    if let Some(seed) = seed {
        assert_eq!(s, 200, "the MFA step: {html}");
        let (csrf, ticket, ret) = (
            hidden(&html, "csrf"),
            hidden(&html, "ticket"),
            hidden(&html, "return_to"),
        );
        let code = totp_now(seed);
        let (s, l, body) = b
            .post(
                "/akun/mfa",
                &[
                    ("ticket", &ticket),
                    ("code", &code),
                    ("return_to", &ret),
                    ("csrf", &csrf),
                ],
            )
            .await;
        assert_eq!(s, 303, "{body}");
        loc = l;
    } else {
        assert_eq!(s, 303, "{html}");
    }
    let (s, back, _) = b.get(&loc).await;
    assert_eq!(s, 303);
    assert!(back.starts_with(&redirect), "{back}");
    let code = query_param(&back, "code").unwrap();
    let res = reqwest::Client::new()
        .post(format!("{base}/oauth2/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", client),
            ("code", &code),
            ("redirect_uri", &redirect),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// Finding 1: an ID token issued to the Ops app (signed by the same key, carrying the same
/// `roles`) was accepted as a bearer token by emergency, volunteers, notify and the bridge.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_id_token_opens_no_api() {
    let app = start(true).await;
    let (_, email, _, _, seed) = kreki_identity::demo::ACCOUNTS
        .iter()
        .find(|a| a.0.as_str() == "ops_admin")
        .unwrap();
    let t = app_sign_in(&app.url, "kreki-ops", "/ops/", email, *seed).await;
    let (access, id) = (
        t["access_token"].as_str().unwrap(),
        t["id_token"].as_str().unwrap(),
    );
    let c = reqwest::Client::new();
    // One operator route of every service that checks KREKI ID tokens.
    let routes: [(&str, &str, Option<Value>); 5] = [
        ("GET", "/api/emergency/v1/active", None),
        ("GET", "/api/volunteers/v1/volunteers", None),
        ("POST", "/api/notify/v1/messages/search", Some(json!({}))),
        ("GET", "/api/satusehat/v1/jobs", None),
        ("GET", "/api/auth/v1/admin/audit", None),
    ];
    for (method, path, body) in routes {
        let send = |token: &str| {
            let mut r = match method {
                "GET" => c.get(format!("{}{path}", app.url)),
                _ => c.post(format!("{}{path}", app.url)),
            };
            if let Some(b) = &body {
                r = r.json(b);
            }
            r.bearer_auth(token).send()
        };
        let ok = send(access).await.unwrap();
        assert_eq!(ok.status(), 200, "{path} with the access token");
        let res = send(id).await.unwrap();
        assert_eq!(res.status(), 401, "{path} with the ID token");
        assert_eq!(res.headers()["www-authenticate"], "Bearer");
        let v: Value = res.json().await.unwrap();
        assert_eq!(v["error"]["code"], "AUTH_TOKEN_INVALID", "{path}: {v}");
    }
    app.stop().await;
}

/// The one authorisation policy covers every route of every service: `kreki up` refuses to
/// start when a served route (API, page, OIDC, webhook, static files) has no declaration or
/// names a permission outside the matrix (the walk over each router is in `start`); each
/// service lists its routes with their permissions, and a declared route refuses a caller
/// without a token before its handler runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_of_every_service_declares_its_permission() {
    let app = crate::up::start_up_full(
        None,
        |_| {},
        Some(kreki_platform::service::DemoSettings {
            sim: kreki_platform::service::DemoSim::Off,
        }),
    )
    .await;
    let matrix: Vec<&str> = kreki_identity_contracts::Role::ALL
        .iter()
        .flat_map(|r| r.permissions().iter().copied())
        .collect();
    let mut total = 0;
    for seg in [
        "auth",
        "emergency",
        "volunteers",
        "lms",
        "satusehat",
        "notify",
    ] {
        let v: Value = app
            .client
            .get(format!("{}/api/{seg}/v1/permissions", app.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let rows = v["data"].as_array().unwrap();
        assert!(rows.len() >= 10, "{seg}: {v}");
        for r in rows {
            match r["permission"].as_str() {
                Some(p) => assert!(matrix.contains(&p), "{seg}: {r}"),
                None => assert!(
                    r["public"].as_str().is_some_and(|w| w.len() > 10),
                    "{seg}: a public route says why: {r}"
                ),
            }
        }
        // A declared route refuses a caller without a token before its handler runs.
        let guarded = rows
            .iter()
            .find(|r| {
                r["permission"].is_string()
                    && r["method"] == "GET"
                    && !r["case_token"].as_bool().unwrap()
            })
            .unwrap_or_else(|| panic!("{seg} has a GET route with a permission"));
        let path = guarded["path"]
            .as_str()
            .unwrap()
            .replace("{id}", "x")
            .replace("{case_id}", "x")
            .replace("{doc_id}", "x")
            .replace("{client_id}", "x");
        let res = app
            .client
            .get(format!("{}{path}", app.url))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401, "{seg} {path}");
        total += rows.len();
    }
    assert!(total >= 190, "{total} routes declared");
    // The serve-mode routes of the bridge's second segment are the same table.
    let psc: Value = app
        .client
        .get(format!("{}/api/psc119/v1/permissions", app.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        psc["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["path"] == "/api/psc119/v1/callbacks")
    );
    app.stop().await;
}

/// Finding 9: after logout or erasure, the same access token kept getting 200 from the
/// volunteers service, the Emergency Core and the LMS (only KREKI ID knew). Revocations now
/// reach every service's bearer check within seconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_tokens_stop_working_in_every_service() {
    let app = start(true).await;
    let c = reqwest::Client::new();
    let status = |path: &'static str, token: String| {
        let c = c.clone();
        let url = format!("{}{path}", app.url);
        async move {
            c.get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let routes = [
        "/api/volunteers/v1/me",
        "/api/emergency/v1/offers/mine",
        "/api/lms/v1/progress",
        "/api/auth/v1/me",
    ];
    let pw = kreki_identity::demo::PASSWORD;
    // Logout: the token's own id is revoked.
    let t = crate::identity::login(&app, "relawan@demo.kreki.id", pw).await["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    for path in routes {
        assert_eq!(status(path, t.clone()).await, 200, "{path} before logout");
    }
    let (s, _) = crate::identity::api(&app, "POST", "/logout", Some(&t), json!({})).await;
    assert_eq!(s, 200);
    for path in routes {
        testkit::eventually(
            &format!("{path} refuses the logged-out token"),
            std::time::Duration::from_secs(6),
            || {
                let t = t.clone();
                async move { status(path, t).await == 401 }
            },
        )
        .await;
    }
    // Erasure: every token of the account is revoked.
    let t = crate::identity::login(&app, "ketua@demo.kreki.id", pw).await["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let other = crate::identity::login(&app, "ketua@demo.kreki.id", pw).await["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        status("/api/emergency/v1/offers/mine", other.clone()).await,
        200
    );
    let (s, v) =
        crate::identity::api(&app, "DELETE", "/me", Some(&t), json!({ "password": pw })).await;
    assert_eq!(s, 200, "{v}");
    for path in routes {
        testkit::eventually(
            &format!("{path} refuses the erased account's other token"),
            std::time::Duration::from_secs(6),
            || {
                let t = other.clone();
                async move { status(path, t).await == 401 }
            },
        )
        .await;
    }
    app.stop().await;
}

/// Found by the schemathesis run: in `kreki up` every service fetches KREKI ID's key set
/// through the public listener from the server's own (loopback) address. Once that address
/// had used up the general per-IP limit (a flood from it, or every client behind a proxy that
/// is not trusted), no service could fetch the keys and every signed-in request got 503. The
/// key set and the discovery document are exempt from the general limit (static, cached).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_from_the_servers_own_address_does_not_cut_off_token_checks() {
    let app = start_with(true, |cfg| {
        cfg.http.rate_limit_per_minute = 40;
        cfg.http.trust_proxy = true;
    })
    .await;
    let (_, email, _, _, seed) = kreki_identity::demo::ACCOUNTS
        .iter()
        .find(|a| a.0.as_str() == "ops_admin")
        .unwrap();
    let c = reqwest::Client::new();
    // A dispatcher signs in from an address of their own.
    let elsewhere = "198.51.100.20";
    let post = |path: &str, body: Value| {
        c.post(format!("{}{path}", app.url))
            .header("x-forwarded-for", elsewhere)
            .json(&body)
            .send()
    };
    let v: Value = post(
        "/api/auth/v1/login",
        json!({ "identifier": email, "password": kreki_identity::demo::PASSWORD }),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let ticket = v["data"]["mfaToken"]
        .as_str()
        .expect("an MFA step")
        .to_string();
    let v: Value = post(
        "/api/auth/v1/login/mfa",
        json!({ "mfaToken": ticket, "code": totp_now(seed.unwrap()) }),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let token = v["data"]["accessToken"]
        .as_str()
        .expect("a token")
        .to_string();
    // The server's own address uses up its per-IP limit at KREKI ID.
    let mut limited = false;
    for _ in 0..200 {
        let s = c
            .get(format!("{}/api/auth/v1/permissions", app.url))
            .send()
            .await
            .unwrap()
            .status();
        if s == 429 {
            limited = true;
            break;
        }
    }
    assert!(limited, "the loopback address reached its per-IP limit");
    let s = c
        .get(format!("{}/.well-known/jwks.json", app.url))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(
        s, 200,
        "the key set answers whatever else that address sent"
    );
    // The dispatcher's request: the Emergency Core fetches the keys now, and verifies.
    let res = c
        .get(format!("{}/api/emergency/v1/active", app.url))
        .header("x-forwarded-for", elsewhere)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
    app.stop().await;
}

/// Finding 12 (SMS ingress signatures carried no timestamp): the SMS gateway's webhook to the
/// Emergency Core is signed over `"<X-Kreki-Timestamp>.<body>"`. A validly signed message
/// replayed outside the freshness window is refused (401 `EMERGENCY_SMS_SIGNATURE_EXPIRED`),
/// and so is the old body-only signature (401 `EMERGENCY_SMS_SIGNATURE_INVALID`); neither
/// creates a case. A fresh one does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attack_sms_ingress_replayed_late_or_signed_without_timestamp_is_refused() {
    const SECRET: &str = "gateway-shared-secret";
    let app = crate::up::start_up_with(None, |cfg| {
        cfg.emergency
            .insert("sms_webhook_secret".into(), SECRET.into());
    })
    .await;
    let raw = json!({"from": "0812-3456-7890", "text": "DARURAT 0 -6.2088,106.8456 JANTUNG",
                     "message_id": "m-replay", "received_at": "2026-11-25T10:00:00Z"})
    .to_string();
    let signed_at = |ts: i64| {
        kreki_platform::signature::sign(
            SECRET.as_bytes(),
            &[ts.to_string().as_bytes(), b".", raw.as_bytes()],
        )
    };
    let post = |ts: Option<i64>, sig: String| {
        let mut r = app
            .client
            .post(format!("{}/api/emergency/v1/sms/inbound", app.url))
            .header("content-type", "application/json")
            .header("x-kreki-signature", sig)
            .body(raw.clone());
        if let Some(ts) = ts {
            r = r.header("x-kreki-timestamp", ts.to_string());
        }
        async move {
            let res = r.send().await.unwrap();
            let s = res.status().as_u16();
            let v: Value = res.json().await.unwrap_or(Value::Null);
            (s, v)
        }
    };
    let code = |v: &Value| v["error"]["code"].as_str().unwrap_or_default().to_string();
    let now = kreki_platform::time_util::now_micros() / 1_000_000;
    for ts in [now - 3_600, now - 301, now + 3_600] {
        let (s, v) = post(Some(ts), signed_at(ts)).await;
        assert_eq!(
            (s, code(&v)),
            (401, "EMERGENCY_SMS_SIGNATURE_EXPIRED".into()),
            "timestamp {ts}: {v}"
        );
        assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let body_only = kreki_platform::signature::sign(SECRET.as_bytes(), &[raw.as_bytes()]);
    let (s, v) = post(None, body_only.clone()).await;
    assert_eq!(
        (s, code(&v)),
        (401, "EMERGENCY_SMS_SIGNATURE_INVALID".into()),
        "{v}"
    );
    let (s, v) = post(Some(now), body_only).await;
    assert_eq!(
        (s, code(&v)),
        (401, "EMERGENCY_SMS_SIGNATURE_INVALID".into())
    );
    let (s, v) = post(Some(now), signed_at(now - 3_600)).await;
    assert_eq!(
        (s, code(&v)),
        (401, "EMERGENCY_SMS_SIGNATURE_INVALID".into())
    );
    // Nothing was stored: the fresh message creates the case (not a duplicate).
    let (s, v) = post(Some(now), signed_at(now)).await;
    assert_eq!(
        (s, v["data"]["status"].as_str()),
        (200, Some("created")),
        "{v}"
    );
    app.stop().await;
}
