//! The AED registry: Ops keep it (validated, updated, taken out of service); the nearest
//! AEDs are public, open ones first; the caller's case shows the AEDs near the patient.

use kreki_platform::storage::Db;

use crate::{
    app::{self, Value, json},
    both_stores,
};

async fn aed_registry_and_nearest(db: Db) {
    let app = app::start(db).await;
    let ops = app.ops("ops");
    let vol = app.volunteer("vol");
    let create = |token: &str, body: Value| {
        app.client
            .post(format!("{}/aeds", app.base))
            .bearer_auth(token.to_string())
            .json(&body)
            .send()
    };
    let aed = |name: &str, north_m: f64, hours: Value| {
        json!({"name": name, "latitude": -6.2 + north_m / 111_195.0, "longitude": 106.8, "access": "public",
               "hours": hours, "address": "Jl. Contoh", "contact": "021-555"})
    };
    assert_eq!(
        create(&vol, aed("x", 0.0, Value::Null))
            .await
            .unwrap()
            .status(),
        403
    );
    for (bad, field) in [
        (
            json!({"name": "", "latitude": -6.2, "longitude": 106.8, "access": "public"}),
            "name",
        ),
        (
            json!({"name": "A", "latitude": -6.2, "longitude": 106.8, "access": "secret"}),
            "access",
        ),
        (
            json!({"name": "A", "latitude": -6.2, "longitude": 106.8, "access": "public", "hours": [{"day": 9, "open": "08:00", "close": "17:00"}]}),
            "hours",
        ),
    ] {
        let res = create(&ops, bad).await.unwrap();
        assert_eq!(res.status(), 422);
        let b: Value = res.json().await.unwrap();
        assert_eq!(
            (
                b["error"]["code"].as_str(),
                b["error"]["details"]["field"].as_str()
            ),
            (Some("EMERGENCY_AED_INVALID"), Some(field))
        );
    }
    // Near, always open; nearer but never open (no opening hours on any day); far.
    let always: Value = create(&ops, aed("Stasiun 24 jam", 300.0, Value::Null))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let closed: Value = create(&ops, aed("Kantor tutup", 100.0, json!([])))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    create(&ops, aed("Jauh", 3_000.0, Value::Null))
        .await
        .unwrap();
    let nearest = |body: Value| {
        app.client
            .post(format!("{}/aeds/nearest", app.base))
            .json(&body)
            .send()
    };
    let list: Value = nearest(json!({"latitude": -6.2, "longitude": 106.8}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["Stasiun 24 jam", "Kantor tutup"],
        "open first, then nearest; the far one is beyond 1 km"
    );
    assert_eq!(list["data"][0]["open_now"], true);
    assert!((list["data"][0]["distance_m"].as_f64().unwrap() - 300.0).abs() < 1.0);
    let res = nearest(json!({"latitude": -6.2, "longitude": 106.8, "radius_m": 50000}))
        .await
        .unwrap();
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"]["code"],
        "EMERGENCY_RADIUS_INVALID"
    );
    // Update and take out of service.
    let id = always["data"]["id"].as_str().unwrap();
    let res = app
        .client
        .put(format!("{}/aeds/{id}", app.base))
        .bearer_auth(&ops)
        .json(&aed("Stasiun (lantai 2)", 300.0, Value::Null))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let one: Value = app
        .client
        .get(format!("{}/aeds/{id}", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(one["data"]["name"], "Stasiun (lantai 2)");
    let closed_id = closed["data"]["id"].as_str().unwrap();
    assert_eq!(
        app.client
            .delete(format!("{}/aeds/{closed_id}", app.base))
            .bearer_auth(&ops)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        app.client
            .delete(format!("{}/aeds/nope", app.base))
            .bearer_auth(&ops)
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let list: Value = nearest(json!({"latitude": -6.2, "longitude": 106.8}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    // The caller's screen shows the AED near the patient.
    let (_, created) = app.panic(json!({"latitude": -6.2, "longitude": 106.8, "severity": "critical", "type": "cardiac_arrest", "caller_phone": "081255555555"}), None, None).await;
    let token = created["data"]["caller_token"].as_str().unwrap();
    let (_, case) = app
        .get(
            &format!("/{}", created["data"]["id"].as_str().unwrap()),
            token,
        )
        .await;
    assert_eq!(case["data"]["aeds"][0]["name"], "Stasiun (lantai 2)");
    app.stop().await;
}
both_stores!(aed_registry_and_nearest);
