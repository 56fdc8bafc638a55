//! Transactional outbox: the event is a row written in the same transaction as the state
//! change; the relay publishes rows to the bus and deletes them once the bus stored them.
//! While the bus is away the rows wait, the service reports `degraded`, and the relay
//! retries with backoff until it is back. Delivery is at least once; consumers deduplicate
//! by event id.
//!
//! Events are written only through [`enqueue`], which takes the platform's transaction
//! ([`Tx`]): committing a transaction that holds outbox rows wakes this database's relay by
//! itself (no `poke()` after a commit; a rollback wakes nothing).

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicI64, Ordering},
    },
    time::Duration,
};

use sqlx::Row;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::{Bus, Event};
use crate::{
    storage::{Db, Tx},
    time_util::now_micros,
};

/// Write `event` into the outbox inside the caller's transaction; the relay wakes when that
/// transaction commits.
pub async fn enqueue(tx: &mut Tx, event: &Event) -> Result<(), sqlx::Error> {
    let body = serde_json::to_string(event).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    sqlx::query("INSERT INTO outbox (id, subject, body, created_at) VALUES ($1, $2, $3, $4)")
        .bind(&event.id)
        .bind(&event.subject)
        .bind(body)
        .bind(now_micros())
        .execute(&mut *tx)
        .await?;
    tx.mark_events();
    Ok(())
}

/// Shared view of the relay's state (readiness, metrics).
#[derive(Default)]
pub struct RelayState {
    /// The last publish attempt failed.
    pub degraded: AtomicBool,
    /// Rows waiting at the last look.
    pub pending: AtomicI64,
    /// Events relayed since start.
    pub relayed: AtomicI64,
    /// The database's outbox wake ([`Db::outbox_wake`]): a commit with events notifies it.
    wake: Arc<Notify>,
}

/// The relay of one service's outbox.
pub struct Relay {
    db: Db,
    bus: Arc<dyn Bus>,
    pub state: Arc<RelayState>,
    /// How long the relay sleeps when nothing wakes it (replicas' rows, missed wakes).
    poll: Duration,
}

const BATCH: i64 = 100;

impl Relay {
    pub fn new(db: Db, bus: Arc<dyn Bus>) -> Relay {
        Relay {
            state: Arc::new(RelayState {
                wake: db.outbox_wake(),
                ..RelayState::default()
            }),
            db,
            bus,
            poll: Duration::from_millis(500),
        }
    }

    /// Poll the outbox every `poll` when no commit wakes the relay (500 ms by default).
    pub fn poll_every(mut self, poll: Duration) -> Relay {
        self.poll = poll;
        self
    }

    /// Run until cancelled.
    pub async fn run(self, cancel: CancellationToken) {
        let mut backoff = Duration::from_millis(100);
        loop {
            let outcome = self.relay_batch().await;
            let sleep = match outcome {
                Ok(n) if n >= BATCH as usize => Duration::ZERO,
                Ok(_) => {
                    backoff = Duration::from_millis(100);
                    self.poll
                }
                Err(e) => {
                    tracing::warn!(db = self.db.name(), error = %e, retry_in_ms = backoff.as_millis() as u64, "outbox relay: publish failed; events wait in the outbox");
                    let b = backoff;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    b
                }
            };
            if sleep.is_zero() {
                if cancel.is_cancelled() {
                    return;
                }
                continue;
            }
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = self.state.wake.notified() => {}
                _ = tokio::time::sleep(sleep) => {}
            }
        }
    }

    /// Publish up to one batch; returns how many were relayed.
    pub async fn relay_batch(&self) -> anyhow::Result<usize> {
        let mut tx = self.db.begin().await?;
        // Replicas share the table: each takes rows no other relay holds.
        let lock = crate::storage::lease::skip_locked(self.db.backend());
        let rows = sqlx::query(&format!(
            "SELECT seq, id, body FROM outbox ORDER BY seq LIMIT {BATCH}{lock}"
        ))
        .fetch_all(&mut *tx)
        .await?;
        self.state
            .pending
            .store(i64::try_from(rows.len()).unwrap_or(0), Ordering::Relaxed);
        let mut done = 0usize;
        let mut failure = None;
        for row in &rows {
            let seq: i64 = row.try_get(0)?;
            let id: String = row.try_get(1)?;
            let body: String = row.try_get(2)?;
            let event = match Event::from_bytes(body.as_bytes()) {
                Ok(e) => e,
                Err(e) => {
                    tracing::error!(id, error = %e, "outbox row is not an event; left for an operator");
                    sqlx::query("UPDATE outbox SET last_error = $1 WHERE seq = $2")
                        .bind(e.to_string())
                        .bind(seq)
                        .execute(&mut *tx)
                        .await?;
                    continue;
                }
            };
            match self.bus.publish(&event).await {
                Ok(()) => {
                    sqlx::query("DELETE FROM outbox WHERE seq = $1")
                        .bind(seq)
                        .execute(&mut *tx)
                        .await?;
                    done += 1;
                }
                Err(e) => {
                    sqlx::query(
                        "UPDATE outbox SET attempts = attempts + 1, last_error = $1 WHERE seq = $2",
                    )
                    .bind(e.to_string())
                    .bind(seq)
                    .execute(&mut *tx)
                    .await?;
                    failure = Some(e);
                    break;
                }
            }
        }
        tx.commit().await?;
        self.state
            .relayed
            .fetch_add(i64::try_from(done).unwrap_or(0), Ordering::Relaxed);
        self.state
            .pending
            .fetch_sub(i64::try_from(done).unwrap_or(0), Ordering::Relaxed);
        match failure {
            Some(e) => {
                self.state.degraded.store(true, Ordering::Relaxed);
                Err(e.into())
            }
            None => {
                self.state.degraded.store(false, Ordering::Relaxed);
                Ok(done)
            }
        }
    }
}

/// Count rows waiting in an outbox.
pub async fn pending(db: &Db) -> Result<i64, sqlx::Error> {
    sqlx::query("SELECT COUNT(*) FROM outbox")
        .fetch_one(db.pool())
        .await?
        .try_get(0)
}
