//! The event bus: a [`Bus`] port with two adapters, a transactional outbox in front of it
//! and a consumer runner with deduplication behind it.
//!
//! - [`local::LocalBus`]: durable in-process bus on an SQLite file (`kreki up`): a stream
//!   table, durable consumer groups, acknowledgements and redelivery, so an event survives a
//!   crash between relay and consumption.
//! - [`nats::NatsBus`]: NATS JetStream (`kreki serve`): one stream, durable pull consumers
//!   per consumer group, explicit acks, publish deduplication by event id.
//!
//! Producers never call [`Bus::publish`] from a request: they write the event with
//! [`outbox::enqueue`] in the transaction of the state change, and the [`outbox::Relay`]
//! publishes it (at least once). Consumers run through [`consumer::run`], which records the
//! event id in the inbox in the handler's transaction (exactly-once effect).

pub mod consumer;
pub mod local;
pub mod nats;
pub mod outbox;

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use uuid::Uuid;

use crate::time_util::{now_micros, rfc3339};

/// An event as it travels on the bus (a CloudEvents-like JSON envelope).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Event {
    /// Unique id (UUID v7); the deduplication key everywhere.
    pub id: String,
    /// Event type, also the subject below the prefix: `notify.message.requested`.
    #[serde(rename = "type")]
    pub subject: String,
    /// Service that produced it.
    pub source: String,
    /// RFC 3339 UTC.
    pub time: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    pub data: serde_json::Value,
}

impl Event {
    pub fn new<T: Serialize>(
        source: &str,
        subject: &str,
        data: &T,
    ) -> Result<Event, serde_json::Error> {
        Ok(Event {
            id: Uuid::now_v7().to_string(),
            subject: subject.to_string(),
            source: source.to_string(),
            time: rfc3339(now_micros()),
            correlation_id: None,
            data: serde_json::to_value(data)?,
        })
    }
    pub fn correlated(mut self, id: impl Into<String>) -> Self {
        self.correlation_id = Some(id.into());
        self
    }
    /// The payload as a typed contract.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_value(self.data.clone())
    }
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
    pub fn from_bytes(b: &[u8]) -> Result<Event, serde_json::Error> {
        serde_json::from_slice(b)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("bus unavailable: {0}")]
    Unavailable(String),
    #[error("bus error: {0}")]
    Other(String),
}

/// Does a NATS-style subject filter (`a.b.*`, `a.>`) match a subject?
pub fn subject_matches(filter: &str, subject: &str) -> bool {
    let mut f = filter.split('.');
    let mut s = subject.split('.');
    loop {
        match (f.next(), s.next()) {
            (Some(">"), Some(_)) => return true,
            (Some("*"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// The acknowledgement side of one delivery.
#[async_trait]
pub trait Acker: Send + Sync {
    async fn ack(&self) -> Result<(), BusError>;
    /// Ask for redelivery after `delay`.
    async fn nak(&self, delay: Duration) -> Result<(), BusError>;
}

/// One delivery of an event to a consumer group.
pub struct Delivery {
    pub event: Event,
    /// 1 on the first delivery.
    pub attempt: u64,
    pub acker: Box<dyn Acker>,
}

/// A stream of deliveries for one consumer group.
#[async_trait]
pub trait Subscription: Send {
    /// The next delivery; waits until there is one. `None` when the subscription ended.
    async fn next(&mut self) -> Option<Result<Delivery, BusError>>;
}

/// The bus port.
#[async_trait]
pub trait Bus: Send + Sync + 'static {
    /// Publish durably; returns after the bus has stored the event. Publishing the same event
    /// id twice stores it once (within the bus's deduplication window).
    async fn publish(&self, event: &Event) -> Result<(), BusError>;
    /// A durable consumer group: each event matching `subjects` (filters) is delivered to one
    /// member of the group, and again until acknowledged.
    async fn subscribe(
        &self,
        group: &str,
        subjects: &[&str],
    ) -> Result<Box<dyn Subscription>, BusError>;
    /// Events waiting for the consumer group `group` of `subjects`: not yet delivered, or
    /// delivered and not yet acknowledged. `None` when the bus cannot tell right now.
    async fn lag(&self, group: &str, subjects: &[&str]) -> Option<u64> {
        let _ = (group, subjects);
        None
    }
    /// Is the connection up right now?
    fn is_connected(&self) -> bool;
    fn kind(&self) -> &'static str;
    /// Fire-and-forget fan-out to every process subscribed to `subject` (not stored, not
    /// acknowledged): live positions and socket messages between replicas.
    fn live_publish(&self, subject: &str, payload: Vec<u8>);
    /// Every live message on `subject` from now on.
    async fn live_subscribe(&self, subject: &str) -> Result<LiveStream, BusError>;
    /// Forget messages past the bus's retention that no consumer still needs; returns how
    /// many. JetStream applies its own limits (`max_age`), so only the embedded bus has work.
    async fn prune(&self) -> Result<u64, BusError> {
        Ok(0)
    }
}

/// Live messages of one subject.
pub type LiveStream = std::pin::Pin<Box<dyn futures::Stream<Item = Vec<u8>> + Send>>;
