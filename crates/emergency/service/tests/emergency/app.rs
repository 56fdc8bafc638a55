//! The Emergency Core over real HTTP (port 0) with the platform harness
//! (`kreki_platform::testkit::Harness`): the same descriptor, `mount`, access check and outer
//! stack as `kreki up` / `kreki serve`, on SQLite or PostgreSQL. Other services' events (the
//! volunteers' eligibility, PSC 119 statuses from the bridge) are published on the harness's
//! bus, which the service's consumers read; the outbox relay is not started, so what the
//! service asks of others (notify's messages, `emergency.case.*`) is read from its outbox.

use std::sync::Arc;
pub use std::time::Duration;

pub use kreki_platform::testkit;
use kreki_platform::{
    bus::{Bus, Event},
    config::Config,
    service::{DemoSettings, DemoSim},
    storage::Db,
    testkit::{DbGuard, Harness},
};
pub use serde_json::{Value, json};
use sqlx::Row;

pub struct Em {
    /// The API client under `/api/emergency/v1` (`call`, `get`, `put`, `post`), also reached
    /// through `Deref`.
    pub api: testkit::Api,
    /// The service's root (`http://127.0.0.1:PORT`).
    pub url: String,
    pub client: reqwest::Client,
    pub bus: Arc<dyn Bus>,
    pub db: Db,
    harness: Harness,
}

/// How a test starts the service: `[emergency]` settings, the demo, the general per-IP limit.
#[derive(Default)]
pub struct Setup {
    emergency: Vec<(&'static str, Setting)>,
    pub demo: Option<DemoSettings>,
    /// `http.rate_limit_per_minute` (default: a limit no test reaches).
    pub per_minute: Option<u32>,
}

enum Setting {
    Int(i64),
    Text(String),
}

impl Setup {
    /// A number of `[emergency]`.
    pub fn int(mut self, key: &'static str, value: i64) -> Setup {
        self.emergency.push((key, Setting::Int(value)));
        self
    }

    /// A text of `[emergency]`.
    pub fn text(mut self, key: &'static str, value: &str) -> Setup {
        self.emergency.push((key, Setting::Text(value.to_string())));
        self
    }

    pub fn demo(mut self, sim: DemoSim) -> Setup {
        self.demo = Some(DemoSettings { sim });
        self
    }

    pub fn per_minute(mut self, n: u32) -> Setup {
        self.per_minute = Some(n);
        self
    }

    /// The service on `db` (migrated), served on port 0.
    pub async fn start(self, db: Db) -> Em {
        let mut config = Config::default();
        for (k, v) in self.emergency {
            let v = match v {
                Setting::Int(n) => n.into(),
                Setting::Text(t) => t.into(),
            };
            config.emergency.insert(k.to_string(), v);
        }
        let mut h = Harness::new("emergency", db.clone(), config).await;
        h.ctx.demo = self.demo;
        let desc = kreki_emergency::descriptor();
        let built = (desc.build)(h.ctx.clone()).await.unwrap();
        match self.per_minute {
            Some(n) => h.serve_limited(&desc, built, n),
            None => h.serve(&desc, built),
        }
        Em {
            api: testkit::Api::new(h.client.clone(), format!("{}/api/emergency/v1", h.url)),
            url: h.url.clone(),
            client: h.client.clone(),
            bus: h.bus.clone(),
            db,
            harness: h,
        }
    }
}

/// The service on `db` with the default settings.
pub async fn start(db: Db) -> Em {
    Setup::default().start(db).await
}

/// A migrated SQLite database of the Emergency Core for one test.
pub async fn sqlite() -> (Db, DbGuard) {
    testkit::sqlite_db("emergency", kreki_emergency::MIGRATIONS).await
}

/// A scenario `async fn name(db: Db)` on both stores: `<name>::sqlite` and `<name>::postgres`
/// (a loud skip outside CI without a server).
#[macro_export]
macro_rules! both_stores {
    ($name:ident) => {
        kreki_platform::storage_conformance!(
            $name,
            "emergency",
            kreki_emergency::MIGRATIONS,
            super::$name
        );
    };
}

pub const CENTER: (f64, f64) = (-6.2088, 106.8456);

/// A point `m` metres north of [`CENTER`].
pub fn north(m: f64) -> (f64, f64) {
    (CENTER.0 + m / 111_195.0, CENTER.1)
}

/// A panic body of an anonymous caller at Monas' neighbourhood.
pub fn panic_body(phone: &str) -> Value {
    json!({"latitude": -6.2088, "longitude": 106.8456, "accuracy_m": 15, "severity": "critical", "type": "cardiac_arrest",
           "description": "Pria 50 tahun tidak sadar", "caller_phone": phone})
}

pub fn code(b: &Value) -> Option<&str> {
    b["error"]["code"].as_str()
}

impl Em {
    /// Stop serving, the dispatch tasks and the consumers (the harness's shutdown).
    pub async fn stop(self) {
        drop(self.harness);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    pub fn token(&self, sub: &str, roles: &[&str]) -> String {
        self.harness.token(sub, roles)
    }

    pub fn volunteer(&self, sub: &str) -> String {
        self.token(sub, &["volunteer"])
    }

    pub fn ops(&self, sub: &str) -> String {
        self.token(sub, &["ops_admin"])
    }

    /// `POST /panic` with an optional bearer and `Idempotency-Key`.
    pub async fn panic(&self, body: Value, token: Option<&str>, key: Option<&str>) -> (u16, Value) {
        let mut r = self
            .client
            .post(format!("{}/panic", self.api.base))
            .json(&body);
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        if let Some(k) = key {
            r = r.header("idempotency-key", k);
        }
        let res = r.send().await.unwrap();
        (res.status().as_u16(), res.json().await.unwrap())
    }

    /// An anonymous panic at `at` that must be created; its case id.
    pub async fn panic_at(
        &self,
        at: (f64, f64),
        severity: &str,
        kind: &str,
        phone: &str,
    ) -> String {
        let (s, b) = self
            .panic(
                json!({"latitude": at.0, "longitude": at.1, "severity": severity, "type": kind, "caller_phone": phone}),
                None,
                None,
            )
            .await;
        assert_eq!(s, 201, "{b}");
        b["data"]["id"].as_str().unwrap().to_string()
    }

    /// Publish an event of another service on the bus (as its relay would).
    pub async fn publish(&self, source: &str, subject: &str, data: Value) {
        let e = Event::new(source, subject, &data).unwrap();
        self.bus.publish(&e).await.unwrap();
    }

    /// The volunteers service's eligibility of `volunteer` (verified; BHD Basic when
    /// `certified`).
    pub async fn eligible(&self, volunteer: &str, certified: bool, version: i64) {
        self.publish(
            "volunteers",
            "volunteers.eligibility.changed",
            json!({
                "volunteer_id": volunteer, "verified": true,
                "cert_level": if certified { "basic" } else { "none" },
                "cert_valid_until": if certified { Some("2030-01-01T00:00:00Z") } else { None },
                "health_professional": false, "skills": [], "schedule": {}, "version": version,
            }),
        )
        .await;
    }

    /// `PUT /presence` on duty at `at`; the answer's body.
    pub async fn on_duty(&self, token: &str, at: (f64, f64)) -> Value {
        let (s, b) = self
            .put(
                "/presence",
                token,
                json!({"on_duty": true, "latitude": at.0, "longitude": at.1}),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        b
    }

    /// Publish the volunteer's eligibility and wait until going on duty at `at` makes them
    /// dispatchable.
    pub async fn dispatchable(&self, volunteer: &str, certified: bool, at: (f64, f64)) {
        self.eligible(volunteer, certified, 1).await;
        let token = self.volunteer(volunteer);
        testkit::eventually("eligibility copied", Duration::from_secs(10), || async {
            self.on_duty(&token, at).await["data"]["dispatchable"] == true
        })
        .await;
    }

    pub async fn offers(&self, token: &str) -> Vec<Value> {
        let (_, v) = self.get("/offers/mine", token).await;
        v["data"].as_array().cloned().unwrap_or_default()
    }

    pub async fn has_offer(&self, token: &str, case: &str) -> bool {
        self.offers(token)
            .await
            .iter()
            .any(|o| o["case_id"] == case)
    }

    /// The timeline of a case as `token` reads it.
    pub async fn timeline(&self, case: &str, token: &str) -> Vec<Value> {
        let (s, t) = self.get(&format!("/{case}/timeline"), token).await;
        assert_eq!(s, 200, "{t}");
        t["data"].as_array().cloned().unwrap_or_default()
    }

    /// The events of `subject` the service wrote to its outbox so far (their `data`), in order.
    pub async fn outbox(&self, subject: &str) -> Vec<Value> {
        sqlx::query("SELECT body FROM outbox WHERE subject = $1 ORDER BY seq")
            .bind(subject)
            .fetch_all(self.db.pool())
            .await
            .unwrap()
            .iter()
            .map(|r| {
                let body: String = r.get(0);
                let v: Value = serde_json::from_str(&body).unwrap();
                v["data"].clone()
            })
            .collect()
    }

    /// What the service asked notify to send so far (`notify.message.requested`).
    pub async fn messages(&self) -> Vec<Value> {
        self.outbox("notify.message.requested").await
    }
}

impl std::ops::Deref for Em {
    type Target = testkit::Api;
    fn deref(&self) -> &testkit::Api {
        &self.api
    }
}
