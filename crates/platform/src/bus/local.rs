//! Durable in-process bus on an SQLite file, for `kreki up`.
//!
//! A small JetStream on one table: `bus_messages` is the stream (deduplicated by event id),
//! `bus_consumers` holds each durable group's cursor, `bus_pending` the deliveries awaiting
//! acknowledgement (redelivered when their ack deadline passes or after a nak). A new group
//! starts at the beginning of the stream. Messages every group has passed and acknowledged
//! are pruned after the retention time.

use std::{
    collections::VecDeque,
    sync::{Arc, atomic::AtomicBool},
    time::Duration,
};

use async_trait::async_trait;
use sqlx::Row;
use tokio::sync::{Mutex, Notify};

use super::{Acker, Bus, BusError, Delivery, Event, Subscription, subject_matches};
use crate::{
    storage::{Db, Migration, migrate},
    time_util::now_micros,
};

const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "bus",
    sqlite: "CREATE TABLE bus_messages (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, \
             subject TEXT NOT NULL, body TEXT NOT NULL, published_at INTEGER NOT NULL); \
             CREATE TABLE bus_consumers (group_name TEXT PRIMARY KEY, cursor INTEGER NOT NULL); \
             CREATE TABLE bus_pending (group_name TEXT NOT NULL, seq INTEGER NOT NULL, \
             attempts INTEGER NOT NULL, deliver_after INTEGER NOT NULL, PRIMARY KEY (group_name, seq));",
    postgres: "CREATE TABLE bus_messages (seq BIGSERIAL PRIMARY KEY, id TEXT NOT NULL UNIQUE, \
             subject TEXT NOT NULL, body TEXT NOT NULL, published_at BIGINT NOT NULL); \
             CREATE TABLE bus_consumers (group_name TEXT PRIMARY KEY, cursor BIGINT NOT NULL); \
             CREATE TABLE bus_pending (group_name TEXT NOT NULL, seq BIGINT NOT NULL, \
             attempts BIGINT NOT NULL, deliver_after BIGINT NOT NULL, PRIMARY KEY (group_name, seq));",
}];

struct Inner {
    db: Db,
    notify: Notify,
    ack_wait: Duration,
    retention: Duration,
    /// One fetcher at a time per process (SQLite serialises writers anyway).
    fetch_lock: Mutex<()>,
    closed: AtomicBool,
    live: tokio::sync::broadcast::Sender<(String, Vec<u8>)>,
}

/// The embedded bus.
#[derive(Clone)]
pub struct LocalBus {
    inner: Arc<Inner>,
}

impl LocalBus {
    pub async fn open(db: Db, ack_wait: Duration) -> anyhow::Result<LocalBus> {
        migrate::run(&db, "bus", MIGRATIONS).await?;
        Ok(LocalBus {
            inner: Arc::new(Inner {
                db,
                notify: Notify::new(),
                ack_wait,
                retention: Duration::from_secs(7 * 24 * 3600),
                fetch_lock: Mutex::new(()),
                closed: AtomicBool::new(false),
                live: tokio::sync::broadcast::channel(4_096).0,
            }),
        })
    }

    /// Delete messages older than the retention time that every group has passed and none
    /// has pending.
    pub async fn prune(&self) -> Result<u64, sqlx::Error> {
        let horizon =
            now_micros() - i64::try_from(self.inner.retention.as_micros()).unwrap_or(i64::MAX);
        Ok(sqlx::query(
            "DELETE FROM bus_messages WHERE published_at < $1 \
             AND seq <= (SELECT COALESCE(MIN(cursor), 0) FROM bus_consumers) \
             AND seq NOT IN (SELECT seq FROM bus_pending)",
        )
        .bind(horizon)
        .execute(self.inner.db.writer())
        .await?
        .rows_affected())
    }
}

fn unavailable(e: sqlx::Error) -> BusError {
    BusError::Unavailable(e.to_string())
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

#[async_trait]
impl Bus for LocalBus {
    async fn prune(&self) -> Result<u64, BusError> {
        LocalBus::prune(self).await.map_err(unavailable)
    }

    async fn publish(&self, event: &Event) -> Result<(), BusError> {
        let body = serde_json::to_string(event).map_err(|e| BusError::Other(e.to_string()))?;
        sqlx::query(
            "INSERT INTO bus_messages (id, subject, body, published_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(&event.id)
        .bind(&event.subject)
        .bind(body)
        .bind(now_micros())
        .execute(self.inner.db.writer())
        .await
        .map_err(unavailable)?;
        self.inner.notify.notify_waiters();
        Ok(())
    }

    async fn subscribe(
        &self,
        group: &str,
        subjects: &[&str],
    ) -> Result<Box<dyn Subscription>, BusError> {
        sqlx::query("INSERT INTO bus_consumers (group_name, cursor) VALUES ($1, 0) ON CONFLICT (group_name) DO NOTHING")
            .bind(group)
            .execute(self.inner.db.writer())
            .await
            .map_err(unavailable)?;
        Ok(Box::new(LocalSubscription {
            inner: self.inner.clone(),
            group: group.to_string(),
            filters: subjects.iter().map(|s| s.to_string()).collect(),
            buffer: VecDeque::new(),
        }))
    }

    async fn lag(&self, group: &str, subjects: &[&str]) -> Option<u64> {
        let pending: i64 = sqlx::query("SELECT COUNT(*) FROM bus_pending WHERE group_name = $1")
            .bind(group)
            .fetch_one(self.inner.db.pool())
            .await
            .ok()?
            .try_get(0)
            .ok()?;
        let cursor: i64 = sqlx::query("SELECT cursor FROM bus_consumers WHERE group_name = $1")
            .bind(group)
            .fetch_optional(self.inner.db.pool())
            .await
            .ok()?
            .and_then(|r| r.try_get(0).ok())
            .unwrap_or(0);
        // Messages past the cursor that the group's filters take (a bounded look).
        let ahead =
            sqlx::query("SELECT subject FROM bus_messages WHERE seq > $1 ORDER BY seq LIMIT 10000")
                .bind(cursor)
                .fetch_all(self.inner.db.pool())
                .await
                .ok()?
                .iter()
                .filter_map(|r| r.try_get::<String, _>(0).ok())
                .filter(|s| subjects.iter().any(|f| subject_matches(f, s)))
                .count();
        Some(u64::try_from(pending).unwrap_or(0) + ahead as u64)
    }

    fn is_connected(&self) -> bool {
        !self.inner.closed.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn kind(&self) -> &'static str {
        "embedded"
    }

    fn live_publish(&self, subject: &str, payload: Vec<u8>) {
        let _ = self.inner.live.send((subject.to_string(), payload));
    }

    async fn live_subscribe(&self, subject: &str) -> Result<super::LiveStream, BusError> {
        let rx = self.inner.live.subscribe();
        let subject = subject.to_string();
        let stream = futures::stream::unfold(rx, move |mut rx| {
            let subject = subject.clone();
            async move {
                loop {
                    match rx.recv().await {
                        Ok((s, p)) if s == subject => return Some((p, rx)),
                        Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                    }
                }
            }
        });
        Ok(Box::pin(stream))
    }
}

struct LocalSubscription {
    inner: Arc<Inner>,
    group: String,
    filters: Vec<String>,
    buffer: VecDeque<Delivery>,
}

impl LocalSubscription {
    async fn fetch(&mut self) -> Result<(), sqlx::Error> {
        let _guard = self.inner.fetch_lock.lock().await;
        let now = now_micros();
        let deadline = now + micros(self.inner.ack_wait);
        let mut tx = self.inner.db.begin().await?;
        // Redeliveries first: their ack deadline passed, or they were nak'ed.
        let due = sqlx::query(
            "SELECT p.seq, p.attempts, m.body FROM bus_pending p JOIN bus_messages m ON m.seq = p.seq \
             WHERE p.group_name = $1 AND p.deliver_after <= $2 ORDER BY p.seq LIMIT 64",
        )
        .bind(&self.group)
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        let mut out = Vec::new();
        for row in due {
            let seq: i64 = row.try_get(0)?;
            let attempts: i64 = row.try_get(1)?;
            let body: String = row.try_get(2)?;
            sqlx::query("UPDATE bus_pending SET attempts = attempts + 1, deliver_after = $1 WHERE group_name = $2 AND seq = $3")
                .bind(deadline)
                .bind(&self.group)
                .bind(seq)
                .execute(&mut *tx)
                .await?;
            out.push((seq, attempts + 1, body));
        }
        // Then new messages past the cursor.
        let cursor: i64 = sqlx::query("SELECT cursor FROM bus_consumers WHERE group_name = $1")
            .bind(&self.group)
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        let fresh = sqlx::query(
            "SELECT seq, subject, body FROM bus_messages WHERE seq > $1 ORDER BY seq LIMIT 256",
        )
        .bind(cursor)
        .fetch_all(&mut *tx)
        .await?;
        let mut new_cursor = cursor;
        for row in fresh {
            let seq: i64 = row.try_get(0)?;
            let subject: String = row.try_get(1)?;
            let body: String = row.try_get(2)?;
            new_cursor = seq;
            if !self.filters.iter().any(|f| subject_matches(f, &subject)) {
                continue;
            }
            sqlx::query("INSERT INTO bus_pending (group_name, seq, attempts, deliver_after) VALUES ($1, $2, 1, $3)")
                .bind(&self.group)
                .bind(seq)
                .bind(deadline)
                .execute(&mut *tx)
                .await?;
            out.push((seq, 1, body));
        }
        if new_cursor != cursor {
            sqlx::query("UPDATE bus_consumers SET cursor = $1 WHERE group_name = $2")
                .bind(new_cursor)
                .bind(&self.group)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        for (seq, attempt, body) in out {
            match Event::from_bytes(body.as_bytes()) {
                Ok(event) => self.buffer.push_back(Delivery {
                    event,
                    attempt: u64::try_from(attempt).unwrap_or(1),
                    acker: Box::new(LocalAcker {
                        inner: self.inner.clone(),
                        group: self.group.clone(),
                        seq,
                    }),
                }),
                Err(e) => {
                    tracing::error!(seq, error = %e, "undecodable message on the embedded bus; dropping");
                    LocalAcker {
                        inner: self.inner.clone(),
                        group: self.group.clone(),
                        seq,
                    }
                    .ack()
                    .await
                    .ok();
                }
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Subscription for LocalSubscription {
    async fn next(&mut self) -> Option<Result<Delivery, BusError>> {
        loop {
            if let Some(d) = self.buffer.pop_front() {
                return Some(Ok(d));
            }
            // Register interest before looking, so a publish in between is not missed.
            let inner = self.inner.clone();
            let notified = inner.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Err(e) = self.fetch().await {
                return Some(Err(unavailable(e)));
            }
            if self.buffer.is_empty() {
                // Wake on publish, or in time for redeliveries.
                let _ = tokio::time::timeout(Duration::from_millis(500), notified).await;
            }
        }
    }
}

struct LocalAcker {
    inner: Arc<Inner>,
    group: String,
    seq: i64,
}

#[async_trait]
impl Acker for LocalAcker {
    async fn ack(&self) -> Result<(), BusError> {
        sqlx::query("DELETE FROM bus_pending WHERE group_name = $1 AND seq = $2")
            .bind(&self.group)
            .bind(self.seq)
            .execute(self.inner.db.writer())
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn nak(&self, delay: Duration) -> Result<(), BusError> {
        sqlx::query("UPDATE bus_pending SET deliver_after = $1 WHERE group_name = $2 AND seq = $3")
            .bind(now_micros() + micros(delay))
            .bind(&self.group)
            .bind(self.seq)
            .execute(self.inner.db.writer())
            .await
            .map_err(unavailable)?;
        self.inner.notify.notify_waiters();
        Ok(())
    }
}
