//! Outages, simulated by cutting a TCP proxy between the service and its server (the shared
//! servers are never stopped).

use std::{sync::Arc, time::Duration};

use kreki_platform::{
    bus::{Bus, Event, nats::NatsBus, outbox},
    storage::Db,
    testkit::{self, CutProxy, TestNats, TestPg},
};

use crate::http::start;

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
