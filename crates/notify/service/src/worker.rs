//! The sender: takes due messages from the queue, most urgent first, renders and hands them
//! to a channel, and records the outcome. Transient failures are retried with exponential
//! backoff and jitter; permanent ones are recorded and surfaced.

use std::{sync::Arc, time::Duration};

use kreki_notify_contracts::{DeliveryState, Recipient};
use kreki_platform::{bus::outbox::RelayState, time_util::now_micros};
use rand::Rng;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::{
    channel::{Channel, Outgoing, SendError},
    store::{Queued, Store},
    templates::render,
};

/// Attempts before a transiently failing message is marked failed.
pub const MAX_ATTEMPTS: i64 = 8;

pub struct Worker {
    pub store: Store,
    pub channel: Arc<dyn Channel>,
    pub wake: Arc<Notify>,
    pub relay: Arc<RelayState>,
}

impl Worker {
    pub async fn run(self, cancel: CancellationToken) {
        loop {
            let n = match self.store.claim_due(32).await {
                Ok(batch) => {
                    let n = batch.len();
                    for m in batch {
                        self.deliver(m).await;
                    }
                    n
                }
                Err(e) => {
                    tracing::warn!(error = %e, "notify queue unavailable");
                    0
                }
            };
            if n > 0 {
                continue;
            }
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            }
        }
    }

    async fn deliver(&self, m: Queued) {
        let now = now_micros();
        let outcome = if m.expires_at.is_some_and(|e| e <= now) {
            (
                DeliveryState::Expired,
                None,
                Some("expired before sending".to_string()),
                None,
            )
        } else {
            let r = render(m.template, m.language, &m.vars);
            let to = match &m.recipient {
                Recipient::Account(a) => format!("account:{a}"),
                Recipient::Address(a) => a.clone(),
            };
            let out = Outgoing {
                id: m.id.clone(),
                to,
                priority: m.priority,
                title: r.title,
                body: r.body,
                correlation_id: m.correlation_id.clone(),
            };
            let kind = self.channel.kind();
            match self.channel.send(&out).await {
                Ok(reference) => (DeliveryState::Sent, Some(kind), reference, None),
                Err(SendError::Permanent(e)) => (DeliveryState::Failed, Some(kind), Some(e), None),
                Err(SendError::Transient(e)) if m.attempts >= MAX_ATTEMPTS => (
                    DeliveryState::Failed,
                    Some(kind),
                    Some(format!("gave up: {e}")),
                    None,
                ),
                Err(SendError::Transient(e)) => {
                    let base = 500u64.saturating_mul(1 << m.attempts.clamp(0, 10));
                    let delay_ms = base.min(60_000) + rand::thread_rng().gen_range(0..250u64);
                    let retry = now + i64::try_from(delay_ms * 1000).unwrap_or(i64::MAX / 2);
                    (DeliveryState::Queued, Some(kind), Some(e), Some(retry))
                }
            }
        };
        let (state, channel, detail, retry) = outcome;
        if let Err(e) = self.store.record(&m, state, channel, detail, retry).await {
            // The lease expires and the message is tried again: at-least-once.
            tracing::warn!(message_id = %m.id, error = %e, "cannot record delivery outcome");
        }
        self.relay.poke();
    }
}
