//! The bridge's own metrics: outcomes of SATUSEHAT attempts and PSC 119 hand-offs.

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family},
};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    pub service: String,
    pub outcome: String,
}

#[derive(Clone, Default)]
pub struct BridgeMetrics {
    satusehat: Family<OutcomeLabel, Counter>,
    psc119: Family<OutcomeLabel, Counter>,
}

impl BridgeMetrics {
    pub fn register(metrics: &kreki_platform::metrics::Metrics) -> BridgeMetrics {
        let m = BridgeMetrics::default();
        metrics.register(
            "kreki_bridge_satusehat_attempts",
            "SATUSEHAT send attempts by outcome (sent, retry, needs_fix, unidentified, patient_not_found, dead)",
            m.satusehat.clone(),
        );
        metrics.register(
            "kreki_bridge_psc119_handoffs",
            "PSC 119 hand-off steps by outcome (sent, send_failed, alarm)",
            m.psc119.clone(),
        );
        m
    }

    fn inc(f: &Family<OutcomeLabel, Counter>, outcome: &str) {
        f.get_or_create(&OutcomeLabel {
            service: "bridge".into(),
            outcome: outcome.into(),
        })
        .inc();
    }

    pub fn satusehat(&self, outcome: &str) {
        Self::inc(&self.satusehat, outcome);
    }

    pub fn psc119(&self, outcome: &str) {
        Self::inc(&self.psc119, outcome);
    }

    pub fn satusehat_count(&self, outcome: &str) -> u64 {
        self.satusehat
            .get_or_create(&OutcomeLabel {
                service: "bridge".into(),
                outcome: outcome.into(),
            })
            .get()
    }
}
