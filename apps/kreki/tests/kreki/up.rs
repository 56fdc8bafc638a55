//! `kreki up`: every service in one process on embedded storage.

use std::time::Duration;

use kreki_platform::{
    config::Config,
    testkit::{self, TempDir, TestSigner},
};

pub const ISSUER: &str = "https://kreki.test";

pub struct UpApp {
    pub url: String,
    /// The metrics listener (never the public port).
    pub metrics_url: String,
    pub client: reqwest::Client,
    pub signer: TestSigner,
    pub console: std::path::PathBuf,
    pub running: Option<kreki::Running>,
    pub dir: TempDir,
}

impl UpApp {
    pub async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            r.stop().await.unwrap();
        }
    }
}

/// Start `kreki up` on a fresh data directory (or `dir`) with a test issuer's keys.
pub async fn start_up(dir: Option<TempDir>) -> UpApp {
    start_up_with(dir, |_| {}).await
}

/// The same, with configuration changes.
pub async fn start_up_with(dir: Option<TempDir>, change: impl FnOnce(&mut Config)) -> UpApp {
    start_up_full(dir, change, None).await
}

/// The same, with demo data and its simulator.
pub async fn start_up_full(
    dir: Option<TempDir>,
    change: impl FnOnce(&mut Config),
    demo: Option<kreki_platform::service::DemoSettings>,
) -> UpApp {
    let dir = dir.unwrap_or_default();
    let signer = TestSigner::new("test-key");
    let jwks = testkit::serve_jwks(signer.jwks()).await;
    let console = dir.path().join("console.jsonl");
    let mut cfg = Config {
        data_dir: dir.path().join("data"),
        ..Config::default()
    };
    cfg.http.port = Some(0);
    cfg.auth.jwks_url = Some(jwks);
    cfg.auth.issuer = Some(ISSUER.into());
    cfg.notify
        .insert("console_file".into(), console.display().to_string().into());
    change(&mut cfg);
    // Outside the demo the console channel is off unless configured: the tests that read
    // messages from it turn it on, as it was while no provider is configured, with the
    // codes and links in clear (they sign in with them).
    if !["fcm", "whatsapp", "sms", "email"]
        .iter()
        .any(|k| cfg.notify.contains_key(*k))
    {
        cfg.notify
            .entry("console".into())
            .or_insert_with(|| "on".into());
        cfg.notify
            .entry("console_secrets".into())
            .or_insert_with(|| "show".into());
    }
    let running = kreki::up(cfg, demo).await.unwrap();
    UpApp {
        url: format!("http://{}", running.addr),
        metrics_url: format!("http://{}", running.metrics_addr),
        client: reqwest::Client::new(),
        signer,
        console,
        running: Some(running),
        dir,
    }
}

pub fn console_lines(path: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_service_answers_health_readiness_metrics_and_docs() {
    let app = start_up(None).await;
    let c = &app.client;
    for path in ["/healthz", "/readyz"] {
        assert_eq!(
            c.get(format!("{}{path}", app.url))
                .send()
                .await
                .unwrap()
                .status(),
            200,
            "{path}"
        );
    }
    // Attack (security finding 12): metrics were public on the service port. They are served
    // on their own listener only (loopback by default).
    let public = c.get(format!("{}/metrics", app.url)).send().await.unwrap();
    assert_eq!(public.status(), 404);
    let m = c
        .get(format!("{}/metrics", app.metrics_url))
        .send()
        .await
        .unwrap();
    assert_eq!(m.status(), 200);
    let health: serde_json::Value = c
        .get(format!("{}/healthz", app.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["services"].as_array().unwrap().len(), 6);
    for seg in [
        "auth",
        "emergency",
        "volunteers",
        "lms",
        "satusehat",
        "psc119",
        "notify",
    ] {
        for what in ["healthz", "readyz", "permissions", "openapi.json", "docs/"] {
            let res = c
                .get(format!("{}/api/{seg}/v1/{what}", app.url))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200, "/api/{seg}/v1/{what}");
        }
        let public = c
            .get(format!("{}/api/{seg}/v1/metrics", app.url))
            .send()
            .await
            .unwrap();
        // 404, or for the Emergency Core a case id `metrics` that needs a token: never 200.
        assert!(
            matches!(public.status().as_u16(), 401 | 404),
            "/api/{seg}/v1/metrics is not public: {}",
            public.status()
        );
        let res = c
            .get(format!("{}/api/{seg}/v1/metrics", app.metrics_url))
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.status(),
            200,
            "/api/{seg}/v1/metrics on the metrics listener"
        );
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alert_self_test_travels_outbox_bus_notify_channel() {
    let app = start_up(None).await;
    let c = &app.client;
    // Unauthenticated: refused.
    let res = c
        .post(format!("{}/api/emergency/v1/presence/test-alert", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    // Attack (security finding 5): any signed-in account could make the server send a push
    // to its subscriptions (SSRF). The self-test is for volunteers only.
    let public = app.signer.token(ISSUER, "pub-1", &["public"]);
    let res = c
        .post(format!("{}/api/emergency/v1/presence/test-alert", app.url))
        .bearer_auth(&public)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "AUTH_FORBIDDEN");
    let token = app.signer.token(ISSUER, "vol-123", &["volunteer"]);
    let res = c
        .post(format!("{}/api/emergency/v1/presence/test-alert", app.url))
        .bearer_auth(&token)
        .header("accept-language", "en")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let body: serde_json::Value = res.json().await.unwrap();
    let id = body["data"]["message_id"].as_str().unwrap().to_string();
    let console = app.console.clone();
    testkit::eventually(
        "message on the console channel",
        Duration::from_secs(15),
        || {
            let console = console.clone();
            let id = id.clone();
            async move {
                console_lines(&console)
                    .iter()
                    .any(|l| l["message"]["id"] == id.as_str())
            }
        },
    )
    .await;
    let line = console_lines(&app.console)
        .into_iter()
        .find(|l| l["message"]["id"] == id.as_str())
        .unwrap();
    assert_eq!(line["message"]["to"], "account:vol-123");
    // The operator sees its history (the channel writes the line before the worker records
    // "sent", so the status may lag the console by a moment).
    let ops = app.signer.token(ISSUER, "ops-1", &["ops_admin"]);
    let status_url = format!("{}/api/notify/v1/messages/{id}", app.url);
    testkit::eventually(
        "the message is recorded as sent",
        Duration::from_secs(10),
        || {
            let (c, u, ops) = (c.clone(), status_url.clone(), ops.clone());
            async move {
                let view: serde_json::Value = c
                    .get(u)
                    .bearer_auth(&ops)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                view["data"]["status"] == "delivered"
            }
        },
    )
    .await;
    // A volunteer cannot read the message log.
    let res = c
        .get(format!("{}/api/notify/v1/messages/{id}", app.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    // Five self-tests an hour.
    let mut last = 0;
    for _ in 0..5 {
        last = c
            .post(format!("{}/api/emergency/v1/presence/test-alert", app.url))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
    }
    assert_eq!(last, 429);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_api_checks_auth_before_body_and_validates_requests() {
    let app = start_up(None).await;
    let c = &app.client;
    let url = format!("{}/api/notify/v1/messages", app.url);
    // No token and a broken body: 401, not 400.
    let res = c
        .post(&url)
        .header("content-type", "application/json")
        .body("{broken")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let ops = app.signer.token(ISSUER, "ops-1", &["ops_admin"]);
    let send = |body: serde_json::Value| c.post(&url).bearer_auth(&ops).json(&body).send();
    let code = |res: reqwest::Response| async move {
        let s = res.status().as_u16();
        let b: serde_json::Value = res.json().await.unwrap();
        (s, b["error"]["code"].as_str().unwrap_or("").to_string())
    };
    let base = serde_json::json!({"id": "m1", "dedup_key": "d1", "address": "+6281234567890", "template": "otp_code", "priority": "high", "vars": {"code": "123456", "minutes": 5}});
    let mut unknown_template = base.clone();
    unknown_template["template"] = "nope".into();
    assert_eq!(
        code(send(unknown_template).await.unwrap()).await,
        (422, "VALIDATION_FAILED".into())
    );
    let mut missing = base.clone();
    missing["vars"] = serde_json::json!({"code": "123456"});
    assert_eq!(
        code(send(missing).await.unwrap()).await,
        (422, "NOTIFY_TEMPLATE_VARS_MISSING".into())
    );
    let mut two = base.clone();
    two["recipient_id"] = "acct".into();
    assert_eq!(
        code(send(two).await.unwrap()).await,
        (422, "NOTIFY_RECIPIENT_INVALID".into())
    );
    let mut extra = base.clone();
    extra["bcc"] = "x".into();
    assert_eq!(
        code(send(extra).await.unwrap()).await,
        (422, "VALIDATION_UNKNOWN_FIELD".into())
    );
    let res = send(base.clone()).await.unwrap();
    assert_eq!(res.status(), 202);
    let again: serde_json::Value = send(base).await.unwrap().json().await.unwrap();
    assert_eq!(again["data"]["status"], "duplicate");
    // A volunteer may not send arbitrary messages.
    let vol = app.signer.token(ISSUER, "v", &["volunteer"]);
    let res = c
        .post(&url)
        .bearer_auth(&vol)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_keeps_data_and_starts_fast() {
    let app = start_up(None).await;
    let token = app.signer.token(ISSUER, "vol-9", &["volunteer"]);
    let res = app
        .client
        .post(format!("{}/api/emergency/v1/presence/test-alert", app.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let id = res.json::<serde_json::Value>().await.unwrap()["data"]["message_id"]
        .as_str()
        .unwrap()
        .to_string();
    let UpApp {
        running,
        dir: old_dir,
        ..
    } = app;
    running.unwrap().stop().await.unwrap();
    let started = std::time::Instant::now();
    let app = start_up(Some(old_dir)).await;
    let startup = started.elapsed();
    assert!(startup < Duration::from_secs(3), "restart took {startup:?}");
    let console = app.console.clone();
    testkit::eventually(
        "acknowledged self-test delivered across the restart",
        Duration::from_secs(15),
        || {
            let console = console.clone();
            let id = id.clone();
            async move {
                console_lines(&console)
                    .iter()
                    .any(|l| l["message"]["id"] == id.as_str())
            }
        },
    )
    .await;
    app.stop().await;
}
