//! The panic path without NATS: `kreki serve emergency` started while the bus is cut (a TCP
//! proxy the test owns; the shared NATS server is never stopped) takes a panic, offers it
//! over the socket of a volunteer connected to it, shows Ops the cases waiting in the
//! outbox, and relays every waiting event exactly once when the bus comes back.

use std::{collections::HashMap, process::Command, time::Duration};

use futures::{SinkExt, StreamExt};
use kreki_platform::{
    bus::{Bus, Event, nats::NatsBus},
    testkit::{self, CutProxy, TestNats, TestPg, TestSigner},
};
use serde_json::{Value, json};
use sqlx::Row;
use tokio_tungstenite::tungstenite::Message;

use crate::{processes::spawn, up::ISSUER};

async fn next_of(
    ws: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    kind: &str,
) -> Value {
    loop {
        let m = tokio::time::timeout(Duration::from_secs(15), ws.next())
            .await
            .expect("socket message in time")
            .expect("open")
            .unwrap();
        if let Message::Text(t) = m {
            let v: Value = serde_json::from_str(&t).unwrap();
            if v["type"] == kind {
                return v;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panic_path_survives_a_nats_outage_from_the_start() {
    let Some(pg) = TestPg::create().await else {
        return;
    };
    let Some(nats) = TestNats::create().await else {
        return;
    };
    let proxy = CutProxy::start(testkit::url_addr(&nats.url)).await;
    let via = testkit::url_via(&nats.url, proxy.addr);
    let signer = TestSigner::new("k");
    let jwks = testkit::serve_jwks(signer.jwks()).await;
    let client = reqwest::Client::new();
    let start = || {
        let mut c = Command::new(env!("CARGO_BIN_EXE_kreki"));
        c.env("KREKI_HTTP__METRICS_PORT", "0")
            .args([
                "serve",
                "emergency",
                "--port",
                "0",
                "--database-url",
                &pg.url,
                "--bus-url",
                &via,
            ])
            .env("KREKI_BUS__STREAM", &nats.stream)
            .env("KREKI_BUS__SUBJECT_PREFIX", &nats.prefix)
            .env("KREKI_AUTH__JWKS_URL", &jwks)
            .env("KREKI_AUTH__ISSUER", ISSUER)
            .env("KREKI_EMERGENCY__ESCALATE_CRITICAL_S", "1")
            .env("KREKI_LOG__LEVEL", "error")
            .env("KREKI_HTTP__RATE_LIMIT_PER_MINUTE", "100000");
        spawn(c)
    };
    let vol = signer.token(ISSUER, "vol-outage", &["volunteer"]);
    let ops = signer.token(ISSUER, "ops-outage", &["ops_admin"]);
    let direct = NatsBus::connect(
        &nats.url,
        "test",
        &nats.stream,
        &nats.prefix,
        Duration::from_secs(5),
    )
    .await
    .unwrap();

    // Before the outage the volunteer became eligible (an event from the volunteers service).
    {
        let p = start();
        let ev = Event::new(
            "volunteers",
            "volunteers.eligibility.changed",
            &json!({"volunteer_id": "vol-outage", "verified": true, "cert_level": "plus",
                    "cert_valid_until": "2030-01-01T00:00:00Z", "health_professional": false,
                    "skills": [], "schedule": {}, "version": 1}),
        )
        .unwrap();
        direct.publish(&ev).await.unwrap();
        testkit::eventually("eligible", Duration::from_secs(20), || async {
            let r = client
                .put(format!("{}/api/emergency/v1/presence", p.url))
                .bearer_auth(&vol)
                .json(&json!({"on_duty": true, "latitude": -6.2, "longitude": 106.8}))
                .send()
                .await
                .unwrap();
            r.json::<Value>().await.unwrap()["data"]["dispatchable"] == true
        })
        .await;
    }

    // The bus is cut, then the process starts: it serves, and says why it is degraded.
    proxy.cut().await;
    let p = start();
    let r: Value = client
        .get(format!("{}/readyz", p.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["data"]["status"], "degraded", "{r}");
    assert_eq!(r["data"]["services"][0]["reasons"][0]["component"], "bus");
    let r = client
        .put(format!("{}/api/emergency/v1/presence", p.url))
        .bearer_auth(&vol)
        .json(&json!({"on_duty": true, "latitude": -6.2, "longitude": 106.8}))
        .send()
        .await
        .unwrap();
    let presence: Value = r.json().await.unwrap();
    assert_eq!(presence["data"]["dispatchable"], true, "{presence}");
    let t: Value = client
        .post(format!("{}/api/emergency/v1/ws-ticket", p.url))
        .bearer_auth(&vol)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (mut ws, _) = tokio_tungstenite::connect_async(format!(
        "{}/api/emergency/v1/ws",
        p.url.replace("http://", "ws://")
    ))
    .await
    .unwrap();
    ws.send(Message::Text(
        json!({"type": "auth", "ticket": t["data"]["ticket"]})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    next_of(&mut ws, "ready").await;

    // A panic: acknowledged, and offered over the socket while NATS is away.
    let res = client
        .post(format!("{}/api/emergency/v1/panic", p.url))
        .json(
            &json!({"latitude": -6.201, "longitude": 106.8, "severity": "critical",
                      "type": "cardiac_arrest", "caller_phone": "081277770000"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    let case_id = created["data"]["id"].as_str().unwrap().to_string();
    let offer = next_of(&mut ws, "offer").await;
    assert_eq!(offer["case_id"], case_id.as_str());

    // Nobody accepts: the case escalates to PSC 119, which waits in the outbox; Ops sees it.
    let alarm = || async {
        client
            .get(format!("{}/api/emergency/v1/ops/outbox", p.url))
            .bearer_auth(&ops)
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    };
    testkit::eventually(
        "Ops alarm lists the case",
        Duration::from_secs(30),
        || async {
            let a = alarm().await;
            a["data"]["alarm"] == true
                && a["data"]["cases"].as_array().is_some_and(|c| {
                    c.iter().any(|c| {
                        c["case_id"] == case_id.as_str() && c["escalation_waiting"] == true
                    })
                })
        },
    )
    .await;
    let r = client
        .get(format!("{}/api/emergency/v1/ops/outbox", p.url))
        .bearer_auth(&vol)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "Ops only");
    // What waits, read from the service's database.
    let db = sqlx::PgPool::connect(&pg.url).await.unwrap();
    let waiting: Vec<String> = sqlx::query("SELECT id FROM outbox ORDER BY seq")
        .fetch_all(&db)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<String, _>(0))
        .collect();
    assert!(!waiting.is_empty());

    // The bus comes back: the outbox drains, every waiting event is on the stream once.
    proxy.restore();
    testkit::eventually("outbox relayed", Duration::from_secs(60), || async {
        let n: i64 = sqlx::query("SELECT COUNT(*) FROM outbox")
            .fetch_one(&db)
            .await
            .unwrap()
            .get(0);
        n == 0
    })
    .await;
    let mut sub = direct.subscribe("outage-check", &[">"]).await.unwrap();
    let mut seen: HashMap<String, u32> = HashMap::new();
    while let Ok(Some(Ok(d))) = tokio::time::timeout(Duration::from_secs(3), sub.next()).await {
        *seen.entry(d.event.id.clone()).or_default() += 1;
        d.acker.ack().await.unwrap();
    }
    for id in &waiting {
        assert_eq!(seen.get(id), Some(&1), "event {id} relayed exactly once");
    }
    let a = alarm().await;
    assert_eq!(a["data"]["alarm"], false, "{a}");
    testkit::eventually("ready again", Duration::from_secs(30), || async {
        client
            .get(format!("{}/readyz", p.url))
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()["data"]["status"]
            == "ready"
    })
    .await;
    db.close().await;
    nats.cleanup().await;
}
