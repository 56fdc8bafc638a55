//! The bridge's own API over HTTP (the real router on port 0), on SQLite and PostgreSQL:
//! the SATUSEHAT operator endpoints, and PSC 119 hand-offs with acknowledgement timeout,
//! re-send, fallback centres, alarm and signed callbacks.

use std::{collections::HashMap, sync::Arc};

use crate::common::{NIK, case, serve};
use kreki_bridge::{
    MIGRATIONS,
    clock::{ManualClock, SystemClock},
    http::{self, AppState, PscState},
    psc119::{self, CentreConfig, CentreKind, Psc119Config, sim::Psc119Sim},
    satusehat::store::{Store, state},
};
use kreki_emergency_contracts::{CaseEscalated, EmergencyType, Severity};
use kreki_platform::{
    auth::{Authenticator, StaticJwks},
    config::Secret,
    storage::Db,
    storage_conformance,
    testkit::TestSigner,
};
use serde_json::{Value, json};
use sqlx::Row;

const ISSUER: &str = "http://kreki.test";

struct Api {
    url: String,
    client: reqwest::Client,
    signer: TestSigner,
    store: Store,
    psc_store: psc119::store::Store,
}

fn secrets() -> HashMap<String, Secret> {
    HashMap::from([
        ("centre-a".to_string(), Secret::new("secret-a")),
        ("centre-b".to_string(), Secret::new("secret-b")),
    ])
}

async fn api(db: Db) -> Api {
    let signer = TestSigner::new("k1");
    let auth = Arc::new(Authenticator::new(
        ISSUER,
        None,
        Arc::new(StaticJwks(signer.jwks())),
    ));
    let store = Store::new(db.clone());
    let psc_store = psc119::store::Store::new(db.clone());
    let (router, _) = http::router(AppState {
        store: store.clone(),
        clock: Arc::new(SystemClock),
        wake: Arc::new(tokio::sync::Notify::new()),
        psc: PscState {
            store: psc_store.clone(),
            secrets: Arc::new(secrets()),
            tolerance_secs: 300,
        },
    });
    let router = router.merge(http::pages()).layer(axum::Extension(auth));
    Api {
        url: serve(router).await,
        client: reqwest::Client::new(),
        signer,
        store,
        psc_store,
    }
}

impl Api {
    fn token(&self, roles: &[&str]) -> String {
        self.signer.token(ISSUER, "acct-ops", roles)
    }
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut r = self.client.request(method, format!("{}{path}", self.url));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        let res = r.send().await.unwrap();
        let s = res.status().as_u16();
        (s, res.json().await.unwrap_or(Value::Null))
    }
}

async fn operator_api(db: Db) {
    let a = api(db.clone()).await;
    let now = kreki_platform::time_util::now_micros();
    let mut tx = db.begin().await.unwrap();
    Store::enqueue(&mut tx, &case("anon", None), now)
        .await
        .unwrap();
    Store::enqueue(&mut tx, &case("known", Some(NIK)), now)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    use reqwest::Method as M;
    let ops = a.token(&["ops_admin"]);
    assert_eq!(
        a.call(M::GET, "/api/satusehat/v1/jobs", None, None).await.0,
        401
    );
    assert_eq!(
        a.call(
            M::GET,
            "/api/satusehat/v1/jobs",
            Some(&a.token(&["volunteer"])),
            None
        )
        .await
        .0,
        403
    );
    let (s, list) = a
        .call(M::GET, "/api/satusehat/v1/jobs", Some(&ops), None)
        .await;
    assert_eq!(s, 200, "{list}");
    assert_eq!(list["meta"]["total"], 2);
    assert!(!list.to_string().contains(NIK), "no NIK in lists");
    let (s, e) = a
        .call(
            M::GET,
            "/api/satusehat/v1/jobs?state=bogus",
            Some(&ops),
            None,
        )
        .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (422, Some("BRIDGE_STATE_INVALID")),
        "{e}"
    );
    assert_eq!(
        a.call(M::GET, "/api/satusehat/v1/jobs?limit=abc", Some(&ops), None)
            .await
            .0,
        400
    );
    let (s, l) = a
        .call(
            M::GET,
            "/api/satusehat/v1/jobs?state=unidentified",
            Some(&ops),
            None,
        )
        .await;
    assert_eq!((s, l["data"][0]["case_id"].as_str()), (200, Some("anon")));
    let (s, e) = a
        .call(M::GET, "/api/satusehat/v1/jobs/nope", Some(&ops), None)
        .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (404, Some("BRIDGE_JOB_NOT_FOUND"))
    );
    let (s, d) = a
        .call(M::GET, "/api/satusehat/v1/jobs/known", Some(&ops), None)
        .await;
    assert_eq!(
        (s, d["data"]["nik"].as_str()),
        (200, Some("92**********01")),
        "{d}"
    );
    // Unidentified: replay needs the NIK first.
    let (s, e) = a
        .call(
            M::POST,
            "/api/satusehat/v1/jobs/anon/replay",
            Some(&ops),
            None,
        )
        .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (409, Some("BRIDGE_PATIENT_UNIDENTIFIED"))
    );
    let (s, e) = a
        .call(
            M::PUT,
            "/api/satusehat/v1/jobs/anon/patient",
            Some(&ops),
            Some(json!({"nik": "1234"})),
        )
        .await;
    assert_eq!(
        (
            s,
            e["error"]["code"].as_str(),
            e["error"]["details"]["reason"].as_str()
        ),
        (422, Some("BRIDGE_NIK_INVALID"), Some("NIK_LENGTH")),
        "{e}"
    );
    let (s, e) = a
        .call(
            M::PUT,
            "/api/satusehat/v1/jobs/anon/patient",
            Some(&ops),
            Some(json!({"nik": NIK, "extra": 1})),
        )
        .await;
    assert_eq!(s, 422, "{e}");
    assert_eq!(
        a.store.state_of("anon").await.unwrap().unwrap(),
        state::UNIDENTIFIED,
        "stored data intact"
    );
    let (s, d) = a
        .call(
            M::PUT,
            "/api/satusehat/v1/jobs/anon/patient",
            Some(&ops),
            Some(json!({"nik": NIK})),
        )
        .await;
    assert_eq!(
        (s, d["data"]["state"].as_str(), d["data"]["nik"].as_str()),
        (202, Some("queued"), Some("92**********01")),
        "{d}"
    );
    let (s, e) = a
        .call(
            M::PUT,
            "/api/satusehat/v1/jobs/anon/patient",
            Some(&ops),
            Some(json!({"nik": NIK})),
        )
        .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (409, Some("BRIDGE_JOB_BUSY"))
    );
    let (s, e) = a
        .call(
            M::POST,
            "/api/satusehat/v1/jobs/known/replay",
            Some(&ops),
            None,
        )
        .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (409, Some("BRIDGE_JOB_BUSY")),
        "already queued"
    );
    let (s, e) = a
        .call(
            M::POST,
            "/api/satusehat/v1/jobs/known/discard",
            Some(&ops),
            None,
        )
        .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (409, Some("BRIDGE_JOB_NOT_DISCARDABLE"))
    );
    // Many at once.
    assert_eq!(
        a.call(
            M::POST,
            "/api/satusehat/v1/jobs/replay",
            Some(&ops),
            Some(json!({}))
        )
        .await
        .0,
        422
    );
    let (s, e) = a
        .call(
            M::POST,
            "/api/satusehat/v1/jobs/replay",
            Some(&ops),
            Some(json!({"state": "sent"})),
        )
        .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (422, Some("BRIDGE_STATE_INVALID"))
    );
    let (s, r) = a
        .call(
            M::POST,
            "/api/satusehat/v1/jobs/replay",
            Some(&ops),
            Some(json!({"state": "dead"})),
        )
        .await;
    assert_eq!((s, r["data"]["queued"].as_array().unwrap().len()), (202, 0));
    let (s, r) = a
        .call(
            M::POST,
            "/api/satusehat/v1/jobs/replay",
            Some(&ops),
            Some(json!({"case_ids": ["known", "nope"]})),
        )
        .await;
    assert_eq!(s, 202);
    assert_eq!(r["data"]["skipped"], json!(["known", "nope"]));
    // The admin page is a static shell with a strict CSP.
    let res = a
        .client
        .get(format!("{}/admin/bridge/", a.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("script-src 'self'")
    );
    assert!(res.text().await.unwrap().contains("/admin/bridge/app.js"));
}
storage_conformance!(operator, "bridge", super::MIGRATIONS, super::operator_api);

fn escalated(id: &str) -> CaseEscalated {
    CaseEscalated {
        case_id: id.into(),
        severity: Severity::Critical,
        sev: "SEV-1".into(),
        priority: "P1".into(),
        kind: EmergencyType::CardiacArrest,
        latitude: -6.1754,
        longitude: 106.8272,
        caller_phone: Some("+6281234567890".into()),
        reason: "no_accept_in_time".into(),
        description: Some("Pria 50 tahun tidak sadar".into()),
        responders: 1,
        at: "2026-12-01T07:00:00Z".into(),
    }
}

async fn outbox(db: &Db) -> Vec<(String, Value)> {
    sqlx::query("SELECT subject, body FROM outbox ORDER BY seq")
        .fetch_all(db.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| {
            let body: String = r.try_get(1).unwrap();
            (
                r.try_get(0).unwrap(),
                serde_json::from_str::<Value>(&body).unwrap()["data"].clone(),
            )
        })
        .collect()
}

async fn statuses(db: &Db, case_id: &str) -> Vec<String> {
    outbox(db)
        .await
        .into_iter()
        .filter(|(s, d)| s == "bridge.psc119.status" && d["case_id"] == case_id)
        .map(|(_, d)| d["status"].as_str().unwrap().to_string())
        .collect()
}

async fn signed(a: &Api, centre: &str, secret: &str, ts: i64, body: &Value) -> (u16, Value) {
    let bytes = serde_json::to_vec(body).unwrap();
    let res = a
        .client
        .post(format!("{}/api/psc119/v1/callbacks", a.url))
        .header("content-type", "application/json")
        .header(psc119::CENTRE_HEADER, centre)
        .header(psc119::TIMESTAMP_HEADER, ts.to_string())
        .header(psc119::SIGNATURE_HEADER, psc119::sign(secret, ts, &bytes))
        .body(bytes)
        .send()
        .await
        .unwrap();
    let s = res.status().as_u16();
    (s, res.json().await.unwrap_or(Value::Null))
}

async fn psc119_handoff_fallback_alarm_and_callbacks(db: Db) {
    let a = api(db.clone()).await;
    let sim_a = Psc119Sim::named("centre-a", "secret-a", false);
    let sim_b = Psc119Sim::named("centre-b", "secret-b", false);
    let url_a = serve(sim_a.router()).await;
    let url_b = serve(sim_b.router()).await;
    let cfg = Psc119Config {
        centres: vec![
            CentreConfig {
                name: "centre-a".into(),
                kind: CentreKind::Webhook,
                url: Some(format!("{url_a}/sim/psc119/webhook")),
                secret: Some(Secret::new("secret-a")),
                phone: None,
            },
            CentreConfig {
                name: "centre-b".into(),
                kind: CentreKind::Webhook,
                url: Some(format!("{url_b}/sim/psc119/webhook")),
                secret: Some(Secret::new("secret-b")),
                phone: None,
            },
            CentreConfig {
                name: "sms".into(),
                kind: CentreKind::Sms,
                url: None,
                secret: None,
                phone: Some("+6281100000119".into()),
            },
        ],
        ack_timeout_secs: 120,
        resends: 1,
        callback_tolerance_secs: 300,
    };
    cfg.check().unwrap();
    let clock = ManualClock::starting_now();
    let worker = psc119::worker::Worker {
        store: a.psc_store.clone(),
        adapters: psc119::adapters(&cfg, &reqwest::Client::new()),
        clock: Arc::new(clock.clone()),
        ack_timeout_secs: 120,
        resends: 1,
        callback_url: format!("{}/api/psc119/v1/callbacks", a.url),
        wake: Arc::new(tokio::sync::Notify::new()),
        metrics: Default::default(),
    };
    let enqueue = |id: &'static str| {
        let db = db.clone();
        let now = clock.now();
        async move {
            let mut tx = db.begin().await.unwrap();
            let new = psc119::store::Store::enqueue(&mut tx, &escalated(id), now)
                .await
                .unwrap();
            tx.commit().await.unwrap();
            new
        }
    };
    // Never acknowledged: A twice, B twice, SMS twice, then the alarm.
    assert!(enqueue("silent").await);
    assert!(!enqueue("silent").await, "one hand-off per case");
    for _ in 0..7 {
        worker.run_once().await;
        assert_eq!(worker.run_once().await, 0, "nothing due before the timeout");
        clock.advance_secs(121);
    }
    let ha = sim_a.handoffs();
    assert_eq!(
        ha.iter().map(|h| h.handoff.attempt).collect::<Vec<_>>(),
        [1, 2]
    );
    let h = &ha[0].handoff;
    assert_eq!(
        (h.priority.as_str(), h.sev.as_str(), h.kind.as_str()),
        ("P1", "SEV-1", "cardiac_arrest")
    );
    assert_eq!(h.caller_phone.as_deref(), Some("+6281234567890"));
    assert_eq!(h.notes.as_deref(), Some("Pria 50 tahun tidak sadar"));
    assert!((h.latitude + 6.1754).abs() < 1e-9);
    assert_eq!(sim_b.handoffs().len(), 2);
    let sms: Vec<Value> = outbox(&db)
        .await
        .into_iter()
        .filter(|(s, _)| s == "notify.message.requested")
        .map(|(_, d)| d)
        .collect();
    assert_eq!(sms.len(), 2);
    assert_eq!(sms[0]["address"], "+6281100000119");
    assert_eq!(sms[0]["template"], "escalation_notice");
    assert!(sms[0]["vars"]["severity"].as_str().unwrap().contains("P1"));
    assert_eq!(
        statuses(&db, "silent").await,
        ["handed_off", "handed_off", "handed_off", "failed"]
    );
    let v = a.psc_store.get("silent").await.unwrap().unwrap();
    assert_eq!(v.state, "alarm");

    // Acknowledged by the first centre: no re-send; statuses flow back once each.
    assert!(enqueue("heard").await);
    worker.run_once().await;
    assert_eq!(sim_a.report("heard", "acknowledged").await.unwrap(), 202);
    clock.advance_secs(600);
    assert_eq!(worker.run_once().await, 0, "acknowledged: no re-send");
    assert_eq!(
        sim_a
            .handoffs()
            .iter()
            .filter(|h| h.handoff.case_id == "heard")
            .count(),
        1
    );
    assert_eq!(sim_a.report("heard", "en_route").await.unwrap(), 202);
    let ts = time::OffsetDateTime::now_utc().unix_timestamp();
    let cb = json!({"callback_id": "cb-1", "case_id": "heard", "status": "arrived", "at": "2026-12-01T07:20:00Z", "details": {"unit": "AMB-1"}});
    assert_eq!(signed(&a, "centre-a", "secret-a", ts, &cb).await.0, 202);
    let (s, r) = signed(&a, "centre-a", "secret-a", ts, &cb).await;
    assert_eq!(
        (s, r["data"]["duplicate"].as_bool()),
        (200, Some(true)),
        "replay is idempotent"
    );
    // Forged, unknown centre, stale, malformed, unknown case.
    let (s, e) = signed(&a, "centre-a", "not-the-secret", ts, &cb).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (401, Some("BRIDGE_SIGNATURE_INVALID"))
    );
    assert_eq!(signed(&a, "centre-x", "secret-a", ts, &cb).await.0, 401);
    let cb2 = json!({"callback_id": "cb-2", "case_id": "heard", "status": "patient_transferred", "at": "2026-12-01T07:40:00Z"});
    let (s, e) = signed(&a, "centre-a", "secret-a", ts - 3600, &cb2).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (401, Some("BRIDGE_SIGNATURE_EXPIRED"))
    );
    let (s, e) = signed(&a, "centre-a", "secret-a", ts, &json!({"callback_id": "cb-3", "case_id": "heard", "status": "teleported", "at": "2026-12-01T07:40:00Z"})).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (422, Some("BRIDGE_STATUS_INVALID"))
    );
    assert_eq!(
        signed(&a, "centre-a", "secret-a", ts, &json!({"case_id": "heard"}))
            .await
            .0,
        422
    );
    let (s, e) = signed(&a, "centre-a", "secret-a", ts, &json!({"callback_id": "cb-4", "case_id": "nope", "status": "en_route", "at": "2026-12-01T07:40:00Z"})).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (404, Some("BRIDGE_HANDOFF_NOT_FOUND"))
    );
    assert_eq!(signed(&a, "centre-a", "secret-a", ts, &cb2).await.0, 202);
    assert_eq!(
        statuses(&db, "heard").await,
        [
            "handed_off",
            "acknowledged",
            "en_route",
            "arrived",
            "patient_transferred"
        ],
        "every status once, forgeries none"
    );
    let v = a.psc_store.get("heard").await.unwrap().unwrap();
    assert_eq!(
        (v.state.as_str(), v.acknowledged_by.as_deref()),
        ("acknowledged", Some("centre-a"))
    );
    // The operator view.
    use reqwest::Method as M;
    let (s, h) = a
        .call(
            M::GET,
            "/api/psc119/v1/handoffs/heard",
            Some(&a.token(&["ops_admin"])),
            None,
        )
        .await;
    assert_eq!(
        (s, h["data"]["state"].as_str()),
        (200, Some("acknowledged"))
    );
    assert_eq!(
        a.call(
            M::GET,
            "/api/psc119/v1/handoffs/heard",
            Some(&a.token(&["volunteer"])),
            None
        )
        .await
        .0,
        403
    );
}
storage_conformance!(
    psc,
    "bridge",
    super::MIGRATIONS,
    super::psc119_handoff_fallback_alarm_and_callbacks
);

/// The centre acknowledges before the bridge has recorded its send: the hand-off still shows
/// in the timeline, and nothing more goes out.
async fn acknowledgement_overtaking_the_send(db: Db) {
    let store = psc119::store::Store::new(db.clone());
    let now = kreki_platform::time_util::now_micros();
    let mut tx = db.begin().await.unwrap();
    psc119::store::Store::enqueue(&mut tx, &escalated("fast"), now)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.claim_due(now, 10).await.unwrap().len(), 1);
    // The worker records the recipient before it sends.
    store.handing_to("fast", "centre-a", now).await.unwrap();
    let cb = psc119::Callback {
        callback_id: "cb-fast".into(),
        case_id: "fast".into(),
        status: "acknowledged".into(),
        at: "2026-12-01T07:00:01Z".into(),
        details: json!({}),
    };
    assert_eq!(
        store.callback(&cb, "centre-a", now).await.unwrap(),
        psc119::store::Received::New
    );
    let sms =
        kreki_platform::bus::Event::new("bridge", "notify.message.requested", &json!({})).unwrap();
    store
        .sent(
            "fast",
            0,
            1,
            now + 1,
            now,
            "centre-a",
            None,
            &[sms],
            Some(json!({"centre": "centre-a"})),
        )
        .await
        .unwrap();
    assert_eq!(statuses(&db, "fast").await, ["acknowledged", "handed_off"]);
    assert!(
        outbox(&db)
            .await
            .iter()
            .all(|(s, _)| s != "notify.message.requested"),
        "no SMS after the acknowledgement"
    );
    let v = store.get("fast").await.unwrap().unwrap();
    assert_eq!(v.state, "acknowledged");
    assert!(
        store
            .claim_due(now + 3_600_000_000, 10)
            .await
            .unwrap()
            .is_empty()
    );
}
storage_conformance!(
    overtaking,
    "bridge",
    super::MIGRATIONS,
    super::acknowledgement_overtaking_the_send
);

/// Attack (security review, finding 12: PSC 119 callbacks not bound to the centre of the
/// hand-off): centre B, with its own valid secret, reports on a case handed to centre A.
/// Refused with 403 `BRIDGE_CENTRE_NOT_HANDED_OFF`; nothing changes in the case, and the
/// callback id is not used up for centre A.
async fn attack_a_centre_reports_only_on_cases_handed_to_it(db: Db) {
    let a = api(db.clone()).await;
    let sim_a = Psc119Sim::named("centre-a", "secret-a", false);
    let url_a = serve(sim_a.router()).await;
    let cfg = Psc119Config {
        centres: vec![CentreConfig {
            name: "centre-a".into(),
            kind: CentreKind::Webhook,
            url: Some(format!("{url_a}/sim/psc119/webhook")),
            secret: Some(Secret::new("secret-a")),
            phone: None,
        }],
        ..Psc119Config::default()
    };
    let worker = psc119::worker::Worker {
        store: a.psc_store.clone(),
        adapters: psc119::adapters(&cfg, &reqwest::Client::new()),
        clock: Arc::new(SystemClock),
        ack_timeout_secs: 120,
        resends: 1,
        callback_url: format!("{}/api/psc119/v1/callbacks", a.url),
        wake: Arc::new(tokio::sync::Notify::new()),
        metrics: Default::default(),
    };
    let mut tx = db.begin().await.unwrap();
    psc119::store::Store::enqueue(
        &mut tx,
        &escalated("to-a"),
        kreki_platform::time_util::now_micros(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    worker.run_once().await;
    assert_eq!(sim_a.handoffs().len(), 1, "handed to centre A");
    let before = statuses(&db, "to-a").await;
    assert_eq!(before, ["handed_off"]);
    let ts = time::OffsetDateTime::now_utc().unix_timestamp();
    for status in ["acknowledged", "patient_transferred"] {
        let cb = json!({"callback_id": format!("cb-{status}"), "case_id": "to-a", "status": status, "at": "2026-12-01T07:05:00Z"});
        let (s, e) = signed(&a, "centre-b", "secret-b", ts, &cb).await;
        assert_eq!(
            (s, e["error"]["code"].as_str()),
            (403, Some("BRIDGE_CENTRE_NOT_HANDED_OFF")),
            "{e}"
        );
        assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    assert_eq!(statuses(&db, "to-a").await, before, "nothing published");
    let v = a.psc_store.get("to-a").await.unwrap().unwrap();
    assert_eq!(
        (v.state.as_str(), v.acknowledged_by.as_deref()),
        ("pending", None)
    );
    assert!(
        v.log
            .iter()
            .all(|l| l.centre.as_deref() != Some("centre-b"))
    );
    let stored: i64 = sqlx::query("SELECT COUNT(*) FROM psc119_callbacks")
        .fetch_one(db.pool())
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    assert_eq!(stored, 0, "no callback recorded");
    // Centre A's own report, even with the same callback id, counts.
    let cb = json!({"callback_id": "cb-acknowledged", "case_id": "to-a", "status": "acknowledged", "at": "2026-12-01T07:05:00Z"});
    assert_eq!(signed(&a, "centre-a", "secret-a", ts, &cb).await.0, 202);
    let v = a.psc_store.get("to-a").await.unwrap().unwrap();
    assert_eq!(
        (v.state.as_str(), v.acknowledged_by.as_deref()),
        ("acknowledged", Some("centre-a"))
    );
}
storage_conformance!(
    attack_centre_binding,
    "bridge",
    super::MIGRATIONS,
    super::attack_a_centre_reports_only_on_cases_handed_to_it
);

/// Insider (security review, finding 12: the exchange log's FHIR records for every operator):
/// a job's exchanges are read only with `health_record:read` (Ops Admins); a System Admin, who
/// has `bridge:read` for the list, gets 403, and the answer to their NIK completion carries no
/// exchanges. Every read is in the access log (who, when, which case), which auditors read.
async fn attack_health_records_only_with_the_permission_and_every_read_logged(db: Db) {
    let a = api(db.clone()).await;
    let mut tx = db.begin().await.unwrap();
    let now = kreki_platform::time_util::now_micros();
    Store::enqueue(&mut tx, &case("known", Some(NIK)), now)
        .await
        .unwrap();
    Store::enqueue(&mut tx, &case("anon", None), now)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    sqlx::query(
        "INSERT INTO satusehat_exchanges (case_id, attempt, at, method, url, request, status, response, duration_ms, error) \
         VALUES ('known', 1, 1, 'POST', '/Encounter', '{\"resourceType\":\"Encounter\"}', 201, '{}', 5, NULL), \
                ('anon', 1, 1, 'POST', '/Encounter', '{\"resourceType\":\"Encounter\"}', 201, '{}', 5, NULL)",
    )
    .execute(db.pool())
    .await
    .unwrap();
    use reqwest::Method as M;
    let sys = a.signer.token(ISSUER, "acct-sys", &["system_admin"]);
    let ops = a.signer.token(ISSUER, "acct-ops", &["ops_admin"]);
    // The list (no patient data) stays open to both.
    assert_eq!(
        a.call(M::GET, "/api/satusehat/v1/jobs", Some(&sys), None)
            .await
            .0,
        200
    );
    let (s, e) = a
        .call(M::GET, "/api/satusehat/v1/jobs/known", Some(&sys), None)
        .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (403, Some("AUTH_FORBIDDEN")),
        "{e}"
    );
    assert!(!e.to_string().contains("Encounter"));
    let (s, d) = a
        .call(
            M::PUT,
            "/api/satusehat/v1/jobs/anon/patient",
            Some(&sys),
            Some(json!({"nik": NIK})),
        )
        .await;
    assert_eq!(s, 202, "{d}");
    assert_eq!(
        d["data"]["exchanges"],
        json!([]),
        "no exchanges without the permission"
    );
    // Ops reads them; the read is logged.
    let (s, d) = a
        .call(M::GET, "/api/satusehat/v1/jobs/known", Some(&ops), None)
        .await;
    assert_eq!(s, 200, "{d}");
    assert_eq!(d["data"]["exchanges"].as_array().unwrap().len(), 1);
    let (s, log) = a
        .call(
            M::GET,
            "/api/satusehat/v1/access-log?case_id=known",
            Some(&sys),
            None,
        )
        .await;
    assert_eq!(s, 200, "{log}");
    let entries = log["data"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{log}");
    assert_eq!(
        (
            entries[0]["actor"].as_str(),
            entries[0]["case_id"].as_str(),
            entries[0]["action"].as_str()
        ),
        (Some("acct-ops"), Some("known"), Some("job_read"))
    );
    assert!(entries[0]["at"].as_str().is_some_and(|t| t.ends_with('Z')));
    let (_, all) = a
        .call(M::GET, "/api/satusehat/v1/access-log", Some(&ops), None)
        .await;
    assert_eq!(
        all["meta"]["total"], 1,
        "refused reads and the bare NIK completion log nothing: {all}"
    );
    // The log is for auditors only.
    for roles in [&["volunteer"][..], &["training_admin"][..]] {
        assert_eq!(
            a.call(
                M::GET,
                "/api/satusehat/v1/access-log",
                Some(&a.token(roles)),
                None
            )
            .await
            .0,
            403
        );
    }
}
storage_conformance!(
    attack_health_records,
    "bridge",
    super::MIGRATIONS,
    super::attack_health_records_only_with_the_permission_and_every_read_logged
);
