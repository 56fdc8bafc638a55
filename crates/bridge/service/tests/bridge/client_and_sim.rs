//! The SATUSEHAT client's token handling and the simulator's own checks, with examples
//! shaped like SATUSEHAT's public documentation (Encounter, Observation, Condition).

use std::sync::Arc;

use crate::common::serve;
use kreki_bridge::{
    clock::ManualClock,
    satusehat::{
        client::{Client, Outcome},
        sim::{self, Faults, SatusehatSim},
    },
};
use kreki_platform::config::Secret;
use serde_json::{Value, json};

async fn client(sim: &SatusehatSim, secret: &str) -> (Arc<Client>, ManualClock) {
    let url = serve(sim.router()).await;
    let clock = ManualClock::starting_now();
    let c = Client::new(
        &format!("{url}/sim/satusehat"),
        sim::SIM_CLIENT_ID,
        Secret::new(secret),
        std::time::Duration::from_secs(5),
        Arc::new(clock.clone()),
    )
    .unwrap();
    (Arc::new(c), clock)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_is_cached_single_flight_and_backs_off_after_failure() {
    let sim = SatusehatSim::new();
    let (c, clock) = client(&sim, sim::SIM_CLIENT_SECRET).await;
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let c = c.clone();
        set.spawn(async move { c.token(&mut Vec::new()).await.ok().unwrap() });
    }
    let mut tokens = Vec::new();
    while let Some(t) = set.join_next().await {
        tokens.push(t.unwrap());
    }
    assert!(tokens.iter().all(|t| *t == tokens[0]));
    assert_eq!(sim.token_requests(), 1, "one refresh for twenty callers");
    // expires_in "14399": refreshed shortly before, not after, expiry.
    clock.advance_secs(14_000);
    c.token(&mut Vec::new()).await.ok().unwrap();
    assert_eq!(sim.token_requests(), 1);
    clock.advance_secs(100);
    let mut log = Vec::new();
    assert_ne!(c.token(&mut log).await.ok().unwrap(), tokens[0]);
    assert_eq!(sim.token_requests(), 2);
    assert_eq!(
        log[0].url,
        "/oauth2/v1/accesstoken?grant_type=client_credentials"
    );
    assert!(!log[0].response.as_deref().unwrap().contains(&tokens[0]));

    // Wrong secret: refused, and the next try waits a minute.
    let sim2 = SatusehatSim::new();
    let (bad, clock2) = client(&sim2, "wrong").await;
    let mut log = Vec::new();
    assert!(matches!(
        bad.token(&mut log).await,
        Err(Outcome::NoToken { .. })
    ));
    assert_eq!(log[0].status, Some(401));
    assert!(!log[0].request.as_deref().unwrap().contains("wrong"));
    for _ in 0..5 {
        assert!(bad.token(&mut Vec::new()).await.is_err());
    }
    assert_eq!(sim2.token_requests(), 1, "no hammering within the minute");
    clock2.advance_secs(61);
    assert!(bad.token(&mut Vec::new()).await.is_err());
    assert_eq!(sim2.token_requests(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fhir_calls_are_classified_for_the_error_policy() {
    let sim = SatusehatSim::new();
    let (c, _) = client(&sim, sim::SIM_CLIENT_SECRET).await;
    let mut log = Vec::new();
    let q = format!(
        "/Patient?identifier=https%3A%2F%2Ffhir.kemkes.go.id%2Fid%2Fnik%7C{}",
        sim::PATIENTS[1].0
    );
    match c.fhir(reqwest::Method::GET, &q, None, None, &mut log).await {
        Outcome::Ok { body, .. } => {
            assert_eq!(body["total"], 1);
            assert_eq!(body["entry"][0]["resource"]["id"], sim::PATIENTS[1].1);
        }
        o => panic!("{o:?}"),
    }
    assert!(matches!(
        c.fhir(
            reqwest::Method::GET,
            "/Encounter/nope",
            None,
            None,
            &mut log
        )
        .await,
        Outcome::NotFound
    ));
    match c
        .fhir(
            reqwest::Method::POST,
            "/Encounter",
            Some(&json!({"resourceType": "Encounter"})),
            None,
            &mut log,
        )
        .await
    {
        Outcome::Invalid {
            status: 400,
            outcome,
        } => assert_eq!(outcome["resourceType"], "OperationOutcome"),
        o => panic!("{o:?}"),
    }
    sim.set_faults(Faults {
        rate_limit_next: 1,
        retry_after_secs: 7,
        ..Default::default()
    });
    assert!(matches!(
        c.fhir(reqwest::Method::GET, &q, None, None, &mut log).await,
        Outcome::RateLimited {
            retry_after_secs: 7
        }
    ));
    sim.set_faults(Faults {
        outage: true,
        ..Default::default()
    });
    assert!(matches!(
        c.fhir(reqwest::Method::GET, &q, None, None, &mut log).await,
        Outcome::Transient(_)
    ));
    assert!(
        log.iter()
            .all(|e| !e.request.as_deref().unwrap_or_default().contains("Bearer"))
    );
}

/// An Encounter as SATUSEHAT's documentation shows it (the EMER variant the bridge sends).
fn doc_encounter() -> Value {
    json!({
      "resourceType": "Encounter",
      "identifier": [{"system": "http://sys-ids.kemkes.go.id/encounter/10000004", "value": "P20240001"}],
      "status": "finished",
      "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "EMER", "display": "emergency"},
      "subject": {"reference": "Patient/100000030009", "display": "Ardianto Putra"},
      "participant": [{
        "type": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "ATND", "display": "attender"}]}],
        "individual": {"reference": "Practitioner/N10000001", "display": "Dokter Bronsig"}
      }],
      "period": {"start": "2022-06-14T07:00:00+00:00", "end": "2022-06-14T09:00:00+00:00"},
      "location": [{"location": {"reference": "Location/ef011065-38c9-46f8-9c35-d1fe68966a3e", "display": "Ruang 1A, Poliklinik Bedah Rawat Jalan Terpadu"}}],
      "statusHistory": [
        {"status": "arrived", "period": {"start": "2022-06-14T07:00:00+00:00", "end": "2022-06-14T08:00:00+00:00"}},
        {"status": "in-progress", "period": {"start": "2022-06-14T08:00:00+00:00", "end": "2022-06-14T09:00:00+00:00"}},
        {"status": "finished", "period": {"start": "2022-06-14T09:00:00+00:00", "end": "2022-06-14T09:00:00+00:00"}}
      ],
      "serviceProvider": {"reference": "Organization/10000004"}
    })
}

fn outcome_of(sim: &SatusehatSim, kind: &str, v: &Value) -> String {
    let o = sim.validate(kind, v).expect_err("should be refused");
    let i = &o.issue[0];
    format!("{} {}", i.code, i.expression.join(","))
}

#[test]
fn simulator_checks_encounters_like_satusehat() {
    let sim = SatusehatSim::new();
    sim.validate("Encounter", &doc_encounter()).unwrap();
    let mut e = doc_encounter();
    e["period"]["start"] = json!("2022-06-14T14:00:00+07:00");
    assert_eq!(
        outcome_of(&sim, "Encounter", &e),
        "value Encounter.period.start"
    );
    let mut e = doc_encounter();
    e["identifier"][0]["system"] = json!("http://sys-ids.kemkes.go.id/episode-of-care/10000004");
    assert_eq!(
        outcome_of(&sim, "Encounter", &e),
        "value Encounter.identifier"
    );
    let mut e = doc_encounter();
    e["class"]["system"] = json!("http://hl7.org/fhir/v3/ActCode");
    assert_eq!(
        outcome_of(&sim, "Encounter", &e),
        "code-invalid Encounter.class"
    );
    let mut e = doc_encounter();
    e.as_object_mut().unwrap().remove("subject");
    assert_eq!(
        outcome_of(&sim, "Encounter", &e),
        "required Encounter.subject"
    );
    let mut e = doc_encounter();
    e["subject"]["reference"] = json!("Patient/P99999999");
    assert_eq!(
        outcome_of(&sim, "Encounter", &e),
        "not-found Encounter.subject"
    );
    let mut e = doc_encounter();
    e["participant"][0]["type"][0]["coding"][0]["code"] = json!("PPRF");
    assert_eq!(
        outcome_of(&sim, "Encounter", &e),
        "code-invalid Encounter.participant[0].type"
    );
    let mut e = doc_encounter();
    e["statusHistory"][1]["period"]["start"] = json!("2022-06-14 08:00");
    assert_eq!(
        outcome_of(&sim, "Encounter", &e),
        "value Encounter.statusHistory[1].period.start"
    );
    let mut e = doc_encounter();
    e["status"] = json!(42);
    assert!(outcome_of(&sim, "Encounter", &e).starts_with("structure"));
}

fn doc_heart_rate() -> Value {
    json!({
      "resourceType": "Observation",
      "status": "final",
      "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs", "display": "Vital Signs"}]}],
      "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4", "display": "Heart rate"}]},
      "subject": {"reference": "Patient/100000030009"},
      "performer": [{"reference": "Practitioner/N10000001"}],
      "encounter": {"reference": "Encounter/ENC", "display": "Pemeriksaan Fisik Nadi Budi Santoso di hari Selasa, 14 Juni 2022"},
      "effectiveDateTime": "2022-07-14T00:00:00+00:00",
      "issued": "2022-07-14T00:00:00+00:00",
      "valueQuantity": {"value": 80, "unit": "beats/minute", "system": "http://unitsofmeasure.org", "code": "/min"}
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulator_checks_observations_and_conditions() {
    let sim = SatusehatSim::new();
    let (c, _) = client(&sim, sim::SIM_CLIENT_SECRET).await;
    let mut log = Vec::new();
    let enc = match c
        .fhir(
            reqwest::Method::POST,
            "/Encounter",
            Some(&doc_encounter()),
            None,
            &mut log,
        )
        .await
    {
        Outcome::Ok { status: 201, body } => body["id"].as_str().unwrap().to_string(),
        o => panic!("{o:?}"),
    };
    let mut hr = doc_heart_rate();
    hr["encounter"]["reference"] = json!(format!("Encounter/{enc}"));
    sim.validate("Observation", &hr).unwrap();
    assert_eq!(
        outcome_of(&sim, "Observation", &doc_heart_rate()),
        "not-found Observation.encounter"
    );
    let mut o = hr.clone();
    o["valueQuantity"]["code"] = json!("bpm");
    assert_eq!(
        outcome_of(&sim, "Observation", &o),
        "code-invalid Observation.valueQuantity"
    );
    let mut o = hr.clone();
    o["code"]["coding"][0]["code"] = json!("85354-9");
    assert_eq!(
        outcome_of(&sim, "Observation", &o),
        "invariant Observation.component"
    );
    let mut o = hr.clone();
    o["code"]["coding"][0]["system"] = json!("http://snomed.info/sct");
    assert_eq!(
        outcome_of(&sim, "Observation", &o),
        "code-invalid Observation.code"
    );
    let cond = json!({
      "resourceType": "Condition",
      "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active", "display": "Active"}]},
      "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-category", "code": "encounter-diagnosis", "display": "Encounter Diagnosis"}]}],
      "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "K35.8", "display": "Acute appendicitis, other and unspecified"}]},
      "subject": {"reference": "Patient/100000030009", "display": "Ardianto Putra"},
      "encounter": {"reference": format!("Encounter/{enc}"), "display": "Kunjungan Budi Santoso di hari Selasa, 14 Juni 2022"}
    });
    sim.validate("Condition", &cond).unwrap();
    let mut bad = cond.clone();
    bad["code"]["coding"][0]["system"] = json!("http://snomed.info/sct");
    assert_eq!(
        outcome_of(&sim, "Condition", &bad),
        "code-invalid Condition.code"
    );
    let mut bad = cond.clone();
    bad.as_object_mut().unwrap().remove("clinicalStatus");
    assert_eq!(
        outcome_of(&sim, "Condition", &bad),
        "required Condition.clinicalStatus"
    );
    // Location and Organization identifier systems.
    let loc = json!({"resourceType": "Location", "identifier": [{"system": "http://sys-ids.kemkes.go.id/location/10000004", "value": "G-2-R-1A"}],
        "status": "active", "name": "Ruang 1A IRJT", "mode": "instance",
        "managingOrganization": {"reference": "Organization/10000004"}});
    sim.validate("Location", &loc).unwrap();
    let mut bad = loc.clone();
    bad["identifier"][0]["system"] = json!("http://sys-ids.kemkes.go.id/location/99999999");
    assert_eq!(
        outcome_of(&sim, "Location", &bad),
        "value Location.identifier"
    );
    let org = json!({"resourceType": "Organization", "active": true, "identifier": [{"use": "official", "system": "http://sys-ids.kemkes.go.id/organization/10000004", "value": "Pos-KREKI"}],
        "name": "Pos KREKI", "partOf": {"reference": "Organization/10000004"}});
    sim.validate("Organization", &org).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_satusehat_is_a_timeout_and_retried() {
    let sim = SatusehatSim::new();
    let url = serve(sim.router()).await;
    let c = Client::new(
        &format!("{url}/sim/satusehat"),
        sim::SIM_CLIENT_ID,
        Secret::new(sim::SIM_CLIENT_SECRET),
        std::time::Duration::from_millis(500),
        Arc::new(ManualClock::starting_now()),
    )
    .unwrap();
    let mut log = Vec::new();
    c.token(&mut log).await.ok().unwrap();
    sim.set_faults(Faults {
        slow_ms: 1_500,
        ..Default::default()
    });
    match c
        .fhir(reqwest::Method::GET, "/Encounter/x", None, None, &mut log)
        .await
    {
        Outcome::Transient(e) => assert_eq!(e, "timeout"),
        o => panic!("{o:?}"),
    }
    assert_eq!(log.last().unwrap().error.as_deref(), Some("timeout"));
}
