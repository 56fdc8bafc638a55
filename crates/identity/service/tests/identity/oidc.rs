//! The OIDC provider driven by an independent relying-party library (`openidconnect`), and
//! authorization requests with bad input.

use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PostLogoutRedirectUrl, ProviderMetadataWithLogout, RedirectUrl, Scope,
    TokenResponse,
    core::{CoreAuthenticationFlow, CoreClient, CoreErrorResponseType, CoreUserInfoClaims},
};
use serde_json::{Value, json};

use crate::{
    app::{CC_SECRET, start, start_with},
    client::{Browser, PW, browser_authorize, decode_payload, enc, hidden, query_param, register},
};

fn http() -> openidconnect::reqwest::Client {
    openidconnect::reqwest::Client::builder()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_code_pkce_refresh_userinfo_logout_and_client_credentials_with_openidconnect() {
    let app = start(false).await;
    register(&app, "rahmat@example.org", PW).await;
    let http = http();
    let meta =
        ProviderMetadataWithLogout::discover_async(IssuerUrl::new(app.url.clone()).unwrap(), &http)
            .await
            .unwrap();
    let end_session = meta
        .additional_metadata()
        .end_session_endpoint
        .clone()
        .unwrap();
    let redirect = format!("{}/relawan/callback", app.url);
    let client = CoreClient::from_provider_metadata(
        meta.clone(),
        ClientId::new("kreki-relawan".into()),
        None,
    )
    .set_redirect_uri(RedirectUrl::new(redirect.clone()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (auth_url, csrf, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge)
        .url();
    let mut b = Browser::new(&app.url);
    let back = browser_authorize(&mut b, auth_url.as_str(), "rahmat@example.org", PW).await;
    assert!(back.starts_with(&redirect), "{back}");
    assert_eq!(
        query_param(&back, "state").as_deref(),
        Some(csrf.secret().as_str())
    );
    assert_eq!(query_param(&back, "iss").as_deref(), Some(app.url.as_str()));
    let code = query_param(&back, "code").unwrap();
    let tokens = client
        .exchange_code(AuthorizationCode::new(code.clone()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .unwrap();
    let id_token = tokens.id_token().unwrap();
    let claims = id_token
        .claims(&client.id_token_verifier(), &nonce)
        .unwrap();
    assert_eq!(
        claims.email().map(|e| e.as_str()),
        Some("rahmat@example.org")
    );
    assert_eq!(
        claims.name().and_then(|n| n.get(None)).map(|n| n.as_str()),
        Some("Rahmat Hidayat")
    );
    // The ID token's roles claim, checked with an independent JWT library on our JWKS.
    let roles = decode_payload(&id_token.to_string())["roles"].clone();
    assert_eq!(roles, json!(["volunteer"]));

    // The code is single-use: a replay is refused and revokes what it issued.
    let replay = client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .request_async(&http)
        .await;
    assert_oauth_error(replay, CoreErrorResponseType::InvalidGrant);
    let rt = tokens.refresh_token().unwrap().clone();
    let after_replay = client
        .exchange_refresh_token(&rt)
        .unwrap()
        .request_async(&http)
        .await;
    assert_oauth_error(after_replay, CoreErrorResponseType::InvalidGrant);

    // A second sign-in (session cookie: no password prompt) for rotation and reuse detection.
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (auth_url, _, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge)
        .url();
    let back = browser_authorize(&mut b, auth_url.as_str(), "-", "-").await;
    let tokens = client
        .exchange_code(AuthorizationCode::new(query_param(&back, "code").unwrap()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .unwrap();
    let id_token = tokens.id_token().unwrap().clone();
    id_token
        .claims(&client.id_token_verifier(), &nonce)
        .unwrap();
    let info: CoreUserInfoClaims = client
        .user_info(tokens.access_token().clone(), None)
        .unwrap()
        .request_async(&http)
        .await
        .unwrap();
    assert_eq!(info.email().map(|e| e.as_str()), Some("rahmat@example.org"));
    let rt1 = tokens.refresh_token().unwrap().clone();
    let rotated = client
        .exchange_refresh_token(&rt1)
        .unwrap()
        .request_async(&http)
        .await
        .unwrap();
    let rt2 = rotated.refresh_token().unwrap().clone();
    assert_ne!(rt1.secret(), rt2.secret(), "rotation");
    // Reusing rt1 revokes the whole family, rt2 included.
    assert_oauth_error(
        client
            .exchange_refresh_token(&rt1)
            .unwrap()
            .request_async(&http)
            .await,
        CoreErrorResponseType::InvalidGrant,
    );
    assert_oauth_error(
        client
            .exchange_refresh_token(&rt2)
            .unwrap()
            .request_async(&http)
            .await,
        CoreErrorResponseType::InvalidGrant,
    );

    // RP-initiated logout ends the session: the next authorization asks for the password.
    let logout = openidconnect::LogoutRequest::from(end_session)
        .set_id_token_hint(&id_token)
        .set_post_logout_redirect_uri(
            PostLogoutRedirectUrl::new(format!("{}/relawan/", app.url)).unwrap(),
        )
        .set_state(CsrfToken::new("bye-state".into()))
        .http_get_url();
    let (s, loc, _) = b.get(logout.as_str()).await;
    assert_eq!(s, 303);
    assert_eq!(loc, format!("{}/relawan/?state=bye-state", app.url));
    let (s, loc, _) = b.get(auth_url.as_str()).await;
    assert_eq!((s, loc.starts_with("/akun/masuk")), (303, true), "{loc}");
    // An unregistered post-logout address is refused, never followed.
    let (s, loc, _) = b
        .get(&format!(
            "/oauth2/logout?client_id=kreki-relawan&post_logout_redirect_uri={}",
            enc("https://evil.example/")
        ))
        .await;
    assert_eq!((s, loc.as_str()), (400, ""));

    // Client credentials (a partner machine), then introspection and revocation.
    let partner = CoreClient::from_provider_metadata(
        meta,
        ClientId::new("partner-psc".into()),
        Some(ClientSecret::new(CC_SECRET.into())),
    );
    let cc = partner
        .exchange_client_credentials()
        .unwrap()
        .add_scope(Scope::new("bridge.callback".into()))
        .request_async(&http)
        .await
        .unwrap();
    let at = cc.access_token().secret().clone();
    let claims = decode_payload(&at);
    assert_eq!(
        (claims["sub"].as_str(), claims["roles"].clone()),
        (Some("partner-psc"), json!(["partner"]))
    );
    let wrong = CoreClient::from_provider_metadata(
        ProviderMetadataWithLogout::discover_async(IssuerUrl::new(app.url.clone()).unwrap(), &http)
            .await
            .unwrap(),
        ClientId::new("partner-psc".into()),
        Some(ClientSecret::new("wrong".into())),
    );
    assert_oauth_error(
        wrong
            .exchange_client_credentials()
            .unwrap()
            .request_async(&http)
            .await,
        CoreErrorResponseType::InvalidClient,
    );
    let bad_scope = partner
        .exchange_client_credentials()
        .unwrap()
        .add_scope(Scope::new("admin".into()))
        .request_async(&http)
        .await;
    assert_oauth_error(bad_scope, CoreErrorResponseType::InvalidScope);
    let intro = |t: String| {
        let c = app.client.clone();
        let u = format!("{}/oauth2/introspect", app.url);
        async move {
            c.post(u)
                .basic_auth("partner-psc", Some(CC_SECRET))
                .form(&[("token", t)])
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let v = intro(at.clone()).await;
    assert_eq!(
        (v["active"].as_bool(), v["client_id"].as_str()),
        (Some(true), Some("partner-psc")),
        "{v}"
    );
    assert_eq!(
        intro("not-a-token".into()).await,
        json!({ "active": false })
    );
    let r = app
        .client
        .post(format!("{}/oauth2/revoke", app.url))
        .basic_auth("partner-psc", Some(CC_SECRET))
        .form(&[("token", at.clone())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(intro(at).await, json!({ "active": false }));
    app.stop().await;
}

fn assert_oauth_error<T: std::fmt::Debug, E>(
    r: Result<
        T,
        openidconnect::RequestTokenError<
            E,
            openidconnect::StandardErrorResponse<CoreErrorResponseType>,
        >,
    >,
    want: CoreErrorResponseType,
) where
    E: std::error::Error + 'static,
{
    match r {
        Err(openidconnect::RequestTokenError::ServerResponse(e)) => {
            assert_eq!(e.error(), &want, "{e:?}")
        }
        other => panic!("expected {want:?}, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorization_requests_with_bad_input_are_refused() {
    let app = start(false).await;
    register(&app, "tika@example.org", PW).await;
    let mut b = Browser::new(&app.url);
    let cb = format!("{}/relawan/callback", app.url);
    let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let authz = |extra: &str| {
        format!(
            "/oauth2/authorize?response_type=code&client_id=kreki-relawan&redirect_uri={}&scope=openid&state=s1{extra}",
            enc(&cb)
        )
    };
    // Unknown client and unregistered redirect URI: an error page, never a redirect.
    let (s, loc, html) = b
        .get(&format!(
            "/oauth2/authorize?response_type=code&client_id=nope&redirect_uri={}",
            enc(&cb)
        ))
        .await;
    assert_eq!((s, loc.as_str()), (400, ""));
    assert!(html.contains("Aplikasi tidak dikenal"), "{html}");
    let (s, loc, _) = b.get(&format!("/oauth2/authorize?response_type=code&client_id=kreki-relawan&redirect_uri={}&code_challenge={challenge}&code_challenge_method=S256", enc("https://evil.example/cb"))).await;
    assert_eq!((s, loc.as_str()), (400, ""));
    // Public client without PKCE, or with `plain`: error back to the client.
    let (s, loc, _) = b.get(&authz("")).await;
    assert_eq!(s, 303);
    assert_eq!(
        query_param(&loc, "error").as_deref(),
        Some("invalid_request")
    );
    assert_eq!(query_param(&loc, "state").as_deref(), Some("s1"));
    let (_, loc, _) = b
        .get(&authz(&format!(
            "&code_challenge={challenge}&code_challenge_method=plain"
        )))
        .await;
    assert_eq!(
        query_param(&loc, "error").as_deref(),
        Some("invalid_request")
    );
    let (_, loc, _) = b
        .get(
            &authz(&format!(
                "&code_challenge={challenge}&code_challenge_method=S256"
            ))
            .replace("response_type=code", "response_type=token"),
        )
        .await;
    assert_eq!(
        query_param(&loc, "error").as_deref(),
        Some("unsupported_response_type")
    );
    let (_, loc, _) = b
        .get(
            &authz(&format!(
                "&code_challenge={challenge}&code_challenge_method=S256"
            ))
            .replace("scope=openid", "scope=openid%20admin"),
        )
        .await;
    assert_eq!(query_param(&loc, "error").as_deref(), Some("invalid_scope"));
    let (s, _, _) = b.get(&format!("{}&state=again", authz(""))).await;
    assert_eq!(s, 400, "a repeated parameter is refused");
    // The login page never sends anyone elsewhere (open redirect).
    let (_, _, html) = b
        .get(&format!(
            "/akun/masuk?return_to={}",
            enc("https://evil.example/")
        ))
        .await;
    assert_eq!(hidden(&html, "return_to"), "/akun/");
    let (_, _, html) = b
        .get(&format!(
            "/akun/masuk?return_to={}",
            enc("//evil.example/x")
        ))
        .await;
    assert_eq!(hidden(&html, "return_to"), "/akun/");
    // A sign-in form without its CSRF token is refused.
    let (s, _, _) = b
        .post(
            "/akun/masuk",
            &[
                ("identifier", "tika@example.org"),
                ("password", PW),
                ("csrf", "forged"),
            ],
        )
        .await;
    assert_eq!(s, 403);

    // Wrong PKCE verifier and wrong redirect_uri at the token endpoint.
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let url = authz(&format!(
        "&code_challenge={challenge}&code_challenge_method=S256"
    ));
    let back = browser_authorize(&mut b, &url, "tika@example.org", PW).await;
    let code = query_param(&back, "code").unwrap();
    let token = |form: Vec<(&'static str, String)>| {
        let c = app.client.clone();
        let u = format!("{}/oauth2/token", app.url);
        async move {
            let r = c.post(u).form(&form).send().await.unwrap();
            let s = r.status().as_u16();
            (s, r.json::<Value>().await.unwrap())
        }
    };
    let base = |v: &str, r: &str| {
        vec![
            ("grant_type", "authorization_code".to_string()),
            ("client_id", "kreki-relawan".into()),
            ("code", code.clone()),
            ("redirect_uri", r.to_string()),
            ("code_verifier", v.to_string()),
        ]
    };
    let (s, v) = token(base("x".repeat(43).as_str(), &cb)).await;
    assert_eq!(
        (s, v["error"].as_str()),
        (400, Some("invalid_grant")),
        "{v}"
    );
    let (s, v) = token(base(verifier, "http://127.0.0.1:9/other")).await;
    assert_eq!((s, v["error"].as_str()), (400, Some("invalid_grant")));
    let (s, v) = token(base(verifier, &cb)).await;
    assert_eq!(s, 200, "{v}");
    assert!(v["id_token"].is_string() && v["refresh_token"].is_string());
    // Unknown client, unsupported grant, wrong content type.
    let (s, v) = token(vec![
        ("grant_type", "authorization_code".into()),
        ("client_id", "nope".into()),
        ("code", "x".into()),
    ])
    .await;
    assert_eq!((s, v["error"].as_str()), (401, Some("invalid_client")));
    let (s, v) = token(vec![
        ("grant_type", "password".into()),
        ("client_id", "kreki-relawan".into()),
    ])
    .await;
    assert_eq!(
        (s, v["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );
    // Without grant_type the request is malformed (RFC 6749 section 5.2), the same with
    // an empty one.
    for grant in [None, Some("")] {
        let mut form = vec![("client_id", "kreki-relawan".to_string())];
        if let Some(g) = grant {
            form.push(("grant_type", g.into()));
        }
        let (s, v) = token(form).await;
        assert_eq!(
            (s, v["error"].as_str()),
            (400, Some("invalid_request")),
            "{grant:?}"
        );
    }
    let (s, v) = token(vec![
        ("grant_type", "client_credentials".into()),
        ("client_id", "kreki-relawan".into()),
    ])
    .await;
    assert_eq!((s, v["error"].as_str()), (400, Some("unauthorized_client")));
    let r = app
        .client
        .post(format!("{}/oauth2/token", app.url))
        .json(&json!({ "grant_type": "client_credentials" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    // A third-party client needs the user's consent; denying sends access_denied back.
    let tp = "/oauth2/authorize?response_type=code&client_id=third-party&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb&scope=openid%20email&state=t1";
    let (s, _, html) = b.get(tp).await;
    assert_eq!(s, 200);
    assert!(
        html.contains("Aplikasi Mitra") && html.contains("Alamat e-mail"),
        "{html}"
    );
    let (csrf, req) = (hidden(&html, "csrf"), hidden(&html, "request"));
    let (s, loc, _) = b
        .post(
            "/akun/persetujuan",
            &[("csrf", &csrf), ("request", &req), ("decision", "deny")],
        )
        .await;
    assert_eq!(s, 303);
    assert_eq!(query_param(&loc, "error").as_deref(), Some("access_denied"));
    let (_, loc, _) = b
        .post(
            "/akun/persetujuan",
            &[("csrf", &csrf), ("request", &req), ("decision", "allow")],
        )
        .await;
    assert!(query_param(&loc, "code").is_some(), "{loc}");
    // Consent is remembered.
    let (s, loc, _) = b.get(tp).await;
    assert_eq!(s, 303);
    assert!(query_param(&loc, "code").is_some());
    app.stop().await;
}

/// OpenID Connect Discovery offers RS256 for ID tokens (ES256 stays the default): a client
/// registered with `id_token_signed_response_alg = "RS256"` gets ID tokens signed by an RSA
/// key that the JWKS publishes with its own `kid` and `alg`, and an independent JOSE library
/// (`jsonwebtoken`) verifies them with the published key set. Access tokens stay ES256, and
/// an RS256 ID token opens no API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rs256_id_tokens_verify_with_the_published_jwks() {
    use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header, jwk::JwkSet};
    let app = start_with(false, |cfg| {
        let clients = figment::value::Value::serialize(json!([{
            "client_id": "rs-app",
            "name": "Aplikasi RSA",
            "first_party": true,
            "redirect_uris": ["http://127.0.0.1:9/cb"],
            "grant_types": ["authorization_code"],
            "scopes": ["openid", "profile"],
            "id_token_signed_response_alg": "RS256",
        }]))
        .unwrap();
        cfg.identity.insert("clients".into(), clients);
    })
    .await;
    register(&app, "rsa@example.org", PW).await;
    let get = |path: &str| {
        let r = app.client.get(format!("{}{path}", app.url)).send();
        async move { r.await.unwrap().json::<Value>().await.unwrap() }
    };
    let meta = get("/.well-known/openid-configuration").await;
    assert_eq!(
        meta["id_token_signing_alg_values_supported"],
        json!(["ES256", "RS256"]),
        "{meta}"
    );
    let jwks: JwkSet = serde_json::from_value(get("/.well-known/jwks.json").await).unwrap();
    let alg_of = |kid: &str| {
        let k = jwks.find(kid).unwrap();
        format!("{:?}", k.common.key_algorithm.unwrap())
    };

    // Authorization code with PKCE (the RFC 7636 example pair).
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let cb = "http://127.0.0.1:9/cb";
    let url = format!(
        "/oauth2/authorize?response_type=code&client_id=rs-app&redirect_uri={}&scope=openid%20profile&state=s1&nonce=n-rsa&code_challenge={challenge}&code_challenge_method=S256",
        enc(cb)
    );
    let mut b = Browser::new(&app.url);
    let back = browser_authorize(&mut b, &url, "rsa@example.org", PW).await;
    let code = query_param(&back, "code").unwrap();
    let r = app
        .client
        .post(format!("{}/oauth2/token", app.url))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", "rs-app"),
            ("code", code.as_str()),
            ("redirect_uri", cb),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    let id_token = v["id_token"].as_str().unwrap_or_else(|| panic!("{v}"));
    let header = decode_header(id_token).unwrap();
    assert_eq!(header.alg, Algorithm::RS256);
    let kid = header.kid.unwrap();
    assert_eq!(alg_of(&kid), "RS256");
    let jwk = jwks.find(&kid).unwrap();
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&["rs-app"]);
    validation.set_issuer(&[app.url.as_str()]);
    let claims = decode::<Value>(id_token, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
        .unwrap()
        .claims;
    assert_eq!(claims["nonce"], "n-rsa");
    assert_eq!(claims["name"], "Rahmat Hidayat");
    // A changed payload does not verify.
    let mut parts: Vec<String> = id_token.split('.').map(str::to_string).collect();
    parts[1] = crate::client::b64(&claims.to_string().replace("Rahmat", "Rahmad"));
    assert!(
        decode::<Value>(
            &parts.join("."),
            &DecodingKey::from_jwk(jwk).unwrap(),
            &validation
        )
        .is_err()
    );

    // The access token stays ES256 (an EC key of the same set); the ID token opens no API.
    let access = v["access_token"].as_str().unwrap();
    let h = decode_header(access).unwrap();
    assert_eq!(h.alg, Algorithm::ES256);
    assert_ne!(h.kid.as_deref(), Some(kid.as_str()));
    assert_eq!(alg_of(&h.kid.unwrap()), "ES256");
    let me = |token: &str| {
        app.client
            .get(format!("{}/api/auth/v1/me", app.url))
            .bearer_auth(token)
            .send()
    };
    assert_eq!(me(access).await.unwrap().status(), 200);
    assert_eq!(me(id_token).await.unwrap().status(), 401);
    // RP-initiated logout takes the RS256 ID token as its hint.
    let (s, _, _) = b
        .get(&format!("/oauth2/logout?id_token_hint={id_token}"))
        .await;
    assert!(s == 200 || s == 303, "{s}");
    app.stop().await;
}
