//! Completion of a case by its team lead or Ops, with the outcome and the clinical record:
//! `emergency.case.completed` for the bridge, and well-being check-ins after a hard case.

use kreki_emergency_contracts::{CASE_COMPLETED, CaseCompleted, ClinicalRecord};
use kreki_platform::{
    bus::{Event, outbox},
    time_util::{now_micros, rfc3339},
};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::{
    cases::{
        Cases,
        view::{CaseView, current},
    },
    errors::{CaseError, CaseResult},
    store::{Store, timeline_add},
};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteRequest {
    /// `recovered_on_scene`, `transported`, `referred`, `deceased`, `no_patient`, `other`.
    pub outcome: String,
    #[serde(default)]
    pub hospital_referral: Option<String>,
    #[serde(default)]
    pub clinical: ClinicalRecord,
}

const OUTCOMES: &[&str] = &[
    "recovered_on_scene",
    "transported",
    "referred",
    "deceased",
    "no_patient",
    "other",
];

/// Complete a case (HTTP and the demo simulator).
pub async fn complete_case(
    st: &Cases,
    id: &str,
    by: &str,
    by_ops: bool,
    req: CompleteRequest,
) -> CaseResult<CaseView> {
    if !OUTCOMES.contains(&req.outcome.as_str()) {
        return Err(CaseError::OutcomeInvalid { allowed: OUTCOMES });
    }
    let case = st.store.get(id).await?.ok_or(CaseError::NotFound)?;
    if !by_ops && !case.responders.iter().any(|r| r.volunteer_id == by) {
        return Err(CaseError::NotFound);
    }
    let mut tx = st.store.db().begin().await?;
    let mut state = st
        .store
        .lock(&mut tx, id)
        .await?
        .ok_or(CaseError::NotFound)?;
    state.complete(by, by_ops)?;
    Store::set_status(&mut tx, id, state.status, Some(&req.outcome)).await?;
    let now = now_micros();
    let ev = CaseCompleted {
        case_id: id.to_string(),
        severity: case.severity,
        kind: case.kind,
        latitude: case.latitude,
        longitude: case.longitude,
        created_at: case.created_at.clone(),
        first_arrival_at: case
            .metrics
            .time_to_first_arrival_s
            .map(|s| rfc3339(case.created_at_us + (s * 1e6) as i64)),
        completed_at: rfc3339(now),
        outcome: req.outcome.clone(),
        hospital_referral: req.hospital_referral.clone(),
        clinical: req.clinical.clone(),
        responders: case
            .responders
            .iter()
            .map(|r| r.volunteer_id.clone())
            .collect(),
        caller_account: case.caller_account.clone(),
    };
    let event = Event::new("emergency", CASE_COMPLETED, &ev)
        .map_err(|e| CaseError::Internal(e.into()))?
        .correlated(id.to_string());
    outbox::enqueue(&mut tx, &event).await?;
    if crate::wellbeing::is_hard(case.severity, &req.outcome, &req.clinical) {
        let due = now + i64::from(st.config.wellbeing_checkin_after_s) * 1_000_000;
        crate::wellbeing::schedule(&mut tx, id, &ev.responders, due).await?;
    }
    timeline_add(&mut tx, id, "completed", Some(by), &serde_json::json!({ "outcome": req.outcome, "hospital_referral": req.hospital_referral, "by": if by_ops { "ops" } else { "lead" } })).await?;
    tx.commit().await?;
    st.dispatcher.changed(id);
    current(st, id).await
}
