//! SATUSEHAT sending against the simulator, on SQLite and PostgreSQL: an outage of an hour
//! (manual clock) with 100 cases, the error policy, replay, and the transaction log.

use std::collections::HashSet;

use crate::common::{NIK, case, rig};
use kreki_bridge::{
    MIGRATIONS,
    satusehat::{sim::Faults, store::state},
};
use kreki_platform::{storage::Db, storage_conformance};

async fn outage_of_an_hour_loses_and_duplicates_nothing(db: Db) {
    // The default policy (12 attempts, 30 s doubling to 30 min) rides out the hour.
    let r = rig(db, |_| {}).await;
    r.sim.set_faults(Faults {
        outage: true,
        ..Default::default()
    });
    for i in 0..100 {
        assert_eq!(
            r.enqueue(&case(&format!("case-{i:03}"), Some(NIK))).await,
            Some(state::QUEUED)
        );
    }
    // A second event of the same case is not a second job.
    assert_eq!(r.enqueue(&case("case-000", Some(NIK))).await, None);
    // One hour down, the clock moved a minute at a time.
    for _ in 0..60 {
        r.drain().await;
        r.clock.advance_secs(60);
    }
    let (jobs, total) = r.store.list(Some(state::QUEUED), 200, 0).await.unwrap();
    assert_eq!(total, 100, "all still queued, none dead");
    assert!(
        jobs.iter().all(|j| j.attempts >= 4),
        "several retry rounds: {:?}",
        jobs.iter().map(|j| j.attempts).min()
    );
    assert!(r.sim.resources("Encounter").is_empty());
    // Token requests were throttled to about one a minute.
    let tokens = r.sim.token_requests();
    assert!(
        (5..=60).contains(&tokens),
        "token requests during the hour: {tokens}"
    );
    // Back up; the queue drains within the next backoff window.
    r.sim.set_faults(Faults::default());
    for _ in 0..40 {
        r.drain().await;
        r.clock.advance_secs(60);
    }
    let (_, sent) = r.store.list(Some(state::SENT), 200, 0).await.unwrap();
    assert_eq!(sent, 100);
    let encounters = r.sim.resources("Encounter");
    let ids: HashSet<String> = encounters
        .iter()
        .map(|e| e["identifier"][0]["value"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(encounters.len(), 100, "exactly one Encounter per case");
    assert_eq!(ids.len(), 100);
    assert_eq!(
        r.sim.resources("Observation").len(),
        600,
        "six vital signs per case"
    );
    assert_eq!(r.sim.resources("Condition").len(), 100);
    // Replaying everything makes no duplicate either.
    let all: Vec<String> = (0..100).map(|i| format!("case-{i:03}")).collect();
    assert_eq!(
        r.store.replay(&all, r.clock.now()).await.unwrap().len(),
        100
    );
    r.drain().await;
    assert_eq!(r.sim.resources("Encounter").len(), 100);
    assert_eq!(r.sim.resources("Observation").len(), 600);
    assert_eq!(r.store.list(Some(state::SENT), 1, 0).await.unwrap().1, 100);
    assert_eq!(
        r.worker.metrics.satusehat_count("sent"),
        200,
        "two rounds of 100"
    );
    assert!(r.worker.metrics.satusehat_count("retry") >= 400);
    assert_eq!(r.worker.metrics.satusehat_count("dead"), 0);
}
storage_conformance!(
    outage,
    "bridge",
    super::MIGRATIONS,
    super::outage_of_an_hour_loses_and_duplicates_nothing
);

async fn error_policy(db: Db) {
    let r = rig(db, |c| c.max_attempts = 3).await;
    // No NIK: unidentified until an operator completes it.
    assert_eq!(
        r.enqueue(&case("anon", None)).await,
        Some(state::UNIDENTIFIED)
    );
    // A malformed NIK: needs a fix, never sent.
    assert_eq!(
        r.enqueue(&case("bad-nik", Some("3171013002000001"))).await,
        Some(state::NEEDS_FIX)
    );
    // A valid NIK SATUSEHAT does not know.
    r.enqueue(&case("stranger", Some("3171011501000001"))).await;
    r.drain().await;
    assert_eq!(r.state("anon").await, state::UNIDENTIFIED);
    assert_eq!(r.state("bad-nik").await, state::NEEDS_FIX);
    assert_eq!(r.state("stranger").await, state::PATIENT_NOT_FOUND);
    let d = r.store.get("stranger").await.unwrap().unwrap();
    assert_eq!(d.nik.as_deref(), Some("31**********01"), "masked");
    assert!(
        d.exchanges
            .iter()
            .any(|e| e.url.starts_with("/fhir-r4/v1/Patient?identifier="))
    );
    assert!(
        d.exchanges.iter().all(|e| !e
            .request
            .as_deref()
            .unwrap_or_default()
            .contains("kreki-sim-secret")),
        "the client secret is never logged"
    );
    // Security review: the exchange log (read by operators) keeps no NIK in clear, not even
    // in the URL of the Patient search.
    let in_clear = |d: &kreki_bridge::satusehat::store::JobDetail, what: &str| {
        d.exchanges.iter().any(|e| {
            [
                Some(e.url.as_str()),
                e.request.as_deref(),
                e.response.as_deref(),
                e.error.as_deref(),
            ]
            .into_iter()
            .flatten()
            .any(|t| t.contains(what))
        })
    };
    assert!(!in_clear(&d, "3171011501000001"), "{:?}", d.exchanges);
    assert!(in_clear(&d, "31**********01"));
    assert!(r.sim.resources("Encounter").is_empty());

    // The operator completes the NIK: sent.
    let nik = kreki_bridge::nik::Nik::parse(NIK).unwrap();
    assert!(r.store.set_nik("anon", &nik, r.clock.now()).await.unwrap());
    r.drain().await;
    assert_eq!(r.state("anon").await, state::SENT);
    let sent = r.store.get("anon").await.unwrap().unwrap();
    assert!(!in_clear(&sent, NIK), "{:?}", sent.exchanges);
    assert_eq!(r.sim.resources("Encounter").len(), 1);

    // 429: wait for Retry-After, without using up the attempts.
    r.sim.set_faults(Faults {
        rate_limit_next: 1,
        retry_after_secs: 120,
        ..Default::default()
    });
    r.enqueue(&case("limited", Some(NIK))).await;
    r.drain().await;
    assert_eq!(r.state("limited").await, state::QUEUED);
    r.clock.advance_secs(100);
    r.drain().await;
    assert_eq!(
        r.state("limited").await,
        state::QUEUED,
        "Retry-After honoured"
    );
    r.clock.advance_secs(30);
    r.drain().await;
    assert_eq!(r.state("limited").await, state::SENT);

    // Expired token: one refresh, then it goes through in the same attempt.
    let before = r.sim.token_requests();
    r.sim.set_faults(Faults {
        expire_tokens: true,
        ..Default::default()
    });
    r.enqueue(&case("expired", Some(NIK))).await;
    r.drain().await;
    assert_eq!(r.state("expired").await, state::SENT);
    assert_eq!(r.sim.token_requests(), before + 1);
    let d = r.store.get("expired").await.unwrap().unwrap();
    assert_eq!(d.summary.attempts, 1);
    assert!(d.exchanges.iter().any(|e| e.status == Some(401)));

    // FHIR validation error (an unknown Location): needs a human, no retry.
    let bad = rig(r.store.db().clone(), |c| {
        c.location_id = Some("no-such-location".into())
    })
    .await;
    bad.enqueue(&case("refused", Some(NIK))).await;
    bad.drain().await;
    assert_eq!(bad.state("refused").await, state::NEEDS_FIX);
    let d = bad.store.get("refused").await.unwrap().unwrap();
    assert!(
        d.issues
            .iter()
            .any(|i| i.contains("Encounter.location[0].location")),
        "{:?}",
        d.issues
    );
    bad.clock.advance_secs(3600);
    assert_eq!(bad.worker.run_once().await, 0, "not retried");

    // Down for good: dead letter after max_attempts, replay sends it once it is back.
    r.sim.set_faults(Faults {
        outage: true,
        ..Default::default()
    });
    r.enqueue(&case("doomed", Some(NIK))).await;
    for _ in 0..120 {
        r.drain().await;
        r.clock.advance_secs(60);
    }
    assert_eq!(r.state("doomed").await, state::DEAD);
    let d = r.store.get("doomed").await.unwrap().unwrap();
    assert_eq!(d.summary.attempts, 3);
    assert!(
        d.summary
            .last_error
            .as_deref()
            .unwrap()
            .contains("gave up after 3 attempts")
    );
    r.sim.set_faults(Faults::default());
    assert_eq!(r.store.ids_in(state::DEAD, 10).await.unwrap(), ["doomed"]);
    r.store
        .replay(&["doomed".to_string()], r.clock.now())
        .await
        .unwrap();
    r.drain().await;
    assert_eq!(r.state("doomed").await, state::SENT);
    // Discard only what failed.
    assert!(!r.store.discard("doomed", r.clock.now()).await.unwrap());
    assert!(r.store.discard("bad-nik", r.clock.now()).await.unwrap());
    assert_eq!(r.state("bad-nik").await, state::DISCARDED);
    // Retention drops the exchanges of settled jobs only.
    let open_before = r
        .store
        .get("stranger")
        .await
        .unwrap()
        .unwrap()
        .exchanges
        .len();
    assert!(open_before > 0);
    assert!(r.store.prune(r.clock.now() + 1).await.unwrap() > 0);
    assert!(
        r.store
            .get("doomed")
            .await
            .unwrap()
            .unwrap()
            .exchanges
            .is_empty()
    );
    assert_eq!(r.state("doomed").await, state::SENT, "the job itself stays");
    assert_eq!(
        r.store
            .get("stranger")
            .await
            .unwrap()
            .unwrap()
            .exchanges
            .len(),
        open_before
    );
}
storage_conformance!(policy, "bridge", super::MIGRATIONS, super::error_policy);
