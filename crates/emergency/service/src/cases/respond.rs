//! A volunteer answers an offer (N-to-1: the first accept is the team lead), and the open
//! offers of a volunteer (the app opened from an alert reads them).

use kreki_emergency_contracts::{EmergencyType, ResponderStatus, Severity};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    aed::Aed,
    cases::Cases,
    domain::OfferState,
    errors::{CaseError, CaseResult},
    geo::LatLng,
    store::{CaseRecord, Milestone, OfferRow, Store, timeline_add},
};

#[derive(Debug, Clone, Copy, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RespondAction {
    Accept,
    Reject,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RespondResult {
    /// `lead`, `member` or `declined`.
    pub role: String,
    /// Revealed only after accepting.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handshake_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub case: Option<CaseRecord>,
}

/// Accept or decline (HTTP and the demo simulator).
pub async fn answer(
    st: &Cases,
    id: &str,
    volunteer: &str,
    action: RespondAction,
    eta_minutes: Option<u32>,
) -> CaseResult<RespondResult> {
    let mut tx = st.store.db().begin().await?;
    let mut state = st
        .store
        .lock(&mut tx, id)
        .await?
        .ok_or(CaseError::NotFound)?;
    let offer = Store::offer_state(&mut tx, id, volunteer).await?;
    let mut first_accept = false;
    let result = match action {
        RespondAction::Reject => {
            state.decline(offer)?;
            Store::set_offer_state(&mut tx, id, volunteer, OfferState::Declined).await?;
            timeline_add(
                &mut tx,
                id,
                "offer_declined",
                Some(volunteer),
                &serde_json::json!({}),
            )
            .await?;
            None
        }
        RespondAction::Accept => {
            let accepted = state.accept(volunteer, offer, eta_minutes)?;
            Store::set_offer_state(&mut tx, id, volunteer, OfferState::Accepted).await?;
            let me = state
                .responder(volunteer)
                .cloned()
                .ok_or_else(|| CaseError::Internal(anyhow::anyhow!("responder missing")))?;
            Store::add_responder(&mut tx, id, &me).await?;
            Store::set_status(&mut tx, id, state.status, None).await?;
            first_accept = Store::milestone(&mut tx, id, Milestone::FirstAccept).await?;
            timeline_add(
                &mut tx,
                id,
                "accepted",
                Some(volunteer),
                &serde_json::json!({ "lead": accepted.is_lead, "eta_minutes": eta_minutes }),
            )
            .await?;
            crate::responder_events::publish(&mut tx, id, volunteer, ResponderStatus::Accepted)
                .await?;
            Some(accepted)
        }
    };
    tx.commit().await?;
    st.dispatcher.changed(id);
    match result {
        None => Ok(RespondResult {
            role: "declined".into(),
            handshake_code: None,
            case: None,
        }),
        Some(a) => {
            let case = st.store.get(id).await?.ok_or(CaseError::NotFound)?;
            if first_accept && let Some(sec) = case.metrics.time_to_first_accept_s {
                st.dispatcher
                    .observe(Milestone::FirstAccept, case.severity, sec);
            }
            Ok(RespondResult {
                role: if a.is_lead { "lead" } else { "member" }.into(),
                handshake_code: Some(case.handshake_code.clone()),
                case: Some(case),
            })
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MyOffer {
    #[serde(flatten)]
    pub offer: OfferRow,
    pub severity: Severity,
    #[serde(rename = "type")]
    pub kind: EmergencyType,
    pub latitude: f64,
    pub longitude: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The nearest AEDs to the patient: pick one up on the way.
    pub aeds: Vec<Aed>,
}

/// A volunteer's open offers of open cases, newest first.
pub async fn my_offers(st: &Cases, volunteer: &str) -> CaseResult<Vec<MyOffer>> {
    let mut out = Vec::new();
    for offer in st.store.offers_of(volunteer).await? {
        if let Some(c) = st.store.get(&offer.case_id).await?
            && c.status.is_open()
        {
            let at = LatLng::new(c.latitude, c.longitude).map_err(CaseError::Location)?;
            out.push(MyOffer {
                aeds: st.aeds.nearest(at, 1_000.0, 3).await?,
                offer,
                severity: c.severity,
                kind: c.kind,
                latitude: c.latitude,
                longitude: c.longitude,
                description: c.description,
            });
        }
    }
    Ok(out)
}
