//! Case credits from the Emergency Core's events: points, badges, stats, leaderboard.

use crate::app::*;

async fn points_badges_and_leaderboard(v: &Vol) {
    let (a, b, far) = ("vol-a", "vol-b", "vol-far");
    let ta = v.token(a, &["volunteer"]);
    let tb = v.token(b, &["volunteer"]);
    for (who, city, name) in [
        (a, "3171", "Andi"),
        (b, "3171", "Bayu"),
        (far, "3273", "Cici"),
    ] {
        let t = v.token(who, &["volunteer"]);
        assert_eq!(
            v.put("/me", &t, profile_body(name, city, "lay", None))
                .await
                .0,
            201
        );
    }
    let (s, body) = v.get("/me/stats", &ta).await;
    assert_eq!(s, 200);
    assert_eq!(
        body["data"],
        json!({"points": 0, "badges": [], "cases": {"accepted": 0, "arrived": 0, "resolved": 0, "completed": 0}})
    );
    let acc = v
        .publish(
            "emergency.responder.status",
            "emergency",
            status_event("case-1", a, "accepted"),
        )
        .await;
    v.publish(
        "emergency.responder.status",
        "emergency",
        status_event("case-1", b, "accepted"),
    )
    .await;
    v.publish(
        "emergency.responder.status",
        "emergency",
        status_event("case-1", a, "arrived"),
    )
    .await;
    v.publish(
        "emergency.responder.status",
        "emergency",
        status_event("case-1", a, "intervention"),
    )
    .await;
    v.publish(
        "emergency.responder.status",
        "emergency",
        status_event("case-1", a, "resolved"),
    )
    .await;
    // Redelivery of the same event, and a repeated status in a new event: counted once.
    v.bus.publish(&acc).await.unwrap();
    v.publish(
        "emergency.responder.status",
        "emergency",
        status_event("case-1", a, "accepted"),
    )
    .await;
    v.publish(
        "emergency.case.completed",
        "emergency",
        completed("case-1", &[a, b]),
    )
    .await;
    v.publish(
        "emergency.responder.status",
        "emergency",
        status_event("case-2", far, "accepted"),
    )
    .await;
    testkit::eventually("points of A", Duration::from_secs(10), || async {
        v.get("/me/stats", &ta).await.1["data"]["points"] == 90
    })
    .await;
    let (_, st) = v.get("/me/stats", &ta).await;
    let d = &st["data"];
    assert_eq!(
        d["cases"],
        json!({"accepted": 1, "arrived": 1, "resolved": 1, "completed": 1})
    );
    let codes: Vec<&str> = d["badges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["code"].as_str().unwrap())
        .collect();
    let mut sorted = codes.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        [
            "first_arrival",
            "first_resolved",
            "first_response",
            "team_lead"
        ]
    );
    for badge in d["badges"].as_array().unwrap() {
        assert_eq!(badge.as_object().unwrap().len(), 2);
        assert!(
            badge["awarded_at"]
                .as_str()
                .is_some_and(|t| t.len() >= 20 && t.ends_with('Z')),
            "{badge}"
        );
    }
    let mut keys: Vec<&String> = d.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        ["badges", "cases", "points"],
        "the shape the volunteer app reads"
    );
    testkit::eventually("points of B", Duration::from_secs(10), || async {
        v.get("/me/stats", &tb).await.1["data"]["points"] == 30
    })
    .await;
    // Leaderboard of Jakarta Pusat: display names only, paginated.
    let (s, lb) = v.get("/leaderboard?city=3171", &tb).await;
    assert_eq!(s, 200, "{lb}");
    assert_eq!(
        lb["data"],
        json!([
            {"rank": 1, "display_name": "Andi", "points": 90, "badges": 4},
            {"rank": 2, "display_name": "Bayu", "points": 30, "badges": 1},
        ])
    );
    assert_eq!(lb["meta"], json!({"page": 1, "limit": 20, "total": 2}));
    let (_, p2) = v.get("/leaderboard?city=3171&page=2&limit=1", &tb).await;
    assert_eq!(
        (p2["data"][0]["rank"].as_u64(), p2["meta"]["total"].as_u64()),
        (Some(2), Some(2))
    );
    let (_, bdg) = v.get("/leaderboard?city=3273", &tb).await;
    assert_eq!(bdg["data"][0]["display_name"], "Cici");
    for (q, want) in [
        ("", "VOLUNTEERS_AREA_INVALID"),
        ("?city=31", "VOLUNTEERS_AREA_INVALID"),
        ("?city=3171&limit=0", "VALIDATION_FAILED"),
        ("?city=3171&page=x", "VALIDATION_FAILED"),
        ("?city=3171&phone=1", "VALIDATION_UNKNOWN_FIELD"),
    ] {
        let (s, e) = v.get(&format!("/leaderboard{q}"), &tb).await;
        assert_eq!((s, code(&e)), (422, Some(want)), "{q}");
    }
    let (s, _) = v
        .call(reqwest::Method::GET, "/leaderboard?city=3171", None, None)
        .await;
    assert_eq!(s, 401);
}
crate::both_stores!(points_badges_and_leaderboard);
