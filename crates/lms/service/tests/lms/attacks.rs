//! Attacks from the outside security review, each performed over HTTP against the real
//! service and asserted to fail (finding numbers of the review in the names' comments).

use std::collections::BTreeSet;

use kreki_platform::{storage::Db, storage_conformance};
use serde_json::{Value, json};

use crate::app::{App, start};

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
