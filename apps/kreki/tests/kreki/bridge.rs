//! The bridge in `kreki up --demo`: an escalated case reaches the PSC 119 simulator and its
//! callbacks reach the case timeline; the completed case arrives in the SATUSEHAT simulator
//! as an Encounter with its Observations, and the transaction log shows the exchanges.

use std::time::Duration;

use kreki_platform::{
    service::{DemoSettings, DemoSim},
    testkit,
};
use serde_json::{Value, json};

use crate::up::{ISSUER, start_up_full};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_case_reaches_psc119_and_satusehat_simulators() {
    let app = start_up_full(
        None,
        |cfg| {
            cfg.emergency.insert("escalate_critical_s".into(), 1.into());
        },
        // Demo volunteers on duty who never answer: the case escalates.
        Some(DemoSettings { sim: DemoSim::Off }),
    )
    .await;
    let get = |path: String, token: Option<String>| {
        let r = app.client.get(format!("{}{path}", app.url));
        async move {
            let r = match token {
                Some(t) => r.bearer_auth(t),
                None => r,
            };
            let res = r.send().await.unwrap();
            (
                res.status().as_u16(),
                res.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let created: Value = app
        .client
        .post(format!("{}/api/emergency/v1/panic", app.url))
        .json(&json!({"latitude": -6.1754, "longitude": 106.8272, "severity": "critical", "type": "cardiac_arrest",
                      "caller_phone": "081234567890", "description": "Pria 50 tahun tidak sadar"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["data"]["id"].as_str().unwrap().to_string();
    let caller = created["data"]["caller_token"]
        .as_str()
        .unwrap()
        .to_string();
    let timeline = || {
        let f = get(
            format!("/api/emergency/v1/{id}/timeline"),
            Some(caller.clone()),
        );
        async move {
            f.await.1["data"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .map(|e| e["kind"].as_str().unwrap_or_default().to_string())
                .collect::<Vec<String>>()
        }
    };
    // Escalated → handed to the PSC 119 simulator, which acknowledges (demo auto-ack).
    testkit::eventually(
        "PSC 119 acknowledged in the timeline",
        Duration::from_secs(60),
        || async {
            let t = timeline().await;
            eprintln!(
                "DEBUG {t:?} {:?}",
                get("/sim/psc119/_control/handoffs".into(), None).await
            );
            t.iter().any(|k| k == "psc119_handed_off")
                && t.iter().any(|k| k == "psc119_acknowledged")
        },
    )
    .await;
    let (_, handoffs) = get("/sim/psc119/_control/handoffs".into(), None).await;
    let h = handoffs
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["handoff"]["case_id"] == id.as_str())
        .expect("hand-off in the simulator")
        .clone();
    assert_eq!(h["handoff"]["priority"], "P1");
    assert_eq!(h["handoff"]["caller_phone"], "+6281234567890");
    // The dispatcher reports from the simulator's console.
    let page = app
        .client
        .get(format!("{}/sim/psc119/", app.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(&id));
    let res = app
        .client
        .post(format!(
            "{}/sim/psc119/handoffs/{id}/ambulance_dispatched",
            app.url
        ))
        .send()
        .await
        .unwrap();
    assert!(
        res.status().is_success() || res.status().is_redirection(),
        "{}",
        res.status()
    );
    testkit::eventually(
        "ambulance dispatched in the timeline",
        Duration::from_secs(30),
        || async {
            timeline()
                .await
                .iter()
                .any(|k| k == "psc119_ambulance_dispatched")
        },
    )
    .await;

    // Ops completes it with the clinical record: SATUSEHAT gets the Encounter.
    let ops = app.signer.token(ISSUER, "ops-1", &["ops_admin"]);
    let record = json!({"outcome": "transported", "hospital_referral": "RSUD Tarakan",
        "clinical": {"vitals": {"heart_rate": 120, "respiratory_rate": 24, "bp_systolic": 90, "bp_diastolic": 60, "spo2": 91, "avpu": "V"},
                     "interventions": {"cpr": true, "aed_shocks": 1},
                     "patient": {"nik": "9271060312000001", "sex": "male", "estimated_age": 34},
                     "working_diagnosis": "I46.9 Henti jantung"}});
    let res = app
        .client
        .put(format!("{}/api/emergency/v1/{id}/complete", app.url))
        .bearer_auth(&ops)
        .json(&record)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let encounter = || async {
        get("/sim/satusehat/_control/resources/Encounter".into(), None)
            .await
            .1["entry"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|e| e["resource"].clone())
            .find(|e| e["identifier"][0]["value"] == id.as_str())
    };
    testkit::eventually(
        "Encounter in the SATUSEHAT simulator",
        Duration::from_secs(60),
        || async { encounter().await.is_some() },
    )
    .await;
    let enc = encounter().await.unwrap();
    assert_eq!(enc["class"]["code"], "EMER");
    assert_eq!(enc["status"], "finished");
    assert_eq!(enc["subject"]["reference"], "Patient/100000030009");
    let eid = enc["id"].as_str().unwrap().to_string();
    let obs_for = |eid: String| async move {
        get("/sim/satusehat/_control/resources/Observation".into(), None)
            .await
            .1["entry"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|o| {
                o["resource"]["encounter"]["reference"] == format!("Encounter/{eid}").as_str()
            })
            .map(|o| {
                o["resource"]["code"]["coding"][0]["code"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect::<Vec<_>>()
    };
    testkit::eventually("job sent", Duration::from_secs(30), || async {
        get(format!("/api/satusehat/v1/jobs/{id}"), Some(ops.clone()))
            .await
            .1["data"]["state"]
            == "sent"
    })
    .await;
    let mut codes = obs_for(eid.clone()).await;
    codes.sort();
    assert_eq!(
        codes,
        ["1104441000000107", "59408-5", "85354-9", "8867-4", "9279-1"]
    );
    let (s, job) = get(format!("/api/satusehat/v1/jobs/{id}"), Some(ops.clone())).await;
    assert_eq!(s, 200);
    assert_eq!(job["data"]["encounter_id"], eid.as_str());
    assert!(
        job["data"]["exchanges"].as_array().unwrap().len() >= 8,
        "{job}"
    );
    // Ops sees the outcomes in the bridge's metrics.
    let metrics = app
        .client
        .get(format!("{}/api/satusehat/v1/metrics", app.metrics_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("kreki_bridge_satusehat_attempts_total")
                && l.contains("outcome=\"sent\"")),
        "{metrics}"
    );
    assert!(
        metrics.contains("kreki_bridge_psc119_handoffs_total"),
        "{metrics}"
    );
    // The admin page and both simulators' consoles are served.
    for path in ["/admin/bridge/", "/sim/satusehat/", "/sim/psc119/"] {
        assert_eq!(
            app.client
                .get(format!("{}{path}", app.url))
                .send()
                .await
                .unwrap()
                .status(),
            200,
            "{path}"
        );
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kreki_sim_runs_each_simulator_on_its_own() {
    let sim = |args: &[&str]| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_kreki"));
        c.arg("sim").args(args).args(["--port", "0"]);
        c
    };
    let client = reqwest::Client::new();
    let sat = crate::processes::spawn(sim(&["satusehat"]));
    let token: Value = client
        .post(format!(
            "{}/sim/satusehat/oauth2/v1/accesstoken?grant_type=client_credentials",
            sat.url
        ))
        .form(&[
            ("client_id", "kreki-sim-client"),
            ("client_secret", "kreki-sim-secret"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        token["expires_in"], "14399",
        "a string, as SATUSEHAT sends it"
    );
    let psc = crate::processes::spawn(sim(&["psc119", "--auto-ack"]));
    let res = client
        .get(format!("{}/sim/psc119/", psc.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = client
        .post(format!("{}/sim/psc119/webhook", psc.url))
        .json(&json!({"case_id": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401, "unsigned hand-offs are refused");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kreki"))
        .args(["sim", "nope"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown simulator"));
}
