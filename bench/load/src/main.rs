//! End to end, as deployed: `kreki serve emergency` on PostgreSQL and NATS JetStream, with
//! N volunteers on live WebSockets sending their location every 3 s while panics arrive at a
//! steady rate. Measures the panic's HTTP latency, the time from pressing the button to the
//! first offer arriving on a volunteer's socket, and the server's memory.
//!
//! Identity: the tool signs its own ES256 tokens and serves their JWKS (the service verifies
//! them exactly as it verifies KREKI ID's); eligibility reaches the service the real way, as
//! `volunteers.eligibility.changed` events on NATS. Run through `bench/load.sh`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use futures::{SinkExt, StreamExt};
use kreki_emergency::demo::spot;
use kreki_emergency_contracts::socket::{ClientMsg, ServerMsg};
use kreki_platform::{
    bus::{Bus, Event, nats::NatsBus},
    testkit::{self, TestSigner},
};
use kreki_volunteers_contracts::{CertLevel, ELIGIBILITY_CHANGED, EligibilityChanged};
use rand::{Rng, SeedableRng, rngs::StdRng};
use sqlx::{Connection, Executor};
use tokio::io::AsyncBufReadExt;
use tokio_tungstenite::tungstenite::Message;

const ISSUER: &str = "https://load.kreki.test";
const API: &str = "/api/emergency/v1";
struct Args {
    kreki: String,
    volunteers: usize,
    panics_per_s: f64,
    duration_s: u64,
    admin_url: String,
    nats_url: String,
    connect_concurrency: usize,
}

fn args() -> Args {
    let argv: Vec<String> = std::env::args().collect();
    let get = |name: &str| {
        argv.iter()
            .position(|a| a == name)
            .and_then(|i| argv.get(i + 1))
            .cloned()
    };
    Args {
        kreki: get("--kreki").unwrap_or_else(|| "target/release/kreki".into()),
        volunteers: get("--volunteers")
            .and_then(|v| v.parse().ok())
            .unwrap_or(10_000),
        panics_per_s: get("--panics-per-s")
            .and_then(|v| v.parse().ok())
            .unwrap_or(4.0),
        duration_s: get("--duration-s")
            .and_then(|v| v.parse().ok())
            .unwrap_or(60),
        admin_url: get("--database-url")
            .or_else(|| std::env::var("KREKI_TEST_DATABASE_URL").ok())
            .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".into()),
        nats_url: get("--nats")
            .or_else(|| std::env::var("KREKI_TEST_NATS_URL").ok())
            .unwrap_or_else(|| "nats://127.0.0.1:4222".into()),
        connect_concurrency: get("--connect-concurrency")
            .and_then(|v| v.parse().ok())
            .unwrap_or(64),
    }
}

/// Resident memory of a process (KiB).
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn pct(sorted: &[Duration], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize].as_secs_f64() * 1e3
}

/// What the run observed.
#[derive(Default)]
struct Shared {
    /// Case id → when its first offer reached any volunteer socket.
    first_offer: Mutex<HashMap<String, Instant>>,
    offers: AtomicU64,
    locations: AtomicU64,
    accepts: AtomicU64,
    connected: AtomicU64,
    failed: AtomicU64,
    stop: AtomicBool,
}

struct Ctx {
    base: String,
    http: reqwest::Client,
    signer: TestSigner,
    shared: Shared,
}

impl Ctx {
    fn token(&self, volunteer: &str) -> String {
        self.signer.token(ISSUER, volunteer, &["volunteer"])
    }
}

/// One volunteer: on duty, live socket, a location every 3 s, accept every offer.
async fn volunteer(ctx: Arc<Ctx>, id: String, seed: u64, ready: tokio::sync::mpsc::Sender<()>) {
    if let Err(e) = volunteer_inner(&ctx, &id, seed, &ready).await {
        if ctx.shared.stop.load(Ordering::Relaxed) {
            return;
        }
        if ctx.shared.failed.fetch_add(1, Ordering::Relaxed) < 5 {
            eprintln!("volunteer {id}: {e:#}");
        }
        let _ = ready.send(()).await;
    }
}

async fn volunteer_inner(
    ctx: &Ctx,
    id: &str,
    seed: u64,
    ready: &tokio::sync::mpsc::Sender<()>,
) -> anyhow::Result<()> {
    let mut rng = StdRng::seed_from_u64(seed);
    let (mut lat, mut lng) = spot(&mut rng);
    let token = ctx.token(id);
    // On duty; wait until the eligibility event has been consumed.
    let mut tries = 0;
    loop {
        let res: serde_json::Value = ctx
            .http
            .put(format!("{}{API}/presence", ctx.base))
            .bearer_auth(&token)
            .json(&serde_json::json!({"on_duty": true, "latitude": lat, "longitude": lng}))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        if res["data"]["dispatchable"] == true {
            break;
        }
        tries += 1;
        if tries > 120 {
            bail!("never dispatchable: {res}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let ticket: serde_json::Value = ctx
        .http
        .post(format!("{}{API}/ws-ticket", ctx.base))
        .bearer_auth(&token)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let ticket = ticket["data"]["ticket"]
        .as_str()
        .context("no ticket")?
        .to_string();
    let ws_url = format!("{}{API}/ws", ctx.base.replacen("http", "ws", 1));
    let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0);
    let (mut ws, _) =
        tokio_tungstenite::connect_async_with_config(ws_url, Some(config), true).await?;
    let auth = serde_json::to_string(&ClientMsg::Auth { ticket })?;
    ws.send(Message::Text(auth.into())).await?;
    match ws.next().await {
        Some(Ok(Message::Text(t))) if t.contains("\"ready\"") => {}
        other => bail!("no ready frame: {other:?}"),
    }
    ctx.shared.connected.fetch_add(1, Ordering::Relaxed);
    let _ = ready.send(()).await;
    // First report at a random moment of the 3 s period, like phones that started apart.
    let mut tick = tokio::time::interval_at(
        tokio::time::Instant::now() + Duration::from_millis(rng.gen_range(0..3_000)),
        Duration::from_secs(3),
    );
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if ctx.shared.stop.load(Ordering::Relaxed) {
                    let _ = ws.close(None).await;
                    return Ok(());
                }
                lat += rng.gen_range(-0.0003..0.0003);
                lng += rng.gen_range(-0.0003..0.0003);
                let msg = serde_json::to_string(&ClientMsg::Location { latitude: lat, longitude: lng, accuracy_m: Some(10) })?;
                ws.send(Message::Text(msg.into())).await?;
                ctx.shared.locations.fetch_add(1, Ordering::Relaxed);
            }
            msg = ws.next() => {
                let Some(msg) = msg else { return Ok(()) };
                let Message::Text(t) = msg? else { continue };
                let at = Instant::now();
                if let Ok(ServerMsg::Offer { case_id, .. }) = serde_json::from_str::<ServerMsg>(&t) {
                    ctx.shared.offers.fetch_add(1, Ordering::Relaxed);
                    ctx.shared
                        .first_offer
                        .lock()
                        .unwrap()
                        .entry(case_id.clone())
                        .or_insert(at);
                    // Accept, as a volunteer nearby would (the case stops offering when full).
                    let res = ctx
                        .http
                        .put(format!("{}{API}/{case_id}/respond", ctx.base))
                        .bearer_auth(ctx.token(id))
                        .json(&serde_json::json!({"action": "accept", "eta_minutes": 5}))
                        .send()
                        .await?;
                    if res.status().is_success() {
                        ctx.shared.accepts.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
    }
}

/// The server under test.
struct Server {
    child: tokio::process::Child,
    url: String,
}

async fn start_server(
    a: &Args,
    db_url: &str,
    stream: &str,
    prefix: &str,
    jwks: &str,
) -> anyhow::Result<Server> {
    let mut child = tokio::process::Command::new(&a.kreki)
        .args([
            "serve",
            "emergency",
            "--port",
            "0",
            "--database-url",
            db_url,
            "--bus-url",
            &a.nats_url,
        ])
        .env("KREKI_LOG__FORMAT", "json")
        .env("KREKI_LOG__LEVEL", "warn")
        .env("KREKI_BUS__STREAM", stream)
        .env("KREKI_BUS__SUBJECT_PREFIX", prefix)
        .env("KREKI_AUTH__JWKS_URL", jwks)
        .env("KREKI_AUTH__ISSUER", ISSUER)
        // Every simulated phone comes from 127.0.0.1: the per-IP limit would stop the test.
        .env("KREKI_HTTP__RATE_LIMIT_PER_MINUTE", "100000000")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot start {}", a.kreki))?;
    let stdout = child.stdout.take().context("stdout")?;
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let url = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await? {
            if let Some(pos) = line.find("listening on ") {
                let rest = &line[pos + "listening on ".len()..];
                return Ok::<_, anyhow::Error>(
                    rest.split(|c: char| c.is_whitespace() || c == '"')
                        .next()
                        .unwrap_or("")
                        .to_string(),
                );
            }
        }
        bail!("the server exited before listening")
    })
    .await
    .context("the server did not start within 30 s")??;
    // Keep draining its output (a full pipe would stall it).
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok(Server { child, url })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = args();
    let nofile = rlimit::increase_nofile_limit(u64::MAX).context("raising the open-file limit")?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "# load-bench — {} volunteer WebSockets (location every 3 s), {} panics/s for {} s",
        a.volunteers, a.panics_per_s, a.duration_s
    );
    println!(
        "# machine: {cores} cores, server and load tool on the same machine; open-file limit {nofile}"
    );
    if (nofile as usize) < a.volunteers + 200 {
        bail!(
            "the open-file limit ({nofile}) is too low for {} sockets",
            a.volunteers
        );
    }

    // A database, a stream and a subject prefix of its own.
    let tag = uuid::Uuid::new_v4().simple().to_string()[..12].to_string();
    let db_name = format!("kreki_load_{tag}");
    let mut admin = sqlx::PgConnection::connect(&a.admin_url)
        .await
        .context("PostgreSQL")?;
    admin
        .execute(format!("CREATE DATABASE {db_name}").as_str())
        .await?;
    let db_url = match a.admin_url.rsplit_once('/') {
        Some((head, _)) => format!("{head}/{db_name}"),
        None => bail!("bad database URL"),
    };
    let (stream, prefix) = (format!("KREKI_LOAD_{tag}"), format!("load{tag}"));
    let bus = NatsBus::connect(
        &a.nats_url,
        "load-bench",
        &stream,
        &prefix,
        Duration::from_secs(30),
    )
    .await?;

    let signer = TestSigner::new("load");
    let jwks = testkit::serve_jwks(signer.jwks()).await;
    // Eligibility the real way: events on the bus, consumed by the service.
    let valid = time::OffsetDateTime::now_utc() + time::Duration::days(365);
    let valid = valid
        .format(&time::format_description::well_known::Rfc3339)
        .context("time")?;
    let ids: Vec<String> = (0..a.volunteers)
        .map(|i| format!("load-relawan-{i:05}"))
        .collect();
    let t = Instant::now();
    for id in &ids {
        let ev = EligibilityChanged {
            volunteer_id: id.clone(),
            verified: true,
            cert_level: CertLevel::Basic,
            cert_valid_until: Some(valid.clone()),
            health_professional: false,
            skills: vec![],
            schedule: serde_json::Value::Null,
            version: 1,
        };
        bus.publish(&Event::new("volunteers", ELIGIBILITY_CHANGED, &ev)?)
            .await?;
    }
    println!(
        "published {} eligibility events in {:.1} s",
        ids.len(),
        t.elapsed().as_secs_f64()
    );

    let mut server = start_server(&a, &db_url, &stream, &prefix, &jwks).await?;
    let pid = server.child.id().unwrap_or(0);
    println!(
        "server {} (pid {pid}), RSS {} KiB at start",
        server.url,
        rss_kib(pid)
    );

    let ctx = Arc::new(Ctx {
        base: server.url.clone(),
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(256)
            .timeout(Duration::from_secs(30))
            .build()?,
        signer,
        shared: Shared::default(),
    });

    // Volunteers connect, a bounded number at a time.
    let t = Instant::now();
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel::<()>(1024);
    let gate = Arc::new(tokio::sync::Semaphore::new(a.connect_concurrency));
    let mut volunteers = Vec::with_capacity(ids.len());
    for (i, id) in ids.iter().enumerate() {
        let (ctx, id, ready, gate) = (ctx.clone(), id.clone(), ready_tx.clone(), gate.clone());
        volunteers.push(tokio::spawn(async move {
            let permit = gate.acquire_owned().await.ok();
            let (tx, mut rx) = tokio::sync::mpsc::channel::<()>(1);
            let run = tokio::spawn(volunteer(ctx, id, i as u64, tx));
            let _ = rx.recv().await;
            drop(permit);
            let _ = ready.send(()).await;
            let _ = run.await;
        }));
    }
    drop(ready_tx);
    for _ in 0..ids.len() {
        if ready_rx.recv().await.is_none() {
            break;
        }
    }
    let connected = ctx.shared.connected.load(Ordering::Relaxed);
    println!(
        "{connected} volunteers on duty with a live socket in {:.1} s ({} failed); server RSS {} KiB",
        t.elapsed().as_secs_f64(),
        ctx.shared.failed.load(Ordering::Relaxed),
        rss_kib(pid)
    );
    // Let the location stream settle into its 3 s rhythm.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let loc0 = ctx.shared.locations.load(Ordering::Relaxed);
    let rss_idle = rss_kib(pid);

    // Panics at a steady rate, each from its own phone, near the volunteers.
    let mut rng = StdRng::seed_from_u64(119);
    let n_panics = (a.panics_per_s * a.duration_s as f64).round() as usize;
    let every = Duration::from_secs_f64(1.0 / a.panics_per_s);
    let start = tokio::time::Instant::now();
    let sent: Arc<Mutex<Vec<(String, Instant, Duration)>>> = Arc::new(Mutex::new(Vec::new()));
    let errors = Arc::new(AtomicU64::new(0));
    let mut rss_peak = rss_idle;
    let mut tasks = Vec::with_capacity(n_panics);
    let t_panics = Instant::now();
    for i in 0..n_panics {
        tokio::time::sleep_until(start + every.mul_f64(i as f64)).await;
        if i % 10 == 0 {
            rss_peak = rss_peak.max(rss_kib(pid));
        }
        let (lat, lng) = spot(&mut rng);
        let body = serde_json::json!({
            "latitude": lat, "longitude": lng, "accuracy_m": 15,
            "severity": "critical", "type": "cardiac_arrest",
            "caller_phone": format!("+62813{:08}", 10_000_000 + i),
        });
        let (ctx, sent, errors) = (ctx.clone(), sent.clone(), errors.clone());
        tasks.push(tokio::spawn(async move {
            let t0 = Instant::now();
            let res = ctx
                .http
                .post(format!("{}{API}/panic", ctx.base))
                .header("Idempotency-Key", format!("load-{i}"))
                .json(&body)
                .send()
                .await;
            let took = t0.elapsed();
            match res {
                Ok(r) if r.status() == 201 => {
                    let v: serde_json::Value = r.json().await.unwrap_or_default();
                    if let Some(id) = v["data"]["id"].as_str() {
                        sent.lock().unwrap().push((id.to_string(), t0, took));
                    }
                }
                Ok(r) => {
                    if errors.fetch_add(1, Ordering::Relaxed) < 5 {
                        eprintln!("panic {i}: {}", r.status());
                    }
                }
                Err(e) => {
                    if errors.fetch_add(1, Ordering::Relaxed) < 5 {
                        eprintln!("panic {i}: {e}");
                    }
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let panic_wall = t_panics.elapsed();
    // Offers still on their way.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let failed_during = ctx.shared.failed.load(Ordering::Relaxed);
    rss_peak = rss_peak.max(rss_kib(pid));
    let loc1 = ctx.shared.locations.load(Ordering::Relaxed);
    let loc_rate = (loc1 - loc0) as f64 / (panic_wall.as_secs_f64() + 5.0);

    let sent = sent.lock().unwrap().clone();
    let first = ctx.shared.first_offer.lock().unwrap().clone();
    let mut http: Vec<Duration> = sent.iter().map(|s| s.2).collect();
    http.sort_unstable();
    let mut to_offer: Vec<Duration> = sent
        .iter()
        .filter_map(|(id, t0, _)| first.get(id).map(|t| t.saturating_duration_since(*t0)))
        .collect();
    to_offer.sort_unstable();
    println!();
    println!(
        "panics: {} sent in {:.1} s, {} created, {} errors",
        n_panics,
        panic_wall.as_secs_f64(),
        sent.len(),
        errors.load(Ordering::Relaxed)
    );
    println!(
        "panic HTTP (POST /panic → 201, durable):        p50 {:>8.2} ms   p99 {:>8.2} ms   max {:>8.2} ms",
        pct(&http, 0.5),
        pct(&http, 0.99),
        pct(&http, 1.0)
    );
    println!(
        "panic → first offer on a volunteer socket:      p50 {:>8.2} ms   p99 {:>8.2} ms   max {:>8.2} ms   ({} of {} cases)",
        pct(&to_offer, 0.5),
        pct(&to_offer, 0.99),
        pct(&to_offer, 1.0),
        to_offer.len(),
        sent.len()
    );
    println!(
        "offers received {}, accepts {}, location updates {:.0}/s over {} sockets ({} sockets lost)",
        ctx.shared.offers.load(Ordering::Relaxed),
        ctx.shared.accepts.load(Ordering::Relaxed),
        loc_rate,
        connected,
        failed_during
    );
    println!(
        "server RSS: {:.1} MiB with {connected} sockets idle, {:.1} MiB peak under panics; load tool RSS {:.1} MiB",
        rss_idle as f64 / 1024.0,
        rss_peak as f64 / 1024.0,
        rss_kib(std::process::id()) as f64 / 1024.0
    );

    // Clean up: sockets, server (SIGTERM, then kill), stream, database.
    ctx.shared.stop.store(true, Ordering::Relaxed);
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let _ = tokio::time::timeout(Duration::from_secs(10), server.child.wait()).await;
    let _ = server.child.kill().await;
    for v in volunteers {
        v.abort();
    }
    let _ = bus.delete_stream().await;
    admin
        .execute(format!("DROP DATABASE IF EXISTS {db_name} WITH (FORCE)").as_str())
        .await?;
    let ok = to_offer.len() == sent.len()
        && connected as usize == a.volunteers
        && failed_during == 0
        && errors.load(Ordering::Relaxed) == 0;
    if !ok {
        bail!("the run was not clean (see above)");
    }
    Ok(())
}
