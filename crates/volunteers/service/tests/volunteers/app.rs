//! The volunteers service over real HTTP (port 0) with the platform harness
//! (`kreki_platform::testkit::Harness`): the same descriptor, `mount` and outer stack as
//! `kreki up` / `kreki serve`, on SQLite or PostgreSQL. Events of other services (LMS
//! certificates, Emergency Core statuses, KREKI ID erasures) are published on the harness's
//! bus, which the service's consumers read; the outbox relay is not started, so the
//! eligibility events the service wrote are read from its outbox table.

use std::sync::Arc;
pub use std::time::Duration;

pub use base64::Engine;
pub use kreki_platform::testkit;
use kreki_platform::{
    bus::{Bus, Event},
    config::Config,
    storage::Db,
    testkit::Harness,
};
pub use serde_json::{Value, json};
use sqlx::Row;

pub struct Vol {
    /// The API client (`call`, `get`, `put`, `post`), also reached through `Deref`.
    pub api: testkit::Api,
    pub url: String,
    pub client: reqwest::Client,
    pub bus: Arc<dyn Bus>,
    pub db: Db,
    harness: Harness,
}

/// The service on `db` (migrated), served on port 0.
pub async fn start(db: Db) -> Vol {
    let mut h = Harness::new("volunteers", db.clone(), Config::default()).await;
    let desc = kreki_volunteers::descriptor();
    let built = (desc.build)(h.ctx.clone()).await.unwrap();
    h.serve(&desc, built);
    Vol {
        api: testkit::Api::new(h.client.clone(), format!("{}/api/volunteers/v1", h.url)),
        url: h.url.clone(),
        client: h.client.clone(),
        bus: h.bus.clone(),
        db,
        harness: h,
    }
}

impl Vol {
    /// Stop serving and the consumers (the harness's shutdown), then close the database.
    pub async fn stop(self) {
        drop(self.harness);
        self.db.close().await;
    }

    pub fn token(&self, sub: &str, roles: &[&str]) -> String {
        self.harness.token(sub, roles)
    }

    /// Publish an event of another service on the bus (as its relay would).
    pub async fn publish(&self, subject: &str, source: &str, data: Value) -> Event {
        let e = Event::new(source, subject, &data).unwrap();
        self.bus.publish(&e).await.unwrap();
        e
    }

    /// Eligibility events the service wrote for `volunteer` so far, in order (its outbox).
    pub async fn eligibility_of(&self, volunteer: &str) -> Vec<Value> {
        sqlx::query("SELECT body FROM outbox WHERE subject = $1 ORDER BY seq")
            .bind("volunteers.eligibility.changed")
            .fetch_all(self.db.pool())
            .await
            .unwrap()
            .iter()
            .map(|r| {
                let body: String = r.get(0);
                let v: Value = serde_json::from_str(&body).unwrap();
                v["data"].clone()
            })
            .filter(|e| e["volunteer_id"] == volunteer)
            .collect()
    }

    pub async fn wait_eligibility(&self, volunteer: &str, what: &str, f: impl Fn(&Value) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        while !self.eligibility_of(volunteer).await.last().is_some_and(&f) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for: {what}; published: {:?}",
                self.eligibility_of(volunteer).await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A scenario on both stores: `<name>::sqlite` and `<name>::postgres` (a loud skip outside
/// CI without a server).
#[macro_export]
macro_rules! both_stores {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let (db, _guard) =
                    kreki_platform::testkit::sqlite_db("volunteers", kreki_volunteers::MIGRATIONS)
                        .await;
                let v = $crate::app::start(db).await;
                super::$name(&v).await;
                v.stop().await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some((db, _guard)) =
                    kreki_platform::testkit::pg_db("volunteers", kreki_volunteers::MIGRATIONS)
                        .await
                else {
                    return;
                };
                let v = $crate::app::start(db).await;
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

pub const PDF: &[u8] =
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

pub fn code(b: &Value) -> Option<&str> {
    b["error"]["code"].as_str()
}

pub fn cert(id: &str, holder: &str, level: &str, until: &str) -> Value {
    json!({"certificate_id": id, "holder_id": holder, "level": level, "valid_until": until})
}

pub fn status_event(case: &str, vol: &str, status: &str) -> Value {
    json!({"case_id": case, "volunteer_id": vol, "status": status, "at": "2026-12-01T10:00:00Z"})
}

pub fn completed(case: &str, responders: &[&str]) -> Value {
    json!({"case_id": case, "severity": "critical", "type": "cardiac_arrest", "latitude": -6.2, "longitude": 106.8,
        "created_at": "2026-12-01T10:00:00Z", "completed_at": "2026-12-01T10:30:00Z", "outcome": "transported",
        "clinical": {}, "responders": responders})
}

/// An admin sets the area in which a lead reviews volunteers.
pub async fn set_lead_area(v: &Vol, admin: &str, lead: &str, city: &str) {
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

impl std::ops::Deref for Vol {
    type Target = testkit::Api;
    fn deref(&self) -> &testkit::Api {
        &self.api
    }
}
