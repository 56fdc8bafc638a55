//! Crash test: panics fired concurrently while `kreki` is killed with SIGKILL at random
//! moments, many times. Every acknowledged panic must exist exactly once afterwards (a retry
//! with its Idempotency-Key returns the same case), and the dispatch of every open case must
//! resume (shown by each case's escalation after the restart, as no volunteer is on duty).

use std::{
    collections::{HashMap, HashSet},
    process::Command,
    sync::{Arc, Mutex},
    time::Duration,
};

use kreki_platform::testkit::{self, TempDir, TestNats, TestPg, TestSigner};
use rand::Rng;
use serde_json::{Value, json};

use crate::up::ISSUER;

fn body(n: u64) -> Value {
    json!({"latitude": -6.2, "longitude": 106.8, "severity": "critical", "type": "other",
           "caller_phone": format!("0812{:08}", n)})
}

/// key → (request number, acknowledged case id)
type Sent = Arc<Mutex<HashMap<String, (u64, Option<String>)>>>;

async fn fire(url: String, sent: Sent, round: u32, stop: Arc<std::sync::atomic::AtomicBool>) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let mut tasks = Vec::new();
    for t in 0..6u64 {
        let (client, url, sent, stop) = (client.clone(), url.clone(), sent.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let n = u64::from(round) * 1_000_000 + t * 10_000 + i;
                let key = format!("crash-{n}");
                sent.lock().unwrap().insert(key.clone(), (n, None));
                let res = client
                    .post(format!("{url}/api/emergency/v1/panic"))
                    .header("idempotency-key", &key)
                    .json(&body(n))
                    .send()
                    .await;
                if let Ok(r) = res
                    && r.status() == 201
                    && let Ok(v) = r.json::<Value>().await
                    && let Some(id) = v["data"]["id"].as_str()
                {
                    sent.lock().unwrap().insert(key, (n, Some(id.to_string())));
                }
                i += 1;
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}

async fn crash_rounds(base: &dyn Fn() -> Command, rounds: u32, ops_token: String) {
    let sent: Sent = Arc::default();
    for round in 0..rounds {
        let child = crate::processes::spawn(base());
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let firing = tokio::spawn(fire(child.url.clone(), sent.clone(), round, stop.clone()));
        let wait = rand::thread_rng().gen_range(150..700);
        tokio::time::sleep(Duration::from_millis(wait)).await;
        // SIGKILL: no shutdown code runs.
        let mut child = child;
        child.child.kill().unwrap();
        let _ = child.child.wait();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let _ = firing.await;
    }
    let acked: HashMap<String, String> = sent
        .lock()
        .unwrap()
        .iter()
        .filter_map(|(k, (_, id))| id.clone().map(|id| (k.clone(), id)))
        .collect();
    assert!(
        acked.len() >= rounds as usize,
        "too few acknowledged panics to mean anything: {}",
        acked.len()
    );

    // Restart: every key retried gives the same case; nothing doubled.
    let child = crate::processes::spawn(base());
    let client = reqwest::Client::new();
    let all: Vec<(String, u64)> = sent
        .lock()
        .unwrap()
        .iter()
        .map(|(k, (n, _))| (k.clone(), *n))
        .collect();
    let mut ids = HashSet::new();
    for (key, n) in &all {
        let r = client
            .post(format!("{}/api/emergency/v1/panic", child.url))
            .header("idempotency-key", key)
            .json(&body(*n))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "retry of {key}");
        let v: Value = r.json().await.unwrap();
        let id = v["data"]["id"].as_str().unwrap().to_string();
        if let Some(acked_id) = acked.get(key) {
            assert_eq!(
                &id, acked_id,
                "acknowledged panic {key} must be the same case after the crash"
            );
        }
        ids.insert(id);
    }
    assert_eq!(ids.len(), all.len(), "one case per key");
    let signer_token = ops_token;
    let active: Value = client
        .get(format!("{}/api/emergency/v1/active", child.url))
        .bearer_auth(&signer_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        active["meta"]["total"].as_u64(),
        Some(all.len() as u64),
        "exactly once: no extra cases"
    );
    // Dispatch resumed for the cases acknowledged before the crashes.
    let pending: Vec<String> = acked.values().cloned().collect();
    testkit::eventually(
        "every acknowledged case escalated after the restart",
        Duration::from_secs(30),
        || {
            let (client, url, token, pending) = (
                client.clone(),
                child.url.clone(),
                signer_token.clone(),
                pending.clone(),
            );
            async move {
                for id in pending {
                    let v: Value = client
                        .get(format!("{url}/api/emergency/v1/{id}"))
                        .bearer_auth(&token)
                        .send()
                        .await
                        .unwrap()
                        .json()
                        .await
                        .unwrap();
                    if v["data"]["escalated"] != true {
                        return false;
                    }
                }
                true
            }
        },
    )
    .await;
    eprintln!(
        "crash test: {} rounds, {} panics sent, {} acknowledged, all present exactly once",
        rounds,
        all.len(),
        acked.len()
    );
}

fn env_for(cmd: &mut Command, jwks: &str) {
    cmd.env("KREKI_AUTH__JWKS_URL", jwks)
        .env("KREKI_AUTH__ISSUER", ISSUER)
        .env("KREKI_EMERGENCY__ESCALATE_CRITICAL_S", "1")
        .env("KREKI_LOG__LEVEL", "error")
        .env("KREKI_HTTP__RATE_LIMIT_PER_MINUTE", "100000");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_sqlite() {
    let dir = TempDir::new();
    let signer = TestSigner::new("k");
    let jwks = testkit::serve_jwks(signer.jwks()).await;
    let data = dir.path().join("data");
    let base = move || {
        let mut c = Command::new(env!("CARGO_BIN_EXE_kreki"));
        c.env("KREKI_HTTP__METRICS_PORT", "0");
        c.args(["up", "--port", "0", "--data-dir", data.to_str().unwrap()]);
        env_for(&mut c, &jwks);
        c
    };
    crash_rounds(&base, 8, signer.token(ISSUER, "ops", &["ops_admin"])).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_postgres() {
    let Some(pg) = TestPg::create().await else {
        return;
    };
    let Some(nats) = TestNats::create().await else {
        return;
    };
    let signer = TestSigner::new("k");
    let jwks = testkit::serve_jwks(signer.jwks()).await;
    let (url, bus, stream, prefix) = (
        pg.url.clone(),
        nats.url.clone(),
        nats.stream.clone(),
        nats.prefix.clone(),
    );
    let base = move || {
        let mut c = Command::new(env!("CARGO_BIN_EXE_kreki"));
        c.env("KREKI_HTTP__METRICS_PORT", "0");
        c.args([
            "serve",
            "emergency",
            "--port",
            "0",
            "--database-url",
            &url,
            "--bus-url",
            &bus,
        ]);
        c.env("KREKI_BUS__STREAM", &stream)
            .env("KREKI_BUS__SUBJECT_PREFIX", &prefix);
        env_for(&mut c, &jwks);
        c
    };
    crash_rounds(&base, 5, signer.token(ISSUER, "ops", &["ops_admin"])).await;
    nats.cleanup().await;
}

/// A fake SMS gateway that deduplicates by our `reference`, as the notify docs require of
/// a gateway that is trusted with re-sends: reference → number of requests.
type Gateway = Arc<Mutex<HashMap<String, u32>>>;

async fn dedup_gateway() -> (String, Gateway) {
    let seen: Gateway = Arc::default();
    let s = seen.clone();
    let app = axum::Router::new().fallback(move |body: axum::body::Bytes| {
        let s = s.clone();
        async move {
            // Taken at once, answered slowly: a kill in between is the crash "after the
            // provider accepted, before we recorded".
            let v: Value = serde_json::from_slice(&body).unwrap_or_default();
            let reference = v["reference"].as_str().unwrap_or_default().to_string();
            let n = {
                let mut m = s.lock().unwrap();
                let n = m.entry(reference.clone()).or_insert(0);
                *n += 1;
                *n
            };
            tokio::time::sleep(Duration::from_millis(150)).await;
            let status = if n == 1 { 202 } else { 409 };
            (
                axum::http::StatusCode::from_u16(status).unwrap(),
                json!({ "message_id": format!("gw-{reference}") }).to_string(),
            )
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/send", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

/// `kill -9` while notify is sending: every acknowledged message request reaches the
/// gateway after the restart, and a message interrupted between the gateway's accept and
/// our record is re-sent with the same reference (the gateway drops the copy: 409).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_while_notify_is_sending() {
    let dir = TempDir::new();
    let signer = TestSigner::new("k");
    let jwks = testkit::serve_jwks(signer.jwks()).await;
    let (gateway, seen) = dedup_gateway().await;
    let data = dir.path().join("data");
    let base = move || {
        let mut c = Command::new(env!("CARGO_BIN_EXE_kreki"));
        c.env("KREKI_HTTP__METRICS_PORT", "0");
        c.args(["up", "--port", "0", "--data-dir", data.to_str().unwrap()]);
        env_for(&mut c, &jwks);
        c.env("KREKI_NOTIFY__SMS__URL", &gateway)
            .env("KREKI_NOTIFY__SMS__API_KEY", "k")
            .env("KREKI_NOTIFY__SMS__WEBHOOK_SECRET", "s")
            .env("KREKI_NOTIFY__SMS__LIMITS__CONCURRENCY", "2")
            .env("KREKI_NOTIFY__PROVIDER_TIMEOUT_MS", "2000");
        c
    };
    let ops = signer.token(ISSUER, "ops", &["ops_admin"]);
    let client = reqwest::Client::new();
    let mut acknowledged = Vec::new();
    for round in 0..3u32 {
        let mut child = crate::processes::spawn(base());
        for i in 0..40u32 {
            let id = uuid::Uuid::now_v7().to_string();
            let r = client
                .post(format!("{}/api/notify/v1/messages", child.url))
                .bearer_auth(&ops)
                .json(&json!({
                    "id": id, "dedup_key": format!("crash-{round}-{i}"),
                    "address": format!("+62812{:07}", round * 100 + i),
                    "template": "sms_help_reply", "priority": "high", "channels": ["sms"],
                }))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 202);
            acknowledged.push(id);
        }
        // Some sends done, some in flight, most queued.
        let wait = rand::thread_rng().gen_range(100..400);
        tokio::time::sleep(Duration::from_millis(wait)).await;
        child.child.kill().unwrap();
        let _ = child.child.wait();
    }
    let mid = seen.lock().unwrap().len();
    assert!(
        mid < acknowledged.len(),
        "the kills came before everything was sent"
    );
    let child = crate::processes::spawn(base());
    // Every acknowledged message is recorded as sent (interrupted sends come back when
    // their lease ends: provider time limit + 5 s).
    testkit::eventually(
        "every acknowledged message is sent",
        Duration::from_secs(60),
        || {
            let (client, url, ops) = (client.clone(), child.url.clone(), ops.clone());
            let n = acknowledged.len();
            async move {
                let v: Value = client
                    .post(format!("{url}/api/notify/v1/messages/search"))
                    .bearer_auth(&ops)
                    .json(&json!({"status": "sent", "limit": 1}))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                v["meta"]["total"].as_u64() == Some(n as u64)
            }
        },
    )
    .await;
    let seen = seen.lock().unwrap().clone();
    for id in &acknowledged {
        assert!(
            seen.contains_key(&format!("{id}.0")),
            "{id} reached the gateway"
        );
    }
    let resent = seen.values().filter(|n| **n > 1).count();
    eprintln!(
        "notify crash test: {} messages, {} at the gateway before the restart, {} re-sent with the same reference (dropped by the gateway)",
        acknowledged.len(),
        mid,
        resent
    );
}
