//! Notification queue benchmark (release build; `bench/notify.sh` runs it on both engines).
//!
//! 1. Throughput: messages/s queued (through the service's own `queue`, 100 per
//!    transaction) and dispatched to the console channel (a file, `fsync` per line).
//! 2. Overtaking: 100,000 normal-priority e-mails queued behind a slow SMTP stand-in (5 ms per
//!    send, 8 in flight); one critical push message every 20 ms; latency from the start of
//!    its request (the queueing transaction) to the push channel's `send` call. Then the same
//!    with the backlog on the critical message's own channel (100,000 normal pushes).

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use anyhow::Context;
use async_trait::async_trait;
use kreki_identity_contracts::AccountChanged;
use kreki_notify::{
    channel::{Channel, ConsoleChannel, Outgoing, SendError, Sent},
    store::Store,
    worker::{Lanes, Senders, Settings, Worker},
};
use kreki_notify_contracts::{
    Channel as ChannelKind, MessageRequested, Priority, Recipient, Template,
};
use kreki_platform::storage::Db;
use tokio_util::sync::CancellationToken;

struct Args {
    engine: String,
    messages: usize,
    backlog: usize,
    criticals: usize,
}

fn args() -> anyhow::Result<Args> {
    let mut a = Args {
        engine: "sqlite".into(),
        messages: 20_000,
        backlog: 100_000,
        criticals: 200,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().with_context(|| format!("{k} needs a value"))?;
        match k.as_str() {
            "--engine" => a.engine = v,
            "--messages" => a.messages = v.parse()?,
            "--backlog" => a.backlog = v.parse()?,
            "--criticals" => a.criticals = v.parse()?,
            _ => anyhow::bail!("unknown argument {k}"),
        }
    }
    Ok(a)
}

/// A channel that takes `delay` per send and notes when critical messages arrive.
struct Stand {
    kind: ChannelKind,
    delay: Duration,
    arrivals: Arc<Mutex<Vec<(String, Instant)>>>,
}

#[async_trait]
impl Channel for Stand {
    fn kind(&self) -> ChannelKind {
        self.kind
    }
    async fn send(&self, m: &Outgoing) -> Result<Sent, SendError> {
        if m.priority == Priority::Critical {
            self.arrivals
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((m.id.clone(), Instant::now()));
        } else if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        Ok(Sent::with_ref(m.reference.clone()))
    }
}

async fn open(
    engine: &str,
    dir: &std::path::Path,
    name: &str,
) -> anyhow::Result<(Db, Option<String>)> {
    match engine {
        "sqlite" => {
            let db = Db::open_sqlite(&dir.join(format!("{name}.db")), "notify").await?;
            db.migrate("notify", kreki_notify::MIGRATIONS).await?;
            Ok((db, None))
        }
        "postgres" => {
            let admin = std::env::var("KREKI_TEST_DATABASE_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
            let db_name = format!("kreki_bench_{name}_{}", uuid::Uuid::new_v4().simple());
            let admin_db = Db::connect_postgres(&admin, "admin").await?;
            sqlx::query(&format!("CREATE DATABASE {db_name}"))
                .execute(admin_db.pool())
                .await?;
            admin_db.close().await;
            let url = match admin.rsplit_once('/') {
                Some((base, _)) => format!("{base}/{db_name}"),
                None => anyhow::bail!("database URL without a path"),
            };
            let db = Db::connect_postgres(&url, "notify").await?;
            db.migrate("notify", kreki_notify::MIGRATIONS).await?;
            Ok((db, Some(db_name)))
        }
        other => anyhow::bail!("unknown engine {other}"),
    }
}

async fn drop_pg(name: Option<String>) -> anyhow::Result<()> {
    if let Some(n) = name {
        let admin = std::env::var("KREKI_TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let admin_db = Db::connect_postgres(&admin, "admin").await?;
        sqlx::query(&format!("DROP DATABASE IF EXISTS {n} WITH (FORCE)"))
            .execute(admin_db.pool())
            .await?;
        admin_db.close().await;
    }
    Ok(())
}

fn message(
    i: usize,
    priority: Priority,
    template: Template,
    to: &str,
    channel: ChannelKind,
) -> MessageRequested {
    let mut m = MessageRequested::new(
        format!("b-{priority:?}-{i}-{}", uuid::Uuid::now_v7()),
        Recipient::Account(to.into()),
        template,
        priority,
    )
    .channels(&[channel]);
    for v in template.required_vars() {
        m = m.var(v, "x");
    }
    m
}

async fn queue_batch(
    db: &Db,
    msgs: &[MessageRequested],
    available: kreki_notify::planner::Available,
) -> anyhow::Result<()> {
    // Queued before any lane runs: every message waits in the queue.
    let lanes = Lanes::new(&Store::new(db.clone()));
    for chunk in msgs.chunks(100) {
        let mut tx = db.begin().await?;
        for m in chunk {
            kreki_notify::queue(&mut tx, m, None, available, &lanes).await?;
        }
        tx.commit().await?;
    }
    Ok(())
}

async fn setup_recipient(db: &Db, store: &Store) -> anyhow::Result<()> {
    let mut tx = db.begin().await?;
    Store::upsert_recipient(
        &mut tx,
        &AccountChanged {
            account_id: "bench".into(),
            member_number: "10000001".into(),
            roles: vec![],
            email: Some("bench@example.org".into()),
            phone: Some("+6281100000009".into()),
            language: "id".into(),
            notification_channels: vec![],
            version: 1,
        },
    )
    .await?;
    tx.commit().await?;
    store
        .add_push_target(
            "bench",
            "webpush",
            "https://push.example/bench",
            Some("p"),
            Some("a"),
        )
        .await?;
    Ok(())
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn throughput(a: &Args, dir: &std::path::Path) -> anyhow::Result<()> {
    let (db, pg) = open(&a.engine, dir, "throughput").await?;
    let store = Store::new(db.clone());
    setup_recipient(&db, &store).await?;
    let console_file = dir.join("console.jsonl");
    let senders = Senders {
        console: Some(Arc::new(ConsoleChannel::new(Some(console_file)))),
        ..Default::default()
    };
    let available = senders.available();
    let msgs: Vec<_> = (0..a.messages)
        .map(|i| {
            message(
                i,
                Priority::Normal,
                Template::TestAlert,
                "bench",
                ChannelKind::Console,
            )
        })
        .collect();
    let t = Instant::now();
    queue_batch(&db, &msgs, available).await?;
    let queued = t.elapsed();
    let mut limits = std::collections::HashMap::new();
    limits.insert(
        ChannelKind::Console,
        kreki_notify::config::Limits {
            concurrency: 32,
            per_second: 0.0,
        },
    );
    let worker = Worker {
        store: store.clone(),
        senders,
        lanes: Lanes::new(&store),
        settings: Arc::new(Settings {
            limits,
            ..Settings::default()
        }),
        metrics: None,
    };
    let cancel = CancellationToken::new();
    let t = Instant::now();
    let run = tokio::spawn(worker.run(cancel.clone()));
    while store.backlog().await? > 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let sent = t.elapsed();
    cancel.cancel();
    let _ = run.await;
    println!(
        "[{}] throughput: {} messages queued in {:.2} s = {:.0} msg/s; dispatched to the console channel in {:.2} s = {:.0} msg/s",
        a.engine,
        a.messages,
        queued.as_secs_f64(),
        a.messages as f64 / queued.as_secs_f64(),
        sent.as_secs_f64(),
        a.messages as f64 / sent.as_secs_f64()
    );
    db.close().await;
    drop_pg(pg).await
}

async fn overtaking(a: &Args, dir: &std::path::Path, same_lane: bool) -> anyhow::Result<()> {
    let name = if same_lane { "same_lane" } else { "email_lane" };
    let (db, pg) = open(&a.engine, dir, name).await?;
    let store = Store::new(db.clone());
    setup_recipient(&db, &store).await?;
    let arrivals = Arc::new(Mutex::new(Vec::new()));
    let push = Arc::new(Stand {
        kind: ChannelKind::Push,
        delay: if same_lane {
            Duration::from_millis(5)
        } else {
            Duration::ZERO
        },
        arrivals: arrivals.clone(),
    });
    let email = Arc::new(Stand {
        kind: ChannelKind::Email,
        delay: Duration::from_millis(5),
        arrivals: arrivals.clone(),
    });
    let senders = Senders {
        webpush: Some(push),
        email: Some(email),
        ..Default::default()
    };
    let available = senders.available();
    let (template, channel) = if same_lane {
        (Template::WellbeingCheckin, ChannelKind::Push)
    } else {
        (Template::CertificateIssued, ChannelKind::Email)
    };
    let t = Instant::now();
    let backlog: Vec<_> = (0..a.backlog)
        .map(|i| message(i, Priority::Normal, template, "bench", channel))
        .collect();
    queue_batch(&db, &backlog, available).await?;
    eprintln!(
        "[{}] {name}: {} normal messages queued in {:.1} s",
        a.engine,
        a.backlog,
        t.elapsed().as_secs_f64()
    );
    let worker = Worker {
        store: store.clone(),
        senders,
        lanes: Lanes::new(&store),
        settings: Arc::new(Settings::default()),
        metrics: None,
    };
    let lanes = worker.lanes.clone();
    let cancel = CancellationToken::new();
    let run = tokio::spawn(worker.run(cancel.clone()));
    tokio::time::sleep(Duration::from_millis(500)).await; // the backlog is being sent
    let mut started = Vec::with_capacity(a.criticals);
    let mut commits = Vec::with_capacity(a.criticals);
    let mut phases: [Vec<Duration>; 3] = Default::default();
    let mut acked = Vec::with_capacity(a.criticals);
    let mut express = 0usize;
    for i in 0..a.criticals {
        let m = message(
            i,
            Priority::Critical,
            Template::DispatchOffer,
            "bench",
            ChannelKind::Push,
        );
        let t0 = Instant::now();
        // As `POST /messages` and the bus consumer do: commit, hand over, flush, answer.
        let mut tx = db.begin_relaxed().await?;
        let began = t0.elapsed();
        let (_, next) = kreki_notify::queue(&mut tx, &m, None, available, &lanes).await?;
        let written = t0.elapsed();
        tx.commit().await?;
        let committed = t0.elapsed();
        phases[0].push(began);
        phases[1].push(written - began);
        phases[2].push(committed - written);
        if matches!(next, kreki_notify::worker::Next::Express(_)) {
            express += 1;
        }
        lanes.hand_over(next);
        db.flush().await?;
        acked.push(t0.elapsed());
        commits.push(committed);
        started.push((m.id.clone(), t0));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while arrivals.lock().unwrap_or_else(|e| e.into_inner()).len() < a.criticals
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let left = store.backlog().await?;
    cancel.cancel();
    let _ = run.await;
    let got = arrivals.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let mut lat: Vec<Duration> = started
        .iter()
        .filter_map(|(id, t0)| {
            got.iter()
                .find(|(g, _)| g == id)
                .map(|(_, t)| t.duration_since(*t0))
        })
        .collect();
    lat.sort();
    commits.sort();
    for p in &mut phases {
        p.sort();
    }
    acked.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "[{}] critical over a backlog of {} normal {} ({} still queued at the end): {}/{} sent ({} handed to the lane in memory); request -> send call p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms (of which the queueing transaction p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms: its begin p99 {:.2} / max {:.2} ms, its statements p99 {:.2} / max {:.2} ms, its commit p99 {:.2} / max {:.2} ms); on disk (the answer to the request) p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        a.engine,
        a.backlog,
        if same_lane {
            "pushes on its own lane"
        } else {
            "e-mails"
        },
        left,
        lat.len(),
        a.criticals,
        express,
        pct(&lat, 0.5).as_secs_f64() * 1e3,
        pct(&lat, 0.99).as_secs_f64() * 1e3,
        lat.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
        ms(pct(&commits, 0.5)),
        ms(pct(&commits, 0.99)),
        ms(commits.last().copied().unwrap_or_default()),
        ms(pct(&phases[0], 0.99)),
        ms(phases[0].last().copied().unwrap_or_default()),
        ms(pct(&phases[1], 0.99)),
        ms(phases[1].last().copied().unwrap_or_default()),
        ms(pct(&phases[2], 0.99)),
        ms(phases[2].last().copied().unwrap_or_default()),
        ms(pct(&acked, 0.5)),
        ms(pct(&acked, 0.99)),
        ms(acked.last().copied().unwrap_or_default()),
    );
    db.close().await;
    drop_pg(pg).await
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let a = args()?;
    let dir = std::env::temp_dir().join(format!(
        "kreki-notify-bench-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir)?;
    let r = async {
        throughput(&a, &dir).await?;
        overtaking(&a, &dir, false).await?;
        overtaking(&a, &dir, true).await
    }
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    r
}
