//! Dispatch: one task per open case offers it to the best candidates in waves, replaces
//! declines and time-outs with the next candidates, widens the radius step by step, stops
//! when enough accepted, and escalates to PSC 119 when nobody accepted in time (while it
//! keeps looking for volunteers). Offers reach volunteers through notify (critical priority,
//! deduplicated by offer id, expiring with the wave); the app opened from that alert reads
//! `GET /offers/mine`.
//!
//! Everything a task decides is written to the store before it acts, so after a restart the
//! task of each open case resumes from the stored offers and timeline.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
    time::Duration,
};

use kreki_emergency_contracts::{
    CASE_ESCALATED, CaseEscalated, Severity,
    socket::{ServerMsg, TeamMember},
};
use kreki_notify_contracts::{MESSAGE_REQUESTED, MessageRequested, Priority, Template};
use kreki_platform::{
    bus::{Event, outbox},
    storage::Tx,
    time_util::{now_micros, rfc3339},
};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::{
    config::EmergencyConfig,
    domain::OfferState,
    geo::LatLng,
    presence::Live,
    store::{CaseRecord, Milestone, OfferRow, Store, timeline_add},
};

pub struct Dispatcher {
    pub store: Store,
    pub live: Arc<Live>,
    pub config: Arc<EmergencyConfig>,
    pub base_url: String,
    pub shutdown: CancellationToken,
    pub hub: Arc<crate::hub::Hub>,
    pub timings: Option<Timings>,
    wakers: Mutex<HashMap<String, Arc<Notify>>>,
    /// This replica's identity in dispatch leases.
    replica: String,
}

/// Prometheus histograms of the response times, by severity.
pub struct Timings {
    families: [prometheus_client::metrics::family::Family<
        SeverityLabel,
        prometheus_client::metrics::histogram::Histogram,
    >; 3],
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
pub struct SeverityLabel {
    pub service: String,
    pub severity: String,
}

fn response_buckets() -> prometheus_client::metrics::histogram::Histogram {
    prometheus_client::metrics::histogram::Histogram::new([
        0.01, 0.05, 0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0,
    ])
}

impl Timings {
    pub fn new(metrics: &kreki_platform::metrics::Metrics) -> Timings {
        let make = || {
            prometheus_client::metrics::family::Family::<
                SeverityLabel,
                prometheus_client::metrics::histogram::Histogram,
            >::new_with_constructor(
                response_buckets as fn() -> prometheus_client::metrics::histogram::Histogram,
            )
        };
        let families = [make(), make(), make()];
        for (name, f) in ["first_offer", "first_accept", "first_arrival"]
            .iter()
            .zip(families.iter())
        {
            metrics.register(
                &format!("kreki_emergency_time_to_{name}_seconds"),
                &format!("Seconds from the panic to the {name}"),
                f.clone(),
            );
        }
        Timings { families }
    }

    pub fn observe(&self, m: Milestone, severity: Severity, seconds: f64) {
        let i = match m {
            Milestone::FirstOffer => 0,
            Milestone::FirstAccept => 1,
            Milestone::FirstArrival => 2,
        };
        self.families[i]
            .get_or_create(&SeverityLabel {
                service: "emergency".into(),
                severity: severity.sev().to_ascii_lowercase(),
            })
            .observe(seconds.max(0.0));
    }
}

/// How long a replica owns a case's dispatch without renewing (it renews every step, at
/// least every second).
const LEASE_US: i64 = 10_000_000;

fn escalation_window_s(cfg: &EmergencyConfig, s: Severity) -> u32 {
    match s {
        Severity::Critical => cfg.escalate_critical_s,
        Severity::Urgent => cfg.escalate_urgent_s,
        Severity::Normal => cfg.escalate_normal_s,
    }
}

/// Flag the case as escalated and publish `emergency.case.escalated` (once per case).
pub async fn escalate(
    tx: &mut Tx,
    case: &CaseRecord,
    reason: &str,
    actor: Option<&str>,
) -> Result<bool, sqlx::Error> {
    if !Store::mark_escalated(tx, &case.id).await? {
        return Ok(false);
    }
    let ev = CaseEscalated {
        case_id: case.id.clone(),
        severity: case.severity,
        sev: case.severity.sev().into(),
        priority: case.severity.psc119_priority().into(),
        kind: case.kind,
        latitude: case.latitude,
        longitude: case.longitude,
        caller_phone: case.caller_phone.clone(),
        reason: reason.into(),
        description: case.description.clone(),
        responders: u32::try_from(case.responders.len()).unwrap_or(0),
        at: rfc3339(now_micros()),
    };
    let event = Event::new("emergency", CASE_ESCALATED, &ev)
        .map_err(|e| sqlx::Error::Encode(Box::new(e)))?
        .correlated(case.id.clone());
    outbox::enqueue(tx, &event).await?;
    timeline_add(
        tx,
        &case.id,
        "escalated",
        actor,
        &serde_json::json!({ "reason": reason, "priority": ev.priority }),
    )
    .await?;
    Ok(true)
}

/// The current update of a case and its team's ids.
pub async fn case_update(
    store: &Store,
    case_id: &str,
) -> Result<Option<(ServerMsg, Vec<String>)>, sqlx::Error> {
    let Some(case) = store.get(case_id).await? else {
        return Ok(None);
    };
    let alerted = u32::try_from(store.offers(case_id).await?.len()).unwrap_or(u32::MAX);
    let team: Vec<TeamMember> = case
        .responders
        .iter()
        .map(|r| TeamMember {
            volunteer_id: r.volunteer_id.clone(),
            status: r.status,
            is_lead: r.is_lead,
            eta_minutes: r.eta_minutes,
        })
        .collect();
    let ids = team.iter().map(|t| t.volunteer_id.clone()).collect();
    Ok(Some((
        ServerMsg::CaseUpdate {
            case_id: case.id,
            status: case.status,
            escalated: case.escalated,
            alerted,
            team,
        },
        ids,
    )))
}

impl Dispatcher {
    pub fn new(
        store: Store,
        live: Arc<Live>,
        config: Arc<EmergencyConfig>,
        base_url: String,
        shutdown: CancellationToken,
    ) -> Dispatcher {
        Dispatcher {
            store,
            live,
            config,
            base_url,
            shutdown,
            hub: Arc::new(crate::hub::Hub::default()),
            timings: None,
            wakers: Mutex::new(HashMap::new()),
            replica: uuid::Uuid::now_v7().to_string(),
        }
    }

    /// This replica's id.
    pub fn replica(&self) -> &str {
        &self.replica
    }

    /// Take or renew the lease of a case's dispatch; `false` when another live replica owns it.
    pub async fn lease(&self, case_id: &str) -> Result<bool, sqlx::Error> {
        let now = now_micros();
        let won = sqlx::query(
            "INSERT INTO dispatch_leases (case_id, owner, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (case_id) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at \
             WHERE dispatch_leases.owner = excluded.owner OR dispatch_leases.expires_at < $4",
        )
        .bind(case_id)
        .bind(&self.replica)
        .bind(now + LEASE_US)
        .bind(now)
        .execute(self.store.db().writer())
        .await?
        .rows_affected();
        Ok(won == 1)
    }

    pub async fn release(&self, case_id: &str) {
        let _ = sqlx::query("DELETE FROM dispatch_leases WHERE case_id = $1 AND owner = $2")
            .bind(case_id)
            .bind(&self.replica)
            .execute(self.store.db().writer())
            .await;
    }

    /// Start a task for every open case that has none here (a dead replica's cases are taken
    /// over once their leases expire).
    pub async fn sweep(self: &Arc<Self>) {
        let Ok(ids) = self.store.open_case_ids().await else {
            return;
        };
        for id in ids {
            let running = self
                .wakers
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .contains_key(&id);
            if !running {
                self.start(id);
            }
        }
    }

    pub fn observe(&self, m: Milestone, severity: Severity, seconds: f64) {
        if let Some(t) = &self.timings {
            t.observe(m, severity, seconds);
        }
    }

    /// Tell the case's caller, team and Ops what it looks like now.
    pub async fn announce(&self, case_id: &str) {
        match case_update(&self.store, case_id).await {
            Ok(Some((msg, team))) => self.hub.to_case(case_id, &team, &msg),
            Ok(None) => {}
            Err(e) => tracing::warn!(case_id, error = %e, "cannot announce a case update"),
        }
    }

    /// A case changed: re-run its dispatch step and announce it.
    pub fn changed(self: &Arc<Self>, case_id: &str) {
        self.wake(case_id);
        let me = self.clone();
        let id = case_id.to_string();
        tokio::spawn(async move { me.announce(&id).await });
    }

    fn waker(&self, case_id: &str) -> Arc<Notify> {
        self.wakers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(case_id.to_string())
            .or_insert_with(|| Arc::new(Notify::new()))
            .clone()
    }

    /// Something changed in the case (an answer, a status, a cancellation).
    pub fn wake(&self, case_id: &str) {
        if let Some(n) = self
            .wakers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(case_id)
        {
            n.notify_one();
        }
    }

    /// Start (or resume) dispatching a case.
    pub fn start(self: &Arc<Self>, case_id: String) {
        let me = self.clone();
        if self
            .wakers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains_key(&case_id)
        {
            return;
        }
        let wake = self.waker(&case_id);
        tokio::spawn(async move {
            let id = case_id.clone();
            loop {
                let owned = match me.lease(&case_id).await {
                    Ok(o) => o,
                    Err(e) => {
                        tracing::warn!(case_id = %case_id, error = %e, "cannot take the dispatch lease");
                        false
                    }
                };
                let outcome = if owned {
                    me.step(&case_id).await
                } else {
                    // Another replica dispatches this case; look again when its lease may lapse.
                    match me.store.get(&case_id).await {
                        Ok(Some(c)) if c.status.is_open() => Ok(Some(Duration::from_secs(2))),
                        Ok(_) => Ok(None),
                        Err(e) => Err(e.into()),
                    }
                };
                match outcome {
                    Ok(Some(wait)) => {
                        tokio::select! {
                            _ = me.shutdown.cancelled() => break,
                            _ = wake.notified() => {}
                            _ = tokio::time::sleep(wait) => {}
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::warn!(case_id = %case_id, error = %e, "dispatch step failed; retrying");
                        tokio::select! {
                            _ = me.shutdown.cancelled() => break,
                            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                        }
                    }
                }
            }
            me.release(&id).await;
            me.wakers
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .remove(&id);
        });
    }

    /// One round of decisions; returns how long to wait before the next, or `None` when the
    /// case needs no more dispatching.
    async fn step(&self, case_id: &str) -> anyhow::Result<Option<Duration>> {
        let cfg = &self.config;
        let Some(case) = self.store.get(case_id).await? else {
            return Ok(None);
        };
        let now = now_micros();
        let mut tx = self.store.db().begin().await?;
        let Some(state) = self.store.lock(&mut tx, case_id).await? else {
            return Ok(None);
        };
        // Closed, or enough people: withdraw what is still open and stop.
        if !state.status.is_open() || state.responders.len() >= state.accepts_wanted {
            let withdrawn =
                Store::close_open_offers(&mut tx, case_id, OfferState::Withdrawn, None).await?;
            for v in &withdrawn {
                self.notify_withdrawn(&mut tx, &case, v).await?;
            }
            tx.commit().await?;
            return Ok(None);
        }
        Store::close_open_offers(&mut tx, case_id, OfferState::Expired, Some(now)).await?;
        let offers = Store::offers_in(&mut tx, case_id).await?;
        // Escalate when nobody accepted within the severity's window.
        let age_s = (now - case.created_at_us) as f64 / 1e6;
        let window = f64::from(escalation_window_s(cfg, case.severity));
        let mut changed = false;
        let mut first_offer = false;
        let mut by_socket = Vec::new();
        if !case.escalated && state.responders.is_empty() && age_s >= window {
            changed = true;
            escalate(&mut tx, &case, "no_accept_in_time", None).await?;
            tracing::warn!(
                case_id,
                "no volunteer accepted in time; escalated to PSC 119"
            );
        }
        // Which wave are we in?
        let wave_s = f64::from(cfg.wave_timeout_s.max(1));
        let last_step = cfg.radius_steps_m.len() - 1;
        let last_wave = offers.iter().map(|o| o.wave).max().unwrap_or(-1);
        // By time, and never narrower than a wave already used (an empty wave widens early).
        let mut step = ((age_s / wave_s) as usize)
            .max(usize::try_from(last_wave).unwrap_or(0))
            .min(last_step);
        let mut radius = f64::from(cfg.radius_steps_m[step]);
        if step as i64 > last_wave && last_wave >= 0 {
            timeline_add(
                &mut tx,
                case_id,
                "wave_widened",
                None,
                &serde_json::json!({ "wave": step, "radius_m": radius }),
            )
            .await?;
        }
        let open = offers
            .iter()
            .filter(|o| o.state == OfferState::Open)
            .count();
        let wanted_now = (cfg.offers_per_wave as usize).saturating_sub(open);
        if wanted_now > 0 {
            // Not again to anyone offered this case, and not to anyone responding to an open
            // case now (their app would drop the offer and the place would be wasted).
            let mut offered: HashSet<String> =
                offers.iter().map(|o| o.volunteer_id.clone()).collect();
            offered.extend(Store::busy_volunteers(&mut tx).await?);
            let center = LatLng::new(case.latitude, case.longitude)?;
            let find = |radius: f64| {
                self.live.candidates(
                    center,
                    radius,
                    wanted_now,
                    case.severity,
                    &offered,
                    cfg.max_location_age_s,
                )
            };
            let mut candidates = find(radius);
            // Nobody in reach and nobody still deciding: waiting out this wave helps no one,
            // the next radius is tried at once (the offers record the wave they belong to).
            while candidates.is_empty() && open == 0 && step < last_step {
                step += 1;
                radius = f64::from(cfg.radius_steps_m[step]);
                candidates = find(radius);
            }
            let expires = now + i64::from(cfg.offer_timeout_s) * 1_000_000;
            for c in &candidates {
                let offer = OfferRow {
                    id: uuid::Uuid::now_v7().to_string(),
                    case_id: case_id.to_string(),
                    volunteer_id: c.volunteer_id.clone(),
                    wave: step as i64,
                    state: OfferState::Open,
                    distance_m: c.distance_m.round() as i64,
                    expires_at_us: expires,
                    expires_at: rfc3339(expires),
                };
                Store::insert_offer(&mut tx, &offer).await?;
                let socket = self.hub.volunteer_connected(&c.volunteer_id);
                timeline_add(
                    &mut tx,
                    case_id,
                    "offer_sent",
                    Some(&c.volunteer_id),
                    &serde_json::json!({ "wave": step, "distance_m": offer.distance_m, "class": c.class,
                        "location_age_s": c.location_age_s, "via": if socket { "socket" } else { "notify" } }),
                )
                .await?;
                if !socket {
                    self.notify_offer(&mut tx, &case, &offer).await?;
                }
                // Sent to sockets after the commit: here, or on another replica that holds
                // the volunteer's socket (the apps drop a second copy by offer id).
                by_socket.push((offer, !socket));
                changed = true;
            }
            if !candidates.is_empty() {
                first_offer = Store::milestone(&mut tx, case_id, Milestone::FirstOffer).await?;
            }
        }
        tx.commit().await?;
        if first_offer {
            self.observe(
                Milestone::FirstOffer,
                case.severity,
                (now - case.created_at_us) as f64 / 1e6,
            );
        }
        for (offer, notified) in by_socket {
            let msg = ServerMsg::Offer {
                offer_id: offer.id.clone(),
                case_id: case_id.to_string(),
                severity: case.severity,
                kind: case.kind,
                latitude: case.latitude,
                longitude: case.longitude,
                distance_m: offer.distance_m,
                expires_at: offer.expires_at.clone(),
                description: case.description.clone(),
            };
            if self.hub.to_volunteer(&offer.volunteer_id, &msg) == 0 && !notified {
                // The socket went away in between: fall back to notify.
                let mut tx = self.store.db().begin().await?;
                self.notify_offer(&mut tx, &case, &offer).await?;
                tx.commit().await?;
            }
        }
        if changed {
            self.announce(case_id).await;
        }
        // Wake for the next expiry, wave change or escalation deadline, at least every second.
        let next_offer = offers
            .iter()
            .filter(|o| o.state == OfferState::Open)
            .map(|o| (o.expires_at_us - now) as f64 / 1e6)
            .fold(f64::MAX, f64::min);
        let next_wave = wave_s * (step as f64 + 1.0) - age_s;
        let next_escalation = if case.escalated {
            f64::MAX
        } else {
            window - age_s
        };
        let wait = [next_offer, next_wave, next_escalation, 1.0]
            .into_iter()
            .filter(|w| *w > 0.0)
            .fold(1.0, f64::min);
        Ok(Some(Duration::from_secs_f64(wait.max(0.05))))
    }

    pub(crate) async fn notify_offer(
        &self,
        tx: &mut Tx,
        case: &CaseRecord,
        offer: &OfferRow,
    ) -> Result<(), sqlx::Error> {
        let mut vars = serde_json::Map::new();
        vars.insert("case_type".into(), case.kind.as_str().into());
        vars.insert("distance_m".into(), offer.distance_m.into());
        vars.insert("link".into(), format!("{}/relawan/", self.base_url).into());
        self.request(
            tx,
            &offer.volunteer_id,
            Template::DispatchOffer,
            vars,
            &offer.id,
            Some(offer.expires_at.clone()),
            &case.id,
        )
        .await
    }

    async fn notify_withdrawn(
        &self,
        tx: &mut Tx,
        case: &CaseRecord,
        volunteer: &str,
    ) -> Result<(), sqlx::Error> {
        let mut vars = serde_json::Map::new();
        vars.insert("case_type".into(), case.kind.as_str().into());
        self.request(
            tx,
            volunteer,
            Template::OfferWithdrawn,
            vars,
            &format!("withdrawn:{}:{volunteer}", case.id),
            None,
            &case.id,
        )
        .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn request(
        &self,
        tx: &mut Tx,
        volunteer: &str,
        template: Template,
        vars: serde_json::Map<String, serde_json::Value>,
        dedup: &str,
        expires_at: Option<String>,
        case_id: &str,
    ) -> Result<(), sqlx::Error> {
        let msg = MessageRequested {
            id: uuid::Uuid::now_v7().to_string(),
            dedup_key: dedup.to_string(),
            recipient_id: Some(volunteer.to_string()),
            address: None,
            template,
            vars,
            language: None,
            priority: Priority::Critical,
            channels: Vec::new(),
            expires_at,
            correlation_id: Some(case_id.to_string()),
            attachments: Vec::new(),
        };
        let event = Event::new("emergency", MESSAGE_REQUESTED, &msg)
            .map_err(|e| sqlx::Error::Encode(Box::new(e)))?
            .correlated(case_id.to_string());
        outbox::enqueue(tx, &event).await
    }
}
