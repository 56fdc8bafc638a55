//! Consents (security review, finding 12: `health_data_sharing` and `emergency_location` were
//! stored by KREKI ID but checked by nobody). KREKI ID publishes `identity.consent.changed`;
//! the Emergency Core and the bridge keep the latest decision per account and act on it.

use std::time::Duration;

use kreki_platform::testkit;
use serde_json::{Value, json};

use crate::identity::{api, login, start, totp_now};

async fn ops_token(app: &crate::up::UpApp) -> String {
    let seed = kreki_identity::demo::ACCOUNTS
        .iter()
        .find(|a| a.0.as_str() == "ops_admin")
        .and_then(|a| a.4)
        .unwrap();
    let step = login(app, "ops@demo.kreki.id", kreki_identity::demo::PASSWORD).await;
    let (s, v) = api(
        app,
        "POST",
        "/login/mfa",
        None,
        json!({ "mfaToken": step["mfaToken"], "code": totp_now(seed) }),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    v["data"]["accessToken"].as_str().unwrap().to_string()
}

/// A signed-in caller who withdrew both consents: during the case the location is exact
/// (help is on its way); once the case is closed only a coarsened location (0.01°, about
/// 1 km) is kept. The clinical record is not sent to SATUSEHAT but held for Ops review
/// (`consent_withdrawn`); an Ops replay sends it anyway (the report may be a legal duty) and
/// that decision is in the access log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn withdrawn_consents_keep_no_precise_location_and_hold_the_satusehat_send() {
    let app = start(true).await;
    let warga =
        login(&app, "warga@demo.kreki.id", kreki_identity::demo::PASSWORD).await["accessToken"]
            .as_str()
            .unwrap()
            .to_string();
    let ops = ops_token(&app).await;
    for purpose in ["emergency_location", "health_data_sharing"] {
        let (s, v) = api(
            &app,
            "PUT",
            "/me/consents",
            Some(&warga),
            json!({ "purpose": purpose, "granted": false }),
        )
        .await;
        assert_eq!(s, 200, "{v}");
    }
    // The decisions travel over the bus (outbox relay, then each service's consumer).
    tokio::time::sleep(Duration::from_secs(3)).await;
    let call = |method: reqwest::Method, path: String, token: String, body: Option<Value>| {
        let mut r = app
            .client
            .request(method, format!("{}{path}", app.url))
            .bearer_auth(token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        async move {
            let res = r.send().await.unwrap();
            let s = res.status().as_u16();
            (s, res.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    use reqwest::Method as M;
    let (s, created) = call(
        M::POST,
        "/api/emergency/v1/panic".into(),
        warga.clone(),
        Some(
            json!({"latitude": -6.175432, "longitude": 106.827153, "accuracy_m": 8,
                    "severity": "critical", "type": "cardiac_arrest"}),
        ),
    )
    .await;
    assert_eq!(s, 201, "{created}");
    let id = created["data"]["id"].as_str().unwrap().to_string();
    let (s, case) = call(M::GET, format!("/api/emergency/v1/{id}"), ops.clone(), None).await;
    assert_eq!(s, 200, "{case}");
    assert_eq!(
        (
            case["data"]["latitude"].as_f64(),
            case["data"]["longitude"].as_f64()
        ),
        (Some(-6.175432), Some(106.827153)),
        "exact while the case is open"
    );
    let record = json!({"outcome": "transported", "hospital_referral": "RSUD Tarakan",
        "clinical": {"vitals": {"heart_rate": 120, "spo2": 91, "avpu": "V"},
                     "patient": {"nik": "9271060312000001", "sex": "male", "estimated_age": 34},
                     "working_diagnosis": "I46.9 Henti jantung"}});
    let (s, v) = call(
        M::PUT,
        format!("/api/emergency/v1/{id}/complete"),
        ops.clone(),
        Some(record),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    // emergency_location withdrawn: the closed case keeps a coarsened location only.
    let (_, case) = call(M::GET, format!("/api/emergency/v1/{id}"), ops.clone(), None).await;
    let (lat, lng) = (
        case["data"]["latitude"].as_f64().unwrap(),
        case["data"]["longitude"].as_f64().unwrap(),
    );
    assert!(
        (lat - -6.17).abs() < 1e-9 && (lng - 106.82).abs() < 1e-9,
        "coarsened: {lat},{lng}"
    );
    assert!(case["data"]["accuracy_m"].is_null(), "{case}");
    // health_data_sharing withdrawn: held for Ops review, nothing sent.
    testkit::eventually("the job is held", Duration::from_secs(20), || {
        let f = call(
            M::GET,
            "/api/satusehat/v1/jobs?state=consent_withdrawn".into(),
            ops.clone(),
            None,
        );
        let id = id.clone();
        async move {
            f.await.1["data"]
                .as_array()
                .is_some_and(|a| a.iter().any(|j| j["case_id"] == id.as_str()))
        }
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (s, job) = call(
        M::GET,
        format!("/api/satusehat/v1/jobs/{id}"),
        ops.clone(),
        None,
    )
    .await;
    assert_eq!(s, 200, "{job}");
    assert_eq!(job["data"]["state"], "consent_withdrawn", "{job}");
    assert_eq!(
        job["data"]["exchanges"],
        json!([]),
        "nothing went to SATUSEHAT"
    );
    // Ops decides that the report is due: sent, and the decision is on record.
    let (s, v) = call(
        M::POST,
        format!("/api/satusehat/v1/jobs/{id}/replay"),
        ops.clone(),
        None,
    )
    .await;
    assert_eq!(s, 202, "{v}");
    let (s, log) = call(
        M::GET,
        format!("/api/satusehat/v1/access-log?case_id={id}"),
        ops.clone(),
        None,
    )
    .await;
    assert_eq!(s, 200, "{log}");
    assert!(
        log["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "consent_override"),
        "{log}"
    );
    testkit::eventually("sent after the override", Duration::from_secs(30), || {
        let f = call(
            M::GET,
            format!("/api/satusehat/v1/jobs/{id}"),
            ops.clone(),
            None,
        );
        async move { f.await.1["data"]["state"] == "sent" }
    })
    .await;
    app.stop().await;
}
