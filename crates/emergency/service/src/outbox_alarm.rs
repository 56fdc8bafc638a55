//! The Ops alarm while the bus is away: which cases have push messages (offers, updates) and
//! PSC 119 escalations still waiting in the outbox, so that Ops can phone them through. The
//! panic path itself does not wait for the bus (offers reach the sockets of this replica's
//! volunteers directly); what needs the bus — notify's push/SMS and the bridge's hand-off to
//! PSC 119 — waits here until NATS is back.

use std::collections::BTreeMap;

use axum::extract::State;
use kreki_emergency_contracts::CASE_ESCALATED;
use kreki_notify_contracts::MESSAGE_REQUESTED;
use kreki_platform::{
    ApiResult, Envelope,
    auth::{Auth, perm},
    bus::Event,
    error::ErrorEnvelope,
    time_util::rfc3339,
};
use serde::Serialize;
use sqlx::Row;
use utoipa::ToSchema;

use crate::state::AppState;

/// At most this many outbox rows are looked at (the oldest first).
const LOOK: i64 = 5_000;

#[derive(Debug, Serialize, ToSchema)]
pub struct OutboxAlarm {
    /// `true` while events wait because the bus does not take them (the relay failed at its
    /// last attempt): the cases below must be phoned through.
    pub alarm: bool,
    /// `ok` or `degraded`.
    pub bus: String,
    /// Every event waiting in this service's outbox.
    pub outbox_pending: i64,
    /// Cases with messages or an escalation waiting, the oldest first.
    pub cases: Vec<WaitingCase>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WaitingCase {
    pub case_id: String,
    /// Push/SMS messages for the case (offers to volunteers, updates) not yet handed to notify.
    pub messages_waiting: u32,
    /// The PSC 119 escalation of the case has not reached the bridge yet.
    pub escalation_waiting: bool,
    /// When the oldest of them was written (RFC 3339).
    pub waiting_since: String,
}

/// The outbox alarm of the Ops console: cases whose push offers and PSC 119 escalations
/// wait in the outbox while the bus is away.
#[utoipa::path(get, path = "/ops/outbox", tag = "cases",
    responses(
        (status = 200, description = "Cases waiting in the outbox", body = inline(Envelope<OutboxAlarm>)),
        (status = 403, description = "Ops only (AUTH_FORBIDDEN)", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
pub async fn outbox_alarm(
    State(st): State<AppState>,
    Auth(p): Auth,
) -> ApiResult<Envelope<OutboxAlarm>> {
    p.require(perm::CASE_READ_ALL)?;
    let rows = sqlx::query(&format!(
        "SELECT subject, body, created_at FROM outbox WHERE subject IN ($1, $2) \
         ORDER BY seq LIMIT {LOOK}"
    ))
    .bind(MESSAGE_REQUESTED)
    .bind(CASE_ESCALATED)
    .fetch_all(st.store.db().pool())
    .await?;
    let mut cases: BTreeMap<String, (u32, bool, i64)> = BTreeMap::new();
    for row in rows {
        let subject: String = row.try_get(0)?;
        let body: String = row.try_get(1)?;
        let created: i64 = row.try_get(2)?;
        let Some(case_id) = Event::from_bytes(body.as_bytes())
            .ok()
            .and_then(|e| e.correlation_id)
        else {
            continue;
        };
        let entry = cases.entry(case_id).or_insert((0, false, created));
        if subject == CASE_ESCALATED {
            entry.1 = true;
        } else {
            entry.0 += 1;
        }
        entry.2 = entry.2.min(created);
    }
    let mut cases: Vec<WaitingCase> = cases
        .into_iter()
        .map(|(case_id, (messages, escalation, since))| WaitingCase {
            case_id,
            messages_waiting: messages,
            escalation_waiting: escalation,
            waiting_since: rfc3339(since),
        })
        .collect();
    cases.sort_by(|a, b| a.waiting_since.cmp(&b.waiting_since));
    let bus_down = st.relay.degraded.load(std::sync::atomic::Ordering::Relaxed);
    let pending = kreki_platform::bus::outbox::pending(st.store.db()).await?;
    Ok(Envelope::ok(OutboxAlarm {
        alarm: bus_down && !cases.is_empty(),
        bus: if bus_down { "degraded" } else { "ok" }.into(),
        outbox_pending: pending,
        cases,
    }))
}
