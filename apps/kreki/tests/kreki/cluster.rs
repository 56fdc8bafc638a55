//! Failure tests on the local cluster (`scripts/cluster-local.sh`: three clustered NATS
//! servers, PostgreSQL, two Emergency Core replicas, one process of every other service, nginx
//! in front), under a steady panic load through nginx with volunteers on sockets. Debug build,
//! generous absolute bounds; the ratios belong to the release benchmark.
//!
//! One test walks the failures in turn on one cluster (starting a cluster costs ~10 s):
//! 1. kill -9 LMS, bridge and notify together: no panic fails, new cases are still offered;
//! 2. kill -9 one NATS server: no panic fails, no event is lost (every acknowledged case's
//!    escalation reaches the replicated stream, the outbox drains);
//! 3. kill -9 an Emergency Core replica: no acknowledged panic is lost, its sockets reconnect
//!    (to the other replica) within 10 s, and the cases it was dispatching resume there
//!    within 15 s (each escalates);
//! 4. a rolling restart of every service (SIGTERM, drain, start, ready, next): no panic fails.
//!
//! Not here: PostgreSQL unreachable (needs the intake spool, not built yet).

use std::{
    collections::{HashMap, HashSet},
    path::{Path, PathBuf},
    process::Command,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use futures::{SinkExt, StreamExt};
use kreki_platform::{
    bus::{
        Bus, Event,
        nats::{NatsBus, StreamLimits},
    },
    testkit::{self, TempDir, TestSigner},
};
use serde_json::{Value, json};
use sqlx::Row;
use tokio_tungstenite::tungstenite::Message;

use crate::up::ISSUER;

const VOLUNTEERS: usize = 6;

struct Cluster {
    dir: TempDir,
    state: Value,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/cluster-local.sh")
}

impl Cluster {
    fn cluster_dir(dir: &TempDir) -> PathBuf {
        dir.path().join("cluster")
    }

    fn up(jwks: &str) -> Option<Cluster> {
        let tools = ["nats-server", "nginx"].iter().all(|t| {
            Command::new("sh")
                .args(["-c", &format!("command -v {t}")])
                .output()
                .is_ok_and(|o| o.status.success())
        });
        let root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
        if !tools && !root {
            testkit::server_missing("nats-server and nginx", &"not installed")?;
        }
        let dir = TempDir::new();
        let out = Command::new("bash")
            .arg(script())
            .arg("up")
            .env("CLUSTER_DIR", Self::cluster_dir(&dir))
            .env("CLUSTER_KREKI", env!("CARGO_BIN_EXE_kreki"))
            .env("PG_URL", pg_server())
            .env("KREKI_AUTH__JWKS_URL", jwks)
            .env("KREKI_AUTH__ISSUER", ISSUER)
            .env("KREKI_EMERGENCY__ESCALATE_CRITICAL_S", "5")
            .env("KREKI_LOG__LEVEL", "error")
            // Sockets stay open until the grace ends: keep restarts short.
            .env("KREKI_HTTP__SHUTDOWN_GRACE_MS", "1500")
            .output()
            .expect("run scripts/cluster-local.sh");
        let c = Cluster {
            state: serde_json::from_str(
                &std::fs::read_to_string(Self::cluster_dir(&dir).join("cluster.json"))
                    .unwrap_or_else(|_| "null".into()),
            )
            .unwrap_or(Value::Null),
            dir,
        };
        assert!(
            out.status.success(),
            "cluster up failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Some(c)
    }

    fn ctl(&self, args: &[&str]) {
        let out = Command::new("bash")
            .arg(script())
            .args(args)
            .env("CLUSTER_DIR", Self::cluster_dir(&self.dir))
            .env("PG_URL", pg_server())
            .output()
            .expect("run scripts/cluster-local.sh");
        assert!(
            out.status.success(),
            "cluster-local.sh {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn base(&self) -> String {
        self.state["base_url"].as_str().unwrap().to_string()
    }

    fn emergency_db(&self) -> String {
        format!(
            "{}/{}",
            pg_server(),
            self.state["services"]["emergency-a"]["db"]
                .as_str()
                .unwrap()
        )
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(script())
            .arg("down")
            .env("CLUSTER_DIR", Self::cluster_dir(&self.dir))
            .env("PG_URL", pg_server())
            .output();
    }
}

/// The PostgreSQL server of the tests, without a database name.
fn pg_server() -> String {
    let url = testkit::pg_url();
    match url.rfind('/') {
        Some(i) if i > "postgres://".len() => url[..i].to_string(),
        _ => url,
    }
}

/// One answer of the panic load.
#[derive(Debug, Clone)]
struct Sent {
    phase: &'static str,
    key: String,
    /// `Ok(case id)` or `Err(what went wrong)`.
    outcome: Result<String, String>,
    at: Instant,
}

struct Load {
    phase: Arc<Mutex<&'static str>>,
    sent: Arc<Mutex<Vec<Sent>>>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Load {
    /// Panics through nginx, 4 per second, each with its own Idempotency-Key and number.
    fn start(base: String) -> Load {
        let phase = Arc::new(Mutex::new("steady"));
        let sent = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (p, s, st) = (phase.clone(), sent.clone(), stop.clone());
        let task = tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap();
            let n = Arc::new(AtomicU64::new(0));
            let mut tick = tokio::time::interval(Duration::from_millis(250));
            let mut inflight = Vec::new();
            while !st.load(Ordering::Relaxed) {
                tick.tick().await;
                let i = n.fetch_add(1, Ordering::Relaxed);
                let (client, base, s, phase) =
                    (client.clone(), base.clone(), s.clone(), *p.lock().unwrap());
                inflight.push(tokio::spawn(async move {
                    let key = format!("cluster-{i}");
                    let at = Instant::now();
                    let res = client
                        .post(format!("{base}/api/emergency/v1/panic"))
                        .header("idempotency-key", &key)
                        .json(&json!({"latitude": -6.2 + (i % 7) as f64 * 0.001,
                                      "longitude": 106.8, "severity": "critical",
                                      "type": "cardiac_arrest",
                                      "caller_phone": format!("0813{:08}", 20_000_000 + i)}))
                        .send()
                        .await;
                    let outcome = match res {
                        Ok(r) if r.status() == 201 => {
                            let v: Value = r.json().await.unwrap_or_default();
                            v["data"]["id"]
                                .as_str()
                                .map(str::to_string)
                                .ok_or_else(|| format!("201 without an id: {v}"))
                        }
                        Ok(r) => Err(format!(
                            "{} {}",
                            r.status(),
                            r.text().await.unwrap_or_default()
                        )),
                        Err(e) => Err(e.to_string()),
                    };
                    s.lock().unwrap().push(Sent {
                        phase,
                        key,
                        outcome,
                        at,
                    });
                }));
            }
            for t in inflight {
                let _ = t.await;
            }
        });
        Load {
            phase,
            sent,
            stop,
            task,
        }
    }

    fn phase(&self, name: &'static str) {
        *self.phase.lock().unwrap() = name;
    }

    fn failures(&self, phase: &str) -> Vec<Sent> {
        self.sent
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.phase == phase && s.outcome.is_err())
            .cloned()
            .collect()
    }

    fn acknowledged(&self) -> Vec<(String, Instant)> {
        self.sent
            .lock()
            .unwrap()
            .iter()
            .filter_map(|s| s.outcome.as_ref().ok().map(|id| (id.clone(), s.at)))
            .collect()
    }

    async fn finish(self) -> Vec<Sent> {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.task.await;
        self.sent.lock().unwrap().clone()
    }
}

/// What the volunteers' sockets saw.
#[derive(Default)]
struct Seen {
    /// case id → when its first offer arrived (on any socket).
    offers: HashMap<String, Instant>,
    /// Time from a socket closing to the next `ready` on a new one.
    reconnects: Vec<Duration>,
    closes: usize,
}

/// A volunteer on a socket through nginx, reconnecting whenever it closes.
async fn volunteer(base: String, token: String, seen: Arc<Mutex<Seen>>, stop: Arc<AtomicBool>) {
    let client = reqwest::Client::new();
    let mut closed_at: Option<Instant> = None;
    while !stop.load(Ordering::Relaxed) {
        let ticket = match client
            .post(format!("{base}/api/emergency/v1/ws-ticket"))
            .bearer_auth(&token)
            .send()
            .await
        {
            Ok(r) if r.status() == 200 => r.json::<Value>().await.unwrap_or_default(),
            _ => {
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        let Ok((mut ws, _)) = tokio_tungstenite::connect_async(format!(
            "{}/api/emergency/v1/ws",
            base.replace("http://", "ws://")
        ))
        .await
        else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        let auth = json!({"type": "auth", "ticket": ticket["data"]["ticket"]}).to_string();
        if ws.send(Message::Text(auth.into())).await.is_err() {
            continue;
        }
        loop {
            let m = tokio::time::timeout(Duration::from_millis(500), ws.next()).await;
            if stop.load(Ordering::Relaxed) {
                return;
            }
            let m = match m {
                Err(_) => continue,
                Ok(Some(Ok(m))) => m,
                Ok(_) => break,
            };
            let Message::Text(t) = m else { continue };
            let v: Value = serde_json::from_str(&t).unwrap_or_default();
            let mut s = seen.lock().unwrap();
            match v["type"].as_str() {
                Some("ready") => {
                    if let Some(c) = closed_at.take() {
                        s.reconnects.push(c.elapsed());
                    }
                }
                Some("offer") => {
                    if let Some(id) = v["case_id"].as_str() {
                        s.offers.entry(id.to_string()).or_insert_with(Instant::now);
                    }
                }
                _ => {}
            }
        }
        seen.lock().unwrap().closes += 1;
        closed_at = Some(Instant::now());
    }
}

async fn eligible(c: &Cluster, signer: &TestSigner) -> Vec<String> {
    let bus = NatsBus::connect_with(
        c.state["nats_url"].as_str().unwrap(),
        "cluster-test",
        c.state["stream"].as_str().unwrap(),
        c.state["prefix"].as_str().unwrap(),
        Duration::from_secs(5),
        StreamLimits {
            replicas: 3,
            ..StreamLimits::default()
        },
    )
    .await
    .expect("bus of the cluster");
    let client = reqwest::Client::new();
    let mut tokens = Vec::new();
    for i in 0..VOLUNTEERS {
        let id = format!("vol-cluster-{i}");
        let ev = Event::new(
            "volunteers",
            "volunteers.eligibility.changed",
            &json!({"volunteer_id": id, "verified": true, "cert_level": "plus",
                    "cert_valid_until": "2030-01-01T00:00:00Z", "health_professional": false,
                    "skills": [], "schedule": {}, "version": 1}),
        )
        .unwrap();
        bus.publish(&ev).await.unwrap();
        let token = signer.token(ISSUER, &id, &["volunteer"]);
        let base = c.base();
        testkit::eventually("volunteer dispatchable", Duration::from_secs(30), || {
            let (client, base, token) = (client.clone(), base.clone(), token.clone());
            async move {
                let Ok(r) = client
                    .put(format!("{base}/api/emergency/v1/presence"))
                    .bearer_auth(&token)
                    .json(
                        &json!({"on_duty": true, "latitude": -6.2 + i as f64 * 0.0005,
                                  "longitude": 106.8005}),
                    )
                    .send()
                    .await
                else {
                    return false;
                };
                r.json::<Value>().await.unwrap_or_default()["data"]["dispatchable"] == true
            }
        })
        .await;
        tokens.push(token);
    }
    tokens
}

/// Case ids of `emergency.case.escalated` events on the cluster's stream.
async fn escalated_on_stream(c: &Cluster) -> HashSet<String> {
    let bus = NatsBus::connect_with(
        c.state["nats_url"].as_str().unwrap(),
        "cluster-check",
        c.state["stream"].as_str().unwrap(),
        c.state["prefix"].as_str().unwrap(),
        Duration::from_secs(5),
        StreamLimits {
            replicas: 3,
            ..StreamLimits::default()
        },
    )
    .await
    .unwrap();
    let mut sub = bus
        .subscribe(
            &format!("cluster-check-{}", uuid::Uuid::new_v4().simple()),
            &["emergency.case.escalated"],
        )
        .await
        .unwrap();
    let mut ids = HashSet::new();
    while let Ok(Some(Ok(d))) = tokio::time::timeout(Duration::from_secs(3), sub.next()).await {
        if let Some(id) = d.event.data["case_id"].as_str() {
            ids.insert(id.to_string());
        }
        d.acker.ack().await.unwrap();
    }
    ids
}

async fn run_for(d: Duration) {
    tokio::time::sleep(d).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_panic_path_holds_through_failures_of_its_neighbours_a_replica_and_a_bus_node() {
    let signer = TestSigner::new("cluster");
    let jwks = testkit::serve_jwks(signer.jwks()).await;
    let Some(c) = Cluster::up(&jwks) else {
        return;
    };
    let started = Instant::now();
    let step = |what: &str| {
        eprintln!(
            "cluster test: {what} at {:.1} s",
            started.elapsed().as_secs_f64()
        )
    };
    step("cluster up");
    let base = c.base();
    let tokens = eligible(&c, &signer).await;
    step("volunteers on duty");
    let seen = Arc::new(Mutex::new(Seen::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let sockets: Vec<_> = tokens
        .iter()
        .map(|t| {
            tokio::spawn(volunteer(
                base.clone(),
                t.clone(),
                seen.clone(),
                stop.clone(),
            ))
        })
        .collect();
    let load = Load::start(base.clone());
    run_for(Duration::from_secs(3)).await;
    let offered = |since: Instant| {
        let s = seen.lock().unwrap();
        s.offers.values().filter(|t| **t >= since).count()
    };
    assert!(
        offered(Instant::now() - Duration::from_secs(4)) > 0,
        "offers reach the sockets"
    );

    step("steady load done");
    // 1. LMS, the bridge and notify killed together.
    load.phase("neighbours killed");
    c.ctl(&["kill", "lms", "bridge", "notify"]);
    let t1 = Instant::now();
    run_for(Duration::from_secs(4)).await;
    assert!(
        load.failures("neighbours killed").is_empty(),
        "no panic fails while LMS, bridge and notify are dead: {:?}",
        load.failures("neighbours killed")
    );
    assert!(offered(t1) > 0, "new cases are still offered");
    c.ctl(&["start", "lms", "bridge", "notify"]);

    step("neighbours back");
    // 2. One NATS server killed (the first in every process's list).
    load.phase("nats node killed");
    c.ctl(&["kill", "nats-1"]);
    let t2 = Instant::now();
    run_for(Duration::from_secs(4)).await;
    assert!(
        load.failures("nats node killed").is_empty(),
        "{:?}",
        load.failures("nats node killed")
    );
    assert!(
        offered(t2) > 0,
        "cases are offered with one NATS server down"
    );
    c.ctl(&["start", "nats-1"]);

    step("NATS node back");
    // 3. An Emergency Core replica killed.
    load.phase("replica killed");
    let before_kill: Vec<String> = load.acknowledged().into_iter().map(|(id, _)| id).collect();
    let closes_before = seen.lock().unwrap().closes;
    c.ctl(&["kill", "emergency-a"]);
    let t3 = Instant::now();
    run_for(Duration::from_secs(6)).await;
    assert!(
        load.failures("replica killed").is_empty(),
        "{:?}",
        load.failures("replica killed")
    );
    {
        let s = seen.lock().unwrap();
        let dropped = s.closes - closes_before;
        assert!(dropped > 0, "some sockets were on the killed replica");
        assert!(
            s.reconnects.len() >= dropped,
            "every dropped socket reconnected: {} of {dropped}",
            s.reconnects.len()
        );
        let slowest = s.reconnects.iter().max().copied().unwrap_or_default();
        assert!(
            slowest < Duration::from_secs(10),
            "sockets reconnect within 10 s: {slowest:?}"
        );
    }
    // The cases acknowledged before the kill (some dispatched by the dead replica) all
    // escalate: dispatch resumed on the other replica.
    let db = sqlx::PgPool::connect(&c.emergency_db()).await.unwrap();
    testkit::eventually(
        "dispatch of every case resumed within 15 s of the kill",
        Duration::from_secs(15)
            .saturating_sub(t3.elapsed())
            .max(Duration::from_secs(1)),
        || async {
            let n: i64 =
                sqlx::query("SELECT COUNT(*) FROM cases WHERE id = ANY($1) AND escalated = 1")
                    .bind(&before_kill)
                    .fetch_one(&db)
                    .await
                    .unwrap()
                    .get(0);
            n as usize == before_kill.len()
        },
    )
    .await;
    c.ctl(&["start", "emergency-a"]);

    step("replica back");
    // 4. A rolling restart of every service.
    load.phase("rolling restart");
    for name in [
        "identity",
        "volunteers",
        "lms",
        "notify",
        "bridge",
        "emergency-a",
        "emergency-b",
    ] {
        c.ctl(&["restart", name]);
    }
    run_for(Duration::from_secs(2)).await;
    assert!(
        load.failures("rolling restart").is_empty(),
        "{:?}",
        load.failures("rolling restart")
    );

    step("rolling restart done");
    let sent = load.finish().await;
    stop.store(true, Ordering::Relaxed);
    for s in sockets {
        let _ = s.await;
    }
    let failures: Vec<_> = sent.iter().filter(|s| s.outcome.is_err()).collect();
    assert!(failures.is_empty(), "{failures:?}");

    // Nothing acknowledged is lost: every case is stored once, with its own key.
    let acked: Vec<String> = sent.iter().filter_map(|s| s.outcome.clone().ok()).collect();
    let keys: HashSet<&str> = sent.iter().map(|s| s.key.as_str()).collect();
    assert_eq!(keys.len(), sent.len());
    let stored: i64 = sqlx::query("SELECT COUNT(*) FROM cases WHERE id = ANY($1)")
        .bind(&acked)
        .fetch_one(&db)
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        stored as usize,
        acked.len(),
        "every acknowledged panic is stored"
    );

    // No event lost: the outbox drains and every case escalated before the end is on the
    // replicated stream (including those relayed while a NATS server was down).
    testkit::eventually("outbox drained", Duration::from_secs(60), || async {
        let n: i64 = sqlx::query("SELECT COUNT(*) FROM outbox")
            .fetch_one(&db)
            .await
            .unwrap()
            .get(0);
        n == 0
    })
    .await;
    let escalated: Vec<String> =
        sqlx::query("SELECT id FROM cases WHERE escalated = 1 AND id = ANY($1)")
            .bind(&acked)
            .fetch_all(&db)
            .await
            .unwrap()
            .iter()
            .map(|r| r.get::<String, _>(0))
            .collect();
    let on_stream = escalated_on_stream(&c).await;
    let missing: Vec<_> = escalated
        .iter()
        .filter(|id| !on_stream.contains(*id))
        .collect();
    assert!(
        missing.is_empty(),
        "escalations missing from the stream: {missing:?}"
    );
    {
        let s = seen.lock().unwrap();
        eprintln!(
            "cluster failures: {} panics acknowledged, 0 failed; {} cases offered on sockets; {} sockets reconnected (slowest {:?}); {} escalations on the stream",
            acked.len(),
            s.offers.len(),
            s.reconnects.len(),
            s.reconnects.iter().max(),
            on_stream.len()
        );
    }
    db.close().await;
}
