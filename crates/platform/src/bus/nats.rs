//! NATS JetStream adapter, for `kreki serve`.
//!
//! One stream (`bus.stream`) holds `<prefix>.>`; every event is published with
//! `Nats-Msg-Id` = event id, so a re-publish within the duplicate window is stored once.
//! Each consumer group is a durable pull consumer with explicit acks; JetStream redelivers
//! what is not acknowledged within `ack_wait`.

use std::{sync::Arc, time::Duration};

use async_nats::{
    HeaderMap,
    jetstream::{self, AckKind, consumer::pull, stream},
};
use async_trait::async_trait;
use futures::StreamExt;

use super::{Acker, Bus, BusError, Delivery, Event, Subscription};

/// The JetStream bus.
#[derive(Clone)]
pub struct NatsBus {
    client: async_nats::Client,
    js: jetstream::Context,
    stream: String,
    prefix: String,
    ack_wait: Duration,
    limits: StreamLimits,
    /// The stream exists with the configured limits (made at the first use when the
    /// process started without NATS).
    stream_ready: Arc<tokio::sync::OnceCell<()>>,
}

fn other(e: impl std::fmt::Display) -> BusError {
    BusError::Other(e.to_string())
}

/// Limits of the JetStream stream (`bus.replicas`, `bus.max_age_s`, `bus.max_bytes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamLimits {
    /// Copies of the stream in the cluster.
    pub replicas: usize,
    /// Messages older than this are dropped.
    pub max_age: Duration,
    /// Size limit in bytes (oldest dropped first); `None`: no limit.
    pub max_bytes: Option<u64>,
}

impl Default for StreamLimits {
    fn default() -> Self {
        Self::from(&crate::config::BusConfig::default())
    }
}

impl From<&crate::config::BusConfig> for StreamLimits {
    fn from(c: &crate::config::BusConfig) -> Self {
        Self {
            replicas: c.replicas,
            max_age: Duration::from_secs(c.max_age_s),
            max_bytes: c.max_bytes,
        }
    }
}

impl StreamLimits {
    fn max_bytes_i64(&self) -> i64 {
        self.max_bytes
            .and_then(|b| i64::try_from(b).ok())
            .unwrap_or(-1)
    }
}

/// `nats://a:4222,nats://b:4222` → the servers, in order.
fn server_list(url: &str) -> Result<Vec<async_nats::ServerAddr>, String> {
    url.split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(|u| {
            u.parse::<async_nats::ServerAddr>()
                .map_err(|e| e.to_string())
        })
        .collect::<Result<Vec<_>, _>>()
        .and_then(|v| {
            if v.is_empty() {
                Err("no server".into())
            } else {
                Ok(v)
            }
        })
}

/// The URL(s) with any `user:password@` or `token@` replaced, for messages and logs.
fn without_credentials(url: &str) -> String {
    url.split(',')
        .map(|u| match (u.find("://"), u.rfind('@')) {
            (Some(scheme), Some(at)) if at > scheme => {
                format!("{}***{}", &u[..scheme + 3], &u[at..])
            }
            _ => u.to_string(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

impl NatsBus {
    /// Connect and make sure the stream exists. Fails at once if the server is unreachable;
    /// after a successful start the client reconnects by itself.
    pub async fn connect(
        url: &str,
        client_name: &str,
        stream_name: &str,
        prefix: &str,
        ack_wait: Duration,
    ) -> Result<NatsBus, BusError> {
        Self::connect_with(
            url,
            client_name,
            stream_name,
            prefix,
            ack_wait,
            StreamLimits::default(),
        )
        .await
    }

    /// [`NatsBus::connect`] with the stream's limits. A stream that exists with other
    /// limits (replicas, age, size) is updated to these: the configuration is the truth.
    pub async fn connect_with(
        url: &str,
        client_name: &str,
        stream_name: &str,
        prefix: &str,
        ack_wait: Duration,
        limits: StreamLimits,
    ) -> Result<NatsBus, BusError> {
        let bus = Self::build(
            url,
            client_name,
            stream_name,
            prefix,
            ack_wait,
            limits,
            false,
        )
        .await?;
        bus.ensure_stream().await?;
        Ok(bus)
    }

    /// Like [`NatsBus::connect_with`], but starts while the server is unreachable: the
    /// client connects in the background (and reconnects forever), the stream is created or
    /// updated at the first use once it is there. Until then publishing fails (events wait
    /// in the outbox), consumers retry their subscription, and [`Bus::is_connected`] is
    /// false (readiness says why). `kreki serve` starts this way, so that a pod rescheduled
    /// during a NATS outage still takes panics.
    pub async fn start(
        url: &str,
        client_name: &str,
        stream_name: &str,
        prefix: &str,
        ack_wait: Duration,
        limits: StreamLimits,
    ) -> Result<NatsBus, BusError> {
        let bus = Self::build(
            url,
            client_name,
            stream_name,
            prefix,
            ack_wait,
            limits,
            true,
        )
        .await?;
        // A reachable server answers within the connection timeout: start connected then.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
        while bus.client.connection_state() != async_nats::connection::State::Connected
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if let Err(e) = bus.ensure_stream().await {
            tracing::warn!(error = %e, "NATS is not reachable yet; starting without the bus (events wait in the outbox)");
        }
        Ok(bus)
    }

    async fn build(
        url: &str,
        client_name: &str,
        stream_name: &str,
        prefix: &str,
        ack_wait: Duration,
        limits: StreamLimits,
        in_background: bool,
    ) -> Result<NatsBus, BusError> {
        let mut options = async_nats::ConnectOptions::new()
            .name(client_name)
            .connection_timeout(Duration::from_secs(3))
            .request_timeout(Some(Duration::from_secs(5)))
            .max_reconnects(None);
        if in_background {
            options = options.retry_on_initial_connect();
        }
        // A comma-separated list names several servers of a cluster (the client also learns
        // the others from the one it reaches).
        let servers = server_list(url).map_err(|e| {
            BusError::Unavailable(format!(
                "invalid NATS address {}: {e}",
                without_credentials(url)
            ))
        })?;
        let client = options.connect(servers).await.map_err(|e| {
            BusError::Unavailable(format!(
                "cannot connect to NATS at {}: {e}",
                without_credentials(url)
            ))
        })?;
        let mut js = jetstream::new(client.clone());
        js.set_timeout(Duration::from_secs(5));
        Ok(NatsBus {
            client,
            js,
            stream: stream_name.to_string(),
            prefix: prefix.to_string(),
            ack_wait,
            limits,
            stream_ready: Arc::new(tokio::sync::OnceCell::new()),
        })
    }

    /// Create the stream, or apply the configured limits to it (once per process).
    async fn ensure_stream(&self) -> Result<(), BusError> {
        self.stream_ready
            .get_or_try_init(|| self.create_stream())
            .await
            .map(|_| ())
    }

    async fn create_stream(&self) -> Result<(), BusError> {
        let (js, stream_name, prefix, limits) =
            (&self.js, self.stream.as_str(), &self.prefix, self.limits);
        if self.client.connection_state() != async_nats::connection::State::Connected {
            return Err(BusError::Unavailable(format!(
                "not connected to NATS; cannot create JetStream stream {stream_name}"
            )));
        }
        let stream = js
            .get_or_create_stream(stream::Config {
                name: stream_name.to_string(),
                subjects: vec![format!("{prefix}.>")],
                storage: stream::StorageType::File,
                retention: stream::RetentionPolicy::Limits,
                max_age: limits.max_age,
                max_bytes: limits.max_bytes_i64(),
                num_replicas: limits.replicas,
                duplicate_window: Duration::from_secs(120),
                ..Default::default()
            })
            .await
            .map_err(|e| {
                BusError::Unavailable(format!("cannot create JetStream stream {stream_name}: {e}"))
            })?;
        let current = &stream.cached_info().config;
        if current.num_replicas.max(1) != limits.replicas
            || current.max_age != limits.max_age
            || current.max_bytes != limits.max_bytes_i64()
        {
            let mut config = current.clone();
            config.num_replicas = limits.replicas;
            config.max_age = limits.max_age;
            config.max_bytes = limits.max_bytes_i64();
            js.update_stream(config).await.map_err(|e| {
                BusError::Unavailable(format!(
                    "cannot apply the configured limits to JetStream stream {stream_name}: {e}"
                ))
            })?;
            tracing::info!(
                stream = stream_name,
                replicas = limits.replicas,
                max_age_s = limits.max_age.as_secs(),
                max_bytes = limits.max_bytes_i64(),
                "JetStream stream limits updated"
            );
        }
        Ok(())
    }

    fn full_subject(&self, subject: &str) -> String {
        format!("{}.{subject}", self.prefix)
    }

    /// Delete the stream (tests clean up after themselves).
    pub async fn delete_stream(&self) -> Result<(), BusError> {
        self.js.delete_stream(&self.stream).await.map_err(other)?;
        Ok(())
    }
}

/// The durable consumer of one subject filter of a group: servers before 2.10 take one
/// filter per consumer; a group with one filter keeps the group's own name.
fn consumer_name(group: &str, subject: &str, filters: usize) -> String {
    if filters == 1 {
        return group.to_string();
    }
    let tag: String = subject
        .chars()
        .map(|c| match c {
            '.' => '_',
            '*' => 'S',
            '>' => 'R',
            c => c,
        })
        .collect();
    format!("{group}--{tag}")
}

#[async_trait]
impl Bus for NatsBus {
    async fn publish(&self, event: &Event) -> Result<(), BusError> {
        self.ensure_stream().await?;
        let mut headers = HeaderMap::new();
        headers.insert("Nats-Msg-Id", event.id.as_str());
        let ack = self
            .js
            .publish_with_headers(
                self.full_subject(&event.subject),
                headers,
                event.to_bytes().into(),
            )
            .await
            .map_err(|e| BusError::Unavailable(e.to_string()))?;
        ack.await
            .map_err(|e| BusError::Unavailable(e.to_string()))?;
        Ok(())
    }

    async fn subscribe(
        &self,
        group: &str,
        subjects: &[&str],
    ) -> Result<Box<dyn Subscription>, BusError> {
        self.ensure_stream().await?;
        let stream = self
            .js
            .get_stream(&self.stream)
            .await
            .map_err(|e| BusError::Unavailable(e.to_string()))?;
        // One durable consumer per subject filter (servers before 2.10 take one filter per
        // consumer); a group with one filter keeps the group's own name.
        let mut streams = Vec::with_capacity(subjects.len());
        for subject in subjects {
            let name = consumer_name(group, subject, subjects.len());
            let consumer = stream
                .get_or_create_consumer(
                    &name,
                    pull::Config {
                        durable_name: Some(name.clone()),
                        filter_subject: self.full_subject(subject),
                        ack_policy: jetstream::consumer::AckPolicy::Explicit,
                        ack_wait: self.ack_wait,
                        deliver_policy: jetstream::consumer::DeliverPolicy::All,
                        max_ack_pending: 1_000,
                        ..Default::default()
                    },
                )
                .await
                .map_err(|e| BusError::Unavailable(e.to_string()))?;
            let messages = consumer
                .messages()
                .await
                .map_err(|e| BusError::Unavailable(e.to_string()))?;
            streams.push(Box::pin(messages));
        }
        Ok(Box::new(NatsSubscription {
            messages: futures::stream::select_all(streams),
        }))
    }

    async fn lag(&self, group: &str, subjects: &[&str]) -> Option<u64> {
        let stream = self.js.get_stream(&self.stream).await.ok()?;
        let mut total = 0u64;
        for subject in subjects {
            let name = consumer_name(group, subject, subjects.len());
            let mut consumer: jetstream::consumer::Consumer<pull::Config> =
                stream.get_consumer(&name).await.ok()?;
            let info = consumer.info().await.ok()?;
            total += info.num_pending + info.num_ack_pending as u64;
        }
        Some(total)
    }

    fn is_connected(&self) -> bool {
        self.client.connection_state() == async_nats::connection::State::Connected
    }

    fn kind(&self) -> &'static str {
        "nats"
    }

    fn live_publish(&self, subject: &str, payload: Vec<u8>) {
        let client = self.client.clone();
        let subject = format!("{}-live.{subject}", self.prefix);
        tokio::spawn(async move {
            let _ = client.publish(subject, payload.into()).await;
        });
    }

    async fn live_subscribe(&self, subject: &str) -> Result<super::LiveStream, BusError> {
        let sub = self
            .client
            .subscribe(format!("{}-live.{subject}", self.prefix))
            .await
            .map_err(|e| BusError::Unavailable(e.to_string()))?;
        Ok(Box::pin(sub.map(|m| m.payload.to_vec())))
    }
}

struct NatsSubscription {
    messages: futures::stream::SelectAll<std::pin::Pin<Box<pull::Stream>>>,
}

#[async_trait]
impl Subscription for NatsSubscription {
    async fn next(&mut self) -> Option<Result<Delivery, BusError>> {
        loop {
            let msg = match self.messages.next().await? {
                Ok(m) => m,
                Err(e) => return Some(Err(BusError::Unavailable(e.to_string()))),
            };
            let attempt = msg
                .info()
                .map(|i| u64::try_from(i.delivered).unwrap_or(1))
                .unwrap_or(1);
            match Event::from_bytes(&msg.payload) {
                Ok(event) => {
                    return Some(Ok(Delivery {
                        event,
                        attempt,
                        acker: Box::new(NatsAcker { msg: Arc::new(msg) }),
                    }));
                }
                Err(e) => {
                    tracing::error!(subject = %msg.subject, error = %e, "undecodable event on NATS; terminating it");
                    let _ = msg.ack_with(AckKind::Term).await;
                }
            }
        }
    }
}

struct NatsAcker {
    msg: Arc<jetstream::Message>,
}

#[async_trait]
impl Acker for NatsAcker {
    async fn ack(&self) -> Result<(), BusError> {
        self.msg
            .double_ack()
            .await
            .map_err(|e| BusError::Unavailable(e.to_string()))
    }
    async fn nak(&self, delay: Duration) -> Result<(), BusError> {
        self.msg
            .ack_with(AckKind::Nak(Some(delay)))
            .await
            .map_err(|e| BusError::Unavailable(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_reach_messages() {
        assert_eq!(
            without_credentials("nats://u:pw@nats:4222,nats://tok@n2:4222,nats://n3:4222"),
            "nats://***@nats:4222,nats://***@n2:4222,nats://n3:4222"
        );
        assert_eq!(StreamLimits::default().max_bytes_i64(), -1);
        assert_eq!(StreamLimits::default().replicas, 1);
        assert_eq!(
            StreamLimits::default().max_age,
            Duration::from_secs(7 * 24 * 3600)
        );
    }

    #[test]
    fn a_comma_separated_address_names_every_server_of_a_cluster() {
        let servers = server_list("nats://a:4222, nats://b:4223,nats://c:4224").unwrap();
        assert_eq!(servers.len(), 3);
        assert_eq!(servers[1].host(), "b");
        assert_eq!(servers[2].port(), 4224);
        assert!(server_list("").is_err());
        assert!(server_list("nats://a:notaport").is_err());
    }
}
