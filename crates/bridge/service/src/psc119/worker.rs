//! Hands escalated cases to PSC 119: send, wait for the acknowledgement, send again, move
//! to the next centre, and raise the alarm when none answers.

use std::{sync::Arc, time::Duration};

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::{Handoff, Psc119Adapter, Sent, store::Store};
use crate::clock::Clock;

pub struct Worker {
    pub store: Store,
    pub adapters: Vec<Arc<dyn Psc119Adapter>>,
    pub clock: Arc<dyn Clock>,
    pub ack_timeout_secs: i64,
    pub resends: i64,
    pub callback_url: String,
    pub wake: Arc<Notify>,
    pub metrics: crate::metrics::BridgeMetrics,
}

/// A failed send is retried sooner than an unanswered one.
const FAILED_SEND_RETRY_SECS: i64 = 15;

impl Worker {
    pub async fn run(self, cancel: CancellationToken) {
        loop {
            if self.run_once().await > 0 {
                continue;
            }
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }

    pub async fn run_once(&self) -> usize {
        let now = self.clock.now_micros();
        let due = match self.store.claim_due(now, 32).await {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, "PSC 119 queue unavailable");
                return 0;
            }
        };
        let n = due.len();
        for d in due {
            let (mut idx, mut sends) = (d.centre_index, d.sends);
            if sends > self.resends {
                idx += 1;
                sends = 0;
            }
            let Some(adapter) = usize::try_from(idx).ok().and_then(|i| self.adapters.get(i)) else {
                tracing::warn!(case_id = %d.case_id, "PSC 119: no centre acknowledged; Ops alarm raised");
                self.metrics.psc119("alarm");
                if let Err(e) = self.store.alarm(&d.case_id, now, idx).await {
                    tracing::warn!(error = %e, "cannot record PSC 119 alarm");
                }
                continue;
            };
            let attempt = u32::try_from(sends + 1).unwrap_or(u32::MAX);
            let h = Handoff::from_event(&d.record, attempt, &self.callback_url);
            // Bind the case to this centre before it can answer: only the centres a case
            // was handed to may report on it. Without the record the hand-off still goes
            // out (a patient waits); the centre's callbacks would then be refused.
            if let Err(e) = self.store.handing_to(&d.case_id, adapter.name(), now).await {
                tracing::warn!(case_id = %d.case_id, error = %e, "cannot record the PSC 119 recipient");
            }
            let result = adapter.hand_off(&h, now / 1_000_000).await;
            let first = sends == 0;
            let status = first.then(|| {
                serde_json::json!({ "centre": adapter.name(), "channel": adapter.channel(), "priority": h.priority })
            });
            let (events, error, next) = match result {
                Ok(Sent::Http(_)) => (Vec::new(), None, now + self.ack_timeout_secs * 1_000_000),
                Ok(Sent::Event(e)) => (vec![*e], None, now + self.ack_timeout_secs * 1_000_000),
                Err(e) => (
                    Vec::new(),
                    Some(e),
                    now + FAILED_SEND_RETRY_SECS.min(self.ack_timeout_secs) * 1_000_000,
                ),
            };
            self.metrics.psc119(if error.is_some() {
                "send_failed"
            } else {
                "sent"
            });
            if let Some(e) = &error {
                tracing::warn!(case_id = %d.case_id, centre = adapter.name(), error = %e, "PSC 119 hand-off failed");
            }
            if let Err(e) = self
                .store
                .sent(
                    &d.case_id,
                    idx,
                    sends + 1,
                    next,
                    now,
                    adapter.name(),
                    error.as_deref(),
                    &events,
                    if error.is_none() { status } else { None },
                )
                .await
            {
                tracing::warn!(case_id = %d.case_id, error = %e, "cannot record PSC 119 hand-off");
            }
        }
        n
    }
}
