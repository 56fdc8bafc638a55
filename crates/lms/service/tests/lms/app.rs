//! The LMS service over real HTTP (port 0) on a given database: the same descriptor,
//! `mount` and outer stack as `kreki up` / `kreki serve`. The outbox relay is not started,
//! so the tests read the events a request wrote from the outbox table.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use kreki_platform::{
    auth::{Authenticator, StaticJwks},
    bus::{Bus, local::LocalBus, outbox::RelayState},
    config::Config,
    http::middleware::{KitConfig, outer},
    metrics::Metrics,
    service::{ServiceContext, mount},
    storage::{Db, ratelimit::MemoryRateLimiter},
    testkit::{TempDir, TestSigner},
};
use serde_json::{Value, json};
use sqlx::Row;
use tokio_util::{sync::CancellationToken, task::TaskTracker};

pub const ISSUER: &str = "https://kreki.test";

pub struct App {
    pub url: String,
    pub client: reqwest::Client,
    pub signer: TestSigner,
    pub db: Db,
    /// The bus the service's consumers read (events of other services are published here).
    pub bus: Arc<dyn Bus>,
    shutdown: CancellationToken,
    _bus_dir: TempDir,
}

impl Drop for App {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

pub async fn start(db: Db) -> App {
    start_with(db, |_| {}).await
}

pub async fn start_with(db: Db, change: impl FnOnce(&mut Config)) -> App {
    let mut config = Config::default();
    change(&mut config);
    let signer = TestSigner::new("test-key");
    let auth = Arc::new(Authenticator::new(
        ISSUER,
        None,
        Arc::new(StaticJwks(signer.jwks())),
    ));
    let bus_dir = TempDir::new();
    let bus_db = Db::open_sqlite(&bus_dir.path().join("bus.db"), "bus")
        .await
        .unwrap();
    let bus: Arc<dyn Bus> = Arc::new(
        LocalBus::open(bus_db, Duration::from_secs(30))
            .await
            .unwrap(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let url = format!("http://{addr}");
    let shutdown = CancellationToken::new();
    let ctx = ServiceContext {
        name: "lms",
        config: Arc::new(config),
        base_url: url.clone(),
        db: db.clone(),
        bus: bus.clone(),
        relay: Arc::new(RelayState::default()),
        metrics: Arc::new(Metrics::new()),
        auth,
        limiter: Arc::new(MemoryRateLimiter::new()),
        shutdown: shutdown.clone(),
        tasks: TaskTracker::new(),
        demo: None,
    };
    let desc = kreki_lms::descriptor();
    let built = (desc.build)(ctx.clone()).await.unwrap();
    let app = outer(
        mount(&desc, &ctx, built, 100_000),
        KitConfig {
            body_limit_bytes: 1 << 20,
            request_timeout: Duration::from_secs(30),
            trusted_hops: 0,
            hsts: false,
        },
    );
    let cancel = shutdown.clone();
    tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(cancel.cancelled_owned())
        .await;
    });
    App {
        url,
        client: reqwest::Client::new(),
        signer,
        db,
        bus,
        shutdown,
        _bus_dir: bus_dir,
    }
}

impl App {
    pub fn token(&self, sub: &str, roles: &[&str]) -> String {
        self.signer.token(ISSUER, sub, roles)
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        let mut r = self.client.get(format!("{}{path}", self.url));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        let res = r.send().await.unwrap();
        let s = res.status().as_u16();
        (s, res.json().await.unwrap_or(Value::Null))
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
        let mut r = self.client.post(format!("{}{path}", self.url)).json(&body);
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        let res = r.send().await.unwrap();
        let s = res.status().as_u16();
        (s, res.json().await.unwrap_or(Value::Null))
    }

    /// Raw response (pages, PDF, JWT).
    pub async fn raw(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut r = self.client.get(format!("{}{path}", self.url));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send().await.unwrap()
    }

    /// Publish an event of another service on the bus (as its relay would).
    pub async fn publish(&self, source: &str, subject: &str, data: Value) {
        let e = kreki_platform::bus::Event::new(source, subject, &data).unwrap();
        self.bus.publish(&e).await.unwrap();
    }

    /// Events in the outbox: (subject, data).
    pub async fn events(&self) -> Vec<(String, Value)> {
        sqlx::query("SELECT subject, body FROM outbox ORDER BY seq")
            .fetch_all(self.db.pool())
            .await
            .unwrap()
            .iter()
            .map(|r| {
                let body: String = r.get(1);
                let v: Value = serde_json::from_str(&body).unwrap();
                (r.get::<String, _>(0), v["data"].clone())
            })
            .collect()
    }

    /// The right answers of a course's bank (from the database, as the server knows them).
    pub async fn answers(&self, course_id: &str) -> Vec<(String, String)> {
        sqlx::query("SELECT id, correct FROM questions WHERE course_id = $1")
            .bind(course_id)
            .fetch_all(self.db.pool())
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect()
    }

    pub async fn enroll(&self, token: &str, course_id: &str, name: &str) -> (u16, Value) {
        self.post(
            "/api/lms/v1/enroll",
            Some(token),
            json!({"course_id": course_id, "name": name}),
        )
        .await
    }

    pub async fn complete_all_lessons(&self, token: &str, course_id: &str) {
        let (_, c) = self
            .get(&format!("/api/lms/v1/courses/{course_id}"), None)
            .await;
        for m in c["data"]["modules"].as_array().unwrap() {
            for l in m["lessons"].as_array().unwrap() {
                let (s, body) = self
                    .post(
                        &format!("/api/lms/v1/lessons/{}/complete", l["id"].as_str().unwrap()),
                        Some(token),
                        json!({}),
                    )
                    .await;
                assert_eq!(s, 200, "{body}");
            }
        }
    }

    /// Take a quiz answering `right` questions correctly (the rest wrong).
    pub async fn take_quiz(&self, token: &str, quiz_id: &str, right: usize) -> (u16, Value) {
        let course_id = quiz_id.rsplit_once('-').unwrap().0;
        let key = self.answers(course_id).await;
        let (s, started) = self
            .post(
                &format!("/api/lms/v1/quiz/{quiz_id}/start"),
                Some(token),
                json!({}),
            )
            .await;
        assert_eq!(s, 201, "{started}");
        let d = &started["data"];
        let answers: Vec<Value> = d["questions"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
            .map(|(i, q)| {
                let qid = q["id"].as_str().unwrap();
                let correct = &key.iter().find(|(id, _)| id == qid).unwrap().1;
                let option = if i < right {
                    correct.clone()
                } else {
                    q["options"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|o| o["id"].as_str().unwrap().to_string())
                        .find(|o| o != correct)
                        .unwrap()
                };
                json!({"question_id": qid, "option_id": option})
            })
            .collect();
        self.post(
            &format!("/api/lms/v1/quiz/{quiz_id}/submit"),
            Some(token),
            json!({"attempt_id": d["attempt_id"], "answers": answers}),
        )
        .await
    }

    pub async fn sign_off(&self, instructor: &str, learner: &str, course_id: &str) -> (u16, Value) {
        self.sign_off_as(instructor, learner, course_id, "dr. Andi Wijaya")
            .await
    }

    /// Sign off every checklist skill, as an instructor of the given name.
    pub async fn sign_off_as(
        &self,
        instructor: &str,
        learner: &str,
        course_id: &str,
        instructor_name: &str,
    ) -> (u16, Value) {
        let (_, c) = self
            .get(&format!("/api/lms/v1/courses/{course_id}"), None)
            .await;
        let items: Vec<Value> = c["data"]["practical_checklist"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].clone())
            .collect();
        // The instructor checks the enrolment's name against the learner's identity card.
        let holder_name: String =
            sqlx::query("SELECT name FROM enrollments WHERE account_id = $1 AND course_id = $2")
                .bind(learner)
                .bind(course_id)
                .fetch_optional(self.db.pool())
                .await
                .unwrap()
                .map(|r| r.get(0))
                .unwrap_or_else(|| "Tidak Terdaftar".into());
        self.post(
            "/api/lms/v1/practical/signoff",
            Some(instructor),
            json!({"account_id": learner, "course_id": course_id, "holder_name": holder_name, "instructor_name": instructor_name,
                   "location": "Puskesmas Menteng, Jakarta Pusat", "items": items}),
        )
        .await
    }

    /// Enrol, learn, pass the post-test and get signed off by a training admin: the public
    /// id of the certificate.
    pub async fn certify(&self, learner: &str, name: &str, course_id: &str) -> String {
        let token = self.token(learner, &["volunteer"]);
        let (s, b) = self.enroll(&token, course_id, name).await;
        assert_eq!(s, 201, "{b}");
        self.complete_all_lessons(&token, course_id).await;
        let (s, b) = self
            .take_quiz(&token, &format!("{course_id}-post"), 100)
            .await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["data"]["passed"], true);
        let admin = self.token("admin-1", &["training_admin"]);
        let (s, b) = self.sign_off(&admin, learner, course_id).await;
        assert_eq!(s, 201, "{b}");
        b["data"]["certificate_id"].as_str().unwrap().to_string()
    }
}
