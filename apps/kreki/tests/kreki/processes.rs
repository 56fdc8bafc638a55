//! Services as separate `kreki serve` processes on PostgreSQL and NATS JetStream, and start-up
//! failures.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    time::Duration,
};

use kreki_platform::testkit::{self, TempDir, TestNats, TestPg, TestSigner};

use crate::up::{ISSUER, console_lines};

pub struct Proc {
    pub child: Child,
    pub url: String,
    /// The metrics listener (`http://addr`).
    pub metrics_url: String,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn kreki() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kreki"));
    c.env("KREKI_HTTP__METRICS_PORT", "0");
    c.env("KREKI_LOG__FORMAT", "json")
        .env("KREKI_LOG__LEVEL", "warn");
    c
}

/// Start a process and wait for its "listening on" line.
pub fn spawn(mut cmd: Command) -> Proc {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn kreki");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            for marker in ["listening on ", "metrics on "] {
                if let Some(pos) = line.find(marker) {
                    let url = line[pos + marker.len()..]
                        .split_whitespace()
                        .next()
                        .unwrap_or("")
                        .trim_end_matches("/metrics")
                        .to_string();
                    let _ = tx.send(url);
                }
            }
        }
    });
    let url = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("process did not start");
    // `kreki up` and `kreki serve` say it right after; the simulators have none.
    let metrics_url = rx.recv_timeout(Duration::from_secs(1)).unwrap_or_default();
    Proc {
        child,
        url,
        metrics_url,
    }
}

async fn ready(client: &reqwest::Client, url: &str) -> serde_json::Value {
    let res = client.get(format!("{url}/readyz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_services_as_processes_exchange_an_event_over_nats() {
    let Some(nats) = TestNats::create().await else {
        return;
    };
    let Some(pg_emergency) = TestPg::create().await else {
        return;
    };
    let Some(pg_notify) = TestPg::create().await else {
        return;
    };
    let dir = TempDir::new();
    let console = dir.path().join("console.jsonl");
    let signer = TestSigner::new("k");
    let jwks = testkit::serve_jwks(signer.jwks()).await;
    let serve = |name: &str, db: &str| {
        let mut c = kreki();
        c.args([
            "serve",
            name,
            "--port",
            "0",
            "--database-url",
            db,
            "--bus-url",
            &nats.url,
        ])
        .env("KREKI_BUS__STREAM", &nats.stream)
        .env("KREKI_BUS__SUBJECT_PREFIX", &nats.prefix)
        .env("KREKI_AUTH__JWKS_URL", &jwks)
        .env("KREKI_AUTH__ISSUER", ISSUER)
        .env("KREKI_NOTIFY__CONSOLE_FILE", &console)
        .env("KREKI_NOTIFY__CONSOLE", "on");
        c
    };
    let emergency = spawn(serve("emergency", &pg_emergency.url));
    let notify = spawn(serve("notify", &pg_notify.url));
    let client = reqwest::Client::new();
    for p in [&emergency, &notify] {
        let r = ready(&client, &p.url).await;
        assert_eq!(r["data"]["status"], "ready", "{r}");
    }
    let h: serde_json::Value = client
        .get(format!("{}/healthz", notify.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(h["services"], serde_json::json!(["notify"]));
    // Published by emergency (outbox → NATS), consumed by notify (another process).
    let token = signer.token(ISSUER, "vol-42", &["volunteer"]);
    let res = client
        .post(format!(
            "{}/api/emergency/v1/presence/test-alert",
            emergency.url
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let id = res.json::<serde_json::Value>().await.unwrap()["data"]["message_id"]
        .as_str()
        .unwrap()
        .to_string();
    testkit::eventually(
        "notify process delivered the message",
        Duration::from_secs(20),
        || {
            let console = console.clone();
            let id = id.clone();
            async move {
                console_lines(&console).iter().any(|l| {
                    l["message"]["id"] == id.as_str() && l["message"]["to"] == "account:vol-42"
                })
            }
        },
    )
    .await;
    let m = client
        .get(format!("{}/metrics", notify.metrics_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        m.contains("kreki_bus_events_consumed_total{service=\"notify\",consumer=\"notify-requests\",subject=\"notify.message.requested\",outcome=\"handled\"} 1"),
        "{m}"
    );
    // Graceful stop on SIGTERM.
    for mut p in [emergency, notify] {
        let pid = p.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let status = wait_exit(&mut p.child, Duration::from_secs(15));
        assert_eq!(status, Some(0), "clean exit after SIGTERM");
    }
    nats.cleanup().await;
}

fn wait_exit(child: &mut Child, within: Duration) -> Option<i32> {
    let deadline = std::time::Instant::now() + within;
    while std::time::Instant::now() < deadline {
        if let Ok(Some(s)) = child.try_wait() {
            return s.code();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

fn run_fail(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run");
    assert!(!out.status.success(), "expected failure");
    String::from_utf8_lossy(&out.stderr).to_string()
}

#[test]
fn unreachable_database_or_bus_stops_the_start_with_a_clear_message() {
    let err = run_fail(kreki().args([
        "serve",
        "notify",
        "--port",
        "0",
        "--database-url",
        "postgres://postgres@127.0.0.1:1/none",
        "--bus-url",
        "nats://127.0.0.1:4222",
    ]));
    assert!(
        err.contains("cannot connect to PostgreSQL for notify"),
        "{err}"
    );
    let err = run_fail(
        kreki()
            .args([
                "serve",
                "notify",
                "--port",
                "0",
                "--bus-url",
                "nats://127.0.0.1:4222",
            ])
            .env_remove("KREKI_DATABASE_URL"),
    );
    assert!(err.contains("needs a PostgreSQL URL"), "{err}");
    let err = run_fail(kreki().args(["serve", "nobody", "--port", "0"]));
    assert!(err.contains("unknown service `nobody`"), "{err}");
}

/// A service starts while NATS is unreachable (a pod rescheduled during a NATS outage still
/// serves): readiness is degraded and names the bus as the reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_bus_at_start_degrades_and_says_why() {
    let Some(pg) = TestPg::create().await else {
        return;
    };
    let mut c = kreki();
    c.args([
        "serve",
        "notify",
        "--port",
        "0",
        "--database-url",
        &pg.url,
        "--bus-url",
        "nats://127.0.0.1:1",
    ]);
    let p = spawn(c);
    let client = reqwest::Client::new();
    let r = ready(&client, &p.url).await;
    assert_eq!(r["data"]["status"], "degraded", "{r}");
    let reason = &r["data"]["services"][0]["reasons"][0];
    assert_eq!(reason["component"], "bus", "{r}");
    assert!(
        reason["reason"].as_str().unwrap().contains("disconnected"),
        "{r}"
    );
}

#[test]
fn bad_configuration_names_the_key() {
    let dir = TempDir::new();
    let file = dir.path().join("kreki.toml");
    std::fs::write(&file, "[http]\nbody_limit = 10\n").unwrap();
    let err = run_fail(kreki().args(["--config", file.to_str().unwrap(), "config", "check"]));
    assert!(
        err.contains("`http.body_limit`") && err.contains("unknown key"),
        "{err}"
    );
    let err = run_fail(
        kreki()
            .args(["config", "check"])
            .env("KREKI_HTTP__REQUEST_TIMEOUT_MS", "0"),
    );
    assert!(err.contains("`http.request_timeout_ms`"), "{err}");
    let err = run_fail(
        kreki()
            .args(["config", "check"])
            .env("KREKI_NOTIFY__CONSOLE", "x"),
    );
    assert!(err.contains("`notify.console`"), "{err}");
    let out = kreki()
        .args(["config", "check"])
        .env("KREKI_DATABASE_URL", "postgres://kreki:s3cret-pw@db/kreki")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("database_url = \"********\"") && !text.contains("s3cret-pw"),
        "{text}"
    );
}

#[test]
fn migrate_creates_every_database() {
    let dir = TempDir::new();
    let out = kreki()
        .args(["migrate", "--data-dir", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for s in [
        "identity",
        "emergency",
        "volunteers",
        "lms",
        "bridge",
        "notify",
    ] {
        assert!(dir.path().join(format!("{s}.db")).exists(), "{s}");
    }
}

/// Two Emergency Core replicas on one database and NATS: a location reported to one is in the
/// other's index, a ticket from one opens a socket on the other, and an offer made by the
/// replica that owns the case reaches the volunteer's socket on the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emergency_replicas_share_locations_tickets_and_sockets() {
    use futures::SinkExt;
    use kreki_platform::bus::{Bus, Event, nats::NatsBus};
    use tokio_tungstenite::tungstenite::Message;
    let Some(nats) = TestNats::create().await else {
        return;
    };
    let Some(pg) = TestPg::create().await else {
        return;
    };
    let signer = TestSigner::new("k");
    let jwks = testkit::serve_jwks(signer.jwks()).await;
    let replica = || {
        let mut c = kreki();
        c.args([
            "serve",
            "emergency",
            "--port",
            "0",
            "--database-url",
            &pg.url,
            "--bus-url",
            &nats.url,
        ])
        .env("KREKI_BUS__STREAM", &nats.stream)
        .env("KREKI_BUS__SUBJECT_PREFIX", &nats.prefix)
        .env("KREKI_AUTH__JWKS_URL", &jwks)
        .env("KREKI_AUTH__ISSUER", ISSUER);
        spawn(c)
    };
    let (a, b) = (replica(), replica());
    let client = reqwest::Client::new();
    let bus = NatsBus::connect(
        &nats.url,
        "test",
        &nats.stream,
        &nats.prefix,
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    let ev = Event::new(
        "volunteers",
        "volunteers.eligibility.changed",
        &serde_json::json!({"volunteer_id": "vol-r", "verified": true, "cert_level": "basic", "cert_valid_until": "2030-01-01T00:00:00Z",
                            "health_professional": false, "skills": [], "schedule": {}, "version": 1}),
    )
    .unwrap();
    bus.publish(&ev).await.unwrap();
    let vol = signer.token(ISSUER, "vol-r", &["volunteer"]);
    let ops = signer.token(ISSUER, "ops", &["ops_admin"]);
    let r = client
        .put(format!("{}/api/emergency/v1/presence", a.url))
        .bearer_auth(&vol)
        .json(&serde_json::json!({"on_duty": true, "latitude": -6.2, "longitude": 106.8}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    testkit::eventually(
        "B knows where vol-r is and that vol-r may be dispatched",
        Duration::from_secs(15),
        || async {
            let v: serde_json::Value = client
                .get(format!(
                    "{}/api/emergency/v1/nearby?latitude=-6.2&longitude=106.8",
                    b.url
                ))
                .bearer_auth(&ops)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            v["data"][0]["volunteer_id"] == "vol-r" && v["data"][0]["dispatchable"] == true
        },
    )
    .await;
    // Ticket from B, socket on A.
    let t: serde_json::Value = client
        .post(format!("{}/api/emergency/v1/ws-ticket", b.url))
        .bearer_auth(&vol)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (mut ws, _) = tokio_tungstenite::connect_async(format!(
        "{}/api/emergency/v1/ws",
        a.url.replace("http://", "ws://")
    ))
    .await
    .unwrap();
    ws.send(Message::Text(
        serde_json::json!({"type": "auth", "ticket": t["data"]["ticket"]})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    assert_eq!(crate::live::next_json(&mut ws).await["type"], "ready");
    // The panic arrives at B; B dispatches; the offer reaches the socket on A.
    let r = client
        .post(format!("{}/api/emergency/v1/panic", b.url))
        .json(&serde_json::json!({"latitude": -6.2005, "longitude": 106.8, "severity": "critical", "type": "drowning", "caller_phone": "081200000001"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let id = r.json::<serde_json::Value>().await.unwrap()["data"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let offer = loop {
        let m = crate::live::next_json(&mut ws).await;
        if m["type"] == "offer" {
            break m;
        }
    };
    assert_eq!(offer["case_id"], id.as_str());
    nats.cleanup().await;
}

/// `kreki up --tls-cert/--tls-key` serves HTTPS (phones on a network need it for geolocation)
/// and sends HSTS when the public URL is https.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_serves_https_with_the_given_certificate() {
    let dir = TempDir::new();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    // The machine's openssl (Debian's package) makes a throw-away self-signed certificate.
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
        ])
        .args([
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let mut c = kreki();
    c.args(["up", "--port", "0", "--data-dir"])
        .arg(dir.path().join("data"))
        .arg("--tls-cert")
        .arg(&cert)
        .arg("--tls-key")
        .arg(&key)
        .env("KREKI_PUBLIC_BASE_URL", "https://kreki.test");
    let p = spawn(c);
    let url = p.url.clone();
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    let client = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    let res = client.get(format!("{url}/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["strict-transport-security"]
            .to_str()
            .unwrap()
            .contains("max-age")
    );
    // Plain HTTP on the TLS port is refused.
    assert!(
        reqwest::get(format!("{}/healthz", url.replace("https://", "http://")))
            .await
            .map(|r| !r.status().is_success())
            .unwrap_or(true)
    );
}

/// KREKI ID as its own process on PostgreSQL and NATS: accounts, refresh rotation and reuse
/// detection, client credentials and introspection; after a restart the signing keys, the
/// configured client (updated in place) and the refresh tokens are still there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_on_postgresql_keeps_keys_clients_and_tokens_across_restarts() {
    let Some(nats) = TestNats::create().await else {
        return;
    };
    let Some(pg) = TestPg::create().await else {
        return;
    };
    let dir = TempDir::new();
    let secret = "pg-partner-secret-0123456789abcdefghijklmnop";
    let cfg = dir.path().join("kreki.toml");
    std::fs::write(
        &cfg,
        format!(
            "[identity]\nargon2_memory_kib = 8192\nargon2_iterations = 1\n\
             [[identity.clients]]\nclient_id = \"pg-partner\"\nname = \"Partner\"\nclient_secret = \"{secret}\"\n\
             confidential = true\ngrant_types = [\"client_credentials\"]\nscopes = [\"bridge.callback\"]\n"
        ),
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let serve = || {
        let mut c = kreki();
        c.args(["--config", cfg.to_str().unwrap()])
            .args(["serve", "identity", "--port", &port])
            .args(["--database-url", &pg.url, "--bus-url", &nats.url])
            .env("KREKI_BUS__STREAM", &nats.stream)
            .env("KREKI_BUS__SUBJECT_PREFIX", &nats.prefix);
        spawn(c)
    };
    let client = reqwest::Client::new();
    let post = |url: String, body: serde_json::Value| {
        let c = client.clone();
        async move {
            let r = c.post(url).json(&body).send().await.unwrap();
            (
                r.status().as_u16(),
                r.json::<serde_json::Value>().await.unwrap(),
            )
        }
    };
    let cc = |base: String| {
        let c = client.clone();
        async move {
            c.post(format!("{base}/oauth2/token"))
                .basic_auth("pg-partner", Some(secret))
                .form(&[("grant_type", "client_credentials")])
                .send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()
        }
    };
    let introspect = |base: String, token: String| {
        let c = client.clone();
        async move {
            c.post(format!("{base}/oauth2/introspect"))
                .basic_auth("pg-partner", Some(secret))
                .form(&[("token", token)])
                .send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()
        }
    };

    let p = serve();
    assert_eq!(ready(&client, &p.url).await["data"]["status"], "ready");
    let (s, v) = post(
        format!("{}/api/auth/v1/register", p.url),
        serde_json::json!({ "email": "pg@example.org", "phone": "081355550000", "password": "Kopi-Tubruk-Senja-77", "full_name": "Sri Rahayu" }),
    )
    .await;
    assert_eq!(s, 202, "{v}");
    let (s, v) = post(
        format!("{}/api/auth/v1/login", p.url),
        serde_json::json!({ "identifier": "081355550000", "password": "Kopi-Tubruk-Senja-77" }),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let rt1 = v["data"]["refreshToken"].as_str().unwrap().to_string();
    let (s, v) = post(
        format!("{}/api/auth/v1/refresh", p.url),
        serde_json::json!({ "refreshToken": rt1 }),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let rt2 = v["data"]["refreshToken"].as_str().unwrap().to_string();
    let at = cc(p.url.clone()).await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(introspect(p.url.clone(), at.clone()).await["active"], true);
    let url = p.url.clone();
    drop(p);

    let p = serve();
    assert_eq!(p.url, url);
    assert_eq!(
        introspect(p.url.clone(), at).await["active"],
        true,
        "a token signed before the restart"
    );
    assert!(cc(p.url.clone()).await["access_token"].is_string());
    let (s, v) = post(
        format!("{}/api/auth/v1/refresh", p.url),
        serde_json::json!({ "refreshToken": rt2 }),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let rt3 = v["data"]["refreshToken"].as_str().unwrap().to_string();
    // The reused rt2 revokes the family, rt3 included.
    let (s, _) = post(
        format!("{}/api/auth/v1/refresh", p.url),
        serde_json::json!({ "refreshToken": rt2 }),
    )
    .await;
    assert_eq!(s, 401);
    let (s, _) = post(
        format!("{}/api/auth/v1/refresh", p.url),
        serde_json::json!({ "refreshToken": rt3 }),
    )
    .await;
    assert_eq!(s, 401);
}

/// The binary is self-contained: started from a directory without `web/dist`, `kreki up`
/// serves the caller app, the volunteer app and their assets from the copy built into it
/// (with ETags), and readiness is green for the web part.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_binary_started_elsewhere_serves_the_embedded_apps() {
    let dir = TempDir::new();
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let mut c = kreki();
    c.current_dir(&elsewhere)
        .env_remove("KREKI_EMERGENCY__WEB_DIR")
        .args(["up", "--port", "0", "--data-dir"])
        .arg(dir.path().join("data"));
    let p = spawn(c);
    let client = reqwest::Client::new();
    let res = client.get(format!("{}/", p.url)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let caller = res.text().await.unwrap();
    assert!(
        caller.contains("<title>HELP 119") && !caller.contains("belum dibangun"),
        "the caller app, not the build hint: {caller}"
    );
    let res = client
        .get(format!("{}/relawan/", p.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(!res.text().await.unwrap().contains("belum dibangun"));
    // An asset the page names: typed, immutable, with an ETag that answers 304.
    let script = caller
        .split("src=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_string();
    assert!(script.starts_with("/app/"), "{script}");
    let res = client
        .get(format!("{}{script}", p.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("javascript")
    );
    assert!(
        res.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    let etag = res.headers()["etag"].clone();
    let res = client
        .get(format!("{}{script}", p.url))
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 304);
    let res = client
        .get(format!("{}/app/nope/missing.js", p.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let res = client.get(format!("{}/sw.js", p.url)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["service-worker-allowed"], "/");
    let r = ready(&client, &p.url).await;
    let emergency = r["data"]["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service"] == "emergency")
        .unwrap()
        .clone();
    assert!(
        !emergency["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["component"] == "web"),
        "{r}"
    );
}
