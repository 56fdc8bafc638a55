//! The sender's metrics: sends by outcome, provider latency, time from request to send.

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family, histogram::Histogram},
};

use super::*;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SendLabels {
    pub service: String,
    pub channel: String,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ChannelLabel {
    pub service: String,
    pub channel: String,
}

/// Per channel: sends by outcome, provider call latency, time from request to send.
pub struct NotifyMetrics {
    pub sends: Family<SendLabels, Counter>,
    pub provider_seconds: Family<ChannelLabel, Histogram>,
    pub queued_seconds: Family<ChannelLabel, Histogram>,
}

impl NotifyMetrics {
    pub fn new(m: &kreki_platform::metrics::Metrics) -> Self {
        let make = || {
            Family::<ChannelLabel, Histogram>::new_with_constructor(
                kreki_platform::metrics::latency_histogram as fn() -> Histogram,
            )
        };
        let s = NotifyMetrics {
            sends: Family::default(),
            provider_seconds: make(),
            queued_seconds: make(),
        };
        m.register(
            "kreki_notify_sends",
            "Sends and receipts by channel and outcome (sent, delivered, failed, retry, expired)",
            s.sends.clone(),
        );
        m.register(
            "kreki_notify_provider_call_seconds",
            "Time the channel's provider took to accept a message",
            s.provider_seconds.clone(),
        );
        m.register(
            "kreki_notify_request_to_send_seconds",
            "Time from the request to the provider's accept",
            s.queued_seconds.clone(),
        );
        s
    }

    pub fn count(&self, channel: ChannelKind, outcome: &str) {
        self.sends
            .get_or_create(&SendLabels {
                service: crate::store::SOURCE.to_string(),
                channel: enum_text(&channel),
                outcome: outcome.to_string(),
            })
            .inc();
    }
}
