//! Bearer tokens: accepted only when signed by a published key, for this issuer, unexpired.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use base64::Engine;
use jsonwebtoken::{EncodingKey, Header, jwk::JwkSet};
use kreki_platform::{
    auth::{Authenticator, KeySource, TokenError},
    error::ErrorEnvelope,
    http::access::RouteAccess,
    testkit::TestSigner,
};
use reqwest::StatusCode;

use crate::http::{ISSUER, start};

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

async fn call(
    app: &crate::http::TestApp,
    path: &str,
    auth: Option<String>,
) -> (StatusCode, Option<String>) {
    let mut req = app.client.get(format!("{}{path}", app.url));
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    if status.is_success() {
        return (status, None);
    }
    if status == StatusCode::UNAUTHORIZED {
        assert_eq!(res.headers()["www-authenticate"], "Bearer");
    }
    let env: ErrorEnvelope = res.json().await.unwrap();
    (status, Some(env.error.code))
}

#[tokio::test]
async fn tokens_are_checked_one_by_one() {
    let app = start(None, None, 1000).await;
    let s = &app.signer;
    let good = s.token(ISSUER, "user-1", &["volunteer"]);
    assert_eq!(
        call(&app, "/api/t/v1/me", Some(format!("Bearer {good}")))
            .await
            .0,
        StatusCode::OK
    );
    let unauthorized = |code: &str| (StatusCode::UNAUTHORIZED, Some(code.to_string()));
    assert_eq!(
        call(&app, "/api/t/v1/me", None).await,
        unauthorized("AUTH_TOKEN_MISSING")
    );
    assert_eq!(
        call(&app, "/api/t/v1/me", Some(format!("Basic {good}"))).await,
        unauthorized("AUTH_TOKEN_MALFORMED")
    );
    assert_eq!(
        call(&app, "/api/t/v1/me", Some("Bearer not.a.jwt".into())).await,
        unauthorized("AUTH_TOKEN_MALFORMED")
    );
    let expired = s.sign(
        &serde_json::json!({"iss": ISSUER, "sub": "u", "exp": now() - 3600,
        "aud": "kreki", "client_id": "c", "jti": "j"}),
    );
    assert_eq!(
        call(&app, "/api/t/v1/me", Some(format!("Bearer {expired}"))).await,
        unauthorized("AUTH_TOKEN_EXPIRED")
    );
    let wrong_iss = s.token("https://evil.example", "u", &[]);
    assert_eq!(
        call(&app, "/api/t/v1/me", Some(format!("Bearer {wrong_iss}"))).await,
        unauthorized("AUTH_TOKEN_INVALID")
    );
    let no_sub = s.sign(&serde_json::json!({"iss": ISSUER, "exp": now() + 60}));
    assert_eq!(
        call(&app, "/api/t/v1/me", Some(format!("Bearer {no_sub}")))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    // Signed by another key that claims the same key id.
    let impostor = TestSigner::new("k1").token(ISSUER, "u", &["system_admin"]);
    assert_eq!(
        call(&app, "/api/t/v1/me", Some(format!("Bearer {impostor}"))).await,
        unauthorized("AUTH_TOKEN_INVALID")
    );
    // alg=none.
    let b64 = |v: serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let none = format!(
        "{}.{}.",
        b64(serde_json::json!({"alg": "none", "kid": "k1"})),
        b64(serde_json::json!({"iss": ISSUER, "sub": "u", "exp": now() + 60}))
    );
    assert_eq!(
        call(&app, "/api/t/v1/me", Some(format!("Bearer {none}")))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    // HS256 keyed with the public key (the classic confusion attack).
    let public = serde_json::to_string(&s.jwk).unwrap();
    let mut h = Header::new(jsonwebtoken::Algorithm::HS256);
    h.kid = Some("k1".into());
    let hs = jsonwebtoken::encode(
        &h,
        &serde_json::json!({"iss": ISSUER, "sub": "u", "exp": now() + 60}),
        &EncodingKey::from_secret(public.as_bytes()),
    )
    .unwrap();
    assert_eq!(
        call(&app, "/api/t/v1/me", Some(format!("Bearer {hs}"))).await,
        unauthorized("AUTH_TOKEN_INVALID")
    );
    // Tampered payload.
    let mut parts: Vec<String> = good.split('.').map(str::to_string).collect();
    parts[1] = b64(serde_json::json!({"iss": ISSUER, "sub": "someone-else", "exp": now() + 600}));
    assert_eq!(
        call(
            &app,
            "/api/t/v1/me",
            Some(format!("Bearer {}", parts.join(".")))
        )
        .await,
        unauthorized("AUTH_TOKEN_INVALID")
    );
}

/// Attack (security finding 1): an ID token, signed by the same key and carrying the same
/// roles, is presented as a bearer token. Only RFC 9068 access tokens open an API.
#[tokio::test]
async fn only_access_tokens_open_an_api_never_id_tokens() {
    let app = start(None, None, 1000).await;
    let s = &app.signer;
    let invalid = (
        StatusCode::UNAUTHORIZED,
        Some("AUTH_TOKEN_INVALID".to_string()),
    );
    let me = |t: String| call(&app, "/api/t/v1/ops", Some(format!("Bearer {t}")));
    assert_eq!(
        me(s.token(ISSUER, "o", &["ops_admin"])).await.0,
        StatusCode::OK
    );
    // An ID token issued to the Ops app: same key, same roles.
    assert_eq!(
        me(s.id_token(ISSUER, "o", &["ops_admin"], "kreki-ops")).await,
        invalid
    );
    let claims = |aud: &str| {
        serde_json::json!({"iss": ISSUER, "sub": "o", "roles": ["ops_admin"], "exp": now() + 60,
            "aud": aud, "client_id": "kreki-ops", "jti": "j1"})
    };
    // The access token's claims under an ID token's header, or under no `typ` at all.
    assert_eq!(me(s.sign_typed("JWT", &claims("kreki"))).await, invalid);
    let mut h = Header::new(jsonwebtoken::Algorithm::ES256);
    h.kid = Some(s.kid.clone());
    h.typ = None;
    let untyped = jsonwebtoken::encode(
        &h,
        &claims("kreki"),
        &EncodingKey::from_ec_pem(&s.private_pem()).unwrap(),
    )
    .unwrap();
    assert_eq!(me(untyped).await, invalid);
    // `application/at+jwt` is the same media type.
    assert_eq!(
        me(s.sign_typed("application/at+jwt", &claims("kreki")))
            .await
            .0,
        StatusCode::OK
    );
    // Another audience, or none.
    assert_eq!(me(s.sign(&claims("kreki-ops"))).await, invalid);
    let mut no_aud = claims("kreki");
    no_aud.as_object_mut().unwrap().remove("aud");
    assert_eq!(me(s.sign(&no_aud)).await, invalid);
    // No client, no token id.
    for field in ["client_id", "jti"] {
        let mut c = claims("kreki");
        c.as_object_mut().unwrap().remove(field);
        assert_eq!(me(s.sign(&c)).await, invalid, "without {field}");
        c[field] = "".into();
        assert_eq!(me(s.sign(&c)).await, invalid, "with an empty {field}");
    }
}

#[tokio::test]
async fn a_volunteer_cannot_call_an_ops_endpoint() {
    let app = start(None, None, 1000).await;
    let vol = app.signer.token(ISSUER, "v", &["volunteer"]);
    assert_eq!(
        call(&app, "/api/t/v1/ops", Some(format!("Bearer {vol}"))).await,
        (StatusCode::FORBIDDEN, Some("AUTH_FORBIDDEN".into()))
    );
    let ops = app.signer.token(ISSUER, "o", &["ops_admin"]);
    assert_eq!(
        call(&app, "/api/t/v1/ops", Some(format!("Bearer {ops}")))
            .await
            .0,
        StatusCode::OK
    );
}

struct Rotating(Arc<Mutex<Option<JwkSet>>>);

#[async_trait]
impl KeySource for Rotating {
    async fn fetch(&self) -> anyhow::Result<JwkSet> {
        self.0
            .lock()
            .unwrap()
            .clone()
            .ok_or_else(|| anyhow::anyhow!("issuer down"))
    }
}

#[tokio::test]
async fn key_rotation_and_outage() {
    let k1 = TestSigner::new("k1");
    let k2 = TestSigner::new("k2");
    let keys = Arc::new(Mutex::new(None));
    let auth = Authenticator::new(ISSUER, None, Arc::new(Rotating(keys.clone())))
        .with_refetch_interval(std::time::Duration::ZERO);
    // No keys reachable yet: not the caller's fault.
    assert_eq!(
        auth.verify(&k1.token(ISSUER, "u", &[])).await,
        Err(TokenError::KeysUnavailable)
    );
    *keys.lock().unwrap() = Some(k1.jwks());
    assert_eq!(
        auth.verify(&k1.token(ISSUER, "u", &[]))
            .await
            .unwrap()
            .subject,
        "u"
    );
    // A new key appears: a token with its kid triggers a refetch.
    *keys.lock().unwrap() = Some(JwkSet {
        keys: vec![k1.jwk.clone(), k2.jwk.clone()],
    });
    let p = auth
        .verify(&k2.token(ISSUER, "u2", &["ops_admin"]))
        .await
        .unwrap();
    assert_eq!(
        (p.subject.as_str(), p.roles.as_slice()),
        ("u2", ["ops_admin".to_string()].as_slice())
    );
    // The issuer goes away: cached keys keep working.
    *keys.lock().unwrap() = None;
    assert!(auth.verify(&k1.token(ISSUER, "u", &[])).await.is_ok());
    // The old key is retired: its tokens stop working once the set is refetched.
    *keys.lock().unwrap() = Some(k2.jwks());
    let k3 = TestSigner::new("k3");
    assert_eq!(
        auth.verify(&k3.token(ISSUER, "u", &[])).await,
        Err(TokenError::Invalid)
    );
    assert_eq!(
        auth.verify(&k1.token(ISSUER, "u", &[])).await,
        Err(TokenError::Invalid)
    );
}

/// The access check fails closed: a route that its service did not declare is refused,
/// and the declarations check names it.
#[tokio::test]
async fn an_undeclared_route_is_refused_and_reported() {
    let app = start(None, None, 1000).await;
    let ops = app.signer.token(ISSUER, "o", &["ops_admin"]);
    let (status, code) = call(&app, "/api/t/v1/undeclared", Some(format!("Bearer {ops}"))).await;
    assert_eq!(
        (status, code.as_deref()),
        (StatusCode::INTERNAL_SERVER_ERROR, Some("INTERNAL_ERROR"))
    );
    let dir = kreki_platform::testkit::TempDir::default();
    let db = kreki_platform::storage::Db::open_sqlite(&dir.path().join("t.db"), "t")
        .await
        .unwrap();
    let router = crate::http::test_api(db);
    let served = kreki_platform::http::access::served_routes(&router);
    assert_eq!(served.len(), 7, "{served:?}");
    assert!(served.contains(&("GET".to_string(), "/api/t/v1/me".to_string())));
    assert!(served.contains(&("POST".to_string(), "/api/t/v1/echo".to_string())));
    let problems = kreki_platform::http::access::check_declarations(&router, crate::http::ROUTES);
    assert_eq!(
        problems,
        ["GET /api/t/v1/undeclared: served without an access declaration"]
    );
    let mut bad = crate::http::ROUTES.to_vec();
    bad.push(RouteAccess::permission(
        "GET",
        "/api/t/v1/nowhere",
        "case:teleport",
    ));
    let problems = kreki_platform::http::access::check_declarations(&router, &bad);
    assert!(
        problems.contains(
            &"GET /api/t/v1/nowhere: permission `case:teleport` is not in the matrix".to_string()
        ),
        "{problems:?}"
    );
    assert_eq!(
        kreki_platform::http::access::unserved_declarations(&router, &bad),
        ["GET /api/t/v1/nowhere"]
    );
}
