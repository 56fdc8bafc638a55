//! The volunteers service with the other services in the same process (`kreki up`): dispatch
//! by the Emergency Core from the eligibility it publishes, and the demo accounts of KREKI ID.
//! The service's own HTTP tests are in `crates/volunteers/service/tests/volunteers/` (with
//! the platform harness, `cargo nextest run -p kreki-volunteers`).

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use base64::Engine;
use kreki_platform::{
    bus::{Bus, Event},
    config::{Config, Secret},
    testkit::{self, TempDir, TestNats, TestPg, TestSigner},
};
use serde_json::{Value, json};

use crate::up::ISSUER;

pub struct Vol {
    /// The API client (`call`, `get`, `put`, `post`), also reached through `Deref`.
    pub api: testkit::Api,
    pub url: String,
    pub client: reqwest::Client,
    pub signer: TestSigner,
    pub bus: Arc<dyn Bus>,
    running: Option<kreki::Running>,
    pub dir: TempDir,
    _pg: Option<TestPg>,
    nats: Option<TestNats>,
    /// Eligibility events seen on the bus, in order.
    pub published: Arc<Mutex<Vec<Value>>>,
}

impl Vol {
    pub async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            r.stop().await.unwrap();
        }
        if let Some(n) = &self.nats {
            n.cleanup().await;
        }
    }

    pub fn token(&self, sub: &str, roles: &[&str]) -> String {
        self.signer.token(ISSUER, sub, roles)
    }

    pub async fn publish(&self, subject: &str, source: &str, data: Value) -> Event {
        let e = Event::new(source, subject, &data).unwrap();
        self.bus.publish(&e).await.unwrap();
        e
    }

    /// Eligibility events published for `volunteer` so far.
    pub fn eligibility_of(&self, volunteer: &str) -> Vec<Value> {
        self.published
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e["volunteer_id"] == volunteer)
            .cloned()
            .collect()
    }

    pub async fn wait_eligibility(&self, volunteer: &str, what: &str, f: impl Fn(&Value) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        while !self.eligibility_of(volunteer).last().is_some_and(&f) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for: {what}; published: {:?}",
                self.eligibility_of(volunteer)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Watch `volunteers.eligibility.changed` on the bus with a consumer group of the test.
async fn watch(bus: Arc<dyn Bus>) -> Arc<Mutex<Vec<Value>>> {
    let seen: Arc<Mutex<Vec<Value>>> = Arc::default();
    collect(
        bus,
        "test-eligibility-watch",
        "volunteers.eligibility.changed",
        seen.clone(),
    )
    .await;
    seen
}

/// Collect every event of `subject` into `seen` (a consumer group of the test; transient bus
/// errors are retried, as the platform's consumer runner does).
async fn collect(
    bus: Arc<dyn Bus>,
    group: &'static str,
    subject: &'static str,
    seen: Arc<Mutex<Vec<Value>>>,
) {
    let mut sub = bus.subscribe(group, &[subject]).await.unwrap();
    tokio::spawn(async move {
        loop {
            match sub.next().await {
                Some(Ok(d)) => {
                    seen.lock().unwrap().push(d.event.data.clone());
                    let _ = d.acker.ack().await;
                }
                Some(Err(_)) => tokio::time::sleep(Duration::from_millis(100)).await,
                None => match bus.subscribe(group, &[subject]).await {
                    Ok(s) => sub = s,
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                },
            }
        }
    });
}

fn base_config(dir: &TempDir, jwks: String) -> Config {
    let mut cfg = Config {
        data_dir: dir.path().join("data"),
        ..Config::default()
    };
    cfg.http.port = Some(0);
    cfg.auth.jwks_url = Some(jwks);
    cfg.auth.issuer = Some(ISSUER.into());
    cfg.notify.insert(
        "console_file".into(),
        dir.path()
            .join("console.jsonl")
            .display()
            .to_string()
            .into(),
    );
    // Explicitly: outside the demo the console channel is off unless configured.
    cfg.notify.insert("console".into(), "on".into());
    cfg
}

/// `kreki up` (every service, SQLite) or `kreki serve volunteers` (PostgreSQL + NATS).
/// `None` only outside CI when a server is missing.
pub async fn start(postgres: bool) -> Option<Vol> {
    let dir = TempDir::new();
    let signer = TestSigner::new("test-key");
    let jwks = testkit::serve_jwks(signer.jwks()).await;
    let mut cfg = base_config(&dir, jwks);
    let (running, pg, nats) = if postgres {
        let nats = TestNats::create().await?;
        let pg = TestPg::create().await?;
        cfg.database_url = Some(Secret::new(pg.url.clone()));
        cfg.bus.url = Some(Secret::new(nats.url.clone()));
        cfg.bus.stream = nats.stream.clone();
        cfg.bus.subject_prefix = nats.prefix.clone();
        (
            kreki::serve_one(cfg, "volunteers").await.unwrap(),
            Some(pg),
            Some(nats),
        )
    } else {
        (kreki::up(cfg, None).await.unwrap(), None, None)
    };
    let published = watch(running.bus.clone()).await;
    let url = format!("http://{}", running.addr);
    let client = reqwest::Client::new();
    Some(Vol {
        api: testkit::Api::new(client.clone(), format!("{url}/api/volunteers/v1")),
        url,
        client,
        signer,
        bus: running.bus.clone(),
        running: Some(running),
        dir,
        _pg: pg,
        nats,
        published,
    })
}

pub fn profile_body(name: &str, city: &str, background: &str, str_no: Option<&str>) -> Value {
    json!({
        "display_name": name,
        "phone": "0812 3456 7890",
        "province_code": &city[..2],
        "city_code": city,
        "languages": ["id", "EN"],
        "skills": ["cpr", "first_aid"],
        "background": background,
        "registration_number": str_no,
        "emergency_contact": {"name": "Ibu Sari", "phone": "+6281300000001", "relationship": "ibu"},
        "location_consent": true
    })
}

const PDF: &[u8] =
    b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

pub fn pdf_doc(kind: &str) -> Value {
    json!({
        "kind": kind, "filename": "ktp.pdf", "content_type": "application/pdf",
        "content_base64": base64::engine::general_purpose::STANDARD.encode(PDF),
    })
}

/// Create a profile, upload a document, submit, and have Ops approve it.
pub async fn verified_volunteer(v: &Vol, sub: &str, city: &str) -> String {
    let tok = v.token(sub, &["volunteer"]);
    let (s, b) = v
        .put("/me", &tok, profile_body(sub, city, "lay", None))
        .await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(v.post("/me/documents", &tok, pdf_doc("ktp")).await.0, 201);
    assert_eq!(v.post("/me/submit", &tok, json!({})).await.0, 200);
    let ops = v.token("ops-1", &["ops_admin"]);
    let (s, b) = v
        .put(
            &format!("/volunteers/{sub}/verification"),
            &ops,
            json!({"decision": "approve"}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    tok
}

fn cert(id: &str, holder: &str, level: &str, until: &str) -> Value {
    json!({"certificate_id": id, "holder_id": holder, "level": level, "valid_until": until})
}

// ---- With the Emergency Core in the same process (`kreki up`) ----

const CENTER: (f64, f64) = (-6.2088, 106.8456);

fn north(m: f64) -> (f64, f64) {
    (CENTER.0 + m / 111_195.0, CENTER.1)
}

async fn emergency(
    v: &Vol,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Value,
) -> (u16, Value) {
    let res = v
        .client
        .request(method, format!("{}/api/emergency/v1{path}", v.url))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let s = res.status().as_u16();
    (s, res.json().await.unwrap_or(Value::Null))
}

async fn has_offer(v: &Vol, token: &str, case: &str) -> bool {
    let res = v
        .client
        .get(format!("{}/api/emergency/v1/offers/mine", v.url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let b: Value = res.json().await.unwrap();
    b["data"]
        .as_array()
        .is_some_and(|a| a.iter().any(|o| o["case_id"] == case))
}

/// The Emergency Core's copy of a volunteer's eligibility: (verified, cert_level, version).
async fn emergency_copy(v: &Vol, volunteer: &str) -> Option<(i64, String, i64)> {
    use sqlx::Row;
    let path = v.dir.path().join("data/emergency.db");
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect(&format!("sqlite://{}?mode=ro", path.display()))
        .await
        .ok()?;
    let row =
        sqlx::query("SELECT verified, cert_level, version FROM eligibility WHERE volunteer_id = ?")
            .bind(volunteer)
            .fetch_optional(&pool)
            .await
            .ok()??;
    pool.close().await;
    Some((row.get(0), row.get(1), row.get(2)))
}

/// The certificate is the dispatch filter: with the real volunteers service publishing
/// eligibility and an `lms.certificate.issued` on the bus for one of two verified volunteers,
/// only the certified one is offered a critical cardiac arrest, although the other is nearer.
/// The responder's accept and statuses are published as `emergency.responder.status` and
/// become points.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn critical_case_offered_only_to_the_certified_and_responder_statuses_become_points() {
    let v = start(false).await.unwrap();
    let statuses: Arc<Mutex<Vec<Value>>> = Arc::default();
    collect(
        v.bus.clone(),
        "test-responder-watch",
        "emergency.responder.status",
        statuses.clone(),
    )
    .await;
    let certified = verified_volunteer(&v, "vol-certified", "3171").await;
    let uncertified = verified_volunteer(&v, "vol-uncertified", "3171").await;
    v.publish(
        "lms.certificate.issued",
        "lms",
        cert(
            "BHD-BASIC-2026-0042",
            "vol-certified",
            "basic",
            "2030-01-01T00:00:00Z",
        ),
    )
    .await;
    v.wait_eligibility("vol-certified", "certified eligibility", |e| {
        e["verified"] == true && e["cert_level"] == "basic"
    })
    .await;
    v.wait_eligibility("vol-uncertified", "uncertified eligibility", |e| {
        e["verified"] == true && e["cert_level"] == "none"
    })
    .await;
    let want = v.eligibility_of("vol-certified").last().unwrap()["version"]
        .as_i64()
        .unwrap();
    testkit::eventually(
        "the Emergency Core has both copies",
        Duration::from_secs(15),
        || async {
            emergency_copy(&v, "vol-certified").await == Some((1, "basic".into(), want))
                && emergency_copy(&v, "vol-uncertified")
                    .await
                    .is_some_and(|c| c.0 == 1 && c.1 == "none")
        },
    )
    .await;
    for (tok, at) in [(&uncertified, north(100.0)), (&certified, north(400.0))] {
        let (s, b) = emergency(
            &v,
            reqwest::Method::PUT,
            "/presence",
            tok,
            json!({"on_duty": true, "latitude": at.0, "longitude": at.1}),
        )
        .await;
        assert_eq!(
            (s, b["data"]["dispatchable"].as_bool()),
            (200, Some(true)),
            "{b}"
        );
    }
    let res = v
        .client
        .post(format!("{}/api/emergency/v1/panic", v.url))
        .json(&json!({"latitude": CENTER.0, "longitude": CENTER.1, "severity": "critical", "type": "cardiac_arrest", "caller_phone": "081234567890"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    let id = created["data"]["id"].as_str().unwrap().to_string();
    testkit::eventually(
        "offer to the certified volunteer",
        Duration::from_secs(10),
        || async { has_offer(&v, &certified, &id).await },
    )
    .await;
    assert!(
        !has_offer(&v, &uncertified, &id).await,
        "the uncertified volunteer is never offered a critical case"
    );

    // Accept, arrive, resolve, complete: published statuses become points.
    let (s, b) = emergency(
        &v,
        reqwest::Method::PUT,
        &format!("/{id}/respond"),
        &certified,
        json!({"action": "accept"}),
    )
    .await;
    assert_eq!((s, b["data"]["role"].as_str()), (200, Some("lead")), "{b}");
    for st in ["arrived", "resolved"] {
        let (s, b) = emergency(
            &v,
            reqwest::Method::PUT,
            &format!("/{id}/status"),
            &certified,
            json!({"status": st}),
        )
        .await;
        assert_eq!(s, 200, "{b}");
    }
    let (s, b) = emergency(
        &v,
        reqwest::Method::PUT,
        &format!("/{id}/complete"),
        &certified,
        json!({"outcome": "recovered_on_scene"}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    testkit::eventually(
        "three responder statuses on the bus",
        Duration::from_secs(10),
        || {
            let n = statuses.lock().unwrap().len();
            async move { n >= 3 }
        },
    )
    .await;
    let seen: Vec<(String, String, String)> = statuses
        .lock()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["case_id"].as_str().unwrap().into(),
                e["volunteer_id"].as_str().unwrap().into(),
                e["status"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        ["accepted", "arrived", "resolved"].map(|s| (
            id.clone(),
            "vol-certified".to_string(),
            s.to_string()
        ))
    );
    assert!(
        statuses
            .lock()
            .unwrap()
            .iter()
            .all(|e| e["at"].as_str().is_some_and(|t| t.ends_with('Z')))
    );
    testkit::eventually(
        "points from the Emergency Core",
        Duration::from_secs(10),
        || async { v.get("/me/stats", &certified).await.1["data"]["points"] == 90 },
    )
    .await;
    let (_, st) = v.get("/me/stats", &certified).await;
    assert_eq!(
        st["data"]["cases"],
        json!({"accepted": 1, "arrived": 1, "resolved": 1, "completed": 1})
    );
    v.stop().await;
}

/// `kreki up --demo`: the demo volunteer and lead accounts of KREKI ID get verified profiles
/// in Jakarta Pusat; the volunteer (a nurse with an STR) is dispatchable by the Emergency Core.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_accounts_have_verified_profiles() {
    use kreki_platform::service::{DemoSettings, DemoSim};
    let app = crate::up::start_up_full(
        None,
        |cfg: &mut Config| {
            cfg.auth.jwks_url = None;
            cfg.auth.issuer = None;
            cfg.identity.insert("argon2_memory_kib".into(), 8192.into());
            cfg.identity.insert("argon2_iterations".into(), 1.into());
        },
        Some(DemoSettings { sim: DemoSim::Off }),
    )
    .await;
    let login = |email: &'static str| {
        let (client, url) = (app.client.clone(), app.url.clone());
        async move {
            let v: Value = client
                .post(format!("{url}/api/auth/v1/login"))
                .json(&json!({"identifier": email, "password": "Demo-Kreki-119!"}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            v["data"]["accessToken"].as_str().unwrap().to_string()
        }
    };
    let (relawan, ketua) = (
        login("relawan@demo.kreki.id").await,
        login("ketua@demo.kreki.id").await,
    );
    let me = |tok: String| {
        let (client, url) = (app.client.clone(), app.url.clone());
        async move {
            let res = client
                .get(format!("{url}/api/volunteers/v1/me"))
                .bearer_auth(tok)
                .send()
                .await
                .unwrap();
            let v: Value = res.json().await.unwrap();
            v["data"].clone()
        }
    };
    testkit::eventually("demo profiles", Duration::from_secs(15), || async {
        me(relawan.clone()).await["verification_state"] == "verified"
            && me(ketua.clone()).await["verification_state"] == "verified"
    })
    .await;
    let p = me(relawan.clone()).await;
    assert_eq!(
        (
            p["display_name"].as_str(),
            p["city_code"].as_str(),
            p["background"].as_str()
        ),
        (Some("Budi Relawan"), Some("3171"), Some("nurse"))
    );
    assert_eq!(p["eligibility"]["health_professional"], true);
    assert_eq!(p["schedule"]["timezone"], "Asia/Jakarta");
    // The demo lead sees the demo volunteer in the area's list.
    let list: Value = app
        .client
        .get(format!(
            "{}/api/volunteers/v1/volunteers?state=verified",
            app.url
        ))
        .bearer_auth(&ketua)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["display_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Budi Relawan", "Dewi Ketua Tim"]);
    // The Emergency Core got the eligibility: on duty, the demo volunteer is dispatchable.
    testkit::eventually("dispatchable", Duration::from_secs(15), || async {
        let res = app
            .client
            .put(format!("{}/api/emergency/v1/presence", app.url))
            .bearer_auth(&relawan)
            .json(&json!({"on_duty": true, "latitude": -6.1754, "longitude": 106.8272}))
            .send()
            .await
            .unwrap();
        let v: Value = res.json().await.unwrap();
        v["data"]["dispatchable"] == true
    })
    .await;
    app.stop().await;
}

impl std::ops::Deref for Vol {
    type Target = testkit::Api;
    fn deref(&self) -> &testkit::Api {
        &self.api
    }
}
