//! The life-saving loop over HTTP: panic → offers in waves → a decline replaced → two accepts
//! (lead + member) → arrived → resolved → completed, and escalation to PSC 119.

use std::time::Duration;

use kreki_platform::{bus::Event, testkit};
use serde_json::{Value, json};

use crate::up::{ISSUER, UpApp, console_lines, start_up_with};

const CENTER: (f64, f64) = (-6.2088, 106.8456);

fn north(m: f64) -> (f64, f64) {
    (CENTER.0 + m / 111_195.0, CENTER.1)
}

async fn eligible(app: &UpApp, volunteer: &str, certified: bool, version: i64) {
    let ev = json!({
        "volunteer_id": volunteer, "verified": true,
        "cert_level": if certified { "basic" } else { "none" },
        "cert_valid_until": if certified { Some("2030-01-01T00:00:00Z") } else { None },
        "health_professional": false, "skills": [], "schedule": {}, "version": version,
    });
    let event = Event::new("volunteers", "volunteers.eligibility.changed", &ev).unwrap();
    app.running
        .as_ref()
        .unwrap()
        .bus
        .publish(&event)
        .await
        .unwrap();
}

async fn on_duty(app: &UpApp, token: &str, at: (f64, f64)) -> Value {
    let res = app
        .client
        .put(format!("{}/api/emergency/v1/presence", app.url))
        .bearer_auth(token)
        .json(&json!({"on_duty": true, "latitude": at.0, "longitude": at.1}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

async fn offers(app: &UpApp, token: &str) -> Vec<Value> {
    let v: Value = app
        .client
        .get(format!("{}/api/emergency/v1/offers/mine", app.url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["data"].as_array().cloned().unwrap_or_default()
}

async fn put(app: &UpApp, token: &str, path: &str, body: Value) -> (u16, Value) {
    let res = app
        .client
        .put(format!("{}{path}", app.url))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    (
        res.status().as_u16(),
        res.json().await.unwrap_or(Value::Null),
    )
}

async fn has_offer(app: &UpApp, token: &str, case: &str) -> bool {
    offers(app, token)
        .await
        .iter()
        .any(|o| o["case_id"] == case)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panic_offers_decline_two_accepts_statuses_completion() {
    let app = start_up_with(None, |cfg| {
        cfg.emergency.insert("offers_per_wave".into(), 2.into());
        cfg.emergency.insert("accepts_wanted".into(), 2.into());
    })
    .await;
    let tok = |sub: &str| app.signer.token(ISSUER, sub, &["volunteer"]);
    let (a, b, c, u, far) = (
        tok("vol-a"),
        tok("vol-b"),
        tok("vol-c"),
        tok("vol-uncertified"),
        tok("vol-far"),
    );
    for (id, cert) in [
        ("vol-a", true),
        ("vol-b", true),
        ("vol-c", true),
        ("vol-uncertified", false),
        ("vol-far", true),
    ] {
        eligible(&app, id, cert, 1).await;
    }
    testkit::eventually("eligibility copied", Duration::from_secs(10), || async {
        on_duty(&app, &tok("vol-far"), north(20_000.0)).await["data"]["dispatchable"] == true
    })
    .await;
    on_duty(&app, &u, north(100.0)).await;
    on_duty(&app, &a, north(300.0)).await;
    on_duty(&app, &b, north(500.0)).await;
    on_duty(&app, &c, north(800.0)).await;
    let _ = far;
    // Location updates only while on duty.
    let (s, body) = put(
        &app,
        &tok("vol-never"),
        "/api/emergency/v1/presence/location",
        json!({"latitude": CENTER.0, "longitude": CENTER.1}),
    )
    .await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (409, Some("EMERGENCY_NOT_ON_DUTY"))
    );

    // The panic.
    let res = app
        .client
        .post(format!("{}/api/emergency/v1/panic", app.url))
        .json(&json!({"latitude": CENTER.0, "longitude": CENTER.1, "severity": "critical", "type": "cardiac_arrest", "caller_phone": "081234567890"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    let id = created["data"]["id"].as_str().unwrap().to_string();
    let caller = created["data"]["caller_token"]
        .as_str()
        .unwrap()
        .to_string();
    let code = created["data"]["handshake_code"]
        .as_str()
        .unwrap()
        .to_string();

    // The two nearest certified volunteers get the offer; the uncertified one never does.
    testkit::eventually("offers to A and B", Duration::from_secs(10), || async {
        has_offer(&app, &a, &id).await && has_offer(&app, &b, &id).await
    })
    .await;
    assert!(
        !has_offer(&app, &c, &id).await,
        "C waits for a free place in the wave"
    );
    let offer = &offers(&app, &a).await[0];
    assert_eq!(
        (offer["severity"].as_str(), offer["type"].as_str()),
        (Some("critical"), Some("cardiac_arrest"))
    );
    assert!(
        offer.get("handshake_code").is_none(),
        "no code before accepting"
    );
    // Someone never offered cannot accept.
    let (s, body) = put(
        &app,
        &u,
        &format!("/api/emergency/v1/{id}/respond"),
        json!({"action": "accept"}),
    )
    .await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (409, Some("EMERGENCY_NOT_OFFERED"))
    );

    // B declines: C is offered in B's place.
    let (s, _) = put(
        &app,
        &b,
        &format!("/api/emergency/v1/{id}/respond"),
        json!({"action": "reject"}),
    )
    .await;
    assert_eq!(s, 200);
    testkit::eventually("decline replaced by C", Duration::from_secs(10), || async {
        has_offer(&app, &c, &id).await
    })
    .await;

    // A accepts first: team lead, gets the handshake code. C joins as member.
    let (s, body) = put(
        &app,
        &a,
        &format!("/api/emergency/v1/{id}/respond"),
        json!({"action": "accept", "eta_minutes": 4}),
    )
    .await;
    assert_eq!(
        (s, body["data"]["role"].as_str()),
        (200, Some("lead")),
        "{body}"
    );
    assert_eq!(body["data"]["handshake_code"], code.as_str());
    let (s, again) = put(
        &app,
        &a,
        &format!("/api/emergency/v1/{id}/respond"),
        json!({"action": "accept"}),
    )
    .await;
    assert_eq!(
        (s, again["error"]["code"].as_str()),
        (409, Some("EMERGENCY_ALREADY_ANSWERED"))
    );
    let (s, body) = put(
        &app,
        &c,
        &format!("/api/emergency/v1/{id}/respond"),
        json!({"action": "accept", "eta_minutes": 7}),
    )
    .await;
    assert_eq!(
        (s, body["data"]["role"].as_str()),
        (200, Some("member")),
        "{body}"
    );
    // The caller sees both, A as lead.
    let view: Value = app
        .client
        .get(format!("{}/api/emergency/v1/{id}", app.url))
        .bearer_auth(&caller)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(view["data"]["status"], "assigned");
    let responders = view["data"]["responders"].as_array().unwrap();
    assert_eq!(responders.len(), 2);
    assert_eq!(
        (
            responders[0]["volunteer_id"].as_str(),
            responders[0]["is_lead"].as_bool()
        ),
        (Some("vol-a"), Some(true))
    );

    // Statuses: forward only.
    let (s, body) = put(
        &app,
        &a,
        &format!("/api/emergency/v1/{id}/status"),
        json!({"status": "arrived"}),
    )
    .await;
    assert_eq!(
        (s, body["data"]["status"].as_str()),
        (200, Some("responding")),
        "{body}"
    );
    let (s, body) = put(
        &app,
        &a,
        &format!("/api/emergency/v1/{id}/status"),
        json!({"status": "accepted"}),
    )
    .await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (409, Some("EMERGENCY_STATUS_BACKWARDS"))
    );
    assert_eq!(
        put(
            &app,
            &a,
            &format!("/api/emergency/v1/{id}/status"),
            json!({"status": "resolved"})
        )
        .await
        .0,
        200
    );
    // Only the lead (or Ops) completes.
    let record = json!({"outcome": "transported", "hospital_referral": "RSUD Tarakan",
        "clinical": {"vitals": {"heart_rate": 0, "spo2": 88, "avpu": "U"}, "interventions": {"cpr": true, "aed_shocks": 2},
                     "patient": {"sex": "male", "estimated_age": 50}, "working_diagnosis": "cardiac arrest"}});
    let (s, body) = put(
        &app,
        &c,
        &format!("/api/emergency/v1/{id}/complete"),
        record.clone(),
    )
    .await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (403, Some("EMERGENCY_NOT_TEAM_LEAD"))
    );
    let (s, body) = put(
        &app,
        &a,
        &format!("/api/emergency/v1/{id}/complete"),
        json!({"outcome": "magic"}),
    )
    .await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (422, Some("EMERGENCY_OUTCOME_INVALID"))
    );
    let (s, body) = put(
        &app,
        &a,
        &format!("/api/emergency/v1/{id}/complete"),
        record,
    )
    .await;
    assert_eq!(
        (s, body["data"]["status"].as_str()),
        (200, Some("completed")),
        "{body}"
    );
    assert!(
        body["data"]["metrics"]["time_to_first_offer_s"]
            .as_f64()
            .unwrap()
            < 5.0
    );
    assert!(body["data"]["metrics"]["time_to_first_accept_s"].is_number());
    assert!(body["data"]["metrics"]["time_to_first_arrival_s"].is_number());

    // The timeline tells the whole story.
    let t: Value = app
        .client
        .get(format!("{}/api/emergency/v1/{id}/timeline", app.url))
        .bearer_auth(&caller)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let steps: Vec<String> = t["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{}:{}",
                e["kind"].as_str().unwrap(),
                e["actor"].as_str().unwrap_or("")
            )
        })
        .collect();
    let expect = [
        "created:",
        "offer_sent:vol-a",
        "offer_sent:vol-b",
        "offer_declined:vol-b",
        "offer_sent:vol-c",
        "accepted:vol-a",
        "accepted:vol-c",
        "status_arrived:vol-a",
        "status_resolved:vol-a",
        "completed:vol-a",
    ];
    assert_eq!(steps, expect, "{t}");
    // Offers were sent through notify as critical messages.
    let console = app.console.clone();
    testkit::eventually(
        "three dispatch offers delivered",
        Duration::from_secs(10),
        || {
            let console = console.clone();
            async move {
                console_lines(&console)
                    .iter()
                    .filter(|l| {
                        l["message"]["priority"] == "critical"
                            && l["message"]["title"]
                                .as_str()
                                .is_some_and(|t| t.starts_with("DARURAT"))
                    })
                    .count()
                    == 3
            }
        },
    )
    .await;
    assert!(
        !console_lines(&app.console)
            .iter()
            .any(|l| l["message"]["to"] == "account:vol-uncertified")
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_accepts_escalates_and_psc119_status_reaches_the_timeline() {
    let app = start_up_with(None, |cfg| {
        cfg.emergency.insert("escalate_critical_s".into(), 1.into());
    })
    .await;
    // The only volunteer is 2 km away: beyond the first wave's 1 km, inside the second's 3 km.
    let far = app.signer.token(ISSUER, "vol-2km", &["volunteer"]);
    eligible(&app, "vol-2km", true, 1).await;
    testkit::eventually("eligibility copied", Duration::from_secs(10), || async {
        on_duty(&app, &far, north(2_000.0)).await["data"]["dispatchable"] == true
    })
    .await;
    let res = app
        .client
        .post(format!("{}/api/emergency/v1/panic", app.url))
        .json(&json!({"latitude": CENTER.0, "longitude": CENTER.1, "severity": "critical", "type": "unconscious", "caller_phone": "081299999999"}))
        .send()
        .await
        .unwrap();
    let created: Value = res.json().await.unwrap();
    let id = created["data"]["id"].as_str().unwrap().to_string();
    let caller = created["data"]["caller_token"]
        .as_str()
        .unwrap()
        .to_string();
    let started = std::time::Instant::now();
    let timeline = || async {
        let t: Value = app
            .client
            .get(format!("{}/api/emergency/v1/{id}/timeline", app.url))
            .bearer_auth(&caller)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        t["data"].as_array().cloned().unwrap_or_default()
    };
    testkit::eventually("escalated", Duration::from_secs(10), || async {
        timeline().await.iter().any(|e| e["kind"] == "escalated")
    })
    .await;
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_secs(4),
        "escalated after {waited:?} (window 1 s)"
    );
    // An empty first wave does not wait out its 30 s: the 2 km volunteer was offered at once,
    // in wave 1 (and, not answering, left the case escalated).
    let sent: Vec<(Value, Value)> = timeline()
        .await
        .iter()
        .filter(|e| e["kind"] == "offer_sent")
        .map(|e| (e["actor"].clone(), e["data"]["wave"].clone()))
        .collect();
    assert_eq!(sent, [(json!("vol-2km"), json!(1))], "{sent:?}");
    assert!(has_offer(&app, &far, &id).await);
    let esc = timeline()
        .await
        .into_iter()
        .find(|e| e["kind"] == "escalated")
        .unwrap();
    assert_eq!(
        (
            esc["data"]["reason"].as_str(),
            esc["data"]["priority"].as_str()
        ),
        (Some("no_accept_in_time"), Some("P1"))
    );
    let view: Value = app
        .client
        .get(format!("{}/api/emergency/v1/{id}", app.url))
        .bearer_auth(&caller)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            view["data"]["escalated"].as_bool(),
            view["data"]["status"].as_str()
        ),
        (Some(true), Some("pending")),
        "a flag, not a state"
    );
    // The bridge reports the ambulance.
    let status = Event::new(
        "bridge",
        "bridge.psc119.status",
        &json!({"case_id": id, "status": "ambulance_dispatched", "at": "2026-11-25T10:00:00Z", "details": {"centre": "PSC 119 DKI"}}),
    )
    .unwrap();
    app.running
        .as_ref()
        .unwrap()
        .bus
        .publish(&status)
        .await
        .unwrap();
    testkit::eventually(
        "PSC 119 status in the timeline",
        Duration::from_secs(10),
        || async {
            timeline().await.iter().any(|e| {
                e["kind"] == "psc119_ambulance_dispatched"
                    && e["data"]["details"]["centre"] == "PSC 119 DKI"
            })
        },
    )
    .await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ops_offers_a_case_to_a_named_volunteer_and_again_after_a_decline() {
    let app = start_up_with(None, |cfg| {
        cfg.emergency.insert("offers_per_wave".into(), 1.into());
        cfg.emergency.insert("accepts_wanted".into(), 1.into());
    })
    .await;
    let tok = |sub: &str| app.signer.token(ISSUER, sub, &["volunteer"]);
    let ops = app.signer.token(ISSUER, "ops-1", &["ops_admin"]);
    for id in ["vol-near", "vol-pick"] {
        eligible(&app, id, true, 1).await;
    }
    testkit::eventually("eligibility copied", Duration::from_secs(10), || async {
        on_duty(&app, &tok("vol-pick"), north(2_500.0)).await["data"]["dispatchable"] == true
    })
    .await;
    on_duty(&app, &tok("vol-near"), north(100.0)).await;
    on_duty(&app, &tok("vol-unverified"), north(50.0)).await;
    let res = app
        .client
        .post(format!("{}/api/emergency/v1/panic", app.url))
        .json(&json!({"latitude": CENTER.0, "longitude": CENTER.1, "severity": "critical", "type": "cardiac_arrest", "caller_phone": "081299990000"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let id = res.json::<Value>().await.unwrap()["data"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    testkit::eventually(
        "the nearest is offered",
        Duration::from_secs(10),
        || async { has_offer(&app, &tok("vol-near"), &id).await },
    )
    .await;
    assert!(!has_offer(&app, &tok("vol-pick"), &id).await);
    let path = format!("/api/emergency/v1/{id}/offer");
    let offer = |token: String, body: Value| {
        let path = path.clone();
        let app = &app;
        async move { put(app, &token, &path, body).await }
    };
    // Refusals with their codes.
    let code = |r: &(u16, Value)| (r.0, r.1["error"]["code"].as_str().unwrap_or("").to_string());
    assert_eq!(
        code(&offer(tok("vol-near"), json!({"volunteer_id": "vol-pick"})).await).0,
        403
    );
    assert_eq!(
        code(&offer(ops.clone(), json!({"volunteer_id": " "})).await),
        (422, "VALIDATION_FAILED".into())
    );
    assert_eq!(
        code(&offer(ops.clone(), json!({"volunteer_id": "vol-pick", "x": 1})).await).0,
        422
    );
    assert_eq!(
        code(&offer(ops.clone(), json!({"volunteer_id": "vol-off-duty"})).await),
        (409, "EMERGENCY_NOT_ON_DUTY".into())
    );
    assert_eq!(
        code(&offer(ops.clone(), json!({"volunteer_id": "vol-unverified"})).await),
        (409, "EMERGENCY_VOLUNTEER_NOT_ELIGIBLE".into())
    );
    assert_eq!(
        code(
            &put(
                &app,
                &ops,
                "/api/emergency/v1/nope/offer",
                json!({"volunteer_id": "vol-pick"})
            )
            .await
        ),
        (404, "EMERGENCY_CASE_NOT_FOUND".into())
    );
    assert!(
        !has_offer(&app, &tok("vol-pick"), &id).await,
        "nothing sent by refusals"
    );
    // Ops picks a volunteer farther away.
    let (s, o) = offer(ops.clone(), json!({"volunteer_id": "vol-pick"})).await;
    assert_eq!(s, 200, "{o}");
    assert_eq!(o["data"]["volunteer_id"], "vol-pick");
    let d = o["data"]["distance_m"].as_i64().unwrap();
    assert!((2_400..2_600).contains(&d), "{d}");
    assert!(has_offer(&app, &tok("vol-pick"), &id).await);
    assert_eq!(
        code(&offer(ops.clone(), json!({"volunteer_id": "vol-pick"})).await),
        (409, "EMERGENCY_ALREADY_OFFERED".into())
    );
    // Declined, then offered again.
    let (s, _) = put(
        &app,
        &tok("vol-pick"),
        &format!("/api/emergency/v1/{id}/respond"),
        json!({"action": "reject"}),
    )
    .await;
    assert_eq!(s, 200);
    assert!(!has_offer(&app, &tok("vol-pick"), &id).await);
    let (s, _) = offer(ops.clone(), json!({"volunteer_id": "vol-pick"})).await;
    assert_eq!(s, 200);
    assert!(has_offer(&app, &tok("vol-pick"), &id).await);
    let (s, r) = put(
        &app,
        &tok("vol-pick"),
        &format!("/api/emergency/v1/{id}/respond"),
        json!({"action": "accept", "eta_minutes": 8}),
    )
    .await;
    assert_eq!((s, r["data"]["role"].as_str()), (200, Some("lead")));
    assert_eq!(
        code(&offer(ops.clone(), json!({"volunteer_id": "vol-pick"})).await),
        (409, "EMERGENCY_ALREADY_RESPONDING".into())
    );
    assert_eq!(
        code(&offer(ops.clone(), json!({"volunteer_id": "vol-near"})).await),
        (409, "EMERGENCY_CASE_FULL".into())
    );
    let (_, tl) =
        crate::dispatch::get_json(&app, &format!("/api/emergency/v1/{id}/timeline"), &ops).await;
    let manual: Vec<&Value> = tl["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "ops_offer")
        .collect();
    assert_eq!(manual.len(), 2);
    assert_eq!(manual[0]["actor"], "ops-1");
    assert_eq!(manual[0]["data"]["again"], false);
    assert_eq!(manual[1]["data"]["again"], true);
    // A closed case takes no offers.
    let (s, _) = put(
        &app,
        &ops,
        &format!("/api/emergency/v1/{id}/cancel"),
        json!({"reason": "uji"}),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(
        code(&offer(ops.clone(), json!({"volunteer_id": "vol-near"})).await),
        (409, "EMERGENCY_CASE_CLOSED".into())
    );
    app.stop().await;
}

async fn get_json(app: &UpApp, path: &str, token: &str) -> (u16, Value) {
    let res = app
        .client
        .get(format!("{}{path}", app.url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hard_case_wellbeing_check_in_and_my_history() {
    let app = start_up_with(None, |cfg| {
        cfg.emergency.insert("accepts_wanted".into(), 1.into());
        cfg.emergency
            .insert("wellbeing_checkin_after_s".into(), 0.into());
    })
    .await;
    let tok = |sub: &str| app.signer.token(ISSUER, sub, &["volunteer"]);
    let ops = app.signer.token(ISSUER, "ops-1", &["ops_admin"]);
    eligible(&app, "vol-w", true, 1).await;
    testkit::eventually("eligibility copied", Duration::from_secs(10), || async {
        on_duty(&app, &tok("vol-w"), north(100.0)).await["data"]["dispatchable"] == true
    })
    .await;
    let mut ids = Vec::new();
    for (sev, cpr) in [("urgent", false), ("urgent", true)] {
        let res = app
            .client
            .post(format!("{}/api/emergency/v1/panic", app.url))
            .json(&json!({"latitude": CENTER.0, "longitude": CENTER.1, "severity": sev, "type": "unconscious", "caller_phone": format!("08129999000{}", ids.len())}))
            .send()
            .await
            .unwrap();
        let id = res.json::<Value>().await.unwrap()["data"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        testkit::eventually("offered", Duration::from_secs(10), || async {
            has_offer(&app, &tok("vol-w"), &id).await
        })
        .await;
        let base = format!("/api/emergency/v1/{id}");
        assert_eq!(
            put(
                &app,
                &tok("vol-w"),
                &format!("{base}/respond"),
                json!({"action": "accept"})
            )
            .await
            .0,
            200
        );
        assert_eq!(
            put(
                &app,
                &tok("vol-w"),
                &format!("{base}/status"),
                json!({"status": "resolved"})
            )
            .await
            .0,
            200
        );
        let (s, b) = put(
            &app,
            &tok("vol-w"),
            &format!("{base}/complete"),
            json!({"outcome": "transported", "clinical": {"interventions": {"cpr": cpr}}}),
        )
        .await;
        assert_eq!(s, 200, "{b}");
        ids.push(id);
    }
    let get = |path: String, token: String| {
        let app = &app;
        async move {
            let r = app
                .client
                .get(format!("{}{path}", app.url))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    // Only the CPR case asks how the volunteer is.
    let (s, due) = get("/api/emergency/v1/wellbeing/mine".into(), tok("vol-w")).await;
    assert_eq!(s, 200);
    let due = due["data"].as_array().unwrap().clone();
    assert_eq!(due.len(), 1, "{due:?}");
    assert_eq!(due[0]["case_id"], ids[1].as_str());
    assert_eq!(due[0]["type"], "unconscious");
    assert_eq!(
        get("/api/emergency/v1/wellbeing/mine".into(), ops.clone())
            .await
            .0,
        403
    );
    let answer = |case: &str, body: Value, token: String| {
        let path = format!("/api/emergency/v1/{case}/wellbeing");
        let app = &app;
        async move { put(app, &token, &path, body).await }
    };
    let code = |r: &(u16, Value)| (r.0, r.1["error"]["code"].as_str().unwrap_or("").to_string());
    assert_eq!(
        code(&answer(&ids[1], json!({"answer": "fine"}), tok("vol-w")).await),
        (422, "EMERGENCY_CHECKIN_ANSWER_INVALID".into())
    );
    assert_eq!(
        code(
            &answer(
                &ids[1],
                json!({"answer": "good", "note": "x".repeat(501)}),
                tok("vol-w")
            )
            .await
        ),
        (422, "VALIDATION_FAILED".into())
    );
    assert_eq!(
        code(&answer(&ids[0], json!({"answer": "good"}), tok("vol-w")).await),
        (404, "EMERGENCY_CHECKIN_NOT_FOUND".into())
    );
    assert_eq!(
        code(&answer(&ids[1], json!({"answer": "good"}), tok("vol-other")).await),
        (404, "EMERGENCY_CHECKIN_NOT_FOUND".into())
    );
    assert_eq!(
        answer(
            &ids[1],
            json!({"answer": "okay", "note": "capek"}),
            tok("vol-w")
        )
        .await
        .0,
        204
    );
    assert_eq!(
        code(&answer(&ids[1], json!({"answer": "good"}), tok("vol-w")).await),
        (409, "EMERGENCY_CHECKIN_ANSWERED".into())
    );
    let (_, due) = get("/api/emergency/v1/wellbeing/mine".into(), tok("vol-w")).await;
    assert!(due["data"].as_array().unwrap().is_empty());
    // My history: both cases, newest first, with the outcome; nobody else's.
    let (s, h) = get("/api/emergency/v1/history/mine".into(), tok("vol-w")).await;
    assert_eq!(s, 200);
    let h = h["data"].as_array().unwrap();
    assert_eq!(h.len(), 2);
    assert_eq!(h[0]["case_id"], ids[1].as_str());
    assert_eq!(
        (&h[0]["case_status"], &h[0]["outcome"], &h[0]["is_lead"]),
        (&json!("completed"), &json!("transported"), &json!(true))
    );
    assert!(h[0].get("caller_phone").is_none());
    let (_, other) = get("/api/emergency/v1/history/mine".into(), tok("vol-other")).await;
    assert!(other["data"].as_array().unwrap().is_empty());
    assert_eq!(
        get("/api/emergency/v1/history/mine".into(), ops).await.0,
        403
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_volunteer_accounts_are_dispatchable_on_duty_only_in_the_demo() {
    use kreki_platform::service::{DemoSettings, DemoSim};
    // Without --demo an account without an eligibility record is not dispatchable.
    let app = start_up_with(None, |_| {}).await;
    let t = app.signer.token(ISSUER, "acct-relawan", &["volunteer"]);
    assert_eq!(
        on_duty(&app, &t, CENTER).await["data"]["dispatchable"],
        false
    );
    app.stop().await;
    // With --demo (simulator off) it is, and a panic at its place is offered to it first.
    let app =
        crate::up::start_up_full(None, |_| {}, Some(DemoSettings { sim: DemoSim::Off })).await;
    let t = app.signer.token(ISSUER, "acct-relawan", &["volunteer"]);
    let monas = (-6.1754, 106.8272);
    assert_eq!(on_duty(&app, &t, monas).await["data"]["dispatchable"], true);
    let res = app
        .client
        .post(format!("{}/api/emergency/v1/panic", app.url))
        .json(&json!({"latitude": monas.0, "longitude": monas.1, "severity": "critical", "type": "cardiac_arrest", "caller_phone": "081277778888"}))
        .send()
        .await
        .unwrap();
    let id = res.json::<Value>().await.unwrap()["data"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    testkit::eventually(
        "the demo account is offered the case",
        Duration::from_secs(10),
        || async { has_offer(&app, &t, &id).await },
    )
    .await;
    app.stop().await;
}

/// A volunteer who is responding to an open case is not offered another one (issue 19: the
/// app would drop the offer and the wave's place would be wasted for the offer's lifetime);
/// the next case goes to a free volunteer at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_responding_volunteer_is_not_offered_another_case() {
    let app = start_up_with(None, |_| {}).await;
    let tok = |sub: &str| app.signer.token(ISSUER, sub, &["volunteer"]);
    let (busy, free) = (tok("vol-busy"), tok("vol-free"));
    eligible(&app, "vol-busy", true, 1).await;
    eligible(&app, "vol-free", true, 1).await;
    testkit::eventually("eligibility copied", Duration::from_secs(10), || async {
        on_duty(&app, &busy, north(100.0)).await["data"]["dispatchable"] == true
            && on_duty(&app, &free, north(2_000.0)).await["data"]["dispatchable"] == true
    })
    .await;
    let panic = |phone: &'static str| {
        let app = &app;
        async move {
            let res = app
                .client
                .post(format!("{}/api/emergency/v1/panic", app.url))
                .json(
                    &json!({"latitude": CENTER.0, "longitude": CENTER.1, "severity": "critical",
                    "type": "cardiac_arrest", "caller_phone": phone}),
                )
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 201);
            let v: Value = res.json().await.unwrap();
            v["data"]["id"].as_str().unwrap().to_string()
        }
    };
    // The first case: the volunteer 100 m away is offered it (first wave, 1 km) and accepts.
    let first = panic("081234567001").await;
    testkit::eventually("first offer", Duration::from_secs(10), || async {
        has_offer(&app, &busy, &first).await
    })
    .await;
    let (s, body) = put(
        &app,
        &busy,
        &format!("/api/emergency/v1/{first}/respond"),
        json!({"action": "accept", "eta_minutes": 2}),
    )
    .await;
    assert_eq!((s, body["data"]["role"].as_str()), (200, Some("lead")));

    // A second case at the same spot: not offered to the responding volunteer, so the first
    // wave has nobody in reach and widens at once to the free volunteer 2 km away.
    let second = panic("081234567002").await;
    testkit::eventually(
        "the free volunteer is offered the second case",
        Duration::from_secs(10),
        || async { has_offer(&app, &free, &second).await },
    )
    .await;
    assert!(
        !has_offer(&app, &busy, &second).await,
        "a responding volunteer was offered another case"
    );
    let ops = app.signer.token(ISSUER, "ops-1", &["ops_admin"]);
    let timeline = get_json(&app, &format!("/api/emergency/v1/{second}/timeline"), &ops).await;
    assert_eq!(timeline.0, 200);
    assert!(
        !timeline.1["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "offer_sent" && e["actor"] == "vol-busy"),
        "{timeline:?}"
    );
}
