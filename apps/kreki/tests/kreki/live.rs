//! Live sockets: tickets, offers over the socket, case updates to the caller and Ops,
//! positions, malformed frames, and fallback to notify when the volunteer's socket is gone.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use kreki_platform::testkit;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::up::{ISSUER, UpApp, console_lines, start_up};

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn ticket(app: &UpApp, token: &str) -> (u16, Value) {
    let res = app
        .client
        .post(format!("{}/api/emergency/v1/ws-ticket", app.url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

async fn connect(app: &UpApp) -> Ws {
    let url = format!(
        "{}/api/emergency/v1/ws",
        app.url.replace("http://", "ws://")
    );
    tokio_tungstenite::connect_async(url).await.unwrap().0
}

pub async fn next_json(ws: &mut Ws) -> Value {
    loop {
        let m = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("socket message in time")
            .expect("open")
            .unwrap();
        if let Message::Text(t) = m {
            return serde_json::from_str(&t).unwrap();
        }
    }
}

/// Wait for a message of `kind` (skipping others).
async fn wait_for(ws: &mut Ws, kind: &str) -> Value {
    loop {
        let v = next_json(ws).await;
        if v["type"] == kind {
            return v;
        }
    }
}

async fn open(app: &UpApp, token: &str) -> Ws {
    let (s, t) = ticket(app, token).await;
    assert_eq!(s, 200, "{t}");
    let mut ws = connect(app).await;
    ws.send(Message::Text(
        json!({"type": "auth", "ticket": t["data"]["ticket"]})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    let ready = next_json(&mut ws).await;
    assert_eq!(
        (ready["type"].as_str(), ready["role"].as_str()),
        (Some("ready"), t["data"]["role"].as_str())
    );
    ws
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offers_updates_positions_over_sockets() {
    let app = start_up(None).await;
    let vol = app.signer.token(ISSUER, "vol-ws", &["volunteer"]);
    let ops = app.signer.token(ISSUER, "ops-ws", &["ops_admin"]);
    let ev = kreki_platform::bus::Event::new(
        "volunteers",
        "volunteers.eligibility.changed",
        &json!({"volunteer_id": "vol-ws", "verified": true, "cert_level": "plus", "cert_valid_until": "2030-01-01T00:00:00Z",
                "health_professional": false, "skills": [], "schedule": {}, "version": 1}),
    )
    .unwrap();
    app.running
        .as_ref()
        .unwrap()
        .bus
        .publish(&ev)
        .await
        .unwrap();
    let presence = || {
        app.client
            .put(format!("{}/api/emergency/v1/presence", app.url))
            .bearer_auth(&vol)
            .json(&json!({"on_duty": true, "latitude": -6.2, "longitude": 106.8}))
            .send()
    };
    testkit::eventually("dispatchable", Duration::from_secs(10), || async {
        presence().await.unwrap().json::<Value>().await.unwrap()["data"]["dispatchable"] == true
    })
    .await;

    // No ticket, a wrong one, a reused one: refused.
    let mut bad = connect(&app).await;
    bad.send(Message::Text(
        json!({"type": "auth", "ticket": "nope"}).to_string().into(),
    ))
    .await
    .unwrap();
    let e = next_json(&mut bad).await;
    assert_eq!(
        (e["type"].as_str(), e["code"].as_str(), e["fatal"].as_bool()),
        (Some("error"), Some("WS_AUTH_REQUIRED"), Some(true))
    );
    let (_, t) = ticket(&app, &vol).await;
    let auth = json!({"type": "auth", "ticket": t["data"]["ticket"]}).to_string();
    let mut first = connect(&app).await;
    first
        .send(Message::Text(auth.clone().into()))
        .await
        .unwrap();
    assert_eq!(next_json(&mut first).await["type"], "ready");
    let mut reuse = connect(&app).await;
    reuse.send(Message::Text(auth.into())).await.unwrap();
    assert_eq!(next_json(&mut reuse).await["code"], "WS_AUTH_REQUIRED");
    drop(first);

    let mut vws = open(&app, &vol).await;
    let mut ows = open(&app, &ops).await;
    // Malformed frames are answered, the socket stays.
    vws.send(Message::Text("{not json".into())).await.unwrap();
    assert_eq!(next_json(&mut vws).await["code"], "WS_MALFORMED_FRAME");
    vws.send(Message::Text(json!({"type": "ping"}).to_string().into()))
        .await
        .unwrap();
    assert_eq!(next_json(&mut vws).await["type"], "pong");

    // A panic: the offer arrives over the socket, not through notify.
    let res = app
        .client
        .post(format!("{}/api/emergency/v1/panic", app.url))
        .json(&json!({"latitude": -6.201, "longitude": 106.8, "severity": "critical", "type": "choking", "caller_phone": "081277777777"}))
        .send()
        .await
        .unwrap();
    let created: Value = res.json().await.unwrap();
    let id = created["data"]["id"].as_str().unwrap().to_string();
    let caller = created["data"]["caller_token"]
        .as_str()
        .unwrap()
        .to_string();
    let offer = wait_for(&mut vws, "offer").await;
    assert_eq!(
        (offer["case_id"].as_str(), offer["case_type"].as_str()),
        (Some(id.as_str()), Some("choking"))
    );
    assert!(offer.get("handshake_code").is_none());
    let mut cws = open(&app, &caller).await;
    let update = wait_for(&mut cws, "case_update").await;
    assert_eq!(
        (update["status"].as_str(), update["alerted"].as_u64()),
        (Some("pending"), Some(1))
    );
    // Accept over HTTP: the caller and Ops see the team.
    let res = app
        .client
        .put(format!("{}/api/emergency/v1/{id}/respond", app.url))
        .bearer_auth(&vol)
        .json(&json!({"action": "accept", "eta_minutes": 3}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let update = loop {
        let u = wait_for(&mut cws, "case_update").await;
        if u["status"] == "assigned" {
            break u;
        }
    };
    assert_eq!(
        (
            update["team"][0]["volunteer_id"].as_str(),
            update["team"][0]["is_lead"].as_bool()
        ),
        (Some("vol-ws"), Some(true))
    );
    assert_eq!(update["team"][0]["eta_minutes"], 3);
    loop {
        let u = wait_for(&mut ows, "case_update").await;
        if u["status"] == "assigned" {
            break;
        }
    }
    // Positions stream to Ops.
    vws.send(Message::Text(
        json!({"type": "location", "latitude": -6.2005, "longitude": 106.8})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    let pos = wait_for(&mut ows, "position").await;
    assert_eq!(
        (pos["volunteer_id"].as_str(), pos["latitude"].as_f64()),
        (Some("vol-ws"), Some(-6.2005))
    );
    assert!(
        !console_lines(&app.console)
            .iter()
            .any(|l| l["message"]["to"] == "account:vol-ws"
                && l["message"]["priority"] == "critical")
    );

    // The volunteer is done here (a volunteer still responding is offered no other case)…
    let res = app
        .client
        .put(format!("{}/api/emergency/v1/{id}/status", app.url))
        .bearer_auth(&vol)
        .json(&json!({"status": "resolved"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // … and their socket goes away mid-shift: the next offer goes through notify.
    drop(vws);
    tokio::time::sleep(Duration::from_millis(200)).await;
    app.client
        .post(format!("{}/api/emergency/v1/panic", app.url))
        .json(&json!({"latitude": -6.2, "longitude": 106.801, "severity": "critical", "type": "bleeding", "caller_phone": "081288888888"}))
        .send()
        .await
        .unwrap();
    let console = app.console.clone();
    testkit::eventually("offer through notify", Duration::from_secs(10), || {
        let console = console.clone();
        async move {
            console_lines(&console).iter().any(|l| {
                l["message"]["to"] == "account:vol-ws" && l["message"]["priority"] == "critical"
            })
        }
    })
    .await;
    app.stop().await;
}
