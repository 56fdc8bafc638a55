//! The dispatcher console: volunteers nearby, the metrics strip, escalation to PSC 119 by
//! Ops, and an offer of a case to a named volunteer.

use kreki_platform::storage::Db;

use crate::{
    app::{self, CENTER, Setup, Value, code, json, north, panic_body},
    both_stores,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nearby_is_for_ops() {
    let (db, _guard) = app::sqlite().await;
    let app = app::start(db).await;
    let vol = app.volunteer("vol-n");
    app.on_duty(&vol, (-6.2, 106.8)).await;
    let ops = app.ops("ops");
    let (s, b) = app
        .get("/nearby?latitude=-6.201&longitude=106.8&radius=2000", &ops)
        .await;
    assert_eq!(
        (s, b["data"][0]["volunteer_id"].as_str()),
        (200, Some("vol-n")),
        "{b}"
    );
    assert!((b["data"][0]["distance_m"].as_f64().unwrap() - 111.2).abs() < 1.0);
    // Where they are, for the console's map (to the index's micro-degree precision).
    assert!((b["data"][0]["latitude"].as_f64().unwrap() + 6.2).abs() < 1e-5);
    assert!((b["data"][0]["longitude"].as_f64().unwrap() - 106.8).abs() < 1e-5);
    assert_eq!(
        app.get("/nearby?latitude=-6.2&longitude=106.8", &vol)
            .await
            .0,
        403
    );
    for bad in ["radius=0", "radius=-5", "radius=1e9"] {
        let (s, b) = app
            .get(
                &format!("/nearby?latitude=-6.2&longitude=106.8&{bad}"),
                &ops,
            )
            .await;
        assert_eq!(
            (s, code(&b)),
            (422, Some("EMERGENCY_RADIUS_INVALID")),
            "{bad}"
        );
    }
    let (s, _) = app.get("/nearby?latitude=abc&longitude=106.8", &ops).await;
    assert_eq!(s, 400);
    // Off duty: gone at once.
    app.put("/presence", &vol, json!({"on_duty": false})).await;
    assert_eq!(
        app.get("/nearby?latitude=-6.2&longitude=106.8", &ops)
            .await
            .1["data"],
        json!([])
    );
    app.stop().await;
}

async fn the_metrics_strip_counts_open_cases_and_cases_today(db: Db) {
    let app = app::start(db).await;
    let ops = app.ops("ops-1");
    // Nothing yet today.
    let (s, st) = app.get("/stats", &ops).await;
    assert_eq!(s, 200, "{st}");
    assert_eq!(
        (&st["data"]["open_cases"], &st["data"]["cases_today"]),
        (&json!(0), &json!(0))
    );
    assert!(st["data"].get("median_first_accept_s_today").is_none());
    assert_eq!(app.get("/stats", &app.volunteer("vol-1")).await.0, 403);
    app.panic(panic_body("081234560001"), None, None).await;
    let (_, st) = app.get("/stats", &ops).await;
    assert_eq!(
        (&st["data"]["open_cases"], &st["data"]["cases_today"]),
        (&json!(1), &json!(1))
    );
    // A cancelled case is no longer open, but it was today's.
    let (_, other) = app.panic(panic_body("081234560002"), None, None).await;
    let other_id = other["data"]["id"].as_str().unwrap();
    let (s, _) = app
        .put(
            &format!("/{other_id}/cancel"),
            &ops,
            json!({"reason": "uji"}),
        )
        .await;
    assert_eq!(s, 200);
    let (_, st) = app.get("/stats", &ops).await;
    assert_eq!(
        (&st["data"]["open_cases"], &st["data"]["cases_today"]),
        (&json!(1), &json!(2))
    );
    app.stop().await;
}
both_stores!(the_metrics_strip_counts_open_cases_and_cases_today);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escalation_refuses_bad_input_the_wrong_people_and_closed_cases() {
    let (db, _guard) = app::sqlite().await;
    let app = app::start(db).await;
    let ops = app.ops("ops-1");
    let vol = app.volunteer("vol-1");
    let (_, created) = app.panic(panic_body("081234560001"), None, None).await;
    let id = created["data"]["id"].as_str().unwrap().to_string();
    let esc = format!("/{id}/escalate");
    // Bad input and the wrong people change nothing.
    let (s, b) = app.put(&esc, &ops, json!({"note": "  "})).await;
    assert_eq!((s, code(&b)), (422, Some("VALIDATION_FAILED")));
    let (s, _) = app.put(&esc, &ops, json!({"note": "x", "extra": 1})).await;
    assert_eq!(s, 422);
    let (s, _) = app.put(&esc, &vol, json!({"note": "x"})).await;
    assert_eq!(s, 403);
    let (s, b) = app
        .put("/no-such-case/escalate", &ops, json!({"note": "x"}))
        .await;
    assert_eq!((s, code(&b)), (404, Some("EMERGENCY_CASE_NOT_FOUND")));
    let (_, c) = app.get(&format!("/{id}"), &ops).await;
    assert_eq!(c["data"]["escalated"], false);
    assert!(app.outbox("emergency.case.escalated").await.is_empty());
    // A closed case cannot be escalated.
    let (s, _) = app
        .put(&format!("/{id}/cancel"), &ops, json!({"reason": "uji"}))
        .await;
    assert_eq!(s, 200);
    let (s, b) = app.put(&esc, &ops, json!({"note": "x"})).await;
    assert_eq!((s, code(&b)), (409, Some("EMERGENCY_CASE_CLOSED")));
    app.stop().await;
}

async fn ops_escalates_a_case_once_with_a_note(db: Db) {
    let app = app::start(db).await;
    let ops = app.ops("ops-1");
    let (_, created) = app.panic(panic_body("081234560001"), None, None).await;
    let id = created["data"]["id"].as_str().unwrap().to_string();
    // Ops escalates: the case says so, the timeline has who and why, and the bus event's
    // reason is `ops`.
    let (s, b) = app
        .put(
            &format!("/{id}/escalate"),
            &ops,
            json!({"note": "penelepon tidak sadar, relawan jauh"}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["data"]["escalated"], true);
    let (s, b) = app
        .put(&format!("/{id}/escalate"), &ops, json!({"note": "lagi"}))
        .await;
    assert_eq!((s, code(&b)), (409, Some("EMERGENCY_ALREADY_ESCALATED")));
    let entries = app.timeline(&id, &ops).await;
    let esc_entry = entries.iter().find(|e| e["kind"] == "escalated").unwrap();
    assert_eq!(esc_entry["data"]["reason"], "ops");
    assert_eq!(esc_entry["actor"], "ops-1");
    let note = entries.iter().find(|e| e["kind"] == "ops_note").unwrap();
    assert_eq!(note["data"]["note"], "penelepon tidak sadar, relawan jauh");
    let events = app.outbox("emergency.case.escalated").await;
    assert_eq!(events.len(), 1, "once: {events:?}");
    assert_eq!(
        (events[0]["case_id"].as_str(), events[0]["reason"].as_str()),
        (Some(id.as_str()), Some("ops"))
    );
    app.stop().await;
}
both_stores!(ops_escalates_a_case_once_with_a_note);

async fn ops_offers_a_case_to_a_named_volunteer_and_again_after_a_decline(db: Db) {
    let app = Setup::default()
        .int("offers_per_wave", 1)
        .int("accepts_wanted", 1)
        .start(db)
        .await;
    let tok = |sub: &str| app.volunteer(sub);
    let ops = app.ops("ops-1");
    app.eligible("vol-near", true, 1).await;
    app.dispatchable("vol-pick", true, north(2_500.0)).await;
    app.on_duty(&tok("vol-near"), north(100.0)).await;
    app.on_duty(&tok("vol-unverified"), north(50.0)).await;
    let id = app
        .panic_at(CENTER, "critical", "cardiac_arrest", "081299990000")
        .await;
    app::testkit::eventually(
        "the nearest is offered",
        app::Duration::from_secs(10),
        || async { app.has_offer(&tok("vol-near"), &id).await },
    )
    .await;
    assert!(!app.has_offer(&tok("vol-pick"), &id).await);
    let path = format!("/{id}/offer");
    let offer = |token: String, body: Value| {
        let path = path.clone();
        let app = &app;
        async move { app.put(&path, &token, body).await }
    };
    // Refusals with their codes.
    let c = |r: &(u16, Value)| (r.0, code(&r.1).unwrap_or("").to_string());
    assert_eq!(
        c(&offer(tok("vol-near"), json!({"volunteer_id": "vol-pick"})).await).0,
        403
    );
    assert_eq!(
        c(&offer(ops.clone(), json!({"volunteer_id": " "})).await),
        (422, "VALIDATION_FAILED".into())
    );
    assert_eq!(
        c(&offer(ops.clone(), json!({"volunteer_id": "vol-pick", "x": 1})).await).0,
        422
    );
    assert_eq!(
        c(&offer(ops.clone(), json!({"volunteer_id": "vol-off-duty"})).await),
        (409, "EMERGENCY_NOT_ON_DUTY".into())
    );
    assert_eq!(
        c(&offer(ops.clone(), json!({"volunteer_id": "vol-unverified"})).await),
        (409, "EMERGENCY_VOLUNTEER_NOT_ELIGIBLE".into())
    );
    assert_eq!(
        c(&app
            .put("/nope/offer", &ops, json!({"volunteer_id": "vol-pick"}))
            .await),
        (404, "EMERGENCY_CASE_NOT_FOUND".into())
    );
    assert!(
        !app.has_offer(&tok("vol-pick"), &id).await,
        "nothing sent by refusals"
    );
    // Ops picks a volunteer farther away.
    let (s, o) = offer(ops.clone(), json!({"volunteer_id": "vol-pick"})).await;
    assert_eq!(s, 200, "{o}");
    assert_eq!(o["data"]["volunteer_id"], "vol-pick");
    let d = o["data"]["distance_m"].as_i64().unwrap();
    assert!((2_400..2_600).contains(&d), "{d}");
    assert!(app.has_offer(&tok("vol-pick"), &id).await);
    assert_eq!(
        c(&offer(ops.clone(), json!({"volunteer_id": "vol-pick"})).await),
        (409, "EMERGENCY_ALREADY_OFFERED".into())
    );
    // Declined, then offered again.
    let (s, _) = app
        .put(
            &format!("/{id}/respond"),
            &tok("vol-pick"),
            json!({"action": "reject"}),
        )
        .await;
    assert_eq!(s, 200);
    assert!(!app.has_offer(&tok("vol-pick"), &id).await);
    let (s, _) = offer(ops.clone(), json!({"volunteer_id": "vol-pick"})).await;
    assert_eq!(s, 200);
    assert!(app.has_offer(&tok("vol-pick"), &id).await);
    let (s, r) = app
        .put(
            &format!("/{id}/respond"),
            &tok("vol-pick"),
            json!({"action": "accept", "eta_minutes": 8}),
        )
        .await;
    assert_eq!((s, r["data"]["role"].as_str()), (200, Some("lead")));
    assert_eq!(
        c(&offer(ops.clone(), json!({"volunteer_id": "vol-pick"})).await),
        (409, "EMERGENCY_ALREADY_RESPONDING".into())
    );
    assert_eq!(
        c(&offer(ops.clone(), json!({"volunteer_id": "vol-near"})).await),
        (409, "EMERGENCY_CASE_FULL".into())
    );
    let tl = app.timeline(&id, &ops).await;
    let manual: Vec<&Value> = tl.iter().filter(|e| e["kind"] == "ops_offer").collect();
    assert_eq!(manual.len(), 2);
    assert_eq!(manual[0]["actor"], "ops-1");
    assert_eq!(manual[0]["data"]["again"], false);
    assert_eq!(manual[1]["data"]["again"], true);
    // A closed case takes no offers.
    let (s, _) = app
        .put(&format!("/{id}/cancel"), &ops, json!({"reason": "uji"}))
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        c(&offer(ops.clone(), json!({"volunteer_id": "vol-near"})).await),
        (409, "EMERGENCY_CASE_CLOSED".into())
    );
    app.stop().await;
}
both_stores!(ops_offers_a_case_to_a_named_volunteer_and_again_after_a_decline);
