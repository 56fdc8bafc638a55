//! Volunteers service over HTTP, on both stores: `kreki up` (SQLite, embedded bus) and
//! `kreki serve volunteers` (PostgreSQL, NATS JetStream). Events of other services (LMS
//! certificates, Emergency Core statuses) are published on the same bus the service reads.

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

    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut r = self
            .client
            .request(method, format!("{}/api/volunteers/v1{path}", self.url));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        let res = r.send().await.unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, Some(token), None)
            .await
    }
    pub async fn put(&self, path: &str, token: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::PUT, path, Some(token), Some(body))
            .await
    }
    pub async fn post(&self, path: &str, token: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, Some(token), Some(body))
            .await
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
    Some(Vol {
        url: format!("http://{}", running.addr),
        client: reqwest::Client::new(),
        signer,
        bus: running.bus.clone(),
        running: Some(running),
        dir,
        _pg: pg,
        nats,
        published,
    })
}

macro_rules! both_stores {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let v = super::start(false).await.unwrap();
                super::$name(&v).await;
                v.stop().await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(v) = super::start(true).await else {
                    return;
                };
                super::$name(&v).await;
                v.stop().await;
            }
        }
    };
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

fn code(b: &Value) -> Option<&str> {
    b["error"]["code"].as_str()
}

async fn profile_documents_verification_schedule(v: &Vol) {
    let me = "vol-nurse";
    let tok = v.token(me, &["volunteer"]);
    // Who may call.
    let (s, b) = v.call(reqwest::Method::GET, "/me", None, None).await;
    assert_eq!((s, code(&b)), (401, Some("AUTH_TOKEN_MISSING")));
    let (s, b) = v.get("/me", &v.token("warga", &["public"])).await;
    assert_eq!((s, code(&b)), (403, Some("AUTH_FORBIDDEN")));
    let (s, b) = v.get("/me", &tok).await;
    assert_eq!((s, code(&b)), (404, Some("VOLUNTEERS_PROFILE_NOT_FOUND")));

    // Bad input: stable codes, nothing stored.
    let good = profile_body("Sari Perawat", "3171", "nurse", Some("str-3171-0001"));
    for (field, value, status, want) in [
        ("phone", json!("12ab"), 422, "VOLUNTEERS_PHONE_INVALID"),
        ("city_code", json!("3273"), 422, "VOLUNTEERS_AREA_INVALID"),
        ("province_code", json!("99"), 422, "VOLUNTEERS_AREA_INVALID"),
        ("city_code", json!("3100"), 422, "VOLUNTEERS_AREA_INVALID"),
        ("skills", json!(["CPR!"]), 422, "VOLUNTEERS_SKILL_INVALID"),
        (
            "languages",
            json!(["indonesian"]),
            422,
            "VOLUNTEERS_LANGUAGE_INVALID",
        ),
        ("background", json!("wizard"), 422, "VALIDATION_FAILED"),
        (
            "registration_number",
            json!("x"),
            422,
            "VOLUNTEERS_REGISTRATION_INVALID",
        ),
        ("display_name", json!("  "), 422, "VALIDATION_FAILED"),
        (
            "nik",
            json!("3171234567890123"),
            422,
            "VALIDATION_UNKNOWN_FIELD",
        ),
        (
            "emergency_contact",
            json!({"name": "Sendiri", "phone": "081234567890"}),
            422,
            "VOLUNTEERS_EMERGENCY_CONTACT_INVALID",
        ),
    ] {
        let mut body = good.clone();
        body[field] = value;
        let (s, b) = v.put("/me", &tok, body).await;
        assert_eq!((s, code(&b)), (status, Some(want)), "{field}: {b}");
    }
    let res = v
        .client
        .put(format!("{}/api/volunteers/v1/me", v.url))
        .bearer_auth(&tok)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(v.get("/me", &tok).await.0, 404, "nothing stored");

    // Create, then update.
    let (s, b) = v.put("/me", &tok, good.clone()).await;
    assert_eq!(s, 201, "{b}");
    let p = &b["data"];
    assert_eq!(p["volunteer_id"], me);
    assert_eq!(p["phone"], "+6281234567890");
    assert_eq!(p["languages"], json!(["en", "id"]));
    assert_eq!(p["registration_number"], "STR-3171-0001");
    assert_eq!(p["verification_state"], "draft");
    assert_eq!(p["certification"]["level"], "none");
    let consent_at = p["location_consent_at"].as_str().unwrap().to_string();
    let mut renamed = good.clone();
    renamed["display_name"] = json!("Sari Perawati");
    let (s, b) = v.put("/me", &tok, renamed.clone()).await;
    assert_eq!(
        (s, b["data"]["display_name"].as_str()),
        (200, Some("Sari Perawati"))
    );
    assert_eq!(
        b["data"]["location_consent_at"],
        consent_at.as_str(),
        "consent time kept"
    );
    let mut bad = renamed.clone();
    bad["city_code"] = json!("9999");
    assert_eq!(v.put("/me", &tok, bad).await.0, 422);
    assert_eq!(
        v.get("/me", &tok).await.1["data"]["city_code"],
        "3171",
        "data intact"
    );
    let mut withdrawn = renamed.clone();
    withdrawn["location_consent"] = json!(false);
    let (_, b) = v.put("/me", &tok, withdrawn).await;
    assert!(b["data"].get("location_consent_at").is_none());
    let (_, b) = v.put("/me", &tok, renamed.clone()).await;
    assert!(b["data"]["location_consent_at"].is_string());

    // Documents.
    let (s, b) = v.post("/me/submit", &tok, json!({})).await;
    assert_eq!((s, code(&b)), (422, Some("VOLUNTEERS_DOCUMENTS_MISSING")));
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    for (body, status, want) in [
        (
            json!({"kind": "passport", "filename": "a.pdf", "content_type": "application/pdf", "content_base64": b64(PDF)}),
            422,
            "VOLUNTEERS_DOCUMENT_INVALID",
        ),
        (
            json!({"kind": "ktp", "filename": "a.gif", "content_type": "image/gif", "content_base64": b64(PDF)}),
            422,
            "VOLUNTEERS_DOCUMENT_INVALID",
        ),
        (
            json!({"kind": "ktp", "filename": "a.png", "content_type": "image/png", "content_base64": b64(PDF)}),
            422,
            "VOLUNTEERS_DOCUMENT_INVALID",
        ),
        (
            json!({"kind": "ktp", "filename": "../etc/passwd", "content_type": "application/pdf", "content_base64": b64(PDF)}),
            422,
            "VOLUNTEERS_DOCUMENT_INVALID",
        ),
        (
            json!({"kind": "ktp", "filename": "a.pdf", "content_type": "application/pdf", "content_base64": "%%%"}),
            422,
            "VOLUNTEERS_DOCUMENT_INVALID",
        ),
        (
            json!({"kind": "ktp", "filename": "a.pdf", "content_type": "application/pdf", "content_base64": b64(&[b"%PDF-".as_slice(), &vec![b'x'; 170 * 1024]].concat())}),
            413,
            "VOLUNTEERS_DOCUMENT_TOO_LARGE",
        ),
    ] {
        let (s, b) = v.post("/me/documents", &tok, body).await;
        assert_eq!((s, code(&b)), (status, Some(want)), "{b}");
    }
    let (s, b) = v.post("/me/documents", &tok, pdf_doc("str")).await;
    assert_eq!(s, 201, "{b}");
    let doc = b["data"].clone();
    assert_eq!(doc["size_bytes"], PDF.len());
    assert_eq!(doc["sha256"].as_str().unwrap().len(), 64);
    assert!(doc.get("content_base64").is_none(), "metadata only");
    let (_, list) = v.get("/me/documents", &tok).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    let (s, one) = v
        .get(
            &format!("/me/documents/{}", doc["id"].as_str().unwrap()),
            &tok,
        )
        .await;
    assert_eq!(
        (s, one["data"]["content_base64"].as_str()),
        (200, Some(b64(PDF).as_str()))
    );
    let (s, b) = v.get("/me/documents/nope", &tok).await;
    assert_eq!((s, code(&b)), (404, Some("VOLUNTEERS_DOCUMENT_NOT_FOUND")));
    // Someone else's document is not reachable through /me.
    let other = v.token("vol-other", &["volunteer"]);
    let (s, _) = v
        .get(
            &format!("/me/documents/{}", doc["id"].as_str().unwrap()),
            &other,
        )
        .await;
    assert_eq!(s, 404);

    // Submit; not twice.
    let (s, b) = v
        .post("/me/submit", &tok, json!({"note": "mohon ditinjau"}))
        .await;
    assert_eq!(
        (s, b["data"]["profile"]["verification_state"].as_str()),
        (200, Some("submitted")),
        "{b}"
    );
    let (s, b) = v.post("/me/submit", &tok, json!({})).await;
    assert_eq!((s, code(&b)), (409, Some("VOLUNTEERS_TRANSITION_INVALID")));
    assert_eq!(b["error"]["details"]["state"], "submitted");

    // Reviewers: a plain volunteer may not; a lead without a profile, or of another city, may not.
    let (s, b) = v
        .put(
            &format!("/volunteers/{me}/verification"),
            &other,
            json!({"decision": "approve"}),
        )
        .await;
    assert_eq!((s, code(&b)), (403, Some("AUTH_FORBIDDEN")));
    let lead_far = v.token("lead-bandung", &["volunteer_lead"]);
    let (s, b) = v
        .put(
            &format!("/volunteers/{me}/verification"),
            &lead_far,
            json!({"decision": "approve"}),
        )
        .await;
    assert_eq!((s, code(&b)), (403, Some("VOLUNTEERS_OUTSIDE_AREA")));
    // A lead's area is set by an admin (never by the lead's own profile).
    let area_admin = v.token("ops-areas", &["ops_admin"]);
    set_lead_area(v, &area_admin, "lead-bandung", "3273").await;
    let (s, b) = v
        .put(
            &format!("/volunteers/{me}/verification"),
            &lead_far,
            json!({"decision": "approve"}),
        )
        .await;
    assert_eq!((s, code(&b)), (403, Some("VOLUNTEERS_OUTSIDE_AREA")));
    let (s, _) = v.get(&format!("/volunteers/{me}"), &lead_far).await;
    assert_eq!(s, 403);

    // The lead of Jakarta Pusat rejects (a reason is required), the volunteer resubmits.
    let lead = v.token("lead-jakpus", &["volunteer_lead"]);
    assert_eq!(
        v.put(
            "/me",
            &lead,
            profile_body("Ketua Jakpus", "3171", "lay", None)
        )
        .await
        .0,
        201
    );
    set_lead_area(v, &area_admin, "lead-jakpus", "3171").await;
    let (s, b) = v
        .put(
            &format!("/volunteers/{me}/verification"),
            &lead,
            json!({"decision": "reject"}),
        )
        .await;
    assert_eq!((s, code(&b)), (422, Some("VOLUNTEERS_REASON_REQUIRED")));
    let (s, b) = v
        .put(
            &format!("/volunteers/{me}/verification"),
            &lead,
            json!({"decision": "maybe"}),
        )
        .await;
    assert_eq!((s, code(&b)), (422, Some("VALIDATION_FAILED")));
    let (s, b) = v.get(&format!("/volunteers/{me}"), &lead).await;
    assert_eq!(
        (s, b["data"]["documents"].as_array().map(Vec::len)),
        (200, Some(1))
    );
    let (s, b) = v
        .get(
            &format!("/volunteers/{me}/documents/{}", doc["id"].as_str().unwrap()),
            &lead,
        )
        .await;
    assert_eq!((s, b["data"]["kind"].as_str()), (200, Some("str")));
    let (s, b) = v
        .put(
            &format!("/volunteers/{me}/verification"),
            &lead,
            json!({"decision": "reject", "reason": "Foto STR buram"}),
        )
        .await;
    assert_eq!(
        (s, b["data"]["profile"]["verification_state"].as_str()),
        (200, Some("rejected")),
        "{b}"
    );
    let (s, b) = v
        .put(
            &format!("/volunteers/{me}/verification"),
            &lead,
            json!({"decision": "approve"}),
        )
        .await;
    assert_eq!((s, code(&b)), (409, Some("VOLUNTEERS_TRANSITION_INVALID")));
    let (s, b) = v
        .put(
            "/volunteers/nobody/verification",
            &lead,
            json!({"decision": "approve"}),
        )
        .await;
    assert_eq!((s, code(&b)), (404, Some("VOLUNTEERS_NOT_FOUND")));
    assert_eq!(v.post("/me/submit", &tok, json!({})).await.0, 200);
    // Nobody reviews themselves.
    assert_eq!(v.post("/me/documents", &lead, pdf_doc("ktp")).await.0, 201);
    assert_eq!(v.post("/me/submit", &lead, json!({})).await.0, 200);
    let (s, b) = v
        .put(
            "/volunteers/lead-jakpus/verification",
            &lead,
            json!({"decision": "approve"}),
        )
        .await;
    assert_eq!((s, code(&b)), (403, Some("VOLUNTEERS_SELF_REVIEW")));
    // Ops approves.
    let ops = v.token("ops-1", &["ops_admin"]);
    let (s, b) = v
        .put(
            &format!("/volunteers/{me}/verification"),
            &ops,
            json!({"decision": "approve"}),
        )
        .await;
    assert_eq!(
        (s, b["data"]["profile"]["verification_state"].as_str()),
        (200, Some("verified")),
        "{b}"
    );
    assert_eq!(
        b["data"]["profile"]["eligibility"]["health_professional"],
        true
    );
    let (_, b) = v.get("/me/verification", &tok).await;
    let steps: Vec<String> = b["data"]["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            format!(
                "{}:{}>{}:{}",
                h["action"].as_str().unwrap(),
                h["from_state"].as_str().unwrap(),
                h["to_state"].as_str().unwrap(),
                h["actor"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            "submit:draft>submitted:vol-nurse",
            "reject:submitted>rejected:lead-jakpus",
            "resubmit:rejected>submitted:vol-nurse",
            "approve:submitted>verified:ops-1",
        ]
    );
    assert_eq!(b["data"]["history"][1]["reason"], "Foto STR buram");

    // Eligibility: published through the outbox, versions monotonic, verified health professional.
    v.wait_eligibility(me, "verified eligibility", |e| e["verified"] == true)
        .await;
    let last = v.eligibility_of(me).last().cloned().unwrap();
    assert_eq!(last["health_professional"], true);
    assert_eq!(last["cert_level"], "none");
    assert_eq!(last["skills"], json!(["cpr", "first_aid"]));
    let versions: Vec<i64> = v
        .eligibility_of(me)
        .iter()
        .map(|e| e["version"].as_i64().unwrap())
        .collect();
    assert!(versions.windows(2).all(|w| w[0] < w[1]), "{versions:?}");
    let before = versions.len();

    // Schedule: validated, published with the eligibility.
    for bad in [
        json!({"timezone": "Europe/Paris", "slots": []}),
        json!({"timezone": "Asia/Jakarta", "slots": [{"day": "mon", "start": "18:00", "end": "08:00"}]}),
        json!({"timezone": "Asia/Jakarta", "slots": [{"day": "funday", "start": "08:00", "end": "09:00"}]}),
        json!({"timezone": "Asia/Jakarta", "slots": [{"day": "mon", "start": "8:00", "end": "09:00"}]}),
        json!({"timezone": "Asia/Jakarta", "slots": [{"day": "mon", "start": "08:00", "end": "12:00"}, {"day": "mon", "start": "11:00", "end": "13:00"}]}),
    ] {
        let (s, b) = v.put("/me/schedule", &tok, bad.clone()).await;
        assert_eq!(
            (s, code(&b)),
            (422, Some("VOLUNTEERS_SCHEDULE_INVALID")),
            "{bad}"
        );
    }
    let (s, b) = v
        .put(
            "/me/schedule",
            &other,
            json!({"timezone": "Asia/Jakarta", "slots": []}),
        )
        .await;
    assert_eq!((s, code(&b)), (404, Some("VOLUNTEERS_PROFILE_NOT_FOUND")));
    let sched = json!({"timezone": "Asia/Makassar", "slots": [
        {"day": "sat", "start": "08:00", "end": "24:00"}, {"day": "mon", "start": "18:00", "end": "22:00"}]});
    let (s, b) = v.put("/me/schedule", &tok, sched).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["data"]["schedule"]["slots"][0]["day"], "mon", "ordered");
    v.wait_eligibility(me, "schedule published", |e| {
        e["schedule"]["timezone"] == "Asia/Makassar"
    })
    .await;
    // Unchanged saves publish nothing new.
    let n = v.eligibility_of(me).len();
    assert!(n > before);
    assert_eq!(v.put("/me", &tok, renamed.clone()).await.0, 200);
    // A changed registration number is not yet approved: no longer a health professional.
    let mut changed = renamed.clone();
    changed["registration_number"] = json!("STR-3171-0002");
    let (_, b) = v.put("/me", &tok, changed).await;
    assert_eq!(b["data"]["verification_state"], "verified");
    assert_eq!(b["data"]["eligibility"]["health_professional"], false);
    v.wait_eligibility(me, "health professional withdrawn", |e| {
        e["health_professional"] == false
    })
    .await;
    assert_eq!(
        v.eligibility_of(me).len(),
        n + 1,
        "only the real change was published"
    );
    // Ops re-approves the new credentials.
    let (s, b) = v
        .put(
            &format!("/volunteers/{me}/verification"),
            &ops,
            json!({"decision": "approve", "reason": "STR baru dicek"}),
        )
        .await;
    assert_eq!(
        (
            s,
            b["data"]["profile"]["eligibility"]["health_professional"].as_bool()
        ),
        (200, Some(true))
    );
    v.wait_eligibility(me, "re-approved", |e| e["health_professional"] == true)
        .await;

    // At most 10 documents; a document before the profile exists is refused.
    let docs = v.token("vol-docs", &["volunteer"]);
    let (s, b) = v.post("/me/documents", &docs, pdf_doc("ktp")).await;
    assert_eq!((s, code(&b)), (404, Some("VOLUNTEERS_PROFILE_NOT_FOUND")));
    assert_eq!(
        v.put("/me", &docs, profile_body("Dokumen", "3171", "lay", None))
            .await
            .0,
        201
    );
    for _ in 0..10 {
        assert_eq!(
            v.post("/me/documents", &docs, pdf_doc("other")).await.0,
            201
        );
    }
    let (s, b) = v.post("/me/documents", &docs, pdf_doc("other")).await;
    assert_eq!((s, code(&b)), (409, Some("VOLUNTEERS_DOCUMENT_LIMIT")));
    assert_eq!(
        v.get("/me/documents", &docs).await.1["data"]
            .as_array()
            .map(Vec::len),
        Some(10)
    );
}
both_stores!(profile_documents_verification_schedule);

fn cert(id: &str, holder: &str, level: &str, until: &str) -> Value {
    json!({"certificate_id": id, "holder_id": holder, "level": level, "valid_until": until})
}

async fn certification_mirrored_from_lms(v: &Vol) {
    let me = "vol-cert";
    // A certificate issued before the profile exists is kept and shows once it does.
    v.publish(
        "lms.certificate.issued",
        "lms",
        cert("BHD-BASIC-2026-0001", me, "basic", "2028-12-01T00:00:00Z"),
    )
    .await;
    // Let the consumer handle it before the profile is created.
    let tok = v.token(me, &["volunteer"]);
    tokio::time::sleep(Duration::from_millis(800)).await;
    let (s, b) = v
        .put(
            "/me",
            &tok,
            profile_body("Cert Person", "3171", "lay", None),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let level = || async { v.get("/me", &tok).await.1["data"]["certification"].clone() };
    testkit::eventually("basic mirrored", Duration::from_secs(10), || async {
        level().await["level"] == "basic"
    })
    .await;
    v.wait_eligibility(me, "basic published", |e| e["cert_level"] == "basic")
        .await;
    // Plus is better; an expired Instructor certificate is not valid.
    v.publish(
        "lms.certificate.issued",
        "lms",
        cert(
            "BHD-INST-2020-0001",
            me,
            "instructor",
            "2023-01-01T00:00:00Z",
        ),
    )
    .await;
    let plus = v
        .publish(
            "lms.certificate.issued",
            "lms",
            cert("BHD-PLUS-2026-0001", me, "plus", "2028-06-01T00:00:00Z"),
        )
        .await;
    testkit::eventually("plus mirrored", Duration::from_secs(10), || async {
        level().await["certificate_id"] == "BHD-PLUS-2026-0001"
    })
    .await;
    let c = level().await;
    assert_eq!(
        (c["level"].as_str(), c["valid_until"].as_str()),
        (Some("plus"), Some("2028-06-01T00:00:00Z"))
    );
    v.wait_eligibility(me, "plus published", |e| {
        e["cert_level"] == "plus" && e["cert_valid_until"] == "2028-06-01T00:00:00Z"
    })
    .await;
    let n = v.eligibility_of(me).len();
    // Redelivered (same event id) and `expiring` notices change nothing.
    v.bus.publish(&plus).await.unwrap();
    v.publish(
        "lms.certificate.expiring",
        "lms",
        cert("BHD-PLUS-2026-0001", me, "plus", "2028-06-01T00:00:00Z"),
    )
    .await;
    // A malformed event is rejected without stopping the consumer.
    v.publish(
        "lms.certificate.issued",
        "lms",
        json!({"certificate_id": "x"}),
    )
    .await;
    v.publish(
        "lms.certificate.issued",
        "lms",
        cert("BHD-BASIC-2026-0009", me, "basic", "not a date"),
    )
    .await;
    // Revoking Plus falls back to Basic.
    v.publish("lms.certificate.revoked", "lms", json!({"certificate_id": "BHD-PLUS-2026-0001", "holder_id": me, "level": "plus", "valid_until": "2028-06-01T00:00:00Z", "reason": "pelanggaran"})).await;
    testkit::eventually("back to basic", Duration::from_secs(10), || async {
        level().await["level"] == "basic"
    })
    .await;
    v.wait_eligibility(me, "basic again", |e| e["cert_level"] == "basic")
        .await;
    let (s, list) = v.get("/me/certificates", &tok).await;
    assert_eq!(s, 200);
    let states: Vec<String> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{}:{}:{}:{}",
                c["certificate_id"].as_str().unwrap(),
                c["status"].as_str().unwrap(),
                c["revocation_reason"].as_str().unwrap_or("-"),
                c["expiring_notice_at"].is_string()
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            "BHD-BASIC-2026-0001:valid:-:false",
            "BHD-PLUS-2026-0001:revoked:pelanggaran:true",
            "BHD-INST-2020-0001:expired:-:false",
        ],
        "the expiring notice is recorded, nothing else changed by it"
    );
    assert_eq!(
        v.eligibility_of(me).len(),
        n + 1,
        "expiring, duplicates and bad events published nothing"
    );
    // A replayed `issued` never revives a revoked certificate.
    v.publish(
        "lms.certificate.issued",
        "lms",
        cert("BHD-PLUS-2026-0001", me, "plus", "2028-06-01T00:00:00Z"),
    )
    .await;
    v.publish(
        "lms.certificate.revoked",
        "lms",
        cert("BHD-BASIC-2026-0001", me, "basic", "2028-12-01T00:00:00Z"),
    )
    .await;
    testkit::eventually("all revoked", Duration::from_secs(10), || async {
        level().await["level"] == "none"
    })
    .await;
    v.wait_eligibility(me, "none published", |e| {
        e["cert_level"] == "none" && e["cert_valid_until"].is_null()
    })
    .await;
}
both_stores!(certification_mirrored_from_lms);

fn status_event(case: &str, vol: &str, status: &str) -> Value {
    json!({"case_id": case, "volunteer_id": vol, "status": status, "at": "2026-12-01T10:00:00Z"})
}

fn completed(case: &str, responders: &[&str]) -> Value {
    json!({"case_id": case, "severity": "critical", "type": "cardiac_arrest", "latitude": -6.2, "longitude": 106.8,
        "created_at": "2026-12-01T10:00:00Z", "completed_at": "2026-12-01T10:30:00Z", "outcome": "transported",
        "clinical": {}, "responders": responders})
}

async fn points_badges_and_leaderboard(v: &Vol) {
    let (a, b, far) = ("vol-a", "vol-b", "vol-far");
    let ta = v.token(a, &["volunteer"]);
    let tb = v.token(b, &["volunteer"]);
    for (who, city, name) in [
        (a, "3171", "Andi"),
        (b, "3171", "Bayu"),
        (far, "3273", "Cici"),
    ] {
        let t = v.token(who, &["volunteer"]);
        assert_eq!(
            v.put("/me", &t, profile_body(name, city, "lay", None))
                .await
                .0,
            201
        );
    }
    let (s, body) = v.get("/me/stats", &ta).await;
    assert_eq!(s, 200);
    assert_eq!(
        body["data"],
        json!({"points": 0, "badges": [], "cases": {"accepted": 0, "arrived": 0, "resolved": 0, "completed": 0}})
    );
    let acc = v
        .publish(
            "emergency.responder.status",
            "emergency",
            status_event("case-1", a, "accepted"),
        )
        .await;
    v.publish(
        "emergency.responder.status",
        "emergency",
        status_event("case-1", b, "accepted"),
    )
    .await;
    v.publish(
        "emergency.responder.status",
        "emergency",
        status_event("case-1", a, "arrived"),
    )
    .await;
    v.publish(
        "emergency.responder.status",
        "emergency",
        status_event("case-1", a, "intervention"),
    )
    .await;
    v.publish(
        "emergency.responder.status",
        "emergency",
        status_event("case-1", a, "resolved"),
    )
    .await;
    // Redelivery of the same event, and a repeated status in a new event: counted once.
    v.bus.publish(&acc).await.unwrap();
    v.publish(
        "emergency.responder.status",
        "emergency",
        status_event("case-1", a, "accepted"),
    )
    .await;
    v.publish(
        "emergency.case.completed",
        "emergency",
        completed("case-1", &[a, b]),
    )
    .await;
    v.publish(
        "emergency.responder.status",
        "emergency",
        status_event("case-2", far, "accepted"),
    )
    .await;
    testkit::eventually("points of A", Duration::from_secs(10), || async {
        v.get("/me/stats", &ta).await.1["data"]["points"] == 90
    })
    .await;
    let (_, st) = v.get("/me/stats", &ta).await;
    let d = &st["data"];
    assert_eq!(
        d["cases"],
        json!({"accepted": 1, "arrived": 1, "resolved": 1, "completed": 1})
    );
    let codes: Vec<&str> = d["badges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["code"].as_str().unwrap())
        .collect();
    let mut sorted = codes.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        [
            "first_arrival",
            "first_resolved",
            "first_response",
            "team_lead"
        ]
    );
    for badge in d["badges"].as_array().unwrap() {
        assert_eq!(badge.as_object().unwrap().len(), 2);
        assert!(
            badge["awarded_at"]
                .as_str()
                .is_some_and(|t| t.len() >= 20 && t.ends_with('Z')),
            "{badge}"
        );
    }
    let mut keys: Vec<&String> = d.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        ["badges", "cases", "points"],
        "the shape the volunteer app reads"
    );
    testkit::eventually("points of B", Duration::from_secs(10), || async {
        v.get("/me/stats", &tb).await.1["data"]["points"] == 30
    })
    .await;
    // Leaderboard of Jakarta Pusat: display names only, paginated.
    let (s, lb) = v.get("/leaderboard?city=3171", &tb).await;
    assert_eq!(s, 200, "{lb}");
    assert_eq!(
        lb["data"],
        json!([
            {"rank": 1, "display_name": "Andi", "points": 90, "badges": 4},
            {"rank": 2, "display_name": "Bayu", "points": 30, "badges": 1},
        ])
    );
    assert_eq!(lb["meta"], json!({"page": 1, "limit": 20, "total": 2}));
    let (_, p2) = v.get("/leaderboard?city=3171&page=2&limit=1", &tb).await;
    assert_eq!(
        (p2["data"][0]["rank"].as_u64(), p2["meta"]["total"].as_u64()),
        (Some(2), Some(2))
    );
    let (_, bdg) = v.get("/leaderboard?city=3273", &tb).await;
    assert_eq!(bdg["data"][0]["display_name"], "Cici");
    for (q, want) in [
        ("", "VOLUNTEERS_AREA_INVALID"),
        ("?city=31", "VOLUNTEERS_AREA_INVALID"),
        ("?city=3171&limit=0", "VALIDATION_FAILED"),
        ("?city=3171&page=x", "VALIDATION_FAILED"),
        ("?city=3171&phone=1", "VALIDATION_UNKNOWN_FIELD"),
    ] {
        let (s, e) = v.get(&format!("/leaderboard{q}"), &tb).await;
        assert_eq!((s, code(&e)), (422, Some(want)), "{q}");
    }
    let (s, _) = v
        .call(reqwest::Method::GET, "/leaderboard?city=3171", None, None)
        .await;
    assert_eq!(s, 401);
}
both_stores!(points_badges_and_leaderboard);

/// An admin sets the area in which a lead reviews volunteers.
pub(crate) async fn set_lead_area(v: &Vol, admin: &str, lead: &str, city: &str) {
    let (s, b) = v
        .put(
            &format!("/leads/{lead}/area"),
            admin,
            json!({ "city_code": city }),
        )
        .await;
    assert_eq!(
        (s, b["data"]["city_code"].as_str()),
        (200, Some(city)),
        "{b}"
    );
}

async fn search_for_leads_and_ops(v: &Vol) {
    for (i, city) in ["3171", "3171", "3171", "3273"].iter().enumerate() {
        verified_volunteer(v, &format!("v{i}"), city).await;
    }
    let draft = v.token("v-draft", &["volunteer"]);
    let mut body = profile_body("vz draft", "3171", "doctor", None);
    body["skills"] = json!(["aed", "first_aid"]);
    assert_eq!(v.put("/me", &draft, body).await.0, 201);
    v.publish(
        "lms.certificate.issued",
        "lms",
        cert("BHD-BASIC-2026-0100", "v1", "basic", "2029-01-01T00:00:00Z"),
    )
    .await;
    let ops = v.token("ops-1", &["ops_admin"]);
    testkit::eventually("certificate mirrored", Duration::from_secs(10), || async {
        v.get("/volunteers?cert_level=basic", &ops).await.1["meta"]["total"] == 1
    })
    .await;
    let ids = |b: &Value| -> Vec<String> {
        b["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["volunteer_id"].as_str().unwrap().to_string())
            .collect()
    };
    let (s, all) = v.get("/volunteers", &ops).await;
    assert_eq!((s, all["meta"]["total"].as_u64()), (200, Some(5)));
    let row = all["data"].as_array().unwrap()[0]
        .as_object()
        .unwrap()
        .clone();
    assert!(
        !row.contains_key("phone") && !row.contains_key("emergency_contact"),
        "no contact data in lists"
    );
    let (_, b) = v.get("/volunteers?city=3171&state=verified", &ops).await;
    assert_eq!(ids(&b), ["v0", "v1", "v2"]);
    let (_, b) = v.get("/volunteers?province=32", &ops).await;
    assert_eq!(ids(&b), ["v3"]);
    let (_, b) = v.get("/volunteers?skill=aed", &ops).await;
    assert_eq!(ids(&b), ["v-draft"]);
    let (_, b) = v.get("/volunteers?skill=first_aid&state=draft", &ops).await;
    assert_eq!(ids(&b), ["v-draft"]);
    let (_, b) = v.get("/volunteers?cert_level=basic", &ops).await;
    assert_eq!(
        (ids(&b), b["data"][0]["cert_level"].as_str()),
        (vec!["v1".to_string()], Some("basic"))
    );
    let (_, b) = v.get("/volunteers?cert_level=none&city=3171", &ops).await;
    assert_eq!(ids(&b), ["v0", "v2", "v-draft"]);
    let (_, b) = v.get("/volunteers?city=3171&limit=2&page=2", &ops).await;
    assert_eq!(
        (ids(&b), b["meta"].clone()),
        (
            vec!["v2".to_string(), "v-draft".to_string()],
            json!({"page": 2, "limit": 2, "total": 4})
        )
    );
    // A lead sees their own city only.
    let lead = v.token("lead-x", &["volunteer_lead"]);
    let (s, e) = v.get("/volunteers", &lead).await;
    assert_eq!(
        (s, code(&e)),
        (403, Some("VOLUNTEERS_OUTSIDE_AREA")),
        "no area set by an admin"
    );
    set_lead_area(v, &ops, "lead-x", "3273").await;
    let (_, b) = v.get("/volunteers?state=verified", &lead).await;
    assert_eq!(ids(&b), ["v3"]);
    let (s, e) = v.get("/volunteers?city=3171", &lead).await;
    assert_eq!((s, code(&e)), (403, Some("VOLUNTEERS_OUTSIDE_AREA")));
    let (s, e) = v.get("/volunteers?province=31", &lead).await;
    assert_eq!((s, code(&e)), (403, Some("VOLUNTEERS_OUTSIDE_AREA")));
    let (s, e) = v.get("/volunteers/v0", &lead).await;
    assert_eq!((s, code(&e)), (403, Some("VOLUNTEERS_OUTSIDE_AREA")));
    let (s, e) = v.get("/volunteers", &draft).await;
    assert_eq!((s, code(&e)), (403, Some("AUTH_FORBIDDEN")));
    for (q, want) in [
        ("?city=abcd", "VOLUNTEERS_AREA_INVALID"),
        ("?province=1", "VOLUNTEERS_AREA_INVALID"),
        ("?skill=A%20B", "VOLUNTEERS_SKILL_INVALID"),
        ("?cert_level=gold", "VALIDATION_FAILED"),
        ("?state=pending", "VALIDATION_FAILED"),
        ("?limit=101", "VALIDATION_FAILED"),
        ("?name=x", "VALIDATION_UNKNOWN_FIELD"),
    ] {
        let (s, e) = v.get(&format!("/volunteers{q}"), &ops).await;
        assert_eq!((s, code(&e)), (422, Some(want)), "{q}");
    }
    let (s, e) = v.get("/volunteers/nobody", &ops).await;
    assert_eq!((s, code(&e)), (404, Some("VOLUNTEERS_NOT_FOUND")));
    // Erasure in KREKI ID removes the profile and tells the Emergency Core.
    v.publish(
        "identity.account.erased",
        "identity",
        json!({"account_id": "v0"}),
    )
    .await;
    testkit::eventually("erased", Duration::from_secs(10), || async {
        v.get("/volunteers/v0", &ops).await.0 == 404
    })
    .await;
    v.wait_eligibility("v0", "last eligibility of the erased", |e| {
        e["verified"] == false
    })
    .await;
}
both_stores!(search_for_leads_and_ops);

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

/// Attack (security finding 4): a Volunteer Lead moves "their area" by editing the city of
/// their own profile, then reads the ID cards (KTP, with NIK) of another city's volunteers
/// and verifies them. A lead's area is set by an admin only; every document read is audited;
/// the Training Admin does not verify volunteers.
async fn a_lead_cannot_escape_their_area(v: &Vol) {
    // A volunteer of Bandung (3273) submits an ID card.
    let bdg = v.token("vol-bandung", &["volunteer"]);
    assert_eq!(
        v.put("/me", &bdg, profile_body("Asep", "3273", "lay", None))
            .await
            .0,
        201
    );
    let (s, doc) = v.post("/me/documents", &bdg, pdf_doc("ktp")).await;
    assert_eq!(s, 201, "{doc}");
    let doc_id = doc["data"]["id"].as_str().unwrap().to_string();
    assert_eq!(v.post("/me/submit", &bdg, json!({})).await.0, 200);
    // The lead of Jakarta Pusat, as an admin set it.
    let ops = v.token("ops-1", &["ops_admin"]);
    let lead = v.token("lead-jakpus", &["volunteer_lead"]);
    set_lead_area(v, &ops, "lead-jakpus", "3171").await;
    // The attack: the lead says they live in Bandung now.
    assert_eq!(
        v.put("/me", &lead, profile_body("Ketua", "3273", "lay", None))
            .await
            .0,
        201
    );
    let outside = (403, Some("VOLUNTEERS_OUTSIDE_AREA"));
    let (s, b) = v.get("/volunteers/vol-bandung", &lead).await;
    assert_eq!((s, code(&b)), outside);
    let (s, b) = v
        .get(
            &format!("/volunteers/vol-bandung/documents/{doc_id}"),
            &lead,
        )
        .await;
    assert_eq!((s, code(&b)), outside, "the KTP stays closed");
    let (s, b) = v.get("/volunteers?city=3273", &lead).await;
    assert_eq!((s, code(&b)), outside);
    let (s, b) = v
        .put(
            "/volunteers/vol-bandung/verification",
            &lead,
            json!({"decision": "approve"}),
        )
        .await;
    assert_eq!((s, code(&b)), outside);
    // Nor can the lead set their own area.
    let (s, b) = v
        .put(
            "/leads/lead-jakpus/area",
            &lead,
            json!({"city_code": "3273"}),
        )
        .await;
    assert_eq!((s, code(&b)), (403, Some("AUTH_FORBIDDEN")));
    let (s, b) = v.get("/leads/lead-jakpus/area", &lead).await;
    assert_eq!((s, b["data"]["city_code"].as_str()), (200, Some("3171")));
    // The Training Admin trains; it does not verify identities.
    let trainer = v.token("trainer-1", &["training_admin"]);
    let (s, b) = v
        .get(
            &format!("/volunteers/vol-bandung/documents/{doc_id}"),
            &trainer,
        )
        .await;
    assert_eq!((s, code(&b)), (403, Some("AUTH_FORBIDDEN")));
    // Ops reads the card: the read is recorded, and only auditors see the record.
    let (s, _) = v
        .get(&format!("/volunteers/vol-bandung/documents/{doc_id}"), &ops)
        .await;
    assert_eq!(s, 200);
    let (s, _) = v.get("/volunteers/vol-bandung/access-log", &lead).await;
    assert_eq!(s, 403);
    let (s, log) = v.get("/volunteers/vol-bandung/access-log", &ops).await;
    assert_eq!(s, 200, "{log}");
    let entries = log["data"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{log}");
    assert_eq!(
        (
            entries[0]["actor"].as_str(),
            entries[0]["action"].as_str(),
            entries[0]["details"].as_str()
        ),
        (Some("ops-1"), Some("document_read"), Some(doc_id.as_str()))
    );
    // Bad input: a city code that is not one.
    let (s, b) = v
        .put("/leads/lead-x/area", &ops, json!({"city_code": "31"}))
        .await;
    assert_eq!((s, code(&b)), (422, Some("VOLUNTEERS_AREA_INVALID")));
}
both_stores!(a_lead_cannot_escape_their_area);
