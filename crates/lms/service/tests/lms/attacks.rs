//! Attacks from the outside security review, each performed over HTTP against the real
//! service and asserted to fail (finding numbers of the review in the names' comments).

use std::{collections::BTreeSet, time::Duration};

use kreki_platform::{storage::Db, storage_conformance, testkit};
use serde_json::{Value, json};

use crate::{
    app::{App, start, start_with},
    belajar::{fake_idp, page, sign_in},
    year,
};

const ERASED: &str = "identity.account.erased";

/// Enrol, learn and pass the post-test (no sign-off yet).
async fn pass_post_test(app: &App, learner: &str, name: &str, course_id: &str) {
    let token = app.token(learner, &["volunteer"]);
    let (s, b) = app.enroll(&token, course_id, name).await;
    assert_eq!(s, 201, "{b}");
    app.complete_all_lessons(&token, course_id).await;
    let (s, b) = app
        .take_quiz(&token, &format!("{course_id}-post"), 100)
        .await;
    assert_eq!((s, b["data"]["passed"].as_bool()), (200, Some(true)), "{b}");
}

// ---- finding 8: certificates could be enumerated with full names --------------------------

/// The attacker counts register numbers up from 0001 on the public API and the public page.
async fn guessed_register_numbers_find_nothing(db: Db) {
    let app = start(db).await;
    let id = app.certify("enum-1", "Budi Santoso", "bhd-basic").await;
    app.certify("enum-2", "Sri Wahyuni", "bhd-basic").await;
    let number = format!("BHD-BASIC-{}-0001", year());
    for n in 1..=3 {
        let guess = format!("BHD-BASIC-{}-{n:04}", year());
        let (s, b) = app
            .get(&format!("/api/lms/v1/certificate/{guess}"), None)
            .await;
        assert_eq!(
            (s, b["error"]["code"].as_str()),
            (404, Some("LMS_CERTIFICATE_NOT_FOUND")),
            "{guess}: {b}"
        );
        let res = app.raw(&format!("/verify/{guess}"), None).await;
        assert_eq!(res.status(), 404, "{guess}");
        let html = res.text().await.unwrap();
        assert!(!html.contains("Budi") && !html.contains("Sri"), "{html}");
    }
    // The public id (what the QR code carries): the register number and an unguessable part.
    let secret = id
        .strip_prefix(&format!("{number}-"))
        .unwrap_or_else(|| panic!("public id {id} is not the number plus a secret part"));
    assert!(
        secret.len() >= 16 && secret.chars().all(|c| c.is_ascii_alphanumeric()),
        "{secret}"
    );
    let (s, c) = app
        .get(&format!("/api/lms/v1/certificate/{id}"), None)
        .await;
    assert_eq!(s, 200, "{c}");
    assert_eq!(c["data"]["id"], id.as_str());
    assert_eq!(c["data"]["number"], number.as_str());
    assert!(c["data"]["verify_url"].as_str().unwrap().ends_with(&id));
    // Another secret part for the same number is not a certificate.
    let forged = format!("{number}-{}", "Z".repeat(secret.len()));
    assert_eq!(
        app.get(&format!("/api/lms/v1/certificate/{forged}"), None)
            .await
            .0,
        404
    );
    assert_eq!(
        app.raw(&format!("/verify/{forged}"), None).await.status(),
        404
    );
    // The PDF's QR code and printed link carry the public id.
    let learner = app.token("enum-1", &["volunteer"]);
    let pdf = app
        .raw(&format!("/api/lms/v1/certificate/{id}/pdf"), Some(&learner))
        .await
        .bytes()
        .await
        .unwrap();
    let drawing = pdf_drawing(&pdf);
    assert!(drawing.contains(&format!("/verify/{id}")), "{drawing}");
    // The holder's other endpoints do not answer to the bare number either.
    assert_eq!(
        app.raw(
            &format!("/api/lms/v1/certificate/{number}/pdf"),
            Some(&learner)
        )
        .await
        .status(),
        404
    );
}
storage_conformance!(
    enumeration,
    "lms",
    crate::MIGRATIONS,
    super::guessed_register_numbers_find_nothing
);

/// The inflated page drawing of a certificate PDF.
fn pdf_drawing(bytes: &[u8]) -> String {
    let start = bytes.windows(7).position(|w| w == b"stream\n").unwrap() + 7;
    let end = bytes.windows(10).position(|w| w == b"\nendstream").unwrap();
    let mut drawing = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::ZlibDecoder::new(&bytes[start..end]),
        &mut drawing,
    )
    .unwrap();
    drawing
}

/// Someone holding a public id (a scanned QR code) sees the holder's and the instructor's
/// names masked, and never the reason of a revocation.
async fn public_record_masks_names_and_keeps_the_reason_private(db: Db) {
    let app = start(db).await;
    let id = app.certify("mask-1", "Budi Santoso", "bhd-basic").await;
    let (s, c) = app
        .get(&format!("/api/lms/v1/certificate/{id}"), None)
        .await;
    assert_eq!(s, 200, "{c}");
    assert_eq!(c["data"]["holder_name"], "Budi S.");
    assert_eq!(c["data"]["instructor_name"], "Andi W.");
    let text = c.to_string();
    assert!(
        !text.contains("Santoso") && !text.contains("Wijaya"),
        "{text}"
    );
    let html = app
        .raw(&format!("/verify/{id}"), None)
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("Budi S."), "{html}");
    assert!(
        !html.contains("Santoso") && !html.contains("Wijaya"),
        "{html}"
    );
    // Revoked: the status flips, the reason stays with the register.
    let admin = app.token("admin-1", &["training_admin"]);
    let reason = "Data KTP palsu, dilaporkan oleh Puskesmas Menteng";
    let (s, r) = app
        .post(
            &format!("/api/lms/v1/certificate/{id}/revoke"),
            Some(&admin),
            json!({ "reason": reason }),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["data"]["revocation_reason"], reason, "the admin sees it");
    let (_, c) = app
        .get(&format!("/api/lms/v1/certificate/{id}"), None)
        .await;
    assert_eq!(c["data"]["status"], "revoked");
    assert!(c["data"].get("revocation_reason").is_none(), "{c}");
    assert!(!c.to_string().contains("KTP palsu"), "{c}");
    let html = app
        .raw(&format!("/verify/{id}?lang=en"), None)
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("data-status=\"revoked\""));
    assert!(!html.contains("KTP palsu"), "{html}");
    // The holder still sees the whole record.
    let learner = app.token("mask-1", &["volunteer"]);
    let (_, mine) = app
        .get("/api/lms/v1/certificates/mine", Some(&learner))
        .await;
    assert_eq!(mine["data"][0]["holder_name"], "Budi Santoso");
    assert_eq!(mine["data"][0]["revocation_reason"], reason);
}
storage_conformance!(
    masked,
    "lms",
    crate::MIGRATIONS,
    super::public_record_masks_names_and_keeps_the_reason_private
);

/// A learner enrols under a name that is not theirs; the certificate carries the name the
/// instructor checked at the sign-off.
async fn certificate_name_is_the_one_checked_at_signoff(db: Db) {
    let app = start(db).await;
    let forged = "Prof. dr. Budi Santoso, Sp.JP(K)";
    pass_post_test(&app, "name-1", forged, "bhd-basic").await;
    let admin = app.token("admin-1", &["training_admin"]);
    let (_, c) = app.get("/api/lms/v1/courses/bhd-basic", None).await;
    let items: Vec<Value> = c["data"]["practical_checklist"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].clone())
        .collect();
    let body = |extra: Value| {
        let mut b = json!({"account_id": "name-1", "course_id": "bhd-basic",
            "instructor_name": "dr. Andi Wijaya", "location": "Puskesmas Menteng", "items": items});
        if let (Some(b), Some(e)) = (b.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        b
    };
    // The instructor must state the checked name.
    let (s, e) = app
        .post(
            "/api/lms/v1/practical/signoff",
            Some(&admin),
            body(json!({})),
        )
        .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (422, Some("VALIDATION_FAILED")),
        "{e}"
    );
    let (s, so) = app
        .post(
            "/api/lms/v1/practical/signoff",
            Some(&admin),
            body(json!({"holder_name": "Budi Santoso"})),
        )
        .await;
    assert_eq!(s, 201, "{so}");
    assert_eq!(so["data"]["holder_name"], "Budi Santoso");
    let id = so["data"]["certificate_id"].as_str().unwrap();
    let learner = app.token("name-1", &["volunteer"]);
    let (_, mine) = app
        .get("/api/lms/v1/certificates/mine", Some(&learner))
        .await;
    assert_eq!(mine["data"][0]["holder_name"], "Budi Santoso");
    let pdf = app
        .raw(&format!("/api/lms/v1/certificate/{id}/pdf"), Some(&learner))
        .await
        .bytes()
        .await
        .unwrap();
    let drawing = pdf_drawing(&pdf);
    assert!(drawing.contains("Budi Santoso") && !drawing.contains("Prof."));
    let (_, cred) = app
        .get(
            &format!("/api/lms/v1/certificate/{id}/credential"),
            Some(&learner),
        )
        .await;
    let jwt = cred["data"]["credential"].as_str().unwrap();
    let (_, claims) = kreki_lms::credential::verify_jws(jwt).unwrap();
    assert_eq!(
        claims["credentialSubject"]["identifier"][0]["identityHash"],
        "Budi Santoso"
    );
    let (_, c) = app
        .get(&format!("/api/lms/v1/certificate/{id}"), None)
        .await;
    assert_eq!(c["data"]["holder_name"], "Budi S.");
}
storage_conformance!(
    checked_name,
    "lms",
    crate::MIGRATIONS,
    super::certificate_name_is_the_one_checked_at_signoff
);

// ---- finding 10: the post-test leaked its answer key -----------------------------------------

/// Question ids of a started attempt, and each question's option order.
fn drawn(started: &Value) -> Vec<(String, Vec<String>)> {
    started["data"]["questions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| {
            (
                q["id"].as_str().unwrap().to_string(),
                q["options"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|o| o["id"].as_str().unwrap().to_string())
                    .collect(),
            )
        })
        .collect()
}

fn ids(d: &[(String, Vec<String>)]) -> BTreeSet<String> {
    d.iter().map(|(q, _)| q.clone()).collect()
}

/// Answers to a drawn attempt: the first `right` correct, the rest wrong.
fn answer(d: &[(String, Vec<String>)], key: &[(String, String)], right: usize) -> Vec<Value> {
    d.iter()
        .enumerate()
        .map(|(i, (q, opts))| {
            let correct = &key.iter().find(|(k, _)| k == q).unwrap().1;
            let o = if i < right {
                correct.clone()
            } else {
                opts.iter().find(|o| *o != correct).unwrap().clone()
            };
            json!({"question_id": q, "option_id": o})
        })
        .collect()
}

async fn start_attempt(app: &App, token: &str, quiz: &str) -> (String, Vec<(String, Vec<String>)>) {
    let (s, b) = app
        .post(
            &format!("/api/lms/v1/quiz/{quiz}/start"),
            Some(token),
            json!({}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    (
        b["data"]["attempt_id"].as_str().unwrap().to_string(),
        drawn(&b),
    )
}

async fn submit(app: &App, token: &str, quiz: &str, attempt: &str, answers: Vec<Value>) -> Value {
    let (s, b) = app
        .post(
            &format!("/api/lms/v1/quiz/{quiz}/submit"),
            Some(token),
            json!({"attempt_id": attempt, "answers": answers}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    b
}

/// The attacker fails the post-test on purpose to harvest the key, then retakes it.
async fn failed_attempt_reveals_no_key_and_retake_draws_new_questions(db: Db) {
    let app = start(db).await;
    let t = app.token("key-1", &["volunteer"]);
    app.enroll(&t, "bhd-basic", "Rudi").await;
    let key = app.answers("bhd-basic").await;
    // The pre-test shares the bank: it reveals nothing either.
    let (a, d) = start_attempt(&app, &t, "bhd-basic-pre").await;
    let r = submit(&app, &t, "bhd-basic-pre", &a, answer(&d, &key, 3)).await;
    assert_eq!(r["data"]["score"], 3);
    assert!(
        r["data"].get("review").is_none() && !r.to_string().contains("correct"),
        "pre-test leaks the key: {r}"
    );
    app.complete_all_lessons(&t, "bhd-basic").await;
    let (a1, d1) = start_attempt(&app, &t, "bhd-basic-post").await;
    assert_eq!(d1.len(), 10);
    let r = submit(&app, &t, "bhd-basic-post", &a1, answer(&d1, &key, 0)).await;
    assert_eq!(
        (r["data"]["passed"].as_bool(), r["data"]["score"].as_i64()),
        (Some(false), Some(0))
    );
    assert!(
        r["data"].get("review").is_none() && !r.to_string().contains("correct"),
        "a failed attempt leaks the key: {r}"
    );
    let (_, hist) = app.get("/api/lms/v1/results", Some(&t)).await;
    assert!(!hist.to_string().contains("correct"), "{hist}");
    // The retake asks other questions (the bank is at least twice the test).
    let (a2, d2) = start_attempt(&app, &t, "bhd-basic-post").await;
    assert_eq!(d2.len(), 10);
    assert!(
        ids(&d1).is_disjoint(&ids(&d2)),
        "the retake reuses questions: {:?} / {:?}",
        ids(&d1),
        ids(&d2)
    );
    // Grading follows the attempt's own draw: 7 of 10 right passes Basic (70 %).
    let r = submit(&app, &t, "bhd-basic-post", &a2, answer(&d2, &key, 7)).await;
    assert_eq!(
        (
            r["data"]["score"].as_i64(),
            r["data"]["percent"].as_i64(),
            r["data"]["passed"].as_bool()
        ),
        (Some(7), Some(70), Some(true)),
        "{r}"
    );
    // Passed: now the right answers are shown, for this attempt's questions.
    let review = r["data"]["review"].as_array().unwrap();
    assert_eq!(review.len(), 10);
    for item in review {
        let q = item["question_id"].as_str().unwrap();
        assert!(ids(&d2).contains(q));
        let correct = &key.iter().find(|(k, _)| k == q).unwrap().1;
        assert_eq!(item["correct_option"], correct.as_str());
    }
}
storage_conformance!(
    answer_key,
    "lms",
    crate::MIGRATIONS,
    super::failed_attempt_reveals_no_key_and_retake_draws_new_questions
);

/// Three failed attempts: the key only comes with the last one.
async fn only_the_last_attempt_reveals_the_key(db: Db) {
    let app = start(db).await;
    let t = app.token("key-2", &["volunteer"]);
    // Plus needs Basic: the learner earns it first.
    app.certify("key-2", "Rudi", "bhd-basic").await;
    app.enroll(&t, "bhd-plus", "Rudi").await;
    app.complete_all_lessons(&t, "bhd-plus").await;
    let key = app.answers("bhd-plus").await;
    let mut seen = Vec::new();
    for n in 1..=3 {
        let (a, d) = start_attempt(&app, &t, "bhd-plus-post").await;
        let r = submit(&app, &t, "bhd-plus-post", &a, answer(&d, &key, 1)).await;
        assert_eq!(r["data"]["passed"], false);
        assert_eq!(r["data"]["score"], 1, "graded on this attempt's draw");
        if n < 3 {
            assert!(r["data"].get("review").is_none(), "attempt {n}: {r}");
        } else {
            assert_eq!(
                r["data"]["review"].as_array().unwrap().len(),
                d.len(),
                "{r}"
            );
        }
        seen.push(ids(&d));
    }
    assert_ne!(seen[0], seen[1]);
}
storage_conformance!(
    last_attempt,
    "lms",
    crate::MIGRATIONS,
    super::only_the_last_attempt_reveals_the_key
);

/// Every bank holds at least twice its post-test; draws differ between learners and the
/// options of a question come in another order.
async fn banks_are_large_and_draws_vary(db: Db) {
    let app = start(db).await;
    let (_, list) = app.get("/api/lms/v1/courses", None).await;
    for c in list["data"].as_array().unwrap() {
        let id = c["id"].as_str().unwrap();
        let (_, detail) = app.get(&format!("/api/lms/v1/courses/{id}"), None).await;
        let post = detail["data"]["quizzes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|q| q["kind"] == "post")
            .unwrap()["question_count"]
            .as_u64()
            .unwrap();
        let bank = app.answers(id).await.len() as u64;
        assert!(bank >= 2 * post, "{id}: bank {bank}, post-test {post}");
    }
    // Six learners' first post-test: at least two different sets, and some question that two
    // of them drew shows its options in another order (each chance failing: < 1e-6).
    let mut draws = Vec::new();
    for i in 0..6 {
        let learner = format!("draw-{i}");
        let t = app.token(&learner, &["volunteer"]);
        app.enroll(&t, "bhd-basic", "Peserta").await;
        app.complete_all_lessons(&t, "bhd-basic").await;
        let (_, d) = start_attempt(&app, &t, "bhd-basic-post").await;
        // Continuing the open attempt gives the same draw (the attempt remembers it).
        let (_, again) = start_attempt(&app, &t, "bhd-basic-post").await;
        assert_eq!(d, again);
        draws.push(d);
    }
    let sets: BTreeSet<BTreeSet<String>> = draws.iter().map(|d| ids(d)).collect();
    assert!(sets.len() > 1, "every learner got the same questions");
    let mut reordered = false;
    for (i, a) in draws.iter().enumerate() {
        for b in &draws[i + 1..] {
            for (q, oa) in a {
                if let Some((_, ob)) = b.iter().find(|(k, _)| k == q) {
                    reordered |= oa != ob;
                }
            }
        }
    }
    assert!(reordered, "options are never shuffled");
}
storage_conformance!(
    draws,
    "lms",
    crate::MIGRATIONS,
    super::banks_are_large_and_draws_vary
);

// ---- finding 7: erasure left the holder's name on the certificate ---------------------------

async fn erasure_leaves_no_name(db: Db) {
    let app = start(db).await;
    let id = app.certify("erase-1", "Budi Santoso", "bhd-basic").await;
    // An instructor (by certificate) signs off someone else, then is erased too.
    app.certify("erase-inst", "Rina Kartika", "bhd-basic").await;
    app.certify("erase-inst", "Rina Kartika", "bhd-plus").await;
    app.certify("erase-inst", "Rina Kartika", "bhd-instructor")
        .await;
    pass_post_test(&app, "erase-2", "Dewi Lestari", "bhd-basic").await;
    let inst = app.token("erase-inst", &["volunteer"]);
    let (s, so) = app
        .sign_off_as(&inst, "erase-2", "bhd-basic", "Rina Kartika")
        .await;
    assert_eq!(s, 201, "{so}");
    let other = so["data"]["certificate_id"].as_str().unwrap().to_string();
    let (_, before) = app
        .get(&format!("/api/lms/v1/certificate/{id}"), None)
        .await;
    assert!(before["data"]["holder_name"].is_string(), "{before}");
    app.publish("identity", ERASED, json!({"account_id": "erase-1"}))
        .await;
    app.publish("identity", ERASED, json!({"account_id": "erase-inst"}))
        .await;
    testkit::eventually(
        "the holder's name is gone",
        Duration::from_secs(15),
        || async {
            let (_, c) = app
                .get(&format!("/api/lms/v1/certificate/{id}"), None)
                .await;
            c["data"]["holder_name"].is_null()
        },
    )
    .await;
    let (s, c) = app
        .get(&format!("/api/lms/v1/certificate/{id}"), None)
        .await;
    assert_eq!(s, 200, "the register entry stays: {c}");
    assert_eq!(c["data"]["number"], format!("BHD-BASIC-{}-0001", year()));
    assert_eq!(c["data"]["holder_erased"], true);
    assert!(!c.to_string().contains("Budi"), "{c}");
    let html = app
        .raw(&format!("/verify/{id}"), None)
        .await
        .text()
        .await
        .unwrap();
    assert!(!html.contains("Budi"), "{html}");
    // The erased instructor's name is gone from another learner's certificate as well.
    testkit::eventually(
        "the instructor's name is gone",
        Duration::from_secs(15),
        || async {
            let (_, c) = app
                .get(&format!("/api/lms/v1/certificate/{other}"), None)
                .await;
            c["data"]["instructor_name"].is_null()
        },
    )
    .await;
    let html = app
        .raw(&format!("/verify/{other}"), None)
        .await
        .text()
        .await
        .unwrap();
    assert!(!html.contains("Rina") && html.contains("Dewi L."), "{html}");
    // Nothing tied to the account is left: enrolments, attempts, certificates listed to it.
    let t = app.token("erase-1", &["volunteer"]);
    for path in [
        "/api/lms/v1/certificates/mine",
        "/api/lms/v1/progress",
        "/api/lms/v1/results",
    ] {
        let (s, b) = app.get(path, Some(&t)).await;
        assert_eq!(
            (s, b["data"].as_array().map(Vec::len)),
            (200, Some(0)),
            "{path}: {b}"
        );
    }
    let admin = app.token("admin-1", &["training_admin"]);
    let (_, parts) = app
        .get(
            "/api/lms/v1/instructor/participants?limit=200",
            Some(&admin),
        )
        .await;
    let text = parts.to_string();
    assert!(
        !text.contains("Budi") && !text.contains("erase-1") && !text.contains("Rina"),
        "{text}"
    );
    // Neither the PDF nor the credential (both carry the name) is handed out any more.
    for what in ["pdf", "credential"] {
        let (s, e) = app
            .get(
                &format!("/api/lms/v1/certificate/{id}/{what}"),
                Some(&admin),
            )
            .await;
        assert_eq!(
            (s, e["error"]["code"].as_str()),
            (410, Some("LMS_HOLDER_ERASED")),
            "{what}: {e}"
        );
    }
    // No recertification reminder goes to the erased account.
    let store = kreki_lms::store::Store::open(app.db.clone(), app.url.clone())
        .await
        .unwrap();
    // Inside the 3-month window of the 2-year Basic certificates.
    let later = kreki_platform::time_util::now_micros() + (2 * 365 - 30) * 86_400_000_000;
    store.sweep_expiring(later).await.unwrap();
    let events = app.events().await;
    assert!(
        !events.iter().any(|(s, d)| s == "notify.message.requested"
            && d["template"] == "recertification_reminder"
            && d.to_string().contains("Budi")),
        "a reminder with the erased name"
    );
    assert!(
        events.iter().any(|(s, d)| s == "notify.message.requested"
            && d["template"] == "recertification_reminder"
            && d["vars"]["name"] == "Dewi Lestari"),
        "others are still reminded"
    );
}
storage_conformance!(
    erasure,
    "lms",
    crate::MIGRATIONS,
    super::erasure_leaves_no_name
);

// ---- finding 9 (LMS part): the LMS web session outlived the account ---------------------------

async fn erasure_ends_the_accounts_web_sessions(db: Db) {
    let (idp, codes) = fake_idp().await;
    let idp2 = idp.clone();
    let app = start_with(db, move |cfg| {
        cfg.lms.insert("idp_url".into(), idp2.into());
    })
    .await;
    let gone = sign_in(&app, &codes, &idp, "sess-1", &["volunteer"]).await;
    let stays = sign_in(&app, &codes, &idp, "sess-2", &["volunteer"]).await;
    assert_eq!(page(&app, Some(&gone), "/belajar/sertifikat").await.0, 200);
    app.publish("identity", ERASED, json!({"account_id": "sess-1"}))
        .await;
    testkit::eventually(
        "the erased account's session ends",
        Duration::from_secs(15),
        || async {
            page(&app, Some(&gone), "/belajar/sertifikat").await
                == (303, "/belajar/masuk".to_string())
        },
    )
    .await;
    assert_eq!(
        page(&app, Some(&stays), "/belajar/sertifikat").await.0,
        200,
        "other accounts keep theirs"
    );
}
storage_conformance!(
    sessions,
    "lms",
    crate::MIGRATIONS,
    super::erasure_ends_the_accounts_web_sessions
);
