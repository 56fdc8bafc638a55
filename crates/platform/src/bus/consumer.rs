//! The consumer runner: subscribe as a durable group, and for each delivery run the handler
//! inside a transaction that also records the event id in the inbox. A redelivered event is
//! acknowledged without running the handler again.

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use super::{Bus, Delivery, Event};
use crate::{
    health::Health,
    metrics::Metrics,
    storage::{Db, Tx, inbox},
};

/// What went wrong handling an event.
#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    /// Try again later (storage away, a dependency down).
    #[error("transient: {0}")]
    Retry(anyhow::Error),
    /// The event can never be handled (malformed payload): recorded and acknowledged.
    #[error("rejected: {0}")]
    Reject(anyhow::Error),
}

impl From<sqlx::Error> for HandleError {
    fn from(e: sqlx::Error) -> Self {
        HandleError::Retry(e.into())
    }
}

impl From<serde_json::Error> for HandleError {
    fn from(e: serde_json::Error) -> Self {
        HandleError::Reject(e.into())
    }
}

/// Work a handler leaves for after its transaction committed: waking a worker, handing a
/// row it just wrote to an in-memory queue, updating an in-memory copy. Nothing in memory
/// runs ahead of what is committed (a worker woken before the commit finds nothing and goes
/// back to sleep; a rolled-back change must not be in memory); see
/// [`Handler::urgent_after_commit`] for work that does not wait for the disk as well.
#[derive(Default)]
pub struct AfterCommit(Vec<Box<dyn FnOnce() + Send + 'static>>);

impl AfterCommit {
    /// Run `f` once the transaction committed (never, if it rolls back).
    pub fn then(&mut self, f: impl FnOnce() + Send + 'static) {
        self.0.push(Box::new(f));
    }

    /// The committed transaction's work, in the order it was added.
    pub fn run(self) {
        for f in self.0 {
            f();
        }
    }
}

/// A service's reaction to an event, in the given transaction; `after` takes what must
/// wait for the commit.
#[async_trait]
pub trait Handler: Send + Sync + 'static {
    async fn handle(
        &self,
        event: &Event,
        tx: &mut Tx,
        after: &mut AfterCommit,
    ) -> Result<(), HandleError>;

    /// Is the work in `after` urgent (a dispatch alert handed to its sender)? Then it does
    /// not wait for the disk: the transaction commits without waiting for it, `after` runs,
    /// and the event is acknowledged once the commit is durable ([`Db::flush`]). A crash of
    /// the machine in between loses the transaction, but not the event: unacknowledged, it
    /// comes again and is handled again (what `after` started may then happen twice).
    fn urgent_after_commit(&self) -> bool {
        false
    }
}

/// Everything a consumer needs.
pub struct Consumer {
    pub service: &'static str,
    /// Durable group name, unique per consumer (e.g. `notify-requests`).
    pub group: String,
    pub subjects: Vec<String>,
    pub db: Db,
    pub bus: Arc<dyn Bus>,
    pub metrics: Arc<Metrics>,
    /// Where its progress is recorded for readiness (stuck consumers).
    pub health: Option<Arc<Health>>,
}

impl Consumer {
    /// Run until cancelled, resubscribing after bus failures.
    pub async fn run(self, handler: Arc<dyn Handler>, cancel: CancellationToken) {
        if let Some(h) = &self.health {
            h.consumer_started(&self.group);
            let sampler = lag_sampler(
                self.bus.clone(),
                h.clone(),
                self.group.clone(),
                self.subjects.clone(),
                cancel.clone(),
            );
            tokio::spawn(sampler);
        }
        let mut backoff = Duration::from_millis(200);
        loop {
            let subjects: Vec<&str> = self.subjects.iter().map(String::as_str).collect();
            let sub = tokio::select! {
                _ = cancel.cancelled() => return,
                s = self.bus.subscribe(&self.group, &subjects) => s,
            };
            let mut sub = match sub {
                Ok(s) => {
                    backoff = Duration::from_millis(200);
                    s
                }
                Err(e) => {
                    tracing::warn!(group = %self.group, error = %e, "cannot subscribe; retrying");
                    tokio::select! {
                        _ = cancel.cancelled() => return,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    continue;
                }
            };
            loop {
                let next = tokio::select! {
                    _ = cancel.cancelled() => return,
                    n = sub.next() => n,
                };
                match next {
                    Some(Ok(delivery)) => self.process(&*handler, delivery).await,
                    Some(Err(e)) => {
                        tracing::warn!(group = %self.group, error = %e, "bus delivery failed; resubscribing");
                        tokio::time::sleep(backoff).await;
                        break;
                    }
                    None => break,
                }
            }
        }
    }

    async fn process(&self, handler: &dyn Handler, d: Delivery) {
        let outcome = self.handle_once(handler, &d).await;
        let label = match &outcome {
            Ok(true) => "handled",
            Ok(false) => "duplicate",
            Err(HandleError::Reject(_)) => "rejected",
            Err(HandleError::Retry(_)) => "retry",
        };
        self.metrics
            .event_consumed(self.service, &self.group, &d.event.subject, label);
        if let (Some(h), Ok(_) | Err(HandleError::Reject(_))) = (&self.health, &outcome) {
            h.consumer_progressed(&self.group);
        }
        match outcome {
            Ok(_) => {
                if let Err(e) = d.acker.ack().await {
                    tracing::warn!(group = %self.group, event_id = %d.event.id, error = %e, "ack failed; the event will be redelivered and deduplicated");
                }
            }
            Err(HandleError::Reject(e)) => {
                tracing::error!(group = %self.group, event_id = %d.event.id, subject = %d.event.subject, error = %e, "event rejected");
                let recorded = async {
                    let mut tx = self.db.begin().await?;
                    inbox::claim(
                        &mut tx,
                        &self.group,
                        &d.event.id,
                        &d.event.subject,
                        &format!("rejected: {e}"),
                    )
                    .await?;
                    tx.commit().await
                }
                .await;
                match recorded {
                    Ok(()) => {
                        let _ = d.acker.ack().await;
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, "cannot record rejection; will retry");
                        let _ = d.acker.nak(Duration::from_secs(1)).await;
                    }
                }
            }
            Err(HandleError::Retry(e)) => {
                let delay =
                    Duration::from_millis(200 * 2u64.saturating_pow(d.attempt.min(6) as u32))
                        .min(Duration::from_secs(30));
                tracing::warn!(group = %self.group, event_id = %d.event.id, attempt = d.attempt, error = %e, "handler failed; redelivery in {delay:?}");
                let _ = d.acker.nak(delay).await;
            }
        }
    }

    /// `Ok(true)` handled now, `Ok(false)` handled before.
    async fn handle_once(&self, handler: &dyn Handler, d: &Delivery) -> Result<bool, HandleError> {
        let urgent = handler.urgent_after_commit();
        let mut tx = if urgent {
            self.db.begin_relaxed().await?
        } else {
            self.db.begin().await?
        };
        if !inbox::claim(
            &mut tx,
            &self.group,
            &d.event.id,
            &d.event.subject,
            "handled",
        )
        .await?
        {
            tx.rollback().await?;
            return Ok(false);
        }
        let mut after = AfterCommit::default();
        handler.handle(&d.event, &mut tx, &mut after).await?;
        tx.commit().await?;
        after.run();
        if urgent {
            // Not acknowledged (nor its outbox events relayed) before it is on disk.
            self.db.flush().await?;
        }
        Ok(true)
    }
}

/// Sample the group's lag on the bus for readiness, a few times per stuck period.
async fn lag_sampler(
    bus: Arc<dyn Bus>,
    health: Arc<Health>,
    group: String,
    subjects: Vec<String>,
    cancel: CancellationToken,
) {
    let every =
        (health.stuck_after() / 4).clamp(Duration::from_millis(100), Duration::from_secs(15));
    let filters: Vec<&str> = subjects.iter().map(String::as_str).collect();
    loop {
        let lag = bus.lag(&group, &filters).await;
        health.consumer_lag(&group, lag);
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}
