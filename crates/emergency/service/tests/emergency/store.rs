//! The Emergency Core's store on SQLite and PostgreSQL (`storage_conformance!`).

use kreki_emergency::{
    MIGRATIONS,
    domain::{DomainError, OfferState},
    geo::LatLng,
    store::{Created, NewCase, Store, timeline_add},
};
use kreki_emergency_contracts::{CaseStatus, EmergencyType, Severity};
use kreki_platform::{storage::Db, storage_conformance};

fn new_case(id: &str, severity: Severity, phone: Option<&str>, account: Option<&str>) -> NewCase {
    NewCase {
        id: id.into(),
        severity,
        kind: EmergencyType::CardiacArrest,
        location: LatLng::new(-6.2, 106.8).unwrap(),
        accuracy_m: Some(12),
        description: Some("pria 50 tahun tidak sadar".into()),
        caller_account: account.map(str::to_string),
        caller_phone: phone.map(str::to_string),
        caller_token_hash: "hash".into(),
        handshake_code: "4821".into(),
        accepts_wanted: 2,
        source: "app",
    }
}

async fn create_get_and_find_by_caller(db: Db) {
    let store = Store::new(db);
    assert_eq!(
        store
            .create(
                &new_case("c1", Severity::Normal, Some("+6281"), None),
                None,
                || (201, String::new())
            )
            .await
            .unwrap(),
        Created::New
    );
    assert_eq!(
        store
            .create(
                &new_case("c2", Severity::Critical, None, Some("acct-1")),
                None,
                || (201, String::new())
            )
            .await
            .unwrap(),
        Created::New
    );
    let c = store.get("c1").await.unwrap().unwrap();
    assert_eq!(
        (c.status, c.severity, c.kind),
        (
            CaseStatus::Pending,
            Severity::Normal,
            EmergencyType::CardiacArrest
        )
    );
    assert!((c.latitude + 6.2).abs() < 1e-9 && (c.longitude - 106.8).abs() < 1e-9);
    assert_eq!(c.handshake_code, "4821");
    assert!(store.get("nope").await.unwrap().is_none());
    assert_eq!(
        store
            .open_case_of(None, Some("+6281"))
            .await
            .unwrap()
            .unwrap()
            .id,
        "c1"
    );
    assert_eq!(
        store
            .open_case_of(Some("acct-1"), None)
            .await
            .unwrap()
            .unwrap()
            .id,
        "c2"
    );
    assert!(
        store
            .open_case_of(Some("acct-2"), Some("+6299"))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store
            .count_by_caller_since(None, Some("+6281"), 0)
            .await
            .unwrap(),
        1
    );
    // Most severe first.
    let active: Vec<String> = store
        .active()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(active, ["c2", "c1"]);
    let t = store.timeline("c1").await.unwrap();
    assert_eq!(t[0].kind, "created");
    assert_eq!(t[0].data["severity"], "normal");
}
storage_conformance!(
    create_get,
    "emergency",
    super::MIGRATIONS,
    super::create_get_and_find_by_caller
);

async fn idempotent_creation(db: Db) {
    let store = Store::new(db);
    let c = new_case("c1", Severity::Critical, Some("+6281"), None);
    assert_eq!(
        store
            .create(&c, Some(("k1", "h1")), || (201, "{\"id\":\"c1\"}".into()))
            .await
            .unwrap(),
        Created::New
    );
    let again = new_case("c1-retry", Severity::Critical, Some("+6281"), None);
    assert_eq!(
        store
            .create(&again, Some(("k1", "h1")), || (201, "{}".into()))
            .await
            .unwrap(),
        Created::Replay {
            status: 201,
            response: "{\"id\":\"c1\"}".into()
        }
    );
    assert!(
        store.get("c1-retry").await.unwrap().is_none(),
        "no second case"
    );
    assert_eq!(
        store
            .create(&again, Some(("k1", "other-body")), || (201, "{}".into()))
            .await
            .unwrap(),
        Created::KeyReuse
    );
}
storage_conformance!(
    idempotency,
    "emergency",
    super::MIGRATIONS,
    super::idempotent_creation
);

async fn transitions_are_serialised(db: Db) {
    let store = Store::new(db.clone());
    store
        .create(
            &new_case("c1", Severity::Urgent, Some("+6281"), None),
            None,
            || (201, String::new()),
        )
        .await
        .unwrap();
    // Two cancels at once: exactly one wins.
    let attempt = |store: Store| async move {
        let mut tx = store.db().begin().await.unwrap();
        let mut st = store.lock(&mut tx, "c1").await.unwrap().unwrap();
        let r = st.cancel();
        if r.is_ok() {
            Store::set_status(&mut tx, "c1", st.status, Some("salah tekan"))
                .await
                .unwrap();
            timeline_add(&mut tx, "c1", "cancelled", None, &serde_json::json!({}))
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
        r
    };
    let store2 = store.clone();
    let (a, b) = tokio::join!(
        tokio::spawn(attempt(store.clone())),
        tokio::spawn(attempt(store2))
    );
    let results = [a.unwrap(), b.unwrap()];
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
    assert!(results.contains(&Err(DomainError::CaseClosed)));
    assert_eq!(
        store.get("c1").await.unwrap().unwrap().status,
        CaseStatus::Cancelled
    );
    assert!(
        store
            .open_case_of(None, Some("+6281"))
            .await
            .unwrap()
            .is_none()
    );
    let kinds: Vec<String> = store
        .timeline("c1")
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.kind)
        .collect();
    assert_eq!(kinds, ["created", "cancelled"]);
    // State of a case comes back for the domain rules.
    let mut tx = store.db().begin().await.unwrap();
    let st = store.lock(&mut tx, "c1").await.unwrap().unwrap();
    assert_eq!(st.accepts_wanted, 2);
    let mut st2 = st.clone();
    assert_eq!(
        st2.accept("v", Some(OfferState::Open), None),
        Err(DomainError::CaseClosed)
    );
    assert!(store.lock(&mut tx, "missing").await.unwrap().is_none());
    tx.rollback().await.unwrap();
}
storage_conformance!(
    serialised,
    "emergency",
    super::MIGRATIONS,
    super::transitions_are_serialised
);

async fn dispatch_leases_pass_between_replicas(db: Db) {
    use kreki_emergency::{config::EmergencyConfig, dispatch::Dispatcher, presence::Live};
    use std::sync::Arc;
    let replica = || {
        Dispatcher::new(
            Store::new(db.clone()),
            Arc::new(Live::new()),
            Arc::new(EmergencyConfig::default()),
            "http://x".into(),
            tokio_util::sync::CancellationToken::new(),
        )
    };
    let (a, b) = (replica(), replica());
    assert!(a.lease("case-1").await.unwrap());
    assert!(!b.lease("case-1").await.unwrap(), "owned by a live replica");
    assert!(a.lease("case-1").await.unwrap(), "renewal");
    assert!(b.lease("case-2").await.unwrap(), "other cases are free");
    // A stops renewing (crashed): its lease lapses and B takes over.
    sqlx::query("UPDATE dispatch_leases SET expires_at = 0 WHERE case_id = 'case-1'")
        .execute(db.pool())
        .await
        .unwrap();
    assert!(b.lease("case-1").await.unwrap());
    assert!(!a.lease("case-1").await.unwrap());
    b.release("case-1").await;
    assert!(a.lease("case-1").await.unwrap(), "released on a clean stop");
}
storage_conformance!(
    leases,
    "emergency",
    super::MIGRATIONS,
    super::dispatch_leases_pass_between_replicas
);

async fn retention_deletes_old_closed_cases_only(db: Db) {
    let store = Store::new(db.clone());
    for id in ["old-closed", "old-open", "new-closed"] {
        store
            .create(
                &new_case(id, Severity::Urgent, Some("+6281"), None),
                None,
                || (201, String::new()),
            )
            .await
            .unwrap();
    }
    let mut tx = db.begin().await.unwrap();
    for id in ["old-closed", "new-closed"] {
        Store::set_status(&mut tx, id, CaseStatus::Cancelled, Some("salah tekan"))
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    let now = kreki_platform::time_util::now_micros();
    let year = 365 * 86_400 * 1_000_000_i64;
    // Make "old-closed" and "old-open" eleven years old.
    for id in ["old-closed", "old-open"] {
        sqlx::query("UPDATE cases SET created_at = $1, closed_at = CASE WHEN closed_at IS NULL THEN NULL ELSE $1 END WHERE id = $2")
            .bind(now - 11 * year)
            .bind(id)
            .execute(db.pool())
            .await
            .unwrap();
    }
    sqlx::query("INSERT INTO sms_inbound (message_id, sender, text_hash, text, received_at, status) VALUES ('m-old', '+6281', 'h', 'DARURAT', $1, 'created'), ('m-new', '+6281', 'h2', 'DARURAT', $2, 'created')")
        .bind(now - 3 * year)
        .bind(now)
        .execute(db.pool())
        .await
        .unwrap();
    let pruned = store
        .prune(now - 10 * year, now - 2 * year, now)
        .await
        .unwrap();
    assert_eq!((pruned.cases, pruned.sms), (1, 1));
    assert!(store.get("old-closed").await.unwrap().is_none());
    assert!(store.timeline("old-closed").await.unwrap().is_empty());
    assert!(
        store.get("old-open").await.unwrap().is_some(),
        "an open case is never deleted"
    );
    assert!(store.get("new-closed").await.unwrap().is_some());
    assert_eq!(
        store
            .prune(now - 10 * year, now - 2 * year, now)
            .await
            .unwrap()
            .cases,
        0
    );
}
storage_conformance!(
    retention,
    "emergency",
    super::MIGRATIONS,
    super::retention_deletes_old_closed_cases_only
);

async fn wellbeing_checkins_and_history(db: Db) {
    use kreki_emergency::{domain::Responder, wellbeing};
    use kreki_emergency_contracts::ResponderStatus;
    let store = Store::new(db.clone());
    for id in ["hard", "easy"] {
        store
            .create(
                &new_case(id, Severity::Critical, Some("+6281"), None),
                None,
                || (201, String::new()),
            )
            .await
            .unwrap();
    }
    let now = kreki_platform::time_util::now_micros();
    let mut tx = db.begin().await.unwrap();
    for (case, vol, lead) in [
        ("hard", "v1", true),
        ("hard", "v2", false),
        ("easy", "v1", true),
    ] {
        Store::add_responder(
            &mut tx,
            case,
            &Responder {
                volunteer_id: vol.into(),
                status: ResponderStatus::Resolved,
                is_lead: lead,
                eta_minutes: Some(4),
            },
        )
        .await
        .unwrap();
    }
    Store::set_status(&mut tx, "hard", CaseStatus::Completed, Some("deceased"))
        .await
        .unwrap();
    wellbeing::schedule(&mut tx, "hard", &["v1".into(), "v2".into()], now + 1_000)
        .await
        .unwrap();
    // Scheduling twice (a retried completion) keeps one check-in each.
    wellbeing::schedule(&mut tx, "hard", &["v1".into()], now + 5_000)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert!(
        wellbeing::due(&db, "v1", now).await.unwrap().is_empty(),
        "not due yet"
    );
    let due = wellbeing::due(&db, "v1", now + 2_000).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].case_id, "hard");
    assert_eq!(due[0].kind, EmergencyType::CardiacArrest);
    assert_eq!(
        wellbeing::answer(&db, "hard", "v1", "struggling", Some("berat"), now + 3_000)
            .await
            .unwrap(),
        wellbeing::Answered::Done
    );
    assert_eq!(
        wellbeing::answer(&db, "hard", "v1", "good", None, now + 4_000)
            .await
            .unwrap(),
        wellbeing::Answered::Already
    );
    assert_eq!(
        wellbeing::answer(&db, "easy", "v1", "good", None, now)
            .await
            .unwrap(),
        wellbeing::Answered::NotFound
    );
    let kept: (String, Option<String>) = {
        let r = sqlx::query("SELECT answer, note FROM wellbeing_checkins WHERE case_id = 'hard' AND volunteer_id = 'v1'")
            .fetch_one(db.pool())
            .await
            .unwrap();
        use sqlx::Row;
        (r.try_get(0).unwrap(), r.try_get(1).unwrap())
    };
    assert_eq!(
        kept,
        ("struggling".into(), Some("berat".into())),
        "the first answer is kept"
    );
    assert!(
        wellbeing::due(&db, "v1", now + 10_000)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        wellbeing::due(&db, "v2", now + 10_000).await.unwrap().len(),
        1
    );
    let h = wellbeing::history(&db, "v1").await.unwrap();
    assert_eq!(h.len(), 2);
    let hard = h.iter().find(|e| e.case_id == "hard").unwrap();
    assert_eq!(
        (
            hard.case_status,
            hard.outcome.as_deref(),
            hard.my_status,
            hard.is_lead
        ),
        (
            CaseStatus::Completed,
            Some("deceased"),
            ResponderStatus::Resolved,
            true
        )
    );
    assert!(wellbeing::history(&db, "v3").await.unwrap().is_empty());
    // Retention deletes the check-ins with their case.
    sqlx::query("UPDATE cases SET closed_at = $1 WHERE id = 'hard'")
        .bind(now - 11 * 365 * 86_400 * 1_000_000_i64)
        .execute(db.pool())
        .await
        .unwrap();
    store
        .prune(now - 3_650 * 86_400 * 1_000_000, 0, now)
        .await
        .unwrap();
    let left: i64 = {
        use sqlx::Row;
        sqlx::query("SELECT COUNT(*) FROM wellbeing_checkins")
            .fetch_one(db.pool())
            .await
            .unwrap()
            .try_get(0)
            .unwrap()
    };
    assert_eq!(left, 0);
}
storage_conformance!(
    wellbeing,
    "emergency",
    super::MIGRATIONS,
    super::wellbeing_checkins_and_history
);

async fn ops_stats_since(db: Db) {
    let store = Store::new(db.clone());
    for id in ["s1", "s2", "s3"] {
        store
            .create(
                &new_case(id, Severity::Urgent, Some("+6281"), None),
                None,
                || (201, String::new()),
            )
            .await
            .unwrap();
    }
    let now = kreki_platform::time_util::now_micros();
    // s1 accepted after 30 s, s2 after 90 s, s3 yesterday and closed.
    for (id, created, accepted) in [
        ("s1", now - 100_000_000, Some(now - 70_000_000)),
        ("s2", now - 100_000_000, Some(now - 10_000_000)),
        ("s3", now - 2 * 86_400_000_000, None),
    ] {
        sqlx::query("UPDATE cases SET created_at = $1, first_accept_at = $2 WHERE id = $3")
            .bind(created)
            .bind(accepted)
            .bind(id)
            .execute(db.pool())
            .await
            .unwrap();
    }
    let mut tx = db.begin().await.unwrap();
    Store::set_status(&mut tx, "s3", CaseStatus::Cancelled, Some("uji"))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let (open, today, mut accepts) = store.stats_since(now - 86_400_000_000).await.unwrap();
    accepts.sort_by(f64::total_cmp);
    assert_eq!((open, today), (2, 2));
    assert_eq!(accepts.len(), 2);
    assert!(
        (accepts[0] - 30.0).abs() < 0.01 && (accepts[1] - 90.0).abs() < 0.01,
        "{accepts:?}"
    );
    let (_, none, empty) = store.stats_since(now + 1).await.unwrap();
    assert_eq!((none, empty.len()), (0, 0));
}
storage_conformance!(
    ops_stats,
    "emergency",
    super::MIGRATIONS,
    super::ops_stats_since
);

async fn offers_reopen_after_a_decline(db: Db) {
    use kreki_emergency::store::OfferRow;
    let store = Store::new(db.clone());
    store
        .create(
            &new_case("r1", Severity::Critical, Some("+6281"), None),
            None,
            || (201, String::new()),
        )
        .await
        .unwrap();
    let offer = |id: &str, distance_m: i64| OfferRow {
        id: id.into(),
        case_id: "r1".into(),
        volunteer_id: "v1".into(),
        wave: 0,
        state: OfferState::Open,
        distance_m,
        expires_at_us: kreki_platform::time_util::now_micros() + 20_000_000,
        expires_at: String::new(),
    };
    let mut tx = db.begin().await.unwrap();
    Store::insert_offer(&mut tx, &offer("o1", 300))
        .await
        .unwrap();
    Store::set_offer_state(&mut tx, "r1", "v1", OfferState::Declined)
        .await
        .unwrap();
    assert_eq!(
        Store::offer_state(&mut tx, "r1", "v1").await.unwrap(),
        Some(OfferState::Declined)
    );
    Store::reopen_offer(&mut tx, &offer("o2", 2_500))
        .await
        .unwrap();
    assert_eq!(
        Store::offer_state(&mut tx, "r1", "v1").await.unwrap(),
        Some(OfferState::Open)
    );
    tx.commit().await.unwrap();
    let mine = store.offers_of("v1").await.unwrap();
    assert_eq!(mine.len(), 1, "one row per case and volunteer");
    assert_eq!((mine[0].id.as_str(), mine[0].distance_m), ("o2", 2_500));
}
storage_conformance!(
    offers_reopen,
    "emergency",
    super::MIGRATIONS,
    super::offers_reopen_after_a_decline
);

async fn busy_volunteers_are_those_responding_to_open_cases(db: Db) {
    use kreki_emergency::domain::Responder;
    use kreki_emergency_contracts::ResponderStatus;
    let store = Store::new(db.clone());
    for id in ["open", "done"] {
        store
            .create(
                &new_case(id, Severity::Critical, Some("+6281"), None),
                None,
                || (201, String::new()),
            )
            .await
            .unwrap();
    }
    let mut tx = db.begin().await.unwrap();
    for (case, vol, status) in [
        ("open", "on-scene", ResponderStatus::Arrived),
        ("open", "finished", ResponderStatus::Resolved),
        ("done", "was-there", ResponderStatus::Accepted),
    ] {
        Store::add_responder(
            &mut tx,
            case,
            &Responder {
                volunteer_id: vol.into(),
                status,
                is_lead: false,
                eta_minutes: None,
            },
        )
        .await
        .unwrap();
    }
    Store::set_status(&mut tx, "open", CaseStatus::Responding, None)
        .await
        .unwrap();
    Store::set_status(&mut tx, "done", CaseStatus::Completed, Some("transported"))
        .await
        .unwrap();
    assert_eq!(
        Store::busy_volunteers(&mut tx).await.unwrap(),
        vec!["on-scene".to_string()]
    );
    tx.commit().await.unwrap();
}

storage_conformance!(
    busy,
    "emergency",
    super::MIGRATIONS,
    super::busy_volunteers_are_those_responding_to_open_cases
);
