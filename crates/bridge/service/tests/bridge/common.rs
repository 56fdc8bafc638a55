//! Shared set-up of the bridge tests: the simulator on port 0, a worker on a manual clock.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::{sync::Arc, time::Duration};

use kreki_bridge::{
    clock::ManualClock,
    satusehat::{
        SatusehatConfig,
        client::Client,
        sim::{self, SatusehatSim},
        store::Store,
        worker::Worker,
    },
};
use kreki_emergency_contracts::{CaseCompleted, ClinicalRecord, EmergencyType, Severity, Vitals};
use kreki_platform::{config::Secret, storage::Db};

pub async fn serve(router: axum::Router) -> String {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(l, router).await;
    });
    format!("http://{addr}")
}

pub struct Rig {
    pub sim: SatusehatSim,
    pub url: String,
    pub clock: ManualClock,
    pub client: Arc<Client>,
    pub store: Store,
    pub worker: Worker,
}

pub async fn rig(db: Db, change: impl FnOnce(&mut SatusehatConfig)) -> Rig {
    let sim = SatusehatSim::new();
    let url = serve(sim.router()).await;
    let mut cfg = SatusehatConfig::simulator(&url);
    change(&mut cfg);
    let clock = ManualClock::starting_now();
    let client = Arc::new(
        Client::new(
            &cfg.root(),
            &cfg.client_id,
            cfg.client_secret.clone().unwrap_or_else(|| Secret::new("")),
            Duration::from_secs(5),
            Arc::new(clock.clone()),
        )
        .unwrap(),
    );
    let store = Store::new(db);
    let worker = Worker {
        store: store.clone(),
        client: client.clone(),
        settings: cfg.settings(),
        wake: Arc::new(tokio::sync::Notify::new()),
        metrics: Default::default(),
    };
    Rig {
        sim,
        url,
        clock,
        client,
        store,
        worker,
    }
}

impl Rig {
    /// Run the worker until nothing is due at the current (manual) time.
    pub async fn drain(&self) {
        while self.worker.run_once().await > 0 {}
    }

    pub async fn enqueue(&self, case: &CaseCompleted) -> Option<&'static str> {
        let mut tx = self.store.db().begin().await.unwrap();
        let r = Store::enqueue(&mut tx, case, self.clock.now())
            .await
            .unwrap();
        tx.commit().await.unwrap();
        r
    }

    pub async fn state(&self, case_id: &str) -> String {
        self.store.state_of(case_id).await.unwrap().unwrap()
    }
}

pub fn case(id: &str, nik: Option<&str>) -> CaseCompleted {
    CaseCompleted {
        case_id: id.into(),
        severity: Severity::Critical,
        kind: EmergencyType::CardiacArrest,
        latitude: -6.1754,
        longitude: 106.8272,
        created_at: "2026-12-01T14:00:00+07:00".into(),
        first_arrival_at: Some("2026-12-01T14:04:30.250+07:00".into()),
        completed_at: "2026-12-01T14:40:00+07:00".into(),
        outcome: "transported".into(),
        hospital_referral: Some("RSUD Tarakan".into()),
        clinical: ClinicalRecord {
            vitals: Vitals {
                heart_rate: Some(118),
                respiratory_rate: Some(22),
                bp_systolic: Some(90),
                bp_diastolic: Some(60),
                spo2: Some(93),
                temperature_c: Some(36.8),
                avpu: Some("V".into()),
            },
            interventions: Default::default(),
            patient: kreki_emergency_contracts::Patient {
                nik: nik.map(str::to_string),
                name: Some("Ardianto Putra".into()),
                sex: Some("male".into()),
                estimated_age: Some(34),
            },
            working_diagnosis: Some("I46.9 Henti jantung".into()),
            notes: Some("RJP 6 menit, 1 kejut AED".into()),
        },
        responders: vec!["acct-lead".into(), "acct-2".into()],
        caller_account: None,
    }
}

pub const NIK: &str = sim::PATIENTS[0].0;
