//! Well-being after a hard case: a check-in is due only after a CPR case, answered once by
//! its responder; my history of cases with their outcome.

use kreki_platform::storage::Db;

use crate::{
    app::{CENTER, Duration, Setup, Value, json, north, testkit},
    both_stores,
};

async fn hard_case_wellbeing_check_in_and_my_history(db: Db) {
    let app = Setup::default()
        .int("accepts_wanted", 1)
        .int("wellbeing_checkin_after_s", 0)
        .start(db)
        .await;
    let tok = |sub: &str| app.volunteer(sub);
    let ops = app.ops("ops-1");
    app.eligible("vol-w", true, 1).await;
    testkit::eventually("eligibility copied", Duration::from_secs(10), || async {
        app.on_duty(&tok("vol-w"), north(100.0)).await["data"]["dispatchable"] == true
    })
    .await;
    let mut ids = Vec::new();
    for (sev, cpr) in [("urgent", false), ("urgent", true)] {
        let res = app
            .client
            .post(format!("{}/panic", app.base))
            .json(&json!({"latitude": CENTER.0, "longitude": CENTER.1, "severity": sev, "type": "unconscious", "caller_phone": format!("08129999000{}", ids.len())}))
            .send()
            .await
            .unwrap();
        let id = res.json::<Value>().await.unwrap()["data"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        testkit::eventually("offered", Duration::from_secs(10), || async {
            app.has_offer(&tok("vol-w"), &id).await
        })
        .await;
        let base = format!("/{id}");
        assert_eq!(
            app.put(
                &format!("{base}/respond"),
                &tok("vol-w"),
                json!({"action": "accept"})
            )
            .await
            .0,
            200
        );
        assert_eq!(
            app.put(
                &format!("{base}/status"),
                &tok("vol-w"),
                json!({"status": "resolved"})
            )
            .await
            .0,
            200
        );
        let (s, b) = app
            .put(
                &format!("{base}/complete"),
                &tok("vol-w"),
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
                .get(format!("{}{path}", app.base))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    // Only the CPR case asks how the volunteer is.
    let (s, due) = get("/wellbeing/mine".into(), tok("vol-w")).await;
    assert_eq!(s, 200);
    let due = due["data"].as_array().unwrap().clone();
    assert_eq!(due.len(), 1, "{due:?}");
    assert_eq!(due[0]["case_id"], ids[1].as_str());
    assert_eq!(due[0]["type"], "unconscious");
    assert_eq!(get("/wellbeing/mine".into(), ops.clone()).await.0, 403);
    let answer = |case: &str, body: Value, token: String| {
        let path = format!("/{case}/wellbeing");
        let app = &app;
        async move { app.put(&path, &token, body).await }
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
    let (_, due) = get("/wellbeing/mine".into(), tok("vol-w")).await;
    assert!(due["data"].as_array().unwrap().is_empty());
    // My history: both cases, newest first, with the outcome; nobody else's.
    let (s, h) = get("/history/mine".into(), tok("vol-w")).await;
    assert_eq!(s, 200);
    let h = h["data"].as_array().unwrap();
    assert_eq!(h.len(), 2);
    assert_eq!(h[0]["case_id"], ids[1].as_str());
    assert_eq!(
        (&h[0]["case_status"], &h[0]["outcome"], &h[0]["is_lead"]),
        (&json!("completed"), &json!("transported"), &json!(true))
    );
    assert!(h[0].get("caller_phone").is_none());
    let (_, other) = get("/history/mine".into(), tok("vol-other")).await;
    assert!(other["data"].as_array().unwrap().is_empty());
    assert_eq!(get("/history/mine".into(), ops).await.0, 403);
    app.stop().await;
}
both_stores!(hard_case_wellbeing_check_in_and_my_history);
