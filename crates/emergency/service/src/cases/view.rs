//! A case as its caller, responders and Ops see it, and who may see it.

use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    actor::{CaseActor, Relation, relation},
    aed::Aed,
    cases::Cases,
    errors::{CaseError, CaseResult},
    geo::LatLng,
    store::{CaseRecord, TimelineEntry},
};

/// A case as its caller, responders and Ops see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseView {
    #[serde(flatten)]
    pub case: CaseRecord,
    /// For the caller, accepted responders and Ops.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handshake_code: Option<String>,
    /// The nearest AEDs to the patient (within 1 km).
    pub aeds: Vec<Aed>,
}

pub async fn view(st: &Cases, case: CaseRecord) -> CaseResult<CaseView> {
    let at = LatLng::new(case.latitude, case.longitude).map_err(CaseError::Location)?;
    let aeds = st.aeds.nearest(at, 1_000.0, 3).await?;
    let code = case.handshake_code.clone();
    Ok(CaseView {
        case,
        handshake_code: Some(code),
        aeds,
    })
}

/// The case as it is now (after a change).
pub async fn current(st: &Cases, id: &str) -> CaseResult<CaseView> {
    let case = st.store.get(id).await?.ok_or(CaseError::NotFound)?;
    view(st, case).await
}

/// A case and how the actor relates to it; someone unrelated learns nothing, not even that
/// the case exists.
pub async fn load_for(
    st: &Cases,
    id: &str,
    actor: &CaseActor,
) -> CaseResult<(CaseRecord, Relation)> {
    let case = st.store.get(id).await?.ok_or(CaseError::NotFound)?;
    let rel = relation(&case, actor).ok_or(CaseError::NotFound)?;
    Ok((case, rel))
}

/// One case for one of its parties.
pub async fn case_for(st: &Cases, id: &str, actor: &CaseActor) -> CaseResult<CaseView> {
    let (case, _rel) = load_for(st, id, actor).await?;
    view(st, case).await
}

/// The timeline of a case for one of its parties.
pub async fn timeline_for(
    st: &Cases,
    id: &str,
    actor: &CaseActor,
) -> CaseResult<Vec<TimelineEntry>> {
    load_for(st, id, actor).await?;
    Ok(st.store.timeline(id).await?)
}
