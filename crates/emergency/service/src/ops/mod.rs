//! The dispatcher console's use-cases: the metrics strip, handing a case to PSC 119, offering
//! a case to a named volunteer, and the volunteers near a point.

pub mod http;

use kreki_emergency_contracts::socket::ServerMsg;
use kreki_platform::time_util::{now_micros, rfc3339};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    cases::view::{CaseView, current},
    domain::{DomainError, OfferState},
    errors::{CaseError, OpsError},
    geo::LatLng,
    state::AppState,
    store::{OfferRow, Store, timeline_add},
};

#[derive(Debug, Serialize, ToSchema)]
pub struct OpsStats {
    /// Cases pending, assigned or responding now.
    pub open_cases: u64,
    /// Cases created today (Asia/Jakarta, UTC+7).
    pub cases_today: u64,
    /// Median seconds from the panic to the first accept over today's accepted cases.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub median_first_accept_s_today: Option<f64>,
    /// Start of "today" (RFC 3339).
    pub since: String,
}

/// Open cases, cases today and the median time to the first accept today.
pub async fn stats(st: &AppState) -> Result<OpsStats, OpsError> {
    // Midnight in Jakarta (WIB, UTC+7, no daylight saving).
    const WIB_US: i64 = 7 * 3_600 * 1_000_000;
    const DAY_US: i64 = 86_400 * 1_000_000;
    let now = now_micros();
    let since = (now + WIB_US).div_euclid(DAY_US) * DAY_US - WIB_US;
    let (open_cases, today, mut accepts) = st.store.stats_since(since).await?;
    accepts.sort_by(f64::total_cmp);
    let median = match accepts.len() {
        0 => None,
        n if n % 2 == 1 => Some(accepts[n / 2]),
        n => Some((accepts[n / 2 - 1] + accepts[n / 2]) / 2.0),
    };
    Ok(OpsStats {
        open_cases,
        cases_today: today,
        median_first_accept_s_today: median,
        since: rfc3339(since),
    })
}

/// Ops hands a case to PSC 119 now (`CaseEscalated` with reason `ops`), with a note.
pub async fn escalate(st: &AppState, id: &str, by: &str, note: &str) -> Result<CaseView, OpsError> {
    let note = note.trim();
    if note.is_empty() || note.chars().count() > 500 {
        return Err(OpsError::NoteInvalid);
    }
    let case = st.store.get(id).await?.ok_or(CaseError::NotFound)?;
    if !case.status.is_open() {
        return Err(DomainError::CaseClosed.into());
    }
    let mut tx = st.store.db().begin().await?;
    // Serialises with the dispatcher's own escalation of this case.
    st.store
        .lock(&mut tx, id)
        .await?
        .ok_or(CaseError::NotFound)?;
    if !crate::dispatch::escalate(&mut tx, &case, "ops", Some(by)).await? {
        return Err(OpsError::AlreadyEscalated);
    }
    timeline_add(
        &mut tx,
        id,
        "ops_note",
        Some(by),
        &serde_json::json!({ "note": note }),
    )
    .await?;
    tx.commit().await?;
    st.dispatcher.changed(id);
    Ok(current(&st.cases(), id).await?)
}

/// Ops offers a case to a named on-duty volunteer (manual assign, or a re-offer after an
/// expired or declined offer). The volunteer still accepts or declines.
pub async fn offer(
    st: &AppState,
    id: &str,
    by: &str,
    volunteer: &str,
) -> Result<OfferRow, OpsError> {
    let vol = volunteer.trim().to_string();
    if vol.is_empty() || vol.len() > 100 {
        return Err(OpsError::VolunteerIdInvalid);
    }
    let case = st.store.get(id).await?.ok_or(CaseError::NotFound)?;
    if !case.status.is_open() {
        return Err(DomainError::CaseClosed.into());
    }
    let Some((lat, lng)) = st
        .live
        .is_on_duty(&vol)
        .then(|| st.live.nearby_of(&vol))
        .flatten()
    else {
        return Err(OpsError::NotOnDuty);
    };
    if !st.live.eligibility(&vol).is_some_and(|e| e.verified) {
        return Err(OpsError::VolunteerNotEligible);
    }
    let distance_m =
        crate::geo::haversine_m(case.latitude, case.longitude, lat, lng).round() as i64;
    let mut tx = st.store.db().begin().await?;
    let state = st
        .store
        .lock(&mut tx, id)
        .await?
        .ok_or(CaseError::NotFound)?;
    if !state.status.is_open() {
        return Err(DomainError::CaseClosed.into());
    }
    if state.responder(&vol).is_some() {
        return Err(OpsError::AlreadyResponding);
    }
    if state.responders.len() >= state.accepts_wanted {
        return Err(DomainError::CaseFull.into());
    }
    let earlier = Store::offer_state(&mut tx, id, &vol).await?;
    if earlier == Some(OfferState::Open) {
        return Err(OpsError::AlreadyOffered);
    }
    let wave = Store::offers_in(&mut tx, id)
        .await?
        .iter()
        .map(|o| o.wave)
        .max()
        .unwrap_or(0);
    let expires = now_micros() + i64::from(st.config.offer_timeout_s) * 1_000_000;
    let offer = OfferRow {
        id: uuid::Uuid::now_v7().to_string(),
        case_id: id.to_string(),
        volunteer_id: vol.clone(),
        wave,
        state: OfferState::Open,
        distance_m,
        expires_at_us: expires,
        expires_at: rfc3339(expires),
    };
    if earlier.is_some() {
        Store::reopen_offer(&mut tx, &offer).await?;
    } else {
        Store::insert_offer(&mut tx, &offer).await?;
    }
    let socket = st.dispatcher.hub.volunteer_connected(&vol);
    timeline_add(
        &mut tx,
        id,
        "ops_offer",
        Some(by),
        &serde_json::json!({ "volunteer_id": vol, "distance_m": distance_m, "again": earlier.is_some(),
            "via": if socket { "socket" } else { "notify" } }),
    )
    .await?;
    if !socket {
        st.dispatcher.notify_offer(&mut tx, &case, &offer).await?;
    }
    tx.commit().await?;
    if socket {
        st.dispatcher.hub.to_volunteer(
            &vol,
            &ServerMsg::Offer {
                offer_id: offer.id.clone(),
                case_id: id.to_string(),
                severity: case.severity,
                kind: case.kind,
                latitude: case.latitude,
                longitude: case.longitude,
                distance_m,
                expires_at: offer.expires_at.clone(),
                description: case.description.clone(),
            },
        );
    }
    st.dispatcher.changed(id);
    Ok(offer)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NearbyVolunteer {
    pub volunteer_id: String,
    pub distance_m: f64,
    pub location_age_s: u32,
    pub dispatchable: bool,
    /// Where they are (the console's map of responders moving).
    pub latitude: f64,
    pub longitude: f64,
}

/// On-duty volunteers within `radius` metres (default 3000) of a point, nearest first.
pub fn nearby(
    st: &AppState,
    latitude: f64,
    longitude: f64,
    radius: Option<f64>,
) -> Result<Vec<NearbyVolunteer>, OpsError> {
    let center = LatLng::new(latitude, longitude).map_err(OpsError::Location)?;
    let radius = radius.unwrap_or(3_000.0);
    if !radius.is_finite() || radius <= 0.0 || radius > f64::from(st.config.max_nearby_radius_m) {
        return Err(OpsError::RadiusInvalid {
            max_m: st.config.max_nearby_radius_m,
        });
    }
    Ok(st
        .live
        .nearby(center, radius, 200)
        .into_iter()
        .filter_map(|c| {
            let (latitude, longitude) = st.live.nearby_of(&c.volunteer_id)?;
            Some(NearbyVolunteer {
                dispatchable: st
                    .live
                    .eligibility(&c.volunteer_id)
                    .is_some_and(|e| e.verified),
                volunteer_id: c.volunteer_id,
                distance_m: (c.distance_m * 10.0).round() / 10.0,
                location_age_s: c.location_age_s,
                latitude,
                longitude,
            })
        })
        .collect())
}
