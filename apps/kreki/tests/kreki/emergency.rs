//! Emergency Core over HTTP (in `kreki up`): panic, case access, cancel, timeline, limits.

use serde_json::{Value, json};

use crate::up::{ISSUER, UpApp, start_up};

async fn panic_req(
    app: &UpApp,
    body: Value,
    token: Option<&str>,
    key: Option<&str>,
) -> (u16, Value) {
    let mut r = app
        .client
        .post(format!("{}/api/emergency/v1/panic", app.url))
        .json(&body);
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    if let Some(k) = key {
        r = r.header("idempotency-key", k);
    }
    let res = r.send().await.unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

async fn get(app: &UpApp, path: &str, token: &str) -> (u16, Value) {
    let res = app
        .client
        .get(format!("{}{path}", app.url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

fn body(phone: &str) -> Value {
    json!({"latitude": -6.2088, "longitude": 106.8456, "accuracy_m": 15, "severity": "critical", "type": "cardiac_arrest",
           "description": "Pria 50 tahun tidak sadar", "caller_phone": phone})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_panic_case_access_cancel_and_timeline() {
    let app = start_up(None).await;
    let (s, created) = panic_req(&app, body("0812-3456-7890"), None, None).await;
    assert_eq!(s, 201, "{created}");
    let d = &created["data"];
    let id = d["id"].as_str().unwrap().to_string();
    let token = d["caller_token"].as_str().unwrap().to_string();
    assert!(token.starts_with("ct_"));
    assert_eq!(d["status"], "pending");
    assert_eq!(d["handshake_code"].as_str().unwrap().len(), 4);
    // The caller reads it with the case token.
    let (s, case) = get(&app, &format!("/api/emergency/v1/{id}"), &token).await;
    assert_eq!(s, 200, "{case}");
    assert_eq!(case["data"]["handshake_code"], d["handshake_code"]);
    assert_eq!(case["data"]["type"], "cardiac_arrest");
    assert!(
        case["data"].get("caller_phone").is_none(),
        "no personal data echoed"
    );
    // Someone else's token learns nothing.
    let (s, _) = get(&app, &format!("/api/emergency/v1/{id}"), "ct_not-the-token").await;
    assert_eq!(s, 404);
    let stranger = app.signer.token(ISSUER, "someone", &["volunteer"]);
    assert_eq!(
        get(&app, &format!("/api/emergency/v1/{id}"), &stranger)
            .await
            .0,
        404
    );
    // Ops sees it, and it is in the active list; a volunteer may not list.
    let ops = app.signer.token(ISSUER, "ops-1", &["ops_admin"]);
    assert_eq!(
        get(&app, &format!("/api/emergency/v1/{id}"), &ops).await.0,
        200
    );
    let (s, active) = get(&app, "/api/emergency/v1/active", &ops).await;
    assert_eq!(
        (s, active["data"][0]["id"].as_str()),
        (200, Some(id.as_str()))
    );
    assert_eq!(active["meta"]["total"], 1);
    assert_eq!(
        get(&app, "/api/emergency/v1/active", &stranger).await.0,
        403
    );
    // Cancel, then cancel again.
    let cancel = |reason: &'static str| {
        app.client
            .put(format!("{}/api/emergency/v1/{id}/cancel", app.url))
            .bearer_auth(&token)
            .json(&json!({"reason": reason}))
            .send()
    };
    let res = cancel("salah tekan").await.unwrap();
    assert_eq!(res.status(), 200);
    let res = cancel("lagi").await.unwrap();
    assert_eq!(res.status(), 409);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"]["code"],
        "EMERGENCY_CASE_CLOSED"
    );
    let (s, t) = get(&app, &format!("/api/emergency/v1/{id}/timeline"), &token).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_panics_are_refused_with_codes() {
    let app = start_up(None).await;
    let with = |f: &dyn Fn(&mut Value)| {
        let mut b = body("081234567890");
        f(&mut b);
        b
    };
    let cases: Vec<(Value, u16, &str)> = vec![
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
    for (b, status, code) in cases {
        let (s, res) = panic_req(&app, b.clone(), None, None).await;
        assert_eq!(
            (s, res["error"]["code"].as_str().unwrap_or("")),
            (status, code),
            "{b}"
        );
    }
    // Non-finite numbers cannot even be written in JSON.
    let res = app
        .client
        .post(format!("{}/api/emergency/v1/panic", app.url))
        .header("content-type", "application/json")
        .body(r#"{"latitude": NaN, "longitude": 106.8, "severity": "critical", "type": "other", "caller_phone": "081234567890"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let (s, res) = panic_req(&app, body("081234567890"), None, Some("has space")).await;
    assert_eq!(
        (s, res["error"]["code"].as_str()),
        (400, Some("IDEMPOTENCY_KEY_INVALID"))
    );
    // Nothing was stored by any of them.
    let ops = app.signer.token(ISSUER, "ops", &["ops_admin"]);
    assert_eq!(
        get(&app, "/api/emergency/v1/active", &ops).await.1["meta"]["total"],
        0
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retried_taps_and_floods() {
    let app = start_up(None).await;
    // The same Idempotency-Key: one case, the same answer.
    let (s1, a) = panic_req(&app, body("081111111111"), None, Some("tap-1")).await;
    let (s2, b) = panic_req(&app, body("081111111111"), None, Some("tap-1")).await;
    assert_eq!((s1, s2), (201, 201));
    assert_eq!(a["data"]["id"], b["data"]["id"]);
    assert_eq!(a["data"]["caller_token"], b["data"]["caller_token"]);
    let mut other = body("081111111111");
    other["severity"] = json!("urgent");
    let (s, c) = panic_req(&app, other, None, Some("tap-1")).await;
    assert_eq!(
        (s, c["error"]["code"].as_str()),
        (409, Some("IDEMPOTENCY_KEY_REUSED"))
    );
    // A signed-in caller with an open case gets it back.
    let user = app.signer.token(ISSUER, "public-7", &["public"]);
    let mut signed = body("081222222222");
    signed.as_object_mut().unwrap().remove("caller_phone");
    let (s, first) = panic_req(&app, signed.clone(), Some(&user), None).await;
    assert_eq!(s, 201);
    assert!(first["data"].get("caller_token").is_none());
    let (s, second) = panic_req(&app, signed, Some(&user), None).await;
    assert_eq!(
        (s, &second["data"]["id"], &second["data"]["existing"]),
        (200, &first["data"]["id"], &json!(true))
    );
    let (s, own) = get(
        &app,
        &format!(
            "/api/emergency/v1/{}",
            first["data"]["id"].as_str().unwrap()
        ),
        &user,
    )
    .await;
    assert_eq!((s, own["data"]["status"].as_str()), (200, Some("pending")));
    // A flood from one phone: the first panic always passes, the flood is cut.
    let mut statuses = Vec::new();
    for _ in 0..8 {
        statuses.push(panic_req(&app, body("083333333333"), None, None).await.0);
    }
    assert_eq!(statuses[0], 201);
    assert_eq!(&statuses[..6], &[201; 6]);
    assert_eq!(statuses[6], 429, "{statuses:?}");
    // Another phone from the same address still gets through at once.
    assert_eq!(
        panic_req(&app, body("084444444444"), None, None).await.0,
        201
    );
    app.stop().await;
}

/// The gateway's signature: HMAC-SHA256 of `"<timestamp>.<body>"`.
fn sign(secret: &str, ts: i64, body: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{ts}.").as_bytes());
    mac.update(body);
    let sig: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={sig}")
}

async fn sms(app: &UpApp, secret: Option<&str>, msg: Value) -> (u16, Value) {
    let raw = serde_json::to_vec(&msg).unwrap();
    let mut r = app
        .client
        .post(format!("{}/api/emergency/v1/sms/inbound", app.url))
        .header("content-type", "application/json")
        .body(raw.clone());
    if let Some(s) = secret {
        let ts = kreki_platform::time_util::now_micros() / 1_000_000;
        r = r
            .header("x-kreki-timestamp", ts.to_string())
            .header("x-kreki-signature", sign(s, ts, &raw));
    }
    let res = r.send().await.unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sms_fallback_creates_deduplicates_and_helps() {
    let unconfigured = start_up(None).await;
    let (s, b) = sms(&unconfigured, Some("x"), json!({"from": "+6281234567890", "text": "DARURAT 0 -6.2,106.8", "message_id": "m0", "received_at": "2026-11-25T10:00:00Z"})).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (404, Some("EMERGENCY_SMS_NOT_CONFIGURED"))
    );
    // Notify's receipt webhooks of unconfigured channels do not exist either.
    for path in [
        "/api/notify/v1/receipts/sms",
        "/api/notify/v1/receipts/whatsapp",
    ] {
        let res = unconfigured
            .client
            .post(format!("{}{path}", unconfigured.url))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404, "{path}");
    }
    unconfigured.stop().await;

    let secret = "gateway-shared-secret";
    let app = crate::up::start_up_with(None, |cfg| {
        cfg.emergency
            .insert("sms_webhook_secret".into(), secret.into());
    })
    .await;
    let msg = |id: &str, text: &str| json!({"from": "0812-3456-7890", "text": text, "message_id": id, "received_at": "2026-11-25T10:00:00Z"});
    // Forged or unsigned: refused, nothing stored.
    let (s, b) = sms(
        &app,
        Some("wrong"),
        msg("m1", "DARURAT 0 -6.2088,106.8456 JANTUNG"),
    )
    .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (401, Some("EMERGENCY_SMS_SIGNATURE_INVALID"))
    );
    assert_eq!(
        sms(&app, None, msg("m1", "DARURAT 0 -6.2088,106.8456 JANTUNG"))
            .await
            .0,
        401
    );
    // A real one.
    let (s, b) = sms(
        &app,
        Some(secret),
        msg(
            "m1",
            "darurat 0  -6,2088 106,8456 jantung pria pingsan di pasar",
        ),
    )
    .await;
    assert_eq!(
        (s, b["data"]["status"].as_str()),
        (200, Some("created")),
        "{b}"
    );
    let case_id = b["data"]["case_id"].as_str().unwrap().to_string();
    // The carrier retries (same id) and the sender repeats (same text): one case.
    let (_, b) = sms(
        &app,
        Some(secret),
        msg(
            "m1",
            "darurat 0  -6,2088 106,8456 jantung pria pingsan di pasar",
        ),
    )
    .await;
    assert_eq!(
        (b["data"]["status"].as_str(), b["data"]["case_id"].as_str()),
        (Some("duplicate"), Some(case_id.as_str()))
    );
    let (_, b) = sms(
        &app,
        Some(secret),
        msg(
            "m2",
            "DARURAT 0 -6,2088 106,8456 JANTUNG pria pingsan di pasar",
        ),
    )
    .await;
    assert_eq!(
        (b["data"]["status"].as_str(), b["data"]["case_id"].as_str()),
        (Some("duplicate"), Some(case_id.as_str()))
    );
    let ops = app.signer.token(ISSUER, "ops", &["ops_admin"]);
    let (s, case) = get(&app, &format!("/api/emergency/v1/{case_id}"), &ops).await;
    assert_eq!(
        (
            s,
            case["data"]["type"].as_str(),
            case["data"]["severity"].as_str()
        ),
        (200, Some("cardiac_arrest"), Some("critical"))
    );
    assert_eq!(case["data"]["description"], "pria pingsan di pasar");
    let (_, t) = get(&app, &format!("/api/emergency/v1/{case_id}/timeline"), &ops).await;
    assert_eq!(t["data"][1]["kind"], "sms_received");
    // Unreadable: a help reply goes back, the message is kept for an operator.
    let (_, b) = sms(
        &app,
        Some(secret),
        msg("m3", "DARURAT tolong di dekat pasar"),
    )
    .await;
    assert_eq!(b["data"]["status"], "unparsed");
    let console = app.console.clone();
    kreki_platform::testkit::eventually(
        "help reply sent",
        std::time::Duration::from_secs(10),
        || {
            let console = console.clone();
            async move {
                crate::up::console_lines(&console).iter().any(|l| {
                    l["message"]["to"] == "+6281234567890"
                        && l["message"]["body"]
                            .as_str()
                            .is_some_and(|b| b.starts_with("Format: DARURAT"))
                })
            }
        },
    )
    .await;
    let (s, b) = sms(&app, Some(secret), json!({"from": "12", "text": "DARURAT 0 -6.2,106.8", "message_id": "m4", "received_at": "x"})).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (422, Some("EMERGENCY_CALLER_PHONE_INVALID"))
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nearby_is_for_ops() {
    let app = start_up(None).await;
    let vol = app.signer.token(ISSUER, "vol-n", &["volunteer"]);
    let res = app
        .client
        .put(format!("{}/api/emergency/v1/presence", app.url))
        .bearer_auth(&vol)
        .json(&json!({"on_duty": true, "latitude": -6.2, "longitude": 106.8}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let ops = app.signer.token(ISSUER, "ops", &["ops_admin"]);
    let (s, b) = get(
        &app,
        "/api/emergency/v1/nearby?latitude=-6.201&longitude=106.8&radius=2000",
        &ops,
    )
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
        get(
            &app,
            "/api/emergency/v1/nearby?latitude=-6.2&longitude=106.8",
            &vol
        )
        .await
        .0,
        403
    );
    for bad in ["radius=0", "radius=-5", "radius=1e9"] {
        let (s, b) = get(
            &app,
            &format!("/api/emergency/v1/nearby?latitude=-6.2&longitude=106.8&{bad}"),
            &ops,
        )
        .await;
        assert_eq!(
            (s, b["error"]["code"].as_str()),
            (422, Some("EMERGENCY_RADIUS_INVALID")),
            "{bad}"
        );
    }
    let (s, _) = get(
        &app,
        "/api/emergency/v1/nearby?latitude=abc&longitude=106.8",
        &ops,
    )
    .await;
    assert_eq!(s, 400);
    // Off duty: gone at once.
    app.client
        .put(format!("{}/api/emergency/v1/presence", app.url))
        .bearer_auth(&vol)
        .json(&json!({"on_duty": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        get(
            &app,
            "/api/emergency/v1/nearby?latitude=-6.2&longitude=106.8",
            &ops
        )
        .await
        .1["data"],
        json!([])
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aed_registry_and_nearest() {
    let app = start_up(None).await;
    let ops = app.signer.token(ISSUER, "ops", &["ops_admin"]);
    let vol = app.signer.token(ISSUER, "vol", &["volunteer"]);
    let create = |token: &str, body: Value| {
        app.client
            .post(format!("{}/api/emergency/v1/aeds", app.url))
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
            .post(format!("{}/api/emergency/v1/aeds/nearest", app.url))
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
        .put(format!("{}/api/emergency/v1/aeds/{id}", app.url))
        .bearer_auth(&ops)
        .json(&aed("Stasiun (lantai 2)", 300.0, Value::Null))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let one: Value = app
        .client
        .get(format!("{}/api/emergency/v1/aeds/{id}", app.url))
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
            .delete(format!("{}/api/emergency/v1/aeds/{closed_id}", app.url))
            .bearer_auth(&ops)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        app.client
            .delete(format!("{}/api/emergency/v1/aeds/nope", app.url))
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
    let (_, created) = panic_req(&app, json!({"latitude": -6.2, "longitude": 106.8, "severity": "critical", "type": "cardiac_arrest", "caller_phone": "081255555555"}), None, None).await;
    let token = created["data"]["caller_token"].as_str().unwrap();
    let (_, case) = get(
        &app,
        &format!(
            "/api/emergency/v1/{}",
            created["data"]["id"].as_str().unwrap()
        ),
        token,
    )
    .await;
    assert_eq!(case["data"]["aeds"][0]["name"], "Stasiun (lantai 2)");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_volunteers_answer_a_panic() {
    use kreki_platform::service::{DemoSettings, DemoSim};
    let app = crate::up::start_up_full(
        None,
        |_| {},
        Some(DemoSettings {
            sim: DemoSim::AutoAccept,
        }),
    )
    .await;
    let ops = app.signer.token(ISSUER, "ops", &["ops_admin"]);
    let (_, near) = get(
        &app,
        "/api/emergency/v1/nearby?latitude=-6.1754&longitude=106.8272&radius=3000",
        &ops,
    )
    .await;
    assert!(
        near["data"].as_array().unwrap().len() >= 20,
        "demo volunteers on duty around Monas"
    );
    let aeds: Value = app
        .client
        .post(format!("{}/api/emergency/v1/aeds/nearest", app.url))
        .json(&json!({"latitude": -6.1754, "longitude": 106.8272, "radius_m": 5000}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(!aeds["data"].as_array().unwrap().is_empty(), "demo AEDs");
    let (s, created) = panic_req(&app, json!({"latitude": -6.1754, "longitude": 106.8272, "severity": "critical", "type": "cardiac_arrest", "caller_phone": "081211112222"}), None, None).await;
    assert_eq!(s, 201);
    let id = created["data"]["id"].as_str().unwrap().to_string();
    kreki_platform::testkit::eventually(
        "a demo volunteer accepts",
        std::time::Duration::from_secs(20),
        || async {
            let (_, c) = get(&app, &format!("/api/emergency/v1/{id}"), &ops).await;
            c["data"]["responders"][0]["volunteer_id"]
                .as_str()
                .is_some_and(|v| v.starts_with("demo-relawan-"))
        },
    )
    .await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ops_escalates_and_reads_the_metrics_strip() {
    let app = start_up(None).await;
    let ops = app.signer.token(ISSUER, "ops-1", &["ops_admin"]);
    let vol = app.signer.token(ISSUER, "vol-1", &["volunteer"]);
    // Nothing yet today.
    let (s, st) = get(&app, "/api/emergency/v1/stats", &ops).await;
    assert_eq!(s, 200, "{st}");
    assert_eq!(
        (&st["data"]["open_cases"], &st["data"]["cases_today"]),
        (&json!(0), &json!(0))
    );
    assert!(st["data"].get("median_first_accept_s_today").is_none());
    assert_eq!(get(&app, "/api/emergency/v1/stats", &vol).await.0, 403);
    let (_, created) = panic_req(&app, body("081234560001"), None, None).await;
    let id = created["data"]["id"].as_str().unwrap().to_string();
    let (_, st) = get(&app, "/api/emergency/v1/stats", &ops).await;
    assert_eq!(
        (&st["data"]["open_cases"], &st["data"]["cases_today"]),
        (&json!(1), &json!(1))
    );
    let esc = |token: String, body: Value, case: String| {
        app.client
            .put(format!("{}/api/emergency/v1/{case}/escalate", app.url))
            .bearer_auth(token)
            .json(&body)
            .send()
    };
    // Bad input and the wrong people change nothing.
    let r = esc(ops.clone(), json!({"note": "  "}), id.clone())
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "VALIDATION_FAILED"
    );
    let r = esc(ops.clone(), json!({"note": "x", "extra": 1}), id.clone())
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let r = esc(vol.clone(), json!({"note": "x"}), id.clone())
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = esc(ops.clone(), json!({"note": "x"}), "no-such-case".into())
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "EMERGENCY_CASE_NOT_FOUND"
    );
    let (_, c) = get(&app, &format!("/api/emergency/v1/{id}"), &ops).await;
    assert_eq!(c["data"]["escalated"], false);
    // Ops escalates: the case says so, the timeline has who and why, and the bus event's reason is `ops`.
    let r = esc(
        ops.clone(),
        json!({"note": "penelepon tidak sadar, relawan jauh"}),
        id.clone(),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["data"]["escalated"], true);
    let r = esc(ops.clone(), json!({"note": "lagi"}), id.clone())
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "EMERGENCY_ALREADY_ESCALATED"
    );
    let (_, t) = get(&app, &format!("/api/emergency/v1/{id}/timeline"), &ops).await;
    let entries = t["data"].as_array().unwrap();
    let esc_entry = entries.iter().find(|e| e["kind"] == "escalated").unwrap();
    assert_eq!(esc_entry["data"]["reason"], "ops");
    assert_eq!(esc_entry["actor"], "ops-1");
    let note = entries.iter().find(|e| e["kind"] == "ops_note").unwrap();
    assert_eq!(note["data"]["note"], "penelepon tidak sadar, relawan jauh");
    // A closed case cannot be escalated.
    let (_, other) = panic_req(&app, body("081234560002"), None, None).await;
    let other_id = other["data"]["id"].as_str().unwrap().to_string();
    let r = app
        .client
        .put(format!("{}/api/emergency/v1/{other_id}/cancel", app.url))
        .bearer_auth(&ops)
        .json(&json!({"reason": "uji"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = esc(ops.clone(), json!({"note": "x"}), other_id)
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "EMERGENCY_CASE_CLOSED"
    );
    let (_, st) = get(&app, "/api/emergency/v1/stats", &ops).await;
    assert_eq!(
        (&st["data"]["open_cases"], &st["data"]["cases_today"]),
        (&json!(1), &json!(2))
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_apps_are_served_with_headers_or_a_build_hint() {
    // A built directory: entry points no-cache, versioned assets immutable, strict CSP.
    let web = kreki_platform::testkit::TempDir::default();
    let w = web.path();
    std::fs::create_dir_all(w.join("relawan")).unwrap();
    std::fs::create_dir_all(w.join("ops")).unwrap();
    std::fs::create_dir_all(w.join("app/b1")).unwrap();
    std::fs::write(w.join("index.html"), "<h1>caller</h1>").unwrap();
    std::fs::write(w.join("sw.js"), "// sw").unwrap();
    std::fs::write(w.join("manifest.webmanifest"), "{}").unwrap();
    std::fs::write(w.join("relawan/index.html"), "<h1>relawan</h1>").unwrap();
    std::fs::write(w.join("relawan/sw.js"), "// sw").unwrap();
    std::fs::write(w.join("ops/index.html"), "<h1>ops</h1>").unwrap();
    std::fs::write(w.join("app/b1/caller.js"), "export {}").unwrap();
    let dir = w.to_string_lossy().to_string();
    let app = crate::up::start_up_with(None, move |c| {
        c.emergency.insert("web_dir".into(), dir.as_str().into());
        c.emergency.insert("sms_number".into(), "+628119".into());
    })
    .await;
    let fetch = |path: &'static str| app.client.get(format!("{}{path}", app.url)).send();
    for (path, text) in [
        ("/", "caller"),
        ("/relawan/", "relawan"),
        ("/relawan/callback", "relawan"),
        ("/ops/", "ops"),
    ] {
        let r = fetch(path).await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(r.headers()["cache-control"], "no-cache", "{path}");
        let csp = r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe"),
            "{csp}"
        );
        assert!(r.text().await.unwrap().contains(text), "{path}");
    }
    let r = fetch("/app/b1/caller.js").await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("javascript")
    );
    let r = fetch("/relawan/sw.js").await.unwrap();
    assert_eq!(r.headers()["cache-control"], "no-cache");
    assert_eq!(r.headers()["service-worker-allowed"], "/relawan/");
    let r = fetch("/sw.js").await.unwrap();
    assert_eq!(r.headers()["service-worker-allowed"], "/");
    // A missing asset is the platform's 404 envelope, not the page.
    let r = fetch("/app/b1/nope.js").await.unwrap();
    assert_eq!(r.status(), 404);
    assert!(
        r.headers()
            .get("cache-control")
            .is_none_or(|v| !v.to_str().unwrap().contains("immutable"))
    );
    assert!(r.json::<Value>().await.unwrap()["error"]["code"].is_string());
    let r = fetch("/relawan").await.unwrap();
    assert_eq!(r.url().path(), "/relawan/");
    let cfg: Value = fetch("/app-config.json")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(cfg["sms_number"], "+628119");
    assert!(
        cfg["map_tile_url"]
            .as_str()
            .unwrap()
            .starts_with("https://")
    );
    app.stop().await;

    // No directory: the pages say how to build them, in both languages.
    let app = crate::up::start_up_with(None, |c| {
        c.emergency
            .insert("web_dir".into(), "/nonexistent/kreki-web".into());
    })
    .await;
    for path in ["/", "/relawan/", "/ops/"] {
        let r = app
            .client
            .get(format!("{}{path}", app.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let t = r.text().await.unwrap();
        assert!(
            t.contains("belum dibangun") && t.contains("not built"),
            "{t}"
        );
        assert!(t.contains("scripts/setup.sh"));
    }
    // A replica that cannot serve the caller app is not ready, and says why.
    let r = app
        .client
        .get(format!("{}/readyz", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    let body: Value = r.json().await.unwrap();
    let services = body["error"]["details"]["services"].as_array().unwrap();
    let emergency = services
        .iter()
        .find(|s| s["service"] == "emergency")
        .unwrap();
    assert_eq!(emergency["status"], "unavailable", "{body}");
    assert_eq!(emergency["reasons"][0]["component"], "web", "{body}");
    app.stop().await;
}

/// Earthquake day behind a carrier's NAT: many first panics from different numbers through
/// one address are all accepted, far beyond the general per-IP request limit (which does not
/// apply to panics); the only limit on one address is a per-second ceiling, answered with
/// `429 EMERGENCY_PANIC_RATE_LIMITED` and `Retry-After`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_first_panics_through_one_address_are_all_accepted() {
    let app = crate::up::start_up_with(None, |cfg| {
        cfg.http.rate_limit_per_minute = 20;
    })
    .await;
    for i in 0..60 {
        let (s, v) = panic_req(&app, body(&format!("0813-1000-{i:04}")), None, None).await;
        assert_eq!(s, 201, "panic {i}: {v}");
    }
    // The general limit still holds for other routes of the same address.
    let mut limited = false;
    for _ in 0..25 {
        let res = app
            .client
            .post(format!("{}/api/emergency/v1/aeds/nearest", app.url))
            .json(&json!({"latitude": -6.2, "longitude": 106.8}))
            .send()
            .await
            .unwrap();
        limited |= res.status() == 429;
    }
    assert!(limited, "the general per-IP limit applies elsewhere");
    app.stop().await;

    let app = crate::up::start_up_with(None, |cfg| {
        cfg.emergency
            .insert("panics_per_address_per_second".into(), 5.into());
    })
    .await;
    let mut codes = Vec::new();
    for i in 0..12 {
        let (s, v) = panic_req(&app, body(&format!("0813-2000-{i:04}")), None, None).await;
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
        .post(format!("{}/api/emergency/v1/panic", app.url))
        .json(&body("0813-2999-0001"))
        .send()
        .await
        .unwrap();
    if res.status() == 429 {
        assert!(res.headers().contains_key("retry-after"));
    }
    app.stop().await;
}
