//! Notification store and sender, on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use kreki_notify::{
    MIGRATIONS,
    channel::{Channel, Outgoing, SendError},
    store::{Enqueued, Store},
    worker::Worker,
};
use kreki_notify_contracts::{Channel as ChannelKind, MessageRequested, Priority, Template};
use kreki_platform::{bus::outbox::RelayState, storage::Db, storage_conformance, testkit};
use sqlx::Row;
use tokio_util::sync::CancellationToken;

fn request(id: &str, dedup: &str, priority: Priority) -> MessageRequested {
    MessageRequested {
        id: id.into(),
        dedup_key: dedup.into(),
        recipient_id: Some("acct-1".into()),
        address: None,
        template: Template::TestAlert,
        vars: Default::default(),
        language: None,
        priority,
        channels: vec![],
        expires_at: None,
        correlation_id: Some("case-1".into()),
        attachments: Vec::new(),
    }
}

async fn enqueue(db: &Db, req: &MessageRequested, expires: Option<i64>) -> Enqueued {
    let mut tx = db.begin().await.unwrap();
    let r = Store::enqueue(&mut tx, req, expires).await.unwrap();
    tx.commit().await.unwrap();
    r
}

async fn dedup_and_priority_order(db: Db) {
    let store = Store::new(db.clone());
    for i in 0..5 {
        assert_eq!(
            enqueue(
                &db,
                &request(&format!("low-{i}"), &format!("l{i}"), Priority::Low),
                None
            )
            .await,
            Enqueued::New
        );
    }
    assert_eq!(
        enqueue(&db, &request("crit", "offer-1", Priority::Critical), None).await,
        Enqueued::New
    );
    assert_eq!(
        enqueue(
            &db,
            &request("crit-again", "offer-1", Priority::Critical),
            None
        )
        .await,
        Enqueued::Duplicate {
            existing_id: "crit".into()
        },
        "same dedup key is one message"
    );
    assert_eq!(store.backlog().await.unwrap(), 6);
    let first = store.claim_due(2).await.unwrap();
    assert_eq!(first[0].id, "crit", "critical overtakes the backlog");
    assert_eq!(
        first[0].attempts, 1,
        "the attempt is recorded before sending"
    );
    // Claimed messages are leased: not handed out again.
    let rest = store.claim_due(10).await.unwrap();
    assert_eq!(rest.len(), 4);
    assert!(rest.iter().all(|m| m.id != "crit" && m.id != first[1].id));
    assert!(store.claim_due(10).await.unwrap().is_empty());
}
storage_conformance!(
    queue,
    "notify",
    super::MIGRATIONS,
    super::dedup_and_priority_order
);

struct Recording(Arc<Mutex<Vec<Outgoing>>>, Arc<Mutex<u32>>);

#[async_trait]
impl Channel for Recording {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Console
    }
    async fn send(&self, m: &Outgoing) -> Result<Option<String>, SendError> {
        let mut fails = self.1.lock().unwrap();
        if *fails > 0 {
            *fails -= 1;
            return Err(SendError::Transient("provider down".into()));
        }
        self.0.lock().unwrap().push(m.clone());
        Ok(Some(format!("ref-{}", m.id)))
    }
}

async fn worker_sends_retries_expires_and_reports(db: Db) {
    let store = Store::new(db.clone());
    let sent = Arc::new(Mutex::new(Vec::new()));
    let fails = Arc::new(Mutex::new(1u32));
    let wake = Arc::new(tokio::sync::Notify::new());
    let cancel = CancellationToken::new();
    let worker = Worker {
        store: store.clone(),
        channel: Arc::new(Recording(sent.clone(), fails.clone())),
        wake: wake.clone(),
        relay: Arc::new(RelayState::default()),
    };
    tokio::spawn(worker.run(cancel.clone()));
    let mut en = request("m-en", "k-en", Priority::High);
    en.language = Some(kreki_notify_contracts::Language::En);
    enqueue(&db, &en, None).await;
    enqueue(&db, &request("m-old", "k-old", Priority::Critical), Some(1)).await;
    wake.notify_one();
    testkit::eventually(
        "sent after one transient failure",
        std::time::Duration::from_secs(10),
        || {
            let sent = sent.clone();
            async move { sent.lock().unwrap().len() == 1 }
        },
    )
    .await;
    let m = sent.lock().unwrap()[0].clone();
    assert_eq!(m.id, "m-en");
    assert_eq!(m.to, "account:acct-1");
    assert!(m.body.contains("alerts reach your device"), "{}", m.body);
    testkit::eventually(
        "outcome recorded",
        std::time::Duration::from_secs(5),
        || {
            let store = store.clone();
            async move { store.get("m-en").await.unwrap().unwrap().status == "sent" }
        },
    )
    .await;
    let view = store.get("m-en").await.unwrap().unwrap();
    assert_eq!(view.attempts, 2);
    let states: Vec<&str> = view.history.iter().map(|h| h.status.as_str()).collect();
    assert_eq!(states, ["queued", "retry", "sent"]);
    testkit::eventually(
        "expired recorded",
        std::time::Duration::from_secs(5),
        || {
            let store = store.clone();
            async move { store.get("m-old").await.unwrap().unwrap().status == "expired" }
        },
    )
    .await;
    // Final states are published as notify.message.status through the outbox.
    let subjects: Vec<String> = sqlx::query("SELECT subject FROM outbox ORDER BY seq")
        .fetch_all(db.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(subjects, ["notify.message.status", "notify.message.status"]);
    cancel.cancel();
}
storage_conformance!(
    worker,
    "notify",
    super::MIGRATIONS,
    super::worker_sends_retries_expires_and_reports
);
