//! Notify: the queue and the sender on both engines (lanes, priority, dedup, retries,
//! 429, expiry, fallback, receipts, acknowledgements, the directory), and every channel
//! adapter against a local fake that speaks its provider's wire format, checked with
//! implementations we did not write (PyPI `http-ece` + PyJWT for Web Push, `aiosmtpd` for
//! SMTP, `jsonwebtoken` for the FCM assertion).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    collections::VecDeque,
    process::Stdio,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use async_trait::async_trait;
use axum::{body::Bytes, http::HeaderMap, response::IntoResponse};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use kreki_identity_contracts::AccountChanged;
use kreki_notify::{
    channel::{
        Address, Channel, Outgoing, SendError, Sent, email::EmailChannel, fcm::FcmChannel,
        fcm::ServiceAccount, sms::SmsChannel, webpush::Vapid, webpush::WebPushChannel, whatsapp,
    },
    planner::Available,
    store::{Enqueued, Outcome, Store},
    worker::{Lanes, Next, Senders, Settings, Worker},
};
use kreki_notify_contracts::{
    Attachment, Channel as ChannelKind, Language, MessageRequested, Priority, Template,
};
use kreki_platform::{storage::Db, storage_conformance, testkit};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use sqlx::Row;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

#[path = "notify/app.rs"]
mod app;
#[path = "notify/attacks.rs"]
mod attacks;
#[path = "notify/structure.rs"]
mod structure;

// ---- helpers ---------------------------------------------------------------------------

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

const CONSOLE: Available = Available {
    push: false,
    whatsapp: false,
    sms: false,
    email: false,
    console: true,
};

async fn enqueue(
    db: &Db,
    req: &MessageRequested,
    expires: Option<i64>,
    available: Available,
) -> Enqueued {
    // Lanes of no running worker: everything waits in the queue for a lane to claim it.
    let detached = Lanes::new(&Store::new(db.clone()));
    let mut tx = db.begin().await.unwrap();
    let (r, _) = kreki_notify::queue(&mut tx, req, expires, available, &detached)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    r
}

async fn account(db: &Db, id: &str, phone: Option<&str>, email: Option<&str>, version: i64) {
    let mut tx = db.begin().await.unwrap();
    Store::upsert_recipient(
        &mut tx,
        &AccountChanged {
            account_id: id.into(),
            member_number: "12345678".into(),
            roles: vec![],
            email: email.map(str::to_string),
            phone: phone.map(str::to_string),
            language: "en".into(),
            notification_channels: vec![],
            version,
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

/// A channel that records what it is given and answers from a script (then `Ok`).
#[derive(Clone)]
struct Recording {
    kind: ChannelKind,
    sent: Arc<Mutex<Vec<(Outgoing, Instant)>>>,
    script: Arc<Mutex<VecDeque<Result<Sent, SendError>>>>,
    delay: Duration,
    /// While set, every send fails as a provider outage would.
    down: Arc<std::sync::atomic::AtomicBool>,
}

impl Recording {
    fn new(kind: ChannelKind) -> Self {
        Self {
            kind,
            sent: Arc::default(),
            script: Arc::default(),
            delay: Duration::ZERO,
            down: Arc::default(),
        }
    }
    fn then(self, r: Result<Sent, SendError>) -> Self {
        self.script.lock().unwrap().push_back(r);
        self
    }
    fn ids(&self) -> Vec<String> {
        self.sent
            .lock()
            .unwrap()
            .iter()
            .map(|(o, _)| o.id.clone())
            .collect()
    }
}

#[async_trait]
impl Channel for Recording {
    fn kind(&self) -> ChannelKind {
        self.kind
    }
    async fn send(&self, m: &Outgoing) -> Result<Sent, SendError> {
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        if self.down.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(SendError::Transient("connection refused".into()));
        }
        let scripted = self.script.lock().unwrap().pop_front();
        let r = scripted.unwrap_or_else(|| Ok(Sent::with_ref(format!("ref-{}", m.reference))));
        if r.is_ok() {
            self.sent.lock().unwrap().push((m.clone(), Instant::now()));
        }
        r
    }
}

fn worker(db: &Db, senders: Senders, fallback: Duration) -> (Worker, CancellationToken) {
    worker_with(
        db,
        senders,
        Settings {
            fallback_after: fallback,
            ..Settings::default()
        },
    )
}

fn worker_with(db: &Db, senders: Senders, settings: Settings) -> (Worker, CancellationToken) {
    let store = Store::new(db.clone());
    let w = Worker {
        lanes: Lanes::new(&store),
        store,
        senders,
        settings: Arc::new(settings),
        metrics: None,
    };
    let cancel = CancellationToken::new();
    tokio::spawn(w.clone().run(cancel.clone()));
    (w, cancel)
}

async fn status(store: &Store, id: &str) -> String {
    store
        .get(id)
        .await
        .unwrap()
        .map(|v| v.status)
        .unwrap_or_default()
}

async fn wait_status(store: &Store, id: &str, want: &str, within: Duration) {
    let what = format!("message {id} is {want}");
    testkit::eventually(&what, within, || {
        let store = store.clone();
        let id = id.to_string();
        let want = want.to_string();
        async move { status(&store, &id).await == want }
    })
    .await;
}

// ---- the queue --------------------------------------------------------------------------

async fn lanes_dedup_priority_and_plans(db: Db) {
    let store = Store::new(db.clone());
    for i in 0..5 {
        let r = request(&format!("low-{i}"), &format!("l{i}"), Priority::Low);
        assert_eq!(enqueue(&db, &r, None, CONSOLE).await, Enqueued::New);
    }
    assert_eq!(
        enqueue(
            &db,
            &request("crit", "offer-1", Priority::Critical),
            None,
            CONSOLE
        )
        .await,
        Enqueued::New
    );
    assert_eq!(
        enqueue(
            &db,
            &request("crit-again", "offer-1", Priority::Critical),
            None,
            CONSOLE
        )
        .await,
        Enqueued::Duplicate {
            existing_id: "crit".into()
        },
        "same dedup key is one message"
    );
    assert_eq!(store.backlog().await.unwrap(), 6);
    assert!(
        store.claim(ChannelKind::Sms, 10).await.unwrap().is_empty(),
        "other lane"
    );
    let first = store.claim(ChannelKind::Console, 2).await.unwrap();
    assert_eq!(first[0].id, "crit", "critical overtakes the backlog");
    assert_eq!(
        first[0].attempts, 1,
        "the attempt is recorded before sending"
    );
    let delivery: String = sqlx::query("SELECT status FROM deliveries WHERE id = $1")
        .bind("crit.0")
        .fetch_one(db.pool())
        .await
        .unwrap()
        .get(0);
    assert_eq!(delivery, "sending");
    // Claimed messages are leased: not handed out again.
    let rest = store.claim(ChannelKind::Console, 10).await.unwrap();
    assert_eq!(rest.len(), 4);
    assert!(rest.iter().all(|m| m.id != "crit" && m.id != first[1].id));
    assert!(
        store
            .claim(ChannelKind::Console, 10)
            .await
            .unwrap()
            .is_empty()
    );

    // Nothing reaches an unknown account without the console: failed at once, reported.
    let none = Available {
        console: false,
        sms: true,
        ..CONSOLE
    };
    enqueue(
        &db,
        &request("nowhere", "k-nowhere", Priority::High),
        None,
        none,
    )
    .await;
    assert_eq!(status(&store, "nowhere").await, "failed");
    // Opted out of everything: a normal message is suppressed, a critical one is not.
    store
        .set_preferences(
            "acct-1",
            &kreki_notify::store::Preferences {
                opt_out: vec!["all".into()],
                utc_offset_min: 420,
                quiet: None,
            },
        )
        .await
        .unwrap();
    enqueue(
        &db,
        &request("quiet", "k-quiet", Priority::Normal),
        None,
        CONSOLE,
    )
    .await;
    assert_eq!(status(&store, "quiet").await, "suppressed");
    enqueue(
        &db,
        &request("loud", "k-loud", Priority::Critical),
        None,
        CONSOLE,
    )
    .await;
    assert_eq!(status(&store, "loud").await, "queued");
    let subjects: Vec<String> = sqlx::query("SELECT subject FROM outbox ORDER BY seq")
        .fetch_all(db.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(subjects, ["notify.message.status", "notify.message.status"]);
}
storage_conformance!(
    queue,
    "notify",
    kreki_notify::MIGRATIONS,
    super::lanes_dedup_priority_and_plans
);

async fn directory_follows_accounts(db: Db) {
    account(&db, "a1", Some("+6281100000002"), Some("a@x.id"), 2).await;
    account(&db, "a1", Some("+6289999999999"), None, 1).await; // older: ignored
    let mut conn = db.pool().acquire().await.unwrap();
    let info = Store::recipient_info(&mut conn, "a1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(info.addresses.phone.as_deref(), Some("+6281100000002"));
    assert_eq!(info.language, Some(Language::En));
    drop(conn);
    let store = Store::new(db.clone());
    store
        .add_push_target(
            "a1",
            "webpush",
            "https://push.example/1",
            Some("k"),
            Some("a"),
        )
        .await
        .unwrap();
    let again = store
        .add_push_target(
            "a1",
            "webpush",
            "https://push.example/1",
            Some("k2"),
            Some("a2"),
        )
        .await
        .unwrap();
    assert_eq!(
        store.push_targets("a1").await.unwrap().len(),
        1,
        "same endpoint once"
    );
    assert_eq!(store.push_targets("a1").await.unwrap()[0].id, again);
    let mut tx = db.begin().await.unwrap();
    Store::erase_recipient(&mut tx, "a1").await.unwrap();
    tx.commit().await.unwrap();
    let mut conn = db.pool().acquire().await.unwrap();
    assert!(
        Store::recipient_info(&mut conn, "a1")
            .await
            .unwrap()
            .is_none()
    );
}
storage_conformance!(
    directory,
    "notify",
    kreki_notify::MIGRATIONS,
    super::directory_follows_accounts
);

// ---- the sender -------------------------------------------------------------------------

async fn retries_expiry_and_rate_limits(db: Db) {
    let store = Store::new(db.clone());
    let console = Recording::new(ChannelKind::Console)
        .then(Err(SendError::Transient("provider down".into())))
        .then(Err(SendError::RateLimited {
            detail: "429".into(),
            retry_after: Duration::from_millis(300),
        }));
    let (_w, cancel) = worker(
        &db,
        Senders {
            console: Some(Arc::new(console.clone())),
            ..Default::default()
        },
        Duration::from_secs(60),
    );
    let mut en = request("m-en", "k-en", Priority::High);
    en.language = Some(Language::En);
    enqueue(&db, &en, None, CONSOLE).await;
    enqueue(
        &db,
        &request("m-old", "k-old", Priority::Critical),
        Some(1),
        CONSOLE,
    )
    .await;
    wait_status(&store, "m-en", "sent", Duration::from_secs(10)).await;
    let (m, _) = console.sent.lock().unwrap()[0].clone();
    assert_eq!(m.id, "m-en");
    assert_eq!(m.to, Address::Text("account:acct-1".into()));
    assert!(m.body.contains("alerts reach your device"), "{}", m.body);
    let view = store.get("m-en").await.unwrap().unwrap();
    assert_eq!(view.attempts, 3);
    let states: Vec<&str> = view.history.iter().map(|h| h.status.as_str()).collect();
    assert_eq!(states, ["queued", "retry", "retry", "sent"]);
    wait_status(&store, "m-old", "expired", Duration::from_secs(5)).await;
    cancel.cancel();
}
storage_conformance!(
    retries,
    "notify",
    kreki_notify::MIGRATIONS,
    super::retries_expiry_and_rate_limits
);

async fn an_outage_holds_the_queue_in_priority_order(db: Db) {
    let store = Store::new(db.clone());
    let sms = Recording::new(ChannelKind::Sms);
    sms.down.store(true, std::sync::atomic::Ordering::SeqCst);
    let senders = Senders {
        sms: Some(Arc::new(sms.clone())),
        ..Default::default()
    };
    let available = senders.available();
    let mut limits = std::collections::HashMap::new();
    limits.insert(
        ChannelKind::Sms,
        kreki_notify::config::Limits {
            concurrency: 1,
            per_second: 0.0,
        },
    );
    let (_w, cancel) = worker_with(
        &db,
        senders,
        Settings {
            max_attempts: 2,
            limits,
            ..Settings::default()
        },
    );
    let to_phone = |mut r: MessageRequested| {
        r.recipient_id = None;
        r.address = Some("+6281234567890".into());
        r.channels = vec![ChannelKind::Sms];
        r
    };
    let normal = |i: usize| {
        to_phone(request(
            &format!("n{i}"),
            &format!("kn{i}"),
            Priority::Normal,
        ))
    };
    enqueue(&db, &normal(0), None, available).await;
    // The gateway stays down for more than `max_attempts` tries of the first message.
    tokio::time::sleep(Duration::from_millis(1_900)).await;
    for i in 1..4 {
        enqueue(&db, &normal(i), None, available).await;
    }
    let c = to_phone(request("c", "kc", Priority::Critical));
    enqueue(&db, &c, None, available).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let tried = store.get("n0").await.unwrap().unwrap().attempts;
    assert!(
        tried > 2,
        "retried past max_attempts on its last channel: {tried}"
    );
    assert!(sms.ids().is_empty());
    for id in ["n0", "n1", "n2", "n3", "c"] {
        let s = status(&store, id).await;
        assert!(
            s == "queued" || s == "sending",
            "{id} is {s}: the queue holds it"
        );
    }
    sms.down.store(false, std::sync::atomic::Ordering::SeqCst);
    testkit::eventually("all sent after the outage", Duration::from_secs(15), || {
        let sms = sms.clone();
        async move { sms.ids().len() == 5 }
    })
    .await;
    let ids = sms.ids();
    assert_eq!(
        ids[0], "c",
        "the critical message goes first after the outage: {ids:?}"
    );
    let mut rest = ids[1..].to_vec();
    rest.sort();
    assert_eq!(
        rest,
        ["n0", "n1", "n2", "n3"],
        "then the normal ones, none lost"
    );
    cancel.cancel();
}
storage_conformance!(
    outage,
    "notify",
    kreki_notify::MIGRATIONS,
    super::an_outage_holds_the_queue_in_priority_order
);

async fn fallback_receipts_and_acknowledgements(db: Db) {
    let store = Store::new(db.clone());
    account(&db, "vol-1", Some("+6281100000002"), None, 1).await;
    store
        .add_push_target(
            "vol-1",
            "webpush",
            "https://push.example/v1",
            Some("p"),
            Some("a"),
        )
        .await
        .unwrap();
    let push = Recording::new(ChannelKind::Push);
    let sms = Recording::new(ChannelKind::Sms);
    let senders = Senders {
        webpush: Some(Arc::new(push.clone())),
        sms: Some(Arc::new(sms.clone())),
        ..Default::default()
    };
    let available = senders.available();
    let (_w, cancel) = worker(&db, senders, Duration::from_millis(300));
    let offer = |id: &str| {
        let mut r = request(id, &format!("offer-{id}"), Priority::Critical);
        r.recipient_id = Some("vol-1".into());
        r.template = Template::DispatchOffer;
        r.vars.insert("case_type".into(), "cardiac_arrest".into());
        r.vars.insert("distance_m".into(), 420.into());
        r.vars
            .insert("link".into(), "https://k.example/relawan/".into());
        r
    };
    // 1. Push sent, no receipt: after the fallback time the SMS goes out.
    enqueue(&db, &offer("o1"), None, available).await;
    testkit::eventually("SMS fallback", Duration::from_secs(5), || {
        let sms = sms.clone();
        async move { sms.ids().contains(&"o1".to_string()) }
    })
    .await;
    let (first_push, pushed_at) = push.sent.lock().unwrap()[0].clone();
    let (sent_sms, sms_at) = sms.sent.lock().unwrap()[0].clone();
    assert!(
        sms_at.duration_since(pushed_at) >= Duration::from_millis(250),
        "waited for a receipt"
    );
    assert_eq!(first_push.reference, "o1.0");
    assert_eq!(sent_sms.reference, "o1.1");
    assert_eq!(sent_sms.to, Address::Text("+6281100000002".into()));
    assert!(
        sent_sms
            .sms
            .starts_with("KREKI EMERGENCY Cardiac arrest 420 m"),
        "{}",
        sent_sms.sms
    );
    // The gateway's receipt ends it as delivered.
    wait_status(&store, "o1", "sent", Duration::from_secs(5)).await;
    let r = store
        .receipt(ChannelKind::Sms, "ref-o1.1", "delivered", None)
        .await
        .unwrap();
    assert_eq!(r, Some(None));
    assert_eq!(status(&store, "o1").await, "delivered");
    let again = store
        .receipt(ChannelKind::Sms, "ref-o1.1", "delivered", None)
        .await
        .unwrap();
    assert_eq!(again, Some(None), "a repeated receipt changes nothing");
    assert_eq!(
        store
            .receipt(ChannelKind::Sms, "nope", "delivered", None)
            .await
            .unwrap(),
        None
    );

    // 2. The app acknowledges the push: no SMS.
    enqueue(&db, &offer("o2"), None, available).await;
    wait_status(&store, "o2", "sent", Duration::from_secs(5)).await;
    assert!(!store.acknowledge("o2", "someone-else").await.unwrap());
    assert!(store.acknowledge("o2", "vol-1").await.unwrap());
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(!sms.ids().contains(&"o2".to_string()));
    assert_eq!(status(&store, "o2").await, "delivered");

    // 3. A permanent push failure goes to SMS at once; a gone subscription is removed.
    push.script
        .lock()
        .unwrap()
        .push_back(Err(SendError::Gone("410".into())));
    enqueue(&db, &offer("o3"), None, available).await;
    testkit::eventually(
        "SMS after a gone subscription",
        Duration::from_secs(5),
        || {
            let sms = sms.clone();
            async move { sms.ids().contains(&"o3".to_string()) }
        },
    )
    .await;
    assert!(store.push_targets("vol-1").await.unwrap().is_empty());
    let view = store.get("o3").await.unwrap().unwrap();
    assert_eq!(view.plan, ["push", "sms"]);
    assert_eq!(view.deliveries.len(), 2);
    assert_eq!(view.deliveries[0].status, "failed");
    // 4. A failed SMS receipt with nothing left: failed.
    wait_status(&store, "o3", "sent", Duration::from_secs(5)).await;
    let r = store
        .receipt(
            ChannelKind::Sms,
            "ref-o3.1",
            "failed",
            Some("absent subscriber"),
        )
        .await
        .unwrap();
    assert_eq!(r, Some(None));
    assert_eq!(status(&store, "o3").await, "failed");
    cancel.cancel();
}
storage_conformance!(
    fallback,
    "notify",
    kreki_notify::MIGRATIONS,
    super::fallback_receipts_and_acknowledgements
);

async fn critical_overtakes_an_email_flood(db: Db) {
    let store = Store::new(db.clone());
    account(&db, "vol-1", None, Some("v@x.id"), 1).await;
    store
        .add_push_target(
            "vol-1",
            "webpush",
            "https://push.example/v1",
            Some("p"),
            Some("a"),
        )
        .await
        .unwrap();
    let mut email = Recording::new(ChannelKind::Email);
    email.delay = Duration::from_millis(20);
    let push = Recording::new(ChannelKind::Push);
    let senders = Senders {
        webpush: Some(Arc::new(push.clone())),
        email: Some(Arc::new(email.clone())),
        ..Default::default()
    };
    let available = senders.available();
    let mut tx = db.begin().await.unwrap();
    for i in 0..1_000 {
        let mut r = request(&format!("cert-{i}"), &format!("cert-{i}"), Priority::Normal);
        r.recipient_id = Some("vol-1".into());
        r.template = Template::CertificateIssued;
        for v in ["name", "certificate_id", "link"] {
            r.vars.insert(v.into(), "x".into());
        }
        kreki_notify::queue(&mut tx, &r, None, available, &Lanes::new(&store))
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    let (_w, cancel) = worker(&db, senders, Duration::from_secs(60));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut offer = request("alert", "offer-x", Priority::Critical);
    offer.recipient_id = Some("vol-1".into());
    let t0 = Instant::now();
    enqueue(&db, &offer, None, available).await;
    testkit::eventually("the alert is sent", Duration::from_secs(5), || {
        let push = push.clone();
        async move { !push.ids().is_empty() }
    })
    .await;
    let took = push.sent.lock().unwrap()[0].1.duration_since(t0);
    assert!(
        took < Duration::from_millis(500),
        "alert took {took:?} behind the e-mails"
    );
    assert!(
        store.backlog().await.unwrap() > 500,
        "the e-mails are still queued"
    );
    cancel.cancel();
}
storage_conformance!(
    overtakes,
    "notify",
    kreki_notify::MIGRATIONS,
    super::critical_overtakes_an_email_flood
);

/// A critical message is leased to the running lane in the transaction that queues it and
/// handed over in memory after the commit; one whose hand-over never happened (the process
/// died right after the commit) comes back when its lease runs out. Normal messages, and
/// critical ones for a lane that does not run here, wait in the queue.
async fn critical_messages_go_to_their_lane_in_memory(db: Db) {
    let store = Store::with_lease(db.clone(), Duration::from_millis(400));
    account(&db, "acct-1", Some("+6281100000003"), None, 1).await;
    let subscribe = || async {
        store
            .add_push_target(
                "acct-1",
                "webpush",
                "https://push.example/a1",
                Some("p"),
                Some("a"),
            )
            .await
            .unwrap()
    };
    subscribe().await;
    let push = Recording::new(ChannelKind::Push);
    let senders = Senders {
        webpush: Some(Arc::new(push.clone())),
        ..Default::default()
    };
    let available = senders.available();
    let lanes = Lanes::new(&store);
    assert!(!lanes.takes(ChannelKind::Push), "no lane runs yet");
    let w = Worker {
        store: store.clone(),
        senders,
        lanes: lanes.clone(),
        settings: Arc::new(Settings {
            fallback_after: Duration::from_millis(400),
            ..Settings::default()
        }),
        metrics: None,
    };
    let cancel = CancellationToken::new();
    tokio::spawn(w.run(cancel.clone()));
    testkit::eventually("the push lane runs", Duration::from_secs(5), || {
        let lanes = lanes.clone();
        async move { lanes.takes(ChannelKind::Push) }
    })
    .await;
    assert!(!lanes.takes(ChannelKind::Sms), "no SMS lane here");
    let queue = |req: MessageRequested| {
        let db = db.clone();
        let lanes = lanes.clone();
        async move {
            let mut tx = db.begin().await.unwrap();
            let (_, next) = kreki_notify::queue(&mut tx, &req, None, available, &lanes)
                .await
                .unwrap();
            tx.commit().await.unwrap();
            next
        }
    };

    let next = queue(request("c1", "kc1", Priority::Critical)).await;
    let Next::Express(m) = &next else {
        panic!("{next:?}")
    };
    let known = m
        .addresses
        .as_ref()
        .expect("addresses read in the transaction");
    assert_eq!(known.push.len(), 1);
    assert_eq!(known.phone.as_deref(), Some("+6281100000003"));
    assert_eq!(
        status(&store, "c1").await,
        "sending",
        "leased in the queueing transaction, before anything is sent"
    );
    // Sent to the subscription the queueing transaction read, without looking it up again
    // (gone from the directory in between: a lookup would find none).
    assert!(
        store
            .remove_push_target("acct-1", "https://push.example/a1")
            .await
            .unwrap()
    );
    let t0 = Instant::now();
    lanes.hand_over(next);
    wait_status(&store, "c1", "sent", Duration::from_secs(5)).await;
    let took = push.sent.lock().unwrap()[0].1.duration_since(t0);
    assert!(took < Duration::from_millis(200), "hand-over took {took:?}");
    subscribe().await;

    // Committed and leased, but the hand-over is lost (a crash right after the commit).
    let lost = queue(request("c2", "kc2", Priority::Critical)).await;
    assert!(matches!(lost, Next::Express(_)), "{lost:?}");
    drop(lost);
    wait_status(&store, "c2", "sent", Duration::from_secs(10)).await;
    assert_eq!(push.ids(), ["c1", "c2"], "each sent once");

    let normal = queue(request("n1", "kn1", Priority::Normal)).await;
    assert!(
        matches!(normal, Next::Wake(ChannelKind::Push)),
        "{normal:?}"
    );
    lanes.hand_over(normal);
    wait_status(&store, "n1", "sent", Duration::from_secs(5)).await;
    cancel.cancel();
}
storage_conformance!(
    express,
    "notify",
    kreki_notify::MIGRATIONS,
    super::critical_messages_go_to_their_lane_in_memory
);

// ---- fake provider endpoints --------------------------------------------------------------

#[derive(Clone, Debug)]
struct Seen {
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

/// Scripted answers of a fake: status, headers, body.
type Replies = Arc<Mutex<VecDeque<(u16, Vec<(&'static str, String)>, String)>>>;

#[derive(Clone)]
struct Fake {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    replies: Replies,
}

impl Fake {
    async fn start(default_status: u16, default_body: &'static str) -> Fake {
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let replies: Replies = Arc::default();
        let (s, r) = (seen.clone(), replies.clone());
        let app = axum::Router::new().fallback(
            move |uri: axum::http::Uri, headers: HeaderMap, body: Bytes| {
                let (s, r) = (s.clone(), r.clone());
                async move {
                    s.lock().unwrap().push(Seen {
                        path: uri.path().to_string(),
                        headers,
                        body,
                    });
                    let (status, hdrs, body) = r.lock().unwrap().pop_front().unwrap_or((
                        default_status,
                        vec![],
                        default_body.to_string(),
                    ));
                    let mut res =
                        (axum::http::StatusCode::from_u16(status).unwrap(), body).into_response();
                    for (k, v) in hdrs {
                        res.headers_mut().insert(k, v.parse().unwrap());
                    }
                    res
                }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Fake { url, seen, replies }
    }
    fn reply(&self, status: u16, headers: Vec<(&'static str, String)>, body: &str) {
        self.replies
            .lock()
            .unwrap()
            .push_back((status, headers, body.to_string()));
    }
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn outgoing(to: Address, template: Template, priority: Priority) -> Outgoing {
    let mut vars = serde_json::Map::new();
    for v in template.required_vars() {
        vars.insert((*v).to_string(), format!("v-{v}").into());
    }
    let r = kreki_notify::templates::render(template, Language::Id, &vars);
    Outgoing {
        id: "0193-msg".into(),
        reference: "0193-msg.0".into(),
        to,
        priority,
        template,
        language: Language::Id,
        vars,
        title: r.title,
        body: r.body,
        sms: r.sms,
        correlation_id: Some("case-9".into()),
        attachments: vec![],
        ttl: Duration::from_secs(20),
    }
}

fn python() -> Option<&'static str> {
    let ok = std::process::Command::new("python3")
        .args(["-c", "import http_ece, jwt, aiosmtpd"])
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        Some("python3")
    } else {
        testkit::server_missing(
            "python3 with the test peers (scripts/setup.sh installs tests/peers/requirements.txt)",
            &"import failed",
        )
        .map(|_| "python3")
    }
}

fn peer_path(name: &str) -> String {
    format!("{}/tests/peers/{name}", env!("CARGO_MANIFEST_DIR"))
}

// ---- Web Push -----------------------------------------------------------------------------

#[tokio::test]
async fn web_push_is_decrypted_and_its_vapid_jwt_verified_by_independent_libraries() {
    let Some(py) = python() else { return };
    let fake = Fake::start(201, "").await;
    fake.reply(201, vec![("location", format!("{}/m/1", fake.url))], "");
    let ua = p256::SecretKey::random(&mut rand::rngs::OsRng);
    let p256dh = B64.encode(ua.public_key().to_encoded_point(false).as_bytes());
    let auth = B64.encode(rand::random::<[u8; 16]>());
    let vapid = Vapid::from_pkcs8(
        &Vapid::generate().unwrap(),
        "mailto:ops@kreki.example".into(),
    )
    .unwrap();
    let public = vapid.public_key();
    // An explicit test policy: the fake push service is on loopback.
    let ch = WebPushChannel::new(
        vapid,
        Duration::from_secs(5),
        Arc::new(kreki_notify::endpoint::EndpointPolicy::new(&[], true)),
        Arc::new(kreki_notify::endpoint::SystemResolver),
    );
    let endpoint = format!("{}/wpush/v2/abc", fake.url);
    let m = outgoing(
        Address::WebPush {
            endpoint: endpoint.clone(),
            p256dh: p256dh.clone(),
            auth: auth.clone(),
        },
        Template::DispatchOffer,
        Priority::Critical,
    );
    let sent = ch.send(&m).await.unwrap();
    assert_eq!(sent.provider_ref, Some(format!("{}/m/1", fake.url)));
    let seen = fake.seen().pop().unwrap();
    assert_eq!(seen.path, "/wpush/v2/abc");
    let h = |k: &str| seen.headers.get(k).unwrap().to_str().unwrap().to_string();
    assert_eq!(h("content-encoding"), "aes128gcm");
    assert_eq!(h("ttl"), "20");
    assert_eq!(h("urgency"), "high");
    assert!(h("topic").len() <= 32);
    let input = serde_json::json!({
        "body_b64": B64.encode(&seen.body),
        "ua_private_d_b64": B64.encode(ua.to_bytes()),
        "auth_b64": auth,
        "authorization": h("authorization"),
        "origin": fake.url,
    });
    let mut child = tokio::process::Command::new(py)
        .arg(peer_path("webpush_check.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .await
        .unwrap();
    let out = child.wait_with_output().await.unwrap();
    assert!(
        out.status.success(),
        "peer: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let checked: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let payload: serde_json::Value =
        serde_json::from_str(checked["plaintext"].as_str().unwrap()).unwrap();
    assert_eq!(payload["id"], "0193-msg");
    assert_eq!(payload["correlation_id"], "case-9");
    assert_eq!(payload["title"], "DARURAT: v-case_type");
    assert_eq!(checked["claims"]["sub"], "mailto:ops@kreki.example");
    assert_eq!(checked["k"], public);

    // Expired subscription, throttling, server trouble.
    fake.reply(410, vec![], "gone");
    assert!(matches!(ch.send(&m).await, Err(SendError::Gone(_))));
    fake.reply(429, vec![("retry-after", "7".into())], "slow down");
    assert_eq!(
        ch.send(&m).await,
        Err(SendError::RateLimited {
            detail: "HTTP 429: slow down".into(),
            retry_after: Duration::from_secs(7)
        })
    );
    fake.reply(503, vec![], "");
    assert!(matches!(ch.send(&m).await, Err(SendError::Transient(_))));
    // A broken subscription key never reaches the network.
    let bad = Outgoing {
        to: Address::WebPush {
            endpoint,
            p256dh: "AAAA".into(),
            auth,
        },
        ..m.clone()
    };
    let before = fake.seen().len();
    assert!(matches!(ch.send(&bad).await, Err(SendError::Gone(_))));
    assert_eq!(fake.seen().len(), before);
}

// ---- e-mail -------------------------------------------------------------------------------

#[tokio::test]
async fn email_with_attachment_is_received_by_aiosmtpd() {
    let Some(py) = python() else { return };
    let dir = testkit::TempDir::new();
    let out = dir.0.join("mail.jsonl");
    let mut sink = tokio::process::Command::new(py)
        .arg(peer_path("smtp_sink.py"))
        .arg(&out)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(sink.stdout.take().unwrap()).lines();
    let ready = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let port: u16 = ready.strip_prefix("ready ").unwrap().parse().unwrap();
    let ch = EmailChannel::new(
        &format!("smtp://127.0.0.1:{port}"),
        None,
        None,
        "KREKI <noreply@kreki.example>",
        Duration::from_secs(5),
    )
    .unwrap();
    let pdf = b"%PDF-1.7 certificate".to_vec();
    let mut m = outgoing(
        Address::Text("budi@example.org".into()),
        Template::CertificateIssued,
        Priority::Normal,
    );
    m.attachments = vec![Attachment {
        filename: "BHD-BASIC-2026-0001.pdf".into(),
        content_type: "application/pdf".into(),
        content_base64: base64::engine::general_purpose::STANDARD.encode(&pdf),
    }];
    ch.send(&m).await.unwrap();
    let line = std::fs::read_to_string(&out).unwrap();
    let got: serde_json::Value = serde_json::from_str(line.lines().next().unwrap()).unwrap();
    assert_eq!(got["rcpt_tos"], serde_json::json!(["budi@example.org"]));
    assert_eq!(got["subject"], "Sertifikat BHD terbit");
    assert_eq!(got["message_id"], "<0193-msg.0@notify.kreki>");
    assert!(got["text"].as_str().unwrap().contains("v-certificate_id"));
    assert_eq!(got["attachments"][0]["filename"], "BHD-BASIC-2026-0001.pdf");
    assert_eq!(got["attachments"][0]["content_type"], "application/pdf");
    assert_eq!(
        got["attachments"][0]["sha256"],
        kreki_platform::types::sha256_hex(&pdf)
    );
    // An invalid address is permanent; a server that is gone is transient.
    let bad = outgoing(
        Address::Text("not an address".into()),
        Template::PasswordReset,
        Priority::High,
    );
    assert!(matches!(ch.send(&bad).await, Err(SendError::Permanent(_))));
    drop(sink.stdin.take());
    let _ = sink.wait().await;
    assert!(matches!(ch.send(&m).await, Err(SendError::Transient(_))));
}

// ---- SMS gateway ----------------------------------------------------------------------------

#[tokio::test]
async fn sms_gateway_requests_have_the_documented_shape() {
    let fake = Fake::start(202, r#"{"message_id":"gw-1"}"#).await;
    let ch = SmsChannel::new(
        &format!("{}/v1/messages", fake.url),
        "api-key-123",
        "KREKI",
        "https://kreki.example/api/notify/v1/receipts/sms".into(),
        vec!["+628".into()],
        Duration::from_secs(5),
    );
    let m = outgoing(
        Address::Text("0812-3456-7890".into()),
        Template::OtpCode,
        Priority::High,
    );
    assert_eq!(ch.send(&m).await.unwrap(), Sent::with_ref("gw-1"));
    let seen = fake.seen().pop().unwrap();
    assert_eq!(seen.path, "/v1/messages");
    assert_eq!(seen.headers["authorization"], "Bearer api-key-123");
    let body: serde_json::Value = serde_json::from_slice(&seen.body).unwrap();
    assert_eq!(body["to"], "+6281234567890");
    assert_eq!(body["from"], "KREKI");
    assert_eq!(body["reference"], "0193-msg.0");
    assert_eq!(body["encoding"], "GSM7");
    assert_eq!(body["segments"], 1);
    assert!(
        body["text"]
            .as_str()
            .unwrap()
            .starts_with("Kode KREKI Anda: v-code")
    );
    // The gateway already has this reference: our first attempt went through.
    fake.reply(409, vec![], r#"{"message_id":"gw-1"}"#);
    assert_eq!(ch.send(&m).await.unwrap(), Sent::with_ref("gw-1"));
    fake.reply(422, vec![], r#"{"error":"invalid number"}"#);
    assert!(matches!(ch.send(&m).await, Err(SendError::Permanent(_))));
    fake.reply(429, vec![("retry-after", "2".into())], "");
    assert!(matches!(
        ch.send(&m).await,
        Err(SendError::RateLimited { .. })
    ));
    let abroad = outgoing(
        Address::Text("+4915112345678".into()),
        Template::OtpCode,
        Priority::High,
    );
    assert!(matches!(
        ch.send(&abroad).await,
        Err(SendError::Permanent(_))
    ));
}

// ---- WhatsApp -----------------------------------------------------------------------------

#[tokio::test]
async fn whatsapp_template_messages_and_webhook_signatures() {
    let fake = Fake::start(
        200,
        r#"{"messaging_product":"whatsapp","contacts":[{"input":"6281234567890","wa_id":"6281234567890"}],"messages":[{"id":"wamid.HBgL"}]}"#,
    )
    .await;
    let ch = whatsapp::WhatsappChannel::new(
        &format!("{}/v21.0", fake.url),
        "1234567890",
        "tok",
        "kreki_",
        Duration::from_secs(5),
    );
    let m = outgoing(
        Address::Text("+6281234567890".into()),
        Template::OtpCode,
        Priority::High,
    );
    assert_eq!(ch.send(&m).await.unwrap(), Sent::with_ref("wamid.HBgL"));
    let seen = fake.seen().pop().unwrap();
    assert_eq!(seen.path, "/v21.0/1234567890/messages");
    assert_eq!(seen.headers["authorization"], "Bearer tok");
    let body: serde_json::Value = serde_json::from_slice(&seen.body).unwrap();
    assert_eq!(body["messaging_product"], "whatsapp");
    assert_eq!(body["to"], "6281234567890");
    assert_eq!(body["type"], "template");
    assert_eq!(body["template"]["name"], "kreki_otp_code");
    assert_eq!(body["template"]["language"]["code"], "id");
    assert_eq!(
        body["template"]["components"][0]["parameters"],
        serde_json::json!([{"type":"text","text":"v-code"},{"type":"text","text":"v-minutes"}])
    );
    fake.reply(
        400,
        vec![],
        r#"{"error":{"message":"(#131026) Message undeliverable","code":131026}}"#,
    );
    assert!(matches!(ch.send(&m).await, Err(SendError::Permanent(_))));
    fake.reply(
        400,
        vec![],
        r#"{"error":{"message":"rate limit","code":130429}}"#,
    );
    assert!(matches!(
        ch.send(&m).await,
        Err(SendError::RateLimited { .. })
    ));

    let hook = br#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"statuses":[{"id":"wamid.HBgL","status":"delivered","timestamp":"1700000000","recipient_id":"6281234567890"}]}}]}]}"#;
    let sig = {
        use hmac::{Hmac, Mac};
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"app-secret").unwrap();
        mac.update(hook);
        format!(
            "sha256={}",
            data_encoding::HEXLOWER.encode(&mac.finalize().into_bytes())
        )
    };
    assert!(whatsapp::signature_valid("app-secret", hook, Some(&sig)));
    assert!(!whatsapp::signature_valid("other", hook, Some(&sig)));
    assert!(!whatsapp::signature_valid("app-secret", b"{}", Some(&sig)));
    let parsed = whatsapp::statuses(&serde_json::from_slice(hook).unwrap()).unwrap();
    assert_eq!(parsed[0].id, "wamid.HBgL");
    assert_eq!(parsed[0].status, "delivered");
    assert!(whatsapp::statuses(&serde_json::json!({"object": "page"})).is_none());
}

// ---- FCM ----------------------------------------------------------------------------------

#[tokio::test]
async fn fcm_gets_a_service_account_token_and_sends_v1_messages() {
    let dir = testkit::TempDir::new();
    let key = dir.0.join("key.pem");
    let public = dir.0.join("pub.pem");
    let openssl = |args: &[&str]| {
        std::process::Command::new("openssl")
            .args(args)
            .status()
            .is_ok_and(|s| s.success())
    };
    if !openssl(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-out",
        key.to_str().unwrap(),
    ]) || !openssl(&[
        "pkey",
        "-in",
        key.to_str().unwrap(),
        "-pubout",
        "-out",
        public.to_str().unwrap(),
    ]) {
        testkit::server_missing("openssl (to make a throw-away RSA key)", &"failed");
        return;
    }
    let fake = Fake::start(200, r#"{"name":"projects/kreki-test/messages/0:1"}"#).await;
    fake.reply(
        200,
        vec![],
        r#"{"access_token":"ya29.first","expires_in":3599,"token_type":"Bearer"}"#,
    );
    let account = ServiceAccount {
        client_email: "notify@kreki-test.iam.gserviceaccount.com".into(),
        private_key: std::fs::read_to_string(&key).unwrap(),
        token_uri: format!("{}/token", fake.url),
    };
    let ch = FcmChannel::new(account, "kreki-test", &fake.url, Duration::from_secs(5)).unwrap();
    let m = outgoing(
        Address::Fcm("device-token-0123456789".into()),
        Template::DispatchOffer,
        Priority::Critical,
    );
    assert_eq!(
        ch.send(&m).await.unwrap(),
        Sent::with_ref("projects/kreki-test/messages/0:1")
    );
    let seen = fake.seen();
    assert_eq!(seen[0].path, "/token");
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&seen[0].body)
        .into_owned()
        .collect();
    assert_eq!(
        form[0],
        (
            "grant_type".into(),
            "urn:ietf:params:oauth:grant-type:jwt-bearer".into()
        )
    );
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&[format!("{}/token", fake.url)]);
    let claims = jsonwebtoken::decode::<serde_json::Value>(
        &form[1].1,
        &jsonwebtoken::DecodingKey::from_rsa_pem(&std::fs::read(&public).unwrap()).unwrap(),
        &validation,
    )
    .expect("the assertion verifies with the service account's public key")
    .claims;
    assert_eq!(claims["iss"], "notify@kreki-test.iam.gserviceaccount.com");
    assert_eq!(
        claims["scope"],
        "https://www.googleapis.com/auth/firebase.messaging"
    );
    assert_eq!(seen[1].path, "/v1/projects/kreki-test/messages:send");
    assert_eq!(seen[1].headers["authorization"], "Bearer ya29.first");
    let body: serde_json::Value = serde_json::from_slice(&seen[1].body).unwrap();
    assert_eq!(body["message"]["token"], "device-token-0123456789");
    assert_eq!(body["message"]["android"]["priority"], "high");
    assert_eq!(body["message"]["android"]["ttl"], "20s");
    assert_eq!(body["message"]["data"]["message_id"], "0193-msg");
    // The cached token is reused; a 401 gets one new token and one retry.
    fake.reply(401, vec![], r#"{"error":{"status":"UNAUTHENTICATED"}}"#);
    fake.reply(
        200,
        vec![],
        r#"{"access_token":"ya29.second","expires_in":3599}"#,
    );
    ch.send(&m).await.unwrap();
    let seen = fake.seen();
    assert_eq!(seen.len(), 5, "send, token, send");
    assert_eq!(seen[2].headers["authorization"], "Bearer ya29.first");
    assert_eq!(seen[3].path, "/token");
    assert_eq!(seen[4].headers["authorization"], "Bearer ya29.second");
    fake.reply(
        404,
        vec![],
        r#"{"error":{"status":"NOT_FOUND","details":[{"errorCode":"UNREGISTERED"}]}}"#,
    );
    assert!(matches!(ch.send(&m).await, Err(SendError::Gone(_))));
    fake.reply(400, vec![], r#"{"error":{"status":"INVALID_ARGUMENT"}}"#);
    assert!(matches!(ch.send(&m).await, Err(SendError::Permanent(_))));
}

// ---- outcome bookkeeping on both engines -----------------------------------------------

async fn outcomes_are_recorded(db: Db) {
    let store = Store::new(db.clone());
    enqueue(&db, &request("x", "kx", Priority::Normal), None, CONSOLE).await;
    let m = store
        .claim(ChannelKind::Console, 1)
        .await
        .unwrap()
        .remove(0);
    store
        .record(
            &m,
            &Outcome::Failed {
                detail: "permanent: bad".into(),
            },
            0,
        )
        .await
        .unwrap();
    assert_eq!(status(&store, "x").await, "failed");
    let (found, total) = store
        .search(&kreki_notify::store::Search {
            correlation_id: Some("case-1".into()),
            page: 1,
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!((found.len(), total), (1, 1));
    assert_eq!(found[0].recipient, "account:acct-1");
}
storage_conformance!(
    outcomes,
    "notify",
    kreki_notify::MIGRATIONS,
    super::outcomes_are_recorded
);

/// The OpenAPI document as served (the same snapshot `apps/kreki`'s contract test checks).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_document_matches_its_snapshot() {
    let (db, _guard) = testkit::sqlite_db("notify", kreki_notify::MIGRATIONS).await;
    let app = app::start(db, app::Start::new(serde_json::json!({}))).await;
    let doc: serde_json::Value = app
        .client
        .get(format!("{}/api/notify/v1/openapi.json", app.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    testkit::assert_json_snapshot(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi-notify.json"),
        &doc,
    );
    app.stop().await;
}

async fn stored_vars(db: &Db, id: &str) -> serde_json::Value {
    let v: String = sqlx::query("SELECT vars FROM messages WHERE id = $1")
        .bind(id)
        .fetch_one(db.pool())
        .await
        .unwrap()
        .get(0);
    serde_json::from_str(&v).unwrap()
}

/// A code sent by SMS with WhatsApp after it keeps its secret while a failed receipt may
/// still move it on; then the sweep blanks it, and a receipt after that does not send a
/// blank code on the next channel. Without a next channel it is blanked when sent.
async fn secrets_are_kept_only_while_the_message_may_move_on(db: Db) {
    let sms_wa = Available {
        push: false,
        whatsapp: true,
        sms: true,
        email: false,
        console: false,
    };
    let otp = |id: &str, channels: Vec<ChannelKind>| MessageRequested {
        id: id.into(),
        dedup_key: id.into(),
        recipient_id: None,
        address: Some("+6281234567890".into()),
        template: Template::OtpCode,
        vars: serde_json::json!({"code": "731904", "minutes": 5})
            .as_object()
            .unwrap()
            .clone(),
        language: None,
        priority: Priority::High,
        channels,
        expires_at: None,
        correlation_id: None,
        attachments: Vec::new(),
    };
    let sent = |r: &str| Outcome::Sent {
        provider_ref: Some(r.into()),
        delivered: false,
    };
    let store = Store::new(db.clone()).keeping_secrets(Duration::ZERO);

    enqueue(&db, &otp("only-sms", vec![ChannelKind::Sms]), None, sms_wa).await;
    let m = store.claim(ChannelKind::Sms, 1).await.unwrap().remove(0);
    store.record(&m, &sent("gw-0"), 0).await.unwrap();
    assert_eq!(
        stored_vars(&db, "only-sms").await["code"],
        "",
        "nothing left to try"
    );
    assert_eq!(stored_vars(&db, "only-sms").await["minutes"], 5);

    enqueue(
        &db,
        &otp("sms-then-wa", vec![ChannelKind::Sms, ChannelKind::Whatsapp]),
        None,
        sms_wa,
    )
    .await;
    let m = store.claim(ChannelKind::Sms, 1).await.unwrap().remove(0);
    store.record(&m, &sent("gw-1"), 0).await.unwrap();
    assert_eq!(
        stored_vars(&db, "sms-then-wa").await["code"],
        "731904",
        "a failed receipt may still move it on"
    );
    // (a receipt within the time moves it on with its code: the fallback tests show that)
    assert_eq!(store.blank_kept_secrets(10).await.unwrap(), 1);
    assert_eq!(stored_vars(&db, "sms-then-wa").await["code"], "");
    store
        .receipt(ChannelKind::Sms, "gw-1", "undeliverable", None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status(&store, "sms-then-wa").await, "failed");
    let view = store.get("sms-then-wa").await.unwrap().unwrap();
    assert!(
        view.history.iter().any(|h| h
            .detail
            .as_deref()
            .is_some_and(|d| d.contains("secret variables were erased"))),
        "{view:?}"
    );
    assert!(
        store
            .claim(ChannelKind::Whatsapp, 1)
            .await
            .unwrap()
            .is_empty()
    );
}
storage_conformance!(
    kept_secrets,
    "notify",
    kreki_notify::MIGRATIONS,
    super::secrets_are_kept_only_while_the_message_may_move_on
);
