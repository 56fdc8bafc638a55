//! KREKI ID over HTTP: the OIDC provider driven by an independent relying-party library
//! (`openidconnect`), the REST API of the org standard, MFA checked with an independent TOTP
//! implementation (`totp-rs`), throttles, phone codes, privacy rights, admin API, and a
//! KREKI ID token checked by another service's permission check.

use std::collections::HashMap;

use kreki_platform::{
    config::Config,
    service::{DemoSettings, DemoSim},
};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PostLogoutRedirectUrl, ProviderMetadataWithLogout, RedirectUrl, Scope,
    TokenResponse,
    core::{CoreAuthenticationFlow, CoreClient, CoreErrorResponseType, CoreUserInfoClaims},
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

/// A tiny browser: no redirects followed, cookies kept by name.
pub(crate) struct Browser {
    c: reqwest::Client,
    base: String,
    jar: HashMap<String, String>,
}

impl Browser {
    pub(crate) fn new(base: &str) -> Self {
        Self {
            c: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: base.into(),
            jar: HashMap::new(),
        }
    }
    fn url(&self, u: &str) -> String {
        if u.starts_with("http") {
            u.into()
        } else {
            format!("{}{u}", self.base)
        }
    }
    fn cookie_header(&self) -> String {
        self.jar
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
    fn keep(&mut self, r: &reqwest::Response) {
        for v in r.headers().get_all("set-cookie") {
            let s = v.to_str().unwrap();
            let (kv, _) = s.split_once(';').unwrap_or((s, ""));
            let (k, val) = kv.split_once('=').unwrap();
            if val.is_empty() {
                self.jar.remove(k);
            } else {
                self.jar.insert(k.into(), val.into());
            }
        }
    }
    pub(crate) async fn get(&mut self, u: &str) -> (u16, String, String) {
        let r = self
            .c
            .get(self.url(u))
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        self.keep(&r);
        let loc = r
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        (r.status().as_u16(), loc, r.text().await.unwrap())
    }
    pub(crate) async fn post(&mut self, u: &str, form: &[(&str, &str)]) -> (u16, String, String) {
        let body: String = url_encode(form);
        let r = self
            .c
            .post(self.url(u))
            .header("cookie", self.cookie_header())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        self.keep(&r);
        let loc = r
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        (r.status().as_u16(), loc, r.text().await.unwrap())
    }
}

pub(crate) fn url_encode(form: &[(&str, &str)]) -> String {
    let mut s = String::new();
    for (i, (k, v)) in form.iter().enumerate() {
        if i > 0 {
            s.push('&');
        }
        s.push_str(&format!("{k}={}", enc(v)));
    }
    s
}

pub(crate) fn enc(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub(crate) fn hidden(html: &str, name: &str) -> String {
    let needle = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&needle)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + needle.len();
    let end = html[start..].find('"').unwrap();
    html[start..start + end].replace("&amp;", "&")
}

pub(crate) fn query_param(url: &str, key: &str) -> Option<String> {
    let q = url.split_once('?')?.1;
    q.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == key).then(|| {
            let mut out = Vec::new();
            let b = v.as_bytes();
            let mut i = 0;
            while i < b.len() {
                if b[i] == b'%' && i + 2 < b.len() {
                    out.push(
                        u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap(), 16)
                            .unwrap(),
                    );
                    i += 3;
                } else {
                    out.push(if b[i] == b'+' { b' ' } else { b[i] });
                    i += 1;
                }
            }
            String::from_utf8(out).unwrap()
        })
    })
}

/// Follow an authorization URL through the login page to the client's redirect URI.
pub(crate) async fn browser_authorize(
    b: &mut Browser,
    auth_url: &str,
    ident: &str,
    pw: &str,
) -> String {
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

/// Register and sign in once: the account's view (registration answers alike for new and
/// existing addresses, so the account is read after signing in).
async fn register(app: &UpApp, email: &str, pw: &str) -> Value {
    let (s, v) = api(app, "POST", "/register", None, json!({ "email": email, "password": pw, "full_name": "Rahmat Hidayat", "role": "volunteer" })).await;
    assert!(s == 201 || s == 202, "{v}");
    login(app, email, pw).await["user"].clone()
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

pub(crate) const PW: &str = "Kopi-Tubruk-Senja-77";

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

fn b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
}

/// The value after `marker` in the newest console message containing it.
async fn wait_for_console(app: &UpApp, marker: &str) -> String {
    let mut found = None;
    kreki_platform::testkit::eventually(
        "a message on the console channel",
        std::time::Duration::from_secs(10),
        || {
            let lines = console_lines(&app.console);
            found = lines.iter().rev().find_map(|l| {
                let s = l.to_string();
                let i = s.find(marker)? + marker.len();
                Some(
                    s[i..]
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                        .collect::<String>(),
                )
            });
            let ok = found.is_some();
            async move { ok }
        },
    )
    .await;
    found.unwrap()
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
    let (s, v) = api(&app, "POST", "/mfa/totp/setup", Some(&access), Value::Null).await;
    assert_eq!(s, 200);
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
    // The account's life is on the bus: created, updated (phone verified, MFA), erased.
    let bus = app.running.as_ref().unwrap().bus.clone();
    let mut sub = bus
        .subscribe("test-account-events", &["identity.account.*"])
        .await
        .unwrap();
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while !seen.contains(&"identity.account.erased".to_string()) {
        let d = tokio::time::timeout_at(deadline, sub.next())
            .await
            .expect("account events")
            .unwrap()
            .unwrap();
        if d.event.data["account_id"] == account_id.as_str() {
            seen.push(d.event.subject.clone());
        }
        d.acker.ack().await.unwrap();
    }
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_pages_render_in_both_languages_and_sign_in() {
    let app = start(false).await;
    register(&app, "putri@example.org", PW).await;
    let mut b = Browser::new(&app.url);
    let (s, _, html) = b.get("/akun/masuk").await;
    assert_eq!(s, 200);
    assert!(
        html.contains("lang=\"id\"")
            && html.contains("Kata sandi")
            && html.contains("<label for=\"password\">")
    );
    let (_, _, html) = b.get("/akun/masuk?lang=en").await;
    assert!(html.contains("lang=\"en\"") && html.contains("Password"));
    let (_, _, html) = b.get("/akun/daftar").await;
    assert!(
        html.contains("Create an account"),
        "the language choice is remembered"
    );
    let csrf = hidden(&html, "csrf");
    let (s, _, html) = b
        .post(
            "/akun/daftar",
            &[
                ("csrf", &csrf),
                ("full_name", "Putu"),
                ("email", "putu@example.org"),
                ("password", "abc"),
                ("role", "public"),
                ("return_to", "/akun/"),
            ],
        )
        .await;
    assert_eq!(s, 422);
    assert!(html.contains("at least 8 characters"), "{html}");
    let (s, loc, html) = b
        .post(
            "/akun/daftar",
            &[
                ("csrf", &csrf),
                ("full_name", "Putu"),
                ("email", "putu@example.org"),
                ("password", PW),
                ("role", "public"),
                ("return_to", "/akun/"),
            ],
        )
        .await;
    // The same page for a new and a registered address (finding 11): sign in next.
    assert_eq!((s, loc.as_str()), (200, ""));
    assert!(html.contains("/akun/masuk?return_to=%2Fakun%2F"), "{html}");
    let (_, _, html) = b.get("/akun/masuk").await;
    let csrf = hidden(&html, "csrf");
    let (s, loc, _) = b
        .post(
            "/akun/masuk",
            &[
                ("csrf", &csrf),
                ("identifier", "putu@example.org"),
                ("password", PW),
                ("return_to", "/akun/"),
            ],
        )
        .await;
    assert_eq!((s, loc.as_str()), (303, "/akun/"));
    let (s, _, html) = b.get("/akun/").await;
    assert_eq!(s, 200);
    assert!(html.contains("Putu"));
    let (_, _, html) = b.get("/akun/masuk").await;
    let csrf = hidden(&html, "csrf");
    let (s, _, html) = b
        .post(
            "/akun/masuk",
            &[
                ("csrf", &csrf),
                ("identifier", "putri@example.org"),
                ("password", "Wrong-1-pass"),
                ("return_to", "/akun/"),
            ],
        )
        .await;
    assert_eq!(s, 401);
    assert!(html.contains("role=\"alert\""));
    // Sign-in by phone code on the pages.
    let (s, _) = api(
        &app,
        "POST",
        "/register",
        None,
        json!({ "phone": "081377778888", "password": PW, "full_name": "Made Wirawan" }),
    )
    .await;
    assert_eq!(s, 202);
    verify_own_phone(&app, "081377778888", "081377778888").await;
    let mut p = Browser::new(&app.url);
    let (s, _, html) = p.get("/akun/masuk-telepon").await;
    assert_eq!(s, 200);
    let csrf = hidden(&html, "csrf");
    let (s, _, html) = p
        .post(
            "/akun/masuk-telepon",
            &[
                ("csrf", &csrf),
                ("phone", "0813-7777-8888"),
                ("step", "send"),
                ("return_to", "/akun/"),
            ],
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(hidden(&html, "phone"), "+6281377778888");
    let code = wait_for_nth_code(&app, "+6281377778888", 2).await;
    let (s, _, html) = p
        .post(
            "/akun/masuk-telepon",
            &[
                ("csrf", &csrf),
                ("phone", "+6281377778888"),
                ("code", "999999"),
                ("step", "verify"),
                ("return_to", "/akun/"),
            ],
        )
        .await;
    assert_eq!(s, 401);
    assert!(html.contains("role=\"alert\""));
    let (s, loc, _) = p
        .post(
            "/akun/masuk-telepon",
            &[
                ("csrf", &csrf),
                ("phone", "+6281377778888"),
                ("code", &code),
                ("step", "verify"),
                ("return_to", "/akun/"),
            ],
        )
        .await;
    assert_eq!((s, loc.as_str()), (303, "/akun/"));
    let (_, _, html) = p.get("/akun/").await;
    assert!(html.contains("Made Wirawan"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passkeys_as_second_factor_and_passwordless_with_a_software_authenticator() {
    use webauthn_authenticator_rs::{WebauthnAuthenticator, softpasskey::SoftPasskey};
    // WebAuthn needs a domain as relying-party id: serve on localhost.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let origin = format!("http://localhost:{port}");
    let app = start_up_full(
        None,
        |cfg: &mut Config| {
            cfg.http.port = Some(port);
            cfg.public_base_url = Some(origin.clone());
            cfg.auth.jwks_url = None;
            cfg.auth.issuer = None;
            cfg.identity.insert("argon2_memory_kib".into(), 8192.into());
            cfg.identity.insert("argon2_iterations".into(), 1.into());
        },
        None,
    )
    .await;
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
        Value::Null,
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

// ---- attacks of the outside security review (docs/security.md) ---------------------------

/// Messages of a template on the console channel: (address, body).
fn console_messages(app: &UpApp, template: &str) -> Vec<(String, String)> {
    console_lines(&app.console)
        .iter()
        .filter(|l| l["message"]["template"] == template)
        .map(|l| {
            (
                l["message"]["to"].as_str().unwrap_or_default().to_string(),
                l["message"]["body"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect()
}

/// Wait for a message of a template to an address; its body.
async fn wait_for_message(app: &UpApp, template: &str, to: &str) -> String {
    let mut found = None;
    kreki_platform::testkit::eventually(
        "a message on the console channel",
        std::time::Duration::from_secs(10),
        || {
            found = console_messages(app, template)
                .into_iter()
                .rev()
                .find(|(a, _)| a == to)
                .map(|(_, b)| b);
            let ok = found.is_some();
            async move { ok }
        },
    )
    .await;
    found.unwrap()
}

/// The 6-digit code of the last code message to a phone.
async fn wait_for_code_to(app: &UpApp, phone: &str) -> String {
    let body = wait_for_message(app, "otp_code", phone).await;
    let i = body.find("Kode KREKI Anda: ").unwrap() + "Kode KREKI Anda: ".len();
    body[i..i + 6].to_string()
}

/// The `n`-th code (from 1) sent to a phone, once it is there.
async fn wait_for_nth_code(app: &UpApp, phone: &str, n: usize) -> String {
    let mut found = None;
    kreki_platform::testkit::eventually(
        "a one-time code on the console channel",
        std::time::Duration::from_secs(10),
        || {
            found = console_messages(app, "otp_code")
                .into_iter()
                .filter(|(to, _)| to == phone)
                .nth(n - 1)
                .map(|(_, b)| b);
            let ok = found.is_some();
            async move { ok }
        },
    )
    .await;
    let body = found.unwrap();
    let i = body.find("Kode KREKI Anda: ").unwrap() + "Kode KREKI Anda: ".len();
    body[i..i + 6].to_string()
}

/// A JSON value's shape: keys and value types, not the values.
fn shape(v: &Value) -> Value {
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
async fn verify_own_phone(app: &UpApp, ident: &str, phone: &str) -> String {
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
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let origin = format!("http://localhost:{port}");
    let app = start_up_full(
        None,
        |cfg: &mut Config| {
            cfg.http.port = Some(port);
            cfg.public_base_url = Some(origin.clone());
            cfg.auth.jwks_url = None;
            cfg.auth.issuer = None;
            cfg.identity.insert("argon2_memory_kib".into(), 8192.into());
            cfg.identity.insert("argon2_iterations".into(), 1.into());
        },
        None,
    )
    .await;
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
