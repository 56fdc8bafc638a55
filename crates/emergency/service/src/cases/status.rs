//! A responder's status (arrived, intervention, escalating, resolved), and a cancellation
//! by the caller or Ops.

use kreki_emergency_contracts::ResponderStatus;
use kreki_platform::time_util::now_micros;

use crate::{
    actor::{CaseActor, Relation},
    cases::{
        Cases,
        view::{CaseView, current, load_for},
    },
    errors::{CaseError, CaseResult},
    store::{Milestone, Store, timeline_add},
};

/// A responder's new status (HTTP and the demo simulator).
pub async fn report_status(
    st: &Cases,
    id: &str,
    volunteer: &str,
    status: ResponderStatus,
    reason: Option<String>,
) -> CaseResult<CaseView> {
    let case = st.store.get(id).await?.ok_or(CaseError::NotFound)?;
    let mut tx = st.store.db().begin().await?;
    let mut state = st
        .store
        .lock(&mut tx, id)
        .await?
        .ok_or(CaseError::NotFound)?;
    state.set_status(volunteer, status)?;
    Store::set_responder_status(&mut tx, id, volunteer, status).await?;
    Store::set_status(&mut tx, id, state.status, None).await?;
    let first_arrival = status >= ResponderStatus::Arrived
        && Store::milestone(&mut tx, id, Milestone::FirstArrival).await?;
    timeline_add(
        &mut tx,
        id,
        &format!("status_{}", status.as_str()),
        Some(volunteer),
        &serde_json::json!({ "reason": reason }),
    )
    .await?;
    crate::responder_events::publish(&mut tx, id, volunteer, status).await?;
    if first_arrival {
        st.dispatcher.observe(
            Milestone::FirstArrival,
            case.severity,
            (now_micros() - case.created_at_us) as f64 / 1e6,
        );
    }
    if status == ResponderStatus::Escalating {
        crate::dispatch::escalate(&mut tx, &case, "responder_escalating", Some(volunteer)).await?;
    }
    tx.commit().await?;
    st.dispatcher.changed(id);
    current(st, id).await
}

/// Cancel a case: its caller or Ops, never a responder.
pub async fn cancel(st: &Cases, id: &str, actor: &CaseActor, reason: &str) -> CaseResult<CaseView> {
    let (_, rel) = load_for(st, id, actor).await?;
    if rel == Relation::Responder {
        return Err(CaseError::ResponderCannotCancel);
    }
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(CaseError::ReasonInvalid);
    }
    let who = match actor {
        CaseActor::User(p) => Some(p.subject.clone()),
        CaseActor::Caller { .. } => None,
    };
    let mut tx = st.store.db().begin().await?;
    let mut state = st
        .store
        .lock(&mut tx, id)
        .await?
        .ok_or(CaseError::NotFound)?;
    state.cancel()?;
    Store::set_status(&mut tx, id, state.status, Some(reason)).await?;
    timeline_add(
        &mut tx,
        id,
        "cancelled",
        who.as_deref(),
        &serde_json::json!({ "reason": reason, "by": if rel == Relation::Ops { "ops" } else { "caller" } }),
    )
    .await?;
    tx.commit().await?;
    current(st, id).await
}
