//! The same cases on the embedded bus and on NATS JetStream, plus the consumer runner's
//! exactly-once effect.

use std::{collections::HashSet, sync::Arc, time::Duration};

use async_trait::async_trait;
use kreki_platform::{
    bus::{
        Bus, Event, Subscription,
        consumer::{AfterCommit, Consumer, HandleError, Handler},
        local::LocalBus,
        nats::NatsBus,
        outbox::{self, Relay},
        subject_matches,
    },
    metrics::Metrics,
    storage::{Db, Tx},
    testkit::{self, TempDir, TestNats},
};
use tokio_util::sync::CancellationToken;

const ACK_WAIT: Duration = Duration::from_secs(1);

enum Guard {
    Local(#[allow(dead_code)] TempDir),
    Nats(TestNats),
}

impl Guard {
    async fn cleanup(self) {
        if let Guard::Nats(n) = self {
            n.cleanup().await;
        }
    }
}

async fn local_bus() -> (Arc<dyn Bus>, Guard) {
    let dir = TempDir::new();
    let db = Db::open_sqlite(&dir.path().join("bus.db"), "bus")
        .await
        .unwrap();
    (
        Arc::new(LocalBus::open(db, ACK_WAIT).await.unwrap()),
        Guard::Local(dir),
    )
}

async fn nats_bus() -> Option<(Arc<dyn Bus>, Guard)> {
    let n = TestNats::create().await?;
    let bus = NatsBus::connect(&n.url, "test", &n.stream, &n.prefix, ACK_WAIT)
        .await
        .unwrap();
    Some((Arc::new(bus), Guard::Nats(n)))
}

macro_rules! bus_conformance {
    ($name:ident, $body:path) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn embedded() {
                let (bus, guard) = super::local_bus().await;
                $body(bus).await;
                guard.cleanup().await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn nats() {
                let Some((bus, guard)) = super::nats_bus().await else {
                    return;
                };
                $body(bus).await;
                guard.cleanup().await;
            }
        }
    };
}

fn ev(subject: &str, n: i64) -> Event {
    Event::new("test", subject, &serde_json::json!({ "n": n })).unwrap()
}

async fn next(
    sub: &mut Box<dyn Subscription>,
    within: Duration,
) -> Option<kreki_platform::bus::Delivery> {
    match tokio::time::timeout(within, sub.next()).await {
        Ok(Some(Ok(d))) => Some(d),
        Ok(Some(Err(e))) => panic!("bus error: {e}"),
        Ok(None) | Err(_) => None,
    }
}

async fn filters_order_and_ack(bus: Arc<dyn Bus>) {
    // Published before the group exists: a new group starts at the beginning.
    bus.publish(&ev("a.x", 1)).await.unwrap();
    bus.publish(&ev("b.y", 2)).await.unwrap();
    bus.publish(&ev("a.z", 3)).await.unwrap();
    let mut sub = bus.subscribe("g1", &["a.*"]).await.unwrap();
    let d1 = next(&mut sub, Duration::from_secs(5)).await.expect("first");
    assert_eq!((d1.event.subject.as_str(), d1.attempt), ("a.x", 1));
    d1.acker.ack().await.unwrap();
    let d2 = next(&mut sub, Duration::from_secs(5))
        .await
        .expect("second");
    assert_eq!(d2.event.subject, "a.z");
    d2.acker.ack().await.unwrap();
    // Acknowledged: nothing comes back after the ack wait.
    assert!(next(&mut sub, ACK_WAIT * 2).await.is_none());
    // Published later: delivered without polling delay.
    bus.publish(&ev("a.w", 4)).await.unwrap();
    let d3 = next(&mut sub, Duration::from_secs(5)).await.expect("live");
    assert_eq!(d3.event.data["n"], 4);
    d3.acker.ack().await.unwrap();
}
bus_conformance!(filters_order_ack, super::filters_order_and_ack);

async fn publish_is_deduplicated_by_event_id(bus: Arc<dyn Bus>) {
    let e = ev("dup.x", 1);
    bus.publish(&e).await.unwrap();
    bus.publish(&e).await.unwrap();
    let mut sub = bus.subscribe("gd", &["dup.>"]).await.unwrap();
    let d = next(&mut sub, Duration::from_secs(5)).await.expect("one");
    assert_eq!(d.event.id, e.id);
    d.acker.ack().await.unwrap();
    assert!(next(&mut sub, ACK_WAIT * 2).await.is_none(), "stored once");
}
bus_conformance!(dedup, super::publish_is_deduplicated_by_event_id);

async fn unacknowledged_events_are_redelivered(bus: Arc<dyn Bus>) {
    let mut sub = bus.subscribe("gr", &["r.>"]).await.unwrap();
    bus.publish(&ev("r.1", 1)).await.unwrap();
    let d = next(&mut sub, Duration::from_secs(5)).await.expect("first");
    assert_eq!(d.attempt, 1);
    drop(d); // neither acked nor nak'ed: redelivered after the ack wait
    let d = next(&mut sub, Duration::from_secs(10))
        .await
        .expect("redelivered");
    assert_eq!(d.attempt, 2);
    d.acker.nak(Duration::from_millis(100)).await.unwrap();
    let d = next(&mut sub, Duration::from_secs(10))
        .await
        .expect("after nak");
    assert_eq!(d.attempt, 3);
    d.acker.ack().await.unwrap();
    assert!(next(&mut sub, ACK_WAIT * 2).await.is_none());
}
bus_conformance!(redelivery, super::unacknowledged_events_are_redelivered);

async fn groups_each_get_everything_members_share(bus: Arc<dyn Bus>) {
    let mut a = bus.subscribe("group-a", &["m.>"]).await.unwrap();
    let b1 = bus.subscribe("group-b", &["m.>"]).await.unwrap();
    let b2 = bus.subscribe("group-b", &["m.>"]).await.unwrap();
    for i in 0..10 {
        bus.publish(&ev("m.x", i)).await.unwrap();
    }
    let mut got_a = HashSet::new();
    while let Some(d) = next(&mut a, Duration::from_millis(1500)).await {
        got_a.insert(d.event.data["n"].as_i64().unwrap());
        d.acker.ack().await.unwrap();
    }
    assert_eq!(got_a.len(), 10, "group a gets all");
    // Two members of one group consuming at the same time, acknowledging as they go.
    let drain = |mut sub: Box<dyn Subscription>| {
        tokio::spawn(async move {
            let mut got = Vec::new();
            while let Some(d) = next(&mut sub, Duration::from_millis(1500)).await {
                got.push(d.event.data["n"].as_i64().unwrap());
                d.acker.ack().await.unwrap();
            }
            got
        })
    };
    let (x, y) = tokio::join!(drain(b1), drain(b2));
    let mut got_b: Vec<i64> = x.unwrap().into_iter().chain(y.unwrap()).collect();
    got_b.sort_unstable();
    assert_eq!(
        got_b,
        (0..10).collect::<Vec<_>>(),
        "group b's members share, each event once"
    );
}
bus_conformance!(groups, super::groups_each_get_everything_members_share);

#[test]
fn subject_filters() {
    assert!(subject_matches("a.*", "a.b"));
    assert!(!subject_matches("a.*", "a.b.c"));
    assert!(subject_matches("a.>", "a.b.c"));
    assert!(!subject_matches("a.>", "a"));
    assert!(subject_matches(
        "notify.message.requested",
        "notify.message.requested"
    ));
    assert!(!subject_matches(
        "notify.message.requested",
        "notify.message.status"
    ));
}

/// Counts effects in the consumer's own database.
struct CountingHandler;

#[async_trait]
impl Handler for CountingHandler {
    async fn handle(
        &self,
        event: &Event,
        tx: &mut Tx,
        _after: &mut AfterCommit,
    ) -> Result<(), HandleError> {
        if event.data.get("bad").is_some() {
            return Err(HandleError::Reject(anyhow::anyhow!("bad payload")));
        }
        sqlx::query("INSERT INTO effects (event_id) VALUES ($1)")
            .bind(&event.id)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
}

const EFFECTS: &[kreki_platform::storage::Migration] = &[kreki_platform::storage::Migration {
    version: 1,
    name: "effects",
    sqlite: "CREATE TABLE effects (event_id TEXT NOT NULL);",
    postgres: "CREATE TABLE effects (event_id TEXT NOT NULL);",
}];

async fn count(db: &Db, sql: &str) -> i64 {
    use sqlx::Row;
    sqlx::query(sql).fetch_one(db.pool()).await.unwrap().get(0)
}

/// Outbox → relay → bus → consumer with duplicates on the way: every event has its effect
/// exactly once, a rejected one is recorded and not retried.
async fn outbox_to_consumer_exactly_once(bus: Arc<dyn Bus>) {
    let (producer, _g1) = testkit::sqlite_db("producer", &[]).await;
    let (consumer_db, _g2) = testkit::sqlite_db("consumer", EFFECTS).await;
    let cancel = CancellationToken::new();
    let relay = Relay::new(producer.clone(), bus.clone());
    tokio::spawn(relay.run(cancel.clone()));
    let consumer = Consumer {
        service: "test",
        group: "effects".into(),
        subjects: vec!["x.>".into()],
        db: consumer_db.clone(),
        bus: bus.clone(),
        metrics: Arc::new(Metrics::new()),
        health: None,
    };
    tokio::spawn(consumer.run(Arc::new(CountingHandler), cancel.clone()));
    let mut events = Vec::new();
    for i in 0..20 {
        let e = ev("x.y", i);
        let mut tx = producer.begin().await.unwrap();
        outbox::enqueue(&mut tx, &e).await.unwrap();
        tx.commit().await.unwrap();
        events.push(e);
    }
    // Duplicates from a crashed relay or a replaying producer.
    for e in events.iter().take(5) {
        bus.publish(e).await.unwrap();
    }
    let bad = Event::new("test", "x.bad", &serde_json::json!({"bad": true})).unwrap();
    bus.publish(&bad).await.unwrap();
    testkit::eventually("20 effects", Duration::from_secs(15), || {
        let db = consumer_db.clone();
        async move { count(&db, "SELECT COUNT(*) FROM effects").await == 20 }
    })
    .await;
    testkit::eventually("rejection recorded", Duration::from_secs(10), || {
        let db = consumer_db.clone();
        async move {
            count(
                &db,
                "SELECT COUNT(*) FROM inbox WHERE outcome LIKE 'rejected%'",
            )
            .await
                == 1
        }
    })
    .await;
    tokio::time::sleep(ACK_WAIT * 2).await;
    assert_eq!(
        count(&consumer_db, "SELECT COUNT(*) FROM effects").await,
        20
    );
    assert_eq!(
        count(&consumer_db, "SELECT COUNT(DISTINCT event_id) FROM effects").await,
        20
    );
    assert_eq!(outbox::pending(&producer).await.unwrap(), 0);
    cancel.cancel();
}
bus_conformance!(exactly_once, super::outbox_to_consumer_exactly_once);

/// Committing a transaction that wrote an event wakes the relay: with polling off (an hour),
/// the event is published within seconds and nobody pokes the relay. A rolled-back event
/// is never published, and a commit without events leaves the relay asleep.
async fn commit_with_events_wakes_the_relay(bus: Arc<dyn Bus>) {
    let (producer, _g) = testkit::sqlite_db("producer", &[]).await;
    let cancel = CancellationToken::new();
    let relay = Relay::new(producer.clone(), bus.clone()).poll_every(Duration::from_secs(3600));
    let state = relay.state.clone();
    tokio::spawn(relay.run(cancel.clone()));
    let relayed = |n: i64| {
        let state = state.clone();
        move || {
            let state = state.clone();
            async move { state.relayed.load(std::sync::atomic::Ordering::Relaxed) == n }
        }
    };
    let mut sub = bus.subscribe("wake", &["w.>"]).await.unwrap();
    // Once the first pass has run (it may or may not find the first event), each later
    // event can only go out because its commit woke the relay.
    for i in 0..3 {
        let e = ev("w.committed", i);
        let mut tx = producer.begin().await.unwrap();
        assert!(!tx.wrote_events());
        outbox::enqueue(&mut tx, &e).await.unwrap();
        assert!(tx.wrote_events());
        tx.commit().await.unwrap();
        testkit::eventually(
            "committed event relayed",
            Duration::from_secs(5),
            relayed(i + 1),
        )
        .await;
        let got = next(&mut sub, Duration::from_secs(5))
            .await
            .expect("delivered");
        assert_eq!(got.event.id, e.id);
        got.acker.ack().await.unwrap();
    }
    // Rolled back: never in the outbox, never published.
    let mut tx = producer.begin().await.unwrap();
    outbox::enqueue(&mut tx, &ev("w.rolled_back", 9))
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    // Dropped without commit: the same.
    let mut tx = producer.begin().await.unwrap();
    outbox::enqueue(&mut tx, &ev("w.dropped", 10))
        .await
        .unwrap();
    drop(tx);
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(state.relayed.load(std::sync::atomic::Ordering::Relaxed), 3);
    assert_eq!(outbox::pending(&producer).await.unwrap(), 0);
    assert!(
        next(&mut sub, Duration::from_millis(300)).await.is_none(),
        "nothing else published"
    );
    cancel.cancel();
}
bus_conformance!(
    commit_wakes_relay,
    super::commit_with_events_wakes_the_relay
);
