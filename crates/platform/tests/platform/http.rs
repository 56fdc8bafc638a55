//! The HTTP kit over real HTTP: envelope for every failure, request ids, headers, limits.

use std::{sync::Arc, time::Duration};

use axum::{
    Router,
    extract::State,
    routing::{get, post},
};
use kreki_platform::{
    ApiResult, Envelope,
    auth::{Auth, Authenticator, StaticJwks, perm},
    bus::{Bus, local::LocalBus, outbox::Relay},
    config::Config,
    error::ErrorEnvelope,
    http::{
        ApiJson,
        access::{RouteAccess, scope},
        middleware::{KitConfig, outer},
        server::serve,
    },
    metrics::Metrics,
    service::{
        BuildFuture, Built, ServiceContext, ServiceDescriptor, metrics_router, mount, root_router,
    },
    storage::{Db, ratelimit::MemoryRateLimiter},
    testkit::{TempDir, TestSigner},
};
use reqwest::StatusCode;
use serde::Deserialize;
use tokio_util::{sync::CancellationToken, task::TaskTracker};

pub const ISSUER: &str = "https://id.test.kreki";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EchoBody {
    name: String,
}

async fn echo(ApiJson(b): ApiJson<EchoBody>) -> ApiResult<Envelope<String>> {
    Ok(Envelope::created(b.name))
}

async fn me(Auth(p): Auth) -> ApiResult<Envelope<String>> {
    Ok(Envelope::ok(p.subject))
}

/// Declared with `case:read_all`: the platform's access check decides, not the handler.
async fn ops(Auth(_): Auth) -> ApiResult<Envelope<String>> {
    Ok(Envelope::ok("ok".to_string()))
}

async fn touch_db(State(db): State<Db>) -> ApiResult<Envelope<i64>> {
    use sqlx::Row;
    let n: i64 = sqlx::query("SELECT COUNT(*) FROM outbox")
        .fetch_one(db.pool())
        .await?
        .try_get(0)?;
    Ok(Envelope::ok(n))
}

/// The test service's access declarations (`/api/t/v1/undeclared` is left out on purpose).
pub const ROUTES: &[RouteAccess] = &[
    RouteAccess::public("POST", "/api/t/v1/echo", "test: echoes its body"),
    RouteAccess::permission("GET", "/api/t/v1/me", perm::PROFILE_OWN).scoped(scope::OWN),
    RouteAccess::permission("GET", "/api/t/v1/ops", perm::CASE_READ_ALL),
    RouteAccess::public("GET", "/api/t/v1/db", "test: storage probe"),
    RouteAccess::public("GET", "/api/t/v1/panic", "test: a handler that panics"),
    RouteAccess::public("GET", "/api/t/v1/slow", "test: a handler over its time"),
];

pub fn test_api(db: Db) -> Router {
    Router::new()
        .route("/api/t/v1/echo", post(echo))
        .route("/api/t/v1/me", get(me))
        .route("/api/t/v1/ops", get(ops))
        .route("/api/t/v1/db", get(touch_db))
        .route("/api/t/v1/undeclared", get(|| async { "never served" }))
        .route(
            "/api/t/v1/panic",
            get(|| async { if true { panic!("boom") } else { "never" } }),
        )
        .route(
            "/api/t/v1/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(3)).await;
                "late"
            }),
        )
        .with_state(db)
}

fn build(ctx: ServiceContext) -> BuildFuture {
    Box::pin(async move {
        let api = test_api(ctx.db.clone());
        Ok(Built {
            api,
            ..Built::operational_only()
        })
    })
}

fn descriptor() -> ServiceDescriptor {
    ServiceDescriptor {
        name: "t",
        segments: &["t"],
        default_port: 0,
        migrations: &[],
        build,
        check_config: |_| Ok(()),
        routes: ROUTES,
    }
}

/// A running test service.
pub struct TestApp {
    pub url: String,
    /// The metrics listener.
    pub metrics_url: String,
    pub signer: TestSigner,
    pub cancel: CancellationToken,
    pub client: reqwest::Client,
    _dir: Option<TempDir>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// Start the test service on `db` (SQLite in a temp dir when `None`) and `bus`.
pub async fn start(db: Option<Db>, bus: Option<Arc<dyn Bus>>, per_minute: u32) -> TestApp {
    start_behind(db, bus, per_minute, 0).await
}

/// The same, behind `trusted_hops` reverse proxies that append to `X-Forwarded-For`.
pub async fn start_behind(
    db: Option<Db>,
    bus: Option<Arc<dyn Bus>>,
    per_minute: u32,
    trusted_hops: u32,
) -> TestApp {
    start_configured(db, bus, per_minute, trusted_hops, Config::default()).await
}

/// The same, with a configuration of the test's own.
pub async fn start_configured(
    db: Option<Db>,
    bus: Option<Arc<dyn Bus>>,
    per_minute: u32,
    trusted_hops: u32,
    config: Config,
) -> TestApp {
    let (db, dir) = match db {
        Some(db) => (db, None),
        None => {
            let dir = TempDir::new();
            let db = Db::open_sqlite(&dir.path().join("t.db"), "t")
                .await
                .unwrap();
            (db, Some(dir))
        }
    };
    db.migrate("t", &[]).await.unwrap();
    let bus: Arc<dyn Bus> = match bus {
        Some(b) => b,
        None => {
            let bdb = Db::open_sqlite(
                &dir.as_ref()
                    .map(|d| d.path().join("bus.db"))
                    .unwrap_or_else(|| {
                        std::env::temp_dir().join(format!("bus-{}.db", uuid::Uuid::new_v4()))
                    }),
                "bus",
            )
            .await
            .unwrap();
            Arc::new(LocalBus::open(bdb, Duration::from_secs(5)).await.unwrap())
        }
    };
    let signer = TestSigner::new("k1");
    let cancel = CancellationToken::new();
    let tasks = TaskTracker::new();
    let metrics = Arc::new(Metrics::new());
    let relay = Relay::new(db.clone(), bus.clone());
    let relay_state = relay.state.clone();
    tasks.spawn(relay.run(cancel.clone()));
    metrics.watch("t", relay_state.clone(), bus.clone());
    let health = Arc::new(kreki_platform::health::Health::new(Duration::from_secs(
        config.bus.consumer_stuck_s,
    )));
    let ctx = ServiceContext {
        name: "t",
        config: Arc::new(config),
        base_url: "http://127.0.0.1".into(),
        db: db.clone(),
        bus,
        relay: relay_state,
        metrics: metrics.clone(),
        auth: Arc::new(Authenticator::new(
            ISSUER,
            None,
            Arc::new(StaticJwks(signer.jwks())),
        )),
        limiter: Arc::new(MemoryRateLimiter::new()),
        shutdown: cancel.clone(),
        tasks,
        demo: None,
        health,
    };
    let desc = descriptor();
    let built = (desc.build)(ctx.clone()).await.unwrap();
    let app = mount(&desc, &ctx, built, per_minute).merge(root_router(vec![ctx.probe()]));
    let metrics_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let metrics_url = format!("http://{}", metrics_listener.local_addr().unwrap());
    {
        let router = metrics_router(metrics, &[("t", &["t"])]);
        let cancel = cancel.clone();
        tokio::spawn(async move {
            let _ = axum::serve(metrics_listener, router)
                .with_graceful_shutdown(cancel.cancelled_owned())
                .await;
        });
    }
    let app = outer(
        app,
        KitConfig {
            body_limit_bytes: 4096,
            request_timeout: Duration::from_millis(500),
            trusted_hops,
            hsts: false,
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(serve(
        listener,
        app,
        cancel.clone(),
        Duration::from_secs(2),
        None,
    ));
    TestApp {
        url,
        metrics_url,
        signer,
        cancel,
        client: reqwest::Client::new(),
        _dir: dir,
    }
}

async fn error_of(res: reqwest::Response) -> (StatusCode, ErrorEnvelope) {
    let status = res.status();
    let body = res.text().await.unwrap();
    let env: ErrorEnvelope =
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("not an envelope ({e}): {body}"));
    assert!(!env.success);
    (status, env)
}

#[tokio::test]
async fn success_envelope_request_id_and_security_headers() {
    let app = start(None, None, 1000).await;
    let res = app
        .client
        .post(format!("{}/api/t/v1/echo", app.url))
        .header("x-request-id", "client-abc-123")
        .json(&serde_json::json!({"name": "Budi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let h = res.headers().clone();
    assert_eq!(h["x-request-id"], "client-abc-123");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["x-frame-options"], "DENY");
    assert!(h.contains_key("content-security-policy"));
    assert_eq!(h["x-ratelimit-limit"], "1000");
    assert_eq!(h["x-ratelimit-remaining"], "999");
    assert!(h.contains_key("x-ratelimit-reset"));
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["success"], true);
    assert_eq!(body["data"], "Budi");
    assert_eq!(body["message"], "Berhasil dibuat");
    // A bad client id is replaced by a generated one.
    let res = app
        .client
        .get(format!("{}/healthz", app.url))
        .header("x-request-id", "bad id with spaces")
        .send()
        .await
        .unwrap();
    let rid = res.headers()["x-request-id"].to_str().unwrap().to_string();
    assert_eq!(rid.len(), 36, "{rid}");
}

#[tokio::test]
async fn bad_input_gets_specific_codes() {
    let app = start(None, None, 1000).await;
    let url = format!("{}/api/t/v1/echo", app.url);
    let post = |body: Vec<u8>, ct: &'static str| {
        app.client
            .post(&url)
            .header("content-type", ct)
            .body(body)
            .send()
    };
    let cases: Vec<(Vec<u8>, &str, StatusCode, &str)> = vec![
        (
            b"{\"name\":".to_vec(),
            "application/json",
            StatusCode::BAD_REQUEST,
            "MALFORMED_JSON",
        ),
        (
            b"{\"name\":\"a\"}".to_vec(),
            "text/plain",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
        ),
        (
            b"{\"name\":\"a\",\"admin\":true}".to_vec(),
            "application/json",
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_UNKNOWN_FIELD",
        ),
        (
            b"{\"name\":1}".to_vec(),
            "application/json",
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_FAILED",
        ),
        (
            b"{\"name\":\"\xff\xfe\"}".to_vec(),
            "application/json",
            StatusCode::BAD_REQUEST,
            "MALFORMED_JSON",
        ),
        (
            vec![b' '; 10_000],
            "application/json",
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
        ),
    ];
    for (body, ct, status, code) in cases {
        let (s, env) = error_of(post(body, ct).await.unwrap()).await;
        assert_eq!((s, env.error.code.as_str()), (status, code));
    }
    let (s, env) = error_of(
        app.client
            .get(format!("{}/api/t/v1/nowhere", app.url))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (s, env.error.code.as_str()),
        (StatusCode::NOT_FOUND, "NOT_FOUND")
    );
    let res = app.client.delete(&url).send().await.unwrap();
    assert!(res.headers().contains_key("allow"));
    let (s, env) = error_of(res).await;
    assert_eq!(
        (s, env.error.code.as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED")
    );
    // English on request.
    let res = app
        .client
        .get(format!("{}/api/t/v1/nowhere", app.url))
        .header("accept-language", "en-GB")
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(res).await.1.message, "Not found");
}

#[tokio::test]
async fn panics_and_timeouts_become_envelopes() {
    let app = start(None, None, 1000).await;
    let (s, env) = error_of(
        app.client
            .get(format!("{}/api/t/v1/panic", app.url))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (s, env.error.code.as_str()),
        (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR")
    );
    let (s, env) = error_of(
        app.client
            .get(format!("{}/api/t/v1/slow", app.url))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (s, env.error.code.as_str()),
        (StatusCode::GATEWAY_TIMEOUT, "REQUEST_TIMEOUT")
    );
    // Still serving.
    assert_eq!(
        app.client
            .get(format!("{}/healthz", app.url))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn huge_headers_are_refused_without_harm() {
    let app = start(None, None, 1000).await;
    let res = app
        .client
        .get(format!("{}/healthz", app.url))
        .header("x-huge", "a".repeat(1_000_000))
        .send()
        .await;
    match res {
        Ok(r) => assert!(r.status().is_client_error(), "{}", r.status()),
        Err(e) => assert!(e.is_request() || e.is_connect() || e.is_body(), "{e}"),
    }
    assert_eq!(
        app.client
            .get(format!("{}/healthz", app.url))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after() {
    let app = start(None, None, 3).await;
    for _ in 0..3 {
        assert_eq!(
            app.client
                .get(format!("{}/api/t/v1/healthz", app.url))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
    }
    let res = app
        .client
        .get(format!("{}/api/t/v1/healthz", app.url))
        .send()
        .await
        .unwrap();
    assert!(res.headers().contains_key("retry-after"));
    assert_eq!(res.headers()["x-ratelimit-remaining"], "0");
    let (s, env) = error_of(res).await;
    assert_eq!(
        (s, env.error.code.as_str()),
        (StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED")
    );
}

/// Attack (security finding 12): behind a proxy that appends to `X-Forwarded-For`, a client
/// that writes its own left-most entries escaped the per-IP limit (the left-most entry was
/// taken as the client). The client is the entry the trusted hops appended.
#[tokio::test]
async fn a_forged_forwarded_for_does_not_escape_the_per_ip_limit() {
    let app = start_behind(None, None, 3, 1).await;
    let mut statuses = Vec::new();
    for i in 0..6 {
        // The client writes a fresh address; the one proxy appends the real one.
        let res = app
            .client
            .get(format!("{}/api/t/v1/healthz", app.url))
            .header("x-forwarded-for", format!("198.51.100.{i}, 203.0.113.7"))
            .send()
            .await
            .unwrap();
        statuses.push(res.status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 200, 429, 429, 429]);
    // Another client behind the same proxy has its own budget.
    let res = app
        .client
        .get(format!("{}/api/t/v1/healthz", app.url))
        .header("x-forwarded-for", "203.0.113.8")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // Two hops: the second entry from the right.
    let h = |v: &str| {
        let mut m = axum::http::HeaderMap::new();
        m.insert("x-forwarded-for", v.parse().unwrap());
        m
    };
    use kreki_platform::http::middleware::forwarded_client;
    assert_eq!(
        forwarded_client(&h("1.1.1.1, 2.2.2.2, 3.3.3.3"), 2),
        Some([2, 2, 2, 2].into())
    );
    assert_eq!(forwarded_client(&h("3.3.3.3"), 2), None);
    assert_eq!(
        forwarded_client(&h("evil, 3.3.3.3"), 1),
        Some([3, 3, 3, 3].into())
    );
}

#[tokio::test]
async fn operational_endpoints() {
    let app = start(None, None, 1000).await;
    for path in [
        "/healthz",
        "/readyz",
        "/api/t/v1/healthz",
        "/api/t/v1/readyz",
    ] {
        let res = app
            .client
            .get(format!("{}{path}", app.url))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{path}");
    }
    let ready: serde_json::Value = app
        .client
        .get(format!("{}/readyz", app.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["data"]["services"][0]["storage"], "ok");
    assert_eq!(ready["data"]["services"][0]["bus"], "ok");
    app.client
        .get(format!("{}/api/t/v1/echo-missing", app.url))
        .send()
        .await
        .unwrap();
    let m = app
        .client
        .get(format!("{}/api/t/v1/metrics", app.metrics_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(m.contains("kreki_http_requests_total{service=\"t\",method=\"GET\",route=\"/api/t/v1/healthz\",status=\"200\"}"), "{m}");
    assert!(
        m.contains("kreki_http_request_duration_seconds_bucket"),
        "{m}"
    );
    assert!(m.contains("kreki_bus_up{service=\"t\"} 1"), "{m}");
    let doc: serde_json::Value = app
        .client
        .get(format!("{}/api/t/v1/openapi.json", app.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["paths"]["/api/t/v1/readyz"].is_object());
    let ui = app
        .client
        .get(format!("{}/api/t/v1/docs/", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(ui.status(), 200);
    assert!(
        ui.text().await.unwrap().contains("swagger"),
        "docs UI served locally"
    );
}
