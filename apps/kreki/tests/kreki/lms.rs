//! LMS in `kreki up`: a certificate earned over HTTP, its credential checked by the offline
//! verifier `kreki verify-credential` (valid, revocation checked or not, altered, revoked).

use std::process::Command;

use serde_json::{Value, json};

use crate::up::{ISSUER, start_up};

fn verify(args: &[&std::path::Path], extra: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_kreki"))
        .arg("verify-credential")
        .args(args)
        .args(extra)
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_credential_verifies_offline_with_the_cli() {
    let app = start_up(None).await;
    let c = &app.client;
    let url = |p: &str| format!("{}/api/lms/v1{p}", app.url);
    let learner = app.signer.token(ISSUER, "cli-learner", &["volunteer"]);
    let admin = app.signer.token(ISSUER, "cli-admin", &["training_admin"]);
    let post = |p: String, tok: &str, body: Value| c.post(p).bearer_auth(tok).json(&body).send();
    let r = post(
        url("/enroll"),
        &learner,
        json!({"course_id": "bhd-basic", "name": "Wulan"}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 201);
    let course: Value = c
        .get(url("/courses/bhd-basic"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for m in course["data"]["modules"].as_array().unwrap() {
        for l in m["lessons"].as_array().unwrap() {
            let p = url(&format!("/lessons/{}/complete", l["id"].as_str().unwrap()));
            assert_eq!(post(p, &learner, json!({})).await.unwrap().status(), 200);
        }
    }
    let started: Value = post(url("/quiz/bhd-basic-post/start"), &learner, json!({}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // The right answers come from the service's own database (never from the API).
    let db = kreki_platform::storage::Db::open_sqlite(&app.dir.path().join("data/lms.db"), "lms")
        .await
        .unwrap();
    let answers: Vec<Value> = {
        let mut v = Vec::new();
        for q in started["data"]["questions"].as_array().unwrap() {
            let correct: String = sqlx::query_scalar("SELECT correct FROM questions WHERE id = $1")
                .bind(q["id"].as_str().unwrap())
                .fetch_one(db.pool())
                .await
                .unwrap();
            v.push(json!({"question_id": q["id"], "option_id": correct}));
        }
        v
    };
    db.close().await;
    let r = post(
        url("/quiz/bhd-basic-post/submit"),
        &learner,
        json!({"attempt_id": started["data"]["attempt_id"], "answers": answers}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let items: Vec<Value> = course["data"]["practical_checklist"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].clone())
        .collect();
    let so: Value = post(
        url("/practical/signoff"),
        &admin,
        json!({"account_id": "cli-learner", "course_id": "bhd-basic", "holder_name": "Wulan", "instructor_name": "Ns. Maya",
               "location": "PMI Jakarta Timur", "items": items}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let id = so["data"]["certificate_id"].as_str().unwrap().to_string();
    let cred: Value = c
        .get(url(&format!("/certificate/{id}/credential")))
        .bearer_auth(&learner)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let dir = &app.dir;
    let cred_file = dir.path().join("cred.json");
    std::fs::write(&cred_file, cred.to_string()).unwrap();
    let list = |name: &str| {
        let path = dir.path().join(name);
        let url = url("/credentials/status/1");
        async move {
            let body = reqwest::get(url).await.unwrap().text().await.unwrap();
            std::fs::write(&path, body).unwrap();
            path
        }
    };
    let did = cred["data"]["issuer"].as_str().unwrap().to_string();
    let (ok, out) = verify(&[&cred_file], &[]);
    assert!(ok, "{out}");
    assert!(
        out.contains("VALID") && out.contains(&id) && out.contains("revocation not checked"),
        "{out}"
    );
    let before = list("before.jwt").await;
    let (ok, out) = verify(
        &[&cred_file],
        &["--status-list", before.to_str().unwrap(), "--issuer", &did],
    );
    assert!(ok && out.contains("not revoked"), "{out}");
    let (ok, out) = verify(
        &[&cred_file],
        &[
            "--issuer",
            "did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp",
        ],
    );
    assert!(!ok && out.contains("not the trusted issuer"), "{out}");
    // Altered: one character of the payload.
    let jwt = cred["data"]["credential"].as_str().unwrap();
    let (h, rest) = jwt.split_once('.').unwrap();
    let altered = format!(
        "{h}.{}{}",
        if rest.starts_with('e') { "f" } else { "e" },
        &rest[1..]
    );
    let altered_file = dir.path().join("altered.jwt");
    std::fs::write(&altered_file, altered).unwrap();
    let (ok, out) = verify(&[&altered_file], &[]);
    assert!(!ok && out.contains("INVALID"), "{out}");
    // Revoked: the page and the list flip; the CLI says so with the new list.
    let r = post(
        url(&format!("/certificate/{id}/revoke")),
        &admin,
        json!({"reason": "Data palsu"}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let page = c
        .get(format!("{}/verify/{id}", app.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("data-status=\"revoked\""));
    let after = list("after.jwt").await;
    let (ok, out) = verify(&[&cred_file], &["--status-list", after.to_str().unwrap()]);
    assert!(!ok && out.contains("revoked"), "{out}");
    // Offline without a list it still verifies, and says revocation was not checked.
    let (ok, out) = verify(&[&cred_file], &[]);
    assert!(ok && out.contains("revocation not checked"), "{out}");
    app.stop().await;
}
