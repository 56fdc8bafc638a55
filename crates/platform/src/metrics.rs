//! Prometheus metrics of the process: HTTP requests per route and status with latency
//! histograms, bus consumption, outbox backlog and bus connectivity. Services register
//! their own metrics in the same registry at start (every metric carries a `service` label,
//! so one registry serves the aggregated `/metrics` and each service's own view).

use std::sync::{Arc, Mutex, atomic::Ordering};

use prometheus_client::{
    encoding::{EncodeLabelSet, text::encode},
    metrics::{
        counter::Counter,
        family::Family,
        gauge::Gauge,
        histogram::{Histogram, exponential_buckets},
    },
    registry::Registry,
};

use crate::bus::{Bus, outbox::RelayState};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub service: String,
    pub method: String,
    pub route: String,
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub service: String,
    pub method: String,
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ConsumeLabels {
    pub service: String,
    pub consumer: String,
    pub subject: String,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ServiceLabel {
    pub service: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PoolLabels {
    pub service: String,
    /// `in_use` or `idle`.
    pub state: String,
}

/// Latency buckets from 100 µs to ~13 s.
pub fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0001, 2.0, 18))
}

struct Watched {
    service: String,
    relay: Arc<RelayState>,
    bus: Arc<dyn Bus>,
}

pub struct Metrics {
    registry: Mutex<Registry>,
    pub http_requests: Family<HttpLabels, Counter>,
    pub http_latency: Family<RouteLabels, Histogram>,
    pub consumed: Family<ConsumeLabels, Counter>,
    outbox_pending: Family<ServiceLabel, Gauge>,
    bus_up: Family<ServiceLabel, Gauge>,
    watched: Mutex<Vec<Watched>>,
    pool_connections: Family<PoolLabels, Gauge>,
    pool_max: Family<ServiceLabel, Gauge>,
    pools: Mutex<Vec<(String, crate::storage::Db)>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let http_requests = Family::<HttpLabels, Counter>::default();
        let http_latency = Family::<RouteLabels, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        let consumed = Family::<ConsumeLabels, Counter>::default();
        let outbox_pending = Family::<ServiceLabel, Gauge>::default();
        let bus_up = Family::<ServiceLabel, Gauge>::default();
        registry.register(
            "kreki_http_requests",
            "HTTP requests by route and status",
            http_requests.clone(),
        );
        registry.register(
            "kreki_http_request_duration_seconds",
            "HTTP request latency by route",
            http_latency.clone(),
        );
        registry.register(
            "kreki_bus_events_consumed",
            "Events consumed by outcome",
            consumed.clone(),
        );
        registry.register(
            "kreki_outbox_pending",
            "Events waiting in the outbox",
            outbox_pending.clone(),
        );
        registry.register(
            "kreki_bus_up",
            "1 when the event bus is reachable",
            bus_up.clone(),
        );
        let pool_connections = Family::<PoolLabels, Gauge>::default();
        let pool_max = Family::<ServiceLabel, Gauge>::default();
        registry.register(
            "kreki_db_pool_connections",
            "Connections of the service's database pool (reads on SQLite) by state",
            pool_connections.clone(),
        );
        registry.register(
            "kreki_db_pool_max_connections",
            "Size limit of the service's database pool (storage.max_connections on PostgreSQL)",
            pool_max.clone(),
        );
        Metrics {
            registry: Mutex::new(registry),
            http_requests,
            http_latency,
            consumed,
            outbox_pending,
            bus_up,
            watched: Mutex::new(Vec::new()),
            pool_connections,
            pool_max,
            pools: Mutex::new(Vec::new()),
        }
    }

    /// Register a service's own metric.
    pub fn register<M: prometheus_client::registry::Metric>(
        &self,
        name: &str,
        help: &str,
        metric: M,
    ) {
        self.registry
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .register(name, help, metric);
    }

    /// Report this service's outbox and bus state at each scrape.
    pub fn watch(&self, service: &str, relay: Arc<RelayState>, bus: Arc<dyn Bus>) {
        self.watched
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(Watched {
                service: service.to_string(),
                relay,
                bus,
            });
    }

    /// Report this service's database pool (connections in use, idle, the limit) at each
    /// scrape: a pool near its limit makes requests wait, then fail with
    /// `STORAGE_UNAVAILABLE`.
    pub fn watch_pool(&self, service: &str, db: crate::storage::Db) {
        self.pools
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((service.to_string(), db));
    }

    pub fn event_consumed(&self, service: &str, consumer: &str, subject: &str, outcome: &str) {
        self.consumed
            .get_or_create(&ConsumeLabels {
                service: service.into(),
                consumer: consumer.into(),
                subject: subject.into(),
                outcome: outcome.into(),
            })
            .inc();
    }

    /// The whole registry in Prometheus text format; with `service`, only that service's
    /// samples.
    pub fn render(&self, service: Option<&str>) -> String {
        for w in self
            .watched
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
        {
            let l = ServiceLabel {
                service: w.service.clone(),
            };
            self.outbox_pending
                .get_or_create(&l)
                .set(w.relay.pending.load(Ordering::Relaxed));
            let up = w.bus.is_connected() && !w.relay.degraded.load(Ordering::Relaxed);
            self.bus_up.get_or_create(&l).set(i64::from(up));
        }
        for (service, db) in self
            .pools
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
        {
            let pool = db.pool();
            let size = i64::from(pool.size());
            let idle = i64::try_from(pool.num_idle()).unwrap_or(i64::MAX);
            for (state, n) in [("in_use", (size - idle).max(0)), ("idle", idle)] {
                self.pool_connections
                    .get_or_create(&PoolLabels {
                        service: service.clone(),
                        state: state.into(),
                    })
                    .set(n);
            }
            self.pool_max
                .get_or_create(&ServiceLabel {
                    service: service.clone(),
                })
                .set(i64::from(pool.options().get_max_connections()));
        }
        let mut out = String::new();
        {
            let reg = self
                .registry
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if encode(&mut out, &reg).is_err() {
                return String::new();
            }
        }
        match service {
            None => out,
            Some(s) => {
                let needle = format!("service=\"{s}\"");
                out.lines()
                    .filter(|l| l.starts_with('#') || l.contains(&needle))
                    .map(|l| format!("{l}\n"))
                    .collect()
            }
        }
    }
}
