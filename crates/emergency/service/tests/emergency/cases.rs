//! The panic button and a case's access: an anonymous caller's case token, a case that does
//! not exist for strangers, cancellation and the timeline, refused panics with their codes,
//! retried taps, a signed-in caller's open case, and the limits that never block a first
//! panic.

use kreki_platform::storage::Db;

use crate::{
    app::{self, Em, Setup, code, json, panic_body},
    both_stores,
};

/// A new anonymous case: (id, caller token, the answer's data).
async fn anonymous_case(app: &Em, phone: &str) -> (String, String, serde_json::Value) {
    let (s, created) = app.panic(panic_body(phone), None, None).await;
    assert_eq!(s, 201, "{created}");
    let d = created["data"].clone();
    let id = d["id"].as_str().unwrap().to_string();
    let token = d["caller_token"].as_str().unwrap().to_string();
    (id, token, d)
}

async fn an_anonymous_caller_reads_their_case_with_its_token(db: Db) {
    let app = app::start(db).await;
    let (id, token, d) = anonymous_case(&app, "0812-3456-7890").await;
    assert!(token.starts_with("ct_"));
    assert_eq!(d["status"], "pending");
    assert_eq!(d["handshake_code"].as_str().unwrap().len(), 4);
    let (s, case) = app.get(&format!("/{id}"), &token).await;
    assert_eq!(s, 200, "{case}");
    assert_eq!(case["data"]["handshake_code"], d["handshake_code"]);
    assert_eq!(case["data"]["type"], "cardiac_arrest");
    assert!(
        case["data"].get("caller_phone").is_none(),
        "no personal data echoed"
    );
    app.stop().await;
}
both_stores!(an_anonymous_caller_reads_their_case_with_its_token);

async fn a_case_does_not_exist_for_strangers_and_is_listed_for_ops(db: Db) {
    let app = app::start(db).await;
    let (id, _, _) = anonymous_case(&app, "0812-3456-7890").await;
    // Someone else's token learns nothing.
    let (s, _) = app.get(&format!("/{id}"), "ct_not-the-token").await;
    assert_eq!(s, 404);
    let stranger = app.volunteer("someone");
    assert_eq!(app.get(&format!("/{id}"), &stranger).await.0, 404);
    // Ops sees it, and it is in the active list; a volunteer may not list.
    let ops = app.ops("ops-1");
    assert_eq!(app.get(&format!("/{id}"), &ops).await.0, 200);
    let (s, active) = app.get("/active", &ops).await;
    assert_eq!(
        (s, active["data"][0]["id"].as_str()),
        (200, Some(id.as_str()))
    );
    assert_eq!(active["meta"]["total"], 1);
    assert_eq!(app.get("/active", &stranger).await.0, 403);
    app.stop().await;
}
both_stores!(a_case_does_not_exist_for_strangers_and_is_listed_for_ops);

async fn a_case_is_cancelled_once_and_its_timeline_says_so(db: Db) {
    let app = app::start(db).await;
    let (id, token, _) = anonymous_case(&app, "0812-3456-7890").await;
    let (s, _) = app
        .put(
            &format!("/{id}/cancel"),
            &token,
            json!({"reason": "salah tekan"}),
        )
        .await;
    assert_eq!(s, 200);
    let (s, b) = app
        .put(&format!("/{id}/cancel"), &token, json!({"reason": "lagi"}))
        .await;
    assert_eq!(s, 409);
    assert_eq!(code(&b), Some("EMERGENCY_CASE_CLOSED"));
    let (s, t) = app.get(&format!("/{id}/timeline"), &token).await;
    assert_eq!(s, 200);
    let kinds: Vec<&str> = t["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["created", "cancelled"]);
    assert_eq!(t["data"][1]["data"]["reason"], "salah tekan");
    app.stop().await;
}
both_stores!(a_case_is_cancelled_once_and_its_timeline_says_so);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_panics_are_refused_with_codes() {
    let (db, _guard) = app::sqlite().await;
    let app = app::start(db).await;
    let with = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut b = panic_body("081234567890");
        f(&mut b);
        b
    };
    let cases: Vec<(serde_json::Value, u16, &str)> = vec![
        (
            with(&|b| b["latitude"] = json!(91.0)),
            422,
            "EMERGENCY_LOCATION_INVALID",
        ),
        (
            with(&|b| b["longitude"] = json!(-181.0)),
            422,
            "EMERGENCY_LOCATION_INVALID",
        ),
        (
            with(&|b| {
                b["latitude"] = json!(51.5);
                b["longitude"] = json!(-0.12);
            }),
            422,
            "EMERGENCY_LOCATION_OUTSIDE_AREA",
        ),
        (
            with(&|b| b["severity"] = json!("apocalyptic")),
            422,
            "VALIDATION_FAILED",
        ),
        (
            with(&|b| b["type"] = json!("alien")),
            422,
            "VALIDATION_FAILED",
        ),
        (
            with(&|b| b["latitude"] = json!("NaN")),
            422,
            "VALIDATION_FAILED",
        ),
        (
            with(&|b| b["caller_phone"] = json!("12")),
            422,
            "EMERGENCY_CALLER_PHONE_INVALID",
        ),
        (
            with(&|b| {
                b.as_object_mut().unwrap().remove("caller_phone");
            }),
            422,
            "EMERGENCY_CALLER_PHONE_REQUIRED",
        ),
        (
            with(&|b| b["admin"] = json!(true)),
            422,
            "VALIDATION_UNKNOWN_FIELD",
        ),
        (
            with(&|b| b["description"] = json!("x".repeat(1001))),
            422,
            "VALIDATION_FAILED",
        ),
    ];
    for (b, status, c) in cases {
        let (s, res) = app.panic(b.clone(), None, None).await;
        assert_eq!((s, code(&res).unwrap_or("")), (status, c), "{b}");
    }
    // Non-finite numbers cannot even be written in JSON.
    let res = app
        .client
        .post(format!("{}/panic", app.base))
        .header("content-type", "application/json")
        .body(r#"{"latitude": NaN, "longitude": 106.8, "severity": "critical", "type": "other", "caller_phone": "081234567890"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let (s, res) = app
        .panic(panic_body("081234567890"), None, Some("has space"))
        .await;
    assert_eq!((s, code(&res)), (400, Some("IDEMPOTENCY_KEY_INVALID")));
    // Nothing was stored by any of them.
    let ops = app.ops("ops");
    assert_eq!(app.get("/active", &ops).await.1["meta"]["total"], 0);
    app.stop().await;
}

async fn a_retried_tap_makes_one_case_and_a_reused_key_is_refused(db: Db) {
    let app = app::start(db).await;
    // The same Idempotency-Key: one case, the same answer.
    let (s1, a) = app
        .panic(panic_body("081111111111"), None, Some("tap-1"))
        .await;
    let (s2, b) = app
        .panic(panic_body("081111111111"), None, Some("tap-1"))
        .await;
    assert_eq!((s1, s2), (201, 201));
    assert_eq!(a["data"]["id"], b["data"]["id"]);
    assert_eq!(a["data"]["caller_token"], b["data"]["caller_token"]);
    let mut other = panic_body("081111111111");
    other["severity"] = json!("urgent");
    let (s, c) = app.panic(other, None, Some("tap-1")).await;
    assert_eq!((s, code(&c)), (409, Some("IDEMPOTENCY_KEY_REUSED")));
    app.stop().await;
}
both_stores!(a_retried_tap_makes_one_case_and_a_reused_key_is_refused);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_in_caller_with_an_open_case_gets_it_back() {
    let (db, _guard) = app::sqlite().await;
    let app = app::start(db).await;
    let user = app.token("public-7", &["public"]);
    let mut signed = panic_body("081222222222");
    signed.as_object_mut().unwrap().remove("caller_phone");
    let (s, first) = app.panic(signed.clone(), Some(&user), None).await;
    assert_eq!(s, 201);
    assert!(first["data"].get("caller_token").is_none());
    let (s, second) = app.panic(signed, Some(&user), None).await;
    assert_eq!(
        (s, &second["data"]["id"], &second["data"]["existing"]),
        (200, &first["data"]["id"], &json!(true))
    );
    let (s, own) = app
        .get(
            &format!("/{}", first["data"]["id"].as_str().unwrap()),
            &user,
        )
        .await;
    assert_eq!((s, own["data"]["status"].as_str()), (200, Some("pending")));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_from_one_phone_is_cut_but_never_its_first_panic() {
    let (db, _guard) = app::sqlite().await;
    let app = app::start(db).await;
    // The first panic always passes, the flood is cut.
    let mut statuses = Vec::new();
    for _ in 0..8 {
        statuses.push(app.panic(panic_body("083333333333"), None, None).await.0);
    }
    assert_eq!(statuses[0], 201);
    assert_eq!(&statuses[..6], &[201; 6]);
    assert_eq!(statuses[6], 429, "{statuses:?}");
    // Another phone from the same address still gets through at once.
    assert_eq!(
        app.panic(panic_body("084444444444"), None, None).await.0,
        201
    );
    app.stop().await;
}

/// Earthquake day behind a carrier's NAT: many first panics from different numbers through
/// one address are all accepted, far beyond the general per-IP request limit (which does not
/// apply to panics); that limit still holds for the address's other requests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_first_panics_through_one_address_are_all_accepted() {
    let (db, _guard) = app::sqlite().await;
    let app = Setup::default().per_minute(20).start(db).await;
    for i in 0..60 {
        let (s, v) = app
            .panic(panic_body(&format!("0813-1000-{i:04}")), None, None)
            .await;
        assert_eq!(s, 201, "panic {i}: {v}");
    }
    // The general limit still holds for other routes of the same address.
    let mut limited = false;
    for _ in 0..25 {
        let res = app
            .client
            .post(format!("{}/aeds/nearest", app.base))
            .json(&json!({"latitude": -6.2, "longitude": 106.8}))
            .send()
            .await
            .unwrap();
        limited |= res.status() == 429;
    }
    assert!(limited, "the general per-IP limit applies elsewhere");
    app.stop().await;
}

/// The only limit on one address is a per-second ceiling, answered with
/// `429 EMERGENCY_PANIC_RATE_LIMITED` and `Retry-After`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panics_over_the_per_address_ceiling_get_429_with_retry_after() {
    let (db, _guard) = app::sqlite().await;
    let app = Setup::default()
        .int("panics_per_address_per_second", 5)
        .start(db)
        .await;
    let mut codes = Vec::new();
    for i in 0..12 {
        let (s, v) = app
            .panic(panic_body(&format!("0813-2000-{i:04}")), None, None)
            .await;
        if s == 429 {
            assert_eq!(v["error"]["code"], "EMERGENCY_PANIC_RATE_LIMITED", "{v}");
        }
        codes.push(s);
    }
    assert!(
        codes.iter().filter(|s| **s == 201).count() >= 5,
        "{codes:?}"
    );
    assert!(codes.contains(&429), "over the ceiling: {codes:?}");
    let res = app
        .client
        .post(format!("{}/panic", app.base))
        .json(&panic_body("0813-2999-0001"))
        .send()
        .await
        .unwrap();
    if res.status() == 429 {
        assert!(res.headers().contains_key("retry-after"));
    }
    app.stop().await;
}
