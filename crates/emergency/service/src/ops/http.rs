//! The dispatcher console's routes (Ops).

use axum::extract::{Path, Query, State};
use kreki_platform::{
    ApiError, ApiResult, Envelope,
    auth::{Auth, perm},
    error::ErrorEnvelope,
    http::ApiJson,
};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::{
    cases::view::CaseView,
    ops::{self, NearbyVolunteer, OpsStats},
    state::AppState,
    store::OfferRow,
};

/// The Ops console's metrics strip: open cases, median time to the first accept today.
#[utoipa::path(get, path = "/stats", tag = "cases",
    responses(
        (status = 200, description = "Figures", body = inline(Envelope<OpsStats>)),
        (status = 403, description = "Ops only (AUTH_FORBIDDEN)", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
pub async fn stats(State(st): State<AppState>, Auth(p): Auth) -> ApiResult<Envelope<OpsStats>> {
    p.require(perm::CASE_READ_ALL)?;
    ops::stats(&st)
        .await
        .map(Envelope::ok)
        .map_err(ApiError::from)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EscalateRequest {
    /// Why the dispatcher hands the case to PSC 119 (kept in the timeline).
    pub note: String,
}

/// Ops hands a case to PSC 119 now (`CaseEscalated` with reason `ops`).
#[utoipa::path(put, path = "/{id}/escalate", tag = "cases",
    params(("id" = String, Path, description = "Case id")),
    request_body = EscalateRequest,
    responses(
        (status = 200, description = "Escalated", body = inline(Envelope<CaseView>)),
        (status = 403, description = "Ops only (AUTH_FORBIDDEN)", body = ErrorEnvelope),
        (status = 404, description = "EMERGENCY_CASE_NOT_FOUND", body = ErrorEnvelope),
        (status = 409, description = "EMERGENCY_CASE_CLOSED, EMERGENCY_ALREADY_ESCALATED", body = ErrorEnvelope),
        (status = 422, description = "VALIDATION_FAILED (note empty or over 500 characters)", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
pub async fn ops_escalate(
    State(st): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<EscalateRequest>,
) -> ApiResult<Envelope<CaseView>> {
    p.require(perm::CASE_MANAGE)?;
    ops::escalate(&st, &id, &p.subject, &req.note)
        .await
        .map(Envelope::ok)
        .map_err(ApiError::from)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpsOfferRequest {
    /// The volunteer to offer the case to (their KREKI ID account id).
    pub volunteer_id: String,
}

/// Ops offers a case to a named on-duty volunteer (manual assign, or a re-offer after an
/// expired or declined offer). The volunteer still accepts or declines.
#[utoipa::path(put, path = "/{id}/offer", tag = "cases",
    params(("id" = String, Path, description = "Case id")),
    request_body = OpsOfferRequest,
    responses(
        (status = 200, description = "Offer sent (socket, or notify when the app is closed)", body = inline(Envelope<crate::store::OfferRow>)),
        (status = 403, description = "Ops only (AUTH_FORBIDDEN)", body = ErrorEnvelope),
        (status = 404, description = "EMERGENCY_CASE_NOT_FOUND", body = ErrorEnvelope),
        (status = 409, description = "EMERGENCY_CASE_CLOSED, EMERGENCY_CASE_FULL, EMERGENCY_NOT_ON_DUTY, EMERGENCY_VOLUNTEER_NOT_ELIGIBLE, EMERGENCY_ALREADY_OFFERED, EMERGENCY_ALREADY_RESPONDING", body = ErrorEnvelope),
        (status = 422, description = "VALIDATION_FAILED", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
pub async fn ops_offer(
    State(st): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<OpsOfferRequest>,
) -> ApiResult<Envelope<OfferRow>> {
    p.require(perm::CASE_MANAGE)?;
    ops::offer(&st, &id, &p.subject, &req.volunteer_id)
        .await
        .map(Envelope::ok)
        .map_err(ApiError::from)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct NearbyQuery {
    pub latitude: f64,
    pub longitude: f64,
    /// Metres (default 3000).
    pub radius: Option<f64>,
}

/// On-duty volunteers near a point (Ops).
#[utoipa::path(get, path = "/nearby", tag = "cases",
    params(NearbyQuery),
    responses(
        (status = 200, description = "Nearest first (at most 200)", body = inline(Envelope<Vec<NearbyVolunteer>>)),
        (status = 403, description = "Ops only", body = ErrorEnvelope),
        (status = 422, description = "EMERGENCY_RADIUS_INVALID, EMERGENCY_LOCATION_INVALID", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
pub async fn nearby(
    State(st): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<NearbyQuery>,
) -> ApiResult<Envelope<Vec<NearbyVolunteer>>> {
    p.require(perm::VOLUNTEER_NEARBY)?;
    ops::nearby(&st, q.latitude, q.longitude, q.radius)
        .map(Envelope::ok)
        .map_err(ApiError::from)
}
