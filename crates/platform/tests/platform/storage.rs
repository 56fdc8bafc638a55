//! The same cases on SQLite and PostgreSQL.

use std::time::Duration;

use kreki_platform::{
    bus::Event,
    storage::{
        Db, Migration,
        housekeeping::{self, Retention, Swept},
        idempotency, inbox,
        ratelimit::{MemoryRateLimiter, RateLimiter, SqlRateLimiter},
    },
    storage_conformance,
    time_util::now_micros,
};
use sqlx::Row;

const NONE: &[Migration] = &[];

const SVC: &[Migration] = &[Migration {
    version: 1,
    name: "things",
    sqlite: "CREATE TABLE things (id TEXT PRIMARY KEY, n INTEGER NOT NULL);",
    postgres: "CREATE TABLE things (id TEXT PRIMARY KEY, n BIGINT NOT NULL);",
}];

async fn migrations_are_idempotent_and_guarded(db: Db) {
    db.migrate("svc", SVC).await.expect("first");
    db.migrate("svc", SVC).await.expect("again is a no-op");
    let changed = [Migration {
        sqlite: "CREATE TABLE other (x INTEGER);",
        postgres: "CREATE TABLE other (x BIGINT);",
        ..SVC[0]
    }];
    let err = db
        .migrate("svc", &changed)
        .await
        .expect_err("edited migration");
    assert!(
        err.to_string().contains("changed after it was applied"),
        "{err}"
    );
}
storage_conformance!(
    migrations,
    "t",
    super::NONE,
    super::migrations_are_idempotent_and_guarded
);

async fn outbox_is_transactional(db: Db) {
    db.migrate("svc", SVC).await.unwrap();
    let ev = Event::new("t", "a.b", &serde_json::json!({"x": 1})).unwrap();
    // Rolled back: neither the row nor the event.
    let mut tx = db.begin().await.unwrap();
    sqlx::query("INSERT INTO things (id, n) VALUES ($1, $2)")
        .bind("a")
        .bind(1i64)
        .execute(&mut *tx)
        .await
        .unwrap();
    kreki_platform::bus::outbox::enqueue(&mut tx, &ev)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(kreki_platform::bus::outbox::pending(&db).await.unwrap(), 0);
    // Committed: both.
    let mut tx = db.begin().await.unwrap();
    sqlx::query("INSERT INTO things (id, n) VALUES ($1, $2)")
        .bind("a")
        .bind(1i64)
        .execute(&mut *tx)
        .await
        .unwrap();
    kreki_platform::bus::outbox::enqueue(&mut tx, &ev)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(kreki_platform::bus::outbox::pending(&db).await.unwrap(), 1);
    let body: String = sqlx::query("SELECT body FROM outbox")
        .fetch_one(db.pool())
        .await
        .unwrap()
        .get(0);
    assert_eq!(Event::from_bytes(body.as_bytes()).unwrap(), ev);
}
storage_conformance!(outbox, "t", super::NONE, super::outbox_is_transactional);

async fn inbox_deduplicates(db: Db) {
    let mut tx = db.begin().await.unwrap();
    assert!(
        inbox::claim(&mut tx, "c1", "e1", "s", "handled")
            .await
            .unwrap()
    );
    assert!(
        !inbox::claim(&mut tx, "c1", "e1", "s", "handled")
            .await
            .unwrap()
    );
    assert!(
        inbox::claim(&mut tx, "c2", "e1", "s", "handled")
            .await
            .unwrap(),
        "per consumer"
    );
    tx.commit().await.unwrap();
    let mut tx = db.begin().await.unwrap();
    assert!(
        !inbox::claim(&mut tx, "c1", "e1", "s", "handled")
            .await
            .unwrap()
    );
    tx.rollback().await.unwrap();
    let mut conn = db.pool().acquire().await.unwrap();
    assert_eq!(inbox::prune(&mut conn, i64::MAX).await.unwrap(), 2);
}
storage_conformance!(inbox_dedup, "t", super::NONE, super::inbox_deduplicates);

async fn rate_limits(db: Db) {
    for limiter in [
        Box::new(SqlRateLimiter::new(db.clone())) as Box<dyn RateLimiter>,
        Box::new(MemoryRateLimiter::new()),
    ] {
        let w = Duration::from_secs(3600);
        for i in 1..=3u32 {
            let d = limiter.hit("b1", 3, w).await.unwrap();
            assert!(d.allowed);
            assert_eq!(d.remaining, 3 - i);
            assert!(d.reset_after_s >= 1 && d.reset_after_s <= 3600);
        }
        let d = limiter.hit("b1", 3, w).await.unwrap();
        assert!(!d.allowed);
        assert_eq!(d.remaining, 0);
        assert!(
            limiter.hit("b2", 3, w).await.unwrap().allowed,
            "buckets are independent"
        );
    }
}
storage_conformance!(ratelimit, "t", super::NONE, super::rate_limits);

async fn concurrent_rate_limit_hits_are_counted_exactly(db: Db) {
    let limiter = std::sync::Arc::new(SqlRateLimiter::new(db));
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let l = limiter.clone();
            tokio::spawn(async move {
                l.hit("shared", 10, Duration::from_secs(3600))
                    .await
                    .unwrap()
                    .allowed
            })
        })
        .collect();
    let allowed = futures::future::join_all(tasks)
        .await
        .into_iter()
        .filter(|r| *r.as_ref().unwrap())
        .count();
    assert_eq!(allowed, 10);
}
storage_conformance!(
    ratelimit_concurrent,
    "t",
    super::NONE,
    super::concurrent_rate_limit_hits_are_counted_exactly
);

async fn idempotency_keys(db: Db) {
    use idempotency::Claim;
    let h1 = idempotency::request_hash(b"{\"a\":1}");
    let h2 = idempotency::request_hash(b"{\"a\":2}");
    let mut tx = db.begin().await.unwrap();
    assert_eq!(
        idempotency::claim(&mut tx, "panic", "k1", &h1)
            .await
            .unwrap(),
        Claim::New
    );
    idempotency::complete(&mut tx, "panic", "k1", 201, "{\"id\":\"x\"}")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut tx = db.begin().await.unwrap();
    assert_eq!(
        idempotency::claim(&mut tx, "panic", "k1", &h1)
            .await
            .unwrap(),
        Claim::Replay {
            status: 201,
            response: "{\"id\":\"x\"}".into()
        }
    );
    assert_eq!(
        idempotency::claim(&mut tx, "panic", "k1", &h2)
            .await
            .unwrap(),
        Claim::Mismatch
    );
    assert_eq!(
        idempotency::claim(&mut tx, "other", "k1", &h2)
            .await
            .unwrap(),
        Claim::New,
        "scoped"
    );
    tx.rollback().await.unwrap();
    // A claim rolled back with its transaction leaves no trace.
    let mut tx = db.begin().await.unwrap();
    assert_eq!(
        idempotency::claim(&mut tx, "other", "k1", &h2)
            .await
            .unwrap(),
        Claim::New
    );
    tx.rollback().await.unwrap();
    assert!(idempotency::valid_key("abc-123"));
    assert!(!idempotency::valid_key(""));
    assert!(!idempotency::valid_key("has space"));
}
storage_conformance!(
    idempotency_conformance,
    "t",
    super::NONE,
    super::idempotency_keys
);

async fn housekeeping_forgets_only_what_is_past_its_retention(db: Db) {
    SqlRateLimiter::new(db.clone())
        .hit("b", 5, Duration::from_secs(60))
        .await
        .unwrap();
    let mut tx = db.begin().await.unwrap();
    assert!(
        inbox::claim(&mut tx, "c1", "e1", "s", "handled")
            .await
            .unwrap()
    );
    let h = idempotency::request_hash(b"{}");
    idempotency::claim(&mut tx, "panic", "k1", &h)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let r = Retention::default();
    let now = now_micros();
    let day = 86_400_000_000;
    assert_eq!(
        housekeeping::sweep(&db, &r, now).await.unwrap(),
        Swept::default(),
        "nothing is old yet"
    );
    assert_eq!(
        housekeeping::sweep(&db, &r, now + 2 * day).await.unwrap(),
        Swept {
            rate_limits: 1,
            ..Swept::default()
        },
        "rate-limit windows go after a day"
    );
    assert_eq!(
        housekeeping::sweep(&db, &r, now + 8 * day).await.unwrap(),
        Swept {
            idempotency: 1,
            ..Swept::default()
        },
        "idempotency keys after a week"
    );
    assert_eq!(
        housekeeping::sweep(&db, &r, now + 31 * day).await.unwrap(),
        Swept {
            inbox: 1,
            ..Swept::default()
        },
        "handled-event ids after 30 days"
    );
}
storage_conformance!(
    housekeeping_sweeps,
    "t",
    super::NONE,
    super::housekeeping_forgets_only_what_is_past_its_retention
);

/// A relaxed transaction commits like any other and lowers the sync level for itself only:
/// the next transaction, and plain writes, wait for the disk again. Writers take turns on
/// SQLite (one writer connection): many at once all commit, none fails as "locked".
async fn relaxed_commits_and_writers_taking_turns(db: Db) {
    db.migrate("svc", SVC).await.unwrap();
    let (probe, full, relaxed) = match db.backend() {
        kreki_platform::storage::Backend::Sqlite => ("PRAGMA synchronous", "2", "1"),
        kreki_platform::storage::Backend::Postgres => ("SHOW synchronous_commit", "on", "off"),
    };
    let level = |row: sqlx::any::AnyRow| -> String {
        row.try_get::<String, _>(0)
            .or_else(|_| row.try_get::<i64, _>(0).map(|n| n.to_string()))
            .or_else(|_| row.try_get::<i32, _>(0).map(|n| n.to_string()))
            .unwrap()
    };
    let mut tx = db.begin_relaxed().await.unwrap();
    let now = level(sqlx::query(probe).fetch_one(&mut *tx).await.unwrap());
    assert_eq!(now, relaxed);
    sqlx::query("INSERT INTO things (id, n) VALUES ('r', 1)")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut tx = db.begin().await.unwrap();
    let now = level(sqlx::query(probe).fetch_one(&mut *tx).await.unwrap());
    assert_eq!(now, full, "the next transaction syncs again");
    tx.rollback().await.unwrap();
    let writers = (0..32).map(|i| {
        let db = db.clone();
        tokio::spawn(async move {
            let mut tx = if i % 2 == 0 {
                db.begin().await?
            } else {
                db.begin_relaxed().await?
            };
            sqlx::query("INSERT INTO things (id, n) VALUES ($1, $2)")
                .bind(format!("w{i}"))
                .bind(i64::from(i))
                .execute(&mut *tx)
                .await?;
            tx.commit().await
        })
    });
    for w in writers {
        w.await.unwrap().unwrap();
    }
    let n: i64 = sqlx::query("SELECT COUNT(*) FROM things")
        .fetch_one(db.pool())
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 33);
}
storage_conformance!(
    relaxed,
    "t",
    super::NONE,
    super::relaxed_commits_and_writers_taking_turns
);

/// What a relaxed transaction committed is on disk after `flush` (PostgreSQL: its log is
/// flushed past the commit; SQLite: the write-ahead log it syncs is the database's).
async fn flush_makes_relaxed_commits_durable(db: Db) {
    db.migrate("svc", SVC).await.unwrap();
    let mut tx = db.begin_relaxed().await.unwrap();
    sqlx::query("INSERT INTO things (id, n) VALUES ('f', 1)")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    match db.backend() {
        kreki_platform::storage::Backend::Postgres => {
            let lsn = |sql: &'static str| {
                let db = db.clone();
                async move {
                    let text: String = sqlx::query(sql).fetch_one(db.pool()).await.unwrap().get(0);
                    let (hi, lo) = text.split_once('/').unwrap();
                    (u64::from_str_radix(hi, 16).unwrap() << 32)
                        | u64::from_str_radix(lo, 16).unwrap()
                }
            };
            let written = lsn("SELECT pg_current_wal_insert_lsn()::text").await;
            db.flush().await.unwrap();
            let flushed = lsn("SELECT pg_current_wal_flush_lsn()::text").await;
            assert!(
                flushed >= written,
                "flushed to {flushed:x}, written to {written:x}"
            );
        }
        kreki_platform::storage::Backend::Sqlite => {
            let wal = db.wal_path().expect("a log").to_path_buf();
            assert!(wal.is_file(), "{} holds the commit", wal.display());
            let frames = std::fs::metadata(&wal).unwrap().len();
            assert!(frames > 32, "the log has frames");
            db.flush().await.unwrap();
        }
    }
    let n: i64 = sqlx::query("SELECT n FROM things WHERE id = 'f'")
        .fetch_one(db.pool())
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
}
storage_conformance!(
    flush,
    "t",
    super::NONE,
    super::flush_makes_relaxed_commits_durable
);
