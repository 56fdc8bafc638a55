//! The LMS service over real HTTP (port 0) on a given database: the same descriptor,
//! `mount` and outer stack as `kreki up` / `kreki serve`. The outbox relay is not started,
//! so the tests read the events a request wrote from the outbox table.

use std::sync::Arc;

use kreki_platform::{bus::Bus, config::Config, storage::Db, testkit::Harness};
use serde_json::{Value, json};
use sqlx::Row;

pub struct App {
    pub url: String,
    pub client: reqwest::Client,
    pub db: Db,
    /// The bus the service's consumers read (events of other services are published here).
    pub bus: Arc<dyn Bus>,
    harness: Harness,
}

pub async fn start(db: Db) -> App {
    start_with(db, |_| {}).await
}

pub async fn start_with(db: Db, change: impl FnOnce(&mut Config)) -> App {
    let mut config = Config::default();
    change(&mut config);
    let mut h = Harness::new("lms", db.clone(), config).await;
    let desc = kreki_lms::descriptor();
    let built = (desc.build)(h.ctx.clone()).await.unwrap();
    h.serve(&desc, built);
    App {
        url: h.url.clone(),
        client: h.client.clone(),
        db,
        bus: h.bus.clone(),
        harness: h,
    }
}

impl App {
    pub fn token(&self, sub: &str, roles: &[&str]) -> String {
        self.harness.token(sub, roles)
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
