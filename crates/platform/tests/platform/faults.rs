//! Outages, simulated by cutting a TCP proxy between the service and its server (the shared
//! servers are never stopped).

use std::{sync::Arc, time::Duration};

use kreki_platform::{
    bus::{
        Bus, Event,
        consumer::{AfterCommit, Consumer, HandleError, Handler},
        local::LocalBus,
        nats::NatsBus,
        outbox::{self, RelayState},
    },
    health::Health,
    metrics::Metrics,
    service::Probe,
    storage::{Db, Tx},
    testkit::{self, CutProxy, TempDir, TestNats, TestPg},
};

use crate::http::{start, start_configured};

async fn status(client: &reqwest::Client, url: &str) -> (u16, serde_json::Value) {
    match client
        .get(url)
        .timeout(Duration::from_secs(10))
        .send()
        .await
    {
        Ok(r) => {
            let s = r.status().as_u16();
            (s, r.json().await.unwrap_or_default())
        }
        Err(_) => (0, serde_json::Value::Null),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_outage_turns_readiness_red_and_recovers() {
    let Some(pg) = TestPg::create().await else {
        return;
    };
    let proxy = CutProxy::start(testkit::url_addr(&pg.url)).await;
    let db = Db::connect_postgres(&testkit::url_via(&pg.url, proxy.addr), "t")
        .await
        .unwrap();
    let app = start(Some(db.clone()), None, 10_000).await;
    let c = &app.client;
    assert_eq!(status(c, &format!("{}/readyz", app.url)).await.0, 200);
    assert_eq!(status(c, &format!("{}/api/t/v1/db", app.url)).await.0, 200);

    proxy.cut().await;
    let (s, body) = status(c, &format!("{}/readyz", app.url)).await;
    assert_eq!(s, 503, "{body}");
    assert_eq!(body["error"]["code"], "NOT_READY");
    assert_eq!(
        body["error"]["details"]["services"][0]["storage"],
        "unavailable"
    );
    let (s, body) = status(c, &format!("{}/api/t/v1/db", app.url)).await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (503, Some("STORAGE_UNAVAILABLE")),
        "{body}"
    );
    // Liveness is not readiness.
    assert_eq!(status(c, &format!("{}/healthz", app.url)).await.0, 200);

    proxy.restore();
    testkit::eventually("storage back", Duration::from_secs(20), || async {
        status(c, &format!("{}/api/t/v1/db", app.url)).await.0 == 200
    })
    .await;
    assert_eq!(status(c, &format!("{}/readyz", app.url)).await.0, 200);
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bus_outage_degrades_keeps_events_and_recovers() {
    let Some(n) = TestNats::create().await else {
        return;
    };
    let proxy = CutProxy::start(testkit::url_addr(&n.url)).await;
    let via = testkit::url_via(&n.url, proxy.addr);
    let bus: Arc<dyn Bus> = Arc::new(
        NatsBus::connect(&via, "t", &n.stream, &n.prefix, Duration::from_secs(5))
            .await
            .unwrap(),
    );
    let (db, _guard) = testkit::sqlite_db("t", &[]).await;
    let app = start(Some(db.clone()), Some(bus), 10_000).await;
    let c = &app.client;
    let (s, body) = status(c, &format!("{}/readyz", app.url)).await;
    assert_eq!(
        (s, body["data"]["status"].as_str()),
        (200, Some("ready")),
        "{body}"
    );

    proxy.cut().await;
    let event = Event::new("t", "fault.test", &serde_json::json!({"n": 1})).unwrap();
    let mut tx = db.begin().await.unwrap();
    outbox::enqueue(&mut tx, &event).await.unwrap();
    tx.commit().await.unwrap();
    testkit::eventually("degraded", Duration::from_secs(15), || async {
        let (s, body) = status(c, &format!("{}/readyz", app.url)).await;
        s == 200
            && body["data"]["status"] == "degraded"
            && body["data"]["services"][0]["bus"] == "degraded"
    })
    .await;
    // The reason is said: the bus, how long, how many events wait.
    let (_, body) = status(c, &format!("{}/readyz", app.url)).await;
    let reason = &body["data"]["services"][0]["reasons"][0];
    assert_eq!(reason["component"], "bus", "{body}");
    assert_eq!(reason["level"], "degraded", "{body}");
    assert!(
        reason["reason"].as_str().unwrap().contains("nats bus"),
        "{body}"
    );
    let m = c
        .get(format!("{}/metrics", app.metrics_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(m.contains("kreki_bus_up{service=\"t\"} 0"), "{m}");
    assert_eq!(
        outbox::pending(&db).await.unwrap(),
        1,
        "the event waits in the outbox"
    );

    proxy.restore();
    testkit::eventually("outbox drained", Duration::from_secs(30), || async {
        outbox::pending(&db).await.unwrap() == 0
    })
    .await;
    testkit::eventually("ready again", Duration::from_secs(15), || async {
        status(c, &format!("{}/readyz", app.url)).await.1["data"]["status"] == "ready"
    })
    .await;
    // The event reached the stream.
    let direct = NatsBus::connect(
        &n.url,
        "check",
        &n.stream,
        &n.prefix,
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    let mut sub = direct.subscribe("checker", &["fault.>"]).await.unwrap();
    let d = tokio::time::timeout(Duration::from_secs(10), sub.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(d.event.id, event.id);
    n.cleanup().await;
}

/// With `bus.unready_after_s` set, a bus away that long takes the process out of the load
/// balancer: 503 `NOT_READY`, the bus named as the reason; back to ready when it returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_bus_makes_readiness_red_when_configured() {
    let Some(n) = TestNats::create().await else {
        return;
    };
    let proxy = CutProxy::start(testkit::url_addr(&n.url)).await;
    let via = testkit::url_via(&n.url, proxy.addr);
    let bus: Arc<dyn Bus> = Arc::new(
        NatsBus::connect(&via, "t", &n.stream, &n.prefix, Duration::from_secs(5))
            .await
            .unwrap(),
    );
    let (db, _guard) = testkit::sqlite_db("t", &[]).await;
    let mut config = kreki_platform::config::Config::default();
    config.bus.unready_after_s = 1;
    let app = start_configured(Some(db.clone()), Some(bus), 10_000, 0, config).await;
    let c = &app.client;
    assert_eq!(status(c, &format!("{}/readyz", app.url)).await.0, 200);

    proxy.cut().await;
    let event = Event::new("t", "fault.test", &serde_json::json!({"n": 2})).unwrap();
    let mut tx = db.begin().await.unwrap();
    outbox::enqueue(&mut tx, &event).await.unwrap();
    tx.commit().await.unwrap();
    testkit::eventually("not ready", Duration::from_secs(20), || async {
        let (s, body) = status(c, &format!("{}/readyz", app.url)).await;
        let reason = &body["error"]["details"]["services"][0]["reasons"][0];
        s == 503
            && body["error"]["code"] == "NOT_READY"
            && reason["component"] == "bus"
            && reason["level"] == "unavailable"
    })
    .await;
    // The per-service readiness says the same.
    assert_eq!(
        status(c, &format!("{}/api/t/v1/readyz", app.url)).await.0,
        503
    );

    proxy.restore();
    testkit::eventually("ready again", Duration::from_secs(30), || async {
        status(c, &format!("{}/readyz", app.url)).await.1["data"]["status"] == "ready"
    })
    .await;
    n.cleanup().await;
}

struct AlwaysRetry;

#[async_trait::async_trait]
impl Handler for AlwaysRetry {
    async fn handle(
        &self,
        _event: &Event,
        _tx: &mut Tx,
        _after: &mut AfterCommit,
    ) -> Result<(), HandleError> {
        Err(HandleError::Retry(anyhow::anyhow!("a dependency is down")))
    }
}

struct Accept;

#[async_trait::async_trait]
impl Handler for Accept {
    async fn handle(
        &self,
        _event: &Event,
        _tx: &mut Tx,
        _after: &mut AfterCommit,
    ) -> Result<(), HandleError> {
        Ok(())
    }
}

async fn stuck_consumer_reported(bus: Arc<dyn Bus>, db: Db) {
    let health = Arc::new(Health::new(Duration::from_secs(1)));
    let cancel = tokio_util::sync::CancellationToken::new();
    let group = |name: &str, subject: &str, handler: Arc<dyn Handler>| {
        let consumer = Consumer {
            service: "t",
            group: name.to_string(),
            subjects: vec![subject.to_string()],
            db: db.clone(),
            bus: bus.clone(),
            metrics: Arc::new(Metrics::new()),
            health: Some(health.clone()),
        };
        tokio::spawn(consumer.run(handler, cancel.clone()));
    };
    group("t-stuck", "stuck.>", Arc::new(AlwaysRetry));
    group("t-fine", "fine.>", Arc::new(Accept));
    for subject in ["stuck.one", "stuck.two", "fine.one"] {
        bus.publish(&Event::new("t", subject, &serde_json::json!({})).unwrap())
            .await
            .unwrap();
    }
    let probe = Probe {
        name: "t",
        db: db.clone(),
        bus: bus.clone(),
        relay: Arc::new(RelayState::default()),
        health: health.clone(),
        bus_unready_after: None,
    };
    testkit::eventually(
        "stuck consumer reported",
        Duration::from_secs(20),
        || async {
            let r = probe.check().await;
            r.status == "degraded"
                && r.reasons.iter().any(|c| {
                    c.component == "consumer" && c.reason.contains("consumer t-stuck is stuck")
                })
        },
    )
    .await;
    let r = probe.check().await;
    assert!(
        !r.reasons.iter().any(|c| c.reason.contains("t-fine")),
        "a consumer that keeps up is not reported: {:?}",
        r.reasons
    );
    // Still ready: a stuck consumer is reported, it does not take the replica out.
    assert_ne!(r.status, "unavailable");
    cancel.cancel();
}

/// A consumer whose handler fails every time, with events waiting, is reported by readiness
/// after `bus.consumer_stuck_s`; one that keeps up is not (embedded bus and NATS).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_consumer_is_reported_embedded() {
    let dir = TempDir::new();
    let bus_db = Db::open_sqlite(&dir.path().join("bus.db"), "bus")
        .await
        .unwrap();
    let bus: Arc<dyn Bus> = Arc::new(
        LocalBus::open(bus_db, Duration::from_secs(30))
            .await
            .unwrap(),
    );
    let (db, _guard) = testkit::sqlite_db("t", &[]).await;
    stuck_consumer_reported(bus, db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_consumer_is_reported_nats() {
    let Some(n) = TestNats::create().await else {
        return;
    };
    let bus: Arc<dyn Bus> = Arc::new(
        NatsBus::connect(&n.url, "t", &n.stream, &n.prefix, Duration::from_secs(30))
            .await
            .unwrap(),
    );
    let (db, _guard) = testkit::sqlite_db("t", &[]).await;
    stuck_consumer_reported(bus, db).await;
    n.cleanup().await;
}
