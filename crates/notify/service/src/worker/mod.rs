//! The sender: one lane per channel takes that channel's due messages from the queue, most
//! urgent first, and sends them with the channel's concurrency and rate limit, so a slow
//! provider (or a flood of certificate e-mails) never holds up a dispatch alert on another
//! channel, and within a channel a critical message is the next one taken. Transient
//! failures are retried with exponential backoff and jitter; a 429 pauses the lane for the
//! provider's `Retry-After`; permanent failures move the message to the next channel of its
//! plan. A sweeper moves critical messages on when their channel did not confirm delivery
//! within the fallback time.

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU32, Ordering},
    },
    time::{Duration, Instant},
};

/// A message on its last channel without an expiry is retried this long (µs) through an
/// outage before it is reported failed.
const GIVE_UP_AFTER_US: i64 = 24 * 3_600 * 1_000_000;

use kreki_notify_contracts::{Channel as ChannelKind, Priority, Recipient};
use kreki_platform::time_util::now_micros;
use rand::Rng;
use tokio::sync::{Mutex, Notify, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::{
    channel::{Address, Channel, Outgoing, SendError, Sent},
    config::Limits,
    planner::Available,
    store::{Outcome, Queued, Store, enum_text},
    templates::render,
};

mod metrics;
pub use metrics::*;

/// The adapters this deployment has.
#[derive(Default, Clone)]
pub struct Senders {
    pub webpush: Option<Arc<dyn Channel>>,
    pub fcm: Option<Arc<dyn Channel>>,
    pub whatsapp: Option<Arc<dyn Channel>>,
    pub sms: Option<Arc<dyn Channel>>,
    pub email: Option<Arc<dyn Channel>>,
    pub console: Option<Arc<dyn Channel>>,
}

impl Senders {
    pub fn available(&self) -> Available {
        Available {
            push: self.webpush.is_some() || self.fcm.is_some(),
            whatsapp: self.whatsapp.is_some(),
            sms: self.sms.is_some(),
            email: self.email.is_some(),
            console: self.console.is_some(),
        }
    }

    /// The lanes to run.
    pub fn kinds(&self) -> Vec<ChannelKind> {
        let a = self.available();
        [
            (a.push, ChannelKind::Push),
            (a.whatsapp, ChannelKind::Whatsapp),
            (a.sms, ChannelKind::Sms),
            (a.email, ChannelKind::Email),
            (a.console, ChannelKind::Console),
        ]
        .into_iter()
        .filter_map(|(on, k)| on.then_some(k))
        .collect()
    }
}

/// Tuning of the sender.
#[derive(Debug, Clone)]
pub struct Settings {
    pub fallback_after: Duration,
    pub max_attempts: i64,
    pub limits: HashMap<ChannelKind, Limits>,
    /// Default time-to-live at push services when a message has no expiry.
    pub default_ttl: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            fallback_after: Duration::from_secs(15),
            max_attempts: 8,
            limits: HashMap::new(),
            default_ttl: Duration::from_secs(3_600),
        }
    }
}

/// The lanes' doorbells, and their express entrance for critical messages: the transaction
/// that queues a critical message also leases it to this process ([`Store::claim_one`]),
/// and after the commit it goes to its lane in memory ([`Lanes::hand_over`]): no second
/// commit to claim it, no wait for the lane's next look at the queue. If the process dies
/// before the send, the lease runs out and the queue gives the message back (at least once).
pub struct Lanes {
    wakes: HashMap<ChannelKind, Arc<Notify>>,
    express: HashMap<ChannelKind, Express>,
    lease_us: i64,
}

#[derive(Default)]
struct Express {
    sender: std::sync::Mutex<Option<tokio::sync::mpsc::UnboundedSender<Queued>>>,
    /// The lane waits out a provider outage or rate limit: critical messages go through
    /// the queue (and fall back to the next channel) instead.
    paused: AtomicBool,
}

impl Express {
    /// The lane's entrance (`None`: no lane here yet), locked for one look.
    fn entrance(
        &self,
    ) -> std::sync::MutexGuard<'_, Option<tokio::sync::mpsc::UnboundedSender<Queued>>> {
        self.sender.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// What to do once a queueing transaction committed.
#[derive(Debug)]
pub enum Next {
    /// Nothing to send (a duplicate, suppressed, or no channel).
    Nothing,
    /// Wake the lane of this channel: the message waits in the queue.
    Wake(ChannelKind),
    /// Leased to this process: hand it to its lane.
    Express(Box<Queued>),
}

const LANE_KINDS: [ChannelKind; 5] = [
    ChannelKind::Push,
    ChannelKind::Whatsapp,
    ChannelKind::Sms,
    ChannelKind::Email,
    ChannelKind::Console,
];

impl Lanes {
    /// Lanes for a store (its lease is the express messages' lease).
    pub fn new(store: &Store) -> Arc<Self> {
        Arc::new(Lanes {
            wakes: LANE_KINDS
                .into_iter()
                .map(|k| (k, Arc::new(Notify::new())))
                .collect(),
            express: LANE_KINDS
                .into_iter()
                .map(|k| (k, Express::default()))
                .collect(),
            lease_us: store.lease_us(),
        })
    }

    /// Wake the lane of a channel (something changed in its queue).
    pub fn wake(&self, kind: impl Into<Option<ChannelKind>>) {
        if let Some(n) = kind.into().and_then(|k| self.wakes.get(&k)) {
            n.notify_one();
        }
    }

    fn doorbell(&self, kind: ChannelKind) -> Arc<Notify> {
        self.wakes
            .get(&kind)
            .cloned()
            .unwrap_or_else(|| Arc::new(Notify::new()))
    }

    /// Does a lane of this channel run in this process and take messages right now?
    pub fn takes(&self, kind: ChannelKind) -> bool {
        self.express.get(&kind).is_some_and(|e| {
            !e.paused.load(Ordering::Relaxed)
                && e.entrance().as_ref().is_some_and(|s| !s.is_closed())
        })
    }

    /// The lease of a message handed over in memory (µs).
    pub fn lease_us(&self) -> i64 {
        self.lease_us
    }

    /// After the commit: hand the message to its lane, or wake the lane.
    pub fn hand_over(&self, next: Next) {
        match next {
            Next::Nothing => {}
            Next::Wake(kind) => self.wake(kind),
            Next::Express(m) => {
                let kind = m.channel;
                let sent = self
                    .express
                    .get(&kind)
                    .is_some_and(|e| e.entrance().as_ref().is_some_and(|s| s.send(*m).is_ok()));
                if !sent {
                    // The lane stopped: the lease brings the message back to the queue.
                    tracing::warn!(channel = ?kind, "lane gone; the message waits for its lease");
                }
            }
        }
    }

    fn open(&self, kind: ChannelKind) -> tokio::sync::mpsc::UnboundedReceiver<Queued> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        if let Some(e) = self.express.get(&kind) {
            *e.entrance() = Some(tx);
            e.paused.store(false, Ordering::Relaxed);
        }
        rx
    }

    fn pause(&self, kind: ChannelKind, paused: bool) {
        if let Some(e) = self.express.get(&kind) {
            e.paused.store(paused, Ordering::Relaxed);
        }
    }
}

#[derive(Clone)]
pub struct Worker {
    pub store: Store,
    pub senders: Senders,
    pub lanes: Arc<Lanes>,
    pub settings: Arc<Settings>,
    pub metrics: Option<Arc<NotifyMetrics>>,
}

struct Lane {
    kind: ChannelKind,
    permits: Arc<Semaphore>,
    /// Extra sends only `critical` and `high` messages may use: an urgent message never
    /// waits for a lane full of normal ones.
    reserve: Arc<Semaphore>,
    /// Outcomes go to the recorder (one commit for a burst of sends).
    outcomes: tokio::sync::mpsc::UnboundedSender<(Queued, Outcome)>,
    /// Transient failures in a row (the provider is down: the lane pauses, longer each time).
    failures: AtomicU32,
    paused_until: Mutex<Option<Instant>>,
    next_slot: Mutex<Instant>,
    interval: Option<Duration>,
}

impl Worker {
    /// Lanes for every channel this deployment has, the recorder of their outcomes, and
    /// the sweeper (expired leases, fallbacks).
    pub async fn run(self, cancel: CancellationToken) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let recorder = {
            let w = self.clone();
            tokio::spawn(async move { w.recorder(rx).await })
        };
        let mut tasks = Vec::new();
        for kind in self.senders.kinds() {
            let w = self.clone();
            let c = cancel.clone();
            let outcomes = tx.clone();
            tasks.push(tokio::spawn(async move { w.lane(kind, c, outcomes).await }));
        }
        drop(tx);
        let w = self.clone();
        let c = cancel.clone();
        tasks.push(tokio::spawn(async move { w.fallback_sweeper(c).await }));
        for t in tasks {
            let _ = t.await;
        }
        // Sends still in flight hand in their outcomes; the recorder ends with the last.
        let _ = recorder.await;
    }

    /// Writes outcomes as they come, all that are waiting in one transaction.
    async fn recorder(&self, mut rx: tokio::sync::mpsc::UnboundedReceiver<(Queued, Outcome)>) {
        let fallback =
            i64::try_from(self.settings.fallback_after.as_micros()).unwrap_or(i64::MAX / 2);
        while let Some(first) = rx.recv().await {
            let mut batch = vec![first];
            while batch.len() < 128 {
                match rx.try_recv() {
                    Ok(x) => batch.push(x),
                    Err(_) => break,
                }
            }
            match self.store.record_many(&batch, fallback).await {
                Ok(moved) => {
                    for k in moved.into_iter().flatten() {
                        self.wake(k);
                    }
                }
                // The leases expire and the messages are tried again: at-least-once.
                Err(e) => {
                    tracing::warn!(messages = batch.len(), error = %e, "cannot record delivery outcomes")
                }
            }
        }
    }

    fn wake(&self, kind: ChannelKind) {
        self.lanes.wake(kind);
    }

    async fn fallback_sweeper(&self, cancel: CancellationToken) {
        let every = (self.settings.fallback_after / 4)
            .clamp(Duration::from_millis(50), Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(every) => {}
            }
            // Secrets kept for a next channel that did not come.
            if let Err(e) = self.store.blank_kept_secrets(100).await {
                tracing::warn!(error = %e, "notify secret sweep failed");
            }
            // Leases of a sender that died, then critical messages without a receipt.
            for sweep in [
                self.store.reclaim_expired().await,
                self.store.fallbacks_due(100).await,
            ] {
                match sweep {
                    Ok(lanes) => {
                        for k in lanes {
                            self.wake(k);
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "notify sweep failed"),
                }
            }
        }
    }

    async fn lane(
        &self,
        kind: ChannelKind,
        cancel: CancellationToken,
        outcomes: tokio::sync::mpsc::UnboundedSender<(Queued, Outcome)>,
    ) {
        let limits = self.settings.limits.get(&kind).copied().unwrap_or_default();
        let concurrency = limits.concurrency.max(1);
        let lane = Arc::new(Lane {
            kind,
            permits: Arc::new(Semaphore::new(concurrency)),
            reserve: Arc::new(Semaphore::new(concurrency.div_ceil(2))),
            outcomes,
            failures: AtomicU32::new(0),
            paused_until: Mutex::new(None),
            next_slot: Mutex::new(Instant::now()),
            interval: (limits.per_second > 0.0)
                .then(|| Duration::from_secs_f64(1.0 / limits.per_second)),
        });
        let wake = self.lanes.doorbell(kind);
        let mut express = self.lanes.open(kind);
        loop {
            if cancel.is_cancelled() {
                return;
            }
            // Critical messages handed over in memory go first.
            while let Ok(m) = express.try_recv() {
                if !self.dispatch(&lane, m).await {
                    return;
                }
            }
            let paused = *lane.paused_until.lock().await;
            if let Some(until) = paused
                && until > Instant::now()
            {
                self.lanes.pause(kind, true);
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = tokio::time::sleep_until(until.into()) => self.lanes.pause(kind, false),
                    Some(m) = express.recv() => {
                        if !self.dispatch(&lane, m).await {
                            return;
                        }
                    }
                }
                continue;
            }
            // Claim only what can be sent now, so that nothing claimed waits behind a
            // slow provider while a more urgent message arrives; with every ordinary slot
            // busy, only urgent messages, on the reserve.
            let free = lane.permits.available_permits();
            let reserve = lane.reserve.available_permits();
            let (limit, most) = if free > 0 {
                (free.min(32), Priority::Low)
            } else {
                (reserve.min(8), Priority::High)
            };
            let batch = if limit == 0 {
                Vec::new()
            } else {
                match self
                    .store
                    .claim_up_to(kind, i64::try_from(limit).unwrap_or(8), most)
                    .await
                {
                    Ok(b) => b,
                    Err(e) => {
                        tracing::warn!(channel = ?kind, error = %e, "notify queue unavailable");
                        Vec::new()
                    }
                }
            };
            let got = batch.len();
            for m in batch {
                if !self.dispatch(&lane, m).await {
                    return;
                }
            }
            if got > 0 {
                continue;
            }
            let handed = if free == 0 {
                // Saturated: go on when an ordinary slot frees (after a moment, so that
                // claims come in batches) or an urgent message arrives.
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = wake.notified() => None,
                    Some(m) = express.recv() => Some(m),
                    p = lane.permits.clone().acquire_owned() => {
                        drop(p);
                        tokio::time::sleep(Duration::from_millis(2)).await;
                        None
                    }
                }
            } else {
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = wake.notified() => None,
                    Some(m) = express.recv() => Some(m),
                    _ = tokio::time::sleep(Duration::from_millis(250)) => None,
                }
            };
            if let Some(m) = handed
                && !self.dispatch(&lane, m).await
            {
                return;
            }
        }
    }

    /// Start one send on the lane: a free slot (urgent messages may take the reserve),
    /// the rate limit's next slot, then the send in its own task. `false`: shutting down.
    async fn dispatch(&self, lane: &Arc<Lane>, m: Queued) -> bool {
        let urgent = m.priority <= Priority::High;
        let permit = match lane.permits.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) if urgent => match lane.reserve.clone().acquire_owned().await {
                Ok(p) => p,
                Err(_) => return false,
            },
            Err(_) => match lane.permits.clone().acquire_owned().await {
                Ok(p) => p,
                Err(_) => return false,
            },
        };
        if let Some(iv) = lane.interval {
            let mut slot = lane.next_slot.lock().await;
            let now = Instant::now();
            if *slot > now {
                tokio::time::sleep_until((*slot).into()).await;
            }
            *slot = (*slot).max(now) + iv;
        }
        let w = self.clone();
        let l = lane.clone();
        tokio::spawn(async move {
            w.deliver(&l, m).await;
            drop(permit);
        });
        true
    }

    fn backoff(&self, attempts: i64) -> i64 {
        let base = 500u64.saturating_mul(1 << (attempts - 1).clamp(0, 10));
        let delay_ms = base.min(60_000) + rand::thread_rng().gen_range(0..250u64);
        now_micros() + i64::try_from(delay_ms * 1000).unwrap_or(i64::MAX / 2)
    }

    async fn deliver(&self, lane: &Lane, m: Queued) {
        let now = now_micros();
        let outcome = if m.expires_at.is_some_and(|e| e <= now) {
            Outcome::Expired
        } else {
            let started = Instant::now();
            // A provider's answer may quote the text: its secrets stay out of the history.
            let result = self.send(&m, now).await.map_err(|e| redact(e, &m));
            if let Some(metrics) = &self.metrics {
                let label = ChannelLabel {
                    service: crate::store::SOURCE.to_string(),
                    channel: enum_text(&lane.kind),
                };
                metrics
                    .provider_seconds
                    .get_or_create(&label)
                    .observe(started.elapsed().as_secs_f64());
                if result.is_ok() {
                    metrics
                        .queued_seconds
                        .get_or_create(&label)
                        .observe((now_micros() - m.created_at).max(0) as f64 / 1e6);
                }
            }
            if result.is_ok() {
                lane.failures.store(0, Ordering::Relaxed);
            }
            match result {
                Ok(sent) => Outcome::Sent {
                    provider_ref: sent.provider_ref,
                    delivered: sent.delivered,
                },
                Err(SendError::Permanent(e)) | Err(SendError::Gone(e)) => {
                    Outcome::Failed { detail: e }
                }
                Err(SendError::RateLimited {
                    detail,
                    retry_after,
                }) => {
                    *lane.paused_until.lock().await = Some(Instant::now() + retry_after);
                    if m.attempts >= self.settings.max_attempts * 2 {
                        Outcome::Failed {
                            detail: format!("gave up: {detail}"),
                        }
                    } else {
                        Outcome::Retry {
                            at: now_micros()
                                + i64::try_from(retry_after.as_micros()).unwrap_or(i64::MAX / 2),
                            detail,
                        }
                    }
                }
                // Another channel can take it: move on after `max_attempts`.
                Err(SendError::Transient(e))
                    if m.attempts >= self.settings.max_attempts && m.has_next() =>
                {
                    Outcome::Failed {
                        detail: format!("gave up on this channel: {e}"),
                    }
                }
                // The last channel: the queue holds it through an outage, until it expires
                // (or a day has passed: then it is reported failed).
                Err(SendError::Transient(e))
                    if now - m.created_at > GIVE_UP_AFTER_US && m.expires_at.is_none() =>
                {
                    Outcome::Failed {
                        detail: format!("gave up after a day: {e}"),
                    }
                }
                Err(SendError::Transient(e)) => {
                    let at = if lane.kind == ChannelKind::Push {
                        // Every push subscription has its own push service: one failing
                        // endpoint says nothing about the others.
                        self.backoff(m.attempts)
                    } else {
                        // One provider behind the lane: it is down for everyone. The lane
                        // pauses and the message waits at the head of the queue, so that
                        // after the outage everything goes out in priority order.
                        let n = lane.failures.fetch_add(1, Ordering::Relaxed) + 1;
                        let pause = Duration::from_millis(
                            (250u64 << n.clamp(1, 8).saturating_sub(1)).min(30_000),
                        );
                        *lane.paused_until.lock().await = Some(Instant::now() + pause);
                        now_micros() + i64::try_from(pause.as_micros()).unwrap_or(i64::MAX / 2)
                    };
                    Outcome::Retry { at, detail: e }
                }
            }
        };
        if let Some(metrics) = &self.metrics {
            let name = match &outcome {
                Outcome::Sent {
                    delivered: true, ..
                } => "delivered",
                Outcome::Sent { .. } => "sent",
                Outcome::Retry { .. } => "retry",
                Outcome::Failed { .. } => "failed",
                Outcome::Expired => "expired",
            };
            metrics.count(lane.kind, name);
        }
        if lane.outcomes.send((m, outcome)).is_err() {
            tracing::warn!("notify recorder stopped; the lease brings the message back");
        }
    }

    /// Render and send on the message's current channel, to every address it has there.
    async fn send(&self, m: &Queued, now: i64) -> Result<Sent, SendError> {
        let r = render(m.template, m.language, &m.vars);
        let ttl = m
            .expires_at
            .map(|e| {
                Duration::from_micros(u64::try_from((e - now).max(1_000_000)).unwrap_or(1_000_000))
            })
            .unwrap_or(self.settings.default_ttl);
        let mut out = Outgoing {
            id: m.id.clone(),
            reference: m.reference(),
            to: Address::Text(String::new()),
            priority: m.priority,
            template: m.template,
            language: m.language,
            vars: m.vars.clone(),
            title: r.title,
            body: r.body,
            sms: r.sms,
            correlation_id: m.correlation_id.clone(),
            attachments: m.attachments.clone(),
            ttl,
        };
        let storage = |e: sqlx::Error| SendError::Transient(format!("directory unavailable: {e}"));
        match m.channel {
            ChannelKind::Console => {
                let label = match &m.recipient {
                    Recipient::Account(a) => format!("account:{a}"),
                    Recipient::Address(a) => a.clone(),
                };
                out.to = Address::Text(label);
                one(&self.senders.console, &out).await
            }
            ChannelKind::Sms | ChannelKind::Whatsapp | ChannelKind::Email => {
                let address = match &m.recipient {
                    Recipient::Address(a) => Some(a.clone()),
                    Recipient::Account(a) => {
                        let (email, phone) = match &m.addresses {
                            Some(known) => (known.email.clone(), known.phone.clone()),
                            None => self.store.addresses(a).await.map_err(storage)?,
                        };
                        if m.channel == ChannelKind::Email {
                            email
                        } else {
                            phone
                        }
                    }
                };
                let Some(address) = address else {
                    return Err(SendError::Permanent(
                        "the recipient has no address for this channel".into(),
                    ));
                };
                out.to = Address::Text(address);
                let sender = match m.channel {
                    ChannelKind::Sms => &self.senders.sms,
                    ChannelKind::Whatsapp => &self.senders.whatsapp,
                    _ => &self.senders.email,
                };
                one(sender, &out).await
            }
            ChannelKind::Push => {
                let Recipient::Account(account) = &m.recipient else {
                    return Err(SendError::Permanent("push needs an account".into()));
                };
                let targets = match &m.addresses {
                    Some(known) => known.push.clone(),
                    None => self.store.push_targets(account).await.map_err(storage)?,
                };
                let mut first_ok: Option<Sent> = None;
                let mut last_err = SendError::Permanent("no push subscription".into());
                for t in targets {
                    let (sender, to) = match (t.kind.as_str(), t.p256dh, t.auth) {
                        ("webpush", Some(p256dh), Some(auth)) => (
                            &self.senders.webpush,
                            Address::WebPush {
                                endpoint: t.endpoint.clone(),
                                p256dh,
                                auth,
                            },
                        ),
                        ("fcm", _, _) => (&self.senders.fcm, Address::Fcm(t.endpoint.clone())),
                        _ => continue,
                    };
                    out.to = to;
                    match one(sender, &out).await {
                        Ok(s) => {
                            if first_ok.is_none() {
                                first_ok = Some(s);
                            }
                        }
                        Err(SendError::Gone(e)) => {
                            tracing::info!(message_id = %m.id, "push subscription gone; removed");
                            if let Err(err) = self.store.drop_push_target(&t.id).await {
                                tracing::warn!(error = %err, "cannot remove a gone push subscription");
                            }
                            last_err = SendError::Permanent(format!("subscription gone: {e}"));
                        }
                        Err(e) => {
                            // A transient failure wins over a permanent one: worth a retry.
                            if !matches!(
                                last_err,
                                SendError::Transient(_) | SendError::RateLimited { .. }
                            ) {
                                last_err = e;
                            }
                        }
                    }
                }
                first_ok.ok_or(last_err)
            }
        }
    }
}

/// A send error without the message's secret values (the detail goes to the history).
fn redact(e: SendError, m: &Queued) -> SendError {
    let secrets: Vec<String> = m
        .template
        .secret_vars()
        .iter()
        .filter_map(|k| m.vars.get(*k))
        .map(|v| match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .filter(|v| v.len() >= 4)
        .collect();
    if secrets.is_empty() {
        return e;
    }
    let clean = |mut d: String| {
        for s in &secrets {
            d = d.replace(s.as_str(), crate::channel::console::MASK);
        }
        d
    };
    match e {
        SendError::Transient(d) => SendError::Transient(clean(d)),
        SendError::Permanent(d) => SendError::Permanent(clean(d)),
        SendError::Gone(d) => SendError::Gone(clean(d)),
        SendError::RateLimited {
            detail,
            retry_after,
        } => SendError::RateLimited {
            detail: clean(detail),
            retry_after,
        },
    }
}

async fn one(sender: &Option<Arc<dyn Channel>>, out: &Outgoing) -> Result<Sent, SendError> {
    match sender {
        Some(s) => s.send(out).await,
        None => Err(SendError::Permanent("channel not configured".into())),
    }
}
