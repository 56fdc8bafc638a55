//! What readiness knows beyond "the database answers": how long the bus has been away, the
//! consumer groups that stopped making progress while events wait for them, and conditions a
//! service registers itself (the Emergency Core's web apps). `/readyz` lists every one of
//! them as a reason (see [`crate::service::Probe`]).
//!
//! A consumer group is **stuck** when events wait for it (its lag on the bus is above zero)
//! and none of its deliveries has been handled for `bus.consumer_stuck_s` while they waited:
//! a handler that hangs, one that fails every time, a subscription that stopped delivering.
//! A stuck consumer is reported (status `degraded`, the reason names the group); it does not
//! take the replica out of the load balancer, since a restart of the pod is what helps, and
//! traffic moved to the other replicas would not.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use serde::Serialize;

/// How bad a condition is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Serving, with something missing (reported; still ready).
    Degraded,
    /// Not ready: `/readyz` answers 503.
    Unavailable,
}

/// One reason a service is not simply `ready`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Condition {
    /// `bus`, `consumer`, `web`, …
    pub component: String,
    pub level: Level,
    /// In English, for operators (no personal data).
    pub reason: String,
}

type Check = Arc<dyn Fn() -> Option<Condition> + Send + Sync>;

/// Progress of one consumer group, as its runner and its lag sampler see it.
#[derive(Debug, Clone)]
struct ConsumerProgress {
    /// Events waiting for the group at the last sample (`None`: the bus cannot tell).
    lag: Option<u64>,
    /// Since when the lag has been above zero without a pause.
    waiting_since: Option<Instant>,
    /// The last delivery the group finished (handled, duplicate or rejected).
    last_progress: Instant,
}

/// The health registry of one service (shared by its probe, its consumers and its code).
pub struct Health {
    stuck_after: Duration,
    checks: Mutex<Vec<Check>>,
    consumers: Mutex<BTreeMap<String, ConsumerProgress>>,
    bus_down_since: Mutex<Option<Instant>>,
}

impl Default for Health {
    fn default() -> Self {
        Health::new(Duration::from_secs(120))
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Health {
    /// A registry whose consumers count as stuck after `stuck_after` without progress.
    pub fn new(stuck_after: Duration) -> Health {
        Health {
            stuck_after,
            checks: Mutex::new(Vec::new()),
            consumers: Mutex::new(BTreeMap::new()),
            bus_down_since: Mutex::new(None),
        }
    }

    pub fn stuck_after(&self) -> Duration {
        self.stuck_after
    }

    /// Add a condition the service evaluates at every readiness check (`None`: all well).
    pub fn register(&self, check: impl Fn() -> Option<Condition> + Send + Sync + 'static) {
        lock(&self.checks).push(Arc::new(check));
    }

    /// A consumer group starts (or restarts) running.
    pub fn consumer_started(&self, group: &str) {
        lock(&self.consumers)
            .entry(group.to_string())
            .or_insert(ConsumerProgress {
                lag: None,
                waiting_since: None,
                last_progress: Instant::now(),
            });
    }

    /// A delivery of `group` was finished (handled, a duplicate, or rejected for good).
    pub fn consumer_progressed(&self, group: &str) {
        if let Some(p) = lock(&self.consumers).get_mut(group) {
            p.last_progress = Instant::now();
        }
    }

    /// The lag of `group` at a sample.
    pub fn consumer_lag(&self, group: &str, lag: Option<u64>) {
        let mut all = lock(&self.consumers);
        let Some(p) = all.get_mut(group) else {
            return;
        };
        p.lag = lag;
        match lag {
            Some(n) if n > 0 => {
                p.waiting_since.get_or_insert_with(Instant::now);
            }
            _ => p.waiting_since = None,
        }
    }

    /// Record the bus's state at a check; returns how long it has been away.
    pub fn bus_seen(&self, up: bool) -> Option<Duration> {
        let mut since = lock(&self.bus_down_since);
        if up {
            *since = None;
            None
        } else {
            Some(since.get_or_insert_with(Instant::now).elapsed())
        }
    }

    /// The stuck consumer groups: (group, lag, seconds without progress).
    pub fn stuck_consumers(&self) -> Vec<(String, u64, u64)> {
        let now = Instant::now();
        lock(&self.consumers)
            .iter()
            .filter_map(|(group, p)| {
                let lag = p.lag.filter(|n| *n > 0)?;
                let waiting = now.duration_since(p.waiting_since?);
                let idle = now.duration_since(p.last_progress);
                (waiting >= self.stuck_after && idle >= self.stuck_after)
                    .then(|| (group.clone(), lag, idle.as_secs()))
            })
            .collect()
    }

    /// Every current condition except the bus's (the probe adds that one).
    pub fn conditions(&self) -> Vec<Condition> {
        let checks: Vec<Check> = lock(&self.checks).clone();
        let mut out: Vec<Condition> = checks.iter().filter_map(|c| c()).collect();
        for (group, lag, idle) in self.stuck_consumers() {
            out.push(Condition {
                component: "consumer".into(),
                level: Level::Degraded,
                reason: format!(
                    "consumer {group} is stuck: {lag} events wait for it and none was handled for {idle} s"
                ),
            });
        }
        out
    }
}
