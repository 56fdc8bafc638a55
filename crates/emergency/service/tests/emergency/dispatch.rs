//! The life-saving loop over HTTP: panic → offers in waves → a decline replaced → two accepts
//! (lead + member) → arrived → resolved → completed; escalation to PSC 119 when nobody
//! accepts, and PSC 119's status in the timeline; a responding volunteer is offered no other
//! case; the demo's volunteers and accounts.

use kreki_platform::{service::DemoSim, storage::Db};

use crate::{
    app::{self, CENTER, Duration, Setup, Value, json, north, testkit},
    both_stores,
};

async fn panic_offers_decline_two_accepts_statuses_completion(db: Db) {
    let app = Setup::default()
        .int("offers_per_wave", 2)
        .int("accepts_wanted", 2)
        .start(db)
        .await;
    let tok = |sub: &str| app.volunteer(sub);
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
        app.eligible(id, cert, 1).await;
    }
    testkit::eventually("eligibility copied", Duration::from_secs(10), || async {
        app.on_duty(&tok("vol-far"), north(20_000.0)).await["data"]["dispatchable"] == true
    })
    .await;
    app.on_duty(&u, north(100.0)).await;
    app.on_duty(&a, north(300.0)).await;
    app.on_duty(&b, north(500.0)).await;
    app.on_duty(&c, north(800.0)).await;
    let _ = far;
    // Location updates only while on duty.
    let (s, body) = app
        .put(
            "/presence/location",
            &tok("vol-never"),
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
        .post(format!("{}/panic", app.base))
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
        app.has_offer(&a, &id).await && app.has_offer(&b, &id).await
    })
    .await;
    assert!(
        !app.has_offer(&c, &id).await,
        "C waits for a free place in the wave"
    );
    let offer = &app.offers(&a).await[0];
    assert_eq!(
        (offer["severity"].as_str(), offer["type"].as_str()),
        (Some("critical"), Some("cardiac_arrest"))
    );
    assert!(
        offer.get("handshake_code").is_none(),
        "no code before accepting"
    );
    // Someone never offered cannot accept.
    let (s, body) = app
        .put(&format!("/{id}/respond"), &u, json!({"action": "accept"}))
        .await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (409, Some("EMERGENCY_NOT_OFFERED"))
    );

    // B declines: C is offered in B's place.
    let (s, _) = app
        .put(&format!("/{id}/respond"), &b, json!({"action": "reject"}))
        .await;
    assert_eq!(s, 200);
    testkit::eventually("decline replaced by C", Duration::from_secs(10), || async {
        app.has_offer(&c, &id).await
    })
    .await;

    // A accepts first: team lead, gets the handshake code. C joins as member.
    let (s, body) = app
        .put(
            &format!("/{id}/respond"),
            &a,
            json!({"action": "accept", "eta_minutes": 4}),
        )
        .await;
    assert_eq!(
        (s, body["data"]["role"].as_str()),
        (200, Some("lead")),
        "{body}"
    );
    assert_eq!(body["data"]["handshake_code"], code.as_str());
    let (s, again) = app
        .put(&format!("/{id}/respond"), &a, json!({"action": "accept"}))
        .await;
    assert_eq!(
        (s, again["error"]["code"].as_str()),
        (409, Some("EMERGENCY_ALREADY_ANSWERED"))
    );
    let (s, body) = app
        .put(
            &format!("/{id}/respond"),
            &c,
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
        .get(format!("{}/{id}", app.base))
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
    let (s, body) = app
        .put(&format!("/{id}/status"), &a, json!({"status": "arrived"}))
        .await;
    assert_eq!(
        (s, body["data"]["status"].as_str()),
        (200, Some("responding")),
        "{body}"
    );
    let (s, body) = app
        .put(&format!("/{id}/status"), &a, json!({"status": "accepted"}))
        .await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (409, Some("EMERGENCY_STATUS_BACKWARDS"))
    );
    assert_eq!(
        app.put(&format!("/{id}/status"), &a, json!({"status": "resolved"}))
            .await
            .0,
        200
    );
    // Only the lead (or Ops) completes.
    let record = json!({"outcome": "transported", "hospital_referral": "RSUD Tarakan",
        "clinical": {"vitals": {"heart_rate": 0, "spo2": 88, "avpu": "U"}, "interventions": {"cpr": true, "aed_shocks": 2},
                     "patient": {"sex": "male", "estimated_age": 50}, "working_diagnosis": "cardiac arrest"}});
    let (s, body) = app
        .put(&format!("/{id}/complete"), &c, record.clone())
        .await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (403, Some("EMERGENCY_NOT_TEAM_LEAD"))
    );
    let (s, body) = app
        .put(&format!("/{id}/complete"), &a, json!({"outcome": "magic"}))
        .await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (422, Some("EMERGENCY_OUTCOME_INVALID"))
    );
    let (s, body) = app.put(&format!("/{id}/complete"), &a, record).await;
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
        .get(format!("{}/{id}/timeline", app.base))
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
    // Offers were sent through notify as critical messages (no socket was open), one per
    // offer, deduplicated by the offer's id; notify's rendering of them is checked with every
    // service together (`apps/kreki/tests/kreki/emergency.rs`).
    testkit::eventually(
        "three dispatch offers requested",
        Duration::from_secs(10),
        || async {
            app.messages()
                .await
                .iter()
                .filter(|m| m["priority"] == "critical" && m["template"] == "dispatch_offer")
                .count()
                == 3
        },
    )
    .await;
    let messages = app.messages().await;
    assert!(
        !messages
            .iter()
            .any(|m| m["recipient_id"] == "vol-uncertified"),
        "{messages:?}"
    );
    let mut to: Vec<&str> = messages
        .iter()
        .filter(|m| m["template"] == "dispatch_offer")
        .map(|m| m["recipient_id"].as_str().unwrap())
        .collect();
    to.sort_unstable();
    assert_eq!(to, ["vol-a", "vol-b", "vol-c"]);
    app.stop().await;
}
both_stores!(panic_offers_decline_two_accepts_statuses_completion);

async fn nobody_accepts_escalates_and_psc119_status_reaches_the_timeline(db: Db) {
    let app = Setup::default()
        .int("escalate_critical_s", 1)
        .start(db)
        .await;
    // The only volunteer is 2 km away: beyond the first wave's 1 km, inside the second's 3 km.
    let far = app.volunteer("vol-2km");
    app.eligible("vol-2km", true, 1).await;
    testkit::eventually("eligibility copied", Duration::from_secs(10), || async {
        app.on_duty(&far, north(2_000.0)).await["data"]["dispatchable"] == true
    })
    .await;
    let res = app
        .client
        .post(format!("{}/panic", app.base))
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
            .get(format!("{}/{id}/timeline", app.base))
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
    assert!(app.has_offer(&far, &id).await);
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
        .get(format!("{}/{id}", app.base))
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
    // PSC 119 is told (`emergency.case.escalated` in the outbox, for the bridge).
    let events = app.outbox("emergency.case.escalated").await;
    assert_eq!(
        (
            events.len(),
            events[0]["case_id"].as_str(),
            events[0]["reason"].as_str()
        ),
        (1, Some(id.as_str()), Some("no_accept_in_time"))
    );
    // The bridge reports the ambulance.
    app.publish(
        "bridge",
        "bridge.psc119.status",
        json!({"case_id": id, "status": "ambulance_dispatched", "at": "2026-11-25T10:00:00Z", "details": {"centre": "PSC 119 DKI"}}),
    )
    .await;
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
both_stores!(nobody_accepts_escalates_and_psc119_status_reaches_the_timeline);

/// A volunteer who is responding to an open case is not offered another one (issue 19: the
/// app would drop the offer and the wave's place would be wasted for the offer's lifetime);
/// the next case goes to a free volunteer at once.
async fn a_responding_volunteer_is_not_offered_another_case(db: Db) {
    let app = app::start(db).await;
    let tok = |sub: &str| app.volunteer(sub);
    let (busy, free) = (tok("vol-busy"), tok("vol-free"));
    app.eligible("vol-busy", true, 1).await;
    app.eligible("vol-free", true, 1).await;
    testkit::eventually("eligibility copied", Duration::from_secs(10), || async {
        app.on_duty(&busy, north(100.0)).await["data"]["dispatchable"] == true
            && app.on_duty(&free, north(2_000.0)).await["data"]["dispatchable"] == true
    })
    .await;
    let panic = |phone: &'static str| {
        let app = &app;
        async move {
            let res = app
                .client
                .post(format!("{}/panic", app.base))
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
        app.has_offer(&busy, &first).await
    })
    .await;
    let (s, body) = app
        .put(
            &format!("/{first}/respond"),
            &busy,
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
        || async { app.has_offer(&free, &second).await },
    )
    .await;
    assert!(
        !app.has_offer(&busy, &second).await,
        "a responding volunteer was offered another case"
    );
    let ops = app.ops("ops-1");
    let timeline = app.get(&format!("/{second}/timeline"), &ops).await;
    assert_eq!(timeline.0, 200);
    assert!(
        !timeline.1["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "offer_sent" && e["actor"] == "vol-busy"),
        "{timeline:?}"
    );
    app.stop().await;
}
both_stores!(a_responding_volunteer_is_not_offered_another_case);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_demo_an_account_without_eligibility_is_not_dispatchable() {
    let (db, _guard) = app::sqlite().await;
    let app = app::start(db).await;
    let t = app.volunteer("acct-relawan");
    assert_eq!(app.on_duty(&t, CENTER).await["data"]["dispatchable"], false);
    app.stop().await;
}

/// With `--demo` (simulator off) a volunteer account without an eligibility record is
/// dispatchable, and a panic at its place is offered to it first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_the_demo_a_volunteer_account_is_dispatchable_on_duty() {
    let (db, _guard) = app::sqlite().await;
    let app = Setup::default().demo(DemoSim::Off).start(db).await;
    let t = app.volunteer("acct-relawan");
    let monas = (-6.1754, 106.8272);
    assert_eq!(app.on_duty(&t, monas).await["data"]["dispatchable"], true);
    let id = app
        .panic_at(monas, "critical", "cardiac_arrest", "081277778888")
        .await;
    testkit::eventually(
        "the demo account is offered the case",
        Duration::from_secs(10),
        || async { app.has_offer(&t, &id).await },
    )
    .await;
    app.stop().await;
}

/// `--demo` with its simulator: volunteers on duty around Monas, AEDs, and a panic accepted
/// by a simulated volunteer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_volunteers_answer_a_panic() {
    let (db, _guard) = app::sqlite().await;
    let app = Setup::default().demo(DemoSim::AutoAccept).start(db).await;
    let ops = app.ops("ops");
    let (_, near) = app
        .get(
            "/nearby?latitude=-6.1754&longitude=106.8272&radius=3000",
            &ops,
        )
        .await;
    assert!(
        near["data"].as_array().unwrap().len() >= 20,
        "demo volunteers on duty around Monas"
    );
    let aeds: Value = app
        .client
        .post(format!("{}/aeds/nearest", app.base))
        .json(&json!({"latitude": -6.1754, "longitude": 106.8272, "radius_m": 5000}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(!aeds["data"].as_array().unwrap().is_empty(), "demo AEDs");
    let id = app
        .panic_at(
            (-6.1754, 106.8272),
            "critical",
            "cardiac_arrest",
            "081211112222",
        )
        .await;
    testkit::eventually(
        "a demo volunteer accepts",
        Duration::from_secs(20),
        || async {
            let (_, c) = app.get(&format!("/{id}"), &ops).await;
            c["data"]["responders"][0]["volunteer_id"]
                .as_str()
                .is_some_and(|v| v.starts_with("demo-relawan-"))
        },
    )
    .await;
    app.stop().await;
}
