//! The LMS over HTTP against the real service, each case on SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod app;
mod attacks;
mod belajar;
mod jose;
mod structure;

use std::path::PathBuf;

use kreki_lms::{
    MIGRATIONS, credential,
    store::{Store, register_number},
};
use kreki_platform::{storage::Db, storage_conformance, testkit, time_util::now_micros};
use serde_json::{Value, json};

use crate::app::start;

fn year() -> i32 {
    time::OffsetDateTime::now_utc().year()
}

async fn catalogue_is_public_and_seeded(db: Db) {
    let app = start(db).await;
    let (s, list) = app.get("/api/lms/v1/courses", None).await;
    assert_eq!(s, 200, "{list}");
    let rows: Vec<(String, i64, i64, i64, i64)> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["level"].as_str().unwrap().to_string(),
                c["hours"].as_i64().unwrap(),
                c["pass_mark"].as_i64().unwrap(),
                c["validity_years"].as_i64().unwrap(),
                c["recertification_window_months"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("basic".to_string(), 16, 70, 2, 3),
            ("plus".to_string(), 24, 75, 2, 3),
            ("instructor".to_string(), 40, 80, 3, 6)
        ]
    );
    assert_eq!(list["data"][1]["requires"], "basic");
    assert_eq!(list["data"][2]["requires"], "plus");
    let (s, c) = app.get("/api/lms/v1/courses/bhd-basic", None).await;
    assert_eq!(s, 200);
    let text = c.to_string();
    for needle in [
        "119",
        "30:2",
        "100–120",
        "5–6 cm",
        "AED",
        "posisi pemulihan",
        "Tersedak",
        "Cek respons",
    ] {
        assert!(text.contains(needle), "course outline lacks {needle}");
    }
    assert!(!text.contains("correct"), "no answers in the catalogue");
    let kinds: std::collections::BTreeSet<&str> = c["data"]["modules"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|m| {
            m["lessons"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l["kind"].as_str().unwrap())
        })
        .collect();
    assert_eq!(kinds, ["image", "text", "video"].into_iter().collect());
    assert_eq!(c["data"]["quizzes"].as_array().unwrap().len(), 2);
    assert_eq!(
        c["data"]["practical_checklist"].as_array().unwrap().len(),
        9
    );
    // English on request.
    let res = app
        .client
        .get(format!("{}/api/lms/v1/courses/bhd-basic", app.url))
        .header("accept-language", "en")
        .send()
        .await
        .unwrap();
    let en: Value = res.json().await.unwrap();
    assert_eq!(en["data"]["title"], "BHD Basic");
    let (s, e) = app.get("/api/lms/v1/courses/nope", None).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (404, Some("LMS_COURSE_NOT_FOUND"))
    );
    // A restart seeds nothing twice.
    let again = Store::open(app.db.clone(), app.url.clone()).await.unwrap();
    assert_eq!(again.courses(false).await.unwrap().len(), 3);
}
storage_conformance!(
    catalogue,
    "lms",
    super::MIGRATIONS,
    super::catalogue_is_public_and_seeded
);

async fn enrol_learn_test_sign_off_certificate_revoke(db: Db) {
    let app = start(db).await;
    let learner = app.token("learner-1", &["volunteer"]);
    let stranger = app.token("stranger", &["volunteer"]);
    let admin = app.token("admin-1", &["training_admin"]);
    // Enrolment: sign-in, body checks, prerequisites, twice.
    assert_eq!(
        app.post(
            "/api/lms/v1/enroll",
            None,
            json!({"course_id": "bhd-basic", "name": "x"})
        )
        .await
        .0,
        401
    );
    let (s, e) = app.enroll(&learner, "bhd-basic", "   ").await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (422, Some("VALIDATION_FAILED"))
    );
    let (s, e) = app
        .post(
            "/api/lms/v1/enroll",
            Some(&learner),
            json!({"course_id": "bhd-basic", "name": "A", "extra": 1}),
        )
        .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (422, Some("VALIDATION_UNKNOWN_FIELD"))
    );
    let (s, e) = app.enroll(&learner, "bhd-nope", "Siti Rahma").await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (404, Some("LMS_COURSE_NOT_FOUND"))
    );
    let (s, e) = app.enroll(&learner, "bhd-plus", "Siti Rahma").await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (409, Some("LMS_PREREQUISITE_MISSING"))
    );
    assert_eq!(e["error"]["details"]["requires"], "basic");
    let (s, _) = app.enroll(&learner, "bhd-basic", "Siti Rahma").await;
    assert_eq!(s, 201);
    let (s, e) = app.enroll(&learner, "bhd-basic", "Siti Rahma").await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (409, Some("LMS_ALREADY_ENROLLED"))
    );
    // Lessons: not enrolled, unknown.
    let (s, e) = app
        .post(
            "/api/lms/v1/lessons/bhd-basic-m1-l1/complete",
            Some(&stranger),
            json!({}),
        )
        .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (403, Some("LMS_NOT_ENROLLED"))
    );
    let (s, e) = app
        .post(
            "/api/lms/v1/lessons/nope/complete",
            Some(&learner),
            json!({}),
        )
        .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (404, Some("LMS_LESSON_NOT_FOUND"))
    );
    // Pre-test at once (one attempt); the post-test waits for the lessons.
    let (s, pre) = app.take_quiz(&learner, "bhd-basic-pre", 4).await;
    assert_eq!(s, 200, "{pre}");
    assert_eq!(
        (
            pre["data"]["percent"].as_i64(),
            pre["data"]["passed"].as_bool()
        ),
        (Some(40), Some(false))
    );
    let (s, e) = app
        .post(
            "/api/lms/v1/quiz/bhd-basic-pre/start",
            Some(&learner),
            json!({}),
        )
        .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (409, Some("LMS_ATTEMPT_LIMIT_REACHED"))
    );
    let (s, e) = app
        .post(
            "/api/lms/v1/quiz/bhd-basic-post/start",
            Some(&learner),
            json!({}),
        )
        .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (409, Some("LMS_LESSONS_INCOMPLETE"))
    );
    let (s, e) = app
        .post(
            "/api/lms/v1/quiz/bhd-basic-post/start",
            Some(&stranger),
            json!({}),
        )
        .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (403, Some("LMS_NOT_ENROLLED"))
    );
    let (s, e) = app
        .post("/api/lms/v1/quiz/nope/start", Some(&learner), json!({}))
        .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (404, Some("LMS_QUIZ_NOT_FOUND"))
    );
    app.complete_all_lessons(&learner, "bhd-basic").await;
    let (_, p) = app.get("/api/lms/v1/progress", Some(&learner)).await;
    assert_eq!(p["data"][0]["lessons_done"], p["data"][0]["lessons_total"]);
    assert_eq!(p["data"][0]["pre_test_percent"], 40);
    // Post-test: questions without answers, in a random order; bad submissions leave it open.
    let (s, started) = app
        .post(
            "/api/lms/v1/quiz/bhd-basic-post/start",
            Some(&learner),
            json!({}),
        )
        .await;
    assert_eq!(s, 201);
    let qtext = started.to_string();
    assert!(
        !qtext.contains("correct"),
        "answers are never sent before submission"
    );
    let attempt = started["data"]["attempt_id"].as_str().unwrap().to_string();
    let qs = started["data"]["questions"].as_array().unwrap().clone();
    assert_eq!(qs.len(), 10);
    let submit = |answers: Value| {
        app.post(
            "/api/lms/v1/quiz/bhd-basic-post/submit",
            Some(&learner),
            json!({"attempt_id": attempt, "answers": answers}),
        )
    };
    let (s, e) = submit(json!([{"question_id": "bhd-plus-q01", "option_id": "a"}])).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (422, Some("LMS_UNKNOWN_QUESTION"))
    );
    assert_eq!(e["error"]["details"]["question_ids"][0], "bhd-plus-q01");
    let q0 = qs[0]["id"].as_str().unwrap();
    let (s, e) = submit(json!([{"question_id": q0, "option_id": "z"}])).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (422, Some("LMS_UNKNOWN_OPTION"))
    );
    let (s, e) = submit(
        json!([{"question_id": q0, "option_id": "a"}, {"question_id": q0, "option_id": "b"}]),
    )
    .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (422, Some("LMS_DUPLICATE_ANSWER"))
    );
    let (s, e) = app
        .post(
            "/api/lms/v1/quiz/bhd-basic-post/submit",
            Some(&stranger),
            json!({"attempt_id": attempt, "answers": []}),
        )
        .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (403, Some("LMS_NOT_ENROLLED"))
    );
    // Starting again continues the open attempt.
    let (_, again) = app
        .post(
            "/api/lms/v1/quiz/bhd-basic-post/start",
            Some(&learner),
            json!({}),
        )
        .await;
    assert_eq!(again["data"]["attempt_id"], attempt.as_str());
    let key = app.answers("bhd-basic").await;
    let answers: Vec<Value> = qs
        .iter()
        .map(|q| {
            let id = q["id"].as_str().unwrap();
            json!({"question_id": id, "option_id": key.iter().find(|(k, _)| k == id).unwrap().1})
        })
        .collect();
    let (s, r) = submit(json!(answers)).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(
        (r["data"]["score"].as_i64(), r["data"]["percent"].as_i64()),
        (Some(10), Some(100))
    );
    assert_eq!(r["data"]["passed"], true);
    assert_eq!(r["data"]["review"].as_array().unwrap().len(), 10);
    assert!(
        r["data"].get("certificate_id").is_none(),
        "no certificate before the practical"
    );
    let (s, e) = submit(json!(answers)).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (409, Some("LMS_ATTEMPT_ALREADY_SUBMITTED"))
    );
    let (_, hist) = app.get("/api/lms/v1/results", Some(&learner)).await;
    assert_eq!(hist["data"].as_array().unwrap().len(), 2, "{hist}");
    assert_eq!(hist["data"][0]["kind"], "post");
    // The instructor's view: pending sign-off.
    let (s, e) = app
        .get("/api/lms/v1/instructor/participants", Some(&stranger))
        .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (403, Some("LMS_NOT_INSTRUCTOR"))
    );
    let (s, parts) = app
        .get(
            "/api/lms/v1/instructor/participants?pending=true",
            Some(&admin),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(parts["data"][0]["account_id"], "learner-1");
    assert_eq!(parts["data"][0]["pending_signoff"], true);
    assert_eq!(parts["data"][0]["post_test_best_percent"], 100);
    assert_eq!(
        (
            parts["meta"]["total"].as_u64(),
            parts["meta"]["page"].as_u64()
        ),
        (Some(1), Some(1))
    );
    let (s, e) = app
        .get("/api/lms/v1/instructor/participants?limit=0", Some(&admin))
        .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (422, Some("VALIDATION_FAILED"))
    );
    let (_, none) = app
        .get(
            "/api/lms/v1/instructor/participants?course_id=bhd-plus",
            Some(&admin),
        )
        .await;
    assert_eq!(none["meta"]["total"], 0);
    // Sign-off: a non-instructor is refused before the body is read; checklist complete.
    let (s, e) = app.sign_off(&stranger, "learner-1", "bhd-basic").await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (403, Some("LMS_NOT_INSTRUCTOR"))
    );
    let (s, e) = app
        .post("/api/lms/v1/practical/signoff", Some(&admin), json!({"account_id": "learner-1", "course_id": "bhd-basic",
            "holder_name": "Siti Rahma", "instructor_name": "dr. Andi", "location": "Puskesmas Menteng", "items": ["scene_safety"]}))
        .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (422, Some("LMS_CHECKLIST_INCOMPLETE"))
    );
    let (s, e) = app
        .post(
            "/api/lms/v1/practical/signoff",
            Some(&admin),
            json!({"account_id": "learner-1", "course_id": "bhd-basic",
            "holder_name": "Siti Rahma", "instructor_name": "dr. Andi", "location": "Puskesmas Menteng", "items": ["juggling"]}),
        )
        .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (422, Some("LMS_UNKNOWN_SKILL"))
    );
    assert!(
        app.events().await.is_empty(),
        "nothing issued by refused requests"
    );
    let (s, so) = app.sign_off(&admin, "learner-1", "bhd-basic").await;
    assert_eq!(s, 201, "{so}");
    assert_eq!(so["data"]["instructor_id"], "admin-1");
    assert_eq!(so["data"]["location"], "Puskesmas Menteng, Jakarta Pusat");
    assert!(so["data"]["signed_at"].as_str().is_some());
    let id = so["data"]["certificate_id"].as_str().unwrap().to_string();
    let number = format!("BHD-BASIC-{}-0001", year());
    assert_eq!(
        register_number(&id),
        number,
        "the public id holds the number"
    );
    let (s, e) = app.sign_off(&admin, "learner-1", "bhd-basic").await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (409, Some("LMS_ALREADY_SIGNED_OFF"))
    );
    // Events: issued + the e-mail with the PDF attached.
    let events = app.events().await;
    let subjects: Vec<&str> = events.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(
        subjects,
        ["lms.certificate.issued", "notify.message.requested"]
    );
    assert_eq!(events[0].1["certificate_id"], number.as_str());
    assert_eq!(events[0].1["holder_id"], "learner-1");
    assert_eq!(events[0].1["level"], "basic");
    let msg = &events[1].1;
    assert_eq!(msg["template"], "certificate_issued");
    assert_eq!(msg["recipient_id"], "learner-1");
    assert_eq!(msg["vars"]["certificate_id"], number.as_str());
    assert!(
        msg["vars"]["link"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/verify/{id}"))
    );
    assert_eq!(msg["attachments"][0]["content_type"], "application/pdf");
    assert!(
        msg["attachments"][0]["content_base64"]
            .as_str()
            .unwrap()
            .starts_with("JVBERi")
    ); // %PDF
    // Public record and page.
    let (s, c) = app
        .get(&format!("/api/lms/v1/certificate/{id}"), None)
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        (
            c["data"]["status"].as_str(),
            c["data"]["holder_name"].as_str()
        ),
        (Some("valid"), Some("Siti R."))
    );
    let page = app.raw(&format!("/verify/{id}"), None).await;
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'")
    );
    let html = page.text().await.unwrap();
    assert!(
        html.contains("data-status=\"valid\"")
            && html.contains("BERLAKU")
            && html.contains("Siti R.")
            && !html.contains("Rahma")
    );
    let html_en = app
        .raw(&format!("/verify/{id}?lang=en"), None)
        .await
        .text()
        .await
        .unwrap();
    assert!(html_en.contains("VALID") && html_en.contains("lang=\"en\""));
    let unknown = app
        .raw(&format!("/verify/BHD-BASIC-{}-9999", year()), None)
        .await;
    assert_eq!(unknown.status(), 404);
    assert!(
        unknown
            .text()
            .await
            .unwrap()
            .contains("data-status=\"unknown\"")
    );
    let (s, e) = app
        .get("/api/lms/v1/certificate/BHD-BASIC-1999-0001", None)
        .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (404, Some("LMS_CERTIFICATE_NOT_FOUND"))
    );
    // PDF: the holder, not a stranger.
    let pdf = app
        .raw(&format!("/api/lms/v1/certificate/{id}/pdf"), Some(&learner))
        .await;
    assert_eq!(pdf.status(), 200);
    assert_eq!(pdf.headers()["content-type"], "application/pdf");
    let bytes = pdf.bytes().await.unwrap();
    assert!(bytes.starts_with(b"%PDF-"));
    assert!(String::from_utf8_lossy(&bytes).contains("Siti Rahma"));
    assert_eq!(
        app.raw(
            &format!("/api/lms/v1/certificate/{id}/pdf"),
            Some(&stranger)
        )
        .await
        .status(),
        404
    );
    assert_eq!(
        app.raw(&format!("/api/lms/v1/certificate/{id}/pdf"), None)
            .await
            .status(),
        401
    );
    let (_, mine) = app
        .get("/api/lms/v1/certificates/mine", Some(&learner))
        .await;
    assert_eq!(mine["data"][0]["id"], id.as_str());
    // The credential verifies offline; the status list says not revoked.
    let (s, cred) = app
        .get(
            &format!("/api/lms/v1/certificate/{id}/credential"),
            Some(&learner),
        )
        .await;
    assert_eq!(s, 200);
    let jwt = cred["data"]["credential"].as_str().unwrap().to_string();
    let (_, iss) = app.get("/api/lms/v1/issuer", None).await;
    let did = iss["data"]["did"].as_str().unwrap().to_string();
    assert_eq!(cred["data"]["issuer"], did.as_str());
    let list = app.raw("/api/lms/v1/credentials/status/1", None).await;
    assert_eq!(list.headers()["content-type"], "application/vc+jwt");
    let list = list.text().await.unwrap();
    let now = now_micros() / 1_000_000;
    let v = credential::verify_credential(&jwt, Some(&list), Some(&did), now).unwrap();
    assert_eq!(v.revoked, Some(false));
    assert_eq!(v.certificate_id(), Some(id.as_str()));
    assert_eq!(v.claims["type"][1], "OpenBadgeCredential");
    // Progress shows the certificate; Plus is now open.
    let (_, p) = app.get("/api/lms/v1/progress", Some(&learner)).await;
    assert_eq!(p["data"][0]["certificate_id"], id.as_str());
    assert_eq!(app.enroll(&learner, "bhd-plus", "Siti Rahma").await.0, 201);
    // Revocation: admin only, with a reason.
    let rpath = format!("/api/lms/v1/certificate/{id}/revoke");
    assert_eq!(
        app.post(&rpath, Some(&learner), json!({"reason": "x"}))
            .await
            .0,
        403
    );
    let (s, e) = app
        .post(&rpath, Some(&admin), json!({"reason": "  "}))
        .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (422, Some("VALIDATION_FAILED"))
    );
    let (s, r) = app
        .post(
            &rpath,
            Some(&admin),
            json!({"reason": "Pelanggaran kode etik"}),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["data"]["status"], "revoked");
    let (s, e) = app
        .post(&rpath, Some(&admin), json!({"reason": "lagi"}))
        .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (409, Some("LMS_CERTIFICATE_ALREADY_REVOKED"))
    );
    let html = app
        .raw(&format!("/verify/{id}"), None)
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("data-status=\"revoked\"") && !html.contains("Pelanggaran kode etik"));
    let list = app
        .raw("/api/lms/v1/credentials/status/1", None)
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(
        credential::verify_credential(&jwt, Some(&list), Some(&did), now).unwrap_err(),
        credential::Invalid::Revoked
    );
    let events = app.events().await;
    let (subject, data) = events.last().unwrap();
    assert_eq!(subject, "lms.certificate.revoked");
    assert_eq!(data["reason"], "Pelanggaran kode etik");
    // The JWKS names the same key.
    let (_, jwks) = app.get("/api/lms/v1/.well-known/jwks.json", None).await;
    assert_eq!(jwks["keys"][0]["kid"], iss["data"]["kid"]);
    assert_eq!(jwks["keys"][0]["crv"], "Ed25519");
    // The independent JOSE library agrees (and refuses an altered credential).
    crate::jose::check_with_jose(&jwt, &jwks).await;
}
storage_conformance!(
    flow,
    "lms",
    super::MIGRATIONS,
    super::enrol_learn_test_sign_off_certificate_revoke
);

async fn time_limit_closes_the_attempt(db: Db) {
    let app = start(db).await;
    let learner = app.token("late-1", &["volunteer"]);
    app.enroll(&learner, "bhd-basic", "Budi").await;
    let (_, started) = app
        .post(
            "/api/lms/v1/quiz/bhd-basic-pre/start",
            Some(&learner),
            json!({}),
        )
        .await;
    let attempt = started["data"]["attempt_id"].as_str().unwrap();
    assert_eq!(started["data"]["time_limit_s"], 900);
    // The clock moves on: the deadline passed a minute ago.
    sqlx::query("UPDATE attempts SET deadline = $1 WHERE id = $2")
        .bind(now_micros() - 60_000_000)
        .bind(attempt)
        .execute(app.db.pool())
        .await
        .unwrap();
    let (s, e) = app
        .post(
            "/api/lms/v1/quiz/bhd-basic-pre/submit",
            Some(&learner),
            json!({"attempt_id": attempt, "answers": []}),
        )
        .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (409, Some("LMS_ATTEMPT_TIME_UP"))
    );
    let (_, hist) = app.get("/api/lms/v1/results", Some(&learner)).await;
    assert_eq!(hist["data"][0]["status"], "expired");
    assert_eq!(hist["data"][0]["score"], 0);
    let (s, e) = app
        .post(
            "/api/lms/v1/quiz/bhd-basic-pre/submit",
            Some(&learner),
            json!({"attempt_id": attempt, "answers": []}),
        )
        .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (409, Some("LMS_ATTEMPT_ALREADY_SUBMITTED"))
    );
    let (s, e) = app
        .post(
            "/api/lms/v1/quiz/bhd-basic-pre/submit",
            Some(&learner),
            json!({"attempt_id": "nope", "answers": []}),
        )
        .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (404, Some("LMS_ATTEMPT_NOT_FOUND"))
    );
}
storage_conformance!(
    time_limit,
    "lms",
    super::MIGRATIONS,
    super::time_limit_closes_the_attempt
);

async fn numbers_are_gap_free_under_concurrency(db: Db) {
    let app = start(db).await;
    let n = 8;
    let admin = app.token("admin-1", &["training_admin"]);
    for i in 0..n {
        let t = app.token(&format!("c-{i}"), &["volunteer"]);
        app.enroll(&t, "bhd-basic", &format!("Peserta {i}")).await;
        app.complete_all_lessons(&t, "bhd-basic").await;
        assert_eq!(app.take_quiz(&t, "bhd-basic-post", 10).await.0, 200);
    }
    // All sign-offs at once: each issues in its own transaction.
    let futs = (0..n).map(|i| {
        let admin = admin.clone();
        let app = &app;
        async move { app.sign_off(&admin, &format!("c-{i}"), "bhd-basic").await }
    });
    let results = futures::future::join_all(futs).await;
    let mut ids: Vec<String> = results
        .iter()
        .map(|(s, b)| {
            assert_eq!(*s, 201, "{b}");
            register_number(b["data"]["certificate_id"].as_str().unwrap()).to_string()
        })
        .collect();
    ids.sort();
    let want: Vec<String> = (1..=n)
        .map(|k| format!("BHD-BASIC-{}-{k:04}", year()))
        .collect();
    assert_eq!(ids, want);
    // The instructor's list pages.
    let (_, p1) = app
        .get(
            "/api/lms/v1/instructor/participants?limit=3&page=3",
            Some(&admin),
        )
        .await;
    assert_eq!(p1["meta"]["total"], n);
    assert_eq!(p1["data"].as_array().unwrap().len(), 2);
    assert!(
        p1["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["practical_signed_off"] == true && p["certificate_id"].is_string())
    );
    // Status list indexes are distinct too.
    let idx: std::collections::BTreeSet<i64> =
        sqlx::query_scalar::<_, i64>("SELECT status_index FROM certificates")
            .fetch_all(app.db.pool())
            .await
            .unwrap()
            .into_iter()
            .collect();
    assert_eq!(idx.len(), n);
}
storage_conformance!(
    gap_free,
    "lms",
    super::MIGRATIONS,
    super::numbers_are_gap_free_under_concurrency
);

async fn instructor_chain_and_reminders(db: Db) {
    let app = start(db).await;
    // An instructor is made: Basic → Plus → Instructor.
    let basic = app.certify("inst-1", "Rina Instruktur", "bhd-basic").await;
    let (s, e) = app
        .enroll(
            &app.token("inst-1", &["volunteer"]),
            "bhd-instructor",
            "Rina Instruktur",
        )
        .await;
    assert_eq!(
        (s, e["error"]["details"]["requires"].as_str()),
        (409, Some("plus"))
    );
    app.certify("inst-1", "Rina Instruktur", "bhd-plus").await;
    let inst = app
        .certify("inst-1", "Rina Instruktur", "bhd-instructor")
        .await;
    assert_eq!(register_number(&inst), format!("BHD-INST-{}-0001", year()));
    // Holding a valid Instructor certificate is enough to sign off (no admin role).
    let instructor = app.token("inst-1", &["volunteer"]);
    let learner = app.token("learner-9", &["volunteer"]);
    app.enroll(&learner, "bhd-basic", "Dewi").await;
    app.complete_all_lessons(&learner, "bhd-basic").await;
    let (_, parts) = app
        .get(
            "/api/lms/v1/instructor/participants?course_id=bhd-basic",
            Some(&instructor),
        )
        .await;
    assert!(
        parts["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["account_id"] == "learner-9")
    );
    // Sign-off first, post-test second: the passing submission issues the certificate.
    let (s, so) = app.sign_off(&instructor, "learner-9", "bhd-basic").await;
    assert_eq!(s, 201, "{so}");
    assert_eq!(so["data"]["instructor_id"], "inst-1");
    assert!(so["data"].get("certificate_id").is_none());
    let (s, fail) = app.take_quiz(&learner, "bhd-basic-post", 6).await;
    assert_eq!(
        (s, fail["data"]["passed"].as_bool()),
        (200, Some(false)),
        "60 % < 70 %"
    );
    let (s, pass) = app.take_quiz(&learner, "bhd-basic-post", 7).await;
    assert_eq!(
        (s, pass["data"]["passed"].as_bool()),
        (200, Some(true)),
        "70 % passes Basic"
    );
    assert_eq!(
        register_number(pass["data"]["certificate_id"].as_str().unwrap()),
        format!("BHD-BASIC-{}-0002", year())
    );
    // Instructors cannot sign off themselves.
    let (s, e) = app.sign_off(&instructor, "inst-1", "bhd-basic").await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (403, Some("LMS_SELF_SIGNOFF"))
    );
    // Reminders: nothing before the window, once when it opens (3 months before a 2-year
    // Basic, 6 months before a 3-year Instructor).
    let store = Store::open(app.db.clone(), app.url.clone()).await.unwrap();
    let now = now_micros();
    let day = 86_400_000_000i64;
    assert_eq!(store.sweep_expiring(now).await.unwrap(), 0);
    let before = app.events().await.len();
    // 2 years minus 80 days: Basic and Plus windows open, Instructor (6 months) too.
    let n = store
        .sweep_expiring(now + 2 * 365 * day - 80 * day)
        .await
        .unwrap();
    // Instructor (3 years, window 6 months) is not due yet.
    assert_eq!(n, 3, "basic and plus of inst-1, basic of learner-9");
    assert_eq!(
        store
            .sweep_expiring(now + 2 * 365 * day - 70 * day)
            .await
            .unwrap(),
        0,
        "idempotent"
    );
    let events = app.events().await;
    let new: Vec<&(String, Value)> = events[before..].iter().collect();
    assert_eq!(
        new.iter()
            .filter(|(s, _)| s == "lms.certificate.expiring")
            .count(),
        3
    );
    assert!(
        !new.iter()
            .any(|(_, d)| d["certificate_id"] == register_number(&inst))
    );
    let n = store
        .sweep_expiring(now + 3 * 365 * day - 150 * day)
        .await
        .unwrap();
    assert_eq!(n, 1, "the Instructor window opens 6 months before expiry");
    let reminder = new
        .iter()
        .find(|(s, d)| {
            s == "notify.message.requested"
                && d["vars"]["certificate_id"] == register_number(&basic)
        })
        .unwrap();
    assert_eq!(reminder.1["template"], "recertification_reminder");
    assert_eq!(reminder.1["vars"]["name"], "Rina Instruktur");
    assert!(reminder.1["vars"]["expires_on"].as_str().unwrap().len() == 10);
}
storage_conformance!(
    instructor,
    "lms",
    super::MIGRATIONS,
    super::instructor_chain_and_reminders
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_snapshot() {
    let (db, _guard) = testkit::sqlite_db("lms", MIGRATIONS).await;
    let app = start(db).await;
    let (s, doc) = app.get("/api/lms/v1/openapi.json", None).await;
    assert_eq!(s, 200);
    for p in [
        "/api/lms/v1/courses",
        "/api/lms/v1/quiz/{id}/submit",
        "/api/lms/v1/certificate/{id}",
    ] {
        assert!(doc["paths"][p].is_object(), "{p}");
    }
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("openapi-lms.json");
    testkit::assert_json_snapshot(&file, &doc);
}

storage_conformance!(
    pages,
    "lms",
    super::MIGRATIONS,
    crate::belajar::learner_and_instructor_pages
);

async fn recertification_round(db: Db) {
    let app = start(db).await;
    let first = app.certify("re-1", "Sari", "bhd-basic").await;
    let t = app.token("re-1", &["volunteer"]);
    // Far from expiry: no new round.
    let (s, e) = app.enroll(&t, "bhd-basic", "Sari").await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (409, Some("LMS_ALREADY_ENROLLED"))
    );
    // The clock moves on: one month before expiry, inside the 3-month window.
    sqlx::query("UPDATE certificates SET valid_until = $1 WHERE public_id = $2")
        .bind(now_micros() + 30 * 86_400_000_000)
        .bind(&first)
        .execute(app.db.pool())
        .await
        .unwrap();
    let (s, _) = app.enroll(&t, "bhd-basic", "Sari Dewi").await;
    assert_eq!(s, 201, "a new round opens in the window");
    let (_, p) = app.get("/api/lms/v1/progress", Some(&t)).await;
    let p = &p["data"][0];
    assert_eq!(
        (
            p["post_test_passed"].as_bool(),
            p["practical_signed_off"].as_bool()
        ),
        (Some(false), Some(false))
    );
    assert_eq!(p["post_test_attempts_left"], 3);
    assert_eq!(
        p["certificate_id"],
        first.as_str(),
        "the old one still counts until it expires"
    );
    let (s, r) = app.take_quiz(&t, "bhd-basic-post", 10).await;
    assert_eq!(s, 200, "{r}");
    assert!(
        r["data"].get("certificate_id").is_none(),
        "a new sign-off is needed too"
    );
    let admin = app.token("admin-1", &["training_admin"]);
    let (s, so) = app.sign_off(&admin, "re-1", "bhd-basic").await;
    assert_eq!(s, 201, "{so}");
    let second = so["data"]["certificate_id"].as_str().unwrap().to_string();
    assert_eq!(
        register_number(&second),
        format!("BHD-BASIC-{}-0002", year())
    );
    let (_, c) = app
        .get(&format!("/api/lms/v1/certificate/{second}"), None)
        .await;
    assert_eq!(c["data"]["holder_name"], "Sari D.");
    let (_, mine) = app.get("/api/lms/v1/certificates/mine", Some(&t)).await;
    assert_eq!(mine["data"][0]["holder_name"], "Sari Dewi");
    assert_eq!(app.sign_off(&admin, "re-1", "bhd-basic").await.0, 409);
    // The old one expires: page and API say so.
    sqlx::query("UPDATE certificates SET valid_until = $1 WHERE public_id = $2")
        .bind(now_micros() - 1_000_000)
        .bind(&first)
        .execute(app.db.pool())
        .await
        .unwrap();
    let (_, c) = app
        .get(&format!("/api/lms/v1/certificate/{first}"), None)
        .await;
    assert_eq!(c["data"]["status"], "expired");
    let html = app
        .raw(&format!("/verify/{first}"), None)
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("data-status=\"expired\"") && html.contains("KEDALUWARSA"));
}
storage_conformance!(
    recertification,
    "lms",
    super::MIGRATIONS,
    super::recertification_round
);

/// Certificates issued before public ids existed get one at the next start, and their
/// credential is signed again with the new verification URL.
async fn older_certificates_get_public_ids(db: Db) {
    let app = start(db).await;
    let old = app.certify("old-1", "Tari", "bhd-basic").await;
    sqlx::query("UPDATE certificates SET public_id = NULL")
        .execute(app.db.pool())
        .await
        .unwrap();
    assert_eq!(
        app.get(&format!("/api/lms/v1/certificate/{old}"), None)
            .await
            .0,
        404
    );
    Store::open(app.db.clone(), app.url.clone()).await.unwrap();
    let (id, jwt): (String, String) =
        sqlx::query_as("SELECT public_id, credential FROM certificates WHERE account_id = 'old-1'")
            .fetch_one(app.db.pool())
            .await
            .unwrap();
    assert_ne!(id, old, "a new secret part");
    assert_eq!(register_number(&id), register_number(&old));
    let (s, c) = app
        .get(&format!("/api/lms/v1/certificate/{id}"), None)
        .await;
    assert_eq!((s, c["data"]["holder_name"].as_str()), (200, Some("Tari")));
    let (_, iss) = app.get("/api/lms/v1/issuer", None).await;
    let v = credential::verify_credential(
        &jwt,
        None,
        iss["data"]["did"].as_str(),
        now_micros() / 1_000_000,
    )
    .unwrap();
    assert_eq!(v.certificate_id(), Some(id.as_str()));
    // A second start changes nothing.
    Store::open(app.db.clone(), app.url.clone()).await.unwrap();
    let again: String =
        sqlx::query_scalar("SELECT public_id FROM certificates WHERE account_id = 'old-1'")
            .fetch_one(app.db.pool())
            .await
            .unwrap();
    assert_eq!(again, id);
}
storage_conformance!(
    public_id_backfill,
    "lms",
    super::MIGRATIONS,
    super::older_certificates_get_public_ids
);
